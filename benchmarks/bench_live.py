"""Live mode's figures: time per packet at live pacing for every firmware profile, and the time
from the ``live`` command to scanning.

Per packet: ``Session.process`` (raw packet -> decode -> gait core -> cue rules, no sinks) on
simulated running encoded in each profile's own format, one packet every 16 ms (the pace of
a sensor, not a tight loop: caches go cold between packets as they do live). Two sessions take
every packet in turn: one as live mode runs it (one compiled call per packet for the compiled
decoders: decode, strikes and grade, :mod:`downhill_live.fused`), one with the Python reference
decoder and a separate core call; both must report the same steps. Everything the session
does for a packet before its cues are decided and said is in its figure. The step statistics
(summary figures, which no cue waits for) run after it, as live mode's event loop runs them
(:func:`~downhill_live.session.run_source` sets ``Session.defer`` to the loop's ``call_soon``:
they run once the packet is handled and nothing else is waiting); they are timed apart and
printed beside ("after the packet"). Printed: p50 / p99 / max per packet for both, the steps
each found, and whether they are identical. Goal: p99 <= 150 us.

Start: ``downhill-live live --firmware dhl-imu`` in a fresh process, until the BLE scan starts
(the moment live mode would begin scanning for the sensor; this machine has no Bluetooth
adapter, so the scan itself is not run: the process ends there): with speech off and no
history, with the defaults (speech worker and runner history), and with a treadmill beside.
The gait core is loaded (compiled on a first run) and the speech worker started while the scan
runs, so neither is in the figure. Goal: <= 1 s with a warm cache (the median of 5 is judged).

Usage: ``.venv/bin/python benchmarks/bench_live.py [--packets 600] [--pace-ms 16]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time

import numpy as np

from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.config.firmware import load_firmware_profile
from downhill_live.decode import layout as layout_mod
from downhill_live.decode import polar_pmd as pmd_mod
from downhill_live.decode.layout import encode_layout_packet
from downhill_live.decode.polar_pmd import encode_pmd_acc_delta, encode_pmd_acc_raw
from downhill_live.decode.rsc import RscMeasurement
from downhill_live.session import Session, apply_settings
from downhill_live.sim.gait import Segment, simulate
from downhill_live.types import Packet

P99_GOAL_US = 150.0
START_GOAL_S = 1.0

#: profile -> (sample rate, samples per packet, settings)
CASES: dict[str, tuple[float, int, dict]] = {
    "dhl-imu": (1000.0, 16, {"rate_hz": 1000}),
    "thingy52": (200.0, 1, {}),
    "imported-f32": (100.0, 16, {}),
    "imported-f32-baro": (100.0, 16, {}),
    "polar-h10": (200.0, 36, {}),
    "polar-verity-sense": (416.0, 36, {}),  # delta frames
    "sig-rsc-footpod": (1.0, 1, {}),
}


def packets_for(name: str, n_packets: int) -> tuple[object, list[Packet]]:
    rate, spp, settings = CASES[name]
    prof = apply_settings(load_firmware_profile(name), settings)
    stream = next(iter(prof.streams.values()))
    if stream.decoder == "sig_rsc":
        rng = np.random.default_rng(0)
        return prof, [
            Packet(
                float(k),
                stream.name,
                bytes(RscMeasurement(3.2, int(168 + rng.integers(-4, 5)), running=True)),
            )
            for k in range(n_packets)
        ]
    seconds = n_packets * spp / rate + 1.0
    sim = simulate([Segment(seconds, -4.0, "run")], prof.placement, rate_hz=rate, seed=3)
    acc = sim.acc_g
    out = []
    for k in range(n_packets):
        a = acc[k * spp : (k + 1) * spp]
        t_rx = (k + 1) * spp / rate + 0.01
        if stream.decoder == "layout":
            lay = stream.layout
            if lay.sample[0].type == "f32":
                counts = a
            else:
                counts = np.clip(np.round(a / lay.scale_g), -32768, 32767).astype(np.int64)
            head: dict[str, int] = {}
            if lay.counter_field:
                head[lay.counter_field] = (k * (spp if lay.counter_per == "sample" else 1)) % (
                    lay.counter_modulo
                )
            if lay.pressure_field:
                head[lay.pressure_field] = 95000
            payload = encode_layout_packet(lay, head, counts)
        else:
            ts_ns = 10**17 + round((k + 1) * spp / rate * 1e9)
            mg = np.clip(np.round(a * 1000), -32768, 32767).astype(np.int64)
            if name == "polar-verity-sense":
                payload = encode_pmd_acc_delta(ts_ns, mg, frame_type=1)
            else:
                payload = encode_pmd_acc_raw(ts_ns, mg)
        out.append(Packet(t_rx, stream.name, payload))
    return prof, out


def reference_session(prof: object, cues: object) -> Session:
    s = Session(prof, cues)  # type: ignore[arg-type]
    for name, stream in prof.streams.items():  # type: ignore[attr-defined]
        if stream.decoder == "layout":
            s.decoders[name] = layout_mod.reference_decoder(stream.layout, name)
        elif stream.decoder == "polar_pmd_acc":
            s.decoders[name] = pmd_mod.reference_decoder(stream)
    return s


def per_packet(name: str, n_packets: int, pace_s: float) -> None:
    prof, packets = packets_for(name, n_packets)
    cues = load_cue_profile()
    fast, ref = Session(prof, cues), reference_session(prof, cues)  # type: ignore[arg-type]
    kind = type(next(iter(fast.decoders.values()))).__name__
    warm = Session(prof, cues)  # type: ignore[arg-type]
    for p in packets[:20]:  # warm-up: kernels loaded
        warm.process(p)
    t_fast, t_ref = np.empty(len(packets)), np.empty(len(packets))
    c_fast, c_ref = np.empty(len(packets)), np.empty(len(packets))
    # as live mode's event loop runs them (run_source: Session.defer = loop.call_soon): the
    # step statistics after the packet, once it is handled; timed apart, as "after"
    due: list = []
    fast.defer = ref.defer = due.append
    t_after = np.zeros(len(packets))
    slot = time.perf_counter()
    for i, p in enumerate(packets):
        slot += pace_s
        while time.perf_counter() < slot:
            time.sleep(max(0.0, slot - time.perf_counter() - 0.0005))
        pair = ((fast, t_fast, c_fast), (ref, t_ref, c_ref))
        for sess, out, cpu in pair if i % 2 == 0 else pair[::-1]:  # each first half the time
            c = time.thread_time_ns()
            a = time.perf_counter_ns()
            sess.process(p)
            out[i] = (time.perf_counter_ns() - a) / 1000.0
            cpu[i] = (time.thread_time_ns() - c) / 1000.0
            a = time.perf_counter_ns()
            for fn in due:
                fn()
            if sess is fast:
                t_after[i] = (time.perf_counter_ns() - a) / 1000.0
            due.clear()
    same = repr(fast.steps) == repr(ref.steps) and fast.stats == ref.stats
    f50, f99, fmax = np.percentile(t_fast, [50, 99, 100])
    r50, r99 = np.percentile(t_ref, [50, 99])
    fc50, fc99 = np.percentile(c_fast, [50, 99])
    a99, amax = np.percentile(t_after, [99, 100])
    rc50, rc99 = np.percentile(c_ref, [50, 99])
    verdict = "OK" if f99 <= P99_GOAL_US else "MISSED"
    print(
        f"  {name:<19} {kind:<12} wall p50 {f50:5.0f} p99 {f99:6.0f} max {fmax:6.0f} ({verdict}), "
        f"CPU p50 {fc50:4.0f} p99 {fc99:5.0f} | reference decoder: wall p50 {r50:5.0f} "
        f"p99 {r99:6.0f}, CPU p50 {rc50:4.0f} p99 {rc99:5.0f} | {len(fast.steps)} steps, "
        f"identical: {same} | after the packet (step statistics, loop idle) p99 {a99:4.0f} "
        f"max {amax:5.0f}"
    )


_START = """
import os, sys, time
t_exec = time.perf_counter()
from downhill_live.source import ble_link
async def _stop(self):
    sys.stdout.write(f"{time.perf_counter() - t_exec:.4f}\\n")
    sys.stdout.flush()
    os._exit(0)
