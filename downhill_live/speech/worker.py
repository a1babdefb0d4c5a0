"""The speech worker: a process that owns the pyttsx3 engine and plays cues one at a time,
supervised by the app.

:meth:`WorkerSpeaker.say` puts a small tuple on a queue and returns at once (``False`` when
``max_pending`` cues already wait and the cue was dropped). The worker *process* renders every
distinct phrase once to a WAV (:func:`~downhill_live.speech.render._render_raw`) kept in an
on-disk cache, and plays it with a blocking player (``paplay`` for PulseAudio, ``aplay`` for
bare ALSA, ``play`` from sox as a last resort). pyttsx3's own playback is never used, because
with pyttsx3 2.99 and espeak-ng:

- ``runAndWait()`` returns before the audio ends and a later call can block for seconds,
- two queued ``say()`` calls speak only the last one,
- a call from inside its own callback deadlocks,
- playback shells out to ``aplay`` and fails silently when there is no sound card (or no aplay).

The worker speaks one utterance at a time, highest :attr:`Cue.priority` first (then oldest), and
drops a cue whose age (wall clock since ``say()``) exceeds ``max_age_s``.

**Speech at once.** The phrases a cue profile can say are handed to the speaker when it starts;
the worker renders those not yet cached while it has nothing to say (two at a time), so the
first use of a phrase plays a ready clip. Clips are cached on disk, in the platform's cache
folder (``platformdirs.user_cache_path("downhill-live") / "speech"``), named by a hash of the
engine and its version, the voice, rate, volume and the text: a second session starts with every
clip ready.

**Supervision.** A thread in the worker sends a heartbeat every 0.25 s while the worker's main
loop is making progress (or is inside a bounded wait: a render, a playback). A thread in the app
watches it: a worker that died (``kill -9``, a crash) or sent no heartbeat for
:data:`HANG_TIMEOUT_S` (``SIGSTOP``, a deadlock) is killed and a new one started, after a short
backoff (:data:`RESTART_DELAYS_S`); the user gets one line per kind of failure. Every queue and
event of the old worker is replaced (a killed process may have held their locks). Cues that were
said but not yet started are kept in the app and handed to the new worker, so none is lost
silently: each is spoken, dropped as stale (counted), or counted as interrupted. Each cue line
is printed by the console sink anyway, so while speech is down the console carries the cues.
After :data:`MAX_RESTARTS` restarts without a healthy minute in between, the speaker gives up
and says so once. Failures the worker reports itself (an unknown voice, a player that fails
every time) are not restarted: a new worker would fail the same way.

The worker is started with the multiprocessing *spawn* method, which re-imports the program's
main module: a script that opens a speaker needs the ``if __name__ == "__main__":`` guard
(console-script entry points have it).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import heapq
import itertools
import json
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
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from downhill_live.errors import DownhillError
from downhill_live.speech.audio import _read_wav, _trim_silence, _write_wav
from downhill_live.speech.base import SpeechError
from downhill_live.speech.engine import _configure_engine
from downhill_live.speech.metronome import METRONOME_RULE, Metronome, format_tempo, parse_tempo
from downhill_live.speech.render import _RENDER_TIMEOUT_S, _render_raw
from downhill_live.types import Cue

logger = logging.getLogger(__name__)

#: cues waiting for the worker (said, not yet started); one more and ``say()`` drops
DEFAULT_MAX_PENDING = 4

_STARTUP_TIMEOUT_S = 15.0
_MAX_FAILURES = 3
#: the worker's heartbeat period
HEARTBEAT_S = 0.25
#: no heartbeat for this long: the worker is frozen, and replaced
HANG_TIMEOUT_S = 2.0
#: wait before each restart in a row; after the last one the speaker gives up
RESTART_DELAYS_S = (0.0, 0.5, 1.0, 2.0, 4.0)
MAX_RESTARTS = len(RESTART_DELAYS_S)
#: a worker that ran this long without trouble resets the restart count
_HEALTHY_RESET_S = 60.0
#: version of the cached clips (what the renderer and the trimming make of a phrase)
CLIP_FORMAT = 1
#: phrases rendered at a time while the worker prepares its clips
_PREPARE_BATCH = 2
#: the rule of a queue item that hands the worker more phrases to prepare (one a line)
_PREPARE_RULE = "speech.prepare"


def default_cache_dir() -> Path:
    """Where rendered phrases are kept between sessions (the platform's cache folder)."""
    # lazy: platformdirs only when a speaker starts
    import platformdirs

    return platformdirs.user_cache_path("downhill-live") / "speech"


@dataclass(frozen=True, slots=True)
class SpeechEvent:
    """Something the speech worker did: ``kind`` is one of ``start`` (playback starts),
    ``done``, ``stale`` (dropped: older than max_age_s), ``error`` (this cue failed),
    ``tempo`` (the metronome was started, retuned or stopped: ``phrase`` is ``SPM@VOLUME``),
    ``interrupted`` (the worker died while playing it).

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
    tmp_dir: str = ""
    phrases: tuple[str, ...] = ()


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
        self.cache_dir = Path(cfg.cache_dir)
        self.tmp_dir = Path(cfg.tmp_dir or cfg.cache_dir)
        self.engine_id = ""
        self.cache: dict[str, tuple[Path, float]] = {}
        #: every phrase to prepare (the profile's, then those handed over later), and those
        #: still to render ahead of their first use
        self.wanted: dict[str, None] = dict.fromkeys(p for p in cfg.phrases if p)
        self.todo: list[str] = list(self.wanted)
        self.n_prepared_rendered = 0
        self.t_prepare_s = 0.0
        self.heap: list[tuple[int, int, float, str, str]] = []
        self.player_proc: subprocess.Popen[bytes] | None = None
        self.failures = 0
        self.parent_pid = os.getppid()
        self.metronome: Metronome | None = None
        #: the main loop's last sign of progress, and the end of a bounded wait it is inside
        self.beat = time.monotonic()
        self.busy_until = 0.0

    def emit(self, *event: object) -> None:
        self.events.put(event)

    # -- heartbeat ------------------------------------------------------------------------
    def heartbeat(self) -> None:
        """Thread: tell the app we are alive, as long as the main loop makes progress."""
        while not self.stop.is_set():
            now = time.monotonic()
            if now - self.beat < HANG_TIMEOUT_S / 2 or now < self.busy_until:
                self.emit("hb", now)
            time.sleep(HEARTBEAT_S)

    @contextlib.contextmanager
    def bounded(self, max_s: float) -> Any:
        """The main loop waits on something that ends by itself within ``max_s``."""
        self.busy_until = time.monotonic() + max_s
        try:
            yield
        finally:
            self.busy_until = 0.0
            self.beat = time.monotonic()

    # -- engine and clips -----------------------------------------------------------------
    def init_engine(self) -> None:
        """Check the engine and voice once (phrases are rendered by :func:`_render_raw`)."""
        # lazy: pyttsx3 is loaded only here, in the worker process, never in the app process
        import importlib.metadata

        import pyttsx3

        cfg = self.cfg
        self.engine = pyttsx3.init("espeak" if sys.platform.startswith("linux") else None)
        _configure_engine(self.engine, voice=cfg.voice, rate_wpm=cfg.rate_wpm, volume=cfg.volume)
        espeak = ""  # the library's version: a new espeak-ng may sound different
        with contextlib.suppress(Exception):
            # lazy, as pyttsx3 above (the worker process only)
            from pyttsx3.drivers import _espeak

            espeak = str(_espeak.Info())
        voice = ""
        with contextlib.suppress(Exception):
            voice = str(self.engine.getProperty("voice"))
        self.engine_id = json.dumps(
            [
                CLIP_FORMAT,
                f"pyttsx3 {importlib.metadata.version('pyttsx3')}",
                espeak,
                voice or cfg.voice,
            ]
        )

    def clip_path(self, phrase: str) -> Path:
        """The cache file of ``phrase`` for this engine, voice, rate and volume."""
        cfg = self.cfg
        key = json.dumps([self.engine_id, cfg.rate_wpm, cfg.volume, phrase])
        return self.cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:40]}.wav"

    def cached(self, phrase: str) -> tuple[Path, float] | None:
        """The clip of ``phrase`` from memory or from the disk cache, or None."""
        hit = self.cache.get(phrase)
        if hit is not None:
            return hit
        path = self.clip_path(phrase)
        try:
            with wave.open(str(path), "rb") as f:
                n, fs_hz = f.getnframes(), f.getframerate()
        except (OSError, EOFError, wave.Error):
            return None  # not cached yet (or a damaged file: rendered again)
        if n == 0 or fs_hz <= 0:
            return None
        self.cache[phrase] = (path, n / fs_hz)
        self.emit("clip", phrase, str(path))
        return self.cache[phrase]

    def render(self, phrases: Sequence[str]) -> None:
        """Render ``phrases`` (at most two at a time) into the cache."""
        cfg = self.cfg
        raws = [self.tmp_dir / f"{os.getpid()}-{i}.raw.wav" for i in range(len(phrases))]
        with self.bounded(_RENDER_TIMEOUT_S * len(phrases) + 5.0):
            _render_raw(
                list(zip(phrases, raws, strict=True)),
                voice=cfg.voice,
                rate_wpm=cfg.rate_wpm,
                volume=cfg.volume,
            )
        for phrase, raw in zip(phrases, raws, strict=True):
            x, fs_hz = _read_wav(raw)
            raw.unlink()
            x = _trim_silence(x, fs_hz)
            if x.size == 0:
                raise SpeechError(f"text-to-speech produced no sound for {phrase!r}")
            out = self.clip_path(phrase)
            tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp")
            _write_wav(tmp, x, fs_hz)
            os.replace(tmp, out)  # whole or not at all: another session may read it
            self.cache[phrase] = (out, x.size / fs_hz)
            self.emit("clip", phrase, str(out))

    def clip(self, phrase: str) -> tuple[Path, float]:
        """Cached, trimmed WAV of ``phrase`` and its duration in seconds."""
        hit = self.cached(phrase)
        if hit is None:
            self.render([phrase])
            hit = self.cache[phrase]
        return hit

    def prepare_some(self) -> None:
        """Render the next few profile phrases that are not cached yet."""
        t0 = time.monotonic()
        batch: list[str] = []
        while self.todo and len(batch) < _PREPARE_BATCH:
            phrase = self.todo.pop(0)
            if self.cached(phrase) is None:
                batch.append(phrase)
        if batch:
            try:
                self.render(batch)
                self.n_prepared_rendered += len(batch)
            except Exception as exc:  # rendered again, and reported, on first use
                msg = str(exc) if isinstance(exc, DownhillError) else f"{type(exc).__name__}: {exc}"
                self.emit("error", -1, "prepare", batch[0], time.monotonic(), msg)
        self.t_prepare_s += time.monotonic() - t0
        if not self.todo:
            self.emit("prepared", len(self.wanted), self.n_prepared_rendered, self.t_prepare_s)

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
            self.beat = time.monotonic()
            if self.stop.is_set() or os.getppid() != self.parent_pid:
                return None  # closed, or the app died without closing us
            with contextlib.suppress(queue.Empty):
                # nothing to say: render the profile's phrases meanwhile (a cue waits for at
                # most one batch, about 0.3 s, and is then played from a ready clip)
                item = self.cues.get_nowait() if self.todo else self.cues.get(timeout=0.2)
                if item is not None:
                    self.push(item)
                continue
            if self.todo:
                self.prepare_some()
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
        if rule == _PREPARE_RULE:  # more phrases to render while there is nothing to say
            new = [p for p in phrase.split("\n") if p and p not in self.wanted]
            self.wanted.update(dict.fromkeys(new))
            self.todo.extend(new)
            if not self.todo:
                self.emit("prepared", len(self.wanted), self.n_prepared_rendered, self.t_prepare_s)
            return
        heapq.heappush(self.heap, (-prio, seq, t_said, phrase, rule))

    def run(self) -> None:
        self.init_engine()
        self.emit("ready", os.getpid())
        if not self.todo:
            self.emit("prepared", 0, 0, 0.0)
        while (item := self.next_item()) is not None:
            seq, _prio, t_said, phrase, rule = item
            try:
                age_s = time.monotonic() - t_said
                if age_s > self.cfg.max_age_s:
                    self.emit("stale", seq, rule, phrase, time.monotonic(), f"age {age_s:.2f} s")
                    continue
                path, duration_s = self.clip(phrase)
                self.emit("start", seq, rule, phrase, time.monotonic(), "")
                with self.bounded(duration_s + 12.0):  # play() gives up after duration + 10 s
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
    threading.Thread(target=worker.heartbeat, name="heartbeat", daemon=True).start()
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


@dataclass
class _Generation:
    """One worker process and everything it shares with the app; replaced whole on restart
    (a process killed or stopped while holding a queue's or an event's lock would block it)."""

    proc: Any
    pid: int
    cues: Any
    events: Any
    stop: Any
    t_start: float
    ready: bool = False
    t_ready: float = 0.0
    last_beat: float = 0.0
    exited: bool = False  # the worker said "exit": a clean end, or after reporting a failure
    ended: bool = False  # the app has released it


@dataclass
class _Counts:
    restarts: int = 0  # restarts in a row (reset by a healthy minute)
    total: int = 0
    noticed: set[str] = field(default_factory=set)


class WorkerSpeaker:
    """Speaks through a supervised worker process that owns pyttsx3; :meth:`say` never blocks.

    Use :func:`~downhill_live.speech.open_speaker` rather than constructing this directly.

    Attributes
    ----------
    events : deque of SpeechEvent
        The last 1000 things the worker did (start/done/stale/error/interrupted), in order.
    n_dropped_full : int
        Cues dropped by :meth:`say` because ``max_pending`` cues were already waiting.
    n_restarts : int
        Workers started again after one died or froze.
    n_resent : int
        Cues handed again to a new worker (said, not started when the old one stopped).
    n_interrupted : int
        Cues cut off because their worker died while playing them.
    clips : dict of str -> str
        Cached WAV file of each phrase the worker has ready.
    notices : list of str
        One-line notes for the user (a restart, giving up); also passed to ``on_notice``.
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
        phrases: Sequence[str] = (),
        cache_dir: str | Path | None = None,
    ) -> None:
        self._cfg = _WorkerConfig(
            tuple(player), voice, rate_wpm, volume, max_age_s, "", "", tuple(phrases)
        )
        self._cache_root = Path(cache_dir) if cache_dir is not None else None
        self._max_pending = max_pending
        self._ctx = mp.get_context("spawn")
        self._gen: _Generation | None = None
        self._lock = threading.Lock()
        self._pending: dict[int, _Item] = {}
        self._tempo: _Item | None = None  # the last metronome item: re-sent to a new worker
        self._supervisor: threading.Thread | None = None
        self._wake = threading.Event()  # set by close(): the supervisor stops waiting
        self._ready = threading.Event()
        self._prepared = threading.Event()
        self._seq = itertools.count()
        self._failure: str | None = None
        self._failure_kind = ""
        self._restarting: str | None = None
        self._closed = False
        self._counts = _Counts()
        self._tmp_dir = ""
        self._on_notice: Callable[[str], None] | None = None
        self.events: collections.deque[SpeechEvent] = collections.deque(maxlen=1000)
        self.clips: dict[str, str] = {}
        self.notices: list[str] = []
        self.n_dropped_full = 0
        self.n_stale = 0
        self.n_errors = 0
        self.n_resent = 0
        self.n_interrupted = 0
        #: (phrases of the profile, how many had to be rendered, seconds) once prepared
        self.prepared: tuple[int, int, float] | None = None
        self._startup_timeout_s = _STARTUP_TIMEOUT_S

    # -- lifecycle ------------------------------------------------------------------------
    def start(
        self, startup_timeout_s: float = _STARTUP_TIMEOUT_S, *, wait: bool = True
    ) -> WorkerSpeaker:
        """Spawn the worker; with ``wait``, return once its engine is ready (or failed).

        Without ``wait`` this returns at once: cues said meanwhile wait for the worker (and are
        dropped as stale if it takes longer than ``max_age_s``); a failure is reported through
        :attr:`notices` / ``on_notice``.
        """
        self._startup_timeout_s = startup_timeout_s
        self._tmp_dir = tempfile.mkdtemp(prefix="downhill-speech-")
        cache = self._cache_root or default_cache_dir()
        try:
            cache.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=cache, prefix=".probe-")  # noqa: SIM115
            probe.close()
        except OSError as exc:  # a read-only home: clips live as long as this speaker
            logger.info("speech cache %s not writable (%s): using %s", cache, exc, self._tmp_dir)
            cache = Path(self._tmp_dir)
        self._cfg = dataclasses.replace(self._cfg, cache_dir=str(cache), tmp_dir=self._tmp_dir)
        with self._lock:
            self._gen = self._spawn()
        self._supervisor = threading.Thread(
            target=self._supervise, name="downhill-speech-supervisor", daemon=True
        )
        self._supervisor.start()
        if wait:
            self._ready.wait(startup_timeout_s + 1.0)
        return self

    def _spawn(self) -> _Generation:
        """A new worker with new queues; the cues still pending go to it (call with the lock)."""
        cues = self._ctx.Queue()
        events = self._ctx.Queue()
        stop = self._ctx.Event()
        for item in ([self._tempo] if self._tempo is not None else []) + [
            self._pending[k] for k in sorted(self._pending)
        ]:
            cues.put_nowait(item)
        proc = self._ctx.Process(
            target=_worker_main,
            args=(cues, events, stop, self._cfg),
            name="downhill-speech",
            daemon=True,
        )
        proc.start()
        now = time.monotonic()
        return _Generation(proc, proc.pid or 0, cues, events, stop, now, last_beat=now)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the worker: the utterance in progress may finish within ``timeout_s``,
        queued cues are dropped. Idempotent."""
        if self._closed or self._gen is None:
            self._closed = True
            return
        self._closed = True
        self._wake.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout_s + 5.0)
        gen = self._gen
        gen.stop.set()
        with contextlib.suppress(ValueError, OSError, AssertionError):
            gen.cues.put_nowait(None)
        self._end(gen, timeout_s)
        shutil.rmtree(self._tmp_dir, ignore_errors=True)

    def _end(self, gen: _Generation, timeout_s: float) -> None:
        """Wait for ``gen``'s worker to exit (SIGTERM, then SIGKILL) and release its queues."""
        if gen.ended:
            return
        gen.ended = True
        proc = gen.proc
        proc.join(timeout_s)
        if proc.is_alive():
            proc.terminate()  # SIGTERM: the worker kills its player and exits
            proc.join(2.0)
        if proc.is_alive():
            proc.kill()
            proc.join(2.0)
        for q in (gen.cues, gen.events):
            q.cancel_join_thread()
            q.close()
        with contextlib.suppress(ValueError):
            proc.close()

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
        if self._restarting is not None:
            return f"speech: restarting the worker ({self._restarting}) - cues go to the console"
        return f"speech: espeak-ng via pyttsx3 (worker process, {player})"

    @property
    def healthy(self) -> bool:
        """True while the worker runs (or is being restarted) and has not failed for good."""
        return self._failure is None and not self._closed

    @property
    def failure(self) -> str | None:
        """Why the worker failed, or None."""
        return self._failure

    @property
    def n_restarts(self) -> int:
        """Workers started again after one died or froze."""
        return self._counts.total

    @property
    def worker_pid(self) -> int | None:
        """Process id of the current worker (None before :meth:`start`)."""
        gen = self._gen
        return None if gen is None else gen.pid

    @property
    def worker_ready(self) -> bool:
        """The current worker is up and has its engine ready."""
        gen = self._gen
        return gen is not None and gen.ready and not gen.ended

    @property
    def on_notice(self) -> Callable[[str], None] | None:
        """Called (from a background thread) with each one-line note; notes from before it
        was set are passed on when it is set."""
        return self._on_notice

    @on_notice.setter
    def on_notice(self, fn: Callable[[str], None] | None) -> None:
        self._on_notice = fn
        if fn is not None:
            for text in list(self.notices):
                fn(text)

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait until a worker is ready to speak (or speech failed); True if ready."""
        return self._ready.wait(timeout_s) and self._failure is None

    def wait_prepared(self, timeout_s: float) -> bool:
        """Wait until the profile's phrases are rendered (see :attr:`prepared`)."""
        return self._prepared.wait(timeout_s) and self._failure is None

    def _notice(self, kind: str, text: str) -> None:
        """Say ``text`` once per ``kind``."""
        if kind in self._counts.noticed:
            logger.info("%s", text)
            return
        self._counts.noticed.add(kind)
        self.notices.append(text)
        fn = self._on_notice
        # to the log as a warning only when nobody shows it (the CLI prints warnings too)
        logger.log(logging.INFO if fn is not None else logging.WARNING, "%s", text)
        if fn is not None:
            with contextlib.suppress(Exception):  # the console's trouble is not speech's
                fn(text)

    def _fail(self, kind: str, message: str) -> None:
        if self._failure is None:
            # said before it shows in ``healthy``: whoever sees the failure finds the notice
            text = message if message.startswith("speech") else f"speech: {message}"
            self._notice("failed", f"{text} - cues go to the console")
            self._failure_kind = kind
            self._failure = message
        self._ready.set()
        self._prepared.set()

    def _wanted(self) -> dict[str, None]:
        return dict.fromkeys(p for p in self._cfg.phrases if p)

    def prepare(self, phrases: Sequence[str]) -> None:
        """Render ``phrases`` into the clip cache too, while the worker has nothing to say
        (phrases known only once the session runs: the names of its devices in "Treadmill
        lost"); never blocks. :meth:`wait_prepared` then waits for these as well, and a
        restarted worker prepares them again."""
        with self._lock:
            wanted = self._wanted()
            new = [p for p in dict.fromkeys(phrases) if p and "\n" not in p and p not in wanted]
            if not new or self._closed or self._failure is not None:
                return
            self._cfg = dataclasses.replace(self._cfg, phrases=(*self._cfg.phrases, *new))
            self._prepared.clear()
            gen = self._gen
            item: _Item = (next(self._seq), 0, time.monotonic(), "\n".join(new), _PREPARE_RULE)
            if gen is not None:  # a closed queue: a restart is under way, and renders them
                with contextlib.suppress(ValueError, OSError, AssertionError):
                    gen.cues.put_nowait(item)

    # -- data path ------------------------------------------------------------------------
    def say(self, cue: Cue) -> bool:
        """Queue ``cue`` for speech without blocking.

        Returns
        -------
        bool
            False if the cue was dropped: ``max_pending`` cues are already waiting, or the
            speaker has failed for good or been closed.
        """
        if self._failure is not None or self._closed:
            return False
        phrase = cue.phrase
        with self._lock:
            seq = next(self._seq)
            if cue.rule == METRONOME_RULE:  # the target cadence (nan: off) and the tick volume
                phrase = format_tempo(cue.value, cue.extra.get("volume", 0.3))
                item: _Item = (seq, int(cue.priority), time.monotonic(), phrase, cue.rule)
                self._tempo = item
            else:
                if len(self._pending) >= self._max_pending:
                    self.n_dropped_full += 1
                    return False
                item = (seq, int(cue.priority), time.monotonic(), phrase, cue.rule)
                self._pending[seq] = item
            gen = self._gen
            if gen is not None:
                # never blocks (the queue has no bound; max_pending is enforced above). A closed
                # queue means a restart is under way: the cue is pending and goes to the new one
                with contextlib.suppress(ValueError, OSError, AssertionError):
                    gen.cues.put_nowait(item)
        return True

    # -- supervision (a thread in the app process) ----------------------------------------
    def _supervise(self) -> None:
        while not self._closed and self._failure is None:
            gen = self._gen
            assert gen is not None
            try:
                ev = gen.events.get(timeout=0.1)
            except queue.Empty:
                ev = None
            except (EOFError, OSError, ValueError):
                ev = None
            if ev is not None:
                gen.last_beat = time.monotonic()
                self._handle(gen, ev)
                continue
            if self._closed or self._failure is not None:
                return
            reason = self._trouble(gen)
            if reason is not None:
                self._restart(gen, reason)

    def _trouble(self, gen: _Generation) -> str | None:
        """Why ``gen``'s worker must be replaced, or None while it is fine."""
        now = time.monotonic()
        try:
            alive, code = gen.proc.is_alive(), gen.proc.exitcode
        except ValueError:
            return None
        if not alive:
            if gen.exited and self._failure is not None:
                return None
            if code is not None and code < 0:
                with contextlib.suppress(ValueError):
                    return f"worker killed by {signal.Signals(-code).name}"
            return f"worker exited (code {code})"
        if gen.ready:
            if now - gen.last_beat > HANG_TIMEOUT_S:
                return f"worker did not answer for {now - gen.last_beat:.1f} s"
            if now - gen.t_ready > _HEALTHY_RESET_S:
                self._counts.restarts = 0
            return None
        if now - gen.t_start > self._startup_timeout_s:
            return f"worker did not start within {self._startup_timeout_s:.0f} s"
        return None

    def _handle(self, gen: _Generation, ev: tuple[Any, ...]) -> None:
        kind = ev[0]
        if kind == "hb":
            return
        if kind == "exit":
            gen.exited = True
        elif kind == "ready":
            gen.ready, gen.t_ready = True, time.monotonic()
            if self._restarting is not None:
                logger.info("speech worker restarted (%s)", self._restarting)
            self._restarting = None
            self._ready.set()
        elif kind == "failed":
            self._fail(ev[1], ev[2])
        elif kind == "clip":
            self.clips[ev[1]] = ev[2]
        elif kind == "prepared":
            self.prepared = (int(ev[1]), int(ev[2]), float(ev[3]))
            if self.prepared[0] >= len(self._wanted()):  # not one from before a prepare()
                self._prepared.set()
        else:
            event = SpeechEvent(*ev)
            if event.seq >= 0 and kind in ("start", "stale", "error"):
                with self._lock:
                    self._pending.pop(event.seq, None)
            self.events.append(event)
            if kind == "stale":
                self.n_stale += 1
                logger.info("speech dropped stale cue %s (%s)", event.rule, event.detail)
            elif kind == "error":
                self.n_errors += 1
                logger.warning("speech failed for cue %s: %s", event.rule, event.detail)

    def _restart(self, gen: _Generation, reason: str) -> None:
        """Replace ``gen``'s worker (killed first), after the backoff; or give up."""
        with contextlib.suppress(ValueError, OSError):
            gen.proc.kill()  # SIGKILL works on a stopped process too
            gen.proc.join(2.0)
        # what the old worker said before it died (a "start" means: do not say it again)
        with contextlib.suppress(queue.Empty, EOFError, OSError, ValueError):
            for _ in range(10_000):
                self._handle(gen, gen.events.get_nowait())
        started = {e.seq for e in self.events if e.kind == "start"}
        finished = {e.seq for e in self.events if e.kind in ("done", "error", "interrupted")}
        for e in list(self.events):
            if e.kind == "start" and e.seq in started - finished:
                self.n_interrupted += 1
                self.events.append(dataclasses.replace(e, kind="interrupted", detail=reason))
        self._end(gen, 0.0)
        if not self._ready.is_set():  # never worked: a new worker would not either
            self._fail("engine", f"speech {reason}")
            return
        counts = self._counts
        if counts.restarts >= MAX_RESTARTS:
            self._fail("engine", f"speech {reason}; gave up after {counts.restarts} restarts")
            return
        delay_s = RESTART_DELAYS_S[counts.restarts]
        counts.restarts += 1
        counts.total += 1
        self._restarting = reason
        self._notice(
            "hung" if "did not" in reason else "died",
            f"speech: {reason} - restarting it; cues go to the console meanwhile",
        )
        if self._wake.wait(delay_s):
            return  # closed during the backoff
        with self._lock:
            if self._closed:
                return
            self.n_resent += len(self._pending)
            self._gen = self._spawn()
