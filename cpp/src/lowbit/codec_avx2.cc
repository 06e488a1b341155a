// AVX2 kernels of the lowbit family: 8-lane versions of the codec.h integer
// algorithms (same shifts, same rounding increments, same special-value
// rules: bit-identical to the per-element codecs, which the tests check at
// this level against ml_dtypes and the reference), decode by table gather,
// and the MX / NVFP4 / INT block quantizers and the Walsh-Hadamard transform
// on top of them.  Tails and rare inputs (float32 subnormals into E8M0) go
// through the per-element codecs.
#include <immintrin.h>

#include "codec_plain.h"
#include "hadamard_plain.h"

namespace sc {
namespace lowbit {
namespace {

inline __m256i S(int v) { return _mm256_set1_epi32(v); }
inline __m256i S(uint32_t v) { return _mm256_set1_epi32(static_cast<int>(v)); }
inline __m256i blend(__m256i a, __m256i b, __m256i m) {
  return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), _mm256_castsi256_ps(m)));
}

// lb_encode_float<F> on 8 lanes (RNE or half-away).
template <int F, bool Away>
inline __m256i enc8_float(__m256 xf, bool sat) {
  typedef ElemTraits<F> T;
  const __m256i u = _mm256_castps_si256(xf);
  const __m256i a = _mm256_and_si256(u, S(0x7FFFFFFF));
  const __m256i neg = _mm256_srai_epi32(u, 31);
  const __m256i isnan = _mm256_cmpgt_epi32(a, S(0x7F800000));
  const __m256i isinf = _mm256_cmpeq_epi32(a, S(0x7F800000));
  const __m256i ef = _mm256_srli_epi32(a, 23);
  const __m256i e = _mm256_sub_epi32(_mm256_max_epi32(ef, S(1)), S(127));
  const __m256i isnorm = _mm256_cmpgt_epi32(ef, _mm256_setzero_si256());
  const __m256i m = _mm256_or_si256(_mm256_and_si256(a, S(0x7FFFFF)), _mm256_and_si256(isnorm, S(0x800000)));
  const __m256i et = _mm256_max_epi32(e, S(T::emin));
  const __m256i s = _mm256_min_epi32(_mm256_add_epi32(S(23 - T::mbits), _mm256_sub_epi32(et, e)), S(25));
  const __m256i half = _mm256_sllv_epi32(S(1), _mm256_sub_epi32(s, S(1)));
  __m256i q;
  if (Away) {
    q = _mm256_srlv_epi32(_mm256_add_epi32(m, half), s);
  } else {
    const __m256i odd = _mm256_and_si256(_mm256_srlv_epi32(m, s), S(1));
    q = _mm256_srlv_epi32(_mm256_add_epi32(m, _mm256_add_epi32(_mm256_sub_epi32(half, S(1)), odd)), s);
  }
  __m256i code = _mm256_add_epi32(_mm256_slli_epi32(_mm256_add_epi32(et, S(T::bias - 1)), T::mbits), q);
  const __m256i ovf = _mm256_or_si256(_mm256_cmpgt_epi32(code, S(T::max_code)), isinf);
  const uint32_t ovf_code = (sat || T::specials == SC_LB_SPECIALS_NONE) ? T::max_code
                            : T::specials == SC_LB_SPECIALS_IEEE         ? T::inf_code
                                                                         : T::nan_code;
  code = blend(code, S(ovf_code), ovf);
  const __m256i sgn = _mm256_and_si256(neg, S(T::sign_bit));
  code = _mm256_or_si256(code, sgn);
  const __m256i nanv = T::specials == SC_LB_SPECIALS_NONE ? _mm256_xor_si256(S(T::sign_bit), sgn)
                                                                  : _mm256_or_si256(S(T::nan_code), sgn);
  code = blend(code, nanv, isnan);
  if (!T::is_signed) {
    const __m256i negnz = _mm256_and_si256(neg, _mm256_cmpgt_epi32(a, _mm256_setzero_si256()));
    code = blend(code, S(T::nan_code), negnz);
  }
  return code;
}

