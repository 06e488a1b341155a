"""scalecore.tp.torch product modules against e3nn 0.6's: the same
instructions, weight_numel, irreps_out and outputs / gradients; gradcheck and
gradgradcheck; torch.compile(fullgraph=True); equivariance; bad input."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
o3 = pytest.importorskip("e3nn.o3")

from scalecore.tp import torch as sct  # noqa: E402


def e3(cls, *args, dtype=torch.float64, **kw):
    """An e3nn module built in ``dtype`` (e3nn makes its CG constants in the
    default dtype; float32-rounded constants would limit a float64
    comparison to ~1e-8)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        return cls(*args, **kw)
    finally:
        torch.set_default_dtype(old)


def _same_module_layout(ours, ref):
    assert str(ours.irreps_out) == str(ref.irreps_out)
    assert ours.weight_numel == ref.weight_numel
    assert len(ours.instructions) == len(ref.instructions)
    for a, b in zip(ours.instructions, ref.instructions):
        assert (a.i_in1, a.i_in2, a.i_out, a.connection_mode, a.has_weight) == \
            (b.i_in1, b.i_in2, b.i_out, b.connection_mode, b.has_weight)
        assert tuple(a.path_shape) == tuple(b.path_shape)
        assert a.path_weight == pytest.approx(b.path_weight, rel=1e-12)
    assert torch.equal(ours.output_mask, ref.output_mask)


def _compare(ours, ref, x, y, w, tol):
    xs = [x.clone().requires_grad_(), x.clone().requires_grad_()]
    ys = [y.clone().requires_grad_(), y.clone().requires_grad_()]
    ws = [None, None] if w is None else [w.clone().requires_grad_(), w.clone().requires_grad_()]
    outs = [m(xx, yy, ww) for m, xx, yy, ww in zip((ours, ref), xs, ys, ws)]
    g = torch.randn_like(outs[1])
    for o in outs:
        (o * g).sum().backward()

    def close(a, b):
        scale = max(1.0, b.abs().max().item()) if b.numel() else 1.0
        assert (a - b).abs().max().item() <= tol * scale if b.numel() else True

    close(outs[0].detach(), outs[1].detach())
    close(xs[0].grad, xs[1].grad)
    close(ys[0].grad, ys[1].grad)
    if w is not None:
        close(ws[0].grad, ws[1].grad)
    elif ours.internal_weights and ours.weight_numel:
        close(ours.weight.grad, ref.weight.grad)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("irrep_norm", ["component", "norm"])
@pytest.mark.parametrize("path_norm", ["element", "path"])
def test_fully_connected(dtype, tol, irrep_norm, path_norm):
    args = ("3x0e+2x1o+2x2e", "0e+1o+2e", "2x0e+3x1o+2x2e+1x3o")
    ours = sct.FullyConnectedTensorProduct(*args, irrep_normalization=irrep_norm, path_normalization=path_norm)
    ref = e3(o3.FullyConnectedTensorProduct, *args, irrep_normalization=irrep_norm, path_normalization=path_norm,
             dtype=dtype)
    _same_module_layout(ours, ref)
    ours = ours.to(dtype)
    with torch.no_grad():
        ours.weight.copy_(ref.weight)
    x = torch.randn(6, ours.irreps_in1.dim, dtype=dtype)
    y = torch.randn(6, ours.irreps_in2.dim, dtype=dtype)
    _compare(ours, ref, x, y, None, tol)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_channelwise_per_edge_weights(dtype, tol):
    ours = sct.ChannelwiseTensorProduct("4x0e+4x1o+4x2e", "0e+1o+2e+3o", "0e+1o+2e+3o")
    out, instr = sct.tp_out_irreps_with_instructions("4x0e+4x1o+4x2e", "0e+1o+2e+3o", "0e+1o+2e+3o")
    ref = e3(o3.TensorProduct, "4x0e+4x1o+4x2e", "0e+1o+2e+3o", str(out), instr, shared_weights=False,
             internal_weights=False, dtype=dtype)
    _same_module_layout(ours, ref)
    assert len(ours.instructions) == 17 and ours.weight_numel == 17 * 4
    x = torch.randn(5, ours.irreps_in1.dim, dtype=dtype)
    y = torch.randn(5, ours.irreps_in2.dim, dtype=dtype)
    w = torch.randn(5, ours.weight_numel, dtype=dtype)
    _compare(ours, ref, x, y, w, tol)


