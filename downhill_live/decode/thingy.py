"""The ``thingy_pressure`` decoder: Nordic Thingy:52 Environment service, pressure.

The Thingy:52's barometer (LPS22HB) gives the barometer grade source (:mod:`downhill_live.core.
grade`) to any set-up: the Thingy alone (its motion stream for the strikes), or beside another
sensor (an H10 for the strikes, the Thingy for the pressure).

Layout, per the Nordic Thingy:52 firmware (NordicSemiconductor/Nordic-Thingy52-FW,
``include/ble_services/ble_tes.h``: ``ble_tes_pressure_t``, packed; ``source/modules/
m_environment.c``: ``pressure_conv_data``): the Thingy Environment Service
``EF680200-9B35-4933-9B10-52FFA9740042``, pressure characteristic ``EF680202-...`` (notify),
5 bytes, little-endian::

    int32  integer part, hPa
    uint8  decimal part, hundredths of hPa (0..99: the firmware stores ``(p - int(p)) * 100``)

The notification interval is the environment configuration's ``pressure_interval_ms``
(``EF680206-...``, 50..60000 ms; the ``thingy52`` profile's start write sets 100 ms).
Time is the receive time (the Thingy sends no timestamp).

Here side by side: :class:`ThingyPressure` (``from_bytes`` / ``__bytes__``; the virtual Thingy
sends ``bytes(ThingyPressure(...))``), :class:`ThingyPressureDecoder` and :data:`DECODER`.
"""

from __future__ import annotations

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

#: Thingy Environment Service and its pressure and configuration characteristics
THINGY_ENV_SERVICE_UUID = "ef680200-9b35-4933-9b10-52ffa9740042"
THINGY_PRESSURE_UUID = "ef680202-9b35-4933-9b10-52ffa9740042"
THINGY_ENV_CONFIG_UUID = "ef680206-9b35-4933-9b10-52ffa9740042"

_LAYOUT = struct.Struct("<iB")
#: the plausible range of a barometer on a runner (hPa): outside it the packet is corrupt
MIN_HPA, MAX_HPA = 300.0, 1200.0


@dataclass(frozen=True, slots=True)
class ThingyPressure:
    """One pressure notification: ``hpa`` (integer part + hundredths).

    Examples
    --------
    >>> bytes(ThingyPressure(1013.25)).hex(" ")
    'f5 03 00 00 19'
    >>> ThingyPressure.from_bytes(bytes.fromhex("f503000019")).pressure_pa
    101325.0
    """

    hpa: float

    @property
    def pressure_pa(self) -> float:
        """The pressure in Pa."""
        return self.hpa * 100.0

    @classmethod
    def from_bytes(cls, data: bytes) -> ThingyPressure:
        """Parse a notification; :class:`DecodeError` when it is not 5 bytes, its decimal part
        is not 0..99, or the pressure is outside :data:`MIN_HPA`..:data:`MAX_HPA`."""
        if len(data) != _LAYOUT.size:
            raise DecodeError(
                f"Thingy pressure of {len(data)} bytes, expected {_LAYOUT.size} "
                "(int32 hPa, uint8 hundredths)",
                kind=DecodeErrorKind.BAD_LENGTH,
            )
        integer, decimal = _LAYOUT.unpack(data)
        if decimal > 99:
            raise DecodeError(
                f"Thingy pressure decimal part {decimal} is not 0..99 hundredths of hPa",
                kind=DecodeErrorKind.BAD_VALUE,
            )
        hpa = integer + decimal / 100.0
        if not MIN_HPA <= hpa <= MAX_HPA:
            raise DecodeError(
                f"Thingy pressure {hpa:.2f} hPa is outside {MIN_HPA:g}..{MAX_HPA:g} hPa",
                kind=DecodeErrorKind.BAD_VALUE,
            )
        return cls(hpa)

    def __bytes__(self) -> bytes:
        hundredths = round(self.hpa * 100.0)
        return _LAYOUT.pack(hundredths // 100, hundredths % 100)


class PressureReading(NamedTuple):
    """A barometer reading at receive time ``t_rx_s``."""

    t_rx_s: float
    pressure_pa: float


class ThingyPressureDecoder(ReadingsDecoder[PressureReading]):
    """Pressure notifications -> :class:`PressureReading` s for :meth:`take_pressure` (the
    session gives each to the gait core with the next acceleration sample); :meth:`decode`
    returns empty ``Samples`` (no acceleration on this stream).

    Examples
    --------
    >>> dec = ThingyPressureDecoder()
    >>> _ = dec.decode(Packet(2.0, "pressure", bytes(ThingyPressure(987.5))))
    >>> dec.take_pressure()
    [PressureReading(t_rx_s=2.0, pressure_pa=98750.0)]
    """

    def _read(self, packet: Packet) -> PressureReading:
        return PressureReading(packet.t_rx_s, ThingyPressure.from_bytes(packet.payload).pressure_pa)

    def take_pressure(self) -> list[PressureReading]:
        """Readings decoded since the last call."""
        return self._take()


def _make(stream: StreamConfig) -> StreamDecoder:
    return ThingyPressureDecoder(stream=stream.name)


#: the registry entry of ``decoder: thingy_pressure``
DECODER = Decoder(
    name="thingy_pressure",
    description="Nordic Thingy:52 barometric pressure (Environment service, hPa)",
    has_acceleration=False,
    parse=parse_no_params,
    make=_make,
)


__all__ = [
    "DECODER",
    "THINGY_ENV_CONFIG_UUID",
    "THINGY_ENV_SERVICE_UUID",
    "THINGY_PRESSURE_UUID",
    "PressureReading",
    "ThingyPressure",
    "ThingyPressureDecoder",
]
