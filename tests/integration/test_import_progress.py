"""``import`` of a long CSV shows its progress (rows read) on a terminal, and nothing on a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.integration.test_report_progress import ROOT, on_a_terminal


def _csv(path: Path, rows: int) -> None:
    t = np.arange(rows) / 200.0
    acc = np.column_stack([np.zeros(rows), np.zeros(rows), 1.0 + 0.1 * np.sin(t * 17.0)])
    np.savetxt(path, np.column_stack([t, acc]), delimiter=",", header="t_s,ax,ay,az",
               comments="", fmt="%.5f")  # fmt: skip


def test_import_shows_rows_read_on_a_terminal_only(tmp_path: Path) -> None:
    src = tmp_path / "long.csv"
    _csv(src, 300_000)  # 25 min at 200 Hz: several chunks of 65,536 rows
    code, shown = on_a_terminal(["import", str(src), "-o", "t.dlr"], tmp_path)
    assert code == 0, shown[-2000:]
    assert "importing" in shown and "rows" in shown
    assert (tmp_path / "t.dlr").stat().st_size > 0
    piped = subprocess.run(
        [sys.executable, "-m", "downhill_live", "import", str(src), "-o", "p.dlr"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert "importing" not in piped.stderr and "\r" not in piped.stderr
    assert piped.stdout.startswith("p.dlr: 300000 samples at 200 Hz")
