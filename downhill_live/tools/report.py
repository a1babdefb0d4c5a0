"""``downhill-live report``: one self-contained HTML page about a recorded run.

The page holds three charts drawn as inline SVG (no scripts, no external files): cadence, peak
impact and grade over time, with descents shaded and cues marked, then a table per segment
(alternating flat and descent stretches, as the core's descent state saw them) and the list of
cues. It replays the recording through the normal pipeline (no speech) to get steps and cues.
The same charts are also written as PNG files next to the page (``report-cadence.png``,
``report-peak.png``, ``report-grade.png``; drawn by :mod:`downhill_live.tools.png`).
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.session import session_from_recording
from downhill_live.tools import png
from downhill_live.types import Cue, Step

CHART_W, CHART_H = 960, 190
_M_LEFT, _M_RIGHT, _M_TOP, _M_BOTTOM = 64, 16, 14, 30
DESCENT_FILL = "#f6d7b8"
_PALETTE = ("#7b3294", "#008837", "#e66101", "#0571b0", "#ca0020", "#404040")
SERIES: tuple[tuple[str, str, str, str], ...] = (
    # attribute, title, unit, colour
    ("cadence_spm", "Cadence", "spm", "#1f5fa8"),
    ("peak_g", "Peak impact", "g", "#c0392b"),
    ("grade_pct", "Grade", "%", "#2e7d32"),
)
PNG_NAMES = {"cadence_spm": "cadence", "peak_g": "peak", "grade_pct": "grade"}
"""File name suffix of each chart's PNG (see :func:`png_paths`)."""


@dataclass(frozen=True)
class Segment:
    """A stretch of consecutive steps that are all on a descent, or all not."""

    kind: str  # "flat" | "descent"
    t_start_s: float
    t_end_s: float
    steps: tuple[Step, ...]
    cues: tuple[Cue, ...]

    @property
    def duration_s(self) -> float:
        return self.t_end_s - self.t_start_s

    def median(self, attr: str) -> float:
        v = np.array([getattr(s, attr) for s in self.steps], dtype=np.float64)
        v = v[~np.isnan(v)]
        return float(np.median(v)) if len(v) else math.nan


def segments(steps: Sequence[Step], cues: Sequence[Cue]) -> list[Segment]:
    """Split steps into flat/descent segments; a segment runs from its first step to the next
    segment's first step (the last one to its last step). Cues go to the segment they fall in."""
    out: list[Segment] = []
    if not steps:
        return out
    starts = [0] + [
        i for i in range(1, len(steps)) if steps[i].on_descent != steps[i - 1].on_descent
    ]
    bounds = [*starts, len(steps)]
    for a, b in itertools.pairwise(bounds):
        t0 = steps[a].t_s
        t1 = steps[b].t_s if b < len(steps) else steps[-1].t_s
        last = b == len(steps)
        inside = tuple(c for c in cues if t0 <= c.t_s < t1 or (last and c.t_s >= t0))
        out.append(
            Segment("descent" if steps[a].on_descent else "flat", t0, t1, tuple(steps[a:b]), inside)
        )
    return out


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt_tick(v: float) -> str:
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:g}"


@dataclass(frozen=True)
class ChartData:
    """What one over-time chart shows; the SVG (page) and PNG renderers both draw from it."""

    attr: str
    title: str
    unit: str
    colour: str
    t_s: np.ndarray  # step times
    y: np.ndarray  # the step attribute, NaN where unknown
    t_range: tuple[float, float]
    y_range: tuple[float, float]  # padded data range
    y_ticks: tuple[float, ...]
    t_div: float  # time ticks are in seconds / t_div ...
    t_unit: str  # ... named t_unit ("s" or "min")
    t_ticks: tuple[float, ...]  # in t_unit
    descents: tuple[tuple[float, float], ...]  # (t_start_s, t_end_s)
    cues: tuple[tuple[Cue, str], ...]  # (cue, colour of its rule)

    @property
    def ok(self) -> np.ndarray:
        """Where ``y`` is known."""
        return ~np.isnan(self.y)


def rule_colours(cues: Sequence[Cue]) -> dict[str, str]:
    """A colour per cue rule (sorted by name, from the palette)."""
    rules = sorted({c.rule for c in cues})
    return {r: _PALETTE[i % len(_PALETTE)] for i, r in enumerate(rules)}


