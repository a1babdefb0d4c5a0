"""Watch files of the bundled simulated run, written by the tests (not by a device): 1 Hz
points whose cadence and grade come from the run's ground truth, on a watch clock that may be
off by a few seconds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from downhill_live.record import RecordingWriter, read_recording
from downhill_live.tools.fitwrite import FitEncoder, fit_time

ROOT = Path(__file__).resolve().parents[1]
RECORDING = ROOT / "recordings" / "descent_foot_200hz.dlr"
TRUTH = ROOT / "recordings" / "descent_foot_200hz.truth.csv"
DATA = ROOT / "tests" / "data" / "watch"
#: start time given to the copy of the bundled recording
START_UTC = "2026-06-01T07:00:00+00:00"
START_UTC_S = 1780297200.0
START_ALT_M = 800.0


def recording_with_start(dst: Path, *, start_time: str | None = START_UTC) -> Path:
    """The bundled recording's packets in a new (format 2) recording with a start time."""
    rec = read_recording(RECORDING)
    header = {k: v for k, v in rec.header.items() if k not in ("format_version", "streams")}
    header["start_time"] = start_time
    with RecordingWriter(dst, header, streams=list(rec.header["streams"])) as w:
        for p in rec.packets:
            w.write_packet(p)
    return dst


def truth_track(clock_offset_s: float = 0.0) -> dict[str, np.ndarray]:
    """1 Hz series of the simulated run: t_utc_s (watch clock), cadence_spm, altitude_m,
    distance_m, speed_mps, heart_rate_bpm, grade_pct."""
    d = np.genfromtxt(TRUTH, delimiter=",", names=True)
    t_true = d["t_s"]
    cad = d["cadence_spm"]
    ok = np.isfinite(cad)
    grid = np.arange(1.0, math.floor(t_true[-1]))
    c = np.interp(grid, t_true[ok], cad[ok])
    g = np.interp(grid, t_true, d["grade_pct"])
    v = c / 60.0 * 1.05  # the core's nominal step length
    dist = np.concatenate([[0.0], np.cumsum(v[1:])])
    alt = START_ALT_M + np.concatenate([[0.0], np.cumsum(v[1:] * g[1:] / 100.0)])
    hr = 140 + 10 * np.tanh((grid - 60) / 30)
    # the watch receives its time a little apart from the computer: watch time = true + offset
    return {
        "t_utc_s": START_UTC_S + grid + clock_offset_s,
        "cadence_spm": c,
        "altitude_m": alt,
        "distance_m": dist,
        "speed_mps": v,
        "heart_rate_bpm": hr,
        "grade_pct": g,
        # heading 53 degrees: 0.6 of the distance north, 0.8 east (a metre of latitude and of
        # longitude as the great-circle formula counts them)
        "latitude_deg": 46.43 + np.degrees(0.6 * dist / 6_371_008.8),
        "longitude_deg": 13.74
        + np.degrees(0.8 * dist / (6_371_008.8 * math.cos(math.radians(46.43)))),
    }


def watch_fit(
    dst: Path, clock_offset_s: float = 0.0, *, sport: int = 1, file_type: int = 4
) -> Path:
    """A FIT activity as a running watch writes it (file_id, sport, records, lap, session)."""
    tr = truth_track(clock_offset_s)
    enc = FitEncoder()
    t = tr["t_utc_s"]
    enc.write(0, "file_id", [(0, "enum", file_type), (1, "uint16", 1), (2, "uint16", 3113),
                             (4, "uint32", fit_time(t[0]))])  # fmt: skip
    enc.write(0, 12, [(0, "enum", sport), (1, "enum", 0)])  # sport message
    for i in range(len(t)):
        strides = tr["cadence_spm"][i] / 2
        enc.write(
            0,
            "record",
            [(253, "uint32", fit_time(t[i])),
             (0, "sint32", tr["latitude_deg"][i] * 2**31 / 180),
             (1, "sint32", tr["longitude_deg"][i] * 2**31 / 180),
             (78, "uint32", (tr["altitude_m"][i] + 500) * 5),
             (5, "uint32", tr["distance_m"][i] * 100), (73, "uint32", tr["speed_mps"][i] * 1000),
             (3, "uint8", tr["heart_rate_bpm"][i]), (4, "uint8", math.floor(strides)),
             (53, "uint8", (strides - math.floor(strides)) * 128),
             (41, "uint16", 2500)],
        )  # fmt: skip
    enc.write(0, "session", [(253, "uint32", fit_time(t[-1])), (2, "uint32", fit_time(t[0])),
                             (5, "enum", sport)])  # fmt: skip
    dst.write_bytes(enc.finish())
    return dst


def attached_and_plain(folder: Path) -> tuple[Path, Path]:
    """The bundled run (with a start time) twice in ``folder``: with :func:`watch_fit`
    attached by ``downhill-live attach``, and without."""
    from downhill_live.cli import main  # the command, as a user runs it

    rec = recording_with_start(folder / "run.dlr")
    plain = folder / "plain.dlr"
    plain.write_bytes(rec.read_bytes())
    code = main(["attach", str(rec), str(watch_fit(folder / "watch.fit"))])
    assert code == 0, f"attach exited {code}"
    return rec, plain
