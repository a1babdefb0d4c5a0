"""The coaching rules against ground truth built from constructed step lists: persistence share,
reminders with backoff, the per-descent cap, praise only for a held correction on the slope,
missing data, descent moments, baselines and fading from the history."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from downhill_live.config.cue_profile import parse_cue_profile
from downhill_live.cues import CueEngine, Prior
from downhill_live.errors import ConfigError
from downhill_live.types import Cue, Step

DT_S = 0.5  # one step every half second

PROFILE = """
settings: {{quiet_start_s: 0, max_cues_per_min: 60, min_gap_s: {gap}}}
descent: {{max_cues: {cap}, enter_phrase: {enter}, summary: {summary}, summary_min_s: 10}}
rules:
  slow:
    metric: cadence_spm
    below: {thr}
    when: {when}
    window_steps: 10
    min_share: 0.7
    hysteresis: 2
    cooldown_s: 0
    repeat_s: {repeat}
    repeat_backoff: 2
    praise_hold_s: 10
    priority: 2
    phrases: ["quicker"]
    praise: "nice"
"""


def profile(
    *,
    cap: int = 100,
    repeat: str = "null",
    when: str = "descent",
    thr: str = "160",
    gap: float = 5,
    enter: str = "null",
    summary: str = "false",
    extra_rule: str = "",
):
    text = PROFILE.format(
        cap=cap, repeat=repeat, when=when, thr=thr, gap=gap, enter=enter, summary=summary
    )
    return parse_cue_profile(text + extra_rule, "p.yaml")


def steps_from(cads: list[float], *, descent: bool = True, t0: float = 0.0, grade: float = -8.0):
    return [
        Step(t0 + i * DT_S, c, 5.0, grade if descent else 0.0, descent) for i, c in enumerate(cads)
    ]


def run(prof, steps: list[Step], prior: Prior | None = None) -> list[Cue]:
    eng = CueEngine(prof, prior)
    out: list[Cue] = []
    for s in steps:
        out += eng.update(s)
    out += eng.finish()
    return out


def corrective(cues: list[Cue]) -> list[Cue]:
    return [c for c in cues if c.rule in ("slow", "slow.reminder", "hard", "hard.reminder")]


# ------------------------------------------------------------------ persistence share
@settings(max_examples=80, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=120))
def test_a_cue_fires_exactly_when_most_of_the_window_is_out_of_band(out: list[bool]) -> None:
    cads = [150.0 if o else 170.0 for o in out]
    cues = run(profile(), steps_from(cads))
    # ground truth: the first step whose last 10 steps hold >= 7 out of band, and only that one
    # (no reminders; praise needs 10 s held in band)
    first = next((i for i in range(9, len(out)) if sum(out[i - 9 : i + 1]) >= 7), None)
    fired = [c for c in cues if c.rule == "slow"]
    if first is None:
        assert fired == []
    else:
        assert fired[0].t_s == pytest.approx(first * DT_S)


def test_six_of_ten_out_of_band_is_no_error_seven_is() -> None:
    six = ([150.0] * 3 + [170.0] * 2) * 20  # 60 % out of band, all along
    assert corrective(run(profile(), steps_from(six))) == []
    seven = ([150.0] * 7 + [170.0] * 3) * 10
    assert len(corrective(run(profile(), steps_from(seven)))) == 1


# ------------------------------------------------------------------ reminders with backoff
def test_reminders_come_at_growing_intervals_while_the_error_persists() -> None:
    cads = [150.0] * int(300 / DT_S)
    cues = corrective(run(profile(repeat="10"), steps_from(cads)))
    t = [c.t_s for c in cues]
    assert t[0] == pytest.approx(9 * DT_S)  # window full
    intervals = [b - a for a, b in itertools.pairwise(t)]
    assert intervals == pytest.approx([10, 20, 40, 80, 160][: len(intervals)], abs=DT_S)
    assert len(intervals) == 4  # 4.5 + 10 + 20 + 40 + 80 = 154.5; + 160 is past 300
    assert [c.rule for c in cues] == ["slow"] + ["slow.reminder"] * 4


def test_no_reminder_once_the_error_is_gone() -> None:
    cads = [150.0] * 40 + [163.0] * 200  # out of band 20 s, then in band (not yet corrected)
    cues = corrective(run(profile(repeat="10"), steps_from(cads)))
    assert [c.rule for c in cues] == ["slow", "slow.reminder"]  # at 4.5 s and 14.5 s only


def test_reminders_of_two_rules_in_one_moment_are_merged() -> None:
    hard = """  hard:
    metric: peak_g
    above: 6
    when: descent
    window_steps: 10
    min_share: 0.7
    cooldown_s: 0
    repeat_s: 10
    priority: 3
    phrases: ["soft"]
