"""What every decoder is made of: the :class:`Decoder` record the registry holds, the
:class:`Link` its start/stop handshake talks through, the per-stream decoder protocols and the
:class:`RestartingDecoder` wrapper.

This module imports nothing from the decoders or from ``downhill_live.config.firmware`` (which
asks the registry to validate a stream): decoders see a stream through :class:`StreamConfig`,
which ``config.firmware.Stream`` satisfies.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

from downhill_live.config.yamlio import Checker, is_finite_number
from downhill_live.errors import ConfigError, DecodeError, DecodeErrorKind, StreamRestartError
from downhill_live.types import Packet, Samples, Step

#: A restart (counter or timestamp going backwards) is accepted only after a receive-time gap
#: of at least this long on the stream: a reconnection takes longer; a corrupt packet does not.
RESTART_GAP_S = 0.5
#: A packet whose last sample lies more than this ahead of what the receive clock allows
#: (receive time minus the smallest latency seen on the stream) has a corrupt counter or clock:
#: data cannot arrive before it was measured. Receive jitter and clock drift stay far below it.
JUMP_TOL_S = 1.0
#: A sensor clock may run this many times faster than the receive clock (a virtual sensor of
#: ``live --simulate --speed 1000``): a jump must also exceed this many receive-time gaps.
MAX_CLOCK_RATIO = 1000.0

log = logging.getLogger(__name__)


class StreamConfig(Protocol):
    """One stream of a firmware profile, as decoders see it (``config.firmware.Stream``)."""

    @property
    def name(self) -> str: ...

    @property
    def characteristic(self) -> str: ...

    @property
    def decoder(self) -> str: ...

    @property
    def layout(self) -> Any:
        """The ``layout`` decoder's :class:`~downhill_live.decode.layout.Layout`, else None
        (``Any`` here: this module cannot import the layout decoder, which imports it)."""
        ...

    @property
    def params(self) -> dict[str, Any]: ...


class StreamDecoder(Protocol):
    """Turns one stream's raw payloads into samples; keeps its own counter/time state."""

    @property
    def lost_samples(self) -> int:
        """Samples lost in transit (counter gaps) so far."""
        ...

    def decode(self, packet: Packet, index: int | None = None) -> Samples: ...


@runtime_checkable
class StepSource(Protocol):
    """A decoder whose sensor reports steps or cadence instead of acceleration (RSC pods).

    The session calls :meth:`take_steps` after each :meth:`decode` and feeds the steps to the
    cue rules as it does the gait core's steps.
    """

    lost_samples: int

    def decode(self, packet: Packet, index: int | None = None) -> Samples: ...

    def take_steps(self) -> list[Step]: ...


class Link(Protocol):
    """One connection to a sensor, as a decoder's start/stop handshake uses it.

    Live mode implements it over a ``BleakClient``; every value received on a subscription is
    also recorded (raw, as a ``control_response`` event).

    Attributes
    ----------
    device : str
        How messages name the sensor, e.g. ``"Polar H10 0A1B2C3D (F0:00:00:00:0D:01)"``.
    mtu : int or None
        The link's ATT MTU, when known.
    profile_path : str
        The firmware profile's file, for messages about its settings.
    """

    device: str
    mtu: int | None
    profile_path: str

    async def write(self, char_uuid: str, data: bytes, *, response: bool = True) -> None:
        """Write ``data`` to a characteristic (with or without response)."""
        ...

    async def subscribe(self, char_uuid: str, callback: Callable[[bytes], None]) -> None:
        """Call ``callback`` with every notification or indication value of a characteristic.

        Subscribing twice to one characteristic on one link adds the callback (one
        subscription on the air)."""
        ...


@dataclass(frozen=True)
class Setting:
    """A stream setting a decoder accepts from a recording header or ``decode --set``.

    Attributes
    ----------
    help : str
        What it sets, for people.
    boolean : bool
        True/false instead of a positive finite number.
    max_value : float, optional
        Upper limit of a number.
    """

    help: str
    boolean: bool = False
    max_value: float | None = None


