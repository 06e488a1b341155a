// AVX2 + FMA kernels of gemm.h.
//
// GEMV (M <= 4, the weights streamed once from memory, each row by one thread):
//   * int4 x float32: one 256-bit load per 64-element chunk; the 8 codes of
//     elements k0+8j..k0+8j+7 are `(v << (28-4j)) >>arith 28` (pack.h layout),
//     converted to float and FMA'd with x; per group the lane sums are scaled
//     by the group scale.  Several independent accumulators hide FMA latency.
//   * int8 x float32: vpmovsxbd + cvt + FMA.
//   * MXFP4 / NVFP4 (E2M1) x float32: gemv_f32_fp4, a vpermps magnitude
//     lookup and the sign bit moved to bit 31; NVFP4's 16-element scales
//     split each 32-element chunk in two; their GEMM panel transposes 8
//     rows' 4 words (4 x 8 in-lane unpacks) and decodes the same way.
//   * int4 x int8 (W4A8): nibbles XOR 8 give u = code + 8 in [0, 15] as the
//     *unsigned* operand of vpmaddubsw, the activation codes (permuted per call
//     into the nibble order of the chunk) as the signed one.  Saturation
//     cannot happen: one vpmaddubsw lane is u0*a0 + u1*a1 with |.| <=
//     2*15*128 = 3840; a chunk adds two (lo and hi nibbles) and at most 4
//     chunks are summed in int16 before vpmaddwd widens them, so every int16
//     partial is <= 8*3840 = 30720 < 32767.  The +8 offset is removed exactly
//     per group with the activation group sum: isum = sum u*a - 8 sum a.
//   * int8 x int8 (W8A8): both sign-extended to int16 and multiplied with
//     vpmaddwd (int16*int16 pairs into int32): no saturation is possible
//     (|pair| <= 2*128*128 = 32768 fits int32).  We do not use vpmaddubsw's
//     unsigned x signed form for int8 x int8: u8*s8 pairs reach 2*255*127 and
//     saturate int16.
// GEMM (M > 4): parallel over 16-column panels; a panel of W is repacked per
// K slice or group into the micro-kernel's layout with 8 x 8 word
// transposes of 8 packed rows (the nibble shifts of a transposed int4 word
// give one k-row of 8 columns):
//   * float activations: float32 [k][16] of code * scale (exactly the values
//     of dequantize()), 6 x 16 FMA micro-kernel;
//   * W8A8: int16 [k/2][16][2], 4 x 16 vpmaddwd micro-kernel;
//   * W4A8: int8 [k/4][16][4] in a step order that follows the nibbles
//     (build_w4a8_panel), activations as codes + 128 (uint8) in the same
//     order; 4 x 16 vpmaddubsw micro-kernel that sums 8 steps in int16
//     before widening: a lane is (a0+128) c0 + (a1+128) c1 with |.| <=
//     2*255*8 = 4080, 8 of them <= 32640 < 32767, so nothing saturates; the
//     offset is removed exactly with the panel's column sums (128 sum c).
//   The integer activations are packed per call into 4-row tiles (one
//   sequential stream per micro-kernel) and the group products go to eight
//   per-thread chain buffers combined in gemm.h's order, so the integer
//   results are bit-identical to the reference.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "scalecore/common/threads.h"
#include "scalecore/lowbit/gemm.h"
#include "scalecore/lowbit/pack.h"

namespace sc {
namespace lowbit {

namespace {

// Products rounded on their own: the empty asm makes the compiler materialise
// them, so `acc + a*b` is never contracted into an FMA (GCC contracts
// vector and scalar expressions under -ffp-contract=fast).  The integer
// paths' float epilogue must round like the reference's.
inline float mul_rn(float a, float b) {
  float p = a * b;
  asm("" : "+x"(p));
  return p;
}
inline __m256 mul_rn(__m256 a, __m256 b) {
  __m256 p = _mm256_mul_ps(a, b);
  asm("" : "+x"(p));
  return p;
}

inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// Lane g of the result = the sum of the 8 lanes of v[g] (exact, int32).
inline __m256i hsum8_epi32(const __m256i* v) {
  const __m256i h01 = _mm256_hadd_epi32(v[0], v[1]), h23 = _mm256_hadd_epi32(v[2], v[3]);
  const __m256i h45 = _mm256_hadd_epi32(v[4], v[5]), h67 = _mm256_hadd_epi32(v[6], v[7]);
  const __m256i a = _mm256_hadd_epi32(h01, h23), b = _mm256_hadd_epi32(h45, h67);
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

// gemm.h's integer epilogue for one block of 8 groups g0.. (ng <= 8 of
// them): lane l of `tot` chains the groups g = l mod 8.
// off8 (optional): 8 int32 subtracted from the 8 group sums.
inline __m256 i8_block(__m256 tot, const __m256i* isv, const float* ws_row, int64_t g0, int64_t ng,
                       const int32_t* off8 = nullptr) {
  __m256 w;
  if (ng == 8) {
    w = _mm256_loadu_ps(ws_row + g0);
  } else {
    alignas(32) float t[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
    for (int64_t i = 0; i < ng; ++i) t[i] = ws_row[g0 + i];
    w = _mm256_load_ps(t);
  }
  __m256i is = hsum8_epi32(isv);
  if (off8) is = _mm256_sub_epi32(is, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(off8)));
  return _mm256_add_ps(tot, mul_rn(_mm256_cvtepi32_ps(is), w));
}

// acc of gemm.h from the 8 chains in the lanes of t.
inline float i8_combine(__m256 t) {
  alignas(32) float s[8];
  _mm256_store_ps(s, t);
  return lb_i8_combine(s);
}

// Codes of nibble J of each 32-bit lane, sign-extended.
template <int J>
inline __m256i nib8(__m256i v) {
  if (J == 7) return _mm256_srai_epi32(v, 28);
  return _mm256_srai_epi32(_mm256_slli_epi32(v, 28 - 4 * J), 28);
}
template <int J>
inline __m128i nib4(__m128i v) {
  if (J == 7) return _mm_srai_epi32(v, 28);
  return _mm_srai_epi32(_mm_slli_epi32(v, 28 - 4 * J), 28);
}

// ---------------------------------------------------------------- GEMV, float
// MB activation rows, NA independent accumulators per row.
template <int MB>
void gemv_f32_int4(const LbLinearArgs& a, int64_t m0, int64_t n0, int64_t n1) {
  constexpr int NA = MB == 1 ? 4 : 2;
  const int64_t K = a.K, N = a.N, gs = a.group, G = K / gs, rb = K / 2, nfull = gs / 64;
  const bool tail = gs % 64 != 0;
  const float* x[MB];
  for (int m = 0; m < MB; ++m) x[m] = a.x + (m0 + m) * K;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = a.w + n * rb;
    __m256 tot[MB][NA];  // NA chains per row: no reduction per group
    for (int m = 0; m < MB; ++m)
      for (int i = 0; i < NA; ++i) tot[m][i] = _mm256_setzero_ps();
    for (int64_t g = 0; g < G; ++g) {
      const int64_t k0 = g * gs;
      const uint8_t* p = row + k0 / 2;
      __m256 acc[MB][NA];
      for (int m = 0; m < MB; ++m)
        for (int i = 0; i < NA; ++i) acc[m][i] = _mm256_setzero_ps();
      for (int64_t c = 0; c < nfull; ++c) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * c));
        const int64_t kc = k0 + 64 * c;
#define SC_LB_STEP(J)                                                                  \
  {                                                                                    \
    const __m256 wf = _mm256_cvtepi32_ps(nib8<J>(v));                                  \
    for (int m = 0; m < MB; ++m)                                                       \
      acc[m][J % NA] = _mm256_fmadd_ps(wf, _mm256_loadu_ps(x[m] + kc + 8 * J), acc[m][J % NA]); \
  }
        SC_LB_STEP(0) SC_LB_STEP(1) SC_LB_STEP(2) SC_LB_STEP(3)
        SC_LB_STEP(4) SC_LB_STEP(5) SC_LB_STEP(6) SC_LB_STEP(7)
#undef SC_LB_STEP
      }
      if (tail) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32 * nfull));
        const int64_t kc = k0 + 64 * nfull;
        __m128 t[MB];
        for (int m = 0; m < MB; ++m) t[m] = _mm_setzero_ps();
#define SC_LB_STEP(J)                                                           \
  {                                                                             \
    const __m128 wf = _mm_cvtepi32_ps(nib4<J>(v));                              \
    for (int m = 0; m < MB; ++m) t[m] = _mm_fmadd_ps(wf, _mm_loadu_ps(x[m] + kc + 4 * J), t[m]); \
  }
        SC_LB_STEP(0) SC_LB_STEP(1) SC_LB_STEP(2) SC_LB_STEP(3)
        SC_LB_STEP(4) SC_LB_STEP(5) SC_LB_STEP(6) SC_LB_STEP(7)
#undef SC_LB_STEP
        for (int m = 0; m < MB; ++m)
          acc[m][0] = _mm256_add_ps(acc[m][0], _mm256_insertf128_ps(_mm256_setzero_ps(), t[m], 0));
      }
      const __m256 ws = _mm256_set1_ps(a.ws[n * G + g]);
      for (int m = 0; m < MB; ++m)
        for (int i = 0; i < NA; ++i) tot[m][i] = _mm256_fmadd_ps(acc[m][i], ws, tot[m][i]);
    }
    for (int m = 0; m < MB; ++m) {
      __m256 t = tot[m][0];
      for (int i = 1; i < NA; ++i) t = _mm256_add_ps(t, tot[m][i]);
      const float yv = hsum_ps(t);
      a.y[(m0 + m) * N + n] = a.bias ? yv + a.bias[n] : yv;
    }
  }
}

