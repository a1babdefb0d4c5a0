"""The speech worker is supervised: killed (SIGKILL) or frozen (SIGSTOP), it is replaced, said
once, and the cues said meanwhile are spoken by the new worker - heard at a real PulseAudio null
sink, rendered by real espeak-ng. Also the on-disk clip cache the profile's phrases go to.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from downhill_live.config.cue_profile import load_cue_profile
from downhill_live.sinks import LINK_PHRASES, SpeakerSink
from downhill_live.speech import (
    WorkerSpeaker,
    link_phrases,
    open_speaker,
    profile_phrases,
    worker,
)
from downhill_live.speech.nullsink import MonitorRecorder
from downhill_live.types import Cue
from tests.integration.test_speech import FS_HZ, locate, read_wav, wait_for

PHRASES = ("soft feet", "lean forward", "quick feet")


def cue(phrase: str, t_s: float = 0.0) -> Cue:
    return Cue(t_s, "test", phrase, "cadence_spm", 158.2)


def kinds(speaker: WorkerSpeaker, kind: str) -> list[str]:
    return [e.phrase for e in list(speaker.events) if e.kind == kind]


def open_worker(tmp_path: Path, **kw: object) -> tuple[WorkerSpeaker, list[str]]:
    speaker = open_speaker(cache_dir=tmp_path / "clips", max_age_s=20.0, **kw)  # type: ignore[arg-type]
    assert isinstance(speaker, WorkerSpeaker), speaker.description
    notes: list[str] = []
    SpeakerSink(speaker, notify=notes.append)  # as live mode wires it to the console
    return speaker, notes


def heard(recorder: MonitorRecorder, speaker: WorkerSpeaker, phrase: str, after_s: float) -> float:
    """Correlation of ``phrase``'s cached clip with what the sink played after ``after_s``."""
    clip = read_wav(Path(speaker.clips[phrase]))[0]
    x, t0 = recorder.snapshot()
    i0 = max(int((after_s - t0) * FS_HZ), 0)
    return locate(x[i0:], clip, FS_HZ)[1]


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSTOP"])
def test_dead_or_frozen_worker_is_replaced_and_cues_are_spoken(
    pulse: MonitorRecorder,
    tmp_path: Path,
    how: str,
) -> None:
    speaker, notes = open_worker(tmp_path, phrases=PHRASES)
    try:
        assert speaker.wait_prepared(30.0), speaker.description
        assert speaker.say(cue("soft feet"))
        assert wait_for(lambda: "soft feet" in kinds(speaker, "done"), 10.0)
        old = speaker.worker_pid
        assert old is not None
        os.kill(old, getattr(signal, how))
        t_fault = time.monotonic()
        # said while the worker is dead or frozen: accepted at once, spoken by the next worker
        assert speaker.say(cue("lean forward", 1.0))
        assert speaker.healthy
        assert wait_for(lambda: "lean forward" in kinds(speaker, "done"), 20.0), (
            speaker.description,
            list(speaker.events),
        )
        assert speaker.worker_pid != old
        assert speaker.n_restarts == 1 and speaker.n_resent == 1
        # the frozen worker is detected by its missing heartbeat, and killed
        with pytest.raises(ProcessLookupError):
            for _ in range(100):
                os.kill(old, 0)
                time.sleep(0.05)
        want = "killed by SIGKILL" if how == "SIGKILL" else "did not answer"
        assert len(notes) == 1 and want in notes[0] and "restarting" in notes[0], notes
        assert "\n" not in notes[0]
        # and the new worker really plays it: found intact at the sink after the fault
        time.sleep(0.2)
        assert heard(pulse, speaker, "lean forward", t_fault) > 0.8
        # a second fault of the same kind is handled again but not said again
        os.kill(speaker.worker_pid or 0, getattr(signal, how))
        assert speaker.say(cue("quick feet", 2.0))
        assert wait_for(lambda: "quick feet" in kinds(speaker, "done"), 20.0)
        assert speaker.n_restarts == 2 and len(notes) == 1
    finally:
        speaker.close()


def test_no_cue_is_lost_silently_across_a_kill(
    pulse: MonitorRecorder,
    tmp_path: Path,
) -> None:
    """Kill the worker while it speaks, with cues waiting: each accepted cue ends as spoken,
    interrupted (it was playing) or stale - each counted, none just gone."""
    speaker, _ = open_worker(tmp_path, phrases=PHRASES, max_pending=8)
    try:
        assert speaker.wait_prepared(30.0)
        accepted = [speaker.say(cue(p, float(i))) for i, p in enumerate(PHRASES * 2)]
        assert all(accepted)
        assert wait_for(lambda: len(kinds(speaker, "start")) >= 1, 10.0)
        os.kill(speaker.worker_pid or 0, signal.SIGKILL)

        def settled() -> bool:
            ends = {
                e.seq for e in list(speaker.events) if e.kind in ("done", "stale", "interrupted")
            }
            return len(ends) == len(accepted)

        assert wait_for(settled, 40.0), list(speaker.events)
        assert speaker.n_interrupted == 1
        assert len(kinds(speaker, "done")) + speaker.n_stale + speaker.n_interrupted == 6
    finally:
        speaker.close()


