// Per-element encode/decode of every element format of formats.def, written
// once for host and device (SC_HD).  The CPU kernels (cpp/src/lowbit) and the
// CUDA kernels (cuda/lowbit) call these functions, so the CPU tests, which
// compare them bit for bit with ml_dtypes 0.6.0, test the device math.
//
// Encoding float32 -> minifloat (KIND float, MBITS > 0), for every rounding:
//   The magnitude's significand m (24 bits with the implicit one) is shifted
//   right by s = (23 - MBITS) + max(0, emin - e), e the float32 exponent and
//   emin = 1 - BIAS the target's smallest normal exponent, and rounded
//   (RNE, half-away or stochastic).  code = ((max(e, emin) + BIAS - 1) << MBITS)
//   + rounded; a carry out of the mantissa moves to the next binade and a
//   subnormal that rounds up to 2^emin becomes the smallest normal, both by
//   the addition.  The sign is the input's (so -tiny -> -0).
//   Overflow (code > max_code after rounding) and +-Inf:
//     saturate = true: +-max;
//     saturate = false: Inf (IEEE: E5M2), NaN (FN: E4M3FN, UE5M3), +-max
//       (NONE: FP6/FP4, which have neither; ml_dtypes saturates them too).
//   NaN: the format's NaN with the input's sign (FN / IEEE; no payload);
//     FP6/FP4 have no NaN: a zero with the opposite sign (NaN -> -0, -NaN ->
//     +0), which is ml_dtypes 0.6.0's result.
//   Unsigned formats (E8M0, UE5M3): a negative input (not -0) is NaN.
// E8M0 (MBITS = 0): value 2^(code - 127), 0xFF NaN, no zero: 0 and values
//   below 2^-127 are encoded as ml_dtypes 0.6.0 does (see lb_encode_e8m0).
// Integers (KIND int): round to an integer (RNE / half-away / stochastic),
//   then clamp to [min, max] of the type (saturation is the only mode);
//   NaN -> 0, +-Inf -> max / min.  Codes are two's complement in BITS bits.
//
// Stochastic rounding: `rnd` is 32 uniform bits (philox.h).  The result
// rounds away from zero with probability rem / 2^s (rem: the bits shifted
// out), exactly for s <= 32 and to within 2^-32 beyond (inputs far below
// the smallest subnormal); E[decode(encode(x))] = x inside the range.
#pragma once
#include <stdint.h>
#if !defined(__CUDA_ARCH__)
#include <string.h>
#endif

#include "scalecore/common/hd.h"
#include "scalecore/lowbit/traits.h"

SC_FAMILY_NS_BEGIN(lowbit)

SC_HD uint32_t lb_f32_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t u;
  memcpy(&u, &x, 4);
  return u;
#endif
}

SC_HD float lb_bits_f32(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float x;
  memcpy(&x, &u, 4);
  return x;
#endif
}

// m >> s rounded by `mode` (s >= 1; m < 2^24).
SC_HD uint32_t lb_round_shift(uint32_t m, int s, int mode, uint32_t rnd) {
  if (mode == SC_LB_ROUND_STOCHASTIC) {
    if (s >= 57) return 0u;  // P(up) = m / 2^s < 2^-32
    const uint64_t mm = m;
    const uint32_t q = s >= 32 ? 0u : m >> s;
    const uint64_t rem = mm & ((uint64_t(1) << s) - 1u);
    const uint64_t thr = s <= 32 ? rem << (32 - s) : rem >> (s - 32);
    return q + (static_cast<uint64_t>(rnd) < thr ? 1u : 0u);
  }
  if (s > 25) s = 25;  // m < 2^24 <= half: rounds to 0 either way
  const uint32_t q = m >> s, rem = m & ((1u << s) - 1u), half = 1u << (s - 1);
  const bool up = mode == SC_LB_ROUND_HALF_AWAY ? rem >= half : (rem > half || (rem == half && (q & 1u)));
  return q + (up ? 1u : 0u);
}

// float32 -> E8M0 (unsigned, 8 exponent bits, bias 127, no mantissa): the
// rule of ml_dtypes 0.6.0's float8_e8m0fnu cast, checked on all float16 and
// bfloat16 inputs: a significand at or above 1.5 rounds up (ties away),
// every positive value up to 2^-127 (down to the smallest float32
// subnormal) encodes as 0x00 = 2^-127, and (2^-127, 2^-126) as 0x01;
// 0, negatives and NaN give 0xFF.
SC_HD uint32_t lb_encode_e8m0(float x, bool saturate, int mode, uint32_t rnd) {
  const uint32_t u = lb_f32_bits(x);
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u || (u >> 31) || a == 0u) return 0xFFu;  // NaN, negative, zero: NaN
  if (a == 0x7F800000u) return saturate ? 0xFEu : 0xFFu;
  const int e = static_cast<int>(a >> 23);
  const uint32_t m = a & 0x7FFFFFu;
  if (e == 0) {
    // float32 subnormal (0, 2^-126): ml_dtypes gives 2^-127 (code 0) up to
    // and including 2^-127 and 2^-126 (code 1) above it; stochastically, up
    // with probability (x - 2^-127) / 2^-127 above 2^-127.
    if (m <= 0x400000u) return 0u;
    if (mode == SC_LB_ROUND_STOCHASTIC)
      return (static_cast<uint64_t>(rnd) << 22) < (static_cast<uint64_t>(m - 0x400000u) << 32) ? 1u : 0u;
    return 1u;
  }
  // value = 2^(e - 127) * (1 + m / 2^23); round the significand to {1, 2}.
  uint32_t up;
  if (mode == SC_LB_ROUND_STOCHASTIC)
    up = (static_cast<uint64_t>(rnd) << 23) < (static_cast<uint64_t>(m) << 32) ? 1u : 0u;  // P = m / 2^23
  else
    up = m >= 0x400000u ? 1u : 0u;  // ties (1.5) up: ml_dtypes' rule for both modes
  const int code = e + static_cast<int>(up);  // biased exponent of the result
  if (code > 254) return saturate ? 0xFEu : 0xFFu;
  return static_cast<uint32_t>(code);
}

