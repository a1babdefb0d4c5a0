"""Rules engine: turns the stream of steps into cues, deterministically (sensor time only).

The rules follow the motor-learning and gait-retraining evidence (bandwidth feedback, faded
feedback; Crowell & Davis 2011, Heiderscheit 2011): say nothing while the runner is within a
band, speak on a *persistent* error, remind with growing intervals while it persists, cap what
one descent gets, and praise only a correction that holds.

Per rule, while its gate (``when``) is open, the engine keeps the last ``window_steps`` values of
its metric (``nan`` included: a missing value counts neither as an error nor as a correction).

- **Persistent error**: at least ``min_share`` of the window is past the threshold. The first
  error step (window full, the current value known, ``cooldown_s`` since the rule's last cue)
  fires the cue and the rule enters its *error episode*.
- **Reminders**: while the episode lasts and the error persists, reminders
  (``RULE.reminder``) come ``repeat_s`` after the cue, then each interval ``repeat_backoff``
  times the last (20, 40, 80 s, ...); ``repeat_s: null`` switches them off.
- **Cap per descent**: cues and reminders said on one descent are at most
  ``descent.max_cues`` (all rules together); the fade level halves it (at least 1).
- **Praise** (``RULE.praise``): only inside an episode, only once ``min_share`` of the window has
  been back past the threshold by ``hysteresis`` for ``praise_hold_s`` without a break, with the
  gate open throughout and, for descent rules, the grade (when known) still at or below
  ``descent.threshold_pct`` (leaving a slope is not a correction). The episode then ends. When
  the gate closes, the episode ends silently and the window starts afresh.
- **Missing data**: a step whose metric is ``nan`` never fires, reminds or praises.
- **One moment, one count**: overstriding trips the cadence and the impact rule together.
  Cues of other rules less than ``settings.min_gap_s`` after a spoken cue belong to its moment:
  a first cue is said but not counted again against the cap; a reminder is merged (its
  schedule runs on silently). The highest priority goes first.
- A quiet period at the start and a global cap of cues per minute apply to all rule cues.

Descent moments (see :class:`DescentSettings`): ``descent.enter_phrase`` is said on the first
step of a descent (``descent.enter``), and when ``descent.summary`` is on, a summary
(``descent.summary``: median cadence, impact against the flat baseline) on the first step after
a descent of at least ``summary_min_s``. Neither counts against the caps.

With ``metronome.enabled``, ``descent.metronome`` cues switch a soft tick at
``metronome.target`` (e.g. ``baseline+5%``, rounded to 0.5 spm; value ``nan``: off) on at the
first step of a descent and off at its end; the speech worker plays it.

Across sessions (:class:`Prior`, from the runner history): stored flat baselines are used until
this session has learned its own, and the *fade level* ``L`` (consecutive recent sessions with at
least ``fade.hold_share`` of descent time in band, at most ``fade.max_level``) multiplies the
reminder intervals by ``2**L`` and divides the per-descent cap by ``2**L`` (at least 1 cue).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from downhill_live.config.cue_profile import CueProfile, Prior, Rule
from downhill_live.types import Cue, Step

#: step intervals longer than this count as this long (pauses), as in the replay summary
MAX_STEP_DT_S = 2.0


#: a rule's gate (:attr:`_RuleState.gate`): always open, open on descents, open on the flat
_ALWAYS, _DESCENT, _FLAT = 0, 1, 2
_GATES = {"always": _ALWAYS, "descent": _DESCENT, "flat": _FLAT}


@dataclass
class _RuleState:
    rule: Rule
    window: deque[float]
    gate: int = _ALWAYS
    in_episode: bool = False
    last_fired_s: float = -math.inf
    next_remind_s: float = math.inf
    interval_s: float = math.inf
    cleared_since_s: float | None = None
    phrase_index: int = 0
    error_now: bool = False


@dataclass
class Baseline:
    """The runner's flat-ground baseline per metric: median over flat steps in the first
    ``duration_s`` seconds of flat running; until then the ``prior`` (from the runner history),
    if any."""

    duration_s: float
    values: dict[str, list[float]] = field(default_factory=dict)
    flat_time_s: float = 0.0
    last_t_s: float | None = None
    learned: dict[str, float] = field(default_factory=dict)
    done: bool = False
    prior: dict[str, float] = field(default_factory=dict)

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
        if metric in self.learned:
            return self.learned[metric]
        return self.prior.get(metric)


@dataclass
class DescentRecord:
    """One descent as the engine saw it (for the summary and the runner history)."""

    start_t_s: float
    end_t_s: float = math.nan
    time_s: float = 0.0
    in_band_s: float = 0.0
    cues: int = 0
    grades: list[float] = field(default_factory=list)
    cadences: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.end_t_s - self.start_t_s

    @property
    def grade_pct(self) -> float:
        return _median(self.grades)

    @property
    def cadence_spm(self) -> float:
        return _median(self.cadences)

    @property
    def peak_g(self) -> float:
        return _median(self.peaks)

    @property
    def in_band_share(self) -> float:
        return self.in_band_s / self.time_s if self.time_s > 0 else math.nan


def _median(x: list[float]) -> float:
    return float(np.median(x)) if x else math.nan


def summary_phrase(
    record: DescentRecord, flat_cadence: float | None, flat_peak: float | None
) -> str:
    """What is said at the end of a descent.

    >>> r = DescentRecord(0.0, 60.0, cadences=[171.6, 172.4], peaks=[5.0, 5.56])
    >>> summary_phrase(r, 170.0, 6.0)
    'descent done: cadence 172, impact down 12 percent'
    >>> summary_phrase(r, None, None)
    'descent done: cadence 172'
    """
    parts = ["descent done"]
    cad = record.cadence_spm
    if not math.isnan(cad):
        parts.append(f"cadence {cad:.0f}")
    peak = record.peak_g
    if flat_peak and not math.isnan(peak):
        pct = round(100.0 * (peak / flat_peak - 1.0))
        parts.append(
            "impact as on the flat"
            if pct == 0
            else f"impact {'up' if pct > 0 else 'down'} {abs(pct)} percent"
        )
    return parts[0] + (": " + ", ".join(parts[1:]) if len(parts) > 1 else "")


class CueEngine:
    """Evaluate a :class:`CueProfile` over steps (rule semantics: see the module docstring).

    Examples
    --------
    >>> from downhill_live.config.cue_profile import parse_cue_profile
    >>> prof = parse_cue_profile('''
    ... settings: {quiet_start_s: 0}
    ... rules:
    ...   slow: {metric: cadence_spm, below: 160, window_steps: 1, repeat_s: 5, phrases: [quicker]}
    ... ''', "demo.yaml")
    >>> eng = CueEngine(prof)
    >>> eng.update(Step(1.0, 170.0, 3.0, 0.0, False))
    []
    >>> [c.phrase for c in eng.update(Step(2.0, 150.0, 3.0, 0.0, False))]
    ['quicker']
    >>> eng.update(Step(3.0, 150.0, 3.0, 0.0, False))  # still below: no cue on every step...
    []
    >>> [c.rule for c in eng.update(Step(7.0, 150.0, 3.0, 0.0, False))]  # ...a reminder after 5 s
    ['slow.reminder']
    """

    def __init__(self, profile: CueProfile, prior: Prior | None = None) -> None:
        self.profile = profile
        self.prior = profile.prior if prior is None else prior
        self._states = [
            _RuleState(r, deque(maxlen=r.window_steps), _GATES.get(r.when, _ALWAYS))
            for r in profile.rules
        ]
        # relative rules need their metrics' baselines; the summary and the history need
        # cadence and impact against the flat in any case
        relative = {r.metric for r in profile.rules if r.threshold.relative}
        metrics = tuple(sorted(relative | {"cadence_spm", "peak_g"}))
        self._baseline_metrics = metrics
        seed = self.prior.baselines.get("flat", {}) if profile.history.baselines else {}
        self.baseline = Baseline(profile.settings.baseline_s, prior=dict(seed))
        level = min(self.prior.fade_level, profile.fade.max_level) if profile.fade.enabled else 0
        self.fade_level = max(0, level)
        self.max_cues_per_descent = max(1, profile.descent.max_cues >> self.fade_level)
        self._first_t_s: float | None = None
        self._last_t_s: float | None = None
        self._recent: deque[float] = deque()
        # (time, rule) of the last corrective cue said
        self._last_corrective: tuple[float, str] = (-math.inf, "")
        self._descent: DescentRecord | None = None
        self.descents_: list[DescentRecord] = []
        self.cues_: list[Cue] = []
        self.suppressed_ = 0
        #: whether any rule was in persistent error on the last step (tune, history)
        self.violating_ = False

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

    def _moment(self, t_s: float, name: str, phrase: str, value: float) -> Cue:
        return Cue(t_s, name, phrase, "descent", value, 10)

    def _end_descent(self, t_s: float) -> list[Cue]:
        rec = self._descent
        self._descent = None
        if rec is None:
            return []
        rec.end_t_s = t_s
        self.descents_.append(rec)
        out: list[Cue] = []
        if any(c.rule == "descent.metronome" and c.t_s == rec.start_t_s for c in self.cues_):
            mt = self.profile.metronome
            out.append(
                Cue(t_s, "descent.metronome", "", "cadence_spm", math.nan, 0, {"volume": mt.volume})
            )
        d = self.profile.descent
        if d.summary and rec.duration_s >= d.summary_min_s:
            phrase = summary_phrase(
                rec, self.baseline.get("cadence_spm"), self.baseline.get("peak_g")
            )
            out.append(self._moment(t_s, "descent.summary", phrase, rec.duration_s))
        return out

    def finish(self) -> list[Cue]:
        """End of the session: closes a descent still open (its summary, if any, at the last
        step's time)."""
        if self._descent is None or self._last_t_s is None:
            return []
        out = self._end_descent(self._last_t_s)
        self.cues_.extend(out)
        return out

    def update(self, step: Step) -> list[Cue]:
        """Feed one step; returns the cues to speak now, highest priority first."""
        # the live path calls this for every step, with the caches cold: the common step (no
        # rule fires, no descent starts or ends) takes as few lookups as it can
        t = step.t_s
        last = self._last_t_s
        dt = 0.0 if last is None else min(max(t - last, 0.0), MAX_STEP_DT_S)
        if self._first_t_s is None:
            self._first_t_s = t
        self._last_t_s = t
        baseline = self.baseline
        if not baseline.done:  # (done: update() does nothing)
            baseline.update(step, self._baseline_metrics)
        on_descent = step.on_descent
        desc = self._descent
        moments: list[Cue] = []
        if on_descent and desc is None:
            desc = self._descent = DescentRecord(t)
            mt = self.profile.metronome
            target = mt.target.resolve(baseline.get("cadence_spm")) if mt.enabled else None
            if target is not None:
                spm = round(target * 2.0) / 2.0  # to 0.5 spm
                moments.append(
                    Cue(t, "descent.metronome", "", "cadence_spm", spm, 0, {"volume": mt.volume})
                )
            if self.profile.descent.enter_phrase:
                moments.append(
                    self._moment(
                        t, "descent.enter", self.profile.descent.enter_phrase, step.grade_pct
                    )
                )
        elif not on_descent and desc is not None:
            moments += self._end_descent(t)
            desc = self._descent
        candidates: list[tuple[int, str, _RuleState, str, float]] = []
        any_error = False
        for st in self._states:
            gate = st.gate
            if gate and (not on_descent if gate == _DESCENT else on_descent):
                # outside its gate a rule's episode ends silently and its window starts afresh
                # (as _rule_step does)
                st.error_now = False
                if st.window:
                    st.window.clear()
                st.in_episode = False
                st.cleared_since_s = None
                continue
            kind, mean = self._rule_step(st, step)
            any_error |= st.error_now
            if kind:
                candidates.append(
                    (st.rule.priority - (kind == "praise"), st.rule.name, st, kind, mean)
                )
        self.violating_ = any_error
        if desc is not None:
            desc.time_s += dt
            if not any_error:
                desc.in_band_s += dt
            for v, xs in (
                (step.grade_pct, desc.grades),
                (step.cadence_spm, desc.cadences),
                (step.peak_g, desc.peaks),
            ):
                if not math.isnan(v):
                    xs.append(v)
        if not candidates:
            if moments:
                self.cues_.extend(moments)
            return moments
        return self._speak(t, desc, moments, candidates)

    def _speak(
        self,
        t: float,
        desc: DescentRecord | None,
        out: list[Cue],
        candidates: list[tuple[int, str, _RuleState, str, float]],
    ) -> list[Cue]:
        """The cues of this step's candidates (after ``out``, the moments), by priority."""
        candidates.sort(key=lambda c: (-c[0], c[1]))
        gap_s = self.profile.settings.min_gap_s
        for priority, name, st, kind, mean in candidates:
            rule = st.rule
            corrective = kind != "praise"
            if corrective and desc is not None and desc.cues >= self.max_cues_per_descent:
                continue  # capped on this descent (the summary says the rest)
            last, by = self._last_corrective
            merged = corrective and t - last < gap_s and by != rule.name
            if not merged and not self._allowed(t):
                self.suppressed_ += 1
                continue
            if corrective:
                phrase = rule.phrases[st.phrase_index % len(rule.phrases)]
                st.phrase_index += 1
                st.last_fired_s = t
                if kind == "cue":
                    st.in_episode = True
                    st.cleared_since_s = None
                    st.interval_s = (rule.repeat_s or math.inf) * 2.0**self.fade_level
                else:
                    name = f"{name}.reminder"
                    st.interval_s *= rule.repeat_backoff
                st.next_remind_s = t + st.interval_s
                if merged and kind == "reminder":  # another rule has just reminded
                    continue
                if not merged:
                    self._last_corrective = (t, rule.name)
                    if desc is not None:  # cues of one moment count once
                        desc.cues += 1
            else:
                phrase = rule.praise or ""
                name = f"{name}.praise"
            self._recent.append(t)
            out.append(Cue(t, name, phrase, rule.metric, mean, priority))
        self.cues_.extend(out)
        return out

    def _rule_step(self, st: _RuleState, step: Step) -> tuple[str, float]:
        """Advance one rule by one step: ("cue" | "reminder" | "praise" | "", window mean)."""
        rule = st.rule
        st.error_now = False
        if not self._gate(rule, step):
            # outside its gate a rule's episode ends silently and its window starts afresh
            st.window.clear()
            st.in_episode = False
            st.cleared_since_s = None
            return "", math.nan
        value = getattr(step, rule.metric)
        st.window.append(value)
        threshold = rule.threshold.resolve(self.baseline.get(rule.metric))
        if threshold is None or len(st.window) < rule.window_steps:
            return "", math.nan
        below = rule.op == "below"
        n_out = n_clear = 0
        total = 0.0
        n_valid = 0
        for v in st.window:
            if v != v:  # nan: neither error nor correction
                continue
            n_valid += 1
            total += v
            if v < threshold if below else v > threshold:
                n_out += 1
            elif v >= threshold + rule.hysteresis if below else v <= threshold - rule.hysteresis:
                n_clear += 1
        need = rule.min_share * rule.window_steps - 1e-9
        st.error_now = n_out >= need
        if math.isnan(value):
            return "", math.nan  # missing data never fires, reminds or praises
        mean = total / n_valid
        t = step.t_s
        if not st.in_episode:
            if st.error_now and t - st.last_fired_s >= rule.cooldown_s:
                return "cue", mean
            return "", mean
        on_slope = (
            rule.when != "descent"
            or math.isnan(step.grade_pct)
            or step.grade_pct <= self.profile.descent.threshold_pct
        )
        if n_clear >= need and on_slope:
            if st.cleared_since_s is None:
                st.cleared_since_s = t
            if t - st.cleared_since_s >= rule.praise_hold_s:
                st.in_episode = False
                st.cleared_since_s = None
                return ("praise" if rule.praise else ""), mean
            return "", mean
        st.cleared_since_s = None
        if st.error_now and t >= st.next_remind_s:
            return "reminder", mean
        return "", mean
