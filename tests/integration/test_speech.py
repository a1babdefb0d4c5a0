"""Speech with real text-to-speech and real audio: no mocks of pyttsx3, espeak-ng or PulseAudio.

Offline tests render WAVs with pyttsx3 + espeak-ng and check they contain speech. Live tests
start a private PulseAudio server with a null sink, play through it with the real worker, and
record the sink's monitor with ``parec`` (:mod:`downhill_live.speech.nullsink`, which
``benchmarks/bench_speech.py`` uses too).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import correlate

from downhill_live import speech
from downhill_live.errors import DownhillError
from downhill_live.speech import (
    ConsoleSpeaker,
    SpeechError,
    WorkerSpeaker,
    audio,
    audio_output_available,
    format_cue_line,
    open_speaker,
    render,
    render_phrase_wav,
    write_cues_wav,
)
from downhill_live.speech.nullsink import MonitorRecorder
from downhill_live.types import Cue

FS_HZ = 22050
LONG = "keep your steps short and quick on this long descent"


def cue(t_s: float, phrase: str, *, priority: int = 0, rule: str = "test") -> Cue:
    return Cue(
        t_s=t_s, rule=rule, phrase=phrase, metric="cadence_spm", value=158.2, priority=priority
    )


# the real PulseAudio null sink + monitor recorder: the ``null_sink`` and ``pulse`` fixtures
# (tests/integration/conftest.py)


def wait_for(pred: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


def kinds(speaker: WorkerSpeaker, kind: str) -> list[str]:
    return [e.phrase for e in list(speaker.events) if e.kind == kind]


# --------------------------------------------------------------------------------------------
# signal analysis


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as f:
        assert f.getnchannels() == 1 and f.getsampwidth() == 2
        x = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.float64)
        return x / 32768.0, f.getframerate()


def frame_rms(x: np.ndarray, fs: int, frame_s: float) -> np.ndarray:
    n = round(frame_s * fs)
    m = x.size // n
    return np.sqrt(np.mean(x[: m * n].reshape(m, n) ** 2, axis=1))


def pitch_hz(frame: np.ndarray, fs: int) -> float:
    """Autocorrelation pitch in 60..400 Hz, or nan if the frame is not periodic."""
    f = frame - frame.mean()
    r = np.correlate(f, f, mode="full")[f.size - 1 :]
    if r[0] <= 0:
        return float("nan")
    lo, hi = fs // 400, fs // 60
    lag = lo + int(np.argmax(r[lo:hi]))
    return fs / lag if r[lag] / r[0] > 0.3 else float("nan")


def locate(x: np.ndarray, clip: np.ndarray, fs: int) -> tuple[float, float]:
    """Best match of ``clip`` in ``x`` by 5 ms RMS envelopes: (start time s, correlation 0..1).

    Envelopes, not samples: espeak-ng's fricative noise and voicing phase differ slightly
    from one rendering of a phrase to the next, so only the envelope is reproducible.
    """
    ex, ec = frame_rms(x, fs, 0.005), frame_rms(clip, fs, 0.005)
    c = correlate(ex, ec, mode="valid")
    energy = np.convolve(ex**2, np.ones(ec.size), mode="valid")
    score = c / np.sqrt(np.maximum(energy, 1e-12) * np.sum(ec**2))
    i = int(np.argmax(score))
    return i * 0.005, float(score[i])


def onset_s(x: np.ndarray, fs: int, after_s: float, floor: float = 0.01) -> float:
    """Time of the first 5 ms frame at or after ``after_s`` whose RMS exceeds ``floor``."""
    rms = frame_rms(x, fs, 0.005)
    i0 = max(int(after_s / 0.005), 0)
    loud = np.flatnonzero(rms[i0:] > floor)
    return (i0 + loud[0]) * 0.005 if loud.size else float("nan")


# --------------------------------------------------------------------------------------------
# offline rendering


def test_format_cue_line() -> None:
    line = format_cue_line(cue(73.42, "shorter, quicker steps", rule="cadence_low"))
    assert line == '[  73.42 s] cue cadence_low: "shorter, quicker steps" (cadence_spm=158.2)'


def test_render_phrase_wav_is_speech(tmp_path: Path) -> None:
    path = tmp_path / "phrase.wav"
    render_phrase_wav("shorter, quicker steps", path)
    x, fs = read_wav(path)
    assert fs == FS_HZ
    assert 0.5 <= x.size / fs <= 4.0
    assert np.max(np.abs(x)) > 0.1
    rms = frame_rms(x, fs, 0.03)
    loud = rms > 0.02
    assert loud.mean() > 0.3, f"only {loud.mean():.0%} of frames carry sound"
    n = round(0.03 * fs)
    f0 = np.array([pitch_hz(x[i * n : (i + 1) * n], fs) for i in np.flatnonzero(loud)])
    voiced = f0[np.isfinite(f0)]
    # "shorter, quicker steps" is half fricatives and stops: about 50 % of loud frames voiced
    assert voiced.size / f0.size > 0.35, "too few periodic (voiced) frames"
    assert voiced.size / rms.size > 0.25
    assert np.mean((voiced >= 70.0) & (voiced <= 300.0)) > 0.8, f"pitch off: {voiced}"
    assert 70.0 <= float(np.median(voiced)) <= 300.0
    # trimmed: speech starts and ends within ~50 ms of the file's edges
    assert rms[0] > 0.005 or rms[1] > 0.02
    assert rms[-2:].max() > 0.002


def test_render_phrase_wav_voice_and_rate(tmp_path: Path) -> None:
    durations_s = []
    for rate_wpm in (120, 300):
        render_phrase_wav(
            "relax your shoulders", tmp_path / "r.wav", voice="en-us", rate_wpm=rate_wpm
        )
        x, fs = read_wav(tmp_path / "r.wav")
        durations_s.append(x.size / fs)
    assert durations_s[0] > 1.6 * durations_s[1], durations_s


def test_render_phrase_wav_unknown_voice(tmp_path: Path) -> None:
    with pytest.raises(SpeechError, match="unknown voice") as info:
        render_phrase_wav("soft feet", tmp_path / "x.wav", voice="no-such-voice")
    assert "\n" not in str(info.value)
    assert isinstance(info.value, DownhillError)
    assert not (tmp_path / "x.wav").exists()


def test_render_phrase_wav_without_tts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    python = shutil.which("python3", path="/usr/bin")
    if (
        python is None
        or subprocess.run([python, "-c", "import pyttsx3"], check=False).returncode == 0
    ):
        pytest.skip("needs a Python without pyttsx3 at /usr/bin/python3")
    monkeypatch.setattr(render, "_PYTHON", python)
    with pytest.raises(SpeechError, match="pyttsx3 is not installed") as info:
        render_phrase_wav("soft feet", tmp_path / "x.wav")
    assert "\n" not in str(info.value)


def test_write_cues_wav_places_speech_at_sensor_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requested: list[str] = []
    rendered: dict[str, np.ndarray] = {}
    real_render = render._render_raw
    real_clips = render._render_clips

    def spy(items, **kw):  # type: ignore[no-untyped-def]
        requested.extend(p for p, _ in items)
        real_render(items, **kw)

    def clip_spy(phrases, **kw):  # type: ignore[no-untyped-def]
        out = real_clips(phrases, **kw)
        rendered.update(out)
        return out

    monkeypatch.setattr(render, "_render_raw", spy)
    monkeypatch.setattr(render, "_render_clips", clip_spy)
    a, b, c = "shorter, quicker steps", "soft feet", "lean forward"
    cues = [cue(2.0, b), cue(0.5, a), cue(2.2, c), cue(5.0, a), cue(-0.2, c)]
    out = tmp_path / "cues.wav"
    duration_s = write_cues_wav(cues, out)
    assert sorted(requested) == sorted({a, b, c}), "each distinct phrase is rendered once"

    # lengths of the very clips that were placed (espeak-ng renders vary a little each time)
    clip_s = {phrase: x.size / speech.TTS_SAMPLE_RATE_HZ for phrase, x in rendered.items()}
    x, fs = read_wav(out)
    assert fs == FS_HZ
    assert duration_s == pytest.approx(x.size / fs)

    expected: list[tuple[float, float, str]] = []  # (t_s, start, phrase), pushed if overlapping
    free_s = 0.0
    for q in sorted(cues, key=lambda q: q.t_s):
        start = max(q.t_s, 0.0, free_s)
        expected.append((q.t_s, start, q.phrase))
        free_s = start + clip_s[q.phrase] + speech.CUE_GAP_S
    assert expected[3][1] > 2.2 + 0.3, "the overlapping cue must have been pushed later"

    rms = frame_rms(x, fs, 0.005)
    for t_s, start, phrase in expected:
        found = onset_s(x, fs, start - 0.08)
        assert abs(found - start) <= 0.05, f"{phrase!r} (t_s={t_s}) starts at {found}, not {start}"
        if start > 0.09:  # the 80 ms before a cue are silent: nothing is mixed on top
            before = rms[int((start - 0.09) / 0.005) : int((start - 0.01) / 0.005)]
            assert before.max() < 0.01, f"{phrase!r} overlaps the cue before it"
    assert duration_s == pytest.approx(expected[-1][1] + clip_s[a] + 0.25, abs=0.01)

    # another sample rate: same placement, resampled speech
    d16 = write_cues_wav([cue(1.0, b)], tmp_path / "16k.wav", sample_rate_hz=16000)
    y, fs16 = read_wav(tmp_path / "16k.wav")
    assert fs16 == 16000 and d16 == pytest.approx(y.size / 16000)
    assert abs(onset_s(y, fs16, 0.9) - 1.0) <= 0.05


# --------------------------------------------------------------------------------------------
# console fallback


def test_console_forced_by_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(speech.SPEECH_ENV, "console")
    out = io.StringIO()
    speaker = open_speaker(console=out)
    assert isinstance(speaker, ConsoleSpeaker)
    assert "console" in speaker.description and "\n" not in speaker.description
    q = cue(73.42, "shorter, quicker steps", rule="cadence_low")
    assert speaker.say(q) is True
    assert out.getvalue() == format_cue_line(q) + "\n"
    assert speaker.healthy
    speaker.close()


def test_speech_off_is_console(monkeypatch: pytest.MonkeyPatch) -> None:
    speaker = open_speaker(speak=False)
    assert isinstance(speaker, ConsoleSpeaker) and "off" in speaker.description
    assert speaker.say(cue(1.0, "soft feet")) is True  # writes nothing: the caller prints


def test_no_audio_device_falls_back_to_console(monkeypatch: pytest.MonkeyPatch) -> None:
    if audio._alsa_playback_device():
        pytest.skip("this machine has an ALSA playback device")
    monkeypatch.delenv(speech.SPEECH_ENV, raising=False)
    monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent/downhill/native")
    assert audio_output_available() is False
    speaker = open_speaker()
    assert isinstance(speaker, ConsoleSpeaker)
    assert speaker.description == "speech: no audio device - cues go to the console"


def test_console_fallback_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real situation here: no sound card and no PulseAudio server running."""
    monkeypatch.delenv(speech.SPEECH_ENV, raising=False)
    if audio_output_available():
        pytest.skip("this machine has an audio output")
    speaker = open_speaker()  # how long the probing takes: benchmarks/bench_speech.py
    assert isinstance(speaker, ConsoleSpeaker) and "console" in speaker.description


