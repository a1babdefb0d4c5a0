"""Byte-exact tests of the Polar PMD, BLE RSC and Thingy:52 (reference) decoders, the decoder
registry and the error kinds.

Published example payloads are copied from Polar's SDK unit tests (repository
``polarofficial/polar-ble-sdk``); each test names the file and the commit it was read at.
``SDK_TESTS`` below abbreviates the common directory
``sources/Android/android-communications/library/src/test/java/com/polar/androidcommunications/
api/ble/model/gatt/client``.
"""

from __future__ import annotations

import logging
import random
import struct

import numpy as np
import pytest
from hypothesis import strategies as st

from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.config.firmware import (
    bundled_profiles,
    load_firmware_profile,
    parse_firmware_profile,
)
from downhill_live.decode import (
    DECODERS,
    LayoutDecoder,
    PmdAccDecoder,
    RestartingDecoder,
    RscDecoder,
)
from downhill_live.decode.layout import encode_layout_packet
from downhill_live.decode.polar_pmd import (
    H10_ACC,
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    VERITY_SENSE_SDK_MODE_ACC,
    PmdControlResponse,
    PmdErrorCode,
    PmdFrameHeader,
    PmdMeasurementType,
    PmdOpCode,
    PmdSettingType,
    build_settings_request,
    build_start_request,
    build_stop_request,
    decode_data_frame,
    decode_delta_frame,
    encode_pmd_acc_raw,
    encode_settings,
    join_responses,
    parse_control_point_response,
    parse_settings,
    sample_times_s,
)
from downhill_live.decode.rsc import (
    RSC_MEASUREMENT_UUID,
    RSC_SERVICE_UUID,
    RscMeasurement,
)
from downhill_live.errors import ConfigError, DecodeError, DecodeErrorKind, StreamRestartError
from downhill_live.session import Session, apply_settings
from downhill_live.types import Packet, Samples
from tests.reference.thingy52 import (
    THINGY_RAW_DATA_UUID,
    ThingyMotionConfig,
    ThingyRawMotion,
    decode_raw_motion,
)

# ---------------------------------------------------------------------------------------------
# Published payloads (polarofficial/polar-ble-sdk)
# ---------------------------------------------------------------------------------------------

# SDK_TESTS/pmd/model/AccDataTest.kt @ 0aabf34a84cd3760ed5de52350a91340659ace95,
# test `process acc raw data frame type 1`: header (ACC, timestamp 2_000_000_000 ns, frame type 1)
ACC_RAW_TYPE1_HEADER = bytes.fromhex("02 0094357700000000 01")
ACC_RAW_TYPE1_CONTENT = bytes.fromhex(
    "F7 FF FF FF E7 03 F8 FF FE FF E5 03 F9 FF FF FF E5 03 FA FF"
    "FF FF E6 03 FA FF FE FF E6 03 F9 FF FF FF E5 03 F8 FF FF FF"
    "E6 03 F8 FF FE FF E6 03 FA FF FF FF E5 03 FA FF FF FF E7 03"
    "FA FF FF FF E5 03 F8 FF FF FF E6 03 F7 FF FF FF E6 03 F8 FF"
    "FE FF E6 03 F9 FF FE FF E7 03 F9 FF 00 00 E6 03 F9 FF FF FF"
    "E6 03 F7 FF FE FF E5 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03"
    "FA FF 00 00 E6 03 F9 FF FE FF E6 03 F8 FF FF FF E6 03 F8 FF"
    "FF FF E5 03 F9 FF FF FF E6 03 F9 FF FF FF E5 03 FA FF FF FF"
    "E6 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03 F8 FF FE FF E6 03"
    "F9 FF FF FF E6 03 F9 FF FF FF E6 03 F9 FF 00 00 E5 03 F9 FF"
    "FE FF E6 03 F8 FF FE FF E6 03 F7 FF FE FF E6 03"
)

# Same file, test `process acc compressed data type 0`: frame type 0x80, previous timestamp 100,
# factor 2.44E-4f, range 8 g; reference sample (1905, 27376, -29282), then one 10-bit block of
# 56 samples whose first delta is (+190, -105, -85).
ACC_DELTA_TYPE0_HEADER = bytes.fromhex("02 0094357700000000 80")
ACC_DELTA_TYPE0_CONTENT = bytes.fromhex(
    "71 07 F0 6A 9E 8D 0A 38 BE 5C BE BA 2F 96 B3 EE"
    "4B E5 AD FB 42 B9 EB BE 4C FE BA 2F 92 BF EE 4B"
    "E4 B1 FB 12 B9 EC BD 3C 3E BB 2F 8F D3 DE 4B E3"
    "B5 F7 D2 B8 ED BD 30 7E 7B 2F 8B E3 CE 8B E2 BA"
    "F7 A2 B8 EE BC 20 BE 7B 2F 88 F3 CE CB E1 BD EF"
    "52 F8 EF BC 18 FE 3B 2F 84 03 BF CB E0 C2 EF 32"
    "B8 F0 BB 04 4E BC 2E 81 13 AF 0B E0 C6 EF F2 F7"
    "F1 B9 FC 7D BC 2E 7D 27 9F 4B DF CA EB C2 F7 F2"
    "B8 EC CD 7C 2E 7B 37 8F 4B DE CE E3 92 F7 F3 B8"
    "E0 0D FD 2D 77 4B 7F CB DD D2 DF 62 37 F5 B7 D4"
    "4D BD 2D 74 5B 6F CB DC D7 D7 32 37 F6 B5 C8 8D"
    "7D 2D 71 6B 4F 4B DC DC D3 F2 36 F7 B4 BC DD FD"
    "2C 6F 7B 3F 4B DB E0 CF D2 36 F8 B2 B0 2D BE 2C"
    "6C 8F 1F CB DA E3 C7 A2 76 F9"
)

