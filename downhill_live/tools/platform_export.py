"""``downhill-live export --fit/--tcx/--gpx``: a recording as a file running platforms open.

The recording is replayed (no speech); its steps, cues and attached watch data (``attach``)
become one point per second (:func:`export_points`) and one lap per segment, so that every
descent is a lap of its own (:mod:`downhill_live.tools.segments`).

FIT (``--fit``): ``file_id``, ``developer_data_id`` + ``field_description``, timer ``event``,
1 Hz ``record`` messages with native ``timestamp``, ``cadence`` + ``fractional_cadence``
(strides per minute, as FIT stores running cadence), ``stance_time``, ``altitude`` /
``enhanced_altitude``, ``distance``, ``speed`` / ``enhanced_speed``, ``heart_rate`` and ``grade``
when known; developer fields ``peak_impact_g``, ``grade_pct`` and ``on_descent`` on records,
``cue`` on a ``user_marker`` event per spoken cue, ``segment`` on each ``lap``; then ``session``
and ``activity``. TCX and GPX carry what their schemas have: time, altitude, distance, heart
rate, speed and cadence (strides per minute), TCX with one ``Lap`` per segment.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from downhill_live.config.cue_profile import CueProfile
from downhill_live.tools.fitwrite import FitEncoder, fit_time
from downhill_live.tools.segments import RunSeries, classify, series_from_recording
from downhill_live.types import Cue

__all__ = ["ExportRun", "export_points", "fit_bytes", "gpx_text", "tcx_text"]

#: developer fields (number, name, FIT base type, units, native message number)
DEV_FIELDS = (
    (0, "peak_impact_g", "float32", "g", 20),
    (1, "grade_pct", "float32", "%", 20),
    (2, "on_descent", "uint8", "", 20),
    (3, "cue", "string", "", 21),
    (4, "segment", "string", "", 19),
)
_BASE_NUM = {"float32": 0x88, "uint8": 0x02, "string": 0x07}
#: developer application id of downhill-live (a fixed random UUID)
APPLICATION_ID = bytes.fromhex("6d1b3f0e2a9c4e57b2f1d0c8a4e97b31")
CUE_CHARS = 48
_DEG_SEMICIRCLE = 2**31 / 180.0
SEGMENT_CHARS = 8
#: a step's cadence is carried on for at most this long when no new step arrives (s)
HOLD_S = 3.0


@dataclass
class ExportRun:
    """One point per second of a replayed recording, laps and cues, on the UTC clock.

    ``t_utc_s`` (N,) POSIX seconds; the other arrays (N,), nan where unknown;
    ``laps`` ``(kind, first index, index after the last)``; ``notes`` one line each.
    """

    t_utc_s: np.ndarray
    cadence_spm: np.ndarray
    peak_g: np.ndarray
    grade_pct: np.ndarray
    on_descent: np.ndarray
    gct_ms: np.ndarray
    altitude_m: np.ndarray
    distance_m: np.ndarray
    speed_mps: np.ndarray
    heart_rate_bpm: np.ndarray
    latitude_deg: np.ndarray
    longitude_deg: np.ndarray
    laps: list[tuple[str, int, int]]
    cues: list[tuple[float, Cue]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _hold(t_grid: np.ndarray, t: np.ndarray, v: np.ndarray, hold_s: float) -> np.ndarray:
    """Last finite value of ``v`` at or before each grid time, if at most ``hold_s`` old."""
    ok = np.isfinite(v)
    t, v = t[ok], v[ok]
    out = np.full(len(t_grid), math.nan)
    if not len(t):
        return out
    i = np.searchsorted(t, t_grid, side="right") - 1
    has = (i >= 0) & (t_grid - t[np.clip(i, 0, None)] <= hold_s)
    out[has] = v[i[has]]
    return out


def _or_nan(x: np.ndarray | None, n: int) -> np.ndarray:
    return np.full(n, math.nan) if x is None else x


def _interp(t_grid: np.ndarray, t: np.ndarray, v: np.ndarray) -> np.ndarray:
    ok = np.isfinite(v)
    if ok.sum() < 2:
        return np.full(len(t_grid), math.nan)
    return np.interp(t_grid, t[ok], v[ok], left=math.nan, right=math.nan)


def export_points(series: RunSeries, profile: CueProfile, *, start_utc_s: float) -> ExportRun:
    """Resample a :class:`RunSeries` to one point per whole second (see the module docstring).

    ``peak_g`` of a second is the largest impact in it; cadence, grade, descent state and
    contact time are the last step's (carried for :data:`HOLD_S`); altitude, distance, speed
    and heart rate are interpolated.
    """
    t = series.t_s
    t0, t1 = math.floor(float(t[0])), math.ceil(float(t[-1]))
    grid = np.arange(t0, t1 + 1, dtype=np.float64)
    k = np.floor(t).astype(np.int64) - t0
    peak = np.full(len(grid), math.nan)
    pk = series.peak_g
    okp = np.isfinite(pk)
    if okp.any():
        np.fmax.at(peak, k[okp], pk[okp])
    desc = series.on_descent
    on_desc = (
        _hold(grid, t, desc.astype(np.float64), math.inf)
        if desc is not None
        else np.full(len(grid), math.nan)
    )
    grade = _hold(grid, t, series.grade_pct, HOLD_S)
    laps = classify(grid, grade, profile.descent)
    cues = [(start_utc_s + c.t_s, c) for c in series.cues]
    return ExportRun(
        t_utc_s=grid + start_utc_s,
        cadence_spm=_hold(grid, t, series.cadence_spm, HOLD_S),
        peak_g=peak,
        grade_pct=grade,
        on_descent=on_desc,
        gct_ms=_hold(grid, t, series.gct_ms, HOLD_S),
        altitude_m=_interp(grid, t, series.altitude_m),
        distance_m=_interp(grid, t, series.distance_m),
        speed_mps=_interp(grid, t, series.speed_mps),
        heart_rate_bpm=_interp(grid, t, series.heart_rate_bpm),
        latitude_deg=_interp(grid, t, _or_nan(series.latitude_deg, len(t))),
        longitude_deg=_interp(grid, t, _or_nan(series.longitude_deg, len(t))),
        laps=laps,
        cues=cues,
        notes=list(series.notes),
    )


def run_from_recording(
    path: str, profile: CueProfile, *, placement: str | None = None
) -> ExportRun:
    """Replay ``path`` and resample it for export. A recording without ``start_time``
    (imported) is placed so that it ends at the file's modification time, with a note."""
    series = series_from_recording(path, profile, placement=placement)
    start = series.start_utc_s
    notes: list[str] = []
    if start is None:
        start = os.stat(path).st_mtime - float(series.t_s[-1])
        when = datetime.fromtimestamp(start, UTC).isoformat(timespec="seconds")
        notes.append(f"the recording has no start_time: times start at {when} (its file time)")
    # cue times are sensor times; steps were put on the receive-time clock by the series
    run = export_points(series, profile, start_utc_s=start)
    run.notes = notes + run.notes
    return run


