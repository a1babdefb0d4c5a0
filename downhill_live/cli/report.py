"""The ``report`` command."""

from __future__ import annotations

import argparse
from pathlib import Path

from downhill_live.errors import DownhillError
from downhill_live.tools.report import (
    chart_data,
    chart_png,
    png_paths,
    render_report,
    report_inputs,
)
from downhill_live.types import PLACEMENTS


def _write(path: Path, data: bytes) -> None:
    """Write an output file; an unwritable path is a one-line user error."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise DownhillError(f"{path}: {exc.strerror or exc}") from None


def _cmd_report(args: argparse.Namespace) -> int:
    inputs = report_inputs(args.recording, profile=args.profile, placement=args.placement)
    out = args.output or str(Path(args.recording).with_suffix(".html").name)
    _write(Path(out), render_report(**inputs).encode("utf-8"))
    print(f"wrote {out}")
    paths = png_paths(out)
    for cd in chart_data(inputs["steps"], inputs["cues"]):
        _write(paths[cd.attr], chart_png(cd))
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
    r.set_defaults(func=_cmd_report)