def test_full_and_elementwise():
    ours = sct.FullTensorProduct("2x0e+2x1o", "1o+2e")
    ref = e3(o3.FullTensorProduct, "2x0e+2x1o", "1o+2e")
    _same_module_layout(ours, ref)
    x = torch.randn(4, ours.irreps_in1.dim, dtype=torch.float64)
    y = torch.randn(4, ours.irreps_in2.dim, dtype=torch.float64)
    _compare(ours, ref, x, y, None, 1e-10)
    ours = sct.ElementwiseTensorProduct("3x1o+2x2e", "2x1e+3x0e", ["0o", "1o", "2e", "1e"])
    ref = e3(o3.ElementwiseTensorProduct, "3x1o+2x2e", "2x1e+3x0e", ["0o", "1o", "2e", "1e"])
    _same_module_layout(ours, ref)
    x = torch.randn(4, ours.irreps_in1.dim, dtype=torch.float64)
    y = torch.randn(4, ours.irreps_in2.dim, dtype=torch.float64)
    _compare(ours, ref, x, y, None, 1e-10)


def test_weight_views_like_e3nn():
    ours = sct.FullyConnectedTensorProduct("2x0e+2x1o", "1o", "3x1o+1x0e")
    ref = o3.FullyConnectedTensorProduct("2x0e+2x1o", "1o", "3x1o+1x0e")
    with torch.no_grad():
        ours.weight.copy_(ref.weight)
    for a, b in zip(ours.weight_views(), ref.weight_views()):
        assert torch.equal(a, b)


def _small_tp(shared):
    instr = [(0, 0, 0, "uvw", True), (1, 0, 1, "uvu", True), (0, 1, 1, "uvv", True), (1, 1, 0, "uuw", True),
             (1, 0, 2, "uuu", True)]
    return sct.TensorProduct("2x0e+2x1o", "2x1o+2x0e", "2x1o+2x0e+2x1e", instr, shared_weights=shared,
                             internal_weights=False)


@pytest.mark.parametrize("shared", [True, False])
def test_gradcheck_and_gradgradcheck(shared):
    tp = _small_tp(shared)
    n = 3
    x = torch.randn(n, tp.irreps_in1.dim, dtype=torch.float64, requires_grad=True)
    y = torch.randn(n, tp.irreps_in2.dim, dtype=torch.float64, requires_grad=True)
    w = torch.randn((tp.weight_numel,) if shared else (n, tp.weight_numel), dtype=torch.float64,
                    requires_grad=True)
    assert torch.autograd.gradcheck(tp, (x, y, w))
    assert torch.autograd.gradgradcheck(tp, (x, y, w))


def test_third_order_matches_e3nn():
    # d/dw of (d/dx of <g, tp>)^2: force-training style, through double backward.
    instr = [(0, 0, 0, "uvu", True), (0, 0, 1, "uvu", True)]
    ours = sct.TensorProduct("2x1o", "1o", "2x0e+2x1e", instr, shared_weights=False, internal_weights=False)
    ref = e3(o3.TensorProduct, "2x1o", "1o", "2x0e+2x1e", instr, shared_weights=False, internal_weights=False)
    x = torch.randn(3, 6, dtype=torch.float64)
    y = torch.randn(3, 3, dtype=torch.float64)
    w = torch.randn(3, ours.weight_numel, dtype=torch.float64)
    res = []
    for m in (ours, ref):
        xx, ww = x.clone().requires_grad_(), w.clone().requires_grad_()
        e = m(xx, y, ww).pow(2).sum()
        (f,) = torch.autograd.grad(e, xx, create_graph=True)
        (gw,) = torch.autograd.grad(f.pow(2).sum(), ww)
        res.append(gw)
    assert torch.allclose(res[0], res[1], rtol=1e-10, atol=1e-12)


