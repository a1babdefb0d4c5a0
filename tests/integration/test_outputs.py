"""No command writes over one of its inputs; an existing output is kept unless --force; what is
written is complete (atomic) and no temporary file is left behind."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from downhill_live import cli
from downhill_live.config.cue_profile import DEFAULT_PROFILE

ROOT = Path(__file__).resolve().parents[2]
RECORDING = ROOT / "recordings" / "descent_foot_200hz.dlr"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copy(RECORDING, tmp_path / "run.dlr")
    shutil.copy(DEFAULT_PROFILE, tmp_path / "cues.yaml")
    (tmp_path / "in.csv").write_text(
        "t_s,ax,ay,az\n" + "".join(f"{i / 100:.2f},0,0,1\n" for i in range(300))
    )
    return tmp_path


#: command -> (argv with OUT for the output, the inputs it reads)
COMMANDS = {
    "report": (["report", "{d}/run.dlr", "-o", "OUT"], ["run.dlr"]),
    "export-steps": (["export", "{d}/run.dlr", "--steps", "OUT"], ["run.dlr"]),
    "export-samples": (["export", "{d}/run.dlr", "--samples", "OUT"], ["run.dlr"]),
    "tune": (
        ["tune", "{d}/run.dlr", "--profile", "{d}/cues.yaml", "--suggest", "-o", "OUT"],
        ["run.dlr", "cues.yaml"],
    ),
    "replay-wav": (["replay", "{d}/run.dlr", "--no-speak", "--wav", "OUT"], ["run.dlr"]),
    "import": (["import", "{d}/in.csv", "-o", "OUT"], ["in.csv"]),
    "profile-init": (["profile", "init", "OUT"], []),
}


def argv_for(name: str, d: Path, out: Path) -> list[str]:
    argv, _ = COMMANDS[name]
    return [str(out) if a == "OUT" else a.format(d=d) for a in argv]


@pytest.mark.parametrize("name", [n for n in COMMANDS if COMMANDS[n][1]])
def test_an_input_is_never_the_output(
    name: str, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for victim in COMMANDS[name][1]:
        before = digest(work / victim)
        for force in ([], ["--force"]):
            code = cli.main(argv_for(name, work, work / victim) + force)
            err = capsys.readouterr().err.strip().splitlines()
            assert code != 0
            assert len(err) == 1 and "is an input of this command" in err[0], err
            assert digest(work / victim) == before


@pytest.mark.parametrize("name", list(COMMANDS))
def test_an_existing_output_is_kept_unless_force(
    name: str, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = work / f"out-{name}"
    out.write_text("the user's own file\n")
    code = cli.main(argv_for(name, work, out))
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "give --force" in err[0], err
    assert out.read_text() == "the user's own file\n"
    assert cli.main([*argv_for(name, work, out), "--force"]) == 0
    assert out.read_text(errors="replace") != "the user's own file\n" and out.stat().st_size > 0
    leftovers = [p.name for p in work.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_a_failed_write_leaves_the_old_file(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = work / "steps.csv"
    out.write_text("old\n")
    # the recording is unreadable: nothing is written, the old output stays as it was
    bad = work / "bad.dlr"
    bad.write_bytes(b"not a recording")
    assert cli.main(["export", str(bad), "--steps", str(out), "--force"]) != 0
    assert out.read_text() == "old\n"
    assert [p.name for p in work.iterdir() if p.name.startswith(".")] == []
    capsys.readouterr()


def test_decode_prints_strict_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    # x = +inf, y = nan, z = 1.0 as float32 little-endian after a u32 counter
    assert cli.main(["decode", "imported-f32", "000000000000807f0000c07f0000803f"]) == 0
    line = capsys.readouterr().out.strip()
    doc = json.loads(line, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    assert doc["acc_g"] == [[None, None, 1.0]]
