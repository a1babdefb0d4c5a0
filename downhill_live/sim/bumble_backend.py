"""A bleak backend over bumble's in-process virtual controllers (no hardware, no root).

bleak has no bumble backend; this module provides one. A :class:`VirtualRadio` holds a bumble
``LocalLink``: every virtual peripheral (see :mod:`downhill_live.sim.virtual_sensor`) and the
central's own controller attach to it, and traffic between them goes through a real BLE host
stack (HCI, L2CAP, ATT/GATT, MTU exchange, CCCD writes, notifications, indications). The
app talks to it through bleak's *public* API only, by passing the backend classes::

    BleakScanner(backend=radio.scanner_backend)
    BleakClient(device, backend=radio.client_backend)
    await BleakScanner.discover(timeout=0.2, return_adv=True, backend=radio.scanner_backend)
    await BleakScanner.find_device_by_name("Sensor", backend=radio.scanner_backend)

``BumbleScannerBackend`` / ``BumbleClientBackend`` (unbound) use the module-level default radio
(:func:`get_default_radio`); :func:`make_backend` or ``radio.scanner_backend`` /
``radio.client_backend`` give classes bound to one radio.

Example
-------
>>> import asyncio
>>> from bleak import BleakClient, BleakScanner
>>> from downhill_live.sim.bumble_backend import VirtualRadio
>>> from downhill_live.sim.virtual_sensor import CharacteristicSpec, ServiceSpec, VirtualSensor
>>> SVC, DATA = "0000ffe0-0000-1000-8000-00805f9b34fb", "0000ffe1-0000-1000-8000-00805f9b34fb"
>>> async def demo() -> list[bytes]:
...     async with VirtualRadio() as radio:
...         svc = ServiceSpec(SVC, (CharacteristicSpec(DATA, ("read", "notify"), b"\\x01"),))
...         async with VirtualSensor(radio, "Demo", "F0:00:00:00:00:01", [svc]):
...             dev = await BleakScanner.find_device_by_name(
...                 "Demo", timeout=2.0, backend=radio.scanner_backend
...             )
...             async with BleakClient(dev, backend=radio.client_backend) as client:
...                 return [bytes(await client.read_gatt_char(DATA)), bytes([client.mtu_size])]
>>> asyncio.run(demo())
[b'\\x01', b'\\xf7']

Notes
-----
* bumble's virtual controller sends every advertisement twice: once as the advertising report
  and once more, with the same data, as a scan response. The scanner backend uses the main
  advertisement only and ignores scan responses, so names and UUIDs are not duplicated.
* bumble's controller reports every advertisement at -50 dBm. The radio applies a simulated
  per-advertiser RSSI instead when one is registered (:meth:`VirtualRadio.set_rssi`;
  ``VirtualSensor(rssi_dbm=...)`` does this).
* The client requests an ATT MTU of 247 by default (``bumble={"mtu": N}`` keyword of
  ``BleakClient`` to change it; 23 skips the exchange). Without the exchange the MTU stays
  23 and notifications carry at most 20 bytes.
* bleak only logs an exception raised inside a user callback (notification, detection or
  disconnection callback). Here every such exception is also appended to
  :attr:`VirtualRadio.callback_errors`, so a test can assert that there were none.
  Exceptions raised by *async* notification callbacks happen in tasks that bleak itself
  creates; they are not counted (asyncio logs them when the task is collected).
* ``disconnected_callback`` is called on every disconnection, whether the peripheral dropped
  the link or the client called ``disconnect()``, as bleak's BlueZ and WinRT backends do.
* Pairing is not supported (``pair=True`` is logged and ignored; ``pair()``/``unpair()``
  raise ``NotImplementedError``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid as uuid_module
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypedDict, TypeVar

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bleak.uuids import normalize_uuid_str
from bumble import att, core, hci
from bumble.controller import Controller
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt import Characteristic
from bumble.gatt_client import CharacteristicProxy
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

if TYPE_CHECKING:  # a Literal alias, needed for type checking only
    from bleak.assigned_numbers import CharacteristicPropertyName

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MTU",
    "BumbleClientArgs",
    "BumbleClientBackend",
    "BumbleDeviceDetails",
    "BumbleScannerBackend",
    "CallbackError",
    "VirtualRadio",
    "get_default_radio",
    "make_backend",
    "set_default_radio",
]

_T = TypeVar("_T")

DEFAULT_MTU = 247
"""ATT MTU the client requests unless told otherwise (244-byte notification payloads)."""

ATT_MIN_MTU = att.ATT_DEFAULT_MTU  # 23
_CONNECT_GRACE_S = 1.0

_PROPERTY_NAMES: tuple[tuple[Characteristic.Properties, CharacteristicPropertyName], ...] = (
    (Characteristic.Properties.BROADCAST, "broadcast"),
    (Characteristic.Properties.READ, "read"),
    (Characteristic.Properties.WRITE_WITHOUT_RESPONSE, "write-without-response"),
    (Characteristic.Properties.WRITE, "write"),
    (Characteristic.Properties.NOTIFY, "notify"),
    (Characteristic.Properties.INDICATE, "indicate"),
    (Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES, "authenticated-signed-writes"),
    (Characteristic.Properties.EXTENDED_PROPERTIES, "extended-properties"),
)

_SIG_BASE_SUFFIX = "-0000-1000-8000-00805f9b34fb"


def uuid_from_le_bytes(raw: bytes) -> str:
    """Convert a little-endian 16-, 32- or 128-bit UUID to bleak's normalized string.

    Parameters
    ----------
    raw : bytes
        2, 4 or 16 bytes, little-endian, as carried in advertisements and ATT PDUs.

    Returns
    -------
    str
        Lower-case 128-bit UUID string, e.g. ``"0000180d-0000-1000-8000-00805f9b34fb"``.
    """
    if len(raw) in (2, 4):
        return f"{int.from_bytes(raw, 'little'):08x}{_SIG_BASE_SUFFIX}"
    if len(raw) == 16:
        return str(uuid_module.UUID(bytes=bytes(reversed(raw))))
    raise ValueError(f"a UUID has 2, 4 or 16 bytes, got {len(raw)}")


def _bumble_uuid_str(value: core.UUID) -> str:
    return uuid_from_le_bytes(value.to_bytes())


def property_names(properties: int) -> list[CharacteristicPropertyName]:
    """Map GATT characteristic property bits to bleak's property names."""
    return [name for flag, name in _PROPERTY_NAMES if properties & flag]


