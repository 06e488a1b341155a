"""Exact OT against POT (emd2, emd2_1d, sliced) and scipy (assignment)."""
from __future__ import annotations

import warnings

import numpy as np
import ot
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

import scalecore.ot as sot
from scalecore import _core
from scalecore.ot._common import impl as sot_impl
from scalecore.ot._common import reference_kernels


def problem(rng, n, m, d=3, uniform=False):
    x, y = rng.standard_normal((n, d)), rng.standard_normal((m, d)) + 0.3
    M = sot.cost_matrix(x, y)
    if uniform:
        return np.full(n, 1 / n), np.full(m, 1 / m), M
    a, b = rng.random(n) + 0.05, rng.random(m) + 0.05
    return a / a.sum(), b / b.sum(), M


def check_solution(r, a, b, M, tol=1e-12):
    P = r.plan.toarray()
    n, m = M.shape
    assert r.plan.nnz <= n + m - 1
    assert np.all(r.plan.values > 0)
    np.testing.assert_allclose(P.sum(1), a, atol=tol)
    np.testing.assert_allclose(P.sum(0), b, atol=tol)
    # Duals: feasible, tight on the support, and the dual value is the cost.
    red = M - r.f[:, None] - r.g[None, :]
    assert red.min() > -1e-10 * (1 + np.abs(M).max())
    assert np.abs(red[r.plan.rows, r.plan.cols]).max() < 1e-10 * (1 + np.abs(M).max())
    assert np.isclose(a @ r.f + b @ r.g, r.cost, rtol=1e-10, atol=1e-12)
    assert np.isclose((P * M).sum(), r.cost, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n,m", [(1, 1), (1, 7), (9, 1), (13, 29), (64, 64), (101, 57)])
@pytest.mark.parametrize("uniform", [False, True])
def test_emd_matches_pot(simd, rng, n, m, uniform):
    a, b, M = problem(rng, n, m, uniform=uniform)
    r = sot.emd(a, b, M)
    ref = ot.emd2(a, b, M, numItermax=10**7)
    assert r.status == "converged"
    assert abs(r.cost - ref) <= 1e-9 * abs(ref) + 1e-15
    check_solution(r, a, b, M)


def test_assignment_and_simplex_agree_with_scipy(rng):
    n = 50
    _, _, M = problem(rng, n, n, uniform=True)
    u = np.full(n, 1 / n)
    r1 = sot.emd(u, u, M)
    r2 = sot.emd(u, u, M, solver="simplex")
    i, j = linear_sum_assignment(M)
    assert np.isclose(r1.cost, M[i, j].sum() / n, rtol=1e-12)
    assert np.isclose(r2.cost, r1.cost, rtol=1e-12)
    assert r1.plan.nnz == n and r1.n_iter == 0 and r2.n_iter > 0
    check_solution(r2, u, u, M)


def test_levels_match_reference(simd, rng):
    for uniform in (False, True):
        a, b, M = problem(rng, 43, 43 if uniform else 31, uniform=uniform)
        for solver in ("auto", "simplex"):
            r = sot.emd(a, b, M, solver=solver)
            with reference_kernels():
                q = sot.emd(a, b, M, solver=solver)
            assert np.isclose(r.cost, q.cost, rtol=1e-13)
            # Every level picks the same entering arc: the same pivots.
            assert r.n_iter == q.n_iter
            check_solution(q, a, b, M)


@pytest.mark.parametrize("n,m", [(1, 1), (1, 9), (3, 5), (7, 9), (13, 29), (16, 16), (17, 33), (31, 17),
                                 (64, 64), (65, 33), (100, 131), (257, 5), (8, 200), (9, 300)])
def test_emd_kernels_match_reference(simd, n, m):
    # Pricing (double and float), the Vogel keys and two cheapest cells, the
    # penalty argmax, the recompute mask, the masked potential update and the
    # Jonker-Volgenant helpers, bit for bit against the reference, on
    # quantised data (ties, -0.0 against +0.0: (8, 200) caught the vector
    # minima returning the other zero) with odd shapes.
    for seed in range(3):
        assert _core._ot_emd_kernel_check(n, m, seed) == []


@pytest.mark.parametrize("scale", [1e-200, 1e-30, 1e35, 1e300])
@pytest.mark.parametrize("uniform", [False, True])
def test_extreme_cost_scales(simd, rng, scale, uniform):
    # Costs far outside float's range (the float candidate pricing is skipped
    # beyond 1e30, the Vogel keys clamp) or tiny: the optimum scales with M
    # (independent reference: POT on the unscaled costs).
    a, b, M = problem(rng, 37, 37 if uniform else 41, uniform=uniform)
    ref = ot.emd2(a, b, M)
    for solver in ("auto", "simplex"):
        r = sot.emd(a, b, M * scale, solver=solver)
        assert r.status == "converged"
        assert abs(r.cost / scale - ref) <= 1e-12 * ref
        assert (M * scale - r.f[:, None] - r.g[None, :]).min() >= -1e-10 * np.abs(M * scale).max()


def degenerate_problem(rng, n, m):
    # Integer costs on a 3 x 3 grid and uniform weights: many ties in costs
    # and many zero-flow (degenerate) pivots.
    x = rng.integers(0, 3, (n, 2)).astype(float)
    y = rng.integers(0, 3, (m, 2)).astype(float)
    return np.full(n, 1 / n), np.full(m, 1 / m), ((x[:, None] - y[None]) ** 2).sum(-1)


@pytest.mark.parametrize("start", [1, 2])
@pytest.mark.parametrize("n,m,degenerate", [(13, 29, False), (64, 64, True), (60, 40, True), (30, 90, True),
                                            (150, 130, False), (200, 120, True)])
def test_simplex_starts_match_pot(simd, rng, start, n, m, degenerate):
    # Both starting bases (Vogel, row minimum), small trees (bitsets, n + m
    # < 256) and large ones (preorder arrays), random and highly degenerate
    # problems: the optimum of POT and a valid primal-dual pair.
    a, b, M = degenerate_problem(rng, n, m) if degenerate else problem(rng, n, m)
    ref = ot.emd2(a, b, M, numItermax=10**7)
    r = _core.ot_emd(M[None], a[None], b[None], 1, None, None, 0, 0, False, sot_impl(), 1, start, 1)
    assert r["status"][0] == 1
    assert abs(r["cost"][0] - ref) <= 1e-12 * abs(ref) + 1e-15
    k = int(r["nnz"][0])
    P = np.zeros((n, m))
    P[r["rows"][0, :k], r["cols"][0, :k]] = r["vals"][0, :k]
    assert np.all(np.diff(r["rows"][0, :k] * m + r["cols"][0, :k]) > 0)  # sorted by (row, col)
    np.testing.assert_allclose(P.sum(1), a, atol=1e-12)
    np.testing.assert_allclose(P.sum(0), b, atol=1e-12)
    f, g = r["f"][0], r["g"][0]
    assert (M - f[:, None] - g[None]).min() > -1e-10 * (1 + np.abs(M).max())


def test_zero_weights_and_unnormalised_mass(rng):
    a, b, M = problem(rng, 20, 15)
    a[[0, 5, 7]] = 0
    b[3] = 0
    a *= 3.0 / a.sum()
    b *= 3.0 / b.sum()
    r = sot.emd(a, b, M)
    assert abs(r.cost - ot.emd2(a, b, M)) < 1e-9 * r.cost
    check_solution(r, a, b, M, tol=1e-12)
    assert np.all(np.isfinite(r.f)) and np.all(np.isfinite(r.g))


def test_points_instead_of_costs(rng):
    x, y = rng.standard_normal((12, 3)), rng.standard_normal((9, 3))
    r = sot.emd(None, None, x=x, y=y, metric="euclidean")
    assert abs(r.cost - ot.emd2(np.full(12, 1 / 12), np.full(9, 1 / 9), ot.dist(x, y, "euclidean"))) < 1e-12
    assert r.objective == r.cost
    with pytest.raises(ValueError, match="not both"):
        sot.emd(None, None, sot.cost_matrix(x, y), x=x, y=y)


def test_float32(rng):
    a, b, M = problem(rng, 30, 20)
    r = sot.emd(a, b, M.astype(np.float32))
    assert abs(r.cost - ot.emd2(a, b, M.astype(np.float32).astype(float))) < 1e-9 * r.cost


def test_batch_equal_ragged_and_bad_problem(rng):
    B = 6
    probs = [problem(rng, 12 + k, 9 + 2 * k) for k in range(B)]
    # Ragged batch.
    r = sot.emd([p[0] for p in probs], [p[1] for p in probs], [p[2] for p in probs])
    for k, (a, b, M) in enumerate(probs):
        assert abs(r.cost[k] - ot.emd2(a, b, M)) < 1e-9 * r.cost[k]
        assert r.f[k].shape == (12 + k,)
    # Equal sizes with a shared cost matrix and a batch of weights; one bad.
    a, b, M = problem(rng, 16, 14)
    A = np.stack([a, np.roll(a, 3), a])
    A[2, 4] = -0.1
    with pytest.warns(RuntimeWarning, match="could not be solved"):
        rb = sot.emd(A, b, M)
    assert list(rb.status) == ["converged", "converged", "bad_input"]
    assert np.isnan(rb.cost[2])
    assert abs(rb.cost[1] - ot.emd2(A[1], b, M)) < 1e-9 * rb.cost[1]
    assert rb.f.shape == (3, 16)
    assert isinstance(rb.plan, sot.PlanBatch) and rb.plan[1].shape == (16, 14)
    np.testing.assert_allclose(rb.plan[1].toarray().sum(0), b, atol=1e-12)
    assert rb.plan.nnz.shape == (3,) and len(list(rb.plan)) == 3
    # Mass mismatch within a batch is a status, not an exception.
    Bw = np.stack([b, 2 * b])
    with pytest.warns(RuntimeWarning):
        rm = sot.emd(a, Bw, M)
    assert list(rm.status) == ["converged", "infeasible"]


def test_thread_invariance(rng):
    probs = [problem(rng, 40, 40) for _ in range(10)]
    Ms = np.stack([p[2] for p in probs])
    A = np.stack([p[0] for p in probs])
    Bw = np.stack([p[1] for p in probs])
    r1 = sot.emd(A, Bw, Ms, n_threads=1)
    r2 = sot.emd(A, Bw, Ms, n_threads=2)
    assert np.array_equal(r1.cost, r2.cost) and np.array_equal(r1.f, r2.f)


def test_bad_input_single_problem(rng):
    a, b, M = problem(rng, 5, 4)
    with pytest.raises(ValueError, match="a: weights must be >= 0"):
        sot.emd(-a, b, M)
    with pytest.raises(ValueError, match="b: weights must be finite"):
        sot.emd(a, np.where(np.arange(4) == 1, np.nan, b), M)
    with pytest.raises(ValueError, match="equal masses"):
        sot.emd(a, 2 * b, M)
    Mn = M.copy()
    Mn[1, 2] = np.inf
    with pytest.raises(ValueError, match="M: costs must be finite"):
        sot.emd(a, b, Mn)
    with pytest.raises(ValueError, match="a: expected 5 weights"):
        sot.emd(a[:4], b, M)
    with pytest.raises(ValueError, match="empty"):
        sot.emd(np.zeros(0), b, np.zeros((0, 4)))
    with pytest.raises(ValueError, match="total mass is 0"):
        sot.emd(np.zeros(5), b, M)
    with pytest.raises(ValueError, match="solver"):
        sot.emd(a, b, M, solver="lp")


def test_max_iter_status_and_warning(rng):
    a, b, M = problem(rng, 30, 25)
    with pytest.warns(sot.ConvergenceWarning):
        r = sot.emd(a, b, M, max_iter=3)
    assert r.status == "max_iter"


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 12), m=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_hypothesis_shapes(n, m, seed):
    rng = np.random.default_rng(seed)
    a, b, M = problem(rng, n, m, d=2)
    r = sot.emd(a, b, M)
    assert abs(r.cost - ot.emd2(a, b, M)) <= 1e-9 * abs(r.cost) + 1e-14
    check_solution(r, a, b, M)


