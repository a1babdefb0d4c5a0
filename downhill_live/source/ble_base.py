"""What every BLE link of live mode shares: its errors, its defaults, bleak's scanner keyword
arguments, and the :class:`~downhill_live.decode.Link` a decoder's start handshake talks
through (:class:`_ClientLink`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic

from downhill_live.errors import DownhillError

__all__ = [
    "DATA_TIMEOUT_S",
    "RECONNECT_BACKOFF_S",
    "SMALL_MTU",
    "BluetoothUnavailableError",
    "DeviceNotFoundError",
    "LinkOptions",
    "LiveError",
    "StartError",
    "bluetooth_error",
    "scanner_kw",
]

#: reconnection delays, s: first attempt after the first value, then the next ones, then the last
RECONNECT_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
#: the data watchdog's default: a link up but silent this long (s) counts as lost
DATA_TIMEOUT_S = 3.0
#: an ATT MTU below this is reported: most sensors send longer notifications
SMALL_MTU = 100


@dataclass(frozen=True)
class LinkOptions:
    """How every link of a live session finds, connects and keeps up its device: the
    :class:`~downhill_live.source.ble.LiveRunner` parameters of the same names, handed to each
    :class:`~downhill_live.source.ble_link.DeviceLink` as one value."""

    #: bleak backends (None: the OS backend)
    scanner_backend: type[Any] | None = None
    client_backend: type[Any] | None = None
    #: extra keyword arguments for ``BleakClient`` (e.g. ``{"bumble": {"mtu": 23}}``)
    client_kwargs: dict[str, Any] = field(default_factory=dict)
    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 10.0
    #: delays between reconnection attempts (and between the scans for a device not found)
    reconnect_backoff_s: tuple[float, ...] = RECONNECT_BACKOFF_S
    #: the data watchdog: a link up but silent this long counts as lost; None: off
    data_timeout_s: float | None = DATA_TIMEOUT_S


class LiveError(DownhillError):
    """Live mode cannot go on (no Bluetooth, no device, the sensor refused to start)."""


class BluetoothUnavailableError(LiveError):
    """The operating system's Bluetooth stack cannot be used."""


class DeviceNotFoundError(LiveError):
    """No advertising device matched within the scan time."""


class StartError(LiveError):
    """The sensor did not answer, or refused, its start sequence."""


def bluetooth_error(exc: BaseException) -> BluetoothUnavailableError:
    """The one-line error for an OS Bluetooth stack that cannot be used."""
    detail = str(exc) or type(exc).__name__
    return BluetoothUnavailableError(
        f"Bluetooth is not available ({type(exc).__name__}: {detail}); is there an adapter and "
        "is the BlueZ service running? Try 'live --simulate' for a virtual sensor"
    )


def scanner_kw(backend: type[Any] | None) -> BleakScanner.ExtraArgs:
    """``backend=`` for bleak's scanner class methods, left out for the OS backend.

    ``BleakScanner(backend=None)`` means the OS backend, but the class methods type ``backend``
    in their ``**kwargs`` as non-optional: leaving it out is the same at run time.
    """
    return {} if backend is None else {"backend": backend}


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
