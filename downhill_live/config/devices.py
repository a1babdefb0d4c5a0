"""Several sensors in one session: the firmware profiles of the devices combined into one.

One device gives the strikes (the first one with acceleration: the ``--device``/``--firmware``
sensor); every other device connected beside it contributes its streams *without*
acceleration (a treadmill's inclination and belt speed, a foot pod's speed, a Thingy's
pressure). Their acceleration streams, if any, are neither subscribed to nor decoded: two
accelerometers on two clocks would make one gait core see two runners.

The combined profile is what a :class:`~downhill_live.session.Session` decodes, live and in
replay: a recording of a multi-device session stores the strike device's profile as usual
(header ``firmware``, ``settings``, ``device``) and each other device's snapshot under
``beside`` (see :func:`beside_header` and :func:`combine_from_header`). A recording without
``beside`` is a one-device recording, read as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from downhill_live.config.firmware import FirmwareProfile, Stream
from downhill_live.decode.registry import DECODERS
from downhill_live.errors import ConfigError

__all__ = ["beside_streams", "combine", "stream_clash"]


def beside_streams(profile: FirmwareProfile) -> dict[str, Stream]:
    """The streams a device connected beside the strike device contributes: those without
    acceleration. ``ConfigError`` when it has none (it would bring nothing)."""
    kept = {n: s for n, s in profile.streams.items() if not DECODERS[s.decoder].has_acceleration}
    if not kept:
        raise ConfigError(
            profile.path,
            f"{profile.name} has only acceleration streams ({', '.join(profile.streams)}): "
            "beside the sensor that gives the strikes it would bring nothing (grade, speed "
            "and pressure streams are taken from the other devices)",
        )
    return kept


def stream_clash(names: Sequence[tuple[str, Sequence[str]]]) -> str | None:
    """One line naming the first stream name two devices share, or None.

    ``names``: (profile name, its stream names) per device, strike device first.

    Examples
    --------
    >>> stream_clash([("dhl-imu", ["acc"]), ("sig-ftms-treadmill", ["treadmill"])]) is None
    True
    >>> stream_clash([("a", ["acc", "p"]), ("b", ["p"])])
    "stream name 'p' is in both firmware profiles a and b: rename it in one of them (streams.p)"
    """
    seen: dict[str, str] = {}
    for profile, streams in names:
        for name in streams:
            if name in seen:
                return (
                    f"stream name {name!r} is in both firmware profiles {seen[name]} and "
                    f"{profile}: rename it in one of them (streams.{name})"
                )
            seen[name] = profile
    return None


def combine(
    strikes: FirmwareProfile, beside: Sequence[tuple[FirmwareProfile, dict[str, Stream]]]
) -> FirmwareProfile:
    """The strike device's profile with the ``beside`` devices' streams added (each given with
    the streams it contributes, see :func:`beside_streams`). The name says every device
    (``polar-h10+sig-ftms-treadmill``); placement, start/stop writes, path and source text stay
    the strike device's (the other devices are started by their own links). A stream name two
    devices share is a ``ConfigError`` naming both profiles."""
    if not beside:
        return strikes
    names: list[tuple[str, list[str]]] = [(strikes.name, list(strikes.streams))]
    for profile, extra in beside:
        names.append((profile.name, list(extra)))
        clash = stream_clash(names)
        if clash is not None:
            raise ConfigError(profile.path, clash)
    streams = dict(strikes.streams)
    for _profile, extra in beside:
        streams.update(extra)
    return dataclasses.replace(
        strikes,
        name="+".join([strikes.name, *(p.name for p, _ in beside)]),
        streams=streams,
    )


def beside_header(
    profile: FirmwareProfile,
    streams: Sequence[str],
    *,
    name: str | None,
    address: str | None,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """One entry of a recording header's ``beside`` list: the device, its profile snapshot,
    its settings and the streams it contributed."""
    return {
        "device": {"name": name, "address": address},
        "firmware": {"name": profile.name, "yaml": profile.source_text},
        "settings": dict(settings),
        "streams": list(streams),
    }
