"""A missing input file is bad input (exit 2, one line naming it) in every command, as the
README's exit codes say: the same answer from replay as from import (issue #14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from downhill_live.cli import main

ROOT = Path(__file__).resolve().parents[2]
REC = str(ROOT / "recordings" / "descent_foot_200hz.dlr")

CASES = [
    ["replay", "{m}/gone.dlr", "--no-speak"],
    ["replay", "{m}/gone.dlr", "--no-speak", "--verify"],
    ["report", "{m}/gone.dlr", "-o", "{d}/r.html"],
    ["tune", "{m}/gone.dlr", "--set", "cadence_low.window_steps=3..5:1"],
    ["analyze", "{m}/gone.dlr"],
    ["import", "{m}/gone.csv", "-o", "{d}/x.dlr"],
    ["export", "{m}/gone.dlr", "--samples", "{d}/s.csv"],
    ["attach", "{m}/gone.dlr", "{m}/gone.fit"],
    ["segments", "{m}/gone.dlr"],
    ["replay", REC, "--no-speak", "--profile", "{m}/gone.yaml"],
    ["profile", "check", "{m}/gone.yaml"],
]


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(c[:2]) for c in CASES])
def test_missing_input_exits_2_with_one_line(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing"
    args = [a.replace("{m}", str(missing)).replace("{d}", str(tmp_path)) for a in argv]
    code = main(args)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("downhill-live: error: "), err
    assert str(missing / "gone") in lines[0] and "No such file" in lines[0]
    assert code == 2, (code, err)
    assert list(tmp_path.iterdir()) == []  # nothing written
