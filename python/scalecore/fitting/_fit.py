"""``scalecore.fit``: batched Levenberg-Marquardt fitting."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core
from .._array import as_float_array, as_mask, check_batch_shape, float_dtype, to_numpy
from ._law import Law, evaluate, input_arrays, resolve_law

__all__ = ["fit", "FitResult", "STATUS_NAMES", "LOSSES", "RESIDUALS"]

# Keep in step with cpp/include/scalecore/fit/types.h (Status).
STATUS_NAMES = {
    0: "not_run",
    1: "gtol",
    2: "ftol",
    3: "xtol",
    4: "max_iter",
    5: "non_finite",
    6: "singular",
    7: "bad_input",
}
_CONVERGED = (1, 2, 3)
LOSSES = {"linear": 0, "huber": 1, "soft_l1": 2, "cauchy": 3, "arctan": 4}
RESIDUALS = {"linear": 0, "log": 1}
_VECTORIZE = {"auto": 0, "points": 1, "fits": 2}
_DAMPING = {"nielsen": 0, "more": 1}


@dataclass
class FitResult:
    """The result of :func:`scalecore.fit`.

    For a 2-D ``y`` of B problems the arrays have a leading batch dimension;
    for a 1-D ``y`` it is dropped (``params`` is (P,), ``cost`` a float, ...).

    Attributes
    ----------
    params : ndarray, (B, P)
        The solution (of the best start, with several starts).
    param_names : tuple of str
    cost : ndarray, (B,)
        scipy's meaning: ``0.5 * sum(rho(r_i**2))``, ``0.5 * sum(r_i**2)`` for the
        linear loss, with r the weighted residuals.
    status : ndarray of str, (B,)
        ``"gtol"``, ``"ftol"`` or ``"xtol"`` (converged by that test),
        ``"max_iter"``, ``"non_finite"``, ``"singular"`` or ``"bad_input"``.
    status_code : ndarray of int8
    success : ndarray of bool
        Converged (gtol, ftol or xtol).
    n_iter, nfev : ndarray of int32
        Trial steps taken and evaluations made.
    stderr : ndarray, (B, P) or None
        Standard errors, ``sqrt(diag(covariance))``.
    covariance : ndarray, (B, P, P) or None
        ``s^2 (J^T J)^-1`` over the free parameters, ``s^2 = 2 cost / (m - p_free)``
        (1 with ``absolute_sigma``).  A parameter on a bound is held fixed: its
        row and column are NaN.  A singular system, or too few points, gives inf.
    best_start : ndarray of int, (B,) or None
        Index of the start each solution came from (with ``starts``).
    all_params, all_cost, all_status : ndarray or None
        Every start's result, (B, S, ...), with ``return_all=True``.
    info : dict
        Which kernel ran: SIMD ``level`` and ``vectorize`` mode, dtype, device.
    """

    law: Law
    params: np.ndarray
    param_names: Tuple[str, ...]
    cost: Any
    status: Any
    status_code: Any
    success: Any
    n_iter: Any
    nfev: Any
    stderr: Optional[np.ndarray] = None
    covariance: Optional[np.ndarray] = None
    best_start: Optional[np.ndarray] = None
    all_params: Optional[np.ndarray] = None
    all_cost: Optional[np.ndarray] = None
    all_status: Optional[np.ndarray] = None
    info: Dict[str, Any] = field(default_factory=dict)
    n_points: Any = None

    def __getitem__(self, name: str) -> np.ndarray:
        """The values of one parameter by name: ``res["alpha"]``."""
        if name not in self.param_names:
            raise KeyError(f"{name!r} is not a parameter ({list(self.param_names)})")
        return self.params[..., self.param_names.index(name)]

    def predict(self, x: Any) -> np.ndarray:
        """Evaluate the fitted law at new inputs.

        Parameters
        ----------
        x : array or mapping
            As for :func:`fit`: (M,) shared by every problem or (B, M).

        Returns
        -------
        ndarray
            (M,) for a single problem, else (B, M).
        """
        return evaluate(self.law, x, self.params)

    def to_pandas(self):
        """One row per problem: parameters, standard errors, cost, status,
        iterations and evaluations."""
        import pandas as pd

        P = np.atleast_2d(self.params)
        data: Dict[str, Any] = {}
        for i, nm in enumerate(self.param_names):
            data[nm] = P[:, i]
        if self.stderr is not None:
            SE = np.atleast_2d(self.stderr)
            for i, nm in enumerate(self.param_names):
                data[f"{nm}_stderr"] = SE[:, i]
        data["cost"] = np.atleast_1d(self.cost)
        data["status"] = np.atleast_1d(self.status)
        data["success"] = np.atleast_1d(self.success)
        data["n_iter"] = np.atleast_1d(self.n_iter)
        data["nfev"] = np.atleast_1d(self.nfev)
        if self.n_points is not None:
            data["n_points"] = np.atleast_1d(self.n_points)
        return pd.DataFrame(data)

    def __repr__(self) -> str:
        n = 1 if np.ndim(self.cost) == 0 else len(self.cost)
        ok = int(np.sum(self.success))
        return (f"FitResult(law={self.law.name!r}, problems={n}, converged={ok}, "
                f"params={list(self.param_names)})")


def _params_array(v: Any, name: str, P: int, B: int, dtype: np.dtype) -> np.ndarray:
    a = as_float_array(v, name, dtype, ndims=(1, 2))
    if a.shape[-1] != P:
        raise ValueError(f"{name}: expected {P} values per problem, got shape {a.shape}")
    if a.ndim == 2 and a.shape[0] != B:
        raise ValueError(f"{name}: expected shape ({P},) or ({B}, {P}), got {a.shape}")
    return a


def _bounds_arrays(bounds: Any, law: Law, B: int, dtype: np.dtype):
    P = law.n_params
    if bounds is None:
        return None, None
    if isinstance(bounds, str):
        if bounds != "default":
            raise ValueError(f"bounds: expected None, 'default', (lower, upper) or a mapping, got {bounds!r}")
        lo, hi = law.default_bounds
    elif isinstance(bounds, Mapping):
        lo = np.full(P, -np.inf)
        hi = np.full(P, np.inf)
        for k, v in bounds.items():
            if k not in law.param_names:
                raise ValueError(f"bounds: {k!r} is not a parameter of law {law.name!r} ({list(law.param_names)})")
            try:
                a, b = v
            except (TypeError, ValueError):
                raise ValueError(f"bounds[{k!r}]: expected a (lower, upper) pair, got {v!r}") from None
            i = law.param_names.index(k)
            lo[i], hi[i] = float(a), float(b)
    else:
        try:
            lo, hi = bounds
        except (TypeError, ValueError):
            raise ValueError("bounds: expected None, 'default', (lower, upper) or a mapping "
                             "of parameter name to (lower, upper)") from None
    lo = as_float_array(lo, "bounds (lower)", dtype, ndims=(0, 1, 2))
    hi = as_float_array(hi, "bounds (upper)", dtype, ndims=(0, 1, 2))
    try:
        lo = np.broadcast_to(lo, (P,) if lo.ndim < 2 else (B, P))
        hi = np.broadcast_to(hi, (P,) if hi.ndim < 2 else (B, P))
    except ValueError:
        bad = lo if lo.shape not in ((), (P,), (B, P)) else hi
        raise ValueError(f"bounds: expected ({P},) or ({B}, {P}) values, got {bad.shape}") from None
    if lo.shape != hi.shape:
        lo, hi = np.broadcast_arrays(lo, hi)
    if lo.shape not in ((P,), (B, P)):
        raise ValueError(f"bounds: expected ({P},) or ({B}, {P}) values, got {lo.shape}")
    if np.any(np.isnan(lo)) or np.any(np.isnan(hi)):
        raise ValueError("bounds: NaN is not a bound (use -inf or inf for none)")
    bad = np.argwhere(np.atleast_2d(lo > hi))
    if bad.size:
        b, k = bad[0]
        raise ValueError(f"bounds: lower > upper for parameter {law.param_names[k]!r}"
                         + (f" of problem {b}" if lo.ndim == 2 else "")
                         + f" ({np.atleast_2d(lo)[b, k]} > {np.atleast_2d(hi)[b, k]})")
    return np.ascontiguousarray(lo), np.ascontiguousarray(hi)


def _select_best(cost: np.ndarray, status: np.ndarray) -> np.ndarray:
    """Index of the start with the lowest finite cost per problem; starts with
    status bad_input or non_finite never win unless all are."""
    c = np.where(np.isfinite(cost) & (status != 7) & (status != 5), cost, np.inf)
    return np.argmin(c, axis=1)


def fit(
    law: Union[Law, str],
    x: Any,
    y: Any,
    *,
    p0: Any = None,
    starts: Any = None,
    sigma: Any = None,
    mask: Any = None,
    bounds: Any = None,
    loss: str = "linear",
    f_scale: float = 1.0,
    residual: str = "linear",
    max_iter: int = 200,
    xtol: float = 1e-10,
    ftol: float = 1e-10,
    gtol: float = 1e-10,
    dtype: Any = None,
    device: str = "cpu",
    n_threads: Optional[int] = None,
    progress: bool = False,
    return_all: bool = False,
    covariance: bool = True,
    absolute_sigma: bool = False,
    geodesic: bool = False,
    vectorize: str = "auto",
    center: bool = True,
    damping: str = "nielsen",
    factor: float = 100.0,
) -> FitResult:
    r"""Fit a law to many problems at once by Levenberg-Marquardt.

    Each problem b minimises

    .. math:: \tfrac12 \sum_i c^2 \rho\big(r_{bi}^2 / c^2\big), \qquad
              r_{bi} = (f(x_{bi}; p_b) - y_{bi}) / \sigma_{bi}

    (``residual="log"``: :math:`r = (\log f - \log y)/\sigma`), with
    :math:`\rho` the robust ``loss`` and :math:`c` = ``f_scale`` as in
    ``scipy.optimize.least_squares``.  Problems are independent: a bad one gets
    a status and never disturbs the others.

    Parameters
    ----------
    law : Law, str
        A :class:`Law`, a catalogue name (see ``scalecore.laws``) or an
        expression string (its inputs are the keys of ``x``).
    x : array or mapping of str to array
        The inputs, each (M,) (shared by the batch) or (B, M).  A one-input law
        takes a bare array.  float32/float64; integers are converted.
    y : array, (B, M) or (M,)
        Data.  NaN marks a missing point (as does a NaN in x or sigma).
    p0 : array, (P,) or (B, P), optional
        Start.  Default: the law's heuristic (built-ins) or all ones
        (expressions).
    starts : array, (S, P) or (B, S, P), optional
        Several starts per problem (not with ``p0``).  All are fitted; the
        lowest-cost result is returned, every start's with ``return_all``.
    sigma : array, scalar, (M,) or (B, M), optional
        Standard deviations; residuals are divided by them.
    mask : bool array, (M,) or (B, M), optional
        False marks a point to ignore (ragged problems).
    bounds : None, "default", (lower, upper) or mapping, optional
        Box bounds: scalars or arrays (P,) or (B, P), or a mapping of
        parameter name to (lower, upper).  ``"default"`` uses the law's.  The
        method is a projected LM with an active set: a parameter on a bound
        whose gradient points out of the box is held for that step, and every
        trial point is clipped into the box, so solutions always satisfy the
        bounds.
    loss : {"linear", "huber", "soft_l1", "cauchy", "arctan"}
    f_scale : float
        Soft margin between inlier and outlier residuals (scipy's meaning).
    residual : {"linear", "log"}
        ``"log"`` fits log y (y must be > 0), as scaling laws usually are.
    max_iter : int
        Trial steps per problem.
    xtol, ftol, gtol : float
        MINPACK's tests: the scaled step, the relative reduction of the cost
        (actual and predicted), and the cosine between residuals and Jacobian
        columns.  Raised to a few ulps of the dtype if smaller.
    dtype : {None, float32, float64}
        Precision; by default float32 for float32 data, else float64.
    device : {"cpu", "cuda"}
    n_threads : int, optional
        Threads for this call (default: the pool size).  Results do not depend
        on it.
    progress : bool
        Show a tqdm progress bar (the batch runs in chunks).
    return_all : bool
        With ``starts``: also return every start's params, cost and status.
    covariance : bool
        Compute ``covariance`` and ``stderr``.
    absolute_sigma : bool
        Treat ``sigma`` as absolute (no rescaling of the covariance).
    geodesic : bool
        Geodesic acceleration (Transtrum & Sethna 2012): one extra evaluation
        per step, fewer steps along curved valleys.
    vectorize : {"auto", "points", "fits"}
        CPU SIMD strategy (AVX2 level): lanes over a fit's points, or one lane
        per fit.  ``"auto"`` picks one lane per fit up to 256 points per
        problem in float64 (128 in float32), where it was measured faster.
    center : bool
        Built-in laws only: solve internally with each log-feature shifted by
        its mean and the scale parameters mapped accordingly (A' = A N0^-alpha
        for A N^-alpha).  The objective, its optimum and the returned
        parameters are unchanged; the A-alpha valley is far better conditioned,
        so fits take about half the steps.  Skipped for a problem whose bounds
        the map would not keep a box.
    damping : {"nielsen", "more"}
        How the Levenberg-Marquardt parameter is chosen.  ``"nielsen"`` (the
        default, fastest on scaling laws) updates it from the gain ratio
        (Nielsen 1999).  ``"more"`` is MINPACK's trust region (More 1978,
        ``lmder``, what ``scipy.optimize.least_squares(method="lm")`` runs):
        the step is bounded by a radius in the scaled norm
        :math:`|D^{1/2} s|`, the parameter is solved for so the step meets the
        radius, and the radius follows the gain ratio.  Like MINPACK it
        takes its steps from a triangular factor of J (Givens rotations
        per point), not from J^T J, so ill-conditioned Jacobians keep their
        accuracy; each evaluation costs more than with ``"nielsen"``.  It is
        the robust choice for curved valleys (NIST MGH10 from its first
        start).  Not combinable with ``geodesic``.
    factor : float
        ``damping="more"`` only: the initial radius is
        ``factor * |D^{1/2} p0|`` (MINPACK's ``factor``, default 100).

    Returns
    -------
    FitResult

    Raises
    ------
    ValueError
        Mismatched shapes, a ``p0``/``starts`` of the wrong length, lower >
        upper, an unknown law, an unparsable expression, or fewer points than
        parameters in an unmasked problem.
    TypeError
        Inputs that cannot be converted to floating arrays.

    Notes
    -----
    Bad data inside a batch is not an exception: +-inf in x, y or sigma,
    sigma <= 0, a non-positive value under a log (log input transform or
    ``residual="log"``), or fewer valid points than free parameters give that
    problem ``status="bad_input"`` and NaN params.
    """
    law = resolve_law(law, x)
    P = law.n_params
    yarr = to_numpy(y, "y")
    dt = float_dtype(dtype, yarr)
    y2 = as_float_array(yarr, "y", dt)
    single = y2.ndim == 1
    if single:
        y2 = y2[None, :]
    B, M = y2.shape
    xs = input_arrays(law, x, dt)
    for k, a in enumerate(xs):
        check_batch_shape(a, f"x[{law.input_names[k]!r}]", B, M)
    mk = None
    if mask is not None:
        mk = as_mask(mask, "mask")
        check_batch_shape(mk, "mask", B, M)
    sg = None
    if sigma is not None:
        sg = as_float_array(sigma, "sigma", dt, ndims=(0, 1, 2))
        if sg.ndim == 0:
            sg = np.full(M, sg, dtype=dt)
        check_batch_shape(sg, "sigma", B, M)
    if mk is None and M < P:
        raise ValueError(f"y: each problem has M={M} points but law {law.name!r} has {P} parameters "
                         f"{list(law.param_names)}; at least {P} points are needed")
    if p0 is not None and starts is not None:
        raise ValueError("p0, starts: give one of them, not both")
    st = None
    if p0 is not None:
        a = _params_array(p0, "p0", P, B, dt)
        st = a[None, :] if a.ndim == 1 else np.ascontiguousarray(a[:, None, :])
    elif starts is not None:
        st = as_float_array(starts, "starts", dt, ndims=(2, 3))
        if st.shape[-1] != P:
            raise ValueError(f"starts: expected {P} values per start (law {law.name!r}: {list(law.param_names)}), "
                             f"got shape {st.shape}")
        if st.ndim == 3 and st.shape[0] != B:
            raise ValueError(f"starts: expected shape (S, {P}) or ({B}, S, {P}), got {st.shape}")
        if st.shape[-2] == 0:
            raise ValueError("starts: expected at least one start")
    lo, hi = _bounds_arrays(bounds, law, B, dt)
    if loss not in LOSSES:
        raise ValueError(f"loss: expected one of {list(LOSSES)}, got {loss!r}")
    if residual not in RESIDUALS:
        raise ValueError(f"residual: expected one of {list(RESIDUALS)}, got {residual!r}")
    if vectorize not in _VECTORIZE:
        raise ValueError(f"vectorize: expected one of {list(_VECTORIZE)}, got {vectorize!r}")
    if not (isinstance(f_scale, (int, float, np.floating)) and np.isfinite(f_scale) and f_scale > 0):
        raise ValueError(f"f_scale: expected a finite number > 0, got {f_scale!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
        raise ValueError(f"max_iter: expected an integer >= 0, got {max_iter!r}")
    for nm, v in (("xtol", xtol), ("ftol", ftol), ("gtol", gtol)):
        if not (isinstance(v, (int, float, np.floating)) and v >= 0):
            raise ValueError(f"{nm}: expected a number >= 0, got {v!r}")
    if n_threads is not None and (isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer))
                                  or n_threads < 1):
        raise ValueError(f"n_threads: expected an integer >= 1, got {n_threads!r}")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device: expected 'cpu' or 'cuda', got {device!r}")
    if damping not in _DAMPING:
        raise ValueError(f"damping: expected one of {list(_DAMPING)}, got {damping!r}")
    if not (isinstance(factor, (int, float, np.floating)) and not isinstance(factor, bool)
            and np.isfinite(factor) and factor > 0):
        raise ValueError(f"factor: expected a finite number > 0, got {factor!r}")
    if damping == "more" and geodesic:
        raise ValueError("geodesic: the geodesic acceleration is not available with damping='more'")

    opts = dict(max_iter=int(max_iter), xtol=float(xtol), ftol=float(ftol), gtol=float(gtol),
                loss=LOSSES[loss], f_scale=float(f_scale), residual=RESIDUALS[residual],
                geodesic=bool(geodesic), damping_init=1e-3, vectorize=_VECTORIZE[vectorize],
                n_threads=int(n_threads or 0), center=bool(center), damping=_DAMPING[damping],
                factor=float(factor))
    if device == "cuda":
        from ._cuda_backend import fit_batch_cuda
        raw = fit_batch_cuda(law, xs, y2, mk, sg, st, lo, hi, opts)
    else:
        # float64 single-start fits get their covariance from the fit pass
        # itself (the prepared points are still in cache); others below.
        cov_opts = dict(covariance=2 if covariance else 0, absolute_sigma=bool(absolute_sigma))
        raw = _run_cpu(law, xs, y2, mk, sg, st, lo, hi, dict(opts, **cov_opts), progress)
    S = int(raw["S"])
    params = raw["params"].reshape(B, S, P)
    cost = raw["cost"].reshape(B, S)
    code = raw["status"].reshape(B, S)
    n_iter = raw["n_iter"].reshape(B, S)
    nfev = raw["nfev"].reshape(B, S)
    if S > 1:
        best = _select_best(cost, code)
        rows = np.arange(B)
        bp = np.ascontiguousarray(params[rows, best])
        bc, bs, b_iter, b_fev = cost[rows, best], code[rows, best], n_iter[rows, best], nfev[rows, best]
    else:  # one start: the solver's arrays are the result (views, no copies; docs/memory.md)
        best = None
        bp, bc, bs, b_iter, b_fev = params[:, 0], cost[:, 0], code[:, 0], n_iter[:, 0], nfev[:, 0]
    cov = se = None
    if covariance and raw.get("stderr") is not None:
        cov, se = raw["covariance"], raw["stderr"]
        bad = (bs == 7) | ~np.isfinite(bc)
        if bad.any():
            cov[bad] = np.nan
            se[bad] = np.nan
    elif covariance:
        cov, se = _core.fit_covariance(law._handle, xs, y2, mk, sg, lo, hi, bp, LOSSES[loss], float(f_scale),
                                       RESIDUALS[residual], bool(absolute_sigma), True, int(n_threads or 0))
        bad = (bs == 7) | ~np.isfinite(bc)
        if bad.any():
            cov[bad] = np.nan
            se[bad] = np.nan
    names = np.array([STATUS_NAMES[int(c)] for c in range(8)])  # <U: names[bs] is the status column directly
    # Counted by the C++ preparation (CUDA: here).
    n_points = raw["n_points"] if "n_points" in raw else _count_points(xs, y2, mk, sg, B, M)
    res = FitResult(
        law=law,
        params=bp,
        param_names=law.param_names,
        cost=bc,
        status=names[bs],
        status_code=bs.astype(np.int8, copy=False),
        success=np.isin(bs, _CONVERGED),
        n_iter=b_iter,
        nfev=b_fev,
        stderr=se,
        covariance=cov,
        best_start=(best if best is not None else np.zeros(B, dtype=np.intp)) if starts is not None else None,
        info={"level": raw.get("level"), "vectorize": raw.get("vectorize"), "dtype": str(np.dtype(dt)),
              "device": device, "starts": S},
        n_points=n_points,
    )
    if return_all:
        res.all_params, res.all_cost, res.all_status = params, cost, names[code]
    if single:
        res = _squeeze(res)
    return res


def _count_points(xs, y2, mk, sg, B, M) -> np.ndarray:
    ok = ~np.isnan(y2)
    for a in xs:
        ok = ok & ~np.isnan(np.broadcast_to(a, (B, M)))
    if sg is not None:
        ok = ok & ~np.isnan(np.broadcast_to(sg, (B, M)))
    if mk is not None:
        ok = ok & np.broadcast_to(mk.astype(bool), (B, M))
    return ok.sum(axis=1)


def _squeeze(r: FitResult) -> FitResult:
    r.params = r.params[0]
    r.cost = r.cost[0]
    r.status = str(r.status[0])
    r.status_code = r.status_code[0]
    r.success = bool(r.success[0])
    r.n_iter = int(r.n_iter[0])
    r.nfev = int(r.nfev[0])
    r.n_points = int(r.n_points[0])
    if r.stderr is not None:
        r.stderr = r.stderr[0]
    if r.covariance is not None:
        r.covariance = r.covariance[0]
    if r.best_start is not None:
        r.best_start = r.best_start[0]
    if r.all_params is not None:
        r.all_params, r.all_cost, r.all_status = r.all_params[0], r.all_cost[0], r.all_status[0]
    return r


def _run_cpu(law, xs, y2, mk, sg, st, lo, hi, opts, progress: bool) -> Dict[str, Any]:
    B = y2.shape[0]
    args = dict(mask=mk, sigma=sg, starts=st, lo=lo, hi=hi)
    if not progress or B < 2:
        return _core.fit_batch(law._handle, xs, y2, **args, **opts)
    from tqdm.auto import tqdm

    n_chunks = min(B, 50)
    edges = np.linspace(0, B, n_chunks + 1).astype(int)
    parts = []
    with tqdm(total=B, desc=f"fit {law.name}", unit="fit") as bar:
        for a, b in zip(edges[:-1], edges[1:]):
            if b <= a:
                continue
            sl = slice(a, b)
            part = _core.fit_batch(
                law._handle,
                [v[sl] if v.ndim == 2 else v for v in xs],
                y2[sl],
                mask=None if mk is None else (mk[sl] if mk.ndim == 2 else mk),
                sigma=None if sg is None else (sg[sl] if sg.ndim == 2 else sg),
                starts=None if st is None else (st[sl] if st.ndim == 3 else st),
                lo=None if lo is None else (lo[sl] if lo.ndim == 2 else lo),
                hi=None if hi is None else (hi[sl] if hi.ndim == 2 else hi),
                **opts,
            )
            parts.append(part)
            bar.update(b - a)
    keys = ["params", "cost", "status", "n_iter", "nfev", "n_points"]
    if parts[0].get("stderr") is not None:
        keys += ["covariance", "stderr"]
    out = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    out.update(level=parts[0]["level"], vectorize=parts[0]["vectorize"], S=parts[0]["S"])
    return out
