"""The runner history: schema and migration, baselines and fading from stored sessions, the
snapshot a live recording keeps (replay gives the same cues and never writes unless asked), and
the ``history`` command."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from downhill_live.config.cue_profile import load_cue_profile, parse_cue_profile
from downhill_live.cues import CueEngine
from downhill_live.history import SCHEMA_VERSION, History, HistoryError, band_of
from downhill_live.record import read_recording
from downhill_live.types import Step

RECORDINGS = Path(__file__).resolve().parents[2] / "recordings"

PROFILE = parse_cue_profile(
    """
settings: {quiet_start_s: 0, baseline_s: 20}
fade: {hold_share: 0.8, max_level: 2}
rules:
  slow:
    metric: cadence_spm
    below: baseline-3%
    when: descent
    window_steps: 10
    min_share: 0.7
    repeat_s: 10
    phrases: ["quicker"]
""",
    "p.yaml",
)


def session_steps(descent_cadence: float, grade: float = -8.0) -> list[Step]:
    """30 s flat at 170 spm, then 60 s of descent at ``descent_cadence``."""
    flat = [Step(i * 0.5, 170.0, 5.0, 0.0, False) for i in range(60)]
    down = [Step(30.0 + i * 0.5, descent_cadence, 6.0, grade, True) for i in range(120)]
    after = [Step(90.0 + i * 0.5, 170.0, 5.0, 0.0, False) for i in range(10)]
    return flat + down + after


def store(h: History, runner: str, steps: list[Step]) -> CueEngine:
    eng = CueEngine(PROFILE, h.prior(runner, PROFILE))
    for s in steps:
        eng.update(s)
    eng.finish()
    h.add_session(runner, eng, PROFILE, source="test", duration_s=steps[-1].t_s)
    return eng


def test_a_new_file_gets_the_current_schema_and_a_newer_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    with History(path) as h:
        assert h.version == SCHEMA_VERSION
        tables = {r[0] for r in h.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"sessions", "descents"} <= tables
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="schema version 99 is newer"):
        History(path)
    assert path.read_bytes() == before  # refused, not changed
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(HistoryError, match="not a usable history database"):
        History(junk)


def test_baselines_are_learned_across_sessions_per_grade_band(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite3") as h:
        assert h.prior("ann", PROFILE).baselines == {}
        store(h, "ann", session_steps(171.0))
        store(h, "ann", session_steps(169.0, grade=-12.0))
        store(h, "bob", session_steps(150.0))
        prior = h.prior("ann", PROFILE)
        assert prior.baselines["flat"] == {"cadence_spm": 170.0, "peak_g": 5.0}
        assert prior.baselines["-6..-10"]["cadence_spm"] == pytest.approx(171.0)
        assert prior.baselines["<-10"]["cadence_spm"] == pytest.approx(169.0)
        rows = h.descents(h.sessions("ann")[0].id)
        assert rows[0]["band"] == "-6..-10"
        assert rows[0]["cadence_vs_flat_pct"] == pytest.approx(100 * (171 / 170 - 1))
        assert rows[0]["impact_vs_flat_pct"] == pytest.approx(20.0)


def test_a_run_that_starts_downhill_is_coached_from_the_stored_baseline(tmp_path: Path) -> None:
    down = [Step(i * 0.5, 150.0, 6.0, -8.0, True) for i in range(60)]
    with History(tmp_path / "h.sqlite3") as h:
        fresh = CueEngine(PROFILE, h.prior("ann", PROFILE))
        assert [c for s in down for c in fresh.update(s)] == []  # nothing to compare with
        store(h, "ann", session_steps(171.0))
        eng = CueEngine(PROFILE, h.prior("ann", PROFILE))
        cues = [c for s in down for c in eng.update(s)]
        assert cues and cues[0].t_s == pytest.approx(4.5)  # the first full window


def test_feedback_fades_while_form_holds_and_comes_back_when_it_slips(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite3") as h:
        levels = []
        for cad in (171.0, 171.0, 171.0, 150.0, 171.0):
            levels.append(h.prior("ann", PROFILE).fade_level)
            eng = store(h, "ann", session_steps(cad))
            assert eng.fade_level == levels[-1]
        levels.append(h.prior("ann", PROFILE).fade_level)
        # held, held, held (capped at max_level 2), slipped (back to 0), held again
        assert levels == [0, 1, 2, 2, 0, 1]
        shares = [s.in_band_share for s in h.sessions("ann")]
        assert shares[3] is not None and shares[3] < 0.8 <= min(shares[:3])  # type: ignore[operator]


def test_grade_bands() -> None:
    assert [band_of(g) for g in (0.0, -3.0, -5.9, -6.0, -10.0, -20.0)] == [
        "flat",
        "-3..-6",
        "-3..-6",
        "-6..-10",
        "<-10",
        "<-10",
    ]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "downhill_live", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=600,
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_live_stores_the_snapshot_and_replay_gives_the_same_cues_without_writing(
    tmp_path: Path,
) -> None:
    hist = tmp_path / "h.sqlite3"
    rec = RECORDINGS / "descent_foot_200hz.dlr"
    common = ["--simulate", str(rec), "--speed", "50", "--no-speak", "--history", str(hist)]
    first = _cli("live", *common, "--record", str(tmp_path / "one"), "--runner", "ann", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "history: stored session 1 of ann" in first.stdout
    second = _cli("live", *common, "--record", str(tmp_path / "two"), "--runner", "ann", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    [path] = list((tmp_path / "two").glob("*.dlr"))
    header = read_recording(str(path)).header
    snap = header["live"]["history"]
    assert snap["baselines"]["flat"]["cadence_spm"] == pytest.approx(170, abs=3)
    assert header["live"]["runner"] == "ann"
    before = _digest(hist)
    # replay reuses the stored snapshot: the very cues the live session said (--verify)
    replay = _cli("replay", str(path), "--no-speak", "--verify", "--history", str(hist), cwd=tmp_path)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert _digest(hist) == before  # and never writes the history unless asked
    saved = _cli(
        "replay", str(path), "--no-speak", "--save-history", "--history", str(hist),
        "--runner", "ann", cwd=tmp_path,
    )  # fmt: skip
    assert saved.returncode == 0 and "stored session 3 of ann" in saved.stdout
    table = _cli("history", "--history", str(hist), "--plot", "p.png", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "runner ann, 3 session(s)" in table.stdout
    assert "<-10" in table.stdout or "-6..-10" in table.stdout
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_history_command_errors_are_one_line(tmp_path: Path) -> None:
    missing = _cli("history", "--history", str(tmp_path / "none.sqlite3"), cwd=tmp_path)
    assert missing.returncode == 2
    assert "none.sqlite3: no such history file" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_the_default_profile_reads_with_history_sections() -> None:
    prof = load_cue_profile()
    assert prof.fade.enabled and prof.history.baselines
