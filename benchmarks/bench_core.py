"""Speed, accuracy and memory of the streaming gait core.

Run ``python benchmarks/bench_core.py [--minutes 10]``. Prints:

- the load average of the machine (the figures depend on what else runs);
- per placement, on simulated running of that placement (foot: one foot's strikes, pelvis:
  both; ``downhill_live.sim.gait``, random orientation, hills): the core's throughput in one
  block (the median of ``BLOCK_RUNS`` runs) and its strike F1 against the simulator's ground
  truth, beside a batch ``scipy.signal.find_peaks`` baseline on the same data in the same run,
  with its F1 too;
- the core's time per packet of 16 samples (core only: decode + core + rules per packet at
  live pacing is ``benchmarks/bench_live.py``);
- peak resident memory of a process streaming 10 and 60 minutes in packets (independent of
  length);
- start-up time with a warm numba cache (import + first call, in a subprocess).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np
from scipy.signal import find_peaks

from downhill_live.core import GaitTracker
from downhill_live.types import settled

RATE_HZ = 1000.0
BLOCK_RUNS = 5  # the block figure is the median of this many runs (one run lasts ~30 ms)


def _rotation(seed: int) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def synthetic(n: int, start: int = 0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis-like running at 170 spm, random orientation, noise: samples start..start+n."""
    i = np.arange(start, start + n)
    t = i / RATE_HZ
    period = 60.0 / 170.0
    ph = (t % period) / period
    gct = 0.23 / period
    vert = np.where(ph < gct, 2.6 * np.sin(np.pi * np.minimum(ph / gct, 1.0)), 0.05)
    fwd = np.where(ph < gct, -0.6 * np.sin(2 * np.pi * np.minimum(ph / gct, 1.0)), 0.0)
    acc = np.stack([fwd, np.zeros(n), vert], axis=1) @ _rotation(seed).T
    acc += np.random.default_rng(start + seed).normal(0.0, 0.02, (n, 3))
    return t, acc


TOL_S = 0.050  # strike tolerance against the truth (pelvis methods show 17-30 ms biases)


def f1(est: np.ndarray, truth: np.ndarray) -> float:
    """Strike F1 within TOL_S (each true strike matched once)."""
    if not len(est) or not len(truth):
        return 0.0
    j = np.clip(np.searchsorted(truth, est), 1, len(truth) - 1)
    near = np.where(np.abs(truth[j - 1] - est) < np.abs(truth[j] - est), j - 1, j)
    tp = len(np.unique(near[np.abs(truth[near] - est) <= TOL_S]))
    return 2 * tp / (len(est) + len(truth))


def course(minutes: float) -> list:
    from downhill_live.sim.gait import Segment

    block = [
        Segment(120.0, 0.0, "run", cadence_spm=170.0),
        Segment(120.0, -8.0, "run", cadence_spm=160.0, impact_scale=1.3),
        Segment(120.0, 0.0, "run", cadence_spm=172.0),
    ]
    return [s for _ in range(max(1, round(minutes / 6.0))) for s in block]