@dataclasses.dataclass(frozen=True)
class CallbackError:
    """An exception raised by a user callback that bleak would only have logged.

    Attributes
    ----------
    kind : str
        ``"notify"``, ``"detection"`` or ``"disconnected"``.
    address : str
        Address of the peer concerned.
    exception : BaseException
        The exception itself.
    """

    kind: Literal["notify", "detection", "disconnected"]
    address: str
    exception: BaseException


@dataclasses.dataclass(frozen=True)
class BumbleDeviceDetails:
    """``BLEDevice.details`` for devices found on a :class:`VirtualRadio`.

    Attributes
    ----------
    address : bumble.hci.Address
        The advertiser's address, with its address type.
    advertisement : bumble.device.Advertisement
        The last main advertisement received from it.
    """

    address: hci.Address
    advertisement: Advertisement


class BumbleClientArgs(TypedDict, total=False):
    """Backend-specific ``BleakClient(..., bumble={...})`` options.

    Attributes
    ----------
    mtu : int
        ATT MTU to request after connecting (default :data:`DEFAULT_MTU`); 23 skips the
        exchange, leaving the ATT default.
    """

    mtu: int


class _CentralController(Controller):
    """bumble's virtual controller, completing *LE Create Connection Cancel* as the spec says.

    bumble 0.0.236's controller acknowledges the cancel but neither forgets the pending
    connection nor reports its end, so bumble's host waits forever after a connection timeout
    (and a later advertisement from that peer would create an orphan connection). Per Core
    Vol 4, Part E, 7.8.13, a successful cancel is followed by an LE Connection Complete event
    with status Unknown Connection Identifier (0x02).
    """

    def on_hci_le_create_connection_cancel_command(
        self, _command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        pending = self.pending_le_connection
        if pending is None:
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        self.pending_le_connection = None
        event = hci.HCI_LE_Connection_Complete_Event(
            status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
            connection_handle=0,
            role=hci.Role.CENTRAL,
            peer_address_type=pending.peer_address_type,
            peer_address=pending.peer_address,
            connection_interval=0,
            peripheral_latency=0,
            supervision_timeout=0,
            central_clock_accuracy=0,
        )
        # scheduled now, delivered after the Command Complete that the caller sends next
        asyncio.get_running_loop().call_soon(self.send_hci_packet, event)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)


