"""One compiled call per live packet: decode, strikes and grade in a single numba entry.

:meth:`Session.process <downhill_live.session.Session.process>` runs every packet of a stream
with a compiled decoder (:class:`~downhill_live.decode.fast.FastDecoder`) through
:func:`packet_step`: it copies nothing but the payload, decodes into the decoder's
preallocated sample buffers (:func:`downhill_live.decode._kernels.decode_run`), feeds the
samples to the strike kernel (:func:`downhill_live.core._kernels.process`) and the grade kernel
(:func:`downhill_live.core.grade.grade_block`) of the session's
:class:`~downhill_live.core.GaitTracker`, and returns a few counts; only a packet that completes
a step builds Python objects (its :class:`~downhill_live.types.Step`). The kernels, their states
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


#: the float arrays the entry takes in one arena (each argument costs ~2 us of dispatch and
#: unboxing when the caches are cold, as they are between live packets): name, rows x columns
#: (columns 0: one dimension); their offsets and shapes follow the two header slots of ``io``
PARTS = ("ring", "acf_x", "acf_r", "iv", "gring", "baro", "tg", "ff", "rows", "gout", "step", "rx")
_IO_HEAD = 2  # io[0]: the payload's offset in buf (0), io[1]: its length


@njit(cache=True)
def _view2(W: np.ndarray, at: int, n_rows: int, n_cols: int) -> np.ndarray:
    return W[at : at + n_rows * n_cols].reshape((n_rows, n_cols))


def _make_entry(stamp: int) -> Any:
    # only ``stamp`` may be in the closure: numba hashes the closure's contents into the cache
    # key (a compiled function there would change the key in every process)
    @njit(cache=True)
    def packet_step(
        kind: int,
        buf: np.ndarray,
        io: np.ndarray,
        A: np.ndarray,
        FL: np.ndarray,
        U: np.ndarray,
        out_t: np.ndarray,
        out_a: np.ndarray,
        out_p: np.ndarray,
        p_scr: np.ndarray,
        W: np.ndarray,
        prm: np.ndarray,
        st: np.ndarray,
        gprm: np.ndarray,
        gst: np.ndarray,
        dec_has_p: bool,
        size: int,
        rx: float,
        pending_pa: float,
        start: int,
        n: int,
    ) -> tuple[int, int, int, int, int, int]:
        """With ``start == 0``: decode the packet ``buf[:size]`` received at ``rx`` (as
        :meth:`FastDecoder.decode <downhill_live.decode.fast.FastDecoder.decode>`); then feed
        samples ``start..n`` of ``out_*`` to the gait core (as ``GaitTracker.update_many``),
        until they are all taken or the step rows are full. ``pending_pa`` (not nan): a
        barometer stream's reading, the first sample's pressure when the stream has none of its
        own (written into ``p_scr``).

        Returns (decode status, samples of the packet, samples taken from ``start``, step rows
        written, samples lost so far over all restarts, 1 when the packet re-anchored the
        time). A status other than OK: nothing was accepted (nothing fed).
        """
        jumped = 0
        if stamp < 0:  # never: ties the cache key to the kernels' sources
            return K.ERR_STATELESS, 0, 0, 0, 0, 0
        if start == 0:
            io[1] = size
            one_rx = W[io[35] : io[35] + io[36]]
            one_rx[0] = rx
            done, n, status = K.decode_run(
                kind, buf, io[0:1], io[1:2], one_rx, 0, 1, A, FL, U, out_t, out_a, out_p
            )
            jumped = int(FL[K.R_INFO, 2])
            if done == 0:
                return status, 0, 0, 0, 0, jumped
        lost_at = K.S_LOST if kind == K.KIND_LAYOUT else K.PS_LOST
        lost = int(FL[K.R_G, K.G_LOST_BEFORE]) + int(A[K.R_CUR, lost_at])
        if n == 0:
            return K.OK, 0, 0, 0, lost, jumped
        has_p = dec_has_p
        pr = out_p
        if not dec_has_p and pending_pa == pending_pa:
            if start == 0:
                p_scr[0] = pending_pa
                for j in range(1, n):
                    p_scr[j] = math.nan
            has_p = True
            pr = p_scr
        rows = _view2(W, io[26], io[27], io[28])
        n_rows, used = kern.process(
            out_t[start:n],
            out_a[start:n],
            prm,
            st,
            _view2(W, io[2], io[3], io[4]),
            W[io[5] : io[5] + io[6]],
            W[io[8] : io[8] + io[9]],
            _view2(W, io[11], io[12], io[13]),
            rows,
        )
        step = _view2(W, io[32], io[33], io[34])
        for r in range(n_rows):
            step[0, r] = rows[r, kern.O_T]
            step[1, r] = rows[r, kern.O_T_REPORT]
            step[2, r] = rows[r, kern.O_CAD]
        stop = start + used
        gout = _view2(W, io[29], io[30], io[31])
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
            _view2(W, io[14], io[15], io[16]),
            _view2(W, io[17], io[18], io[19]),
            W[io[20] : io[20] + io[21]],
            W[io[23] : io[23] + io[24]],
            gout,
        )
        for r in range(n_rows):
            rows[r, kern.O_GRADE] = gout[r, 0]
            rows[r, kern.O_DESC] = gout[r, 1]
        return K.OK, n, used, n_rows, lost, jumped

    return packet_step


packet_step = _make_entry(_sources_stamp())


class Arena:
    """One tracker's float buffers (:data:`PARTS`) in one array, and the step rows of a call:
    made once per tracker (kept as ``tracker._fused_arena``) and shared by every stream that
    feeds it. A new arena (another row count) moves the buffers again; the streams bound to the
    old one notice and rebind (:meth:`FusedPacket.step`)."""

    def __init__(self, tracker: Any, rows: int) -> None:
        arrays = {
            "ring": tracker._ring,
            "acf_x": tracker._acf_x,
            "acf_r": tracker._acf_r,
            "iv": tracker._iv,
            "gring": tracker._gring,
            "baro": tracker._baro,
            "tg": tracker._tg,
            "ff": tracker._ff,
            "rows": np.zeros((rows, kern.N_OUT)),
            "gout": np.zeros((rows, 2)),
            "step": np.zeros((3, rows)),
            "rx": np.zeros(1),
        }
        assert tuple(arrays) == PARTS
        self.n_rows = rows
        self.W = np.zeros(sum(a.size for a in arrays.values()))
        self.io = np.zeros(_IO_HEAD + 3 * len(PARTS), np.int64)
        views: dict[str, np.ndarray] = {}
        at = 0
        for k, (name, arr) in enumerate(arrays.items()):
            view = self.W[at : at + arr.size].reshape(arr.shape)
            view[...] = arr
            views[name] = view
            shape = arr.shape if arr.ndim == 2 else (arr.size, 0)
            self.io[_IO_HEAD + 3 * k : _IO_HEAD + 3 * k + 3] = (at, *shape)
            at += arr.size
        # the tracker goes on with the same values, now in the arena
        for name in PARTS[:8]:
            setattr(tracker, "_" + name, views[name])
        self.rows = views["rows"]
        tracker._fused_arena = self

    @staticmethod
    def of(tracker: Any, rows: int) -> Arena:
        """The tracker's arena, made (or made again for another row count) when needed."""
        arena = getattr(tracker, "_fused_arena", None)
        if arena is None or arena.n_rows != rows:
            arena = Arena(tracker, rows)
        return arena


