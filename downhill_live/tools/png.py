"""PNG figures with numpy and zlib only: a PNG writer and a tiny raster chart renderer.

The writer makes 8-bit RGB PNGs (IHDR, optional tEXt, one zlib-compressed IDAT, IEND, each with
its CRC). The renderer draws what the report charts need on a :class:`Canvas`: filled
rectangles, 1 px grid lines, an anti-aliased polyline of any width (drawn on a 3x supersampled
mask, then averaged down), dashed vertical markers, and text in a built-in 5x7 bitmap font.
:func:`render_chart` puts these together into one time-series chart.

Pixel convention: pixel ``(col, row)`` covers ``[col, col + 1) x [row, row + 1)`` in canvas
coordinates, so a value mapped to coordinate ``x`` lands in column ``floor(x)``.
"""

from __future__ import annotations

import functools
import math
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

Colour = str | tuple[int, int, int]
"""A colour: ``"#rrggbb"`` or an ``(r, g, b)`` tuple of 0..255."""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# ------------------------------------------------------------------------------ PNG writer


def rgb(colour: Colour) -> tuple[int, int, int]:
    """``(r, g, b)`` of ``"#rrggbb"`` (or of an ``(r, g, b)`` tuple, checked)."""
    if isinstance(colour, str):
        s = colour.lstrip("#")
        if len(s) != 6:
            raise ValueError(f"colour {colour!r}: expected #rrggbb")
        return (int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16))
    r, g, b = (int(c) for c in colour)
    if not all(0 <= c <= 255 for c in (r, g, b)):
        raise ValueError(f"colour {colour!r}: components must be 0..255")
    return (r, g, b)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _filtered_rows(img: np.ndarray) -> bytes:
    """Scanlines with a filter byte each: None (0) or Sub (1), whichever looks smaller.

    The choice is the usual heuristic (least sum of absolute values as signed bytes).
    """
    h, w, _ = img.shape
    raw = img.reshape(h, w * 3)
    sub = raw.copy()
    sub[:, 3:] = raw[:, 3:] - raw[:, :-3]  # uint8 arithmetic wraps modulo 256, as PNG wants
    cost_none = np.abs(raw.view(np.int8).astype(np.int32)).sum(axis=1)
    cost_sub = np.abs(sub.view(np.int8).astype(np.int32)).sum(axis=1)
    use_sub = cost_sub < cost_none
    rows = np.where(use_sub[:, None], sub, raw)
    out = np.empty((h, 1 + w * 3), dtype=np.uint8)
    out[:, 0] = use_sub.astype(np.uint8)
    out[:, 1:] = rows
    return out.tobytes()


