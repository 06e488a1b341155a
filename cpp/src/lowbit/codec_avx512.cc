// AVX-512 kernels of the lowbit codec table (F/BW/VL/DQ).
//
// Element encode (every float format), the MX float formats (MXFP8, MXFP6,
// MXFP4), NVFP4, the symmetric INT4/INT8 groups, decode and absmax on 16
// lanes; MXINT8 and the Walsh-Hadamard transform are AVX2's, which this level
// runs unchanged.  Every kernel is bit-identical to the per-element codecs (the
// tests check each level against the reference):
//   * enc16_float / enc16_e8m0: codec_avx2.cc's integer algorithms (same
//     shifts, rounding increments and special-value rules) with mask
//     registers in place of blend vectors; a block with a float32 subnormal
//     into E8M0 goes to the per-element codec, as at AVX2.
//   * E2M1 by comparisons, as enc8_e2m1: the magnitude code is the number of
//     decision points below |x| (RNE: > at 0.25, 1.25, 2.5, 5, >= at 0.75,
//     1.75, 3.5; half-away: >= everywhere), counted with mask adds; saturates
//     at 6; the sign bit of x gives bit 3.
//   * block scales of 16 blocks at a time from a 16 x 16 transpose-max of the
//     bit patterns of |x| (non-negative floats order as integers, NaN above
//     Inf): the E8M0 rule of mx_scales8 (falling back to lb_mx_scale_code
//     when a maximum is subnormal) and NVFP4's E4M3(clamp(amax/6/s_t)).
//   * two E2M1 codes per byte (element 2i low): the int32 codes of a zmm,
//     viewed as 8 int64 lanes, are c_2i | c_2i+1 << 32; c | (c >> 28) puts
//     the byte in the low 8 bits of each int64, vpmovqb keeps it.
// Tails (fewer than 16 blocks, fewer than 32 elements) take the per-element
// codecs or one block at a time.
#include <immintrin.h>

#include "codec_plain.h"