// lb_encode_e8m0 on 8 lanes; *slow is set when a lane is a float32 subnormal.
inline __m256i enc8_e8m0(__m256 xf, bool sat, bool* slow) {
  const __m256i u = _mm256_castps_si256(xf);
  const __m256i a = _mm256_and_si256(u, S(0x7FFFFFFF));
  const __m256i ef = _mm256_srli_epi32(a, 23);
  const __m256i sub = _mm256_andnot_si256(_mm256_cmpeq_epi32(a, _mm256_setzero_si256()),
                                          _mm256_cmpeq_epi32(ef, _mm256_setzero_si256()));
  if (_mm256_movemask_epi8(sub)) *slow = true;
  __m256i code = _mm256_add_epi32(ef, _mm256_and_si256(_mm256_srli_epi32(a, 22), S(1)));
  const __m256i ovf = _mm256_or_si256(_mm256_cmpgt_epi32(code, S(254)), _mm256_cmpeq_epi32(a, S(0x7F800000)));
  code = blend(code, S(sat ? 0xFE : 0xFF), ovf);
  const __m256i bad = _mm256_or_si256(_mm256_or_si256(_mm256_cmpgt_epi32(a, S(0x7F800000)), _mm256_srai_epi32(u, 31)),
                                      _mm256_cmpeq_epi32(a, _mm256_setzero_si256()));
  return blend(code, S(0xFF), bad);
}

// E2M1 (FP4) by comparisons: the magnitude code is the number of decision
// points below |x|, with the ties going to the even code (RNE: > at 0.25,
// 1.25, 2.5, 5 where the lower neighbour is even, >= at 0.75, 1.75, 3.5) or
// up (half-away: >= everywhere).  Saturates at 6 (code 7); the sign is the
// input's.  Equal to enc8_float<E2M1> for every non-NaN input (NaN never
// reaches it: MX blocks with NaN are skipped, NVFP4 rejects NaN).
template <bool Away>
inline __m256i enc8_e2m1(__m256 x) {
  const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  const int GT = Away ? _CMP_GE_OQ : _CMP_GT_OQ;
  __m256i c = _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_set1_ps(0.25f), GT));
  c = _mm256_add_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_set1_ps(0.75f), _CMP_GE_OQ)));
  c = _mm256_add_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_set1_ps(1.25f), GT)));
  c = _mm256_add_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_set1_ps(1.75f), _CMP_GE_OQ)));
  c = _mm256_add_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_set1_ps(2.5f), GT)));
  c = _mm256_add_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_set1_ps(3.5f), _CMP_GE_OQ)));
  c = _mm256_add_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(a, _mm256_set1_ps(5.0f), GT)));
  c = _mm256_sub_epi32(_mm256_setzero_si256(), c);  // masks are -1
  return _mm256_or_si256(c, _mm256_and_si256(_mm256_srai_epi32(_mm256_castps_si256(x), 31), S(8)));
}

template <int F, bool Away>
inline __m256i enc8(__m256 x, bool sat, bool* slow) {
  if (ElemTraits<F>::mbits == 0) return enc8_e8m0(x, sat, slow);
  return enc8_float<F, Away>(x, sat);
}
// The saturating element encoder of the block quantizers.
template <int F, bool Away>
inline __m256i enc8_sat(__m256 x) {
  bool slow = false;
  if (F == SC_LB_FLOAT4_E2M1FN) return enc8_e2m1<Away>(x);
  return enc8<F, Away>(x, true, &slow);
}