// MXFP4 (E2M1 nibbles, 32-element blocks = one 16-byte chunk of 4 words):
// V = [v, v >> 4] puts nibbles j and j+1 of the 4 words in lanes 0-3 and 4-7,
// i.e. elements k0 + 4j .. k0 + 4j + 7 in order; the magnitude is a vpermps
// lookup of the low 3 bits, the sign bit 3 moved to bit 31.
// With NVFP4's 16-element scales (S16), steps 0, 2 and 4, 6 of a chunk are
// its two scale blocks, accumulated and scaled apart.
template <int MB, bool S16>
void gemv_f32_fp4(const LbLinearArgs& a, int64_t m0, int64_t n0, int64_t n1) {
  constexpr int NA = S16 ? 2 : (MB == 1 ? 4 : 2);
  const int64_t K = a.K, N = a.N, gs = a.group, G = K / gs, rb = K / 2, Gs = K / a.scale_group();
  const __m256 table = _mm256_setr_ps(0.f, 0.5f, 1.f, 1.5f, 2.f, 3.f, 4.f, 6.f);
  const __m256i sbit = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const float* x[MB];
  for (int m = 0; m < MB; ++m) x[m] = a.x + (m0 + m) * K;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = a.w + n * rb;
    __m256 tot[MB][NA];
    for (int m = 0; m < MB; ++m)
      for (int i = 0; i < NA; ++i) tot[m][i] = _mm256_setzero_ps();
    for (int64_t g = 0; g < G; ++g) {
      __m256 acc[MB][NA];
      for (int m = 0; m < MB; ++m)
        for (int i = 0; i < NA; ++i) acc[m][i] = _mm256_setzero_ps();
      for (int64_t c = 0; c < gs / 32; ++c) {
        const int64_t kc = g * gs + 32 * c;
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + kc / 2));
        const __m256i V = _mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi32(v, 4), 1);
#define SC_LB_STEP(J)                                                                                     \
  {                                                                                                       \
    const __m256 mag = _mm256_permutevar8x32_ps(table, J == 0 ? V : _mm256_srli_epi32(V, 4 * J));           \
    const __m256i sg = _mm256_and_si256(_mm256_slli_epi32(V, 28 - 4 * J), sbit);                          \
    const __m256 wf = _mm256_xor_ps(mag, _mm256_castsi256_ps(sg));                                        \
    for (int m = 0; m < MB; ++m)                                                                          \
      acc[m][S16 ? J / 4 : (J / 2) % NA] =                                                               \
          _mm256_fmadd_ps(wf, _mm256_loadu_ps(x[m] + kc + 4 * J), acc[m][S16 ? J / 4 : (J / 2) % NA]);    \
  }
        SC_LB_STEP(0) SC_LB_STEP(2) SC_LB_STEP(4) SC_LB_STEP(6)
#undef SC_LB_STEP
      }
      if (S16) {  // gs == 32: acc[m][h] holds scale block 2g + h
        const __m256 w0 = _mm256_set1_ps(a.ws[n * Gs + 2 * g]), w1 = _mm256_set1_ps(a.ws[n * Gs + 2 * g + 1]);
        for (int m = 0; m < MB; ++m) {
          tot[m][0] = _mm256_fmadd_ps(acc[m][0], w0, tot[m][0]);
          tot[m][1] = _mm256_fmadd_ps(acc[m][1], w1, tot[m][1]);
        }
        continue;
      }
      const __m256 ws = _mm256_set1_ps(a.ws[n * G + g]);
      for (int m = 0; m < MB; ++m)
        for (int i = 0; i < NA; ++i) tot[m][i] = _mm256_fmadd_ps(acc[m][i], ws, tot[m][i]);
    }
    for (int m = 0; m < MB; ++m) {
      __m256 t = tot[m][0];
      for (int i = 1; i < NA; ++i) t = _mm256_add_ps(t, tot[m][i]);
      const float yv = hsum_ps(t);
      a.y[(m0 + m) * N + n] = a.bias ? yv + a.bias[n] : yv;
    }
  }
}

