"""The wheel works on its own: built from the repository, installed into an empty folder and run
from elsewhere, every command finds its bundled profiles and runs (no checkout on the path)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from downhill_live.record import read_recording

ROOT = Path(__file__).resolve().parents[2]
RECORDING = ROOT / "recordings" / "descent_foot_200hz.dlr"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp / "dist"), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp / "dist").glob("downhill_live-*.whl")
    site = tmp / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)  # a wheel is a zip of the installed tree
        names = zf.namelist()
    # the dependencies come from this environment's site-packages; downhill_live only from the
    # wheel (a .pth editable finder is not processed for PYTHONPATH entries)
    deps = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), deps]), "PYTHONNOUSERSITE": "1"}
    base = getattr(sys, "_base_executable", sys.executable)
    return {"site": site, "names": names, "env": env, "python": base, "cwd": tmp}


def run(installed: dict[str, object], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(installed["python"]), "-m", "downhill_live", *args],
        cwd=str(installed["cwd"]), env=installed["env"],  # type: ignore[arg-type]
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_wheel_holds_every_package_and_the_profiles(installed: dict[str, object]) -> None:
    names = set(installed["names"])  # type: ignore[call-overload]
    packages = {
        str(p.parent.relative_to(ROOT)).replace(os.sep, "/")
        for p in (ROOT / "downhill_live").rglob("__init__.py")
    }
    for pkg in packages:  # the explicit package list in pyproject.toml misses none
        assert f"{pkg}/__init__.py" in names, pkg
    profiles = {p.name for p in (ROOT / "firmware_profiles").glob("*.yaml")}
    assert len(profiles) >= 6
    for name in profiles:
        assert f"downhill_live/firmware_profiles/{name}" in names
    assert "downhill_live/config/default_cues.yaml" in names
    assert "downhill_live/py.typed" in names


def test_installed_tool_runs_every_command(installed: dict[str, object], tmp_path: Path) -> None:
    probe = subprocess.run(
        [str(installed["python"]), "-c", "import downhill_live; print(downhill_live.__file__)"],
        cwd=str(installed["cwd"]), env=installed["env"],  # type: ignore[arg-type]
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert probe.stdout.strip().startswith(str(installed["site"])), probe.stdout

    v = run(installed, "--version")
    assert v.returncode == 0 and v.stdout.startswith("downhill-live 0."), v

    rec = read_recording(str(RECORDING))
    payload = rec.packets[0].payload.hex()
    d = run(installed, "decode", "dhl-imu", payload)
    assert d.returncode == 0 and '"acc_g"' in d.stdout, d.stderr

    bad = run(installed, "decode", "no-such-sensor", payload)
    assert (
        bad.returncode != 0 and "bundled: dhl-imu" in bad.stderr and "Traceback" not in bad.stderr
    )

    r = run(installed, "replay", str(RECORDING), "--no-speak")
    assert r.returncode == 0 and "summary:" in r.stdout and "cue " in r.stdout, r.stderr

    a = run(installed, "analyze", str(RECORDING), "--format", "csv")
    assert a.returncode == 0 and len(a.stdout.splitlines()) > 100, a.stderr

    steps = tmp_path / "steps.csv"
    e = run(installed, "export", str(RECORDING), "--steps", str(steps))
    assert e.returncode == 0 and len(steps.read_text().splitlines()) > 100, e.stderr

    t = run(installed, "tune", str(RECORDING), "--set", "cadence_low.threshold=160..170:5")
    assert t.returncode == 0 and "cadence_low.threshold" in t.stdout, t.stderr

    page = tmp_path / "r.html"
    rp = run(installed, "report", str(RECORDING), "-o", str(page))
    assert rp.returncode == 0 and page.stat().st_size > 1000, rp.stderr

    prof = tmp_path / "cues.yaml"
    pi = run(installed, "profile", "init", str(prof))
    pc = run(installed, "profile", "check", str(prof))
    assert pi.returncode == 0 and pc.returncode == 0, (pi.stderr, pc.stderr)

    csv = tmp_path / "in.csv"
    csv.write_text("t_s,ax,ay,az\n" + "".join(f"{i / 100:.2f},0,0,1\n" for i in range(300)))
    im = run(installed, "import", str(csv), "-o", str(tmp_path / "in.dlr"))
    assert im.returncode == 0 and (tmp_path / "in.dlr").exists(), im.stderr

    lv = run(
        installed, "live", "--simulate", str(RECORDING), "--speed", "20", "--duration", "4",
        "--no-speak", "--record", str(tmp_path / "live"),
    )  # fmt: skip
    assert lv.returncode == 0 and "recorded to" in lv.stdout, lv.stderr