def throughput(minutes: float) -> None:
    from downhill_live.sim.gait import simulate

    for placement in ("pelvis", "foot"):
        sim = simulate(course(minutes), placement, rate_hz=RATE_HZ, seed=4)
        t, acc = sim.t_s, np.ascontiguousarray(sim.acc_g)
        n = len(t)
        one_foot = placement == "foot"
        truth = sim.strike_t_s[sim.strike_foot == 0] if one_foot else sim.strike_t_s
        tr = GaitTracker(RATE_HZ, placement)
        tr.update_many(t[:2000], acc[:2000])  # compile / load cache
        runs = []
        for _ in range(BLOCK_RUNS):  # a fresh tracker each time: the same work
            tr = GaitTracker(RATE_HZ, placement)
            t0 = time.perf_counter()
            steps = settled(tr.update_many(t, acc))
            runs.append(time.perf_counter() - t0)
        dt_core = float(np.median(runs))
        est = np.array([s.t_s for s in steps])
        t0 = time.perf_counter()
        mag = np.sqrt((acc * acc).sum(axis=1))
        # same data, tuned for it: a strike is the largest magnitude peak of each step (one
        # foot: of each stride), above the running median
        min_gap = (0.55 if one_foot else 0.25) * RATE_HZ
        peaks, _ = find_peaks(mag, height=float(np.median(mag)) + 0.8, distance=int(min_gap))
        dt_fp = time.perf_counter() - t0
        print(
            f"{placement:6s} ({minutes:g} min at {RATE_HZ:g} Hz, {n / 1e6:.2f} M samples, "
            f"{len(truth)} true strikes):"
        )
        print(
            f"  core update_many, one block (causal, median of {BLOCK_RUNS}): {dt_core:.3f} s = "
            f"{n / dt_core / 1e6:5.1f} M samples/s, {len(steps)} steps, F1 {f1(est, truth):.3f}"
        )
        print(
            f"  scipy find_peaks on |acc| (batch, not causal): {dt_fp:.3f} s = "
            f"{n / dt_fp / 1e6:5.1f} M samples/s, {len(peaks)} peaks, "
            f"F1 {f1(t[peaks], truth):.3f}"
        )
    t, acc = synthetic(600_000)
    chunk = 16
    tr = GaitTracker(RATE_HZ, "pelvis")
    lat = np.empty(len(t) // chunk)
    for k in range(len(lat)):
        s = slice(k * chunk, (k + 1) * chunk)
        a = time.perf_counter_ns()
        tr.update_many(t[s], acc[s])
        lat[k] = time.perf_counter_ns() - a
    p50, p99, pmax = np.percentile(lat, [50, 99, 100]) / 1000.0
    print(
        f"core only, per packet of {chunk} samples ({len(lat)} packets, back to back): "
        f"p50 {p50:.1f} us, p99 {p99:.1f} us, max {pmax:.1f} us -> "
        f"{chunk * len(lat) / (lat.sum() / 1e9) / 1e6:.2f} M samples/s"
    )


_MEMORY = """
import sys
import numpy as np
sys.path.insert(0, sys.argv[2])
from bench_core import synthetic, RATE_HZ
from downhill_live.core import GaitTracker
n = int(float(sys.argv[1]) * 60 * RATE_HZ)
tr = GaitTracker(RATE_HZ, "pelvis")
for s in range(0, n, 10_000):
    t, acc = synthetic(min(10_000, n - s), start=s)
    for k in range(0, len(t), 16):
        tr.update_many(t[k : k + 16], acc[k : k + 16])
# VmHWM: the peak of this process image (ru_maxrss would carry the parent's across exec)
print([int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:")][0])
"""


def memory(minutes: float) -> float:
    """Peak resident memory (MiB) of a fresh process streaming ``minutes`` in packets of 16
    samples (the test data is made in 10-s blocks, so it does not grow either)."""
    here = str(__import__("pathlib").Path(__file__).parent)
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY, str(minutes), here],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def startup() -> tuple[float, float]:
    """(in-process import + first call, whole process wall time) with a warm cache (s)."""
    code = (
        "import time; t0=time.perf_counter()\n"
        "import numpy as np\n"
        "from downhill_live.core import GaitTracker\n"
        "tr = GaitTracker(1000.0, 'foot')\n"
        "t = np.arange(100) / 1000.0\n"
        "tr.update_many(t, np.zeros((100, 3)))\n"
        "tr.update(0.2, (0.0, 0.0, 1.0), 101000.0)\n"
        "print(time.perf_counter() - t0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # warm
    w0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - w0
    return float(out.stdout.strip()), wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=12.0, help="length of the accuracy data")
    args = ap.parse_args()
    # the figures depend on what else runs: say it beside them
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    throughput(args.minutes)
    m10 = memory(10.0)
    m60 = memory(60.0)
    print(
        f"peak resident memory of a process streaming: 10 min {m10:.1f} MiB, 60 min {m60:.1f} MiB"
    )
    inproc, wall = startup()
    print(
        f"start-up with warm numba cache: import + first call {inproc:.3f} s, process {wall:.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