template <int MB>
void gemv_f32_int8(const LbLinearArgs& a, int64_t m0, int64_t n0, int64_t n1) {
  constexpr int NA = MB == 1 ? 4 : 2;
  const int64_t K = a.K, N = a.N, gs = a.group, G = K / gs;
  const float* x[MB];
  for (int m = 0; m < MB; ++m) x[m] = a.x + (m0 + m) * K;
  for (int64_t n = n0; n < n1; ++n) {
    const int8_t* row = reinterpret_cast<const int8_t*>(a.w) + n * K;
    __m256 tot[MB];
    for (int m = 0; m < MB; ++m) tot[m] = _mm256_setzero_ps();
    for (int64_t g = 0; g < G; ++g) {
      __m256 acc[MB][NA];
      for (int m = 0; m < MB; ++m)
        for (int i = 0; i < NA; ++i) acc[m][i] = _mm256_setzero_ps();
      for (int64_t k = g * gs; k < (g + 1) * gs; k += 32) {
        for (int j = 0; j < 4; ++j) {
          const __m256 wf = _mm256_cvtepi32_ps(
              _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + k + 8 * j))));
          for (int m = 0; m < MB; ++m)
            acc[m][j % NA] = _mm256_fmadd_ps(wf, _mm256_loadu_ps(x[m] + k + 8 * j), acc[m][j % NA]);
        }
      }
      const __m256 ws = _mm256_set1_ps(a.ws[n * G + g]);
      for (int m = 0; m < MB; ++m) {
        __m256 s = acc[m][0];
        for (int i = 1; i < NA; ++i) s = _mm256_add_ps(s, acc[m][i]);
        tot[m] = _mm256_fmadd_ps(s, ws, tot[m]);
      }
    }
    for (int m = 0; m < MB; ++m) {
      const float yv = hsum_ps(tot[m]);
      a.y[(m0 + m) * N + n] = a.bias ? yv + a.bias[n] : yv;
    }
  }
}

// ---------------------------------------------------------------- GEMV, int8
// Prepared activations of one call.
struct ActPrep {
  std::vector<int16_t> x16;   // (M, K) int16 copies of the codes (W8A8, and the GEMM)
  std::vector<int8_t> perm;   // (M, K) codes in the nibble order of each chunk (W4A8 GEMV)
  std::vector<int32_t> gsum8;  // (M, G + 8) 8 * the sum of the codes per group, zero padded (W4A8 GEMV)
  std::vector<uint8_t> tiles;  // GEMM: row tiles (atile_offset) of codes + 128 (W4A8) or int16 codes (W8A8)
};

// Permutes one row of activation codes into the order of the int4 chunks:
// per 64-chunk, 32 bytes matching the low nibbles (byte 4i+jb <- element
// 16jb+i) then 32 matching the high ones (<- 16jb+8+i); per 32-chunk the same
// with 16-byte halves (byte 4i+jb <- 8jb+i, and 8jb+4+i).
void permute_row(const int8_t* x, int64_t K, int64_t gs, int8_t* out) {
  const int64_t nfull = gs / 64;
  for (int64_t k0 = 0; k0 < K; k0 += gs) {
    for (int64_t c = 0; c < nfull; ++c) {
      const int8_t* s = x + k0 + 64 * c;
      int8_t* d = out + k0 + 64 * c;
      for (int i = 0; i < 8; ++i)
        for (int jb = 0; jb < 4; ++jb) {
          d[4 * i + jb] = s[16 * jb + i];
          d[32 + 4 * i + jb] = s[16 * jb + 8 + i];
        }
    }
    if (gs % 64) {
      const int8_t* s = x + k0 + 64 * nfull;
      int8_t* d = out + k0 + 64 * nfull;
      for (int i = 0; i < 4; ++i)
        for (int jb = 0; jb < 4; ++jb) {
          d[4 * i + jb] = s[8 * jb + i];
          d[16 + 4 * i + jb] = s[8 * jb + 4 + i];
        }
    }
  }
}

template <int MB>
void gemv_i8_int4(const LbLinearArgs& a, const ActPrep& ap, int64_t m0, int64_t n0, int64_t n1) {
  const int64_t K = a.K, N = a.N, gs = a.group, G = K / gs, G8 = G + 8, rb = K / 2, nfull = gs / 64;
  const bool tail = gs % 64 != 0;
  const __m256i lo4 = _mm256_set1_epi8(0x0F), x88 = _mm256_set1_epi8(static_cast<char>(0x88));
  const __m256i ones = _mm256_set1_epi16(1);
  const int8_t* x[MB];
  for (int m = 0; m < MB; ++m) x[m] = ap.perm.data() + (m0 + m) * K;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = a.w + n * rb;
    __m256 tot[MB];
    for (int m = 0; m < MB; ++m) tot[m] = _mm256_setzero_ps();
    __m256i isv[MB][8];  // one block of 8 groups: lane sums per group
    for (int64_t g = 0; g < G; ++g) {
      const int64_t k0 = g * gs;
      const uint8_t* p = row + k0 / 2;
      __m256i acc[MB], s16[MB];
      for (int m = 0; m < MB; ++m) acc[m] = s16[m] = _mm256_setzero_si256();
      for (int64_t c = 0; c < nfull; ++c) {
        const __m256i v = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * c)), x88);
        const __m256i ulo = _mm256_and_si256(v, lo4);
        const __m256i uhi = _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4);
        const int64_t kc = k0 + 64 * c;
        for (int m = 0; m < MB; ++m) {
          const __m256i plo = _mm256_maddubs_epi16(ulo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[m] + kc)));
          const __m256i phi =
              _mm256_maddubs_epi16(uhi, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[m] + kc + 32)));
          s16[m] = _mm256_add_epi16(s16[m], _mm256_add_epi16(plo, phi));
        }
        if (nfull > 4 && (c & 3) == 3) {  // at most 4 chunks in int16 (see the header)
          for (int m = 0; m < MB; ++m) {
            acc[m] = _mm256_add_epi32(acc[m], _mm256_madd_epi16(s16[m], ones));
            s16[m] = _mm256_setzero_si256();
          }
        }
      }
      for (int m = 0; m < MB; ++m) acc[m] = _mm256_add_epi32(acc[m], _mm256_madd_epi16(s16[m], ones));
      if (tail) {
        const __m128i v = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32 * nfull)),
                                        _mm256_castsi256_si128(x88));
        const __m128i ulo = _mm_and_si128(v, _mm256_castsi256_si128(lo4));
        const __m128i uhi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm256_castsi256_si128(lo4));
        const int64_t kc = k0 + 64 * nfull;
        for (int m = 0; m < MB; ++m) {
          const __m128i plo = _mm_maddubs_epi16(ulo, _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[m] + kc)));
          const __m128i phi = _mm_maddubs_epi16(uhi, _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[m] + kc + 16)));
          const __m128i t = _mm_madd_epi16(_mm_add_epi16(plo, phi), _mm256_castsi256_si128(ones));
          acc[m] = _mm256_add_epi32(acc[m], _mm256_inserti128_si256(_mm256_setzero_si256(), t, 0));
        }
      }
      for (int m = 0; m < MB; ++m) isv[m][g % 8] = acc[m];
      if (g % 8 == 7 || g == G - 1) {
        const int64_t ng = g % 8 + 1;
        for (int m = 0; m < MB; ++m) {
          for (int64_t i = ng; i < 8; ++i) isv[m][i] = _mm256_setzero_si256();
          // sum u*a - 8 sum a for the 8 groups at once (exact in int32)
          tot[m] = i8_block(tot[m], isv[m], a.ws + n * G, g - ng + 1, ng, ap.gsum8.data() + (m0 + m) * G8 + (g - ng + 1));
        }
      }
    }
    for (int m = 0; m < MB; ++m) {
      float yv = mul_rn(i8_combine(tot[m]), a.xs[m0 + m]);
      if (a.bias) yv = yv + a.bias[n];
      a.y[(m0 + m) * N + n] = yv;
    }
  }
}

