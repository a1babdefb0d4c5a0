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
from dataclasses import dataclass, field
from typing import Any

from downhill_live.config.firmware import FirmwareProfile, load_firmware_profile
from downhill_live.errors import DownhillError, RecordingError
from downhill_live.types import PLACEMENTS

__all__ = ["SIM_EXTRA_HINT", "VirtualSensor", "open_virtual_sensor"]

#: what to install when the simulator's dependencies are missing
SIM_EXTRA_HINT = (
    "live --simulate needs the optional simulator (bumble): "
    "pip install 'downhill-live[sim]' (./run demo installs it)"
)


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

    @property
    def finished(self) -> Any:
        """An :class:`asyncio.Event` set when the device has sent its whole timeline."""
        return self._device.finished

    async def start(self) -> None:
        """Start advertising."""
        await self._device.start()

    async def close(self) -> None:
        """Stop the device and the radio."""
        await self._device.stop()
        await self._radio.close()


def open_virtual_sensor(
    recording: str | None,
    *,
    firmware_name: str | None = None,
    placement: str | None = None,
    speed: float = 1.0,
) -> VirtualSensor:
    """A virtual sensor streaming ``recording`` (or a simulated run of the coaching course when
    None), at ``speed`` times real time.

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
        payloads_from_recording,
        simulated_payloads,
    )

    # the virtual controller's own chatter ("no connection for handle ...") is not the user's
    logging.getLogger("bumble").setLevel(logging.ERROR)
    name: str | None
    if recording:
        firmware, payloads, settings, header = payloads_from_recording(recording)
        if firmware_name:
            firmware = load_firmware_profile(firmware_name)
        placement = placement or header.get("placement")
        if placement is not None and placement not in PLACEMENTS:
            raise RecordingError(
                recording,
                f"header key 'placement' must be one of {', '.join(PLACEMENTS)}, "
                f"got {placement!r}",
            )
        known = {k: v for k, v in settings.items() if k != "factor"}
        name = (header.get("device") or {}).get("name")
        extra = {"simulated": True, "source": str(recording)}
    else:
        firmware = load_firmware_profile(firmware_name or "dhl-imu")
        src = simulated_payloads(firmware, coaching_course(), placement=placement, seed=1)
        payloads, settings, name, known = src.payloads, src.settings, None, {}
        extra = {"simulated": True, "source": "downhill_live.sim.gait coaching course"}
    radio = VirtualRadio()
    device = VirtualDevice(radio, firmware, payloads, name=name, settings=settings, speed=speed)
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
    )
