"""Fuzzing through the public API (hypothesis), bounded in time: what a user or a sensor can hand
the program never ends in a traceback.

- every bundled firmware profile -> its decoders -> a stream of random and mutated payloads:
  each decode gives samples of consistent shape or a typed, one-line :class:`DecodeError`; the
  whole session (decode -> core -> cues) takes any payload without raising;
- recordings cut short and bit-flipped at random: read as a recording with the damage reported
  (skips, dropped tail) or refused with one clear :class:`DownhillError`, never nothing invented;
- cue profiles and firmware profiles as mutated YAML: a profile or one :class:`ConfigError`
  naming the file.
"""

from __future__ import annotations

import copy
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from downhill_live.config.cue_profile import DEFAULT_PROFILE, load_cue_profile, parse_cue_profile
from downhill_live.config.firmware import (
    FirmwareProfile,
    bundled_profile_names,
    load_firmware_profile,
    parse_firmware_profile,
)
from downhill_live.decode import make_decoder
from downhill_live.errors import ConfigError, DecodeError, DecodeErrorKind, DownhillError
from downhill_live.record import RecordingWriter, read_recording
from downhill_live.session import Session, apply_settings
from downhill_live.sim.gait import Segment
from downhill_live.sim.virtual_devices import simulated_payloads
from downhill_live.types import Packet, Samples

PROFILES = bundled_profile_names()
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@cache
def valid_payloads(name: str) -> tuple[FirmwareProfile, dict[str, list[bytes]]]:
    """Real payloads of each stream of profile ``name`` (simulated sensor, 4 s of running)."""
    firmware = load_firmware_profile(name)
    src = simulated_payloads(firmware, [Segment(4.0)], seed=11)
    firmware = apply_settings(firmware, src.settings)
    by_stream: dict[str, list[bytes]] = {s: [] for s in firmware.streams}
    for p in src.payloads:
        by_stream.setdefault(p.stream, []).append(p.payload)
    return firmware, by_stream


def mutate(data: st.DataObject, payload: bytes) -> bytes:
    """One of: a flipped bit, a cut, bytes added, a byte run overwritten, or random bytes."""
    how = data.draw(st.sampled_from(["flip", "cut", "extend", "overwrite", "random"]))
    b = bytearray(payload)
    if how == "flip" and b:
        at = data.draw(st.integers(0, len(b) - 1))
        b[at] ^= 1 << data.draw(st.integers(0, 7))
    elif how == "cut":
        b = b[: data.draw(st.integers(0, len(b)))]
    elif how == "extend":
        b += data.draw(st.binary(min_size=1, max_size=64))
    elif how == "overwrite" and b:
        at = data.draw(st.integers(0, len(b) - 1))
        run = data.draw(st.binary(min_size=1, max_size=8))
        b[at : at + len(run)] = run
    elif how == "random":
        b = bytearray(data.draw(st.binary(max_size=300)))
    return bytes(b)


def check_samples(s: Samples) -> None:
    n = len(s.t_s)
    assert s.acc_g.shape == (n, 3)
    assert np.all(np.isfinite(s.t_s)), "a sample time is not finite"
    assert s.pressure_pa is None or s.pressure_pa.shape == (n,)
    assert s.lost >= 0


def check_error(err: DecodeError) -> None:
    assert str(err) and "\n" not in str(err) and len(str(err)) < 500
    assert isinstance(err.kind, DecodeErrorKind)


#: float32 layouts pass a signalling-NaN sample on with numpy's cast warning (see
#: test_a_non_finite_float32_sample_is_a_decode_error): the fuzz tests check the rest
NAN_CAST = pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")


