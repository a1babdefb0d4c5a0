"""Tests of the gait simulator: ground truth, physics and determinism (no snapshots)."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest

from downhill_live.sim.gait import (
    STRIKES,
    Scenario,
    Segment,
    SimResult,
    downhill_course,
    scenarios,
    simulate,
    validation_course,
)

PLACEMENTS = ("foot", "shank", "pelvis", "chest")


def _segment_bounds(segments: list[Segment]) -> tuple[np.ndarray, np.ndarray]:
    ends = np.cumsum([s.duration_s for s in segments])
    return ends - np.array([s.duration_s for s in segments]), ends


def _clean(segments: list[Segment], placement: str, **kw: object) -> SimResult:
    """Noise-free, unclipped simulation."""
    kw.setdefault("rate_hz", 200.0)
    return simulate(segments, placement, noise_g=0.0, range_g=None, **kw)


def test_same_seed_same_output_and_seed_matters() -> None:
    course = [Segment(4.0, 0.0, "stand"), Segment(12.0, -5.0, "run", turn_deg=45.0)]
    a = simulate(course, "shank", 200.0, seed=7)
    b = simulate(course, "shank", 200.0, seed=7)
    for name in SimResult.__dataclass_fields__:
        va, vb = getattr(a, name), getattr(b, name)
        if isinstance(va, np.ndarray):
            np.testing.assert_array_equal(va, vb, err_msg=name)
        else:
            assert va == vb
    c = simulate(course, "shank", 200.0, seed=8)
    assert not np.array_equal(a.strike_t_s, c.strike_t_s)
    assert not np.array_equal(a.acc_g, c.acc_g)


def test_timeline_is_shared_by_placements_and_rates() -> None:
    course = [Segment(3.0, 0.0, "stand"), Segment(15.0, 0.0, "run")]
    ref = simulate(course, "foot", 200.0, seed=4)
    for placement, rate in (("pelvis", 100.0), ("chest", 400.0), ("shank", 52.0)):
        res = simulate(course, placement, rate, seed=4)
        np.testing.assert_array_equal(res.strike_t_s, ref.strike_t_s)
        np.testing.assert_array_equal(res.toe_off_t_s, ref.toe_off_t_s)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_shapes_and_dtypes(placement: str) -> None:
    rate = 100.0
    res = simulate([Segment(2.0, 0.0, "stand"), Segment(8.0)], placement, rate, seed=1)
    n = 1000
    assert res.placement == placement and res.rate_hz == rate
    assert res.t_s.shape == (n,) and res.t_s.dtype == np.float64
    np.testing.assert_allclose(res.t_s, np.arange(n) / rate)
    assert res.acc_g.shape == (n, 3) and res.acc_g.dtype == np.float64
    assert res.pressure_pa.shape == (n,) and res.grade_pct.shape == (n,)
    s = res.strike_t_s.size
    assert s > 10
    for name in ("strike_peak_g", "toe_off_t_s", "cadence_spm"):
        arr = getattr(res, name)
        assert arr.shape == (s,) and arr.dtype == np.float64, name
    assert res.strike_foot.dtype == np.int8 and res.strike_foot.shape == (s,)
    assert np.all(np.diff(res.strike_t_s) > 0)
    assert set(np.unique(res.strike_foot)) == {0, 1}
    assert np.all(res.strike_foot[1:] != res.strike_foot[:-1])  # feet alternate within a bout
    assert res.rotation.shape == (3, 3)
    assert np.all(np.isfinite(res.acc_g)) and np.all(np.isfinite(res.pressure_pa))


def test_strikes_only_while_walking_or_running() -> None:
    course = validation_course()
    res = simulate(course, "pelvis", 100.0, seed=3)
    starts, ends = _segment_bounds(course)
    seg = np.searchsorted(ends, res.strike_t_s, side="right")
    acts = np.array([course[i].activity for i in seg])
    assert np.all(acts != "stand")
    for i, segment in enumerate(course):
        inside = (res.strike_t_s >= starts[i]) & (res.strike_t_s < ends[i])
        if segment.activity == "stand":
            assert not inside.any()
        else:
            # about cadence * duration steps (bouts lose up to ~2 steps at each end)
            expected = (segment.cadence_spm or 170.0) / 60.0 * segment.duration_s
            assert inside.sum() > 0.8 * expected - 3
    # the foot stays flat and still while standing: the foot sensor reads gravity only
    foot = _clean(course, "foot", rate_hz=100.0, seed=3)
    still = (foot.t_s > starts[-1] + 2.0) & (foot.t_s < ends[-1] - 0.5)
    np.testing.assert_allclose(np.linalg.norm(foot.acc_g[still], axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize(
    ("activity", "cadence_spm"), [("run", 150.0), ("run", 182.0), ("walk", 108.0)]
)
def test_strike_cadence_matches_segment(activity: str, cadence_spm: float) -> None:
    res = simulate([Segment(60.0, 0.0, activity, cadence_spm)], "chest", 100.0, seed=11)
    intervals = np.diff(res.strike_t_s)
    assert 60.0 / np.median(intervals) == pytest.approx(cadence_spm, rel=0.01)
    assert 60.0 / np.mean(intervals) == pytest.approx(cadence_spm, rel=0.01)
    # step-to-step jitter of 1-2 %: real but small
    assert 0.005 < np.std(intervals) / np.mean(intervals) < 0.03
    # cadence_spm[i] is 60 / (t[i] - t[i-1]); NaN only for the first step of the bout
    assert math.isnan(res.cadence_spm[0])
    np.testing.assert_allclose(res.cadence_spm[1:], 60.0 / intervals)


def test_cadence_ramp_is_followed() -> None:
    res = simulate([Segment(60.0, 0.0, "run", 170.0, 150.0)], "pelvis", 100.0, seed=2)
    t, cad = res.strike_t_s[1:], res.cadence_spm[1:]
    slope = np.polyfit(t, cad, 1)[0]
    assert slope == pytest.approx(-20.0 / 60.0, rel=0.1)
    assert np.median(cad[t < 10.0]) > 165.0 and np.median(cad[t > 50.0]) < 155.0


def test_toe_offs_are_consistent() -> None:
    course = validation_course()
    res = simulate(course, "foot", 100.0, seed=5)
    finite = np.isfinite(res.toe_off_t_s)
    contact = res.toe_off_t_s[finite] - res.strike_t_s[finite]
    assert np.all(contact > 0.15) and np.all(contact < 0.9)
    # NaN only for the last two steps (one per foot) before each stop
    acts = [s.activity for s in course]
    n_bouts = sum(
        1 for i, a in enumerate(acts) if a != "stand" and (i == 0 or acts[i - 1] == "stand")
    )
    assert int((~finite).sum()) == 2 * n_bouts
    last_two = np.flatnonzero(~finite)
    assert np.all(np.isfinite(res.cadence_spm[last_two]))
    # a foot leaves the ground before it lands again
    for foot in (0, 1):
        same = np.flatnonzero(res.strike_foot == foot)
        ok = finite[same[:-1]]
        assert np.all(res.toe_off_t_s[same[:-1]][ok] < res.strike_t_s[same[1:]][ok])


def _mid_stance_mean(res: SimResult, t0: float, t1: float) -> np.ndarray:
    """Mean reading over the middle of the instrumented foot's stance phases in [t0, t1)."""
    own = (res.strike_foot == 0) & np.isfinite(res.toe_off_t_s)
    own &= (res.strike_t_s >= t0) & (res.strike_t_s < t1)
    rows = []
    for ic, to in zip(res.strike_t_s[own], res.toe_off_t_s[own], strict=True):
        m = (res.t_s >= ic + 0.30 * (to - ic)) & (res.t_s <= ic + 0.42 * (to - ic))
        rows.append(res.acc_g[m])
    samples = np.concatenate(rows)
    # quasi-static: the foot is flat and still, only gravity is sensed
    np.testing.assert_allclose(np.linalg.norm(samples, axis=1), 1.0, atol=0.01)
    return samples.mean(axis=0)


