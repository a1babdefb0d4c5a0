"""What a live session with one or several devices stores and reports: the devices beside the
strike device (:class:`BesideDevice`), the recording header (:func:`live_header`: the strike
device as for one device, the others under ``beside``, see :mod:`downhill_live.config.devices`)
and the result (:class:`LiveResult`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from downhill_live.config.devices import beside_header
from downhill_live.config.firmware import FirmwareProfile
from downhill_live.source.ble_link import DeviceLink

__all__ = ["BesideDevice", "LiveResult", "live_header", "live_result"]


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
    #: per device (the strike device first): name, address, firmware, packets, drops, reconnects
    devices: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class BesideDevice:
    """A device connected beside the one giving the strikes (``live --with``).

    Attributes
    ----------
    firmware : FirmwareProfile
        How to find and start it; only its streams without acceleration are used.
    device : str or None
        Advertised name or address; None: the first device the profile matches.
    settings : dict
        Stream settings known beforehand.
    """

    firmware: FirmwareProfile
    device: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def live_header(
    links: Sequence[DeviceLink],
    firmware: FirmwareProfile,
    *,
    placement: str,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The recording header of a live session (``links``: the strike device's first)."""
    first = links[0]
    dev = first.ble_device
    header: dict[str, Any] = {
        "device": {
            "name": dev.name if dev is not None else None,
            "address": dev.address if dev is not None else None,
        },
        "firmware": {"name": firmware.name, "yaml": firmware.source_text},
        "settings": first.settings,
        "placement": placement,
        "start_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "live": {"mtu": first.mtu, **extra},
    }
    if len(links) > 1:  # what replay needs to decode the other devices' streams
        header["beside"] = [
            beside_header(
                k.firmware,
                list(k.streams),
                name=k.ble_device.name if k.ble_device is not None else None,
                address=k.ble_device.address if k.ble_device is not None else None,
                settings=k.settings,
            )
            for k in links[1:]
        ]
    return header


def live_result(
    links: Sequence[DeviceLink],
    summary: dict[str, Any],
    recording: Path | None,
    notices: Sequence[str],
    *,
    device: str | None,
) -> LiveResult:
    """The :class:`LiveResult` of a session over ``links`` (totals over the devices)."""
    dev = links[0].ble_device if links else None
    devices = [
        {
            "name": k.ble_device.name if k.ble_device is not None else None,
            "address": k.ble_device.address if k.ble_device is not None else k.device,
            "firmware": k.firmware.name,
            "packets": k.packets_received,
            "link_drops": k.link_drops,
            "reconnects": k.reconnects,
        }
        for k in links
    ]
    return LiveResult(
        summary=summary,
        recording=recording,
        device_name=dev.name if dev is not None else None,
        device_address=dev.address if dev is not None else (device or ""),
        link_drops=sum(k.link_drops for k in links),
        reconnects=sum(k.reconnects for k in links),
        packets_received=sum(k.packets_received for k in links),
        notices=list(notices),
        devices=devices,
    )
