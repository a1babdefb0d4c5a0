"""Firmware-profile values are bounded: a crafted or mistyped profile gets one line naming the
file, line and key, and exit code 2 - never a traceback, never a profile that decodes nonsense
(a 2^63 counter modulus, a 5,000-digit integer, a regex that backtracks forever)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from downhill_live.cli.main import main
from downhill_live.config.cue_profile import parse_cue_profile
from downhill_live.config.firmware import (
    bundled_profile_names,
    load_firmware_profile,
    parse_firmware_profile,
)
from downhill_live.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DHL = (ROOT / "firmware_profiles" / "dhl-imu.yaml").read_text(encoding="utf-8")
POLAR = (ROOT / "firmware_profiles" / "polar-h10.yaml").read_text(encoding="utf-8")
START = 'start:\n  - characteristic: "6e400003-d0d0-4a11-9f00-000000000000"\n    hex: "01"\n'
ONE_WRITE = '  - {characteristic: "6e400003-d0d0-4a11-9f00-000000000000", hex: "01"}\n'


def sub(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


#: (name, profile text, key path in the error, words of the message)
CASES = [
    ("digits", sub(DHL, "modulo: 65536", "modulo: " + "9" * 5000),
     "streams.acc.layout.counter.modulo", "too long"),
    ("modulo 2^63", sub(DHL, "modulo: 65536", "modulo: 9223372036854775808"),
     "streams.acc.layout.counter.modulo", "must be <= 4,294,967,296"),
    ("modulo 1", sub(DHL, "modulo: 65536", "modulo: 1"),
     "streams.acc.layout.counter.modulo", ">= 2"),
    ("scale", sub(DHL, "scale_g: 0.00048828125", "scale_g: 1.0e+300"),
     "streams.acc.layout.scale_g", "<= 1000"),
    ("rate", sub(DHL, "rate_hz: 200", "rate_hz: 1.0e+9"), "streams.acc.layout.rate_hz", "<="),
    ("timestamp scale", sub(DHL, "counter: {field: seq, per: packet, modulo: 65536}",
                            "timestamp: {field: seq, scale_s: 1.0e+30}"),
     "streams.acc.layout.timestamp.scale_s", "<= 3600"),
    ("packet size", sub(DHL, "samples_per_packet: auto", "samples_per_packet: 4096")
     .replace("{name: z, type: i16}", "{name: z, type: i16}"
              + "".join(f"\n        - {{name: w{i}, type: u32}}" for i in range(4))),
     "streams.acc.layout.samples_per_packet", "larger than a recording record"),
    ("name length", sub(DHL, "name: dhl-imu", "name: " + "a" * 65), "name", "at most 64"),
    ("name type", sub(DHL, "name: dhl-imu", "name: [1, 2]"), "name", "non-empty string"),
    ("description", sub(DHL, "description: downhill", "description: " + "d" * 600),
     "description", "at most 500"),
    ("pattern length", sub(DHL, '"^DHL-IMU"', '"' + "a" * 201 + '"'),
     "match.name_pattern", "at most 200"),
    ("pattern backtracking", sub(DHL, '"^DHL-IMU"', '"^(D+)+$"'),
     "match.name_pattern", "repeated group"),
    ("pattern control", sub(DHL, '"^DHL-IMU"', '"^DHL\\n"'),
     "match.name_pattern", "control characters"),
    ("uuid count", sub(DHL, '["6e400001-d0d0-4a11-9f00-000000000000"]',
                       "[" + ", ".join(['"2a53"'] * 33) + "]"),
     "match.service_uuids", "at most 32"),
    ("write count", sub(DHL, START, "start:\n" + ONE_WRITE * 33), "start", "at most 32"),
    ("write size", sub(DHL, 'hex: "01"', 'hex: "' + "01" * 513 + '"'), "start[0].hex",
     "at most 512 bytes"),
    ("field count", sub(DHL, "        - {name: z, type: i16}\n", "        - {name: z, type: i16}\n"
                        + "".join(f"        - {{name: f{i}, type: u8}}\n" for i in range(40))),
     "streams.acc.layout.sample", "at most 32"),
    ("field name", sub(DHL, "{name: seq, type: u16}", "{name: " + "s" * 33 + ", type: u16}"),
     "streams.acc.layout.header[0].name", "at most 32"),
    ("stream count", DHL + "".join(
        f"  s{i}:\n    characteristic: '2a53'\n    decoder: sig_rsc\n" for i in range(16)),
     "streams", "at most 16"),
    ("resolution_bits float", sub(POLAR, "resolution_bits: 16", "resolution_bits: 16.5"),
     "streams.acc.params.resolution_bits", "integer"),
    ("resolution_bits big", sub(POLAR, "resolution_bits: 16", "resolution_bits: 64"),
     "streams.acc.params.resolution_bits", "<= 32"),
    ("start timeout", sub(POLAR, "start_timeout_s: 5", "start_timeout_s: 1.0e+300"),
     "streams.acc.params.start_timeout_s", "<="),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "key", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_out_of_bounds_value_is_one_clear_line(text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_firmware_profile(text, "crafted.yaml")
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 300, msg
    assert msg.startswith("crafted.yaml:"), msg  # file and line
    assert f" {key}: " in msg and words in msg, msg


@pytest.mark.parametrize(
    "case", [c for c in CASES if c[0] in ("digits", "modulo 2^63", "scale")], ids=lambda c: c[0]
)
def test_the_cli_exits_2_with_the_file_and_key(
    case: tuple[str, str, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "crafted.yaml"
    path.write_text(case[1], encoding="utf-8")
    rc = main(["decode", str(path), "0000" + "00" * 6])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"{path}:" in lines[0] and case[2] in lines[0], lines[0]


def test_every_bundled_profile_is_within_the_bounds() -> None:
    for name in bundled_profile_names():
        assert load_firmware_profile(name).name == name


# names a user wrote (YAML keys, stream and rule names) with line breaks or terminal controls:
# the message says them escaped, on one line (the fuzzing found a key with a newline)
CUE = (ROOT / "downhill_live" / "config" / "default_cues.yaml").read_text(encoding="utf-8")
ODD_NAMES = ["bad\nkey", "tab\tkey", "esc\x1b[2Jkey", "nul\x00key", "line\u2028sep", "c1\x85key"]


def odd_key_cases() -> list[tuple[str, str, str, str]]:
    """(id, profile kind, YAML text, the escaped key path the message must name)"""
    out = []
    for i, name in enumerate(ODD_NAMES):
        quoted = json.dumps(name)  # a JSON string is a YAML double-quoted scalar
        shown = name.encode("unicode_escape").decode("ascii")
        out += [
            (f"firmware top key {i}", "firmware", DHL + f"{quoted}: 1\n", shown),
            (f"firmware stream name {i}", "firmware",
             sub(DHL, "streams:\n  acc:", f"streams:\n  {quoted}:"), f"streams.{shown}"),
            (f"firmware stream key {i}", "firmware",
             sub(DHL, "    decoder: layout", f"    decoder: layout\n    {quoted}: 1"),
             f"streams.acc.{shown}"),
            (f"cue rule name {i}", "cue", CUE + f"  {quoted}: {{metric: nope}}\n",
             f"rules.{shown}.metric"),
            (f"cue settings key {i}", "cue",
             sub(CUE, "settings:\n", f"settings:\n  {quoted}: 1\n"), f"settings.{shown}"),
        ]  # fmt: skip
    return out


@pytest.mark.parametrize(("kind", "text", "key"), [c[1:] for c in odd_key_cases()],
                         ids=[c[0] for c in odd_key_cases()])  # fmt: skip
def test_a_name_with_control_characters_is_escaped_in_one_line(
    kind: str, text: str, key: str
) -> None:
    parse = parse_firmware_profile if kind == "firmware" else parse_cue_profile
    with pytest.raises(ConfigError) as info:
        parse(text, "crafted.yaml")
    msg = str(info.value)
    assert len(msg.splitlines()) == 1 and msg.isprintable(), repr(msg)
    assert msg.startswith("crafted.yaml:") and f" {key}: " in msg, repr(msg)


def test_the_cli_says_an_escaped_key_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "crafted.yaml"
    path.write_text(CUE + '  "quick\\nsteps\\u001b[2J": {metric: nope}\n', encoding="utf-8")
    rc = main(["profile", "check", str(path)])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.endswith("\n") and err[:-1].isprintable(), err
    assert "rules.quick\\nsteps\\x1b[2J.metric" in err, err