@pytest.mark.parametrize(("grade_pct", "activity"), [(-15.0, "run"), (10.0, "run"), (-8.0, "walk")])
def test_foot_stance_gravity_tilts_with_grade(grade_pct: float, activity: str) -> None:
    course = [Segment(20.0, 0.0, activity), Segment(20.0, grade_pct, activity)]
    res = _clean(course, "foot", seed=6)  # random mounting rotation: angles are invariant
    flat = _mid_stance_mean(res, 3.0, 17.0)
    slope = _mid_stance_mean(res, 23.0, 37.0)
    cos = flat @ slope / (np.linalg.norm(flat) * np.linalg.norm(slope))
    angle_deg = math.degrees(math.acos(min(cos, 1.0)))
    assert angle_deg == pytest.approx(math.degrees(math.atan(abs(grade_pct) / 100.0)), abs=1.0)
    # and the tilt is about the foot's lateral axis: with no mounting rotation, y stays 0
    ident = _clean(course, "foot", seed=6, orientation="identity")
    tilted = _mid_stance_mean(ident, 23.0, 37.0)
    assert abs(tilted[1]) < 1e-3
    assert np.sign(tilted[0]) == np.sign(grade_pct)  # downhill: gravity appears toward -x


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_strike_peak_rises_with_impact_scale(placement: str) -> None:
    course = [
        Segment(30.0, 0.0, "run", 165.0, impact_scale=1.0),
        Segment(30.0, 0.0, "run", 165.0, impact_scale=1.5),
    ]
    res = _clean(course, placement, seed=9)
    pk = res.strike_peak_g
    low = pk[(res.strike_t_s > 3.0) & (res.strike_t_s < 29.0)]
    high = pk[(res.strike_t_s > 33.0) & (res.strike_t_s < 59.0)]
    if placement in ("foot", "shank"):
        assert np.all(np.isnan(pk[res.strike_foot == 1]))
        assert np.all(np.isfinite(pk[res.strike_foot == 0]))
    else:
        assert np.all(np.isfinite(pk))
    low, high = low[np.isfinite(low)], high[np.isfinite(high)]
    assert np.median(high) > 1.2 * np.median(low)
    # step-to-step variability of the impact peak, of the order of 10 %
    assert 0.03 < np.std(low) / np.mean(low) < 0.25


def test_strike_peak_is_the_windowed_maximum_of_the_signal() -> None:
    rate = 500.0
    res = _clean([Segment(10.0, -6.0, "run")], "shank", rate_hz=rate, seed=12)
    mag = np.linalg.norm(res.acc_g, axis=1)
    for ic, pk in zip(res.strike_t_s, res.strike_peak_g, strict=True):
        if np.isnan(pk):
            continue
        m = (res.t_s >= ic - 0.010 - 1e-9) & (res.t_s <= ic + 0.060 + 1e-9)
        assert pk == pytest.approx(mag[m].max(), rel=1e-12)


def test_truth_times_line_up_with_the_signal() -> None:
    course = [Segment(20.0, 0.0, "run")]
    rate = 1000.0
    # trunk: flight (~0 g) just before each IC and just after each toe-off, loading right after IC
    pelvis = _clean(course, "pelvis", rate_hz=rate, seed=21)
    mag = np.linalg.norm(pelvis.acc_g, axis=1)

    def window(t0: float, t1: float) -> np.ndarray:
        return mag[round(t0 * rate) : round(t1 * rate)]

    steps = slice(2, -2)
    for ic, to in zip(pelvis.strike_t_s[steps], pelvis.toe_off_t_s[steps], strict=True):
        assert window(ic - 0.015, ic - 0.002).max() < 0.1
        assert window(ic + 0.010, ic + 0.040).max() > 1.5
        assert window(to + 0.003, to + 0.030).max() < 0.1
    # shank: the tibial shock peaks within 30 ms after the instrumented foot's IC
    shank = _clean(course, "shank", rate_hz=rate, seed=21)
    mag = np.linalg.norm(shank.acc_g, axis=1)
    own = np.flatnonzero(shank.strike_foot == 0)[1:-1]
    for ic in shank.strike_t_s[own]:
        i0 = round((ic - 0.010) * rate)
        lag_s = (np.argmax(mag[i0 : i0 + 71]) + i0) / rate - ic
        assert 0.0 <= lag_s <= 0.030


