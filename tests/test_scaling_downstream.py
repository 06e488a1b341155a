"""Downstream laws on the shipped over-training runs."""
from __future__ import annotations

import numpy as np
import pytest

from scalecore.scaling import fit_accuracy_vs_loss, load_example, overtraining_example

scipy = pytest.importorskip("scipy")
from scipy.optimize import curve_fit, least_squares  # noqa: E402


@pytest.fixture(scope="module")
def example():
    return overtraining_example()


def test_shipped_table():
    df = load_example("overtraining")
    assert len(df) == 104 and df["params"].nunique() == 6 and set(df["dataset"]) == {"c4_original", "rpj", "rw_original"}
    np.testing.assert_allclose(df["flops"], 6.0 * df["params"].astype(float) * df["tokens"].astype(float), rtol=1e-9)
    np.testing.assert_allclose(df["tokens_per_param"], 20 * df["multiplier"], rtol=0.02)


def test_accuracy_vs_loss_matches_scipy(example):
    df = example["data"]
    t = example["exponential"].iloc[0]
    assert t["success"] and t["k"] > 0 and t["A"] > 0
    p, _ = curve_fit(lambda L, A, k, C: C + A * np.exp(-k * L), df["loss"], df["acc_mean"], p0=[1, 1, 0.25],
                     maxfev=20000)
    np.testing.assert_allclose([t["A"], t["k"], t["C"]], p, rtol=1e-4)
    # Near chance at high loss: the floor C is close to the 46 tasks' mean chance accuracy.
    assert 0.2 < t["C"] < 0.3
    by = example["exponential_by_dataset"]
    assert len(by) == 3 and by["success"].all()


def test_sigmoid_bounded_matches_scipy_trf(example):
    df = example["data"]
    s = example["sigmoid"].iloc[0]
    assert s["k"] < 0  # accuracy falls as loss rises
    f = lambda q: q[0] / (1 + np.exp(-q[1] * (df["loss"].to_numpy() - q[2]))) + q[3] - df["acc_mean"].to_numpy()  # noqa
    r = least_squares(f, [0.5, -2.0, 3.0, 0.25], bounds=([0, -np.inf, -np.inf, 0], [1, np.inf, np.inf, 1]),
                      method="trf", xtol=1e-14, ftol=1e-14, gtol=1e-14)
    assert s["cost"] <= r.cost * (1 + 1e-6) + 1e-12
    assert 0 <= s["a"] <= 1 and 0 <= s["b"] <= 1


def test_score_vs_data(example):
    t = example["score_vs_data"]
    assert len(t) == 5 and t["success"].all()
    law = lambda D, A, al, be: (np.log(A * D ** al)) ** be  # noqa: E731
    df = example["data"]
    for row in t.itertuples():
        sub = df[df["params"] == row.params]
        pred = law(sub["tokens"].to_numpy(), row.A, row.alpha, row.beta)
        cost = 0.5 * np.sum((pred - sub["acc_arc_easy"].to_numpy()) ** 2)
        assert cost == pytest.approx(row.cost, rel=1e-8)


def test_law_choice_is_checked():
    with pytest.raises(ValueError, match="exponential"):
        fit_accuracy_vs_loss(load_example(), law="linear")
