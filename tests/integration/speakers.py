"""A speaker for the live-mode tests that remembers what it was asked to say and to prepare
(the speaker is the edge of the pipeline: the real worker is tested in test_speech*.py)."""

from __future__ import annotations

from collections.abc import Sequence

from downhill_live.types import Cue


class ListSpeaker:
    """A :class:`~downhill_live.speech.Speaker` that keeps the cues said and the phrases it
    was asked to render ahead (:meth:`~downhill_live.speech.WorkerSpeaker.prepare`)."""

    description = "speech: test list"
    healthy = True

    def __init__(self) -> None:
        self.said: list[Cue] = []
        self.prepared: list[str] = []

    def say(self, cue: Cue) -> bool:
        self.said.append(cue)
        return True

    def prepare(self, phrases: Sequence[str]) -> None:
        self.prepared.extend(phrases)

    def close(self, timeout_s: float = 5.0) -> None:
        pass