template <int MB>
void gemv_i8_int8(const LbLinearArgs& a, const ActPrep& ap, int64_t m0, int64_t n0, int64_t n1) {
  const int64_t K = a.K, N = a.N, gs = a.group, G = K / gs;
  const int16_t* x[MB];
  for (int m = 0; m < MB; ++m) x[m] = ap.x16.data() + (m0 + m) * K;
  for (int64_t n = n0; n < n1; ++n) {
    const int8_t* row = reinterpret_cast<const int8_t*>(a.w) + n * K;
    __m256 tot[MB];
    for (int m = 0; m < MB; ++m) tot[m] = _mm256_setzero_ps();
    __m256i isv[MB][8];
    for (int64_t g = 0; g < G; ++g) {
      __m256i acc[MB][2];
      for (int m = 0; m < MB; ++m) acc[m][0] = acc[m][1] = _mm256_setzero_si256();
      for (int64_t k = g * gs; k < (g + 1) * gs; k += 32) {
        const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k)));
        const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k + 16)));
        for (int m = 0; m < MB; ++m) {
          acc[m][0] = _mm256_add_epi32(
              acc[m][0], _mm256_madd_epi16(w0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[m] + k))));
          acc[m][1] = _mm256_add_epi32(
              acc[m][1], _mm256_madd_epi16(w1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[m] + k + 16))));
        }
      }
      for (int m = 0; m < MB; ++m) isv[m][g % 8] = _mm256_add_epi32(acc[m][0], acc[m][1]);
      if (g % 8 == 7 || g == G - 1) {
        const int64_t ng = g % 8 + 1;
        for (int m = 0; m < MB; ++m) {
          for (int64_t i = ng; i < 8; ++i) isv[m][i] = _mm256_setzero_si256();
          tot[m] = i8_block(tot[m], isv[m], a.ws + n * G, g - ng + 1, ng);
        }
      }
    }
    for (int m = 0; m < MB; ++m) {
      float yv = mul_rn(i8_combine(tot[m]), a.xs[m0 + m]);
      if (a.bias) yv = yv + a.bias[n];
      a.y[(m0 + m) * N + n] = yv;
    }
  }
}

// Runs kern<MB> for the M (<= 4) rows.
template <template <int> class F, class... Args>
void for_rows(int64_t M, Args&&... args) {
  switch (M) {
    case 1: F<1>::run(0, args...); break;
    case 2: F<2>::run(0, args...); break;
    case 3: F<3>::run(0, args...); break;
    default: F<4>::run(0, args...); break;
  }
}

// ---------------------------------------------------------------- GEMM tiles
// Row tiles: 6 for the FMA kernel (12 accumulators) and the W4A8 kernel
// (12 int16 partials, int32 sums in L1); 4 for the vpmaddwd kernel, whose
// multiply needs a temporary before the add (6 rows spilled its accumulators:
// 83 against 103 GOP/s on one Zen 3 core).
constexpr int kMR = 6, kMRi = 4, kMRu = 6, kNR = 16, kKC = 256;
// The integer kernels read activations packed per call into row tiles:
// tile t of group g holds, per 4-byte step s, the 4 bytes of each of its
// kMRi rows (rows past M are zeros): one sequential stream per micro-kernel.
// TR = rows per tile (kMRu for W4A8, kMRi for W8A8); 4 * TR bytes per step.
inline size_t atile_offset(int64_t g, int64_t t, int64_t ntiles, int64_t steps, int tr) {
  return static_cast<size_t>(((g * ntiles + t) * steps) * 4 * tr);
}

// C tile access for a panel of nc <= 16 valid columns.
inline void tile_load(const float* c, int64_t nc, __m256* lo, __m256* hi) {
  if (nc == kNR) {
    *lo = _mm256_loadu_ps(c);
    *hi = _mm256_loadu_ps(c + 8);
    return;
  }
  alignas(32) float t[kNR] = {0};
  std::memcpy(t, c, static_cast<size_t>(nc) * 4);
  *lo = _mm256_load_ps(t);
  *hi = _mm256_load_ps(t + 8);
}
inline void tile_store(float* c, int64_t nc, __m256 lo, __m256 hi) {
  if (nc == kNR) {
    _mm256_storeu_ps(c, lo);
    _mm256_storeu_ps(c + 8, hi);
    return;
  }
  alignas(32) float t[kNR];
  _mm256_store_ps(t, lo);
  _mm256_store_ps(t + 8, hi);
  std::memcpy(c, t, static_cast<size_t>(nc) * 4);
}

// C[MR][16] (+)= A[MR][kl] * B[kl][16] (float).
template <int MR>
void micro_f32(const float* A, int64_t lda, const float* B, int64_t kl, float* C, int64_t ldc, int64_t nc,
               bool first) {
  __m256 c[MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    __m256 lo = _mm256_setzero_ps(), hi = lo;  // locals: c stays in registers
    if (!first) tile_load(C + r * ldc, nc, &lo, &hi);
    c[r][0] = lo;
    c[r][1] = hi;
  }
  for (int64_t k = 0; k < kl; ++k) {
    const __m256 b0 = _mm256_load_ps(B + kNR * k), b1 = _mm256_load_ps(B + kNR * k + 8);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_broadcast_ss(A + r * lda + k);
      c[r][0] = _mm256_fmadd_ps(av, b0, c[r][0]);
      c[r][1] = _mm256_fmadd_ps(av, b1, c[r][1]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) tile_store(C + r * ldc, nc, c[r][0], c[r][1]);
}

// Int16 pairs: C[MR][16] = (first ? 0 : C) + float(A16[MR][kl] . B16) * ws.
template <int MR, int TR = kMRi>
void micro_i16(const uint8_t* A, const int16_t* B, int64_t kl, float* C, int64_t ldc, int64_t nc,
               const float* wsv, bool first) {
  __m256i acc[MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  for (int64_t kp = 0; kp < kl / 2; ++kp) {
    const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(B + 32 * kp));
    const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(B + 32 * kp + 16));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t pair;
      std::memcpy(&pair, A + 4 * TR * kp + 4 * r, 4);
      const __m256i av = _mm256_set1_epi32(pair);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, b0));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, b1));
    }
  }
  const __m256 w0 = _mm256_load_ps(wsv), w1 = _mm256_load_ps(wsv + 8);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();
    if (!first) tile_load(C + r * ldc, nc, &c0, &c1);
    c0 = _mm256_add_ps(c0, mul_rn(_mm256_cvtepi32_ps(acc[r][0]), w0));
    c1 = _mm256_add_ps(c1, mul_rn(_mm256_cvtepi32_ps(acc[r][1]), w1));
    tile_store(C + r * ldc, nc, c0, c1);
  }
}

