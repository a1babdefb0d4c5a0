"""Private numba kernels of the streaming gait core.

Everything here trusts its inputs (validation happens in :mod:`downhill_live.core.tracker`).
All state lives in preallocated numpy arrays (a float64 state vector, a sample ring buffer, an
interval ring and a barometer ring), so a stream can be fed in chunks of any size and give
bit-identical results. The per-sample path is O(1) and allocation-free; work that scans the ring
(initial-contact back-tracking, peak search, cadence median) runs once per strike.

Algorithm
---------
Detection signal ``s`` (orientation-free):

- trunk (pelvis, chest): ``mf``, the one-pole low-pass (tau 5 ms) of ``|acc|``. The trunk reads
  about the summed ground reaction force in body weights: ~0 g in flight, a fast rise at
  initial contact (IC).
- limbs (foot, shank): the norm of the second-order high-pass (25 Hz) of the acceleration
  vector: the impact transient, not the large but smooth swing accelerations.

Once the refractory period after the last strike is over the detector is *armed* and tracks a
leaky trough of ``s`` (rises slower than ``max(P_LEAK * amp, P_LEAK_MIN)`` g/s are ignored:
slow trunk oscillations). A strike is detected when ``s - trough`` exceeds the largest of

- a noise floor ``P_MIN_RISE`` (g),
- ``P_K_RISE`` x the running strike amplitude ``amp`` (adaptive; it is reset when a strike is
  ``P_AMP_JUMP`` times off, i.e. walk <-> run, and decays quickly once a strike is overdue),
- ``P_C_BG`` x the background: the largest rise seen since arming, at least ``P_BG_DELAY``
  samples old (so the strike's own rise is excluded), decaying;

after at least ``P_ARM_MIN`` s of arming. Limbs also need a swing before the strike: the
decaying maximum of ``| mf - 1 g |`` must exceed ``P_SWING_G`` and, ``P_SWING_LAG`` samples
before the strike, ``| mf - 1 g |`` must have fallen below ``P_SWING_END`` x that maximum (the
swing deceleration is over: this rejects toe-off and mid-swing transients).

IC is back-tracked in the ring: the last time ``s`` was at or below ``trough + P_F_IC x rise``,
with the local trough taken over the last ``P_TROUGH_WIN`` s, linearly interpolated. The step is
emitted once the peak window ``[IC - P_PRE, IC + P_POST]`` is complete (latency ~60 ms of sensor
time). The refractory period is ``min(P_REFR_FRAC x median period, P_REFR_MAX)`` and at least
``P_REFR0``; the cap keeps a run of missed steps from locking the detector to half cadence.

Cadence is the median of up to ``N_IV`` intervals of the last ``P_CAD_WIN`` s (doubled for one-
foot placements); an interval of ``MISSED_LO``-``MISSED_HI`` times the current period spans one
missed strike and counts as two halves. Grade comes from the barometer (altitude change over distance = cadence x
nominal step length) or, for foot/shank, from the mean stance vector relative to a calibration on
the first steps (see :func:`_finish_midstance`). The descent state machine has a threshold, a
hysteresis and a minimum duration. Trunk contact time: IC to the vertical acceleration falling
below ``P_TO_LEVEL`` (about half body weight), reported with the next strike.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# ---------------------------------------------------------------- parameter indices (float64[])
P_DT = 0  # nominal sample period (s)
P_GAP = 1  # a time step above this is a gap (s): counted; above P_LONG_GAP it resets
P_ONE_FOOT = 2  # 1.0 when the placement sees only every other step
P_ALPHA_LP = 3  # one-pole coefficient of the magnitude low-pass
P_ALPHA_G = 4  # one-pole coefficient of the gravity low-pass (after warm-up)
P_K_RISE = 5  # detection threshold as a fraction of the recent strike amplitude
P_F_IC = 6  # IC back-tracking level as a fraction of the rise at detection
P_MIN_RISE = 7  # absolute floor of the detection threshold (g)
P_AMP0 = 8  # initial rise amplitude estimate (g)
P_REFR_FRAC = 9  # refractory period as a fraction of the seen step period
P_REFR0 = 10  # refractory period while the period is unknown (s)
P_MIN_PER = 11  # shortest plausible seen period (s)
P_MAX_PER = 12  # longest plausible seen period (s); longer intervals reset cadence
P_PRE = 13  # peak window start before IC (s)
P_POST = 14  # peak window end after IC (s): also the report latency
P_DESC_THR = 15  # grade to enter descent (%)
P_DESC_EXIT = 16  # grade to leave descent (%)
P_DESC_MIN = 17  # a descent condition must hold this long (s)
P_STEP_LEN = 18  # nominal step length for the speed estimate (m)
P_BARO_DT = 19  # decimation period of the barometric ring (s)
P_BARO_N = 20  # number of decimated intervals spanning the grade window
P_TAU_H = 21  # time constant of the altitude low-pass (s)
P_AMP_DECAY = 22  # per-sample decay of the amplitude estimate when no strikes
P_AMP_ADAPT = 23  # per-strike adaptation rate of the amplitude estimate
P_CAD_WIN = 24  # cadence window (s)
P_AXIAL_MODE = 25  # 0: gravity (pelvis/chest), 1: calibrated mid-stance axis (foot/shank)
P_WARM_N = 26  # gravity warm-up sample count (cumulative mean before EMA)
P_MIN_DS = 27  # minimal horizontal distance for a barometric grade (m)
P_MS_T0 = 28  # mid-stance window start after IC (s)
P_MS_T1 = 29  # mid-stance window end after IC (s)
P_MS_TOL = 30  # quasi-static tolerance | |acc| - 1 g | (g)
P_CAL_STEPS = 31  # mid-stance vectors averaged for the flat calibration
P_GRADE_ALPHA = 32  # per-step smoothing of the tilt grade
P_GCT = 33  # 1.0 when the placement allows a contact time from the magnitude
P_TO_LEVEL = 34  # toe-off: vertical acceleration (~ vertical force / body weight) below this (g)
P_HP = 35  # 1.0: detection signal is the high-passed acceleration vector norm (foot/shank)
P_HB0 = 36  # high-pass biquad coefficients (direct form II transposed)
P_HB1 = 37
P_HB2 = 38
P_HA1 = 39
P_HA2 = 40
P_C_BG = 41  # a strike must rise above this multiple of the background since arming
P_BG_DECAY = 42  # per-sample decay of the background maximum
P_ARM_MIN = 43  # background-only time after arming (s)
P_LEAK = 44  # the trough leaks upwards at this fraction of the amplitude per second
P_TROUGH_WIN = 45  # IC back-tracking looks for the local minimum this far back (s)
P_BG_DELAY = 46  # samples: the background excludes the most recent rise (the strike itself)
P_REFR_MAX = 47  # refractory cap (s): a missed step cannot lock the detector to half cadence
P_AMP_JUMP = 48  # a strike amplitude this many times off the running estimate: new gait
P_AMP_FAST = 49  # per-sample amplitude decay once a strike is overdue (gait change)
P_LEAK_MIN = 50  # minimal trough leak (g/s): slower rises are not strikes
P_SWING_G = 51  # limbs: a strike needs a swing before it, |low-passed |acc| - 1 g| above this
P_SWING_DECAY = 52  # per-sample decay of the swing evidence
P_SWING_END = 53  # limbs: just before a strike |mf - 1 g| must be below this x swing evidence
P_SWING_LAG = 54  # samples: the swing-end test looks at |mf - 1 g| this long before now
P_LONG_GAP = 55  # a gap longer than this (s) restarts the short filters and the detector
P_CAL_SKIP = 56  # stance vectors of the first steps after start-up are not used to calibrate
N_PARAMS = 57

# -------------------------------------------------------------------- state indices (float64[])
S_N = 0  # samples processed
S_LAST_T = 1
S_SEG_T = 2  # start of the current gap-free segment
S_MF = 3
S_G0 = 4
S_G1 = 5
S_G2 = 6
S_GN = 7  # samples in the gravity estimate (warm-up)
S_REFR_UNTIL = 8
S_TROUGH = 9
# 10 unused
S_AMP = 11
S_PEND = 12
S_PEND_IC = 13
S_PEND_PEAK = 14
S_PEND_AX = 15
S_PEND_MFMAX = 16
S_PEND_TROUGH = 17
S_U0 = 18  # axis used for peak_axial_g of the pending strike
S_U1 = 19
S_U2 = 20
S_LAST_IC = 21
S_CAD = 22
S_GRADE = 23
S_DESC = 24
S_DESC_T = 25  # time when the pending descent transition condition started (nan: none)
S_RING_I = 26  # next write index of the sample ring
S_RING_N = 27  # filled entries of the sample ring
S_IV_I = 28
S_IV_N = 29
S_H = 30  # low-passed altitude (m)
S_H_T = 31  # time of the last pressure sample
S_BARO_NEXT = 32  # time of the next decimation tick
S_BARO_I = 33
S_BARO_N = 34
S_DIST = 35  # integrated horizontal distance (m)
S_BARO_GRADE = 36
S_CT_OPEN = 37  # contact open (for the contact time)
S_CT_IC = 38
S_CT_LEVEL = 39
S_LAST_GCT = 40  # contact time of the last completed contact (ms)
S_MS_ON = 41  # mid-stance accumulation active
S_MS_IC = 42
# 43-46 unused
S_CAL_A0 = 47
S_CAL_A1 = 48
S_CAL_A2 = 49
S_CAL_K = 50
S_AXIS0 = 51  # calibrated up axis (foot/shank; unit, sensor frame)
S_AXIS1 = 52
S_AXIS2 = 53
S_FWD0 = 54  # forward axis (unit, perpendicular to the up axis)
S_FWD1 = 55
S_FWD2 = 56
S_TILT_GRADE = 57
S_CAL_OK = 58
S_FWD_A0 = 59  # accumulated minus impact transient vectors (forward direction)
S_FWD_A1 = 60
S_FWD_A2 = 61
S_MS_E0 = 62  # stance accumulation of this step
S_MS_E1 = 63
S_MS_E2 = 64
S_MS_EK = 65
# 66-69 unused
S_HX1 = 70  # high-pass filter states (two per axis)
S_HX2 = 71
S_HY1 = 72
S_HY2 = 73
S_HZ1 = 74
S_HZ2 = 75
S_ARMED = 76
S_ARM_T = 77
S_BG = 78
S_S = 79  # current detection signal value
S_PERIOD = 80  # median seen period (s), nan while unknown
S_SW = 81  # swing evidence: decaying maximum of the delayed R_DEV
S_IMP0 = 82  # high-passed vector at detection (rising edge of the impact transient)
S_IMP1 = 83
S_IMP2 = 84
S_VCAL0 = 85  # calibrated mean stance vector (g)
S_VCAL1 = 86
S_VCAL2 = 87
S_HO0 = 88  # current high-pass output vector
S_HO1 = 89
S_HO2 = 90
S_GAPS = 91  # number of gaps (time steps above P_GAP)
S_CAL_SEEN = 92  # stance vectors seen before calibration
S_TG_I = 93  # ring of the last N_TG per-step tilt grades (median against glitches)
S_TG_N = 94
S_TG0 = 95
N_TG = 5
N_STATE = S_TG0 + N_TG

# ring rows
R_T = 0
R_S = 1  # detection signal
R_M = 2
R_AX = 3
R_AY = 4
R_AZ = 5
R_RISE = 6  # rise above the leaky trough while armed (0 otherwise)
R_DEV = 7  # | low-passed magnitude - 1 g |
N_RING = 8

# output columns
O_T = 0
O_CAD = 1
O_PEAK = 2
O_GRADE = 3
O_DESC = 4
O_GCT = 5
O_PEAK_AX = 6
O_T_REPORT = 7
N_OUT = 8

N_IV = 8  # intervals kept for the cadence median
MISSED_LO = 1.6  # an interval of 1.6-2.4 x the current period spans one missed strike
MISSED_HI = 2.4

NAN = np.nan


@njit(cache=True)
def init_state(st: np.ndarray, p: np.ndarray) -> None:
    """Reset the scalar state in place."""
    st[:] = NAN
    st[S_N] = 0.0
    st[S_GN] = 0.0
    st[S_G0] = 0.0
    st[S_G1] = 0.0
    st[S_G2] = 0.0
    st[S_AMP] = p[P_AMP0]
    st[S_PEND] = 0.0
    st[S_DESC] = 0.0
    st[S_RING_I] = 0.0
    st[S_RING_N] = 0.0
    st[S_IV_I] = 0.0
    st[S_IV_N] = 0.0
    st[S_BARO_I] = 0.0
    st[S_BARO_N] = 0.0
    st[S_DIST] = 0.0
    st[S_CT_OPEN] = 0.0
    st[S_MS_ON] = 0.0
    st[S_CAL_A0] = 0.0
    st[S_CAL_A1] = 0.0
    st[S_CAL_A2] = 0.0
    st[S_CAL_K] = 0.0
    st[S_CAL_OK] = 0.0
    st[S_FWD_A0] = 0.0
    st[S_FWD_A1] = 0.0
    st[S_FWD_A2] = 0.0
    st[S_HO0] = 0.0
    st[S_HO1] = 0.0
    st[S_HO2] = 0.0
    st[S_GAPS] = 0.0
    st[S_CAL_SEEN] = 0.0
    st[S_TG_I] = 0.0
    st[S_TG_N] = 0.0
    st[S_TROUGH] = np.inf
    st[S_REFR_UNTIL] = -np.inf
    st[S_ARMED] = 0.0
    st[S_BG] = 0.0
    st[S_SW] = 0.0


@njit(cache=True)
def _median_interval(iv: np.ndarray, st: np.ndarray, t_now: float, win: float) -> float:
    """Median of the kept intervals that ended within ``win`` seconds of ``t_now``."""
    buf = np.empty(N_IV)
    n = 0
    for k in range(int(st[S_IV_N])):
        if iv[1, k] >= t_now - win:
            buf[n] = iv[0, k]
            n += 1
    if n < 2:
        return NAN
    # insertion sort of at most N_IV values
    for i in range(1, n):
        v = buf[i]
        j = i - 1
        while j >= 0 and buf[j] > v:
            buf[j + 1] = buf[j]
            j -= 1
        buf[j + 1] = v
    if n % 2 == 1:
        return buf[n // 2]
    return 0.5 * (buf[n // 2 - 1] + buf[n // 2])


@njit(cache=True)
def _push_interval(iv: np.ndarray, st: np.ndarray, d: float, t_end: float) -> None:
    """Append one interval (length, end time) to the cadence ring."""
    i = int(st[S_IV_I])
    iv[0, i] = d
    iv[1, i] = t_end
    st[S_IV_I] = (i + 1) % N_IV
    if st[S_IV_N] < N_IV:
        st[S_IV_N] += 1.0


@njit(cache=True)
def _emit(
    st: np.ndarray, p: np.ndarray, iv: np.ndarray, out: np.ndarray, n_out: int, t_now: float
) -> int:
    """Finish the pending strike: cadence, amplitude update, output row. Returns new n_out."""
    t_ic = st[S_PEND_IC]
    last = st[S_LAST_IC]
    rise = st[S_PEND_MFMAX] - st[S_PEND_TROUGH]
    amp = st[S_AMP]
    if rise > p[P_AMP_JUMP] * amp or rise * p[P_AMP_JUMP] < amp:
        # a different gait (walk <-> run) or a sudden change of impact: adopt the new amplitude
        # at once; the cadence window is short enough to follow a new period by itself
        st[S_AMP] = rise
    elif rise > 0.0:
        st[S_AMP] += p[P_AMP_ADAPT] * (rise - amp)
    if not math.isnan(last):
        d = t_ic - last
        per = st[S_PERIOD]
        if d > p[P_MAX_PER]:
            st[S_IV_N] = 0.0
            st[S_IV_I] = 0.0
        elif not math.isnan(per) and MISSED_LO * per <= d <= MISSED_HI * per:
            # one strike in between was missed: count two intervals of half the length
            _push_interval(iv, st, 0.5 * d, t_ic - 0.5 * d)
            _push_interval(iv, st, 0.5 * d, t_ic)
        elif d >= p[P_MIN_PER]:
            _push_interval(iv, st, d, t_ic)
    st[S_LAST_IC] = t_ic
    med = _median_interval(iv, st, t_ic, p[P_CAD_WIN])
    st[S_PERIOD] = med
    if math.isnan(med):
        st[S_CAD] = NAN
    else:
        st[S_CAD] = 60.0 / med * (2.0 if p[P_ONE_FOOT] > 0.5 else 1.0)
        refr = min(p[P_REFR_FRAC] * med, p[P_REFR_MAX])
        st[S_REFR_UNTIL] = max(st[S_REFR_UNTIL], t_ic + refr)
    out[n_out, O_T] = t_ic
    out[n_out, O_CAD] = st[S_CAD]
    out[n_out, O_PEAK] = st[S_PEND_PEAK]
    out[n_out, O_GRADE] = st[S_GRADE]
    out[n_out, O_DESC] = st[S_DESC]
    out[n_out, O_GCT] = st[S_LAST_GCT]
    out[n_out, O_PEAK_AX] = st[S_PEND_AX]
    out[n_out, O_T_REPORT] = t_now
    st[S_PEND] = 0.0
    return n_out + 1


@njit(cache=True)
def _detect(st: np.ndarray, p: np.ndarray, ring: np.ndarray, t: float, s_now: float) -> None:
    """A strike was detected at sample time ``t``: back-track IC and start the peak window."""
    cap = ring.shape[1]
    mask = cap - 1
    seg = st[S_SEG_T]
    n_fill = int(st[S_RING_N])
    j = (int(st[S_RING_I]) - 1) & mask  # current sample
    # local trough: minimum of the detection signal over the last P_TROUGH_WIN seconds
    t_lo = max(t - p[P_TROUGH_WIN], seg)
    trough = s_now
    k = 1
    while k < n_fill:
        jj = (j - k) & mask
        if ring[R_T, jj] < t_lo:
            break
        if ring[R_S, jj] < trough:
            trough = ring[R_S, jj]
        k += 1
    # IC: last crossing of trough + f_ic * rise, linearly interpolated
    level = trough + p[P_F_IC] * (s_now - trough)
    t_ic = ring[R_T, j]
    k = 1
    while k < n_fill:
        jj = (j - k) & mask
        tk = ring[R_T, jj]
        if tk < t_lo:
            break
        vk = ring[R_S, jj]
        if vk <= level:
            jn = (jj + 1) & mask
            v1 = ring[R_S, jn]
            t1 = ring[R_T, jn]
            frac = (level - vk) / (v1 - vk) if v1 > vk else 0.0
            t_ic = tk + frac * (t1 - tk)
            break
        t_ic = tk
        k += 1
    # axis for peak_axial_g
    if p[P_AXIAL_MODE] < 0.5:
        gn = math.sqrt(st[S_G0] ** 2 + st[S_G1] ** 2 + st[S_G2] ** 2)
        if gn > 0.0:
            st[S_U0] = st[S_G0] / gn
            st[S_U1] = st[S_G1] / gn
            st[S_U2] = st[S_G2] / gn
        else:
            st[S_U0] = NAN
            st[S_U1] = NAN
            st[S_U2] = NAN
    else:
        st[S_U0] = st[S_AXIS0]
        st[S_U1] = st[S_AXIS1]
        st[S_U2] = st[S_AXIS2]
    # peak over [IC - pre, now]
    t0 = t_ic - p[P_PRE]
    pk = 0.0
    pa = -np.inf
    mfmax = -np.inf
    k = 0
    while k < n_fill:
        jj = (j - k) & mask
        tk = ring[R_T, jj]
        if tk < t0 or tk < seg:
            break
        if ring[R_M, jj] > pk:
            pk = ring[R_M, jj]
        if ring[R_S, jj] > mfmax:
            mfmax = ring[R_S, jj]
        a = ring[R_AX, jj] * st[S_U0] + ring[R_AY, jj] * st[S_U1] + ring[R_AZ, jj] * st[S_U2]
        if a > pa:
            pa = a
        k += 1
    st[S_PEND] = 1.0
    st[S_PEND_IC] = t_ic
    st[S_PEND_PEAK] = pk
    st[S_PEND_AX] = pa if not math.isnan(st[S_U0]) else NAN
    st[S_PEND_MFMAX] = mfmax
    st[S_PEND_TROUGH] = trough
    # refractory from the current period estimate (updated again at emission)
    st[S_REFR_UNTIL] = t_ic + p[P_REFR0]
    st[S_ARMED] = 0.0
    # contact time bookkeeping (previous contact still open: unknown)
    if st[S_CT_OPEN] > 0.5:
        st[S_LAST_GCT] = NAN
    st[S_CT_OPEN] = 1.0
    st[S_CT_IC] = t_ic
    st[S_CT_LEVEL] = level
    # mid-stance accumulation (foot/shank tilt grade)
    st[S_MS_ON] = 1.0
    st[S_MS_IC] = t_ic
    st[S_MS_E0] = 0.0
    st[S_MS_E1] = 0.0
    st[S_MS_E2] = 0.0
    st[S_MS_EK] = 0.0
    st[S_IMP0] = st[S_HO0]
    st[S_IMP1] = st[S_HO1]
    st[S_IMP2] = st[S_HO2]


@njit(cache=True)
def _finish_midstance(st: np.ndarray, p: np.ndarray) -> None:
    """Use the mean stance vector of the last step: calibrate, or update the tilt grade.

    Calibration (the first ``P_CAL_STEPS`` steps, assumed flat): the mean stance vector ``v_cal``
    gives the up axis; the forward axis is the horizontal part of minus the impact transient
    (the foot and the shank brake at initial contact). Afterwards the slope angle is
    ``asin((v - v_cal) . forward)``: the stance kinematics cancel, gravity tilts with the slope.
    """
    st[S_MS_ON] = 0.0
    k = st[S_MS_EK]
    if k < 3.0:
        return
    v0 = st[S_MS_E0] / k
    v1 = st[S_MS_E1] / k
    v2 = st[S_MS_E2] / k
    if st[S_CAL_OK] < 0.5:
        st[S_CAL_SEEN] += 1.0
        if st[S_CAL_SEEN] <= p[P_CAL_SKIP]:
            return
        st[S_CAL_A0] += v0
        st[S_CAL_A1] += v1
        st[S_CAL_A2] += v2
        st[S_CAL_K] += 1.0
        st[S_FWD_A0] -= st[S_IMP0]
        st[S_FWD_A1] -= st[S_IMP1]
        st[S_FWD_A2] -= st[S_IMP2]
        if st[S_CAL_K] >= p[P_CAL_STEPS]:
            c0 = st[S_CAL_A0] / st[S_CAL_K]
            c1 = st[S_CAL_A1] / st[S_CAL_K]
            c2 = st[S_CAL_A2] / st[S_CAL_K]
            cn = math.sqrt(c0 * c0 + c1 * c1 + c2 * c2)
            if cn > 0.0:
                u0 = c0 / cn
                u1 = c1 / cn
                u2 = c2 / cn
                f0 = st[S_FWD_A0]
                f1 = st[S_FWD_A1]
                f2 = st[S_FWD_A2]
                d = f0 * u0 + f1 * u1 + f2 * u2
                f0 -= d * u0
                f1 -= d * u1
                f2 -= d * u2
                fn = math.sqrt(f0 * f0 + f1 * f1 + f2 * f2)
                if fn > 1e-9:
                    st[S_AXIS0] = u0
                    st[S_AXIS1] = u1
                    st[S_AXIS2] = u2
                    st[S_FWD0] = f0 / fn
                    st[S_FWD1] = f1 / fn
                    st[S_FWD2] = f2 / fn
                    st[S_VCAL0] = c0
                    st[S_VCAL1] = c1
                    st[S_VCAL2] = c2
                    st[S_CAL_OK] = 1.0
                    st[S_TILT_GRADE] = 0.0
        return
    sa = (
        (v0 - st[S_VCAL0]) * st[S_FWD0]
        + (v1 - st[S_VCAL1]) * st[S_FWD1]
        + (v2 - st[S_VCAL2]) * st[S_FWD2]
    )
    sa = min(max(sa, -0.9), 0.9)
    g = 100.0 * sa / math.sqrt(1.0 - sa * sa)
    i = int(st[S_TG_I])
    st[S_TG0 + i] = g
    st[S_TG_I] = (i + 1) % N_TG
    if st[S_TG_N] < N_TG:
        st[S_TG_N] += 1.0
    n = int(st[S_TG_N])
    buf = np.empty(N_TG)
    for q in range(n):
        buf[q] = st[S_TG0 + q]
    for a in range(1, n):  # insertion sort of at most N_TG values
        v = buf[a]
        b = a - 1
        while b >= 0 and buf[b] > v:
            buf[b + 1] = buf[b]
            b -= 1
        buf[b + 1] = v
    med = buf[n // 2] if n % 2 == 1 else 0.5 * (buf[n // 2 - 1] + buf[n // 2])
    st[S_TILT_GRADE] += p[P_GRADE_ALPHA] * (med - st[S_TILT_GRADE])


@njit(cache=True)
def _update_descent(st: np.ndarray, p: np.ndarray, t: float) -> None:
    """Descent state machine: threshold, hysteresis and minimum duration."""
    g = st[S_GRADE]
    # entering: at or below the threshold (False for nan); leaving: above exit or nan
    cond = g <= p[P_DESC_THR] if st[S_DESC] < 0.5 else not g <= p[P_DESC_EXIT]
    if cond:
        if math.isnan(st[S_DESC_T]):
            st[S_DESC_T] = t
        if t - st[S_DESC_T] >= p[P_DESC_MIN]:
            st[S_DESC] = 1.0 - st[S_DESC]
            st[S_DESC_T] = NAN
    else:
        st[S_DESC_T] = NAN


@njit(cache=True)
def process(
    t_s: np.ndarray,
    acc_g: np.ndarray,
    pressure_pa: np.ndarray,
    has_p: bool,
    p: np.ndarray,
    st: np.ndarray,
    ring: np.ndarray,
    iv: np.ndarray,
    baro: np.ndarray,
    out: np.ndarray,
) -> tuple[int, int]:
    """Feed samples; write emitted strikes into ``out``.

    Returns ``(n_out, n_consumed)``; stops early when ``out`` is full, so the caller feeds the
    rest again.
    """
    n = t_s.shape[0]
    cap = ring.shape[1]
    mask = cap - 1
    max_out = out.shape[0]
    n_out = 0
    a_lp = p[P_ALPHA_LP]
    a_g = p[P_ALPHA_G]
    warm_n = p[P_WARM_N]
    gap = p[P_GAP]
    long_gap = max(gap, p[P_LONG_GAP])
    one_foot_tilt = p[P_AXIAL_MODE] > 0.5
    use_gct = p[P_GCT] > 0.5
    use_hp = p[P_HP] > 0.5
    leak = p[P_LEAK] * p[P_DT]
    leak_min = p[P_LEAK_MIN] * p[P_DT]
    bg_delay = int(p[P_BG_DELAY])
    swing_lag = int(p[P_SWING_LAG])
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
        last_t = st[S_LAST_T]
        if st[S_N] > 0.0 and not (t > last_t):
            continue  # repeated or out-of-order sample: ignored
        m = math.sqrt(x * x + y * y + z * z)
        if st[S_N] > 0.0 and t - last_t > gap:
            st[S_GAPS] += 1.0
        if st[S_N] == 0.0 or t - last_t > long_gap:
            # gap (or first sample): flush, restart short filters, no detection across it
            if st[S_PEND] > 0.5:
                n_out = _emit(st, p, iv, out, n_out, last_t)
            st[S_SEG_T] = t
            st[S_MF] = m
            st[S_ARMED] = 0.0
            hb1 = p[P_HB1]
            hb2 = p[P_HB2]
            st[S_HX1] = (hb1 + hb2) * x  # high-pass at steady state for this input
            st[S_HX2] = hb2 * x
            st[S_HY1] = (hb1 + hb2) * y
            st[S_HY2] = hb2 * y
            st[S_HZ1] = (hb1 + hb2) * z
            st[S_HZ2] = hb2 * z
            st[S_LAST_IC] = NAN
            st[S_CT_OPEN] = 0.0
            st[S_MS_ON] = 0.0
            if st[S_N] == 0.0:
                st[S_BARO_NEXT] = t
        st[S_N] += 1.0
        st[S_LAST_T] = t
        mf = st[S_MF] + a_lp * (m - st[S_MF])
        st[S_MF] = mf
        if use_hp:
            # second-order high-pass of each axis, then the vector norm: impact transients
            hb0 = p[P_HB0]
            hb1 = p[P_HB1]
            hb2 = p[P_HB2]
            ha1 = p[P_HA1]
            ha2 = p[P_HA2]
            hx = hb0 * x + st[S_HX1]
            st[S_HX1] = hb1 * x - ha1 * hx + st[S_HX2]
            st[S_HX2] = hb2 * x - ha2 * hx
            hy = hb0 * y + st[S_HY1]
            st[S_HY1] = hb1 * y - ha1 * hy + st[S_HY2]
            st[S_HY2] = hb2 * y - ha2 * hy
            hz = hb0 * z + st[S_HZ1]
            st[S_HZ1] = hb1 * z - ha1 * hz + st[S_HZ2]
            st[S_HZ2] = hb2 * z - ha2 * hz
            sig = math.sqrt(hx * hx + hy * hy + hz * hz)
            st[S_HO0] = hx
            st[S_HO1] = hy
            st[S_HO2] = hz
        else:
            sig = mf
        st[S_S] = sig
        # gravity: cumulative mean during warm-up, then one-pole low-pass
        gn = st[S_GN]
        if gn < warm_n:
            gn += 1.0
            st[S_GN] = gn
            ag = max(1.0 / gn, a_g)
        else:
            ag = a_g
        st[S_G0] += ag * (x - st[S_G0])
        st[S_G1] += ag * (y - st[S_G1])
        st[S_G2] += ag * (z - st[S_G2])
        # ring
        w = int(st[S_RING_I])
        ring[R_T, w] = t
        ring[R_S, w] = sig
        ring[R_M, w] = m
        ring[R_AX, w] = x
        ring[R_AY, w] = y
        ring[R_AZ, w] = z
        ring[R_RISE, w] = 0.0
        ring[R_DEV, w] = abs(mf - 1.0)
        st[S_RING_I] = (w + 1) & mask
        if st[S_RING_N] < cap:
            st[S_RING_N] += 1.0
        # swing evidence (limbs): decaying maximum of the delayed deviation from 1 g
        jd = (w - bg_delay) & mask
        if st[S_RING_N] > bg_delay and ring[R_T, jd] >= st[S_SEG_T]:
            st[S_SW] = max(st[S_SW] * p[P_SWING_DECAY], ring[R_DEV, jd])
        else:
            st[S_SW] *= p[P_SWING_DECAY]
        # pending strike: extend the peak window, emit when complete
        if st[S_PEND] > 0.5:
            t_end = st[S_PEND_IC] + p[P_POST]
            if t <= t_end:
                if m > st[S_PEND_PEAK]:
                    st[S_PEND_PEAK] = m
                if sig > st[S_PEND_MFMAX]:
                    st[S_PEND_MFMAX] = sig
                a = x * st[S_U0] + y * st[S_U1] + z * st[S_U2]
                if a > st[S_PEND_AX]:
                    st[S_PEND_AX] = a
            if t >= t_end - 0.5 * p[P_DT]:
                n_out = _emit(st, p, iv, out, n_out, t)
        # contact time (pelvis/chest): the vertical acceleration (about the vertical ground
        # reaction force in body weights at the sacrum) falls back near zero: toe-off
        if use_gct and st[S_CT_OPEN] > 0.5:
            if t - st[S_CT_IC] > 2.0 * p[P_MAX_PER]:
                st[S_CT_OPEN] = 0.0
                st[S_LAST_GCT] = NAN
            elif t > st[S_CT_IC] + p[P_POST]:
                v = x * st[S_U0] + y * st[S_U1] + z * st[S_U2]
                if v < p[P_TO_LEVEL]:
                    st[S_CT_OPEN] = 0.0
                    st[S_LAST_GCT] = 1000.0 * (t - st[S_CT_IC])
        # mid-stance gravity (foot/shank tilt grade)
        if one_foot_tilt and st[S_MS_ON] > 0.5:
            dt_ic = t - st[S_MS_IC]
            if dt_ic > p[P_MS_T1]:
                _finish_midstance(st, p)
            elif dt_ic >= p[P_MS_T0] and abs(m - 1.0) < p[P_MS_TOL]:
                st[S_MS_E0] += x
                st[S_MS_E1] += y
                st[S_MS_E2] += z
                st[S_MS_EK] += 1.0
        # detection
        if t >= st[S_REFR_UNTIL] and st[S_PEND] < 0.5:
            if st[S_ARMED] < 0.5:
                st[S_ARMED] = 1.0
                st[S_ARM_T] = t
                st[S_TROUGH] = sig
                st[S_BG] = 0.0
            else:
                st[S_TROUGH] = min(sig, st[S_TROUGH] + max(leak * st[S_AMP], leak_min))
            rise = sig - st[S_TROUGH]
            ring[R_RISE, w] = rise
            # background: the largest rise since arming, older than the delay, decaying
            jd = (w - bg_delay) & mask
            bg = st[S_BG] * p[P_BG_DECAY]
            if st[S_RING_N] > bg_delay and ring[R_T, jd] >= st[S_ARM_T]:
                bg = max(bg, ring[R_RISE, jd])
            st[S_BG] = bg
            thr = max(p[P_MIN_RISE], p[P_C_BG] * bg, p[P_K_RISE] * st[S_AMP])
            jl = (w - swing_lag) & mask
            ok_lag = st[S_RING_N] > swing_lag and ring[R_T, jl] >= st[S_SEG_T]
            dev_pre = ring[R_DEV, jl] if ok_lag else np.inf
            swing_ok = st[S_SW] >= p[P_SWING_G] and dev_pre <= p[P_SWING_END] * st[S_SW]
            if rise >= thr and t - st[S_ARM_T] >= p[P_ARM_MIN] and swing_ok:
                _detect(st, p, ring, t, sig)
                if t >= st[S_PEND_IC] + p[P_POST] - 0.5 * p[P_DT]:
                    n_out = _emit(st, p, iv, out, n_out, t)
        # amplitude decays towards the floor once a strike is overdue (1.5 periods, else 1 s)
        per = st[S_PERIOD]
        if not (t - st[S_LAST_IC] < (1.5 * per if per > 0.0 else 1.0)):
            st[S_AMP] = max(st[S_AMP] * p[P_AMP_FAST], p[P_MIN_RISE])
        # barometric grade on a decimated clock
        if has_p:
            pr = pressure_pa[i - 1]
            if math.isfinite(pr) and pr > 0.0:
                h = 44330.77 * (1.0 - (pr / 101325.0) ** 0.190263)
                if math.isnan(st[S_H]):
                    st[S_H] = h
                else:
                    ah = 1.0 - math.exp(-(t - st[S_H_T]) / p[P_TAU_H])
                    st[S_H] += ah * (h - st[S_H])
                st[S_H_T] = t
        if t >= st[S_BARO_NEXT]:
            _baro_tick(st, p, baro, t)
        if one_foot_tilt and not has_p:
            st[S_GRADE] = st[S_TILT_GRADE]
        elif not has_p:
            st[S_GRADE] = NAN
        else:
            st[S_GRADE] = st[S_BARO_GRADE]
        _update_descent(st, p, t)
    return n_out, i


@njit(cache=True)
def step_length_m(cadence_spm: float, run_len_m: float) -> float:
    """Nominal step length: walking (<= 130 spm) 0.75 m, running (>= 150 spm) ``run_len_m``,
    linear in between."""
    if cadence_spm <= 130.0:
        return 0.75
    if cadence_spm >= 150.0:
        return run_len_m
    return 0.75 + (run_len_m - 0.75) * (cadence_spm - 130.0) / 20.0


@njit(cache=True)
def _baro_tick(st: np.ndarray, p: np.ndarray, baro: np.ndarray, t: float) -> None:
    """Every ``P_BARO_DT`` seconds: integrate distance, store (altitude, distance), grade."""
    dtb = p[P_BARO_DT]
    cad = st[S_CAD]
    if not math.isnan(cad) and t - st[S_LAST_IC] < 2.0:
        st[S_DIST] += dtb * cad / 60.0 * step_length_m(cad, p[P_STEP_LEN])
    st[S_BARO_NEXT] += dtb
    if st[S_BARO_NEXT] <= t:  # after a gap: re-anchor the clock
        st[S_BARO_NEXT] = t + dtb
    nb = baro.shape[1]
    i = int(st[S_BARO_I])
    baro[0, i] = st[S_H]
    baro[1, i] = st[S_DIST]
    st[S_BARO_I] = (i + 1) % nb
    if st[S_BARO_N] < nb:
        st[S_BARO_N] += 1.0
    if st[S_BARO_N] >= nb and not math.isnan(st[S_H]):
        j = int(st[S_BARO_I])  # oldest entry
        dh = baro[0, i] - baro[0, j]
        ds = baro[1, i] - baro[1, j]
        if ds >= p[P_MIN_DS] and not math.isnan(dh):
            st[S_BARO_GRADE] = 100.0 * dh / ds
