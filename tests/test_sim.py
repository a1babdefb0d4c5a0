"""Tests of the gait simulator: ground truth, physics and determinism (no snapshots)."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest

from downhill_live.sim.gait import (
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
