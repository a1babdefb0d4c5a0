"""TCX activities (Garmin Training Center XML, still exported by Garmin Connect, Polar Flow,
TrainingPeaks and others), read with the standard library's incremental XML parser.

TCX is a small, fixed schema, so no extra library is needed; reading it incrementally
(``iterparse``) keeps every ``Trackpoint`` completed before a break in the XML. Fields:
``Time``, ``AltitudeMeters``, ``DistanceMeters``, ``HeartRateBpm/Value``,
``Position/LatitudeDegrees``/``LongitudeDegrees``, and the ActivityExtension's ``TPX/Speed``
(m/s) and ``TPX/RunCadence`` (strides per minute: doubled). ``Activity/@Sport`` gives the sport
(``Running``, ``Biking``, ``Other``); ``Cadence`` is a bike's pedal rate and is not used.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from downhill_live.errors import InputError
from downhill_live.files import check_input
from downhill_live.tools.watch import MAX_ACTIVITY_BYTES, Activity, build_activity

__all__ = ["parse_time", "read_tcx"]

_FIELDS = {
    "altitudemeters": "altitude_m",
    "distancemeters": "distance_m",
    "latitudedegrees": "latitude_deg",
    "longitudedegrees": "longitude_deg",
    "speed": "speed_mps",
    "runcadence": "cadence_spm",
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def parse_time(text: str) -> float:
    """POSIX seconds of an ISO 8601 time (``Z`` or an offset; no zone counts as UTC).

    Examples
    --------
    >>> parse_time("2024-05-01T07:00:01.500Z")
    1714546801.5
    """
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def read_tcx(path: str | Path) -> Activity:
    """Read every ``Trackpoint`` of a TCX file.

    Raises
    ------
    InputError
        When no track point with a time could be read.
    """
    p = str(check_input(path, max_bytes=MAX_ACTIVITY_BYTES))
    rows: list[dict[str, float]] = []
    notes: list[str] = []
    sport = ""
    creator = ""
    bad_values = 0
    try:
        fh = open(p, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(p, exc.strerror or str(exc)) from None
    with fh:
        parser = ET.iterparse(fh, events=("start", "end"))
        path_tags: list[str] = []
        try:
            for event, el in parser:
                tag = _local(el.tag)
                if event == "start":
                    path_tags.append(tag)
                    if tag == "activity" and not sport:
                        sport = (el.get("Sport") or "").strip().lower()
                    continue
                path_tags.pop()
                if tag == "trackpoint":
                    row = _trackpoint(el)
                    if row is None:
                        bad_values += 1
                    else:
                        rows.append(row)
                    el.clear()
                elif tag == "name" and "creator" in path_tags and not creator:
                    creator = (el.text or "").strip()
        except ET.ParseError as exc:
            if not rows:
                raise InputError(p, f"TCX is not readable XML ({exc})") from None
            notes.append(f"TCX breaks off ({exc}); kept the {len(rows)} track points before it")
    if bad_values:
        notes.append(f"{bad_values} track points without a readable time are not used")
    if not rows:
        raise InputError(p, "TCX has no track points with a time")
    sport = {"biking": "cycling", "other": ""}.get(sport, sport)
    return build_activity(p, "tcx", rows, sport=sport, device=creator, notes=notes)


def _trackpoint(el: ET.Element) -> dict[str, float] | None:
    row: dict[str, float] = {}
    for child in el.iter():
        tag = _local(child.tag)
        text = (child.text or "").strip()
        if not text:
            continue
        if tag == "time":
            try:
                row["t_utc_s"] = parse_time(text)
            except ValueError:
                return None
            continue
        key = _FIELDS.get(tag)
        if tag == "value" and "heart_rate_bpm" not in row:
            key = "heart_rate_bpm"
        if key is None:
            continue
        try:
            v = float(text)
        except ValueError:
            continue
        if math.isfinite(v):
            row[key] = 2.0 * v if key == "cadence_spm" else v
    return row if "t_utc_s" in row else None
