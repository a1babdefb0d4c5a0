"""A run cut into flat, descent and climb segments: from a recording, a watch or phone file,
or both.

The input becomes a :class:`RunSeries` (one row per step of a recording, or per point of a
watch file), its grade is classified with the cue profile's descent settings (enter a descent
when the grade stays at or below ``threshold_pct`` for ``min_s``, leave it when it stays above
``exit_pct`` for ``min_s``; a climb is the mirror image, ``-threshold_pct`` and ``-exit_pct``),
and each segment gets its mean grade, distance and median cadence, peak impact, contact time and
heart rate (:func:`segment_rows`).

Grade of a watch file: the altitude change over the distance covered within
:data:`GRADE_WINDOW_M` around each point (at least :data:`MIN_GRADE_DISTANCE_M`; standing still
has no grade).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import numpy as np

from downhill_live.config.cue_profile import CueProfile, DescentSettings
from downhill_live.errors import InputError
from downhill_live.record import attached_track
from downhill_live.session import session_from_recording
from downhill_live.tools.attach import align_activity, recording_start_utc_s, track_columns
from downhill_live.tools.watch import Activity
from downhill_live.types import Cue

__all__ = [
    "SEGMENT_FIELDS",
    "RunSeries",
    "classify",
    "grade_from_altitude",
    "segment_rows",
    "series_from_activity",
    "series_from_recording",
    "write_segments",
]

#: distance around a point over which a watch file's grade is taken (m, centred)
GRADE_WINDOW_M = 50.0
#: the least distance a grade is computed over (m)
MIN_GRADE_DISTANCE_M = 20.0
#: the fields of one segment line, in order
SEGMENT_FIELDS = (
    "kind",
    "t0_s",
    "t1_s",
    "start_utc",
    "grade_pct",
    "distance_m",
    "cadence_spm",
    "peak_g",
    "gct_ms",
    "heart_rate_bpm",
)


@dataclass
class RunSeries:
    """A run as time series (all (N,) arrays, nan where unknown).

    ``t_s`` seconds from the file's start (a recording: its receive-time clock);
    ``start_utc_s`` POSIX seconds of ``t_s == 0`` (None when the file does not say);
    ``cadence_spm`` steps per minute; ``gct_ms`` ground contact time; ``on_descent`` the gait
    core's descent state where known (recordings); ``cues`` the cues of a replay.
    """

    t_s: np.ndarray
    start_utc_s: float | None
    grade_pct: np.ndarray
    distance_m: np.ndarray
    altitude_m: np.ndarray
    speed_mps: np.ndarray
    cadence_spm: np.ndarray
    peak_g: np.ndarray
    gct_ms: np.ndarray
    heart_rate_bpm: np.ndarray
    latitude_deg: np.ndarray | None = None
    longitude_deg: np.ndarray | None = None
    on_descent: np.ndarray | None = None
    cues: list[Cue] = field(default_factory=list)
    source: str = ""
    notes: list[str] = field(default_factory=list)


def grade_from_altitude(
    distance_m: np.ndarray, altitude_m: np.ndarray, *, window_m: float = GRADE_WINDOW_M
) -> np.ndarray:
    """Grade (%) at each point: altitude change over the distance within ``window_m`` around it.

    Examples
    --------
    >>> d = np.arange(0.0, 200.0, 5.0)
    >>> g = grade_from_altitude(d, -0.1 * d)
    >>> round(float(g[20]), 1)
    -10.0
    """
    n = len(distance_m)
    out = np.full(n, math.nan)
    ok = np.flatnonzero(np.isfinite(distance_m) & np.isfinite(altitude_m))
    if len(ok) < 2:
        return out
    d = np.maximum.accumulate(distance_m[ok])
    h = altitude_m[ok]
    lo = np.searchsorted(d, d - window_m / 2, side="left")
    hi = np.searchsorted(d, d + window_m / 2, side="right") - 1
    ds = d[hi] - d[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        g = np.where(ds >= MIN_GRADE_DISTANCE_M, 100.0 * (h[hi] - h[lo]) / ds, math.nan)
    out[ok] = g
    return out


def series_from_activity(act: Activity) -> RunSeries:
    """A watch or phone file as a :class:`RunSeries` (one row per point)."""
    nan = np.full(len(act), math.nan)
    return RunSeries(
        t_s=act.t_s,
        start_utc_s=float(act.t_utc_s[0]),
        grade_pct=grade_from_altitude(act.distance_m, act.altitude_m),
        distance_m=act.distance_m,
        altitude_m=act.altitude_m,
        speed_mps=act.speed_mps,
        cadence_spm=act.cadence_spm,
        peak_g=nan,
        gct_ms=act.stance_time_ms,
        heart_rate_bpm=act.heart_rate_bpm,
        latitude_deg=act.latitude_deg,
        longitude_deg=act.longitude_deg,
        source=act.path,
        notes=list(act.notes),
    )


def series_from_recording(
    path: str,
    profile: CueProfile,
    *,
    placement: str | None = None,
    with_activity: Activity | None = None,
) -> RunSeries:
    """Replay a recording (no speech) into a :class:`RunSeries` of its steps.

    Data attached to the recording (``downhill-live attach``), or ``with_activity`` aligned on
    the fly (absolute time, refined by cadence cross-correlation), give altitude, distance,
    speed and heart rate at each step, and the grade from altitude over distance.
    """
    session, rec = session_from_recording(path, profile, placement=placement)
    notes: list[str] = []
    track = attached_track(rec)
    t_track: np.ndarray | None = None
    cols: dict[str, np.ndarray] = {}
    if with_activity is not None:
        alignment = align_activity(rec, with_activity, profile, placement=placement)
        t_track, cols = alignment.t_rx_s, track_columns(with_activity)
        session.use_altitude(t_track, cols["altitude_m"])
        notes.append(alignment.describe())
    elif track is not None:
        t_track, cols = track.t_s, track.columns
    session.process_many(rec.packets)
    steps = session.steps
    if not steps:
        raise InputError(path, "no steps detected in the recording: no segments")
    off = 0.0 if math.isnan(session.rx_minus_sensor_s) else session.rx_minus_sensor_s
    t = np.array([s.t_s for s in steps]) + off

    def at(name: str) -> np.ndarray:
        if t_track is None or name not in cols:
            return np.full(len(t), math.nan)
        v = np.asarray(cols[name], dtype=np.float64)
        ok = np.isfinite(v)
        if ok.sum() < 2:
            return np.full(len(t), math.nan)
        return np.interp(t, t_track[ok], v[ok], left=math.nan, right=math.nan)

    dist, alt = at("distance_m"), at("altitude_m")
    grade = np.array([s.grade_pct for s in steps])
    if np.isfinite(dist).any() and np.isfinite(alt).any():
        true = grade_from_altitude(dist, alt)
        grade = np.where(np.isfinite(true), true, grade)
    return RunSeries(
        t_s=t,
        start_utc_s=recording_start_utc_s(rec.header),
        grade_pct=grade,
        distance_m=dist,
        altitude_m=alt,
        speed_mps=at("speed_mps"),
        cadence_spm=np.array([s.cadence_spm for s in steps]),
        peak_g=np.array([s.peak_g for s in steps]),
        # the sensor's contact time where it has one (pelvis/chest), else the watch's
        gct_ms=np.where(
            np.isnan(gct := np.array([s.gct_ms for s in steps])), at("stance_time_ms"), gct
        ),
        heart_rate_bpm=at("heart_rate_bpm"),
        latitude_deg=at("latitude_deg"),
        longitude_deg=at("longitude_deg"),
        on_descent=np.array([s.on_descent for s in steps], dtype=bool),
        # cue times are sensor times: put them on the steps' clock
        cues=[dataclasses.replace(c, t_s=c.t_s + off) for c in session.cues],
        source=path,
        notes=notes,
    )


def classify(
    t_s: np.ndarray, grade_pct: np.ndarray, descent: DescentSettings
) -> list[tuple[str, int, int]]:
    """Cut a grade series into segments ``(kind, first index, index after the last)``.

    A descent starts where the grade has stayed at or below ``descent.threshold_pct`` for
    ``descent.min_s`` (the segment starts at the beginning of that stretch) and ends where it
    has stayed above ``descent.exit_pct`` (or unknown) for ``descent.min_s``; a climb likewise
    with the signs mirrored. Everything else is flat.

    Examples
    --------
    >>> t = np.arange(60.0)
    >>> g = np.where((t >= 20) & (t < 40), -8.0, 0.0)
    >>> classify(t, g, DescentSettings(-5.0, -3.0, 5.0))
    [('flat', 0, 20), ('descent', 20, 40), ('flat', 40, 60)]
    """
    n = len(t_s)
    out: list[tuple[str, int, int]] = []
    if n == 0:
        return out
    thr, ext, min_s = descent.threshold_pct, descent.exit_pct, descent.min_s
    state, start = "flat", 0
    pend_kind: str | None = None
    pend_i = 0
    for i in range(n):
        g = grade_pct[i]
        if state == "flat":
            want = "descent" if g <= thr else "climb" if g >= -thr else None
            if want != pend_kind:
                pend_kind, pend_i = want, i
            if want is not None and t_s[i] - t_s[pend_i] >= min_s:
                if pend_i > start:
                    out.append(("flat", start, pend_i))
                state, start, pend_kind = want, pend_i, None
        else:
            stay = g <= ext if state == "descent" else g >= -ext
            if stay:
                pend_kind = None
            else:
                if pend_kind is None:
                    pend_kind, pend_i = "leave", i
                if t_s[i] - t_s[pend_i] >= min_s:
                    out.append((state, start, pend_i))
                    state, start, pend_kind = "flat", pend_i, None
                    g2 = grade_pct[i]
                    want = "descent" if g2 <= thr else "climb" if g2 >= -thr else None
                    pend_kind, pend_i = want, i
    out.append((state, start, n))
    return out


def _median(x: np.ndarray, *, positive: bool = False) -> float | None:
    x = x[np.isfinite(x)]
    if positive:
        x = x[x > 0]
    return float(np.median(x)) if len(x) else None


def segment_rows(series: RunSeries, descent: DescentSettings) -> list[dict[str, Any]]:
    """One dict per segment with :data:`SEGMENT_FIELDS` (None where unknown)."""
    rows = []
    t = series.t_s
    n = len(t)
    for kind, a, b in classify(t, series.grade_pct, descent):
        end = min(b, n - 1)
        d0, d1 = series.distance_m[a], series.distance_m[end]
        h0, h1 = series.altitude_m[a], series.altitude_m[end]
        dist = float(d1 - d0) if math.isfinite(d0) and math.isfinite(d1) else None
        if dist is not None and dist >= MIN_GRADE_DISTANCE_M and math.isfinite(h0 + h1):
            grade: float | None = 100.0 * float(h1 - h0) / dist
        else:
            grade = _mean(series.grade_pct[a:b])
        start = None
        if series.start_utc_s is not None:
            dt = datetime.fromtimestamp(series.start_utc_s, UTC) + timedelta(seconds=float(t[a]))
            start = dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        rows.append(
            {
                "kind": kind,
                "t0_s": round(float(t[a]), 2),
                "t1_s": round(float(t[end]), 2),
                "start_utc": start,
                "grade_pct": _round(grade, 2),
                "distance_m": _round(dist, 1),
                "cadence_spm": _round(_median(series.cadence_spm[a:b], positive=True), 1),
                "peak_g": _round(_median(series.peak_g[a:b]), 2),
                "gct_ms": _round(_median(series.gct_ms[a:b], positive=True), 1),
                "heart_rate_bpm": _round(_median(series.heart_rate_bpm[a:b], positive=True), 1),
            }
        )
    return rows


def _mean(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return float(np.mean(x)) if len(x) else None


def _round(x: float | None, nd: int) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, nd)


def write_segments(rows: list[dict[str, Any]], out: TextIO, fmt: str = "jsonl") -> None:
    """Print segments, one per line: JSON objects (``jsonl``) or CSV with a header line."""
    if fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(SEGMENT_FIELDS)
        for r in rows:
            w.writerow(["" if r[k] is None else r[k] for k in SEGMENT_FIELDS])
    else:
        for r in rows:
            out.write(json.dumps(r, separators=(",", ":")) + "\n")


def descent_settings(profile: CueProfile) -> DescentSettings:
    """The thresholds segments use: the profile's descent settings."""
    return profile.descent
