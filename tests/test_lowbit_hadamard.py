"""Randomized fast Walsh-Hadamard transform against an explicit
scipy.linalg.hadamard matrix, orthogonality, inverse, every level."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import scalecore
from scalecore import _core, lowbit


@pytest.mark.parametrize("n", [16, 32, 64, 128, 256, 1024, 4096])
def test_matches_explicit_matrix(simd, n, rng):
    rows = 6 if n <= 1024 else 2
    x = rng.standard_normal((rows, 2 * n)).astype(np.float32)
    H = scipy.linalg.hadamard(n).astype(np.float64) / np.sqrt(n)
    s = lowbit.hadamard_signs(n, 42).astype(np.float64)
    assert set(np.unique(s)) == {-1.0, 1.0}
    y = lowbit.hadamard(x, block=n, seed=42)
    want = (x.astype(np.float64).reshape(rows, 2, n) * s) @ H.T
    np.testing.assert_allclose(y.reshape(rows, 2, n), want, rtol=0, atol=1e-6 * np.sqrt(np.log2(n)) * 4)
    # orthogonal: the transform of the identity is orthonormal to 1e-6
    Q = lowbit.hadamard(np.eye(n, dtype=np.float32), block=n, seed=42).astype(np.float64)
    assert np.abs(Q @ Q.T - np.eye(n)).max() < 1e-6
    # the inverse recovers the input
    back = lowbit.hadamard(y, block=n, seed=42, inverse=True)
    np.testing.assert_allclose(back, x, rtol=0, atol=2e-6 * np.abs(x).max())
    # no seed: the plain normalised Walsh-Hadamard transform
    np.testing.assert_allclose(lowbit.hadamard(x[:, :n], block=n), x[:, :n].astype(np.float64) @ H.T, atol=5e-6)


def test_levels_threads_bit_identical(rng):
    x = rng.standard_normal((37, 512)).astype(np.float32)
    ref = _core.lowbit_hadamard(x, 128, 7, False, 1)
    for lvl in scalecore.simd_levels():
        with scalecore.simd_level(lvl):
            for n in (1, 2):
                with scalecore.num_threads(n):
                    assert np.array_equal(lowbit.hadamard(x, block=128, seed=7).view(np.uint32), ref.view(np.uint32))


def test_spreads_outliers(rng):
    x = rng.standard_normal((1, 256)).astype(np.float32) * 0.01
    x[0, 3] = 100.0
    y = lowbit.hadamard(x, block=256, seed=1)
    assert np.abs(y).max() < 100.0 / 8
    e_plain = np.linalg.norm(lowbit.quantize(x, "mxfp4").dequantize() - x)
    yq = lowbit.hadamard(lowbit.quantize(y, "mxfp4").dequantize(), block=256, seed=1, inverse=True)
    assert np.isfinite(e_plain) and np.linalg.norm(yq - x) < 10 * e_plain


def test_bad_input():
    with pytest.raises(ValueError, match="power of two"):
        lowbit.hadamard(np.zeros((2, 48), np.float32), block=48)
    with pytest.raises(ValueError, match="power of two"):
        lowbit.hadamard(np.zeros((2, 8192), np.float32), block=8192)
    with pytest.raises(ValueError, match="multiple of block"):
        lowbit.hadamard(np.zeros((2, 48), np.float32), block=32)
    with pytest.raises(TypeError, match="block"):
        lowbit.hadamard(np.zeros((2, 32), np.float32), block=32.0)
    with pytest.raises(ValueError, match="seed"):
        lowbit.hadamard(np.zeros((2, 32), np.float32), block=32, seed=-1)
    with pytest.raises(TypeError, match="x: expected"):
        lowbit.hadamard(np.zeros((2, 32), np.complex64), block=32)
