"""64-bit sizes: calls whose arrays hold more than 2**31 elements.

Every family indexes with int64; a 32-bit product anywhere (``b * M``,
``i * m``, ``row * k``) would wrap past 2**31 elements and read or write the
wrong place.  Each test here runs a real call on more than 2**31 float32
elements (about 8.6 GB) and checks the items that lie beyond the 2**31st
element against the same items computed on their own, or against an
independent float64 reference.

The tests need about 10 GB of free memory (one large array at a time) and
skip with the reason where the machine has less (``MemAvailable`` in
``/proc/meminfo``), or when ``SCALECORE_SKIP_LARGE=1``.  They take about
half a minute per SIMD level.
"""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest

import scalecore

BIG = 2**31 + 4096  # elements: 2**19 + 1 rows of 4096
ROW = 4096
NEED_GIB = 11.0


def _available_gib() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def _skip_reason() -> str | None:
    if os.environ.get("SCALECORE_SKIP_LARGE") == "1":
        return "SCALECORE_SKIP_LARGE=1"
    if "address" in scalecore.build_info()["sanitize"]:
        return "under ASan, whose shadow memory and redzones would add gigabytes to the 8.6 GB arrays"
    have = _available_gib()
    if have < NEED_GIB:
        return f"needs {NEED_GIB:.0f} GiB of available memory for a > 2**31-element float32 array, has {have:.1f}"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def _fill_rows(out: np.ndarray, fn, step: int = 1 << 14) -> None:
    """out[i:i+step] = fn(i, j) in two threads (numpy releases the GIL), to halve first-touch time."""
    n = out.shape[0]
    half = (n // 2 // step) * step

    def work(lo, hi):
        for i in range(lo, hi, step):
            j = min(i + step, hi)
            out[i:j] = fn(i, j)

    t = threading.Thread(target=work, args=(0, half))
    t.start()
    work(half, n)
    t.join()


# The tests that allocate their own large output run first, before the
# shared input below exists, so that one large array lives at a time.

def test_cost_matrix_beyond_2_31_elements():
    n = 46341  # n * n = 2,147,488,281 > 2**31
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = rng.standard_normal((n, 3)).astype(np.float32)
    C = scalecore.ot.cost_matrix(x, y)
    assert C.shape == (n, n) and C.dtype == np.float32 and C.size > 2**31
    # Rows 0, the one that holds element 2**31, and the last, against float64.
    for i in (0, 2**31 // n, n - 1):
        ref = ((x[i].astype(np.float64) - y.astype(np.float64)) ** 2).sum(axis=1)
        np.testing.assert_allclose(C[i], ref, rtol=2e-5, atol=2e-5 * ref.max(), err_msg=f"row {i}")
    del C


def test_spherical_harmonics_beyond_2_31_elements():
    lmax = 8  # 81 components
    n = 2**31 // 81 + 7
    rng = np.random.default_rng(1)
    tail = rng.standard_normal((64, 3)).astype(np.float32)
    v = np.empty((n, 3), np.float32)
    v[:] = np.float32([0.3, -0.4, 0.5])
    v[-64:] = tail
    Y = scalecore.tp.spherical_harmonics(list(range(lmax + 1)), v, True, "component")
    assert Y.shape == (n, 81) and Y.size > 2**31
    np.testing.assert_array_equal(Y[-64:], scalecore.tp.spherical_harmonics(list(range(lmax + 1)), tail, True,
                                                                           "component"))
    np.testing.assert_array_equal(Y[0], Y[n // 2])
    del Y


@pytest.fixture(scope="module")
def big_rows() -> np.ndarray:
    """(2**19 + 1, 4096) float32: scaling-law data a * x**-0.5 + 0.1, random rows at the end."""
    x = np.geomspace(1, 1000, ROW).astype(np.float32)
    xp = x ** np.float32(-0.5)
    rows = BIG // ROW
    a = np.linspace(1.0, 3.0, rows, dtype=np.float32)
    out = np.empty((rows, ROW), np.float32)
    _fill_rows(out, lambda i, j: a[i:j, None] * xp[None, :] + np.float32(0.1))
    rng = np.random.default_rng(2)
    out[-3:] = np.abs(rng.standard_normal((3, ROW), dtype=np.float32)) * 4 + 0.5
    out[-1, 17] = 3000.0  # an outlier in the last MX block row
    yield out
    del out


def test_fit_beyond_2_31_points(big_rows):
    x = np.geomspace(1, 1000, ROW).astype(np.float32)
    assert big_rows.size > 2**31
    r = scalecore.fit("power", x, big_rows, max_iter=3, covariance=False)
    assert r.params.shape == (big_rows.shape[0], 2)
    alone = scalecore.fit("power", x, big_rows[-4:].copy(), max_iter=3, covariance=False)
    np.testing.assert_array_equal(r.params[-4:], alone.params)
    np.testing.assert_array_equal(r.status[-4:], alone.status)
    first = scalecore.fit("power", x, big_rows[:2].copy(), max_iter=3, covariance=False)
    np.testing.assert_array_equal(r.params[:2], first.params)


def test_encode_beyond_2_31_elements(big_rows):
    flat = big_rows.reshape(-1)
    codes = scalecore.lowbit.encode(flat, "float8_e4m3fn", saturate=True)
    assert codes.shape == flat.shape and codes.dtype == np.uint8
    np.testing.assert_array_equal(codes[-3 * ROW:], scalecore.lowbit.encode(flat[-3 * ROW:].copy(), "float8_e4m3fn",
                                                                           saturate=True))
    np.testing.assert_array_equal(codes[:ROW], scalecore.lowbit.encode(flat[:ROW].copy(), "float8_e4m3fn",
                                                                      saturate=True))
    del codes


@pytest.mark.parametrize("fmt", ["mxfp4", "nvfp4"])
def test_quantize_beyond_2_31_elements(big_rows, fmt):
    q = scalecore.lowbit.quantize(big_rows, fmt)
    alone = scalecore.lowbit.quantize(big_rows[-3:].copy(), fmt)
    np.testing.assert_array_equal(np.asarray(q.codes)[-3:], np.asarray(alone.codes))
    np.testing.assert_array_equal(np.asarray(q.scales)[-3:], np.asarray(alone.scales))
    head = scalecore.lowbit.quantize(big_rows[:1].copy(), fmt)
    np.testing.assert_array_equal(np.asarray(q.codes)[0], np.asarray(head.codes)[0])
    del q


@pytest.mark.parametrize("act", ["float32", "int8"])
def test_packed_linear_activations_beyond_2_31_elements(big_rows, act):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((16, ROW)).astype(np.float32)
    layer = scalecore.lowbit.PackedLinear(w, "int4", group_size=128, act=act)
    y = layer(big_rows)
    assert y.shape == (big_rows.shape[0], 16)
    # 17 rows: the GEMM panel path, as for the whole batch (up to 4 rows run the
    # GEMV, whose float sums are ordered differently; see PackedLinear).
    np.testing.assert_array_equal(y[-17:], layer(big_rows[-17:].copy()))
    np.testing.assert_array_equal(y[:17], layer(big_rows[:17].copy()))
