"""Properties of the decoders on generated inputs (hypothesis): round trips against independent
encoders, and fuzzing (random bytes end in DecodeError with a kind, never another exception)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from downhill_live.config.firmware import (
    load_firmware_profile,
)
from downhill_live.decode import (
    make_decoder,
)
from downhill_live.decode.polar_pmd import (
    PmdControlResponse,
    PmdOpCode,
    decode_data_frame,
    decode_delta_frame,
)
from downhill_live.decode.rsc import (
    RscMeasurement,
)
from downhill_live.errors import DecodeError, DecodeErrorKind
from downhill_live.types import Packet
from tests.reference.thingy52 import (
    THINGY_RAW_DATA_UUID,
    ThingyRawMotion,
    decode_raw_motion,
)
from tests.unit.test_decoders import (
    _decode_everything,
    _delta_frames,
    _encode_delta,
    _header,
    _rsc_payloads,
)


@given(
    op=st.sampled_from(list(PmdOpCode)),
    kind=st.integers(0, 255),
    error=st.integers(0, 255),
    more=st.booleans(),
    params=st.binary(max_size=40),
)
def test_control_response_round_trip(
    op: PmdOpCode, kind: int, error: int, more: bool, params: bytes
) -> None:
    resp = PmdControlResponse(op, kind, error, more, params)
    assert PmdControlResponse.from_bytes(bytes(resp)) == resp
    assert bytes(PmdControlResponse.from_bytes(bytes(resp))) == bytes(resp)


@given(_delta_frames())
@settings(max_examples=200)
def test_delta_frames_match_independent_encoder(frame: tuple[list[int], list]) -> None:
    ref, blocks = frame
    expected = [ref]
    for _, deltas in blocks:
        for d in deltas:
            expected.append([a + b for a, b in zip(expected[-1], d, strict=True)])
    content = _encode_delta(ref, blocks)
    assert decode_delta_frame(content, channels=3, resolution_bits=16).tolist() == expected
    decoded = decode_data_frame(_header(0x81) + content, sample_rate_hz=100, factor=2.0)
    assert decoded.raw.tolist() == expected
    np.testing.assert_allclose(decoded.acc_g, np.array(expected) * 2.0 / 1000)
    assert decoded.t_s.shape == (len(expected),)


@given(st.binary(max_size=300))
@settings(max_examples=500)
def test_fuzz_random_bytes(data: bytes) -> None:
    _decode_everything(data)


@given(
    frame_type=st.sampled_from([0x00, 0x01, 0x02, 0x80, 0x81, 0x03, 0xFF]),
    timestamp=st.integers(0, 2**64 - 1),
    content=st.binary(max_size=300),
)
@settings(max_examples=500)
def test_fuzz_acc_frames(frame_type: int, timestamp: int, content: bytes) -> None:
    _decode_everything(_header(frame_type, timestamp) + content)


@given(st.binary(max_size=40))
def test_fuzz_control_point_responses(params: bytes) -> None:
    _decode_everything(bytes.fromhex("F0 01 02 00 00") + params)


@given(_rsc_payloads, st.booleans())
def test_rsc_bytes_round_trip(payload: bytes, one_foot: bool) -> None:
    m = RscMeasurement.from_bytes(payload, cadence_one_foot=one_foot)
    assert bytes(m) == payload
    assert RscMeasurement.from_bytes(bytes(m), cadence_one_foot=one_foot) == m


@given(
    speed=st.integers(0, 0xFFFF),
    cadence=st.integers(0, 0xFF),
    stride=st.none() | st.integers(0, 0xFFFF),
    distance=st.none() | st.integers(0, 0xFFFF_FFFF),
    running=st.booleans(),
)
def test_rsc_object_round_trip(
    speed: int, cadence: int, stride: int | None, distance: int | None, running: bool
) -> None:
    m = RscMeasurement(
        speed / 256,
        cadence,
        None if stride is None else stride / 100,
        None if distance is None else distance / 10,
        running,
    )
    assert RscMeasurement.from_bytes(bytes(m)) == m


@given(st.binary(min_size=18, max_size=18))
def test_thingy_raw_round_trip(payload: bytes) -> None:
    assert bytes(ThingyRawMotion.from_bytes(payload)) == payload


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(st.binary(min_size=18, max_size=18), st.binary(max_size=40)),
        min_size=1,
        max_size=30,
    )
)
def test_thingy52_profile_layout_agrees_with_the_reference_decoder(payloads: list[bytes]) -> None:
    # the bundled profile's declarative layout against Nordic's structs, packet by packet: same
    # acceleration, same time (sample count / 200 Hz: the packets carry no counter), same refusals
    firmware = load_firmware_profile("thingy52")
    stream = firmware.streams["raw"]
    assert stream.decoder == "layout" and stream.characteristic == THINGY_RAW_DATA_UUID
    dec = make_decoder(firmware, stream)
    n_ok = 0
    for i, payload in enumerate(payloads):
        packet = Packet(0.01 * i, "raw", payload)
        try:
            ref = decode_raw_motion(payload, t_s=n_ok / 200.0)
        except DecodeError as ref_err:
            with pytest.raises(DecodeError) as info:
                dec.decode(packet, i)
            assert info.value.kind in (DecodeErrorKind.TRUNCATED, DecodeErrorKind.BAD_LENGTH)
            assert ref_err.kind is DecodeErrorKind.BAD_LENGTH
            continue
        s = dec.decode(packet, i)
        assert s.acc_g.tolist() == ref.acc_g.tolist()
        assert s.t_s.tolist() == pytest.approx(ref.t_s.tolist(), abs=1e-12)
        assert s.lost == 0
        n_ok += 1