def encode_png(img: np.ndarray, *, text: Mapping[str, str] | None = None, level: int = 9) -> bytes:
    """Encode an image as an 8-bit RGB PNG.

    Parameters
    ----------
    img
        ``(height, width, 3)`` array of ``uint8`` (other integer types are accepted if every
        value is 0..255).
    text
        Optional ``tEXt`` entries (keyword -> value, Latin-1), e.g. ``{"Title": "Cadence"}``.
    level
        zlib compression level for the IDAT data.

    Returns
    -------
    bytes
        The PNG file's content.
    """
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"expected a (height, width, 3) image, got shape {a.shape}")
    if a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() > 255:
            raise ValueError("image values must be integers 0..255")
        a = a.astype(np.uint8)
    h, w, _ = a.shape
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8 bit, truecolour, no interlace
    parts = [PNG_SIGNATURE, _chunk(b"IHDR", ihdr)]
    for key, value in (text or {}).items():
        if not 1 <= len(key) <= 79:
            raise ValueError(f"tEXt keyword {key!r}: must be 1..79 characters")
        parts.append(_chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1")))
    parts.append(_chunk(b"IDAT", zlib.compress(_filtered_rows(np.ascontiguousarray(a)), level)))
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def write_png(path: str | Path, img: np.ndarray, *, text: Mapping[str, str] | None = None) -> None:
    """Write ``img`` (see :func:`encode_png`) to ``path``."""
    Path(path).write_bytes(encode_png(img, text=text))


# ------------------------------------------------------------------------------ 5x7 font

FONT_W, FONT_H = 5, 7
"""Glyph cell size in pixels; characters advance by ``FONT_W + 1``."""

# One entry per glyph: the character, then 7 rows as two hex digits each (bit 4 = leftmost
# column). Unknown characters draw as an empty box.
_FONT = (
    "00e11131519110e 1040c040404040e 20e11010204081f 31e01010e01011e 402060a121f0202 "
    "51f101e0101110e 60608101e11110e 71f010204080808 80e11110e11110e 90e11110f01020c "
    "A0e11111f111111 B1e11111e11111e C0e11101010110e D1c12111111121c E1f10101e10101f "
    "F1f10101e101010 G0e11101711110f H1111111f111111 I0e04040404040e J0702020202120c "
    "K11121418141211 L1010101010101f M111b1515111111 N11111915131111 O0e11111111110e "
    "P1e11111e101010 Q0e11111115120d R1e11111e141211 S0f10100e01011e T1f040404040404 "
    "U1111111111110e V11111111110a04 W1111111515150a X11110a040a1111 Y11110a04040404 "
    "Z1f01020408101f a00000e010f110f b1010161911111e c00000e1010110e d01010d1311110f "
    "e00000e111f100e f0609081c080808 g00000f110f010e h10101619111111 i04000c0404040e "
    "j0200060202120c k10101214181412 l0c04040404040e m00001a15151111 n00001619111111 "
    "o00000e1111110e p00001e111e1010 q00000d130f0101 r00001619101010 s00000e100e011e "
    "t08081c08080906 u0000111111130d v00001111110a04 w0000111115150a x0000110a040a11 "
    "y000011110f010e z00001f0204081f .00000000000c0c ,000000000c0408 -0000001f000000 "
    "+0004041f040400 %18190204081303 (02040808080402 )08040202020408 :000c0c000c0c00 "
    "/00010204081000 _0000000000001f '04040800000000 =00001f001f0000"
)


@functools.cache
def _glyphs() -> dict[str, np.ndarray]:
    bits = 1 << np.arange(FONT_W - 1, -1, -1)
    out = {" ": np.zeros((FONT_H, FONT_W), dtype=bool)}
    for entry in _FONT.split():
        rows = np.array([int(entry[i : i + 2], 16) for i in range(1, len(entry), 2)])
        out[entry[0]] = (rows[:, None] & bits[None, :]) != 0
    box = np.zeros((FONT_H, FONT_W), dtype=bool)
    box[[0, -1], :] = box[:, [0, -1]] = True
    out["\0"] = box
    return out


def text_width(s: str, scale: int = 1) -> int:
    """Width in pixels of ``s`` drawn by :meth:`Canvas.text` at ``scale``."""
    return max(len(s) * (FONT_W + 1) - 1, 0) * scale


def text_mask(s: str, scale: int = 1) -> np.ndarray:
    """``s`` in the 5x7 font as a boolean mask of ``(7 * scale, text_width(s, scale))``."""
    glyphs = _glyphs()
    mask = np.zeros((FONT_H, max(text_width(s), 0)), dtype=bool)
    for i, ch in enumerate(s):
        x = i * (FONT_W + 1)
        mask[:, x : x + FONT_W] = glyphs.get(ch, glyphs["\0"])
    if scale > 1:
        mask = mask.repeat(scale, axis=0).repeat(scale, axis=1)
    return mask


# ------------------------------------------------------------------------------ canvas


class Canvas:
    """An RGB raster to draw on (``img`` is ``(height, width, 3)`` ``uint8``).

    All drawing is clipped to the canvas.
    """

    def __init__(self, width: int, height: int, background: Colour = "#ffffff") -> None:
        self.width, self.height = int(width), int(height)
        self.img = np.empty((self.height, self.width, 3), dtype=np.uint8)
        self.img[...] = rgb(background)

    def fill_rect(self, x0: int, y0: int, x1: int, y1: int, colour: Colour) -> None:
        """Fill columns ``x0..x1-1`` of rows ``y0..y1-1``."""
        x0, x1 = max(int(x0), 0), min(int(x1), self.width)
        y0, y1 = max(int(y0), 0), min(int(y1), self.height)
        if x0 < x1 and y0 < y1:
            self.img[y0:y1, x0:x1] = rgb(colour)

    def rect_outline(self, x0: int, y0: int, x1: int, y1: int, colour: Colour) -> None:
        """A 1 px outline just inside the rectangle ``[x0, x1) x [y0, y1)``."""
        self.fill_rect(x0, y0, x1, y0 + 1, colour)
        self.fill_rect(x0, y1 - 1, x1, y1, colour)
        self.fill_rect(x0, y0, x0 + 1, y1, colour)
        self.fill_rect(x1 - 1, y0, x1, y1, colour)

    def blend(self, alpha: np.ndarray, x: int, y: int, colour: Colour) -> None:
        """Paint ``colour`` with per-pixel coverage ``alpha`` (0..1 or bool) placed at ``(x, y)``."""
        h, w = alpha.shape
        cx0, cy0 = max(x, 0), max(y, 0)
        cx1, cy1 = min(x + w, self.width), min(y + h, self.height)
        if cx0 >= cx1 or cy0 >= cy1:
            return
        a = alpha[cy0 - y : cy1 - y, cx0 - x : cx1 - x].astype(np.float32)[..., None]
        region = self.img[cy0:cy1, cx0:cx1].astype(np.float32)
        col = np.array(rgb(colour), dtype=np.float32)
        self.img[cy0:cy1, cx0:cx1] = np.rint(region * (1.0 - a) + col * a).astype(np.uint8)

    def text(
        self,
        s: str,
        x: float,
        y: float,
        colour: Colour = "#333333",
        *,
        scale: int = 1,
        anchor: str = "left",
        vertical: bool = False,
    ) -> None:
        """Draw ``s`` with its top at ``y``; ``anchor`` (left, middle, right) refers to ``x``.

        With ``vertical`` the text reads bottom to top, centred on ``(x, y)``.
        """
        mask = text_mask(s, scale)
        if vertical:
            mask = np.rot90(mask)
            h, w = mask.shape
            self.blend(mask, round(x - w / 2), round(y - h / 2), colour)
            return
        w = mask.shape[1]
        shift = {"left": 0.0, "middle": w / 2, "right": float(w)}[anchor]
        self.blend(mask, round(x - shift), round(y), colour)

    def dashed_vline(
        self,
        x: float,
        y0: int,
        y1: int,
        colour: Colour,
        *,
        width: int = 2,
        dash: tuple[int, int] = (5, 3),
    ) -> None:
        """A vertical dashed line ``width`` px wide centred on ``x`` over rows ``y0..y1-1``."""
        c0 = math.floor(x - width / 2 + 0.5)
        on, off = dash
        for top in range(int(y0), int(y1), on + off):
            self.fill_rect(c0, top, c0 + width, min(top + on, int(y1)), colour)

    def polyline(
        self,
        x: ArrayLike,
        y: ArrayLike,
        colour: Colour,
        *,
        width: float = 2.0,
        supersample: int = 3,
        clip: tuple[int, int, int, int] | None = None,
    ) -> None:
        """An anti-aliased polyline through ``(x[i], y[i])`` in canvas coordinates.

        NaN in ``x`` or ``y`` breaks the line; an isolated point becomes a dot of the line's
        width. The line is drawn on a ``supersample`` times finer mask (a sample at least every
        fine pixel along each segment, dilated by a disc), which is then averaged to coverage.
        ``clip`` (``x0, y0, x1, y1``) limits drawing to columns ``x0..x1-1``, rows ``y0..y1-1``.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            return
        S = int(supersample)
        r = width * S / 2.0
        ri = math.ceil(r)
        # the fine grid covers the points' bounding box plus the pen, clipped to the canvas
        cx0, cy0, cx1, cy1 = clip if clip is not None else (0, 0, self.width, self.height)
        bx0 = max(math.floor(float(np.min(x[ok])) - width), cx0, 0)
        by0 = max(math.floor(float(np.min(y[ok])) - width), cy0, 0)
        bx1 = min(math.ceil(float(np.max(x[ok])) + width) + 1, cx1, self.width)
        by1 = min(math.ceil(float(np.max(y[ok])) + width) + 1, cy1, self.height)
        if bx0 >= bx1 or by0 >= by1:
            return
        fh, fw = (by1 - by0) * S, (bx1 - bx0) * S
        # fine pixel k spans [k, k + 1); path samples are rounded to fine-pixel corners and the
        # pen covers the pixels whose centre is within r of the corner, 2r across
        fx = (x - bx0) * S
        fy = (y - by0) * S
        # segments between consecutive known points; isolated points are zero-length segments
        seg = ok[:-1] & ok[1:]
        a = np.flatnonzero(seg)
        lone = np.flatnonzero(ok & ~np.r_[False, seg] & ~np.r_[seg, False])
        x0 = np.r_[fx[a], fx[lone]]
        y0 = np.r_[fy[a], fy[lone]]
        x1 = np.r_[fx[a + 1], fx[lone]]
        y1 = np.r_[fy[a + 1], fy[lone]]
        n = np.ceil(np.maximum(np.abs(x1 - x0), np.abs(y1 - y0))).astype(np.int64) + 1
        idx = np.repeat(np.arange(len(n)), n)
        k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        f = k / np.maximum(n[idx] - 1, 1)
        px = np.rint(x0[idx] + f * (x1[idx] - x0[idx])).astype(np.int64)
        py = np.rint(y0[idx] + f * (y1[idx] - y0[idx])).astype(np.int64)
        keep = (px >= -ri) & (px < fw + ri) & (py >= -ri) & (py < fh + ri)
        # thin path on a grid padded by the pen radius, then dilated by the disc
        thin = np.zeros((fh + 2 * ri, fw + 2 * ri), dtype=bool)
        thin[py[keep] + ri, px[keep] + ri] = True
        fine = np.zeros((fh, fw), dtype=bool)
        for dy in range(-ri, ri):
            for dx in range(-ri, ri):
                if (dx + 0.5) ** 2 + (dy + 0.5) ** 2 <= r * r:
                    fine |= thin[ri - dy : ri - dy + fh, ri - dx : ri - dx + fw]
        cover = fine.reshape(by1 - by0, S, bx1 - bx0, S).mean(axis=(1, 3))
        self.blend(cover, bx0, by0, colour)


# ------------------------------------------------------------------------------ charts

MARGINS = (64, 16, 28, 32)
"""Chart margins in pixels: left, right, top (title and legend), bottom (time ticks)."""
GRID = "#e3e3e3"
FRAME = "#999999"
TEXT = "#333333"
AXIS_TEXT = "#555555"


@dataclass(frozen=True)
class Axes:
    """Where the plot area of a chart is and how data map onto it."""

    left: int
    top: int
    width: int
    height: int
    x_range: tuple[float, float]
    y_range: tuple[float, float]

    def x_px(self, v: float | np.ndarray) -> float | np.ndarray:
        """Canvas x coordinate of data x ``v`` (column ``floor`` of it)."""
        x0, x1 = self.x_range
        if x1 <= x0:
            return self.left + 0.0 * v
        return self.left + (v - x0) / (x1 - x0) * self.width

    def y_px(self, v: float | np.ndarray) -> float | np.ndarray:
        """Canvas y coordinate of data y ``v`` (row ``floor`` of it)."""
        lo, hi = self.y_range
        return self.top + (hi - v) / (hi - lo) * self.height


def plot_axes(
    width: int,
    height: int,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    margins: tuple[int, int, int, int] = MARGINS,
) -> Axes:
    """The plot area of a ``width`` x ``height`` chart drawn by :func:`render_chart`."""
    ml, mr, mt, mb = margins
    return Axes(ml, mt, width - ml - mr, height - mt - mb, x_range, y_range)


def render_chart(
    *,
    x: ArrayLike,
    y: ArrayLike,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    colour: Colour,
    width: int = 960,
    height: int = 214,
    x_ticks: Sequence[tuple[float, str]] = (),
    y_ticks: Sequence[tuple[float, str]] = (),
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    shaded: Sequence[tuple[float, float]] = (),
    shade_colour: Colour = "#f6d7b8",
    markers: Sequence[tuple[float, Colour]] = (),
    legend: Sequence[tuple[str, Colour]] = (),
    empty_text: str = "",
    line_width: float = 2.0,
) -> np.ndarray:
    """Draw one time-series chart and return it as a ``(height, width, 3)`` ``uint8`` image.

    Parameters
    ----------
    x, y
        The series (NaN in ``y`` breaks the line).
    x_range, y_range
        Data ranges mapped onto the plot area (see :func:`plot_axes`).
    colour
        Line colour.
    width, height
        Image size in pixels.
    x_ticks, y_ticks
        ``(value, label)`` pairs: x ticks get a tick mark and a label below the plot, y ticks a
        light grid line across it and a label to its left.
    title, x_label, y_label
        Title (top left), x axis label (bottom right) and y axis label (vertical, left).
    shaded
        ``(x_start, x_end)`` ranges filled with ``shade_colour`` (e.g. descents).
    markers
        ``(x, colour)``: dashed vertical lines across the plot (e.g. cues), drawn last.
    legend
        ``(label, colour)`` swatches, right-aligned above the plot.
    empty_text
        Written in the middle of the plot when ``y`` has no finite value.
    line_width
        Width of the series line in pixels.

    Returns
    -------
    numpy.ndarray
        The image, ready for :func:`encode_png`.
    """
    ax = plot_axes(width, height, x_range, y_range)
    cv = Canvas(width, height)
    L, T, R, B = ax.left, ax.top, ax.left + ax.width, ax.top + ax.height
    for s0, s1 in shaded:
        c0 = round(float(ax.x_px(s0)))
        c1 = max(round(float(ax.x_px(s1))), c0 + 1)
        cv.fill_rect(max(c0, L), T, min(c1, R), B, shade_colour)
    for v, label in y_ticks:
        row = math.floor(float(ax.y_px(v)))
        if T <= row < B:
            cv.fill_rect(L + 1, row, R - 1, row + 1, GRID)
        cv.text(label, L - 6, row - FONT_H // 2, TEXT, anchor="right")
    for v, label in x_ticks:
        tx = math.floor(float(ax.x_px(v)))
        cv.fill_rect(tx, B, tx + 1, B + 4, "#666666")
        cv.text(label, tx + 0.5, B + 7, TEXT, anchor="middle")
    cv.rect_outline(L - 1, T - 1, R + 1, B + 1, FRAME)
    if title:
        cv.text(title, L, (T - 2 * FONT_H) // 2 - 1, TEXT, scale=2)
    if x_label:
        cv.text(x_label, R, height - FONT_H - 3, AXIS_TEXT, anchor="right")
    if y_label:
        cv.text(y_label, 14, (T + B) / 2, AXIS_TEXT, vertical=True)
    if legend:
        lx = R
        ly = (T - FONT_H) // 2
        for label, col in reversed(legend):
            lx -= text_width(label)
            cv.text(label, lx, ly, TEXT)
            lx -= 14
            cv.fill_rect(lx, ly, lx + 10, ly + FONT_H, col)
            lx -= 14
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if np.isfinite(ys).any():
        cv.polyline(ax.x_px(xs), ax.y_px(ys), colour, width=line_width, clip=(L, T, R, B))
    elif empty_text:
        cv.text(empty_text, (L + R) / 2, (T + B - FONT_H) / 2, AXIS_TEXT, anchor="middle")
    for mx, col in markers:
        cv.dashed_vline(float(ax.x_px(mx)), T, B, col)
    return cv.img
