"""Stochastic rounding: Philox4x32-10 known answers, unbiasedness over 1e7
samples, and results identical whatever the thread count."""
from __future__ import annotations

import numpy as np
import pytest

import scalecore
from scalecore import _core, lowbit


def test_philox_known_answers():
    # Random123 kat_vectors (philox4x32, 10 rounds): counter, key -> output
    assert _core.lowbit_philox4x32(0, 0, 0, 0, 0, 0) == (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)
    f = 0xFFFFFFFF
    assert _core.lowbit_philox4x32(f, f, f, f, f, f) == (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)
    assert _core.lowbit_philox4x32(0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344, 0xA4093822, 0x299F31D0) == (
        0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)
    # element i uses word i % 4 of counter i // 4
    w = _core.lowbit_philox4x32(5, 0, 0, 0, 7, 0)
    assert [_core.lowbit_philox_bits(7, 20 + j, 0) for j in range(4)] == list(w)


def _check_unbiased(x: np.ndarray, deq: np.ndarray, reps: int):
    d = deq.reshape(reps, -1).astype(np.float64)
    mean, sd = d.mean(0), d.std(0)
    se = np.maximum(sd, 1e-30) / np.sqrt(reps)
    z = (mean - x.astype(np.float64)) / se
    assert np.all(np.abs(z[sd > 0]) < 6), (x[np.abs(z) >= 6], mean[np.abs(z) >= 6])
    assert np.all(np.abs(mean[sd == 0] - x[sd == 0]) <= 1e-7 * np.abs(x[sd == 0]))


@pytest.mark.parametrize("fmt", ["float4_e2m1fn", "float8_e4m3fn", "int4"])
def test_stochastic_encode_is_unbiased(simd, fmt):
    # 100 values between grid points (and on them), 1e5 draws each: 1e7 samples
    rng = np.random.default_rng(1)
    top = 5.9 if fmt == "float4_e2m1fn" else (440.0 if fmt == "float8_e4m3fn" else 6.9)
    base = np.concatenate([rng.uniform(-top, top, 90), [0.0, 0.25, 0.75, 1.25, -2.5, 1e-3, -1e-4, 0.5, 1.0, 3.0]])
    base = base.astype(np.float32)
    reps = 100_000
    x = np.tile(base, reps)
    deq = lowbit.decode(lowbit.encode(x, fmt, rounding="stochastic", seed=123), fmt)
    _check_unbiased(base, deq, reps)
    # and it is not round-to-nearest: both neighbours occur for off-grid values
    d = deq.reshape(reps, -1)
    assert np.all((d.min(0) < d.max(0))[:90])


def test_stochastic_mx_nvfp4_int_unbiased():
    rng = np.random.default_rng(2)
    block = rng.uniform(-5.5, 5.5, 32).astype(np.float32)
    block[0] = 5.5  # amax/2^e = 5.5 / 4 * 4: inside the E2M1 range, no saturation
    reps = 20_000
    x = np.tile(block, (reps, 1))
    d = lowbit.quantize(x, "mxfp4", rounding="stochastic", seed=9).dequantize()
    _check_unbiased(block, d.ravel(), reps)
    d = lowbit.quantize(x, "int4", group_size=32, rounding="stochastic", seed=9).dequantize()
    s = np.float32(np.abs(block).max() / np.float32(7))
    # E[code] = x / s (the float32 quotient), so E[code * s] = (x / s) s exactly in float64
    _check_unbiased((block / s).astype(np.float32).astype(np.float64) * np.float64(s), d.ravel(), reps)
    blk16 = block[:16].copy()
    y = np.tile(blk16, (reps, 1))
    q = lowbit.quantize(y, "nvfp4", rounding="stochastic", seed=4)
    total = np.float32(q.tensor_scale) * lowbit.decode(q.scales[:1, :1], "float8_e4m3fn")[0, 0]
    target = np.clip((blk16 / total).astype(np.float32), -6, 6).astype(np.float64) * np.float64(total)
    _check_unbiased(target, q.dequantize().ravel(), reps)


@pytest.mark.parametrize("fmt", ["float8_e5m2", "float6_e2m3fn", "int8", "float8_e8m0fnu", "ue5m3"])
def test_stochastic_identical_across_threads_and_levels(fmt):
    rng = np.random.default_rng(5)
    x = np.abs(rng.standard_normal(300_001)).astype(np.float32) * 3
    ref = lowbit.encode(x, fmt, rounding="stochastic", seed=77)
    for n in (1, 2, 3):
        with scalecore.num_threads(n):
            for lvl in scalecore.simd_levels():
                with scalecore.simd_level(lvl):
                    assert np.array_equal(lowbit.encode(x, fmt, rounding="stochastic", seed=77), ref)
    assert not np.array_equal(lowbit.encode(x, fmt, rounding="stochastic", seed=78), ref)
    # the reference kernels draw the same bits
    ref1 = _core.lowbit_encode(x, lowbit.formats[fmt]._elem_id, False, 2, 77, 1)
    assert np.array_equal(ref1, ref)
    # a stochastic code decodes to one of the two grid neighbours of x (x >= 0 here, inside the range)
    grid = np.unique(lowbit.decode(np.arange(256, dtype=np.uint8), fmt).astype(np.float64))
    grid = grid[np.isfinite(grid) & (grid >= 0)]
    got = lowbit.decode(ref, fmt).astype(np.float64)
    inside = (x >= grid[0]) & (x <= grid[-1])
    i = np.clip(np.searchsorted(grid, x[inside], side="right"), 1, len(grid) - 1)
    lo, hi = grid[i - 1], grid[np.where(grid[i - 1] == x[inside], i - 1, i)]
    assert np.all((got[inside] == lo) | (got[inside] == hi))


def test_stochastic_quantize_identical_across_threads():
    x = np.random.default_rng(6).standard_normal((64, 1024)).astype(np.float32)
    for fmt, kw in (("mxfp4", {}), ("nvfp4", {}), ("int4", {"group_size": 64}), ("mxint8", {})):
        ref = lowbit.quantize(x, fmt, rounding="stochastic", seed=3, **kw)
        for n in (1, 3):
            with scalecore.num_threads(n):
                q = lowbit.quantize(x, fmt, rounding="stochastic", seed=3, **kw)
                np.testing.assert_array_equal(q.codes, ref.codes)
                np.testing.assert_array_equal(q.scales, ref.scales)
