"""The speech interface the rest of the app sees: :class:`Speaker`, and the console fallback.

The data path calls :meth:`Speaker.say` with a :class:`~downhill_live.types.Cue` and gets an
answer at once; whatever speaks the cue does so elsewhere. :class:`ConsoleSpeaker` is the speaker
when there is no text-to-speech or no audio output. Cue lines for the console come from
:func:`format_cue_line`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TextIO, runtime_checkable

from downhill_live.errors import DownhillError
from downhill_live.types import Cue

#: what is spoken when the link to the sensor changes, or recording stops (event name -> phrase);
#: with several devices "sensor" is the device's name (:func:`link_phrase`). A device beside
#: the strike device may be missing at the start and found later: ``link_missing``,
#: ``link_found``.
LINK_PHRASES = {
    "link_lost": "sensor lost",
    "link_back": "sensor back",
    "link_missing": "sensor not found",
    "link_found": "sensor found",
    "recording_failed": "recording stopped",
}


def link_phrase(event: str, device: str | None = None) -> str:
    """What is said for the session event ``event`` (a key of :data:`LINK_PHRASES`) about
    ``device`` (None: the one sensor).

    Examples
    --------
    >>> link_phrase("link_lost"), link_phrase("link_missing", "Treadmill")
    ('sensor lost', 'Treadmill not found')
    """
    phrase = LINK_PHRASES[event]
    if device is not None and event != "recording_failed":
        phrase = phrase.replace("sensor", device, 1)
    return phrase


def link_phrases(devices: Iterable[str]) -> tuple[str, ...]:
    """Every link phrase a session can say about the named ``devices`` (see
    :func:`link_phrase`), to render ahead of their first use.

    Examples
    --------
    >>> link_phrases(["Treadmill"])
    ('Treadmill lost', 'Treadmill back', 'Treadmill not found', 'Treadmill found')
    """
    events = [e for e in LINK_PHRASES if e != "recording_failed"]
    return tuple(dict.fromkeys(link_phrase(e, d) for d in devices for e in events))


class SpeechError(DownhillError):
    """Text-to-speech is missing or failed, or a speech option is invalid (one-line message)."""


@runtime_checkable
class Speaker(Protocol):
    """Speaks cues without ever blocking the caller."""

    @property
    def description(self) -> str:
        """One line for the user saying where speech goes."""
        ...

    @property
    def healthy(self) -> bool:
        """False once speech has failed (the description then says why)."""
        ...

    def say(self, cue: Cue) -> bool:
        """Queue ``cue`` for speech; never blocks. Returns False if the cue was dropped."""
        ...

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop speaking; the utterance in progress may finish within ``timeout_s``."""
        ...


def format_cue_line(cue: Cue) -> str:
    """The console line for one cue.

    Examples
    --------
    >>> format_cue_line(Cue(73.42, "cadence_low", "shorter, quicker steps", "cadence_spm", 158.2))
    '[  73.42 s] cue cadence_low: "shorter, quicker steps" (cadence_spm=158.2)'
    """
    return f'[{cue.t_s:7.2f} s] cue {cue.rule}: "{cue.phrase}" ({cue.metric}={cue.value:.1f})'


class ConsoleSpeaker:
    """Fallback speaker: no audio. Writes :func:`format_cue_line` to ``console`` if one is given.

    Parameters
    ----------
    description : str
        One line saying why speech goes to the console.
    console : TextIO or None
        Stream for cue lines; None (the default) writes nothing, because the caller prints the
        cue line itself.
    """

    def __init__(self, description: str, console: TextIO | None = None) -> None:
        self._description = description
        self._console = console
        self.n_said = 0

    @property
    def description(self) -> str:
        """One line for the user."""
        return self._description

    @property
    def healthy(self) -> bool:
        """Always True: the console cannot fail."""
        return True

    def say(self, cue: Cue) -> bool:
        """Write the cue line (if a console stream was given); always accepted."""
        self.n_said += 1
        if self._console is not None:
            self._console.write(format_cue_line(cue) + "\n")
        return True

    def close(self, timeout_s: float = 5.0) -> None:
        """Nothing to release."""

    def __enter__(self) -> ConsoleSpeaker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
