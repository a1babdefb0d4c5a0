"""Payload decoders, chosen per stream by the firmware profile's ``decoder`` key.

Every stream decoder follows :class:`StreamDecoder`: ``decode(packet, index) -> Samples`` and a
``lost_samples`` counter. The pure vendor formats live in :mod:`~downhill_live.decode.polar_pmd`,
:mod:`~downhill_live.decode.rsc` and :mod:`~downhill_live.decode.thingy52`; this module adds the
per-stream state (time base, gaps, restarts) around them:

* ``layout`` -> :class:`~downhill_live.decode.layout.LayoutDecoder`, wrapped in
  :class:`RestartingDecoder` (firmware that restarts its counter after a reconnection);
* ``polar_pmd_acc`` -> :class:`PmdAccDecoder` (sensor time from the frame timestamps, ``factor``
  from the start response, raw and delta frames), also wrapped;
* ``sig_rsc`` -> :class:`RscDecoder`: no acceleration. It returns empty ``Samples`` and
  synthesizes *cadence-only steps* (:meth:`RscDecoder.take_steps`) from the pod's cadence.

Time always comes from the packets (sensor timestamps, counters, or for RSC, which carries
neither, the recorded receive time), so replaying a recording gives the same result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from downhill_live.config.firmware import FirmwareProfile, Stream
from downhill_live.decode.layout import LayoutDecoder
from downhill_live.decode.polar_pmd import decode_data_frame, sample_times_s
from downhill_live.decode.rsc import RscMeasurement
from downhill_live.errors import ConfigError, DecodeError, DecodeErrorKind, StreamRestartError
from downhill_live.types import Packet, Samples, Step

#: A restart (counter or timestamp going backwards) is accepted only after a receive-time gap
#: of at least this long on the stream: a reconnection takes longer; a corrupt packet does not.
RESTART_GAP_S = 0.5
#: RSC: no steps are synthesized across a receive-time gap longer than this.
RSC_MAX_GAP_S = 5.0

_EMPTY_T = np.zeros(0)
_EMPTY_ACC = np.zeros((0, 3))


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


class RestartingDecoder:
    """Wraps a decoder so that a sensor restarting its counter or clock is not fatal.

    A :class:`DecodeError` of kind ``RESTART`` (counter or clock going backwards) right after a
    receive-time gap of at least
    ``restart_gap_s`` (a reconnection) starts a fresh inner decoder; its sensor time is shifted
    so that time continues from the last sample plus the receive-time gap. Without such a gap
    the :class:`DecodeError` is raised as before (a corrupt packet), state unchanged.

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


class PmdAccDecoder:
    """Polar PMD ACC stream: raw and delta frames, sensor time from the frame timestamps.

    Sample times are the frame timestamps (time of the last sample, ns since 2000) spread over
    the interval since the previous frame as the SDK does, relative to the first sample seen
    (:attr:`t0_s_` keeps the absolute start). A timestamp gap longer than the frame plus 1.5
    sample periods is a loss: the missing samples are counted in ``Samples.lost`` and the
    frame's samples are placed at the nominal rate before its timestamp.

    Parameters
    ----------
    sample_rate_hz : float
        Selected sample rate (start request).
    factor : float
        Scale factor from the start response (compressed frames).
    resolution_bits : int
        Resolution of the reference sample of delta frames.
    channels : int
        Values per sample.
    stream : str
        Stream name for error messages.

    Examples
    --------
    >>> dec = PmdAccDecoder(sample_rate_hz=200)
    >>> s = dec.decode(Packet(0.0, "acc", bytes.fromhex("02 0094357700000000 01 e803 0000 18fc")))
    >>> s.acc_g.tolist(), s.t_s.tolist(), dec.t0_s_
    ([[1.0, 0.0, -1.0]], [0.0], 2.0)
    """

    def __init__(
        self,
        *,
        sample_rate_hz: float,
        factor: float = 1.0,
        resolution_bits: int = 16,
        channels: int = 3,
        stream: str = "",
    ) -> None:
        self.sample_rate_hz = float(sample_rate_hz)
        self.factor = float(factor)
        self.resolution_bits = resolution_bits
        self.channels = channels
        self.stream = stream
        self.lost_samples = 0
        self.t0_s_: float | None = None
        self.last_timestamp_ns_: int | None = None

    def decode(self, packet: Packet, index: int | None = None) -> Samples:
        """Decode one data notification; raises :class:`DecodeError` (state unchanged)."""
        try:
            frame = decode_data_frame(
                packet.payload,
                factor=self.factor,
                sample_rate_hz=self.sample_rate_hz,
                channels=self.channels,
                resolution_bits=self.resolution_bits,
            )
        except DecodeError as exc:
            raise exc.at(stream=self.stream, index=index) from None
        n = frame.n_samples
        prev = self.last_timestamp_ns_
        lost = 0
        t_abs = frame.t_s
        if prev is not None:
            if frame.timestamp_ns <= prev:
                raise StreamRestartError(
                    f"frame timestamp went backwards ({frame.timestamp_ns} ns after {prev} ns)",
                    summary="frame timestamp went backwards",
                    stream=self.stream,
                    index=index,
                )
            span_s = (frame.timestamp_ns - prev) / 1e9
            if span_s > (n + 1.5) / self.sample_rate_hz:
                lost = max(0, round(span_s * self.sample_rate_hz) - n)
            else:
                t_abs = sample_times_s(
                    frame.timestamp_ns,
                    n,
                    sample_rate_hz=self.sample_rate_hz,
                    previous_timestamp_ns=prev,
                )
        if self.t0_s_ is None:
            self.t0_s_ = float(t_abs[0])
        self.last_timestamp_ns_ = frame.timestamp_ns
        self.lost_samples += lost
        return Samples(t_s=t_abs - self.t0_s_, acc_g=frame.acc_g[:, :3], lost=lost)