// 32 codes (one per int32 lane of c0..c3, in order) as 32 bytes in order.
inline __m256i pack32(__m256i c0, __m256i c1, __m256i c2, __m256i c3) {
  const __m256i p = _mm256_packus_epi16(_mm256_packus_epi32(c0, c1), _mm256_packus_epi32(c2, c3));
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}
// The same for signed values in [-128, 127].
inline __m256i pack32s(__m256i c0, __m256i c1, __m256i c2, __m256i c3) {
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(c0, c1), _mm256_packs_epi32(c2, c3));
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}
// 32 nibble codes (bytes of p, in order) -> 16 bytes, element 2i low.
inline void store_nibbles(uint8_t* out, __m256i p) {
  const __m256i t = _mm256_and_si256(_mm256_or_si256(p, _mm256_srli_epi16(p, 4)), _mm256_set1_epi16(0x00FF));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                   _mm_packus_epi16(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1)));
}

// The low byte of each of the 8 lanes, in order.
inline __m128i low_bytes8(__m256i v) {
  const __m256i sel = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1,
                                       -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m256i b = _mm256_shuffle_epi8(v, sel);
  return _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
}

inline uint32_t hmax_u31(__m256i v) {
  __m128i m = _mm_max_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0x4E));
  m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0xB1));
  return static_cast<uint32_t>(_mm_cvtsi128_si32(m));
}
inline __m256i absbits(const float* p) {
  return _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), S(0x7FFFFFFF));
}

// Lane k = max over the 8 lanes of a[k] (a 8x8 transpose-reduce).
inline __m256i transpose_max8(const __m256i* a) {
  __m256i t[4];
  for (int i = 0; i < 4; ++i)
    t[i] = _mm256_max_epi32(_mm256_unpacklo_epi32(a[2 * i], a[2 * i + 1]), _mm256_unpackhi_epi32(a[2 * i], a[2 * i + 1]));
  const __m256i u0 = _mm256_max_epi32(_mm256_unpacklo_epi64(t[0], t[1]), _mm256_unpackhi_epi64(t[0], t[1]));
  const __m256i u1 = _mm256_max_epi32(_mm256_unpacklo_epi64(t[2], t[3]), _mm256_unpackhi_epi64(t[2], t[3]));
  return _mm256_max_epi32(_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u0, u1, 0x31));
}

template <int F, bool Away>
void encode_t(const float* x, int64_t n, bool sat, uint8_t* out) {
  const int mode = Away ? SC_LB_ROUND_HALF_AWAY : SC_LB_ROUND_NEAREST_EVEN;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    bool slow = false;
    const __m256i c0 = enc8<F, Away>(_mm256_loadu_ps(x + i), sat, &slow);
    const __m256i c1 = enc8<F, Away>(_mm256_loadu_ps(x + i + 8), sat, &slow);
    const __m256i c2 = enc8<F, Away>(_mm256_loadu_ps(x + i + 16), sat, &slow);
    const __m256i c3 = enc8<F, Away>(_mm256_loadu_ps(x + i + 24), sat, &slow);
    if (slow)
      plain::encode_t<F>(x + i, 32, sat, mode, 0, 0, out + i);
    else
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), pack32(c0, c1, c2, c3));
  }
  plain::encode_t<F>(x + i, n - i, sat, mode, 0, 0, out + i);
}

void encode_avx2(int f, const float* x, int64_t n, bool sat, int mode, uint8_t* out) {
  with_elem(f, [&](auto tag) {
    constexpr int F = decltype(tag)::value;
    if (ElemTraits<F>::kind == SC_LB_INT) {
      plain::encode_t<F>(x, n, sat, mode, 0, 0, out);
    } else if (mode == SC_LB_ROUND_HALF_AWAY) {
      encode_t<F, true>(x, n, sat, out);
    } else {
      encode_t<F, false>(x, n, sat, out);
    }
  });
}

struct DecodeLuts {
  float t[SC_LB_NUM_ELEM][256];
  DecodeLuts() {
    for (int f = 0; f < SC_LB_NUM_ELEM; ++f)
      for (int c = 0; c < 256; ++c) {
        const uint8_t b = static_cast<uint8_t>(c);
        plain::decode(f, &b, 1, &t[f][c]);
      }
  }
};
const DecodeLuts& luts() {
  static const DecodeLuts l;
  return l;
}

