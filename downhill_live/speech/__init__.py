"""Spoken cues that never block the data path.

The rule: **the data path only enqueues; speech never blocks.** :meth:`Speaker.say` puts the cue
on a bounded queue and returns at once (``False`` if it was dropped); rendering and playing
happen in other processes, and their failures are reported, never raised into the data path.

The package, one layer per module (each imports only the ones above it):

- :mod:`~downhill_live.speech.base`: :class:`SpeechError`, the :class:`Speaker` protocol,
  :class:`ConsoleSpeaker` (the fallback) and :func:`format_cue_line`.
- :mod:`~downhill_live.speech.audio`: audio output detection (PulseAudio, ALSA), the player,
  WAV read/write, trim and resample.
- :mod:`~downhill_live.speech.engine`: pyttsx3 / espeak-ng: present?, voice, rate and volume.
- :mod:`~downhill_live.speech.render`: phrases to WAV files, each rendered by pyttsx3 in a child
  process (:mod:`~downhill_live.speech._render_child`): :func:`render_phrase_wav`,
  :func:`write_cues_wav`.
- :mod:`~downhill_live.speech.worker`: :class:`WorkerSpeaker`, whose worker process owns the
  engine and plays one cue at a time, most important first, dropping stale cues.
- this module: the public names and the factories :func:`open_speaker` and
  :func:`open_profile_speaker`.

:mod:`~downhill_live.speech.nullsink` (a private PulseAudio null sink to hear speech without a
sound card) is for the tests and the benchmark; the app does not import it.

When the TTS engine or an audio output is missing, :func:`open_speaker` returns a
:class:`ConsoleSpeaker` whose ``description`` says so in one line. The speaker never prints the
cue line itself unless asked to (``console=``); the caller (the session) prints it with
:func:`format_cue_line`.

The worker is started with the multiprocessing *spawn* method, which re-imports the program's
main module: a script that opens a speaker needs the ``if __name__ == "__main__":`` guard
(console-script entry points have it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from downhill_live.speech.audio import _choose_player, audio_output_available
from downhill_live.speech.base import (
    LINK_PHRASES,
    ConsoleSpeaker,
    Speaker,
    SpeechError,
    format_cue_line,
    link_phrase,
    link_phrases,
)
from downhill_live.speech.engine import _check_voice_options, _tts_missing_reason
from downhill_live.speech.render import (
    CUE_GAP_S,
    TTS_SAMPLE_RATE_HZ,
    render_phrase_wav,
    write_cues_wav,
)
from downhill_live.speech.worker import (
    DEFAULT_MAX_PENDING,
    SpeechEvent,
    WorkerSpeaker,
    default_cache_dir,
)

if TYPE_CHECKING:  # only for annotations: speech does not need the config package at run time
    from downhill_live.config.cue_profile import CueProfile, Settings

__all__ = [
    "CUE_GAP_S",
    "DEFAULT_MAX_PENDING",
    "LINK_PHRASES",
    "SPEECH_ENV",
    "TTS_SAMPLE_RATE_HZ",
    "ConsoleSpeaker",
    "Speaker",
    "SpeechError",
    "SpeechEvent",
    "WorkerSpeaker",
    "audio_output_available",
    "default_cache_dir",
    "format_cue_line",
    "link_phrase",
    "link_phrases",
    "open_profile_speaker",
    "open_speaker",
    "profile_phrases",
    "render_phrase_wav",
    "start_profile_speaker",
    "write_cues_wav",
]

#: environment variable: ``console`` forces the console fallback (no worker, no audio)
SPEECH_ENV = "DOWNHILL_SPEECH"


def open_profile_speaker(
    settings: Settings, *, speak: bool = True, phrases: Sequence[str] = (), wait: bool = True
) -> Speaker:
    """:func:`open_speaker` with a cue profile's voice, rate, volume and maximum cue age."""
    return open_speaker(
        speak=speak,
        voice=settings.voice,
        rate_wpm=settings.rate_wpm,
        volume=settings.volume,
        max_age_s=settings.max_age_s,
        phrases=phrases,
        wait=wait,
    )


def profile_phrases(profile: CueProfile, devices: Sequence[str] = ()) -> tuple[str, ...]:
    """Every fixed phrase a session with ``profile`` can say: its rules' phrases and praise,
    the descent entry phrase and the link phrases (:data:`LINK_PHRASES`), also those about the
    named ``devices`` (:func:`link_phrases`: "Treadmill lost"). Descent summaries carry
    numbers and are rendered when said.

    Examples
    --------
    >>> from downhill_live.config.cue_profile import load_cue_profile
    >>> phrases = profile_phrases(load_cue_profile())
    >>> "shorter, quicker steps" in phrases and "sensor lost" in phrases
    True
    """
    out: list[str] = []
    for rule in profile.rules:
        out.extend(rule.phrases)
        if rule.praise:
            out.append(rule.praise)
    if profile.descent.enter_phrase:
        out.append(profile.descent.enter_phrase)
    out.extend(LINK_PHRASES.values())
    out.extend(link_phrases(devices))
    return tuple(dict.fromkeys(p for p in out if p))


