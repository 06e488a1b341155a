"""Every plot renders with Agg; its lines, axis scales and legend are checked."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from scalecore.scaling import (approach2, bootstrap, fit_lr_annealing, fit_table, load_example,  # noqa: E402
                               lr_schedule, predict_loss_curve)
from scalecore.scaling.plots import plot_extrapolation, plot_fit, plot_isoflop, plot_loss_curves  # noqa: E402
from scaling_helpers import gpt3_curves, synthetic_runs  # noqa: E402


def _render(fig, tmp_path, name):
    assert isinstance(fig, Figure)
    p = tmp_path / f"{name}.png"
    fig.savefig(p, dpi=50)
    assert p.stat().st_size > 1000


def _legend_texts(ax):
    leg = ax.get_legend()
    assert leg is not None
    return [t.get_text() for t in leg.get_texts()]


def test_plot_fit_one_axes_per_group_colour(tmp_path):
    df = load_example("overtraining")
    t = fit_table(df, "chinchilla", by="dataset", residual="log", bounds="default", starts="grid")
    fig = plot_fit(df, t)
    _render(fig, tmp_path, "fit")
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "params" and ax.get_ylabel() == "loss"
    assert len(ax.get_lines()) == 3  # one fitted curve per group
    assert len(ax.collections) == 3  # one scatter per group
    texts = _legend_texts(ax)
    assert "dataset=rpj (chinchilla)" in texts and "dataset=rpj (data)" in texts
    # The curve is the fitted law.
    line = ax.get_lines()[0]
    x, y = line.get_data()
    assert np.all(np.diff(y) < 0)


def test_plot_fit_panels_with_series(tmp_path):
    df = load_example("overtraining")
    t = fit_table(df, "chinchilla", by="dataset", residual="log", bounds="default", starts="grid")
    fig = plot_fit(df, t, series="multiplier")
    _render(fig, tmp_path, "fit_panels")
    axes = [a for a in fig.axes if a.get_visible()]
    assert len(axes) == 3
    for a, key in zip(axes, ["c4_original", "rpj", "rw_original"]):
        assert a.get_title() == f"dataset={key}"
        assert a.get_xscale() == "log" and a.get_yscale() == "log"
        n_series = df[df["dataset"] == key]["multiplier"].nunique()
        assert len([ln for ln in a.get_lines() if len(ln.get_xdata())]) == n_series
        texts = _legend_texts(a)
        assert "multiplier=1.0" in texts and "chinchilla fit" in texts


def test_plot_extrapolation_band(tmp_path):
    g = gpt3_curves()
    small = g[g["params"] < 10e9]
    b = bootstrap(small, "saturating_power", x="params", y="loss", R=50, seed=0, bounds="default",
                  resample="model")
    fin = g.groupby("model")["tokens"].idxmax()
    fig = plot_extrapolation(small, b, heldout=g.loc[fin][g.loc[fin]["params"] >= 10e9])
    _render(fig, tmp_path, "extrap")
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 3  # fit, median, the cut-off marker
    band = [c for c in ax.collections if c.__class__.__name__ in ("PolyCollection", "FillBetweenPolyCollection")]
    assert len(band) == 1
    texts = _legend_texts(ax)
    assert any("bootstrap band" in s and "R=50" in s for s in texts) and "held out" in texts
    x = ax.get_lines()[0].get_xdata()
    assert x.max() == pytest.approx(small["params"].max() * 10, rel=1e-6)


def test_plot_isoflop(tmp_path):
    runs = synthetic_runs(n_budgets=5, per_budget=12, noise=0.005)
    r = approach2(runs)
    fig = plot_isoflop(r)
    _render(fig, tmp_path, "iso")
    ax, ax2 = fig.axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert len(ax.get_lines()) == 5 + 1  # a parabola per budget and the minima
    assert ax2.get_xscale() == "log" and ax2.get_yscale() == "log"
    assert len(ax2.get_lines()) == 2
    t2 = _legend_texts(ax2)
    assert any(t.startswith("N_opt ∝ C^") for t in t2) and any(t.startswith("D_opt ∝ C^") for t in t2)
    assert len(_legend_texts(ax)) == 6


def test_plot_loss_curves(tmp_path):
    lr_c = lr_schedule("cosine", 4000, 1e-3, warmup=100, lr_min=1e-4)
    lr_w = lr_schedule("wsd", 4000, 1e-3, warmup=100, lr_min=1e-4)
    p = [2.5, 0.6, 0.4, 1.5]
    meas = predict_loss_curve(p, lr_c, warmup=100)
    f = fit_lr_annealing([(lr_c, np.arange(101, 4001), meas[100:])], warmup=100)
    curves = {"cosine": {"predicted": f.predict(lr_c), "measured": meas},
              "wsd": {"predicted": f.predict(lr_w)}}
    fig = plot_loss_curves(curves, log_x=True)
    _render(fig, tmp_path, "curves")
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert len(ax.get_lines()) == 3
    assert _legend_texts(ax) == ["cosine (predicted)", "cosine (measured)", "wsd (predicted)"]
