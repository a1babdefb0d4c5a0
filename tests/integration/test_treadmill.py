"""A BLE treadmill (SIG Fitness Machine Service, Treadmill Data 0x2ACD): its inclination is the
grade, exactly. Over bumble's virtual link with bleak's public API, and through the session."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic

from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.config.firmware import load_firmware_profile
from downhill_live.decode.ftms import (
    FTMS_SERVICE_UUID,
    TREADMILL_DATA_UUID,
    FtmsDecoder,
    TreadmillData,
)
from downhill_live.errors import DecodeError
from downhill_live.session import Session, grade_notice
from downhill_live.sim.bumble_backend import VirtualRadio
from downhill_live.sim.gait import Segment
from downhill_live.sim.virtual_devices import (
    TimedPayload,
    VirtualDevice,
    simulated_payloads,
    treadmill_payloads,
)
from downhill_live.types import Packet

ROOT = Path(__file__).resolve().parents[2]
# by path: the bundled-profile lookup reads the installed package's folder
TREADMILL = load_firmware_profile(ROOT / "firmware_profiles" / "sig-ftms-treadmill.yaml")
IMU = load_firmware_profile(ROOT / "firmware_profiles" / "dhl-imu.yaml")
COURSE = [
    Segment(30.0, 0.0, "run", speed_mps=3.0),
    Segment(30.0, -6.5, "run", speed_mps=3.3),
    Segment(30.0, 0.0, "run", speed_mps=3.0),
]


# ------------------------------------------------------------------ the published layout
def test_treadmill_data_layout_by_hand() -> None:
    # flags 0x040C: total distance, inclination and ramp angle, elapsed time; speed present
    payload = bytes.fromhex("0c04" "4a04" "e80300" "c1ff" "dcff" "5a00")
    m = TreadmillData.from_bytes(payload)
    assert m.speed_kmh == pytest.approx(10.98)  # 0x044a = 1098 x 0.01 km/h
    assert m.distance_m == 1000
    assert m.inclination_pct == pytest.approx(-6.3)
    assert m.ramp_angle_deg == pytest.approx(-3.6)
    assert m.elapsed_s == 90
    assert bytes(m) == payload


def test_fields_before_the_inclination_are_skipped_by_their_sizes() -> None:
    # average speed (2) and total distance (3) before it; heart rate and energy after it
    flags = 0x0002 | 0x0004 | 0x0008 | 0x0080 | 0x0100 | 0x0400
    payload = (
        flags.to_bytes(2, "little")
        + (900).to_bytes(2, "little")  # 9.00 km/h
        + (850).to_bytes(2, "little")  # average
        + (42).to_bytes(3, "little")
        + (-25).to_bytes(2, "little", signed=True)
        + (-14).to_bytes(2, "little", signed=True)
        + bytes(5)  # energy
        + bytes([150])  # heart rate
        + (61).to_bytes(2, "little")
    )
    m = TreadmillData.from_bytes(payload)
    assert (m.speed_kmh, m.distance_m, m.inclination_pct, m.elapsed_s) == (9.0, 42, -2.5, 61)
    # "more data" set: no speed in this notification; inclination "not available"
    m2 = TreadmillData.from_bytes(bytes.fromhex("0900" "ff7f" "ff7f"))
    assert m2.speed_kmh is None and m2.inclination_pct is None


@pytest.mark.parametrize("payload", ["", "00", "0000", "0c00" "4a04" "e803", "0800" "1000" "c1"])
def test_short_payloads_are_decode_errors(payload: str) -> None:
    with pytest.raises(DecodeError, match="Treadmill Data"):
        FtmsDecoder(stream="treadmill").decode(Packet(0.0, "treadmill", bytes.fromhex(payload)))


# ------------------------------------------------------------------ over the virtual link
async def test_virtual_treadmill_notifies_its_inclination_over_ble(radio: VirtualRadio) -> None:
    stream = TREADMILL.streams["treadmill"]
    payloads = treadmill_payloads(stream, COURSE)
    device = VirtualDevice(radio, TREADMILL, payloads, name="Treadmill sim", speed=40.0)
    got: asyncio.Queue[bytes] = asyncio.Queue()

    def on_data(_c: BleakGATTCharacteristic, data: bytearray) -> None:
        got.put_nowait(bytes(data))

    async with device:
        found = await BleakScanner.find_device_by_filter(
            lambda _d, adv: FTMS_SERVICE_UUID in adv.service_uuids,
            timeout=2.0,
            backend=radio.scanner_backend,
        )
        assert found is not None and TREADMILL.matches(found.name, [FTMS_SERVICE_UUID])
        async with BleakClient(found, backend=radio.client_backend, timeout=2.0) as client:  # type: ignore[arg-type]
            await client.start_notify(TREADMILL_DATA_UUID, on_data)
            async with asyncio.timeout(10.0):
                first = [await got.get() for _ in range(50)]
    dec = FtmsDecoder()
    for k, raw in enumerate(first):
        dec.decode(Packet(float(k), "treadmill", raw))
    grades = [r.grade_pct for r in dec.take_readings()]
    # the course's grades exactly, switching at 30 s (one notification a second)
    assert set(grades) <= {0.0, -6.5} and -6.5 in grades and grades[0] == 0.0


# ------------------------------------------------------------------ the grade in the session
def beside(imu: object, treadmill: object) -> object:
    """One profile holding both devices' streams (what a two-device live session decodes)."""
    assert not set(IMU.streams) & set(TREADMILL.streams)
    return dataclasses.replace(IMU, streams={**IMU.streams, **TREADMILL.streams})


