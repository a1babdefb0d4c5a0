"""The runner's own files: FIT, GPX and TCX activities from watches, phones and apps.

:func:`read_activity` detects the format from the file's first bytes (not its name) and returns
an :class:`Activity`: one row per recorded point with absolute time and whatever the device
stored (altitude, distance, speed, heart rate, cadence, ground contact time, position). Units are
in the names; cadence is always steps per minute (FIT, GPX and TCX store strides per minute for
running: they are doubled here). Unknown values are nan.

Damage never costs the points before it: a truncated FIT, a bad checksum, a broken XML tail
keep every point decoded before the break, and :attr:`Activity.notes` says in one line each
what was found and what was kept. Only a file with no usable point at all raises
:class:`~downhill_live.errors.InputError`.

Formats and the libraries that read them: FIT with ``fitdecode``, GPX with ``gpxpy``, TCX with
the standard library's XML parser (one format page each in ``docs/``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from downhill_live.errors import InputError
from downhill_live.files import check_input

__all__ = ["COLUMNS", "Activity", "read_activity", "sniff_activity"]

#: the per-point series an :class:`Activity` carries (nan where unknown)
COLUMNS = (
    "altitude_m",
    "distance_m",
    "speed_mps",
    "heart_rate_bpm",
    "cadence_spm",
    "stance_time_ms",
    "latitude_deg",
    "longitude_deg",
)
#: sports read as running; others are kept with a note (cycling cadence is dropped)
RUNNING_SPORTS = frozenset({"running", "trail_running", "track_running", "treadmill_running"})
#: the largest watch file read (a week-long FIT is a few MB)
MAX_ACTIVITY_BYTES = 256 << 20


@dataclass
class Activity:
    """One activity read from a watch, phone or app file.

    Attributes
    ----------
    path : str
        The file read.
    source_format : str
        ``"fit"``, ``"gpx"`` or ``"tcx"``.
    t_utc_s : numpy.ndarray
        (N,) POSIX seconds (UTC) of each point, increasing.
    altitude_m, distance_m, speed_mps, heart_rate_bpm, cadence_spm, stance_time_ms,
    latitude_deg, longitude_deg : numpy.ndarray
        (N,) series, nan where unknown. ``cadence_spm`` is steps per minute (both feet).
    sport : str
        Lower-case sport name as the file states it (``"running"``, ``"cycling"``, ...),
        ``""`` when the file does not say.
    device : str
        Who wrote the file (FIT manufacturer/product, GPX ``creator``, TCX ``Creator``).
    notes : list of str
        One line per problem found (damage, an activity that is not a run) and what was kept.
    """

    path: str
    source_format: str
    t_utc_s: np.ndarray
    altitude_m: np.ndarray
    distance_m: np.ndarray
    speed_mps: np.ndarray
    heart_rate_bpm: np.ndarray
    cadence_spm: np.ndarray
    stance_time_ms: np.ndarray
    latitude_deg: np.ndarray
    longitude_deg: np.ndarray
    sport: str = ""
    device: str = ""
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.t_utc_s)

    @property
    def t_s(self) -> np.ndarray:
        """Seconds from the first point."""
        return self.t_utc_s - self.t_utc_s[0] if len(self.t_utc_s) else self.t_utc_s

    @property
    def start_utc(self) -> datetime:
        """Time of the first point."""
        return datetime.fromtimestamp(float(self.t_utc_s[0]), UTC)

    def has(self, column: str) -> bool:
        """Whether any point has a value for ``column``."""
        return bool(np.isfinite(getattr(self, column)).any())

    def known_columns(self) -> list[str]:
        """The columns with at least one value."""
        return [c for c in COLUMNS if self.has(c)]


def build_activity(
    path: str,
    source_format: str,
    rows: list[dict[str, float]],
    *,
    sport: str = "",
    device: str = "",
    notes: list[str] | None = None,
) -> Activity:
    """An :class:`Activity` from point dicts (key ``t_utc_s`` plus any of :data:`COLUMNS`).

    Points without a finite time are dropped, the rest sorted by time; repeated times keep the
    first point. Distances are filled from positions (great circle) when the file has none, and
    speed from distance; a non-running activity gets a note (a cycling file's cadence, pedal
    revolutions, is dropped). Raises :class:`InputError` when no point is left.
    """
    notes = list(notes or [])
    rows = [r for r in rows if math.isfinite(r.get("t_utc_s", math.nan))]
    if not rows:
        found = "; ".join(notes) if notes else "no time-stamped points"
        raise InputError(path, f"no usable activity points ({found})")
    t = np.array([r["t_utc_s"] for r in rows], dtype=np.float64)
    order = np.argsort(t, kind="stable")
    t = t[order]
    keep = np.concatenate([[True], np.diff(t) > 0])
    cols = {
        c: np.array([r.get(c, math.nan) for r in rows], dtype=np.float64)[order][keep]
        for c in COLUMNS
    }
    t = t[keep]
    sport = sport.lower()
    if sport and sport not in RUNNING_SPORTS:
        if "cycl" in sport or "bik" in sport:
            if np.isfinite(cols["cadence_spm"]).any():
                cols["cadence_spm"][:] = math.nan
            notes.append(
                f"a {sport} activity, not a run: kept time, altitude, distance, speed and heart "
                "rate; its cadence (pedal revolutions) is not used"
            )
        else:
            notes.append(
                f"a {sport} activity, not a run: kept every point; the cue thresholds are "
                "meant for running"
            )
    if not np.isfinite(cols["distance_m"]).any():
        d = _distance_from_positions(cols["latitude_deg"], cols["longitude_deg"])
        if d is None and np.isfinite(cols["speed_mps"]).any():
            v = np.nan_to_num(cols["speed_mps"])
            d = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(t))])
        if d is not None:
            cols["distance_m"] = d
    if not np.isfinite(cols["speed_mps"]).any() and np.isfinite(cols["distance_m"]).sum() > 1:
        cols["speed_mps"] = _speed_from_distance(t, cols["distance_m"])
    return Activity(path, source_format, t, sport=sport, device=device, notes=notes, **cols)


def _distance_from_positions(lat: np.ndarray, lon: np.ndarray) -> np.ndarray | None:
    """Cumulative great-circle distance (m) over the points that have a position."""
    ok = np.isfinite(lat) & np.isfinite(lon)
    if ok.sum() < 2:
        return None
    la, lo = np.radians(lat[ok]), np.radians(lon[ok])
    a = (
        np.sin(np.diff(la) / 2) ** 2
        + np.cos(la[:-1]) * np.cos(la[1:]) * np.sin(np.diff(lo) / 2) ** 2
    )
    step = 2 * 6_371_008.8 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    out = np.full(len(lat), math.nan)
    out[ok] = np.concatenate([[0.0], np.cumsum(step)])
    return out


def _speed_from_distance(t: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Speed (m/s) as the central difference of distance over time (nan where unknown)."""
    out = np.full(len(t), math.nan)
    ok = np.flatnonzero(np.isfinite(d))
    if len(ok) > 1:
        out[ok] = np.gradient(d[ok], t[ok])
    return out