def test_placement_magnitudes_are_plausible() -> None:
    course = [Segment(20.0, 0.0, "run"), Segment(20.0, 0.0, "walk")]
    run_pk, walk_pk = {}, {}
    for placement in PLACEMENTS:
        res = _clean(course, placement, rate_hz=500.0, seed=13)
        pk = res.strike_peak_g
        run_pk[placement] = np.nanmedian(pk[(res.strike_t_s > 2) & (res.strike_t_s < 20)])
        walk_pk[placement] = np.nanmedian(pk[(res.strike_t_s > 22) & (res.strike_t_s < 38)])
        mag = np.linalg.norm(res.acc_g, axis=1)
        running = (res.t_s > 2.0) & (res.t_s < 19.0)
        if placement in ("pelvis", "chest"):
            # flight phases read ~0 g, stance ~2-3.5 g: a per-step vertical oscillation
            assert np.percentile(mag[running], 5) < 0.3
            assert 1.8 < np.percentile(mag[running], 95) < 3.5
    assert 3.0 < run_pk["foot"] < 10.0
    assert 3.0 < run_pk["shank"] < 12.0
    assert 1.5 < run_pk["chest"] < run_pk["pelvis"] < 4.5
    for placement in PLACEMENTS:
        assert walk_pk[placement] < 0.6 * run_pk[placement]
    assert 1.2 < walk_pk["foot"] < 3.0 and 1.2 < walk_pk["shank"] < 3.0


def test_clipping_honoured() -> None:
    course = [Segment(10.0, -10.0, "run", impact_scale=1.5)]
    res = simulate(course, "foot", 200.0, seed=2, range_g=4.0)
    assert np.abs(res.acc_g).max() <= 4.0
    assert np.isclose(np.abs(res.acc_g), 4.0).any()
    assert np.nanmax(res.strike_peak_g) > 4.0  # the truth is not clipped
    wide = simulate(course, "foot", 200.0, seed=2, range_g=None)
    assert np.abs(wide.acc_g).max() > 4.0


def test_noise_level() -> None:
    course = [Segment(5.0, 0.0, "stand")]
    quiet = simulate(course, "foot", 200.0, seed=1, noise_g=0.0, range_g=None)
    noisy = simulate(course, "foot", 200.0, seed=1, noise_g=0.05, range_g=None)
    resid = noisy.acc_g - quiet.acc_g
    assert np.std(resid, axis=0) == pytest.approx([0.05] * 3, rel=0.15)


def test_pressure_rises_on_descent_and_falls_on_climb() -> None:
    speed, grade, dur = 3.0, -10.0, 60.0
    course = [
        Segment(10.0, 0.0, "stand"),
        Segment(dur, grade, "run", speed_mps=speed),
        Segment(10.0, grade, "stand"),
        Segment(dur, 8.0, "walk", speed_mps=1.5),
        Segment(10.0, 8.0, "stand"),
    ]
    res = simulate(course, "chest", 50.0, seed=4)
    p = res.pressure_pa

    def mean_at(t0: float, t1: float) -> float:
        return float(p[(res.t_s >= t0) & (res.t_s < t1)].mean())

    before, bottom, top = mean_at(5, 10), mean_at(75, 80), mean_at(145, 150)
    drop_m = speed * dur * math.sin(math.atan(abs(grade) / 100.0))
    # near 400 m the pressure changes by about 11.7 Pa per metre
    assert bottom - before == pytest.approx(11.7 * drop_m, rel=0.05)
    climb_m = 1.5 * dur * math.sin(math.atan(0.08))
    assert bottom - top == pytest.approx(11.7 * climb_m, rel=0.05)
    # the grade truth follows the course away from the boundaries
    assert np.allclose(res.grade_pct[(res.t_s > 15) & (res.t_s < 65)], grade)
    # sensor noise of a few Pa while standing
    still = p[(res.t_s > 2) & (res.t_s < 9)]
    assert 0.5 < np.std(still) < 3.0


def test_rotation_is_proper_and_applied() -> None:
    course = [Segment(6.0, -5.0, "run")]
    ident = _clean(course, "pelvis", seed=3, orientation="identity")
    rand = _clean(course, "pelvis", seed=3)
    rot = rand.rotation
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0)
    assert not np.allclose(rot, np.eye(3))
    np.testing.assert_array_equal(ident.rotation, np.eye(3))
    np.testing.assert_allclose(rand.acc_g, ident.acc_g @ rot.T, atol=1e-12)
    given = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    res = _clean(course, "pelvis", seed=3, orientation=given)
    np.testing.assert_allclose(res.acc_g, ident.acc_g @ given.T, atol=1e-12)
    # different seeds give different mountings
    other = _clean(course, "pelvis", seed=4)
    assert not np.allclose(other.rotation, rot)


@pytest.mark.parametrize(
    "orientation", ["sideways", np.eye(2), np.diag([1.0, 1.0, -1.0]), 2.0 * np.eye(3)]
)
def test_bad_orientation_rejected(orientation: object) -> None:
    with pytest.raises(ValueError):
        simulate([Segment(2.0)], "foot", orientation=orientation)  # type: ignore[arg-type]


def test_bad_arguments_rejected() -> None:
    with pytest.raises(ValueError):
        simulate([Segment(2.0)], "wrist")
    with pytest.raises(ValueError):
        simulate([], "foot")
    with pytest.raises(ValueError):
        simulate([Segment(2.0)], "foot", rate_hz=0.0)
    with pytest.raises(ValueError):
        Segment(2.0, activity="jog")
    with pytest.raises(ValueError):
        Segment(-1.0)
    with pytest.raises(ValueError):
        Segment(5.0, activity="stand", speed_mps=2.0)


