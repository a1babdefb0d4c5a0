"""Payload decoders, chosen per stream by the firmware profile's ``decoder`` key.

A built-in decoder is one module or folder under this package defining one
:class:`~downhill_live.decode.base.Decoder` (``DECODER``): its ``params`` schema, the stream
settings it takes, its per-stream decoder factory, its start/stop handshake, and, beside its
parser, the encoder the virtual devices send with. :data:`~downhill_live.decode.registry.DECODERS`
lists them:

* ``layout`` (:mod:`~downhill_live.decode.layout`): the declarative layout of a firmware profile
  -> :class:`LayoutDecoder`, wrapped in :class:`RestartingDecoder` (firmware that restarts its
  counter after a reconnection);
* ``polar_pmd_acc`` (:mod:`~downhill_live.decode.polar_pmd`) -> :class:`PmdAccDecoder` (sensor
  time from the frame timestamps, ``factor`` from the start response, raw and delta frames),
  also wrapped; started and stopped over the PMD control point;
* ``sig_rsc`` (:mod:`~downhill_live.decode.rsc`) -> :class:`RscDecoder`: no acceleration. It
  returns empty ``Samples`` and synthesizes *cadence-only steps* (:meth:`RscDecoder.take_steps`)
  from the pod's cadence.

Every stream decoder follows :class:`StreamDecoder`: ``decode(packet, index) -> Samples`` and a
``lost_samples`` counter; a malformed payload raises :class:`~downhill_live.errors.DecodeError`
whose ``kind`` (:class:`~downhill_live.errors.DecodeErrorKind`) says what is wrong.

Time always comes from the packets (sensor timestamps, counters, or for RSC, which carries
neither, the recorded receive time), so replaying a recording gives the same result.
"""

from __future__ import annotations

from typing import Protocol

from downhill_live.decode.base import (
    RESTART_GAP_S,
    Decoder,
    Link,
    RestartingDecoder,
    StepSource,
    StreamConfig,
    StreamDecoder,
)
from downhill_live.decode.layout import LayoutDecoder
from downhill_live.decode.polar_pmd import PmdAccDecoder
from downhill_live.decode.registry import DECODERS
from downhill_live.decode.rsc import RSC_MAX_GAP_S, RscDecoder
from downhill_live.errors import ConfigError, StreamRestartError


class _Profile(Protocol):
    @property
    def path(self) -> str: ...


def decoder_for(profile: _Profile, stream: StreamConfig) -> Decoder:
    """The registry entry of ``stream``'s decoder (``ConfigError`` naming ``profile`` if none)."""
    try:
        return DECODERS[stream.decoder]
    except KeyError:
        raise ConfigError(
            profile.path,
            f"decoder {stream.decoder!r} is not known to this version",
            key=f"streams.{stream.name}.decoder",
        ) from None


def stream_rate_hz(stream: StreamConfig) -> float | None:
    """Nominal sample rate of an acceleration stream, None for streams without acceleration."""
    decoder = DECODERS.get(stream.decoder)
    return None if decoder is None else decoder.rate_hz(stream)


def stream_range_g(stream: StreamConfig) -> float | None:
    """The largest acceleration (g) an acceleration stream can carry, None when unknown."""
    decoder = DECODERS.get(stream.decoder)
    return None if decoder is None else decoder.range_g(stream)


def make_decoder(profile: _Profile, stream: StreamConfig) -> StreamDecoder:
    """A fresh decoder for ``stream`` of ``profile`` (a ``FirmwareProfile``)."""
    return decoder_for(profile, stream).make(stream)


__all__ = [
    "DECODERS",
    "RESTART_GAP_S",
    "RSC_MAX_GAP_S",
    "Decoder",
    "LayoutDecoder",
    "Link",
    "PmdAccDecoder",
    "RestartingDecoder",
    "RscDecoder",
    "StepSource",
    "StreamConfig",
    "StreamDecoder",
    "StreamRestartError",
    "decoder_for",
    "make_decoder",
    "stream_range_g",
    "stream_rate_hz",
]
