"""The fused double backward (``scalecore_tp::double_backward``, issue 12).

It replaces, in the double backward of ``backward`` / ``conv_backward``, the
sum over s (the given grad-of-grads ggx, ggy, ggw) and t != s of one
``contract`` of slot t with slot s replaced by gg_s.  Checked here against
exactly that sum of the reference kernel's contractions (impl=1), at every
SIMD level, every connection mode, shared and per-sample weights, plain and
convolution, odd sizes; bit-identical at 1 and 2 threads; its own autograd
(the triple backward) by gradcheck.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import scalecore
from scalecore.tp import TensorProductPlan

torch = pytest.importorskip("torch")

from scalecore.tp.torch import _ops  # noqa: E402

SLOTS = ("x", "y", "weight", "out")
MODES = ("uvw", "uvu", "uvv", "uuw", "uuu", "uvuv")
LEVELS = scalecore.simd_levels()


def _plan(mode: str) -> TensorProductPlan:
    in1 = [(2, 0, 1), (2, 1, -1), (1, 2, 1)] if mode not in ("uuw", "uuu") else [(2, 0, 1), (2, 1, -1), (2, 2, 1)]
    in2 = [(1, 0, 1), (1, 1, -1)] if mode not in ("uuw", "uuu") else [(2, 0, 1), (2, 1, -1)]
    mo = {"uvw": 3, "uvu": 2, "uvv": 1, "uuw": 3, "uuu": 2, "uvuv": 2}[mode]
    out = [(mo, lo, p) for lo in range(3) for p in (1, -1)]
    instr = []
    for i, (m1, l1, p1) in enumerate(in1):
        for j, (m2, l2, p2) in enumerate(in2):
            for k, (_, lo, po) in enumerate(out):
                if abs(l1 - l2) <= lo <= l1 + l2 and p1 * p2 == po:
                    if (mode == "uvu" and m1 != mo or mode == "uvv" and m2 != mo
                            or mode == "uvuv" and m1 * m2 != mo):
                        continue
                    instr.append((i, j, k, mode, True))
    name = lambda irr: "+".join(f"{m}x{l}{'e' if p > 0 else 'o'}" for m, l, p in irr)  # noqa: E731
    return TensorProductPlan(name(in1), name(in2), name(out), instr)


def _data(plan, n, nodes, conv, shared, dtype, seed):
    rng = np.random.default_rng(seed)
    d1, d2, dw, do = plan.dims
    r = lambda *s: rng.standard_normal(s).astype(dtype)  # noqa: E731
    xr = nodes if conv else n
    gr = nodes if conv else n
    x, y, g = r(xr, d1), r(n, d2), r(gr, do)
    w = r(dw) if shared else r(n, dw)
    ggx, ggy = r(xr, d1), r(n, d2)
    ggw = r(dw) if shared else r(n, dw)
    src = dst = None
    if conv:
        src = rng.integers(0, nodes, n).astype(np.int64)
        dst = rng.integers(0, nodes, n).astype(np.int64)
        dst[0] = nodes - 1
        src[src == 1] = 0  # a node that sends nothing
        dst[dst == 2] = 3  # and one that receives nothing
    return [x, y, w, g], [ggx, ggy, ggw], src, dst


def _fused(plan, vals, ggs, need, shared, n, src, dst, nodes):
    shapes = [vals[0].shape, vals[1].shape, vals[2].shape, vals[3].shape]
    outs = [np.empty(s, vals[0].dtype) if k else None for s, k in zip(shapes, need)]
    plan.double_backward_rows(*vals, ggs, weight_shared=shared, n=n, outs=outs, x_index=src, out_index=dst,
                              x_rows=nodes, out_rows=nodes)
    return outs


def _reference(plan, vals, ggs, need, shared, n, src, dst, nodes):
    """The sum of the contractions the fused op replaces, reference kernel, float64."""
    vals = [v.astype(np.float64) for v in vals]
    ggs = [None if a is None else a.astype(np.float64) for a in ggs]
    total = [None] * 4
    for s, gg in enumerate(ggs):
        if gg is None:
            continue
        for t in range(4):
            if t == s or not need[t]:
                continue
            args = list(vals)
            args[s] = gg
            args[t] = None
            term = plan.contract(SLOTS[t], *args, weight_shared=shared, n=n, x_index=src, out_index=dst,
                                 x_rows=nodes if src is not None else None,
                                 out_rows=nodes if dst is not None else None, impl=1)
            total[t] = term if total[t] is None else total[t] + term
    for t in range(4):
        if need[t] and total[t] is None:
            total[t] = np.zeros(vals[t].shape)
    return total


def _check(got, want, tol):
    for a, b in zip(got, want):
        if b is None:
            assert a is None
            continue
        assert a.shape == b.shape
        scale = max(1.0, float(np.abs(b).max()))
        assert float(np.abs(a.astype(np.float64) - b).max()) <= tol * scale


# (ggx, ggy, ggw given) and (x, y, w, g asked for): all, and a few subsets.
GIVEN = [(1, 1, 1), (1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 1, 1)]
NEED = [(1, 1, 1, 1), (0, 1, 1, 1), (1, 0, 1, 0)]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["plain", "shared", "conv"])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_equals_sum_of_contractions(level, mode, kind, dtype, tol):
    plan = _plan(mode)
    conv, shared = kind == "conv", kind == "shared"
    n, nodes = (53, 11) if conv else (37, 0)
    vals, ggs, src, dst = _data(plan, n, nodes, conv, shared, dtype, seed=hash((mode, kind)) % 1000)
    with scalecore.simd_level(level):
        for given, need in itertools.product(GIVEN, NEED):
            gg = [a if k else None for a, k in zip(ggs, given)]
            got = _fused(plan, vals, gg, need, shared, n, src, dst, nodes)
            want = _reference(plan, vals, gg, need, shared, n, src, dst, nodes)
            _check(got, want, tol)


@pytest.mark.parametrize("kind", ["shared", "conv", "plain"])
def test_threads_give_identical_bits(kind):
    plan = _plan("uvw")
    conv, shared = kind == "conv", kind == "shared"
    n, nodes = 700, (61 if conv else 0)
    vals, ggs, src, dst = _data(plan, n, nodes, conv, shared, np.float32, seed=5)
    need = (1, 1, 1, 1)
    res = []
    for t in (1, 2):
        with scalecore.num_threads(t):
            res.append(_fused(plan, vals, ggs, need, shared, n, src, dst, nodes))
    for a, b in zip(*res):
        assert np.array_equal(a, b)


def test_bad_input():
    plan = _plan("uvw")
    vals, ggs, src, dst = _data(plan, 9, 4, True, False, np.float64, seed=1)
    outs = [np.empty(v.shape) for v in vals]
    bad = src.copy()
    bad[3] = 4
    with pytest.raises(ValueError, match="index"):
        plan.double_backward_rows(*vals, ggs, weight_shared=False, n=9, outs=outs, x_index=bad, out_index=dst,
                                  x_rows=4, out_rows=4)
    with pytest.raises(ValueError, match="grad_grad_y"):
        plan.double_backward_rows(*vals, [ggs[0], ggs[1][:5], ggs[2]], weight_shared=False, n=9, outs=outs,
                                  x_index=src, out_index=dst, x_rows=4, out_rows=4)
    with pytest.raises(TypeError):
        plan.double_backward_rows(*vals, [ggs[0].astype(np.float32), None, None], weight_shared=False, n=9,
                                  outs=outs, x_index=src, out_index=dst, x_rows=4, out_rows=4)


@pytest.mark.parametrize("which", ["backward", "double_backward"])
def test_bad_input_messages_shared_by_backward_and_double_backward(which):
    # backward_rows and double_backward_rows share their operand checks (the
    # bindings' row_operands, C++ check_row_operands): the same messages,
    # naming the argument, from either entry point.
    import re

    plan = _plan("uvw")
    n, nodes = 9, 4
    vals, ggs, src, dst = _data(plan, n, nodes, True, False, np.float64, seed=1)

    def call(v=vals, x_index=src, shared=False):
        kw = dict(weight_shared=shared, n=n, x_index=x_index, out_index=dst, x_rows=nodes, out_rows=nodes)
        if which == "backward":
            outs = [np.empty((nodes, plan.dims[0])), np.empty((n, plan.dims[1])),
                    np.empty((plan.dims[2],) if shared else (n, plan.dims[2]))]
            plan.backward_rows(*v, outs=outs, **kw)
        else:
            outs = [np.empty((nodes, plan.dims[0])), np.empty((n, plan.dims[1])),
                    np.empty((plan.dims[2],) if shared else (n, plan.dims[2])), np.empty((nodes, plan.dims[3]))]
            gg = [ggs[0], ggs[1], ggs[2][0].copy()] if shared else ggs
            plan.double_backward_rows(*v, gg, outs=outs, **kw)

    bad = src.copy()
    bad[3] = 4
    with pytest.raises(ValueError, match=re.escape("x index: entry 3 is 4, outside [0, 4)")):
        call(x_index=bad)
    with pytest.raises(ValueError, match=re.escape(f"y: expected {n} rows of {plan.dims[1]}, got shape (5, ")):
        call(v=[vals[0], vals[1][:5], vals[2], vals[3]])
    with pytest.raises(TypeError, match=re.escape("grad_out: expected a float32 or float64 array, got int64")):
        call(v=[vals[0], vals[1], vals[2], vals[3].astype(np.int64)])
    fn = "tp_backward: a gathered x with its gradient" if which == "backward" else "tp_double_backward: a gathered x"
    with pytest.raises(ValueError, match=re.escape(fn)):
        call(v=[vals[0], vals[1], vals[2][0].copy(), vals[3]], shared=True)


def _torch_inputs(plan, conv, shared, seed):
    n, nodes = (7, 4) if conv else (5, 0)
    vals, ggs, src, dst = _data(plan, n, nodes, conv, shared, np.float64, seed)
    t = lambda a: torch.from_numpy(a).requires_grad_()  # noqa: E731
    ix = lambda a: None if a is None else torch.from_numpy(a)  # noqa: E731
    return [t(v) for v in vals], [t(a) for a in ggs], ix(src), ix(dst), nodes


@pytest.mark.parametrize("kind", ["plain", "shared", "conv"])
def test_triple_backward_gradcheck(kind):
    # The fused op's own autograd (contract-based) against finite differences.
    from scalecore.tp.torch import TensorProduct

    tp = TensorProduct("2x0e+1x1o", "0e+1o", "2x0e+1x1o+1x1e", [(0, 0, 0, "uvw", True), (1, 1, 0, "uvw", True),
                                                                  (0, 1, 1, "uvw", True), (1, 1, 2, "uvw", True)],
                       shared_weights=False, internal_weights=False)
    plan = _ops._plan(tp._plan_id)
    conv, shared = kind == "conv", kind == "shared"
    vals, ggs, src, dst, nodes = _torch_inputs(plan, conv, shared, seed=3)

    def f(x, y, w, g, ggx, ggy, ggw):
        return _ops.double_backward(tp._plan_id, x, y, w, g, ggx, ggy, ggw, src, dst, nodes, shared,
                                    True, True, True, True)

    assert torch.autograd.gradcheck(f, (*vals, *ggs))


def test_opcheck():
    from scalecore.tp.torch import TensorProduct

    tp = TensorProduct("2x1o", "1o", "2x0e+2x1e", [(0, 0, 0, "uvu", True), (0, 0, 1, "uvu", True)],
                       shared_weights=False, internal_weights=False)
    plan = _ops._plan(tp._plan_id)
    vals, ggs, src, dst, nodes = _torch_inputs(plan, True, False, seed=4)
    torch.library.opcheck(_ops.double_backward, (tp._plan_id, *vals, ggs[0], None, ggs[2], src, dst, nodes, False,
                                                 True, True, True, True))
