"""SIGTERM and SIGHUP end a live session like Ctrl-C: the summary is printed, the recording is
closed whole, the exit code is 0."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from downhill_live.record import read_recording

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_stop_signal_ends_cleanly(sig: signal.Signals, tmp_path: Path) -> None:
    rec_dir = tmp_path / "rec"
    proc = subprocess.Popen(
        [sys.executable, "-m", "downhill_live", "live", "--simulate",
         str(ROOT / "recordings" / "descent_foot_200hz.dlr"), "--no-speak", "--speed", "10",
         "--record", str(rec_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # streaming: the recording exists and grows
            files = list(rec_dir.glob("*.dlr"))
            if files and files[0].stat().st_size > 20_000:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the live session did not start recording")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    assert "summary:" in out and "recorded to" in out
    (path,) = rec_dir.glob("*.dlr")
    rec = read_recording(str(path))
    assert rec.dropped_tail_bytes == 0 and len(rec.packets) > 100
