"""Many recordings on all cores: ``--jobs N`` of ``analyze``, ``tune`` and ``report``.

:func:`run_jobs` maps a function over inputs in a process pool. On Linux the workers are
forked from the command's process after it has loaded the compiled kernels (numba's cache,
``prepare_detector``), so a worker starts in milliseconds with everything warm; elsewhere
they start fresh and load numba's on-disk cache once each. Results come back in input order.
A user error in a worker (a damaged file, a bad profile) ends the command with that error's
one line, as it would without ``--jobs``.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from downhill_live.errors import DownhillError, InputError

T = TypeVar("T")
R = TypeVar("R")

#: the most workers ``--jobs`` takes
MAX_JOBS = 256


class WorkerError(DownhillError):
    """A user error raised in a worker, passed on with its message and exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_jobs_option(parser: Any) -> None:
    """Add ``-j/--jobs N`` (0: one per core)."""
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="process N recordings at once (0: one per CPU core; default 1)",
    )


def job_count(jobs: int, n_items: int) -> int:
    """Workers to use for ``n_items`` with ``--jobs jobs`` (checked)."""
    if not 0 <= jobs <= MAX_JOBS:
        raise InputError("--jobs", f"must be within 0..{MAX_JOBS}, got {jobs}")
    want = jobs or (os.cpu_count() or 1)
    return max(1, min(want, n_items))


def _call(fn: Callable[..., R], item: Any, kwargs: dict[str, Any]) -> tuple[bool, Any]:
    try:
        return True, fn(item, **kwargs)
    except DownhillError as exc:  # exceptions with their own arguments do not unpickle
        return False, (str(exc), exc.exit_code)


def run_jobs(
    fn: Callable[..., R], items: Sequence[T], *, jobs: int = 1, **kwargs: Any
) -> list[R]:
    """``[fn(item, **kwargs) for item in items]``, on ``jobs`` processes (0: all cores).

    ``fn`` must be a module-level function; its results must pickle."""
    n = job_count(jobs, len(items))
    if n == 1:
        return [fn(item, **kwargs) for item in items]
    ctx = (
        multiprocessing.get_context("fork")
        if "fork" in multiprocessing.get_all_start_methods()
        else None
    )
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
        futures = [pool.submit(_call, fn, item, kwargs) for item in items]
        out: list[R] = []
        for fut in futures:
            ok, value = fut.result()
            if not ok:
                for rest in futures:
                    rest.cancel()
                raise WorkerError(*value)
            out.append(value)
    return out


__all__ = ["MAX_JOBS", "WorkerError", "add_jobs_option", "job_count", "run_jobs"]
