"""One exception family for downhill-live.

Every error a user can cause (bad file, bad packet, bad option) is a :class:`DownhillError`
subclass whose ``str()`` is a complete one-line message; the CLI prints it and exits non-zero.
"""

from __future__ import annotations

from enum import Enum


def one_line(text: str) -> str:
    r"""``text`` with every character that ``repr`` escapes written as its escape: control
    characters, line breaks (``str.splitlines`` breaks on C0/C1 controls and U+2028/U+2029),
    invisible format characters. A name taken from a user's file (a YAML key, a stream name, a
    path) then keeps a message on one line and cannot drive or fool the terminal.

    Examples
    --------
    >>> one_line("rules.bad\nname\x1b[2J")
    'rules.bad\\nname\\x1b[2J'
    >>> one_line("grade % and d\u00e9nivel\u00e9e\u202e")
    'grade % and dénivelée\\u202e'
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class DownhillError(Exception):
    """Base class: ``str(err)`` is a one-line, user-facing message.

    Whatever a subclass puts together, ``str()`` escapes control characters and line breaks
    (:func:`one_line`): user-given names in a message never split it.
    """

    exit_code: int = 1

    def __str__(self) -> str:
        return one_line(super().__str__())


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


class DecodeErrorKind(Enum):
    """What is wrong with a payload: :attr:`DecodeError.kind`, set where the error is raised.

    Code that reacts to a kind (a restarting decoder accepts a ``RESTART`` after a link gap)
    tests this attribute, never the message text.
    """

    #: shorter than the fields its header or flags announce
    TRUNCATED = "truncated"
    #: a length the format does not allow (not a header plus whole samples, no samples at all)
    BAD_LENGTH = "bad length"
    #: the header says it is something else: unknown measurement type or op code, not a response
    BAD_HEADER = "bad header"
    #: a known frame this decoder does not decode (another measurement, another frame type)
    UNSUPPORTED = "unsupported"
    #: a field value outside what the format allows (delta bit width, an unknown setting type)
    BAD_VALUE = "bad value"
    #: the sample counter or the sensor clock went backwards (a restart, or a corrupt packet)
    RESTART = "restart"
    #: a packet of a stream the firmware profile does not define
    UNKNOWN_STREAM = "unknown stream"
    #: not said by the raiser (the default; the decoders always say)
    MALFORMED = "malformed"


class DecodeError(DownhillError):
    """A notification payload cannot be decoded (truncated, malformed, unknown frame type).

    Parameters
    ----------
    message : str
        The complete description (``str(err)`` prefixes the packet index and stream).
    kind : DecodeErrorKind
        What is wrong, as data (``MALFORMED`` when not given).
    summary : str, optional
        ``message`` without its details (counter values, byte offsets): the text errors are
        counted and logged once under (default: ``message``).
    stream : str
        Stream name, "" when unknown.
    index : int, optional
        Packet index, None when unknown.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: DecodeErrorKind = DecodeErrorKind.MALFORMED,
        summary: str | None = None,
        stream: str = "",
        index: int | None = None,
    ) -> None:
        self.kind = kind
        self.summary = message if summary is None else summary
        self.stream = stream
        self.index = index
        self.message = message
        where = f"packet {index}" if index is not None else "packet"
        if stream:
            where += f" on {stream}"
        super().__init__(f"{where}: {message}")

    def at(self, *, stream: str, index: int | None) -> DecodeError:
        """The same error (class, kind, message) placed on ``stream`` and packet ``index``."""
        return type(self)(
            self.message, kind=self.kind, summary=self.summary, stream=stream, index=index
        )


class StreamRestartError(DecodeError):
    """The stream's counter or clock went backwards: the sensor restarted it (kind ``RESTART``)."""

    def __init__(
        self,
        message: str,
        *,
        kind: DecodeErrorKind = DecodeErrorKind.RESTART,
        summary: str | None = None,
        stream: str = "",
        index: int | None = None,
    ) -> None:
        super().__init__(message, kind=kind, summary=summary, stream=stream, index=index)


class HandshakeErrorKind(Enum):
    """Why a decoder's start handshake failed: :attr:`HandshakeError.kind`."""

    #: the sensor did not answer a command in time
    NO_ANSWER = "no answer"
    #: the sensor answered with an error code
    REFUSED = "refused"
    #: the sensor's answer cannot be read
    BAD_ANSWER = "bad answer"
    #: the stream's settings do not fit the start request
    BAD_REQUEST = "bad request"


class HandshakeError(DownhillError):
    """A stream's start handshake failed (live mode reports it as its ``StartError``).

    ``str(err)`` is the complete message, naming the device (or the profile for a
    ``BAD_REQUEST``).
    """

    def __init__(self, message: str, *, kind: HandshakeErrorKind) -> None:
        self.kind = kind
        self.message = message
        super().__init__(message)


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
