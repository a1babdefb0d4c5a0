"""Parameters of the streaming gait detector: documented, with units, defaults per placement.

:class:`GaitParams` holds the detector's knobs in physical units (seconds, hertz, g, fractions of
the tracked period), independent of the sample rate. :func:`default_params` gives the defaults
of a placement; override single fields with :func:`dataclasses.replace`::

    from dataclasses import replace
    p = replace(default_params("foot"), confirm_s=0.02)
    tracker = GaitTracker(200.0, "foot", params=p)

:func:`kernel_params` turns them, for one sample rate, into the kernels' :class:`KParams`
(samples, per-sample coefficients). See :mod:`downhill_live.core._kernels` for the algorithm.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from downhill_live.core._kernels import KParams
from downhill_live.errors import DownhillError
from downhill_live.types import ONE_FOOT_PLACEMENTS, PLACEMENTS

__all__ = [
    "CADENCE_WINDOW_S",
    "NOMINAL_STEP_LEN_M",
    "UNDERSAMPLED_BELOW_HZ",
    "GaitParams",
    "default_params",
    "kernel_params",
]

#: Cadence uses the strike intervals that ended in the last this-many seconds.
CADENCE_WINDOW_S = 3.0

#: Nominal running step length (m) turning cadence into horizontal speed for the barometric
#: grade (walking, <= 130 spm: 0.75 m; linear in between).
NOMINAL_STEP_LEN_M = 1.05

#: Foot and shank impacts last 10-30 ms: below this rate ``peak_g`` reads low (under-sampled).
UNDERSAMPLED_BELOW_HZ = 200.0


@dataclass(frozen=True)
class GaitParams:
    """Knobs of the strike detector and the period tracker (units in the names).

    "Period" below is the tracked time between the strikes a placement sees: one stride for
    foot/shank (one foot), one step for pelvis/chest (both feet).

    Attributes
    ----------
    hp_cutoff_hz : float
        Foot/shank detection signal: first-order high-pass of each axis at this cutoff, then the
        vector norm.
    hp_low_rate_hz : float
        Below this sample rate the impact lasts one or two samples and only the sample-to-sample
        change separates it from the swing: the cutoff becomes ``0.4 x rate``.
    lp_tau_s : float
        Time constant of the magnitude low-pass (trunk detection, motion evidence).
    slope_lag_s : float
        Trunk detection signal: rise of the low-passed magnitude over this lag (>= 1 sample).
    floor_g : float
        A candidate needs the detection signal at least this high (g).
    amp_frac : float
        ... and at least this fraction of the running strike height.
    expected_tol_frac, expected_dominance_ratio, expected_near_frac, expected_size_frac : float
        Limbs: a candidate where the tracked stride puts the next strike (within
        ``expected_tol_frac`` x period of one period after the last strike) and about as large as
        that strike (at least ``expected_size_frac`` of it) needs only ``expected_dominance_ratio``
        x what came before the last ``expected_near_frac`` x period (the stance and the push-off
        of its own stride), and still the full ratio over the later part (the swing, whose
        terminal part real shoes show nearly as large as the impact). A landing that the ankle
        softens (forefoot on a tibia) can be smaller than its own push-off. Running strides vary
        by a few percent and their impacts by about a tenth, so neither gate lets a terminal
        swing through (real shoe data: unchanged). ``expected_tol_frac = 0`` switches it off
        (the trunk: its steps are too short for a push-off within the window).
    overdue_frac : float
        Once no strike came for this many expected periods, the running strike height decays
        towards ``floor_g`` (time constant 0.3 s), so that the first stride of a softer gait
        (running slowing to walking: a smaller landing, a stride 1.3-1.5x longer) opens a
        candidate. Running strides vary by a few percent, so a strike 20 % late is overdue.
    confirm_s : float
        A candidate's peak is final once no higher value followed for this long; this sets the
        report latency with ``peak_post_s``.
    max_wait_s : float
        ... or at the latest this long after the candidate opened (bounds the latency).
    max_latency_s : float
        ... and at the latest this long after its contact, as back-tracked when the candidate
        opened (the final contact is no earlier): a slow, weak loading (trunk, walking) opens
        its candidate up to ~40 ms after the contact, which the two bounds above let through.
        0: off (limbs: their sharp impacts are decided within ~45 ms, and a contact
        back-tracked when the candidate opens can lie far before the impact's own).
    dominance_window_frac : float
        A strike dominates the detection signal over this fraction of the period before it.
    dominance_ratio : float
        ... by this factor.
    dominance_window_max_s : float
        ... the window being at most this long: the tracker lags a sudden walk -> run change,
        and a stale long period must not hide the new gait's first strides.
    rephase_ratio : float
        A candidate closer to the last strike than ``dominance_window_frac`` x period must be
        this many times higher than that strike (it then re-phases the detector).
    first_stride_ratio : float
        In the first period after standing still a candidate must dominate what came since by
        this ratio (trunk: the push-off from standing shows as much as a landing). Limbs: 1,
        the push-off is ruled out by ``min_swing_s`` and a terminal swing taken for the first
        strike is replaced within ``first_hold_s``.
    min_interval_frac : float
        Candidates closer than this fraction of the period to the last strike are part of it.
    default_period_s : float
        Period assumed while the tracker has none.
    motion_g : float
        A strike needs ``| low-passed |acc| - 1 g |`` of at least this (g) within
        ``motion_window_s`` before it: no strike from standing.
    motion_window_s, motion_gap_s : float
        The motion window is ``[start - motion_window_s, start - motion_gap_s]`` before the
        candidate's start: a swing (limbs) or a flight and the previous step (trunk) before an
        impact; standing before the first push-off.
    min_moving_s : float
        A strike needs this long of motion since the runner last stood still (the first swing
        after a standing start ends in a strike, its push-off and terminal swing are none).
    min_swing_s : float
        Limbs: a strike ends a swing, so it needs at least this long since the sensor was last
        quasi-static (on the ground and not rotating: standing, or foot-flat in stance); push-off
        transients, which follow the foot-flat within ~0.2-0.3 s, and the first push-off from
        standing are no strikes. The next strike of the same foot comes at least the rest of the
        stance plus a whole swing later (>= 0.45 s even sprinting at 220 spm; the real shoe data
        has strikes from 0.45 s on). 0 switches the rule off (trunk sensors are never static
        in stance).
    first_hold_s : float
        The first strike after a pause (none for ``max_interval_s``) has no earlier strike to
        compare with: it is reported as the others are, marked ``provisional``, and a
        candidate decided within this long after its peak window that re-phases (a larger
        impact after the terminal swing of the first stride) replaces it: that step comes
        with ``replaces_previous`` set. 0: never replaced.
    static_tol_g, static_change_g, static_lag_s, static_min_s : float
        Quasi-static: ``| low-passed |acc| - 1 g |`` below ``static_tol_g`` (the ``lp_tau_s``
        low-pass: the same at every sample rate) and the acceleration vector changed by less
        than ``static_change_g`` over ``static_lag_s``, for ``static_min_s``.
    ic_level_frac : float
        Initial contact: the last time the onset signal (limbs: detection signal, trunk:
        low-passed magnitude) was at this fraction of its rise from the trough.
    trough_window_s : float
        The trough is the minimum of the onset signal this far before the peak.
    peak_pre_s, peak_post_s : float
        ``peak_g`` is the maximum of ``|acc|`` in ``[IC - peak_pre_s, IC + peak_post_s]``.
    acf_rate_hz : float
        The period tracker works on the low-passed magnitude decimated to about this rate.
    acf_lp_tau_s : float
        Time constant of each of the two poles of that low-pass.
    acf_tau_s : float
        Time constant of the exponentially weighted autocorrelation.
    acf_norm_tau_s : float
        Its input is divided by its running deviation over this time constant, so a quieter
        gait (walking after running) takes over within ``acf_tau_s``.
    stride_min_s, stride_max_s : float
        Stride lags searched (one stride = two steps).
    acf_first_peak_frac : float
        The first local maximum reaching this fraction of the largest one is the stride.
    acf_keep_frac : float
        Sub-harmonic check: when that first maximum lies at a multiple of the lag tracked so
        far, the tracked lag stays as long as it is still a local maximum reaching this
        fraction of the largest one (a brief dip must not double the period).
    acf_min_corr : float
        Normalised autocorrelation needed at the chosen lag.
    acf_half_min_corr : float
        Trunk: correlation needed at half the stride lag to take it as the step.
    acf_min_fill_s : float
        Time of data after a reset before a period is trusted.
    still_std_g : float
        Below this standard deviation of the low-passed magnitude (0.3 s) the runner stands:
        the period tracker restarts and cadence is unknown.
    interval_tol_frac : float
        A strike interval counts for cadence when it is 1 or 2 periods within this fraction.
    cadence_window_s : float
        Intervals of the last this-many seconds count for cadence ...
    cadence_periods : float
        ... the newest agreeing ones, up to this many periods (limbs: strides, trunk: steps;
        an even number of steps averages a one-sided hip sensor's alternating intervals) ...
    cadence_median : bool
        ... their median (limbs: strides, robust) or their mean (trunk: alternating steps).
    cadence_trend_window_s : float
        A cadence that changes steadily (a sprint build-up, a slow-down) would lag by half the
        cadence window: the per-period intervals of this window get a least-squares line, and
        when its slope is ``cadence_trend_min_t`` standard errors or more from zero, the level
        is carried along it from the middle of its intervals to the middle of the newest one
        (a report stands for the stride, or trunk step, that ends with it). 0: off.
    cadence_trend_min_t : float
        See ``cadence_trend_window_s``.
    max_interval_s : float
        A longer strike interval (a stop) clears the interval list.
    """

    hp_cutoff_hz: float
    hp_low_rate_hz: float
    lp_tau_s: float
    slope_lag_s: float
    floor_g: float
    amp_frac: float
    confirm_s: float
    max_wait_s: float
    dominance_window_frac: float
    dominance_ratio: float
    dominance_window_max_s: float
    rephase_ratio: float
    first_stride_ratio: float
    min_interval_frac: float
    default_period_s: float
    motion_g: float
    motion_window_s: float
    motion_gap_s: float
    min_moving_s: float
    ic_level_frac: float
    trough_window_s: float
    peak_pre_s: float
    peak_post_s: float
    min_swing_s: float = 0.0
    overdue_frac: float = 1.2
    max_latency_s: float = 0.0
    expected_tol_frac: float = 0.0
    expected_dominance_ratio: float = 1.0
    expected_near_frac: float = 0.5
    expected_size_frac: float = 1.0
    first_hold_s: float = 0.0
    static_tol_g: float = 0.1
    static_change_g: float = 0.15
    static_lag_s: float = 0.02
    static_min_s: float = 0.03
    acf_rate_hz: float = 50.0
    acf_lp_tau_s: float = 0.02
    acf_tau_s: float = 1.0
    acf_norm_tau_s: float = 0.5
    stride_min_s: float = 0.5
    stride_max_s: float = 1.6
    acf_first_peak_frac: float = 0.85
    acf_keep_frac: float = 0.5
    acf_min_corr: float = 0.2
    acf_half_min_corr: float = 0.0
    acf_min_fill_s: float = 1.2
    still_std_g: float = 0.04
    interval_tol_frac: float = 0.15
    cadence_window_s: float = CADENCE_WINDOW_S
    cadence_periods: float = 4.0
    cadence_median: bool = False
    max_interval_s: float = 2.0
    cadence_trend_window_s: float = 6.0
    cadence_trend_min_t: float = 3.0

    def as_dict(self) -> dict[str, float]:
        """Field name -> value."""
        return asdict(self)


_LIMB: dict[str, Any] = dict(
    hp_cutoff_hz=10.0,
    hp_low_rate_hz=150.0,
    lp_tau_s=0.005,
    slope_lag_s=0.02,
    floor_g=0.3,
    amp_frac=0.45,
    confirm_s=0.025,
    max_wait_s=0.05,
    dominance_window_frac=0.85,
    dominance_ratio=1.0,
    dominance_window_max_s=2.0,
    rephase_ratio=1.5,
    first_stride_ratio=1.0,
    min_interval_frac=0.1,
    default_period_s=0.75,
    motion_g=0.4,
    motion_window_s=0.5,
    motion_gap_s=0.15,
    min_moving_s=0.2,
    min_swing_s=0.35,
    first_hold_s=0.15,
    expected_tol_frac=0.08,
    expected_dominance_ratio=0.8,
    expected_near_frac=0.5,
    expected_size_frac=0.8,
    ic_level_frac=0.5,
    trough_window_s=0.04,
    peak_pre_s=0.010,
    peak_post_s=0.040,
    cadence_periods=8.0,  # bounded by cadence_window_s: 4-5 strides when running
    cadence_median=True,
)
_TRUNK: dict[str, Any] = dict(
    hp_cutoff_hz=10.0,
    hp_low_rate_hz=150.0,
    lp_tau_s=0.005,
    slope_lag_s=0.02,
    floor_g=0.05,
    amp_frac=0.3,
    confirm_s=0.025,
    max_wait_s=0.05,
    dominance_window_frac=0.5,
    dominance_ratio=1.0,
    dominance_window_max_s=0.3,
    rephase_ratio=1.3,
    first_stride_ratio=1.3,
    min_interval_frac=0.25,
    default_period_s=0.35,
    motion_g=0.15,
    motion_window_s=0.5,
    motion_gap_s=0.1,
    min_moving_s=0.0,
    ic_level_frac=0.25,
    trough_window_s=0.1,
    peak_pre_s=0.010,
    peak_post_s=0.050,  # IC + 50 ms holds the loading peak; report <= 60 ms after IC at 52 Hz
    max_latency_s=0.06,
    acf_half_min_corr=0.3,
)


def default_params(placement: str) -> GaitParams:
    """Default :class:`GaitParams` of a placement (``downhill_live.types.PLACEMENTS``)."""
    if placement not in PLACEMENTS:
        raise DownhillError(f"placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}")
    return GaitParams(**(_LIMB if placement in ONE_FOOT_PLACEMENTS else _TRUNK))


def _check(gp: GaitParams) -> None:
    for f in fields(gp):
        v = getattr(gp, f.name)
        if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0.0):
            raise DownhillError(f"params.{f.name} must be a finite number >= 0, got {v!r}")
    if not 0.0 < gp.stride_min_s < gp.stride_max_s:
        raise DownhillError("params.stride_min_s must be > 0 and below stride_max_s")
    if not gp.acf_rate_hz > 0.0:
        raise DownhillError("params.acf_rate_hz must be > 0")


def kernel_params(
    rate_hz: float,
    placement: str,
    gp: GaitParams | None = None,
    *,
    range_g: float | None = None,
) -> KParams:
    """Kernel parameters for a sample rate, a placement and detector knobs.

    Parameters
    ----------
    rate_hz : float
        Nominal sample rate (Hz).
    placement : str
        One of ``downhill_live.types.PLACEMENTS``.
    gp : GaitParams or None
        Detector knobs; None: :func:`default_params` of the placement.
    range_g : float or None
        Sensor range (g): a peak window reaching it marks the step ``clipped``.
    """
    if gp is None:
        gp = default_params(placement)
    _check(gp)
    one_foot = placement in ONE_FOOT_PLACEMENTS
    dt_s = 1.0 / rate_hz
    fc_hz = gp.hp_cutoff_hz if rate_hz >= gp.hp_low_rate_hz else 0.4 * rate_hz
    fc_hz = min(fc_hz, 0.4 * rate_hz)
    rc = 1.0 / (2.0 * math.pi * fc_hz) if fc_hz > 0.0 else math.inf
    hp_a = rc / (rc + dt_s)
    dec_n = max(1, round(rate_hz / gp.acf_rate_hz))
    dt_d = dec_n * dt_s
    lag_min = max(2, math.floor(gp.stride_min_s / dt_d))
    lag_max = math.ceil(gp.stride_max_s / dt_d)
    still_tau = 0.3
    return KParams(
        dt_s=dt_s,
        gap_s=1.5 * dt_s,
        long_gap_s=max(1.5 * dt_s, 0.025),
        acf_reset_gap_s=0.5,
        one_foot=one_foot,
        use_hp=one_foot,
        alpha_lp=1.0 - math.exp(-dt_s / gp.lp_tau_s) if gp.lp_tau_s > 0 else 1.0,
        hp_a=hp_a,
        slope_lag_n=max(1, round(gp.slope_lag_s * rate_hz)),
        alpha_g=1.0 - math.exp(-dt_s / 1.0),
        warm_n=float(round(1.0 * rate_hz)),
        floor_g=gp.floor_g,
        amp_frac=gp.amp_frac,
        amp0_g=gp.floor_g / max(gp.amp_frac, 1e-9),
        amp_adapt=0.3,
        amp_jump=2.5,
        amp_fast=math.exp(-dt_s / 0.3),
        overdue_frac=gp.overdue_frac,
        max_lat_s=gp.max_latency_s,
        exp_tol_frac=gp.expected_tol_frac,
        exp_ratio=gp.expected_dominance_ratio,
        exp_near_frac=gp.expected_near_frac,
        exp_size_frac=gp.expected_size_frac,
        confirm_s=gp.confirm_s,
        max_wait_s=gp.max_wait_s,
        dom_frac=gp.dominance_window_frac,
        dom_ratio=gp.dominance_ratio,
        dom_max_s=gp.dominance_window_max_s,
        rephase_ratio=gp.rephase_ratio,
        first_ratio=gp.first_stride_ratio,
        min_iv_frac=gp.min_interval_frac,
        default_period_s=gp.default_period_s,
        motion_g=gp.motion_g,
        motion_win_s=gp.motion_window_s,
        motion_gap_s=gp.motion_gap_s,
        min_moving_s=gp.min_moving_s,
        min_swing_s=gp.min_swing_s,
        first_hold_s=gp.first_hold_s,
        static_lag_n=max(1, round(gp.static_lag_s * rate_hz)),
        static_change_g=gp.static_change_g,
        static_tol_g=gp.static_tol_g,
        static_n=max(2, round(gp.static_min_s * rate_hz)),
        f_ic=gp.ic_level_frac,
        trough_win_s=gp.trough_window_s,
        pre_s=gp.peak_pre_s,
        post_s=gp.peak_post_s,
        dec_n=dec_n,
        acf_lp_a=1.0 - math.exp(-dt_s / gp.acf_lp_tau_s) if gp.acf_lp_tau_s > 0 else 1.0,
        acf_lambda=math.exp(-dt_d / gp.acf_tau_s),
        acf_mean_alpha=1.0 - math.exp(-dt_d / gp.acf_tau_s),
        acf_norm_alpha=1.0 - math.exp(-dt_d / gp.acf_norm_tau_s),
        lag_min=lag_min,
        lag_max=lag_max,
        acf_first_frac=gp.acf_first_peak_frac,
        acf_keep_frac=gp.acf_keep_frac,
        acf_min_r=gp.acf_min_corr,
        acf_half_min_r=gp.acf_half_min_corr,
        acf_min_fill=max(lag_max + 2, math.ceil(gp.acf_min_fill_s / dt_d)),
        still_var=gp.still_std_g**2,
        still_alpha=1.0 - math.exp(-dt_s / still_tau),
        iv_tol=gp.interval_tol_frac,
        cad_win_s=gp.cadence_window_s,
        cad_periods=gp.cadence_periods,
        cad_median=bool(gp.cadence_median),
        cad_trend_win_s=gp.cadence_trend_window_s,
        cad_trend_t=gp.cadence_trend_min_t,
        cad_trend_min_n=5.0,
        max_iv_s=gp.max_interval_s,
        range_g=math.inf if range_g is None else float(range_g),
        undersampled=one_foot and rate_hz < UNDERSAMPLED_BELOW_HZ,
        axial_mode=one_foot,
        # stance axis of peak_axial_g (foot/shank): mean stance vector; the foot uses its
        # quasi-static foot-flat samples, the shank (never still in stance) a fixed window
        ms_t0_s=0.03 if placement == "foot" else 0.06,
        ms_t1_s=0.25 if placement == "foot" else 0.16,
        ms_tol_g=0.06 if placement == "foot" else math.inf,
        cal_steps=10.0,
        cal_skip=5.0,
        use_gct=not one_foot,
        to_level_g=0.5,
    )


def acf_sizes(kp: KParams) -> tuple[int, int]:
    """(decimated ring capacity, number of lag sums) of the period tracker."""
    nl = kp.lag_max + 2
    return 1 << (nl - 1).bit_length(), nl