"""
    steps = [Step(i * DT_S, 150.0, 8.0, -8.0, True) for i in range(int(100 / DT_S))]
    cues = corrective(run(profile(repeat="10", extra_rule=hard), steps))
    # both first cues are said (two different corrections); their reminders come as one voice
    assert [c.rule for c in cues] == [
        "hard",
        "slow",
        "hard.reminder",
        "hard.reminder",
        "hard.reminder",
    ]
    alone = corrective(run(profile(repeat="10", gap=0, extra_rule=hard), steps))
    assert len(alone) == 8


# ------------------------------------------------------------------ cap per descent
def test_cues_are_capped_per_descent_and_the_cap_starts_afresh_on_the_next() -> None:
    cads = [150.0] * int(300 / DT_S)
    first = steps_from(cads)
    flat = steps_from([170.0] * 60, descent=False, t0=300.0)
    second = steps_from(cads, t0=330.0)
    cues = corrective(run(profile(cap=3, repeat="5"), first + flat + second))
    assert sum(c.t_s < 300 for c in cues) == 3
    assert sum(c.t_s >= 330 for c in cues) == 3


# ------------------------------------------------------------------ praise
def test_praise_only_after_a_correction_held_10_s_on_the_slope() -> None:
    err = [150.0] * 20
    held = err + [170.0] * int(15 / DT_S)
    cues = run(profile(), steps_from(held))
    praise = [c for c in cues if c.rule == "slow.praise"]
    assert len(praise) == 1
    # the correction reaches 7 of 10 at step 20 + 6; praise 10 s later
    assert praise[0].t_s == pytest.approx((26 * DT_S) + 10.0)


def test_no_praise_when_the_correction_ends_before_the_hold() -> None:
    cads = [150.0] * 20 + [170.0] * int(9 / DT_S) + [150.0] * 20
    assert [c for c in run(profile(), steps_from(cads)) if c.rule.endswith("praise")] == []


def test_leaving_the_slope_is_not_a_correction() -> None:
    # overstriding to the bottom; the cadence comes back on the run-out, where the grade is
    # above the descent threshold although the descent state still holds for a while
    on = steps_from([150.0] * 100)
    runout = [Step(50.0 + i * DT_S, 170.0, 5.0, -2.0, True) for i in range(40)]
    after = steps_from([170.0] * 60, descent=False, t0=70.0)
    cues = run(profile(), on + runout + after)
    assert [c.rule for c in cues] == ["slow"]


def test_praise_needs_an_earlier_cue_in_the_same_gate() -> None:
    cues = run(profile(), steps_from([170.0] * 200))
    assert cues == []


# ------------------------------------------------------------------ missing data
@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([150.0, 170.0, math.nan]), min_size=1, max_size=200))
def test_missing_data_never_fires_reminds_or_praises(cads: list[float]) -> None:
    steps = steps_from(cads)
    cues = run(profile(repeat="5"), steps)
    by_t = {s.t_s: s for s in steps}
    for c in cues:
        assert not math.isnan(by_t[c.t_s].cadence_spm), c
    # a window of only missing values never fires
    assert run(profile(repeat="5"), steps_from([math.nan] * 100)) == []


def test_missing_values_count_as_neither_error_nor_correction() -> None:
    # 6 out of band and 4 missing in every 10: never 7 of 10 out of band
    cads = ([150.0] * 6 + [math.nan] * 4) * 20
    assert corrective(run(profile(), steps_from(cads))) == []


# ------------------------------------------------------------------ descent moments
def test_recall_on_entering_a_descent_and_a_summary_at_its_end() -> None:
    prof = profile(enter='"quick, light feet"', summary="true")
    flat = steps_from([170.0] * 40, descent=False)
    down = steps_from([172.0] * 60, t0=20.0)
    after = steps_from([170.0] * 10, descent=False, t0=50.0)
    cues = run(prof, flat + down + after)
    assert [(c.t_s, c.rule, c.phrase) for c in cues] == [
        (20.0, "descent.enter", "quick, light feet"),
        (50.0, "descent.summary", "descent done: cadence 172"),
    ]
    after_short = steps_from([170.0] * 10, descent=False, t0=25.0)
    short = run(prof, flat + steps_from([172.0] * 10, t0=20.0) + after_short)
    assert [c.rule for c in short] == ["descent.enter"]  # 5 s: shorter than summary_min_s


def test_summary_says_impact_against_the_flat_baseline() -> None:
    prof = profile(summary="true", thr="baseline-3%")
    flat = [Step(i * DT_S, 170.0, 5.0, 0.0, False) for i in range(100)]
    down = [Step(50.0 + i * DT_S, 172.0, 5.6, -8.0, True) for i in range(60)]
    after = [Step(80.0 + i * DT_S, 170.0, 5.0, 0.0, False) for i in range(4)]
    cues = run(prof, flat + down + after, Prior())
    assert cues[-1].phrase == "descent done: cadence 172, impact up 12 percent"


# ------------------------------------------------------------------ history: baselines, fading
def test_a_stored_baseline_coaches_a_run_that_starts_downhill() -> None:
    prof = profile(thr="baseline-3%")
    down = steps_from([150.0] * 60)
    assert run(prof, down) == []  # no flat running: no baseline, relative rules wait
    prior = Prior(baselines={"flat": {"cadence_spm": 170.0}})
    cues = run(prof, down, prior)
    assert [c.rule for c in cues] == ["slow"]
    assert cues[0].t_s == pytest.approx(9 * DT_S)  # on the first full window


def test_fading_thins_reminders_and_the_cap() -> None:
    cads = [150.0] * int(300 / DT_S)
    full = corrective(run(profile(repeat="10"), steps_from(cads)))
    faded = corrective(run(profile(repeat="10"), steps_from(cads), Prior(fade_level=2)))
    assert len(full) == 5  # 4.5, 14.5, 34.5, 74.5, 154.5 (+160 is past the end)
    assert [b.t_s - a.t_s for a, b in itertools.pairwise(faded)] == pytest.approx(
        [40, 80, 160], abs=DT_S
    )  # intervals x 2**2
    capped = corrective(run(profile(cap=4, repeat="5"), steps_from(cads), Prior(fade_level=2)))
    assert len(capped) == 1  # 4 / 2**2
    # the first cue of an error is never faded away
    assert faded[0].t_s == full[0].t_s


# ------------------------------------------------------------------ profile keys
@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            "rules:\n  a: {metric: peak_g, above: 1, phrases: [x], min_share: 2}\n",
            "p.yaml:2: rules.a.min_share",
        ),
        (
            "rules:\n  a: {metric: peak_g, above: 1, phrases: [x], repeat_backoff: 0.5}\n",
            "rules.a.repeat_backoff",
        ),
        (
            "descent:\n  max_cues: 0\nrules:\n  a: {metric: peak_g, above: 1, phrases: [x]}\n",
            "p.yaml:2: descent.max_cues",
        ),
        (
            "descent:\n  summary: 1\nrules:\n  a: {metric: peak_g, above: 1, phrases: [x]}\n",
            "p.yaml:2: descent.summary: must be true or false",
        ),
        (
            "fade:\n  hold_shar: 1\nrules:\n  a: {metric: peak_g, above: 1, phrases: [x]}\n",
            "p.yaml:2: fade.hold_shar: unknown key",
        ),
    ],
)
def test_new_profile_keys_give_line_numbered_errors(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_cue_profile(text, "p.yaml")
    assert where in str(info.value)
