"""Scanning for BLE devices (the ``scan`` command, live mode without ``--firmware``) and the
names of live recordings."""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from bleak import BleakScanner
from bleak.exc import BleakError

from downhill_live.config.firmware import FirmwareProfile, bundled_profiles
from downhill_live.source.ble_link import bluetooth_error, scanner_kw

__all__ = ["FoundDevice", "default_recording_path", "safe_file_part", "scan", "stdout_is_tty"]


class FoundDevice(NamedTuple):
    """One advertising device seen by :func:`scan`."""

    name: str | None
    address: str
    rssi_dbm: int | None
    profile: str | None  # name of the first matching bundled firmware profile


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
            timeout=timeout_s, return_adv=True, **scanner_kw(backend)
        )
    except (BleakError, OSError) as exc:
        raise bluetooth_error(exc) from None
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