def _nan_none(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


def _sum_or_none(x: np.ndarray, positive: bool) -> tuple[float | None, float | None]:
    d = np.diff(x[np.isfinite(x)])
    if not len(d):
        return None, None
    return float(d[d > 0].sum()), float(-d[d < 0].sum()) if positive else None


def fit_bytes(run: ExportRun) -> bytes:
    """The run as a FIT activity file (see the module docstring)."""
    enc = FitEncoder()
    t = run.t_utc_s
    ts0, ts1 = fit_time(t[0]), fit_time(t[-1])
    enc.write(0, "file_id", [(0, "enum", 4), (1, "uint16", 255), (2, "uint16", 1),
                             (3, "uint32z", 1), (4, "uint32", ts0)])  # fmt: skip
    enc.write(0, "developer_data_id", [(1, "byte", APPLICATION_ID, 16), (3, "uint8", 0)])
    for num, name, base, units, native in DEV_FIELDS:
        enc.write(
            0,
            "field_description",
            [(0, "uint8", 0), (1, "uint8", num), (2, "uint8", _BASE_NUM[base]),
             (3, "string", name, 32), (8, "string", units, 8), (14, "uint16", native)],
        )  # fmt: skip
    enc.write(0, "event", [(253, "uint32", ts0), (0, "enum", 0), (1, "enum", 0)])
    cues = sorted(run.cues, key=lambda c: c[0])
    ci = 0
    for i in range(len(t)):
        ts = fit_time(t[i])
        while ci < len(cues) and fit_time(cues[ci][0]) <= ts:
            when, cue = cues[ci]
            enc.write(
                0,
                "event",
                [(253, "uint32", fit_time(when)), (0, "enum", 32), (1, "enum", 3),
                 (3, "uint32", ci)],
                [(3, "string", f"{cue.rule}: {cue.phrase}", CUE_CHARS)],
            )  # fmt: skip
            ci += 1
        strides = run.cadence_spm[i] / 2.0
        whole = math.floor(strides) if math.isfinite(strides) else math.nan
        frac = (strides - whole) * 128.0 if math.isfinite(strides) else math.nan
        alt = run.altitude_m[i]
        alt_raw = (alt + 500.0) * 5.0 if math.isfinite(alt) else math.nan
        v = run.speed_mps[i]
        fields = [
            (253, "uint32", ts),
            (0, "sint32", run.latitude_deg[i] * _DEG_SEMICIRCLE),
            (1, "sint32", run.longitude_deg[i] * _DEG_SEMICIRCLE),
            (3, "uint8", run.heart_rate_bpm[i]),
            (4, "uint8", whole),
            (53, "uint8", min(frac, 127.0) if math.isfinite(frac) else frac),
            (5, "uint32", run.distance_m[i] * 100.0),
            (2, "uint16", alt_raw),
            (78, "uint32", alt_raw),
            (6, "uint16", v * 1000.0),
            (73, "uint32", v * 1000.0),
            (9, "sint16", run.grade_pct[i] * 100.0),
            (41, "uint16", run.gct_ms[i] * 10.0),
        ]
        desc = run.on_descent[i]
        enc.write(
            0,
            "record",
            fields,
            [(0, "float32", run.peak_g[i]), (1, "float32", run.grade_pct[i]),
             (2, "uint8", None if not math.isfinite(desc) else int(desc))],
        )  # fmt: skip
    enc.write(0, "event", [(253, "uint32", ts1), (0, "enum", 0), (1, "enum", 4)])
    for j, (kind, a, b) in enumerate(run.laps):
        end = min(b, len(t) - 1)
        dist = run.distance_m[end] - run.distance_m[a]
        cad = run.cadence_spm[a:b]
        cad = cad[np.isfinite(cad)]
        hr = run.heart_rate_bpm[a:b]
        hr = hr[np.isfinite(hr)]
        up, down = _sum_or_none(run.altitude_m[a : end + 1], True)
        enc.write(
            0,
            "lap",
            [(253, "uint32", fit_time(t[end])), (254, "uint16", j), (0, "enum", 9),
             (1, "enum", 1), (2, "uint32", fit_time(t[a])),
             (7, "uint32", (t[end] - t[a]) * 1000.0), (8, "uint32", (t[end] - t[a]) * 1000.0),
             (9, "uint32", dist * 100.0), (15, "uint8", np.mean(hr) if len(hr) else None),
             (17, "uint8", np.median(cad) / 2.0 if len(cad) else None),
             (21, "uint16", up), (22, "uint16", down), (24, "enum", 0), (25, "enum", 1)],
            [(4, "string", kind, SEGMENT_CHARS)],
        )  # fmt: skip
    dist = run.distance_m[np.isfinite(run.distance_m)]
    total = float(dist[-1] - dist[0]) if len(dist) else math.nan
    cad = run.cadence_spm[np.isfinite(run.cadence_spm)]
    hr = run.heart_rate_bpm[np.isfinite(run.heart_rate_bpm)]
    up, down = _sum_or_none(run.altitude_m, True)
    dur_ms = (t[-1] - t[0]) * 1000.0
    enc.write(
        0,
        "session",
        [(253, "uint32", ts1), (254, "uint16", 0), (0, "enum", 8), (1, "enum", 1),
         (2, "uint32", ts0), (5, "enum", 1), (6, "enum", 0), (7, "uint32", dur_ms),
         (8, "uint32", dur_ms), (9, "uint32", total * 100.0),
         (16, "uint8", np.mean(hr) if len(hr) else None),
         (18, "uint8", np.median(cad) / 2.0 if len(cad) else None),
         (22, "uint16", up), (23, "uint16", down), (25, "uint16", 0),
         (26, "uint16", len(run.laps))],
    )  # fmt: skip
    enc.write(
        0,
        "activity",
        [(253, "uint32", ts1), (0, "uint32", dur_ms), (1, "uint16", 1), (2, "enum", 0),
         (3, "enum", 26), (4, "enum", 1), (5, "uint32", ts1)],
    )  # fmt: skip
    return enc.finish()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _num(x: float, nd: int) -> str | None:
    return None if not math.isfinite(x) else f"{x:.{nd}f}"


def tcx_text(run: ExportRun) -> str:
    """The run as TCX (Training Center XML v2, ActivityExtension v2), one Lap per segment."""
    t = run.t_utc_s
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"'
        ' xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2">',
        "<Activities>",
        '<Activity Sport="Running">',
        f"<Id>{_iso(t[0])}</Id>",
    ]
    for kind, a, b in run.laps:
        end = min(b, len(t) - 1)
        dist = run.distance_m[end] - run.distance_m[a]
        out.append(f'<Lap StartTime="{_iso(t[a])}">')
        out.append(f"<TotalTimeSeconds>{t[end] - t[a]:.1f}</TotalTimeSeconds>")
        out.append(f"<DistanceMeters>{dist if math.isfinite(dist) else 0.0:.1f}</DistanceMeters>")
        out.append("<Calories>0</Calories>")
        out.append("<Intensity>Active</Intensity>")
        out.append("<TriggerMethod>Manual</TriggerMethod>")
        out.append("<Track>")
        for i in range(a, max(b, a + 1) if b <= len(t) else len(t)):
            out.append("<Trackpoint>")
            out.append(f"<Time>{_iso(t[i])}</Time>")
            for tag, v, nd in (
                ("AltitudeMeters", run.altitude_m[i], 2),
                ("DistanceMeters", run.distance_m[i], 2),
            ):
                s = _num(v, nd)
                if s is not None:
                    out.append(f"<{tag}>{s}</{tag}>")
            hr = _num(run.heart_rate_bpm[i], 0)
            if hr is not None:
                out.append(f"<HeartRateBpm><Value>{hr}</Value></HeartRateBpm>")
            ext = []
            sp = _num(run.speed_mps[i], 3)
            if sp is not None:
                ext.append(f"<ns3:Speed>{sp}</ns3:Speed>")
            cad = _num(run.cadence_spm[i] / 2.0, 0)
            if cad is not None:
                ext.append(f"<ns3:RunCadence>{cad}</ns3:RunCadence>")
            if ext:
                out.append("<Extensions><ns3:TPX>" + "".join(ext) + "</ns3:TPX></Extensions>")
            out.append("</Trackpoint>")
        out.append("</Track>")
        out.append(f"<Notes>{escape(kind)}</Notes>")
        out.append("</Lap>")
    out += ["</Activity>", "</Activities>", "</TrainingCenterDatabase>", ""]
    return "\n".join(out)


