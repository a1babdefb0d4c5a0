"""What every decoder is made of: the :class:`Decoder` record the registry holds, the
:class:`Link` its start/stop handshake talks through, the per-stream decoder protocols and the
:class:`RestartingDecoder` wrapper.

This module imports nothing from the decoders or from ``downhill_live.config.firmware`` (which
asks the registry to validate a stream): decoders see a stream through :class:`StreamConfig`,
which ``config.firmware.Stream`` satisfies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from downhill_live.config.yamlio import Checker, is_finite_number
from downhill_live.errors import ConfigError, DecodeError, DecodeErrorKind
from downhill_live.types import Packet, Samples, Step

#: A restart (counter or timestamp going backwards) is accepted only after a receive-time gap
#: of at least this long on the stream: a reconnection takes longer; a corrupt packet does not.
RESTART_GAP_S = 0.5


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
    settings: dict[str, Setting] = field(default_factory=dict)
    apply_settings: Callable[[StreamConfig, Mapping[str, Any]], dict[str, Any]] = _no_changes
    start: Callable[[Link, StreamConfig], Awaitable[dict[str, Any]]] = _no_start
    stop: Callable[[Link, StreamConfig], Awaitable[None]] = _no_stop


class RestartingDecoder:
    """Wraps a decoder so that a sensor restarting its counter or clock is not fatal.

    A :class:`DecodeError` of kind ``RESTART`` (counter or clock going backwards) right after a
    receive-time gap of at least ``restart_gap_s`` (a reconnection) starts a fresh inner
    decoder; its sensor time is shifted so that time continues from the last sample plus the
    receive-time gap. Without such a gap the error is raised as before (a corrupt packet),
    state unchanged.

    Parameters
    ----------
    factory : callable
        Returns a fresh inner decoder.
    restart_gap_s : float
        Minimum receive-time gap before a restart is accepted.

    Attributes
    ----------
    inner : StreamDecoder
        The current inner decoder.
    restarts : int
        Restarts accepted so far.
    """

    def __init__(
        self, factory: Callable[[], StreamDecoder], *, restart_gap_s: float = RESTART_GAP_S
    ) -> None:
        self._factory = factory
        self.restart_gap_s = restart_gap_s
        self.inner = factory()
        self.restarts = 0
        self._offset_s = 0.0
        self._lost_before = 0
        self._last_t_s: float | None = None
        self._last_rx_s: float | None = None

    @property
    def lost_samples(self) -> int:
        """Samples lost in transit (counter gaps) over all restarts."""
        return self._lost_before + self.inner.lost_samples

    def decode(self, packet: Packet, index: int | None = None) -> Samples:
        """Decode one payload; see the class notes for restarts."""
        try:
            s = self.inner.decode(packet, index)
        except DecodeError as exc:
            if not (
                exc.kind is DecodeErrorKind.RESTART
                and self._last_rx_s is not None
                and self._last_t_s is not None
                and packet.t_rx_s - self._last_rx_s >= self.restart_gap_s
            ):
                raise
            fresh = self._factory()
            s = fresh.decode(packet, index)
            if len(s.t_s) == 0:
                raise
            self._lost_before += self.inner.lost_samples
            self.inner = fresh
            self.restarts += 1
            gap_s = packet.t_rx_s - self._last_rx_s
            self._offset_s = self._last_t_s + gap_s - float(s.t_s[0])
        self._last_rx_s = packet.t_rx_s
        if self._offset_s:
            s = Samples(s.t_s + self._offset_s, s.acc_g, s.pressure_pa, s.lost)
        if len(s.t_s):
            self._last_t_s = float(s.t_s[-1])
        return s

    def decode_many(self, packets: Sequence[Packet], index: int | None = None) -> Samples | None:
        """Batch decode when the inner decoder supports it (see ``LayoutDecoder.decode_many``);
        ``None`` (state untouched) means: decode these packets one by one."""
        batch = getattr(self.inner, "decode_many", None)
        s = batch(packets, index) if batch is not None else None
        if s is None:
            return None
        self._last_rx_s = packets[-1].t_rx_s
        if self._offset_s:
            s = Samples(s.t_s + self._offset_s, s.acc_g, s.pressure_pa, s.lost)
        if len(s.t_s):
            self._last_t_s = float(s.t_s[-1])
        return s


def replace_params(stream: StreamConfig, **changes: Any) -> dict[str, Any]:
    """``apply_settings`` helper: the ``params`` field with ``changes`` merged in."""
    return {"params": {**stream.params, **changes}}


__all__ = [
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
