"""Compiled decoders: the ``layout`` and ``polar_pmd_acc`` payload formats and the restart /
time-jump logic of :class:`~downhill_live.decode.base.RestartingDecoder`, in numba.

The Python decoders (:class:`~downhill_live.decode.layout.LayoutDecoder`,
:class:`~downhill_live.decode.polar_pmd.PmdAccDecoder` inside a ``RestartingDecoder``) are the
reference; these kernels give the same samples bit for bit and the same errors (tests compare
them on the bundled recordings and on generated packets). :func:`decode_run` decodes a run of
packets that lie in one byte buffer into preallocated sample buffers: live mode calls it with
one packet, replay with thousands. It allocates nothing.

Error handling: a kernel never raises. It returns a status (:data:`ERR_STATELESS`: the payload
itself is malformed, the Python side asks the reference decoder for the exact message;
:data:`ERR_BACK` / :data:`ERR_AHEAD`: the packet does not continue the stream's time base) and
leaves the state as it was before the packet.

State is kept in small arrays (see ``fast.py`` for their layout); the wrapper part is
``G`` (float64): offset_s, last_t_s, last_rx_s, floor_s, restarts, jumps, lost_before,
has_pending, pending_off_s, has_last.
"""

from __future__ import annotations

import math

import numpy as np

from downhill_live.core._jit import njit

# statuses of one packet
OK = 0
ERR_STATELESS = -1  # malformed payload: the reference decoder words the error
ERR_BACK = -2  # counter or clock went backwards (info: expected, got)
ERR_AHEAD = -3  # sensor time too far ahead of the receive clock (info: seconds ahead)
ERR_CAPACITY = -4  # the output buffers are full (info: samples needed)

# decoder kinds
KIND_LAYOUT = 0
KIND_PMD = 1

# layout spec (int64 array I)
L_BIG, L_HSIZE, L_SSIZE, L_SPP = 0, 1, 2, 3
L_CTR_OFF, L_CTR_TYPE, L_CTR_PER_SAMPLE, L_CTR_MOD = 4, 5, 6, 7
L_TS_OFF, L_TS_TYPE, L_TS_LAST = 8, 9, 10
L_P_OFF, L_P_TYPE = 11, 12
L_AX_OFF, L_AX_TYPE = 13, 16  # three each
N_LI = 19
# layout spec (float64 array F)
F_MULT = 0  # three: sign * scale_g per output axis
F_RATE, F_TS_SCALE, F_P_SCALE = 3, 4, 5
N_LF = 6
# layout inner state: SI int64 [has_next, next_counter, sample_index, packets, lost, has_t0]
S_HAS_NEXT, S_NEXT, S_INDEX, S_PACKETS, S_LOST, S_HAS_T0 = 0, 1, 2, 3, 4, 5
# float state SF [t0 (nan: unset)]
S_T0 = 0
# PMD spec (int64 I): channels, resolution_bits; (float64 F): rate, factor
P_CHANNELS, P_RES = 0, 1
PF_RATE, PF_FACTOR = 0, 1
# PMD inner state: SI [has_prev, lost, packets], SU uint64 [prev_ts], SF [t0]
PS_HAS_PREV, PS_LOST, PS_PACKETS = 0, 1, 2

# wrapper state G
G_OFFSET, G_LAST_T, G_LAST_RX, G_FLOOR = 0, 1, 2, 3
G_RESTARTS, G_JUMPS, G_LOST_BEFORE, G_HAS_PENDING, G_PENDING_OFF, G_HAS_LAST = 4, 5, 6, 7, 8, 9
N_G = 10

# field types (FIELD_TYPES order)
T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32 = 0, 1, 2, 3, 4, 5, 6
TYPE_CODES = {
    "u8": T_U8,
    "i8": T_I8,
    "u16": T_U16,
    "i16": T_I16,
    "u32": T_U32,
    "i32": T_I32,
    "f32": T_F32,
}


