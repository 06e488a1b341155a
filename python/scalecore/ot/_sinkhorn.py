"""Entropic OT: log-domain stabilised Sinkhorn, unbalanced (KL) Sinkhorn,
the debiased Sinkhorn divergence; dense, tiled and batched."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .. import _core
from .._array import as_float_array
from ._common import (
    batch_weights,
    centred,
    impl,
    batch_shape_of,
    check_balanced,
    check_positive_scalar,
    check_weights,
    data_dtype,
    flat_batch,
    is_ragged,
    pad_ragged,
    reshape_out,
    status_strings,
    threads_arg,
    warn_statuses,
    weights,
)
from ._cost import cost_matrix, metric_code

__all__ = ["sinkhorn", "unbalanced_sinkhorn", "SinkhornResult", "sinkhorn_divergence", "DivergenceResult"]

_KERNELS = {"auto": 0, "float64": 1, "float32": 2, "none": 3}
_REG_TYPES = {"kl": 0, "entropy": 1}
# Dense problems up to this many entries form M when points are given (auto).
_DENSE_LIMIT = 25_000_000


@dataclass
class SinkhornResult:
    r"""Result of :func:`sinkhorn` and :func:`unbalanced_sinkhorn`.

    For a batch every field gains the batch shape; ragged batches give lists
    for ``f``, ``g`` and ``plan``.

    Attributes
    ----------
    cost : float or ndarray
        :math:`\langle P, M\rangle` (what POT's ``sinkhorn2`` returns; the
        "linear" cost of ``sinkhorn_unbalanced2``).
    objective : float or ndarray
        The regularised objective at the returned plan:
        :math:`\langle P, M\rangle + \varepsilon\sum_{ij} P_{ij}\log P_{ij}`
        (balanced), or :math:`\langle P, M\rangle + \varepsilon\,KL(P\,|\,c)
        + \rho_a KL(P\mathbf 1\,|\,a) + \rho_b KL(P^\top\mathbf 1\,|\,b)` with
        the generalised KL (unbalanced).
    f, g : ndarray
        Potentials with :math:`P_{ij} = \exp((f_i + g_j - M_{ij})/\varepsilon)`
        (POT's ``reg * log_u``, ``reg * log_v``); ``-inf`` at zero weights.
    plan : ndarray or None
        The dense plan, with ``plan=True``.
    n_iter : int or ndarray
        POT's ``niter``: the index, from 0, of the last iteration run (one less
        than the row updates made), eps-scaling stages included.  POT's
        iteration is a column then a row update; a run that stops at
        ``max_iter`` returns the iterate after its last row update, as POT does
        (``n_iter = max_iter - 1``).
    err : float or ndarray
        Last stopping measure: :math:`\|P^\top\mathbf 1 - b\|_2` after the row
        update (balanced, POT's rule), or the largest potential change divided
        by eps (unbalanced).
    status : str or ndarray
        ``"converged"``, ``"max_iter"``, ``"numerical"``, ``"bad_input"``,
        ``"infeasible"`` or ``"degenerate"``.
    f_kl, g_kl : ndarray
        Potentials of the product reference,
        :math:`\tilde f_i = -\varepsilon\log\sum_j\exp((g_j - M_{ij})/\varepsilon)`
        (the c-transform of g; :math:`f - \varepsilon\log a` at positive
        weights), finite at zero weights.
    """

    cost: Any
    objective: Any
    f: Any
    g: Any
    plan: Any
    n_iter: Any
    err: Any
    status: Any
    status_code: Any
    success: Any
    f_kl: Any = None
    g_kl: Any = None
    mass: Any = None
    info: Dict[str, Any] = field(default_factory=dict)
    _extra: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def grad_a(self) -> Any:
        r"""Gradient of the KL-regularised OT value with respect to the
        weights ``a`` along the simplex: the centred :math:`\tilde f -
        \operatorname{mean}(\tilde f)` (Feydy et al. 2019, Prop. 2)."""
        return centred(self.f_kl)

    @property
    def grad_b(self) -> Any:
        return centred(self.g_kl)

    def __repr__(self) -> str:
        return f"SinkhornResult(cost={self.cost!r}, objective={self.objective!r}, status={self.status!r})"




def _run(a, b, M, x, y, eps, *, metric="sqeuclidean", p=1.0, tol=1e-6, max_iter=1000, rho_a=np.inf,
         rho_b=np.inf, reg_type="kl", eps_scaling=None, eps_init=None, kernel="auto", method="log",
         warm_start=None, plan=False, bary=False, mass=False, n_threads=None, dtype=None, labels=None,
         check_every=10, accelerate=False, symmetric=False, what="sinkhorn") -> SinkhornResult:
    if isinstance(check_every, bool) or not isinstance(check_every, (int, np.integer)) or check_every < 1:
        raise ValueError(f"check_every: expected an integer >= 1, got {check_every!r}")
    tol = check_positive_scalar(tol, "tol", allow_zero=True)
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter: expected an integer >= 1, got {max_iter!r}")
    if method not in ("log", "lse", "tiled"):
        raise ValueError(f"method: expected 'log', 'lse' or 'tiled', got {method!r}")
    if kernel not in _KERNELS:
        raise ValueError(f"kernel: expected one of {sorted(_KERNELS)}, got {kernel!r}")
    if reg_type not in _REG_TYPES:
        raise ValueError(f"reg_type: expected 'kl' or 'entropy', got {reg_type!r}")
    es = 0.0
    if eps_scaling is not None:
        es = float(eps_scaling)
        if not 0 < es < 1:
            raise ValueError(f"eps_scaling: expected a factor in (0, 1), got {eps_scaling!r}")
    ei = 0.0 if eps_init is None else check_positive_scalar(eps_init, "eps_init")
    kcode = _KERNELS[kernel]
    if method == "lse":
        kcode = 3
    nt = threads_arg(n_threads)
    if M is not None and (x is not None or y is not None):
        raise ValueError("M, x, y: give either the costs M or the points x and y, not both")
    tiled = M is None
    if tiled and (x is None or y is None):
        raise ValueError("M: the costs are missing (or give the points x= and y= for the tiled mode)")
    ragged = is_ragged(M) if not tiled else is_ragged(x)
    lab = (None, None, None)
    if labels is not None:
        lab = labels
    if ragged:
        return _run_ragged(a, b, M, x, y, eps, metric, p, tol, max_iter, rho_a, rho_b, reg_type, es, ei, kcode,
                           plan, nt, dtype, what, check_every, accelerate)
    if tiled:
        dt = data_dtype(dtype, x, y)
        xa = as_float_array(x, "x", dt, ndims=tuple(range(2, 8)))
        ya = as_float_array(y, "y", dt, ndims=tuple(range(2, 8)))
        if xa.shape[-1] != ya.shape[-1]:
            raise ValueError(f"y: expected {xa.shape[-1]} features like x, got shape {ya.shape}")
        n, m = xa.shape[-2], ya.shape[-2]
        mcode = metric_code(metric, float(p))
        core_shapes = [xa.shape[:-2], ya.shape[:-2]]
    else:
        dt = data_dtype(dtype, M)
        Ma = as_float_array(M, "M", dt, ndims=tuple(range(2, 8)))
        n, m = Ma.shape[-2:]
        mcode = 0
        core_shapes = [Ma.shape[:-2]]
    aa = batch_weights(a, n, "a")
    bb = batch_weights(b, m, "b")
    eps_arr = np.asarray(eps, dtype=np.float64) if not np.isscalar(eps) else None
    shapes = [aa.shape[:-1], bb.shape[:-1]] + core_shapes + ([eps_arr.shape] if eps_arr is not None else [])
    names = ["a", "b"] + (["x", "y"] if tiled else ["M"]) + (["eps"] if eps_arr is not None else [])
    bshape = batch_shape_of(shapes, names)
    B = int(np.prod(bshape)) if bshape else 1
    balanced = np.isinf(rho_a) and np.isinf(rho_b)
    if eps_arr is None:
        e0 = check_positive_scalar(eps, "eps")
        eps_b = None
    else:
        if not np.all(np.isfinite(eps_arr)) or np.any(eps_arr <= 0):
            raise ValueError("eps: expected finite values > 0")
        eps_b = np.ascontiguousarray(np.broadcast_to(eps_arr, bshape).reshape(B), dtype=np.float64)
        e0 = float(eps_b[0])
    if bshape == ():
        ma = check_weights(aa, "a")
        mb = check_weights(bb, "b")
        if balanced:
            check_balanced(ma, mb)
    f0 = g0 = None
    if warm_start is not None:
        if isinstance(warm_start, SinkhornResult):
            wf, wg = warm_start.f, warm_start.g
        else:
            try:
                wf, wg = warm_start
            except (TypeError, ValueError):
                raise TypeError("warm_start: expected a SinkhornResult or a pair (f, g)") from None
        wf = np.broadcast_to(as_float_array(wf, "warm_start f", np.float64, ndims=tuple(range(1, 8))), bshape + (n,))
        wg = np.broadcast_to(as_float_array(wg, "warm_start g", np.float64, ndims=tuple(range(1, 8))), bshape + (m,))
        f0 = np.ascontiguousarray(wf.reshape(B, n))
        g0 = np.ascontiguousarray(wg.reshape(B, m))
        if np.any(np.isnan(g0)):
            raise ValueError("warm_start: g contains NaN")
    if tiled:
        Cb, xb, yb = None, flat_batch(xa, 2, bshape), flat_batch(ya, 2, bshape)
    else:
        Cb, xb, yb = flat_batch(Ma, 2, bshape), None, None
    r = _core.ot_sinkhorn(Cb, xb, yb, flat_batch(aa, 1, bshape), flat_batch(bb, 1, bshape), B, n, m, None, None,
                          e0, eps_b, tol, int(max_iter), float(rho_a), float(rho_b), _REG_TYPES[reg_type], es, ei,
                          kcode, 16.0, int(check_every), bool(accelerate), bool(symmetric), f0, g0, mcode, float(p), lab[0], lab[1], lab[2], bool(plan), True,
                          bool(bary), bool(mass), impl(), nt)
    codes = r["status"]
    if bshape == () and codes[0] == 4:
        raise ValueError(("x, y: positions must be finite, found NaN or Inf" if tiled
                          else "M: costs must be finite, found NaN or Inf"))
    warn_statuses(codes, what, stacklevel=4)
    res = SinkhornResult(
        cost=reshape_out(r["cost"], bshape),
        objective=reshape_out(r["objective"], bshape),
        f=reshape_out(r["f"], bshape, (n,)),
        g=reshape_out(r["g"], bshape, (m,)),
        plan=reshape_out(r["plan"], bshape, (n, m)) if plan else None,
        n_iter=reshape_out(r["n_iter"], bshape),
        err=reshape_out(r["err"], bshape),
        status=reshape_out(status_strings(codes), bshape),
        status_code=reshape_out(codes, bshape),
        success=reshape_out(codes == 1, bshape),
        f_kl=reshape_out(r["f_kl"], bshape, (n,)),
        g_kl=reshape_out(r["g_kl"], bshape, (m,)),
        mass=reshape_out(r["mass"], bshape),
        info={"tiled": tiled, "dtype": str(dt), "method": "tiled" if tiled else method, "kernel": kernel},
    )
    if bary:
        res._extra["bary_x"] = r["bary_x"].reshape(bshape + r["bary_x"].shape[1:])
        res._extra["bary_y"] = r["bary_y"].reshape(bshape + r["bary_y"].shape[1:])
    if mass:
        res._extra["row_mass"] = r["row_mass"].reshape(bshape + (n,))
        res._extra["col_mass"] = r["col_mass"].reshape(bshape + (m,))
    return res


def _run_ragged(a, b, M, x, y, eps, metric, p, tol, max_iter, rho_a, rho_b, reg_type, es, ei, kcode, plan, nt,
                dtype, what, check_every, accelerate) -> SinkhornResult:
    tiled = M is None
    if tiled:
        dt = data_dtype(dtype, *x, *y)
        Xs = [as_float_array(v, f"x[{i}]", dt, ndims=(2,)) for i, v in enumerate(x)]
        Ys = [as_float_array(v, f"y[{i}]", dt, ndims=(2,)) for i, v in enumerate(y)]
        if len(Xs) != len(Ys):
            raise ValueError(f"x, y: ragged batches of different lengths ({len(Xs)} and {len(Ys)})")
        ns = np.array([v.shape[0] for v in Xs], dtype=np.int64)
        ms = np.array([v.shape[0] for v in Ys], dtype=np.int64)
        d = Xs[0].shape[1]
        for i, (u, v) in enumerate(zip(Xs, Ys)):
            if u.shape[1] != d or v.shape[1] != d:
                raise ValueError(f"x[{i}], y[{i}]: expected {d} features")
        Xp = pad_ragged(Xs, lambda v: v.shape[:1])
        Yp = pad_ragged(Ys, lambda v: v.shape[:1])
        mcode = metric_code(metric, float(p))
        Cp = None
    else:
        dt = data_dtype(dtype, *M)
        Ms = [as_float_array(v, f"M[{i}]", dt, ndims=(2,)) for i, v in enumerate(M)]
        ns = np.array([v.shape[0] for v in Ms], dtype=np.int64)
        ms = np.array([v.shape[1] for v in Ms], dtype=np.int64)
        Cp = pad_ragged(Ms, lambda v: v.shape)
        Xp = Yp = None
        mcode = 0
    B = len(ns)
    As = [weights(None if a is None else a[i], int(ns[i]), f"a[{i}]") for i in range(B)]
    Bs = [weights(None if b is None else b[i], int(ms[i]), f"b[{i}]") for i in range(B)]
    Ap = pad_ragged(As, lambda v: v.shape)
    Bp = pad_ragged(Bs, lambda v: v.shape)
    if np.isscalar(eps):
        e0, eps_b = check_positive_scalar(eps, "eps"), None
    else:
        eps_b = np.ascontiguousarray(np.broadcast_to(np.asarray(eps, dtype=np.float64), (B,)))
        if not np.all(np.isfinite(eps_b)) or np.any(eps_b <= 0):
            raise ValueError("eps: expected finite values > 0")
        e0 = float(eps_b[0])
    r = _core.ot_sinkhorn(Cp, Xp, Yp, Ap, Bp, B, int(ns.max()), int(ms.max()), ns, ms, e0, eps_b, tol,
                          int(max_iter), float(rho_a), float(rho_b), _REG_TYPES[reg_type], es, ei, kcode, 16.0,
                          int(check_every), bool(accelerate), False, None, None, mcode, float(p), None, None, None, bool(plan), True, False, False, impl(), nt)
    codes = r["status"]
    warn_statuses(codes, what, stacklevel=5)
    return SinkhornResult(
        cost=r["cost"], objective=r["objective"],
        f=[r["f"][k, : ns[k]] for k in range(B)], g=[r["g"][k, : ms[k]] for k in range(B)],
        plan=[r["plan"][k, : ns[k], : ms[k]] for k in range(B)] if plan else None,
        n_iter=r["n_iter"], err=r["err"], status=status_strings(codes), status_code=codes, success=codes == 1,
        f_kl=[r["f_kl"][k, : ns[k]] for k in range(B)], g_kl=[r["g_kl"][k, : ms[k]] for k in range(B)],
        mass=r["mass"], info={"ragged": True, "tiled": tiled, "dtype": str(dt)},
    )


def sinkhorn(
    a: Any,
    b: Any,
    M: Any = None,
    eps: Any = None,
    *,
    x: Any = None,
    y: Any = None,
    metric: str = "sqeuclidean",
    p: float = 1.0,
    tol: float = 1e-6,
    max_iter: int = 1000,
    method: str = "log",
    kernel: str = "auto",
    eps_scaling: Optional[float] = None,
    eps_init: Optional[float] = None,
    warm_start: Any = None,
    plan: bool = False,
    check_every: int = 10,
    accelerate: bool = False,
    dtype: Optional[Any] = None,
    n_threads: Optional[int] = None,
    device: str = "cpu",
) -> SinkhornResult:
    r"""Entropic optimal transport by log-domain stabilised Sinkhorn.

    Solves (POT's ``sinkhorn`` with ``reg = eps``)

    .. math::
        \min_{P \ge 0}\; \langle P, M\rangle + \varepsilon \sum_{ij} P_{ij}\log P_{ij}
        \quad\text{s.t.}\quad P\mathbf 1 = a,\; P^\top\mathbf 1 = b,

    whose solution is :math:`P_{ij} = \exp((f_i + g_j - M_{ij})/\varepsilon)`.
    Each iteration updates f (rows) then g (columns) in the log domain and
    stops when :math:`\|P^\top\mathbf 1 - b\|_2 <` ``tol`` after the row
    update (POT's rule).  ``tol=0`` (POT's ``stopThr=0``) never stops early:
    exactly ``max_iter`` iterations run, and the non-convergence warning is
    given.

    Methods
    -------
    ``"log"`` (default)
        Stabilised scaling (Schmitzer 2019): the Gibbs kernel of the current
        potentials is stored (float32 when large and ``tol`` allows, else
        float64; ``kernel=`` forces one) and iterated by matrix-vector
        products; the scalings are absorbed into the potentials, and the
        kernel rebuilt in the log domain, whenever they leave
        :math:`[e^{-16}, e^{16}]`.  The costs, objective and potentials are
        then computed exactly in double.  Stable at any eps.
    ``"lse"``
        One log-sum-exp pass over M per iteration (no stored kernel).
    tiled
        With ``x=`` and ``y=`` instead of ``M``: costs are computed on the
        fly in tiles (``metric``, ``p``) and never stored, so memory is
        :math:`O(n + m)` per problem.

    Parameters
    ----------
    a, b : array (..., n), (..., m) or None
        Weights (None: uniform).  Zero weights are allowed.
    M : array (..., n, m), optional
        Costs.  Leading dimensions of all inputs (and of an ``eps`` array)
        broadcast into a batch in which each problem stops on its own.  Lists
        of arrays of different sizes form a ragged batch.
    eps : float or array
        Entropic regularisation, > 0 (POT's ``reg``); an array gives one per
        problem of a batch.
    x, y : array (..., n, d), (..., m, d), optional
        Points, for the tiled mode (instead of ``M``).
    metric, p : str, float
        Ground cost of the tiled mode (see :func:`cost_matrix`).
    tol : float
        >= 0; 0 runs ``max_iter`` iterations.
    max_iter : int
        At ``max_iter`` the iterate after the last row update is returned
        (POT's), status ``"max_iter"``.
    eps_scaling : float in (0, 1), optional
        Solve a sequence :math:`\varepsilon_k = \max(\varepsilon,
        \varepsilon_0 q^k)` from ``eps_init`` (default: the cost spread),
        each warm-starting the next (intermediate stages to 1e-3).
    warm_start : SinkhornResult or (f, g), optional
        Starting potentials (only g is used by the first row update).
    plan : bool
        Also return the dense plan.
    check_every : int
        Run the stopping test every this many iterations.  10 (default) is
        POT's rule, so the result is POT's iterate (to rounding); 1 stops as
        soon as ``tol`` is met (the test is free here).
    accelerate : bool
        Over-relaxed iterations (Thibault et al. 2017): after a few plain
        iterations :math:`\omega = 2/(1 + \sqrt{1 - \rho})` from the observed
        error rate :math:`\rho`, back to 1 if the error stalls; the test then
        bounds both marginals.  Often several times fewer iterations at small
        eps; the iterates are no longer POT's (the tolerance met is the same).
    dtype : float32 or float64, optional
    n_threads : int, optional
        Results do not depend on it.
    device : {"cpu", "cuda"}
        ``"cuda"`` runs the CUDA kernels (balanced problems: a batch of dense
        problems, or one tiled problem from float32 points); the fields
        ``objective``, ``f_kl``, ``g_kl`` and ``plan`` are then not computed.

    Returns
    -------
    SinkhornResult

    Raises
    ------
    ValueError
        eps <= 0; for a single problem negative/NaN/Inf weights, an empty
        set, unequal masses (use :func:`unbalanced_sinkhorn`) or NaN/Inf
        costs; shapes that do not match.  A problem that does not converge
        gets ``status="max_iter"`` and a :class:`ConvergenceWarning`.
    """
    if eps is None:
        raise TypeError("sinkhorn: missing the argument eps")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device: expected 'cpu' or 'cuda', got {device!r}")
    if device == "cuda":
        return _sinkhorn_cuda(a, b, M, x, y, eps, metric, p, tol, max_iter, check_every)
    return _run(a, b, M, x, y, eps, metric=metric, p=p, tol=tol, max_iter=max_iter, eps_scaling=eps_scaling,
                eps_init=eps_init, kernel=kernel, method=method, warm_start=warm_start, plan=plan, dtype=dtype,
                n_threads=n_threads, check_every=check_every, accelerate=accelerate, what="sinkhorn")


def _sinkhorn_cuda(a, b, M, x, y, eps, metric, p, tol, max_iter, check_every) -> SinkhornResult:
    from . import _cuda_backend as cb

    tol = check_positive_scalar(tol, "tol", allow_zero=True)
    if M is None:
        xa = as_float_array(x, "x", np.float32, ndims=(2,))
        ya = as_float_array(y, "y", np.float32, ndims=(2,))
        aa, bb = batch_weights(a, xa.shape[0], "a"), batch_weights(b, ya.shape[0], "b")
        check_balanced(check_weights(aa, "a"), check_weights(bb, "b"))
        r = cb.sinkhorn_tiled_cuda(xa, ya, aa, bb, check_positive_scalar(eps, "eps"), metric_code(metric, float(p)),
                                   float(p), tol, int(max_iter), int(check_every))
        bshape: Tuple[int, ...] = ()
        n, m = xa.shape[0], ya.shape[0]
    else:
        Ma = as_float_array(M, "M", data_dtype(None, M), ndims=tuple(range(2, 8)))
        n, m = Ma.shape[-2:]
        aa, bb = batch_weights(a, n, "a"), batch_weights(b, m, "b")
        bshape = batch_shape_of([aa.shape[:-1], bb.shape[:-1], Ma.shape[:-2], np.shape(eps)], ["a", "b", "M", "eps"])
        B = int(np.prod(bshape)) if bshape else 1
        e = np.ascontiguousarray(np.broadcast_to(np.asarray(eps, dtype=np.float64), bshape).reshape(B))
        if np.any(~np.isfinite(e)) or np.any(e <= 0):
            raise ValueError("eps: expected finite values > 0")
        A = np.ascontiguousarray(np.broadcast_to(aa, bshape + (n,)).reshape(B, n))
        Bw = np.ascontiguousarray(np.broadcast_to(bb, bshape + (m,)).reshape(B, m))
        if np.any(A <= 0) or np.any(Bw <= 0):
            raise ValueError("a, b: the CUDA kernels need positive weights")
        Mb = np.ascontiguousarray(np.broadcast_to(Ma, bshape + (n, m)).reshape(B, n, m))
        r = cb.sinkhorn_batch_cuda(Mb, A, Bw, e, tol, int(max_iter), int(check_every))
    codes = r["status"]
    warn_statuses(codes, "sinkhorn(device='cuda')", stacklevel=4)
    return SinkhornResult(
        cost=reshape_out(r["cost"], bshape), objective=None, f=reshape_out(r["f"], bshape, (n,)),
        g=reshape_out(r["g"], bshape, (m,)), plan=None, n_iter=reshape_out(r["n_iter"], bshape),
        err=reshape_out(r["err"], bshape), status=reshape_out(status_strings(codes), bshape),
        status_code=reshape_out(codes, bshape), success=reshape_out(codes == 1, bshape),
        info={"device": "cuda", "tiled": M is None})


def unbalanced_sinkhorn(
    a: Any,
    b: Any,
    M: Any = None,
    eps: Any = None,
    rho: Any = None,
    *,
    rho_b: Optional[float] = None,
    reg_type: str = "kl",
    x: Any = None,
    y: Any = None,
    metric: str = "sqeuclidean",
    p: float = 1.0,
    tol: float = 1e-6,
    max_iter: int = 1000,
    method: str = "log",
    kernel: str = "auto",
    warm_start: Any = None,
    plan: bool = False,
    check_every: int = 10,
    dtype: Optional[Any] = None,
    n_threads: Optional[int] = None,
) -> SinkhornResult:
    r"""Unbalanced entropic OT with KL-relaxed marginals.

    Solves (POT's ``sinkhorn_unbalanced`` with ``reg = eps``, ``reg_m = rho``)

    .. math::
        \min_{P \ge 0}\; \langle P, M\rangle + \varepsilon\,KL(P\,|\,c)
        + \rho_a\,KL(P\mathbf 1\,|\,a) + \rho_b\,KL(P^\top\mathbf 1\,|\,b),

    with :math:`c = a b^\top` (``reg_type="kl"``, POT's default) or
    :math:`c = \mathbf 1\mathbf 1^\top` (``"entropy"``), by the log-domain
    scaling iteration of Chizat et al. (2018):
    :math:`f \leftarrow \lambda(\varepsilon\log a - \varepsilon\,\mathrm{LSE}_j((g_j - M_{ij})/\varepsilon))
    + (1 - \lambda)\varepsilon\log c^{row}_i`, :math:`\lambda = \rho/(\rho+\varepsilon)`.
    Stops when the potentials change by less than ``tol * eps``.

    Parameters
    ----------
    rho : float
        Marginal relaxation (POT's ``reg_m``), > 0; ``np.inf`` is a hard
        constraint.  ``rho_b`` (default ``rho``) sets the second marginal's.
    Other parameters are as in :func:`sinkhorn`.

    Returns
    -------
    SinkhornResult
        ``cost`` is POT's linear cost :math:`\langle P, M\rangle`,
        ``objective`` the full objective above with the generalised KL
        :math:`\sum x\log(x/y) - x + y`.
    """
    if eps is None or rho is None:
        raise TypeError("unbalanced_sinkhorn: the arguments eps and rho are required")
    ra = float(rho)
    rb = ra if rho_b is None else float(rho_b)
    for v, nm in ((ra, "rho"), (rb, "rho_b")):
        if not v > 0:
            raise ValueError(f"{nm}: expected a value > 0 (np.inf for a hard marginal), got {v!r}")
    return _run(a, b, M, x, y, eps, metric=metric, p=p, tol=tol, max_iter=max_iter, rho_a=ra, rho_b=rb,
                reg_type=reg_type, kernel=kernel, method=method, warm_start=warm_start, plan=plan, dtype=dtype,
                n_threads=n_threads, check_every=check_every, what="unbalanced_sinkhorn")


@dataclass
class DivergenceResult:
    r"""Result of :func:`sinkhorn_divergence`.

    Attributes
    ----------
    value : float
        :math:`S_\varepsilon(a, b) = OT_\varepsilon(a, b) - \tfrac12 OT_\varepsilon(a, a)
        - \tfrac12 OT_\varepsilon(b, b)` with :math:`OT_\varepsilon` the
        regularised objective (Feydy et al. 2019): >= 0, 0 iff a = b.
    value_linear : float
        POT's ``empirical_sinkhorn_divergence``: the same combination of the
        linear costs :math:`\langle P, M\rangle`, clipped at 0.
    ab, aa, bb : SinkhornResult
        The three problems.
    grad_a, grad_b : ndarray
        Gradients of ``value`` with respect to the weights along the simplex
        (centred :math:`\tilde f_{ab} - \tilde f_{aa}`).
    """

    value: float
    value_linear: float
    ab: SinkhornResult
    aa: SinkhornResult
    bb: SinkhornResult
    grad_a: np.ndarray
    grad_b: np.ndarray


def sinkhorn_divergence(
    a: Any,
    b: Any,
    M: Any = None,
    eps: Any = None,
    *,
    x: Any = None,
    y: Any = None,
    M_aa: Any = None,
    M_bb: Any = None,
    metric: str = "sqeuclidean",
    p: float = 1.0,
    tol: float = 1e-6,
    max_iter: int = 1000,
    method: str = "auto",
    check_every: int = 10,
    n_threads: Optional[int] = None,
) -> DivergenceResult:
    r"""Debiased Sinkhorn divergence.

    .. math::
        S_\varepsilon(a, b) = OT_\varepsilon(a, b) - \tfrac12 OT_\varepsilon(a, a)
        - \tfrac12 OT_\varepsilon(b, b).

    Give the points (``x``, ``y``: the three cost matrices are formed, or
    tiled when large) or the three cost matrices (``M``, ``M_aa``, ``M_bb``,
    the last two symmetric).  The self-transport terms use the averaged
    symmetric iteration of Feydy et al. (2019), which converges in tens of
    iterations where alternating updates need thousands.

    Returns
    -------
    DivergenceResult
    """
    if eps is None:
        raise TypeError("sinkhorn_divergence: missing the argument eps")
    kw = dict(tol=tol, max_iter=max_iter, n_threads=n_threads, check_every=check_every)
    if M is None:
        if x is None or y is None:
            raise ValueError("x, y: give the points, or the cost matrices M, M_aa and M_bb")
        if method not in ("auto", "dense", "tiled"):
            raise ValueError(f"method: expected 'auto', 'dense' or 'tiled', got {method!r}")
        xa, ya = np.asarray(x), np.asarray(y)
        big = max(xa.shape[0], ya.shape[0]) ** 2 > _DENSE_LIMIT
        if method == "tiled" or (method == "auto" and big):
            ab = _run(a, b, None, xa, ya, eps, metric=metric, p=p, what="sinkhorn_divergence", **kw)
            aa = _run(a, a, None, xa, xa, eps, metric=metric, p=p, symmetric=True, what="sinkhorn_divergence", **kw)
            bb = _run(b, b, None, ya, ya, eps, metric=metric, p=p, symmetric=True, what="sinkhorn_divergence", **kw)
        else:
            ab = _run(a, b, cost_matrix(xa, ya, metric, p=p), None, None, eps, what="sinkhorn_divergence", **kw)
            aa = _run(a, a, cost_matrix(xa, xa, metric, p=p), None, None, eps, symmetric=True,
                      what="sinkhorn_divergence", **kw)
            bb = _run(b, b, cost_matrix(ya, ya, metric, p=p), None, None, eps, symmetric=True,
                      what="sinkhorn_divergence", **kw)
    else:
        if M_aa is None or M_bb is None:
            raise ValueError("M_aa, M_bb: the divergence needs the costs within a and within b too")
        ab = _run(a, b, M, None, None, eps, what="sinkhorn_divergence", **kw)
        aa = _run(a, a, M_aa, None, None, eps, symmetric=True, what="sinkhorn_divergence", **kw)
        bb = _run(b, b, M_bb, None, None, eps, symmetric=True, what="sinkhorn_divergence", **kw)
    value = ab.objective - 0.5 * (aa.objective + bb.objective)
    lin = np.maximum(0.0, ab.cost - 0.5 * (aa.cost + bb.cost))
    ga = ab.f_kl - 0.5 * (aa.f_kl + aa.g_kl)
    gb = ab.g_kl - 0.5 * (bb.f_kl + bb.g_kl)
    return DivergenceResult(value=value, value_linear=lin, ab=ab, aa=aa, bb=bb, grad_a=centred(ga),
                            grad_b=centred(gb))
