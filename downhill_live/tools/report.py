"""``downhill-live report``: one self-contained HTML page about a recorded run.

The page replays the recording through the normal pipeline (no speech) and shows:

* a summary (duration and time on descents as ``m:ss``, distance and pace when the set-up
  measures them (:mod:`downhill_live.odometer`: a foot pod, an attached watch file), the flat
  baseline, cadence and impact flat against descent, cues said);
* cadence, peak impact and grade over time (matplotlib, inline SVG): descents shaded, the flat
  baseline and the cue rules' thresholds drawn, every cue marked with a numbered label that
  never overlaps another (:func:`downhill_live.tools.charts.place_markers`; hover for its text);
* a table of the descents (:func:`downhill_live.tools.descents.descent_stats`: duration, grade,
  cadence and impact against flat, the share of steps beyond the rules' thresholds, cues) and a
  small chart per descent;
* the cues, numbered as on the charts.

It is one HTML file (inline CSS and SVG, no scripts, nothing fetched) and reads on a phone:
charts are drawn in a wide and a narrow layout and the page shows the one that fits (narrow up
to 960 px), scaled to the viewport; tables turn into one labelled block per row there too. The three
over-time charts are also written as PNG files next to the page
(:func:`downhill_live.tools.report_files.png_paths`).

Drawing takes a few seconds: a progress bar (tqdm) counts the charts on standard error when it
is a terminal, and nothing is shown otherwise.
"""

from __future__ import annotations

import dataclasses
import html
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from downhill_live.config.cue_profile import CueProfile, load_cue_profile
from downhill_live.odometer import fmt_pace
from downhill_live.session import describe_skip
from downhill_live.source.arrays import replay_recording
from downhill_live.tools import charts
from downhill_live.tools.charts import Chart, CueMark, Layout, Panel, Ref
from downhill_live.tools.descents import (
    DescentStats,
    descent_stats,
    flat_baseline,
    mmss,
    rule_threshold,
)
from downhill_live.tools.report_files import PNG_NAMES
from downhill_live.types import Cue, Step

PALETTE = ("#7b3294", "#008837", "#e66101", "#0571b0", "#ca0020", "#404040")
DESCENT_FILL = "#f6d7b8"
BASELINE_COLOUR = "#555555"
THRESHOLD_COLOUR = "#b2182b"
#: the over-time charts: (key in :data:`PNG_NAMES`, Step attribute, title, unit, colour)
SERIES: tuple[tuple[str, str, str, str, str], ...] = (
    ("cadence", "cadence_spm", "Cadence", "spm", "#1f5fa8"),
    ("impact", "peak_g", "Peak impact", "g", "#c0392b"),
    ("grade", "grade_pct", "Grade", "%", "#2e7d32"),
)
assert tuple(s[0] for s in SERIES) == PNG_NAMES  # the files written are the files named


def rule_colours(cues: Sequence[Cue]) -> dict[str, str]:
    """A colour per cue rule (sorted by name, from the palette)."""
    rules = sorted({c.rule for c in cues})
    return {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(rules)}


