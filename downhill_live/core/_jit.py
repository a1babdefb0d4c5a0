"""numba is optional: ``njit`` from numba when it is importable, else a no-op decorator.

With numba absent (or ``NUMBA_DISABLE_JIT=1``, which numba itself honours) the kernels run as
plain Python with identical results, only slower. Also the kernels' records (parameters and
states as length-1 structured arrays) are made here, the same way for every kernel.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar, get_type_hints

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

_numba_njit: Callable[..., Any] | None
try:  # pragma: no cover - depends on the installation
    from numba import njit as _numba_njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False
    _numba_njit = None


def _no_blas() -> None:
    raise ImportError("not asked (downhill_live.core._jit)")


class _ArraysWithoutScipy(importlib.abc.MetaPathFinder):
    """numba's array library (``numba.np.arraymath``, imported with numba's target set-up at
    the first compiled call) asks once, at import, whether scipy's BLAS is there
    (``_HAVE_BLAS``: only whether ``np.correlate``/``np.convolve`` in compiled code use BLAS or
    a loop; no kernel here uses them). Asking imports ``scipy.linalg``: ~0.2 s of every command
    that runs a kernel. This finder, first on ``sys.meta_path`` until that import, runs it with
    the question answered "no"; ``np.dot`` and ``np.linalg`` in compiled code still find scipy
    (they ask again when compiled). Nothing happens before numba loads it (no import cost)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "numba.np.arraymath":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)  # once: the real finders from here on
        spec: Any = importlib.util.find_spec(name)
        real: Any = spec.loader if spec is not None else None
        if real is None or not hasattr(real, "exec_module"):  # pragma: no cover
            return spec

        class Loader(importlib.abc.Loader):
            def create_module(self, spec: Any) -> Any:
                return real.create_module(spec)

            def exec_module(self, module: Any) -> None:
                # lazy: numba.np.linalg is loaded by numba itself just before this
                from numba.np import linalg

                ask: Any = getattr(linalg, "ensure_blas", None)
                linalg.ensure_blas = _no_blas
                try:
                    real.exec_module(module)
                finally:
                    linalg.ensure_blas = ask

        spec.loader = Loader()
        return spec


if HAVE_NUMBA and "numba.np.arraymath" not in sys.modules:
    sys.meta_path.insert(0, _ArraysWithoutScipy())


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


@njit(cache=True)
def median_first(buf: np.ndarray, n: int) -> float:
    """Median of ``buf[:n]``, sorting those values in place (insertion sort: the kernels'
    rings hold a few dozen values, and a scratch row the caller owns keeps it allocation-free).

    Editing it: numba keys a cached function on its own file only, so the cached strike and
    grade kernels that call it (``_kernels.py``, ``grade.py``) keep the old code until their
    files change too (or ``__pycache__`` is cleared); the fused live entry hashes this file
    into its key (:mod:`downhill_live.fused`). The plain-Python agreement tests catch a stale
    cache that changes results."""
    for a in range(1, n):
        v = buf[a]
        b = a - 1
        while b >= 0 and buf[b] > v:
            buf[b + 1] = buf[b]
            b -= 1
        buf[b + 1] = v
    return buf[n // 2] if n % 2 == 1 else 0.5 * (buf[n // 2 - 1] + buf[n // 2])


# ------------------------------------------------------------------------------ kernel records
# The kernels take their parameters and states as length-1 structured arrays: numba types an
# array argument in constant time (a 70-field tuple costs ~30 us a call) and names its fields.

#: a kernel state: ``(field, initial value)`` in record order; every field is a float64
StateTable = Sequence[tuple[str, float]]

_CODE = {float: "f8", int: "i8", bool: "?"}


def params_dtype(cls: type) -> np.dtype:
    """The structured dtype :func:`params_record` gives a NamedTuple class's records."""
    hints = get_type_hints(cls)
    return np.dtype([(name, _CODE[hints[name]]) for name in cls._fields])  # type: ignore[attr-defined]


def params_record(params: NamedTuple) -> np.recarray:
    """A length-1 record array holding a NamedTuple of ``float``/``int``/``bool`` fields (f8, i8,
    ?, by the annotations), for the kernels to read."""
    dtype = params_dtype(type(params))
    rec = np.zeros(1, dtype=dtype).view(np.recarray)
    for name in params._fields:
        rec[name][0] = getattr(params, name)
    return rec


def state_dtype(table: StateTable) -> np.dtype:
    """The structured dtype of a state table (one float64 per field)."""
    return np.dtype([(name, "f8") for name, _ in table])


def new_record(dtype: np.dtype) -> np.recarray:
    """A zeroed length-1 record array of ``dtype`` (``rec[0].field``)."""
    return np.zeros(1, dtype=dtype).view(np.recarray)


#: one dtype object per record layout (see :func:`kernel_view`)
_CANONICAL: dict[tuple[np.dtype, type], np.dtype] = {}


def kernel_view(rec: np.ndarray) -> np.ndarray:
    """``rec`` as the compiled kernels take it: a plain structured array (a recarray subclass
    is typed slowly at every call) whose dtype is the one object kept for its layout. numba's
    dispatcher types an array of a structured dtype quickly only for a dtype object it has seen
    first; every other, equal dtype object costs ~5 us per argument and call (measured: a
    second tracker's core call took 6-11 us instead of 1.5 us)."""
    plain = rec.view(np.ndarray)
    key = (plain.dtype, plain.dtype.type)
    dtype = _CANONICAL.setdefault(key, plain.dtype)
    return plain if plain.dtype is dtype else plain.view(dtype)


def reset_state(st: np.ndarray, table: StateTable) -> None:
    """Set every field of the length-1 state ``st`` to its initial value in ``table``."""
    for name, value in table:
        st[name] = value