def chart_data(
    steps: Sequence[Step],
    cues: Sequence[Cue],
    *,
    segs: Sequence[Segment] | None = None,
    colours: dict[str, str] | None = None,
) -> list[ChartData]:
    """The series of the three over-time charts (cadence, peak impact, grade), in order."""
    segs = segments(steps, cues) if segs is None else segs
    colours = rule_colours(cues) if colours is None else colours
    t_range = (steps[0].t_s, steps[-1].t_s) if len(steps) > 1 else (0.0, 1.0)
    t0, t1 = t_range
    t_div, t_unit = (60.0, "min") if t1 - t0 > 900.0 else (1.0, "s")
    t = np.array([s.t_s for s in steps], dtype=np.float64)
    descents = tuple((s.t_start_s, s.t_end_s) for s in segs if s.kind == "descent")
    marks = tuple((c, colours[c.rule]) for c in cues)
    out = []
    for attr, title, unit, colour in SERIES:
        y = np.array([getattr(s, attr) for s in steps], dtype=np.float64)
        ok = ~np.isnan(y)
        if ok.any():
            lo, hi = float(np.min(y[ok])), float(np.max(y[ok]))
            pad = 0.08 * (hi - lo) if hi > lo else 1.0
            lo, hi = lo - pad, hi + pad
        else:
            lo, hi = 0.0, 1.0
        if attr == "grade_pct":
            lo, hi = min(lo, -1.0), max(hi, 1.0)
        out.append(
            ChartData(
                attr,
                title,
                unit,
                colour,
                t,
                y,
                t_range,
                (lo, hi),
                tuple(_nice_ticks(lo, hi, 4)),
                t_div,
                t_unit,
                tuple(_nice_ticks(t0 / t_div, t1 / t_div, 8)),
                descents,
                marks,
            )
        )
    return out


def _chart(cd: ChartData) -> str:
    """One chart as inline SVG."""
    attr, title, unit, colour = cd.attr, cd.title, cd.unit, cd.colour
    t, y, ok = cd.t_s, cd.y, cd.ok
    pw = CHART_W - _M_LEFT - _M_RIGHT
    ph = CHART_H - _M_TOP - _M_BOTTOM
    t0, t1 = cd.t_range
    lo, hi = cd.y_range

    def x_of(v: float) -> float:
        return _M_LEFT + (v - t0) / (t1 - t0) * pw if t1 > t0 else _M_LEFT

    def y_of(v: float) -> float:
        return _M_TOP + (hi - v) / (hi - lo) * ph

    parts = [
        f'<svg id="chart-{attr}" class="chart" xmlns="http://www.w3.org/2000/svg" '
        f'width="{CHART_W}" height="{CHART_H}" viewBox="0 0 {CHART_W} {CHART_H}" '
        f'role="img" aria-label="{html.escape(title)} over time" data-points="{int(ok.sum())}">',
        f"<title>{html.escape(title)} ({unit}) over time</title>",
        f'<rect x="{_M_LEFT}" y="{_M_TOP}" width="{pw}" height="{ph}" fill="#ffffff" '
        'stroke="#999" stroke-width="1"/>',
    ]
    for d0, d1 in cd.descents:
        x0, x1 = x_of(d0), x_of(d1)
        parts.append(
            f'<rect class="descent" x="{x0:.1f}" y="{_M_TOP}" width="{max(x1 - x0, 1):.1f}" '
            f'height="{ph}" fill="{DESCENT_FILL}"><title>descent {d0:.0f}-'
            f"{d1:.0f} s</title></rect>"
        )
    for v in cd.y_ticks:
        yy = y_of(v)
        parts.append(
            f'<line x1="{_M_LEFT}" x2="{_M_LEFT + pw}" y1="{yy:.1f}" y2="{yy:.1f}" '
            'stroke="#e3e3e3" stroke-width="1"/>'
            f'<text x="{_M_LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end" class="tick">'
            f"{_fmt_tick(v)}</text>"
        )
    for v in cd.t_ticks:
        xx = x_of(v * cd.t_div)
        parts.append(
            f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{_M_TOP + ph}" y2="{_M_TOP + ph + 4}" '
            'stroke="#666"/>'
            f'<text x="{xx:.1f}" y="{_M_TOP + ph + 16}" text-anchor="middle" class="tick">'
            f"{_fmt_tick(v)}</text>"
        )
    parts.append(
        f'<text x="{_M_LEFT + pw}" y="{CHART_H - 2}" text-anchor="end" class="axis">'
        f"time ({cd.t_unit})</text>"
        f'<text x="14" y="{_M_TOP + ph / 2:.1f}" text-anchor="middle" class="axis" '
        f'transform="rotate(-90 14 {_M_TOP + ph / 2:.1f})">{html.escape(unit)}</text>'
    )
    # the series: one polyline per run of known values
    runs: list[list[str]] = []
    prev_ok = False
    for ti, yi, oki in zip(t, y, ok, strict=True):
        if oki:
            if not prev_ok:
                runs.append([])
            runs[-1].append(f"{x_of(ti):.1f},{y_of(yi):.1f}")
        prev_ok = bool(oki)
    for r in runs:
        if len(r) == 1:
            x_, y_ = r[0].split(",")
            parts.append(f'<circle class="series" cx="{x_}" cy="{y_}" r="1.5" fill="{colour}"/>')
        else:
            parts.append(
                f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="1.4" '
                f'points="{" ".join(r)}"/>'
            )
    for c, col in cd.cues:
        xx = x_of(c.t_s)
        parts.append(
            f'<line class="cue" data-rule="{html.escape(c.rule)}" x1="{xx:.1f}" x2="{xx:.1f}" '
            f'y1="{_M_TOP}" y2="{_M_TOP + ph}" stroke="{col}" stroke-width="2" '
            f'stroke-dasharray="5 3"><title>{c.t_s:.1f} s {html.escape(c.rule)}: '
            f"&quot;{html.escape(c.phrase)}&quot;</title></line>"
        )
    if not ok.any():
        parts.append(
            f'<text x="{_M_LEFT + pw / 2}" y="{_M_TOP + ph / 2}" text-anchor="middle" '
            f'class="axis">no {html.escape(title.lower())} data</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def chart_png(cd: ChartData) -> bytes:
    """One chart as a PNG image (same series, shading and cue marks as the page's SVG)."""
    img = png.render_chart(
        x=cd.t_s,
        y=cd.y,
        x_range=cd.t_range,
        y_range=cd.y_range,
        colour=cd.colour,
        x_ticks=[(v * cd.t_div, _fmt_tick(v)) for v in cd.t_ticks],
        y_ticks=[(v, _fmt_tick(v)) for v in cd.y_ticks],
        title=f"{cd.title} ({cd.unit})",
        x_label=f"time ({cd.t_unit})",
        y_label=cd.unit,
        shaded=cd.descents,
        shade_colour=DESCENT_FILL,
        markers=[(c.t_s, col) for c, col in cd.cues],
        legend=[
            ("descent", DESCENT_FILL),
            *{f"cue {c.rule}": col for c, col in sorted(cd.cues, key=lambda m: m[0].rule)}.items(),
        ],
        empty_text=f"no {cd.title.lower()} data",
    )
    return png.encode_png(img, text={"Title": f"{cd.title} ({cd.unit}) over time"})


def png_paths(html_out: str | Path) -> dict[str, Path]:
    """Where the chart PNGs of a report page go: ``report.html`` -> ``report-cadence.png`` ..."""
    p = Path(html_out)
    return {attr: p.with_name(f"{p.stem}-{short}.png") for attr, short in PNG_NAMES.items()}


def _num(v: float | None, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.{digits}f}"


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #222;
       max-width: 1000px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 24px 0 8px; }
