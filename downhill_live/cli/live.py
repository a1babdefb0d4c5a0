"""Command-line face of live mode: ``scan``, ``live`` and ``decode`` (registered by ``cli.py``).

``register(subparsers)`` adds the three sub-commands; each handler returns an exit code and
raises :class:`~downhill_live.errors.DownhillError` subclasses for user errors, which
``cli.main`` prints as one line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

from downhill_live.errors import (
    ConfigError,
    DecodeError,
    DownhillError,
    InputError,
    RecordingError,
)
from downhill_live.types import PLACEMENTS, Packet

#: where live sessions are recorded unless ``--record DIR`` says otherwise
DEFAULT_RECORD_DIR = "live-recordings"


class PayloadError(DecodeError):
    """One payload given to ``decode`` is not valid: names the payload and says why."""

    def __init__(self, number: int, total: int, text: str, message: str, stream: str) -> None:
        super().__init__(message, stream=stream, index=number)
        shown = text if len(text) <= 40 else text[:37] + "..."
        self.args = (f"payload {number} of {total} ({shown}) on {stream}: {message}",)

    def __str__(self) -> str:
        return str(self.args[0])


# ---------------------------------------------------------------------------------------------
# scan


def cmd_scan(args: argparse.Namespace) -> int:
    """List advertising devices and the firmware profile each matches."""
    from downhill_live.live import scan

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
            f"{d.address:<20} {rssi:>5}  {(d.name or '-'):<28} {d.profile or '-'}",
            file=out,
        )
    return 0


# ---------------------------------------------------------------------------------------------
# live


async def _pick_firmware(device: str | None, timeout_s: float) -> tuple[Any, str | None]:
    """Without ``--firmware``: scan, and take the profile of the device (or the first match)."""
    from downhill_live.config.firmware import load_firmware_profile
    from downhill_live.live import DeviceNotFoundError, scan

    found = await scan(timeout_s)
    want = device.lower() if device else None
    for d in found:
        if want is not None and want not in (d.address.lower(), (d.name or "").lower()):
            continue
        if d.profile is None:
            if want is not None:
                raise ConfigError(
                    "--firmware",
                    f"device {device!r} matches no bundled firmware profile; name one with "
                    "--firmware NAME|FILE",
                )
            continue
        return load_firmware_profile(d.profile), d.address
    what = f"device {device!r}" if device else "device matching a bundled firmware profile"
    raise DeviceNotFoundError(f"no {what} found within {timeout_s:g} s of scanning")


def _print_summary(summary: dict[str, Any], out: TextIO) -> None:
    from downhill_live.cli.main import _print_summary as print_summary

    if summary:
        print_summary(summary, out)


async def _live(args: argparse.Namespace, out: TextIO) -> int:
    from downhill_live.config.cue_profile import load_cue_profile
    from downhill_live.config.firmware import load_firmware_profile
    from downhill_live.live import LiveRunner, default_recording_path
    from downhill_live.speech import open_profile_speaker

    cues = load_cue_profile(args.profile)
    device_arg: str | None = args.device
    placement: str | None = args.placement
    scanner_backend = client_backend = None
    radio: Any = None
    vdev: Any = None
    extra: dict[str, Any] = {}
    known_settings: dict[str, Any] = {}
    if args.simulate is not None:
        from downhill_live.sim.bumble_backend import VirtualRadio
        from downhill_live.sim.recordings import coaching_course
        from downhill_live.sim.virtual_devices import (
            VirtualDevice,
            payloads_from_recording,
            simulated_payloads,
        )

        if args.simulate:
            firmware, payloads, settings, header = payloads_from_recording(args.simulate)
            if args.firmware:
                firmware = load_firmware_profile(args.firmware)
            placement = placement or header.get("placement")
            if placement is not None and placement not in PLACEMENTS:
                raise RecordingError(
                    args.simulate,
                    f"header key 'placement' must be one of {', '.join(PLACEMENTS)}, "
                    f"got {placement!r}",
                )
            known_settings = {k: v for k, v in settings.items() if k != "factor"}
            name = (header.get("device") or {}).get("name")
            extra = {"simulated": True, "source": str(args.simulate)}
        else:
            firmware = load_firmware_profile(args.firmware or "dhl-imu")
            src = simulated_payloads(firmware, coaching_course(), placement=placement, seed=1)
            payloads, settings, name = src.payloads, src.settings, None
            extra = {"simulated": True, "source": "downhill_live.sim.gait coaching course"}
        if args.speed != 1.0 and not firmware.has_acceleration:
            print(
                f"note: {firmware.name} has no sensor clock (time is the receive time): "
                f"--speed {args.speed:g} compresses its time as well",
                file=out,
            )
        radio = VirtualRadio()
        vdev = VirtualDevice(
            radio, firmware, payloads, name=name, settings=settings, speed=args.speed
        )
        scanner_backend, client_backend = radio.scanner_backend, radio.client_backend
        device_arg = device_arg or vdev.address
    elif args.firmware:
        firmware = load_firmware_profile(args.firmware)
    else:
        firmware, device_arg = await _pick_firmware(device_arg, args.scan_timeout)

    record_path = default_recording_path(args.record, firmware)
    s = cues.settings
    speaker = open_profile_speaker(s, speak=not args.no_speak)
    runner = LiveRunner(
        firmware,
        cues,
        device=device_arg,
        placement=placement,
        record_path=record_path,
        speaker=speaker,
        out=out,
        duration_s=args.duration,
        scanner_backend=scanner_backend,
        client_backend=client_backend,
        scan_timeout_s=args.scan_timeout,
        extra_header=extra,
        settings=known_settings,
    )
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, runner.request_stop)
    tasks: list[asyncio.Task[None]] = []
    try:
        if vdev is not None:
            await vdev.start()

            async def stop_when_done() -> None:
                await vdev.finished.wait()
                await asyncio.sleep(0.5)
                runner.request_stop()

            tasks.append(asyncio.create_task(stop_when_done()))
        where = f"a simulated {firmware.name}" if vdev is not None else f"a {firmware.name}"
        print(f"live: looking for {where} sensor; recording to {record_path}", file=out)
        print(speaker.description, file=out)
        result = await runner.run()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if vdev is not None:
            await vdev.stop()
        if radio is not None:
            await radio.close()
        speaker.close()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
    print(
        f"sensor {result.device_name or '?'} ({result.device_address}): "
        f"{result.packets_received} packets, {result.link_drops} link drop(s), "
        f"{result.reconnects} reconnection(s)",
        file=out,
    )
    _print_summary(result.summary, out)
    if result.recording is not None:
        print(
            f"recorded to {result.recording} (replay: downhill-live replay {result.recording})",
            file=out,
        )
    return 0


def cmd_live(args: argparse.Namespace) -> int:
    """Run a live session (or a simulated one with ``--simulate``)."""
    if args.duration is not None and not args.duration > 0:
        raise InputError("--duration", f"must be > 0, got {args.duration}")
    if not args.speed > 0:
        raise InputError("--speed", f"must be > 0, got {args.speed}")
    if not args.scan_timeout > 0:
        raise InputError("--scan-timeout", f"must be > 0, got {args.scan_timeout}")
    return asyncio.run(_live(args, sys.stdout))


# ---------------------------------------------------------------------------------------------
# decode


def _parse_setting(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise InputError("--set", f"expected key=value, got {text!r}")
    value: Any
    if raw.lower() in ("true", "false"):
        value = raw.lower() == "true"
    else:
        try:
            value = float(raw)
        except ValueError:
            raise InputError("--set", f"{key}: not a number or true/false: {raw!r}") from None
        if value.is_integer() and "." not in raw:
            value = int(value)
    return key.strip(), value


def _num(x: float | None, digits: int = 6) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return round(float(x), digits)


def decode_payloads(
    firmware_name: str,
    hex_payloads: list[str],
    *,
    settings: dict[str, Any] | None = None,
    stream: str | None = None,
) -> list[dict[str, Any] | DownhillError]:
    """Decode payloads with a firmware profile's decoder, in order (decoder state carries over).

    Returns one JSON-ready dict per payload, or the :class:`DownhillError` that payload raised.
    Acceleration streams give ``acc_g`` ([x, y, z] per sample), ``t_s`` (sensor time relative
    to the first decoded sample) and ``lost``; RSC gives ``speed_mps``, ``cadence_spm``,
    ``stride_m``, ``distance_m``, ``running``.
    """
    from downhill_live.config.firmware import load_firmware_profile
    from downhill_live.decode import RscDecoder, make_decoder
    from downhill_live.session import apply_settings

    firmware = apply_settings(load_firmware_profile(firmware_name), settings or {})
    if stream is None:
        if len(firmware.streams) != 1:
            raise ConfigError(
                "--stream",
                f"{firmware.name} has streams {', '.join(firmware.streams)}: name one",
            )
        stream = next(iter(firmware.streams))
    if stream not in firmware.streams:
        raise ConfigError("--stream", f"{firmware.name} has no stream {stream!r}")
    decoder = make_decoder(firmware, firmware.streams[stream])
    out: list[dict[str, Any] | DownhillError] = []
    n = len(hex_payloads)
    for i, text in enumerate(hex_payloads):
        try:
            payload = bytes.fromhex(text)
        except ValueError:
            out.append(PayloadError(i + 1, n, text, "not hex bytes", stream))
            continue
        try:
            samples = decoder.decode(Packet(0.0, stream, payload), i + 1)
        except DecodeError as exc:
            out.append(PayloadError(i + 1, n, text, exc.message, stream))
            continue
        doc: dict[str, Any] = {"payload": i + 1, "stream": stream, "bytes": len(payload)}
        if isinstance(decoder, RscDecoder):
            m = decoder.measurement_
            assert m is not None
            doc.update(
                speed_mps=_num(m.speed_mps),
                cadence_spm=m.cadence_spm,
                stride_m=m.stride_m,
                distance_m=m.distance_m,
                running=m.running,
            )
        else:
            doc.update(
                n_samples=len(samples.t_s),
                t_s=[_num(t, 9) for t in samples.t_s],
                acc_g=[[_num(v) for v in row] for row in samples.acc_g],
                lost=samples.lost,
            )
        out.append(doc)
    return out


def cmd_decode(args: argparse.Namespace) -> int:
    """Print one JSON object per payload; one error line per bad payload (exit code 1)."""
    settings = dict(_parse_setting(s) for s in args.set or [])
    results = decode_payloads(args.firmware, args.hex, settings=settings, stream=args.stream)
    failed = 0
    for r in results:
        if isinstance(r, DownhillError):
            failed += 1
            print(f"downhill-live: error: {r}", file=sys.stderr)
        else:
            print(json.dumps(r), file=sys.stdout)
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------
# registration


def register(subparsers: Any) -> None:
    """Add ``scan``, ``live`` and ``decode`` to the CLI's sub-parsers."""
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

    lv = subparsers.add_parser(
        "live",
        help="coach live from a BLE sensor (or a simulated one with --simulate)",
        description="Connect to a sensor, start it, record every notification and run the "
        "pipeline live: one line per cue, spoken cues, a status line on a terminal, a summary at "
        "the end (Ctrl-C stops cleanly). With --simulate, a virtual sensor on an in-process "
        "virtual radio streams a recording or a simulated run: no Bluetooth needed.",
    )
    lv.add_argument("--device", metavar="NAME|ADDRESS", help="device (default: first match)")
    lv.add_argument(
        "--profile", metavar="CUES.yaml", help="cue profile (default: the bundled profile)"
    )
    lv.add_argument(
        "--firmware",
        metavar="NAME|FILE",
        help="firmware profile (default: the one matching the device found by scanning; "
        "with --simulate and no recording: dhl-imu)",
    )
    lv.add_argument(
        "--record",
        metavar="DIR",
        type=Path,
        default=Path(DEFAULT_RECORD_DIR),
        help=f"folder for the recording (default ./{DEFAULT_RECORD_DIR})",
    )
    lv.add_argument(
        "--simulate",
        nargs="?",
        const="",
        metavar="RECORDING",
        help="use a virtual sensor: stream RECORDING, or a simulated run when none is given",
    )
    lv.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    lv.add_argument("--placement", choices=PLACEMENTS, help="override the sensor placement")
    lv.add_argument("--no-speak", action="store_true", help="print cues only, do not speak them")
    lv.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="N",
        help="with --simulate: play the virtual sensor N times faster than real time",
    )
    lv.add_argument(
        "--scan-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="time to find the device (default 10 s)",
    )
    lv.set_defaults(func=cmd_live)

    d = subparsers.add_parser(
        "decode",
        help="decode notification payloads (hex) with a firmware profile",
        description="Decode payloads given as hex with a firmware profile's decoder, in order; "
        "print one JSON object per payload (acceleration: acc_g and t_s; RSC: speed_mps, "
        "cadence_spm, stride_m, distance_m, running). A bad payload gives one error line naming "
        "it, and exit code 1.",
    )
    d.add_argument("firmware", metavar="FIRMWARE", help="firmware profile name or YAML file")
    d.add_argument("hex", nargs="+", metavar="HEX", help="payload bytes in hex")
    d.add_argument(
        "--set",
        action="append",
        metavar="key=value",
        help="stream setting, e.g. factor=0.000244 (PMD) or rate_hz=100; repeatable",
    )
    d.add_argument("--stream", metavar="NAME", help="stream (for profiles with several)")
    d.set_defaults(func=cmd_decode)


__all__ = [
    "DEFAULT_RECORD_DIR",
    "cmd_decode",
    "cmd_live",
    "cmd_scan",
    "decode_payloads",
    "register",
]