namespace sc {
namespace lowbit {
namespace {

template <bool Away>
inline __m512i enc16_e2m1(__m512 x) {
  const __m512 a = _mm512_abs_ps(x);
  constexpr int GT = Away ? _CMP_GE_OQ : _CMP_GT_OQ;
  const __m512i one = _mm512_set1_epi32(1);
  __m512i c = _mm512_maskz_mov_epi32(_mm512_cmp_ps_mask(a, _mm512_set1_ps(0.25f), GT), one);
  c = _mm512_mask_add_epi32(c, _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.75f), _CMP_GE_OQ), c, one);
  c = _mm512_mask_add_epi32(c, _mm512_cmp_ps_mask(a, _mm512_set1_ps(1.25f), GT), c, one);
  c = _mm512_mask_add_epi32(c, _mm512_cmp_ps_mask(a, _mm512_set1_ps(1.75f), _CMP_GE_OQ), c, one);
  c = _mm512_mask_add_epi32(c, _mm512_cmp_ps_mask(a, _mm512_set1_ps(2.5f), GT), c, one);
  c = _mm512_mask_add_epi32(c, _mm512_cmp_ps_mask(a, _mm512_set1_ps(3.5f), _CMP_GE_OQ), c, one);
  c = _mm512_mask_add_epi32(c, _mm512_cmp_ps_mask(a, _mm512_set1_ps(5.0f), GT), c, one);
  return _mm512_or_si512(c, _mm512_and_si512(_mm512_srai_epi32(_mm512_castps_si512(x), 31), _mm512_set1_epi32(8)));
}

inline __m512i S(int v) { return _mm512_set1_epi32(v); }

// E2M1 RNE of finite x with |x| < 8 (the MX and NVFP4 block kernels, whose
// scaled elements are finite and below 8), saturating at 6, bit-identical to
// enc16_e2m1<false> in fewer operations: for |x| >= 1 the bit pattern
// rounded to one mantissa bit (+0x1FFFFF plus the kept bit: ties to even),
// whose top bits are (exponent, mantissa) = 252 + the magnitude code, capped
// at 7; below 1 the code is rint_even(2|x|) in {0, 1, 2} (the subnormal step
// 0.5).  Sign from the sign bit (-0 -> 8, as enc16_e2m1).
inline __m512i enc16_e2m1_rne_small(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i a = _mm512_and_si512(u, S(0x7FFFFFFF));
  const __m512i r = _mm512_add_epi32(a, _mm512_add_epi32(_mm512_and_si512(_mm512_srli_epi32(a, 22), S(1)), S(0x1FFFFF)));
  __m512i c = _mm512_min_epi32(_mm512_sub_epi32(_mm512_srli_epi32(r, 22), S(252)), S(7));
  c = _mm512_mask_mov_epi32(c, _mm512_cmplt_epi32_mask(a, S(0x3F800000)),
                            _mm512_cvtps_epi32(_mm512_add_ps(_mm512_castsi512_ps(a), _mm512_castsi512_ps(a))));
  return _mm512_ternarylogic_epi32(c, _mm512_srai_epi32(u, 31), S(8), 0xF8);  // c | (sign & 8)
}
inline __m512i S(uint32_t v) { return _mm512_set1_epi32(static_cast<int>(v)); }

// lb_encode_float<F> on 16 lanes (RNE or half-away): codec_avx2.cc's
// enc8_float with mask registers.
template <int F, bool Away>
inline __m512i enc16_float(__m512 xf, bool sat) {
  typedef ElemTraits<F> T;
  const __m512i u = _mm512_castps_si512(xf);
  const __m512i a = _mm512_and_si512(u, S(0x7FFFFFFF));
  const __mmask16 neg = _mm512_movepi32_mask(u);
  const __mmask16 isnan = _mm512_cmpgt_epi32_mask(a, S(0x7F800000));
  const __mmask16 isinf = _mm512_cmpeq_epi32_mask(a, S(0x7F800000));
  const __m512i ef = _mm512_srli_epi32(a, 23);
  const __m512i e = _mm512_sub_epi32(_mm512_max_epi32(ef, S(1)), S(127));
  const __mmask16 isnorm = _mm512_cmpgt_epi32_mask(ef, _mm512_setzero_si512());
  const __m512i m = _mm512_mask_or_epi32(_mm512_and_si512(a, S(0x7FFFFF)), isnorm, _mm512_and_si512(a, S(0x7FFFFF)),
                                         S(0x800000));
  const __m512i et = _mm512_max_epi32(e, S(T::emin));
  const __m512i sh = _mm512_min_epi32(_mm512_add_epi32(S(23 - T::mbits), _mm512_sub_epi32(et, e)), S(25));
  const __m512i half = _mm512_sllv_epi32(S(1), _mm512_sub_epi32(sh, S(1)));
  __m512i q;
  if (Away) {
    q = _mm512_srlv_epi32(_mm512_add_epi32(m, half), sh);
  } else {
    const __m512i odd = _mm512_and_si512(_mm512_srlv_epi32(m, sh), S(1));
    q = _mm512_srlv_epi32(_mm512_add_epi32(m, _mm512_add_epi32(_mm512_sub_epi32(half, S(1)), odd)), sh);
  }
  __m512i code = _mm512_add_epi32(_mm512_slli_epi32(_mm512_add_epi32(et, S(T::bias - 1)), T::mbits), q);
  const __mmask16 ovf = _mm512_cmpgt_epi32_mask(code, S(T::max_code)) | isinf;
  const uint32_t ovf_code = (sat || T::specials == SC_LB_SPECIALS_NONE) ? T::max_code
                            : T::specials == SC_LB_SPECIALS_IEEE         ? T::inf_code
                                                                         : T::nan_code;
  code = _mm512_mask_mov_epi32(code, ovf, S(ovf_code));
  const __m512i sgn = _mm512_maskz_mov_epi32(neg, S(T::sign_bit));
  code = _mm512_or_si512(code, sgn);
  const __m512i nanv = T::specials == SC_LB_SPECIALS_NONE ? _mm512_xor_si512(S(T::sign_bit), sgn)
                                                          : _mm512_or_si512(S(T::nan_code), sgn);
  code = _mm512_mask_mov_epi32(code, isnan, nanv);
  if (!T::is_signed) {
    const __mmask16 negnz = neg & _mm512_cmpgt_epi32_mask(a, _mm512_setzero_si512());
    code = _mm512_mask_mov_epi32(code, negnz, S(T::nan_code));
  }
  return code;
}

// lb_encode_e8m0 on 16 lanes; *slow is set when a lane is a float32 subnormal.
inline __m512i enc16_e8m0(__m512 xf, bool sat, bool* slow) {
  const __m512i u = _mm512_castps_si512(xf);
  const __m512i a = _mm512_and_si512(u, S(0x7FFFFFFF));
  const __m512i ef = _mm512_srli_epi32(a, 23);
  const __mmask16 zero = _mm512_cmpeq_epi32_mask(a, _mm512_setzero_si512());
  if (_mm512_mask_cmpeq_epi32_mask(static_cast<__mmask16>(~zero), ef, _mm512_setzero_si512())) *slow = true;
  __m512i code = _mm512_add_epi32(ef, _mm512_and_si512(_mm512_srli_epi32(a, 22), S(1)));
  const __mmask16 ovf = _mm512_cmpgt_epi32_mask(code, S(254)) | _mm512_cmpeq_epi32_mask(a, S(0x7F800000));
  code = _mm512_mask_mov_epi32(code, ovf, S(sat ? 0xFE : 0xFF));
  const __mmask16 bad = _mm512_cmpgt_epi32_mask(a, S(0x7F800000)) | _mm512_movepi32_mask(u) | zero;
  return _mm512_mask_mov_epi32(code, bad, S(0xFF));
}

template <int F, bool Away>
inline __m512i enc16(__m512 x, bool sat, bool* slow) {
  if (ElemTraits<F>::mbits == 0) return enc16_e8m0(x, sat, slow);
  return enc16_float<F, Away>(x, sat);
}

template <int F, bool Away>
void encode_t(const float* x, int64_t n, bool sat, uint8_t* out) {
  const int mode = Away ? SC_LB_ROUND_HALF_AWAY : SC_LB_ROUND_NEAREST_EVEN;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    bool slow = false;
    const __m512i c0 = enc16<F, Away>(_mm512_loadu_ps(x + i), sat, &slow);
    const __m512i c1 = enc16<F, Away>(_mm512_loadu_ps(x + i + 16), sat, &slow);
    if (slow) {
      plain::encode_t<F>(x + i, 32, sat, mode, 0, 0, out + i);
    } else {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi32_epi8(c0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i + 16), _mm512_cvtepi32_epi8(c1));
    }
  }
  plain::encode_t<F>(x + i, n - i, sat, mode, 0, 0, out + i);
}

