"""Reference decoder: Nordic Thingy:52 Motion Service raw motion data and motion configuration.

Not part of the product: the bundled ``thingy52`` firmware profile decodes the raw motion
characteristic with the declarative ``layout`` decoder. This independent decoder, written from
Nordic's published structs, checks that profile (``tests/test_decoders.py`` decodes the same
packets through both and compares).

Source: NordicSemiconductor/Nordic-Thingy52-FW, ``include/ble_services/ble_tms.h`` (packed
structs ``ble_tms_raw_t`` and ``ble_tms_config_t``, characteristic UUIDs) and
``source/modules/m_motion.c`` (conversion of the driver's 16Q16 values for BLE transfer).

Raw data (characteristic 0x0406, notifications, 18 bytes, little-endian)::

    accel   int16 x3   Q6.10  g       (16Q16 >> 6; 1 LSB = 1/1024 g, clamped to -32..31 g)
    gyro    int16 x3   Q11.5  deg/s   (16Q16 >> 11; 1 LSB = 1/32 deg/s)
    compass int16 x3   Q12.4  uT      (16Q16 >> 12; 1 LSB = 1/16 uT)

One notification carries one sample and no timestamp or counter, so sample times come from the
receive time (or from counting at ``motion_freq_hz`` of the configuration characteristic, 0x0401).
Note: some published JavaScript clients divide the accelerometer by 64; the firmware's
``RAW_Q_FORMAT_ACC_INTEGER_BITS 6`` shift leaves 10 fractional bits, so 1024 is used here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from downhill_live.errors import DecodeError, DecodeErrorKind
from downhill_live.types import Samples

_BASE = "ef68{:04x}-9b35-4933-9b10-52ffa9740042"
#: Thingy Motion Service and its characteristics (Nordic vendor base UUID).
THINGY_MOTION_SERVICE_UUID = _BASE.format(0x0400)
THINGY_MOTION_CONFIG_UUID = _BASE.format(0x0401)
THINGY_RAW_DATA_UUID = _BASE.format(0x0406)

ACC_LSB_PER_G = 1 << 10
GYRO_LSB_PER_DPS = 1 << 5
MAG_LSB_PER_UT = 1 << 4

RAW_SIZE = 18
CONFIG_SIZE = 9
#: ``BLE_TMS_CONFIG_MPUF_MIN`` / ``_MAX``: motion processing frequency limits, Hz.
MOTION_FREQ_MIN_HZ = 1
MOTION_FREQ_MAX_HZ = 200

Vec3 = tuple[float, float, float]


def _to_counts(name: str, vec: Vec3, per_unit: int) -> tuple[int, int, int]:
    counts = tuple(round(v * per_unit) for v in vec)
    if len(counts) != 3 or not all(-0x8000 <= c <= 0x7FFF for c in counts):
        raise ValueError(f"{name} {vec!r} is not 3 values within int16 / {per_unit}")
    return counts


@dataclass(frozen=True, slots=True)
class ThingyRawMotion:
    """One raw motion sample.

    Attributes
    ----------
    acc_g : tuple of float
        Acceleration x, y, z in g (resolution 1/1024 g).
    gyro_dps : tuple of float
        Angular rate x, y, z in deg/s (resolution 1/32 deg/s).
    mag_ut : tuple of float
        Magnetic field x, y, z in uT (resolution 1/16 uT).

    Examples
    --------
    >>> raw = bytes.fromhex("0004 0000 00fc 2000 0000 0000 1000 0000 0000")
    >>> m = ThingyRawMotion.from_bytes(raw)
    >>> m.acc_g, m.gyro_dps, m.mag_ut
    ((1.0, 0.0, -1.0), (1.0, 0.0, 0.0), (1.0, 0.0, 0.0))
    """

    acc_g: Vec3
    gyro_dps: Vec3
    mag_ut: Vec3

    def __post_init__(self) -> None:
        _to_counts("acc_g", self.acc_g, ACC_LSB_PER_G)
        _to_counts("gyro_dps", self.gyro_dps, GYRO_LSB_PER_DPS)
        _to_counts("mag_ut", self.mag_ut, MAG_LSB_PER_UT)

    @classmethod
    def from_bytes(cls, data: bytes) -> ThingyRawMotion:
        """Decode the 18-byte raw data characteristic value.

        Raises
        ------
        DecodeError
            The payload is not exactly 18 bytes.
        """
        if len(data) != RAW_SIZE:
            raise DecodeError(
                f"Thingy raw motion needs {RAW_SIZE} bytes, got {len(data)}",
                kind=DecodeErrorKind.BAD_LENGTH,
            )
        v = struct.unpack("<9h", data)
        return cls(
            (v[0] / ACC_LSB_PER_G, v[1] / ACC_LSB_PER_G, v[2] / ACC_LSB_PER_G),
            (v[3] / GYRO_LSB_PER_DPS, v[4] / GYRO_LSB_PER_DPS, v[5] / GYRO_LSB_PER_DPS),
            (v[6] / MAG_LSB_PER_UT, v[7] / MAG_LSB_PER_UT, v[8] / MAG_LSB_PER_UT),
        )

    def __bytes__(self) -> bytes:
        return struct.pack(
            "<9h",
            *_to_counts("acc_g", self.acc_g, ACC_LSB_PER_G),
            *_to_counts("gyro_dps", self.gyro_dps, GYRO_LSB_PER_DPS),
            *_to_counts("mag_ut", self.mag_ut, MAG_LSB_PER_UT),
        )


@dataclass(frozen=True, slots=True)
class ThingyMotionConfig:
    """Motion configuration characteristic (0x0401, read/write, 9 bytes).

    Examples
    --------
    >>> c = ThingyMotionConfig.from_bytes(bytes.fromhex("e803 e803 e803 c800 01"))
    >>> c.motion_freq_hz, c.wake_on_motion
    (200, True)
    """

    pedo_interval_ms: int
    temp_interval_ms: int
    compass_interval_ms: int
    motion_freq_hz: int
    wake_on_motion: bool

    def __post_init__(self) -> None:
        for name in ("pedo_interval_ms", "temp_interval_ms", "compass_interval_ms"):
            if not 0 <= getattr(self, name) <= 0xFFFF:
                raise ValueError(f"{name} must fit uint16, got {getattr(self, name)}")
        if not 0 <= self.motion_freq_hz <= 0xFFFF:
            raise ValueError(f"motion_freq_hz must fit uint16, got {self.motion_freq_hz}")

    @classmethod
    def from_bytes(cls, data: bytes) -> ThingyMotionConfig:
        """Decode the 9-byte configuration value.

        Raises
        ------
        DecodeError
            Not exactly 9 bytes, or a wake-on-motion byte other than 0/1.
        """
        if len(data) != CONFIG_SIZE:
            raise DecodeError(
                f"Thingy motion config needs {CONFIG_SIZE} bytes, got {len(data)}",
                kind=DecodeErrorKind.BAD_LENGTH,
            )
        pedo, temp, compass, freq, wom = struct.unpack("<4HB", data)
        if wom > 1:
            raise DecodeError(
                f"Thingy motion config wake-on-motion byte is {wom}, expected 0 or 1",
                kind=DecodeErrorKind.BAD_VALUE,
            )
        return cls(pedo, temp, compass, freq, bool(wom))

    def __bytes__(self) -> bytes:
        return struct.pack(
            "<4HB",
            self.pedo_interval_ms,
            self.temp_interval_ms,
            self.compass_interval_ms,
            self.motion_freq_hz,
            int(self.wake_on_motion),
        )


def decode_raw_motion(payload: bytes, *, t_s: float) -> Samples:
    """Decode one raw motion notification into pipeline samples.

    Parameters
    ----------
    payload : bytes
        The 18-byte value of :data:`THINGY_RAW_DATA_UUID`.
    t_s : float
        Time to give the sample (the payload has none): receive time, or count / rate.

    Returns
    -------
    Samples
        ``acc_g`` (1, 3) in g and ``t_s`` (1,).

    Raises
    ------
    DecodeError
        The payload is not 18 bytes.

    Examples
    --------
    >>> s = decode_raw_motion(bytes.fromhex("0004 0000 00fc" + "00" * 12), t_s=0.5)
    >>> s.acc_g.tolist(), s.t_s.tolist()
    ([[1.0, 0.0, -1.0]], [0.5])
    """
    raw = ThingyRawMotion.from_bytes(payload)
    return Samples(
        t_s=np.array([t_s], dtype=np.float64),
        acc_g=np.array([raw.acc_g], dtype=np.float64),
    )


__all__ = [
    "THINGY_MOTION_CONFIG_UUID",
    "THINGY_MOTION_SERVICE_UUID",
    "THINGY_RAW_DATA_UUID",
    "ThingyMotionConfig",
    "ThingyRawMotion",
    "decode_raw_motion",
]
