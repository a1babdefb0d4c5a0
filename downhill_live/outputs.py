"""Output files that never cost the user a file: no command writes over one of its inputs, an
existing output is kept unless the user says ``--force``, and every write is atomic (a temporary
file in the same folder, renamed over the target once complete), so a crash or a full disk
never leaves a half-written file in place of a good one.

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
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from downhill_live.errors import DownhillError, InputError

__all__ = ["atomic_open", "atomic_write", "claim_output"]


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
