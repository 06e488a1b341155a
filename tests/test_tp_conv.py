"""The fused convolution scalecore.tp.torch.Convolution: equal to e3nn's
product followed by index_add_, gradients, gradcheck/gradgradcheck,
determinism across thread counts, bad edge indices."""
from __future__ import annotations

import numpy as np
import pytest

import scalecore

torch = pytest.importorskip("torch")
o3 = pytest.importorskip("e3nn.o3")

from scalecore.tp import torch as sct  # noqa: E402

IRREPS = ("3x0e+3x1o+2x2e", "0e+1o+2e")


def _mace_like(dtype=torch.float64):
    out, instr = sct.tp_out_irreps_with_instructions(*IRREPS, "0e+1o+2e")
    conv = sct.Convolution(IRREPS[0], IRREPS[1], out, instr)
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # e3nn's CG constants in the compared precision
    try:
        ref = o3.TensorProduct(IRREPS[0], IRREPS[1], str(out), instr, shared_weights=False, internal_weights=False)
    finally:
        torch.set_default_dtype(old)
    return conv, ref


def _graph(n_nodes, n_edges, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, n_nodes, (n_edges,), generator=g)
    dst = torch.randint(0, n_nodes, (n_edges,), generator=g)
    dst[0] = n_nodes - 1  # last node receives; some nodes receive nothing
    return src, dst


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_equals_e3nn_product_plus_index_add(dtype, tol):
    conv, ref = _mace_like(dtype)
    n_nodes, n_edges = 9, 40
    src, dst = _graph(n_nodes, n_edges)
    x = torch.randn(n_nodes, conv.irreps_in1.dim, dtype=dtype)
    y = torch.randn(n_edges, conv.irreps_in2.dim, dtype=dtype)
    w = torch.randn(n_edges, conv.weight_numel, dtype=dtype)
    leaves = [[t.clone().requires_grad_() for t in (x, y, w)] for _ in range(2)]
    a = conv(*leaves[0], src, dst, n_nodes)
    xa, ya, wa = leaves[1]
    b = torch.zeros(n_nodes, conv.irreps_out.dim, dtype=dtype).index_add_(0, dst, ref(xa[src], ya, wa))
    scale = b.abs().max().item()
    assert (a - b).abs().max().item() <= tol * scale
    gout = torch.randn_like(b)
    (a * gout).sum().backward()
    (b * gout).sum().backward()
    for p, q in zip(leaves[0], leaves[1]):
        assert (p.grad - q.grad).abs().max().item() <= tol * max(1.0, q.grad.abs().max().item())


def test_gradcheck_and_gradgradcheck():
    conv, _ = _mace_like()
    n_nodes, n_edges = 4, 9
    src, dst = _graph(n_nodes, n_edges, seed=1)
    x = torch.randn(n_nodes, conv.irreps_in1.dim, dtype=torch.float64, requires_grad=True)
    y = torch.randn(n_edges, conv.irreps_in2.dim, dtype=torch.float64, requires_grad=True)
    w = torch.randn(n_edges, conv.weight_numel, dtype=torch.float64, requires_grad=True)
    f = lambda x, y, w: conv(x, y, w, src, dst, n_nodes)  # noqa: E731
    assert torch.autograd.gradcheck(f, (x, y, w))
    assert torch.autograd.gradgradcheck(f, (x, y, w))


def test_shared_weights():
    instr = [(0, 0, 0, "uvw", True), (1, 1, 0, "uvw", True), (1, 0, 1, "uvw", True)]
    conv = sct.Convolution("2x0e+2x1o", "0e+1o", "3x0e+2x1o", instr, shared_weights=True)
    tp = sct.TensorProduct("2x0e+2x1o", "0e+1o", "3x0e+2x1o", instr)
    with torch.no_grad():
        tp.weight.copy_(conv.weight)
    src, dst = _graph(5, 17)
    x = torch.randn(5, conv.irreps_in1.dim, dtype=torch.float64)
    y = torch.randn(17, conv.irreps_in2.dim, dtype=torch.float64)
    conv, tp = conv.double(), tp.double()
    a = conv(x, y, None, src, dst, 5)
    b = torch.zeros(5, conv.irreps_out.dim, dtype=torch.float64).index_add_(0, dst, tp(x[src], y))
    assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)