def test_bad_options() -> None:
    with pytest.raises(SpeechError, match="rate"):
        open_speaker(rate_wpm=5)
    with pytest.raises(SpeechError, match="volume"):
        open_speaker(volume=2.0)
    with pytest.raises(SpeechError, match="max_age_s"):
        open_speaker(max_age_s=0)


# --------------------------------------------------------------------------------------------
# worker failures (a real player that fails; no audio needed)


def test_worker_failure_is_reported_not_raised() -> None:
    false = shutil.which("false")
    assert false is not None
    speaker = WorkerSpeaker(player=[false], max_age_s=30.0, max_pending=8).start()
    try:
        assert speaker.healthy, speaker.description
        for i in range(3):
            assert speaker.say(cue(float(i), f"cue number {i}"))
        assert wait_for(lambda: not speaker.healthy, 10.0), "worker never reported the failure"
        assert "failed" in speaker.description and "false exited with code 1" in speaker.description
        assert speaker.n_errors == 3
        assert speaker.say(cue(9.0, "after failure")) is False
    finally:
        speaker.close()


def test_worker_killed_before_it_started_is_reported() -> None:
    """A worker that never became ready is not restarted (a new one would not start either);
    restarts of a worker that ran: tests/integration/test_speech_supervision.py."""
    false = shutil.which("false")
    assert false is not None
    speaker = WorkerSpeaker(player=[false]).start(wait=False)
    try:
        pid = speaker.worker_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: not speaker.healthy, 5.0)
        assert "speech worker killed by SIGKILL" in speaker.description, speaker.description
        assert speaker.say(cue(1.0, "soft feet")) is False
        assert speaker.n_restarts == 0
    finally:
        speaker.close()


