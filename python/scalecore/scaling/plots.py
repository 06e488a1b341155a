"""Plots of scaling-law studies (matplotlib).  Each function returns the Figure.

Nothing here calls ``plt.show``; figures are made with ``matplotlib.figure.Figure``
directly, so no GUI backend is touched.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np

from ..fitting._law import evaluate

__all__ = ["plot_fit", "plot_extrapolation", "plot_isoflop", "plot_loss_curves"]


def _figure(figsize=(6.4, 4.8)):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _color(i: int):
    import matplotlib as mpl

    cyc = mpl.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    return cyc[i % len(cyc)]


def _series_curve(law, xcols: Dict[str, str], sub, xaxis: str, p: np.ndarray, n: int = 100, extend: float = 1.0):
    """The law along a series: the x-axis input on a log grid, other inputs
    interpolated log-linearly along the series' own points."""
    xa = sub[xcols[xaxis]].to_numpy(dtype=float)
    order = np.argsort(xa)
    lo, hi = np.log(xa[order[0]]), np.log(xa[order[-1]]) + np.log(extend)
    g = np.exp(np.linspace(lo, hi, n))
    xs = {xaxis: g}
    for nm, c in xcols.items():
        if nm == xaxis:
            continue
        v = sub[c].to_numpy(dtype=float)[order]
        if len(np.unique(xa)) < 2:
            xs[nm] = np.full(n, v[0])
        elif np.all(v > 0):
            # Linear in log-log through the series (exact for a fixed ratio).
            k, b = np.polyfit(np.log(xa[order]), np.log(v), 1)
            xs[nm] = np.exp(b + k * np.log(g))
        else:
            xs[nm] = np.interp(g, xa[order], v)
    with np.errstate(all="ignore"):
        return g, evaluate(law, xs, p)


