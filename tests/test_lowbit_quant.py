"""INT8/INT4 group quantization (the shared rule), asymmetric variants and
FireQ's INT4 with E4M3 group scales, against numpy references."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import scalecore
from scalecore import _core, lowbit


def ref_sym(x2: np.ndarray, bits: int, g: int):
    """The shared rule: scale = amax / qmax (float32), code = clamp(rint(x / scale)), 0 where scale == 0."""
    qmax = np.float32(7 if bits == 4 else 127)
    rows, K = x2.shape
    b = x2.reshape(rows, K // g, g)
    amax = np.max(np.abs(b), axis=-1)
    s = (amax / qmax).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.clip(np.rint((b / s[..., None]).astype(np.float32)), -qmax - 1, qmax)
    q = np.where(s[..., None] == 0, 0, q).astype(np.int8).reshape(rows, K)
    if bits == 4:
        u = q.view(np.uint8) & 0xF
        return (u[:, 0::2] | (u[:, 1::2] << 4)).astype(np.uint8), s
    return q.view(np.uint8), s


def ref_asym(x2: np.ndarray, bits: int, g: int):
    qmax = np.float32(2**bits - 1)
    rows, K = x2.shape
    b = x2.reshape(rows, K // g, g)
    lo = np.minimum(b.min(axis=-1), 0).astype(np.float32)
    hi = np.maximum(b.max(axis=-1), 0).astype(np.float32)
    s = ((hi - lo) / qmax).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, np.clip(np.rint((-lo / s).astype(np.float32)), 0, qmax), 0)
        q = np.clip(np.rint((b / s[..., None]).astype(np.float32)) + z[..., None], 0, qmax)
    q = np.where(s[..., None] > 0, q, 0).astype(np.uint8).reshape(rows, K)
    if bits == 4:
        q = (q[:, 0::2] | (q[:, 1::2] << 4)).astype(np.uint8)
    return q, s, z.astype(np.uint8)


def _data(rng):
    x = rng.standard_normal((9, 256)).astype(np.float32)
    x[0] = 0
    x[1, :128] = 0
    x[2, 5] = 50.0                       # outlier
    x[3] *= 1e-42                        # subnormal groups (scale may underflow to 0)
    x[4] = np.arange(256) * 0.5 - 64     # exact ties
    x[5, ::2] = 3.5 / 7 * np.abs(x[5]).max()
    return x


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("g", [32, 64, 128, None, "tensor"])
def test_symmetric_rule(simd, bits, g, rng):
    x = _data(rng)
    fmt = "int4" if bits == 4 else "int8"
    q = lowbit.quantize(x, fmt, group_size=g)
    x2 = x.reshape(1, -1) if g == "tensor" else x
    gg = x2.shape[1] if g in (None, "tensor") else g
    want_c, want_s = ref_sym(x2, bits, gg)
    np.testing.assert_array_equal(q.scales, want_s)
    np.testing.assert_array_equal(q.codes, want_c)
    c1, s1, _ = _core.lowbit_quantize_int(np.ascontiguousarray(x2), bits, True, gg, 0, 0, 1)
    np.testing.assert_array_equal(c1, q.codes)
    # dequantized value = code * scale, float32
    if bits == 4:
        c = np.empty(x2.shape, np.int8)
        c[:, 0::2] = ((want_c & 0xF) ^ 8).astype(np.int8) - 8
        c[:, 1::2] = ((want_c >> 4) ^ 8).astype(np.int8) - 8
    else:
        c = want_c.view(np.int8)
    deq = (c.astype(np.float32).reshape(x2.shape[0], -1, gg) * want_s[..., None]).reshape(x.shape)
    np.testing.assert_array_equal(q.dequantize(), deq)
    assert q.group_size == (x.shape[1] if g is None else g)  # per channel: the whole axis


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("g", [32, 128])
def test_asymmetric(simd, bits, g, rng):
    x = _data(rng)
    x[6] = np.abs(x[6]) + 1.0  # all positive: zero point 0
    x[7] = -np.abs(x[7])
    q = lowbit.quantize(x, "int4" if bits == 4 else "int8", group_size=g, symmetric=False)
    want_c, want_s, want_z = ref_asym(x, bits, g)
    np.testing.assert_array_equal(q.scales, want_s)
    np.testing.assert_array_equal(q.zeros, want_z)
    np.testing.assert_array_equal(q.codes, want_c)
    d = q.dequantize()
    # within half a step inside the grid, one step where rint(x / s) + zero is clipped at the ends
    # (groups of row 3 have float32-subnormal scales, which carry fewer bits: checked bit-exact above only)
    err = np.abs(d - x).reshape(x.shape[0], -1, g).max(axis=-1)
    normal = want_s >= np.finfo(np.float32).tiny
    assert np.all((err <= want_s * 1.0000001)[normal])
    assert np.median(np.abs(d - x).reshape(x.shape[0], -1, g) / np.maximum(want_s[..., None], 1e-30)) < 0.3
    if bits == 4:
        q2 = lowbit.quantize(x, "uint4", group_size=g)
        np.testing.assert_array_equal(q2.codes, q.codes)


def test_int_rounding_modes_and_threads(rng):
    x = _data(rng)
    a = lowbit.quantize(x, "int4", group_size=32, rounding="half_away")
    b = x.reshape(9, 8, 32)
    s = (np.abs(b).max(-1) / np.float32(7)).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (b / s[..., None]).astype(np.float32)
    want = np.where(s[..., None] == 0, 0, np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5), -8, 7))
    c = np.empty((9, 256), np.int8)
    c[:, 0::2] = ((a.codes & 0xF) ^ 8).astype(np.int8) - 8
    c[:, 1::2] = ((a.codes >> 4) ^ 8).astype(np.int8) - 8
    np.testing.assert_array_equal(c.reshape(9, 8, 32), want)
    big = rng.standard_normal((64, 4096)).astype(np.float32)
    ref = lowbit.quantize(big, "int4", group_size=128)
    for n in (1, 2, 3):
        with scalecore.num_threads(n):
            np.testing.assert_array_equal(lowbit.quantize(big, "int4", group_size=128).codes, ref.codes)


@pytest.mark.parametrize("bits", [4, 8])
def test_int_half_away_every_level(simd, bits, rng):
    """Half-away rounding of the symmetric rule at each SIMD level (ties of
    both signs, subnormal groups), against numpy."""
    x = _data(rng)
    qmax = 7 if bits == 4 else 127
    q = lowbit.quantize(x, f"int{bits}", group_size=32, rounding="half_away")
    b = x.reshape(9, 8, 32)
    s = (np.abs(b).max(-1) / np.float32(qmax)).astype(np.float32)
    np.testing.assert_array_equal(q.scales, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (b / s[..., None]).astype(np.float32)
    want = np.where(s[..., None] == 0, 0, np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5), -qmax - 1, qmax))
    if bits == 4:
        c = np.empty((9, 256), np.int8)
        c[:, 0::2] = ((q.codes & 0xF) ^ 8).astype(np.int8) - 8
        c[:, 1::2] = ((q.codes >> 4) ^ 8).astype(np.int8) - 8
    else:
        c = q.codes.view(np.int8)
    np.testing.assert_array_equal(c.reshape(9, 8, 32), want)


def test_int_bad_input():
    x = np.ones((2, 96), np.float32)
    with pytest.raises(ValueError, match="multiple of group_size=64"):
        lowbit.quantize(x, "int4", group_size=64)
    with pytest.raises(ValueError, match="even"):
        lowbit.quantize(np.ones((2, 9), np.float32), "int4")
    with pytest.raises(ValueError, match="> 0"):
        lowbit.quantize(x, "int8", group_size=0)
    with pytest.raises(TypeError, match="group_size"):
        lowbit.quantize(x, "int8", group_size=32.5)
    for bad in (np.nan, np.inf, -np.inf):
        y = x.copy()
        y[1, 7] = bad
        with pytest.raises(ValueError, match="NaN or Inf"):
            lowbit.quantize(y, "int8", group_size=32)
        with pytest.raises(ValueError, match="NaN or Inf"):
            lowbit.quantize(y, "int4", group_size=32, symmetric=False)
    with pytest.raises(ValueError, match="tensor_scale"):
        lowbit.quantize(x, "int8", tensor_scale=1.0)
    q = lowbit.quantize(x, "int8", group_size=32)
    with pytest.raises(TypeError, match="scales: expected dtype float32"):
        lowbit.Quantized("int8", (2, 96), q.codes, q.scales.astype(np.float64), group_size=32)
    with pytest.raises(ValueError, match="codes: expected shape"):
        lowbit.Quantized("int8", (2, 96), q.codes.reshape(1, -1), q.scales, group_size=32)
    # a NaN scale gives NaN values, a zero scale zeros
    s = q.scales.copy()
    s[0, 0], s[0, 1] = np.nan, 0.0
    d = lowbit.Quantized("int8", (2, 96), q.codes, s, group_size=32).dequantize()
    assert np.isnan(d[0, :32]).all() and (d[0, 32:64] == 0).all() and (d[0, 64:] == 1).all()


# ---------------------------------------------------------------- FireQ
def ref_fireq_k(amax: np.ndarray) -> int:
    best = None
    for k in range(15):
        sc = amax.astype(np.float64) * 2.0**k / 7
        if sc.max() > 448:
            continue
        under = int((sc < 2.0**-9).sum())
        if best is None or under < best[1]:
            best = (k, under)
    return best[0]


def test_int4_fp8scale(simd, rng):
    w = (rng.standard_normal((16, 512)) * np.exp(rng.uniform(-12, -2, (16, 1)))).astype(np.float32)
    q = lowbit.quantize(w, "int4_fp8scale", group_size=128)
    amax = np.abs(w.reshape(16, 4, 128)).max(-1)
    k = ref_fireq_k(amax)
    assert k > 0 and q.tensor_scale == np.float32(2.0**k)
    # fewer underflowing groups than without the multiplier, none overflowing
    assert (amax * 2.0**k / 7 < 2.0**-9).sum() <= (amax / 7 < 2.0**-9).sum()
    wm = (w * np.float32(2.0**k)).astype(np.float32)
    sc = (np.abs(wm.reshape(16, 4, 128)).max(-1) / np.float32(7)).astype(np.float32).astype(ml_dtypes.float8_e4m3fn)
    np.testing.assert_array_equal(q.scales, sc.view(np.uint8))
    sf = sc.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(sf[..., None] == 0, 0, np.clip(np.rint((wm.reshape(16, 4, 128) / sf[..., None]).astype(np.float32)), -8, 7))
    u = c.reshape(16, 512).astype(np.int8).view(np.uint8) & 0xF
    np.testing.assert_array_equal(q.codes, (u[:, 0::2] | (u[:, 1::2] << 4)).astype(np.uint8))
    deq = (c * sf[..., None]).reshape(16, 512) / np.float32(2.0**k)
    np.testing.assert_allclose(q.dequantize(), deq, rtol=0, atol=0)
    # INT4 with E4M3 scales is close to INT4 with float32 scales
    e1 = np.linalg.norm(q.dequantize() - w)
    e2 = np.linalg.norm(lowbit.quantize(w, "int4", group_size=128).dequantize() - w)
    assert e1 < 1.2 * e2
    assert lowbit.select_fp8_multiplier(np.array([400.0 * 7])) == 0
    assert lowbit.select_fp8_multiplier(np.array([1e-3, 1.0])) == 4  # 1e-3 * 2^4 / 7 >= 2^-9
    with pytest.raises(ValueError, match="NaN or Inf"):
        lowbit.quantize(np.full((1, 128), np.nan, np.float32), "int4_fp8scale")
    with pytest.raises(ValueError, match="group_size"):
        lowbit.quantize(w, "int4_fp8scale", group_size=100)
