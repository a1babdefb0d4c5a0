"""A small FIT encoder: the few messages an activity needs, written from the published FIT
protocol (file header, definition and data messages, developer fields, CRC-16).

Why our own: an activity export needs only ``file_id``, ``developer_data_id``,
``field_description``, ``event``, ``record``, ``lap``, ``session`` and ``activity``; the FIT
SDK's own Python package is under Garmin's FIT licence (not an open-source licence, so not a
runtime dependency of an MIT tool), and a general FIT writer brings a full profile we do not
need. Every file written here is decoded in the tests by two independent readers, ``fitdecode``
and (where it installs) the FIT SDK's ``garmin-fit-sdk``.

Examples
--------
>>> enc = FitEncoder()
>>> enc.write(0, "file_id", [(0, "enum", 4), (1, "uint16", 255), (4, "uint32", 1000)])
>>> data = enc.finish()
>>> data[8:12], len(data)
(b'.FIT', 39)
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from datetime import UTC, datetime

__all__ = ["FIT_EPOCH_S", "MESG", "FitEncoder", "fit_crc", "fit_time"]

#: 1989-12-31T00:00:00Z, the FIT time origin, as POSIX seconds
FIT_EPOCH_S = 631065600
#: global message numbers (FIT profile)
MESG = {
    "file_id": 0,
    "session": 18,
    "lap": 19,
    "record": 20,
    "event": 21,
    "device_info": 23,
    "activity": 34,
    "field_description": 206,
    "developer_data_id": 207,
}
#: base type -> (FIT base type number, struct code, invalid value)
BASE_TYPES: dict[str, tuple[int, str, int | float | None]] = {
    "enum": (0x00, "B", 0xFF),
    "sint8": (0x01, "b", 0x7F),
    "uint8": (0x02, "B", 0xFF),
    "sint16": (0x83, "h", 0x7FFF),
    "uint16": (0x84, "H", 0xFFFF),
    "sint32": (0x85, "i", 0x7FFFFFFF),
    "uint32": (0x86, "I", 0xFFFFFFFF),
    "string": (0x07, "s", None),
    "float32": (0x88, "f", None),
    "uint8z": (0x0A, "B", 0),
    "uint32z": (0x8C, "I", 0),
    "byte": (0x0D, "s", None),
}
_CRC_TABLE = (
    0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
    0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
)  # fmt: skip

#: a field: (field number, base type, value); value None or nan = invalid; strings and bytes
#: carry their size as a 4th item
Field = tuple[int, str, object] | tuple[int, str, object, int]


def fit_crc(data: bytes, crc: int = 0) -> int:
    """The FIT CRC-16 of ``data`` (continuing from ``crc``).

    Examples
    --------
    >>> hex(fit_crc(b"123456789"))
    '0xbb3d'
    """
    for byte in data:
        for nib in (byte & 0xF, byte >> 4):
            tmp = _CRC_TABLE[crc & 0xF]
            crc = (crc >> 4) & 0x0FFF
            crc = crc ^ tmp ^ _CRC_TABLE[nib]
    return crc


def fit_time(t_utc_s: float) -> int:
    """FIT timestamp (uint32 seconds since 1989-12-31) of POSIX seconds."""
    return max(0, math.floor(t_utc_s) - FIT_EPOCH_S)


def fit_time_of(dt: datetime) -> int:
    """FIT timestamp of an aware datetime."""
    return fit_time(dt.astimezone(UTC).timestamp())


class FitEncoder:
    """Builds a FIT file message by message. Local message types are assigned per distinct
    layout (global number + field layout), at most 16 at a time, redefined when a layout
    changes."""

    def __init__(self, *, profile_version: int = 2132) -> None:
        self.profile_version = profile_version
        self._body = bytearray()
        self._layouts: dict[tuple[object, ...], int] = {}
        self._local_next = 0

    def _value_bytes(self, base: str, value: object, size: int | None) -> tuple[int, bytes]:
        _, code, invalid = BASE_TYPES[base]
        if code == "s":
            n = size or 1
            if isinstance(value, str):
                raw = value.encode()
            elif isinstance(value, bytes | bytearray):
                raw = bytes(value)
            else:
                raw = b""
            if base == "string":
                raw = raw[: n - 1] + b"\x00"
            raw = raw[:n].ljust(n, b"\x00" if base == "string" else b"\xff")
            return n, raw
        width = struct.calcsize("<" + code)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            if code == "f":
                return width, b"\xff" * width
            return width, struct.pack("<" + code, invalid)
        if code == "f":
            return width, struct.pack("<f", float(value))  # type: ignore[arg-type]
        v = round(float(value))  # type: ignore[arg-type]
        lo, hi = _limits(code)
        if not lo <= v <= hi or v == invalid:
            return width, struct.pack("<" + code, invalid)
        return width, struct.pack("<" + code, v)

    def write(
        self,
        local_hint: int,
        mesg: str | int,
        fields: Sequence[Field],
        dev_fields: Sequence[Field] = (),
    ) -> None:
        """Append one data message (and its definition when the layout is new).

        Parameters
        ----------
        local_hint : int
            Ignored (kept for readability of callers); local types are assigned here.
        mesg : str or int
            Message name in :data:`MESG` or a global message number.
        fields : sequence
            ``(field number, base type, value[, size])``.
        dev_fields : sequence
            ``(developer field number, base type, value[, size])`` of developer data index 0.
        """
        del local_hint
        gnum = MESG[mesg] if isinstance(mesg, str) else int(mesg)
        encoded = []
        for f in fields:
            size = f[3] if len(f) > 3 else None
            n, raw = self._value_bytes(f[1], f[2], size)
            encoded.append((f[0], n, BASE_TYPES[f[1]][0], raw))
        dev_encoded = []
        for df in dev_fields:
            n, raw = self._value_bytes(df[1], df[2], df[3] if len(df) > 3 else None)
            num = df[0]
            dev_encoded.append((num, n, raw))
        layout = (
            gnum,
            tuple((a, b, c) for a, b, c, _ in encoded),
            tuple((a, b) for a, b, _ in dev_encoded),
        )
        local = self._layouts.get(layout)
        if local is None:
            local = self._local_next % 16
            self._local_next += 1
            for key in [k for k, v in self._layouts.items() if v == local]:
                del self._layouts[key]
            self._layouts[layout] = local
            head = 0x40 | local | (0x20 if dev_encoded else 0)
            d = bytearray(struct.pack("<BBBHB", head, 0, 0, gnum, len(encoded)))
            for num, n, base_num, _ in encoded:
                d += struct.pack("<BBB", num, n, base_num)
            if dev_encoded:
                d.append(len(dev_encoded))
                for num, n, _ in dev_encoded:
                    d += struct.pack("<BBB", num, n, 0)
            self._body += d
        self._body.append(local)
        for *_, raw in encoded:
            self._body += raw
        for *_, raw in dev_encoded:
            self._body += raw

    def finish(self) -> bytes:
        """The complete file: 14-byte header (with its CRC), the messages, the file CRC."""
        head = struct.pack("<BBHI4s", 14, 0x20, self.profile_version, len(self._body), b".FIT")
        head += struct.pack("<H", fit_crc(head))
        data = head + bytes(self._body)
        return data + struct.pack("<H", fit_crc(data))


def _limits(code: str) -> tuple[int, int]:
    bits = struct.calcsize(code) * 8
    if code.islower():
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1
