"""Session: the batch path (process_many) gives exactly what packet-by-packet processing gives."""

from __future__ import annotations

import random

import pytest

from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.record import read_recording
from downhill_live.session import session_from_recording
from downhill_live.types import Packet
from tests.conftest import RECORDINGS


def _damaged(packets: list[Packet], seed: int) -> list[Packet]:
    """Malformed, truncated, duplicated (counter backwards) and unknown-stream packets."""
    rng = random.Random(seed)
    out = list(packets)
    for _ in range(12):
        k = rng.randrange(1, len(out) - 1)
        p = out[k]
        kind = rng.choice(["truncate", "odd", "duplicate", "stream", "drop"])
        if kind == "truncate":
            out[k] = Packet(p.t_rx_s, p.stream, p.payload[:3])
        elif kind == "odd":
            out[k] = Packet(p.t_rx_s, p.stream, p.payload + b"\x00")
        elif kind == "duplicate":
            out.insert(k + 1, p)
        elif kind == "stream":
            out[k] = Packet(p.t_rx_s, "gyro", p.payload)
        else:
            del out[k]
    return out


@pytest.mark.parametrize("name", ["descent_foot_200hz", "descent_shank_500hz"])
@pytest.mark.parametrize("damage", [None, 1, 2])
def test_process_many_equals_process(name: str, damage: int | None) -> None:
    path = str(RECORDINGS / f"{name}.dlr")
    packets = read_recording(path).packets[:6000]
    if damage is not None:
        packets = _damaged(packets, damage)
    profile = load_cue_profile()
    one, _ = session_from_recording(path, profile)
    for p in packets:
        one.process(p)
    many, _ = session_from_recording(path, profile)
    for k in range(0, len(packets), 777):
        many.process_many(packets[k : k + 777], max_run=500)
    assert len(one.steps) > 20
    assert repr(many.steps) == repr(one.steps)  # exact floats; repr also treats nan == nan
    assert many.cues == one.cues
    assert many.stats == one.stats
    if damage is not None:
        assert sum(one.stats.decode_errors.values()) > 0
