"""One compiled call per live packet: decode, strikes and grade in a single numba entry.

:meth:`Session.process <downhill_live.session.Session.process>` runs every packet of a stream
with a compiled decoder (:class:`~downhill_live.decode.fast.FastDecoder`) through
:func:`packet_step`: it copies nothing but the payload, decodes into the decoder's
preallocated sample buffers (:func:`downhill_live.decode._kernels.decode_run`), feeds the
samples to the strike kernel (:func:`downhill_live.core._kernels.process`) and the grade kernel
(:func:`downhill_live.core.grade.grade_block`) of the session's
:class:`~downhill_live.core.GaitTracker`, and returns a few counts and the first step's fields;
only a packet that completes a step builds Python objects (its
:class:`~downhill_live.types.Step`). The decoder's and the tracker's arrays live in two byte
arenas (:attr:`FusedPacket.D` the stream's, :class:`Arena` the tracker's), so a call has
seven arguments, not 21: numba types and unboxes each at every call. The kernels, their states
and their order are exactly those of the decoder + tracker calls it replaces, so steps, cues and
counters are bit for bit the same (tests compare both paths, also with ``NUMBA_DISABLE_JIT=1``).

A full step-row buffer: the strike kernel stops before the buffer overflows (it always takes
at least one sample into an empty buffer of two rows or more); the entry returns how many
samples it took, the caller turns the rows into steps and calls again from there without
decoding again, until every sample of the packet is taken. Nothing is dropped, nothing loops.

numba's cache only notices changes to the file of the cached function, not to the kernels it
calls from other modules: the entry is built around a stamp of those modules' sources, which is
part of its cache key (a changed kernel recompiles the entry).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from downhill_live.core import _jit
from downhill_live.core import _kernels as kern
from downhill_live.core import grade as gk
from downhill_live.core._jit import njit
from downhill_live.decode import _kernels as K  # noqa: N812 - as in decode.fast

__all__ = ["FusedPacket", "packet_step", "warm_fused"]

log = logging.getLogger(__name__)

#: step rows one call can return (a packet holds far fewer strikes; more are drained)
ROWS = 256


def _sources_stamp() -> int:
    """A number that changes when the kernels the entry calls change (see the module notes)."""
    h = hashlib.sha256()
    for mod in (K, kern, gk, _jit):  # _jit: helpers the kernels call (median_first)
        try:
            h.update(Path(str(mod.__file__)).read_bytes())
        except OSError:  # pragma: no cover - no sources installed: the cache may go stale
            h.update(str(mod.__name__).encode())
    return int(h.hexdigest()[:15], 16)


# The entry takes two byte arenas: the stream's (its decoder's state, payload and sample
# buffers: :attr:`FusedPacket.D`) and the tracker's (its float buffers, its four kernel records and
# the step rows of a call: :class:`Arena`), and five scalars. numba's dispatcher types and unboxes
# every argument at every call, and with the caches cold after 16 ms of other work each costs
# ~1.3 us (an array) to ~6 us (a record array): 21 arguments cost ~38 us a call, 7 ~17 us. Each
# arena starts with a header of int64 slots; part k's byte offset, rows and columns (0: one
# dimension) are slots ``_P + 3k`` to ``_P + 3k + 2``; every part starts on a 64-byte boundary
# (aligned as numpy's own arrays, so numba types the views as it types the arrays).

_HEAD = 64  # int64 slots of an arena's header
_HEAD_BYTES = 8 * _HEAD
_P = 4  # the first part's slots (a stream arena's 0-3: payload offset, its size, kind, pressure)
_ALIGN = 64

#: a stream arena's parts, in order
STREAM_PARTS = ("buf", "A", "FL", "U", "t", "a", "p", "p_scr", "rx")
#: a tracker arena's parts, in order: float buffers, then the records
PARTS = (
    "ring", "acf_x", "acf_r", "iv", "gring", "baro", "tg", "ff", "rows", "gout", "step",
    "prm", "st", "gprm", "gst",
)  # fmt: skip
_RECORDS = ("prm", "st", "gprm", "gst")


def _kernel_dtype(dtype: np.dtype) -> np.dtype:
    # compiled kernels take plain structured arrays; as plain Python they read ``st[0].field``,
    # which a record-typed array (as a recarray's) gives
    return dtype if _jit.jit_active() else np.dtype((np.record, dtype))


# the records' dtypes, as the entry views them in the tracker's arena (constants of the entry;
# their sources are in its cache key)
_PRM_DT = _kernel_dtype(_jit.params_dtype(kern.KParams))
_ST_DT = _kernel_dtype(kern.STATE_DTYPE)
_GPRM_DT = _kernel_dtype(_jit.params_dtype(gk.GParams))
_GST_DT = _kernel_dtype(gk.GSTATE_DTYPE)
_PRM_NB, _ST_NB = _PRM_DT.itemsize, _ST_DT.itemsize
_GPRM_NB, _GST_NB = _GPRM_DT.itemsize, _GST_DT.itemsize


@njit(cache=True)
def _f1(B: np.ndarray, io: np.ndarray, k: int) -> np.ndarray:
    at = io[_P + 3 * k]
    return B[at : at + 8 * io[_P + 3 * k + 1]].view(np.float64)


@njit(cache=True)
def _f2(B: np.ndarray, io: np.ndarray, k: int) -> np.ndarray:
    at, r, c = io[_P + 3 * k], io[_P + 3 * k + 1], io[_P + 3 * k + 2]
    return B[at : at + 8 * r * c].view(np.float64).reshape((r, c))


@njit(cache=True)
def _i2(B: np.ndarray, io: np.ndarray, k: int) -> np.ndarray:
    at, r, c = io[_P + 3 * k], io[_P + 3 * k + 1], io[_P + 3 * k + 2]
    return B[at : at + 8 * r * c].view(np.int64).reshape((r, c))


@njit(cache=True)
def _u2(B: np.ndarray, io: np.ndarray, k: int) -> np.ndarray:
    at, r, c = io[_P + 3 * k], io[_P + 3 * k + 1], io[_P + 3 * k + 2]
    return B[at : at + 8 * r * c].view(np.uint64).reshape((r, c))


@njit(cache=True)
def _b1(B: np.ndarray, io: np.ndarray, k: int) -> np.ndarray:
    at = io[_P + 3 * k]
    return B[at : at + io[_P + 3 * k + 1]]


def _make_entry(stamp: int) -> Any:
    # only ``stamp`` may be in the closure: numba hashes the closure's contents into the cache
    # key (a compiled function there would change the key in every process)
    @njit(cache=True)
    def packet_step(
        D: np.ndarray,
        T: np.ndarray,
        size: int,
        rx: float,
        pending_pa: float,
        start: int,
        n: int,
    ) -> tuple[
        int, int, int, int, int, int,
        tuple[float, float, float, float, bool, float, float, bool, bool, bool, bool],
    ]:  # fmt: skip
        """With ``start == 0``: decode the packet of ``size`` bytes in the stream arena ``D``
        (its ``buf``) received at ``rx`` (as :meth:`FastDecoder.decode
        <downhill_live.decode.fast.FastDecoder.decode>`); then feed samples ``start..n`` of
        its sample buffers to the gait core in the tracker arena ``T`` (as
        ``GaitTracker.update_many``), until they are all taken or the step rows are full.
        ``pending_pa`` (not nan): a barometer stream's reading, the first sample's pressure when
        the stream has none of its own (written into ``p_scr``).

        Returns (decode status, samples of the packet, samples taken from ``start``, step rows
        written, samples lost so far over all restarts, 1 when the packet re-anchored the
        time, the first step row as the :class:`~downhill_live.types.Step` fields: Python
        floats and bools, made in compiled code). A status other than OK: nothing was
        accepted (nothing fed).
        """
        nan = math.nan
        first = (nan, nan, nan, nan, False, nan, nan, False, False, False, False)
        jumped = 0
        if stamp < 0:  # never: ties the cache key to the kernels' sources
            return K.ERR_STATELESS, 0, 0, 0, 0, 0, first
        dio = D[:_HEAD_BYTES].view(np.int64)
        tio = T[:_HEAD_BYTES].view(np.int64)
        kind = dio[2]
        A = _i2(D, dio, 1)
        FL = _f2(D, dio, 2)
        out_t = _f1(D, dio, 4)
        out_a = _f2(D, dio, 5)
        if start == 0:
            dio[1] = size
            one_rx = _f1(D, dio, 8)
            one_rx[0] = rx
            done, n, status = K.decode_run(
                kind, _b1(D, dio, 0), dio[0:1], dio[1:2], one_rx, 0, 1, A, FL, _u2(D, dio, 3),
                out_t, out_a, _f1(D, dio, 6),
            )  # fmt: skip
            jumped = int(FL[K.R_INFO, 2])
            if done == 0:
                return status, 0, 0, 0, 0, jumped, first
        lost_at = K.S_LOST if kind == K.KIND_LAYOUT else K.PS_LOST
        lost = int(FL[K.R_G, K.G_LOST_BEFORE]) + int(A[K.R_CUR, lost_at])
        if n == 0:
            return K.OK, 0, 0, 0, lost, jumped, first
        dec_has_p = dio[3] != 0
        has_p = dec_has_p
        pr = _f1(D, dio, 6)
        if not dec_has_p and pending_pa == pending_pa:
            pr = _f1(D, dio, 7)
            if start == 0:
                pr[0] = pending_pa
                for j in range(1, n):
                    pr[j] = math.nan
            has_p = True
        a = tio[_P + 3 * 11]
        prm = T[a : a + _PRM_NB].view(_PRM_DT)
        a = tio[_P + 3 * 12]
        st = T[a : a + _ST_NB].view(_ST_DT)
        a = tio[_P + 3 * 13]
        gprm = T[a : a + _GPRM_NB].view(_GPRM_DT)
        a = tio[_P + 3 * 14]
        gst = T[a : a + _GST_NB].view(_GST_DT)
        rows = _f2(T, tio, 8)
        n_rows, used = kern.process(
            out_t[start:n],
            out_a[start:n],
            prm,
            st,
            _f2(T, tio, 0),
            _f1(T, tio, 1),
            _f1(T, tio, 2),
            _f2(T, tio, 3),
            rows,
        )
        step = _f2(T, tio, 10)
        for r in range(n_rows):
            step[0, r] = rows[r, kern.O_T]
            step[1, r] = rows[r, kern.O_T_REPORT]
            step[2, r] = rows[r, kern.O_CAD]
        stop = start + used
        gout = _f2(T, tio, 9)
        gk.grade_block(
            out_t[start:stop],
            out_a[start:stop],
            pr[start:stop] if has_p else pr[:0],
            has_p,
            step[0, :n_rows],
            step[1, :n_rows],
            step[2, :n_rows],
            gprm,
            gst,
            _f2(T, tio, 4),
            _f2(T, tio, 5),
            _f1(T, tio, 6),
            _f1(T, tio, 7),
            gout,
        )
        for r in range(n_rows):
            rows[r, kern.O_GRADE] = gout[r, 0]
            rows[r, kern.O_DESC] = gout[r, 1]
        if n_rows:  # the fields of the first step, as _rows_to_steps makes them
            first = (
                float(rows[0, kern.O_T]),
                float(rows[0, kern.O_CAD]),
                float(rows[0, kern.O_PEAK]),
                float(rows[0, kern.O_GRADE]),
                bool(rows[0, kern.O_DESC] > 0.5),
                float(rows[0, kern.O_GCT]),
                float(rows[0, kern.O_PEAK_AX]),
                bool(rows[0, kern.O_UNDER] > 0.5),
                bool(rows[0, kern.O_CLIP] > 0.5),
                bool(rows[0, kern.O_PROVISIONAL] > 0.5),
                bool(rows[0, kern.O_REPLACES] > 0.5),
            )
        return K.OK, n, used, n_rows, lost, jumped, first

    return packet_step


packet_step = _make_entry(_sources_stamp())


def _arena(parts: list[tuple[np.ndarray, np.dtype]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """A zeroed byte arena (aligned) with copies of ``parts`` (array, dtype of its view) after
    the header, and the views; the header holds each part's offset and shape."""
    spans = []
    at = _HEAD_BYTES
    for arr, _ in parts:
        spans.append(at)
        at += -(-arr.nbytes // _ALIGN) * _ALIGN
    raw = np.zeros(at + _ALIGN, np.uint8)
    skip = -raw.ctypes.data % _ALIGN
    B = raw[skip : skip + at]
    io = B[:_HEAD_BYTES].view(np.int64)
    views = []
    for k, ((arr, dtype), off) in enumerate(zip(parts, spans, strict=True)):
        view = B[off : off + arr.nbytes].view(dtype).reshape(arr.shape)
        view[...] = arr
        views.append(view)
        shape = arr.shape if arr.ndim == 2 else (arr.shape[0], 0)
        io[_P + 3 * k : _P + 3 * k + 3] = (off, *shape)
    return B, views


class Arena:
    """One tracker's buffers (:data:`PARTS`: its float buffers, its kernel records, the step
    rows of a call) in one byte array: made once per tracker (kept as
    ``tracker._fused_arena``) and shared by every stream that feeds it. A new arena (another row
    count) moves the buffers again; the streams bound to the old one notice and rebind
    (:meth:`FusedPacket.step`)."""

    def __init__(self, tracker: Any, rows: int) -> None:
        floats = [
            tracker._ring, tracker._acf_x, tracker._acf_r, tracker._iv, tracker._gring,
            tracker._baro, tracker._tg, tracker._ff,
            np.zeros((rows, kern.N_OUT)), np.zeros((rows, 2)), np.zeros((3, rows)),
        ]  # fmt: skip
        records = [tracker._prm_k, tracker._st_k, tracker._gprm_k, tracker._gst_k]
        dtypes = [_PRM_DT, _ST_DT, _GPRM_DT, _GST_DT]
        if _jit.jit_active():  # the one dtype object the tracker's records have (kernel_view)
            dtypes = [r.dtype for r in records]
        parts = [(a, a.dtype) for a in floats] + list(zip(records, dtypes, strict=True))
        self.n_rows = rows
        self.B, views = _arena(parts)
        # the tracker goes on with the same values, now in the arena
        for name, view in zip(PARTS, views, strict=True):
            if name in _RECORDS:
                setattr(tracker, f"_{name}_k", view)
                setattr(tracker, f"_{name}", view.view(np.recarray))
            elif name not in ("rows", "gout", "step"):
                setattr(tracker, "_" + name, view)
        self.rows = views[PARTS.index("rows")]
        tracker._fused_arena = self

    @staticmethod
    def of(tracker: Any, rows: int) -> Arena:
        """The tracker's arena, made (or made again for another row count) when needed."""
        arena = getattr(tracker, "_fused_arena", None)
        if arena is None or arena.n_rows != rows:
            arena = Arena(tracker, rows)
        return arena


class FusedPacket:
    """What :func:`packet_step` works on for one stream: its own arena (the decoder's state,
    payload and sample buffers, which the decoder goes on using: it may also be called directly
    in between, as replay does) and the session tracker's :class:`Arena` (shared), and the step
    rows of one call (:attr:`rows`).

    Parameters
    ----------
    decoder : FastDecoder
        The stream's compiled decoder.
    tracker : GaitTracker
        The session's gait core.
    rows : int
        Step rows one call returns (>= 2; a test makes it small to fill it).
    """

    def __init__(self, decoder: Any, tracker: Any, *, rows: int = ROWS) -> None:
        if rows < 2:
            raise ValueError(f"rows must be >= 2, got {rows}")  # 1 would never take a sample
        self.decoder = decoder
        self.tracker = tracker
        self._arena = Arena.of(tracker, rows)
        self._fit(len(decoder._buf))

    def _fit(self, buf_size: int) -> None:
        """(Re)build the stream's arena around the decoder's current state and buffers (with a
        payload buffer of at least ``buf_size`` bytes; the sample buffers grow for a packet
        that needs more) and bind the entry to it and to the tracker's arena."""
        d = self.decoder
        ar = self._arena = self.tracker._fused_arena
        self.rows = ar.rows
        buf = d._buf
        if len(buf) < buf_size:
            buf = np.zeros(buf_size, np.uint8)
            buf[: len(d._buf)] = d._buf
        p_scr = np.empty(len(d._t))
        rx = np.zeros(1)
        parts = [buf, d._A, d._FL, d._U, d._t, d._a, d._p, p_scr, rx]
        self.D, views = _arena([(a, a.dtype) for a in parts])
        io = self.D[:_HEAD_BYTES].view(np.int64)
        io[2], io[3] = d.kind, d.has_pressure
        d.adopt(*views[:7])  # the decoder goes on in the arena
        self._buf, self._t = d._buf, d._t
        self._cap = len(d._buf)
        self._mv = memoryview(d._buf)
        self._call = functools.partial(packet_step, self.D, ar.B)

    def run(self, payload: bytes, rx: float, pending_pa: float) -> Any:
        """Copy ``payload`` into the stream's arena and decode it and feed its samples (one
        :func:`packet_step` call from sample 0)."""
        d = self.decoder
        size = len(payload)
        if (
            size > self._cap
            or self._buf is not d._buf
            or self._t is not d._t
            or self._arena is not self.tracker._fused_arena
        ):
            self._fit(max(2 * size, len(d._buf)) if size > self._cap else len(d._buf))
        self._mv[:size] = payload
        return self._call(size, rx, pending_pa, 0, 0)

    def step(self, size: int, rx: float, pending_pa: float, start: int, n: int) -> Any:
        """One :func:`packet_step` call on the payload already in the stream's arena (``start
        > 0``: the samples from ``start`` of the packet decoded last)."""
        return self._call(size, rx, pending_pa, start, n)


def warm_fused() -> None:
    """Compile (first run) or load (numba's cache) :func:`packet_step` (one signature serves
    every stream kind and placement); :func:`~downhill_live.decode.fast.warm_kernels` calls it."""
    # lazy: the session imports this module (and these are needed only here)
    from downhill_live.config.cue_profile import load_cue_profile
    from downhill_live.config.firmware import load_firmware_profile
    from downhill_live.session import Session
    from downhill_live.types import Packet  # lazy, as the three above

    s = Session(load_firmware_profile("dhl-imu"), load_cue_profile())
    s.process(Packet(0.1, "acc", bytes(8)))
