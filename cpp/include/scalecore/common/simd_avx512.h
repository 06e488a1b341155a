// AVX-512 pack types: F64x8 (8 doubles) and F32x16 (16 floats), with the same
// vocabulary as the scalars in simd.h and the AVX2 packs in simd_avx2.h.
// Include only from *_avx512.cc files, which are compiled with -mavx512f
// -mavx512bw -mavx512vl -mavx512dq (plus -mavx2 -mfma) and SC_ISA=isa_avx512.
//
// Lane masks live in the AVX-512 mask registers (__mmask8 / __mmask16), so a
// select is one masked blend and a partial load or store one masked move:
// tails never fall back to scalar code.
//
// exp and log use the same argument reductions and polynomials as the AVX2
// level (identical results in the normal range); the AVX-512 instructions
// replace the slow paths: vscalefpd applies 2^n over the whole range
// (overflow to inf and gradual underflow in one rounding) and vgetexppd /
// vgetmantpd split subnormals without a rescaling step.
#pragma once
#if !defined(__AVX512F__) || !defined(__AVX512DQ__) || !defined(__AVX512BW__) || !defined(__AVX512VL__)
#error "simd_avx512.h must be compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl"
#endif
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "scalecore/common/simd.h"

SC_NS_BEGIN

// ===========================================================================
// double x 8
// ===========================================================================
struct M64x8 {
  __mmask8 k;
};
struct F64x8 {
  __m512d v;
  F64x8() = default;
  F64x8(double s) : v(_mm512_set1_pd(s)) {}  // NOLINT: implicit broadcast
  explicit F64x8(__m512d x) : v(x) {}
  static F64x8 load(const double* p) { return F64x8(_mm512_loadu_pd(p)); }
  void store(double* p) const { _mm512_storeu_pd(p, v); }
  // Lanes [0, n) from p, the others `fill`; no byte past p + n is read.
  static F64x8 load_n(const double* p, int n, double fill) {
    return F64x8(_mm512_mask_loadu_pd(_mm512_set1_pd(fill), static_cast<__mmask8>((1u << n) - 1u), p));
  }
  void store_n(double* p, int n) const { _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << n) - 1u), v); }
};
template <>
struct lanes_of<F64x8> {
  static constexpr int value = 8;
};
template <>
struct scalar_of<F64x8> {
  using type = double;
};

