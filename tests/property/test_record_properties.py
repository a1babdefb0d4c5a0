"""Properties of the recording format, checked on generated inputs (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from downhill_live.record import MAGIC, read_recording
from downhill_live.types import Packet
from tests.unit.test_record import _write


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 1e5, allow_nan=False),
            st.sampled_from(["acc", "rsc"]),
            st.binary(max_size=300),
        ),
        max_size=40,
    )
)
def test_round_trip_preserves_every_packet(
    tmp_path_factory: pytest.TempPathFactory, items: list
) -> None:
    path = tmp_path_factory.mktemp("rec") / "r.dlr"
    packets = [Packet(t, s, b) for t, s, b in items]
    _write(path, packets)
    rec = read_recording(path)
    assert rec.packets == packets
    assert rec.dropped_tail_bytes == 0
    assert rec.header["streams"] == ["acc", "rsc"]
    assert rec.header["format_version"] == 2


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_one_flipped_byte_costs_at_most_the_record_it_hits(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    path = tmp_path_factory.mktemp("rec") / "r.dlr"
    packets = [Packet(i * 0.01, "acc", bytes([i % 256]) * (5 + i % 30)) for i in range(200)]
    _write(path, packets)
    raw = bytearray(path.read_bytes())
    at = data.draw(st.integers(len(MAGIC), len(raw) - 1), label="offset")
    raw[at] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    path.write_bytes(bytes(raw))
    rec = read_recording(path)  # a flip in one header copy is survived too
    assert rec.header["streams"] == ["acc", "rsc"]
    lost = [p for p in packets if p not in rec.packets]
    assert len(lost) <= 1
    assert all(p in packets for p in rec.packets)  # nothing invented
    assert bool(lost) == bool(rec.skipped or rec.dropped_tail_bytes)


