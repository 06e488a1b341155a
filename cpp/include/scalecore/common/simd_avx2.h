// AVX2/FMA pack types: F64x4 (4 doubles) and F32x8 (8 floats), with the same
// vocabulary as the scalars in simd.h.  Include only from *_avx2.cc files,
// which are compiled with -mavx2 -mfma and SC_ISA=isa_avx2.
//
// exp and log are evaluated in-register (argument reduction + polynomial) to
// within 1-2 ulp of the correctly rounded result (tests/test_simd.py checks
// them against libm over the full range).  The less frequent functions (tanh,
// sin, cos, atan, expm1) call libm lane by lane.
#pragma once
#if !defined(__AVX2__) || !defined(__FMA__)
#error "simd_avx2.h must be compiled with -mavx2 -mfma"
#endif
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "scalecore/common/simd.h"

SC_NS_BEGIN

// ===========================================================================
// double x 4
// ===========================================================================
struct M64x4 {
  __m256d v;
};
struct F64x4 {
  __m256d v;
  F64x4() = default;
  F64x4(double s) : v(_mm256_set1_pd(s)) {}  // NOLINT: implicit broadcast
  explicit F64x4(__m256d x) : v(x) {}
  static F64x4 load(const double* p) { return F64x4(_mm256_loadu_pd(p)); }
  void store(double* p) const { _mm256_storeu_pd(p, v); }
};
template <>
struct lanes_of<F64x4> {
  static constexpr int value = 4;
};
template <>
struct scalar_of<F64x4> {
  using type = double;
};

inline F64x4 operator+(F64x4 a, F64x4 b) { return F64x4(_mm256_add_pd(a.v, b.v)); }
inline F64x4 operator-(F64x4 a, F64x4 b) { return F64x4(_mm256_sub_pd(a.v, b.v)); }
inline F64x4 operator*(F64x4 a, F64x4 b) { return F64x4(_mm256_mul_pd(a.v, b.v)); }
inline F64x4 operator/(F64x4 a, F64x4 b) { return F64x4(_mm256_div_pd(a.v, b.v)); }
inline F64x4 operator-(F64x4 a) { return F64x4(_mm256_xor_pd(a.v, _mm256_set1_pd(-0.0))); }
inline F64x4& operator+=(F64x4& a, F64x4 b) { return a = a + b; }
inline F64x4& operator-=(F64x4& a, F64x4 b) { return a = a - b; }
inline F64x4& operator*=(F64x4& a, F64x4 b) { return a = a * b; }
inline F64x4& operator/=(F64x4& a, F64x4 b) { return a = a / b; }
inline M64x4 operator<(F64x4 a, F64x4 b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_LT_OQ)}; }
inline M64x4 operator<=(F64x4 a, F64x4 b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_LE_OQ)}; }
inline M64x4 operator>(F64x4 a, F64x4 b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_GT_OQ)}; }
inline M64x4 operator>=(F64x4 a, F64x4 b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_GE_OQ)}; }
inline M64x4 operator==(F64x4 a, F64x4 b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_EQ_OQ)}; }
inline M64x4 operator!=(F64x4 a, F64x4 b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_NEQ_UQ)}; }
inline M64x4 operator&(M64x4 a, M64x4 b) { return {_mm256_and_pd(a.v, b.v)}; }
inline M64x4 operator|(M64x4 a, M64x4 b) { return {_mm256_or_pd(a.v, b.v)}; }
inline M64x4 operator!(M64x4 a) {
  return {_mm256_xor_pd(a.v, _mm256_castsi256_pd(_mm256_set1_epi64x(-1)))};
}
inline F64x4 select(M64x4 m, F64x4 a, F64x4 b) { return F64x4(_mm256_blendv_pd(b.v, a.v, m.v)); }
inline bool any_of(M64x4 m) { return _mm256_movemask_pd(m.v) != 0; }
inline bool all_of(M64x4 m) { return _mm256_movemask_pd(m.v) == 0xf; }
inline unsigned mask_bits(M64x4 m) { return static_cast<unsigned>(_mm256_movemask_pd(m.v)); }
inline M64x4 mask_from_bits64(unsigned bits) {
  const __m256i sel = _mm256_set_epi64x(8, 4, 2, 1);
  const __m256i b = _mm256_set1_epi64x(bits);
  return {_mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(b, sel), sel))};
}
inline M64x4 isfinite_v(F64x4 x) {
  // x - x is 0 for finite x and NaN for inf/NaN.
  return {_mm256_cmp_pd(_mm256_sub_pd(x.v, x.v), _mm256_setzero_pd(), _CMP_EQ_OQ)};
}
inline F64x4 vabs(F64x4 x) { return F64x4(_mm256_andnot_pd(_mm256_set1_pd(-0.0), x.v)); }
inline F64x4 vsqrt(F64x4 x) { return F64x4(_mm256_sqrt_pd(x.v)); }
// NaN-propagating min/max (as the scalar versions).
inline F64x4 vmin(F64x4 a, F64x4 b) {
  __m256d r = _mm256_min_pd(b.v, a.v);  // returns a.v if either is NaN
  return F64x4(_mm256_blendv_pd(r, b.v, _mm256_cmp_pd(b.v, b.v, _CMP_UNORD_Q)));
}
inline F64x4 vmax(F64x4 a, F64x4 b) {
  __m256d r = _mm256_max_pd(b.v, a.v);
  return F64x4(_mm256_blendv_pd(r, b.v, _mm256_cmp_pd(b.v, b.v, _CMP_UNORD_Q)));
}
inline F64x4 fmadd(F64x4 a, F64x4 b, F64x4 c) { return F64x4(_mm256_fmadd_pd(a.v, b.v, c.v)); }
inline double lane(F64x4 x, int i) {
  alignas(32) double t[4];
  _mm256_store_pd(t, x.v);
  return t[i];
}
inline void set_lane(F64x4& x, int i, double s) {
  alignas(32) double t[4];
  _mm256_store_pd(t, x.v);
  t[i] = s;
  x.v = _mm256_load_pd(t);
}
inline double hsum(F64x4 x) {
  __m128d lo = _mm256_castpd256_pd128(x.v), hi = _mm256_extractf128_pd(x.v, 1);
  lo = _mm_add_pd(lo, hi);
  return _mm_cvtsd_f64(_mm_add_sd(lo, _mm_unpackhi_pd(lo, lo)));
}

