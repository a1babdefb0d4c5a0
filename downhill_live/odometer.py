"""Distance and pace, when the set-up measures them.

Two sources measure them; there is no estimate otherwise:

* a Bluetooth SIG Running Speed and Cadence foot pod (live and replay): its instantaneous speed
  gives the pace, its total distance field the distance (counted from the session's first
  measurement); a pod that sends no distance gets the distance from its speed, integrated over
  receive time (not across a gap of more than :data:`~downhill_live.decode.rsc.RSC_MAX_GAP_S`);
* a watch file attached to the recording (``downhill-live attach``, replay and report): its
  distance and speed columns (speed from the distance when the file has none).

Cadence times a step length is not used: no set-up knows the runner's step length, and on a
descent, where this tool looks, the step length is what changes.

Times are receive times (the clock of the raw records). The pace is seconds per kilometre; it
is None below :data:`MIN_SPEED_MPS` (standing, or a pod that lost the foot).

Examples
--------
>>> from downhill_live.decode.rsc import RscMeasurement
>>> odo = Odometer(rsc_streams=["rsc"])
>>> for t in range(11):  # 10 s at 3 m/s; the pod's total distance starts at 1000 m
...     m = RscMeasurement(speed_mps=3.0, cadence_spm=170, distance_m=1000.0 + 3.0 * t)
...     odo.packet(Packet(float(t), "rsc", bytes(m)))
>>> odo.source, odo.distance_m(), round(odo.pace_s_per_km())
('foot pod', 30.0, 333)
>>> odo.distance_between(2.0, 5.0)
9.0
>>> odo.status_text()
'0.03 km 5:33/km'
"""

from __future__ import annotations

import math
from collections.abc import Collection

import numpy as np

from downhill_live.decode.rsc import RSC_MAX_GAP_S, RscMeasurement
from downhill_live.errors import DecodeError
from downhill_live.record import AttachedTrack
from downhill_live.sinks import Sink
from downhill_live.types import Packet

__all__ = ["MIN_SPEED_MPS", "Odometer", "fmt_pace", "pace_s_per_km"]

#: slower than this (m/s) the pace is not shown (60 min/km)
MIN_SPEED_MPS = 1000.0 / 3600.0
#: a watch file's speed, when it has none, from its distance over this window (s)
_SPEED_WINDOW_S = 10.0


