"""Shared plumbing of :mod:`scalecore.ot`: input normalisation (leading batch
dimensions, ragged batches, uniform weights), validation with messages that
name the argument, statuses and warnings, and the sparse plan type."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from .._array import as_float_array, to_numpy

__all__ = ["STATUS_NAMES", "ConvergenceWarning", "SparsePlan", "PlanBatch", "METRICS"]

# Keep in step with cpp/include/scalecore/ot/types.h (Status).
STATUS_NAMES = {
    0: "not_run",
    1: "converged",
    2: "max_iter",
    3: "numerical",
    4: "bad_input",
    5: "infeasible",
    6: "degenerate",
    7: "dual_infeasible",
}
_STATUS_CODES = {v: k for k, v in STATUS_NAMES.items()}

# Keep in step with cpp/include/scalecore/ot/metrics.def.
METRICS = {"sqeuclidean": 0, "euclidean": 1, "cosine": 2}

MASS_RTOL = 1e-6  # balanced problems: |sum a - sum b| <= MASS_RTOL * max(sum a, sum b)


_IMPL = [0]  # 0: the SIMD level in use; 1: the reference kernels (tests)


def impl() -> int:
    return _IMPL[0]


class reference_kernels:
    """Context manager that runs the OT solvers on their reference kernels
    (plain double loops, the oracle of the SIMD levels).  For tests."""

    def __enter__(self):
        self._old = _IMPL[0]
        _IMPL[0] = 1
        return self

    def __exit__(self, *exc):
        _IMPL[0] = self._old
        return False


class ConvergenceWarning(RuntimeWarning):
    """A solver stopped at ``max_iter`` (or met a numerical problem) without
    meeting its tolerance; the result's ``status`` says which problems."""


@dataclass
class SparsePlan:
    """A transport plan stored as (row, column, value) triples.

    Attributes
    ----------
    rows, cols : ndarray of int32
    values : ndarray of float64
    shape : tuple of int
        ``(n, m)`` of the dense plan.
    """

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    shape: Tuple[int, int]

    @property
    def nnz(self) -> int:
        return int(self.values.shape[0])

    def toarray(self) -> np.ndarray:
        """The dense ``(n, m)`` plan."""
        out = np.zeros(self.shape)
        np.add.at(out, (self.rows, self.cols), self.values)
        return out

    def tocoo(self):
        """The plan as a :class:`scipy.sparse.coo_array` (needs scipy)."""
        from scipy import sparse

        return sparse.coo_array((self.values, (self.rows, self.cols)), shape=self.shape)

    def __repr__(self) -> str:
        return f"SparsePlan(shape={self.shape}, nnz={self.nnz})"


class PlanBatch:
    """The sparse plans of a batch, built on access: ``plans[k]`` (or
    ``plans[i, j]`` for a multi-dimensional batch) is a :class:`SparsePlan`.
    Holds the padded (row, col, value) arrays of all problems."""

    def __init__(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, nnz: np.ndarray,
                 shape: Tuple[int, int], batch_shape: Tuple[int, ...]) -> None:
        self._rows, self._cols, self._vals, self._nnz = rows, cols, vals, nnz
        self.plan_shape = shape
        self.shape = batch_shape

    @property
    def nnz(self) -> np.ndarray:
        return self._nnz.reshape(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def _flat(self, idx: Any) -> int:
        if isinstance(idx, (int, np.integer)) and len(self.shape) > 1:
            raise IndexError(f"plans: index with {len(self.shape)} integers for a batch of shape {self.shape}")
        k = np.ravel_multi_index(idx if isinstance(idx, tuple) else (idx,), self.shape)
        return int(k)

    def __getitem__(self, idx: Any) -> "SparsePlan":
        k = self._flat(idx)
        c = int(self._nnz[k])
        return SparsePlan(self._rows[k, :c].copy(), self._cols[k, :c].copy(), self._vals[k, :c].copy(),
                          self.plan_shape)

    def __iter__(self):
        for k in range(int(np.prod(self.shape))):
            yield self[np.unravel_index(k, self.shape)]

    def __repr__(self) -> str:
        return f"PlanBatch(batch_shape={self.shape}, plan_shape={self.plan_shape})"


def status_strings(codes: np.ndarray) -> np.ndarray:
    return np.array([STATUS_NAMES.get(int(c), "unknown") for c in np.ravel(codes)], dtype=object).reshape(
        np.shape(codes))


def check_positive_scalar(v: Any, name: str, allow_zero: bool = False) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a number, got {type(v).__name__}") from None
    if allow_zero:
        if not np.isfinite(x) or x < 0:
            raise ValueError(f"{name}: expected a finite value >= 0, got {v!r}")
    elif not np.isfinite(x) or x <= 0:
        raise ValueError(f"{name}: expected a finite value > 0, got {v!r}")
    return x


def threads_arg(n_threads: Optional[int]) -> int:
    if n_threads is None:
        return 0
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)) or n_threads < 1:
        raise ValueError(f"n_threads: expected None or an integer >= 1, got {n_threads!r}")
    return int(n_threads)


