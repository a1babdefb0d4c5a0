"""What a live session with one or several devices stores and reports: the devices beside the
strike device (:class:`BesideDevice`), the recording header (:func:`live_header`: the strike
device as for one device, the others under ``beside``, see :mod:`downhill_live.config.devices`)
and the result (:class:`LiveResult`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from downhill_live.config.devices import beside_header, combine
from downhill_live.config.firmware import FirmwareProfile
from downhill_live.errors import one_line
from downhill_live.session import Session, apply_settings, fmt_value
from downhill_live.source.ble_link import DeviceLink, LiveError
from downhill_live.types import Step

__all__ = [
    "BesideDevice",
    "LiveResult",
    "check_distinct",
    "combined_firmware",
    "live_header",
    "live_result",
    "missing_label",
    "status_text",
]


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
    #: per device (the strike device first): name, address, firmware, found (False: a device
    #: beside it never found), packets, drops, reconnects
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
            "found": k.ble_device is not None,
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


def status_text(
    session: Session | None,
    st: Step | None,
    links: Sequence[DeviceLink],
    elapsed_s: int,
    pps: float,
) -> str:
    """The live status line (see :meth:`~downhill_live.source.ble.LiveRunner.status_line`);
    with several devices, each link's state by the device's name."""
    stats = session.stats if session is not None else None
    cad = fmt_value(st.cadence_spm) if st else "n/a"
    peak = fmt_value(st.peak_g) if st else "n/a"
    grade = fmt_value(st.grade_pct) if st else "n/a"
    state = ("descent" if st.on_descent else "flat") if st else "-"
    lost = stats.lost_samples if stats else 0
    bad = sum(stats.decode_errors.values()) if stats else 0
    clock = f"{elapsed_s // 60:02d}:{elapsed_s % 60:02d}"
    odo = session.odometer if session is not None else None
    dist = f"{odo.status_text()} | " if odo is not None and odo.known else ""  # foot pods
    if len(links) > 1:
        link = "links " + ", ".join(
            f"{(k.label or k.firmware.name)[:16]} {k.link_state}" for k in links
        )
    else:
        link = f"link {links[0].link_state if links else 'idle'}"
    return (
        f"{clock} | {cad} spm | {peak} g | grade {grade} % {state} | {dist}"
        f"{link} | {pps:.0f} pkt/s, lost {lost}, bad {bad}"
    )


def check_distinct(links: Sequence[DeviceLink]) -> None:
    """After the scan: two profiles that matched the same device are a :class:`LiveError`
    (each device is one link); with several devices, each link is labelled by its device's
    name (events and the status line say it). A device not found (no ``ble_device``: one
    beside the strike device, looked for in the background) is labelled by the name asked
    for, else what the device is (see :func:`missing_label`)."""
    seen: dict[str, DeviceLink] = {}
    for link in links:
        if link.ble_device is None:
            link.label = missing_label(link.firmware, link.device)
            continue
        addr = link.ble_device.address
        if addr in seen:
            raise LiveError(
                f"{link.describe()} matched both {seen[addr].firmware.name} and "
                f"{link.firmware.name}: name each device (--device, --with FIRMWARE=NAME)"
            )
        seen[addr] = link
        if len(links) > 1:
            name = link.ble_device.name
            link.label = one_line(name) if name else link.firmware.name


#: what a device beside the sensor is called aloud by the decoders of its streams, until it
#: is found (then it has its advertised name)
_SPOKEN_KIND = {"ftms": "treadmill", "thingy_pressure": "barometer", "sig_rsc": "foot pod"}
_ADDRESS = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f-]{36}$")


def missing_label(firmware: FirmwareProfile, device: str | None) -> str:
    """What a device not found at the start is called until the end of the session (events,
    speech, status line): the name asked for; for an address or no name, what the device is
    (by its streams' decoders: "treadmill", "barometer", "foot pod"), else its firmware
    profile's name. A runner hears "treadmill not found", not a profile or an address.

    Examples
    --------
    >>> from downhill_live.config.firmware import load_firmware_profile
    >>> tm = load_firmware_profile("sig-ftms-treadmill")
    >>> missing_label(tm, None), missing_label(tm, "F0:00:00:00:0D:02"), missing_label(tm, "KICKR")
    ('treadmill', 'treadmill', 'KICKR')
    >>> missing_label(load_firmware_profile("dhl-imu"), None)
    'dhl-imu'
    """
    if device and not _ADDRESS.match(device):
        return device
    for stream in firmware.streams.values():
        if stream.decoder in _SPOKEN_KIND:
            return _SPOKEN_KIND[stream.decoder]
    return firmware.name


def combined_firmware(strikes: FirmwareProfile, links: Sequence[DeviceLink]) -> FirmwareProfile:
    """What the session decodes: the strike device's profile and the other links' streams, each
    with the settings its device answered."""
    others = []
    for link in links[1:]:
        profile = apply_settings(link.firmware, link.settings)
        others.append((profile, {n: profile.streams[n] for n in link.streams}))
    return combine(apply_settings(strikes, links[0].settings), others)
