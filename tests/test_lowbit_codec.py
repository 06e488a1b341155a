"""Element codecs against ml_dtypes 0.6.0, bit for bit, at every SIMD level.

Every FP8/FP6/FP4/E8M0 encode equals ml_dtypes' cast on all 65,536 float16 and
all 65,536 bfloat16 inputs, on float32 specials (+-0, +-Inf, NaN, subnormals,
max, just above max, midpoints) and on random float32 bit patterns; in the
saturating mode the reference clips to +-max first.  Decode equals ml_dtypes
on every code.  The reference kernels (impl=1, the SC_HD per-element codecs
the CUDA kernels run) are checked the same way.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from scalecore import _core, lowbit

ML = ["float8_e4m3fn", "float8_e5m2", "float6_e3m2fn", "float6_e2m3fn", "float4_e2m1fn", "float8_e8m0fnu"]
FMAX = {f: float(ml_dtypes.finfo(getattr(ml_dtypes, f)).max) for f in ML}


def _all16(kind: str) -> np.ndarray:
    u = np.arange(65536, dtype=np.uint16)
    return u.view(np.float16) if kind == "float16" else u.view(ml_dtypes.bfloat16)


def _specials(fmt: str) -> np.ndarray:
    m = np.float32(FMAX[fmt])
    tiny = [np.float32(2.0**e) for e in (-149, -140, -130, -128, -127, -126, -20, -17, -16, -10, -9, -7)]
    vals = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, -1.0, 1.5, 3.0, 0.75, 0.25, 0.5,
            np.finfo(np.float32).max, -np.finfo(np.float32).max, np.finfo(np.float32).tiny,
            np.float32(1e-45), np.float32(3e-45), np.float32(1.1e-38), m, -m,
            np.nextafter(m, np.float32(np.inf)), -np.nextafter(m, np.float32(np.inf)),
            np.float32(m * 1.0625), np.float32(m * 1.125), np.float32(m * 1.0703125), np.float32(m * 2), 1e6, -1e30,
            464.0, 480.0, 61440.0, 57344.0, 65536.0, 28.0, 30.0, 32.0, 7.5, 7.75, 8.0, 6.0, 5.0, 7.0, 100.0]
    vals += tiny + [-t for t in tiny] + [np.float32(t * 1.5) for t in tiny] + [np.float32(t * 1.25) for t in tiny]
    nan_payloads = np.array([0x7F800001, 0xFF800001, 0x7FC00001, 0x7FFFFFFF, 0xFFA00000, 0x7F900000],
                            dtype=np.uint32).view(np.float32)
    return np.concatenate([np.array(vals, dtype=np.float32), nan_payloads])


def _ref_encode(x: np.ndarray, fmt: str, saturate: bool) -> np.ndarray:
    dt = getattr(ml_dtypes, fmt)
    if saturate:  # clip first (in float32: E8M0's max is not a float16)
        m = np.float32(FMAX[fmt])
        x = np.clip(x.astype(np.float32), -m, m)
    return x.astype(dt).view(np.uint8)


def _check_codes(got: np.ndarray, want: np.ndarray, x: np.ndarray, what: str) -> None:
    bad = np.nonzero(got != want)[0]
    if bad.size:
        i = bad[:8]
        raise AssertionError(f"{what}: {bad.size} codes differ, e.g. x={x[i]!r} "
                             f"bits={x.view(np.uint16 if x.itemsize == 2 else np.uint32)[i]} got={got[i]} want={want[i]}")


@pytest.mark.parametrize("fmt", ML)
@pytest.mark.parametrize("kind", ["float16", "bfloat16"])
@pytest.mark.parametrize("saturate", [False, True])
def test_encode_all_16bit_inputs(simd, fmt, kind, saturate):
    x = _all16(kind)
    want = _ref_encode(x, fmt, saturate)
    _check_codes(lowbit.encode(x, fmt, saturate=saturate), want, x, f"{fmt} {kind} sat={saturate} [{simd}]")


@pytest.mark.parametrize("fmt", ML)
@pytest.mark.parametrize("saturate", [False, True])
def test_encode_float32_specials_and_random(simd, fmt, saturate, rng):
    x = np.concatenate([_specials(fmt), rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32).view(np.float32)])
    want = _ref_encode(x, fmt, saturate)
    _check_codes(lowbit.encode(x, fmt, saturate=saturate), want, x, f"{fmt} float32 sat={saturate} [{simd}]")
    # values near the format's range, where the rounding decisions are
    scale = np.float32(FMAX[fmt]) / np.float32(2.0**rng.integers(-3, 24, 100_000))
    y = (rng.uniform(-1.2, 1.2, 100_000).astype(np.float32) * scale).astype(np.float32)
    _check_codes(lowbit.encode(y, fmt, saturate=saturate), _ref_encode(y, fmt, saturate), y, f"{fmt} near range")


@pytest.mark.parametrize("fmt", ML)
def test_reference_kernels_equal_ml_dtypes(fmt):
    x = np.concatenate([_all16("bfloat16").astype(np.float32), _specials(fmt)])
    for sat in (False, True):
        got = _core.lowbit_encode(x, lowbit.formats[fmt]._elem_id, sat, 0, 0, 1)
        _check_codes(got, _ref_encode(x, fmt, sat), x, f"{fmt} reference sat={sat}")


@pytest.mark.parametrize("fmt", ML)
def test_decode_every_code(simd, fmt):
    bits = lowbit.formats[fmt].bits
    codes = np.arange(256, dtype=np.uint8)
    valid = codes[: 1 << bits]
    want = valid.view(getattr(ml_dtypes, fmt)).astype(np.float32)
    got = lowbit.decode(valid, fmt)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    fin = ~np.isnan(want)
    assert np.array_equal(got[fin].view(np.uint32), want[fin].view(np.uint32))  # exact, signed zeros included
    assert np.array_equal(np.signbit(got[~fin]), np.signbit(want[~fin]))
    # the reference level; bits above the width are ignored
    assert np.array_equal(_core.lowbit_decode(valid, lowbit.formats[fmt]._elem_id, 1).view(np.uint32),
                          got.view(np.uint32))
    hi = (valid | np.uint8((0xFF << bits) & 0xFF)) if bits < 8 else valid
    assert np.array_equal(lowbit.decode(hi, fmt).view(np.uint32), got.view(np.uint32))
    # ml_dtypes arrays decode directly
    assert np.array_equal(lowbit.decode(valid.view(getattr(ml_dtypes, fmt)), fmt).view(np.uint32),
                          got.view(np.uint32))


@pytest.mark.parametrize("fmt", ML)
def test_roundtrip_and_tails(simd, fmt):
    # every odd length up to 70 goes through the vector body and the tail
    vals = lowbit.decode(np.arange(1 << lowbit.formats[fmt].bits, dtype=np.uint8), fmt)
    vals = vals[np.isfinite(vals)]
    for n in (1, 7, 31, 33, 65, 70):
        x = np.resize(vals, n).astype(np.float32)
        assert np.array_equal(lowbit.decode(lowbit.encode(x, fmt), fmt).view(np.uint32), x.view(np.uint32))


def test_float64_goes_through_float32_like_ml_dtypes(rng):
    # ml_dtypes rounds a float64 to float32 first: 1 + 2^-4 + 2^-40 is then an E4M3 tie and rounds to even
    x = np.r_[1.0 + 2.0**-4 + 2.0**-40, -(1.0 + 2.0**-4 + 2.0**-40), 448.0 + 16.0 + 2**-30,
              rng.standard_normal(10_000) * 100, rng.standard_normal(1000) * 1e-3]
    for fmt in ML:
        with np.errstate(invalid="ignore"):
            want = x.astype(getattr(ml_dtypes, fmt)).view(np.uint8)
        assert np.array_equal(lowbit.encode(x, fmt), want), fmt
    assert list(lowbit.encode(x[:3], "float8_e4m3fn")) == [56, 184, 126]
    ints = np.arange(-600, 600)
    assert np.array_equal(lowbit.encode(ints, "float8_e5m2"), ints.astype(ml_dtypes.float8_e5m2).view(np.uint8))


def test_saturation_rules():
    big = np.array([1e6, -1e6, np.inf, -np.inf, np.nan], dtype=np.float32)
    assert list(lowbit.decode(lowbit.encode(big, "float8_e4m3fn", saturate=True), "float8_e4m3fn")[:4]) == [448, -448, 448, -448]
    nonsat = lowbit.decode(lowbit.encode(big, "float8_e4m3fn"), "float8_e4m3fn")
    assert np.isnan(nonsat).all()
    e5 = lowbit.decode(lowbit.encode(big, "float8_e5m2"), "float8_e5m2")
    assert list(e5[:4]) == [np.inf, -np.inf, np.inf, -np.inf] and np.isnan(e5[4])
    assert list(lowbit.decode(lowbit.encode(big, "float8_e5m2", saturate=True), "float8_e5m2")[:4]) == [57344, -57344, 57344, -57344]
    assert list(lowbit.decode(lowbit.encode(big, "float4_e2m1fn"), "float4_e2m1fn")[:4]) == [6, -6, 6, -6]


def test_ue5m3():
    f = lowbit.formats["ue5m3"]
    assert (f.bits, f.exponent_bits, f.mantissa_bits, f.bias, f.signed, f.specials) == (8, 5, 3, 15, False, "fn")
    assert f.max == 114688.0 and f.min_normal == 2.0**-14 and f.min_subnormal == 2.0**-17
    codes = np.arange(256, dtype=np.uint8)
    vals = lowbit.decode(codes, "ue5m3")
    assert np.isnan(vals[255]) and np.isfinite(vals[:255]).all()
    # an independent definition: e = code >> 3, m = code & 7
    e, m = codes[:255].astype(np.float64) // 8, codes[:255].astype(np.float64) % 8
    want = np.where(e == 0, m / 8 * 2.0**-14, (1 + m / 8) * 2.0 ** (e - 15))
    assert np.array_equal(vals[:255].astype(np.float64), want)
    # encode = round to nearest of the value grid, ties to the even code
    rng = np.random.default_rng(3)
    x = np.exp(rng.uniform(np.log(2.0**-19), np.log(1.3e5), 50_000)).astype(np.float32)
    got = lowbit.encode(x, "ue5m3", saturate=True)
    grid = want
    idx = np.clip(np.searchsorted(grid, x.astype(np.float64)), 1, 254)
    lo, hi = grid[idx - 1], grid[idx]
    d_lo, d_hi = x - lo, hi - x
    near = np.where(d_lo < d_hi, idx - 1, np.where(d_hi < d_lo, idx, np.where((idx - 1) % 2 == 0, idx - 1, idx)))
    near = np.where(x >= grid[254], 254, near)
    assert np.array_equal(got, near.astype(np.uint8))
    assert lowbit.encode(np.float32(-1.0), "ue5m3") == 255 and lowbit.encode(np.float32(-0.0), "ue5m3") == 0
    assert lowbit.encode(np.float32(1e6), "ue5m3") == 255 and lowbit.encode(np.float32(1e6), "ue5m3", saturate=True) == 254


def test_integer_elements():
    x = np.array([-9.0, -8.5, -7.5, -0.5, 0.5, 1.5, 2.5, 7.4, 7.6, np.nan, np.inf, -np.inf], dtype=np.float32)
    got = lowbit.decode(lowbit.encode(x, "int4"), "int4")
    assert list(got) == [-8, -8, -8, -0.0, 0, 2, 2, 7, 7, 0, 7, -8]
    assert list(lowbit.decode(lowbit.encode(np.float32([300, -300, 126.5]), "int8"), "int8")) == [127, -128, 126]
    assert list(lowbit.decode(lowbit.encode(np.float32([-1, 15.6, 3.5]), "uint4"), "uint4")) == [0, 15, 4]


def test_format_catalogue_and_errors():
    assert {"float8_e4m3fn", "mxfp4", "nvfp4", "ue5m3", "int4", "uint4", "mxint8"} <= set(lowbit.formats)
    assert lowbit.formats["float8_e4m3fn"].max == 448.0 and lowbit.formats["float8_e5m2"].max == 57344.0
    assert lowbit.formats["float6_e3m2fn"].max == 28.0 and lowbit.formats["float6_e2m3fn"].max == 7.5
    assert lowbit.formats["float4_e2m1fn"].max == 6.0 and lowbit.formats["mxfp4"].block == 32
    assert lowbit.formats["nvfp4"].scale == "float8_e4m3fn" and lowbit.formats["nvfp4"].tensor_scale
    for f in ML:
        fi = ml_dtypes.finfo(getattr(ml_dtypes, f))
        assert lowbit.formats[f].max == float(fi.max)
        assert lowbit.formats[f].min_subnormal == float(fi.smallest_subnormal)
    assert "mxfp4" in repr(lowbit.formats)
    with pytest.raises(ValueError, match="known formats: .*float8_e4m3fn.*mxfp4"):
        lowbit.encode(np.zeros(3, np.float32), "fp8")
    with pytest.raises(ValueError, match="use quantize"):
        lowbit.encode(np.zeros(3, np.float32), "mxfp4")
    with pytest.raises(ValueError, match="rounding"):
        lowbit.encode(np.zeros(3, np.float32), "int8", rounding="up")
    with pytest.raises(TypeError, match="x: expected"):
        lowbit.encode(np.array(["a"]), "int8")
    with pytest.raises(TypeError, match="codes: expected a uint8"):
        lowbit.decode(np.zeros(3, np.int32), "int8")
    with pytest.raises(TypeError, match="fmt"):
        lowbit.encode(np.zeros(3, np.float32), 3)


def test_shapes_and_threads():
    assert lowbit.encode(np.float32(3.0), "float8_e4m3fn").shape == () and lowbit.encode([], "int4").shape == (0,)
    assert lowbit.decode(np.uint8(0x38), "float8_e4m3fn") == 1.0 and lowbit.decode(np.uint8(0x38), "float8_e4m3fn").shape == ()
    import scalecore
    x = np.random.default_rng(0).standard_normal((3, 70001)).astype(np.float32)
    ref = lowbit.encode(x, "float8_e5m2")
    assert ref.shape == x.shape and ref.dtype == np.uint8
    for n in (1, 2, 3):
        with scalecore.num_threads(n):
            assert np.array_equal(lowbit.encode(x, "float8_e5m2"), ref)
