"""Peak memory of the large calls, against the formulas in docs/memory.md.

Each case runs in a fresh interpreter: the inputs are built, the resident set
is read, the peak counter is reset (``/proc/self/clear_refs``), the call runs
once, and the growth of the peak (``VmHWM``) is compared with the documented
bounds.  glibc's mmap threshold is pinned (``MALLOC_MMAP_THRESHOLD_``) so that
freed input temporaries go back to the OS and cannot hide the call's own
allocations.  Lower bounds (the result itself) show that the measurement saw
the call; upper bounds show that nothing larger than documented was
allocated, e.g. no hidden n x m buffer.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import scalecore

MIB = 2**20
# Thread-pool stacks touched on first use, allocator granularity, small
# per-call tables: the constant every formula carries.
SLACK = 8 * MIB

pytestmark = [
    pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"),
                       reason="needs Linux /proc/self/clear_refs to reset the peak counter"),
    pytest.mark.skipif("address" in scalecore.build_info()["sanitize"], reason="memory measurements mean nothing under ASan (its quarantine and redzones keep freed memory by design); they run in the plain build"),
]

PRELUDE = """
import gc, json, sys
import numpy as np
import scalecore as sc

def _status(key):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024

rng = np.random.default_rng(0)
"""

MEASURE = """
gc.collect()
base = _status('VmRSS')
with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')
result = call()
peak = _status('VmHWM') - base
print(json.dumps({"peak": peak}))
"""


def measure(setup: str) -> int:
    code = PRELUDE + textwrap.dedent(setup) + MEASURE
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])["peak"]


def check(peak: int, low: int, high: int) -> None:
    assert low <= peak <= high + SLACK, (
        f"peak {peak / MIB:.1f} MiB outside [{low / MIB:.1f}, {high / MIB:.1f} + {SLACK / MIB:.0f}] MiB")


# --- fitting ---------------------------------------------------------------

@pytest.mark.parametrize("dtype,covariance", [("float64", True), ("float64", False), ("float32", True)])
def test_fit_peak(dtype, covariance):
    B, M, P = 200_000, 100, 5  # chinchilla
    peak = measure(f"""
        B, M = {B}, {M}
        N = np.geomspace(1e7, 1e9, M).astype(np.{dtype}); D = np.geomspace(1e9, 1e11, M).astype(np.{dtype})
        y = (1.7 + 400 * N**-0.34 + 410 * D**-0.28 + 0.01 * rng.standard_normal((B, M))).astype(np.{dtype})
        call = lambda: sc.fit("chinchilla", {{"N": N, "D": D}}, y, covariance={covariance})
    """)
    s = 8 if dtype == "float64" else 4
    # The result (docs/memory.md): params, cost and, with covariance, stderr
    # and the (B, P, P) covariance, in the fit's dtype; status (<U10: 40),
    # status_code, success (1 each), n_iter, nfev, n_points (4 each).  With
    # one start the solver's own arrays are the result, so the only transient
    # is a few boolean masks while it is assembled: 16 bytes per problem.
    per = s * P + s + 40 + 1 + 1 + 4 + 4 + 4
    if covariance:
        per += s * P + s * P * P
    result = B * per
    check(peak, result, result + 16 * B)


# --- optimal transport -----------------------------------------------------

@pytest.mark.parametrize("dtype,s", [("float64", 8), ("float32", 4)])
def test_cost_matrix_peak(dtype, s):
    n, m, d = 3000, 2500, 16
    peak = measure(f"""
        x = rng.standard_normal(({n}, {d})).astype(np.{dtype}); y = rng.standard_normal(({m}, {d})).astype(np.{dtype})
        call = lambda: sc.ot.cost_matrix(x, y)
    """)
    # The (n, m) result, and the centred copies, norms and packed panels of
    # x and y (m rounded up to a panel of 64).
    check(peak, n * m * s, n * m * s + 2 * (n + m + 64) * (d + 1) * s)


@pytest.mark.parametrize("kernel,k", [("float32", 4), ("float64", 8)])
def test_sinkhorn_dense_peak(kernel, k):
    n = m = 3000
    peak = measure(f"""
        C = sc.ot.cost_matrix(rng.standard_normal(({n}, 4)), rng.standard_normal(({m}, 4)))
        a = np.full({n}, 1 / {n}); b = np.full({m}, 1 / {m})
        call = lambda: sc.ot.sinkhorn(a, b, C, eps=0.5, kernel="{kernel}")
    """)
    # The stored Gibbs kernel (n, m) of `kernel`, plus O(n + m) vectors.
    check(peak, n * m * k, n * m * k + 64 * (n + m) * 8)


def test_sinkhorn_dense_plan_peak():
    n = m = 3000
    peak = measure(f"""
        C = sc.ot.cost_matrix(rng.standard_normal(({n}, 4)), rng.standard_normal(({m}, 4)))
        a = np.full({n}, 1 / {n}); b = np.full({m}, 1 / {m})
        call = lambda: sc.ot.sinkhorn(a, b, C, eps=0.5, kernel="float32", plan=True)
    """)
    # The float32 kernel and the float64 (n, m) plan.
    check(peak, n * m * (4 + 8), n * m * (4 + 8) + 64 * (n + m) * 8)


def test_sinkhorn_tiled_peak():
    n = m = 20_000  # a dense kernel would be 1.6 GB
    d = 8
    peak = measure(f"""
        x = rng.standard_normal(({n}, {d})); y = rng.standard_normal(({m}, {d}))
        call = lambda: sc.ot.sinkhorn(None, None, x=x, y=y, eps=2.0, max_iter=20, n_threads=2)
    """)
    # Never n x m: per thread a block of rb = clamp(16 MiB / (max(n, m) s), 6,
    # 48) rows of costs (here 48 rows of 20,000), and the prepared (centred,
    # packed) points of x and y for both directions.
    T, s = 2, 8
    rb = max(6, min(48, (16 * MIB) // (max(n, m) * s)))
    check(peak, 0, T * rb * max(n, m) * s + 4 * (n + m) * (d + 2) * s)


def test_emd_peak():
    n = m = 2000
    peak = measure(f"""
        C = sc.ot.cost_matrix(rng.standard_normal(({n}, 4)), rng.standard_normal(({m}, 4)))
        a = rng.random({n}); a /= a.sum(); b = rng.random({m}); b /= b.sum()
        call = lambda: sc.ot.emd(a, b, C)
    """)
    # The network simplex works on M in place (float64, no zero weights) and
    # keeps 12 bytes per cell: Vogel's start sorts each row's and each
    # column's cells into uint32 keys (8 bytes), and the candidate pricing
    # reads a float32 copy of the costs (4 bytes).  Plus O(n + m): the tree,
    # the potentials and the sparse plan (at most n + m - 1 entries).
    check(peak, 12 * n * m, 12 * n * m + 512 * (n + m))


def test_emd_points_peak():
    n = m = 2000
    peak = measure(f"""
        x = rng.standard_normal(({n}, 4)); y = rng.standard_normal(({m}, 4))
        a = rng.random({n}); a /= a.sum(); b = rng.random({m}); b /= b.sum()
        call = lambda: sc.ot.emd(a, b, x=x, y=y)
    """)
    # From points: the float64 cost matrix (8 bytes per cell), built for the
    # solve and freed, and the simplex's 12 bytes per cell as above.
    check(peak, 20 * n * m, 20 * n * m + 512 * (n + m) + 2 * (n + m + 64) * 5 * 8)


# --- low-bit ---------------------------------------------------------------

@pytest.mark.parametrize("act,per_x", [("float32", 0), ("int8", 1), ("bfloat16", 4)])
def test_packed_linear_peak(act, per_x):
    M, K, N = 512, 4096, 4096
    peak = measure(f"""
        layer = sc.lowbit.PackedLinear(rng.standard_normal(({N}, {K})).astype(np.float32), "int4", group_size=128,
                                       act="{act}")
        x = rng.standard_normal(({M}, {K})).astype(np.float32)
        call = lambda: layer(x)
    """)
    # The float32 (M, N) output, plus the activations converted once per call:
    # int8 codes (1 byte) or bf16-rounded float32 (4 bytes) per element, and a
    # scale per row.  The weights are streamed from their packed form.
    out = M * N * 4
    check(peak, out, out + M * K * per_x + 8 * M)


@pytest.mark.parametrize("fmt,scale_bytes", [("mxfp4", 1 / 32), ("nvfp4", 4 / 16)])
def test_quantize_peak(fmt, scale_bytes):
    R = C = 4096
    peak = measure(f"""
        w = rng.standard_normal(({R}, {C})).astype(np.float32)
        call = lambda: sc.lowbit.quantize(w, "{fmt}")
    """)
    # Two E2M1 codes per byte and the block scales.
    codes = R * C // 2
    check(peak, codes, codes + int(R * C * scale_bytes) + R * C // 16)
