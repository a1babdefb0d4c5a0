"""A flipped byte costs one record, not the rest of the file: replay skips the damage, says
exactly what it skipped (bytes and seconds) and exits non-zero; one bad byte in a header copy
loses nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from downhill_live import cli
from downhill_live.record import RecordingWriter, read_recording

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def v2_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = read_recording(ROOT / "recordings" / "descent_foot_200hz.dlr")
    path = tmp_path_factory.mktemp("v2") / "run.dlr"
    header = {k: v for k, v in src.header.items() if k not in ("format_version", "streams")}
    with RecordingWriter(path, header, streams=src.header["streams"]) as w:
        for p in src.packets:
            w.write_packet(p)
    return path


def steps_of(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["replay", str(path), "--no-speak"])
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.strip().startswith("steps ")]
    return code, line + "\n" + out


def test_a_flipped_byte_mid_file_costs_one_packet(
    v2_recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_code, clean = steps_of(v2_recording, capsys)
    assert clean_code == 0 and "data:" not in clean
    raw = bytearray(v2_recording.read_bytes())
    mid = len(raw) // 2
    raw[mid] ^= 0x40
    bad = tmp_path / "bad.dlr"
    bad.write_bytes(bytes(raw))
    rec = read_recording(bad)
    assert len(rec.packets) == len(read_recording(v2_recording).packets) - 1
    (skip,) = rec.skipped
    assert skip.offset <= mid < skip.offset + skip.n_bytes and 0 < skip.span_s < 0.2
    code, out = steps_of(bad, capsys)
    assert code == 1
    assert f"data: skipped {skip.n_bytes} damaged bytes at byte {skip.offset}" in out
    # the rest of the run is there: the step count is within a step or two of the clean one
    n_clean = int(clean.split()[1])
    n_bad = int(out.split()[1])
    assert abs(n_clean - n_bad) <= 2


def test_a_flipped_byte_in_the_header_loses_nothing(
    v2_recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = bytearray(v2_recording.read_bytes())
    for at in (10, 12, 300, 2000):  # sync, length, JSON text of the first copy
        damaged = bytearray(raw)
        damaged[at] ^= 0x01
        path = tmp_path / f"hdr{at}.dlr"
        path.write_bytes(bytes(damaged))
        rec = read_recording(path)
        assert not rec.damaged and len(rec.packets) == len(read_recording(v2_recording).packets)
        code, _ = steps_of(path, capsys)
        assert code == 0