void decode_avx2(int f, const uint8_t* c, int64_t n, float* out) {
  const float* t = luts().t[f];
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(c + i)));
    _mm256_storeu_ps(out + i, _mm256_i32gather_ps(t, idx, 4));
  }
  for (; i < n; ++i) out[i] = t[c[i]];
}

float absmax_avx2(const float* x, int64_t n) {
  __m256i m0 = _mm256_setzero_si256(), m1 = m0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    m0 = _mm256_max_epi32(m0, absbits(x + i));
    m1 = _mm256_max_epi32(m1, absbits(x + i + 8));
  }
  const float v = lb_bits_f32(hmax_u31(_mm256_max_epi32(m0, m1)));  // NaN bits are the largest
  const float t = plain::absmax(x + i, n - i);
  if (v != v || t != t) return v != v ? v : t;
  return v > t ? v : t;
}

// ---- MX ----
// One block's elements given its scale code sc (not 0xFF) and 2^-e.
template <int B, bool Away>
inline void mx_block(const float* xb, __m256 inv, uint8_t* cb) {
  typedef BlockTraits<B> T;
  constexpr int E = T::element;
  __m256i c[4];
  if (ElemTraits<E>::kind == SC_LB_INT) {  // MXINT8: fixed point 1.6
    for (int k = 0; k < 4; ++k) {
      const __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(xb + 8 * k), inv), _mm256_set1_ps(64.0f));
      __m256i q;
      if (Away) {
        const __m256 av = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
        const __m256 fl = _mm256_floor_ps(av);
        const __m256 up = _mm256_cmp_ps(_mm256_sub_ps(av, fl), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
        q = _mm256_cvttps_epi32(_mm256_add_ps(fl, _mm256_and_ps(up, _mm256_set1_ps(1.0f))));
        q = _mm256_sign_epi32(q, _mm256_castps_si256(_mm256_or_ps(v, _mm256_set1_ps(1.0f))));
      } else {
        q = _mm256_cvtps_epi32(v);  // RNE (MXCSR default)
      }
      c[k] = _mm256_max_epi32(_mm256_min_epi32(q, S(127)), S(-127));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(cb), pack32s(c[0], c[1], c[2], c[3]));
    return;
  }
  for (int k = 0; k < 4; ++k) c[k] = enc8_sat<E, Away>(_mm256_mul_ps(_mm256_loadu_ps(xb + 8 * k), inv));
  const __m256i p = pack32(c[0], c[1], c[2], c[3]);
  if (T::pack == 2)
    store_nibbles(cb, p);
  else
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(cb), p);
}

// Scale codes and 2^-e of 8 blocks from their |x| maxima (bits): the vector
// form of lb_mx_scale_code / lb_pow2.  Returns false when a maximum is a
// float32 subnormal (the caller uses the scalar rule for that group).
inline bool mx_scales8(__m256i amax, int emax, uint32_t* sc, float* inv) {
  const __m256i ef = _mm256_srli_epi32(amax, 23);
  const __m256i zero = _mm256_cmpeq_epi32(amax, _mm256_setzero_si256());
  const __m256i sub = _mm256_andnot_si256(zero, _mm256_cmpeq_epi32(ef, _mm256_setzero_si256()));
  if (_mm256_movemask_epi8(sub)) return false;
  const __m256i bad = _mm256_cmpgt_epi32(amax, S(0x7F7FFFFF));
  __m256i e = _mm256_sub_epi32(blend(ef, S(1), zero), S(127 + emax));  // zero: floor(log2 2^-126)
  e = _mm256_max_epi32(_mm256_min_epi32(e, S(127)), S(-127));
  const __m256i code = blend(_mm256_add_epi32(e, S(127)), S(0xFF), bad);
  const __m256i biased = _mm256_sub_epi32(S(127), e);  // 2^-e, e in [-127, 127]
  const __m256i ib = blend(_mm256_slli_epi32(biased, 23), S(0x00400000), _mm256_cmpeq_epi32(biased, _mm256_setzero_si256()));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(sc), code);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(inv), ib);
  return true;
}

