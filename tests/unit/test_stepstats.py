"""The streamed step statistics (downhill_live.stepstats) give the figures numpy gives on all
the steps kept: the session summary at its printed precision, the descent lines exactly."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.source import arrays
from downhill_live.stepstats import ExactSum, RoundedDistribution, StepStats
from downhill_live.tools.descents import descent_stats, known_median
from downhill_live.types import Step
from tests.conftest import RECORDINGS, ROOT


def exact_figures(steps: list[Step]) -> dict[str, Any]:
    """The step figures of the summary from all steps, with numpy (the summary's code before
    it was streamed)."""
    t = np.array([s.t_s for s in steps])
    cad = np.array([s.cadence_spm for s in steps])
    peak = np.array([s.peak_g for s in steps])
    desc = np.array([s.on_descent for s in steps], dtype=bool)

    def med(x: np.ndarray) -> float | None:
        m = known_median(x)
        return None if m is None else round(m, 1)

    dt = np.diff(t, prepend=t[:1]) if len(t) else t
    dt = np.minimum(dt, 2.0)
    pk = peak[~np.isnan(peak)]
    pct = {f"p{q}": round(float(np.percentile(pk, q)), 2) for q in (10, 50, 90)} if len(pk) else {}
    if len(pk):
        pct["max"] = round(float(pk.max()), 2)
    return {
        "steps": len(steps),
        "duration_s": round(float(t[-1] - t[0]), 1) if len(t) > 1 else 0.0,
        "cadence_flat_spm": med(cad[~desc]),
        "cadence_descent_spm": med(cad[desc]),
        "peak_g": pct,
        "peak_flat_g": med(peak[~desc]),
        "peak_descent_g": med(peak[desc]),
        # exactly summed, as the streamed sum is: a float sum in another order can land on
        # the other side of a rounding boundary (32.35 -> 32.3 or 32.4)
        "descent_time_s": round(math.fsum(dt[desc]), 1),
    }


RECORDED = [
    RECORDINGS / "descent_foot_200hz.dlr",
    RECORDINGS / "descent_shank_500hz.dlr",
    ROOT / "tests" / "data" / "format1_foot_60s.dlr",
]


def test_bundled_recordings_summary_and_descents_as_numpy_on_all_steps() -> None:
    n_descents = 0
    for path in RECORDED:
        kept, _ = arrays.replay_recording(str(path), None)
        streamed, _ = arrays.replay_recording(str(path), None, keep_steps=False)
        assert len(kept.steps) > 50 and streamed.steps == []
        assert kept.step_stats.summary_figures() == exact_figures(kept.steps), path
        assert streamed.summary() == kept.summary(), path
        want = descent_stats(kept.steps, kept.cues, profile=kept.cue_profile)
        assert kept.descents() == want and streamed.descents() == want, path
        n_descents += len(want)
    assert n_descents >= 1  # the foot recording has its descent (with cues on it)


def _steps(draw: Any) -> list[Step]:
    """Steps with values on a grid of rounding boundaries (ties, x.x5, x.xx5), nan, runs of
    descent and flat, short flat stretches (the baseline may never be learned)."""
    n = draw(st.integers(0, 120))
    grid = st.one_of(
        st.integers(300, 360).map(lambda k: k * 0.5),
        st.integers(1000, 1040).map(lambda k: k * 0.005),
        st.floats(100.0, 200.0),
        st.just(math.nan),
    )
    peaks = st.one_of(
        st.integers(400, 460).map(lambda k: k * 0.005),
        st.floats(2.0, 9.0),
        st.just(math.nan),
    )
    out, t, descent = [], 0.0, False
    for _ in range(n):
        t += draw(st.sampled_from([0.3, 0.35, 0.5, 2.5]))
        if draw(st.integers(0, 9)) == 0:
            descent = not descent
        grade = draw(st.sampled_from([math.nan, 0.0, -1.0, -8.0, 4.0]))
        out.append(Step(t, draw(grid), draw(peaks), grade, descent))
    return out


@settings(max_examples=150, deadline=None)
@given(st.data(), st.sampled_from([5.0, 10.0, 45.0]))
def test_generated_steps_as_numpy(data: Any, baseline_s: float) -> None:
    steps = _steps(data.draw)
    base = load_cue_profile()
    profile = dataclasses.replace(
        base, settings=dataclasses.replace(base.settings, baseline_s=baseline_s)
    )
    stats = StepStats(profile)
    for i, s in enumerate(steps):
        stats.add(s)
        if i == len(steps) // 2:  # asked midway: nothing changes for what follows
            assert stats.descents([]) == descent_stats(steps[: i + 1], [], profile=profile)
    if steps:
        assert stats.summary_figures() == exact_figures(steps)
    assert stats.descents([]) == descent_stats(steps, [], profile=profile)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(-40, 40).map(lambda k: k * 0.005),
            st.integers(-40, 40).map(lambda k: k * 0.05),
            st.floats(-1e3, 1e3),
            st.just(math.nan),
        ),
        max_size=60,
    ),
    st.integers(0, 2),
)
def test_rounded_distribution_is_numpy_rounded(values: list[float], digits: int) -> None:
    d = RoundedDistribution(digits)
    for v in values:
        d.add(v)
    known = np.array([v for v in values if not math.isnan(v)])
    assert len(d) == len(known)
    if not len(known):
        assert d.median() is None and d.percentile(50) is None and d.max() is None
        return
    assert d.median() == round(float(np.median(known)), digits)
    for q in (0, 1, 10, 25, 50, 90, 99, 100):
        assert d.percentile(q) == round(float(np.percentile(known, q)), digits), q
    assert d.max() == round(float(known.max()), digits)


def test_exact_sum_is_fsum() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, 1000) * 10.0 ** rng.integers(-8, 8, 1000)
    s = ExactSum()
    for v in x:
        s.add(float(v))
    assert s.value() == math.fsum(x.tolist())


def test_memory_does_not_grow_with_the_run() -> None:
    """An hour of steps on a two-descent course: what is kept is the same size after 10 min
    as after 6 h (grouped per printed value, a descent's values only while it is open)."""

    def kept(stats: StepStats) -> int:
        dists = (stats.cadence_flat, stats.cadence_descent, stats.peak, stats.peak_flat)
        open_values = sum(d.cad.n for d in stats._descents if d.cad is not None)
        return sum(len(d._bins) for d in dists) + open_values

    rng = np.random.default_rng(2)
    stats = StepStats(load_cue_profile())
    sizes = []
    t = 0.0
    for minute in range(360):
        for _ in range(170):
            t += 60.0 / 170.0
            descent = (minute % 10) >= 6
            cad, peak = round(rng.normal(170.0, 3.0), 3), rng.normal(6.0, 1.0)
            stats.add(Step(t, cad, peak, -8.0 if descent else 0.0, descent))
        if minute in (9, 359):
            sizes.append(kept(stats))
    assert stats.n_steps == 360 * 170
    assert sizes[1] <= 1.5 * sizes[0], sizes
