"""Fixtures the integration tests share: bumble's in-process virtual radio (real BLE host
stacks, no kernel Bluetooth) and a private PulseAudio null sink whose monitor is recorded
(:mod:`downhill_live.speech.nullsink`), so that speech is heard for real."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from downhill_live import speech
from downhill_live.sim.bumble_backend import VirtualRadio
from downhill_live.speech.nullsink import MonitorRecorder, NullSinkServer, pulse_tools_available


@pytest.fixture
async def radio() -> AsyncIterator[VirtualRadio]:
    """A fresh virtual radio per test (its devices and links end with it)."""
    async with VirtualRadio() as r:
        yield r


@pytest.fixture(scope="session")
def null_sink() -> Iterator[tuple[NullSinkServer, MonitorRecorder]]:
    """One PulseAudio server with a null sink for the test run, and its monitor's recorder."""
    if not pulse_tools_available():
        pytest.skip(
            "pulseaudio/pulseaudio-utils not installed (Debian: pulseaudio pulseaudio-utils)"
        )
    root = Path(tempfile.mkdtemp(prefix="dh-pulse-"))  # short path: unix sockets max 108 chars
    server = NullSinkServer(root).start()
    recorder = MonitorRecorder(server).start()
    try:
        yield server, recorder
    finally:
        recorder.stop()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pulse(
    null_sink: tuple[NullSinkServer, MonitorRecorder], monkeypatch: pytest.MonkeyPatch
) -> MonitorRecorder:
    """Route speech to the test run's null sink; returns the monitor recorder."""
    server, recorder = null_sink
    monkeypatch.setenv("PULSE_SERVER", server.server)
    monkeypatch.delenv(speech.SPEECH_ENV, raising=False)
    return recorder
