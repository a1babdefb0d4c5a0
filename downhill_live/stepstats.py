"""Streaming statistics of a session's steps: what the end-of-session summary and the
per-descent lines print, without keeping every step.

A session of 6 hours has ~30 000 steps; keeping them all (``Session.steps``) costs memory that
grows with the run. :class:`StepStats` takes the steps one by one and keeps:

- for the summary's medians and percentiles, a :class:`RoundedDistribution` per figure: the
  count, smallest and largest value of the steps that round to each printed value (0.1 spm,
  0.01 g). Its memory grows with the number of distinct printed values (a few thousand at
  most), not with the run; the figures it gives are exactly ``round(numpy figure, digits)``
  (see the class notes for why);
- per descent, the values of its steps while it is open and until the flat baseline is known
  (then only its figures), so the descent lines are the exact figures of
  :func:`downhill_live.tools.descents.descent_stats`.

One exception is unbounded, and said here plainly: the descent lines compare against the
flat baseline, the median of the first ``baseline_s`` seconds of flat running; a run that never
has that much flat running uses the median of all its non-descent steps instead, so until the
baseline is learned the non-descent steps' cadence and peak are kept (16 bytes a step), as are
the values of the descents seen before it (24 bytes a step).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from downhill_live.config.cue_profile import CueProfile
from downhill_live.cues import Baseline
from downhill_live.tools.descents import (
    DescentStats,
    FlatBaseline,
    descent_figures,
    known_median,
)
from downhill_live.types import Cue, Step

__all__ = ["ExactSum", "RoundedDistribution", "StepStats"]


class RoundedDistribution:
    """Known (not nan) values, kept as ``[count, min, max]`` per rounded value
    (``round(v, digits)``).

    :meth:`percentile` and :meth:`median` give ``round(np.percentile(values, q), digits)``
    and ``round(np.median(values), digits)`` exactly: both are an order statistic or a
    linear interpolation between two neighbouring ones, ``a <= x <= b``. When ``a`` and ``b``
    round to the same value, so does ``x`` (rounding is monotonic). When they do not, ``a`` is
    the largest value of its group and ``b`` the smallest of the next, both kept exactly, and
    ``x`` is computed as numpy computes it.

    >>> d = RoundedDistribution(1)
    >>> for v in (3.0, 1.04, 1.06, float("nan"), 2.0):
    ...     d.add(v)
    >>> len(d), d.median(), d.percentile(90), d.max()
    (4, 1.5, 2.7, 3.0)
    """

    def __init__(self, digits: int) -> None:
        self.digits = digits
        self._bins: dict[float, list[float]] = {}
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def add(self, v: float) -> None:
        if v != v:  # nan: not known
            return
        key = round(v, self.digits)
        b = self._bins.get(key)
        if b is None:
            self._bins[key] = [1, v, v]
        else:
            b[0] += 1
            if v < b[1]:
                b[1] = v
            if v > b[2]:
                b[2] = v
        self._n += 1

    def _pair(self, i: int) -> tuple[float, float | None, float | None, float | None]:
        """Order statistics ``i`` and ``i + 1`` (0-based) as (rounded value of ``i``, exact
        value of ``i`` or None, exact value of ``i + 1`` or None, rounded value of ``i + 1``
        or None); exact when each is the last or first of its group."""
        seen = 0
        keys = sorted(self._bins)
        for j, key in enumerate(keys):
            count, _lo, hi = self._bins[key]
            if i < seen + count:
                if i + 1 < seen + count:  # both in this group
                    return key, None, None, key
                # i is the last of its group, i + 1 the first of the next
                if j + 1 == len(keys):
                    return key, hi, None, None
                nxt = self._bins[keys[j + 1]]
                return key, hi, nxt[1], keys[j + 1]
            seen += int(count)
        raise IndexError(i)

    def percentile(self, q: float) -> float | None:
        """``round(np.percentile(values, q), digits)`` (numpy's default, linear method);
        None without values."""
        n = self._n
        if not n:
            return None
        virtual = (n - 1) * float(np.true_divide(q, 100))
        if virtual >= n - 1:
            return self.max()
        i = math.floor(virtual)
        gamma = virtual - i
        key, a, b, key_b = self._pair(i)
        if gamma == 0.0 or key == key_b:
            return key
        assert a is not None and b is not None
        diff = b - a  # numpy's _lerp
        x = b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma
        return round(x, self.digits)

    def median(self) -> float | None:
        """``round(np.median(values), digits)``; None without values."""
        n = self._n
        if not n:
            return None
        if n % 2:
            return self._pair(n // 2)[0]
        key, a, b, key_b = self._pair(n // 2 - 1)
        if key == key_b:
            return key
        assert a is not None and b is not None
        return round((a + b) / 2, self.digits)

    def max(self) -> float | None:
        """``round(max(values), digits)``; None without values."""
        if not self._n:
            return None
        return round(self._bins[max(self._bins)][2], self.digits)


class ExactSum:
    """A float sum kept exactly (Shewchuk's partials, as :func:`math.fsum`), so the total
    does not depend on the order or grouping of the terms.

    >>> s = ExactSum()
    >>> for v in (0.1, 0.1, 0.1, 1e100, -1e100):
    ...     s.add(v)
    >>> s.value() == 0.30000000000000004
    True
    """

    def __init__(self) -> None:
        self._partials: list[float] = []

    def add(self, x: float) -> None:
        partials = self._partials
        i = 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        partials[i:] = [x]

    def value(self) -> float:
        return math.fsum(self._partials)


class _Values:
    """A growing float64 column (no Python object per value)."""

    def __init__(self) -> None:
        self.a = np.empty(64)
        self.n = 0

    def add(self, v: float) -> None:
        if self.n == len(self.a):
            self.a = np.concatenate([self.a, np.empty(len(self.a))])
        self.a[self.n] = v
        self.n += 1

    def view(self) -> np.ndarray:
        return self.a[: self.n]


@dataclass
class _Descent:
    """One descent: its values while they are needed, its figures once the baseline is."""

    t_start_s: float
    d_start_m: float
    t_end_s: float = math.nan
    d_end_m: float = math.nan
    last: bool = True  # still open (ends the run unless a flat step comes)
    steps: int = 0
    grade_mean_pct: float | None = None
    cad: _Values | None = None
    peak: _Values | None = None
    grade: _Values | None = None
    stats: DescentStats | None = None


class StepStats:
    """The figures of :meth:`downhill_live.session.Session.summary` and the per-descent
    statistics, from steps given one by one (see the module notes).

    Parameters
    ----------
    profile : CueProfile or None
        The cue profile in force (its ``baseline_s`` and rule thresholds, for the descents).
    """

    def __init__(self, profile: CueProfile | None = None) -> None:
        self.profile = profile
        self.n_steps = 0
        self.t_first_s = math.nan
        self.t_last_s = math.nan
        self.cadence_flat = RoundedDistribution(1)
        self.cadence_descent = RoundedDistribution(1)
        self.peak = RoundedDistribution(2)
        self.peak_flat = RoundedDistribution(1)
        self.peak_descent = RoundedDistribution(1)
        self._descent_time = ExactSum()
        baseline_s = profile.settings.baseline_s if profile is not None else 45.0
        self._baseline_s = baseline_s
        self._baseline = Baseline(baseline_s)
        self._fixed: FlatBaseline | None = None  # the baseline once learned
        self._flat_cad: _Values | None = _Values()  # the fallback's values, until learned
        self._flat_peak: _Values | None = _Values()
        self._descents: list[_Descent] = []
        self._open: _Descent | None = None

    def add(self, step: Step) -> None:
        """Take the next step (in time order)."""
        t = step.t_s
        if self.n_steps:
            dt = min(t - self.t_last_s, 2.0)
        else:
            self.t_first_s = t
            dt = 0.0
        self.n_steps += 1
        self.t_last_s = t
        cad, peak = step.cadence_spm, step.peak_g
        self.peak.add(peak)
        if step.on_descent:
            self._descent_time.add(dt)
            self.cadence_descent.add(cad)
            self.peak_descent.add(peak)
        else:
            self.cadence_flat.add(cad)
            self.peak_flat.add(peak)
        if step.on_descent or self._open is not None:  # (else it does nothing)
            self._add_descent_step(step)
        if self._fixed is None:
            self._learn(step)

    # ------------------------------------------------------------------ descents
    def _add_descent_step(self, step: Step) -> None:
        d = self._open
        if step.on_descent:
            if d is None:
                d = self._open = _Descent(step.t_s, _distance(step))
                d.cad, d.peak, d.grade = _Values(), _Values(), _Values()
                self._descents.append(d)
            assert d.cad is not None and d.peak is not None and d.grade is not None
            d.steps += 1
            d.cad.add(step.cadence_spm)
            d.peak.add(step.peak_g)
            d.grade.add(step.grade_pct)
            d.t_end_s, d.d_end_m = step.t_s, _distance(step)  # until a flat step ends it
        elif d is not None:  # the first step after a descent ends it
            d.t_end_s, d.d_end_m, d.last = step.t_s, _distance(step), False
            self._open = None
            if self._fixed is not None:
                self._finish(d, self._fixed)

    def _learn(self, step: Step) -> None:
        b = self._baseline
        b.update(step, ("cadence_spm", "peak_g"))
        if not step.on_descent and self._flat_cad is not None and self._flat_peak is not None:
            self._flat_cad.add(step.cadence_spm)
            self._flat_peak.add(step.peak_g)
        if b.done and b.learned:  # as flat_baseline(): fixed from here on
            self._fixed = FlatBaseline(
                b.get("cadence_spm"),
                b.get("peak_g"),
                f"first {self._baseline_s:g} s of flat running",
            )
            self._flat_cad = self._flat_peak = None
            for d in self._descents:
                if d.stats is None and d is not self._open:
                    self._finish(d, self._fixed)

    def flat_baseline(self) -> FlatBaseline:
        """:func:`downhill_live.tools.descents.flat_baseline` of the steps so far."""
        if self._fixed is not None:
            return self._fixed
        if self._flat_cad is None or self._flat_peak is None or not self._flat_cad.n:
            return FlatBaseline(None, None, "no flat running")
        return FlatBaseline(
            known_median(self._flat_cad.view()),
            known_median(self._flat_peak.view()),
            "all flat steps",
        )

    def _finish(self, d: _Descent, baseline: FlatBaseline, cues: Sequence[Cue] = ()) -> None:
        """The descent's figures (as descent_stats computes them); its values are dropped."""
        assert d.cad is not None and d.peak is not None and d.grade is not None
        d.stats = descent_figures(
            d.cad.view(),
            d.peak.view(),
            d.grade.view(),
            profile=self.profile,
            baseline=baseline,
            number=0,  # numbered when listed
            t_start_s=d.t_start_s,
            t_end_s=d.t_end_s,
            distance_m=d.d_end_m - d.d_start_m,
        )
        d.cad = d.peak = d.grade = None

    def descents(self, cues: Sequence[Cue]) -> list[DescentStats]:
        """:func:`downhill_live.tools.descents.descent_stats` of the steps so far with
        ``profile`` (the one given at construction) and the session's ``cues``."""
        baseline = self.flat_baseline()
        out = []
        for number, d in enumerate(self._descents, start=1):
            if d.stats is None or d.last:  # still open: computed afresh, values kept
                keep = d.cad, d.peak, d.grade
                self._finish(d, baseline)
                stats = d.stats
                d.cad, d.peak, d.grade = keep
                d.stats = None
            else:
                stats = d.stats
            assert stats is not None
            t0, t1, last = d.t_start_s, d.t_end_s, d.last
            said = tuple(c for c in cues if t0 <= c.t_s < t1 or (last and t0 <= c.t_s <= t1))
            out.append(_renumbered(stats, number, said))
        return out

    # ------------------------------------------------------------------ summary
    def summary_figures(self) -> dict[str, Any]:
        """The step figures of the session summary (see ``Session.summary``)."""
        pct: dict[str, float] = {}
        if len(self.peak):
            for q in (10, 50, 90):
                v = self.peak.percentile(q)
                assert v is not None
                pct[f"p{q}"] = v
            top = self.peak.max()
            assert top is not None
            pct["max"] = top
        n = self.n_steps
        return {
            "steps": n,
            "duration_s": round(self.t_last_s - self.t_first_s, 1) if n > 1 else 0.0,
            "cadence_flat_spm": self.cadence_flat.median(),
            "cadence_descent_spm": self.cadence_descent.median(),
            "peak_g": pct,
            "peak_flat_g": self.peak_flat.median(),
            "peak_descent_g": self.peak_descent.median(),
            "descent_time_s": round(self._descent_time.value(), 1),
        }


def _distance(step: Step) -> float:
    return float(getattr(step, "distance_m", math.nan))


def _renumbered(stats: DescentStats, number: int, cues: tuple[Cue, ...]) -> DescentStats:
    return dataclasses.replace(stats, number=number, cues=cues)
