"""One exception family for downhill-live.

Every error a user can cause (bad file, bad packet, bad option) is a :class:`DownhillError`
subclass whose ``str()`` is a complete one-line message; the CLI prints it and exits non-zero.
"""

from __future__ import annotations


class DownhillError(Exception):
    """Base class: ``str(err)`` is a one-line, user-facing message."""

    exit_code: int = 1


class ConfigError(DownhillError):
    """A YAML file (cue profile or firmware profile) is invalid.

    Attributes
    ----------
    path: file name; line: 1-based line or None; key: dotted key path or "".
    """

    exit_code = 2

    def __init__(self, path: str, message: str, *, line: int | None = None, key: str = "") -> None:
        self.path = path
        self.line = line
        self.key = key
        self.message = message
        where = path if line is None else f"{path}:{line}"
        if key:
            where += f": {key}"
        super().__init__(f"{where}: {message}")


class DecodeError(DownhillError):
    """A notification payload cannot be decoded (truncated, malformed, unknown frame type)."""

    def __init__(self, message: str, *, stream: str = "", index: int | None = None) -> None:
        self.stream = stream
        self.index = index
        self.message = message
        where = f"packet {index}" if index is not None else "packet"
        if stream:
            where += f" on {stream}"
        super().__init__(f"{where}: {message}")


class RecordingError(DownhillError):
    """A recording file is unreadable (wrong magic, bad header, unsupported version)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


class InputError(DownhillError):
    """A CSV or other input file is invalid at a given line."""

    exit_code = 2

    def __init__(self, path: str, message: str, *, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {message}")