inline F64x8 operator+(F64x8 a, F64x8 b) { return F64x8(_mm512_add_pd(a.v, b.v)); }
inline F64x8 operator-(F64x8 a, F64x8 b) { return F64x8(_mm512_sub_pd(a.v, b.v)); }
inline F64x8 operator*(F64x8 a, F64x8 b) { return F64x8(_mm512_mul_pd(a.v, b.v)); }
inline F64x8 operator/(F64x8 a, F64x8 b) { return F64x8(_mm512_div_pd(a.v, b.v)); }
inline F64x8 operator-(F64x8 a) {
  return F64x8(_mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(a.v), _mm512_set1_epi64(INT64_MIN))));
}
inline F64x8& operator+=(F64x8& a, F64x8 b) { return a = a + b; }
inline F64x8& operator-=(F64x8& a, F64x8 b) { return a = a - b; }
inline F64x8& operator*=(F64x8& a, F64x8 b) { return a = a * b; }
inline F64x8& operator/=(F64x8& a, F64x8 b) { return a = a / b; }
inline M64x8 operator<(F64x8 a, F64x8 b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_LT_OQ)}; }
inline M64x8 operator<=(F64x8 a, F64x8 b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_LE_OQ)}; }
inline M64x8 operator>(F64x8 a, F64x8 b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_GT_OQ)}; }
inline M64x8 operator>=(F64x8 a, F64x8 b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_GE_OQ)}; }
inline M64x8 operator==(F64x8 a, F64x8 b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_EQ_OQ)}; }
inline M64x8 operator!=(F64x8 a, F64x8 b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_NEQ_UQ)}; }
inline M64x8 operator&(M64x8 a, M64x8 b) { return {static_cast<__mmask8>(a.k & b.k)}; }
inline M64x8 operator|(M64x8 a, M64x8 b) { return {static_cast<__mmask8>(a.k | b.k)}; }
inline M64x8 operator!(M64x8 a) { return {static_cast<__mmask8>(~a.k)}; }
inline F64x8 select(M64x8 m, F64x8 a, F64x8 b) { return F64x8(_mm512_mask_blend_pd(m.k, b.v, a.v)); }
inline bool any_of(M64x8 m) { return m.k != 0; }
inline bool all_of(M64x8 m) { return m.k == 0xff; }
inline unsigned mask_bits(M64x8 m) { return static_cast<unsigned>(m.k); }
inline M64x8 mask_from_bits64x8(unsigned bits) { return {static_cast<__mmask8>(bits)}; }
inline M64x8 isfinite_v(F64x8 x) {
  // x - x is 0 for finite x and NaN for inf/NaN.
  return {_mm512_cmp_pd_mask(_mm512_sub_pd(x.v, x.v), _mm512_setzero_pd(), _CMP_EQ_OQ)};
}
inline F64x8 vabs(F64x8 x) { return F64x8(_mm512_abs_pd(x.v)); }
inline F64x8 vsqrt(F64x8 x) { return F64x8(_mm512_sqrt_pd(x.v)); }
// NaN-propagating min/max (as the scalar versions).
inline F64x8 vmin(F64x8 a, F64x8 b) {
  const __m512d r = _mm512_min_pd(b.v, a.v);  // a.v if either is NaN
  return F64x8(_mm512_mask_blend_pd(_mm512_cmp_pd_mask(b.v, b.v, _CMP_UNORD_Q), r, b.v));
}
inline F64x8 vmax(F64x8 a, F64x8 b) {
  const __m512d r = _mm512_max_pd(b.v, a.v);
  return F64x8(_mm512_mask_blend_pd(_mm512_cmp_pd_mask(b.v, b.v, _CMP_UNORD_Q), r, b.v));
}
inline F64x8 fmadd(F64x8 a, F64x8 b, F64x8 c) { return F64x8(_mm512_fmadd_pd(a.v, b.v, c.v)); }
inline double lane(F64x8 x, int i) {
  alignas(64) double t[8];
  _mm512_store_pd(t, x.v);
  return t[i];
}
inline void set_lane(F64x8& x, int i, double s) {
  x.v = _mm512_mask_mov_pd(x.v, static_cast<__mmask8>(1u << i), _mm512_set1_pd(s));
}
// Pairwise: (l0+l4)+(l2+l6) + ((l1+l5)+(l3+l7)), a fixed order.
inline double hsum(F64x8 x) {
  const __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(x.v), _mm512_extractf64x4_pd(x.v, 1));
  __m128d lo = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
  return _mm_cvtsd_f64(_mm_add_sd(lo, _mm_unpackhi_pd(lo, lo)));
}

