"""The entry point: ``downhill-live COMMAND`` (also ``python -m downhill_live``).

Each command is one module of :mod:`downhill_live.cli` with a ``register(subparsers)``
function. Every :class:`~downhill_live.errors.DownhillError` becomes one line on stderr and a
non-zero exit code; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from downhill_live import __version__
from downhill_live.cli import (
    analyze,
    attach,
    decode,
    history,
    live,
    profile,
    replay,
    report,
    scan,
    segments,
    transfer,
    tune,
)
from downhill_live.cli.console import PROG
from downhill_live.errors import DownhillError

#: the commands in the order ``--help`` lists them
COMMANDS = (
    replay,
    analyze,
    segments,
    transfer,
    attach,
    tune,
    report,
    profile,
    history,
    scan,
    live,
    decode,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Real-time downhill running coach: foot strikes, cadence, impact and grade "
        "from a BLE accelerometer, with spoken cues.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for command in COMMANDS:
        command.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format=f"{PROG}: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except DownhillError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
