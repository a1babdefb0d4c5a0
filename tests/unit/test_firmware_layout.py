"""Firmware profile validation and the declarative layout decoder."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from downhill_live.config.firmware import (
    bundled_profiles,
    load_firmware_profile,
    parse_firmware_profile,
)
from downhill_live.decode.layout import LayoutDecoder, encode_layout_packet
from downhill_live.errors import ConfigError, DecodeError
from downhill_live.types import Packet

GENERIC = """
name: esp32-demo
placement: shank
match: {name_pattern: "^ESP-RUN"}
streams:
  acc:
    characteristic: "12345678-1234-5678-1234-56789abcdef1"
    decoder: layout
    layout:
      endian: big
      header:
        - {name: seq, type: u8}
        - {name: t_ms, type: u32}
      sample:
        - {name: ax, type: i16}
        - {name: ay, type: i16}
        - {name: az, type: i16}
      samples_per_packet: 2
      scale_g: 0.001
      rate_hz: 100
      axis_map: [-ay, ax, az]
      counter: {field: seq, per: packet, modulo: 256}
      timestamp: {field: t_ms, scale_s: 0.001, sample: first}
"""


def test_bundled_profiles_load() -> None:
    names = {p.name for p in bundled_profiles()}
    assert "dhl-imu" in names


def test_hand_built_big_endian_packet_decodes_per_published_layout() -> None:
    prof = parse_firmware_profile(GENERIC, "esp32.yaml")
    assert prof.placement == "shank"
    assert prof.matches("ESP-RUN 01")
    assert not prof.matches("Polar H10")
    dec = LayoutDecoder(prof.streams["acc"].layout, stream="acc")
    # seq=7, t_ms=1500, samples (ax, ay, az) = (1000, -500, 250), (0, 2000, -1000) in mg
    payload = struct.pack(">BIhhhhhh", 7, 1500, 1000, -500, 250, 0, 2000, -1000)
    s = dec.decode(Packet(0.0, "acc", payload))
    np.testing.assert_allclose(s.acc_g, [[0.5, 1.0, 0.25], [-2.0, 0.0, -1.0]])
    np.testing.assert_allclose(s.t_s, [0.0, 0.01])
    # next packet with seq 9 (one packet lost) and a later timestamp
    s2 = dec.decode(Packet(0.1, "acc", struct.pack(">BIhhhhhh", 9, 1540, 0, 0, 0, 0, 0, 0)))
    assert s2.lost == 2
    np.testing.assert_allclose(s2.t_s, [0.04, 0.05])


def test_counter_wraps_without_false_gap() -> None:
    lay = load_firmware_profile("dhl-imu").streams["acc"].layout
    dec = LayoutDecoder(lay)
    counts = np.zeros((4, 3), dtype=np.int64)
    for seq in (65534, 65535, 0, 1):
        s = dec.decode(Packet(0.0, "acc", encode_layout_packet(lay, {"seq": seq}, counts)))
        assert s.lost == 0
    assert s.t_s[0] == pytest.approx(12 / lay.rate_hz)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-32768, 32767), st.integers(-32768, 32767), st.integers(-32768, 32767)
        ),
        min_size=1,
        max_size=40,
    )
)
def test_encode_decode_round_trip(samples: list[tuple[int, int, int]]) -> None:
    lay = load_firmware_profile("dhl-imu").streams["acc"].layout
    counts = np.array(samples, dtype=np.int64)
    s = LayoutDecoder(lay).decode(Packet(0.0, "acc", encode_layout_packet(lay, {"seq": 3}, counts)))
    np.testing.assert_array_equal(s.acc_g, counts * lay.scale_g)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "truncated"),
        (b"\x01\x00\x02", "truncated"),
        (b"\x01\x00" + bytes(7), "whole 6-byte samples"),
    ],
)
def test_malformed_payloads_raise_decode_error(payload: bytes, message: str) -> None:
    dec = LayoutDecoder(load_firmware_profile("dhl-imu").streams["acc"].layout, stream="acc")
    with pytest.raises(DecodeError, match=message) as info:
        dec.decode(Packet(0.0, "acc", payload), index=41)
    assert "packet 41 on acc" in str(info.value)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_decode_or_raise_decode_error(payload: bytes) -> None:
    dec = LayoutDecoder(load_firmware_profile("dhl-imu").streams["acc"].layout)
    try:
        s = dec.decode(Packet(0.0, "acc", payload))
    except DecodeError:
        return
    assert s.acc_g.shape == (len(s.t_s), 3)


def test_counter_going_backwards_is_an_error_not_a_huge_gap() -> None:
    lay = load_firmware_profile("dhl-imu").streams["acc"].layout
    dec = LayoutDecoder(lay)
    z = np.zeros((2, 3), dtype=np.int64)
    dec.decode(Packet(0.0, "acc", encode_layout_packet(lay, {"seq": 10}, z)))
    with pytest.raises(DecodeError, match="backwards"):
        dec.decode(Packet(0.0, "acc", encode_layout_packet(lay, {"seq": 5}, z)))


@pytest.mark.parametrize(
    ("mutation", "where"),
    [
        (
            ("rate_hz: 100", "rate_hz: fast"),
            "esp32.yaml:20: streams.acc.layout.rate_hz: must be a number",
        ),
        (
            ("axis_map: [-ay, ax, az]", "axis_map: [-ay, ax, qz]"),
            "streams.acc.layout.axis_map[2]: 'qz' is not a sample field",
        ),
        (("decoder: layout", "decoder: magic"), "streams.acc.decoder: must be one of"),
        (
            ("scale_g: 0.001", "scale_g: 0.001\n      scal_g: 2"),
            "streams.acc.layout.scal_g: unknown key",
        ),
        (("type: u32", "type: u64"), "streams.acc.layout.header[1].type: must be one of"),
        (
            ('name_pattern: "^ESP-RUN"', 'name_pattern: "(["'),
            "match.name_pattern: invalid regular expression",
        ),
    ],
)
def test_profile_errors_name_file_line_and_key(mutation: tuple[str, str], where: str) -> None:
    text = GENERIC.replace(*mutation)
    with pytest.raises(ConfigError) as info:
        parse_firmware_profile(text, "esp32.yaml")
    assert where in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_profile_name_lists_bundled() -> None:
    with pytest.raises(ConfigError, match="dhl-imu"):
        load_firmware_profile("no-such-sensor")