void encode_avx512(int f, const float* x, int64_t n, bool sat, int mode, uint8_t* out) {
  with_elem(f, [&](auto tag) {
    constexpr int F = decltype(tag)::value;
    if (ElemTraits<F>::kind == SC_LB_INT)
      plain::encode_t<F>(x, n, sat, mode, 0, 0, out);
    else if (mode == SC_LB_ROUND_HALF_AWAY)
      encode_t<F, true>(x, n, sat, out);
    else
      encode_t<F, false>(x, n, sat, out);
  });
}

// 16 E2M1 codes (int32 lanes, in order) -> 8 bytes, element 2i in the low nibble.
inline __m128i nibbles8(__m512i c) { return _mm512_cvtepi64_epi8(_mm512_or_si512(c, _mm512_srli_epi64(c, 28))); }

inline __m512i absbits(const float* p) {
  return _mm512_and_si512(_mm512_loadu_si512(p), _mm512_set1_epi32(0x7FFFFFFF));
}

// The block kernels stream their input: software prefetch 8 KiB ahead (the
// hardware prefetcher alone left a 64 MiB MXFP4 quantize at about 0.6 of its
// in-cache rate on Zen 5; the lowbit GEMV measured the same).  A prefetch
// past the end of the input is harmless (it never faults).
constexpr int64_t kPrefetchFloats = 2048;

