"""Firmware profiles: YAML files in ``firmware_profiles/`` that say how to find, start and decode
a sensor. Devices are data: adding a sensor with a published or home-made byte layout needs YAML
only (see docs/adding-a-sensor.md).

A profile is validated into frozen dataclasses; any mistake raises :class:`ConfigError` naming the
file, line and key path.
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from downhill_live.config.yamlio import Checker, YamlDoc, load_yaml, load_yaml_text
from downhill_live.errors import ConfigError
from downhill_live.types import PLACEMENTS

#: the bundled profiles: the repository's top-level ``firmware_profiles/`` folder, installed as the
#: package ``downhill_live.firmware_profiles`` (see ``[tool.setuptools]`` in pyproject.toml)
BUNDLED_PACKAGE = "downhill_live.firmware_profiles"

#: struct-like field types for declarative layouts: name -> (numpy dtype code, size in bytes)
FIELD_TYPES: dict[str, tuple[str, int]] = {
    "u8": ("u1", 1),
    "i8": ("i1", 1),
    "u16": ("u2", 2),
    "i16": ("i2", 2),
    "u32": ("u4", 4),
    "i32": ("i4", 4),
    "f32": ("f4", 4),
}
BUILTIN_DECODERS = ("layout", "polar_pmd_acc", "sig_rsc")
#: Polar PMD control point (``params.control_point`` default of ``polar_pmd_acc`` streams)
PMD_CONTROL_POINT = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
#: ``params`` keys of the built-in decoders: key -> help. ``layout`` streams take any keys.
DECODER_PARAMS: dict[str, dict[str, str]] = {
    "polar_pmd_acc": {
        "sample_rate_hz": "ACC sample rate sent in the start request (required)",
        "range_g": "ACC range in g sent in the start request (required)",
        "resolution_bits": "resolution sent in the start request (default 16)",
        "channels": "channel count, sent only when given",
        "sdk_mode": "enable SDK mode before starting ACC (Verity Sense high rates)",
        "control_point": "PMD control point UUID (default Polar's)",
        "start_timeout_s": "seconds to wait for each control point answer (default 5)",
        "factor": "scale factor when no start response is known (default 1.0)",
    },
    "sig_rsc": {
        "cadence_one_foot": "the pod sends one foot's cadence: double it (default false)",
    },
}


@dataclass(frozen=True)
class Field:
    """One named fixed-size field of a packet header or a sample."""

    name: str
    type: str


@dataclass(frozen=True)
class Layout:
    """Declarative packet layout: header fields, then repeated samples of int x/y/z."""

    endian: str
    header: tuple[Field, ...]
    sample: tuple[Field, ...]
    samples_per_packet: int | None  # None: as many whole samples as the payload holds
    scale_g: float
    rate_hz: float
    axis_map: tuple[tuple[int, float], ...]  # per output axis: (index into sample fields, sign)
    counter_field: str | None = None
    counter_per: str = "packet"  # "packet" | "sample"
    counter_modulo: int = 65536
    timestamp_field: str | None = None
    timestamp_scale_s: float = 1.0
    timestamp_sample: str = "first"  # "first" | "last"
    pressure_field: str | None = None
    pressure_scale_pa: float = 1.0

    @property
    def header_size(self) -> int:
        return sum(FIELD_TYPES[f.type][1] for f in self.header)

    @property
    def sample_size(self) -> int:
        return sum(FIELD_TYPES[f.type][1] for f in self.sample)


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


_UUID16 = re.compile(r"^[0-9a-fA-F]{4}$")
_UUID128 = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def normalize_uuid(value: str) -> str:
    """'2a53' or '0x2A53' -> the full lower-case 128-bit Bluetooth base UUID; 128-bit kept."""
    v = value.lower().removeprefix("0x")
    if _UUID16.match(v):
        return f"0000{v}-0000-1000-8000-00805f9b34fb"
    if _UUID128.match(v):
        return v
    raise ValueError(value)


class _ProfileParser:
    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.c = Checker(doc)

    def uuid(self, value: Any, key: str) -> str:
        s = self.c.string(value, key)
        try:
            return normalize_uuid(s)
        except ValueError:
            raise self.doc.error(key, f"not a 16-bit or 128-bit UUID: {s!r}") from None

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
                    self.uuid(self.c.require(m, k, "characteristic"), f"{k}.characteristic"),
                    data,
                    self.c.boolean(m.get("response", True), f"{k}.response"),
                )
            )
        return tuple(out)

    def fields(self, value: Any, key: str) -> tuple[Field, ...]:
        out = []
        for i, item in enumerate(self.c.sequence(value, key)):
            k = f"{key}[{i}]"
            m = self.c.mapping(item, k, {"name": "field name", "type": "field type"})
            name = self.c.string(self.c.require(m, k, "name"), f"{k}.name")
            ftype = self.c.string(
                self.c.require(m, k, "type"), f"{k}.type", choices=tuple(FIELD_TYPES)
            )
            out.append(Field(name, ftype))
        return tuple(out)

    def layout(self, value: Any, key: str) -> Layout:
        allowed = {
            "endian": "little | big",
            "header": "list of {name, type}",
            "sample": "list of {name, type}",
            "samples_per_packet": "integer or 'auto'",
            "scale_g": "g per LSB",
            "rate_hz": "sample rate",
            "axis_map": "three sample field names, optionally prefixed with '-'",
            "counter": "{field, per: packet|sample, modulo}",
            "timestamp": "{field, scale_s, sample: first|last}",
            "pressure": "{field, scale_pa}",
        }
        m = self.c.mapping(value, key, allowed)
        c = self.c
        header = self.fields(m.get("header", []), f"{key}.header")
        sample = self.fields(c.require(m, key, "sample"), f"{key}.sample")
        names = [f.name for f in header]
        snames = [f.name for f in sample]
        for i, n in enumerate(names + snames):
            if (names + snames).index(n) != i:
                raise self.doc.error(key, f"field name {n!r} is used twice")
        spp_raw = m.get("samples_per_packet", "auto")
        spp = (
            None
            if spp_raw == "auto"
            else c.integer(spp_raw, f"{key}.samples_per_packet", lo=1, hi=4096)
        )
        axes = c.sequence(c.require(m, key, "axis_map"), f"{key}.axis_map", min_len=3)
        if len(axes) != 3:
            raise self.doc.error(f"{key}.axis_map", "must name exactly three sample fields")
        axis_map = []
        for i, a in enumerate(axes):
            s = c.string(a, f"{key}.axis_map[{i}]")
            sign = -1.0 if s.startswith("-") else 1.0
            fname = s.lstrip("+-")
            if fname not in snames:
                raise self.doc.error(
                    f"{key}.axis_map[{i}]", f"{fname!r} is not a sample field ({', '.join(snames)})"
                )
            axis_map.append((snames.index(fname), sign))
        kw: dict[str, Any] = {}
        if "counter" in m:
            k = f"{key}.counter"
            cm = c.mapping(
                m["counter"],
                k,
                {"field": "header field", "per": "packet | sample", "modulo": "wrap value"},
            )
            kw["counter_field"] = c.string(
                c.require(cm, k, "field"), f"{k}.field", choices=tuple(names)
            )
            kw["counter_per"] = c.string(
                cm.get("per", "packet"), f"{k}.per", choices=("packet", "sample")
            )
            kw["counter_modulo"] = c.integer(cm.get("modulo", 65536), f"{k}.modulo", lo=2)
        if "timestamp" in m:
            k = f"{key}.timestamp"
            tm = c.mapping(
                m["timestamp"],
                k,
                {"field": "header field", "scale_s": "seconds per unit", "sample": "first | last"},
            )
            kw["timestamp_field"] = c.string(
                c.require(tm, k, "field"), f"{k}.field", choices=tuple(names)
            )
            kw["timestamp_scale_s"] = c.number(tm.get("scale_s", 1.0), f"{k}.scale_s", lo=1e-12)
            kw["timestamp_sample"] = c.string(
                tm.get("sample", "first"), f"{k}.sample", choices=("first", "last")
            )
        if "pressure" in m:
            k = f"{key}.pressure"
            pm = c.mapping(m["pressure"], k, {"field": "header field", "scale_pa": "Pa per unit"})
            kw["pressure_field"] = c.string(
                c.require(pm, k, "field"), f"{k}.field", choices=tuple(names)
            )
            kw["pressure_scale_pa"] = c.number(pm.get("scale_pa", 1.0), f"{k}.scale_pa", lo=1e-12)
        return Layout(
            endian=c.string(m.get("endian", "little"), f"{key}.endian", choices=("little", "big")),
            header=header,
            sample=sample,
            samples_per_packet=spp,
            scale_g=c.number(c.require(m, key, "scale_g"), f"{key}.scale_g", lo=1e-9),
            rate_hz=c.number(c.require(m, key, "rate_hz"), f"{key}.rate_hz", lo=1.0, hi=20000.0),
            axis_map=tuple(axis_map),
            **kw,
        )

    def params(self, decoder: str, value: Any, key: str) -> dict[str, Any]:
        """Validate a stream's ``params`` for its decoder; fill in defaults."""
        c = self.c
        if decoder not in DECODER_PARAMS:
            if not isinstance(value, dict):
                raise self.doc.error(key, "must be a mapping of decoder settings")
            return dict(value)
        m = c.mapping(value, key, DECODER_PARAMS[decoder])
        if decoder == "sig_rsc":
            return {
                "cadence_one_foot": c.boolean(
                    m.get("cadence_one_foot", False), f"{key}.cadence_one_foot"
                )
            }
        out: dict[str, Any] = {
            "sample_rate_hz": c.integer(
                c.require(m, key, "sample_rate_hz"), f"{key}.sample_rate_hz", lo=1, hi=65535
            ),
            "range_g": c.integer(c.require(m, key, "range_g"), f"{key}.range_g", lo=1, hi=65535),
            "resolution_bits": c.integer(
                m.get("resolution_bits", 16), f"{key}.resolution_bits", lo=1, hi=32
            ),
            "sdk_mode": c.boolean(m.get("sdk_mode", False), f"{key}.sdk_mode"),
            "control_point": self.uuid(
                m.get("control_point", PMD_CONTROL_POINT), f"{key}.control_point"
            ),
            "start_timeout_s": c.number(
                m.get("start_timeout_s", 5.0), f"{key}.start_timeout_s", lo=0.01, hi=120.0
            ),
            "factor": c.number(m.get("factor", 1.0), f"{key}.factor", lo=1e-12),
        }
        if "channels" in m:
            out["channels"] = c.integer(m["channels"], f"{key}.channels", lo=1, hi=255)
        return out

    def profile(self, source_text: str) -> FirmwareProfile:
        c = self.c
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
            self.uuid(u, f"match.service_uuids[{i}]")
            for i, u in enumerate(c.sequence(match.get("service_uuids", []), "match.service_uuids"))
        )
        streams_raw = c.require(top, "", "streams")
        if not isinstance(streams_raw, dict):
            raise self.doc.error(
                "streams", "must be a mapping of stream name -> {characteristic, decoder, ...}"
            )
        if not streams_raw:
            raise self.doc.error("streams", "must define at least one stream")
        streams: dict[str, Stream] = {}
        for sname, sval in streams_raw.items():
            k = f"streams.{sname}"
            sm = c.mapping(
                sval,
                k,
                {
                    "characteristic": "UUID",
                    "decoder": "|".join(BUILTIN_DECODERS),
                    "layout": "layout",
                    "params": "decoder settings",
                },
            )
            decoder = c.string(
                c.require(sm, k, "decoder"), f"{k}.decoder", choices=BUILTIN_DECODERS
            )
            layout = None
            if decoder == "layout":
                layout = self.layout(c.require(sm, k, "layout"), f"{k}.layout")
            elif "layout" in sm:
                raise self.doc.error(
                    f"{k}.layout", f"only allowed with decoder 'layout', not {decoder!r}"
                )
            params = self.params(decoder, sm.get("params", {}), f"{k}.params")
            streams[sname] = Stream(
                sname,
                self.uuid(c.require(sm, k, "characteristic"), f"{k}.characteristic"),
                decoder,
                layout,
                dict(params),
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
            has_acceleration=any(s.decoder != "sig_rsc" for s in streams.values()),
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
