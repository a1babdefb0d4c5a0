"""Replay speed and memory on simulated 1 kHz foot recordings (written into a temporary folder).

Prints, for the same 1-hour recording in the same run:

- array replay (``source.arrays``: what ``replay``, ``analyze``, ``tune`` and ``report`` run)
  in-process, against the per-packet live path (``Session.process``) and the previous batch
  path (``read_recording`` + ``Session.process_many``), each with its steps and cues, whether
  they are identical to the per-packet path's, and the strike F1 against the simulator's
  ground truth (20 ms tolerance, instrumented foot);
- where array replay's time goes (scan + decode alone, the gait core alone on the same
  samples in one call);
- ``downhill-live replay`` and ``analyze`` as commands (whole process, warm numba cache);
- peak memory (maximum resident set) of a process replaying 10 min, 1 h and 6 h, each in a
  fresh process, for the array path and for the old read-everything path;
- ``tune`` over a 20-setting grid against one replay.

Goals: array replay of 1 h <= 0.5 s in-process, <= 1 s as a command, memory independent of
the length. Usage: ``.venv/bin/python benchmarks/bench_replay.py [--minutes 60] [--no-6h]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.record import RecordingWriter, read_recording
from downhill_live.session import session_from_recording
from downhill_live.sim.gait import Segment, simulate
from downhill_live.sim.recordings import write_sim_recording
from downhill_live.source import arrays
from downhill_live.tools.tune import parse_set, tune
from downhill_live.types import Packet

REPLAY_GOAL_S = 0.5
COMMAND_GOAL_S = 1.0
TOL_S = 0.020


def hilly_course(minutes: float) -> list[Segment]:
    """A 3 s stand (a foot sensor knows the slope only after one: README "Where the grade comes
    from"), then a repeating 10-minute block: flat, a -10 % descent with overstriding, flat,
    -6 %, flat."""
    block = [
        Segment(120.0, 0.0, "run", cadence_spm=170.0),
        Segment(150.0, -10.0, "run", cadence_spm=158.0, impact_scale=1.4),
        Segment(90.0, 0.0, "run", cadence_spm=170.0),
        Segment(150.0, -6.0, "run", cadence_spm=168.0, impact_scale=1.1),
        Segment(90.0, 0.0, "run", cadence_spm=170.0),
    ]
    n = max(1, round(minutes / 10.0))
    return [Segment(3.0, 0.0, "stand")] + [s for _ in range(n) for s in block]


def truth_strikes(path: Path) -> np.ndarray:
    """True initial contacts of the instrumented foot (the simulator's ground truth)."""
    with open(path.with_name(path.stem + ".truth.csv")) as fh:
        rows = [r for r in csv.DictReader(fh) if r["instrumented_foot"] == "1"]
    return np.array([float(r["t_s"]) for r in rows])


def f1(steps: list, truth: np.ndarray, t_offset_s: float) -> float:
    """Strike F1 within TOL_S of the truth (each true strike matched once)."""
    est = np.array([s.t_s for s in steps]) + t_offset_s
    if not len(est) or not len(truth):
        return 0.0
    j = np.clip(np.searchsorted(truth, est), 1, len(truth) - 1)
    near = np.where(np.abs(truth[j - 1] - est) < np.abs(truth[j] - est), j - 1, j)
    hit = np.abs(truth[near] - est) <= TOL_S
    tp = len(np.unique(near[hit]))
    return 2 * tp / (len(est) + len(truth))


def best_of(n: int, fn, *args):  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def replay_arrays(path: Path):  # type: ignore[no-untyped-def]
    session, _ = arrays.replay_recording(str(path), load_cue_profile())
    return session


def replay_per_packet(path: Path):  # type: ignore[no-untyped-def]
    session, rec = session_from_recording(str(path), load_cue_profile())
    for packet in rec.packets:
        session.process(packet)
    return session


def replay_batches(path: Path):  # type: ignore[no-untyped-def]
    session, rec = session_from_recording(str(path), load_cue_profile())
    session.process_all(rec.packets)
    return session


def lengthen(src: Path, dst: Path, times: int) -> None:
    """``src`` played ``times`` times in a row: counters and receive times continue as if the
    sensor had kept running (the receive-clock check sees no jump)."""
    rec = read_recording(src)
    seq = np.array([int.from_bytes(p.payload[:2], "little") for p in rec.packets])
    unwrapped = np.concatenate([[0], np.cumsum(np.diff(seq) % 65536)]) + seq[0]
    n_seq = int(unwrapped[-1]) + 1
    spp = (len(rec.packets[0].payload) - 2) // 6
    span_s = n_seq * spp / float(rec.header["settings"]["rate_hz"])
    with RecordingWriter(dst, rec.header, streams=rec.header["streams"]) as w:
        for j in range(times):
            for p, u in zip(rec.packets, unwrapped.tolist(), strict=True):
                head = ((u + j * n_seq) % 65536).to_bytes(2, "little")
                w.write_packet(Packet(p.t_rx_s + j * span_s, p.stream, head + p.payload[2:]))
            w.flush(sync=False)


_CHILD = """
import json, sys, time
from downhill_live.config.cue_profile import load_cue_profile
mode, path, warm = sys.argv[1], sys.argv[2], sys.argv[3]
from downhill_live.source import arrays
from downhill_live.session import session_from_recording
def run(p):  # as the replay command: steps not kept (the summary is streamed)
    if mode == "arrays":
        s, _ = arrays.replay_recording(p, load_cue_profile(), keep_steps=False)
    else:
        s, rec = session_from_recording(p, load_cue_profile(), keep_steps=False)
        s.process_all(rec.packets)
    return s
def hwm_kib():  # peak resident set of this process image (ru_maxrss would carry the parent's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
run(warm)  # numba cache loaded, imports done
before = hwm_kib()
t0 = time.perf_counter()
s = run(path)
dt = time.perf_counter() - t0
peak = hwm_kib()
print(json.dumps({"before_kib": before, "peak_kib": peak, "s": dt, "steps": s.step_stats.n_steps}))
"""


def child_memory(mode: str, path: Path, warm: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(path), str(warm)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def memory_table(lengths: list[tuple[str, Path]], warm: Path) -> None:
    """Peak resident memory of a fresh process replaying each file, both paths."""
    print("peak resident memory of the replaying process (fresh process each; MiB):")
    for mode in ("arrays", "read_recording"):
        cells = []
        for label, p in lengths:
            m = child_memory(mode, p, warm)
            cells.append(
                f"{label} {m['peak_kib'] / 1024:.0f} (+{(m['peak_kib'] - m['before_kib']) / 1024:.0f}"
                f" over imports+warm-up, {m['s']:.1f} s)"
            )
        print(f"  {mode:<15} " + "; ".join(cells))


def command_s(args: list[str]) -> float:
    """Best of two wall times of a whole ``downhill-live`` process."""
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "downhill_live", *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3, help="runs per in-process figure (best)")
    ap.add_argument("--no-6h", action="store_true", help="skip the 6-hour memory figure")
    ap.add_argument("--many", type=int, default=10, help="recordings for the --jobs figure")
    ap.add_argument(
        "--memory-only",
        action="store_true",
        help="only the memory figure, on the bundled 500 Hz shank recording (4 min) played 3, 15 "
        "and 90 times in a row (12 min, 1 h, 6 h; no simulation)",
    )
    args = ap.parse_args()
    if args.memory_only:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(__file__).resolve().parents[1] / "recordings" / "descent_shank_500hz.dlr"
            files = []
            for label, times in (("12 min", 3), ("1 h", 15), ("6 h", 90)):
                files.append((label, Path(tmp) / f"{times}.dlr"))
                lengthen(src, files[-1][1], times)
            memory_table(files, src)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        path = d / "bench.dlr"
        t0 = time.perf_counter()
        course = hilly_course(args.minutes)
        sim = simulate(course, "foot", rate_hz=1000.0, seed=5)
        n_packets = write_sim_recording(sim, path, seed=5, samples_per_packet=10, course=course)
        del sim
        print(
            f"recording: {args.minutes:g} min at 1000 Hz, foot, {n_packets} packets, "
            f"{path.stat().st_size / 1e6:.1f} MB (simulated in {time.perf_counter() - t0:.0f} s)"
        )
        small = d / "small.dlr"
        short = [Segment(20.0, 0.0, "run")]
        write_sim_recording(
            simulate(short, "foot", rate_hz=1000.0, seed=1), small, seed=1,
            samples_per_packet=10, course=short,
        )  # fmt: skip
        t0 = time.perf_counter()
        replay_arrays(small)
        replay_batches(small)
        print(f"warm-up (numba cache load or compile): {time.perf_counter() - t0:.2f} s")

        truth = truth_strikes(path)
        t_off = 0.0  # sensor time 0 is the first sample of the first packet, as in the simulator
        ref = replay_per_packet(path)
        t_ref, _ = best_of(1, replay_per_packet, path)
        t_arr, arr = best_of(args.repeat, replay_arrays, path)
        t_bat, bat = best_of(1, replay_batches, path)
        print(
            f"in-process replay of {args.minutes:g} min (best of runs; identical = same steps and cues as per packet):"
        )
        for name, secs, s in (
            ("array replay (source.arrays)", t_arr, arr),
            ("previous batch path (read_recording + process_many)", t_bat, bat),
            ("per packet, the live path (Session.process)", t_ref, ref),
        ):
            same = repr(s.steps) == repr(ref.steps) and s.cues == ref.cues and s.stats == ref.stats
            print(
                f"  {name:<52} {secs:6.2f} s  {len(s.steps)} steps, {len(s.cues)} cues, "
                f"identical: {same}, strike F1 vs truth {f1(s.steps, truth, t_off):.3f}"
            )
        verdict = "OK" if t_arr <= REPLAY_GOAL_S else "MISSED"
        print(
            f"  goal array replay <= {REPLAY_GOAL_S:g} s: {verdict} ({t_arr / t_ref * 100:.1f} % of per packet)"
        )

        # where the time goes: the core alone on the same samples, in one call
        from downhill_live.core import GaitTracker

        session, outline = arrays.session_from_outline(str(path), load_cue_profile())
        t_all, a_all = [], []
        orig_feed = session._feed

        def keep(stream, samples):  # type: ignore[no-untyped-def]
            t_all.append(samples.t_s.copy())
            a_all.append(samples.acc_g.copy())
            return []

        session._feed = keep
        t0 = time.perf_counter()
        arrays.process_file(session, outline)
        t_dec = time.perf_counter() - t0
        session._feed = orig_feed
        t_cat, a_cat = np.concatenate(t_all), np.concatenate(a_all)
        tr = GaitTracker(session.tracker.rate_hz, session.tracker.placement)
        t0 = time.perf_counter()
        tr.update_many(t_cat, a_cat)
        t_core = time.perf_counter() - t0
        print(
            f"  of which: file scan + decode alone {t_dec:.2f} s; gait core alone, one call over "
            f"all {len(t_cat) / 1e6:.1f} M samples {t_core:.2f} s"
        )

        c_rep = command_s(["replay", str(path), "--no-speak"])
        c_ana = command_s(["analyze", str(path), "--format", "csv"])
        verdict = "OK" if c_rep <= COMMAND_GOAL_S else "MISSED"
        print(
            f"as a command (whole process, warm cache): replay --no-speak {c_rep:.2f} s "
            f"(goal <= {COMMAND_GOAL_S:g} s: {verdict}), analyze {c_ana:.2f} s"
        )

        # many recordings on all cores: the same 1-hour file 10 times over
        import os
        import shutil

        many = []
        for i in range(args.many):
            many.append(d / f"many_{i}.dlr")
            shutil.copy(path, many[-1])
        cores = os.cpu_count() or 1
        t_one = command_s(["analyze", *map(str, many), "--format", "csv", "--jobs", "1"])
        t_all = command_s(["analyze", *map(str, many), "--format", "csv", "--jobs", "0"])
        hundred = (
            "measured"
            if args.many == 100
            else f"{t_all * 100 / args.many:.0f} s extrapolated from these {args.many}"
        )
        print(
            f"analyze over {args.many} recordings of {args.minutes:g} min: --jobs 1 {t_one:.1f} s, "
            f"--jobs 0 ({cores} cores) {t_all:.1f} s = {t_one / t_all:.2f}x; 100 such recordings: "
            f"{hundred} (--jobs 1 reads each file in a thread beside the core already: two cores)"
        )
        for p in many:
            p.unlink()

        # peak memory of the process doing the work, by length
        ten = d / "ten.dlr"
        short10 = hilly_course(10.0)
        write_sim_recording(
            simulate(short10, "foot", rate_hz=1000.0, seed=7), ten, seed=7,
            samples_per_packet=10, course=short10,
        )  # fmt: skip
        lengths = [("10 min", ten), (f"{args.minutes:g} min", path)]
        if not args.no_6h:
            six = d / "six.dlr"
            lengthen(path, six, 6)
            lengths.append((f"{6 * args.minutes:g} min", six))
        memory_table(lengths, small)

        base = load_cue_profile()
        specs = [
            parse_set("cadence_low.baseline_pct=-6..-2:1", base),
            parse_set("impact_high.baseline_pct=15..30:5", base),
        ]
        from downhill_live.tools.tune import collect_steps

        t0 = time.perf_counter()
        recs = [collect_steps(str(path), base)]
        rows = tune(recs, base, specs)
        t_tune = time.perf_counter() - t0
        print(
            f"tune over {len(rows) - 1} settings: {t_tune:.2f} s = {t_tune / t_arr:.2f} x one "
            "array replay"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