// ---- MXFP4 ----
// Lane k = max over the 16 lanes of a[k] (a 16 x 16 transpose-reduce).
inline __m512i transpose_max16(__m512i* a) {
  for (int i = 0; i < 8; ++i)
    a[i] = _mm512_max_epu32(_mm512_unpacklo_epi32(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_epi32(a[2 * i], a[2 * i + 1]));
  // a[i] (i < 8): per 128-bit lane q, elements {2i, 2i+1} x 2 partial maxima
  for (int i = 0; i < 4; ++i)
    a[i] = _mm512_max_epu32(_mm512_unpacklo_epi64(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_epi64(a[2 * i], a[2 * i + 1]));
  // a[i] (i < 4): 128-bit lane q holds blocks 4i .. 4i+3, partial over q
  for (int i = 0; i < 2; ++i) {
    const __m512i lo = _mm512_shuffle_i32x4(a[2 * i], a[2 * i + 1], 0x88), hi = _mm512_shuffle_i32x4(a[2 * i], a[2 * i + 1], 0xDD);
    a[i] = _mm512_max_epu32(lo, hi);
  }
  // a[0]: lanes (q0 of 0-3, q2 of 0-3, q0 of 4-7, q2 of 4-7) after max with q1/q3, etc.
  const __m512i lo = _mm512_shuffle_i32x4(a[0], a[1], 0x88), hi = _mm512_shuffle_i32x4(a[0], a[1], 0xDD);
  return _mm512_max_epu32(lo, hi);
}

// Scale codes and 2^-e of 16 blocks from their |x| maxima (bits), the rule
// of lb_mx_scale_code / lb_pow2; false when a maximum is a float32 subnormal.
inline bool mx_scales16(__m512i amax, int emax, __m512i* code, __m512* inv) {
  const __m512i ef = _mm512_srli_epi32(amax, 23);
  const __mmask16 zero = _mm512_cmpeq_epi32_mask(amax, _mm512_setzero_si512());
  const __mmask16 sub = _mm512_mask_cmpeq_epi32_mask(static_cast<__mmask16>(~zero), ef, _mm512_setzero_si512());
  if (sub) return false;
  const __mmask16 bad = _mm512_cmpgt_epu32_mask(amax, _mm512_set1_epi32(0x7F7FFFFF));
  __m512i e = _mm512_sub_epi32(_mm512_mask_mov_epi32(ef, zero, _mm512_set1_epi32(1)), _mm512_set1_epi32(127 + emax));
  e = _mm512_max_epi32(_mm512_min_epi32(e, _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
  *code = _mm512_mask_mov_epi32(_mm512_add_epi32(e, _mm512_set1_epi32(127)), bad, _mm512_set1_epi32(0xFF));
  const __m512i biased = _mm512_sub_epi32(_mm512_set1_epi32(127), e);  // 2^-e, e in [-127, 127]
  *inv = _mm512_castsi512_ps(_mm512_mask_mov_epi32(_mm512_slli_epi32(biased, 23),
                                                   _mm512_cmpeq_epi32_mask(biased, _mm512_setzero_si512()),
                                                   _mm512_set1_epi32(0x00400000)));
  return true;
}

// One block of 32 given its scale code sc and 2^-e: E2M1 packed two per
// byte, the other float elements one byte each.
template <int B, bool Away>
inline void mx_block(const float* xb, float inv, uint32_t sc, uint8_t* cb) {
  constexpr int E = BlockTraits<B>::element;
  if (sc == 0xFFu) {  // NaN/Inf in the block: NaN scale, zero codes
    for (int j = 0; j < 32 / BlockTraits<B>::pack; ++j) cb[j] = 0;
    return;
  }
  const __m512 v = _mm512_set1_ps(inv);
  const __m512 x0 = _mm512_mul_ps(_mm512_loadu_ps(xb), v), x1 = _mm512_mul_ps(_mm512_loadu_ps(xb + 16), v);
  if (E == SC_LB_FLOAT4_E2M1FN) {
    if (Away)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(cb),
                       _mm_unpacklo_epi64(nibbles8(enc16_e2m1<true>(x0)), nibbles8(enc16_e2m1<true>(x1))));
    else  // |x| * 2^-e < 8 by the scale rule
      _mm_storeu_si128(reinterpret_cast<__m128i*>(cb), _mm_unpacklo_epi64(nibbles8(enc16_e2m1_rne_small(x0)),
                                                                          nibbles8(enc16_e2m1_rne_small(x1))));
  } else {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(cb), _mm512_cvtepi32_epi8(enc16_float<E, Away>(x0, true)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(cb + 16), _mm512_cvtepi32_epi8(enc16_float<E, Away>(x1, true)));
  }
}

template <int B, bool Away>
void quant_mx_t(const float* x, int64_t nb, uint8_t* codes, uint8_t* scales) {
  constexpr int emax = BlockTraits<B>::emax, per = 32 / BlockTraits<B>::pack;
  int64_t b = 0;
  alignas(64) uint32_t sc[16];
  alignas(64) float inv[16];
  for (; b + 16 <= nb; b += 16) {
    const float* xg = x + 32 * b;
    for (int k = 0; k < 32; ++k) _mm_prefetch(reinterpret_cast<const char*>(xg + kPrefetchFloats + 16 * k), _MM_HINT_T0);
    __m512i am[16];
    for (int k = 0; k < 16; ++k) am[k] = _mm512_max_epu32(absbits(xg + 32 * k), absbits(xg + 32 * k + 16));
    __m512i code;
    __m512 iv;
    if (mx_scales16(transpose_max16(am), emax, &code, &iv)) {
      _mm512_store_si512(sc, code);
      _mm512_store_ps(inv, iv);
    } else {
      for (int k = 0; k < 16; ++k) {
        const uint32_t m = _mm512_reduce_max_epu32(_mm512_max_epu32(absbits(xg + 32 * k), absbits(xg + 32 * k + 16)));
        sc[k] = lb_mx_scale_code(lb_bits_f32(m), emax);
        inv[k] = sc[k] == 0xFFu ? 0.0f : lb_pow2(127 - static_cast<int>(sc[k]));
      }
      code = _mm512_load_si512(sc);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(scales + b), _mm512_cvtepi32_epi8(code));
    for (int k = 0; k < 16; ++k) mx_block<B, Away>(xg + 32 * k, inv[k], sc[k], codes + per * (b + k));
  }
  for (; b < nb; ++b) {
    const float* xb = x + 32 * b;
    const uint32_t m = _mm512_reduce_max_epu32(_mm512_max_epu32(absbits(xb), absbits(xb + 16)));
    const uint32_t s = lb_mx_scale_code(lb_bits_f32(m), emax);
    scales[b] = static_cast<uint8_t>(s);
    mx_block<B, Away>(xb, s == 0xFFu ? 0.0f : lb_pow2(127 - static_cast<int>(s)), s, codes + per * b);
  }
}

void quant_mx_avx512(int b, const float* x, int64_t nb, int mode, uint8_t* codes, uint8_t* scales) {
  const bool away = mode == SC_LB_ROUND_HALF_AWAY;
  switch (b) {
#define SC_LB_CASE(B)                                          \
  case SC_LB_BLOCK_##B:                                        \
    if (away)                                                  \
      quant_mx_t<SC_LB_BLOCK_##B, true>(x, nb, codes, scales);  \
    else                                                       \
      quant_mx_t<SC_LB_BLOCK_##B, false>(x, nb, codes, scales); \
    break;
    SC_LB_CASE(MXFP8_E4M3)
    SC_LB_CASE(MXFP8_E5M2)
    SC_LB_CASE(MXFP6_E3M2)
    SC_LB_CASE(MXFP6_E2M3)
    SC_LB_CASE(MXFP4)
#undef SC_LB_CASE
    default:  // MXINT8 (fixed point) stays AVX2's
      lb_kernels_avx2().quant_mx(b, x, nb, mode, codes, scales);
      break;
  }
}

// ---- decode: a 256-entry table per format, 16-lane gathers ----
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

void decode_avx512(int f, const uint8_t* c, int64_t n, float* out) {
  const float* t = luts().t[f];
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + i)));
    _mm512_storeu_ps(out + i, _mm512_i32gather_ps(idx, t, 4));
  }
  if (i < n) {  // masked tail
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512i idx = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, c + i));
    _mm512_mask_storeu_ps(out + i, k, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, idx, t, 4));
  }
}

