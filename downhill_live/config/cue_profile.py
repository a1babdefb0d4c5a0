"""Cue profiles: the runner's YAML file of coaching rules, validated into frozen dataclasses.

Every mistake raises :class:`ConfigError` naming file, line, key path and what is allowed; unknown
keys are errors, so a typo can never silently disable a cue. See docs/cue-profile.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from downhill_live.config.yamlio import Checker, YamlDoc, load_yaml, load_yaml_text

DEFAULT_PROFILE = Path(__file__).resolve().parent / "default_cues.yaml"
METRICS = ("cadence_spm", "peak_g", "peak_axial_g", "grade_pct", "gct_ms")
WHEN = ("descent", "flat", "always")
_THRESHOLD = re.compile(r"^\s*baseline\s*(?:([+-])\s*(\d+(?:\.\d+)?)\s*(%?))?\s*$")


@dataclass(frozen=True)
class Threshold:
    """``value`` absolute, or relative to the runner's flat baseline of the metric:
    ``baseline * (1 + pct/100) + offset``."""

    value: float | None = None
    baseline_pct: float = 0.0
    baseline_offset: float = 0.0

    @property
    def relative(self) -> bool:
        return self.value is None

    def resolve(self, baseline: float | None) -> float | None:
        """The threshold in metric units, or None while the baseline is unknown."""
        if self.value is not None:
            return self.value
        if baseline is None:
            return None
        return baseline * (1.0 + self.baseline_pct / 100.0) + self.baseline_offset

    def __str__(self) -> str:
        if self.value is not None:
            return f"{self.value:g}"
        if self.baseline_pct:
            return f"baseline{self.baseline_pct:+g}%"
        if self.baseline_offset:
            return f"baseline{self.baseline_offset:+g}"
        return "baseline"


@dataclass(frozen=True)
class Rule:
    """One coaching rule (semantics: :mod:`downhill_live.cues`, docs/cue-profile.md).

    ``min_share`` of the last ``window_steps`` steps out of band is a persistent error (a cue);
    reminders follow after ``repeat_s``, then ``repeat_s * repeat_backoff``, ... (None: none);
    praise needs the same share back past ``hysteresis`` for ``praise_hold_s`` on the gate."""

    name: str
    metric: str
    op: str  # "below" | "above"
    threshold: Threshold
    phrases: tuple[str, ...]
    when: str = "always"
    window_steps: int = 4
    hysteresis: float = 0.0
    cooldown_s: float = 30.0
    repeat_s: float | None = 20.0
    priority: int = 1
    praise: str | None = None
    min_share: float = 0.75
    repeat_backoff: float = 2.0
    praise_hold_s: float = 10.0


@dataclass(frozen=True)
class Settings:
    max_cues_per_min: float = 4.0
    quiet_start_s: float = 20.0
    voice: str | None = None
    rate_wpm: int | None = None
    volume: float = 1.0
    max_age_s: float = 3.0
    baseline_s: float = 45.0
    min_gap_s: float = 5.0


@dataclass(frozen=True)
class DescentSettings:
    threshold_pct: float = -5.0
    exit_pct: float = -3.0
    min_s: float = 5.0
    max_cues: int = 4
    enter_phrase: str | None = None
    summary: bool = False
    summary_min_s: float = 20.0


@dataclass(frozen=True)
class FadeSettings:
    """Feedback fading across sessions (needs the runner history; see docs/cue-profile.md)."""

    enabled: bool = True
    hold_share: float = 0.8
    max_level: int = 3


@dataclass(frozen=True)
class MetronomeSettings:
    """A soft tick at a target cadence on descents, mixed by the speech worker."""

    enabled: bool = False
    target: Threshold = Threshold(baseline_pct=5.0)
    volume: float = 0.3


@dataclass(frozen=True)
class HistorySettings:
    """What the runner history feeds into a session."""

    baselines: bool = True
    min_sessions: int = 1


@dataclass(frozen=True)
class Prior:
    """What a session starts from, out of the runner history: a snapshot, stored in the
    recording so that replay and tune reuse exactly it (see :mod:`downhill_live.history`).

    ``baselines`` maps a grade band name (``"flat"``, ``"-3..-6"``, ...) to metric -> value; the
    ``"flat"`` band seeds the flat baseline. ``fade_level`` is the feedback fading level
    (0 = full feedback)."""

    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    fade_level: int = 0


@dataclass(frozen=True)
class CueProfile:
    path: str
    settings: Settings
    descent: DescentSettings
    rules: tuple[Rule, ...]
    fade: FadeSettings = FadeSettings()
    history: HistorySettings = HistorySettings()
    metronome: MetronomeSettings = MetronomeSettings()
    #: the runner-history snapshot the session starts from (not part of the YAML)
    prior: Prior = field(default_factory=Prior)


_RULE_KEYS = {
    "metric": "|".join(METRICS),
    "below": "number or 'baseline[+-N[%]]'",
    "above": "number or 'baseline[+-N[%]]'",
    "when": "|".join(WHEN),
    "window_steps": "integer >= 1",
    "hysteresis": "number >= 0 (metric units)",
    "cooldown_s": "seconds",
    "repeat_s": "seconds or null",
    "priority": "integer",
    "phrases": "list of phrases (rotated)",
    "praise": "phrase when the runner corrects",
    "min_share": "0..1: share of the window out of band that is an error",
    "repeat_backoff": "number >= 1: each reminder interval is this times the last",
    "praise_hold_s": "seconds a correction must hold before praise",
}
_SETTINGS_KEYS = {
    "max_cues_per_min": "number",
    "quiet_start_s": "seconds",
    "voice": "espeak voice name or null",
    "rate_wpm": "words per minute or null",
    "volume": "0..1",
    "max_age_s": "seconds",
    "baseline_s": "seconds of flat running to learn the baseline",
    "min_gap_s": "seconds: another rule's cue within this is merged (one voice per moment)",
}
_DESCENT_KEYS = {
    "threshold_pct": "grade %",
    "exit_pct": "grade %",
    "min_s": "seconds",
    "max_cues": "corrective cues per descent (integer >= 1)",
    "enter_phrase": "recall cue on entering a descent, or null",
    "summary": "true/false: a spoken summary at the end of a descent",
    "summary_min_s": "seconds: shorter descents get no summary",
}
_FADE_KEYS = {
    "enabled": "true/false",
    "hold_share": "0..1: share of descent time in band that counts as holding form",
    "max_level": "integer 0-5",
}
_METRONOME_KEYS = {
    "enabled": "true/false",
    "target": "cadence: number (spm) or 'baseline+5%'",
    "volume": "0..1 (tick loudness)",
}
_HISTORY_KEYS = {
    "baselines": "true/false: start from the baselines stored in the runner history",
    "min_sessions": "integer >= 1: sessions needed before a stored baseline is used",
}


class _Parser:
    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.c = Checker(doc)

    def threshold(self, value: Any, key: str) -> Threshold:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return Threshold(value=self.c.number(value, key))
        if isinstance(value, str):
            m = _THRESHOLD.match(value)
            if m:
                sign, num, pct = m.groups()
                amount = 0.0 if num is None else float(num) * (-1.0 if sign == "-" else 1.0)
                if pct:
                    return Threshold(baseline_pct=amount)
                return Threshold(baseline_offset=amount)
        raise self.doc.error(
            key, f"must be a number or 'baseline', 'baseline+3%', 'baseline-2'; got {value!r}"
        )

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.doc.error(key, f"must be true or false, got {value!r}")
        return value

    def rule(self, name: str, value: Any) -> Rule:
        c, key = self.c, f"rules.{name}"
        m = c.mapping(value, key, _RULE_KEYS)
        metric = c.string(c.require(m, key, "metric"), f"{key}.metric", choices=METRICS)
        ops = [op for op in ("below", "above") if op in m]
        if len(ops) != 1:
            raise self.doc.error(key, "needs exactly one of 'below' or 'above'")
        op = ops[0]
        phrases_raw = c.sequence(c.require(m, key, "phrases"), f"{key}.phrases", min_len=1)
        phrases = tuple(c.string(p, f"{key}.phrases[{i}]") for i, p in enumerate(phrases_raw))
        repeat = m.get("repeat_s", 20.0)
        return Rule(
            name=name,
            metric=metric,
            op=op,
            threshold=self.threshold(m[op], f"{key}.{op}"),
            phrases=phrases,
            when=c.string(m.get("when", "always"), f"{key}.when", choices=WHEN),
            window_steps=c.integer(m.get("window_steps", 4), f"{key}.window_steps", lo=1, hi=1000),
            hysteresis=c.number(m.get("hysteresis", 0.0), f"{key}.hysteresis", lo=0.0),
            cooldown_s=c.number(m.get("cooldown_s", 30.0), f"{key}.cooldown_s", lo=0.0),
            repeat_s=None if repeat is None else c.number(repeat, f"{key}.repeat_s", lo=1.0),
            priority=c.integer(m.get("priority", 1), f"{key}.priority", lo=0, hi=100),
            praise=None if m.get("praise") is None else c.string(m["praise"], f"{key}.praise"),
            min_share=c.number(m.get("min_share", 0.75), f"{key}.min_share", lo=0.01, hi=1.0),
            repeat_backoff=c.number(
                m.get("repeat_backoff", 2.0), f"{key}.repeat_backoff", lo=1.0, hi=10.0
            ),
            praise_hold_s=c.number(
                m.get("praise_hold_s", 10.0), f"{key}.praise_hold_s", lo=0.0, hi=600.0
            ),
        )

    def profile(self) -> CueProfile:
        c = self.c
        top = c.mapping(
            self.doc.data,
            "",
            {
                "version": "1",
                "settings": "global settings",
                "descent": "descent detection",
                "rules": "rules",
                "fade": "feedback fading across sessions",
                "history": "use of the runner history",
                "metronome": "cadence metronome on descents",
            },
        )
        version = top.get("version", 1)
        if version != 1:
            raise self.doc.error(
                "version", f"unsupported profile version {version!r} (this app reads 1)"
            )
        s = c.mapping(top.get("settings", {}), "settings", _SETTINGS_KEYS)
        voice = s.get("voice")
        rate = s.get("rate_wpm")
        settings = Settings(
            max_cues_per_min=c.number(
                s.get("max_cues_per_min", 4.0), "settings.max_cues_per_min", lo=0.1, hi=60
            ),
            quiet_start_s=c.number(s.get("quiet_start_s", 20.0), "settings.quiet_start_s", lo=0.0),
            voice=None if voice is None else c.string(voice, "settings.voice"),
            rate_wpm=None if rate is None else c.integer(rate, "settings.rate_wpm", lo=60, hi=500),
            volume=c.number(s.get("volume", 1.0), "settings.volume", lo=0.0, hi=1.0),
            max_age_s=c.number(s.get("max_age_s", 3.0), "settings.max_age_s", lo=0.1),
            baseline_s=c.number(s.get("baseline_s", 45.0), "settings.baseline_s", lo=5.0),
            min_gap_s=c.number(s.get("min_gap_s", 5.0), "settings.min_gap_s", lo=0.0, hi=600.0),
        )
        d = c.mapping(top.get("descent", {}), "descent", _DESCENT_KEYS)
        descent = DescentSettings(
            threshold_pct=c.number(
                d.get("threshold_pct", -5.0), "descent.threshold_pct", lo=-100, hi=0
            ),
            exit_pct=c.number(d.get("exit_pct", -3.0), "descent.exit_pct", lo=-100, hi=0),
            min_s=c.number(d.get("min_s", 5.0), "descent.min_s", lo=0.0),
            max_cues=c.integer(d.get("max_cues", 4), "descent.max_cues", lo=1, hi=1000),
            enter_phrase=None
            if d.get("enter_phrase") is None
            else c.string(d["enter_phrase"], "descent.enter_phrase"),
            summary=self.boolean(d.get("summary", False), "descent.summary"),
            summary_min_s=c.number(d.get("summary_min_s", 20.0), "descent.summary_min_s", lo=0.0),
        )
        f = c.mapping(top.get("fade", {}), "fade", _FADE_KEYS)
        fade = FadeSettings(
            enabled=self.boolean(f.get("enabled", True), "fade.enabled"),
            hold_share=c.number(f.get("hold_share", 0.8), "fade.hold_share", lo=0.0, hi=1.0),
            max_level=c.integer(f.get("max_level", 3), "fade.max_level", lo=0, hi=5),
        )
        h = c.mapping(top.get("history", {}), "history", _HISTORY_KEYS)
        history = HistorySettings(
            baselines=self.boolean(h.get("baselines", True), "history.baselines"),
            min_sessions=c.integer(h.get("min_sessions", 1), "history.min_sessions", lo=1, hi=100),
        )
        if descent.exit_pct < descent.threshold_pct:
            raise self.doc.error("descent.exit_pct", "must be >= threshold_pct (closer to flat)")
        rules_raw = c.require(top, "", "rules")
        if not isinstance(rules_raw, dict) or not rules_raw:
            raise self.doc.error(
                "rules", "must be a mapping of rule name -> rule, with at least one rule"
            )
        rules = tuple(self.rule(str(name), value) for name, value in rules_raw.items())
        mt = c.mapping(top.get("metronome", {}), "metronome", _METRONOME_KEYS)
        metronome = MetronomeSettings(
            enabled=self.boolean(mt.get("enabled", False), "metronome.enabled"),
            target=self.threshold(mt.get("target", "baseline+5%"), "metronome.target"),
            volume=c.number(mt.get("volume", 0.3), "metronome.volume", lo=0.0, hi=1.0),
        )
        return CueProfile(
            self.doc.path, settings, descent, rules, fade, history, metronome=metronome
        )


def parse_cue_profile(text: str, path: str) -> CueProfile:
    """Validate YAML text into a :class:`CueProfile`."""
    return _Parser(load_yaml_text(text, path)).profile()


def load_cue_profile(path: str | Path | None = None) -> CueProfile:
    """Load a cue profile file (default: the bundled profile)."""
    return _Parser(load_yaml(path or DEFAULT_PROFILE)).profile()
