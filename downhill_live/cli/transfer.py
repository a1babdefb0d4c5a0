"""The ``import`` and ``export`` commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from downhill_live.cli.console import add_force_option
from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.errors import InputError, RecordingError
from downhill_live.files import atomic_write, claim_output
from downhill_live.session import session_from_recording
from downhill_live.tools.platform_export import (
    describe,
    fit_bytes,
    gpx_text,
    run_from_recording,
    tcx_text,
)
from downhill_live.tools.transfer import (
    decode_recording,
    import_csv,
    import_samples,
    read_polar_acc,
    sniff_format,
    write_samples_csv,
    write_steps_csv,
)
from downhill_live.tools.watch.phone import is_phone_log, phone_to_recording, read_phone_log
from downhill_live.types import PLACEMENTS


def _import_phone(args: argparse.Namespace) -> int:
    """A Sensor Logger zip or a phyphox export: accelerometer (+ barometer) -> recording;
    Sensor Logger's location -> attached data of the recording."""
    log = read_phone_log(args.input)
    for note in log.notes:
        print(f"note: {args.input}: {note}")
    n_rec, n_smp, rate, n_loc, cols = phone_to_recording(
        log, args.output, rate_hz=args.rate, placement=args.placement, source_name=args.input
    )
    baro = ", barometer as pressure" if log.pressure_pa is not None else ""
    print(
        f"{args.output}: {n_smp} samples at {rate:g} Hz ({n_smp / rate:.1f} s) from "
        f"{len(log.t_s)} {log.source_format} accelerometer rows{baro}, {n_rec} records, "
        f"placement {args.placement}"
    )
    if n_loc:
        print(f"{args.output}: attached {n_loc} location points ({', '.join(cols)})")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    claim_output(args.output, inputs=[args.input], force=args.force)
    if args.format in (None, "sensor-logger", "phyphox") and is_phone_log(args.input):
        return _import_phone(args)
    if args.format in ("sensor-logger", "phyphox"):
        raise InputError(args.input, f"is not a {args.format} export")
    fmt = args.format or sniff_format(args.input)
    if fmt == "recording":
        raise InputError(args.input, "is already a recording; nothing to import")
    if fmt == "polar":
        samples = read_polar_acc(args.input)
        n_rec, n_smp, rate = import_samples(
            samples, args.output, rate_hz=args.rate, placement=args.placement, source_name=args.input
        )
        n_rows = len(samples.t_s)
    else:  # streamed: memory does not grow with the file's length
        n_rec, n_smp, rate, n_rows = import_csv(
            args.input,
            args.output,
            units=args.units,
            rate_hz=args.rate,
            placement=args.placement,
            progress="importing",
        )
    print(
        f"{args.output}: {n_smp} samples at {rate:g} Hz ({n_smp / rate:.1f} s) from "
        f"{n_rows} {fmt} rows, {n_rec} records, placement {args.placement}"
    )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:

    targets = [
        (opt, t)
        for opt, t in (
            ("--samples", args.samples),
            ("--steps", args.steps),
            ("--fit", getattr(args, "fit", None)),
            ("--tcx", getattr(args, "tcx", None)),
            ("--gpx", getattr(args, "gpx", None)),
        )
        if t
    ]
    if not targets:
        raise InputError(
            "export",
            "nothing to do: give --samples OUT.csv, --steps OUT.csv, --fit OUT.fit, "
            "--tcx OUT.tcx and/or --gpx OUT.gpx",
        )
    seen: dict[Path, str] = {}
    for opt, target in targets:
        claim_output(target, inputs=[args.recording, args.profile], force=args.force)
        key = Path(target).resolve()
        if key in seen:
            raise InputError(target, f"is also the {seen[key]} output; give two files")
        seen[key] = opt
    if sniff_format(args.recording) != "recording":
        raise RecordingError(args.recording, "not a downhill-live recording (bad magic bytes)")
    if any(opt in ("--fit", "--tcx", "--gpx") for opt, _ in targets):
        _export_platform(args)
    if args.samples:
        t_s, acc, pr, bad = decode_recording(args.recording)
        write_samples_csv(args.samples, t_s, acc, pr)
        extra = f", {bad} undecodable records skipped" if bad else ""
        print(f"{args.samples}: {len(t_s)} samples{extra}")
    if args.steps:
        session, rec = session_from_recording(
            args.recording,
            load_cue_profile(args.profile) if args.profile else None,
            placement=args.placement,
        )
        session.process_all(rec.packets, progress="detecting steps")
        write_steps_csv(args.steps, session.steps)
        print(f"{args.steps}: {len(session.steps)} steps ({session.placement})")
    return 0


