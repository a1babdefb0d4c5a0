"""BLE sensors as a source: find, connect, start one or several sensors, and run the session live.

:class:`LiveRunner` holds the session, its sinks, the status line and the shutdown; each device
has its own :class:`~downhill_live.source.ble_link.DeviceLink` (find, connect, start sequence,
reconnection with backoff, data watchdog). One device gives the strikes (the first: its
acceleration feeds the gait core); devices connected beside it (``beside``, e.g. a BLE
treadmill, a foot pod, a Thingy:52's barometer) contribute their streams without acceleration
(see :mod:`downhill_live.config.devices`). Every device's notifications go, stamped on one
receive clock, onto one :class:`~downhill_live.source.QueueSource`; one consumer
(:func:`~downhill_live.session.run_source`, the same one paced replay uses) hands each packet to
the session, whose recorder sink writes it raw *first*, into one recording. The recording is
flushed and synced every second.

Resilience: each link reconnects on its own; on a drop the recording stays open, "sensor lost"
is said once (with several devices: the device's name), the link reconnects, subscribes, runs
the start sequence again, and "sensor back" is said once data flows. The other devices go on
meanwhile. A device beside the strike device that is not found by the end of the scan does
not stop the session: "Treadmill not found" is said, the coaching starts without it, its link
keeps looking for it and uses it once it appears ("Treadmill found"). The strike device not
found is an error, as with one device. Counter gaps are counted by the decoders, malformed
packets by the session (logged once per kind); both are still in the recording raw.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from downhill_live.config.cue_profile import CueProfile
from downhill_live.config.devices import beside_streams, combine
from downhill_live.config.firmware import FirmwareProfile, Stream
from downhill_live.errors import RecordingError
from downhill_live.session import Session, apply_settings, run_source
from downhill_live.sinks import RecorderSink, Sink, overrides
from downhill_live.source import QueueSource, SourceItem
from downhill_live.source.ble_devices import (
    BesideDevice,
    LiveResult,
    check_distinct,
    combined_firmware,
    live_header,
    live_result,
    missing_label,
    status_text,
)
from downhill_live.source.ble_link import (
    DATA_TIMEOUT_S,
    RECONNECT_BACKOFF_S,
    SMALL_MTU,
    BluetoothUnavailableError,
    DeviceLink,
    DeviceNotFoundError,
    LinkOptions,
    LiveError,
    StartError,
)
from downhill_live.source.ble_scan import (
    FoundDevice,
    default_recording_path,
    safe_file_part,
    scan,
    stdout_is_tty,
)
from downhill_live.types import Packet, Step

log = logging.getLogger(__name__)

__all__ = [
    "DATA_TIMEOUT_S",
    "RECONNECT_BACKOFF_S",
    "SMALL_MTU",
    "BesideDevice",
    "BluetoothUnavailableError",
    "DeviceNotFoundError",
    "FoundDevice",
    "LinkOptions",
    "LiveError",
    "LiveResult",
    "LiveRunner",
    "StartError",
    "default_recording_path",
    "missing_label",
    "safe_file_part",
    "scan",
    "stdout_is_tty",
]

#: seconds between recording flushes (the format promises at most 2 s of loss on a crash)
FLUSH_INTERVAL_S = 1.0


class LiveRunner:
    """One live session with one sensor, or several (``beside``).

    The constructor only stores parameters (and checks that the devices' profiles combine);
    :meth:`run` does the work and returns a :class:`LiveResult`. :meth:`request_stop` (e.g.
    from a SIGINT handler) ends it cleanly: stop commands sent, links closed, queued packets
    processed, recording closed.

    Parameters
    ----------
    firmware : FirmwareProfile
        How to find, start and decode the sensor that gives the strikes.
    cues : CueProfile
        Coaching rules.
    device : str, optional
        Advertised name or address; None: the first device the firmware profile matches.
    beside : sequence of BesideDevice
        Devices connected beside it (their streams without acceleration: grade, speed,
        pressure). A stream name two profiles share is a ``ConfigError`` (one line).
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
        Time to find the devices (scanned for together), and to connect each.
    reconnect_backoff_s : tuple of float
        Delays between reconnection attempts.
    extra_header : dict, optional
        Added to the recording header (e.g. ``{"simulated": True}``).
    data_timeout_s : float or None
        The data watchdog: a link that is up but brings no notification for this long (the
        sensor stopped, or ignored the start command) counts as lost: it is said, and the link
        reconnects and sends the start sequence again until data flows; "sensor back" is said
        only then. None switches it off.
    cue_profile_yaml : str, optional
        The text of the cue profile ``cues`` came from, stored in the recording header so that
        replay, report and ``--verify`` use the profile that coached.
    settings : dict, optional
        Stream settings of the strike device known beforehand (see
        :data:`downhill_live.session.SETTINGS`); the start sequence adds ``factor`` for Polar
        PMD. They go to the recording header and the session.
    warm_up : callable, optional
        Blocking set-up (compile or load the gait core) run in a thread while the scan runs;
        the session opens once it is done.

    Attributes
    ----------
    session : Session or None
        The pipeline, created once the sensors have started.
    links : list of DeviceLink
        One per device, the strike device first (made by :meth:`run`).
    """

    def __init__(
        self,
        firmware: FirmwareProfile,
        cues: CueProfile,
        *,
        device: str | None = None,
        beside: Sequence[BesideDevice] = (),
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
        warm_up: Callable[[], Any] | None = None,
    ) -> None:
        self.firmware = firmware
        self.cues = cues
        self.device = device
        self.beside = tuple(beside)
        self.placement = placement
        self.record_path = Path(record_path) if record_path is not None else None
        self.sinks: tuple[Sink, ...] = tuple(sinks)
        self.status = status
        self.duration_s = duration_s
        self.options = LinkOptions(
            scanner_backend=scanner_backend,
            client_backend=client_backend,
            client_kwargs=dict(client_kwargs or {}),
            scan_timeout_s=scan_timeout_s,
            connect_timeout_s=connect_timeout_s,
            reconnect_backoff_s=reconnect_backoff_s,
            data_timeout_s=data_timeout_s,
        )
        self.extra_header = dict(extra_header or {})
        self.cue_profile_yaml = cue_profile_yaml
        self.warm_up = warm_up
        self._settings: dict[str, Any] = dict(settings or {})
        apply_settings(firmware, self._settings)  # validate now, not after connecting
        self._beside_streams: list[dict[str, Stream]] = []
        for other in self.beside:
            apply_settings(other.firmware, other.settings)
            self._beside_streams.append(beside_streams(other.firmware))
        # a clash of stream names is said now, before scanning
        combine(
            firmware,
            [(b.firmware, s) for b, s in zip(self.beside, self._beside_streams, strict=True)],
        )

        self.session: Session | None = None
        self.links: list[DeviceLink] = []
        self.notices: list[str] = []
        self.last_step: Step | None = None
        self._recorder: RecorderSink | None = None
        self._queue: asyncio.Queue[SourceItem | None] | None = None
        self._stop: asyncio.Event | None = None
        self._t0 = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._link_of: dict[str, DeviceLink] = {}
        self._pps = 0.0
        self._streaming = False
        self._main_task: asyncio.Task[Any] | None = None

    # ----------------------------------------------------------------------------- figures

    @property
    def link_state(self) -> str:
        """The strike device's link state (``"idle"`` before :meth:`run`)."""
        return self.links[0].link_state if self.links else "idle"

    @property
    def packets_received(self) -> int:
        """Data notifications received from every device (all recorded)."""
        return sum(link.packets_received for link in self.links)

    @property
    def data_timeouts(self) -> int:
        """Times a watchdog found a link up but silent."""
        return sum(link.data_timeouts for link in self.links)

    @property
    def settings(self) -> dict[str, Any]:
        """The strike device's stream settings (with what its start sequence answered)."""
        return self.links[0].settings if self.links else self._settings

    @property
    def mtu(self) -> int | None:
        """The strike device's link ATT MTU."""
        return self.links[0].mtu if self.links else None

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
        self._queue = asyncio.Queue()
        self.links = self._make_links()
        deadline = None if self.duration_s is None else self._t0 + self.duration_s
        self._main_task = asyncio.current_task()
        warm: asyncio.Future[Any] | None = None
        try:
            try:
                finds = [asyncio.ensure_future(link.find()) for link in self.links]
                await asyncio.sleep(0)  # the scans start first; the warm-up runs meanwhile
                if self.warm_up is not None:
                    warm = asyncio.ensure_future(asyncio.to_thread(self.warm_up))
                try:
                    found = await asyncio.gather(*finds, return_exceptions=True)
                finally:
                    for f in finds:
                        f.cancel()
                    await asyncio.gather(*finds, return_exceptions=True)
                for k, outcome in enumerate(found):
                    # a device beside it not found: coached without, looked for meanwhile
                    missing = k > 0 and isinstance(outcome, DeviceNotFoundError)
                    if isinstance(outcome, BaseException) and not missing:
                        raise outcome
                check_distinct(self.links)
                if len(self.links) > 1:  # the names said in "Treadmill lost"
                    labels = [k.label for k in self.links if k.label is not None]
                    for sink in self.sinks:
                        sink.devices(labels)
                if warm is not None:  # before connecting: no thread competes with the links
                    await warm
                for link in self.links:
                    if link.ble_device is not None:
                        await link.connect_and_start(first=True)
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
            for link in self.links:
                self._spawn(link.supervise(self._stop, deadline, self._taken), "supervise")
                if self.options.data_timeout_s is not None:
                    self._spawn(link.watchdog(), "watchdog")
            if self._status_enabled():
                self._spawn(self._status_timer(), "status")
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._stop.wait()
        finally:
            if warm is not None and not warm.done():
                await asyncio.gather(warm, return_exceptions=True)  # a thread cannot be cancelled
            await self._shutdown()
        return self._result()

    def status_line(self) -> str:
        """The one-line live status, most important first so that a narrow terminal cuts the
        least useful end: elapsed time, cadence, last impact, grade and descent state, distance
        and pace (when a foot pod measures them), link(s), then data health (packets/s, samples
        lost in transit, bad packets).

        Examples
        --------
        >>> from downhill_live.config.cue_profile import load_cue_profile
        >>> from downhill_live.config.firmware import load_firmware_profile
        >>> r = LiveRunner(load_firmware_profile("dhl-imu"), load_cue_profile())
        >>> r.status_line()
        '00:00 | n/a spm | n/a g | grade n/a % - | link idle | 0 pkt/s, lost 0, bad 0'
        """
        elapsed_s = int(self.now_s()) if self._t0 else 0
        return status_text(self.session, self.last_step, self.links, elapsed_s, self._pps)

    # ----------------------------------------------------------------------------- links

    def _taken(self) -> set[str]:
        """Addresses (upper case) of the devices the links have found."""
        return {k.ble_device.address.upper() for k in self.links if k.ble_device is not None}

    def _make_links(self) -> list[DeviceLink]:
        assert self._queue is not None
        queue = self._queue
        common: dict[str, Any] = {
            "emit": queue.put_nowait,
            "clock": self.now_s,
            "t0": self._t0,
            "notice": self._notice,
            "options": self.options,
        }
        links = [
            DeviceLink(
                self.firmware,
                dict(self.firmware.streams),
                device=self.device,
                settings=self._settings,
                **common,
            )
        ]
        for other, streams in zip(self.beside, self._beside_streams, strict=True):
            links.append(
                DeviceLink(
                    other.firmware, streams, device=other.device, settings=other.settings, **common
                )
            )
        self._link_of = {name: link for link in links for name in link.streams}
        return links

    # ----------------------------------------------------------------------------- pipeline

    def _open_session(self) -> None:
        firmware = combined_firmware(self.firmware, self.links)
        session = Session(firmware, self.cues, placement=self.placement)
        self.session = session
        self.notices.extend(session.notices)  # the session has logged them once
        if len(self.links) > 1:
            self._notice(
                f"strikes from {self.links[0].describe()} ({self.firmware.name}); beside it: "
                + ", ".join(
                    f"{k.describe()} ({k.firmware.name}: {', '.join(k.streams)}"
                    + ("" if k.ble_device is not None else "; not found yet")
                    + ")"
                    for k in self.links[1:]
                )
            )
        if self.record_path is not None:
            header = live_header(
                self.links,
                self.firmware,
                placement=session.placement,
                extra=self.extra_header,
            )
            if self.cue_profile_yaml is not None:
                header["cue_profile"] = {"path": self.cues.path, "yaml": self.cue_profile_yaml}
            self._recorder = RecorderSink(self.record_path, streams=list(firmware.streams))
            self._recorder.start(header)
            session.attach(self._recorder)  # first: every packet is recorded before it is used
        session.attach(_RunnerSink(self), *self.sinks)

    async def _consume(self) -> None:
        assert self._queue is not None and self.session is not None
        description = ", ".join(link.describe() for link in self.links)
        await run_source(QueueSource(self._queue, description), self.session)

    def _count_packet(self, packet: Packet) -> None:
        link = self._link_of.get(packet.stream)
        if link is not None and self.session is not None:
            link.count_packet(packet, self.session.event)

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
        supervisors = [t for t in self._tasks if t.get_name() == "supervise"]
        for task in supervisors:  # a reconnection in progress ends here
            task.cancel()
        await asyncio.gather(*supervisors, return_exceptions=True)
        await asyncio.gather(*(link.close() for link in self.links), return_exceptions=True)
        consumer = [t for t in self._tasks if t.get_name() == "consumer"]
        others = [t for t in self._tasks if t.get_name() not in ("consumer", "supervise")]
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
        summary = self.session.summary() if self.session is not None else {}
        recording = self.record_path if self._recorder is not None else None
        return live_result(self.links, summary, recording, self.notices, device=self.device)

    # ----------------------------------------------------------------------------- helpers

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
    """The runner's own view of the session: packets received per device (and whether the
    link's MTU cuts them short), the last step for the status line."""

    def __init__(self, runner: LiveRunner) -> None:
        self.runner = runner

    def packet(self, packet: Packet) -> None:
        self.runner._count_packet(packet)

    def step(self, step: Step) -> None:
        self.runner.last_step = step
