"""The bundled recordings are what a live session coached with the bundled cue profile would
have written: format 2, the profile's YAML in the header, the cues it spoke. ``replay --verify``
passes on them, and ``python -m downhill_live.sim.recordings`` rebuilds them byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from downhill_live import cli
from downhill_live.config.cue_profile import DEFAULT_PROFILE
from downhill_live.record import read_recording
from downhill_live.sim import recordings as sim_recordings

ROOT = Path(__file__).resolve().parents[2]
NAMES = [name for name, *_ in sim_recordings.BUNDLED]


@pytest.mark.parametrize("name", NAMES)
def test_bundled_recording_carries_its_profile_and_cues(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = ROOT / "recordings" / name
    rec = read_recording(path)
    assert rec.format_version == 2 and not rec.damaged
    stored = rec.header["cue_profile"]
    assert stored["path"] == sim_recordings.BUNDLED_PROFILE_NAME
    assert stored["yaml"] == DEFAULT_PROFILE.read_text(encoding="utf-8")
    rules = {c.rule for c in rec.cues}
    if name.startswith("descent_foot"):
        # the course overstrides on the descent, then corrects: both cues, their praise
        assert {"cadence_low", "cadence_low.praise", "impact_high", "impact_high.praise"} <= rules
        assert all(63.0 < c.t_s < 203.0 for c in rec.cues)  # on the descent (63 s .. 202 s)
    else:
        # a shank without a barometer cannot know the grade: the descent rules never fire
        assert rules == set()
    # if this fails after a change to the core or the rules: rebuild the bundled recordings
    # with `python -m downhill_live.sim.recordings` (recordings/README.md)
    code = cli.main(["replay", str(path), "--no-speak", "--verify"])
    out = capsys.readouterr().out
    assert f"verify: OK, {len(rec.cues)} cues identical to the {len(rec.cues)} stored" in out
    assert code == 0


def test_regeneration_rebuilds_the_same_bytes(tmp_path: Path) -> None:
    name = sim_recordings.BUNDLED[0][0]
    out = sim_recordings.write_bundled(sim_recordings.BUNDLED[0], tmp_path)
    assert out.read_bytes() == (ROOT / "recordings" / name).read_bytes()
    truth = name.removesuffix(".dlr") + ".truth.csv"
    assert (tmp_path / truth).read_bytes() == (ROOT / "recordings" / truth).read_bytes()
