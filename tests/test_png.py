"""PNG writer and raster charts (downhill_live.tools.png), and the report's chart PNGs.

Every image is decoded by the small independent reader below (chunks, CRCs, zlib, filter types
0 and 1 only), never by the writer's own code.
"""

from __future__ import annotations

import base64
import json
import math
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from downhill_live.cli.main import main as cli_main
from downhill_live.tools import png

from .conftest import RECORDINGS

SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------ reader
def read_png(data: bytes) -> tuple[np.ndarray, list[tuple[bytes, bytes]], list[int]]:
    """Decode an 8-bit RGB, non-interlaced PNG: (image, chunks, filter type of each row)."""
    assert data[:8] == SIGNATURE
    chunks: list[tuple[bytes, bytes]] = []
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"bad CRC in {kind!r} chunk")
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data)
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    w, h, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, ctype, comp, filt, interlace) == (8, 2, 0, 0, 0)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = 1 + 3 * w
    assert len(raw) == h * stride
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(h, stride)
    img = np.empty((h, w, 3), dtype=np.uint8)
    for i, row in enumerate(rows):
        px = row[1:].reshape(w, 3)
        if row[0] == 0:
            img[i] = px
        elif row[0] == 1:  # Sub: add the pixel to the left, modulo 256
            img[i] = (np.cumsum(px.astype(np.int64), axis=0) % 256).astype(np.uint8)
        else:
            raise ValueError(f"row {i}: filter type {row[0]} not expected")
    return img, chunks, [int(r) for r in rows[:, 0]]


