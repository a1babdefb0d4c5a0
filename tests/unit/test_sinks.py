"""Sinks: what a session hands them and in which order; recordings never share a file; names
from profiles never lead outside the recording folder."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from downhill_live.cli.console import ConsoleSink
from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.config.firmware import load_firmware_profile
from downhill_live.record import read_recording
from downhill_live.session import session_from_recording
from downhill_live.sinks import RecorderSink, Sink
from downhill_live.source.ble import default_recording_path
from downhill_live.types import Cue, Packet, Step

ROOT = Path(__file__).resolve().parents[2]
RECORDING = ROOT / "recordings" / "descent_foot_200hz.dlr"


class Log(Sink):
    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []

    def packet(self, packet: Packet) -> None:
        self.items.append(("packet", packet))

    def step(self, step: Step) -> None:
        self.items.append(("step", step))

    def cue(self, cue: Cue) -> None:
        self.items.append(("cue", cue))

    def event(self, t_s: float, event: dict[str, Any]) -> None:
        self.items.append(("event", event))

    def close(self) -> None:
        self.items.append(("close", None))


def test_every_sink_sees_each_packet_before_what_came_of_it() -> None:
    a, b = Log(), Log()
    session, rec = session_from_recording(str(RECORDING), load_cue_profile(), sinks=[a, b])
    for p in rec.packets[:3000]:
        session.process(p)
    session.event(99.0, {"event": "link_lost"})
    session.close()
    assert a.items == b.items
    kinds = [k for k, _ in a.items]
    assert kinds.count("packet") == 3000 and kinds[-2:] == ["event", "close"]
    assert [s for k, s in a.items if k == "step"] == session.steps and session.steps
    assert [c for k, c in a.items if k == "cue"] == session.cues
    # a step comes after the packet that completed it, a cue right after its step
    n_packets = 0
    for kind, item in a.items:
        if kind == "packet":
            n_packets += 1
        elif kind == "step":
            assert item.t_s <= rec.packets[n_packets - 1].t_rx_s + 1.0


def test_batch_and_packet_paths_feed_sinks_alike() -> None:
    a, b = Log(), Log()
    s1, rec = session_from_recording(str(RECORDING), load_cue_profile(), sinks=[a])
    s2, _ = session_from_recording(str(RECORDING), load_cue_profile(), sinks=[b])
    for p in rec.packets:
        s1.process(p)
    s2.process_many(rec.packets)
    assert [k for k, _ in a.items if k != "packet"] == [k for k, _ in b.items if k != "packet"]
    assert [x for k, x in a.items if k == "packet"] == [x for k, x in b.items if k == "packet"]
    assert [repr(s) for s in s1.steps] == [repr(s) for s in s2.steps] and s1.steps  # nan-safe
    assert [repr(c) for c in s1.cues] == [repr(c) for c in s2.cues]


def test_two_recorders_with_one_name_get_two_files(tmp_path: Path) -> None:
    path = tmp_path / "20261201-101500_dhl-imu.dlr"
    header = {"firmware": {"name": "dhl-imu"}}
    one, two = RecorderSink(path, ["acc"]), RecorderSink(path, ["acc"])
    one.start(header)
    two.start(header)
    one.packet(Packet(0.0, "acc", b"one"))
    two.packet(Packet(0.0, "acc", b"two"))
    one.close()
    two.close()
    assert one.path == path and two.path == tmp_path / "20261201-101500_dhl-imu-2.dlr"
    assert read_recording(str(one.path)).packets[0].payload == b"one"
    assert read_recording(str(two.path)).packets[0].payload == b"two"


def test_a_profile_name_never_leads_outside_the_folder(tmp_path: Path) -> None:
    fw = load_firmware_profile("dhl-imu")
    for name in ("../..", "../../etc/x", "/abs/path", "..", "", "a\0b", "C:\\x"):
        p = default_recording_path(tmp_path, dataclasses.replace(fw, name=name))
        assert p.parent == tmp_path and p.suffix == ".dlr" and not p.name.startswith(".")
        assert ".." not in p.name.removesuffix(".dlr") and "/" not in p.name and "\\" not in p.name


def test_a_console_nobody_reads_never_blocks_the_session() -> None:
    r, w = os.pipe()  # a real pipe that nobody reads: its buffer fills, then writes block
    out = os.fdopen(w, "w", buffering=1)
    sink = ConsoleSink(out, max_pending=50)
    done = threading.Event()

    def session() -> None:
        for i in range(20_000):  # ~1.3 MB of lines: far more than a pipe buffer holds
            sink.line(f"[{i:7d}] cue cadence_low: \"shorter, quicker steps\" (cadence_spm=158.0)")
        done.set()

    worker = threading.Thread(target=session, daemon=True)
    worker.start()
    worker.join(60)  # a hang detector: with a blocking console this never returns
    assert done.is_set(), "the session blocked on the console"
    assert sink.dropped_lines > 10_000  # dropped and counted, not waited for
    os.close(r)  # nobody will ever read: the writer thread ends on the broken pipe
    sink.close(timeout_s=2.0)
    with contextlib.suppress(OSError):
        out.close()


def test_status_line_fits_an_80_column_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setenv("COLUMNS", "80")  # what shutil.get_terminal_size reads first
    out = io.StringIO()
    sink = ConsoleSink(out)
    long = "12:34 | 172.3 spm | 6.2 g | grade -7.5 % descent | link up | 62 pkt/s, lost 0, bad 0"
    sink.status(long)
    sink.status(long[:40])
    sink.close()
    frames = [f.removesuffix("\033[K") for f in out.getvalue().strip("\n").split("\r") if f]
    assert frames == [long[:78] + "~", long[:40]]
    assert all(len(f) < 80 for f in frames)


def test_an_advertised_device_name_cannot_break_the_console_line() -> None:
    # a device chooses its own name: a line break or a terminal escape in it must reach the
    # console, the status line and the spoken labels escaped, on one line
    from bleak.backends.device import BLEDevice

    from downhill_live.config.firmware import load_firmware_profile
    from downhill_live.source.ble_devices import check_distinct
    from downhill_live.source.ble_link import DeviceLink

    imu, mill = load_firmware_profile("dhl-imu"), load_firmware_profile("sig-ftms-treadmill")
    links = [
        DeviceLink(fw, dict(fw.streams), emit=lambda _i: None, clock=lambda: 0.0, t0=0.0)
        for fw in (imu, mill)
    ]
    links[0].ble_device = BLEDevice("F0:00:00:00:0D:01", "IMU\n\x1b[2Jfake line", None)
    links[1].ble_device = BLEDevice("F0:00:00:00:0D:02", "Mill\u2028x", None)
    check_distinct(links)
    for link in links:
        for text in (link.describe(), link.label or ""):
            assert len(text.splitlines()) == 1 and "\x1b" not in text, text
    assert links[0].describe() == "IMU\\n\\x1b[2Jfake line (F0:00:00:00:0D:01)"
    assert links[1].label == "Mill\\u2028x"
