"""A BLE sensor as a source: scan, connect, start the sensor, and run the session live.

The data path follows bleak's ``async_callback_with_queue`` pattern: the notification callback
only stamps ``time.monotonic() - t0`` and enqueues a :class:`~downhill_live.types.Packet`
(a copy of the bytes) on a :class:`~downhill_live.source.QueueSource`; one consumer
(:func:`~downhill_live.session.run_source`, the same one paced replay uses) hands each packet to
the session, whose recorder sink writes it raw *first*. The recording is flushed and synced
every second. The sensor's start/stop handshake is its decoder's (:mod:`downhill_live.decode`).

Resilience: on a link drop the recording stays open, "sensor lost" is said once, the runner
reconnects with backoff, subscribes and runs the start sequence again, and says "sensor back".
Counter gaps are counted by the decoders, malformed packets by the session (logged once per
kind); both are still in the recording raw.

Everything BLE goes through bleak's public API with an optional ``backend=`` (bleak's OS backend
by default; :class:`~downhill_live.sim.bumble_backend.VirtualRadio` gives in-process virtual
sensors, see :mod:`downhill_live.sim.virtual_devices`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from downhill_live.config.cue_profile import CueProfile
from downhill_live.config.firmware import FirmwareProfile, Stream, bundled_profiles
from downhill_live.decode import DECODERS
from downhill_live.errors import DownhillError, HandshakeError, RecordingError
from downhill_live.session import Session, apply_settings, fmt_value, run_source
from downhill_live.sinks import RecorderSink, Sink, overrides
from downhill_live.source import QueueSource, SourceItem
from downhill_live.types import Packet, Step

log = logging.getLogger(__name__)

__all__ = [
    "BluetoothUnavailableError",
    "DeviceNotFoundError",
    "FoundDevice",
    "LiveError",
    "LiveResult",
    "LiveRunner",
    "StartError",
    "scan",
]

#: seconds between recording flushes (the format promises at most 2 s of loss on a crash)
FLUSH_INTERVAL_S = 1.0
#: reconnection delays, s: first attempt after the first value, then the next ones, then the last
RECONNECT_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
#: the data watchdog's default: a link up but silent this long (s) counts as lost
DATA_TIMEOUT_S = 3.0
#: an ATT MTU below this is reported: most sensors send longer notifications
SMALL_MTU = 100


class LiveError(DownhillError):
    """Live mode cannot go on (no Bluetooth, no device, the sensor refused to start)."""


class BluetoothUnavailableError(LiveError):
    """The operating system's Bluetooth stack cannot be used."""


class DeviceNotFoundError(LiveError):
    """No advertising device matched within the scan time."""


class StartError(LiveError):
    """The sensor did not answer, or refused, its start sequence."""


class FoundDevice(NamedTuple):
    """One advertising device seen by :func:`scan`."""

    name: str | None
    address: str
    rssi_dbm: int | None
    profile: str | None  # name of the first matching bundled firmware profile


def _bluetooth_error(exc: BaseException) -> BluetoothUnavailableError:
    detail = str(exc) or type(exc).__name__
    return BluetoothUnavailableError(
        f"Bluetooth is not available ({type(exc).__name__}: {detail}); is there an adapter and "
        "is the BlueZ service running? Try 'live --simulate' for a virtual sensor"
    )


def _scanner_kw(backend: type[Any] | None) -> BleakScanner.ExtraArgs:
    """``backend=`` for bleak's scanner class methods, left out for the OS backend.

    ``BleakScanner(backend=None)`` means the OS backend, but the class methods type ``backend``
    in their ``**kwargs`` as non-optional: leaving it out is the same at run time.
    """
    return {} if backend is None else {"backend": backend}


def _match(profiles: list[FirmwareProfile], name: str | None, uuids: list[str]) -> str | None:
    for prof in profiles:
        if prof.matches(name, uuids):
            return prof.name
    return None