def start_profile_speaker(
    profile: CueProfile, *, speak: bool = True, devices: Sequence[str] = ()
) -> Speaker:
    """Start the speaker for ``profile`` in the background and return at once.

    The worker starts, and renders the profile's phrases (:func:`profile_phrases`, with the
    link phrases of the named ``devices``) into the on-disk cache, while the caller goes on
    (scanning for the sensor, connecting): call this as early as possible. Phrases known only
    later (the names the scan finds) are handed to :meth:`WorkerSpeaker.prepare`. Cues said
    before the worker is ready wait for it (up to the profile's ``max_age_s``). A worker that
    fails to start says so through the speaker's notices (``on_notice``) and cues go to the
    console; an invalid option still raises :class:`SpeechError` here.
    """
    return open_profile_speaker(
        profile.settings, speak=speak, phrases=profile_phrases(profile, devices), wait=False
    )


def open_speaker(
    *,
    speak: bool = True,
    voice: str | None = None,
    rate_wpm: int | None = None,
    volume: float | None = None,
    max_age_s: float = 3.0,
    console: TextIO | None = None,
    max_pending: int = DEFAULT_MAX_PENDING,
    phrases: Sequence[str] = (),
    wait: bool = True,
    cache_dir: str | Path | None = None,
) -> Speaker:
    """Open the best available speaker; never a silent no-op.

    Returns a :class:`WorkerSpeaker` when pyttsx3, libespeak-ng, an audio output and a player
    are present and the engine starts; otherwise a :class:`ConsoleSpeaker` whose
    ``description`` says why in one line. With ``wait`` (the default) it blocks for the worker
    start-up (about 0.5-1 s), never afterwards.

    Parameters
    ----------
    speak : bool
        False returns the console speaker ("speech: off").
    voice : str or None
        espeak-ng voice id or name; None for the default.
    rate_wpm : int or None
        Speaking rate in words per minute (40..600); None for the default (200).
    volume : float or None
        0..1; None for the default (1.0).
    max_age_s : float
        A cue not started within this many seconds of :meth:`Speaker.say` is dropped.
    console : TextIO or None
        Only for the console fallback: stream to write the cue line to. None writes nothing
        (the caller prints cue lines with :func:`format_cue_line`).
    max_pending : int
        Cues that may wait for the worker; ``say()`` drops beyond that.
    phrases : sequence of str
        Phrases to render into the clip cache as soon as the worker runs (while it has
        nothing to say), so that their first use plays at once.
    wait : bool
        False: return without waiting for the worker to start (see
        :func:`start_profile_speaker`); a failure to start is then reported through the
        speaker's notices instead of a console speaker or a :class:`SpeechError`.
    cache_dir : str, Path or None
        Folder of the clip cache; None for :func:`default_cache_dir`.

    Raises
    ------
    SpeechError
        An option is invalid, or the voice is unknown.

    Notes
    -----
    ``DOWNHILL_SPEECH=console`` in the environment forces the console speaker.
    """
    _check_voice_options(rate_wpm, volume)
    if not max_age_s > 0:
        raise SpeechError(f"max_age_s must be positive, got {max_age_s}")
    if max_pending < 1:
        raise SpeechError(f"max_pending must be at least 1, got {max_pending}")
    if not speak:
        return ConsoleSpeaker("speech: off - cues go to the console", console)
    if os.environ.get(SPEECH_ENV, "").strip().lower() == "console":
        return ConsoleSpeaker(f"speech: {SPEECH_ENV}=console - cues go to the console", console)
    reason = _tts_missing_reason()
    if reason is not None:
        return ConsoleSpeaker(f"speech: {reason} - cues go to the console", console)
    player = _choose_player()
    if player is None:
        if audio_output_available():
            why = "no audio player found (Debian: apt-get install pulseaudio-utils or alsa-utils)"
        else:
            why = "no audio device"
        return ConsoleSpeaker(f"speech: {why} - cues go to the console", console)
    speaker = WorkerSpeaker(
        player=player,
        voice=voice,
        rate_wpm=rate_wpm,
        volume=volume,
        max_age_s=max_age_s,
        max_pending=max_pending,
        phrases=phrases,
        cache_dir=cache_dir,
    ).start(wait=wait)
    if wait and speaker.failure is not None:
        failure, kind = speaker.failure, speaker._failure_kind
        speaker.close(timeout_s=1.0)
        if kind == "voice":
            raise SpeechError(failure)
        return ConsoleSpeaker(f"speech: TTS failed ({failure}) - cues go to the console", console)
    return speaker
