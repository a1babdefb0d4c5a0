"""The ``report`` command."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from downhill_live.cli.console import add_force_option, prepare_detector
from downhill_live.files import atomic_write, claim_output
from downhill_live.tools.report_files import PNG_NAMES, png_paths
from downhill_live.types import PLACEMENTS

PNG_HELP = ", ".join(f"PAGE-{name}.png" for name in PNG_NAMES)
"""The PNG names as ``--help`` and the README give them (PAGE: the page's name without .html)."""


def _cmd_report(args: argparse.Namespace) -> int:
    out = args.output or str(Path(args.recording).with_suffix(".html").name)
    paths = png_paths(out)
    sources = [args.recording, args.profile]
    for target in (out, *paths.values()):  # checked before the (long) replay
        claim_output(target, inputs=sources, force=args.force)
    # here, not at the top: matplotlib takes half a second to import, which the other commands
    # (and --help) need not pay
    from downhill_live.tools.report import chart_pngs, render_report, report_inputs

    prepare_detector(sys.stderr)  # compiles once, says so on the first run
    inputs = report_inputs(args.recording, profile=args.profile, placement=args.placement)
    atomic_write(out, render_report(**inputs))
    print(f"wrote {out}")
    for name, data in chart_pngs(inputs["steps"], inputs["cues"], inputs["profile"]).items():
        atomic_write(paths[name], data)
    print(f"wrote charts as PNG: {', '.join(str(p) for p in paths.values())}")
    return 0


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps help text at spaces only, so that a file name like PAGE-cadence.png stays whole."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report`` command."""
    r = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of a recording",
        formatter_class=_HelpFormatter,
        description="Replay a recording (no speech) and write one HTML page: cadence, peak "
        "impact and grade over time (time as m:ss, descents shaded, cues numbered), a table and "
        "a small chart per descent (cadence and impact against the flat baseline) and the cues; "
        "it reads on a phone. The three over-time charts also go next to the page as PNG files.",
    )
    r.add_argument("recording", help="recording file (.dlr)")
    r.add_argument(
        "-o",
        "--output",
        metavar="PAGE.html",
        help="output page (default: the recording's name with .html, in this folder); the "
        f"charts go next to it as {PNG_HELP}",
    )
    r.add_argument(
        "--profile",
        metavar="FILE",
        help="cue profile YAML (default: the one stored in the recording, else the bundled one)",
    )
    r.add_argument("--placement", choices=PLACEMENTS, help="override the sensor placement")
    add_force_option(r)
    r.set_defaults(func=_cmd_report)
