"""Reading watch and app files: FIT, GPX, TCX; damage keeps what decodes before it.

The GPX files in tests/data/watch/ were written by real devices and apps (see
tests/data/README.md); the FIT files are written here by tests/watchfiles.py (no real device
FIT file with a licence that allows copying could be found in a package)."""

from __future__ import annotations

import math
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from downhill_live.errors import InputError
from downhill_live.tools.fitwrite import fit_crc
from downhill_live.tools.watch import read_activity, sniff_activity
from tests.watchfiles import DATA, START_UTC_S, truth_track, watch_fit

KORITA = DATA / "korita-zbevnica.gpx"
CERKNICA = DATA / "cerknicko-jezero.gpx"
RUNKEEPER = DATA / "gpx_with_garmin_extension.gpx"


# ------------------------------------------------------------------------------- real GPX
def test_real_gpx_hike_from_a_garmin_via_gpsbabel() -> None:
    act = read_activity(KORITA)
    assert act.source_format == "gpx" and act.device == "GPSBabel"
    assert len(act) == 513  # the 358 points without a time are left out, and said so
    assert any("358 track points have no time" in n for n in act.notes)
    assert act.start_utc.isoformat() == "2010-10-03T09:36:30+00:00"
    assert 6000 < act.distance_m[-1] < 6600  # great-circle sum of the positions
    assert act.altitude_m.min() > 700 and act.altitude_m.max() < 1100
    assert np.all(np.diff(act.t_utc_s) > 0)


def test_real_gpx_lake_walk() -> None:
    act = read_activity(CERKNICA)
    assert len(act) == 296 and not act.notes
    assert {"altitude_m", "distance_m", "speed_mps"} <= set(act.known_columns())


def test_gpx_with_only_a_waypoint_is_one_clear_error() -> None:
    with pytest.raises(InputError, match=r"no time-stamped track points \(1 waypoints"):
        read_activity(RUNKEEPER)


def test_truncated_gpx_keeps_the_points_before_the_cut(tmp_path: Path) -> None:
    text = KORITA.read_text()
    cut = tmp_path / "cut.gpx"
    cut.write_text(text[: int(len(text) * 0.7)])
    act = read_activity(cut)
    full = read_activity(KORITA)
    assert 0.5 * len(full) < len(act) < len(full)
    assert np.array_equal(act.t_utc_s, full.t_utc_s[: len(act)])
    assert any("breaks off after line" in n and "kept the track points" in n for n in act.notes)


def test_gpx_trackpointextension_hr_and_cadence_in_steps(tmp_path: Path) -> None:
    pts = "".join(
        f'<trkpt lat="46.0" lon="{13.0 + i * 1e-4:.4f}"><ele>{500 - i}</ele>'
        f"<time>2024-05-01T07:00:{i:02d}Z</time><extensions><gpxtpx:TrackPointExtension>"
        f"<gpxtpx:hr>{150 + i}</gpxtpx:hr><gpxtpx:cad>85</gpxtpx:cad>"
        "</gpxtpx:TrackPointExtension></extensions></trkpt>"
        for i in range(10)
    )
    p = tmp_path / "run.gpx"
    p.write_text(
        '<?xml version="1.0"?><gpx version="1.1" creator="test" '
        'xmlns="http://www.topografix.com/GPX/1/1" '
        'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">'
        f"<trk><type>running</type><trkseg>{pts}</trkseg></trk></gpx>"
    )
    act = read_activity(p)
    assert act.sport == "running"
    assert np.all(act.cadence_spm == 170.0)  # 85 strides per minute
    assert list(act.heart_rate_bpm[:3]) == [150, 151, 152]


