"""The recording keeps the cue profile that coached live: replay and --verify use it unless
--profile is given, so a run coached with a custom profile replays with the same cues."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from downhill_live.config.cue_profile import DEFAULT_PROFILE
from downhill_live.record import read_recording

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "downhill_live", *args],
        capture_output=True, text=True, timeout=300, cwd=cwd,
    )  # fmt: skip


def test_custom_profile_is_stored_and_replayed(tmp_path: Path) -> None:
    custom = tmp_path / "mine.yaml"
    text = DEFAULT_PROFILE.read_text(encoding="utf-8")
    # a stricter runner's profile: cue as soon as cadence drops 1 % below the flat baseline,
    # and a phrase of their own
    text = text.replace("below: baseline-3%", "below: baseline-1%")
    text = text.replace('phrases: ["shorter, quicker steps", "quick feet"]', 'phrases: ["tap tap"]')
    custom.write_text(text, encoding="utf-8")
    live = run(
        "live", "--simulate", str(ROOT / "recordings" / "descent_foot_200hz.dlr"),
        "--speed", "25", "--no-speak", "--profile", str(custom), "--record", "rec", cwd=tmp_path,
    )  # fmt: skip
    assert live.returncode == 0, live.stderr[-2000:]
    assert '"tap tap"' in live.stdout
    (path,) = (tmp_path / "rec").glob("*.dlr")
    rec = read_recording(path)
    assert rec.header["cue_profile"]["yaml"] == text and rec.cues
    assert {c.phrase for c in rec.cues if c.rule == "cadence_low"} == {"tap tap"}

    again = run("replay", str(path), "--no-speak", "--verify", cwd=tmp_path)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert f"verify: OK, {len(rec.cues)} cues identical" in again.stdout

    # an explicit --profile still wins (and differs here: the default phrase comes back)
    other = run("replay", str(path), "--no-speak", "--profile", str(DEFAULT_PROFILE), cwd=tmp_path)
    assert other.returncode == 0 and '"tap tap"' not in other.stdout
