"""One compiled call per live packet (:mod:`downhill_live.fused`) gives the steps, cues and
counters of the decode + core calls it replaces, bit for bit: on simulated running in every
compiled firmware format, on the bundled recordings, on streams with every kind of trouble,
with a barometer stream beside, with a step-row buffer so small that it fills inside packets
(drained, nothing lost, no hang), and as plain Python (``NUMBA_DISABLE_JIT=1``)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.config.firmware import load_firmware_profile
from downhill_live.decode.layout import encode_layout_packet
from downhill_live.decode.polar_pmd import encode_pmd_acc_delta, encode_pmd_acc_raw
from downhill_live.decode.thingy import ThingyPressure
from downhill_live.fused import FusedPacket
from downhill_live.record import read_recording
from downhill_live.session import Session, recording_firmware
from downhill_live.sim.gait import Segment, simulate
from downhill_live.types import Packet
from tests.conftest import RECORDINGS, run_python
from tests.property.test_fast_paths import OPS, PROFILES, _profile, build_stream

#: profile -> (sample rate, samples per packet)
RUNNING = {
    "dhl-imu": (200.0, 16),
    "imported-f32-baro": (100.0, 16),
    "thingy52": (200.0, 1),
    "polar-h10": (200.0, 36),
    "polar-verity-sense": (416.0, 36),
}


def running_packets(name: str, seconds: float, seed: int = 3) -> tuple[Any, list[Packet]]:
    """Simulated downhill running of the profile's placement, encoded in its own format."""
    prof = load_firmware_profile(name)
    rate, spp = RUNNING[name]
    stream = next(iter(prof.streams.values()))
    sim = simulate([Segment(seconds, -8.0, "run")], prof.placement, rate_hz=rate, seed=seed)
    out = []
    for k in range(len(sim.acc_g) // spp):
        a = sim.acc_g[k * spp : (k + 1) * spp]
        t_rx = (k + 1) * spp / rate + 0.01
        if stream.decoder == "layout":
            lay = stream.layout
            counts = a if lay.sample[0].type == "f32" else np.round(a / lay.scale_g)
            head: dict[str, int] = {}
            if lay.counter_field:
                per = spp if lay.counter_per == "sample" else 1
                head[lay.counter_field] = (k * per) % lay.counter_modulo
            if lay.pressure_field:
                head[lay.pressure_field] = 95000 - k  # descending: the grade is known
            payload = encode_layout_packet(lay, head, counts)
        else:
            ts_ns = 10**17 + round((k + 1) * spp / rate * 1e9)
            mg = np.round(a * 1000).astype(np.int64)
            payload = (
                encode_pmd_acc_delta(ts_ns, mg, frame_type=1)
                if k % 2
                else encode_pmd_acc_raw(ts_ns, mg)
            )
        out.append(Packet(t_rx, stream.name, payload))
    return prof, out


def _sessions(prof: Any, rows: int | None = None) -> tuple[Session, Session]:
    cues = load_cue_profile()
    fused, plain = Session(prof, cues), Session(prof, cues)
    plain._fused = {}  # decode + core calls, as before
    if rows is not None:
        fused._fused = {k: FusedPacket(f.decoder, fused.tracker, rows=rows) for k, f in
                        fused._fused.items()}  # fmt: skip
    return fused, plain


def assert_same(prof: Any, packets: list[Packet], rows: int | None = None) -> Session:
    fused, plain = _sessions(prof, rows)
    assert fused._fused, "no stream takes the fused path"
    for p in packets:
        assert fused.process(p) == plain.process(p)
    assert repr(fused.steps) == repr(plain.steps)  # exact floats; nan == nan
    assert fused.cues == plain.cues
    assert fused.stats == plain.stats
    assert repr(fused.rx_minus_sensor_s) == repr(plain.rx_minus_sensor_s)
    assert repr(fused.tracker.grade_pct_) == repr(plain.tracker.grade_pct_)
    return fused


@pytest.mark.parametrize("name", list(RUNNING))
def test_fused_packets_equal_decode_then_core_on_running(name: str) -> None:
    prof, packets = running_packets(name, 40.0)
    one = assert_same(prof, packets)
    assert len(one.steps) > 30  # strikes were found: the comparison means something


@pytest.mark.parametrize("name", ["descent_foot_200hz", "descent_shank_500hz"])
def test_fused_packets_equal_decode_then_core_on_the_bundled_recordings(name: str) -> None:
    rec = read_recording(RECORDINGS / f"{name}.dlr")
    one = assert_same(recording_firmware(rec, name), rec.packets)
    assert len(one.steps) > 300


@pytest.mark.parametrize("seed", range(12))
def test_fused_packets_equal_decode_then_core_on_troubled_streams(seed: int) -> None:
    """Lost, repeated, backwards, corrupt, truncated and garbage packets, restarts, stalls
    and real counter jumps: the same errors, restarts and samples either way."""
    rng = random.Random(seed)
    for name in [*PROFILES, "esp32-demo"]:
        ops = [rng.choice(OPS) for _ in range(80)]
        assert_same(_profile(name), build_stream(name, ops, seed))


@pytest.mark.parametrize("rows", [2, 3])
def test_a_full_step_row_buffer_is_drained_and_nothing_is_lost(rows: int) -> None:
    """Step rows for 1-2 steps per call: packets of 36 samples that complete steps fill them;
    the rest of such a packet is fed on from where the core stopped, not decoded again."""
    prof, packets = running_packets("polar-h10", 60.0)
    fused, plain = _sessions(prof, rows)
    fp = next(iter(fused._fused.values()))
    calls = {"again": 0}
    step = fp.step

    def counting(size: int, rx: float, pending: float, start: int, n: int) -> Any:
        calls["again"] += start > 0
        return step(size, rx, pending, start, n)

    fp.step = counting  # type: ignore[method-assign]
    for p in packets:
        fused.process(p)
        plain.process(p)
    if rows == 2:  # one step per call: every packet that completes a step fills it
        assert calls["again"] > 50
    assert repr(fused.steps) == repr(plain.steps) and fused.cues == plain.cues
    assert fused.stats == plain.stats
    assert len(fused.steps) > 100


def test_fused_rows_below_two_are_refused() -> None:
    prof = load_firmware_profile("dhl-imu")
    s = Session(prof, load_cue_profile())
    dec = s.decoders["acc"]
    with pytest.raises(ValueError, match="rows must be >= 2"):
        FusedPacket(dec, s.tracker, rows=1)  # one row would never take a sample


def test_a_barometer_stream_beside_gives_the_next_sample_its_pressure() -> None:
    """Thingy:52: a pressure notification between acceleration packets goes to the next
    acceleration sample, in the fused path as in the decode + core path."""
    prof, packets = running_packets("thingy52", 40.0)
    mixed: list[Packet] = []
    for k, p in enumerate(packets):
        if k % 20 == 0:
            mixed.append(Packet(p.t_rx_s, "pressure", bytes(ThingyPressure(950.0 - k * 0.002))))
        mixed.append(p)
    one = assert_same(prof, mixed)
    assert one.tracker.grade_source_ == "barometer"
    assert len(one.steps) > 30


def test_fused_packets_run_as_plain_python() -> None:
    """NUMBA_DISABLE_JIT=1: the entry as plain Python gives the same results, also with a
    step-row buffer that fills."""
    code = (
        "import sys; sys.path.insert(0, '.')\n"
        "from numba import config; assert config.DISABLE_JIT\n"
        "from tests.property.test_fused_packets import assert_same, running_packets\n"
        "for name in ('dhl-imu', 'polar-verity-sense', 'imported-f32-baro'):\n"
        "    prof, packets = running_packets(name, 12.0)\n"
        "    assert len(assert_same(prof, packets).steps) > 5\n"
        "    assert_same(prof, packets, rows=2)\n"
        "print('ok')\n"
    )
    out = run_python(code, env={"NUMBA_DISABLE_JIT": "1"})
    assert out.strip().endswith("ok")


def test_the_entrys_cache_key_follows_the_kernels_it_calls() -> None:
    """numba's cache key holds a hash of the entry's closure: only the stamp of the called
    kernels' sources may be there (deterministic: the cache is hit in the next process; it
    changes with those sources: a changed kernel is compiled into the entry again)."""
    from downhill_live import fused

    func = fused.packet_step.py_func if hasattr(fused.packet_step, "py_func") else fused.packet_step
    cells = [c.cell_contents for c in func.__closure__ or ()]
    assert cells == [fused._sources_stamp()]
    assert isinstance(cells[0], int) and cells[0] > 0


def test_a_packet_larger_than_the_sample_buffers_grows_them() -> None:
    """A packet of more samples than the decoder's buffers hold (512 at first): they grow, the
    entry is bound to the new ones, and the results stay those of decode + core."""
    prof = load_firmware_profile("polar-verity-sense")
    stream = next(iter(prof.streams.values()))
    sim = simulate([Segment(20.0, -8.0, "run")], prof.placement, rate_hz=416.0, seed=4)
    mg = np.round(sim.acc_g * 1000).astype(np.int64)
    packets, t_ns, k = [], 10**17, 0
    for size in [36, 36, 800, 36, 36, 1500, *[36] * 150]:
        t_ns += round(size / 416.0 * 1e9)
        payload = encode_pmd_acc_raw(t_ns, mg[k : k + size])
        packets.append(Packet(t_ns / 1e9 - 10**8 + 0.01, stream.name, payload))
        k += size
    one = assert_same(prof, packets)
    assert len(one.decoders[stream.name]._t) >= 1500
    assert len(one.steps) > 10


def test_two_streams_feeding_one_tracker_share_its_buffers() -> None:
    """Two compiled-decoder streams into one gait core (two devices of a run): both bind the
    tracker's one arena, also when the second is made with another row count (the first
    rebinds), and the results are those of decode + core."""
    from downhill_live.decode import make_decoder

    prof, packets = running_packets("dhl-imu", 40.0)
    stream = prof.streams["acc"]
    half = len(packets) // 2
    moved = packets[:half] + [Packet(p.t_rx_s, "acc2", p.payload) for p in packets[half:]]
    fused, plain = _sessions(prof)
    for s in (fused, plain):
        s.decoders["acc2"] = make_decoder(prof, stream)
    fused._fused["acc2"] = FusedPacket(fused.decoders["acc2"], fused.tracker, rows=3)
    for p in moved:
        assert fused.process(p) == plain.process(p)
    assert repr(fused.steps) == repr(plain.steps) and fused.cues == plain.cues
    assert fused.stats == plain.stats
    assert len(fused.steps) > 20  # the second stream's clock starts again: its samples repeat
    assert fused.stats.samples == 16 * len(moved)
    arena = fused.tracker._fused_arena
    assert fused._fused["acc"]._arena is arena and fused._fused["acc2"]._arena is arena
    assert np.shares_memory(fused.tracker._ring, arena.B)
    assert np.shares_memory(fused.tracker._st_k, arena.B)
    assert np.shares_memory(fused._fused["acc"].rows, arena.B)
