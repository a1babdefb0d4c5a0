"""Cue profile validation and the rules engine."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from downhill_live.config.cue_profile import load_cue_profile, parse_cue_profile
from downhill_live.cues import CueEngine
from downhill_live.errors import ConfigError
from downhill_live.types import Step

BASE = """
settings:
  quiet_start_s: 0
  max_cues_per_min: 30
rules:
  slow:
    metric: cadence_spm
    below: 160
    window_steps: 1
    hysteresis: 4
    cooldown_s: 0
    repeat_s: null
    praise_hold_s: 0
    phrases: ["quicker", "quick feet"]
    praise: "nice"
"""


def step(
    t: float, cad: float = 170.0, peak: float = 3.0, descent: bool = False, grade: float = 0.0
) -> Step:
    return Step(t, cad, peak, grade, descent)


def run(profile_text: str, steps: list[Step]) -> list:
    eng = CueEngine(parse_cue_profile(profile_text, "p.yaml"))
    out = []
    for s in steps:
        out.extend(eng.update(s))
    return out


def test_default_profile_is_valid() -> None:
    prof = load_cue_profile()
    assert {r.name for r in prof.rules} >= {"cadence_low", "impact_high"}


def test_fires_once_on_crossing_then_rearms_with_hysteresis_and_praises() -> None:
    cads = [170, 158, 150, 158, 162, 165, 170, 150]
    cues = run(BASE, [step(i, c) for i, c in enumerate(cads)])
    assert [(c.t_s, c.rule, c.phrase) for c in cues] == [
        (1, "slow", "quicker"),
        (5, "slow.praise", "nice"),  # 165 >= 160 + 4 re-arms; 162 does not
        (7, "slow", "quick feet"),  # phrases rotate
    ]


def test_cooldown_blocks_refiring() -> None:
    text = BASE.replace("cooldown_s: 0", "cooldown_s: 10")
    cads = [150, 170, 150, 170, 150] + [170] * 8 + [150]
    cues = [c for c in run(text, [step(i, c) for i, c in enumerate(cads)]) if c.rule == "slow"]
    assert [c.t_s for c in cues] == [0, 13]


def test_quiet_start_and_rate_cap() -> None:
    text = BASE.replace("quiet_start_s: 0", "quiet_start_s: 5").replace(
        "max_cues_per_min: 30", "max_cues_per_min: 2"
    )
    cads = [150, 150, 150, 150, 150, 150] + [170, 150] * 10
    cues = run(text.replace('praise: "nice"', ""), [step(i, c) for i, c in enumerate(cads)])
    assert cues[0].t_s == 5  # held back by the quiet period, fires as soon as it ends
    assert len(cues) == 2  # then the cap of 2 per minute holds


def test_descent_gating_and_relative_baseline() -> None:
    text = """
settings: {quiet_start_s: 0, baseline_s: 20}
rules:
  cad:
    metric: cadence_spm
    below: baseline-3%
    when: descent
    window_steps: 2
    phrases: ["shorter, quicker steps"]
"""
    steps = [step(i * 0.5, 170.0) for i in range(50)]  # 25 s flat at 170 -> baseline 170
    steps += [step(25 + i * 0.5, 160.0, descent=False) for i in range(10)]  # slow but flat: gated
    steps += [step(30 + i * 0.5, 170.0, descent=True) for i in range(10)]  # above 164.9: fine
    steps += [step(35 + i * 0.5, 160.0, descent=True) for i in range(10)]
    cues = run(text, steps)
    assert len(cues) == 1
    assert cues[0].t_s == pytest.approx(
        35.5
    )  # mean of 2 descent steps reaches 160 on the 2nd slow one
    assert cues[0].value == pytest.approx(160.0)


def test_priority_orders_simultaneous_cues() -> None:
    text = """
settings: {quiet_start_s: 0}
rules:
  a: {metric: cadence_spm, below: 160, window_steps: 1, priority: 1, phrases: [a]}
  b: {metric: peak_g, above: 5, window_steps: 1, priority: 5, phrases: [b]}
