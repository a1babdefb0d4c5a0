"""Spoken cues that never block the data path.

The data path calls :meth:`Speaker.say` with a :class:`~downhill_live.types.Cue`; the call puts a
small tuple on a bounded queue and returns at once (``False`` when the queue is full and the cue
was dropped). A worker *process* owns the pyttsx3 engine (espeak-ng on Linux): it renders every
distinct phrase once to a cached WAV with ``save_to_file`` and plays the cached WAV with a blocking
player (``paplay`` for PulseAudio, ``aplay`` for bare ALSA, ``play`` from sox as a last resort).
pyttsx3's own playback is never used, because with pyttsx3 2.99 and espeak-ng:

- ``runAndWait()`` returns before the audio ends and a later call can block for seconds,
- two queued ``say()`` calls speak only the last one,
- a call from inside its own callback deadlocks,
- playback shells out to ``aplay`` and fails silently when there is no sound card (or no aplay).

The worker speaks one utterance at a time, highest :attr:`Cue.priority` first (then oldest), and
drops a cue whose age (wall clock since ``say()``) exceeds ``max_age_s``. Failures in the worker
are logged in the app process and mark the speaker unhealthy; they never raise into the data path.

When the TTS engine or an audio output is missing, :func:`open_speaker` returns a
:class:`ConsoleSpeaker` whose ``description`` says so in one line. The speaker never prints the
cue line itself unless asked to (``console=``); the caller (the session) prints it with
:func:`format_cue_line`.

Offline, :func:`render_phrase_wav` and :func:`write_cues_wav` render the same speech to WAV files.

The worker is started with the multiprocessing *spawn* method, which re-imports the program's
main module: a script that opens a speaker needs the ``if __name__ == "__main__":`` guard
(console-script entry points have it).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import dataclasses
import heapq
import importlib.util
import itertools
import json
import logging
import math
import multiprocessing as mp
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO, runtime_checkable

import numpy as np

from downhill_live.errors import DownhillError
from downhill_live.speech import _render_child

if TYPE_CHECKING:
    from downhill_live.config.cue_profile import Settings
from downhill_live.types import Cue

logger = logging.getLogger(__name__)

#: environment variable: ``console`` forces the console fallback (no worker, no audio)
SPEECH_ENV = "DOWNHILL_SPEECH"
#: sample rate of espeak-ng output as written by pyttsx3's ``save_to_file``
TTS_SAMPLE_RATE_HZ = 22050
#: silence between two cues that :func:`write_cues_wav` had to push later
CUE_GAP_S = 0.1
#: cues waiting for the worker; one more and ``say()`` drops
DEFAULT_MAX_PENDING = 4

_PYTHON = sys.executable
#: the render child is run as a file, see its docstring
_RENDER_CHILD = _render_child.__file__
_RENDER_TIMEOUT_S = 60.0
_STARTUP_TIMEOUT_S = 15.0
_TRIM_THRESHOLD_REL = 0.02  # -34 dB re. the clip's peak
_TRIM_PAD_S = 0.005
_MAX_FAILURES = 3
_ESPEAK_LIBS = ("libespeak-ng.so.1", "libespeak-ng.so", "libespeak.so.1")


class SpeechError(DownhillError):
    """Text-to-speech is missing or failed, or a speech option is invalid (one-line message)."""


# --------------------------------------------------------------------------------------------
# public protocol and the console fallback


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


# --------------------------------------------------------------------------------------------
# probing the machine


def _pulse_reachable(timeout_s: float = 2.0) -> bool:
    """A PulseAudio (or pipewire-pulse) server answers ``pactl info`` and has a real sink."""
    pactl = shutil.which("pactl")
    if pactl is None:
        return False
    try:
        res = subprocess.run(
            [pactl, "info"], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    if res.returncode != 0:
        return False
    # a server with no sound card falls back to the "auto_null" sink: audio goes nowhere
    return "Default Sink: auto_null" not in res.stdout


def _alsa_playback_device() -> bool:
    """The kernel exposes at least one ALSA playback PCM (``/dev/snd/pcmC*D*p``)."""
    return any(Path("/dev/snd").glob("pcmC*D*p"))


def audio_output_available() -> bool:
    """True if a PulseAudio server is reachable (``pactl info``) or an ALSA playback device exists.

    A PulseAudio server whose default sink is ``auto_null`` (no sound card) does not count.
    """
    return _pulse_reachable() or _alsa_playback_device()


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


def _choose_player() -> list[str] | None:
    """Command (without the file) of a blocking WAV player that reaches an audio output."""
    if _pulse_reachable():
        if (paplay := shutil.which("paplay")) is not None:
            return [paplay]
        if (play := shutil.which("play")) is not None:
            return [play, "-q"]
    if _alsa_playback_device():
        if (aplay := shutil.which("aplay")) is not None:
            return [aplay, "-q"]
        if (play := shutil.which("play")) is not None:
            return [play, "-q"]
    return None


# --------------------------------------------------------------------------------------------
# WAV helpers


def _read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono int16 samples and the sample rate of a 16-bit PCM WAV."""
    with wave.open(str(path), "rb") as f:
        if f.getsampwidth() != 2:
            raise SpeechError(f"{path}: expected 16-bit PCM WAV, got {8 * f.getsampwidth()}-bit")
        fs_hz = f.getframerate()
        n_ch = f.getnchannels()
        x = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    if n_ch > 1:
        x = x.reshape(-1, n_ch).mean(axis=1).astype(np.int16)
    return x.astype(np.int16), fs_hz


