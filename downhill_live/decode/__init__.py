"""Payload decoders, chosen per stream by the firmware profile's ``decoder`` key."""

from __future__ import annotations

from typing import Protocol

from downhill_live.decode.layout import LayoutDecoder
from downhill_live.errors import ConfigError
from downhill_live.firmware import FirmwareProfile, Stream
from downhill_live.types import Packet, Samples


class StreamDecoder(Protocol):
    """Turns one stream's raw payloads into samples; keeps its own counter/time state."""

    lost_samples: int

    def decode(self, packet: Packet, index: int | None = None) -> Samples: ...


def make_decoder(profile: FirmwareProfile, stream: Stream) -> StreamDecoder:
    """A fresh decoder for ``stream`` of ``profile``."""
    if stream.decoder == "layout" and stream.layout is not None:
        return LayoutDecoder(stream.layout, stream=stream.name)
    raise ConfigError(
        profile.path,
        f"decoder {stream.decoder!r} has no acceleration decoder in this version",
        key=f"streams.{stream.name}.decoder",
    )


__all__ = ["LayoutDecoder", "StreamDecoder", "make_decoder"]
