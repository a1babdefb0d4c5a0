"""Virtual sensors per firmware profile, on a :class:`~downhill_live.sim.bumble_backend.VirtualRadio`.

They back ``downhill-live live --simulate [RECORDING]`` (live mode with no sensor) and the
end-to-end tests. A :class:`VirtualDevice` wraps a
:class:`~downhill_live.sim.virtual_sensor.VirtualSensor` and speaks the protocol its firmware
profile describes:

* ``layout`` profiles (``dhl-imu``, ``thingy52``, home-made firmware): the ``start`` writes start
  streaming, the ``stop`` writes stop it; a profile without start writes streams as soon as the
  central subscribes;
* ``polar_pmd_acc`` profiles (Polar H10, Verity Sense): a PMD service with its control point
  (write + indicate) and data characteristic; it answers the SDK-mode and ACC start requests
  with proper control point responses (the ACC start response carries the ``factor``), checks
  the requested settings, refuses with ``ERROR_INVALID_MTU`` when its frames do not fit the
  link, and streams ACC frames (H10: raw type 1 in mG; Verity Sense: delta-compressed type 0
  scaled by ``factor``) encoded per the SDK layout by
  :func:`~downhill_live.decode.polar_pmd.encode_pmd_acc_raw` and
  :func:`~downhill_live.decode.polar_pmd.encode_pmd_acc_delta` (re-exported here);
* ``sig_rsc`` profiles: an RSC service (0x1814) that notifies RSC Measurements once subscribed;
* ``ftms`` profiles (BLE treadmills): a Fitness Machine service (0x1826) that notifies Treadmill
  Data (belt speed, distance, inclination) once a second once subscribed;
* ``thingy_pressure`` streams (the Thingy:52's barometer): a Thingy Environment service that
  notifies the simulated pressure every 100 ms once subscribed.

What is streamed is a timeline of :class:`TimedPayload` (sensor-side send time, stream,
payload bytes): from a recording (:func:`payloads_from_recording`, the recorded receive times)
or from the gait simulator (:func:`simulated_payloads`). The timeline is anchored at the first
start and plays at ``speed`` times real time; like a real sensor that keeps sampling, payloads
due while the link is down are lost, and streaming resumes at the current position after the
central reconnects and starts it again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from downhill_live.config.firmware import FirmwareProfile, Stream, parse_firmware_profile
from downhill_live.decode import stream_rate_hz
from downhill_live.decode.ftms import FTMS_SERVICE_UUID, TreadmillData
from downhill_live.decode.layout import encode_layout_packet
from downhill_live.decode.polar_pmd import (
    H10_ACC,
    PMD_SERVICE_UUID,
    VERITY_SENSE_SDK_MODE_ACC,
    AccCapabilities,
    PmdControlResponse,
    PmdErrorCode,
    PmdMeasurementType,
    PmdOpCode,
    PmdSettingType,
    encode_pmd_acc_delta,
    encode_pmd_acc_raw,
    encode_settings,
    parse_settings,
)
from downhill_live.decode.rsc import RSC_FEATURE_UUID, RSC_SERVICE_UUID, RscMeasurement
from downhill_live.decode.thingy import THINGY_ENV_SERVICE_UUID, ThingyPressure
from downhill_live.errors import DecodeError, RecordingError
from downhill_live.record import read_recording
from downhill_live.session import apply_settings
from downhill_live.sim.bumble_backend import VirtualRadio
from downhill_live.sim.gait import Segment, SimResult, simulate
from downhill_live.sim.virtual_sensor import CharacteristicSpec, ServiceSpec, VirtualSensor

logger = logging.getLogger(__name__)

__all__ = [
    "PMD_T0_NS",
    "SimulatedSource",
    "TimedPayload",
    "VirtualDevice",
    "beside_from_recording",
    "default_device_name",
    "encode_pmd_acc_delta",
    "encode_pmd_acc_raw",
    "payloads_from_recording",
    "pressure_payloads",
    "simulated_payloads",
    "treadmill_payloads",
]

#: PMD time (ns since 2000-01-01) of the first simulated sample: 2026-11-25T08:00:00Z
PMD_T0_NS = 848_995_200 * 1_000_000_000
#: largest notification payload at the default MTU of the bumble backend (247 - 3)
MAX_PAYLOAD = 244
_VENDOR_SERVICE = "d0d00000-0000-4a11-9f00-000000000000"
#: Fitness Machine Feature (0x2ACC): treadmill features "total distance" and "inclination"
FTMS_FEATURE_UUID = "00002acc-0000-1000-8000-00805f9b34fb"
_FTMS_FEATURES = (0x0004 | 0x0008).to_bytes(4, "little") + bytes(4)


@dataclass(frozen=True, slots=True)
class TimedPayload:
    """One notification to send: ``t_s`` seconds after streaming starts, on ``stream``."""

    t_s: float
    stream: str
    payload: bytes


@dataclass(frozen=True)
class SimulatedSource:
    """A simulated timeline and its ground truth.

    Attributes
    ----------
    payloads : list of TimedPayload
    sim : SimResult
        The gait simulation the payloads encode (true strikes, cadence, grade).
    settings : dict
        Stream settings the device will report (``factor`` for PMD).
    """

    payloads: list[TimedPayload]
    sim: SimResult
    settings: dict[str, Any]


# ---------------------------------------------------------------------------------------------
# timelines


def payloads_from_recording(
    path: str | Path,
) -> tuple[FirmwareProfile, list[TimedPayload], dict[str, Any], dict[str, Any]]:
    """The firmware snapshot, packets (at their receive times), settings and header of a
    recording, to stream it again from a virtual device."""
    rec = read_recording(path)
    fw = rec.header.get("firmware")
    if not isinstance(fw, dict) or not isinstance(fw.get("yaml"), str):
        raise RecordingError(
            str(path), "header has no firmware profile snapshot (key firmware.yaml)"
        )
    firmware = parse_firmware_profile(fw["yaml"], f"{path}#firmware")
    settings = rec.header.get("settings") or {}
    t0 = rec.packets[0].t_rx_s if rec.packets else 0.0
    payloads = [TimedPayload(p.t_rx_s - t0, p.stream, p.payload) for p in rec.packets]
    return firmware, payloads, dict(settings), rec.header


def beside_from_recording(
    path: str | Path, header: dict[str, Any], payloads: Sequence[TimedPayload]
) -> list[tuple[FirmwareProfile, list[TimedPayload], dict[str, Any], str | None]]:
    """The devices a multi-device recording holds beside its strike device (header
    ``beside``): each one's profile snapshot, its recorded packets (from ``payloads``, the whole
    recording's), its settings and its advertised name."""
    out = []
    for i, doc in enumerate(header.get("beside") or []):
        fw = doc.get("firmware") if isinstance(doc, dict) else None
        if not isinstance(fw, dict) or not isinstance(fw.get("yaml"), str):
            raise RecordingError(str(path), f"header key 'beside[{i}].firmware.yaml' is missing")
        profile = parse_firmware_profile(fw["yaml"], f"{path}#beside[{i}].firmware")
        streams = set(doc.get("streams") or ())
        name = (doc.get("device") or {}).get("name")
        mine = [p for p in payloads if p.stream in streams]
        out.append((profile, mine, dict(doc.get("settings") or {}), name))
    return out


