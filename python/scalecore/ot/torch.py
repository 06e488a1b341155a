"""``torch.autograd.Function`` wrappers: OT losses between point clouds with
gradients with respect to the positions and the weights.

Gradients come from the optimality conditions, not from unrolling the solver:

* positions (envelope theorem): :math:`\\partial L/\\partial x_i =
  \\sum_j P_{ij}\\,\\nabla_x c(x_i, y_j)` at the optimal plan P;
* weights: the dual potentials, centred (the loss is defined on the simplex,
  so its gradient is defined up to a constant).

Dense problems evaluate :math:`\\langle P, C(x, y)\\rangle` once more in torch
with P fixed, so any metric works; the tiled mode (``tiled=True`` or large
inputs) supports the squared Euclidean cost, whose gradient
:math:`2(r_i x_i - \\sum_j P_{ij} y_j)` is formed in C++ in O(n + m) memory.
Tensors must be on the CPU (float32 or float64).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

try:
    import torch
except ImportError as e:  # pragma: no cover - torch is optional
    raise ImportError("scalecore.ot.torch needs PyTorch (pip install torch)") from e

from ._cost import cost_matrix
from ._emd import emd
from ._sinkhorn import _DENSE_LIMIT, _run

__all__ = ["sinkhorn_loss", "emd_loss", "torch_cost"]


def torch_cost(x: "torch.Tensor", y: "torch.Tensor", metric: str = "sqeuclidean", p: float = 1.0) -> "torch.Tensor":
    """The ground cost in torch (differentiable), same definitions as
    :func:`scalecore.ot.cost_matrix`."""
    if metric == "sqeuclidean":
        d = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    elif metric == "euclidean":
        d = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1).clamp_min(0).sqrt()
    elif metric == "cosine":
        nx = x.norm(dim=1, keepdim=True)
        ny = y.norm(dim=1, keepdim=True)
        d = 1 - (x @ y.T) / (nx * ny.T).clamp_min(1e-300)
    else:
        raise ValueError(f"metric: expected 'sqeuclidean', 'euclidean' or 'cosine', got {metric!r}")
    return d if p == 1 else d.clamp_min(0) ** p


def _np(t: Any) -> Optional[np.ndarray]:
    if t is None:
        return None
    return t.detach().cpu().numpy()


def _weights(w: Any, n: int, like: "torch.Tensor") -> "torch.Tensor":
    if w is None:
        return torch.full((n,), 1.0 / n, dtype=like.dtype)
    return w


def _check(x: "torch.Tensor", name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.device.type != "cpu":
        raise TypeError(f"{name}: expected a CPU tensor, got one on {x.device}")
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (points, features) tensor, got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name}: the set is empty (0 points); OT needs at least one point on each side")
    if x.is_floating_point() and not bool(torch.isfinite(x.detach()).all()):
        raise ValueError(f"{name}: positions must be finite, found NaN or Inf")


class _Loss(torch.autograd.Function):
    """Forward solves the OT problem(s) in scalecore; backward returns the
    gradients formed in forward (scaled by the incoming gradient)."""

    @staticmethod
    def forward(ctx, x, y, a, b, spec):  # noqa: D401
        value, gx, gy, ga, gb = spec(x, y, a, b, ctx.needs_input_grad)
        ctx.save_for_backward(gx, gy, ga, gb)
        return torch.as_tensor(value, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        gx, gy, ga, gb = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (grad * gx if need[0] else None, grad * gy if need[1] else None,
                grad * ga if need[2] else None, grad * gb if need[3] else None, None)


def _position_grads(plans, pts, metric, p, need_x, need_y):
    """d/dx, d/dy of sum_k s_k <P_k, C(u_k, v_k)> with the plans fixed (torch)."""
    x, y = pts
    with torch.enable_grad():
        xv = x.detach().clone().requires_grad_(need_x)
        yv = y.detach().clone().requires_grad_(need_y)
        total = 0
        for scale, P, first, second in plans:
            u = xv if first == "x" else yv
            v = xv if second == "x" else yv
            total = total + scale * (torch.as_tensor(P, dtype=x.dtype) * torch_cost(u, v, metric, p)).sum()
        wrt = [t for t, need in ((xv, need_x), (yv, need_y)) if need]
        grads = torch.autograd.grad(total, wrt) if wrt else ()
    it = iter(grads)
    gx = next(it) if need_x else torch.zeros_like(x)
    gy = next(it) if need_y else torch.zeros_like(y)
    return gx, gy


def sinkhorn_loss(
    x: "torch.Tensor",
    y: "torch.Tensor",
    a: Optional["torch.Tensor"] = None,
    b: Optional["torch.Tensor"] = None,
    *,
    eps: float,
    metric: str = "sqeuclidean",
    p: float = 1.0,
    debias: bool = False,
    tol: float = 1e-6,
    max_iter: int = 1000,
    tiled: Optional[bool] = None,
) -> "torch.Tensor":
    r"""Entropic OT loss between two weighted point clouds, differentiable in
    the positions and the weights.

    .. math::
        OT_\varepsilon(a, b) = \langle P, C\rangle + \varepsilon\,KL(P\,|\,a b^\top)
        = \langle a, \tilde f\rangle + \langle b, \tilde g\rangle

    (GeomLoss's convention: the product reference makes the weight gradients
    :math:`\tilde f, \tilde g` finite at zero weights).  With ``debias=True``
    the Sinkhorn divergence :math:`OT_\varepsilon(a, b) - \tfrac12
    OT_\varepsilon(a, a) - \tfrac12 OT_\varepsilon(b, b)`.

    Parameters
    ----------
    x : Tensor (n, d), y : Tensor (m, d)
    a, b : Tensor (n,), (m,) or None (uniform)
    eps : float
    metric, p : the ground cost (tiled: "sqeuclidean" with p = 1 only)
    tiled : bool, optional
        Default: tiled when n * m exceeds 25 million entries.

    Returns
    -------
    Tensor (scalar)
    """
    for t, nm in ((x, "x"), (y, "y")):
        _check(t, nm)
    n, m = x.shape[0], y.shape[0]
    if tiled is None:
        tiled = n * m > _DENSE_LIMIT
    if tiled and (metric != "sqeuclidean" or p != 1):
        raise ValueError("metric: the tiled mode's gradients are for the squared Euclidean cost (p = 1)")

    def solve(u, v, wu, wv, want_plan, sym=False):
        if tiled:
            return _run(wu, wv, None, u, v, eps, tol=tol, max_iter=max_iter, bary=True, mass=True, symmetric=sym,
                        what="sinkhorn_loss")
        M = cost_matrix(u, v, metric, p=p)
        if sym:
            M = 0.5 * (M + M.T)
        return _run(wu, wv, M, None, None, eps, tol=tol, max_iter=max_iter, plan=want_plan, mass=True,
                    symmetric=sym, what="sinkhorn_loss")

    def kl_value(r, wu, wv):
        # <P, C> + eps KL(P | wu wv^T) with the generalised KL.
        rm, cm = r._extra["row_mass"], r._extra["col_mass"]
        plogp = (r.objective - r.cost) / eps
        with np.errstate(divide="ignore", invalid="ignore"):
            la = np.where(rm > 0, rm * np.log(np.where(wu > 0, wu, 1)), 0.0).sum()
            lb = np.where(cm > 0, cm * np.log(np.where(wv > 0, wv, 1)), 0.0).sum()
        return r.cost + eps * (plogp - la - lb - r.mass + wu.sum() * wv.sum())

    def spec(xt, yt, at, bt, need):
        xn, yn = _np(xt), _np(yt)
        an = _np(_weights(at, n, xt)).astype(np.float64)
        bn = _np(_weights(bt, m, xt)).astype(np.float64)
        want_pos = bool(need[0] or need[1])
        runs = [("x", "y", 1.0, solve(xn, yn, an, bn, want_pos and not tiled), an, bn)]
        if debias:
            runs.append(("x", "x", -0.5, solve(xn, xn, an, an, want_pos and not tiled, True), an, an))
            runs.append(("y", "y", -0.5, solve(yn, yn, bn, bn, want_pos and not tiled, True), bn, bn))
        value = sum(s * kl_value(r, wu, wv) for _, _, s, r, wu, wv in runs)
        # Weight gradients: product-reference potentials (both arguments of
        # the symmetric terms depend on the same weights).
        ga = np.zeros(n)
        gb = np.zeros(m)
        for first, second, s, r, _, _ in runs:
            for side, pot in ((first, r.f_kl), (second, r.g_kl)):
                if side == "x":
                    ga += s * pot
                else:
                    gb += s * pot
        ga -= ga.mean()
        gb -= gb.mean()
        if not want_pos:
            gx, gy = torch.zeros_like(xt), torch.zeros_like(yt)
        elif tiled:
            gxn = np.zeros_like(xn, dtype=np.float64)
            gyn = np.zeros_like(yn, dtype=np.float64)
            for first, second, s, r, _, _ in runs:
                rm, cm = r._extra["row_mass"], r._extra["col_mass"]
                u = xn if first == "x" else yn
                v = xn if second == "x" else yn
                gu = 2 * (rm[:, None] * u - r._extra["bary_x"])
                gv = 2 * (cm[:, None] * v - r._extra["bary_y"])
                (gxn if first == "x" else gyn)[...] += s * gu
                (gxn if second == "x" else gyn)[...] += s * gv
            gx = torch.as_tensor(gxn, dtype=xt.dtype)
            gy = torch.as_tensor(gyn, dtype=yt.dtype)
        else:
            plans = [(s, r.plan, first, second) for first, second, s, r, _, _ in runs]
            gx, gy = _position_grads(plans, (xt, yt), metric, p, bool(need[0]), bool(need[1]))
        return (value, gx, gy, torch.as_tensor(ga, dtype=xt.dtype), torch.as_tensor(gb, dtype=xt.dtype))

    at = a if a is not None else torch.full((n,), 1.0 / n, dtype=x.dtype)
    bt = b if b is not None else torch.full((m,), 1.0 / m, dtype=x.dtype)
    return _Loss.apply(x, y, at, bt, spec)


def emd_loss(
    x: "torch.Tensor",
    y: "torch.Tensor",
    a: Optional["torch.Tensor"] = None,
    b: Optional["torch.Tensor"] = None,
    *,
    metric: str = "sqeuclidean",
    p: float = 1.0,
) -> "torch.Tensor":
    r"""Exact OT cost :math:`\min_P\langle P, C(x, y)\rangle`, differentiable in
    the positions (:math:`\sum_j P_{ij}\nabla_x c`, a subgradient where the
    optimal plan is not unique) and in the weights (centred duals f, g)."""
    for t, nm in ((x, "x"), (y, "y")):
        _check(t, nm)
    n, m = x.shape[0], y.shape[0]

    def spec(xt, yt, at, bt, need):
        xn, yn = _np(xt), _np(yt)
        an = _np(at).astype(np.float64)
        bn = _np(bt).astype(np.float64)
        r = emd(an, bn, cost_matrix(xn, yn, metric, p=p))
        ga = r.f - r.f.mean()
        gb = r.g - r.g.mean()
        if need[0] or need[1]:
            gx, gy = _position_grads([(1.0, r.plan.toarray(), "x", "y")], (xt, yt), metric, p, bool(need[0]),
                                     bool(need[1]))
        else:
            gx, gy = torch.zeros_like(xt), torch.zeros_like(yt)
        return r.cost, gx, gy, torch.as_tensor(ga, dtype=xt.dtype), torch.as_tensor(gb, dtype=xt.dtype)

    at = a if a is not None else torch.full((n,), 1.0 / n, dtype=x.dtype)
    bt = b if b is not None else torch.full((m,), 1.0 / m, dtype=x.dtype)
    return _Loss.apply(x, y, at, bt, spec)
