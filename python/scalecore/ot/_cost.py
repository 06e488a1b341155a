"""Ground costs."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import _core
from .._array import as_float_array
from ._common import METRICS, data_dtype, impl, threads_arg

__all__ = ["cost_matrix", "metric_code"]


def metric_code(metric: str, p: float) -> int:
    if not isinstance(metric, str) or metric not in METRICS:
        raise ValueError(f"metric: expected one of {sorted(METRICS)}, got {metric!r}")
    if not np.isfinite(p) or p <= 0:
        raise ValueError(f"p: expected a finite power > 0, got {p!r}")
    return METRICS[metric]


def cost_matrix(
    x: Any,
    y: Any,
    metric: str = "sqeuclidean",
    *,
    p: float = 1.0,
    dtype: Optional[Any] = None,
    n_threads: Optional[int] = None,
) -> np.ndarray:
    r"""Ground-cost matrix between two point clouds.

    .. math::
        C_{ij} = d(x_i, y_j)^p,

    with :math:`d` one of

    * ``"sqeuclidean"``: :math:`\|x - y\|_2^2` (POT's default for ``ot.dist``),
    * ``"euclidean"``: :math:`\|x - y\|_2`,
    * ``"cosine"``: :math:`1 - \langle x, y\rangle / (\|x\| \|y\|)` (1 when a norm is 0).

    Every metric is computed from one blocked, multithreaded GEMM
    (:math:`\|x\|^2 + \|y\|^2 - 2\langle x, y\rangle` on data centred on their
    common mean, which limits cancellation), in float32 or float64.

    Parameters
    ----------
    x : array, (n, d) or (B, n, d)
    y : array, (m, d) or (B, m, d)
    metric : str
    p : float, > 0
        Power applied to the metric (``metric="euclidean", p=3`` gives
        :math:`\|x - y\|^3`).
    dtype : float32 or float64, optional
        Default: float32 when both inputs are float32, else float64.
    n_threads : int, optional
        Threads (default: the pool size).  Results do not depend on it.

    Returns
    -------
    ndarray, (n, m) or (B, n, m)

    Notes
    -----
    Bit-identical for any thread count and at every call with the same
    ``x`` and ``y``.  Because the points are centred on the mean of *both*
    sets, a row computed from a slice of ``x`` (``cost_matrix(x[i:j], y)``)
    can differ from ``cost_matrix(x, y)[i:j]`` in the last bits: both are
    within the expansion's rounding bound, about
    :math:`4 (d + 2)\,u\,(\|x_i - \mu\|^2 + \|y_j - \mu\|^2)` with
    :math:`u` the unit roundoff of the dtype.  Memory: the result plus
    :math:`O((n + m) d)` (``docs/memory.md``).
    """
    code = metric_code(metric, float(p))
    dt = data_dtype(dtype, x, y)
    xa = as_float_array(x, "x", dt, ndims=(2, 3))
    ya = as_float_array(y, "y", dt, ndims=(2, 3))
    if xa.shape[-1] != ya.shape[-1]:
        raise ValueError(f"y: expected {xa.shape[-1]} features like x, got shape {ya.shape}")
    nt = threads_arg(n_threads)
    if xa.ndim == 2 and ya.ndim == 2:
        return _core.ot_cost_matrix(xa, ya, code, float(p), None, None, None, impl(), nt)
    bx = xa.shape[:-2]
    by = ya.shape[:-2]
    bshape = np.broadcast_shapes(bx, by)
    xb = np.broadcast_to(xa, bshape + xa.shape[-2:])
    yb = np.broadcast_to(ya, bshape + ya.shape[-2:])
    out = np.empty(bshape + (xa.shape[-2], ya.shape[-2]), dtype=dt)
    for idx in np.ndindex(*bshape):
        out[idx] = _core.ot_cost_matrix(np.ascontiguousarray(xb[idx]), np.ascontiguousarray(yb[idx]), code,
                                        float(p), None, None, None, impl(), nt)
    return out
