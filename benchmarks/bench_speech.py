"""Benchmark live speech against a real PulseAudio null sink (no sound card needed).

Everything is real: espeak-ng renders (through pyttsx3, in the speech worker), ``paplay`` plays
into a private PulseAudio server's null sink, ``parec`` records its monitor.

1. Start-up: the speaker for the bundled cue profile is started in the background
   (:func:`~downhill_live.speech.start_profile_speaker`, as live mode does before the scan); the
   time until its worker is ready and until the profile's phrases are rendered, with an empty
   clip cache (first session) and again with the cache filled (every later session).
2. Latency from ``Speaker.say()`` to the audio onset seen at the null sink's monitor, p50/p95
   over ``--cues`` cues of the profile's phrases (each first use and the repeats reported
   apart), and for comparison the first use of phrases *not* in the profile (rendered on
   demand), and for the link phrases of a two-device session ("Treadmill lost"): those of the
   ``--with`` profile's name are rendered with the profile's at start, those of the names the
   scan finds are handed over later (:meth:`~downhill_live.speech.WorkerSpeaker.prepare`, as
   live mode does after the scan). Goal: p95 <= 150 ms for the profile's cues and for the
   link phrases.
3. Jitter that speech adds to the real data path: a bundled recording's packets go one by one
   through :meth:`Session.process` (decode -> gait core -> cue rules, with the speaker attached)
   at the recorded pace, with and without concurrent speech (alternating blocks, so drift and
   other load on the machine hit both). Goal: p99 at most 10 % higher with speech.
4. Time of one ``say()`` call while the worker is busy and the queue fills (most calls drop),
   and of ``close(timeout_s=0.2)`` cutting a long utterance. Goals: ``say()`` max < 5 ms,
   median < 1 ms; ``close()`` well under the utterance's length.
5. Time ``open_speaker()`` takes to fall back to the console when no audio output is reachable
   (skipped on a machine with an ALSA playback device). Goal: < 3 s.

Run from the repository root: ``.venv/bin/python benchmarks/bench_speech.py``.
Needs Debian ``pulseaudio`` and ``pulseaudio-utils`` (server, ``paplay``, ``parec``) and
``libespeak-ng1``. The null sink and its recorder come from :mod:`downhill_live.speech.nullsink`,
as in ``tests/integration/test_speech.py``; the benchmark imports nothing from ``tests/``. The
clip cache is a temporary folder (``XDG_CACHE_HOME`` is pointed there), never the user's.
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

from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.record import read_recording
from downhill_live.session import session_from_recording
from downhill_live.sinks import SpeakerSink
from downhill_live.speech import (
    ConsoleSpeaker,
    WorkerSpeaker,
    audio_output_available,
    link_phrases,
    open_speaker,
    profile_phrases,
    start_profile_speaker,
)
from downhill_live.speech.nullsink import MonitorRecorder, NullSinkServer, pulse_tools_available
from downhill_live.types import Cue

ROOT = Path(__file__).resolve().parents[1]
RECORDING = ROOT / "recordings" / "descent_foot_200hz.dlr"
LONG = "keep your steps short and quick on this long descent"
#: phrases no profile has: rendered on demand, for comparison
UNPREPARED = ("relax your shoulders", "quiet landing", "eyes up the trail")
#: a two-device session: the ``--with`` profile (known at start), the names the scan finds
BESIDE = ("sig-ftms-treadmill",)
FOUND = ("DHL-IMU sim", "Treadmill")


def frame_rms(x: np.ndarray, fs_hz: int, frame_s: float) -> np.ndarray:
    """RMS of consecutive frames of ``frame_s`` seconds (a partial last frame is dropped)."""
    n = round(frame_s * fs_hz)
    m = x.size // n
    return np.sqrt(np.mean(x[: m * n].reshape(m, n) ** 2, axis=1))


def pct(x: list[float] | np.ndarray, q: float) -> float:
    return float(np.percentile(np.asarray(x, dtype=np.float64), q))


def n_finished(speaker: WorkerSpeaker) -> int:
    return sum(e.kind in ("done", "stale", "error") for e in list(speaker.events))


def wait_done(speaker: WorkerSpeaker, n_done: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if n_finished(speaker) >= n_done:
            return
        time.sleep(0.005)
    raise RuntimeError("speech worker did not finish a cue in time")


def start_speaker(label: str) -> WorkerSpeaker:
    """Start the bundled profile's speaker as live mode does; print how long it takes."""
    profile = load_cue_profile()
    t0 = time.monotonic()
    speaker = start_profile_speaker(profile, devices=BESIDE)
    t_return = time.monotonic() - t0
    if not isinstance(speaker, WorkerSpeaker):
        raise RuntimeError(speaker.description)
    if not speaker.wait_ready(30.0):
        raise RuntimeError(speaker.description)
    t_ready = time.monotonic() - t0
    if not speaker.wait_prepared(120.0) or speaker.prepared is None:
        raise RuntimeError(speaker.description)
    t_prepared = time.monotonic() - t0
    n, n_rendered, _ = speaker.prepared
    print(
        f"start ({label}): returns in {1e3 * t_return:6.1f} ms, worker ready after "
        f"{1e3 * t_ready:6.0f} ms, {n} profile phrases ready after {1e3 * t_prepared:6.0f} ms "
        f"({n_rendered} rendered)"
    )
    return speaker


