"""Write simulated sessions as real recordings, exactly as a live session would have stored them.

The simulated samples are quantised to the ``dhl-imu`` firmware layout (int16 counts at
2048 LSB/g, u16 packet counter), cut into notifications, given BLE-like receive times
(connection-interval batching plus jitter) and a few radio losses, and written with
:class:`~downhill_live.record.RecordingWriter`. The exact ground truth goes to a CSV beside it.

Run ``python -m downhill_live.sim.recordings`` to rebuild the bundled recordings in
``recordings/`` (deterministic: same seeds, same bytes).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
from dataclasses import asdict
from pathlib import Path

import numpy as np

from downhill_live.config.firmware import load_firmware_profile
from downhill_live.decode.layout import encode_layout_packet
from downhill_live.record import RecordingWriter
from downhill_live.sim.gait import Segment, SimResult, simulate
from downhill_live.types import Packet

RECORDINGS_DIR = Path(__file__).resolve().parents[2] / "recordings"


def coaching_course() -> list[Segment]:
    """Flat -> long -10 % descent -> flat. On the descent the runner first keeps form, then
    overstrides (cadence 170 -> 156 spm, impact x1.5) for 45 s, then corrects (172 spm, x1.05)."""
    return [
        Segment(60.0, 0.0, "run", cadence_spm=170.0),
        Segment(20.0, -10.0, "run", cadence_spm=170.0),
        Segment(
            8.0,
            -10.0,
            "run",
            cadence_spm=170.0,
            cadence_end_spm=156.0,
            impact_scale=1.0,
            impact_scale_end=1.5,
        ),
        Segment(45.0, -10.0, "run", cadence_spm=156.0, impact_scale=1.5),
        Segment(
            6.0,
            -10.0,
            "run",
            cadence_spm=156.0,
            cadence_end_spm=172.0,
            impact_scale=1.5,
            impact_scale_end=1.05,
        ),
        Segment(60.0, -10.0, "run", cadence_spm=172.0, impact_scale=1.05),
        Segment(45.0, 0.0, "run", cadence_spm=170.0),
    ]


#: the bundled recordings start with the runner standing still this long on level ground: the
#: reference the foot's tilt grade needs (downhill_live/core/grade.py)
STILL_START_S = 3.0


def with_still_start(sim: SimResult, still_s: float, seed: int) -> SimResult:
    """``sim`` preceded by ``still_s`` of the sensor at rest on level ground, every time of the
    run moved by ``still_s``. The rest samples come from the simulator's own ``stand`` segment
    with the same ``seed`` (the same mounting rotation, sensor bias, noise and range); the run
    keeps its samples bit for bit (a ``stand`` segment in the course would redraw them)."""
    n0 = round(still_s * sim.rate_hz)
    rest = simulate(
        [Segment(still_s, 0.0, "stand"), Segment(1.0, 0.0, "run")],
        sim.placement,
        rate_hz=sim.rate_hz,
        seed=seed,
    )
    if not np.allclose(rest.rotation, sim.rotation):
        raise ValueError("the still start must use the seed of the simulated run")
    t0 = np.arange(n0) / sim.rate_hz
    shift = n0 / sim.rate_hz
    return dataclasses.replace(
        sim,
        t_s=np.concatenate([t0, sim.t_s + shift]),
        acc_g=np.concatenate([rest.acc_g[:n0], sim.acc_g]),
        pressure_pa=np.concatenate([np.full(n0, sim.pressure_pa[0]), sim.pressure_pa]),
        grade_pct=np.concatenate([np.zeros(n0), sim.grade_pct]),
        strike_t_s=sim.strike_t_s + shift,
        toe_off_t_s=sim.toe_off_t_s + shift,
    )


def packetize(
    sim: SimResult,
    *,
    samples_per_packet: int,
    seed: int,
    loss_rate: float = 0.002,
    conn_interval_s: float = 0.030,
    firmware: str = "dhl-imu",
) -> list[Packet]:
    """Cut ``sim`` into notifications of the firmware's layout with BLE-like receive times."""
    prof = load_firmware_profile(firmware)
    stream = prof.streams["acc"]
    assert stream.layout is not None
    lay = stream.layout
    counts = np.clip(np.round(sim.acc_g / lay.scale_g), -32768, 32767).astype(np.int64)
    rng = np.random.default_rng(seed)
    packets = []
    n_packets = len(sim.t_s) // samples_per_packet
    for k in range(n_packets):
        if rng.random() < loss_rate:
            continue  # lost on the radio: the counter gap shows it
        sl = slice(k * samples_per_packet, (k + 1) * samples_per_packet)
        payload = encode_layout_packet(lay, {"seq": k % 65536}, counts[sl])
        t_ready = sim.t_s[sl][-1] + 0.002
        t_rx = np.ceil(t_ready / conn_interval_s) * conn_interval_s + rng.uniform(0.0, 0.006)
        packets.append(Packet(float(t_rx), "acc", payload))
    # a notification can't overtake an earlier one on one link
    t_prev = 0.0
    ordered = []
    for p in packets:
        t_prev = max(t_prev, p.t_rx_s)
        ordered.append(Packet(t_prev, p.stream, p.payload))
    return ordered


