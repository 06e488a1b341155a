"""The torch custom op of the Clebsch-Gordan product family.

One op, ``scalecore_tp::contract``, computes one slot of the trilinear form

    F(x, y, w, g) = sum_e < g[dst_e], T(x[src_e], y_e, w_e) >

from the other three: slot 3 is the product T (g absent), slots 0/1/2 are the
gradients for x, y, w given the outgoing gradient g.  Because F is linear in
every slot, the gradient of "slot s from the others" with respect to slot t,
against an incoming gradient gamma, is again "slot t from the others, with
slot s replaced by gamma".  So the op's backward is the op itself, and every
order of differentiation (forces, then weight gradients of forces) works.

``src`` / ``dst`` are the fused convolution's sender and receiver indices
(None for the plain product: rows line up).  Plans are registered once per
module and referred to by an integer id, a constant under torch.compile.
Tensors reach the C++ kernels as numpy views (no copies for contiguous CPU
tensors); outputs are allocated by torch.
"""
from __future__ import annotations

import itertools
import threading
from typing import Dict, List, Optional, Tuple

import torch

from .._product import TensorProductPlan

_PLANS: Dict[int, TensorProductPlan] = {}
_LOCK = threading.Lock()
_IDS = itertools.count(1)
_SLOT_NAMES = ("x", "y", "weight", "out")


def register_plan(plan: TensorProductPlan) -> int:
    """Register a plan for the op; returns its id."""
    with _LOCK:
        pid = next(_IDS)
        _PLANS[pid] = plan
    return pid


def _plan(pid: int) -> TensorProductPlan:
    try:
        return _PLANS[pid]
    except KeyError:
        raise ValueError(f"scalecore_tp: unknown plan id {pid}") from None


def _rows(slot: int, x, y, w, g, src, dst, w_shared: bool) -> int:
    """The number of rows (edges) the call iterates over."""
    if slot != 1 and y is not None:
        return y.shape[0]
    if slot != 2 and w is not None and not w_shared:
        return w.shape[0]
    if src is not None:
        return src.shape[0]
    if dst is not None:
        return dst.shape[0]
    return x.shape[0] if x is not None else g.shape[0]


def _out_shape(plan: TensorProductPlan, slot: int, n, x, g, src, dst, num_nodes, w_shared):
    width = plan.dims[slot]
    if slot == 2:
        return (width,) if w_shared else (n, width)
    if slot == 0:
        return (num_nodes if src is not None else n, width)
    if slot == 3:
        return (num_nodes if dst is not None else n, width)
    return (n, width)


def _contract_out(plan: TensorProductPlan, slot: int, x, y, w, g, src, dst, num_nodes, w_shared):
    """(rows, a given input to take the dtype from, the output's shape) of a
    contract call: the real kernel and its fake share it."""
    n = _rows(slot, x, y, w, g, src, dst, w_shared)
    ref = next(t for t in (x, y, w, g) if t is not None)
    return n, ref, _out_shape(plan, slot, n, x, g, src, dst, num_nodes, w_shared)


def _np(t: Optional[torch.Tensor]):
    if t is None:
        return None
    return t.detach().contiguous().numpy()


def _check_index(idx: torch.Tensor, name: str, bound: int) -> None:
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= bound):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise ValueError(f"{name}: index {bad} is out of range for {bound} nodes")


@torch.library.custom_op("scalecore_tp::contract", mutates_args=())
def contract(
    plan_id: int,
    slot: int,
    x: Optional[torch.Tensor],
    y: Optional[torch.Tensor],
    w: Optional[torch.Tensor],
    g: Optional[torch.Tensor],
    src: Optional[torch.Tensor],
    dst: Optional[torch.Tensor],
    num_nodes: int,
    w_shared: bool,
) -> torch.Tensor:
    plan = _plan(plan_id)
    n, ref, shape = _contract_out(plan, slot, x, y, w, g, src, dst, num_nodes, w_shared)
    out = torch.empty(shape, dtype=ref.dtype)
    if src is not None:
        _check_index(src, "edge_src", num_nodes)
    if dst is not None:
        _check_index(dst, "edge_dst", num_nodes)
    ins = [x, y, w, g]
    ins[slot] = None
    plan.contract(
        _SLOT_NAMES[slot], _np(ins[0]), _np(ins[1]), _np(ins[2]), _np(ins[3]),
        weight_shared=w_shared, n=n,
        x_index=_np(src), out_index=_np(dst),
        x_rows=num_nodes if src is not None else None,
        out_rows=num_nodes if dst is not None else None,
        out=out.numpy(),
    )
    return out


