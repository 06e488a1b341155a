"""OTDD against an independent construction (scipy sqrtm, POT emd2/sinkhorn)."""
from __future__ import annotations

import numpy as np
import ot
import pytest
from scipy.linalg import sqrtm
from scipy.spatial.distance import cdist

import scalecore.ot as sot


def data(rng, n=60, m=50, d=3, k=3):
    x1, x2 = rng.standard_normal((n, d)), rng.standard_normal((m, d)) * 1.2 + 0.3
    y1, y2 = rng.integers(0, k, n), rng.integers(0, k, m)
    x1 += y1[:, None]  # classes at different places
    x2 += 0.8 * y2[:, None]
    return x1, y1, x2, y2


def bures(u, v, ridge=1e-8):
    m1, m2 = u.mean(0), v.mean(0)
    S1 = np.cov(u.T, bias=True) + ridge * np.eye(u.shape[1])
    S2 = np.cov(v.T, bias=True) + ridge * np.eye(u.shape[1])
    R = sqrtm(S1)
    return float(((m1 - m2) ** 2).sum() + np.trace(S1 + S2 - 2 * np.real(sqrtm(R @ S2 @ R))))


def ref_class(x1, y1, x2, y2, method):
    c1, c2 = np.unique(y1), np.unique(y2)
    W = np.zeros((len(c1), len(c2)))
    for i, c in enumerate(c1):
        for j, e in enumerate(c2):
            u, v = x1[y1 == c], x2[y2 == e]
            if method == "gaussian":
                W[i, j] = bures(u, v)
            else:
                W[i, j] = ot.emd2(np.full(len(u), 1 / len(u)), np.full(len(v), 1 / len(v)), cdist(u, v, "sqeuclidean"))
    return W


@pytest.mark.parametrize("method", ["gaussian", "exact"])
def test_class_distances(rng, method):
    x1, y1, x2, y2 = data(rng)
    W, c1, c2 = sot.class_distances(x1, y1, x2, y2, method=method)
    np.testing.assert_allclose(W, ref_class(x1, y1, x2, y2, method), rtol=1e-7, atol=1e-9)
    We, _, _ = sot.class_distances(x1, y1, x2, y2, method="entropic", tol=1e-9)
    assert np.all(We >= ref_class(x1, y1, x2, y2, "exact") - 1e-9)  # entropic plan's cost >= exact


@pytest.mark.parametrize("class_cost", ["gaussian", "exact"])
def test_otdd_matches_reference(rng, class_cost):
    x1, y1, x2, y2 = data(rng)
    eps = 2.0  # large enough for POT's alternating iteration on the self-transport terms
    r = sot.otdd(x1, y1, x2, y2, eps=eps, class_cost=class_cost, tol=1e-10, max_iter=100000)

    def obj(xa, la, xb, lb):
        W = ref_class(xa, la, xb, lb, class_cost)
        ca, cb = np.unique(la), np.unique(lb)
        M = cdist(xa, xb, "sqeuclidean") + W[np.searchsorted(ca, la)][:, np.searchsorted(cb, lb)]
        u, v = np.full(len(xa), 1 / len(xa)), np.full(len(xb), 1 / len(xb))
        _, log = ot.sinkhorn2(u, v, M, eps, method="sinkhorn_log", stopThr=1e-10, numItermax=200000, log=True)
        X = log["log_u"][:, None] + log["log_v"][None, :] - M / eps
        P = np.exp(X)
        return (P * M).sum() + eps * (P * X).sum()

    ref = obj(x1, y1, x2, y2) - 0.5 * obj(x1, y1, x1, y1) - 0.5 * obj(x2, y2, x2, y2)
    assert abs(r.value - ref) < 1e-7 * abs(ref)
    rt = sot.otdd(x1, y1, x2, y2, eps=eps, class_cost=class_cost, tol=1e-10, max_iter=100000, tiled=True)
    assert abs(rt.value - r.value) < 1e-8 * abs(ref)
    assert r.grad_a.shape == (60,) and abs(r.grad_a.sum()) < 1e-9


def test_otdd_properties(rng):
    x1, y1, x2, y2 = data(rng)
    same = sot.otdd(x1, y1, x1, y1, eps=0.5, tol=1e-10, max_iter=100000)
    assert abs(same.value) < 1e-8
    far = sot.otdd(x1, y1, x2 + 3.0, y2, eps=0.5)
    near = sot.otdd(x1, y1, x2, y2, eps=0.5)
    assert far.value > near.value > 0
    # Label-blind (lambda = 0) is the plain Sinkhorn divergence of the features.
    blind = sot.otdd(x1, y1, x2, y2, eps=0.5, label_weight=0.0, tol=1e-10, max_iter=100000)
    div = sot.sinkhorn_divergence(None, None, eps=0.5, x=x1, y=x2, tol=1e-10, max_iter=100000)
    assert abs(blind.value - div.value) < 1e-8 * div.value
    with pytest.raises(ValueError, match="y1: expected 60 labels"):
        sot.otdd(x1, y1[:5], x2, y2)
    with pytest.raises(ValueError, match="class_cost|method"):
        sot.otdd(x1, y1, x2, y2, class_cost="bogus")
