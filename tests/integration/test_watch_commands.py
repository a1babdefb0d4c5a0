"""segments, attach and export --fit/--tcx/--gpx end to end, on the bundled simulated run with a
watch file of the same run (tests/watchfiles.py) and on real GPX files from devices."""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from downhill_live.cli.main import main
from downhill_live.record import attached_track, read_recording
from downhill_live.tools.watch import read_activity
from tests.watchfiles import DATA, START_ALT_M, recording_with_start, watch_fit

KORITA = DATA / "korita-zbevnica.gpx"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def attached(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("attach")
    rec = recording_with_start(d / "run.dlr")
    plain = d / "plain.dlr"
    shutil.copy(rec, plain)
    watch = watch_fit(d / "watch.fit", clock_offset_s=7.0)  # the watch clock is 7 s ahead
    before = rec.read_bytes()
    assert main(["attach", str(rec), str(watch)]) == 0
    return {"rec": rec, "plain": plain, "watch": watch, "dir": d, "before": before}  # type: ignore[dict-item]


# ------------------------------------------------------------------------------- segments
def test_segments_of_a_real_gpx_hike(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(capsys, "segments", str(KORITA))
    assert rc == 0
    rows = [json.loads(line) for line in out.splitlines()]
    kinds = {r["kind"] for r in rows}
    assert kinds == {"flat", "descent", "climb"}
    for r in rows:
        assert list(r) == ["kind", "t0_s", "t1_s", "start_utc", "grade_pct", "distance_m",
                           "cadence_spm", "peak_g", "gct_ms", "heart_rate_bpm"]  # fmt: skip
        assert r["t1_s"] >= r["t0_s"] and r["start_utc"].startswith("2010-10-03T")
    assert all(a["t1_s"] == b["t0_s"] for a, b in itertools.pairwise(rows))
    # the hike climbs ~300 m and comes back down: the climbs and descents say so
    up = sum(r["grade_pct"] * r["distance_m"] / 100 for r in rows if r["kind"] == "climb")
    down = sum(r["grade_pct"] * r["distance_m"] / 100 for r in rows if r["kind"] == "descent")
    assert up > 150 and down < -150
    assert "358 track points have no time" in err and "segments (" in err


def test_segments_csv(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "segments", str(KORITA), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rc == 0 and rows and rows[0]["kind"] in ("flat", "descent", "climb")


def test_segments_of_a_watch_file_alone(
    attached: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run_cli(capsys, "segments", str(attached["watch"]))
    rows = [json.loads(line) for line in out.splitlines()]
    assert rc == 0 and [r["kind"] for r in rows] == ["flat", "descent", "flat"]
    desc = rows[1]
    assert desc["grade_pct"] == pytest.approx(-10.0, abs=0.5)
    assert 130 < desc["t1_s"] - desc["t0_s"] < 150  # the course: 139 s at -10 %
    assert desc["cadence_spm"] == pytest.approx(170, abs=3)
    assert desc["gct_ms"] == 250.0 and desc["heart_rate_bpm"] is not None


def test_segments_threshold_from_the_cue_profile(
    attached: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    prof = tmp_path / "steep.yaml"
    prof.write_text(
        "descent:\n  threshold_pct: -15\n  exit_pct: -12\n  min_s: 5\nrules:\n  cadence_low:\n"
        "    metric: cadence_spm\n    below: 160\n    when: descent\n    phrases: [quick]\n"
    )
    rc, out, err = run_cli(capsys, "segments", str(attached["watch"]), "--profile", str(prof))
    assert rc == 0, err
    assert [json.loads(line)["kind"] for line in out.splitlines()] == ["flat"]


def test_segments_of_a_recording_with_attached_watch_data(
    attached: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run_cli(capsys, "segments", str(attached["rec"]))
    rows = [json.loads(line) for line in out.splitlines()]
    assert rc == 0 and [r["kind"] for r in rows] == ["flat", "descent", "flat"]
    desc = rows[1]
    assert desc["t0_s"] == pytest.approx(60, abs=4) and desc["t1_s"] == pytest.approx(199, abs=6)
    assert desc["grade_pct"] == pytest.approx(-10.0, abs=0.5)
    assert desc["distance_m"] == pytest.approx(139 * 170 / 60 * 1.05, rel=0.05)
    assert desc["peak_g"] > rows[0]["peak_g"]  # impacts are harder on the descent
    start = datetime.fromisoformat(desc["start_utc"].replace("Z", "+00:00"))
    assert abs((start - datetime(2026, 6, 1, 7, 0, tzinfo=UTC)).total_seconds() - 60) <= 4
    assert desc["gct_ms"] == 250.0  # from the watch: a foot sensor has no contact time


def test_segments_with_a_watch_file_leaves_the_recording_alone(
    attached: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    before = attached["plain"].read_bytes()
    rc, out, err = run_cli(
        capsys, "segments", str(attached["plain"]), "--with", str(attached["watch"])
    )
    assert rc == 0 and attached["plain"].read_bytes() == before
    assert [json.loads(line)["kind"] for line in out.splitlines()] == ["flat", "descent", "flat"]
    assert "aligned by time+cadence" in err


# --------------------------------------------------------------------------------- attach
def test_attach_keeps_every_recorded_byte(attached: dict[str, Path]) -> None:
    after = attached["rec"].read_bytes()
    assert after.startswith(attached["before"]) and len(after) > len(attached["before"])
    rec = read_recording(attached["rec"])
    plain = read_recording(attached["plain"])
    assert rec.packets == plain.packets and not rec.damaged
    track = attached_track(rec)
    assert track is not None
    assert track.meta["method"] == "time+cadence"
    assert track.meta["lag_s"] == pytest.approx(-7.0, abs=0.5)  # the watch clock's 7 s
    assert track.meta["correlation"] > 0.8
    assert {"altitude_m", "distance_m", "speed_mps", "heart_rate_bpm"} <= set(track.columns)
    assert track.columns["altitude_m"][0] == pytest.approx(START_ALT_M, abs=0.5)


def test_attach_twice_needs_force(
    attached: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rec = tmp_path / "again.dlr"
    shutil.copy(attached["rec"], rec)
    rc, _, err = run_cli(capsys, "attach", str(rec), str(attached["watch"]))
    assert rc == 2 and "attached already (give --force" in err and "Traceback" not in err
    rc, out, _ = run_cli(capsys, "attach", str(rec), str(attached["watch"]), "--force")
    assert rc == 0 and "recorded bytes are unchanged" in out
    assert attached_track(read_recording(rec)).meta["source"] == "watch.fit"  # type: ignore[union-attr]


def test_attach_a_file_of_another_day_is_refused(
    attached: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rec = tmp_path / "r.dlr"
    shutil.copy(attached["plain"], rec)
    before = rec.read_bytes()
    rc, _, err = run_cli(capsys, "attach", str(rec), str(KORITA))
    assert rc == 2 and "does not overlap the recording in time" in err
    assert rec.read_bytes() == before


def test_attach_without_start_time_aligns_by_cadence(
    attached: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rec = recording_with_start(tmp_path / "nostart.dlr", start_time=None)
    rc, out, _ = run_cli(capsys, "attach", str(rec), str(attached["watch"]))
    assert rc == 0 and "aligned by cadence" in out
    track = attached_track(read_recording(rec))
    assert track is not None
    # the watch's first point is 1 s into the run (tests/watchfiles.py)
    assert track.t_s[0] == pytest.approx(1.0, abs=0.6)


def test_replay_uses_the_attached_grade(attached: dict[str, Path]) -> None:
    from downhill_live.config.cue_profile import load_cue_profile
    from downhill_live.session import session_from_recording

    prof = load_cue_profile(None)

    def grades(path: Path) -> tuple[np.ndarray, np.ndarray]:
        session, rec = session_from_recording(str(path), prof)
        session.process_many(rec.packets)
        return np.array([s.t_s for s in session.steps]), np.array(
            [s.grade_pct for s in session.steps]
        )

    t, g = grades(attached["rec"])
    t0, g0 = grades(attached["plain"])
    assert len(t) == len(t0)
    # the watch's altitude (barometric grade): exactly level on the flat, -10 % on the descent
    assert np.nanmedian(g[(t > 100) & (t < 190)]) == pytest.approx(-10.0, abs=0.5)
    assert np.nanmax(np.abs(g[(t > 215) & (t < 240)])) < 0.05
    # the foot's own tilt estimate, without it, is never exactly level
    assert np.nanmax(np.abs(g0[(t0 > 215) & (t0 < 240)])) > 0.1


# --------------------------------------------------------------------------------- export
@pytest.fixture(scope="module")
def exported(attached: dict[str, Path]) -> dict[str, Path]:
    d = attached["dir"]
    out = {k: d / f"out.{k}" for k in ("fit", "tcx", "gpx")}
    rc = main(["export", str(attached["rec"]), "--fit", str(out["fit"]), "--tcx",
               str(out["tcx"]), "--gpx", str(out["gpx"])])  # fmt: skip
    assert rc == 0
    return out


def test_export_fit_read_back_by_fitdecode(
    exported: dict[str, Path], attached: dict[str, Path]
) -> None:
    import fitdecode

    from downhill_live.session import session_from_recording

    session, rec = session_from_recording(str(attached["rec"]), None)  # what export replays
    session.process_all(rec.packets)

    records, laps, events, dev_names = [], [], [], {}
    with fitdecode.FitReader(str(exported["fit"]), check_crc=fitdecode.CrcCheck.RAISE) as fr:
        for frame in fr:
            if not isinstance(frame, fitdecode.FitDataMessage):
                continue
            if frame.name == "record":
                records.append({f.name: f.value for f in frame.fields})
            elif frame.name == "lap":
                laps.append({f.name: f.value for f in frame.fields})
            elif frame.name == "event":
                events.append({f.name: f.value for f in frame.fields})
            elif frame.name == "field_description":
                dev_names[frame.get_value("field_definition_number")] = frame.get_value(
                    "field_name"
                )
    assert set(dev_names.values()) == {"peak_impact_g", "grade_pct", "on_descent", "cue",
                                       "segment"}  # fmt: skip
    assert 240 <= len(records) <= 246
    r = records[120]  # mid-descent
    assert 76 <= r["cadence"] <= 87 and 0 <= r["fractional_cadence"] < 1  # strides/min
    assert r["enhanced_altitude"] < START_ALT_M and r["distance"] > 300
    assert r["heart_rate"] > 100 and r["stance_time"] == 250.0
    assert r["grade_pct"] == pytest.approx(-10, abs=1.5) and r["on_descent"] == 1
    assert np.isfinite(r["peak_impact_g"])
    assert [lap["segment"] for lap in laps] == ["flat", "descent", "flat"]
    assert laps[1]["total_elapsed_time"] == pytest.approx(139, abs=8)
    cues = [e for e in events if e.get("event") == "user_marker"]
    assert len(cues) == len(session.cues) >= 4 and all(":" in e["cue"] for e in cues)


def test_export_fit_read_back_by_the_fit_sdk(exported: dict[str, Path]) -> None:
    sdk = pytest.importorskip("garmin_fit_sdk")
    data = bytearray(exported["fit"].read_bytes())
    dec = sdk.Decoder(sdk.Stream.from_byte_array(data))
    assert dec.is_fit() and dec.check_integrity()
    mesgs, errors = sdk.Decoder(sdk.Stream.from_byte_array(data)).read()
    assert errors == []
    assert len(mesgs["lap_mesgs"]) == 3 and mesgs["session_mesgs"][0]["num_laps"] == 3
    assert mesgs["session_mesgs"][0]["sport"] == "running"
    rec = mesgs["record_mesgs"][120]
    assert rec["developer_fields"][2] == 1 and 76 <= rec["cadence"] <= 87
    assert mesgs["activity_mesgs"][0]["num_sessions"] == 1


def test_export_read_back_by_our_readers(exported: dict[str, Path]) -> None:
    fit, tcx, gpx = (read_activity(exported[k]) for k in ("fit", "tcx", "gpx"))
    for act in (fit, tcx, gpx):
        assert not act.notes and 240 <= len(act) <= 246
        assert act.altitude_m[np.isfinite(act.altitude_m)][0] == pytest.approx(START_ALT_M, abs=1)
        assert np.nanmedian(act.cadence_spm) == pytest.approx(170, abs=4)
    assert np.nanmax(tcx.distance_m) == pytest.approx(np.nanmax(fit.distance_m), abs=1.0)


def test_export_gpx_needs_positions(
    attached: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = attached["dir"] / "plain.gpx"
    rc, _, err = run_cli(capsys, "export", str(attached["plain"]), "--gpx", str(out))
    assert rc == 2 and "GPX needs positions" in err and not out.exists()


def test_export_fit_without_watch_data(
    attached: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = attached["dir"] / "plain.fit"
    rc, stdout, _ = run_cli(capsys, "export", str(attached["plain"]), "--fit", str(out))
    assert rc == 0 and "no watch data" in stdout
    act = read_activity(out)
    assert act.has("cadence_spm") and not act.has("altitude_m")


def test_export_never_writes_over_its_input(
    attached: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(capsys, "export", str(attached["plain"]), "--fit", str(attached["plain"]))
    assert rc == 2 and "is an input" in err


def test_bad_watch_files_are_one_line_each(
    attached: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.fit"
    bad.write_bytes(b"\x0e\x10\x00\x00\x00\x00\x00\x00.FIT\x00\x00garbage")
    for path in (bad, DATA / "gpx_with_garmin_extension.gpx", Path("/dev/null")):
        rc, out, err = run_cli(capsys, "segments", str(path))
        assert rc != 0 and not out
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_replay_verify_ignores_attached_data(
    attached: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from downhill_live.record import RecordingWriter
    from downhill_live.types import Cue

    # a "live" recording with the cues its live session spoke, then a watch file attached
    rec = read_recording(attached["plain"])
    live = tmp_path / "live.dlr"
    rc = main(["replay", str(attached["plain"]), "--no-speak"])
    lines = [x for x in capsys.readouterr().out.splitlines() if "] cue " in x]
    assert rc == 0 and lines
    from downhill_live.config.cue_profile import load_cue_profile
    from downhill_live.session import session_from_recording

    session, _ = session_from_recording(str(attached["plain"]), load_cue_profile(None))
    session.process_many(rec.packets)
    header = {k: v for k, v in rec.header.items() if k not in ("format_version", "streams")}
    with RecordingWriter(live, header, streams=rec.header["streams"]) as w:
        for p in rec.packets:
            w.write_packet(p)
        for c in session.cues:
            w.write_cue(Cue(c.t_s, c.rule, c.phrase, c.metric, c.value))
    assert main(["attach", str(live), str(attached["watch"])]) == 0
    capsys.readouterr()
    assert main(["replay", str(live), "--no-speak", "--verify"]) == 0