// exp core, as sc_exp_core_pd in simd_avx2.h: n = round(x / ln2), r = x - n ln2
// (two-part ln2), exp(r) = 1 + r + r^2 q(r) with the same degree-9 q.
inline __m512d sc_exp_core_pd512(__m512d x, __m512d& n_out) {
  const __m512d shifter = _mm512_set1_pd(6755399441055744.0);  // 1.5 * 2^52
  const __m512d t = _mm512_fmadd_pd(x, _mm512_set1_pd(1.4426950408889634), shifter);
  const __m512d n = _mm512_sub_pd(t, shifter);
  __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180369123816490e-01), x);
  r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.90821492927058770002e-10), r);
  const __m512d r2 = _mm512_mul_pd(r, r);
  const __m512d r4 = _mm512_mul_pd(r2, r2);
  const __m512d p01 = _mm512_fmadd_pd(_mm512_set1_pd(0.16666666666666669), r, _mm512_set1_pd(0.5000000000000001));
  const __m512d p23 = _mm512_fmadd_pd(_mm512_set1_pd(0.008333333333330065), r, _mm512_set1_pd(0.041666666666624164));
  const __m512d p45 = _mm512_fmadd_pd(_mm512_set1_pd(0.00019841269863040545), r, _mm512_set1_pd(0.0013888888917196719));
  const __m512d p67 = _mm512_fmadd_pd(_mm512_set1_pd(2.7557268480310024e-06), r, _mm512_set1_pd(2.4801521322368692e-05));
  const __m512d p89 = _mm512_fmadd_pd(_mm512_set1_pd(2.5100375832561234e-08), r, _mm512_set1_pd(2.7620075879983367e-07));
  const __m512d p03 = _mm512_fmadd_pd(p23, r2, p01);
  const __m512d p47 = _mm512_fmadd_pd(p67, r2, p45);
  const __m512d p49 = _mm512_fmadd_pd(p89, r4, p47);
  const __m512d q = _mm512_fmadd_pd(p49, r4, p03);
  n_out = n;
  return _mm512_add_pd(_mm512_fmadd_pd(r2, q, r), _mm512_set1_pd(1.0));
}

inline F64x8 vexp(F64x8 xin) {
  // The clamp keeps r in range; scalef then overflows to inf above
  // 709.78 and underflows gradually to 0 below -708.  NaN lanes are put back.
  const __m512d x = _mm512_max_pd(_mm512_min_pd(xin.v, _mm512_set1_pd(710.0)), _mm512_set1_pd(-746.0));
  __m512d n;
  const __m512d e = sc_exp_core_pd512(x, n);
  const __m512d res = _mm512_scalef_pd(e, n);
  return F64x8(_mm512_mask_blend_pd(_mm512_cmp_pd_mask(xin.v, xin.v, _CMP_UNORD_Q), res, xin.v));
}

inline F64x8 vlog(F64x8 xin) {
  const __m512d x = xin.v;
  // x = m 2^e with m in [1, 2), subnormals included.
  __m512d e = _mm512_getexp_pd(x);
  __m512d m = _mm512_getmant_pd(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
  const __mmask8 big = _mm512_cmp_pd_mask(m, _mm512_set1_pd(1.4142135623730951), _CMP_GT_OQ);
  m = _mm512_mask_mul_pd(m, big, m, _mm512_set1_pd(0.5));
  e = _mm512_mask_add_pd(e, big, e, _mm512_set1_pd(1.0));
  const __m512d f = _mm512_sub_pd(m, _mm512_set1_pd(1.0));
  const __m512d s = _mm512_div_pd(f, _mm512_add_pd(_mm512_set1_pd(2.0), f));
  const __m512d z = _mm512_mul_pd(s, s);
  // Minimax coefficients of log((1+s)/(1-s)) (as in fdlibm's e_log.c).
  __m512d R = _mm512_set1_pd(1.479819860511658591e-01);
  R = _mm512_fmadd_pd(R, z, _mm512_set1_pd(1.531383769920937332e-01));
  R = _mm512_fmadd_pd(R, z, _mm512_set1_pd(1.818357216161805012e-01));
  R = _mm512_fmadd_pd(R, z, _mm512_set1_pd(2.222219843214978396e-01));
  R = _mm512_fmadd_pd(R, z, _mm512_set1_pd(2.857142874366239149e-01));
  R = _mm512_fmadd_pd(R, z, _mm512_set1_pd(3.999999999940941908e-01));
  R = _mm512_fmadd_pd(R, z, _mm512_set1_pd(6.666666666666735130e-01));
  R = _mm512_mul_pd(R, z);
  const __m512d hfsq = _mm512_mul_pd(_mm512_set1_pd(0.5), _mm512_mul_pd(f, f));
  __m512d r = _mm512_fmadd_pd(s, _mm512_add_pd(hfsq, R), _mm512_mul_pd(e, _mm512_set1_pd(1.90821492927058770002e-10)));
  r = _mm512_sub_pd(hfsq, r);
  r = _mm512_sub_pd(f, r);
  r = _mm512_fmadd_pd(e, _mm512_set1_pd(6.93147180369123816490e-01), r);
  // log(0) = -inf, log(x<0) = NaN, log(inf) = inf, NaN -> NaN.
  r = _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_EQ_OQ), _mm512_set1_pd(-HUGE_VAL));
  r = _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_LT_OQ), _mm512_set1_pd(NAN));
  r = _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(x, _mm512_set1_pd(HUGE_VAL), _CMP_EQ_OQ), x);
  return F64x8(_mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q), x));
}

