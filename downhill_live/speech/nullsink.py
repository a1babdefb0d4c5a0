"""Hear what speech plays without a sound card: a private PulseAudio null sink and its monitor.

:class:`NullSinkServer` starts a private PulseAudio server (it works as root in a container)
with one mono null sink; speech reaches it with ``PULSE_SERVER=<server>``, exactly as it reaches
a real server. :class:`MonitorRecorder` records the sink's monitor with ``parec`` and maps every
sample to ``time.monotonic()``, so what was heard can be compared with when it was asked for.

The app never imports this module; the speech tests and ``benchmarks/bench_speech.py`` do.
Needs Debian ``pulseaudio`` and ``pulseaudio-utils`` (server, ``pactl``, ``paplay``, ``parec``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

#: the programs a null sink and its recording need
PULSE_TOOLS = ("pulseaudio", "pactl", "paplay", "parec")
#: name of the null sink
SINK_NAME = "cues"
#: sample rate of the null sink (that of espeak-ng output, so nothing is resampled)
SINK_RATE_HZ = 22050


def pulse_tools_available() -> bool:
    """True if every program in :data:`PULSE_TOOLS` is on ``PATH``."""
    return all(shutil.which(b) for b in PULSE_TOOLS)


def _end(proc: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    """Terminate ``proc`` and wait for it; kill it if it has not ended within ``timeout_s``."""
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)


class NullSinkServer:
    """A private PulseAudio server with one mono null sink.

    Everything lives under ``root``; clients reach it with ``PULSE_SERVER=<server>``.

    Parameters
    ----------
    root : Path
        Folder for the server's socket, runtime files and log. Keep the path short: a unix
        socket path has at most 108 characters.
    rate_hz : int
        Sample rate of the null sink.
    """

    def __init__(self, root: Path, rate_hz: int = SINK_RATE_HZ) -> None:
        self.root = Path(root)
        self.rate_hz = rate_hz
        self.sink = SINK_NAME
        self.socket = self.root / "native"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def server(self) -> str:
        """The value for ``PULSE_SERVER``."""
        return f"unix:{self.socket}"

    def client_env(self) -> dict[str, str]:
        """This process's environment with ``PULSE_SERVER`` pointing at this server."""
        return {**os.environ, "PULSE_SERVER": self.server}

    def start(self, timeout_s: float = 10.0) -> NullSinkServer:
        """Start the server and wait until it answers ``pactl info``.

        Raises
        ------
        RuntimeError
            The server did not start within ``timeout_s`` (the message ends with its log).
        """
        run = self.root / "run"
        run.mkdir(parents=True, exist_ok=True, mode=0o700)
        env = {
            **os.environ,
            "HOME": str(self.root),
            "XDG_RUNTIME_DIR": str(run),
            "PULSE_RUNTIME_PATH": str(run / "pulse"),
            "XDG_CONFIG_HOME": str(self.root / "config"),
        }
        env.pop("PULSE_SERVER", None)
        cmd = [
            "pulseaudio",
            "-n",  # no default.pa: only the modules below
            "--daemonize=no",
            "--system=no",
            "--use-pid-file=no",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "--realtime=no",
            "--high-priority=no",
            "--log-target=stderr",
            "-L",
            f"module-null-sink sink_name={self.sink} rate={self.rate_hz} channels=1",
            "-L",
            f"module-native-protocol-unix socket={self.socket} auth-anonymous=1",
        ]
        with open(self.root / "pulseaudio.log", "wb") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            res = subprocess.run(
                ["pactl", "info"], env=self.client_env(), capture_output=True, check=False
            )
            if res.returncode == 0:
                return self
            time.sleep(0.1)
        self.stop()
        log_text = (self.root / "pulseaudio.log").read_text(errors="replace")[-500:]
        raise RuntimeError(f"pulseaudio did not start: {log_text}")

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        if self.proc is None:
            return
        _end(self.proc)
        self.proc = None


class MonitorRecorder:
    """Records the null sink's monitor with ``parec`` and maps samples to ``time.monotonic()``.

    The low ``--latency-msec`` also keeps the null sink at low latency, so ``paplay`` returns
    when the sound has been played rather than up to 2 s later.
    """

    def __init__(self, server: NullSinkServer) -> None:
        self.server = server
        self.proc: subprocess.Popen[bytes] | None = None
        self.chunks: list[bytes] = []
        self.arrivals: list[tuple[float, int]] = []  # (monotonic time, samples so far)
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def start(self) -> MonitorRecorder:
        """Start ``parec`` and wait (up to 5 s) until half a second has been recorded."""
        self.proc = subprocess.Popen(
            [
                "parec",
                "--raw",
                "--format=s16le",
                f"--rate={self.server.rate_hz}",
                "--channels=1",
                "--latency-msec=10",
                f"--device={self.server.sink}.monitor",
            ],
            env=self.server.client_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and self.n_samples() < self.server.rate_hz // 2:
            time.sleep(0.05)
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        n = 0
        fd = self.proc.stdout.fileno()
        while data := os.read(fd, 65536):
            t = time.monotonic()
            n += len(data) // 2
            with self.lock:
                self.chunks.append(data)
                self.arrivals.append((t, n))

    def n_samples(self) -> int:
        """Samples recorded so far."""
        with self.lock:
            return self.arrivals[-1][1] if self.arrivals else 0

    def snapshot(self) -> tuple[np.ndarray, float]:
        """All samples so far (float, full scale 1) and the monotonic time of sample 0.

        A sample cannot arrive before it was played, so the earliest ``arrival - n / fs``
        (skipping the first 0.3 s of start-up bursts) is the time of sample 0; about +-15 ms.
        """
        with self.lock:
            raw = b"".join(self.chunks)
            arr = np.array(self.arrivals, dtype=np.float64)
        fs = self.server.rate_hz
        x = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.float64) / 32768.0
        late = arr[arr[:, 1] > 0.3 * fs]
        t0 = float(np.min(late[:, 0] - late[:, 1] / fs))
        return x, t0

    def sample_time(self, index: int, window_s: float = 0.5) -> float:
        """``time.monotonic()`` at which sample ``index`` was played, from the arrivals just
        after it: a sample cannot arrive before it was played, so each arrival that holds it
        bounds its time; the tightest bound within ``window_s`` is taken. Local, so the sink's
        clock running a little fast or slow against the monotonic clock (seen here: about
        500 ppm, 30 ms after a minute) does not add up as :meth:`snapshot`'s single ``t0``
        does."""
        with self.lock:
            arr = np.array(self.arrivals, dtype=np.float64)
        fs = self.server.rate_hz
        k0 = int(np.searchsorted(arr[:, 1], index, side="left"))
        if k0 >= len(arr):
            raise ValueError(f"sample {index} has not been recorded yet")
        near = arr[k0:][arr[k0:, 0] <= arr[k0, 0] + window_s]
        return float(np.min(near[:, 0] - (near[:, 1] - index) / fs))

    def stop(self) -> None:
        """Stop ``parec`` and its reader thread (idempotent)."""
        if self.proc is None:
            return
        _end(self.proc)
        if self.thread is not None:
            self.thread.join(5.0)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self.proc = None
