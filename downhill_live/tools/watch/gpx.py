"""GPX tracks (GPX 1.0 and 1.1, any app or device), read with ``gpxpy``.

``gpxpy`` is the maintained GPX library for Python (Apache 2.0): it reads both GPX versions,
times with or without fractions and zones, and keeps each point's extensions as XML elements,
from which Garmin's TrackPointExtension (``hr``, ``cad``, ``speed``; v1 and v2) is read here.
``cad`` is strides per minute for running (doubled to steps per minute).

A file whose XML breaks off (a sync cut short, a full disk) is parsed again up to its last
complete ``</trkpt>``, so the points before the break are kept.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import gpxpy

from downhill_live.errors import InputError
from downhill_live.files import check_input
from downhill_live.tools.watch import MAX_ACTIVITY_BYTES, Activity, build_activity

__all__ = ["read_gpx"]

_EXT_FIELDS = {"hr": "heart_rate_bpm", "cad": "cadence_spm", "speed": "speed_mps"}


def _parse(text: str) -> Any:
    return gpxpy.parse(text)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _extensions(point: Any, row: dict[str, float]) -> None:
    stack = list(getattr(point, "extensions", None) or [])
    while stack:
        el = stack.pop()
        stack.extend(list(el))
        key = _EXT_FIELDS.get(_local(el.tag))
        if key is None or not (el.text or "").strip():
            continue
        try:
            v = float(el.text.strip())
        except ValueError:
            continue
        if math.isfinite(v):
            row[key] = 2.0 * v if key == "cadence_spm" else v


def read_gpx(path: str | Path) -> Activity:
    """Read every track point of a GPX file (routes and waypoints are not a run: ignored).

    Raises
    ------
    InputError
        When the XML cannot be read at all, or no track point has a time.
    """
    p = str(check_input(path, max_bytes=MAX_ACTIVITY_BYTES))
    try:
        text = Path(p).read_bytes().decode("utf-8-sig", "replace")
    except OSError as exc:
        raise InputError(p, exc.strerror or str(exc)) from None
    notes: list[str] = []
    try:
        gpx = _parse(text)
    except Exception as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        cut = text.rfind("</trkpt>")
        gpx = None
        if cut > 0:
            try:
                gpx = _parse(text[: cut + len("</trkpt>")] + "</trkseg></trk></gpx>")
            except Exception:
                gpx = None
        if gpx is None:
            raise InputError(p, f"GPX is not readable XML ({why})") from None
        line = text.count("\n", 0, cut) + 1
        notes.append(f"GPX breaks off after line {line} ({why}); kept the track points before it")
    rows: list[dict[str, float]] = []
    untimed = 0
    sport = ""
    for track in gpx.tracks:
        kind = (track.type or "").strip()
        if kind and not sport and not kind.isdigit():
            sport = kind.lower().replace(" ", "_")
        for segment in track.segments:
            for pt in segment.points:
                if pt.time is None:
                    untimed += 1
                    continue
                row = {
                    "t_utc_s": pt.time.timestamp(),
                    "altitude_m": math.nan if pt.elevation is None else float(pt.elevation),
                    "latitude_deg": float(pt.latitude),
                    "longitude_deg": float(pt.longitude),
                }
                if getattr(pt, "speed", None) is not None:
                    row["speed_mps"] = float(pt.speed)
                _extensions(pt, row)
                rows.append(row)
    if untimed:
        notes.append(f"{untimed} track points have no time and are not used")
    if not rows:
        what = f"{len(gpx.waypoints)} waypoints, {len(gpx.routes)} routes"
        raise InputError(p, f"GPX has no time-stamped track points ({what})")
    creator = re.sub(r"\s+-?\s*https?://\S+$", "", (gpx.creator or "").strip())
    return build_activity(p, "gpx", rows, sport=sport, device=creator, notes=notes)
