"""The compiled paths give what the reference paths give, bit for bit:

- the compiled decoders (decode.fast) against the Python reference decoders (RestartingDecoder
  around LayoutDecoder / PmdAccDecoder), packet by packet, on the bundled recordings and on
  generated streams with losses, restarts, duplicates, corrupt counters and timestamps, and
  garbage;
- array replay (source.arrays) against ``Session.process`` per packet, on the bundled
  recordings, generated streams written as recordings, and damaged files, with chunk
  boundaries everywhere;
- the receive-clock check: a corrupt counter or timestamp costs one packet, a real jump is
  re-anchored, and time never runs ahead of the receive clock.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.config.firmware import load_firmware_profile, parse_firmware_profile
from downhill_live.decode import layout as layout_mod
from downhill_live.decode import make_decoder
from downhill_live.decode import polar_pmd as pmd_mod
from downhill_live.decode.fast import FastDecoder
from downhill_live.decode.layout import encode_layout_packet
from downhill_live.decode.polar_pmd import encode_pmd_acc_delta, encode_pmd_acc_raw
from downhill_live.errors import DecodeError
from downhill_live.record import RecordingWriter, read_recording
from downhill_live.session import session_from_recording
from downhill_live.source import arrays
from downhill_live.types import Packet
from tests.conftest import RECORDINGS, ROOT, run_python

# the big-endian layout with counter and timestamp of the layout tests
GENERIC = (
    (ROOT / "tests" / "unit" / "test_firmware_layout.py")
    .read_text()
    .split('GENERIC = """')[1]
    .split('"""')[0]
)
PROFILES = ["dhl-imu", "imported-f32-baro", "thingy52", "polar-h10", "polar-verity-sense"]


def _profile(name: str) -> Any:
    if name == "esp32-demo":
        return parse_firmware_profile(GENERIC, "esp32.yaml")
    return load_firmware_profile(name)


def _pair(profile: Any) -> tuple[Any, Any]:
    stream = next(iter(profile.streams.values()))
    fast = make_decoder(profile, stream)
    if stream.decoder == "layout":
        ref = layout_mod.reference_decoder(stream.layout, stream.name)
    else:
        ref = pmd_mod.reference_decoder(stream)
    assert isinstance(fast, FastDecoder)
    return fast, ref


def _outcome(dec: Any, packet: Packet, index: int) -> tuple[Any, ...]:
    try:
        s = dec.decode(packet, index)
    except DecodeError as exc:
        return ("error", type(exc).__name__, exc.kind, exc.summary, str(exc))
    p = None if s.pressure_pa is None else s.pressure_pa.tobytes()
    return ("ok", repr(s.t_s.tolist()), s.acc_g.tobytes(), p, s.lost)


def assert_same_decoding(profile: Any, packets: list[Packet]) -> tuple[Any, list[tuple[Any, ...]]]:
    fast, ref = _pair(profile)
    outcomes = []
    for i, packet in enumerate(packets):
        a, b = _outcome(fast, packet, i), _outcome(ref, packet, i)
        assert a == b, f"packet {i}: {a[:2]} != {b[:2]}"
        outcomes.append(a)
    assert (fast.lost_samples, fast.restarts, fast.jumps) == (
        ref.lost_samples,
        ref.restarts,
        ref.jumps,
    )
    return fast, outcomes


# ------------------------------------------------------------------------ generated streams
OPS = ["next", "next", "next", "next", "lost", "dup", "back", "corrupt", "restart", "trunc",
       "garbage", "stall", "jump"]  # fmt: skip


@st.composite
def streams(draw: st.DrawFn) -> tuple[str, list[Packet]]:
    """A profile and a packet stream with every kind of trouble, receive times with jitter."""
    name = draw(st.sampled_from([*PROFILES, "esp32-demo"]))
    ops = draw(st.lists(st.sampled_from(OPS), min_size=1, max_size=60))
    seed = draw(st.integers(0, 2**16))
    return name, build_stream(name, ops, seed)


