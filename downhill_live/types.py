"""Value types that flow through the pipeline: Packet -> Samples -> Step -> Cue.

Units are in the names: ``t_s`` seconds (sensor time), ``acc_g`` standard gravity,
``cadence_spm`` steps per minute (both legs), ``grade_pct`` percent (negative downhill).
Unknown values are ``nan`` (``None`` in JSON output).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Placement = Literal["foot", "shank", "pelvis", "chest"]
PLACEMENTS: tuple[str, ...] = ("foot", "shank", "pelvis", "chest")
#: placements that see only one foot's strikes (every other step)
ONE_FOOT_PLACEMENTS: frozenset[str] = frozenset({"foot", "shank"})

G_MPS2 = 9.80665


@dataclass(frozen=True, slots=True)
class Packet:
    """One raw notification as received: receive time (s, monotonic from session start),
    stream name (the firmware profile's characteristic key) and the raw payload."""

    t_rx_s: float
    stream: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Samples:
    """Decoded samples of one packet.

    ``t_s`` (N,) sensor time in seconds, ``acc_g`` (N, 3) acceleration in g including gravity,
    ``pressure_pa`` (N,) or None, ``lost`` samples missing before this packet (counter gap).
    """

    t_s: np.ndarray
    acc_g: np.ndarray
    pressure_pa: np.ndarray | None = None
    lost: int = 0


@dataclass(frozen=True, slots=True)
class Step:
    """One detected foot strike and the metrics known at that moment."""

    t_s: float
    cadence_spm: float
    peak_g: float
    grade_pct: float
    on_descent: bool
    gct_ms: float = float("nan")
    peak_axial_g: float = float("nan")
    #: foot/shank sampled below 200 Hz: ``peak_g`` of a 10-30 ms impact reads low
    undersampled: bool = False
    #: the peak window reached the sensor's range: ``peak_g`` is a lower bound
    clipped: bool = False
    #: the first strike after a pause (foot/shank): reported at once, but a larger impact within
    #: ``first_hold_s`` (the contact after the first swing's terminal deceleration, which this
    #: then was) may still replace it
    provisional: bool = False
    #: replaces the provisional step reported just before it (which was no strike)
    replaces_previous: bool = False


def settled(steps: Iterable[Step]) -> list[Step]:
    """``steps`` in order without those a later step replaces (``replaces_previous``): the
    strikes as they stand once every provisional one is decided."""
    out: list[Step] = []
    for step in steps:
        if step.replaces_previous and out and out[-1].provisional:
            out.pop()
        out.append(step)
    return out


@dataclass(frozen=True, slots=True)
class Cue:
    """A spoken cue decided by the rules engine, at sensor time ``t_s``."""

    t_s: float
    rule: str
    phrase: str
    metric: str
    value: float
    priority: int = 0
    extra: dict[str, float] = field(default_factory=dict)


def _step_maker() -> Callable[..., Step]:
    # the frozen dataclass's __init__ sets each field through object.__setattr__, looked up
    # anew per field: ~20 us per step with the caches cold between live packets; the slots'
    # own setters, bound once, do the same in ~12 us
    new = object.__new__
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10 = (
        getattr(Step, name).__set__ for name in Step.__slots__
    )

    def make_step(
        t_s: float,
        cadence_spm: float,
        peak_g: float,
        grade_pct: float,
        on_descent: bool,
        gct_ms: float,
        peak_axial_g: float,
        undersampled: bool,
        clipped: bool,
        provisional: bool,
        replaces_previous: bool,
    ) -> Step:
        """``Step(t_s, ..., replaces_previous)`` (every field given), made faster: the same
        object."""
        step = new(Step)
        s0(step, t_s)
        s1(step, cadence_spm)
        s2(step, peak_g)
        s3(step, grade_pct)
        s4(step, on_descent)
        s5(step, gct_ms)
        s6(step, peak_axial_g)
        s7(step, undersampled)
        s8(step, clipped)
        s9(step, provisional)
        s10(step, replaces_previous)
        return step

    return make_step


#: ``make_step(*fields)``: a :class:`Step` with all eleven fields in order (the core's hot path)
make_step = _step_maker()