# Same file, test `process acc compressed data type 1`: timestamp 0x65 = 101 ns, frame type 0x81,
# previous timestamp 100, factor 1.0; reference (-15, 20, 1008), one 6-bit block of 1 sample.
ACC_DELTA_TYPE1 = bytes.fromhex("02 6500000000000000 81  F1FF 1400 F003 06 01 7B 0F 08")


# ---------------------------------------------------------------------------------------------
# PMD: published examples
# ---------------------------------------------------------------------------------------------


def test_uuids_are_lowercase_128_bit() -> None:
    for uuid in (PMD_SERVICE_UUID, PMD_CONTROL_POINT_UUID, PMD_DATA_UUID, THINGY_RAW_DATA_UUID):
        assert len(uuid) == 36 and uuid == uuid.lower()
    assert PMD_DATA_UUID == "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
    assert RSC_SERVICE_UUID == "00001814-0000-1000-8000-00805f9b34fb"
    assert RSC_MEASUREMENT_UUID == "00002a53-0000-1000-8000-00805f9b34fb"


def test_acc_raw_type1_sdk_example() -> None:
    frame = decode_data_frame(ACC_RAW_TYPE1_HEADER + ACC_RAW_TYPE1_CONTENT, sample_rate_hz=52)
    assert frame.measurement_type is PmdMeasurementType.ACC
    assert frame.timestamp_ns == 2_000_000_000
    assert (frame.frame_type, frame.compressed) == (1, False)
    assert frame.n_samples == len(ACC_RAW_TYPE1_CONTENT) // 2 // 3 == 36
    assert frame.raw[0].tolist() == [-9, -1, 999]
    assert frame.raw[1].tolist() == [-8, -2, 997]
    np.testing.assert_allclose(frame.acc_g[0], [-0.009, -0.001, 0.999])
    assert frame.acc_g.shape == (36, 3) and frame.acc_g.dtype == np.float64
    # last sample at the timestamp, earlier ones 1/52 s apart
    assert frame.t_s[-1] == 2.0
    np.testing.assert_allclose(np.diff(frame.t_s), 1 / 52, rtol=1e-9)


def test_acc_compressed_type0_sdk_example() -> None:
    factor = float(np.float32(2.44e-4))
    frame = decode_data_frame(
        ACC_DELTA_TYPE0_HEADER + ACC_DELTA_TYPE0_CONTENT,
        factor=factor,
        sample_rate_hz=52,
        previous_timestamp_ns=100,
    )
    assert (frame.frame_type, frame.compressed) == (0, True)
    assert frame.n_samples == 1 + 56
    ref = [1905, 27376, -29282]
    assert frame.raw[0].tolist() == ref
    assert frame.raw[1].tolist() == [ref[0] + 190, ref[1] - 105, ref[2] - 85]
    # SDK: mG = (factor * sample * 1000f).toInt(), i.e. type-0 compressed data is in g * factor
    sdk_mg = np.trunc(np.float32(factor) * frame.raw[:2].astype(np.float32) * np.float32(1000))
    np.testing.assert_allclose(frame.acc_g[:2] * 1000, sdk_mg, atol=1.0)
    assert np.all(np.abs(frame.acc_g) <= 8.0)  # "validate data in range" (8 g)
    # SDK: samples spread evenly over (previous, timestamp]
    delta_ns = (2_000_000_000 - 100) / 57
    assert frame.t_s[-1] == 2.0
    assert frame.t_s[0] == pytest.approx((100 + delta_ns) / 1e9, abs=1e-9)


def test_acc_compressed_type1_sdk_example() -> None:
    frame = decode_data_frame(ACC_DELTA_TYPE1, sample_rate_hz=52, previous_timestamp_ns=100)
    assert frame.timestamp_ns == 101
    assert (frame.frame_type, frame.compressed) == (1, True)
    assert frame.raw.tolist() == [[-15, 20, 1008], [-20, 17, 1008]]
    np.testing.assert_allclose(frame.acc_g, [[-0.015, 0.020, 1.008], [-0.020, 0.017, 1.008]])
    # SDK expects sample times 100 and 101 ns (it rounds 100.5 half-to-even)
    assert frame.t_s[-1] == pytest.approx(101e-9, abs=1e-15)
    assert frame.t_s[0] == pytest.approx(100.5e-9, abs=1e-15)


