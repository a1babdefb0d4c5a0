"""Per-descent statistics of a run: what happened on each descent, against the runner's flat
running.

A *descent* is a run of consecutive steps the gait core marked ``on_descent``. It starts at its
first step and ends at the first step after it (the moment the core saw it end), or at the last
step when the run ends on a descent. Cues belong to the descent when ``t_start_s <= t_s <
t_end_s`` (``<=`` for a descent that ends the run).

The *flat baseline* is what the cue engine compares against: the median over the flat steps of
the first ``baseline_s`` seconds of flat running (:class:`downhill_live.cues.Baseline`, the
cue profile's ``settings.baseline_s``, 45 s by default). When the run has less flat running than
that, the median over all its flat steps is used instead, and :attr:`FlatBaseline.source` says so.

Used by the report (``downhill_live.tools.report``); the replay summary may use it too.

Examples
--------
>>> from downhill_live.types import Step
>>> steps = [Step(float(t), 170.0, 5.0, 0.0, False) for t in range(60)]          # 60 s flat
>>> steps += [Step(60.0 + t, 160.0 if t < 10 else 170.0, 6.0, -10.0, True) for t in range(20)]
>>> steps += [Step(80.0 + t, 170.0, 5.0, 0.0, False) for t in range(10)]
>>> (d,) = descent_stats(steps, [])
>>> d.start, d.end, d.duration, d.steps, d.grade_mean_pct
('1:00', '1:20', '0:20', 20, -10.0)
>>> d.cadence_median_spm, round(d.cadence_vs_flat_pct, 1), round(d.peak_vs_flat_pct, 1)
(165.0, -2.9, 20.0)
>>> d.flat.source
'first 45 s of flat running'
>>> d.cadence_below_share is None  # no cue profile given: no rule threshold to count against
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from downhill_live.config.cue_profile import CueProfile
from downhill_live.cues import Baseline
from downhill_live.types import Cue, Step

__all__ = [
    "DescentStats",
    "FlatBaseline",
    "descent_figures",
    "descent_stats",
    "flat_baseline",
    "known_median",
    "mmss",
    "rule_threshold",
]


def mmss(t_s: float, decimals: int = 0) -> str:
    """Seconds as ``m:ss`` (``h:mm:ss`` from one hour on), ``decimals`` digits of the seconds.

    >>> mmss(0.0), mmss(85.7), mmss(85.74, 1), mmss(3725.0), mmss(-5.0)
    ('0:00', '1:26', '1:25.7', '1:02:05', '-0:05')
    >>> mmss(float("nan"))
    'n/a'
    """
    if not math.isfinite(t_s):
        return "n/a"
    sign = "-" if t_s < 0 else ""
    scale = 10**decimals
    total = round(abs(t_s) * scale)  # rounded once, so 59.96 s is 1:00.0, never 0:60.0
    whole, frac = divmod(total, scale)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    sec = f"{s:02d}" + (f".{frac:0{decimals}d}" if decimals else "")
    return f"{sign}{h}:{m:02d}:{sec}" if h else f"{sign}{m}:{sec}"


@dataclass(frozen=True)
class FlatBaseline:
    """The runner's flat-running reference: median cadence (spm) and peak impact (g), None when
    unknown, and where it came from (``source``)."""

    cadence_spm: float | None
    peak_g: float | None
    source: str


def known_median(v: np.ndarray) -> float | None:
    """Median of the known (not nan) values, None when there are none (also used by the
    session summary, so that its flat and descent medians are these)."""
    v = v[~np.isnan(v)]
    return float(np.median(v)) if len(v) else None


def flat_baseline(steps: Sequence[Step], baseline_s: float = 45.0) -> FlatBaseline:
    """The flat baseline (see the module docstring) of ``steps``."""
    b = Baseline(baseline_s)
    for s in steps:
        b.update(s, ("cadence_spm", "peak_g"))
        if b.done:
            break
    if b.done and b.learned:
        return FlatBaseline(
            b.get("cadence_spm"), b.get("peak_g"), f"first {baseline_s:g} s of flat running"
        )
    flat = [s for s in steps if not s.on_descent]
    if not flat:
        return FlatBaseline(None, None, "no flat running")
    return FlatBaseline(
        known_median(np.array([s.cadence_spm for s in flat], dtype=np.float64)),
        known_median(np.array([s.peak_g for s in flat], dtype=np.float64)),
        "all flat steps",
    )


def _vs(value: float | None, ref: float | None) -> float | None:
    """``value`` against ``ref`` in percent (+ above)."""
    if value is None or ref is None or ref == 0:
        return None
    return 100.0 * (value / ref - 1.0)


@dataclass(frozen=True)
class DescentStats:
    """What happened on one descent (numbered from 1). Medians and means skip unknown values;
    None where nothing is known. ``*_vs_flat_pct`` are against :attr:`flat` (+ is above).
    ``cadence_below_share`` is the share (0..1) of the descent's steps with a known cadence that
    are below ``cadence_threshold_spm``, the cue profile's cadence rule threshold (None without
    a profile, a ``below`` rule on ``cadence_spm`` or a learned baseline); ``peak_above_share``
    likewise for the impact rule (``above`` on ``peak_g``). ``distance_m`` is known only when the
    steps carry a ``distance_m`` (no sensor source gives one yet)."""

    number: int
    t_start_s: float
    t_end_s: float
    steps: int
    grade_mean_pct: float | None
    cadence_median_spm: float | None
    cadence_vs_flat_pct: float | None
    cadence_threshold_spm: float | None
    cadence_below_share: float | None
    peak_median_g: float | None
    peak_vs_flat_pct: float | None
    peak_threshold_g: float | None
    peak_above_share: float | None
    cues: tuple[Cue, ...]
    flat: FlatBaseline
    distance_m: float | None = None

    @property
    def duration_s(self) -> float:
        return self.t_end_s - self.t_start_s

    @property
    def start(self) -> str:
        return mmss(self.t_start_s)

    @property
    def end(self) -> str:
        return mmss(self.t_end_s)

    @property
    def duration(self) -> str:
        return mmss(self.duration_s)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (cues as ``[t_s, rule, phrase]``, floats rounded)."""

        def r(v: float | None, n: int = 1) -> float | None:
            return None if v is None else round(v, n)

        return {
            "number": self.number,
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
            "t_start_s": r(self.t_start_s, 2),
            "t_end_s": r(self.t_end_s, 2),
            "duration_s": r(self.duration_s, 1),
            "distance_m": r(self.distance_m, 0),
            "steps": self.steps,
            "grade_mean_pct": r(self.grade_mean_pct),
            "cadence_median_spm": r(self.cadence_median_spm),
            "cadence_vs_flat_pct": r(self.cadence_vs_flat_pct),
            "cadence_threshold_spm": r(self.cadence_threshold_spm),
            "cadence_below_share": r(self.cadence_below_share, 3),
            "peak_median_g": r(self.peak_median_g, 2),
            "peak_vs_flat_pct": r(self.peak_vs_flat_pct),
            "peak_threshold_g": r(self.peak_threshold_g, 2),
            "peak_above_share": r(self.peak_above_share, 3),
            "cues": [[r(c.t_s, 2), c.rule, c.phrase] for c in self.cues],
        }