class RscDecoder:
    """SIG Running Speed and Cadence measurements -> cadence-only steps.

    An RSC pod sends speed and cadence about once a second, not acceleration, so
    :meth:`decode` returns empty ``Samples`` and keeps the measurement in :attr:`measurement_`.
    Steps are synthesized from the cadence: between two measurements, at the cadence of the
    earlier one, one :class:`~downhill_live.types.Step` per step (``peak_g`` and ``grade_pct``
    unknown, never on a descent), none across a receive-time gap of more than
    :data:`RSC_MAX_GAP_S`. Time is the recorded receive time (RSC has no sensor time).

    Parameters
    ----------
    cadence_one_foot : bool
        The pod sends one foot's cadence (see :mod:`downhill_live.decode.rsc`).
    stream : str
        Stream name for error messages.

    Examples
    --------
    >>> dec = RscDecoder()
    >>> _ = dec.decode(Packet(0.0, "rsc", bytes.fromhex("04 0003 b4")))  # 3 m/s, 180 spm
    >>> _ = dec.decode(Packet(1.0, "rsc", bytes.fromhex("04 0003 b4")))
    >>> steps = dec.take_steps()
    >>> len(steps), steps[0].cadence_spm, dec.measurement_.speed_mps
    (3, 180.0, 3.0)
    """

    def __init__(
        self,
        *,
        cadence_one_foot: bool = False,
        stream: str = "",
        max_gap_s: float = RSC_MAX_GAP_S,
    ) -> None:
        self.cadence_one_foot = cadence_one_foot
        self.stream = stream
        self.max_gap_s = max_gap_s
        self.lost_samples = 0
        self.measurement_: RscMeasurement | None = None
        self._t_prev_s: float | None = None
        self._phase = 0.0
        self._steps: list[Step] = []

    def decode(self, packet: Packet, index: int | None = None) -> Samples:
        """Decode one measurement; raises :class:`DecodeError` (state unchanged)."""
        try:
            m = RscMeasurement.from_bytes(packet.payload, cadence_one_foot=self.cadence_one_foot)
        except DecodeError as exc:
            raise exc.at(stream=self.stream, index=index) from None
        t = packet.t_rx_s
        prev, t_prev = self.measurement_, self._t_prev_s
        if prev is not None and t_prev is not None and 0.0 <= t - t_prev <= self.max_gap_s:
            rate_hz = prev.cadence_spm / 60.0
            if rate_hz > 0:
                end = self._phase + rate_hz * (t - t_prev)
                k = math.floor(self._phase) + 1
                while k <= end:
                    t_step = t_prev + (k - self._phase) / rate_hz
                    self._steps.append(
                        Step(t_step, float(prev.cadence_spm), math.nan, math.nan, False)
                    )
                    k += 1
                self._phase = end - math.floor(end)
        else:
            self._phase = 0.0
        self.measurement_ = m
        self._t_prev_s = t
        return Samples(t_s=_EMPTY_T, acc_g=_EMPTY_ACC)

    def take_steps(self) -> list[Step]:
        """Steps synthesized since the last call."""
        steps, self._steps = self._steps, []
        return steps


def stream_rate_hz(stream: Stream) -> float | None:
    """Nominal sample rate of an acceleration stream, None for streams without acceleration."""
    if stream.layout is not None:
        return stream.layout.rate_hz
    if stream.decoder == "polar_pmd_acc":
        return float(stream.params["sample_rate_hz"])
    return None


def make_decoder(profile: FirmwareProfile, stream: Stream) -> StreamDecoder:
    """A fresh decoder for ``stream`` of ``profile``."""
    if stream.decoder == "layout" and stream.layout is not None:
        layout = stream.layout
        return RestartingDecoder(lambda: LayoutDecoder(layout, stream=stream.name))
    if stream.decoder == "polar_pmd_acc":
        p: dict[str, Any] = stream.params
        return RestartingDecoder(
            lambda: PmdAccDecoder(
                sample_rate_hz=p["sample_rate_hz"],
                factor=p.get("factor", 1.0),
                resolution_bits=p.get("resolution_bits", 16),
                channels=p.get("channels", 3),
                stream=stream.name,
            )
        )
    if stream.decoder == "sig_rsc":
        return RscDecoder(
            cadence_one_foot=bool(stream.params.get("cadence_one_foot", False)),
            stream=stream.name,
        )
    raise ConfigError(
        profile.path,
        f"decoder {stream.decoder!r} is not known to this version",
        key=f"streams.{stream.name}.decoder",
    )


__all__ = [
    "LayoutDecoder",
    "PmdAccDecoder",
    "RestartingDecoder",
    "RscDecoder",
    "StepSource",
    "StreamDecoder",
    "StreamRestartError",
    "make_decoder",
    "stream_rate_hz",
]