def build_stream(name: str, ops: list[str], seed: int) -> list[Packet]:
    rng = random.Random(seed)
    prof = _profile(name)
    stream = next(iter(prof.streams.values()))
    pmd = stream.decoder == "polar_pmd_acc"
    rate = float(stream.params["sample_rate_hz"]) if pmd else stream.layout.rate_hz
    n = 1 if name == "thingy52" else (2 if name == "esp32-demo" else rng.choice([4, 10, 16]))
    seq, t_sensor, t_rx = rng.randrange(0, 300), 5.0, 0.1
    out: list[Packet] = []
    for op in ops:
        if op == "lost":
            seq += rng.randrange(1, 5)
            t_sensor += n / rate * (seq % 5)
        if op == "restart":
            seq, t_sensor, t_rx = 0, 1.0, t_rx + 2.0
        if op == "stall":
            t_rx += rng.uniform(0.6, 3.0)
        if op == "jump":  # the sensor's counter / clock really jumps, for good
            seq += rng.randrange(1000, 30000)
            t_sensor += rng.uniform(50.0, 5000.0)
        counts = np.array([[rng.randrange(-2000, 2000) for _ in range(3)] for _ in range(n)])
        cseq, ct = seq, t_sensor
        if op == "back":
            cseq, ct = seq - rng.randrange(2, 50), t_sensor - rng.uniform(0.05, 1.0)
        if op == "corrupt":  # one flipped high bit in the counter or timestamp
            cseq, ct = seq ^ (1 << rng.randrange(8, 16)), t_sensor + 2.0 ** rng.randrange(3, 30)
        if op == "dup" and out:
            out.append(Packet(t_rx, out[-1].stream, out[-1].payload))
            continue
        payload = _encode(prof, stream, cseq, ct, counts, rate, n, rng)
        if op == "trunc":
            payload = payload[: rng.randrange(0, len(payload))]
        if op == "garbage":
            payload = rng.randbytes(rng.randrange(0, 40))
        out.append(Packet(round(t_rx, 6), stream.name, payload))
        if op not in ("back", "corrupt", "trunc", "garbage"):
            seq += 1
            t_sensor += n / rate
        t_rx += n / rate + rng.uniform(0.0, 0.004)
    return out


def _encode(
    prof: Any, stream: Any, seq: int, t_s: float, counts: np.ndarray, rate: float, n: int, rng: Any
) -> bytes:
    if stream.decoder == "polar_pmd_acc":
        ts_ns = max(1, int(t_s * 1e9) + 10**17)
        if rng.random() < 0.5:
            return encode_pmd_acc_raw(ts_ns, counts)
        return encode_pmd_acc_delta(ts_ns, counts, frame_type=rng.choice([0, 1]))
    lay = stream.layout
    header: dict[str, int] = {}
    if lay.counter_field:
        mod = lay.counter_modulo
        header[lay.counter_field] = (seq * (n if lay.counter_per == "sample" else 1)) % mod
    if lay.timestamp_field:
        header[lay.timestamp_field] = max(0, int(t_s / lay.timestamp_scale_s)) % (1 << 32)
    if lay.pressure_field:
        header[lay.pressure_field] = 90000 + rng.randrange(0, 100)
    return encode_layout_packet(lay, header, counts)


@settings(max_examples=300, deadline=None)
@given(streams())
def test_compiled_decoders_match_the_reference(case: tuple[str, list[Packet]]) -> None:
    name, packets = case
    assert_same_decoding(_profile(name), packets)


@pytest.mark.parametrize("name", ["descent_foot_200hz", "descent_shank_500hz"])
def test_compiled_decoder_matches_the_reference_on_the_bundled_recordings(name: str) -> None:
    rec = read_recording(RECORDINGS / f"{name}.dlr")
    from downhill_live.session import recording_firmware

    firmware = recording_firmware(rec, name)
    _, outcomes = assert_same_decoding(firmware, rec.packets)
    assert sum(o[0] == "ok" for o in outcomes) == len(rec.packets)


