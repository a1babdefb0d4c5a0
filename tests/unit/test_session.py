"""Session: the batch path (process_many) gives exactly what packet-by-packet processing gives."""

from __future__ import annotations

import random
from typing import Any

import pytest

from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.record import read_recording
from downhill_live.session import session_from_recording
from downhill_live.tools import accuracy
from downhill_live.types import Packet, Samples, Step, settled
from tests.conftest import RECORDINGS

HAVE_SHOE = (accuracy.data_dir() / "pyshoe-foot-running" / "contacts.csv").exists()


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


def test_undersampled_foot_is_said_once_at_start(caplog: pytest.LogCaptureFixture) -> None:
    from downhill_live.config.firmware import load_firmware_profile
    from downhill_live.session import Session, apply_settings

    cues = load_cue_profile(None)
    slow = apply_settings(load_firmware_profile("dhl-imu"), {"rate_hz": 100})
    with caplog.at_level("WARNING"):
        session = Session(slow, cues, placement="foot")
    said = [n for n in session.notices if "under-sampled" in n]
    assert len(said) == 1 and "100 Hz" in said[0]
    assert [r.message for r in caplog.records].count(said[0]) == 1
    fast = Session(load_firmware_profile("dhl-imu"), cues, placement="foot")
    assert not [n for n in fast.notices if "under-sampled" in n]
    # the trunk's loading peak is slow: no warning at 100 Hz
    assert not [n for n in Session(slow, cues, placement="pelvis").notices if "under" in n]


def test_the_sensor_range_reaches_the_tracker_so_peaks_there_are_marked_clipped() -> None:
    from downhill_live.config.firmware import load_firmware_profile
    from downhill_live.decode import stream_range_g
    from downhill_live.session import Session

    cues = load_cue_profile(None)
    imu = load_firmware_profile("dhl-imu")
    (acc,) = [s for s in imu.streams.values() if s.decoder == "layout"]
    scale_g = acc.layout.scale_g
    assert stream_range_g(acc) == pytest.approx(32767 * scale_g)  # int16 axes saturate there
    assert Session(imu, cues).tracker.range_g == pytest.approx(32767 * scale_g)
    verity = load_firmware_profile("polar-verity-sense")
    (pmd,) = [s for s in verity.streams.values() if s.decoder == "polar_pmd_acc"]
    assert stream_range_g(pmd) == float(pmd.params["range_g"])  # what the start request asks
    f32 = load_firmware_profile("imported-f32")
    assert all(stream_range_g(s) is None for s in f32.streams.values())  # floats: unknown
    assert Session(f32, cues).tracker.range_g is None


@pytest.mark.skipif(not HAVE_SHOE, reason="shared shoe data not found")
def test_a_replaced_provisional_step_is_shown_at_once_but_never_counted_or_cued() -> None:
    """The first strike after standing is shown to the step sinks at once; when a larger impact
    replaces it (real shoe data: the first swing's terminal deceleration came first), the kept
    steps, the statistics and the cue rules have the replacement only."""
    from downhill_live.config.firmware import load_firmware_profile
    from downhill_live.session import Session
    from downhill_live.sinks import Sink

    class Shown(Sink):
        def __init__(self) -> None:
            self.steps: list[Step] = []

        def step(self, step: Step) -> None:
            self.steps.append(step)

    replaced = 0
    for tri in accuracy.load_shoe():
        shown = Shown()
        session = Session(load_firmware_profile("dhl-imu"), load_cue_profile(), placement="foot")
        session.attach(shown)
        ruled: list[Step] = []

        def update(step: Step, seen: list[Step] = ruled, real: Any = session.engine.update) -> Any:
            seen.append(step)
            return real(step)

        session.engine.update = update  # type: ignore[method-assign]
        stream = next(iter(session.decoders))
        t, a = tri["t_s"], tri["acc_g"]
        for i in range(0, len(t), 16):  # in packets, as live
            session._feed(stream, Samples(t[i : i + 16], a[i : i + 16]))
        session.close()
        final = settled(shown.steps)
        replaced += len(shown.steps) - len(final)
        assert session.steps == final == ruled
        assert session.step_stats.n_steps == len(final)
        assert shown.steps[0].provisional
    assert replaced >= 1


def test_deferred_statistics_leave_process_and_give_the_same_figures() -> None:
    """With ``Session.defer`` (live mode: the event loop's call_soon) the step statistics are
    scheduled once per due batch and run after the packet; the figures are the same."""
    path = str(RECORDINGS / "descent_foot_200hz.dlr")
    packets = read_recording(path).packets
    profile = load_cue_profile()
    now, _ = session_from_recording(path, profile)
    later, _ = session_from_recording(path, profile)
    due: list[Any] = []
    later.defer = due.append
    scheduled = 0
    for p in packets:
        now.process(p)
        before = later._step_stats.n_steps
        later.process(p)
        assert later._step_stats.n_steps == before  # nothing taken within process
        assert len(due) <= 1  # scheduled once while due
        scheduled += len(due)
        for fn in due:
            fn()
        due.clear()
    assert scheduled > 10
    assert later.summary() == now.summary() and later.cues == now.cues
