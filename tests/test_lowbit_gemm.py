"""lowbit GEMV/GEMM: PackedLinear and the fused-dequant kernels.

Oracles, independent of the kernels:
* the quantization rule written in numpy (float32 division, np.rint = ties to
  even) for weight codes/scales and per-token int8 activations;
* ml_dtypes for the bfloat16 rounding of activations;
* a float64 product of the dequantized operands, within the accumulation
  bounds stated in gemm.h / PackedLinear (float paths), and for the integer
  paths an exact int64 group sum followed by the documented float32
  epilogue in numpy, which the kernels must match bit for bit.
Every SIMD level is run (the ``simd`` fixture), with odd shapes: M = 1, 3, 4,
17 (GEMV and GEMM with row tails), N not a multiple of the 16-column tile,
groups with a 32-element tail chunk, and K above the 256 GEMM slice.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scalecore
from scalecore import _core
from scalecore.lowbit import PackedLinear

U = 2.0 ** -24
QMAX = {"int4": 7, "int8": 127}


# ---------------------------------------------------------------- oracles
def quantize_ref(w: np.ndarray, qmax: int, g: int):
    """The shared symmetric group rule in numpy, float32 throughout."""
    n, k = w.shape
    wg = w.astype(np.float32).reshape(n, k // g, g)
    amax = np.abs(wg).max(axis=2)
    scale = (amax / np.float32(qmax)).astype(np.float32)
    safe = np.where(scale == 0, np.float32(1), scale)
    q = np.rint((wg / safe[:, :, None]).astype(np.float32))
    q = np.clip(q, -qmax - 1, qmax)
    q[scale == 0] = 0
    return q.astype(np.int8).reshape(n, k), scale


def dequant_ref(codes, scales, g):
    n, k = codes.shape
    return (codes.astype(np.float32).reshape(n, k // g, g) * scales[:, :, None]).reshape(n, k)


def int_path_ref(xq, xs, codes, ws, g, bias):
    """Exact integer group sums, then gemm.h's float32 epilogue in numpy
    (p_g = float(isum_g) * ws rounded, eight chains by g mod 8, a fixed tree)."""
    m, k = xq.shape
    n = codes.shape[0]
    G = k // g
    isum = np.einsum("mgk,ngk->mng", xq.astype(np.int64).reshape(m, G, g), codes.astype(np.int64).reshape(n, G, g))
    assert np.abs(isum).max(initial=0) < 2 ** 31
    s = np.zeros((8, m, n), np.float32)  # chain l sums the groups g = l mod 8, in order
    for gi in range(G):
        s[gi % 8] = s[gi % 8] + isum[:, :, gi].astype(np.float32) * ws[None, :, gi]
    acc = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
    y = (acc * xs[:, None]).astype(np.float32)
    if bias is not None:
        y = (y + bias[None, :]).astype(np.float32)
    return y


def tokens_ref(x):
    return quantize_ref(x, 127, x.shape[1])


def bf16_ref(x):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    return x.astype(ml_dtypes.bfloat16).astype(np.float32)


def check_float(y, x, wd, bias, K):
    x64, w64 = x.astype(np.float64), wd.astype(np.float64)
    exact = x64 @ w64.T
    mag = np.abs(x64) @ np.abs(w64).T
    if bias is not None:
        exact = exact + bias
        mag = mag + np.abs(bias)
    bound = (K + 4) * U * mag + 1e-30
    err = np.abs(y.astype(np.float64) - exact)
    assert y.dtype == np.float32
    assert np.all(err <= bound), f"max err/bound {np.max(err / bound):.3g}"


def make(rng, n, k, scale=1.0):
    w = (rng.standard_normal((n, k)) * scale).astype(np.float32)
    w[0, : min(k, 40)] = 0.0  # an all-zero group (scale 0)
    return w


SHAPES = [  # (M, N, K, group)
    (1, 37, 256, 128),
    (3, 37, 256, 128),
    (4, 50, 192, 96),    # 64 + 32-element tail chunk per group
    (17, 37, 384, 64),   # GEMM, row tail 5, K slices 256 + 128
    (1, 21, 160, None),  # per-channel, 2x64 + 32 tail
    (17, 33, 96, 32),    # every group a 32-chunk
    (6, 16, 128, 128),
    (5, 19, 640, 32),    # G = 20 groups: the eight chains wrap
    (1, 23, 448, 224),   # GEMV: a pair of 64-chunks, an odd 64-chunk and a 32 tail per group
    (1, 23, 640, 32),    # GEMV with G = 20 (blocks of 8 groups and a partial one)
    (3, 9, 1152, 128),   # GEMV with G = 9
    (7, 19, 704, 352),   # GEMM, groups > 256 with a 32-tail: K slices 256, 96 per group
    (9, 18, 576, None),  # GEMM per-channel: K slices 256, 256, 64
    (2, 13, 384, 192),   # GEMV, 3 chunks per group: a 64-chunk pair, then a single one
    # GEMV pair kernels (groups of 128j: only pairs of 64-chunks)
    (1, 29, 2048, 256),  # two pairs per group, G = 8: one full block of 8 groups
    (2, 19, 2560, 128),  # G = 20: two full blocks and a partial one
    (4, 13, 1024, None),  # per-channel, 8 pairs per group
    (3, 300, 1024, 128),  # N > the 128-row work chunk, not a multiple of it
    (2, 11, 224, 32),    # GEMV, 32-groups in blocks of 4 (one full, one of 3)
]


# ---------------------------------------------------------------- packing
@pytest.mark.parametrize("fmt", ["int4", "int8"])
@pytest.mark.parametrize("g", [32, 64, 96, 128, None])
def test_codes_scales_follow_the_rule(fmt, g, rng):
    k = 192 if g in (32, 64, 96, None) else 256
    w = make(rng, 9, k)
    w[3, 5] = 1e-41  # subnormal
    layer = PackedLinear(w, fmt, group_size=g)
    gg = k if g is None else g
    codes, scales = quantize_ref(w, QMAX[fmt], gg)
    np.testing.assert_array_equal(layer.scales, scales)
    np.testing.assert_array_equal(layer.codes(), codes)
    np.testing.assert_array_equal(layer.dequantize(), dequant_ref(codes, scales, gg))
    assert layer.nbytes == layer.packed.nbytes + layer.scales.nbytes
    assert layer.packed.shape == (9, k // 2 if fmt == "int4" else k)


def test_pack_unpack_round_trip_every_code(rng):
    for g in (32, 64, 96, 128):
        codes = rng.integers(-8, 8, size=(5, 384)).astype(np.int8)
        p = _core.lowbit_pack_codes(codes, "int4", g)
        np.testing.assert_array_equal(_core.lowbit_unpack_codes(p, "int4", 384, g), codes)
    # The documented nibble order: element k0 + 8j + i in nibble j of word i.
    codes = np.zeros((1, 64), np.int8)
    codes[0, 8 * 3 + 5] = -3
    p = _core.lowbit_pack_codes(codes, "int4", 64)
    word = p[0, 4 * 5: 4 * 5 + 4].view("<u4")[0]
    assert word == (np.uint32(-3 & 0xF) << 12)
    with pytest.raises(ValueError, match=r"\[-8, 7\]"):
        _core.lowbit_pack_codes(np.full((1, 64), 9, np.int8), "int4", 64)


@pytest.mark.parametrize("K", [1, 37, 96, 4096])
def test_tokens_match_reference_at_every_level(simd, K, rng):
    """The per-token int8 quantizer (AVX-512 where present) is bit-equal to
    the numpy rule: K tails, zero rows, NaN / Inf rows, huge and subnormal rows."""
    x = (rng.standard_normal((9, K)) * np.logspace(-30, 30, 9)[:, None]).astype(np.float32)
    x[1] = 0.0
    x[2, K // 2] = np.nan
    x[3, 0] = -np.inf
    x[4] = (rng.standard_normal(K) * 1e-41).astype(np.float32)  # subnormal amax
    x[5] = np.float32(3.0e38) * np.sign(rng.standard_normal(K)).astype(np.float32)
    xq, xs = _core.lowbit_quantize_tokens(x)
    q, s = tokens_ref(x[[0, 1, 4, 5, 6, 7, 8]])
    np.testing.assert_array_equal(xq[[0, 1, 4, 5, 6, 7, 8]], q)
    np.testing.assert_array_equal(xs[[0, 1, 4, 5, 6, 7, 8]], s[:, 0])
    assert np.isnan(xs[2]) and np.isnan(xs[3]) and not xq[2:4].any()


def test_tokens_and_bf16_match_references(rng):
    x = (rng.standard_normal((7, 96)) * np.logspace(-3, 3, 7)[:, None]).astype(np.float32)
    x[2] = 0.0
    xq, xs = _core.lowbit_quantize_tokens(x)
    q, s = tokens_ref(x)
    np.testing.assert_array_equal(xq, q)
    np.testing.assert_array_equal(xs, s[:, 0])
    v = np.concatenate([x.ravel(), np.array([np.inf, -np.inf, np.nan, 3.4e38, 1e-40, -0.0], np.float32),
                        # exact ties between two bf16 neighbours, both parities
                        np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20], np.float32)])
    r = _core.lowbit_round_bf16(v)
    ref = bf16_ref(v)
    np.testing.assert_array_equal(np.isnan(r), np.isnan(ref))
    ok = ~np.isnan(ref)
    np.testing.assert_array_equal(r[ok].view(np.uint32), ref[ok].view(np.uint32))


# ---------------------------------------------------------------- float paths
@pytest.mark.parametrize("fmt", ["int4", "int8"])
@pytest.mark.parametrize("shape", SHAPES)
def test_float_activations(simd, fmt, shape, rng):
    M, N, K, g = shape
    w = make(rng, N, K, 0.05)
    x = rng.standard_normal((M, K)).astype(np.float32)
    bias = rng.standard_normal(N).astype(np.float32) if M != 3 else None
    layer = PackedLinear(w, fmt, group_size=g, bias=bias)
    wd = layer.dequantize()
    y = layer(x)
    assert y.shape == (M, N)
    check_float(y, x, wd, bias, K)
    yr = _core.lowbit_linear(layer.packed, layer.scales, fmt, K, layer.group_size, x=x, bias=bias, impl="ref")
    check_float(yr, x, wd, bias, K)


@pytest.mark.parametrize("shape", [(1, 37, 256, 128), (17, 37, 384, 64)])
def test_bfloat16_activations(simd, shape, rng):
    M, N, K, g = shape
    w = make(rng, N, K)
    x = rng.standard_normal((2, M, K)).astype(np.float32)
    layer = PackedLinear(w, "int4", group_size=g, act="bfloat16")
    y = layer(x)
    assert y.shape == (2, M, N)
    xb = bf16_ref(x).reshape(-1, K)
    check_float(y.reshape(-1, N), xb, layer.dequantize(), None, K)
    # bfloat16 input converts exactly and gives the same result
    ml_dtypes = pytest.importorskip("ml_dtypes")
    np.testing.assert_array_equal(layer(x.astype(ml_dtypes.bfloat16)), y)


@pytest.mark.parametrize("shape", [(1, 29, 2048, 256), (2, 19, 2560, 128), (4, 13, 1024, None), (3, 300, 1024, 128)])
def test_bfloat16_gemv_pairs(simd, shape, rng):
    """The GEMV of bf16-exact activations and groups of 128j (AVX512_BF16
    dot products where present): within the float bound of the float64
    product; tiny (< 2^-100) or non-finite activations take the float32
    kernel and stay within it too."""
    M, N, K, g = shape
    w = make(rng, N, K)
    bias = rng.standard_normal(N).astype(np.float32)
    layer = PackedLinear(w, "int4", group_size=g, act="bfloat16", bias=bias)
    wd = layer.dequantize()
    x = rng.standard_normal((M, K)).astype(np.float32)
    x[0, 3] = 0.0
    x[-1, 5:9] = [1e-30, -3e-29, 2.0 ** -99, 65504.0]  # normal, >= 2^-100 (as bf16)
    xb = bf16_ref(x)
    y = layer(x)
    check_float(y, xb, wd, bias, K)
    yf = PackedLinear(w, "int4", group_size=g, bias=bias)(xb)  # float32 act, bf16-exact x: same kernel
    check_float(yf, xb, wd, bias, K)
    # every x tiny: the products are near the subnormal range
    xt = bf16_ref(x * np.float32(2.0 ** -120))
    assert np.any((xt != 0) & (np.abs(xt) < 2.0 ** -100))
    check_float(layer(xt), xt, wd, bias, K)
    xn = x.copy()
    xn[0, 1] = np.inf
    yn = layer(xn)
    assert np.isnan(yn[0]).sum() + np.isinf(yn[0]).sum() == N
    check_float(yn[1:], xb[1:], wd, bias, K)  # the call ran the float32 kernel: within the bound, not the same bits


# ---------------------------------------------------------------- integer paths
@pytest.mark.parametrize("fmt", ["int4", "int8"])
@pytest.mark.parametrize("shape", SHAPES)
def test_int8_activations_exact(simd, fmt, shape, rng):
    M, N, K, g = shape
    w = make(rng, N, K)
    x = (rng.standard_normal((M, K)) * 3).astype(np.float32)
    x[0, :7] = 0.0
    bias = rng.standard_normal(N).astype(np.float32)
    layer = PackedLinear(w, fmt, group_size=g, act="int8", bias=bias)
    y = layer(x)
    gg = layer.group_size
    codes, ws = quantize_ref(w, QMAX[fmt], gg)
    xq, xs = tokens_ref(x)
    want = int_path_ref(xq, xs[:, 0], codes, ws, gg, bias)
    np.testing.assert_array_equal(y, want)
    yr = _core.lowbit_linear(layer.packed, layer.scales, fmt, K, gg, xq=xq, xs=xs[:, 0], bias=bias, impl="ref")
    np.testing.assert_array_equal(yr, want)
    # and close to the float64 product of the dequantized operands
    xd = xq.astype(np.float32) * xs
    exact = xd.astype(np.float64) @ dequant_ref(codes, ws, gg).astype(np.float64).T + bias
    mag = np.abs(xd.astype(np.float64)) @ np.abs(dequant_ref(codes, ws, gg).astype(np.float64)).T + np.abs(bias)
    assert np.all(np.abs(y - exact) <= (K // gg + 8) * U * mag + 1e-30)


def test_extreme_codes_cannot_saturate(simd):
    """All-(-8) int4 weights against all-(-128)/127 int8 activations: the
    largest vpmaddubsw/vpmaddwd partial sums the kernels can meet."""
    K, N = 512, 24
    codes = np.full((N, K), -8, np.int8)
    codes[1::2] = 7
    ws = np.ones((N, K // 128), np.float32)
    p = _core.lowbit_pack_codes(codes, "int4", 128)
    for M in (1, 5):
        xq = np.full((M, K), -128, np.int8)
        xq[1::2] = 127
        xs = np.ones(M, np.float32)
        y = _core.lowbit_linear(p, ws, "int4", K, 128, xq=xq, xs=xs)
        np.testing.assert_array_equal(y, int_path_ref(xq, xs, codes, ws, 128, None))
    codes8 = np.full((N, K), -128, np.int8)
    codes8[::3] = 127
    p8 = _core.lowbit_pack_codes(codes8, "int8", K)
    for M in (1, 5):
        xq = np.full((M, K), -128, np.int8)
        xs = np.ones(M, np.float32)
        y = _core.lowbit_linear(p8, np.ones((N, 1), np.float32), "int8", K, K, xq=xq, xs=xs)
        np.testing.assert_array_equal(y, int_path_ref(xq, xs, codes8, np.ones((N, 1), np.float32), K, None))


@settings(max_examples=12, deadline=None)
@given(M=st.integers(1, 9), N=st.integers(1, 40), G=st.integers(1, 4), g=st.sampled_from([32, 64, 96, 128]),
       fmt=st.sampled_from(["int4", "int8"]), act=st.sampled_from(["float32", "int8"]), seed=st.integers(0, 2 ** 16))
def test_random_shapes(M, N, G, g, fmt, act, seed):
    rng = np.random.default_rng(seed)
    K = G * g
    w = rng.standard_normal((N, K)).astype(np.float32)
    x = rng.standard_normal((M, K)).astype(np.float32)
    layer = PackedLinear(w, fmt, group_size=g, act=act)
    y = layer(x)
    if act == "float32":
        check_float(y, x, layer.dequantize(), None, K)
    else:
        codes, ws = quantize_ref(w, QMAX[fmt], g)
        xq, xs = tokens_ref(x)
        np.testing.assert_array_equal(y, int_path_ref(xq, xs[:, 0], codes, ws, g, None))


@pytest.mark.parametrize("N", [70, 1001])
def test_results_do_not_depend_on_threads(N, rng):
    # N = 1001: the GEMV's guided row chunks shrink through several sizes
    # (and end on a 9-row remainder); 3 threads split them differently again.
    w = make(rng, N, 256)
    x = rng.standard_normal((17, 256)).astype(np.float32)
    for fmt, act in (("int4", "float32"), ("int4", "int8"), ("int8", "int8"), ("mxfp4", "float32")):
        layer = PackedLinear(w, fmt, act=act)
        with scalecore.num_threads(1):
            y1, v1, t1 = layer(x), layer(x[:1]), layer(x[:3])
        for nt in (2, 3):
            with scalecore.num_threads(nt):
                y2, v2, t2 = layer(x), layer(x[:1]), layer(x[:3])
            np.testing.assert_array_equal(y1, y2)
            np.testing.assert_array_equal(v1, v2)
            np.testing.assert_array_equal(t1, t2)


# ---------------------------------------------------------------- boundary
def test_dlpack_and_torch_types(rng):
    torch = pytest.importorskip("torch")
    w = make(rng, 20, 128)
    layer = PackedLinear(torch.from_numpy(w), "int4", group_size=64, bias=torch.zeros(20))
    x = rng.standard_normal((2, 3, 128)).astype(np.float32)
    yt = layer(torch.from_numpy(x))
    assert isinstance(yt, torch.Tensor) and yt.shape == (2, 3, 20)
    np.testing.assert_array_equal(yt.numpy(), layer(x))
    yb = PackedLinear(w, "int4", group_size=64, act="bfloat16")(torch.from_numpy(x).to(torch.bfloat16))
    assert isinstance(yb, torch.Tensor) and yb.dtype == torch.float32
    assert isinstance(layer(x.tolist()), np.ndarray)


def test_non_finite(rng):
    w = make(rng, 8, 64)
    for bad in (np.nan, np.inf, -np.inf):
        w2 = w.copy()
        w2[3, 7] = bad
        with pytest.raises(ValueError, match="finite"):
            PackedLinear(w2, "int4", group_size=32)
        with pytest.raises(ValueError, match="finite"):
            _core.lowbit_quantize_pack(w2, "int8", 32)
    x = rng.standard_normal((3, 64)).astype(np.float32)
    x[1, 5] = np.nan
    for act in ("float32", "int8"):
        y = PackedLinear(w, "int4", group_size=32, act=act)(x)
        assert np.isnan(y[1]).all() and np.isfinite(y[[0, 2]]).all()


def test_bad_input(rng):
    w = make(rng, 8, 128)
    with pytest.raises(ValueError, match="not a multiple of group_size"):
        PackedLinear(w[:, :96], "int4", group_size=64)
    with pytest.raises(ValueError, match="multiple of 32"):
        PackedLinear(w, "int4", group_size=48)
    with pytest.raises(ValueError, match="multiple of 32"):
        PackedLinear(w[:, :100], "int4", group_size=None)
    with pytest.raises(TypeError, match="group_size"):
        PackedLinear(w, "int4", group_size=64.0)
    with pytest.raises(ValueError, match=r"fmt: expected one of \['int4', 'int8', 'mxfp4', 'nvfp4'\]"):
        PackedLinear(w, "int3")
    with pytest.raises(ValueError, match="act: expected one of"):
        PackedLinear(w, "int4", act="float16")
    with pytest.raises(ValueError, match="2-D"):
        PackedLinear(w[0], "int4")
    with pytest.raises(TypeError, match="weight"):
        PackedLinear(w.astype(np.complex64), "int4")
    with pytest.raises(ValueError, match=r"bias: expected shape \(8,\)"):
        PackedLinear(w, "int4", bias=np.zeros(7))
    layer = PackedLinear(w, "int4")
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., 128\)"):
        layer(np.zeros((2, 127), np.float32))
    with pytest.raises(TypeError, match="x"):
        layer(np.zeros((2, 128), np.complex64))
    # the extension's own checks
    with pytest.raises(ValueError, match="packed: expected shape"):
        _core.lowbit_linear(layer.packed[:, :10].copy(), layer.scales, "int4", 128, 128, x=np.zeros((1, 128), np.float32))
    with pytest.raises(TypeError, match="packed: expected a uint8"):
        _core.lowbit_linear(layer.packed.view(np.int8), layer.scales, "int4", 128, 128,
                            x=np.zeros((1, 128), np.float32))
    with pytest.raises(ValueError, match="scales: expected shape"):
        _core.lowbit_linear(layer.packed, layer.scales[:, :0], "int4", 128, 128, x=np.zeros((1, 128), np.float32))
    with pytest.raises(TypeError, match="x: expected a float32"):
        _core.lowbit_linear(layer.packed, layer.scales, "int4", 128, 128, x=np.zeros((1, 128)))
    with pytest.raises(ValueError, match="impl"):
        _core.lowbit_linear(layer.packed, layer.scales, "int4", 128, 128, x=np.zeros((1, 128), np.float32),
                            impl="fast")
    assert layer(np.zeros((0, 128), np.float32)).shape == (0, 8)


def test_cuda_int4_to_e4m3_conversion_matches_ml_dtypes():
    """The byte-permute INT4 -> FP8 conversion and E4M3 decode that the CUDA
    W4A8 kernel runs (pack.h, SC_HD), checked on every 4-nibble word."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    words = np.arange(1 << 16, dtype=np.uint32)
    got = _core.lowbit_int4x4_to_e4m3x4(words).view(np.uint8).reshape(-1, 4)
    nib = (words[:, None] >> (4 * np.arange(4, dtype=np.uint32))) & 0xF
    codes = np.where(nib >= 8, nib.astype(np.int32) - 16, nib.astype(np.int32))
    want = codes.astype(np.float32).astype(ml_dtypes.float8_e4m3fn).view(np.uint8)
    np.testing.assert_array_equal(got, want)
    b = np.arange(256, dtype=np.uint8)
    dec = _core.lowbit_e4m3_to_float(b)
    ref = b.view(ml_dtypes.float8_e4m3fn).astype(np.float32)
    np.testing.assert_array_equal(np.isnan(dec), np.isnan(ref))
    np.testing.assert_array_equal(dec[~np.isnan(ref)], ref[~np.isnan(ref)])


