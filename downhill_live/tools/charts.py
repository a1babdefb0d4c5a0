"""The report's charts, drawn with matplotlib (Agg for PNG, its SVG backend for the page).

Every chart has time (``m:ss``) on the x axis, descents shaded, cue guide lines, and on request
a *cue lane* above the plot: one numbered label per cue (the number of the cue table's row),
placed by :func:`place_markers` so that no two labels overlap, with the cue text as a hover
title in the SVG. Charts come in two layouts (:data:`WIDE`, or :data:`CARD` for a descent's chart,
on screens; :data:`NARROW` on phones): the same font size in both, so text stays readable when the page scales the SVG to the
viewport's width.

matplotlib is imported by this module only, and this module only by the report (a
half-second import that the other commands need not pay).
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

from downhill_live.tools.descents import mmss

DESCENT_FILL = "#f6d7b8"
FONT_PT = 9.0
LABEL_PT = 8.0  # the cue lane's labels
_RC: Any = {  # Any: matplotlib types rc keys as one Literal of ~400 names
    "svg.fonttype": "none",  # real <text>: selectable, sharp, small files
    "svg.hashsalt": "downhill-live",  # the same page for the same run (ids are prefixed per chart)
    "font.size": FONT_PT,
    "font.family": ["DejaVu Sans", "sans-serif"],
    "axes.titlesize": FONT_PT,
    "axes.labelsize": FONT_PT,
    "xtick.labelsize": FONT_PT - 0.5,
    "ytick.labelsize": FONT_PT - 0.5,
    "legend.fontsize": FONT_PT - 0.5,
    "axes.edgecolor": "#999999",
    "axes.linewidth": 0.8,
    "xtick.color": "#555555",
    "ytick.color": "#555555",
    "path.simplify": True,
    "path.simplify_threshold": 0.5,  # of a pixel: long runs stay small files
}
_TIME_STEPS_S = (5, 10, 15, 20, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600, 7200)


@dataclass(frozen=True)
class Layout:
    """Figure geometry in inches; ``max_time_ticks`` labelled ticks at most."""

    name: str
    width_in: float
    left_in: float
    right_in: float
    plot_h_in: float
    max_time_ticks: int


WIDE = Layout("wide", 10.0, 0.62, 0.15, 1.55, 12)
NARROW = Layout("narrow", 3.9, 0.5, 0.12, 1.5, 5)
CARD = Layout("wide", 6.0, 0.55, 0.12, 1.3, 8)  # a descent's chart on a wide screen
_BOTTOM_IN, _TOP_IN, _GAP_IN = 0.38, 0.08, 0.06
_LANE_IN = LABEL_PT / 72 * 1.75  # one row of labels


@dataclass(frozen=True)
class Ref:
    """A horizontal reference line (flat baseline, rule threshold)."""

    value: float
    label: str
    colour: str
    style: str = "--"


@dataclass(frozen=True)
class Panel:
    """One plot of a chart: ``y`` over ``t`` (NaN: unknown), its unit and reference lines."""

    t: np.ndarray
    y: np.ndarray
    label: str
    unit: str
    colour: str
    refs: tuple[Ref, ...] = ()
    zero_line: bool = False


@dataclass(frozen=True)
class CueMark:
    """A cue as the charts show it: its number (from 1), time, colour and hover text."""

    number: int
    t_s: float
    colour: str
    text: str


@dataclass(frozen=True)
class Marker:
    """One label in the cue lane: at the time of its first cue, in row ``lane`` (0 nearest
    the plot), for one cue or for a cluster of consecutive cues (``len(cues) > 1``)."""

    t_s: float
    lane: int
    cues: tuple[CueMark, ...]

    @property
    def label(self) -> str:
        return str(self.cues[0].number) + ("+" if len(self.cues) > 1 else "")


def place_markers(
    marks: Sequence[CueMark], min_gap_s: float, max_lanes: int = 3
) -> list[Marker]:
    """Lay out cue labels so that none overlap: labels in one lane are at least ``min_gap_s``
    apart (the width of the widest label, in time units). Each cue goes, in time order, to the
    lowest lane where it fits; when none of the ``max_lanes`` has room it joins the label placed
    last (which holds the cues just before it): that label then reads ``"N+"``.

    >>> m = [CueMark(i + 1, t, "#000", "") for i, t in enumerate([85.7, 86.5, 140.5, 141.2])]
    >>> [(k.t_s, k.lane, k.label) for k in place_markers(m, 3.0)]
    [(85.7, 0, '1'), (86.5, 1, '2'), (140.5, 0, '3'), (141.2, 1, '4')]
    >>> [(k.lane, k.label) for k in place_markers(m, 3.0, max_lanes=1)]
    [(0, '1+'), (0, '3+')]
    """
    out: list[Marker] = []
    last_in_lane: list[float] = []
    for mark in sorted(marks, key=lambda m: m.t_s):
        lane = next(
            (i for i, t in enumerate(last_in_lane) if mark.t_s - t >= min_gap_s),
            len(last_in_lane) if len(last_in_lane) < max_lanes else None,
        )
        if lane is None:  # no room: cluster with the label placed last
            prev = out[-1]
            out[-1] = Marker(prev.t_s, prev.lane, (*prev.cues, mark))
            continue
        if lane == len(last_in_lane):
            last_in_lane.append(mark.t_s)
        last_in_lane[lane] = mark.t_s
        out.append(Marker(mark.t_s, lane, (mark,)))
    return out


def time_ticks(t0: float, t1: float, max_ticks: int) -> float:
    """The tick interval (s) of a time axis from ``t0`` to ``t1``: a round ``m:ss`` step.

    >>> time_ticks(0, 244, 12), time_ticks(0, 244, 4), time_ticks(0, 3600, 4)
    (30, 120, 900)
    """
    span = max(t1 - t0, 1e-9)
    return next((s for s in _TIME_STEPS_S if span / s <= max_ticks), _TIME_STEPS_S[-1])


@dataclass
class Chart:
    """A drawn chart: the figure, and the hover titles and classes of its SVG groups."""

    fig: Figure
    titles: dict[str, str] = field(default_factory=dict)  # gid -> hover title
    classes: dict[str, str] = field(default_factory=dict)  # gid -> class
    markers: list[Marker] = field(default_factory=list)


def _label_width_in(n_cues: int) -> float:
    """Width of the widest lane label ("NN+") with its box and a little air (inches)."""
    chars = len(str(max(n_cues, 1))) + 1
    return (chars * 0.62 * LABEL_PT + 2 * 0.35 * LABEL_PT + 3.0) / 72.0


def draw(
    panels: Sequence[Panel],
    *,
    t_range: tuple[float, float],
    layout: Layout,
    descents: Sequence[tuple[float, float, str]] = (),
    cues: Sequence[CueMark] = (),
    lane: bool = False,
    title: str | None = None,
    legend: Sequence[tuple[str, str, str]] = (),
) -> Chart:
    """Draw ``panels`` stacked over one time axis.

    ``descents`` are ``(t_start_s, t_end_s, hover title)`` (shaded), ``cues`` get a guide line
    per label of :func:`place_markers` (and the labels too with ``lane``); ``title`` and ``legend`` (``(kind, label, colour)`` with
    kind ``"patch"`` or a line style) are drawn inside the figure, for the standalone PNGs.
    """
    t0, t1 = t_range
    if not t1 > t0:
        t1 = t0 + 1.0
    label_w = _label_width_in(len(cues))
    # room for half a label right of the plot (a cue at the very end); the same whether or not
    # this chart has the lane, so that charts drawn with the same cues line up
    right_in = max(layout.right_in, label_w / 2 + 0.02) if cues else layout.right_in
    plot_w = layout.width_in - layout.left_in - right_in
    gap_s = label_w * (t1 - t0) / plot_w
    guides = place_markers(cues, gap_s) if cues else []
    markers = guides if lane else []
    lanes = 1 + max((m.lane for m in markers), default=-1)
    lane_h = lanes * _LANE_IN + (0.04 if lanes else 0.0)
    title_h = 0.28 if title else 0.0
    legend_rows = math.ceil(len(legend) / (5 if layout is WIDE else 2)) if legend else 0
    legend_h = 0.2 * legend_rows + (0.08 if legend_rows else 0.0)
    n = len(panels)
    height = (
        _TOP_IN + title_h + legend_h + lane_h + n * layout.plot_h_in + (n - 1) * _GAP_IN
        + _BOTTOM_IN
    )  # fmt: skip
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(layout.width_in, height))
        FigureCanvasAgg(fig)
        chart = Chart(fig, markers=markers)

        def rect(top_in: float, h_in: float) -> tuple[float, float, float, float]:
            return (
                layout.left_in / layout.width_in,
                1.0 - (top_in + h_in) / height,
                plot_w / layout.width_in,
                h_in / height,
            )

        top = _TOP_IN + title_h + legend_h
        if title:
            fig.text(
                layout.left_in / layout.width_in, 1 - _TOP_IN / height, title,
                ha="left", va="top", fontsize=FONT_PT + 1.5, fontweight="bold",
            )  # fmt: skip
        if legend:
            handles = [
                Patch(facecolor=c, label=lab)
                if kind == "patch"
                else Line2D([], [], color=c, linestyle=cast(Any, kind), label=lab)
                for kind, lab, c in legend
            ]
            fig.legend(
                handles=handles, loc="upper left", frameon=False,
                ncol=5 if layout is WIDE else 2,
                bbox_to_anchor=(layout.left_in / layout.width_in, 1 - (_TOP_IN + title_h) / height),
                borderaxespad=0.0, handlelength=1.6, columnspacing=1.2,
            )  # fmt: skip
        lane_ax = None
        if lanes:
            lane_ax = fig.add_axes(rect(top, lane_h))
            lane_ax.set_axis_off()
            lane_ax.set_ylim(0, lane_h / _LANE_IN)
            top += lane_h
        step = time_ticks(t0, t1, layout.max_time_ticks)
        axes: list[Axes] = []
        for i, p in enumerate(panels):
            ax = fig.add_axes(rect(top, layout.plot_h_in), sharex=axes[0] if axes else None)
            top += layout.plot_h_in + _GAP_IN
            axes.append(ax)
            ax.set_facecolor("white")
            ax.grid(axis="y", color="#e6e6e6", linewidth=0.7)
            ax.set_axisbelow(True)
            for k, (d0, d1, text) in enumerate(descents):
                span = ax.axvspan(d0, d1, color=DESCENT_FILL, linewidth=0, zorder=0)
                gid = f"descent-{k + 1}-{i}"
                span.set_gid(gid)
                chart.titles[gid] = text
                chart.classes[gid] = "descent"
            if p.zero_line:
                ax.axhline(0.0, color="#bbbbbb", linewidth=0.8, zorder=1)
            for r in p.refs:
                ax.axhline(r.value, color=r.colour, linestyle=r.style, linewidth=1.0, zorder=2)
            ok = ~np.isnan(p.y)
            (line,) = ax.plot(p.t, p.y, color=p.colour, linewidth=1.2, zorder=3)
            line.set_gid(f"series-{i}")
            chart.classes[f"series-{i}"] = "series"
            chart.titles[f"series-{i}"] = p.label
            if guides:  # one line per label (a cluster's at its first cue), one artist
                ax.vlines(
                    [m.t_s for m in guides], 0, 1, transform=ax.get_xaxis_transform(),
                    colors=[m.cues[0].colour for m in guides], linewidths=0.8,
                    linestyles=(0, (3, 2)), zorder=4,
                )  # fmt: skip
            values = [*p.y[ok].tolist(), *(r.value for r in p.refs)]
            if values:
                lo, hi = min(values), max(values)
                pad = 0.08 * (hi - lo) if hi > lo else 1.0
                ax.set_ylim(lo - pad, hi + pad)
            else:
                ax.set_ylim(0, 1)
                ax.text(
                    0.5, 0.5, f"no {p.label.lower()} data", transform=ax.transAxes,
                    ha="center", va="center", color="#777777",
                )  # fmt: skip
            ax.yaxis.set_major_locator(MaxNLocator(4))
            ax.set_ylabel(p.unit, labelpad=2)
            ax.tick_params(length=3, pad=2)
            if i < n - 1:
                ax.tick_params(labelbottom=False)
        ax0 = axes[0]
        ax0.set_xlim(t0, t1)
        ax0.xaxis.set_major_locator(MultipleLocator(step))
        ax0.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: mmss(v)))
        if lane_ax is not None:
            lane_ax.set_xlim(t0, t1)
            for k, m in enumerate(markers):
                text = "\n".join(c.text for c in m.cues)
                lab = lane_ax.text(
                    m.t_s, m.lane + 0.5, m.label, ha="center", va="center",
                    fontsize=LABEL_PT, color="white", fontweight="bold",
                    bbox={"boxstyle": "round,pad=0.3", "facecolor": m.cues[0].colour,
                          "edgecolor": "none"},
                )  # fmt: skip
                gid = f"cue-{k + 1}"
                lab.set_gid(gid)
                chart.titles[gid] = text
                chart.classes[gid] = "cue-marker"
    return chart


def svg(chart: Chart, prefix: str, *, css_class: str = "chart", label: str = "") -> str:
    """The chart as an inline ``<svg>`` element (no XML prolog): scaled by CSS to its box's
    width (width and height attributes dropped, viewBox kept), every id prefixed with
    ``prefix`` (several charts share one page), hover titles and classes on its groups."""
    buf = io.StringIO()
    with mpl.rc_context(_RC):
        chart.fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'\s(width|height)="[\d.]+pt"', "", text, count=2)
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}\1"', text)

    def group(m: re.Match[str]) -> str:
        gid = m.group(1)
        cls = chart.classes.get(gid)
        title = chart.titles.get(gid)
        attrs = f' class="{cls}"' if cls else ""
        inner = f"<title>{html.escape(title)}</title>" if title else ""
        return f'<g id="{prefix}{gid}"{attrs}>{inner}'

    text = re.sub(rf'<g id="{re.escape(prefix)}([^"]+)">', group, text)
    return text.replace(
        "<svg ",
        f'<svg class="{css_class}" role="img" aria-label="{html.escape(label)}" ',
        1,
    )


def png(chart: Chart, dpi: int = 150) -> bytes:
    """The chart as PNG bytes (Agg)."""
    buf = io.BytesIO()
    with mpl.rc_context(_RC):
        chart.fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
