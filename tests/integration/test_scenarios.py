"""Every realistic simulator scenario (``gait.scenarios()``) against its own ground truth: the
target of ``benchmarks/validate.py`` (strike F1 >= 0.99, cadence within 1 spm in the median
10 s window), so that a change to the detector or the simulator cannot quietly lose one.

The scenarios that miss it today are strict xfails with the reason README "Accuracy and
speed" gives: when one starts to pass, the test says so and the list must shrink.
"""

from __future__ import annotations

import pytest

from downhill_live.sim import gait
from downhill_live.tools.accuracy import score_sim

KNOWN_MISSES: dict[str, str] = {}


def _params() -> list:
    out = []
    for sc in gait.scenarios():
        marks = []
        if sc.name in KNOWN_MISSES:
            marks = [pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[sc.name])]
        out.append(pytest.param(sc, id=sc.name, marks=marks))
    return out


@pytest.mark.parametrize("scenario", _params())
def test_scenario_meets_the_target(scenario: gait.Scenario) -> None:
    r = score_sim(scenario.simulate(seed=0))
    assert r["f1"] >= 0.99, (r["f1"], r["fp"], r["fn"])
    assert r["cadence_err_spm_10s_median"] <= 1.0, r["cadence_err_spm_10s_median"]


def test_known_misses_are_scenarios() -> None:
    names = {sc.name for sc in gait.scenarios()}
    assert set(KNOWN_MISSES) <= names