// 2^n for integral-valued n in [-1022, 1023].
inline __m256d sc_pow2i_pd(__m256d n) {
  const __m256d magic = _mm256_set1_pd(6755399441055744.0);  // 1.5 * 2^52
  __m256i i = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(n, magic)),
                               _mm256_castpd_si256(magic));
  i = _mm256_slli_epi64(_mm256_add_epi64(i, _mm256_set1_epi64x(1023)), 52);
  return _mm256_castsi256_pd(i);
}

// exp for |x| <= 708 (every lane): n = round(x / ln2) through the
// 1.5 * 2^52 shifter, r = x - n ln2 (two-part ln2), exp(r) = 1 + r + r^2 q(r)
// with q a degree-9 Chebyshev fit of (e^r - 1 - r)/r^2 on [-ln2/2, ln2/2]
// (relative error 1.3e-17, computed with mpmath.chebyfit), and 2^n added
// straight into the exponent bits.
inline __m256d sc_exp_core_pd(__m256d x, __m256d& t_out) {
  const __m256d shifter = _mm256_set1_pd(6755399441055744.0);  // 1.5 * 2^52
  const __m256d t = _mm256_fmadd_pd(x, _mm256_set1_pd(1.4426950408889634), shifter);
  const __m256d n = _mm256_sub_pd(t, shifter);
  __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180369123816490e-01), x);
  r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.90821492927058770002e-10), r);
  const __m256d r2 = _mm256_mul_pd(r, r);
  // q(r) by Estrin's scheme (shorter dependency chains than Horner).
  const __m256d r4 = _mm256_mul_pd(r2, r2);
  const __m256d p01 = _mm256_fmadd_pd(_mm256_set1_pd(0.16666666666666669), r, _mm256_set1_pd(0.5000000000000001));
  const __m256d p23 = _mm256_fmadd_pd(_mm256_set1_pd(0.008333333333330065), r, _mm256_set1_pd(0.041666666666624164));
  const __m256d p45 = _mm256_fmadd_pd(_mm256_set1_pd(0.00019841269863040545), r, _mm256_set1_pd(0.0013888888917196719));
  const __m256d p67 = _mm256_fmadd_pd(_mm256_set1_pd(2.7557268480310024e-06), r, _mm256_set1_pd(2.4801521322368692e-05));
  const __m256d p89 = _mm256_fmadd_pd(_mm256_set1_pd(2.5100375832561234e-08), r, _mm256_set1_pd(2.7620075879983367e-07));
  const __m256d p03 = _mm256_fmadd_pd(p23, r2, p01);
  const __m256d p47 = _mm256_fmadd_pd(p67, r2, p45);
  const __m256d p49 = _mm256_fmadd_pd(p89, r4, p47);
  const __m256d q = _mm256_fmadd_pd(p49, r4, p03);
  const __m256d e = _mm256_add_pd(_mm256_fmadd_pd(r2, q, r), _mm256_set1_pd(1.0));
  t_out = t;
  return e;
}

