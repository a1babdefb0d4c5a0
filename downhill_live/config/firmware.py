"""Firmware profiles: YAML files in ``firmware_profiles/`` that say how to find, start and decode
a sensor. Devices are data: adding a sensor with a published or home-made byte layout needs YAML
only (see docs/adding-a-sensor.md).

A profile is validated into frozen dataclasses; any mistake raises :class:`ConfigError` naming the
file, line and key path. What a stream's ``decoder`` reads (its ``params``, the ``layout`` of the
declarative decoder) is validated by that decoder's entry in
:data:`~downhill_live.decode.registry.DECODERS`.
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from downhill_live.config.yamlio import (
    Checker,
    YamlDoc,
    load_yaml,
    load_yaml_text,
    normalize_uuid,
)
from downhill_live.decode.layout import FIELD_TYPES, Field, Layout
from downhill_live.decode.registry import DECODERS
from downhill_live.errors import ConfigError
from downhill_live.types import PLACEMENTS

#: the bundled profiles: the repository's top-level ``firmware_profiles/`` folder, installed as the
#: package ``downhill_live.firmware_profiles`` (see ``[tool.setuptools]`` in pyproject.toml)
BUNDLED_PACKAGE = "downhill_live.firmware_profiles"


@dataclass(frozen=True)
class Write:
    """One write to a characteristic in a start or stop sequence."""

    characteristic: str
    data: bytes
    response: bool = True


@dataclass(frozen=True)
class Stream:
    """A notifying characteristic and how to decode it."""

    name: str
    characteristic: str
    decoder: str
    layout: Layout | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FirmwareProfile:
    """A validated firmware profile. ``source_text`` is the YAML, stored in recordings."""

    name: str
    description: str
    placement: str
    name_pattern: str | None
    service_uuids: tuple[str, ...]
    start: tuple[Write, ...]
    stop: tuple[Write, ...]
    streams: dict[str, Stream]
    has_acceleration: bool
    source_text: str
    path: str

    def matches(self, name: str | None, service_uuids: list[str] | tuple[str, ...] = ()) -> bool:
        """True when an advertisement (local name, service UUIDs) belongs to this device family."""
        uuids = {u.lower() for u in service_uuids}
        if self.service_uuids and uuids.intersection(u.lower() for u in self.service_uuids):
            return True
        return bool(self.name_pattern and name and re.search(self.name_pattern, name))


#: bounds on profile values (beyond what each decoder checks): a profile is small, hand-written
#: data; anything far outside these is a mistake or a crafted file, refused with one line
MAX_NAME_CHARS = 64
MAX_DESCRIPTION_CHARS = 500
MAX_PATTERN_CHARS = 200
MAX_SERVICE_UUIDS = 32
MAX_WRITES = 32
#: the longest value one ATT write can carry (Bluetooth Core spec, Vol 3 Part F 3.2.9)
MAX_WRITE_BYTES = 512
MAX_STREAMS = 16
MAX_STREAM_NAME_CHARS = 32
MAX_FIELDS = 32
MAX_FIELD_NAME_CHARS = 32
#: a packet of a layout with a fixed sample count must fit one recording record
MAX_PACKET_BYTES = 65536 - 10
#: a counter wraps within 32 bits (the widest integer field type)
MAX_COUNTER_MODULO = 1 << 32
MAX_SCALE_G = 1000.0  # g per LSB: 1.0 for samples already in g
MAX_TIMESTAMP_SCALE_S = 3600.0  # seconds per timestamp unit
MAX_PRESSURE_SCALE_PA = 1e6  # Pa per unit
#: a group that repeats a quantified part, e.g. ``(a+)+``: exponential backtracking on a name
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")
#: control characters (C0, DEL, C1) and the Unicode line/paragraph separators: line breaks all
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _check_text(doc: YamlDoc, key: str, value: Any, max_chars: int) -> None:
    if not isinstance(value, str):
        raise doc.error(key, f"must be a string, got {value!r}"[:200])
    if len(value) > max_chars:
        raise doc.error(key, f"must be at most {max_chars} characters, got {len(value)}")
    if _CONTROL.search(value):
        raise doc.error(key, "must not contain control characters (newlines, tabs, NUL)")


def _check_list(doc: YamlDoc, key: str, value: Any, max_items: int) -> None:
    if isinstance(value, list | dict) and len(value) > max_items:
        raise doc.error(key, f"must have at most {max_items} entries, got {len(value)}")


def _check_raw_bounds(doc: YamlDoc) -> None:
    """Bounds checked on the document before it is validated (counts and lengths)."""
    top = doc.data
    if not isinstance(top, dict):
        return  # the validator says what is wrong
    if "name" in top and isinstance(top["name"], str):
        _check_text(doc, "name", top["name"], MAX_NAME_CHARS)
    if "description" in top:
        _check_text(doc, "description", top["description"], MAX_DESCRIPTION_CHARS)
    match = top.get("match")
    if isinstance(match, dict):
        pattern = match.get("name_pattern")
        if isinstance(pattern, str):
            _check_text(doc, "match.name_pattern", pattern, MAX_PATTERN_CHARS)
            if _NESTED_QUANTIFIER.search(pattern):
                raise doc.error(
                    "match.name_pattern",
                    "a repeated group that itself repeats (like '(a+)+') can take forever "
                    "on a device name; write it without the nesting",
                )
        _check_list(doc, "match.service_uuids", match.get("service_uuids"), MAX_SERVICE_UUIDS)
    for seq in ("start", "stop"):
        writes = top.get(seq)
        _check_list(doc, seq, writes, MAX_WRITES)
        for i, w in enumerate(writes if isinstance(writes, list) else []):
            hex_text = w.get("hex") if isinstance(w, dict) else None
            if isinstance(hex_text, str) and len(hex_text) > 2 * MAX_WRITE_BYTES + 1:
                raise doc.error(
                    f"{seq}[{i}].hex",
                    f"a write carries at most {MAX_WRITE_BYTES} bytes, got {len(hex_text) // 2}",
                )
    streams = top.get("streams")
    _check_list(doc, "streams", streams, MAX_STREAMS)
    for sname, sval in streams.items() if isinstance(streams, dict) else ():
        k = f"streams.{sname}"
        if len(sname) > MAX_STREAM_NAME_CHARS or _CONTROL.search(sname):
            raise doc.error(
                k, f"a stream name is at most {MAX_STREAM_NAME_CHARS} printable characters"
            )
        layout = sval.get("layout") if isinstance(sval, dict) else None
        if isinstance(layout, dict):
            for part in ("header", "sample"):
                fields = layout.get(part)
                _check_list(doc, f"{k}.layout.{part}", fields, MAX_FIELDS)
                for i, f in enumerate(fields if isinstance(fields, list) else []):
                    name = f.get("name") if isinstance(f, dict) else None
                    if isinstance(name, str) and len(name) > MAX_FIELD_NAME_CHARS:
                        raise doc.error(
                            f"{k}.layout.{part}[{i}].name",
                            f"must be at most {MAX_FIELD_NAME_CHARS} characters, got {len(name)}",
                        )


def _check_layout_bounds(doc: YamlDoc, key: str, lay: Layout) -> None:
    """Bounds on the values of a validated layout (the decoder checks their kind and sign)."""
    if lay.samples_per_packet is not None:
        n_bytes = lay.header_size + lay.samples_per_packet * lay.sample_size
        if n_bytes > MAX_PACKET_BYTES:
            raise doc.error(
                f"{key}.samples_per_packet",
                f"packets of {n_bytes} bytes are larger than a recording record "
                f"({MAX_PACKET_BYTES} bytes)",
            )
    checks = [
        (lay.scale_g, "scale_g", MAX_SCALE_G, True),
        (lay.counter_modulo, "counter.modulo", MAX_COUNTER_MODULO, lay.counter_field is not None),
        (
            lay.timestamp_scale_s,
            "timestamp.scale_s",
            MAX_TIMESTAMP_SCALE_S,
            lay.timestamp_field is not None,
        ),
        (
            lay.pressure_scale_pa,
            "pressure.scale_pa",
            MAX_PRESSURE_SCALE_PA,
            lay.pressure_field is not None,
        ),
    ]
    for value, name, hi, used in checks:
        if used and value > hi:
            show = (lambda x: f"{x:,}") if isinstance(value, int) else (lambda x: f"{x:g}")
            raise doc.error(f"{key}.{name}", f"must be <= {show(hi)}, got {show(value)}")


class _ProfileParser:
    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.c = Checker(doc)

    def writes(self, value: Any, key: str) -> tuple[Write, ...]:
        out = []
        for i, item in enumerate(self.c.sequence(value, key)):
            k = f"{key}[{i}]"
            m = self.c.mapping(
                item,
                k,
                {
                    "characteristic": "UUID",
                    "hex": "bytes to write",
                    "response": "write with response",
                },
            )
            hex_text = self.c.string(self.c.require(m, k, "hex"), f"{k}.hex")
            try:
                data = bytes.fromhex(hex_text)
            except ValueError:
                raise self.doc.error(f"{k}.hex", f"not hex bytes: {hex_text!r}") from None
            out.append(
                Write(
                    self.c.uuid(self.c.require(m, k, "characteristic"), f"{k}.characteristic"),
                    data,
                    self.c.boolean(m.get("response", True), f"{k}.response"),
                )
            )
        return tuple(out)

    def profile(self, source_text: str) -> FirmwareProfile:
        c = self.c
        _check_raw_bounds(self.doc)
        top = c.mapping(
            self.doc.data,
            "",
            {
                "name": "profile name",
                "description": "one line",
                "placement": "|".join(PLACEMENTS),
                "match": "{name_pattern, service_uuids}",
                "start": "list of writes",
                "stop": "list of writes",
                "streams": "mapping of stream name -> {characteristic, decoder, layout, params}",
            },
        )
        name = c.string(c.require(top, "", "name"), "name")
        match = c.mapping(
            top.get("match", {}), "match", {"name_pattern": "regex", "service_uuids": "list"}
        )
        pattern = match.get("name_pattern")
        if pattern is not None:
            c.string(pattern, "match.name_pattern")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise self.doc.error(
                    "match.name_pattern", f"invalid regular expression: {exc}"
                ) from None
        uuids = tuple(
            self.c.uuid(u, f"match.service_uuids[{i}]")
            for i, u in enumerate(c.sequence(match.get("service_uuids", []), "match.service_uuids"))
        )
        streams_raw = c.require(top, "", "streams")
        if not isinstance(streams_raw, dict):
            raise self.doc.error(
                "streams", "must be a mapping of stream name -> {characteristic, decoder, ...}"
            )
        if not streams_raw:
            raise self.doc.error("streams", "must define at least one stream")
        # keys a decoder reads besides characteristic/decoder/params (``layout``) -> its decoder
        owner = {key: d.name for d in DECODERS.values() for key in d.stream_keys}
        stream_keys = {
            "characteristic": "UUID",
            "decoder": "|".join(DECODERS),
            **{key: h for d in DECODERS.values() for key, h in d.stream_keys.items()},
            "params": "decoder settings",
        }
        streams: dict[str, Stream] = {}
        for sname, sval in streams_raw.items():
            k = f"streams.{sname}"
            sm = c.mapping(sval, k, stream_keys)
            decoder = DECODERS[
                c.string(c.require(sm, k, "decoder"), f"{k}.decoder", choices=tuple(DECODERS))
            ]
            for key, owner_name in owner.items():
                if key in sm and key not in decoder.stream_keys:
                    raise self.doc.error(
                        f"{k}.{key}",
                        f"only allowed with decoder {owner_name!r}, not {decoder.name!r}",
                    )
            parsed = decoder.parse(c, sm, k)
            if parsed.layout is not None:
                _check_layout_bounds(self.doc, f"{k}.layout", parsed.layout)
            streams[sname] = Stream(
                sname,
                c.uuid(c.require(sm, k, "characteristic"), f"{k}.characteristic"),
                decoder.name,
                parsed.layout,
                dict(parsed.params),
            )
        return FirmwareProfile(
            name=name,
            description=str(top.get("description", "")),
            placement=c.string(top.get("placement", "foot"), "placement", choices=PLACEMENTS),
            name_pattern=pattern,
            service_uuids=uuids,
            start=self.writes(top.get("start", []), "start"),
            stop=self.writes(top.get("stop", []), "stop"),
            streams=streams,
            has_acceleration=any(DECODERS[s.decoder].has_acceleration for s in streams.values()),
            source_text=source_text,
            path=self.doc.path,
        )


def parse_firmware_profile(text: str, path: str) -> FirmwareProfile:
    """Validate YAML text into a :class:`FirmwareProfile` (``path`` names it in errors)."""
    return _ProfileParser(load_yaml_text(text, path)).profile(text)


def load_firmware_profile(name_or_path: str | Path) -> FirmwareProfile:
    """Load a profile by file path, or by name from ``firmware_profiles/``."""
    p = Path(name_or_path)
    if not p.suffix and not p.exists():
        bundled = _bundled_files()
        if str(name_or_path) not in bundled:
            known = ", ".join(sorted(bundled)) or "none installed"
            raise ConfigError(str(name_or_path), f"no such firmware profile (bundled: {known})")
        res = bundled[str(name_or_path)]
        text = res.read_text(encoding="utf-8")
        return parse_firmware_profile(text, f"{BUNDLED_PACKAGE}/{res.name}")
    doc = load_yaml(p)
    return _ProfileParser(doc).profile(p.read_text(encoding="utf-8"))


def _bundled_files() -> dict[str, Traversable]:
    root = importlib.resources.files(BUNDLED_PACKAGE)
    return {
        f.name.removesuffix(".yaml"): f
        for f in root.iterdir()
        if f.is_file() and f.name.endswith(".yaml")
    }


def bundled_profile_names() -> list[str]:
    """Names of the bundled profiles (``firmware_profiles/*.yaml``), sorted."""
    return sorted(_bundled_files())


def bundled_profiles() -> list[FirmwareProfile]:
    """All bundled profiles (``firmware_profiles/*.yaml``), by name."""
    return [load_firmware_profile(name) for name in bundled_profile_names()]


__all__ = [
    "BUNDLED_PACKAGE",
    "FIELD_TYPES",
    "Field",
    "FirmwareProfile",
    "Layout",
    "Stream",
    "Write",
    "bundled_profile_names",
    "bundled_profiles",
    "load_firmware_profile",
    "normalize_uuid",
    "parse_firmware_profile",
]
