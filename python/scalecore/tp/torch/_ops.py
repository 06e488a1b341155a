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
from typing import Dict, List, Optional

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
    n = _rows(slot, x, y, w, g, src, dst, w_shared)
    ref = next(t for t in (x, y, w, g) if t is not None)
    out = torch.empty(_out_shape(plan, slot, n, x, g, src, dst, num_nodes, w_shared), dtype=ref.dtype)
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
    plan = _plan(plan_id)
    n = _rows(slot, x, y, w, g, src, dst, w_shared)
    ref = next(t for t in (x, y, w, g) if t is not None)
    return ref.new_empty(_out_shape(plan, slot, n, x, g, src, dst, num_nodes, w_shared))


def _setup_context(ctx, inputs, output):
    plan_id, slot, x, y, w, g, src, dst, num_nodes, w_shared = inputs
    ctx.plan_id, ctx.slot, ctx.num_nodes, ctx.w_shared = plan_id, slot, num_nodes, w_shared
    ctx.save_for_backward(x, y, w, g, src, dst)


def _backward(ctx, grad):
    x, y, w, g, src, dst = ctx.saved_tensors
    s = ctx.slot
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
