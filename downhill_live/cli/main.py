"""The entry point: ``downhill-live COMMAND`` (also ``python -m downhill_live``).

Each command is one module of :mod:`downhill_live.cli` with a ``register(subparsers)``
function. Every :class:`~downhill_live.errors.DownhillError` becomes one line on stderr and a
non-zero exit code; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import sys
from collections.abc import Sequence

from downhill_live import __version__
from downhill_live.errors import DownhillError

#: the program's name in messages (as :data:`downhill_live.cli.console.PROG`, which imports the
#: gait core: not needed to parse a command line)
PROG = "downhill-live"

#: the command modules of :mod:`downhill_live.cli` in the order ``--help`` lists them, each with
#: the command names its ``register`` adds
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("replay", ("replay",)),
    ("analyze", ("analyze",)),
    ("segments", ("segments",)),
    ("transfer", ("import", "export")),
    ("attach", ("attach",)),
    ("tune", ("tune",)),
    ("report", ("report",)),
    ("profile", ("profile",)),
    ("history", ("history",)),
    ("scan", ("scan",)),
    ("live", ("live",)),
    ("decode", ("decode",)),
)


def command_modules(argv: Sequence[str] | None) -> list[str]:
    """The command modules to import for ``argv``: the named command's only (importing every
    command costs ~0.5 s: scipy, bleak, the report's and the import's modules), all of them
    for ``--help``, no command or an unknown one (argparse then lists them)."""
    name = next((a for a in argv if not a.startswith("-")), None) if argv is not None else None
    for module, names in COMMANDS:
        if name in names:
            return [module]
    return [module for module, _ in COMMANDS]


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command-line parser; with ``argv``, only the command it names is registered."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Real-time downhill running coach: foot strikes, cadence, impact and grade "
        "from a BLE accelerometer, with spoken cues.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for module in command_modules(argv):
        importlib.import_module(f"downhill_live.cli.{module}").register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
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


def command() -> int:
    """The ``downhill-live`` program (and ``python -m downhill_live``): :func:`main`, then
    the objects made so far are exempted from the garbage collector's last pass as the
    interpreter exits. That pass walks every object numba made when it loaded the compiled
    kernels: ~0.2 s of a command's 1 s. Nothing is skipped that would be done otherwise:
    exit handlers run, files are closed, objects outside reference cycles freed; only cyclic garbage left at exit is
    not collected, which the operating system takes back with the process."""
    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(command())
