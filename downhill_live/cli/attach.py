"""The ``attach`` command: a watch file of the same run stored in a recording."""

from __future__ import annotations

import argparse

from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.tools.attach import attach
from downhill_live.tools.watch import read_activity
from downhill_live.types import PLACEMENTS


def cmd_attach(args: argparse.Namespace) -> int:
    """Align and append; one line of what was found, one of what was stored."""
    act = read_activity(args.watch_file)
    for note in act.notes:
        print(f"note: {args.watch_file}: {note}")
    alignment, n, cols = attach(
        args.recording,
        act,
        load_cue_profile(args.profile),
        placement=args.placement,
        replace=args.force,
    )
    print(f"{args.watch_file}: {alignment.describe()}")
    print(
        f"{args.recording}: attached {n} points of {', '.join(cols) or 'nothing'} from "
        f"{act.source_format.upper()}{' (' + act.device + ')' if act.device else ''}; "
        "its recorded bytes are unchanged"
    )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``attach`` command."""
    a = subparsers.add_parser(
        "attach",
        help="store a watch file's altitude, distance, speed and heart rate in a recording",
        description="Align a FIT/GPX/TCX file of the same run with a recording (absolute time, "
        "refined by cross-correlating the two cadence series) and append its altitude, distance, "
        "speed, heart rate and cadence to the recording as new records; the recorded bytes stay "
        "as they are. Replay, tune, report and segments then take the grade from this altitude.",
    )
    a.add_argument("recording", metavar="RECORDING", help="recording file (.dlr)")
    a.add_argument("watch_file", metavar="WATCH_FILE", help="FIT, GPX or TCX file")
    a.add_argument("--profile", metavar="FILE", help="cue profile YAML (default: bundled)")
    a.add_argument("--placement", choices=PLACEMENTS, help="override the sensor placement")
    a.add_argument(
        "--force", action="store_true", help="attach even when a watch file is attached already"
    )
    a.set_defaults(func=cmd_attach)