def bench_latency(
    speaker: WorkerSpeaker, recorder: MonitorRecorder, phrases: tuple[str, ...], n_cues: int
) -> None:
    # (monotonic time of say(), group): "first" / "repeat" of a profile phrase, "link" (first
    # use of a link phrase of the devices the scan found, prepared after the start),
    # "unprepared"
    t0 = time.monotonic()
    speaker.prepare(link_phrases(FOUND))  # what live mode does once the scan has named them
    if not speaker.wait_prepared(60.0):
        raise RuntimeError(speaker.description)
    print(
        f"link phrases of {', '.join(FOUND)} ready {1e3 * (time.monotonic() - t0):6.0f} ms "
        "after they were handed over"
    )
    said: list[tuple[float, str]] = []
    plan = [(p, "first") for p in phrases]
    plan += [(phrases[i % len(phrases)], "repeat") for i in range(max(n_cues - len(plan), 0))]
    plan += [(p, "link") for p in link_phrases(FOUND)]
    plan += [(p, "unprepared") for p in UNPREPARED]
    base = n_finished(speaker)
    for i, (phrase, group) in enumerate(plan):
        t = time.monotonic()
        speaker.say(Cue(float(i), "bench", phrase, "cadence_spm", 160.0))
        said.append((t, group))
        wait_done(speaker, base + i + 1)
        time.sleep(0.15)  # silence between cues, so each onset is unambiguous
    time.sleep(0.2)
    x, t0 = recorder.snapshot()
    rms = frame_rms(x, recorder.server.rate_hz, 0.005)
    lat: dict[str, list[float]] = {"first": [], "repeat": [], "link": [], "unprepared": []}
    for t_say, group in said:
        i0 = max(int((t_say - 0.02 - t0) / 0.005), 0)
        loud = np.flatnonzero(rms[i0:] > 0.01)
        if loud.size == 0:
            raise RuntimeError("no audio found at the sink after a cue")
        # the onset frame's first sample, timed by the arrivals just after it
        onset = recorder.sample_time(round((i0 + int(loud[0])) * 0.005 * recorder.server.rate_hz))
        lat[group].append(onset - t_say)
    prof = lat["first"] + lat["repeat"]
    print(
        f"latency say() -> onset at the null sink (5 ms frames, timed by the parec arrivals "
        f"right after the onset, within +10 ms), "
        f"{len(prof)} cues of the profile's phrases:"
    )
    print(
        f"  profile cues  p50 {1e3 * pct(prof, 50):6.1f} ms   p95 {1e3 * pct(prof, 95):6.1f} ms   "
        f"max {1e3 * max(prof):6.1f} ms   goal p95 <= 150 ms: "
        f"{'OK' if pct(prof, 95) <= 0.15 else 'MISSED'}"
    )
    for group, what in (
        ("first", "first use of each (pre-rendered)"),
        ("repeat", "repeats"),
        ("link", "link phrases of the devices found, first use (prepared after the scan)"),
        ("unprepared", "phrases not in the profile, first use (rendered on demand)"),
    ):
        if lat[group]:
            print(
                f"  {what}: n={len(lat[group])}  p50 {1e3 * pct(lat[group], 50):6.1f} ms   "
                f"max {1e3 * max(lat[group]):6.1f} ms"
            )


