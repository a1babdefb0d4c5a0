"""Offline rendering: phrases to WAV files with pyttsx3, each in its own child process.

pyttsx3 and espeak never run in the app process: every phrase is rendered by
:mod:`downhill_live.speech._render_child` in a fresh Python. :func:`render_phrase_wav` writes one
phrase, :func:`write_cues_wav` a whole session's cues at their sensor times. The speech worker
renders its phrase cache with :func:`_render_raw` too.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from downhill_live.speech import _render_child
from downhill_live.speech.audio import _read_wav, _resample, _trim_silence, _write_wav
from downhill_live.speech.base import SpeechError
from downhill_live.speech.engine import _check_voice_options
from downhill_live.types import Cue

logger = logging.getLogger(__name__)

#: sample rate of espeak-ng output as written by pyttsx3's ``save_to_file``
TTS_SAMPLE_RATE_HZ = 22050
#: silence between two cues that :func:`write_cues_wav` had to push later
CUE_GAP_S = 0.1

_PYTHON = sys.executable
#: the render child is run as a file, see its docstring
_RENDER_CHILD = _render_child.__file__
_RENDER_TIMEOUT_S = 60.0


def _render_raw(
    items: Sequence[tuple[str, Path]],
    *,
    voice: str | None,
    rate_wpm: int | None,
    volume: float | None = None,
) -> None:
    """Render each ``(phrase, path)`` to an untrimmed WAV with pyttsx3, one child process per
    phrase: a second synthesis in the same pyttsx3 2.99 espeak engine sometimes came out empty
    (a late end-of-message callback of the first one ends the second), so each phrase gets a
    fresh engine. Two renders run at a time."""
    if not items:
        return
    with ThreadPoolExecutor(max_workers=2) as pool:
        # list() re-raises the first SpeechError
        list(
            pool.map(
                lambda item: _render_one(item, voice=voice, rate_wpm=rate_wpm, volume=volume),
                items,
            )
        )


def _render_one(
    item: tuple[str, Path], *, voice: str | None, rate_wpm: int | None, volume: float | None
) -> None:
    phrase, path = item
    req = {"voice": voice, "rate_wpm": rate_wpm, "volume": volume, "item": [phrase, str(path)]}
    try:
        res = subprocess.run(
            [_PYTHON, _RENDER_CHILD],
            input=json.dumps(req),
            capture_output=True,
            text=True,
            timeout=_RENDER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise SpeechError(f"text-to-speech timed out after {_RENDER_TIMEOUT_S:.0f} s") from exc
    except OSError as exc:
        raise SpeechError(f"cannot start the text-to-speech process: {exc}") from exc
    if res.returncode != 0:
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        prefix = _render_child.ERROR_PREFIX
        msg = next((ln[len(prefix) :] for ln in lines if ln.startswith(prefix)), "")
        if not msg:
            msg = lines[-1] if lines else f"exit code {res.returncode}"
        raise SpeechError(f"text-to-speech failed: {msg}")


def _render_clips(
    phrases: Sequence[str], *, voice: str | None, rate_wpm: int | None
) -> dict[str, np.ndarray]:
    """Trimmed int16 clips at :data:`TTS_SAMPLE_RATE_HZ`, one per distinct phrase."""
    distinct = list(dict.fromkeys(phrases))
    with tempfile.TemporaryDirectory(prefix="downhill-tts-") as tmp:
        paths = [Path(tmp) / f"{i}.wav" for i in range(len(distinct))]
        _render_raw(list(zip(distinct, paths, strict=True)), voice=voice, rate_wpm=rate_wpm)
        clips: dict[str, np.ndarray] = {}
        for phrase, path in zip(distinct, paths, strict=True):
            x, fs_hz = _read_wav(path)
            clips[phrase] = _trim_silence(
                _resample(x, fs_hz, TTS_SAMPLE_RATE_HZ), TTS_SAMPLE_RATE_HZ
            )
    return clips


def render_phrase_wav(
    phrase: str, path: str | Path, *, voice: str | None = None, rate_wpm: int | None = None
) -> None:
    """Render ``phrase`` with pyttsx3 (espeak-ng) to a mono 16-bit WAV at 22050 Hz.

    Leading and trailing silence is trimmed (5 ms kept), exactly as the live speaker plays it.
    pyttsx3 runs in a child process, so a TTS crash cannot take the app down.

    Parameters
    ----------
    phrase : str
        Text to speak.
    path : str or Path
        Output WAV file.
    voice : str or None
        espeak-ng voice id or name (``espeak-ng --voices``); None for the default.
    rate_wpm : int or None
        Speaking rate in words per minute; None for the default (200).

    Raises
    ------
    SpeechError
        pyttsx3 or libespeak-ng is missing, the voice is unknown, or rendering failed.
    """
    _check_voice_options(rate_wpm)
    clip = _render_clips([phrase], voice=voice, rate_wpm=rate_wpm)[phrase]
    if clip.size == 0:
        raise SpeechError(f"text-to-speech produced no sound for {phrase!r}")
    _write_wav(path, clip, TTS_SAMPLE_RATE_HZ)


def write_cues_wav(
    cues: Sequence[Cue],
    path: str | Path,
    *,
    voice: str | None = None,
    rate_wpm: int | None = None,
    sample_rate_hz: int = TTS_SAMPLE_RATE_HZ,
    gap_s: float = CUE_GAP_S,
) -> float:
    """Write one WAV with every cue spoken at its sensor time ``cue.t_s`` (0 = file start).

    A cue that would start before the previous one has ended is pushed later, to
    ``previous end + gap_s``; speech is never mixed on top of speech. Each distinct phrase is
    rendered once. The file ends 0.25 s after the last cue.

    Parameters
    ----------
    cues : sequence of Cue
        Cues in any order (they are placed by ``t_s``; negative times are placed at 0).
    path : str or Path
        Output WAV file (mono, 16-bit).
    voice, rate_wpm
        As for :func:`render_phrase_wav`.
    sample_rate_hz : int
        Sample rate of the output.
    gap_s : float
        Silence before a cue that had to be pushed later.

    Returns
    -------
    float
        Duration of the written file in seconds.

    Raises
    ------
    SpeechError
        As for :func:`render_phrase_wav`, or a cue time is not finite.
    """
    _check_voice_options(rate_wpm)
    for cue in cues:
        if not math.isfinite(cue.t_s):
            raise SpeechError(f"cue {cue.rule!r} has no valid time (t_s={cue.t_s})")
    # metronome switches carry no speech (the ticks are not rendered into the file)
    ordered = sorted((c for c in cues if c.phrase), key=lambda c: c.t_s)
    clips = _render_clips([c.phrase for c in ordered], voice=voice, rate_wpm=rate_wpm)
    clips = {p: _resample(x, TTS_SAMPLE_RATE_HZ, sample_rate_hz) for p, x in clips.items()}
    placed: list[tuple[int, np.ndarray]] = []
    free_at = 0  # first sample after the previous cue (+ gap)
    for cue in ordered:
        start = max(round(max(cue.t_s, 0.0) * sample_rate_hz), free_at)
        clip = clips[cue.phrase]
        placed.append((start, clip))
        free_at = start + clip.size + round(gap_s * sample_rate_hz)
        if start > round(cue.t_s * sample_rate_hz) + 1:
            logger.debug(
                "cue %s at %.2f s pushed to %.2f s", cue.rule, cue.t_s, start / sample_rate_hz
            )
    n_total = max((s + c.size for s, c in placed), default=0)
    if placed:
        n_total += round(0.25 * sample_rate_hz)
    out = np.zeros(n_total, dtype=np.int16)
    for start, clip in placed:
        out[start : start + clip.size] = clip
    _write_wav(path, out, sample_rate_hz)
    return n_total / sample_rate_hz
