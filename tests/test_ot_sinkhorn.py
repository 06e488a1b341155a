"""Entropic OT against POT (sinkhorn_log, sinkhorn, unbalanced, divergence)."""
from __future__ import annotations

import warnings

import numpy as np
import ot
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scalecore.ot as sot
from scalecore import _core
from scalecore.ot._common import reference_kernels


def problem(rng, n, m, d=3):
    x, y = rng.standard_normal((n, d)), rng.standard_normal((m, d)) + 0.4
    a, b = rng.random(n) + 0.05, rng.random(m) + 0.05
    return a / a.sum(), b / b.sum(), sot.cost_matrix(x, y), x, y


def pot_log(a, b, M, eps, tol=1e-6):
    c, log = ot.sinkhorn2(a, b, M, eps, method="sinkhorn_log", stopThr=tol, numItermax=100000, log=True)
    return float(c), eps * log["log_u"], eps * log["log_v"]


def same_up_to_constant(f, g, rtol):
    d = f - g
    return np.abs(d - d.mean()).max() <= rtol * (1 + np.abs(f).max())


@pytest.mark.parametrize("kernel", ["auto", "float64", "float32", "none"])
@pytest.mark.parametrize("fac", [0.01, 0.1, 1.0])
def test_matches_pot_sinkhorn_log(simd, rng, kernel, fac):
    a, b, M, _, _ = problem(rng, 61, 47)
    eps = fac * np.median(M)
    r = sot.sinkhorn(a, b, M, eps, tol=1e-6, max_iter=100000, kernel=kernel)
    c, f, g = pot_log(a, b, M, eps)
    assert r.status == "converged"
    assert abs(r.cost - c) <= 1e-6 * abs(c)
    assert same_up_to_constant(r.f, f, 1e-5) and same_up_to_constant(r.g, g, 1e-5)
    # The plan is exp((f + g - M)/eps) and its objective is <P,M> + eps sum P log P.
    X = (r.f[:, None] + r.g[None, :] - M) / eps  # log P
    P = np.exp(X)
    assert np.isclose((P * M).sum(), r.cost, rtol=1e-10)
    assert np.isclose((P * M).sum() + eps * (P * X).sum(), r.objective, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(P.sum(1), a, atol=1e-12 if kernel != "float32" else 1e-8)
    assert np.linalg.norm(P.sum(0) - b) <= 1e-6 * 1.01


def test_matches_pot_plain_sinkhorn_and_float32(rng):
    a, b, M, _, _ = problem(rng, 80, 90)
    eps = 0.1 * np.median(M)
    r = sot.sinkhorn(a, b, M, eps, tol=1e-8)
    assert abs(r.cost - ot.sinkhorn2(a, b, M, eps, stopThr=1e-8, numItermax=100000)) <= 1e-6 * r.cost
    r32 = sot.sinkhorn(a, b, M.astype(np.float32), eps, tol=1e-6)
    assert r32.plan is None and r32.status == "converged"
    assert abs(r32.cost - r.cost) <= 1e-4 * r.cost


def test_small_eps_is_stable_where_plain_overflows(rng):
    a, b, M, _, _ = problem(rng, 40, 50)
    eps = 1e-3 * np.median(M)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        plain = ot.sinkhorn2(a, b, M, eps, stopThr=1e-6, numItermax=2000)
        c, _, _ = pot_log(a, b, M, eps)
    # POT's plain Sinkhorn breaks down here (numerical errors, wrong value).
    assert any("umerical" in str(x.message) for x in w) or not abs(plain - c) < 1e-3 * c
    r = sot.sinkhorn(a, b, M, eps, tol=1e-6, max_iter=100000)
    assert r.status == "converged" and abs(r.cost - c) <= 1e-6 * c
    # ... and close to the exact OT cost at such a small eps.
    assert abs(r.cost - ot.emd2(a, b, M)) < 0.05 * r.cost


def test_eps_scaling_warm_start_and_check_every(rng):
    a, b, M, _, _ = problem(rng, 70, 60)
    eps = 0.005 * np.median(M)
    base = sot.sinkhorn(a, b, M, eps, tol=1e-7, max_iter=100000)
    sc = sot.sinkhorn(a, b, M, eps, tol=1e-7, max_iter=100000, eps_scaling=0.5)
    assert sc.status == "converged" and abs(sc.cost - base.cost) < 1e-5 * base.cost
    warm = sot.sinkhorn(a, b, M, eps, tol=1e-7, max_iter=100000, warm_start=base)
    assert warm.n_iter < base.n_iter / 5
    fast = sot.sinkhorn(a, b, M, eps, tol=1e-7, max_iter=100000, check_every=1)
    assert fast.n_iter <= base.n_iter and fast.err <= 1e-7


def test_accelerate_meets_the_same_tolerance_in_fewer_iterations(rng):
    a, b, M, _, _ = problem(rng, 64, 64)
    eps = 0.02 * np.median(M)
    tight = sot.sinkhorn(a, b, M, eps, tol=1e-11, max_iter=100000)
    plain = sot.sinkhorn(a, b, M, eps, tol=1e-7, max_iter=100000, check_every=1)
    acc = sot.sinkhorn(a, b, M, eps, tol=1e-7, max_iter=100000, check_every=1, accelerate=True)
    assert acc.status == "converged" and acc.n_iter < plain.n_iter
    P = np.exp((acc.f[:, None] + acc.g[None, :] - M) / eps)
    assert np.linalg.norm(P.sum(1) - a) <= 1e-7 and np.linalg.norm(P.sum(0) - b) <= 1e-7
    assert abs(acc.cost - tight.cost) <= 1e-4 * tight.cost


def test_accelerated_batch_matches_reference_and_pot(simd, rng):
    # The over-relaxed updates (OtKernels::scale_update: a series near the
    # fixed point, exp/log beyond) at each SIMD level and on the reference
    # kernels, with a zero weight: the same tolerance met, the same cost as
    # POT's sinkhorn_log at a tight tolerance.
    for k in range(4):
        a, b, M, _, _ = problem(rng, 40 + k, 33 + 2 * k)
        a[2] = 0
        a /= a.sum()
        eps = 0.03 * np.median(M)
        r = sot.sinkhorn(a, b, M, eps, tol=1e-9, check_every=1, accelerate=True)
        with reference_kernels():
            q = sot.sinkhorn(a, b, M, eps, tol=1e-9, check_every=1, accelerate=True)
        ref = pot_log(a, b, M, eps, tol=1e-12)[0]
        for res in (r, q):
            assert res.status == "converged"
            P = np.exp((res.f[:, None] + res.g[None, :] - M) / eps)
            assert np.linalg.norm(P.sum(0) - b) <= 1e-9 and np.linalg.norm(P.sum(1) - a) <= 1e-9
            assert abs(res.cost - ref) <= 1e-7 * ref
        assert abs(r.n_iter - q.n_iter) <= 2


@pytest.mark.parametrize("n", [1, 3, 4, 7, 9, 15, 17, 64, 129])
def test_scale_update_kernel_matches_reference(simd, n):
    for seed in range(3):
        assert _core._ot_scale_kernel_check(n, seed) == []


def test_tiled_matches_dense(simd, rng):
    a, b, M, x, y = problem(rng, 53, 41, d=5)
    eps = 0.05 * np.median(M)
    dense = sot.sinkhorn(a, b, M, eps, tol=1e-9)
    tiled = sot.sinkhorn(a, b, eps=eps, x=x, y=y, tol=1e-9)
    assert tiled.info["tiled"]
    assert abs(dense.cost - tiled.cost) <= 1e-9 * dense.cost
    np.testing.assert_allclose(dense.f, tiled.f, rtol=1e-8, atol=1e-9)
    for metric, p in (("euclidean", 1.0), ("euclidean", 3.0), ("cosine", 1.0)):
        Mm = sot.cost_matrix(x, y, metric, p=p)
        e = 0.1 * np.median(Mm)
        d = sot.sinkhorn(a, b, Mm, e, tol=1e-9)
        t = sot.sinkhorn(a, b, eps=e, x=x, y=y, metric=metric, p=p, tol=1e-9)
        assert abs(d.cost - t.cost) <= 1e-8 * d.cost


# Odd sizes: the 4 / 8 / 16-lane passes' tails on both sides.
@pytest.mark.parametrize("n,m", [(37, 45), (9, 17), (33, 7)])
def test_levels_match_reference(simd, rng, n, m):
    a, b, M, x, y = problem(rng, n, m)
    a[3] = 0
    a /= a.sum()
    eps = 0.05 * np.median(M)
    for kw in (dict(M=M), dict(M=M, kernel="none"), dict(M=M.astype(np.float32)), dict(x=x, y=y)):
        r = sot.sinkhorn(a, b, eps=eps, tol=1e-8, **kw)
        with reference_kernels():
            q = sot.sinkhorn(a, b, eps=eps, tol=1e-8, **kw)
        rt = 1e-5 if "M" in kw and kw["M"].dtype == np.float32 else 1e-10
        assert abs(r.cost - q.cost) <= rt * q.cost
        assert np.isclose(r.objective, q.objective, rtol=1e-4 if rt > 1e-9 else 1e-9)
        assert np.allclose(r.f_kl, q.f_kl, rtol=1e-4 if rt > 1e-9 else 1e-8, atol=1e-8)


def test_zero_weights_and_product_potentials(rng):
    a, b, M, _, _ = problem(rng, 30, 25)
    a[[2, 9]] = 0
    b[4] = 0
    a /= a.sum()
    b /= b.sum()
    eps = 0.1 * np.median(M)
    r = sot.sinkhorn(a, b, M, eps, tol=1e-10, max_iter=100000)
    assert r.status == "converged"
    assert np.isneginf(r.f[2]) and np.isneginf(r.g[4])
    # f_kl is the c-transform of g everywhere (finite at zero weights).
    gg = np.where(np.isfinite(r.g), r.g, -np.inf)
    ct = -eps * np.log(np.exp((gg[None, :] - M) / eps).sum(1))
    np.testing.assert_allclose(r.f_kl, ct, rtol=1e-9, atol=1e-10)
    ff = np.where(np.isfinite(r.f), r.f, -np.inf)
    ctg = -eps * np.log(np.exp((ff[:, None] - M) / eps).sum(0))
    np.testing.assert_allclose(r.g_kl, ctg, rtol=1e-8, atol=1e-9)


def test_batch_each_problem_stops_on_its_own(rng):
    probs = [problem(rng, 30, 30) for _ in range(4)]
    M = np.stack([p[2] for p in probs])
    A = np.stack([p[0] for p in probs])
    Bw = np.stack([p[1] for p in probs])
    eps = np.array([0.5, 0.05, 0.2, 0.01]) * np.median(M)
    r = sot.sinkhorn(A, Bw, M, eps, tol=1e-7, max_iter=100000)
    assert r.cost.shape == (4,) and r.f.shape == (4, 30)
    assert len(set(r.n_iter.tolist())) > 1  # different iteration counts
    for k in range(4):
        single = sot.sinkhorn(A[k], Bw[k], M[k], eps[k], tol=1e-7, max_iter=100000)
        assert single.cost == r.cost[k] and single.n_iter == r.n_iter[k]
    # Leading batch dims (2, 2) and a shared M with a batch of weights.
    r2 = sot.sinkhorn(A.reshape(2, 2, 30), Bw[0], probs[0][2], 0.1)
    assert r2.cost.shape == (2, 2) and r2.f.shape == (2, 2, 30)


def test_batch_ragged_and_bad_problem(rng):
    probs = [problem(rng, 10 + 3 * k, 8 + k) for k in range(5)]
    As = [p[0] for p in probs]
    As[2] = As[2].copy()
    As[2][0] = np.nan
    with pytest.warns(RuntimeWarning, match="could not be solved"):
        r = sot.sinkhorn(As, [p[1] for p in probs], [p[2] for p in probs], 0.3, tol=1e-9)
    assert r.status[2] == "bad_input" and np.isnan(r.cost[2])
    for k in (0, 1, 3, 4):
        c, _, _ = pot_log(probs[k][0], probs[k][1], probs[k][2], 0.3, tol=1e-9)
        assert abs(r.cost[k] - c) <= 1e-8 * c
        assert r.f[k].shape == (10 + 3 * k,)


def test_thread_invariance(rng):
    a, b, M, x, y = problem(rng, 700, 650)
    eps = 0.05 * np.median(M)
    for kw in (dict(M=M), dict(M=M, kernel="none"), dict(x=x, y=y)):
        r1 = sot.sinkhorn(a, b, eps=eps, n_threads=1, **kw)
        r2 = sot.sinkhorn(a, b, eps=eps, n_threads=2, **kw)
        assert r1.cost == r2.cost and np.array_equal(r1.f, r2.f) and r1.n_iter == r2.n_iter


def test_non_convergence_status_and_warning(rng):
    a, b, M, _, _ = problem(rng, 30, 30)
    with pytest.warns(sot.ConvergenceWarning, match="did not converge"):
        r = sot.sinkhorn(a, b, M, 0.001 * np.median(M), tol=1e-9, max_iter=5)
    # n_iter is POT's niter: the index of the last iteration (max_iter - 1).
    assert r.status == "max_iter" and not r.success and r.n_iter == 4


def pot_runs(a, b, M, eps, max_iter, tol):
    """POT's sinkhorn_log and sinkhorn (knopp) plans and logs, warnings kept."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        P_log, log_log = ot.sinkhorn(a, b, M, eps, method="sinkhorn_log", numItermax=max_iter, stopThr=tol,
                                     log=True)
        P_kn, log_kn = ot.sinkhorn(a, b, M, eps, method="sinkhorn", numItermax=max_iter, stopThr=tol, log=True)
    warned = [str(x.message) for x in w if "did not converge" in str(x.message)]
    return (P_log, log_log), (P_kn, log_kn), warned


@pytest.mark.parametrize("kernel", ["auto", "float64", "none"])
@pytest.mark.parametrize("max_iter", [1, 2, 7, 23])
def test_max_iter_returns_pot_iterate(simd, rng, kernel, max_iter):
    # Unconverged runs stop after the row update of the last iteration, as
    # POT's sinkhorn_log / sinkhorn_knopp loops do (a column then a row
    # update per iteration): the plan and cost are POT's to rounding, and
    # n_iter is POT's niter.
    a, b, M, _, _ = problem(rng, 31, 26)
    eps = 0.05 * np.median(M)
    (P_log, log_log), (P_kn, log_kn), warned = pot_runs(a, b, M, eps, max_iter, 1e-14)
    assert len(warned) == 2  # both POT solvers did not converge
    with pytest.warns(sot.ConvergenceWarning, match="did not converge"):
        r = sot.sinkhorn(a, b, M, eps, tol=1e-14, max_iter=max_iter, kernel=kernel, plan=True)
    assert r.status == "max_iter"
    assert r.n_iter == log_log["niter"] == log_kn["niter"] == max_iter - 1
    for P in (P_log, P_kn):
        np.testing.assert_allclose(r.plan, P, rtol=1e-11, atol=1e-17)
        assert abs(r.cost - float((P * M).sum())) <= 1e-12 * r.cost
    # POT's iterate has exact rows (the row update came last).
    np.testing.assert_allclose(r.plan.sum(1), a, rtol=1e-12)
    # The column marginal error of that iterate is what err reports.
    assert np.isclose(r.err, np.linalg.norm(r.plan.sum(0) - b), rtol=1e-8)


def test_converged_n_iter_is_pot_niter(rng):
    a, b, M, _, _ = problem(rng, 40, 35)
    eps = 0.1 * np.median(M)
    c, log = ot.sinkhorn2(a, b, M, eps, method="sinkhorn_log", stopThr=1e-9, numItermax=100000, log=True)
    r = sot.sinkhorn(a, b, M, eps, tol=1e-9, max_iter=100000)
    assert r.status == "converged"
    assert r.n_iter == log["niter"]
    assert abs(r.cost - float(c)) <= 1e-12 * r.cost


@pytest.mark.parametrize("kernel", ["auto", "none"])
def test_tol_zero_runs_max_iter_like_pot(simd, rng, kernel):
    # POT's stopThr=0: never stop early; both warn about non-convergence.
    a, b, M, _, _ = problem(rng, 20, 24)
    eps = 0.5 * np.median(M)  # converges to machine precision well before max_iter
    max_iter = 300
    (P_log, log_log), _, warned = pot_runs(a, b, M, eps, max_iter, 0.0)
    assert warned and log_log["niter"] == max_iter - 1
    with pytest.warns(sot.ConvergenceWarning, match="did not converge"):
        r = sot.sinkhorn(a, b, M, eps, tol=0, max_iter=max_iter, kernel=kernel, plan=True)
    assert r.status == "max_iter" and r.n_iter == max_iter - 1
    np.testing.assert_allclose(r.plan, P_log, rtol=1e-10, atol=1e-17)
    # Unbalanced and batched runs accept tol=0 too; negative tol is an error.
    with pytest.warns(sot.ConvergenceWarning):
        ru = sot.unbalanced_sinkhorn(a, b, M, eps, rho=1.0, tol=0.0, max_iter=50)
    assert ru.status == "max_iter" and ru.n_iter == 49
    with pytest.warns(sot.ConvergenceWarning):
        rb = sot.sinkhorn(a, b, np.stack([M, 2 * M]), eps, tol=0.0, max_iter=40)
    assert list(rb.n_iter) == [39, 39]
    with pytest.raises(ValueError, match="tol"):
        sot.sinkhorn(a, b, M, eps, tol=-1e-9)


def test_bad_input(rng):
    a, b, M, x, y = problem(rng, 6, 5)
    with pytest.raises(ValueError, match="eps"):
        sot.sinkhorn(a, b, M, 0.0)
    with pytest.raises(ValueError, match="eps"):
        sot.sinkhorn(a, b, M, -1.0)
    with pytest.raises(ValueError, match="a: weights must be >= 0"):
        sot.sinkhorn(a - 0.5, b, M, 0.1)
    with pytest.raises(ValueError, match="equal masses"):
        sot.sinkhorn(a, 3 * b, M, 0.1)
    Mn = M.copy()
    Mn[0, 0] = np.nan
    with pytest.raises(ValueError, match="M: costs must be finite"):
        sot.sinkhorn(a, b, Mn, 0.1)
    with pytest.raises(ValueError, match="b: expected 5 weights"):
        sot.sinkhorn(a, b[:4], M, 0.1)
    with pytest.raises(ValueError, match="empty"):
        sot.sinkhorn(np.zeros(0), b, np.zeros((0, 5)), 0.1)
    with pytest.raises(ValueError, match="y: expected 3 features"):
        sot.sinkhorn(a, b, eps=0.1, x=x, y=y[:, :2])
    xn = x.copy()
    xn[1, 1] = np.inf
    with pytest.raises(ValueError, match="x, y: positions must be finite"):
        sot.sinkhorn(a, b, eps=0.1, x=xn, y=y)
    with pytest.raises(ValueError, match="not both"):
        sot.sinkhorn(a, b, M, 0.1, x=x, y=y)
    with pytest.raises(ValueError, match="method"):
        sot.sinkhorn(a, b, M, 0.1, method="greenkhorn")


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 15), m=st.integers(1, 15), seed=st.integers(0, 2**16),
       fac=st.sampled_from([0.05, 0.5, 5.0]))
def test_hypothesis_shapes(n, m, seed, fac):
    rng = np.random.default_rng(seed)
    a, b, M, _, _ = problem(rng, n, m, d=2)
    eps = fac * (np.median(M) + 1e-3)
    r = sot.sinkhorn(a, b, M, eps, tol=1e-9, max_iter=100000)
    c, f, _ = pot_log(a, b, M, eps, tol=1e-9)
    assert r.status == "converged"
    assert abs(r.cost - c) <= 1e-7 * abs(c) + 1e-12
    assert r.f.shape == (n,) and r.g.shape == (m,)


# ---------------------------------------------------------------------------
# Unbalanced and the divergence
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("reg_type", ["kl", "entropy"])
@pytest.mark.parametrize("rho", [0.1, 1.0, 10.0])
def test_unbalanced_matches_pot(rng, reg_type, rho):
    a, b, M, _, _ = problem(rng, 40, 30)
    b = 1.5 * b
    eps = 0.1 * np.median(M)
    r = sot.unbalanced_sinkhorn(a, b, M, eps, rho, reg_type=reg_type, tol=1e-11, max_iter=100000, plan=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        P = ot.unbalanced.sinkhorn_unbalanced(a, b, M, eps, rho, reg_type=reg_type, stopThr=1e-13,
                                              numItermax=200000)
    assert r.status == "converged"
    assert abs(r.cost - (P * M).sum()) <= 1e-7 * (P * M).sum()
    np.testing.assert_allclose(r.plan, P, rtol=1e-6, atol=1e-12)
    # Objective with the generalised KL, evaluated on POT's plan.
    c = np.outer(a, b) if reg_type == "kl" else np.ones_like(M)

    def kl(x, y):
        return (x * np.log(x / y) - x + y).sum()

    obj = (P * M).sum() + eps * kl(P, c) + rho * kl(P.sum(1), a) + rho * kl(P.sum(0), b)
    assert abs(r.objective - obj) <= 1e-7 * abs(obj)


def test_unbalanced_limits(rng):
    a, b, M, _, _ = problem(rng, 20, 20)
    eps = 0.1 * np.median(M)
    bal = sot.sinkhorn(a, b, M, eps, tol=1e-10)
    hard = sot.unbalanced_sinkhorn(a, b, M, eps, np.inf, tol=1e-10)
    assert abs(hard.cost - bal.cost) < 1e-9 * bal.cost
    with pytest.raises(ValueError, match="rho"):
        sot.unbalanced_sinkhorn(a, b, M, eps, 0.0)


def test_divergence_matches_pot(rng):
    _, _, _, x, y = problem(rng, 50, 40)
    a = rng.random(50)
    a /= a.sum()
    b = np.full(40, 1 / 40)
    eps = 0.5
    d = sot.sinkhorn_divergence(a, b, eps=eps, x=x, y=y, tol=1e-9, max_iter=100000)
    ref = ot.bregman.empirical_sinkhorn_divergence(x, y, eps, a, b, stopThr=1e-9, numIterMax=100000)
    assert abs(d.value_linear - ref) <= 1e-6 * ref
    # The objective form (Feydy et al.), from POT's potentials.
    def obj(u, v, X, Y):
        M = ot.dist(X, Y)
        c, log = ot.sinkhorn2(u, v, M, eps, method="sinkhorn_log", stopThr=1e-9, numItermax=100000, log=True)
        X = log["log_u"][:, None] + log["log_v"][None, :] - M / eps
        P = np.exp(X)
        return (P * M).sum() + eps * (P * X).sum()
    val = obj(a, b, x, y) - 0.5 * obj(a, a, x, x) - 0.5 * obj(b, b, y, y)
    assert abs(d.value - val) <= 1e-6 * abs(val)
    assert d.value > 0
    same = sot.sinkhorn_divergence(a, a, eps=eps, x=x, y=x, tol=1e-9, max_iter=100000)
    assert abs(same.value) < 1e-7
    # Precomputed matrices and the tiled mode give the same value.
    Ms = [sot.cost_matrix(x, y), sot.cost_matrix(x, x), sot.cost_matrix(y, y)]
    d2 = sot.sinkhorn_divergence(a, b, Ms[0], eps, M_aa=Ms[1], M_bb=Ms[2], tol=1e-9, max_iter=100000)
    d3 = sot.sinkhorn_divergence(a, b, eps=eps, x=x, y=y, tol=1e-9, max_iter=100000, method="tiled")
    assert abs(d2.value - d.value) < 1e-10 and abs(d3.value - d.value) < 1e-9