def bench_jitter(
    speaker: WorkerSpeaker, phrases: tuple[str, ...], blocks: int, n_packets: int
) -> None:
    """The real data path: the recording's packets through ``Session.process`` at their pace."""
    packets = read_recording(RECORDING).packets
    session, _ = session_from_recording(str(RECORDING), None)
    session.attach(SpeakerSink(speaker))
    times: dict[bool, list[float]] = {False: [], True: []}
    late: dict[bool, list[float]] = {False: [], True: []}
    said = accepted = 0
    k = 0
    base = n_finished(speaker)
    prev_t_s = packets[0].t_rx_s
    for block in range(2 * blocks):
        speaking = block % 2 == 1
        tick = last_say = time.perf_counter()
        for _ in range(n_packets):
            i = k % len(packets)
            k += 1
            pkt = packets[i]
            if i == 0 and k > 1:  # the recording ended: a new session, same pipeline
                session, _ = session_from_recording(str(RECORDING), None)
                session.attach(SpeakerSink(speaker))
            tick += max(pkt.t_rx_s - prev_t_s, 0.0) if i > 0 else 0.01
            prev_t_s = pkt.t_rx_s
            while (now := time.perf_counter()) < tick:
                time.sleep(min(tick - now, 0.002))
            t0 = time.perf_counter()
            session.process(pkt)
            if speaking and t0 - last_say >= 0.4:  # a cue every 0.4 s: speech runs all the time
                last_say = t0
                said += 1
                cue = Cue(pkt.t_rx_s, "bench", phrases[said % len(phrases)], "cadence_spm", 160.0)
                accepted += speaker.say(cue)
            t1 = time.perf_counter()
            times[speaking].append(t1 - t0)
            late[speaking].append(t0 - tick)
        if speaking:  # let speech finish, so the next quiet block is really quiet
            deadline = time.monotonic() + 30.0
            while speaker.events and time.monotonic() < deadline:
                if n_finished(speaker) - base >= accepted + len(session.cues):
                    break
                time.sleep(0.01)
    quiet, spk = np.asarray(times[False]), np.asarray(times[True])
    change = pct(spk, 99) / pct(quiet, 99) - 1.0
    print(
        f"data path: {n_packets * blocks} packets per condition of {RECORDING.name} through "
        f"Session.process (decode, core, cue rules, speaker sink) at the recorded pace; "
        f"{accepted}/{said} extra cues accepted while speaking"
    )
    for name, x, lt in (("quiet   ", quiet, late[False]), ("speaking", spk, late[True])):
        print(
            f"  {name} p50 {1e6 * pct(x, 50):7.1f} us   p99 {1e6 * pct(x, 99):7.1f} us   "
            f"max {1e6 * x.max():7.1f} us   wake-up lateness p99 {1e3 * pct(lt, 99):6.3f} ms"
        )
    print(
        f"  p99 change with speech: {100 * change:+.1f} %   goal at most +10 %: "
        f"{'OK' if change <= 0.10 else 'MISSED'}   (load average {os.getloadavg()[0]:.2f}; "
        "other processes on the cores add noise of their own to both conditions)"
    )


def bench_say_and_close(n_calls: int = 200) -> None:
    """Time ``say()`` while the worker speaks a long phrase, then ``close()`` cutting it."""
    speaker = open_speaker(max_age_s=10.0, phrases=[LONG])
    if not isinstance(speaker, WorkerSpeaker) or not speaker.wait_prepared(60.0):
        raise RuntimeError(speaker.description)
    speaker.say(Cue(0.0, "bench", LONG, "cadence_spm", 160.0))
    deadline = time.monotonic() + 30.0
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
    ap.add_argument("--cues", type=int, default=24, help="cues of the profile's phrases")
    ap.add_argument("--packets", type=int, default=600, help="packets per block")
    ap.add_argument("--blocks", type=int, default=4, help="blocks per condition")
    args = ap.parse_args(argv)
    if not pulse_tools_available():
        print("needs pulseaudio and pulseaudio-utils (Debian)", file=sys.stderr)
        return 2
    bench_console_fallback()
    root = Path(tempfile.mkdtemp(prefix="dh-pulse-"))
    os.environ["XDG_CACHE_HOME"] = str(root / "cache")  # an empty clip cache, not the user's
    server = NullSinkServer(root).start()
    recorder = MonitorRecorder(server).start()
    os.environ["PULSE_SERVER"] = server.server
    phrases = profile_phrases(load_cue_profile(), BESIDE)
    try:
        start_speaker("empty clip cache: the first session").close()
        speaker = start_speaker("clip cache filled: every later session")
        print(speaker.description)
        try:
            bench_latency(speaker, recorder, phrases, args.cues)
            bench_jitter(speaker, phrases, args.blocks, args.packets)
        finally:
            speaker.close()
        bench_say_and_close()
    finally:
        recorder.stop()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
