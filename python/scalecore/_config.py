"""Threads, SIMD dispatch and build information."""
from __future__ import annotations

import contextlib
import os
import platform
import sys
import warnings
from typing import Any, Dict, Iterator, List

import numpy as np

from . import _core

_VALID_SIMD = ("scalar", "avx2", "avx512", "auto")

_env_simd = os.environ.get("SCALECORE_SIMD")
if _env_simd is not None and _env_simd not in _VALID_SIMD:
    warnings.warn(
        f"SCALECORE_SIMD={_env_simd!r} is not one of {_VALID_SIMD}; it is ignored",
        RuntimeWarning,
        stacklevel=2,
    )


def get_num_threads() -> int:
    """Number of threads of scalecore's CPU pool (the calling thread included)."""
    return int(_core.num_threads())


def set_num_threads(n: int) -> None:
    """Set the size of scalecore's CPU thread pool.

    Parameters
    ----------
    n : int
        Threads, >= 1.  The default is the number of CPUs this process may run
        on, or the environment variable ``SCALECORE_NUM_THREADS``.

    Results never depend on the thread count: every kernel splits its work on
    boundaries that depend only on the problem size.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n: expected an integer, got {type(n).__name__}")
    _core.set_num_threads(int(n))


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Context manager that sets the pool size and restores it on exit."""
    old = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(old)


def get_simd_level() -> str:
    """The SIMD level the CPU kernels use now: ``"scalar"``, ``"avx2"`` or ``"avx512"``."""
    return str(_core.simd_level())


def set_simd_level(level: str) -> None:
    """Force the CPU kernels' SIMD level.

    Parameters
    ----------
    level : {"scalar", "avx2", "avx512", "auto"}
        ``"auto"`` picks the best level this CPU supports.  Asking for a level
        the CPU or build lacks raises ``ValueError`` naming the levels this
        machine has.  The environment
        variable ``SCALECORE_SIMD`` sets the starting level the same way.
    """
    if not isinstance(level, str):
        raise TypeError(f"level: expected a string, got {type(level).__name__}")
    _core.set_simd_level(level)


@contextlib.contextmanager
def simd_level(level: str) -> Iterator[None]:
    """Context manager that forces a SIMD level and restores the previous one."""
    old = get_simd_level()
    set_simd_level(level)
    try:
        yield
    finally:
        set_simd_level(old)


def simd_levels() -> List[str]:
    """Levels this build has kernels for and this CPU can run, lowest first."""
    order = ["scalar", "avx2", "avx512"]
    best = order.index(str(_core.simd_max_supported()))
    compiled = set(_core.simd_levels_compiled())
    return [lv for lv in order[: best + 1] if lv in compiled]


def _cuda_info() -> Dict[str, Any]:
    info: Dict[str, Any] = {"compiled": False, "architectures": [], "runtime_version": None,
                            "devices": [], "error": None}
    try:
        from . import _cuda  # type: ignore[attr-defined]
    except ImportError as e:
        info["error"] = f"CUDA kernels not built ({e})"
        return info
    info["compiled"] = True
    info["architectures"] = list(_cuda.architectures())
    info["runtime_version"] = _cuda.runtime_version()
    devs, err = _cuda.devices()
    info["devices"] = list(devs)
    info["error"] = err or None
    return info


def build_info() -> Dict[str, Any]:
    """Describe this build of scalecore and the machine it runs on.

    Returns
    -------
    dict
        ``version``, ``compiler``, ``sanitize`` (the sanitizers the core was
        built with, "" for none), ``cpu`` (vendor, brand, features detected),
        ``simd_level`` (in use), ``simd_max`` (best this CPU supports),
        ``simd_levels`` (runnable here), ``num_threads``, ``hardware_threads``,
        ``parallel_backend`` (``"libgomp"`` when parallel loops run on the
        OpenMP team of a libgomp already loaded, e.g. by torch, else
        ``"scalecore"``: see ``SCALECORE_OPENMP_TEAM`` in the README),
        ``cuda`` (``compiled``, ``architectures``, ``runtime_version``,
        ``devices`` visible, ``error`` if none can be used), and the Python,
        numpy and platform versions.
    """
    return {
        "version": _core.__version__,
        "compiler": _core.compiler(),
        "sanitize": _core.sanitize(),
        "cpu": dict(_core.cpu_info()),
        "simd_level": get_simd_level(),
        "simd_max": str(_core.simd_max_supported()),
        "simd_levels": simd_levels(),
        "num_threads": get_num_threads(),
        "hardware_threads": int(_core.hardware_threads()),
        "parallel_backend": str(_core.parallel_backend()),
        "cuda": _cuda_info(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