@contract.register_fake
def _(plan_id, slot, x, y, w, g, src, dst, num_nodes, w_shared):
    _, ref, shape = _contract_out(_plan(plan_id), slot, x, y, w, g, src, dst, num_nodes, w_shared)
    return ref.new_empty(shape)


def _setup_context(ctx, inputs, output):
    plan_id, slot, x, y, w, g, src, dst, num_nodes, w_shared = inputs
    ctx.plan_id, ctx.slot, ctx.num_nodes, ctx.w_shared = plan_id, slot, num_nodes, w_shared
    ctx.save_for_backward(x, y, w, g, src, dst)


def _backward(ctx, grad):
    x, y, w, g, src, dst = ctx.saved_tensors
    s = ctx.slot
    if s == 3 and src is None and dst is None:
        # The plain product's backward: one fused pass for the three gradients.
        need = ctx.needs_input_grad[2:5]
        gx, gy, gw = backward(ctx.plan_id, x, y, w, grad.contiguous(), ctx.w_shared, need[0], need[1], need[2])
        return (None, None, gx if need[0] else None, gy if need[1] else None, gw if need[2] else None,
                None, None, None, None, None)
    if s == 3 and src is not None and dst is not None and not ctx.w_shared:
        # The convolution's backward in one pass over the edges grouped by
        # sender: grad x per sender, grad y / grad w per edge.
        need = ctx.needs_input_grad[2:5]
        gx, gy, gw = conv_backward(ctx.plan_id, x, y, w, grad.contiguous(), src, dst, ctx.num_nodes,
                                   need[0], need[1], need[2])
        return (None, None, gx if need[0] else None, gy if need[1] else None, gw if need[2] else None,
                None, None, None, None, None)
    vals: List[Optional[torch.Tensor]] = [x, y, w, g]
    vals[s] = grad.contiguous()
    grads: List[Optional[torch.Tensor]] = [None, None, None, None]
    for t in range(4):
        if t == s or not ctx.needs_input_grad[2 + t]:
            continue
        args = list(vals)
        args[t] = None
        grads[t] = contract(ctx.plan_id, t, args[0], args[1], args[2], args[3], src, dst, ctx.num_nodes,
                            ctx.w_shared)
    return (None, None, grads[0], grads[1], grads[2], grads[3], None, None, None, None)


contract.register_autograd(_backward, setup_context=_setup_context)


