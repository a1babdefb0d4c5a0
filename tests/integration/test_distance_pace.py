"""Distance and pace where the set-up measures them: a SIG RSC foot pod live (status line and
summary, over the bumble virtual radio) and a watch file attached to a recording (replay
summary), against the simulated run's own speed and distance; nothing where nothing measures
them (an IMU alone: no estimate from cadence)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

from downhill_live.cli import main
from downhill_live.cli.console import ConsoleSink, print_summary
from downhill_live.config.firmware import load_firmware_profile
from downhill_live.decode.rsc import RscMeasurement
from downhill_live.odometer import Odometer
from downhill_live.session import session_from_recording
from downhill_live.sim.bumble_backend import VirtualRadio
from downhill_live.sim.gait import Segment
from downhill_live.sim.virtual_devices import VirtualDevice, simulated_payloads
from downhill_live.types import Packet
from tests.integration.test_live import console_of, run_until_done, runner_for
from tests.watchfiles import START_UTC_S, attached_and_plain, truth_track

ROOT = Path(__file__).resolve().parents[2]
#: the pod's speed on the simulated course (exact in its 1/256 m/s steps): 333.3 s/km, 5:33
SPEED_MPS = 3.0


async def test_foot_pod_distance_and_pace_live(radio: VirtualRadio, tmp_path: Path) -> None:
    firmware = load_firmware_profile("sig-rsc-footpod")
    course = [Segment(9.0, 0.0, "run", cadence_spm=170.0, speed_mps=SPEED_MPS)]
    src = simulated_payloads(firmware, course, seed=4)
    # real time: a pod has no clock of its own, so its time is the receive time
    device = VirtualDevice(radio, firmware, src.payloads, settings=src.settings, speed=1.0)
    runner = runner_for(radio, firmware, tmp_path, status=True)
    async with device:
        result = await run_until_done(runner, device, limit_s=30.0)
    summary = result.summary
    assert summary["distance_source"] == "foot pod"
    # the pod's own distance field, between the first and the last step
    assert summary["distance_m"] == pytest.approx(SPEED_MPS * summary["duration_s"], abs=1.0)
    assert summary["pace_s_per_km"] == pytest.approx(1000.0 / SPEED_MPS, rel=0.05)

    # the status line showed the distance so far and the pod's pace, after the descent state
    shown = console_of(runner).getvalue().split("\r")
    with_distance = [s for s in shown if " km " in s]
    assert with_distance, shown[-5:]
    pattern = r"(flat|descent|-) \| \d+\.\d\d km 5:33/km \| link "
    assert [s for s in with_distance if not re.search(pattern, s)] == []
    kms = [float(re.search(r"(\d+\.\d\d) km", s).group(1)) for s in with_distance]  # type: ignore[union-attr]
    assert kms == sorted(kms) and kms[-1] > 0.0

    out = io.StringIO()
    print_summary(summary, out)
    line = next(x for x in out.getvalue().splitlines() if x.strip().startswith("distance"))
    assert re.fullmatch(r"  distance         0\.0\d km, average pace 5:\d\d /km \(foot pod\)", line)


def test_status_line_with_distance_still_fits_80_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = io.StringIO()
    sink = ConsoleSink(out)
    text = (
        "12:34 | 171.2 spm | 6.3 g | grade -9.6 % descent | 2.41 km 5:33/km | "
        "link up | 25 pkt/s, lost 0, bad 0"
    )
    sink.status(text)
    sink.close()
    (drawn,) = [s for s in out.getvalue().split("\r") if s.strip()]
    visible = drawn.replace("\033[K", "").rstrip("\n")
    assert len(visible) < 80 and visible.startswith("12:34 | 171.2 spm") and visible.endswith("~")
    assert "2.41 km 5:33/km" in visible  # distance and pace come before the link and health


def test_pod_without_distance_field_integrates_its_speed() -> None:
    odo = Odometer(rsc_streams=["rsc"])
    t = 0.0
    for _ in range(11):  # 10 s at 2.5 m/s
        odo.packet(Packet(t, "rsc", bytes(RscMeasurement(speed_mps=2.5, cadence_spm=160))))
        t += 1.0
    t += 20.0  # the link dropped for 20 s: that stretch is not guessed
    for _ in range(5):
        odo.packet(Packet(t, "rsc", bytes(RscMeasurement(speed_mps=4.0, cadence_spm=180))))
        t += 1.0
    assert odo.distance_m() == pytest.approx(2.5 * 10 + 4.0 * 4)
    assert odo.pace_s_per_km() == pytest.approx(250.0)
    odo.packet(Packet(t, "rsc", b"\x00"))  # malformed: left to the decoder, ignored here
    odo.packet(Packet(t, "acc", bytes(8)))  # another stream
    assert odo.distance_m() == pytest.approx(41.0)
    odo.packet(Packet(t, "rsc", bytes(RscMeasurement(speed_mps=0.1, cadence_spm=0))))
    assert odo.pace_s_per_km() is None  # standing: no pace


def test_pod_reset_keeps_counting() -> None:
    odo = Odometer(rsc_streams=["rsc"])
    for t, total in enumerate([500.0, 503.0, 506.0, 0.0, 3.0]):  # the pod reset at t = 3 s
        m = RscMeasurement(speed_mps=3.0, cadence_spm=170, distance_m=total)
        odo.packet(Packet(float(t), "rsc", bytes(m)))
    assert odo.distance_m() == pytest.approx(9.0)


def test_replay_summary_takes_distance_from_an_attached_watch_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec, plain = attached_and_plain(tmp_path)
    capsys.readouterr()

    assert main(["replay", str(rec), "--no-speak"]) == 0
    out = capsys.readouterr().out
    m = re.search(r"distance +(\d+\.\d\d) km, average pace (\d+):(\d\d) /km \(watch file\)", out)
    assert m, out
    # ground truth: the simulated run's distance (tests/watchfiles.py) between the first and
    # the last replayed step (sensor time = the course's time)
    session, r = session_from_recording(str(rec), None)
    session.process_all(r.packets)
    t0, t1 = session.steps[0].t_s, session.steps[-1].t_s
    tr = truth_track()
    t_course = tr["t_utc_s"] - START_UTC_S
    want_m = float(
        np.interp(t1, t_course, tr["distance_m"]) - np.interp(t0, t_course, tr["distance_m"])
    )
    assert 700.0 < want_m < 800.0
    assert float(m.group(1)) * 1000 == pytest.approx(want_m, abs=10.0)
    pace_s = int(m.group(2)) * 60 + int(m.group(3))
    assert pace_s == pytest.approx((t1 - t0) / want_m * 1000, abs=3.0)

    # an IMU alone measures no distance: no line, no estimate
    assert main(["replay", str(plain), "--no-speak"]) == 0
    assert "distance" not in capsys.readouterr().out
