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
from downhill_live.sim.gait import simulate

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
    # the course overstrides on the descent, then corrects: the cue, its reminder and praise
    rules = {c.rule for c in rec.cues}
    assert {"cadence_low", "cadence_low.reminder", "cadence_low.praise"} <= rules
    assert all(60.0 < c.t_s < 200.0 for c in rec.cues)  # all on the descent (60 s .. 199 s)

    # if this fails after a change to the core or the rules: rebuild the bundled recordings
    # with `python -m downhill_live.sim.recordings` (recordings/README.md)
    code = cli.main(["replay", str(path), "--no-speak", "--verify"])
    out = capsys.readouterr().out
    assert f"verify: OK, {len(rec.cues)} cues identical to the {len(rec.cues)} stored" in out
    assert code == 0


def test_regeneration_rebuilds_the_same_bytes(tmp_path: Path) -> None:
    name, placement, rate_hz, spp, seed = sim_recordings.BUNDLED[0]
    course = sim_recordings.coaching_course()
    sim = simulate(course, placement, rate_hz=rate_hz, seed=seed)
    out = tmp_path / name
    sim_recordings.write_sim_recording(
        sim,
        out,
        seed=seed,
        samples_per_packet=spp,
        course=course,
        coach_with=DEFAULT_PROFILE,
        profile_name=sim_recordings.BUNDLED_PROFILE_NAME,
    )
    assert out.read_bytes() == (ROOT / "recordings" / name).read_bytes()
    truth = name.removesuffix(".dlr") + ".truth.csv"
    assert (tmp_path / truth).read_bytes() == (ROOT / "recordings" / truth).read_bytes()
