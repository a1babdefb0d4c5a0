"""The ``live`` command: coach live from a BLE sensor, or a virtual one with ``--simulate``.

The handler returns an exit code and raises :class:`~downhill_live.errors.DownhillError`
subclasses for user errors, which :func:`downhill_live.cli.main` prints as one line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any, TextIO

import platformdirs

from downhill_live.cli.console import (
    ConsoleSink,
    detector_cached,
    prepare_live,
    print_summary,
)
from downhill_live.cli.history import DEFAULT_RUNNER, add_history_options
from downhill_live.config.cue_profile import DEFAULT_PROFILE, load_cue_profile
from downhill_live.config.firmware import load_firmware_profile
from downhill_live.errors import (
    ConfigError,
    DownhillError,
    InputError,
)
from downhill_live.sinks import SpeakerSink
from downhill_live.source.ble import (
    BesideDevice,
    DeviceNotFoundError,
    LiveRunner,
    default_recording_path,
    missing_label,
    scan,
)
from downhill_live.source.virtual import VirtualSensor, open_virtual_sensor
from downhill_live.speech import start_profile_speaker
from downhill_live.types import PLACEMENTS

#: where live sessions are recorded unless ``--record DIR`` says otherwise
DEFAULT_RECORD_DIR = platformdirs.user_data_path("downhill-live") / "recordings"
#: signals that end a live session like Ctrl-C: stop command, flush, fsync, summary
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: the firmware profile ``--treadmill`` adds beside the sensor
TREADMILL_FIRMWARE = "sig-ftms-treadmill"


def beside_args(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """``--with FIRMWARE[=DEVICE]`` (and ``--treadmill``) as (firmware, device or None) pairs.

    Examples
    --------
    >>> ns = argparse.Namespace(beside=["thingy52=Thingy 2", "sig-rsc-footpod"], treadmill=True)
    >>> beside_args(ns)
    [('thingy52', 'Thingy 2'), ('sig-rsc-footpod', None), ('sig-ftms-treadmill', None)]
    """
    out: list[tuple[str, str | None]] = []
    for text in getattr(args, "beside", None) or []:
        firmware, sep, device = str(text).partition("=")
        if not firmware or (sep and not device):
            raise InputError("--with", f"expected FIRMWARE or FIRMWARE=NAME|ADDRESS, got {text!r}")
        out.append((firmware, device or None))
    if getattr(args, "treadmill", False):
        out.append((TREADMILL_FIRMWARE, None))
    return out


# ---------------------------------------------------------------------------------------------
# live


async def _pick_firmware(
    device: str | None, timeout_s: float, beside: frozenset[str] = frozenset()
) -> tuple[Any, str | None]:
    """Without ``--firmware``: scan, and take the profile of the device (or the first match
    that is not one of the ``beside`` profiles: those are found by their own links)."""

    found = await scan(timeout_s)
    want = device.lower() if device else None
    for d in found:
        if want is not None and want not in (d.address.lower(), (d.name or "").lower()):
            continue
        if want is None and d.profile in beside:
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


async def _live(args: argparse.Namespace, out: TextIO) -> int:
    cues = load_cue_profile(args.profile)
    # speech starts now, in the background (worker, clips of the profile's phrases and of the
    # link phrases of devices beside the sensor, by the names they have if the scan misses
    # them), so that it is ready by the first cue and the scan does not wait for it; the names
    # the scan finds are prepared then (SpeakerSink.devices)
    devices = (
        []
        if args.simulate is not None
        else [missing_label(load_firmware_profile(name), dev) for name, dev in beside_args(args)]
    )
    speaker = start_profile_speaker(cues, speak=not args.no_speak, devices=devices)
    try:
        return await _live_with(args, out, cues, speaker)
    finally:
        speaker.close()


async def _live_with(args: argparse.Namespace, out: TextIO, cues: Any, speaker: Any) -> int:
    cue_yaml = Path(args.profile or DEFAULT_PROFILE).read_text(encoding="utf-8")
    device_arg: str | None = args.device
    placement: str | None = args.placement
    scanner_backend = client_backend = None
    vdev: VirtualSensor | None = None
    extra: dict[str, Any] = {}
    known_settings: dict[str, Any] = {}
    wanted = beside_args(args)
    beside: list[BesideDevice] = []
    if args.simulate is not None:
        vdev = open_virtual_sensor(
            args.simulate or None,
            firmware_name=args.firmware,
            placement=placement,
            speed=args.speed,
            beside=[name for name, _dev in wanted],
        )
        beside = [BesideDevice(b.firmware, b.address, b.settings) for b in vdev.beside]
        firmware, placement = vdev.firmware, vdev.placement
        known_settings, extra = vdev.settings, vdev.header
        if args.speed != 1.0 and not vdev.has_clock:
            print(
                f"note: {firmware.name} has no sensor clock (time is the receive time): "
                f"--speed {args.speed:g} compresses its time as well",
                file=out,
            )
        scanner_backend, client_backend = vdev.scanner_backend, vdev.client_backend
        device_arg = device_arg or vdev.address
    elif args.firmware:
        firmware = load_firmware_profile(args.firmware)
    else:
        firmware, device_arg = await _pick_firmware(
            device_arg, args.scan_timeout, frozenset(name for name, _dev in wanted)
        )
    if vdev is None:
        beside = [BesideDevice(load_firmware_profile(name), dev) for name, dev in wanted]

    history = None
    # (getattr: callers that build the namespace themselves may leave the history options out)
    runner_name = getattr(args, "runner", None) or DEFAULT_RUNNER
    if not getattr(args, "no_history", False):  # the runner's stored baselines and fading level, as a snapshot
        # lazy: sqlite3 and the history module only when the history is used
        from downhill_live.history import open_history, prior_to_json

        history = open_history(getattr(args, "history", None))
        prior = history.prior(runner_name, cues)
        cues = dataclasses.replace(cues, prior=prior)
        extra = {**extra, "runner": runner_name, "history": prior_to_json(prior)}
    record_path = default_recording_path(args.record, firmware)
    console = ConsoleSink(out)
    runner = LiveRunner(
        firmware,
        cues,
        device=device_arg,
        beside=beside,
        # the gait core is loaded (compiled on a first run) while the scan runs
        warm_up=prepare_live,
        placement=placement,
        record_path=record_path,
        sinks=(console, SpeakerSink(speaker, notify=console.notice)),
        status=out.isatty(),
        duration_s=args.duration,
        scanner_backend=scanner_backend,
        client_backend=client_backend,
        scan_timeout_s=args.scan_timeout,
        # the recording keeps the profile that coached, so replay and report say the same
        extra_header=extra,
        cue_profile_yaml=cue_yaml,
        settings=known_settings,
    )
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:  # Ctrl-C, a service manager's stop, a closed terminal: one clean end
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, runner.request_stop)
    tasks: list[asyncio.Task[None]] = []
    try:
        if vdev is not None:
            await vdev.start()
            virtual = vdev

            async def stop_when_done() -> None:
                await virtual.wait_finished()
                await asyncio.sleep(0.5)
                runner.request_stop()

            tasks.append(asyncio.create_task(stop_when_done()))
        where = f"a simulated {firmware.name}" if vdev is not None else f"a {firmware.name}"
        also = "".join(f" and a {b.firmware.name}" for b in beside)
        print(f"live: looking for {where} sensor{also}; recording to {record_path}", file=out)
        print(speaker.description, file=out)
        result = await runner.run()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if vdev is not None:
            await vdev.close()
        for sig in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    for k, dev in enumerate(result.devices):
        role = "strikes" if k == 0 else "beside"
        if not dev["found"]:
            print(f"sensor {dev['address'] or dev['firmware']} ({dev['firmware']}, beside): "
                  "not found", file=out)  # fmt: skip
            continue
        print(
            f"sensor {dev['name'] or '?'} ({dev['address']}, {dev['firmware']}"
            + (f", {role}" if len(result.devices) > 1 else "")
            + f"): {dev['packets']} packets, {dev['link_drops']} link drop(s), "
            f"{dev['reconnects']} reconnection(s)",
            file=out,
        )
    if result.summary:
        print_summary(result.summary, out)
    if result.recording is not None:
        print(
            f"recorded to {result.recording} (replay: downhill-live replay {result.recording})",
            file=out,
        )
    if history is not None:
        _store_history(history, runner_name, runner, result, out)
    return 0


def _store_history(history: Any, runner_name: str, runner: Any, result: Any, out: TextIO) -> None:
    """Store the session in the runner history; a failure is a note, never the session's end."""
    try:
        session = runner.session
        if session is None or not session.steps:
            return
        profile = session.engine.profile
        try:
            text = Path(profile.path).read_text(encoding="utf-8")
        except OSError:
            text = None
        sid = history.add_session(
            runner_name,
            session.engine,
            profile,
            source=str(result.recording or "live"),
            duration_s=float(result.summary.get("duration_s") or 0.0),
            profile_yaml=text,
        )
        print(f"history: stored session {sid} of {runner_name} in {history.path}", file=out)
    except (DownhillError, OSError, sqlite3.Error) as exc:
        print(f"history: not stored ({exc})", file=out)
    finally:
        history.close()


