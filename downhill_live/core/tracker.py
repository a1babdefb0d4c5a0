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
from downhill_live.core import grade as gk
from downhill_live.core._jit import jit_active, kernel_view
from downhill_live.core.params import (
    CADENCE_WINDOW_S,
    NOMINAL_STEP_LEN_M,
    UNDERSAMPLED_BELOW_HZ,
    GaitParams,
    acf_sizes,
    default_params,
    kernel_params,
)
from downhill_live.errors import DownhillError
from downhill_live.types import ONE_FOOT_PLACEMENTS, PLACEMENTS, Step, make_step

__all__ = [
    "CADENCE_WINDOW_S",
    "NOMINAL_STEP_LEN_M",
    "GaitParams",
    "GaitTracker",
    "default_params",
    "placement_params",
    "undersampled_warning",
]


def placement_params(
    rate_hz: float,
    placement: str,
    *,
    params: GaitParams | None = None,
    range_g: float | None = None,
) -> kern.KParams:
    """Kernel parameters (:class:`~downhill_live.core._kernels.KParams`) for a sample rate and a
    placement; see :func:`downhill_live.core.params.kernel_params`."""
    return kernel_params(rate_hz, placement, params, range_g=range_g)


def ring_capacity(rate_hz: float) -> int:
    """Sample ring length: a power of two covering at least 2 s (the longest strike window)."""
    need = max(128, math.ceil(2.0 * rate_hz))
    return 1 << (need - 1).bit_length()


def undersampled_warning(rate_hz: float, placement: str) -> str | None:
    """One line for the start of a run when ``peak_g`` will be under-sampled, else None."""
    if placement in ONE_FOOT_PLACEMENTS and rate_hz < UNDERSAMPLED_BELOW_HZ:
        return (
            f"{placement} sensor at {rate_hz:g} Hz: impacts last 10-30 ms, so peak_g is "
            f"under-sampled below {UNDERSAMPLED_BELOW_HZ:g} Hz and reads low (steps are marked "
            "undersampled); strikes and cadence are not affected"
        )
    return None


