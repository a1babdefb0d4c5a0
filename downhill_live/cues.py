"""Rules engine: turns the stream of steps into cues, deterministically.

Per rule the engine keeps a window of the last ``window_steps`` metric values seen while its gate
(``when``) holds, and an *armed* flag. A rule fires when it is armed and the window mean crosses the
threshold; it then disarms and re-arms once the mean is back past the threshold by ``hysteresis``
(its ``praise`` phrase is then spoken, if it has one), or silently when its gate closes.
A rule that stays in violation repeats after ``repeat_s`` when set. Cooldown per rule, a global
cap on cues per minute and a quiet period at the start apply to everything; when several rules
fire on one step the highest priority goes first. Time is sensor time only.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from downhill_live.config.cue_profile import CueProfile, Rule
from downhill_live.types import Cue, Step


@dataclass
class _RuleState:
    rule: Rule
    window: deque[float]
    armed: bool = True
    last_fired_s: float = -math.inf
    phrase_index: int = 0


@dataclass
class Baseline:
    """The runner's flat-ground baseline per metric: median over flat steps in the first
    ``duration_s`` seconds of flat running (None until learned)."""

    duration_s: float
    values: dict[str, list[float]] = field(default_factory=dict)
    flat_time_s: float = 0.0
    last_t_s: float | None = None
    learned: dict[str, float] = field(default_factory=dict)
    done: bool = False

    def update(self, step: Step, metrics: tuple[str, ...]) -> None:
        if self.done:
            return
        flat = not step.on_descent and (math.isnan(step.grade_pct) or abs(step.grade_pct) < 3.0)
        if flat and self.last_t_s is not None:
            self.flat_time_s += min(step.t_s - self.last_t_s, 2.0)
        self.last_t_s = step.t_s
        if not flat:
            return
        for m in metrics:
            v = getattr(step, m)
            if not math.isnan(v):
                self.values.setdefault(m, []).append(v)
        if self.flat_time_s >= self.duration_s:
            self.learned = {m: float(np.median(v)) for m, v in self.values.items() if len(v) >= 8}
            self.done = True

    def get(self, metric: str) -> float | None:
        return self.learned.get(metric)


class CueEngine:
    """Evaluate a :class:`CueProfile` over steps.

    Examples
    --------
    >>> from downhill_live.config.cue_profile import parse_cue_profile
    >>> prof = parse_cue_profile('''
    ... settings: {quiet_start_s: 0}
    ... rules:
    ...   slow: {metric: cadence_spm, below: 160, window_steps: 1, phrases: [quicker]}
    ... ''', "demo.yaml")
    >>> eng = CueEngine(prof)
    >>> eng.update(Step(1.0, 170.0, 3.0, 0.0, False))
    []
    >>> [c.phrase for c in eng.update(Step(2.0, 150.0, 3.0, 0.0, False))]
    ['quicker']
    >>> eng.update(Step(3.0, 150.0, 3.0, 0.0, False))  # still below: fires once, not every step
    []
    """

    def __init__(self, profile: CueProfile) -> None:
        self.profile = profile
        self._states = [_RuleState(r, deque(maxlen=r.window_steps)) for r in profile.rules]
        metrics = tuple(sorted({r.metric for r in profile.rules if r.threshold.relative}))
        self._baseline_metrics = metrics
        self.baseline = Baseline(profile.settings.baseline_s)
        self._first_t_s: float | None = None
        self._recent: deque[float] = deque()
        self.cues_: list[Cue] = []
        self.suppressed_ = 0

    def _gate(self, rule: Rule, step: Step) -> bool:
        if rule.when == "descent":
            return step.on_descent
        if rule.when == "flat":
            return not step.on_descent
        return True

    def _allowed(self, t_s: float) -> bool:
        s = self.profile.settings
        if self._first_t_s is None or t_s - self._first_t_s < s.quiet_start_s:
            return False
        while self._recent and t_s - self._recent[0] >= 60.0:
            self._recent.popleft()
        return len(self._recent) < s.max_cues_per_min

    def update(self, step: Step) -> list[Cue]:
        """Feed one step; returns the cues to speak now, highest priority first."""
        if self._first_t_s is None:
            self._first_t_s = step.t_s
        if self._baseline_metrics:
            self.baseline.update(step, self._baseline_metrics)
        candidates: list[tuple[int, str, _RuleState, str, float]] = []
        for st in self._states:
            rule = st.rule
            if not self._gate(rule, step):
                # outside its gate a rule re-arms silently and its window starts afresh
                st.window.clear()
                st.armed = True
                continue
            value = getattr(step, rule.metric)
            if not math.isnan(value):
                st.window.append(value)
            threshold = rule.threshold.resolve(self.baseline.get(rule.metric))
            if threshold is None or len(st.window) < rule.window_steps:
                continue
            mean = sum(st.window) / len(st.window)
            below = rule.op == "below"
            violating = mean < threshold if below else mean > threshold
            if st.armed:
                if violating and step.t_s - st.last_fired_s >= rule.cooldown_s:
                    candidates.append((rule.priority, rule.name, st, "cue", mean))
            else:
                cleared = (
                    mean >= threshold + rule.hysteresis
                    if below
                    else mean <= threshold - rule.hysteresis
                )
                if cleared:
                    st.armed = True
                    if rule.praise:
                        candidates.append((rule.priority - 1, rule.name, st, "praise", mean))
                elif (
                    violating
                    and rule.repeat_s is not None
                    and step.t_s - st.last_fired_s >= max(rule.repeat_s, rule.cooldown_s)
                ):
                    candidates.append((rule.priority, rule.name, st, "cue", mean))
        candidates.sort(key=lambda c: (-c[0], c[1]))
        out: list[Cue] = []
        for priority, name, st, kind, mean in candidates:
            if not self._allowed(step.t_s):
                self.suppressed_ += 1
                continue
            rule = st.rule
            if kind == "cue":
                phrase = rule.phrases[st.phrase_index % len(rule.phrases)]
                st.phrase_index += 1
                st.armed = False
                st.last_fired_s = step.t_s
            else:
                phrase = rule.praise or ""
                name = f"{name}.praise"
            self._recent.append(step.t_s)
            cue = Cue(step.t_s, name, phrase, rule.metric, mean, priority)
            out.append(cue)
        self.cues_.extend(out)
        return out
