"""Spherical harmonics (values, first and second derivatives, torch ops) against
e3nn 0.6, at every SIMD level, float32 and float64."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
e3nn_o3 = pytest.importorskip("e3nn.o3")

import scalecore  # noqa: E402
from scalecore import tp  # noqa: E402
from scalecore import _core  # noqa: E402

LMAX = 10
NORMS = ["integral", "component", "norm"]
TOL = {np.float32: 1e-5, np.float64: 1e-10}


def _vectors(n, dtype, seed=0, scale=1.5):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 3)) * scale
    v[0] = 0.0  # a zero vector
    v[1] = [0.0, 2.0, 0.0]  # on the polar axis
    v[2] = [1e-7, -3e-8, 2e-7]  # tiny
    return v.astype(dtype)


def _close(ours, ref, tol):
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol * scale)


def _e3nn_sh(ls, v, normalize, normalization):
    return e3nn_o3.spherical_harmonics(ls, torch.from_numpy(v), normalize, normalization=normalization).numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("normalization", NORMS)
@pytest.mark.parametrize("normalize", [True, False])
def test_values_equal_e3nn(simd, dtype, normalization, normalize):
    # 37 vectors: odd tails for the 4- and 8-lane packs; all l <= 10 at once.
    v = _vectors(37, dtype, scale=1.0 if not normalize else 1.5)
    ls = list(range(LMAX + 1))
    ours = tp.spherical_harmonics(ls, v, normalize, normalization)
    assert ours.dtype == dtype and ours.shape == (37, (LMAX + 1) ** 2)
    ref = _e3nn_sh(ls, v, normalize, normalization)
    _close(ours, ref, TOL[dtype])
    # the single-threaded scalar reference agrees with the dispatched level
    col, w, _ = tp._sh.layout(ls)
    code = tp.NORMALIZATIONS[normalization]
    refk = _core.tp_sh_forward(v, col, code, normalize, w, ref=True)
    _close(ours, refk, 4 * np.finfo(dtype).eps * 10)


def test_ls_forms_and_order():
    v = _vectors(9, np.float64)
    for ls in [3, [1, 3], [2, 0, 2], "0e+1o+2e", e3nn_o3.Irreps("2x1o+3o"), tp.Irreps("1e+2e"), "1e"]:
        ref = e3nn_o3.spherical_harmonics(
            e3nn_o3.Irreps(str(ls)) if isinstance(ls, (tp.Irreps, e3nn_o3.Irreps)) else ls,
            torch.from_numpy(v), True)
        _close(tp.spherical_harmonics(ls, v, True), ref.numpy(), 1e-12)
    # leading batch dimensions
    vv = np.random.default_rng(1).normal(size=(2, 4, 3))
    out = tp.spherical_harmonics(2, vv, False, "component")
    assert out.shape == (2, 4, 5)
    _close(out, _e3nn_sh(2, vv, False, "component"), 1e-12)


def test_zero_vector_documented_result():
    v = np.zeros((3, 3))
    for norm in NORMS:
        ours = tp.spherical_harmonics([0, 1, 2, 3], v, True, norm)
        assert np.isfinite(ours).all()
        ref = _e3nn_sh([0, 1, 2, 3], v, True, norm)
        np.testing.assert_allclose(ours, ref, atol=1e-15)
        assert np.all(ours[:, 1:] == 0)
    assert tp.spherical_harmonics(0, v, True, "integral")[0, 0] == pytest.approx(1 / np.sqrt(4 * np.pi))
    # the derivatives are finite too
    y, d, h = tp.spherical_harmonics_derivatives([0, 1, 2], v, True, "component", order=2)
    assert np.isfinite(d).all() and np.isfinite(h).all()


@pytest.mark.parametrize("normalize", [True, False])
def test_derivatives_equal_e3nn_autograd(normalize):
    v = _vectors(6, np.float64, seed=3)[3:]  # generic points (derivatives at 0 are e3nn's 1/eps clamp)
    ls = [0, 1, 2, 5, 8]
    y, d, h = tp.spherical_harmonics_derivatives(ls, v, normalize, "norm", order=2)
    x = torch.from_numpy(v).requires_grad_(True)
    # e3nn's derivatives by autograd: vectors are independent, so the gradient
    # of a column sum gives that column's derivative at every vector.
    ref = e3nn_o3.spherical_harmonics(ls, x, normalize, normalization="norm")
    _close(y, ref.detach().numpy(), 1e-12)
    jac = np.zeros(d.shape)
    hess = np.zeros(h.shape)
    for c in range(ref.shape[1]):
        (g,) = torch.autograd.grad(ref[:, c].sum(), x, create_graph=True)
        jac[:, c] = g.detach().numpy()
        for j in range(3):
            (gg,) = torch.autograd.grad(g[:, j].sum(), x, retain_graph=True, allow_unused=True)
            if gg is not None:
                hess[:, c, j] = gg.numpy()
    _close(d, jac, 1e-11)
    _close(h, hess, 1e-10)
    assert np.allclose(h, np.swapaxes(h, -1, -2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("normalize", [True, False])
def test_backward_and_double_backward_kernels_equal_e3nn(simd, dtype, normalize):
    rng = np.random.default_rng(7)
    v = _vectors(21, dtype, seed=5)[3:]
    ls = list(range(LMAX + 1))
    col, w, _ = tp._sh.layout(ls)
    gy = rng.normal(size=(v.shape[0], w)).astype(dtype)
    gg = rng.normal(size=(v.shape[0], 3)).astype(dtype)
    x = torch.from_numpy(v.astype(np.float64)).requires_grad_(True)
    y = e3nn_o3.spherical_harmonics(ls, x, normalize, normalization="component")
    (gx,) = torch.autograd.grad(y, x, torch.from_numpy(gy.astype(np.float64)), create_graph=True)
    (gx2,) = torch.autograd.grad(gx, x, torch.from_numpy(gg.astype(np.float64)))
    ggy = np.einsum("ncj,nj->nc", tp.spherical_harmonics_derivatives(ls, v.astype(np.float64), normalize,
                                                                        "component")[1], gg.astype(np.float64))
    ours_gx = _core.tp_sh_backward(v, gy, col, 1, normalize, w)
    ours_ggy, ours_gx2 = _core.tp_sh_double_backward(v, gy, gg, col, 1, normalize, w)
    tol = TOL[dtype] * (5 if dtype == np.float32 else 1)
    _close(ours_gx, gx.detach().numpy(), tol)
    _close(ours_gx2, gx2.numpy(), tol)
    _close(ours_ggy, ggy, tol)
    for a, b in zip(_core.tp_sh_double_backward(v, gy, gg, col, 1, normalize, w, ref=True), (ours_ggy, ours_gx2)):
        _close(a, b, 50 * np.finfo(dtype).eps)


def test_torch_module_matches_e3nn_module_and_gradchecks():
    from scalecore.tp.torch import SphericalHarmonics

    for args in [([0, 1, 2, 3], True, "integral"), ("1e+2e", False, "norm"), (4, True, "component")]:
        ours = SphericalHarmonics(*args)
        ref = e3nn_o3.SphericalHarmonics(*args)
        assert str(ours.irreps_out) == str(ref.irreps_out) and str(ours.irreps_in) == str(ref.irreps_in)
        assert ours.normalize == ref.normalize and ours.normalization == ref.normalization
        assert ours._ls_list == ref._ls_list and ours._lmax == ref._lmax
        x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
        y = ours(x)
        torch.testing.assert_close(y, ref(x), rtol=1e-12, atol=1e-12)
        g = torch.randn_like(y)
        (ga,) = torch.autograd.grad(y, x, g, create_graph=True)
        (gb,) = torch.autograd.grad(ref(x), x, g, create_graph=True)
        torch.testing.assert_close(ga, gb, rtol=1e-10, atol=1e-10)
        h = torch.randn_like(x)
        torch.testing.assert_close(torch.autograd.grad(ga, x, h)[0], torch.autograd.grad(gb, x, h)[0],
                                   rtol=1e-10, atol=1e-10)
    m = SphericalHarmonics([1, 3], True, "component")
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(m, (x,))
    assert torch.autograd.gradgradcheck(m, (x,))
    m2 = SphericalHarmonics(2, False)
    assert torch.autograd.gradgradcheck(m2, (torch.randn(3, 2, 3, dtype=torch.float64, requires_grad=True),))


def test_torch_opcheck_and_compile():
    from scalecore.tp.torch._sh import _tp_sh, _tp_sh_backward

    x = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    col, w, _ = tp._sh.layout([0, 1, 2])
    torch.library.opcheck(_tp_sh, (x, col, 0, True, w))
    torch.library.opcheck(_tp_sh_backward, (x.detach(), torch.randn(6, w, dtype=torch.float64), col, 0, True, w))
    from scalecore.tp.torch import SphericalHarmonics

    m = SphericalHarmonics([0, 1, 2], True)
    f = torch.compile(m, fullgraph=True, backend="eager")
    torch.testing.assert_close(f(x), m(x))


def test_dlpack_caller_type_and_float32():
    x = torch.randn(5, 3)
    out = tp.spherical_harmonics([0, 1], x, True)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    torch.testing.assert_close(out, e3nn_o3.spherical_harmonics([0, 1], x, True), rtol=1e-5, atol=1e-6)
    out = tp.spherical_harmonics(1, [[1.0, 0.0, 0.0]], False, "component")
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out, [[np.sqrt(3), 0, 0]])


def test_thread_count_does_not_change_results():
    v = _vectors(1000, np.float64, seed=11)
    ls = list(range(7))
    with scalecore.num_threads(1):
        a = tp.spherical_harmonics(ls, v, True)
    with scalecore.num_threads(2):
        b = tp.spherical_harmonics(ls, v, True)
    assert np.array_equal(a, b)


def test_bad_input():
    v = np.ones((2, 3))
    with pytest.raises(ValueError, match="normalization"):
        tp.spherical_harmonics(1, v, True, "unit")
    with pytest.raises(ValueError, match=r"\[0, 24\]"):
        tp.spherical_harmonics(25, v, True)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        tp.spherical_harmonics(1, np.ones((2, 4)), True)
    with pytest.raises(ValueError, match="parity"):
        tp.spherical_harmonics("1o+2o", v, True)
    with pytest.raises(TypeError, match="vectors"):
        tp.spherical_harmonics(1, np.array([["a", "b", "c"]]), True)
    with pytest.raises(ValueError, match="col_offset|fit"):
        _core.tp_sh_forward(v, [0, 1], 0, True, 2)


def _cuda_module():
    try:
        from scalecore import _cuda  # type: ignore[attr-defined]
    except ImportError:
        return None
    if not hasattr(_cuda, "tp_sh_forward") or not _cuda.devices()[0]:
        return None
    return _cuda


@pytest.mark.skipif(_cuda_module() is None, reason="no CUDA build or no GPU here (the kernel is compile-checked)")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_forward_equals_cpu(dtype):
    # The CPU result is the oracle for the GPU (same sh.h math).
    cu = _cuda_module()
    v = _vectors(1001, dtype, seed=9)
    for ls, normalize, norm in [(list(range(11)), True, "integral"), ([1, 3, 4], False, "norm")]:
        col, w, _ = tp._sh.layout(ls)
        code = tp.NORMALIZATIONS[norm]
        _close(cu.tp_sh_forward(v, col, code, normalize, w), _core.tp_sh_forward(v, col, code, normalize, w),
               TOL[dtype])