def test_unknown_voice_in_worker_is_reported() -> None:
    false = shutil.which("false")
    assert false is not None
    speaker = WorkerSpeaker(player=[false], voice="no-such-voice").start()
    try:
        assert not speaker.healthy
        assert speaker.failure is not None and "unknown voice" in speaker.failure
    finally:
        speaker.close()


# --------------------------------------------------------------------------------------------
# live speech through a real PulseAudio null sink


def test_open_speaker_uses_worker_with_pulse(pulse: MonitorRecorder) -> None:
    assert audio_output_available()
    with pytest.raises(SpeechError, match="unknown voice"):
        open_speaker(voice="no-such-voice")
    speaker = open_speaker()
    try:
        assert isinstance(speaker, WorkerSpeaker)
        assert speaker.description == "speech: espeak-ng via pyttsx3 (worker process, paplay)"
        assert speaker.healthy
    finally:
        speaker.close()


def test_say_never_blocks_and_drops_when_saturated(pulse: MonitorRecorder) -> None:
    speaker = open_speaker(max_pending=2)
    assert isinstance(speaker, WorkerSpeaker)
    try:
        assert speaker.say(cue(0.0, LONG))
        assert wait_for(lambda: LONG in kinds(speaker, "start"), 5.0)
        accepted = [speaker.say(cue(1.0 + i, f"cue {i}")) for i in range(20)]
        # drops instead of waiting: a blocking say() would have waited for the long utterance
        # (the worker takes cues off the queue only between utterances) and accepted all 20.
        # How long a call takes is a speed figure: benchmarks/bench_speech.py prints it.
        assert accepted == [True, True] + [False] * 18
        assert speaker.n_dropped_full == 18
        assert LONG not in kinds(speaker, "done"), "the worker was busy the whole time"
    finally:
        speaker.close(timeout_s=0.2)  # cuts the long utterance
    # cut, not waited for (how long close() takes: benchmarks/bench_speech.py)
    assert LONG not in kinds(speaker, "done"), "close() let the long utterance finish"


