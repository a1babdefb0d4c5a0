"""The ``import`` and ``export`` commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.errors import InputError, RecordingError
from downhill_live.files import claim_output
from downhill_live.session import session_from_recording
from downhill_live.tools.transfer import (
    decode_recording,
    import_samples,
    read_import_csv,
    read_polar_acc,
    sniff_format,
    write_samples_csv,
    write_steps_csv,
)
from downhill_live.types import PLACEMENTS


def _cmd_import(args: argparse.Namespace) -> int:
    claim_output(args.output, inputs=[args.input], force=args.force)
    fmt = args.format or sniff_format(args.input)
    if fmt == "recording":
        raise InputError(args.input, "is already a recording; nothing to import")
    samples = (
        read_polar_acc(args.input)
        if fmt == "polar"
        else read_import_csv(args.input, units=args.units)
    )
    n_rec, n_smp, rate = import_samples(
        samples, args.output, rate_hz=args.rate, placement=args.placement, source_name=args.input
    )
    print(
        f"{args.output}: {n_smp} samples at {rate:g} Hz ({n_smp / rate:.1f} s) from "
        f"{len(samples.t_s)} {fmt} rows, {n_rec} records, placement {args.placement}"
    )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:

    if not (args.samples or args.steps):
        raise InputError("export", "nothing to do: give --samples OUT.csv and/or --steps OUT.csv")
    for target in (args.samples, args.steps):
        if target:
            claim_output(target, inputs=[args.recording, args.profile], force=args.force)
    if args.samples and args.steps and Path(args.samples).resolve() == Path(args.steps).resolve():
        raise InputError(args.steps, "is also the --samples output; give two files")
    if sniff_format(args.recording) != "recording":
        raise RecordingError(args.recording, "not a downhill-live recording (bad magic bytes)")
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


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``import`` and ``export`` commands."""
    i = subparsers.add_parser(
        "import",
        help="turn a CSV or a Polar Sensor Logger ACC file into a recording",
        description="Write a recording from a CSV with header t_s,ax,ay,az[,pressure_pa] or a "
        "Polar Sensor Logger accelerometer file (Phone timestamp;sensor timestamp [ns];X [mg];"
        "Y [mg];Z [mg]). Samples are put on a uniform grid at the nominal rate; the recording "
        "replays like a live one.",
    )
    i.add_argument("input", help="CSV or Polar Sensor Logger *_ACC.txt file")
    i.add_argument("-o", "--output", required=True, metavar="OUT.dlr", help="recording to write")
    i.add_argument(
        "--format",
        choices=("csv", "polar"),
        help="input format (default: from the header line)",
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
    i.add_argument(
        "--force", action="store_true", help="replace an existing output file (never an input)"
    )
    i.set_defaults(func=_cmd_import)

    e = subparsers.add_parser(
        "export",
        help="write a recording's samples or detected steps as CSV",
        description="Decode a recording to t_s,ax,ay,az[,pressure_pa] samples (--samples) and/or "
        "run the gait core and write one row per step (--steps).",
    )
    e.add_argument("recording", help="recording file (.dlr)")
    e.add_argument("--samples", metavar="OUT.csv", help="write decoded samples")
    e.add_argument("--steps", metavar="OUT.csv", help="write detected steps")
    e.add_argument(
        "--profile",
        metavar="FILE",
        help="cue profile whose descent settings the core uses (default: bundled)",
    )
    e.add_argument("--placement", choices=PLACEMENTS, help="override the sensor placement")
    e.add_argument(
        "--force", action="store_true", help="replace an existing output file (never an input)"
    )
    e.set_defaults(func=_cmd_export)


