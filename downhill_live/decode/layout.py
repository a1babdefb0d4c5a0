"""Declarative layout decoder: header fields, then N samples of x/y/z, per a firmware profile.

Sensor time comes from the packet's timestamp field when the layout has one, otherwise from the
sample counter (``index / rate_hz``), otherwise from the running sample count. Time starts at 0
with the first decoded sample. Counter gaps are reported as ``Samples.lost``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from downhill_live.config.firmware import FIELD_TYPES, Layout
from downhill_live.errors import DecodeError, DecodeErrorKind, StreamRestartError
from downhill_live.types import Packet, Samples


class LayoutDecoder:
    """Stateful decoder for one stream (keeps the counter and time base between packets).

    Examples
    --------
    >>> from downhill_live.config.firmware import Field
    >>> lay = Layout("little", (Field("seq", "u16"),), (Field("x", "i16"), Field("y", "i16"),
    ...              Field("z", "i16")), None, 1 / 2048, 100.0, ((0, 1.0), (1, 1.0), (2, 1.0)),
    ...              counter_field="seq")
    >>> dec = LayoutDecoder(lay, stream="acc")
    >>> s = dec.decode(Packet(0.0, "acc", bytes.fromhex("0000" "0008" "0000" "0000")))
    >>> s.acc_g.tolist(), s.t_s.tolist()
    ([[1.0, 0.0, 0.0]], [0.0])
    """

    def __init__(self, layout: Layout, *, stream: str = "") -> None:
        self.layout = layout
        self.stream = stream
        end = "<" if layout.endian == "little" else ">"
        self._hdr_dtype = np.dtype([(f.name, end + FIELD_TYPES[f.type][0]) for f in layout.header])
        self._smp_dtype = np.dtype([(f.name, end + FIELD_TYPES[f.type][0]) for f in layout.sample])
        self._names = [f.name for f in layout.sample]
        self._next_counter: int | None = None
        self._sample_index = 0  # index of the next expected sample (counter or count based)
        self._t0_s: float | None = None
        self.packets = 0
        self.lost_samples = 0

    def decode(self, packet: Packet, index: int | None = None) -> Samples:
        """Decode one payload; raises :class:`DecodeError` (state unchanged) when malformed."""
        lay = self.layout
        data = packet.payload
        hsize, ssize = lay.header_size, lay.sample_size
        body = len(data) - hsize
        if body < ssize:
            raise DecodeError(
                f"truncated: need at least {hsize + ssize} bytes, got {len(data)}",
                kind=DecodeErrorKind.TRUNCATED,
                summary="truncated",
                stream=self.stream,
                index=index,
            )
        if lay.samples_per_packet is None:
            if body % ssize:
                raise DecodeError(
                    f"payload of {len(data)} bytes is not a {hsize}-byte header plus whole "
                    f"{ssize}-byte samples",
                    kind=DecodeErrorKind.BAD_LENGTH,
                    stream=self.stream,
                    index=index,
                )
            n = body // ssize
        else:
            n = lay.samples_per_packet
            if body != n * ssize:
                raise DecodeError(
                    f"expected {hsize + n * ssize} bytes ({n} samples), got {len(data)}",
                    kind=DecodeErrorKind.BAD_LENGTH,
                    summary=f"expected {hsize + n * ssize} bytes, got {len(data)}",
                    stream=self.stream,
                    index=index,
                )
        hdr = np.frombuffer(data, self._hdr_dtype, count=1)[0] if hsize else None
        raw = np.frombuffer(data, self._smp_dtype, count=n, offset=hsize)
        acc = np.empty((n, 3), dtype=np.float64)
        for out_axis, (field_idx, sign) in enumerate(lay.axis_map):
            acc[:, out_axis] = raw[self._names[field_idx]].astype(np.float64) * (sign * lay.scale_g)

        lost = 0
        first_index = self._sample_index
        if lay.counter_field is not None and hdr is not None:
            counter = int(hdr[lay.counter_field])
            step = n if lay.counter_per == "packet" else 1
            if self._next_counter is not None:
                gap = (counter - self._next_counter) % lay.counter_modulo
                if gap > lay.counter_modulo // 2:
                    raise StreamRestartError(
                        f"sample counter went backwards (expected {self._next_counter}, got {counter})",
                        summary="sample counter went backwards",
                        stream=self.stream,
                        index=index,
                    )
                lost = gap * step
                first_index += lost
            self._next_counter = (
                (counter + 1) % lay.counter_modulo
                if lay.counter_per == "packet"
                else ((counter + n) % lay.counter_modulo)
            )
        rate = lay.rate_hz
        if lay.timestamp_field is not None and hdr is not None:
            ts = float(hdr[lay.timestamp_field]) * lay.timestamp_scale_s
            first_t = ts if lay.timestamp_sample == "first" else ts - (n - 1) / rate
            if self._t0_s is None:
                self._t0_s = first_t
            t_s = (first_t - self._t0_s) + np.arange(n) / rate
        else:
            t_s = (first_index + np.arange(n)) / rate
        pressure = None
        if lay.pressure_field is not None and hdr is not None:
            pressure = np.full(n, float(hdr[lay.pressure_field]) * lay.pressure_scale_pa)
        self._sample_index = first_index + n
        self.packets += 1
        self.lost_samples += lost
        return Samples(t_s=t_s, acc_g=acc, pressure_pa=pressure, lost=lost)

    def decode_many(self, packets: Sequence[Packet], index: int | None = None) -> Samples | None:
        """Decode a run of packets at once, exactly as :meth:`decode` would one by one.

        For speed only (replay, analysis): returns the concatenated samples, or ``None`` without
        touching the state when the run is not a clean case (payload sizes differ or are
        invalid, a counter goes backwards); the caller then decodes packet by packet, which
        raises the precise errors.
        """
        lay = self.layout
        if not packets:
            return None
        size = len(packets[0].payload)
        hsize, ssize = lay.header_size, lay.sample_size
        body = size - hsize
        if body < ssize or body % ssize or any(len(p.payload) != size for p in packets):
            return None
        n = body // ssize
        if lay.samples_per_packet is not None and n != lay.samples_per_packet:
            return None
        m = len(packets)
        dtype = (
            np.dtype([("hdr", self._hdr_dtype), ("smp", self._smp_dtype, (n,))])
            if hsize
            else (np.dtype([("smp", self._smp_dtype, (n,))]))
        )
        arr = np.frombuffer(b"".join(p.payload for p in packets), dtype=dtype, count=m)
        raw = arr["smp"].reshape(m * n)
        acc = np.empty((m * n, 3), dtype=np.float64)
        for out_axis, (field_idx, sign) in enumerate(lay.axis_map):
            acc[:, out_axis] = raw[self._names[field_idx]].astype(np.float64) * (sign * lay.scale_g)

        lost = np.zeros(m, dtype=np.int64)
        first = np.full(m, self._sample_index, dtype=np.int64)
        next_counter = self._next_counter
        if lay.counter_field is not None and hsize:
            counter = arr["hdr"][lay.counter_field].astype(np.int64)
            step = n if lay.counter_per == "packet" else 1
            inc = 1 if lay.counter_per == "packet" else n
            expected = np.empty(m, dtype=np.int64)
            expected[1:] = (counter[:-1] + inc) % lay.counter_modulo
            expected[0] = counter[0] if self._next_counter is None else self._next_counter
            gap = (counter - expected) % lay.counter_modulo
            if np.any(gap > lay.counter_modulo // 2):
                return None
            lost = gap * step
            next_counter = int((counter[-1] + inc) % lay.counter_modulo)
        # first sample index of each packet: running sum of samples and losses
        first = self._sample_index + np.cumsum(lost) + n * np.arange(m, dtype=np.int64)
        rate = lay.rate_hz
        t0 = self._t0_s
        if lay.timestamp_field is not None and hsize:
            ts = arr["hdr"][lay.timestamp_field].astype(np.float64) * lay.timestamp_scale_s
            first_t = ts if lay.timestamp_sample == "first" else ts - (n - 1) / rate
            if t0 is None:
                t0 = float(first_t[0])
            t_s = ((first_t - t0)[:, None] + np.arange(n)[None, :] / rate).reshape(m * n)
        else:
            t_s = ((first[:, None] + np.arange(n)[None, :]) / rate).reshape(m * n)
        pressure = None
        if lay.pressure_field is not None and hsize:
            p_pa = arr["hdr"][lay.pressure_field].astype(np.float64) * lay.pressure_scale_pa
            pressure = np.repeat(p_pa, n)
        self._next_counter = next_counter
        self._t0_s = t0
        self._sample_index = int(first[-1]) + n
        self.packets += m
        total_lost = int(lost.sum())
        self.lost_samples += total_lost
        return Samples(t_s=t_s, acc_g=acc, pressure_pa=pressure, lost=total_lost)


def encode_layout_packet(layout: Layout, header: dict[str, int], acc_counts: np.ndarray) -> bytes:
    """Inverse of :class:`LayoutDecoder` for integer sample fields (used by the simulator to
    write recordings and by virtual sensors). ``acc_counts`` is (N, 3) in the layout's raw
    units, in *output* axis order; the axis map is inverted here."""
    end = "<" if layout.endian == "little" else ">"
    hdr_dtype = np.dtype([(f.name, end + FIELD_TYPES[f.type][0]) for f in layout.header])
    smp_dtype = np.dtype([(f.name, end + FIELD_TYPES[f.type][0]) for f in layout.sample])
    hdr = np.zeros(1, hdr_dtype)
    for name, value in header.items():
        hdr[name] = value
    smp = np.zeros(len(acc_counts), smp_dtype)
    names = [f.name for f in layout.sample]
    for out_axis, (field_idx, sign) in enumerate(layout.axis_map):
        smp[names[field_idx]] = np.asarray(acc_counts[:, out_axis] * sign)
    return hdr.tobytes() + smp.tobytes()
