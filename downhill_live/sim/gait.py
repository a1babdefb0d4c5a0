"""Seeded, physically plausible gait simulator: accelerometer signals with exact ground truth.

:func:`simulate` turns a course (a list of :class:`Segment`) into what a three-axis accelerometer
would record at one of four placements (``foot``, ``shank``, ``pelvis``, ``chest``), together
with the true initial-contact (IC) and toe-off times, cadence and impact peaks. It serves three
uses: the bundled demo recordings (:func:`downhill_course`), the validation of strike detection
(:func:`validation_course`) and named validation scenarios widened by what real recordings show
(:func:`scenarios`, see "Real data" below). The same seed gives identical output, and the step
timeline (strike times, toe-offs, cadence) depends only on the course and the seed, not on the
placement, the sample rate or the signal options (``terminal_swing``, ``pushoff_g``,
``hip_offset_m``, the strike pattern), so several placements simulated with one seed describe
the same run. The defaults reproduce the original ("legacy") model exactly; the realistic
behaviour is opt-in so that the bundled recordings and their tests stay valid.

Frames and conventions
----------------------
All motion is built in a *slope frame* (s forward along the ground, n normal to the ground, y to
the left) and projected into the body segment that carries the sensor; the accelerometer reads
the specific force ``a - g``, i.e. +1 g "up" at rest, in g. The slope angle is
``alpha = atan(grade_pct / 100)``; grade changes between segments are ramped linearly over up to
1.5 s on each side of the boundary (the returned ``grade_pct`` is that ramp). A turn
(``turn_deg``) is a constant yaw rate over the segment; yaw about the vertical does not change
gravity in the sensor, but it adds the centripetal term ``v * yaw_rate`` (left/right) to every
moving part, and the trunk leans into the turn. Finally the fixed mounting rotation is applied
(``sensor_vec = rotation @ body_vec``, uniformly random on SO(3) by default), then white noise,
a per-axis bias (both scaled by ``noise_g``), 16-bit quantisation of ``+-range_g`` and clipping.
Signals are synthesised on an internal grid of at least 1 kHz and box-averaged to ``rate_hz``
(a simple stand-in for the sensor's anti-alias filter).

Step timeline
-------------
Consecutive non-``stand`` segments form a bout. A bout starts from standing (the first swing
starts at the bout start), and ends with both feet on the ground: the last two ICs of a bout
are followed by standing, so their ``toe_off_t_s`` is NaN. No IC falls in a ``stand`` segment.
The step period is ``60 / cadence`` of the segment at that moment (linear ramps allowed) times
``1 + e``, ``e`` an AR(1) jitter of 1.5 % standard deviation (cadence jitter of 1-2 % is
typical), times ``1 + a`` for steps that end with a left (instrumented) contact and ``1 - a``
for right ones, ``a = step_asymmetry`` (0 by default; healthy runners show 2-5 %, a limping or
strongly one-sided gait 10 % and more: ``a = 0.11`` at 156 spm gives the alternating 0.34 /
0.43 s steps measured with a one-sided hip sensor). Speed may ramp linearly within a segment
(``speed_end_mps``, e.g. a sprint build-up with a cadence ramp to 220 spm); distance, duty
factor, swing lift and centripetal terms follow the ramp. Stance time is 0.75 x step time at 3 m/s for running (duty factor falling slowly with
speed: contact 0.24-0.27 s at 170 spm, as in the treadmill data below), 1.2 x step time for
walking (60 % of the stride, double support), and at most 62 % of the stride across walk/run
changes. ``cadence_spm[i]`` follows the gait-analysis convention: the step ending at IC ``i``
lasts ``strike_t_s[i] - strike_t_s[i-1]``; NaN for the first IC of a bout. Each step's impact is
the segment's ``impact_scale`` times a log-normal factor of 10 % spread; there is no automatic
grade effect on impacts (express it through ``impact_scale``, as :func:`downhill_course` does),
but downhill braking forces follow from the slope (see pelvis).

Placements
----------
"Peaks" below are medians of ``strike_peak_g`` at 200 Hz, 3 m/s on the flat, for
impact_scale 1 -> 1.5.

``foot`` (shoe / foot pod on the instep, 10 cm ahead of and 7 cm above the heel contact point).
    A sagittal-plane rigid-foot model. Heel rocker: the foot lands heel first, toe up by
    8 deg x impact_scale (20 deg walking; overstriding lands with a steeper foot) and rolls flat
    over the first 22 % of stance (15 % walking) about the heel. Foot flat: the foot lies on the
    inclined ground, so the sensor reads exactly gravity tilted by the slope angle (no motion)
    until heel-off at 50 % of stance (55 % walking). Push-off: rotation about the metatarsal
    heads to -32 deg (-45 deg walking) at toe-off. Swing: quintic Hermite paths for position
    and pitch, matching position and velocity at toe-off and IC (pitch reaches about -75 deg in
    early swing), a lift of about 20 cm (8 cm walking) and a 1.5 cm outward circumduction.
    Accelerations come from differentiating the sensor's position twice, so swing peaks of
    5-7 g (running), with the terminal-swing braking just before IC, follow from stride length
    and swing time. At IC a heel-strike transient is added (rising pulse 5 ms to peak, 7 g normal
    to the sole and -4 g along it at impact_scale 1, 40 Hz ringing). Peaks: 5.3 -> 7.8 g
    running (6.9 g at 1 kHz: the 5 ms spike is partly averaged out at low rates), 1.9 g walking;
    foot-mounted IMUs report 3-10 g and more.
``shank`` (distal anteromedial tibia, 12 cm above the ankle; z axis along the tibia).
    The ankle follows the same foot model; the tibia angle to the ground normal goes from -4 deg
    at IC (ankle ahead of the knee; a further -8 deg per unit of impact_scale above 1 for
    overstriding) to +15 deg at heel-off and +40 deg at toe-off, swings back to about +80 deg
    (knee flexion) in early swing, forward to about -18 deg in late swing and retracts slightly
    before IC. A tibial shock is added mostly along the tibia axis (6.5 g, peak 10 ms after IC,
    -1.8 g anterior, 22 Hz ringing). Peaks: 6.0 -> 8.3 g running, 2.4 g walking; running studies
    report peak tibial accelerations of 5-10 g, higher on descents, with 8 g a common
    "high-shock" line (Crowell & Davis 2011).
``pelvis`` (sacrum / waist belt) and ``chest`` (heart-rate strap on the sternum).
    The trunk is treated as a point mass: the specific force is the sum of both feet's ground
    reaction forces over body weight (BW), so flight reads ~0 g and both feet's steps are seen.
    Normal force per contact: a half sine (running) or an M-shaped double hump (walking) whose
    impulse is ``cos(alpha)`` x step time, both skewed to peak at ~40 % of stance, plus an impact
    pulse (peak 22 ms after IC, 2.1 BW x impact_scale on the pelvis; chest 1.1 BW, 26 ms) with a
    negative 8 Hz (7 Hz) soft-tissue rebound. Tangential force: a braking/propulsion sine whose net impulse is ``sin(alpha)`` x
    step time (net braking downhill; Gottschall & Kram 2005 report braking peaks up by 73 % at
    -9 deg), plus a braking dip right after IC. Mediolateral: alternating 0.08 BW sway, and the
    centripetal force in turns. The trunk leans forward (12 deg pelvis, 8 deg chest, less on
    descents), leans into turns and oscillates in pitch, roll and yaw at step and stride
    frequency; standing adds a slow postural sway. A running start from standing begins with
    a push-off stance (one stance time, ending one flight before the first landing) whose
    vertical impulse lifts the body into that flight (|a| ~1.7 g, the weight handed over
    linearly) and which gains a third of the running speed; the first landing therefore
    follows a flight like every other one (before, the trunk stood still until it landed,
    which hid the first landing of every restart). Peaks: pelvis 3.3 -> 4.5 g, chest 2.2 ->
    2.8 g running, about 1.4 g walking (0.8-1.4 g oscillation). The pelvis shape was checked
    against the sacral recordings of Alcantara et al. 2022 (treadmill, 0/+-5 deg, 2.5-4.2 m/s):
    ~0 g in flight, impact peak ~3-4 g at 20-40 ms, a rebound dip near 55 ms, a ~2.3 g active
    plateau and a -1.5 g AP braking dip just after IC.

Walking uses lower cadence (default 110 spm), speed (1.4 m/s) and impacts. Standing: no steps,
feet flat, trunk upright with postural sway.

Options that widen the model (opt-in)
-------------------------------------
Strike patterns (``Segment.strike``, running only)
    ``heel`` (rearfoot; the model above), ``midfoot`` (lands nearly flat, sole pitch 2 deg,
    the whole sole touches within ~40 ms; transient x0.8, trunk impact x0.7, tibia at
    -1 deg) and ``forefoot`` (lands on the metatarsal heads with the sole 9 deg toe-down, no
    heel rocker: the foot rotates about the forefoot while the heel lowers over the first 25 %
    of stance; the ankle absorbs the landing, so the foot transient is x0.5 (shank x0.7) and
    peaks 30 % earlier, and the trunk impact pulse is x0.35: forefoot strikers show no distinct
    impact peak in the ground reaction force, Lieberman et al. 2010; tibia at +2 deg). Peaks
    at 200 Hz, 3 m/s, 170 spm, merged swing: foot 10.9 / 9.5 / 8.8 g, shank 9.4 / 6.2 / 4.8 g; pelvis
    3.3 / 2.6 / 1.7 g.

Terminal swing (``terminal_swing``, foot and shank)
    ``"quiet"`` (default, legacy): every swing is a quintic that ends *at rest* at IC, so the
    last ~50 ms before each impact read ~1 g - a quiet phase real shoes do not have.
    ``"merged"`` (what real shoe IMUs show): the sensor point touches down still moving
    (heel strike 0.9 m/s forward plus the foot's rotation, 0.75 m/s down; midfoot 1.0 / 0.75;
    forefoot 1.0 / 0.7, at 1.9 m/s running, times ``speed / 1.9 m/s`` and impact_scale) and
    still braking (-2.5 g along the path, -2 g forefoot); the ground arrests that velocity
    with a ``z^2 exp(-2 z)`` pulse (time to peak 8 / 9 / 13 ms, ~1 cm of sole and heel-pad
    compression; heel / midfoot 1.25 / 1.15x longer at the shoe, all 2x at the tibia) while the swing's
    deceleration hands over within 15 ms. Foot impacts thus grow with speed (heel strike at
    200 Hz, ``strike_peak_g``: 8.6 g at 1.9 m/s, 10.9 g at 3, 17 g at 5 m/s, clipped at
    ``range_g``), ahead of the terminal-swing braking (3.6, 5.4, 8.8 g); forefoot impacts
    are 5.7 / 4.1 g at 1.9 m/s, 8.8 / 5.6 g at 3 m/s. A running heel
    strike lands while the foot already rotates toe-down (2 rad/s), the forefoot slaps down
    30 ms later at ~4 rad/s (the real shoe gyroscope reads a median 7 rad/s
    toe-down at the impact peak, arrested to a quarter within 20 ms) and that rotation is
    arrested too (time to peak 8 ms at the shoe, 4 ms at the tibia): a heel-then-slap
    double impact. The shoe's transient has a broad part (time to peak 9 ms: the heel pad and
    sole compress) under a 40 Hz multi-axis ringing (~60 ms), as in the real 40-80 ms contact
    bursts; together they make a heel-strike impact ~20 ms wide at half height, as real
    shoes show (a model 8 ms wide fell below its own terminal swing at 52 Hz). On top, the
    foot's contact burst has an irregular part: four damped oscillations per contact (15-40 Hz,
    seeded directions and phases, 3 g x the impact scale each, decay 25 ms, over by 80 ms), because real
    shoe impacts carry 2-3x the model's 15-50 Hz energy as an irregular multi-axis burst,
    and the regular 40 Hz ringing is filtered out at 52 Hz. The forward motion of the swing
    follows an acceleration profile like the real one instead of a minimum-jerk path: a
    gentle (parabolic) push over the first 70 % of the swing and a braking window
    (``x^4 (1 - x)^2``, building up slowly) from 20 % of the swing to touchdown (peak at
    73 %, ~0.13 s before touchdown at 154 spm), their sizes set by the end position and speed,
    and the touchdown deceleration rising in over the last 15 %. The forward acceleration thus
    turns from push to braking over ~0.25 s, as in the real shoe data (a braking window over
    the last 55 % with the push lasting to 75 % turned it within ~0.08 s, a jerk 0.19 s before
    IC that the detector's high-passed signal saw nearly as large as the impact at 52 Hz:
    0.59 g against the real 0.33 g). The swing lift is halved (real shoe sensors rise
    ~15 cm). Strike times, toe-offs and mid-stance are unchanged.

Toe-off transient (``pushoff_g``, foot and shank)
    A short multi-axis transient (peak ``pushoff_g`` at the foot, 0.3x at the shank; 0 by
    default) at every toe-off, including the first push-off of a standing start, which is
    never a strike. ``pushoff_g = 2.5`` matches the real push-off / impact ratio (~0.5).

One-sided hip (``hip_offset_m``, pelvis)
    A belt sensor worn over one hip, ``hip_offset_m`` to the left (negative: right) of the
    sacrum: the near leg's impact pulses are ``1 + 2 d`` times larger, the far leg's ``1 - 2 d``
    and ``1 + 1.4 d`` times slower (``d = |hip_offset_m|``; at 15 cm 1.3x / 0.7x, so the
    left/right peaks differ by ~1.4x), plus the lever-arm accelerations of the pelvis rotations
    at the sensor (``alpha x r + omega x (omega x r)``). Step times are the runner's; combine
    with ``step_asymmetry`` for an asymmetric gait.

Curves
    ``turn_deg`` of any size: the real shoe trials run on ~1.2 m circles (1800 deg in 20 s at
    1.9 m/s, centripetal 0.3 g); the trunk leans into the turn, the swinging foot feels the
    centripetal term, the foot in stance is still.

Real data
    Checked with ``benchmarks/sim_vs_real.py`` (statistics of ``|a|`` around each impact, the
    same definitions for both). Real shoe IMU (pyshoe, 200 Hz, jogging 154 spm at 1.9 m/s on
    tight curves, right shoe) vs merged heel strike, median: impact 7.5 vs 7.7 g (100 Hz
    6.7 vs 6.3 g, 52 Hz 4.8 vs 5.2 g); width at half height 21 vs 20 ms (100 Hz 26 vs 27 ms);
    push-off / impact 0.51 vs 0.43; high-passed energy in the 100 ms before the impact peak
    over the 100 ms after 0.46 vs 0.03 (the real impact has more high-frequency energy
    before its peak); what a 25 Hz high-pass keeps of the impact 4.1 vs 2.8 g (200 Hz), 3.0
    vs 1.7 g (real averaged down to 100 Hz): the model is smoother than a real shoe;
    terminal-swing hump 4.7 vs 3.6 g (the real braking is later, ~80 ms before the impact
    against ~0.13 s, and higher); minimum of ``|a|`` 60-15 ms before the impact 1.5 vs 2.0 g
    and mean 40-10 ms before it 3.1 vs 2.6 g (legacy 1.6 and 2.0 g, ~1.0 g in the last 30 ms
    before IC); foot-flat 1.15 vs 1.01 g. At 52 Hz (the real trials decimated as
    ``benchmarks/validate.py`` does, the model simulated at 52 Hz; simulating at 200 Hz and
    decimating the same way gives the same figures), the detector's high-passed signal
    (``downhill_live.core``): impact 1.44 vs 0.83 g, terminal swing 0.52 vs 0.43 g, where
    the push turns into braking 0.33 vs 0.43 g (0.59 g before the braking window was
    widened), impact over swing 2.8 vs 1.9 (1.3 before). A zero-velocity-update
    integration of the real trials gives the touchdown velocity used above (1.0 m/s forward,
    0.8 m/s down just before the impact), 1.47 m strides and a 4.9 m/s late swing speed peak.
    The legacy swing instead reads ~1 g just before every impact, peaks at 5.2 g in
    terminal swing and has no ringing. Sacral data (Alcantara 2022, treadmill, 20 Hz
    low-passed upstream) vs the pelvis model low-passed the same way: step peak 3.3 vs 3.0 g,
    flight minimum 0.06 vs 0.02 g, step 0.31 vs 0.32 s.

Scenarios
    :func:`scenarios` returns 16 named :class:`Scenario` objects (30-65 s each) covering every
    placement, the three strike patterns on foot and shank, one-sided hips, 140-220 spm with
    sprints, stops with standing restarts, tight curves and 52 / 100 / 200 / 500 / 1000 Hz,
    with the realistic limb options on foot and shank.

Barometer: altitude starts at 400 m and integrates ``speed * sin(alpha)`` (speed is along the
path); pressure follows the ISA formula, smoothed by a first-order 0.5 s sensor lag, with 1.5 Pa
white noise.

Limitations: rigid, sagittal foot (no pronation roll, no foot yaw in curves); the instrumented
foot is always the left one; the trunk is a point mass (its rotations tilt the sensor; lever
arms only for ``hip_offset_m``) whose impact pulses are not subtracted from the active force,
so its mean specific force over whole strides is ~1.13 g instead of 1 g; no sensor mount
resonance beyond the fixed ringing templates; no gyroscope; the default (legacy) foot model
has the quiet terminal swing and no toe-off transient that real shoes contradict (use
``terminal_swing="merged"``, ``pushoff_g=2.5``); even merged, the swing is smoother than real
(real shoes show 2-4 g of irregular swing wobble and stance reads ~1.15 g, not 1.0 g), the
early swing reads ~3 g (real ~2-2.5 g) and where push turns into braking (~0.19 s before
IC) the sim dips to ~1 g (real ~2 g), the swing accelerations at
speeds above the real data's 1.9 m/s are extrapolated (they grow with stride length and
cadence), the impact has less high-frequency energy than a real shoe's (a 25 Hz high-pass
keeps 2.8 against 4.1 g at 200 Hz; at 52 Hz the detector's high-passed signal reaches 0.6x
the real one's), the terminal-swing braking peaks earlier and lower (3.6 against 4.7 g); walking keeps the legacy landing; strike
patterns do not change stance time or cadence; speed changes between segments are
instantaneous (use ``speed_end_mps`` for ramps: a jump, e.g. walk to run, makes the
first swing after it too violent) and bouts start at full speed in the timeline (the merged
limb model builds the foot's speed up, tau 0.5 s, but not the step times; the first
walking step from standing swings the shank at ~10 g, legacy and merged); there is no real
shank recording to check the shank by: its swing shares the foot's push-to-braking turn (on
the tight-curve forefoot scenario its high-passed signal there, ~1.6 g at 200 Hz, is as large
as the landing's), and walking swings the tibia at up to 7.6 rad/s with up to 135 rad/s^2 in
terminal swing, so that the walking shank reads ~3.7-4 g there against a 2.4 g heel strike
(likely on the high side: shank gyroscopes in walking are commonly reported at 5-7 rad/s); the hip model is a gain/delay on the impact pulse,
not a multi-body pelvis; no terrain roughness, barometric weather drift, clock drift or lost
samples. The uniformly random mounting is harsher than real mounts, which are usually roughly
aligned with the segment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.signal import lfilter

from downhill_live.types import G_MPS2, ONE_FOOT_PLACEMENTS, PLACEMENTS

__all__ = [
    "STRIKES",
    "TERMINAL_SWINGS",
    "Scenario",
    "Segment",
    "SimResult",
    "downhill_course",
    "scenarios",
    "simulate",
    "validation_course",
]

ACTIVITIES: tuple[str, ...] = ("run", "walk", "stand")
STRIKES: tuple[str, ...] = ("heel", "midfoot", "forefoot")
TERMINAL_SWINGS: tuple[str, ...] = ("quiet", "merged")
DEFAULT_CADENCE_SPM: dict[str, float] = {"run": 170.0, "walk": 110.0}
DEFAULT_SPEED_MPS: dict[str, float] = {"run": 3.0, "walk": 1.4, "stand": 0.0}
START_ALTITUDE_M = 400.0
PRESSURE_NOISE_PA = 1.5
PRESSURE_LAG_S = 0.5
CADENCE_JITTER = 0.015
IMPACT_SPREAD = 0.10
MAX_STANCE_FRACTION = 0.62
PEAK_WINDOW_S = (-0.010, 0.060)

_RUN, _WALK, _STAND = 0, 1, 2
_BIG = 1.0e12  # "never" (kept finite so that no inf - inf arithmetic happens)
_MIN_INTERNAL_HZ = 1000.0
# foot geometry in the foot frame (forward, up) relative to the heel contact point, m
_R_SENSOR_FOOT = (0.10, 0.07)
_R_ANKLE = (0.06, 0.09)
_R_MTP = (0.19, 0.0)
_SHANK_SENSOR_M = 0.12


@dataclass(frozen=True)
class Segment:
    """One piece of a course.

    Parameters
    ----------
    duration_s : float
        Length of the segment in seconds (> 0).
    grade_pct : float
        Ground grade, ``100 * tan(angle)``; negative is downhill.
    activity : str
        ``"run"``, ``"walk"`` or ``"stand"``.
    cadence_spm : float or None
        Steps per minute (both legs) at the segment start; None: 170 run, 110 walk.
    cadence_end_spm : float or None
        Cadence at the segment end (linear ramp); None: constant.
    impact_scale : float
        Multiplies the nominal impact (overstriding on descents > 1).
    impact_scale_end : float or None
        Impact scale at the segment end (linear ramp); None: constant.
    speed_mps : float or None
        Speed along the path; None: 3.0 run, 1.4 walk, 0 stand.
    turn_deg : float
        Total heading change over the segment (positive to the left).
    strike : str
        Foot-strike pattern of running steps: ``"heel"`` (rearfoot), ``"midfoot"`` or
        ``"forefoot"``; walking and standing segments must keep ``"heel"``.
    speed_end_mps : float or None
        Speed at the segment end (linear ramp, e.g. a sprint build-up); None: constant.
    step_asymmetry : float
        Left/right step-time asymmetry ``a`` (0..0.2): steps ending with a left (instrumented)
        foot contact last ``1 + a`` times the nominal step, right ones ``1 - a``.
    """

    duration_s: float
    grade_pct: float = 0.0
    activity: str = "run"
    cadence_spm: float | None = None
    cadence_end_spm: float | None = None
    impact_scale: float = 1.0
    impact_scale_end: float | None = None
    speed_mps: float | None = None
    turn_deg: float = 0.0
    strike: str = "heel"
    speed_end_mps: float | None = None
    step_asymmetry: float = 0.0

    def __post_init__(self) -> None:
        if self.activity not in ACTIVITIES:
            raise ValueError(f"activity must be one of {ACTIVITIES}, got {self.activity!r}")
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ValueError(f"duration_s must be > 0, got {self.duration_s}")
        if not (math.isfinite(self.grade_pct) and abs(self.grade_pct) <= 100.0):
            raise ValueError(f"grade_pct must be within +-100, got {self.grade_pct}")
        for name in ("cadence_spm", "cadence_end_spm"):
            value = getattr(self, name)
            if value is not None and not (30.0 <= value <= 260.0):
                raise ValueError(f"{name} must be within 30..260 spm, got {value}")
        for name in ("impact_scale", "impact_scale_end"):
            value = getattr(self, name)
            if value is not None and not (0.1 <= value <= 5.0):
                raise ValueError(f"{name} must be within 0.1..5, got {value}")
        if self.speed_mps is not None and not (0.0 <= self.speed_mps <= 12.0):
            raise ValueError(f"speed_mps must be within 0..12, got {self.speed_mps}")
        if self.activity == "stand" and self.speed_mps not in (None, 0.0):
            raise ValueError("a stand segment cannot have a speed")
        if self.activity != "stand" and self.speed_mps == 0.0:
            raise ValueError(f"a {self.activity} segment needs a speed > 0")
        if not math.isfinite(self.turn_deg):
            raise ValueError(f"turn_deg must be finite, got {self.turn_deg}")
        if self.strike not in STRIKES:
            raise ValueError(f"strike must be one of {STRIKES}, got {self.strike!r}")
        if self.strike != "heel" and self.activity != "run":
            raise ValueError(f"strike {self.strike!r} applies to running; {self.activity} is heel")
        if self.speed_end_mps is not None:
            if self.activity == "stand":
                raise ValueError("a stand segment cannot have a speed")
            if not (0.0 < self.speed_end_mps <= 12.0):
                raise ValueError(
                    f"speed_end_mps must be within 0..12 (> 0), got {self.speed_end_mps}"
                )
        if not (math.isfinite(self.step_asymmetry) and 0.0 <= self.step_asymmetry <= 0.2):
            raise ValueError(f"step_asymmetry must be within 0..0.2, got {self.step_asymmetry}")
        if self.step_asymmetry != 0.0 and self.activity == "stand":
            raise ValueError("a stand segment takes no steps: step_asymmetry must be 0")


@dataclass(frozen=True)
class SimResult:
    """Simulated recording and its ground truth (see :func:`simulate`).

    Attributes
    ----------
    rate_hz : float
        Sample rate.
    placement : str
        ``"foot"``, ``"shank"``, ``"pelvis"`` or ``"chest"``.
    t_s : ndarray, (N,)
        Sample times starting at 0.
    acc_g : ndarray, (N, 3)
        Sensor-frame acceleration in g including gravity, after mounting rotation, noise,
        quantisation and clipping.
    pressure_pa : ndarray, (N,)
        Barometric pressure.
    grade_pct : ndarray, (N,)
        True grade at each sample.
    strike_t_s : ndarray, (S,)
        True initial-contact times of all steps (both feet), sorted.
    strike_foot : ndarray, (S,) int8
        0 for the instrumented foot (foot/shank placements; the left foot), 1 for the other.
    strike_peak_g : ndarray, (S,)
        Peak of the noise-free, unclipped resultant in [IC - 10 ms, IC + 60 ms] at ``rate_hz``;
        NaN for the other foot's steps on foot/shank placements.
    toe_off_t_s : ndarray, (S,)
        True toe-off time of each step; NaN when the step ends in standing.
    cadence_spm : ndarray, (S,)
        ``60 / (strike_t_s[i] - strike_t_s[i-1])``; NaN for the first IC of a bout.
    rotation : ndarray, (3, 3)
        Mounting rotation applied (``sensor_vec = rotation @ body_vec``).
    """

    rate_hz: float
    placement: str
    t_s: np.ndarray
    acc_g: np.ndarray
    pressure_pa: np.ndarray
    grade_pct: np.ndarray
    strike_t_s: np.ndarray
    strike_foot: np.ndarray
    strike_peak_g: np.ndarray
    toe_off_t_s: np.ndarray
    cadence_spm: np.ndarray
    rotation: np.ndarray


# --------------------------------------------------------------------------------------------
# model parameters


@dataclass(frozen=True)
class _Transient:
    """An impact transient: ``amp * (p(t/tau) + ring * sin(2 pi f t) exp(-t/ring_tau))``,
    ``p(x) = x^2 exp(2 (1 - x))`` (peak 1 at ``x = 1``); amplitudes per axis (x, y, z) in g."""

    amp_g: tuple[float, float, float]
    tau_s: float
    ring_hz: float
    ring_tau_s: float
    ring: float


@dataclass(frozen=True)
class _Gait:
    """Nominal parameters of one activity (angles in degrees)."""

    duty: float  # stance time / step time at 3 m/s
    u_ff: float  # foot flat, fraction of stance
    u_ho: float  # heel off, fraction of stance
    foot_ic_deg: float
    foot_to_deg: float
    foot_dip_deg: float
    lift_m: float
    lateral_m: float
    shank_ic_deg: float
    shank_overstride_deg: float
    shank_ho_deg: float
    shank_to_deg: float
    shank_back_deg: float
    shank_fwd_deg: float
    foot_tr: _Transient
    shank_tr: _Transient
    trunk_impact_bw: dict[str, float] = field(default_factory=dict)
    brake_bw: float = 0.3
    sway_bw: float = 0.08
    m_shape: float = 0.0


_GAIT = (
    _Gait(  # run
        duty=0.75,
        u_ff=0.22,
        u_ho=0.50,
        foot_ic_deg=8.0,
        foot_to_deg=-32.0,
        foot_dip_deg=0.0,
        lift_m=0.20,
        lateral_m=0.015,
        shank_ic_deg=-4.0,
        shank_overstride_deg=8.0,
        shank_ho_deg=15.0,
        shank_to_deg=40.0,
        shank_back_deg=12.0,
        shank_fwd_deg=-20.0,
        foot_tr=_Transient((-4.0, 1.0, 7.0), 0.005, 40.0, 0.008, 0.35),
        shank_tr=_Transient((-1.8, 0.4, 6.5), 0.010, 22.0, 0.015, 0.35),
        trunk_impact_bw={"pelvis": 2.1, "chest": 1.1},
        brake_bw=0.35,
        sway_bw=0.08,
        m_shape=0.0,
    ),
    _Gait(  # walk
        duty=1.2,
        u_ff=0.15,
        u_ho=0.55,
        foot_ic_deg=20.0,
        foot_to_deg=-45.0,
        foot_dip_deg=0.0,
        lift_m=0.08,
        lateral_m=0.01,
        shank_ic_deg=-5.0,
        shank_overstride_deg=5.0,
        shank_ho_deg=12.0,
        shank_to_deg=40.0,
        shank_back_deg=5.0,
        shank_fwd_deg=-10.0,
        foot_tr=_Transient((-0.5, 0.15, 0.8), 0.008, 40.0, 0.010, 0.4),
        shank_tr=_Transient((-0.4, 0.1, 1.2), 0.015, 20.0, 0.015, 0.3),
        trunk_impact_bw={"pelvis": 0.25, "chest": 0.15},
        brake_bw=0.2,
        sway_bw=0.06,
        m_shape=0.3,
    ),
)


@dataclass(frozen=True)
class _Strike:
    """What a foot-strike pattern changes (running). Touchdown values belong to the sensor
    point at the last instant of swing (``terminal_swing="merged"``), slope frame (s, n)."""

    foot_ic_deg: float  # sole pitch at IC (toe up > 0)
    u_ff: float  # end of the rocker (heel or forefoot), fraction of stance
    shank_ic_deg: float
    transient: float  # scale of the foot / shank impact transient
    transient_tau: float  # scale of its time to peak
    trunk: float  # scale of the trunk impact pulse
    touchdown_mps: tuple[float, float]
    touchdown_g: tuple[float, float]
    arrest_s: float  # time to peak of the touchdown-velocity arrest


_STRIKE = (
    # heel: toe up 8 deg, rolls over the heel; the full heel-strike transient
    _Strike(8.0, 0.22, -4.0, 1.0, 1.0, 1.0, (0.9, -0.75), (-2.5, 0.3), 0.008),
    # midfoot: lands nearly flat (whole sole), a slightly smaller transient
    _Strike(2.0, 0.15, -1.0, 0.8, 0.9, 0.7, (1.0, -0.75), (-2.5, 0.3), 0.009),
    # forefoot: toe down 9 deg, lands on the metatarsal heads and lowers the heel (rotation
    # about the forefoot); the ankle absorbs the landing: small, early transient and no
    # distinct impact peak in the ground reaction force (Lieberman et al. 2010)
    _Strike(-9.0, 0.25, 2.0, 0.5, 0.7, 0.35, (1.0, -0.7), (-2.0, 0.3), 0.013),
)

# terminal_swing="merged": the contact ringing seen on real shoes (a 40-80 ms burst of
# 30-50 Hz oscillation on every axis after the impact) and the toe-off transient
_FOOT_TR_MERGED = _Transient((-1.12, 1.12, 1.44), 0.006, 40.0, 0.018, 2.5)
_SHANK_TR_MERGED = _Transient((-1.0, 0.5, 3.2), 0.009, 26.0, 0.020, 0.55)
# merged running foot: the broad part of the impact (the heel pad and shoe sole compress over
# ~20 ms: real shoe impacts are 17-25 ms wide at half height at 200 Hz), in units of the
# transient's amplitude, and its time to peak
_FOOT_BROAD = 1.0
_FOOT_BROAD_TAU_S = 0.009
_PUSH_TR = _Transient((-0.7, 0.5, 0.55), 0.005, 32.0, 0.014, 0.7)
_PUSH_SHANK = 0.3  # the tibia sees a fraction of the shoe's toe-off transient
# the tibia keeps more of a forefoot landing's transient than the shoe does (forefoot
# running lowers peak tibial acceleration by ~20-40 %, not by half)
_SHANK_STRIKE_GAIN = (1.0, 1.0, 1.4)
_TOUCHDOWN_DECAY_S = 0.015  # the swing's deceleration at touchdown hands over to the ground
_TOUCHDOWN_REF_MPS = 1.9  # touchdown velocities below are for this running speed ...
_TOUCHDOWN_SPEED_EXP = 1.0  # ... and scale with speed / 1.9 m/s
_START_TAU_S = 0.5  # merged: time constant of the speed build-up after a standing start
_SHANK_ARREST = 2.0  # the heel pad and ankle spread the tibia's deceleration over more time
# merged running heel strike: the foot is already rotating toe-down at touchdown
# (_SLAP_W_IC, rad/s), the forefoot lands _SLAP_S after the heel at ~7 rad/s (real shoe
# gyroscopes read 6-9 rad/s there) and that rotation is arrested (time to peak _SLAP_TAU_S)
_SLAP_W_IC = -2.0
_SLAP_S = 0.030
_SLAP_TAU_S = 0.008
_SHANK_SLAP_TAU_S = 0.004  # the tibia's view of the slap: its own arrest spreads it already
# the shoe's sole and heel pad spread a heel strike's touchdown arrest over 25 % more time
# than the strike's nominal arrest_s (real heel-strike shoe impacts are ~21 ms wide at half
# height), a midfoot strike's (whole sole, less heel pad) over 15 %; per strike pattern
# (heel, midfoot, forefoot): a forefoot landing is already ~28 ms wide, and there are no real
# midfoot or forefoot shoe recordings to check these by
_FOOT_ARREST = (1.25, 1.15, 1.0)
_MERGED_LIFT = 0.5
# merged running foot: the irregular part of the shoe's contact burst (_contact_burst). Real
# shoe impacts carry 2-3x the simulated 15-50 Hz energy around the peak (per-stride spectra of
# the pyshoe trials), most of it an irregular multi-axis oscillation rather than one pulse;
# the deterministic 40 Hz ringing above is filtered out at 52 Hz and too regular
_BURST_N = 4
_BURST_HZ = (15.0, 40.0)
_BURST_G = 3.0
_BURST_TAU_S = 0.025
_BURST_RISE_S = 0.003
_BURST_END_S = 0.08  # real contact bursts last 40-80 ms; mid-stance is still

# one-sided hip sensor (hip_offset_m): near-side impact gain and far-side delay per metre of
# offset: at 15 cm the near leg's impacts are 1.3x, the far leg's 0.7x and 20 % slower
_HIP_IMPACT_PER_M = 2.0
_HIP_DELAY_PER_M = 1.4

# trunk: impact pulse time to peak, ringing, lean (deg), pitch/roll/yaw oscillation (deg)
_TRUNK = {
    "pelvis": {
        "tau": 0.022,
        "ring_hz": 8.0,
        "ring_tau": 0.045,
        "ring": 1.0,
        "brake": 0.8,
        "lean": 12.0,
        "pitch": 2.0,
        "roll": 3.0,
        "yaw": 5.0,
    },
    "chest": {
        "tau": 0.026,
        "ring_hz": 7.0,
        "ring_tau": 0.045,
        "ring": 0.8,
        "brake": 0.6,
        "lean": 8.0,
        "pitch": 1.5,
        "roll": 2.0,
        "yaw": 9.0,
    },
}


def _pulse(x: np.ndarray) -> np.ndarray:
    """Rising impact pulse ``x^2 exp(2 (1 - x))`` for ``x >= 0`` (0 before), peak 1 at x = 1."""
    xp = np.maximum(x, 0.0)
    return xp * xp * np.exp(2.0 * (1.0 - xp))


_PULSE_AREA = math.e**2 / 4.0  # integral of _pulse over x


def _ring(d: np.ndarray, ratio: float, f_hz: float, tau_s: float) -> np.ndarray:
    """Damped ringing starting at ``d = 0`` (the pulse peak) with a negative first lobe."""
    dp = np.maximum(d, 0.0)
    return -ratio * np.sin(2.0 * np.pi * f_hz * dp) * np.exp(-dp / tau_s)


def _bump(u: np.ndarray, a: float, b: float) -> np.ndarray:
    """``64 v^3 (1 - v)^3`` window on ``[a, b]`` (0 outside, C2 at the ends), peak 1 at the
    middle, so that swing shapes add no acceleration steps."""
    v = np.clip((u - a) / (b - a), 0.0, 1.0)
    w = v * (1.0 - v)
    return 64.0 * w * w * w


def _hermite5(u: np.ndarray, p0, dp0, p1, dp1, ddp1=None) -> np.ndarray:
    """Quintic Hermite with zero start second derivative and end second derivative ``ddp1``
    (zero when None); ``dp*``, ``ddp1`` are derivatives w.r.t. ``u``."""
    u2 = u * u
    u3 = u2 * u
    u4 = u3 * u
    u5 = u4 * u
    h0 = 1.0 - 10.0 * u3 + 15.0 * u4 - 6.0 * u5
    h1 = u - 6.0 * u3 + 8.0 * u4 - 3.0 * u5
    h4 = -4.0 * u3 + 7.0 * u4 - 3.0 * u5
    out = h0 * p0 + h1 * dp0 + (1.0 - h0) * p1 + h4 * dp1
    if ddp1 is not None:
        out = out + (0.5 * u3 - u4 + 0.5 * u5) * ddp1
    return out


# --------------------------------------------------------------------------------------------
# course


class _Course:
    """Segment table with scalar and vectorised look-ups."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        if len(segments) == 0:
            raise ValueError("segments must not be empty")
        for seg in segments:
            if not isinstance(seg, Segment):
                raise TypeError(f"segments must be Segment instances, got {type(seg).__name__}")
        self.segments = list(segments)
        dur = np.array([s.duration_s for s in segments])
        self.ends = np.cumsum(dur)
        self.starts = self.ends - dur
        self.total_s = float(self.ends[-1])
        self.act = np.array([ACTIVITIES.index(s.activity) for s in segments])
        self.speed = np.array(
            [
                s.speed_mps if s.speed_mps is not None else DEFAULT_SPEED_MPS[s.activity]
                for s in segments
            ]
        )
        self.speed_end = np.array(
            [
                s.speed_end_mps if s.speed_end_mps is not None else sp
                for s, sp in zip(segments, self.speed, strict=True)
            ]
        )
        self.dur = dur
        self.turn_rate = np.array([math.radians(s.turn_deg) / s.duration_s for s in segments])
        self.strike = np.array([STRIKES.index(s.strike) for s in segments])
        self.asym = np.array([s.step_asymmetry for s in segments])
        # grade knots: flat within a segment, linear ramps across boundaries
        knots_t: list[float] = []
        knots_g: list[float] = []
        for i, seg in enumerate(segments):
            w = min(1.5, seg.duration_s / 4.0)
            knots_t += [self.starts[i] + w, self.ends[i] - w]
            knots_g += [seg.grade_pct, seg.grade_pct]
        self.knots_t = np.array(knots_t)
        self.knots_g = np.array(knots_g)
        # turn-rate knots: a runner eases into and out of a curve (0.5 s ramps), so the lean
        # into the turn and the centripetal force never jump (a jump in one sample was a
        # 20 g spike on a one-sided hip sensor's lever arm)
        turn_t: list[float] = []
        turn_r: list[float] = []
        for i, seg in enumerate(segments):
            w = min(0.5, seg.duration_s / 4.0)
            turn_t += [self.starts[i] + w, self.ends[i] - w]
            turn_r += [self.turn_rate[i], self.turn_rate[i]]
        self.turn_knots_t = np.array(turn_t)
        self.turn_knots_r = np.array(turn_r)
        # distance along the path at segment boundaries
        moving = np.where(self.act == _STAND, 0.0, 0.5 * (self.speed + self.speed_end))
        self.dist_knots = np.concatenate([[0.0], np.cumsum(moving * dur)])
        self.edges = np.concatenate([[0.0], self.ends])

    def index(self, t: float) -> int:
        return min(int(np.searchsorted(self.ends, t, side="right")), len(self.segments) - 1)

    def index_v(self, t: np.ndarray) -> np.ndarray:
        return np.minimum(np.searchsorted(self.ends, t, side="right"), len(self.segments) - 1)

    def _frac(self, i: int, t: float) -> float:
        return min(max((t - self.starts[i]) / self.segments[i].duration_s, 0.0), 1.0)

    def cadence(self, t: float) -> float:
        i = self.index(t)
        seg = self.segments[i]
        act = seg.activity if seg.activity != "stand" else "walk"
        c0 = seg.cadence_spm if seg.cadence_spm is not None else DEFAULT_CADENCE_SPM[act]
        c1 = seg.cadence_end_spm if seg.cadence_end_spm is not None else c0
        return c0 + (c1 - c0) * self._frac(i, t)

    def impact(self, t: float) -> float:
        i = self.index(t)
        seg = self.segments[i]
        s1 = seg.impact_scale_end if seg.impact_scale_end is not None else seg.impact_scale
        return seg.impact_scale + (s1 - seg.impact_scale) * self._frac(i, t)

    def activity(self, t: float) -> int:
        return int(self.act[self.index(t)])

    def speed_at(self, t: float) -> float:
        i = self.index(t)
        return float(self.speed[i] + (self.speed_end[i] - self.speed[i]) * self._frac(i, t))

    def speed_v(self, t: np.ndarray) -> np.ndarray:
        """Speed along the path at ``t`` (0 while standing)."""
        i = self.index_v(t)
        frac = np.clip((t - self.starts[i]) / self.dur[i], 0.0, 1.0)
        v = self.speed[i] + (self.speed_end[i] - self.speed[i]) * frac
        return np.where(self.act[i] == _STAND, 0.0, v)

    def grade(self, t: np.ndarray) -> np.ndarray:
        return np.interp(t, self.knots_t, self.knots_g)

    def turn_rate_v(self, t: np.ndarray) -> np.ndarray:
        """Yaw rate (rad/s) at ``t``: the segment's, eased across its boundaries."""
        return np.interp(t, self.turn_knots_t, self.turn_knots_r)

    def distance(self, t: float) -> float:
        d = float(np.interp(t, self.edges, self.dist_knots))
        i = self.index(t)
        dv = self.speed_end[i] - self.speed[i]
        if dv != 0.0 and self.act[i] != _STAND:  # quadratic within a speed ramp
            x = min(max(t - self.starts[i], 0.0), self.dur[i])
            d += dv * x * (x - self.dur[i]) / (2.0 * self.dur[i])
        return d

    def bouts(self) -> list[tuple[float, float]]:
        """Time spans of consecutive non-stand segments."""
        out: list[tuple[float, float]] = []
        start: float | None = None
        for i in range(len(self.segments)):
            if self.act[i] != _STAND and start is None:
                start = float(self.starts[i])
            if self.act[i] == _STAND and start is not None:
                out.append((start, float(self.starts[i])))
                start = None
        if start is not None:
            out.append((start, self.total_s))
        return out


