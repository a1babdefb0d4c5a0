"""Replay a recording as arrays: the file read in fixed-size chunks, records found and checked
(sync marker, length, CRC-32) by a compiled scan, payloads decoded in place into preallocated
sample buffers, and the gait core fed in large blocks.

Same steps, cues and counters as feeding every packet to :meth:`Session.process
<downhill_live.session.Session.process>` (tests compare them on the bundled recordings and on
generated, damaged packet sequences), several times faster, and with memory that does not
grow with the recording's length: nothing is kept per packet (the steps and cues found are).

Two passes over the file: the first checks every record and collects the few that are not
packets (the header, cues and events recorded live, data attached later - a watch's
altitude must be known before the first packet is fed), the second decodes. A damaged stretch
is skipped and reported exactly as :func:`~downhill_live.record.read_recording` does.

Use :func:`replay_recording`; streams whose decoder is not compiled (RSC foot pods) go packet
by packet through ``Session.process``.
"""

from __future__ import annotations

import itertools
import math
import queue
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from tqdm import tqdm

from downhill_live.core._jit import jit_active, njit
from downhill_live.decode import _kernels as K  # noqa: N812 - as in decode.fast
from downhill_live.decode.fast import FastDecoder
from downhill_live.errors import InputError, RecordingError
from downhill_live.files import check_input
from downhill_live.record import (
    KIND_ATTACHED,
    KIND_CUE,
    KIND_EVENT,
    KIND_PACKET,
    MAGIC,
    MAX_HEADER_BYTES,
    MAX_RECORD_BYTES,
    Recording,
    Skip,
    _cue_record,
    _json_record,
    _read_header,
)
from downhill_live.session import session_for_recording
from downhill_live.types import Packet, Samples

__all__ = [
    "ArrayRecording",
    "process_file",
    "read_outline",
    "replay_recording",
    "session_from_outline",
]

#: bytes read from the file at a time (the largest record is far smaller)
CHUNK_BYTES = 4 << 20
#: records found per scan call
RECORD_CAP = 1 << 16
#: samples decoded per block fed to the gait core
SAMPLE_CAP = 1 << 17
_MAX_FRAME = 2 + 4 + MAX_RECORD_BYTES + 4

# scan statuses
_NEED = 0  # more data (or more room for records) needed
_END = 1  # no more records: the rest is a tail


def _crc_tables() -> np.ndarray:
    t = np.zeros((8, 256), np.int64)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0xEDB88320 if c & 1 else 0)
        t[0, i] = c
    for k in range(1, 8):
        for i in range(256):
            t[k, i] = (t[k - 1, i] >> 8) ^ t[0, t[k - 1, i] & 0xFF]
    return t


_CRC = _crc_tables()


@njit(cache=True)
def crc32_table(buf: np.ndarray, start: int, end: int, T: np.ndarray) -> int:
    """CRC-32 (zlib's) of ``buf[start:end]``, slicing by 8."""
    c = 0xFFFFFFFF
    i = start
    while i + 8 <= end:
        lo = c ^ (
            int(buf[i]) | (int(buf[i + 1]) << 8) | (int(buf[i + 2]) << 16) | (int(buf[i + 3]) << 24)
        )
        hi = int(buf[i + 4]) | (int(buf[i + 5]) << 8) | (int(buf[i + 6]) << 16)
        hi |= int(buf[i + 7]) << 24
        c = (
            T[7, lo & 0xFF]
            ^ T[6, (lo >> 8) & 0xFF]
            ^ T[5, (lo >> 16) & 0xFF]
            ^ T[4, (lo >> 24) & 0xFF]
            ^ T[3, hi & 0xFF]
            ^ T[2, (hi >> 8) & 0xFF]
            ^ T[1, (hi >> 16) & 0xFF]
            ^ T[0, (hi >> 24) & 0xFF]
        )
        i += 8
    while i < end:
        c = T[0, (c ^ int(buf[i])) & 0xFF] ^ (c >> 8)
        i += 1
    return c ^ 0xFFFFFFFF


def _crc32_zlib(buf: np.ndarray, start: int, end: int, T: np.ndarray) -> int:
    return zlib.crc32(buf[start:end].tobytes())


# plain Python (numba absent or NUMBA_DISABLE_JIT): zlib's CRC, the table one would crawl
_crc32 = crc32_table if jit_active() else _crc32_zlib


