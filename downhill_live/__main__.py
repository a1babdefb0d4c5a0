"""``python -m downhill_live`` == ``downhill-live``."""

from __future__ import annotations

import sys

from downhill_live.cli.main import command

sys.exit(command())
