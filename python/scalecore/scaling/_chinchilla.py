r"""Chinchilla Approaches 2 and 3 (Hoffmann et al. 2022; Besiroglu et al. 2024).

Approach 3 fits

.. math:: \log L = \mathrm{LSE}(a - \alpha \log N,\; b - \beta \log D,\; e)

by minimising :math:`\sum_i \mathrm{Huber}_\delta(\mathrm{LSE}_i - \log L_i)`,
δ = 1e-3, from every point of the 4,500-point grid (Hoffmann et al. 2022,
sec. D.2), keeping the best.  With scalecore this is one batched call:
``fit("chinchilla_lse", ..., residual="log", loss="huber", f_scale=δ,
starts=grid)``; the engine's ``cost`` with the Huber loss is exactly the summed
Huber objective.  A = e^a, B = e^b, E = e^e.

Approach 2 fits a parabola in log N to each isoFLOP profile (the runs of one
compute budget), takes its minimum N_opt(C), and fits the power laws
N_opt = k_N C^a and D_opt = k_D C^b through the minima.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from ..fitting._fit import FitResult, fit
from ..fitting._law import laws
from ._allocation import compute_optimal
from ._bootstrap import BootstrapResult, bootstrap_fitted, distinct_basins
from ._common import ScalingDataError, check_columns, numeric_column, t_quantile
from ._table import chinchilla_grid, prepare_table

__all__ = ["approach3", "Approach3Result", "approach2", "Approach2Result", "isoflop_groups"]


@dataclass
class Approach3Result:
    """The Approach 3 fit.

    Attributes
    ----------
    a, b, e, alpha, beta : float
        The log-sum-exp parameters; ``A``, ``B``, ``E`` are e^a, e^b, e^e.
    objective : float
        The summed Huber loss of the log residuals at the solution.
    status : str
        The engine's status of the best start.
    n_points, n_starts : int
    best_start : int
        Row of the grid the best solution came from.
    basins : ndarray, (K, 5)
        The lowest-cost distinct solutions of the grid (best first), in
        (a, b, e, alpha, beta) order, and ``basin_objectives`` their costs.
    stderr : dict
        Standard errors of a, b, e, alpha, beta from the engine's covariance
        (Huber-weighted Gauss-Newton; the bootstrap is the better interval).
    bootstrap : BootstrapResult or None
    """

    a: float
    b: float
    e: float
    alpha: float
    beta: float
    objective: float
    status: str
    n_points: int
    n_starts: int
    best_start: int
    basins: np.ndarray
    basin_objectives: np.ndarray
    stderr: Dict[str, float]
    delta: float
    fit_result: FitResult = field(repr=False)
    bootstrap: Optional[BootstrapResult] = field(default=None, repr=False)

    @property
    def A(self) -> float:
        return float(np.exp(self.a))

    @property
    def B(self) -> float:
        return float(np.exp(self.b))

    @property
    def E(self) -> float:
        return float(np.exp(self.e))

    @property
    def params(self) -> Dict[str, float]:
        """E, A, alpha, B, beta (the ``chinchilla`` law's parameters)."""
        return {"E": self.E, "A": self.A, "alpha": self.alpha, "B": self.B, "beta": self.beta}

    @property
    def a_opt(self) -> float:
        """N_opt ~ C^a_opt, a_opt = beta / (alpha + beta)."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b_opt(self) -> float:
        """D_opt ~ C^b_opt, b_opt = alpha / (alpha + beta)."""
        return self.alpha / (self.alpha + self.beta)

    def predict(self, N: Any, D: Any) -> np.ndarray:
        """The fitted loss L(N, D)."""
        N = np.asarray(N, float)
        D = np.asarray(D, float)
        return self.E + self.A * N ** -self.alpha + self.B * D ** -self.beta

    def compute_optimal(self, C: Any, k: float = 6.0):
        """N_opt, D_opt, tokens per parameter and loss at budgets C (C = k N D)."""
        return compute_optimal(self.params, C, k)

    def to_dict(self) -> Dict[str, Any]:
        d = {"A": self.A, "B": self.B, "E": self.E, "alpha": self.alpha, "beta": self.beta,
             "a": self.a, "b": self.b, "e": self.e, "objective": self.objective, "status": self.status,
             "n_points": self.n_points, "n_starts": self.n_starts, "a_opt": self.a_opt, "b_opt": self.b_opt,
             "delta": self.delta}
        if self.bootstrap is not None:
            iv = self.bootstrap.intervals
            d["bootstrap"] = {"R": self.bootstrap.R, "seed": self.bootstrap.seed, "level": self.bootstrap.level,
                              "starts": self.bootstrap.starts,
                              "intervals": {r.quantity: [r.lo, r.hi] for r in iv.itertuples()}}
        return d

    def __repr__(self) -> str:
        return (f"Approach3Result(A={self.A:.6g}, B={self.B:.6g}, E={self.E:.6g}, alpha={self.alpha:.6g}, "
                f"beta={self.beta:.6g}, objective={self.objective:.6g}, status={self.status!r}, "
                f"n_points={self.n_points}, n_starts={self.n_starts})")


def approach3(
    df,
    N: str = "params",
    D: str = "tokens",
    y: str = "loss",
    *,
    delta: float = 1e-3,
    grid: Optional[np.ndarray] = None,
    drop_highest: int = 0,
    bootstrap: int = 0,
    seed: Any = 0,
    n_basins: int = 8,
    level: float = 0.95,
    target: Optional[Mapping[str, float]] = None,
    target_C: Optional[float] = None,
    k: float = 6.0,
    max_iter: int = 200,
    progress: bool = False,
    **fit_kwargs: Any,
) -> Approach3Result:
    r"""Chinchilla Approach 3: the Huber fit of log L = LSE(a - α log N, b - β log D, e).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per run.
    N, D, y : str
        Columns of parameters, training tokens and final loss.
    delta : float
        The Huber δ on the log residuals (1e-3, as published).
    grid : array (S, 5), optional
        Starts in (a, b, e, alpha, beta) order; default the published
        4,500-point grid (:func:`chinchilla_grid`).  All are fitted in one
        batched call; the lowest objective wins.
    drop_highest : int
        Leave out this many runs with the highest loss first (the replication
        drops 5).
    bootstrap : int
        Resamples of the runs (0: none).  Each resample starts from the
        ``n_basins`` lowest-cost distinct optima that the full grid found
        (the best first); all are fitted in one batched call.
    seed : int
        Seed of the resampling (``numpy.random.default_rng``).
    level : float
        Bootstrap interval level.
    target, target_C, k
        Bootstrap a predicted loss at ``target`` (``{"N": ..., "D": ...}``) and
        the allocation at budget ``target_C`` (see :func:`bootstrap`).
    max_iter, progress, **fit_kwargs
        Passed to :func:`scalecore.fit`.

    Returns
    -------
    Approach3Result
    """
    check_columns(df, {"N": N, "D": D, "y": y})
    if drop_highest:
        if not (isinstance(drop_highest, (int, np.integer)) and 0 < drop_highest < len(df)):
            raise ValueError(f"drop_highest: expected an integer in [0, {len(df)}), got {drop_highest!r}")
        yv = numeric_column(df, y, "y")
        df = df.iloc[np.sort(np.argsort(-np.nan_to_num(yv, nan=-np.inf), kind="stable")[drop_highest:])]
    law = laws["chinchilla_lse"]
    td = prepare_table(df, law, {"N": N, "D": D}, y, None, residual="log", errors="raise")
    g = chinchilla_grid() if grid is None else np.asarray(grid, dtype=np.float64)
    if g.ndim != 2 or g.shape[1] != 5:
        raise ValueError(f"grid: expected an (S, 5) array in (a, b, e, alpha, beta) order, got shape {g.shape}")
    opts = dict(residual="log", loss="huber", f_scale=float(delta), max_iter=max_iter, **fit_kwargs)
    res = fit(law, td.xs, td.ys, mask=td.mask, starts=g, return_all=True, progress=progress, **opts)
    p = res.params[0]
    ap, ac, ast = res.all_params[0], res.all_cost[0], res.all_status[0]
    basins = distinct_basins(ap, ac, ast, max(n_basins, 1))
    bcost = np.array([ac[np.argmin(np.max(np.abs(ap - q), axis=1))] for q in basins]) if len(basins) else np.zeros(0)
    se = {} if res.stderr is None else {n: float(res.stderr[0, i]) for i, n in enumerate(law.param_names)}
    out = Approach3Result(a=float(p[0]), b=float(p[1]), e=float(p[2]), alpha=float(p[3]), beta=float(p[4]),
                          objective=float(res.cost[0]), status=str(res.status[0]), n_points=int(res.n_points[0]),
                          n_starts=len(g), best_start=int(res.best_start[0]), basins=basins, basin_objectives=bcost,
                          stderr=se, delta=float(delta), fit_result=res)
    if bootstrap:
        if target is not None:
            target = {"N": target["N"], "D": target["D"]}
        out.bootstrap = bootstrap_fitted(td, res, R=int(bootstrap), seed=seed, level=level, n_basins=n_basins,
                                         target=target, target_C=target_C, k=k, progress=progress, fit_kwargs=opts)
    return out


# -- Approach 2 ---------------------------------------------------------------

def isoflop_groups(C: np.ndarray, tol: float = 0.05) -> np.ndarray:
    """Labels budgets into isoFLOP groups: sorted log10 C starts a new group
    where it jumps by more than ``tol`` decades."""
    lc = np.log10(C)
    order = np.argsort(lc, kind="stable")
    labels = np.empty(len(C), dtype=int)
    cur, prev = 0, None
    for i in order:
        if prev is not None and lc[i] - prev > tol:
            cur += 1
        labels[i] = cur
        prev = lc[i]
    return labels


def _parabola_batch(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares parabolas y = c0 + c1 x + c2 x^2, batched.

    x, y: (n,), w: (R, n) weights (resample counts); returns (R, 3).  Solved
    in x - mean(x) for conditioning, then mapped back to powers of x."""
    m = float(np.mean(x))
    xc = x - m
    V = np.stack([np.ones_like(xc), xc, xc * xc], axis=1)  # (n, 3)
    A = np.einsum("rn,ni,nj->rij", w, V, V)
    b = np.einsum("rn,ni,n->ri", w, V, y)
    d = np.full((w.shape[0], 3), np.nan)
    # A resample with fewer than 3 distinct x has a singular system: NaN.
    ok = np.array([np.unique(xc[wi > 0]).size >= 3 for wi in w])
    if ok.any():
        d[ok] = np.linalg.solve(A[ok], b[ok][..., None])[..., 0]
    return np.stack([d[:, 0] - d[:, 1] * m + d[:, 2] * m * m, d[:, 1] - 2 * d[:, 2] * m, d[:, 2]], axis=1)


@dataclass
class Approach2Result:
    """IsoFLOP profiles and the power laws through their minima.

    Attributes
    ----------
    profiles : pandas.DataFrame
        One row per budget: ``C``, ``n_runs``, parabola coefficients ``c0``,
        ``c1``, ``c2`` in x = ln N, ``N_opt``, ``D_opt`` = C/(k N_opt), ``loss_opt``
        and ``used`` (a minimum exists: c2 > 0 and at least 3 runs) and
        ``interior`` (N_opt inside the sampled range).
    a, b : float
        Exponents of N_opt = N0 C^a and D_opt = D0 C^b (b = 1 - a, since
        D_opt = C/(k N_opt)).
    N0, D0 : float
    a_interval, b_interval : (float, float)
        ``level`` intervals of the exponents: Student-t from the log-log
        regression, or bootstrap percentiles (runs resampled within each
        budget) when ``bootstrap`` > 0.
    """

    profiles: Any
    a: float
    b: float
    N0: float
    D0: float
    a_stderr: float
    a_interval: Tuple[float, float]
    b_interval: Tuple[float, float]
    level: float
    k: float
    interval_method: str
    a_draws: Optional[np.ndarray] = field(default=None, repr=False)
    runs: Any = field(default=None, repr=False)

    def N_opt(self, C: Any) -> np.ndarray:
        return self.N0 * np.asarray(C, float) ** self.a

    def D_opt(self, C: Any) -> np.ndarray:
        return self.D0 * np.asarray(C, float) ** self.b

    def to_dict(self) -> Dict[str, Any]:
        return {"a": self.a, "b": self.b, "N0": self.N0, "D0": self.D0, "a_interval": list(self.a_interval),
                "b_interval": list(self.b_interval), "level": self.level, "interval_method": self.interval_method,
                "profiles": self.profiles.to_dict(orient="records")}


def approach2(
    df,
    N: str = "params",
    D: str = "tokens",
    y: str = "loss",
    *,
    C: Optional[str] = None,
    k: float = 6.0,
    tol: float = 0.05,
    level: float = 0.95,
    bootstrap: int = 0,
    seed: Any = 0,
) -> Approach2Result:
    """Chinchilla Approach 2: isoFLOP parabolas and power laws through the minima.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per run.
    N, D, y : str
        Columns of parameters, tokens and final loss.
    C : str, optional
        A column with each run's compute budget (the isoFLOP it belongs to).
        Default: k N D, grouped into budgets by :func:`isoflop_groups` (runs
        within ``tol`` decades of each other) and each budget's C is the
        geometric mean of its runs' k N D.
    k : float
        FLOPs per parameter per token.
    level : float
        Interval level for the exponents.
    bootstrap : int
        Resamples (runs within each budget, with replacement; 0: Student-t
        intervals from the log-log regression instead).
    seed : int

    Returns
    -------
    Approach2Result
    """
    import pandas as pd

    check_columns(df, {"N": N, "D": D, "y": y, "C": C})
    n = numeric_column(df, N, "N")
    d = numeric_column(df, D, "D")
    L = numeric_column(df, y, "y")
    ok = np.isfinite(n) & np.isfinite(d) & np.isfinite(L)
    for col, v in ((N, n), (D, d)):
        if (v[ok] <= 0).any():
            raise ScalingDataError(f"column {col!r} has non-positive values; Approach 2 takes its log")
    if C is None:
        cv = k * n * d
        lab = np.full(len(df), -1)
        lab[ok] = isoflop_groups(cv[ok], tol)
    else:
        cv = numeric_column(df, C, "C")
        ok &= np.isfinite(cv) & (cv > 0)
        lab = np.full(len(df), -1)
        _, lab_ok = np.unique(cv[ok], return_inverse=True)
        lab[ok] = lab_ok
    rng = np.random.default_rng(seed)
    rows = []
    boots = []
    for g in np.unique(lab[lab >= 0]):
        m = lab == g
        x = np.log(n[m])
        Cg = float(np.exp(np.mean(np.log(cv[m])))) if C is None else float(cv[m][0])
        nr = int(m.sum())
        c = _parabola_batch(x, L[m], np.ones((1, nr)))[0] if nr >= 3 else np.full(3, np.nan)
        used = bool(nr >= 3 and np.isfinite(c).all() and c[2] > 0)
        xo = -c[1] / (2 * c[2]) if used else np.nan
        rows.append({"C": Cg, "n_runs": nr, "c0": c[0], "c1": c[1], "c2": c[2], "N_opt": np.exp(xo),
                     "D_opt": Cg / (k * np.exp(xo)), "loss_opt": c[0] + c[1] * xo + c[2] * xo * xo,
                     "used": used, "interior": bool(used and x.min() <= xo <= x.max())})
        if bootstrap and used:
            w = rng.multinomial(nr, np.full(nr, 1.0 / nr), size=int(bootstrap)).astype(float)
            cb = _parabola_batch(x, L[m], w)
            with np.errstate(all="ignore"):
                xb = np.where(cb[:, 2] > 0, -cb[:, 1] / (2 * cb[:, 2]), np.nan)
            boots.append((np.log(Cg), xb))
    prof = pd.DataFrame(rows)
    use = prof[prof["used"]] if len(prof) else prof
    if len(use) < 2:
        raise ScalingDataError(f"approach2: {len(use)} isoFLOP profile(s) with a minimum; at least 2 are needed "
                               f"(budgets found: {len(prof)}; each needs >= 3 runs and an upward parabola)")
    lc = np.log(use["C"].to_numpy())
    ln = np.log(use["N_opt"].to_numpy())
    X = np.column_stack([np.ones_like(lc), lc])
    coef, *_ = np.linalg.lstsq(X, ln, rcond=None)
    nb = len(lc)
    resid = ln - X @ coef
    dof = nb - 2
    if dof > 0:
        s2 = float(resid @ resid) / dof
        cov = s2 * np.linalg.inv(X.T @ X)
        a_se = float(np.sqrt(cov[1, 1]))
    else:
        a_se = np.nan
    a = float(coef[1])
    a_draws = None
    if bootstrap:
        lcs = np.array([b[0] for b in boots])
        xb = np.stack([b[1] for b in boots], axis=1)  # (R, nb)
        Xc = lcs - lcs.mean()
        with np.errstate(all="ignore"):
            a_draws = ((xb - np.nanmean(xb, axis=1, keepdims=True)) @ Xc) / (Xc @ Xc)
        a_draws = a_draws[np.all(np.isfinite(xb), axis=1)]
        lo, hi = np.percentile(a_draws, [50 * (1 - level), 50 * (1 + level)])
        method = f"bootstrap percentile (R={int(bootstrap)}, seed={seed}, {len(a_draws)} valid)"
    else:
        tq = t_quantile((1 + level) / 2, dof) if dof > 0 else np.nan
        lo, hi = a - tq * a_se, a + tq * a_se
        method = f"Student t, {dof} dof, log-log regression"
    N0 = float(np.exp(coef[0]))
    return Approach2Result(profiles=prof, a=a, b=1.0 - a, N0=N0, D0=1.0 / (k * N0), a_stderr=a_se,
                           a_interval=(float(lo), float(hi)), b_interval=(float(1 - hi), float(1 - lo)),
                           level=level, k=k, interval_method=method, a_draws=a_draws,
                           runs=pd.DataFrame({"N": n, "D": d, "loss": L, "budget": lab}))