def test_treadmill_inclination_is_the_grade_of_every_step() -> None:
    both = beside(IMU, TREADMILL)
    assert grade_notice(both, "shank", load_cue_profile()) is None  # a treadmill: grade known
    assert grade_notice(IMU, "shank", load_cue_profile()) is not None
    src = simulated_payloads(IMU, COURSE, placement="shank", seed=3)
    mill = treadmill_payloads(TREADMILL.streams["treadmill"], COURSE)
    timeline = sorted([*src.payloads, *mill], key=lambda p: (p.t_s, p.stream))
    session = Session(both, load_cue_profile(), placement="shank")  # type: ignore[arg-type]
    for p in timeline:
        session.process(Packet(p.t_s, p.stream, p.payload))
    steps = session.steps
    assert len(steps) > 100
    t = np.array([s.t_s for s in steps])
    g = np.array([s.grade_pct for s in steps])
    d = np.array([s.on_descent for s in steps])
    truth = np.where((t >= 30.0) & (t < 60.0), -6.5, 0.0)
    # exact, except the step taken while the next treadmill value was on its way (<= 1 s)
    near_change = (np.abs(t - 30.0) < 1.1) | (np.abs(t - 60.0) < 1.1)
    assert np.all(g[~near_change] == truth[~near_change])
    assert session.tracker.grade_source_ == "treadmill"
    # descent within 3 s of the incline change (hold 0.5 s), out within 3 s
    assert d[(t > 33.0) & (t < 60.0)].all() and not d[t < 30.0].any()
    assert not d[t > 63.0].any()


def test_a_stale_treadmill_value_expires() -> None:
    both = beside(IMU, TREADMILL)
    src = simulated_payloads(IMU, COURSE[:1], placement="pelvis", seed=1)
    one = [TimedPayload(0.5, "treadmill", bytes(TreadmillData(10.8, 0, -8.0)))]
    session = Session(both, load_cue_profile(), placement="pelvis")  # type: ignore[arg-type]
    for p in sorted([*src.payloads, *one], key=lambda p: p.t_s):
        session.process(Packet(p.t_s, p.stream, p.payload))
    g = {round(s.t_s): s.grade_pct for s in session.steps}
    assert g[3] == -8.0  # within 5 s of the last value
    assert math.isnan(g[20])  # then unknown again (a pelvis has no other source)