# ------------------------------------------------------------------------------------ TCX
def _tcx(points: int = 30, sport: str = "Running", run_cadence: int = 86) -> str:
    tp = "".join(
        f"<Trackpoint><Time>2024-05-01T07:00:{i:02d}.000Z</Time>"
        f"<Position><LatitudeDegrees>46.0</LatitudeDegrees><LongitudeDegrees>{13 + i * 1e-4}"
        f"</LongitudeDegrees></Position><AltitudeMeters>{600 - 0.3 * i}</AltitudeMeters>"
        f"<DistanceMeters>{3.0 * i}</DistanceMeters><HeartRateBpm><Value>{140 + i}</Value>"
        "</HeartRateBpm><Extensions><ns3:TPX><ns3:Speed>3.0</ns3:Speed>"
        f"<ns3:RunCadence>{run_cadence}</ns3:RunCadence></ns3:TPX></Extensions></Trackpoint>"
        for i in range(points)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><TrainingCenterDatabase '
        'xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2" '
        'xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2"><Activities>'
        f'<Activity Sport="{sport}"><Id>2024-05-01T07:00:00Z</Id><Lap StartTime='
        f'"2024-05-01T07:00:00Z"><Track>{tp}</Track></Lap><Creator><Name>Forerunner 255'
        "</Name></Creator></Activity></Activities></TrainingCenterDatabase>"
    )


def test_tcx_fields_and_cadence_in_steps(tmp_path: Path) -> None:
    p = tmp_path / "a.xml"  # detected by content, not by name
    p.write_text(_tcx())
    assert sniff_activity(p) == "tcx"
    act = read_activity(p)
    assert len(act) == 30 and act.sport == "running" and act.device == "Forerunner 255"
    assert act.cadence_spm[0] == 172.0 and act.heart_rate_bpm[2] == 142
    assert act.distance_m[-1] == pytest.approx(87.0) and act.speed_mps[0] == 3.0


def test_truncated_tcx_keeps_the_trackpoints_before_the_cut(tmp_path: Path) -> None:
    text = _tcx()
    p = tmp_path / "cut.tcx"
    p.write_text(text[: text.index("<Trackpoint><Time>2024-05-01T07:00:20") + 40])
    act = read_activity(p)
    assert len(act) == 20
    assert any("TCX breaks off" in n and "kept the 20 track points" in n for n in act.notes)


def test_tcx_biking_drops_pedal_cadence_with_a_note(tmp_path: Path) -> None:
    p = tmp_path / "ride.tcx"
    p.write_text(_tcx(sport="Biking"))
    act = read_activity(p)
    assert act.sport == "cycling" and not act.has("cadence_spm") and act.has("altitude_m")
    assert any("cycling activity, not a run" in n for n in act.notes)


# ------------------------------------------------------------------------------------ FIT
@pytest.fixture(scope="module")
def fit_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return watch_fit(tmp_path_factory.mktemp("fit") / "watch.fit", 0.0)


def test_fit_records_in_units_and_steps_per_minute(fit_file: Path) -> None:
    act = read_activity(fit_file)
    tr = truth_track()
    assert act.source_format == "fit" and act.sport == "running" and not act.notes
    assert len(act) == len(tr["t_utc_s"])
    assert act.t_utc_s[0] == pytest.approx(START_UTC_S + 1.0)
    # FIT stores strides per minute in 1/128 steps: within 1/64 spm once doubled
    np.testing.assert_allclose(act.cadence_spm, tr["cadence_spm"], atol=2 / 128 + 1e-9)
    np.testing.assert_allclose(act.altitude_m, tr["altitude_m"], atol=0.2 + 1e-9)
    np.testing.assert_allclose(act.distance_m, tr["distance_m"], atol=0.01)
    assert np.all(act.stance_time_ms == 250.0)
    assert abs(act.latitude_deg[0] - 46.43) < 1e-6


def test_fit_detected_by_content_whatever_its_name(fit_file: Path, tmp_path: Path) -> None:
    p = tmp_path / "export.bin"
    shutil.copy(fit_file, p)
    assert sniff_activity(p) == "fit"
    assert len(read_activity(p)) > 200