# ---------------------------------------------------------------------------
# 1-D and sliced
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_emd_1d_matches_pot_and_duals(rng, p):
    x, y = rng.standard_normal(37), rng.standard_normal(23) * 2
    a, b = rng.random(37), rng.random(23)
    a, b = a / a.sum(), b / b.sum()
    r = sot.emd_1d(x, y, a, b, p=p, plan=True)
    C = np.abs(x[:, None] - y[None, :]) ** p
    exact = ot.emd2(a, b, C)
    assert abs(r.cost - exact) < 1e-10 * exact
    P = r.plan.toarray()
    np.testing.assert_allclose(P.sum(1), a, atol=1e-13)
    np.testing.assert_allclose(P.sum(0), b, atol=1e-13)
    assert r.plan.nnz <= 37 + 23 - 1
    assert (C - r.f[:, None] - r.g[None, :]).min() > -1e-10
    assert np.isclose(a @ r.f + b @ r.g, r.cost, rtol=1e-10)


def test_emd_1d_batch_and_pot_sqeuclidean(rng):
    X, Y = rng.standard_normal((4, 30)), rng.standard_normal((4, 20))
    r = sot.emd_1d(X, Y)
    for k in range(4):
        assert abs(r.cost[k] - ot.emd2_1d(X[k], Y[k])) < 1e-12
    with pytest.raises(ValueError, match="p >= 1"):
        sot.emd_1d(X[0], Y[0], p=0.5)
    with pytest.raises(ValueError, match="empty"):
        sot.emd_1d(np.zeros(0), Y[0])


