"""The cadence metronome: soft ticks at a target cadence, mixed with speech in the worker.

It runs inside the speech worker process (:mod:`~downhill_live.speech.worker`), never in the
app: the data path only enqueues a ``descent.metronome`` cue (value: the target in steps per
minute, ``nan`` for off) and returns. While the metronome runs, one raw player process
(``paplay --raw``, ``aplay -t raw`` or sox ``play -t raw``) receives a continuous 16-bit mono
stream from a thread that renders one tick per step (a 12-ms decaying 1.8 kHz burst) and mixes
in the speech clips the worker plays, with the ticks *ducked* under them. The stream is paced
against the monotonic clock and kept at most ``lead_s`` ahead of real time, so a tempo change,
or a cue, is heard within about that long. Tick times are placed on a fractional sample clock,
so the tick rate is exact to the sample whatever the tempo.
"""

from __future__ import annotations

import contextlib
import math
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: the rule name of the cues that switch the metronome (value: target spm; nan: off)
METRONOME_RULE = "descent.metronome"
STREAM_RATE_HZ = 22050
TICK_S = 0.012
TICK_HZ = 1800.0


def tick_wave(fs_hz: int, volume: float) -> np.ndarray:
    """One soft tick: a decaying sine burst, peak ``volume`` (full scale 1).

    >>> w = tick_wave(22050, 0.3)
    >>> len(w), round(float(abs(w).max()), 2)
    (264, 0.3)
    """
    t = np.arange(int(TICK_S * fs_hz)) / fs_hz
    w = np.sin(2 * np.pi * TICK_HZ * t) * np.exp(-t / 0.003)
    return volume * w / np.max(np.abs(w))


def raw_player_command(player: Sequence[str], fs_hz: int) -> list[str] | None:
    """The raw-PCM (stdin) variant of a WAV player command, or None if it has none."""
    name = Path(player[0]).name
    if name == "paplay":
        # a short buffer: a tempo change or a cue is heard at once, not after prebuffering
        return [player[0], "--raw", "--format=s16le", f"--rate={fs_hz}", "--channels=1",
                "--latency-msec=150"]  # fmt: skip
    if name == "aplay":
        return [player[0], "-q", "-t", "raw", "-f", "S16_LE", "-r", str(fs_hz), "-c", "1"]
    if name == "play":
        return [player[0], "-q", "-t", "raw", "-e", "signed", "-b", "16", "-r", str(fs_hz),
                "-c", "1", "-"]  # fmt: skip
    return None


def parse_tempo(text: str) -> tuple[float | None, float]:
    """The worker's queue item phrase: ``"SPM@VOLUME"`` or ``"@VOLUME"`` (off).

    >>> parse_tempo("178.5@0.3"), parse_tempo("@0.3")
    ((178.5, 0.3), (None, 0.3))
    """
    spm_text, _, vol_text = text.partition("@")
    volume = float(vol_text) if vol_text else 0.3
    spm = float(spm_text) if spm_text else math.nan
    return (spm if math.isfinite(spm) and spm > 0 else None), volume


def format_tempo(spm: float, volume: float) -> str:
    """Inverse of :func:`parse_tempo`."""
    return f"{spm:.3f}@{volume:g}" if math.isfinite(spm) and spm > 0 else f"@{volume:g}"


class Metronome:
    """Streams ticks (and speech, ticks ducked) to one raw player, in its own thread."""

    def __init__(
        self,
        player: Sequence[str],
        *,
        fs_hz: int = STREAM_RATE_HZ,
        duck_gain: float = 0.15,
        block_s: float = 0.02,
        lead_s: float = 0.3,
    ) -> None:
        cmd = raw_player_command(player, fs_hz)
        if cmd is None:
            raise ValueError(f"no raw stream mode for player {player[0]!r}")
        self.cmd = cmd
        self.fs_hz = fs_hz
        self.duck_gain = duck_gain
        self.block = max(1, int(block_s * fs_hz))
        self.lead_s = lead_s
        self.lock = threading.Lock()
        self.spm: float | None = None
        self.tick = tick_wave(fs_hz, 0.3)
        self.voice = np.zeros(0)
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self.error: str | None = None
        #: sample index (stream clock) of every tick written, for tests and diagnostics
        self.tick_samples: list[int] = []

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def set_tempo(self, spm: float | None, volume: float = 0.3) -> None:
        """Start, retune or (None) stop the ticks; returns at once."""
        with self.lock:
            self.spm = spm
            self.tick = tick_wave(self.fs_hz, volume)
        if spm is not None and not self.running:
            self.stopping.clear()
            self.thread = threading.Thread(target=self._run, name="metronome", daemon=True)
            self.thread.start()

    def play_clip(self, x: np.ndarray, fs_hz: int) -> float:
        """Mix a speech clip into the stream (ticks ducked while it plays); its duration."""
        if fs_hz != self.fs_hz:
            n = round(len(x) * self.fs_hz / fs_hz)
            x = np.interp(np.arange(n) * fs_hz / self.fs_hz, np.arange(len(x)), x)
        with self.lock:
            self.voice = np.concatenate([self.voice, x])
            pending = len(self.voice)
        return pending / self.fs_hz + self.lead_s

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(3.0)

    def _run(self) -> None:
        try:
            proc = subprocess.Popen(
                self.cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
        except OSError as exc:
            self.error = str(exc)
            return
        assert proc.stdin is not None
        fs, nb = self.fs_hz, self.block
        written = 0
        next_tick = 0.0
        tail = np.zeros(0)  # the part of a tick that runs into the next block
        t0 = time.monotonic()
        try:
            while not self.stopping.is_set():
                ahead_s = written / fs - (time.monotonic() - t0)
                if ahead_s > self.lead_s:
                    time.sleep(min(ahead_s - self.lead_s, nb / fs))
                    continue
                with self.lock:
                    spm, tick = self.spm, self.tick
                    voice, self.voice = self.voice[:nb], self.voice[nb:]
                if spm is None and not len(voice) and not len(tail):
                    break
                ticks = np.zeros(nb + len(tick))
                ticks[: len(tail)] += tail
                if spm is None:
                    next_tick = math.inf
                else:
                    if not math.isfinite(next_tick):
                        next_tick = float(written)
                    interval = fs * 60.0 / spm
                    while next_tick < written + nb:
                        i = round(next_tick) - written
                        if i >= 0:
                            ticks[i : i + len(tick)] += tick
                            self.tick_samples.append(written + i)
                        next_tick += interval
                tail = ticks[nb:]
                out = ticks[:nb] * (self.duck_gain if len(voice) else 1.0)
                out[: len(voice)] += voice
                pcm = (np.clip(out, -1.0, 1.0) * 32767).astype("<i2").tobytes()
                try:
                    proc.stdin.write(pcm)
                    proc.stdin.flush()
                except (BrokenPipeError, OSError) as exc:
                    self.error = f"metronome player stopped: {exc}"
                    break
                written += nb
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            try:
                proc.wait(2.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(2.0)
