"""Shared fixtures and paths."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT / "recordings"
SHARED_DATA = Path(os.environ.get("DOWNHILL_DATA", ROOT.parent / "shared" / "data"))


def run_python(code: str, *args: str, env: dict[str, str], timeout_s: float = 600.0) -> str:
    """Run ``code`` in a fresh interpreter at the repository root with ``env`` added to the
    environment (numba reads NUMBA_DISABLE_JIT / NUMBA_NRT_STATS only at start-up); the test
    fails with the tail of its stderr unless it exits 0. Returns its stdout."""
    r = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


@pytest.fixture(autouse=True, scope="session")
def _private_data_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests never write to the user's own data folders (runner history, recordings, the
    speech clip cache): platformdirs follows XDG_DATA_HOME / XDG_CONFIG_HOME / XDG_CACHE_HOME,
    here a folder of this test run."""
    home = tmp_path_factory.mktemp("xdg")
    saved = {k: os.environ.get(k) for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ["XDG_CACHE_HOME"] = str(home / "cache")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
