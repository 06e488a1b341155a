"""wigner_3j (C++ table) and wigner_D against e3nn 0.6, equivariance and errors."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")
e3nn_o3 = pytest.importorskip("e3nn.o3")

from scalecore import tp  # noqa: E402

LMAX_E3NN = 10


def _triples(lmax):
    for l1 in range(lmax + 1):
        for l2 in range(lmax + 1):
            for l3 in range(abs(l1 - l2), min(l1 + l2, lmax) + 1):
                yield l1, l2, l3


@pytest.mark.skipif(
    os.environ.get("SCALECORE_SIMD", "auto") not in ("", "auto"),
    reason="the table does not depend on the SIMD level: compared once, in the best-level pass",
)
def test_wigner_3j_equals_e3nn_all_triples_up_to_10():
    # Every allowed triple with l1, l2, l3 <= 10.  Nearly all of the time is
    # e3nn's own exact-fraction evaluation of its reference.
    worst = 0.0
    for l1, l2, l3 in _triples(LMAX_E3NN):
        ours = tp.wigner_3j(l1, l2, l3)
        ref = e3nn_o3.wigner_3j(l1, l2, l3, dtype=torch.float64).numpy()
        assert ours.shape == ref.shape == (2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1)
        worst = max(worst, float(np.abs(ours - ref).max()))
    assert worst < 1e-12, worst


def test_known_values():
    np.testing.assert_allclose(tp.wigner_3j(1, 1, 0)[:, :, 0] * np.sqrt(3), np.eye(3), atol=1e-15)
    eps = np.zeros((3, 3, 3))
    for (i, j, k), s in {(0, 1, 2): 1, (1, 2, 0): 1, (2, 0, 1): 1, (0, 2, 1): -1, (2, 1, 0): -1, (1, 0, 2): -1}.items():
        eps[i, j, k] = s
    c = tp.wigner_3j(1, 1, 1) * np.sqrt(6)
    # e3nn's sign for (1, 1, 1), checked in the conventions note
    ref = e3nn_o3.wigner_3j(1, 1, 1, dtype=torch.float64).numpy() * np.sqrt(6)
    np.testing.assert_allclose(c, ref, atol=1e-14)
    np.testing.assert_allclose(np.abs(c), np.abs(eps), atol=1e-14)
    assert tp.wigner_3j(0, 0, 0)[0, 0, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("l1,l2,l3", [(2, 3, 4), (5, 5, 6), (12, 12, 12), (20, 17, 24), (24, 24, 1)])
def test_unit_norm_and_orthogonality_up_to_the_limit(l1, l2, l3):
    c = tp.wigner_3j(l1, l2, l3)
    assert np.sum(c * c) == pytest.approx(1.0, abs=1e-13)
    # sum_{ij} C_ijk C_ijk' = delta_kk' / (2 l3 + 1): the real CG matrix is an isometry
    g = np.einsum("ijk,ijn->kn", c, c) * (2 * l3 + 1)
    np.testing.assert_allclose(g, np.eye(2 * l3 + 1), atol=1e-12)
    # orthogonality between different l3 of the same (l1, l2)
    if abs(l1 - l2) <= l3 - 1:
        c2 = tp.wigner_3j(l1, l2, l3 - 1)
        assert np.abs(np.einsum("ijk,ijn->kn", c, c2)).max() < 1e-13


def test_su2_against_known_values():
    # <1 1; 1 -1 | 1 0> = 1/sqrt2, <1 0; 1 0 | 2 0> = sqrt(2/3), <1 0; 1 0 | 1 0> = 0
    assert tp._wigner._core.tp_su2_clebsch_gordan(1, 1, 1, -1, 1, 0) == pytest.approx(1 / np.sqrt(2), abs=1e-15)
    assert tp._wigner._core.tp_su2_clebsch_gordan(1, 0, 1, 0, 2, 0) == pytest.approx(np.sqrt(2 / 3), abs=1e-15)
    assert tp._wigner._core.tp_su2_clebsch_gordan(1, 0, 1, 0, 1, 0) == pytest.approx(0.0, abs=1e-15)
    # <3/2 ... >: integer spins only; the table's basis at l=8 m=±8 edges
    assert tp._wigner._core.tp_su2_clebsch_gordan(8, 8, 8, -8, 0, 0) == pytest.approx(1 / np.sqrt(17), abs=1e-15)


@pytest.fixture
def float64_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # e3nn builds its generators in the default dtype
    yield
    torch.set_default_dtype(old)


def test_wigner_D_equals_e3nn(float64_default):
    rng = np.random.default_rng(0)
    ang = rng.uniform(-4, 4, size=(3, 5))
    for l in range(0, 11):
        ours = tp.wigner_D(l, *ang)
        ref = e3nn_o3.wigner_D(l, *(torch.tensor(a, dtype=torch.float64) for a in ang)).numpy()
        np.testing.assert_allclose(ours, ref, atol=1e-11)
    # l = 1 is the rotation matrix acting on (x, y, z)
    R = tp.wigner_D(1, *ang[:, 0])
    np.testing.assert_allclose(R, e3nn_o3.angles_to_matrix(*(torch.tensor(a) for a in ang[:, 0])).numpy(), atol=1e-12)


@pytest.mark.parametrize("l1,l2,l3", [(1, 1, 2), (2, 3, 4), (3, 3, 3), (4, 6, 9), (12, 12, 12)])
def test_equivariance(l1, l2, l3):
    rng = np.random.default_rng(l1 * 100 + l2 * 10 + l3)
    a, b, g = rng.uniform(0, 2 * np.pi, size=3)
    c = tp.wigner_3j(l1, l2, l3)
    d1, d2, d3 = (tp.wigner_D(l, a, b, g) for l in (l1, l2, l3))
    rot = np.einsum("ijk,il,jm,kn->lmn", c, d1, d2, d3, optimize=True)
    np.testing.assert_allclose(rot, c, atol=1e-11)


def test_dtype_and_copy():
    c32 = tp.wigner_3j(2, 2, 2, dtype=np.float32)
    assert c32.dtype == np.float32
    c = tp.wigner_3j(2, 2, 2)
    c[:] = 0  # a copy: the cached table is untouched
    assert np.abs(tp.wigner_3j(2, 2, 2)).max() > 0.1


def test_errors():
    with pytest.raises(ValueError, match="triangle"):
        tp.wigner_3j(1, 1, 3)
    with pytest.raises(ValueError, match=r"\[0, 24\]"):
        tp.wigner_3j(25, 25, 1)
    with pytest.raises(ValueError, match="l2"):
        tp.wigner_3j(1, -1, 1)
    with pytest.raises(TypeError, match="l1"):
        tp.wigner_3j(1.0, 1, 1)
    with pytest.raises(TypeError, match="dtype"):
        tp.wigner_3j(1, 1, 1, dtype=np.int32)
    # the C++ boundary itself rejects out-of-range degrees
    with pytest.raises(ValueError, match="l3"):
        tp._wigner._core.tp_wigner_3j(1, 1, 99)


def test_thread_safe_cache():
    # Many threads ask for the same fresh triples at once: all see one table.
    triples = [(l, l + 1, min(2 * l, 24)) for l in range(13, 19)]
    results = {}

    def work(k):
        results[k] = [tp.wigner_3j(*t) for t in triples]

    ts = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for k in range(1, 6):
        for a, b in zip(results[0], results[k]):
            assert np.array_equal(a, b)