def rule_threshold(
    profile: CueProfile | None, metric: str, op: str, baseline: float | None
) -> float | None:
    """The threshold of ``profile``'s first ``op`` (``"below"``/``"above"``) rule on ``metric``,
    resolved against ``baseline`` (None: no such rule, or a relative one without a baseline)."""
    if profile is None:
        return None
    for rule in profile.rules:
        if rule.metric == metric and rule.op == op:
            return rule.threshold.resolve(baseline)
    return None


def _distance(step: Step) -> float:
    return float(getattr(step, "distance_m", math.nan))


def descent_figures(
    cadence_spm: np.ndarray,
    peak_g: np.ndarray,
    grade_pct: np.ndarray,
    *,
    profile: CueProfile | None,
    baseline: FlatBaseline,
    number: int,
    t_start_s: float,
    t_end_s: float,
    distance_m: float,
    cues: tuple[Cue, ...] = (),
) -> DescentStats:
    """The :class:`DescentStats` of one descent from its steps' values (nan: unknown), against
    ``baseline`` and ``profile``'s rule thresholds: the one computation :func:`descent_stats`
    (all steps at hand) and :class:`~downhill_live.stepstats.StepStats` (streamed) share.
    ``distance_m`` (end minus start) is kept when finite."""
    cad_thr = rule_threshold(profile, "cadence_spm", "below", baseline.cadence_spm)
    peak_thr = rule_threshold(profile, "peak_g", "above", baseline.peak_g)
    known_cad = cadence_spm[~np.isnan(cadence_spm)]
    known_peak = peak_g[~np.isnan(peak_g)]
    cad_med, peak_med = known_median(cadence_spm), known_median(peak_g)
    g = grade_pct[~np.isnan(grade_pct)]
    return DescentStats(
        number=number,
        t_start_s=t_start_s,
        t_end_s=t_end_s,
        steps=len(cadence_spm),
        grade_mean_pct=float(g.mean()) if len(g) else None,
        cadence_median_spm=cad_med,
        cadence_vs_flat_pct=_vs(cad_med, baseline.cadence_spm),
        cadence_threshold_spm=cad_thr,
        cadence_below_share=(
            float(np.mean(known_cad < cad_thr)) if cad_thr is not None and len(known_cad) else None
        ),
        peak_median_g=peak_med,
        peak_vs_flat_pct=_vs(peak_med, baseline.peak_g),
        peak_threshold_g=peak_thr,
        peak_above_share=(
            float(np.mean(known_peak > peak_thr))
            if peak_thr is not None and len(known_peak)
            else None
        ),
        cues=cues,
        flat=baseline,
        distance_m=distance_m if math.isfinite(distance_m) else None,
    )