inline F64x4 vexp_slow(F64x4 xin) {
  // Full range: the scale 2^n is applied in two halves so that n up to 1024
  // and down to -1075 work (gradual underflow included), then specials.
  const __m256d x = _mm256_max_pd(_mm256_min_pd(xin.v, _mm256_set1_pd(710.0)), _mm256_set1_pd(-746.0));
  __m256d t;
  const __m256d e = sc_exp_core_pd(x, t);
  const __m256d n = _mm256_sub_pd(t, _mm256_set1_pd(6755399441055744.0));
  const __m256d n1 = _mm256_floor_pd(_mm256_mul_pd(n, _mm256_set1_pd(0.5)));
  const __m256d n2 = _mm256_sub_pd(n, n1);
  __m256d res = _mm256_mul_pd(_mm256_mul_pd(e, sc_pow2i_pd(n1)), sc_pow2i_pd(n2));
  res = _mm256_blendv_pd(res, _mm256_set1_pd(HUGE_VAL),
                         _mm256_cmp_pd(xin.v, _mm256_set1_pd(709.782712893384), _CMP_GT_OQ));
  res = _mm256_blendv_pd(res, _mm256_setzero_pd(),
                         _mm256_cmp_pd(xin.v, _mm256_set1_pd(-745.1332191019412), _CMP_LT_OQ));
  return F64x4(_mm256_blendv_pd(res, xin.v, _mm256_cmp_pd(xin.v, xin.v, _CMP_UNORD_Q)));
}

inline F64x4 vexp(F64x4 xin) {
  // Fast path when every lane is in [-708, 708] (NaN fails the test).
  const __m256d ax = _mm256_andnot_pd(_mm256_set1_pd(-0.0), xin.v);
  if (SC_UNLIKELY(_mm256_movemask_pd(_mm256_cmp_pd(ax, _mm256_set1_pd(708.0), _CMP_NLE_UQ)) != 0))
    return vexp_slow(xin);
  __m256d t;
  const __m256d e = sc_exp_core_pd(xin.v, t);
  return F64x4(_mm256_castsi256_pd(
      _mm256_add_epi64(_mm256_castpd_si256(e), _mm256_slli_epi64(_mm256_castpd_si256(t), 52))));
}

