"""Several BLE devices in one live session, over bumble's virtual radio: an accelerometer for the
strikes beside a treadmill (grade, speed) or a Thingy:52 (pressure). One recording, replayed to
the same steps; a link dropped on its own; a stream-name clash said in one line."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from downhill_live.cli.console import ConsoleSink
from downhill_live.cli.main import main
from downhill_live.config.cue_profile import CueProfile, load_cue_profile, parse_cue_profile
from downhill_live.config.firmware import load_firmware_profile, parse_firmware_profile
from downhill_live.decode import make_decoder
from downhill_live.decode.ftms import TreadmillData
from downhill_live.decode.thingy import ThingyPressure, ThingyPressureDecoder
from downhill_live.errors import ConfigError, DecodeError
from downhill_live.record import read_recording
from downhill_live.session import Session, grade_sources, session_from_recording
from downhill_live.sim.bumble_backend import VirtualRadio
from downhill_live.sim.gait import Segment
from downhill_live.sim.virtual_devices import (
    VirtualDevice,
    simulated_payloads,
    treadmill_payloads,
)
from downhill_live.sinks import SpeakerSink
from downhill_live.source.ble import BesideDevice, LiveResult, LiveRunner
from downhill_live.types import Cue, Packet

ROOT = Path(__file__).resolve().parents[2]
IMU = load_firmware_profile(ROOT / "firmware_profiles" / "dhl-imu.yaml")
TREADMILL = load_firmware_profile(ROOT / "firmware_profiles" / "sig-ftms-treadmill.yaml")
THINGY = load_firmware_profile(ROOT / "firmware_profiles" / "thingy52.yaml")
CUES = parse_cue_profile(
    """
settings: {quiet_start_s: 0, max_cues_per_min: 30}
rules:
  cadence_low:
    metric: cadence_spm
    below: 175
    window_steps: 3
    cooldown_s: 5
    phrases: ["quicker steps"]
