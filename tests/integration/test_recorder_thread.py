"""The recorder writes and syncs on its own thread: a slow or stalled disk never holds up the
event loop that handles packets. The disk is the edge here: ``os.fsync`` is wrapped to stall
(as a slow SD card does), everything else is the real writer, file and live session."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from downhill_live import record
from downhill_live.config.firmware import load_firmware_profile
from downhill_live.record import read_recording
from downhill_live.sim.bumble_backend import VirtualRadio
from downhill_live.sim.gait import Segment
from downhill_live.sim.virtual_devices import VirtualDevice, simulated_payloads
from downhill_live.sinks import RecorderSink
from downhill_live.types import Packet
from tests.integration.test_live import assert_replay_matches, run_until_done, runner_for


class StalledDisk:
    """``os.fsync`` that records the calling thread and waits until released (or sleeps)."""

    def __init__(self, real: Any, *, sleep_s: float = 0.0) -> None:
        self.real = real
        self.sleep_s = sleep_s
        self.release = threading.Event()
        self.entered = threading.Event()
        self.threads: list[int] = []
        if sleep_s:
            self.release.set()

    def __call__(self, fd: int) -> None:
        self.threads.append(threading.get_ident())
        self.entered.set()
        if self.sleep_s:
            threading.Event().wait(self.sleep_s)
        else:
            assert self.release.wait(30.0), "the test never released the disk"
        self.real(fd)


def test_flush_returns_while_the_disk_is_stalled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = RecorderSink(tmp_path / "r.dlr", ["acc"])
    sink.start({"firmware": {"name": "x"}})
    disk = StalledDisk(record.os.fsync)
    monkeypatch.setattr(record.os, "fsync", disk)
    sent = 0
    for _batch in range(3):  # three flush intervals while the disk does not answer
        for _ in range(100):
            sink.packet(Packet(sent * 0.01, "acc", sent.to_bytes(4, "little")))
            sent += 1
        done = threading.Event()

        def flush() -> None:
            sink.flush()
            done.set()  # noqa: B023

        t = threading.Thread(target=flush, daemon=True)
        t.start()
        # a hang detector, not a timing: a flush that waited for the disk never returns
        assert done.wait(10.0), "flush() waited for the stalled disk"
        assert disk.entered.wait(10.0), "the writer thread never wrote"
    assert threading.get_ident() not in disk.threads
    assert sink.batches_handed == 3 and sink.batches_written == 0
    disk.release.set()
    sink.close()
    rec = read_recording(sink.path)
    assert [int.from_bytes(p.payload, "little") for p in rec.packets] == list(range(sent))
    assert rec.dropped_tail_bytes == 0 and not rec.skipped


def test_write_failure_on_the_writer_thread_is_raised_by_the_next_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = RecorderSink(tmp_path / "r.dlr", ["acc"])
    sink.start({"firmware": {"name": "x"}})
    sink.packet(Packet(0.0, "acc", b"\x01"))
    sink.flush()

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(record.os, "fsync", full)
    sink.packet(Packet(0.01, "acc", b"\x02"))
    sink.flush()
    errors = []
    for _ in range(500):  # until the writer thread has written the batch
        if sink.batches_written == sink.batches_handed:
            break
        threading.Event().wait(0.01)
    for _ in range(3):
        try:
            sink.flush()
        except record.RecordingError as exc:
            errors.append(str(exc))
    assert len(errors) == 1 and "No space left on device" in errors[0], errors
    sink.close()  # quietly: the failure was reported
    assert len(read_recording(sink.path).packets) >= 1


async def test_live_session_with_a_slow_disk_records_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each fsync takes 0.5 s (a slow card): the event loop never runs one, no packet is
    lost, and the recording replays to the live steps and cues."""
    disk = StalledDisk(record.os.fsync, sleep_s=0.5)
    monkeypatch.setattr(record.os, "fsync", disk)
    loop_thread = threading.get_ident()
    firmware = load_firmware_profile("dhl-imu")
    src = simulated_payloads(firmware, [Segment(20.0, 0.0, "run", cadence_spm=170.0)], seed=3)
    async with VirtualRadio() as radio:
        device = VirtualDevice(radio, firmware, src.payloads, speed=10.0)
        runner = runner_for(radio, firmware, tmp_path)
        async with device:
            result = await run_until_done(runner, device, limit_s=60.0)
    await asyncio.sleep(0)
    assert disk.threads, "nothing was synced"
    assert loop_thread not in disk.threads, "fsync ran on the event loop"
    assert result.packets_received == len(src.payloads)
    assert_replay_matches(result, runner)
    assert result.recording is not None
    assert len(read_recording(result.recording).packets) == len(src.payloads)