float absmax_avx512(const float* x, int64_t n) {
  __m512i m0 = _mm512_setzero_si512(), m1 = m0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    _mm_prefetch(reinterpret_cast<const char*>(x + i + kPrefetchFloats), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(x + i + kPrefetchFloats + 16), _MM_HINT_T0);
    m0 = _mm512_max_epu32(m0, absbits(x + i));
    m1 = _mm512_max_epu32(m1, absbits(x + i + 16));
  }
  if (i + 16 <= n) {
    m0 = _mm512_max_epu32(m0, absbits(x + i));
    i += 16;
  }
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    m1 = _mm512_max_epu32(m1, _mm512_and_si512(_mm512_maskz_loadu_epi32(k, x + i), _mm512_set1_epi32(0x7FFFFFFF)));
  }
  return lb_bits_f32(_mm512_reduce_max_epu32(_mm512_max_epu32(m0, m1)));  // NaN bits are the largest
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
    __m512i am = _mm512_setzero_si512();
    for (int64_t j = 0; j < g; j += 16) {
      const __m512i a = absbits(xb + j);
      const __mmask16 nf = _mm512_cmpgt_epi32_mask(a, S(0x7F7FFFFF));
      bad += __builtin_popcount(static_cast<unsigned>(nf));
      am = _mm512_mask_max_epu32(am, static_cast<__mmask16>(~nf), am, a);
    }
    const float amax = lb_bits_f32(_mm512_reduce_max_epu32(am));
    const float sc = amax / static_cast<float>(qmax);
    scales[b] = sc;
    if (sc == 0.0f) {
      for (int64_t j = 0; j < per; ++j) cb[j] = 0;
      continue;
    }
    const __m512 vs = _mm512_set1_ps(sc);
    for (int64_t j = 0; j < g; j += 32) {
      __m512i c[2];
      for (int k = 0; k < 2; ++k) {
        __m512 v = _mm512_div_ps(_mm512_loadu_ps(xb + j + 16 * k), vs);
        v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-1024.0f)), _mm512_set1_ps(1024.0f));  // NaN: counted above
        __m512i q;
        if (Away) {
          const __m512 av = _mm512_abs_ps(v);
          const __m512 fl = _mm512_roundscale_ps(av, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
          const __mmask16 up = _mm512_cmp_ps_mask(_mm512_sub_ps(av, fl), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
          q = _mm512_cvttps_epi32(_mm512_mask_add_ps(fl, up, fl, _mm512_set1_ps(1.0f)));
          q = _mm512_mask_sub_epi32(q, _mm512_movepi32_mask(_mm512_castps_si512(v)), _mm512_setzero_si512(), q);
        } else {
          q = _mm512_cvtps_epi32(v);  // RNE (MXCSR default)
        }
        c[k] = _mm512_max_epi32(_mm512_min_epi32(q, S(qmax)), S(-qmax - 1));
      }
      if (Bits == 4) {
        const __m512i m4 = S(0x0F);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(cb + j / 2),
                         _mm_unpacklo_epi64(nibbles8(_mm512_and_si512(c[0], m4)), nibbles8(_mm512_and_si512(c[1], m4))));
      } else {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(cb + j), _mm512_cvtepi32_epi8(c[0]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(cb + j + 16), _mm512_cvtepi32_epi8(c[1]));
      }
    }
  }
  return bad;
}

