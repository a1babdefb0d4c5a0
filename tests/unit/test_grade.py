"""Grade and descent state (downhill_live.core.grade): honest sources, against ground truth."""

from __future__ import annotations

import glob
import itertools
import math

import numpy as np
import pytest

from downhill_live.core import GaitTracker
from downhill_live.core.grade import grade_params
from downhill_live.sim import gait
from downhill_live.sim.gait import Segment
from tests.conftest import SHARED_DATA, run_python

S = Segment
SHOE = SHARED_DATA / "pyshoe-foot-running"
HAVE_SHOE = (SHOE / "contacts.csv").exists()


def run(sim: gait.SimResult, placement: str, baro: bool, chunks: int | None = None) -> tuple:
    tr = GaitTracker(sim.rate_hz, placement)
    pr = sim.pressure_pa if baro else None
    if chunks is None:
        steps = tr.update_many(sim.t_s, sim.acc_g, pr)
    else:
        steps = []
        for k in range(0, len(sim.t_s), chunks):
            sl = slice(k, k + chunks)
            steps += tr.update_many(sim.t_s[sl], sim.acc_g[sl], None if pr is None else pr[sl])
    ts = np.array([s.t_s for s in steps])
    g = np.array([s.grade_pct for s in steps])
    d = np.array([s.on_descent for s in steps])
    return tr, steps, ts, g, d


# ------------------------------------------------------------------ reference (barometer path)
def naive_baro_grade(t: np.ndarray, pr: np.ndarray, speed_mps: float, window_s: float) -> float:
    """Least-squares slope of ISA altitude over distance in the last ``window_s`` (no filter):
    what the kernel estimates, written the obvious way."""
    h = 44330.77 * (1.0 - (pr / 101325.0) ** 0.190263)
    sel = t >= t[-1] - window_s
    x = t[sel] * speed_mps
    return 100.0 * float(np.polyfit(x, h[sel], 1)[0])


def test_barometric_grade_matches_a_least_squares_reference() -> None:
    segs = [S(30.0, 0.0, "run"), S(30.0, -8.0, "run"), S(30.0, 6.0, "run")]
    sim = gait.simulate(segs, "pelvis", 100.0, seed=4)
    tr, _, ts, g, _ = run(sim, "pelvis", baro=True)
    assert tr.grade_source_ == "barometer"
    v = 3.0  # the simulator's running speed; the core uses cadence x 1.05 m (170 spm: 2.98 m/s)
    for t_check, truth in ((25.0, 0.0), (55.0, -8.0), (85.0, 6.0)):
        i = int(np.searchsorted(sim.t_s, t_check))
        ref = naive_baro_grade(sim.t_s[:i], sim.pressure_pa[:i], v, 3.0)
        k = int(np.searchsorted(ts, t_check))
        assert ref == pytest.approx(truth, abs=1.0)
        assert g[k - 1] == pytest.approx(ref, abs=1.0)


def test_barometer_descent_entry_and_exit_within_4_s_and_any_chunking_alike() -> None:
    segs = [S(40.0, 0.0, "run"), S(40.0, -10.0, "run"), S(40.0, 0.0, "run")]
    sim = gait.simulate(segs, "chest", 100.0, seed=9)
    _, steps, ts, _, d = run(sim, "chest", baro=True)
    enter = ts[d][0]
    leave = ts[(ts > enter) & ~d][0]
    assert 40.0 < enter < 44.0  # slope ramps in over 38.5-41.5 s
    assert 80.0 < leave < 84.0
    _, steps7, *_ = run(sim, "chest", baro=True, chunks=7)
    _, steps500, *_ = run(sim, "chest", baro=True, chunks=500)
    assert repr(steps7) == repr(steps) == repr(steps500)


def test_rolling_terrain_does_not_flap() -> None:
    # +-4 % rollers every 20 s never reach the -5 % threshold: no descent at all; a -7 % stretch
    # between -4 % rollers is one descent, not several
    segs = [S(60.0, 0.0, "run")]
    for _ in range(4):
        segs += [S(10.0, -4.0, "run"), S(10.0, 4.0, "run")]
    segs += [S(30.0, -7.0, "run"), S(8.0, -4.0, "run"), S(30.0, -7.0, "run"), S(30.0, 0.0, "run")]
    sim = gait.simulate(segs, "pelvis", 100.0, seed=5)
    _, _, ts, _, d = run(sim, "pelvis", baro=True)
    assert not d[ts < 140.0].any()
    starts = np.flatnonzero(np.diff(d.astype(int)) == 1)
    assert len(starts) == 1