def check_setting(path: str, key: str, value: Any, setting: Setting) -> None:
    """Raise :class:`ConfigError` (naming ``path``) unless ``value`` suits ``setting``."""
    if setting.boolean:
        if not isinstance(value, bool):
            raise ConfigError(path, f"setting {key!r} must be true or false")
    elif isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(path, f"setting {key!r} must be a positive number")
    elif setting.max_value is not None and not value <= setting.max_value:
        raise ConfigError(
            path, f"setting {key!r} must be at most {setting.max_value:g}, got {value:g}"
        )
    elif not is_finite_number(value):
        raise ConfigError(path, f"setting {key!r} must be finite, got {value}")


@dataclass(frozen=True)
class ParsedStream:
    """What a decoder's :attr:`Decoder.parse` validated from a stream's YAML mapping.

    ``layout`` is the ``layout`` decoder's Layout (None for the others; see
    :attr:`StreamConfig.layout`), ``params`` the settings with defaults filled in.
    """

    params: dict[str, Any]
    layout: Any = None


def parse_no_params(c: Checker, stream: dict[str, Any], key: str) -> ParsedStream:
    """:attr:`Decoder.parse` of a decoder that takes no ``params`` (an empty mapping or none)."""
    c.mapping(stream.get("params", {}), f"{key}.params", {})
    return ParsedStream({})


#: what a stream without acceleration decodes to: no samples (shared: never written to)
NO_SAMPLES = Samples(t_s=np.zeros(0), acc_g=np.zeros((0, 3)))

R = TypeVar("R")


class ReadingsDecoder(Generic[R]):
    """Base of a decoder of a stream without acceleration whose every packet gives at most
    one reading (a treadmill's grade and speed, a barometer's pressure): :meth:`decode` keeps
    the reading :meth:`_read` makes of the packet and returns :data:`NO_SAMPLES`; the session
    takes them with the subclass's ``take_...`` method (:meth:`_take`).
    """

    def __init__(self, *, stream: str = "") -> None:
        self.stream = stream
        self.lost_samples = 0
        self._readings: list[R] = []

    def _read(self, packet: Packet) -> R | None:
        """The reading of one packet (None: it carries none); raises :class:`DecodeError`
        with the state unchanged."""
        raise NotImplementedError

    def decode(self, packet: Packet, index: int | None = None) -> Samples:
        """Decode one notification; raises :class:`DecodeError` (state unchanged)."""
        try:
            reading = self._read(packet)
        except DecodeError as exc:
            raise exc.at(stream=self.stream, index=index) from None
        if reading is not None:
            self._readings.append(reading)
        return NO_SAMPLES

    def _take(self) -> list[R]:
        """Readings decoded since the last call."""
        out, self._readings = self._readings, []
        return out


def free_params(c: Checker, stream: dict[str, Any], key: str) -> dict[str, Any]:
    """``params`` of a decoder that takes any keys: a mapping, kept as it is."""
    value = stream.get("params", {})
    if not isinstance(value, dict):
        raise c.doc.error(f"{key}.params", "must be a mapping of decoder settings")
    return dict(value)


def _no_changes(stream: StreamConfig, settings: Mapping[str, Any]) -> dict[str, Any]:
    return {}


async def _no_start(link: Link, stream: StreamConfig) -> dict[str, Any]:
    return {}


async def _no_stop(link: Link, stream: StreamConfig) -> None:
    return None


def _no_rate(stream: StreamConfig) -> float | None:
    return None


