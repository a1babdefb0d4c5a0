"""Bluetooth SIG Running Speed and Cadence (RSC) Measurement, characteristic 0x2A53.

Layout (little-endian), per the RSC Service 1.0 / GATT characteristic definition::

    flags  uint8   bit 0 stride length present, bit 1 total distance present,
                   bit 2 walking (0) or running (1), bits 3-7 reserved for future use
    speed  uint16  1/256 m/s
    cadence uint8  1/minute
    [stride length uint16, 1/100 m]   if bit 0
    [total distance uint32, 1/10 m]   if bit 1

Reserved flag bits are ignored on receipt, as the Core specification asks of RFU bits, and
bytes after the last field the flags announce are ignored too (room for later versions of the
characteristic). A payload shorter than its flags announce is a :class:`DecodeError`.

Cadence convention
------------------
The characteristic defines Instantaneous Cadence as uint8 in "1/minute (or RPM)" and does not
say whether both feet count. Public sources disagree in practice: some client libraries document
it as steps per minute of both feet (about 170-180 when running), while ANT+ stride-sensor
bridges and some pods send strides per minute of one foot, which is why apps such as
qdomyos-zwift carry a "double cadence for run" switch (issue #1099, Zwift RunPod). The value a
given pod (Stryd, Polar Stride, ...) sends was not verified here. :meth:`RscMeasurement.from_bytes`
therefore takes ``cadence_one_foot``: with it set the transmitted value is doubled, so that
``cadence_spm`` always means steps per minute of both feet, as everywhere in this project (see
:mod:`downhill_live.types`). The sensor's firmware profile should decide the flag; check it once
against a known cadence (e.g. a metronome run at 180 spm).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from downhill_live.errors import DecodeError, DecodeErrorKind

#: Running Speed and Cadence service and its measurement characteristic (SIG 16-bit UUIDs on
#: the Bluetooth base UUID).
RSC_SERVICE_UUID = "00001814-0000-1000-8000-00805f9b34fb"
RSC_MEASUREMENT_UUID = "00002a53-0000-1000-8000-00805f9b34fb"
RSC_FEATURE_UUID = "00002a54-0000-1000-8000-00805f9b34fb"

FLAG_STRIDE_PRESENT = 0x01
FLAG_DISTANCE_PRESENT = 0x02
FLAG_RUNNING = 0x04
FLAGS_RESERVED = 0xF8

#: counts per unit: speed 1/256 m/s, stride 1/100 m, distance 1/10 m
SPEED_PER_MPS = 256
STRIDE_PER_M = 100
DISTANCE_PER_M = 10

_MAX_SPEED_MPS = 0xFFFF / SPEED_PER_MPS
_MAX_STRIDE_M = 0xFFFF / STRIDE_PER_M
_MAX_DISTANCE_M = 0xFFFF_FFFF / DISTANCE_PER_M


def _counts(name: str, value: float, per_unit: int, limit: int) -> int:
    """``value`` in whole ``1 / per_unit`` steps (rounded), range-checked against ``0..limit``."""
    n = round(value * per_unit)
    if not 0 <= n <= limit:
        raise ValueError(f"{name} {value!r} is outside 0..{limit / per_unit:g}")
    return n


@dataclass(frozen=True, slots=True)
class RscMeasurement:
    """One RSC Measurement.

    Attributes
    ----------
    speed_mps : float
        Instantaneous speed, m/s (resolution 1/256 m/s).
    cadence_spm : int
        Steps per minute of both feet (see the module notes on one-foot sensors).
    stride_m : float or None
        Instantaneous stride length, m (resolution 0.01 m), None when absent.
    distance_m : float or None
        Total distance, m (resolution 0.1 m), None when absent.
    running : bool
        The sensor's walking/running status bit.
    cadence_one_foot : bool
        The sensor transmits one foot's cadence; ``__bytes__`` halves ``cadence_spm`` again.

    Examples
    --------
    >>> m = RscMeasurement.from_bytes(bytes.fromhex("07 3412 56 8907 04030201"))
    >>> m.speed_mps, m.cadence_spm, m.stride_m, m.distance_m, m.running
    (18.203125, 86, 19.29, 1690906.0, True)
    >>> bytes(m).hex(" ")
    '07 34 12 56 89 07 04 03 02 01'
    """

    speed_mps: float
    cadence_spm: int
    stride_m: float | None = None
    distance_m: float | None = None
    running: bool = False
    cadence_one_foot: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.speed_mps <= _MAX_SPEED_MPS:
            raise ValueError(f"speed_mps {self.speed_mps!r} is outside 0..{_MAX_SPEED_MPS:g}")
        limit = 0x1FE if self.cadence_one_foot else 0xFF
        if isinstance(self.cadence_spm, bool) or not isinstance(self.cadence_spm, int):
            raise ValueError(f"cadence_spm must be an integer, got {self.cadence_spm!r}")
        if not 0 <= self.cadence_spm <= limit or (self.cadence_one_foot and self.cadence_spm % 2):
            kind = "an even number in " if self.cadence_one_foot else ""
            raise ValueError(f"cadence_spm must be {kind}0..{limit}, got {self.cadence_spm}")
        if self.stride_m is not None and not 0.0 <= self.stride_m <= _MAX_STRIDE_M:
            raise ValueError(f"stride_m {self.stride_m!r} is outside 0..{_MAX_STRIDE_M:g}")
        if self.distance_m is not None and not 0.0 <= self.distance_m <= _MAX_DISTANCE_M:
            raise ValueError(f"distance_m {self.distance_m!r} is outside 0..{_MAX_DISTANCE_M:g}")

    @classmethod
    def from_bytes(cls, data: bytes, *, cadence_one_foot: bool = False) -> RscMeasurement:
        """Decode a 0x2A53 value.

        Parameters
        ----------
        data : bytes
            The characteristic value.
        cadence_one_foot : bool
            The sensor reports one foot's cadence; double it into ``cadence_spm``.

        Raises
        ------
        DecodeError
            The payload is shorter than the fields its flags announce.
        """
        data = bytes(data)
        if len(data) < 4:
            raise DecodeError(
                f"truncated: RSC measurement needs at least 4 bytes, got {len(data)}",
                kind=DecodeErrorKind.TRUNCATED,
                summary="truncated",
            )
        flags = data[0]
        need = 4
        need += 2 if flags & FLAG_STRIDE_PRESENT else 0
        need += 4 if flags & FLAG_DISTANCE_PRESENT else 0
        if len(data) < need:
            raise DecodeError(
                f"truncated: RSC measurement with flags 0x{flags:02X} needs {need} bytes, "
                f"got {len(data)}",
                kind=DecodeErrorKind.TRUNCATED,
                summary="truncated",
            )
        speed, cadence = struct.unpack_from("<HB", data, 1)
        offset = 4
        stride_m = distance_m = None
        if flags & FLAG_STRIDE_PRESENT:
            (stride,) = struct.unpack_from("<H", data, offset)
            stride_m = stride / STRIDE_PER_M
            offset += 2
        if flags & FLAG_DISTANCE_PRESENT:
            (distance,) = struct.unpack_from("<I", data, offset)
            distance_m = distance / DISTANCE_PER_M
        return cls(
            speed_mps=speed / SPEED_PER_MPS,
            cadence_spm=cadence * 2 if cadence_one_foot else cadence,
            stride_m=stride_m,
            distance_m=distance_m,
            running=bool(flags & FLAG_RUNNING),
            cadence_one_foot=cadence_one_foot,
        )

    def __bytes__(self) -> bytes:
        flags = FLAG_RUNNING if self.running else 0
        cadence = self.cadence_spm // 2 if self.cadence_one_foot else self.cadence_spm
        speed = _counts("speed_mps", self.speed_mps, SPEED_PER_MPS, 0xFFFF)
        tail = b""
        if self.stride_m is not None:
            flags |= FLAG_STRIDE_PRESENT
            tail += struct.pack("<H", _counts("stride_m", self.stride_m, STRIDE_PER_M, 0xFFFF))
        if self.distance_m is not None:
            flags |= FLAG_DISTANCE_PRESENT
            units = _counts("distance_m", self.distance_m, DISTANCE_PER_M, 0xFFFF_FFFF)
            tail += struct.pack("<I", units)
        return struct.pack("<BHB", flags, speed, cadence) + tail


__all__ = [
    "RSC_FEATURE_UUID",
    "RSC_MEASUREMENT_UUID",
    "RSC_SERVICE_UUID",
    "RscMeasurement",
]
