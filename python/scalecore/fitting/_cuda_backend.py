"""device="cuda": the CUDA kernels of the fitting engine (scalecore._cuda)."""
from __future__ import annotations

from typing import Any, Dict

import numpy as np


def _module():
    try:
        from .. import _cuda  # type: ignore[attr-defined]
    except ImportError as e:
        raise RuntimeError(
            "device='cuda': this build of scalecore has no CUDA kernels (built without nvcc or with "
            "SCALECORE_CUDA=OFF)"
        ) from e
    devs, err = _cuda.devices()
    if not devs:
        raise RuntimeError(f"device='cuda': no usable CUDA device ({err or 'none visible'})")
    return _cuda


def fit_batch_cuda(law, xs, y2, mk, sg, st, lo, hi, opts: Dict[str, Any]) -> Dict[str, Any]:
    """Runs the batch on the GPU.  Without starts, the law's heuristic starts
    are computed on the CPU first (the same ones the CPU path uses)."""
    cu = _module()
    from .. import _core

    if st is None:
        p0 = _core.default_starts(law._handle, xs, y2, mk, sg, lo, hi, opts["residual"])
        st = np.ascontiguousarray(p0[:, None, :])
    return cu.fit_batch(law._handle, xs, y2, mk, sg, st, lo, hi, opts["max_iter"], opts["xtol"], opts["ftol"],
                        opts["gtol"], opts["loss"], opts["f_scale"], opts["residual"], opts["geodesic"],
                        opts.get("center", True), opts.get("damping", 0), opts.get("factor", 100.0))