// W4A8: C[MR][16] = (first ? 0 : C) + float(sum (a+128) * code - 128 csum) * ws,
// A = activation codes + 128 (uint8), B = int4 codes as int8 [k/4][16][4].
// vpmaddubsw's lanes are (a0+128) c0 + (a1+128) c1 with |.| <= 2*255*8 = 4080;
// 8 of them (32 k) are summed in int16 (<= 32640 < 32767), then widened.
template <int MR, int TR = kMRu>
void micro_u8s8(const uint8_t* A, const int8_t* B, int64_t kl, float* C, int64_t ldc, int64_t nc,
                const int32_t* csum, const float* wsv, bool first) {
  const __m256i ones = _mm256_set1_epi16(1);
  // int32 sums in memory (L1): only the int16 partials stay in registers.
  alignas(32) int32_t acc[MR][kNR] = {};
  for (int64_t k32 = 0; k32 < kl; k32 += 32) {
    __m256i s16[MR][2];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) s16[r][0] = s16[r][1] = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int64_t k4 = k32 / 4; k4 < k32 / 4 + 8; ++k4) {
      const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(B + 64 * k4));
      const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(B + 64 * k4 + 32));
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        int32_t quad;
        std::memcpy(&quad, A + 4 * TR * k4 + 4 * r, 4);
        const __m256i av = _mm256_set1_epi32(quad);
        s16[r][0] = _mm256_add_epi16(s16[r][0], _mm256_maddubs_epi16(av, b0));
        s16[r][1] = _mm256_add_epi16(s16[r][1], _mm256_maddubs_epi16(av, b1));
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
      for (int v = 0; v < 2; ++v) {
        __m256i* p = reinterpret_cast<__m256i*>(acc[r] + 8 * v);
        _mm256_store_si256(p, _mm256_add_epi32(_mm256_load_si256(p), _mm256_madd_epi16(s16[r][v], ones)));
      }
  }
  const __m256i cs0 = _mm256_slli_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(csum)), 7);
  const __m256i cs1 = _mm256_slli_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(csum + 8)), 7);
  const __m256 w0 = _mm256_load_ps(wsv), w1 = _mm256_load_ps(wsv + 8);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();
    if (!first) tile_load(C + r * ldc, nc, &c0, &c1);
    const __m256i a0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(acc[r]));
    const __m256i a1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(acc[r] + 8));
    c0 = _mm256_add_ps(c0, mul_rn(_mm256_cvtepi32_ps(_mm256_sub_epi32(a0, cs0)), w0));
    c1 = _mm256_add_ps(c1, mul_rn(_mm256_cvtepi32_ps(_mm256_sub_epi32(a1, cs1)), w1));
    tile_store(C + r * ldc, nc, c0, c1);
  }
}

// Runs f(m, integral_constant<MR>) over row tiles of at most MRMAX rows.
template <int MRMAX, class F>
void for_row_tiles(int64_t M, F&& f) {
  for (int64_t m = 0; m < M; m += MRMAX) {
    switch (std::min<int64_t>(MRMAX, M - m)) {
      case 1: f(m, std::integral_constant<int, 1>()); break;
      case 2: f(m, std::integral_constant<int, std::min(2, MRMAX)>()); break;
      case 3: f(m, std::integral_constant<int, std::min(3, MRMAX)>()); break;
      case 4: f(m, std::integral_constant<int, std::min(4, MRMAX)>()); break;
      case 5: f(m, std::integral_constant<int, std::min(5, MRMAX)>()); break;
      default: f(m, std::integral_constant<int, std::min(6, MRMAX)>()); break;
    }
  }
}

struct GemmScratch {
  std::vector<int8_t> codes;
  std::vector<float, std::allocator<float>> fpanel;
  std::vector<int16_t> ipanel;
  std::vector<int8_t> bpanel;
  float* fp(size_t n) {
    fpanel.resize(n + 8);
    return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(fpanel.data()) + 31) & ~uintptr_t(31));
  }
  int8_t* bp(size_t n) {
    bpanel.resize(n + 32);
    return reinterpret_cast<int8_t*>((reinterpret_cast<uintptr_t>(bpanel.data()) + 31) & ~uintptr_t(31));
  }
  int16_t* ip(size_t n) {
    ipanel.resize(n + 16);
    return reinterpret_cast<int16_t*>((reinterpret_cast<uintptr_t>(ipanel.data()) + 31) & ~uintptr_t(31));
  }
};

// ---------------------------------------------------------------- panel builders
// 8 x 8 transpose of 32-bit words: r[i] lane j <- r[j] lane i.
inline void transpose8(__m256i r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; ++i) t[i] = _mm256_castsi256_ps(r[i]);
  u[0] = _mm256_unpacklo_ps(t[0], t[1]);
  u[1] = _mm256_unpackhi_ps(t[0], t[1]);
  u[2] = _mm256_unpacklo_ps(t[2], t[3]);
  u[3] = _mm256_unpackhi_ps(t[2], t[3]);
  u[4] = _mm256_unpacklo_ps(t[4], t[5]);
  u[5] = _mm256_unpackhi_ps(t[4], t[5]);
  u[6] = _mm256_unpacklo_ps(t[6], t[7]);
  u[7] = _mm256_unpackhi_ps(t[6], t[7]);
  t[0] = _mm256_shuffle_ps(u[0], u[2], _MM_SHUFFLE(1, 0, 1, 0));
  t[1] = _mm256_shuffle_ps(u[0], u[2], _MM_SHUFFLE(3, 2, 3, 2));
  t[2] = _mm256_shuffle_ps(u[1], u[3], _MM_SHUFFLE(1, 0, 1, 0));
  t[3] = _mm256_shuffle_ps(u[1], u[3], _MM_SHUFFLE(3, 2, 3, 2));
  t[4] = _mm256_shuffle_ps(u[4], u[6], _MM_SHUFFLE(1, 0, 1, 0));
  t[5] = _mm256_shuffle_ps(u[4], u[6], _MM_SHUFFLE(3, 2, 3, 2));
  t[6] = _mm256_shuffle_ps(u[5], u[7], _MM_SHUFFLE(1, 0, 1, 0));
  t[7] = _mm256_shuffle_ps(u[5], u[7], _MM_SHUFFLE(3, 2, 3, 2));
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_castps_si256(_mm256_permute2f128_ps(t[i], t[i + 4], 0x20));
    r[i + 4] = _mm256_castps_si256(_mm256_permute2f128_ps(t[i], t[i + 4], 0x31));
  }
}

// The 32 bytes at byte `off` of rows n0 .. n0+7 (rows >= N read as zeros),
// transposed: r[i] lane c = word i of row n0 + c.
inline void load_rows8(const uint8_t* w, int64_t rb, int64_t n0, int64_t N, int64_t off, __m256i r[8]) {
  for (int c = 0; c < 8; ++c)
    r[c] = n0 + c < N ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + (n0 + c) * rb + off))
                      : _mm256_setzero_si256();
  transpose8(r);
}

inline __m256 scales8(const float* ws, int64_t G, int64_t n0, int64_t N, int64_t g) {
  alignas(32) float t[8];
  for (int c = 0; c < 8; ++c) t[c] = n0 + c < N ? ws[(n0 + c) * G + g] : 0.f;
  return _mm256_load_ps(t);
}

// Chunks of one group-aligned range: calls f(kc, L) for each chunk start kc
// (L = 8 for 64 elements, 4 for a 32-element tail).
template <class F>
void for_chunks(int64_t kb, int64_t ke, int64_t gs, F&& f) {
  const int64_t full = (gs / 64) * 64;
  for (int64_t k = kb; k < ke;) {
    const int64_t r = k % gs;
    const int64_t L = r < full ? 8 : 4;
    f(k, L);
    k += 8 * L;
  }
}