def _duty(act: int, speed_mps: float) -> float:
    base = _GAIT[act].duty
    if act == _RUN:
        return float(np.clip(base * (3.0 / max(speed_mps, 0.5)) ** 0.3, 0.55, 0.95))
    return base


# --------------------------------------------------------------------------------------------
# step timeline


_CONTACT_FIELDS: tuple[str, ...] = (
    # timing: initial contact, foot flat, heel off, toe off, nominal stance time (s)
    "ic", "ff", "ho", "to", "tc",
    # heel position along the path (m), activity code, impact factor
    "s", "act", "imp",
    # foot pitch at IC / TO (rad); swing (ending at this contact): dip (rad), lift, lateral (m)
    "phi_ic", "phi_to", "dip", "lift", "lat",
    # tibia angle at IC, heel off (reached at t_th), TO; swing back/forward bumps (rad)
    "th_ic", "th_ho", "t_th", "th_to", "th_back", "th_fwd",
    # local step period (s), sign of the lateral impact, 1 for a real step (0: standing start)
    "step_T", "sign_y", "real",
    # strike pattern code (STRIKES), touchdown velocity (s, n; m/s) and acceleration (s, n;
    # m/s^2) of the sensor point for terminal_swing="merged"
    "strike", "vt_s", "vt_n", "at_s", "at_n",
    # toe-off transient factor of this contact (1 running, 0.3 walking; 0: none yet)
    "push",
)  # fmt: skip


