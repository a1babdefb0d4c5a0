"""``downhill-live import`` and ``export``: other tools' files <-> recordings.

Import reads a CSV (``t_s,ax,ay,az[,pressure_pa]``, see :func:`downhill_live.analyze.read_csv_samples`)
or an accelerometer text file of the Polar Sensor Logger app
(``Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]``), puts the samples on a uniform
grid at the nominal rate (linear interpolation; gaps longer than :data:`MAX_GAP_SAMPLES` sample
periods stay gaps and show as lost samples) and writes a recording whose records use the
``imported-f32`` firmware layout (u32 sample counter + float32 x/y/z in g; ``imported-f32-baro``
adds the record's mean pressure). Receive times are the sensor times of each record's last sample.

Export decodes a recording back to samples (CSV) or runs the gait core and writes one row per
detected step (CSV).
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from tqdm import tqdm

from downhill_live.config.firmware import load_firmware_profile
from downhill_live.decode import make_decoder
from downhill_live.errors import DecodeError, InputError, RecordingError
from downhill_live.files import atomic_open, check_input
from downhill_live.record import MAGIC, RecordingWriter, read_recording
from downhill_live.session import recording_firmware
from downhill_live.tools.analyze import (
    MAX_RATE_HZ,
    MIN_RATE_HZ,
    STEP_FIELDS,
    open_samples_csv,
    parse_finite,
    read_csv_samples,
    read_samples_header,
)
from downhill_live.types import G_MPS2, PLACEMENTS, Packet, Step

#: samples per record written by import
SAMPLES_PER_RECORD = 20
#: a time step longer than this many nominal sample periods is a gap (not interpolated over)
MAX_GAP_SAMPLES = 4.0
POLAR_TIME_COLUMN = "sensor timestamp [ns]"
_POLAR_AXES = ("X", "Y", "Z")
_POLAR_UNITS = {"mg": 1e-3, "g": 1.0, "m/s^2": 1.0 / G_MPS2, "m/s2": 1.0 / G_MPS2}


@dataclass(frozen=True)
class ImportedSamples:
    """Samples read from a foreign file, before resampling.

    ``t_s`` (N,) seconds from the first sample, non-decreasing; ``acc_g`` (N, 3) in g;
    ``pressure_pa`` (N,) or None; ``source_format`` ``"csv"`` or ``"polar"``.
    """

    t_s: np.ndarray
    acc_g: np.ndarray
    pressure_pa: np.ndarray | None
    source_format: str


def sniff_format(path: str | Path) -> str:
    """``"recording"``, ``"polar"`` (semicolon header naming ``sensor timestamp [ns]``) or
    ``"csv"``, from the first bytes of the file."""
    p = str(check_input(path))  # before open(): a FIFO would block, /dev/zero never end
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise InputError(p, exc.strerror or str(exc)) from None
    if head.startswith(MAGIC):
        return "recording"
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").lstrip("\ufeff")
    if ";" in first and POLAR_TIME_COLUMN.lower() in first.lower():
        return "polar"
    return "csv"


def read_polar_acc(path: str | Path) -> ImportedSamples:
    """Read a Polar Sensor Logger accelerometer file (``*_ACC.txt``).

    Columns are separated by ``;``; the header names ``sensor timestamp [ns]`` (nanoseconds,
    sensor clock) and ``X [mg];Y [mg];Z [mg]`` (milli-g, gravity included; ``[g]`` and
    ``[m/s^2]`` are accepted too). Other columns (``Phone timestamp``) are ignored. Time comes
    from the sensor timestamps only. Errors name the 1-based line.

    Returns
    -------
    ImportedSamples
        ``t_s`` relative to the first row, ``acc_g`` in g, no pressure.
    """
    p = str(check_input(path))
    try:
        fh = open(path, encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(p, exc.strerror or str(exc)) from None
    t_ns: list[int] = []
    rows: list[tuple[float, float, float]] = []
    with fh:
        try:
            header_line = fh.readline()
        except UnicodeDecodeError:
            raise InputError(p, "file is not UTF-8 text", line=1) from None
        header = [h.strip().lstrip("\ufeff") for h in header_line.rstrip("\r\n").split(";")]
        low = [h.lower() for h in header]
        if POLAR_TIME_COLUMN not in low:
            raise InputError(
                p,
                f"header has no {POLAR_TIME_COLUMN!r} column (expected Polar Sensor Logger "
                "'Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]')",
                line=1,
            )
        ti = low.index(POLAR_TIME_COLUMN)
        axes: list[int] = []
        scales: list[float] = []
        for ax in _POLAR_AXES:
            found = [
                (i, h[h.index("[") + 1 : h.rindex("]")].strip().lower())
                for i, h in enumerate(header)
                if h.upper().startswith(ax + " [") and h.endswith("]")
            ]
            if not found:
                raise InputError(p, f"header has no '{ax} [mg]' column", line=1)
            i, unit = found[0]
            if unit not in _POLAR_UNITS:
                raise InputError(
                    p,
                    f"column {header[i]!r}: unit {unit!r} is not one of {', '.join(_POLAR_UNITS)}",
                    line=1,
                )
            axes.append(i)
            scales.append(_POLAR_UNITS[unit])
        need = max(ti, *axes) + 1
        last = -(1 << 62)
        line_no = 1
        try:
            for line in fh:
                line_no += 1
                text = line.strip()
                if not text:
                    continue
                cols = text.split(";")
                if len(cols) < need:
                    raise InputError(
                        p,
                        f"expected at least {need} ';'-separated columns, got {len(cols)}",
                        line=line_no,
                    )
                try:
                    ns = int(cols[ti].strip())
                except ValueError:
                    raise InputError(
                        p, f"{header[ti]}: {cols[ti]!r} is not an integer", line=line_no
                    ) from None
                if not abs(ns) < 1 << 62:  # differences must fit int64
                    raise InputError(p, f"{header[ti]}: {cols[ti]!r} is out of range", line=line_no)
                vals = [parse_finite(cols[i], header[i], p, line_no) for i in axes]
                if ns < last:
                    raise InputError(
                        p, f"sensor time goes backwards ({ns} ns after {last} ns)", line=line_no
                    )
                last = ns
                t_ns.append(ns)
                rows.append((vals[0], vals[1], vals[2]))
        except UnicodeDecodeError:
            raise InputError(p, "file is not UTF-8 text", line=line_no + 1) from None
    if len(rows) < 2:
        raise InputError(p, "needs at least two samples")
    ns_arr = np.asarray(t_ns, dtype=np.int64)
    t_s = (ns_arr - ns_arr[0]).astype(np.float64) * 1e-9
    acc = np.asarray(rows, dtype=np.float64) * np.asarray(scales)
    return ImportedSamples(t_s, acc, None, "polar")


def read_import_csv(path: str | Path, *, units: str = "g") -> ImportedSamples:
    """Read ``t_s,ax,ay,az[,pressure_pa]`` (see :func:`downhill_live.analyze.read_csv_samples`)."""
    t_s, acc_g, pressure = read_csv_samples(path, units=units)
    return ImportedSamples(t_s - t_s[0], acc_g, pressure, "csv")


def infer_rate_hz(t_s: np.ndarray) -> float:
    """Nominal rate from the median sample interval, snapped to a whole Hz within 1 %."""
    dt = np.diff(t_s)
    dt = dt[dt > 0]
    if not len(dt):
        return math.nan
    rate = 1.0 / float(np.median(dt))
    whole = round(rate)
    return float(whole) if whole and abs(rate - whole) <= 0.01 * whole else rate


def resample_uniform(
    t_s: np.ndarray,
    acc_g: np.ndarray,
    pressure_pa: np.ndarray | None,
    rate_hz: float,
    *,
    max_gap_samples: float = MAX_GAP_SAMPLES,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Put samples on the grid ``t_s[0] + k / rate_hz`` by linear interpolation.

    Runs of samples separated by more than ``max_gap_samples`` sample periods are interpolated
    separately; grid points inside a gap are left out, so the gap shows as missing indices.
    Repeated time stamps keep their first sample.

    Returns
    -------
    index : numpy.ndarray
        (M,) int64 grid indices, increasing, starting at 0.
    acc_g : numpy.ndarray
        (M, 3) acceleration (g) at those indices.
    pressure_pa : numpy.ndarray or None
        (M,) pressure (Pa) at those indices.
    """
    t = np.asarray(t_s, dtype=np.float64) - float(t_s[0])
    keep = np.concatenate([[True], np.diff(t) > 0])
    t, acc = t[keep], np.asarray(acc_g, dtype=np.float64)[keep]
    pr = None if pressure_pa is None else np.asarray(pressure_pa, dtype=np.float64)[keep]
    breaks = np.flatnonzero(np.diff(t) > max_gap_samples / rate_hz) + 1
    bounds = np.concatenate([[0], breaks, [len(t)]])
    idx_parts, acc_parts, pr_parts = [], [], []
    eps = 1e-6
    for a, b in itertools.pairwise(bounds):
        ts = t[a:b]
        k0 = math.ceil(ts[0] * rate_hz - eps)
        k1 = math.floor(ts[-1] * rate_hz + eps)
        if k1 < k0:
            continue
        k = np.arange(k0, k1 + 1, dtype=np.int64)
        tk = k / rate_hz
        idx_parts.append(k)
        acc_parts.append(np.column_stack([np.interp(tk, ts, acc[a:b, j]) for j in range(3)]))
        if pr is not None:
            pr_parts.append(np.interp(tk, ts, pr[a:b]))
    index = np.concatenate(idx_parts)
    out_acc = np.concatenate(acc_parts)
    out_pr = np.concatenate(pr_parts) if pr is not None else None
    return index, out_acc, out_pr