// Float panel [k][16] of dequantized values code * scale, k in [kb, ke)
// (chunk-aligned), columns n0 .. n0+15.
void build_f32_panel(const LbLinearArgs& a, int64_t n0, int64_t kb, int64_t ke, float* B, int8_t* codes) {
  const int64_t K = a.K, N = a.N, gs = a.group, G = K / gs, rb = lb_row_bytes(a.wfmt, K);
  for (int h = 0; h < 2; ++h) {
    const int64_t c0 = n0 + 8 * h;
    float* Bh = B + 8 * h;
    if (a.wfmt == LB_W_INT8) {
      for (int64_t k = kb; k < ke; k += 8) {
        const __m256 sv = scales8(a.ws, G, c0, N, k / gs);
        __m256i r[8];
        for (int c = 0; c < 8; ++c)
          r[c] = c0 + c < N ? _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a.w + (c0 + c) * rb + k)))
                            : _mm256_setzero_si256();
        transpose8(r);
        for (int i = 0; i < 8; ++i) _mm256_store_ps(Bh + kNR * (k - kb + i), _mm256_mul_ps(_mm256_cvtepi32_ps(r[i]), sv));
      }
      continue;
    }
    for_chunks(kb, ke, gs, [&](int64_t kc, int64_t L) {
      const __m256 sv = scales8(a.ws, G, c0, N, kc / gs);
      if (L == 8 && a.wfmt == LB_W_INT4) {
        __m256i r[8];
        load_rows8(a.w, rb, c0, N, kc / 2, r);
        for (int i = 0; i < 8; ++i) {
          float* d = Bh + kNR * (kc - kb + i);
#define SC_LB_STEP(J) _mm256_store_ps(d + kNR * 8 * J, _mm256_mul_ps(_mm256_cvtepi32_ps(nib8<J>(r[i])), sv));
          SC_LB_STEP(0) SC_LB_STEP(1) SC_LB_STEP(2) SC_LB_STEP(3)
          SC_LB_STEP(4) SC_LB_STEP(5) SC_LB_STEP(6) SC_LB_STEP(7)
#undef SC_LB_STEP
        }
        return;
      }
      if (a.wfmt == LB_W_FP4 && L == 4) {
        // 4 words of 8 rows, transposed (Z[i] lane c = word i of row c0 + c);
        // element kc + 4j + i of the 8 columns is nibble j of Z[i].
        __m128i r[8];
        for (int c = 0; c < 8; ++c)
          r[c] = c0 + c < N ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.w + (c0 + c) * rb + kc / 2))
                            : _mm_setzero_si128();
        __m256i Y[4], Z[4];
        for (int c = 0; c < 4; ++c) Y[c] = _mm256_inserti128_si256(_mm256_castsi128_si256(r[c]), r[c + 4], 1);
        const __m256i t0 = _mm256_unpacklo_epi32(Y[0], Y[1]), t1 = _mm256_unpackhi_epi32(Y[0], Y[1]);
        const __m256i t2 = _mm256_unpacklo_epi32(Y[2], Y[3]), t3 = _mm256_unpackhi_epi32(Y[2], Y[3]);
        Z[0] = _mm256_unpacklo_epi64(t0, t2);
        Z[1] = _mm256_unpackhi_epi64(t0, t2);
        Z[2] = _mm256_unpacklo_epi64(t1, t3);
        Z[3] = _mm256_unpackhi_epi64(t1, t3);
        const __m256 table = _mm256_setr_ps(0.f, 0.5f, 1.f, 1.5f, 2.f, 3.f, 4.f, 6.f);
        const __m256i sbit = _mm256_set1_epi32(static_cast<int>(0x80000000u));
        __m256 s2[2] = {sv, sv};  // the scales of elements 0-15 and 16-31 of the chunk
        if (a.sgroup) {
          const int64_t Gs = K / a.sgroup;
          s2[0] = scales8(a.ws, Gs, c0, N, kc / a.sgroup);
          s2[1] = scales8(a.ws, Gs, c0, N, kc / a.sgroup + 1);
        }
        for (int i = 0; i < 4; ++i) {
#define SC_LB_STEP(J)                                                                                   \
  {                                                                                                     \
    const __m256 mag = _mm256_permutevar8x32_ps(table, _mm256_srli_epi32(Z[i], 4 * J));                 \
    const __m256i sg = _mm256_and_si256(_mm256_slli_epi32(Z[i], 28 - 4 * J), sbit);                     \
    _mm256_store_ps(Bh + kNR * (kc - kb + 4 * J + i),                                                   \
                    _mm256_mul_ps(_mm256_xor_ps(mag, _mm256_castsi256_ps(sg)), s2[J / 4]));              \
  }
          SC_LB_STEP(0) SC_LB_STEP(1) SC_LB_STEP(2) SC_LB_STEP(3)
          SC_LB_STEP(4) SC_LB_STEP(5) SC_LB_STEP(6) SC_LB_STEP(7)
#undef SC_LB_STEP
        }
        return;
      }
      alignas(32) float sc[8];
      _mm256_store_ps(sc, sv);
      const int64_t len = 8 * L;  // the int4 tail chunks (and E2M1 64-chunks), element by element
      for (int c = 0; c < 8; ++c) {
        if (c0 + c < N) lowbit_unpack_row(a.w + (c0 + c) * rb, K, gs, a.wfmt, kc, kc + len, codes);
        for (int64_t e = 0; e < len; ++e) {
          const float v = a.wfmt == LB_W_FP4 ? lb_e2m1_value(codes[e]) : float(codes[e]);
          const float sv1 = c0 + c < N && a.sgroup ? a.ws[(c0 + c) * (K / a.sgroup) + (kc + e) / a.sgroup] : sc[c];
          Bh[kNR * (kc - kb + e) + c] = c0 + c < N ? v * sv1 : 0.f;
        }
      }
    });
  }
}

// Int16 panel [k/2][16][2] of int8 codes, one group [kb, kb + gs).
void build_i16_panel(const LbLinearArgs& a, int64_t n0, int64_t kb, int16_t* B) {
  const int64_t K = a.K, N = a.N, gs = a.group;
  for (int h = 0; h < 2; ++h) {
    const int64_t c0 = n0 + 8 * h;
    for (int64_t k = kb; k < kb + gs; k += 16) {
      __m256i r[8];
      for (int c = 0; c < 8; ++c)
        r[c] = c0 + c < N ? _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.w + (c0 + c) * K + k)))
                          : _mm256_setzero_si256();
      transpose8(r);  // r[p] lane c = codes (k+2p, k+2p+1) of column c0 + c
      for (int p = 0; p < 8; ++p)
        _mm256_store_si256(reinterpret_cast<__m256i*>(B + 32 * ((k - kb) / 2 + p) + 16 * h), r[p]);
    }
  }
}

