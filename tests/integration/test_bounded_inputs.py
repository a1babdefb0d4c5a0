"""Inputs that are not files end in one clear line, not a hang or memory running out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "{zero}", "--no-speak"],
        ["analyze", "{zero}"],
        ["import", "{zero}", "-o", "{d}/out.dlr"],
        ["replay", "{fifo}", "--no-speak"],
        ["analyze", "{fifo}"],
        ["import", "{fifo}", "-o", "{d}/out.dlr"],
        ["export", "{fifo}", "--steps", "{d}/s.csv"],
    ],
)
def test_devices_and_fifos_are_refused(argv: list[str], tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # nobody ever writes to it: opening it for reading would block forever
    args = [a.format(zero="/dev/zero", fifo=fifo, d=tmp_path) for a in argv]
    proc = subprocess.run(
        [sys.executable, "-m", "downhill_live", *args],
        capture_output=True, text=True, timeout=120,  # a hang detector, not a speed goal
    )  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(lines) == 1 and "is not a regular file" in lines[0], proc.stderr
    assert not (tmp_path / "out.dlr").exists() and not (tmp_path / "s.csv").exists()
