"""Ground costs against scipy/POT, every SIMD level against the reference."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

import scalecore.ot as sot
from scalecore.ot._common import reference_kernels


@pytest.mark.parametrize("metric,sp", [("sqeuclidean", "sqeuclidean"), ("euclidean", "euclidean"),
                                       ("cosine", "cosine")])
@pytest.mark.parametrize("n,m,d", [(1, 1, 1), (17, 23, 5), (37, 3, 33), (70, 65, 16)])
def test_metrics_match_scipy(simd, rng, metric, sp, n, m, d):
    x = rng.standard_normal((n, d)) + 3.0
    y = rng.standard_normal((m, d))
    C = sot.cost_matrix(x, y, metric)
    np.testing.assert_allclose(C, cdist(x, y, sp), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("p", [0.5, 1.5, 3.0])
def test_power(simd, rng, p):
    x, y = rng.standard_normal((19, 4)), rng.standard_normal((21, 4))
    np.testing.assert_allclose(sot.cost_matrix(x, y, "euclidean", p=p), cdist(x, y) ** p, rtol=1e-12, atol=1e-13)


# Shapes around the row blocks (3, 6 and 12 rows) and the 8 / 16-lane tails.
@pytest.mark.parametrize("n,m,d", [(45, 29, 7), (13, 1, 3), (7, 17, 16), (26, 33, 9), (12, 15, 1)])
def test_float32_and_levels_vs_reference(simd, rng, n, m, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.standard_normal((m, d)).astype(np.float32)
    for metric in ("sqeuclidean", "euclidean", "cosine"):
        C = sot.cost_matrix(x, y, metric)
        assert C.dtype == np.float32
        with reference_kernels():
            R = sot.cost_matrix(x, y, metric)
        np.testing.assert_allclose(C, R, rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(C, cdist(x.astype(float), y.astype(float), metric), rtol=1e-4, atol=1e-4)
        C64 = sot.cost_matrix(x.astype(float), y.astype(float), metric, p=1.5)
        with reference_kernels():
            R64 = sot.cost_matrix(x.astype(float), y.astype(float), metric, p=1.5)
        np.testing.assert_allclose(C64, R64, rtol=1e-12, atol=1e-12)


def test_identical_points_cost_zero(rng):
    x = rng.standard_normal((30, 8)) * 100 + 1e4  # large offset: centring keeps the diagonal ~0
    C = sot.cost_matrix(x, x)
    assert np.abs(np.diag(C)).max() < 1e-6 * np.abs(C).max()


def test_batch_and_thread_invariance(rng):
    x = rng.standard_normal((3, 40, 6))
    y = rng.standard_normal((3, 33, 6))
    C = sot.cost_matrix(x, y)
    assert C.shape == (3, 40, 33)
    for k in range(3):
        np.testing.assert_allclose(C[k], cdist(x[k], y[k], "sqeuclidean"), rtol=1e-10, atol=1e-10)
    big_x, big_y = rng.standard_normal((300, 9)), rng.standard_normal((200, 9))
    c1 = sot.cost_matrix(big_x, big_y, n_threads=1)
    c2 = sot.cost_matrix(big_x, big_y, n_threads=2)
    assert np.array_equal(c1, c2)


def test_errors(rng):
    x = rng.standard_normal((5, 3))
    with pytest.raises(ValueError, match="metric"):
        sot.cost_matrix(x, x, "manhattan")
    with pytest.raises(ValueError, match="y: expected 3 features"):
        sot.cost_matrix(x, rng.standard_normal((4, 2)))
    with pytest.raises(ValueError, match="p:"):
        sot.cost_matrix(x, x, p=0)
    with pytest.raises(TypeError, match="x"):
        sot.cost_matrix(np.array(["a"] * 3).reshape(3, 1), x)
    with pytest.raises(ValueError, match="x: expected a 2-D or 3-D"):
        sot.cost_matrix(np.ones(3), x)


@pytest.mark.parametrize("dtype,u", [(np.float32, 2.0**-24), (np.float64, 2.0**-53)])
@pytest.mark.parametrize("d", [2, 16, 100])
def test_cost_matrix_rounding_bound_and_slices(dtype, u, d):
    # The documented bound (cost_matrix Notes): every entry within
    # 4 (d + 2) u (|x_i - mu|^2 + |y_j - mu|^2) of the exact cost, mu the mean
    # of both sets; a slice of x is centred on another mean, so its rows may
    # differ in the last bits, each within the bound of its own centring.
    rng = np.random.default_rng(d)
    x = (rng.standard_normal((300, d)) * 3 + 5).astype(dtype)
    y = (rng.standard_normal((200, d)) + 4).astype(dtype)
    ref = ((x[:, None, :].astype(np.float64) - y[None].astype(np.float64)) ** 2).sum(-1)

    def bound(xs):
        mu = np.concatenate([xs, y]).astype(np.float64).mean(0)
        return 4 * (d + 2) * u * (((xs - mu) ** 2).sum(1)[:, None] + ((y - mu) ** 2).sum(1)[None])

    C = sot.cost_matrix(x, y)
    assert np.all(np.abs(C - ref) <= bound(x))
    part = sot.cost_matrix(x[-7:], y)
    assert np.all(np.abs(part - ref[-7:]) <= bound(x[-7:]))
    np.testing.assert_array_equal(sot.cost_matrix(x, y), C)  # same inputs: same bits
