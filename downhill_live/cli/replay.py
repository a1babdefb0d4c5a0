"""The ``replay`` command: a recording through the live pipeline, with speech."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from downhill_live.cli.console import (
    ConsoleSink,
    prepare_detector,
    print_descents,
    print_summary,
)
from downhill_live.cli.history import DEFAULT_RUNNER, add_history_options
from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.errors import InputError
from downhill_live.files import claim_output
from downhill_live.record import Recording
from downhill_live.session import describe_skip, run_source, session_from_recording
from downhill_live.sinks import SpeakerSink
from downhill_live.source.arrays import ArrayRecording, process_file, session_from_outline
from downhill_live.source.replay import ReplaySource
from downhill_live.speech import open_profile_speaker, write_cues_wav
from downhill_live.tools.verify import add_verify_option, print_verification

#: the fastest paced replay (0 means as fast as possible, without pacing)
MAX_SPEED = 1000.0


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay a recording: print and speak its cues, then a summary."""
    out = sys.stdout
    if not 0 <= args.speed <= MAX_SPEED:  # also refuses nan
        raise InputError("--speed", f"must be within 0..{MAX_SPEED:g}, got {args.speed}")
    if args.wav:
        claim_output(args.wav, inputs=[args.recording, args.profile], force=args.force)
    prepare_detector(sys.stderr)  # compiles once, says so on the first run
    given = load_cue_profile(args.profile) if args.profile else None  # None: as recorded
    # --verify compares with the live session, which had no watch data: no attached grade then
    opened = session_from_recording if args.speed else session_from_outline
    session, rec = opened(
        args.recording,
        given,
        placement=args.placement,
        use_attached=not getattr(args, "verify", False),
        keep_steps=False,  # the summary and descent lines are streamed (Session.step_stats)
    )
    s = session.cue_profile.settings
    speaker = open_profile_speaker(s, speak=not args.no_speak)
    session.attach(ConsoleSink(out), SpeakerSink(speaker))
    device = rec.header.get("device") or {}
    print(
        f"replaying {args.recording}: {device.get('name', '?')} ({session.firmware.name}), "
        f"placement {session.placement}, {packet_count(rec)} packets",
        file=out,
    )
    print(speaker.description, file=out)
    try:
        if args.speed:  # the live path, at the recorded pace
            source = ReplaySource(rec, args.recording, speed=args.speed)
            asyncio.run(run_source(source, session))
        else:  # as fast as possible: the file as arrays, with the same steps and cues
            assert isinstance(rec, ArrayRecording)
            process_file(session, rec, progress="replaying")
    finally:
        session.close()
        speaker.close()
    print_summary(session.summary(), out)
    print_descents(session.descents(), out)
    if args.save_history:
        save_history(args, session, str(rec.header.get("start_time") or ""), args.recording, out)
    if args.wav:
        wav = Path(args.wav)
        part = wav.with_name(f".{wav.name}.{os.getpid()}.part.wav")
        try:  # complete, or not there at all
            duration_s = write_cues_wav(session.cues, part, voice=s.voice, rate_wpm=s.rate_wpm)
            os.replace(part, wav)
        finally:
            part.unlink(missing_ok=True)
        print(
            f"wrote {len(session.cues)} spoken cues to {args.wav} ({duration_s:.1f} s of audio)",
            file=out,
        )
    damaged = report_damage(rec, out)
    if args.verify:
        return print_verification(args.recording, rec.cues, session.cues, out) or damaged
    return damaged


def packet_count(rec: Recording) -> int:
    """Packets of a recording read whole or as an outline."""
    return rec.n_packets if isinstance(rec, ArrayRecording) else len(rec.packets)


def save_history(
    args: argparse.Namespace, session: Any, started_utc: str, source: str, out: TextIO
) -> None:
    """Store the finished session in the runner history (``--history``/``--runner``)."""
    from downhill_live.history import open_history  # lazy: only with --save-history

    profile = session.engine.profile
    text = None
    with contextlib.suppress(OSError):
        text = Path(profile.path).read_text(encoding="utf-8")
    runner = args.runner or DEFAULT_RUNNER
    with open_history(args.history) as h:
        sid = h.add_session(
            runner,
            session.engine,
            profile,
            source=source,
            duration_s=float(session.summary().get("duration_s") or 0.0),
            started_utc=started_utc or None,
            profile_yaml=text,
        )
        where = h.path
    print(f"history: stored session {sid} of {runner} in {where}", file=out)


def report_damage(rec: Recording, out: TextIO) -> int:
    """Say what the reader skipped or dropped; 1 when anything was (0 for a clean file)."""
    for skip in rec.skipped:
        print(f"data: {describe_skip(skip)}", file=out)
    if rec.dropped_tail_bytes:
        print(
            f"data: the last {rec.dropped_tail_bytes} bytes are an incomplete record (dropped)",
            file=out,
        )
    return 1 if rec.damaged else 0


def register(subparsers: Any) -> None:
    """Add the ``replay`` command."""
    r = subparsers.add_parser(
        "replay",
        help="replay a recording through the live pipeline, printing and speaking cues",
        description="Replay a recording through the same pipeline as live mode: decode (firmware "
        "profile stored in the recording) -> gait core -> cue rules -> speech. Prints one line per cue "
        "and a summary.",
    )
    r.add_argument("recording", help="recording file (.dlr)")
    r.add_argument(
        "--profile",
        metavar="FILE",
        help="cue profile YAML (default: the one stored in the recording, else the bundled one)",
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
    r.add_argument(
        "--force", action="store_true", help="replace an existing --wav file (never an input)"
    )
    add_verify_option(r)
    add_history_options(r, save=True)
    r.set_defaults(func=cmd_replay)
