"""Phone sensor logs (Sensor Logger zip, phyphox CSV/zip) imported as recordings. The logs are
written here from the bundled simulated run (no real phone log with a licence that allows
copying was found), in the layouts the apps export."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from downhill_live.cli.main import main
from downhill_live.errors import InputError
from downhill_live.record import attached_track, read_recording
from downhill_live.session import isa_pressure_pa
from downhill_live.tools.transfer import decode_recording
from downhill_live.tools.watch.phone import is_phone_log, read_phone_log
from tests.watchfiles import RECORDING, START_UTC_S, truth_track

G = 9.80665


@pytest.fixture(scope="module")
def samples() -> tuple[np.ndarray, np.ndarray]:
    t, acc, _, _ = decode_recording(RECORDING)
    return t, acc


def _csv(header: str, rows: np.ndarray) -> str:
    buf = io.StringIO()
    # Sensor Logger writes its time as whole nanoseconds
    fmt = ["%d" if rows[0, 0] > 1e15 else "%.9g"] + ["%.9g"] * (rows.shape[1] - 1)
    np.savetxt(buf, rows, fmt=fmt, delimiter=",")
    return header + "\n" + buf.getvalue()


def sensor_logger_zip(dst: Path, t: np.ndarray, acc: np.ndarray, *, total: bool = True) -> Path:
    ns = (START_UTC_S + t) * 1e9
    tr = truth_track()
    tb = tr["t_utc_s"] * 1e9
    with zipfile.ZipFile(dst, "w") as zf:
        if total:
            zf.writestr("TotalAcceleration.csv", _csv("time,seconds_elapsed,z,y,x", np.column_stack(
                [ns, t, acc[:, 2] * G, acc[:, 1] * G, acc[:, 0] * G])))  # fmt: skip
        else:  # user acceleration + gravity, as older exports
            grav = np.tile([0.0, 0.0, G], (len(t), 1))
            user = acc * G - grav
            zf.writestr("Accelerometer.csv", _csv("time,seconds_elapsed,z,y,x", np.column_stack(
                [ns, t, user[:, 2], user[:, 1], user[:, 0]])))  # fmt: skip
            zf.writestr("Gravity.csv", _csv("time,seconds_elapsed,z,y,x", np.column_stack(
                [ns, t, grav[:, 2], grav[:, 1], grav[:, 0]])))  # fmt: skip
        hpa = isa_pressure_pa(tr["altitude_m"]) / 100.0
        zf.writestr("Barometer.csv", _csv("time,seconds_elapsed,relativeAltitude,pressure",
                                          np.column_stack([tb, tb * 0, tb * 0, hpa])))  # fmt: skip
        zf.writestr("Location.csv", _csv(
            "time,seconds_elapsed,bearingAccuracy,speedAccuracy,verticalAccuracy,"
            "horizontalAccuracy,speed,bearing,altitude,longitude,latitude",
            np.column_stack([tb, tb * 0, tb * 0, tb * 0, tb * 0, tb * 0 + 5, tr["speed_mps"],
                             tb * 0, tr["altitude_m"], tr["longitude_deg"], tr["latitude_deg"]])))  # fmt: skip
        zf.writestr("Metadata.csv", "version,device name\n1.0,test\n")
    return dst


@pytest.mark.parametrize("total", [True, False])
def test_sensor_logger_zip_imports_with_barometer_and_location(
    samples: tuple[np.ndarray, np.ndarray], tmp_path: Path, total: bool
) -> None:
    t, acc = samples
    z = sensor_logger_zip(tmp_path / "log.zip", t, acc, total=total)
    assert is_phone_log(z) == "sensor-logger"
    log = read_phone_log(z)
    assert log.start_utc_s == pytest.approx(START_UTC_S + t[0], abs=1e-3)
    np.testing.assert_allclose(log.acc_g, acc, atol=1e-6)
    assert log.pressure_pa is not None and log.location is not None
    out = tmp_path / "log.dlr"
    assert main(["import", str(z), "-o", str(out)]) == 0
    rec = read_recording(out)
    assert rec.header["start_time"].startswith("2026-06-01T07:00:00")
    assert (
        rec.header["firmware"]["name"].endswith("baro") or "baro" in rec.header["firmware"]["yaml"]
    )
    track = attached_track(rec)
    assert track is not None and track.meta["method"] == "same device"
    assert {"altitude_m", "latitude_deg", "speed_mps"} <= set(track.columns)


def test_sensor_logger_import_finds_the_same_steps(
    samples: tuple[np.ndarray, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t, acc = samples
    z = sensor_logger_zip(tmp_path / "log.zip", t, acc)
    out = tmp_path / "log.dlr"
    assert main(["import", str(z), "-o", str(out), "--placement", "foot"]) == 0
    capsys.readouterr()
    assert main(["analyze", str(out)]) == 0
    n = len(capsys.readouterr().out.splitlines())
    assert main(["analyze", str(RECORDING)]) == 0
    n0 = len(capsys.readouterr().out.splitlines())
    assert abs(n - n0) <= 3


def test_phyphox_csv_and_zip(samples: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    t, acc = samples
    body = _csv('"Time (s)","Acceleration x (m/s^2)","Acceleration y (m/s^2)",'
                '"Acceleration z (m/s^2)","Absolute acceleration (m/s^2)"',
                np.column_stack([t, acc * G, np.linalg.norm(acc, axis=1) * G]))  # fmt: skip
    csv_path = tmp_path / "Raw Data.csv"
    csv_path.write_text(body)
    assert is_phone_log(csv_path) == "phyphox"
    log = read_phone_log(csv_path)
    assert log.start_utc_s is None and any("no absolute time" in n for n in log.notes)
    np.testing.assert_allclose(log.acc_g, acc, atol=1e-6)
    z = tmp_path / "phyphox.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("Raw Data.csv", body)
        zf.writestr("meta/time.csv", '"event","experiment time","system time","system time text"\n'
                    f'"START",0.0,{START_UTC_S:.3f},"2026-06-01 07:00:00.000 UTC+00:00"\n')  # fmt: skip
    log = read_phone_log(z)
    assert log.start_utc_s == pytest.approx(START_UTC_S + t[0], abs=1e-3)
    out = tmp_path / "p.dlr"
    assert main(["import", str(z), "-o", str(out)]) == 0
    assert read_recording(out).header["start_time"].startswith("2026-06-01T07:00:00")


def test_phyphox_linear_acceleration_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "lin.csv"
    p.write_text('"Time (s)","Linear Acceleration x (m/s^2)","Linear Acceleration y (m/s^2)",'
                 '"Linear Acceleration z (m/s^2)"\n0,0,0,0\n0.01,0,0,0\n')  # fmt: skip
    with pytest.raises(InputError, match="no gravity"):
        read_phone_log(p)


def test_cut_sensor_logger_csv_keeps_the_rows_before(
    samples: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    t, acc = samples
    z = sensor_logger_zip(tmp_path / "full.zip", t, acc)
    with zipfile.ZipFile(z) as zf:
        text = zf.read("TotalAcceleration.csv").decode()
    cut = tmp_path / "cut.zip"
    with zipfile.ZipFile(cut, "w") as zf:
        zf.writestr("TotalAcceleration.csv", text[: len(text) // 2] + "\n1,2\n")
    log = read_phone_log(cut)
    assert 0.4 * len(t) < len(log.t_s) < 0.6 * len(t)
    assert any("kept the" in n for n in log.notes)


def test_broken_zip_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "bad.zip"
    p.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    rc = main(["import", str(p), "-o", str(tmp_path / "o.dlr")])
    err = capsys.readouterr().err
    assert rc != 0 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_segments_of_a_phone_log_on_its_own(
    samples: tuple[np.ndarray, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    t, acc = samples
    z = sensor_logger_zip(tmp_path / "log.zip", t, acc)
    assert main(["segments", str(z)]) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["kind"] for r in rows] == ["flat", "descent", "flat"], err
    desc = rows[1]
    assert desc["grade_pct"] == pytest.approx(-10.0, abs=0.7)
    assert desc["cadence_spm"] == pytest.approx(170, abs=4) and desc["peak_g"] > 0
    assert desc["t0_s"] == pytest.approx(60, abs=4)  # the course's descent starts at 60 s
    assert desc["start_utc"].startswith("2026-06-01T07:0")
