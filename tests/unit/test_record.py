"""Recording format: round trip, crash safety, refusal of foreign files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from downhill_live.errors import RecordingError
from downhill_live.record import MAGIC, RecordingWriter, read_recording
from downhill_live.session import session_from_recording
from downhill_live.types import Cue, Packet

#: bytes of one record with a 20-byte payload: sync 2 + length 4 + (1 + 8 + 1 + 20) + CRC 4
RECORD_BYTES = 40


def _write(path: Path, packets: list[Packet]) -> None:
    with RecordingWriter(
        path, {"firmware": {"name": "t", "yaml": ""}}, streams=["acc", "rsc"]
    ) as w:
        for p in packets:
            w.write_packet(p)




def test_cues_and_events_are_stored(tmp_path: Path) -> None:
    path = tmp_path / "r.dlr"
    with RecordingWriter(path, {}, streams=["acc"]) as w:
        w.write_packet(Packet(0.5, "acc", b"\x00\x01"))
        w.write_cue(Cue(12.5, "cadence_low", "quick feet", "cadence_spm", 158.25))
        w.write_event(13.0, {"event": "link_lost"})
    rec = read_recording(path)
    assert rec.cues == [Cue(12.5, "cadence_low", "quick feet", "cadence_spm", 158.25)]
    assert rec.events == [(13.0, {"event": "link_lost"})]


@pytest.mark.parametrize("cut", [1, 5, 13, 20])
def test_truncated_tail_replays_up_to_last_complete_record(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "r.dlr"
    packets = [Packet(i * 0.04, "acc", bytes([i]) * 20) for i in range(10)]
    _write(path, packets)
    data = path.read_bytes()
    path.write_bytes(data[:-cut])
    rec = read_recording(path)
    assert rec.packets == packets[:9]
    assert rec.dropped_tail_bytes == RECORD_BYTES - cut
    assert rec.skipped == []


def test_a_damaged_record_is_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "r.dlr"
    packets = [Packet(i * 0.04, "acc", bytes(20)) for i in range(10)]
    _write(path, packets)
    data = bytearray(path.read_bytes())
    data[-RECORD_BYTES * 3 + 8] ^= 0xFF  # flip a byte inside the 8th record
    path.write_bytes(bytes(data))
    rec = read_recording(path)
    assert rec.packets == packets[:7] + packets[8:]  # only the damaged record is lost
    assert rec.dropped_tail_bytes == 0
    (skip,) = rec.skipped
    assert skip.offset == len(data) - RECORD_BYTES * 3 and skip.n_bytes == RECORD_BYTES
    assert (skip.after_t_s, skip.before_t_s) == (packets[6].t_rx_s, packets[8].t_rx_s)




def test_format_1_recordings_still_read() -> None:
    """tests/data/format1_foot_60s.dlr: the first 60 s of the former bundled foot run, bytes the
    format-1 writer wrote (tests/data/README.md): read in full, and replayed it gives steps."""
    path = Path(__file__).resolve().parents[2] / "tests" / "data" / "format1_foot_60s.dlr"
    rec = read_recording(path)
    assert rec.format_version == 1 and len(rec.packets) == 1498 and not rec.damaged
    assert rec.header["firmware"]["name"] == "dhl-imu"
    session, rec = session_from_recording(str(path), None)
    session.process_many(rec.packets)
    # 60 s of which ~55 s running at ~170 spm, one foot seen: ~75 strikes
    assert 65 <= len(session.steps) <= 85


def test_deeply_nested_header_is_one_line_error(tmp_path: Path) -> None:
    import struct
    import zlib

    head = ("[" * 100_000 + "]" * 100_000).encode()
    block = b"DHLHDR" + struct.pack("<I", len(head)) + head + struct.pack("<I", zlib.crc32(head))
    path = tmp_path / "deep.dlr"
    path.write_bytes(MAGIC + block + block)
    with pytest.raises(RecordingError, match=r"nested too deeply|not a JSON object"):
        read_recording(path)


def test_kill_9_mid_session_keeps_flushed_records(tmp_path: Path) -> None:
    """A writer process killed with SIGKILL leaves a file that replays what was flushed."""
    path = tmp_path / "r.dlr"
    code = f"""
import os, signal
from downhill_live.record import RecordingWriter
from downhill_live.types import Packet
w = RecordingWriter({str(path)!r}, {{}}, streams=["acc"])
for i in range(50):
    w.write_packet(Packet(i * 0.01, "acc", bytes(30)))
w.flush()
for i in range(50, 60):
    w.write_packet(Packet(i * 0.01, "acc", bytes(30)))
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", code], check=False)
    assert proc.returncode == -9
    rec = read_recording(path)
    assert len(rec.packets) == 50
    assert rec.packets[-1].t_rx_s == pytest.approx(0.49)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "bad magic"),
        (b"PK\x03\x04garbage", "bad magic"),
        (MAGIC + b"\x05\x00", "truncated header"),
        (MAGIC + b"\x02\x00\x00\x00{}\x00\x00\x00\x00", "checksum"),
    ],
)
def test_foreign_or_broken_files_raise_one_line_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.dlr"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=message) as info:
        read_recording(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="No such file"):
        read_recording(tmp_path / "nope.dlr")


def test_unsupported_version_is_refused(tmp_path: Path) -> None:
    import json
    import struct
    import zlib

    head = json.dumps({"format_version": 99, "streams": []}).encode()
    path = tmp_path / "v99.dlr"
    path.write_bytes(
        MAGIC + struct.pack("<I", len(head)) + head + struct.pack("<I", zlib.crc32(head))
    )
    with pytest.raises(RecordingError, match="format_version 99"):
        read_recording(path)
    assert os.path.getsize(path) > 0