def descent_stats(
    steps: Sequence[Step],
    cues: Sequence[Cue],
    *,
    profile: CueProfile | None = None,
    baseline: FlatBaseline | None = None,
) -> list[DescentStats]:
    """One :class:`DescentStats` per descent in ``steps`` (in time order), with the ``cues``
    said on it. ``profile`` gives the baseline duration and the rule thresholds; ``baseline``
    overrides the flat baseline computed from ``steps``."""
    if baseline is None:
        baseline_s = profile.settings.baseline_s if profile is not None else 45.0
        baseline = flat_baseline(steps, baseline_s)
    desc = np.array([s.on_descent for s in steps], dtype=bool)
    if not desc.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate(([False], desc, [False])).astype(np.int8)))
    out = []
    for number, (a, b) in enumerate(zip(edges[::2], edges[1::2], strict=True), start=1):
        run = steps[a:b]
        last = b == len(steps)
        t0, t1 = steps[a].t_s, steps[b].t_s if not last else steps[-1].t_s
        d0, d1 = _distance(steps[a]), _distance(steps[b] if not last else steps[-1])
        out.append(
            descent_figures(
                np.array([s.cadence_spm for s in run], dtype=np.float64),
                np.array([s.peak_g for s in run], dtype=np.float64),
                np.array([s.grade_pct for s in run], dtype=np.float64),
                profile=profile,
                baseline=baseline,
                number=number,
                t_start_s=t0,
                t_end_s=t1,
                distance_m=d1 - d0,
                cues=tuple(c for c in cues if t0 <= c.t_s < t1 or (last and t0 <= c.t_s <= t1)),
            )
        )
    return out
