"""The pyttsx3 engine (espeak-ng on Linux): is it there, and its voice, rate and volume.

Only child processes create an engine (the render child and the speech worker); the app process
calls :func:`_tts_missing_reason` and :func:`_check_voice_options`, which never load pyttsx3.
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys
from typing import Any

from downhill_live.speech.base import SpeechError

_ESPEAK_LIBS = ("libespeak-ng.so.1", "libespeak-ng.so", "libespeak.so.1")


def _tts_missing_reason() -> str | None:
    """None if pyttsx3 and (on Linux) libespeak-ng can be loaded, else a short reason."""
    if importlib.util.find_spec("pyttsx3") is None:
        return "pyttsx3 is not installed (pip install pyttsx3)"
    if sys.platform.startswith("linux"):
        for name in _ESPEAK_LIBS:
            try:
                ctypes.CDLL(name)
            except OSError:
                continue
            return None
        return "espeak-ng is not installed (Debian: apt-get install libespeak-ng1)"
    return None


def _check_voice_options(rate_wpm: int | None, volume: float | None = None) -> None:
    """Raise :class:`SpeechError` unless ``rate_wpm`` is 40..600 and ``volume`` 0..1 (or None)."""
    if rate_wpm is not None and not 40 <= rate_wpm <= 600:
        raise SpeechError(f"speech rate must be 40..600 words per minute, got {rate_wpm}")
    if volume is not None and not 0.0 <= volume <= 1.0:
        raise SpeechError(f"speech volume must be 0..1, got {volume}")


def _patch_espeak_tail(engine: Any) -> None:
    """Work around pyttsx3 2.99's espeak driver dropping audio at the end of a phrase.

    The driver runs espeak in retrieval mode with 1 s buffers and, in the callback that carries
    the end-of-message event, writes the WAV *before* appending that callback's samples: the
    last buffer is lost. How much that is depends on timing, so under load a short phrase can
    come out truncated or empty (seen here: a 0.0 s render of "shorter, quicker steps").
    This re-registers the synth callback so that samples are stored first. A no-op for other
    drivers or layouts.
    """
    driver: Any = getattr(getattr(engine, "proxy", None), "_driver", None)
    original = getattr(driver, "_onSynth", None)
    if original is None or not hasattr(driver, "_data_buffer"):
        return
    # lazy: pyttsx3 is loaded only in the child processes that own an engine, never in the app
    from pyttsx3.drivers import _espeak

    def on_synth(wav: Any, numsamples: int, events: Any) -> int:
        if numsamples > 0 and driver._speaking:
            driver._data_buffer += ctypes.string_at(wav, numsamples * ctypes.sizeof(ctypes.c_short))
        return int(original(wav, 0, events))

    _espeak.SetSynthCallback(on_synth)


def _configure_engine(
    engine: Any, *, voice: str | None, rate_wpm: int | None, volume: float | None
) -> None:
    """Voice, rate and volume for a pyttsx3 engine, made to stick.

    With pyttsx3 2.99's espeak driver a rate set before the first synthesis was sometimes not
    applied (about 1 run in 5 rendered at the default rate), so the espeak driver re-applies
    rate and volume right before every synthesis. Raises :class:`SpeechError` for an unknown
    voice.
    """
    _patch_espeak_tail(engine)
    if voice:
        ids: dict[str, str] = {}
        for v in engine.getProperty("voices"):
            for key in (v.id, v.id.rsplit("/", 1)[-1], v.name):
                ids.setdefault(str(key).lower(), v.id)
        if voice.lower() not in ids:
            raise SpeechError(f"unknown voice {voice!r} (list them with: espeak-ng --voices)")
        engine.setProperty("voice", ids[voice.lower()])
    if rate_wpm:
        engine.setProperty("rate", int(rate_wpm))
    if volume is not None:
        engine.setProperty("volume", float(volume))
    driver: Any = getattr(getattr(engine, "proxy", None), "_driver", None)
    start = getattr(driver, "_start_synthesis", None)
    if start is None:
        return

    def start_synthesis(text: str) -> Any:
        if rate_wpm:
            driver.setProperty("rate", int(rate_wpm))
        if volume is not None:
            driver.setProperty("volume", float(volume))
        return start(text)

    driver._start_synthesis = start_synthesis
