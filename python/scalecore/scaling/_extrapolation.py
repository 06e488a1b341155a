"""Extrapolation checks in the manner of "A Hitchhiker's Guide to Scaling Law
Estimation" (Choshen, Zhang, Andreas 2024).

The score is the absolute relative error of a prediction,
ARE = |L_pred - L| / L, on runs that the fit did not see (the larger
models).  Three checks:

* :func:`extrapolate_by_size`: fit below a model-size cut-off, predict the
  larger models.
* :func:`checkpoints_vs_final`: the same, fitted once on final losses only and
  once on intermediate checkpoints too (the guide's advice: skip the first
  10% of each run).
* :func:`borrowed_exponents`: per family, a fit with every parameter free
  against one whose exponents are taken from a fit of the other families.

Each check fits all of its groups in one batched call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from ..fitting._fit import fit
from ..fitting._law import Law, evaluate
from ._common import as_law, ScalingDataError, check_columns, numeric_column, pad_groups
from ._table import DEFAULT_X, default_starts, fit_table, prepare_table, resolve_x, results_frame

__all__ = ["extrapolate_by_size", "checkpoints_vs_final", "borrowed_exponents", "ExtrapolationResult",
           "final_rows"]


@dataclass
class ExtrapolationResult:
    """Fits and held-out predictions.

    Attributes
    ----------
    table : pandas.DataFrame
        The fit(s) (:func:`fit_table` output; with a ``strategy`` column where
        several strategies are compared).
    predictions : pandas.DataFrame
        One row per held-out point: group keys, ``strategy``, inputs, the
        measured ``y``, ``predicted`` and ``are``.
    summary : pandas.DataFrame
        Per group and strategy: ``n_train``, ``n_test``, ``mean_are``,
        ``max_are``.
    """

    table: Any
    predictions: Any
    summary: Any
    law: Law
    x: Dict[str, str]
    y: str

    def __repr__(self) -> str:
        return "ExtrapolationResult\n" + self.summary.to_string(index=False)


def final_rows(df, model: Sequence[str], step: str) -> np.ndarray:
    """Positions of each model's last checkpoint (largest ``step``)."""
    idx = df.reset_index(drop=True).groupby(list(model), sort=False, dropna=False)[step].idxmax()
    return np.sort(np.asarray(idx, dtype=int))


def _by_list(by) -> List[str]:
    return [] if by is None else ([by] if isinstance(by, str) else list(by))


def _predict_rows(table, law: Law, xcols: Dict[str, str], y: str, by: List[str], test, strategy: str):
    import pandas as pd

    out = []
    if by:
        keyed = {tuple(r[k] for k in by): r for _, r in table.iterrows()}
        groups = test.groupby(by, sort=True, dropna=False)
    else:
        keyed = {(): table.iloc[0]}
        groups = [((), test)]
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        row = keyed.get(key)
        if row is None or len(sub) == 0:
            continue
        p = np.array([row[n] for n in law.param_names], dtype=float)
        xs = {n: sub[c].to_numpy(dtype=float) for n, c in xcols.items()}
        with np.errstate(all="ignore"):
            pred = evaluate(law, xs, p) if np.all(np.isfinite(p)) else np.full(len(sub), np.nan)
        yv = sub[y].to_numpy(dtype=float)
        d = {k: sub[k].to_numpy() for k in by}
        d.update({"strategy": strategy, **{c: sub[c].to_numpy() for c in xcols.values()}, y: yv,
                  "predicted": pred, "are": np.abs(pred - yv) / np.abs(yv)})
        out.append(pd.DataFrame(d, index=sub.index))
    return pd.concat(out) if out else pd.DataFrame()


def _summary(preds, table, by: List[str], strategy_col: bool = True):
    import pandas as pd

    if preds.empty:
        return pd.DataFrame()
    keys = by + (["strategy"] if strategy_col else [])
    s = preds.groupby(keys, sort=True, dropna=False)["are"].agg(n_test="size", mean_are="mean", max_are="max")
    s = s.reset_index()
    if "strategy" in table.columns:
        t = table[by + ["strategy", "n_points", "status"]].rename(columns={"n_points": "n_train"})
        s = s.merge(t, on=by + ["strategy"], how="left")
    return s