async def scan(
    timeout_s: float = 5.0,
    backend: type[Any] | None = None,
    profiles: list[FirmwareProfile] | None = None,
) -> list[FoundDevice]:
    """Scan for BLE devices and say which firmware profile each matches.

    Parameters
    ----------
    timeout_s : float
        Scan time.
    backend : type, optional
        bleak scanner backend (``VirtualRadio.scanner_backend``); None: the OS backend.
    profiles : list of FirmwareProfile, optional
        Profiles to match against (default: the bundled ones).

    Returns
    -------
    list of FoundDevice
        Strongest signal first.

    Raises
    ------
    BluetoothUnavailableError
        The OS Bluetooth stack is missing or off.
    """
    profiles = bundled_profiles() if profiles is None else profiles
    try:
        found = await BleakScanner.discover(
            timeout=timeout_s, return_adv=True, **_scanner_kw(backend)
        )
    except (BleakError, OSError) as exc:
        raise _bluetooth_error(exc) from None
    out = [
        FoundDevice(
            adv.local_name or dev.name,
            dev.address,
            adv.rssi,
            _match(profiles, adv.local_name or dev.name, adv.service_uuids),
        )
        for dev, adv in found.values()
    ]
    out.sort(key=lambda d: -(d.rssi_dbm if d.rssi_dbm is not None else -999))
    return out


@dataclass
class LiveResult:
    """What a live session produced."""

    summary: dict[str, Any]
    recording: Path | None
    device_name: str | None
    device_address: str
    link_drops: int
    reconnects: int
    packets_received: int
    notices: list[str] = field(default_factory=list)