def test_delta_frames_of_every_width_match_the_reference() -> None:
    prof = _profile("polar-verity-sense")
    rng = np.random.default_rng(3)
    packets = []
    for k in range(200):
        scale = 2 ** rng.integers(0, 15)
        counts = np.cumsum(rng.integers(-scale, scale, size=(rng.integers(1, 80), 3)), axis=0)
        ts = 10**17 + int(k * 0.2e9)
        packets.append(Packet(k * 0.2, "acc", encode_pmd_acc_delta(ts, counts)))
    _, outcomes = assert_same_decoding(prof, packets)
    assert all(o[0] == "ok" for o in outcomes)


# ------------------------------------------------------------------------ receive clock
def test_a_corrupt_counter_costs_one_packet_and_a_real_jump_is_re_anchored() -> None:
    rec = read_recording(RECORDINGS / "descent_foot_200hz.dlr")
    from downhill_live.session import recording_firmware

    firmware = recording_firmware(rec, "foot")
    lay = firmware.streams["acc"].layout
    dec = make_decoder(firmware, firmware.streams["acc"])
    clean = [dec.decode(p) for p in rec.packets[:400]]
    # packet 200: the counter's top bit flipped (+32768 packets = +1300 s)
    bad = list(rec.packets[:400])
    seq = int.from_bytes(bad[200].payload[:2], "little")
    bad[200] = Packet(
        bad[200].t_rx_s, "acc", ((seq ^ 0x8000).to_bytes(2, "little")) + bad[200].payload[2:]
    )
    _, outcomes = assert_same_decoding(firmware, bad)
    assert [i for i, o in enumerate(outcomes) if o[0] == "error"] == [200]
    assert "ahead of the receive clock" in outcomes[200][4]
    for i in range(201, 400):  # times after it as if nothing happened
        assert outcomes[i][1] == repr(clean[i].t_s.tolist())
    # a real jump: from packet 200 on, every counter is 20000 packets further (a firmware bug)
    jumped = [
        Packet(p.t_rx_s, "acc", ((int.from_bytes(p.payload[:2], "little") + 20000) % 65536).to_bytes(2, "little") + p.payload[2:])
        if i >= 200 else p
        for i, p in enumerate(rec.packets[:400])
    ]  # fmt: skip
    fast, outcomes = assert_same_decoding(firmware, jumped)
    assert [i for i, o in enumerate(outcomes) if o[0] == "error"] == [200]  # one packet
    assert fast.jumps == 1
    t_after = [float(eval(o[1])[-1]) for o in outcomes[201:]]
    rx_after = [p.t_rx_s for p in jumped[201:]]
    lat = np.array(rx_after) - np.array(t_after)
    lat_before = np.array([p.t_rx_s for p in rec.packets[:200]]) - np.array(
        [c.t_s[-1] for c in clean[:200]]
    )
    # re-anchored to the receive clock: the latency stays what it was, within the jitter
    assert lat.min() > lat_before.min() - 0.05 and lat.max() < lat_before.max() + 0.05
    del lay


# ------------------------------------------------------------------------ array replay
def _write(
    path: Path, firmware_name: str, packets: list[Packet], settings: dict | None = None
) -> None:
    prof = _profile(firmware_name)
    header = {
        "firmware": {"name": prof.name, "yaml": prof.source_text},
        "settings": settings or {},
        "placement": "foot",
    }  # fmt: skip
    with RecordingWriter(path, header, streams=list(prof.streams)) as w:
        for p in packets:
            w.write_packet(p)