def test_torch_compile_fullgraph():
    tp = sct.ChannelwiseTensorProduct("3x0e+3x1o", "0e+1o", "0e+1o")
    x = torch.randn(4, tp.irreps_in1.dim)
    y = torch.randn(4, tp.irreps_in2.dim)
    w = torch.randn(4, tp.weight_numel)

    def f(x, y, w):
        xx = x.clone().requires_grad_()
        out = tp(xx, y, w)
        (gx,) = torch.autograd.grad(out.pow(2).sum(), xx, create_graph=True)
        return out, gx

    def g(x, y, w):
        return tp(x, y, w).sin()

    cg = torch.compile(g, fullgraph=True, backend="eager")
    assert torch.allclose(cg(x, y, w), g(x, y, w))
    ca = torch.compile(g, fullgraph=True, backend="aot_eager")
    wr = w.clone().requires_grad_()
    ca(x, y, wr).sum().backward()
    wr2 = w.clone().requires_grad_()
    g(x, y, wr2).sum().backward()
    assert torch.allclose(wr.grad, wr2.grad, atol=1e-6)


def test_equivariance_float32():
    tp = sct.FullyConnectedTensorProduct("2x0e+2x1o+2x2e", "0e+1o+2e", "2x0e+2x1o+2x2e+1x1e+1x3o")
    torch.manual_seed(0)
    x = torch.randn(10, tp.irreps_in1.dim)
    y = torch.randn(10, tp.irreps_in2.dim)
    R = o3.rand_matrix()
    for inv in (1.0, -1.0):
        Rk = R * inv
        D1 = o3.Irreps(str(tp.irreps_in1)).D_from_matrix(Rk)
        D2 = o3.Irreps(str(tp.irreps_in2)).D_from_matrix(Rk)
        Do = o3.Irreps(str(tp.irreps_out)).D_from_matrix(Rk)
        a = tp(x @ D1.T, y @ D2.T)
        b = tp(x, y) @ Do.T
        assert (a - b).abs().max().item() <= 1e-5 * max(1.0, b.abs().max().item())


class TestBadInput:
    def test_widths(self):
        tp = _small_tp(True)
        w = torch.randn(tp.weight_numel)
        with pytest.raises(ValueError, match="x: expected a last dimension"):
            tp(torch.randn(2, tp.irreps_in1.dim + 1), torch.randn(2, tp.irreps_in2.dim), w)
        with pytest.raises(ValueError, match="y: expected a last dimension"):
            tp(torch.randn(2, tp.irreps_in1.dim), torch.randn(2, 1), w)

    def test_weights(self):
        tp = _small_tp(True)
        x, y = torch.randn(2, tp.irreps_in1.dim), torch.randn(2, tp.irreps_in2.dim)
        with pytest.raises(ValueError, match="weight: expected shape"):
            tp(x, y, torch.randn(tp.weight_numel + 1))
        with pytest.raises(ValueError, match="weight: expected shape"):
            tp(x, y, torch.randn(2, tp.weight_numel))  # per-sample where shared was declared
        tp = _small_tp(False)
        with pytest.raises(ValueError, match="per-sample"):
            tp(x, y, torch.randn(tp.weight_numel))  # shared where per-sample was declared
        with pytest.raises(ValueError, match="no internal weights"):
            tp(x, y)
        with pytest.raises(TypeError, match="dtype"):
            tp(x, y, torch.randn(2, tp.weight_numel, dtype=torch.float64))

    def test_instructions(self):
        with pytest.raises(ValueError, match="selection rules"):
            sct.TensorProduct("1o", "1o", "3e", [(0, 0, 0, "uvw", True)])
        with pytest.raises(ValueError, match="missing irrep"):
            sct.TensorProduct("1o", "1o", "0e", [(1, 0, 0, "uvw", True)])