def test_frame_header_sdk_examples() -> None:
    # SDK_TESTS/pmd/BlePmdClientTest.kt @ 0aabf34a84cd3760ed5de52350a91340659ace95
    # `process ecg data`: raw frame type 3, timestamp 946833049921875000
    ecg = PmdFrameHeader.from_bytes(bytes.fromhex("00 386C3172A4D3230D 03 001203111004 00"))
    assert ecg.measurement_type is PmdMeasurementType.ECG
    assert ecg.timestamp_ns == 946_833_049_921_875_000
    assert (ecg.frame_type, ecg.compressed) == (3, False)
    # `process acc data`: timestamp 1, compressed frame type 3
    acc = bytes.fromhex("02 0100000000000000 83 00")
    head = PmdFrameHeader.from_bytes(acc)
    assert (head.measurement_type, head.timestamp_ns) == (PmdMeasurementType.ACC, 1)
    assert (head.frame_type, head.compressed) == (3, True)
    assert bytes(head) == acc[:10]
    with pytest.raises(DecodeError, match="compressed ACC frame type 3"):
        decode_data_frame(acc, sample_rate_hz=52)
    # `process ppg data`: compressed type 0 PPG, timestamp 0x7000000000000000
    ppg = PmdFrameHeader.from_bytes(bytes.fromhex("01 0000000000000070 80 FF"))
    assert ppg.timestamp_ns == 8_070_450_532_247_928_832 and ppg.compressed
    # `process not supported frame type`: PPG with frame type 0x7F -> not an ACC frame here
    with pytest.raises(DecodeError, match="PPG"):
        decode_data_frame(bytes.fromhex("01 386C3172A4D3230D 7F"), sample_rate_hz=52)


def test_control_point_response_sdk_examples() -> None:
    # SDK_TESTS/pmd/BlePmdClientControlPointResponseTest.kt
    # @ 2692dc448e7cc8bdaac65d7f6ac4f48c1aef748f
    ok = parse_control_point_response(bytes.fromhex("F0 01 02 00 00 FF FF FF"))
    assert ok.op_code is PmdOpCode.GET_MEASUREMENT_SETTINGS
    assert ok.measurement_type == 0x02 and ok.measurement is PmdMeasurementType.ACC
    assert ok.ok and ok.error_name == "SUCCESS" and not ok.more
    assert ok.parameters == b"\xff\xff\xff"
    with pytest.raises(DecodeError, match="setting type 0xFF"):
        _ = ok.settings  # "some data", not a settings block
    bad = parse_control_point_response(bytes.fromhex("F0 01 06 07 00"))
    assert bad.measurement is PmdMeasurementType.MAGNETOMETER
    assert bad.error_code == PmdErrorCode.ERROR_INVALID_RESOLUTION
    assert bad.error_name == "ERROR_INVALID_RESOLUTION" and not bad.ok
    assert (bad.more, bad.parameters, bad.settings, bad.factor) == (False, b"", {}, None)


def test_settings_sdk_examples() -> None:
    # SDK_TESTS/pmd/PmdSettingTest.kt @ f83e7bad67ecc691a96dcb5eacf8f72bc40801be
    got = parse_settings(
        bytes.fromhex("00 01 34 00 01 01 10 00 02 04 F5 00 F4 01 E8 03 D0 07 04 01 03")
    )
    assert got == {
        PmdSettingType.SAMPLE_RATE: (52,),
        PmdSettingType.RESOLUTION: (16,),
        PmdSettingType.RANGE: (245, 500, 1000, 2000),
        PmdSettingType.CHANNELS: (3,),
    }
    got = parse_settings(bytes.fromhex("03 02 FF FF FF FF FF 00 00 00 01 01 0E 00"))
    assert got == {PmdSettingType.RANGE_MILLIUNIT: (-1, 0xFF), PmdSettingType.RESOLUTION: (14,)}


def test_start_response_factor() -> None:
    # Constructed per PmdSetting.updateSelectedFromStartResponse: the start response parameters
    # are a settings block whose FACTOR entry is one little-endian float32.
    factor32 = float(np.float32(2.44e-4))
    params = encode_settings({PmdSettingType.FACTOR: factor32})
    assert params[:2] == b"\x05\x01" and params[2:] == struct.pack("<f", factor32)
    resp = PmdControlResponse.from_bytes(bytes.fromhex("F0 02 02 00 00") + params)
    assert resp.op_code is PmdOpCode.REQUEST_MEASUREMENT_START
    assert resp.factor == factor32
    assert PmdControlResponse.from_bytes(bytes.fromhex("F0 02 02 00 00")).factor is None


# ---------------------------------------------------------------------------------------------
# PMD: requests
# ---------------------------------------------------------------------------------------------


def test_start_request_bytes() -> None:
    req = build_start_request("acc", sample_rate_hz=200, resolution_bits=16, range_g=8)
    assert req == bytes.fromhex("02 02 00 01 C8 00 01 01 10 00 02 01 08 00")
    req = build_start_request(
        PmdMeasurementType.ACC, sample_rate_hz=416, resolution_bits=16, range_g=16, channels=3
    )
    assert req == bytes.fromhex("02 02 00 01 A0 01 01 01 10 00 02 01 10 00 04 01 03")
    offline = build_start_request(
        "acc", sample_rate_hz=52, resolution_bits=16, range_g=8, offline=True
    )
    assert offline[1] == 0x82
    assert parse_settings(req[2:])[PmdSettingType.SAMPLE_RATE] == (416,)


