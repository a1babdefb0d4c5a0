"""Write simulated sessions as real recordings, exactly as a live session would have stored them.

The simulated samples are quantised to the ``dhl-imu`` firmware layout (int16 counts at
2048 LSB/g, u16 packet counter), cut into notifications, given BLE-like receive times
(connection-interval batching plus jitter) and a few radio losses, and written with
:class:`~downhill_live.record.RecordingWriter`. The exact ground truth goes to a CSV beside it.

With a cue profile (``coach_with``) the recording is written the way a live session writes it:
the profile's YAML in the header (key ``cue_profile``), each packet fed to a
:class:`~downhill_live.session.Session` one at a time with the
:class:`~downhill_live.sinks.RecorderSink` first, so every cue the rules fire is stored as a
kind-2 record right after the packet that caused it, and the cues of the session's end last.
``replay --verify`` then replays the file and compares: it passes while the core and the rules
decide as they did when the file was written.

Run ``python -m downhill_live.sim.recordings`` to rebuild the bundled recordings in
``recordings/`` (deterministic: same seeds, same code, same bytes), coached with the bundled cue
profile. Run it again after a change to the gait core or the cue rules changes what they decide
(``tests/integration/test_bundled_recordings.py`` says so when it happens).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
from dataclasses import asdict
from pathlib import Path

import numpy as np

from downhill_live.config.cue_profile import DEFAULT_PROFILE, parse_cue_profile
from downhill_live.config.firmware import load_firmware_profile
from downhill_live.decode.layout import encode_layout_packet
from downhill_live.record import RecordingWriter, read_recording
from downhill_live.session import Session, apply_settings
from downhill_live.sim.gait import Segment, SimResult, simulate
from downhill_live.sinks import RecorderSink
from downhill_live.types import Packet

RECORDINGS_DIR = Path(__file__).resolve().parents[2] / "recordings"
#: the name the bundled cue profile is stored under in a recording's header (a path relative to
#: the repository, so the bytes do not depend on where the repository is)
BUNDLED_PROFILE_NAME = "downhill_live/config/default_cues.yaml"


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
    coach_with: Path | None = None,
    profile_name: str | None = None,
) -> int:
    """Write ``sim`` as a recording at ``path`` (+ ``.truth.csv``); returns packets written.

    With ``coach_with`` (a cue profile file) the recording also holds that profile (header key
    ``cue_profile``, its path given as ``profile_name``, default the file's path) and the cues
    a live session coached with it would have spoken (see the module's text)."""
    prof = load_firmware_profile(firmware)
    packets = packetize(
        sim, samples_per_packet=samples_per_packet, seed=seed + 1, firmware=firmware
    )
    settings = {"rate_hz": sim.rate_hz}
    header = {
        "device": {"name": device_name, "address": "00:00:00:00:00:00"},
        "firmware": {"name": prof.name, "yaml": prof.source_text},
        "settings": settings,
        "placement": sim.placement,
        "start_time": "2026-11-25T08:00:00Z",
        "simulator": {
            "module": "downhill_live.sim.gait",
            "seed": seed,
            "course": [asdict(s) for s in course],
            "truth": path.name.removesuffix(".dlr") + ".truth.csv",
        },
    }
    if coach_with is None:
        with RecordingWriter(path, header, streams=list(prof.streams)) as w:
            for p in packets:
                w.write_packet(p)
    else:
        text = Path(coach_with).read_text(encoding="utf-8")
        name = profile_name or str(coach_with)
        header["cue_profile"] = {"path": name, "yaml": text}
        path.unlink(missing_ok=True)  # rebuilt (the recorder would pick another name)
        recorder = RecorderSink(path, streams=list(prof.streams))
        recorder.start(header)
        # the live order: the recorder first (every packet on disk before it is used), one
        # packet at a time, the session's end (closing cues) last
        session = Session(
            apply_settings(prof, settings),
            parse_cue_profile(text, name),
            placement=sim.placement,
        )
        session.attach(recorder)
        try:
            for p in packets:
                session.process(p)
        finally:
            session.close()
    write_truth_csv(sim, path.with_name(path.name.removesuffix(".dlr") + ".truth.csv"))
    return len(packets)


BUNDLED = (
    # file name, placement, rate_hz, samples per packet, seed
    ("descent_foot_200hz.dlr", "foot", 200.0, 8, 11),
    ("descent_shank_500hz.dlr", "shank", 500.0, 10, 12),
)


def write_bundled(entry: tuple[str, str, float, int, int], out_dir: Path) -> Path:
    """Write one bundled recording (an entry of :data:`BUNDLED`) and its truth into ``out_dir``:
    the coaching course after a still stand, coached live with the bundled cue profile."""
    name, placement, rate_hz, spp, seed = entry
    course = coaching_course()
    sim = simulate(course, placement, rate_hz=rate_hz, seed=seed)
    sim = with_still_start(sim, STILL_START_S, seed=seed)
    path = out_dir / name
    write_sim_recording(
        sim,
        path,
        seed=seed,
        samples_per_packet=spp,
        course=[Segment(STILL_START_S, 0.0, "stand"), *course],
        coach_with=DEFAULT_PROFILE,
        profile_name=BUNDLED_PROFILE_NAME,
    )
    return path


def main(argv: list[str] | None = None) -> int:
    """Rebuild the bundled recordings."""
    ap = argparse.ArgumentParser(prog="python -m downhill_live.sim.recordings", description=__doc__)
    ap.add_argument(
        "--out", type=Path, default=RECORDINGS_DIR, help="output folder (default recordings/)"
    )
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for entry in BUNDLED:
        path = write_bundled(entry, args.out)
        rec = read_recording(path)
        _, placement, rate_hz, *_ = entry
        print(
            f"{path}: {placement}, {rate_hz:g} Hz, {rec.packets[-1].t_rx_s:.0f} s, "
            f"{len(rec.packets)} packets, {len(rec.cues)} cues (coached with "
            f"{BUNDLED_PROFILE_NAME})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
