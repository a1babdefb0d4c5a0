"""The ``tune`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from downhill_live.cli.console import add_force_option, prepare_detector
from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.errors import InputError
from downhill_live.files import atomic_write, claim_output
from downhill_live.tools.jobs import add_jobs_option, run_jobs
from downhill_live.tools.tune import (
    MIN_FLAT_STEPS,
    RULE_FIELDS,
    SETTINGS_FIELDS,
    TuneRow,
    _pooled,
    collect_steps,
    format_table,
    parse_set,
    profile_to_yaml,
    suggest,
    tune,
)
from downhill_live.types import PLACEMENTS


def _cmd_tune(args: argparse.Namespace) -> int:
    out = sys.stdout
    if args.output:
        if not args.suggest:
            raise InputError("-o", "writes the suggested profile: give --suggest with it")
        claim_output(args.output, inputs=[*args.recordings, args.profile], force=args.force)
    prepare_detector(sys.stderr)  # compiles once, says so on the first run
    base = load_cue_profile(args.profile)
    specs = [parse_set(s, base) for s in args.set or []]
    recs = run_jobs(
        collect_steps,
        args.recordings,
        jobs=args.jobs,
        profile=base,
        placement=args.placement,
        progress="replaying" if args.jobs == 1 else None,
    )
    total = sum(r.duration_s for r in recs)
    print(
        f"tune: {len(recs)} recording(s), {sum(len(r.steps) for r in recs)} steps over "
        f"{total:.1f} s; profile {base.path}",
        file=out,
    )
    if args.suggest:
        prof, sugg = suggest(recs, base)
        if not sugg:
            raise InputError(
                ", ".join(args.recordings),
                f"--suggest needs at least {MIN_FLAT_STEPS} flat steps to learn from; "
                "record some flat running first",
            )
        for s in sugg:
            print(
                f"suggest: {s.rule}: {s.metric} {s.op} {s.threshold:g}  ({s.how}; flat "
                f"p10 {s.flat_p10:.4g}, median {s.flat_median:.4g}, p90 {s.flat_p90:.4g}, "
                f"{s.n_flat} steps)",
                file=out,
            )
        comments = [
            "cue profile suggested by 'downhill-live tune --suggest' from "
            + ", ".join(Path(r.path).name for r in recs),
            f"base profile: {base.path}",
            *(f"{s.rule}: {s.op} {s.threshold:g} = {s.how} ({s.n_flat} flat steps)" for s in sugg),
        ]
        text = profile_to_yaml(prof, comments=comments)
        rows = [
            TuneRow("(profile as given)", base, _pooled(base, recs)),
            TuneRow("(suggested)", prof, _pooled(prof, recs)),
        ]
        format_table(rows, out)
        if args.output:
            atomic_write(args.output, text)
            load_cue_profile(args.output)  # what we write must load
            print(f"wrote {args.output}", file=out)
        else:
            out.write(text)
        if not specs:
            return 0
    rows = tune(recs, base, specs)
    format_table(rows, out)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``tune`` command."""
    t = subparsers.add_parser(
        "tune",
        help="replay recordings under many rule settings; suggest thresholds",
        description="Replay recordings once through decode and the gait core, then re-run only "
        "the cue rules for every combination of --set values. Prints cues per hour and the time "
        "in violation on descents per setting. --suggest proposes absolute thresholds from your "
        "own flat running and writes them as a cue profile.",
    )
    t.add_argument("recordings", nargs="+", metavar="RECORDING", help="recording files (.dlr)")
    t.add_argument(
        "--set",
        action="append",
        metavar="RULE.FIELD=VALUES",
        help="values to try: A..B:STEP, A,B,C or A. Fields: "
        + ", ".join(RULE_FIELDS)
        + "; or settings."
        + "/".join(SETTINGS_FIELDS),
    )
    t.add_argument("--profile", metavar="FILE", help="cue profile to start from (default: bundled)")
    t.add_argument("--placement", choices=PLACEMENTS, help="override the sensor placement")
    t.add_argument(
        "--suggest",
        action="store_true",
        help="propose thresholds from flat running and write them as a profile (-o)",
    )
    t.add_argument("-o", "--output", metavar="FILE.yaml", help="where --suggest writes the profile")
    add_force_option(t)
    add_jobs_option(t)
    t.set_defaults(func=_cmd_tune)