@njit(cache=True)
def _uint(buf: np.ndarray, pos: int, size: int, big: bool) -> int:
    v = 0
    if big:
        for i in range(size):
            v = (v << 8) | int(buf[pos + i])
    else:
        for i in range(size - 1, -1, -1):
            v = (v << 8) | int(buf[pos + i])
    return v


@njit(cache=True)
def _int_field(buf: np.ndarray, pos: int, t: int, big: bool) -> int:
    # each width read by its own lines (not _uint's loop): the decoder's inner loop
    if t <= T_I8:
        v = int(buf[pos])
        return v - 256 if t == T_I8 and v >= 128 else v
    if t <= T_I16:
        b0 = int(buf[pos])
        b1 = int(buf[pos + 1])
        v = (b0 << 8) | b1 if big else b0 | (b1 << 8)
        return v - 65536 if t == T_I16 and v >= 32768 else v
    v = _u32(buf, pos, big)
    return v - 4294967296 if t == T_I32 and v >= 2147483648 else v


@njit(cache=True)
def _i16le(buf: np.ndarray, pos: int) -> int:
    v = int(buf[pos]) | (int(buf[pos + 1]) << 8)
    return v - 65536 if v >= 32768 else v


@njit(cache=True)
def _u32(buf: np.ndarray, pos: int, big: bool) -> int:
    b0 = int(buf[pos])
    b1 = int(buf[pos + 1])
    b2 = int(buf[pos + 2])
    b3 = int(buf[pos + 3])
    if big:
        return (b0 << 24) | (b1 << 16) | (b2 << 8) | b3
    return b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)


@njit(cache=True)
def _f32(bits: int) -> float:
    """IEEE 754 single precision from its bits (exact)."""
    sign = -1.0 if bits >> 31 else 1.0
    e = (bits >> 23) & 0xFF
    m = bits & 0x7FFFFF
    if e == 255:
        return sign * math.inf if m == 0 else math.nan
    if e == 0:
        return sign * math.ldexp(float(m), -149)
    return sign * math.ldexp(float(m | 0x800000), e - 150)


@njit(cache=True)
def _num_field(buf: np.ndarray, pos: int, t: int, big: bool) -> float:
    if t == T_F32:
        return _f32(_u32(buf, pos, big))
    return float(_int_field(buf, pos, t, big))


