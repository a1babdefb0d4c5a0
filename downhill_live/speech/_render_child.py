"""Child process that renders one phrase to a WAV with pyttsx3 (espeak-ng on Linux).

pyttsx3 and espeak never run in the app process: the renderer starts this file as a script,
``python .../_render_child.py``, with one JSON request on stdin::

    {"voice": str | null, "rate_wpm": int | null, "volume": float | null, "item": [phrase, path]}

It writes the untrimmed WAV to ``path`` and exits 0. On failure it writes one line
``downhill-speech-error: <message>`` to stderr and exits with :data:`EXIT_FAILED`.

It runs as a file, not with ``python -m downhill_live.speech._render_child``: ``-m`` imports the
``downhill_live`` package (numpy and the rest) first, so a Python without pyttsx3 would fail with
an unrelated import error instead of saying that pyttsx3 is missing. This module therefore
imports only the standard library at the top; pyttsx3 and the package come later, lazily.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import NoReturn

#: start of the one stderr line that carries the error message
ERROR_PREFIX = "downhill-speech-error: "
#: exit code of a failed render
EXIT_FAILED = 3
#: renders tried before giving up (see :func:`main`)
RENDER_TRIES = 4
#: a WAV file no longer than its header holds no audio
WAV_HEADER_BYTES = 44


def fail(message: str) -> NoReturn:
    """Report ``message`` on one stderr line and exit with :data:`EXIT_FAILED`."""
    sys.stderr.write(ERROR_PREFIX + message.replace("\n", " ") + "\n")
    sys.exit(EXIT_FAILED)


def main() -> None:
    """Render the request read from stdin (see the module docstring)."""
    req = json.load(sys.stdin)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - pyttsx3 prints "Audio saved to ..."
    try:
        # lazy: a missing pyttsx3 is reported as such (see the module docstring)
        import pyttsx3
    except Exception as exc:
        fail(f"pyttsx3 is not installed ({exc})")
    try:
        engine = pyttsx3.init("espeak" if sys.platform.startswith("linux") else None)
    except Exception as exc:
        fail(
            f"espeak-ng is not available ({type(exc).__name__}: {exc}); "
            "Debian: apt-get install libespeak-ng1"
        )
    # lazy: only after the pyttsx3 check (see the module docstring)
    from downhill_live.speech.base import SpeechError
    from downhill_live.speech.engine import _configure_engine

    try:
        _configure_engine(
            engine, voice=req.get("voice"), rate_wpm=req.get("rate_wpm"), volume=req.get("volume")
        )
    except SpeechError as exc:
        fail(str(exc))
    phrase, path = req["item"]
    # pyttsx3's runAndWait() may end its loop before espeak has written the file (its end step
    # is queued right after save_to_file; seen for long phrases and under load): try again
    for _ in range(RENDER_TRIES):
        engine.save_to_file(phrase, path)
        engine.runAndWait()
        if os.path.exists(path) and os.path.getsize(path) > WAV_HEADER_BYTES:
            return
    fail(f"no audio was rendered for {phrase!r} ({RENDER_TRIES} tries)")


if __name__ == "__main__":
    # Run as a file, Python put this folder first on sys.path, where base.py, audio.py ... would
    # shadow any top-level module of those names. Put the folder that holds the downhill_live
    # package there instead: the child then imports the very package its parent runs.
    sys.path[0] = str(Path(__file__).resolve().parents[2])
    main()
