"""Grade and descent state: from what the runner has, or honestly unknown.

The strike kernels (:mod:`downhill_live.core._kernels`) find the steps; this module turns the
same samples, the steps and any other source of the run into ``grade_pct`` and ``on_descent``.
Its kernel (:func:`grade_block`) is fed the samples of a block and the steps the strike kernels
reported in it (contact time, report time, cadence); it runs as plain Python when numba is
absent, and gives bit-identical results for any chunking (a step is taken in after every sample
up to its report time and before the next one).

Sources, in order of precedence (:data:`SOURCES`):

1. **treadmill** (``set_external_grade``): a Fitness Machine's inclination is the grade, exactly.
   It stays in force for :data:`EXTERNAL_HOLD_S` after the last value.
2. **barometer** (a pressure channel, or altitude attached from a watch): altitude (ISA formula,
   ``tau_h_s`` low-pass) against horizontal distance; the grade is the least-squares slope of
   the (distance, altitude) pairs of the last ``baro_window_s`` (sampled every ``baro_dt_s``),
   once they span at least ``min_ds_m``. Distance integrates the best speed present: a speed
   source (``set_speed``: a foot pod's RSC speed, a treadmill's belt speed) while fresh, else
   cadence x a nominal step length (:func:`step_length_m`).
3. **foot tilt** (foot placement, no barometer): the mean acceleration of each step's foot-flat
   phase against the foot at rest on level ground. Used only when it can be trusted:

   - the reference is a *still stand* (``stand_s`` of quasi-static samples before the first
     step; the runner stands on level ground at the start) - never "the first steps are flat";
   - foot-flat must be *reliable*: at least ``ff_min_s`` of quasi-static samples (``|a|`` within
     ``ff_tol_g`` of 1 g, sample-to-sample change below ``ff_jerk_g``) in ``[IC + ff_t0_s,
     IC + ff_t1_s]`` on at least ``ff_share`` of the last :data:`N_FF` steps (a jogging foot on
     real shoe data is quasi-static for ~15 ms a stride: no grade);
   - the sign needs the forward axis: minus the horizontal part of each impact transient's
     direction (the foot brakes at contact), which must agree from step to step (mean resultant
     length at least ``fwd_min_r`` over at least ``fwd_min_steps`` steps).

   The grade is then the median of the last :data:`N_TG` steps' ``100 tan(asin(u_ff . fwd))``.
4. otherwise **unknown** (nan): a shank's forward axis has no sign that acceleration alone can
   establish (its impact is almost purely axial), the trunk has no foot-flat; without a
   barometer or a treadmill their grade is unknown, never a guess.

**Descent state**: enter when the grade stays at or below ``desc_thr`` (exit: above ``desc_exit``
or unknown) for ``hold_s``. The minimum duration the cue profile asks for (``descent.min_s``)
counts the evidence the grade already holds: a least-squares grade over the last 3 s crosses a
threshold about 1.5 s after the ground did, so when it reads -10 % the runner has been descending
for about ``baro_window_s + 1.5`` s. Hence ``hold_s = max(MIN_HOLD_S, min_s - (baro_window_s +
1.5))`` (0.5 s with the default 5 s), the same for every source, so that a treadmill changing its
incline and a barometer behave alike. Hysteresis (``desc_thr`` < ``desc_exit``) and the window
keep rolling terrain from flapping (``benchmarks/bench_grade.py`` measures entry and exit lags).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from downhill_live.core._jit import (
    median_first,
    new_record,
    njit,
    params_record,
    reset_state,
    state_dtype,
)

__all__ = [
    "EXTERNAL_HOLD_S",
    "N_FF",
    "N_TG",
    "SOURCES",
    "GParams",
    "grade_params",
    "step_length_m",
]

#: grade sources, index = the ``src`` code of the state
SOURCES = ("unknown", "foot tilt", "barometer", "treadmill")
SRC_NONE = 0
SRC_TILT = 1
SRC_BARO = 2
SRC_EXT = 3

#: the descent state changes at the earliest this long after the grade crossed the threshold
MIN_HOLD_S = 0.5

#: an external grade (treadmill) or speed stays valid this long after its last value (s)
EXTERNAL_HOLD_S = 5.0
SPEED_HOLD_S = 3.0

LEVEL_PCT = 2.0  # a foot-flat within this grade of the stand's counts as level ground
N_TG = 5  # per-step tilt grades kept for the median
N_FF = 10  # steps over which foot-flat reliability is judged
N_GRING = 7  # t, x, y, z, biquad x, y, z
GR_T = 0
GR_X = 1
GR_Y = 2
GR_Z = 3


class GParams(NamedTuple):
    """Grade kernel parameters (see :func:`grade_params`)."""

    dt_s: float
    long_gap_s: float
    desc_thr: float
    desc_exit: float
    hold_s: float
    step_len_m: float
    baro_dt_s: float
    baro_n: int
    tau_h_s: float
    min_ds_m: float
    tilt: bool  # foot placement: the foot tilt grade may be used
    stand_s: float
    still_tol_g: float
    still_jerk_g: float
    ff_t0_s: float
    ff_t1_s: float
    ff_tol_g: float
    ff_jerk_g: float
    ff_min_n: int
    ff_share: float
    fwd_min_r: float
    fwd_min_steps: float
    hb0: float
    hb1: float
    hb2: float
    ha1: float
    ha2: float
    edge_frac: float


def grade_params(
    rate_hz: float,
    placement: str,
    *,
    descent_threshold_pct: float = -5.0,
    descent_exit_pct: float = -3.0,
    descent_min_s: float = 5.0,
    step_len_m: float = 1.05,
    baro_window_s: float = 3.0,
) -> GParams:
    """Grade parameters for a sample rate and a placement (units in the names)."""
    dt = 1.0 / rate_hz
    fb_hz = min(25.0, 0.3 * rate_hz)
    k = math.tan(math.pi * fb_hz / rate_hz)
    norm = 1.0 / (1.0 + math.sqrt(2.0) * k + k * k)
    baro_dt_s = 0.2
    return GParams(
        dt_s=dt,
        long_gap_s=max(1.5 * dt, 0.025),
        desc_thr=descent_threshold_pct,
        desc_exit=descent_exit_pct,
        hold_s=max(MIN_HOLD_S, descent_min_s - (baro_window_s + 1.5)),
        step_len_m=step_len_m,
        baro_dt_s=baro_dt_s,
        baro_n=max(2, round(baro_window_s / baro_dt_s)),
        tau_h_s=0.25,
        min_ds_m=3.0,
        tilt=placement == "foot",
        stand_s=0.75,
        still_tol_g=0.1,
        still_jerk_g=0.2,
        ff_t0_s=0.03,
        ff_t1_s=0.25,
        ff_tol_g=0.06,
        ff_jerk_g=0.1,
        ff_min_n=max(3, math.ceil(0.04 * rate_hz)),
        ff_share=0.7,
        fwd_min_r=0.6,
        fwd_min_steps=10.0,
        hb0=norm,
        hb1=-2.0 * norm,
        hb2=norm,
        ha1=2.0 * (k * k - 1.0) * norm,
        ha2=(1.0 - math.sqrt(2.0) * k + k * k) * norm,
        edge_frac=0.3,
    )


def gparams_record(gp: GParams) -> np.recarray:
    """A length-1 record array holding ``gp`` (the kernels read parameters from a record)."""
    return params_record(gp)


NAN = math.nan
INF = math.inf

#: the grade kernel's state: (field, initial value), in record order
_GSTATE = (
    ("n", 0.0),
    ("last_t", NAN),
    ("src", 0.0),  # source of the current grade (index into SOURCES)
    ("grade", NAN),
    ("desc", 0.0),
    ("desc_t", NAN),
    # external sources
    ("ext_grade", NAN),
    ("ext_t", -INF),
    ("spd", NAN),
    ("spd_t", -INF),
    # steps
    ("cad", NAN),
    ("step_t", -INF),
    ("n_steps", 0.0),
    # barometer
    ("has_p", 0.0),
    ("h", NAN),
    ("h_t", NAN),
    ("baro_next", NAN),
    ("baro_i", 0.0),
    ("baro_n", 0.0),
    ("dist", 0.0),
    ("baro_grade", NAN),
    # foot tilt: stand reference
    ("px", NAN),  # previous sample
    ("py", NAN),
    ("pz", NAN),
    ("run_t0", NAN),  # start of the current still run, nan when moving
    ("run_x", 0.0),
    ("run_y", 0.0),
    ("run_z", 0.0),
    ("run_k", 0.0),
    ("run_m", 0.0),  # sum of |a| and of the squared sample-to-sample change
    ("run_j2", 0.0),
    ("ref_m", 1.0),  # |a| at rest (g; the sensor's own scale and bias)
    ("ref_j", 0.0),  # rms sample-to-sample change at rest (g; the sensor's noise)
    ("ref_ok", 0.0),
    ("ref0", NAN),  # unit up vector of the foot at rest (sensor frame)
    ("ref1", NAN),
    ("ref2", NAN),
    # impact edge (25 Hz biquad high-pass)
    ("bx1", 0.0),
    ("bx2", 0.0),
    ("by1", 0.0),
    ("by2", 0.0),
    ("bz1", 0.0),
    ("bz2", 0.0),
    ("imp_amp", 1.0),
    ("prev_bn", 0.0),
    ("edge_t", -INF),
    ("edge0", 0.0),
    ("edge1", 0.0),
    ("edge2", 0.0),
    # pending foot-flat evaluation
    ("ff_on", 0.0),
    ("ff_ic", NAN),
    ("ff_imp0", 0.0),
    ("ff_imp1", 0.0),
    ("ff_imp2", 0.0),
    ("ff_i", 0.0),
    ("ff_n", 0.0),
    # forward axis
    ("fwd_a0", 0.0),
    ("fwd_a1", 0.0),
    ("fwd_a2", 0.0),
    ("fwd_k", 0.0),
    ("fwd_ok", 0.0),
    ("fwd0", NAN),
    ("fwd1", NAN),
    ("fwd2", NAN),
    ("tg_i", 0.0),
    ("tg_n", 0.0),
    ("tilt_grade", NAN),  # _tilt_now as of the last foot-flat or reference (only then new)
    ("ring_i", 0.0),
    ("ring_n", 0.0),
)
GSTATE_DTYPE = state_dtype(_GSTATE)


def new_gstate() -> np.recarray:
    """A grade state record array of length 1, not yet initialised."""
    return new_record(GSTATE_DTYPE)


def init_gstate(st: np.ndarray, tg: np.ndarray, ff: np.ndarray) -> None:
    """Reset the grade state in place."""
    reset_state(st, _GSTATE)
    tg[:] = NAN
    ff[:] = 0.0


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
def _speed_mps(st: np.ndarray, p: GParams, t: float) -> float:
    """Best horizontal speed now: a fresh speed source, else cadence x step length, else 0."""
    s = st[0]
    if t - s.spd_t <= SPEED_HOLD_S and not math.isnan(s.spd):
        return s.spd
    cad = s.cad
    if not math.isnan(cad) and t - s.step_t < 2.0:
        return cad / 60.0 * step_length_m(cad, p.step_len_m)
    return 0.0


@njit(cache=True)
def _baro_tick(st: np.ndarray, p: GParams, baro: np.ndarray, t: float) -> None:
    """Every ``baro_dt_s``: integrate distance, store (distance, altitude), least-squares grade."""
    s = st[0]
    s.dist += p.baro_dt_s * _speed_mps(st, p, t)
    s.baro_next += p.baro_dt_s
    if s.baro_next <= t:  # after a gap: re-anchor the clock
        s.baro_next = t + p.baro_dt_s
    nb = baro.shape[1]
    i = int(s.baro_i)
    baro[0, i] = s.dist
    baro[1, i] = s.h
    s.baro_i = float((i + 1) % nb)
    if s.baro_n < nb:
        s.baro_n += 1.0
    if s.baro_n < nb or math.isnan(s.h):
        return
    sx = 0.0
    sy = 0.0
    for q in range(nb):
        sx += baro[0, q]
        sy += baro[1, q]
    if math.isnan(sy):
        return
    mx = sx / nb
    my = sy / nb
    sxx = 0.0
    sxy = 0.0
    lo = INF
    hi = -INF
    for q in range(nb):
        dx = baro[0, q] - mx
        sxx += dx * dx
        sxy += dx * (baro[1, q] - my)
        lo = min(lo, baro[0, q])
        hi = max(hi, baro[0, q])
    if hi - lo >= p.min_ds_m and sxx > 0.0:
        s.baro_grade = 100.0 * sxy / sxx


@njit(cache=True)
def _descent(grade: float, desc: float, desc_t: float, t: float, p: GParams) -> tuple[float, float]:
    """Descent state machine: threshold, hysteresis and a hold time. Returns the new
    ``(desc, desc_t)``."""
    # entering: at or below the threshold (False for nan); leaving: above exit or nan
    cond = grade <= p.desc_thr if desc < 0.5 else not grade <= p.desc_exit
    if cond:
        if math.isnan(desc_t):
            desc_t = t
        if t - desc_t >= p.hold_s:
            desc = 1.0 - desc
            desc_t = NAN
    else:
        desc_t = NAN
    return desc, desc_t


@njit(cache=True)
def _finish_footflat(
    st: np.ndarray, p: GParams, ring: np.ndarray, tg: np.ndarray, ff: np.ndarray
) -> None:
    """The stance window of the pending step is complete: foot-flat, forward axis, tilt."""
    _footflat(st, p, ring, tg, ff)
    s = st[0]
    s.tilt_grade = _tilt_now(st, p, tg, ff)


@njit(cache=True)
def _footflat(st: np.ndarray, p: GParams, ring: np.ndarray, tg: np.ndarray, ff: np.ndarray) -> None:
    s = st[0]
    s.ff_on = 0.0
    cap = ring.shape[1]
    mask = cap - 1
    t0 = s.ff_ic + p.ff_t0_s
    t1 = s.ff_ic + p.ff_t1_s
    e0 = 0.0
    e1 = 0.0
    e2 = 0.0
    k = 0.0
    # quasi-static: |a| as at rest, sample-to-sample change within the sensor's noise
    ref_m = s.ref_m if s.ref_ok > 0.5 else 1.0
    jerk_g = max(p.ff_jerk_g, 4.0 * s.ref_j)
    j = (int(s.ring_i) - 1) & mask
    q = 0
    nfill = int(s.ring_n)
    while q < nfill - 1:
        jj = (j - q) & mask
        jp = (jj - 1) & mask
        tq = ring[GR_T, jj]
        q += 1
        if tq < t0:
            break
        if tq > t1:
            continue
        x = ring[GR_X, jj]
        y = ring[GR_Y, jj]
        z = ring[GR_Z, jj]
        m = math.sqrt(x * x + y * y + z * z)
        dx = x - ring[GR_X, jp]
        dy = y - ring[GR_Y, jp]
        dz = z - ring[GR_Z, jp]
        if abs(m - ref_m) < p.ff_tol_g and math.sqrt(dx * dx + dy * dy + dz * dz) < jerk_g:
            e0 += x
            e1 += y
            e2 += z
            k += 1.0
    ok = k >= p.ff_min_n
    i = int(s.ff_i)
    ff[i] = 1.0 if ok else 0.0
    s.ff_i = float((i + 1) % N_FF)
    if s.ff_n < N_FF:
        s.ff_n += 1.0
    if not ok or s.ref_ok < 0.5:
        return
    # forward axis: minus the horizontal part of the impact direction, accumulated as unit
    # vectors so that their agreement (mean resultant length) says whether the sign is known;
    # only on steps known to be level (foot-flat as at the stand): the impact direction turns
    # with the slope
    r0 = s.ref0
    r1 = s.ref1
    r2 = s.ref2
    vn = math.sqrt(e0 * e0 + e1 * e1 + e2 * e2)
    c = (e0 * r0 + e1 * r1 + e2 * r2) / vn
    level = c > math.cos(math.atan(LEVEL_PCT / 100.0))
    i0 = s.ff_imp0
    i1 = s.ff_imp1
    i2 = s.ff_imp2
    d = i0 * r0 + i1 * r1 + i2 * r2
    h0 = -(i0 - d * r0)
    h1 = -(i1 - d * r1)
    h2 = -(i2 - d * r2)
    hn = math.sqrt(h0 * h0 + h1 * h1 + h2 * h2)
    if hn > 1e-6 and level:
        s.fwd_a0 += h0 / hn
        s.fwd_a1 += h1 / hn
        s.fwd_a2 += h2 / hn
        s.fwd_k += 1.0
    fn = math.sqrt(s.fwd_a0 * s.fwd_a0 + s.fwd_a1 * s.fwd_a1 + s.fwd_a2 * s.fwd_a2)
    if s.fwd_k >= p.fwd_min_steps and fn >= p.fwd_min_r * s.fwd_k:
        s.fwd_ok = 1.0
        s.fwd0 = s.fwd_a0 / fn
        s.fwd1 = s.fwd_a1 / fn
        s.fwd2 = s.fwd_a2 / fn
    else:
        s.fwd_ok = 0.0
    if s.fwd_ok < 0.5:
        return
    sa = (e0 * s.fwd0 + e1 * s.fwd1 + e2 * s.fwd2) / vn
    sa = min(max(sa, -0.9), 0.9)
    ti = int(s.tg_i)
    tg[ti] = 100.0 * sa / math.sqrt(1.0 - sa * sa)
    s.tg_i = float((ti + 1) % N_TG)
    if s.tg_n < N_TG:
        s.tg_n += 1.0


@njit(cache=True)
def _tilt_now(st: np.ndarray, p: GParams, tg: np.ndarray, ff: np.ndarray) -> float:
    """The foot tilt grade when it can be trusted, else nan."""
    s = st[0]
    if s.ref_ok < 0.5 or s.fwd_ok < 0.5 or s.ff_n < N_FF or s.tg_n < N_TG:
        return NAN
    good = 0.0
    for q in range(N_FF):
        good += ff[q]
    if good < p.ff_share * N_FF:
        return NAN
    buf = tg[N_TG:]  # the scratch half of the ring array: no allocation per step
    for q in range(N_TG):
        buf[q] = tg[q]
    return median_first(buf, N_TG)


@njit(cache=True)
def _take_step(
    st: np.ndarray,
    p: GParams,
    ring: np.ndarray,
    tg: np.ndarray,
    ff: np.ndarray,
    t_ic: float,
    cad: float,
    t_rep: float,
) -> None:
    s = st[0]
    if not math.isnan(cad):
        s.cad = cad
    s.step_t = t_ic
    s.n_steps += 1.0
    if not p.tilt:
        return
    if s.n_steps == 1.0 and s.run_k * p.dt_s >= p.stand_s and s.ref_ok < 0.5:
        _lock_reference(st, p, tg, ff)
    if s.ff_on > 0.5:  # a new step before the last stance window completed
        _finish_footflat(st, p, ring, tg, ff)
    s.ff_on = 1.0
    s.ff_ic = t_ic
    if abs(s.edge_t - t_ic) <= 0.06:
        s.ff_imp0 = s.edge0
        s.ff_imp1 = s.edge1
        s.ff_imp2 = s.edge2
    else:
        s.ff_imp0 = 0.0
        s.ff_imp1 = 0.0
        s.ff_imp2 = 0.0
    if t_rep > t_ic + p.ff_t1_s:
        _finish_footflat(st, p, ring, tg, ff)


@njit(cache=True)
def _lock_reference(st: np.ndarray, p: GParams, tg: np.ndarray, ff: np.ndarray) -> None:
    s = st[0]
    n = math.sqrt(s.run_x * s.run_x + s.run_y * s.run_y + s.run_z * s.run_z)
    if n > 0.0 and s.run_k > 1.0:
        s.ref0 = s.run_x / n
        s.ref1 = s.run_y / n
        s.ref2 = s.run_z / n
        s.ref_m = s.run_m / s.run_k
        s.ref_j = math.sqrt(s.run_j2 / (s.run_k - 1.0))
        s.ref_ok = 1.0
    s.tilt_grade = _tilt_now(st, p, tg, ff)


@njit(cache=True)
def _grade_now(
    t: float,
    ext_t: float,
    ext_grade: float,
    use_p: bool,
    baro_grade: float,
    tilt: bool,
    tilt_grade: float,
) -> tuple[float, float]:
    """The grade and its source code by precedence (treadmill, barometer, foot tilt)."""
    if t - ext_t <= EXTERNAL_HOLD_S and not math.isnan(ext_grade):
        return ext_grade, float(SRC_EXT)
    if use_p:
        return baro_grade, float(SRC_BARO)
    if tilt:
        return tilt_grade, float(SRC_TILT) if not math.isnan(tilt_grade) else float(SRC_NONE)
    return NAN, float(SRC_NONE)


@njit(cache=True, nogil=True)
def grade_block(
    t_s: np.ndarray,
    acc_g: np.ndarray,
    pressure_pa: np.ndarray,
    has_p: bool,
    step_t: np.ndarray,
    step_rep: np.ndarray,
    step_cad: np.ndarray,
    prm: np.ndarray,
    st: np.ndarray,
    ring: np.ndarray,
    baro: np.ndarray,
    tg: np.ndarray,
    ff: np.ndarray,
    out: np.ndarray,
) -> None:
    """Feed a block of samples and the steps reported in it (contact times ``step_t``, report
    times ``step_rep``, increasing; cadence ``step_cad``); write each step's grade and descent
    state into ``out[k, 0]`` and ``out[k, 1]``. Samples are skipped exactly as the strike kernels
    skip them (non-finite, repeated, out of order)."""
    p = prm[0]
    s = st[0]
    n = t_s.shape[0]
    ns = step_t.shape[0]
    cap = ring.shape[1]
    mask = cap - 1
    k = 0
    if has_p:
        s.has_p = 1.0
    # parameters read per sample, and the per-sample states, live in locals for the block (a
    # record field is a memory access the compiler cannot keep in a register); the states are
    # written back before every helper that reads them and on return
    tilt = p.tilt
    long_gap_s = p.long_gap_s
    tau_h_s = p.tau_h_s
    ff_t1_s = p.ff_t1_s
    hb0 = p.hb0
    hb1 = p.hb1
    hb2 = p.hb2
    ha1 = p.ha1
    ha2 = p.ha2
    edge_frac = p.edge_frac
    still_tol_g = p.still_tol_g
    still_jerk_g = p.still_jerk_g
    stand_s = p.stand_s
    dt_s = p.dt_s
    use_p = s.has_p > 0.5
    n_s = s.n
    last_t = s.last_t
    ext_t = s.ext_t
    ext_grade = s.ext_grade
    spd_t = s.spd_t
    grade = s.grade
    src = s.src
    desc = s.desc
    desc_t = s.desc_t
    h = s.h
    h_t = s.h_t
    baro_next = s.baro_next
    baro_grade = s.baro_grade
    tilt_grade = s.tilt_grade
    n_steps = s.n_steps
    bx1 = s.bx1
    bx2 = s.bx2
    by1 = s.by1
    by2 = s.by2
    bz1 = s.bz1
    bz2 = s.bz2
    imp_amp = s.imp_amp
    prev_bn = s.prev_bn
    px = s.px
    py = s.py
    pz = s.pz
    w = int(s.ring_i)
    ring_n = s.ring_n
    # no source can give a grade in this block (no foot tilt, no barometer, no treadmill value):
    # there an unknown grade without descent is a fixed point of the update, which is skipped
    idle = not tilt and not use_p and math.isnan(ext_grade)
    # end of the pending stance window (inf: none pending)
    ff_end = s.ff_ic + ff_t1_s if s.ff_on > 0.5 else INF
    for i in range(n):
        t = t_s[i]
        x = acc_g[i, 0]
        y = acc_g[i, 1]
        z = acc_g[i, 2]
        if not (math.isfinite(t) and math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
            continue
        if n_s > 0.0 and not (t > last_t):
            continue
        while k < ns and step_rep[k] < t:
            out[k, 0] = grade
            out[k, 1] = desc
            s.ring_i = float(w)
            s.ring_n = ring_n
            _take_step(st, p, ring, tg, ff, step_t[k], step_cad[k], step_rep[k])
            n_steps = s.n_steps
            tilt_grade = s.tilt_grade
            ff_end = s.ff_ic + ff_t1_s if s.ff_on > 0.5 else INF
            k += 1
        if math.isnan(ext_t):
            ext_t = t
        if math.isnan(spd_t):
            spd_t = t
        first = n_s == 0.0
        gap = not first and t - last_t > long_gap_s
        n_s += 1.0
        last_t = t
        if first:
            baro_next = t
        if tilt:
            # impact direction: 25 Hz biquad high-pass, vector where its norm rises through
            # edge_frac x its running peak (the foot brakes at contact)
            if first or gap:
                bx1 = (hb1 + hb2) * x
                bx2 = hb2 * x
                by1 = (hb1 + hb2) * y
                by2 = hb2 * y
                bz1 = (hb1 + hb2) * z
                bz2 = hb2 * z
                s.ff_on = 0.0
                ff_end = INF
                s.run_t0 = NAN
            b0 = hb0 * x + bx1
            bx1 = hb1 * x - ha1 * b0 + bx2
            bx2 = hb2 * x - ha2 * b0
            b1 = hb0 * y + by1
            by1 = hb1 * y - ha1 * b1 + by2
            by2 = hb2 * y - ha2 * b1
            b2 = hb0 * z + bz1
            bz1 = hb1 * z - ha1 * b2 + bz2
            bz2 = hb2 * z - ha2 * b2
            bn = b0 * b0 + b1 * b1 + b2 * b2
            e2 = (edge_frac * imp_amp) ** 2
            if bn >= e2 and prev_bn < e2:
                s.edge_t = t
                s.edge0 = b0
                s.edge1 = b1
                s.edge2 = b2
            if bn > imp_amp * imp_amp:
                imp_amp = math.sqrt(bn)
            else:
                imp_amp *= 0.9995
            prev_bn = bn
            # still stand before the first step: the reference of the foot at rest
            if n_steps == 0.0:
                m = math.sqrt(x * x + y * y + z * z)
                dj = INF
                if not math.isnan(px):
                    dx = x - px
                    dy = y - py
                    dz = z - pz
                    dj = math.sqrt(dx * dx + dy * dy + dz * dz)
                if abs(m - 1.0) < still_tol_g and dj < still_jerk_g and not gap:
                    if math.isnan(s.run_t0):
                        s.run_t0 = t
                        s.run_x = 0.0
                        s.run_y = 0.0
                        s.run_z = 0.0
                        s.run_k = 0.0
                        s.run_m = 0.0
                        s.run_j2 = 0.0
                    elif s.run_k > 0.0:
                        s.run_j2 += dj * dj
                    s.run_x += x
                    s.run_y += y
                    s.run_z += z
                    s.run_m += m
                    s.run_k += 1.0
                elif s.run_k * dt_s >= stand_s:
                    _lock_reference(st, p, tg, ff)  # the last long still run before moving
                    tilt_grade = s.tilt_grade
                    s.run_t0 = NAN
                else:
                    s.run_t0 = NAN
                    s.run_k = 0.0
            px = x
            py = y
            pz = z
            ring[GR_T, w] = t
            ring[GR_X, w] = x
            ring[GR_Y, w] = y
            ring[GR_Z, w] = z
            w = (w + 1) & mask
            if ring_n < cap:
                ring_n += 1.0
            if t > ff_end:
                s.ring_i = float(w)
                s.ring_n = ring_n
                _finish_footflat(st, p, ring, tg, ff)
                tilt_grade = s.tilt_grade
                ff_end = INF
        if has_p:
            pr = pressure_pa[i]
            if math.isfinite(pr) and pr > 0.0:
                hh = 44330.77 * (1.0 - (pr / 101325.0) ** 0.190263)
                if math.isnan(h):
                    h = hh
                else:
                    h += (1.0 - math.exp(-(t - h_t) / tau_h_s)) * (hh - h)
                h_t = t
        if t >= baro_next:
            s.baro_next = baro_next
            s.h = h
            s.spd_t = spd_t
            _baro_tick(st, p, baro, t)
            baro_next = s.baro_next
            baro_grade = s.baro_grade
        if not (idle and desc < 0.5 and math.isnan(grade) and math.isnan(desc_t)):
            grade, src = _grade_now(t, ext_t, ext_grade, use_p, baro_grade, tilt, tilt_grade)
            desc, desc_t = _descent(grade, desc, desc_t, t, p)
    s.n = n_s
    s.last_t = last_t
    s.ext_t = ext_t
    s.spd_t = spd_t
    s.grade = grade
    s.src = src
    s.desc = desc
    s.desc_t = desc_t
    s.h = h
    s.h_t = h_t
    s.baro_next = baro_next
    s.bx1 = bx1
    s.bx2 = bx2
    s.by1 = by1
    s.by2 = by2
    s.bz1 = bz1
    s.bz2 = bz2
    s.imp_amp = imp_amp
    s.prev_bn = prev_bn
    s.px = px
    s.py = py
    s.pz = pz
    s.ring_i = float(w)
    s.ring_n = ring_n
    while k < ns:
        out[k, 0] = grade
        out[k, 1] = desc
        _take_step(st, p, ring, tg, ff, step_t[k], step_cad[k], step_rep[k])
        k += 1
