"""fit_table: one batched call over groups, tidy output, bad input by group."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import scalecore
from scalecore.scaling import ScalingDataError, ScalingDataWarning, fit_table, t_quantile

scipy = pytest.importorskip("scipy")
from scipy import optimize, stats  # noqa: E402


def _groups(rng, n_per=(12, 7, 20)):
    rows = []
    truth = {}
    for g, n in zip("abc", n_per):
        E, A, al = 1.5 + rng.uniform(0, 1), rng.uniform(5, 50), rng.uniform(0.2, 0.6)
        x = np.geomspace(1e6, 1e9, n) * np.exp(rng.uniform(-0.1, 0.1, n))
        y = (E + A * x ** -al) * (1 + rng.normal(0, 0.002, n))
        rows.append(pd.DataFrame({"family": g, "size": x, "loss": y}))
        truth[g] = (E, A, al)
    return pd.concat(rows, ignore_index=True).sample(frac=1.0, random_state=1), truth


def test_groups_match_scipy_curve_fit(rng):
    df, truth = _groups(rng)
    t = fit_table(df, "saturating_power", x="size", y="loss", by="family")
    assert list(t["family"]) == ["a", "b", "c"]
    assert list(t["n_points"]) == [12, 7, 20]
    assert t["success"].all()
    for row in t.itertuples():
        sub = df[df["family"] == row.family]
        f = lambda x, E, A, al: E + A * x ** -al  # noqa: E731
        p, cov = optimize.curve_fit(f, sub["size"], sub["loss"], p0=[row.E, row.A, row.alpha], maxfev=20000)
        se = np.sqrt(np.diag(cov))
        # Same optimum: curve_fit, started from our solution, finds no lower cost, and the
        # parameters agree to 1e-4 standard errors.  (ftol = 1e-10 fixes the cost to ~1e-10
        # relative, which fixes a parameter along the flat A-alpha direction only to about
        # sqrt(ftol * (n - 3)) ~ 3e-5 standard errors, i.e. ~1e-5 relative in A here.)
        ours = [row.E, row.A, row.alpha]
        cost = lambda q: 0.5 * np.sum((f(sub["size"], *q) - sub["loss"]) ** 2)  # noqa: E731
        assert cost(ours) <= cost(p) * (1 + 1e-9)
        assert np.all(np.abs(np.subtract(ours, p)) <= 1e-4 * se), (ours, p, se)
        np.testing.assert_allclose([row.E_stderr, row.A_stderr, row.alpha_stderr], se, rtol=1e-3)
        tq = stats.t.ppf(0.975, row.n_points - 3)
        np.testing.assert_allclose(row.alpha_hi - row.alpha, tq * row.alpha_stderr, rtol=1e-9)
        np.testing.assert_allclose(row.alpha - row.alpha_lo, tq * row.alpha_stderr, rtol=1e-9)
    # One batch = the same as fitting each group alone.
    single = fit_table(df[df["family"] == "b"], "saturating_power", x="size", y="loss")
    np.testing.assert_allclose(single[["E", "A", "alpha"]].to_numpy()[0],
                               t.loc[t["family"] == "b", ["E", "A", "alpha"]].to_numpy()[0], rtol=1e-8)


def test_columns_and_attrs(rng):
    df, _ = _groups(rng)
    t = fit_table(df, "saturating_power", x="size", y="loss", by=["family"], level=0.9)
    for c in ("E", "E_stderr", "E_lo", "E_hi", "cost", "status", "success", "n_points", "message"):
        assert c in t.columns
    assert t.attrs["law"].name == "saturating_power"
    assert t.attrs["x"] == {"x": "size"} and t.attrs["y"] == "loss" and t.attrs["level"] == 0.9


def test_default_x_for_chinchilla_and_nan_rows_are_missing():
    from scaling_helpers import synthetic_runs

    df = synthetic_runs(n_budgets=4, per_budget=10, noise=0.0)
    df.loc[3, "loss"] = np.nan
    t = fit_table(df, "chinchilla", starts="grid", bounds="default")
    assert t.attrs["x"] == {"N": "params", "D": "tokens"}
    assert int(t["n_points"].iloc[0]) == len(df) - 1
    np.testing.assert_allclose(t["alpha"].iloc[0], 0.3473, rtol=1e-4)


def test_t_quantile_matches_scipy():
    for dof in (1, 2, 3, 5, 10, 37, 200, 1e5):
        for p in (0.6, 0.9, 0.975, 0.995):
            assert t_quantile(p, dof) == pytest.approx(stats.t.ppf(p, dof), rel=1e-9, abs=1e-10)
    assert t_quantile(0.975, np.inf) == pytest.approx(stats.norm.ppf(0.975), rel=1e-12)
    assert np.isnan(t_quantile(0.975, 0))


# -- bad input -----------------------------------------------------------------

def test_missing_column_is_named(rng):
    df, _ = _groups(rng)
    with pytest.raises(ScalingDataError, match="'tokens'"):
        fit_table(df.rename(columns={"size": "params"}), "chinchilla", y="loss")
    with pytest.raises(ScalingDataError, match=r"column 'famly' \(by\[0\]\)"):
        fit_table(df, "saturating_power", x="size", by="famly")
    with pytest.raises(ScalingDataError, match=r"'los' \(y\)"):
        fit_table(df, "saturating_power", x="size", y="los")
    with pytest.raises(ScalingDataError, match="inputs"):
        fit_table(df, "chinchilla", x="size")


def test_bad_groups_are_named_and_others_fit(rng):
    df, truth = _groups(rng)
    df = df.copy()
    df.loc[df.index[df["family"] == "a"][0], "size"] = 0.0         # log of 0
    small = df[df["family"] == "b"].index[:5]                      # b keeps 2 points < 3 params
    df = df.drop(small)
    with pytest.warns(ScalingDataWarning) as w:
        t = fit_table(df, "saturating_power", x="size", y="loss", by="family")
    msg = str(w[0].message)
    assert "family='a'" in msg and "'size'" in msg and "non-positive" in msg
    assert "family='b'" in msg and "fewer than the 3 parameters" in msg
    bad = t.set_index("family")
    assert bad.loc["a", "status"] == "bad_input" and np.isnan(bad.loc["a", "E"])
    assert "log(x)" in bad.loc["a", "message"]
    assert bad.loc["b", "status"] == "bad_input" and "2 point(s)" in bad.loc["b", "message"]
    assert bad.loc["c", "success"]
    np.testing.assert_allclose(bad.loc["c", "alpha"], truth["c"][2], rtol=0.05)
    with pytest.raises(ScalingDataError, match="family='a'"):
        fit_table(df, "saturating_power", x="size", y="loss", by="family", errors="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_table(df, "saturating_power", x="size", y="loss", by="family", errors="ignore")


def test_ungrouped_bad_input_raises(rng):
    df, _ = _groups(rng)
    df = df.copy()
    df["loss2"] = -df["loss"]
    with pytest.raises(ScalingDataError, match="'loss2'.*residual='log'"):
        fit_table(df, "saturating_power", x="size", y="loss2", residual="log")
    with pytest.raises(ScalingDataError, match="fewer than"):
        fit_table(df.iloc[:2], "saturating_power", x="size", y="loss")
    df["txt"] = "x"
    with pytest.raises(ScalingDataError, match="not numeric"):
        fit_table(df, "saturating_power", x="txt", y="loss")


def test_backend_receives_every_argument(rng):
    """The scaling layer hands the whole call to backend.fit_table and imports nothing for it."""
    df, _ = _groups(rng)
    seen = {}

    class Recorder:
        def fit_table(self, df_, law, **kw):
            seen.update(kw, law=law, df=df_)
            return "delegated"

    out = fit_table(df, "saturating_power", x="size", by="family", backend=Recorder(), level=0.9, loss="soft_l1")
    assert out == "delegated"
    assert seen["df"] is df and seen["by"] == "family" and seen["x"] == "size" and seen["y"] == "loss"
    assert seen["law"].name == "saturating_power" and seen["level"] == 0.9 and seen["loss"] == "soft_l1"