class FusedPacket:
    """The arrays :func:`packet_step` works on for one stream: its decoder's and the session
    tracker's (shared: the decoder and the tracker may also be called directly in between, as
    replay does; the tracker's float buffers live in its :class:`Arena`), and the step rows of
    one call (:attr:`rows`).

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
        self._p_scr = np.empty(0)
        self._fit()

    def _fit(self) -> None:
        """(Re)bind the decoder's payload and sample buffers (they grow for a packet that needs
        more) and the tracker's arena: the entry with every argument but the packet's bound
        (one C-level call)."""
        d, tr = self.decoder, self.tracker
        ar = self._arena = tr._fused_arena
        self.rows = ar.rows
        if len(self._p_scr) < len(d._t):
            self._p_scr = np.empty(len(d._t))
        self._buf, self._t = d._buf, d._t
        self._call = functools.partial(
            packet_step, d.kind, d._buf, ar.io, d._A, d._FL, d._U, d._t, d._a, d._p,
            self._p_scr, ar.W, tr._prm_k, tr._st_k, tr._gprm_k, tr._gst_k, d.has_pressure,
        )  # fmt: skip

    def step(self, size: int, rx: float, pending_pa: float, start: int, n: int) -> Any:
        """One :func:`packet_step` call on the payload already in ``decoder._buf[:size]``."""
        d = self.decoder
        if self._buf is not d._buf or self._t is not d._t or (
            self._arena is not self.tracker._fused_arena
        ):
            self._fit()
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