def test_sliced_matches_pot(rng):
    x, y = rng.standard_normal((60, 5)), rng.standard_normal((45, 5)) + 0.5
    a = rng.random(60)
    a /= a.sum()
    P = rng.standard_normal((5, 30))
    P /= np.linalg.norm(P, axis=0)
    for p in (1, 2):
        r = sot.sliced_wasserstein(x, y, a, None, projections=P, p=p)
        ref = ot.sliced_wasserstein_distance(x, y, a, np.full(45, 1 / 45), projections=P, p=p)
        assert abs(r.value - ref) < 1e-12
    r1 = sot.sliced_wasserstein(x, y, seed=3, n_projections=20)
    r2 = sot.sliced_wasserstein(x, y, seed=3, n_projections=20, n_threads=1)
    assert r1.value == r2.value and r1.per_projection.shape == (20,)


# ---------------------------------------------------------------------------
# Huge finite costs for forbidden pairs (1e8..1e10, a common idiom)
# ---------------------------------------------------------------------------
def forbidden_problem(rng, n, m, big, frac=0.4, dyadic=False):
    """Costs with a fraction of pairs forbidden by the finite cost `big`.

    The north-west-corner staircase of (a, b) stays allowed, so a plan on
    allowed pairs exists and the optimum puts no mass on a forbidden one.
    dyadic: weights k / 2^10 and integer costs, so every basic solution and
    the optimal cost are exact in double.
    """
    if dyadic:
        a = rng.integers(1, 40, n).astype(float)
        b = rng.integers(1, 40, m).astype(float)
        # Equal integer totals, then scale by a power of two (exact).
        while a.sum() != b.sum():
            k = rng.integers(0, m) if a.sum() > b.sum() else rng.integers(0, n)
            if a.sum() > b.sum():
                b[k] += 1
            else:
                a[k] += 1
        a /= 1024.0
        b /= 1024.0
        M = rng.integers(0, 20, (n, m)).astype(float)
    else:
        a, b = rng.random(n) + 0.05, rng.random(m) + 0.05
        a, b = a / a.sum(), b / b.sum()
        M = sot.cost_matrix(rng.standard_normal((n, 3)), rng.standard_normal((m, 3)) + 0.3)
    allowed = rng.random((n, m)) > frac
    i = j = 0
    ra, rb = a.copy(), b.copy()
    while i < n and j < m:  # the staircase
        allowed[i, j] = True
        x = min(ra[i], rb[j])
        ra[i] -= x
        rb[j] -= x
        if ra[i] <= rb[j] and i < n - 1:
            i += 1
        else:
            j += 1
    return a, b, np.where(allowed, M, big), allowed