class _ContactList:
    """Per-foot contacts (stance periods) under construction; swing params belong to the
    contact that ends the swing."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def add(self, **kw: float) -> None:
        row = dict.fromkeys(_CONTACT_FIELDS, 0.0)
        row.update(kw)
        self.rows.append(row)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.array([r[k] for r in self.rows]) for k in _CONTACT_FIELDS}


@dataclass
class _Timeline:
    strike_t: np.ndarray
    strike_foot: np.ndarray
    toe_off: np.ndarray
    cadence: np.ndarray
    contacts: list[dict[str, np.ndarray]]
    bouts: list[tuple[float, float, float, float]]  # first IC, its tc, closing IC, closing tc


def _depart(row: dict[str, float], to: float, act: int, tc: float) -> None:
    """Give a standing (pending) contact its heel-off and toe-off."""
    g = _GAIT[act]
    push = (1.0 - g.u_ho) * tc
    ho = max(to - push, row["ff"] + 0.02, row["t_th"] + 0.02)
    row["ho"] = ho
    row["to"] = max(to, ho + 0.05)
    row["phi_to"] = math.radians(g.foot_to_deg)
    row["th_to"] = math.radians(g.shank_to_deg)
    row["push"] = 1.0 if act == _RUN else 0.3


def _build_timeline(
    course: _Course, rng: np.random.Generator, rng_new: np.random.Generator | None = None
) -> _Timeline:
    """Steps of every bout. ``rng`` draws everything the legacy model draws (so that its
    output stays the same), ``rng_new`` the variability of the newer options."""
    if rng_new is None:
        rng_new = np.random.default_rng(0)
    feet = [_ContactList(), _ContactList()]
    for f in (0, 1):  # standing since forever
        feet[f].add(ic=-_BIG, ff=-_BIG + 0.01, ho=_BIG, to=_BIG + 0.05, tc=0.01, t_th=-_BIG + 0.01)
    strikes: list[tuple[float, int, float, float]] = []  # t, foot, toe-off, cadence
    bouts: list[tuple[float, float, float, float]] = []
    e = 0.0
    for b0, b1 in course.bouts():
        first = int(rng.integers(2))
        act0 = course.activity(b0)
        T0 = 60.0 / course.cadence(b0)
        tc0 = _duty(act0, course.speed_at(b0)) * T0
        ic0 = b0 + 0.8 * (2.0 * T0 - tc0)
        if ic0 + 0.5 * T0 > b1:
            continue  # too short to take a step: stays standing
        ics = [ic0]
        t = ic0
        while True:
            e = 0.5 * e + math.sqrt(0.75) * CADENCE_JITTER * rng.standard_normal()
            T = 60.0 / course.cadence(t) * (1.0 + e)
            asym = float(course.asym[course.index(t)])
            if asym != 0.0:  # the step ends with foot `first` on even indices
                ends_left = (first if len(ics) % 2 == 0 else 1 - first) == 0
                T *= 1.0 + asym if ends_left else 1.0 - asym
            if t + T > b1 - 0.02:
                break
            t += T
            ics.append(t)
        _depart(feet[first].rows[-1], b0, act0, tc0)
        if len(ics) >= 2:
            _depart(feet[1 - first].rows[-1], ic0 + tc0 - T0, act0, tc0)
        n_ic = len(ics)
        close_tc = first_tc = tc0
        for j, ic in enumerate(ics):
            foot = first if j % 2 == 0 else 1 - first
            act = course.activity(ic)
            g = _GAIT[act]
            speed = course.speed_at(ic)
            scale = course.impact(ic)
            T_loc = 60.0 / course.cadence(ic)
            tc = _duty(act, speed) * T_loc
            if j + 2 < n_ic:  # keep a swing of >= 38 % of the stride across walk/run changes
                tc = min(tc, MAX_STANCE_FRACTION * (ics[j + 2] - ic))
            z = rng.standard_normal(8)
            zn = rng_new.standard_normal(4)
            pending = j >= n_ic - 2
            strike = int(course.strike[course.index(ic)]) if act == _RUN else 0
            if strike == 0:
                phi_ic = math.radians(min(g.foot_ic_deg * scale * (1.0 + 0.06 * z[0]), 35.0))
                u_ff = g.u_ff
            else:
                sp = _STRIKE[strike]
                phi_ic = math.radians(sp.foot_ic_deg * (1.0 + 0.15 * z[0]))
                u_ff = sp.u_ff
            sp = _STRIKE[strike]
            # touchdown speed grows with running speed (measured at 1.9 m/s on real shoes)
            v_scale = scale * (1.0 + 0.08 * zn[0])
            v_scale *= (speed / _TOUCHDOWN_REF_MPS) ** _TOUCHDOWN_SPEED_EXP if act == _RUN else 0.35
            a_scale = 1.0 if act == _RUN else 0.35
            row = {
                "ic": ic,
                "ff": ic + u_ff * tc,
                "ho": _BIG if pending else ic + g.u_ho * tc,
                "to": _BIG + 0.05 if pending else ic + tc,
                "tc": tc,
                "s": course.distance(ic),
                "act": float(act),
                "imp": scale * math.exp(IMPACT_SPREAD * z[1] - 0.5 * IMPACT_SPREAD**2),
                "phi_ic": phi_ic,
                "phi_to": math.radians(g.foot_to_deg * (1.0 + 0.05 * z[2])),
                "dip": math.radians(g.foot_dip_deg * (1.0 + 0.1 * z[3])),
                "lift": g.lift_m
                * math.sqrt(speed / DEFAULT_SPEED_MPS["run" if act == _RUN else "walk"])
                * (1.0 + 0.08 * z[4]),
                "lat": g.lateral_m * (1.0 + 0.2 * z[5]),
                "th_ic": math.radians(
                    (g.shank_ic_deg if strike == 0 else sp.shank_ic_deg)
                    - g.shank_overstride_deg * (scale - 1.0)
                ),
                "th_ho": 0.0 if pending else math.radians(g.shank_ho_deg),
                "t_th": ic + 0.5 * tc if pending else ic + g.u_ho * tc,
                "th_to": math.radians(g.shank_to_deg),
                "th_back": math.radians(g.shank_back_deg * (1.0 + 0.08 * z[6])),
                "th_fwd": math.radians(g.shank_fwd_deg * (1.0 + 0.08 * z[7])),
                "step_T": T_loc,
                "sign_y": 1.0 if rng.random() < 0.5 else -1.0,
                "real": 1.0,
                "strike": float(strike),
                "vt_s": sp.touchdown_mps[0] * v_scale * (1.0 + 0.15 * zn[1]),
                "vt_n": sp.touchdown_mps[1] * v_scale,
                "at_s": sp.touchdown_g[0] * G_MPS2 * (1.0 + 0.15 * zn[2]) * a_scale,
                "at_n": sp.touchdown_g[1] * G_MPS2 * a_scale,
                "push": (1.0 if act == _RUN else 0.3) * math.exp(0.12 * zn[3]),
            }
            feet[foot].add(**row)
            if j == 0:
                first_tc = tc
            toe_off = math.nan if pending else ic + tc
            cad = math.nan if j == 0 else 60.0 / (ic - ics[j - 1])
            strikes.append((ic, foot, toe_off, cad))
            close_tc = tc
        bouts.append((ic0, first_tc, ics[-1], close_tc))
    arr = np.array(strikes, dtype=float).reshape(-1, 4)
    return _Timeline(
        strike_t=arr[:, 0].copy(),
        strike_foot=arr[:, 1].astype(np.int8),
        toe_off=arr[:, 2].copy(),
        cadence=arr[:, 3].copy(),
        contacts=[feet[0].arrays(), feet[1].arrays()],
        bouts=bouts,
    )


# --------------------------------------------------------------------------------------------
# synthesis


def _rot2(
    phi: np.ndarray, r: tuple[float, float] | tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(phi), np.sin(phi)
    return c * r[0] - s * r[1], s * r[0] + c * r[1]


def _arrest(
    x: np.ndarray, v: np.ndarray, a: np.ndarray, tau: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Displacement (relative to the final rest position) of a point that touches down at
    ``x = 0`` with velocity ``v`` and acceleration ``a``: the swing's acceleration decays over
    ``_TOUCHDOWN_DECAY_S`` while an impact pulse ``z^2 exp(-2 z)``, ``z = x / tau``, removes the
    rest of the velocity. Returns the displacement and its value at ``x = 0``."""
    t1 = _TOUCHDOWN_DECAY_S
    z = np.maximum(x, 0.0) / tau
    rest = v + a * t1
    disp = a * t1 * t1 * np.exp(-np.maximum(x, 0.0) / t1) - rest * tau * np.exp(-2.0 * z) * (
        z * z + 2.0 * z + 1.5
    )
    return disp, a * t1 * t1 - 1.5 * rest * tau