def test_priority_goes_first(pulse: MonitorRecorder) -> None:
    speaker = open_speaker(max_pending=8, max_age_s=20.0)
    assert isinstance(speaker, WorkerSpeaker)
    try:
        assert speaker.say(cue(0.0, "lean forward"))
        assert wait_for(lambda: "lean forward" in kinds(speaker, "start"), 5.0)
        speaker.say(cue(1.0, "low", priority=0))
        speaker.say(cue(1.1, "high", priority=5))
        speaker.say(cue(1.2, "middle", priority=2))
        speaker.say(cue(1.3, "also high", priority=5))
        assert wait_for(lambda: len(kinds(speaker, "done")) == 5, 15.0)
        assert kinds(speaker, "start") == ["lean forward", "high", "also high", "middle", "low"]
    finally:
        speaker.close()


def test_stale_cues_are_dropped(pulse: MonitorRecorder) -> None:
    # "too late" waits for the whole LONG utterance (about 2.5 s), "fresh" for an idle worker:
    # max_age_s sits between the two with room either side for a loaded machine
    speaker = open_speaker(max_age_s=1.2)
    assert isinstance(speaker, WorkerSpeaker)
    try:
        assert speaker.say(cue(0.0, LONG))
        assert wait_for(lambda: LONG in kinds(speaker, "start"), 5.0)
        assert speaker.say(cue(0.1, "too late"))
        assert wait_for(lambda: "too late" in kinds(speaker, "stale"), 10.0)
        assert speaker.say(cue(5.0, "fresh"))
        assert wait_for(lambda: "fresh" in kinds(speaker, "done"), 5.0)
        assert "too late" not in kinds(speaker, "start")
        assert speaker.n_stale == 1
    finally:
        speaker.close()