def test_start_request_requires_every_setting() -> None:
    with pytest.raises(TypeError):
        build_start_request("acc", sample_rate_hz=200, resolution_bits=16)  # type: ignore[call-arg]
    for bad in (0, -1, 0x10000, True, 2.5):
        with pytest.raises(ValueError):
            build_start_request("acc", sample_rate_hz=bad, resolution_bits=16, range_g=8)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="channels"):
        build_start_request("acc", sample_rate_hz=200, resolution_bits=16, range_g=8, channels=256)
    with pytest.raises(ValueError, match="unknown PMD measurement"):
        build_start_request("accel", sample_rate_hz=200, resolution_bits=16, range_g=8)


def test_stop_and_settings_requests() -> None:
    assert build_stop_request() == b"\x03\x02"
    assert build_stop_request("gyro") == b"\x03\x05"
    assert build_settings_request("acc") == b"\x01\x02"
    assert build_settings_request("acc", sdk_mode=True) == b"\x04\x02"
    assert build_settings_request(2, offline=True) == b"\x01\x82"
    with pytest.raises(ValueError):
        build_stop_request(4)


def test_capability_tables() -> None:
    assert H10_ACC.sample_rates_hz == (25, 50, 100, 200) and H10_ACC.ranges_g == (2, 4, 8)
    assert VERITY_SENSE_SDK_MODE_ACC.sample_rates_hz[-1] == 416
    assert VERITY_SENSE_SDK_MODE_ACC.ranges_g[-1] == 16


def test_join_responses() -> None:
    first = PmdControlResponse(PmdOpCode.GET_MEASUREMENT_SETTINGS, 2, 0, True, b"\x00\x01")
    second = PmdControlResponse(PmdOpCode.GET_MEASUREMENT_SETTINGS, 2, 0, False, b"\x34\x00")
    joined = join_responses(first, second)
    assert (joined.more, joined.settings) == (False, {PmdSettingType.SAMPLE_RATE: (52,)})
    other = PmdControlResponse(PmdOpCode.STOP_MEASUREMENT, 2, 0)
    with pytest.raises(DecodeError, match="continuation"):
        join_responses(first, other)




# ---------------------------------------------------------------------------------------------
# PMD: raw and delta frames against independent encoders
# ---------------------------------------------------------------------------------------------


def _header(frame_type: int, timestamp_ns: int = 10**15) -> bytes:
    return bytes([2]) + timestamp_ns.to_bytes(8, "little") + bytes([frame_type])


def test_raw_8_and_24_bit_frames() -> None:
    frame = decode_data_frame(_header(0) + bytes([0x7F, 0x80, 0xFF]), sample_rate_hz=25)
    assert frame.raw.tolist() == [[127, -128, -1]]
    content = bytes.fromhex("FFFFFF 000080 FFFF7F  010000 000000 E80300")
    frame = decode_data_frame(_header(2) + content, sample_rate_hz=25)
    assert frame.raw.tolist() == [[-1, -8388608, 8388607], [1, 0, 1000]]
    np.testing.assert_allclose(frame.acc_g[1], [0.001, 0.0, 1.0])


