"""A virtual sensor for ``live --simulate``: a firmware profile's device advertising on an
in-process virtual radio (bumble), streaming a recording or a simulated run. The BLE path from
scanning to notifications is the real one; only the radio is virtual.

This needs the optional ``sim`` extra (``pip install 'downhill-live[sim]'``; ``./run demo``
installs it): :func:`open_virtual_sensor` imports :mod:`downhill_live.sim` lazily and says in one
line what to install when it is missing. The rest of the library never imports it.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from downhill_live.config.devices import beside_streams
from downhill_live.config.firmware import FirmwareProfile, load_firmware_profile
from downhill_live.errors import DownhillError, RecordingError
from downhill_live.types import PLACEMENTS

__all__ = ["SIM_EXTRA_HINT", "VirtualBeside", "VirtualSensor", "open_virtual_sensor"]

#: what to install when the simulator's dependencies are missing
SIM_EXTRA_HINT = (
    "live --simulate needs the optional simulator (bumble): "
    "pip install 'downhill-live[sim]' (./run demo installs it)"
)


@dataclass(frozen=True)
class VirtualBeside:
    """A virtual device beside the virtual sensor, on the same radio (a treadmill, a Thingy).

    Attributes
    ----------
    firmware : FirmwareProfile
    address : str
        Its address on the virtual radio (what the runner looks for).
    settings : dict
        Its stream settings known beforehand.
    """

    firmware: FirmwareProfile
    address: str
    settings: dict[str, Any]


@dataclass
class VirtualSensor:
    """A virtual device on its own radio, ready to :meth:`start`.

    Attributes
    ----------
    firmware : FirmwareProfile
        The profile the device speaks.
    placement : str or None
        Placement from the recording header (or the caller's override).
    address : str
        The device's address on the virtual radio.
    scanner_backend, client_backend : type
        bleak backends over the virtual radio.
    settings : dict
        Stream settings known beforehand (the factor excluded: the start response gives it).
    header : dict
        Extra recording header keys (``simulated``, ``source``).
    """

    firmware: FirmwareProfile
    placement: str | None
    address: str
    scanner_backend: Any
    client_backend: Any
    settings: dict[str, Any]
    header: dict[str, Any]
    has_clock: bool
    _radio: Any = field(repr=False)
    _device: Any = field(repr=False)
    #: devices beside it on the same radio (``live --simulate --with F``, ``--treadmill``)
    beside: list[VirtualBeside] = field(default_factory=list)
    _beside_devices: list[Any] = field(default_factory=list, repr=False)

    @property
    def finished(self) -> Any:
        """An :class:`asyncio.Event` set when the device has sent its whole timeline."""
        return self._device.finished

    async def wait_finished(self) -> None:
        """Until every device (the sensor and those beside it) has sent its whole timeline."""
        await self._device.finished.wait()
        for device in self._beside_devices:
            await device.finished.wait()

    async def start(self) -> None:
        """Start advertising (every device)."""
        await self._device.start()
        for device in self._beside_devices:
            await device.start()

    async def close(self) -> None:
        """Stop the devices and the radio."""
        for device in self._beside_devices:
            await device.stop()
        await self._device.stop()
        await self._radio.close()


def open_virtual_sensor(
    recording: str | None,
    *,
    firmware_name: str | None = None,
    placement: str | None = None,
    speed: float = 1.0,
    beside: Sequence[str] = (),
) -> VirtualSensor:
    """A virtual sensor streaming ``recording`` (or a simulated run of the coaching course when
    None), at ``speed`` times real time.

    Devices beside it, on the same radio: those a multi-device recording holds (header
    ``beside``: each streams its own recorded packets), and one per firmware profile named in
    ``beside`` (e.g. ``sig-ftms-treadmill``), running the coaching course: a treadmill's
    incline follows the course's grade (for a recording, the course is a fixed incline
    schedule), a Thingy's barometer its altitude.

    Raises
    ------
    DownhillError
        When the ``sim`` extra is not installed (one line saying what to install).
    RecordingError
        When the recording is unreadable or names an unknown placement.
    """
    if importlib.util.find_spec("bumble") is None:
        raise DownhillError(SIM_EXTRA_HINT)
    # lazy: the simulator is an optional extra that the library never imports at module level
    from downhill_live.sim.bumble_backend import VirtualRadio
    from downhill_live.sim.recordings import coaching_course
    from downhill_live.sim.virtual_devices import (
        VirtualDevice,
        beside_from_recording,
        payloads_from_recording,
        simulated_payloads,
        treadmill_payloads,
    )

    # the virtual controller's own chatter ("no connection for handle ...") is not the user's
    logging.getLogger("bumble").setLevel(logging.ERROR)
    name: str | None
    # (profile, payloads, settings the device reports, advertised name) of each device beside
    others: list[tuple[FirmwareProfile, list[Any], dict[str, Any], str | None]] = []
    if recording:
        firmware, payloads, settings, header = payloads_from_recording(recording)
        others += beside_from_recording(recording, header, payloads)
        payloads = [p for p in payloads if p.stream in firmware.streams]
        if firmware_name:
            firmware = load_firmware_profile(firmware_name)
        placement = placement or header.get("placement")
        if placement is not None and placement not in PLACEMENTS:
            raise RecordingError(
                recording,
                f"header key 'placement' must be one of {', '.join(PLACEMENTS)}, got {placement!r}",
            )
        known = {k: v for k, v in settings.items() if k != "factor"}
        name = (header.get("device") or {}).get("name")
        extra = {"simulated": True, "source": str(recording)}
    else:
        firmware = load_firmware_profile(firmware_name or "dhl-imu")
        src = simulated_payloads(firmware, coaching_course(), placement=placement, seed=1)
        payloads, settings, name, known = src.payloads, src.settings, None, {}
        extra = {"simulated": True, "source": "downhill_live.sim.gait coaching course"}
    for other_name in beside:
        other = load_firmware_profile(other_name)
        used = beside_streams(other)
        course = coaching_course()
        if all(st.decoder == "ftms" for st in used.values()):  # no gait to simulate
            timeline = [p for st in used.values() for p in treadmill_payloads(st, course)]
            other_settings: dict[str, Any] = {}
        else:
            course_src = simulated_payloads(other, course, placement=placement, seed=2)
            timeline = [p for p in course_src.payloads if p.stream in used]
            other_settings = course_src.settings
        others.append((other, timeline, other_settings, None))
    radio = VirtualRadio()
    device = VirtualDevice(radio, firmware, payloads, name=name, settings=settings, speed=speed)
    beside_devices = [
        VirtualDevice(
            radio,
            prof,
            timeline,
            name=dev_name,
            settings=dev_settings,
            speed=speed,
            address=f"F0:00:00:00:0D:{k + 2:02X}",
            anchor=device,  # one run: its timeline starts with the sensor's
        )
        for k, (prof, timeline, dev_settings, dev_name) in enumerate(others)
    ]
    return VirtualSensor(
        firmware=firmware,
        placement=placement,
        address=device.address,
        scanner_backend=radio.scanner_backend,
        client_backend=radio.client_backend,
        settings=known,
        header=extra,
        has_clock=firmware.has_acceleration,
        _radio=radio,
        _device=device,
        beside=[
            VirtualBeside(d.firmware, d.address, {k: v for k, v in o[2].items() if k != "factor"})
            for d, o in zip(beside_devices, others, strict=True)
        ],
        _beside_devices=beside_devices,
    )
