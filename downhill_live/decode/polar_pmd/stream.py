"""Per-stream state of the ``polar_pmd_acc`` decoder: sensor time, gaps and restarts."""

from __future__ import annotations

from downhill_live.decode.polar_pmd.wire import decode_data_frame, sample_times_s
from downhill_live.errors import DecodeError, StreamRestartError
from downhill_live.types import Packet, Samples


class PmdAccDecoder:
    """Polar PMD ACC stream: raw and delta frames, sensor time from the frame timestamps.

    Sample times are the frame timestamps (time of the last sample, ns since 2000) spread over
    the interval since the previous frame as the SDK does, relative to the first sample seen
    (:attr:`t0_s_` keeps the absolute start). A timestamp gap longer than the frame plus 1.5
    sample periods is a loss: the missing samples are counted in ``Samples.lost`` and the
    frame's samples are placed at the nominal rate before its timestamp. A timestamp going
    backwards raises a :class:`~downhill_live.errors.StreamRestartError` (kind ``RESTART``).

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


__all__ = ["PmdAccDecoder"]
