"""``downhill-live report``: the per-descent numbers against the steps, cue labels that never
overlap, file names as ``--help`` and the README give them, and the page in headless Chromium at
a phone's and a desktop's width."""

from __future__ import annotations

import dataclasses
import html
import itertools
import json
import math
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from downhill_live import cli
from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.session import session_from_recording
from downhill_live.sim.gait import Segment, simulate
from downhill_live.sim.recordings import write_sim_recording
from downhill_live.tools import charts
from downhill_live.tools.descents import descent_stats, mmss
from downhill_live.tools.report import (
    DESCENT_FILL,
    PNG_NAMES,
    render_report,
    report_inputs,
)
from downhill_live.types import Cue, Step

ROOT = Path(__file__).resolve().parents[2]
RECORDING = ROOT / "recordings" / "descent_foot_200hz.dlr"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

#: two descents: one in good form, one with 40 s of overstriding (cadence 156, impact x1.5)
COURSE = [
    Segment(3.0, 0.0, "stand"),  # the foot tilt grade's reference (core/grade.py)
    Segment(57.0, 0.0, "run", cadence_spm=170.0),
    Segment(40.0, -10.0, "run", cadence_spm=170.0),
    Segment(30.0, 0.0, "run", cadence_spm=170.0),
    Segment(10.0, -10.0, "run", cadence_spm=170.0),
    Segment(40.0, -10.0, "run", cadence_spm=156.0, impact_scale=1.5),
    Segment(10.0, -10.0, "run", cadence_spm=172.0),
    Segment(30.0, 0.0, "run", cadence_spm=170.0),
]
#: (start, end) of the course's descents, in seconds
TRUE_DESCENTS = [(60.0, 100.0), (130.0, 190.0)]


@pytest.fixture(scope="module")
def two_descents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "two.dlr"
    sim = simulate(COURSE, "foot", rate_hz=200.0, seed=5)
    write_sim_recording(sim, path, seed=5, samples_per_packet=8, course=COURSE)
    return path


