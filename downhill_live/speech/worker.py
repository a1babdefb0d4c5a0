"""The speech worker: a process that owns the pyttsx3 engine and plays cues one at a time.

:meth:`WorkerSpeaker.say` puts a small tuple on a bounded queue and returns at once (``False``
when the queue is full and the cue was dropped). The worker *process* renders every distinct
phrase once to a cached WAV (:func:`~downhill_live.speech.render._render_raw`) and plays the
cached WAV with a blocking player (``paplay`` for PulseAudio, ``aplay`` for bare ALSA, ``play``
from sox as a last resort). pyttsx3's own playback is never used, because with pyttsx3 2.99 and
espeak-ng:

- ``runAndWait()`` returns before the audio ends and a later call can block for seconds,
- two queued ``say()`` calls speak only the last one,
- a call from inside its own callback deadlocks,
- playback shells out to ``aplay`` and fails silently when there is no sound card (or no aplay).

The worker speaks one utterance at a time, highest :attr:`Cue.priority` first (then oldest), and
drops a cue whose age (wall clock since ``say()``) exceeds ``max_age_s``. Failures in the worker
are logged in the app process and mark the speaker unhealthy; they never raise into the data path.

The worker is started with the multiprocessing *spawn* method, which re-imports the program's
main module: a script that opens a speaker needs the ``if __name__ == "__main__":`` guard
(console-script entry points have it).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import heapq
import itertools
import logging
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from downhill_live.errors import DownhillError
from downhill_live.speech.audio import _read_wav, _trim_silence, _write_wav
from downhill_live.speech.base import SpeechError
from downhill_live.speech.engine import _configure_engine
from downhill_live.speech.metronome import METRONOME_RULE, Metronome, format_tempo, parse_tempo
from downhill_live.speech.render import _render_raw
from downhill_live.types import Cue

logger = logging.getLogger(__name__)

#: cues waiting for the worker; one more and ``say()`` drops
DEFAULT_MAX_PENDING = 4

_STARTUP_TIMEOUT_S = 15.0
_MAX_FAILURES = 3


@dataclass(frozen=True, slots=True)
class SpeechEvent:
    """Something the speech worker did: ``kind`` is one of ``start`` (playback starts),
    ``done``, ``stale`` (dropped: older than max_age_s), ``error`` (this cue failed),
    ``tempo`` (the metronome was started, retuned or stopped: ``phrase`` is ``SPM@VOLUME``).

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
        self.metronome: Metronome | None = None

    def emit(self, *event: object) -> None:
        self.events.put(event)

    def init_engine(self) -> None:
        """Check the engine and voice once (phrases are rendered by :func:`_render_raw`)."""
        # lazy: pyttsx3 is loaded only here, in the worker process, never in the app process
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

    def set_tempo(self, phrase: str) -> None:
        """A metronome item: start, retune or stop the ticks (never blocks the worker)."""
        spm, volume = parse_tempo(phrase)
        if self.metronome is None:
            if spm is None:
                return
            try:
                self.metronome = Metronome(self.cfg.player)
            except ValueError as exc:
                self.emit("error", -1, METRONOME_RULE, phrase, time.monotonic(), str(exc))
                return
        self.metronome.set_tempo(spm, volume)
        self.emit("tempo", -1, METRONOME_RULE, phrase, time.monotonic(), "")

    def play(self, path: Path, duration_s: float) -> None:
        """Play one WAV and wait until the player exits (the utterance has been heard).
        While the metronome runs, the clip is mixed into its stream (ticks ducked) instead."""
        m = self.metronome
        if m is not None and m.running:
            x, fs_hz = _read_wav(path)
            wait_s = m.play_clip(x, fs_hz)
            deadline = time.monotonic() + wait_s
            while (left := deadline - time.monotonic()) > 0 and not self.stop.is_set():
                time.sleep(min(left, 0.05))
            return
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
        if rule == METRONOME_RULE:  # not an utterance: takes effect at once
            self.set_tempo(phrase)
            return
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
        if self.metronome is not None:
            self.metronome.stop()


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
        phrase = cue.phrase
        if cue.rule == METRONOME_RULE:  # the target cadence (nan: off) and the tick volume
            phrase = format_tempo(cue.value, cue.extra.get("volume", 0.3))
        try:
            self._cues.put_nowait((seq, int(cue.priority), time.monotonic(), phrase, cue.rule))
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