@dataclass(frozen=True)
class Decoder:
    """A built-in decoder: everything the product knows about one ``decoder:`` name.

    Each decoder module defines one of these (``DECODER``) next to its parser, its encoder for
    virtual devices and its handshake; :mod:`downhill_live.decode.registry` lists them.

    Attributes
    ----------
    name : str
        The ``decoder:`` value in firmware profiles.
    description : str
        One line for people.
    has_acceleration : bool
        The stream carries acceleration (False: cadence only, the session switches rules off).
    parse : callable
        ``parse(checker, stream_mapping, key) -> ParsedStream``: validate the stream's
        ``params`` (and :attr:`stream_keys`) with line-numbered ``ConfigError``\\ s, fill in
        defaults. ``key`` is the stream's key path (``streams.acc``).
    make : callable
        ``make(stream) -> StreamDecoder``: a fresh per-stream decoder.
    params : dict
        ``params`` keys -> help (empty for decoders that take any keys).
    stream_keys : dict
        Further keys of the stream mapping this decoder reads (``layout``) -> help.
    rate_hz : callable
        ``rate_hz(stream)``: nominal acceleration sample rate, None without acceleration.
    range_g : callable
        ``range_g(stream)``: the largest acceleration (g) the stream can carry (a peak there
        is clipped), None when unknown.
    settings : dict
        Stream settings this decoder accepts: key -> :class:`Setting`.
    apply_settings : callable
        ``apply_settings(stream, settings) -> dict``: the stream fields to replace (``params``,
        ``layout``) for the settings given (already checked, possibly for other decoders).
    start, stop : async callables
        ``start(link, stream) -> settings`` runs after the profile's ``start`` writes (the
        settings the sensor answered, e.g. ``factor``, go to the recording and the session);
        ``stop(link, stream)`` after its ``stop`` writes. Raise
        :class:`~downhill_live.errors.HandshakeError`. Default: nothing to do.
    """

    name: str
    description: str
    has_acceleration: bool
    parse: Callable[[Checker, dict[str, Any], str], ParsedStream]
    make: Callable[[StreamConfig], StreamDecoder]
    params: dict[str, str] = field(default_factory=dict)
    stream_keys: dict[str, str] = field(default_factory=dict)
    rate_hz: Callable[[StreamConfig], float | None] = _no_rate
    range_g: Callable[[StreamConfig], float | None] = _no_rate
    settings: dict[str, Setting] = field(default_factory=dict)
    apply_settings: Callable[[StreamConfig, Mapping[str, Any]], dict[str, Any]] = _no_changes
    start: Callable[[Link, StreamConfig], Awaitable[dict[str, Any]]] = _no_start
    stop: Callable[[Link, StreamConfig], Awaitable[None]] = _no_stop


