"""The ``scan`` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from downhill_live.errors import InputError, one_line
from downhill_live.source.ble import scan


def cmd_scan(args: argparse.Namespace) -> int:
    """List advertising devices and the firmware profile each matches."""

    if not args.timeout > 0:
        raise InputError("--timeout", f"must be > 0, got {args.timeout}")
    devices = asyncio.run(scan(args.timeout))
    out = sys.stdout
    if not devices:
        print(f"no Bluetooth LE devices found in {args.timeout:g} s", file=out)
        return 0
    print(f"{'address':<20} {'rssi':>5}  {'name':<28} firmware profile", file=out)
    for d in devices:
        rssi = "?" if d.rssi_dbm is None else str(d.rssi_dbm)
        print(
            f"{d.address:<20} {rssi:>5}  {(one_line(d.name) if d.name else '-'):<28} {d.profile or '-'}",
            file=out,
        )
    return 0


def register(subparsers: Any) -> None:
    """Add the ``scan`` command."""
    s = subparsers.add_parser(
        "scan",
        help="list Bluetooth LE devices and the firmware profile each matches",
        description="Scan for Bluetooth LE devices; print address, RSSI, name and the bundled "
        "firmware profile that matches each (strongest first).",
    )
    s.add_argument(
        "--timeout", type=float, default=5.0, metavar="S", help="scan time (default 5 s)"
    )
    s.set_defaults(func=cmd_scan)
