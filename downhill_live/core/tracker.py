"""Streaming gait tracker: the public face of the numba core.

:class:`GaitTracker` turns a stream of three-axis accelerometer samples (any mounting rotation)
into one :class:`~downhill_live.types.Step` per detected foot strike, with cadence, impact peak,
grade and descent state known at that moment. See :mod:`downhill_live.core._kernels` for the
per-sample algorithm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from downhill_live.core import _kernels as kern
from downhill_live.errors import DownhillError
from downhill_live.types import ONE_FOOT_PLACEMENTS, PLACEMENTS, Step

__all__ = ["GaitTracker", "placement_params"]

#: Cadence is the median of the step (or stride) intervals that ended in the last this-many
#: seconds (at most ``_kernels.N_IV`` of them): short, so that cues follow a change within ~2 s.
CADENCE_WINDOW_S = 3.0

#: Nominal running step length (m) turning cadence into horizontal speed for the barometric
#: grade (walking, <= 130 spm: 0.75 m; linear in between).
NOMINAL_STEP_LEN_M = 1.05


def placement_params(
    rate_hz: float,
    placement: str,
    *,
    descent_threshold_pct: float = -5.0,
    descent_exit_pct: float = -3.0,
    descent_min_s: float = 5.0,
) -> np.ndarray:
    """Kernel parameter vector for a sample rate and a placement (see ``_kernels.P_*``).

    Parameters
    ----------
    rate_hz : float
        Nominal sample rate (Hz).
    placement : str
        One of ``downhill_live.types.PLACEMENTS``.
    descent_threshold_pct, descent_exit_pct, descent_min_s : float
        Descent state machine settings (see :class:`GaitTracker`).

    Returns
    -------
    numpy.ndarray
        float64 vector of length ``_kernels.N_PARAMS``.
    """
    one_foot = placement in ONE_FOOT_PLACEMENTS
    dt_s = 1.0 / rate_hz
    p = np.zeros(kern.N_PARAMS)
    p[kern.P_DT] = dt_s
    p[kern.P_GAP] = 1.5 * dt_s
    p[kern.P_LONG_GAP] = 0.025
    p[kern.P_ONE_FOOT] = 1.0 if one_foot else 0.0
    # detection signal: trunk = low-passed magnitude (tau 5 ms); limb = norm of the
    # second-order Butterworth high-pass (25 Hz, at most 0.3 x rate) of the vector
    p[kern.P_ALPHA_LP] = 1.0 - math.exp(-dt_s / 0.005)
    p[kern.P_HP] = 1.0 if one_foot else 0.0
    fc_hz = min(25.0, 0.3 * rate_hz)
    k = math.tan(math.pi * fc_hz / rate_hz)
    norm = 1.0 / (1.0 + math.sqrt(2.0) * k + k * k)
    p[kern.P_HB0] = norm
    p[kern.P_HB1] = -2.0 * norm
    p[kern.P_HB2] = norm
    p[kern.P_HA1] = 2.0 * (k * k - 1.0) * norm
    p[kern.P_HA2] = (1.0 - math.sqrt(2.0) * k + k * k) * norm
    p[kern.P_ALPHA_G] = 1.0 - math.exp(-dt_s / 1.0)
    p[kern.P_WARM_N] = round(1.0 * rate_hz)
    # detection: rise above a leaky trough beyond the noise floor and beyond the background
    # seen since the detector was armed (after the refractory period)
    p[kern.P_K_RISE] = 0.3 if one_foot else 0.5
    p[kern.P_MIN_RISE] = 0.2 if one_foot else 0.15
    p[kern.P_C_BG] = 1.5
    p[kern.P_BG_DECAY] = math.exp(-dt_s / 0.25)
    p[kern.P_ARM_MIN] = 0.06
    p[kern.P_LEAK] = 2.0
    p[kern.P_TROUGH_WIN] = 0.1
    p[kern.P_BG_DELAY] = max(1, round(0.04 * rate_hz))
    p[kern.P_REFR_MAX] = 0.6 if one_foot else 0.3
    p[kern.P_AMP_JUMP] = 2.5
    p[kern.P_AMP_FAST] = math.exp(-dt_s / 0.3)
    p[kern.P_LEAK_MIN] = 0.0 if one_foot else 3.0
    p[kern.P_SWING_G] = 0.6 if one_foot else 0.0
    p[kern.P_SWING_DECAY] = math.exp(-dt_s / 0.15)
    p[kern.P_SWING_END] = 0.6 if one_foot else math.inf
    p[kern.P_SWING_LAG] = max(1, round(0.02 * rate_hz))
    p[kern.P_F_IC] = 0.25
    p[kern.P_AMP0] = 1.5
    p[kern.P_AMP_DECAY] = math.exp(-dt_s / 3.0)
    p[kern.P_AMP_ADAPT] = 0.3
    p[kern.P_REFR_FRAC] = 0.7 if one_foot else 0.6
    p[kern.P_REFR0] = 0.4 if one_foot else 0.2
    p[kern.P_MIN_PER] = 0.4 if one_foot else 0.2
    p[kern.P_MAX_PER] = 3.0 if one_foot else 1.5
    p[kern.P_CAD_WIN] = CADENCE_WINDOW_S
    p[kern.P_PRE] = 0.010
    p[kern.P_POST] = 0.060
    # grade and descent
    p[kern.P_DESC_THR] = descent_threshold_pct
    p[kern.P_DESC_EXIT] = descent_exit_pct
    p[kern.P_DESC_MIN] = descent_min_s
    p[kern.P_STEP_LEN] = NOMINAL_STEP_LEN_M
    p[kern.P_BARO_DT] = 0.25
    p[kern.P_BARO_N] = 24  # 6 s grade window
    p[kern.P_TAU_H] = 1.0
    p[kern.P_MIN_DS] = 3.0
    p[kern.P_AXIAL_MODE] = 1.0 if one_foot else 0.0
    # tilt grade (foot/shank): mean stance vector; the foot uses its quasi-static foot-flat
    # samples, the shank (never still in stance) all samples of a fixed window
    p[kern.P_MS_T0] = 0.03 if placement == "foot" else 0.06
    p[kern.P_MS_T1] = 0.25 if placement == "foot" else 0.16
    p[kern.P_MS_TOL] = 0.06 if placement == "foot" else math.inf
    p[kern.P_CAL_STEPS] = 10
    p[kern.P_CAL_SKIP] = 5
    p[kern.P_GRADE_ALPHA] = 0.3
    p[kern.P_GCT] = 0.0 if one_foot else 1.0
    p[kern.P_TO_LEVEL] = 0.5
    return p


def ring_capacity(rate_hz: float) -> int:
    """Sample ring length: a power of two covering at least 0.5 s."""
    need = max(64, math.ceil(0.5 * rate_hz))
    return 1 << (need - 1).bit_length()


class GaitTracker:
    """Streaming foot-strike detector with cadence, impact, grade and descent state.

    The constructor only validates and stores parameters and allocates state; no I/O.
    Feed samples with :meth:`update_many` (blocks) or :meth:`update` (one sample); any chunking
    gives identical results. The sensor may be mounted at any rotation: only the magnitude, the
    high-passed vector norm and projections on estimated axes are used. See
    :mod:`downhill_live.core._kernels` for the algorithm.

    Each emitted :class:`~downhill_live.types.Step` carries ``t_s`` (estimated initial contact,
    sensor time), ``cadence_spm``, ``peak_g`` (peak resultant in [IC - 10 ms, IC + 60 ms]),
    ``peak_axial_g`` (peak along the estimated vertical: gravity for pelvis/chest, the calibrated
    mean stance axis for foot/shank, nan before calibration), ``grade_pct`` and ``on_descent`` at
    that moment, and ``gct_ms``: pelvis/chest only, the contact time of the *previous* contact
    (IC to the vertical acceleration falling below 0.5 g; nan when unknown, e.g. walking); nan for
    foot/shank.

    Parameters
    ----------
    rate_hz : float
        Nominal sample rate (Hz), 50-2000 (foot/shank: >= 200 Hz recommended). A time step above
        ``1.5 / rate_hz`` is a gap (counted in :attr:`n_gaps_`); one above 25 ms also restarts the
        short filters and the detector (no strike across it) and the cadence interval.
    placement : str
        ``"foot"``, ``"shank"`` (one foot seen: cadence doubles the stride rate), ``"pelvis"`` or
        ``"chest"`` (both feet).
    descent_threshold_pct : float, default -5.0
        Enter the descent state when the grade stays at or below this for ``descent_min_s``.
    descent_exit_pct : float, default -3.0
        Leave it when the grade stays above this (or is unknown) for ``descent_min_s``.
    descent_min_s : float, default 5.0
        Minimum duration of either condition (s).

    Attributes
    ----------
    grade_pct_ : float
        Current grade (%), negative downhill; nan while unknown. With ``pressure_pa``: altitude
        change (ISA formula, 1 s low-pass) over the distance of the last 6 s, the distance being
        cadence x a nominal step length (:data:`NOMINAL_STEP_LEN_M` running, 0.75 m walking).
        Without it, foot/shank: the tilt of the mean stance acceleration against a calibration
        on steps 6-15 (assumed flat ground), the forward axis being opposite to the horizontal
        part of the impact transient (the foot and the shank brake at contact); median of 5
        steps, smoothed. The foot's quasi-static foot-flat gives the slope directly; the shank's
        is rough (its kinematics change with speed and slope). Pelvis/chest without pressure:
        nan.
    on_descent_ : bool
        Descent state.
    cadence_spm_ : float
        Steps per minute (both legs): median of at most 8 intervals of the last 8 s; nan until
        two intervals are known and after a gait change (walk <-> run) or a break.
    n_samples_ : int
        Samples processed (non-finite, repeated or out-of-order samples are skipped).
    n_gaps_ : int
        Gaps seen.
    latency_s_ : float
        Report delay of a step after its estimated initial contact, in sensor time: the end of
        the peak window (60 ms) plus at most one sample period.

    Examples
    --------
    >>> import numpy as np
    >>> tr = GaitTracker(200.0, "pelvis")
    >>> t = np.arange(400) / 200.0
    >>> steps = tr.update_many(t, np.tile([0.0, 0.0, 1.0], (400, 1)))
    >>> steps, tr.n_samples_
    ([], 400)
    """

    def __init__(
        self,
        rate_hz: float,
        placement: str,
        *,
        descent_threshold_pct: float = -5.0,
        descent_exit_pct: float = -3.0,
        descent_min_s: float = 5.0,
    ) -> None:
        if not (math.isfinite(rate_hz) and 50.0 <= rate_hz <= 2000.0):
            raise DownhillError(f"rate_hz must be within 50-2000 Hz, got {rate_hz!r}")
        if placement not in PLACEMENTS:
            raise DownhillError(
                f"placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}"
            )
        if not descent_threshold_pct <= descent_exit_pct:
            raise DownhillError(
                "descent_threshold_pct must be at or below descent_exit_pct, got "
                f"{descent_threshold_pct!r} > {descent_exit_pct!r}"
            )
        if not (math.isfinite(descent_min_s) and descent_min_s >= 0.0):
            raise DownhillError(f"descent_min_s must be >= 0, got {descent_min_s!r}")
        self.rate_hz = float(rate_hz)
        self.placement = placement
        self.descent_threshold_pct = float(descent_threshold_pct)
        self.descent_exit_pct = float(descent_exit_pct)
        self.descent_min_s = float(descent_min_s)
        self._p = placement_params(
            self.rate_hz,
            placement,
            descent_threshold_pct=self.descent_threshold_pct,
            descent_exit_pct=self.descent_exit_pct,
            descent_min_s=self.descent_min_s,
        )
        self._st = np.empty(kern.N_STATE)
        kern.init_state(self._st, self._p)
        self._ring = np.zeros((kern.N_RING, ring_capacity(self.rate_hz)))
        self._iv = np.zeros((2, kern.N_IV))
        self._baro = np.full((2, int(self._p[kern.P_BARO_N]) + 1), np.nan)
        self._out = np.zeros((256, kern.N_OUT))
        self._one_t = np.zeros(1)
        self._one_acc = np.zeros((1, 3))
        self._one_p = np.zeros(1)
        self._no_p = np.zeros(0)

    # ------------------------------------------------------------------ feeding
    def update_many(
        self, t_s: np.ndarray, acc_g: np.ndarray, pressure_pa: np.ndarray | None = None
    ) -> list[Step]:
        """Feed a block of samples.

        Parameters
        ----------
        t_s : numpy.ndarray
            (N,) sensor time (s), increasing; gaps allowed.
        acc_g : numpy.ndarray
            (N, 3) acceleration (g) including gravity, any sensor orientation.
        pressure_pa : numpy.ndarray or None
            (N,) barometric pressure (Pa) aligned with ``t_s``; nan where not sampled.

        Returns
        -------
        list of Step
            Strikes whose report completed within this block, in time order.
        """
        t = np.ascontiguousarray(t_s, dtype=np.float64)
        a = np.ascontiguousarray(acc_g, dtype=np.float64)
        if t.ndim != 1 or a.ndim != 2 or a.shape != (t.shape[0], 3):
            raise DownhillError(f"expected t_s (N,) and acc_g (N, 3), got {t.shape} and {a.shape}")
        if pressure_pa is None:
            pr = self._no_p
            has_p = False
        else:
            pr = np.ascontiguousarray(pressure_pa, dtype=np.float64)
            if pr.shape != t.shape:
                raise DownhillError(f"expected pressure_pa {t.shape}, got {pr.shape}")
            has_p = True
        return self._run(t, a, pr, has_p)

    def update(
        self, t_s: float, acc_g: Sequence[float], pressure_pa: float | None = None
    ) -> list[Step]:
        """Feed one sample (see :meth:`update_many`)."""
        self._one_t[0] = t_s
        if len(acc_g) != 3:
            raise DownhillError(f"expected 3 acceleration axes, got {len(acc_g)}")
        self._one_acc[0, 0] = acc_g[0]
        self._one_acc[0, 1] = acc_g[1]
        self._one_acc[0, 2] = acc_g[2]
        if pressure_pa is None:
            return self._run(self._one_t, self._one_acc, self._no_p, False)
        self._one_p[0] = pressure_pa
        return self._run(self._one_t, self._one_acc, self._one_p, True)

    def _run(self, t: np.ndarray, a: np.ndarray, pr: np.ndarray, has_p: bool) -> list[Step]:
        steps: list[Step] = []
        start = 0
        n = t.shape[0]
        while True:
            n_out, used = kern.process(
                t[start:],
                a[start:],
                pr[start:] if has_p else pr,
                has_p,
                self._p,
                self._st,
                self._ring,
                self._iv,
                self._baro,
                self._out,
            )
            steps.extend(_rows_to_steps(self._out[:n_out]))
            start += used
            if start >= n:
                return steps

    # ------------------------------------------------------------------ results
    @property
    def grade_pct_(self) -> float:
        """Current grade estimate (%), negative downhill; nan while unknown."""
        return float(self._st[kern.S_GRADE])

    @property
    def on_descent_(self) -> bool:
        """Descent state (threshold, hysteresis, minimum duration)."""
        return bool(self._st[kern.S_DESC] > 0.5)

    @property
    def cadence_spm_(self) -> float:
        """Current cadence (steps per minute, both legs); nan while unknown."""
        return float(self._st[kern.S_CAD])

    @property
    def n_samples_(self) -> int:
        """Number of samples processed."""
        return int(self._st[kern.S_N])

    @property
    def n_gaps_(self) -> int:
        """Number of gaps seen (time steps above 1.5 sample periods)."""
        return int(self._st[kern.S_GAPS])

    @property
    def latency_s_(self) -> float:
        """Nominal report delay after initial contact (s): peak window end + one sample."""
        return float(self._p[kern.P_POST] + self._p[kern.P_DT])


def _rows_to_steps(rows: np.ndarray) -> list[Step]:
    return [
        Step(
            t_s=float(r[kern.O_T]),
            cadence_spm=float(r[kern.O_CAD]),
            peak_g=float(r[kern.O_PEAK]),
            grade_pct=float(r[kern.O_GRADE]),
            on_descent=bool(r[kern.O_DESC] > 0.5),
            gct_ms=float(r[kern.O_GCT]),
            peak_axial_g=float(r[kern.O_PEAK_AX]),
        )
        for r in rows
    ]