inline F64x4 vlog(F64x4 xin) {
  __m256d x = xin.v;
  // Subnormals: scale into the normal range first.
  const __m256d tiny = _mm256_cmp_pd(x, _mm256_set1_pd(2.2250738585072014e-308), _CMP_LT_OQ);
  x = _mm256_blendv_pd(x, _mm256_mul_pd(x, _mm256_set1_pd(18014398509481984.0)), tiny);  // 2^54
  __m256i bits = _mm256_castpd_si256(x);
  __m256i ei = _mm256_sub_epi64(_mm256_srli_epi64(bits, 52), _mm256_set1_epi64x(1023));
  __m256d m = _mm256_castsi256_pd(_mm256_or_si256(
      _mm256_and_si256(bits, _mm256_set1_epi64x(0x000fffffffffffffLL)),
      _mm256_set1_epi64x(0x3ff0000000000000LL)));
  // Exponent (small integers) to double: take the low dwords of each qword.
  __m256i lo = _mm256_permutevar8x32_epi32(ei, _mm256_set_epi32(7, 5, 3, 1, 6, 4, 2, 0));
  __m256d e = _mm256_cvtepi32_pd(_mm256_castsi256_si128(lo));
  e = _mm256_sub_pd(e, _mm256_and_pd(tiny, _mm256_set1_pd(54.0)));
  const __m256d big = _mm256_cmp_pd(m, _mm256_set1_pd(1.4142135623730951), _CMP_GT_OQ);
  m = _mm256_blendv_pd(m, _mm256_mul_pd(m, _mm256_set1_pd(0.5)), big);
  e = _mm256_add_pd(e, _mm256_and_pd(big, _mm256_set1_pd(1.0)));
  const __m256d f = _mm256_sub_pd(m, _mm256_set1_pd(1.0));
  const __m256d s = _mm256_div_pd(f, _mm256_add_pd(_mm256_set1_pd(2.0), f));
  const __m256d z = _mm256_mul_pd(s, s);
  // Minimax coefficients of log((1+s)/(1-s)) (as in fdlibm's e_log.c).
  // R(z) = Lg1 z + Lg2 z^2 + ... + Lg7 z^7, evaluated by Horner in z.
  __m256d R = _mm256_set1_pd(1.479819860511658591e-01);
  R = _mm256_fmadd_pd(R, z, _mm256_set1_pd(1.531383769920937332e-01));
  R = _mm256_fmadd_pd(R, z, _mm256_set1_pd(1.818357216161805012e-01));
  R = _mm256_fmadd_pd(R, z, _mm256_set1_pd(2.222219843214978396e-01));
  R = _mm256_fmadd_pd(R, z, _mm256_set1_pd(2.857142874366239149e-01));
  R = _mm256_fmadd_pd(R, z, _mm256_set1_pd(3.999999999940941908e-01));
  R = _mm256_fmadd_pd(R, z, _mm256_set1_pd(6.666666666666735130e-01));
  R = _mm256_mul_pd(R, z);
  const __m256d hfsq = _mm256_mul_pd(_mm256_set1_pd(0.5), _mm256_mul_pd(f, f));
  // log(1+f) = f - (hfsq - s*(hfsq+R)); add e*ln2 in two parts.
  __m256d r = _mm256_fmadd_pd(s, _mm256_add_pd(hfsq, R), _mm256_mul_pd(e, _mm256_set1_pd(1.90821492927058770002e-10)));
  r = _mm256_sub_pd(hfsq, r);
  r = _mm256_sub_pd(f, r);
  r = _mm256_fmadd_pd(e, _mm256_set1_pd(6.93147180369123816490e-01), r);
  // Special values: log(0) = -inf, log(x<0) = NaN, log(inf) = inf, NaN -> NaN.
  r = _mm256_blendv_pd(r, _mm256_set1_pd(-HUGE_VAL), _mm256_cmp_pd(xin.v, _mm256_setzero_pd(), _CMP_EQ_OQ));
  r = _mm256_blendv_pd(r, _mm256_set1_pd(NAN), _mm256_cmp_pd(xin.v, _mm256_setzero_pd(), _CMP_LT_OQ));
  r = _mm256_blendv_pd(r, xin.v, _mm256_cmp_pd(xin.v, _mm256_set1_pd(HUGE_VAL), _CMP_EQ_OQ));
  return F64x4(_mm256_blendv_pd(r, xin.v, _mm256_cmp_pd(xin.v, xin.v, _CMP_UNORD_Q)));
}

inline F64x4 vlog1p(F64x4 x) {
  // u = 1 + x rounded; log1p(x) = log(u) + (x - (u - 1)) / u corrects the rounding.
  const F64x4 u = x + F64x4(1.0);
  const F64x4 um1 = u - F64x4(1.0);
  const F64x4 r = vlog(u) + (x - um1) / u;
  // u == 1 (|x| below half an ulp of 1): log1p(x) = x.  u == inf: inf.
  F64x4 out = select(um1 == F64x4(0.0), x, r);
  return select(u == F64x4(HUGE_VAL), u, out);
}