def test_truncated_fit_keeps_every_record_before_the_cut(fit_file: Path, tmp_path: Path) -> None:
    data = fit_file.read_bytes()
    p = tmp_path / "cut.fit"
    p.write_bytes(data[: len(data) // 2 + 3])
    act = read_activity(p)
    full = read_activity(fit_file)
    assert 0.4 * len(full) < len(act) < 0.6 * len(full)
    assert np.array_equal(act.t_utc_s, full.t_utc_s[: len(act)])
    assert any("truncated" in n and f"kept the {len(act)} records" in n for n in act.notes)


def test_fit_with_a_bad_checksum_keeps_all_records(fit_file: Path, tmp_path: Path) -> None:
    data = bytearray(fit_file.read_bytes())
    data[-1] ^= 0xFF
    p = tmp_path / "crc.fit"
    p.write_bytes(bytes(data))
    act = read_activity(p)
    assert len(act) == len(read_activity(fit_file))
    assert any("checksum does not match" in n for n in act.notes)


def test_fit_header_checksum_mismatch_is_decoded_anyway(fit_file: Path, tmp_path: Path) -> None:
    data = bytearray(fit_file.read_bytes())
    data[12] ^= 0xFF  # the header's own CRC
    p = tmp_path / "hdrcrc.fit"
    p.write_bytes(bytes(data))
    act = read_activity(p)
    assert len(act) == len(read_activity(fit_file))
    assert act.notes[0].startswith("FIT header checksum does not match; decoded anyway")


def test_fit_with_a_corrupt_header_is_one_clear_error(fit_file: Path, tmp_path: Path) -> None:
    data = bytearray(fit_file.read_bytes())
    data[0] = 3  # a header size no FIT file has
    p = tmp_path / "hdr.fit"
    p.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt header"):
        read_activity(p)


def test_fit_with_garbage_inside_keeps_what_came_before(fit_file: Path, tmp_path: Path) -> None:
    data = bytearray(fit_file.read_bytes())
    mid = len(data) // 3
    data[mid : mid + 40] = b"\xff" * 40  # undefined local message types: fitdecode gives up
    p = tmp_path / "garbage.fit"
    p.write_bytes(bytes(data))
    act = read_activity(p)
    assert 0 < len(act) < len(read_activity(fit_file))
    assert act.notes and "kept" in act.notes[0]


def test_a_fit_settings_file_is_not_an_activity(tmp_path: Path) -> None:
    p = watch_fit(tmp_path / "settings.fit", file_type=2)
    with pytest.raises(InputError, match="is a FIT settings file, not an activity"):
        read_activity(p)


@pytest.mark.parametrize(
    ("sport", "name", "cadence"), [(2, "cycling", False), (11, "walking", True)]
)
def test_fit_of_another_sport_is_kept_with_a_note(
    tmp_path: Path, sport: int, name: str, cadence: bool
) -> None:
    act = read_activity(watch_fit(tmp_path / f"{name}.fit", sport=sport))
    assert act.sport == name and act.has("altitude_m") and act.has("cadence_spm") == cadence
    assert any(f"a {name} activity, not a run" in n for n in act.notes)


def test_fit_header_alone(tmp_path: Path) -> None:
    head = struct.pack("<BBHI4s", 14, 0x20, 2132, 0, b".FIT")
    p = tmp_path / "empty.fit"
    p.write_bytes(head + struct.pack("<H", fit_crc(head)) + b"\x00\x00")
    with pytest.raises(InputError, match="no record messages"):
        read_activity(p)


def test_not_an_activity_at_all(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    with pytest.raises(InputError, match="not a FIT, GPX or TCX activity"):
        read_activity(p)
    with pytest.raises(InputError, match="not a regular file"):
        read_activity("/dev/null")


def test_speed_from_distance_and_distance_from_positions(tmp_path: Path) -> None:
    act = read_activity(CERKNICA)
    ok = np.isfinite(act.speed_mps)
    assert ok.mean() > 0.99 and math.isfinite(float(np.median(act.speed_mps[ok])))