@njit(cache=True)
def _check(buf: np.ndarray, pos: int, n_valid: int, at_eof: bool, sync: int, T: np.ndarray) -> int:
    """The end of the valid record at ``pos``; -1 invalid; -2 not all read yet."""
    more = -1 if at_eof else -2
    at = pos + sync
    if at + 4 > n_valid:
        return more
    if sync and (buf[pos] != 0xD1 or buf[pos + 1] != 0x1E):
        return -1
    body_len = int(buf[at]) | (int(buf[at + 1]) << 8) | (int(buf[at + 2]) << 16)
    body_len |= int(buf[at + 3]) << 24
    if body_len < 10 or body_len > 65536:
        return -1
    end = at + 4 + body_len + 4
    if end > n_valid:
        return more
    crc = int(buf[end - 4]) | (int(buf[end - 3]) << 8) | (int(buf[end - 2]) << 16)
    crc |= int(buf[end - 1]) << 24
    if _crc32(buf, at + 4, end - 4, T) != crc:
        return -1
    return end


@njit(cache=True, nogil=True)
def _scan(
    buf: np.ndarray,
    n_valid: int,
    base: int,
    at_eof: bool,
    pos: int,
    sync: int,
    state: np.ndarray,
    kinds: np.ndarray,
    tbits: np.ndarray,
    streams: np.ndarray,
    offs: np.ndarray,
    lens: np.ndarray,
    starts: np.ndarray,
    skips: np.ndarray,
    T: np.ndarray,
) -> tuple[int, int, int, int]:
    """Find records from ``pos`` in ``buf[:n_valid]`` (``buf[0]`` is file byte ``base``).

    ``state`` = [in damage, damage start, search from, last record end] (absolute offsets);
    ``tbits``: the records' times as the bits of their float64.
    Returns (records found, position to go on from, skips found, status).
    """
    n_out = 0
    n_skip = 0
    cap = kinds.shape[0]
    while True:
        if n_out == cap or n_skip == skips.shape[0]:
            return n_out, pos, n_skip, _NEED
        if state[0] == 0:
            if pos >= n_valid:
                return n_out, pos, n_skip, _END if at_eof else _NEED
            end = _check(buf, pos, n_valid, at_eof, sync, T)
            if end == -2:
                return n_out, pos, n_skip, _NEED
            if end >= 0:
                b = pos + sync + 4
                kinds[n_out] = buf[b]
                t = np.uint64(0)
                for i in range(7, -1, -1):
                    t = (t << np.uint64(8)) | np.uint64(buf[b + 1 + i])
                tbits[n_out] = t
                streams[n_out] = buf[b + 9]
                offs[n_out] = b + 10
                lens[n_out] = end - 4 - (b + 10)
                starts[n_out] = base + pos
                n_out += 1
                state[3] = base + end
                pos = end
                continue
            if sync == 0:  # format 1: no markers to resynchronise on
                return n_out, pos, n_skip, _END
            state[0] = 1
            state[1] = base + pos
            state[2] = base + pos + 1
        # in a damaged stretch: the next sync marker that starts a valid record
        j = state[2] - base
        found = False
        while j + 1 < n_valid:
            if buf[j] == 0xD1 and buf[j + 1] == 0x1E:
                end = _check(buf, j, n_valid, at_eof, sync, T)
                if end == -2:
                    state[2] = base + j
                    return n_out, j, n_skip, _NEED
                if end >= 0:
                    found = True
                    break
            j += 1
        if not found:
            if at_eof:
                return n_out, pos, n_skip, _END
            state[2] = base + max(j, pos)
            return n_out, max(j, pos), n_skip, _NEED
        skips[n_skip, 0] = state[1]
        skips[n_skip, 1] = base + j - state[1]
        skips[n_skip, 2] = n_out
        n_skip += 1
        state[0] = 0
        pos = j


def warm_scan() -> None:
    """Compile or load the record scan (see :func:`~downhill_live.decode.fast.warm_kernels`)."""
    z = np.zeros(1, np.int64)
    _scan(
        np.zeros(16, np.uint8), 0, 0, True, 0, 2, np.zeros(4, np.int64), np.zeros(1, np.uint8),
        np.zeros(1, np.uint64), np.zeros(1, np.uint8), z, z, z, np.zeros((1, 3), np.int64), _CRC,
    )  # fmt: skip