def write_truth_csv(sim: SimResult, path: Path) -> None:
    """Ground truth, one row per true initial contact (both feet)."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(
            ["t_s", "instrumented_foot", "peak_g", "cadence_spm", "grade_pct", "toe_off_t_s"]
        )
        grade_at = np.interp(sim.strike_t_s, sim.t_s, sim.grade_pct)
        for i in range(len(sim.strike_t_s)):
            pk = sim.strike_peak_g[i]
            w.writerow(
                [
                    f"{sim.strike_t_s[i]:.4f}",
                    int(sim.strike_foot[i] == 0),
                    "" if np.isnan(pk) else f"{pk:.3f}",
                    f"{sim.cadence_spm[i]:.2f}",
                    f"{grade_at[i]:.2f}",
                    f"{sim.toe_off_t_s[i]:.4f}",
                ]
            )


def write_sim_recording(
    sim: SimResult,
    path: Path,
    *,
    seed: int,
    samples_per_packet: int,
    course: list[Segment],
    device_name: str = "DHL-IMU sim",
    firmware: str = "dhl-imu",
) -> int:
    """Write ``sim`` as a recording at ``path`` (+ ``.truth.csv``); returns packets written."""
    prof = load_firmware_profile(firmware)
    packets = packetize(
        sim, samples_per_packet=samples_per_packet, seed=seed + 1, firmware=firmware
    )
    header = {
        "device": {"name": device_name, "address": "00:00:00:00:00:00"},
        "firmware": {"name": prof.name, "yaml": prof.source_text},
        "settings": {"rate_hz": sim.rate_hz},
        "placement": sim.placement,
        "start_time": "2026-11-25T08:00:00Z",
        "simulator": {
            "module": "downhill_live.sim.gait",
            "seed": seed,
            "course": [asdict(s) for s in course],
            "truth": path.name.removesuffix(".dlr") + ".truth.csv",
        },
    }
    with RecordingWriter(path, header, streams=list(prof.streams)) as w:
        for p in packets:
            w.write_packet(p)
    write_truth_csv(sim, path.with_name(path.name.removesuffix(".dlr") + ".truth.csv"))
    return len(packets)


BUNDLED = (
    # file name, placement, rate_hz, samples per packet, seed
    ("descent_foot_200hz.dlr", "foot", 200.0, 8, 11),
    ("descent_shank_500hz.dlr", "shank", 500.0, 10, 12),
)


def main(argv: list[str] | None = None) -> int:
    """Rebuild the bundled recordings."""
    ap = argparse.ArgumentParser(prog="python -m downhill_live.sim.recordings", description=__doc__)
    ap.add_argument(
        "--out", type=Path, default=RECORDINGS_DIR, help="output folder (default recordings/)"
    )
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    course = coaching_course()
    stored = [Segment(STILL_START_S, 0.0, "stand"), *course]
    for name, placement, rate_hz, spp, seed in BUNDLED:
        sim = simulate(course, placement, rate_hz=rate_hz, seed=seed)
        sim = with_still_start(sim, STILL_START_S, seed=seed)
        n = write_sim_recording(
            sim, args.out / name, seed=seed, samples_per_packet=spp, course=stored
        )
        print(f"{args.out / name}: {placement}, {rate_hz:g} Hz, {sim.t_s[-1]:.0f} s, {n} packets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
