"""A disk that fills up mid-session: the recording keeps every record written before, stays
readable, the user is told once, and live coaching goes on to its summary. The limit is real:
the kernel refuses writes past RLIMIT_FSIZE (EFBIG), as a full card refuses them (ENOSPC)."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from downhill_live.errors import RecordingError
from downhill_live.record import RecordingWriter, read_recording
from downhill_live.types import Packet

ROOT = Path(__file__).resolve().parents[2]
LIMIT_BYTES = 64 * 1024


def limit_file_size() -> None:  # runs in the child before exec
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a refused write returns EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT_BYTES, LIMIT_BYTES))


WRITER_SCRIPT = """
import sys
from downhill_live.errors import RecordingError
from downhill_live.record import RecordingWriter
from downhill_live.types import Packet
w = RecordingWriter(sys.argv[1], {"firmware": {"name": "x"}}, streams=["acc"])
errors = 0
for i in range(4000):
    w.write_packet(Packet(i * 0.01, "acc", bytes([i % 256]) * 40))
    if i % 50 == 49:
        try:
            w.flush()
        except RecordingError as exc:
            errors += 1
            print("error:", exc)
w.close()
print("dropped", w.dropped_records, "errors", errors)
"""


def test_writer_keeps_complete_records_and_says_so_once(tmp_path: Path) -> None:
    path = tmp_path / "full.dlr"
    out = subprocess.run(
        [sys.executable, "-c", WRITER_SCRIPT, str(path)],
        preexec_fn=limit_file_size, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len([x for x in lines if x.startswith("error:")]) == 1, lines
    assert "recording stopped" in lines[0] and "kept what was written before" in lines[0]
    rec = read_recording(str(path))
    assert rec.dropped_tail_bytes == 0  # the refused batch was undone: no half record
    kept = len(rec.packets)
    assert 0 < kept < 4000 and path.stat().st_size <= LIMIT_BYTES
    dropped = int(lines[-1].split()[1])
    assert kept + dropped == 4000  # every packet is either in the file or counted as lost
    assert [p.payload[0] for p in rec.packets] == [i % 256 for i in range(kept)]


def test_unwritable_device_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="No space left"):
        w = RecordingWriter("/dev/full", {"firmware": {"name": "x"}}, streams=["acc"])
        w.write_packet(Packet(0.0, "acc", b"x"))
        w.close()


def test_live_session_survives_a_full_disk(tmp_path: Path) -> None:
    rec_dir = tmp_path / "rec"
    out = subprocess.run(
        [sys.executable, "-m", "downhill_live", "live", "--simulate",
         str(ROOT / "recordings" / "descent_foot_200hz.dlr"), "--speed", "40",
         "--no-speak", "--record", str(rec_dir)],
        preexec_fn=limit_file_size, capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    notes = [x for x in out.stdout.splitlines() if "recording stopped" in x]
    assert len(notes) == 1, out.stdout[-3000:]
    assert "summary:" in out.stdout and "cue " in out.stdout
    (path,) = rec_dir.glob("*.dlr")
    rec = read_recording(str(path))
    assert rec.dropped_tail_bytes == 0 and len(rec.packets) > 100
