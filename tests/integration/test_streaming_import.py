"""``import`` of a CSV streams: read, resampled and written a chunk at a time (memory does not
grow with the file: ``benchmarks/bench_import.py`` prints the peak RSS), with exactly the records
the whole-file path writes, and a bad line anywhere is one line naming file:line, exit 2, and no
output file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from downhill_live.cli.main import main
from downhill_live.errors import InputError
from downhill_live.record import read_recording
from downhill_live.tools.transfer import import_csv, import_samples, read_import_csv


def write_csv(path: Path, n: int, *, seed: int = 0, pressure: bool = False) -> None:
    """A 200 Hz log with jitter, repeated time stamps and two gaps (one short, one long)."""
    rng = np.random.default_rng(seed)
    dt = np.full(n, 0.005) + rng.normal(0.0, 0.0003, n)
    dt[rng.integers(1, n, 5)] = 0.0  # repeated time stamps
    dt[n // 3] = 0.012  # shorter than the gap limit: interpolated over
    dt[2 * n // 3] = 0.5  # a gap: left as lost samples
    t = np.cumsum(np.abs(dt)) + 12.0
    acc = rng.normal(0.0, 1.0, (n, 3)) + np.array([0.0, 0.0, 1.0])
    cols = [t, acc[:, 0], acc[:, 1], acc[:, 2]]
    names = "t_s,ax,ay,az"
    if pressure:
        cols.append(101325.0 + np.cumsum(rng.normal(0.0, 0.5, n)))
        names += ",pressure_pa"
    np.savetxt(path, np.column_stack(cols), fmt="%.6f", delimiter=",", header=names, comments="")


def records(path: Path) -> list[tuple[float, bytes]]:
    return [(p.t_rx_s, p.payload) for p in read_recording(path).packets]


@pytest.mark.parametrize("pressure", [False, True], ids=["acc", "acc+pressure"])
@pytest.mark.parametrize("chunk_rows", [2, 7, 64, 1000, 65536])
def test_streamed_records_equal_the_whole_file_import(
    tmp_path: Path, chunk_rows: int, pressure: bool
) -> None:
    src = tmp_path / "log.csv"
    write_csv(src, 3001, seed=chunk_rows, pressure=pressure)
    whole, streamed = tmp_path / "whole.dlr", tmp_path / "streamed.dlr"
    n_rec, n_smp, rate = import_samples(read_import_csv(src), whole, source_name=str(src))
    got = import_csv(src, streamed, chunk_rows=chunk_rows)
    assert got == (n_rec, n_smp, rate, 3001)
    assert rate == pytest.approx(200.0, rel=0.01)
    assert records(streamed) == records(whole)
    rec = read_recording(streamed)
    assert rec.header["firmware"]["name"] == ("imported-f32-baro" if pressure else "imported-f32")
    assert rec.header["settings"]["rate_hz"] == rate


BAD = [
    ("x", "column ax: 'x' is not a number"),
    ("nan", "column ax: 'nan' is not finite"),
    ("short", "expected 4 columns, got 3"),
    ("back", "time goes backwards"),
    ("huge", "too large to store (float32)"),
]


@pytest.mark.parametrize(("kind", "words"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_line_deep_in_the_file_names_file_and_line(
    tmp_path: Path, kind: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "log.csv"
    write_csv(src, 5000)
    lines = src.read_text().splitlines()
    bad_line = 4321  # 1-based, after the first chunk of 1,000 rows
    t, ax, ay, az = lines[bad_line - 1].split(",")
    lines[bad_line - 1] = {
        "x": f"{t},x,{ay},{az}",
        "nan": f"{t},nan,{ay},{az}",
        "short": f"{t},{ax},{ay}",
        "back": f"1.0,{ax},{ay},{az}",
        "huge": f"{t},1e300,{ay},{az}",
    }[kind]
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.dlr"
    if kind != "huge":  # (float32 range is checked per chunk, and names the sample)
        with pytest.raises(InputError) as info:
            import_csv(src, out, chunk_rows=1000)
        assert f"{src}:{bad_line}:" in str(info.value) and words in str(info.value)
    rc = main(["import", str(src), "-o", str(out)])
    _, err = capsys.readouterr()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err and words in err, err
    assert str(src) in err
    if kind == "huge":
        assert f"sample {bad_line - 1}:" in err  # the header is line 1
    else:
        assert f"{src}:{bad_line}:" in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["log.csv"], "a partial file was left"
