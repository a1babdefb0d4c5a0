"""``downhill-live profile init|check``: start a cue profile, and validate one."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from downhill_live.config.cue_profile import DEFAULT_PROFILE, load_cue_profile
from downhill_live.files import atomic_write, claim_output


def cmd_init(args: argparse.Namespace) -> int:
    """Write the bundled, commented default profile to FILE (never overwrites silently)."""
    path = claim_output(args.file, force=args.force)
    atomic_write(path, DEFAULT_PROFILE.read_text(encoding="utf-8"))
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
