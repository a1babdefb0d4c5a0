"""Plain-Python reference of the streaming gait core (no numba, no ring-buffer arithmetic).

It implements the algorithm described in :mod:`downhill_live.core._kernels` with readable
Python objects: the detection signal of the whole recording is computed up front with
``scipy.signal.lfilter`` (an offline definition of the same filters), the sample history is a
deque of records searched by time, the autocorrelation keeps its decimated history in a deque and
its lag sums in a list, intervals in a deque. Grade and descent are not here
(:mod:`downhill_live.core.grade` has its own reference). It is compared with the kernels in ``tests/test_core.py``. Parameters come from
:func:`downhill_live.core.params.kernel_params`, so both run the same configuration.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import scipy.stats
from scipy.signal import lfilter

from downhill_live.core import _kernels as kern
from downhill_live.core.params import kernel_params
from downhill_live.core.tracker import ring_capacity

NAN = math.nan


@dataclass
class _Sample:
    t: float
    s: float  # detection signal
    m: float  # |acc|
    a: tuple[float, float, float]
    mf: float  # low-passed magnitude


@dataclass
class _Pending:
    t_ic: float
    peak: float
    peak_ax: float
    absmax: float
    axis: tuple[float, float, float]
    rephase: bool
    hold: float = 0.0  # > 0: provisional (first strike after standing), replaceable this long
    repl: bool = False  # replaces the provisional strike reported before it


@dataclass
class NaiveCore:
    """Reference gait core; :meth:`run` returns the strike rows like the kernel's ``out``."""

    rate_hz: float
    placement: str
    descent_threshold_pct: float = -5.0
    descent_exit_pct: float = -3.0
    descent_min_s: float = 5.0
    range_g: float | None = None
    rows: list[list[float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.p = kernel_params(
            self.rate_hz,
            self.placement,
            range_g=self.range_g,
        )
        p = self.p
        self.hist: deque[_Sample] = deque(maxlen=ring_capacity(self.rate_hz))
        self.n = 0
        self.last_t = NAN
        self.t_now = NAN  # the sample a candidate is decided at
        self.repl_until = NAN  # a strike decided before this replaces the provisional one
        self.seg_t = NAN
        self.look_t = NAN  # the motion / dominance look-back: only a pause ends it
        self.mf = NAN
        self.g = [0.0, 0.0, 0.0]
        self.gn = 0
        # candidate and strikes
        self.cand: dict[str, float] | None = None
        self.amp = p.amp0_g
        self.last_pk_t = NAN
        self.last_h = NAN
        self.last_iv = NAN
        self.last_ic = NAN
        self.prev_ic = NAN
        self.pend: _Pending | None = None
        self.intervals: deque[tuple[float, float]] = deque(maxlen=kern.N_IV)
        self.cadence = NAN
        # period tracker
        self.x_lp = [NAN, NAN]
        self.dec: list[float] = []
        self.still_mean = NAN
        self.still_var = 0.0
        self.still_t = -math.inf
        self.static_run = 0
        self.static_t = -math.inf
        self._acf_reset()
        self.ct_open = False
        self.ct_ic = NAN
        self.ct_axis = (NAN, NAN, NAN)
        self.last_gct = NAN
        self.ms_on = False
        self.ms_ic = NAN
        self.ms_samples: list[tuple[float, float, float]] = []
        self.cal: list[np.ndarray] = []
        self.cal_seen = 0
        self.axis: tuple[float, float, float] = (NAN, NAN, NAN)

    # ------------------------------------------------------------------ period tracker
    def _acf_reset(self) -> None:
        self.acf_hist: deque[float] = deque(maxlen=self.p.lag_max + 2)
        self.acf_sums = [0.0] * (self.p.lag_max + 2)
        self.acf_fill = 0
        self.acf_mean = NAN
        self.acf_var = 0.0
        self.period = NAN
        self.acf_lag = NAN

    def _acf_push(self, x: float) -> None:
        p = self.p
        if math.isnan(self.acf_mean):
            self.acf_mean = x
            self.acf_var = 0.0
        else:
            self.acf_mean += p.acf_mean_alpha * (x - self.acf_mean)
        y = x - self.acf_mean
        self.acf_var += p.acf_norm_alpha * (y * y - self.acf_var)
        y = y / math.sqrt(self.acf_var + 1e-6)
        self.acf_hist.appendleft(y)  # acf_hist[lag] = y lag decimated samples ago
        self.acf_fill += 1
        r = self.acf_sums
        for lag in range(len(r)):
            r[lag] = p.acf_lambda * r[lag] + (
                y * self.acf_hist[lag] if lag < self.acf_fill else 0.0
            )
        self.period = NAN
        if self.acf_fill < p.acf_min_fill or not r[0] > 0.0:
            return
        # lags up to half the samples since the reset (fewer products than the lag spans beyond)
        hi = min(p.lag_max, (self.acf_fill - 1) // 2)
        if hi < p.lag_min + 1:
            return
        rng = range(p.lag_min, hi + 1)
        rmax = max(r[lag] for lag in rng)
        if not rmax > 0.0:
            return
        peaks = [
            lag
            for lag in range(max(p.lag_min, 1), hi + 1)
            if r[lag] >= p.acf_first_frac * rmax and r[lag] >= r[lag - 1] and r[lag] >= r[lag + 1]
        ]
        if not peaks:
            return
        b = peaks[0]
        # sub-harmonic check: the tracked lag stays while it is a clear local maximum
        kept = self.acf_lag if p.one_foot else NAN  # limbs only: the trunk's lag may be a step
        mult = math.floor(b / kept + 0.5) if not math.isnan(kept) else 0
        if mult >= 2 and abs(b - mult * kept) <= p.iv_tol * mult * kept:
            near = [
                lag
                for lag in range(max(p.lag_min, 1), hi + 1)
                if math.floor((1.0 - p.iv_tol) * kept) <= lag
                and lag <= math.ceil((1.0 + p.iv_tol) * kept)
                and r[lag] >= p.acf_keep_frac * rmax
                and r[lag] >= r[lag - 1]
                and r[lag] >= r[lag + 1]
            ]
            if near:
                b = max(near, key=lambda lag: (r[lag], -lag))
        den = r[b - 1] - 2.0 * r[b] + r[b + 1]
        lag_f = b + (0.5 * (r[b - 1] - r[b + 1]) / den if den < 0.0 else 0.0)
        if r[b] / r[0] < p.acf_min_r:
            return
        self.acf_lag = lag_f
        if not p.one_foot:
            h = 0.5 * lag_f
            k = int(h)
            rh = ((1.0 - (h - k)) * r[k] + (h - k) * r[k + 1]) / r[0]
            if rh >= p.acf_half_min_r or 2.0 * lag_f > p.lag_max:
                lag_f = h
        self.period = lag_f * p.dec_n * p.dt_s

    # ------------------------------------------------------------------ strikes
    def _cadence_now(self, t_now: float) -> float:
        p = self.p
        per = self.period
        if math.isnan(per):
            return NAN
        sum_d = 0.0
        sum_n = 0
        periods = []
        mids = []
        for d, t_end in reversed(self.intervals):
            n = math.floor(d / per + 0.5)
            if t_end >= t_now - p.cad_win_s and 1 <= n <= 2 and abs(d / n - per) <= p.iv_tol * per:
                sum_d += d
                sum_n += n
                periods.append(d / n)
                mids.append(t_end - 0.5 * d)
                if sum_n >= p.cad_periods:
                    break
        if sum_n >= 2:
            level = statistics.median(periods) if p.cad_median else sum_d / sum_n
            # the trend: a least-squares line through the per-period intervals of the trend
            # window, used when its slope is cad_trend_t standard errors from zero
            xs, ys = [], []
            for d, t_end in self.intervals:
                n = math.floor(d / per + 0.5)
                if (
                    t_end >= t_now - p.cad_trend_win_s
                    and 1 <= n <= 2
                    and abs(d / n - per) <= p.iv_tol * per
                ):
                    xs.append(t_end - 0.5 * d)
                    ys.append(d / n)
            slope = 0.0
            if p.cad_trend_win_s > 0 and len(xs) >= p.cad_trend_min_n:
                fit = scipy.stats.linregress(xs, ys)
                if abs(fit.slope) >= p.cad_trend_t * fit.stderr:
                    slope = fit.slope
            per = level + slope * (mids[0] - statistics.fmean(mids))  # to the newest stride
        return 60.0 / per * (2.0 if p.one_foot else 1.0)

    def _emit(self, t_now: float) -> None:
        p = self.p
        pe = self.pend
        assert pe is not None
        last = self.last_ic
        if pe.rephase and not math.isnan(last):
            if self.intervals and self.intervals[-1][1] == last:
                self.intervals.pop()
            last = self.prev_ic
        self.prev_ic = last
        if not math.isnan(last):
            d = pe.t_ic - last
            if d > p.max_iv_s:
                self.intervals.clear()
            elif d > 0.0:
                self.intervals.append((d, pe.t_ic))
        self.last_ic = pe.t_ic
        self.cadence = self._cadence_now(pe.t_ic)
        clipped = 1.0 if pe.absmax >= 0.995 * p.range_g else 0.0
        self.repl_until = pe.t_ic + p.post_s + pe.hold if pe.hold > 0.0 else NAN
        self.rows.append(
            [
                pe.t_ic,
                self.cadence,
                pe.peak,
                NAN,  # grade and descent: downhill_live.core.grade (its own reference)
                0.0,
                self.last_gct,
                pe.peak_ax,
                t_now,
                1.0 if p.undersampled else 0.0,
                clipped,
                1.0 if pe.hold > 0.0 else 0.0,
                1.0 if pe.repl else 0.0,
            ]
        )
        self.pend = None

    def _back_track(self, t_pk: float, h: float) -> float:
        """Initial contact of a candidate peaking at ``t_pk``: the onset signal's last crossing
        of ``ic_level_frac`` of its rise from the trough before the peak."""
        p = self.p
        seg = [s for s in self.hist if s.t >= self.seg_t]
        onset = (lambda s: s.s) if p.use_hp else (lambda s: s.mf)
        upto = [s for s in seg if s.t <= t_pk]
        t_lo = max(t_pk - p.trough_win_s, self.seg_t)
        trough = min(onset(s) for s in upto if s.t >= t_lo)
        top = h if p.use_hp else max(onset(s) for s in seg if s.t >= upto[-1].t)
        level = trough + p.f_ic * (top - trough)
        t_ic = upto[-1].t
        for k in range(len(upto) - 2, -1, -1):
            s = upto[k]
            if s.t < t_lo:
                break
            if onset(s) <= level:
                nxt = upto[k + 1]
                v0, v1 = onset(s), onset(nxt)
                frac = (level - v0) / (v1 - v0) if v1 > v0 else 0.0
                t_ic = s.t + frac * (nxt.t - s.t)
                break
            t_ic = s.t
        return t_ic

    def _decide(self) -> bool:
        p = self.p
        c = self.cand
        assert c is not None
        h, t_pk, t_start = c["h"], c["t"], c["start"]
        if self.still_var < p.still_var or t_start - self.still_t < p.min_moving_s:
            return False
        if t_start - c["static_t"] < p.min_swing_s:
            return False
        per = self.period if self.period > 0.0 else p.default_period_s
        first = math.isnan(self.last_pk_t) or t_pk - self.last_pk_t > p.max_iv_s
        if not math.isnan(self.last_pk_t) and t_pk - self.last_pk_t < p.min_iv_frac * per:
            return False
        t_back = t_pk - min(p.dom_frac * per, p.dom_max_s)
        rephase = not math.isnan(self.last_pk_t) and self.last_pk_t >= t_back
        if rephase and h < p.rephase_ratio * self.last_h:
            return False
        seg = [s for s in self.hist if s.t >= self.seg_t]
        before = [s for s in self.hist if self.look_t <= s.t < t_start]
        t_near = t_pk - p.exp_near_frac * per
        bg = max([0.0, *[s.s for s in before if s.t >= t_back and s.t >= t_near]])
        bg_far = max([0.0, *[s.s for s in before if t_back <= s.t < t_near]])
        t_m0, t_m1 = t_start - p.motion_win_s, t_start - p.motion_gap_s
        mot = max([0.0, *[abs(s.mf - 1.0) for s in before if t_m0 <= s.t <= t_m1]])
        ratio = p.first_ratio if self.still_t > t_back else p.dom_ratio
        # where the tracked stride puts the next strike, and about as large as the last one:
        # only the full ratio over the swing, a weaker one over the stance and push-off before
        expected = (
            p.exp_tol_frac > 0.0
            and not math.isnan(self.last_pk_t)
            and self.period > 0.0
            and abs(t_pk - self.last_pk_t - self.period) <= p.exp_tol_frac * self.period
            and h >= p.exp_size_frac * self.last_h
        )
        ratio_far = min(ratio, p.exp_ratio) if expected else ratio
        if h < ratio * bg or h < ratio_far * bg_far or mot < p.motion_g:
            return False
        t_ic = self._back_track(t_pk, h)
        if h > p.amp_jump * self.amp or h * p.amp_jump < self.amp:
            self.amp = h
        else:
            self.amp += p.amp_adapt * (h - self.amp)
        self.last_iv = t_pk - self.last_pk_t if not math.isnan(self.last_pk_t) else NAN
        self.last_pk_t = t_pk
        self.last_h = h
        if not p.axial_mode:
            gn = math.sqrt(sum(v * v for v in self.g))
            axis = (self.g[0] / gn, self.g[1] / gn, self.g[2] / gn) if gn > 0 else (NAN,) * 3
        else:
            axis = self.axis
        win = [s for s in seg if t_ic - p.pre_s <= s.t <= t_ic + p.post_s]
        peak = max([0.0, *[s.m for s in win]])
        absmax = max([0.0, *[max(abs(v) for v in s.a) for s in win]])
        if math.isnan(axis[0]):
            peak_ax = NAN
        else:
            peak_ax = max(
                [-math.inf, *[sum(a * u for a, u in zip(s.a, axis, strict=True)) for s in win]]
            )
        hold = p.first_hold_s if first else 0.0
        repl = False
        if self.pend is not None:
            rephase = False  # a first strike not yet reported is replaced: never the last one
            repl = self.pend.repl
        elif self.t_now < self.repl_until - 0.5 * p.dt_s:
            rephase = repl = True  # replaces the provisional strike reported already
        self.repl_until = NAN
        self.pend = _Pending(t_ic, peak, peak_ax, absmax, axis, rephase, hold, repl)
        if self.ct_open:
            self.last_gct = NAN
        self.ct_open = True
        self.ct_ic = t_ic
        self.ct_axis = axis
        if p.axial_mode:
            self.ms_on = True
            self.ms_ic = t_ic
            self.ms_samples = [
                s.a
                for s in seg
                if p.ms_t0_s <= s.t - t_ic <= p.ms_t1_s and abs(s.m - 1.0) < p.ms_tol_g
            ]
        return True

    # ------------------------------------------------------------------ stance axis
    def _finish_midstance(self) -> None:
        self.ms_on = False
        if len(self.ms_samples) < 3 or not math.isnan(self.axis[0]):
            return
        v = np.mean(np.array(self.ms_samples), axis=0)
        self.cal_seen += 1
        if self.cal_seen <= self.p.cal_skip:
            return
        self.cal.append(v)
        if len(self.cal) >= self.p.cal_steps:
            v_cal = np.mean(np.array(self.cal), axis=0)
            self.axis = tuple(v_cal / np.linalg.norm(v_cal))

    # ------------------------------------------------------------------ main loop
    def _signals(self, t: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, ...]:
        """Offline filters of the kept samples, restarted at every long gap: |acc|, its
        low-pass, the detection signal and the impact-direction high-pass (N, 3)."""
        p = self.p
        n = len(t)
        m = np.sqrt((a * a).sum(axis=1))
        mf = np.empty(n)
        sig = np.zeros(n)
        starts = [0, *list(np.nonzero(np.diff(t) > p.long_gap_s)[0] + 1), n]
        for i0, i1 in itertools.pairwise(starts):
            if i1 <= i0:
                continue
            seg_m = m[i0:i1]
            al = p.alpha_lp
            mf[i0:i1] = lfilter([al], [1.0, al - 1.0], seg_m, zi=[(1.0 - al) * seg_m[0]])[0]
            if p.use_hp:
                x0 = a[i0]
                hp = lfilter(
                    [p.hp_a, -p.hp_a], [1.0, -p.hp_a], a[i0:i1], axis=0, zi=-p.hp_a * x0[None, :]
                )[0]
                sig[i0:i1] = np.sqrt((hp * hp).sum(axis=1))
            else:
                k = p.slope_lag_n
                d = np.zeros(i1 - i0)
                d[k:] = np.maximum(0.0, mf[i0 + k : i1] - mf[i0 : i1 - k])
                sig[i0:i1] = d
        return m, mf, sig

    def sample(
        self,
        t: float,
        xyz: tuple[float, float, float],
        m: float,
        mf: float,
        sig: float,
    ) -> None:
        """Process one kept sample with its precomputed filter outputs."""
        p = self.p
        x, y, z = xyz
        if self.n == 0 or t - self.last_t > p.long_gap_s:
            if self.pend is not None:
                self._emit(self.last_t)
            self.repl_until = NAN  # no replacement across a gap
            self.seg_t = t
            self.cand = None
            self.ct_open = False
            self.ms_on = False
            if self.n == 0 or t - self.last_t > p.acf_reset_gap_s:
                self.look_t = t
                self.last_ic = NAN
                self.prev_ic = NAN
                self._acf_reset()
                self.x_lp = [m, m]
                self.dec = []
                self.still_mean = m
                self.still_var = 0.0
        self.n += 1
        self.last_t = t
        if self.gn < p.warm_n:
            self.gn += 1
            ag = max(1.0 / self.gn, p.alpha_g)
        else:
            ag = p.alpha_g
        for i, v in enumerate((x, y, z)):
            self.g[i] += ag * (v - self.g[i])
        self.hist.append(_Sample(t, sig, m, (x, y, z), mf))
        # stillness and the period tracker
        dm = mf - self.still_mean
        self.still_mean += p.still_alpha * dm
        self.still_var = (1.0 - p.still_alpha) * (self.still_var + p.still_alpha * dm * dm)
        if self.still_var < p.still_var:
            self.still_t = t
        if p.min_swing_s > 0.0:
            lag = p.static_lag_n
            old = self.hist[-1 - lag] if len(self.hist) > lag else None
            if old is not None and old.t >= self.seg_t:
                dv = math.dist((x, y, z), old.a)
                ok = abs(mf - 1.0) < p.static_tol_g and dv < p.static_change_g
                self.static_run = self.static_run + 1 if ok else 0
                if self.static_run >= p.static_n:
                    self.static_t = t
            else:
                self.static_run = 0
        self.x_lp[0] += p.acf_lp_a * (m - self.x_lp[0])
        self.x_lp[1] += p.acf_lp_a * (self.x_lp[0] - self.x_lp[1])
        self.dec.append(self.x_lp[1])
        if len(self.dec) >= p.dec_n:
            xd = sum(self.dec) / len(self.dec)
            self.dec = []
            if self.still_var < p.still_var:
                self._acf_reset()
                self.cadence = NAN
            else:
                self._acf_push(xd)
        # pending report
        if self.pend is not None:
            pe = self.pend
            t_end = pe.t_ic + p.post_s
            if t <= t_end:
                pe.peak = max(pe.peak, m)
                a = x * pe.axis[0] + y * pe.axis[1] + z * pe.axis[2]
                if a > pe.peak_ax:
                    pe.peak_ax = a
                pe.absmax = max(pe.absmax, abs(x), abs(y), abs(z))
            if t >= t_end - 0.5 * p.dt_s:
                self._emit(t)
        if p.use_gct and self.ct_open:
            if t - self.ct_ic > 2.0 * p.max_iv_s:
                self.ct_open = False
                self.last_gct = NAN
            elif t > self.ct_ic + p.post_s:
                u = self.ct_axis
                if x * u[0] + y * u[1] + z * u[2] < p.to_level_g:
                    self.ct_open = False
                    self.last_gct = 1000.0 * (t - self.ct_ic)
        if p.axial_mode and self.ms_on:
            dt_ic = t - self.ms_ic
            if dt_ic > p.ms_t1_s:
                self._finish_midstance()
            elif dt_ic >= p.ms_t0_s and abs(m - 1.0) < p.ms_tol_g:
                self.ms_samples.append((x, y, z))
        # candidates and strikes
        thr = max(p.floor_g, p.amp_frac * self.amp)
        c = self.cand
        if c is not None:
            higher = sig > c["h"]
            if higher:
                c.update(h=sig, t=t)
            waited = (
                t - c["t"] >= p.confirm_s - 0.5 * p.dt_s
                or t - c["start"] >= p.max_wait_s - 0.5 * p.dt_s
            )
            # trunk: decided at the latest max_latency_s after the contact as back-tracked
            # when the candidate opened
            if (not higher and waited) or t >= c["due"] - 0.5 * p.dt_s:
                if self.pend is not None and self.pend.hold == 0.0:
                    self._emit(t)
                self.t_now = t
                ok = self._decide()
                self.cand = None
                if ok:
                    assert self.pend is not None
                    if t >= self.pend.t_ic + p.post_s - 0.5 * p.dt_s:
                        self._emit(t)
        elif sig >= thr:
            due = self._back_track(t, sig) + p.max_lat_s if p.max_lat_s > 0.0 else math.inf
            self.cand = {"start": t, "t": t, "h": sig, "static_t": self.static_t, "due": due}
        per = self.period if self.period > 0.0 else p.default_period_s
        if not (t - self.last_pk_t < p.overdue_frac * per):
            self.amp = max(self.amp * p.amp_fast, p.floor_g)

    def run(
        self, t_s: np.ndarray, acc_g: np.ndarray, pressure_pa: np.ndarray | None = None
    ) -> np.ndarray:
        """Process a whole recording; return the strike rows (n, N_OUT)."""
        t_s = np.asarray(t_s, dtype=float)
        acc_g = np.asarray(acc_g, dtype=float)
        keep = []
        last = -math.inf
        for i in range(len(t_s)):
            if np.all(np.isfinite(acc_g[i])) and math.isfinite(t_s[i]) and t_s[i] > last:
                keep.append(i)
                last = t_s[i]
        t = t_s[keep]
        a = acc_g[keep]
        m, mf, sig = self._signals(t, a)
        for j in range(len(keep)):
            self.sample(
                float(t[j]),
                (float(a[j, 0]), float(a[j, 1]), float(a[j, 2])),
                float(m[j]),
                float(mf[j]),
                float(sig[j]),
            )
        return np.array(self.rows, dtype=float).reshape(-1, kern.N_OUT)
