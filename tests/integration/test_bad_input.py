"""Bad input never ends in a traceback: every command gives one line naming the file, key, line
or option, and a non-zero exit code; nothing that was received is dropped without a word.

Commands run in-process through ``cli.main`` (it returns the exit code) to keep this fast.
"""

from __future__ import annotations

import json
import logging
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from downhill_live.cli.main import main
from downhill_live.record import MAGIC, RecordingWriter, read_recording
from downhill_live.tools.transfer import read_polar_acc

# hand-built format-1 files start from a format-1 recording (tests/data/README.md)
SRC = Path(__file__).resolve().parents[1] / "data" / "format1_foot_60s.dlr"
POLAR_HEADER = "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]\n"
RULE = "rules: {r: {metric: cadence_spm, below: 160, phrases: [quick]}}\n"


def _frame(kind: int, t_s: float, stream: int, payload: bytes) -> bytes:
    body = struct.pack("<BdB", kind, t_s, stream) + payload
    return struct.pack("<I", len(body)) + body + struct.pack("<I", zlib.crc32(body))


def _recording(header: dict | None = None, *, raw_header: bytes | None = None, tail=b"") -> bytes:
    """The first 200 packets of the bundled foot recording under ``header`` (changes applied
    to its real header; a value of ``...`` deletes the key), then ``tail``."""
    rec = read_recording(SRC)
    h = dict(rec.header)
    h["format_version"] = 1  # the frames below are format 1's (no sync markers)
    for key, value in (header or {}).items():
        if value is ...:
            h.pop(key, None)
        else:
            h[key] = value
    head = raw_header if raw_header is not None else json.dumps(h).encode()
    out = MAGIC + struct.pack("<I", len(head)) + head + struct.pack("<I", zlib.crc32(head))
    out += b"".join(_frame(1, p.t_rx_s, 0, p.payload) for p in rec.packets[:200])
    return out + tail


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    good = _recording()
    hdr_len = struct.unpack_from("<I", good, len(MAGIC))[0]
    rows = "".join(f"{i / 200:.6f},0.1,0.2,1.0\n" for i in range(400))
    made: dict[str, bytes | str] = {
        "good.dlr": good,
        # recordings cut in every region before the records
        "cut_magic.dlr": good[:5],
        "cut_hdrlen.dlr": good[:10],
        "cut_header.dlr": good[: 12 + hdr_len // 2],
        "cut_crc.dlr": good[: 12 + hdr_len + 2],
        "cut_record.dlr": good[:-7],
        "garbage.dlr": bytes(range(256)) * 4,
        "empty.dlr": b"",
        # headers with keys of the wrong type
        "device_str.dlr": _recording({"device": "sensor"}),
        "settings_list.dlr": _recording({"settings": [1, 2]}),
        "settings_str.dlr": _recording({"settings": "fast"}),
        "placement_bad.dlr": _recording({"placement": "knee"}),
        "no_firmware.dlr": _recording({"firmware": ...}),
        "fw_yaml_list.dlr": _recording({"firmware": {"name": "x", "yaml": "- 1\n"}}),
        "rate_huge.dlr": _recording({"settings": {"rate_hz": 1e300}}),
        "rate_core.dlr": _recording({"settings": {"rate_hz": 5000}}),
        "scale_int.dlr": _recording({"settings": {"scale_g": 10**400}}),
        "not_json.dlr": _recording(raw_header=b"{not json"),
        # records that pass their CRC but hold nonsense
        "cue_json.dlr": _recording(tail=_frame(2, 5.0, 0, b"{bad")),
        "cue_keys.dlr": _recording(tail=_frame(2, 5.0, 0, b'{"rule": "x"}')),
        "cue_value.dlr": _recording(
            tail=_frame(2, 5.0, 0, b'{"rule": "r", "phrase": "p", "metric": "m", "value": null}')
        ),
        "event_json.dlr": _recording(tail=_frame(3, 5.0, 0, b"\xff\xfe")),
        "time_inf.dlr": _recording(tail=_frame(1, float("inf"), 0, b"\x00" * 8)),
        "stream_7.dlr": _recording(tail=_frame(1, 5.0, 7, b"\x00" * 8)),
        # CSVs
        "bom.csv": "\ufefft_s,ax,ay,az\n" + rows,
        "dup_all.csv": "t_s,ax,ay,az\n" + "0,0.1,0.2,1.0\n" * 50,
        "dup_some.csv": "t_s,ax,ay,az\n"
        + "".join(f"{(i // 2) / 200:.6f},0.1,0.2,1.0\n" for i in range(400)),
        "huge.csv": "t_s,ax,ay,az\n" + rows.replace("0.1,0.2,1.0", "1e300,0,1"),
        "plain.csv": "t_s,ax,ay,az\n" + rows,
        "polar_bigint.txt": POLAR_HEADER + "x;100000000000000000000000;1;1;1\nx;2;1;1;1\n",
        # YAML
        "deep.yaml": "rules: " + "[" * 3000 + "]" * 3000 + "\n",
        "nul.yaml": "version: 1\n" + RULE.replace("quick", '"qu\x00ick"'),
        "nan.yaml": RULE.replace("160", ".nan"),
        "inf.yaml": RULE.replace("}}", ", cooldown_s: .inf}}"),
        "volume.yaml": "settings: {volume: .nan}\n" + RULE,
        "huge_int.yaml": RULE.replace("}}", ", cooldown_s: 1" + "0" * 400 + "}}"),
        "fw_streams_list.yaml": "name: x\nstreams: [1]\n",
        "fw_params_list.yaml": "name: x\nstreams:\n  acc: {decoder: layout, characteristic: '2a53',"
        " params: [1], layout: {sample: [{name: x, type: i16}], axis_map: [x, x, x],"
        " scale_g: 1, rate_hz: 100}}\n",
        "fw_rate_nan.yaml": "name: x\nstreams:\n  acc: {decoder: layout, characteristic: '2a53',"
        " layout: {sample: [{name: x, type: i16}], axis_map: [x, x, x], scale_g: 1,"
        " rate_hz: .nan}}\n",
    }
    for name, data in made.items():
        (d / name).write_bytes(data.encode() if isinstance(data, str) else data)
    (d / "adir").mkdir()
    return d


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def _fill(argv: list[str], d: Path) -> list[str]:
    return [a.replace("{d}", str(d)) for a in argv]


def _assert_one_line_error(err: str, rc: int, want_rc: int, needles: list[str]) -> None:
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("downhill-live: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert rc == want_rc, (rc, err)


#: (argv with {d} for the input folder, exit code, substrings of the one error line)
ERROR_CASES = [
    # recordings cut before the records, or not recordings at all
    (["replay", "{d}/cut_magic.dlr", "--no-speak"], 1, ["cut_magic.dlr", "bad magic"]),
    (["replay", "{d}/cut_hdrlen.dlr", "--no-speak"], 1, ["cut_hdrlen.dlr", "truncated header"]),
    (["replay", "{d}/cut_header.dlr", "--no-speak"], 1, ["cut_header.dlr", "truncated header"]),
    (["replay", "{d}/cut_crc.dlr", "--no-speak"], 1, ["cut_crc.dlr", "truncated header"]),
    (["analyze", "{d}/empty.dlr"], 2, ["empty.dlr", "header"]),
    (["replay", "{d}/garbage.dlr", "--no-speak"], 1, ["garbage.dlr", "bad magic"]),
    (["replay", "{d}/missing.dlr", "--no-speak"], 2, ["missing.dlr", "No such file"]),
    (["replay", "{d}/adir", "--no-speak"], 2, ["adir", "Is a directory"]),
    # header keys with wrong types, through every command that reads recordings
    (["replay", "{d}/device_str.dlr", "--no-speak"], 1, ["device_str.dlr", "'device'"]),
    (["report", "{d}/device_str.dlr", "-o", "{d}/r.html"], 1, ["device_str.dlr", "'device'"]),
    (["analyze", "{d}/settings_list.dlr"], 1, ["settings_list.dlr", "'settings'"]),
    (["export", "{d}/settings_str.dlr", "--samples", "{d}/s.csv"], 1, ["'settings'"]),
    (["tune", "{d}/placement_bad.dlr"], 1, ["placement_bad.dlr", "'placement'", "knee"]),
    (["replay", "{d}/placement_bad.dlr", "--no-speak"], 1, ["placement_bad.dlr", "'placement'"]),
    (["replay", "{d}/no_firmware.dlr", "--no-speak"], 1, ["no_firmware.dlr", "firmware.yaml"]),
    (["replay", "{d}/fw_yaml_list.dlr", "--no-speak"], 2, ["fw_yaml_list.dlr#firmware:1"]),
    (["replay", "{d}/not_json.dlr", "--no-speak"], 1, ["not_json.dlr", "not valid JSON"]),
    (["replay", "{d}/rate_huge.dlr", "--no-speak"], 2, ["rate_huge.dlr", "'rate_hz'"]),
    (["analyze", "{d}/rate_core.dlr"], 1, ["rate_core.dlr", "rate_hz", "5000"]),
    (["analyze", "{d}/scale_int.dlr"], 2, ["scale_int.dlr", "'scale_g' must be finite"]),
    (
        ["live", "--simulate", "{d}/settings_str.dlr", "--no-speak", "--record", "{d}"],
        1,
        ["settings_str.dlr", "'settings'"],
    ),
    (
        ["live", "--simulate", "{d}/device_str.dlr", "--no-speak", "--record", "{d}"],
        1,
        ["device_str.dlr", "'device'"],
    ),
    (
        ["live", "--simulate", "{d}/placement_bad.dlr", "--no-speak", "--record", "{d}"],
        1,
        ["placement_bad.dlr", "'placement'"],
    ),
    # records with a valid CRC but bad content
    (["replay", "{d}/cue_json.dlr", "--no-speak"], 1, ["cue_json.dlr", "cue record at byte"]),
    (["analyze", "{d}/cue_keys.dlr"], 1, ["cue_keys.dlr", "cue record at byte"]),
    (["report", "{d}/cue_value.dlr", "-o", "{d}/r.html"], 1, ["cue record at byte"]),
    (["tune", "{d}/event_json.dlr"], 1, ["event_json.dlr", "event record at byte"]),
    (["replay", "{d}/time_inf.dlr", "--speed", "100"], 1, ["time_inf.dlr", "has time inf"]),
    (
        ["live", "--simulate", "{d}/time_inf.dlr", "--no-speak", "--record", "{d}"],
        1,
        ["time_inf.dlr", "has time inf"],
    ),
    (["replay", "{d}/stream_7.dlr", "--no-speak"], 1, ["stream_7.dlr", "unknown stream 7"]),
    # CSV and Polar files
    (["analyze", "{d}/dup_all.csv"], 2, ["dup_all.csv", "sample rate"]),
    (["analyze", "{d}/plain.csv", "--rate", "0"], 2, ["--rate", "positive"]),
    (["analyze", "{d}/plain.csv", "--rate", "1e9"], 2, ["plain.csv", "outside 50-2000 Hz"]),
    (["import", "{d}/huge.csv", "-o", "{d}/x.dlr"], 2, ["huge.csv", "sample 1", "too large"]),
    (["import", "{d}/plain.csv", "-o", "{d}/x.dlr", "--rate", "0"], 2, ["plain.csv", "0 Hz"]),
    (["import", "{d}/plain.csv", "-o", "{d}/plain.csv"], 2, ["plain.csv", "is an input of this command"]),
    (["import", "{d}/polar_bigint.txt", "-o", "{d}/x.dlr"], 2, ["polar_bigint.txt:2", "range"]),
    # YAML cue and firmware profiles
    (["profile", "check", "{d}/deep.yaml"], 2, ["deep.yaml:1", "nested deeper than"]),
    (["profile", "check", "{d}/nul.yaml"], 2, ["nul.yaml:2", "U+0000"]),
    (["replay", "{d}/good.dlr", "--profile", "{d}/nan.yaml"], 2, ["nan.yaml:1", "rules.r.below"]),
    (["tune", "{d}/good.dlr", "--profile", "{d}/inf.yaml"], 2, ["inf.yaml:1", "cooldown_s"]),
    (["profile", "check", "{d}/volume.yaml"], 2, ["volume.yaml:1", "settings.volume"]),
    (["profile", "check", "{d}/huge_int.yaml"], 2, ["huge_int.yaml:1", "cooldown_s", "finite"]),
    (["decode", "{d}/fw_streams_list.yaml", "00"], 2, ["fw_streams_list.yaml:2", "streams"]),
    (["decode", "{d}/fw_params_list.yaml", "00"], 2, ["fw_params_list.yaml:3", "params"]),
    (["decode", "{d}/fw_rate_nan.yaml", "00"], 2, ["fw_rate_nan.yaml:3", "layout.rate_hz"]),
    # options out of range
    (["replay", "{d}/good.dlr", "--speed", "-1"], 2, ["--speed", "within 0..1000"]),
    (["replay", "{d}/good.dlr", "--speed", "nan"], 2, ["--speed", "nan"]),
    (["replay", "{d}/good.dlr", "--speed", "1e308"], 2, ["--speed", "within 0..1000"]),
    (["live", "--simulate", "--speed", "1e9"], 2, ["--speed", "within 0..1000"]),
    (["live", "--simulate", "--scan-timeout", "-5"], 2, ["--scan-timeout", "> 0"]),
    (["decode", "polar-h10", "00", "--set", "resolution_bits=1e30"], 2, ["resolution_bits"]),
    (["decode", "polar-h10", "00", "--set", "rate_hz=inf"], 2, ["polar-h10.yaml", "rate_hz"]),
    (["decode", "dhl-imu", "00", "--set", "factor=inf"], 2, ["'factor'", "finite"]),
    # outputs that cannot be written
    (["replay", "{d}/good.dlr", "--no-speak", "--wav", "{d}"], 1, ["is a folder"]),
    (
        ["replay", "{d}/good.dlr", "--no-speak", "--wav", "{d}/no/x.wav"],
        1,
        ["no/x.wav", "No such file"],
    ),
    (["import", "{d}/plain.csv", "-o", "{d}/no/x.dlr"], 1, ["no/x.dlr", "No such file"]),
    (["export", "{d}/good.dlr", "--samples", "{d}/no/s.csv"], 1, ["no/s.csv", "No such"]),
    (["export", "{d}/good.dlr", "--steps", "{d}"], 1, ["is a folder"]),
    (["report", "{d}/good.dlr", "-o", "{d}/no/r.html"], 1, ["no/r.html", "No such file"]),
    (["report", "{d}/good.dlr", "-o", "{d}"], 1, ["is a folder"]),
    (["tune", str(SRC), "--suggest", "-o", "{d}/no/x.yaml"], 1, ["no/x.yaml", "No such file"]),
    (
        ["live", "--simulate", "--duration", "1", "--no-speak", "--record", "{d}/good.dlr/sub"],
        1,
        ["good.dlr/sub", "Not a directory"],
    ),
]


@pytest.mark.parametrize(
    ("argv", "want_rc", "needles"), ERROR_CASES, ids=[" ".join(c[0]) for c in ERROR_CASES]
)
def test_bad_input_gives_one_line_and_exit_code(
    argv: list[str],
    want_rc: int,
    needles: list[str],
    files: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, _, err = _run(_fill(argv, files), capsys)
    _assert_one_line_error(err, rc, want_rc, [n.replace("{d}", str(files)) for n in needles])


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", "{d}/bom.csv"],  # a byte order mark before the header (spreadsheets)
        ["analyze", "{d}/dup_some.csv"],  # repeated time stamps: the rate still comes from t_s
        ["import", "{d}/bom.csv", "-o", "{d}/bom.dlr"],
    ],
)
def test_awkward_but_valid_csv_is_read(
    argv: list[str], files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = _run(_fill(argv, files), capsys)
    assert rc == 0, err
    assert "error" not in err


def test_polar_axes_keep_their_own_units(tmp_path: Path) -> None:
    path = tmp_path / "mixed_ACC.txt"
    header = "Phone timestamp;sensor timestamp [ns];X [mg];Y [g];Z [m/s^2]\n"
    path.write_text(header + "".join(f"x;{i * 5_000_000};1000;1;9.80665\n" for i in range(3)))
    np.testing.assert_allclose(read_polar_acc(path).acc_g, np.ones((3, 3)))


def test_cut_or_corrupt_tail_is_reported_by_every_command(
    files: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    for argv in (
        ["replay", "{d}/cut_record.dlr", "--no-speak"],
        ["analyze", "{d}/cut_record.dlr"],
        ["export", "{d}/cut_record.dlr", "--steps", "{d}/steps.csv"],
        ["tune", "{d}/cut_record.dlr"],
        ["report", "{d}/cut_record.dlr", "-o", "{d}/cut.html"],
    ):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            rc, out, err = _run(_fill(argv, files), capsys)
        # replay says what it dropped and exits non-zero; the batch tools warn and go on
        assert rc == (1 if argv[0] == "replay" else 0), err
        if argv[0] == "replay":
            assert "data: the last " in out and "summary:" in out
        warned = [
            r.getMessage() for r in caplog.records if "incomplete or corrupt" in r.getMessage()
        ]
        assert len(warned) == 1, argv
        assert warned[0].startswith(f"{files}/cut_record.dlr: last "), warned


def test_repeated_decode_error_is_logged_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    rec = read_recording(SRC)
    path = tmp_path / "backwards.dlr"
    header = {k: v for k, v in rec.header.items() if k not in ("format_version", "streams")}
    with RecordingWriter(path, header, streams=rec.header["streams"]) as w:
        for packet in reversed(rec.packets[:100]):  # every packet's counter goes backwards
            w.write_packet(packet)
    with caplog.at_level(logging.WARNING):
        rc, _, err = _run(["analyze", str(path)], capsys)
    assert rc == 0, err
    logged = [r for r in caplog.records if "further errors of this kind" in r.getMessage()]
    assert len(logged) == 1