def _encode_delta(
    ref: list[int], blocks: list[tuple[int, list[list[int]]]], res_bytes: int = 2
) -> bytes:
    """Independent encoder: reference sample, then [width, count] + LSB-first packed deltas."""
    out = bytearray()
    for value in ref:
        out += (value & ((1 << (8 * res_bytes)) - 1)).to_bytes(res_bytes, "little")
    for width, deltas in blocks:
        out += bytes([width, len(deltas)])
        acc, pos = 0, 0
        for sample in deltas:
            for d in sample:
                assert -(1 << (width - 1)) <= d < (1 << (width - 1))
                acc |= (d & ((1 << width) - 1)) << pos
                pos += width
        out += acc.to_bytes((pos + 7) // 8, "little")
    return bytes(out)


def _bits_needed(values: list[int]) -> int:
    return max(max(v.bit_length() + 1 if v >= 0 else (~v).bit_length() + 1 for v in values), 1)


@st.composite
def _delta_frames(draw: st.DrawFn) -> tuple[list[int], list[tuple[int, list[list[int]]]]]:
    channels = 3
    ref = draw(st.lists(st.integers(-(2**15), 2**15 - 1), min_size=channels, max_size=channels))
    blocks = []
    for _ in range(draw(st.integers(0, 4))):
        limit = 2 ** draw(st.integers(0, 16))
        delta = st.integers(-limit, limit - 1)
        sample = st.lists(delta, min_size=channels, max_size=channels)
        deltas = draw(st.lists(sample, min_size=1, max_size=draw(st.sampled_from([3, 40, 255]))))
        needed = _bits_needed([d for s in deltas for d in s])
        width = draw(st.integers(needed, min(32, needed + 3)))
        blocks.append((width, deltas))
    return ref, blocks




def test_delta_reference_sign_extended_from_resolution() -> None:
    # 14-bit values in 2 bytes: 0x2000 has the 14-bit sign bit set -> -8192
    content = _encode_delta([0x2000, 0x1FFF, 5], [(2, [[1, 0, -1]])])
    assert decode_delta_frame(content, channels=3, resolution_bits=14).tolist() == [
        [-8192, 8191, 5],
        [-8191, 8191, 4],
    ]


def test_sample_times() -> None:
    t = sample_times_s(5_000_000_000, 4, sample_rate_hz=200)
    np.testing.assert_allclose(t, [4.985, 4.99, 4.995, 5.0])
    t = sample_times_s(5_000_000_000, 4, sample_rate_hz=200, previous_timestamp_ns=4_960_000_000)
    np.testing.assert_allclose(t, [4.97, 4.98, 4.99, 5.0])
    with pytest.raises(ValueError):
        sample_times_s(1, 1, sample_rate_hz=0)


# ---------------------------------------------------------------------------------------------
# PMD: malformed payloads
# ---------------------------------------------------------------------------------------------

_REF = bytes.fromhex("0100 0200 0300")

MALFORMED_FRAMES = {
    "empty": (b"", "truncated: PMD frame header needs 10 bytes, got 0"),
    "short header": (bytes(9), "got 9"),
    "unknown measurement type": (
        bytes([4]) + bytes(9) + bytes(6),
        "unknown PMD measurement type 0x04",
    ),
    "ECG frame": (bytes([0]) + bytes(9) + bytes(6), "ECG"),
    "raw type 3": (_header(3) + bytes(6), "unsupported raw ACC frame type 3"),
    "raw no samples": (_header(1), "no samples"),
    "raw partial sample": (_header(1) + bytes(17), "17 bytes, not a multiple of the 6-byte"),
    "compressed type 2": (_header(0x82) + _REF, "unsupported compressed ACC frame type 2"),
    "reference truncated": (_header(0x81) + bytes(5), "reference sample needs 6 bytes, got 5"),
    "block header truncated": (_header(0x81) + _REF + b"\x06", "header needs 2 bytes, got 1"),
    "bit width 0": (_header(0x81) + _REF + b"\x00\x01", "bit width 0"),
    "bit width 33": (_header(0x81) + _REF + b"\x21\x01" + bytes(13), "bit width 33"),
    "zero samples": (_header(0x81) + _REF + b"\x06\x00", "sample count of 0"),
    "block overrun": (
        _header(0x81) + _REF + b"\x06\x0a" + bytes(9),
        "truncated: delta block 1 (10 samples x 3 channels x 6 bits) needs 23 bytes, got 9",
    ),
    "second block overrun": (
        _header(0x81) + _REF + b"\x02\x01\x0d" + b"\x08\x02" + bytes(5),
        "delta block 2",
    ),
}


@pytest.mark.parametrize("name", sorted(MALFORMED_FRAMES))
def test_malformed_frames_raise_decode_error(name: str) -> None:
    payload, message = MALFORMED_FRAMES[name]
    with pytest.raises(DecodeError) as info:
        decode_data_frame(payload, sample_rate_hz=52)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


#: the kind each malformed frame above is raised with
MALFORMED_FRAME_KINDS = {
    "empty": DecodeErrorKind.TRUNCATED,
    "short header": DecodeErrorKind.TRUNCATED,
    "unknown measurement type": DecodeErrorKind.BAD_HEADER,
    "ECG frame": DecodeErrorKind.UNSUPPORTED,
    "raw type 3": DecodeErrorKind.UNSUPPORTED,
    "raw no samples": DecodeErrorKind.BAD_LENGTH,
    "raw partial sample": DecodeErrorKind.BAD_LENGTH,
    "compressed type 2": DecodeErrorKind.UNSUPPORTED,
    "reference truncated": DecodeErrorKind.TRUNCATED,
    "block header truncated": DecodeErrorKind.TRUNCATED,
    "bit width 0": DecodeErrorKind.BAD_VALUE,
    "bit width 33": DecodeErrorKind.BAD_VALUE,
    "zero samples": DecodeErrorKind.BAD_VALUE,
    "block overrun": DecodeErrorKind.TRUNCATED,
    "second block overrun": DecodeErrorKind.TRUNCATED,
}


@pytest.mark.parametrize("name", sorted(MALFORMED_FRAMES))
def test_malformed_frames_carry_their_kind_and_a_detail_free_summary(name: str) -> None:
    payload, _message = MALFORMED_FRAMES[name]
    with pytest.raises(DecodeError) as info:
        decode_data_frame(payload, sample_rate_hz=52)
    err = info.value
    assert err.kind is MALFORMED_FRAME_KINDS[name]
    if err.kind is DecodeErrorKind.TRUNCATED:
        assert err.summary == "truncated" and err.message.startswith("truncated: ")
    assert err.summary in err.message and "(" not in err.summary and ":" not in err.summary


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "needs 4 bytes, got 0"),
        (bytes.fromhex("F0 02 02"), "needs 4 bytes, got 3"),
        (bytes.fromhex("01 02 00 00"), "measurement-stopped"),
        (bytes.fromhex("F0 0A 02 00 00"), "unknown control point op code 0x0A"),
    ],
)
def test_malformed_control_responses(payload: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_control_point_response(payload)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (bytes.fromhex("00 01 34"), "SAMPLE_RATE with 1 values needs 4 bytes, got 3"),
        (bytes.fromhex("00 01 34 00 04"), "needs 2 header bytes, got 1"),
        (bytes.fromhex("09 01 00"), "unknown PMD setting type 0x09"),
        (bytes.fromhex("05 01 00 00 80"), "FACTOR"),
    ],
)
def test_malformed_settings(params: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_settings(params)
    resp = PmdControlResponse.from_bytes(bytes.fromhex("F0 02 02 00 00") + params)
    with pytest.raises(DecodeError):
        _ = resp.factor


# ---------------------------------------------------------------------------------------------
# Fuzz: random bytes give DecodeError or a result, never IndexError / struct.error / ...
# ---------------------------------------------------------------------------------------------


def _decode_everything(data: bytes) -> None:
    for call in (
        lambda: decode_data_frame(data, sample_rate_hz=52, factor=0.5),
        lambda: decode_data_frame(data, sample_rate_hz=52, previous_timestamp_ns=1),
        lambda: decode_delta_frame(data, channels=3, resolution_bits=16),
        lambda: PmdFrameHeader.from_bytes(data),
        lambda: parse_settings(data),
        lambda: PmdControlResponse.from_bytes(data).factor,
        lambda: RscMeasurement.from_bytes(data),
        lambda: RscMeasurement.from_bytes(data, cadence_one_foot=True),
        lambda: ThingyRawMotion.from_bytes(data),
        lambda: ThingyMotionConfig.from_bytes(data),
        lambda: decode_raw_motion(data, t_s=0.0),
    ):
        try:
            call()
        except DecodeError as err:
            assert str(err) and "\n" not in str(err)
            assert err.kind is not DecodeErrorKind.MALFORMED  # every raiser says what is wrong








# ---------------------------------------------------------------------------------------------
# RSC
# ---------------------------------------------------------------------------------------------


def test_rsc_sdk_examples() -> None:
    # SDK_TESTS/BleRscClientTest.kt @ 8604a9b9727a2e1c4a7297f0e3c027519f0b60c8
    # processServiceData_whenMeasurementWithStrideAndDistance_emitsParsedNotification:
    # speed 4660, cadence 86, stride 1929, distance 16909060, running, both fields present
    payload = bytes.fromhex("07 34 12 56 89 07 04 03 02 01")
    m = RscMeasurement.from_bytes(payload)
    assert m == RscMeasurement(4660 / 256, 86, 19.29, 1_690_906.0, True)
    assert bytes(m) == payload
    # ..._whenMeasurementWithoutOptionalFields_...: speed 10, cadence 20, nothing else
    m = RscMeasurement.from_bytes(bytes.fromhex("00 0A 00 14"))
    assert (m.speed_mps, m.cadence_spm, m.stride_m, m.distance_m, m.running) == (
        10 / 256,
        20,
        None,
        None,
        False,
    )
    assert bytes(m) == bytes.fromhex("00 0A 00 14")


def test_rsc_truncated() -> None:
    payload = bytes.fromhex("07 34 12 56 89 07 04 03 02 01")
    for n in range(len(payload)):
        with pytest.raises(DecodeError, match="truncated"):
            RscMeasurement.from_bytes(payload[:n])


def test_rsc_reserved_bits_and_trailing_bytes_ignored() -> None:
    base = bytes.fromhex("05 00 02 B4 C8 00")
    m = RscMeasurement.from_bytes(base)
    assert RscMeasurement.from_bytes(bytes([base[0] | 0xF8]) + base[1:]) == m
    assert RscMeasurement.from_bytes(base + b"\x99\x99") == m
    assert (m.speed_mps, m.cadence_spm, m.stride_m, m.running) == (2.0, 180, 2.0, True)


def test_rsc_one_foot_cadence() -> None:
    m = RscMeasurement.from_bytes(bytes.fromhex("04 00 03 5A"), cadence_one_foot=True)
    assert m.cadence_spm == 180 and m.cadence_one_foot
    assert bytes(m) == bytes.fromhex("04 00 03 5A")
    with pytest.raises(ValueError):
        RscMeasurement(3.0, 181, cadence_one_foot=True)


def test_rsc_range_checks() -> None:
    for kwargs in (
        {"speed_mps": -0.1, "cadence_spm": 0},
        {"speed_mps": 256.0, "cadence_spm": 0},
        {"speed_mps": 1.0, "cadence_spm": 256},
        {"speed_mps": 1.0, "cadence_spm": 1.5},
        {"speed_mps": 1.0, "cadence_spm": 1, "stride_m": 655.36},
        {"speed_mps": 1.0, "cadence_spm": 1, "distance_m": -1.0},
    ):
        with pytest.raises(ValueError):
            RscMeasurement(**kwargs)  # type: ignore[arg-type]


_rsc_payloads = st.builds(
    lambda flags, speed, cadence, stride, distance: (
        struct.pack("<BHB", flags, speed, cadence)
        + (struct.pack("<H", stride) if flags & 1 else b"")
        + (struct.pack("<I", distance) if flags & 2 else b"")
    ),
    st.integers(0, 7),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFF),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF_FFFF),
)






