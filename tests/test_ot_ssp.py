"""The successive-shortest-path EMD solver against the network simplex and POT.

``solver="ssp"`` solves by successive shortest paths; the network simplex
(emd's automatic choice, measured faster) is the reference.  Many random problems of
each kind: random and uniform weights, degenerate ones (integer costs on a
small grid: ties everywhere), zero weights, n != m.
"""
from __future__ import annotations

import numpy as np
import ot
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scalecore.ot as sot
from scalecore.ot._common import reference_kernels


def make(rng, kind, n, m):
    if kind == "grid":  # integer costs on a 3 x 3 grid: many ties, degenerate bases
        x = rng.integers(0, 3, (n, 2)).astype(float)
        y = rng.integers(0, 3, (m, 2)).astype(float)
        M = ((x[:, None] - y[None]) ** 2).sum(-1)
    elif kind == "integer":
        M = rng.integers(0, 5, (n, m)).astype(float)
    else:
        M = sot.cost_matrix(rng.standard_normal((n, 4)), rng.standard_normal((m, 4)) + 0.3)
    if kind == "uniform" or (kind == "grid" and rng.random() < 0.5):
        a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    else:
        a, b = rng.random(n) + 0.01, rng.random(m) + 0.01
        if kind == "zeros":
            a[rng.random(n) < 0.3] = 0
            b[rng.random(m) < 0.3] = 0
            a[0] = b[0] = 1.0
        a, b = a / a.sum(), b / b.sum()
    return a, b, M


def check(r, a, b, M):
    assert r.status == "converged"
    n, m = M.shape
    assert r.plan.nnz <= n + m - 1  # a basic solution
    assert np.all(r.plan.values > 0)
    P = r.plan.toarray()
    np.testing.assert_allclose(P.sum(1), a, atol=1e-14)
    np.testing.assert_allclose(P.sum(0), b, atol=1e-14)
    red = M - r.f[:, None] - r.g[None, :]
    scale = 1 + np.abs(M).max()
    assert red.min() >= -1e-12 * scale
    assert np.abs(red[r.plan.rows, r.plan.cols]).max() <= 1e-12 * scale
    assert np.isclose((P * M).sum(), r.cost, rtol=1e-13, atol=1e-15)
    assert np.isclose(a @ r.f + b @ r.g, r.cost, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("kind", ["random", "uniform", "grid", "integer", "zeros"])
@pytest.mark.parametrize("n,m", [(1, 1), (1, 6), (7, 1), (5, 9), (33, 20), (64, 64), (100, 128)])
def test_ssp_matches_simplex_and_pot(simd, rng, kind, n, m):
    for _ in range(3):
        a, b, M = make(rng, kind, n, m)
        r = sot.emd(a, b, M, solver="ssp")
        q = sot.emd(a, b, M, solver="simplex")
        ref = ot.emd2(a, b, M, numItermax=10**7)
        check(r, a, b, M)
        check(q, a, b, M)
        assert abs(r.cost - ref) <= 1e-12 * abs(ref) + 1e-15
        assert abs(r.cost - q.cost) <= 1e-12 * abs(q.cost) + 1e-15


def test_auto_is_the_simplex_and_max_iter_means_simplex(rng):
    # (emd's automatic choice is the simplex at every size: measured, see
    # bench ot_emd_choice.)  A pivot limit always runs the simplex.
    a, b, M = make(rng, "random", 64, 64)
    r = sot.emd(a, b, M)
    q = sot.emd(a, b, M, solver="simplex")
    assert r.cost == q.cost and r.n_iter == q.n_iter
    with pytest.warns(sot.ConvergenceWarning):
        s = sot.emd(a, b, M, solver="ssp", max_iter=2)
    assert s.status == "max_iter" and s.n_iter == 2


def test_ssp_levels_and_threads_agree(simd, rng):
    # The same augmenting paths at every SIMD level (the row scans are
    # bit-identical), and results independent of the thread count.
    B = 24
    probs = [make(rng, ("random", "grid", "zeros")[k % 3], 40, 48) for k in range(B)]
    A = np.stack([p[0] for p in probs])
    Bw = np.stack([p[1] for p in probs])
    Ms = np.stack([p[2] for p in probs])
    r1 = sot.emd(A, Bw, Ms, solver="ssp", n_threads=1)
    r2 = sot.emd(A, Bw, Ms, solver="ssp", n_threads=2)
    with reference_kernels():
        q = sot.emd(A, Bw, Ms, solver="ssp", n_threads=1)
    for r in (r2, q):
        assert np.array_equal(r1.cost, r.cost) and np.array_equal(r1.f, r.f) and np.array_equal(r1.g, r.g)
        assert np.array_equal(r1.n_iter, r.n_iter)
        for k in range(B):
            assert np.array_equal(r1.plan[k].toarray(), r.plan[k].toarray())


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 20), m=st.integers(1, 20), seed=st.integers(0, 2**16),
       kind=st.sampled_from(["random", "grid", "integer", "zeros"]))
def test_hypothesis_ssp_against_simplex(n, m, seed, kind):
    rng = np.random.default_rng(seed)
    a, b, M = make(rng, kind, n, m)
    r = sot.emd(a, b, M, solver="ssp")
    q = sot.emd(a, b, M, solver="simplex")
    check(r, a, b, M)
    assert abs(r.cost - q.cost) <= 1e-12 * abs(q.cost) + 1e-15