def test_cues_are_heard_at_the_sink_in_order(pulse: MonitorRecorder, tmp_path: Path) -> None:
    phrases = ["shorter, quicker steps", "soft feet", "lean forward"]
    speaker = open_speaker(max_pending=4, max_age_s=10.0)
    assert isinstance(speaker, WorkerSpeaker)
    try:
        t_say = time.monotonic()
        for i, phrase in enumerate(phrases):
            assert speaker.say(cue(float(i), phrase))
        assert wait_for(lambda: len(kinds(speaker, "done")) == 3, 15.0)
        time.sleep(0.1)
        starts = {e.phrase: e.t_mono_s for e in list(speaker.events) if e.kind == "start"}
        dones = {e.phrase: e.t_mono_s for e in list(speaker.events) if e.kind == "done"}
        # the exact audio the worker played: its phrase cache, rendered in speaking order.
        # (espeak-ng renders differ slightly each time, so a fresh render is a weaker reference)
        clips = [read_wav(Path(speaker.clips[phrase]))[0] for phrase in phrases]
    finally:
        speaker.close()
    x, t0 = pulse.snapshot()
    i0 = max(int((t_say - 0.5 - t0) * FS_HZ), 0)
    x = x[i0:]
    t0 += i0 / FS_HZ
    found = [locate(x, clip, FS_HZ) for clip in clips]
    onsets = [t0 + t for t, _ in found]
    for phrase, (_, score), t_on in zip(phrases, found, onsets, strict=True):
        assert score > 0.8, f"{phrase!r} not found intact at the sink (score {score:.2f})"
        # heard while the worker played it: after its start, before its end (+-15 ms mapping)
        assert starts[phrase] - 0.03 <= t_on <= dones[phrase], (
            f"{phrase!r} heard {t_on - starts[phrase]:+.3f} s after its start, "
            f"{t_on - dones[phrase]:+.3f} s after its end"
        )
    assert onsets == sorted(onsets), "cues arrived out of order"
    # not before it was asked for; how soon after is the latency figure of
    # benchmarks/bench_speech.py (no wall-clock bound here: the machine may be loaded)
    assert onsets[0] - t_say >= -0.03, f"first cue heard {t_say - onsets[0]:.3f} s before say()"
    for k in (1, 2):
        assert onsets[k] >= onsets[k - 1] + clips[k - 1].size / FS_HZ - 0.03, "speech overlapped"


def test_repeated_renders_are_complete(tmp_path: Path) -> None:
    """pyttsx3 2.99's espeak driver loses the audio of the last callback of a phrase, so renders
    came out truncated or empty at random (see speech.engine._patch_espeak_tail). Many renders
    in one engine must all be whole: same length as each other, and voiced."""
    items = [("shorter, quicker steps", tmp_path / f"{i}.wav") for i in range(8)]
    render._render_raw(items, voice=None, rate_wpm=None)
    lengths = []
    for _, path in items:
        x, fs = read_wav(path)
        assert frame_rms(x, fs, 0.005).max() > 0.05, f"{path.name} is silent"
        lengths.append(x.size / fs)
    assert max(lengths) - min(lengths) < 0.05, lengths
    assert min(lengths) > 0.8
