"""Shared fixtures and paths."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT / "recordings"
SHARED_DATA = Path(os.environ.get("DOWNHILL_DATA", ROOT.parent / "shared" / "data"))