def test_deepcopy_and_pickle_round_trip():
    import copy
    import io

    tp = sct.FullyConnectedTensorProduct("2x0e+2x1o", "1o", "3x1o+1x0e")
    x, y = torch.randn(3, tp.irreps_in1.dim), torch.randn(3, tp.irreps_in2.dim)
    want = tp(x, y)
    tp2 = copy.deepcopy(tp)
    assert torch.equal(tp2(x, y), want)
    buf = io.BytesIO()
    torch.save(tp, buf)
    buf.seek(0)
    tp3 = torch.load(buf, weights_only=False)
    assert torch.equal(tp3(x, y), want)
    assert [tuple(i) for i in tp3.instructions] == [tuple(i) for i in tp.instructions]


def test_kernels_on_torchs_openmp_team_match_across_threads():
    # With torch loaded, the tp kernels run their row chunks on torch's
    # libgomp team (scalecore/common/threads.h).  Results stay bit-identical at
    # 1, 2 and 3 threads and equal to the plain reference: shared-weight
    # blocks (forward, one-pass backward), per-row weights, the convolution.
    import scalecore
    from scalecore import _core

    torch.ones(64, 64) @ torch.ones(64, 64)  # torch's OpenMP runtime in use
    if _core.parallel_backend() != "libgomp":
        pytest.skip("this torch build does not use libgomp")
    fc = sct.FullyConnectedTensorProduct("8x0e+8x1o+8x2e", "0e+1o+2e", "8x0e+8x1o+8x2e")
    cw = sct.ChannelwiseTensorProduct("8x0e+8x1o", "0e+1o+2e", "0e+1o+2e")
    conv = sct.Convolution("8x0e+8x1o", "0e+1o+2e", *sct.tp_out_irreps_with_instructions("8x0e+8x1o", "0e+1o+2e",
                                                                                          "0e+1o+2e"))
    g = torch.Generator().manual_seed(3)
    n, nodes = 1003, 97
    x = torch.randn(n, fc.irreps_in1.dim, generator=g)
    y = torch.randn(n, 9, generator=g)
    xc = torch.randn(n, cw.irreps_in1.dim, generator=g)
    wc = torch.randn(n, cw.weight_numel, generator=g)
    xn = torch.randn(nodes, conv.irreps_in1.dim, generator=g)
    src, dst = torch.randint(0, nodes, (n,), generator=g), torch.randint(0, nodes, (n,), generator=g)

    def run():
        outs = []
        fc.weight.grad = None
        for f, ins in ((lambda a, b, c: fc(a, b), (x, y, None)), (lambda a, b, c: cw(a, b, c), (xc, y, wc)),
                       (lambda a, b, c: conv(a, b, c, src, dst, nodes), (xn, y, wc))):
            leaves = [t.clone().requires_grad_() for t in ins if t is not None]
            args = leaves + [None] * (3 - len(leaves))
            out = f(*args)
            out.pow(2).sum().backward()
            outs += [out.detach()] + [t.grad for t in leaves]
        return outs + [fc.weight.grad.clone()]

    res = []
    for t in (1, 2, 3):
        with scalecore.num_threads(t):
            torch.ones(64, 64) @ torch.ones(64, 64)
            res.append(run())
    for r in res[1:]:
        for a, b in zip(r, res[0]):
            assert torch.equal(a, b)
    # The forward against the plain reference kernel.
    p = sct._ops._plan(fc._plan_id)
    w = fc.weight.detach().numpy()
    with scalecore.num_threads(2):
        fast = p.contract("out", x.numpy(), y.numpy(), w, None, weight_shared=True, n=n)
    ref = p.contract("out", x.numpy(), y.numpy(), w, None, weight_shared=True, n=n, impl=1)
    np.testing.assert_allclose(fast, ref, rtol=2e-5, atol=2e-5 * float(np.abs(ref).max()))