""",
    "test-cues.yaml",
)
# 10 s flat, 15 s at -6.5 %, 10 s flat: at 10x real time, 3.5 s of streaming
COURSE = [
    Segment(10.0, 0.0, "run", cadence_spm=170.0, speed_mps=3.0),
    Segment(15.0, -6.5, "run", cadence_spm=170.0, speed_mps=3.3),
    Segment(10.0, 0.0, "run", cadence_spm=170.0, speed_mps=3.0),
]
SPEED = 10.0
MILL_ADDRESS = "F0:00:00:00:0D:02"


class ListSpeaker:
    """A speaker that remembers what it was asked to say (the speaker is the edge)."""

    description = "speech: test list"
    healthy = True

    def __init__(self) -> None:
        self.said: list[Cue] = []

    def say(self, cue: Cue) -> bool:
        self.said.append(cue)
        return True

    def close(self, timeout_s: float = 5.0) -> None:
        pass


@pytest.fixture
async def radio() -> AsyncIterator[VirtualRadio]:
    async with VirtualRadio() as r:
        yield r


def two_devices(radio: VirtualRadio, seed: int) -> tuple[VirtualDevice, VirtualDevice]:
    src = simulated_payloads(IMU, COURSE, placement="shank", seed=seed)
    imu = VirtualDevice(radio, IMU, src.payloads, settings=src.settings, speed=SPEED)
    mill_payloads = treadmill_payloads(TREADMILL.streams["treadmill"], COURSE, every_s=0.5)
    mill = VirtualDevice(
        radio,
        TREADMILL,
        mill_payloads,
        name="Treadmill",
        address=MILL_ADDRESS,
        speed=SPEED,
        anchor=imu,  # one run: the treadmill's timeline starts with the IMU's
    )
    return imu, mill


def runner_for(
    radio: VirtualRadio, tmp_path: Path, cues: CueProfile = CUES, **kw: Any
) -> LiveRunner:
    return LiveRunner(
        IMU,
        cues,
        beside=[BesideDevice(TREADMILL)],
        placement="shank",
        record_path=tmp_path / "live.dlr",
        sinks=(ConsoleSink(io.StringIO()), SpeakerSink(ListSpeaker())),
        scanner_backend=radio.scanner_backend,
        client_backend=radio.client_backend,
        scan_timeout_s=5.0,
        connect_timeout_s=5.0,
        **kw,
    )


async def run_until_done(
    runner: LiveRunner, devices: tuple[VirtualDevice, ...], limit_s: float
) -> LiveResult:
    async def stop_when_done() -> None:
        for d in devices:
            await d.finished.wait()
        await asyncio.sleep(0.3)
        runner.request_stop()

    stopper = asyncio.create_task(stop_when_done())
    try:
        async with asyncio.timeout(limit_s):  # an overall deadline, generous under load
            return await runner.run()
    finally:
        stopper.cancel()
        await asyncio.gather(stopper, return_exceptions=True)


def said(runner: LiveRunner) -> list[str]:
    sink = next(k for k in runner.sinks if isinstance(k, SpeakerSink))
    assert isinstance(sink.speaker, ListSpeaker)
    return [c.phrase for c in sink.speaker.said if c.metric == "link"]


def console(runner: LiveRunner) -> str:
    out = next(k.out for k in runner.sinks if isinstance(k, ConsoleSink))
    assert isinstance(out, io.StringIO)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# an accelerometer and a treadmill


async def test_imu_and_treadmill_record_one_file_whose_grade_is_the_inclination(
    radio: VirtualRadio, tmp_path: Path
) -> None:
    imu, mill = two_devices(radio, seed=5)
    runner = runner_for(radio, tmp_path)
    async with imu, mill:
        result = await run_until_done(runner, (imu, mill), limit_s=40.0)
    session = runner.session
    assert session is not None
    # both devices' packets, every one, in one recording
    rec = read_recording(result.recording)  # type: ignore[arg-type]
    by_stream = {s: [p.payload for p in rec.packets if p.stream == s] for s in ("acc", "treadmill")}
    assert by_stream["acc"] == [p.payload for p in imu.sent] and len(imu.sent) > 500
    assert by_stream["treadmill"] == [p.payload for p in mill.sent] and len(mill.sent) > 50
    assert rec.header["firmware"]["name"] == "dhl-imu"
    (beside,) = rec.header["beside"]
    assert beside["firmware"]["name"] == "sig-ftms-treadmill"
    assert beside["streams"] == ["treadmill"] and beside["device"]["address"] == MILL_ADDRESS
    assert [d["packets"] for d in result.devices] == [len(imu.sent), len(mill.sent)]
    assert "strikes from DHL-IMU sim" in console(runner)
    assert "| links DHL-IMU sim closed, Treadmill closed |" in runner.status_line()

    # the grade of every step is the inclination the treadmill last sent before the step's
    # samples arrived (receive order, the order the session sees): walk the recording, noting
    # per accelerometer packet its last sample's sensor time and the inclination in force
    dec = make_decoder(IMU, IMU.streams["acc"])
    incline, t_last, in_force = math.nan, [], []
    for p in rec.packets:
        if p.stream == "treadmill":
            incline = TreadmillData.from_bytes(p.payload).inclination_pct
        elif len(t_s := dec.decode(p).t_s):
            t_last.append(float(t_s[-1]))
            in_force.append(incline)
    t_last_a, in_force_a = np.array(t_last), np.array(in_force)
    known_at = ~np.isnan(in_force_a)
    switch_t = t_last_a[1:][(np.diff(in_force_a) != 0) & known_at[1:] & known_at[:-1]]
    assert len(switch_t) == 2  # 0 -> -6.5 -> 0
    steps = session.steps
    t = np.array([s.t_s for s in steps])
    g = np.array([s.grade_pct for s in steps])
    d = np.array([s.on_descent for s in steps])
    expected = in_force_a[np.minimum(np.searchsorted(t_last_a, t), len(t_last_a) - 1)]
    # a step is reported up to ~0.1 s after its contact: those within 0.5 s of a switch aside
    settled = np.min(np.abs(t[:, None] - switch_t[None, :]), axis=1) > 0.5
    assert len(steps) > 40 and settled.sum() > 30 and (expected[settled] == -6.5).sum() > 10
    # never another grade; unknown only where the last value was older than the core's 5-s
    # hold (a burst of queued IMU packets on a loaded machine: a few steps at most)
    same = (g == expected) | (np.isnan(g) & np.isnan(expected))
    expired = np.isnan(g) & ~np.isnan(expected)
    assert np.all((same | expired)[settled]) and expired[settled].sum() <= 3
    # the descent state: within the hold (0.5 s of sensor time) of the switch, out after it
    assert d[(t > switch_t[0] + 1.0) & (t < switch_t[1])].all()
    assert not d[t < switch_t[0]].any() and not d[t > switch_t[1] + 1.0].any()

    # the recording replays to the same steps
    replayed, rec2 = session_from_recording(str(result.recording), CUES)
    for p in rec2.packets:
        replayed.process(p)
    np.testing.assert_array_equal(
        [dataclasses.astuple(s) for s in replayed.steps], [dataclasses.astuple(s) for s in steps]
    )


async def test_a_dropped_treadmill_link_reconnects_while_the_imu_keeps_coaching(
    radio: VirtualRadio, tmp_path: Path
) -> None:
    imu, mill = two_devices(radio, seed=6)
    runner = runner_for(radio, tmp_path, reconnect_backoff_s=(0.4, 0.5))
    steps_at_drop: list[int] = []

    async def drop_treadmill() -> None:
        async with asyncio.timeout(20.0):
            while len(mill.sent) < 20 or runner.session is None:
                await asyncio.sleep(0.01)
        steps_at_drop.append(len(runner.session.steps))
        await mill.sensor.drop_link()
        async with asyncio.timeout(20.0):
            while runner.links[1].reconnects == 0:
                await asyncio.sleep(0.01)
        steps_at_drop.append(len(runner.session.steps))  # the treadmill is back

    async with imu, mill:
        dropper = asyncio.create_task(drop_treadmill())
        result = await run_until_done(runner, (imu, mill), limit_s=40.0)
        await dropper
    imu_link, mill_link = runner.links
    assert (mill_link.link_drops, mill_link.reconnects) == (1, 1)
    assert (imu_link.link_drops, imu_link.reconnects) == (0, 0)
    assert imu.sensor.connection_count == 1 and mill.sensor.connection_count == 2
    # the accelerometer's data never stopped: every notification it sent is recorded
    rec = read_recording(result.recording)  # type: ignore[arg-type]
    assert [p.payload for p in rec.packets if p.stream == "acc"] == [p.payload for p in imu.sent]
    assert len(imu.sent) == len(simulated_payloads(IMU, COURSE, placement="shank", seed=6).payloads)
    events = [e for _, e in rec.events if e["event"] in ("link_lost", "link_back")]
    assert [(e["event"], e["device"]) for e in events] == [
        ("link_lost", "Treadmill"),
        ("link_back", "Treadmill"),
    ]
    lost_t, back_t = (t for t, e in rec.events if e["event"] in ("link_lost", "link_back"))
    # steps (and cues) went on while the treadmill was away
    session = runner.session
    assert session is not None
    acc_during = [p for p in rec.packets if p.stream == "acc" and lost_t < p.t_rx_s < back_t]
    assert len(acc_during) > 10 and steps_at_drop[1] >= steps_at_drop[0] + 3
    assert said(runner) == ["Treadmill lost", "Treadmill back"]
    assert "link: Treadmill lost - reconnecting" in console(runner)
    assert "link: Treadmill back" in console(runner)
    assert "cadence_low" in {c.rule for c in session.cues}


# ---------------------------------------------------------------------------------------------
# profiles that do not combine


CLASHING = """
name: odd-treadmill
match: {service_uuids: ["1826"]}
streams:
  acc:
    characteristic: "2acd"
    decoder: ftms