def test_hold_counts_the_grade_window() -> None:
    # the 3 s window holds about 4.5 s of evidence when it crosses the threshold
    assert grade_params(100.0, "pelvis", descent_min_s=8.0).hold_s == pytest.approx(3.5)
    assert grade_params(100.0, "pelvis", descent_min_s=5.0).hold_s == pytest.approx(0.5)
    assert grade_params(100.0, "pelvis", descent_min_s=0.0).hold_s == pytest.approx(0.5)


# ------------------------------------------------------------------ external sources
def test_treadmill_grade_is_used_exactly_and_takes_precedence() -> None:
    sim = gait.simulate([S(40.0, 0.0, "run")], "chest", 100.0, seed=2)
    tr = GaitTracker(100.0, "chest", descent_min_s=0.0)
    steps = []
    for k in range(0, len(sim.t_s), 100):  # one treadmill value a second
        tr.set_external_grade(-6.5 if sim.t_s[k] >= 20.0 else 0.0)
        steps += tr.update_many(
            sim.t_s[k : k + 100], sim.acc_g[k : k + 100], sim.pressure_pa[k : k + 100]
        )
    g = np.array([s.grade_pct for s in steps])
    ts = np.array([s.t_s for s in steps])
    d = np.array([s.on_descent for s in steps])
    assert np.all(g[(ts > 5) & (ts < 20)] == 0.0)
    assert np.all(g[ts > 21.0] == -6.5)  # the barometer (flat) is overruled
    assert d[ts > 21.0].all() and not d[ts < 20.0].any()
    assert tr.grade_source_ == "treadmill"


def test_treadmill_value_coming_and_going_without_barometer() -> None:
    # a pelvis without barometer knows a grade only while the treadmill gives one: -8 % once a
    # second from 10 s, no value from 20 s (unknown at once, the descent ends after its hold);
    # the same for any chunking (the grade kernel skips its update while nothing can change)
    sim = gait.simulate([S(35.0, 0.0, "run")], "pelvis", 100.0, seed=7)
    n = len(sim.t_s)
    sends = {k: -8.0 for k in range(1000, 2000, 100)} | {2000: math.nan}

    def feed(chunk: int) -> list:
        tr = GaitTracker(100.0, "pelvis", descent_min_s=0.0)
        steps = []
        cuts = sorted(set(range(0, n, chunk)) | set(sends) | {n})
        for a, b in itertools.pairwise(cuts):
            if a in sends:
                tr.set_external_grade(sends[a])
            steps += tr.update_many(sim.t_s[a:b], sim.acc_g[a:b])
        assert tr.grade_source_ == "unknown" and not tr.on_descent_
        return steps

    steps = feed(n)
    ts = np.array([s.t_s for s in steps])
    g = np.array([s.grade_pct for s in steps])
    d = np.array([s.on_descent for s in steps])
    assert np.isnan(g[ts < 9.9]).all() and not d[ts < 9.9].any()
    assert np.all(g[(ts > 10.2) & (ts < 19.8)] == -8.0) and d[(ts > 11.0) & (ts < 19.8)].all()
    assert np.isnan(g[ts > 20.2]).all() and not d[ts > 21.0].any()
    assert repr(feed(1)) == repr(feed(16)) == repr(steps)


def test_foot_tilt_any_chunking_alike() -> None:
    # the tilt path carries its filters, ring and pending foot-flat across blocks
    segs = [S(3.0, 0.0, "stand"), S(25.0, 0.0, "run"), S(20.0, -10.0, "run")]
    sim = gait.simulate(segs, "foot", 200.0, seed=2)
    tr, steps, _, g, d = run(sim, "foot", baro=False)
    assert tr.grade_source_ == "foot tilt" and np.isfinite(g).sum() > 30 and d.any()
    for chunks in (1, 16, 333):
        tr_c, steps_c, *_ = run(sim, "foot", baro=False, chunks=chunks)
        assert repr(steps_c) == repr(steps), chunks
        assert repr(tr_c.grade_pct_) == repr(tr.grade_pct_)


def test_speed_source_sets_the_barometric_distance() -> None:
    # a true -10 % at 3.9 m/s: with the pod's speed the grade is right; cadence x 1.05 m is not
    segs = [S(20.0, 0.0, "run", speed_mps=3.9), S(40.0, -10.0, "run", speed_mps=3.9)]
    sim = gait.simulate(segs, "pelvis", 100.0, seed=1)
    tr = GaitTracker(100.0, "pelvis")
    steps = []
    for k in range(0, len(sim.t_s), 50):
        tr.set_speed(3.9)
        steps += tr.update_many(
            sim.t_s[k : k + 50], sim.acc_g[k : k + 50], sim.pressure_pa[k : k + 50]
        )
    g = np.array([s.grade_pct for s in steps])
    ts = np.array([s.t_s for s in steps])
    assert np.median(g[ts > 30]) == pytest.approx(-10.0, abs=0.5)
    _, _, ts2, g2, _ = run(sim, "pelvis", baro=True)
    assert abs(np.median(g2[ts2 > 30]) + 10.0) > 1.5  # the nominal step length misses it


