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
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from downhill_live.errors import RecordingError
from downhill_live.record import RecordingWriter
from downhill_live.speech import LINK_PHRASES, Speaker, link_phrase, link_phrases
from downhill_live.types import Cue, Packet, Step

__all__ = ["LINK_PHRASES", "RecorderSink", "Sink", "SpeakerSink"]


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

    def devices(self, labels: Sequence[str]) -> None:
        """Live mode with several devices, after the scan: the names that the session's
        events give the devices (``event["device"]``)."""

    def close(self) -> None:
        """The session has ended."""


def overrides(sink: Sink, method: str) -> bool:
    """Whether ``sink`` implements ``method`` (so a session skips the no-op calls)."""
    return getattr(type(sink), method) is not getattr(Sink, method)


class RecorderSink(Sink):
    """Records raw packets, events and cues to a recording file (see docs/recording-format.md).

    The file is created by :meth:`start` (the header is known only once the sensor answered);
    packets before that are refused with :class:`~downhill_live.errors.RecordingError`.

    The data path only queues records. :meth:`flush` (every 2 s in live mode, on the event
    loop) hands the queued batch to a writer thread and returns at once: writing and ``fsync``
    happen there, so a slow or stalled disk never delays packet handling. A write failure (a
    full disk) is raised by the next :meth:`flush`, once; :meth:`close` writes what is left
    and waits for the thread.
    """

    def __init__(self, path: str | Path, streams: list[str]) -> None:
        self.path = Path(path)
        self.streams = list(streams)
        self.writer: RecordingWriter | None = None
        self._batches: queue.SimpleQueue[list[bytes] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._error: RecordingError | None = None
        self._error_raised = False
        #: batches handed to the writer thread, and written by it (each counted by one thread)
        self.batches_handed = 0
        self.batches_written = 0

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
            except FileExistsError:
                continue
            self._thread = threading.Thread(
                target=self._write_batches, name="recorder", daemon=True
            )
            self._thread.start()
            return
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

    def _write_batches(self) -> None:
        """The writer thread: write and sync each batch, in order."""
        writer = self.writer
        assert writer is not None
        while (batch := self._batches.get()) is not None:
            try:
                writer.write_batch(batch)
            except RecordingError as exc:  # raised once by the writer; reported by flush()
                self._error = exc
            finally:
                self.batches_written += 1

    def flush(self) -> None:
        """Hand the queued records to the writer thread (never waits for the disk); raises
        the :class:`RecordingError` of an earlier failed write, once."""
        if self.writer is None:
            return
        if self._error is not None and not self._error_raised:
            self._error_raised = True
            raise self._error
        if self._thread is None or not self._thread.is_alive():
            self.writer.flush()
            return
        self.batches_handed += 1
        self._batches.put(self.writer.take())

    def close(self) -> None:
        writer = self.writer
        if writer is None:
            return
        synced = False
        if self._thread is not None and self._thread.is_alive():
            self._batches.put(writer.take())  # the last batch, written and synced there
            self._batches.put(None)
            self._thread.join()
            synced = True
        writer.close(sync=not synced)  # after a reported failure: closes what was kept, quietly
        if self._error is not None and not self._error_raised:  # the last batch failed
            self._error_raised = True
            raise self._error


class SpeakerSink(Sink):
    """Speaks cues, and the link changes ("sensor lost", "sensor back"), through a speaker.

    ``notify`` (e.g. the console sink's ``notice``) receives the speaker's own one-line notes,
    such as a restarted speech worker; it may be called from the speaker's thread.
    """

    def __init__(self, speaker: Speaker, notify: Callable[[str], None] | None = None) -> None:
        self.speaker = speaker
        if notify is not None and hasattr(speaker, "on_notice"):
            speaker.on_notice = notify

    def cue(self, cue: Cue) -> None:
        self.speaker.say(cue)

    def event(self, t_s: float, event: dict[str, Any]) -> None:
        name = event.get("event")
        if name == "grade_unknown" and isinstance(event.get("phrase"), str):
            self.speaker.say(Cue(t_s, "grade_unknown", event["phrase"], "grade", math.nan))
        elif name in LINK_PHRASES:
            device = event.get("device")  # several devices: "Treadmill lost"
            phrase = link_phrase(str(name), None if device is None else str(device))
            self.speaker.say(Cue(t_s, str(name), phrase, "link", math.nan))

    def devices(self, labels: Sequence[str]) -> None:
        """The devices' names are known: their link phrases ("Treadmill lost") are rendered
        now, by a speaker that prepares phrases, so that they play at once when said."""
        prepare = getattr(self.speaker, "prepare", None)
        if prepare is not None:
            prepare(link_phrases(labels))