class _Page(HTMLParser):
    """Tags (with attributes), ids, and the text of table cells by their data-label."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.cells: dict[str, list[list[tuple[str, str]]]] = {}  # table id -> rows of cells
        self._table: str | None = None
        self._cell: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.cells[self._table] = []
        elif tag == "tr" and self._table:
            self.cells[self._table].append([])
        elif tag == "td" and self._table:
            self._cell, self._text = a.get("data-label") or "", []

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag == "td" and self._table and self._cell is not None:
            self.cells[self._table][-1].append((self._cell, "".join(self._text).strip()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._cell is not None:
            self._text.append(data)


def parse(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    p.cells = {k: [r for r in rows if r] for k, rows in p.cells.items()}  # header rows: no <td>
    return p


# ------------------------------------------------------------------------------ descents
def test_descent_numbers_match_the_steps_and_the_course(two_descents: Path) -> None:
    inputs = report_inputs(str(two_descents))
    steps: list[Step] = inputs["steps"]
    cues: list[Cue] = inputs["cues"]
    profile = inputs["profile"]
    stats = descent_stats(steps, cues, profile=profile)

    # the runs of on_descent steps, found here step by step
    runs, start = [], None
    for i, s in enumerate(steps):
        if s.on_descent and start is None:
            start = i
        if not s.on_descent and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(steps)))
    assert len(stats) == len(runs) == 2

    # the baseline is the one the cue engine learned while replaying (the cues' own reference)
    session, rec = session_from_recording(str(two_descents), profile)
    session.process_many(rec.packets)
    base_cad = session.engine.baseline.get("cadence_spm")
    base_peak = session.engine.baseline.get("peak_g")
    assert base_cad is not None and base_peak is not None
    assert abs(base_cad - 170.0) < 3.0  # the course's flat cadence

    for d, (a, b), (t0_true, t1_true) in zip(stats, runs, TRUE_DESCENTS, strict=True):
        run = steps[a:b]
        assert d.steps == len(run)
        assert d.t_start_s == run[0].t_s and d.t_end_s == steps[b].t_s
        # the core recognises a descent some seconds after it starts (grade filter + min_s 5 s)
        # and after it ends
        assert t0_true <= d.t_start_s < t0_true + 12.0 and t1_true <= d.t_end_s < t1_true + 12.0
        assert d.start == mmss(run[0].t_s) and d.duration == mmss(steps[b].t_s - run[0].t_s)
        cad = [s.cadence_spm for s in run if not math.isnan(s.cadence_spm)]
        peak = [s.peak_g for s in run if not math.isnan(s.peak_g)]
        grade = [s.grade_pct for s in run if not math.isnan(s.grade_pct)]
        assert d.cadence_median_spm == pytest.approx(float(np.median(cad)))
        assert d.peak_median_g == pytest.approx(float(np.median(peak)))
        assert d.grade_mean_pct == pytest.approx(sum(grade) / len(grade))
        assert -11.5 < d.grade_mean_pct < -7.0  # the course: -10 %
        assert d.flat.cadence_spm == base_cad and d.flat.peak_g == base_peak
        assert d.cadence_vs_flat_pct == pytest.approx(100 * (np.median(cad) / base_cad - 1))
        assert d.peak_vs_flat_pct == pytest.approx(100 * (np.median(peak) / base_peak - 1))
        # the bundled profile: cadence_low below baseline-3%, impact_high above baseline+30%
        thr = 0.97 * base_cad
        assert d.cadence_threshold_spm == pytest.approx(thr)
        assert d.cadence_below_share == pytest.approx(sum(c < thr for c in cad) / len(cad))
        assert d.peak_above_share == pytest.approx(
            sum(p > 1.3 * base_peak for p in peak) / len(peak)
        )
        inside = [c for c in cues if run[0].t_s <= c.t_s < steps[b].t_s]
        assert list(d.cues) == inside
    good, over = stats
    # one median over the second descent would hide the overstriding; the share does not
    assert good.cadence_below_share is not None and over.cadence_below_share is not None
    assert good.cadence_below_share < 0.15 and over.cadence_below_share > 0.4
    assert good.peak_vs_flat_pct is not None and over.peak_vs_flat_pct is not None
    assert over.peak_vs_flat_pct > good.peak_vs_flat_pct + 15.0
    assert any(c.rule == "cadence_low" for c in over.cues)
    assert not any(c.rule == "cadence_low" for c in good.cues)

    # the page's descents table says the same, in m:ss
    page = parse(render_report(**inputs))
    rows = [dict(r) for r in page.cells["descents"]]
    for d, row in zip(stats, rows, strict=False):
        assert row["from"] == d.start and row["to"] == d.end and row["duration"] == d.duration
        assert row["steps"] == str(d.steps)
        assert row["cadence"] == f"{d.cadence_median_spm:.1f} spm"
        assert row["cadence vs flat"] == f"{d.cadence_vs_flat_pct:+.1f} %"
        assert row[f"steps below {thr:.1f} spm"] == f"{100 * d.cadence_below_share:.0f} %"  # type: ignore[operator]
        assert row["cues"].split() == [
            str(i + 1) for i, c in enumerate(cues) if c in d.cues
        ] or (row["cues"] == "none" and not d.cues)
    assert rows[len(stats)]["descent"] == "flat baseline"
    assert len(page.tags) and sum(1 for t, a in page.tags if a.get("class") == "card") == 2


@dataclasses.dataclass(frozen=True, slots=True)
class DistanceStep(Step):
    """A step from a source that knows the distance run (no sensor gives one yet)."""

    distance_m: float = math.nan


def _synthetic(with_distance: bool) -> tuple[list[Step], list[Cue]]:
    steps: list[Step] = []
    for i in range(400):  # 0.5 s a step: 60 s flat, 60 s descent, 80 s flat
        t = 0.5 * i
        desc = 60.0 <= t < 120.0
        kw = {"distance_m": 1.5 * i} if with_distance else {}
        cls = DistanceStep if with_distance else Step
        steps.append(cls(t, 150.0 if desc else 170.0, 7.0 if desc else 5.0, -8.0 if desc else 0.0,
                         desc, **kw))  # fmt: skip
    cues = [Cue(70.0 + 0.7 * k, "cadence_low", "quick feet", "cadence_spm", 150.0) for k in range(6)]
    return steps, cues


def test_distance_is_shown_when_the_steps_carry_it_and_left_out_otherwise() -> None:
    for with_distance in (True, False):
        steps, cues = _synthetic(with_distance)
        (d,) = descent_stats(steps, cues)
        assert d.duration_s == 60.0 and d.start == "1:00" and d.end == "2:00"
        assert d.cadence_vs_flat_pct == pytest.approx(100 * (150 / 170 - 1))
        assert len(d.cues) == 6
        page = render_report(title="t", meta={}, steps=steps, cues=cues, summary={})
        p = parse(page)
        labels = {lab for row in p.cells["descents"] for lab, _ in row}
        if with_distance:
            assert d.distance_m == pytest.approx(1.5 * 120)  # 120 steps of 1.5 m
            assert "distance" in labels and ">distance</th>" in page
            assert dict(p.cells["descents"][0])["distance"] == "180 m"
        else:
            assert d.distance_m is None
            assert "distance" not in labels and ">distance</th>" not in page


# ------------------------------------------------------------------------------ cue labels
@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.floats(0.0, 30.0), min_size=1, max_size=80),
    min_gap=st.floats(0.5, 20.0),
    max_lanes=st.integers(1, 4),
)
def test_cue_labels_never_overlap(gaps: list[float], min_gap: float, max_lanes: int) -> None:
    times = np.cumsum(gaps).tolist()
    marks = [charts.CueMark(i + 1, t, "#000000", "") for i, t in enumerate(times)]
    markers = charts.place_markers(marks, min_gap, max_lanes)
    # every cue once, in order: labels hold runs of consecutive cues
    assert [c.number for m in markers for c in m.cues] == list(range(1, len(marks) + 1))
    for m in markers:
        assert m.t_s == m.cues[0].t_s and 0 <= m.lane < max_lanes
        assert m.label == str(m.cues[0].number) + ("+" if len(m.cues) > 1 else "")
    for lane in range(max_lanes):
        xs = [m.t_s for m in markers if m.lane == lane]
        assert all(b - a >= min_gap for a, b in itertools.pairwise(xs)), (lane, xs)
    # with room for every cue no cue is clustered
    if all(b - a >= min_gap for a, b in itertools.pairwise(times)):
        assert all(len(m.cues) == 1 and m.lane == 0 for m in markers)


def test_cues_07_s_apart_get_separate_labels_in_the_charts() -> None:
    steps, cues = _synthetic(False)
    chart = charts.draw(
        [charts.Panel(np.array([s.t_s for s in steps]), np.array([s.cadence_spm for s in steps]),
                      "Cadence", "spm", "#1f5fa8")],
        t_range=(0.0, steps[-1].t_s), layout=charts.NARROW, lane=True,
        cues=[charts.CueMark(i + 1, c.t_s, "#7b3294", f"cue {i + 1}") for i, c in enumerate(cues)],
    )  # fmt: skip
    # the six cues span 3.5 s of a 200 s axis 3.3 in wide: three rows, then clusters
    assert [m.lane for m in chart.markers][:3] == [0, 1, 2]
    assert sum(len(m.cues) for m in chart.markers) == 6
    svg = charts.svg(chart, "x-")
    groups = re.findall(r'<g id="x-cue-\d+" class="cue-marker"><title>([^<]*)</title>', svg)
    assert len(groups) == len(chart.markers)
    assert sorted(t for g in groups for t in g.split("\n")) == sorted(
        f"cue {i + 1}" for i in range(6)
    )


# ------------------------------------------------------------------------------ files and names
def test_pngs_are_named_as_help_and_readme_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["report", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    in_help = re.findall(r"PAGE-(\w+)\.png", help_text)
    assert "-o PAGE.html" in help_text and in_help == list(PNG_NAMES)
    readme = (ROOT / "README.md").read_text()
    (line,) = [ln for ln in readme.splitlines() if ln.startswith("downhill-live report ")]
    assert "[-o PAGE.html]" in line and re.findall(r"PAGE-(\w+)\.png", line) == in_help

    out = tmp_path / "out" / "run 1.html"
    out.parent.mkdir()
    assert cli.main(["report", str(RECORDING), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(
        ["run 1.html", *(f"run 1-{n}.png" for n in in_help)]
    )
    printed = capsys.readouterr().out
    for n in in_help:
        assert f"run 1-{n}.png" in printed
    fill = tuple(int(DESCENT_FILL[i : i + 2], 16) for i in (1, 3, 5))
    for n in in_help:
        img = np.asarray(Image.open(out.parent / f"run 1-{n}.png").convert("RGB"))
        assert img.shape[1] == 1500 and img.shape[0] > 300  # 10 in at 150 dpi
        # the descent (1:09-3:29 of 4:03) is shaded: a good part of the plot has its colour
        assert np.all(img == fill, axis=2).mean() > 0.2

    # without -o: the recording's name, in the current folder
    monkeypatch.chdir(tmp_path)
    assert cli.main(["report", str(RECORDING)]) == 0
    assert {p.name for p in tmp_path.iterdir() if p.is_file()} == {
        "descent_foot_200hz.html",
        *(f"descent_foot_200hz-{n}.png" for n in in_help),
    }


def test_page_is_self_contained_with_unique_ids_and_times_as_mmss() -> None:
    inputs = report_inputs(str(RECORDING))
    page = render_report(**inputs)
    p = parse(page)
    assert "<script" not in page
    refs = [a.get(k) or "" for _, a in p.tags for k in ("href", "src", "xlink:href")]
    assert all(r == "" or r.startswith("#") for r in refs), [r for r in refs if r]
    ids = [a["id"] for _, a in p.tags if a.get("id")]
    assert len(ids) == len(set(ids))  # several SVGs on one page: every id prefixed
    for ref in re.findall(r'(?:href="#|url\(#)([^")]+)', page):
        assert ref in ids  # and every reference points inside the page
    svgs = [a for t, a in p.tags if t == "svg"]
    assert all("viewbox" in a and "width" not in a for a in svgs)  # scaled by CSS
    for key in PNG_NAMES:  # each over-time chart in a wide and a narrow layout
        assert f'id="chart-{key}"' in page
    cues = inputs["cues"]
    rows = [dict(r) for r in p.cells["cues"]]
    assert [r["#"] for r in rows] == [str(i + 1) for i in range(len(cues))]
    assert [r["time"] for r in rows] == [mmss(c.t_s, 1) for c in cues]
    (d,) = descent_stats(inputs["steps"], cues, profile=inputs["profile"])  # the bundled run
    assert [r["where"] for r in rows] == ["descent 1" if c in d.cues else "flat" for c in cues]
    assert all(re.fullmatch(r"\d+:\d\d\.\d", r["time"]) for r in rows)
    # every cue is labelled once in each layout of the cadence chart, its text in the title
    for layout in ("wide", "narrow"):
        titles = re.findall(
            rf'<g id="cadence-{layout}-cue-\d+" class="cue-marker"><title>([^<]*)</title>', page
        )
        said = [ln.split()[0] for t in titles for ln in t.split("\n")]
        assert said == [f"#{i + 1}" for i in range(len(cues))]
    summary = dict((k, v) for k, v in re.findall(r"<tr><th>([^<]+)</th><td>([^<]+)</td>", page))
    s = inputs["summary"]
    assert summary["duration"] == f"{mmss(s['duration_s'])} ({s['steps']} steps)"
    assert summary["on descents"].startswith(f"{mmss(s['descent_time_s'])} (")
    assert re.fullmatch(r"\d:\d\d", mmss(s["duration_s"]))  # about 4 minutes, as m:ss


# ------------------------------------------------------------------------------ chromium
# Headless Chromium lays pages out at least 500 px wide whatever --window-size says, so the page
# goes into an iframe of the width wanted: its own viewport, media queries and all.
PROBE = """
<script>
const frame = document.getElementById('page');
frame.addEventListener('load', () => {
  const doc = frame.contentDocument, win = frame.contentWindow;
  const out = {inner: win.innerWidth, scroll: doc.documentElement.scrollWidth};
  const shown = (e) => e.getBoundingClientRect().width > 0;
  out.layouts = [...doc.querySelectorAll('#chart-cadence > div')]
    .filter(shown).map((e) => e.className);
  const chart = doc.querySelector('#chart-cadence > div.' + out.layouts[0] + ' svg');
  const box = chart.getBoundingClientRect();
  out.chart = [box.left, box.right];
  out.labels = [...chart.querySelectorAll('g.cue-marker')].map((g) => {
    const b = g.getBoundingClientRect();
    return [b.left, b.top, b.right, b.bottom];
  });
  // the smallest font in any chart shown, in CSS pixels (font size times the SVG's scale)
  const texts = [...doc.querySelectorAll('svg.chart text')].filter(shown);
  out.min_font_px = Math.min(...texts.map(
    (t) => { const m = t.getScreenCTM();
             return parseFloat(win.getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b); }));
  out.widest = Math.max(...[...doc.body.querySelectorAll('*')].filter(shown)
    .map((e) => e.getBoundingClientRect().right));
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def framed(page: str, width: int, height: int, probe: bool) -> str:
    """``page`` in an iframe ``width`` x ``height`` px (with the probe script after it)."""
    return (
        '<!DOCTYPE html><html><body style="margin:0">'
        f'<iframe id="page" style="border:0;display:block;width:{width}px;height:{height}px" '
        f'srcdoc="{html.escape(page, quote=True)}"></iframe>'
        + (PROBE if probe else "")
        + "</body></html>"
    )


def chromium(tmp_path: Path, width: int, height: int, *args: str) -> str:
    profile = tmp_path / f"profile-{width}-{len(list(tmp_path.iterdir()))}"
    return subprocess.run(
        [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
         f"--window-size={max(width, 500)},{height}", *args],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
@pytest.mark.parametrize(("width", "layout"), [(390, "narrow"), (768, "narrow"), (1400, "wide")])
def test_page_fits_a_phone_and_a_desktop_in_chromium(
    tmp_path: Path, two_descents: Path, width: int, layout: str
) -> None:
    inputs = report_inputs(str(two_descents))
    # more cues, some 0.7 s apart: the labels must still not overlap
    extra = [Cue(100.0 + 0.7 * k, "cadence_low", "quick feet", "cadence_spm", 150.0) for k in range(5)]
    inputs["cues"] = sorted([*inputs["cues"], *extra], key=lambda c: c.t_s)
    page = render_report(**inputs)
    probed = tmp_path / "probed.html"
    probed.write_text(framed(page, width, 6000, probe=True))
    dom = chromium(tmp_path, width, 1000, "--dump-dom", probed.as_uri())
    start = dom.index('<pre id="probe">') + len('<pre id="probe">')
    probe = json.loads(html.unescape(dom[start : dom.index("</pre>", start)]))
    assert probe["inner"] == width
    assert probe["scroll"] <= width, probe  # no horizontal scrolling
    assert probe["widest"] <= width + 0.5, probe
    assert probe["layouts"] == [layout]
    assert probe["chart"][0] >= 0 and probe["chart"][1] <= width
    assert probe["min_font_px"] >= 9.0, probe  # readable: not a desktop chart shrunk
    labels = probe["labels"]
    assert len(labels) >= 5
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
            assert not overlap, (a, b)

    # a screenshot of the page as it is: the descents shaded, nothing cut off at the right edge
    shot = tmp_path / f"report-{width}.png"
    framed_file = tmp_path / "framed.html"
    framed_file.write_text(framed(page, width, 1800, probe=False))
    chromium(tmp_path, width, 1800, f"--screenshot={shot}", framed_file.as_uri())
    img = np.asarray(Image.open(shot).convert("RGB"))[:, :width]
    assert img.shape[:2] == (1800, width)
    fill = tuple(int(DESCENT_FILL[i : i + 2], 16) for i in (1, 3, 5))
    assert np.all(np.abs(img.astype(int) - fill) <= 2, axis=2).mean() > 0.01
    assert np.all(img[:, -6:, :] >= 250), "something reaches the right edge of the page"


def test_profile_thresholds_come_from_the_profile_given(tmp_path: Path, two_descents: Path) -> None:
    text = (ROOT / "downhill_live" / "config" / "default_cues.yaml").read_text()
    custom = tmp_path / "cues.yaml"
    custom.write_text(text.replace("below: baseline-3%", "below: 150"))
    inputs = report_inputs(str(two_descents), profile=str(custom))
    stats = descent_stats(inputs["steps"], inputs["cues"], profile=inputs["profile"])
    assert all(d.cadence_threshold_spm == 150.0 for d in stats)
    row = dict(parse(render_report(**inputs)).cells["descents"][0])
    assert row["steps below 150.0 spm"] == f"{100 * stats[0].cadence_below_share:.0f} %"  # type: ignore[operator]
    assert load_cue_profile(str(custom)).rules[0].threshold.value == 150.0