# ---------------------------------------------------------------------------------------------
# Thingy:52
# ---------------------------------------------------------------------------------------------


def test_thingy_raw_motion() -> None:
    # ble_tms_raw_t: accel Q6.10 g, gyro Q11.5 deg/s, compass Q12.4 uT, int16 little-endian
    payload = struct.pack("<9h", 1024, -512, 31 * 1024, 32, -64, 0, 16, 8, -16)
    m = ThingyRawMotion.from_bytes(payload)
    assert m.acc_g == (1.0, -0.5, 31.0)
    assert m.gyro_dps == (1.0, -2.0, 0.0)
    assert m.mag_ut == (1.0, 0.5, -1.0)
    assert bytes(m) == payload
    s = decode_raw_motion(payload, t_s=12.5)
    assert s.acc_g.shape == (1, 3) and s.acc_g.tolist() == [[1.0, -0.5, 31.0]]
    assert s.t_s.tolist() == [12.5]
    for n in (0, 17, 19):
        with pytest.raises(DecodeError, match=f"needs 18 bytes, got {n}"):
            ThingyRawMotion.from_bytes(bytes(n))




def test_thingy_config() -> None:
    payload = struct.pack("<4HB", 1000, 1000, 1000, 100, 0)
    c = ThingyMotionConfig.from_bytes(payload)
    assert (c.motion_freq_hz, c.wake_on_motion) == (100, False)
    assert bytes(c) == payload
    with pytest.raises(DecodeError, match="wake-on-motion"):
        ThingyMotionConfig.from_bytes(payload[:-1] + b"\x02")
    with pytest.raises(DecodeError, match="needs 9 bytes, got 8"):
        ThingyMotionConfig.from_bytes(payload[:-1])




