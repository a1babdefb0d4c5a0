"""The ``ftms`` decoder: Bluetooth SIG Fitness Machine Service, Treadmill Data (0x2ACD).

A BLE treadmill (decline treadmills included) sends its belt speed and its inclination about
once a second. The inclination is the grade, exactly; the speed is the best horizontal speed
there is. Here side by side: :class:`TreadmillData` (``from_bytes`` / ``__bytes__``; the virtual
treadmill sends ``bytes(TreadmillData(...))``), :class:`FtmsDecoder` and :data:`DECODER`.

Layout (little-endian), per the Fitness Machine Service 1.0, Treadmill Data characteristic: a
uint16 flags field, then the fields its bits announce, in this order::

    bit 0  More Data: 0 -> Instantaneous Speed present   uint16  0.01 km/h
    bit 1  Average Speed                                 uint16  0.01 km/h
    bit 2  Total Distance                                uint24  1 m
    bit 3  Inclination                                   sint16  0.1 %
           Ramp Angle Setting                            sint16  0.1 degree
    bit 4  Positive / Negative Elevation Gain            uint16, uint16  0.1 m
    bit 5  Instantaneous Pace                            uint8   0.1 km/min
    bit 6  Average Pace                                  uint8   0.1 km/min
    bit 7  Total Energy, Energy per Hour, per Minute     uint16, uint16, uint8  kcal
    bit 8  Heart Rate                                    uint8   bpm
    bit 9  Metabolic Equivalent                          uint8   0.1
    bit 10 Elapsed Time                                  uint16  s
    bit 11 Remaining Time                                uint16  s
    bit 12 Force on Belt, Power Output                   sint16 N, sint16 W
    bits 13-15 reserved for future use

Bit 0 is inverted (0: the speed is present). An inclination of 0x7FFF means "data not
available" (None here). A treadmill may split its data over several notifications with
"More Data" set: each is decoded on its own, and only the fields it carries are taken.
Reserved bits are ignored; bytes after the last announced field are ignored; a payload shorter
than its flags announce is a :class:`DecodeError`.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import NamedTuple

from downhill_live.decode.base import (
    Decoder,
    ReadingsDecoder,
    StreamConfig,
    StreamDecoder,
    parse_no_params,
)
from downhill_live.errors import DecodeError, DecodeErrorKind
from downhill_live.types import Packet

#: Fitness Machine service and its Treadmill Data characteristic (SIG 16-bit UUIDs)
FTMS_SERVICE_UUID = "00001826-0000-1000-8000-00805f9b34fb"
TREADMILL_DATA_UUID = "00002acd-0000-1000-8000-00805f9b34fb"

MORE_DATA = 0x0001
AVG_SPEED = 0x0002
TOTAL_DISTANCE = 0x0004
INCLINATION = 0x0008
ELEVATION_GAIN = 0x0010
INST_PACE = 0x0020
AVG_PACE = 0x0040
EXPENDED_ENERGY = 0x0080
HEART_RATE = 0x0100
METABOLIC_EQUIVALENT = 0x0200
ELAPSED_TIME = 0x0400
REMAINING_TIME = 0x0800
FORCE_POWER = 0x1000

NOT_AVAILABLE_S16 = 0x7FFF

#: (flag, bytes) of the fields this decoder skips, in wire order after the inclination
_SKIPPED_AFTER_INCLINATION = (
    (ELEVATION_GAIN, 4),
    (INST_PACE, 1),
    (AVG_PACE, 1),
    (EXPENDED_ENERGY, 5),
    (HEART_RATE, 1),
    (METABOLIC_EQUIVALENT, 1),
)


@dataclass(frozen=True, slots=True)
class TreadmillData:
    """One Treadmill Data notification (the fields downhill-live uses; None when absent).

    Attributes
    ----------
    speed_kmh : float or None
        Instantaneous belt speed (0.01 km/h).
    distance_m : int or None
        Total distance (m).
    inclination_pct : float or None
        Inclination (0.1 %), negative on a decline; None when absent or "not available".
    ramp_angle_deg : float or None
        Ramp angle setting (0.1 degree).
    elapsed_s : int or None
        Elapsed time (s).

    Examples
    --------
    >>> m = TreadmillData(speed_kmh=10.8, distance_m=1234, inclination_pct=-6.5, ramp_angle_deg=-3.7)
    >>> bytes(m).hex(" ")
    '0c 00 38 04 d2 04 00 bf ff db ff'
    >>> TreadmillData.from_bytes(bytes(m)) == m
    True
    >>> round(m.speed_mps, 2)
    3.0
    """

    speed_kmh: float | None = None
    distance_m: int | None = None
    inclination_pct: float | None = None
    ramp_angle_deg: float | None = None
    elapsed_s: int | None = None

    @property
    def speed_mps(self) -> float | None:
        """Belt speed in m/s."""
        return None if self.speed_kmh is None else self.speed_kmh / 3.6

    @classmethod
    def from_bytes(cls, data: bytes) -> TreadmillData:
        """Parse a notification; :class:`DecodeError` (kind ``LENGTH``) when it is short."""
        if len(data) < 2:
            raise DecodeError(
                f"Treadmill Data of {len(data)} bytes: needs at least the 2-byte flags",
                kind=DecodeErrorKind.TRUNCATED,
            )
        flags = int.from_bytes(data[:2], "little")
        need = 2
        need += 0 if flags & MORE_DATA else 2
        need += 2 if flags & AVG_SPEED else 0
        need += 3 if flags & TOTAL_DISTANCE else 0
        need += 4 if flags & INCLINATION else 0
        for flag, size in _SKIPPED_AFTER_INCLINATION:
            need += size if flags & flag else 0
        need += 2 if flags & ELAPSED_TIME else 0
        if len(data) < need:
            raise DecodeError(
                f"Treadmill Data of {len(data)} bytes, flags 0x{flags:04x} announce {need}",
                kind=DecodeErrorKind.TRUNCATED,
            )
        i = 2
        speed = None
        if not flags & MORE_DATA:
            speed = int.from_bytes(data[i : i + 2], "little") / 100.0
            i += 2
        if flags & AVG_SPEED:
            i += 2
        distance = None
        if flags & TOTAL_DISTANCE:
            distance = int.from_bytes(data[i : i + 3], "little")
            i += 3
        incline = ramp = None
        if flags & INCLINATION:
            raw_i, raw_r = struct.unpack_from("<hh", data, i)
            incline = None if raw_i == NOT_AVAILABLE_S16 else raw_i / 10.0
            ramp = None if raw_r == NOT_AVAILABLE_S16 else raw_r / 10.0
            i += 4
        for flag, size in _SKIPPED_AFTER_INCLINATION:
            i += size if flags & flag else 0
        elapsed = None
        if flags & ELAPSED_TIME:
            elapsed = int.from_bytes(data[i : i + 2], "little")
        return cls(speed, distance, incline, ramp, elapsed)

    def __bytes__(self) -> bytes:
        flags = 0 if self.speed_kmh is not None else MORE_DATA
        out = b""
        if self.speed_kmh is not None:
            out += struct.pack("<H", _counts("speed_kmh", self.speed_kmh, 100, 0, 0xFFFF))
        if self.distance_m is not None:
            flags |= TOTAL_DISTANCE
            out += _counts("distance_m", self.distance_m, 1, 0, 0xFF_FFFF).to_bytes(3, "little")
        if self.inclination_pct is not None or self.ramp_angle_deg is not None:
            flags |= INCLINATION
            inc = NOT_AVAILABLE_S16
            ramp = NOT_AVAILABLE_S16
            if self.inclination_pct is not None:
                inc = _counts("inclination_pct", self.inclination_pct, 10, -32768, 32766)
            if self.ramp_angle_deg is not None:
                ramp = _counts("ramp_angle_deg", self.ramp_angle_deg, 10, -32768, 32766)
            out += struct.pack("<hh", inc, ramp)
        if self.elapsed_s is not None:
            flags |= ELAPSED_TIME
            out += struct.pack("<H", _counts("elapsed_s", self.elapsed_s, 1, 0, 0xFFFF))
        return struct.pack("<H", flags) + out


def _counts(name: str, value: float, per_unit: int, lo: int, hi: int) -> int:
    n = round(value * per_unit)
    if not lo <= n <= hi:
        raise ValueError(f"{name} {value!r} is outside {lo / per_unit:g}..{hi / per_unit:g}")
    return n


class TreadmillReading(NamedTuple):
    """What a treadmill said at receive time ``t_rx_s`` (nan: not in that notification)."""

    t_rx_s: float
    grade_pct: float
    speed_mps: float


class FtmsDecoder(ReadingsDecoder[TreadmillReading]):
    """Treadmill Data notifications -> readings of grade and belt speed.

    The treadmill sends no acceleration: :meth:`decode` returns empty ``Samples`` and keeps a
    :class:`TreadmillReading` for :meth:`take_readings` (the session hands them to the gait
    core as its grade and speed source). Time is the receive time (FTMS has no sensor time).

    Examples
    --------
    >>> dec = FtmsDecoder()
    >>> _ = dec.decode(Packet(5.0, "treadmill", bytes(TreadmillData(9.0, None, -8.0))))
    >>> dec.take_readings()
    [TreadmillReading(t_rx_s=5.0, grade_pct=-8.0, speed_mps=2.5)]
    """

    def __init__(self, *, stream: str = "") -> None:
        super().__init__(stream=stream)
        self.measurement_: TreadmillData | None = None

    def _read(self, packet: Packet) -> TreadmillReading | None:
        m = TreadmillData.from_bytes(packet.payload)
        self.measurement_ = m
        grade = math.nan if m.inclination_pct is None else m.inclination_pct
        speed = math.nan if m.speed_mps is None else m.speed_mps
        if math.isnan(grade) and math.isnan(speed):
            return None
        return TreadmillReading(packet.t_rx_s, grade, speed)

    def take_readings(self) -> list[TreadmillReading]:
        """Readings decoded since the last call."""
        return self._take()


def _make(stream: StreamConfig) -> StreamDecoder:
    return FtmsDecoder(stream=stream.name)


#: the registry entry of ``decoder: ftms``
DECODER = Decoder(
    name="ftms",
    description="Bluetooth SIG Fitness Machine treadmills (inclination = grade, belt speed)",
    has_acceleration=False,
    parse=parse_no_params,
    make=_make,
)


__all__ = [
    "DECODER",
    "FTMS_SERVICE_UUID",
    "TREADMILL_DATA_UUID",
    "FtmsDecoder",
    "TreadmillData",
    "TreadmillReading",
]
