"""device="cuda": the OT family's CUDA kernels (scalecore._cuda, registered by
bind_cuda_ot).  Balanced log-domain Sinkhorn only: batched dense problems
(one thread block per problem) and the tiled mode for one large problem."""
from __future__ import annotations

from typing import Any, Dict

import numpy as np


def _module():
    try:
        from .. import _cuda  # type: ignore[attr-defined]
    except ImportError as e:
        raise RuntimeError("device='cuda': this build of scalecore has no CUDA kernels (built without nvcc or "
                           "with SCALECORE_CUDA=OFF)") from e
    if not hasattr(_cuda, "ot_sinkhorn_batch"):
        raise RuntimeError("device='cuda': the CUDA extension was built without the OT kernels")
    devs, err = _cuda.devices()
    if not devs:
        raise RuntimeError(f"device='cuda': no usable CUDA device ({err or 'none visible'})")
    return _cuda


def sinkhorn_batch_cuda(M: np.ndarray, A: np.ndarray, Bw: np.ndarray, eps: np.ndarray, tol: float, max_iter: int,
                        check_every: int) -> Dict[str, Any]:
    cu = _module()
    return cu.ot_sinkhorn_batch(M, A, Bw, eps, tol, max_iter, check_every)


def sinkhorn_tiled_cuda(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray, eps: float, metric: int,
                        p: float, tol: float, max_iter: int, check_every: int) -> Dict[str, Any]:
    cu = _module()
    return cu.ot_sinkhorn_tiled(np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y, dtype=np.float32),
                                a, b, eps, metric, p, tol, max_iter, check_every)