def assert_replays_agree(path: Path) -> Any:
    profile = load_cue_profile()
    one, rec = session_from_recording(str(path), profile)
    for p in rec.packets:
        one.process(p)
    # with the file read in a thread of its own (the default when compiled), and without
    for threaded in (True, False):
        many, outline = arrays.replay_recording(str(path), profile, threaded=threaded)
        assert repr(many.steps) == repr(one.steps)  # exact floats; repr also treats nan == nan
        assert many.cues == one.cues
        assert many.stats == one.stats
        assert repr(many.rx_minus_sensor_s) == repr(one.rx_minus_sensor_s)
    assert outline.n_packets == len(rec.packets)
    assert (outline.skipped, outline.dropped_tail_bytes) == (rec.skipped, rec.dropped_tail_bytes)
    assert (outline.cues, outline.events, outline.attached) == (rec.cues, rec.events, rec.attached)
    return one


@pytest.fixture(params=["big", "tiny"])
def chunking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Default chunks, or chunks, record batches and sample blocks so small that every
    boundary falls somewhere inside a run."""
    if request.param == "tiny":
        monkeypatch.setattr(arrays, "CHUNK_BYTES", 1000)
        monkeypatch.setattr(arrays, "RECORD_CAP", 7)
        monkeypatch.setattr(arrays, "SAMPLE_CAP", 40)
    return str(request.param)


@pytest.mark.parametrize("name", ["descent_foot_200hz", "descent_shank_500hz"])
def test_array_replay_equals_packet_by_packet_on_the_bundled_recordings(
    name: str, chunking: str
) -> None:
    one = assert_replays_agree(RECORDINGS / f"{name}.dlr")
    assert len(one.steps) > 300
    # the shank cannot know the grade (no barometer): its descent rules never fire
    assert bool(one.cues) == name.startswith("descent_foot")


def test_array_replay_stops_its_reader_on_an_error_either_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An error in the session (calling thread) or in the reading (the reader's thread) ends
    the replay with that error; no reader thread is left running."""
    path = str(RECORDINGS / "descent_foot_200hz.dlr")
    monkeypatch.setattr(arrays, "SAMPLE_CAP", 400)  # many blocks: the reader is ahead
    before = {t.name for t in threading.enumerate()}

    class BoomError(Exception):
        pass

    session, rec = arrays.session_from_outline(path, load_cue_profile())
    fed = []

    def feed(stream: str, samples: Any) -> list:
        fed.append(len(samples.t_s))
        if len(fed) == 3:
            raise BoomError("session")
        return []

    monkeypatch.setattr(session, "_feed", feed)
    with pytest.raises(BoomError, match="session"):
        arrays.process_file(session, rec, threaded=True)
    assert len(fed) == 3
    session, rec = arrays.session_from_outline(path, load_cue_profile())
    calls = []
    real_run = FastDecoder.run

    def run(self: FastDecoder, *a: Any, **k: Any) -> Any:
        calls.append(1)
        if len(calls) == 5:
            raise BoomError("reader")
        return real_run(self, *a, **k)

    monkeypatch.setattr(FastDecoder, "run", run)
    with pytest.raises(BoomError, match="reader"):
        arrays.process_file(session, rec, threaded=True)
    assert 0 < session.stats.packets < rec.n_packets  # what was read before it was fed
    assert {t.name for t in threading.enumerate()} == before