def test_turn_leaves_foot_stance_gravity_unchanged() -> None:
    straight = _clean([Segment(20.0, 0.0, "run")], "foot", seed=5, orientation="identity")
    turning = _clean(
        [Segment(20.0, 0.0, "run", turn_deg=180.0)], "foot", seed=5, orientation="identity"
    )
    np.testing.assert_allclose(
        _mid_stance_mean(turning, 3.0, 17.0), _mid_stance_mean(straight, 3.0, 17.0), atol=1e-9
    )
    # but the swing shape changes (centripetal term while the foot moves)
    assert not np.allclose(turning.acc_g[:, 1], straight.acc_g[:, 1], atol=0.05)


def test_downhill_course_story() -> None:
    course = downhill_course()
    total = sum(s.duration_s for s in course)
    assert 120.0 <= total <= 600.0
    res = simulate(course, "shank", 100.0, seed=1)
    starts, ends = _segment_bounds(course)
    descent = [i for i, s in enumerate(course) if s.grade_pct < 0]
    d0, d1 = starts[descent[0]], ends[descent[-1]]
    t, cad = res.strike_t_s, res.cadence_spm
    pk = res.strike_peak_g
    flat = (t > 10.0) & (t < d0)
    over = (t > d0 + 0.3 * (d1 - d0)) & (t < d0 + 0.55 * (d1 - d0))
    fixed = (t > d0 + 0.75 * (d1 - d0)) & (t < d1)
    assert np.nanmedian(cad[flat]) == pytest.approx(170.0, abs=3.0)
    assert np.nanmedian(cad[over]) < np.nanmedian(cad[flat]) - 10.0
    assert np.nanmedian(cad[fixed]) > np.nanmedian(cad[flat])
    assert np.nanmedian(pk[over]) > 1.25 * np.nanmedian(pk[flat])
    assert np.nanmedian(pk[fixed]) < 1.12 * np.nanmedian(pk[flat])
    assert res.pressure_pa[res.t_s > d1].mean() > res.pressure_pa[res.t_s < d0].mean() + 100.0


def test_validation_course_has_the_hard_parts() -> None:
    course = validation_course()
    acts = [s.activity for s in course]
    assert acts[0] == "stand" and acts[-1] == "stand" and "walk" in acts
    assert any(s.turn_deg != 0 for s in course)
    assert any(s.grade_pct == -8.0 for s in course) and any(s.grade_pct == 5.0 for s in course)


def test_ten_minutes_at_1khz_is_fast() -> None:
    t0 = time.perf_counter()
    res = simulate([Segment(600.0, -3.0, "run")], "foot", 1000.0, seed=0)
    elapsed = time.perf_counter() - t0
    assert res.acc_g.shape == (600_000, 3)
    assert elapsed < 8.0  # typically well under a second


def test_scenarios_are_named_uniquely_and_cover_the_brief() -> None:
    scs = scenarios()
    names = [s.name for s in scs]
    assert len(names) == len(set(names))
    assert {s.placement for s in scs} == set(PLACEMENTS)
    assert {52.0, 100.0, 200.0, 500.0, 1000.0} <= {s.rate_hz for s in scs}
    for s in scs:
        assert isinstance(s, Scenario)
        assert 30.0 <= s.duration_s <= 120.0, s.name
        with pytest.raises(dataclasses.FrozenInstanceError):
            s.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: s.name)
def test_every_scenario_simulates_with_consistent_truth(scenario: Scenario) -> None:
    res = scenario.simulate(seed=1)
    assert res.placement == scenario.placement and res.rate_hz == scenario.rate_hz
    assert res.t_s.size == math.floor(scenario.duration_s * scenario.rate_hz + 1e-9)
    assert np.all(np.isfinite(res.acc_g))
    t = res.strike_t_s
    assert t.size > 20
    assert np.all(np.diff(t) > 0.2)  # <= 300 spm, nothing doubled
    assert t[0] > 0.0 and t[-1] < scenario.duration_s
    finite = np.isfinite(res.toe_off_t_s)
    contact = res.toe_off_t_s[finite] - t[finite]
    assert np.all(contact > 0.08) and np.all(contact < 0.9)
    own = res.strike_foot == 0
    if scenario.placement in ("foot", "shank"):
        assert np.all(np.isfinite(res.strike_peak_g[own]))
        assert np.all(np.isnan(res.strike_peak_g[~own]))
    else:
        assert np.all(np.isfinite(res.strike_peak_g))
    again = scenario.simulate(seed=1)
    np.testing.assert_array_equal(again.acc_g, res.acc_g)


# --------------------------------------------------------------------------------------------
# options that widen the simulator toward real recordings


def _own_ics(res: SimResult, skip: int = 2) -> np.ndarray:
    """Instrumented-foot ICs, leaving out the first/last ``skip`` (bout edges)."""
    own = res.strike_t_s[res.strike_foot == 0]
    return own[skip:-skip]


def test_bad_new_options_rejected() -> None:
    with pytest.raises(ValueError, match="strike"):
        Segment(5.0, strike="toe")
    with pytest.raises(ValueError, match="strike"):
        Segment(5.0, activity="walk", strike="forefoot")
    with pytest.raises(ValueError, match="speed"):
        Segment(5.0, activity="stand", speed_end_mps=2.0)
    with pytest.raises(ValueError, match="speed_end_mps"):
        Segment(5.0, speed_end_mps=0.0)
    with pytest.raises(ValueError, match="step_asymmetry"):
        Segment(5.0, step_asymmetry=0.3)
    with pytest.raises(ValueError, match="step_asymmetry"):
        Segment(5.0, step_asymmetry=-0.01)
    with pytest.raises(ValueError, match="terminal_swing"):
        simulate([Segment(2.0)], "foot", terminal_swing="smooth")
    with pytest.raises(ValueError, match="pushoff_g"):
        simulate([Segment(2.0)], "foot", pushoff_g=-1.0)
    with pytest.raises(ValueError, match="foot and shank"):
        simulate([Segment(2.0)], "chest", terminal_swing="merged")
    with pytest.raises(ValueError, match="hip_offset_m"):
        simulate([Segment(2.0)], "foot", hip_offset_m=0.1)
    with pytest.raises(ValueError, match="hip_offset_m"):
        simulate([Segment(2.0)], "pelvis", hip_offset_m=0.5)