template <int F>
SC_HD uint32_t lb_encode_float(float x, bool saturate, int mode, uint32_t rnd) {
  typedef ElemTraits<F> T;
  const uint32_t u = lb_f32_bits(x);
  const uint32_t sign = (u >> 31) ? T::sign_bit : 0u;
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) {  // NaN
    if (T::specials == SC_LB_SPECIALS_NONE) return T::sign_bit ^ sign;  // ml_dtypes: NaN -> -0, -NaN -> +0
    return T::nan_code | sign;
  }
  if (!T::is_signed && (u >> 31) && a != 0u) return T::nan_code;  // negative into an unsigned format
  uint32_t code;
  if (a == 0x7F800000u) {
    code = T::max_code + 1u;  // overflows below
  } else {
    int e = static_cast<int>(a >> 23) - 127;
    uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
    if ((a >> 23) == 0u) {
      e = -126;
      m = a & 0x7FFFFFu;
    }
    const int et = e > T::emin ? e : T::emin;
    const int s = (23 - T::mbits) + (et - e);
    const uint32_t q = lb_round_shift(m, s, mode, rnd);
    code = (static_cast<uint32_t>(et + T::bias - 1) << T::mbits) + q;
  }
  if (code > T::max_code) {
    if (saturate || T::specials == SC_LB_SPECIALS_NONE)
      code = T::max_code;
    else if (T::specials == SC_LB_SPECIALS_IEEE)
      code = T::inf_code;
    else
      code = T::nan_code;
  }
  return code | sign;
}