ble_link.DeviceLink.find = _stop  # the moment live mode starts scanning
from downhill_live.cli.main import main
sys.exit(main(["live", "--firmware", "dhl-imu", "--record", sys.argv[1], *sys.argv[2:]]))
"""

#: (label, extra arguments) of the start-up runs
START_CASES = (
    ("speech off, no history", ["--no-speak", "--no-history"]),
    ("defaults (speech on, runner history)", ["--history", "{tmp}/history.sqlite"]),
    ("with a treadmill beside (--treadmill)", ["--no-speak", "--no-history", "--treadmill"]),
)


def start_up(tmp: str, runs: int = 5) -> None:
    """Command to scanning, per case: best and median of ``runs`` fresh processes."""
    for label, extra in START_CASES:
        argv = [sys.executable, "-c", _START, tmp, *(a.format(tmp=tmp) for a in extra)]
        subprocess.run(argv, capture_output=True)  # warm the caches (numba, phrase clips)
        walls, inner = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            out = subprocess.run(argv, capture_output=True, text=True, check=True)
            walls.append(time.perf_counter() - t0)
            inner.append(float(out.stdout.strip().splitlines()[-1]))
        best, median = min(walls), float(np.median(walls))
        verdict = "OK" if median <= START_GOAL_S else "MISSED"
        print(
            f"start, {label}: 'live' from command to scanning best {best:.2f} s, median "
            f"{median:.2f} s of {runs} (whole process incl. the interpreter; median "
            f"{float(np.median(inner)):.2f} s of it after Python started; goal <= "
            f"{START_GOAL_S:g} s: {verdict}); the gait core loads while the scan runs"
        )
    print(f"  load during the start-up runs: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> int:
    logging.basicConfig(level=logging.ERROR)  # the RSC profile's notice, once per session
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=600)
    ap.add_argument("--pace-ms", type=float, default=16.0)
    ap.add_argument("--no-start", action="store_true", help="skip the start-up figure")
    args = ap.parse_args()
    print(
        f"per packet at live pacing (one every {args.pace_ms:g} ms, {args.packets} packets; "
        "decode + core + rules, us; wall = what the runner waits, CPU = time this thread ran "
        "(without the waits for a busy CPU, with the cache misses other processes cause)):"
    )
    for name in CASES:
        per_packet(name, args.packets, args.pace_ms / 1000.0)
    if not args.no_start:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            start_up(tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
