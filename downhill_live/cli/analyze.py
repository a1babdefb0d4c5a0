"""The ``analyze`` command."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from downhill_live.cli.console import prepare_detector
from downhill_live.tools.analyze import analyze
from downhill_live.tools.jobs import add_jobs_option


def cmd_analyze(args: argparse.Namespace) -> int:
    """Detect strikes in a recording or CSV; one line per strike on stdout."""
    prepare_detector(sys.stderr)  # compiles once, says so on the first run (not on stdout)
    # (before --jobs forks its workers: they start with the kernels loaded)
    return analyze(args)


def register(subparsers: Any) -> None:
    """Add the ``analyze`` command."""
    a = subparsers.add_parser(
        "analyze",
        help="detect strikes in a recording or CSV and print one line per strike",
        description="Run the gait core over a recording or a CSV with header t_s,ax,ay,az "
        "(optional pressure_pa). One line per strike on stdout, a summary on stderr.",
    )
    a.add_argument(
        "input", nargs="+", help="recording (.dlr) or CSV file(s); with several, lines name the file"
    )
    a.add_argument(
        "--placement",
        choices=("foot", "shank", "pelvis", "chest"),
        help="sensor placement (CSV default: foot)",
    )
    a.add_argument(
        "--format", choices=("jsonl", "csv"), default="jsonl", help="output format (default jsonl)"
    )
    a.add_argument(
        "--units", choices=("g", "ms2"), default="g", help="CSV acceleration units (default g)"
    )
    a.add_argument(
        "--rate", type=float, metavar="HZ", help="nominal sample rate for CSV (default: from t_s)"
    )
    add_jobs_option(a)
    a.set_defaults(func=cmd_analyze)