p.meta { color: #555; margin: 0 0 12px; }
svg.chart { display: block; margin: 0 0 6px; }
svg text { font-size: 11px; fill: #333; } svg text.axis { fill: #555; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
tr.descent td { background: #fbeadb; }
tfoot th, tfoot td { border-top: 2px solid #999; font-weight: 600; }
.legend span { display: inline-block; margin-right: 16px; font-size: 13px; }
.swatch { display: inline-block; width: 14px; height: 10px; margin-right: 4px; vertical-align: middle; }
"""


def render_report(
    *,
    title: str,
    meta: dict[str, Any],
    steps: Sequence[Step],
    cues: Sequence[Cue],
    summary: dict[str, Any],
) -> str:
    """The report page as one HTML string (inline CSS and SVG only)."""
    segs = segments(steps, cues)
    colours = rule_colours(cues)
    rules = sorted(colours)
    esc = html.escape
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        '<p class="meta">'
        + " · ".join(f"{esc(k)}: {esc(str(v))}" for k, v in meta.items())
        + "</p>",
    ]
    cad_f, cad_d = summary.get("cadence_flat_spm"), summary.get("cadence_descent_spm")
    body.append(
        '<table id="summary"><tbody>'
        f"<tr><th>steps</th><td>{summary.get('steps', 0)}</td></tr>"
        f"<tr><th>duration</th><td>{_num(summary.get('duration_s'))} s</td></tr>"
        f"<tr><th>time on descents</th><td>{_num(summary.get('descent_time_s'))} s</td></tr>"
        f"<tr><th>cadence flat / descent</th><td>{_num(cad_f)} / {_num(cad_d)} spm</td></tr>"
        f"<tr><th>peak impact flat / descent (median)</th><td>{_num(summary.get('peak_flat_g'), 2)}"
        f" / {_num(summary.get('peak_descent_g'), 2)} g</td></tr>"
        f"<tr><th>cues</th><td>{len(cues)}</td></tr>"
        "</tbody></table>"
    )
    legend = [
        f'<span><i class="swatch" style="background:{DESCENT_FILL}"></i>descent</span>',
        *(
            f'<span><i class="swatch" style="background:{colours[r]}"></i>cue {esc(r)}</span>'
            for r in rules
        ),
    ]
    body.append("<h2>Over time</h2>")
    body.append(f'<div class="legend">{"".join(legend)}</div>')
    for cd in chart_data(steps, cues, segs=segs, colours=colours):
        body.append(
            f"<h3 style='font-size:14px;margin:10px 0 2px'>{esc(cd.title)} ({esc(cd.unit)})</h3>"
        )
        body.append(_chart(cd))
    body.append("<h2>Segments</h2>")
    body.append(
        '<table id="segments"><thead><tr><th>segment</th><th>from (s)</th><th>to (s)</th>'
        "<th>duration (s)</th><th>steps</th><th>cadence (spm)</th><th>peak impact (g)</th>"
        "<th>contact time (ms)</th><th>grade (%)</th><th>cues</th></tr></thead><tbody>"
    )
    for s in segs:
        body.append(
            f'<tr class="{s.kind}"><td>{s.kind}</td><td>{s.t_start_s:.1f}</td>'
            f"<td>{s.t_end_s:.1f}</td><td>{s.duration_s:.1f}</td><td>{len(s.steps)}</td>"
            f"<td>{_num(s.median('cadence_spm'))}</td><td>{_num(s.median('peak_g'), 2)}</td>"
            f"<td>{_num(s.median('gct_ms'), 0)}</td><td>{_num(s.median('grade_pct'))}</td>"
            f"<td>{len(s.cues)}</td></tr>"
        )
    body.append("</tbody><tfoot>")
    for kind in ("flat", "descent"):
        group = [s for s in segs if s.kind == kind]
        if not group:
            continue
        allk = Segment(
            kind,
            group[0].t_start_s,
            group[-1].t_end_s,
            tuple(st for g in group for st in g.steps),
            tuple(c for g in group for c in g.cues),
        )
        body.append(
            f'<tr class="total-{kind}"><th>all {kind}</th><td></td><td></td>'
            f"<td>{sum(g.duration_s for g in group):.1f}</td><td>{len(allk.steps)}</td>"
            f"<td>{_num(allk.median('cadence_spm'))}</td><td>{_num(allk.median('peak_g'), 2)}</td>"
            f"<td>{_num(allk.median('gct_ms'), 0)}</td><td>{_num(allk.median('grade_pct'))}</td>"
            f"<td>{len(allk.cues)}</td></tr>"
        )
    body.append("</tfoot></table>")
    body.append(
        "<p class='meta'>Values are medians over the segment's steps; n/a where the core does "
        "not measure it (contact time needs a trunk sensor, grade a barometer or a foot/shank "
        "sensor).</p>"
    )
    body.append("<h2>Cues</h2>")
    if cues:
        body.append(
            '<table id="cues"><thead><tr><th>time (s)</th><th class="text">rule</th>'
            '<th class="text">phrase</th><th class="text">metric</th><th>value</th></tr>'
            "</thead><tbody>"
        )
        for c in cues:
            body.append(
                f"<tr><td>{c.t_s:.2f}</td><td class='text'>{esc(c.rule)}</td>"
                f"<td class='text'>{esc(c.phrase)}</td><td class='text'>{esc(c.metric)}</td>"
                f"<td>{c.value:.2f}</td></tr>"
            )
        body.append("</tbody></table>")
    else:
        body.append('<p id="cues">No cues.</p>')
    body.append("</body></html>")
    return "\n".join(body) + "\n"


def report_inputs(
    recording: str, *, profile: str | None = None, placement: str | None = None
) -> dict[str, Any]:
    """Replay ``recording`` (no speech): the keyword arguments of :func:`render_report`."""

    cue_profile = load_cue_profile(profile)
    session, rec = session_from_recording(recording, cue_profile, placement=placement)
    session.process_many(rec.packets)
    device = rec.header.get("device") or {}
    meta = {
        "device": f"{device.get('name', '?')} ({session.firmware.name})",
        "placement": session.placement,
        "start": rec.header.get("start_time") or "unknown",
        "profile": Path(cue_profile.path).name,
    }
    return {
        "title": f"downhill-live report: {Path(recording).name}",
        "meta": meta,
        "steps": session.steps,
        "cues": session.cues,
        "summary": session.summary(),
    }


def build_report(
    recording: str, *, profile: str | None = None, placement: str | None = None
) -> str:
    """Replay ``recording`` (no speech) and render its report page."""
    return render_report(**report_inputs(recording, profile=profile, placement=placement))






