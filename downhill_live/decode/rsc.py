"""The ``sig_rsc`` decoder: Bluetooth SIG Running Speed and Cadence (RSC) Measurement,
characteristic 0x2A53.

Here side by side: :class:`RscMeasurement` (``from_bytes`` / ``__bytes__``, the virtual foot pod
sends ``bytes(RscMeasurement.nearest(...))``), :class:`RscDecoder` (cadence-only steps), its
``params`` and stream setting (``cadence_one_foot``) and :data:`DECODER`, the registry entry.

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

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from downhill_live.config.yamlio import Checker
from downhill_live.decode.base import (
    NO_SAMPLES,
    Decoder,
    ParsedStream,
    Setting,
    StreamConfig,
    StreamDecoder,
    replace_params,
)
from downhill_live.errors import DecodeError, DecodeErrorKind
from downhill_live.types import Packet, Samples, Step, make_step

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

#: RSC: no steps are synthesized across a receive-time gap longer than this.
RSC_MAX_GAP_S = 5.0


def _counts(name: str, value: float, per_unit: int, limit: int) -> int:
    """``value`` in whole ``1 / per_unit`` steps (rounded), range-checked against ``0..limit``."""
    n = round(value * per_unit)
    if not 0 <= n <= limit:
        raise ValueError(f"{name} {value!r} is outside 0..{limit / per_unit:g}")
    return n


#: the last payload decoded and its measurement: a live packet is decoded twice, by the
#: session's decoder and by the odometer (a sink that sees the raw packet); the same bytes
#: object gives the same (frozen) measurement without decoding it again
_LAST: list[Any] = [None, None, None]

#: Step's defaults of the fields a pod does not measure (gct_ms .. replaces_previous), its own
#: objects
_STEP_DEFAULTS = tuple(
    Step.__dataclass_fields__[name].default
    for name in ("gct_ms", "peak_axial_g", "undersampled", "clipped", "provisional", "replaces_previous")
)


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
        memo = _LAST
        if data is memo[0] and cadence_one_foot is memo[1] and cls is RscMeasurement:
            return memo[2]
        raw = data
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
        m = cls(
            speed_mps=speed / SPEED_PER_MPS,
            cadence_spm=cadence * 2 if cadence_one_foot else cadence,
            stride_m=stride_m,
            distance_m=distance_m,
            running=bool(flags & FLAG_RUNNING),
            cadence_one_foot=cadence_one_foot,
        )
        if type(raw) is bytes and cls is RscMeasurement:  # immutable: safe to hand out again
            memo[:] = (raw, cadence_one_foot, m)
        return m

    @classmethod
    def nearest(
        cls,
        *,
        speed_mps: float,
        cadence_spm: float,
        stride_m: float | None = None,
        distance_m: float | None = None,
        running: bool = False,
        cadence_one_foot: bool = False,
    ) -> RscMeasurement:
        """The measurement a pod sends for these values: rounded to the resolution of each
        field and clipped to its range (a one-foot pod's cadence to an even number).

        Examples
        --------
        >>> m = RscMeasurement.nearest(speed_mps=3.001, cadence_spm=171.2, stride_m=700.0,
        ...                            cadence_one_foot=True)
        >>> m.speed_mps, m.cadence_spm, m.stride_m
        (3.0, 172, 655.35)
        """
        top = 0x1FE if cadence_one_foot else 0xFF
        cadence = round(cadence_spm / 2) * 2 if cadence_one_foot else round(cadence_spm)
        return cls(
            speed_mps=min(round(speed_mps * SPEED_PER_MPS), 0xFFFF) / SPEED_PER_MPS,
            cadence_spm=max(0, min(cadence, top)),
            stride_m=None if stride_m is None else min(round(stride_m, 2), _MAX_STRIDE_M),
            distance_m=None if distance_m is None else min(round(distance_m, 1), _MAX_DISTANCE_M),
            running=running,
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


class RscDecoder:
    """SIG Running Speed and Cadence measurements -> cadence-only steps.

    An RSC pod sends speed and cadence about once a second, not acceleration, so
    :meth:`decode` returns empty ``Samples`` and keeps the measurement in :attr:`measurement_`.
    Steps are synthesized from the cadence: between two measurements, at the cadence of the
    earlier one, one :class:`~downhill_live.types.Step` per step (``peak_g`` and ``grade_pct``
    unknown, never on a descent), none across a receive-time gap of more than
    :data:`RSC_MAX_GAP_S`. Time is the recorded receive time (RSC has no sensor time).

    Parameters
    ----------
    cadence_one_foot : bool
        The pod sends one foot's cadence (see the module notes).
    stream : str
        Stream name for error messages.
    max_gap_s : float
        No steps across a receive-time gap longer than this.

    Examples
    --------
    >>> dec = RscDecoder()
    >>> _ = dec.decode(Packet(0.0, "rsc", bytes.fromhex("04 0003 b4")))  # 3 m/s, 180 spm
    >>> _ = dec.decode(Packet(1.0, "rsc", bytes.fromhex("04 0003 b4")))
    >>> steps = dec.take_steps()
    >>> len(steps), steps[0].cadence_spm, dec.measurement_.speed_mps
    (3, 180.0, 3.0)
    """

    def __init__(
        self,
        *,
        cadence_one_foot: bool = False,
        stream: str = "",
        max_gap_s: float = RSC_MAX_GAP_S,
    ) -> None:
        self.cadence_one_foot = cadence_one_foot
        self.stream = stream
        self.max_gap_s = max_gap_s
        self.lost_samples = 0
        self.measurement_: RscMeasurement | None = None
        self._t_prev_s: float | None = None
        self._phase = 0.0
        self._steps: list[Step] = []

    def decode(self, packet: Packet, index: int | None = None) -> Samples:
        """Decode one measurement; raises :class:`DecodeError` (state unchanged)."""
        try:
            m = RscMeasurement.from_bytes(packet.payload, cadence_one_foot=self.cadence_one_foot)
        except DecodeError as exc:
            raise exc.at(stream=self.stream, index=index) from None
        t = packet.t_rx_s
        prev, t_prev = self.measurement_, self._t_prev_s
        if prev is not None and t_prev is not None and 0.0 <= t - t_prev <= self.max_gap_s:
            rate_hz = prev.cadence_spm / 60.0
            if rate_hz > 0:
                end = self._phase + rate_hz * (t - t_prev)
                k = math.floor(self._phase) + 1
                cad = float(prev.cadence_spm)
                while k <= end:
                    t_step = t_prev + (k - self._phase) / rate_hz
                    # Step(t_step, cad, nan, nan, False), with the defaults' own objects
                    self._steps.append(
                        make_step(t_step, cad, math.nan, math.nan, False, *_STEP_DEFAULTS)
                    )
                    k += 1
                self._phase = end - math.floor(end)
        else:
            self._phase = 0.0
        self.measurement_ = m
        self._t_prev_s = t
        return NO_SAMPLES

    def take_steps(self) -> list[Step]:
        """Steps synthesized since the last call."""
        steps, self._steps = self._steps, []
        return steps


# ---------------------------------------------------------------------------------------------
# the registry entry

_PARAMS = {"cadence_one_foot": "the pod sends one foot's cadence: double it (default false)"}


def _parse(c: Checker, stream: dict[str, Any], key: str) -> ParsedStream:
    k = f"{key}.params"
    m = c.mapping(stream.get("params", {}), k, _PARAMS)
    one_foot = c.boolean(m.get("cadence_one_foot", False), f"{k}.cadence_one_foot")
    return ParsedStream({"cadence_one_foot": one_foot})


def _make(stream: StreamConfig) -> StreamDecoder:
    one_foot = bool(stream.params.get("cadence_one_foot", False))
    return RscDecoder(cadence_one_foot=one_foot, stream=stream.name)


def _apply_settings(stream: StreamConfig, settings: Mapping[str, Any]) -> dict[str, Any]:
    if "cadence_one_foot" not in settings:
        return {}
    return replace_params(stream, cadence_one_foot=settings["cadence_one_foot"])


#: the registry entry of ``decoder: sig_rsc``
DECODER = Decoder(
    name="sig_rsc",
    description="Bluetooth SIG Running Speed and Cadence foot pods (cadence only)",
    has_acceleration=False,
    parse=_parse,
    make=_make,
    params=_PARAMS,
    settings={
        "cadence_one_foot": Setting(
            "RSC pods sending one foot's cadence (true/false)", boolean=True
        )
    },
    apply_settings=_apply_settings,
)


__all__ = [
    "DECODER",
    "RSC_FEATURE_UUID",
    "RSC_MAX_GAP_S",
    "RSC_MEASUREMENT_UUID",
    "RSC_SERVICE_UUID",
    "RscDecoder",
    "RscMeasurement",
]