@njit(cache=True)
def _layout_one(
    buf: np.ndarray,
    pos: int,
    ln: int,
    I: np.ndarray,  # noqa: E741 - the spec arrays are named as in the module notes
    F: np.ndarray,
    SI: np.ndarray,
    SF: np.ndarray,
    out_t: np.ndarray,
    out_a: np.ndarray,
    out_p: np.ndarray,
    k0: int,
    info: np.ndarray,
) -> int:
    """One layout packet -> samples at out[k0:]; returns n, or a negative status (state kept)."""
    big = I[L_BIG] != 0
    hsize = I[L_HSIZE]
    ssize = I[L_SSIZE]
    body = ln - hsize
    if body < ssize:
        return ERR_STATELESS
    if I[L_SPP] == 0:
        if body % ssize:
            return ERR_STATELESS
        n = body // ssize
    else:
        n = I[L_SPP]
        if body != n * ssize:
            return ERR_STATELESS
    if k0 + n > out_t.shape[0]:
        info[0] = n
        return ERR_CAPACITY
    lost = 0
    first_index = SI[S_INDEX]
    next_counter = SI[S_NEXT]
    has_next = SI[S_HAS_NEXT]
    if I[L_CTR_OFF] >= 0 and hsize:
        counter = _int_field(buf, pos + I[L_CTR_OFF], I[L_CTR_TYPE], big)
        mod = I[L_CTR_MOD]
        step = 1 if I[L_CTR_PER_SAMPLE] else n
        if has_next:
            gap = (counter - next_counter) % mod
            if gap > mod // 2:
                info[0] = next_counter
                info[1] = counter
                return ERR_BACK
            lost = gap * step
            first_index += lost
        next_counter = (counter + n) % mod if I[L_CTR_PER_SAMPLE] else (counter + 1) % mod
        has_next = 1
    rate = F[F_RATE]
    if I[L_TS_OFF] >= 0 and hsize:
        ts = _num_field(buf, pos + I[L_TS_OFF], I[L_TS_TYPE], big) * F[F_TS_SCALE]
        first_t = ts - (n - 1) / rate if I[L_TS_LAST] else ts
        t0 = first_t if SI[S_HAS_T0] == 0 else SF[S_T0]
        for k in range(n):
            out_t[k0 + k] = (first_t - t0) + k / rate
        SF[S_T0] = t0
        SI[S_HAS_T0] = 1
    else:
        for k in range(n):
            out_t[k0 + k] = (first_index + k) / rate
    s0 = pos + hsize
    o0, o1, o2 = I[L_AX_OFF], I[L_AX_OFF + 1], I[L_AX_OFF + 2]
    t0_, t1_, t2_ = I[L_AX_TYPE], I[L_AX_TYPE + 1], I[L_AX_TYPE + 2]
    m0, m1, m2 = F[F_MULT], F[F_MULT + 1], F[F_MULT + 2]
    if t0_ == T_I16 and t1_ == T_I16 and t2_ == T_I16 and not big:  # the usual IMU sample
        for k in range(n):
            q = s0 + k * ssize
            out_a[k0 + k, 0] = float(_i16le(buf, q + o0)) * m0
            out_a[k0 + k, 1] = float(_i16le(buf, q + o1)) * m1
            out_a[k0 + k, 2] = float(_i16le(buf, q + o2)) * m2
    else:
        for k in range(n):
            q = s0 + k * ssize
            out_a[k0 + k, 0] = _num_field(buf, q + o0, t0_, big) * m0
            out_a[k0 + k, 1] = _num_field(buf, q + o1, t1_, big) * m1
            out_a[k0 + k, 2] = _num_field(buf, q + o2, t2_, big) * m2
    if I[L_P_OFF] >= 0 and hsize:
        p = _num_field(buf, pos + I[L_P_OFF], I[L_P_TYPE], big) * F[F_P_SCALE]
        for k in range(n):
            out_p[k0 + k] = p
    SI[S_NEXT] = next_counter
    SI[S_HAS_NEXT] = has_next
    SI[S_INDEX] = first_index + n
    SI[S_PACKETS] += 1
    SI[S_LOST] += lost
    return n


@njit(cache=True)
def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >= (1 << (bits - 1)) else v


@njit(cache=True)
def _pmd_count(buf: np.ndarray, pos: int, ln: int, channels: int, res: int) -> int:
    """Samples in a PMD ACC frame, or ERR_STATELESS when it is malformed (any reason)."""
    if ln < 10:
        return ERR_STATELESS
    b0 = int(buf[pos])
    if (b0 & 0x3F) != 2:  # unknown, or not ACC
        return ERR_STATELESS
    ftype = int(buf[pos + 9])
    frame_type = ftype & 0x7F
    c0 = pos + 10
    clen = ln - 10
    if ftype & 0x80:
        if frame_type != 0 and frame_type != 1:
            return ERR_STATELESS
        ref_bytes = (res + 7) // 8
        need = channels * ref_bytes
        if clen < need:
            return ERR_STATELESS
        n = 1
        off = need
        while off < clen:
            if off + 2 > clen:
                return ERR_STATELESS
            width = int(buf[c0 + off])
            count = int(buf[c0 + off + 1])
            off += 2
            if width < 1 or width > 32 or count == 0:
                return ERR_STATELESS
            nbytes = (width * count * channels + 7) // 8
            if off + nbytes > clen:
                return ERR_STATELESS
            n += count
            off += nbytes
        return n
    if frame_type > 2:
        return ERR_STATELESS
    size = (frame_type + 1) * channels
    if clen == 0 or clen % size:
        return ERR_STATELESS
    return clen // size