def sniff_activity(path: str | Path) -> str | None:
    """``"fit"``, ``"gpx"``, ``"tcx"`` from the file's first bytes, or None.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "run.xml"
    >>> _ = p.write_text('<?xml version="1.0"?><TrainingCenterDatabase>')
    >>> sniff_activity(p)
    'tcx'
    """
    p = check_input(path, max_bytes=MAX_ACTIVITY_BYTES)
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise InputError(str(p), exc.strerror or str(exc)) from None
    if len(head) >= 12 and head[8:12] == b".FIT":
        return "fit"
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if text.startswith("<"):
        low = text.lower()
        if "<trainingcenterdatabase" in low:
            return "tcx"
        if "<gpx" in low:
            return "gpx"
    return None


def read_activity(path: str | Path) -> Activity:
    """Read a FIT, GPX or TCX activity, the format detected from its content.

    Raises
    ------
    InputError
        When the file is none of these formats or holds no usable point.
    """
    fmt = sniff_activity(path)
    # the readers import this package (Activity, build_activity): imported here, not on top
    if fmt == "fit":
        from downhill_live.tools.watch.fit import read_fit

        return read_fit(path)
    if fmt == "gpx":  # (as above)
        from downhill_live.tools.watch.gpx import read_gpx

        return read_gpx(path)
    if fmt == "tcx":  # (as above)
        from downhill_live.tools.watch.tcx import read_tcx

        return read_tcx(path)
    raise InputError(
        str(path),
        "not a FIT, GPX or TCX activity (no '.FIT' signature, no <gpx> or "
        "<TrainingCenterDatabase> element)",
    )