@dataclass
class _Chunk:
    """Records found in one scan call; offsets index ``buf``."""

    buf: np.ndarray
    kinds: np.ndarray
    times: np.ndarray
    streams: np.ndarray
    offs: np.ndarray
    lens: np.ndarray
    starts: np.ndarray
    skips: np.ndarray  # (k, 3): offset, n_bytes, records before it in this chunk


class _Scanner:
    """Reads a recording in chunks and yields the records of each (see :func:`_scan`)."""

    def __init__(self, fh: BinaryIO, start: int, version: int) -> None:
        self.fh = fh
        self.sync = 2 if version >= 2 else 0
        self.buf = np.empty(CHUNK_BYTES + _MAX_FRAME, np.uint8)
        self.kinds = np.empty(RECORD_CAP, np.uint8)
        self.tbits = np.empty(RECORD_CAP, np.uint64)
        self.times = self.tbits.view(np.float64)
        self.streams = np.empty(RECORD_CAP, np.uint8)
        self.offs = np.empty(RECORD_CAP, np.int64)
        self.lens = np.empty(RECORD_CAP, np.int64)
        self.starts = np.empty(RECORD_CAP, np.int64)
        self.skips = np.empty((256, 3), np.int64)
        self.state = np.array([0, 0, 0, start], np.int64)
        self.start = start
        self.end_of_records = start

    def __iter__(self) -> Iterator[_Chunk]:
        fh, buf = self.fh, self.buf
        fh.seek(self.start)
        base, n_valid, pos, at_eof = self.start, 0, 0, False
        view = memoryview(buf)  # type: ignore[arg-type]
        while True:
            while not at_eof and n_valid < len(buf):
                got = fh.readinto(view[n_valid:])  # type: ignore[attr-defined]
                if not got:
                    at_eof = True
                    break
                n_valid += got
            n, pos, n_skip, status = _scan(
                buf, n_valid, base, at_eof, pos, self.sync, self.state, self.kinds, self.tbits,
                self.streams, self.offs, self.lens, self.starts, self.skips, _CRC,
            )  # fmt: skip
            if n or n_skip:
                yield _Chunk(
                    buf,
                    self.kinds[:n],
                    self.times[:n],
                    self.streams[:n],
                    self.offs[:n],
                    self.lens[:n],
                    self.starts[:n],
                    self.skips[:n_skip],
                )
            if status == _END:
                self.end_of_records = int(self.state[3])
                return
            if n == len(self.kinds) or n_skip == len(self.skips):
                continue  # more records in what is read
            # keep the unread rest, read more behind it
            keep = n_valid - pos
            buf[:keep] = buf[pos:n_valid]
            base += pos
            n_valid, pos = keep, 0


class ArrayRecording(Recording):
    """A recording outline (:func:`read_outline`): everything
    :class:`~downhill_live.record.Recording` holds except the packets, which stay in the file
    (``packets`` is empty; :attr:`n_packets` counts them)."""

    n_packets: int = 0
    #: file offset of the first record
    records_start: int = 0


def _open(path: Path) -> BinaryIO:
    try:
        check_input(path)
        return open(path, "rb")
    except InputError as exc:  # missing, a folder, a FIFO, too large: bad input (exit 2), as
        err = RecordingError(str(path), exc.message)  # read_recording says it
        err.exit_code = exc.exit_code
        raise err from None
    except OSError as exc:
        raise RecordingError(str(path), exc.strerror or str(exc)) from None