def _limb(
    t: np.ndarray,
    C: dict[str, np.ndarray],
    r: tuple[float, float],
    merged: bool = False,
    arrest_scale: float | tuple[float, float, float] = 1.0,
    slap_tau_s: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Slope-frame position (s, n) of a point fixed in the foot, the foot pitch relative to the
    ground, the contact index and the swing phase (NaN in stance) of each time.

    ``merged``: the swing ends with the contact's touchdown velocity and acceleration instead
    of at rest, and the stance adds the arrest of that velocity (:func:`_arrest`);
    ``slap_tau_s`` is the time to peak of the forefoot slap's arrest (``_SLAP_TAU_S``)."""
    slap_tau = _SLAP_TAU_S if slap_tau_s is None else slap_tau_s
    k = np.searchsorted(C["ic"], t, side="right") - 1
    ic, ff, ho, to = C["ic"][k], C["ff"][k], C["ho"][k], C["to"][k]
    s = np.empty_like(t)
    n = np.empty_like(t)
    phi = np.empty_like(t)
    u_sw = np.full_like(t, np.nan)
    rm = (r[0] - _R_MTP[0], r[1] - _R_MTP[1])
    slap_c = (C["strike"] == 0.0) & (C["act"] == float(_RUN)) & (C["real"] > 0)
    if merged and slap_c.any():
        # running heel strike: a short, fast rocker ending in the forefoot slap
        ff = np.where(slap_c[k], ic + _SLAP_S, ff)
    # heel rocker: rotate about the heel from phi_ic to 0 (smootherstep: the foot slap
    # accelerates gradually after the heel lands, and stops at foot flat); forefoot strikes
    # rotate about the metatarsal heads instead (the heel lowers)
    fore = C["strike"] == 2.0
    piv_s = np.where(fore, _R_MTP[0], 0.0)
    piv_n = np.where(fore, _R_MTP[1], 0.0)
    m = t < ff
    v = (t[m] - ic[m]) / (ff[m] - ic[m])
    ph = C["phi_ic"][k[m]] * (1.0 - v * v * v * (10.0 - 15.0 * v + 6.0 * v * v))
    if merged and slap_c.any():
        sl = slap_c[k[m]]
        ph[sl] = _slap_rocker(v[sl], C["phi_ic"][k[m][sl]], slap_tau)
    if fore.any():
        ps, pn = piv_s[k[m]], piv_n[k[m]]
        ds, dn = _rot2(ph, (r[0] - ps, r[1] - pn))
        s[m], n[m], phi[m] = C["s"][k[m]] + ps + ds, pn + dn, ph
    else:
        ds, dn = _rot2(ph, r)
        s[m], n[m], phi[m] = C["s"][k[m]] + ds, dn, ph
    # foot flat
    m = (t >= ff) & (t < ho)
    s[m], n[m], phi[m] = C["s"][k[m]] + r[0], r[1], 0.0
    if merged and slap_c.any():
        # the slap: the forefoot lands and the foot's rotation is arrested within ~20 ms
        m &= slap_c[k] & (t < ff + 0.1)
        w_ff = _slap_rate(C["phi_ic"][k[m]], slap_tau)
        ph = _arrest(t[m] - ff[m], w_ff, np.zeros_like(w_ff), np.full_like(w_ff, slap_tau))[0]
        ds, dn = _rot2(ph, r)
        s[m], n[m], phi[m] = C["s"][k[m]] + ds, dn, ph
    # push-off: rotate about the metatarsal heads, phi = phi_to v^2
    m = (t >= ho) & (t < to)
    v = (t[m] - ho[m]) / (to[m] - ho[m])
    ph = C["phi_to"][k[m]] * v * v
    ds, dn = _rot2(ph, rm)
    s[m], n[m], phi[m] = C["s"][k[m]] + _R_MTP[0] + ds, _R_MTP[1] + dn, ph
    # swing: quintic Hermite from the toe-off state of contact k to the IC state of k + 1
    m = t >= to
    kk = k[m]
    k1 = kk + 1
    D = C["ic"][k1] - C["to"][kk]
    u = (t[m] - C["to"][kk]) / D
    phi0 = C["phi_to"][kk]
    w0 = 2.0 * phi0 / (C["to"][kk] - C["ho"][kk])
    p0s, p0n = _rot2(phi0, rm)
    p0s += C["s"][kk] + _R_MTP[0]
    p0n += _R_MTP[1]
    v0s, v0n = _rot2(phi0 + np.pi / 2.0, rm)
    v0s *= w0 * D
    v0n *= w0 * D
    if fore.any():
        ps, pn = piv_s[k1], piv_n[k1]
        p1s, p1n = _rot2(C["phi_ic"][k1], (r[0] - ps, r[1] - pn))
        p1s += C["s"][k1] + ps
        p1n += pn
    else:
        p1s, p1n = _rot2(C["phi_ic"][k1], r)
        p1s += C["s"][k1]
    if merged:
        tau = _arrest_tau(C, k1, arrest_scale)
        _, x0s = _arrest(np.zeros(1), C["vt_s"][k1], C["at_s"][k1], tau)
        _, x0n = _arrest(np.zeros(1), C["vt_n"][k1], C["at_n"][k1], tau)
        # a heel strike lands while the foot already rotates (rate _SLAP_W_IC about the heel)
        w_ic = np.where(slap_c[k1], _SLAP_W_IC, 0.0)
        rs, rn = _rot2(C["phi_ic"][k1] + np.pi / 2.0, r)
        v1s = C["vt_s"][k1] + w_ic * rs
        v1n = C["vt_n"][k1] + w_ic * rn
        # forward progress from an acceleration profile like the real one: a gentle
        # (parabolic) push over the first 70 % of the swing, a braking window building up from
        # 20 % of the swing (peak at 73 %) and the touchdown deceleration rising in over the
        # last 15 % (_SWING_WINDOWS); the push and braking amplitudes meet the end position
        # and speed
        s[m] = _swing_progress(u, p0s, v0s, p1s + x0s, v1s * D, C["at_s"][k1] * D * D)
        # real shoe sensors rise ~15 cm above their stance height (zero-velocity-update
        # integration of the shoe trials), toe-off elevation included
        n[m] = _hermite5(u, p0n, v0n, p1n + x0n, v1n * D, C["at_n"][k1] * D * D) + (
            _MERGED_LIFT * C["lift"][k1] * _bump(u, 0.0, 0.8)
        )
    else:
        s[m] = _hermite5(u, p0s, v0s, p1s, 0.0)
        n[m] = _hermite5(u, p0n, v0n, p1n, 0.0) + C["lift"][k1] * _bump(u, 0.0, 0.8)
    w1 = np.where(slap_c[k1], _SLAP_W_IC * D, 0.0) if merged else 0.0
    phi[m] = _hermite5(u, phi0, w0 * D, C["phi_ic"][k1], w1) + C["dip"][k1] * _bump(u, 0.0, 0.7)
    u_sw[m] = u
    if merged:  # stance: the touchdown velocity is arrested by the ground
        m = (t >= ic) & (t < to) & (C["real"][k] > 0)
        km = k[m]
        x = t[m] - ic[m]
        tau = _arrest_tau(C, km, arrest_scale)
        s[m] += _arrest(x, C["vt_s"][km], C["at_s"][km], tau)[0]
        n[m] += _arrest(x, C["vt_n"][km], C["at_n"][km], tau)[0]
    return s, n, phi, k, u_sw


def _slap_rate(phi_ic: np.ndarray, slap_tau_s: float) -> np.ndarray:
    """Pitch rate at the end of the merged heel rocker (rad/s): the quadratic rocker that
    starts at ``phi_ic`` with rate ``_SLAP_W_IC`` and lands on the arrest's start angle."""
    return -(_SLAP_W_IC * _SLAP_S + 2.0 * phi_ic) / (_SLAP_S + 3.0 * slap_tau_s)


def _slap_rocker(v: np.ndarray, phi_ic: np.ndarray, slap_tau_s: float) -> np.ndarray:
    """Sole pitch over the merged heel rocker, ``v`` in [0, 1] from IC to the slap."""
    b = _SLAP_W_IC * _SLAP_S
    c = -1.5 * slap_tau_s * _slap_rate(phi_ic, slap_tau_s) - phi_ic - b
    return phi_ic + b * v + c * v * v


def _window_integrals(
    c: np.ndarray, a: float, b: float
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Coefficients of the first and second integrals (from 0) of a window polynomial ``c`` in
    ``x = (u - a) / (b - a)``, and their values at ``x = 1``."""
    c1 = np.polynomial.polynomial.polyint(c)
    c2 = np.polynomial.polynomial.polyint(c1)
    return c1, c2, float(np.sum(c1)), float(np.sum(c2))


_BUMP_POLY = np.polynomial.polynomial.polymul([0, 0, 0, 64.0], [1.0, -3.0, 3.0, -1.0])
_STEP_POLY = np.array([0.0, 0.0, 0.0, 10.0, -15.0, 6.0])
_PARABOLA_POLY = np.array([0.0, 4.0, -4.0])
# braking window x^4 (1 - x)^2 (peak 1 at x = 2/3): it builds up slowly and ends faster
_LATE_BUMP_POLY = (
    729.0 / 16.0 * np.polynomial.polynomial.polymul([0, 0, 0, 0, 1.0], [1.0, -2.0, 1.0])
)
#: merged swing windows (fractions of the swing): push, braking, touchdown deceleration. The
#: braking builds up from 20 % of the swing (peak at 73 %) while the push fades out by 70 %:
#: the forward acceleration turns over ~0.25 s as in the real shoe data (a braking window
#: over the last 55 % only, with the push lasting to 75 %, turned it within ~0.08 s: a jerk
#: 0.19 s before IC that the 52 Hz detection signal saw as large as the impact)
_SWING_WINDOWS = (
    (_PARABOLA_POLY, 0.0, 0.7),
    (_LATE_BUMP_POLY, 0.2, 1.0),
    (_STEP_POLY, 0.85, 1.0),
)
_SWING_INTEGRALS = tuple(_window_integrals(c, a, b) for c, a, b in _SWING_WINDOWS)


def _window_i2(u: np.ndarray, k: int) -> tuple[np.ndarray, float, float]:
    """Second integral of swing window ``k`` at ``u`` and both integrals at ``u = 1``."""
    _, a, b = _SWING_WINDOWS[k]
    _, c2, p1, p2 = _SWING_INTEGRALS[k]
    L = b - a
    x = np.clip((u - a) / L, 0.0, 1.0)
    i2 = L * L * np.polynomial.polynomial.polyval(x, c2) + L * p1 * np.maximum(u - b, 0.0)
    return i2, L * p1, L * L * p2 + L * p1 * (1.0 - b)


def _swing_progress(u: np.ndarray, p0, v0, p1, v1, a1) -> np.ndarray:
    """Swing path from position ``p0`` / speed ``v0`` to ``p1`` / ``v1`` / acceleration ``a1``
    (derivatives w.r.t. ``u``), acceleration = push window - braking window + ``a1`` step."""
    i2_push, e1_push, e2_push = _window_i2(u, 0)
    i2_brake, e1_brake, e2_brake = _window_i2(u, 1)
    i2_end, e1_end, e2_end = _window_i2(u, 2)
    # solve [e1_push, -e1_brake; e2_push, -e2_brake] [A, B] = rhs (Cramer's rule)
    r1 = v1 - v0 - a1 * e1_end
    r2 = p1 - p0 - v0 - a1 * e2_end
    det = -e1_push * e2_brake + e1_brake * e2_push
    A = (-r1 * e2_brake + e1_brake * r2) / det
    B = (e1_push * r2 - e2_push * r1) / det
    return p0 + v0 * u + A * i2_push - B * i2_brake + a1 * i2_end


def _arrest_tau(
    C: dict[str, np.ndarray], k: np.ndarray, scale: float | tuple[float, float, float] = 1.0
) -> np.ndarray:
    """Time to peak of the touchdown arrest of contacts ``k``: the strike pattern's
    ``arrest_s`` times ``scale`` (one value, or one per pattern)."""
    per = np.array([sp.arrest_s for sp in _STRIKE]) * np.broadcast_to(np.asarray(scale), (3,))
    return per[C["strike"][k].astype(int)]


def _shank_angle(t: np.ndarray, C: dict[str, np.ndarray], k: np.ndarray) -> np.ndarray:
    """Tibia angle to the ground normal (positive: knee ahead of the ankle)."""
    ic, ho, to, t_th = C["ic"][k], C["ho"][k], C["to"][k], C["t_th"][k]
    th = np.empty_like(t)
    m = t < t_th
    v = np.clip((t[m] - ic[m]) / (t_th[m] - ic[m]), 0.0, 1.0)
    th[m] = C["th_ic"][k[m]] + (C["th_ho"][k[m]] - C["th_ic"][k[m]]) * v * v * (3.0 - 2.0 * v)
    m = (t >= t_th) & (t < ho)
    th[m] = C["th_ho"][k[m]]
    m = (t >= ho) & (t < to) & (t >= t_th)
    v = (t[m] - ho[m]) / (to[m] - ho[m])
    th[m] = C["th_ho"][k[m]] + (C["th_to"][k[m]] - C["th_ho"][k[m]]) * v * v
    m = t >= to
    kk = k[m]
    k1 = kk + 1
    D = C["ic"][k1] - C["to"][kk]
    u = (t[m] - C["to"][kk]) / D
    w0 = 2.0 * (C["th_to"][kk] - C["th_ho"][kk]) / (C["to"][kk] - C["ho"][kk])
    th[m] = (
        _hermite5(u, C["th_to"][kk], w0 * D, C["th_ic"][k1], 0.0)
        + C["th_back"][k1] * _bump(u, 0.0, 0.6)
        + C["th_fwd"][k1] * _bump(u, 0.5, 1.0)
    )
    return th


def _transient(
    t: np.ndarray, C: dict[str, np.ndarray], k: np.ndarray, which: str, merged: bool = False
) -> np.ndarray:
    """Impact transients of the contacts ``k`` in segment axes (N, 3), g."""
    out = np.zeros((t.size, 3))
    dt = t - C["ic"][k]
    m = (dt >= 0.0) & (dt < 0.25) & (C["real"][k] > 0)
    kk = k[m]
    dtm = dt[m]
    act = C["act"][kk].astype(int)
    strike = C["strike"][kk].astype(int)
    for a in (_RUN, _WALK):
        tr: _Transient = getattr(_GAIT[a], which)
        if merged and a == _RUN:
            tr = _FOOT_TR_MERGED if which == "foot_tr" else _SHANK_TR_MERGED
        sel = act == a
        d = dtm[sel]
        if a == _RUN and np.any(strike[sel] != 0):
            st = strike[sel]
            tau = tr.tau_s * np.array([x.transient_tau for x in _STRIKE])[st]
            gain = np.array([x.transient for x in _STRIKE])[st]
            if which == "shank_tr":
                gain = gain * np.array(_SHANK_STRIKE_GAIN)[st]
            shape = gain * (_pulse(d / tau) + _ring(d - tau, tr.ring, tr.ring_hz, tr.ring_tau_s))
            if merged and which == "foot_tr" and _FOOT_BROAD > 0.0:
                shape = shape + gain * _FOOT_BROAD * _pulse(
                    d / (_FOOT_BROAD_TAU_S * tau / tr.tau_s)
                )
        else:
            shape = _pulse(d / tr.tau_s) + _ring(d - tr.tau_s, tr.ring, tr.ring_hz, tr.ring_tau_s)
            if merged and a == _RUN and which == "foot_tr" and _FOOT_BROAD > 0.0:
                shape = shape + _FOOT_BROAD * _pulse(d / _FOOT_BROAD_TAU_S)
        amp = C["imp"][kk[sel]] * shape
        idx = np.flatnonzero(m)[sel]
        out[idx, 0] = tr.amp_g[0] * amp
        out[idx, 1] = tr.amp_g[1] * amp * C["sign_y"][kk[sel]]
        out[idx, 2] = tr.amp_g[2] * amp
    return out


def _pushoff(t: np.ndarray, C: dict[str, np.ndarray], k: np.ndarray, amp_g: float) -> np.ndarray:
    """Toe-off transients (N, 3) in segment axes: the shoe's forefoot leaving the ground."""
    out = np.zeros((t.size, 3))
    dt = t - C["to"][k]
    m = (dt >= 0.0) & (dt < 0.12) & (C["push"][k] > 0)
    d = dt[m]
    tr = _PUSH_TR
    shape = _pulse(d / tr.tau_s) + _ring(d - tr.tau_s, tr.ring, tr.ring_hz, tr.ring_tau_s)
    amp = amp_g * C["push"][k[m]] * shape
    out[m, 0] = tr.amp_g[0] * amp
    out[m, 1] = tr.amp_g[1] * amp * C["sign_y"][k[m]]
    out[m, 2] = tr.amp_g[2] * amp
    return out


def _contact_burst(
    t: np.ndarray, C: dict[str, np.ndarray], k: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Merged running foot: the irregular part of the shoe's contact burst (N, 3) in segment
    axes, g. Each running contact gets ``_BURST_N`` damped oscillations with frequencies
    uniform in ``_BURST_HZ``, uniformly random directions and phases (seeded per contact,
    independent of the sample rate), each of amplitude ``_BURST_G`` x the step's impact x the
    strike pattern's transient scale, rising over ``_BURST_RISE_S`` from IC, decaying with
    ``_BURST_TAU_S`` and tapered to zero at ``_BURST_END_S``."""
    nc = C["ic"].size
    f_hz = rng.uniform(_BURST_HZ[0], _BURST_HZ[1], (nc, _BURST_N))
    ph = rng.uniform(0.0, 2.0 * np.pi, (nc, _BURST_N))
    u = rng.standard_normal((nc, _BURST_N, 3))
    u /= np.linalg.norm(u, axis=2, keepdims=True)
    out = np.zeros((t.size, 3))
    dt = t - C["ic"][k]
    m = (dt >= 0.0) & (dt < _BURST_END_S) & (C["real"][k] > 0) & (C["act"][k] == _RUN)
    if not m.any():
        return out
    kk = k[m]
    d = dt[m]
    gain = np.array([x.transient for x in _STRIKE])[C["strike"][kk].astype(int)]
    env = _BURST_G * C["imp"][kk] * gain * (1.0 - np.exp(-d / _BURST_RISE_S))
    env *= np.exp(-d / _BURST_TAU_S) * np.cos(0.5 * np.pi * d / _BURST_END_S) ** 2
    osc = np.sin(2.0 * np.pi * f_hz[kk] * d[:, None] + ph[kk])  # (M, _BURST_N)
    out[m] = env[:, None] * np.einsum("mj,mjc->mc", osc, u[kk])
    return out


def _second_diff(p: np.ndarray, h: float) -> np.ndarray:
    return (p[2:] - 2.0 * p[1:-1] + p[:-2]) / (h * h)


def _standing_start_steps(C: dict[str, np.ndarray], course: _Course) -> dict[str, np.ndarray]:
    """Contacts whose positions accelerate from standing: a bout's footfalls follow
    ``v (t - b0) - v tau (1 - exp(-(t - b0) / tau))`` instead of starting at full speed, so
    the first steps are short and land slower (the timing is unchanged)."""
    out = {k: v.copy() for k, v in C.items()}
    for b0, b1 in course.bouts():
        v = course.speed_at(b0)
        m = (C["ic"] >= b0) & (C["ic"] < b1) & (C["real"] > 0)
        x = C["ic"][m] - b0
        out["s"][m] -= v * _START_TAU_S * (1.0 - np.exp(-x / _START_TAU_S))
        # later bouts start where this one ended
        out["s"][C["ic"] >= b1] -= v * _START_TAU_S * (1.0 - math.exp(-(b1 - b0) / _START_TAU_S))
        build_up = np.maximum(1.0 - np.exp(-x / _START_TAU_S), 0.3)  # speed / full speed
        for key in ("vt_s", "vt_n", "at_s", "at_n"):
            out[key][m] *= build_up
    return out


def _limb_signal(
    t: np.ndarray,
    h: float,
    course: _Course,
    tl: _Timeline,
    placement: str,
    merged: bool = False,
    pushoff_g: float = 0.0,
    rng_burst: np.random.Generator | None = None,
) -> np.ndarray:
    """Body-frame specific force (N, 3) of a foot or shank sensor on foot 0; ``t`` is padded
    by one sample at each end (the result is not). ``rng_burst`` draws the merged foot's
    contact bursts (default: seed 0)."""
    C = tl.contacts[0]
    if merged:
        C = _standing_start_steps(C, course)
    if placement == "foot":
        s, n, phi, k, u_sw = _limb(t, C, _R_SENSOR_FOOT, merged, _FOOT_ARREST)
        ang = phi
    else:
        s, n, _, k, u_sw = _limb(t, C, _R_ANKLE, merged, _SHANK_ARREST, _SHANK_SLAP_TAU_S)
        ang = _shank_angle(t, C, k)
        s = s + _SHANK_SENSOR_M * np.sin(ang)
        n = n + _SHANK_SENSOR_M * np.cos(ang)
    # lateral circumduction of the swing foot (the left foot swings out to +y)
    y = np.zeros_like(t)
    sw = ~np.isnan(u_sw)
    y[sw] = C["lat"][k[sw] + 1] * _bump(u_sw[sw], 0.0, 1.0)
    a_s = _second_diff(s, h) / G_MPS2
    a_n = _second_diff(n, h) / G_MPS2
    a_y = _second_diff(y, h) / G_MPS2
    tc = t[1:-1]
    k = k[1:-1]
    ang = ang[1:-1]
    v_s = (s[2:] - s[:-2]) / (2.0 * h)
    a_y += v_s * course.turn_rate_v(tc) / G_MPS2
    alpha = np.arctan(course.grade(tc) / 100.0)
    f_s = a_s + np.sin(alpha)
    f_n = a_n + np.cos(alpha)
    c, si = np.cos(ang), np.sin(ang)
    out = np.zeros((tc.size, 3))
    if placement == "foot":
        out[:, 0] = c * f_s + si * f_n
        out[:, 2] = -si * f_s + c * f_n
        out += _transient(tc, C, k, "foot_tr", merged)
        if merged and _BURST_G > 0.0:
            rb = rng_burst if rng_burst is not None else np.random.default_rng(0)
            out += _contact_burst(tc, C, k, rb)
    else:
        out[:, 0] = c * f_s - si * f_n
        out[:, 2] = si * f_s + c * f_n
        out += _transient(tc, C, k, "shank_tr", merged)
    if pushoff_g > 0.0:
        scale = 1.0 if placement == "foot" else _PUSH_SHANK
        out += _pushoff(tc, C, k, scale * pushoff_g)
    out[:, 1] += a_y
    return out


def _pushoffs(tl: _Timeline, course: _Course) -> dict[float, tuple[float, float, float]]:
    """The push-off from standing of every bout that starts running, by its first IC:
    ``(start, flight_s, speed gained m/s)``. The push-off stance lasts one stance time and
    ends one flight time before the first landing (step time minus stance time)."""
    out: dict[float, tuple[float, float, float]] = {}
    for ic0, *_ in tl.bouts:
        for C in tl.contacts:
            k = np.flatnonzero((C["ic"] == ic0) & (C["real"] > 0))
            if k.size == 0:
                continue
            j = int(k[0])
            if int(C["act"][j]) != _RUN:
                break
            tf = float(C["step_T"][j] - C["tc"][j])
            if tf > 0.0:
                out[ic0] = (ic0 - tf - float(C["tc"][j]), tf, course.speed_at(ic0) / 3.0)
            break
    return out


def _stand_weight(
    t: np.ndarray, tl: _Timeline, pushoffs: dict[float, tuple[float, float, float]] | None = None
) -> np.ndarray:
    """1 while standing (both feet carry the weight), 0 while moving: hands over to the step
    forces during the first step of a bout and back after the last; a bout that starts with a
    push-off (``pushoffs``) hands over during the push-off instead, so that its first flight
    is a flight."""
    kt: list[float] = []
    kv: list[float] = []
    for ic0, tc0, close, close_tc in tl.bouts:
        if pushoffs and ic0 in pushoffs:
            p0, tf, _ = pushoffs[ic0]
            kt += [p0, ic0 - tf, close, close + 0.5 * close_tc]
        else:
            kt += [ic0, ic0 + 0.5 * tc0, close, close + 0.5 * close_tc]
        kv += [1.0, 0.0, 0.0, 1.0]
    if not kt:
        return np.ones_like(t)
    return np.interp(t, np.array(kt), np.array(kv), left=1.0, right=1.0)


_GRF_SKEW = 0.8
_U_GRID = (np.arange(4000) + 0.5) / 4000.0
#: means over the stance of sin(k pi u^skew), k = 1, 2, 3
_GRF_MEAN = tuple(float(np.mean(np.sin(k * np.pi * _U_GRID**_GRF_SKEW))) for k in (1, 2, 3))


def _trunk_signal(
    t: np.ndarray,
    course: _Course,
    tl: _Timeline,
    placement: str,
    rng: np.random.Generator,
    hip_offset_m: float = 0.0,
) -> np.ndarray:
    """Body-frame specific force (N, 3) of a pelvis or chest sensor."""
    par = _TRUNK[placement]
    alpha = np.arctan(course.grade(t) / 100.0)
    f_s = np.zeros_like(t)
    f_n = np.zeros_like(t)
    f_y = np.zeros_like(t)
    turn_g = course.speed_v(t) * course.turn_rate_v(t) / G_MPS2
    for foot, C in enumerate(tl.contacts):
        k = np.searchsorted(C["ic"], t, side="right") - 1
        dt = t - C["ic"][k]
        u = dt / C["tc"][k]
        m = (u >= 0.0) & (u < 1.0) & (C["real"][k] > 0)
        kk = k[m]
        um, dtm, al = u[m], dt[m], alpha[m]
        T, tc = C["step_T"][kk], C["tc"][kk]
        act = C["act"][kk].astype(int)
        m_shape = np.where(act == _RUN, _GAIT[_RUN].m_shape, _GAIT[_WALK].m_shape)
        imp_bw = (
            np.where(
                act == _RUN,
                _GAIT[_RUN].trunk_impact_bw[placement],
                _GAIT[_WALK].trunk_impact_bw[placement],
            )
            * C["imp"][kk]
        )
        tau = np.full(kk.size, par["tau"])
        strike = C["strike"][kk].astype(int)
        if np.any(strike != 0):
            imp_bw = imp_bw * np.array([x.trunk for x in _STRIKE])[strike]
        if hip_offset_m != 0.0:
            # a sensor beside the sacrum sits over one hip: that leg's impacts arrive
            # directly, the other leg's are attenuated and smeared by the pelvis
            near = (foot == 0) == (hip_offset_m > 0.0)
            d = abs(hip_offset_m)
            imp_bw = imp_bw * (1.0 + _HIP_IMPACT_PER_M * d * (1.0 if near else -1.0))
            if not near:
                tau = tau * (1.0 + _HIP_DELAY_PER_M * d)
        brake = np.where(act == _RUN, _GAIT[_RUN].brake_bw, _GAIT[_WALK].brake_bw)
        brake = brake * (1.0 + 0.5 * (C["imp"][kk] - 1.0))
        sway = np.where(act == _RUN, _GAIT[_RUN].sway_bw, _GAIT[_WALK].sway_bw)
        # force shapes over the stance phase, skewed so that the active peak and the change
        # from braking to propulsion come at ~40 % of stance, as in treadmill recordings
        wu = um**_GRF_SKEW
        half = np.sin(np.pi * wu)
        mean_shape = _GRF_MEAN[0] + m_shape * _GRF_MEAN[2]
        pulse = _pulse(dtm / tau)
        pulse_area = tau * _PULSE_AREA
        amp_n = np.cos(al) * T / (tc * mean_shape)
        ring = _ring(dtm - tau, par["ring"], par["ring_hz"], par["ring_tau"])
        f_n[m] += amp_n * (half + m_shape * np.sin(3 * np.pi * wu)) + imp_bw * (pulse + ring)
        # tangential: braking then propulsion, net impulse sin(alpha) x step time
        brake_pulse = _pulse(dtm / (0.7 * tau))
        brake_area = par["brake"] * imp_bw * 0.7 * pulse_area
        c_t = (np.sin(al) * T + brake_area + brake * tc * _GRF_MEAN[1]) / (tc * _GRF_MEAN[0])
        f_s[m] += -brake * np.sin(2 * np.pi * wu) + c_t * half - par["brake"] * imp_bw * brake_pulse
        side = 1.0 if foot == 0 else -1.0
        f_y[m] += -side * sway * half + turn_g[m] * T / (tc * _GRF_MEAN[0]) * half
    # a running start from standing: the push-off stance lifts the body into the first flight
    # (its vertical impulse is the stance time plus half the flight, in g s, with the weight
    # handed over linearly) and gains a third of the running speed
    pushoffs = _pushoffs(tl, course)
    for ic_first, (p0, tf, dv_mps) in pushoffs.items():
        d_s = ic_first - tf - p0
        m = (t >= p0) & (t < ic_first - tf)
        bump = np.sin(np.pi * (t[m] - p0) / d_s)
        f_n[m] += np.pi * (d_s + tf) / (4.0 * d_s) * bump * np.cos(alpha[m])
        f_s[m] += dv_mps / G_MPS2 * np.pi / (2.0 * d_s) * bump
    w = _stand_weight(t, tl, pushoffs)
    f_s += w * np.sin(alpha)
    f_n += w * np.cos(alpha)
    f_x = np.cos(alpha) * f_s - np.sin(alpha) * f_n
    f_z = np.sin(alpha) * f_s + np.cos(alpha) * f_n
    # trunk orientation: lean, stride-locked oscillation, turn lean, postural sway
    ic0 = tl.contacts[0]["ic"][tl.contacts[0]["real"] > 0]
    if ic0.size >= 2:
        phase = np.interp(t, ic0, 2.0 * np.pi * np.arange(ic0.size))
    else:
        phase = np.zeros_like(t)
    moving = 1.0 - w
    sway_ph = rng.uniform(0.0, 2.0 * np.pi, 4)
    postural = np.radians(0.4) * np.sin(2 * np.pi * 0.23 * t + sway_ph[0]) + np.radians(
        0.3
    ) * np.sin(2 * np.pi * 0.61 * t + sway_ph[1])
    postural_r = np.radians(0.4) * np.sin(2 * np.pi * 0.17 * t + sway_ph[2]) + np.radians(
        0.3
    ) * np.sin(2 * np.pi * 0.53 * t + sway_ph[3])
    lean = np.radians(par["lean"]) + 0.3 * alpha
    pitch = lean + moving * np.radians(par["pitch"]) * np.cos(2.0 * phase) + postural
    roll = moving * (np.radians(par["roll"]) * np.sin(phase) + np.arctan(turn_g)) + postural_r
    yaw = moving * np.radians(par["yaw"]) * np.sin(phase + 0.5)
    cy, sy = np.cos(yaw), np.sin(yaw)
    x1 = cy * f_x + sy * f_y
    y1 = -sy * f_x + cy * f_y
    cp, sp = np.cos(pitch), np.sin(pitch)
    x2 = cp * x1 - sp * f_z
    z2 = sp * x1 + cp * f_z
    cr, sr = np.cos(roll), np.sin(roll)
    out = np.empty((t.size, 3))
    out[:, 0] = x2
    out[:, 1] = cr * y1 - sr * z2
    out[:, 2] = sr * y1 + cr * z2
    if hip_offset_m != 0.0 and t.size > 2:
        # lever arm of a sensor beside the sacrum: a = alpha x r + omega x (omega x r),
        # r = (0, d, 0) in the pelvis frame
        d = hip_offset_m
        w_r, w_y = np.gradient(roll, t), np.gradient(yaw, t)
        out[:, 0] -= d * np.gradient(w_y, t) / G_MPS2
        out[:, 1] -= d * (w_r * w_r + w_y * w_y) / G_MPS2
        out[:, 2] += d * np.gradient(w_r, t) / G_MPS2
    return out


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniformly distributed rotation matrix (normalised Gaussian quaternion)."""
    q = rng.standard_normal(4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _mounting(orientation: str | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if isinstance(orientation, str):
        if orientation == "random":
            return _random_rotation(rng)
        if orientation == "identity":
            return np.eye(3)
        raise ValueError(
            f"orientation must be 'random', 'identity' or a 3x3 matrix, got {orientation!r}"
        )
    rot = np.asarray(orientation, dtype=float)
    if rot.shape != (3, 3) or not np.all(np.isfinite(rot)):
        raise ValueError(f"orientation matrix must be a finite 3x3 array, got shape {rot.shape}")
    if not np.allclose(rot @ rot.T, np.eye(3), atol=1e-6) or np.linalg.det(rot) < 0:
        raise ValueError("orientation matrix must be a proper rotation (orthonormal, det +1)")
    return rot.copy()


def _pressure(
    t: np.ndarray, course: _Course, rate_hz: float, rng: np.random.Generator
) -> np.ndarray:
    speed = course.speed_v(t)
    alpha = np.arctan(course.grade(t) / 100.0)
    climb = speed * np.sin(alpha) / rate_hz
    alt = START_ALTITUDE_M + np.concatenate([[0.0], np.cumsum(climb[:-1])])
    p = 101325.0 * (1.0 - 2.25577e-5 * alt) ** 5.25588
    a = 1.0 - math.exp(-1.0 / (rate_hz * PRESSURE_LAG_S))
    p, _ = lfilter([a], [1.0, a - 1.0], p, zi=[p[0] * (1.0 - a)])
    return p + PRESSURE_NOISE_PA * rng.standard_normal(t.size)


def _peaks(mag: np.ndarray, rate_hz: float, strike_t: np.ndarray) -> np.ndarray:
    if strike_t.size == 0:
        return np.zeros(0)
    i0 = np.ceil((strike_t + PEAK_WINDOW_S[0]) * rate_hz - 1e-9).astype(np.int64)
    i1 = np.floor((strike_t + PEAK_WINDOW_S[1]) * rate_hz + 1e-9).astype(np.int64)
    width = int(np.max(i1 - i0)) + 1
    idx = i0[:, None] + np.arange(width)[None, :]
    valid = (idx <= i1[:, None]) & (idx >= 0) & (idx < mag.size)
    vals = np.where(valid, mag[np.clip(idx, 0, mag.size - 1)], -np.inf)
    peak = vals.max(axis=1)
    return np.where(np.isfinite(peak), peak, np.nan)


def simulate(
    segments: Sequence[Segment],
    placement: str,
    rate_hz: float = 200.0,
    seed: int = 0,
    *,
    orientation: str | np.ndarray = "random",
    noise_g: float = 0.02,
    range_g: float | None = 16.0,
    terminal_swing: str = "quiet",
    pushoff_g: float = 0.0,
    hip_offset_m: float = 0.0,
) -> SimResult:
    """Simulate an accelerometer worn at ``placement`` over a course.

    Parameters
    ----------
    segments : sequence of Segment
        The course, in order.
    placement : str
        ``"foot"``, ``"shank"`` (instrumented foot = left, ``strike_foot == 0``), ``"pelvis"``
        or ``"chest"``.
    rate_hz : float
        Output sample rate (10..5000 Hz).
    seed : int
        Seed of every random choice; same seed, same output.
    orientation : {"random", "identity"} or ndarray (3, 3)
        Mounting rotation: seeded uniformly random, none, or the given proper rotation.
    noise_g : float
        Standard deviation of white noise per axis, and of a constant per-axis bias.
    range_g : float or None
        Full scale: readings are quantised to 16 bits of ``+-range_g`` and clipped to it;
        None disables both.
    terminal_swing : {"quiet", "merged"}
        Foot and shank: ``"quiet"`` (legacy default) ends every swing at rest, so a quiet
        phase precedes each impact; ``"merged"`` (what real shoes show) lands with the
        touchdown velocity and deceleration still present, arrests them on the ground and
        adds the longer multi-axis contact ringing. See "Terminal swing" in the module docs.
    pushoff_g : float
        Foot and shank: peak of the toe-off transient (0..5 g, 0 = none, the legacy default;
        about 2 g matches real shoes), also at the push-off of a standing start.
    hip_offset_m : float
        Pelvis only: lateral offset of the sensor from the sacrum (-0.2..0.2 m, positive to
        the left, the side of ``strike_foot == 0``): a belt sensor worn on one hip.

    Returns
    -------
    SimResult
        Signals and ground truth.

    Examples
    --------
    >>> res = simulate([Segment(10.0)], "pelvis", rate_hz=100.0, seed=1)
    >>> res.acc_g.shape, bool(abs(res.cadence_spm[1:].mean() - 170.0) < 5.0)
    ((1000, 3), True)
    """
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    if not (math.isfinite(rate_hz) and 10.0 <= rate_hz <= 5000.0):
        raise ValueError(f"rate_hz must be within 10..5000, got {rate_hz}")
    if not (math.isfinite(noise_g) and noise_g >= 0.0):
        raise ValueError(f"noise_g must be >= 0, got {noise_g}")
    if range_g is not None and not (math.isfinite(range_g) and range_g > 0.0):
        raise ValueError(f"range_g must be > 0 or None, got {range_g}")
    if terminal_swing not in TERMINAL_SWINGS:
        raise ValueError(f"terminal_swing must be one of {TERMINAL_SWINGS}, got {terminal_swing!r}")
    if not (math.isfinite(pushoff_g) and 0.0 <= pushoff_g <= 5.0):
        raise ValueError(f"pushoff_g must be within 0..5 g, got {pushoff_g}")
    if not (math.isfinite(hip_offset_m) and abs(hip_offset_m) <= 0.2):
        raise ValueError(f"hip_offset_m must be within -0.2..0.2 m, got {hip_offset_m}")
    if hip_offset_m != 0.0 and placement != "pelvis":
        raise ValueError(f"hip_offset_m applies to the pelvis placement, not {placement!r}")
    if (terminal_swing != "quiet" or pushoff_g != 0.0) and placement not in ONE_FOOT_PLACEMENTS:
        raise ValueError(
            f"terminal_swing and pushoff_g apply to foot and shank placements, not {placement!r}"
        )
    course = _Course(segments)
    seed_seq = int(seed)
    tl = _build_timeline(
        course, np.random.default_rng([seed_seq, 1]), np.random.default_rng([seed_seq, 6])
    )
    rotation = _mounting(orientation, np.random.default_rng([seed_seq, 2]))
    n_out = math.floor(course.total_s * rate_hz + 1e-9)
    t_s = np.arange(n_out) / rate_hz
    over = max(1, math.ceil(_MIN_INTERNAL_HZ / rate_hz))
    h = 1.0 / (rate_hz * over)
    j = np.arange(-1, n_out * over + 1)
    t_int = (j - (over - 1) / 2.0) * h
    if placement in ONE_FOOT_PLACEMENTS:
        body = _limb_signal(
            t_int,
            h,
            course,
            tl,
            placement,
            terminal_swing == "merged",
            pushoff_g,
            np.random.default_rng([seed_seq, 7]),
        )
    else:
        body = _trunk_signal(
            t_int[1:-1],
            course,
            tl,
            placement,
            np.random.default_rng([seed_seq, 5]),
            hip_offset_m,
        )
    body = body.reshape(n_out, over, 3).mean(axis=1)
    clean = body @ rotation.T
    peak = _peaks(np.linalg.norm(clean, axis=1), rate_hz, tl.strike_t)
    if placement in ONE_FOOT_PLACEMENTS:
        peak[tl.strike_foot != 0] = np.nan
    rng_noise = np.random.default_rng([seed_seq, 3])
    acc = clean + noise_g * (rng_noise.standard_normal(3) + rng_noise.standard_normal(clean.shape))
    if range_g is not None:
        lsb = range_g / 32768.0
        acc = np.clip(np.round(acc / lsb) * lsb, -range_g, range_g)
    pressure = _pressure(t_s, course, rate_hz, np.random.default_rng([seed_seq, 4]))
    return SimResult(
        rate_hz=float(rate_hz),
        placement=placement,
        t_s=t_s,
        acc_g=acc,
        pressure_pa=pressure,
        grade_pct=course.grade(t_s),
        strike_t_s=tl.strike_t,
        strike_foot=tl.strike_foot,
        strike_peak_g=peak,
        toe_off_t_s=tl.toe_off,
        cadence_spm=tl.cadence,
        rotation=rotation,
    )


# --------------------------------------------------------------------------------------------
# courses


def downhill_course(
    flat_s: float = 60.0, descent_s: float = 120.0, grade_pct: float = -10.0
) -> list[Segment]:
    """Flat run -> long descent with overstriding, then correction -> flat run to finish.

    For the first 60 % of the descent the runner overstrides: cadence falls from 170 to 155 spm
    and impact_scale rises from 1.0 to 1.5 over the first 20 %, and stays there; then the
    runner corrects within 10 % of the descent (cadence to 172 spm, impact_scale to 1.05) and
    holds that to the bottom. Speed 3.0 m/s on the flat, 3.2 m/s on the descent.

    Parameters
    ----------
    flat_s : float
        Duration of each flat part (start and finish).
    descent_s : float
        Duration of the descent.
    grade_pct : float
        Grade of the descent (negative).

    Returns
    -------
    list of Segment
    """
    d = descent_s
    return [
        Segment(flat_s, 0.0, "run", 170.0),
        Segment(0.2 * d, grade_pct, "run", 170.0, 155.0, 1.0, 1.5, speed_mps=3.2),
        Segment(0.4 * d, grade_pct, "run", 155.0, None, 1.5, None, speed_mps=3.2),
        Segment(0.1 * d, grade_pct, "run", 155.0, 172.0, 1.5, 1.05, speed_mps=3.2),
        Segment(0.3 * d, grade_pct, "run", 172.0, None, 1.05, None, speed_mps=3.2),
        Segment(flat_s, 0.0, "run", 170.0),
    ]


def validation_course() -> list[Segment]:
    """A harder course for validating strike detection (about 4.5 minutes).

    Standing start, a walk, running on the flat with turns, a walking break, a -8 % descent
    with some overstriding and a turn, a stop, a +5 % climb, a flat run with a U-turn, and
    standing at the end.

    Returns
    -------
    list of Segment
    """
    return [
        Segment(4.0, 0.0, "stand"),
        Segment(20.0, 0.0, "walk", 110.0),
        Segment(40.0, 0.0, "run", 165.0, 172.0, turn_deg=90.0),
        Segment(15.0, 0.0, "walk", 105.0, speed_mps=1.3),
        Segment(25.0, 0.0, "run", 175.0, speed_mps=3.4),
        Segment(45.0, -8.0, "run", 170.0, 158.0, 1.0, 1.35, speed_mps=3.3, turn_deg=-120.0),
        Segment(20.0, -8.0, "run", 165.0, None, 1.15, None, speed_mps=3.2),
        Segment(3.0, -8.0, "stand"),
        Segment(12.0, 5.0, "walk", 112.0, speed_mps=1.2),
        Segment(30.0, 5.0, "run", 166.0, speed_mps=2.6),
        Segment(25.0, 0.0, "run", 178.0, speed_mps=3.5, turn_deg=180.0),
        Segment(5.0, 0.0, "stand"),
    ]


# --------------------------------------------------------------------------------------------
# scenarios


@dataclass(frozen=True)
class Scenario:
    """A named, reproducible simulated recording for validating strike detection.

    Attributes
    ----------
    name : str
        Unique, descriptive name (placement, rate and what is hard about it).
    placement : str
        Sensor placement passed to :func:`simulate`.
    rate_hz : float
        Output sample rate.
    segments : list of Segment
        The course.
    options : dict
        Extra keyword arguments of :func:`simulate`.
    """

    name: str
    placement: str
    rate_hz: float
    segments: list[Segment]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return float(sum(s.duration_s for s in self.segments))

    def simulate(self, seed: int = 0) -> SimResult:
        """Simulate this scenario (same seed, same output)."""
        return simulate(self.segments, self.placement, self.rate_hz, seed, **self.options)


def _tight_radius_turn(duration_s: float, speed_mps: float, radius_m: float) -> float:
    """Heading change (deg) of running ``duration_s`` on a circle of ``radius_m``."""
    return math.degrees(speed_mps * duration_s / radius_m)


def scenarios() -> list[Scenario]:
    """Validation scenarios that widen the simulator toward what real recordings show.

    Every placement; heel, midfoot and forefoot strikers on foot and shank; one-sided hip
    sensors (near-side impacts larger, one with a strongly asymmetric gait whose step times
    alternate 0.34 / 0.43 s); 140-220 spm with sprints (speed and cadence ramps); stops with
    standing restarts; tight curves (1.2-3 m radius); sample rates of real devices (52 Hz
    Polar Verity standard mode, 100 Hz ActiGraph-class, 200, 500 and 1000 Hz); 30-120 s each.
    Foot and shank scenarios use the realistic limb options (``terminal_swing="merged"``,
    ``pushoff_g=2.5``, see the module docstring); mountings are seeded random.

    Returns
    -------
    list of Scenario
    """
    out: list[Scenario] = []
    real_limb = {"terminal_swing": "merged", "pushoff_g": 2.5}

    def add(name: str, placement: str, rate_hz: float, segs: list[Segment], **opt: Any) -> None:
        if placement in ONE_FOOT_PLACEMENTS:
            opt = {**real_limb, **opt}
        out.append(Scenario(name, placement, float(rate_hz), segs, dict(opt)))

    def curve(duration_s: float, speed_mps: float, radius_m: float) -> float:
        return _tight_radius_turn(duration_s, speed_mps, radius_m)

    stand = Segment(2.0, 0.0, "stand")
    # like the real shoe trials: jogging on 1.2 m circles in a 3 x 3 m area, both directions
    add(
        "foot_200hz_heel_jog_tight_curves",
        "foot",
        200,
        [
            Segment(3.0, 0.0, "stand"),
            Segment(25.0, 0.0, "run", 154.0, speed_mps=1.9, turn_deg=curve(25.0, 1.9, 1.2)),
            Segment(25.0, 0.0, "run", 158.0, speed_mps=2.0, turn_deg=-curve(25.0, 2.0, 1.2)),
            stand,
        ],
    )
    add(
        "foot_200hz_forefoot_run",
        "foot",
        200,
        [stand, Segment(40.0, 0.0, "run", 178.0, speed_mps=3.6, strike="forefoot"), stand],
    )
    add(
        "foot_100hz_midfoot_run_curves",
        "foot",
        100,
        [
            stand,
            Segment(20.0, 0.0, "run", 170.0, speed_mps=3.2, strike="midfoot"),
            Segment(
                20.0,
                0.0,
                "run",
                168.0,
                speed_mps=3.0,
                strike="midfoot",
                turn_deg=-curve(20.0, 3.0, 3.0),
            ),
            stand,
        ],
    )
    add(
        "foot_52hz_heel_stops_restarts",
        "foot",
        52,
        [
            Segment(3.0, 0.0, "stand"),
            Segment(20.0, 0.0, "run", 165.0, speed_mps=3.0),
            Segment(4.0, 0.0, "stand"),
            Segment(15.0, 0.0, "run", 160.0, speed_mps=2.8),
            Segment(3.0, 0.0, "stand"),
            Segment(15.0, -6.0, "run", 162.0, speed_mps=3.2, impact_scale=1.2),
            Segment(3.0, -6.0, "stand"),
        ],
    )
    add(
        "foot_1000hz_heel_descent_overstride",
        "foot",
        1000,
        [
            stand,
            Segment(15.0, 0.0, "run", 170.0),
            Segment(25.0, -10.0, "run", 165.0, 152.0, 1.0, 1.5, speed_mps=3.3),
            stand,
        ],
    )
    add(
        "foot_500hz_sprint_140_to_220",
        "foot",
        500,
        [
            stand,
            Segment(15.0, 0.0, "run", 140.0, speed_mps=2.2),
            Segment(20.0, 0.0, "run", 150.0, 210.0, speed_mps=2.6, speed_end_mps=6.5),
            Segment(
                8.0, 0.0, "run", 215.0, 220.0, speed_mps=6.8, speed_end_mps=7.2, strike="forefoot"
            ),
            Segment(14.0, 0.0, "run", 218.0, 160.0, speed_mps=7.2, speed_end_mps=3.0),
            stand,
        ],
    )
    add(
        "shank_500hz_heel_descent",
        "shank",
        500,
        [
            stand,
            Segment(20.0, 0.0, "run", 168.0),
            Segment(30.0, -10.0, "run", 165.0, 156.0, 1.0, 1.4, speed_mps=3.3),
            stand,
        ],
    )
    add(
        "shank_200hz_forefoot_tight_curves",
        "shank",
        200,
        [
            stand,
            Segment(
                20.0,
                0.0,
                "run",
                172.0,
                speed_mps=2.6,
                strike="forefoot",
                turn_deg=curve(20.0, 2.6, 1.5),
            ),
            Segment(
                20.0,
                0.0,
                "run",
                176.0,
                speed_mps=3.0,
                strike="forefoot",
                turn_deg=-curve(20.0, 3.0, 2.0),
            ),
            stand,
        ],
    )
    add(
        "shank_100hz_midfoot_stops_restarts",
        "shank",
        100,
        [
            stand,
            Segment(15.0, 0.0, "run", 172.0, speed_mps=3.2, strike="midfoot"),
            Segment(3.0, 0.0, "stand"),
            Segment(15.0, 0.0, "run", 168.0, speed_mps=3.0, strike="midfoot"),
            Segment(10.0, 0.0, "walk", 110.0),
            Segment(
                10.0, 0.0, "run", 160.0, 175.0, speed_mps=2.0, speed_end_mps=3.4, strike="midfoot"
            ),
            stand,
        ],
    )
    # like the sacral treadmill recordings: 2.5-4.2 m/s at 0 and +-5 degrees (8.7 %)
    add(
        "pelvis_500hz_treadmill_grades",
        "pelvis",
        500,
        [
            stand,
            Segment(15.0, 0.0, "run", 166.0, speed_mps=3.33),
            Segment(15.0, 8.7, "run", 172.0, speed_mps=3.33),
            Segment(15.0, -8.7, "run", 170.0, speed_mps=3.33, impact_scale=1.2),
            Segment(10.0, 0.0, "run", 180.0, speed_mps=4.17),
            stand,
        ],
    )
    add(
        "pelvis_100hz_one_sided_hip",
        "pelvis",
        100,
        [
            stand,
            Segment(25.0, 0.0, "run", 165.0, speed_mps=3.0, step_asymmetry=0.03),
            Segment(
                20.0,
                0.0,
                "run",
                172.0,
                speed_mps=3.3,
                step_asymmetry=0.03,
                turn_deg=curve(20.0, 3.3, 4.0),
            ),
            stand,
        ],
        hip_offset_m=0.15,
    )
    # the measurement: a belt sensor on one hip, step intervals 0.34 / 0.43 s
    add(
        "pelvis_100hz_one_sided_hip_alternating_steps",
        "pelvis",
        100,
        [
            stand,
            Segment(40.0, 0.0, "run", 156.0, speed_mps=2.8, step_asymmetry=0.11),
            stand,
        ],
        hip_offset_m=-0.12,
    )
    add(
        "pelvis_52hz_stops_restarts_forefoot",
        "pelvis",
        52,
        [
            Segment(3.0, 0.0, "stand"),
            Segment(15.0, 0.0, "run", 170.0, strike="forefoot"),
            Segment(4.0, 0.0, "stand"),
            Segment(15.0, 0.0, "run", 175.0, speed_mps=3.4),
            Segment(3.0, 0.0, "stand"),
            Segment(15.0, 0.0, "run", 165.0, strike="midfoot"),
            Segment(3.0, 0.0, "stand"),
        ],
    )
    add(
        "pelvis_1000hz_sprint_to_220",
        "pelvis",
        1000,
        [
            stand,
            Segment(10.0, 0.0, "run", 160.0, speed_mps=3.0),
            Segment(16.0, 0.0, "run", 165.0, 215.0, speed_mps=3.2, speed_end_mps=7.0),
            Segment(8.0, 0.0, "run", 220.0, speed_mps=7.2, strike="forefoot"),
            Segment(12.0, 0.0, "run", 218.0, 165.0, speed_mps=7.2, speed_end_mps=3.0),
            stand,
        ],
    )
    add(
        "chest_52hz_cadence_140_220",
        "chest",
        52,
        [
            stand,
            Segment(20.0, 0.0, "run", 140.0, 160.0, speed_mps=2.3),
            Segment(15.0, 0.0, "run", 165.0, 220.0, speed_mps=2.6, speed_end_mps=7.0),
            Segment(10.0, 0.0, "run", 220.0, speed_mps=7.0, strike="forefoot"),
            Segment(15.0, 0.0, "run", 218.0, 150.0, speed_mps=7.0, speed_end_mps=2.8),
            stand,
        ],
    )
    add(
        "chest_100hz_stops_curves",
        "chest",
        100,
        [
            Segment(3.0, 0.0, "stand"),
            Segment(20.0, 0.0, "run", 168.0, turn_deg=curve(20.0, 3.0, 5.0)),
            Segment(4.0, 0.0, "stand"),
            Segment(20.0, -5.0, "run", 170.0, speed_mps=3.2, turn_deg=-curve(20.0, 3.2, 3.0)),
            Segment(3.0, 0.0, "stand"),
        ],
    )
    return out
