"""The compiled stream decoder: one numba call per packet (live) or per run of packets
(replay), with the reference decoders' results.

:class:`FastDecoder` is what :func:`~downhill_live.decode.make_decoder` returns for ``layout``
and ``polar_pmd_acc`` streams. It behaves as a
:class:`~downhill_live.decode.base.RestartingDecoder` around the Python reference decoder
(same samples bit for bit, same restarts, same time-jump checks, same errors with the same
words), but decodes in :mod:`downhill_live.decode._kernels`. Malformed payloads are rare, so
their error is worded by the reference decoder itself, from the kernel's state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from downhill_live.decode import _kernels as K  # noqa: N812 - short: used on every line
from downhill_live.decode.base import JUMP_TOL_S, MAX_CLOCK_RATIO, RESTART_GAP_S, StreamDecoder
from downhill_live.decode.layout import FIELD_TYPES, LayoutDecoder
from downhill_live.decode.polar_pmd.stream import PmdAccDecoder
from downhill_live.errors import DecodeError, StreamRestartError
from downhill_live.types import Packet, Samples

log = logging.getLogger(__name__)

#: samples the per-packet buffers hold at first (grown when a packet needs more)
_FIRST_CAPACITY = 512


class FastDecoder:
    """A compiled decoder of one stream (see the module notes).

    Parameters
    ----------
    kind : int
        :data:`~downhill_live.decode._kernels.KIND_LAYOUT` or ``KIND_PMD``.
    spec_i, spec_f : numpy.ndarray
        The format, as the kernel reads it (int64, float64).
    reference : callable
        ``reference(SI, SU, SF) -> StreamDecoder``: a reference decoder in the given state
        (it words the errors).
    has_pressure : bool
        Samples carry ``pressure_pa``.
    rate_hz : float
        Nominal sample rate.
    stream : str
        Stream name for messages.
    """

    def __init__(
        self,
        kind: int,
        spec_i: np.ndarray,
        spec_f: np.ndarray,
        reference: Callable[[np.ndarray, np.ndarray, np.ndarray], StreamDecoder],
        *,
        has_pressure: bool,
        rate_hz: float,
        stream: str = "",
        restart_gap_s: float = RESTART_GAP_S,
    ) -> None:
        self.kind = kind
        self.stream = stream
        self.rate_hz = float(rate_hz)
        self.has_pressure = has_pressure
        self._A = np.zeros((K.N_ROWS_A, K.N_COLS), np.int64)
        self._FL = np.zeros((K.N_ROWS_FL, K.N_COLS))
        self._U = np.zeros((4, 1), np.uint64)
        self._A[K.R_SPEC, : len(spec_i)] = spec_i
        self._FL[K.R_FSPEC, : len(spec_f)] = spec_f
        for row in (K.R_CUR, K.R_PEND, K.R_FRESH, K.R_SCRATCH):
            self._FL[row, K.S_T0] = np.nan
        g = self._FL[K.R_G]
        g[K.G_FLOOR] = g[K.G_LAST_RX] = g[K.G_LAST_T] = np.nan
        g[K.G_RESTART_GAP], g[K.G_TOL], g[K.G_DT] = restart_gap_s, JUMP_TOL_S, 1.0 / self.rate_hz
        g[K.G_RATIO] = MAX_CLOCK_RATIO
        self._rows()
        self._one_off = np.zeros(1, np.int64)
        self._one_len = np.zeros(1, np.int64)
        self._one_rx = np.zeros(1)
        self._reference = reference
        self._buf = np.zeros(256, np.uint8)
        self._alloc(_FIRST_CAPACITY)
        self._jump_logged = False

    def _rows(self) -> None:
        self._G = self._FL[K.R_G]
        self._SI, self._SU, self._SF = self._A[K.R_CUR], self._U[K.R_CUR], self._FL[K.R_CUR]
        self._info = self._FL[K.R_INFO]

    def adopt(
        self,
        buf: np.ndarray,
        A: np.ndarray,
        FL: np.ndarray,
        U: np.ndarray,
        t: np.ndarray,
        a: np.ndarray,
        p: np.ndarray,
    ) -> None:
        """Go on with these arrays as the packet buffer, the state and the sample buffers (each
        holding a copy of the current one: the fused live path keeps them in one arena,
        :mod:`downhill_live.fused`)."""
        self._buf, self._A, self._FL, self._U = buf, A, FL, U
        self._t, self._a, self._p = t, a, p
        self._rows()

    def _alloc(self, cap: int) -> None:
        self._t = np.empty(cap)
        self._a = np.zeros((cap, 3))
        self._p = np.empty(cap if self.has_pressure else 1)

    # ------------------------------------------------------------------ counters
    @property
    def lost_samples(self) -> int:
        """Samples lost in transit (counter or timestamp gaps) over all restarts."""
        lost_at = K.S_LOST if self.kind == K.KIND_LAYOUT else K.PS_LOST
        return int(self._G[K.G_LOST_BEFORE]) + int(self._SI[lost_at])

    @property
    def restarts(self) -> int:
        """Restarts accepted after a reconnection gap."""
        return int(self._G[K.G_RESTARTS])

    @property
    def jumps(self) -> int:
        """Re-anchorings after an implausible counter or clock jump."""
        return int(self._G[K.G_JUMPS])

    # ------------------------------------------------------------------ decoding
    def run(
        self,
        buf: np.ndarray,
        offs: np.ndarray,
        lens: np.ndarray,
        rx: np.ndarray,
        start: int,
        stop: int,
        out_t: np.ndarray,
        out_a: np.ndarray,
        out_p: np.ndarray,
        *,
        note: bool = True,
    ) -> tuple[int, int, int]:
        """Decode packets ``start..stop`` of a buffer into ``out_*``; see
        :func:`~downhill_live.decode._kernels.decode_run`. Returns (packets accepted, samples
        written, status of the packet it stopped at). ``note=False``: a time re-anchoring is
        not logged here (``_info[2]`` set: the caller calls :meth:`note_jump` in its turn)."""
        done, k, status = K.decode_run(
            self.kind, buf, offs, lens, rx, start, stop, self._A, self._FL, self._U,
            out_t, out_a, out_p,
        )  # fmt: skip
        if note and self._info[2]:
            self.note_jump()
        return done, k, status

    def note_jump(self) -> None:
        """A packet re-anchored the time: said once per stream."""
        if not self._jump_logged:
            self._jump_logged = True
            log.warning(
                "stream %s: sensor counter or clock jumped; time re-anchored to the receive "
                "clock (further jumps are counted)",
                self.stream or "?",
            )

    def grow(self) -> None:
        """Larger sample buffers, for a packet that did not fit (status ERR_CAPACITY)."""
        self._alloc(2 * max(int(self._info[0]), len(self._t)))

    def load(self, payload: bytes) -> int:
        """Copy ``payload`` into the decoder's packet buffer (grown when it does not fit) and
        return its size: the kernels are compiled for one writable buffer type only."""
        size = len(payload)
        if size > len(self._buf):
            self._buf = np.zeros(2 * size, np.uint8)
        memoryview(self._buf)[:size] = payload  # type: ignore[arg-type]
        return size

    def decode(self, packet: Packet, index: int | None = None) -> Samples:
        """Decode one payload (one compiled call); raises :class:`DecodeError` as the
        reference does, state unchanged."""
        size = self.load(packet.payload)
        self._one_len[0] = size
        self._one_rx[0] = packet.t_rx_s
        while True:
            done, n, status = self.run(
                self._buf, self._one_off, self._one_len, self._one_rx, 0, 1,
                self._t, self._a, self._p,
            )  # fmt: skip
            if status != K.ERR_CAPACITY:
                break
            self.grow()
        if not done:
            raise self.error(status, packet, index)
        lost = self.lost_samples - self._lost_seen
        self._lost_seen += lost
        return Samples(
            self._t[:n].copy(),
            self._a[:n].copy(),
            self._p[:n].copy() if self.has_pressure else None,
            lost,
        )

    _lost_seen = 0

    def take_lost(self) -> int:
        """Samples lost since the last call (for run-wise decoding)."""
        lost = self.lost_samples - self._lost_seen
        self._lost_seen += lost
        return lost

    def decode_many(self, packets: Sequence[Packet], index: int | None = None) -> Samples | None:
        """A run of packets in one call, exactly as :meth:`decode` one by one; ``None`` with
        the state untouched when any of them is not accepted (decode those one by one)."""
        if not packets:
            return None
        payloads = [p.payload for p in packets]
        lens = np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads))
        offs = np.zeros(len(lens), np.int64)
        np.cumsum(lens[:-1], out=offs[1:])
        rx = np.fromiter((p.t_rx_s for p in packets), dtype=np.float64, count=len(packets))
        buf = np.frombuffer(bytearray(b"".join(payloads)), np.uint8)  # writable, as decode's
        saved = self._save()
        cap = max(len(self._t), self._bound(lens))
        if cap > len(self._t):
            self._alloc(cap)
        _, n, status = self.run(buf, offs, lens, rx, 0, len(lens), self._t, self._a, self._p)
        if status != K.OK:
            self._restore(saved)
            return None
        return Samples(
            self._t[:n].copy(),
            self._a[:n].copy(),
            self._p[:n].copy() if self.has_pressure else None,
            self.take_lost(),
        )

    def _bound(self, lens: np.ndarray) -> int:
        """An upper bound of the samples in packets of these lengths."""
        if self.kind == K.KIND_LAYOUT:
            ssize = int(self._A[K.R_SPEC, K.L_SSIZE])
            return int((lens // ssize).sum()) + 1
        return int((lens // 3 * 255 + 1).sum())

    def _save(self) -> list[np.ndarray]:
        return [a.copy() for a in self._state_arrays()]

    def _restore(self, saved: list[np.ndarray]) -> None:
        for a, b in zip(self._state_arrays(), saved, strict=True):
            a[...] = b

    def _state_arrays(self) -> list[np.ndarray]:
        return [self._A, self._FL, self._U]

    # ------------------------------------------------------------------ errors
    def error(self, status: int, packet: Packet, index: int | None) -> DecodeError:
        """The error the reference raises for a packet the kernel refused with ``status``."""
        if status == K.ERR_AHEAD:
            return StreamRestartError(
                f"sensor time jumped {self._info[3]:.3f} s ahead of the receive clock",
                summary="sensor time jumped",
                stream=self.stream,
                index=index,
            )
        if status == K.ERR_BACK and self._info[4]:
            return StreamRestartError(
                f"sensor time went backwards ({self._info[3]:+.3f} s)",
                summary="sensor time jumped",
                stream=self.stream,
                index=index,
            )
        ref = self._reference(self._SI, self._SU, self._SF)
        try:
            ref.decode(packet, index)
        except DecodeError as exc:
            return exc
        return DecodeError(  # pragma: no cover - a kernel/reference disagreement
            f"compiled decoder refused a packet the reference decodes (status {status})",
            stream=self.stream,
            index=index,
        )


def layout_spec(layout: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The kernel's view of a :class:`~downhill_live.decode.layout.Layout`, or None when the
    layout needs the reference decoder (a float counter, a counter modulo of 2^62 or more)."""
    def place(fields: Sequence[Any], name: str | None) -> tuple[int, int]:
        pos = 0
        for f in fields:
            if f.name == name:
                return pos, K.TYPE_CODES[f.type]
            pos += FIELD_TYPES[f.type][1]
        return -1, 0

    spec_i = np.zeros(K.N_LI, np.int64)
    spec_f = np.zeros(K.N_LF)
    spec_i[K.L_BIG] = layout.endian == "big"
    spec_i[K.L_HSIZE] = layout.header_size
    spec_i[K.L_SSIZE] = layout.sample_size
    spec_i[K.L_SPP] = layout.samples_per_packet or 0
    spec_i[K.L_CTR_OFF], spec_i[K.L_CTR_TYPE] = place(layout.header, layout.counter_field)
    if layout.counter_field is not None and (
        spec_i[K.L_CTR_TYPE] == K.T_F32 or layout.counter_modulo >= 1 << 62
    ):
        return None
    spec_i[K.L_CTR_PER_SAMPLE] = layout.counter_per == "sample"
    spec_i[K.L_CTR_MOD] = min(layout.counter_modulo, 1 << 62)
    spec_i[K.L_TS_OFF], spec_i[K.L_TS_TYPE] = place(layout.header, layout.timestamp_field)
    spec_i[K.L_TS_LAST] = layout.timestamp_sample == "last"
    spec_i[K.L_P_OFF], spec_i[K.L_P_TYPE] = place(layout.header, layout.pressure_field)
    names = [f.name for f in layout.sample]
    for axis, (field_idx, sign) in enumerate(layout.axis_map):
        off, code = place(layout.sample, names[field_idx])
        spec_i[K.L_AX_OFF + axis], spec_i[K.L_AX_TYPE + axis] = off, code
        spec_f[K.F_MULT + axis] = sign * layout.scale_g
    spec_f[K.F_RATE] = layout.rate_hz
    spec_f[K.F_TS_SCALE] = layout.timestamp_scale_s
    spec_f[K.F_P_SCALE] = layout.pressure_scale_pa
    return spec_i, spec_f