def _pmd_model(stream: Stream) -> tuple[AccCapabilities, bool]:
    """Capabilities and whether frames are delta-compressed, from the stream params."""
    if stream.params.get("sdk_mode"):
        return VERITY_SENSE_SDK_MODE_ACC, True
    return H10_ACC, False


def _layout_packets(
    stream: Stream, sim: SimResult, *, samples_per_packet: int | None, conn_interval_s: float
) -> list[TimedPayload]:
    lay = stream.layout
    assert lay is not None
    if samples_per_packet is None:
        samples_per_packet = lay.samples_per_packet or max(
            1, (MAX_PAYLOAD - lay.header_size) // lay.sample_size
        )
        samples_per_packet = min(samples_per_packet, max(1, round(0.04 * sim.rate_hz)))
    counts = np.clip(np.round(sim.acc_g / lay.scale_g), -32768, 32767).astype(np.int64)
    out = []
    for k in range(len(sim.t_s) // samples_per_packet):
        sl = slice(k * samples_per_packet, (k + 1) * samples_per_packet)
        header: dict[str, int] = {}
        if lay.counter_field is not None:
            step = 1 if lay.counter_per == "packet" else samples_per_packet
            header[lay.counter_field] = (k * step) % lay.counter_modulo
        if lay.timestamp_field is not None:
            t_first = sim.t_s[sl][0] if lay.timestamp_sample == "first" else sim.t_s[sl][-1]
            header[lay.timestamp_field] = round(t_first / lay.timestamp_scale_s)
        if lay.pressure_field is not None:
            header[lay.pressure_field] = round(sim.pressure_pa[sl][0] / lay.pressure_scale_pa)
        payload = encode_layout_packet(lay, header, counts[sl])
        t_send = math.ceil((sim.t_s[sl][-1] + 0.002) / conn_interval_s) * conn_interval_s
        out.append(TimedPayload(float(t_send), stream.name, payload))
    return out


def _pmd_packets(
    stream: Stream, sim: SimResult, *, samples_per_packet: int | None, factor: float
) -> list[TimedPayload]:
    _caps, delta = _pmd_model(stream)
    n = samples_per_packet or 36
    out = []
    for k in range(len(sim.t_s) // n):
        sl = slice(k * n, (k + 1) * n)
        ts_ns = PMD_T0_NS + round(float(sim.t_s[sl][-1]) * 1e9)
        if delta:
            counts = np.clip(np.round(sim.acc_g[sl] / factor), -32768, 32767).astype(np.int64)
            payload = encode_pmd_acc_delta(ts_ns, counts)
        else:
            mg = np.clip(np.round(sim.acc_g[sl] * 1000.0), -32768, 32767).astype(np.int64)
            payload = encode_pmd_acc_raw(ts_ns, mg)
        out.append(TimedPayload(float(sim.t_s[sl][-1]) + 0.005, stream.name, payload))
    return out


def _rsc_packets(stream: Stream, sim: SimResult, course: Sequence[Segment]) -> list[TimedPayload]:
    one_foot = bool(stream.params.get("cadence_one_foot"))
    ends = np.cumsum([s.duration_s for s in course])
    out = []
    distance_m = 0.0
    strikes = sim.strike_t_s
    t = 1.0
    while t <= sim.t_s[-1]:
        seg = course[min(int(np.searchsorted(ends, t)), len(course) - 1)]
        recent = strikes[(strikes > t - 3.0) & (strikes <= t)]
        cadence = 60.0 / float(np.median(np.diff(recent))) if len(recent) >= 3 else 0.0
        speed = (
            seg.speed_mps
            if seg.speed_mps is not None
            else (3.0 if seg.activity == "run" else 1.4 if seg.activity == "walk" else 0.0)
        )
        distance_m += speed * 1.0
        m = RscMeasurement.nearest(
            speed_mps=speed,
            cadence_spm=cadence,
            stride_m=2 * speed * 60.0 / cadence if cadence > 0 else 0.0,
            distance_m=distance_m,
            running=seg.activity == "run",
            cadence_one_foot=one_foot,
        )
        out.append(TimedPayload(t, stream.name, bytes(m)))
        t += 1.0
    return out


def treadmill_payloads(
    stream: Stream, course: Sequence[Segment], *, every_s: float = 1.0
) -> list[TimedPayload]:
    """What a treadmill running ``course`` sends: belt speed, distance and the segment's grade
    as its inclination, every ``every_s`` (the grade switches at the segment boundaries, as a
    treadmill changes its incline)."""
    out = []
    t = 0.0
    distance_m = 0.0
    ends = np.cumsum([seg.duration_s for seg in course])
    while t <= ends[-1]:
        seg = course[min(int(np.searchsorted(ends, t, side="right")), len(course) - 1)]
        speed = (
            seg.speed_mps
            if seg.speed_mps is not None
            else (3.0 if seg.activity == "run" else 1.4 if seg.activity == "walk" else 0.0)
        )
        m = TreadmillData(
            speed_kmh=round(speed * 3.6, 2),
            distance_m=round(distance_m),
            inclination_pct=round(seg.grade_pct, 1),
            ramp_angle_deg=round(math.degrees(math.atan(seg.grade_pct / 100.0)), 1),
            elapsed_s=round(t),
        )
        out.append(TimedPayload(t, stream.name, bytes(m)))
        distance_m += speed * every_s
        t += every_s
    return out


def pressure_payloads(
    stream: Stream, sim: SimResult, *, every_s: float = 0.1
) -> list[TimedPayload]:
    """What a Thingy:52 barometer sends during ``sim``: its pressure every ``every_s``
    (the interval the ``thingy52`` profile configures), to 0.01 hPa as the Thingy sends it."""
    out = []
    for t in np.arange(every_s, float(sim.t_s[-1]), every_s):
        i = min(int(np.searchsorted(sim.t_s, t)), len(sim.t_s) - 1)
        payload = bytes(ThingyPressure(float(sim.pressure_pa[i]) / 100.0))
        out.append(TimedPayload(round(float(t), 6), stream.name, payload))
    return out


def simulated_payloads(
    firmware: FirmwareProfile,
    course: Sequence[Segment],
    *,
    placement: str | None = None,
    seed: int = 0,
    samples_per_packet: int | None = None,
) -> SimulatedSource:
    """Simulate a run over ``course`` and encode it as the sensor of ``firmware`` sends it.

    Layout streams: packets of the layout (counter, timestamp and pressure fields filled),
    sent at 30 ms connection events. PMD: ACC frames of 36 samples (raw type 1 for an H10-like
    profile, delta type 0 with ``factor = range_g / 32768`` for an SDK-mode profile). RSC: one
    measurement a second with the cadence of the last 3 s of true strikes.

    Parameters
    ----------
    firmware : FirmwareProfile
    course : sequence of Segment
    placement : str, optional
        Simulated placement (default: the profile's).
    seed : int
        Simulator seed.
    samples_per_packet : int, optional
        Samples per notification (layout and PMD).

    Returns
    -------
    SimulatedSource
    """
    placement = placement or firmware.placement
    rate_hz = 100.0
    for stream in firmware.streams.values():
        rate_hz = stream_rate_hz(stream) or rate_hz
    range_g = 16.0
    for stream in firmware.streams.values():
        if stream.decoder == "polar_pmd_acc":
            range_g = float(stream.params["range_g"])
    sim = simulate(course, placement, rate_hz=rate_hz, seed=seed, range_g=range_g)
    settings: dict[str, Any] = {}
    payloads: list[TimedPayload] = []
    for stream in firmware.streams.values():
        if stream.layout is not None:
            payloads += _layout_packets(
                stream, sim, samples_per_packet=samples_per_packet, conn_interval_s=0.03
            )
        elif stream.decoder == "polar_pmd_acc":
            _caps, delta = _pmd_model(stream)
            factor = float(np.float32(range_g / 32768.0)) if delta else 1.0
            settings["factor"] = factor
            payloads += _pmd_packets(
                stream, sim, samples_per_packet=samples_per_packet, factor=factor
            )
        elif stream.decoder == "sig_rsc":
            payloads += _rsc_packets(stream, sim, course)
        elif stream.decoder == "ftms":
            payloads += treadmill_payloads(stream, course)
        elif stream.decoder == "thingy_pressure":
            payloads += pressure_payloads(stream, sim)
    payloads.sort(key=lambda p: p.t_s)
    return SimulatedSource(payloads, sim, settings)


def default_device_name(firmware: FirmwareProfile) -> str:
    """An advertised name the profile's ``name_pattern`` matches (best effort)."""
    known = {
        "polar-h10": "Polar H10 0A1B2C3D",
        "polar-verity-sense": "Polar Sense 0A1B2C3D",
        "thingy52": "Thingy",
        "dhl-imu": "DHL-IMU sim",
    }
    if firmware.name in known:
        return known[firmware.name]
    pattern = firmware.name_pattern
    if pattern:
        literal = re.sub(r"\\(.)", r"\1", pattern.lstrip("^").split("(")[0])
        literal = re.sub(r"[\[\]().*+?{}|$^]", "", literal).strip()
        if literal and re.search(pattern, literal):
            return literal
    return f"{firmware.name} sim"


# ---------------------------------------------------------------------------------------------
# the device


class VirtualDevice:
    """A virtual sensor that speaks the protocol of a firmware profile (see module notes).

    The constructor only stores parameters; :meth:`start` (or ``async with``) starts the
    peripheral on the radio.

    Parameters
    ----------
    radio : VirtualRadio
    firmware : FirmwareProfile
    payloads : sequence of TimedPayload
        The timeline to stream (sorted by time).
    name : str, optional
        Advertised name (default :func:`default_device_name`).
    address : str
        Random static address.
    speed : float
        Timeline playback speed (1 = real time).
    settings : dict, optional
        ``factor`` a PMD device answers in its start response (default 1.0).
    anchor : VirtualDevice, optional
        Another device of the same run (the sensor a treadmill stands beside): the anchor
        sends this device's payloads due by each of its own, in timeline order (lost while
        this device's link is not up and started), so both stay on one clock however fast, or
        late under load, the anchor plays.
    sensor_kwargs
        Passed to :class:`VirtualSensor` (``rssi_dbm``, ``max_mtu``, ``oversize``...).

    Attributes
    ----------
    sensor : VirtualSensor
        The peripheral (``drop_link()``, ``set_unresponsive()``, ``writes``...).
    sent : list of TimedPayload
        Payloads actually sent to the central, in order.
    finished : asyncio.Event
        Set once the whole timeline has been played (sent or lost).
    starts : int
        Start commands accepted.
    """

    def __init__(
        self,
        radio: VirtualRadio,
        firmware: FirmwareProfile,
        payloads: Sequence[TimedPayload],
        *,
        name: str | None = None,
        address: str = "F0:00:00:00:0D:01",
        speed: float = 1.0,
        settings: dict[str, Any] | None = None,
        anchor: VirtualDevice | None = None,
        **sensor_kwargs: Any,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.radio = radio
        self.firmware = apply_settings(firmware, settings or {})
        self.payloads = sorted(payloads, key=lambda p: p.t_s)
        self.name = name or default_device_name(firmware)
        self.address = address
        self.speed = speed
        self.factor = float((settings or {}).get("factor", 1.0))
        self.sent: list[TimedPayload] = []
        self.finished = asyncio.Event()
        self.starts = 0
        self._uuid_of = {s.name: s.characteristic for s in firmware.streams.values()}
        self._pmd = [s for s in firmware.streams.values() if s.decoder == "polar_pmd_acc"]
        self._sdk_mode = False
        self._started_conn: int | None = None
        self._t_anchor: float | None = None
        self._anchor = anchor
        self._followers: list[VirtualDevice] = []
        if anchor is not None:
            anchor._followers.append(self)
        self._resume_t_s = 0.0
        self._index = 0
        self._streamer: asyncio.Task[None] | None = None
        self.sensor = VirtualSensor(radio, self.name, address, self._services(), **sensor_kwargs)

    # -- GATT ---------------------------------------------------------------------------------

    def _services(self) -> list[ServiceSpec]:
        fw = self.firmware
        services: list[ServiceSpec] = []
        if self._pmd:
            cp = self._pmd[0].params["control_point"]
            chars = [CharacteristicSpec(cp, ("write", "indicate"), on_write=self._on_pmd_control)]
            chars += [CharacteristicSpec(s.characteristic, ("notify",)) for s in self._pmd]
            services.append(ServiceSpec(PMD_SERVICE_UUID, tuple(chars)))
        rsc = [s for s in fw.streams.values() if s.decoder == "sig_rsc"]
        if rsc:
            chars = [CharacteristicSpec(s.characteristic, ("notify",)) for s in rsc]
            chars.append(CharacteristicSpec(RSC_FEATURE_UUID, ("read",), b"\x03\x00"))
            services.append(ServiceSpec(RSC_SERVICE_UUID, tuple(chars)))
        ftms = [s for s in fw.streams.values() if s.decoder == "ftms"]
        if ftms:
            chars = [CharacteristicSpec(s.characteristic, ("notify",)) for s in ftms]
            chars.append(CharacteristicSpec(FTMS_FEATURE_UUID, ("read",), _FTMS_FEATURES))
            services.append(ServiceSpec(FTMS_SERVICE_UUID, tuple(chars)))
        env = [s for s in fw.streams.values() if s.decoder == "thingy_pressure"]
        if env:
            chars = [CharacteristicSpec(s.characteristic, ("notify",)) for s in env]
            services.append(ServiceSpec(THINGY_ENV_SERVICE_UUID, tuple(chars)))
        layout = [s for s in fw.streams.values() if s.decoder == "layout"]
        if layout:
            chars = [CharacteristicSpec(s.characteristic, ("notify",)) for s in layout]
            control = {w.characteristic for w in (*fw.start, *fw.stop)}
            control -= {s.characteristic for s in layout}
            chars += [
                CharacteristicSpec(
                    c, ("read", "write", "write-without-response"), on_write=self._on_write(c)
                )
                for c in sorted(control)
            ]
            uuid = fw.service_uuids[0] if fw.service_uuids else _VENDOR_SERVICE
            services.append(ServiceSpec(uuid, tuple(chars)))
        return services

    def stop_streaming(self) -> None:
        """The sensor stops sending while the link stays up (its firmware hung, or it went to
        sleep), as if it had been sent its stop command; a start command starts it again."""
        self._started_conn = None

    def _on_write(self, uuid: str) -> Any:
        starts = {w.data for w in self.firmware.start if w.characteristic == uuid}
        stops = {w.data for w in self.firmware.stop if w.characteristic == uuid}

        def handler(sensor: VirtualSensor, data: bytes) -> None:
            if data in starts:
                self._start()
            elif data in stops:
                self._started_conn = None

        return handler

    async def _on_pmd_control(self, sensor: VirtualSensor, data: bytes) -> None:
        cp = self._pmd[0].params["control_point"]
        if len(data) < 2:
            await sensor.notify(cp, bytes((0xF0, data[0] if data else 0, 0, 1, 0)))
            return
        op, kind = data[0], data[1] & 0x3F
        if op not in set(PmdOpCode):
            await sensor.notify(cp, bytes((0xF0, op, kind, PmdErrorCode.ERROR_INVALID_OP_CODE, 0)))
            return

        def answer(error: int, params: bytes = b"") -> bytes:
            return bytes(PmdControlResponse(PmdOpCode(op), kind, error, False, params))

        if op == PmdOpCode.REQUEST_MEASUREMENT_START and kind == PmdMeasurementType.SDK_MODE:
            already = self._sdk_mode
            self._sdk_mode = True
            error = PmdErrorCode.ERROR_ALREADY_IN_STATE if already else PmdErrorCode.SUCCESS
            await sensor.notify(cp, answer(error))
        elif op == PmdOpCode.REQUEST_MEASUREMENT_START and kind == PmdMeasurementType.ACC:
            await sensor.notify(cp, self._acc_start(data[2:]))
        elif op == PmdOpCode.STOP_MEASUREMENT:
            if kind == PmdMeasurementType.SDK_MODE:
                self._sdk_mode = False
            else:
                self._started_conn = None
            await sensor.notify(cp, answer(PmdErrorCode.SUCCESS))
        elif op in (
            PmdOpCode.GET_MEASUREMENT_SETTINGS,
            PmdOpCode.GET_SDK_MODE_MEASUREMENT_SETTINGS,
        ):
            caps, _ = _pmd_model(self._pmd[0])
            params = encode_settings({PmdSettingType.SAMPLE_RATE: caps.sample_rates_hz[-1]})
            await sensor.notify(cp, answer(PmdErrorCode.SUCCESS, params))
        else:
            await sensor.notify(cp, answer(PmdErrorCode.ERROR_NOT_SUPPORTED))

    def _acc_start(self, raw_settings: bytes) -> bytes:
        """The answer to an ACC start request (starts streaming when it succeeds)."""
        stream = self._pmd[0]
        caps, delta = _pmd_model(stream)

        def answer(error: int, params: bytes = b"") -> bytes:
            resp = PmdControlResponse(
                PmdOpCode.REQUEST_MEASUREMENT_START, PmdMeasurementType.ACC, error, False, params
            )
            return bytes(resp)

        try:
            req = parse_settings(raw_settings)
        except DecodeError:
            return answer(PmdErrorCode.ERROR_INVALID_PARAMETER)
        need = (PmdSettingType.SAMPLE_RATE, PmdSettingType.RESOLUTION, PmdSettingType.RANGE)
        if any(k not in req for k in need):
            return answer(PmdErrorCode.ERROR_INVALID_LENGTH)
        if self._started_conn == self.sensor.connection_count:
            return answer(PmdErrorCode.ERROR_ALREADY_IN_STATE)
        rate = int(req[PmdSettingType.SAMPLE_RATE][0])
        sdk_only = delta and not self._sdk_mode
        if rate not in caps.sample_rates_hz or rate != stream.params["sample_rate_hz"] or sdk_only:
            return answer(PmdErrorCode.ERROR_INVALID_SAMPLE_RATE)
        if int(req[PmdSettingType.RANGE][0]) not in caps.ranges_g:
            return answer(PmdErrorCode.ERROR_INVALID_RANGE)
        if int(req[PmdSettingType.RESOLUTION][0]) != caps.resolution_bits:
            return answer(PmdErrorCode.ERROR_INVALID_RESOLUTION)
        longest = max((len(p.payload) for p in self.payloads), default=0)
        if longest > self.sensor.mtu - 3:
            return answer(PmdErrorCode.ERROR_INVALID_MTU)
        factor = float(np.float32(self.factor))
        self._start()
        return answer(PmdErrorCode.SUCCESS, encode_settings({PmdSettingType.FACTOR: factor}))

    # -- streaming ----------------------------------------------------------------------------

    def _start(self) -> None:
        if self._started_conn == self.sensor.connection_count:
            return  # a second start write on the same link (Thingy: motion, environment)
        self.starts += 1
        self._started_conn = self.sensor.connection_count
        now = asyncio.get_running_loop().time()
        if self._t_anchor is None:
            self._t_anchor = now
        # payloads due before this (re)start were "sent" while nobody listened: lost
        self._resume_t_s = (now - self._t_anchor) * self.speed

    def _streaming_allowed(self) -> bool:
        s = self.sensor
        if not s.is_connected:
            return False
        subscribed = any(s.is_subscribed(u) for u in self._uuid_of.values())
        if self._started_conn is None and not self._needs_start() and subscribed:
            self._start()
        return self._started_conn == s.connection_count and any(
            s.is_subscribed(u) for u in self._uuid_of.values()
        )

    def _needs_start(self) -> bool:
        return bool(self._pmd) or bool(self.firmware.start)

    async def _send_due(self, t_s: float) -> None:
        """A device following an anchor: send every payload due by the anchor's time ``t_s``
        (lost when its link is not up and started, as a real sensor's would be)."""
        sensor = self.sensor
        if not sensor.is_connected or self._started_conn != sensor.connection_count:
            self._started_conn = None  # the link went down: a new one needs a new start
        while self._index < len(self.payloads) and self.payloads[self._index].t_s <= t_s:
            item = self.payloads[self._index]
            self._index += 1
            if self._streaming_allowed() and await self.sensor.notify(
                self._uuid_of[item.stream], item.payload
            ):
                self.sent.append(item)

    async def _stream(self) -> None:
        if self._anchor is not None:  # the anchor sends this timeline with its own
            await self._anchor.finished.wait()
            await self._send_due(math.inf)  # what lies after the anchor's last payload
            self.finished.set()
            return
        loop = asyncio.get_running_loop()
        sensor = self.sensor
        while self._index < len(self.payloads):
            while not self._streaming_allowed():
                await asyncio.sleep(0.01)
            assert self._t_anchor is not None
            conn = sensor.connection_count
            # payloads due while the link was down were "sent into the void"
            while (
                self._index < len(self.payloads)
                and self.payloads[self._index].t_s < self._resume_t_s
            ):
                self._index += 1
            while self._index < len(self.payloads):
                item = self.payloads[self._index]
                delay = self._t_anchor + item.t_s / self.speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if not (sensor.is_connected and sensor.connection_count == conn):
                    self._started_conn = None
                    break
                if self._started_conn != conn:
                    break
                self._index += 1
                for follower in self._followers:  # one run: their payloads due by now first
                    await follower._send_due(item.t_s)
                if await sensor.notify(self._uuid_of[item.stream], item.payload):
                    self.sent.append(item)
        self.finished.set()

    # -- lifetime -----------------------------------------------------------------------------

    async def start(self) -> VirtualDevice:
        """Start advertising and the streaming task."""
        await self.sensor.start()
        self._streamer = asyncio.create_task(self._stream(), name=f"{self.name} timeline")
        return self

    async def stop(self) -> None:
        """Stop streaming and detach the sensor from the radio."""
        if self._streamer is not None:
            self._streamer.cancel()
            await asyncio.gather(self._streamer, return_exceptions=True)
            self._streamer = None
        await self.sensor.stop()

    async def __aenter__(self) -> VirtualDevice:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
