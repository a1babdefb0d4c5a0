"""The ``report`` command."""

from __future__ import annotations

import argparse
from pathlib import Path

from downhill_live.files import atomic_write, claim_output
from downhill_live.tools.report import (
    chart_data,
    chart_png,
    png_paths,
    render_report,
    report_inputs,
)
from downhill_live.types import PLACEMENTS


def _cmd_report(args: argparse.Namespace) -> int:
    out = args.output or str(Path(args.recording).with_suffix(".html").name)
    paths = png_paths(out)
    sources = [args.recording, args.profile]
    for target in (out, *paths.values()):  # checked before the (long) replay
        claim_output(target, inputs=sources, force=args.force)
    inputs = report_inputs(args.recording, profile=args.profile, placement=args.placement)
    atomic_write(out, render_report(**inputs))
    print(f"wrote {out}")
    for cd in chart_data(inputs["steps"], inputs["cues"]):
        atomic_write(paths[cd.attr], chart_png(cd))
    print(f"wrote charts as PNG: {', '.join(str(p) for p in paths.values())}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report`` command."""
    r = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of a recording",
        description="Replay a recording (no speech) and write one HTML page with cadence, peak "
        "impact and grade over time (descents shaded, cues marked) and a table per segment, "
        "plus one PNG per chart next to the page.",
    )
    r.add_argument("recording", help="recording file (.dlr)")
    r.add_argument(
        "-o",
        "--output",
        metavar="report.html",
        help="output page (default: RECORDING.html here); the charts also go next to it as "
        "report-cadence.png, report-peak.png and report-grade.png",
    )
    r.add_argument("--profile", metavar="FILE", help="cue profile YAML (default: bundled)")
    r.add_argument("--placement", choices=PLACEMENTS, help="override the sensor placement")
    r.add_argument(
        "--force", action="store_true", help="replace an existing output file (never an input)"
    )
    r.set_defaults(func=_cmd_report)