@pytest.mark.parametrize("name", PROFILES)
@NAN_CAST
@FUZZ
@given(data=st.data())
def test_decoders_take_any_payload_sequence(name: str, data: st.DataObject) -> None:
    firmware, payloads = valid_payloads(name)
    for stream_name, stream in firmware.streams.items():
        good = payloads.get(stream_name) or [b""]
        decoder = make_decoder(firmware, stream)
        n = data.draw(st.integers(1, 12), label="packets")
        t_s = 0.0
        for i in range(n):
            base = good[data.draw(st.integers(0, len(good) - 1))]
            payload = base if data.draw(st.booleans()) else mutate(data, base)
            t_s += data.draw(st.floats(0.0, 5.0, allow_nan=False))
            try:
                samples = decoder.decode(Packet(t_s, stream_name, payload), i)
            except DecodeError as err:
                check_error(err)
            else:
                check_samples(samples)


@pytest.mark.parametrize("name", PROFILES)
@NAN_CAST
@FUZZ
@given(data=st.data())
def test_a_session_takes_any_payload_without_raising(name: str, data: st.DataObject) -> None:
    firmware, payloads = valid_payloads(name)
    session = Session(firmware, load_cue_profile())
    t_s = 0.0
    for _ in range(data.draw(st.integers(1, 30), label="packets")):
        stream = data.draw(st.sampled_from([*firmware.streams, "no-such-stream"]))
        good = payloads.get(stream) or [b""]
        payload = mutate(data, good[data.draw(st.integers(0, len(good) - 1))])
        t_s += data.draw(st.floats(0.0, 2.0, allow_nan=False))
        session.process(Packet(t_s, stream, payload))
    session.close()
    assert session.stats.packets > 0
    summary = session.summary()
    assert isinstance(summary, dict)


@pytest.mark.xfail(
    strict=True,
    reason="found by the fuzzing above: decode/layout.py passes NaN/inf float32 samples on "
    "(a signalling NaN also warns from numpy); left to the owner of decode/",
)
@pytest.mark.parametrize("bits", [0x7F810000, 0x7FC00000, 0x7F800000], ids=["sNaN", "NaN", "inf"])
def test_a_non_finite_float32_sample_is_a_decode_error(bits: int) -> None:
    firmware = load_firmware_profile("imported-f32")
    decoder = make_decoder(firmware, firmware.streams["acc"])
    sample = np.array([bits, 0x3F800000, 0x3F800000], dtype="<u4").tobytes()  # x, y=1, z=1
    payload = np.array([0], dtype="<u4").tobytes() + sample
    with pytest.raises(DecodeError):
        decoder.decode(Packet(0.0, "acc", payload), 0)


# --------------------------------------------------------------------------------- recordings


@cache
def sample_recording() -> bytes:
    import tempfile

    firmware, payloads = valid_payloads("dhl-imu")
    path = Path(tempfile.mkdtemp()) / "r.dlr"
    header = {"firmware": {"name": firmware.name, "yaml": firmware.source_text}}
    with RecordingWriter(path, header, streams=list(firmware.streams)) as w:
        for i, p in enumerate(payloads["acc"][:120]):
            w.write_packet(Packet(i * 0.03, "acc", p))
    return path.read_bytes()


@FUZZ
@given(data=st.data())
def test_damaged_recordings_are_read_with_the_damage_reported_or_refused(
    tmp_path: Path, data: st.DataObject
) -> None:
    raw = bytearray(sample_recording())
    whole = read_recording_bytes(tmp_path, bytes(raw))
    assert whole is not None
    for _ in range(data.draw(st.integers(1, 6), label="flips")):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] ^= 1 << data.draw(st.integers(0, 7))
    cut_at = None
    if data.draw(st.booleans(), label="cut"):
        cut_at = data.draw(st.integers(0, len(raw)))
        raw = raw[:cut_at]
    try:
        rec = read_recording_bytes(tmp_path, bytes(raw))
    except DownhillError as err:
        assert str(err) and "\n" not in str(err)
        return
    assert rec is not None
    kept = [(p.t_rx_s, p.payload) for p in rec.packets]
    known = {(p.t_rx_s, p.payload) for p in whole.packets}
    lost = len(whole.packets) - sum(k in known for k in kept)
    if lost and cut_at is not None:
        # a file cut exactly at a record's end (kill -9 between two writes) is a shorter
        # recording, by design (docs/recording-format.md): no report when the undamaged file cut
        # there reads the same, without a word
        try:
            shorter = read_recording_bytes(tmp_path, sample_recording()[:cut_at])
        except DownhillError:
            shorter = None
        clean = (
            shorter is not None
            and not shorter.skipped
            and not shorter.dropped_tail_bytes
            and [(p.t_rx_s, p.payload) for p in shorter.packets] == kept
        )
        lost = 0 if clean else lost
    if lost:  # what is missing is reported
        assert rec.skipped or rec.dropped_tail_bytes, "packets lost without a word"
    for p in rec.packets:  # a record is kept only when its CRC holds: nothing invented
        assert (p.t_rx_s, p.payload) in known
    for skip in rec.skipped:
        assert math.isfinite(skip.span_s) or math.isnan(skip.span_s)


