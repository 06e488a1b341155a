"""Extrapolation checks on the Hitchhiker's guide data (GPT-3 and OPT curves)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalecore
from scalecore.scaling import (ScalingDataError, borrowed_exponents, checkpoints_vs_final, extrapolate_by_size,
                               final_rows)
from scaling_helpers import gpt3_curves, opt_curves


@pytest.fixture(scope="module")
def gpt3():
    return gpt3_curves()


def test_final_rows(gpt3):
    idx = final_rows(gpt3, ["model"], "tokens")
    fin = gpt3.iloc[idx]
    assert len(fin) == 8
    assert (fin.groupby("model")["tokens"].max() == gpt3.groupby("model")["tokens"].max()).all()


def test_size_cutoff_predicts_the_larger_models(gpt3):
    r = extrapolate_by_size(gpt3, "chinchilla", size="params", cutoff=10e9, step="tokens", bounds="default")
    p = r.predictions
    assert sorted(p["params"].unique()) == [13e9, 175e9]
    assert len(p) == 2  # final checkpoints only
    # The predictions are the fitted law at the held-out inputs.
    row = r.table.iloc[0]
    law = scalecore.laws["chinchilla"]
    pv = law({"N": p["params"].to_numpy(), "D": p["tokens"].to_numpy()},
             row[list(law.param_names)].to_numpy(dtype=float))
    np.testing.assert_allclose(p["predicted"], pv, rtol=1e-12)
    np.testing.assert_allclose(p["are"], np.abs(pv - p["loss"]) / p["loss"], rtol=1e-12)
    s = r.summary.iloc[0]
    assert s["n_test"] == 2 and s["n_train"] == (gpt3["params"] < 10e9).sum()
    # GPT-3's 13B and 175B final losses are predicted to within 10% from the six smaller models.
    assert s["max_are"] < 0.10
    every = extrapolate_by_size(gpt3, "chinchilla", size="params", cutoff=10e9, test="all", bounds="default")
    assert len(every.predictions) == (gpt3["params"] >= 10e9).sum()


def test_cutoff_errors(gpt3):
    with pytest.raises(ScalingDataError, match="below"):
        extrapolate_by_size(gpt3, size="params", cutoff=1.0)
    with pytest.raises(ScalingDataError, match="at or above"):
        extrapolate_by_size(gpt3, size="params", cutoff=1e15)
    with pytest.raises(ScalingDataError, match="'size_col'"):
        extrapolate_by_size(gpt3, size="size_col", cutoff=1e10)


def test_checkpoints_vs_final(gpt3):
    r = checkpoints_vs_final(gpt3, "chinchilla", size="params", step="tokens", cutoff=10e9,
                             law_final="saturating_power", x_final="params", bounds="default")
    s = r.summary.set_index("strategy")
    assert set(s.index) == {"checkpoints", "final"}
    assert s.loc["final", "n_train"] == 6            # one point per small model
    n_ck = sum(((g["tokens"] >= 0.1 * g["tokens"].max())).sum()
               for _, g in gpt3[gpt3["params"] < 10e9].groupby("model"))
    assert s.loc["checkpoints", "n_train"] == n_ck  # first 10% of each run dropped
    assert (s["n_test"] == 2).all()
    assert (s["max_are"] < 0.1).all()
    # Same law for both strategies: one batch, both fits in one table.
    same = checkpoints_vs_final(gpt3, "chinchilla", size="params", step="tokens", cutoff=10e9, bounds="default")
    assert set(same.table["strategy"]) == {"checkpoints", "final"}


def test_borrowed_exponents_two_families(gpt3):
    both = pd.concat([gpt3, opt_curves()], ignore_index=True)
    r = borrowed_exponents(both, "chinchilla", family="family", size="params", step="tokens", bounds="default")
    t = r.table.set_index(["family", "strategy"])
    # The borrowed fit holds alpha and beta at the other family's fit.
    others = scalecore.fit("chinchilla", {"N": opt_curves()["params"].to_numpy(), "D": opt_curves()["tokens"].to_numpy()},
                           opt_curves()["loss"].to_numpy(), bounds="default")
    assert t.loc[("GPT-3", "borrowed"), "alpha"] == pytest.approx(others.params[2], rel=1e-9)
    assert t.loc[("GPT-3", "borrowed"), "beta"] == pytest.approx(others.params[4], rel=1e-9)
    s = r.summary
    assert len(s) == 4 and (s["n_test"] == 1).all()
    assert np.isfinite(s["mean_are"]).all() and (s["mean_are"] < 0.2).all()
    with pytest.raises(ScalingDataError, match="at least 2 families"):
        borrowed_exponents(gpt3, "chinchilla", family="family")
    with pytest.raises(ValueError, match="shared"):
        borrowed_exponents(both, "chinchilla", family="family", shared=("gamma",))