def test_gives_up_after_repeated_deaths_and_says_so_once(
    pulse: MonitorRecorder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker, "RESTART_DELAYS_S", (0.0, 0.0))
    monkeypatch.setattr(worker, "MAX_RESTARTS", 2)
    speaker, notes = open_worker(tmp_path)
    try:
        pids: list[int] = []
        for _ in range(3):  # the first worker and two restarts
            assert wait_for(lambda: speaker.worker_ready and speaker.worker_pid not in pids, 20.0)
            pids.append(speaker.worker_pid or 0)
            os.kill(pids[-1], signal.SIGKILL)
        assert wait_for(lambda: not speaker.healthy, 10.0)
        assert speaker.n_restarts == 2
        assert "gave up after 2 restarts" in speaker.description
        assert "console" in speaker.description
        assert speaker.say(cue("soft feet")) is False
        assert sum("gave up" in n for n in notes) == 1
        assert sum("restarting" in n for n in notes) == 1
    finally:
        speaker.close()


def test_profile_phrases_are_rendered_at_start_and_cached_on_disk(
    pulse: MonitorRecorder,
    tmp_path: Path,
) -> None:
    profile = load_cue_profile()
    phrases = profile_phrases(profile)
    assert set(LINK_PHRASES.values()) <= set(phrases)
    for rule in profile.rules:
        assert set(rule.phrases) <= set(phrases)
    first, _ = open_worker(tmp_path, phrases=phrases, rate_wpm=175)
    try:
        assert first.wait_prepared(120.0), first.description
        assert first.prepared == (len(phrases), len(phrases), pytest.approx(first.prepared[2]))
        assert set(first.clips) == set(phrases)
        # every clip is speech (not silence), one file per phrase
        for phrase in phrases:
            x, fs = read_wav(Path(first.clips[phrase]))
            assert fs == FS_HZ and x.size / fs > 0.2 and np.max(np.abs(x)) > 0.1, phrase
        assert len(set(first.clips.values())) == len(phrases)
        # a cue of the profile starts from the ready clip: nothing is rendered on first use
        files = sorted(p.name for p in (tmp_path / "clips").iterdir())
        assert first.say(cue(phrases[0]))
        assert wait_for(lambda: phrases[0] in kinds(first, "done"), 10.0)
        assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == files
    finally:
        first.close()
    # the next speaker with the same voice, rate and volume renders nothing
    again, _ = open_worker(tmp_path, phrases=phrases, rate_wpm=175)
    try:
        assert again.wait_prepared(30.0)
        assert again.prepared is not None and again.prepared[:2] == (len(phrases), 0)
        assert again.clips == first.clips
    finally:
        again.close()
    # another rate is another clip (the cache is keyed by rate, volume, voice and text)
    other, _ = open_worker(tmp_path, phrases=phrases[:1], rate_wpm=120)
    try:
        assert other.wait_prepared(30.0)
        assert other.prepared is not None and other.prepared[:2] == (1, 1)
        assert other.clips[phrases[0]] != first.clips[phrases[0]]
        slow = read_wav(Path(other.clips[phrases[0]]))[0].size
        assert slow > 1.2 * read_wav(Path(first.clips[phrases[0]]))[0].size
    finally:
        other.close()


def test_link_phrases_of_the_session_devices_are_rendered_ahead(
    pulse: MonitorRecorder,
    tmp_path: Path,
) -> None:
    """Live mode with several devices says "Treadmill lost": the names known before the scan
    (``--with``) are rendered with the profile's phrases at start, those the scan finds once
    known (the sink's ``devices``); either plays from a ready clip when said."""
    phrases = profile_phrases(load_cue_profile(), ["sig-ftms-treadmill"])
    assert set(link_phrases(["sig-ftms-treadmill"])) <= set(phrases)
    speaker, _ = open_worker(tmp_path, phrases=phrases)
    try:
        assert speaker.wait_prepared(120.0), speaker.description
        assert set(phrases) <= set(speaker.clips)
        sink = SpeakerSink(speaker)
        sink.devices(["DHL-IMU sim", "Treadmill"])  # as the live runner does after the scan
        want = link_phrases(["DHL-IMU sim", "Treadmill"])
        assert "Treadmill lost" in want and "DHL-IMU sim back" in want
        assert speaker.wait_prepared(60.0), speaker.description
        assert speaker.prepared is not None
        assert speaker.prepared[0] == len(phrases) + len(want)
        assert set(want) <= set(speaker.clips)
        for phrase in want:
            x, fs = read_wav(Path(speaker.clips[phrase]))
            assert fs == FS_HZ and x.size / fs > 0.2 and np.max(np.abs(x)) > 0.1, phrase
        sink.devices(["Treadmill"])  # nothing new: nothing to wait for
        assert speaker.wait_prepared(0.0)
        # said: played from the ready clip, nothing rendered on first use
        files = sorted(p.name for p in (tmp_path / "clips").iterdir())
        sink.event(1.0, {"event": "link_lost", "device": "Treadmill"})
        assert wait_for(lambda: "Treadmill lost" in kinds(speaker, "done"), 10.0)
        assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == files
    finally:
        speaker.close()


def test_background_start_returns_before_the_worker_is_ready(
    pulse: MonitorRecorder,
    tmp_path: Path,
) -> None:
    """``wait=False`` (live mode's start_profile_speaker): cues said before the worker is ready
    wait for it and are spoken."""
    speaker = open_speaker(cache_dir=tmp_path / "clips", wait=False, max_age_s=20.0)
    assert isinstance(speaker, WorkerSpeaker)
    try:
        ready_at_return = speaker.wait_ready(0.0)
        assert speaker.say(cue("soft feet"))
        assert wait_for(lambda: "soft feet" in kinds(speaker, "done"), 20.0)
        assert not ready_at_return, "open_speaker(wait=False) waited for the worker"
    finally:
        speaker.close()