template <int F>
SC_HD uint32_t lb_encode_int(float x, int mode, uint32_t rnd) {
  typedef ElemTraits<F> T;
  const int lo = T::is_signed ? -(1 << (T::bits - 1)) : 0;
  const int hi = T::is_signed ? (1 << (T::bits - 1)) - 1 : (1 << T::bits) - 1;
  const uint32_t u = lb_f32_bits(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0u;  // NaN -> 0
  float a = lb_bits_f32(u & 0x7FFFFFFFu);
  if (a > 1024.0f) a = 1024.0f;  // beyond every range: clamps below
  const float fl = static_cast<float>(static_cast<int>(a));  // floor (a >= 0)
  const float frac = a - fl;                                // exact
  int r = static_cast<int>(fl);
  bool up;
  if (mode == SC_LB_ROUND_STOCHASTIC)
    up = static_cast<float>(rnd >> 8) * (1.0f / 16777216.0f) < frac;  // frac has < 24 fraction bits here
  else if (mode == SC_LB_ROUND_HALF_AWAY)
    up = frac >= 0.5f;
  else
    up = frac > 0.5f || (frac == 0.5f && (r & 1));
  r += up ? 1 : 0;
  int v = (u >> 31) ? -r : r;
  v = v < lo ? lo : (v > hi ? hi : v);
  return static_cast<uint32_t>(v) & ((1u << T::bits) - 1u);
}

// Encodes one float32 into format F (one code in the low BITS bits).
template <int F>
SC_HD uint32_t lb_encode(float x, bool saturate, int mode, uint32_t rnd) {
  typedef ElemTraits<F> T;
  if (T::kind == SC_LB_INT) return lb_encode_int<F>(x, mode, rnd);
  if (T::mbits == 0) return lb_encode_e8m0(x, saturate, mode, rnd);
  return lb_encode_float<F>(x, saturate, mode, rnd);
}

// Decodes one code (bits above BITS are ignored) into float32.  NaN codes
// give a quiet NaN carrying the code's sign.
template <int F>
SC_HD float lb_decode(uint32_t code) {
  typedef ElemTraits<F> T;
  code &= (1u << T::bits) - 1u;
  if (T::kind == SC_LB_INT) {
    int v = static_cast<int>(code);
    if (T::is_signed && (code & T::sign_bit)) v -= 1 << T::bits;
    return static_cast<float>(v);
  }
  const uint32_t sign = (code & T::sign_bit) ? 0x80000000u : 0u;
  const uint32_t mag = code & T::mag_mask;
  if (T::specials == SC_LB_SPECIALS_FN && mag == T::nan_code) return lb_bits_f32(0x7FC00000u | sign);
  if (T::specials == SC_LB_SPECIALS_IEEE && mag >= T::inf_code)
    return lb_bits_f32((mag == T::inf_code ? 0x7F800000u : 0x7FC00000u) | sign);
  if (T::mbits == 0) {  // E8M0: 2^(mag - 127); mag 0 is the float32 subnormal 2^-127
    return lb_bits_f32(mag == 0u ? 0x00400000u : mag << 23);
  }
  const uint32_t e = mag >> T::mbits, m = mag & ((1u << T::mbits) - 1u);
  uint32_t bits;
  if (e == 0u) {
    // m * 2^(emin - mbits): exact in float32 (emin - mbits >= -17)
    const float v = static_cast<float>(m) * lb_bits_f32(static_cast<uint32_t>(127 + T::emin - T::mbits) << 23);
    bits = lb_f32_bits(v);
  } else {
    bits = ((e - T::bias + 127) << 23) | (m << (23 - T::mbits));
  }
  return lb_bits_f32(bits | sign);
}

SC_FAMILY_NS_END

// ---------------------------------------------------------------------------
// Block math shared by the CPU and CUDA quantizers.
// ---------------------------------------------------------------------------
SC_FAMILY_NS_BEGIN(lowbit)

// 2^e as float32 for e in [-149, 127] (subnormal powers included).
SC_HD float lb_pow2(int e) {
  return e >= -126 ? lb_bits_f32(static_cast<uint32_t>(e + 127) << 23) : lb_bits_f32(1u << (e + 149));
}

// floor(log2(a)) of a finite a > 0, float32 subnormals included.
SC_HD int lb_floor_log2(float a) {
  uint32_t b = lb_f32_bits(a) & 0x7FFFFFFFu;
  if (b >= 0x00800000u) return static_cast<int>(b >> 23) - 127;
  int e = -127;
  while (!(b & 0x00400000u)) {
    b <<= 1;
    --e;
  }
  return e;
}

// The OCP MX v1.0 shared scale of a block with absolute maximum `amax`, as
// an E8M0 code (2^(code - 127)):
//   e = floor(log2(amax)) - emax(element), clamped to [-127, 127];
//   amax == 0: microxcaling's rule, floor(log2(2^-126)) - emax, clamped
//     (the block's codes are all 0 whatever the scale);
//   amax NaN or Inf: 0xFF (NaN): OCP MX makes every element of a block with
//     a NaN scale NaN, which is what dequantize returns.
SC_HD uint32_t lb_mx_scale_code(float amax, int emax) {
  const uint32_t b = lb_f32_bits(amax) & 0x7FFFFFFFu;
  if (b >= 0x7F800000u) return 0xFFu;
  int e = (b == 0u ? -126 : lb_floor_log2(amax)) - emax;
  e = e < -127 ? -127 : (e > 127 ? 127 : e);
  return static_cast<uint32_t>(e + 127);
}

// One MX element: x / 2^e (inv = 2^-e exactly), encoded with saturation
// (OCP MX v1.0 / microxcaling `saturate_normals=True`).  For MXINT8 the
// element is fixed point 1.6: clamp(round(x / 2^e * 64), -127, 127)
// (sign-magnitude range, as microxcaling: no -128).
template <int Elem>
SC_HD uint32_t lb_mx_encode_elem(float x, float inv, int mode, uint32_t rnd) {
  if (ElemTraits<Elem>::kind == SC_LB_INT) {
    uint32_t c = lb_encode_int<Elem>(x * inv * 64.0f, mode, rnd);
    return c == 0x80u ? 0x81u : c;
  }
  return lb_encode<Elem>(x * inv, true, mode, rnd);
}

// NVFP4 block scale (NVIDIA's two-level recipe, as torchao's nvfp4_quantize):
// E4M3(clamp(amax_b / 6 / s_t, 2^-6, 448)) by RNE; every step in float32.
SC_HD uint32_t lb_nvfp4_scale_code(float amax_b, float s_t) {
  float v = (amax_b / 6.0f) / s_t;
  v = v < 0.015625f ? 0.015625f : (v > 448.0f ? 448.0f : v);
  return lb_encode<SC_LB_FLOAT8_E4M3FN>(v, true, SC_LB_ROUND_NEAREST_EVEN, 0u);
}

// NVFP4 element: E2M1(clamp(x / (s_t * s_b), -6, 6)).  The inputs are
// finite (the driver raises otherwise), so a NaN quotient is 0 / 0: x = 0 in
// a block whose total scale underflowed to 0 (a subnormal tensor scale); its
// code is 0.
SC_HD uint32_t lb_nvfp4_encode_elem(float x, float total, int mode, uint32_t rnd) {
  float v = x / total;
  if (v != v) v = 0.0f;
  v = v < -6.0f ? -6.0f : (v > 6.0f ? 6.0f : v);
  return lb_encode<SC_LB_FLOAT4_E2M1FN>(v, true, mode, rnd);
}

SC_FAMILY_NS_END
