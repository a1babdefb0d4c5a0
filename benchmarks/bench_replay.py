"""Replay and tune speed on a 1-hour, 1 kHz foot recording (simulated into a temporary folder).

Prints the end-to-end replay time (read the file, decode, gait core, cue rules; no speech),
where that time goes (each stage timed on its own), and the time of ``tune`` over a 20-setting
grid (decode and core once, then the rules engine per setting), against the goals:
replay <= 1 s, tune <= 2 x one replay. ``--profile`` adds a cProfile listing of one replay.

Usage: ``.venv/bin/python benchmarks/bench_replay.py [--minutes 60] [--rate 1000] [--profile]``
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

import numpy as np

from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.decode.layout import LayoutDecoder
from downhill_live.record import read_recording
from downhill_live.session import session_from_recording
from downhill_live.sim.gait import Segment, simulate
from downhill_live.sim.recordings import write_sim_recording
from downhill_live.tools.tune import collect_steps, parse_set, tune

REPLAY_GOAL_S = 1.0
TUNE_GOAL_RATIO = 2.0


def hilly_course(minutes: float) -> list[Segment]:
    """Repeating 10-minute block: flat, a -10 % descent with overstriding, flat, -6 %, flat."""
    block = [
        Segment(120.0, 0.0, "run", cadence_spm=170.0),
        Segment(150.0, -10.0, "run", cadence_spm=158.0, impact_scale=1.4),
        Segment(90.0, 0.0, "run", cadence_spm=170.0),
        Segment(150.0, -6.0, "run", cadence_spm=168.0, impact_scale=1.1),
        Segment(90.0, 0.0, "run", cadence_spm=170.0),
    ]
    n = max(1, round(minutes / 10.0))
    return [s for _ in range(n) for s in block]


def replay(path: Path) -> tuple[int, int]:
    """One end-to-end replay as ``downhill-live replay`` runs it at full speed: read, decode,
    core, rules, with runs of packets batched (Session.process_many). Returns (steps, cues)."""
    session, rec = session_from_recording(str(path), load_cue_profile())
    session.process_many(rec.packets)
    return len(session.steps), len(session.cues)


def replay_per_packet(path: Path) -> tuple[int, int]:
    """The same replay one packet at a time, as live mode processes them."""
    session, rec = session_from_recording(str(path), load_cue_profile())
    for packet in rec.packets:
        session.process(packet)
    return len(session.steps), len(session.cues)


def best_of(n: int, fn, *args):  # type: ignore[no-untyped-def]
    """Best wall time of ``n`` runs and the last result."""
    best = float("inf")
    out = None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def stages(path: Path) -> dict[str, float]:
    """Time each stage on its own (same work as a replay, split up)."""
    from downhill_live.cues import CueEngine

    t: dict[str, float] = {}
    t0 = time.perf_counter()
    rec = read_recording(path)
    t["read file (record.read_recording)"] = time.perf_counter() - t0
    session, _ = session_from_recording(str(path), load_cue_profile())
    dec = session.decoders["acc"]
    t0 = time.perf_counter()
    blocks = [dec.decode(p, i) for i, p in enumerate(rec.packets)]
    t["decode (layout decoder, per packet)"] = time.perf_counter() - t0
    tracker = session.tracker
    t0 = time.perf_counter()
    steps = []
    for b in blocks:
        steps.extend(tracker.update_many(b.t_s, b.acc_g, b.pressure_pa))
    t["gait core (update_many per packet)"] = time.perf_counter() - t0
    from downhill_live.core import GaitTracker

    tr2 = GaitTracker(tracker.rate_hz, tracker.placement)
    t_all = np.concatenate([b.t_s for b in blocks])
    a_all = np.concatenate([b.acc_g for b in blocks])
    t0 = time.perf_counter()
    tr2.update_many(t_all, a_all)
    t["  (core, one call over all samples)"] = time.perf_counter() - t0
    dec = (
        LayoutDecoder(session.firmware.streams["acc"].layout)
        if session.firmware.streams["acc"].layout
        else None
    )
    if dec is not None:
        t0 = time.perf_counter()
        for k in range(0, len(rec.packets), 4096):
            dec.decode_many(rec.packets[k : k + 4096])
        t["  (decode, batched: LayoutDecoder.decode_many)"] = time.perf_counter() - t0
    eng = CueEngine(load_cue_profile())
    t0 = time.perf_counter()
    for s in steps:
        eng.update(s)
    t["cue rules (CueEngine)"] = time.perf_counter() - t0
    return t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=1000.0, help="sample rate (Hz)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per figure (best is shown)")
    ap.add_argument("--profile", action="store_true", help="cProfile one replay")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.dlr"
        course = hilly_course(args.minutes)
        t0 = time.perf_counter()
        sim = simulate(course, "foot", rate_hz=args.rate, seed=5)
        n_packets = write_sim_recording(sim, path, seed=5, samples_per_packet=10, course=course)
        del sim
        print(
            f"recording: {args.minutes:g} min at {args.rate:g} Hz, foot, {n_packets} packets, "
            f"{path.stat().st_size / 1e6:.1f} MB (simulated and written in "
            f"{time.perf_counter() - t0:.1f} s)"
        )
        # warm-up: numba loads its cache (or compiles) on the first call
        t0 = time.perf_counter()
        small = Path(tmp) / "small.dlr"
        short = [Segment(20.0, 0.0, "run")]
        write_sim_recording(
            simulate(short, "foot", rate_hz=args.rate, seed=1),
            small,
            seed=1,
            samples_per_packet=10,
            course=short,
        )
        replay(small)
        print(f"warm-up (numba cache load / compile): {time.perf_counter() - t0:.2f} s")

        t_replay, (n_steps, n_cues) = best_of(args.repeat, replay, path)
        verdict = "OK" if t_replay <= REPLAY_GOAL_S else "MISSED"
        print(
            f"replay end to end: {t_replay:.2f} s for {n_steps} steps, {n_cues} cues "
            f"(goal <= {REPLAY_GOAL_S:g} s: {verdict}; {args.minutes * 60 / t_replay:.0f}x real time)"
        )
        t_live, _ = best_of(1, replay_per_packet, path)
        print(
            f"same replay packet by packet (the live path, Session.process): {t_live:.2f} s "
            f"({args.minutes * 60 / t_live:.0f}x real time)"
        )
        print("stages timed alone (per packet; indented: for comparison):")
        for name, secs in stages(path).items():
            print(f"  {name:<48} {secs:6.2f} s")

        base = load_cue_profile()
        specs = [
            parse_set("cadence_low.baseline_pct=-6..-2:1", base),
            parse_set("impact_high.baseline_pct=15..30:5", base),
        ]

        def run_tune() -> int:
            recs = [collect_steps(str(path), base)]
            t1 = time.perf_counter()
            rows = tune(recs, base, specs)
            run_tune.rules_s = time.perf_counter() - t1  # type: ignore[attr-defined]
            return len(rows) - 1

        t_tune, n_settings = best_of(args.repeat, run_tune)
        ratio = t_tune / t_replay
        verdict = "OK" if ratio <= TUNE_GOAL_RATIO else "MISSED"
        print(
            f"tune over {n_settings} settings: {t_tune:.2f} s = {ratio:.2f} x one replay "
            f"(goal <= {TUNE_GOAL_RATIO:g}x: {verdict}); rules re-runs alone "
            f"{run_tune.rules_s:.2f} s ({run_tune.rules_s / (n_settings + 1) * 1e3:.0f} ms per setting)"  # type: ignore[attr-defined]
        )
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            replay(path)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
