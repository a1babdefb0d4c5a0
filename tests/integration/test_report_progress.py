"""``report``: a progress bar while drawing (standard error, on a terminal only), distance per
descent and in the summary when a watch file is attached, and the stored cue profile named."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pytest

from downhill_live.tools.report import render_report, report_inputs
from tests.watchfiles import START_UTC_S, attached_and_plain, truth_track

ROOT = Path(__file__).resolve().parents[2]
RECORDING = ROOT / "recordings" / "descent_foot_200hz.dlr"


def on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``downhill-live ARGS`` with standard error on a pseudo-terminal; (exit code, what it
    showed)."""
    master, slave = pty.openpty()
    # a terminal of 100 x 30 (a new pseudo-terminal has no size, and tqdm draws no bar in 0 columns)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "downhill_live", *args],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    os.close(slave)
    shown = b""
    deadline = time.monotonic() + 240.0
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the child closed the terminal (EIO)
                    break
                if not chunk:
                    break
                shown += chunk
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
    return proc.wait(timeout=60), shown.decode(errors="replace")


def test_report_shows_a_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    code, shown = on_a_terminal(["report", str(RECORDING), "-o", "t.html"], tmp_path)
    assert code == 0, shown[-2000:]
    # tqdm's bar: the label, a count of the charts (3 over-time + 1 descent, two layouts each)
    assert "drawing the report" in shown and "/8 [" in shown and "charts" in shown
    assert "drawing the PNG charts" in shown and "/3 [" in shown
    assert (tmp_path / "t.html").stat().st_size > 0

    piped = subprocess.run(
        [sys.executable, "-m", "downhill_live", "report", str(RECORDING), "-o", "p.html"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    # not a terminal: no bar (on a first run, only the one "preparing the detector" line)
    assert "drawing" not in piped.stderr and "\r" not in piped.stderr
    assert len(piped.stderr.splitlines()) <= 1
    assert piped.stdout.startswith("wrote p.html\n")


def test_report_distance_per_descent_from_an_attached_watch_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec, plain = attached_and_plain(tmp_path)
    capsys.readouterr()

    inputs = report_inputs(str(rec))
    page = render_report(**inputs)
    assert inputs["summary"]["distance_source"] == "watch file"
    assert "average pace" in page and "(watch file)" in page
    # ground truth: the simulated run's distance over the descent (tests/watchfiles.py)
    distance = inputs["distance"]
    steps = [s for s in inputs["steps"] if s.on_descent]
    t0, t1 = steps[0].t_s, next(s.t_s for s in inputs["steps"] if s.t_s > steps[-1].t_s)
    tr = truth_track()
    t_course = tr["t_utc_s"] - START_UTC_S
    want_m = float(
        np.interp(t1, t_course, tr["distance_m"]) - np.interp(t0, t_course, tr["distance_m"])
    )
    assert 350.0 < want_m < 450.0  # about 140 s at 2.9-3.0 m/s
    assert distance(t0, t1) == pytest.approx(want_m, abs=5.0)
    assert f"{distance(t0, t1):.0f} m</td>" in page  # the descents table's distance column

    # a recording with nothing that measures distance: no distance row, no column
    bare = report_inputs(str(plain))
    assert bare["distance"] is None and "distance_m" not in bare["summary"]
    assert "average pace" not in render_report(**bare)


def test_report_names_the_stored_cue_profile() -> None:
    inputs = report_inputs(str(RECORDING))
    assert inputs["meta"]["profile"] == "default_cues.yaml (stored in the recording)"
    given = report_inputs(
        str(RECORDING), profile=str(ROOT / "downhill_live/config/default_cues.yaml")
    )
    assert given["meta"]["profile"] == "default_cues.yaml"


def test_report_names_damage_on_the_page(tmp_path: Path) -> None:
    cut = tmp_path / "cut.dlr"
    cut.write_bytes(RECORDING.read_bytes()[:-7])  # the last record cut short
    inputs = report_inputs(str(cut))
    assert inputs["meta"]["damaged data"].endswith("bytes are an incomplete record (dropped)")
    assert "damaged data: the last " in render_report(**inputs)
    assert "damaged data" not in report_inputs(str(RECORDING))["meta"]
