"""Benchmark live speech against a real PulseAudio null sink (no sound card needed).

1. Latency from ``Speaker.say()`` to the audio onset seen at the null sink's monitor (recorded
   with ``parec``), p50/p95 over ``--cues`` cues; the first use of each phrase (render + play)
   and cached phrases are reported separately. Goal: p95 <= 300 ms.
2. Jitter that speech adds to a simulated data path: a fixed numpy/scipy workload per "packet"
   at ``--rate-hz``, timed with and without concurrent speech (alternating blocks, so drift
   and other load on the machine hit both). Goal: p99 at most 10 % higher with speech.
3. Time of one ``say()`` call while the worker is busy and the queue fills (most calls drop),
   and of ``close(timeout_s=0.2)`` cutting a long utterance. Goals: ``say()`` max < 5 ms,
   median < 1 ms; ``close()`` well under the utterance's length.
4. Time ``open_speaker()`` takes to fall back to the console when no audio output is reachable
   (skipped on a machine with an ALSA playback device). Goal: < 3 s.

Run from the repository root: ``.venv/bin/python benchmarks/bench_speech.py``.
Needs Debian ``pulseaudio`` and ``pulseaudio-utils`` (server, ``paplay``, ``parec``) and
``libespeak-ng1``. The null sink and its recorder come from :mod:`downhill_live.speech.nullsink`,
as in ``tests/test_speech.py``; the benchmark imports nothing from ``tests/``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfilt

from downhill_live.speech import ConsoleSpeaker, WorkerSpeaker, audio_output_available, open_speaker
from downhill_live.speech.nullsink import MonitorRecorder, NullSinkServer, pulse_tools_available
from downhill_live.types import Cue

LONG = "keep your steps short and quick on this long descent"
PHRASES = (
    "shorter, quicker steps",
    "soft feet",
    "lean forward",
    "relax your shoulders",
    "quiet landing",
)


def frame_rms(x: np.ndarray, fs_hz: int, frame_s: float) -> np.ndarray:
    """RMS of consecutive frames of ``frame_s`` seconds (a partial last frame is dropped)."""
    n = round(frame_s * fs_hz)
    m = x.size // n
    return np.sqrt(np.mean(x[: m * n].reshape(m, n) ** 2, axis=1))


def pct(x: list[float] | np.ndarray, q: float) -> float:
    return float(np.percentile(np.asarray(x, dtype=np.float64), q))


def wait_done(speaker: WorkerSpeaker, n_done: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sum(e.kind in ("done", "stale", "error") for e in list(speaker.events)) >= n_done:
            return
        time.sleep(0.005)
    raise RuntimeError("speech worker did not finish a cue in time")


def bench_latency(speaker: WorkerSpeaker, recorder: MonitorRecorder, n_cues: int) -> None:
    said: list[tuple[float, bool]] = []  # (monotonic time of say(), first use of the phrase)
    for i in range(n_cues):
        phrase = PHRASES[i % len(PHRASES)]
        t = time.monotonic()
        speaker.say(Cue(float(i), "bench", phrase, "cadence_spm", 160.0))
        said.append((t, i < len(PHRASES)))
        wait_done(speaker, i + 1)
        time.sleep(0.15)  # silence between cues, so each onset is unambiguous
    time.sleep(0.2)
    x, t0 = recorder.snapshot()
    rms = frame_rms(x, recorder.server.rate_hz, 0.005)
    lat_cold: list[float] = []
    lat_warm: list[float] = []
    for t_say, cold in said:
        i0 = max(int((t_say - 0.02 - t0) / 0.005), 0)
        loud = np.flatnonzero(rms[i0:] > 0.01)
        if loud.size == 0:
            raise RuntimeError("no audio found at the sink after a cue")
        latency_s = t0 + (i0 + loud[0]) * 0.005 - t_say
        (lat_cold if cold else lat_warm).append(latency_s)
    lat = lat_cold + lat_warm
    print(f"latency say() -> onset at the null sink, {len(lat)} cues (+-15 ms clock mapping):")
    print(
        f"  all    p50 {1e3 * pct(lat, 50):6.1f} ms   p95 {1e3 * pct(lat, 95):6.1f} ms   "
        f"max {1e3 * max(lat):6.1f} ms   goal p95 <= 300 ms: "
        f"{'OK' if pct(lat, 95) <= 0.3 else 'MISSED'}"
    )
    print(f"  first use of a phrase (render + play): p50 {1e3 * pct(lat_cold, 50):6.1f} ms")
    if lat_warm:
        print(f"  cached phrase:                         p50 {1e3 * pct(lat_warm, 50):6.1f} ms")


def bench_jitter(
    speaker: WorkerSpeaker, rate_hz: float, n_packets: int, blocks: int, n_before: int
) -> None:
    """``n_before``: cues the speaker finished before this benchmark."""
    rng = np.random.default_rng(0)
    sos = butter(4, [0.5, 20.0], btype="bandpass", fs=200.0, output="sos")
    signal_g = rng.standard_normal((4096, 3))

    def workload() -> float:
        """Stand-in for decode + gait core on one packet: filter, FFT, peak search."""
        y = sosfilt(sos, signal_g, axis=0)
        mag = np.linalg.norm(y, axis=1)
        spec = np.abs(np.fft.rfft(mag))
        return float(np.argmax(spec) + np.max(mag))

    period_s = 1.0 / rate_hz
    say_every = max(round(0.4 * rate_hz), 1)  # a cue every 0.4 s: speech runs all the time
    times: dict[bool, list[float]] = {False: [], True: []}
    late: dict[bool, list[float]] = {False: [], True: []}
    said = accepted = 0
    for block in range(2 * blocks):
        speaking = block % 2 == 1
        tick = time.perf_counter()
        for k in range(n_packets):
            tick += period_s
            while (now := time.perf_counter()) < tick:
                time.sleep(min(tick - now, 0.002))
            t0 = time.perf_counter()
            workload()
            if speaking and k % say_every == 0:
                said += 1
                phrase = PHRASES[said % len(PHRASES)]
                accepted += speaker.say(Cue(k / rate_hz, "bench", phrase, "cadence_spm", 160.0))
            t1 = time.perf_counter()
            times[speaking].append(t1 - t0)
            late[speaking].append(t0 - tick)
        if speaking:  # let speech finish, so the next quiet block is really quiet
            wait_done(speaker, n_before + accepted, timeout_s=30.0)
    base, spk = np.asarray(times[False]), np.asarray(times[True])
    change = pct(spk, 99) / pct(base, 99) - 1.0
    print(
        f"data path: {n_packets * blocks} packets at {rate_hz:g} Hz per condition, "
        f"workload per packet (incl. say() when speaking); {accepted}/{said} cues accepted"
    )
    for name, x, lt in (("quiet   ", base, late[False]), ("speaking", spk, late[True])):
        print(
            f"  {name} p50 {1e3 * pct(x, 50):6.3f} ms   p99 {1e3 * pct(x, 99):6.3f} ms   "
            f"max {1e3 * x.max():6.3f} ms   wake-up lateness p99 {1e3 * pct(lt, 99):6.3f} ms"
        )
    print(
        f"  p99 change with speech: {100 * change:+.1f} %   goal at most +10 %: "
        f"{'OK' if change <= 0.10 else 'MISSED'}   (load average {os.getloadavg()[0]:.2f}; "
        "other processes on the cores add noise of their own to both conditions)"
    )


def bench_say_and_close(speaker: WorkerSpeaker, n_calls: int = 200) -> None:
    """Time ``say()`` while the worker speaks a long phrase, then ``close()`` cutting it."""
    speaker.say(Cue(0.0, "bench", LONG, "cadence_spm", 160.0))
    deadline = time.monotonic() + 10.0
    while not any(e.kind == "start" and e.phrase == LONG for e in list(speaker.events)):
        if time.monotonic() > deadline:
            raise RuntimeError("the long phrase did not start")
        time.sleep(0.005)
    took_s, accepted = [], 0
    for i in range(n_calls):
        t0 = time.perf_counter()
        accepted += speaker.say(Cue(1.0 + i, "bench", f"cue {i}", "cadence_spm", 160.0))
        took_s.append(time.perf_counter() - t0)
    med_s, max_s = pct(took_s, 50), max(took_s)
    print(
        f"say() while the worker speaks, {n_calls} calls ({accepted} queued, the rest dropped): "
        f"p50 {1e6 * med_s:6.1f} us   p99 {1e6 * pct(took_s, 99):6.1f} us   "
        f"max {1e6 * max_s:6.1f} us   goal max < 5 ms, p50 < 1 ms: "
        f"{'OK' if max_s < 0.005 and med_s < 0.001 else 'MISSED'}"
    )
    t0 = time.monotonic()
    speaker.close(timeout_s=0.2)
    close_s = time.monotonic() - t0
    cut = not any(e.kind == "done" and e.phrase == LONG for e in list(speaker.events))
    print(
        f"close(timeout_s=0.2) during a {LONG!r} utterance: {1e3 * close_s:6.1f} ms "
        f"({'cut' if cut else 'NOT cut'})   goal < 3 s: {'OK' if close_s < 3.0 else 'MISSED'}"
    )


def bench_console_fallback() -> None:
    """Time ``open_speaker()`` when no PulseAudio server is reachable and there is no ALSA."""
    saved = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = "unix:/nonexistent/downhill/native"
    try:
        if audio_output_available():
            print("open_speaker() console fallback: skipped (this machine has an audio output)")
            return
        t0 = time.perf_counter()
        speaker = open_speaker()
        took_s = time.perf_counter() - t0
        speaker.close()
    finally:
        if saved is None:
            del os.environ["PULSE_SERVER"]
        else:
            os.environ["PULSE_SERVER"] = saved
    kind = "console" if isinstance(speaker, ConsoleSpeaker) else type(speaker).__name__
    print(
        f"open_speaker() with no audio output: {1e3 * took_s:6.1f} ms ({kind})   "
        f"goal < 3 s: {'OK' if took_s < 3.0 else 'MISSED'}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cues", type=int, default=20)
    ap.add_argument("--rate-hz", type=float, default=100.0)
    ap.add_argument("--packets", type=int, default=200, help="packets per block")
    ap.add_argument("--blocks", type=int, default=5, help="blocks per condition")
    args = ap.parse_args(argv)
    if not pulse_tools_available():
        print("needs pulseaudio and pulseaudio-utils (Debian)", file=sys.stderr)
        return 2
    bench_console_fallback()
    root = Path(tempfile.mkdtemp(prefix="dh-pulse-"))
    server = NullSinkServer(root).start()
    recorder = MonitorRecorder(server).start()
    os.environ["PULSE_SERVER"] = server.server
    try:
        speaker = open_speaker(max_age_s=10.0)
        print(speaker.description)
        if not isinstance(speaker, WorkerSpeaker):
            return 1
        try:
            bench_latency(speaker, recorder, args.cues)
            bench_jitter(speaker, args.rate_hz, args.packets, args.blocks, args.cues)
            bench_say_and_close(speaker)
        finally:
            speaker.close()
    finally:
        recorder.stop()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