def extrapolate_by_size(df, law: Union[Law, str] = "chinchilla", x=None, y: str = "loss", *, size: str = "params",
                        cutoff: float, by=None, step: Optional[str] = None, model: Optional[Sequence[str]] = None,
                        test: str = "final", **fit_kwargs) -> ExtrapolationResult:
    """Fit on the runs with ``size < cutoff``, predict the larger ones.

    Parameters
    ----------
    df : pandas.DataFrame
    law, x, y, by, **fit_kwargs
        As for :func:`fit_table` (one fit per ``by`` group, one batch).
    size : str
        The model-size column the cut-off applies to.
    cutoff : float
        Runs with ``size < cutoff`` are fitted; the rest are held out.
    step : str, optional
        A checkpoint column.  With ``test="final"`` only each held-out
        model's last checkpoint is predicted.
    model : list of str, optional
        Columns identifying a run (default: ``by`` + ``size``).
    test : {"final", "all"}
        Which held-out rows to score.
    """
    law = as_law(law, x if isinstance(x, Mapping) else None)
    if x is None and set(law.input_names) == set(DEFAULT_X):
        x = dict(DEFAULT_X)
    xcols = resolve_x(law, x)
    byl = _by_list(by)
    check_columns(df, {"size": size, "step": step, **{f"by[{i}]": b for i, b in enumerate(byl)}})
    if test not in ("final", "all"):
        raise ValueError(f"test: expected 'final' or 'all', got {test!r}")
    df = df.reset_index(drop=True)
    sz = numeric_column(df, size, "size")
    train = df[sz < cutoff]
    held = df[sz >= cutoff]
    if train.empty:
        raise ScalingDataError(f"cutoff={cutoff:g}: no run has {size!r} below it")
    if held.empty:
        raise ScalingDataError(f"cutoff={cutoff:g}: no run has {size!r} at or above it to predict")
    if step is not None and test == "final":
        mcols = list(model) if model is not None else byl + [size]
        held = held.iloc[final_rows(held, mcols, step)]
    st = fit_kwargs.pop("starts", None)
    law_obj = law
    table = fit_table(train, law_obj, x=xcols, y=y, by=by, starts=st, **fit_kwargs)
    preds = _predict_rows(table, law_obj, xcols, y, byl, held, "size_cutoff")
    summ = _summary(preds, table.assign(strategy="size_cutoff"), byl)
    return ExtrapolationResult(table=table, predictions=preds, summary=summ, law=law_obj, x=xcols, y=y)


def checkpoints_vs_final(df, law: Union[Law, str] = "chinchilla", x=None, y: str = "loss", *, size: str = "params",
                         step: str, cutoff: float, by=None, model: Optional[Sequence[str]] = None,
                         min_frac: float = 0.1, law_final: Union[Law, str, None] = None, x_final=None,
                         **fit_kwargs) -> ExtrapolationResult:
    """Fitting on intermediate checkpoints against final losses only.

    Both strategies fit the runs with ``size < cutoff`` and predict the final
    loss of each larger run:

    * ``"final"``: one point per run, its last checkpoint, with ``law_final``
      (default ``law``; with every run trained on the same tokens the data
      term is not identifiable, so a one-input law of ``size`` such as
      ``saturating_power`` may be the better choice, with ``x_final``).
    * ``"checkpoints"``: every checkpoint from ``min_frac`` of the run's last
      step on (the guide drops the first 10%), with ``law``.

    All fits (strategies x groups) run in one batched call when the two laws
    are the same, in one call per law otherwise.
    """
    import pandas as pd

    law = as_law(law, x if isinstance(x, Mapping) else None)
    if x is None and set(law.input_names) == set(DEFAULT_X):
        x = dict(DEFAULT_X)
    xcols = resolve_x(law, x)
    lf = law if law_final is None else as_law(law_final, x_final if isinstance(x_final, Mapping) else None)
    xf = xcols if law_final is None else resolve_x(lf, x_final if x_final is not None else size)
    byl = _by_list(by)
    check_columns(df, {"size": size, "step": step})
    if not (0.0 <= min_frac < 1.0):
        raise ValueError(f"min_frac: expected a fraction in [0, 1), got {min_frac!r}")
    df = df.reset_index(drop=True)
    mcols = list(model) if model is not None else byl + [size]
    sz = numeric_column(df, size, "size")
    steps = numeric_column(df, step, "step")
    last = df.groupby(mcols, sort=False, dropna=False)[step].transform("max").to_numpy(dtype=float)
    fin = np.zeros(len(df), dtype=bool)
    fin[final_rows(df, mcols, step)] = True
    small = sz < cutoff
    if not small.any() or small.all():
        raise ScalingDataError(f"cutoff={cutoff:g}: need runs on both sides of it in column {size!r}")
    held = df[~small & fin]
    strat = "strategy"
    ck = df[small & (steps >= min_frac * last)].assign(**{strat: "checkpoints"})
    fi = df[small & fin].assign(**{strat: "final"})
    fit_kwargs.pop("starts", None)
    starts = fit_kwargs.pop("starts_grid", None)
    if lf is law and xf == xcols:
        table = fit_table(pd.concat([ck, fi]), law, x=xcols, y=y, by=[strat] + byl,
                          starts=default_starts(law, starts) if starts else None, **fit_kwargs)
        tables = table
        t_ck = table[table[strat] == "checkpoints"]
        t_fi = table[table[strat] == "final"]
    else:
        t_ck = fit_table(ck, law, x=xcols, y=y, by=[strat] + byl, **fit_kwargs)
        t_fi = fit_table(fi, lf, x=xf, y=y, by=[strat] + byl, **fit_kwargs)
        tables = pd.concat([t_ck, t_fi], ignore_index=True)
    p1 = _predict_rows(t_ck.drop(columns=[strat]), law, xcols, y, byl, held, "checkpoints")
    p2 = _predict_rows(t_fi.drop(columns=[strat]), lf, xf, y, byl, held, "final")
    preds = pd.concat([p1, p2])
    summ = _summary(preds, tables, byl)
    return ExtrapolationResult(table=tables, predictions=preds, summary=summ, law=law, x=xcols, y=y)


