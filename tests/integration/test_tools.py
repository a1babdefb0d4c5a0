"""replay --verify, import/export, tune and report, on recordings made by the simulator."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest

from downhill_live.config.cue_profile import Threshold, load_cue_profile, parse_cue_profile
from downhill_live.core import GaitTracker
from downhill_live.errors import ConfigError, DownhillError, InputError
from downhill_live.record import RecordingWriter, read_recording
from downhill_live.session import session_from_recording
from downhill_live.sim.gait import Segment, simulate
from downhill_live.sim.recordings import (
    STILL_START_S,
    coaching_course,
    with_still_start,
    write_sim_recording,
)
from downhill_live.sinks import Sink
from downhill_live.tools.analyze import STEP_FIELDS, read_csv_samples
from downhill_live.tools.verify import print_verification, verify_cues
from downhill_live.types import Cue

RATE_HZ = 200.0


# ------------------------------------------------------------------------------ helpers
def run_cli(argv: list[str]) -> int:
    """Like ``cli.main``, but errors go to stdout (captured with the command's own output)."""
    from downhill_live import cli

    args = cli.build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except DownhillError as exc:
        print(f"downhill-live: error: {exc}")
        return exc.exit_code


def same_steps(a, b) -> bool:  # type: ignore[no-untyped-def]
    """Equal step lists (nan equals nan)."""
    if len(a) != len(b):
        return False
    fa = np.array([dataclasses.astuple(s) for s in a], dtype=np.float64)
    fb = np.array([dataclasses.astuple(s) for s in b], dtype=np.float64)
    return bool(np.array_equal(fa, fb, equal_nan=True))


def replay(path: Path, profile=None, **kw):  # type: ignore[no-untyped-def]
    session, rec = session_from_recording(str(path), profile or load_cue_profile(), **kw)
    for p in rec.packets:
        session.process(p)
    return session, rec


@pytest.fixture(scope="module")
def sim_foot():  # type: ignore[no-untyped-def]
    # as the bundled recordings: a still stand first, the foot tilt grade's reference
    sim = simulate(coaching_course(), "foot", rate_hz=RATE_HZ, seed=21)
    return with_still_start(sim, STILL_START_S, seed=21)


@pytest.fixture(scope="module")
def foot_rec(tmp_path_factory, sim_foot) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("rec") / "foot.dlr"
    write_sim_recording(sim_foot, path, seed=21, samples_per_packet=8, course=coaching_course())
    return path


@pytest.fixture(scope="module")
def foot_replay(foot_rec):  # type: ignore[no-untyped-def]
    return replay(foot_rec)


# ------------------------------------------------------------------------------ verify
def test_live_recording_with_stored_cues_verifies_and_tampering_is_reported(
    tmp_path, foot_rec, foot_replay
) -> None:
    # write a recording the way live mode does: packets and, as they are decided, cues
    session0, rec0 = foot_replay
    assert len(session0.cues) >= 3
    live = tmp_path / "live.dlr"
    with RecordingWriter(live, rec0.header, streams=rec0.header["streams"]) as w:
        class CueWriter(Sink):
            def cue(self, cue: Cue) -> None:
                w.write_cue(cue)

        session, _ = session_from_recording(
            str(foot_rec), load_cue_profile(), sinks=[CueWriter()]
        )
        for p in rec0.packets:
            w.write_packet(p)
            session.process(p)
    stored = read_recording(live).cues
    assert [(c.rule, c.phrase) for c in stored] == [(c.rule, c.phrase) for c in session0.cues]
    replayed, _ = replay(live)
    assert verify_cues(stored, replayed.cues) == []

    c0, c1 = stored[0], stored[1]
    moved = [dataclasses.replace(c0, t_s=c0.t_s + 2e-6), *stored[1:]]
    diffs = verify_cues(stored, moved)
    assert len(diffs) == 1 and diffs[0].startswith("changed:") and "time +0.000002 s" in diffs[0]
    assert verify_cues(stored, [dataclasses.replace(c0, t_s=c0.t_s + 5e-7), *stored[1:]]) == []
    rephrased = [c0, dataclasses.replace(c1, phrase="run faster"), *stored[2:]]
    (d,) = verify_cues(stored, rephrased)
    assert "phrase" in d and "'run faster'" in d
    (d,) = verify_cues(stored, stored[1:])
    assert d.startswith("missing in replay:") and c0.rule in d
    extra = Cue(c0.t_s + 60.0, "other_rule", "hello", "peak_g", 1.0)
    (d,) = verify_cues(stored, sorted([*stored, extra], key=lambda c: c.t_s))
    assert d.startswith("extra in replay:") and "other_rule" in d

    class Out:
        text = ""

        def write(self, s: str) -> None:
            Out.text += s

    assert print_verification("x.dlr", stored, replayed.cues, Out()) == 0  # type: ignore[arg-type]
    assert print_verification("x.dlr", stored, stored[1:], Out()) == 1  # type: ignore[arg-type]
    assert "1 difference" in Out.text


# ------------------------------------------------------------------------------ import/export
def _write_csv(path: Path, t_s, acc_g, pressure=None) -> None:  # type: ignore[no-untyped-def]
    cols = [t_s, *acc_g.T] + ([pressure] if pressure is not None else [])
    head = "t_s,ax,ay,az" + (",pressure_pa" if pressure is not None else "")
    np.savetxt(path, np.column_stack(cols), delimiter=",", header=head, comments="", fmt="%.9g")


def test_csv_import_replays_exactly_like_the_core_on_the_same_samples(tmp_path, sim_foot) -> None:
    csv_in = tmp_path / "in.csv"
    _write_csv(csv_in, sim_foot.t_s, sim_foot.acc_g)
    out = tmp_path / "imp.dlr"
    assert run_cli(["import", str(csv_in), "-o", str(out), "--placement", "foot"]) == 0
    rec = read_recording(out)
    assert rec.header["firmware"]["name"] == "imported-f32"
    assert rec.header["settings"]["rate_hz"] == RATE_HZ
    assert {len(p.payload) for p in rec.packets} == {4 + 20 * 12}
    session, _ = replay(out)
    # the core fed directly with the same float32 samples gives the same steps
    t_csv, acc_csv, _ = read_csv_samples(csv_in)
    tr = GaitTracker(RATE_HZ, "foot")
    direct = tr.update_many(
        np.arange(len(t_csv)) / RATE_HZ, acc_csv.astype(np.float32).astype(np.float64)
    )
    assert len(direct) > 250
    assert same_steps(session.steps, direct)

    # export the samples back: same grid, same values (float32)
    back = tmp_path / "back.csv"
    steps_csv = tmp_path / "steps.csv"
    assert run_cli(["export", str(out), "--samples", str(back), "--steps", str(steps_csv)]) == 0
    t2, acc2, p2 = read_csv_samples(back)
    assert p2 is None
    np.testing.assert_allclose(t2, sim_foot.t_s - sim_foot.t_s[0], atol=1e-6)
    np.testing.assert_allclose(acc2, sim_foot.acc_g, rtol=1e-6, atol=1e-6)
    lines = steps_csv.read_text().splitlines()
    assert lines[0] == ",".join(STEP_FIELDS)
    assert len(lines) == 1 + len(direct)
    assert float(lines[1].split(",")[0]) == pytest.approx(direct[0].t_s, abs=1e-4)


def test_jittered_csv_with_gap_and_pressure_is_regridded(tmp_path) -> None:
    course = [Segment(40.0, 0.0, "run"), Segment(40.0, -10.0, "run")]
    sim = simulate(course, "pelvis", rate_hz=RATE_HZ, seed=4)
    rng = np.random.default_rng(0)
    t = sim.t_s + rng.uniform(-0.3, 0.3, len(sim.t_s)) / RATE_HZ  # +-0.3 sample jitter
    keep = np.ones(len(t), bool)
    keep[4000:4100] = False  # 0.5 s lost
    csv_in = tmp_path / "jit.csv"
    _write_csv(csv_in, t[keep], sim.acc_g[keep], sim.pressure_pa[keep])
    out = tmp_path / "jit.dlr"
    assert run_cli(["import", str(csv_in), "-o", str(out), "--rate", "200"]) == 0
    assert read_recording(out).header["firmware"]["name"] == "imported-f32-baro"
    session, _ = replay(out, placement="pelvis")
    assert session.stats.lost_samples == pytest.approx(100, abs=2)
    back = tmp_path / "back.csv"
    assert run_cli(["export", str(out), "--samples", str(back)]) == 0
    t2, _acc2, p2 = read_csv_samples(back)
    assert np.allclose(np.diff(t2)[np.diff(t2) < 0.01], 1 / RATE_HZ, atol=1e-6)
    assert int(np.sum(np.diff(t2) > 0.01)) == 1  # the gap stays a gap
    assert p2 is not None
    # each record carries the mean pressure of its 20 samples (0.1 s): within sensor noise
    err = np.abs(p2 - np.interp(t2, sim.t_s, sim.pressure_pa))
    assert np.median(err) < 1.0 and np.percentile(err, 99) < 5.0
    # descent found from the imported pressure
    assert any(s.on_descent for s in session.steps)
    assert not any(s.on_descent for s in session.steps if s.t_s < 35.0)


def _polar_text(sim, *, t0_ns: int = 599_628_000_000_000_000) -> str:  # type: ignore[no-untyped-def]
    lines = ["Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg] "]
    mg = np.round(sim.acc_g * 1000.0).astype(int)
    for i, ti in enumerate(sim.t_s):
        ns = t0_ns + round(ti * 1e9)
        phone = f"2026-11-25T08:{int(ti // 60):02d}:{ti % 60:06.3f}"
        lines.append(f"{phone};{ns};{mg[i, 0]};{mg[i, 1]};{mg[i, 2]}")
    return "\n".join(lines) + "\n"


def test_polar_sensor_logger_acc_file_imports_and_finds_the_steps(tmp_path) -> None:
    course = [Segment(60.0, 0.0, "run", cadence_spm=172.0)]
    sim = simulate(course, "chest", rate_hz=RATE_HZ, seed=8)
    src = tmp_path / "Polar_H10_ABCD1234_20261125_080000_ACC.txt"
    src.write_text(_polar_text(sim))
    out = tmp_path / "polar.dlr"
    assert run_cli(["import", str(src), "-o", str(out), "--placement", "chest"]) == 0
    rec = read_recording(out)
    assert rec.header["import"]["format"] == "polar"
    assert rec.header["settings"]["rate_hz"] == RATE_HZ  # inferred from the ns time stamps
    session, _ = replay(out)
    assert session.placement == "chest"
    n_true = len(sim.strike_t_s)
    assert abs(len(session.steps) - n_true) <= 0.03 * n_true
    cad = np.nanmedian([s.cadence_spm for s in session.steps])
    assert cad == pytest.approx(172.0, abs=3.0)


@pytest.mark.parametrize(
    ("name", "text", "where", "what"),
    [
        ("bad.csv", "t_s,ax,ay,az\n0,0,0,1\n0.005,0,0,1\n0.010,0,x,1\n", ":4:", "not a number"),
        ("back.csv", "t_s,ax,ay,az\n0,0,0,1\n0.005,0,0,1\n0.001,0,0,1\n", ":4:", "backwards"),
        ("nohead.csv", "a,b\n1,2\n", ":1:", "missing column"),
        (
            "p_ACC.txt",
            "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]\n"
            "t;1000;1;2;3\nt;2000;1;2;3\nt;30x0;1;2;3\n",
            ":4:",
            "not an integer",
        ),
        (
            "q_ACC.txt",
            "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]\nt;1000;1;2\n",
            ":2:",
            "columns",
        ),
        (
            "r_ACC.txt",
            "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]\n"
            "t;5000000;1;2;3\nt;1000;1;2;3\n",
            ":3:",
            "backwards",
        ),
        ("slow.csv", "t_s,ax,ay,az\n0,0,0,1\n0.1,0,0,1\n0.2,0,0,1\n", ":", "give --rate"),
    ],
)
def test_bad_import_input_is_one_line_with_line_number_and_exit_2(
    tmp_path, capsys, name, text, where, what
) -> None:
    src = tmp_path / name
    src.write_text(text)
    assert run_cli(["import", str(src), "-o", str(tmp_path / "o.dlr")]) == 2
    msg = capsys.readouterr().out.strip()
    assert "\n" not in msg and f"{name}{where}" in msg.replace(str(tmp_path) + "/", "")
    assert what in msg


def test_export_needs_a_recording_and_a_target(tmp_path, foot_rec) -> None:
    with pytest.raises(InputError, match="nothing to do"):
        from downhill_live.cli.transfer import _cmd_export

        _cmd_export(
            argparse.Namespace(
                recording=str(foot_rec), samples=None, steps=None, profile=None, placement=None
            )
        )
    assert run_cli(["export", __file__, "--steps", str(tmp_path / "s.csv")]) == 1


# ------------------------------------------------------------------------------ tune
def test_tune_reuses_steps_and_matches_the_live_engine(foot_rec, foot_replay) -> None:
    from downhill_live.tools.tune import collect_steps, evaluate, parse_set, tune

    base = load_cue_profile()
    rs = collect_steps(str(foot_rec), base)
    session, _ = foot_replay
    assert same_steps(rs.steps, session.steps)
    ev, cues = evaluate(base, rs.steps)
    assert cues == session.cues
    assert ev.cues == sum(1 for c in cues if not c.rule.endswith(".praise"))
    assert 100.0 < ev.descent_s < 200.0  # the course has ~140 s of -10 %
    # an 'above' threshold raised step by step: violation time can only shrink
    specs = [parse_set("impact_high.threshold=4..10:1", base)]
    rows = tune([rs], base, specs)
    assert [r.label for r in rows][1:] == [f"impact_high.threshold={v}" for v in range(4, 11)]
    viol = [r.result.violation_s for r in rows[1:]]
    assert all(a >= b for a, b in itertools.pairwise(viol))
    assert viol[0] > viol[-1]
    assert rows[1].result.cues >= rows[-1].result.cues
    # a grid is the product of the value lists
    grid = tune(
        [rs],
        base,
        [
            parse_set("cadence_low.baseline_pct=-6..-2:1", base),
            parse_set("impact_high.window_steps=2,4,6,8", base),
        ],
    )
    assert len(grid) == 1 + 5 * 4


def test_tune_set_errors_list_what_exists() -> None:
    from downhill_live.tools.tune import parse_set, parse_values

    base = load_cue_profile()
    with pytest.raises(ConfigError, match=r"unknown rule 'nope'.*cadence_low, impact_high"):
        parse_set("nope.threshold=1", base)
    with pytest.raises(ConfigError, match=r"unknown rule field 'colour'.*window_steps"):
        parse_set("cadence_low.colour=1", base)
    with pytest.raises(ConfigError, match="needs a step"):
        parse_set("cadence_low.threshold=1..3", base)
    with pytest.raises(ConfigError, match="integer"):
        parse_set("cadence_low.window_steps=2.5", base)
    with pytest.raises(ConfigError, match="descent settings"):
        parse_set("descent.min_s=3", base)
    assert parse_values("1..2:0.25") == (1.0, 1.25, 1.5, 1.75, 2.0)
    assert parse_set("cadence_low.below=160", base).field == "threshold"
    assert parse_set("impact_high.repeat_s=none,60", base).values == (None, 60.0)


def test_tune_cli_prints_table_and_suggest_writes_a_loadable_profile(
    tmp_path, capsys, foot_rec, sim_foot
) -> None:
    rc = run_cli(
        [
            "tune",
            str(foot_rec),
            "--set",
            "cadence_low.threshold=160,165",
            "--set",
            "settings.max_cues_per_min=2,4",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "cadence_low.threshold=165 settings.max_cues_per_min=2" in out
    assert "cues/h" in out and "violation on descents" in out
    prof_path = tmp_path / "mine.yaml"
    assert run_cli(["tune", str(foot_rec), "--suggest", "-o", str(prof_path)]) == 0
    prof = load_cue_profile(prof_path)
    rules = {r.name: r for r in prof.rules}
    # flat running in the simulation: 170 spm, impact median ~5.3 g at 200 Hz
    assert rules["cadence_low"].threshold.value == pytest.approx(0.97 * 170.0, abs=2.0)
    flat_peaks = sim_foot.strike_peak_g[
        (sim_foot.strike_t_s < 55.0) & ~np.isnan(sim_foot.strike_peak_g)
    ]
    assert rules["impact_high"].threshold.value > float(np.median(flat_peaks))
    assert rules["impact_high"].threshold.value < 9.0
    assert rules["cadence_low"].phrases == load_cue_profile().rules[0].phrases
    # no flat running: nothing to learn from, the profile is left as it was
    from downhill_live.tools.tune import RecordingSteps, suggest

    base = load_cue_profile()
    assert suggest([RecordingSteps("x.dlr", "foot", [], [])], base) == (base, [])


def test_profile_yaml_round_trip() -> None:
    from downhill_live.tools.tune import profile_to_yaml

    base = load_cue_profile()
    again = parse_cue_profile(profile_to_yaml(base, comments=["x"]), "again.yaml")
    assert dataclasses.replace(again, path=base.path) == base
    odd = dataclasses.replace(
        base,
        rules=(
            dataclasses.replace(
                base.rules[0], name="a: b", threshold=Threshold(baseline_offset=-2.5), repeat_s=90.0
            ),
        ),
    )
    assert (
        dataclasses.replace(parse_cue_profile(profile_to_yaml(odd), "odd.yaml"), path=base.path)
        == odd
    )


