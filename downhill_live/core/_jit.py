"""numba is optional: ``njit`` from numba when it is importable, else a no-op decorator.

With numba absent (or ``NUMBA_DISABLE_JIT=1``, which numba itself honours) the kernels run as
plain Python with identical results, only slower.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_numba_njit: Callable[..., Any] | None
try:  # pragma: no cover - depends on the installation
    from numba import njit as _numba_njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False
    _numba_njit = None


def jit_active() -> bool:
    """True when the kernels are compiled (numba present and ``NUMBA_DISABLE_JIT`` unset)."""
    if not HAVE_NUMBA:
        return False
    # lazy: numba may be absent (the plain-Python build); it is only asked when present
    from numba import config

    return not bool(getattr(config, "DISABLE_JIT", False))


def njit(*args: Any, **kwargs: Any) -> Any:
    """``numba.njit`` when numba is installed, otherwise return the function unchanged."""
    if _numba_njit is not None:
        return _numba_njit(*args, **kwargs)
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]

    def deco(fn: F) -> F:
        return fn

    return deco