def cmd_live(args: argparse.Namespace) -> int:
    """Run a live session (or a simulated one with ``--simulate``)."""
    if args.duration is not None and not args.duration > 0:
        raise InputError("--duration", f"must be > 0, got {args.duration}")
    if not 0 < args.speed <= 1000:
        raise InputError("--speed", f"must be within 0..1000 (above 0), got {args.speed}")
    if not args.scan_timeout > 0:
        raise InputError("--scan-timeout", f"must be > 0, got {args.scan_timeout}")
    if not detector_cached():  # compiled while the scan runs (LiveRunner's warm_up)
        print("preparing the detector, first run only (about 10 s)...", flush=True)
    return asyncio.run(_live(args, sys.stdout))


# ---------------------------------------------------------------------------------------------
# decode


# ---------------------------------------------------------------------------------------------
# registration


def register(subparsers: Any) -> None:
    """Add the ``live`` command."""
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
        default=DEFAULT_RECORD_DIR,
        help=f"folder for the recording (default {DEFAULT_RECORD_DIR}, the platform's data "
        "folder; --record . records here)",
    )
    lv.add_argument(
        "--simulate",
        nargs="?",
        const="",
        metavar="RECORDING",
        help="use a virtual sensor: stream RECORDING, or a simulated run when none is given",
    )
    lv.add_argument(
        "--with",
        dest="beside",
        action="append",
        metavar="FIRMWARE[=NAME|ADDRESS]",
        help="connect another device beside the sensor, found by FIRMWARE's name pattern and "
        "service UUIDs (or by NAME|ADDRESS); repeatable. The sensor (--device/--firmware) gives "
        "the strikes; the others give their streams without acceleration: a treadmill's grade "
        "and speed (sig-ftms-treadmill), a foot pod's speed (sig-rsc-footpod), a Thingy:52's "
        "pressure (thingy52). With --simulate: a virtual one on the simulated course",
    )
    lv.add_argument(
        "--treadmill",
        action="store_true",
        help=f"the same as --with {TREADMILL_FIRMWARE}: a BLE (FTMS) treadmill beside the "
        "sensor; with --simulate a virtual one whose incline follows the simulated course "
        "(with a recording: the course's incline schedule)",
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
    add_history_options(lv, save=False)
    lv.set_defaults(func=cmd_live)
