"""The speed-up of each SIMD level over the one below it, per kernel.

Every kernel runs the same work at each level this machine supports, forced
with ``scalecore.simd_level``, on one thread; each row is one level against
the level below it (scalar -> avx2 -> avx512), measured side by side in the
same run.  Levels without a kernel of their own run the one below (the row
then reads ~1.0x, which is the honest figure)."""
from __future__ import annotations

import numpy as np

import scalecore

from .harness import Pair, benchmark


def _at(level, fn):
    def run():
        with scalecore.simd_level(level), scalecore.num_threads(1):
            return fn()

    return run


def _chinchilla(B, M, dtype, seed=3):
    rng = np.random.default_rng(seed)
    N = 10 ** rng.uniform(7, 10, (B, M))
    D = 10 ** rng.uniform(9, 12, (B, M))
    E, A, al, Bc, be = 1.7, 400.0, 0.34, 410.0, 0.28
    y = (E + A * N ** -al + Bc * D ** -be) * (1 + 0.01 * rng.standard_normal((B, M)))
    return {"N": N.astype(dtype), "D": D.astype(dtype)}, y.astype(dtype)


def _kernels(quick: bool):
    B = 4_000 if quick else 20_000
    x64, y64 = _chinchilla(B, 100, np.float64)
    x32, y32 = _chinchilla(B, 100, np.float32)
    rng = np.random.default_rng(1)
    gx = np.arange(20, dtype=np.float32)
    gp = np.array([10.0, 9.5, 2.0, 1.0]) * rng.uniform(0.95, 1.05, (B * 5, 4))
    gy = (gp[:, :1] * np.exp(-(gx - gp[:, 1:2]) ** 2 / (2 * gp[:, 2:3] ** 2)) + gp[:, 3:4]
          + 0.3 * rng.standard_normal((B * 5, 20))).astype(np.float32)
    gp0 = (gp * rng.uniform(0.9, 1.1, gp.shape)).astype(np.float32)
    n_vec = 1 << (20 if quick else 22)
    v64 = rng.uniform(-50, 50, n_vec)
    v32 = v64.astype(np.float32)
    pos32 = np.abs(v32) + 1e-3
    n_ot = 256 if quick else 512
    a = rng.random(n_ot)
    a /= a.sum()
    b = rng.random(n_ot)
    b /= b.sum()
    X = rng.standard_normal((n_ot, 16))
    Y = rng.standard_normal((n_ot, 16)) + 0.5
    M = scalecore.ot.cost_matrix(X, Y)
    B_emd = 200 if quick else 1000
    Xe = rng.standard_normal((B_emd, 64, 8))
    Ye = rng.standard_normal((B_emd, 64, 8))
    Me = ((Xe[:, :, None, :] - Ye[:, None, :, :]) ** 2).sum(-1)
    We = rng.random((B_emd, 64)) + 0.1
    We /= We.sum(1, keepdims=True)
    ue = np.full(64, 1.0 / 64)
    M32 = M.astype(np.float32)
    lb_rows = 1024 if quick else 4096
    W = rng.standard_normal((lb_rows, 4096)).astype(np.float32)
    core = scalecore._core
    from scalecore.lowbit import PackedLinear
    e4m3_codes = scalecore.lowbit.encode(v32, "float8_e4m3fn", saturate=True)
    lin_f32 = PackedLinear(W, "int4", group_size=128, act="float32")
    lin_w4a8 = PackedLinear(W, "int4", group_size=128, act="int8")
    lin_w8a8 = PackedLinear(W, "int8", group_size=128, act="int8")
    kernels = [
        ("fit chinchilla M=100 f64 (fits per lane)",
         lambda: scalecore.fit("chinchilla", x64, y64, covariance=False), B, "fits"),
        ("fit chinchilla M=100 f32 (fits per lane)",
         lambda: scalecore.fit("chinchilla", x32, y32, covariance=False), B, "fits"),
        ("fit gauss1d M=20 f32", lambda: scalecore.fit("gauss1d", gx, gy, p0=gp0, covariance=False), B * 5, "fits"),
        ("vec_exp f64", lambda: core._vec_math("exp", v64), n_vec, "values"),
        ("vec_exp f32", lambda: core._vec_math_f32("exp", v32), n_vec, "values"),
        ("vec_log f32", lambda: core._vec_math_f32("log", pos32), n_vec, "values"),
        (f"ot cost_matrix {n_ot}x{n_ot}x16 sqeuclidean", lambda: scalecore.ot.cost_matrix(X, Y), n_ot * n_ot,
         "entries"),
        (f"ot sinkhorn {n_ot}x{n_ot}, 100 iterations",
         lambda: scalecore.ot.sinkhorn(a, b, M, 0.05, max_iter=100, tol=1e-30), 100, "iterations"),
        (f"ot sinkhorn {n_ot}x{n_ot} float32, 100 iterations",
         lambda: scalecore.ot.sinkhorn(a, b, M32, 0.05, max_iter=100, tol=1e-30), 100, "iterations"),
        (f"ot sinkhorn {n_ot}x{n_ot} online (x, y), 20 iterations",
         lambda: scalecore.ot.sinkhorn(a, b, eps=0.05, x=X, y=Y, max_iter=20, tol=1e-30), 20, "iterations"),
        (f"ot emd batch {B_emd} x 64x64 (uniform)", lambda: scalecore.ot.emd(ue, ue, Me), B_emd, "problems"),
        (f"ot emd batch {B_emd} x 64x64 (random weights)", lambda: scalecore.ot.emd(We, We[::-1], Me), B_emd,
         "problems"),
        (f"lowbit encode float8_e4m3fn ({n_vec} values)",
         lambda: scalecore.lowbit.encode(v32, "float8_e4m3fn", saturate=True), n_vec, "values"),
        (f"lowbit quantize mxfp4 {lb_rows}x4096", lambda: scalecore.lowbit.quantize(W, "mxfp4"), W.size, "values"),
        (f"lowbit quantize nvfp4 {lb_rows}x4096", lambda: scalecore.lowbit.quantize(W, "nvfp4"), W.size, "values"),
        (f"lowbit decode float8_e4m3fn ({n_vec} values)",
         lambda: scalecore.lowbit.decode(e4m3_codes, "float8_e4m3fn"), n_vec, "values"),
        (f"lowbit W4A32 GEMV 1x{lb_rows}x4096 (int4, group 128)", lambda: lin_f32(W[:1]), lb_rows * 4096, "weights"),
        (f"lowbit W4A8 GEMV 1x{lb_rows}x4096", lambda: lin_w4a8(W[:1]), lb_rows * 4096, "weights"),
        (f"lowbit W8A8 GEMM 64x{lb_rows}x4096", lambda: lin_w8a8(W[:64]), 2 * 64 * lb_rows * 4096, "ops"),
        (f"lowbit W4A8 GEMM 64x{lb_rows}x4096", lambda: lin_w4a8(W[:64]), 2 * 64 * lb_rows * 4096, "ops"),
    ]
    return kernels


@benchmark("simd_levels", peer="the same kernel at the SIMD level below", family="common",
           description="per-kernel speed-up of each SIMD level over the one below it, 1 thread")
def simd_levels(quick: bool):
    import warnings

    levels = scalecore.simd_levels()
    pairs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kernels = _kernels(quick)
    for lo, hi in zip(levels[:-1], levels[1:]):
        for label, fn, n, unit in kernels:
            pairs.append(Pair(f"{label}: {hi} over {lo}", _at(hi, fn), n, _at(lo, fn), n, lo, unit=unit,
                              repeat=3, note=f"1 thread; {lo} and {hi} forced in turn"))
    return pairs