def fast_layout_decoder(layout: Any, stream: str) -> FastDecoder | None:
    """A :class:`FastDecoder` for a layout stream (None: use the reference)."""
    spec = layout_spec(layout)
    if spec is None:
        return None

    def reference(si: np.ndarray, su: np.ndarray, sf: np.ndarray) -> StreamDecoder:
        ref = LayoutDecoder(layout, stream=stream)
        if si[K.S_HAS_NEXT]:
            ref._next_counter = int(si[K.S_NEXT])
        return ref

    return FastDecoder(
        K.KIND_LAYOUT,
        *spec,
        reference,
        has_pressure=layout.pressure_field is not None,
        rate_hz=layout.rate_hz,
        stream=stream,
    )


def fast_pmd_decoder(
    *, sample_rate_hz: float, factor: float, resolution_bits: int, channels: int, stream: str
) -> FastDecoder | None:
    """A :class:`FastDecoder` for a Polar PMD ACC stream (None: use the reference)."""
    if channels < 3 or not 1 <= resolution_bits <= 32:
        return None

    def reference(si: np.ndarray, su: np.ndarray, sf: np.ndarray) -> StreamDecoder:
        ref = PmdAccDecoder(
            sample_rate_hz=sample_rate_hz,
            factor=factor,
            resolution_bits=resolution_bits,
            channels=channels,
            stream=stream,
        )
        if si[K.PS_HAS_PREV]:
            ref.last_timestamp_ns_ = int(su[0])
        return ref

    spec_i = np.array([channels, resolution_bits], np.int64)
    spec_f = np.array([float(sample_rate_hz), float(factor)])
    return FastDecoder(
        K.KIND_PMD,
        spec_i,
        spec_f,
        reference,
        has_pressure=False,
        rate_hz=float(sample_rate_hz),
        stream=stream,
    )


def warm_kernels() -> None:
    """Compile (first run) or load (numba's cache) the decoder kernels, so that neither the
    first live packet nor the first replay pays for it; ``./run`` calls it during set-up."""
    # lazy: source.arrays imports this module; the rest is only needed here
    from downhill_live.config.firmware import load_firmware_profile
    from downhill_live.decode.polar_pmd import encode_pmd_acc_delta
    from downhill_live.source import arrays  # the record scan

    lay = load_firmware_profile("dhl-imu").streams["acc"].layout
    dec = fast_layout_decoder(lay, "acc")
    pmd = fast_pmd_decoder(
        sample_rate_hz=200, factor=1.0, resolution_bits=16, channels=3, stream="acc"
    )
    assert dec is not None and pmd is not None
    dec.decode(Packet(0.0, "acc", bytes(8)))
    pmd.decode(Packet(0.0, "acc", encode_pmd_acc_delta(1, np.zeros((2, 3), np.int64))))
    arrays.warm_scan()
    from downhill_live.fused import warm_fused  # lazy: it imports the session

    warm_fused()


__all__ = [
    "FastDecoder",
    "fast_layout_decoder",
    "fast_pmd_decoder",
    "layout_spec",
    "warm_kernels",
]
