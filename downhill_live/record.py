"""The recording format: raw notifications with receive times, append-only, crash-safe and
self-synchronising.

Layout, format version 2 (all integers little-endian; see docs/recording-format.md)::

    magic    8 bytes  b"DHLREC\\r\\n"
    header   twice:   b"DHLHDR" | hdr_len u32 | header JSON | CRC-32 u32
    records  repeated:
        sync     2 bytes  b"\\xd1\\x1e"
        body_len u32
        body     kind u8 | t_s f64 | stream u8 | payload (body_len - 10 bytes)
        crc      u32      CRC-32 of body

``kind`` 1 is a raw notification (``t_s`` = receive time in seconds since the session start,
``stream`` = index into ``header["streams"]``), kind 2 a spoken cue (``t_s`` = sensor time,
payload = JSON), kind 3 an event such as "link lost" (payload = JSON), kind 4 data attached
later from another device of the same run, e.g. a watch's altitude (payload = JSON, see
:func:`append_attached`; readers before it skip the kind).

A record is only ever appended whole. A reader that meets a damaged record (a flipped byte, a
lost sector) skips to the next sync marker that starts a record with a valid CRC, and reports
exactly what it skipped (:attr:`Recording.skipped`: byte offset, length, the seconds around it);
an incomplete last record (``kill -9``, a power cut) is reported in ``dropped_tail_bytes``. The
header is stored twice, so one bad byte in it cannot lose the file. Format version 1 files (no
sync markers, one header) are still read, stopping at their first damaged record. Nothing is
executed or unpickled on read.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import json
import math
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from downhill_live import __version__
from downhill_live.errors import InputError, RecordingError
from downhill_live.files import check_input
from downhill_live.types import Cue, Packet

MAGIC = b"DHLREC\r\n"
FORMAT_VERSION = 2
#: marks each copy of the header (format 2)
HEADER_SYNC = b"DHLHDR"
#: marks the start of each record (format 2); a reader resynchronises on it
RECORD_SYNC = b"\xd1\x1e"
#: format versions this reader takes
READABLE_VERSIONS = (1, 2)
KIND_PACKET = 1
KIND_CUE = 2
KIND_EVENT = 3
KIND_ATTACHED = 4
#: rows of attached data per kind-4 record (keeps each record far below MAX_RECORD_BYTES)
ATTACHED_ROWS_PER_RECORD = 400
_LEN = struct.Struct("<I")
_BODY_HEAD = struct.Struct("<BdB")
MAX_HEADER_BYTES = 1 << 20
MAX_RECORD_BYTES = 1 << 16


def _frame(kind: int, t_s: float, stream: int, payload: bytes) -> bytes:
    body = _BODY_HEAD.pack(kind, t_s, stream) + payload
    return RECORD_SYNC + _LEN.pack(len(body)) + body + _LEN.pack(zlib.crc32(body))


def _header_block(head: bytes) -> bytes:
    return HEADER_SYNC + _LEN.pack(len(head)) + head + _LEN.pack(zlib.crc32(head))


class RecordingWriter:
    """Append-only writer. Records are buffered and written by :meth:`flush` (call it at least
    every 2 s from a timer in live mode); :meth:`close` flushes.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "demo.dlr")
    >>> with RecordingWriter(path, {"firmware": {"name": "x"}}, streams=["acc"]) as w:
    ...     w.write_packet(Packet(0.01, "acc", b"\\x01\\x02"))
    >>> rec = read_recording(path)
    >>> rec.packets[0].payload
    b'\\x01\\x02'
    """

    def __init__(
        self,
        path: str | Path,
        header: dict[str, Any],
        *,
        streams: list[str],
        exclusive: bool = False,
    ) -> None:
        self.path = Path(path)
        self.streams = list(streams)
        self._index = {name: i for i, name in enumerate(self.streams)}
        # the layout written is always the current one, whatever a copied header says
        full = {**header, "format_version": FORMAT_VERSION, "streams": self.streams}

        full.setdefault("app_version", __version__)
        head = json.dumps(full, sort_keys=True).encode()
        try:  # exclusive: the file must be new (FileExistsError otherwise, for the caller)
            # unbuffered: this writer batches records itself, and must know what reached the file
            self._fh: BinaryIO = open(self.path, "xb" if exclusive else "wb", buffering=0)  # noqa: SIM115
        except FileExistsError:
            if exclusive:
                raise
            raise RecordingError(str(self.path), "cannot be replaced") from None
        except OSError as exc:
            raise RecordingError(str(self.path), exc.strerror or str(exc)) from None
        try:
            block = _header_block(head)
            self._write_all(MAGIC + block + block)  # twice: one bad byte cannot lose the file
        except OSError as exc:
            with contextlib.suppress(OSError):
                self._fh.close()
            raise RecordingError(str(self.path), exc.strerror or str(exc)) from None
        self._buf: list[bytes] = []
        #: why writing stopped (e.g. "No space left on device"), None while it works
        self.failed: str | None = None
        #: records that could not be written after a failure
        self.dropped_records = 0

    def write_packet(self, packet: Packet) -> None:
        """Queue one raw notification (unknown stream names raise KeyError: a programming error)."""
        self._buf.append(
            _frame(KIND_PACKET, packet.t_rx_s, self._index[packet.stream], packet.payload)
        )

    def write_cue(self, cue: Cue) -> None:
        """Queue a cue that was spoken, so a replay can be verified against it."""
        doc = {"rule": cue.rule, "phrase": cue.phrase, "metric": cue.metric, "value": cue.value}
        self._buf.append(_frame(KIND_CUE, cue.t_s, 0, json.dumps(doc).encode()))

    def write_event(self, t_s: float, event: dict[str, Any]) -> None:
        """Queue an event (link lost/back, decode errors) with its receive time."""
        self._buf.append(_frame(KIND_EVENT, t_s, 0, json.dumps(event).encode()))

    def take(self) -> list[bytes]:
        """Hand over the records queued so far (framed, in order) and start a new batch; for a
        caller that writes them with :meth:`write_batch` on another thread. Call it from the
        thread that queues records (the list is swapped, never shared)."""
        batch, self._buf = self._buf, []
        return batch

    def write_batch(self, batch: list[bytes], *, sync: bool = True) -> None:
        """Write ``batch`` (from :meth:`take`) as :meth:`flush` writes the queued records, on
        any one thread: records queued meanwhile are not touched."""
        if self.failed is not None:
            self.dropped_records += len(batch)
            return
        try:
            if batch:
                good = self._fh.tell()
                try:
                    self._write_all(b"".join(batch))
                except OSError:
                    self._undo(good)
                    kept = self._keep_what_fits(batch)
                    del batch[:kept]
                    raise
                batch = []
            if sync:
                os.fsync(self._fh.fileno())
        except OSError as exc:
            self.failed = exc.strerror or str(exc)
            self.dropped_records += len(batch)
            raise RecordingError(
                str(self.path), f"recording stopped: {self.failed} (kept what was written before)"
            ) from None

    def flush(self, *, sync: bool = True) -> None:
        """Write queued records whole, flush them to the OS and (``sync``) to the disk, so the
        promise "at most one flush interval lost" holds for a power cut too.

        A write that fails (a full disk, a removed card) is undone to the last complete record,
        so the file stays readable; the writer then stops, counts what it could not keep in
        :attr:`dropped_records` and raises :class:`RecordingError` once, naming the cause.
        """
        self.write_batch(self.take(), sync=sync)

    def _keep_what_fits(self, batch: list[bytes]) -> int:
        """After a refused batch: write its records one by one while the disk takes them;
        returns how many were written."""
        for i, record in enumerate(batch):
            good = self._fh.tell()
            try:
                self._write_all(record)
            except OSError:
                self._undo(good)
                return i
        return len(batch)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = self._fh.write(view)
            if not n:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            view = view[n:]

    def _undo(self, good: int) -> None:
        """Cut a partly written batch back to the last complete record."""
        with contextlib.suppress(OSError, ValueError):
            os.ftruncate(self._fh.fileno(), good)
            self._fh.seek(good)

    def close(self, *, sync: bool = True) -> None:
        """Flush, sync (unless the caller just did: ``sync=False``) and close; idempotent. A
        failed final flush still closes the file."""
        if not self._fh.closed:
            try:
                self.flush(sync=sync)
            finally:
                with contextlib.suppress(OSError):
                    self._fh.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Skip:
    """A damaged stretch of a recording that the reader skipped.

    Attributes
    ----------
    offset : int
        Byte offset where the damage starts.
    n_bytes : int
        Bytes skipped.
    after_t_s, before_t_s : float
        Receive times of the last good record before it and the first good one after it
        (nan when there is none): the seconds the damage may have cost lie between them.
    """

    offset: int
    n_bytes: int
    after_t_s: float
    before_t_s: float

    @property
    def span_s(self) -> float:
        """Receive-time span across the damage (s), nan when unknown."""
        return self.before_t_s - self.after_t_s


@dataclass
class Recording:
    """A recording read back: header, raw packets in order, cues and events stored live;
    ``skipped``: damaged stretches skipped (empty for a clean file); ``dropped_tail_bytes``:
    bytes after the last complete record (0 for a clean file)."""

    path: Path
    header: dict[str, Any]
    packets: list[Packet] = field(default_factory=list)
    cues: list[Cue] = field(default_factory=list)
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    dropped_tail_bytes: int = 0
    skipped: list[Skip] = field(default_factory=list)
    format_version: int = FORMAT_VERSION
    #: kind-4 records (attached data) in file order, decoded JSON objects
    attached: list[dict[str, Any]] = field(default_factory=list)

    @property
    def damaged(self) -> bool:
        """Whether anything was skipped or dropped."""
        return bool(self.skipped or self.dropped_tail_bytes)


def _parse_header_json(head: bytes, path: Path) -> dict[str, Any]:
    try:
        header = json.loads(head.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordingError(str(path), f"header is not valid JSON ({exc})") from None
    except RecursionError:
        raise RecordingError(str(path), "header JSON is nested too deeply") from None
    if not isinstance(header, dict):
        raise RecordingError(str(path), "header is not a JSON object")
    version = header.get("format_version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise RecordingError(
            str(path),
            f"format_version {version!r} is not supported (this app reads "
            f"{', '.join(map(str, READABLE_VERSIONS))})",
        )
    streams = header.get("streams")
    if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
        raise RecordingError(str(path), "header key 'streams' must be a list of names")
    for key in ("device", "settings"):
        if header.get(key) is not None and not isinstance(header[key], dict):
            raise RecordingError(str(path), f"header key {key!r} must be an object")
    return header


def _header_at(data: bytes, pos: int, path: Path) -> tuple[dict[str, Any], int] | None:
    """The format-2 header copy at ``pos`` and its size, or None when it is damaged."""
    at = pos + len(HEADER_SYNC)
    if data[pos:at] != HEADER_SYNC or at + 4 > len(data):
        return None
    (hdr_len,) = _LEN.unpack_from(data, at)
    end = at + 4 + hdr_len + 4
    if hdr_len > MAX_HEADER_BYTES or end > len(data):
        return None
    head = data[at + 4 : at + 4 + hdr_len]
    if zlib.crc32(head) != _LEN.unpack_from(data, end - 4)[0]:
        return None
    return _parse_header_json(head, path), end - pos


def _read_header(data: bytes, path: Path) -> tuple[dict[str, Any], int]:
    """The header and the offset of the first record (format 1 or 2)."""
    if data[: len(MAGIC)] != MAGIC:
        raise RecordingError(str(path), "not a downhill-live recording (bad magic bytes)")
    pos = len(MAGIC)
    limit = pos + 2 * (MAX_HEADER_BYTES + 14)
    if data[pos : pos + len(HEADER_SYNC)] != HEADER_SYNC:
        try:
            return _read_header_v1(data, path)
        except RecordingError:
            if data.find(HEADER_SYNC, pos, limit) < 0:
                raise
    # format 2: the first copy that checks out; both copies have the same size, so the records
    # start two sizes after the first copy, or one size after the second
    cand = pos
    while 0 <= cand <= limit:
        found = _header_at(data, cand, path)
        if found is not None:
            header, size = found
            if header["format_version"] != 2:
                raise RecordingError(str(path), "header of format 2 claims another format_version")
            return header, (cand + 2 * size) if cand == pos else (cand + size)
        cand = data.find(HEADER_SYNC, cand + 1, limit)
    raise RecordingError(str(path), "header damaged in both copies (or truncated)")


def _read_header_v1(data: bytes, path: Path) -> tuple[dict[str, Any], int]:
    pos = len(MAGIC)
    if pos + 4 > len(data):
        raise RecordingError(str(path), "truncated header")
    (hdr_len,) = _LEN.unpack_from(data, pos)
    if hdr_len > MAX_HEADER_BYTES:
        raise RecordingError(str(path), f"header length {hdr_len} exceeds {MAX_HEADER_BYTES}")
    end = pos + 4 + hdr_len + 4
    if end > len(data):
        raise RecordingError(str(path), "truncated header")
    head = data[pos + 4 : pos + 4 + hdr_len]
    if zlib.crc32(head) != _LEN.unpack_from(data, end - 4)[0]:
        raise RecordingError(str(path), "header checksum mismatch")
    header = _parse_header_json(head, path)
    if header["format_version"] != 1:
        raise RecordingError(str(path), "header of format 1 claims another format_version")
    return header, end


def _record_at(data: bytes, pos: int, sync: bytes) -> tuple[int, float, int, bytes, int] | None:
    """The record starting at ``pos`` if it is complete and valid: (kind, t_s, stream, payload,
    end offset); None otherwise."""
    n = len(data)
    at = pos + len(sync)
    if data[pos:at] != sync or at + 4 > n:
        return None
    (body_len,) = _LEN.unpack_from(data, at)
    end = at + 4 + body_len + 4
    if body_len < _BODY_HEAD.size or body_len > MAX_RECORD_BYTES or end > n:
        return None
    body = data[at + 4 : at + 4 + body_len]
    if zlib.crc32(body) != _LEN.unpack_from(data, end - 4)[0]:
        return None
    kind, t_s, stream = _BODY_HEAD.unpack_from(body)
    return kind, t_s, stream, body[_BODY_HEAD.size :], end


def _iter_records(
    data: bytes, start: int, version: int, skipped: list[tuple[int, int]]
) -> Iterator[tuple[int, float, int, bytes, int]]:
    """Yield (kind, t_s, stream, payload, end_offset) for each complete, valid record. Format 2
    skips damage to the next record that checks out, noting (offset, n_bytes) in ``skipped``;
    format 1 (no sync markers) stops at the first damaged record."""
    sync = RECORD_SYNC if version >= 2 else b""
    pos, n = start, len(data)
    while pos < n:
        rec = _record_at(data, pos, sync)
        if rec is not None:
            yield rec
            pos = rec[4]
            continue
        if not sync:
            return
        nxt = data.find(sync, pos + 1)
        while nxt >= 0 and _record_at(data, nxt, sync) is None:
            nxt = data.find(sync, nxt + 1)
        if nxt < 0:
            return  # nothing valid after it: an incomplete tail
        skipped.append((pos, nxt - pos))
        pos = nxt


def _json_record(path: Path, start: int, kind: str, payload: bytes) -> Any:
    try:
        return json.loads(payload.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordingError(
            str(path), f"{kind} record at byte {start} is not valid JSON ({exc})"
        ) from None


def _cue_record(path: Path, start: int, t_s: float, payload: bytes) -> Cue:
    doc = _json_record(path, start, "cue", payload)
    if (
        not isinstance(doc, dict)
        or not all(isinstance(doc.get(k), str) for k in ("rule", "phrase", "metric"))
        or isinstance(doc.get("value"), bool)
        or not isinstance(doc.get("value"), int | float)
    ):
        raise RecordingError(
            str(path),
            f"cue record at byte {start} must be an object with string rule, phrase, metric "
            "and a number value",
        )
    return Cue(t_s, doc["rule"], doc["phrase"], doc["metric"], float(doc["value"]))


def read_recording(path: str | Path) -> Recording:
    """Read a whole recording. Raises :class:`RecordingError` for a file that is not a
    readable recording; damage inside is skipped and reported in ``skipped``, a damaged tail in
    ``dropped_tail_bytes``, not raised."""
    p = Path(path)
    try:
        data = check_input(p).read_bytes()
    except InputError as exc:  # missing, a folder, a FIFO, too large: bad input, as for
        err = RecordingError(str(p), exc.message)  # every other input file (exit code 2)
        err.exit_code = exc.exit_code
        raise err from None
    except OSError as exc:
        raise RecordingError(str(p), exc.strerror or str(exc)) from None
    header, start = _read_header(data, p)
    streams: list[str] = header["streams"]
    version = int(header["format_version"])
    rec = Recording(path=p, header=header, format_version=version)
    gaps: list[tuple[int, int]] = []
    times: list[tuple[int, float]] = []  # (record start, t_s) to place the gaps in time
    end = start
    for kind, t_s, stream, payload, rec_end in _iter_records(data, start, version, gaps):
        rec_start = rec_end - len(payload) - _BODY_HEAD.size - 8 - (2 if version >= 2 else 0)
        end = rec_end
        if not math.isfinite(t_s):
            raise RecordingError(str(p), f"record at byte {rec_start} has time {t_s}")
        if kind == KIND_PACKET:
            if stream >= len(streams):
                raise RecordingError(
                    str(p), f"record at byte {rec_start} names unknown stream {stream}"
                )
            rec.packets.append(Packet(t_s, streams[stream], payload))
            times.append((rec_start, t_s))
        elif kind == KIND_CUE:
            rec.cues.append(_cue_record(p, rec_start, t_s, payload))
        elif kind == KIND_EVENT:
            rec.events.append((t_s, _json_record(p, rec_start, "event", payload)))
            times.append((rec_start, t_s))
        elif kind == KIND_ATTACHED:
            doc = _json_record(p, rec_start, "attached-data", payload)
            if isinstance(doc, dict):
                rec.attached.append(doc)
    rec.dropped_tail_bytes = len(data) - end
    for offset, n_bytes in gaps:
        k = bisect.bisect_left(times, (offset, -math.inf))
        after = times[k - 1][1] if k > 0 else math.nan
        before = times[k][1] if k < len(times) else math.nan
        rec.skipped.append(Skip(offset, n_bytes, after, before))
    return rec


# --------------------------------------------------------------------------- attached data
@dataclass
class AttachedTrack:
    """Data of the same run from another device (a watch), attached with ``downhill-live attach``.

    ``t_s`` (N,) is on the clock of the recording's raw records (receive time, seconds since the
    session start); ``columns`` maps a name with its unit (``altitude_m``, ``distance_m``,
    ``speed_mps``, ``heart_rate_bpm``, ``cadence_spm``, ``stance_time_ms``) to an (N,) array,
    nan where unknown; ``meta`` says where it came from and how it was aligned.
    """

    t_s: Any
    columns: dict[str, Any]
    meta: dict[str, Any]


def attached_track(rec: Recording) -> AttachedTrack | None:
    """The latest complete set of attached data in ``rec`` (None when there is none).

    A set is the kind-4 records of one ``attach_id``; an incomplete set (a part lost to damage)
    is not used, an earlier complete one is.
    """
    sets: dict[int, dict[int, dict[str, Any]]] = {}
    for doc in rec.attached:
        aid, part = doc.get("attach_id"), doc.get("part")
        if isinstance(aid, int) and isinstance(part, int):
            sets.setdefault(aid, {})[part] = doc
    for aid in sorted(sets, reverse=True):
        parts = sets[aid]
        n = parts.get(0, {}).get("parts")
        if not isinstance(n, int) or sorted(parts) != list(range(n)):
            continue
        docs = [parts[i] for i in range(n)]
        names = [c for c in docs[0].get("columns", []) if isinstance(c, str)]
        try:
            t = np.concatenate([np.asarray(d["t_s"], dtype=np.float64) for d in docs])
            cols = {
                c: np.concatenate(
                    [
                        np.array([np.nan if v is None else v for v in d[c]], dtype=np.float64)
                        for d in docs
                    ]
                )
                for c in names
            }
        except (KeyError, TypeError, ValueError):
            continue
        if any(len(v) != len(t) for v in cols.values()):
            continue
        meta = docs[0].get("meta")
        return AttachedTrack(t, cols, meta if isinstance(meta, dict) else {})
    return None


def attached_docs(
    t_s: Any, columns: dict[str, Any], meta: dict[str, Any], attach_id: int
) -> list[dict[str, Any]]:
    """Cut attached data into kind-4 record payloads (see :func:`append_attached`)."""
    n = len(t_s)
    rows = ATTACHED_ROWS_PER_RECORD
    parts = max(1, math.ceil(n / rows))

    def clean(x: Any, nd: int) -> list[float | None]:
        return [None if not math.isfinite(float(v)) else round(float(v), nd) for v in x]

    docs = []
    for i in range(parts):
        sl = slice(i * rows, (i + 1) * rows)
        doc: dict[str, Any] = {
            "attach_id": attach_id,
            "part": i,
            "parts": parts,
            "columns": list(columns),
            "t_s": clean(t_s[sl], 3),
        }
        for name, values in columns.items():
            doc[name] = clean(values[sl], 7 if name.endswith("_deg") else 3)
        if i == 0:
            doc["meta"] = meta
        docs.append(doc)
    return docs


def append_attached(path: str | Path, docs: list[dict[str, Any]]) -> Path:
    """Add kind-4 records to a recording without changing a byte of what it holds.

    The new file is the old file's bytes exactly, then the new records; it is written beside
    the recording, synced, and renamed over it, so a crash leaves either the old file or the new
    one, never a mix. Returns the path.

    Raises
    ------
    RecordingError
        For a format-1 recording with a damaged tail (no sync markers: records after it could
        not be found again), or when the file cannot be written.
    """
    p = Path(path)
    rec = read_recording(p)
    if rec.format_version < 2 and rec.damaged:
        raise RecordingError(
            str(p),
            "is a format-1 recording with a damaged tail: records appended after it could not "
            "be found again (format 1 has no sync markers)",
        )
    data = check_input(p).read_bytes()
    frames = [_frame(KIND_ATTACHED, 0.0, 0, json.dumps(d, allow_nan=False).encode()) for d in docs]
    if rec.format_version < 2:  # format 1 frames have no sync marker
        frames = [f[len(RECORD_SYNC) :] for f in frames]
    extra = b"".join(frames)
    if any(len(json.dumps(d)) > MAX_RECORD_BYTES - 64 for d in docs):  # pragma: no cover
        raise RecordingError(str(p), "attached data record too large")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    except OSError as exc:
        raise RecordingError(str(p), exc.strerror or str(exc)) from None
    ok = False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.write(extra)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, p.stat().st_mode & 0o7777)
        os.replace(tmp, p)
        ok = True
    except OSError as exc:
        raise RecordingError(
            str(p), f"{exc.strerror or exc} (the recording is unchanged)"
        ) from None
    finally:
        if not ok:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return p