template <int B, bool Away>
void quant_mx_t(const float* x, int64_t nb, uint8_t* codes, uint8_t* scales) {
  typedef BlockTraits<B> T;
  constexpr int per = 32 / T::pack;
  int64_t b = 0;
  alignas(32) uint32_t sc[8];
  alignas(32) float inv[8];
  for (; b < nb; b += 8) {
    const int nk = nb - b < 8 ? static_cast<int>(nb - b) : 8;
    const float* xg = x + b * 32;
    __m256i am[8];
    for (int k = 0; k < 8; ++k) {
      const float* xb = xg + 32 * (k < nk ? k : 0);
      am[k] = _mm256_max_epi32(_mm256_max_epi32(absbits(xb), absbits(xb + 8)),
                               _mm256_max_epi32(absbits(xb + 16), absbits(xb + 24)));
    }
    if (!mx_scales8(transpose_max8(am), T::emax, sc, inv)) {
      for (int k = 0; k < nk; ++k) {
        alignas(32) uint32_t t[8];
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(t), am[k]);
        uint32_t m = 0;
        for (int l = 0; l < 8; ++l) m = t[l] > m ? t[l] : m;
        sc[k] = lb_mx_scale_code(lb_bits_f32(m), T::emax);
        inv[k] = sc[k] == 0xFFu ? 0.0f : lb_pow2(127 - static_cast<int>(sc[k]));
      }
    }
    for (int k = 0; k < nk; ++k) {
      scales[b + k] = static_cast<uint8_t>(sc[k]);
      uint8_t* cb = codes + (b + k) * per;
      if (sc[k] == 0xFFu) {
        for (int j = 0; j < per; ++j) cb[j] = 0;
        continue;
      }
      mx_block<B, Away>(xg + 32 * k, _mm256_set1_ps(inv[k]), cb);
    }
  }
}

void quant_mx_avx2(int b, const float* x, int64_t nb, int mode, uint8_t* codes, uint8_t* scales) {
  const bool away = mode == SC_LB_ROUND_HALF_AWAY;
  switch (b) {
#define SC_LB_CASE(B)                                                        \
  case SC_LB_BLOCK_##B:                                                      \
    if (away)                                                                \
      quant_mx_t<SC_LB_BLOCK_##B, true>(x, nb, codes, scales);               \
    else                                                                     \
      quant_mx_t<SC_LB_BLOCK_##B, false>(x, nb, codes, scales);              \
    break;
    SC_LB_CASE(MXFP8_E4M3)
    SC_LB_CASE(MXFP8_E5M2)
    SC_LB_CASE(MXFP6_E3M2)
    SC_LB_CASE(MXFP6_E2M3)
    SC_LB_CASE(MXFP4)
    SC_LB_CASE(MXINT8)
#undef SC_LB_CASE
    default:
      break;
  }
}

