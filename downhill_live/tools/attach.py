"""``downhill-live attach``: a watch file of the same run, aligned and stored in the recording.

Alignment: the recording's header ``start_time`` plus the receive time of each record puts
the recording on the UTC clock, where the watch file's points already are. Watch clocks and
the computer's clock differ by seconds, so the offset is then refined by cross-correlating the
two cadence series (1 s grid, lags within :data:`MAX_LAG_S`): the lag with the highest
correlation is taken when the correlation is at least :data:`MIN_CORRELATION` over at least
:data:`MIN_OVERLAP_S` of overlap; otherwise the absolute-time alignment stands and the report
says why. A recording without ``start_time`` (imported from a CSV) is aligned by cadence alone
over the whole run.

Storage: the aligned points (on the recording's receive-time clock) become kind-4 records
appended to the recording, which keeps every byte it held (``record.append_attached``;
docs/recording-format.md). Replay, tune, report and segments then take the grade from the
attached altitude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from downhill_live.config.cue_profile import CueProfile
from downhill_live.core.tracker import CADENCE_WINDOW_S
from downhill_live.errors import InputError
from downhill_live.record import (
    Recording,
    append_attached,
    attached_docs,
    attached_track,
    read_recording,
)
from downhill_live.session import session_from_recording
from downhill_live.tools.watch import Activity

__all__ = ["Alignment", "align_activity", "attach", "track_columns"]

#: the largest clock difference the cadence cross-correlation searches (s)
MAX_LAG_S = 120.0
#: the least correlation that confirms a lag
MIN_CORRELATION = 0.5
#: the least overlap of the two cadence series for a confirmed lag (s)
MIN_OVERLAP_S = 60.0
#: columns of a watch file that are attached, when known
ATTACHED_COLUMNS = (
    "altitude_m",
    "distance_m",
    "speed_mps",
    "heart_rate_bpm",
    "cadence_spm",
    "stance_time_ms",
    "latitude_deg",
    "longitude_deg",
)


@dataclass
class Alignment:
    """How a watch file sits on a recording's clock.

    ``t_rx_s`` the watch points' times on the recording's receive-time clock; ``lag_s`` the
    cadence refinement added to the absolute-time alignment; ``correlation`` at that lag (nan
    when not computed); ``method`` ``"time+cadence"``, ``"time"`` or ``"cadence"``;
    ``overlap_s`` of the two files; ``reason`` why the cadence lag was not used (or "").
    """

    t_rx_s: np.ndarray
    lag_s: float
    correlation: float
    method: str
    overlap_s: float
    reason: str = ""

    def describe(self) -> str:
        """One line for the user."""
        corr = (
            "" if math.isnan(self.correlation) else f", cadence correlation {self.correlation:.2f}"
        )
        why = f" ({self.reason})" if self.reason else ""
        return (
            f"aligned by {self.method}: watch clock {self.lag_s:+.1f} s{corr}, "
            f"{self.overlap_s:.0f} s overlap{why}"
        )

    def meta(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "lag_s": round(self.lag_s, 3),
            "correlation": None if math.isnan(self.correlation) else round(self.correlation, 3),
            "overlap_s": round(self.overlap_s, 1),
        }


def recording_start_utc_s(header: dict[str, Any]) -> float | None:
    """POSIX seconds of a recording header's ``start_time`` (None when absent or unreadable).

    Examples
    --------
    >>> recording_start_utc_s({"start_time": "2026-06-01T07:00:00Z"})
    1780297200.0
    """
    text = header.get("start_time")
    if not isinstance(text, str) or not text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def track_columns(act: Activity) -> dict[str, np.ndarray]:
    """The attachable series of an activity (every name of :data:`ATTACHED_COLUMNS`)."""
    return {c: np.asarray(getattr(act, c), dtype=np.float64) for c in ATTACHED_COLUMNS}


def _grid(t: np.ndarray, v: np.ndarray, grid: np.ndarray) -> np.ndarray:
    ok = np.isfinite(t) & np.isfinite(v) & (v > 0)
    if ok.sum() < 2:
        return np.full(len(grid), math.nan)
    out = np.interp(grid, t[ok], v[ok], left=math.nan, right=math.nan)
    # no interpolation across holes longer than 5 s
    idx = np.searchsorted(t[ok], grid)
    tt = t[ok]
    lo = tt[np.clip(idx - 1, 0, len(tt) - 1)]
    hi = tt[np.clip(idx, 0, len(tt) - 1)]
    out[(hi - lo) > 5.0] = math.nan
    return out


def cadence_lag(
    t_a: np.ndarray, cad_a: np.ndarray, t_b: np.ndarray, cad_b: np.ndarray, max_lag_s: float
) -> tuple[float, float, float]:
    """The lag (s) to add to ``t_b`` so that cadence ``b`` best matches cadence ``a``.

    Returns ``(lag_s, correlation, overlap_s)`` at the best whole-second lag (Pearson
    correlation of the overlapping 1 s samples); ``(0, nan, 0)`` when there is too little data.

    Examples
    --------
    >>> t = np.arange(0.0, 600.0)
    >>> cad = 170 + 8 * np.sin(t / 23.0) + 5 * np.sin(t / 7.0)
    >>> lag, r, _ = cadence_lag(t, cad, t - 12.0, cad, 60.0)
    >>> round(lag, 1), round(r, 3)
    (12.0, 1.0)
    """
    if not (np.isfinite(cad_a).sum() > 10 and np.isfinite(cad_b).sum() > 10):
        return 0.0, math.nan, 0.0
    t0 = math.floor(min(np.nanmin(t_a), np.nanmin(t_b)) - max_lag_s)
    t1 = math.ceil(max(np.nanmax(t_a), np.nanmax(t_b)) + max_lag_s)
    grid = np.arange(t0, t1 + 1.0)
    a = _grid(t_a, cad_a, grid)
    b = _grid(t_b, cad_b, grid)
    best = (0.0, -math.inf, 0.0)
    n_lag = int(max_lag_s)
    for k in range(-n_lag, n_lag + 1):
        # b shifted later by k samples: b'(t) = b(t - k)
        bs = np.roll(b, k)
        if k > 0:
            bs[:k] = math.nan
        elif k < 0:
            bs[k:] = math.nan
        ok = np.isfinite(a) & np.isfinite(bs)
        r = _corr_at(a, b, k)
        if math.isfinite(r) and r > best[1]:
            best = (float(k), r, float(ok.sum()))
    if best[1] == -math.inf:
        return 0.0, math.nan, 0.0
    lag, r, n = best
    # sub-second lag: the vertex of the parabola through the correlations around the peak
    near = [_corr_at(a, b, int(lag) + d) for d in (-1, 0, 1)]
    if all(math.isfinite(c) for c in near):
        den = near[0] - 2 * near[1] + near[2]
        if den < 0:
            lag += max(-0.5, min(0.5, 0.5 * (near[0] - near[2]) / den))
    return lag, r, n


def _corr_at(a: np.ndarray, b: np.ndarray, k: int) -> float:
    bs = np.roll(b, k)
    if k > 0:
        bs[:k] = math.nan
    elif k < 0:
        bs[k:] = math.nan
    ok = np.isfinite(a) & np.isfinite(bs)
    if ok.sum() < 10:
        return math.nan
    x, y = a[ok] - a[ok].mean(), bs[ok] - bs[ok].mean()
    den = math.sqrt(float((x * x).sum() * (y * y).sum()))
    return float((x * y).sum()) / den if den > 0 else math.nan


def align_activity(
    rec: Recording,
    act: Activity,
    profile: CueProfile,
    *,
    placement: str | None = None,
    max_lag_s: float = MAX_LAG_S,
) -> Alignment:
    """Place ``act`` on the clock of ``rec`` (see the module docstring).

    Raises
    ------
    InputError
        When the two files do not overlap in time (not the same run).
    """
    start = recording_start_utc_s(rec.header)
    session, _ = session_from_recording(
        str(rec.path), profile, placement=placement, use_attached=False
    )
    session.process_many(rec.packets)
    off = 0.0 if math.isnan(session.rx_minus_sensor_s) else session.rx_minus_sensor_s
    # the core's cadence is the median of the intervals of the last CADENCE_WINDOW_S: it
    # describes the moment half a window earlier
    t_steps = np.array([s.t_s for s in session.steps]) + off - CADENCE_WINDOW_S / 2
    cad_steps = np.array([s.cadence_spm for s in session.steps])
    rec_t0 = rec.packets[0].t_rx_s if rec.packets else 0.0
    rec_t1 = rec.packets[-1].t_rx_s if rec.packets else 0.0
    if start is not None:
        t_watch = act.t_utc_s - start
        overlap = min(rec_t1, float(t_watch[-1])) - max(rec_t0, float(t_watch[0]))
        if overlap <= 0:
            raise InputError(
                act.path,
                f"does not overlap the recording in time (watch {act.start_utc:%Y-%m-%d %H:%M:%S} "
                f"UTC for {act.t_s[-1]:.0f} s; recording {rec.header.get('start_time')} for "
                f"{rec_t1 - rec_t0:.0f} s): not the same run",
            )
        lag, r, n = cadence_lag(t_steps, cad_steps, t_watch, act.cadence_spm, max_lag_s)
        if not act.has("cadence_spm"):
            return Alignment(
                t_watch, 0.0, math.nan, "time", overlap, "the watch file has no cadence"
            )
        if not len(t_steps):
            return Alignment(t_watch, 0.0, math.nan, "time", overlap, "no steps in the recording")
        if math.isnan(r) or r < MIN_CORRELATION or n < MIN_OVERLAP_S:
            why = (
                f"cadence correlation {r:.2f} at {lag:+.0f} s is too weak to refine it"
                if not math.isnan(r)
                else "too little cadence to cross-correlate"
            )
            return Alignment(t_watch, 0.0, r, "time", overlap, why)
        return Alignment(t_watch + lag, lag, r, "time+cadence", overlap)
    # no start time: cadence alone, over every placement of the watch file on the recording
    t_rel = act.t_s
    span = max(rec_t1 - rec_t0, float(t_rel[-1])) + 60.0
    lag, r, n = cadence_lag(t_steps, cad_steps, t_rel, act.cadence_spm, span)
    if math.isnan(r) or r < MIN_CORRELATION or n < MIN_OVERLAP_S:
        raise InputError(
            str(rec.path),
            "has no start_time and the cadence of the two files does not match "
            f"(best correlation {r:.2f}): cannot align them",
        )
    return Alignment(t_rel + lag, lag, r, "cadence", float(n))


def attach(
    recording: str | Path,
    act: Activity,
    profile: CueProfile,
    *,
    placement: str | None = None,
    replace: bool = False,
) -> tuple[Alignment, int, list[str]]:
    """Align ``act`` to the recording and append it as kind-4 records.

    Returns
    -------
    tuple
        The alignment, the number of watch points stored and the columns stored.

    Raises
    ------
    InputError
        When data is attached already and ``replace`` is false, or the files do not overlap.
    """
    rec = read_recording(recording)
    old = attached_track(rec)
    if old is not None and not replace:
        raise InputError(
            str(recording),
            f"has {old.meta.get('source', 'watch')} data attached already "
            "(give --force to attach this file instead)",
        )
    alignment = align_activity(rec, act, profile, placement=placement)
    t0 = rec.packets[0].t_rx_s if rec.packets else 0.0
    t1 = rec.packets[-1].t_rx_s if rec.packets else 0.0
    keep = (alignment.t_rx_s >= t0 - 30.0) & (alignment.t_rx_s <= t1 + 30.0)
    cols = {c: v[keep] for c, v in track_columns(act).items() if np.isfinite(v[keep]).any()}
    meta = {
        "source": Path(act.path).name,
        "format": act.source_format,
        "device": act.device,
        "sport": act.sport,
        "start_utc": act.start_utc.isoformat().replace("+00:00", "Z"),
        "notes": act.notes,
        **alignment.meta(),
    }
    ids = [int(d["attach_id"]) for d in rec.attached if isinstance(d.get("attach_id"), int)]
    attach_id = max(ids, default=0) + 1
    append_attached(recording, attached_docs(alignment.t_rx_s[keep], cols, meta, attach_id))
    return alignment, int(keep.sum()), list(cols)
