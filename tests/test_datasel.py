"""The projektor predictor: simplex helpers, the OT gradient, stages 1-3, the
worked example (reduced)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from scalecore.datasel import MixturePredictor, project_simplex, simplex_grid


def test_simplex_grid_and_projection(rng):
    g = simplex_grid(3, 10)
    assert g.shape == (66, 3) and np.allclose(g.sum(1), 1) and g.min() >= 0
    assert len({tuple(r) for r in np.round(g, 9)}) == 66
    assert simplex_grid(4, 3).shape == (20, 4)
    for _ in range(50):
        v = rng.standard_normal(4) * 2
        p = project_simplex(v)
        assert abs(p.sum() - 1) < 1e-12 and p.min() >= 0
        # Optimality: no point of a fine simplex grid is closer to v.
        grid = simplex_grid(4, 12)
        assert np.linalg.norm(v - p) <= np.linalg.norm(v - grid, axis=1).min() + 1e-12


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(3)

    def src(shift, n, k=3):
        y = rng.integers(0, k, n)
        return rng.standard_normal((n, 2)) + shift + y[:, None], y

    sources = [src(0.0, 40), src(1.5, 35), src(-1.0, 30)]
    val = src(0.5, 45)
    return sources, val


@pytest.mark.parametrize("debias", [False, True])
def test_ot_gradient_matches_finite_differences(small, debias):
    sources, val = small
    mp = MixturePredictor(sources, val, eps=0.5, debias=debias, tol=1e-11, max_iter=100000)
    p = np.array([0.5, 0.3, 0.2])
    ot, G = mp.ot_distance(p[None], gradient=True)
    assert abs(G.sum()) < 1e-10
    for i, j in ((0, 1), (2, 0)):
        d = np.zeros(3)
        d[i], d[j] = 1, -1
        h = 1e-5
        num = (mp.ot_distance((p + h * d)[None])[0] - mp.ot_distance((p - h * d)[None])[0]) / (2 * h)
        assert abs(G[0] @ d - num) < 1e-5 * (1 + abs(num))
    # One batched call for many mixtures equals single calls.
    W = simplex_grid(3, 4)
    many = mp.ot_distance(W)
    assert np.allclose(many[[3, 7]], [mp.ot_distance(W[k][None])[0] for k in (3, 7)], rtol=1e-12)


def test_stages_recover_a_known_model(small):
    sources, val = small
    mp = MixturePredictor(sources, val, eps=0.5, maximize=False)
    W = simplex_grid(3, 5)
    ot = mp.ot_distance(W)
    X = mp._features(W, ot)
    rng = np.random.default_rng(0)
    c0, c1 = rng.standard_normal(X.shape[1]), rng.standard_normal(X.shape[1])
    runs = {"weights": np.r_[W, W], "N": np.r_[np.full(len(W), 100), np.full(len(W), 300)],
            "performance": np.r_[X @ c0, X @ c1]}
    mp.fit(runs, ridge=0.0)
    l0, l1 = mp.predict_at_pilots(W)
    assert np.allclose(l0, X @ c0, atol=1e-8) and np.allclose(l1, X @ c1, atol=1e-8)
    N = 900.0
    expect = (np.log(N / 100) * (X @ c1) - np.log(N / 300) * (X @ c0)) / np.log(3.0)
    assert np.allclose(mp.predict(W, N), expect, atol=1e-8)
    assert np.allclose(mp.predict(W, 300), X @ c1, atol=1e-8)  # stage 2 passes through the pilots
    # Stage 3: the selected mixture is (near) the best of a fine grid.
    sel = mp.select(N)
    fine = simplex_grid(3, 40)
    best = mp.predict(fine, N).min()
    assert sel.predicted <= best + 1e-3 * abs(best)
    assert abs(sel.weights.sum() - 1) < 1e-12 and sel.weights.min() >= 0
    # Pandas input.
    import pandas as pd

    df = pd.DataFrame({"w0": runs["weights"][:, 0], "w1": runs["weights"][:, 1], "w2": runs["weights"][:, 2],
                       "N": runs["N"], "performance": runs["performance"]})
    assert np.allclose(MixturePredictor(sources, val, eps=0.5).fit(df, ridge=0.0).coef_[100.0], mp.coef_[100.0])


def test_errors(small):
    sources, val = small
    with pytest.raises(ValueError, match="at least 2 sources"):
        MixturePredictor(sources[:1], val)
    with pytest.raises(ValueError, match="features like the validation"):
        MixturePredictor([sources[0], (np.ones((5, 3)), np.zeros(5))], val)
    mp = MixturePredictor(sources, val, eps=0.5, debias=False)
    with pytest.raises(RuntimeError, match="fit"):
        mp.predict([1 / 3] * 3, 100)
    with pytest.raises(ValueError, match="sum to 1"):
        mp.ot_distance([[0.5, 0.5, 0.5]])
    W = simplex_grid(3, 3)
    with pytest.raises(ValueError, match="two pilot sizes"):
        mp.fit({"weights": W, "N": np.full(len(W), 50), "performance": np.zeros(len(W))})


def test_digits_example_reduced():
    pytest.importorskip("sklearn")
    from scalecore.datasel.digits import run_example

    rep = run_example(grid_steps=4, pilot_sizes=(30, 60), target_size=120, reps=1, max_per_source=150,
                      n_validation=150, plot=True)
    assert rep.grid.shape == (15, 3)
    assert np.isfinite(rep.mae) and -1 <= rep.spearman <= 1
    assert 0 <= rep.selected_measured <= 1 and 0 <= rep.uniform_measured <= 1
    assert rep.figure is not None and len(rep.figure.axes) >= 3
    assert "Spearman" in rep.summary()
