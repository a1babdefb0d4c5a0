"""A configurable virtual BLE peripheral on a :class:`~downhill_live.sim.bumble_backend.VirtualRadio`.

A :class:`VirtualSensor` is a bumble ``Device`` with its own virtual controller on the radio's
link: it advertises (name, service UUIDs, manufacturer data), serves a GATT database built from
:class:`ServiceSpec`/:class:`CharacteristicSpec`, hands writes to a hook, and sends
notifications or indications with real timing. It knows no sensor protocol: a protocol (for
example a virtual Polar sensor with the PMD service, its control point and data
characteristic) is a set of specs plus a write handler, or a subclass overriding
:meth:`VirtualSensor.on_write`.

Example
-------
A generic sensor with a control point (write + indicate) and a data characteristic
(notify); writing ``0x01`` to the control point acknowledges it with ``0x01 0x00`` and starts
streaming three packets, 10 ms apart::

    SVC = "0000ffe0-0000-1000-8000-00805f9b34fb"
    CTRL = "0000ffe1-0000-1000-8000-00805f9b34fb"
    DATA = "0000ffe2-0000-1000-8000-00805f9b34fb"

    async def on_control(sensor: VirtualSensor, data: bytes) -> None:
        if data == b"\\x01":
            await sensor.notify(CTRL, b"\\x01\\x00")  # indication: CTRL only indicates
            sensor.stream(DATA, [b"\\x00" * 100, b"\\x01" * 100, b"\\x02" * 100], 0.01)

    service = ServiceSpec(SVC, (
        CharacteristicSpec(CTRL, ("write", "indicate"), on_write=on_control),
        CharacteristicSpec(DATA, ("notify",)),
    ))
    async with VirtualRadio() as radio:
        async with VirtualSensor(radio, "Pod 1", "F0:00:00:00:00:01", [service]) as sensor:
            ...  # BleakScanner / BleakClient with backend=radio.scanner_backend / client_backend

Behaviour worth knowing
-----------------------
* **MTU.** A notification carries at most ``ATT_MTU - 3`` bytes. With the default
  ``oversize="truncate"`` a longer payload is cut to that size, as the Core specification
  (Vol 3, Part F, 3.4.7.1) and real stacks do, and :attr:`VirtualSensor.truncated_count` is
  incremented; the central then receives a short packet, which its decoder must reject. With
  ``oversize="raise"`` :meth:`VirtualSensor.notify` raises :class:`PayloadTooLargeError`
  instead (a stream task then ends with that exception).
* **Payloads are raw bytes**: nothing is validated, so malformed or truncated packets are
  sent exactly as given.
* **Write hook.** A write is acknowledged at ATT level first; the handler then runs in a task
  (as firmware processing a command queue would), so a reply sent by the handler arrives after
  the write response. When :meth:`VirtualSensor.set_unresponsive` is on, writes are still
  acknowledged and logged in :attr:`VirtualSensor.writes` but the handler is not called.
* **Link loss.** :meth:`VirtualSensor.drop_link` disconnects from the peripheral side. Streams
  end (normally, returning the number of packets sent), subscriptions are forgotten (the
  central must subscribe again after reconnecting, as with an unbonded real device) and
  advertising restarts so the central can reconnect.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Literal

from bleak.uuids import normalize_uuid_str
from bumble import att, core, hci
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, Service

from downhill_live.sim.bumble_backend import VirtualRadio

logger = logging.getLogger(__name__)

__all__ = [
    "CharacteristicSpec",
    "PayloadTooLargeError",
    "ServiceSpec",
    "VirtualSensor",
    "WriteHandler",
    "WriteRecord",
]

WriteHandler = Callable[["VirtualSensor", bytes], Awaitable[None] | None]
"""``handler(sensor, data)``: called after a write to a characteristic is acknowledged."""

_PROPERTY_FLAGS: dict[str, Characteristic.Properties] = {
    "read": Characteristic.Properties.READ,
    "write": Characteristic.Properties.WRITE,
    "write-without-response": Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
    "notify": Characteristic.Properties.NOTIFY,
    "indicate": Characteristic.Properties.INDICATE,
}

_SIG_SUFFIX = "-0000-1000-8000-00805f9b34fb"


def _normalize(uuid: str) -> str:
    return normalize_uuid_str(uuid.removeprefix("0x"))


def _bumble_uuid(normalized: str) -> core.UUID:
    """bumble UUID, 16-bit when the UUID is on the Bluetooth SIG base."""
    if normalized.endswith(_SIG_SUFFIX) and normalized.startswith("0000"):
        return core.UUID(normalized[4:8])
    return core.UUID(normalized)


class PayloadTooLargeError(ValueError):
    """A payload does not fit in one notification at the negotiated MTU.

    Attributes
    ----------
    size : int
        Payload length in bytes.
    limit : int
        Largest payload the link carries (``mtu - 3``).
    mtu : int
        Negotiated ATT MTU.
    """

    def __init__(self, size: int, mtu: int) -> None:
        self.size = size
        self.mtu = mtu
        self.limit = mtu - 3
        super().__init__(
            f"{size}-byte payload does not fit in a notification at ATT MTU {mtu} "
            f"(at most {self.limit} bytes)"
        )


@dataclasses.dataclass(frozen=True)
class CharacteristicSpec:
    """One characteristic of a virtual sensor.

    Parameters
    ----------
    uuid : str
        16-bit (``"2a37"``) or 128-bit UUID.
    properties : sequence of str
        Any of ``"read"``, ``"write"``, ``"write-without-response"``, ``"notify"``,
        ``"indicate"`` (bleak's names). A CCCD is added for notify/indicate.
    value : bytes
        Initial value returned by reads.
    on_write : WriteHandler or None
        Called as ``on_write(sensor, data)`` after each acknowledged write.
    """

    uuid: str
    properties: Sequence[str]
    value: bytes = b""
    on_write: WriteHandler | None = None

    def __post_init__(self) -> None:
        unknown = set(self.properties) - set(_PROPERTY_FLAGS)
        if unknown:
            raise ValueError(
                f"characteristic {self.uuid}: unknown properties {sorted(unknown)}; "
                f"expected some of {sorted(_PROPERTY_FLAGS)}"
            )
        if not self.properties:
            raise ValueError(f"characteristic {self.uuid}: no properties")


@dataclasses.dataclass(frozen=True)
class ServiceSpec:
    """One primary service of a virtual sensor.

    Parameters
    ----------
    uuid : str
        16-bit or 128-bit service UUID.
    characteristics : sequence of CharacteristicSpec
        Its characteristics, in handle order.
    advertise : bool
        Whether the service UUID is listed in the advertisement.
    """

    uuid: str
    characteristics: Sequence[CharacteristicSpec]
    advertise: bool = True


@dataclasses.dataclass(frozen=True)
class WriteRecord:
    """A write received by the sensor.

    Attributes
    ----------
    uuid : str
        Normalized UUID of the characteristic written.
    data : bytes
        The bytes written.
    t_s : float
        Event-loop time of reception, in seconds.
    handled : bool
        False when the sensor was unresponsive and ignored it.
    """

    uuid: str
    data: bytes
    t_s: float
    handled: bool


class VirtualSensor:
    """A virtual BLE peripheral on a :class:`VirtualRadio`.

    The constructor only stores parameters; :meth:`start` (or ``async with``) attaches a
    controller to the radio, builds the GATT database and starts advertising.

    Parameters
    ----------
    radio : VirtualRadio
        The radio to attach to.
    name : str
        Advertised complete local name (also the GAP device name).
    address : str
        Random static address, ``"F0:00:00:00:00:01"``-style (top two bits set).
    services : sequence of ServiceSpec
        The GATT services.
    rssi_dbm : int or None
        Simulated RSSI seen by the central (None: the controller's -50 dBm).
    manufacturer_data : mapping of int to bytes, optional
        Company ID -> data, advertised.
    tx_power_dbm : int or None
        Advertised TX power level.
    advertising_interval_s : float
        Advertising interval, in seconds (20 ms default: scans find the sensor quickly).
    max_mtu : int
        Largest ATT MTU the sensor accepts in the MTU exchange.
    oversize : {"truncate", "raise"}
        What :meth:`notify` does with a payload longer than ``mtu - 3`` (see module notes).
    readvertise : bool
        Restart advertising after a disconnection.

    Attributes
    ----------
    writes : list of WriteRecord
        Every write received, in order.
    truncated_count : int
        Payloads cut to fit the MTU.
    sent_count : int
        Notifications and indications sent.
    connection_count : int
        Connections accepted so far.
    handler_errors : list of BaseException
        Exceptions raised by write handlers (also logged).
    """

    def __init__(
        self,
        radio: VirtualRadio,
        name: str,
        address: str,
        services: Sequence[ServiceSpec],
        *,
        rssi_dbm: int | None = -60,
        manufacturer_data: Mapping[int, bytes] | None = None,
        tx_power_dbm: int | None = None,
        advertising_interval_s: float = 0.02,
        max_mtu: int = 247,
        oversize: Literal["truncate", "raise"] = "truncate",
        readvertise: bool = True,
    ) -> None:
        if oversize not in ("truncate", "raise"):
            raise ValueError(f"oversize must be 'truncate' or 'raise', got {oversize!r}")
        if not att.ATT_DEFAULT_MTU <= max_mtu <= 517:
            raise ValueError(f"max_mtu must be in 23..517, got {max_mtu}")
        self.radio = radio
        self.name = name
        self.address = address.upper()
        self.services = tuple(services)
        self.rssi_dbm = rssi_dbm
        self.manufacturer_data = dict(manufacturer_data or {})
        self.tx_power_dbm = tx_power_dbm
        self.advertising_interval_s = advertising_interval_s
        self.max_mtu = max_mtu
        self.oversize = oversize
        self.readvertise = readvertise

        self.writes: list[WriteRecord] = []
        self.truncated_count = 0
        self.sent_count = 0
        self.connection_count = 0
        self.handler_errors: list[BaseException] = []

        self._specs: dict[str, CharacteristicSpec] = {}
        for service in self.services:
            for spec in service.characteristics:
                key = _normalize(spec.uuid)
                if key in self._specs:
                    raise ValueError(f"characteristic {spec.uuid} defined twice")
                self._specs[key] = spec
        self._values: dict[str, bytes] = {k: bytes(s.value) for k, s in self._specs.items()}
        self._chars: dict[str, Characteristic[bytes]] = {}
        self._device: Device | None = None
        self._connection: Connection | None = None
        self._subscriptions: dict[str, tuple[bool, bool]] = {}
        self._unresponsive = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._streams: set[asyncio.Task[int]] = set()
        self._changed: asyncio.Condition | None = None
        self._link_lost: asyncio.Event | None = None
        self._stopping = False
        self._advertise_task: asyncio.Task[None] | None = None

    # -- lifetime -----------------------------------------------------------------------------

    async def start(self) -> VirtualSensor:
        """Attach to the radio, build the GATT database and start advertising."""
        if self._device is not None:
            raise RuntimeError(f"virtual sensor {self.name} already started")
        self._stopping = False
        self._changed = asyncio.Condition()
        device = await self.radio.attach_device(self.name, self.address)
        device.gatt_server.max_mtu = self.max_mtu
        for service in self.services:
            chars = [self._make_characteristic(spec) for spec in service.characteristics]
            device.add_service(Service(_bumble_uuid(_normalize(service.uuid)), chars))
        device.on(device.EVENT_CONNECTION, self._on_connection)
        device.on("characteristic_subscription", self._on_subscription)
        await device.power_on()
        self._device = device
        self.radio.set_rssi(self.address, self.rssi_dbm)
        self.radio.on_close(self.stop)
        await self._advertise()
        return self

    async def stop(self) -> None:
        """Stop streams, drop the link, stop advertising and detach from the radio."""
        device = self._device
        if device is None:
            return
        self._stopping = True
        await self.stop_streams()
        if self._connection is not None:
            await self.drop_link()
        if self._advertise_task is not None:
            # let an HCI exchange in flight finish rather than cancel it midway
            await asyncio.gather(self._advertise_task, return_exceptions=True)
            self._advertise_task = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if device.is_advertising:
            await device.stop_advertising()
        await self.radio.detach_device(device)
        self._device = None

    async def __aenter__(self) -> VirtualSensor:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- state --------------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """Whether a central is connected."""
        return self._connection is not None

    @property
    def is_advertising(self) -> bool:
        """Whether the sensor is advertising."""
        return self._device is not None and bool(self._device.is_advertising)

    @property
    def mtu(self) -> int:
        """ATT MTU of the current connection (23 when not connected or not exchanged)."""
        return att.ATT_DEFAULT_MTU if self._connection is None else int(self._connection.att_mtu)

    def is_subscribed(self, uuid: str) -> bool:
        """Whether the central enabled notifications or indications on ``uuid``."""
        return any(self._subscriptions.get(_normalize(uuid), (False, False)))

    def set_unresponsive(self, unresponsive: bool = True) -> None:
        """Ignore (True) or handle (False) writes; ignored writes are still acknowledged."""
        self._unresponsive = unresponsive

    def value(self, uuid: str) -> bytes:
        """Current value returned by reads of ``uuid``."""
        return self._values[self._key(uuid)]

    def set_value(self, uuid: str, data: bytes) -> None:
        """Set the value returned by reads of ``uuid``."""
        self._values[self._key(uuid)] = bytes(data)

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 2.0) -> None:
        """Wait until ``predicate()`` is true.

        The predicate is re-checked at each state change of the sensor: connection,
        disconnection, MTU update, subscription change, write received.

        Raises
        ------
        TimeoutError
            Not true within ``timeout_s`` seconds.
        """
        assert self._changed is not None, "sensor not started"
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_connected(self, timeout_s: float = 2.0) -> None:
        """Wait until a central is connected."""
        await self.wait_for(lambda: self.is_connected, timeout_s)

    async def wait_subscribed(self, uuid: str, timeout_s: float = 2.0) -> None:
        """Wait until the central has subscribed to ``uuid``."""
        await self.wait_for(lambda: self.is_subscribed(uuid), timeout_s)

    # -- sending ------------------------------------------------------------------------------

    async def notify(self, uuid: str, payload: bytes) -> bool:
        """Send ``payload`` on ``uuid`` to the connected, subscribed central.

        Sent as a notification, or as an indication (waiting for the confirmation) when the
        central enabled indications only. The payload is sent as is (malformed or short
        payloads included) unless longer than ``mtu - 3``: see the ``oversize`` parameter.

        Returns
        -------
        bool
            False when nothing was sent: no connection or no subscription.

        Raises
        ------
        PayloadTooLargeError
            ``oversize="raise"`` and the payload exceeds ``mtu - 3`` bytes.
        """
        key = self._key(uuid)
        connection, device = self._connection, self._device
        if connection is None or device is None:
            return False
        notify_on, indicate_on = self._subscriptions.get(key, (False, False))
        if not (notify_on or indicate_on):
            return False
        data = self._fit(bytes(payload), int(connection.att_mtu))
        characteristic = self._chars[key]
        if notify_on:
            await device.notify_subscriber(connection, characteristic, data)
        elif not await self._unless_link_lost(
            device.indicate_subscriber(connection, characteristic, data)
        ):
            return False  # bumble would otherwise wait 30 s for the lost confirmation
        self.sent_count += 1
        return True

    def stream(self, uuid: str, payloads: Iterable[bytes], interval_s: float) -> asyncio.Task[int]:
        """Send ``payloads`` on ``uuid`` one every ``interval_s`` seconds, in a task.

        Packets are scheduled on an absolute timeline (no drift). The stream ends early,
        normally, when the link drops.

        Returns
        -------
        asyncio.Task of int
            Resolves to the number of packets actually sent. The sensor keeps a reference.
        """
        key = self._key(uuid)
        if interval_s < 0:
            raise ValueError(f"interval_s must be >= 0, got {interval_s}")
        task = asyncio.create_task(
            self._stream(key, iter(payloads), interval_s), name=f"{self.name} stream {key}"
        )
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)
        return task

    async def stop_streams(self) -> None:
        """Cancel running streams and wait for them to end."""
        streams = list(self._streams)
        for task in streams:
            task.cancel()
        await asyncio.gather(*streams, return_exceptions=True)

    async def drop_link(self) -> None:
        """Disconnect from the peripheral side (the central sees a remote termination)."""
        connection = self._connection
        if connection is None:
            return
        try:
            await connection.disconnect(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
        except core.BaseBumbleError:
            logger.debug("%s: disconnect failed", self.name, exc_info=True)

    # -- hooks --------------------------------------------------------------------------------

    async def on_write(self, uuid: str, data: bytes) -> None:
        """Handle an acknowledged write; calls the characteristic's ``on_write`` hook.

        Subclasses implementing a protocol may override this instead of using hooks.
        """
        handler = self._specs[uuid].on_write
        if handler is None:
            return
        result = handler(self, data)
        if inspect.isawaitable(result):
            await result

    # -- internals ----------------------------------------------------------------------------

    def _key(self, uuid: str) -> str:
        key = _normalize(uuid)
        if key not in self._specs:
            raise KeyError(f"virtual sensor {self.name} has no characteristic {uuid}")
        return key

    def _fit(self, data: bytes, mtu: int) -> bytes:
        limit = mtu - 3
        if len(data) <= limit:
            return data
        if self.oversize == "raise":
            raise PayloadTooLargeError(len(data), mtu)
        self.truncated_count += 1
        logger.debug("%s: truncating %d-byte payload to %d", self.name, len(data), limit)
        return data[:limit]

    def _make_characteristic(self, spec: CharacteristicSpec) -> Characteristic[bytes]:
        key = _normalize(spec.uuid)
        properties = Characteristic.Properties(0)
        for name in spec.properties:
            properties |= _PROPERTY_FLAGS[name]
        permissions = att.Attribute.Permissions(0)
        if "read" in spec.properties:
            permissions |= att.Attribute.READABLE
        if {"write", "write-without-response"} & set(spec.properties):
            permissions |= att.Attribute.WRITEABLE
        value = att.AttributeValue(
            read=lambda _connection, key=key: self._values[key],
            write=lambda _connection, data, key=key: self._on_att_write(key, data),
        )
        characteristic: Characteristic[bytes] = Characteristic(
            _bumble_uuid(key), properties, permissions, value
        )
        self._chars[key] = characteristic
        return characteristic

    def _on_att_write(self, key: str, data: bytes) -> None:
        handled = not self._unresponsive
        self.writes.append(
            WriteRecord(key, bytes(data), asyncio.get_running_loop().time(), handled)
        )
        self._notify_changed()
        if not handled:
            logger.debug("%s: unresponsive, ignoring write to %s", self.name, key)
            return
        self._spawn(self._run_write_handler(key, bytes(data)))

    async def _run_write_handler(self, key: str, data: bytes) -> None:
        try:
            await self.on_write(key, data)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("%s: write handler for %s failed", self.name, key)
            self.handler_errors.append(exc)

    async def _stream(self, key: str, payloads: Iterable[bytes], interval_s: float) -> int:
        loop = asyncio.get_running_loop()
        link_lost = self._link_lost
        if link_lost is None or link_lost.is_set():
            return 0
        t0 = loop.time()
        sent = 0
        for i, payload in enumerate(payloads):
            delay = t0 + i * interval_s - loop.time()
            if delay > 0:
                try:
                    async with asyncio.timeout(delay):
                        await link_lost.wait()
                except TimeoutError:
                    pass
            if link_lost.is_set():
                break
            if await self.notify(key, payload):
                sent += 1
        return sent

    async def _unless_link_lost(self, awaitable: Awaitable[None]) -> bool:
        """Await ``awaitable`` unless the link drops first (then cancel it, return False)."""
        link_lost = self._link_lost
        work = asyncio.ensure_future(awaitable)
        if link_lost is None:
            await work
            return True
        lost = asyncio.ensure_future(link_lost.wait())
        try:
            await asyncio.wait({work, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not work.done():
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
        if work.cancelled():
            return False
        work.result()
        return True

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _notify_changed(self) -> None:
        changed = self._changed
        if changed is None:
            return

        async def wake() -> None:
            async with changed:
                changed.notify_all()

        self._spawn(wake())

    async def _advertise(self) -> None:
        device = self._device
        if device is None or self._stopping:
            return
        interval_ms = self.advertising_interval_s * 1000.0
        await device.start_advertising(
            advertising_data=self._advertising_data(),
            advertising_interval_min=interval_ms,
            advertising_interval_max=interval_ms,
        )

    def _advertising_data(self) -> bytes:
        t = core.AdvertisingData.Type
        structures: list[tuple[int, bytes]] = [
            (t.FLAGS, bytes([0x06])),  # LE General Discoverable, BR/EDR not supported
            (t.COMPLETE_LOCAL_NAME, self.name.encode("utf-8")),
        ]
        uuids16, uuids128 = b"", b""
        for service in self.services:
            if not service.advertise:
                continue
            raw = _bumble_uuid(_normalize(service.uuid)).to_bytes()
            if len(raw) == 2:
                uuids16 += raw
            else:
                uuids128 += raw
        if uuids16:
            structures.append((t.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, uuids16))
        if uuids128:
            structures.append((t.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, uuids128))
        if self.tx_power_dbm is not None:
            structures.append(
                (t.TX_POWER_LEVEL, self.tx_power_dbm.to_bytes(1, "little", signed=True))
            )
        for company_id, data in self.manufacturer_data.items():
            structures.append(
                (t.MANUFACTURER_SPECIFIC_DATA, company_id.to_bytes(2, "little") + bytes(data))
            )
        # The virtual controller does not enforce the 31-byte legacy limit; a real sensor
        # with a long name and a 128-bit UUID would move the name to the scan response.
        return bytes(core.AdvertisingData(structures))

    def _on_connection(self, connection: Connection) -> None:
        if connection.role != hci.Role.PERIPHERAL:
            return
        self._connection = connection
        self._subscriptions = {}
        self._link_lost = asyncio.Event()
        self.connection_count += 1
        connection.on(
            connection.EVENT_DISCONNECTION,
            lambda reason: self._on_disconnection(connection, reason),
        )
        connection.on(connection.EVENT_CONNECTION_ATT_MTU_UPDATE, self._notify_changed)
        logger.debug("%s: connected to %s", self.name, connection.peer_address)
        self._notify_changed()

    def _on_disconnection(self, connection: Connection, reason: int) -> None:
        if connection is not self._connection:
            return
        logger.debug("%s: disconnected (reason 0x%02X)", self.name, reason)
        self._connection = None
        self._subscriptions = {}
        if self._link_lost is not None:
            self._link_lost.set()
        self._notify_changed()
        if self.readvertise and not self._stopping:
            self._advertise_task = asyncio.create_task(self._advertise())

    def _on_subscription(
        self,
        connection: Connection,
        characteristic: Characteristic[bytes],
        notify_enabled: bool,
        indicate_enabled: bool,
    ) -> None:
        if connection is not self._connection:
            return
        for key, char in self._chars.items():
            if char is characteristic:
                self._subscriptions[key] = (notify_enabled, indicate_enabled)
                self._notify_changed()
                return
