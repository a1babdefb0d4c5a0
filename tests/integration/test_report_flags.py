"""The report says when its impact figures cannot be trusted: under-sampled peaks (a foot below
200 Hz) and peaks at the sensor's range (clipped), beside the charts."""

from __future__ import annotations

from pathlib import Path

from downhill_live.sim.gait import Segment, simulate
from downhill_live.sim.recordings import write_sim_recording
from downhill_live.tools.report import render_report, report_inputs

COURSE = [Segment(3.0, 0.0, "stand"), Segment(40.0, 0.0, "run", cadence_spm=170.0)]


def test_report_names_undersampled_peaks(tmp_path: Path) -> None:
    slow = tmp_path / "foot100.dlr"
    sim = simulate(COURSE, "foot", rate_hz=100.0, seed=5)
    write_sim_recording(sim, slow, seed=5, samples_per_packet=4, course=COURSE)
    inputs = report_inputs(str(slow))
    assert len(inputs["steps"]) > 40 and all(s.undersampled for s in inputs["steps"])
    assert "100 Hz" in inputs["meta"]["peak impact"]
    assert "under-sampled" in render_report(**inputs)
    fast = tmp_path / "foot200.dlr"
    sim = simulate(COURSE, "foot", rate_hz=200.0, seed=5)
    write_sim_recording(sim, fast, seed=5, samples_per_packet=8, course=COURSE)
    assert "peak impact" not in report_inputs(str(fast))["meta"]


def test_report_names_clipped_peaks(tmp_path: Path) -> None:
    # a sensor whose +-16 g range the runner's impacts reach (x2.5 impacts on the foot)
    course = [Segment(3.0, 0.0, "stand"), Segment(40.0, 0.0, "run", impact_scale=2.5)]
    rec = tmp_path / "hard.dlr"
    sim = simulate(course, "foot", rate_hz=200.0, seed=6)
    write_sim_recording(sim, rec, seed=6, samples_per_packet=8, course=course)
    inputs = report_inputs(str(rec))
    n = sum(s.clipped for s in inputs["steps"])
    assert n > 0
    assert inputs["meta"]["clipped"].startswith(f"{n} of {len(inputs['steps'])} impact peaks")
    assert "impact peaks reached the sensor&#x27;s range" in render_report(**inputs)  # escaped