"""
    cues = run(text, [step(0, 170, 3), step(1, 150, 8)])
    assert [c.rule for c in cues] == ["b", "a"]


def test_repeat_reminds_while_still_violating() -> None:
    text = BASE.replace("repeat_s: null", "repeat_s: 5\n    repeat_backoff: 1")
    cues = run(text, [step(i, 150) for i in range(12)])
    assert [c.t_s for c in cues] == [0, 5, 10]
    assert [c.rule for c in cues] == ["slow", "slow.reminder", "slow.reminder"]


def test_nan_metrics_are_skipped_not_averaged() -> None:
    cues = run(BASE, [step(0, math.nan), step(1, math.nan), step(2, 150)])
    assert [c.t_s for c in cues] == [2]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(120, 200), min_size=1, max_size=200), st.integers(0, 30))
def test_engine_is_deterministic_and_never_fires_twice_without_rearming(
    cads: list[float], cooldown: int
) -> None:
    text = BASE.replace("cooldown_s: 0", f"cooldown_s: {cooldown}").replace('praise: "nice"', "")
    steps = [step(i, c) for i, c in enumerate(cads)]
    a, b = run(text, steps), run(text, steps)
    assert a == b
    fired_t = [c.t_s for c in a]
    for t0, t1 in itertools.pairwise(fired_t):
        assert t1 - t0 >= cooldown
        # between two firings the cadence must have recovered past threshold + hysteresis
        assert any(c >= 164 for c in cads[int(t0) + 1 : int(t1)])
    for t in fired_t:
        assert cads[int(t)] < 160


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            "rules:\n  a: {metric: cadense_spm, below: 1, phrases: [x]}\n",
            "p.yaml:2: rules.a.metric: must be one of",
        ),
        (
            "rules:\n  a: {metric: cadence_spm, below: 1, phrases: [x], coldown_s: 3}\n",
            "rules.a.coldown_s: unknown key",
        ),
        (
            "rules:\n  a: {metric: cadence_spm, phrases: [x]}\n",
            "rules.a: needs exactly one of 'below' or 'above'",
        ),
        (
            "rules:\n  a: {metric: cadence_spm, below: basline, phrases: [x]}\n",
            "rules.a.below: must be a number or 'baseline'",
        ),
        (
            "settings:\n  volume: 3\nrules:\n  a: {metric: peak_g, above: 1, phrases: [x]}\n",
            "p.yaml:2: settings.volume: must be <= 1.0",
        ),
        ("rules: [1, 2]\n", "rules: must be a mapping"),
        ("rules:\n  a: !!python/object/apply:os.system [ls]\n", "not allowed"),
        ("x: &a [1]\ny: *a\n", "aliases"),
        (
            "rules:\n  a: {metric: peak_g, above: 1, phrases: []}\n",
            "rules.a.phrases: must be a list with at least 1",
        ),
        ("version: 2\nrules: {}\n", "unsupported profile version"),
    ],
)
def test_profile_errors_are_precise(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_cue_profile(text, "p.yaml")
    assert where in str(info.value)


def test_deep_or_huge_files_are_refused() -> None:
    deep = "a: " + "[" * 40 + "]" * 40 + "\n"
    with pytest.raises(ConfigError, match="nested deeper"):
        parse_cue_profile(deep, "p.yaml")
    with pytest.raises(ConfigError, match="larger than"):
        parse_cue_profile("# " + "x" * 300_000 + "\n", "p.yaml")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "downhill_live", "profile", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_profile_init_then_check_then_typo(tmp_path: Path) -> None:
    proc = _cli("init", "mine.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "mine.yaml").read_text()
    assert "#" in text  # commented for the runner
    ok = _cli("check", "mine.yaml", cwd=tmp_path)
    assert ok.returncode == 0 and "OK, 2 rule(s)" in ok.stdout
    again = _cli("init", "mine.yaml", cwd=tmp_path)
    assert again.returncode == 2 and "exists already" in again.stderr
    (tmp_path / "mine.yaml").write_text(text.replace("cooldown_s: 30", "coldown_s: 30", 1))
    bad = _cli("check", "mine.yaml", cwd=tmp_path)
    assert bad.returncode == 2
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "cooldown_s: 30" in s)
    assert (
        f"mine.yaml:{line}: rules.cadence_low.coldown_s: unknown key; allowed here:" in bad.stderr
    )
    assert len(bad.stderr.strip().splitlines()) == 1