def data_dtype(dtype: Optional[Any], *arrays: Any) -> np.dtype:
    """float32 when asked for, or when every given array is float32; else float64."""
    if dtype is not None:
        try:
            d = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype: expected float32 or float64, got {dtype!r}") from None
        if d not in (np.float32, np.float64):
            raise TypeError(f"dtype: expected float32 or float64, got {d}")
        return d
    given = []
    for x in arrays:
        if x is None:
            continue
        try:
            given.append(to_numpy(x, "input"))
        except (TypeError, ValueError):
            # Unreadable: the caller's own conversion raises, naming the argument.
            return np.dtype(np.float64)
    if given and all(getattr(x, "dtype", None) == np.float32 for x in given):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def is_ragged(x: Any) -> bool:
    """A list/tuple of arrays of possibly different lengths (a ragged batch)."""
    if not isinstance(x, (list, tuple)) or len(x) == 0:
        return False
    first = x[0]
    return hasattr(first, "__len__") or hasattr(first, "shape")


def weights(w: Any, n: int, name: str) -> np.ndarray:
    """Weights of one problem (uniform when None), float64, validated shape."""
    if w is None:
        return np.full(n, 1.0 / n) if n > 0 else np.zeros(0)
    arr = as_float_array(w, name, np.float64, ndims=(1,))
    if arr.shape[0] != n:
        raise ValueError(f"{name}: expected {n} weights to match the cost/points, got {arr.shape[0]}")
    return arr


def batch_weights(w: Any, n: int, name: str) -> np.ndarray:
    """Weights with optional leading batch dimensions (uniform when None),
    float64; the last dimension must be n (the matching side of the costs)."""
    if w is None:
        return np.full(n, 1.0 / n) if n > 0 else np.zeros(0)
    arr = as_float_array(w, name, np.float64, ndims=tuple(range(1, 8)))
    if arr.shape[-1] != n:
        raise ValueError(f"{name}: expected {n} weights (the matching dimension of the costs or points), "
                         f"got shape {arr.shape}")
    return arr


def centred(f: Any) -> Any:
    """f - mean(f) over the last axis (each item of a list; None stays None):
    the gradient of an OT value along the simplex from its potential."""
    if f is None:
        return None
    if isinstance(f, list):
        return [v - v.mean() for v in f]
    return f - np.mean(f, axis=-1, keepdims=True)


def check_weights(w: np.ndarray, name: str) -> float:
    """Raises ValueError for NaN/Inf/negative weights or an empty set; returns the mass."""
    if w.shape[-1] == 0:
        raise ValueError(f"{name}: the set is empty (0 points); OT needs at least one point on each side")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name}: weights must be finite, found NaN or Inf")
    if np.any(w < 0):
        i = np.argwhere(w < 0)[0]
        raise ValueError(f"{name}: weights must be >= 0, found {float(w[tuple(i)])!r} at index {tuple(int(v) for v in i)}")
    mass = float(np.sum(w))
    if not mass > 0:
        raise ValueError(f"{name}: the total mass is 0; nothing to transport")
    return mass