#define SC_LANEWISE_PD(NAME, FN)                \
  inline F64x4 NAME(F64x4 x) {                  \
    alignas(32) double t[4];                    \
    _mm256_store_pd(t, x.v);                    \
    for (int i = 0; i < 4; ++i) t[i] = FN(t[i]); \
    return F64x4(_mm256_load_pd(t));            \
  }
SC_LANEWISE_PD(vtanh, tanh)
SC_LANEWISE_PD(vsin, sin)
SC_LANEWISE_PD(vcos, cos)
SC_LANEWISE_PD(vatan, atan)
SC_LANEWISE_PD(vexpm1, expm1)
#undef SC_LANEWISE_PD

// ===========================================================================
// float x 8
// ===========================================================================
struct M32x8 {
  __m256 v;
};
struct F32x8 {
  __m256 v;
  F32x8() = default;
  F32x8(float s) : v(_mm256_set1_ps(s)) {}  // NOLINT: implicit broadcast
  explicit F32x8(__m256 x) : v(x) {}
  static F32x8 load(const float* p) { return F32x8(_mm256_loadu_ps(p)); }
  void store(float* p) const { _mm256_storeu_ps(p, v); }
};
template <>
struct lanes_of<F32x8> {
  static constexpr int value = 8;
};
template <>
struct scalar_of<F32x8> {
  using type = float;
};

inline F32x8 operator+(F32x8 a, F32x8 b) { return F32x8(_mm256_add_ps(a.v, b.v)); }
inline F32x8 operator-(F32x8 a, F32x8 b) { return F32x8(_mm256_sub_ps(a.v, b.v)); }
inline F32x8 operator*(F32x8 a, F32x8 b) { return F32x8(_mm256_mul_ps(a.v, b.v)); }
inline F32x8 operator/(F32x8 a, F32x8 b) { return F32x8(_mm256_div_ps(a.v, b.v)); }
inline F32x8 operator-(F32x8 a) { return F32x8(_mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f))); }
inline F32x8& operator+=(F32x8& a, F32x8 b) { return a = a + b; }
inline F32x8& operator-=(F32x8& a, F32x8 b) { return a = a - b; }
inline F32x8& operator*=(F32x8& a, F32x8 b) { return a = a * b; }
inline F32x8& operator/=(F32x8& a, F32x8 b) { return a = a / b; }
inline M32x8 operator<(F32x8 a, F32x8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
inline M32x8 operator<=(F32x8 a, F32x8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)}; }
inline M32x8 operator>(F32x8 a, F32x8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
inline M32x8 operator>=(F32x8 a, F32x8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GE_OQ)}; }
inline M32x8 operator==(F32x8 a, F32x8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)}; }
inline M32x8 operator!=(F32x8 a, F32x8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_NEQ_UQ)}; }
inline M32x8 operator&(M32x8 a, M32x8 b) { return {_mm256_and_ps(a.v, b.v)}; }
inline M32x8 operator|(M32x8 a, M32x8 b) { return {_mm256_or_ps(a.v, b.v)}; }
inline M32x8 operator!(M32x8 a) {
  return {_mm256_xor_ps(a.v, _mm256_castsi256_ps(_mm256_set1_epi32(-1)))};
}
inline F32x8 select(M32x8 m, F32x8 a, F32x8 b) { return F32x8(_mm256_blendv_ps(b.v, a.v, m.v)); }
inline bool any_of(M32x8 m) { return _mm256_movemask_ps(m.v) != 0; }
inline bool all_of(M32x8 m) { return _mm256_movemask_ps(m.v) == 0xff; }
inline unsigned mask_bits(M32x8 m) { return static_cast<unsigned>(_mm256_movemask_ps(m.v)); }
inline M32x8 mask_from_bits32(unsigned bits) {
  const __m256i sel = _mm256_set_epi32(128, 64, 32, 16, 8, 4, 2, 1);
  const __m256i b = _mm256_set1_epi32(static_cast<int>(bits));
  return {_mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(b, sel), sel))};
}
inline M32x8 isfinite_v(F32x8 x) {
  return {_mm256_cmp_ps(_mm256_sub_ps(x.v, x.v), _mm256_setzero_ps(), _CMP_EQ_OQ)};
}
inline F32x8 vabs(F32x8 x) { return F32x8(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x.v)); }
inline F32x8 vsqrt(F32x8 x) { return F32x8(_mm256_sqrt_ps(x.v)); }
inline F32x8 vmin(F32x8 a, F32x8 b) {
  __m256 r = _mm256_min_ps(b.v, a.v);
  return F32x8(_mm256_blendv_ps(r, b.v, _mm256_cmp_ps(b.v, b.v, _CMP_UNORD_Q)));
}
inline F32x8 vmax(F32x8 a, F32x8 b) {
  __m256 r = _mm256_max_ps(b.v, a.v);
  return F32x8(_mm256_blendv_ps(r, b.v, _mm256_cmp_ps(b.v, b.v, _CMP_UNORD_Q)));
}
inline F32x8 fmadd(F32x8 a, F32x8 b, F32x8 c) { return F32x8(_mm256_fmadd_ps(a.v, b.v, c.v)); }
inline float lane(F32x8 x, int i) {
  alignas(32) float t[8];
  _mm256_store_ps(t, x.v);
  return t[i];
}
inline void set_lane(F32x8& x, int i, float s) {
  alignas(32) float t[8];
  _mm256_store_ps(t, x.v);
  t[i] = s;
  x.v = _mm256_load_ps(t);
}
inline float hsum(F32x8 x) {
  __m128 lo = _mm256_castps256_ps128(x.v), hi = _mm256_extractf128_ps(x.v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  return _mm_cvtss_f32(_mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1)));
}