def _write_wav(path: str | Path, x: np.ndarray, fs_hz: int) -> None:
    """Write mono int16 samples as a 16-bit PCM WAV."""
    try:
        fh = open(path, "wb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise SpeechError(f"{path}: {exc.strerror or exc}") from None
    with fh, wave.open(fh, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(int(fs_hz))
        f.writeframes(np.asarray(x, dtype="<i2").tobytes())


def _trim_silence(x: np.ndarray, fs_hz: int) -> np.ndarray:
    """Cut leading and trailing silence (below -34 dB re. peak), keeping 5 ms either side."""
    a = np.abs(x.astype(np.int32))
    if a.size == 0 or a.max() == 0:
        return x[:0]
    loud = np.flatnonzero(a > _TRIM_THRESHOLD_REL * a.max())
    pad = round(_TRIM_PAD_S * fs_hz)
    return x[max(loud[0] - pad, 0) : min(loud[-1] + pad + 1, x.size)]


def _resample(x: np.ndarray, fs_from_hz: int, fs_to_hz: int) -> np.ndarray:
    if fs_from_hz == fs_to_hz:
        return x
    from scipy.signal import resample_poly

    g = math.gcd(fs_from_hz, fs_to_hz)
    y = resample_poly(x.astype(np.float64), fs_to_hz // g, fs_from_hz // g)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


# --------------------------------------------------------------------------------------------
# offline rendering (pyttsx3 in a subprocess, so espeak never runs in the app process)


def _patch_espeak_tail(engine: Any) -> None:
    """Work around pyttsx3 2.99's espeak driver dropping audio at the end of a phrase.

    The driver runs espeak in retrieval mode with 1 s buffers and, in the callback that carries
    the end-of-message event, writes the WAV *before* appending that callback's samples: the
    last buffer is lost. How much that is depends on timing, so under load a short phrase can
    come out truncated or empty (seen here: a 0.0 s render of "shorter, quicker steps").
    This re-registers the synth callback so that samples are stored first. A no-op for other
    drivers or layouts.
    """
    import ctypes

    driver: Any = getattr(getattr(engine, "proxy", None), "_driver", None)
    original = getattr(driver, "_onSynth", None)
    if original is None or not hasattr(driver, "_data_buffer"):
        return
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
    from concurrent.futures import ThreadPoolExecutor

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


def _check_voice_options(rate_wpm: int | None, volume: float | None = None) -> None:
    if rate_wpm is not None and not 40 <= rate_wpm <= 600:
        raise SpeechError(f"speech rate must be 40..600 words per minute, got {rate_wpm}")
    if volume is not None and not 0.0 <= volume <= 1.0:
        raise SpeechError(f"speech volume must be 0..1, got {volume}")


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
    ordered = sorted(cues, key=lambda c: c.t_s)
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


# --------------------------------------------------------------------------------------------
# the worker process


@dataclass(frozen=True, slots=True)
class SpeechEvent:
    """Something the speech worker did: ``kind`` is one of ``start`` (playback starts),
    ``done``, ``stale`` (dropped: older than max_age_s), ``error`` (this cue failed).

    ``t_mono_s`` is ``time.monotonic()`` in the worker (same clock as the app on Linux).
    """

    kind: str
    seq: int
    rule: str
    phrase: str
    t_mono_s: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class _WorkerConfig:
    player: tuple[str, ...]
    voice: str | None
    rate_wpm: int | None
    volume: float | None
    max_age_s: float
    cache_dir: str


# queue item: (seq, priority, t_said_mono_s, phrase, rule); None wakes the worker up to stop
_Item = tuple[int, int, float, str, str]


class _Worker:
    """Runs in the child process: owns the pyttsx3 engine, the phrase cache and the player."""

    def __init__(self, cues: Any, events: Any, stop: Any, cfg: _WorkerConfig) -> None:
        self.cues = cues
        self.events = events
        self.stop = stop
        self.cfg = cfg
        self.engine: Any = None
        self.cache_dir: Path | None = None
        self.cache: dict[str, tuple[Path, float]] = {}
        self.heap: list[tuple[int, int, float, str, str]] = []
        self.player_proc: subprocess.Popen[bytes] | None = None
        self.failures = 0
        self.parent_pid = os.getppid()

    def emit(self, *event: object) -> None:
        self.events.put(event)

    def init_engine(self) -> None:
        """Check the engine and voice once (phrases are rendered by :func:`_render_raw`)."""
        import pyttsx3

        cfg = self.cfg
        self.engine = pyttsx3.init("espeak" if sys.platform.startswith("linux") else None)
        _configure_engine(self.engine, voice=cfg.voice, rate_wpm=cfg.rate_wpm, volume=cfg.volume)
        self.cache_dir = Path(cfg.cache_dir)

    def clip(self, phrase: str) -> tuple[Path, float]:
        """Cached, trimmed WAV of ``phrase`` and its duration in seconds."""
        hit = self.cache.get(phrase)
        if hit is not None:
            return hit
        assert self.cache_dir is not None
        n = len(self.cache)
        raw = self.cache_dir / f"{n}.raw.wav"
        cfg = self.cfg
        _render_raw([(phrase, raw)], voice=cfg.voice, rate_wpm=cfg.rate_wpm, volume=cfg.volume)
        x, fs_hz = _read_wav(raw)
        raw.unlink()
        x = _trim_silence(x, fs_hz)
        if x.size == 0:
            raise SpeechError(f"text-to-speech produced no sound for {phrase!r}")
        out = self.cache_dir / f"{n}.wav"
        _write_wav(out, x, fs_hz)
        self.cache[phrase] = (out, x.size / fs_hz)
        return self.cache[phrase]

    def play(self, path: Path, duration_s: float) -> None:
        """Play one WAV and wait until the player exits (the utterance has been heard)."""
        self.player_proc = subprocess.Popen(
            [*self.cfg.player, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _, err = self.player_proc.communicate(timeout=duration_s + 10.0)
        except subprocess.TimeoutExpired:
            self.player_proc.kill()
            self.player_proc.communicate()
            name = Path(self.cfg.player[0]).name
            raise SpeechError(f"{name} hung while playing") from None
        finally:
            rc = self.player_proc.returncode
            self.player_proc = None
        if rc != 0:
            lines = err.decode(errors="replace").strip().splitlines()
            name = Path(self.cfg.player[0]).name
            raise SpeechError(
                f"{name} failed: {lines[-1]}" if lines else f"{name} exited with code {rc}"
            )

    def kill_player(self) -> None:
        proc = self.player_proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    def next_item(self) -> _Item | None:
        """Drain the queue into the heap; pop the most important cue (None: stop)."""
        while not self.heap:
            if self.stop.is_set() or os.getppid() != self.parent_pid:
                return None  # closed, or the app died without closing us
            with contextlib.suppress(queue.Empty):
                item = self.cues.get(timeout=0.2)
                if item is not None:
                    self.push(item)
        while True:
            try:
                item = self.cues.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self.push(item)
        if self.stop.is_set():
            return None
        neg_prio, seq, t_said, phrase, rule = heapq.heappop(self.heap)
        return seq, -neg_prio, t_said, phrase, rule

    def push(self, item: _Item) -> None:
        seq, prio, t_said, phrase, rule = item
        heapq.heappush(self.heap, (-prio, seq, t_said, phrase, rule))

    def run(self) -> None:
        self.init_engine()
        self.emit("ready", os.getpid())
        while (item := self.next_item()) is not None:
            seq, _prio, t_said, phrase, rule = item
            try:
                age_s = time.monotonic() - t_said
                if age_s > self.cfg.max_age_s:
                    self.emit("stale", seq, rule, phrase, time.monotonic(), f"age {age_s:.2f} s")
                    continue
                path, duration_s = self.clip(phrase)
                self.emit("start", seq, rule, phrase, time.monotonic(), "")
                self.play(path, duration_s)
                self.emit("done", seq, rule, phrase, time.monotonic(), "")
                self.failures = 0
            except Exception as exc:  # one cue failed: report it, give up after a few in a row
                msg = str(exc) if isinstance(exc, DownhillError) else f"{type(exc).__name__}: {exc}"
                self.emit("error", seq, rule, phrase, time.monotonic(), msg)
                self.failures += 1
                if self.failures >= _MAX_FAILURES:
                    raise SpeechError(
                        f"{self.failures} cues failed in a row, last: {msg}"
                    ) from None

    def cleanup(self) -> None:
        self.kill_player()


def _worker_main(cues: Any, events: Any, stop: Any, cfg: _WorkerConfig) -> None:
    """Entry point of the speech worker process (spawned)."""
    # Ctrl-C goes to the whole process group; the app decides when speech stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker = _Worker(cues, events, stop, cfg)

    def on_term(signum: int, frame: object) -> None:
        worker.kill_player()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - pyttsx3 prints "Audio saved to ..."
    try:
        worker.run()
    except SystemExit:
        pass
    except BaseException as exc:
        kind = "voice" if "unknown voice" in str(exc) else "engine"
        msg = str(exc) if isinstance(exc, DownhillError) else f"{type(exc).__name__}: {exc}"
        worker.emit("failed", kind, msg)
    finally:
        worker.cleanup()
        worker.emit("exit")


class WorkerSpeaker:
    """Speaks through a worker process that owns pyttsx3; :meth:`say` never blocks.

    Use :func:`open_speaker` rather than constructing this directly.

    Attributes
    ----------
    events : deque of SpeechEvent
        The last 1000 things the worker did (start/done/stale/error), in order.
    n_dropped_full : int
        Cues dropped by :meth:`say` because ``max_pending`` cues were already waiting.
    """

    def __init__(
        self,
        *,
        player: Sequence[str],
        voice: str | None = None,
        rate_wpm: int | None = None,
        volume: float | None = None,
        max_age_s: float = 3.0,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        self._cfg = _WorkerConfig(tuple(player), voice, rate_wpm, volume, max_age_s, "")
        self._max_pending = max_pending
        self._ctx = mp.get_context("spawn")
        self._cues: Any = None
        self._events_q: Any = None
        self._stop: Any = None
        self._proc: Any = None
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()
        self._seq = itertools.count()
        self._failure: str | None = None
        self._failure_kind = ""
        self._closed = False
        self._cache_dir = ""
        self.events: collections.deque[SpeechEvent] = collections.deque(maxlen=1000)
        self.n_dropped_full = 0
        self.n_stale = 0
        self.n_errors = 0

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, startup_timeout_s: float = _STARTUP_TIMEOUT_S) -> WorkerSpeaker:
        """Spawn the worker and wait until its engine is ready (or failed)."""
        self._cache_dir = tempfile.mkdtemp(prefix="downhill-speech-")
        self._cfg = dataclasses.replace(self._cfg, cache_dir=self._cache_dir)
        self._cues = self._ctx.Queue(maxsize=self._max_pending)
        self._events_q = self._ctx.Queue()
        self._stop = self._ctx.Event()
        self._proc = self._ctx.Process(
            target=_worker_main,
            args=(self._cues, self._events_q, self._stop, self._cfg),
            name="downhill-speech",
            daemon=True,
        )
        self._proc.start()
        self._reader = threading.Thread(
            target=self._read_events, name="downhill-speech-events", daemon=True
        )
        self._reader.start()
        if not self._ready.wait(startup_timeout_s) and self._failure is None:
            self._fail("engine", f"speech worker did not start within {startup_timeout_s:.0f} s")
        return self

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the worker: the utterance in progress may finish within ``timeout_s``,
        queued cues are dropped. Idempotent."""
        if self._closed or self._proc is None:
            self._closed = True
            return
        self._closed = True
        self._stop.set()
        with contextlib.suppress(queue.Full, ValueError, OSError):
            self._cues.put_nowait(None)
        self._proc.join(timeout_s)
        if self._proc.is_alive():
            self._proc.terminate()  # SIGTERM: the worker kills its player and exits
            self._proc.join(2.0)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(2.0)
        if self._reader is not None:
            self._reader.join(2.0)
        for q in (self._cues, self._events_q):
            q.cancel_join_thread()
            q.close()
        with contextlib.suppress(ValueError):
            self._proc.close()
        shutil.rmtree(self._cache_dir, ignore_errors=True)

    def __enter__(self) -> WorkerSpeaker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state ----------------------------------------------------------------------------
    @property
    def description(self) -> str:
        """One line for the user; says why if speech has failed."""
        if self._failure is not None:
            return f"speech: failed ({self._failure}) - cues go to the console"
        player = Path(self._cfg.player[0]).name
        return f"speech: espeak-ng via pyttsx3 (worker process, {player})"

    @property
    def healthy(self) -> bool:
        """True while the worker runs and has not failed."""
        return self._failure is None and not self._closed

    @property
    def failure(self) -> str | None:
        """Why the worker failed, or None."""
        return self._failure

    def _fail(self, kind: str, message: str) -> None:
        if self._failure is None:
            self._failure = message
            self._failure_kind = kind
            logger.error("speech worker failed: %s", message)
        self._ready.set()

    # -- data path ------------------------------------------------------------------------
    def say(self, cue: Cue) -> bool:
        """Queue ``cue`` for speech without blocking.

        Returns
        -------
        bool
            False if the cue was dropped: ``max_pending`` cues are already waiting, or the
            worker has failed or been closed.
        """
        if self._failure is not None or self._closed:
            return False
        seq = next(self._seq)
        try:
            self._cues.put_nowait((seq, int(cue.priority), time.monotonic(), cue.phrase, cue.rule))
        except queue.Full:
            self.n_dropped_full += 1
            return False
        return True

    # -- events from the worker (thread in the app process) -------------------------------
    def _read_events(self) -> None:
        while True:
            try:
                ev = self._events_q.get(timeout=0.5)
            except queue.Empty:
                try:
                    alive, code = self._proc.is_alive(), self._proc.exitcode
                except ValueError:  # process object already closed
                    return
                if alive:
                    continue
                if not self._closed:
                    self._fail("engine", f"speech worker exited (code {code})")
                return
            except (EOFError, OSError, ValueError):
                return
            kind = ev[0]
            if kind == "exit":
                return
            if kind == "ready":
                self._ready.set()
            elif kind == "failed":
                self._fail(ev[1], ev[2])
            else:
                event = SpeechEvent(*ev)
                self.events.append(event)
                if kind == "stale":
                    self.n_stale += 1
                    logger.info("speech dropped stale cue %s (%s)", event.rule, event.detail)
                elif kind == "error":
                    self.n_errors += 1
                    logger.warning("speech failed for cue %s: %s", event.rule, event.detail)


# --------------------------------------------------------------------------------------------


def open_profile_speaker(settings: Settings, *, speak: bool = True) -> Speaker:
    """:func:`open_speaker` with a cue profile's voice, rate, volume and maximum cue age."""
    return open_speaker(
        speak=speak,
        voice=settings.voice,
        rate_wpm=settings.rate_wpm,
        volume=settings.volume,
        max_age_s=settings.max_age_s,
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
) -> Speaker:
    """Open the best available speaker; never a silent no-op.

    Returns a :class:`WorkerSpeaker` when pyttsx3, libespeak-ng, an audio output and a player
    are present and the engine starts; otherwise a :class:`ConsoleSpeaker` whose
    ``description`` says why in one line. Blocks for the worker start-up (about 0.5 s), never
    afterwards.

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
    ).start()
    if speaker.failure is not None:
        failure, kind = speaker.failure, speaker._failure_kind
        speaker.close(timeout_s=1.0)
        if kind == "voice":
            raise SpeechError(failure)
        return ConsoleSpeaker(f"speech: TTS failed ({failure}) - cues go to the console", console)
    return speaker
