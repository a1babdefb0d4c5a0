"""One BLE device's link: find it, connect, subscribe, run its start sequence, keep it up.

A :class:`DeviceLink` is one sensor of a live session (:class:`~downhill_live.source.ble.
LiveRunner` holds one per device). The notification callback only stamps the receive time
(``time.monotonic() - t0``, one clock for every device of the session) and hands a
:class:`~downhill_live.types.Packet` (a copy of the bytes) to ``emit``, which queues it for the
session; start/stop handshakes are the stream decoders' (:mod:`downhill_live.decode`).

Resilience, per link: on a drop (or a link up but silent for ``data_timeout_s``: the
watchdog) a ``link_lost`` event is emitted, the link reconnects with backoff, subscribes and
runs the start sequence again, and ``link_back`` is emitted once data flows again. Links of
one session are independent: a dropped treadmill never stops the accelerometer's coaching.
A device beside the strike device that was not found at the start is looked for in the
background (``link_missing`` at once, ``link_found`` once its data flows), see
:meth:`DeviceLink.supervise`.

Everything BLE goes through bleak's public API with an optional ``backend=`` (bleak's OS backend
by default; :class:`~downhill_live.sim.bumble_backend.VirtualRadio` gives in-process virtual
sensors).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import warnings
from collections.abc import Callable
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from downhill_live.config.firmware import FirmwareProfile, Stream
from downhill_live.decode import DECODERS
from downhill_live.errors import HandshakeError, one_line
from downhill_live.source import SourceItem
from downhill_live.source.ble_base import (
    DATA_TIMEOUT_S,
    RECONNECT_BACKOFF_S,
    SMALL_MTU,
    BluetoothUnavailableError,
    DeviceNotFoundError,
    LinkOptions,
    LiveError,
    StartError,
    _ClientLink,
    bluetooth_error,
    scanner_kw,
)
from downhill_live.types import Packet

log = logging.getLogger(__name__)

__all__ = [
    "DATA_TIMEOUT_S",
    "RECONNECT_BACKOFF_S",
    "SMALL_MTU",
    "BluetoothUnavailableError",
    "DeviceLink",
    "DeviceNotFoundError",
    "LinkOptions",
    "LiveError",
    "StartError",
]


class DeviceLink:
    """The link to one device (see the module notes).

    Parameters
    ----------
    firmware : FirmwareProfile
        How to find and start the device.
    streams : dict of str -> Stream
        The streams to subscribe to (all the profile's for the device giving the strikes; those
        without acceleration for a device beside it).
    emit : callable
        ``emit(item)``: a packet or a ``(t_s, event)`` pair for the session, in order.
    clock : callable
        ``clock()``: the session's receive time (s); ``t0`` is its monotonic origin.
    device : str, optional
        Advertised name or address; None: the first device the profile matches.
    label : str, optional
        The device's name in ``link_lost``/``link_back`` events (``"device"`` key; several
        devices) or None (one device: the events are about "the sensor").
    notice : callable
        ``notice(text)``: a one-line notice for the user (a small MTU).
    options : LinkOptions, optional
        Backends, timeouts and backoff (the session's; default: the OS backend, 10 s).

    Attributes
    ----------
    link_state : str
        ``"idle"``, ``"scanning"``, ``"connecting"``, ``"up"``, ``"lost"``, ``"searching"``
        (not found at the start, looked for in the background) or ``"closed"``.
    packets_received, link_drops, reconnects, data_timeouts : int
    settings : dict
        What the start sequence answered (e.g. Polar's ``factor``), over the known settings.
    ble_device : BLEDevice or None
        The device found.
    """

    def __init__(
        self,
        firmware: FirmwareProfile,
        streams: dict[str, Stream],
        *,
        emit: Callable[[SourceItem], None],
        clock: Callable[[], float],
        t0: float,
        device: str | None = None,
        label: str | None = None,
        notice: Callable[[str], None] = lambda _text: None,
        settings: dict[str, Any] | None = None,
        options: LinkOptions | None = None,
    ) -> None:
        self.firmware = firmware
        self.streams = streams
        self.device = device
        self.label = label
        self._emit = emit
        self._clock = clock
        self._t0 = t0
        self._notice = notice
        self.settings: dict[str, Any] = dict(settings or {})
        self.options = options if options is not None else LinkOptions()
        self.link_state = "idle"
        self.packets_received = 0
        self.link_drops = 0
        self.reconnects = 0
        self.data_timeouts = 0
        self.mtu: int | None = None
        self.ble_device: BLEDevice | None = None
        self.link_lost = asyncio.Event()
        self._client: BleakClient | None = None
        self._last_rx_mono = 0.0  # monotonic time of the last notification (or of link up)
        self._lost_reason: str | None = None
        #: (event, attempts) said once data flows again: ("link_back", reconnect attempts), or
        #: ("link_found", scans) for a device found after the start
        self._awaiting_data: tuple[str, int] | None = None
        #: scans it took to find a device that was not there at the start (0: found at once)
        self.found_after_scans = 0
        self._truncation_noticed = False

    # ----------------------------------------------------------------------------- finding

    def describe(self) -> str:
        """``name (address)`` of the device found, else what was asked for."""
        dev = self.ble_device
        if dev is None:
            return self.device or f"{self.firmware.name} sensor"
        # an advertised name is the device's to choose: shown escaped (one_line)
        return f"{one_line(dev.name)} ({dev.address})" if dev.name else dev.address

    async def find(self, taken: Callable[[], set[str]] = set) -> BLEDevice:
        """Scan until the device advertises (``DeviceNotFoundError`` after the scan time).

        ``taken()``: addresses (upper case) that other links of the session hold, passed over.
        """
        if self.link_state != "searching":  # looked for in the background: said as such
            self.link_state = "scanning"
        want = self.device.lower() if self.device else None

        def accept(dev: BLEDevice, adv: AdvertisementData) -> bool:
            if dev.address.upper() in taken():
                return False
            name = adv.local_name or dev.name
            if want is not None:
                return dev.address.lower() == want or (name or "").lower() == want
            return self.firmware.matches(name, adv.service_uuids)

        try:
            found = await BleakScanner.find_device_by_filter(
                accept,
                timeout=self.options.scan_timeout_s,
                **scanner_kw(self.options.scanner_backend),
            )
        except (BleakError, OSError) as exc:
            raise bluetooth_error(exc) from None
        if found is None:
            what = (
                f"device {self.device!r}"
                if self.device
                else f"device matching firmware profile {self.firmware.name}"
            )
            raise DeviceNotFoundError(
                f"no {what} found within {self.options.scan_timeout_s:g} s of scanning "
                "(is it switched on, charged and not connected to another app?)"
            )
        self.ble_device = found
        return found

    # ----------------------------------------------------------------------------- link

    async def connect_and_start(self, *, first: bool) -> None:
        """Connect, subscribe to the streams, run the start sequence."""
        assert self.ble_device is not None
        self.link_state = "connecting"
        if not first:  # the OS may have forgotten the device: see it advertise again first
            again = await BleakScanner.find_device_by_address(
                self.ble_device.address,
                timeout=min(5.0, self.options.connect_timeout_s),
                **scanner_kw(self.options.scanner_backend),
            )
            if again is None:
                raise LiveError(f"{self.describe()} is not advertising")
            self.ble_device = again
        client = BleakClient(
            self.ble_device,
            disconnected_callback=self._on_disconnect,
            timeout=self.options.connect_timeout_s,
            backend=self.options.client_backend,
            **self.options.client_kwargs,
        )
        try:
            await client.connect()
        except (BleakError, OSError) as exc:
            if self.options.client_backend is None and isinstance(exc, OSError):
                raise bluetooth_error(exc) from None
            raise LiveError(
                f"cannot connect to {self.describe()}: {exc or type(exc).__name__}"
            ) from None
        except TimeoutError:
            raise LiveError(
                f"cannot connect to {self.describe()}: no answer within "
                f"{self.options.connect_timeout_s:g} s"
            ) from None
        self.link_lost.clear()
        self._client = client
        try:
            with warnings.catch_warnings():  # BlueZ warns when it reports the default MTU
                warnings.simplefilter("ignore")
                self.mtu = client.mtu_size
            if first and self.mtu < SMALL_MTU:
                on = "" if self.label is None else f" ({self.label})"
                self._notice(
                    f"link ATT MTU is only {self.mtu}{on}: notifications carry at most "
                    f"{self.mtu - 3} bytes; longer sensor packets arrive truncated"
                )
            for stream in self.streams.values():
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
        emit = self._emit
        t0 = self._t0

        def on_notify(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            now = time.monotonic()
            self._last_rx_mono = now
            emit(Packet(now - t0, name, bytes(data)))

        return on_notify

    def _handshake_link(self, client: BleakClient) -> _ClientLink:
        def record(raw: bytes) -> None:
            self._emit((self._clock(), {"event": "control_response", "hex": raw.hex()}))

        return _ClientLink(
            client,
            device=self.describe(),
            mtu=self.mtu,
            profile_path=self.firmware.path,
            record=record,
        )

    def _on_disconnect(self, client: BleakClient) -> None:
        if client is self._client:
            self.link_lost.set()

    async def _start_sequence(self, client: BleakClient) -> dict[str, Any]:
        """Run the profile's start writes, then each stream decoder's start handshake; returns
        the settings the sensor answered (e.g. Polar's ``factor``)."""
        for write in self.firmware.start:
            await client.write_gatt_char(write.characteristic, write.data, response=write.response)
        link = self._handshake_link(client)
        settings: dict[str, Any] = {}
        for stream in self.streams.values():
            try:
                settings.update(await DECODERS[stream.decoder].start(link, stream))
            except HandshakeError as exc:
                raise StartError(exc.message) from exc
        return settings

    async def _stop_sequence(self, client: BleakClient) -> None:
        for write in self.firmware.stop:
            await client.write_gatt_char(write.characteristic, write.data, response=write.response)
        link = self._handshake_link(client)
        for stream in self.streams.values():
            await DECODERS[stream.decoder].stop(link, stream)

    # ----------------------------------------------------------------------------- keeping it up

    def _event(self, name: str, /, **extra: Any) -> dict[str, Any]:
        event: dict[str, Any] = {"event": name, **extra}
        if self.label is not None:
            event["device"] = self.label
        return event

    async def supervise(
        self,
        stop: asyncio.Event,
        deadline: float | None,
        taken: Callable[[], set[str]] = set,
    ) -> None:
        """Until ``stop`` (or ``deadline``, monotonic): reconnect whenever the link is lost.

        A link whose device was not found at the start (no :attr:`ble_device`) first looks for
        it (:meth:`_search`, passing over the ``taken()`` addresses of the other links)."""
        if self.ble_device is None and not await self._search(stop, deadline, taken):
            return
        while not stop.is_set():
            waits = [
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(self.link_lost.wait()),
            ]
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
            if stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
                return
            if self.link_lost.is_set():
                await self._reconnect(stop, deadline)

    async def _pause(self, attempt: int, stop: asyncio.Event, deadline: float | None) -> bool:
        """Wait the backoff before attempt ``attempt`` + 1; False once stopped or past the
        deadline."""
        backoff_s = self.options.reconnect_backoff_s
        delay = backoff_s[min(attempt, len(backoff_s) - 1)]
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await stop.wait()
        return not (stop.is_set() or (deadline is not None and time.monotonic() >= deadline))

    async def _search(
        self, stop: asyncio.Event, deadline: float | None, taken: Callable[[], set[str]]
    ) -> bool:
        """The device was not found at the start: say so (``link_missing``), then scan again,
        with the reconnection backoff between scans, until it advertises; connect and start it
        as at the start (``link_found`` is said once its data flows). False if stopped first."""
        self.link_state = "searching"
        self._emit((self._clock(), self._event("link_missing")))
        attempt = 0
        while await self._pause(attempt, stop, deadline):
            attempt += 1
            try:
                await self.find(taken)
                await self.connect_and_start(first=True)
            except (LiveError, BleakError, OSError, TimeoutError) as exc:
                self.link_state = "searching"
                log.info("looking for %s (scan %d): %s", self.describe(), attempt, exc)
                continue
            self.found_after_scans = attempt
            self._awaiting_data = ("link_found", attempt)  # said once data flows
            return True
        return False

    async def _reconnect(self, stop: asyncio.Event, deadline: float | None) -> None:
        self._client = None
        self.link_drops += 1
        self.link_state = "lost"
        extra = {} if self._lost_reason is None else {"why": self._lost_reason}
        self._lost_reason = None
        self._emit((self._clock(), self._event("link_lost", **extra)))
        attempt = 0
        while await self._pause(attempt, stop, deadline):
            attempt += 1
            try:
                await self.connect_and_start(first=False)
            except (LiveError, BleakError, OSError, TimeoutError) as exc:
                self.link_state = "lost"
                log.info("reconnection attempt %d to %s failed: %s", attempt, self.describe(), exc)
                continue
            self._awaiting_data = ("link_back", attempt)  # said once data flows (count_packet)
            return

    def count_packet(self, packet: Packet, event: Callable[[float, dict[str, Any]], None]) -> None:
        """A packet of this link reached the session (``event``: the session's, for the
        ``link_back`` said once data flows again after a reconnection, or the ``link_found`` of
        a device found after the start)."""
        self.packets_received += 1
        if self._awaiting_data is not None:
            (name, attempts), self._awaiting_data = self._awaiting_data, None
            if name == "link_back":
                self.reconnects += 1
                event(packet.t_rx_s, self._event(name, attempts=attempts))
            else:
                dev = self.ble_device
                found = {"name": dev.name, "address": dev.address} if dev is not None else {}
                event(packet.t_rx_s, self._event(name, scans=attempts, **found))
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

    async def watchdog(self) -> None:
        """A link that is up and silent for ``data_timeout_s`` is dropped, so the reconnection
        path (which sends the start sequence again) takes over."""
        assert self.options.data_timeout_s is not None
        while True:
            await asyncio.sleep(min(0.25, self.options.data_timeout_s / 4))
            silent_s = time.monotonic() - self._last_rx_mono
            client = self._client
            if self.link_state != "up" or silent_s < self.options.data_timeout_s or client is None:
                continue
            self.data_timeouts += 1
            self._lost_reason = f"no data for {silent_s:.1f} s"
            log.info("%s up but no data for %.1f s: reconnecting", self.describe(), silent_s)
            self.link_state = "lost"
            self._client = None
            with contextlib.suppress(BleakError, OSError, TimeoutError):
                async with asyncio.timeout(3.0):
                    await client.disconnect()
            self.link_lost.set()

    async def close(self) -> None:
        """Send the stop sequence and disconnect (each bounded to 3 s)."""
        client = self._client
        if client is not None and client.is_connected:
            try:
                async with asyncio.timeout(3.0):
                    await self._stop_sequence(client)
            except (BleakError, OSError, TimeoutError) as exc:
                log.info("stop command to %s failed: %s", self.describe(), exc)
            with contextlib.suppress(BleakError, OSError, TimeoutError):
                async with asyncio.timeout(3.0):
                    await client.disconnect()
        self._client = None
        self.link_state = "closed"
