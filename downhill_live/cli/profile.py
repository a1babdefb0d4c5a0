"""``downhill-live profile init|check``: start a cue profile, and validate one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from downhill_live.config.cue_profile import DEFAULT_PROFILE, load_cue_profile
from downhill_live.errors import DownhillError


def cmd_init(args: argparse.Namespace) -> int:
    """Write the bundled, commented default profile to FILE (never overwrites silently)."""
    path = Path(args.file)
    if path.exists() and not args.force:
        raise DownhillError(f"{path}: already exists (use --force to overwrite)")
    try:
        path.write_text(DEFAULT_PROFILE.read_text(encoding="utf-8"), encoding="utf-8")
    except OSError as exc:
        raise DownhillError(f"{path}: {exc.strerror or exc}") from None
    print(f"wrote {path}: edit it, then check it with `downhill-live profile check {path}`")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate FILE; print a one-line summary of its rules."""
    prof = load_cue_profile(args.file)
    rules = ", ".join(
        f"{r.name} ({r.metric} {r.op} {r.threshold}, when {r.when})" for r in prof.rules
    )
    print(f"{args.file}: OK, {len(prof.rules)} rule(s): {rules}", file=sys.stdout)
    return 0


def register(sub: Any) -> None:
    """Add ``profile init`` and ``profile check`` to the CLI's subparsers."""
    p = sub.add_parser(
        "profile",
        help="create or check a cue profile (YAML)",
        description="Create a commented cue profile to edit, or check one for mistakes "
        "(every error names file, line and key; exit code 2).",
    )
    psub = p.add_subparsers(dest="profile_command", required=True, metavar="ACTION")
    i = psub.add_parser(
        "init", help="write a commented profile to start from", description=cmd_init.__doc__
    )
    i.add_argument(
        "file", nargs="?", default="cues.yaml", help="where to write it (default cues.yaml)"
    )
    i.add_argument("--force", action="store_true", help="overwrite an existing file")
    i.set_defaults(func=cmd_init)
    c = psub.add_parser("check", help="validate a profile", description=cmd_check.__doc__)
    c.add_argument("file", help="cue profile YAML")
    c.set_defaults(func=cmd_check)
