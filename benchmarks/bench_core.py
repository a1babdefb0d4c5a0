"""Speed and memory of the streaming gait core.

Run ``python benchmarks/bench_core.py [--minutes 60]``. Prints:

- throughput (samples/s) on synthetic 1 kHz three-axis data, beside a batch
  ``scipy.signal.find_peaks`` baseline on the same data in the same run;
- per-packet processing time percentiles (packets of 16 samples);
- peak traced memory while streaming 10 and 60 minutes (independent of length);
- start-up time with a warm numba cache (import + first call, in a subprocess).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import tracemalloc

import numpy as np
from scipy.signal import find_peaks

from downhill_live.core import GaitTracker

RATE_HZ = 1000.0


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


def throughput(minutes: float) -> None:
    n = int(minutes * 60 * RATE_HZ)
    t, acc = synthetic(n)
    print(f"data: {minutes:g} min at {RATE_HZ:g} Hz = {n / 1e6:.2f} M samples (3 axes)")
    for placement in ("pelvis", "foot"):
        tr = GaitTracker(RATE_HZ, placement)
        tr.update_many(t[:2000], acc[:2000])  # compile / load cache
        tr = GaitTracker(RATE_HZ, placement)
        t0 = time.perf_counter()
        steps = tr.update_many(t, acc)
        dt_core = time.perf_counter() - t0
        print(
            f"core  update_many, {placement:6s} (one block): {dt_core:.3f} s = "
            f"{n / dt_core / 1e6:6.1f} M samples/s, {len(steps)} steps"
        )
    t0 = time.perf_counter()
    mag = np.sqrt((acc * acc).sum(axis=1))
    peaks, _ = find_peaks(mag, height=1.8, distance=int(0.2 * RATE_HZ))
    dt_fp = time.perf_counter() - t0
    print(
        f"scipy find_peaks batch baseline: {dt_fp:.3f} s = {n / dt_fp / 1e6:6.1f} M samples/s, "
        f"{len(peaks)} peaks (magnitude + find_peaks, not causal)"
    )
    chunk = 16
    tr = GaitTracker(RATE_HZ, "pelvis")
    m = min(n, 600_000)
    lat = np.empty(m // chunk)
    for k in range(m // chunk):
        s = slice(k * chunk, (k + 1) * chunk)
        a = time.perf_counter_ns()
        tr.update_many(t[s], acc[s])
        lat[k] = time.perf_counter_ns() - a
    p50, p99, pmax = np.percentile(lat, [50, 99, 100]) / 1000.0
    print(
        f"per packet of {chunk} samples ({len(lat)} packets): p50 {p50:.1f} us, "
        f"p99 {p99:.1f} us, max {pmax:.1f} us -> "
        f"{chunk * len(lat) / (lat.sum() / 1e9) / 1e6:.2f} M samples/s"
    )


def memory(minutes: float) -> float:
    """Peak traced memory (MiB) while streaming ``minutes`` in packets generated on the fly."""
    n = int(minutes * 60 * RATE_HZ)
    tr = GaitTracker(RATE_HZ, "pelvis")
    block = 10_000
    tracemalloc.start()
    count = 0
    for s in range(0, n, block):
        t, acc = synthetic(min(block, n - s), start=s)
        for k in range(0, len(t), 500):
            count += len(tr.update_many(t[k : k + 500], acc[k : k + 500]))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


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
    ap.add_argument("--minutes", type=float, default=60.0, help="length of the throughput data")
    args = ap.parse_args()
    throughput(args.minutes)
    m10 = memory(10.0)
    m60 = memory(60.0)
    print(f"peak traced memory while streaming: 10 min {m10:.2f} MiB, 60 min {m60:.2f} MiB")
    inproc, wall = startup()
    print(
        f"start-up with warm numba cache: import + first call {inproc:.3f} s, process {wall:.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
