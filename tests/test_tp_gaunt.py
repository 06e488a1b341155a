"""Gaunt tensor product on the S^2 grid: against Gaunt coefficients computed
independently (numpy Gauss-Legendre quadrature of e3nn's harmonics), against
e3nn's CG product restricted to parity-even paths, gradients and errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
e3nn_o3 = pytest.importorskip("e3nn.o3")

import scalecore  # noqa: E402
from scalecore import tp  # noqa: E402
from scalecore.tp import _gaunt  # noqa: E402


def _e3nn_gaunt(l1, l2, l3):
    """integral Y1 Y2 Y3 with e3nn's orthonormal harmonics, by numpy's
    Gauss-Legendre nodes in y = cos(beta) and a uniform alpha grid (exact)."""
    D = l1 + l2 + l3
    t, w = np.polynomial.legendre.leggauss(D // 2 + 2)
    na = D + 3
    a = 2 * np.pi * np.arange(na) / na
    st = np.sqrt(1 - t**2)
    pts = np.stack([np.outer(st, np.sin(a)), np.outer(t, np.ones(na)), np.outer(st, np.cos(a))], -1).reshape(-1, 3)
    q = np.repeat(w, na) * 2 * np.pi / na
    Y = [e3nn_o3.spherical_harmonics(l, torch.from_numpy(pts), True, "integral").numpy() for l in (l1, l2, l3)]
    return np.einsum("s,si,sj,sk->ijk", q, *Y)


def _triples(L):
    for l1, l2, l3 in itertools.product(range(L + 1), repeat=3):
        if abs(l1 - l2) <= l3 <= l1 + l2:
            yield l1, l2, l3


def test_gaunt_coefficients_equal_independent_quadrature():
    for l1, l2, l3 in _triples(4):
        ours = tp.gaunt_coefficients(l1, l2, l3)
        ref = _e3nn_gaunt(l1, l2, l3)
        np.testing.assert_allclose(ours, ref, atol=1e-13)
        if (l1 + l2 + l3) % 2:
            assert np.abs(ours).max() < 1e-14  # parity-odd paths vanish
    # outside the triangle rule: zero
    assert np.abs(tp.gaunt_coefficients(1, 1, 3)).max() == 0


def test_ratio_gaunt_over_cg_per_path():
    for l1, l2, l3 in _triples(7):
        g = tp.gaunt_coefficients(l1, l2, l3)
        c = tp.wigner_3j(l1, l2, l3)
        r = tp.gaunt_cg_ratio(l1, l2, l3)
        if (l1 + l2 + l3) % 2:
            assert r == 0.0
            continue
        np.testing.assert_allclose(g, r * c, atol=1e-13)
        # magnitude from the Frobenius norms: |r| = |G|_F since |C|_F = 1
        assert abs(r) == pytest.approx(np.linalg.norm(g), rel=1e-12)


def _rows(L, n, rng, dtype=np.float64):
    return rng.normal(size=(n, (L + 1) ** 2)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grid_product_equals_gaunt_contraction(dtype):
    rng = np.random.default_rng(0)
    L1, L2, Lo = 2, 3, 4
    x1, x2 = _rows(L1, 7, rng, dtype), _rows(L2, 7, rng, dtype)
    w = rng.normal(size=Lo + 1).astype(dtype)
    out = tp.gaunt_tensor_product(x1, x2, w, L1, L2, Lo)
    assert out.dtype == dtype and out.shape == (7, (Lo + 1) ** 2)
    ref = np.zeros((7, (Lo + 1) ** 2))
    for l1 in range(L1 + 1):
        for l2 in range(L2 + 1):
            for l3 in range(abs(l1 - l2), min(l1 + l2, Lo) + 1):
                G = _e3nn_gaunt(l1, l2, l3)
                ref[:, l3 * l3:(l3 + 1) ** 2] += w[l3] * np.einsum(
                    "ijk,ni,nj->nk", G, x1[:, l1 * l1:(l1 + 1) ** 2].astype(np.float64),
                    x2[:, l2 * l2:(l2 + 1) ** 2].astype(np.float64))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol * np.abs(ref).max())
    # a finer grid than the minimum gives the same (exact) result
    fine = tp.gaunt_tensor_product(x1, x2, w, L1, L2, Lo, n_beta=9, n_alpha=20)
    np.testing.assert_allclose(fine, out, rtol=tol, atol=tol * np.abs(ref).max())


@pytest.fixture
def float64_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # e3nn builds its CG buffers in the default dtype
    yield
    torch.set_default_dtype(old)


def test_module_equals_e3nn_cg_restricted_to_parity_even_paths(float64_default):
    from scalecore.tp.torch import GauntTensorProduct

    C = 3
    ir1 = e3nn_o3.Irreps(f"{C}x0e+{C}x1o+{C}x2e")
    ir2 = e3nn_o3.Irreps("0e+1o+2e+3o")
    iro = e3nn_o3.Irreps(f"{C}x0e+{C}x1o+{C}x2e+{C}x3o+{C}x4e")
    m = GauntTensorProduct(str(ir1), str(ir2), str(iro), internal_weights=False)
    w = torch.randn(5, dtype=torch.float64)
    instr, wts = [], []
    for i, (_, a) in enumerate(ir1):
        for j, (_, b) in enumerate(ir2):
            for k, (_, c) in enumerate(iro):
                if abs(a.l - b.l) <= c.l <= a.l + b.l and (a.l + b.l + c.l) % 2 == 0:
                    instr.append((i, j, k, "uvu", True))
                    wts.append(torch.full((C, 1), float(w[c.l]) * tp.gaunt_cg_ratio(a.l, b.l, c.l),
                                          dtype=torch.float64))
    ref = e3nn_o3.TensorProduct(ir1, ir2, iro, instr, irrep_normalization="none", path_normalization="none",
                                internal_weights=False, shared_weights=True).to(torch.float64)
    x1 = torch.randn(6, ir1.dim, dtype=torch.float64)
    x2 = torch.randn(6, ir2.dim, dtype=torch.float64)
    want = ref(x1, x2, torch.cat([t.reshape(-1) for t in wts]))
    got = m(x1, x2, w)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    # and CG has the parity-odd paths that Gaunt cannot express, e.g. 1o x 1o -> 1e
    assert tp.gaunt_cg_ratio(1, 1, 1) == 0.0 and np.abs(tp.wigner_3j(1, 1, 1)).max() > 0.1


def test_gradcheck_and_backward_matches_autograd_of_reference():
    from scalecore.tp.torch import GauntTensorProduct

    m = GauntTensorProduct("2x0e+2x1o+2x2e", "0e+1o", "2x0e+2x1o+2x2e+2x3o").double()
    x1 = torch.randn(3, m.irreps_in1.dim, dtype=torch.float64, requires_grad=True)
    x2 = torch.randn(3, m.irreps_in2.dim, dtype=torch.float64, requires_grad=True)
    w = torch.randn(m.weight_numel, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: m(a, b, c), (x1, x2, w))
    # pseudo-parity operands: class -1 x class +1 -> class -1
    m2 = GauntTensorProduct("0o+1e", "0e+1o+2e", "0o+1e+2o+3e")
    x = torch.randn(4, 4, dtype=torch.float64, requires_grad=True)
    y = torch.randn(4, 9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: m2(a, b, c), (x, y, m2.weight.detach().double().requires_grad_()))


def test_equivariance_float32():
    from scalecore.tp.torch import GauntTensorProduct

    m = GauntTensorProduct("4x0e+4x1o+4x2e+4x3o", "0e+1o+2e", "4x0e+4x1o+4x2e+4x3o+4x4e")
    rng = np.random.default_rng(3)
    a, b, g = rng.uniform(0, 2 * np.pi, size=3)

    def D(irreps):
        return torch.from_numpy(tp.Irreps(irreps).D_from_angles(a, b, g)).float()

    x1, x2 = torch.randn(5, m.irreps_in1.dim), torch.randn(5, m.irreps_in2.dim)
    with torch.no_grad():
        y = m(x1 @ D(m.irreps_in1).T, x2 @ D(m.irreps_in2).T)
        z = m(x1, x2) @ D(m.irreps_out).T
    torch.testing.assert_close(y, z, rtol=1e-5, atol=1e-5 * z.abs().max().item())


def test_thread_count_and_errors():
    rng = np.random.default_rng(1)
    x1, x2, w = _rows(3, 300, rng), _rows(3, 300, rng), rng.normal(size=5)
    with scalecore.num_threads(1):
        a = tp.gaunt_tensor_product(x1, x2, w, 3, 3, 4)
        ga = scalecore._core.tp_gaunt_backward(x1, x2, w, a, 3, 3, 4)
    with scalecore.num_threads(2):
        b = tp.gaunt_tensor_product(x1, x2, w, 3, 3, 4)
        gb = scalecore._core.tp_gaunt_backward(x1, x2, w, a, 3, 3, 4)
    assert np.array_equal(a, b) and all(np.array_equal(u, v) for u, v in zip(ga, gb))
    from scalecore.tp.torch import GauntTensorProduct

    with pytest.raises(ValueError, match="not exact"):
        tp.gaunt_tensor_product(x1, x2, w, 3, 3, 4, n_beta=3)
    with pytest.raises(ValueError, match=r"\[0, 24\]"):
        tp.gaunt_grid(25, 1, 1)
    with pytest.raises(ValueError, match="one block per degree"):
        GauntTensorProduct("0e+2e", "0e", "0e")
    with pytest.raises(ValueError, match="parity"):
        GauntTensorProduct("0e+1e", "0e", "0e+1o")
    with pytest.raises(ValueError, match="parity class"):
        GauntTensorProduct("0e+1o", "0e+1o", "0o+1e")
    m = GauntTensorProduct("0e+1o", "0e+1o", "0e+1o+2e", internal_weights=False)
    with pytest.raises(ValueError, match="weight"):
        m(torch.randn(2, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match="x1"):
        m(torch.randn(2, 5), torch.randn(2, 4), torch.ones(3))


def test_torch_opcheck_and_compile():
    from scalecore.tp.torch import GauntTensorProduct
    from scalecore.tp.torch._gaunt import _tp_gaunt, _tp_gaunt_backward

    x1 = torch.randn(5, 9, dtype=torch.float64, requires_grad=True)
    x2 = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, dtype=torch.float64, requires_grad=True)
    nb, na = tp.gaunt_grid(2, 1, 3)
    torch.library.opcheck(_tp_gaunt, (x1, x2, w, 2, 1, 3, nb, na))
    torch.library.opcheck(_tp_gaunt_backward, (x1.detach(), x2.detach(), w.detach(),
                                               torch.randn(5, 16, dtype=torch.float64), 2, 1, 3, nb, na))
    m = GauntTensorProduct("0e+1o+2e", "0e+1o", "0e+1o+2e+3o")
    f = torch.compile(m, fullgraph=True, backend="eager")
    a, b = torch.randn(3, 9), torch.randn(3, 4)
    torch.testing.assert_close(f(a, b), m(a, b))