int64_t quant_int_sym_avx512(int bits, const float* x, int64_t nb, int64_t g, int mode, uint8_t* codes, float* scales) {
  if (g % 32 != 0 || mode == SC_LB_ROUND_STOCHASTIC)
    return plain::quant_int_sym(bits, x, nb, g, mode, 0, 0, codes, scales);
  const bool away = mode == SC_LB_ROUND_HALF_AWAY;
  if (bits == 4) return away ? quant_int_t<4, true>(x, nb, g, codes, scales) : quant_int_t<4, false>(x, nb, g, codes, scales);
  return away ? quant_int_t<8, true>(x, nb, g, codes, scales) : quant_int_t<8, false>(x, nb, g, codes, scales);
}
// ---- NVFP4: 16 blocks of 16 per step, scales as one vector ----
void quant_nvfp4_avx512(const float* x, int64_t nb, float s_t, uint8_t* codes, uint8_t* scales) {
  const __m512 lo = _mm512_set1_ps(-6.0f), hi = _mm512_set1_ps(6.0f), vst = _mm512_set1_ps(s_t);
  const float* e4m3 = luts().t[SC_LB_FLOAT8_E4M3FN];
  int64_t b = 0;
  alignas(64) float tot[16];
  for (; b + 16 <= nb; b += 16) {
    const float* xg = x + 16 * b;
    for (int k = 0; k < 16; ++k) _mm_prefetch(reinterpret_cast<const char*>(xg + kPrefetchFloats + 16 * k), _MM_HINT_T0);
    __m512i am[16];
    for (int k = 0; k < 16; ++k) am[k] = absbits(xg + 16 * k);
    // lb_nvfp4_scale_code on 16 lanes: E4M3(clamp(amax / 6 / s_t, 2^-6, 448))
    __m512 v = _mm512_div_ps(_mm512_div_ps(_mm512_castsi512_ps(transpose_max16(am)), _mm512_set1_ps(6.0f)), vst);
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(0.015625f)), _mm512_set1_ps(448.0f));
    const __m512i code = enc16_float<SC_LB_FLOAT8_E4M3FN, false>(v, true);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(scales + b), _mm512_cvtepi32_epi8(code));
    _mm512_store_ps(tot, _mm512_mul_ps(vst, _mm512_i32gather_ps(code, e4m3, 4)));
    for (int k = 0; k < 16; ++k) {
      __m512 w = _mm512_div_ps(_mm512_loadu_ps(xg + 16 * k), _mm512_set1_ps(tot[k]));
      w = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(w, w, _CMP_ORD_Q), w);  // 0 / 0 -> 0, as lb_nvfp4_encode_elem
      _mm_storel_epi64(reinterpret_cast<__m128i*>(codes + 8 * (b + k)),
                       nibbles8(enc16_e2m1_rne_small(_mm512_min_ps(_mm512_max_ps(w, lo), hi))));
    }
  }
  plain::quant_nvfp4(x + b * 16, nb - b, s_t, SC_LB_ROUND_NEAREST_EVEN, 0, 0, codes + b * 8, scales + b);
}

void hadamard_avx512(float* x, int64_t nb, int64_t n, const float* signs, bool inverse) {
  lb_kernels_avx2().hadamard(x, nb, n, signs, inverse);
}

}  // namespace

const LbKernels& lb_kernels_avx512() {
  static const LbKernels t = {"avx512",           encode_avx512,        decode_avx512, quant_mx_avx512,
                              quant_nvfp4_avx512, quant_int_sym_avx512, absmax_avx512, hadamard_avx512};
  return t;
}

}  // namespace lowbit
}  // namespace sc
