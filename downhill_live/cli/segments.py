"""The ``segments`` command: a run's flat, descent and climb segments, one per line."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from downhill_live.config.cue_profile import CueProfile, load_cue_profile
from downhill_live.errors import InputError
from downhill_live.files import check_input
from downhill_live.record import MAGIC
from downhill_live.tools.segments import (
    segment_rows,
    series_from_activity,
    series_from_recording,
    write_segments,
)
from downhill_live.tools.watch import read_activity
from downhill_live.tools.watch.phone import is_phone_log, phone_to_recording, read_phone_log
from downhill_live.types import PLACEMENTS


def _is_recording(path: str) -> bool:
    check_input(path)
    try:
        with open(path, "rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None


def _phone_segments(args: argparse.Namespace, profile: CueProfile) -> int:
    """A phone log: imported into a temporary recording (the gait core gives cadence and
    impact, the barometer the grade, the location the distance), then cut like a recording."""
    if args.with_file:
        raise InputError("--with", "needs a recording as FILE (FILE is a phone log)")
    log = read_phone_log(args.file)
    for note in log.notes:
        print(f"note: {args.file}: {note}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="downhill-segments-") as tmp:
        rec = Path(tmp) / "phone.dlr"
        phone_to_recording(log, rec, placement=args.placement or "foot", source_name=args.file)
        series = series_from_recording(str(rec), profile, placement=args.placement)
    rows = segment_rows(series, profile.descent)
    write_segments(rows, sys.stdout, args.format)
    _summary(args.file, rows)
    return 0


def _summary(name: str, rows: list[dict[str, Any]]) -> None:
    n = {k: sum(r["kind"] == k for r in rows) for k in ("flat", "descent", "climb")}
    print(
        f"{name}: {len(rows)} segments ({n['descent']} descent, {n['climb']} climb, "
        f"{n['flat']} flat)",
        file=sys.stderr,
    )


def cmd_segments(args: argparse.Namespace) -> int:
    """Print the segments; notes about the inputs go to stderr."""
    profile = load_cue_profile(args.profile)
    if not _is_recording(args.file) and is_phone_log(args.file):
        return _phone_segments(args, profile)
    if _is_recording(args.file):
        watch = read_activity(args.with_file) if args.with_file else None
        for note in watch.notes if watch is not None else ():
            print(f"note: {args.with_file}: {note}", file=sys.stderr)
        series = series_from_recording(
            args.file, profile, placement=args.placement, with_activity=watch
        )
    else:
        if args.with_file:
            raise InputError("--with", "needs a recording as FILE (FILE is a watch file already)")
        act = read_activity(args.file)
        series = series_from_activity(act)
        what = ", ".join(act.known_columns()) or "time only"
        print(
            f"{args.file}: {act.source_format.upper()} {act.sport or 'activity'}"
            f"{' by ' + act.device if act.device else ''}: {len(act)} points over "
            f"{act.t_s[-1]:.0f} s ({what})",
            file=sys.stderr,
        )
    for note in series.notes:
        print(f"note: {args.file}: {note}", file=sys.stderr)
    rows = segment_rows(series, profile.descent)
    write_segments(rows, sys.stdout, args.format)
    _summary(args.file, rows)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``segments`` command."""
    s = subparsers.add_parser(
        "segments",
        help="print a run's flat, descent and climb segments, one per line",
        description="Cut a recording, or a FIT/GPX/TCX file on its own, into flat, descent and "
        "climb segments (thresholds: the cue profile's descent settings) and print one line per "
        "segment: kind, t0_s, t1_s, start_utc, grade_pct (mean), distance_m, and medians of "
        "cadence_spm (steps per minute), peak_g, gct_ms and heart_rate_bpm where known.",
    )
    s.add_argument(
        "file",
        metavar="FILE",
        help="recording (.dlr), FIT/GPX/TCX file, Sensor Logger zip or phyphox export",
    )
    s.add_argument(
        "--with",
        dest="with_file",
        metavar="WATCH_FILE",
        help="a watch file of the same run (FILE a recording): grade, distance and heart rate "
        "from it, aligned as 'attach' does, without changing FILE",
    )
    s.add_argument(
        "--format", choices=("jsonl", "csv"), default="jsonl", help="output format (default jsonl)"
    )
    s.add_argument("--profile", metavar="FILE", help="cue profile YAML (default: bundled)")
    s.add_argument("--placement", choices=PLACEMENTS, help="override the sensor placement")
    s.set_defaults(func=cmd_segments)