@pytest.mark.parametrize("shape", [(1, 37, 256, 128), (3, 9, 1152, 128), (17, 37, 384, 64)])
def test_fp8_activations(simd, shape, rng):
    """act="float8_e4m3fn": per-token E4M3 (amax/448, saturating, RNE) against
    ml_dtypes, then the float product of the exact E4M3 values."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    M, N, K, g = shape
    w = make(rng, N, K)
    x = (rng.standard_normal((M, K)) * 2).astype(np.float32)
    x[0, 3] = 40.0  # an outlier that sets the token scale
    bias = rng.standard_normal(N).astype(np.float32)
    layer = PackedLinear(w, "int4", group_size=g, act="float8_e4m3fn", bias=bias)
    codes, s = layer.quantize_activations(x)
    s_ref = (np.abs(x).max(axis=1) / np.float32(448)).astype(np.float32)
    np.testing.assert_array_equal(s, s_ref)
    q = np.clip((x / s_ref[:, None]).astype(np.float32), -448, 448).astype(ml_dtypes.float8_e4m3fn)
    np.testing.assert_array_equal(codes, q.view(np.uint8))
    xd = q.astype(np.float32).astype(np.float64) * s_ref[:, None]
    y = layer(x)
    wd = layer.dequantize().astype(np.float64)
    exact = xd @ wd.T + bias
    mag = np.abs(xd) @ np.abs(wd).T + np.abs(bias)
    assert np.all(np.abs(y - exact) <= (K + 6) * U * mag)
    # special rows: all-zero gives the bias, NaN gives NaN
    x2 = x.copy()
    x2[0] = 0.0
    if M > 1:
        x2[1, 2] = np.nan
    y2 = layer(x2)
    np.testing.assert_array_equal(y2[0], bias)
    if M > 1:
        assert np.isnan(y2[1]).all()


@pytest.mark.parametrize("fmt", ["mxfp4", "nvfp4"])
@pytest.mark.parametrize("act", ["float32", "bfloat16", "float8_e4m3fn"])
@pytest.mark.parametrize("shape", [(1, 37, 256), (3, 21, 96), (17, 37, 320), (2, 19, 224), (4, 13, 160)])
def test_fp4_weights(simd, fmt, act, shape, rng):
    """MXFP4 / NVFP4 weights (lbfmt's quantize: E2M1 nibbles with E8M0 scales
    per 32, or E4M3 scales per 16 times a tensor scale) through the float
    kernels: dequantize() equals Quantized.dequantize(); outputs within the
    float bound of the float64 product."""
    import scalecore.lowbit as lb
    M, N, K = shape
    w = make(rng, N, K)
    w[2, 40:72] *= 1e-3  # small blocks: other block scales
    layer = PackedLinear(w, fmt, act=act)
    sg = 32 if fmt == "mxfp4" else 16
    assert layer.group_size == sg and layer.packed.shape == (N, K // 2) and layer.scales.shape == (N, K // sg)
    wd = layer.dequantize()
    np.testing.assert_array_equal(wd, lb.quantize(w, fmt).dequantize())
    x = rng.standard_normal((M, K)).astype(np.float32)
    y = layer(x)
    if act == "float32":
        xr = x
    elif act == "bfloat16":
        xr = bf16_ref(x)
    else:
        codes, s = layer.quantize_activations(x)
        xr = (lb.decode(codes, "float8_e4m3fn").astype(np.float64) * s[:, None])
    check_float(y, xr, wd, None, K + 2)
    yr = _core.lowbit_linear(layer.packed, layer.scales, "mxfp4", K, 32, x=np.ascontiguousarray(xr, np.float32),
                             impl="ref", sgroup=0 if fmt == "mxfp4" else 16) if act != "float8_e4m3fn" else None
    if yr is not None:
        check_float(yr, xr, wd, None, K)


def test_mxfp4_bad_input(rng):
    w = make(rng, 8, 64)
    with pytest.raises(ValueError, match="act: 'int8' needs int4 or int8"):
        PackedLinear(w, "mxfp4", act="int8")
    with pytest.raises(ValueError, match="not a multiple of 32"):
        PackedLinear(w[:, :48], "mxfp4")
    with pytest.raises(ValueError, match=r"E2M1 codes must lie in \[0, 15\]"):
        _core.lowbit_pack_codes(np.full((1, 32), 16, np.int8), "mxfp4", 32)
    layer = PackedLinear(w, "mxfp4")
    with pytest.raises(ValueError, match="int8 activations need int4 or int8"):
        _core.lowbit_linear(layer.packed, layer.scales, "mxfp4", 64, 32, xq=np.zeros((1, 64), np.int8),
                            xs=np.ones(1, np.float32))
    with pytest.raises(ValueError, match="separate scale group is only NVFP4"):
        _core.lowbit_linear(layer.packed, np.ones((8, 16), np.float32), "int4", 64, 32,
                            x=np.zeros((1, 64), np.float32), sgroup=4)
    with pytest.raises(ValueError, match="act: 'int8' needs"):
        PackedLinear(w, "nvfp4", act="int8")


def test_w8a8_near_int32_limit(simd):
    """Groups of 66560 int8 codes: the unsigned-offset form of vpdpbusd,
    sum (code + 128) * x, passes 2^31 here (255 * -128 * 66560) while the true
    isum does not, so the AVX-512 path must wrap exactly (GEMV and GEMM)."""
    K, N = 66560, 5
    codes = np.full((N, K), 127, np.int8)
    codes[1::2] = -128
    ws = np.full((N, 1), 2.0 ** -20, np.float32)
    p = _core.lowbit_pack_codes(codes, "int8", K)
    for M in (1, 6):
        xq = np.full((M, K), -128, np.int8)
        xq[1::2] = 127
        xs = np.full(M, 0.5, np.float32)
        y = _core.lowbit_linear(p, ws, "int8", K, K, xq=xq, xs=xs)
        np.testing.assert_array_equal(y, int_path_ref(xq, xs, codes, ws, K, None))


@pytest.mark.parametrize("fmt", ["int4", "int8", "mxfp4"])
def test_packed_at_one_level_runs_at_every_level(simd, fmt, rng):
    """The packed layout is the same at every level: a layer packed under each
    level gives the same bytes, and runs at the fixture's level like the
    reference (bit-exact for int8 activations)."""
    M, N, K = 7, 19, 192
    w = make(rng, N, K)
    x = rng.standard_normal((M, K)).astype(np.float32)
    act = "float32" if fmt == "mxfp4" else "int8"
    layers = []
    for level in scalecore.simd_levels():
        with scalecore.simd_level(level):
            layers.append(PackedLinear(w, fmt, group_size=32 if fmt == "mxfp4" else 64, act=act))
    for la in layers[1:]:
        np.testing.assert_array_equal(np.asarray(la.packed), np.asarray(layers[0].packed))
        np.testing.assert_array_equal(np.asarray(la.scales), np.asarray(layers[0].scales))
    ys = [la(x) for la in layers]
    for y in ys[1:]:
        np.testing.assert_array_equal(y, ys[0])
    if act == "int8":
        codes, ws = quantize_ref(w, QMAX[fmt], 64)
        xq, xs = tokens_ref(x)
        np.testing.assert_array_equal(ys[0], int_path_ref(xq, xs[:, 0], codes, ws, 64, None))


def test_row_results_across_batch_sizes_follow_the_documented_determinism():
    # PackedLinear's module docstring: int8 activations give the same bits for a
    # row in any batch; float activations are bit-stable within the GEMM
    # (>= 5 rows) and within the bound between GEMV and GEMM.
    import scalecore.lowbit as lb

    rng = np.random.default_rng(7)
    w = rng.standard_normal((24, 256)).astype(np.float32)
    x = rng.standard_normal((40, 256)).astype(np.float32)
    exact = x.astype(np.float64) @ lb.PackedLinear(w, "int4", group_size=64).dequantize().astype(np.float64).T
    bound = (256 + 3) * 2.0**-24 * (np.abs(x).astype(np.float64) @ np.abs(
        lb.PackedLinear(w, "int4", group_size=64).dequantize()).astype(np.float64).T)
    for act in ("int8", "float32"):
        layer = lb.PackedLinear(w, "int4", group_size=64, act=act)
        full = layer(x)
        np.testing.assert_array_equal(full[-9:], layer(x[-9:].copy()))  # GEMM and GEMM
        for k in (1, 3, 4):
            part = layer(x[-k:].copy())  # GEMV
            if act == "int8":
                np.testing.assert_array_equal(part, full[-k:])
            else:
                assert np.all(np.abs(part - exact[-k:]) <= bound[-k:])
                assert np.all(np.abs(full[-k:] - exact[-k:]) <= bound[-k:])


# ---------------------------------------------------------------- register-blocked GEMM tiles
# The AVX-512 GEMM runs 6-row x 64-column tiles over a per-call packed panel
# (gemm_tile_avx512.cc): M tails 1..5 of the 6-row tile, N tails of the
# 64-column panel (72 = 64 + 8, 200 = 3 * 64 + 8), groups with a 32-element
# chunk, K above one panel word block.  At other levels the same calls test
# their own kernels against the same oracles.
TILE_SHAPES = [  # (M, N, K, group)
    (1, 72, 256, 128),
    (3, 200, 256, 128),
    (17, 72, 384, 128),
    (65, 200, 256, 64),
    (17, 200, 288, 96),   # 64 + 32-chunk per group
    (65, 72, 160, 32),    # every group a 32-chunk, K / 4 = 40 words (a 16-word block tail)
    (13, 130, 512, None),  # per-channel
    (7, 64, 1024, 256),
    (7, 2100, 64, 32),    # 33 panels: runs of 4 per chunk, a short last one
]


@pytest.mark.parametrize("fmt", ["int4", "int8"])
@pytest.mark.parametrize("shape", TILE_SHAPES)
def test_gemm_tiles_int8_exact_and_thread_independent(simd, fmt, shape, rng):
    M, N, K, g = shape
    w = make(rng, N, K)
    x = (rng.standard_normal((M, K)) * 2).astype(np.float32)
    x[-1, : K // 2] = 0.0
    bias = rng.standard_normal(N).astype(np.float32) if M % 2 else None
    layer = PackedLinear(w, fmt, group_size=g, act="int8", bias=bias)
    gg = layer.group_size
    codes, ws = quantize_ref(w, QMAX[fmt], gg)
    xq, xs = tokens_ref(x)
    want = int_path_ref(xq, xs[:, 0], codes, ws, gg, bias)
    with scalecore.num_threads(1):
        y1 = layer(x)
    with scalecore.num_threads(2):
        y2 = layer(x)
    np.testing.assert_array_equal(y1, want)
    np.testing.assert_array_equal(y2, want)
    yr = _core.lowbit_linear(layer.packed, layer.scales, fmt, K, gg, xq=xq, xs=xs[:, 0], bias=bias, impl="ref")
    np.testing.assert_array_equal(yr, want)


def bf16_bound_check(y, xb, wd, ws, g, bias, K):
    """gemm.h's LB_A_BF16 bound: the float32 one plus 2^-118 sum_k |ws|."""
    x64, w64 = xb.astype(np.float64), wd.astype(np.float64)
    exact = x64 @ w64.T
    mag = np.abs(x64) @ np.abs(w64).T
    if bias is not None:
        exact, mag = exact + bias, mag + np.abs(bias)
    absterm = 2.0 ** -118 * g * np.abs(ws.astype(np.float64)).sum(axis=1)
    bound = (K + 3) * U * mag + absterm[None, :]
    err = np.abs(y.astype(np.float64) - exact)
    assert y.dtype == np.float32
    assert np.all(err <= bound), f"max err/bound {np.max(err / bound):.3g}"


