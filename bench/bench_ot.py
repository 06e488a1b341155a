"""Optimal transport: scalecore.ot against POT, side by side, same threads.

Cases (the speed lines of issue 6):

* ``ot_sinkhorn``  n = m = 5000, d = 32, eps = 0.05 x median cost, tol 1e-6:
  log-stable Sinkhorn against POT's ``sinkhorn_log`` and plain ``sinkhorn``.
* ``ot_emd``       exact OT at n = 2000 and 4000 against ``emd2``.
* ``ot_batch``     10,000 problems of 64 x 64: batched exact against an
  ``emd2`` loop (at each vector SIMD level, forced in turn), batched entropic
  against a ``sinkhorn2`` loop (the loops are timed on a subset; ratios are
  per problem).
* ``ot_emd_choice`` random-weight EMD at n = m = 16..256, successive shortest
  paths against the network simplex: the measurement behind emd's choice.
* ``ot_tiled``     n = m = 100,000, d = 32: tiled Sinkhorn (POT would need an
  80 GB matrix); reports the time and the peak memory.

Run with ``OPENBLAS_NUM_THREADS=1 python -m bench ot_sinkhorn ot_emd ot_batch ot_tiled``.
POT runs single-threaded; the harness reports per-CPU-second ratios too.
"""
from __future__ import annotations

import resource
import warnings

import numpy as np

from .harness import Pair, benchmark


def _clouds(rng, n, m, d, shift=0.5):
    return rng.standard_normal((n, d)), rng.standard_normal((m, d)) + shift


@benchmark("ot_sinkhorn", peer="POT", family="ot",
           description="log-stable Sinkhorn, n = m = 5000, d = 32, eps = 0.05 median cost, tol 1e-6")
def bench_sinkhorn(quick: bool):
    import ot

    import scalecore.ot as sot

    rng = np.random.default_rng(0)
    n = 1000 if quick else 5000
    x, y = _clouds(rng, n, n, 32)
    M = sot.cost_matrix(x, y)
    a = np.full(n, 1.0 / n)
    eps = 0.05 * float(np.median(M))
    tol = 1e-6
    ours = lambda: sot.sinkhorn(a, a, M, eps, tol=tol, n_threads=1)  # noqa: E731
    r = ours()
    c_log = ot.sinkhorn2(a, a, M, eps, method="sinkhorn_log", stopThr=tol)
    c_plain = ot.sinkhorn2(a, a, M, eps, stopThr=tol)
    extra = {"n": n, "eps": eps, "tol": tol, "ours_cost": float(r.cost), "ours_n_iter": int(r.n_iter),
             "pot_log_cost": float(c_log), "pot_plain_cost": float(c_plain),
             "rel_diff_log": abs(float(r.cost) - float(c_log)) / float(c_log)}
    return [
        Pair(label=f"sinkhorn {n}x{n} vs sinkhorn_log", ours=ours, ours_items=1,
             peer=lambda: ot.sinkhorn2(a, a, M, eps, method="sinkhorn_log", stopThr=tol), peer_items=1,
             peer_name="POT sinkhorn_log", unit="solves", repeat=1 if not quick else 3,
             note="the same iterates as POT (check_every=10): costs agree to rounding", extra=extra),
        Pair(label=f"sinkhorn {n}x{n} vs plain sinkhorn", ours=ours, ours_items=1,
             peer=lambda: ot.sinkhorn2(a, a, M, eps, stopThr=tol), peer_items=1, peer_name="POT sinkhorn",
             unit="solves", repeat=3, extra=extra),
    ]


@benchmark("ot_emd", peer="POT", family="ot", description="exact OT (network simplex), n = m = 2000 and 4000")
def bench_emd(quick: bool):
    import ot

    import scalecore.ot as sot

    pairs = []
    for n in ((500,) if quick else (2000, 4000)):
        rng = np.random.default_rng(n)
        x, y = _clouds(rng, n, n, 32)
        M = sot.cost_matrix(x, y)
        u = np.full(n, 1.0 / n)
        a = rng.random(n) + 0.1
        a /= a.sum()
        b = rng.random(n) + 0.1
        b /= b.sum()
        for kind, wa, wb in (("uniform", u, u), ("random weights", a, b)):
            r = sot.emd(wa, wb, M)
            c = ot.emd2(wa, wb, M, numItermax=10**9)
            note = ("uniform weights, n = m: assignment problem (Jonker-Volgenant)" if kind == "uniform"
                    else "network simplex")
            pairs.append(Pair(
                label=f"emd {n}x{n} ({kind})", ours=lambda wa=wa, wb=wb, M=M: sot.emd(wa, wb, M, n_threads=1),
                ours_items=1, peer=lambda wa=wa, wb=wb, M=M: ot.emd2(wa, wb, M, numItermax=10**9), peer_items=1,
                peer_name="POT emd2", unit="solves", repeat=3 if n <= 2000 else 2, note=note,
                extra={"n": n, "ours_cost": float(r.cost), "pot_cost": float(c),
                       "rel_diff": abs(float(r.cost) - float(c)) / float(c), "pivots": int(r.n_iter)}))
    return pairs


