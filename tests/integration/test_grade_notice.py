"""Said at start (issue #10): a set-up that cannot know the grade, with rules that wait for
descents, says so once on the console and once aloud, with what would fix it."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from downhill_live.config.cue_profile import load_cue_profile, parse_cue_profile
from downhill_live.session import grade_notice, session_from_recording
from downhill_live.sinks import SpeakerSink
from downhill_live.speech.base import ConsoleSpeaker
from tests.conftest import RECORDINGS

ROOT = Path(__file__).resolve().parents[2]


def test_cli_replay_of_a_shank_recording_prints_the_notice_once(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "downhill_live", "replay", str(RECORDINGS / "descent_shank_500hz.dlr"),
         "--no-speak"],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PULSE_SERVER": str(tmp_path / "x")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if "grade unknown" in ln]
    assert len(lines) == 1, proc.stdout
    (line,) = lines
    assert line.startswith("note: grade unknown: dhl-imu on the shank cannot measure the slope")
    for fix in ("barometer", "treadmill", "watch file", "attach", "when: always"):
        assert fix in line
    assert "cadence_low" in line and "impact_high" in line
    assert "Traceback" not in proc.stderr


def test_the_sentence_is_spoken_once_before_any_cue() -> None:
    session, rec = session_from_recording(str(RECORDINGS / "descent_shank_500hz.dlr"), None)
    said = io.StringIO()
    session.attach(SpeakerSink(ConsoleSpeaker("test", console=said)))
    session.process_all(rec.packets[:3000])
    session.process_all(rec.packets[3000:])
    spoken = said.getvalue().splitlines()
    assert len(spoken) == 1 and "grade_unknown" in spoken[0]
    assert "cannot tell the slope" in spoken[0] and "barometer" in spoken[0]


def test_no_notice_when_nothing_waits_for_descents_or_the_grade_is_known() -> None:
    session, _ = session_from_recording(str(RECORDINGS / "descent_shank_500hz.dlr"), None)
    always = parse_cue_profile(
        "rules: {c: {metric: cadence_spm, below: 150, when: always, phrases: [quick]}}\n", "p.yaml"
    )
    assert grade_notice(session.firmware, "shank", always) is None
    assert grade_notice(session.firmware, "shank", load_cue_profile(), attached=True) is None
    # the foot: known only after a still stand, and the runner is asked for one
    line, phrase = grade_notice(session.firmware, "foot", load_cue_profile()) or ("", "")
    assert "standing still" in line and "Stand still" in phrase
