"""Gradients: weights (potentials) and positions (envelope), and the torch
autograd wrappers, against finite differences."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import scalecore.ot as sot
from scalecore.ot.torch import emd_loss, sinkhorn_loss

KW = dict(tol=1e-12, max_iter=100000)


def clouds(seed=0, n=24, m=19, d=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(m, d, generator=g, dtype=torch.float64) + 0.5
    a = torch.rand(n, generator=g, dtype=torch.float64) + 0.1
    return x, y, a / a.sum()


def fd(fun, t, idx, h=1e-6):
    tp, tm = t.detach().clone(), t.detach().clone()
    tp.view(-1)[idx] += h
    tm.view(-1)[idx] -= h
    return (fun(tp) - fun(tm)).item() / (2 * h)


@pytest.mark.parametrize("tiled", [False, True])
@pytest.mark.parametrize("debias", [False, True])
def test_sinkhorn_loss_gradients(tiled, debias):
    x, y, a = clouds()
    x.requires_grad_()
    a.requires_grad_()
    L = sinkhorn_loss(x, y, a, eps=0.4, debias=debias, tiled=tiled, **KW)
    gx, ga = torch.autograd.grad(L, [x, a])
    for idx in (0, 7, 40):
        num = fd(lambda t: sinkhorn_loss(t, y, a.detach(), eps=0.4, debias=debias, tiled=tiled, **KW), x, idx)
        assert abs(gx.view(-1)[idx].item() - num) < 1e-6 * (1 + abs(num))
    # Weights: the gradient along the simplex (directions e_i - e_j).
    for i, j in ((0, 1), (5, 17)):
        d = torch.zeros_like(a)
        d[i], d[j] = 1, -1
        h = 1e-6
        lp = sinkhorn_loss(x.detach(), y, a.detach() + h * d, eps=0.4, debias=debias, tiled=tiled, **KW)
        lm = sinkhorn_loss(x.detach(), y, a.detach() - h * d, eps=0.4, debias=debias, tiled=tiled, **KW)
        assert abs((ga @ d).item() - (lp - lm).item() / (2 * h)) < 1e-6
    assert abs(ga.sum().item()) < 1e-10  # centred


@pytest.mark.parametrize("metric,p", [("euclidean", 1.0), ("euclidean", 3.0), ("cosine", 1.0)])
def test_other_metrics_and_float32(metric, p):
    x, y, a = clouds(1)
    x.requires_grad_()
    eps = 0.2 * float(np.median(sot.cost_matrix(x.detach().numpy(), y.numpy(), metric, p=p)))
    L = sinkhorn_loss(x, y, a, eps=eps, metric=metric, p=p, **KW)
    (gx,) = torch.autograd.grad(L, [x])
    num = fd(lambda t: sinkhorn_loss(t, y, a, eps=eps, metric=metric, p=p, **KW), x, 4)
    assert abs(gx.view(-1)[4].item() - num) < 1e-5 * (1 + abs(num))
    xf = x.detach().float().requires_grad_()
    Lf = sinkhorn_loss(xf, y.float(), a.float(), eps=eps, metric=metric, p=p, tol=1e-6)
    assert Lf.dtype == torch.float32 and abs(Lf.item() - L.item()) < 1e-3 * abs(L.item())


def test_zero_weight_gradient_is_finite():
    x, y, a = clouds(2)
    a = a.clone()
    a[3] = 0
    a = (a / a.sum()).requires_grad_()
    L = sinkhorn_loss(x, y, a, eps=0.4, debias=True, **KW)
    (ga,) = torch.autograd.grad(L, [a])
    assert torch.isfinite(ga).all()
    d = torch.zeros_like(a)
    d[3], d[0] = 1, -1
    h = 1e-7
    lp = sinkhorn_loss(x, y, a.detach() + h * d, eps=0.4, debias=True, **KW)  # one-sided: a_3 >= 0
    assert abs((ga @ d).item() - (lp - L).item() / h) < 1e-4


def test_emd_loss_gradients():
    x, y, a = clouds(3, n=15, m=15)
    x.requires_grad_()
    a.requires_grad_()
    L = emd_loss(x, y, a)
    gx, ga = torch.autograd.grad(L, [x, a])
    num = fd(lambda t: emd_loss(t, y, a.detach()), x, 5, h=1e-7)
    assert abs(gx.view(-1)[5].item() - num) < 1e-5 * (1 + abs(num))
    d = torch.zeros_like(a)
    d[2], d[9] = 1, -1
    h = 1e-7
    lp, lm = emd_loss(x.detach(), y, a.detach() + h * d), emd_loss(x.detach(), y, a.detach() - h * d)
    assert abs((ga @ d).item() - (lp - lm).item() / (2 * h)) < 1e-5


def test_result_gradients_match_finite_differences(rng):
    # grad_a of SinkhornResult (KL-reference objective) and EmdResult.
    x, y = rng.standard_normal((20, 2)), rng.standard_normal((18, 2))
    M = sot.cost_matrix(x, y)
    a = rng.random(20) + 0.1
    a /= a.sum()
    b = np.full(18, 1 / 18)
    eps = 0.3

    def val(w):
        r = sot.sinkhorn(w, b, M, eps, **KW)
        return r.objective - eps * (w @ np.log(w) + b @ np.log(b))  # OT^KL

    r = sot.sinkhorn(a, b, M, eps, **KW)
    d = np.zeros(20)
    d[4], d[11] = 1, -1
    h = 1e-6
    assert abs(r.grad_a @ d - (val(a + h * d) - val(a - h * d)) / (2 * h)) < 1e-6
    e = sot.emd(a, b, M)
    h = 1e-8
    assert abs(e.grad_a @ d - (sot.emd(a + h * d, b, M).cost - sot.emd(a - h * d, b, M).cost) / (2 * h)) < 1e-5


def test_torch_input_errors():
    x, y, _ = clouds()
    with pytest.raises(TypeError, match="x: expected a torch.Tensor"):
        sinkhorn_loss(x.numpy(), y, eps=0.1)
    with pytest.raises(ValueError, match="tiled"):
        sinkhorn_loss(x, y, eps=0.1, metric="cosine", tiled=True)