def read_outline(path: str | Path) -> tuple[ArrayRecording, int]:
    """First pass: header, cues, events, attached data, damage, packet count (no packets);
    and the offset of the first record. Raises :class:`RecordingError` where
    :func:`~downhill_live.record.read_recording` does, with the same words."""
    p = Path(path)
    with _open(p) as fh:
        head = fh.read(len(MAGIC) + 2 * (MAX_HEADER_BYTES + 14))  # room for both copies
        header, start = _read_header(head, p)
        version = int(header["format_version"])
        streams: list[str] = header["streams"]
        rec = ArrayRecording(path=p, header=header, format_version=version)
        scanner = _Scanner(fh, start, version)
        last_t = math.nan  # time of the last packet or event record (to place the skips)
        skipped: list[list[Any]] = []
        open_skips: list[list[Any]] = []  # skips still waiting for a timed record after them
        n_packets = 0
        for ch in scanner:
            bad_t = ~np.isfinite(ch.times)
            bad_s = (ch.kinds == KIND_PACKET) & (ch.streams >= len(streams))
            bad = np.flatnonzero(bad_t | bad_s)
            stop = int(bad[0]) if len(bad) else len(ch.kinds)
            kinds = ch.kinds[:stop]
            timed = np.flatnonzero((kinds == KIND_PACKET) | (kinds == KIND_EVENT))
            n_packets += int(np.count_nonzero(kinds == KIND_PACKET))
            if len(timed):
                for item in open_skips:
                    item[3] = float(ch.times[timed[0]])
                open_skips = []
            for off, n_bytes, before_rec in ch.skips.tolist():
                k = int(np.searchsorted(timed, before_rec))
                after = float(ch.times[timed[k - 1]]) if k > 0 else last_t
                item = [off, n_bytes, after, math.nan]
                skipped.append(item)
                if k < len(timed):
                    item[3] = float(ch.times[timed[k]])
                else:
                    open_skips.append(item)
            if len(timed):
                last_t = float(ch.times[timed[-1]])
            for i in np.flatnonzero(kinds != KIND_PACKET).tolist():
                kind, t_s = int(ch.kinds[i]), float(ch.times[i])
                payload = bytes(ch.buf[ch.offs[i] : ch.offs[i] + ch.lens[i]])
                at = int(ch.starts[i])
                if kind == KIND_CUE:
                    rec.cues.append(_cue_record(p, at, t_s, payload))
                elif kind == KIND_EVENT:
                    rec.events.append((t_s, _json_record(p, at, "event", payload)))
                elif kind == KIND_ATTACHED:
                    doc = _json_record(p, at, "attached-data", payload)
                    if isinstance(doc, dict):
                        rec.attached.append(doc)
            if stop < len(ch.kinds):
                at = int(ch.starts[stop])
                if bad_t[stop]:
                    raise RecordingError(str(p), f"record at byte {at} has time {ch.times[stop]}")
                raise RecordingError(
                    str(p), f"record at byte {at} names unknown stream {ch.streams[stop]}"
                )
        size = p.stat().st_size
        rec.dropped_tail_bytes = size - scanner.end_of_records
        rec.skipped = [Skip(int(o), int(n), float(a), float(b)) for o, n, a, b in skipped]
        rec.n_packets = n_packets
    return rec, start


class _Blocks:
    """Preallocated sample buffers one stream is decoded into."""

    def __init__(self, has_pressure: bool, cap: int | None = None) -> None:
        self.has_pressure = has_pressure
        cap = cap or SAMPLE_CAP
        self.t = np.empty(cap)
        self.a = np.zeros((cap, 3))
        self.p = np.empty(cap if has_pressure else 1)

    def grow(self, need: int) -> None:
        self.__init__(self.has_pressure, max(need, 2 * len(self.t)))  # type: ignore[misc]


def session_from_outline(
    path: str,
    cues: Any,
    *,
    placement: str | None = None,
    use_attached: bool = True,
    **kwargs: Any,
) -> tuple[Any, ArrayRecording]:
    """First pass over ``path`` and the session that replays it (as
    :func:`~downhill_live.session.session_from_recording` builds it), nothing processed yet:
    attach sinks, then call :func:`process_file`."""
    rec, start = read_outline(path)
    rec.records_start = start
    session = session_for_recording(
        rec, path, cues, placement=placement, use_attached=use_attached, **kwargs
    )
    return session, rec


def process_file(
    session: Any,
    rec: ArrayRecording,
    *,
    progress: str | None = None,
    threaded: bool | None = None,
) -> None:
    """Second pass: every packet of ``rec``'s file through ``session`` (``threaded``: see
    :func:`feed_file`)."""
    with _open(rec.path) as fh:
        feed_file(session, fh, rec.records_start, rec, progress=progress, threaded=threaded)


def replay_recording(
    path: str,
    cues: Any,
    *,
    placement: str | None = None,
    use_attached: bool = True,
    progress: str | None = None,
    threaded: bool | None = None,
    **kwargs: Any,
) -> tuple[Any, ArrayRecording]:
    """Replay ``path`` as fast as possible: the session of
    :func:`~downhill_live.session.session_from_recording`, with every packet processed, and the
    recording's outline (no packets). ``progress``: a label for a progress bar on a terminal;
    ``threaded``: see :func:`feed_file`."""
    session, rec = session_from_outline(
        path, cues, placement=placement, use_attached=use_attached, **kwargs
    )
    process_file(session, rec, progress=progress, threaded=threaded)
    return session, rec