# ---------------------------------------------------------------------------------------------
# The registry: one entry per built-in decoder, asked by the profile parser, the settings and
# the session
# ---------------------------------------------------------------------------------------------


def test_every_bundled_stream_decoder_is_registered_and_makes_its_decoder() -> None:
    assert tuple(DECODERS) == ("layout", "polar_pmd_acc", "sig_rsc", "ftms", "thingy_pressure")
    for name, decoder in DECODERS.items():
        assert decoder.name == name and decoder.description
    for firmware in bundled_profiles():
        for stream in firmware.streams.values():
            decoder = DECODERS[stream.decoder]
            dec = decoder.make(stream)
            assert dec.lost_samples == 0
            assert (decoder.rate_hz(stream) is not None) == decoder.has_acceleration
        accel = any(DECODERS[s.decoder].has_acceleration for s in firmware.streams.values())
        assert firmware.has_acceleration == accel


def test_params_schema_comes_from_the_registry() -> None:
    text = load_firmware_profile("polar-h10").source_text
    with pytest.raises(ConfigError) as info:
        parse_firmware_profile(text.replace("range_g:", "rang_g:"), "h10.yaml")
    allowed = ", ".join(sorted(DECODERS["polar_pmd_acc"].params))
    assert f"streams.acc.params.rang_g: unknown key; allowed here: {allowed}" in str(info.value)
    assert str(info.value).startswith("h10.yaml:")  # with its line number
    text = load_firmware_profile("sig-rsc-footpod").source_text
    stream = parse_firmware_profile(text, "rsc.yaml").streams
    assert {s.params["cadence_one_foot"] for s in stream.values()} <= {True, False}


def test_layout_key_only_with_the_layout_decoder() -> None:
    text = load_firmware_profile("sig-rsc-footpod").source_text
    name = next(iter(parse_firmware_profile(text, "rsc.yaml").streams))
    bad = text.replace("decoder: sig_rsc", "decoder: sig_rsc\n    layout: {}")
    with pytest.raises(ConfigError, match=f"streams.{name}.layout: only allowed with decoder "):
        parse_firmware_profile(bad, "rsc.yaml")