// W4A8 panel: int8 codes in steps of 4 k, [step][16][4], one group; the k of
// step s = 2i + h within a chunk of L words at kc are kc + i + L h + 2 L t,
// t = 0..3 (the activations are permuted to the same order,
// permute_u8_row).  csum[c] = sum of the group's codes of column c.
void build_w4a8_panel(const LbLinearArgs& a, int64_t n0, int64_t kb, int8_t* B, int32_t* csum, int8_t* codes) {
  const int64_t K = a.K, N = a.N, gs = a.group, rb = K / 2;
  const __m256i lo4 = _mm256_set1_epi8(0x0F), e8 = _mm256_set1_epi8(8), ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (int h8 = 0; h8 < 2; ++h8) {
    const int64_t c0 = n0 + 8 * h8;
    __m256i cs = _mm256_setzero_si256();
    for_chunks(kb, kb + gs, gs, [&](int64_t kc, int64_t L) {
      int8_t* Bc = B + 64 * ((kc - kb) / 4) + 32 * h8;
      if (L == 8) {
        __m256i r[8];
        load_rows8(a.w, rb, c0, N, kc / 2, r);
        for (int i = 0; i < 8; ++i) {
          const __m256i lo = _mm256_sub_epi8(_mm256_xor_si256(_mm256_and_si256(r[i], lo4), e8), e8);
          const __m256i hi = _mm256_sub_epi8(_mm256_xor_si256(_mm256_and_si256(_mm256_srli_epi32(r[i], 4), lo4), e8), e8);
          _mm256_store_si256(reinterpret_cast<__m256i*>(Bc + 64 * (2 * i)), lo);
          _mm256_store_si256(reinterpret_cast<__m256i*>(Bc + 64 * (2 * i + 1)), hi);
          cs = _mm256_add_epi32(cs, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, _mm256_add_epi8(lo, hi)), ones16));
        }
        return;
      }
      alignas(32) int32_t t[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(t), cs);
      for (int c = 0; c < 8; ++c) {
        if (c0 + c < N)
          lowbit_unpack_row(a.w + (c0 + c) * rb, K, gs, LB_W_INT4, kc, kc + 32, codes);
        else
          std::memset(codes, 0, 32);
        for (int i = 0; i < 4; ++i)
          for (int hh = 0; hh < 2; ++hh)
            for (int q = 0; q < 4; ++q) {
              const int8_t v = codes[i + 4 * hh + 8 * q];
              Bc[64 * (2 * i + hh) + 4 * c + q] = v;
              t[c] += v;
            }
      }
      cs = _mm256_load_si256(reinterpret_cast<const __m256i*>(t));
    });
    _mm256_store_si256(reinterpret_cast<__m256i*>(csum + 8 * h8), cs);
  }
}

// Activation codes + 128 in the step order of build_w4a8_panel.
void permute_u8_row(const int8_t* x, int64_t K, int64_t gs, uint8_t* out) {
  for_chunks(0, K, gs, [&](int64_t kc, int64_t L) {
    for (int64_t i = 0; i < L; ++i)
      for (int h = 0; h < 2; ++h)
        for (int t = 0; t < 4; ++t)
          out[kc + 4 * (2 * i + h) + t] = static_cast<uint8_t>(x[kc + i + L * h + 2 * L * t] ^ 0x80);
  });
}

void gemm_f32(const LbLinearArgs& a) {
  const int64_t K = a.K, N = a.N, M = a.M, gs = a.group;
  const int64_t npanels = (N + kNR - 1) / kNR;
  // K slices: whole groups up to kKC elements, or kKC-element pieces of a
  // larger group (group-relative multiples of 256 start a chunk).
  const int64_t kc_len = gs <= kKC ? (kKC / gs) * gs : kKC;
  parallel_for(npanels, 1, [&](int64_t p0, int64_t p1) {
    thread_local GemmScratch s;
    s.codes.resize(64);
    float* B = s.fp(static_cast<size_t>(kKC) * kNR);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n0 = p * kNR, nc = std::min<int64_t>(kNR, N - n0);
      for (int64_t kb = 0; kb < K;) {
        int64_t ke = std::min(K, kb + kc_len);
        if (gs > kKC) ke = std::min(ke, (kb / gs + 1) * gs);
        const int64_t kl = ke - kb;
        build_f32_panel(a, n0, kb, ke, B, s.codes.data());
        for_row_tiles<kMR>(M, [&](int64_t m, auto mr) {
          micro_f32<decltype(mr)::value>(a.x + m * K + kb, K, B, kl, a.y + m * N + n0, N, nc, kb == 0);
        });
        kb = ke;
      }
      if (a.bias)
        for (int64_t m = 0; m < M; ++m)
          for (int64_t c = 0; c < nc; ++c) a.y[m * N + n0 + c] += a.bias[n0 + c];
    }
  });
}

// The integer GEMMs accumulate p_g = float(isum_g) * ws into eight chain
// buffers P[l][M][16] (l = g mod 8, per thread, L2-resident), then combine
// them in gemm.h's order, scale by the token scale and add the bias.
struct ChainBuffer {
  std::vector<float> buf;
  float* get(int64_t M) {
    buf.resize(static_cast<size_t>(8 * M * kNR + 8));
    return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(buf.data()) + 31) & ~uintptr_t(31));
  }
};

void finish_i8(const LbLinearArgs& a, const float* P, int64_t n0, int64_t nc) {
  const int64_t M = a.M, L = M * kNR;
  alignas(32) float bias[kNR] = {0};
  if (a.bias)
    for (int64_t c = 0; c < nc; ++c) bias[c] = a.bias[n0 + c];
  for (int64_t m = 0; m < M; ++m) {
    const __m256 xs = _mm256_set1_ps(a.xs[m]);
    __m256 out[2];
    for (int v = 0; v < 2; ++v) {
      const float* q = P + m * kNR + 8 * v;
      __m256 s[8];
      for (int l = 0; l < 8; ++l) s[l] = _mm256_load_ps(q + l * L);
      const __m256 acc = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s[0], s[4]), _mm256_add_ps(s[2], s[6])),
                                       _mm256_add_ps(_mm256_add_ps(s[1], s[5]), _mm256_add_ps(s[3], s[7])));
      out[v] = mul_rn(acc, xs);
      if (a.bias) out[v] = _mm256_add_ps(out[v], _mm256_load_ps(bias + 8 * v));
    }
    tile_store(a.y + m * a.N + n0, nc, out[0], out[1]);
  }
}

void gemm_w4a8(const LbLinearArgs& a, const ActPrep& ap) {
  const int64_t K = a.K, N = a.N, M = a.M, gs = a.group, G = K / gs, ntiles = (M + kMRu - 1) / kMRu;
  const int64_t npanels = (N + kNR - 1) / kNR;
  parallel_for(npanels, 1, [&](int64_t p0, int64_t p1) {
    thread_local GemmScratch s;
    thread_local ChainBuffer cb;
    s.codes.resize(64);
    int8_t* B = s.bp(static_cast<size_t>(gs) * kNR);
    float* P = cb.get(M);
    alignas(32) float wsv[kNR];
    alignas(32) int32_t csum[kNR];
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n0 = p * kNR, nc = std::min<int64_t>(kNR, N - n0);
      if (G < 8) std::memset(P + G * M * kNR, 0, static_cast<size_t>((8 - G) * M * kNR) * sizeof(float));
      for (int64_t g = 0; g < G; ++g) {
        build_w4a8_panel(a, n0, g * gs, B, csum, s.codes.data());
        for (int64_t c = 0; c < kNR; ++c) wsv[c] = c < nc ? a.ws[(n0 + c) * G + g] : 0.f;
        float* Pl = P + (g % 8) * M * kNR;
        for_row_tiles<kMRu>(M, [&](int64_t m, auto mr) {
          micro_u8s8<decltype(mr)::value>(ap.tiles.data() + atile_offset(g, m / kMRu, ntiles, gs / 4, kMRu), B, gs,
                                          Pl + m * kNR, kNR, kNR, csum, wsv, g < 8);
        });
      }
      finish_i8(a, P, n0, nc);
    }
  });
}