def _num(v: float | None, digits: int = 1, unit: str = "", signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    s = f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"
    return f"{s}{unit}"


def _share(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.0f} %"


#: distance covered (m) between two sensor times, None when not known
DistanceFn = Callable[[float, float], float | None]


def _distance_row(summary: dict[str, Any]) -> str | None:
    """The summary's distance, average pace and source (None when nothing measured them)."""
    d = summary.get("distance_m")
    if d is None:
        return None
    pace = fmt_pace(summary.get("pace_s_per_km"))
    return f"{d / 1000:.2f} km, average pace {pace} /km ({summary.get('distance_source')})"


def _progress(total: int, what: str) -> tqdm:
    """A progress bar over ``total`` charts on standard error, shown on a terminal only."""
    return tqdm(total=total, desc=what, unit=" charts", leave=False, disable=None, file=sys.stderr)


def _cue_text(number: int, c: Cue, descent: int | None) -> str:
    where = f"descent {descent}" if descent else "flat"
    return (
        f"#{number} {mmss(c.t_s, 1)} ({where}) {c.rule}: \u201c{c.phrase}\u201d "
        f"({c.metric} {c.value:.2f})"
    )


def _descent_title(d: DescentStats) -> str:
    return (
        f"Descent {d.number}: {d.start}\u2013{d.end} ({d.duration}), grade "
        f"{_num(d.grade_mean_pct, 1, ' %')}, cadence {_num(d.cadence_median_spm, 1, ' spm')} "
        f"({_num(d.cadence_vs_flat_pct, 1, ' %', True)} vs flat), impact "
        f"{_num(d.peak_median_g, 2, ' g')} ({_num(d.peak_vs_flat_pct, 1, ' %', True)} vs flat)"
    )


class _Run:
    """Everything the page and the PNGs draw from, computed once."""

    def __init__(
        self,
        steps: Sequence[Step],
        cues: Sequence[Cue],
        profile: CueProfile | None,
        distance: DistanceFn | None = None,
    ) -> None:
        self.steps, self.cues, self.profile = steps, cues, profile
        self.t = np.array([s.t_s for s in steps], dtype=np.float64)
        self.t_range = (float(self.t[0]), float(self.t[-1])) if len(steps) > 1 else (0.0, 1.0)
        baseline_s = profile.settings.baseline_s if profile is not None else 45.0
        self.flat = flat_baseline(steps, baseline_s)
        self.descents = descent_stats(steps, cues, profile=profile, baseline=self.flat)
        if distance is not None:  # measured by the set-up (foot pod, attached watch file)
            self.descents = [
                dataclasses.replace(d, distance_m=distance(d.t_start_s, d.t_end_s))
                for d in self.descents
            ]
        self.colours = rule_colours(cues)
        self.cue_descent: list[int | None] = [
            next((d.number for d in self.descents if any(c is x for x in d.cues)), None)
            for c in cues
        ]
        self.marks = [
            CueMark(i + 1, c.t_s, self.colours[c.rule], _cue_text(i + 1, c, self.cue_descent[i]))
            for i, c in enumerate(cues)
        ]
        self.thresholds = {
            "cadence_spm": rule_threshold(profile, "cadence_spm", "below", self.flat.cadence_spm),
            "peak_g": rule_threshold(profile, "peak_g", "above", self.flat.peak_g),
            "grade_pct": profile.descent.threshold_pct if profile is not None else None,
        }
        self.baselines = {
            "cadence_spm": self.flat.cadence_spm,
            "peak_g": self.flat.peak_g,
            "grade_pct": None,
        }

    def refs(self, attr: str, unit: str) -> tuple[Ref, ...]:
        out = []
        b, thr = self.baselines[attr], self.thresholds[attr]
        if b is not None:
            out.append(Ref(b, f"flat baseline {b:.1f} {unit}", BASELINE_COLOUR, "--"))
        if thr is not None:
            what = "descent from" if attr == "grade_pct" else "cue threshold"
            out.append(Ref(thr, f"{what} {thr:.1f} {unit}", THRESHOLD_COLOUR, ":"))
        return tuple(out)

    def panel(
        self, attr: str, label: str, unit: str, colour: str, idx: slice = slice(None)
    ) -> Panel:
        y = np.array([getattr(s, attr) for s in self.steps[idx]], dtype=np.float64)
        return Panel(
            self.t[idx], y, f"{label} ({unit})", unit, colour, self.refs(attr, unit),
            zero_line=attr == "grade_pct",
        )  # fmt: skip

    def spans(self) -> list[tuple[float, float, str]]:
        return [(d.t_start_s, d.t_end_s, _descent_title(d)) for d in self.descents]

    def legend(self) -> list[tuple[str, str, str]]:
        out = [("patch", "descent", DESCENT_FILL)]
        out += [("--", "flat baseline", BASELINE_COLOUR), (":", "threshold", THRESHOLD_COLOUR)]
        out += [("--", f"cue {r}", c) for r, c in self.colours.items()]
        return out

    def over_time(self, key: str, layout: Layout, *, standalone: bool = False) -> Chart:
        """One over-time chart; the cadence chart (the first) carries the cue labels."""
        _, attr, label, unit, colour = next(s for s in SERIES if s[0] == key)
        return charts.draw(
            [self.panel(attr, label, unit, colour)],
            t_range=self.t_range,
            layout=layout,
            descents=self.spans(),
            cues=self.marks,
            lane=key == PNG_NAMES[0] or standalone,
            title=f"{label} ({unit}) over time" if standalone else None,
            legend=self.legend() if standalone else (),
        )

    def descent_chart(self, d: DescentStats, layout: Layout) -> Chart:
        """Cadence and impact over one descent (with some flat running either side)."""
        pad = max(0.1 * d.duration_s, 5.0)
        lo, hi = d.t_start_s - pad, d.t_end_s + pad
        idx = slice(int(np.searchsorted(self.t, lo)), int(np.searchsorted(self.t, hi, "right")))
        marks = [m for m in self.marks if lo <= m.t_s <= hi]
        return charts.draw(
            [
                self.panel("cadence_spm", "Cadence", "spm", SERIES[0][4], idx),
                self.panel("peak_g", "Peak impact", "g", SERIES[1][4], idx),
            ],
            t_range=(max(lo, self.t_range[0]), min(hi, self.t_range[1])),
            layout=layout,
            descents=[(d.t_start_s, d.t_end_s, _descent_title(d))],
            cues=marks,
            lane=True,
        )


def chart_pngs(
    steps: Sequence[Step], cues: Sequence[Cue], profile: CueProfile | None = None
) -> dict[str, bytes]:
    """The over-time charts as standalone PNGs (title and legend inside), by
    :data:`PNG_NAMES`."""
    run = _Run(steps, cues, profile)
    out = {}
    with _progress(len(PNG_NAMES), "drawing the PNG charts") as bar:
        for key in PNG_NAMES:
            chart = run.over_time(key, charts.WIDE, standalone=True)
            out[key] = charts.png(chart)
            bar.update(1)
    return out


_CSS = """
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       padding: 16px 20px 40px; color: #222; max-width: 1100px; line-height: 1.4; }
h1 { font-size: 22px; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 18px; margin: 28px 0 8px; } h3 { font-size: 15px; margin: 14px 0 4px; }
p.meta, p.note { color: #555; margin: 0 0 12px; font-size: 14px; overflow-wrap: anywhere; }
svg.chart { display: block; width: 100%; height: auto; }
.narrow { display: none; }
#summary th { white-space: nowrap; }
figure { margin: 0 0 10px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 5px 10px; text-align: right; vertical-align: top; }
th.text, td.text, #summary th { text-align: left; }
table.rows td:not(.text), table.many td:not(.text) { white-space: nowrap; }
.scroll { overflow-x: auto; }
thead th { background: #f3f3f3; font-weight: 600; }
#summary td { text-align: left; }
tr.flat td { color: #555; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 13px; margin: 0 0 6px; }
.swatch { display: inline-block; width: 16px; height: 10px; margin-right: 5px;
          vertical-align: middle; }
.dash { display: inline-block; width: 18px; margin-right: 5px; vertical-align: middle;
        border-top: 2px dashed; }
.dot { border-top-style: dotted; }
.num { display: inline-block; min-width: 20px; padding: 0 4px; border-radius: 4px;
       color: #fff; font-weight: 700; font-size: 12px; text-align: center; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 16px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 10px; min-width: 0; }
.card p { margin: 0 0 6px; font-size: 14px; }
/* up to 960 px: the narrow charts (the wide ones would show text under 10 px) */
@media (max-width: 960px) {
  .wide { display: none; } .narrow { display: block; }
  .narrow svg.chart { max-width: 480px; }
  .cards { grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); }
}
@media (max-width: 640px) {
  body { padding: 12px 12px 32px; }
  #summary, #summary tbody, #summary tr, #summary th, #summary td { display: block; }
  #summary tr { border-bottom: 1px solid #ddd; padding: 4px 0; }
  #summary th, #summary td { border: 0; padding: 0 2px; white-space: normal; }
  #summary th { font-size: 13px; color: #555; font-weight: 600; }
}
"""
#: tables as one labelled block per row: the descents table (about 950 px wide) up to 960 px,
#: the others up to 640 px
_CSS += "".join(
    f"""
@media (max-width: {px}px) {{
  table.{cls}, table.{cls} tbody, table.{cls} tr, table.{cls} td {{ display: block; width: 100%; }}
  table.{cls} thead {{ display: none; }}
  table.{cls} tr {{ border: 1px solid #ddd; border-radius: 6px; margin: 0 0 10px; padding: 4px 0; }}
  table.{cls} td, table.{cls} td:not(.text) {{ display: flex; justify-content: space-between;
                  gap: 12px; border: 0;
                  padding: 3px 10px; text-align: right; white-space: normal; }}
  table.{cls} td::before {{ content: attr(data-label); font-weight: 600; color: #444;
                          text-align: left; }}
  table.{cls} td:empty {{ display: none; }}
}}"""
    for cls, px in (("many", 960), ("rows", 640))
)


def _rows_table(
    table_id: str, head: Sequence[tuple[str, str]], rows: Sequence[Any], *, many: bool = False
) -> str:
    """A table that becomes one labelled block per row on narrow screens. ``head`` is
    ``(label, css class)``; each row is ``(tr class, [cell html, ...])``."""
    esc = html.escape
    out = [f'<table id="{table_id}" class="{"many" if many else "rows"}"><thead><tr>']
    out += [f'<th class="{cls}">{esc(lab)}</th>' for lab, cls in head]
    out.append("</tr></thead><tbody>")
    for tr_class, cells in rows:
        out.append(f'<tr class="{tr_class}">')
        out += [
            f'<td class="{cls}" data-label="{esc(lab)}">{cell}</td>'
            for (lab, cls), cell in zip(head, cells, strict=True)
        ]
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_report(
    *,
    title: str,
    meta: dict[str, Any],
    steps: Sequence[Step],
    cues: Sequence[Cue],
    summary: dict[str, Any],
    profile: CueProfile | None = None,
    distance: DistanceFn | None = None,
) -> str:
    """The report page as one HTML string (inline CSS and SVG only). ``distance`` gives each
    descent's distance (see :func:`report_inputs`); the summary's comes from ``summary``."""
    run = _Run(steps, cues, profile, distance)
    with _progress(2 * (len(SERIES) + len(run.descents)), "drawing the report") as bar:
        return _page(run, bar, title=title, meta=meta, cues=cues, summary=summary)


def _page(
    run: _Run,
    bar: tqdm,
    *,
    title: str,
    meta: dict[str, Any],
    cues: Sequence[Cue],
    summary: dict[str, Any],
) -> str:
    """The page of :func:`render_report`; ``bar`` counts the charts drawn."""
    esc = html.escape

    def drawn(svg: str) -> str:
        bar.update(1)
        return svg

    flat = run.flat
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
    # ------------------------------------------------------------------ summary
    duration = summary.get("duration_s") or 0.0
    on_desc = summary.get("descent_time_s") or 0.0
    share = f" ({100 * on_desc / duration:.0f} %)" if duration else ""
    per_rule = summary.get("cues") or {}
    rows = [
        ("duration", f"{mmss(duration)} ({summary.get('steps', 0)} steps)"),
        ("distance", _distance_row(summary)),
        ("on descents", f"{mmss(on_desc)}{share} in {len(run.descents)} descent(s)"),
        (
            "flat baseline",
            f"cadence {_num(flat.cadence_spm, 1, ' spm')}, impact {_num(flat.peak_g, 2, ' g')} "
            f"({esc(flat.source)})",
        ),
        (
            "cadence flat / descent",
            f"{_num(summary.get('cadence_flat_spm'))} / "
            f"{_num(summary.get('cadence_descent_spm'))} spm (medians)",
        ),
        (
            "impact flat / descent",
            f"{_num(summary.get('peak_flat_g'), 2)} / {_num(summary.get('peak_descent_g'), 2)} g "
            "(medians)",
        ),
        (
            "cues said",
            f"{len(cues)}"
            + (
                " (" + ", ".join(f"{esc(r)} \u00d7{n}" for r, n in per_rule.items()) + ")"
                if per_rule
                else ""
            ),
        ),
    ]
    body.append('<table id="summary"><tbody>')
    body += [f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows if v is not None]
    body.append("</tbody></table>")
    # ------------------------------------------------------------------ over time
    legend = [f'<span><i class="swatch" style="background:{DESCENT_FILL}"></i>descent</span>']
    legend.append(
        f'<span><i class="dash" style="border-color:{BASELINE_COLOUR}"></i>flat baseline</span>'
    )
    legend.append(
        f'<span><i class="dash dot" style="border-color:{THRESHOLD_COLOUR}"></i>'
        "cue threshold</span>"
    )
    legend += [
        f'<span><i class="num" style="background:{c}">#</i>{esc(r)}</span>'
        for r, c in run.colours.items()
    ]
    body.append("<h2>Over time</h2>")
    body.append(f'<div class="legend">{"".join(legend)}</div>')
    if cues:
        body.append(
            '<p class="note">Numbered labels are the cues, numbered as in the cue table below '
            "(hover a label for its text; a label N+ holds cue N and the ones just after it); "
            "dashed lines mark when they were said.</p>"
        )
    for key, _attr, label, unit, _colour in SERIES:
        body.append(f'<figure id="chart-{key}"><h3>{esc(label)} ({esc(unit)})</h3>')
        for layout in (charts.WIDE, charts.NARROW):
            chart = run.over_time(key, layout)
            body.append(
                f'<div class="{layout.name}">'
                + drawn(charts.svg(chart, f"{key}-{layout.name}-", label=f"{label} over time"))
                + "</div>"
            )
        body.append("</figure>")
    # ------------------------------------------------------------------ descents
    body.append("<h2>Descents</h2>")
    if not run.descents:
        body.append('<p id="descents">No descents.</p>')
    else:
        show_dist = any(d.distance_m is not None for d in run.descents)
        cad_thr, peak_thr = run.thresholds["cadence_spm"], run.thresholds["peak_g"]
        below = f"steps below {cad_thr:.1f} spm" if cad_thr is not None else "steps below threshold"
        above = f"steps above {peak_thr:.2f} g" if peak_thr is not None else "steps above threshold"
        head = [
            ("descent", "text"),
            ("from", ""),
            ("to", ""),
            ("duration", ""),
            *([("distance", "")] if show_dist else []),
            ("grade", ""),
            ("steps", ""),
            ("cadence", ""),
            ("cadence vs flat", ""),
            (below, ""),
            ("impact", ""),
            ("impact vs flat", ""),
            (above, ""),
            ("cues", "text"),
        ]
        table_rows = []
        for d in run.descents:
            cue_nums = [
                f'<span class="num" style="background:{run.colours[c.rule]}" '
                f'title="{esc(run.marks[i].text)}">{i + 1}</span>'
                for i, c in enumerate(cues)
                if run.cue_descent[i] == d.number
            ]
            table_rows.append(
                (
                    "descent",
                    [
                        f'<a href="#descent-{d.number}">{d.number}</a>',
                        d.start,
                        d.end,
                        d.duration,
                        *([_num(d.distance_m, 0, " m")] if show_dist else []),
                        _num(d.grade_mean_pct, 1, " %"),
                        str(d.steps),
                        _num(d.cadence_median_spm, 1, " spm"),
                        _num(d.cadence_vs_flat_pct, 1, " %", True),
                        _share(d.cadence_below_share),
                        _num(d.peak_median_g, 2, " g"),
                        _num(d.peak_vs_flat_pct, 1, " %", True),
                        _share(d.peak_above_share),
                        f'<span class="nums">{" ".join(cue_nums)}</span>' if cue_nums else "none",
                    ],
                )
            )
        table_rows.append(
            (
                "flat",
                [
                    "flat baseline",
                    "",
                    "",
                    "",
                    *([""] if show_dist else []),
                    "",
                    "",
                    _num(flat.cadence_spm, 1, " spm"),
                    "",
                    "",
                    _num(flat.peak_g, 2, " g"),
                    "",
                    "",
                    "",
                ],
            )
        )
        # wide screens narrower than the table scroll it, never the page
        body.append(
            f'<div class="scroll">{_rows_table("descents", head, table_rows, many=True)}</div>'
        )
        body.append(
            f'<p class="note">Medians over each descent\'s steps (grade: mean); against the flat '
            f"baseline ({esc(flat.source)}); the thresholds are the cue profile's rules "
            "(per step, not the rules' windows).</p>"
        )
        body.append('<div class="cards">')
        for d in run.descents:
            body.append(
                f'<section class="card" id="descent-{d.number}">'
                f"<h3>Descent {d.number} · {d.start}\u2013{d.end} ({d.duration})</h3>"
                f"<p>cadence {_num(d.cadence_median_spm, 1, ' spm')} "
                f"({_num(d.cadence_vs_flat_pct, 1, ' %', True)}), "
                f"impact {_num(d.peak_median_g, 2, ' g')} "
                f"({_num(d.peak_vs_flat_pct, 1, ' %', True)}) against flat; "
                f"{len(d.cues)} cue(s)</p>"
                + "".join(
                    f'<div class="{layout.name}">'
                    + drawn(
                        charts.svg(
                            run.descent_chart(d, layout),
                            f"d{d.number}-{layout.name}-",
                            label=f"descent {d.number}: cadence and impact",
                        )
                    )
                    + "</div>"
                    for layout in (charts.CARD, charts.NARROW)
                )
                + "</section>"
            )
        body.append("</div>")
    # ------------------------------------------------------------------ cues
    body.append("<h2>Cues</h2>")
    if cues:
        rows_c = []
        for i, c in enumerate(cues):
            where = run.cue_descent[i]
            rows_c.append(
                (
                    "cue",
                    [
                        f'<span class="num" style="background:{run.colours[c.rule]}">{i + 1}</span>',
                        mmss(c.t_s, 1),
                        f'<a href="#descent-{where}">descent {where}</a>' if where else "flat",
                        esc(c.rule),
                        f"\u201c{esc(c.phrase)}\u201d",
                        f"{esc(c.metric)} {c.value:.2f}",
                    ],
                )
            )
        body.append(
            _rows_table(
                "cues",
                [
                    ("#", ""),
                    ("time", ""),
                    ("where", "text"),
                    ("rule", "text"),
                    ("phrase", "text"),
                    ("value", ""),
                ],
                rows_c,
            )
        )
    else:
        body.append('<p id="cues">No cues.</p>')
    body.append("</body></html>")
    return "\n".join(body) + "\n"


def report_inputs(
    recording: str, *, profile: str | None = None, placement: str | None = None
) -> dict[str, Any]:
    """Replay ``recording`` (no speech): the keyword arguments of :func:`render_report`.
    The cue profile is ``profile`` if given, else the one the recording stored (the one that
    coached live), else the bundled one. Damage the reader skipped is named in
    ``meta["damaged data"]``, shown on the page (the charts hold only what could be read)."""
    given = load_cue_profile(profile) if profile else None
    session, rec = replay_recording(recording, given, placement=placement, progress="replaying")
    cue_profile = session.cue_profile
    device = rec.header.get("device") or {}
    stored = rec.header.get("cue_profile")
    if given is None and isinstance(stored, dict) and isinstance(stored.get("path"), str):
        profile_name = f"{Path(stored['path']).name} (stored in the recording)"
    else:
        profile_name = Path(cue_profile.path).name
    meta = {
        "device": f"{device.get('name', '?')} ({session.firmware.name})",
        "placement": session.placement,
        "start": rec.header.get("start_time") or "unknown",
        "profile": profile_name,
    }
    damage = [describe_skip(k) for k in rec.skipped]
    if rec.dropped_tail_bytes:
        damage.append(f"the last {rec.dropped_tail_bytes} bytes are an incomplete record (dropped)")
    if damage:  # said on the page too: the charts show only what could be read
        meta["damaged data"] = "; ".join(damage)
    steps = session.steps
    if any(st.undersampled for st in steps):  # the impact figures read low: say so by them
        meta["peak impact"] = (
            f"under-sampled: a {session.placement} sensor at {session.tracker.rate_hz:g} Hz "
            "(below 200 Hz) reads impact peaks low; strikes and cadence are not affected"
        )
    n_clipped = sum(st.clipped for st in steps)
    if n_clipped:
        meta["clipped"] = (
            f"{n_clipped} of {len(steps)} impact peaks reached the sensor's range "
            f"({session.tracker.range_g:.1f} g): the true peak was higher"
        )
    odo = session.odometer

    def distance(t0_s: float, t1_s: float) -> float | None:
        assert odo is not None
        return odo.distance_between(session.rx_time_s(t0_s), session.rx_time_s(t1_s))

    return {
        "title": f"downhill-live report: {Path(recording).name}",
        "meta": meta,
        "steps": session.steps,
        "cues": session.cues,
        "summary": session.summary(),
        "profile": cue_profile,
        "distance": distance if odo is not None else None,
    }


def build_report(
    recording: str, *, profile: str | None = None, placement: str | None = None
) -> str:
    """Replay ``recording`` (no speech) and render its report page."""
    return render_report(**report_inputs(recording, profile=profile, placement=placement))