def plot_fit(df, table, *, xaxis: Optional[str] = None, series: Optional[str] = None, panels: Optional[bool] = None,
             ax=None, title=None):
    """Data and fitted curves per group on log-log axes.

    Parameters
    ----------
    df : pandas.DataFrame
        The table that was fitted.
    table : pandas.DataFrame
        :func:`fit_table` output (its ``attrs`` name the law and columns).
    xaxis : str, optional
        The law input on the horizontal axis (default: the first).
    series : str, optional
        A column splitting each group into curves (e.g. a token multiplier):
        for a law with several inputs, each series' curve follows the other
        inputs along that series' own points.
    panels : bool, optional
        One panel per group (default: when there are several groups and a
        ``series``); otherwise every group on one axes, one colour each.
    """
    law = table.attrs["law"]
    xcols = table.attrs["x"]
    y = table.attrs["y"]
    by = table.attrs.get("by", [])
    xaxis = xaxis or law.input_names[0]
    if xaxis not in xcols:
        raise ValueError(f"xaxis: expected one of the law's inputs {list(xcols)}, got {xaxis!r}")
    if series is not None and series not in df.columns:
        raise ValueError(f"series: column {series!r} is not in the table")
    G = len(table)
    panels = (G > 1 and series is not None) if panels is None else panels
    if ax is not None:
        fig, axes = ax.figure, [ax] * G
        panels = False
    elif panels:
        ncol = min(G, 3)
        nrow = -(-G // ncol)
        fig = _figure(figsize=(4.6 * ncol, 4.0 * nrow))
        axs = np.atleast_1d(fig.subplots(nrow, ncol, sharey=True, squeeze=False)).ravel()
        for extra in axs[G:]:
            extra.set_visible(False)
        axes = list(axs[:G])
    else:
        fig = _figure()
        axes = [fig.add_subplot()] * G
    for g, row in enumerate(table.to_dict(orient="records")):
        a = axes[g]
        sub = df
        label = ", ".join(f"{k}={row[k]}" for k in by) if by else "fit"
        for k in by:
            sub = sub[sub[k] == row[k]]
        p = np.array([row[n] for n in law.param_names], dtype=float)
        parts = [(None, sub)] if series is None else list(sub.groupby(series, sort=True))
        for j, (sv, ss) in enumerate(parts):
            color = _color(j) if panels else _color(g)
            if panels:
                dlab, flab = f"{series}={sv}", None
            else:
                dlab = f"{label} (data)" if j == 0 else None
                flab = f"{label} ({law.name})" if j == 0 else None
            a.scatter(ss[xcols[xaxis]], ss[y], s=14, color=color, alpha=0.75, label=dlab)
            ss = ss[np.isfinite(ss[xcols[xaxis]].to_numpy(dtype=float))]
            if len(ss) == 0 or not np.all(np.isfinite(p)):
                continue
            gx, gy = _series_curve(law, xcols, ss, xaxis, p)
            a.plot(gx, gy, color=color, lw=1.5, label=flab)
        if panels:
            a.plot([], [], color="k", lw=1.5, label=f"{law.name} fit")
            a.set_title(label, fontsize="medium")
            a.legend(fontsize="x-small", ncol=2)
    for a in set(axes):
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_xlabel(xcols[xaxis])
        a.set_ylabel(y)
        if not panels:
            a.legend(fontsize="small")
    ttl = title or f"{law.name} fit" + (f" by {', '.join(by)}" if by else "")
    if panels:
        fig.suptitle(ttl)
    else:
        axes[0].set_title(ttl)
    return fig


def plot_extrapolation(df, boot, *, xaxis: Optional[str] = None, group: Any = 0, fixed: Optional[Mapping[str, Any]] = None,
                       extend: float = 10.0, heldout=None, ax=None, title=None):
    """Extrapolation with the bootstrap band.

    The law's median and ``level`` band over the bootstrap resamples, from the
    smallest fitted point to ``extend`` x the largest along ``xaxis``; the
    fitted points, and held-out points (``heldout``: a DataFrame) if given.
    Other inputs follow the data log-linearly, or are held at ``fixed``.

    Parameters
    ----------
    df : pandas.DataFrame
        The data the bootstrap was fitted to (for one group, its rows are
        selected by the group keys).
    boot : BootstrapResult
    """
    law = boot.law
    xcols = boot.x
    y = boot.y
    xaxis = xaxis or law.input_names[0]
    gi = boot._group_index(group) if boot.by else 0
    sub = df
    for k, v in zip(boot.by, boot.keys[gi]):
        sub = sub[sub[k] == v]
    xa = sub[xcols[xaxis]].to_numpy(dtype=float)
    g = np.exp(np.linspace(np.log(np.nanmin(xa)), np.log(np.nanmax(xa) * extend), 120))
    xs = {xaxis: g}
    for nm, c in xcols.items():
        if nm == xaxis:
            continue
        if fixed and nm in fixed:
            xs[nm] = np.full(g.shape, float(fixed[nm]))
        else:
            v = sub[c].to_numpy(dtype=float)
            k, b = np.polyfit(np.log(xa), np.log(v), 1) if len(np.unique(xa)) > 1 else (0.0, np.log(v[0]))
            xs[nm] = np.exp(b + k * np.log(g))
    est, med, lo, hi = boot.band(xs, group=gi if boot.by else 0)
    fig = ax.figure if ax is not None else _figure()
    ax = ax if ax is not None else fig.add_subplot()
    ax.fill_between(g, lo, hi, color=_color(0), alpha=0.25, label=f"{int(round(boot.level * 100))}% bootstrap band (R={boot.R})")
    ax.plot(g, est, color=_color(0), lw=1.8, label="fit")
    ax.plot(g, med, color=_color(0), lw=1.0, ls="--", label="bootstrap median")
    ax.scatter(xa, sub[y], s=14, color="k", label="fitted data")
    if heldout is not None and len(heldout):
        ax.scatter(heldout[xcols[xaxis]], heldout[y], s=30, marker="*", color=_color(3), label="held out")
    ax.axvline(np.nanmax(xa), color="0.6", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xcols[xaxis])
    ax.set_ylabel(y)
    ax.set_title(title or f"{law.name}: extrapolation")
    ax.legend(fontsize="small")
    return fig


def plot_isoflop(res, *, title=None):
    """IsoFLOP curves with the compute-optimal frontier.

    Left: loss against N per budget, the fitted parabolas and their minima.
    Right: N_opt against C with the fitted power law N_opt = N0 C^a.
    """
    from matplotlib import cm, colors

    fig = _figure(figsize=(11, 4.5))
    ax, ax2 = fig.subplots(1, 2)
    prof = res.profiles
    runs = res.runs
    norm = colors.LogNorm(vmin=prof["C"].min(), vmax=prof["C"].max() * 1.0001)
    cmap = cm.viridis
    for i, r in enumerate(prof.itertuples(index=False)):
        m = runs["budget"].to_numpy() == i
        c = cmap(norm(r.C))
        ax.scatter(runs["N"][m], runs["loss"][m], s=12, color=c)
        if r.used:
            xs = np.log(runs["N"][m].to_numpy())
            gx = np.linspace(xs.min(), xs.max(), 60)
            ax.plot(np.exp(gx), r.c0 + r.c1 * gx + r.c2 * gx * gx, color=c, lw=1.2, label=f"C={r.C:.2g}")
            ax.scatter([r.N_opt], [r.loss_opt], marker="x", color="k", s=30, zorder=3)
    used = prof[prof["used"]]
    ax.plot(used["N_opt"], used["loss_opt"], color="k", lw=1, ls="--", label="minima")
    ax.set_xscale("log")
    ax.set_xlabel("N (parameters)")
    ax.set_ylabel("loss")
    ax.set_title("isoFLOP profiles")
    ax.legend(fontsize="x-small", ncol=2)
    Cg = np.exp(np.linspace(np.log(used["C"].min()), np.log(used["C"].max()), 50))
    ax2.scatter(used["C"], used["N_opt"], color="k", s=16, label="isoFLOP minima")
    lo, hi = res.a_interval
    ax2.plot(Cg, res.N_opt(Cg), color=_color(1), label=f"N_opt ∝ C^{res.a:.3f} [{lo:.3f}, {hi:.3f}]")
    ax2.plot(Cg, res.D_opt(Cg), color=_color(2), label=f"D_opt ∝ C^{res.b:.3f}")
    ax2.scatter(used["C"], used["D_opt"], color=_color(2), s=12, marker="s")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("C (FLOPs)")
    ax2.set_ylabel("compute-optimal N, D")
    ax2.set_title("compute-optimal frontier")
    ax2.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_loss_curves(curves: Mapping[str, Mapping[str, Any]], *, log_x: bool = False, ax=None, title=None):
    """Predicted against measured loss curves.

    Parameters
    ----------
    curves : mapping
        Name -> ``{"predicted": array, "measured": array (optional),
        "steps": array (optional, 1-based)}``.  Measured curves are drawn
        as thin grey-edged markers, predictions as lines, in one colour per
        name.
    """
    fig = ax.figure if ax is not None else _figure()
    ax = ax if ax is not None else fig.add_subplot()
    for i, (name, c) in enumerate(curves.items()):
        color = _color(i)
        pred = np.asarray(c["predicted"], float)
        steps = np.asarray(c.get("steps", np.arange(1, pred.size + 1)))
        ax.plot(steps, pred, color=color, lw=1.6, label=f"{name} (predicted)")
        if c.get("measured") is not None:
            meas = np.asarray(c["measured"], float)
            ms = np.asarray(c.get("measured_steps", steps))
            ax.plot(ms, meas, ls="none", marker="o", ms=2.5, color=color, alpha=0.5, label=f"{name} (measured)")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title or "loss curves: predicted vs measured")
    ax.legend(fontsize="small")
    return fig
