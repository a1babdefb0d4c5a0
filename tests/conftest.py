"""Shared fixtures and paths."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT / "recordings"
SHARED_DATA = Path(os.environ.get("DOWNHILL_DATA", ROOT.parent / "shared" / "data"))


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
