"""Where a session's output goes: the sinks handed to :class:`~downhill_live.session.Session`.

A sink receives, in this order for every raw packet: the packet itself (before it is decoded:
raw first), then each step the core reports and each cue the rules fire; session events (link
lost/back, control-point answers) as they happen; ``close`` once at the end. Live mode and
replay hand the same kinds of sink to the session, so what is recorded, printed and spoken is
decided in one place. A sink's methods return at once: the data path never waits on a sink
(speech only enqueues, the recorder buffers and flushes on a timer).

The console sink (every user-facing line) lives in :mod:`downhill_live.cli.console`.

Examples
--------
>>> from downhill_live.types import Cue
>>> class Collect(Sink):
...     def __init__(self) -> None:
...         self.cues: list[Cue] = []
...     def cue(self, cue: Cue) -> None:
...         self.cues.append(cue)
>>> sink = Collect()
>>> sink.cue(Cue(12.5, "cadence_low", "quicker steps", "cadence_spm", 158.0))
>>> [c.rule for c in sink.cues]
['cadence_low']
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from downhill_live.errors import RecordingError
from downhill_live.record import RecordingWriter
from downhill_live.speech import Speaker
from downhill_live.types import Cue, Packet, Step

__all__ = ["LINK_PHRASES", "RecorderSink", "Sink", "SpeakerSink"]

#: what is spoken when the link to the sensor changes (event name -> phrase)
LINK_PHRASES = {
    "link_lost": "sensor lost",
    "link_back": "sensor back",
    "recording_failed": "recording stopped",
}


class Sink:
    """Base class: every method does nothing; a sink overrides what it uses."""

    def packet(self, packet: Packet) -> None:
        """A raw packet, before it is decoded."""

    def step(self, step: Step) -> None:
        """A step the core reported."""

    def cue(self, cue: Cue) -> None:
        """A cue the rules fired."""

    def event(self, t_s: float, event: dict[str, Any]) -> None:
        """A session event at receive time ``t_s`` (``event["event"]`` names it)."""

    def notice(self, text: str) -> None:
        """A one-line note for the user (said once)."""

    def status(self, text: str) -> None:
        """The live status line, refreshed about twice a second."""

    def close(self) -> None:
        """The session has ended."""


def overrides(sink: Sink, method: str) -> bool:
    """Whether ``sink`` implements ``method`` (so a session skips the no-op calls)."""
    return getattr(type(sink), method) is not getattr(Sink, method)


class RecorderSink(Sink):
    """Records raw packets, events and cues to a recording file (see docs/recording-format.md).

    The file is created by :meth:`start` (the header is known only once the sensor answered);
    packets before that are refused with :class:`~downhill_live.errors.RecordingError`.
    """

    def __init__(self, path: str | Path, streams: list[str]) -> None:
        self.path = Path(path)
        self.streams = list(streams)
        self.writer: RecordingWriter | None = None

    def start(self, header: dict[str, Any]) -> None:
        """Create the recording with ``header``. The file is always new: when ``path`` exists
        (another session started in the same second), ``NAME-2.dlr``, ``NAME-3.dlr``, ... is
        taken instead, by exclusive creation, so two sessions never share a file."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordingError(str(self.path.parent), exc.strerror or str(exc)) from None
        base = self.path
        for n in range(1, 1000):
            if n > 1:
                self.path = base.with_name(f"{base.stem}-{n}{base.suffix}")
            try:
                self.writer = RecordingWriter(
                    self.path, header, streams=self.streams, exclusive=True
                )
                return
            except FileExistsError:
                continue
        raise RecordingError(str(base), "1,000 recordings of this name exist already")

    def _w(self) -> RecordingWriter:
        if self.writer is None:
            raise RecordingError(str(self.path), "recording not started")
        return self.writer

    def packet(self, packet: Packet) -> None:
        self._w().write_packet(packet)

    def cue(self, cue: Cue) -> None:
        self._w().write_cue(cue)

    def event(self, t_s: float, event: dict[str, Any]) -> None:
        self._w().write_event(t_s, event)

    def flush(self) -> None:
        """Write buffered records to disk."""
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()  # after a reported failure: closes what was kept, quietly


class SpeakerSink(Sink):
    """Speaks cues, and the link changes ("sensor lost", "sensor back"), through a speaker."""

    def __init__(self, speaker: Speaker) -> None:
        self.speaker = speaker

    def cue(self, cue: Cue) -> None:
        self.speaker.say(cue)

    def event(self, t_s: float, event: dict[str, Any]) -> None:
        name = event.get("event")
        if name == "grade_unknown" and isinstance(event.get("phrase"), str):
            self.speaker.say(Cue(t_s, "grade_unknown", event["phrase"], "grade", math.nan))
        elif name in LINK_PHRASES:
            self.speaker.say(Cue(t_s, str(name), LINK_PHRASES[str(name)], "link", math.nan))
