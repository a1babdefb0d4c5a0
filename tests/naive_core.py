"""Plain-Python reference of the streaming gait core (no numba, no ring-buffer arithmetic).

It implements the algorithm described in :mod:`downhill_live.core._kernels` sample by sample
with readable Python objects (deques, lists, ``statistics.median``), and is compared with the
jitted kernels in ``tests/test_core.py``. Parameters come from
:func:`downhill_live.core.tracker.placement_params` so both run the same configuration.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from downhill_live.core import _kernels as kern
from downhill_live.core.tracker import placement_params, ring_capacity

NAN = math.nan


@dataclass
class _Sample:
    t: float
    s: float  # detection signal
    m: float
    a: tuple[float, float, float]
    dev: float  # | low-passed magnitude - 1 g |
    rise: float = 0.0


@dataclass
class _Pending:
    t_ic: float
    peak: float
    peak_ax: float
    mf_max: float
    trough: float
    axis: tuple[float, float, float]


@dataclass
class NaiveCore:
    """Reference gait core; :meth:`run` returns the strike rows like the kernel's ``out``."""

    rate_hz: float
    placement: str
    descent_threshold_pct: float = -5.0
    descent_exit_pct: float = -3.0
    descent_min_s: float = 5.0
    rows: list[list[float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        p = placement_params(
            self.rate_hz,
            self.placement,
            descent_threshold_pct=self.descent_threshold_pct,
            descent_exit_pct=self.descent_exit_pct,
            descent_min_s=self.descent_min_s,
        )
        self.p = {
            name: float(p[getattr(kern, name)]) for name in dir(kern) if name.startswith("P_")
        }
        self.hist: deque[_Sample] = deque(maxlen=ring_capacity(self.rate_hz))
        self.n = 0
        self.last_t = NAN
        self.seg_t = NAN
        self.mf = NAN
        self.g = [0.0, 0.0, 0.0]
        self.gn = 0
        self.refr_until = -math.inf
        self.armed = False
        self.arm_t = NAN
        self.trough = math.inf
        self.bg = 0.0
        self.sw = 0.0
        self.hp_state = [[0.0, 0.0] for _ in range(3)]
        self.period = NAN
        self.amp = self.p["P_AMP0"]
        self.pend: _Pending | None = None
        self.last_ic = NAN
        self.intervals: deque[tuple[float, float]] = deque(maxlen=kern.N_IV)
        self.cadence = NAN
        self.grade = NAN
        self.descent = False
        self.desc_t = NAN
        # barometer
        self.h = NAN
        self.h_t = NAN
        self.baro_next = NAN
        self.baro_hist: deque[tuple[float, float]] = deque(maxlen=int(self.p["P_BARO_N"]) + 1)
        self.dist = 0.0
        self.baro_grade = NAN
        # contact time
        self.ct_open = False
        self.ct_ic = NAN
        self.ct_axis = (NAN, NAN, NAN)
        self.last_gct = NAN
        # mid-stance tilt
        self.ms_on = False
        self.ms_ic = NAN
        self.ms_samples: list[tuple[float, float, float]] = []
        self.cal: list[np.ndarray] = []
        self.cal_seen = 0
        self.step_grades: deque[float] = deque(maxlen=kern.N_TG)
        self.impacts: list[np.ndarray] = []
        self.hp_now = np.zeros(3)
        self.impact = np.zeros(3)
        self.v_cal = np.full(3, NAN)
        self.axis: tuple[float, float, float] = (NAN, NAN, NAN)
        self.fwd: tuple[float, float, float] = (NAN, NAN, NAN)
        self.tilt_grade = NAN

    # ------------------------------------------------------------------ helpers
    def _emit(self, t_now: float) -> None:
        p = self.p
        pe = self.pend
        assert pe is not None
        rise = pe.mf_max - pe.trough
        if rise > p["P_AMP_JUMP"] * self.amp or rise * p["P_AMP_JUMP"] < self.amp:
            self.amp = rise
        elif rise > 0.0:
            self.amp += p["P_AMP_ADAPT"] * (rise - self.amp)
        if not math.isnan(self.last_ic):
            d = pe.t_ic - self.last_ic
            if d > p["P_MAX_PER"]:
                self.intervals.clear()
            elif (
                not math.isnan(self.period)
                and kern.MISSED_LO * self.period <= d <= kern.MISSED_HI * self.period
            ):
                self.intervals.append((0.5 * d, pe.t_ic - 0.5 * d))
                self.intervals.append((0.5 * d, pe.t_ic))
            elif d >= p["P_MIN_PER"]:
                self.intervals.append((d, pe.t_ic))
        self.last_ic = pe.t_ic
        recent = [d for d, te in self.intervals if te >= pe.t_ic - p["P_CAD_WIN"]]
        if len(recent) < 2:
            self.cadence = NAN
            self.period = NAN
        else:
            med = statistics.median(recent)
            self.period = med
            self.cadence = 60.0 / med * (2.0 if p["P_ONE_FOOT"] > 0.5 else 1.0)
            refr = min(p["P_REFR_FRAC"] * med, p["P_REFR_MAX"])
            self.refr_until = max(self.refr_until, pe.t_ic + refr)
        self.rows.append(
            [
                pe.t_ic,
                self.cadence,
                pe.peak,
                self.grade,
                1.0 if self.descent else 0.0,
                self.last_gct,
                pe.peak_ax,
                t_now,
            ]
        )
        self.pend = None

    def _detect(self, t: float, s_now: float) -> None:
        p = self.p
        hist = list(self.hist)
        t_lo = max(t - p["P_TROUGH_WIN"], self.seg_t)
        recent = [h for h in hist if h.t >= t_lo]
        trough = min(h.s for h in recent)
        level = trough + p["P_F_IC"] * (s_now - trough)
        t_ic = hist[-1].t
        for k in range(len(hist) - 2, -1, -1):
            s = hist[k]
            if s.t < t_lo:
                break
            if s.s <= level:
                nxt = hist[k + 1]
                frac = (level - s.s) / (nxt.s - s.s) if nxt.s > s.s else 0.0
                t_ic = s.t + frac * (nxt.t - s.t)
                break
            t_ic = s.t
        if p["P_AXIAL_MODE"] < 0.5:
            gn = math.sqrt(sum(v * v for v in self.g))
            axis = (self.g[0] / gn, self.g[1] / gn, self.g[2] / gn) if gn > 0 else (NAN,) * 3
        else:
            axis = self.axis
        win = [s for s in hist if s.t >= t_ic - p["P_PRE"] and s.t >= self.seg_t]
        peak = max([0.0, *[s.m for s in win]])
        mf_max = max(s.s for s in win)
        if math.isnan(axis[0]):
            peak_ax = NAN
        else:
            peak_ax = max(sum(a * u for a, u in zip(s.a, axis, strict=True)) for s in win)
        self.pend = _Pending(t_ic, peak, peak_ax, mf_max, trough, axis)
        self.refr_until = t_ic + p["P_REFR0"]
        self.armed = False
        if self.ct_open:
            self.last_gct = NAN
        self.ct_open = True
        self.ct_ic = t_ic
        self.ct_axis = axis
        self.ms_on = True
        self.ms_ic = t_ic
        self.ms_samples = []
        self.impact = self.hp_now.copy()

    def _finish_midstance(self) -> None:
        self.ms_on = False
        if len(self.ms_samples) < 3:
            return
        v = np.mean(np.array(self.ms_samples), axis=0)
        if math.isnan(self.axis[0]):
            self.cal_seen += 1
            if self.cal_seen <= self.p["P_CAL_SKIP"]:
                return
            self.cal.append(v)
            self.impacts.append(self.impact)
            if len(self.cal) >= self.p["P_CAL_STEPS"]:
                v_cal = np.mean(np.array(self.cal), axis=0)
                u = v_cal / np.linalg.norm(v_cal)
                f = -np.sum(np.array(self.impacts), axis=0)
                f = f - np.dot(f, u) * u
                if np.linalg.norm(f) > 1e-9:
                    self.axis = tuple(u)
                    self.fwd = tuple(f / np.linalg.norm(f))
                    self.v_cal = v_cal
                    self.tilt_grade = 0.0
            return
        sin_a = float(np.clip(np.dot(v - self.v_cal, self.fwd), -0.9, 0.9))
        self.step_grades.append(100.0 * math.tan(math.asin(sin_a)))
        med = statistics.median(self.step_grades)
        self.tilt_grade += self.p["P_GRADE_ALPHA"] * (med - self.tilt_grade)

    def _baro_tick(self, t: float) -> None:
        p = self.p
        if not math.isnan(self.cadence) and t - self.last_ic < 2.0:
            run_len = p["P_STEP_LEN"]
            step_len = float(np.interp(self.cadence, [130.0, 150.0], [0.75, run_len]))
            self.dist += p["P_BARO_DT"] * self.cadence / 60.0 * step_len
        self.baro_next += p["P_BARO_DT"]
        if self.baro_next <= t:
            self.baro_next = t + p["P_BARO_DT"]
        self.baro_hist.append((self.h, self.dist))
        if len(self.baro_hist) == self.baro_hist.maxlen and not math.isnan(self.h):
            dh = self.baro_hist[-1][0] - self.baro_hist[0][0]
            ds = self.baro_hist[-1][1] - self.baro_hist[0][1]
            if ds >= p["P_MIN_DS"] and not math.isnan(dh):
                self.baro_grade = 100.0 * dh / ds

    def _descent(self, t: float) -> None:
        p = self.p
        g = self.grade
        cond = g <= p["P_DESC_THR"] if not self.descent else not (g <= p["P_DESC_EXIT"])
        if cond:
            if math.isnan(self.desc_t):
                self.desc_t = t
            if t - self.desc_t >= p["P_DESC_MIN"]:
                self.descent = not self.descent
                self.desc_t = NAN
        else:
            self.desc_t = NAN

    # ------------------------------------------------------------------ main loop
    def sample(self, t: float, x: float, y: float, z: float, pr: float | None) -> None:
        """Process one sample."""
        p = self.p
        if not all(math.isfinite(v) for v in (t, x, y, z)):
            return
        if self.n > 0 and not t > self.last_t:
            return
        m = math.sqrt(x * x + y * y + z * z)
        if self.n == 0 or t - self.last_t > max(p["P_GAP"], p["P_LONG_GAP"]):
            if self.pend is not None:
                self._emit(self.last_t)
            self.seg_t = t
            self.mf = m
            self.armed = False
            hb1, hb2 = p["P_HB1"], p["P_HB2"]
            self.hp_state = [[(hb1 + hb2) * v, hb2 * v] for v in (x, y, z)]
            self.last_ic = NAN
            self.ct_open = False
            self.ms_on = False
            if self.n == 0:
                self.baro_next = t
        self.n += 1
        self.last_t = t
        self.mf = self.mf + p["P_ALPHA_LP"] * (m - self.mf)
        mf = self.mf
        if p["P_HP"] > 0.5:
            hv = []
            for v, zst in zip((x, y, z), self.hp_state, strict=True):
                out = p["P_HB0"] * v + zst[0]
                zst[0] = p["P_HB1"] * v - p["P_HA1"] * out + zst[1]
                zst[1] = p["P_HB2"] * v - p["P_HA2"] * out
                hv.append(out)
            sig = math.sqrt(hv[0] * hv[0] + hv[1] * hv[1] + hv[2] * hv[2])
            self.hp_now = np.array(hv)
        else:
            sig = mf
        if self.gn < p["P_WARM_N"]:
            self.gn += 1
            ag = max(1.0 / self.gn, p["P_ALPHA_G"])
        else:
            ag = p["P_ALPHA_G"]
        for i, v in enumerate((x, y, z)):
            self.g[i] += ag * (v - self.g[i])
        self.hist.append(_Sample(t, sig, m, (x, y, z), abs(mf - 1.0)))
        lag_bg = int(p["P_BG_DELAY"])
        old = self.hist[-1 - lag_bg] if len(self.hist) > lag_bg else None
        if old is not None and old.t >= self.seg_t:
            self.sw = max(self.sw * p["P_SWING_DECAY"], old.dev)
        else:
            self.sw *= p["P_SWING_DECAY"]
        if self.pend is not None:
            pe = self.pend
            t_end = pe.t_ic + p["P_POST"]
            if t <= t_end:
                pe.peak = max(pe.peak, m)
                pe.mf_max = max(pe.mf_max, sig)
                a = x * pe.axis[0] + y * pe.axis[1] + z * pe.axis[2]
                if a > pe.peak_ax:
                    pe.peak_ax = a
            if t >= t_end - 0.5 * p["P_DT"]:
                self._emit(t)
        if p["P_GCT"] > 0.5 and self.ct_open:
            if t - self.ct_ic > 2.0 * p["P_MAX_PER"]:
                self.ct_open = False
                self.last_gct = NAN
            elif t > self.ct_ic + p["P_POST"]:
                u = self.ct_axis
                if x * u[0] + y * u[1] + z * u[2] < p["P_TO_LEVEL"]:
                    self.ct_open = False
                    self.last_gct = 1000.0 * (t - self.ct_ic)
        if p["P_AXIAL_MODE"] > 0.5 and self.ms_on:
            dt_ic = t - self.ms_ic
            if dt_ic > p["P_MS_T1"]:
                self._finish_midstance()
            elif dt_ic >= p["P_MS_T0"] and abs(m - 1.0) < p["P_MS_TOL"]:
                self.ms_samples.append((x, y, z))
        if t >= self.refr_until and self.pend is None:
            if not self.armed:
                self.armed = True
                self.arm_t = t
                self.trough = sig
                self.bg = 0.0
            else:
                leak = max(p["P_LEAK"] * p["P_DT"] * self.amp, p["P_LEAK_MIN"] * p["P_DT"])
                self.trough = min(sig, self.trough + leak)
            rise = sig - self.trough
            self.hist[-1].rise = rise
            self.bg *= p["P_BG_DECAY"]
            if old is not None and old.t >= self.arm_t:
                self.bg = max(self.bg, old.rise)
            thr = max(p["P_MIN_RISE"], p["P_C_BG"] * self.bg, p["P_K_RISE"] * self.amp)
            lag_sw = int(p["P_SWING_LAG"])
            pre = self.hist[-1 - lag_sw] if len(self.hist) > lag_sw else None
            dev_pre = pre.dev if pre is not None and pre.t >= self.seg_t else math.inf
            swing_ok = self.sw >= p["P_SWING_G"] and dev_pre <= p["P_SWING_END"] * self.sw
            if rise >= thr and t - self.arm_t >= p["P_ARM_MIN"] and swing_ok:
                self._detect(t, sig)
                assert self.pend is not None
                if t >= self.pend.t_ic + p["P_POST"] - 0.5 * p["P_DT"]:
                    self._emit(t)
        overdue = 1.5 * self.period if self.period > 0.0 else 1.0
        if not (t - self.last_ic < overdue):
            self.amp = max(self.amp * p["P_AMP_FAST"], p["P_MIN_RISE"])
        has_p = pr is not None
        if has_p and math.isfinite(pr) and pr > 0.0:
            h = 44330.77 * (1.0 - (pr / 101325.0) ** 0.190263)
            if math.isnan(self.h):
                self.h = h
            else:
                self.h += (1.0 - math.exp(-(t - self.h_t) / p["P_TAU_H"])) * (h - self.h)
            self.h_t = t
        if t >= self.baro_next:
            self._baro_tick(t)
        if has_p:
            self.grade = self.baro_grade
        elif p["P_AXIAL_MODE"] > 0.5:
            self.grade = self.tilt_grade
        else:
            self.grade = NAN
        self._descent(t)

    def run(
        self, t_s: np.ndarray, acc_g: np.ndarray, pressure_pa: np.ndarray | None = None
    ) -> np.ndarray:
        """Process all samples; return the strike rows (n, 8) emitted by this call."""
        start = len(self.rows)
        for i in range(len(t_s)):
            pr = None if pressure_pa is None else float(pressure_pa[i])
            self.sample(
                float(t_s[i]), float(acc_g[i, 0]), float(acc_g[i, 1]), float(acc_g[i, 2]), pr
            )
        return np.array(self.rows[start:], dtype=float).reshape(-1, kern.N_OUT)