class VirtualRadio:
    """The shared virtual "air" that peripherals and the central attach to.

    Holds one bumble ``LocalLink``. The central side (one controller + host, shared by every
    scanner and client backend bound to this radio, like one Bluetooth adapter) is created
    lazily inside the running event loop. A radio is bound to the event loop that first uses
    it; create one per event loop (per test).

    Parameters
    ----------
    central_address : str
        Random static address of the central's controller.

    Attributes
    ----------
    link : bumble.link.LocalLink
        The link all controllers attach to.
    callback_errors : list of CallbackError
        Exceptions raised by user callbacks (bleak only logs them).
    """

    def __init__(self, central_address: str = "C0:DE:00:00:00:01") -> None:
        self.link = LocalLink()
        self.central_address = central_address
        self.callback_errors: list[CallbackError] = []
        self._rssi_dbm: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._central: Device | None = None
        self._central_controller: Controller | None = None
        self._lock: asyncio.Lock | None = None
        self._connect_lock: asyncio.Lock | None = None
        self._scanners: list[BumbleScannerBackend] = []
        self._peripherals: list[tuple[Controller, Device]] = []
        self._closers: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._backends: tuple[type[BumbleScannerBackend], type[BumbleClientBackend]] | None = None

    # -- binding ------------------------------------------------------------------------------

    @property
    def scanner_backend(self) -> type[BumbleScannerBackend]:
        """A ``BaseBleakScanner`` subclass bound to this radio (for ``backend=``)."""
        return self._backend_classes()[0]

    @property
    def client_backend(self) -> type[BumbleClientBackend]:
        """A ``BaseBleakClient`` subclass bound to this radio (for ``backend=``)."""
        return self._backend_classes()[1]

    def _backend_classes(
        self,
    ) -> tuple[type[BumbleScannerBackend], type[BumbleClientBackend]]:
        if self._backends is None:
            scanner = type("BumbleScannerBackend", (BumbleScannerBackend,), {"radio": self})
            client = type("BumbleClientBackend", (BumbleClientBackend,), {"radio": self})
            self._backends = (scanner, client)
        return self._backends

    @property
    def callback_error_count(self) -> int:
        """Number of exceptions raised by user callbacks so far."""
        return len(self.callback_errors)

    def record_callback_error(
        self,
        kind: Literal["notify", "detection", "disconnected"],
        address: str,
        exception: BaseException,
    ) -> None:
        """Log and remember an exception raised by a user callback."""
        logger.error("exception in %s callback for %s", kind, address, exc_info=exception)
        self.callback_errors.append(CallbackError(kind, address, exception))

    def set_rssi(self, address: str, rssi_dbm: int | None) -> None:
        """Set the simulated RSSI reported for an advertiser (``None``: controller's value)."""
        key = address.upper()
        if rssi_dbm is None:
            self._rssi_dbm.pop(key, None)
        else:
            self._rssi_dbm[key] = int(rssi_dbm)

    def rssi_for(self, address: str, reported_dbm: int) -> int:
        """RSSI to report for an advertisement from ``address``."""
        return self._rssi_dbm.get(address.upper(), reported_dbm)

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._lock = asyncio.Lock()
            self._connect_lock = asyncio.Lock()
        elif self._loop is not loop:
            raise BleakError(
                "this VirtualRadio is bound to another event loop; create one radio per loop"
            )
        return loop

    # -- controllers --------------------------------------------------------------------------

    async def attach_device(self, name: str, address: str) -> Device:
        """Create a controller + host + bumble ``Device`` on this radio (not powered on).

        Parameters
        ----------
        name : str
            Device (GAP) name.
        address : str
            Random static address, ``"XX:XX:XX:XX:XX:XX"``.

        Returns
        -------
        bumble.device.Device
            The device; call ``await device.power_on()`` after adding GATT services.
        """
        self._bind_loop()
        controller = Controller(name, link=self.link)
        device = Device(
            name=name,
            address=hci.Address(address),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        self._peripherals.append((controller, device))
        return device

    async def detach_device(self, device: Device) -> None:
        """Power a device off and remove its controller from the link."""
        for i, (controller, dev) in enumerate(self._peripherals):
            if dev is device:
                del self._peripherals[i]
                await device.power_off()
                if controller in self.link.controllers:
                    self.link.remove_controller(controller)
                return

    def on_close(self, closer: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Register a coroutine function awaited by :meth:`close` (used by virtual sensors)."""
        self._closers.append(closer)

    async def central(self) -> Device:
        """The central's powered-on bumble ``Device`` (created on first use)."""
        self._bind_loop()
        assert self._lock is not None
        async with self._lock:
            if self._central is None:
                controller = _CentralController("central", link=self.link)
                device = Device(
                    name="downhill-live central",
                    address=hci.Address(self.central_address),
                    host=Host(controller, AsyncPipeSink(controller)),
                )
                device.on(device.EVENT_ADVERTISEMENT, self._on_advertisement)
                await device.power_on()
                self._central, self._central_controller = device, controller
            return self._central

    # -- scanning -----------------------------------------------------------------------------

    async def _add_scanner(self, scanner: BumbleScannerBackend, active: bool) -> None:
        central = await self.central()
        assert self._lock is not None
        async with self._lock:
            if scanner not in self._scanners:
                self._scanners.append(scanner)
            if not central.is_scanning:
                await central.start_scanning(active=active, filter_duplicates=False)

    async def _remove_scanner(self, scanner: BumbleScannerBackend) -> None:
        if scanner in self._scanners:
            self._scanners.remove(scanner)
        central = self._central
        if central is None or self._scanners or not central.is_scanning:
            return
        assert self._lock is not None
        async with self._lock:
            if not self._scanners and central.is_scanning:
                await central.stop_scanning()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        # The virtual controller repeats the advertising data as a scan response, which
        # bumble then merges with the advertisement (duplicated names and UUIDs): use only
        # the main advertisement.
        if advertisement.is_scan_response:
            return
        for scanner in list(self._scanners):
            scanner._on_advertisement(advertisement)

    async def find_address(self, address: str, timeout_s: float) -> hci.Address | None:
        """Scan until ``address`` advertises; return its bumble address, or None on timeout."""
        found: asyncio.Future[hci.Address] = asyncio.get_running_loop().create_future()
        wanted = address.upper()

        def on_adv(_device: BLEDevice, adv: AdvertisementData) -> None:
            details = adv.platform_data[0]
            if _device.address.upper() == wanted and not found.done():
                found.set_result(details.address)

        scanner = BumbleScannerBackend(on_adv, None, radio=self)
        await scanner.start()
        try:
            async with asyncio.timeout(timeout_s):
                return await found
        except TimeoutError:
            return None
        finally:
            await scanner.stop()

    # -- lifetime -----------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop registered sensors, scanning and connections, and detach every controller."""
        for closer in reversed(self._closers):
            try:
                await closer()
            except Exception:
                logger.exception("error while closing a virtual peripheral")
        self._closers.clear()
        self._scanners.clear()
        central = self._central
        if central is not None:
            if central.is_scanning:
                await central.stop_scanning()
            for connection in list(central.connections.values()):
                try:
                    await connection.disconnect()
                except core.BaseBumbleError:
                    logger.debug("disconnect during close failed", exc_info=True)
            await central.power_off()
            if self._central_controller in self.link.controllers:
                self.link.remove_controller(self._central_controller)
            self._central = self._central_controller = None
        for _controller, device in list(self._peripherals):
            await self.detach_device(device)
        # let bumble's call_soon() deliveries settle before the loop goes away
        await asyncio.sleep(0)

    async def __aenter__(self) -> VirtualRadio:
        self._bind_loop()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


_default_radio: VirtualRadio | None = None


def get_default_radio() -> VirtualRadio:
    """The module-level radio used by unbound backend classes.

    Created on first use, and again when the loop it was bound to has been closed (so that
    successive ``asyncio.run()`` calls each get a fresh radio).
    """
    global _default_radio
    loop = None if _default_radio is None else _default_radio._loop
    if _default_radio is None or (loop is not None and loop.is_closed()):
        _default_radio = VirtualRadio()
    return _default_radio


def set_default_radio(radio: VirtualRadio | None) -> None:
    """Replace (or with ``None`` reset) the module-level default radio."""
    global _default_radio
    _default_radio = radio


def make_backend(
    radio: VirtualRadio,
) -> tuple[type[BumbleScannerBackend], type[BumbleClientBackend]]:
    """Scanner and client backend classes bound to ``radio``, for bleak's ``backend=``."""
    return radio.scanner_backend, radio.client_backend


def _parse_advertisement(
    radio: VirtualRadio, advertisement: Advertisement
) -> tuple[str | None, AdvertisementData]:
    local_name: str | None = None
    short_name: str | None = None
    manufacturer_data: dict[int, bytes] = {}
    service_data: dict[str, bytes] = {}
    service_uuids: list[str] = []
    tx_power: int | None = None
    t = core.AdvertisingData.Type
    for ad_type, data in advertisement.data.ad_structures:
        if ad_type == t.COMPLETE_LOCAL_NAME:
            local_name = data.decode("utf-8", errors="replace")
        elif ad_type == t.SHORTENED_LOCAL_NAME:
            short_name = data.decode("utf-8", errors="replace")
        elif ad_type in (
            t.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            t.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        ):
            service_uuids += [uuid_from_le_bytes(data[i : i + 2]) for i in range(0, len(data), 2)]
        elif ad_type in (
            t.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
            t.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
        ):
            service_uuids += [uuid_from_le_bytes(data[i : i + 4]) for i in range(0, len(data), 4)]
        elif ad_type in (
            t.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
            t.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        ):
            service_uuids += [uuid_from_le_bytes(data[i : i + 16]) for i in range(0, len(data), 16)]
        elif ad_type == t.SERVICE_DATA_16_BIT_UUID and len(data) >= 2:
            service_data[uuid_from_le_bytes(data[:2])] = bytes(data[2:])
        elif ad_type == t.SERVICE_DATA_32_BIT_UUID and len(data) >= 4:
            service_data[uuid_from_le_bytes(data[:4])] = bytes(data[4:])
        elif ad_type == t.SERVICE_DATA_128_BIT_UUID and len(data) >= 16:
            service_data[uuid_from_le_bytes(data[:16])] = bytes(data[16:])
        elif ad_type == t.MANUFACTURER_SPECIFIC_DATA and len(data) >= 2:
            manufacturer_data[int.from_bytes(data[:2], "little")] = bytes(data[2:])
        elif ad_type == t.TX_POWER_LEVEL and len(data) >= 1:
            tx_power = int.from_bytes(data[:1], "little", signed=True)
    address = advertisement.address.to_string(False)
    details = BumbleDeviceDetails(advertisement.address, advertisement)
    adv = AdvertisementData(
        local_name=local_name if local_name is not None else short_name,
        manufacturer_data=manufacturer_data,
        service_data=service_data,
        service_uuids=service_uuids,
        tx_power=tx_power,
        rssi=radio.rssi_for(address, advertisement.rssi),
        platform_data=(details,),
    )
    return adv.local_name, adv


class BumbleScannerBackend(BaseBleakScanner):
    """bleak scanner backend listening on a :class:`VirtualRadio`.

    Bound subclasses come from :func:`make_backend`; this class itself uses the radio given
    as ``radio=`` or else :func:`get_default_radio`.
    """

    radio: ClassVar[VirtualRadio | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        *,
        radio: VirtualRadio | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        if service_uuids is not None:
            self._service_uuids = [normalize_uuid_str(u) for u in service_uuids]
        self._radio = radio or type(self).radio or get_default_radio()
        self._active = scanning_mode == "active"

    async def start(self) -> None:
        """Start scanning (clears :attr:`seen_devices`)."""
        self.seen_devices = {}
        await self._radio._add_scanner(self, self._active)

    async def stop(self) -> None:
        """Stop scanning."""
        await self._radio._remove_scanner(self)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        name, adv = _parse_advertisement(self._radio, advertisement)
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        address = advertisement.address.to_string(False)
        device = self.create_or_update_device(address, address, name, adv.platform_data[0], adv)
        try:
            self.call_detection_callbacks(device, adv)
        except Exception as exc:
            self._radio.record_callback_error("detection", address, exc)


class BumbleClientBackend(BaseBleakClient):
    """bleak client backend connecting over a :class:`VirtualRadio`.

    Accepts the usual ``BleakClient`` arguments plus ``bumble={"mtu": N}``
    (:class:`BumbleClientArgs`).
    """

    radio: ClassVar[VirtualRadio | None] = None

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        services: set[str] | None = None,
        bumble: BumbleClientArgs | None = None,
        radio: VirtualRadio | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._radio = radio or type(self).radio or get_default_radio()
        options = bumble or {}
        self._requested_mtu = int(options.get("mtu", DEFAULT_MTU))
        if not ATT_MIN_MTU <= self._requested_mtu <= 517:
            raise ValueError(f"mtu must be in 23..517, got {self._requested_mtu}")
        self._service_filter = None if services is None else sorted(services)
        self._peer_address: hci.Address | None = None
        self._name: str | None = None
        if isinstance(address_or_ble_device, BLEDevice):
            self._name = address_or_ble_device.name
            details = address_or_ble_device.details
            if isinstance(details, BumbleDeviceDetails):
                self._peer_address = details.address
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    # -- properties ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """Advertised/GAP name, or the address with dashes when unknown."""
        return self._name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """Negotiated ATT MTU (23 when not connected)."""
        if self._connection is None:
            return ATT_MIN_MTU
        return int(self._connection.att_mtu)

    @property
    def is_connected(self) -> bool:
        """Whether the link is up."""
        return self._connection is not None

    # -- connection ---------------------------------------------------------------------------

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, exchange the MTU and discover services, all within the timeout.

        Raises
        ------
        BleakDeviceNotFoundError
            The address (given as a string) was not seen advertising within the timeout.
        TimeoutError
            The connection or the discovery did not complete within the timeout.
        """
        if self.is_connected:
            raise BleakError("Client is already connected")
        if pair:
            logger.warning("pairing is not supported by the bumble backend; ignoring pair=True")
        timeout_s = float(kwargs.get("timeout", self._timeout))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        radio = self._radio
        central = await radio.central()
        assert radio._connect_lock is not None
        if self._peer_address is None:
            # like bleak's BlueZ backend: an address string means "scan for it first"
            found = await radio.find_address(self.address, timeout_s)
            if found is None:
                raise BleakDeviceNotFoundError(
                    self.address, f"Device with address {self.address} was not found."
                )
            self._peer_address = found
        timeout_message = f"connecting to {self.address} timed out after {timeout_s:g} s"
        try:
            async with asyncio.timeout_at(deadline):
                await radio._connect_lock.acquire()  # one connection attempt at a time
        except TimeoutError:
            raise TimeoutError(timeout_message) from None
        try:
            # bumble's own timeout (not a cancellation) so that it cancels the HCI request;
            # the outer one, with some grace, only guarantees that this never hangs
            async with asyncio.timeout_at(deadline + _CONNECT_GRACE_S):
                connection = await central.connect(
                    self._peer_address, timeout=max(deadline - loop.time(), 0.001)
                )
        except (core.TimeoutError, TimeoutError) as exc:
            raise TimeoutError(timeout_message) from exc
        except core.ConnectionError as exc:
            raise BleakError(f"connecting to {self.address} failed: {exc}") from exc
        finally:
            radio._connect_lock.release()
        try:
            async with asyncio.timeout_at(deadline):
                await self._setup(connection)
        except BaseException:
            self._connection = None
            self._peer = None
            self.services = None
            if connection.handle in central.connections:
                await self._disconnect_quietly(connection)
            raise

    async def _setup(self, connection: Connection) -> None:
        self._connection = connection
        self._subscribers = {}
        connection.on(
            connection.EVENT_DISCONNECTION,
            lambda reason: self._on_disconnection(connection, reason),
        )
        peer = Peer(connection)
        self._peer = peer
        if self._requested_mtu > ATT_MIN_MTU:
            await self._gatt(peer.request_mtu(self._requested_mtu))
        self.services = await self._discover(peer)
        if self._name is None:
            self._name = await self._read_device_name(peer)
        logger.debug("connected to %s, mtu %d", self.address, self.mtu_size)

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        uuids = (
            None if self._service_filter is None else [core.UUID(u) for u in self._service_filter]
        )
        services = await self._gatt(peer.discover_services(uuids or ()))
        collection = BleakGATTServiceCollection()
        for service in services:
            await self._gatt(service.discover_characteristics())
            bleak_service = BleakGATTService(
                service, service.handle, _bumble_uuid_str(service.uuid)
            )
            collection.add_service(bleak_service)
            for char in service.characteristics:
                await self._gatt(peer.discover_descriptors(char))
                bleak_char = BleakGATTCharacteristic(
                    char,
                    char.handle,
                    _bumble_uuid_str(char.uuid),
                    property_names(int(char.properties)),
                    lambda: self.mtu_size - 3,
                    bleak_service,
                )
                collection.add_characteristic(bleak_char)
                for desc in char.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            desc, desc.handle, _bumble_uuid_str(desc.type), bleak_char
                        )
                    )
        return collection

    async def _read_device_name(self, peer: Peer) -> str | None:
        assert self.services is not None
        char = self.services.get_characteristic("2a00")
        if char is None:
            return None
        try:
            value = await self._gatt(peer.read_value(char.handle))
        except BleakError:
            return None
        return bytes(value).decode("utf-8", errors="replace") or None

    def _on_disconnection(self, connection: Connection, reason: int) -> None:
        if self._connection is not connection:
            return
        logger.debug("%s disconnected (reason 0x%02X)", self.address, reason)
        self._connection = None
        self._peer = None
        self._subscribers = {}
        self.services = None
        if self._disconnected_callback is not None:
            try:
                self._disconnected_callback()
            except Exception as exc:
                self._radio.record_callback_error("disconnected", self.address, exc)

    async def _disconnect_quietly(self, connection: Connection) -> None:
        try:
            await connection.disconnect()
        except core.BaseBumbleError:
            logger.debug("disconnect of %s failed", self.address, exc_info=True)

    async def disconnect(self) -> None:
        """Disconnect (no-op when not connected)."""
        connection = self._connection
        if connection is None:
            return
        await self._disconnect_quietly(connection)
        # the disconnection event has been handled by now; make sure state is cleared
        self._on_disconnection(connection, hci.HCI_CONNECTION_TERMINATED_BY_LOCAL_HOST_ERROR)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Not supported."""
        raise NotImplementedError("pairing is not supported by the bumble backend")

    async def unpair(self) -> None:
        """Not supported."""
        raise NotImplementedError("pairing is not supported by the bumble backend")

    # -- GATT ---------------------------------------------------------------------------------

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def _gatt(self, awaitable: Coroutine[Any, Any, _T]) -> _T:
        """Await a bumble GATT call, mapping its errors to bleak's."""
        connection = self._connection
        try:
            return await awaitable
        except att.ATT_Error as exc:
            raise BleakGATTProtocolError(exc.error_code) from exc
        except core.TimeoutError as exc:
            raise TimeoutError(f"GATT request to {self.address} timed out") from exc
        except asyncio.CancelledError:
            # bumble cancels the pending ATT response future when the link drops; only a
            # cancellation of *our* task is a real cancellation
            task = asyncio.current_task()
            if (task is None or not task.cancelling()) and self._connection is not connection:
                raise BleakError(f"{self.address} disconnected during a GATT request") from None
            raise

    async def read_gatt_char(
        self,
        characteristic: BleakGATTCharacteristic,
        *,
        use_cached: bool = False,
        **kwargs: Any,
    ) -> bytearray:
        """Read a characteristic value (``use_cached`` is ignored)."""
        peer = self._require_peer()
        return bytearray(await self._gatt(peer.read_value(characteristic.handle)))

    async def read_gatt_descriptor(
        self,
        descriptor: BleakGATTDescriptor,
        *,
        use_cached: bool = False,
        **kwargs: Any,
    ) -> bytearray:
        """Read a descriptor value (``use_cached`` is ignored)."""
        peer = self._require_peer()
        return bytearray(await self._gatt(peer.read_value(descriptor.handle)))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        """Write with response (ATT Write Request) or without (ATT Write Command)."""
        peer = self._require_peer()
        await self._gatt(peer.write_value(characteristic.handle, bytes(data), response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        """Write a descriptor value (with response)."""
        peer = self._require_peer()
        await self._gatt(peer.write_value(descriptor.handle, bytes(data), True))

    async def start_notify(
        self,
        characteristic: BleakGATTCharacteristic,
        callback: NotifyCallback,
        **kwargs: Any,
    ) -> None:
        """Enable notifications (preferred) or indications and route them to ``callback``."""
        peer = self._require_peer()
        proxy = characteristic.obj
        if not isinstance(proxy, CharacteristicProxy):
            raise BleakError(f"{characteristic} does not belong to this backend")
        props = set(characteristic.properties)
        if not props & {"notify", "indicate"}:
            raise BleakError(f"{characteristic.uuid} supports neither notify nor indicate")
        if proxy.get_descriptor(core.UUID.from_16_bits(0x2902)) is None:
            raise BleakError(f"{characteristic.uuid} has no CCCD (0x2902)")
        address = self.address

        def subscriber(value: bytes) -> None:
            try:
                callback(bytearray(value))
            except Exception as exc:
                self._radio.record_callback_error("notify", address, exc)

        previous = self._subscribers.pop(characteristic.handle, None)
        if previous is not None:
            await self._gatt(peer.unsubscribe(proxy, previous))
        self._subscribers[characteristic.handle] = subscriber
        await self._gatt(peer.subscribe(proxy, subscriber, prefer_notify=True))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Disable notifications/indications on ``characteristic``."""
        peer = self._require_peer()
        subscriber = self._subscribers.pop(characteristic.handle, None)
        if subscriber is None:
            return
        await self._gatt(peer.unsubscribe(characteristic.obj, subscriber))