def check_balanced(ma: float, mb: float) -> None:
    if abs(ma - mb) > MASS_RTOL * max(ma, mb):
        raise ValueError(f"a, b: balanced OT needs equal masses, got sum(a) = {ma!r} and sum(b) = {mb!r} "
                         f"(use unbalanced_sinkhorn for unequal masses)")


class Batch:
    """A batch of B problems in the layout the C++ core takes: padded arrays
    with per-problem sizes for ragged input, shared arrays (no batch axis)
    where the user gave one for all problems."""

    def __init__(self) -> None:
        self.B = 1
        self.batch_shape: Tuple[int, ...] = ()
        self.nmax = 0
        self.mmax = 0
        self.n_b: Optional[np.ndarray] = None
        self.m_b: Optional[np.ndarray] = None
        self.ragged = False


def batch_shape_of(shapes: Sequence[Tuple[int, ...]], names: Sequence[str]) -> Tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        desc = ", ".join(f"{n} {s}" for n, s in zip(names, shapes))
        raise ValueError(f"batch dimensions do not broadcast: {desc}") from None


def flat_batch(arr: np.ndarray, core: int, bshape: Tuple[int, ...]) -> np.ndarray:
    """(…, core dims) -> (B, core dims) or the core array itself when shared."""
    lead = arr.shape[: arr.ndim - core]
    if lead == () and bshape != ():
        return np.ascontiguousarray(arr)  # shared by every problem
    if lead != bshape:
        arr = np.broadcast_to(arr, bshape + arr.shape[arr.ndim - core:])
    B = int(np.prod(bshape)) if bshape else 1
    return np.ascontiguousarray(arr.reshape((B,) + arr.shape[arr.ndim - core:]))


def pad_ragged(items: List[np.ndarray], core_shape_fn, fill: float = 0.0) -> np.ndarray:
    """Stacks arrays of different core sizes into a zero-padded block."""
    shapes = [core_shape_fn(x) for x in items]
    mx = tuple(max(s[k] for s in shapes) for k in range(len(shapes[0])))
    out = np.full((len(items),) + mx + items[0].shape[len(mx):], fill, dtype=items[0].dtype)
    for i, x in enumerate(items):
        sl = tuple(slice(0, s) for s in shapes[i])
        out[(i,) + sl] = x
    return out


def warn_statuses(codes: np.ndarray, what: str, stacklevel: int = 3) -> None:
    """Warns about problems that did not converge or could not be solved."""
    c = np.ravel(codes)
    bad_iter = np.flatnonzero((c == 2) | (c == 3) | (c == 7))
    if bad_iter.size:
        kinds = sorted({STATUS_NAMES[int(c[i])] for i in bad_iter})
        idx = bad_iter[:10].tolist()
        more = "" if bad_iter.size <= 10 else f" (and {bad_iter.size - 10} more)"
        warnings.warn(f"{what}: {bad_iter.size} of {c.size} problem(s) did not converge ({', '.join(kinds)}): "
                      f"indices {idx}{more}; see result.status", ConvergenceWarning, stacklevel=stacklevel)
    bad_in = np.flatnonzero((c == 4) | (c == 5))
    if bad_in.size:
        idx = bad_in[:10].tolist()
        warnings.warn(f"{what}: {bad_in.size} of {c.size} problem(s) could not be solved (bad_input or infeasible): "
                      f"indices {idx}; their outputs are NaN", RuntimeWarning, stacklevel=stacklevel)


def reshape_out(x: np.ndarray, bshape: Tuple[int, ...], core: Tuple[int, ...] = ()) -> Any:
    """(B, core…) -> bshape + core; a scalar problem returns a Python float / the core array."""
    if bshape == ():
        x = x.reshape(core) if core else x.reshape(())
        return x.item() if not core and x.dtype.kind == "f" else (x if core else x[()])
    return x.reshape(bshape + core)