class RestartingDecoder:
    """Wraps a decoder so that a sensor restarting its counter or clock is not fatal, and so
    that a corrupt counter or timestamp costs one packet, not the rest of the run.

    Restarts: a :class:`DecodeError` of kind ``RESTART`` (counter or clock going backwards)
    right after a receive-time gap of at least ``restart_gap_s`` (a reconnection) starts a fresh
    inner decoder; its sensor time is shifted so that time continues from the last sample plus
    the receive-time gap.

    Sanity against the receive clock: a packet whose sensor time is implausible is rejected
    (``DecodeError`` of kind ``RESTART``, state unchanged) - its counter or clock went backwards
    without a reconnection, or its last sample lies more than :data:`JUMP_TOL_S` ahead of what
    the receive clock allows (receive time minus the smallest receive-minus-sensor latency seen,
    :attr:`floor_s`) and more than :data:`MAX_CLOCK_RATIO` receive-time gaps ahead of the
    last sample. A fresh decoder keeps the rejected packet as a candidate new time base:
    when the next packet does not continue the old base but continues the candidate, the sensor
    really jumped, and the stream is re-anchored (time continues from the last accepted sample
    by the receive-time gap, at least one sample period; :attr:`jumps` counts it and the first
    one is logged). A single corrupt packet is dropped and the old base goes on.

    Parameters
    ----------
    factory : callable
        Returns a fresh inner decoder.
    restart_gap_s : float
        Minimum receive-time gap before a restart is accepted.
    rate_hz : float, optional
        Nominal sample rate: a re-anchored packet starts at least one period after the last.

    Attributes
    ----------
    inner : StreamDecoder
        The current inner decoder.
    restarts : int
        Restarts accepted so far (after a reconnection gap).
    jumps : int
        Re-anchorings after an implausible counter or clock jump.
    """

    def __init__(
        self,
        factory: Callable[[], StreamDecoder],
        *,
        restart_gap_s: float = RESTART_GAP_S,
        rate_hz: float | None = None,
    ) -> None:
        self._factory = factory
        self.restart_gap_s = restart_gap_s
        self.dt_s = 1.0 / rate_hz if rate_hz else 0.0
        self.stream = ""
        self.inner = factory()
        self.restarts = 0
        self.jumps = 0
        self._offset_s = 0.0
        self._lost_before = 0
        self._last_t_s: float | None = None
        self._last_rx_s: float | None = None
        #: smallest receive time minus sensor time of a packet's last sample seen (s)
        self.floor_s: float | None = None
        self._pending: StreamDecoder | None = None
        self._pending_rx_s = 0.0
        self._pending_off_s = 0.0

    @property
    def lost_samples(self) -> int:
        """Samples lost in transit (counter gaps) over all restarts."""
        return self._lost_before + self.inner.lost_samples

    def _shift(self, s: Samples) -> Samples:
        if self._offset_s:
            return Samples(s.t_s + self._offset_s, s.acc_g, s.pressure_pa, s.lost)
        return s

    def _accept(self, packet: Packet, s: Samples) -> Samples:
        self._last_rx_s = packet.t_rx_s
        s = self._shift(s)
        if len(s.t_s):
            self._last_t_s = float(s.t_s[-1])
            off = packet.t_rx_s - self._last_t_s
            if self.floor_s is None or off < self.floor_s:
                self.floor_s = off
        return s

    def decode(self, packet: Packet, index: int | None = None) -> Samples:
        """Decode one payload; see the class notes for restarts and jumps."""
        gap_s = packet.t_rx_s - self._last_rx_s if self._last_rx_s is not None else math.nan
        before = copy.copy(self.inner)
        try:
            s = self.inner.decode(packet, index)
        except DecodeError as exc:
            if not (
                exc.kind is DecodeErrorKind.RESTART
                and self._last_rx_s is not None
                and self._last_t_s is not None
            ):
                raise
            if gap_s >= self.restart_gap_s:  # a reconnection: the sensor restarted
                fresh = self._factory()
                s = fresh.decode(packet, index)
                if len(s.t_s) == 0:
                    raise
                self._lost_before += self.inner.lost_samples
                self.inner = fresh
                self.restarts += 1
                self._pending = None
                self._offset_s = self._last_t_s + max(gap_s, self.dt_s) - float(s.t_s[0])
                return self._accept(packet, s)
            return self._implausible(packet, index, gap_s, exc)
        if len(s.t_s) and self._last_t_s is not None and self.floor_s is not None:
            t_first = float(s.t_s[0]) + self._offset_s
            t_end = float(s.t_s[-1]) + self._offset_s
            ahead_s = self.floor_s - (packet.t_rx_s - t_end)
            advance_s = t_first - self._last_t_s
            if advance_s <= 0.0 or (
                ahead_s > JUMP_TOL_S and advance_s > MAX_CLOCK_RATIO * gap_s + JUMP_TOL_S
            ):
                self.inner = before  # state as before this packet
                what = (
                    f"sensor time went backwards ({t_first - self._last_t_s:+.3f} s)"
                    if t_first <= self._last_t_s
                    else f"sensor time jumped {ahead_s:.3f} s ahead of the receive clock"
                )
                jump = StreamRestartError(
                    what, summary="sensor time jumped", stream=self.stream, index=index
                )
                return self._implausible(packet, index, gap_s, jump)
        self._pending = None
        return self._accept(packet, s)

    def _implausible(
        self, packet: Packet, index: int | None, gap_s: float, exc: DecodeError
    ) -> Samples:
        """``packet`` does not continue the time base: switch to the candidate base when it
        continues that one, else make it the candidate and raise ``exc``."""
        pend = self._pending
        if pend is not None:
            try:
                s = pend.decode(packet, index)
            except DecodeError:
                s = None
            if s is not None and len(s.t_s):
                off = packet.t_rx_s - float(s.t_s[-1])
                if off >= self._pending_off_s - JUMP_TOL_S and self._last_t_s is not None:
                    self._lost_before += self.inner.lost_samples
                    self.inner = pend
                    self._pending = None
                    self.jumps += 1
                    if self.jumps == 1:
                        log.warning(
                            "stream %s: sensor counter or clock jumped (%s); time re-anchored "
                            "to the receive clock (further jumps are counted)",
                            self.stream or "?",
                            exc.message,
                        )
                    self._offset_s = self._last_t_s + max(gap_s, self.dt_s) - float(s.t_s[0])
                    return self._accept(packet, s)
        fresh = self._factory()
        try:
            s = fresh.decode(packet, index)
        except DecodeError:
            s = None
        if s is not None and len(s.t_s):
            self._pending = fresh
            self._pending_rx_s = packet.t_rx_s
            self._pending_off_s = packet.t_rx_s - float(s.t_s[-1])
        else:
            self._pending = None
        raise exc

    def decode_many(self, packets: Sequence[Packet], index: int | None = None) -> Samples | None:
        """Batch decode when the inner decoder supports it (see ``LayoutDecoder.decode_many``);
        ``None`` (state untouched) means: decode these packets one by one. Runs where the
        receive-clock check could matter (a candidate base pending, a jump within the run) are
        left to the one-by-one path."""
        batch = getattr(self.inner, "decode_many", None)
        if batch is None or self._pending is not None or self._last_t_s is None:
            return None
        before = copy.copy(self.inner)
        s = batch(packets, index)
        if s is None:
            return None
        # the check decode() makes for each packet, on the run at once
        n = len(s.t_s) // len(packets) if len(packets) and len(s.t_s) % len(packets) == 0 else 0
        if n == 0 or self.floor_s is None:
            self.inner = before
            return None
        t = (
            s.t_s.reshape(len(packets), n) + self._offset_s
            if self._offset_s
            else s.t_s.reshape(len(packets), n)
        )
        rx = np.fromiter((p.t_rx_s for p in packets), dtype=np.float64, count=len(packets))
        off = rx - t[:, -1]
        floors = np.minimum.accumulate(np.concatenate([[self.floor_s], off]))[:-1]
        prev_end = np.concatenate([[self._last_t_s], t[:-1, -1]])
        gaps = rx - np.concatenate([[self._last_rx_s], rx[:-1]])
        advance = t[:, 0] - prev_end
        if np.any(advance <= 0.0) or np.any(
            (floors - off > JUMP_TOL_S) & (advance > MAX_CLOCK_RATIO * gaps + JUMP_TOL_S)
        ):
            self.inner = before
            return None
        self._last_rx_s = packets[-1].t_rx_s
        s = self._shift(s)
        self._last_t_s = float(s.t_s[-1])
        self.floor_s = float(min(self.floor_s, float(off.min())))
        return s


def replace_params(stream: StreamConfig, **changes: Any) -> dict[str, Any]:
    """``apply_settings`` helper: the ``params`` field with ``changes`` merged in."""
    return {"params": {**stream.params, **changes}}


__all__ = [
    "JUMP_TOL_S",
    "MAX_CLOCK_RATIO",
    "RESTART_GAP_S",
    "Decoder",
    "Link",
    "ParsedStream",
    "RestartingDecoder",
    "Setting",
    "StepSource",
    "StreamConfig",
    "StreamDecoder",
    "check_setting",
    "free_params",
    "replace_params",
]