@torch.library.custom_op("scalecore_tp::backward", mutates_args=())
def backward(
    plan_id: int,
    x: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    g: torch.Tensor,
    w_shared: bool,
    need_x: bool,
    need_y: bool,
    need_w: bool,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """grad_x, grad_y, grad_w of ``<g, T(x, y, w)>`` for the plain product in
    one pass (a gradient not asked for comes back as an empty tensor)."""
    plan = _plan(plan_id)
    n = g.shape[0]
    outs = [torch.empty(s, dtype=g.dtype) for s in _bwd_shapes(plan, n, w_shared, need_x, need_y, need_w)]
    plan.backward_rows(_np(x), _np(y), _np(w), _np(g), weight_shared=w_shared, n=n,
                       outs=[o.numpy() if k else None for o, k in zip(outs, (need_x, need_y, need_w))])
    return outs[0], outs[1], outs[2]


def _bwd_shapes(plan, n, w_shared, need_x, need_y, need_w):
    """Shapes of backward's (grad_x, grad_y, grad_w); (0,) where not needed."""
    return _dbl_shapes(plan, n, None, None, 0, w_shared, (need_x, need_y, need_w, False))[:3]


def _conv_bwd_shapes(plan, n, num_nodes, need_x, need_y, need_w):
    """Shapes of conv_backward's (grad_x per node, grad_y, grad_w per edge)."""
    return _dbl_shapes(plan, n, True, True, num_nodes, False, (need_x, need_y, need_w, False))[:3]


@backward.register_fake
def _(plan_id, x, y, w, g, w_shared, need_x, need_y, need_w):
    plan = _plan(plan_id)
    shapes = _bwd_shapes(plan, g.shape[0], w_shared, need_x, need_y, need_w)
    return tuple(g.new_empty(s) for s in shapes)


def _bwd_setup(ctx, inputs, output):
    plan_id, x, y, w, g, w_shared, need_x, need_y, need_w = inputs
    ctx.plan_id, ctx.w_shared = plan_id, w_shared
    ctx.need = (need_x, need_y, need_w)
    ctx.save_for_backward(x, y, w, g)


def _bwd_backward(ctx, ggx, ggy, ggw):
    # d<gg, (Tx, Ty, Tw)(x, y, w, g)>: one fused pass (double_backward).
    x, y, w, g = ctx.saved_tensors
    incoming = [gg if k else None for gg, k in zip((ggx, ggy, ggw), ctx.need)]
    need = ctx.needs_input_grad[1:5]
    if all(gg is None for gg in incoming) or not any(need):
        return (None,) * 9
    grads = double_backward(ctx.plan_id, x, y, w, g, incoming[0], incoming[1], incoming[2], None, None, 0,
                            ctx.w_shared, need[0], need[1], need[2], need[3])
    return (None,) + tuple(t if k else None for t, k in zip(grads, need)) + (None,) * 4


backward.register_autograd(_bwd_backward, setup_context=_bwd_setup)


@torch.library.custom_op("scalecore_tp::conv_backward", mutates_args=())
def conv_backward(
    plan_id: int,
    x: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    g: torch.Tensor,
    src: torch.Tensor,
    dst: torch.Tensor,
    num_nodes: int,
    need_x: bool,
    need_y: bool,
    need_w: bool,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fused convolution's gradients ``(grad_x, grad_y, grad_w)``
    (per-edge weights) in one pass over the edges grouped by sender: x
    gathered by sender, g by receiver, grad x summed per sender (a gradient
    not asked for comes back empty)."""
    plan = _plan(plan_id)
    n = y.shape[0]
    _check_index(src, "edge_src", num_nodes)
    _check_index(dst, "edge_dst", num_nodes)
    gx, gy, gw = (torch.empty(sh, dtype=g.dtype)
                  for sh in _conv_bwd_shapes(plan, n, num_nodes, need_x, need_y, need_w))
    plan.backward_rows(_np(x), _np(y), _np(w), _np(g), weight_shared=False, n=n,
                       outs=[t.numpy() if k else None for t, k in ((gx, need_x), (gy, need_y), (gw, need_w))],
                       x_index=_np(src), out_index=_np(dst), x_rows=num_nodes, out_rows=num_nodes)
    return gx, gy, gw


@conv_backward.register_fake
def _(plan_id, x, y, w, g, src, dst, num_nodes, need_x, need_y, need_w):
    shapes = _conv_bwd_shapes(_plan(plan_id), y.shape[0], num_nodes, need_x, need_y, need_w)
    return tuple(g.new_empty(sh) for sh in shapes)


def _cb_setup(ctx, inputs, output):
    plan_id, x, y, w, g, src, dst, num_nodes, need_x, need_y, need_w = inputs
    ctx.plan_id, ctx.num_nodes, ctx.need = plan_id, num_nodes, (need_x, need_y, need_w)
    ctx.save_for_backward(x, y, w, g, src, dst)


def _cb_backward(ctx, ggx, ggy, ggw):
    # As _bwd_backward, with the convolution's indices.
    x, y, w, g, src, dst = ctx.saved_tensors
    incoming = [gg if k else None for gg, k in zip((ggx, ggy, ggw), ctx.need)]
    need = ctx.needs_input_grad[1:5]
    if all(gg is None for gg in incoming) or not any(need):
        return (None,) * 11
    grads = double_backward(ctx.plan_id, x, y, w, g, incoming[0], incoming[1], incoming[2], src, dst,
                            ctx.num_nodes, False, need[0], need[1], need[2], need[3])
    return (None,) + tuple(t if k else None for t, k in zip(grads, need)) + (None,) * 6


conv_backward.register_autograd(_cb_backward, setup_context=_cb_setup)



def _dbl_shapes(plan, n, src, dst, num_nodes, w_shared, need):
    """Shapes of double_backward's (x, y, weight, grad_out) gradients: per node
    for a gathered x (src) / g (dst), (0,) where not needed."""
    full = [(num_nodes if src is not None else n, plan.dims[0]), (n, plan.dims[1]),
            (plan.dims[2],) if w_shared else (n, plan.dims[2]), (num_nodes if dst is not None else n, plan.dims[3])]
    return [f if k else (0,) for f, k in zip(full, need)]


@torch.library.custom_op("scalecore_tp::double_backward", mutates_args=())
def double_backward(
    plan_id: int,
    x: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    g: torch.Tensor,
    ggx: Optional[torch.Tensor],
    ggy: Optional[torch.Tensor],
    ggw: Optional[torch.Tensor],
    src: Optional[torch.Tensor],
    dst: Optional[torch.Tensor],
    num_nodes: int,
    w_shared: bool,
    need_x: bool,
    need_y: bool,
    need_w: bool,
    need_g: bool,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The double backward of ``backward`` / ``conv_backward``: with
    F(x, y, w, g) = sum_e <g[dst_e], T(x[src_e], y_e, w_e)>, returns for each
    slot t (x, y, w, g) the sum over the given gg_s (s != t) of "slot t from
    the others with slot s replaced by gg_s", i.e. the gradients of
    ``<(ggx, ggy, ggw), (dF/dx, dF/dy, dF/dw)>``, in one pass over the rows
    (a gradient not asked for comes back as an empty tensor)."""
    plan = _plan(plan_id)
    n = y.shape[0]
    if src is not None:
        _check_index(src, "edge_src", num_nodes)
    if dst is not None:
        _check_index(dst, "edge_dst", num_nodes)
    need = (need_x, need_y, need_w, need_g)
    outs = [torch.empty(s, dtype=g.dtype) for s in _dbl_shapes(plan, n, src, dst, num_nodes, w_shared, need)]
    plan.double_backward_rows(_np(x), _np(y), _np(w), _np(g), [_np(ggx), _np(ggy), _np(ggw)],
                              weight_shared=w_shared, n=n,
                              outs=[o.numpy() if k else None for o, k in zip(outs, need)],
                              x_index=_np(src), out_index=_np(dst), x_rows=num_nodes, out_rows=num_nodes)
    return outs[0], outs[1], outs[2], outs[3]


@double_backward.register_fake
def _(plan_id, x, y, w, g, ggx, ggy, ggw, src, dst, num_nodes, w_shared, need_x, need_y, need_w, need_g):
    plan = _plan(plan_id)
    shapes = _dbl_shapes(plan, y.shape[0], src, dst, num_nodes, w_shared, (need_x, need_y, need_w, need_g))
    return tuple(g.new_empty(s) for s in shapes)


def _dbl_setup(ctx, inputs, output):
    (plan_id, x, y, w, g, ggx, ggy, ggw, src, dst, num_nodes, w_shared, need_x, need_y, need_w, need_g) = inputs
    ctx.plan_id, ctx.num_nodes, ctx.w_shared = plan_id, num_nodes, w_shared
    ctx.need = (need_x, need_y, need_w, need_g)
    ctx.save_for_backward(x, y, w, g, ggx, ggy, ggw, src, dst)


def _dbl_backward(ctx, gx, gy, gw, gg):
    # The outputs are sum_t sum_{s != t} F(vals, s -> gg_s, t -> gamma_t)
    # against the incoming gamma_t; each term is a contraction of the
    # remaining slot (the existing contract op, itself differentiable).
    x, y, w, g, ggx, ggy, ggw, src, dst = ctx.saved_tensors
    vals = [x, y, w, g]
    ggs = [ggx, ggy, ggw]
    gammas = [t if k else None for t, k in zip((gx, gy, gw, gg), ctx.need)]
    pid, nn, sh = ctx.plan_id, ctx.num_nodes, ctx.w_shared

    def term(slot, repl):
        args = list(vals)
        for k, v in repl.items():
            args[k] = v.contiguous()
        args[slot] = None
        return contract(pid, slot, args[0], args[1], args[2], args[3], src, dst, nn, sh)

    def add(total, t):
        return t if total is None else total + t

    need_in = ctx.needs_input_grad
    out_vals: List[Optional[torch.Tensor]] = [None] * 4
    out_ggs: List[Optional[torch.Tensor]] = [None] * 3
    for u in range(4):
        if not need_in[1 + u]:
            continue
        for s in range(3):
            for t in range(4):
                if ggs[s] is None or gammas[t] is None or len({s, t, u}) < 3:
                    continue
                out_vals[u] = add(out_vals[u], term(u, {s: ggs[s], t: gammas[t]}))
    for s in range(3):
        if ggs[s] is None or not need_in[5 + s]:
            continue
        for t in range(4):
            if t != s and gammas[t] is not None:
                out_ggs[s] = add(out_ggs[s], term(s, {t: gammas[t]}))
    return (None, *out_vals, *out_ggs) + (None,) * 8


double_backward.register_autograd(_dbl_backward, setup_context=_dbl_setup)