# ------------------------------------------------------------------ honest unknown
@pytest.mark.parametrize("placement", ["shank", "pelvis", "chest"])
def test_no_barometer_no_foot_means_unknown(placement: str) -> None:
    segs = [S(3.0, 0.0, "stand"), S(30.0, 0.0, "run"), S(40.0, -10.0, "run")]
    sim = gait.simulate(segs, placement, 200.0, seed=3)
    tr, steps, _, g, d = run(sim, placement, baro=False)
    assert len(steps) > 40
    assert np.isnan(g).all() and not d.any()
    assert tr.grade_source_ == "unknown"


def test_foot_tilt_needs_a_still_stand() -> None:
    # starting on a -12 % descent without standing: unknown all run, never a wrong flat
    segs = [S(40.0, -12.0, "run"), S(40.0, 0.0, "run")]
    sim = gait.simulate(segs, "foot", 200.0, seed=4)
    _, steps, _, g, d = run(sim, "foot", baro=False)
    assert len(steps) > 40 and np.isnan(g).all() and not d.any()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_foot_tilt_after_a_still_stand_follows_the_slope(seed: int) -> None:
    segs = [S(3.0, 0.0, "stand"), S(30.0, 0.0, "run"), S(40.0, -10.0, "run"), S(40.0, 8.0, "run")]
    sim = gait.simulate(segs, "foot", 200.0, seed=seed)
    tr, _, ts, g, d = run(sim, "foot", baro=False)
    truth = np.interp(ts, sim.t_s, sim.grade_pct)
    settled = np.isfinite(g) & (ts > 20)
    assert settled[(ts > 20)].mean() > 0.95
    for lo, hi, want in ((20, 33, 0.0), (45, 73, -10.0), (85, 113, 8.0)):
        sel = (ts > lo) & (ts < hi)
        assert np.median(g[sel]) == pytest.approx(want, abs=1.0)
        assert np.mean(np.abs(g[sel] - truth[sel]) < 2.5) > 0.9
    assert not d[ts < 33].any() and d[(ts > 40) & (ts < 73)].all() and not d[ts > 80].any()
    assert tr.grade_source_ == "foot tilt"


@pytest.mark.skipif(not HAVE_SHOE, reason="shared real shoe data not found")
def test_real_shoe_data_has_no_false_descent() -> None:
    # flat running in a motion-capture room: a jogging foot is quasi-static for ~15 ms a stride,
    # so foot-flat is not reliable and the grade stays unknown (never a false descent)
    for path in sorted(glob.glob(str(SHOE / "2017-*.csv"))):
        d = np.loadtxt(path, delimiter=",", skiprows=1)
        tr = GaitTracker(200.0, "foot")
        steps = tr.update_many(d[:, 0], d[:, 1:4])
        assert len(steps) >= 15, path
        assert not any(s.on_descent for s in steps), path
        g = np.array([s.grade_pct for s in steps])
        assert np.all(np.isnan(g) | (np.abs(g) < 3.0)), path
        assert math.isnan(tr.grade_pct_) or abs(tr.grade_pct_) < 3.0


# ------------------------------------------------------------------ numba optional
_SCRIPT = r"""
import json, sys
import numpy as np
from downhill_live.core import GaitTracker
from downhill_live.sim import gait
S = gait.Segment
sim = gait.simulate([S(3.0, 0.0, "stand"), S(25.0, 0.0, "run"), S(20.0, -10.0, "run")], "foot", 200.0, seed=2)
tr = GaitTracker(200.0, "foot")
steps = []
for k in range(0, len(sim.t_s), 333):
    if sim.t_s[k] > 40.0:
        tr.set_external_grade(-4.0)
    steps += tr.update_many(sim.t_s[k:k + 333], sim.acc_g[k:k + 333])
print(json.dumps([[s.t_s, s.grade_pct, float(s.on_descent)] for s in steps]))
"""


def test_plain_python_grade_kernel_gives_identical_results() -> None:
    import json

    out = []
    for disable in ("0", "1"):
        stdout = run_python(_SCRIPT, env={"NUMBA_DISABLE_JIT": disable})
        out.append(np.array(json.loads(stdout.replace("NaN", "null")), dtype=float))
    jit, plain = out
    assert len(jit) > 30 and np.isfinite(jit[:, 1]).sum() > 10  # the tilt and the treadmill
    np.testing.assert_allclose(jit, plain, rtol=0, atol=1e-9, equal_nan=True)