def feed_file(
    session: Any,
    fh: BinaryIO,
    start: int,
    rec: Recording,
    *,
    progress: str | None = None,
    threaded: bool | None = None,
) -> None:
    """Second pass: every packet record of ``fh`` into ``session``, as
    ``Session.process`` would take them one by one.

    The reading (record scan, CRC, decoding into sample blocks: compiled code that releases the
    GIL) runs in a thread of its own, a few blocks ahead of the gait core, cue rules and
    statistics in the calling thread; what the session is given, and in which order, is the
    same as with ``threaded=False`` (every operation on the session happens in the calling
    thread, in file order). ``threaded``: default on when the kernels are compiled (with plain
    Python the GIL would serialise both sides)."""
    if threaded is None:
        threaded = jit_active()
    reader = _Reader(session, fh, start, rec, progress, n_buffers=_AHEAD + 2 if threaded else 1)
    if not threaded:
        for ops in reader.ops():
            _apply(session, ops)
        return
    q: queue.Queue[Any] = queue.Queue(maxsize=_AHEAD)
    stop = threading.Event()

    def send(item: Any) -> bool:  # False: the calling thread stopped listening
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for ops in reader.ops():
                if not send(ops):
                    return
            send(None)
        except BaseException as exc:  # handed to the calling thread, raised there
            send(exc)

    worker = threading.Thread(target=produce, name="replay-reader", daemon=True)
    worker.start()
    try:
        while True:
            ops = q.get()
            if ops is None:
                break
            if isinstance(ops, BaseException):
                raise ops
            _apply(session, ops)
    finally:
        stop.set()  # the reader gives up at its next hand-over
        worker.join()


#: sample blocks the reader may decode ahead of the core (each ~5 MB at SAMPLE_CAP)
_AHEAD = 2

# operations on the session, in file order (see _apply)
_FEED = 0  # stream, Samples, packets counted, clock estimate (nan: none)
_PROCESS = 1  # a Packet through Session.process
_SINK = 2  # a Packet to the packet sinks
_ERROR = 3  # a DecodeError for a packet the compiled decoder refused
_ANNOUNCE = 4  # receive time of a chunk's first packet (Session.announce_grade)
_JUMP = 5  # a FastDecoder whose time re-anchored (its note, said once)


def _apply(session: Any, ops: list[tuple[Any, ...]]) -> None:
    """Carry out a batch of the reader's operations on ``session``, in order."""
    for op in ops:
        kind = op[0]
        if kind == _FEED:
            _, stream, samples, n_packets, clock_s = op
            session.stats.packets += n_packets
            if clock_s == clock_s and math.isnan(session.rx_minus_sensor_s):
                session.rx_minus_sensor_s = clock_s
            if samples is not None:
                session._feed(stream, samples)
        elif kind == _PROCESS:
            session.process(op[1])
        elif kind == _SINK:
            for sink in session._packet_sinks:
                sink.packet(op[1])
        elif kind == _ERROR:
            session.stats.packets += 1
            session._decode_error(op[1])
        elif kind == _ANNOUNCE:
            session.announce_grade(op[1])
        else:
            op[1].note_jump()