def _export_platform(args: argparse.Namespace) -> None:
    run = run_from_recording(
        args.recording, load_cue_profile(args.profile), placement=args.placement
    )
    for note in run.notes:
        print(f"note: {args.recording}: {note}")
    d = describe(run)
    if args.gpx and "latitude_deg" not in d["fields"]:
        raise InputError(
            args.gpx,
            "GPX needs positions and this recording has none: attach a watch file with GPS "
            "first (downhill-live attach), or export --fit/--tcx",
        )
    has = ", ".join(d["fields"]) or "no watch data"
    what = (
        f"{d['points']} points over {d['duration_s']:.0f} s, {d['laps']} laps "
        f"({d['descents']} descents), {d['cues']} cues; {has}"
    )
    if args.fit:
        atomic_write(args.fit, fit_bytes(run))
        print(f"{args.fit}: FIT activity, {what}")
    if args.tcx:
        atomic_write(args.tcx, tcx_text(run))
        print(f"{args.tcx}: TCX activity, {what}")
    if args.gpx:
        atomic_write(args.gpx, gpx_text(run, name=Path(args.recording).stem))
        print(f"{args.gpx}: GPX track, {what}")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``import`` and ``export`` commands."""
    i = subparsers.add_parser(
        "import",
        help="turn a CSV, a Polar Sensor Logger ACC file, a Sensor Logger zip or a phyphox "
        "export into a recording",
        description="Write a recording from a CSV with header t_s,ax,ay,az[,pressure_pa] or a "
        "Polar Sensor Logger accelerometer file (Phone timestamp;sensor timestamp [ns];X [mg];"
        "Y [mg];Z [mg]), a Sensor Logger app zip export (TotalAcceleration or Accelerometer + "
        "Gravity, Barometer, Location) or a phyphox 'Acceleration (with g)' CSV/zip export. "
        "Samples are put on a uniform grid at the nominal rate; the recording replays like a "
        "live one. A phone's barometer becomes the recording's pressure, its location attached "
        "data (as 'attach' stores a watch file).",
    )
    i.add_argument(
        "input", help="CSV, Polar Sensor Logger *_ACC.txt, Sensor Logger .zip or phyphox export"
    )
    i.add_argument("-o", "--output", required=True, metavar="OUT.dlr", help="recording to write")
    i.add_argument(
        "--format",
        choices=("csv", "polar", "sensor-logger", "phyphox"),
        help="input format (default: from the content)",
    )
    i.add_argument(
        "--placement", choices=PLACEMENTS, default="foot", help="sensor placement (default foot)"
    )
    i.add_argument(
        "--rate", type=float, metavar="HZ", help="nominal sample rate (default: from the times)"
    )
    i.add_argument(
        "--units",
        choices=("g", "ms2"),
        default="g",
        help="CSV acceleration units (default g; Polar files name their unit)",
    )
    add_force_option(i)
    i.set_defaults(func=_cmd_import)

    e = subparsers.add_parser(
        "export",
        help="write a recording's samples or steps as CSV, or the run as FIT/TCX/GPX",
        description="Decode a recording to t_s,ax,ay,az[,pressure_pa] samples (--samples) and/or "
        "run the gait core and write one row per step (--steps), and/or write the replayed run "
        "as a file running platforms open (--fit, --tcx, --gpx), with the attached watch data.",
    )
    e.add_argument("recording", help="recording file (.dlr)")
    e.add_argument("--samples", metavar="OUT.csv", help="write decoded samples")
    e.add_argument("--steps", metavar="OUT.csv", help="write detected steps")
    e.add_argument(
        "--fit",
        metavar="OUT.fit",
        help="write a FIT activity (Garmin Connect, Strava, intervals.icu, Runalyze, "
        "GoldenCheetah): 1 s records, one lap per segment, developer fields for impact, grade, "
        "descent and cues",
    )
    e.add_argument("--tcx", metavar="OUT.tcx", help="write a TCX activity, one lap per segment")
    e.add_argument(
        "--gpx", metavar="OUT.gpx", help="write a GPX track (needs attached watch positions)"
    )
    e.add_argument(
        "--profile",
        metavar="FILE",
        help="cue profile whose descent settings the core uses (default: bundled)",
    )
    e.add_argument("--placement", choices=PLACEMENTS, help="override the sensor placement")
    add_force_option(e)
    e.set_defaults(func=_cmd_export)