@njit(cache=True)
def _pmd_one(
    buf: np.ndarray,
    pos: int,
    ln: int,
    I: np.ndarray,  # noqa: E741
    F: np.ndarray,
    SI: np.ndarray,
    SU: np.ndarray,
    SF: np.ndarray,
    out_t: np.ndarray,
    out_a: np.ndarray,
    k0: int,
    info: np.ndarray,
    acc3: np.ndarray,
) -> int:
    """One PMD ACC frame -> samples at out[k0:]; returns n or a negative status (state kept)."""
    channels = I[P_CHANNELS]
    res = I[P_RES]
    n = _pmd_count(buf, pos, ln, channels, res)
    if n < 0:
        return n
    if k0 + n > out_t.shape[0]:
        info[0] = n
        return ERR_CAPACITY
    ts = np.uint64(0)
    for i in range(7, -1, -1):
        ts = (ts << np.uint64(8)) | np.uint64(buf[pos + 1 + i])
    has_prev = SI[PS_HAS_PREV]
    prev = SU[0]
    if has_prev and ts <= prev:
        info[0] = 0
        return ERR_BACK
    rate = F[PF_RATE]
    ftype = int(buf[pos + 9])
    c0 = pos + 10
    # samples (first three channels) into out_a, as the reference scales them
    if ftype & 0x80:
        scale = F[PF_FACTOR] * (1.0 if (ftype & 0x7F) == 0 else 1e-3)
        ref_bytes = (res + 7) // 8
        for ch in range(channels):
            v = _signed(_uint(buf, c0 + ch * ref_bytes, ref_bytes, False), 8 * ref_bytes)
            if res < 8 * ref_bytes:
                sign = 1 << (res - 1)
                v = ((v & ((1 << res) - 1)) ^ sign) - sign
            if ch < 3:
                acc3[ch] = v
        for ch in range(min(channels, 3)):
            out_a[k0, ch] = float(np.int64(acc3[ch])) * scale
        k = 1
        off = channels * ref_bytes
        clen = ln - 10
        while off < clen:
            width = int(buf[c0 + off])
            count = int(buf[c0 + off + 1])
            off += 2
            bitpos = 0
            base = c0 + off
            for _ in range(count):
                for ch in range(channels):
                    v = 0
                    for b in range(width):
                        bit = (int(buf[base + ((bitpos + b) >> 3)]) >> ((bitpos + b) & 7)) & 1
                        v |= bit << b
                    bitpos += width
                    if ch < 3:
                        acc3[ch] = acc3[ch] + _signed(v, width)
                for ch in range(min(channels, 3)):
                    out_a[k0 + k, ch] = float(np.int64(acc3[ch])) * scale
                k += 1
            off += (width * count * channels + 7) // 8
    else:
        width = (ftype & 0x7F) + 1
        for k in range(n):
            for ch in range(min(channels, 3)):
                p = c0 + (k * channels + ch) * width
                out_a[k0 + k, ch] = float(_signed(_uint(buf, p, width, False), 8 * width)) * 1e-3
    # sample times (s since 2000), as sample_times_s places them
    whole = ts // np.uint64(1_000_000_000)
    frac = ts - whole * np.uint64(1_000_000_000)
    base_s = float(whole) + float(frac) / 1e9
    step_s = 1.0 / rate
    lost = 0
    if has_prev:
        diff = ts - prev
        span_s = float(diff) / 1e9
        if span_s > (n + 1.5) / rate:
            lost = max(0, int(np.rint(span_s * rate)) - n)
        elif prev > np.uint64(0):
            step_s = float(diff) / n / 1e9
    for k in range(n):
        out_t[k0 + k] = base_s - float(n - 1 - k) * step_s
    if math.isnan(SF[S_T0]):
        SF[S_T0] = out_t[k0]
    t0 = SF[S_T0]
    for k in range(n):
        out_t[k0 + k] = out_t[k0 + k] - t0
    SU[0] = ts
    SI[PS_HAS_PREV] = 1
    SI[PS_LOST] += lost
    SI[PS_PACKETS] += 1
    return n


