"""Bootstrap intervals: every resample of every group fitted in one batch."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..fitting._fit import FitResult, fit
from ..fitting._law import Law, evaluate
from ._allocation import chinchilla_params, optimal_exponents
from ._common import as_law, check_columns
from ._table import DEFAULT_X, TableData, default_starts, prepare_table

__all__ = ["bootstrap", "BootstrapResult", "distinct_basins", "derived_quantities"]

_OK = ("gtol", "ftol", "xtol", "max_iter")


def distinct_basins(all_params: np.ndarray, all_cost: np.ndarray, all_status: np.ndarray, k: int,
                    rtol: float = 1e-3) -> np.ndarray:
    """The ``k`` lowest-cost distinct solutions of a multi-start fit, (<=k, P).

    Two solutions are the same basin when every parameter agrees to
    ``rtol`` (relative, with an absolute floor of ``rtol``).  Starts that
    ended ``bad_input``, ``non_finite`` or with a non-finite cost are ignored.
    """
    ok = np.isfinite(all_cost) & ~np.isin(all_status, ("bad_input", "non_finite", "not_run"))
    ok &= np.all(np.isfinite(all_params), axis=-1)
    order = np.argsort(np.where(ok, all_cost, np.inf), kind="stable")
    chosen: List[np.ndarray] = []
    for i in order:
        if not ok[i] or len(chosen) >= k:
            break
        p = all_params[i]
        if all(np.any(np.abs(p - q) > rtol * np.maximum(1.0, np.abs(q))) for q in chosen):
            chosen.append(p)
    return np.array(chosen).reshape(len(chosen), all_params.shape[-1])


def derived_quantities(law: Law, params: np.ndarray, *, target: Optional[Mapping[str, float]] = None,
                       target_C: Optional[float] = None, k: float = 6.0,
                       derived: Optional[Mapping[str, Callable[[Dict[str, np.ndarray]], Any]]] = None
                       ) -> Dict[str, np.ndarray]:
    """Quantities computed from parameter rows (..., P).

    - For ``chinchilla`` and ``chinchilla_lse``: A, B, E (lse), the
      compute-optimal exponents ``a_opt``, ``b_opt`` and ``G``; with
      ``target_C``: ``N_opt``, ``D_opt`` and ``loss_opt`` at that budget.
    - For any law, with ``target`` (input -> value): ``loss_at_target``, the
      law's value there.
    - ``derived``: name -> function of the dict of parameter arrays.
    """
    P = law.n_params
    params = np.asarray(params, dtype=float)
    flat = params.reshape(-1, P)
    named = {n: flat[:, i] for i, n in enumerate(law.param_names)}
    out: Dict[str, np.ndarray] = {}
    if law.is_builtin and law.name in ("chinchilla", "chinchilla_lse"):
        cp = chinchilla_params(named)
        if law.name == "chinchilla_lse":
            out.update(A=cp["A"], B=cp["B"], E=cp["E"])
        ex = optimal_exponents(cp)
        out.update(a_opt=ex["a"], b_opt=ex["b"], G=ex["G"])
        if target_C is not None:
            from ._allocation import compute_optimal

            co = compute_optimal(cp, target_C, k, as_frame=False)
            out.update(N_opt=co["N_opt"], D_opt=co["D_opt"], loss_opt=co["loss"])
    if target is not None:
        xt = {n: np.atleast_1d(np.asarray(target[n], dtype=float)) for n in law.input_names}
        with np.errstate(all="ignore"):
            out["loss_at_target"] = evaluate(law, xt, flat).reshape(len(flat), -1)[:, 0]
    for name, fn in (derived or {}).items():
        out[name] = np.broadcast_to(np.asarray(fn(named), dtype=float), (len(flat),)).copy()
    return {k2: np.asarray(v).reshape(params.shape[:-1]) for k2, v in out.items()}


@dataclass
class BootstrapResult:
    """Percentile bootstrap of a fit.

    Attributes
    ----------
    intervals : pandas.DataFrame
        One row per (group, quantity): ``estimate`` (the full-data fit),
        ``median``, ``lo``, ``hi`` (the (1-level)/2 and (1+level)/2
        percentiles of the resample estimates), ``std`` and ``n_ok`` (resamples
        whose fit converged or ran out of iterations; only those count).
    draws : pandas.DataFrame
        One row per (group, resample): its parameters, derived quantities,
        cost and status.
    params : ndarray, (G, R, P)
        Resample parameters per fitted group.
    estimate : ndarray, (G, P)
        Full-data parameters.
    """

    law: Law
    intervals: Any
    draws: Any
    params: np.ndarray
    estimate: np.ndarray
    status: np.ndarray
    keys: List[Tuple[Any, ...]]
    by: List[str]
    R: int
    seed: Any
    level: float
    resample: str
    starts: str
    x: Dict[str, str] = field(default_factory=dict)
    y: str = "loss"

    def interval(self, quantity: str, group: Any = None) -> Tuple[float, float]:
        """(lo, hi) of one quantity (for one group, by key or position)."""
        row = self._rows(quantity, group)
        return float(row["lo"].iloc[0]), float(row["hi"].iloc[0])

    def _rows(self, quantity: str, group: Any):
        iv = self.intervals[self.intervals["quantity"] == quantity]
        if iv.empty:
            raise KeyError(f"{quantity!r} is not a bootstrapped quantity ({sorted(set(self.intervals['quantity']))})")
        if group is None:
            return iv.iloc[:1]
        g = self._group_index(group)
        return iv.iloc[g:g + 1]

    def _group_index(self, group: Any) -> int:
        if isinstance(group, (int, np.integer)) and not self.by:
            return int(group)
        key = group if isinstance(group, tuple) else (group,)
        if key in self.keys:
            return self.keys.index(key)
        if isinstance(group, (int, np.integer)):
            return int(group)
        raise KeyError(f"no group {group!r} (groups: {self.keys})")

    def band(self, x: Mapping[str, Any], group: Any = 0, level: Optional[float] = None):
        """The law over the resamples at inputs ``x`` (each (M,)): returns
        (estimate, median, lo, hi), each (M,)."""
        g = self._group_index(group) if self.by else 0
        lv = self.level if level is None else level
        ok = np.isin(self.status[g], _OK) & np.all(np.isfinite(self.params[g]), axis=-1)
        with np.errstate(all="ignore"):
            pred = evaluate(self.law, x, self.params[g][ok])
            est = evaluate(self.law, x, self.estimate[g])
        pred = np.atleast_2d(pred)
        q = np.nanpercentile(pred, [50, 50 * (1 - lv), 50 * (1 + lv)], axis=0)
        return est, q[0], q[1], q[2]

    def __repr__(self) -> str:
        return (f"BootstrapResult(law={self.law.name!r}, groups={len(self.keys)}, R={self.R}, seed={self.seed}, "
                f"level={self.level}, resample={self.resample!r})")


def _resample_indices(rng: np.random.Generator, n: int, R: int, clusters: Optional[np.ndarray]):
    """Per resample, the positions (into the group's points) to take."""
    if clusters is None:
        idx = rng.integers(0, n, size=(R, n))
        return [row for row in idx]
    labels, inv = np.unique(clusters, return_inverse=True)
    members = [np.flatnonzero(inv == j) for j in range(len(labels))]
    pick = rng.integers(0, len(labels), size=(R, len(labels)))
    return [np.concatenate([members[j] for j in row]) for row in pick]


def bootstrap_fitted(td: TableData, full: FitResult, *, R: int = 1000, seed: Any = 0, resample: Optional[str] = None,
                     cluster_values: Optional[np.ndarray] = None, level: float = 0.95, n_basins: int = 8,
                     target: Optional[Mapping[str, float]] = None, target_C: Optional[float] = None, k: float = 6.0,
                     derived=None, progress: bool = False, fit_kwargs: Optional[Dict[str, Any]] = None
                     ) -> BootstrapResult:
    """Bootstrap from a prepared table and its full-data fit (see :func:`bootstrap`)."""
    import pandas as pd

    if not (isinstance(R, (int, np.integer)) and R >= 1):
        raise ValueError(f"R: expected an integer >= 1, got {R!r}")
    if not (0.0 < level < 1.0):
        raise ValueError(f"level: expected a probability in (0, 1), got {level!r}")
    law = td.law
    P = law.n_params
    fit_kwargs = dict(fit_kwargs or {})
    for key in ("p0", "starts", "return_all", "progress"):
        fit_kwargs.pop(key, None)
    rng = np.random.default_rng(seed)
    G = int(td.ok.sum())
    good_rows = [r for r, o in zip(td.rows, td.ok) if o]
    est = np.atleast_2d(full.params)
    # Starts per resample: the group's full-data optimum plus the other
    # lowest-cost distinct basins the full-data multi-start fit found.
    starts = []
    for g in range(G):
        s = [est[g]]
        if full.all_params is not None:
            ap = np.asarray(full.all_params).reshape(G, -1, P)[g]
            ac = np.asarray(full.all_cost).reshape(G, -1)[g]
            st = np.asarray(full.all_status).reshape(G, -1)[g]
            for q in distinct_basins(ap, ac, st, n_basins):
                if np.any(np.abs(q - est[g]) > 1e-3 * np.maximum(1.0, np.abs(est[g]))):
                    s.append(q)
        starts.append(np.array(s[:max(1, n_basins)]))
    S = max(len(s) for s in starts)
    starts_arr = np.stack([np.concatenate([s, np.repeat(s[:1], S - len(s), axis=0)]) for s in starts])
    starts_note = (f"{S} start(s) per resample: the full-data optimum"
                   + (f" and the next {S - 1} lowest-cost distinct basins of the full-data multi-start fit"
                      if S > 1 else ""))
    # Gather the resamples into one padded batch.
    idx_all: List[np.ndarray] = []
    for g in range(G):
        n = len(good_rows[g])
        cl = None if cluster_values is None else cluster_values[good_rows[g]]
        idx_all.extend(_resample_indices(rng, n, R, cl))
    M = max(len(i) for i in idx_all)
    Bt = G * R
    mask = np.zeros((Bt, M), dtype=bool)
    xs = {k2: np.full((Bt, M), np.nan) for k2 in td.xs}
    ys = np.full((Bt, M), np.nan)
    sg = None if td.sigma is None else np.full((Bt, M), np.nan)
    for b, ix in enumerate(idx_all):
        g = b // R
        m = len(ix)
        mask[b, :m] = True
        for k2 in xs:
            xs[k2][b, :m] = td.xs[k2][g, ix]
        ys[b, :m] = td.ys[g, ix]
        if sg is not None:
            sg[b, :m] = td.sigma[g, ix]
    st_b = np.repeat(starts_arr, R, axis=0)
    res = fit(law, xs, ys, mask=mask, sigma=sg, starts=st_b, progress=progress, covariance=False, **fit_kwargs)
    params = np.asarray(res.params).reshape(G, R, P)
    status = np.asarray(res.status).reshape(G, R)
    cost = np.asarray(res.cost).reshape(G, R)
    der = derived_quantities(law, params, target=target, target_C=target_C, k=k, derived=derived)
    der_est = derived_quantities(law, est, target=target, target_C=target_C, k=k, derived=derived)
    keys = [key for key, o in zip(td.keys, td.ok) if o]
    lo_q, hi_q = 50 * (1 - level), 50 * (1 + level)
    rows = []
    draws = []
    for g in range(G):
        ok = np.isin(status[g], _OK) & np.all(np.isfinite(params[g]), axis=-1)
        quantities = [(n, params[g, :, i], est[g, i]) for i, n in enumerate(law.param_names)]
        quantities += [(n, der[n][g], der_est[n][g]) for n in der]
        for name, vals, e in quantities:
            v = vals[ok]
            v = v[np.isfinite(v)]
            if len(v):
                md, lo, hi = np.percentile(v, [50, lo_q, hi_q])
                sd = float(np.std(v, ddof=1)) if len(v) > 1 else np.nan
            else:
                md = lo = hi = sd = np.nan
            rows.append({**dict(zip(td.by, keys[g])), "quantity": name, "estimate": float(e), "median": md,
                         "lo": lo, "hi": hi, "std": sd, "n_ok": int(ok.sum())})
        d = {**{b: [keys[g][i]] * R for i, b in enumerate(td.by)}, "replicate": np.arange(R)}
        for i, n in enumerate(law.param_names):
            d[n] = params[g, :, i]
        for n in der:
            d[n] = der[n][g]
        d["cost"] = cost[g]
        d["status"] = status[g]
        draws.append(pd.DataFrame(d))
    intervals = pd.DataFrame(rows)
    return BootstrapResult(law=law, intervals=intervals, draws=pd.concat(draws, ignore_index=True), params=params,
                           estimate=est, status=status, keys=keys, by=list(td.by), R=int(R), seed=seed, level=level,
                           resample=resample or "points", starts=starts_note, x=dict(td.xcols), y=td.y)


def bootstrap(
    df,
    law: Union[Law, str] = "chinchilla",
    x: Union[str, Mapping[str, str], None] = None,
    y: str = "loss",
    by: Union[None, str, Sequence[str]] = None,
    *,
    R: int = 1000,
    seed: Any = 0,
    resample: Optional[str] = None,
    level: float = 0.95,
    starts: Any = None,
    n_basins: int = 8,
    target: Optional[Mapping[str, float]] = None,
    target_C: Optional[float] = None,
    k: float = 6.0,
    derived: Optional[Mapping[str, Callable]] = None,
    errors: str = "warn",
    progress: bool = False,
    **fit_kwargs: Any,
) -> BootstrapResult:
    """Percentile bootstrap intervals for a :func:`fit_table` fit.

    Each group's points (or, with ``resample=COLUMN``, its clusters: e.g. all
    checkpoints of one model) are drawn with replacement ``R`` times; all
    ``G x R`` resamples are fitted in one batched call.

    Resampling is reproducible: the indices come from
    ``numpy.random.default_rng(seed)``, group by group in the table's sorted
    group order, and the engine's results do not depend on threads.

    Starts: the full-data fit runs with ``starts`` (e.g. ``"grid"``, the
    4,500-point Approach 3 grid); each resample then starts from the
    full-data optimum and the next ``n_basins - 1`` lowest-cost *distinct*
    optima of that full-data fit (all starts fitted, best kept), so a resample
    can move to another basin without paying for the whole grid again.

    Parameters
    ----------
    df, law, x, y, by, errors, **fit_kwargs
        As for :func:`fit_table`.
    R : int
        Resamples per group (1,000 by default).
    seed : int or numpy SeedSequence
    resample : str, optional
        A column whose values are resampled as clusters; default: points.
    level : float
        Interval level (percentiles (1-level)/2 and (1+level)/2).
    target : mapping, optional
        Inputs at which to predict, e.g. ``{"N": 7e10, "D": 1.4e12}``: adds
        ``loss_at_target``.
    target_C, k : float, optional
        A compute budget: adds ``N_opt``, ``D_opt``, ``loss_opt`` (Chinchilla
        laws).  The compute-optimal exponents ``a_opt``/``b_opt`` are always
        included for those laws.
    derived : mapping, optional
        Extra quantities: name -> ``fn(params: dict of arrays) -> array``.

    Returns
    -------
    BootstrapResult
    """
    law = as_law(law, x if isinstance(x, Mapping) else None)
    if x is None and set(law.input_names) == set(DEFAULT_X):
        x = dict(DEFAULT_X)
    if resample is not None:
        check_columns(df, {"resample": resample})
    td = prepare_table(df, law, x, y, by, sigma=fit_kwargs.get("sigma"), residual=fit_kwargs.get("residual", "linear"),
                       errors=errors)
    fit_kwargs.pop("sigma", None)
    st = default_starts(law, starts)
    full = fit(law, td.xs, td.ys, mask=td.mask, sigma=td.sigma, starts=st, return_all=st is not None,
               **fit_kwargs)
    cl = None if resample is None else df[resample].to_numpy()
    return bootstrap_fitted(td, full, R=R, seed=seed, resample=resample, cluster_values=cl, level=level,
                            n_basins=n_basins, target=target, target_C=target_C, k=k, derived=derived,
                            progress=progress, fit_kwargs=fit_kwargs)
