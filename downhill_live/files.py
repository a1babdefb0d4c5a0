"""The user's files, read and written safely.

Inputs are checked before they are read (:func:`check_input`): a regular file of bounded size,
so ``/dev/zero`` or a FIFO is one clear error instead of memory running out or a hang.
Outputs never cost the user a file: no command writes over one of its inputs, an existing
output is kept unless the user says ``--force`` (:func:`claim_output`), and every write is atomic
(a temporary file in the same folder, renamed over the target once complete), so a crash or a
full disk never leaves a half-written file in place of a good one.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> out = claim_output(d / "steps.csv", inputs=[d / "run.dlr"])
>>> atomic_write(out, "t_s\\n")
>>> out.read_text()
't_s\\n'
>>> claim_output(out)
Traceback (most recent call last):
...
downhill_live.errors.InputError: ...steps.csv: exists already (give --force to replace it)
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from downhill_live.errors import DownhillError, InputError

__all__ = ["MAX_INPUT_BYTES", "atomic_open", "atomic_write", "check_input", "claim_output"]

#: the largest input file read (2 GiB: about 60 hours of a 1 kHz IMU)
MAX_INPUT_BYTES = 2 << 30


def check_input(path: str | Path, *, max_bytes: int = MAX_INPUT_BYTES) -> Path:
    """``path`` if it is a regular file of at most ``max_bytes``.

    Raises
    ------
    InputError
        When it is missing, a folder, a device, a FIFO or a socket, or too large.

    Examples
    --------
    >>> check_input("/dev/zero")
    Traceback (most recent call last):
    ...
    downhill_live.errors.InputError: /dev/zero: is not a regular file (a device, FIFO or socket)
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise InputError(str(p), exc.strerror or str(exc)) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(str(p), "Is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(str(p), "is not a regular file (a device, FIFO or socket)")
    if st.st_size > max_bytes:
        raise InputError(str(p), f"is {st.st_size:,} bytes: larger than the {max_bytes:,} read")
    return p


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def claim_output(
    path: str | Path, *, inputs: Iterable[str | Path | None] = (), force: bool = False
) -> Path:
    """Check an output path before anything is read or written.

    Raises
    ------
    InputError
        When ``path`` is one of ``inputs`` (never written over, even with ``force``), or exists
        and ``force`` is false (exit code 2).
    DownhillError
        When ``path`` is a folder or its folder does not exist (exit code 1).
    """
    out = Path(path)
    for src in inputs:
        if src is not None and _same_file(out, Path(src)):
            raise InputError(str(out), "is an input of this command; give another output file")
    if out.is_dir():
        raise DownhillError(f"{out}: is a folder; give a file name")
    if not out.parent.is_dir():
        raise DownhillError(f"{out}: No such file or directory (no folder {out.parent})")
    if out.exists() and not force:
        raise InputError(str(out), "exists already (give --force to replace it)")
    return out


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit it is flushed, synced and renamed
    over ``path``; on an error it is removed and ``path`` is left as it was."""
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=target.parent or "."
        )
    except OSError as exc:
        raise InputError(str(target), exc.strerror or str(exc)) from None
    ok = False
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        ok = True
    except OSError as exc:
        raise InputError(str(target), exc.strerror or str(exc)) from None
    finally:
        if not ok:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    if isinstance(data, bytes):
        with atomic_open(path, "wb") as fh:
            fh.write(data)
    else:
        with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(data)