class GaitTracker:
    """Streaming foot-strike detector with cadence, impact, grade and descent state.

    The constructor only validates and stores parameters and allocates state; no I/O.
    Feed samples with :meth:`update_many` (blocks) or :meth:`update` (one sample); any chunking
    gives identical results. The sensor may be mounted at any rotation: only the magnitude, the
    high-passed vector norm and projections on estimated axes are used. See
    :mod:`downhill_live.core._kernels` for the algorithm.

    Each emitted :class:`~downhill_live.types.Step` carries ``t_s`` (estimated initial contact,
    sensor time), ``cadence_spm``, ``peak_g`` (peak resultant in [IC - 10 ms, IC + 40 ms] for
    foot/shank, [IC - 10 ms, IC + 60 ms] for pelvis/chest), ``undersampled`` (foot/shank below
    200 Hz: ``peak_g`` reads low), ``clipped`` (the peak window reached ``range_g``),
    ``peak_axial_g`` (peak along the estimated vertical: gravity for pelvis/chest, the calibrated
    mean stance axis for foot/shank, nan before calibration), ``grade_pct`` and ``on_descent`` at
    that moment, and ``gct_ms``: pelvis/chest only, the contact time of the *previous* contact
    (IC to the vertical acceleration falling below 0.5 g; nan when unknown, e.g. walking); nan for
    foot/shank.

    The first strike after a pause (foot/shank) is reported as promptly as the others but marked
    ``provisional``: on a real shoe the first swing's terminal deceleration can precede the
    contact, and a larger impact within ``first_hold_s`` (0.15 s) then comes as a step with
    ``replaces_previous`` set, which takes the provisional one's place
    (:func:`~downhill_live.types.settled` applies that to a list of steps).

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
    params : GaitParams or None
        Detector knobs (:mod:`downhill_live.core.params`); None: the placement's defaults.
    range_g : float or None
        Sensor range (g), e.g. 8 or 16: a step whose peak window reaches it is ``clipped``.

    Attributes
    ----------
    grade_pct_ : float
        Current grade (%), negative downhill; nan while unknown (:mod:`downhill_live.core.grade`):
        a treadmill's inclination (:meth:`set_external_grade`), else with ``pressure_pa`` the
        least-squares slope of altitude (ISA formula) over distance in the last 3 s (distance
        from :meth:`set_speed` while fresh, else cadence x :data:`NOMINAL_STEP_LEN_M`), else
        for the foot its tilt when trusted (a still stand at the start, reliable foot-flat, a
        forward sign agreeing step to step), else nan (shank, pelvis, chest).
    grade_source_ : str
        Where the grade comes from now (``"treadmill"``, ``"barometer"``, ``"foot tilt"``,
        ``"unknown"``).
    on_descent_ : bool
        Descent state.
    cadence_spm_ : float
        Steps per minute (both legs): the mean of the strike intervals of the last 3 s that agree
        with the autocorrelation period tracker (else the tracked period itself); nan while the
        tracker has no period (the first ~1.5 s, standing).
    n_samples_ : int
        Samples processed (non-finite, repeated or out-of-order samples are skipped).
    n_gaps_ : int
        Gaps seen.
    latency_s_ : float
        Nominal report delay of a step after its estimated initial contact, in sensor time: the
        end of the peak window (foot/shank 40 ms, pelvis/chest 60 ms) plus one sample period.
        A step is reported later only when its candidate peak came later than that after the
        contact (the peak must be final: ``confirm_s`` without a higher value).
    warnings_ : list of str
        Lines to show at the start of a run (e.g. ``peak_g`` under-sampled below 200 Hz on
        foot/shank).

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
        params: GaitParams | None = None,
        range_g: float | None = None,
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
        if range_g is not None and not (math.isfinite(range_g) and range_g > 0.0):
            raise DownhillError(f"range_g must be a number > 0 or None, got {range_g!r}")
        if params is not None and not isinstance(params, GaitParams):
            raise DownhillError(f"params must be a GaitParams, got {type(params).__name__}")
        self.rate_hz = float(rate_hz)
        self.placement = placement
        self.descent_threshold_pct = float(descent_threshold_pct)
        self.descent_exit_pct = float(descent_exit_pct)
        self.descent_min_s = float(descent_min_s)
        self.params = params if params is not None else default_params(placement)
        self.range_g = None if range_g is None else float(range_g)
        self._p = placement_params(
            self.rate_hz, placement, params=self.params, range_g=self.range_g
        )
        self._gp = gk.grade_params(
            self.rate_hz,
            placement,
            descent_threshold_pct=self.descent_threshold_pct,
            descent_exit_pct=self.descent_exit_pct,
            descent_min_s=self.descent_min_s,
            step_len_m=NOMINAL_STEP_LEN_M,
        )
        w = undersampled_warning(self.rate_hz, placement)
        self.warnings_: list[str] = [] if w is None else [w]
        self._prm = kern.params_record(self._p)
        self._st = kern.new_state()
        self._gprm = gk.gparams_record(self._gp)
        self._gst = gk.new_gstate()
        if jit_active():
            # compiled kernels take plain structured arrays (a recarray subclass is typed
            # slowly at every call); plain Python needs the recarray's attribute access
            self._prm_k = kernel_view(self._prm)
            self._st_k = kernel_view(self._st)
            self._gprm_k = kernel_view(self._gprm)
            self._gst_k = kernel_view(self._gst)
        else:
            self._prm_k = self._prm
            self._st_k = self._st
            self._gprm_k = self._gprm
            self._gst_k = self._gst
        kern.init_state(self._st_k, self._prm_k)
        self._tg = np.zeros(2 * gk.N_TG)  # the ring, then a scratch half for its median
        self._ff = np.zeros(gk.N_FF)
        gk.init_gstate(self._gst_k, self._tg, self._ff)
        self._gring = np.zeros((gk.N_GRING, ring_capacity(self.rate_hz)))
        self._gout = np.zeros((256, 2))
        self._ring = np.zeros((kern.N_RING, ring_capacity(self.rate_hz)))
        acf_cap, n_lags = acf_sizes(self._p)
        self._acf_x = np.zeros(acf_cap)
        self._acf_r = np.zeros(n_lags)
        self._iv = np.zeros((3, kern.N_IV))  # interval, its time, a scratch row
        self._baro = np.full((2, int(self._gp.baro_n)), np.nan)
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
                self._prm_k,
                self._st_k,
                self._ring,
                self._acf_x,
                self._acf_r,
                self._iv,
                self._out,
            )
            rows = self._out[:n_out]
            # grade and descent: the same samples and the steps reported in them
            gk.grade_block(
                t[start : start + used],
                a[start : start + used],
                pr[start : start + used] if has_p else pr,
                has_p,
                np.ascontiguousarray(rows[:, kern.O_T]),
                np.ascontiguousarray(rows[:, kern.O_T_REPORT]),
                np.ascontiguousarray(rows[:, kern.O_CAD]),
                self._gprm_k,
                self._gst_k,
                self._gring,
                self._baro,
                self._tg,
                self._ff,
                self._gout,
            )
            rows[:, kern.O_GRADE] = self._gout[:n_out, 0]
            rows[:, kern.O_DESC] = self._gout[:n_out, 1]
            steps.extend(_rows_to_steps(rows))
            start += used
            if start >= n:
                return steps

    # ------------------------------------------------------------------ results
    @property
    def grade_pct_(self) -> float:
        """Current grade estimate (%), negative downhill; nan while unknown."""
        return float(self._gst[0].grade)

    @property
    def grade_source_(self) -> str:
        """Where the current grade comes from: one of :data:`downhill_live.core.grade.SOURCES`
        (``"unknown"`` while no source is trusted)."""
        return gk.SOURCES[int(self._gst[0].src)]

    @property
    def on_descent_(self) -> bool:
        """Descent state (threshold, hysteresis, minimum duration)."""
        return bool(self._gst[0].desc > 0.5)

    def set_external_grade(self, grade_pct: float) -> None:
        """A grade measured by another device (a treadmill's inclination), in force from the
        next sample for :data:`~downhill_live.core.grade.EXTERNAL_HOLD_S` of sensor time; it
        takes precedence over every other source. nan: no longer known."""
        g = self._gst[0]
        g.ext_grade = float(grade_pct)
        g.ext_t = math.nan  # stamped with the next sample's time

    def set_speed(self, speed_mps: float) -> None:
        """Horizontal speed from another source (foot pod RSC, treadmill belt) for the
        barometric grade, in force for 3 s of sensor time; nan: no longer known."""
        g = self._gst[0]
        g.spd = float(speed_mps)
        g.spd_t = math.nan  # stamped with the next sample's time

    @property
    def cadence_spm_(self) -> float:
        """Current cadence (steps per minute, both legs); nan while unknown."""
        return float(self._st[0].cad)

    @property
    def n_samples_(self) -> int:
        """Number of samples processed."""
        return int(self._st[0].n)

    @property
    def n_gaps_(self) -> int:
        """Number of gaps seen (time steps above 1.5 sample periods)."""
        return int(self._st[0].gaps)

    @property
    def latency_s_(self) -> float:
        """Nominal report delay after initial contact (s): peak window end + one sample."""
        return float(self._p.post_s + self._p.dt_s)

    @property
    def period_s_(self) -> float:
        """Period tracked by the autocorrelation (s) between the strikes this placement sees
        (foot/shank: one stride, pelvis/chest: one step); nan while unknown."""
        return float(self._st[0].period)


# the row layout _rows_to_steps reads by position
assert tuple(range(6)) == (kern.O_T, kern.O_CAD, kern.O_PEAK, kern.O_GRADE, kern.O_DESC, kern.O_GCT)
assert (kern.O_PEAK_AX, kern.O_UNDER, kern.O_CLIP) == (6, 8, 9)
assert (kern.O_PROVISIONAL, kern.O_REPLACES) == (10, 11)


def _rows_to_steps(rows: np.ndarray) -> list[Step]:
    # tolist() and positional arguments: a third of the time of per-element float() calls
    return [
        make_step(
            r[0], r[1], r[2], r[3], r[4] > 0.5, r[5], r[6],
            r[8] > 0.5, r[9] > 0.5, r[10] > 0.5, r[11] > 0.5,
        )
        for r in rows.tolist()
    ]