def test_defaults_are_the_legacy_model() -> None:
    course = [Segment(2.0, 0.0, "stand"), Segment(10.0, -4.0, "run", turn_deg=60.0)]
    for placement in ("foot", "pelvis"):
        a = simulate(course, placement, 200.0, seed=5)
        kw = {"hip_offset_m": 0.0} if placement == "pelvis" else {"terminal_swing": "quiet"}
        b = simulate(course, placement, 200.0, seed=5, **kw)
        np.testing.assert_array_equal(a.acc_g, b.acc_g)
    # a speed "ramp" to the same speed is no ramp
    c = simulate([Segment(10.0, -4.0, "run", speed_end_mps=3.0)], "foot", 200.0, seed=5)
    d = simulate([Segment(10.0, -4.0, "run")], "foot", 200.0, seed=5)
    np.testing.assert_array_equal(c.acc_g, d.acc_g)
    np.testing.assert_array_equal(c.pressure_pa, d.pressure_pa)


def _contact_heights(res_course: list[Segment], seed: int, merged: bool) -> list[tuple]:
    """Per instrumented-foot stance: heel and metatarsal-head heights over the rocker (IC to
    foot flat), from the simulator's own foot model."""
    from downhill_live.sim import gait

    course = gait._Course(res_course)
    tl = gait._build_timeline(
        course, np.random.default_rng([seed, 1]), np.random.default_rng([seed, 6])
    )
    C = tl.contacts[0]
    out = []
    for i in np.flatnonzero(C["real"] > 0)[2:-3]:
        ic, ff = C["ic"][i], C["ff"][i]
        if merged and C["strike"][i] == 0:
            ff = ic + gait._SLAP_S
        t = np.linspace(ic + 0.1 * (ff - ic), ic + 0.9 * (ff - ic), 9)
        heel = gait._limb(t, C, (0.0, 0.0), merged)[1]
        mtp = gait._limb(t, C, gait._R_MTP, merged)[1]
        out.append((heel, mtp))
    return out


@pytest.mark.parametrize("merged", [False, True])
def test_strike_patterns_land_on_heel_midfoot_or_forefoot(merged: bool) -> None:
    # merged: the touchdown velocity is arrested over ~1 cm of sole and heel-pad compression
    ground = 0.012 + (0.012 if merged else 0.0)
    for strike in ("heel", "midfoot", "forefoot"):
        course = [Segment(2.0, 0.0, "stand"), Segment(15.0, strike=strike)]
        rows = _contact_heights(course, 3, merged)
        assert len(rows) > 10
        for heel, mtp in rows:
            if strike == "heel":  # heel rocker: the heel is down, the forefoot still up
                assert np.all(np.abs(heel) < ground) and np.all(mtp[:3] > 0.015)
            elif strike == "forefoot":  # no heel rocker: forefoot down, the heel lowering
                assert np.all(np.abs(mtp) < ground) and np.all(heel[:3] > 0.015)
            else:  # midfoot: the whole sole at once
                assert np.all(np.abs(heel) < ground) and np.all(np.abs(mtp) < ground)
            if strike != "heel":
                assert not np.all(mtp[:3] > 0.015)


def test_strike_pattern_changes_impacts_not_the_step_timeline() -> None:
    course = {s: [Segment(2.0, 0.0, "stand"), Segment(30.0, strike=s)] for s in STRIKES}
    peaks = {}
    for placement in ("foot", "shank", "pelvis"):
        kw = {"terminal_swing": "merged", "pushoff_g": 2.5} if placement != "pelvis" else {}
        res = {s: _clean(course[s], placement, seed=4, **kw) for s in STRIKES}
        np.testing.assert_array_equal(res["heel"].strike_t_s, res["forefoot"].strike_t_s)
        np.testing.assert_array_equal(res["heel"].toe_off_t_s, res["midfoot"].toe_off_t_s)
        peaks[placement] = {s: np.nanmedian(r.strike_peak_g) for s, r in res.items()}
    # forefoot landings: smaller transients at the foot, the tibia and the trunk
    for placement in ("foot", "shank", "pelvis"):
        assert peaks[placement]["forefoot"] < 0.85 * peaks[placement]["heel"], placement
        assert peaks[placement]["forefoot"] < peaks[placement]["midfoot"], placement
    assert peaks["foot"]["forefoot"] > 2.5  # smaller, not invisible


def test_forefoot_transient_peaks_earlier() -> None:
    rate = 1000.0
    lag = {}
    for strike in ("heel", "forefoot"):
        res = _clean(
            [Segment(2.0, 0.0, "stand"), Segment(20.0, strike=strike)],
            "shank",
            rate_hz=rate,
            seed=8,
        )
        mag = np.linalg.norm(res.acc_g, axis=1)
        lags = []
        for ic in _own_ics(res):
            i0 = round(ic * rate)
            lags.append(np.argmax(mag[i0 : i0 + 40]) / rate)
        lag[strike] = np.median(lags)
    assert lag["forefoot"] < lag["heel"]


