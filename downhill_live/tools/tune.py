"""``downhill-live tune``: try cue-rule settings on recorded runs, and suggest thresholds.

Decoding and the gait core run once per recording (they do not depend on the rules, only on the
profile's ``descent`` section); every setting combination then re-runs only the
:class:`~downhill_live.cues.CueEngine` over the stored steps, so a grid of settings costs little
more than one replay.

Per setting the table shows cues per hour and the time spent *in violation on descents*: descent
time (step intervals, capped at 2 s as in the replay summary) during which at least one rule was in
persistent error, as the engine itself judges it (gate, window share, baseline), whether or not
a cue was allowed to fire. Cues per hour count corrective cues and reminders (not praise, not
the descent moments).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from downhill_live.config.cue_profile import CueProfile, Prior, Rule, Threshold
from downhill_live.cues import CueEngine
from downhill_live.errors import ConfigError
from downhill_live.source.arrays import replay_recording
from downhill_live.types import Cue, Step

#: fields ``--set RULE.FIELD=...`` can change, with what they take
RULE_FIELDS: dict[str, str] = {
    "threshold": "absolute threshold in metric units (alias: below / above)",
    "baseline_pct": "threshold relative to the flat baseline, in %",
    "baseline_offset": "threshold relative to the flat baseline, in metric units",
    "window_steps": "integer >= 1",
    "hysteresis": "number >= 0",
    "cooldown_s": "seconds >= 0",
    "repeat_s": "seconds >= 1 or 'none'",
    "priority": "integer 0-100",
    "min_share": "0.01-1: share of the window out of band that is an error",
    "repeat_backoff": "1-10: growth of the reminder intervals",
    "praise_hold_s": "seconds a correction must hold before praise",
}
SETTINGS_FIELDS: dict[str, str] = {
    "max_cues_per_min": "0.1-60",
    "quiet_start_s": "seconds >= 0",
    "baseline_s": "seconds >= 5",
}
_INT_FIELDS = {"window_steps", "priority"}
_BOUNDS: dict[str, tuple[float, float]] = {
    "window_steps": (1, 1000),
    "hysteresis": (0.0, math.inf),
    "cooldown_s": (0.0, math.inf),
    "repeat_s": (1.0, math.inf),
    "priority": (0, 100),
    "min_share": (0.01, 1.0),
    "repeat_backoff": (1.0, 10.0),
    "praise_hold_s": (0.0, 600.0),
    "max_cues_per_min": (0.1, 60.0),
    "quiet_start_s": (0.0, math.inf),
    "baseline_s": (5.0, math.inf),
}
#: step intervals longer than this count as this long (pauses, gaps), as in the summary
MAX_STEP_DT_S = 2.0
MAX_COMBINATIONS = 10_000


# ------------------------------------------------------------------------------ settings
@dataclass(frozen=True)
class SettingSpec:
    """One ``--set`` option: ``target`` is a rule name or ``"settings"``; ``values`` in order
    (``None`` only for ``repeat_s``)."""

    target: str
    field: str
    values: tuple[float | None, ...]

    @property
    def key(self) -> str:
        return f"{self.target}.{self.field}"


def _parse_number(text: str, spec: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ConfigError("--set", f"{text!r} is not a number", key=spec) from None
    if not math.isfinite(v):
        raise ConfigError("--set", f"{text!r} is not finite", key=spec)
    return v


def parse_values(text: str, spec: str = "") -> tuple[float | None, ...]:
    """``A..B:STEP`` (inclusive), ``A,B,C`` or ``A``; ``none`` stands for no value.

    Examples
    --------
    >>> parse_values("150..160:5")
    (150.0, 155.0, 160.0)
    >>> parse_values("4,6,none")
    (4.0, 6.0, None)
    """
    text = text.strip()
    if ".." in text:
        rng, _, step_txt = text.partition(":")
        a_txt, _, b_txt = rng.partition("..")
        if not step_txt:
            raise ConfigError("--set", f"range {text!r} needs a step: A..B:STEP", key=spec)
        a, b, step = (_parse_number(x, spec) for x in (a_txt, b_txt, step_txt))
        if step <= 0 or b < a:
            raise ConfigError("--set", f"range {text!r} needs A <= B and STEP > 0", key=spec)
        n = math.floor((b - a) / step + 1e-9) + 1
        if n > MAX_COMBINATIONS:
            raise ConfigError("--set", f"range {text!r} has {n} values", key=spec)
        return tuple(round(a + i * step, 10) for i in range(n))
    out: list[float | None] = []
    for part in text.split(","):
        part = part.strip()
        if part.lower() in ("none", "null"):
            out.append(None)
        else:
            out.append(_parse_number(part, spec))
    return tuple(out)


def parse_set(spec: str, profile: CueProfile) -> SettingSpec:
    """Parse ``RULE.FIELD=VALUES`` against ``profile``; unknown names list what exists."""
    lhs, eq, rhs = spec.partition("=")
    target, dot, fieldname = lhs.strip().partition(".")
    if not eq or not dot or not fieldname or not rhs.strip():
        raise ConfigError("--set", "expected RULE.FIELD=A..B:STEP, =A,B,C or =A", key=spec)
    rules = [r.name for r in profile.rules]
    if target == "settings":
        if fieldname not in SETTINGS_FIELDS:
            raise ConfigError(
                "--set",
                f"unknown settings field {fieldname!r}; tunable: {', '.join(SETTINGS_FIELDS)}",
                key=spec,
            )
    elif target == "descent":
        raise ConfigError(
            "--set",
            "descent settings change the gait core's output; tune them with separate "
            "profiles (--profile), not --set",
            key=spec,
        )
    elif target not in rules:
        raise ConfigError(
            "--set",
            f"unknown rule {target!r}; rules in {profile.path}: {', '.join(rules)} (or 'settings')",
            key=spec,
        )
    else:
        if fieldname in ("below", "above"):
            fieldname = "threshold"
        if fieldname not in RULE_FIELDS:
            raise ConfigError(
                "--set",
                f"unknown rule field {fieldname!r}; tunable: {', '.join(RULE_FIELDS)}, below, above",
                key=spec,
            )
    values = parse_values(rhs, spec)
    lo, hi = _BOUNDS.get(fieldname, (-math.inf, math.inf))
    for v in values:
        if v is None:
            if fieldname != "repeat_s":
                raise ConfigError("--set", f"{fieldname} needs a number, not none", key=spec)
            continue
        if not lo <= v <= hi:
            raise ConfigError(
                "--set", f"{fieldname} must be within {lo:g}..{hi:g}, got {v:g}", key=spec
            )
        if fieldname in _INT_FIELDS and v != int(v):
            raise ConfigError("--set", f"{fieldname} must be an integer, got {v:g}", key=spec)
    return SettingSpec(target, fieldname, values)


def _rule_with(rule: Rule, fieldname: str, value: float | None) -> Rule:
    if fieldname == "threshold":
        return dataclasses.replace(rule, threshold=Threshold(value=value))
    if fieldname == "baseline_pct":
        return dataclasses.replace(rule, threshold=Threshold(baseline_pct=float(value or 0.0)))
    if fieldname == "baseline_offset":
        return dataclasses.replace(rule, threshold=Threshold(baseline_offset=float(value or 0.0)))
    # the field is chosen at run time: mypy checks replace() per field, so pass Any values
    kw: dict[str, Any] = {fieldname: int(value or 0) if fieldname in _INT_FIELDS else value}
    return dataclasses.replace(rule, **kw)


def apply_settings(
    profile: CueProfile, assignment: Sequence[tuple[SettingSpec, float | None]]
) -> CueProfile:
    """A copy of ``profile`` with each (spec, value) applied (frozen dataclasses, replaced)."""
    rules = list(profile.rules)
    settings = profile.settings
    for spec, value in assignment:
        if spec.target == "settings":
            kw: dict[str, Any] = {spec.field: value}
            settings = dataclasses.replace(settings, **kw)
        else:
            rules = [
                _rule_with(r, spec.field, value) if r.name == spec.target else r for r in rules
            ]
    return dataclasses.replace(profile, settings=settings, rules=tuple(rules))


def _fmt_num(v: float | None) -> str:
    if v is None:
        return "none"
    return f"{v:g}"


# ------------------------------------------------------------------------------ evaluation
@dataclass
class RecordingSteps:
    """Steps of one recording (gait core output, computed once)."""

    path: str
    placement: str
    steps: list[Step]
    cues: list[Cue]
    #: the runner-history snapshot the recording was coached with (header live.history)
    prior: Prior = dataclasses.field(default_factory=Prior)

    @property
    def duration_s(self) -> float:
        return self.steps[-1].t_s - self.steps[0].t_s if len(self.steps) > 1 else 0.0


def collect_steps(
    path: str,
    profile: CueProfile,
    *,
    placement: str | None = None,
    progress: str | None = "replaying",
) -> RecordingSteps:
    """Replay ``path`` once (decode -> core -> rules of ``profile``) and keep its steps (a
    ``--jobs`` worker runs this)."""
    session, _ = replay_recording(path, profile, placement=placement, progress=progress)
    prior = session.engine.profile.prior
    return RecordingSteps(path, session.placement, session.steps, list(session.cues), prior)


@dataclass(frozen=True)
class Evaluation:
    """Outcome of one profile over one or more recordings.

    ``cues`` counts cues (praise excluded), ``praise`` the praise cues, ``duration_s`` the
    running time, ``descent_s`` the time on descents and ``violation_s`` the part of it during
    which at least one rule's windowed mean was past its threshold.
    """

    cues: int
    praise: int
    duration_s: float
    descent_s: float
    violation_s: float

    @property
    def cues_per_hour(self) -> float:
        return 3600.0 * self.cues / self.duration_s if self.duration_s > 0 else math.nan

    @property
    def violation_pct(self) -> float:
        return 100.0 * self.violation_s / self.descent_s if self.descent_s > 0 else math.nan

    def __add__(self, other: Evaluation) -> Evaluation:
        return Evaluation(
            self.cues + other.cues,
            self.praise + other.praise,
            self.duration_s + other.duration_s,
            self.descent_s + other.descent_s,
            self.violation_s + other.violation_s,
        )


def evaluate(profile: CueProfile, steps: Sequence[Step]) -> tuple[Evaluation, list[Cue]]:
    """Run a fresh :class:`CueEngine` of ``profile`` over ``steps`` and measure it.

    Returns
    -------
    tuple
        The :class:`Evaluation` and the cues the engine decided.
    """
    engine = CueEngine(profile)
    descent_s = violation_s = 0.0
    prev_t: float | None = None
    for step in steps:
        engine.update(step)
        # the engine's own verdict: a rule in persistent error (gate, window, share, baseline)
        if prev_t is not None and step.on_descent:
            dt = min(step.t_s - prev_t, MAX_STEP_DT_S)
            descent_s += dt
            if engine.violating_:
                violation_s += dt
        prev_t = step.t_s
    engine.finish()
    cues = engine.cues_
    n_praise = sum(1 for c in cues if c.rule.endswith(".praise"))
    n_moments = sum(1 for c in cues if c.rule.startswith("descent."))
    duration = steps[-1].t_s - steps[0].t_s if len(steps) > 1 else 0.0
    evaluation = Evaluation(
        len(cues) - n_praise - n_moments, n_praise, duration, descent_s, violation_s
    )
    return evaluation, cues


@dataclass(frozen=True)
class TuneRow:
    """One line of the tune table: the setting label, its profile and the pooled evaluation."""

    label: str
    profile: CueProfile
    result: Evaluation


def tune(
    recordings: Sequence[RecordingSteps], base: CueProfile, specs: Sequence[SettingSpec]
) -> list[TuneRow]:
    """Evaluate ``base`` and every combination of ``specs`` over all recordings."""
    combos = math.prod(len(s.values) for s in specs) if specs else 0
    if combos > MAX_COMBINATIONS:
        raise ConfigError("--set", f"{combos} combinations; at most {MAX_COMBINATIONS}")
    rows = [TuneRow("(profile as given)", base, _pooled(base, recordings))]
    if not specs:
        return rows
    for values in itertools.product(*(s.values for s in specs)):
        assignment = list(zip(specs, values, strict=True))
        prof = apply_settings(base, assignment)
        label = " ".join(f"{s.key}={_fmt_num(v)}" for s, v in assignment)
        rows.append(TuneRow(label, prof, _pooled(prof, recordings)))
    return rows


def _pooled(profile: CueProfile, recordings: Sequence[RecordingSteps]) -> Evaluation:
    total = Evaluation(0, 0, 0.0, 0.0, 0.0)
    for rec in recordings:
        total = total + evaluate(dataclasses.replace(profile, prior=rec.prior), rec.steps)[0]
    return total


def format_table(rows: Sequence[TuneRow], out: TextIO) -> None:
    """Print the tune table."""
    width = max(len("setting"), *(len(r.label) for r in rows))
    print(
        f"{'setting':<{width}}  {'cues/h':>7} {'cues':>5} {'praise':>6}  "
        f"{'violation on descents':>24}",
        file=out,
    )
    for r in rows:
        e = r.result
        pct = "n/a" if math.isnan(e.violation_pct) else f"{e.violation_pct:5.1f} %"
        cph = "n/a" if math.isnan(e.cues_per_hour) else f"{e.cues_per_hour:7.1f}"
        print(
            f"{r.label:<{width}}  {cph:>7} {e.cues:>5} {e.praise:>6}  "
            f"{e.violation_s:9.1f} s of {e.descent_s:7.1f} s {pct:>7}",
            file=out,
        )


# ------------------------------------------------------------------------------ suggestions
#: a ``below`` rule's suggested threshold: this fraction under the runner's flat median
BELOW_FRACTION = 0.97
#: an ``above`` rule's suggested threshold: this percentile of the runner's flat values
ABOVE_PERCENTILE = 90.0
MIN_FLAT_STEPS = 20


@dataclass(frozen=True)
class Suggestion:
    """A proposed absolute threshold for one rule, with the flat-ground data behind it."""

    rule: str
    metric: str
    op: str
    n_flat: int
    flat_p10: float
    flat_median: float
    flat_p90: float
    threshold: float
    how: str


def _flat_values(recordings: Sequence[RecordingSteps], metric: str) -> np.ndarray:
    vals = [
        getattr(s, metric)
        for rec in recordings
        for s in rec.steps
        if not s.on_descent and (math.isnan(s.grade_pct) or abs(s.grade_pct) < 3.0)
    ]
    arr = np.asarray(vals, dtype=np.float64)
    return arr[~np.isnan(arr)]


def suggest(
    recordings: Sequence[RecordingSteps], base: CueProfile
) -> tuple[CueProfile, list[Suggestion]]:
    """Propose absolute thresholds from the runner's own flat-ground steps.

    ``below`` rules (e.g. cadence): 3 % under the flat median (the runner's own cadence);
    ``above`` rules (e.g. impact): the 90th percentile of flat values. Rules with fewer than
    20 flat values keep their threshold. Steps count as flat like the engine's baseline:
    not on a descent and grade within +-3 % (or unknown).
    """
    rules = []
    out = []
    for rule in base.rules:
        vals = _flat_values(recordings, rule.metric)
        if len(vals) < MIN_FLAT_STEPS:
            rules.append(rule)
            continue
        p10, med, p90 = (float(x) for x in np.percentile(vals, [10, 50, 90]))
        if rule.op == "below":
            thr = med * BELOW_FRACTION
            how = f"flat median {med:.4g} - {100 * (1 - BELOW_FRACTION):g} %"
        else:
            thr = p90
            how = f"flat p{ABOVE_PERCENTILE:g}"
        thr = float(f"{thr:.4g}")
        rules.append(dataclasses.replace(rule, threshold=Threshold(value=thr)))
        out.append(Suggestion(rule.name, rule.metric, rule.op, len(vals), p10, med, p90, thr, how))
    return dataclasses.replace(base, rules=tuple(rules)), out


def _yaml_value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if v != int(v) or abs(v) >= 1e15 else str(int(v))
    return json.dumps(str(v))


def profile_to_yaml(profile: CueProfile, *, comments: Sequence[str] = ()) -> str:
    """Write a :class:`CueProfile` as YAML that :func:`~downhill_live.profile.load_cue_profile`
    reads back to an equal profile (apart from ``path``)."""
    lines = [f"# {c}" for c in comments]
    lines.append("version: 1")
    lines.append("settings:")
    for f in dataclasses.fields(profile.settings):
        lines.append(f"  {f.name}: {_yaml_value(getattr(profile.settings, f.name))}")
    lines.append("descent:")
    for f in dataclasses.fields(profile.descent):
        lines.append(f"  {f.name}: {_yaml_value(getattr(profile.descent, f.name))}")
    for section in ("fade", "history"):
        lines.append(f"{section}:")
        obj = getattr(profile, section)
        for f in dataclasses.fields(obj):
            lines.append(f"  {f.name}: {_yaml_value(getattr(obj, f.name))}")
    lines.append("rules:")
    for r in profile.rules:
        t = r.threshold
        thr = _yaml_value(t.value) if t.value is not None else json.dumps(str(t))
        lines.append(f"  {json.dumps(r.name)}:")
        lines.append(f"    metric: {r.metric}")
        lines.append(f"    {r.op}: {thr}")
        lines.append(f"    when: {r.when}")
        for name in (
            "window_steps",
            "min_share",
            "hysteresis",
            "cooldown_s",
            "repeat_s",
            "repeat_backoff",
            "praise_hold_s",
            "priority",
        ):
            lines.append(f"    {name}: {_yaml_value(getattr(r, name))}")
        lines.append(f"    phrases: [{', '.join(json.dumps(p) for p in r.phrases)}]")
        if r.praise is not None:
            lines.append(f"    praise: {json.dumps(r.praise)}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ command