def borrowed_exponents(df, law: Union[Law, str] = "chinchilla", x=None, y: str = "loss", *, family: str,
                       size: str = "params", shared: Sequence[str] = ("alpha", "beta"), step: Optional[str] = None,
                       holdout: str = "largest", **fit_kwargs) -> ExtrapolationResult:
    """Per family: every parameter free against exponents borrowed from the others.

    For each family F, the runs of F except its largest model are fitted
    twice: ``"own"`` with every parameter free, and ``"borrowed"`` with the
    ``shared`` parameters fixed to a fit of all runs of the *other* families
    (the guide's remedy when a family has too few models).  Both predict the
    final loss of F's largest model (last checkpoint when ``step`` is given).

    Three batched calls: the F own fits, the F "others" fits, the F borrowed
    fits (the fixed parameters held by per-problem bounds lower = upper).
    """
    import pandas as pd

    law = as_law(law, x if isinstance(x, Mapping) else None)
    if x is None and set(law.input_names) == set(DEFAULT_X):
        x = dict(DEFAULT_X)
    xcols = resolve_x(law, x)
    check_columns(df, {"family": family, "size": size, "step": step})
    bad = [s for s in shared if s not in law.param_names]
    if bad:
        raise ValueError(f"shared: {bad} are not parameters of law {law.name!r} ({list(law.param_names)})")
    if holdout != "largest":
        raise ValueError("holdout: only 'largest' is supported")
    df = df.reset_index(drop=True)
    sz = numeric_column(df, size, "size")
    fam = df[family].to_numpy()
    fams = sorted(pd.unique(fam), key=str)
    if len(fams) < 2:
        raise ScalingDataError(f"column {family!r}: borrowing exponents needs at least 2 families, got {len(fams)}")
    largest = df.groupby(family)[size].transform("max").to_numpy(dtype=float)
    is_big = sz >= largest
    train = df[~is_big]
    held = df[is_big]
    if step is not None:
        held = held.iloc[final_rows(held, [family, size], step)]
    fit_kwargs.pop("starts", None)
    own = fit_table(train, law, x=xcols, y=y, by=family, **fit_kwargs)
    # The other families' data, one problem per family.
    P = law.n_params
    cols = {f"x:{n}": numeric_column(df, c, f"x[{n!r}]") for n, c in xcols.items()}
    cols["y"] = numeric_column(df, y, "y")
    others = [np.flatnonzero(fam != f) for f in fams]
    padded, mask = pad_groups(cols, others)
    oth = fit(law, {n: padded[f"x:{n}"] for n in xcols}, padded["y"], mask=mask,
              **{k: v for k, v in fit_kwargs.items() if k not in ("bounds", "level", "errors")})
    # Borrowed: pin the shared parameters per problem.
    lo = np.full((len(fams), P), -np.inf)
    hi = np.full((len(fams), P), np.inf)
    b0 = fit_kwargs.get("bounds")
    if isinstance(b0, str) and b0 == "default":
        lo[:] = law.default_bounds[0]
        hi[:] = law.default_bounds[1]
    for nm in shared:
        i = law.param_names.index(nm)
        lo[:, i] = hi[:, i] = oth.params[:, i]
    own_keys = own[family].tolist()
    sel = [own_keys.index(f) if f in own_keys else -1 for f in fams]
    p0 = np.array([own.loc[own.index[s], list(law.param_names)].to_numpy(dtype=float) if s >= 0
                   else np.full(P, np.nan) for s in sel])
    p0 = np.clip(np.where(np.isfinite(p0), p0, oth.params), lo, hi)
    kw = {k: v for k, v in fit_kwargs.items() if k != "bounds"}
    td = prepare_table(train, law, xcols, y, family, residual=kw.get("residual", "linear"), errors="ignore")
    okf = [k2[0] for k2, o in zip(td.keys, td.ok) if o]
    idx = [fams.index(f) for f in okf]
    res = fit(law, td.xs, td.ys, mask=td.mask, p0=p0[idx], bounds=(lo[idx], hi[idx]),
              **{k: v for k, v in kw.items() if k not in ("level", "errors", "p0")})
    borrowed = results_frame(td, res, level=kw.get("level", 0.95), residual=kw.get("residual", "linear"))
    tables = pd.concat([own.assign(strategy="own"), borrowed.assign(strategy="borrowed")], ignore_index=True)
    p1 = _predict_rows(own, law, xcols, y, [family], held, "own")
    p2 = _predict_rows(borrowed, law, xcols, y, [family], held, "borrowed")
    preds = pd.concat([p1, p2])
    summ = _summary(preds, tables, [family])
    return ExtrapolationResult(table=tables, predictions=preds, summary=summ, law=law, x=xcols, y=y)