// ---- NVFP4: 8 blocks of 16 per step, scales as vectors ----
void quant_nvfp4_avx2(const float* x, int64_t nb, float s_t, uint8_t* codes, uint8_t* scales) {
  const __m256 lo = _mm256_set1_ps(-6.0f), hi = _mm256_set1_ps(6.0f);
  const float* e4m3 = luts().t[SC_LB_FLOAT8_E4M3FN];
  const __m256 vst = _mm256_set1_ps(s_t);
  int64_t b = 0;
  for (; b + 8 <= nb; b += 8) {
    const float* xg = x + b * 16;
    __m256i am[8];
    for (int k = 0; k < 8; ++k) am[k] = _mm256_max_epi32(absbits(xg + 16 * k), absbits(xg + 16 * k + 8));
    // lb_nvfp4_scale_code on 8 lanes: E4M3(clamp(amax / 6 / s_t, 2^-6, 448))
    __m256 v = _mm256_div_ps(_mm256_div_ps(_mm256_castsi256_ps(transpose_max8(am)), _mm256_set1_ps(6.0f)), vst);
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(0.015625f)), _mm256_set1_ps(448.0f));
    const __m256i code = enc8_float<SC_LB_FLOAT8_E4M3FN, false>(v, true);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(scales + b), low_bytes8(code));
    const __m256 tot = _mm256_mul_ps(vst, _mm256_i32gather_ps(e4m3, code, 4));
    for (int k = 0; k < 8; k += 2) {
      __m256i c[4];
      for (int h = 0; h < 2; ++h) {
        // the block's total scale broadcast from its lane (no store / reload)
        const __m256 t = _mm256_permutevar8x32_ps(tot, _mm256_set1_epi32(k + h));
        for (int q = 0; q < 2; ++q) {
          __m256 w = _mm256_div_ps(_mm256_loadu_ps(xg + 16 * (k + h) + 8 * q), t);
          w = _mm256_and_ps(w, _mm256_cmp_ps(w, w, _CMP_ORD_Q));  // 0 / 0 -> 0, as lb_nvfp4_encode_elem
          w = _mm256_min_ps(_mm256_max_ps(w, lo), hi);
          c[2 * h + q] = enc8_sat<SC_LB_FLOAT4_E2M1FN, false>(w);
        }
      }
      store_nibbles(codes + (b + k) * 8, pack32(c[0], c[1], c[2], c[3]));
    }
  }
  plain::quant_nvfp4(x + b * 16, nb - b, s_t, SC_LB_ROUND_NEAREST_EVEN, 0, 0, codes + b * 8, scales + b);
}

// ---- symmetric integer groups (g % 32 == 0; others go to the plain loop) ----
template <int Bits, bool Away>
int64_t quant_int_t(const float* x, int64_t nb, int64_t g, uint8_t* codes, float* scales) {
  const int qmax = Bits == 4 ? 7 : 127;
  const int64_t per = Bits == 4 ? g / 2 : g;
  int64_t bad = 0;
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * g;
    uint8_t* cb = codes + b * per;
    __m256i am = _mm256_setzero_si256();
    for (int64_t j = 0; j < g; j += 8) {
      const __m256i a = absbits(xb + j);
      const __m256i nf = _mm256_cmpgt_epi32(a, S(0x7F7FFFFF));
      bad += __builtin_popcount(static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(nf))));
      am = _mm256_max_epi32(am, _mm256_andnot_si256(nf, a));
    }
    const float amax = lb_bits_f32(hmax_u31(am));
    const float s = amax / static_cast<float>(qmax);
    scales[b] = s;
    if (s == 0.0f) {
      for (int64_t j = 0; j < per; ++j) cb[j] = 0;
      continue;
    }
    const __m256 vs = _mm256_set1_ps(s);
    for (int64_t j = 0; j < g; j += 32) {
      __m256i c[4];
      for (int k = 0; k < 4; ++k) {
        __m256 v = _mm256_div_ps(_mm256_loadu_ps(xb + j + 8 * k), vs);
        v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-1024.0f)), _mm256_set1_ps(1024.0f));  // NaN -> -1024..: masked below
        __m256i q;
        if (Away) {
          const __m256 av = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
          const __m256 fl = _mm256_floor_ps(av);
          const __m256 up = _mm256_cmp_ps(_mm256_sub_ps(av, fl), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
          q = _mm256_cvttps_epi32(_mm256_add_ps(fl, _mm256_and_ps(up, _mm256_set1_ps(1.0f))));
          q = _mm256_sign_epi32(q, _mm256_castps_si256(_mm256_or_ps(v, _mm256_set1_ps(1.0f))));
        } else {
          q = _mm256_cvtps_epi32(v);
        }
        c[k] = _mm256_max_epi32(_mm256_min_epi32(q, S(qmax)), S(-qmax - 1));
      }
      const __m256i p = pack32s(c[0], c[1], c[2], c[3]);
      if (Bits == 4)
        store_nibbles(cb + j / 2, _mm256_and_si256(p, _mm256_set1_epi8(0x0F)));
      else
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(cb + j), p);
    }
  }
  return bad;
}