def read_recording_bytes(tmp_path: Path, raw: bytes) -> Any:
    path = tmp_path / "fuzz.dlr"
    path.write_bytes(raw)
    return read_recording(path)


# ----------------------------------------------------------------------------------- profiles

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of a nested dict/list document."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, (*prefix, i))
    return out


#: a name as a user might (mis)type it: often with a line break or a terminal control in it
ODD_NAMES = st.one_of(
    st.text(max_size=8),
    st.builds(
        "".join,
        st.tuples(
            st.text(max_size=4),
            st.sampled_from(["\n", "\r", "\t", "\x00", "\x1b[2J", "\x85", "\u2028"]),
            st.text(max_size=4),
        ),
    ),
)


def mutated_yaml(data: st.DataObject, doc: Any) -> str:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        where = data.draw(st.sampled_from(paths(doc)))
        parent = doc
        for k in where[:-1]:
            parent = parent[k]
        how = data.draw(st.sampled_from(["drop", "rename", "value"]) if isinstance(parent, dict)
                        else st.just("value"))  # fmt: skip
        if how == "drop":
            del parent[where[-1]]  # a key left out
        elif how == "rename":  # a key misspelt, or a stream or rule named oddly
            parent[data.draw(ODD_NAMES, label="name")] = parent.pop(where[-1])
        else:
            parent[where[-1]] = data.draw(ODD_VALUES)
    return yaml.safe_dump(doc, sort_keys=False)


def assert_one_config_line(err: ConfigError) -> None:
    msg = str(err)
    assert msg.startswith("fuzz.yaml") and len(msg.splitlines()) == 1, repr(msg)
    assert msg.isprintable(), repr(msg)  # no terminal controls either


CUE_DOC = yaml.safe_load(Path(DEFAULT_PROFILE).read_text(encoding="utf-8"))


@FUZZ
@given(data=st.data())
def test_mutated_cue_profiles_load_or_give_one_config_error(data: st.DataObject) -> None:
    text = mutated_yaml(data, CUE_DOC)
    try:
        profile = parse_cue_profile(text, "fuzz.yaml")
    except ConfigError as err:
        assert_one_config_line(err)
    else:
        assert profile.rules is not None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_as_a_cue_profile_loads_or_gives_one_config_error(text: str) -> None:
    try:
        parse_cue_profile(text, "fuzz.yaml")
    except ConfigError as err:
        assert_one_config_line(err)


@pytest.mark.parametrize("name", PROFILES)
@FUZZ
@given(data=st.data())
def test_mutated_firmware_profiles_load_or_give_one_config_error(
    name: str, data: st.DataObject
) -> None:
    doc = yaml.safe_load(load_firmware_profile(name).source_text)
    text = mutated_yaml(data, doc)
    try:
        firmware = parse_firmware_profile(text, "fuzz.yaml")
    except ConfigError as err:
        assert_one_config_line(err)
        return
    # a profile that loads decodes too: random bytes give samples or a typed error
    for stream in firmware.streams.values():
        decoder = make_decoder(firmware, stream)
        payload = data.draw(st.binary(max_size=64))
        try:
            check_samples(decoder.decode(Packet(0.0, stream.name, payload), 0))
        except DecodeError as err:
            check_error(err)
    assert np.isfinite(len(firmware.streams))
