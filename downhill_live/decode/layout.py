"""The ``layout`` decoder: header fields, then N samples of x/y/z, as a firmware profile
declares them (devices are data: no Python for a new fixed-size format).

Here side by side: the :class:`Layout` a profile's ``layout:`` key is validated into
(:func:`parse_layout`), the stream settings it takes (``rate_hz``, ``scale_g``), the
:class:`LayoutDecoder` and its inverse :func:`encode_layout_packet` (recordings and virtual
sensors), and :data:`DECODER`, the registry entry.

Sensor time comes from the packet's timestamp field when the layout has one, otherwise from the
sample counter (``index / rate_hz``), otherwise from the running sample count. Time starts at 0
with the first decoded sample. Counter gaps are reported as ``Samples.lost``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from downhill_live.config.yamlio import Checker
from downhill_live.decode.base import (
    Decoder,
    ParsedStream,
    RestartingDecoder,
    Setting,
    StreamConfig,
    StreamDecoder,
    free_params,
)
from downhill_live.errors import DecodeError, DecodeErrorKind, StreamRestartError
from downhill_live.types import Packet, Samples

#: struct-like field types for declarative layouts: name -> (numpy dtype code, size in bytes)
FIELD_TYPES: dict[str, tuple[str, int]] = {
    "u8": ("u1", 1),
    "i8": ("i1", 1),
    "u16": ("u2", 2),
    "i16": ("i2", 2),
    "u32": ("u4", 4),
    "i32": ("i4", 4),
    "f32": ("f4", 4),
}


@dataclass(frozen=True)
class Field:
    """One named fixed-size field of a packet header or a sample."""

    name: str
    type: str


@dataclass(frozen=True)
class Layout:
    """Declarative packet layout: header fields, then repeated samples of int x/y/z."""

    endian: str
    header: tuple[Field, ...]
    sample: tuple[Field, ...]
    samples_per_packet: int | None  # None: as many whole samples as the payload holds
    scale_g: float
    rate_hz: float
    axis_map: tuple[tuple[int, float], ...]  # per output axis: (index into sample fields, sign)
    counter_field: str | None = None
    counter_per: str = "packet"  # "packet" | "sample"
    counter_modulo: int = 65536
    timestamp_field: str | None = None
    timestamp_scale_s: float = 1.0
    timestamp_sample: str = "first"  # "first" | "last"
    pressure_field: str | None = None
    pressure_scale_pa: float = 1.0

    @property
    def header_size(self) -> int:
        return sum(FIELD_TYPES[f.type][1] for f in self.header)

    @property
    def sample_size(self) -> int:
        return sum(FIELD_TYPES[f.type][1] for f in self.sample)


# ---------------------------------------------------------------------------------------------
# the ``layout:`` key of a firmware profile


def _fields(c: Checker, value: Any, key: str) -> tuple[Field, ...]:
    out = []
    for i, item in enumerate(c.sequence(value, key)):
        k = f"{key}[{i}]"
        m = c.mapping(item, k, {"name": "field name", "type": "field type"})
        name = c.string(c.require(m, k, "name"), f"{k}.name")
        ftype = c.string(c.require(m, k, "type"), f"{k}.type", choices=tuple(FIELD_TYPES))
        out.append(Field(name, ftype))
    return tuple(out)


def parse_layout(c: Checker, value: Any, key: str) -> Layout:
    """Validate a ``layout:`` mapping (``key`` is its key path) into a :class:`Layout`.

    Raises
    ------
    ConfigError
        Naming the file, line and key path of the first mistake.
    """
    allowed = {
        "endian": "little | big",
        "header": "list of {name, type}",
        "sample": "list of {name, type}",
        "samples_per_packet": "integer or 'auto'",
        "scale_g": "g per LSB",
        "rate_hz": "sample rate",
        "axis_map": "three sample field names, optionally prefixed with '-'",
        "counter": "{field, per: packet|sample, modulo}",
        "timestamp": "{field, scale_s, sample: first|last}",
        "pressure": "{field, scale_pa}",
    }
    m = c.mapping(value, key, allowed)
    header = _fields(c, m.get("header", []), f"{key}.header")
    sample = _fields(c, c.require(m, key, "sample"), f"{key}.sample")
    names = [f.name for f in header]
    snames = [f.name for f in sample]
    for i, n in enumerate(names + snames):
        if (names + snames).index(n) != i:
            raise c.doc.error(key, f"field name {n!r} is used twice")
    spp_raw = m.get("samples_per_packet", "auto")
    spp = (
        None
        if spp_raw == "auto"
        else c.integer(spp_raw, f"{key}.samples_per_packet", lo=1, hi=4096)
    )
    axes = c.sequence(c.require(m, key, "axis_map"), f"{key}.axis_map", min_len=3)
    if len(axes) != 3:
        raise c.doc.error(f"{key}.axis_map", "must name exactly three sample fields")
    axis_map = []
    for i, a in enumerate(axes):
        s = c.string(a, f"{key}.axis_map[{i}]")
        sign = -1.0 if s.startswith("-") else 1.0
        fname = s.lstrip("+-")
        if fname not in snames:
            raise c.doc.error(
                f"{key}.axis_map[{i}]", f"{fname!r} is not a sample field ({', '.join(snames)})"
            )
        axis_map.append((snames.index(fname), sign))
    kw: dict[str, Any] = {}
    if "counter" in m:
        k = f"{key}.counter"
        cm = c.mapping(
            m["counter"],
            k,
            {"field": "header field", "per": "packet | sample", "modulo": "wrap value"},
        )
        kw["counter_field"] = c.string(
            c.require(cm, k, "field"), f"{k}.field", choices=tuple(names)
        )
        kw["counter_per"] = c.string(
            cm.get("per", "packet"), f"{k}.per", choices=("packet", "sample")
        )
        kw["counter_modulo"] = c.integer(cm.get("modulo", 65536), f"{k}.modulo", lo=2)
    if "timestamp" in m:
        k = f"{key}.timestamp"
        tm = c.mapping(
            m["timestamp"],
            k,
            {"field": "header field", "scale_s": "seconds per unit", "sample": "first | last"},
        )
        kw["timestamp_field"] = c.string(
            c.require(tm, k, "field"), f"{k}.field", choices=tuple(names)
        )
        kw["timestamp_scale_s"] = c.number(tm.get("scale_s", 1.0), f"{k}.scale_s", lo=1e-12)
        kw["timestamp_sample"] = c.string(
            tm.get("sample", "first"), f"{k}.sample", choices=("first", "last")
        )
    if "pressure" in m:
        k = f"{key}.pressure"
        pm = c.mapping(m["pressure"], k, {"field": "header field", "scale_pa": "Pa per unit"})
        kw["pressure_field"] = c.string(
            c.require(pm, k, "field"), f"{k}.field", choices=tuple(names)
        )
        kw["pressure_scale_pa"] = c.number(pm.get("scale_pa", 1.0), f"{k}.scale_pa", lo=1e-12)
    return Layout(
        endian=c.string(m.get("endian", "little"), f"{key}.endian", choices=("little", "big")),
        header=header,
        sample=sample,
        samples_per_packet=spp,
        scale_g=c.number(c.require(m, key, "scale_g"), f"{key}.scale_g", lo=1e-9),
        rate_hz=c.number(c.require(m, key, "rate_hz"), f"{key}.rate_hz", lo=1.0, hi=20000.0),
        axis_map=tuple(axis_map),
        **kw,
    )


# ---------------------------------------------------------------------------------------------
# decoding


class LayoutDecoder:
    """Stateful decoder for one stream (keeps the counter and time base between packets).

    Examples
    --------
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