def gpx_text(run: ExportRun, *, name: str = "") -> str:
    """The run as GPX 1.1 with Garmin's TrackPointExtension v2 (hr, cad in strides per minute,
    speed). GPX has no laps: each segment becomes a ``trkseg``."""
    t = run.t_utc_s
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<gpx version="1.1" creator="downhill-live" xmlns="http://www.topografix.com/GPX/1/1"'
        ' xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v2">',
        f"<metadata><time>{_iso(t[0])}</time></metadata>",
        f"<trk><name>{escape(name)}</name><type>running</type>",
    ]
    for _kind, a, b in run.laps:
        out.append("<trkseg>")
        for i in range(a, min(b, len(t))):
            lat, lon = run.latitude_deg[i], run.longitude_deg[i]
            if not (math.isfinite(lat) and math.isfinite(lon)):
                continue  # GPX points need a position
            parts = [f'<trkpt lat="{lat:.7f}" lon="{lon:.7f}">']
            ele = _num(run.altitude_m[i], 2)
            if ele is not None:
                parts.append(f"<ele>{ele}</ele>")
            parts.append(f"<time>{_iso(t[i])}</time>")
            ext = []
            for tag, v, nd in (
                ("hr", run.heart_rate_bpm[i], 0),
                ("cad", run.cadence_spm[i] / 2.0, 0),
                ("speed", run.speed_mps[i], 3),
            ):
                s = _num(v, nd)
                if s is not None:
                    ext.append(f"<gpxtpx:{tag}>{s}</gpxtpx:{tag}>")
            if ext:
                parts.append(
                    "<extensions><gpxtpx:TrackPointExtension>"
                    + "".join(ext)
                    + "</gpxtpx:TrackPointExtension></extensions>"
                )
            parts.append("</trkpt>")
            out.append("".join(parts))
        out.append("</trkseg>")
    out += ["</trk>", "</gpx>", ""]
    return "\n".join(out)


def describe(run: ExportRun) -> dict[str, Any]:
    """Counts for the export's summary line."""
    return {
        "points": len(run.t_utc_s),
        "laps": len(run.laps),
        "descents": sum(k == "descent" for k, _, _ in run.laps),
        "cues": len(run.cues),
        "duration_s": float(run.t_utc_s[-1] - run.t_utc_s[0]),
        "fields": [
            n
            for n in ("altitude_m", "distance_m", "speed_mps", "heart_rate_bpm", "latitude_deg")
            if np.isfinite(getattr(run, n)).any()
        ],
    }


def out_name(path: str | Path) -> str:
    return Path(path).name