inline F64x8 vlog1p(F64x8 x) {
  // u = 1 + x rounded; log1p(x) = log(u) + (x - (u - 1)) / u corrects the rounding.
  const F64x8 u = x + F64x8(1.0);
  const F64x8 um1 = u - F64x8(1.0);
  const F64x8 r = vlog(u) + (x - um1) / u;
  const F64x8 out = select(um1 == F64x8(0.0), x, r);
  return select(u == F64x8(HUGE_VAL), u, out);
}

#define SC_LANEWISE_PD512(NAME, FN)              \
  inline F64x8 NAME(F64x8 x) {                   \
    alignas(64) double t[8];                     \
    _mm512_store_pd(t, x.v);                     \
    for (int i = 0; i < 8; ++i) t[i] = FN(t[i]); \
    return F64x8(_mm512_load_pd(t));             \
  }
SC_LANEWISE_PD512(vtanh, tanh)
SC_LANEWISE_PD512(vsin, sin)
SC_LANEWISE_PD512(vcos, cos)
SC_LANEWISE_PD512(vatan, atan)
SC_LANEWISE_PD512(vexpm1, expm1)
#undef SC_LANEWISE_PD512

// ===========================================================================
// float x 16
// ===========================================================================
struct M32x16 {
  __mmask16 k;
};
struct F32x16 {
  __m512 v;
  F32x16() = default;
  F32x16(float s) : v(_mm512_set1_ps(s)) {}  // NOLINT: implicit broadcast
  explicit F32x16(__m512 x) : v(x) {}
  static F32x16 load(const float* p) { return F32x16(_mm512_loadu_ps(p)); }
  void store(float* p) const { _mm512_storeu_ps(p, v); }
  static F32x16 load_n(const float* p, int n, float fill) {
    return F32x16(_mm512_mask_loadu_ps(_mm512_set1_ps(fill), static_cast<__mmask16>((1u << n) - 1u), p));
  }
  void store_n(float* p, int n) const { _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1u), v); }
};
template <>
struct lanes_of<F32x16> {
  static constexpr int value = 16;
};
template <>
struct scalar_of<F32x16> {
  using type = float;
};