def rgb(hexcol: str) -> np.ndarray:
    return np.array([int(hexcol[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int64)


def is_colour(img: np.ndarray, hexcol: str) -> np.ndarray:
    return np.all(img.astype(np.int64) == rgb(hexcol), axis=-1)


# ------------------------------------------------------------------------------ writer
def test_png_round_trip_chunks_crcs_and_both_filter_types() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    img[5] = 0  # a blank row: stored unfiltered
    img[6] = (np.arange(53)[:, None] * 4 + np.array([0, 1, 2])).astype(np.uint8)  # a ramp: Sub
    data = png.encode_png(img, text={"Title": "round trip"})
    back, chunks, filters = read_png(data)
    assert np.array_equal(back, img)
    assert [k for k, _ in chunks] == [b"IHDR", b"tEXt", b"IDAT", b"IEND"]
    assert chunks[1][1] == b"Title\0round trip"
    assert filters[5] == 0 and filters[6] == 1 and set(filters) <= {0, 1}
    # the reader does check CRCs
    broken = bytearray(data)
    broken[40] ^= 0xFF
    with pytest.raises((ValueError, zlib.error)):
        read_png(bytes(broken))
    # 1x1, and non-uint8 integers in range
    one, _, _ = read_png(png.encode_png(np.array([[[1, 2, 3]]], dtype=np.int64)))
    assert one.tolist() == [[[1, 2, 3]]]


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8), np.full((2, 2, 3), 300)],
)
def test_png_rejects_what_it_cannot_write(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        png.encode_png(bad)


def test_write_png_and_text_mask(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "x.png"
    png.write_png(path, np.full((3, 4, 3), 200, np.uint8))
    img, _, _ = read_png(path.read_bytes())
    assert img.shape == (3, 4, 3) and (img == 200).all()
    m = png.text_mask("1-2.5%")
    assert m.shape == (png.FONT_H, png.text_width("1-2.5%")) == (7, 35)
    assert m[:, 0:5].sum() > 5 and not m[:, 5].any()  # a glyph, then a blank column
    assert png.text_mask("Ag", scale=2).shape == (14, 22)


# ------------------------------------------------------------------------------ charts
LINE, SHADE, MARK1, MARK2 = "#1f5fa8", "#f6d7b8", "#ca0020", "#008837"
X_RANGE, Y_RANGE = (0.0, 100.0), (-10.0, 110.0)


def _ramp_chart(**kw):  # type: ignore[no-untyped-def]
    x = np.linspace(0.0, 100.0, 101)
    y = x.copy()  # y = x: a straight line from bottom left to top right
    args = dict(
        x=x,
        y=y,
        x_range=X_RANGE,
        y_range=Y_RANGE,
        colour=LINE,
        shaded=[(20.0, 40.0)],
        shade_colour=SHADE,
        markers=[(70.0, MARK1), (85.0, MARK2)],
        title="Ramp (u)",
        x_label="time (s)",
        y_label="u",
    )
    args.update(kw)
    img, _, _ = read_png(png.encode_png(png.render_chart(**args)))
    return img, png.plot_axes(img.shape[1], img.shape[0], X_RANGE, Y_RANGE)


def test_chart_size_shading_line_and_markers() -> None:
    img, ax = _ramp_chart(width=600, height=180)
    assert img.shape == (180, 600, 3)
    L, T = ax.left, ax.top
    R, B = L + ax.width, T + ax.height

    # shading: the descent's columns have the shading colour above the line, the rest is white
    c20, c40 = math.ceil(ax.x_px(20.0)), math.floor(ax.x_px(40.0))
    above = img[T + 1 : math.floor(ax.y_px(40.0)) - 4, c20 + 1 : c40 - 1]
    assert is_colour(above, SHADE).all()
    assert is_colour(img[T + 1 : T + 20, L + 2 : c20 - 2], "#ffffff").all()
    assert is_colour(img[T + 1 : T + 20, c40 + 2 : c40 + 20], "#ffffff").all()

    # the line: in every column away from the shading and the markers, the pixels tinted
    # towards the line colour are centred on y(x), cover about 2 px, and one is the pure colour
    bg = np.array([255, 255, 255])
    col = rgb(LINE)
    checked = 0
    for c in range(L + 4, R - 4):
        xd = X_RANGE[0] + (c + 0.5 - L) / ax.width * (X_RANGE[1] - X_RANGE[0])
        if 18 < xd < 42 or 66 < xd < 89:
            continue
        column = img[T:B, c].astype(np.int64)
        alpha = ((bg - column) / (bg - col)).mean(axis=1).clip(0.0, 1.0)
        alpha[alpha < 0.02] = 0.0
        rows = np.arange(T, B) + 0.5
        centre = float((alpha * rows).sum() / alpha.sum())
        expected = float(ax.y_px(xd))
        slope = abs(ax.height / (Y_RANGE[1] - Y_RANGE[0]) / (ax.width / 100.0))
        assert centre == pytest.approx(expected, abs=0.6), c
        assert alpha.sum() == pytest.approx(2.0 * math.hypot(1.0, slope), abs=0.4), c
        pure = np.flatnonzero(is_colour(img[T:B, c], LINE)) + T + 0.5
        assert len(pure) >= 1 and np.all(np.abs(pure - expected) <= 1.5), c
        checked += 1
    assert checked > 250

    # the markers: two dashed columns each, at their x, in their colours
    for mx, mcol in ((70.0, MARK1), (85.0, MARK2)):
        hits = is_colour(img[T:B], mcol).sum(axis=0)
        cols = np.flatnonzero(hits > 0.4 * ax.height)
        assert len(cols) == 2 and cols[1] == cols[0] + 1
        assert abs(cols[1] - ax.x_px(mx)) <= 1.0  # the boundary between the two columns
        frac = hits[cols[0]] / ax.height
        assert 0.5 < frac < 0.75  # dashed 5 on, 3 off

    # the frame, the title and the tick-free axes: frame rows/columns are grey
    assert is_colour(img[T - 1, L:R], png.FRAME).mean() > 0.9
    assert is_colour(img[T:B, L - 1], png.FRAME).mean() > 0.9  # the line starts on it
    assert (img[: T - 2, L : L + 100] < 128).any()  # dark title text above the plot


def test_chart_grid_ticks_gaps_and_empty_series() -> None:
    y = np.linspace(0.0, 100.0, 101)
    y[45:56] = np.nan  # a gap in the data: no line there
    img, ax = _ramp_chart(
        y=y,
        shaded=[],
        markers=[],
        y_ticks=[(0.0, "0"), (50.0, "50"), (100.0, "100")],
        x_ticks=[(0.0, "0"), (50.0, "50"), (100.0, "100")],
    )
    assert img.shape == (214, 960, 3)
    T, B, L = ax.top, ax.top + ax.height, ax.left
    for v in (0.0, 50.0, 100.0):
        row = math.floor(ax.y_px(v))
        assert is_colour(img[row, L + 1 : L + ax.width - 1], png.GRID).mean() > 0.9
        # its label, right-aligned left of the plot
        assert (img[row - 4 : row + 5, L - 30 : L - 5] < 128).any()
        col = math.floor(ax.x_px(v))
        assert (img[B + 6 : B + 16, col - 10 : col + 11] < 128).any()  # x tick label
    g0, g1 = math.ceil(ax.x_px(44.0)) + 3, math.floor(ax.x_px(56.0)) - 3
    assert not is_colour(img[T:B, g0:g1], LINE).any()
    assert is_colour(img[T:B, g0 - 20 : g0 - 10], LINE).any()

    # an isolated known value is a dot of the line's width (area pi * 1 px^2), where it belongs
    y = np.full(101, np.nan)
    y[30] = 30.0
    y[80:] = np.linspace(80.0, 250.0, 21)  # leaves the plot at the top: clipped there
    img, _ = _ramp_chart(y=y, shaded=[], markers=[])
    col = rgb(LINE)
    alpha = ((255 - img.astype(np.int64)) / (255 - col)).mean(axis=2).clip(0.0, 1.0)
    cx, cy = ax.x_px(30.0), ax.y_px(30.0)
    near = alpha[math.floor(cy) - 3 : math.floor(cy) + 4, math.floor(cx) - 3 : math.floor(cx) + 4]
    assert near.sum() == pytest.approx(math.pi, abs=0.5)
    assert is_colour(img[T - 2 : T + 3, math.floor(ax.x_px(95.0))], png.FRAME).any()
    assert not is_colour(img[: T - 1], LINE).any()

    empty, _ = _ramp_chart(y=np.full(101, np.nan), empty_text="no ramp data", markers=[])
    assert not is_colour(empty, LINE).any()
    mid = empty[T + ax.height // 2 - 8 : T + ax.height // 2 + 8, L + ax.width // 2 - 40 :]
    assert (mid[:, :80] < 160).any()  # the message in the middle


# ------------------------------------------------------------------------------ report
@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("report")
    rc = cli_main(["report", str(RECORDINGS / "descent_foot_200hz.dlr"), "-o", str(out / "r.html")])
    assert rc == 0
    return out


def test_report_writes_three_chart_pngs_with_descents_and_cues(report_dir, capsys) -> None:  # type: ignore[no-untyped-def]
    from downhill_live.tools.report import chart_data, png_paths, report_inputs

    assert png_paths("x/report.html") == {
        "cadence_spm": Path("x/report-cadence.png"),
        "peak_g": Path("x/report-peak.png"),
        "grade_pct": Path("x/report-grade.png"),
    }
    names = sorted(p.name for p in report_dir.iterdir())
    assert names == ["r-cadence.png", "r-grade.png", "r-peak.png", "r.html"]
    inputs = report_inputs(str(RECORDINGS / "descent_foot_200hz.dlr"))
    charts = {cd.attr: cd for cd in chart_data(inputs["steps"], inputs["cues"])}
    assert len(charts["cadence_spm"].descents) == 1 and len(charts["cadence_spm"].cues) >= 2
    for attr, path in png_paths(report_dir / "r.html").items():
        img, chunks, _ = read_png(path.read_bytes())
        cd = charts[attr]
        assert img.shape == (214, 960, 3)
        assert any(k == b"tEXt" and body.startswith(b"Title\0") for k, body in chunks)
        ax = png.plot_axes(960, 214, cd.t_range, cd.y_range)
        (d0, d1) = cd.descents[0]
        cue_cols = [ax.x_px(c.t_s) for c, _ in cd.cues]
        # shading just inside the top of the plot, across the descent (away from cue marks)
        cols = [
            c
            for c in range(math.ceil(ax.x_px(d0)) + 1, math.floor(ax.x_px(d1)) - 1)
            if min(abs(c - x) for x in cue_cols) > 3
        ]
        top = img[ax.top + 1, cols]
        assert is_colour(top, "#f6d7b8").mean() > 0.9
        assert (
            is_colour(img[ax.top + 1, ax.left + 1 : math.floor(ax.x_px(d0)) - 1], "#ffffff").mean()
            > 0.9
        )
        # each cue: a dashed mark in its rule's colour at its time
        for c, colour in cd.cues:
            x = ax.x_px(c.t_s)
            band = is_colour(
                img[ax.top : ax.top + ax.height, math.floor(x) - 2 : math.floor(x) + 3], colour
            )
            assert band.sum(axis=0).max() > 0.4 * ax.height, (attr, c.rule, c.t_s)
        # the series line is there
        assert is_colour(img, cd.colour).sum() > 500


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PROBE_PAGE = """<!DOCTYPE html><html><body>
<img id="file" src="{src}"><img id="inline" src="data:image/png;base64,{b64}">
<script>
window.addEventListener('load', () => {{
  const out = {{}};
  const f = document.getElementById('file');
  out.file = [f.naturalWidth, f.naturalHeight];
  const im = document.getElementById('inline');
  const cv = document.createElement('canvas');
  cv.width = im.naturalWidth; cv.height = im.naturalHeight;
  const g = cv.getContext('2d');
  g.drawImage(im, 0, 0);
  out.pixels = {points}.map(([x, y]) => Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3)));
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}});
</script></body></html>
"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_chromium_loads_the_report_png(report_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = report_dir / "r-cadence.png"
    data = path.read_bytes()
    ours, _, _ = read_png(data)
    rng = np.random.default_rng(1)
    points = [[int(rng.integers(0, 960)), int(rng.integers(0, 214))] for _ in range(20)]
    inked = np.argwhere(~is_colour(ours, "#ffffff"))  # (row, col) of line, shading, marks, text
    points += [[int(c), int(r)] for r, c in inked[rng.choice(len(inked), 40, replace=False)]]
    page = report_dir / "probe.html"
    page.write_text(
        PROBE_PAGE.format(src=path.name, b64=base64.b64encode(data).decode(), points=points)
    )
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    ).stdout
    start = dom.index('<pre id="probe">') + len('<pre id="probe">')
    probe = json.loads(dom[start : dom.index("</pre>", start)].replace("&quot;", '"'))
    assert probe["file"] == [960, 214]
    assert probe["pixels"] == [ours[y, x].tolist() for x, y in points]