@pytest.mark.parametrize("fmt", ["int4", "int8", "mxfp4"])
@pytest.mark.parametrize("shape", TILE_SHAPES)
def test_gemm_tiles_bf16(simd, fmt, shape, rng):
    """act="bfloat16" (the AVX512_BF16 tiles where present, else the float
    kernel of the level on the rounded x): within the stated bound of the
    float64 product of the dequantized weights and the bf16-rounded x, the
    same bits on 1 and 2 threads, and the reference within the same bound."""
    M, N, K, g = shape
    if fmt == "mxfp4":
        g = 32
    w = make(rng, N, K)
    x = rng.standard_normal((M, K)).astype(np.float32)
    x[0, 1] = 1e-39  # a bf16 subnormal (flushed by vdpbf16ps: the absolute term)
    x[-1, 3] = 3.0e-39
    bias = rng.standard_normal(N).astype(np.float32) if M % 2 else None
    layer = PackedLinear(w, fmt, group_size=g, act="bfloat16", bias=bias)
    gg = layer.group_size
    xb = bf16_ref(x)
    wd = layer.dequantize()
    with scalecore.num_threads(1):
        y1 = layer(x)
    with scalecore.num_threads(2):
        y2 = layer(x)
    np.testing.assert_array_equal(y1, y2)
    bf16_bound_check(y1, xb, wd, layer.scales, gg, bias, K)
    yr = _core.lowbit_linear(layer.packed, layer.scales, layer._kfmt, K, layer._lgroup, x=x, bias=bias, impl="ref",
                             bf16=True)
    bf16_bound_check(yr, xb, wd, layer.scales, gg, bias, K)
    # the kernel's own rounding equals rounding first (lowbit_round_bf16 / ml_dtypes)
    np.testing.assert_array_equal(layer(xb), y1)


def test_gemm_tiles_bf16_nan_rows_and_bad_flags(rng):
    w = make(rng, 70, 128)
    layer = PackedLinear(w, "int4", act="bfloat16")
    x = rng.standard_normal((9, 128)).astype(np.float32)
    x[2, 5] = np.nan
    x[4, 0] = np.inf
    y = layer(x)
    assert np.isnan(y[2]).all() and not np.isfinite(y[4]).any()
    assert np.isfinite(y[[0, 1, 3, 5, 6, 7, 8]]).all()
    with pytest.raises(ValueError, match="bf16"):
        _core.lowbit_linear(layer.packed, layer.scales, "int4", 128, 128, x=x, quantize_x=True, bf16=True)
