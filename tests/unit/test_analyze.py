"""`downhill-live analyze`: CSV and recording input, output formats, line-numbered errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from downhill_live.sim.gait import Segment, simulate
from tests.conftest import RECORDINGS, ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "downhill_live", "analyze", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=300,
    )


@pytest.fixture(scope="module")
def pelvis_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    sim = simulate([Segment(30.0, 0.0, "run", cadence_spm=172.0)], "pelvis", rate_hz=200.0, seed=3)
    path = tmp_path_factory.mktemp("csv") / "pelvis.csv"
    g = 9.80665
    with open(path, "w") as fh:
        fh.write("t_s,ax,ay,az,pressure_pa\n")
        for t, a, p in zip(sim.t_s, sim.acc_g * g, sim.pressure_pa, strict=True):
            fh.write(f"{t:.4f},{a[0]:.5f},{a[1]:.5f},{a[2]:.5f},{p:.2f}\n")
    return path, sim.strike_t_s


def test_csv_in_ms2_gives_strikes_matching_truth(pelvis_csv: tuple[Path, np.ndarray]) -> None:
    path, truth = pelvis_csv
    proc = run(str(path), "--placement", "pelvis", "--units", "ms2")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    t = np.array([r["t_s"] for r in rows])
    # every true strike after the first second is found within 40 ms, and nothing else
    late = truth[truth > 1.0]
    err = np.array([np.min(np.abs(t - x)) for x in late])
    assert np.all(err < 0.04)
    assert len(t[t > 1.0]) <= len(late) + 1
    cad = [r["cadence_spm"] for r in rows[10:]]
    assert np.median(cad) == pytest.approx(172.0, abs=2.0)
    assert rows[0]["cadence_spm"] is None  # unknown at the first strike
    assert set(rows[0]) >= {"t_s", "cadence_spm", "peak_g", "grade_pct"}
    assert "strikes" in proc.stderr


def test_csv_output_format(pelvis_csv: tuple[Path, np.ndarray]) -> None:
    path, _ = pelvis_csv
    proc = run(str(path), "--placement", "pelvis", "--units", "ms2", "--format", "csv")
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("t_s,cadence_spm,peak_g")
    assert len(lines) > 40


def test_recording_input() -> None:
    proc = run(str(RECORDINGS / "descent_foot_200hz.dlr"))
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) > 300


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("t_s,ax,ay\n0,1,2\n", ":1: missing column(s) az"),
        ("t_s,ax,ay,az\n0,0,0,1\n0.005,0,x,1\n", ":3: column ay: 'x' is not a number"),
        ("t_s,ax,ay,az\n0,0,0,1\n0.01,0,0,1\n0.005,0,0,1\n", ":4: time goes backwards"),
        ("t_s,ax,ay,az\n0,0,0,1\n0.01,0,0\n", ":3: expected 4 columns, got 3"),
        ("", ":1: file is empty"),
    ],
)
def test_bad_csv_gives_line_numbered_one_line_error_and_exit_2(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    proc = run(str(path))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_missing_input_file() -> None:
    proc = run("does-not-exist.csv")
    assert proc.returncode == 2
    assert "does-not-exist.csv" in proc.stderr
