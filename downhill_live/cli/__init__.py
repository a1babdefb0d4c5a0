"""Command line: ``downhill-live COMMAND`` (also ``python -m downhill_live``).

One module per command group; :mod:`downhill_live.cli.console` holds the user-facing lines.
"""

from __future__ import annotations

from downhill_live.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