def test_deterministic_across_threads():
    conv, _ = _mace_like()
    n_nodes, n_edges = 50, 600
    src, dst = _graph(n_nodes, n_edges, seed=2)
    x = torch.randn(n_nodes, conv.irreps_in1.dim)
    y = torch.randn(n_edges, conv.irreps_in2.dim)
    w = torch.randn(n_edges, conv.weight_numel)
    res = []
    for t in (1, 2, 3):
        with scalecore.num_threads(t):
            xx = x.clone().requires_grad_()
            out = conv(xx, y, w, src, dst, n_nodes)
            out.pow(2).sum().backward()
            res.append((out.detach(), xx.grad))
    for r in res[1:]:
        assert torch.equal(r[0], res[0][0]) and torch.equal(r[1], res[0][1])


class TestBadInput:
    def setup_method(self):
        self.conv, _ = _mace_like()
        self.x = torch.randn(4, self.conv.irreps_in1.dim)
        self.y = torch.randn(6, self.conv.irreps_in2.dim)
        self.w = torch.randn(6, self.conv.weight_numel)
        self.src, self.dst = _graph(4, 6)

    def test_out_of_range(self):
        bad = self.src.clone()
        bad[3] = 4
        with pytest.raises(ValueError, match="edge_src"):
            self.conv(self.x, self.y, self.w, bad, self.dst, 4)
        bad = self.dst.clone()
        bad[2] = -1
        with pytest.raises(ValueError, match="edge_dst"):
            self.conv(self.x, self.y, self.w, self.src, bad, 4)

    def test_wrong_dtype(self):
        with pytest.raises(TypeError, match="edge_src"):
            self.conv(self.x, self.y, self.w, self.src.float(), self.dst, 4)
        with pytest.raises(TypeError, match="edge_dst"):
            self.conv(self.x, self.y, self.w, self.src, np.asarray(self.dst), 4)

    def test_wrong_lengths(self):
        with pytest.raises(ValueError, match="edge_src: expected 6"):
            self.conv(self.x, self.y, self.w, self.src[:5], self.dst, 4)
        with pytest.raises(ValueError, match="edge_weights"):
            self.conv(self.x, self.y, self.w[:5], self.src, self.dst, 4)
        with pytest.raises(ValueError, match="node_features"):
            self.conv(self.x, self.y, self.w, self.src, self.dst, 5)


def test_torch_compile_fullgraph_with_backward():
    conv, _ = _mace_like()
    n_nodes, n_edges = 5, 12
    src, dst = _graph(n_nodes, n_edges, seed=3)
    x = torch.randn(n_nodes, conv.irreps_in1.dim)
    y = torch.randn(n_edges, conv.irreps_in2.dim)
    w = torch.randn(n_edges, conv.weight_numel)

    def f(x, y, w):
        return conv(x, y, w, src, dst, n_nodes).tanh().sum()

    cf = torch.compile(f, fullgraph=True, backend="aot_eager")
    leaves = [[t.clone().requires_grad_() for t in (x, y, w)] for _ in range(2)]
    cf(*leaves[0]).backward()
    f(*leaves[1]).backward()
    for a, b in zip(leaves[0], leaves[1]):
        assert torch.allclose(a.grad, b.grad, atol=1e-6)


def test_opcheck():
    from scalecore.tp.torch import _ops

    conv, _ = _mace_like()
    src, dst = _graph(4, 7, seed=4)
    x = torch.randn(4, conv.irreps_in1.dim, dtype=torch.float64, requires_grad=True)
    y = torch.randn(7, conv.irreps_in2.dim, dtype=torch.float64, requires_grad=True)
    w = torch.randn(7, conv.weight_numel, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(_ops.contract, (conv._plan_id, 3, x, y, w, None, src, dst, 4, False))
    tp = sct.TensorProduct("2x1o", "1o", "2x0e+2x1e", [(0, 0, 0, "uvu", True), (0, 0, 1, "uvu", True)],
                           shared_weights=False, internal_weights=False)
    a = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    c = torch.randn(3, tp.weight_numel, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(_ops.contract, (tp._plan_id, 3, a, b, c, None, None, None, 0, False))