@benchmark("ot_batch", peer="POT", family="ot", description="10,000 problems of 64 x 64, batched vs a POT loop")
def bench_batch(quick: bool):
    import ot

    import scalecore.ot as sot

    rng = np.random.default_rng(0)
    B = 1000 if quick else 10000
    n, d = 64, 8
    X = rng.standard_normal((B, n, d))
    Y = rng.standard_normal((B, n, d))
    M = ((X[:, :, None, :] - Y[:, None, :, :]) ** 2).sum(-1)
    u = np.full(n, 1.0 / n)
    W = rng.random((B, n)) + 0.1
    W /= W.sum(1, keepdims=True)
    eps = 0.05 * np.median(M, axis=(1, 2))
    tol = 1e-6
    S_emd, S_sk = (100, 20) if quick else (500, 100)
    # The peers' subsets are spread over the whole batch (problems differ a
    # lot in difficulty; the first few are not representative).
    I_emd = np.linspace(0, B - 1, S_emd).astype(int)
    I_sk = np.linspace(0, B - 1, S_sk).astype(int)
    pairs = []
    # Exact, uniform weights (an assignment problem per pair) and random
    # weights (network simplex), at each vector level this machine has (the
    # widest last), each forced in turn against the same POT loop.
    import scalecore

    levels = [lv for lv in scalecore.simd_levels() if lv != "scalar"] or ["scalar"]

    def at(level, fn):
        def run():
            with scalecore.simd_level(level):
                return fn()
        return run

    ref_u = np.array([ot.emd2(u, u, M[i]) for i in I_emd])
    ref_w = np.array([ot.emd2(W[i], W[B - 1 - i], M[i]) for i in I_emd])
    for lv in levels:
        with scalecore.simd_level(lv):
            ru = sot.emd(u, u, M)
            rw = sot.emd(W, W[::-1], M)
        pairs.append(Pair(
            label=f"emd batch {B} x 64x64 (uniform, {lv})", ours=at(lv, lambda: sot.emd(u, u, M, n_threads=1)),
            ours_items=B, peer=lambda: [ot.emd2(u, u, M[i]) for i in I_emd], peer_items=S_emd,
            peer_name="POT emd2 loop", unit="problems", repeat=3,
            note=f"uniform weights with n = m: solved as assignment problems (Jonker-Volgenant); scalecore at "
                 f"SIMD level {lv} (forced); POT timed on {S_emd} problems spread over the batch",
            extra={"simd_forced": lv, "max_rel_diff": float(np.max(np.abs(ru.cost[I_emd] - ref_u) / ref_u))}))
        pairs.append(Pair(
            label=f"emd batch {B} x 64x64 (random weights, {lv})",
            ours=at(lv, lambda: sot.emd(W, W[::-1], M, n_threads=1)), ours_items=B,
            peer=lambda: [ot.emd2(W[i], W[B - 1 - i], M[i]) for i in I_emd], peer_items=S_emd,
            peer_name="POT emd2 loop", unit="problems", repeat=3,
            note=f"network simplex (emd's choice at every size, see ot_emd_choice); scalecore at SIMD level {lv} "
                 f"(forced); POT timed on {S_emd} problems spread over the batch",
            extra={"simd_forced": lv, "max_rel_diff": float(np.max(np.abs(rw.cost[I_emd] - ref_w) / ref_w))}))

    # Entropic: each problem stops on its own.
    def pot_loop():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [ot.sinkhorn2(u, u, M[i], eps[i], stopThr=tol) for i in I_sk]

    ref = np.array(pot_loop())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ra = sot.sinkhorn(u, u, M, eps, tol=tol, accelerate=True, check_every=1)
        rp = sot.sinkhorn(u, u, M, eps, tol=tol)
    conv = rp.status[I_sk] == "converged"

    def ours_acc():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sot.sinkhorn(u, u, M, eps, tol=tol, accelerate=True, check_every=1, n_threads=1)

    def ours_plain():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sot.sinkhorn(u, u, M, eps, tol=tol, n_threads=1)

    pairs.append(Pair(
        label=f"sinkhorn batch {B} x 64x64 (accelerated)", ours=ours_acc, ours_items=B, peer=pot_loop,
        peer_items=S_sk, peer_name="POT sinkhorn2 loop", unit="problems", repeat=3,
        note=f"adaptive over-relaxation, test every iteration; same eps and tol, each problem stops on its own; "
             f"POT timed on {S_sk} problems spread over the batch",
        extra={"mean_iter_ours": float(np.mean(ra.n_iter)), "converged_ours": float(np.mean(ra.success)),
               "max_rel_diff_vs_pot": float(np.max(np.abs(ra.cost[I_sk][conv] - ref[conv]) / ref[conv]))}))
    pairs.append(Pair(
        label=f"sinkhorn batch {B} x 64x64 (POT iterates)", ours=ours_plain, ours_items=B, peer=pot_loop,
        peer_items=S_sk, peer_name="POT sinkhorn2 loop", unit="problems", repeat=3,
        note=f"plain iterations, POT's stopping rule: the same iterates; POT timed on {S_sk} problems spread "
             f"over the batch",
        extra={"mean_iter_ours": float(np.mean(rp.n_iter)), "converged_ours": float(np.mean(rp.success)),
               "max_rel_diff_vs_pot": float(np.max(np.abs(rp.cost[I_sk][conv] - ref[conv]) / ref[conv]))}))
    return pairs


