"""The per-element math shared with the CUDA kernels (SC_HD functions of
sinkhorn_math.h and cost_math.h), tested on the CPU, and device="cuda"."""
from __future__ import annotations

import math

import numpy as np
import pytest

import scalecore.ot as sot
from scalecore import _core


def test_lse_merge(rng):
    for _ in range(200):
        xs = rng.standard_normal(rng.integers(1, 30)) * 50
        m, s = -math.inf, 0.0
        for v in xs:
            m, s = _core._ot_hd_lse_merge(m, s, float(v), 1.0)
        ref = np.logaddexp.reduce(xs)
        assert abs(m + math.log(s) - ref) < 1e-12 * (1 + abs(ref))
    assert _core._ot_hd_lse_merge(-math.inf, 0.0, 3.0, 2.0) == (3.0, 2.0)
    assert _core._ot_hd_lse_merge(1.0, 1.0, 0.0, 0.0) == (1.0, 1.0)  # empty pair


def test_potential_lambda_kl_scaling():
    eps, rho = 0.3, 2.0
    lam = _core._ot_hd_lambda(rho, eps)
    assert lam == rho / (rho + eps) and _core._ot_hd_lambda(math.inf, eps) == 1.0
    la, mx, sm, anc = math.log(0.2), 1.5, 3.0, -0.7
    L = mx + math.log(sm)
    assert math.isclose(_core._ot_hd_potential(la, mx, sm, eps, lam, anc),
                        lam * eps * (la - L) + (1 - lam) * eps * anc, rel_tol=1e-15)
    assert math.isclose(_core._ot_hd_kl(0.3, 0.5), 0.3 * math.log(0.6) - 0.3 + 0.5, rel_tol=1e-15)
    assert _core._ot_hd_kl(0.0, 0.5) == 0.5
    assert math.isclose(_core._ot_hd_log_scaling(la, 2.5, lam, 0.1), lam * (la - math.log(2.5)) + 0.1, rel_tol=1e-15)


def test_metric(rng):
    x, y = rng.standard_normal(5), rng.standard_normal(5)
    dot, nx, ny = float(x @ y), float(x @ x), float(y @ y)
    sq = float(((x - y) ** 2).sum())
    assert math.isclose(_core._ot_hd_metric(0, dot, nx, ny, 1.0), sq, rel_tol=1e-12)
    assert math.isclose(_core._ot_hd_metric(1, dot, nx, ny, 3.0), sq ** 1.5, rel_tol=1e-12)
    cos = 1 - dot / math.sqrt(nx * ny)
    assert math.isclose(_core._ot_hd_metric(2, dot, nx, ny, 1.0), cos, rel_tol=1e-12)
    assert _core._ot_hd_metric(2, 0.0, 0.0, ny, 1.0) == 1.0  # zero vector
    assert _core._ot_hd_metric(0, 1.0, 1.0, 1.0 - 1e-17, 1.0) == 0.0  # clamped at 0


def test_device_cuda_without_kernels(rng):
    try:
        from scalecore import _cuda  # noqa: F401
        has = hasattr(_cuda, "ot_sinkhorn_batch") and bool(_cuda.devices()[0])
    except ImportError:
        has = False
    M = sot.cost_matrix(rng.standard_normal((8, 2)), rng.standard_normal((9, 2)))
    if not has:
        with pytest.raises(RuntimeError, match="device='cuda'"):
            sot.sinkhorn(None, None, M, 0.5, device="cuda")
        return
    r = sot.sinkhorn(None, None, M, 0.5, device="cuda", tol=1e-9)
    c = sot.sinkhorn(None, None, M, 0.5, tol=1e-9)
    assert abs(r.cost - c.cost) < 1e-9 * c.cost
    with pytest.raises(ValueError, match="device"):
        sot.sinkhorn(None, None, M, 0.5, device="tpu")