void gemm_i8(const LbLinearArgs& a, const ActPrep& ap) {
  const int64_t K = a.K, N = a.N, M = a.M, gs = a.group, G = K / gs, ntiles = (M + kMRi - 1) / kMRi;
  const int64_t npanels = (N + kNR - 1) / kNR;
  parallel_for(npanels, 1, [&](int64_t p0, int64_t p1) {
    thread_local GemmScratch s;
    thread_local ChainBuffer cb;
    int16_t* B = s.ip(static_cast<size_t>(gs) * kNR);
    float* P = cb.get(M);
    alignas(32) float wsv[kNR];
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n0 = p * kNR, nc = std::min<int64_t>(kNR, N - n0);
      if (G < 8) std::memset(P + G * M * kNR, 0, static_cast<size_t>((8 - G) * M * kNR) * sizeof(float));
      for (int64_t g = 0; g < G; ++g) {
        build_i16_panel(a, n0, g * gs, B);
        for (int64_t c = 0; c < kNR; ++c) wsv[c] = c < nc ? a.ws[(n0 + c) * G + g] : 0.f;
        float* Pl = P + (g % 8) * M * kNR;
        for_row_tiles<kMRi>(M, [&](int64_t m, auto mr) {
          micro_i16<decltype(mr)::value>(ap.tiles.data() + atile_offset(g, m / kMRi, ntiles, gs / 2, kMRi), B, gs,
                                         Pl + m * kNR, kNR, kNR, wsv, g < 8);
        });
      }
      finish_i8(a, P, n0, nc);
    }
  });
}

// ---------------------------------------------------------------- entry points
constexpr int64_t kGemvGrain = 32;

template <int MB>
struct GemvF32 {
  static void run(int, const LbLinearArgs& a) {
    parallel_for(a.N, kGemvGrain, [&](int64_t n0, int64_t n1) {
      if (a.wfmt == LB_W_INT4)
        gemv_f32_int4<MB>(a, 0, n0, n1);
      else if (a.wfmt == LB_W_FP4 && a.scale_group() == 16)
        gemv_f32_fp4<MB, true>(a, 0, n0, n1);
      else if (a.wfmt == LB_W_FP4)
        gemv_f32_fp4<MB, false>(a, 0, n0, n1);
      else
        gemv_f32_int8<MB>(a, 0, n0, n1);
    });
  }
};

template <int MB>
struct GemvI8 {
  static void run(int, const LbLinearArgs& a, const ActPrep& ap) {
    parallel_for(a.N, kGemvGrain, [&](int64_t n0, int64_t n1) {
      if (a.wfmt == LB_W_INT4)
        gemv_i8_int4<MB>(a, ap, 0, n0, n1);
      else
        gemv_i8_int8<MB>(a, ap, 0, n0, n1);
    });
  }
};

void linear_f32_avx2(const LbLinearArgs& a) {
  if (a.M <= lb_gemv_max_rows())
    for_rows<GemvF32>(a.M, a);
  else
    gemm_f32(a);
}

void linear_i8_avx2(const LbLinearArgs& a) {
  const int64_t M = a.M, K = a.K, G = K / a.group;
  ActPrep ap;
  const bool gemv = M <= lb_gemv_max_rows();
  if (!gemv) {
    // Row tiles: W4A8 4 bytes = 4 codes + 128 in the panel's step order
    // (permute_u8_row) per step; W8A8 4 bytes = 2 int16 codes per step.
    const bool w4 = a.wfmt == LB_W_INT4;
    const int tr = w4 ? kMRu : kMRi;
    const int64_t gs = a.group, ntiles = (M + tr - 1) / tr;
    const int64_t row_bytes = w4 ? K : 2 * K, steps = w4 ? gs / 4 : gs / 2;
    ap.tiles.assign(static_cast<size_t>(ntiles * tr * row_bytes), 0);
    parallel_for(M, 16, [&](int64_t m0, int64_t m1) {
      std::vector<uint8_t> row(static_cast<size_t>(row_bytes));
      for (int64_t m = m0; m < m1; ++m) {
        if (w4) {
          permute_u8_row(a.xq + m * K, K, gs, row.data());
        } else {
          for (int64_t k = 0; k < K; ++k) {
            const int16_t v = a.xq[m * K + k];
            std::memcpy(row.data() + 2 * k, &v, 2);
          }
        }
        const int64_t t = m / tr, r = m % tr;
        for (int64_t g = 0; g < G; ++g)
          for (int64_t st = 0; st < steps; ++st)
            std::memcpy(ap.tiles.data() + atile_offset(g, t, ntiles, steps, tr) + 4 * tr * st + 4 * r,
                        row.data() + g * (row_bytes / G) + 4 * st, 4);
      }
    });
  } else if (a.wfmt == LB_W_INT8) {
    ap.x16.resize(static_cast<size_t>(M * K));
    for (int64_t i = 0; i < M * K; ++i) ap.x16[i] = a.xq[i];
  }
  if (gemv && a.wfmt == LB_W_INT4) {
    ap.perm.resize(static_cast<size_t>(M * K));
    ap.gsum8.assign(static_cast<size_t>(M * (G + 8)), 0);
    for (int64_t m = 0; m < M; ++m) {
      permute_row(a.xq + m * K, K, a.group, ap.perm.data() + m * K);
      for (int64_t k = 0; k < K; ++k) ap.gsum8[m * (G + 8) + k / a.group] += 8 * a.xq[m * K + k];
    }
  }
  if (gemv)
    for_rows<GemvI8>(M, a, ap);
  else if (a.wfmt == LB_W_INT4)
    gemm_w4a8(a, ap);
  else
    gemm_i8(a, ap);
}

}  // namespace

uint64_t lb_read_probe_avx2(const uint8_t* p, int64_t n) {
  const int64_t chunk = 1 << 18, nchunks = (n + chunk - 1) / chunk;
  std::vector<uint64_t> part(static_cast<size_t>(nchunks), 0);
  parallel_for(nchunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t e = std::min(n, (c + 1) * chunk);
      __m256i x0 = _mm256_setzero_si256(), x1 = x0, x2 = x0, x3 = x0;
      int64_t i = c * chunk;
      for (; i + 128 <= e; i += 128) {
        x0 = _mm256_xor_si256(x0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
        x1 = _mm256_xor_si256(x1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
        x2 = _mm256_xor_si256(x2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
        x3 = _mm256_xor_si256(x3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
      }
      for (; i < e; i += 32) x0 = _mm256_xor_si256(x0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
      x0 = _mm256_xor_si256(_mm256_xor_si256(x0, x1), _mm256_xor_si256(x2, x3));
      alignas(32) uint64_t t[4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(t), x0);
      part[static_cast<size_t>(c)] = t[0] ^ t[1] ^ t[2] ^ t[3];
    }
  });
  uint64_t r = 0;
  for (uint64_t v : part) r ^= v;
  return r;
}

const LbGemmKernels& lb_gemm_kernels_avx2() {
  static const LbGemmKernels k{linear_f32_avx2, linear_i8_avx2};
  return k;
}

}  // namespace lowbit
}  // namespace sc