int64_t quant_int_sym_avx2(int bits, const float* x, int64_t nb, int64_t g, int mode, uint8_t* codes,
                           float* scales) {
  if (g % 32 != 0 || mode == SC_LB_ROUND_STOCHASTIC)
    return plain::quant_int_sym(bits, x, nb, g, mode, 0, 0, codes, scales);
  const bool away = mode == SC_LB_ROUND_HALF_AWAY;
  if (bits == 4) return away ? quant_int_t<4, true>(x, nb, g, codes, scales) : quant_int_t<4, false>(x, nb, g, codes, scales);
  return away ? quant_int_t<8, true>(x, nb, g, codes, scales) : quant_int_t<8, false>(x, nb, g, codes, scales);
}

// ---- Walsh-Hadamard: h = 1, 2, 4 inside a vector, h >= 8 across vectors ----
inline __m256 bfly_in(__m256 x) {
  __m256 y = _mm256_permute_ps(x, 0xB1);
  x = _mm256_blend_ps(_mm256_add_ps(x, y), _mm256_sub_ps(y, x), 0xAA);
  y = _mm256_permute_ps(x, 0x4E);
  x = _mm256_blend_ps(_mm256_add_ps(x, y), _mm256_sub_ps(y, x), 0xCC);
  y = _mm256_permute2f128_ps(x, x, 1);
  return _mm256_blend_ps(_mm256_add_ps(x, y), _mm256_sub_ps(y, x), 0xF0);
}

void hadamard_avx2(float* x, int64_t nb, int64_t n, const float* signs, bool inverse) {
  if (n < 8) return plain::hadamard(x, nb, n, signs, inverse);
  const __m256 c = _mm256_set1_ps(plain::hadamard_norm(n));
  for (int64_t b = 0; b < nb; ++b) {
    float* xb = x + b * n;
    for (int64_t j = 0; j < n; j += 8) {
      __m256 v = _mm256_loadu_ps(xb + j);
      if (signs && !inverse) v = _mm256_mul_ps(v, _mm256_loadu_ps(signs + j));
      _mm256_storeu_ps(xb + j, bfly_in(v));
    }
    for (int64_t h = 8; h < n; h <<= 1)
      for (int64_t i = 0; i < n; i += 2 * h)
        for (int64_t j = i; j < i + h; j += 8) {
          const __m256 a = _mm256_loadu_ps(xb + j), d = _mm256_loadu_ps(xb + j + h);
          _mm256_storeu_ps(xb + j, _mm256_add_ps(a, d));
          _mm256_storeu_ps(xb + j + h, _mm256_sub_ps(a, d));
        }
    for (int64_t j = 0; j < n; j += 8) {
      __m256 v = _mm256_mul_ps(_mm256_loadu_ps(xb + j), c);
      if (signs && inverse) v = _mm256_mul_ps(v, _mm256_loadu_ps(signs + j));
      _mm256_storeu_ps(xb + j, v);
    }
  }
}

}  // namespace

const LbKernels& lb_kernels_avx2() {
  static const LbKernels t = {"avx2",           encode_avx2,        decode_avx2, quant_mx_avx2,
                              quant_nvfp4_avx2, quant_int_sym_avx2, absmax_avx2, hadamard_avx2};
  return t;
}

}  // namespace lowbit
}  // namespace sc
