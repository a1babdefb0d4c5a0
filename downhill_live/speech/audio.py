"""Audio output: which player reaches a sound output (PulseAudio or ALSA), and WAV helpers.

Nothing here speaks. :func:`audio_output_available` and :func:`_choose_player` probe the machine;
the WAV helpers read, write, trim and resample the mono 16-bit clips the renderer produces.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

from downhill_live.speech.base import SpeechError

_TRIM_THRESHOLD_REL = 0.02  # -34 dB re. the clip's peak
_TRIM_PAD_S = 0.005


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
    # lazy: scipy.signal takes seconds to import on a busy machine, and only a rate change needs
    # it (write_cues_wav at another rate); the app, the worker and the render child never do
    from scipy.signal import resample_poly

    g = math.gcd(fs_from_hz, fs_to_hz)
    y = resample_poly(x.astype(np.float64), fs_to_hz // g, fs_from_hz // g)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)
