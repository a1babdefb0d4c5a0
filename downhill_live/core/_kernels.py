"""Private kernels of the streaming gait core (numba when available, plain Python otherwise).

Everything here trusts its inputs (validation happens in :mod:`downhill_live.core.tracker`).
All state lives in preallocated numpy arrays: one structured record (:data:`STATE_DTYPE`, named
fields), a sample ring, the autocorrelation ring and sums and an interval ring. A stream can therefore be fed in chunks of any size with bit-identical results. The
per-sample path is O(1) and allocation-free; work that scans the ring (choosing a strike,
initial-contact back-tracking, peak window) runs once per candidate peak. Parameters are a
:class:`KParams` NamedTuple built by :func:`downhill_live.core.params.kernel_params`.

Algorithm
---------
**Detection signal** ``d`` (orientation-free, g):

- limbs (foot, shank): norm of the first-order high-pass (``hp_cutoff_hz``, ~5 Hz) of the
  acceleration vector: the impact transient stands out of the smooth swing.
- trunk (pelvis, chest): the rise of the low-passed magnitude ``mf`` over ``slope_lag_s``
  (clipped at 0): the loading rise after initial contact (IC).

**Candidates.** ``d`` above ``max(floor_g, amp_frac x running strike height)`` opens a candidate;
its peak follows ``d`` upwards and becomes final once ``confirm_s`` passed without a higher value,
or at the latest ``max_wait_s`` after the candidate opened (this bounds the report latency).

**Strike choice** (per final candidate, what every real impact has in common: it dominates its
stride). With ``P`` the expected period between the strikes this placement sees (one stride for
foot/shank, one step for the trunk; from the period tracker, else ``default_period_s``), the
candidate is a strike when

- its peak is at least ``dominance_ratio`` x the largest ``d`` in the ``dominance_window_frac x P``
  before the candidate (terminal swing, push-off, mid-swing: all smaller on real sensors);
  limbs: a candidate where the tracked stride puts the next strike and about as large as the
  last strike needs only ``expected_dominance_ratio`` x what lies before the last
  ``expected_near_frac x P`` (its stride's stance and push-off; the full ratio over the swing);
- it is at least ``min_interval_frac x P`` after the last strike, and, when the last strike lies
  inside that window, ``rephase_ratio`` x higher than it: a clearly larger impact re-phases at
  once, so a push-off taken for a strike can never hold the phase;
- motion preceded it: ``| mf - 1 g |`` reached ``motion_g`` within ``motion_window_s`` (no strike
  from standing: the first push-off is not a strike);
- limbs: it ends a swing: the sensor was last quasi-static (on the ground, not rotating: standing
  or foot-flat) at least ``min_swing_s`` before it. Every swing lasts longer than that, a
  push-off follows the foot-flat sooner.

IC is back-tracked from the peak: the last time the placement's onset signal (limbs: ``d``;
trunk: ``mf``) was at ``trough + ic_level_frac x (top - trough)``, the trough being its minimum
over ``trough_window_s``. The step is reported once its peak window ``[IC - peak_pre_s,
IC + peak_post_s]`` is complete (or at once when the decision came later).

**Period tracker**, independent of the detections: the low-passed magnitude, box-decimated to
about ``acf_rate_hz``, minus its running mean, feeds exponentially weighted autocorrelation sums
(time constant ``acf_tau_s``) for every lag up to ``stride_max_s``. The stride is the first local
maximum in ``[stride_min_s, stride_max_s]`` reaching ``acf_first_peak_frac`` of the largest one
there (a multiple of the period cannot win: no 1/2 x cadence), parabolically interpolated, with a
normalised correlation of at least ``acf_min_corr``. The trunk sees both feet: its step is half
that stride when the correlation at half the lag is at least ``acf_half_min_corr`` (one-sided hip
sensors with alternating step intervals read the true cadence), else the lag is itself one step
(slow walking). Stillness (``std(mf) < still_std_g``) or a long gap resets the sums.

**Cadence**: steps per minute from the mean of the newest strike intervals (up to
``cadence_periods`` periods, within ``cadence_window_s``) that agree with the tracked period (``round(d / P)`` of 1 or 2 periods,
within ``interval_tol_frac``): extra or missed detections drop out instead of dragging the period;
with fewer than two agreeing periods, the tracked period itself. Unknown (nan) while the tracker
has no period.

Grade and the descent state are not computed here: :mod:`downhill_live.core.grade` takes the
same samples and the steps reported here (the tracker fills ``O_GRADE``/``O_DESC``). For
foot/shank, ``peak_axial_g`` uses the mean stance axis of steps 6-15 (:func:`_finish_midstance`).
Trunk contact time: IC to the vertical acceleration falling below ``to_level_g`` (about
half body weight), reported with the next strike.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from downhill_live.core._jit import median_first, new_record, njit, reset_state, state_dtype
from downhill_live.core._jit import params_record as _params_record


class KParams(NamedTuple):
    """Kernel parameters in samples and per-sample coefficients (see ``params.kernel_params``)."""

    dt_s: float  # nominal sample period
    gap_s: float  # a time step above this is a gap (counted)
    long_gap_s: float  # above this the short filters and the detector restart
    acf_reset_gap_s: float  # above this the period tracker restarts too
    one_foot: bool  # the placement sees every other step (cadence = 2 x strike rate)
    use_hp: bool  # limbs: high-passed vector norm; trunk: rise of the low-passed magnitude
    alpha_lp: float  # one-pole coefficient of the magnitude low-pass
    hp_a: float  # first-order high-pass coefficient y = a (y + x - x_prev)
    slope_lag_n: int  # trunk: samples of the rise
    alpha_g: float  # gravity low-pass coefficient (after warm-up)
    warm_n: float  # gravity warm-up samples (cumulative mean)
    floor_g: float
    amp_frac: float
    amp0_g: float
    amp_adapt: float
    amp_jump: float
    amp_fast: float  # per-sample decay of the running height once a strike is overdue
    overdue_frac: float  # ... after this many periods without a strike
    max_lat_s: float  # a candidate is decided at the latest this long after its contact
    exp_tol_frac: float
    exp_ratio: float
    exp_near_frac: float
    exp_size_frac: float
    confirm_s: float
    max_wait_s: float  # a candidate is decided at the latest this long after it started
    dom_frac: float
    dom_ratio: float
    dom_max_s: float  # the dominance window is at most this long
    rephase_ratio: float
    first_ratio: float  # the first stride after standing dominates what came since by this
    min_iv_frac: float
    default_period_s: float
    motion_g: float
    motion_win_s: float
    motion_gap_s: float
    min_moving_s: float  # a strike needs this long of motion since the last stillness
    min_swing_s: float  # limbs: a strike needs this long since the sensor was last quasi-static
    first_hold_s: float  # a larger impact this soon after a first strike replaces it
    static_lag_n: int  # quasi-static: the vector changed by less than static_change_g over
    static_change_g: float  # ... this many samples, |acc| within static_tol_g of 1 g,
    static_tol_g: float
    static_n: int  # ... for this many consecutive samples
    f_ic: float
    trough_win_s: float
    pre_s: float
    post_s: float
    # period tracker
    dec_n: int  # samples per decimated sample
    acf_lp_a: float  # per-sample coefficient of each of the two low-pass poles
    acf_lambda: float  # per decimated sample decay of the sums
    acf_mean_alpha: float  # running mean coefficient per decimated sample
    acf_norm_alpha: float  # running variance coefficient per decimated sample (normalisation)
    lag_min: int  # decimated samples
    lag_max: int
    acf_first_frac: float
    acf_keep_frac: float  # the tracked lag stays while its peak reaches this fraction of the max
    acf_min_r: float
    acf_half_min_r: float  # trunk: correlation needed at half the stride lag
    acf_min_fill: int  # decimated samples since reset before a period is trusted
    still_var: float  # g^2
    still_alpha: float  # per-sample coefficient of the stillness variance
    iv_tol: float
    cad_win_s: float
    cad_periods: float  # cadence uses the newest agreeing intervals up to this many periods
    cad_median: bool  # their median (limbs: strides) instead of their mean (trunk: steps)
    cad_trend_win_s: float  # a cadence trend is fitted to the intervals of this window (0: off)
    cad_trend_t: float  # ... and used when its slope is this many standard errors from 0
    cad_trend_min_n: float  # ... of at least this many intervals
    max_iv_s: float  # a longer interval resets the interval list
    range_g: float  # sensor range (inf: unknown)
    undersampled: bool
    axial_mode: bool  # False: gravity axis (trunk), True: calibrated mid-stance axis (limbs)
    ms_t0_s: float
    ms_t1_s: float
    ms_tol_g: float
    cal_steps: float
    cal_skip: float
    use_gct: bool
    to_level_g: float


def params_record(kp: KParams) -> np.recarray:
    """A length-1 record array holding ``kp`` (pass it to :func:`process` and friends)."""
    return _params_record(kp)


N_IV = 32  # strike intervals kept for the cadence (6 s of steps at 300 spm)

NAN = math.nan
INF = math.inf

#: the strike kernels' state: (field, initial value), in record order
_STATE = (
    ("n", 0.0),  # samples processed
    ("gaps", 0.0),  # gaps seen
    ("last_t", NAN),
    ("seg_t", NAN),  # start of the current gap-free segment
    # start of the stretch the motion and dominance checks look back over: a short gap (lost
    # packets) does not end it, only a pause the period tracker restarts after
    ("look_t", NAN),
    ("mf", NAN),  # low-passed magnitude
    ("g0", 0.0),  # gravity estimate
    ("g1", 0.0),
    ("g2", 0.0),
    ("gn", 0.0),
    ("hx_prev0", 0.0),  # first-order high-pass: previous input and output per axis
    ("hx_prev1", 0.0),
    ("hx_prev2", 0.0),
    ("hy0", 0.0),
    ("hy1", 0.0),
    ("hy2", 0.0),
    ("sig", 0.0),  # detection signal now
    # candidate
    ("cand_on", 0.0),
    ("cand_start_t", NAN),
    ("cand_t", NAN),
    ("cand_h", 0.0),
    ("amp", 0.0),  # running strike height (g of d; init_state: amp0_g)
    ("last_pk_t", NAN),  # peak time of the last strike
    ("last_h", NAN),
    ("last_iv", NAN),  # time between the last two strikes' peaks
    ("last_ic", NAN),
    ("prev_ic", NAN),  # IC of the strike before the last one
    ("rephase", 0.0),  # the pending strike re-phased the last one (which was wrong)
    # pending report
    ("pend", 0.0),
    ("pend_ic", NAN),
    ("pend_peak", NAN),
    ("pend_ax", NAN),
    ("pend_absmax", NAN),
    ("pend_hold", 0.0),  # > 0: the pending strike is provisional (first after a pause); a
    # larger impact decided within this long after its peak window replaces it
    ("pend_repl", 0.0),  # the pending strike replaces the provisional one reported before it
    ("repl_until", NAN),  # a strike decided before this replaces the provisional one reported
    ("u0", NAN),  # axis used for peak_axial_g of the pending strike
    ("u1", NAN),
    ("u2", NAN),
    # period tracker
    ("acc_sum", 0.0),  # decimation accumulator
    ("acc_k", 0.0),
    ("x_lp1", NAN),  # two-pole low-pass of |acc|
    ("x_lp2", NAN),
    ("acf_mean", 0.0),
    ("acf_mean_ok", 0.0),
    ("acf_var", 0.0),  # running variance of the decimated signal (normalisation)
    ("acf_i", 0.0),  # next write index of the decimated ring
    ("acf_fill", 0.0),  # decimated samples since reset
    ("still_mean", NAN),
    ("still_var", 0.0),
    ("still_t", -INF),  # last time the runner stood still
    ("static_run", 0.0),  # consecutive quasi-static samples (limbs)
    ("static_t", -INF),  # last time the limb was quasi-static (on the ground, not rotating)
    ("cand_static_t", -INF),  # ... as of the candidate's start
    ("cand_due_t", INF),  # the candidate is decided by then (max_latency_s after its contact)
    ("period", NAN),  # tracked period between the strikes the placement sees (s), nan
    ("acf_r", NAN),  # normalised correlation at the chosen lag
    ("acf_lag", NAN),  # the last lag chosen (decimated samples, before the trunk's halving)
    ("cad", NAN),
    # intervals
    ("iv_i", 0.0),
    ("iv_n", 0.0),
    # sample ring
    ("ring_i", 0.0),
    ("ring_n", 0.0),
    ("ct_open", 0.0),
    ("ct_ic", NAN),
    ("last_gct", NAN),
    ("ms_on", 0.0),
    ("ms_ic", NAN),
    ("ms_e0", 0.0),
    ("ms_e1", 0.0),
    ("ms_e2", 0.0),
    ("ms_ek", 0.0),
    ("cal_a0", 0.0),
    ("cal_a1", 0.0),
    ("cal_a2", 0.0),
    ("cal_k", 0.0),
    ("cal_seen", 0.0),
    ("cal_ok", 0.0),
    ("axis0", NAN),  # calibrated up axis (foot/shank; unit, sensor frame)
    ("axis1", NAN),
    ("axis2", NAN),
)
STATE_DTYPE = state_dtype(_STATE)

# sample ring rows
R_T = 0
R_S = 1  # detection signal
R_M = 2  # |acc|
R_AX = 3
R_AY = 4
R_AZ = 5
R_MF = 6  # low-passed magnitude
N_RING = 7

# output columns
O_T = 0
O_CAD = 1
O_PEAK = 2
O_GRADE = 3
O_DESC = 4
O_GCT = 5
O_PEAK_AX = 6
O_T_REPORT = 7
O_UNDER = 8
O_CLIP = 9
O_PROVISIONAL = 10  # first after a pause: a replacement may follow
O_REPLACES = 11  # replaces the provisional step reported just before it
N_OUT = 12


def new_state() -> np.recarray:
    """A state record array of length 1 (``st[0].field``), not yet initialised."""
    return new_record(STATE_DTYPE)


def init_state(st: np.ndarray, prm: np.ndarray) -> None:
    """Reset the state in place (``prm``: :func:`params_record`)."""
    reset_state(st, _STATE)
    st["amp"] = prm["amp0_g"]


# ------------------------------------------------------------------------ period tracker
@njit(cache=True)
def _acf_reset(st: np.ndarray, acf_r: np.ndarray) -> None:
    s = st[0]
    acf_r[:] = 0.0
    s.acf_fill = 0.0
    s.acf_mean_ok = 0.0
    s.period = NAN
    s.acf_r = NAN
    s.acf_lag = NAN


@njit(cache=True)
def _acf_push(st: np.ndarray, p: KParams, acf_x: np.ndarray, acf_r: np.ndarray, x: float) -> None:
    """One decimated sample: update the weighted lag products and the period estimate."""
    s = st[0]
    if s.acf_mean_ok < 0.5:
        s.acf_mean = x
        s.acf_var = 0.0
        s.acf_mean_ok = 1.0
    else:
        s.acf_mean += p.acf_mean_alpha * (x - s.acf_mean)
    y = x - s.acf_mean
    # normalise by a short running deviation: every stretch counts alike, so a change of gait
    # (running -> walking: ten times less energy) shows within the tracker's time constant
    s.acf_var += p.acf_norm_alpha * (y * y - s.acf_var)
    y = y / math.sqrt(s.acf_var + 1e-6)
    cap = acf_x.shape[0]
    mask = cap - 1
    i = int(s.acf_i)
    acf_x[i] = y
    s.acf_i = float((i + 1) & mask)
    s.acf_fill += 1.0
    fill = int(s.acf_fill)
    lam = p.acf_lambda
    nl = acf_r.shape[0]
    for lag in range(nl):
        if lag < fill:
            acf_r[lag] = lam * acf_r[lag] + y * acf_x[(i - lag) & mask]
        else:
            acf_r[lag] = lam * acf_r[lag]
    s.period = NAN
    s.acf_r = NAN
    if fill < p.acf_min_fill:
        return
    r0 = acf_r[0]
    if not r0 > 0.0:
        return
    lo = p.lag_min
    # only lags up to half the samples since the reset: a longer lag's sum holds fewer products
    # than the lag spans (the usual bound of an autocorrelation estimate). Just after a standing
    # restart the long lags pair the first samples of the motion, which the running deviation,
    # still that of standing, scales up, with the newest ones: a doubled stride won there and
    # hid every other strike of the first strides (seeded foot and shank restarts)
    hi = min(p.lag_max, (fill - 1) // 2)
    if hi < lo + 1:
        return
    rmax = -INF
    for lag in range(lo, hi + 1):
        if acf_r[lag] > rmax:
            rmax = acf_r[lag]
    if not rmax > 0.0:
        return
    best = -1
    for lag in range(max(lo, 1), hi + 1):
        v = acf_r[lag]
        if v >= p.acf_first_frac * rmax and v >= acf_r[lag - 1] and v >= acf_r[lag + 1]:
            best = lag
            break
    if best < 0:
        return
    # sub-harmonic check (limbs: the lag is the stride): the tracked lag stays while it is still
    # a clear peak, so a momentary dip of its correlation does not double the period (which
    # would hide the next strike). The trunk's lag is a stride or a step (see below): not there.
    kept = s.acf_lag
    mult = math.floor(best / kept + 0.5) if p.one_foot and not math.isnan(kept) else 0.0
    if mult >= 2.0 and abs(best - mult * kept) <= p.iv_tol * mult * kept:
        k_lo = max(max(lo, 1), math.floor((1.0 - p.iv_tol) * kept))
        k_hi = min(hi, math.ceil((1.0 + p.iv_tol) * kept))
        kbest = -1
        for lag in range(k_lo, k_hi + 1):
            v = acf_r[lag]
            if (
                v >= p.acf_keep_frac * rmax
                and v >= acf_r[lag - 1]
                and v >= acf_r[lag + 1]
                and (kbest < 0 or v > acf_r[kbest])
            ):
                kbest = lag
        if kbest >= 0:
            best = kbest
    y0 = acf_r[best - 1]
    y1 = acf_r[best]
    y2 = acf_r[best + 1]
    den = y0 - 2.0 * y1 + y2
    delta = 0.5 * (y0 - y2) / den if den < 0.0 else 0.0
    lag_f = best + delta
    r = y1 / r0
    if r < p.acf_min_r:
        return
    s.acf_lag = lag_f
    if not p.one_foot:
        # trunk: both feet; the lag is one stride when the half lag correlates (a step), else
        # the lag is itself one step (slow walking with a symmetric signal)
        h = 0.5 * lag_f
        k = int(h)
        fr = h - k
        rh = ((1.0 - fr) * acf_r[k] + fr * acf_r[k + 1]) / r0
        # a lag beyond half the longest stride cannot be a single step
        if rh >= p.acf_half_min_r or 2.0 * lag_f > p.lag_max:
            lag_f = h
    s.period = lag_f * p.dec_n * p.dt_s
    s.acf_r = r


# ----------------------------------------------------------------------------- cadence
@njit(cache=True)
def _periods_in(d: float, per: float, tol: float) -> float:
    """1 or 2 when the interval ``d`` is that many periods within ``tol`` of each, else 0."""
    n = math.floor(d / per + 0.5)
    if 1.0 <= n <= 2.0 and abs(d / n - per) <= tol * per:
        return float(n)
    return 0.0


@njit(cache=True)
def _cadence(st: np.ndarray, p: KParams, iv: np.ndarray, t_now: float) -> float:
    """Cadence (spm) from the intervals agreeing with the tracked period, else the period."""
    s = st[0]
    per = s.period
    if math.isnan(per):
        return NAN
    sum_d = 0.0
    sum_n = 0.0
    sum_x = 0.0
    x_new = 0.0  # middle of the newest agreeing interval, relative to t_now
    buf = iv[2]  # the interval ring's scratch row: no allocation per strike
    nb = 0
    for k in range(int(s.iv_n)):  # newest first, up to cad_periods periods
        q = (int(s.iv_i) - 1 - k) % N_IV
        if iv[1, q] < t_now - p.cad_win_s:
            continue
        d = iv[0, q]
        n = _periods_in(d, per, p.iv_tol)
        if n > 0.0:
            sum_d += d
            sum_n += n
            x = iv[1, q] - 0.5 * d - t_now
            sum_x += x
            if nb == 0:
                x_new = x
            buf[nb] = d / n
            nb += 1
            if sum_n >= p.cad_periods:
                break
    if sum_n >= 2.0:
        # a trend (a sprint build-up): the period's slope over the trend window, when it is
        # clearly not zero, carries the level from the middle of its intervals to the middle
        # of the newest one: the report stands for the latest stride (step)
        slope = _period_trend(st, p, iv, per, t_now)
        per = median_first(buf, nb) if p.cad_median else sum_d / sum_n
        per += slope * (x_new - sum_x / nb)
    return 60.0 / per * (2.0 if p.one_foot else 1.0)


@njit(cache=True)
def _period_trend(st: np.ndarray, p: KParams, iv: np.ndarray, per: float, t_now: float) -> float:
    """Least-squares slope (s/s) of the per-period interval over the trend window, or 0 when
    it is within ``cad_trend_t`` standard errors of 0 or too few intervals agree."""
    s = st[0]
    if p.cad_trend_win_s <= 0.0:
        return 0.0
    c = 0.0
    sx = 0.0
    sy = 0.0
    sxx = 0.0
    sxy = 0.0
    syy = 0.0
    for k in range(int(s.iv_n)):
        q = (int(s.iv_i) - 1 - k) % N_IV
        if iv[1, q] < t_now - p.cad_trend_win_s:
            continue
        d = iv[0, q]
        n = _periods_in(d, per, p.iv_tol)
        if n > 0.0:
            x = iv[1, q] - 0.5 * d - t_now
            y = d / n
            c += 1.0
            sx += x
            sy += y
            sxx += x * x
            sxy += x * y
            syy += y * y
    if c < p.cad_trend_min_n:
        return 0.0
    vxx = sxx - sx * sx / c
    vxy = sxy - sx * sy / c
    vyy = syy - sy * sy / c
    if vxx <= 0.0:
        return 0.0
    b = vxy / vxx
    res = max(vyy - b * vxy, 0.0) / (c - 2.0)
    if b * b * vxx < p.cad_trend_t * p.cad_trend_t * res:
        return 0.0
    return b


@njit(cache=True)
def _push_interval(st: np.ndarray, iv: np.ndarray, d: float, t_end: float) -> None:
    s = st[0]
    i = int(s.iv_i)
    iv[0, i] = d
    iv[1, i] = t_end
    s.iv_i = float((i + 1) % N_IV)
    if s.iv_n < N_IV:
        s.iv_n += 1.0


# ------------------------------------------------------------------------------ strikes
@njit(cache=True)
def _emit(
    st: np.ndarray, p: KParams, iv: np.ndarray, out: np.ndarray, n_out: int, t_now: float
) -> int:
    """Finish the pending strike: interval, cadence, output row. Returns the new n_out."""
    s = st[0]
    t_ic = s.pend_ic
    last = s.last_ic
    if s.rephase > 0.5 and not math.isnan(last):
        # the last strike was wrong (a larger impact re-phased it): its interval goes, and the
        # new interval starts at the strike before it
        k = (int(s.iv_i) - 1) % N_IV
        if s.iv_n > 0.0 and iv[1, k] == last:
            iv[1, k] = -INF  # out of every cadence window from now on
        last = s.prev_ic
    s.prev_ic = last
    if not math.isnan(last):
        d = t_ic - last
        if d > p.max_iv_s:
            s.iv_n = 0.0
            s.iv_i = 0.0
        elif d > 0.0:
            _push_interval(st, iv, d, t_ic)
    s.last_ic = t_ic
    s.cad = _cadence(st, p, iv, t_ic)
    out[n_out, O_T] = t_ic
    out[n_out, O_CAD] = s.cad
    out[n_out, O_PEAK] = s.pend_peak
    out[n_out, O_GRADE] = NAN  # grade and descent: core/grade.py (filled by the tracker)
    out[n_out, O_DESC] = 0.0
    out[n_out, O_GCT] = s.last_gct
    out[n_out, O_PEAK_AX] = s.pend_ax
    out[n_out, O_T_REPORT] = t_now
    out[n_out, O_UNDER] = 1.0 if p.undersampled else 0.0
    out[n_out, O_CLIP] = 1.0 if s.pend_absmax >= 0.995 * p.range_g else 0.0
    out[n_out, O_PROVISIONAL] = 1.0 if s.pend_hold > 0.0 else 0.0
    out[n_out, O_REPLACES] = s.pend_repl
    # reported at once; a larger impact decided within the hold replaces it
    s.repl_until = t_ic + p.post_s + s.pend_hold if s.pend_hold > 0.0 else NAN
    s.pend = 0.0
    return n_out + 1


@njit(cache=True)
def _back_track(st: np.ndarray, p: KParams, ring: np.ndarray, t_pk: float, h: float) -> float:
    """Initial contact of the candidate peaking at ``t_pk`` (height ``h``): the last time the
    onset signal (limbs ``d``, trunk ``mf``) was at ``ic_level_frac`` of its rise from the
    trough before the peak (the ring's newest sample is the current one)."""
    s = st[0]
    mask = ring.shape[1] - 1
    n_fill = int(s.ring_n)
    j = (int(s.ring_i) - 1) & mask  # current sample
    seg = s.seg_t
    row = R_S if p.use_hp else R_MF
    # index of the peak sample
    kp = 0
    while kp < n_fill:
        jj = (j - kp) & mask
        if ring[R_T, jj] <= t_pk:
            break
        kp += 1
    jp = (j - kp) & mask
    t_lo = max(t_pk - p.trough_win_s, seg)
    trough = ring[row, jp]
    k = kp
    while k < n_fill:
        jj = (j - k) & mask
        if ring[R_T, jj] < t_lo:
            break
        if ring[row, jj] < trough:
            trough = ring[row, jj]
        k += 1
    if p.use_hp:
        top = h
    else:
        top = -INF
        for q in range(kp + 1):
            v = ring[row, (j - q) & mask]
            if v > top:
                top = v
    level = trough + p.f_ic * (top - trough)
    t_ic = ring[R_T, jp]
    k = kp + 1
    while k < n_fill:
        jj = (j - k) & mask
        tk = ring[R_T, jj]
        if tk < t_lo:
            break
        vk = ring[row, jj]
        if vk <= level:
            jn = (jj + 1) & mask
            v1 = ring[row, jn]
            t1 = ring[R_T, jn]
            frac = (level - vk) / (v1 - vk) if v1 > vk else 0.0
            t_ic = tk + frac * (t1 - tk)
            break
        t_ic = tk
        k += 1
    return t_ic


@njit(cache=True)
def _decide(st: np.ndarray, p: KParams, ring: np.ndarray, t_now: float) -> bool:
    """The candidate peak is final: is it a strike? If so back-track IC, open the report."""
    s = st[0]
    cap = ring.shape[1]
    mask = cap - 1
    n_fill = int(s.ring_n)
    j = (int(s.ring_i) - 1) & mask  # current sample
    seg = s.seg_t
    look = s.look_t
    h = s.cand_h
    t_pk = s.cand_t
    if s.still_var < p.still_var or s.cand_start_t - s.still_t < p.min_moving_s:
        return False  # standing, or not moving long enough since (first push-off, first swing)
    if s.cand_start_t - s.cand_static_t < p.min_swing_s:
        return False  # the limb was on the ground just before: a push-off, not the end of a swing
    per = s.period if s.period > 0.0 else p.default_period_s
    # the first strike after a pause (or ever): nothing to compare it with, it is provisional
    first = math.isnan(s.last_pk_t) or t_pk - s.last_pk_t > p.max_iv_s
    # too close to the last strike: part of the same impact
    if not math.isnan(s.last_pk_t) and t_pk - s.last_pk_t < p.min_iv_frac * per:
        return False
    # capped: the tracker lags a sudden change of gait (walk -> run), a stale long period must
    # not hide the first strides of the new gait behind the last strike
    t_back = t_pk - min(p.dom_frac * per, p.dom_max_s)
    rephase = not math.isnan(s.last_pk_t) and s.last_pk_t >= t_back
    if rephase and h < p.rephase_ratio * s.last_h:
        return False
    # dominance over the window before the candidate, and motion before it
    t_mot = s.cand_start_t - p.motion_win_s
    t_mot1 = s.cand_start_t - p.motion_gap_s
    t_lo = min(t_back, t_mot)
    bg = 0.0
    bg_far = 0.0
    t_near = t_pk - p.exp_near_frac * per
    mot = 0.0
    k = 0
    while k < n_fill:
        jj = (j - k) & mask
        tk = ring[R_T, jj]
        if tk < t_lo or tk < look:
            break
        if tk < s.cand_start_t:
            if tk >= t_back:
                if tk >= t_near:
                    if ring[R_S, jj] > bg:
                        bg = ring[R_S, jj]
                elif ring[R_S, jj] > bg_far:
                    bg_far = ring[R_S, jj]
            if t_mot <= tk <= t_mot1:
                dv = abs(ring[R_MF, jj] - 1.0)
                if dv > mot:
                    mot = dv
        k += 1
    # the first stride after standing has no strike to compare with: the candidate must
    # dominate what came since by the re-phase ratio (terminal swing of the first swing)
    ratio = p.first_ratio if s.still_t > t_back else p.dom_ratio
    ratio_far = ratio
    if (
        p.exp_tol_frac > 0.0
        and not math.isnan(s.last_pk_t)
        and s.period > 0.0
        and abs(t_pk - s.last_pk_t - s.period) <= p.exp_tol_frac * s.period
        and h >= p.exp_size_frac * s.last_h
    ):
        ratio_far = min(ratio, p.exp_ratio)
    if h < ratio * bg or h < ratio_far * bg_far or mot < p.motion_g:
        return False
    # ---- a strike: IC back-tracked on the onset signal (limbs d, trunk mf)
    t_ic = _back_track(st, p, ring, t_pk, h)
    # running height
    if h > p.amp_jump * s.amp or h * p.amp_jump < s.amp:
        s.amp = h
    else:
        s.amp += p.amp_adapt * (h - s.amp)
    s.last_iv = t_pk - s.last_pk_t if not math.isnan(s.last_pk_t) else NAN
    s.last_pk_t = t_pk
    s.last_h = h
    # axis for peak_axial_g
    if not p.axial_mode:
        gn = math.sqrt(s.g0 * s.g0 + s.g1 * s.g1 + s.g2 * s.g2)
        if gn > 0.0:
            s.u0 = s.g0 / gn
            s.u1 = s.g1 / gn
            s.u2 = s.g2 / gn
        else:
            s.u0 = NAN
            s.u1 = NAN
            s.u2 = NAN
    else:
        s.u0 = s.axis0
        s.u1 = s.axis1
        s.u2 = s.axis2
    # peak window so far: [IC - pre, min(now, IC + post)]
    t0 = t_ic - p.pre_s
    t1 = t_ic + p.post_s
    pk = 0.0
    pa = -INF
    am = 0.0
    k = 0
    while k < n_fill:
        jj = (j - k) & mask
        tk = ring[R_T, jj]
        if tk < t0 or tk < seg:
            break
        if tk <= t1:
            if ring[R_M, jj] > pk:
                pk = ring[R_M, jj]
            ax = ring[R_AX, jj]
            ay = ring[R_AY, jj]
            az = ring[R_AZ, jj]
            a = ax * s.u0 + ay * s.u1 + az * s.u2
            if a > pa:
                pa = a
            am = max(am, abs(ax), abs(ay), abs(az))
        k += 1
    repl = 0.0
    if s.pend > 0.5:
        rephase = False  # a first strike not yet reported is replaced: it never was the last
        repl = s.pend_repl
    elif t_now < s.repl_until - 0.5 * p.dt_s:
        # the first strike after a pause, reported already, was the terminal swing: this one
        # replaces it (its interval goes, as a re-phased strike's does)
        rephase = True
        repl = 1.0
    s.repl_until = NAN
    s.pend = 1.0
    s.pend_hold = p.first_hold_s if first else 0.0
    s.pend_repl = repl
    s.rephase = 1.0 if rephase else 0.0
    s.pend_ic = t_ic
    s.pend_peak = pk
    s.pend_ax = pa if not math.isnan(s.u0) else NAN
    s.pend_absmax = am
    # contact time bookkeeping (previous contact still open: unknown)
    if s.ct_open > 0.5:
        s.last_gct = NAN
    s.ct_open = 1.0
    s.ct_ic = t_ic
    # mid-stance accumulation (foot/shank stance axis): samples already in the ring
    if p.axial_mode:
        s.ms_on = 1.0
        s.ms_ic = t_ic
        s.ms_e0 = 0.0
        s.ms_e1 = 0.0
        s.ms_e2 = 0.0
        s.ms_ek = 0.0
        k = 0
        while k < n_fill:
            jj = (j - k) & mask
            dt_ic = ring[R_T, jj] - t_ic
            if dt_ic < p.ms_t0_s:
                break
            if dt_ic <= p.ms_t1_s and abs(ring[R_M, jj] - 1.0) < p.ms_tol_g:
                s.ms_e0 += ring[R_AX, jj]
                s.ms_e1 += ring[R_AY, jj]
                s.ms_e2 += ring[R_AZ, jj]
                s.ms_ek += 1.0
            k += 1
    return True


@njit(cache=True)
def _finish_midstance(st: np.ndarray, p: KParams) -> None:
    """Use the mean stance vector of the last step to calibrate the up axis of the stance
    (the first ``cal_steps`` steps after ``cal_skip``): the axis of ``peak_axial_g``."""
    s = st[0]
    s.ms_on = 0.0
    k = s.ms_ek
    if k < 3.0 or s.cal_ok > 0.5:
        return
    s.cal_seen += 1.0
    if s.cal_seen <= p.cal_skip:
        return
    s.cal_a0 += s.ms_e0 / k
    s.cal_a1 += s.ms_e1 / k
    s.cal_a2 += s.ms_e2 / k
    s.cal_k += 1.0
    if s.cal_k >= p.cal_steps:
        c0 = s.cal_a0 / s.cal_k
        c1 = s.cal_a1 / s.cal_k
        c2 = s.cal_a2 / s.cal_k
        cn = math.sqrt(c0 * c0 + c1 * c1 + c2 * c2)
        if cn > 0.0:
            s.axis0 = c0 / cn
            s.axis1 = c1 / cn
            s.axis2 = c2 / cn
            s.cal_ok = 1.0


# ------------------------------------------------------------------------------ main loop
@njit(cache=True, nogil=True)
def process(
    t_s: np.ndarray,
    acc_g: np.ndarray,
    prm: np.ndarray,
    st: np.ndarray,
    ring: np.ndarray,
    acf_x: np.ndarray,
    acf_r: np.ndarray,
    iv: np.ndarray,
    out: np.ndarray,
) -> tuple[int, int]:
    """Feed samples; write emitted strikes into ``out``.

    Returns ``(n_out, n_consumed)``; stops early when ``out`` is nearly full, so the caller
    feeds the rest again. ``prm`` is :func:`params_record` of the :class:`KParams`.
    """
    p = prm[0]
    s = st[0]
    n = t_s.shape[0]
    cap = ring.shape[1]
    mask = cap - 1
    max_out = out.shape[0]
    n_out = 0
    a_lp = p.alpha_lp
    # the per-sample filter states live in locals for the block (a record field is a memory
    # access the compiler cannot keep in a register); written back before every helper that
    # reads them (_decide) and on return
    n_s = s.n
    last_t = s.last_t
    mf = s.mf
    hxp0 = s.hx_prev0
    hxp1 = s.hx_prev1
    hxp2 = s.hx_prev2
    hy0 = s.hy0
    hy1 = s.hy1
    hy2 = s.hy2
    g0 = s.g0
    g1 = s.g1
    g2 = s.g2
    gn = s.gn
    still_mean = s.still_mean
    still_var = s.still_var
    static_run = s.static_run
    x_lp1 = s.x_lp1
    x_lp2 = s.x_lp2
    acc_sum = s.acc_sum
    acc_k = s.acc_k
    w = int(s.ring_i)
    ring_n = s.ring_n
    i = 0
    while i < n:
        if n_out >= max_out - 1:
            break
        t = t_s[i]
        x = acc_g[i, 0]
        y = acc_g[i, 1]
        z = acc_g[i, 2]
        i += 1
        if not (math.isfinite(t) and math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
            continue
        if n_s > 0.0 and not (t > last_t):
            continue  # repeated or out-of-order sample: ignored
        m = math.sqrt(x * x + y * y + z * z)
        if n_s > 0.0 and t - last_t > p.gap_s:
            s.gaps += 1.0
        if n_s == 0.0 or t - last_t > p.long_gap_s:
            # gap (or first sample): flush, restart short filters, no detection across it
            if s.pend > 0.5:
                n_out = _emit(st, p, iv, out, n_out, last_t)
            s.repl_until = NAN  # no replacement across a gap
            s.seg_t = t
            mf = m
            hxp0 = x
            hxp1 = y
            hxp2 = z
            hy0 = 0.0
            hy1 = 0.0
            hy2 = 0.0
            s.cand_on = 0.0
            s.ct_open = 0.0
            s.ms_on = 0.0
            if n_s == 0.0 or t - last_t > p.acf_reset_gap_s:
                # a pause, not lost packets: no interval across it (a short gap keeps the
                # last strike: an interval over a strike lost in it counts two periods)
                s.look_t = t
                s.last_ic = NAN
                s.prev_ic = NAN
                _acf_reset(st, acf_r)
                x_lp1 = m
                x_lp2 = m
                acc_sum = 0.0
                acc_k = 0.0
                still_mean = m
                still_var = 0.0
        n_s += 1.0
        last_t = t
        mf = mf + a_lp * (m - mf)
        if p.use_hp:
            # first-order high-pass of each axis, then the vector norm: impact transients
            a = p.hp_a
            hy0 = a * (hy0 + x - hxp0)
            hy1 = a * (hy1 + y - hxp1)
            hy2 = a * (hy2 + z - hxp2)
            hxp0 = x
            hxp1 = y
            hxp2 = z
            sig = math.sqrt(hy0 * hy0 + hy1 * hy1 + hy2 * hy2)
        else:
            # rise of the low-passed magnitude over the slope lag
            jl = (w - p.slope_lag_n) & mask
            if ring_n >= p.slope_lag_n and ring[R_T, jl] >= s.seg_t:
                sig = max(0.0, mf - ring[R_MF, jl])
            else:
                sig = 0.0
        # gravity: cumulative mean during warm-up, then one-pole low-pass
        if gn < p.warm_n:
            gn += 1.0
            ag = max(1.0 / gn, p.alpha_g)
        else:
            ag = p.alpha_g
        g0 += ag * (x - g0)
        g1 += ag * (y - g1)
        g2 += ag * (z - g2)
        # ring
        ring[R_T, w] = t
        ring[R_S, w] = sig
        ring[R_M, w] = m
        ring[R_AX, w] = x
        ring[R_AY, w] = y
        ring[R_AZ, w] = z
        ring[R_MF, w] = mf
        wq = w  # this sample's slot
        w = (w + 1) & mask
        if ring_n < cap:
            ring_n += 1.0
        # stillness: short running variance of the low-passed magnitude
        dm = mf - still_mean
        still_mean += p.still_alpha * dm
        still_var = (1.0 - p.still_alpha) * (still_var + p.still_alpha * dm * dm)
        if still_var < p.still_var:
            s.still_t = t
        # limbs: quasi-static (foot flat on the ground, or standing): a strike ends a swing
        if p.min_swing_s > 0.0:
            jq = (wq - p.static_lag_n) & mask
            if ring_n > p.static_lag_n and ring[R_T, jq] >= s.seg_t:
                dx = x - ring[R_AX, jq]
                dy = y - ring[R_AY, jq]
                dz = z - ring[R_AZ, jq]
                ok = (
                    abs(mf - 1.0) < p.static_tol_g
                    and dx * dx + dy * dy + dz * dz < p.static_change_g * p.static_change_g
                )
                static_run = static_run + 1.0 if ok else 0.0
                if static_run >= p.static_n:
                    s.static_t = t
            else:
                static_run = 0.0
        # period tracker: two-pole low-pass of |acc|, box decimation, autocorrelation
        x_lp1 += p.acf_lp_a * (m - x_lp1)
        x_lp2 += p.acf_lp_a * (x_lp1 - x_lp2)
        acc_sum += x_lp2
        acc_k += 1.0
        if acc_k >= p.dec_n:
            xd = acc_sum / acc_k
            acc_sum = 0.0
            acc_k = 0.0
            if still_var < p.still_var:
                _acf_reset(st, acf_r)  # standing: no period, no cadence
                s.cad = NAN
            else:
                _acf_push(st, p, acf_x, acf_r, xd)
        # pending strike: extend the peak window, emit when complete
        if s.pend > 0.5:
            t_end = s.pend_ic + p.post_s
            if t <= t_end:
                if m > s.pend_peak:
                    s.pend_peak = m
                a = x * s.u0 + y * s.u1 + z * s.u2
                if a > s.pend_ax:
                    s.pend_ax = a
                s.pend_absmax = max(s.pend_absmax, abs(x), abs(y), abs(z))
            if t >= t_end - 0.5 * p.dt_s:
                n_out = _emit(st, p, iv, out, n_out, t)
        # contact time (pelvis/chest): the vertical acceleration (about the vertical ground
        # reaction force in body weights at the sacrum) falls back near zero: toe-off
        if p.use_gct and s.ct_open > 0.5:
            if t - s.ct_ic > 2.0 * p.max_iv_s:
                s.ct_open = 0.0
                s.last_gct = NAN
            elif t > s.ct_ic + p.post_s:
                v = x * s.u0 + y * s.u1 + z * s.u2
                if v < p.to_level_g:
                    s.ct_open = 0.0
                    s.last_gct = 1000.0 * (t - s.ct_ic)
        # mid-stance gravity (foot/shank stance axis)
        if p.axial_mode and s.ms_on > 0.5:
            dt_ic = t - s.ms_ic
            if dt_ic > p.ms_t1_s:
                _finish_midstance(st, p)
            elif dt_ic >= p.ms_t0_s and abs(m - 1.0) < p.ms_tol_g:
                s.ms_e0 += x
                s.ms_e1 += y
                s.ms_e2 += z
                s.ms_ek += 1.0
        # candidates and strikes
        thr = max(p.floor_g, p.amp_frac * s.amp)
        if s.cand_on > 0.5:
            higher = sig > s.cand_h
            if higher:
                s.cand_h = sig
                s.cand_t = t
            if (
                not higher
                and (
                    t - s.cand_t >= p.confirm_s - 0.5 * p.dt_s
                    or t - s.cand_start_t >= p.max_wait_s - 0.5 * p.dt_s
                )
            ) or t >= s.cand_due_t - 0.5 * p.dt_s:
                s.cand_on = 0.0
                if s.pend > 0.5 and s.pend_hold == 0.0:
                    # a new strike while one is pending: report the old one (a first strike
                    # after standing stays pending: a larger impact replaces it)
                    n_out = _emit(st, p, iv, out, n_out, t)
                # _decide reads the gravity estimate, the stillness and the ring position
                s.g0 = g0
                s.g1 = g1
                s.g2 = g2
                s.still_var = still_var
                s.ring_i = float(w)
                s.ring_n = ring_n
                if _decide(st, p, ring, t) and t >= s.pend_ic + p.post_s - 0.5 * p.dt_s:
                    n_out = _emit(st, p, iv, out, n_out, t)
        elif sig >= thr:
            s.cand_on = 1.0
            s.cand_start_t = t
            s.cand_t = t
            s.cand_h = sig
            s.cand_static_t = s.static_t
            # decided at the latest max_latency_s after the contact as back-tracked now (the
            # final one is no earlier: the peak and its rise only grow): a slow, weak loading
            # (trunk, walking) opens its candidate well after the contact
            s.cand_due_t = INF
            if p.max_lat_s > 0.0:
                s.ring_i = float(w)
                s.ring_n = ring_n
                s.cand_due_t = _back_track(st, p, ring, t, sig) + p.max_lat_s
        # running height decays towards the floor once a strike is overdue
        per = s.period if s.period > 0.0 else p.default_period_s
        if not (t - s.last_pk_t < p.overdue_frac * per):
            s.amp = max(s.amp * p.amp_fast, p.floor_g)
    s.n = n_s
    s.last_t = last_t
    s.mf = mf
    s.hx_prev0 = hxp0
    s.hx_prev1 = hxp1
    s.hx_prev2 = hxp2
    s.hy0 = hy0
    s.hy1 = hy1
    s.hy2 = hy2
    s.g0 = g0
    s.g1 = g1
    s.g2 = g2
    s.gn = gn
    s.still_mean = still_mean
    s.still_var = still_var
    s.static_run = static_run
    s.x_lp1 = x_lp1
    s.x_lp2 = x_lp2
    s.acc_sum = acc_sum
    s.acc_k = acc_k
    s.ring_i = float(w)
    s.ring_n = ring_n
    return n_out, i