class _Reader:
    """Scans and decodes a recording's packet records, and says what the session is to do
    with them (:meth:`ops`). Touches no session state once made: it may run in its own
    thread while the session works through the operations it gave before."""

    def __init__(
        self,
        session: Any,
        fh: BinaryIO,
        start: int,
        rec: Recording,
        progress: str | None,
        n_buffers: int,
    ) -> None:
        self.fh, self.start, self.rec, self.progress = fh, start, rec, progress
        self.names: list[str] = rec.header["streams"]
        self.fast: list[FastDecoder | None] = []
        # per stream, sample blocks used in turn: one the session is feeding, the queued
        # ones, one being decoded into
        self.blocks: list[list[_Blocks]] = []
        for name in self.names:
            dec = session.decoders.get(name)
            ok = isinstance(dec, FastDecoder)
            self.fast.append(dec if ok else None)
            self.blocks.append([_Blocks(dec.has_pressure) for _ in range(n_buffers)] if ok else [])
        self.turn = [0] * len(self.names)
        self.packet_sinks = bool(session._packet_sinks)
        # the session's packet count (decode errors carry a packet's index) and clock, as
        # they will be when the session reaches each packet
        self.n_packets = int(session.stats.packets)
        self.clock_known = not math.isnan(session.rx_minus_sensor_s)
        self.grade_said = bool(session._grade_said)
        #: the operations not yet handed out (see :meth:`_take`)
        self.out: list[tuple[Any, ...]] = []

    def ops(self) -> Iterator[list[tuple[Any, ...]]]:
        """Batches of operations; a batch holds at most one sample block, which stays
        untouched until ``n_buffers - 1`` further blocks have been handed out."""
        size = Path(self.fh.name).stat().st_size if hasattr(self.fh, "name") else 0
        bar = tqdm(
            total=size,
            desc=self.progress,
            unit="B",
            unit_scale=True,
            leave=False,
            disable=None if self.progress else True,
            file=sys.stderr,
        )
        names = self.names
        scanner = _Scanner(self.fh, self.start, self.rec.format_version)
        done_bytes = self.start
        with bar:
            for ch in scanner:
                packets = np.flatnonzero(ch.kinds == KIND_PACKET)
                if not len(packets):
                    continue
                offs, lens, rx = ch.offs[packets], ch.lens[packets], ch.times[packets]
                streams = ch.streams[packets]
                if not self.grade_said:  # with the first packet, as process() does
                    self.out.append((_ANNOUNCE, float(rx[0])))
                    self.grade_said = True
                # runs of one stream, in arrival order
                cuts = np.flatnonzero(np.diff(streams)) + 1
                bounds = [0, *cuts.tolist(), len(packets)]
                for a, b in itertools.pairwise(bounds):
                    si = int(streams[a])
                    dec = self.fast[si]
                    if dec is None or self.packet_sinks:
                        op = _PROCESS if dec is None else _SINK
                        for i in range(a, b):
                            payload = bytes(ch.buf[offs[i] : offs[i] + lens[i]])
                            self.out.append((op, Packet(float(rx[i]), names[si], payload)))
                            if len(self.out) >= 256:
                                yield self._take()
                        if dec is None:
                            self.n_packets += b - a
                            continue
                    yield from self._decode(dec, si, ch.buf, offs, lens, rx, a, b)
                new = int(ch.starts[-1]) if len(ch.starts) else done_bytes
                bar.update(max(0, new - done_bytes))
                done_bytes = max(done_bytes, new)
        if self.out:
            yield self._take()

    def _take(self) -> list[tuple[Any, ...]]:
        ops, self.out = self.out, []
        return ops

    def _decode(
        self,
        dec: FastDecoder,
        si: int,
        buf: np.ndarray,
        offs: np.ndarray,
        lens: np.ndarray,
        rx: np.ndarray,
        a: int,
        b: int,
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Packets ``a..b`` of stream ``si``, decoded in blocks: their operations go to
        ``self.out``, which is handed out whenever it holds a sample block."""
        stream = self.names[si]
        i = a
        while i < b:
            # until the clock is known, one packet at a time (it is set from the first samples)
            stop = b if self.clock_known else i + 1
            blk = self.blocks[si][self.turn[si]]
            done, k, status = dec.run(buf, offs, lens, rx, i, stop, blk.t, blk.a, blk.p, note=False)
            if dec._info[2]:
                self.out.append((_JUMP, dec))
            self.n_packets += done
            clock_s = math.nan
            samples = None
            if k:
                if not self.clock_known:
                    clock_s = float(rx[i + done - 1] - blk.t[k - 1])
                    self.clock_known = True
                samples = Samples(
                    blk.t[:k], blk.a[:k], blk.p[:k] if blk.has_pressure else None, dec.take_lost()
                )
                self.turn[si] = (self.turn[si] + 1) % len(self.blocks[si])
            if done or samples is not None:
                self.out.append((_FEED, stream, samples, done, clock_s))
            i += done
            if samples is not None:
                yield self._take()
            if status == K.OK:
                continue
            if status == K.ERR_CAPACITY:
                if done == 0 and k == 0:
                    blk.grow(int(dec._info[0]))
                continue
            payload = bytes(buf[offs[i] : offs[i] + lens[i]])
            exc = dec.error(status, Packet(float(rx[i]), stream, payload), self.n_packets)
            self.n_packets += 1
            self.out.append((_ERROR, exc))
            i += 1