def test_merged_terminal_swing_runs_into_the_impact() -> None:
    rate = 1000.0
    course = [Segment(2.0, 0.0, "stand"), Segment(20.0)]
    out = {}
    for mode in ("quiet", "merged"):
        res = _clean(
            course, "foot", rate_hz=rate, seed=3, orientation="identity", terminal_swing=mode
        )
        mag = np.linalg.norm(res.acc_g, axis=1)
        gap, last = [], []
        for ic in _own_ics(res):
            gap.append(mag[(res.t_s >= ic - 0.030) & (res.t_s < ic - 0.002)].min())
            last.append(mag[(res.t_s >= ic - 0.012) & (res.t_s < ic - 0.002)].mean())
        out[mode] = (np.array(gap), np.array(last))
    # quiet: the swing ends at rest, ~1 g (gravity) just before IC
    assert np.all(np.abs(out["quiet"][0] - 1.0) < 0.2)
    # merged: still decelerating up to the impact (real shoes: 1.5 g median minimum over the
    # 60-15 ms before the impact peak)
    assert np.all(out["merged"][0] > 1.4)
    assert np.median(out["merged"][0]) > 1.7
    assert np.all(out["merged"][1] > 1.8)
    assert np.median(out["merged"][1]) > np.median(out["quiet"][1]) + 0.8


def test_merged_swing_keeps_stance_still_and_truth_unchanged() -> None:
    course = [Segment(2.0, 0.0, "stand"), Segment(20.0, -8.0, "run")]
    quiet = _clean(course, "foot", seed=6)
    merged = _clean(course, "foot", seed=6, terminal_swing="merged", pushoff_g=2.5)
    np.testing.assert_array_equal(quiet.strike_t_s, merged.strike_t_s)
    np.testing.assert_array_equal(quiet.toe_off_t_s, merged.toe_off_t_s)
    # mid-stance (after the contact ringing has died out, before heel-off): flat and still,
    # gravity tilted by the slope only
    own = (merged.strike_foot == 0) & np.isfinite(merged.toe_off_t_s) & (merged.strike_t_s > 3)
    means = []
    for res in (quiet, merged):
        rows = []
        for ic, to in zip(res.strike_t_s[own], res.toe_off_t_s[own], strict=True):
            m = (res.t_s >= ic + 0.36 * (to - ic)) & (res.t_s <= ic + 0.46 * (to - ic))
            rows.append(res.acc_g[m])
        samples = np.concatenate(rows)
        np.testing.assert_allclose(np.linalg.norm(samples, axis=1), 1.0, atol=0.06)
        means.append(samples.mean(axis=0))
    cos = means[0] @ means[1] / (np.linalg.norm(means[0]) * np.linalg.norm(means[1]))
    assert math.degrees(math.acos(min(cos, 1.0))) < 1.0


def test_pushoff_transient_and_standing_start_is_not_a_strike() -> None:
    rate = 1000.0
    course = [Segment(3.0, 0.0, "stand"), Segment(8.0), Segment(3.0, 0.0, "stand"), Segment(8.0)]
    starts = [3.0, 14.0]
    base = _clean(course, "foot", rate_hz=rate, seed=2, orientation="identity")
    push = _clean(course, "foot", rate_hz=rate, seed=2, orientation="identity", pushoff_g=2.5)
    np.testing.assert_array_equal(base.strike_t_s, push.strike_t_s)
    diff = np.linalg.norm(push.acc_g - base.acc_g, axis=1)
    # at every toe-off of the instrumented foot, a transient of about pushoff_g
    own_to = push.toe_off_t_s[(push.strike_foot == 0) & np.isfinite(push.toe_off_t_s)]
    for to in own_to:
        i0 = round(to * rate)
        assert 1.5 < diff[i0 : i0 + 40].max() < 4.0
    for b0 in starts:
        # the first push-off of a standing start happens before the bout's first IC ...
        first_ic = push.strike_t_s[push.strike_t_s > b0][0]
        assert first_ic - b0 > 0.25
        own_first = push.strike_t_s[(push.strike_t_s > b0) & (push.strike_foot == 0)][0]
        m = (push.t_s >= b0) & (push.t_s < own_first - 0.05)
        assert diff[m].max() > 1.5  # ... the instrumented foot pushes off from standing ...
        # ... and creates no truth strike: none between the bout start and its first IC
        assert not np.any((push.strike_t_s >= b0) & (push.strike_t_s < first_ic))
    # nothing at all while standing
    still = (push.t_s > 0.5) & (push.t_s < 2.5)
    assert diff[still].max() == 0.0


def test_one_sided_hip_near_side_impacts_larger() -> None:
    course = [Segment(2.0, 0.0, "stand"), Segment(40.0, 0.0, "run", 165.0)]
    ratio = {}
    for off in (-0.15, 0.0, 0.15):
        res = _clean(course, "pelvis", rate_hz=100.0, seed=7, hip_offset_m=off)
        pk = res.strike_peak_g
        left = np.median(pk[res.strike_foot == 0])
        right = np.median(pk[res.strike_foot == 1])
        ratio[off] = left / right
    assert ratio[0.15] > 1.25  # sensor on the left hip: left impacts larger
    assert ratio[-0.15] < 1.0 / 1.25
    assert abs(ratio[0.0] - 1.0) < 0.08
    # the step timeline is the runner's, not the sensor's
    a = _clean(course, "pelvis", seed=7, hip_offset_m=0.15)
    b = _clean(course, "pelvis", seed=7)
    np.testing.assert_array_equal(a.strike_t_s, b.strike_t_s)


def test_step_asymmetry_makes_intervals_alternate() -> None:
    a = 0.11
    res = simulate(
        [Segment(2.0, 0.0, "stand"), Segment(60.0, 0.0, "run", 156.0, step_asymmetry=a)],
        "pelvis",
        100.0,
        seed=3,
    )
    iv = np.diff(res.strike_t_s)
    ends_left = res.strike_foot[1:] == 0
    long_, short = np.median(iv[ends_left]), np.median(iv[~ends_left])
    assert long_ == pytest.approx(60.0 / 156.0 * (1 + a), rel=0.02)  # 0.43 s
    assert short == pytest.approx(60.0 / 156.0 * (1 - a), rel=0.02)  # 0.34 s
    assert np.all(np.sign(np.diff(iv)) != 0)
    assert np.mean(np.diff(iv)[:-1] * np.diff(iv)[1:] < 0) > 0.9  # long, short, long, ...
    # the stride (two steps) keeps the nominal cadence
    assert 120.0 / np.median(iv[:-1] + iv[1:]) == pytest.approx(156.0, rel=0.01)