@njit(cache=True)
def _inner(
    kind: int,
    buf: np.ndarray,
    pos: int,
    ln: int,
    I: np.ndarray,  # noqa: E741
    F: np.ndarray,
    SI: np.ndarray,
    SU: np.ndarray,
    SF: np.ndarray,
    out_t: np.ndarray,
    out_a: np.ndarray,
    out_p: np.ndarray,
    k0: int,
    info: np.ndarray,
    acc3: np.ndarray,
) -> int:
    if kind == KIND_LAYOUT:
        return _layout_one(buf, pos, ln, I, F, SI, SF, out_t, out_a, out_p, k0, info)
    return _pmd_one(buf, pos, ln, I, F, SI, SU, SF, out_t, out_a, k0, info, acc3)


# rows of the packed state arrays: A (int64), FL (float64), U (uint64)
R_CUR, R_PEND, R_FRESH, R_SCRATCH = 0, 1, 2, 3
R_ACC3, R_SPEC = 4, 5  # A only
R_G, R_FSPEC, R_INFO = 6, 7, 8  # FL only (rows 0-3: the float state of each base)
N_ROWS_A, N_ROWS_FL, N_COLS = 6, 9, 24
N_STATE_I = 6  # int state columns of a decoder (layout: 6, PMD: 3); float and uint: 1
# G columns after the wrapper state: restart_gap_s, jump_tol_s, dt_s, max clock ratio
G_RESTART_GAP, G_TOL, G_DT, G_RATIO = 10, 11, 12, 13


@njit(cache=True)
def _copy_row(A: np.ndarray, FL: np.ndarray, U: np.ndarray, dst: int, src: int) -> None:
    for j in range(N_STATE_I):  # a decoder's state: the first columns of its rows
        A[dst, j] = A[src, j]
    FL[dst, 0] = FL[src, 0]
    U[dst, 0] = U[src, 0]