class Odometer(Sink):
    """Distance (m) and pace (s/km) of a session, from a foot pod's packets (a packet sink for
    ``rsc_streams``) or from a watch ``track``; see the module text. :attr:`source` says which
    (``"foot pod"`` or ``"watch file"``)."""

    def __init__(
        self, *, rsc_streams: Collection[str] = (), track: AttachedTrack | None = None
    ) -> None:
        self.rsc_streams = frozenset(rsc_streams)
        self.source = "foot pod" if self.rsc_streams else "watch file"
        #: (receive time s, distance m from the start, speed m/s or nan), in time order
        self._t: list[float] = []
        self._d: list[float] = []
        self._v: list[float] = []
        self._pod_start_m: float | None = None
        if track is not None:
            self._load_track(track)

    @classmethod
    def for_track(cls, track: AttachedTrack | None) -> Odometer | None:
        """An odometer over a watch file's distance, None when ``track`` has no distance."""
        if track is None or "distance_m" not in track.columns:
            return None
        odo = cls(track=track)
        return odo if odo._t else None

    def _load_track(self, track: AttachedTrack) -> None:
        t = np.asarray(track.t_s, dtype=np.float64)
        d = np.asarray(track.columns["distance_m"], dtype=np.float64)
        v = np.asarray(track.columns.get("speed_mps", np.full(len(t), np.nan)), dtype=np.float64)
        ok = np.isfinite(t) & np.isfinite(d)
        t, d, v = t[ok], d[ok], v[ok]
        if len(t) < 2:
            return
        order = np.argsort(t, kind="stable")
        t, d, v = t[order], d[order], v[order]
        d = np.maximum.accumulate(d) - d[0]  # a distance never goes back
        back = np.interp(t - _SPEED_WINDOW_S, t, d)
        span = np.minimum(t - t[0], _SPEED_WINDOW_S)
        with np.errstate(invalid="ignore", divide="ignore"):
            v = np.where(np.isfinite(v), v, np.where(span > 0, (d - back) / span, np.nan))
        self._t, self._d, self._v = t.tolist(), d.tolist(), v.tolist()

    def packet(self, packet: Packet) -> None:
        """A raw packet: an RSC measurement of :attr:`rsc_streams` adds a point (a malformed
        one is left to the session's decoder, which counts it)."""
        if packet.stream not in self.rsc_streams:
            return
        try:
            m = RscMeasurement.from_bytes(packet.payload)
        except DecodeError:
            return
        t = packet.t_rx_s
        if self._t and t < self._t[-1]:
            return
        if m.distance_m is not None:
            d_prev = self._d[-1] if self._d else 0.0
            if self._pod_start_m is None or m.distance_m - self._pod_start_m < d_prev:
                # the first measurement, or the pod's total went back (a reset): count on
                self._pod_start_m = m.distance_m - d_prev
            d = m.distance_m - self._pod_start_m
        elif self._t:
            dt = t - self._t[-1]
            v_prev = self._v[-1]
            d = self._d[-1] + (v_prev * dt if 0.0 <= dt <= RSC_MAX_GAP_S else 0.0)
        else:
            d = 0.0
        self._t.append(t)
        self._d.append(d)
        self._v.append(m.speed_mps)

    @property
    def known(self) -> bool:
        """Whether any distance is known yet."""
        return bool(self._t)

    def distance_m(self, t_rx_s: float | None = None) -> float | None:
        """Distance from the start at receive time ``t_rx_s`` (default: the latest known)."""
        if not self._t:
            return None
        if t_rx_s is None:
            return self._d[-1]
        return float(np.interp(t_rx_s, self._t, self._d))

    def distance_between(self, t0_rx_s: float, t1_rx_s: float) -> float | None:
        """Distance covered between two receive times (None when nothing is known)."""
        a, b = self.distance_m(t0_rx_s), self.distance_m(t1_rx_s)
        return None if a is None or b is None else b - a

    def status_text(self) -> str:
        """Distance and pace for the live status line (``"2.41 km 5:33/km"``; ``""`` while
        nothing is known, ``"--:--/km"`` when too slow for a pace)."""
        d = self.distance_m()
        if d is None:
            return ""
        return f"{d / 1000:.2f} km {fmt_pace(self.pace_s_per_km())}/km"

    def pace_s_per_km(self, t_rx_s: float | None = None) -> float | None:
        """Pace at receive time ``t_rx_s`` (default: the latest), from the measured speed."""
        if not self._t:
            return None
        if t_rx_s is None:
            v = self._v[-1]
        else:
            i = int(np.searchsorted(self._t, t_rx_s, side="right")) - 1
            v = self._v[max(i, 0)]
        return pace_s_per_km(v)


def pace_s_per_km(speed_mps: float) -> float | None:
    """Seconds per kilometre at ``speed_mps``; None when too slow (or unknown) to mean a pace.

    >>> pace_s_per_km(3.0), pace_s_per_km(0.1), pace_s_per_km(float("nan"))
    (333.3333333333333, None, None)
    """
    if not math.isfinite(speed_mps) or speed_mps < MIN_SPEED_MPS:
        return None
    return 1000.0 / speed_mps


def fmt_pace(pace_s_per_km: float | None) -> str:
    """A pace as ``m:ss`` (``--:--`` when unknown).

    >>> fmt_pace(333.4), fmt_pace(299.6), fmt_pace(None)
    ('5:33', '5:00', '--:--')
    """
    if pace_s_per_km is None or not math.isfinite(pace_s_per_km):
        return "--:--"
    m, s = divmod(round(pace_s_per_km), 60)
    return f"{m}:{s:02d}"