def test_sprint_ramp_speed_and_cadence() -> None:
    course = [
        Segment(2.0, 0.0, "stand"),
        Segment(10.0, 0.0, "run", 140.0, speed_mps=2.2),
        Segment(12.0, -10.0, "run", 150.0, 220.0, speed_mps=2.5, speed_end_mps=7.0),
        Segment(8.0, 0.0, "run", 220.0, speed_mps=7.0),
    ]
    res = simulate(course, "chest", 100.0, seed=1)
    t, cad = res.strike_t_s, res.cadence_spm
    assert np.nanmedian(cad[(t > 4.0) & (t < 11.0)]) == pytest.approx(140.0, rel=0.02)
    assert np.nanmedian(cad[(t > 25.0) & (t < 31.0)]) == pytest.approx(220.0, rel=0.02)
    contact = res.toe_off_t_s - t
    slow = np.nanmedian(contact[(t > 4.0) & (t < 11.0)])
    fast = np.nanmedian(contact[(t > 25.0) & (t < 31.0)])
    assert fast < 0.65 * slow and 0.1 < fast < 0.2  # sprint contacts are short
    # the distance over the ramp is the integral of the speed: (2.5 + 7) / 2 x 12 s on -10 %
    p = res.pressure_pa
    before = p[(res.t_s > 10.0) & (res.t_s < 12.0)].mean()
    after = p[(res.t_s > 24.5) & (res.t_s < 26.0)].mean()
    drop_m = 4.75 * 12.0 * math.sin(math.atan(0.1))
    assert after - before == pytest.approx(11.7 * drop_m, rel=0.08)


@pytest.mark.parametrize("placement", ["foot", "pelvis"])
def test_tight_curves_like_the_real_shoe_trials(placement: str) -> None:
    v, radius, dur = 1.9, 1.2, 20.0
    turn = math.degrees(v * dur / radius)  # ~1800 deg: five laps of a 1.2 m circle
    course = [
        Segment(2.0, 0.0, "stand"),
        Segment(dur, 0.0, "run", 154.0, speed_mps=v, turn_deg=turn),
    ]
    kw = {"terminal_swing": "merged", "pushoff_g": 2.5} if placement == "foot" else {}
    res = _clean(course, placement, seed=5, orientation="identity", **kw)
    assert res.strike_t_s.size == pytest.approx(154.0 / 60.0 * dur, abs=4)
    if placement == "pelvis":
        # over whole strides the trunk's mean specific force is gravity plus the centripetal
        # acceleration v^2 / r, whatever the lean
        # (relative to straight running: the trunk model's impact pulses add vertical impulse)
        straight = _clean(
            [course[0], Segment(dur, 0.0, "run", 154.0, speed_mps=v)],
            placement,
            seed=5,
            orientation="identity",
        )
        m = (res.t_s > 4.0) & (res.t_s < 20.0)
        c = v * v / radius / 9.80665
        ratio = np.linalg.norm(res.acc_g[m].mean(axis=0)) / np.linalg.norm(
            straight.acc_g[m].mean(axis=0)
        )
        assert ratio == pytest.approx(math.hypot(1.0, c), rel=0.02)
    else:
        straight = _clean(
            [course[0], Segment(dur, 0.0, "run", 154.0, speed_mps=v)],
            placement,
            seed=5,
            orientation="identity",
            **kw,
        )
        np.testing.assert_array_equal(straight.strike_t_s, res.strike_t_s)
        assert np.isfinite(res.strike_peak_g[res.strike_foot == 0]).all()


def test_ten_minutes_with_the_realistic_options_is_fast() -> None:
    t0 = time.perf_counter()
    course = [Segment(600.0, -3.0, "run", strike="forefoot")]
    res = simulate(course, "foot", 1000.0, seed=0, terminal_swing="merged", pushoff_g=2.5)
    elapsed = time.perf_counter() - t0
    assert res.acc_g.shape == (600_000, 3)
    assert elapsed < 12.0  # typically 2-4 s


def test_a_curve_starts_without_a_jump_on_a_one_sided_hip() -> None:
    # the lean into a turn and the centripetal force ease in: a yaw rate that jumped in one
    # sample put a 20 g spike on the hip sensor's lever arm at the curve's start
    course = [
        Segment(2.0, 0.0, "stand"),
        Segment(10.0, 0.0, "run", 165.0, speed_mps=3.0),
        Segment(10.0, 0.0, "run", 172.0, speed_mps=3.3, turn_deg=270.0),
    ]
    sim = simulate(course, "pelvis", rate_hz=100.0, seed=0, hip_offset_m=0.15)
    t = np.asarray(sim.t_s)
    mag = np.linalg.norm(np.asarray(sim.acc_g), axis=1)
    near = (t > 11.0) & (t < 13.0)
    assert mag[near].max() < 1.5 * mag[(t > 5.0) & (t < 11.0)].max()


def _half_height_width_s(t: np.ndarray, mag: np.ndarray, i: int, base_g: float) -> float:
    """Width of the peak of ``mag`` at sample ``i`` at half its height above ``base_g``
    (linearly interpolated crossings)."""
    half = base_g + 0.5 * (mag[i] - base_g)
    lo, hi = i, i
    while mag[lo - 1] >= half:
        lo -= 1
    while mag[hi + 1] >= half:
        hi += 1
    t_lo = t[lo - 1] + (half - mag[lo - 1]) / (mag[lo] - mag[lo - 1]) * (t[lo] - t[lo - 1])
    t_hi = t[hi] + (mag[hi] - half) / (mag[hi] - mag[hi + 1]) * (t[hi + 1] - t[hi])
    return float(t_hi - t_lo)