"""


def test_a_stream_name_clash_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = parse_firmware_profile(CLASHING, "odd-treadmill.yaml")
    with pytest.raises(ConfigError, match="stream name 'acc' is in both firmware profiles"):
        LiveRunner(IMU, CUES, beside=[BesideDevice(odd)])
    path = tmp_path / "odd-treadmill.yaml"
    path.write_text(CLASHING, encoding="utf-8")
    code = main(
        [
            "live",
            "--firmware",
            "dhl-imu",
            "--with",
            str(path),
            "--no-speak",
            "--no-history",
            "--record",
            str(tmp_path / "rec"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert (
        len(err) == 1
        and "stream name 'acc' is in both firmware profiles dhl-imu and odd-treadmill" in err[0]
    )
    assert not (tmp_path / "rec").exists() or not any((tmp_path / "rec").iterdir())


def test_a_device_with_only_acceleration_cannot_go_beside() -> None:
    with pytest.raises(ConfigError, match="only acceleration streams"):
        LiveRunner(IMU, CUES, beside=[BesideDevice(load_firmware_profile("polar-h10"))])


# ---------------------------------------------------------------------------------------------
# the Thingy:52's barometer


def test_thingy_pressure_from_the_published_layout() -> None:
    # ble_tes_pressure_t: int32 little-endian integer part (hPa), uint8 hundredths
    payload = (1013).to_bytes(4, "little", signed=True) + bytes([25])
    assert payload.hex() == "f503000019"
    dec = ThingyPressureDecoder(stream="pressure")
    dec.decode(Packet(3.5, "pressure", payload))
    dec.decode(Packet(3.6, "pressure", bytes.fromhex("c803000005")))  # 968.05 hPa
    (a, b) = dec.take_pressure()
    assert (a.t_rx_s, a.pressure_pa) == (3.5, 101325.0)
    assert b.pressure_pa == pytest.approx(96805.0)
    assert bytes(ThingyPressure(968.05)) == bytes.fromhex("c803000005")
    for bad, what in [
        ("f50300", "3 bytes"),
        ("f503000064", "decimal part 100"),
        ("0000000000", "outside"),
    ]:
        with pytest.raises(DecodeError, match=what):
            dec.decode(Packet(0.0, "pressure", bytes.fromhex(bad)))


def thingy_course() -> list[Segment]:
    return [
        Segment(40.0, 0.0, "run", cadence_spm=170.0, speed_mps=3.0),
        Segment(60.0, -10.0, "run", cadence_spm=170.0, speed_mps=3.3),
        Segment(40.0, 0.0, "run", cadence_spm=170.0, speed_mps=3.0),
    ]


def descent_share(steps: list[Any], lo: float, hi: float) -> float:
    sel = [s for s in steps if lo <= s.t_s < hi]
    assert len(sel) > 10
    return sum(s.on_descent for s in sel) / len(sel)


def test_a_thingy_alone_gives_the_barometer_grade() -> None:
    assert "barometer" in grade_sources(THINGY, "foot")
    src = simulated_payloads(THINGY, thingy_course(), seed=2)
    assert {p.stream for p in src.payloads} == {"raw", "pressure"}
    session = Session(THINGY, load_cue_profile())
    session.process_many([Packet(p.t_s, p.stream, p.payload) for p in src.payloads])
    assert session.tracker.grade_source_ == "barometer"
    assert descent_share(session.steps, 50.0, 100.0) >= 0.95
    assert descent_share(session.steps, 0.0, 40.0) == 0.0
    assert descent_share(session.steps, 110.0, 140.0) == 0.0
    down = [s.grade_pct for s in session.steps if 55.0 <= s.t_s < 100.0]
    assert np.median(down) == pytest.approx(-10.0, abs=2.5)


async def test_a_thingy_beside_an_h10_gives_its_pressure_over_ble(
    radio: VirtualRadio, tmp_path: Path
) -> None:
    h10 = load_firmware_profile(ROOT / "firmware_profiles" / "polar-h10.yaml")
    course = [
        Segment(30.0, 0.0, "run", cadence_spm=170.0, speed_mps=3.0),
        Segment(45.0, -10.0, "run", cadence_spm=170.0, speed_mps=3.3),
        Segment(25.0, 0.0, "run", cadence_spm=170.0, speed_mps=3.0),
    ]
    src = simulated_payloads(h10, course, seed=4)
    thingy_src = simulated_payloads(THINGY, course, seed=4)
    pressure = [p for p in thingy_src.payloads if p.stream == "pressure"]
    chest = VirtualDevice(radio, h10, src.payloads, settings=src.settings, speed=25.0)
    thingy = VirtualDevice(
        radio,
        THINGY,
        pressure,
        name="Thingy",
        address="F0:00:00:00:0D:03",
        speed=25.0,
        anchor=chest,
    )
    runner = LiveRunner(
        h10,
        load_cue_profile(),
        beside=[BesideDevice(THINGY)],
        record_path=tmp_path / "h10-thingy.dlr",
        sinks=(ConsoleSink(io.StringIO()),),
        scanner_backend=radio.scanner_backend,
        client_backend=radio.client_backend,
        scan_timeout_s=5.0,
        connect_timeout_s=5.0,
    )
    async with chest, thingy:
        result = await run_until_done(runner, (chest, thingy), limit_s=40.0)
    assert [d["firmware"] for d in result.devices] == ["polar-h10", "thingy52"]
    assert runner.links[1].streams.keys() == {"pressure"}  # its motion stream is not used
    session = runner.session
    assert session is not None and session.tracker.grade_source_ == "barometer"
    assert descent_share(session.steps, 40.0, 75.0) >= 0.9
    assert descent_share(session.steps, 0.0, 30.0) == 0.0
    replayed, rec = session_from_recording(str(result.recording), None)
    replayed.process_many(rec.packets)
    assert [s.on_descent for s in replayed.steps] == [s.on_descent for s in session.steps]
    assert all(
        a.grade_pct == b.grade_pct or (math.isnan(a.grade_pct) and math.isnan(b.grade_pct))
        for a, b in zip(replayed.steps, session.steps, strict=True)
    )


# ---------------------------------------------------------------------------------------------
# live --simulate --treadmill


def test_live_simulate_with_a_virtual_treadmill(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--no-speak", "--no-history", "--scan-timeout", "10"]
    code = main(
        [
            "live",
            "--simulate",
            "--treadmill",
            "--speed",
            "20",
            *common,
            "--record",
            str(tmp_path / "a"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "and a sig-ftms-treadmill" in out and "sig-ftms-treadmill, beside)" in out
    (path,) = (tmp_path / "a").glob("*.dlr")
    session, rec = session_from_recording(str(path), None)
    session.process_many(rec.packets)
    # the coaching course: 60 s flat, then 139 s of -10 %, then flat; the virtual treadmill
    # follows it. At 20x the in-process radio queues the IMU's 480 packets/s for a fraction
    # of a second (seconds of sensor time; at 50x under load the shift reached 6 s and the
    # descent read 145 s): the grade is the treadmill's, only shifted in time, and unknown
    # where the IMU's queued data outlasts the treadmill's values. The exact grade is checked
    # at 10x above.
    assert len([p for p in rec.packets if p.stream == "treadmill"]) >= 30
    grades = [s.grade_pct for s in session.steps]
    known = [g for g in grades if not math.isnan(g)]
    assert set(known) == {0.0, -10.0} and len(known) >= 0.6 * len(grades)
    runs = [g for k, g in enumerate(known) if k == 0 or g != known[k - 1]]
    assert runs in ([0.0, -10.0, 0.0], [-10.0, 0.0])  # one descent, in one piece
    descent = [s for s in session.steps if s.on_descent]
    # (a step taken within the 0.5-s exit hold after the incline returned to 0 % still counts)
    assert len(descent) > 100 and sum(s.grade_pct != -10.0 for s in descent) <= 2
    assert 0.0 < session.summary()["descent_time_s"] <= 139.0 + 3.0, out
    # a two-device recording streams again as two virtual devices
    code = main(
        ["live", "--simulate", str(path), "--speed", "2", *common, "--record", str(tmp_path / "b")]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    (again,) = (tmp_path / "b").glob("*.dlr")
    rec2 = read_recording(again)
    assert rec2.header["beside"][0]["firmware"]["name"] == "sig-ftms-treadmill"
    # each device streams its own recorded packets again, in order (at this pace the radio's
    # queue may still hold the last ones when the session ends, and the treadmill connects
    # after the IMU: a contiguous part of each)
    for stream, share in (("treadmill", 0.1), ("acc", 0.5)):
        src = [p.payload for p in rec.packets if p.stream == stream]
        got = [p.payload for p in rec2.packets if p.stream == stream]
        assert len(got) >= share * len(src)
        start = src.index(got[0])
        assert got == src[start : start + len(got)]
