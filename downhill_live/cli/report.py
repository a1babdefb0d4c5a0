"""The ``report`` command."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from downhill_live.cli.console import add_force_option, prepare_detector
from downhill_live.errors import InputError
from downhill_live.files import atomic_write, claim_output
from downhill_live.tools.jobs import add_jobs_option, run_jobs
from downhill_live.tools.report_files import PNG_NAMES, png_paths
from downhill_live.types import PLACEMENTS

PNG_HELP = ", ".join(f"PAGE-{name}.png" for name in PNG_NAMES)
"""The PNG names as ``--help`` and the README give them (PAGE: the page's name without .html)."""


def _cmd_report(args: argparse.Namespace) -> int:
    recordings = args.recording if isinstance(args.recording, list) else [args.recording]
    if args.output and len(recordings) > 1:
        raise InputError("-o", "names one page: give one recording with it")
    outs = [args.output or str(Path(r).with_suffix(".html").name) for r in recordings]
    for recording, out in zip(recordings, outs, strict=True):
        sources = [recording, args.profile]
        for target in (out, *png_paths(out).values()):  # checked before the (long) replay
            claim_output(target, inputs=sources, force=args.force)
    prepare_detector(sys.stderr)  # compiles once, says so on the first run
    jobs = getattr(args, "jobs", 1)
    for lines in run_jobs(
        _report_one, list(zip(recordings, outs, strict=True)), jobs=jobs,
        profile=args.profile, placement=args.placement,
    ):  # fmt: skip
        print("\n".join(lines))
    return 0


def _report_one(
    item: tuple[str, str], *, profile: str | None, placement: str | None
) -> list[str]:
    """One recording's page and charts (a ``--jobs`` worker runs this); the lines to print."""
    recording, out = item
    paths = png_paths(out)
    # here, not at the top: matplotlib takes half a second to import, which the other commands
    # (and --help) need not pay
    from downhill_live.tools.report import chart_pngs, render_report, report_inputs

    inputs = report_inputs(recording, profile=profile, placement=placement)
    atomic_write(out, render_report(**inputs))
    for name, data in chart_pngs(inputs["steps"], inputs["cues"], inputs["profile"]).items():
        atomic_write(paths[name], data)
    return [
        f"wrote {out}",
        f"wrote charts as PNG: {', '.join(str(p) for p in paths.values())}",
    ]


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
    r.add_argument("recording", nargs="+", help="recording file(s) (.dlr), one page each")
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
    add_jobs_option(r)
    r.set_defaults(func=_cmd_report)