@pytest.mark.parametrize(
    ("profile", "settings", "expect"),
    [
        ("dhl-imu", {"rate_hz": 400, "scale_g": 0.5}, ("layout", {"rate_hz": 400.0})),
        ("polar-h10", {"rate_hz": 100, "factor": 2}, ("params", {"sample_rate_hz": 100})),
        ("polar-h10", {"resolution_bits": 14}, ("params", {"resolution_bits": 14})),
        ("sig-rsc-footpod", {"cadence_one_foot": True}, ("params", {"cadence_one_foot": True})),
    ],
)
def test_each_decoder_applies_the_settings_it_takes(
    profile: str, settings: dict[str, object], expect: tuple[str, dict[str, object]]
) -> None:
    base = load_firmware_profile(profile)
    stream = next(iter(apply_settings(base, settings).streams.values()))
    where, values = expect
    for key, value in values.items():
        got = getattr(stream.layout, key) if where == "layout" else stream.params[key]
        assert got == value and type(got) is type(value)
    # settings for other decoders leave a stream alone
    other = {"cadence_one_foot": True} if profile != "sig-rsc-footpod" else {"factor": 2.0}
    assert apply_settings(base, other).streams == base.streams


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"rate_hz": 70000}, "'rate_hz' must be at most 65535"),  # the Polar limit, any profile
        ({"rate_hz": True}, "'rate_hz' must be a positive number"),
        ({"scale_g": float("inf")}, "'scale_g' must be finite"),
        ({"cadence_one_foot": 1}, "'cadence_one_foot' must be true or false"),
        ({"rate": 1}, "unknown setting 'rate'; allowed: cadence_one_foot, factor, range_g"),
    ],
)
def test_settings_are_checked_whatever_the_profile(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        apply_settings(load_firmware_profile("dhl-imu"), settings)


# ---------------------------------------------------------------------------------------------
# Error kinds are data: restarts are told by kind, not by message
# ---------------------------------------------------------------------------------------------


class _Scripted:
    """An inner decoder that decodes one sample per packet, or raises what its script says."""

    def __init__(self, script: list[DecodeError | None]) -> None:
        self.script = script
        self.lost_samples = 0

    def decode(self, packet: Packet, index: int | None = None) -> Samples:
        err = self.script.pop(0) if self.script else None
        if err is not None:
            raise err
        return Samples(np.array([packet.t_rx_s]), np.zeros((1, 3)))


def test_restart_is_told_by_kind_not_by_message() -> None:
    worded = DecodeError("sample counter went backwards (expected 5, got 3)")
    assert worded.kind is DecodeErrorKind.MALFORMED
    restart = DecodeError("clock reset", kind=DecodeErrorKind.RESTART)
    for err, accepted in ((worded, False), (restart, True)):
        scripts: list[list[DecodeError | None]] = [[None, err], []]
        dec = RestartingDecoder(lambda scripts=scripts: _Scripted(scripts.pop(0)))
        dec.decode(Packet(0.0, "acc", b""))
        if accepted:  # 2 s after the last packet: a reconnection, the sensor restarted
            s = dec.decode(Packet(2.0, "acc", b""))
            assert dec.restarts == 1 and s.t_s.tolist() == [2.0]
        else:
            with pytest.raises(DecodeError) as info:
                dec.decode(Packet(2.0, "acc", b""))
            assert info.value is err and dec.restarts == 0


def test_decoders_raise_restarts_with_the_restart_kind() -> None:
    lay = load_firmware_profile("dhl-imu").streams["acc"].layout
    assert lay is not None
    z = np.zeros((2, 3), dtype=np.int64)
    dec = LayoutDecoder(lay, stream="acc")
    dec.decode(Packet(0.0, "acc", encode_layout_packet(lay, {"seq": 10}, z)))
    with pytest.raises(StreamRestartError) as info:
        dec.decode(Packet(0.0, "acc", encode_layout_packet(lay, {"seq": 5}, z)), 7)
    err = info.value
    assert err.kind is DecodeErrorKind.RESTART and err.summary == "sample counter went backwards"
    assert str(err) == "packet 7 on acc: sample counter went backwards (expected 11, got 5)"
    pmd = PmdAccDecoder(sample_rate_hz=200, stream="acc")
    mg = np.zeros((4, 3), dtype=np.int64)
    pmd.decode(Packet(0.0, "acc", encode_pmd_acc_raw(10**9, mg)))
    with pytest.raises(StreamRestartError) as info:
        pmd.decode(Packet(0.0, "acc", encode_pmd_acc_raw(10**8, mg)))
    assert info.value.summary == "frame timestamp went backwards"


def test_wrapped_errors_keep_their_kind_and_summary() -> None:
    for dec, payload in (
        (PmdAccDecoder(sample_rate_hz=52, stream="acc"), bytes(3)),
        (RscDecoder(stream="rsc"), b"\x03\x00"),
    ):
        with pytest.raises(DecodeError) as info:
            dec.decode(Packet(0.0, "x", payload), 4)
        err = info.value
        assert (err.kind, err.summary, err.index) == (DecodeErrorKind.TRUNCATED, "truncated", 4)
        assert str(err).startswith(f"packet 4 on {dec.stream}: truncated: ")


def test_session_counts_and_logs_errors_once_per_kind(caplog: pytest.LogCaptureFixture) -> None:
    firmware = load_firmware_profile("dhl-imu")
    session = Session(firmware, load_cue_profile())
    with caplog.at_level(logging.WARNING):
        for payload in (b"", b"\x01", bytes(9), bytes(11)):
            session.process(Packet(0.0, "acc", payload))
        session.process(Packet(0.0, "gyro", bytes(8)))
        rnd = random.Random(5)  # 5,000 garbage packets of every length: still one line per kind
        for _ in range(5000):
            session.process(Packet(0.0, "acc", rnd.randbytes(rnd.randrange(0, 60))))
    counts = dict(session.stats.decode_errors)
    assert set(counts) <= {k.value for k in DecodeErrorKind} and counts["unknown stream"] == 1
    assert counts["truncated"] >= 2 and counts["bad length"] >= 2
    logged = [r for r in caplog.records if "further errors of this kind" in r.getMessage()]
    assert len(logged) == len(counts)
