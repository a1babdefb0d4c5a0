"""The command line imports only the command it runs (each command's modules cost start-up
time: scipy, bleak, the report's plotting, the import's platform readers)."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

from downhill_live.cli.main import COMMANDS, build_parser, command_modules
from tests.conftest import run_python


def test_command_table_matches_what_each_module_registers() -> None:
    for module, names in COMMANDS:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"downhill_live.cli.{module}").register(sub)
        assert tuple(sub.choices) == names, module


def test_named_command_only_and_all_for_help() -> None:
    assert command_modules(["-v", "replay", "x.dlr"]) == ["replay"]
    assert command_modules(["export", "x.dlr"]) == ["transfer"]
    everything = [m for m, _ in COMMANDS]
    assert command_modules(["--help"]) == everything
    assert command_modules(["no-such-command"]) == everything
    assert command_modules(None) == everything
    full = build_parser()
    sub = next(a for a in full._actions if isinstance(a, argparse._SubParsersAction))
    assert sorted(sub.choices) == sorted(n for _, names in COMMANDS for n in names)


def test_replay_command_line_does_not_import_other_commands() -> None:
    code = (
        "import sys\n"
        "from downhill_live.cli.main import build_parser\n"
        "args = build_parser(['replay', 'x.dlr']).parse_args(['replay', 'x.dlr'])\n"
        "assert args.func.__module__ == 'downhill_live.cli.replay', args.func\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('bleak', 'matplotlib') or m.startswith(('downhill_live.cli.', 'scipy.signal',"
        " 'downhill_live.sim')))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert "downhill_live.cli.replay" in out
    # (numba itself imports the scipy package, and scipy.linalg when it loads its registries)
    others = [m for m in out if not m.startswith("downhill_live.cli.")]
    assert not others, others
    assert not {f"downhill_live.cli.{m}" for m in ("report", "live", "transfer", "tune")} & set(out)


def test_the_program_returns_main_s_code_and_spares_the_exit_collection() -> None:
    """``downhill-live`` (``cli.main.command``) is :func:`main` plus ``gc.freeze()`` before the
    interpreter exits (its last collection walked numba's objects: ~0.2 s a command)."""
    code = (
        "import gc, sys\n"
        "from downhill_live.cli.main import command, main\n"
        "sys.argv = ['downhill-live', 'analyze', 'no/such/file.dlr']\n"
        "got = command()\n"
        "print(got, gc.get_freeze_count() > 0, main(['analyze', 'no/such/file.dlr']))\n"
    )
    out = run_python(code, env={}).split()
    assert out[0] == out[2] != "0"  # the exit code of main, unchanged
    assert out[1] == "True"
