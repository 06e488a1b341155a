"""``fit_table``: one law per group of a long-form table, all groups in one batch."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple, Union

import numpy as np

from ..fitting._fit import FitResult, fit
from ..fitting._law import Law
from ._common import (ScalingDataError, as_law, check_columns, group_frames, group_label, is_dask_frame, log_inputs,
                      numeric_column, pad_groups, resolve_x, t_quantile, warn_groups)

__all__ = ["fit_table", "prepare_table", "TableData", "chinchilla_grid", "default_starts"]

DEFAULT_X = {"N": "params", "D": "tokens"}


def chinchilla_grid() -> np.ndarray:
    """The Approach 3 initialisation grid of Hoffmann et al. 2022 (sec. D.2), in
    the ``chinchilla_lse`` parameter order (a, b, e, alpha, beta):
    a, b in {0, 5, ..., 25}; e in {-1, -0.5, ..., 1}; alpha, beta in
    {0, 0.5, ..., 2}.  4,500 rows."""
    a = np.arange(0.0, 30.0, 5.0)
    e = np.arange(-1.0, 1.5, 0.5)
    s = np.arange(0.0, 2.5, 0.5)
    return np.array(list(itertools.product(a, a, e, s, s)), dtype=np.float64)


def default_starts(law: Law, starts: Any) -> Any:
    """``starts="grid"``: the Approach 3 grid for ``chinchilla_lse``, the same
    grid mapped to (E, A, alpha, B, beta) = (e^e, e^a, alpha, e^b, beta) for
    ``chinchilla``.  Anything else is passed through."""
    if not (isinstance(starts, str) and starts == "grid"):
        return starts
    g = chinchilla_grid()
    if law.is_builtin and law.name == "chinchilla_lse":
        return g
    if law.is_builtin and law.name == "chinchilla":
        return np.column_stack([np.exp(g[:, 2]), np.exp(g[:, 0]), g[:, 3], np.exp(g[:, 1]), g[:, 4]])
    raise ScalingDataError(f"starts='grid': there is a built-in grid for 'chinchilla' and 'chinchilla_lse' only, "
                           f"not for law {law.name!r}; pass an (S, P) array of starts")


@dataclass
class TableData:
    """A table checked and padded for one batched fit.

    ``x`` maps each law input to a (G, M) array, ``y`` is (G, M), ``mask``
    (G, M) marks each group's rows; only the groups in ``ok`` are in the
    arrays (G = ok.sum()), ``rows[g]`` are their row positions in the table.
    """

    law: Law
    xcols: Dict[str, str]
    y: str
    by: List[str]
    keys: List[Tuple[Any, ...]]
    ok: np.ndarray
    messages: List[str]
    rows: List[np.ndarray]
    xs: Dict[str, np.ndarray]
    ys: np.ndarray
    mask: np.ndarray
    sigma: Optional[np.ndarray]


def prepare_table(df, law: Law, x, y: str, by, *, sigma: Optional[str] = None, residual: str = "linear",
                  errors: str = "warn", stacklevel: int = 4) -> TableData:
    """Checks a table and pads its groups (see :func:`fit_table` for the rules)."""
    if errors not in ("warn", "raise", "ignore"):
        raise ValueError(f"errors: expected 'warn', 'raise' or 'ignore', got {errors!r}")
    xcols = resolve_x(law, x)
    if not isinstance(y, str):
        raise ScalingDataError(f"y: expected a column name, got {y!r}")
    check_columns(df, {**{f"x[{k!r}]": c for k, c in xcols.items()}, "y": y, "sigma": sigma})
    cols = {f"x:{k}": numeric_column(df, c, f"x[{k!r}]") for k, c in xcols.items()}
    cols["y"] = numeric_column(df, y, "y")
    if sigma is not None:
        cols["sigma"] = numeric_column(df, sigma, "sigma")
    by_cols, keys, groups = group_frames(df, by)
    if len(keys) == 0:
        raise ScalingDataError(f"df: the table has no rows to fit (columns {list(map(str, df.columns))})")
    logs = set(log_inputs(law))
    P = law.n_params
    ok = np.ones(len(keys), dtype=bool)
    messages: List[str] = []
    rows: List[np.ndarray] = []
    for g, (key, idx) in enumerate(zip(keys, groups)):
        where = group_label(by_cols, key)
        # NaN marks a missing value: such rows are left out.
        finite = np.ones(len(idx), dtype=bool)
        for v in cols.values():
            finite &= ~np.isnan(v[idx])
        problems = []
        for k, c in xcols.items():
            v = cols[f"x:{k}"][idx][finite]
            if np.isinf(v).any():
                problems.append(f"column {c!r} has an infinite value")
            if k in logs and (v <= 0).any():
                problems.append(f"column {c!r} has {(v <= 0).sum()} non-positive value(s) "
                                f"(min {v.min():g}) but law {law.name!r} takes log({k})")
        yv = cols["y"][idx][finite]
        if np.isinf(yv).any():
            problems.append(f"column {y!r} has an infinite value")
        if residual == "log" and (yv <= 0).any():
            problems.append(f"column {y!r} has {(yv <= 0).sum()} non-positive value(s) (min {yv.min():g}) "
                            f"but residual='log' takes log(y)")
        if sigma is not None and (cols["sigma"][idx][finite] <= 0).any():
            problems.append(f"column {sigma!r} (sigma) has a value <= 0")
        n = int(finite.sum())
        if n < P:
            problems.append(f"{n} point(s) with values, fewer than the {P} parameters of law {law.name!r}")
        if problems:
            ok[g] = False
            messages.append(f"{where}: " + "; ".join(problems))
        rows.append(idx[finite])
    if not ok.any() or (errors == "raise" and not ok.all()):
        raise ScalingDataError("cannot fit " + "; ".join(messages))
    if errors == "warn":
        warn_groups(messages, stacklevel=stacklevel)
    good = [r for r, o in zip(rows, ok) if o]
    padded, mask = pad_groups(cols, good)
    xs = {k: padded[f"x:{k}"] for k in xcols}
    return TableData(law=law, xcols=xcols, y=y, by=by_cols, keys=keys, ok=ok, messages=messages, rows=rows,
                     xs=xs, ys=padded["y"], mask=mask, sigma=padded.get("sigma"))


class TableBackend(Protocol):
    """Where :func:`fit_table` runs when it is not run in this process.

    Any object with this method will do; ``scalecore.distributed.DaskBackend``
    is one (it shuffles a Dask DataFrame by group and fits each partition on
    a worker with :func:`fit_table` itself).  The scaling layer only calls
    the method, so it never imports the backend's module.
    """

    def fit_table(self, df: Any, law: Any, *, x: Any, y: Any, by: Any, **kwargs: Any) -> Any:
        """Fit ``df`` group by group and return one pandas DataFrame, as :func:`fit_table` does."""

def _delegate(df, law, x, y, by, backend, kwargs):
    fn = getattr(backend, "fit_table", None)
    if not callable(fn):
        raise TypeError("backend: expected an object with a fit_table(df, law, x=, y=, by=, **kwargs) method "
                        f"(e.g. scalecore.distributed.DaskBackend(client)), got {type(backend).__name__}")
    return fn(df, law, x=x, y=y, by=by, **kwargs)


def fit_table(
    df,
    law: Union[Law, str] = "chinchilla",
    x: Union[str, Mapping[str, str], None] = None,
    y: str = "loss",
    by: Union[None, str, Sequence[str]] = None,
    *,
    sigma: Optional[str] = None,
    p0: Any = None,
    starts: Any = None,
    bounds: Any = None,
    loss: str = "linear",
    f_scale: float = 1.0,
    residual: str = "linear",
    level: float = 0.95,
    errors: str = "warn",
    progress: bool = False,
    backend: Optional[TableBackend] = None,
    **fit_kwargs: Any,
):
    r"""Fit one law per group of a long-form table, all groups in one batched call.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per measurement (a run, or a checkpoint of a run).  A dask
        DataFrame needs ``backend=scalecore.distributed.DaskBackend(...)``.
    law : Law or str
        A :class:`~scalecore.Law`, a catalogue name or an expression.
    x : str or mapping
        Law input -> column, e.g. ``{"N": "params", "D": "tokens"}`` (the
        default for two-input laws with inputs N and D).  A column name for a
        one-input law.
    y : str
        The measured column (default ``"loss"``).
    by : str or list of str, optional
        Group columns: one fit per distinct key.
    sigma : str, optional
        A column of standard deviations.
    p0, starts, bounds, loss, f_scale, residual, **fit_kwargs
        As for :func:`scalecore.fit`.  ``p0`` and ``bounds`` may be (P,) or one
        row per *fitted* group.  ``starts="grid"`` uses the Approach 3 grid
        (4,500 starts) for ``chinchilla``/``chinchilla_lse``.
    level : float
        Confidence level of the intervals ``param +- t_{(1+level)/2, n-P} * stderr``
        (Student t with n - P degrees of freedom, from the covariance).
    errors : {"warn", "raise", "ignore"}
        A group that cannot be fitted (a non-positive value under a log, an
        infinite value, fewer points than parameters) gets status
        ``"bad_input"``, NaN parameters and a ``message`` naming the group and
        the column; the other groups are fitted.  ``"warn"`` also issues a
        :class:`ScalingDataWarning`, ``"raise"`` raises instead of fitting.
        With no usable group at all it always raises.
    progress : bool
        A tqdm bar over the batch.
    backend : TableBackend, optional
        Run the fit elsewhere: ``backend.fit_table(df, law, x=, y=, by=, **kw)``
        is called with every other argument.  For Dask,
        ``backend=scalecore.distributed.DaskBackend(client)`` shuffles the
        table by group and fits the partitions on the workers.

    Returns
    -------
    pandas.DataFrame
        One row per group: the group keys, then for each parameter ``p``
        the columns ``p``, ``p_stderr``, ``p_lo``, ``p_hi``; then ``cost``,
        ``status``, ``success``, ``n_points`` and ``message``.  ``df.attrs``
        holds ``law``, ``x``, ``y``, ``by``, ``residual`` and ``level`` (used by
        the plots).

    Raises
    ------
    ScalingDataError
        (a ``ValueError``) a missing or non-numeric column (named), or no
        group that can be fitted.

    Notes
    -----
    Rows with a NaN in x, y or sigma are missing values and left out.  Groups
    are padded to (B, M) with a mask, so the engine sees each group's points
    only.
    """
    law = as_law(law, x if isinstance(x, Mapping) else None)
    if x is None and set(law.input_names) == set(DEFAULT_X):
        x = dict(DEFAULT_X)
    if "client" in fit_kwargs:
        raise TypeError("fit_table: client= is not an argument here; pass "
                        "backend=scalecore.distributed.DaskBackend(client) to fit on a Dask cluster")
    if backend is None and is_dask_frame(df):
        raise TypeError("df: a dask DataFrame needs backend=scalecore.distributed.DaskBackend(client) "
                        "(or call scalecore.distributed.fit_table); fit_table alone fits pandas frames")
    if backend is not None:
        kw = dict(sigma=sigma, p0=p0, starts=starts, bounds=bounds, loss=loss, f_scale=f_scale, residual=residual,
                  level=level, errors=errors, progress=progress, **fit_kwargs)
        return _delegate(df, law, x, y, by, backend, kw)
    if not (0.0 < level < 1.0):
        raise ValueError(f"level: expected a probability in (0, 1), got {level!r}")
    td = prepare_table(df, law, x, y, by, sigma=sigma, residual=residual, errors=errors)
    res = fit(law, td.xs, td.ys, mask=td.mask, sigma=td.sigma, p0=p0, starts=default_starts(law, starts),
              bounds=bounds, loss=loss, f_scale=f_scale, residual=residual, progress=progress, **fit_kwargs)
    return results_frame(td, res, level=level, residual=residual)


def results_frame(td: TableData, res: FitResult, *, level: float, residual: str):
    """The tidy table of :func:`fit_table` from a batch result over td's good groups."""
    import pandas as pd

    law = td.law
    G = len(td.keys)
    P = law.n_params
    params = np.full((G, P), np.nan)
    se = np.full((G, P), np.nan)
    cost = np.full(G, np.nan)
    status = np.array(["bad_input"] * G, dtype=object)
    npts = np.array([len(r) for r in td.rows])
    params[td.ok] = np.atleast_2d(res.params)
    if res.stderr is not None:
        se[td.ok] = np.atleast_2d(res.stderr)
    cost[td.ok] = np.atleast_1d(res.cost)
    status[td.ok] = np.atleast_1d(res.status)
    npts[td.ok] = np.atleast_1d(res.n_points)
    msg = np.array([""] * G, dtype=object)
    bad_iter = iter(td.messages)
    for g in range(G):
        if not td.ok[g]:
            msg[g] = next(bad_iter)
    dof = npts - P
    q = (1.0 + level) / 2.0
    tq = np.array([t_quantile(q, d) if d > 0 else np.nan for d in dof])
    data: Dict[str, Any] = {}
    for i, k in enumerate(td.by):
        data[k] = [key[i] for key in td.keys]
    for i, nm in enumerate(law.param_names):
        data[nm] = params[:, i]
        data[f"{nm}_stderr"] = se[:, i]
        data[f"{nm}_lo"] = params[:, i] - tq * se[:, i]
        data[f"{nm}_hi"] = params[:, i] + tq * se[:, i]
    data["cost"] = cost
    data["status"] = status.astype(str)
    data["success"] = np.isin(data["status"], ("gtol", "ftol", "xtol"))
    data["n_points"] = npts
    data["message"] = msg.astype(str)
    out = pd.DataFrame(data)
    out.attrs.update(law=law, x=dict(td.xcols), y=td.y, by=list(td.by), residual=residual, level=level)
    return out
