"""Low-bit quantization: scalecore.lowbit against numpy + ml_dtypes and memcpy.

Case ``lowbit_quantize`` (the speed line of issue 13): quantize a 4096 x 4096
float32 matrix (64 MiB) to MXFP4 and NVFP4 on 2 threads,

* against the same format written in numpy + ml_dtypes (the spec's rule,
  vectorised; goal >= 50x), and
* against a memory copy of the same 64 MiB (``np.copyto`` into a
  preallocated buffer; goal: within 2x of its time).

The outputs are checked bit-equal to the numpy versions before timing.
Run with ``python -m bench lowbit_quantize``.
"""
from __future__ import annotations

import numpy as np

from .harness import Pair, benchmark


def _numpy_mxfp4(x: np.ndarray):
    import ml_dtypes

    rows, K = x.shape
    b = x.reshape(rows, K // 32, 32)
    amax = np.max(np.abs(b), axis=-1)
    _, ex = np.frexp(np.where(amax == 0, np.float32(2.0**-126), amax))
    e = np.clip(ex - 1 - 2, -127, 127)
    v = np.clip(b * (2.0 ** (-e)).astype(np.float32)[..., None], -6, 6)
    c = v.astype(ml_dtypes.float4_e2m1fn).view(np.uint8).reshape(rows, K)
    return (c[:, 0::2] & 0xF) | (c[:, 1::2] << 4), (e + 127).astype(np.uint8)


def _numpy_nvfp4(x: np.ndarray):
    import ml_dtypes

    rows, K = x.shape
    st = np.max(np.abs(x)) / np.float32(2688.0)
    b = x.reshape(rows, K // 16, 16)
    sbs = np.clip((np.max(np.abs(b), axis=-1) / np.float32(6)) / st, np.float32(2.0**-6), np.float32(448))
    sc = sbs.astype(ml_dtypes.float8_e4m3fn)
    total = st * sc.astype(np.float32)
    v = np.clip(b / total[..., None], -6, 6)
    c = v.astype(ml_dtypes.float4_e2m1fn).view(np.uint8).reshape(rows, K)
    return (c[:, 0::2] & 0xF) | (c[:, 1::2] << 4), sc.view(np.uint8)


@benchmark("lowbit_quantize", peer="numpy + ml_dtypes, memcpy", family="lowbit",
           description="quantize 4096x4096 float32 to MXFP4 / NVFP4, 2 threads")
def bench_quantize(quick: bool):
    import scalecore
    from scalecore import lowbit

    n = 1024 if quick else 4096
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, n)).astype(np.float32)
    dst = np.empty_like(x)
    scalecore.set_num_threads(2)

    q = lowbit.quantize(x, "mxfp4")
    c, s = _numpy_mxfp4(x)
    mx_equal = bool(np.array_equal(q.codes, c) and np.array_equal(q.scales, s))
    q = lowbit.quantize(x, "nvfp4")
    c, s = _numpy_nvfp4(x)
    nv_equal = bool(np.array_equal(q.codes, c) and np.array_equal(q.scales, s))
    extra = {"shape": [n, n], "threads": 2, "bytes": int(x.nbytes), "mxfp4_bit_equal_numpy": mx_equal,
             "nvfp4_bit_equal_numpy": nv_equal}
    mx = lambda: lowbit.quantize(x, "mxfp4")  # noqa: E731
    nv = lambda: lowbit.quantize(x, "nvfp4")  # noqa: E731
    copy = lambda: np.copyto(dst, x)  # noqa: E731
    levels = []  # the widest level against the one below it, same run
    if len(scalecore.simd_levels()) >= 2:
        hi, lo = scalecore.simd_levels()[-1], scalecore.simd_levels()[-2]

        def at(level, fn):
            def run():
                with scalecore.simd_level(level):
                    return fn()
            return run

        for name, fn in (("mxfp4", mx), ("nvfp4", nv)):
            levels.append(Pair(label=f"{name} {n}x{n}: {hi} vs {lo}", ours=at(hi, fn), ours_items=1, peer=at(lo, fn),
                               peer_items=1, peer_name=f"scalecore at {lo}", unit="tensors", repeat=9,
                               note=f"2 threads; {hi} and {lo} forced in turn", extra=extra))
    return levels + [
        Pair(label=f"mxfp4 {n}x{n} vs numpy+ml_dtypes", ours=mx, ours_items=1, peer=lambda: _numpy_mxfp4(x),
             peer_items=1, peer_name="numpy+ml_dtypes", unit="tensors", repeat=5, extra=extra),
        Pair(label=f"nvfp4 {n}x{n} vs numpy+ml_dtypes", ours=nv, ours_items=1, peer=lambda: _numpy_nvfp4(x),
             peer_items=1, peer_name="numpy+ml_dtypes", unit="tensors", repeat=5, extra=extra),
        Pair(label=f"mxfp4 {n}x{n} vs memcpy of 64 MiB", ours=mx, ours_items=1, peer=copy, peer_items=1,
             peer_name="np.copyto", unit="tensors", repeat=9,
             note="ratio > 0.5 meets 'within 2x of a memory copy'", extra=extra),
        Pair(label=f"nvfp4 {n}x{n} vs memcpy of 64 MiB", ours=nv, ours_items=1, peer=copy, peer_items=1,
             peer_name="np.copyto", unit="tensors", repeat=9,
             note="two passes over the input (per-tensor amax, then blocks)", extra=extra),
    ]
