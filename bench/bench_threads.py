"""The GIL is released in long calls: two Python threads against one.

For each family's main entry point, the same two calls run (ours) in two
Python threads at once, with scalecore's pool at one thread (each call
then runs on its calling thread alone), and (peer) one after the other in one
thread.  The wall-time ratio is the speed-up that releasing the GIL gives:
up to 2x on two cores.  A call that held the GIL would show 1x.  Both
sides do the same items, so the ratio per wall-second is the speed-up; the
ratio per CPU-second stays near 1 (the same work).
"""
from __future__ import annotations

import threading

import numpy as np

from .harness import Pair, benchmark


def _two_threads(sc, fn):
    def run():
        with sc.num_threads(1):  # the pool is the caller alone: no parallelism but the threads'
            ts = [threading.Thread(target=fn) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
    return run


def _serial(sc, fn):
    def run():
        with sc.num_threads(1):
            fn()
            fn()
    return run


@benchmark("gil_threads", peer="the same two calls in one thread", family="common",
           description="two Python threads each calling a family's entry point (pool of 1), vs serial")
def bench_gil(quick: bool):
    import scalecore as sc

    rng = np.random.default_rng(0)
    s = 4 if quick else 1
    B, M = 40_000 // s, 60
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e10), (B, M)))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e12), (B, M)))
    y = (1.7 + 400 * N**-0.34 + 2000 * D**-0.28) * (1 + 0.02 * rng.standard_normal((B, M)))
    n = 1500 // s
    x1, x2 = rng.standard_normal((n, 8)), rng.standard_normal((n, 8)) + 0.2
    a = np.full(n, 1 / n)
    C = sc.ot.cost_matrix(x1, x2)
    v = rng.standard_normal((400_000 // s, 3))
    W = rng.standard_normal((2048, 2048)).astype(np.float32)
    layer = sc.lowbit.PackedLinear(W, "int4", group_size=128, act="int8")
    X = rng.standard_normal((64, 2048)).astype(np.float32)
    plan = sc.tp.TensorProductPlan("32x0e+32x1o+32x2e", "0e+1o+2e", "32x0e+32x1o+32x2e",
                                   [(i, j, k, "uvw", True) for i, l1 in enumerate((0, 1, 2))
                                    for j, l2 in enumerate((0, 1, 2)) for k, l3 in enumerate((0, 1, 2))
                                    if abs(l1 - l2) <= l3 <= l1 + l2 and (l1 + l2 + l3) % 2 == 0])
    nt = 4000 // s
    t1 = rng.standard_normal((nt, plan.dims[0])).astype(np.float32)
    t2 = rng.standard_normal((nt, plan.dims[1])).astype(np.float32)
    tw = rng.standard_normal(plan.weight_numel).astype(np.float32)

    calls = {
        "fit chinchilla B=%d M=%d" % (B, M): lambda: sc.fit("chinchilla", {"N": N, "D": D}, y),
        "ot emd %dx%d" % (n, n): lambda: sc.ot.emd(a, a, C),
        "ot sinkhorn %dx%d eps=0.05" % (n, n): lambda: sc.ot.sinkhorn(a, a, C, eps=0.05),
        "tp spherical harmonics l<=6, %d vectors" % len(v): lambda: sc.tp.spherical_harmonics(list(range(7)), v, True),
        "tp FCTP 32x(0e+1o+2e) x (0e+1o+2e), %d rows" % nt: lambda: plan.contract("out", t1, t2, tw, None, weight_shared=True, n=nt),
        "lowbit W4A8 GEMM 64x2048x2048": lambda: layer(X),
        "lowbit quantize mxfp4 2048x2048": lambda: sc.lowbit.quantize(W, "mxfp4"),
    }
    pairs = []
    for label, fn in calls.items():
        pairs.append(Pair(label, _two_threads(sc, fn), 2, _serial(sc, fn), 2, peer_name="serial, one thread",
                          unit="calls", repeat=5,
                          note="ours = 2 Python threads at once; ratio per wall-s = speed-up from the GIL release"))
    return pairs
