"""scalecore: fast numerics for scaling research.

The C++/CUDA core is reached through a few thin entry points:

* :func:`fit` - batched Levenberg-Marquardt fitting of scaling laws, with the
  built-in catalogue :data:`laws` and user-written :class:`Law` expressions.
* :mod:`scalecore.ot` - optimal transport: exact (network simplex, 1-D,
  sliced) and entropic (stabilised Sinkhorn, unbalanced, divergence), dense,
  tiled and batched, and the label-aware dataset distance OTDD.
* :mod:`scalecore.datasel` - data-mixture selection by OT (projektor).
* :func:`build_info`, :func:`set_num_threads`, :func:`set_simd_level` - the
  build, the thread pool and CPU dispatch.
* :mod:`scalecore.scaling` - scaling-law studies over tables of runs.
* :mod:`scalecore.distributed` - the same fits on Dask (optional:
  ``pip install "scalecore[dask]"``).

Every subpackage is an attribute of ``scalecore`` and is imported on first
use, so ``import scalecore`` stays light.
"""
from . import _core
from ._config import (
    build_info,
    get_num_threads,
    get_simd_level,
    num_threads,
    set_num_threads,
    set_simd_level,
    simd_level,
    simd_levels,
)
from .fitting import ExpressionError, FitResult, Law, fit, laws

__version__ = _core.__version__

# Public subpackages, imported on first attribute access (PEP 562) so that
# ``import scalecore`` loads neither them nor their dependencies (pandas,
# matplotlib, dask, torch).  One table, one ``__getattr__``: a name listed
# here is reachable as ``scalecore.<name>`` and shown by ``dir(scalecore)``.
_SUBPACKAGES = ("fitting", "scaling", "ot", "datasel", "distributed", "tp")


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        import importlib

        mod = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = mod
        return mod
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES))


__all__ = [
    "fit",
    "FitResult",
    "Law",
    "laws",
    "ExpressionError",
    "build_info",
    "get_num_threads",
    "set_num_threads",
    "num_threads",
    "get_simd_level",
    "set_simd_level",
    "simd_level",
    "simd_levels",
    "__version__",
    *_SUBPACKAGES,
]