def test_merged_heel_strike_impact_is_as_wide_as_a_real_shoes() -> None:
    # The real shoe IMU (shared pyshoe trials, 200 Hz, heel strikers jogging at ~1.9 m/s)
    # shows impacts 21 ms wide at half height (median; quartiles 17 / 26 ms), measured by
    # benchmarks/sim_vs_real.py. A model 8 ms wide lost its impact below the terminal-swing
    # hump when sampled at 52 Hz, which real shoes do not.
    course = [Segment(2.0, 0.0, "stand"), Segment(20.0, 0.0, "run", 154.0, speed_mps=1.9)]
    res = _clean(course, "foot", seed=1, terminal_swing="merged", pushoff_g=2.5)
    t, mag = res.t_s, np.linalg.norm(res.acc_g, axis=1)
    widths = []
    for ic in res.strike_t_s[(res.strike_foot == 0) & (res.strike_t_s > 4.0)][:-1]:
        w = np.flatnonzero((t >= ic - 0.03) & (t < ic + 0.05))
        i = int(w[np.argmax(mag[w])])
        stance = float(np.median(mag[(t >= t[i] + 0.06) & (t < t[i] + 0.15)]))
        widths.append(_half_height_width_s(t, mag, i, stance))
    assert len(widths) > 10
    assert 0.017 <= float(np.median(widths)) <= 0.026, np.median(widths)


def test_merged_foot_at_52hz_impact_dominates_the_detection_signal_like_a_real_shoe() -> None:
    # benchmarks/sim_vs_real.py, the shared pyshoe trials decimated to 52 Hz as validate.py
    # does, the detector's high-passed signal (downhill_live.core) around each impact,
    # medians over 86 strides: impact 1.44 g, terminal swing 0.52 g, where the swing's push
    # turns into braking (0.26-0.12 s before the impact) 0.33 g; 2 % of the impacts below the
    # swing. The model's push-to-braking turn within ~0.08 s read 0.59 g there (as high as
    # the impact's 0.76 g on a fifth of the strides); a turn over ~0.25 s and the irregular
    # contact burst read 0.43 g, impacts 0.83 g.
    from scipy.signal import lfilter

    from downhill_live.core.params import kernel_params

    course = [Segment(2.0, 0.0, "stand"), Segment(20.0, 0.0, "run", 154.0, speed_mps=1.9)]
    res = simulate(course, "foot", 52.0, seed=2, terminal_swing="merged", pushoff_g=2.5)
    a = kernel_params(52.0, "foot").hp_a
    x = res.acc_g - res.acc_g[0]
    d = np.linalg.norm(lfilter([a, -a], [1.0, -a], x, axis=0), axis=1)
    t, mag = res.t_s, np.linalg.norm(res.acc_g, axis=1)
    imp, turn, swing = [], [], []
    for ic in res.strike_t_s[(res.strike_foot == 0) & (res.strike_t_s > 3.0)]:
        w = np.flatnonzero((t >= ic - 0.03) & (t < ic + 0.05))
        tp = t[w[np.argmax(mag[w])]]
        imp.append(d[(t >= tp - 0.03) & (t < tp + 0.05)].max())
        turn.append(d[(t >= tp - 0.26) & (t < tp - 0.12)].max())
        swing.append(d[(t >= tp - 0.25) & (t < tp - 0.04)].max())
    imp_a, turn_a, swing_a = np.array(imp), np.array(turn), np.array(swing)
    assert imp_a.size > 20
    assert float(np.median(turn_a)) < 0.5, np.median(turn_a)
    assert float(np.median(imp_a / swing_a)) > 1.6, np.median(imp_a / swing_a)
    assert float(np.mean(imp_a < swing_a)) <= 0.05


def test_merged_foot_contact_burst_is_seeded_and_rate_independent() -> None:
    # the irregular contact burst draws its own random stream: the same seed gives the same
    # burst at every sample rate (1 kHz and 200 Hz agree after box-averaging), and a
    # different seed a different one
    course = [Segment(2.0, 0.0, "stand"), Segment(6.0, 0.0, "run")]
    kw = {"terminal_swing": "merged", "pushoff_g": 2.5, "orientation": "identity"}
    hi = _clean(course, "foot", rate_hz=1000.0, seed=4, **kw)
    lo = _clean(course, "foot", rate_hz=200.0, seed=4, **kw)
    other = _clean(course, "foot", rate_hz=200.0, seed=5, **kw)
    n = lo.acc_g.shape[0] - 1
    # a 200 Hz sample averages the 1 kHz grid over +-2 ms around its time
    hi_box = hi.acc_g[3 : 3 + 5 * (n - 1)].reshape(-1, 5, 3).mean(axis=1)
    np.testing.assert_allclose(hi_box, lo.acc_g[1:n], atol=0.05)
    assert np.abs(other.acc_g - lo.acc_g).max() > 0.5


@pytest.mark.parametrize("placement", ["pelvis", "chest"])
def test_trunk_running_start_pushes_off_into_a_flight(placement: str) -> None:
    # a running start from standing: the push-off stance lifts the body (|a| well above 1 g,
    # vertical impulse = stance time + half the flight) and the first landing follows a
    # flight (|a| near 0), as every later landing does; before, the trunk stood still until
    # the first landing, which no runner can do
    course = [Segment(3.0, 0.0, "stand"), Segment(8.0, 0.0, "run", 170.0)]
    res = _clean(course, placement, rate_hz=500.0)
    t, mag = res.t_s, np.linalg.norm(res.acc_g, axis=1)
    ic0 = float(res.strike_t_s[0])
    step_s = 60.0 / 170.0
    push = mag[(t > 3.0) & (t < ic0 - 0.1)]
    assert push.max() > 1.4
    assert np.all(np.abs(mag[t < 2.9] - 1.0) < 0.05)  # standing before
    flight = mag[(t > ic0 - 0.04) & (t < ic0 - 0.005)]
    assert flight.max() < 0.2
    # the same flight before a later landing
    ic5 = float(res.strike_t_s[5])
    assert mag[(t > ic5 - 0.04) & (t < ic5 - 0.005)].max() < 0.2
    assert ic0 - 3.0 < 2.0 * step_s  # the push-off takes about a step