def lp_optimum(a, b, M, allowed):
    """The optimum over the allowed pairs only (HiGHS), an independent reference."""
    from scipy.optimize import linprog

    n, m = M.shape
    idx = np.flatnonzero(allowed.ravel())
    A = np.zeros((n + m, idx.size))
    A[idx // m, np.arange(idx.size)] = 1
    A[n + idx % m, np.arange(idx.size)] = 1
    res = linprog(M.ravel()[idx], A_eq=A, b_eq=np.concatenate([a, b]), bounds=(0, None), method="highs")
    assert res.status == 0
    return res.fun


@pytest.mark.parametrize("big", [1e8, 1e9, 1e10])
@pytest.mark.parametrize("solver", ["auto", "simplex", "ssp"])
def test_huge_costs_exact_flow_cost_and_duals(simd, rng, big, solver):
    for n, m in ((17, 23), (40, 40), (64, 64)):
        a, b, M, allowed = forbidden_problem(rng, n, m, big)
        r = sot.emd(a, b, M, solver=solver)
        assert r.status == "converged"
        # No mass at all (not even rounding) on a forbidden pair.
        assert allowed[r.plan.rows, r.plan.cols].all()
        P = r.plan.toarray()
        np.testing.assert_allclose(P.sum(1), a, atol=1e-15)
        np.testing.assert_allclose(P.sum(0), b, atol=1e-15)
        ref = ot.emd2(a, b, M, numItermax=10**7)
        exact = lp_optimum(a, b, M, allowed)
        assert abs(r.cost - ref) <= 1e-12 * ref
        assert abs(r.cost - exact) <= 1e-9 * exact
        assert np.isclose((P * M).sum(), r.cost, rtol=1e-14)
        # Duals feasible (f + g <= M) to rounding, not to 1e-12 x big.
        viol = (r.f[:, None] + r.g[None, :] - M).max()
        assert viol <= 1e-12, viol
        red = M - r.f[:, None] - r.g[None, :]
        assert np.abs(red[r.plan.rows, r.plan.cols]).max() <= 1e-12
        # The plan equals POT's on problems with a unique optimum (random
        # real costs): the same basic solution.
        Pp = ot.emd(a, b, M, numItermax=10**7)
        np.testing.assert_allclose(P, Pp, atol=1e-15)


@pytest.mark.parametrize("solver", ["auto", "simplex", "ssp"])
def test_huge_costs_dyadic_exact_optimum(rng, solver):
    # Integer costs and dyadic weights: basic solutions are exact in double,
    # so the cost must be the exact optimum over the allowed pairs (the LP's
    # value rounded to the grid of 2^-10 x integers), for POT and scalecore.
    for big in (1e8, 1e10):
        for n, m in ((9, 14), (30, 25)):
            a, b, M, allowed = forbidden_problem(rng, n, m, big, dyadic=True)
            exact = np.round(lp_optimum(a, b, M, allowed) * 1024) / 1024
            r = sot.emd(a, b, M, solver=solver)
            assert r.status == "converged"
            assert r.cost == exact
            assert ot.emd2(a, b, M) == exact
            assert allowed[r.plan.rows, r.plan.cols].all()
            assert (r.f[:, None] + r.g[None, :] - M).max() <= 1e-12


@pytest.mark.parametrize("solver", ["auto", "simplex", "ssp"])
def test_huge_costs_between_classes_duals_rebuilt(rng, solver):
    # Forbidden pairs between classes that exchange no mass (each class holds
    # the same mass on both sides): the optimal basis must use a zero-flow
    # 1e10 arc between classes, whose potentials then sit 1e10 apart with
    # 1e-6 of rounding.  The plan carries no mass between classes (POT's
    # leaves ~1e-17 there) and the duals are feasible on the costs' scale;
    # the cost is the sum of the classes' optima.
    for rep in range(3):
        n = m = 40
        la, lb = rng.integers(0, 3, n), rng.integers(0, 3, m)
        la[:3] = lb[:3] = [0, 1, 2]
        W = rng.random(3) + 0.5
        a, b = rng.random(n) + 0.1, rng.random(m) + 0.1
        for k in range(3):
            a[la == k] *= W[k] / a[la == k].sum()
            b[lb == k] *= W[k] / b[lb == k].sum()
        M0 = sot.cost_matrix(rng.standard_normal((n, 3)), rng.standard_normal((m, 3)))
        allowed = la[:, None] == lb[None, :]
        M = np.where(allowed, M0, 1e10)
        r = sot.emd(a, b, M, solver=solver)
        assert r.status == "converged"
        assert allowed[r.plan.rows, r.plan.cols].all()
        parts = sum(ot.emd2(a[la == k] / W[k], b[lb == k] / W[k], M0[np.ix_(la == k, lb == k)]) * W[k]
                    for k in range(3))
        assert abs(r.cost - parts) <= 1e-12 * parts
        assert (r.f[:, None] + r.g[None, :] - M).max() <= 1e-12
        red = M - r.f[:, None] - r.g[None, :]
        assert np.abs(red[r.plan.rows, r.plan.cols]).max() <= 1e-12