def _record_starts(index: np.ndarray, samples_per_record: int) -> list[int]:
    """Where records of consecutive grid indices start: at every index jump and every
    ``samples_per_record`` samples of a run; the last item is ``len(index)``."""
    jumps = np.flatnonzero(np.diff(index) != 1) + 1
    starts: list[int] = []
    run_bounds = np.concatenate([[0], jumps, [len(index)]])
    for a, b in itertools.pairwise(run_bounds):
        starts.extend(range(int(a), int(b), samples_per_record))
    starts.append(len(index))
    return starts


def pack_records(
    index: np.ndarray,
    acc_g: np.ndarray,
    pressure_pa: np.ndarray | None,
    rate_hz: float,
    *,
    samples_per_record: int = SAMPLES_PER_RECORD,
) -> list[Packet]:
    """Cut grid samples into ``imported-f32`` (or ``-baro``) payloads of consecutive indices.

    Each payload is the u32 grid index of its first sample (then, with pressure, the f32 mean
    pressure in Pa) and float32 x/y/z in g; the receive time is the last sample's grid time.
    """
    smp = np.empty(len(index), dtype=np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4")]))
    smp["x"], smp["y"], smp["z"] = acc_g[:, 0], acc_g[:, 1], acc_g[:, 2]
    raw = smp.tobytes()
    size = smp.dtype.itemsize
    starts = _record_starts(index, samples_per_record)
    packets: list[Packet] = []
    for s, e in itertools.pairwise(starts):
        head = np.array([int(index[s]) % (1 << 32)], dtype="<u4").tobytes()
        if pressure_pa is not None:
            head += np.array([np.mean(pressure_pa[s:e])], dtype="<f4").tobytes()
        t_rx = float(index[e - 1]) / rate_hz
        packets.append(Packet(t_rx, "acc", head + raw[s * size : e * size]))
    return packets


def import_samples(
    samples: ImportedSamples,
    out: str | Path,
    *,
    rate_hz: float | None = None,
    placement: str = "foot",
    source_name: str = "",
    start_time: str | None = None,
) -> tuple[int, int, float]:
    """Write ``samples`` as a recording at ``out``.

    Returns
    -------
    tuple
        (records written, grid samples written, rate in Hz).
    """
    rate = rate_hz if rate_hz is not None else infer_rate_hz(samples.t_s)
    if not (math.isfinite(rate) and MIN_RATE_HZ <= rate <= MAX_RATE_HZ):
        raise InputError(
            source_name or str(out),
            f"sample rate {rate:.4g} Hz is outside {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz"
            + ("" if rate_hz is not None else " (inferred from the time stamps; give --rate)"),
        )
    for name, values in (("acceleration", samples.acc_g), ("pressure", samples.pressure_pa)):
        # records store float32: larger values would silently become infinite
        if values is None:
            continue
        with np.errstate(over="ignore"):
            bad = np.flatnonzero(~np.isfinite(values.astype(np.float32)))
        if len(bad):
            row = int(bad[0]) // (values.size // len(values))
            raise InputError(
                source_name or str(out),
                f"sample {row + 1}: {name} {values[row]} is too large to store (float32)",
            )
    if placement not in PLACEMENTS:
        raise InputError("--placement", f"must be one of {', '.join(PLACEMENTS)}")
    index, acc, pr = resample_uniform(samples.t_s, samples.acc_g, samples.pressure_pa, rate)
    packets = pack_records(index, acc, pr, rate)
    prof = load_firmware_profile("imported-f32" if pr is None else "imported-f32-baro")
    header = {
        "device": {"name": f"imported {samples.source_format}", "address": ""},
        "firmware": {"name": prof.name, "yaml": prof.source_text},
        "settings": {"rate_hz": rate},
        "placement": placement,
        "start_time": start_time,
        "import": {
            "source": Path(source_name).name if source_name else "",
            "format": samples.source_format,
            "rows": len(samples.t_s),
            "rate_hz": rate,
        },
    }
    target = Path(out)
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:  # complete, or not there at all: written beside the target, then renamed over it
        with RecordingWriter(part, header, streams=list(prof.streams)) as w:
            for packet in packets:
                w.write_packet(packet)
        os.replace(part, target)
    except OSError as exc:
        raise InputError(str(target), exc.strerror or str(exc)) from None
    finally:
        with contextlib.suppress(OSError):
            part.unlink()
    return len(packets), len(index), rate


# ------------------------------------------------------------------ streaming CSV import
#: rows read, resampled and written at a time by :func:`import_csv`
CHUNK_ROWS = 65536
#: rows the sample rate is inferred from (when not given) by :func:`import_csv`
RATE_ROWS = 65536


def _csv_chunks(
    path: str | Path, *, units: str = "g", chunk_rows: int = CHUNK_ROWS
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """Read ``t_s,ax,ay,az[,pressure_pa]`` as :func:`~downhill_live.tools.analyze.
    read_csv_samples` does (same checks, errors naming the line), ``chunk_rows`` rows at a
    time: ``(t_s, acc_g, pressure_pa or None)`` per chunk."""
    p = str(check_input(path))
    fh = open_samples_csv(p)
    with fh:
        reader, header, cols = read_samples_header(fh, p)
        has_p = len(cols) == 5
        n_cols = len(header)
        names = [f"column {header[ci]}" for ci in cols]
        buf = np.empty((chunk_rows, len(cols)), dtype=np.float64)
        n = 0
        last_t = -math.inf
        try:
            for row in reader:
                line = reader.line_num
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) < n_cols:
                    raise InputError(p, f"expected {n_cols} columns, got {len(row)}", line=line)
                for j, ci in enumerate(cols):
                    buf[n, j] = parse_finite(row[ci], names[j], p, line)
                t = buf[n, 0]
                if t < last_t:
                    raise InputError(p, f"time goes backwards (t_s {t} after {last_t})", line=line)
                last_t = t
                n += 1
                if n == chunk_rows:
                    yield _chunk(buf, n, units, has_p)
                    n = 0
        except csv.Error as exc:
            raise InputError(p, f"malformed CSV ({exc})", line=reader.line_num) from None
        except UnicodeDecodeError:
            raise InputError(p, "file is not UTF-8 text", line=reader.line_num) from None
        if n:
            yield _chunk(buf, n, units, has_p)


def _chunk(
    buf: np.ndarray, n: int, units: str, has_p: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    arr = buf[:n]
    acc = arr[:, 1:4] / G_MPS2 if units == "ms2" else arr[:, 1:4].copy()
    return arr[:, 0].copy(), acc, (arr[:, 4].copy() if has_p else None)


class _StreamResampler:
    """:func:`resample_uniform` one chunk at a time, with the same output: the last kept sample
    of a chunk is carried into the next, so interpolation and gaps run across chunks."""

    def __init__(self, rate_hz: float, max_gap_samples: float = MAX_GAP_SAMPLES) -> None:
        self.rate_hz = rate_hz
        self.max_gap_s = max_gap_samples / rate_hz
        self.t0: float | None = None
        self.carry: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
        self.next_k = -(1 << 62)  # first grid index not yet emitted

    def feed(
        self, t_s: np.ndarray, acc_g: np.ndarray, pressure_pa: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if self.t0 is None:
            self.t0 = float(t_s[0])
        t = t_s - self.t0
        acc, pr = acc_g, pressure_pa
        if self.carry is not None:
            ct, ca, cp = self.carry
            t = np.concatenate([ct, t])
            acc = np.concatenate([ca, acc])
            pr = None if pr is None or cp is None else np.concatenate([cp, pr])
        keep = np.concatenate([[True], np.diff(t) > 0])
        t, acc = t[keep], acc[keep]
        pr = None if pr is None else pr[keep]
        self.carry = (t[-1:], acc[-1:], None if pr is None else pr[-1:])
        rate = self.rate_hz
        breaks = np.flatnonzero(np.diff(t) > self.max_gap_s) + 1
        bounds = np.concatenate([[0], breaks, [len(t)]])
        idx_parts, acc_parts, pr_parts = [], [], []
        eps = 1e-6
        for a, b in itertools.pairwise(bounds):
            ts = t[a:b]
            k0 = max(math.ceil(ts[0] * rate - eps), self.next_k)
            k1 = math.floor(ts[-1] * rate + eps)
            if k1 < k0:
                continue
            k = np.arange(k0, k1 + 1, dtype=np.int64)
            tk = k / rate
            idx_parts.append(k)
            acc_parts.append(np.column_stack([np.interp(tk, ts, acc[a:b, j]) for j in range(3)]))
            if pr is not None:
                pr_parts.append(np.interp(tk, ts, pr[a:b]))
            self.next_k = k1 + 1
        if not idx_parts:
            return np.zeros(0, np.int64), np.zeros((0, 3)), None if pr is None else np.zeros(0)
        return (
            np.concatenate(idx_parts),
            np.concatenate(acc_parts),
            np.concatenate(pr_parts) if pr is not None else None,
        )


class _StreamPacker:
    """:func:`pack_records` one chunk at a time, with the same records: the last (maybe
    incomplete) record of a chunk waits for the next chunk."""

    def __init__(self, rate_hz: float) -> None:
        self.rate_hz = rate_hz
        self.pending: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None

    def feed(
        self,
        index: np.ndarray,
        acc_g: np.ndarray,
        pressure_pa: np.ndarray | None,
        *,
        final: bool = False,
    ) -> list[Packet]:
        if self.pending is not None:
            pi, pa, pp = self.pending
            index = np.concatenate([pi, index])
            acc_g = np.concatenate([pa, acc_g])
            pressure_pa = None if pp is None or pressure_pa is None else np.concatenate(
                [pp, pressure_pa]
            )
            self.pending = None
        if not len(index):
            return []
        cut = len(index) if final else _record_starts(index, SAMPLES_PER_RECORD)[-2]
        if cut < len(index):
            self.pending = (
                index[cut:],
                acc_g[cut:],
                None if pressure_pa is None else pressure_pa[cut:],
            )
        if cut == 0:
            return []
        pr = None if pressure_pa is None else pressure_pa[:cut]
        return pack_records(index[:cut], acc_g[:cut], pr, self.rate_hz)


def _check_float32(values: np.ndarray | None, name: str, first_row: int, source: str) -> None:
    """Records store float32: larger values would silently become infinite."""
    if values is None:
        return
    with np.errstate(over="ignore"):
        bad = np.flatnonzero(~np.isfinite(values.astype(np.float32)))
    if len(bad):
        row = int(bad[0]) // (values.size // len(values))
        raise InputError(
            source,
            f"sample {first_row + row + 1}: {name} {values[row]} is too large to store (float32)",
        )


def import_csv(
    path: str | Path,
    out: str | Path,
    *,
    units: str = "g",
    rate_hz: float | None = None,
    placement: str = "foot",
    start_time: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: str | None = None,
) -> tuple[int, int, float, int]:
    """Import a ``t_s,ax,ay,az[,pressure_pa]`` CSV as a recording at ``out``, streaming: the
    file is read, resampled and written ``chunk_rows`` rows at a time, so memory does not grow
    with its length (``benchmarks/bench_import.py`` prints the peak). The records are those
    :func:`import_samples` writes for the whole file at once.

    Without ``rate_hz`` the rate is inferred (:func:`infer_rate_hz`) from the time stamps of
    the first :data:`RATE_ROWS` rows (all rows of a shorter file, as the whole-file path does). A bad line is an :class:`InputError` naming the file and line; the output is
    then not created (it is written beside the target and renamed when complete).
    ``progress``: a label for a progress bar (rows read) on standard error, a terminal only.

    Returns
    -------
    tuple
        (records written, grid samples written, rate in Hz, rows read).
    """
    source = str(path)
    if placement not in PLACEMENTS:
        raise InputError("--placement", f"must be one of {', '.join(PLACEMENTS)}")
    chunks = _csv_chunks(path, units=units, chunk_rows=chunk_rows)
    head: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
    for chunk in chunks:  # the first RATE_ROWS rows (or all): the rate is inferred from them
        head.append(chunk)
        if sum(len(c[0]) for c in head) >= RATE_ROWS:
            break
    if not head or sum(len(c[0]) for c in head) < 2:
        raise InputError(source, "needs at least two samples")
    first = head[0]
    rate = infer_rate_hz(np.concatenate([c[0] for c in head])) if rate_hz is None else rate_hz
    if not (math.isfinite(rate) and MIN_RATE_HZ <= rate <= MAX_RATE_HZ):
        raise InputError(
            source,
            f"sample rate {rate:.4g} Hz is outside {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz"
            + ("" if rate_hz is not None else " (inferred from the time stamps; give --rate)"),
        )
    has_p = first[2] is not None
    prof = load_firmware_profile("imported-f32-baro" if has_p else "imported-f32")
    header = {
        "device": {"name": "imported csv", "address": ""},
        "firmware": {"name": prof.name, "yaml": prof.source_text},
        "settings": {"rate_hz": rate},
        "placement": placement,
        "start_time": start_time,
        "import": {"source": Path(source).name, "format": "csv", "rate_hz": rate},
    }
    resampler = _StreamResampler(rate)
    packer = _StreamPacker(rate)
    n_records = n_samples = n_rows = 0
    target = Path(out)
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:  # complete, or not there at all: written beside the target, then renamed over it
        with (
            RecordingWriter(part, header, streams=list(prof.streams)) as w,
            tqdm(
                desc=progress,
                unit=" rows",
                unit_scale=True,
                leave=False,
                disable=None if progress else True,  # None: off when not a terminal
                file=sys.stderr,
            ) as bar,
        ):
            for chunk in itertools.chain(head, chunks):
                t_s, acc, pr = chunk
                bar.update(len(t_s))
                _check_float32(acc, "acceleration", n_rows, source)
                _check_float32(pr, "pressure", n_rows, source)
                n_rows += len(t_s)
                index, acc_grid, pr_grid = resampler.feed(t_s, acc, pr)
                n_samples += len(index)
                for packet in packer.feed(index, acc_grid, pr_grid):
                    w.write_packet(packet)
                    n_records += 1
                w.flush(sync=False)  # the records leave memory chunk by chunk
            rest = packer.feed(
                np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0) if has_p else None, final=True
            )
            for packet in rest:
                w.write_packet(packet)
                n_records += 1
        os.replace(part, target)
    except OSError as exc:
        raise InputError(str(target), exc.strerror or str(exc)) from None
    except RecordingError as exc:
        raise InputError(str(target), str(exc)) from None
    finally:
        with contextlib.suppress(OSError):
            part.unlink()
    return n_records, n_samples, rate, n_rows


# ------------------------------------------------------------------------------------ export
def decode_recording(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Decode every acceleration record of a recording.

    Returns
    -------
    tuple
        ``t_s`` (N,), ``acc_g`` (N, 3), ``pressure_pa`` (N,) or None, and the number of
        records that failed to decode (skipped).
    """

    rec = read_recording(str(path))
    firmware = recording_firmware(rec, str(path))
    decoders = {name: make_decoder(firmware, st) for name, st in firmware.streams.items()}
    ts, accs, prs = [], [], []
    bad = 0
    any_p = False
    for i, packet in enumerate(rec.packets):
        dec = decoders.get(packet.stream)
        if dec is None:
            continue
        try:
            s = dec.decode(packet, i)
        except DecodeError:
            bad += 1
            continue
        if not len(s.t_s):
            continue
        ts.append(s.t_s)
        accs.append(s.acc_g)
        any_p = any_p or s.pressure_pa is not None
        prs.append(s.pressure_pa if s.pressure_pa is not None else np.full(len(s.t_s), np.nan))
    if not ts:
        return np.zeros(0), np.zeros((0, 3)), None, bad
    return (
        np.concatenate(ts),
        np.concatenate(accs),
        np.concatenate(prs) if any_p else None,
        bad,
    )


def _open_output(path: str | Path) -> contextlib.AbstractContextManager[IO[Any]]:
    """Open a CSV file for writing atomically (complete, or not there at all)."""
    return atomic_open(path, "w", encoding="utf-8", newline="")


def write_samples_csv(
    path: str | Path, t_s: np.ndarray, acc_g: np.ndarray, pressure_pa: np.ndarray | None
) -> None:
    """Write ``t_s,ax,ay,az[,pressure_pa]`` (the CSV that ``import`` and ``analyze`` read)."""
    cols = [t_s, acc_g[:, 0], acc_g[:, 1], acc_g[:, 2]]
    fmt = ["%.6f", "%.9g", "%.9g", "%.9g"]
    names = "t_s,ax,ay,az"
    if pressure_pa is not None:
        cols.append(pressure_pa)
        fmt.append("%.3f")
        names += ",pressure_pa"
    data = np.column_stack(cols) if len(t_s) else np.zeros((0, len(cols)))
    with _open_output(path) as fh:
        fh.write(names + "\n")
        np.savetxt(fh, data, fmt=fmt, delimiter=",")


def step_row(step: Step) -> list[str]:
    """One steps-CSV row: STEP_FIELDS, empty for unknown, on_descent as 0/1."""
    out = []
    for name in STEP_FIELDS:
        v = getattr(step, name)
        if isinstance(v, bool):
            out.append(str(int(v)))
        else:
            out.append("" if math.isnan(v) else f"{v:.4f}")
    return out


def write_steps_csv(path: str | Path, steps: list[Step]) -> None:
    """Write one row per step with header :data:`downhill_live.analyze.STEP_FIELDS`."""
    with _open_output(path) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(STEP_FIELDS)
        w.writerows(step_row(s) for s in steps)
