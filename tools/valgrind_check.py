"""Run a small call of each family under valgrind memcheck; fail on errors in scalecore's code.

    python tools/valgrind_check.py            # every family
    python tools/valgrind_check.py fit ot     # a selection

Each family's case runs in its own ``valgrind --tool=memcheck`` process
(``PYTHONMALLOC=malloc``, so that CPython's allocations are visible to
memcheck) with XML output.  An error counts as scalecore's when any frame of
its stack lies in the ``_core`` extension; the errors CPython itself reports
(its small-int cache and finalisation, known and harmless under memcheck) are
counted and listed separately but do not fail the run.  Leak checking is on
for definite leaks from scalecore's frames.

Valgrind 3.19 has no AVX-512: under it the CPUID it emulates stops at AVX2,
so scalecore's dispatch runs the AVX2 kernels (the case prints the level).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ET

CASES = {
    "fit": """
        x = np.geomspace(1, 100, 20); y = 3 * x**-0.5 + 0.01 * np.sin(np.arange(20)) + np.zeros((9, 20))
        r = sc.fit("power", x, y)
        N = np.geomspace(1e7, 1e9, 30); D = np.geomspace(1e9, 1e11, 30)
        yy = 1.7 + 400 * N**-0.34 + 410 * D**-0.28 + np.zeros((5, 30))
        r2 = sc.fit("chinchilla", {"N": N, "D": D}, yy.astype(np.float32))
        r3 = sc.fit("E + A * x**-alpha", x, y[:3], p0=[1, 2, 0.4], bounds=([0, 0, 0], [10, 10, 2]))
        bad = y.copy(); bad[2] = np.nan
        r4 = sc.fit("power", x, bad)
        out = [r.params, r2.params, r3.params, r4.status]
    """,
    "ot": """
        rng = np.random.default_rng(0)
        x = rng.standard_normal((37, 3)); z = rng.standard_normal((29, 3))
        a = rng.random(37); a /= a.sum(); b = rng.random(29); b /= b.sum()
        C = sc.ot.cost_matrix(x, z)
        e = sc.ot.emd(a, b, C)
        s = sc.ot.sinkhorn(a, b, C, eps=0.5, plan=True)
        t = sc.ot.sinkhorn(a, b, x=x.astype(np.float32), y=z.astype(np.float32), eps=0.5)
        B = sc.ot.emd(np.full((4, 16), 1 / 16), np.full((4, 16), 1 / 16), rng.random((4, 16, 16)))
        o = sc.ot.emd_1d(rng.random(50), rng.random(40))
        out = [C, e.cost, s.cost, t.cost, B.cost, o.cost]
    """,
    "tp": """
        rng = np.random.default_rng(0)
        v = rng.standard_normal((23, 3))
        Y = sc.tp.spherical_harmonics([0, 1, 2, 3], v, True)
        dY = sc.tp.spherical_harmonics_derivatives([0, 1, 2, 3], v, True, order=2)
        C = sc.tp.wigner_3j(2, 3, 4)
        p = sc.tp.TensorProductPlan("4x0e+4x1o+2x2e", "0e+1o+2e", "4x0e+4x1o+2x2e",
                                    [(0, 0, 0, "uvw", True), (1, 1, 0, "uvw", True), (1, 0, 1, "uvw", True),
                                     (2, 2, 0, "uvw", True), (0, 1, 1, "uvw", True), (2, 1, 1, "uvw", True)])
        n = 11
        x1 = rng.standard_normal((n, p.dims[0])); x2 = rng.standard_normal((n, p.dims[1]))
        w = rng.standard_normal(p.weight_numel)
        o = p.contract("out", x1, x2, w, None, weight_shared=True, n=n)
        g = p.contract("x", None, x2, w, o, weight_shared=True, n=n)
        gw = p.contract("weight", x1, x2, None, o, weight_shared=True, n=n)
        G = sc.tp.gaunt_tensor_product(rng.standard_normal((7, 9)), rng.standard_normal((7, 9)), np.ones(5), 2, 2, 4)
        out = [Y, C, o, g, gw, G]
    """,
    "lowbit": """
        rng = np.random.default_rng(0)
        x = (rng.standard_normal(1000) * 30).astype(np.float32); x[:4] = [np.nan, np.inf, -np.inf, 1e-40]
        c = sc.lowbit.encode(x, "float8_e4m3fn", saturate=True); d = sc.lowbit.decode(c, "float8_e4m3fn")
        sr = sc.lowbit.encode(x, "float4_e2m1fn", saturate=True, rounding="stochastic", seed=3)
        W = rng.standard_normal((48, 256)).astype(np.float32)
        q = [sc.lowbit.quantize(W, f).dequantize() for f in ("mxfp4", "nvfp4", "mxfp8_e4m3", "mxfp6_e2m3")]
        qi = sc.lowbit.quantize(W, "int4", group_size=64).dequantize()
        h = sc.lowbit.hadamard(W, block=64, seed=1)
        X = rng.standard_normal((5, 256)).astype(np.float32)
        ys = [sc.lowbit.PackedLinear(W, f, act=a)(X) for f, a in (("int4", "float32"), ("int4", "int8"),
                                                                   ("int8", "int8"), ("mxfp4", "float32"))]
        ys.append(sc.lowbit.PackedLinear(W, "int4", act="float32")(rng.standard_normal((37, 256)).astype(np.float32)))
        out = [c, d, sr, qi, h] + q + ys
    """,
}

PRELUDE = """
import numpy as np
import scalecore as sc
print("simd level:", sc.build_info()["simd_level"], flush=True)
print("core:", sc._core.__file__, flush=True)
"""


def _is_core(obj: str) -> bool:
    return "scalecore/_core" in obj or "/_core.cpython" in obj


def _ours(err: ET.Element) -> bool:
    return any(_is_core(frame.findtext("obj") or "") for frame in err.iter("frame"))


def _where(err: ET.Element) -> str:
    for frame in err.iter("frame"):
        fn, f, line = frame.findtext("fn"), frame.findtext("file"), frame.findtext("line")
        if fn:
            return f"{fn} ({f}:{line})" if f else fn
    return "?"


def run(name: str) -> tuple[int, int, float]:
    code = PRELUDE + textwrap.dedent(CASES[name])
    with tempfile.TemporaryDirectory() as d:
        xml = os.path.join(d, "vg.xml")
        env = dict(os.environ, PYTHONMALLOC="malloc", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        if env.get("SCALECORE_SIMD") == "avx512":  # valgrind cannot run it
            env.pop("SCALECORE_SIMD")
        t0 = time.perf_counter()
        p = subprocess.run(["valgrind", "--tool=memcheck", "--xml=yes", f"--xml-file={xml}", "--leak-check=full",
                            "--show-leak-kinds=definite", "--num-callers=40", sys.executable, "-c", code],
                           capture_output=True, text=True, env=env)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            print(p.stdout, p.stderr, sep="\n")
            raise SystemExit(f"{name}: the case failed under valgrind (exit {p.returncode})")
        level = next((ln for ln in p.stdout.splitlines() if ln.startswith("simd level")), "?")
        core = next((ln[6:] for ln in p.stdout.splitlines() if ln.startswith("core: ")), "")
        if not _is_core(core):  # the attribution below would never see scalecore's frames
            raise SystemExit(f"{name}: the extension {core!r} does not match the frame filter")
        errors = ET.parse(xml).getroot().findall("error")
    ours = [e for e in errors if _ours(e)]
    print(f"{name:7s} {level}: {len(ours)} error(s) in scalecore, {len(errors) - len(ours)} elsewhere "
          f"(CPython/numpy), {dt:.0f} s")
    for e in ours:
        print(f"   {e.findtext('kind')}: {e.findtext('what') or e.findtext('xwhat/text')} at {_where(e)}")
    return len(ours), len(errors) - len(ours), dt


def main(argv: list[str]) -> int:
    if subprocess.run(["which", "valgrind"], capture_output=True).returncode != 0:
        print("valgrind is not installed (Debian: apt-get install valgrind)")
        return 2
    names = argv or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print(f"unknown case(s) {unknown}; known: {list(CASES)}")
        return 2
    total = sum(run(n)[0] for n in names)
    print(f"valgrind memcheck: {total} error(s) in scalecore over {len(names)} families")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
