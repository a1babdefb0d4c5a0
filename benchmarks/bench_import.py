"""Benchmark ``downhill-live import`` of a large CSV: peak memory (RSS) and time, streamed
(the command) against reading the whole file first (``read_import_csv`` + ``import_samples``,
the path the command took before), on the same generated files in the same run.

Each side runs as its own child process, whose peak RSS (``ru_maxrss`` from ``wait4``) is the
memory of the process doing the work. "same records" compares the two recordings record by
record (time and payload bytes): the streamed import must write exactly what the whole-file
import writes. Goal: streamed peak RSS independent of the file's length.

Run from the repository root: ``.venv/bin/python benchmarks/bench_import.py [--rows N ...]``.
The CSVs are written to a temporary folder and removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from downhill_live.record import read_recording

WHOLE = """
import sys
from downhill_live.tools.transfer import import_samples, read_import_csv
import_samples(read_import_csv(sys.argv[1]), sys.argv[2], source_name=sys.argv[1])
"""


def write_csv(path: Path, n_rows: int, rate_hz: float = 200.0) -> None:
    """A jittery 200 Hz t_s,ax,ay,az log, written in blocks (the generator stays small)."""
    rng = np.random.default_rng(1)
    t0 = 0.0
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("t_s,ax,ay,az\n")
        for start in range(0, n_rows, 100_000):
            n = min(100_000, n_rows - start)
            t = t0 + (np.arange(n) + rng.uniform(-0.1, 0.1, n)) / rate_hz
            t0 += n / rate_hz
            acc = rng.normal(0.0, 1.0, (n, 3))
            np.savetxt(fh, np.column_stack([t, acc]), fmt="%.6f", delimiter=",")


def run(argv: list[str]) -> tuple[float, float]:
    """Run ``argv``; (seconds, peak RSS in MiB) of that child."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv[:4]} failed: {err.strip()}")
    return took, usage.ru_maxrss / 1024.0  # KiB on Linux


def same_records(a: Path, b: Path) -> bool:
    ra, rb = read_recording(a), read_recording(b)
    return len(ra.packets) == len(rb.packets) and all(
        p.t_rx_s == q.t_rx_s and p.payload == q.payload
        for p, q in zip(ra.packets, rb.packets, strict=True)
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 3_000_000])
    ap.add_argument(
        "--whole-max-rows",
        type=int,
        default=3_000_000,
        help="run the whole-file side only up to this many rows (it needs ~290 B per row)",
    )
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="dh-import-"))
    py = sys.executable
    print(f"{'rows':>10} {'CSV MiB':>8} | {'streamed s':>10} {'peak MiB':>9} | "
          f"{'whole-file s':>12} {'peak MiB':>9} | same records")  # fmt: skip
    try:
        for n in args.rows:
            src = tmp / f"log-{n}.csv"
            write_csv(src, n)
            size_mib = src.stat().st_size / 2**20
            out_s = tmp / f"streamed-{n}.dlr"
            s_took, s_rss = run([py, "-m", "downhill_live", "import", str(src), "-o", str(out_s)])
            if n <= args.whole_max_rows:
                out_w = tmp / f"whole-{n}.dlr"
                w_took, w_rss = run([py, "-c", WHOLE, str(src), str(out_w)])
                same = "yes" if same_records(out_s, out_w) else "NO"
                whole = f"{w_took:12.1f} {w_rss:9.0f}"
                out_w.unlink()
            else:
                whole, same = f"{'-':>12} {'-':>9}", "-"
            print(f"{n:10d} {size_mib:8.0f} | {s_took:10.1f} {s_rss:9.0f} | {whole} | {same}")
            src.unlink()
            out_s.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
