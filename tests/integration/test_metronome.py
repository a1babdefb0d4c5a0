"""The cadence metronome on real audio: ticks from the speech worker, recorded at a real
PulseAudio null sink, at the target rate (within 0.5 spm, measured from the audio), silence
once switched off, a spoken cue heard while it runs (mixed into the tick stream), and the engine
switching it per descent."""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from downhill_live import speech
from downhill_live.config.cue_profile import parse_cue_profile
from downhill_live.cues import CueEngine
from downhill_live.speech import WorkerSpeaker, open_speaker
from downhill_live.speech.metronome import METRONOME_RULE
from downhill_live.speech.nullsink import MonitorRecorder, NullSinkServer, pulse_tools_available
from downhill_live.types import Cue, Step

TARGET_SPM = 178.5


@pytest.fixture
def pulse(monkeypatch: pytest.MonkeyPatch) -> Iterator[MonitorRecorder]:
    if not pulse_tools_available() or shutil.which("espeak-ng") is None:
        pytest.skip("pulseaudio/pulseaudio-utils or espeak-ng not installed")
    root = Path(tempfile.mkdtemp(prefix="dh-metro-"))  # short path: unix sockets max 108 chars
    server = NullSinkServer(root).start()
    recorder = MonitorRecorder(server).start()
    monkeypatch.setenv("PULSE_SERVER", server.server)
    monkeypatch.delenv(speech.SPEECH_ENV, raising=False)
    try:
        yield recorder
    finally:
        recorder.stop()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def tick_onsets(x: np.ndarray, fs: int) -> np.ndarray:
    """Onset times (s) of the ticks: the 1.8 kHz bursts stand out of silence."""
    env = np.abs(x)
    thr = 0.5 * np.percentile(env[env > 0], 99.9) if np.any(env > 0) else 1.0
    above = np.flatnonzero(env > thr)
    if not len(above):
        return np.zeros(0)
    starts = [above[0]]
    for i in above[1:]:
        if i - starts[-1] > 0.1 * fs:  # ticks are >= 0.2 s apart
            starts.append(i)
    return np.array(starts) / fs


def metronome_cue(t_s: float, spm: float) -> Cue:
    return Cue(t_s, METRONOME_RULE, "", "cadence_spm", spm, 0, {"volume": 0.3})


def test_ticks_at_the_target_cadence_measured_from_the_audio(pulse: MonitorRecorder) -> None:
    speaker = open_speaker(max_age_s=10.0)
    assert isinstance(speaker, WorkerSpeaker), speaker.description
    fs = pulse.server.rate_hz
    try:
        t_on = time.monotonic()
        t0 = time.perf_counter()
        assert speaker.say(metronome_cue(0.0, TARGET_SPM))
        enqueue_s = time.perf_counter() - t0
        time.sleep(8.0)
        t_off = time.monotonic()
        assert speaker.say(metronome_cue(8.0, math.nan))
        time.sleep(1.0)
    finally:
        speaker.close()
    assert any(e.kind == "tempo" for e in speaker.events)
    x, t0_mono = pulse.snapshot()
    i0 = max(int((t_on - t0_mono) * fs), 0)
    i1 = int((t_off - t0_mono) * fs)
    onsets = tick_onsets(x[i0:i1], fs)
    assert len(onsets) >= 15, f"only {len(onsets)} ticks heard"
    # the rate from the audio: slope of onset time against tick number (least squares)
    k = np.arange(len(onsets))
    period_s = np.polyfit(k, onsets, 1)[0]
    measured_spm = 60.0 / period_s
    print(f"metronome: target {TARGET_SPM} spm, {measured_spm:.3f} spm from {len(onsets)} ticks")
    assert abs(measured_spm - TARGET_SPM) <= 0.5, f"ticks at {measured_spm:.2f} spm"
    # and nothing after it was switched off (allow the stream's lead and the sink's latency)
    after = tick_onsets(x[int((t_off + 1.0 - t0_mono) * fs) :], fs)
    assert len(after) == 0
    assert enqueue_s < 1.0  # say() only enqueued (no timing goal here: see bench_speech)


def test_a_cue_is_heard_while_the_metronome_runs(pulse: MonitorRecorder) -> None:
    speaker = open_speaker(max_age_s=10.0)
    assert isinstance(speaker, WorkerSpeaker), speaker.description
    fs = pulse.server.rate_hz
    try:
        speaker.say(metronome_cue(0.0, 150.0))
        time.sleep(2.0)
        speaker.say(Cue(2.0, "cadence_low", "shorter, quicker steps", "cadence_spm", 150.0, 2))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(e.kind == "done" for e in speaker.events):
            time.sleep(0.05)
        start = next(e.t_mono_s for e in speaker.events if e.kind == "start")
        done = next(e.t_mono_s for e in speaker.events if e.kind == "done")
        time.sleep(1.5)
        speaker.say(metronome_cue(5.0, math.nan))
        time.sleep(0.5)
    finally:
        speaker.close()
    x, t0_mono = pulse.snapshot()
    before = x[int((start - 1.6 - t0_mono) * fs) : int((start - 0.1 - t0_mono) * fs)]
    during = x[int((start + 0.2 - t0_mono) * fs) : int((done - 0.2 - t0_mono) * fs)]
    assert np.abs(before).max() > 0.1  # ticks alone
    assert np.sqrt(np.mean(during**2)) > 0.01  # speech heard while the metronome runs


def test_the_engine_switches_the_metronome_per_descent_at_baseline_plus_5_percent() -> None:
    prof = parse_cue_profile(
        """
settings: {quiet_start_s: 0, baseline_s: 20}
metronome: {enabled: true, target: baseline+5%, volume: 0.2}
rules:
  slow: {metric: cadence_spm, below: 100, when: descent, phrases: [x]}
""",
        "p.yaml",
    )
    eng = CueEngine(prof)
    steps = [Step(i * 0.5, 170.0, 5.0, 0.0, False) for i in range(60)]
    steps += [Step(30 + i * 0.5, 172.0, 5.0, -8.0, True) for i in range(40)]
    steps += [Step(50 + i * 0.5, 170.0, 5.0, 0.0, False) for i in range(4)]
    cues = [c for s in steps for c in eng.update(s)]
    assert (cues[0].t_s, cues[0].rule, cues[0].value) == (30.0, METRONOME_RULE, 178.5)
    assert cues[1].rule == METRONOME_RULE and cues[1].t_s == 50.0 and math.isnan(cues[1].value)
    assert cues[0].extra == {"volume": 0.2}
