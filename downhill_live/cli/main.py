"""Command line: ``downhill-live replay | analyze | ...`` (``python -m downhill_live``).

User-facing messages live here. Every :class:`DownhillError` becomes one line on stderr and a
non-zero exit code; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from downhill_live import __version__
from downhill_live.cli import live as live_cli
from downhill_live.cli import profile as profile_cli
from downhill_live.errors import DownhillError, InputError
from downhill_live.tools import report, transfer, tune
from downhill_live.tools.verify import add_verify_option, print_verification

PROG = "downhill-live"


def _print_summary(summary: dict[str, Any], out: TextIO) -> None:
    pk = summary["peak_g"]
    peak = ", ".join(f"{k} {v:.2f}" for k, v in pk.items()) if pk else "n/a"
    cues = ", ".join(f"{k} x{v}" for k, v in summary["cues"].items()) or "none"

    def f(v: float | None, unit: str) -> str:
        return "n/a" if v is None else f"{v:.1f} {unit}"

    print("summary:", file=out)
    print(f"  steps            {summary['steps']} over {summary['duration_s']:.1f} s", file=out)
    print(
        f"  cadence          flat {f(summary['cadence_flat_spm'], 'spm')}, "
        f"descent {f(summary['cadence_descent_spm'], 'spm')}",
        file=out,
    )
    print(f"  peak impact (g)  {peak}", file=out)
    print(
        f"  peak impact      flat median {f(summary['peak_flat_g'], 'g')}, "
        f"descent median {f(summary['peak_descent_g'], 'g')}",
        file=out,
    )
    print(f"  time on descents {summary['descent_time_s']:.1f} s", file=out)
    print(f"  cues fired       {sum(summary['cues'].values())} ({cues})", file=out)
    if summary["lost_samples"] or summary["decode_errors"]:
        errs = ", ".join(f"{k} x{v}" for k, v in summary["decode_errors"].items()) or "none"
        print(
            f"  data             {summary['lost_samples']} samples lost in transit; bad packets: {errs}",
            file=out,
        )


def cmd_replay(args: argparse.Namespace) -> int:
    from downhill_live.config.cue_profile import load_cue_profile
    from downhill_live.session import session_from_recording
    from downhill_live.speech import format_cue_line, open_profile_speaker, write_cues_wav

    out = sys.stdout
    if not args.speed >= 0:  # also refuses nan
        raise InputError("--speed", f"must be >= 0, got {args.speed}")
    cue_profile = load_cue_profile(args.profile)
    s = cue_profile.settings

    def on_cue(cue: Any) -> None:
        print(format_cue_line(cue), file=out, flush=True)
        speaker.say(cue)

    session, rec = session_from_recording(
        args.recording, cue_profile, placement=args.placement, on_cue=on_cue
    )
    speaker = open_profile_speaker(s, speak=not args.no_speak)
    device = rec.header.get("device") or {}
    print(
        f"replaying {args.recording}: {device.get('name', '?')} ({session.firmware.name}), "
        f"placement {session.placement}, {len(rec.packets)} packets",
        file=out,
    )
    print(speaker.description, file=out)
    t_wall0 = time.monotonic()
    t_rx0 = rec.packets[0].t_rx_s if rec.packets else 0.0
    try:
        if not args.speed:
            # as fast as possible: batches of packets, with the same steps and cues
            for k in range(0, len(rec.packets), 2048):
                session.process_many(rec.packets[k : k + 2048])
        for packet in rec.packets if args.speed else ():
            delay = (packet.t_rx_s - t_rx0) / args.speed - (time.monotonic() - t_wall0)
            if delay > 0:
                time.sleep(delay)
            session.process(packet)
    finally:
        speaker.close()
    _print_summary(session.summary(), out)
    if args.wav:
        duration_s = write_cues_wav(session.cues, args.wav, voice=s.voice, rate_wpm=s.rate_wpm)
        print(
            f"wrote {len(session.cues)} spoken cues to {args.wav} ({duration_s:.1f} s of audio)",
            file=out,
        )
    if args.verify:
        return print_verification(args.recording, rec.cues, session.cues, out)
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from downhill_live.tools.analyze import analyze

    return analyze(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Real-time downhill running coach: foot strikes, cadence, impact and grade "
        "from a BLE accelerometer, with spoken cues.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser(
        "replay",
        help="replay a recording through the live pipeline, printing and speaking cues",
        description="Replay a recording through the same pipeline as live mode: decode (firmware "
        "profile stored in the recording) -> gait core -> cue rules -> speech. Prints one line per cue "
        "and a summary.",
    )
    r.add_argument("recording", help="recording file (.dlr)")
    r.add_argument(
        "--profile", metavar="FILE", help="cue profile YAML (default: the bundled profile)"
    )
    r.add_argument(
        "--speed",
        type=float,
        default=0.0,
        metavar="N",
        help="replay speed: 1 = real time, 10 = ten times faster (default: as fast as possible)",
    )
    r.add_argument("--no-speak", action="store_true", help="print cues only, do not speak them")
    r.add_argument(
        "--wav",
        metavar="OUT.wav",
        help="also write all spoken cues to one WAV, each at its sensor time",
    )
    r.add_argument(
        "--placement",
        choices=("foot", "shank", "pelvis", "chest"),
        help="override the sensor placement",
    )
    add_verify_option(r)
    r.set_defaults(func=cmd_replay)

    a = sub.add_parser(
        "analyze",
        help="detect strikes in a recording or CSV and print one line per strike",
        description="Run the gait core over a recording or a CSV with header t_s,ax,ay,az "
        "(optional pressure_pa). One line per strike on stdout, a summary on stderr.",
    )
    a.add_argument("input", help="recording (.dlr) or CSV file")
    a.add_argument(
        "--placement",
        choices=("foot", "shank", "pelvis", "chest"),
        help="sensor placement (CSV default: foot)",
    )
    a.add_argument(
        "--format", choices=("jsonl", "csv"), default="jsonl", help="output format (default jsonl)"
    )
    a.add_argument(
        "--units", choices=("g", "ms2"), default="g", help="CSV acceleration units (default g)"
    )
    a.add_argument(
        "--rate", type=float, metavar="HZ", help="nominal sample rate for CSV (default: from t_s)"
    )
    a.set_defaults(func=cmd_analyze)
    transfer.register(sub)
    tune.register(sub)
    report.register(sub)
    profile_cli.register(sub)
    live_cli.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format=f"{PROG}: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except DownhillError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