@settings(max_examples=40, deadline=None)
@given(case=streams(), size=st.sampled_from(["big", "tiny"]))
def test_array_replay_equals_packet_by_packet_on_generated_streams(
    case: tuple[str, list[Packet]], size: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    name, packets = case
    path = tmp_path_factory.mktemp("gen") / "gen.dlr"
    _write(path, name, packets)
    saved = arrays.CHUNK_BYTES, arrays.RECORD_CAP, arrays.SAMPLE_CAP
    if size == "tiny":
        arrays.CHUNK_BYTES, arrays.RECORD_CAP, arrays.SAMPLE_CAP = 300, 5, 16
    try:
        assert_replays_agree(path)
    finally:
        arrays.CHUNK_BYTES, arrays.RECORD_CAP, arrays.SAMPLE_CAP = saved


@pytest.mark.parametrize("seed", range(6))
def test_array_replay_equals_packet_by_packet_on_damaged_files(
    seed: int, tmp_path: Path, chunking: str
) -> None:
    """Flipped bytes (in payloads, lengths, sync markers, CRCs), a cut tail, and for one seed a
    long stretch of garbage; also packets of a stream the profile does not have."""
    rng = random.Random(seed)
    rec = read_recording(RECORDINGS / "descent_foot_200hz.dlr")  # format 1: rewritten as 2
    path = tmp_path / "d.dlr"
    with RecordingWriter(path, rec.header, streams=[*rec.header["streams"], "gyro"]) as w:
        for i, p in enumerate(rec.packets[:3000]):
            w.write_packet(p if i % 500 != 7 else Packet(p.t_rx_s, "gyro", p.payload))
            if i % 700 == 3:
                w.write_event(p.t_rx_s, {"event": "link_lost"})
    data = bytearray(path.read_bytes()[: 60_000 + 9000 * seed])
    for _ in range(rng.randrange(1, 12)):
        k = rng.randrange(8000, len(data))
        data[k] ^= 1 << rng.randrange(8)
    if seed == 3:
        k = rng.randrange(10_000, 40_000)
        data[k : k + 5000] = rng.randbytes(5000)
    path.write_bytes(bytes(data))
    one = assert_replays_agree(path)
    assert one.stats.packets > 500
    assert read_recording(path).skipped  # the damage was found and skipped


def test_array_replay_of_a_format_1_file_stops_where_the_reader_stops(tmp_path: Path) -> None:
    import json
    import struct
    import zlib

    from downhill_live.record import MAGIC

    rec = read_recording(RECORDINGS / "descent_shank_500hz.dlr")
    head = json.dumps({**rec.header, "format_version": 1}).encode()
    out = bytearray(
        MAGIC + struct.pack("<I", len(head)) + head + struct.pack("<I", zlib.crc32(head))
    )
    for i, p in enumerate(rec.packets[:3000]):
        body = struct.pack("<BdB", 1, p.t_rx_s, 0) + p.payload
        crc = zlib.crc32(body) ^ (1 if i == 2500 else 0)
        out += struct.pack("<I", len(body)) + body + struct.pack("<I", crc)
    path = tmp_path / "v1.dlr"
    path.write_bytes(bytes(out))
    one = assert_replays_agree(path)
    assert one.stats.packets == 2500


def test_crc_table_is_zlibs() -> None:
    import zlib

    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 8, 9, 100, 4099):
        data = rng.integers(0, 256, n, dtype=np.uint8)
        assert arrays.crc32_table(data, 0, n, arrays._CRC) == zlib.crc32(data.tobytes())


def test_kernels_run_as_plain_python(tmp_path: Path) -> None:
    """NUMBA_DISABLE_JIT=1: the same kernels as plain Python give the reference's results."""
    code = (
        "import sys; sys.path.insert(0, '.')\n"
        "from numba import config; assert config.DISABLE_JIT\n"
        "from tests.property.test_fast_paths import build_stream, assert_same_decoding, _profile\n"
        "from tests.property.test_fast_paths import assert_replays_agree, _write, OPS\n"
        "import pathlib, random\n"
        "for name in ('dhl-imu', 'polar-verity-sense', 'esp32-demo'):\n"
        "    ops = [random.Random(1).choice(OPS) for _ in range(40)]\n"
        "    packets = build_stream(name, ops, 7)\n"
        "    assert_same_decoding(_profile(name), packets)\n"
        "    p = pathlib.Path(sys.argv[1]) / (name + '.dlr')\n"
        "    _write(p, name, packets)\n"
        "    assert_replays_agree(p)\n"
        "print('ok')\n"
    )
    out = run_python(code, str(tmp_path), env={"NUMBA_DISABLE_JIT": "1"}, timeout_s=300)
    assert out.strip().endswith("ok")