inline F32x16 operator+(F32x16 a, F32x16 b) { return F32x16(_mm512_add_ps(a.v, b.v)); }
inline F32x16 operator-(F32x16 a, F32x16 b) { return F32x16(_mm512_sub_ps(a.v, b.v)); }
inline F32x16 operator*(F32x16 a, F32x16 b) { return F32x16(_mm512_mul_ps(a.v, b.v)); }
inline F32x16 operator/(F32x16 a, F32x16 b) { return F32x16(_mm512_div_ps(a.v, b.v)); }
inline F32x16 operator-(F32x16 a) {
  return F32x16(_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a.v), _mm512_set1_epi32(INT32_MIN))));
}
inline F32x16& operator+=(F32x16& a, F32x16 b) { return a = a + b; }
inline F32x16& operator-=(F32x16& a, F32x16 b) { return a = a - b; }
inline F32x16& operator*=(F32x16& a, F32x16 b) { return a = a * b; }
inline F32x16& operator/=(F32x16& a, F32x16 b) { return a = a / b; }
inline M32x16 operator<(F32x16 a, F32x16 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ)}; }
inline M32x16 operator<=(F32x16 a, F32x16 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LE_OQ)}; }
inline M32x16 operator>(F32x16 a, F32x16 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
inline M32x16 operator>=(F32x16 a, F32x16 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GE_OQ)}; }
inline M32x16 operator==(F32x16 a, F32x16 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ)}; }
inline M32x16 operator!=(F32x16 a, F32x16 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_NEQ_UQ)}; }
inline M32x16 operator&(M32x16 a, M32x16 b) { return {static_cast<__mmask16>(a.k & b.k)}; }
inline M32x16 operator|(M32x16 a, M32x16 b) { return {static_cast<__mmask16>(a.k | b.k)}; }
inline M32x16 operator!(M32x16 a) { return {static_cast<__mmask16>(~a.k)}; }
inline F32x16 select(M32x16 m, F32x16 a, F32x16 b) { return F32x16(_mm512_mask_blend_ps(m.k, b.v, a.v)); }
inline bool any_of(M32x16 m) { return m.k != 0; }
inline bool all_of(M32x16 m) { return m.k == 0xffff; }
inline unsigned mask_bits(M32x16 m) { return static_cast<unsigned>(m.k); }
inline M32x16 mask_from_bits32x16(unsigned bits) { return {static_cast<__mmask16>(bits)}; }
inline M32x16 isfinite_v(F32x16 x) {
  return {_mm512_cmp_ps_mask(_mm512_sub_ps(x.v, x.v), _mm512_setzero_ps(), _CMP_EQ_OQ)};
}
inline F32x16 vabs(F32x16 x) { return F32x16(_mm512_abs_ps(x.v)); }
inline F32x16 vsqrt(F32x16 x) { return F32x16(_mm512_sqrt_ps(x.v)); }
inline F32x16 vmin(F32x16 a, F32x16 b) {
  const __m512 r = _mm512_min_ps(b.v, a.v);
  return F32x16(_mm512_mask_blend_ps(_mm512_cmp_ps_mask(b.v, b.v, _CMP_UNORD_Q), r, b.v));
}
inline F32x16 vmax(F32x16 a, F32x16 b) {
  const __m512 r = _mm512_max_ps(b.v, a.v);
  return F32x16(_mm512_mask_blend_ps(_mm512_cmp_ps_mask(b.v, b.v, _CMP_UNORD_Q), r, b.v));
}
inline F32x16 fmadd(F32x16 a, F32x16 b, F32x16 c) { return F32x16(_mm512_fmadd_ps(a.v, b.v, c.v)); }
inline float lane(F32x16 x, int i) {
  alignas(64) float t[16];
  _mm512_store_ps(t, x.v);
  return t[i];
}
inline void set_lane(F32x16& x, int i, float s) {
  x.v = _mm512_mask_mov_ps(x.v, static_cast<__mmask16>(1u << i), _mm512_set1_ps(s));
}
inline float hsum(F32x16 x) {
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(x.v),
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x.v), 1)));
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  return _mm_cvtss_f32(_mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1)));
}

// float exp: as sc_exp_core_ps in simd_avx2.h (degree-4 q).
inline __m512 sc_exp_core_ps512(__m512 x, __m512& n_out) {
  const __m512 shifter = _mm512_set1_ps(12582912.0f);  // 1.5 * 2^23
  const __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), shifter);
  const __m512 n = _mm512_sub_ps(t, shifter);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  const __m512 r2 = _mm512_mul_ps(r, r);
  __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(0.001392617611993558f), r, _mm512_set1_ps(0.008363173074513711f));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.041666554662050534f));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.1666657702559799f));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.5f));
  n_out = n;
  return _mm512_add_ps(_mm512_fmadd_ps(r2, q, r), _mm512_set1_ps(1.0f));
}