@benchmark("ot_emd_choice", peer="scalecore network simplex", family="ot",
           description="exact OT, random weights, n = m = 16..256: successive shortest paths vs network simplex")
def bench_emd_choice(quick: bool):
    """The measurement behind emd's automatic solver choice (emd.cc use_ssp):
    the same batch solved by successive shortest paths and by the network
    simplex, one thread, random weights (uniform n = m goes to the assignment
    solver either way)."""
    import scalecore.ot as sot

    pairs = []
    for n in ((16, 64, 128) if quick else (16, 32, 64, 96, 128, 192, 256)):
        rng = np.random.default_rng(n)
        B = max(8, (200_000 if quick else 2_000_000) // (n * n))
        X = rng.standard_normal((B, n, 8))
        Y = rng.standard_normal((B, n, 8))
        M = ((X[:, :, None, :] - Y[:, None, :, :]) ** 2).sum(-1)
        A = rng.random((B, n)) + 0.1
        A /= A.sum(1, keepdims=True)
        Bw = rng.random((B, n)) + 0.1
        Bw /= Bw.sum(1, keepdims=True)
        rs = sot.emd(A, Bw, M, solver="ssp")
        rn = sot.emd(A, Bw, M, solver="simplex")
        pairs.append(Pair(
            label=f"emd {B} x {n}x{n} (random weights): ssp vs simplex",
            ours=lambda A=A, Bw=Bw, M=M: sot.emd(A, Bw, M, solver="ssp", n_threads=1), ours_items=B,
            peer=lambda A=A, Bw=Bw, M=M: sot.emd(A, Bw, M, solver="simplex", n_threads=1), peer_items=B,
            peer_name="scalecore network simplex", unit="problems", repeat=3,
            note="ratio > 1: successive shortest paths faster (emd's automatic choice is the simplex)",
            extra={"n": n, "B": B, "max_rel_diff": float(np.max(np.abs(rs.cost - rn.cost) / rn.cost)),
                   "mean_augmentations": float(np.mean(rs.n_iter)), "mean_pivots": float(np.mean(rn.n_iter))}))
    return pairs


@benchmark("ot_tiled", peer="none", family="ot",
           description="tiled Sinkhorn, n = m = 100,000, d = 32 (O(n + m) memory)")
def bench_tiled(quick: bool):
    import scalecore.ot as sot

    rng = np.random.default_rng(0)
    n = 10000 if quick else 100000
    x = rng.standard_normal((n, 32)).astype(np.float32)
    y = (rng.standard_normal((n, 32)) + 0.5).astype(np.float32)
    i, j = rng.integers(0, n, (2, 20000))
    eps = 0.05 * float(np.median(((x[i] - y[j]) ** 2).sum(1)))
    state = {}

    def vm(key):
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1]) / 1024  # MiB
        except OSError:
            pass
        return float("nan")

    def reset_peak():
        # Linux: writing 5 to clear_refs resets VmHWM (the peak resident set).
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    def ours():
        state["r"] = sot.sinkhorn(None, None, eps=eps, x=x, y=y, tol=1e-6)
        return state["r"]

    extra = dict(n=n, d=32, eps=eps, dtype="float32", dense_matrix_gb=n * n * 8 / 1e9)
    pair = Pair(label=f"tiled sinkhorn {n}x{n} d=32", ours=ours, ours_items=1, unit="solves", repeat=1,
                warmup=False, note="eps = 0.05 x median cost (sampled pairs), tol 1e-6, float32", extra=extra)

    # The record is written after the run: fill in the solve's facts lazily.
    orig = pair.ours

    def run_and_record():
        ok = reset_peak()
        before = vm("VmRSS")
        out = orig()
        extra["n_iter"] = int(out.n_iter)
        extra["status"] = str(out.status)
        extra["cost"] = float(out.cost)
        extra["rss_before_mib"] = before
        extra["peak_rss_during_solve_mib"] = vm("VmHWM") if ok else float("nan")
        extra["peak_rss_process_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return out

    pair.ours = run_and_record
    return [pair]