inline __m256 sc_pow2i_ps(__m256 n) {
  __m256i i = _mm256_cvtps_epi32(n);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(i, _mm256_set1_epi32(127)), 23));
}

// float exp: as the double version with q of degree 4 (relative error 7.8e-9).
inline __m256 sc_exp_core_ps(__m256 x, __m256& t_out) {
  const __m256 shifter = _mm256_set1_ps(12582912.0f);  // 1.5 * 2^23
  const __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), shifter);
  const __m256 n = _mm256_sub_ps(t, shifter);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  const __m256 r2 = _mm256_mul_ps(r, r);
  __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(0.001392617611993558f), r, _mm256_set1_ps(0.008363173074513711f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.041666554662050534f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.1666657702559799f));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.5f));
  t_out = t;
  return _mm256_add_ps(_mm256_fmadd_ps(r2, q, r), _mm256_set1_ps(1.0f));
}

inline F32x8 vexp_slow(F32x8 xin) {
  const __m256 x = _mm256_max_ps(_mm256_min_ps(xin.v, _mm256_set1_ps(89.0f)), _mm256_set1_ps(-104.0f));
  __m256 t;
  const __m256 e = sc_exp_core_ps(x, t);
  const __m256 n = _mm256_sub_ps(t, _mm256_set1_ps(12582912.0f));
  const __m256 n1 = _mm256_floor_ps(_mm256_mul_ps(n, _mm256_set1_ps(0.5f)));
  const __m256 n2 = _mm256_sub_ps(n, n1);
  __m256 res = _mm256_mul_ps(_mm256_mul_ps(e, sc_pow2i_ps(n1)), sc_pow2i_ps(n2));
  res = _mm256_blendv_ps(res, _mm256_set1_ps(HUGE_VALF),
                         _mm256_cmp_ps(xin.v, _mm256_set1_ps(88.72283935546875f), _CMP_GT_OQ));
  res = _mm256_blendv_ps(res, _mm256_setzero_ps(),
                         _mm256_cmp_ps(xin.v, _mm256_set1_ps(-103.972084045410f), _CMP_LT_OQ));
  return F32x8(_mm256_blendv_ps(res, xin.v, _mm256_cmp_ps(xin.v, xin.v, _CMP_UNORD_Q)));
}

inline F32x8 vexp(F32x8 xin) {
  const __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), xin.v);
  if (SC_UNLIKELY(_mm256_movemask_ps(_mm256_cmp_ps(ax, _mm256_set1_ps(87.0f), _CMP_NLE_UQ)) != 0))
    return vexp_slow(xin);
  __m256 t;
  const __m256 e = sc_exp_core_ps(xin.v, t);
  return F32x8(_mm256_castsi256_ps(
      _mm256_add_epi32(_mm256_castps_si256(e), _mm256_slli_epi32(_mm256_castps_si256(t), 23))));
}

