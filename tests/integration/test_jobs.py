"""``--jobs``: analyze, tune and report over several recordings on several processes give what
one process gives, in input order; a bad input in a worker is one line and a non-zero exit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import RECORDINGS, ROOT


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "downhill_live", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _inputs(tmp_path: Path) -> list[str]:
    out = []
    for i, name in enumerate(["descent_foot_200hz", "descent_shank_500hz", "descent_foot_200hz"]):
        dst = tmp_path / f"{i}_{name}.dlr"
        shutil.copy(RECORDINGS / f"{name}.dlr", dst)
        out.append(str(dst))
    return out


def test_analyze_and_tune_with_jobs_match_one_process(tmp_path: Path) -> None:
    files = _inputs(tmp_path)
    one = _run("analyze", *files, "--format", "csv", "--jobs", "1")
    two = _run("analyze", *files, "--format", "csv", "--jobs", "2")
    assert one.returncode == two.returncode == 0, one.stderr + two.stderr
    assert one.stdout == two.stdout
    lines = one.stdout.splitlines()
    assert lines[0].startswith("file,t_s,")
    assert [ln.split(",")[0] for ln in lines[1:]] == sorted(
        (ln.split(",")[0] for ln in lines[1:]), key=files.index
    )  # input order
    assert {ln.split(",")[0] for ln in lines[1:]} == set(files)
    single = _run("analyze", files[1], "--format", "csv")
    assert single.stdout.splitlines()[0].startswith("t_s,")  # one input: no file column
    assert len(single.stdout.splitlines()) - 1 == sum(
        f == files[1] for f in [ln.split(",")[0] for ln in lines[1:]]
    )
    spec = "cadence_low.baseline_pct=-6..-2:2"
    t1 = _run("tune", *files, "--set", spec, "-j", "1")
    t0 = _run("tune", *files, "--set", spec, "-j", "0")
    assert t1.returncode == t0.returncode == 0, t1.stderr + t0.stderr
    assert t1.stdout == t0.stdout and "3 recording(s)" in t1.stdout


def test_report_with_jobs_writes_every_page(tmp_path: Path) -> None:
    files = _inputs(tmp_path)[:2]
    out = _run("report", *files, "--jobs", "2", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for f in files:
        page = tmp_path / Path(f).with_suffix(".html").name
        assert page.stat().st_size > 10_000
        assert f"wrote {page.name}" in out.stdout
    assert _run("report", *files, "-o", "x.html", cwd=tmp_path).returncode == 2


def test_a_bad_input_in_a_worker_is_one_line(tmp_path: Path) -> None:
    files = _inputs(tmp_path)
    bad = tmp_path / "bad.dlr"
    bad.write_bytes(b"DHLREC\r\n" + b"\x00" * 50)
    out = _run("analyze", files[0], str(bad), files[1], "--jobs", "2")
    assert out.returncode != 0
    err = [ln for ln in out.stderr.splitlines() if "error" in ln]
    assert len(err) == 1 and "bad.dlr" in err[0], out.stderr
    assert "Traceback" not in out.stderr
    assert _run("analyze", files[0], "--jobs", "-1").returncode == 2
