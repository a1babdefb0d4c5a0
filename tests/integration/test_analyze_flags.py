"""``analyze`` marks what a step's peak cannot be trusted for: ``undersampled`` (a foot or shank
below 200 Hz) and ``clipped`` (the peak at the sensor's range), and says the first once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from downhill_live.sim.gait import Segment, simulate


def _csv(path: Path, rate_hz: float, range_g: float | None = None) -> None:
    sim = simulate([Segment(2.0, 0.0, "stand"), Segment(25.0, 0.0, "run")], "foot", rate_hz, 3)
    acc = np.asarray(sim.acc_g)
    if range_g is not None:
        acc = np.clip(acc, -range_g, range_g)
    rows = np.column_stack([np.asarray(sim.t_s), acc])
    np.savetxt(path, rows, delimiter=",", header="t_s,ax,ay,az", comments="", fmt="%.6f")


def _analyze(path: Path) -> tuple[list[dict], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "downhill_live", "analyze", str(path), "--placement", "foot"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def test_undersampled_foot_is_marked_per_step_and_said_once(tmp_path: Path) -> None:
    slow = tmp_path / "foot100.csv"
    _csv(slow, 100.0)
    steps, err = _analyze(slow)
    assert len(steps) > 25
    assert all(s["undersampled"] is True for s in steps)
    assert err.count("under-sampled") == 1
    fast = tmp_path / "foot200.csv"
    _csv(fast, 200.0)
    steps, err = _analyze(fast)
    assert len(steps) > 25 and not any(s["undersampled"] for s in steps)
    assert "under-sampled" not in err
    assert all(s["clipped"] is False for s in steps)  # analyze of a CSV knows no sensor range