@njit(cache=True, nogil=True)
def decode_run(
    kind: int,
    buf: np.ndarray,
    offs: np.ndarray,
    lens: np.ndarray,
    rx: np.ndarray,
    start: int,
    stop: int,
    A: np.ndarray,
    FL: np.ndarray,
    U: np.ndarray,
    out_t: np.ndarray,
    out_a: np.ndarray,
    out_p: np.ndarray,
) -> tuple[int, int, int]:
    """Decode packets ``start..stop`` (``buf[offs[i]:offs[i] + lens[i]]``, received at
    ``rx[i]``) through the restart / jump logic into ``out_*`` from index 0.

    ``A``, ``FL``, ``U`` pack the state (rows :data:`R_CUR`: the current time base,
    ``R_PEND``: the candidate base, ``R_FRESH``: a fresh decoder, ``R_SCRATCH``: the attempt
    being made), the spec and the wrapper state ``G`` (row :data:`R_G` of ``FL``). Each attempt
    decodes into the scratch row from one of the others; one call site keeps the compile
    short. Stops at the first packet that is not accepted. Returns (packets accepted, samples
    written, status of the packet it stopped at or OK); info (row :data:`R_INFO` of ``FL``)
    column 2 is 1 when a packet re-anchored.
    """
    G = FL[R_G]
    info = FL[R_INFO]
    I = A[R_SPEC]  # noqa: E741
    F = FL[R_FSPEC]
    acc3 = A[R_ACC3]
    lost_at = S_LOST if kind == KIND_LAYOUT else PS_LOST
    restart_gap = G[G_RESTART_GAP]
    tol = G[G_TOL]
    dt = G[G_DT]
    sa, su, sf = A[R_SCRATCH], U[R_SCRATCH], FL[R_SCRATCH]  # views made once, not per packet
    k = 0
    info[2] = 0
    for i in range(start, stop):
        pos = offs[i]
        ln = lens[i]
        r = rx[i]
        has_last = G[G_HAS_LAST] > 0.5
        gap = r - G[G_LAST_RX] if has_last else math.nan
        status = OK
        info[4] = 0
        phase = 0  # 0: current base, 1: restart (fresh), 2: candidate base, 3: new candidate
        src = R_CUR
        n = 0
        while True:
            _copy_row(A, FL, U, R_SCRATCH, src)
            n = _inner(kind, buf, pos, ln, I, F, sa, su, sf, out_t, out_a, out_p, k, info, acc3)
            if phase == 0:
                if n == ERR_BACK:
                    if not has_last:
                        return i - start, k, ERR_BACK
                    if gap >= restart_gap:  # a reconnection: the sensor restarted
                        phase, src = 1, R_FRESH
                        continue
                    status = ERR_BACK
                elif n < 0:
                    return i - start, k, n
                elif n > 0 and has_last:
                    t_first = out_t[k] + G[G_OFFSET]
                    t_end = out_t[k + n - 1] + G[G_OFFSET]
                    ahead = G[G_FLOOR] - (r - t_end)
                    advance = t_first - G[G_LAST_T]
                    if advance <= 0.0:
                        status = ERR_BACK
                        info[4] = 1
                        info[3] = t_first - G[G_LAST_T]
                    elif ahead > tol and advance > G[G_RATIO] * gap + tol:
                        status = ERR_AHEAD
                        info[3] = ahead
                if status == OK:
                    G[G_HAS_PENDING] = 0
                    break
                if G[G_HAS_PENDING] > 0.5:
                    phase, src = 2, R_PEND
                else:
                    phase, src = 3, R_FRESH
                continue
            if phase == 1:
                if n == 0:
                    return i - start, k, ERR_BACK
                if n < 0:
                    return i - start, k, n
                G[G_LOST_BEFORE] += A[R_CUR, lost_at]
                G[G_RESTARTS] += 1
                G[G_HAS_PENDING] = 0
                G[G_OFFSET] = G[G_LAST_T] + max(gap, dt) - out_t[k]
                break
            if phase == 2:
                if n > 0 and (r - out_t[k + n - 1]) >= G[G_PENDING_OFF] - tol:
                    G[G_LOST_BEFORE] += A[R_CUR, lost_at]
                    G[G_HAS_PENDING] = 0
                    G[G_JUMPS] += 1
                    info[2] = 1
                    G[G_OFFSET] = G[G_LAST_T] + max(gap, dt) - out_t[k]
                    break
                phase, src = 3, R_FRESH
                continue
            # phase 3: this packet becomes the candidate base, and is refused
            if n > 0:
                _copy_row(A, FL, U, R_PEND, R_SCRATCH)
                G[G_HAS_PENDING] = 1
                G[G_PENDING_OFF] = r - out_t[k + n - 1]
            else:
                G[G_HAS_PENDING] = 0
            return i - start, k, status
        # accepted: the attempt's state is the current base now
        _copy_row(A, FL, U, R_CUR, R_SCRATCH)
        G[G_LAST_RX] = r
        if n > 0:
            off = G[G_OFFSET]
            if off != 0.0:
                for j in range(k, k + n):
                    out_t[j] = out_t[j] + off
            G[G_LAST_T] = out_t[k + n - 1]
            G[G_HAS_LAST] = 1
            lat = r - out_t[k + n - 1]
            if math.isnan(G[G_FLOOR]) or lat < G[G_FLOOR]:
                G[G_FLOOR] = lat
        k += n
    return stop - start, k, OK
