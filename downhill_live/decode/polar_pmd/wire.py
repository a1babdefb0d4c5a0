"""Polar Measurement Data (PMD) service: control point commands and ACC data frames.

Pure functions and small dataclasses, no BLE I/O; each format's parser and its encoder side by
side (``from_bytes`` / ``__bytes__``, :func:`decode_data_frame` / :func:`encode_pmd_acc_raw`
and :func:`encode_pmd_acc_delta`, which the virtual Polar sensors send). Follows the byte layouts of Polar's published
SDK (``polarofficial/polar-ble-sdk``, Android sources under
``sources/Android/android-communications/library/src/main/java/com/polar/androidcommunications/
api/ble/model/gatt/client/pmd/``: ``BlePMDClient.kt``, ``PmdDataFrame.kt``, ``PmdSetting.kt``,
``PmdControlPointResponse.kt``, ``PmdControlPointCommand.kt``, ``model/AccData.kt``,
``model/PmdTimeStampUtils.kt``) and its unit tests.

Wire formats (all integers little-endian)
-----------------------------------------
Control point request (write to :data:`PMD_CONTROL_POINT_UUID`)::

    [op code] [measurement type] [settings...]

with settings as ``[setting type] [count] [value x count]``; sample rate, resolution and range
are uint16, range in milli-units uint32, channels uint8, factor float32.

Control point response (indication on :data:`PMD_CONTROL_POINT_UUID`)::

    0xF0 [op code] [measurement type] [error code] [more] [parameters...]

For a start request the parameters are settings in the same format; the SDK takes the scale
``factor`` (setting type 5, one IEEE-754 float32) from them.

Data frame (notification on :data:`PMD_DATA_UUID`)::

    [measurement type] [timestamp uint64, ns since 2000-01-01T00:00:00, time of the LAST sample]
    [frame type: bit 7 = delta compressed, bits 0-6 = type] [content...]

ACC content:

* raw type 0/1/2: samples of 3 channels of signed 8/16/24-bit integers in mG (the SDK does not
  apply ``factor`` to raw frames);
* compressed type 0 (``0x80``): delta frame with 16-bit reference, values ``* factor`` are in g;
* compressed type 1 (``0x81``): delta frame with 16-bit reference, values ``* factor`` are in mG.

A delta frame is a reference sample (``channels`` values of ``ceil(resolution / 8)`` bytes,
sign-extended from ``resolution`` bits) followed by blocks ``[bit width] [sample count]
[count x channels deltas of bit width bits, packed LSB-first, padded to a whole byte]``. Each
delta is two's complement and is added to the previous sample.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from downhill_live.errors import DecodeError, DecodeErrorKind

#: PMD service and characteristics (Polar's 128-bit vendor UUIDs, ``BlePMDClient.kt``).
PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

#: First byte of every control point response.
CONTROL_POINT_RESPONSE_CODE = 0xF0
#: Seconds between 1970-01-01 (Unix epoch) and 2000-01-01 (PMD epoch), both UTC.
PMD_EPOCH_UNIX_S = 946_684_800

HEADER_SIZE = 10
DELTA_FRAME_BIT = 0x80
FRAME_TYPE_MASK = 0x7F
MEASUREMENT_TYPE_MASK = 0x3F
#: Bit 7 of the measurement-type byte of a request selects offline recording (``PmdRecordingType``).
OFFLINE_RECORDING_BIT = 0x80


class PmdMeasurementType(IntEnum):
    """Measurement types (``PmdMeasurementType.kt``)."""

    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAGNETOMETER = 6
    SKIN_TEMP = 7
    SDK_MODE = 9
    LOCATION = 10
    PRESSURE = 11
    TEMPERATURE = 12
    OFFLINE_RECORDING = 13
    OFFLINE_HR = 14
    OFFLINE_TEMP = 15


class PmdOpCode(IntEnum):
    """Control point op codes, client to sensor (``PmdControlPointCommand.kt``)."""

    GET_MEASUREMENT_SETTINGS = 1
    REQUEST_MEASUREMENT_START = 2
    STOP_MEASUREMENT = 3
    GET_SDK_MODE_MEASUREMENT_SETTINGS = 4
    GET_MEASUREMENT_STATUS = 5
    GET_SDK_MODE_STATUS = 6
    GET_OFFLINE_RECORDING_TRIGGER_STATUS = 7
    SET_OFFLINE_RECORDING_TRIGGER_MODE = 8
    SET_OFFLINE_RECORDING_TRIGGER_SETTINGS = 9


class PmdErrorCode(IntEnum):
    """Control point response error codes (``PmdControlPointResponse.kt``)."""

    SUCCESS = 0
    ERROR_INVALID_OP_CODE = 1
    ERROR_INVALID_MEASUREMENT_TYPE = 2
    ERROR_NOT_SUPPORTED = 3
    ERROR_INVALID_LENGTH = 4
    ERROR_INVALID_PARAMETER = 5
    ERROR_ALREADY_IN_STATE = 6
    ERROR_INVALID_RESOLUTION = 7
    ERROR_INVALID_SAMPLE_RATE = 8
    ERROR_INVALID_RANGE = 9
    ERROR_INVALID_MTU = 10
    ERROR_INVALID_NUMBER_OF_CHANNELS = 11
    ERROR_INVALID_STATE = 12
    ERROR_DEVICE_IN_CHARGER = 13
    ERROR_DISK_FULL = 14


class PmdSettingType(IntEnum):
    """Setting types of requests and responses (``PmdSetting.kt``)."""

    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5


#: struct format of one value of each setting type (little-endian).
_SETTING_FORMAT: dict[PmdSettingType, str] = {
    PmdSettingType.SAMPLE_RATE: "<H",
    PmdSettingType.RESOLUTION: "<H",
    PmdSettingType.RANGE: "<H",
    PmdSettingType.RANGE_MILLIUNIT: "<i",
    PmdSettingType.CHANNELS: "<B",
    PmdSettingType.FACTOR: "<f",
}


@dataclass(frozen=True, slots=True)
class AccCapabilities:
    """Published ACC stream settings of one sensor model (online streaming)."""

    model: str
    sample_rates_hz: tuple[int, ...]
    ranges_g: tuple[int, ...]
    resolution_bits: int = 16
    channels: int = 3


#: Polar H10: "25Hz, 50Hz, 100Hz and 200Hz and range of 2G, 4G and 8G" (SDK README.md,
#: documentation/products/PolarH10.md); data in mG, raw frame type 1.
H10_ACC = AccCapabilities("Polar H10", (25, 50, 100, 200), (2, 4, 8))
#: Polar Verity Sense outside SDK mode: 52 Hz, 8 g (documentation/products/PolarVeritySense.md).
VERITY_SENSE_ACC = AccCapabilities("Polar Verity Sense", (52,), (8,))
#: Polar Verity Sense in SDK mode, online streaming (same document, "SDK Mode capabilities").
VERITY_SENSE_SDK_MODE_ACC = AccCapabilities(
    "Polar Verity Sense (SDK mode)", (26, 52, 104, 208, 416), (2, 4, 8, 16)
)


# ---------------------------------------------------------------------------------------------
# Control point requests
# ---------------------------------------------------------------------------------------------


def _measurement_id(measurement: str | int) -> int:
    if isinstance(measurement, str):
        try:
            return int(PmdMeasurementType[measurement.upper()])
        except KeyError:
            names = ", ".join(t.name.lower() for t in PmdMeasurementType)
            raise ValueError(f"unknown PMD measurement {measurement!r} (one of {names})") from None
    try:
        return int(PmdMeasurementType(measurement))
    except ValueError:
        raise ValueError(f"unknown PMD measurement type {measurement!r}") from None


def _uint(name: str, value: int, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not 1 <= value < (1 << bits):
        raise ValueError(f"{name} must be in 1..{(1 << bits) - 1}, got {value}")
    return value


def encode_settings(settings: dict[PmdSettingType, int | float]) -> bytes:
    """Serialize settings as ``[type] [count=1] [value]`` entries, in the given order.

    Parameters
    ----------
    settings : dict
        One value per setting type (factor as float, all others as integers).

    Returns
    -------
    bytes
        The settings block of a start request (or of a start response's parameters).

    Examples
    --------
    >>> encode_settings({PmdSettingType.SAMPLE_RATE: 200}).hex(" ")
    '00 01 c8 00'
    """
    out = bytearray()
    for key, value in settings.items():
        kind = PmdSettingType(key)
        try:
            packed = struct.pack(_SETTING_FORMAT[kind], value)
        except struct.error as exc:
            raise ValueError(f"setting {kind.name} value {value!r} does not fit: {exc}") from None
        out += bytes((kind, 1)) + packed
    return bytes(out)


def build_start_request(
    measurement: str | int = "acc",
    *,
    sample_rate_hz: int,
    resolution_bits: int,
    range_g: int,
    channels: int | None = None,
    offline: bool = False,
) -> bytes:
    """Control point request to start a measurement stream.

    A start without every setting the sensor requires is rejected by the sensor
    (``ERROR_INVALID_LENGTH`` / ``ERROR_INVALID_PARAMETER``), so rate, resolution and range are
    mandatory. Settings are written in the order sample rate, resolution, range, channels (the
    order used by the SDK). Values are not checked against a model's capabilities (see
    :data:`H10_ACC`, :data:`VERITY_SENSE_SDK_MODE_ACC`); the sensor answers with an error code.

    Parameters
    ----------
    measurement : str or int
        Measurement type name (``"acc"``, ``"gyro"``, ...) or id.
    sample_rate_hz, resolution_bits, range_g : int
        Settings, each sent as uint16 (range in g for ACC; in the measurement's unit otherwise).
    channels : int, optional
        Channel count (uint8), sent only when given.
    offline : bool
        Set bit 7 of the measurement byte (offline recording instead of online streaming).

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        Unknown measurement or a setting that does not fit its field.

    Examples
    --------
    >>> build_start_request("acc", sample_rate_hz=200, resolution_bits=16, range_g=8).hex(" ")
    '02 02 00 01 c8 00 01 01 10 00 02 01 08 00'
    """
    settings: dict[PmdSettingType, int | float] = {
        PmdSettingType.SAMPLE_RATE: _uint("sample_rate_hz", sample_rate_hz, 16),
        PmdSettingType.RESOLUTION: _uint("resolution_bits", resolution_bits, 16),
        PmdSettingType.RANGE: _uint("range_g", range_g, 16),
    }
    if channels is not None:
        settings[PmdSettingType.CHANNELS] = _uint("channels", channels, 8)
    kind = _measurement_id(measurement) | (OFFLINE_RECORDING_BIT if offline else 0)
    return bytes((PmdOpCode.REQUEST_MEASUREMENT_START, kind)) + encode_settings(settings)


def build_stop_request(measurement: str | int = "acc") -> bytes:
    """Control point request to stop a measurement stream.

    Examples
    --------
    >>> build_stop_request("acc").hex(" ")
    '03 02'
    """
    return bytes((PmdOpCode.STOP_MEASUREMENT, _measurement_id(measurement)))


def build_settings_request(
    measurement: str | int = "acc", *, sdk_mode: bool = False, offline: bool = False
) -> bytes:
    """Control point request for the settings a sensor supports for a measurement.

    Parameters
    ----------
    measurement : str or int
        Measurement type name or id.
    sdk_mode : bool
        Ask for the full SDK-mode settings (op code 4) instead of the normal ones (op code 1).
    offline : bool
        Ask about offline recording instead of online streaming.

    Examples
    --------
    >>> build_settings_request("acc").hex(" ")
    '01 02'
    """
    op = (
        PmdOpCode.GET_SDK_MODE_MEASUREMENT_SETTINGS
        if sdk_mode
        else PmdOpCode.GET_MEASUREMENT_SETTINGS
    )
    kind = _measurement_id(measurement) | (OFFLINE_RECORDING_BIT if offline else 0)
    return bytes((op, kind))


# ---------------------------------------------------------------------------------------------
# Control point responses
# ---------------------------------------------------------------------------------------------


def parse_settings(data: bytes) -> dict[PmdSettingType, tuple[int | float, ...]]:
    """Parse a settings block: ``[type] [count] [value x count]`` repeated.

    Like the SDK, a block of zero or one byte means "no settings".

    Raises
    ------
    DecodeError
        Unknown setting type, or a truncated entry.

    Examples
    --------
    >>> parse_settings(bytes.fromhex("00 01 34 00 04 01 03"))
    {<PmdSettingType.SAMPLE_RATE: 0>: (52,), <PmdSettingType.CHANNELS: 4>: (3,)}
    """
    data = bytes(data)
    out: dict[PmdSettingType, tuple[int | float, ...]] = {}
    if len(data) <= 1:
        return out
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise DecodeError(
                f"truncated: setting entry at byte {offset} needs 2 header bytes, "
                f"got {len(data) - offset}",
                kind=DecodeErrorKind.TRUNCATED,
                summary="truncated",
            )
        code, count = data[offset], data[offset + 1]
        try:
            kind = PmdSettingType(code)
        except ValueError:
            raise DecodeError(
                f"unknown PMD setting type 0x{code:02X} at byte {offset}",
                kind=DecodeErrorKind.BAD_VALUE,
            ) from None
        fmt = _SETTING_FORMAT[kind]
        size = struct.calcsize(fmt)
        need = 2 + count * size
        if offset + need > len(data):
            raise DecodeError(
                f"truncated: setting {kind.name} with {count} values needs {need} bytes, "
                f"got {len(data) - offset}",
                kind=DecodeErrorKind.TRUNCATED,
                summary="truncated",
            )
        values = tuple(v for (v,) in struct.iter_unpack(fmt, data[offset + 2 : offset + need]))
        out[kind] = out.get(kind, ()) + values
        offset += need
    return out


@dataclass(frozen=True, slots=True)
class PmdControlResponse:
    """One control point response.

    Attributes
    ----------
    op_code : PmdOpCode
        The request this answers.
    measurement_type : int
        Measurement type byte as sent back by the sensor (may carry the offline bit).
    error_code : int
        0 on success; see :class:`PmdErrorCode` and :attr:`error_name`.
    more : bool
        More response packets follow (parameters continue in them, see :func:`join_responses`).
    parameters : bytes
        Bytes after the ``more`` byte (settings for settings/start responses).

    Examples
    --------
    >>> r = PmdControlResponse.from_bytes(bytes.fromhex("f0 02 02 00 00 05 01 00 00 80 3f"))
    >>> r.ok, r.op_code.name, r.factor
    (True, 'REQUEST_MEASUREMENT_START', 1.0)
    """

    op_code: PmdOpCode
    measurement_type: int
    error_code: int
    more: bool = False
    parameters: bytes = b""

    def __post_init__(self) -> None:
        for name in ("measurement_type", "error_code"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ValueError(f"{name} must be a byte, got {value}")

    @classmethod
    def from_bytes(cls, data: bytes) -> PmdControlResponse:
        """Parse a control point response (``0xF0 op type error [more] [parameters]``).

        Raises
        ------
        DecodeError
            Shorter than 4 bytes, not a response (first byte is not ``0xF0``), or an unknown op
            code.
        """
        data = bytes(data)
        if len(data) < 4:
            raise DecodeError(
                f"truncated: control point response needs 4 bytes, got {len(data)}",
                kind=DecodeErrorKind.TRUNCATED,
                summary="truncated",
            )
        if data[0] != CONTROL_POINT_RESPONSE_CODE:
            hint = " (0x01 is the sensor's measurement-stopped notice)" if data[0] == 0x01 else ""
            raise DecodeError(
                f"not a control point response: first byte 0x{data[0]:02X}, expected 0xF0{hint}",
                kind=DecodeErrorKind.BAD_HEADER,
                summary="not a control point response",
            )
        try:
            op = PmdOpCode(data[1])
        except ValueError:
            raise DecodeError(
                f"unknown control point op code 0x{data[1]:02X}", kind=DecodeErrorKind.BAD_HEADER
            ) from None
        more = len(data) > 4 and data[4] != 0
        return cls(op, data[2], data[3], more, data[5:])

    def __bytes__(self) -> bytes:
        head = (CONTROL_POINT_RESPONSE_CODE, self.op_code, self.measurement_type, self.error_code)
        return bytes((*head, int(self.more))) + self.parameters

    @property
    def ok(self) -> bool:
        """True when the error code is ``SUCCESS``."""
        return self.error_code == PmdErrorCode.SUCCESS

    @property
    def error_name(self) -> str:
        """Name of the error code, e.g. ``"ERROR_INVALID_SAMPLE_RATE"``."""
        try:
            return PmdErrorCode(self.error_code).name
        except ValueError:
            return f"UNKNOWN_ERROR_0x{self.error_code:02X}"

    @property
    def measurement(self) -> PmdMeasurementType | None:
        """Measurement type without the offline bit, or None when unknown."""
        try:
            return PmdMeasurementType(self.measurement_type & MEASUREMENT_TYPE_MASK)
        except ValueError:
            return None

    @property
    def settings(self) -> dict[PmdSettingType, tuple[int | float, ...]]:
        """Parameters parsed as settings (empty unless the response succeeded).

        Raises
        ------
        DecodeError
            The parameters are not a valid settings block.
        """
        return parse_settings(self.parameters) if self.ok else {}

    @property
    def factor(self) -> float | None:
        """Scale factor from a start response (setting ``FACTOR``), or None when absent."""
        values = self.settings.get(PmdSettingType.FACTOR)
        return float(values[0]) if values else None


def parse_control_point_response(payload: bytes) -> PmdControlResponse:
    """Parse a control point response; see :meth:`PmdControlResponse.from_bytes`."""
    return PmdControlResponse.from_bytes(payload)


def join_responses(first: PmdControlResponse, *rest: PmdControlResponse) -> PmdControlResponse:
    """Concatenate the parameters of a response split over several packets (``more`` set).

    Raises
    ------
    DecodeError
        A continuation answers a different op code.
    """
    params = first.parameters
    more = first.more
    for part in rest:
        if part.op_code != first.op_code:
            raise DecodeError(
                f"continuation answers {part.op_code.name}, expected {first.op_code.name}",
                kind=DecodeErrorKind.BAD_HEADER,
            )
        params += part.parameters
        more = part.more
    return PmdControlResponse(first.op_code, first.measurement_type, first.error_code, more, params)


# ---------------------------------------------------------------------------------------------
# Data frames
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PmdFrameHeader:
    """The 10-byte header of every PMD data frame."""

    measurement_type: PmdMeasurementType
    timestamp_ns: int
    frame_type: int
    compressed: bool

    @classmethod
    def from_bytes(cls, data: bytes) -> PmdFrameHeader:
        """Parse the header (extra bytes after it are ignored).

        Raises
        ------
        DecodeError
            Fewer than 10 bytes, or an unknown measurement type.
        """
        if len(data) < HEADER_SIZE:
            raise DecodeError(
                f"truncated: PMD frame header needs {HEADER_SIZE} bytes, got {len(data)}",
                kind=DecodeErrorKind.TRUNCATED,
                summary="truncated",
            )
        code = data[0] & MEASUREMENT_TYPE_MASK
        try:
            kind = PmdMeasurementType(code)
        except ValueError:
            raise DecodeError(
                f"unknown PMD measurement type 0x{data[0]:02X}", kind=DecodeErrorKind.BAD_HEADER
            ) from None
        timestamp_ns = int.from_bytes(data[1:9], "little")
        ftype = data[9]
        return cls(kind, timestamp_ns, ftype & FRAME_TYPE_MASK, bool(ftype & DELTA_FRAME_BIT))

    def __bytes__(self) -> bytes:
        ftype = self.frame_type | (DELTA_FRAME_BIT if self.compressed else 0)
        return (
            bytes((self.measurement_type,))
            + self.timestamp_ns.to_bytes(8, "little")
            + bytes((ftype,))
        )


@dataclass(frozen=True, slots=True)
class PmdFrame:
    """A decoded ACC data frame.

    Attributes
    ----------
    measurement_type : PmdMeasurementType
    timestamp_ns : int
        Sensor time of the last sample, ns since 2000-01-01T00:00:00.
    frame_type : int
        Frame type without the compression bit.
    compressed : bool
        Delta-compressed frame.
    acc_g : numpy.ndarray
        (N, channels) float64 acceleration in g.
    t_s : numpy.ndarray
        (N,) float64 sample times, s since 2000-01-01; ``t_s[-1]`` is the timestamp.
    raw : numpy.ndarray
        (N, channels) int64 sample values as transmitted (before scaling).
    """

    measurement_type: PmdMeasurementType
    timestamp_ns: int
    frame_type: int
    compressed: bool
    acc_g: np.ndarray
    t_s: np.ndarray
    raw: np.ndarray

    @property
    def n_samples(self) -> int:
        """Number of samples in the frame."""
        return int(self.acc_g.shape[0])


#: raw ACC frame type -> bytes per channel value
_RAW_ACC_BYTES = {0: 1, 1: 2, 2: 3}
#: compressed ACC frame type -> multiplier applied after ``factor`` to get g
_COMPRESSED_ACC_TO_G = {0: 1.0, 1: 1e-3}


def _signed_le(data: bytes, width_bytes: int, channels: int) -> np.ndarray:
    """(N, channels) int64 from packed little-endian signed integers of ``width_bytes``."""
    n = len(data) // width_bytes
    b = np.frombuffer(data, dtype=np.uint8, count=n * width_bytes).reshape(n, width_bytes)
    b = b.astype(np.int64)
    value = np.zeros(n, dtype=np.int64)
    for i in range(width_bytes):
        value |= b[:, i] << (8 * i)
    bits = 8 * width_bytes
    value = np.where(value >= (1 << (bits - 1)), value - (1 << bits), value)
    return value.reshape(-1, channels)


def decode_delta_frame(content: bytes, *, channels: int, resolution_bits: int) -> np.ndarray:
    """Decode delta-compressed content into (N, channels) int64 samples.

    Parameters
    ----------
    content : bytes
        Frame content after the 10-byte header.
    channels : int
        Values per sample.
    resolution_bits : int
        Bits of the reference sample values (sign-extended from this width).

    Returns
    -------
    numpy.ndarray
        The reference sample followed by every delta-decoded sample.

    Raises
    ------
    DecodeError
        Truncated reference sample or block, a bit width outside 1..32, or an empty block.

    Examples
    --------
    >>> decode_delta_frame(bytes.fromhex("0100 0200 0300 0201 0d"), channels=3,
    ...                    resolution_bits=16).tolist()
    [[1, 2, 3], [2, 1, 3]]
    """
    content = bytes(content)
    ref_bytes = math.ceil(resolution_bits / 8)
    need = channels * ref_bytes
    if len(content) < need:
        raise DecodeError(
            f"truncated: delta frame reference sample needs {need} bytes, got {len(content)}",
            kind=DecodeErrorKind.TRUNCATED,
            summary="truncated",
        )
    ref = _signed_le(content[:need], ref_bytes, channels)[0]
    if resolution_bits < 8 * ref_bytes:  # sign-extend from the declared resolution
        sign = 1 << (resolution_bits - 1)
        ref = ((ref & ((1 << resolution_bits) - 1)) ^ sign) - sign
    blocks = [ref.reshape(1, channels)]
    offset = need
    block = 0
    while offset < len(content):
        block += 1
        if offset + 2 > len(content):
            raise DecodeError(
                f"truncated: delta block {block} header needs 2 bytes, got {len(content) - offset}",
                kind=DecodeErrorKind.TRUNCATED,
                summary="truncated",
            )
        width, count = content[offset], content[offset + 1]
        offset += 2
        if not 1 <= width <= 32:
            raise DecodeError(
                f"delta block {block} has bit width {width}, expected 1..32",
                kind=DecodeErrorKind.BAD_VALUE,
            )
        if count == 0:
            raise DecodeError(
                f"delta block {block} has a sample count of 0", kind=DecodeErrorKind.BAD_VALUE
            )
        nbits = width * count * channels
        nbytes = (nbits + 7) // 8
        if offset + nbytes > len(content):
            raise DecodeError(
                f"truncated: delta block {block} ({count} samples x {channels} channels x "
                f"{width} bits) needs {nbytes} bytes, got {len(content) - offset}",
                kind=DecodeErrorKind.TRUNCATED,
                summary="truncated",
            )
        packed = np.frombuffer(content, dtype=np.uint8, count=nbytes, offset=offset)
        bits = np.unpackbits(packed, bitorder="little")[:nbits].reshape(-1, width)
        weights = np.left_shift(np.int64(1), np.arange(width, dtype=np.int64))
        deltas = bits.astype(np.int64) @ weights
        deltas = np.where(deltas >= (1 << (width - 1)), deltas - (1 << width), deltas)
        blocks.append(deltas.reshape(count, channels))
        offset += nbytes
    return np.cumsum(np.concatenate(blocks), axis=0)


def sample_times_s(
    timestamp_ns: int,
    n_samples: int,
    *,
    sample_rate_hz: float,
    previous_timestamp_ns: int | None = None,
) -> np.ndarray:
    """Times of the samples of one frame, s since 2000-01-01; the last one is the timestamp.

    With ``previous_timestamp_ns`` (the timestamp of the previous frame of the same stream) the
    samples are spread evenly over ``(previous, timestamp]``, as the SDK does; this follows the
    sensor clock when the true rate differs from the nominal one. Otherwise they are spaced
    ``1 / sample_rate_hz`` apart, ending at the timestamp.

    Examples
    --------
    >>> sample_times_s(2_000_000_000, 3, sample_rate_hz=100.0).tolist()
    [1.98, 1.99, 2.0]
    """
    if not sample_rate_hz > 0:
        raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz!r}")
    back = np.arange(n_samples - 1, -1, -1, dtype=np.float64)
    if previous_timestamp_ns is not None and 0 < previous_timestamp_ns < timestamp_ns:
        step_s = (timestamp_ns - previous_timestamp_ns) / n_samples / 1e9
    else:
        step_s = 1.0 / sample_rate_hz
    whole, frac = divmod(timestamp_ns, 1_000_000_000)
    return (float(whole) + frac / 1e9) - back * step_s


def decode_data_frame(
    payload: bytes,
    *,
    factor: float = 1.0,
    sample_rate_hz: float,
    channels: int = 3,
    resolution_bits: int = 16,
    previous_timestamp_ns: int | None = None,
) -> PmdFrame:
    """Decode one PMD ACC data notification.

    Parameters
    ----------
    payload : bytes
        The notification value of :data:`PMD_DATA_UUID`.
    factor : float
        Scale factor from the start response (:attr:`PmdControlResponse.factor`). Applied to
        compressed frames only, as in the SDK; raw frames are already in mG.
    sample_rate_hz : float
        Selected sample rate, used to place samples before the frame timestamp.
    channels : int
        Values per sample (3 for ACC).
    resolution_bits : int
        Resolution of the reference sample of compressed frames (16 for ACC).
    previous_timestamp_ns : int, optional
        Timestamp of the previous ACC frame; see :func:`sample_times_s`.

    Returns
    -------
    PmdFrame

    Raises
    ------
    DecodeError
        Truncated header or content, an unknown or non-ACC measurement type, an unsupported
        frame type, content that is not whole samples, bad delta blocks, or no samples.

    Examples
    --------
    >>> f = decode_data_frame(bytes.fromhex("02 0094357700000000 01 e803 0000 18fc"),
    ...                       sample_rate_hz=200)
    >>> f.acc_g.tolist(), f.t_s.tolist()
    ([[1.0, 0.0, -1.0]], [2.0])
    """
    if not 1 <= channels <= 255:
        raise ValueError(f"channels must be in 1..255, got {channels}")
    if not 1 <= resolution_bits <= 32:
        raise ValueError(f"resolution_bits must be in 1..32, got {resolution_bits}")
    payload = bytes(payload)
    head = PmdFrameHeader.from_bytes(payload)
    if head.measurement_type != PmdMeasurementType.ACC:
        raise DecodeError(
            f"measurement type {head.measurement_type.name} is not decoded here (ACC only)",
            kind=DecodeErrorKind.UNSUPPORTED,
            summary=f"measurement type {head.measurement_type.name} is not decoded here",
        )
    content = payload[HEADER_SIZE:]
    if head.compressed:
        if head.frame_type not in _COMPRESSED_ACC_TO_G:
            raise DecodeError(
                f"unsupported compressed ACC frame type {head.frame_type}",
                kind=DecodeErrorKind.UNSUPPORTED,
            )
        raw = decode_delta_frame(content, channels=channels, resolution_bits=resolution_bits)
        acc_g = raw * (float(factor) * _COMPRESSED_ACC_TO_G[head.frame_type])
    else:
        width = _RAW_ACC_BYTES.get(head.frame_type)
        if width is None:
            raise DecodeError(
                f"unsupported raw ACC frame type {head.frame_type}",
                kind=DecodeErrorKind.UNSUPPORTED,
            )
        size = width * channels
        if not content:
            raise DecodeError("raw ACC frame has no samples", kind=DecodeErrorKind.BAD_LENGTH)
        if len(content) % size:
            raise DecodeError(
                f"raw ACC frame type {head.frame_type} content is {len(content)} bytes, "
                f"not a multiple of the {size}-byte sample",
                kind=DecodeErrorKind.BAD_LENGTH,
            )
        raw = _signed_le(content, width, channels)
        acc_g = raw * 1e-3
    t_s = sample_times_s(
        head.timestamp_ns,
        raw.shape[0],
        sample_rate_hz=sample_rate_hz,
        previous_timestamp_ns=previous_timestamp_ns,
    )
    return PmdFrame(
        head.measurement_type,
        head.timestamp_ns,
        head.frame_type,
        head.compressed,
        acc_g.astype(np.float64),
        t_s,
        raw,
    )


# ---------------------------------------------------------------------------------------------
# Data frame encoders (the sensor side: virtual devices, tests)
# ---------------------------------------------------------------------------------------------


def encode_pmd_acc_raw(timestamp_ns: int, acc_mg: np.ndarray) -> bytes:
    """A raw ACC frame, type 1: (N, 3) int16 samples in mG (Polar H10).

    Inverse of :func:`decode_data_frame` for raw type 1 frames.

    Parameters
    ----------
    timestamp_ns : int
        Time of the last sample, ns since 2000-01-01.
    acc_mg : numpy.ndarray
        (N, 3) integers within int16.

    Examples
    --------
    >>> encode_pmd_acc_raw(2_000_000_000, np.array([[1000, 0, -1000]])).hex(" ")
    '02 00 94 35 77 00 00 00 00 01 e8 03 00 00 18 fc'
    """
    head = PmdFrameHeader(PmdMeasurementType.ACC, int(timestamp_ns), 1, False)
    return bytes(head) + np.asarray(acc_mg, dtype="<i2").tobytes()


def _signed_width(values: np.ndarray) -> int:
    """Bits needed to hold every value as two's complement (at least 1)."""
    if values.size == 0:
        return 1
    hi = int(max(values.max(), -values.min() - 1))
    return max(1, hi.bit_length() + 1)


def encode_pmd_acc_delta(
    timestamp_ns: int, counts: np.ndarray, *, frame_type: int = 0, resolution_bits: int = 16
) -> bytes:
    """A delta-compressed ACC frame: reference sample, then one block of deltas.

    Inverse of :func:`decode_data_frame` for compressed frames. ``counts`` (N, 3) are the
    sample values as transmitted (``value * factor`` is g for frame type 0, mG for type 1).
    Deltas are packed LSB-first in the smallest bit width that holds them, as the SDK's
    ``BlePMDClient`` unpacks them.

    Examples
    --------
    >>> encode_pmd_acc_delta(0, np.array([[1, 2, 3], [2, 1, 3]]))[10:].hex(" ")
    '01 00 02 00 03 00 02 01 0d'
    """
    counts = np.asarray(counts, dtype=np.int64)
    n = counts.shape[0]
    if not 1 <= n <= 256:
        raise ValueError(f"a delta frame holds 1..256 samples, got {n}")
    ref_bytes = math.ceil(resolution_bits / 8)
    head = PmdFrameHeader(PmdMeasurementType.ACC, int(timestamp_ns), frame_type, True)
    ref = counts[0] & ((1 << (8 * ref_bytes)) - 1)
    out = bytearray(bytes(head))
    for v in ref:
        out += int(v).to_bytes(ref_bytes, "little")
    if n > 1:
        deltas = np.diff(counts, axis=0)
        width = _signed_width(deltas)
        unsigned = deltas.reshape(-1) & ((1 << width) - 1)
        bits = ((unsigned[:, None] >> np.arange(width)) & 1).astype(np.uint8).reshape(-1)
        out += bytes((width, n - 1)) + np.packbits(bits, bitorder="little").tobytes()
    return bytes(out)


__all__ = [
    "CONTROL_POINT_RESPONSE_CODE",
    "H10_ACC",
    "PMD_CONTROL_POINT_UUID",
    "PMD_DATA_UUID",
    "PMD_EPOCH_UNIX_S",
    "PMD_SERVICE_UUID",
    "VERITY_SENSE_ACC",
    "VERITY_SENSE_SDK_MODE_ACC",
    "AccCapabilities",
    "PmdControlResponse",
    "PmdErrorCode",
    "PmdFrame",
    "PmdFrameHeader",
    "PmdMeasurementType",
    "PmdOpCode",
    "PmdSettingType",
    "build_settings_request",
    "build_start_request",
    "build_stop_request",
    "decode_data_frame",
    "decode_delta_frame",
    "encode_pmd_acc_delta",
    "encode_pmd_acc_raw",
    "encode_settings",
    "join_responses",
    "parse_control_point_response",
    "parse_settings",
    "sample_times_s",
]