inline F32x8 vlog(F32x8 xin) {
  __m256 x = xin.v;
  const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
  x = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(33554432.0f)), tiny);  // 2^25
  __m256i bits = _mm256_castps_si256(x);
  __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127)));
  e = _mm256_sub_ps(e, _mm256_and_ps(tiny, _mm256_set1_ps(25.0f)));
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                                                 _mm256_set1_epi32(0x3f800000)));
  const __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
  e = _mm256_add_ps(e, _mm256_and_ps(big, _mm256_set1_ps(1.0f)));
  const __m256 f = _mm256_sub_ps(m, _mm256_set1_ps(1.0f));
  const __m256 s = _mm256_div_ps(f, _mm256_add_ps(_mm256_set1_ps(2.0f), f));
  const __m256 z = _mm256_mul_ps(s, s);
  // Minimax coefficients of log((1+s)/(1-s)) for float (as in e_logf.c).
  __m256 R = _mm256_set1_ps(2.4279078841e-01f);
  R = _mm256_fmadd_ps(R, z, _mm256_set1_ps(2.8498786688e-01f));
  R = _mm256_fmadd_ps(R, z, _mm256_set1_ps(4.0000972152e-01f));
  R = _mm256_fmadd_ps(R, z, _mm256_set1_ps(6.6666662693e-01f));
  R = _mm256_mul_ps(R, z);
  const __m256 hfsq = _mm256_mul_ps(_mm256_set1_ps(0.5f), _mm256_mul_ps(f, f));
  __m256 r = _mm256_fmadd_ps(s, _mm256_add_ps(hfsq, R), _mm256_mul_ps(e, _mm256_set1_ps(9.0580006145e-06f)));
  r = _mm256_sub_ps(hfsq, r);
  r = _mm256_sub_ps(f, r);
  r = _mm256_fmadd_ps(e, _mm256_set1_ps(6.9313812256e-01f), r);
  r = _mm256_blendv_ps(r, _mm256_set1_ps(-HUGE_VALF), _mm256_cmp_ps(xin.v, _mm256_setzero_ps(), _CMP_EQ_OQ));
  r = _mm256_blendv_ps(r, _mm256_set1_ps(NAN), _mm256_cmp_ps(xin.v, _mm256_setzero_ps(), _CMP_LT_OQ));
  r = _mm256_blendv_ps(r, xin.v, _mm256_cmp_ps(xin.v, _mm256_set1_ps(HUGE_VALF), _CMP_EQ_OQ));
  return F32x8(_mm256_blendv_ps(r, xin.v, _mm256_cmp_ps(xin.v, xin.v, _CMP_UNORD_Q)));
}

inline F32x8 vlog1p(F32x8 x) {
  const F32x8 u = x + F32x8(1.0f);
  const F32x8 um1 = u - F32x8(1.0f);
  const F32x8 r = vlog(u) + (x - um1) / u;
  F32x8 out = select(um1 == F32x8(0.0f), x, r);
  return select(u == F32x8(HUGE_VALF), u, out);
}

#define SC_LANEWISE_PS(NAME, FN)                \
  inline F32x8 NAME(F32x8 x) {                  \
    alignas(32) float t[8];                     \
    _mm256_store_ps(t, x.v);                    \
    for (int i = 0; i < 8; ++i) t[i] = FN(t[i]); \
    return F32x8(_mm256_load_ps(t));            \
  }
SC_LANEWISE_PS(vtanh, tanhf)
SC_LANEWISE_PS(vsin, sinf)
SC_LANEWISE_PS(vcos, cosf)
SC_LANEWISE_PS(vatan, atanf)
SC_LANEWISE_PS(vexpm1, expm1f)
#undef SC_LANEWISE_PS

// Lane mask from bits (bit l set = lane l on).
inline M64x4 lane_mask(F64x4, unsigned bits) { return mask_from_bits64(bits); }
inline M32x8 lane_mask(F32x8, unsigned bits) { return mask_from_bits32(bits); }

// Pack type for a scalar type.
template <class S>
struct pack_of;
template <>
struct pack_of<double> {
  using type = F64x4;
};
template <>
struct pack_of<float> {
  using type = F32x8;
};

SC_NS_END