# ---------------------------------------------------------------------------------------------
# encoding (recordings from the simulator, virtual sensors)


def encode_layout_packet(layout: Layout, header: dict[str, int], acc_counts: np.ndarray) -> bytes:
    """Inverse of :class:`LayoutDecoder` for integer sample fields (used by the simulator to
    write recordings and by virtual sensors). ``acc_counts`` is (N, 3) in the layout's raw
    units, in *output* axis order; the axis map is inverted here.

    Examples
    --------
    >>> lay = Layout("little", (Field("seq", "u16"),), (Field("x", "i16"), Field("y", "i16"),
    ...              Field("z", "i16")), None, 1 / 2048, 100.0, ((0, 1.0), (1, 1.0), (2, 1.0)),
    ...              counter_field="seq")
    >>> encode_layout_packet(lay, {"seq": 1}, np.array([[2048, 0, -2048]])).hex(" ")
    '01 00 00 08 00 00 00 f8'
    """
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


# ---------------------------------------------------------------------------------------------
# the registry entry


def _parse(c: Checker, stream: dict[str, Any], key: str) -> ParsedStream:
    layout = parse_layout(c, c.require(stream, key, "layout"), f"{key}.layout")
    return ParsedStream(free_params(c, stream, key), layout)


def _layout_of(stream: StreamConfig) -> Layout:
    layout = stream.layout
    if not isinstance(layout, Layout):
        raise TypeError(f"stream {stream.name!r} has no layout")
    return layout


