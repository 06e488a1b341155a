"""The SIMD ladder: detection, forcing, and every level against the reference.

The vectorised exp/log are compared with libm (the reference level) in ulps,
over the whole range, the specials and every tail length; the fit kernels at
every level and vectorisation mode are compared with the scalar level on
problems whose sizes are not multiples of any pack width.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import scalecore
from scalecore import _core, fitting

LEVELS = scalecore.simd_levels()
ALL_LEVELS = ("scalar", "avx2", "avx512")


def _cpu_flags():
    p = Path("/proc/cpuinfo")
    if not p.exists():
        return None
    for line in p.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def test_levels_follow_the_cpu():
    flags = _cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo")
    compiled = set(_core.simd_levels_compiled())
    want = ["scalar"]
    if {"avx2", "fma"} <= flags and "avx2" in compiled:
        want.append("avx2")
        if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags and "avx512" in compiled:
            want.append("avx512")
    assert LEVELS == want
    info = scalecore.build_info()
    assert info["simd_max"] == want[-1]          # detected
    assert info["simd_level"] in want            # active
    feats = set(info["cpu"]["features"])
    for f in ("avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"):
        assert (f in feats) == (f in flags), f
    assert ("avx512_vnni" in feats) == ("avx512_vnni" in flags)
    assert ("avx512_bf16" in feats) == ("avx512_bf16" in flags)


def test_default_is_the_best_level_unless_forced():
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "SCALECORE_SIMD"}
    out = subprocess.run([sys.executable, "-c", "import scalecore; print(scalecore.get_simd_level())"],
                         capture_output=True, text=True, env=env, check=True).stdout.split()[-1]
    assert out == LEVELS[-1]
    for lvl in LEVELS:
        env["SCALECORE_SIMD"] = lvl
        out = subprocess.run([sys.executable, "-c", "import scalecore; print(scalecore.get_simd_level())"],
                             capture_output=True, text=True, env=env, check=True).stdout.split()[-1]
        assert out == lvl


@pytest.mark.parametrize("lvl", [lv for lv in ALL_LEVELS if lv not in LEVELS] or ["none-missing"])
def test_forcing_a_missing_level_names_the_available_ones(lvl):
    if lvl == "none-missing":
        # Every level is present here; an unknown name exercises the same path.
        with pytest.raises(ValueError, match="expected one of 'scalar', 'avx2', 'avx512', 'auto'"):
            scalecore.set_simd_level("avx1024")
        return
    with pytest.raises(ValueError) as e:
        scalecore.set_simd_level(lvl)
    msg = str(e.value)
    assert lvl in msg and "this machine has" in msg
    for have in LEVELS:
        assert f"'{have}'" in msg


def test_simd_level_context_restores():
    before = scalecore.get_simd_level()
    for lvl in LEVELS:
        with scalecore.simd_level(lvl):
            assert scalecore.get_simd_level() == lvl
    assert scalecore.get_simd_level() == before


# ---------------------------------------------------------------------------
# exp / log against libm
# ---------------------------------------------------------------------------
def _ulps(a, b):
    """Distance in units in the last place (NaN == NaN, inf == inf, -0 == +0)."""
    a = np.asarray(a)
    b = np.asarray(b)
    it = np.int64 if a.dtype == np.float64 else np.int32

    def ordered(v):
        # Sign-magnitude bit patterns onto a monotone integer line.
        i = v.view(it).astype(np.int64)
        return np.where(i < 0, np.int64(np.iinfo(it).min) - i, i)

    ia, ib = ordered(a), ordered(b)
    cap = np.int64(1) << 61
    same = (ia >= 0) == (ib >= 0)
    d = np.where(same, np.abs(ia - ib), np.minimum(np.abs(ia), cap) + np.minimum(np.abs(ib), cap))
    return np.where(np.isnan(a) & np.isnan(b), 0, d)


def _inputs(dt, op):
    rng = np.random.default_rng(7)
    fi = np.finfo(dt)
    if op == "exp":
        hi = 709.9 if dt == np.float64 else 88.9
        lo = -745.5 if dt == np.float64 else -104.5
        x = np.concatenate([rng.uniform(lo, hi, 4000), rng.uniform(-1, 1, 1000), rng.uniform(-1e-6, 1e-6, 200),
                            np.linspace(lo - 1, hi + 1, 999)])
        edge = [0.0, -0.0, np.inf, -np.inf, np.nan, hi, lo, 708.0, -708.0, 709.78, 709.79, -745.13, -745.14,
                88.72, 88.73, -87.3, -103.97, -103.98, 1e-300, -1e-300, fi.max, -fi.max]
    else:
        x = np.concatenate([np.exp(rng.uniform(np.log(fi.tiny), np.log(fi.max), 4000)),
                            rng.uniform(0.5, 2.0, 1000), 1 + rng.uniform(-1e-6, 1e-6, 200),
                            rng.uniform(0, fi.tiny, 200)])  # subnormals
        edge = [0.0, -0.0, -1.0, np.inf, -np.inf, np.nan, fi.tiny, fi.smallest_subnormal, fi.max, 1.0,
                np.sqrt(2.0), np.sqrt(2.0) * (1 + fi.eps), 1 - fi.epsneg]
    with np.errstate(over="ignore"):
        return np.concatenate([np.asarray(edge, dtype=np.float64), x]).astype(dt)


@pytest.mark.parametrize("lvl", LEVELS)
@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("op", ["exp", "log"])
def test_vec_math_within_2_ulp_of_libm(lvl, dt, op):
    fn = _core._vec_math if dt == np.float64 else _core._vec_math_f32
    x = _inputs(dt, op)
    with np.errstate(all="ignore"):
        ref = fn(op + "_ref", x)
    with scalecore.simd_level(lvl):
        got = fn(op, x)
    assert got.dtype == dt
    d = _ulps(got, ref)
    bad = np.flatnonzero(d > 2)
    assert bad.size == 0, [(float(x[i]), float(got[i]), float(ref[i]), int(d[i])) for i in bad[:5]]
    # Tails: every length up to two of the widest packs, and the values must
    # not depend on where an element sits in its pack.
    with scalecore.simd_level(lvl):
        for n in range(1, 34):
            part = fn(op, x[:n])
            np.testing.assert_array_equal(part, got[:n])
            off = fn(op, x[3:3 + n])
            np.testing.assert_array_equal(off, got[3:3 + n])


# ---------------------------------------------------------------------------
# Fit kernels: every level and mode against the scalar level
# ---------------------------------------------------------------------------
def _chinchilla_batch(B, M, dt, seed=3):
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e10), (B, M)))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e12), (B, M)))
    p = np.array([1.7, 400, 0.34, 410, 0.28]) * rng.uniform(0.7, 1.3, (B, 5))
    y = p[:, :1] + p[:, 1:2] / N ** p[:, 2:3] + p[:, 3:4] / D ** p[:, 4:5]
    y = y * (1 + 0.01 * rng.standard_normal((B, M)))
    return {"N": N.astype(dt), "D": D.astype(dt)}, y.astype(dt)


CASES = [("chinchilla", None), ("E + A*N**(-alpha) + B*D**(-beta)", [1.5, 300.0, 0.3, 300.0, 0.3])]


@pytest.mark.parametrize("law,p0", CASES, ids=["builtin", "expression"])
@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_fit_levels_and_modes_match_scalar(law, p0, dt):
    # B = 45 and M = 37 are not multiples of any pack width (4, 8, 16): lane
    # refills, the last partial set of lanes and the padded points are all hit.
    x, y = _chinchilla_batch(45, 37, dt)
    kw = dict(p0=p0, covariance=True)
    if p0 is not None:
        kw["bounds"] = ([0, 0, 0, 0, 0], [np.inf] * 5)
    with scalecore.simd_level("scalar"):
        ref = fitting.fit(law, x, y, **kw)
    assert ref.info["level"] == "scalar"
    assert ref.success.mean() > 0.9
    # Equal costs up to the rounding of a sum of 37 squares: float64 1e-10,
    # float32 1e-4 (37 points x a few ulp of 1.2e-7, plus the stopping
    # point, which moves within the flat minimum by rounding).
    rtol = 1e-10 if dt == np.float64 else 1e-4
    for lvl in LEVELS[1:]:
        for vec in ("fits", "points"):
            with scalecore.simd_level(lvl):
                got = fitting.fit(law, x, y, vectorize=vec, **kw)
            assert got.info["level"] == lvl and got.info["vectorize"] == vec
            ok = ref.success & got.success
            assert ok.mean() > 0.9, (lvl, vec)
            np.testing.assert_allclose(got.cost[ok], ref.cost[ok], rtol=rtol, err_msg=f"{lvl} {vec}")
            # Same optimum: parameters to the conditioning of the problem.
            se = ref.stderr[ok]
            fin = np.isfinite(se).all(axis=1)
            dp = np.abs(got.params[ok][fin] - ref.params[ok][fin]) / np.maximum(se[fin], 1e-300)
            assert np.median(dp) < (1e-3 if dt == np.float64 else 0.2), (lvl, vec)
            np.testing.assert_allclose(got.stderr[ok][fin], se[fin], rtol=1e-5 if dt == np.float64 else 5e-2)