class _ClientLink:
    """A decoder handshake's :class:`~downhill_live.decode.Link` over one ``BleakClient``.

    Subscriptions are made once per characteristic; every value received on one goes to its
    callbacks, then to ``record`` (the recording keeps it as a ``control_response`` event).
    """

    def __init__(
        self,
        client: BleakClient,
        *,
        device: str,
        mtu: int | None,
        profile_path: str,
        record: Callable[[bytes], None],
    ) -> None:
        self.device = device
        self.mtu = mtu
        self.profile_path = profile_path
        self._client = client
        self._record = record
        self._callbacks: dict[str, list[Callable[[bytes], None]]] = {}

    async def write(self, char_uuid: str, data: bytes, *, response: bool = True) -> None:
        await self._client.write_gatt_char(char_uuid, data, response=response)

    async def subscribe(self, char_uuid: str, callback: Callable[[bytes], None]) -> None:
        if char_uuid in self._callbacks:
            self._callbacks[char_uuid].append(callback)
            return
        callbacks = self._callbacks[char_uuid] = [callback]

        def on_value(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            raw = bytes(data)
            for cb in callbacks:
                cb(raw)
            self._record(raw)

        await self._client.start_notify(char_uuid, on_value)


class LiveRunner:
    """One live session with one sensor.

    The constructor only stores parameters; :meth:`run` does the work and returns a
    :class:`LiveResult`. :meth:`request_stop` (e.g. from a SIGINT handler) ends it cleanly:
    stop command sent, link closed, queued packets processed, recording closed.

    Parameters
    ----------
    firmware : FirmwareProfile
        How to find, start and decode the sensor.
    cues : CueProfile
        Coaching rules.
    device : str, optional
        Advertised name or address; None: the first device the firmware profile matches.
    placement : str, optional
        Override of the profile's placement.
    record_path : path, optional
        Recording file to write (None: no recording; the CLI always records).
    sinks : sequence of Sink
        Where cues, link changes, notices and the status line go (e.g. the CLI's console and
        speaker sinks); the recorder sink is added for ``record_path``.
    status : bool, optional
        Refresh the status line of the sinks (default True).
    duration_s : float, optional
        Stop after this long.
    scanner_backend, client_backend : type, optional
        bleak backends (None: the OS backend).
    client_kwargs : dict, optional
        Extra keyword arguments for ``BleakClient`` (e.g. ``{"bumble": {"mtu": 23}}``).
    scan_timeout_s, connect_timeout_s : float
        Time to find the device, and to connect.
    reconnect_backoff_s : tuple of float
        Delays between reconnection attempts.
    extra_header : dict, optional
        Added to the recording header (e.g. ``{"simulated": True}``).
    data_timeout_s : float or None
        The data watchdog: a link that is up but brings no notification for this long (the
        sensor stopped, or ignored the start command) counts as lost: it is said, and the runner
        reconnects and sends the start sequence again until data flows; "sensor back" is said
        only then. None switches it off.
    cue_profile_yaml : str, optional
        The text of the cue profile ``cues`` came from, stored in the recording header so that
        replay, report and ``--verify`` use the profile that coached.
    settings : dict, optional
        Stream settings known beforehand (see :data:`downhill_live.session.SETTINGS`, e.g.
        ``rate_hz`` of a firmware configured to another rate); the start sequence adds
        ``factor`` for Polar PMD. They go to the recording header and the session.

    Attributes
    ----------
    session : Session or None
        The pipeline, created once the sensor has started.
    link_state : str
        ``"scanning"``, ``"connecting"``, ``"up"``, ``"lost"`` or ``"closed"``.
    packets_received : int
        Data notifications received (all recorded).
    """

    def __init__(
        self,
        firmware: FirmwareProfile,
        cues: CueProfile,
        *,
        device: str | None = None,
        placement: str | None = None,
        record_path: str | Path | None = None,
        sinks: Sequence[Sink] = (),
        status: bool = True,
        duration_s: float | None = None,
        scanner_backend: type[Any] | None = None,
        client_backend: type[Any] | None = None,
        client_kwargs: dict[str, Any] | None = None,
        scan_timeout_s: float = 10.0,
        connect_timeout_s: float = 10.0,
        reconnect_backoff_s: tuple[float, ...] = RECONNECT_BACKOFF_S,
        extra_header: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        cue_profile_yaml: str | None = None,
        data_timeout_s: float | None = DATA_TIMEOUT_S,
    ) -> None:
        self.firmware = firmware
        self.cues = cues
        self.device = device
        self.placement = placement
        self.record_path = Path(record_path) if record_path is not None else None
        self.sinks: tuple[Sink, ...] = tuple(sinks)
        self.status = status
        self.duration_s = duration_s
        self.scanner_backend = scanner_backend
        self.client_backend = client_backend
        self.client_kwargs = dict(client_kwargs or {})
        self.scan_timeout_s = scan_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.reconnect_backoff_s = reconnect_backoff_s
        self.extra_header = dict(extra_header or {})
        self.cue_profile_yaml = cue_profile_yaml
        self.data_timeout_s = data_timeout_s
        #: times the watchdog found the link up but silent
        self.data_timeouts = 0
        self._last_rx_mono = 0.0  # monotonic time of the last notification (or of link up)
        self._lost_reason: str | None = None
        self._awaiting_data: int | None = None  # reconnect attempts, until data flows again

        self.session: Session | None = None
        self.link_state = "idle"
        self.packets_received = 0
        self.link_drops = 0
        self.reconnects = 0
        self.settings: dict[str, Any] = dict(settings or {})
        apply_settings(firmware, self.settings)  # validate now, not after connecting
        self.notices: list[str] = []
        self.last_step: Step | None = None
        self.mtu: int | None = None
        self._recorder: RecorderSink | None = None
        self._client: BleakClient | None = None
        self._ble_device: BLEDevice | None = None
        self._queue: asyncio.Queue[SourceItem | None] | None = None
        self._stop: asyncio.Event | None = None
        self._link_lost: asyncio.Event | None = None
        self._t0 = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._pps = 0.0
        self._streaming = False
        self._truncation_noticed = False
        self._main_task: asyncio.Task[Any] | None = None

    # ----------------------------------------------------------------------------- public

    def request_stop(self) -> None:
        """Ask :meth:`run` to stop cleanly (safe to call from a signal handler in the loop).

        While still scanning, connecting or starting, the attempt is cancelled and :meth:`run`
        raises :class:`LiveError`; once streaming, the session ends normally."""
        if self._stop is not None:
            self._stop.set()
        if not self._streaming and self._main_task is not None:
            self._main_task.cancel()

    def now_s(self) -> float:
        """Receive-time clock: seconds since the session started."""
        return time.monotonic() - self._t0

    async def run(self) -> LiveResult:
        """Find, connect, start, then record and process until stopped or ``duration_s``."""
        self._t0 = time.monotonic()
        self._stop = asyncio.Event()
        self._link_lost = asyncio.Event()
        self._queue = asyncio.Queue()
        deadline = None if self.duration_s is None else self._t0 + self.duration_s
        self._main_task = asyncio.current_task()
        try:
            try:
                self._ble_device = await self._find()
                await self._connect_and_start(first=True)
            except asyncio.CancelledError:
                if not self._stop.is_set() or self._main_task is None:
                    raise
                self._main_task.uncancel()
                raise LiveError(
                    f"stopped while {self.link_state}, before the sensor started"
                ) from None
            self._streaming = True
            self._open_session()
            self._spawn(self._consume(), "consumer")
            self._spawn(self._flush_timer(), "flush")
            if self.data_timeout_s is not None:
                self._spawn(self._watchdog(), "watchdog")
            if self._status_enabled():
                self._spawn(self._status_timer(), "status")
            while not self._stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                await self._wait_stop_or_link_lost(deadline)
                if self._stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
                    break
                if self._link_lost.is_set():
                    await self._reconnect(deadline)
        finally:
            await self._shutdown()
        return self._result()

    def status_line(self) -> str:
        """The one-line live status, most important first so that a narrow terminal cuts the
        least useful end: elapsed time, cadence, last impact, grade and descent state, distance
        and pace (when a foot pod measures them), link, then data health (packets/s, samples
        lost in transit, bad packets).

        Examples
        --------
        >>> from downhill_live.config.cue_profile import load_cue_profile
        >>> from downhill_live.config.firmware import load_firmware_profile
        >>> r = LiveRunner(load_firmware_profile("dhl-imu"), load_cue_profile())
        >>> r.status_line()
        '00:00 | n/a spm | n/a g | grade n/a % - | link idle | 0 pkt/s, lost 0, bad 0'
        """
        st = self.last_step
        stats = self.session.stats if self.session is not None else None
        cad = fmt_value(st.cadence_spm) if st else "n/a"
        peak = fmt_value(st.peak_g) if st else "n/a"
        grade = fmt_value(st.grade_pct) if st else "n/a"
        state = ("descent" if st.on_descent else "flat") if st else "-"
        lost = stats.lost_samples if stats else 0
        bad = sum(stats.decode_errors.values()) if stats else 0
        elapsed_s = int(self.now_s()) if self._t0 else 0
        clock = f"{elapsed_s // 60:02d}:{elapsed_s % 60:02d}"
        odo = self.session.odometer if self.session is not None else None
        dist = f"{odo.status_text()} | " if odo is not None and odo.known else ""  # foot pods
        return (
            f"{clock} | {cad} spm | {peak} g | grade {grade} % {state} | {dist}"
            f"link {self.link_state} | {self._pps:.0f} pkt/s, lost {lost}, bad {bad}"
        )

    # ----------------------------------------------------------------------------- finding

    async def _find(self) -> BLEDevice:
        self.link_state = "scanning"
        want = self.device.lower() if self.device else None

        def accept(dev: BLEDevice, adv: AdvertisementData) -> bool:
            name = adv.local_name or dev.name
            if want is not None:
                return dev.address.lower() == want or (name or "").lower() == want
            return self.firmware.matches(name, adv.service_uuids)

        try:
            found = await BleakScanner.find_device_by_filter(
                accept, timeout=self.scan_timeout_s, **_scanner_kw(self.scanner_backend)
            )
        except (BleakError, OSError) as exc:
            raise _bluetooth_error(exc) from None
        if found is None:
            what = (
                f"device {self.device!r}"
                if self.device
                else f"device matching firmware profile {self.firmware.name}"
            )
            raise DeviceNotFoundError(
                f"no {what} found within {self.scan_timeout_s:g} s of scanning "
                "(is it switched on, charged and not connected to another app?)"
            )
        return found

    # ----------------------------------------------------------------------------- link

    async def _connect_and_start(self, *, first: bool) -> None:
        assert self._ble_device is not None
        self.link_state = "connecting"
        if not first:  # the OS may have forgotten the device: see it advertise again first
            again = await BleakScanner.find_device_by_address(
                self._ble_device.address,
                timeout=min(5.0, self.connect_timeout_s),
                **_scanner_kw(self.scanner_backend),
            )
            if again is None:
                raise LiveError(f"{self._describe()} is not advertising")
            self._ble_device = again
        client = BleakClient(
            self._ble_device,
            disconnected_callback=self._on_disconnect,
            timeout=self.connect_timeout_s,
            backend=self.client_backend,
            **self.client_kwargs,
        )
        try:
            await client.connect()
        except (BleakError, OSError) as exc:
            if self.client_backend is None and isinstance(exc, OSError):
                raise _bluetooth_error(exc) from None
            raise LiveError(
                f"cannot connect to {self._describe()}: {exc or type(exc).__name__}"
            ) from None
        except TimeoutError:
            raise LiveError(
                f"cannot connect to {self._describe()}: no answer within "
                f"{self.connect_timeout_s:g} s"
            ) from None
        assert self._link_lost is not None
        self._link_lost.clear()
        self._client = client
        try:
            with warnings.catch_warnings():  # BlueZ warns when it reports the default MTU
                warnings.simplefilter("ignore")
                self.mtu = client.mtu_size
            if first and self.mtu < SMALL_MTU:
                self._notice(
                    f"link ATT MTU is only {self.mtu}: notifications carry at most "
                    f"{self.mtu - 3} bytes; longer sensor packets arrive truncated"
                )
            for stream in self.firmware.streams.values():
                await client.start_notify(stream.characteristic, self._packet_callback(stream))
            settings = await self._start_sequence(client)
        except BaseException:
            self._client = None
            with contextlib.suppress(Exception):
                await client.disconnect()
            raise
        if first:
            self.settings.update(settings)
        elif any(self.settings.get(k) != v for k, v in settings.items()):
            log.warning("sensor answered different settings after reconnecting: %s", settings)
        self.link_state = "up"
        self._last_rx_mono = time.monotonic()  # the watchdog counts from link up

    def _packet_callback(
        self, stream: Stream
    ) -> Callable[[BleakGATTCharacteristic, bytearray], None]:
        name = stream.name
        queue = self._queue
        t0 = self._t0
        assert queue is not None

        def on_notify(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            now = time.monotonic()
            self._last_rx_mono = now
            queue.put_nowait(Packet(now - t0, name, bytes(data)))

        return on_notify

    def _link(self, client: BleakClient) -> _ClientLink:
        def record(raw: bytes) -> None:
            assert self._queue is not None
            self._queue.put_nowait((self.now_s(), {"event": "control_response", "hex": raw.hex()}))

        return _ClientLink(
            client,
            device=self._describe(),
            mtu=self.mtu,
            profile_path=self.firmware.path,
            record=record,
        )

    def _on_disconnect(self, client: BleakClient) -> None:
        if client is self._client and self._link_lost is not None:
            self._link_lost.set()

    async def _start_sequence(self, client: BleakClient) -> dict[str, Any]:
        """Run the profile's start writes, then each stream decoder's start handshake; returns
        the settings the sensor answered (e.g. Polar's ``factor``)."""
        for write in self.firmware.start:
            await client.write_gatt_char(write.characteristic, write.data, response=write.response)
        link = self._link(client)
        settings: dict[str, Any] = {}
        for stream in self.firmware.streams.values():
            try:
                settings.update(await DECODERS[stream.decoder].start(link, stream))
            except HandshakeError as exc:
                raise StartError(exc.message) from exc
        return settings

    async def _stop_sequence(self, client: BleakClient) -> None:
        for write in self.firmware.stop:
            await client.write_gatt_char(write.characteristic, write.data, response=write.response)
        link = self._link(client)
        for stream in self.firmware.streams.values():
            await DECODERS[stream.decoder].stop(link, stream)

    async def _wait_stop_or_link_lost(self, deadline: float | None) -> None:
        assert self._stop is not None and self._link_lost is not None
        waits = [
            asyncio.ensure_future(self._stop.wait()),
            asyncio.ensure_future(self._link_lost.wait()),
        ]
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _reconnect(self, deadline: float | None) -> None:
        assert self._stop is not None and self._queue is not None
        self._client = None
        self.link_drops += 1
        self.link_state = "lost"
        lost: dict[str, Any] = {"event": "link_lost"}
        if self._lost_reason is not None:
            lost["why"] = self._lost_reason
            self._lost_reason = None
        self._queue.put_nowait((self.now_s(), lost))
        attempt = 0
        while not self._stop.is_set():
            delay = self.reconnect_backoff_s[min(attempt, len(self.reconnect_backoff_s) - 1)]
            if deadline is not None:
                delay = min(delay, max(0.0, deadline - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stop.wait()
            if self._stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
                return
            attempt += 1
            attempt_task = asyncio.create_task(self._connect_and_start(first=False))
            stop_wait = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait({attempt_task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            stop_wait.cancel()
            if not attempt_task.done():  # stopped while reconnecting
                attempt_task.cancel()
            await asyncio.gather(stop_wait, return_exceptions=True)
            if attempt_task.cancelled() or not attempt_task.done():
                await asyncio.gather(attempt_task, return_exceptions=True)
                return
            try:
                attempt_task.result()
            except (LiveError, BleakError, OSError, TimeoutError) as exc:
                self.link_state = "lost"
                log.info("reconnection attempt %d failed: %s", attempt, exc)
                continue
            self._awaiting_data = attempt  # "sensor back" once data flows (see _count_packet)
            return

    # ----------------------------------------------------------------------------- pipeline

    def _open_session(self) -> None:
        firmware = apply_settings(self.firmware, self.settings)
        session = Session(firmware, self.cues, placement=self.placement)
        self.session = session
        self.notices.extend(session.notices)  # the session has logged them once
        if self.record_path is not None:
            dev = self._ble_device
            header = {
                "device": {
                    "name": dev.name if dev is not None else None,
                    "address": dev.address if dev is not None else None,
                },
                "firmware": {"name": self.firmware.name, "yaml": self.firmware.source_text},
                "settings": self.settings,
                "placement": session.placement,
                "start_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "live": {"mtu": self.mtu, **self.extra_header},
            }
            if self.cue_profile_yaml is not None:
                header["cue_profile"] = {"path": self.cues.path, "yaml": self.cue_profile_yaml}
            self._recorder = RecorderSink(self.record_path, streams=list(self.firmware.streams))
            self._recorder.start(header)
            session.attach(self._recorder)  # first: every packet is recorded before it is used
        session.attach(_RunnerSink(self), *self.sinks)

    async def _consume(self) -> None:
        assert self._queue is not None and self.session is not None
        await run_source(QueueSource(self._queue, self._describe()), self.session)

    def _count_packet(self, packet: Packet) -> None:
        self.packets_received += 1
        if self._awaiting_data is not None and self.session is not None:
            self.reconnects += 1
            attempts, self._awaiting_data = self._awaiting_data, None
            self.session.event(packet.t_rx_s, {"event": "link_back", "attempts": attempts})
        if (
            not self._truncation_noticed
            and self.mtu is not None
            and self.mtu < SMALL_MTU
            and len(packet.payload) == self.mtu - 3
        ):
            self._truncation_noticed = True
            self._notice(
                f"notifications on {packet.stream} fill the whole {self.mtu - 3}-byte "
                f"payload of the link's ATT MTU {self.mtu}: the sensor's packets are "
                "probably cut short (data lost or misread); use a larger MTU"
            )

    async def _watchdog(self) -> None:
        """A link that is up and silent for ``data_timeout_s`` is dropped, so the reconnection
        path (which sends the start sequence again) takes over."""
        assert self.data_timeout_s is not None and self._link_lost is not None
        while True:
            await asyncio.sleep(min(0.25, self.data_timeout_s / 4))
            silent_s = time.monotonic() - self._last_rx_mono
            client = self._client
            if self.link_state != "up" or silent_s < self.data_timeout_s or client is None:
                continue
            self.data_timeouts += 1
            self._lost_reason = f"no data for {silent_s:.1f} s"
            log.info("link up but no data for %.1f s: reconnecting", silent_s)
            self.link_state = "lost"
            self._client = None
            with contextlib.suppress(BleakError, OSError, TimeoutError):
                async with asyncio.timeout(3.0):
                    await client.disconnect()
            self._link_lost.set()

    async def _flush_timer(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            if self._recorder is not None:
                try:
                    self._recorder.flush()
                except RecordingError as exc:
                    self._recording_failed(exc)

    def _status_enabled(self) -> bool:
        return self.status and any(overrides(k, "status") for k in self.sinks)

    async def _status_timer(self) -> None:
        last_n, last_t = self.packets_received, time.monotonic()
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            self._pps = (self.packets_received - last_n) / max(now - last_t, 1e-3)
            last_n, last_t = self.packets_received, now
            line = self.status_line()
            for sink in self.sinks:
                sink.status(line)

    async def _shutdown(self) -> None:
        client = self._client
        if client is not None and client.is_connected:
            try:
                async with asyncio.timeout(3.0):
                    await self._stop_sequence(client)
            except (BleakError, OSError, TimeoutError) as exc:
                log.info("stop command failed: %s", exc)
            with contextlib.suppress(BleakError, OSError, TimeoutError):
                async with asyncio.timeout(3.0):
                    await client.disconnect()
        self._client = None
        self.link_state = "closed"
        consumer = [t for t in self._tasks if t.get_name() == "consumer"]
        others = [t for t in self._tasks if t.get_name() != "consumer"]
        for task in others:
            task.cancel()
        if consumer and self._queue is not None:
            self._queue.put_nowait(None)  # process everything received, then end
            await asyncio.gather(*consumer, return_exceptions=True)
        await asyncio.gather(*others, return_exceptions=True)
        if self.session is not None:
            try:
                self.session.close()  # closes the sinks, the recording too
            except RecordingError as exc:
                self._recording_failed(exc)
        else:  # never streamed: the sinks may still hold notices to show
            for sink in self.sinks:
                sink.close()

    def _result(self) -> LiveResult:
        dev = self._ble_device
        summary = self.session.summary() if self.session is not None else {}
        return LiveResult(
            summary=summary,
            recording=self.record_path if self._recorder is not None else None,
            device_name=dev.name if dev is not None else None,
            device_address=dev.address if dev is not None else (self.device or ""),
            link_drops=self.link_drops,
            reconnects=self.reconnects,
            packets_received=self.packets_received,
            notices=list(self.notices),
        )

    # ----------------------------------------------------------------------------- helpers

    def _describe(self) -> str:
        dev = self._ble_device
        if dev is None:
            return self.device or "sensor"
        return f"{dev.name} ({dev.address})" if dev.name else dev.address

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)

    def _recording_failed(self, exc: RecordingError) -> None:
        """The disk refused the recording: say so once; the session goes on (cues, summary)."""
        self._notice(f"{exc} - coaching goes on without recording")
        if self.session is not None:
            self.session.event(self.now_s(), {"event": "recording_failed", "why": exc.message})

    def _notice(self, text: str) -> None:
        self.notices.append(text)
        for sink in self.sinks:
            sink.notice(text)


class _RunnerSink(Sink):
    """The runner's own view of the session: packets received (and whether the link's MTU cuts
    them short), the last step for the status line."""

    def __init__(self, runner: LiveRunner) -> None:
        self.runner = runner

    def packet(self, packet: Packet) -> None:
        self.runner._count_packet(packet)

    def step(self, step: Step) -> None:
        self.runner.last_step = step


def safe_file_part(text: str) -> str:
    """``text`` reduced to a safe file-name part: letters, digits, ``.``, ``_`` and ``-`` (others
    become ``_``), no leading dot, at most 64 characters; ``sensor`` when nothing is left.

    Examples
    --------
    >>> safe_file_part("../../etc/passwd"), safe_file_part("Polar H10 (chest)")
    ('etc_passwd', 'Polar_H10_chest')
    """
    kept = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    return kept[:64] or "sensor"


def default_recording_path(directory: str | Path, firmware: FirmwareProfile) -> Path:
    """``DIR/YYYYmmdd-HHMMSS_FIRMWARE.dlr`` in local time, the firmware name made safe (a name
    from a profile never leads outside ``DIR``); the recorder sink makes it unique."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(directory) / f"{stamp}_{safe_file_part(firmware.name)}.dlr"


def stdout_is_tty() -> bool:
    """Whether standard output is a terminal (the status line is shown then)."""
    return sys.stdout.isatty()