def reference_decoder(layout: Layout, stream: str = "") -> RestartingDecoder:
    """The Python reference of a layout stream's decoder (what :func:`_make`'s compiled
    decoder is tested against)."""
    dec = RestartingDecoder(lambda: LayoutDecoder(layout, stream=stream), rate_hz=layout.rate_hz)
    dec.stream = stream
    return dec


def _make(stream: StreamConfig) -> StreamDecoder:
    # lazy: the compiled decoder module loads numba kernels
    from downhill_live.decode.fast import fast_layout_decoder

    layout, name = _layout_of(stream), stream.name
    fast = fast_layout_decoder(layout, name)
    return fast if fast is not None else reference_decoder(layout, name)


def _rate_hz(stream: StreamConfig) -> float | None:
    return _layout_of(stream).rate_hz


def _range_g(stream: StreamConfig) -> float | None:
    """Integer axes saturate at their type's largest magnitude x ``scale_g``; floats: unknown."""
    layout = _layout_of(stream)
    tops = []
    for index, _sign in layout.axis_map:
        code = FIELD_TYPES[layout.sample[index].type][0]
        if code.startswith("f"):
            return None
        info = np.iinfo(np.dtype(code))
        tops.append(min(abs(int(info.min)), int(info.max)))
    return float(min(tops)) * abs(layout.scale_g) if tops else None


def _apply_settings(stream: StreamConfig, settings: Mapping[str, Any]) -> dict[str, Any]:
    layout = _layout_of(stream)
    rate_hz = float(settings.get("rate_hz", layout.rate_hz))
    scale_g = float(settings.get("scale_g", layout.scale_g))
    return {"layout": dataclasses.replace(layout, rate_hz=rate_hz, scale_g=scale_g)}


#: the registry entry of ``decoder: layout``
DECODER = Decoder(
    name="layout",
    description="declarative: header fields, then samples of x/y/z (see docs/adding-a-sensor.md)",
    has_acceleration=True,
    parse=_parse,
    make=_make,
    stream_keys={"layout": "layout"},
    rate_hz=_rate_hz,
    range_g=_range_g,
    settings={
        "rate_hz": Setting("sample rate of layout streams (Hz)"),
        "scale_g": Setting("g per LSB of layout streams"),
    },
    apply_settings=_apply_settings,
)

__all__ = [
    "DECODER",
    "FIELD_TYPES",
    "Field",
    "Layout",
    "LayoutDecoder",
    "encode_layout_packet",
    "parse_layout",
    "reference_decoder",
]
