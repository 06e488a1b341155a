"""Loss curves under LR annealing (Tissue et al. 2024)."""
from __future__ import annotations

import numpy as np
import pytest

from scalecore.scaling import fit_lr_annealing, lr_areas, lr_schedule, predict_loss_curve

TRUE = np.array([2.5, 0.6, 0.4, 1.5])  # L0, A, alpha, C
T, WARM = 20000, 500


def _naive_areas(lr, lam, warmup):
    """The paper's definitions, step by step."""
    e = lr[warmup:]
    S1, S2 = [], []
    s1 = s2 = m = 0.0
    prev = e[0]
    for x in e:
        m = lam * m + (prev - x)
        prev = x
        s1 += x
        s2 += m
        S1.append(s1)
        S2.append(s2)
    return np.array(S1), np.array(S2)


@pytest.mark.parametrize("kind", ["constant", "cosine", "linear", "wsd"])
@pytest.mark.parametrize("lam", [0.0, 0.9, 0.999])
def test_areas_match_the_definition(kind, lam):
    lr = lr_schedule(kind, 9001, 3e-4, warmup=WARM, lr_min=3e-5)
    S1, S2 = lr_areas(lr, decay=lam, warmup=WARM)
    n1, n2 = _naive_areas(lr, lam, WARM)
    assert np.isnan(S1[:WARM]).all() and np.isnan(S2[:WARM]).all()
    np.testing.assert_allclose(S1[WARM:], n1, rtol=1e-12)
    np.testing.assert_allclose(S2[WARM:], n2, rtol=1e-9, atol=1e-15)
    if kind == "constant":
        assert np.all(S2[WARM:] == 0)


def test_schedules():
    c = lr_schedule("cosine", 1000, 1.0, warmup=100, lr_min=0.1)
    assert c[99] == pytest.approx(1.0) and c[-1] == pytest.approx(0.1) and np.all(np.diff(c[100:]) <= 0)
    w = lr_schedule("wsd", 1000, 1.0, decay_frac=0.2)
    assert np.all(w[:800] == 1.0) and w[-1] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="kind"):
        lr_schedule("step", 10, 1.0)
    with pytest.raises(ValueError, match="decay"):
        lr_areas(np.ones(5), decay=1.0)


def test_fit_two_curves_predicts_a_third_schedule():
    rng = np.random.default_rng(0)
    steps = np.arange(600, T + 1, 50)
    curves = []
    for kind in ("constant", "cosine"):
        lr = lr_schedule(kind, T, 2e-4, warmup=WARM, lr_min=2e-5)
        L = predict_loss_curve(TRUE, lr, steps=steps, warmup=WARM) + rng.normal(0, 0.003, steps.size)
        curves.append((lr, steps, L))
    f = fit_lr_annealing(curves, warmup=WARM)
    assert f.result.status in ("gtol", "ftol", "xtol")
    np.testing.assert_allclose(f.params, TRUE, rtol=0.05)
    for kind in ("wsd", "linear"):
        lr = lr_schedule(kind, T, 2e-4, warmup=WARM, lr_min=2e-5)
        want = predict_loss_curve(TRUE, lr, warmup=WARM)
        got = f.predict(lr)
        assert np.nanmax(np.abs(got - want) / want) < 0.005
    # One curve with annealing is enough too (the paper's claim).
    one = fit_lr_annealing(curves[1], warmup=WARM)
    np.testing.assert_allclose(one.params, TRUE, rtol=0.1)


def test_fit_matches_scipy_on_the_same_points():
    pytest.importorskip("scipy")
    from scipy.optimize import curve_fit

    rng = np.random.default_rng(1)
    lr = lr_schedule("wsd", 5000, 1e-3, warmup=100, decay_frac=0.3)
    steps = np.arange(200, 5001, 20)
    L = predict_loss_curve(TRUE, lr, steps=steps, warmup=100) + rng.normal(0, 0.002, steps.size)
    f = fit_lr_annealing({"lr": lr, "steps": steps, "loss": L}, warmup=100)
    S1, S2 = lr_areas(lr, warmup=100)
    X = np.vstack([S1[steps - 1], S2[steps - 1]])
    p, _ = curve_fit(lambda x, L0, A, al, C: L0 + A * x[0] ** -al - C * x[1], X, L, p0=f.params, maxfev=10000)
    np.testing.assert_allclose(f.params, p, rtol=1e-5)


def test_bad_curves():
    with pytest.raises(ValueError, match="steps"):
        fit_lr_annealing([(np.ones(10), np.arange(5, 16), np.ones(11))])
    with pytest.raises(ValueError, match="usable points"):
        fit_lr_annealing([(np.ones(10), np.array([1, 2]), np.ones(2))])
