"""Safe YAML loading with line numbers, shared by cue profiles and firmware profiles.

YAML is parsed with PyYAML's safe composer and converted by hand: only plain scalars, lists
and mappings are accepted, aliases and custom tags are refused (no object construction, no
"billion laughs" expansion), and size and nesting are bounded. Every value's line is kept so
that validation errors can say ``file:line: key.path: message``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from downhill_live.errors import ConfigError

MAX_BYTES = 256 * 1024
MAX_DEPTH = 16
#: longest integer literal taken (digits, sign, underscores); Python converts at most 4,300
MAX_INT_CHARS = 1000
_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


@dataclass(frozen=True)
class YamlDoc:
    """A loaded document: plain ``data`` and the 1-based line of every key path."""

    path: str
    data: Any
    lines: dict[str, int]

    def line(self, key: str) -> int | None:
        """Line of ``key`` (dotted path, list items as ``[i]``), or of its nearest parent."""
        while key:
            if key in self.lines:
                return self.lines[key]
            cut = max(key.rfind("."), key.rfind("["))
            key = key[:cut] if cut > 0 else ""
        return self.lines.get("")

    def error(self, key: str, message: str) -> ConfigError:
        """A ConfigError naming this file, the line of ``key`` and the key path."""
        return ConfigError(self.path, message, line=self.line(key), key=key)


def _join(parent: str, child: str | int) -> str:
    if isinstance(child, int):
        return f"{parent}[{child}]"
    return f"{parent}.{child}" if parent else child


def _convert(node: yaml.Node, path: str, key: str, lines: dict[str, int], depth: int) -> Any:
    lines[key] = node.start_mark.line + 1
    if depth > MAX_DEPTH:
        raise ConfigError(path, f"nested deeper than {MAX_DEPTH} levels", line=lines[key], key=key)
    if isinstance(node, yaml.ScalarNode):
        if node.tag not in _SCALAR_TAGS:
            raise ConfigError(path, f"tag {node.tag!r} is not allowed", line=lines[key], key=key)
        if node.tag == "tag:yaml.org,2002:int" and len(node.value) > MAX_INT_CHARS:
            raise ConfigError(
                path,
                f"integer of {len(node.value)} characters is too long (at most {MAX_INT_CHARS})",
                line=lines[key],
                key=key,
            )
        return _SCALARS.construct_object(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            raise ConfigError(path, f"tag {node.tag!r} is not allowed", line=lines[key], key=key)
        return [
            _convert(item, path, _join(key, i), lines, depth + 1)
            for i, item in enumerate(node.value)
        ]
    if isinstance(node, yaml.MappingNode):
        if node.tag != "tag:yaml.org,2002:map":
            raise ConfigError(path, f"tag {node.tag!r} is not allowed", line=lines[key], key=key)
        out: dict[str, Any] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                raise ConfigError(
                    path, "mapping keys must be plain names", line=knode.start_mark.line + 1
                )
            name = str(knode.value)
            child = _join(key, name)
            if name in out:
                raise ConfigError(path, "duplicate key", line=knode.start_mark.line + 1, key=child)
            out[name] = _convert(vnode, path, child, lines, depth + 1)
            lines[child] = knode.start_mark.line + 1
        return out
    raise ConfigError(path, "unsupported YAML node", line=lines[key], key=key)


class _Loader(yaml.SafeLoader):
    """SafeLoader whose composer refuses aliases (anchors may be declared but not reused)."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed", event.start_mark
            )
        # composing recurses per level: stop before Python's recursion limit does
        if self._depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


#: constructs plain scalars (ints, floats, bools, nulls, strings) from already-resolved nodes
_SCALARS = yaml.SafeLoader("")


def load_yaml_text(text: str, path: str) -> YamlDoc:
    """Parse ``text`` (named ``path`` in errors) into a :class:`YamlDoc`."""
    if len(text.encode()) > MAX_BYTES:
        raise ConfigError(path, f"file is larger than {MAX_BYTES // 1024} KiB; refusing to load it")
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(path, f"invalid YAML: {exc.problem or exc.context}", line=line) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, controls)
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(
            path, f"invalid YAML: character U+{exc.character:04X} is not allowed", line=line
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, f"invalid YAML: {exc}") from None
    lines: dict[str, int] = {}
    if node is None:
        return YamlDoc(path, None, lines)
    return YamlDoc(path, _convert(node, path, "", lines, 0), lines)


def load_yaml(path: str | Path) -> YamlDoc:
    """Read and parse a YAML file; unreadable files raise ConfigError."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise ConfigError(
                str(p), f"file is larger than {MAX_BYTES // 1024} KiB; refusing to load it"
            )
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(p), exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise ConfigError(str(p), "file is not UTF-8 text") from None
    return load_yaml_text(text, str(p))


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


def is_finite_number(value: float) -> bool:
    """``math.isfinite`` that also says False for an int too large for a float."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


class Checker:
    """Small helpers for validating a mapping from a :class:`YamlDoc` with precise errors."""

    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc

    def mapping(self, value: Any, key: str, allowed: dict[str, str]) -> dict[str, Any]:
        """Check ``value`` is a mapping whose keys are all in ``allowed`` (name -> help)."""
        if not isinstance(value, dict):
            raise self.doc.error(key, f"must be a mapping with keys {', '.join(allowed)}")
        for name in value:
            if name not in allowed:
                raise self.doc.error(
                    _join(key, name), f"unknown key; allowed here: {', '.join(sorted(allowed))}"
                )
        return value

    def require(self, m: dict[str, Any], key: str, name: str) -> Any:
        if name not in m:
            raise self.doc.error(key or "", f"missing required key '{name}'")
        return m[name]

    def number(
        self, value: Any, key: str, *, lo: float | None = None, hi: float | None = None
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.doc.error(key, f"must be a number, got {value!r}")
        if not is_finite_number(value):
            raise self.doc.error(key, f"must be a finite number, got {value!r}")
        if lo is not None and value < lo:
            raise self.doc.error(key, f"must be >= {lo}, got {value}")
        if hi is not None and value > hi:
            raise self.doc.error(key, f"must be <= {hi}, got {value}")
        return float(value)

    def integer(self, value: Any, key: str, *, lo: int | None = None, hi: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.doc.error(key, f"must be an integer, got {value!r}")
        self.number(value, key, lo=lo, hi=hi)
        return int(value)

    def string(self, value: Any, key: str, *, choices: tuple[str, ...] | None = None) -> str:
        if not isinstance(value, str) or not value:
            raise self.doc.error(key, f"must be a non-empty string, got {value!r}")
        if choices is not None and value not in choices:
            raise self.doc.error(
                key, f"must be one of {', '.join(choices) or '(none defined)'}, got {value!r}"
            )
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.doc.error(key, f"must be true or false, got {value!r}")
        return value

    def uuid(self, value: Any, key: str) -> str:
        """A Bluetooth UUID (16-bit or 128-bit), normalized by :func:`normalize_uuid`."""
        s = self.string(value, key)
        try:
            return normalize_uuid(s)
        except ValueError:
            raise self.doc.error(key, f"not a 16-bit or 128-bit UUID: {s!r}") from None

    def sequence(self, value: Any, key: str, *, min_len: int = 0) -> list[Any]:
        if not isinstance(value, list) or len(value) < min_len:
            need = f" with at least {min_len} item(s)" if min_len else ""
            raise self.doc.error(key, f"must be a list{need}")
        return value