inline F32x16 vexp(F32x16 xin) {
  const __m512 x = _mm512_max_ps(_mm512_min_ps(xin.v, _mm512_set1_ps(89.0f)), _mm512_set1_ps(-104.0f));
  __m512 n;
  const __m512 e = sc_exp_core_ps512(x, n);
  const __m512 res = _mm512_scalef_ps(e, n);
  return F32x16(_mm512_mask_blend_ps(_mm512_cmp_ps_mask(xin.v, xin.v, _CMP_UNORD_Q), res, xin.v));
}

inline F32x16 vlog(F32x16 xin) {
  const __m512 x = xin.v;
  __m512 e = _mm512_getexp_ps(x);
  __m512 m = _mm512_getmant_ps(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
  const __mmask16 big = _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm512_mask_mul_ps(m, big, m, _mm512_set1_ps(0.5f));
  e = _mm512_mask_add_ps(e, big, e, _mm512_set1_ps(1.0f));
  const __m512 f = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
  const __m512 s = _mm512_div_ps(f, _mm512_add_ps(_mm512_set1_ps(2.0f), f));
  const __m512 z = _mm512_mul_ps(s, s);
  // Minimax coefficients of log((1+s)/(1-s)) for float (as in e_logf.c).
  __m512 R = _mm512_set1_ps(2.4279078841e-01f);
  R = _mm512_fmadd_ps(R, z, _mm512_set1_ps(2.8498786688e-01f));
  R = _mm512_fmadd_ps(R, z, _mm512_set1_ps(4.0000972152e-01f));
  R = _mm512_fmadd_ps(R, z, _mm512_set1_ps(6.6666662693e-01f));
  R = _mm512_mul_ps(R, z);
  const __m512 hfsq = _mm512_mul_ps(_mm512_set1_ps(0.5f), _mm512_mul_ps(f, f));
  __m512 r = _mm512_fmadd_ps(s, _mm512_add_ps(hfsq, R), _mm512_mul_ps(e, _mm512_set1_ps(9.0580006145e-06f)));
  r = _mm512_sub_ps(hfsq, r);
  r = _mm512_sub_ps(f, r);
  r = _mm512_fmadd_ps(e, _mm512_set1_ps(6.9313812256e-01f), r);
  r = _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_EQ_OQ), _mm512_set1_ps(-HUGE_VALF));
  r = _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), _mm512_set1_ps(NAN));
  r = _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(x, _mm512_set1_ps(HUGE_VALF), _CMP_EQ_OQ), x);
  return F32x16(_mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x));
}

inline F32x16 vlog1p(F32x16 x) {
  const F32x16 u = x + F32x16(1.0f);
  const F32x16 um1 = u - F32x16(1.0f);
  const F32x16 r = vlog(u) + (x - um1) / u;
  const F32x16 out = select(um1 == F32x16(0.0f), x, r);
  return select(u == F32x16(HUGE_VALF), u, out);
}

#define SC_LANEWISE_PS512(NAME, FN)               \
  inline F32x16 NAME(F32x16 x) {                  \
    alignas(64) float t[16];                      \
    _mm512_store_ps(t, x.v);                      \
    for (int i = 0; i < 16; ++i) t[i] = FN(t[i]); \
    return F32x16(_mm512_load_ps(t));             \
  }
SC_LANEWISE_PS512(vtanh, tanhf)
SC_LANEWISE_PS512(vsin, sinf)
SC_LANEWISE_PS512(vcos, cosf)
SC_LANEWISE_PS512(vatan, atanf)
SC_LANEWISE_PS512(vexpm1, expm1f)
#undef SC_LANEWISE_PS512

// Lane mask from bits (bit l set = lane l on).
inline M64x8 lane_mask(F64x8, unsigned bits) { return mask_from_bits64x8(bits); }
inline M32x16 lane_mask(F32x16, unsigned bits) { return mask_from_bits32x16(bits); }

// Pack type for a scalar type.
template <class S>
struct pack_of;
template <>
struct pack_of<double> {
  using type = F64x8;
};
template <>
struct pack_of<float> {
  using type = F32x16;
};

SC_NS_END
