// AVX-512 kernels of gemm.h (F/BW/VL/DQ; the integer paths also need VNNI,
// per-function target("avx512vnni"), run only when cpu_features().avx512vnni).
//
// The packed layouts are pack.h's, the same at every level, so a PackedLinear
// packed anywhere runs here unchanged; the GEMM repacks panels per call.
//
// GEMV (M <= 4, weights streamed once, one row per thread step):
//   * int4 / E2M1 x float32: a 64-chunk (8 words) becomes the zmm
//     V = [v, v >> 4]: nibble J of V's 16 lanes are elements k0+8J .. k0+8J+15
//     (pack.h: nibble j of word i = element k0 + 8j + i), J = 0, 2, 4, 6; a
//     32-chunk (4 words) becomes [v, v>>4, v>>8, v>>12] (broadcast + vpsrlvd):
//     nibble J = elements k0+4J .. k0+4J+15, J = 0, 4.  Int4 codes are
//     (V << (28-4J)) >>arith 28; E2M1 values one vpermps of a 16-entry signed
//     table (it reads the low 4 bits of each index lane).  NVFP4's 16-element
//     scales are the two J steps of a 32-chunk.
//   * int8 x float32: vpmovsxbd + cvt + FMA on 16 lanes.
//   * W8A8: vpdpbusd with the weights as the unsigned operand, u = code ^ 0x80
//     = code + 128, and the activation codes signed: sum u*x = isum + 128 sum x,
//     the activation group sums computed once per call.  vpdpbusd adds four
//     u8*s8 products into an int32 lane without saturation: exact.
//   * W4A8: u = nibble ^ 8 = code + 8 in [0, 15], the zmm [u of the low
//     nibbles, u of the high nibbles] of a 64-chunk against the activations
//     permuted into that byte order (permute_row; a pair of 64-chunks is one
//     512-bit load, [lows of both] and [highs of both]); isum = sum u*x - 8 sum x.
// GEMM (M > 4, integer activations): gemm_tile_avx512.cc (6 x 64 VNNI
// tiles over a per-call packed panel), the same epilogue: identical bits.
// Float-activation GEMM (M > 4): 16-column panels of dequantized float32
// (code * scale, exactly dequantize()'s values) per K slice of <= 256, a
// 12 x 16 FMA micro-kernel on zmm.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "scalecore/common/dispatch.h"
#include "scalecore/common/threads.h"
#include "scalecore/lowbit/gemm.h"
#include "gemm_avx512_util.h"
#include "scalecore/lowbit/pack.h"

#define SC_VNNI __attribute__((target("avx512vnni")))
#define SC_BF16 __attribute__((target("avx512bf16")))

namespace sc {
namespace lowbit {

namespace {

inline __m512i widen4(__m128i v) {  // lanes 4q + i = word i >> 4q
  const __m512i sh = _mm512_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12);
  return _mm512_srlv_epi32(_mm512_broadcast_i32x4(v), sh);
}
inline __m512i widen8(__m256i v) {  // lanes 0-7 = v, 8-15 = v >> 4
  return _mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi32(v, 4), 1);
}

// The 16 float weights of nibble J of V (int4 codes or E2M1 values).
template <bool FP4, int J>
inline __m512 decode16(__m512i V, __m512 table) {
  if (FP4) return _mm512_permutexvar_ps(J == 0 ? V : _mm512_srli_epi32(V, 4 * J), table);
  if (J == 7) return _mm512_cvtepi32_ps(_mm512_srai_epi32(V, 28));
  return _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(V, 28 - 4 * J), 28));
}

inline __m512 e2m1_table() {
  return _mm512_setr_ps(0.f, 0.5f, 1.f, 1.5f, 2.f, 3.f, 4.f, 6.f, -0.f, -0.5f, -1.f, -1.5f, -2.f, -3.f, -4.f, -6.f);
}

// ---------------------------------------------------------------- GEMV, float
// Nibble weights (int4 or E2M1), MB activation rows.  S16: NVFP4 (gs == 32,
// a scale per 16 elements: the J = 0 and J = 4 steps of the 32-chunk).
// xb: the activations with each pair of 64-chunks of a group permuted
// (pair_order) when the group has two or more: one 512-bit load then covers
// both chunks' 16 words, nibble J of its lanes = elements kc+8J..+7 and
// kc+64+8J..+7, which the permuted x holds at kc + 16J.
template <int MB, bool FP4, bool S16>
void gemv_f32_nib(const LbLinearArgs& a, const float* xb, int64_t n0, int64_t n1) {
  constexpr int NA = MB == 1 ? 4 : 2;
  const int64_t K = a.K, N = a.N, gs = a.group, G = K / gs, rb = K / 2, nfull = gs / 64, Gs = K / a.scale_group();
  const bool tail = gs % 64 != 0;
  const __m512 table = e2m1_table();
  const float* x[MB];
  for (int m = 0; m < MB; ++m) x[m] = xb + m * K;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = a.w + n * rb;
    __m512 tot[MB][NA];
    for (int m = 0; m < MB; ++m)
      for (int i = 0; i < NA; ++i) tot[m][i] = _mm512_setzero_ps();
    for (int64_t g = 0; g < G; ++g) {
      const int64_t k0 = g * gs;
      const uint8_t* p = row + k0 / 2;
      __m512 acc[MB][NA];
      for (int m = 0; m < MB; ++m)
        for (int i = 0; i < NA; ++i) acc[m][i] = _mm512_setzero_ps();
      int64_t c = 0;
      for (; c + 2 <= nfull; c += 2) {
        const __m512i V = _mm512_loadu_si512(p + 32 * c);
        const int64_t kc = k0 + 64 * c;
#define SC_LB_STEP(J)                                                                              \
  {                                                                                                \
    const __m512 wf = decode16<FP4, J>(V, table);                                                  \
    for (int m = 0; m < MB; ++m)                                                                   \
      acc[m][J % NA] = _mm512_fmadd_ps(wf, _mm512_loadu_ps(x[m] + kc + 16 * J), acc[m][J % NA]); \
  }
        SC_LB_STEP(0) SC_LB_STEP(1) SC_LB_STEP(2) SC_LB_STEP(3)
        SC_LB_STEP(4) SC_LB_STEP(5) SC_LB_STEP(6) SC_LB_STEP(7)
#undef SC_LB_STEP
      }
      for (; c < nfull; ++c) {
        const __m512i V = widen8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * c)));
        const int64_t kc = k0 + 64 * c;
#define SC_LB_STEP(J)                                                                          \
  {                                                                                            \
    const __m512 wf = decode16<FP4, J>(V, table);                                              \
    for (int m = 0; m < MB; ++m)                                                               \
      acc[m][(J / 2) % NA] = _mm512_fmadd_ps(wf, _mm512_loadu_ps(x[m] + kc + 8 * J), acc[m][(J / 2) % NA]); \
  }
        SC_LB_STEP(0) SC_LB_STEP(2) SC_LB_STEP(4) SC_LB_STEP(6)
#undef SC_LB_STEP
      }
      if (tail) {
        const __m512i V = widen4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32 * nfull)));
        const int64_t kc = k0 + 64 * nfull;
        const __m512 w0 = decode16<FP4, 0>(V, table), w1 = decode16<FP4, 4>(V, table);
        if (S16) {  // gs == 32: the two halves have their own scales
          const __m512 s0 = _mm512_set1_ps(a.ws[n * Gs + 2 * g]), s1 = _mm512_set1_ps(a.ws[n * Gs + 2 * g + 1]);
          for (int m = 0; m < MB; ++m) {
            tot[m][0] = _mm512_fmadd_ps(_mm512_mul_ps(w0, _mm512_loadu_ps(x[m] + kc)), s0, tot[m][0]);
            tot[m][1] = _mm512_fmadd_ps(_mm512_mul_ps(w1, _mm512_loadu_ps(x[m] + kc + 16)), s1, tot[m][1]);
          }
          continue;
        }
        for (int m = 0; m < MB; ++m) {
          acc[m][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x[m] + kc), acc[m][0]);
          acc[m][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x[m] + kc + 16), acc[m][1]);
        }
      }
      const __m512 ws = _mm512_set1_ps(a.ws[n * G + g]);
      for (int m = 0; m < MB; ++m)
        for (int i = 0; i < NA; ++i) tot[m][i] = _mm512_fmadd_ps(acc[m][i], ws, tot[m][i]);
    }
    for (int m = 0; m < MB; ++m) {
      __m512 t = tot[m][0];
      for (int i = 1; i < NA; ++i) t = _mm512_add_ps(t, tot[m][i]);
      const float yv = _mm512_reduce_add_ps(t);
      a.y[m * N + n] = a.bias ? yv + a.bias[n] : yv;
    }
  }
}

template <int MB>
void gemv_f32_int8(const LbLinearArgs& a, int64_t n0, int64_t n1) {
  const int64_t K = a.K, N = a.N, gs = a.group, G = K / gs;
  const float* x[MB];
  for (int m = 0; m < MB; ++m) x[m] = a.x + m * K;
  for (int64_t n = n0; n < n1; ++n) {
    const int8_t* row = reinterpret_cast<const int8_t*>(a.w) + n * K;
    __m512 tot[MB];
    for (int m = 0; m < MB; ++m) tot[m] = _mm512_setzero_ps();
    for (int64_t g = 0; g < G; ++g) {
      __m512 acc[MB][2];
      for (int m = 0; m < MB; ++m) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
      for (int64_t k = g * gs; k < (g + 1) * gs; k += 32)
        for (int j = 0; j < 2; ++j) {
          const __m512 wf = _mm512_cvtepi32_ps(
              _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k + 16 * j))));
          for (int m = 0; m < MB; ++m) acc[m][j] = _mm512_fmadd_ps(wf, _mm512_loadu_ps(x[m] + k + 16 * j), acc[m][j]);
        }
      const __m512 ws = _mm512_set1_ps(a.ws[n * G + g]);
      for (int m = 0; m < MB; ++m) tot[m] = _mm512_fmadd_ps(_mm512_add_ps(acc[m][0], acc[m][1]), ws, tot[m]);
    }
    for (int m = 0; m < MB; ++m) {
      const float yv = _mm512_reduce_add_ps(tot[m]);
      a.y[m * N + n] = a.bias ? yv + a.bias[n] : yv;
    }
  }
}

// GEMV work split and streaming: one thread streams all rows in one pass;
// several threads take guided chunks (gemv_for), and the pair kernels
// prefetch the weights kGemvPrefetch bytes ahead of the load, never past the
// end of their chunk (the rows after it may be another thread's: prefetching
// them would read those bytes twice).  Measured on Zen 5, weights from DRAM:
// the hardware prefetcher alone left W4A8 at about 0.7 of the read probe,
// 4-8 KiB ahead about 0.9; 16 KiB and 0 (no prefetch) were worse.  The
// earlier fixed 128-row chunks (and a prefetch stopping at each chunk end)
// were 2-6% slower than the guided split at 1 and 2 threads (interleaved
// in one process, weights cycled over 256 MiB).
constexpr int64_t kGemvPrefetch = 8192;
constexpr int64_t kGemvMinRows = 16;

// GEMV rows handed out in guided chunks: each step takes max(min, remaining
// / (2 threads)) rows (a multiple of 16) from a shared counter, so the chunks
// shrink toward the end and the threads finish together.  Each row's result
// is computed by the same code whatever chunk it lands in: the outputs do not
// depend on the thread count or the split.
template <class F>
void gemv_for(int64_t N, const F& body) {
  const int T = num_threads();
  const int64_t mn = kGemvMinRows;
  if (T <= 1 || N <= mn) {
    body(0, N);
    return;
  }
  // 4T pool items, each taking chunks until the rows run out: a caller that
  // finds its helpers still asleep runs every item itself (the rest find no
  // rows and return) and never waits for a late thread to claim an item.
  std::atomic<int64_t> next{0};
  parallel_for(4 * static_cast<int64_t>(T), 1, [&](int64_t, int64_t) {
    for (;;) {
      int64_t cur = next.load(std::memory_order_relaxed), take;
      do {
        if (cur >= N) return;
        take = std::max<int64_t>(mn, ((N - cur) / (2 * T) + 15) / 16 * 16);
      } while (!next.compare_exchange_weak(cur, std::min(N, cur + take), std::memory_order_relaxed));
      body(cur, std::min(N, cur + take));
    }
  });
}

inline __m512 int4_table() {  // the signed value of each nibble 0..15
  return _mm512_setr_ps(0.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, -8.f, -7.f, -6.f, -5.f, -4.f, -3.f, -2.f, -1.f);
}

// Nibble weights x float32 for groups of 128j elements (only pairs of
// 64-chunks, one scale per group): per 512-bit load (128 weights) eight
// steps of one vpermps from a 16-entry value table (it reads the low 4 bits
// of each lane, so nibble J needs only V >> 4J) and an FMA, two accumulator
// chains per row, the group scale applied once per group.
template <int MB, bool FP4, int NP>  // NP: pairs per group, 0 = run time
void gemv_f32_pairs(const LbLinearArgs& a, const float* xb, int64_t n0, int64_t n1) {
  const int64_t K = a.K, N = a.N, gs = a.group, G = K / gs, rb = K / 2, np = NP ? NP : gs / 128;
  const __m512 table = FP4 ? e2m1_table() : int4_table();
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = a.w + n * rb;
    const float* wsr = a.ws + n * G;
    __m512 tot[MB][2];
    for (int m = 0; m < MB; ++m) tot[m][0] = tot[m][1] = _mm512_setzero_ps();
    for (int64_t g = 0; g < G; ++g) {
      __m512 acc[MB][2];
      for (int m = 0; m < MB; ++m) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
      for (int64_t q = 0; q < np; ++q) {
        _mm_prefetch(reinterpret_cast<const char*>(row + g * (gs / 2) + 64 * q + kGemvPrefetch), _MM_HINT_T0);
        __m512i V = _mm512_loadu_si512(row + g * (gs / 2) + 64 * q);
        asm("" : "+v"(V));  // keep V in a register: otherwise each shift reloads the line
        const int64_t kc = g * gs + 128 * q;
#pragma GCC unroll 8
        for (int J = 0; J < 8; ++J) {
          const __m512 wf = _mm512_permutexvar_ps(J == 0 ? V : _mm512_srli_epi32(V, 4 * J), table);
          for (int m = 0; m < MB; ++m)
            acc[m][J & 1] = _mm512_fmadd_ps(wf, _mm512_loadu_ps(xb + m * K + kc + 16 * J), acc[m][J & 1]);
        }
      }
      const __m512 ws = _mm512_set1_ps(wsr[g]);
      for (int m = 0; m < MB; ++m) {
        tot[m][0] = _mm512_fmadd_ps(acc[m][0], ws, tot[m][0]);
        tot[m][1] = _mm512_fmadd_ps(acc[m][1], ws, tot[m][1]);
      }
    }
    for (int m = 0; m < MB; ++m) {
      const float yv = _mm512_reduce_add_ps(_mm512_add_ps(tot[m][0], tot[m][1]));
      a.y[m * N + n] = a.bias ? yv + a.bias[n] : yv;
    }
  }
}

// Int4 weights x activations that are exact bfloat16 (act="bfloat16" rounds
// x first), groups of 128j, on AVX512_BF16: vdpbf16ps multiplies bf16 pairs
// exactly and adds each product into a float32 lane, rounded as an FMA
// would, so this is the float path with 32 weights per instruction instead
// of 16.  One vpermw from a 32-entry table of the bf16 code values decodes 32
// weights: after V >> 4s (16-bit lanes) the low 4 bits of halfword 0 of word
// i are nibble s, of halfword 1 nibble 4 + s (bit 4, the next nibble's, picks
// the same value: the table repeats), so the pair in 32-bit lane 8h + i
// (chunk h of the load's pair) is elements (64h + 8s + i, 64h + 32 + 8s + i)
// of the 128; xw holds the activations' bf16 bits in that pair order
// (bf16_pair_order).  Used only when every x is finite, bf16-exact and 0 or
// >= 2^-100 in magnitude: then every partial sum is a multiple of 2^-107
// (integer weights), never subnormal, so the instruction's flush of
// subnormal inputs and outputs never changes a result.
template <int MB, int NP>
SC_BF16 void gemv_bf16_pairs(const LbLinearArgs& a, const uint16_t* xw, int64_t n0, int64_t n1) {
  const int64_t K = a.K, N = a.N, gs = a.group, G = K / gs, rb = K / 2, np = NP ? NP : gs / 128;
  alignas(64) uint16_t tab[32];
  for (int t = 0; t < 32; ++t) {
    const float v = static_cast<float>((t & 15) < 8 ? (t & 15) : (t & 15) - 16);
    uint32_t u;
    std::memcpy(&u, &v, 4);
    tab[t] = static_cast<uint16_t>(u >> 16);
  }
  const __m512i table = _mm512_load_si512(tab);
  const uint8_t* pend = a.w + n1 * rb - 64;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = a.w + n * rb;
    const float* wsr = a.ws + n * G;
    __m512 tot[MB][2];
    for (int m = 0; m < MB; ++m) tot[m][0] = tot[m][1] = _mm512_setzero_ps();
    for (int64_t g = 0; g < G; ++g) {
      __m512 acc[MB][2];
      for (int m = 0; m < MB; ++m) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
      for (int64_t q = 0; q < np; ++q) {
        _mm_prefetch(reinterpret_cast<const char*>(std::min(row + g * (gs / 2) + 64 * q + kGemvPrefetch, pend)),
                     _MM_HINT_T0);
        __m512i V = _mm512_loadu_si512(row + g * (gs / 2) + 64 * q);
        asm("" : "+v"(V));
        const int64_t kc = g * gs + 128 * q;
#pragma GCC unroll 4
        for (int st = 0; st < 4; ++st) {
          const __m512i wv = _mm512_permutexvar_epi16(st == 0 ? V : _mm512_srli_epi16(V, 4 * st), table);
          for (int m = 0; m < MB; ++m)
            acc[m][st & 1] = _mm512_dpbf16_ps(acc[m][st & 1], (__m512bh)wv,
                                              (__m512bh)_mm512_loadu_si512(xw + m * K + kc + 32 * st));
        }
      }
      const __m512 ws = _mm512_set1_ps(wsr[g]);
      for (int m = 0; m < MB; ++m) {
        tot[m][0] = _mm512_fmadd_ps(acc[m][0], ws, tot[m][0]);
        tot[m][1] = _mm512_fmadd_ps(acc[m][1], ws, tot[m][1]);
      }
    }
    for (int m = 0; m < MB; ++m) {
      const float yv = _mm512_reduce_add_ps(_mm512_add_ps(tot[m][0], tot[m][1]));
      a.y[m * N + n] = a.bias ? yv + a.bias[n] : yv;
    }
  }
}

// x (M, K) -> the bf16 bits in gemv_bf16_pairs' order, or false when some x
// is not finite, not bf16-exact, or nonzero below 2^-100 in magnitude.
bool bf16_pair_order(const float* x, int64_t M, int64_t K, uint16_t* out) {
  const __m512i lo16 = _mm512_set1_epi32(0xFFFF), expm = _mm512_set1_epi32(0x7F800000),
                absm = _mm512_set1_epi32(0x7FFFFFFF), tiny = _mm512_set1_epi32(27 << 23);
  __mmask16 bad = 0;
  for (int64_t i = 0; i < M * K; i += 16) {  // K % 128 == 0
    const __m512i u = _mm512_loadu_si512(x + i);
    const __m512i e = _mm512_and_si512(u, expm);
    bad |= _mm512_test_epi32_mask(u, lo16) | _mm512_cmpeq_epi32_mask(e, expm) |
           (_mm512_cmplt_epi32_mask(e, tiny) & _mm512_test_epi32_mask(u, absm));
  }
  if (bad) return false;
  const __m512i hi16 = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t kc = 0; kc < K; kc += 128) {
      const float* src = x + m * K + kc;
      uint16_t* dst = out + m * K + kc;
      for (int st = 0; st < 4; ++st) {  // lane 8h + i: (x[64h + 8st + i], x[64h + 32 + 8st + i])
        const __m512i A = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 8 * st))),
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 64 + 8 * st)), 1);
        const __m512i B = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32 + 8 * st))),
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 96 + 8 * st)), 1);
        // (B & 0xFFFF0000) | (A >> 16)
        _mm512_storeu_si512(dst + 32 * st, _mm512_ternarylogic_epi32(B, hi16, _mm512_srli_epi32(A, 16), 0xEA));
      }
    }
  return true;
}

// Nibble weights x float32 for 32-element groups (MXFP4, NVFP4, int4 g=32):
// one 512-bit load covers 4 groups q = 0..3 (16 bytes each); its lane 4q + i
// is word i of group q, whose nibble J is element 4J + i of the group
// (pack.h's 32-chunk).  So each of the 8 steps J is one vpermps from the
// 16-entry value table (reading the low 4 bits of V >> 4J) and one FMA
// against the activations in "quad order" (xq[128b + 16J + 4q + i] =
// x[128b + 32q + 4J + i], zero past K), and the 4 group scales are applied
// per lane once per load (lanes 4q..4q+3 carry group q's scale; NVFP4: the
// scale of elements 0-15 for J < 4, of 16-31 for J >= 4).  A last block of
// fewer than 4 groups loads only their words (the other lanes decode to
// 0.0, against zero activations).
template <int MB, bool FP4, bool S16>
void gemv_f32_quads(const LbLinearArgs& a, const float* xq, int64_t Kp, int64_t n0, int64_t n1) {
  const int64_t K = a.K, N = a.N, G = K / 32, rb = K / 2, Gs = K / a.scale_group();
  const __m512 table = FP4 ? e2m1_table() : int4_table();
  const __m512i qidx = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  const __m512i lidx = _mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6);
  const __m512i hidx = _mm512_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3, 5, 5, 5, 5, 7, 7, 7, 7);
  const uint8_t* pend = a.w + n1 * rb - 64;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = a.w + n * rb;
    const float* wsr = a.ws + n * Gs;
    __m512 tot[MB][2];
    for (int m = 0; m < MB; ++m) tot[m][0] = tot[m][1] = _mm512_setzero_ps();
    for (int64_t b = 0; b < G; b += 4) {
      const int64_t nq = std::min<int64_t>(4, G - b);
      __m512i V;
      __m512 s0, s1;
      if (nq == 4) {
        _mm_prefetch(reinterpret_cast<const char*>(std::min(row + 16 * b + kGemvPrefetch, pend)), _MM_HINT_T0);
        V = _mm512_loadu_si512(row + 16 * b);
        if (S16) {
          const __m512 sv = _mm512_castps256_ps512(_mm256_loadu_ps(wsr + 2 * b));
          s0 = _mm512_permutexvar_ps(lidx, sv);
          s1 = _mm512_permutexvar_ps(hidx, sv);
        } else {
          s0 = s1 = _mm512_permutexvar_ps(qidx, _mm512_castps128_ps512(_mm_loadu_ps(wsr + b)));
        }
      } else {
        const __mmask16 km = static_cast<__mmask16>((1u << (4 * nq)) - 1);
        V = _mm512_maskz_loadu_epi32(km, row + 16 * b);
        if (S16) {
          const __m512 sv = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << (2 * nq)) - 1), wsr + 2 * b);
          s0 = _mm512_permutexvar_ps(lidx, sv);
          s1 = _mm512_permutexvar_ps(hidx, sv);
        } else {
          s0 = s1 = _mm512_permutexvar_ps(qidx, _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << nq) - 1), wsr + b));
        }
      }
      asm("" : "+v"(V));  // keep V in a register: otherwise each shift reloads the line
      __m512 acc[MB][2];
      for (int m = 0; m < MB; ++m) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
      const int64_t kc = 32 * b;
#pragma GCC unroll 8
      for (int J = 0; J < 8; ++J) {
        const __m512 wf = _mm512_permutexvar_ps(J == 0 ? V : _mm512_srli_epi32(V, 4 * J), table);
        const int c = S16 ? J / 4 : J & 1;
        for (int m = 0; m < MB; ++m)
          acc[m][c] = _mm512_fmadd_ps(wf, _mm512_loadu_ps(xq + m * Kp + kc + 16 * J), acc[m][c]);
      }
      for (int m = 0; m < MB; ++m) {
        tot[m][0] = _mm512_fmadd_ps(acc[m][0], s0, tot[m][0]);
        tot[m][1] = _mm512_fmadd_ps(acc[m][1], s1, tot[m][1]);
      }
    }
    for (int m = 0; m < MB; ++m) {
      const float yv = _mm512_reduce_add_ps(_mm512_add_ps(tot[m][0], tot[m][1]));
      a.y[m * N + n] = a.bias ? yv + a.bias[n] : yv;
    }
  }
}

template <int MB>
void gemv_f32_quads_fmt(const LbLinearArgs& a, const float* xq, int64_t Kp, int64_t n0, int64_t n1) {
  if (a.wfmt == LB_W_INT4)
    gemv_f32_quads<MB, false, false>(a, xq, Kp, n0, n1);
  else if (a.scale_group() == 16)
    gemv_f32_quads<MB, true, true>(a, xq, Kp, n0, n1);
  else
    gemv_f32_quads<MB, true, false>(a, xq, Kp, n0, n1);
}

template <int MB>
void gemv_f32_rows(const LbLinearArgs& a, const float* xb, int64_t n0, int64_t n1) {
  const bool pairs = a.group % 128 == 0 && a.scale_group() == a.group;
  if (pairs && a.wfmt != LB_W_INT8) {
    const bool fp4 = a.wfmt == LB_W_FP4;
    if (a.group == 128)
      fp4 ? gemv_f32_pairs<MB, true, 1>(a, xb, n0, n1) : gemv_f32_pairs<MB, false, 1>(a, xb, n0, n1);
    else
      fp4 ? gemv_f32_pairs<MB, true, 0>(a, xb, n0, n1) : gemv_f32_pairs<MB, false, 0>(a, xb, n0, n1);
  } else if (a.wfmt == LB_W_INT4)
    gemv_f32_nib<MB, false, false>(a, xb, n0, n1);
  else if (a.wfmt == LB_W_FP4 && a.scale_group() == 16)
    gemv_f32_nib<MB, true, true>(a, xb, n0, n1);
  else if (a.wfmt == LB_W_FP4)
    gemv_f32_nib<MB, true, false>(a, xb, n0, n1);
  else
    gemv_f32_int8<MB>(a, n0, n1);
}



// ---------------------------------------------------------------- GEMM, float
// Panel of 16 columns n0.. for a chunk-aligned k range [kb, ke): B[k - kb][c]
// = code * scale of column c (exactly dequantize()'s values; 0 past N).
// Each column is decoded 16 consecutive k at a time (the GEMV decode) and
// scattered into its panel column.
constexpr int kFMR = 12, kFNR = 16;
constexpr int64_t kFKC = 256;

void build_f32_panel(const LbLinearArgs& a, int64_t n0, int64_t kb, int64_t ke, float* B) {
  const int64_t K = a.K, N = a.N, gs = a.group, sg = a.scale_group(), Gs = K / sg, full = (gs / 64) * 64;
  const __m512 table = e2m1_table();
  const __m512i vidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32(kFNR));
  const bool fp4 = a.wfmt == LB_W_FP4;
  for (int64_t c = 0; c < kFNR; ++c) {
    const int64_t n = n0 + c;
    if (n >= N) {
      for (int64_t k = kb; k < ke; ++k) B[(k - kb) * kFNR + c] = 0.f;
      continue;
    }
    const float* wsr = a.ws + n * Gs;
    auto put = [&](int64_t k, __m512 v) {  // elements k .. k+15, one scale (sg >= 16, aligned)
      _mm512_i32scatter_ps(B + (k - kb) * kFNR + c, vidx, _mm512_mul_ps(v, _mm512_set1_ps(wsr[k / sg])), 4);
    };
    if (a.wfmt == LB_W_INT8) {
      const int8_t* row = reinterpret_cast<const int8_t*>(a.w) + n * K;
      for (int64_t k = kb; k < ke; k += 16)
        put(k, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k)))));
      continue;
    }
    const uint8_t* row = a.w + n * (K / 2);
    for (int64_t k = kb; k < ke;) {
      const int64_t r = k % gs;
      if (r < full) {  // a 64-chunk
        const __m512i V = widen8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + k / 2)));
        if (fp4) {
          put(k, decode16<true, 0>(V, table)); put(k + 16, decode16<true, 2>(V, table));
          put(k + 32, decode16<true, 4>(V, table)); put(k + 48, decode16<true, 6>(V, table));
        } else {
          put(k, decode16<false, 0>(V, table)); put(k + 16, decode16<false, 2>(V, table));
          put(k + 32, decode16<false, 4>(V, table)); put(k + 48, decode16<false, 6>(V, table));
        }
        k += 64;
      } else {  // the 32-chunk that ends a group
        const __m512i V = widen4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2)));
        if (fp4) {
          put(k, decode16<true, 0>(V, table)); put(k + 16, decode16<true, 4>(V, table));
        } else {
          put(k, decode16<false, 0>(V, table)); put(k + 16, decode16<false, 4>(V, table));
        }
        k += 32;
      }
    }
  }
}

// y[m .. m+R)[n0 .. n0+nc) (+)= x[m.., kb..ke) @ B; `last` adds the bias.
template <int R>
void micro_f32(const LbLinearArgs& a, int64_t m, int64_t n0, int64_t kb, int64_t ke, const float* B, bool first,
               bool last) {
  const int64_t K = a.K, N = a.N, nc = std::min<int64_t>(kFNR, N - n0);
  const __mmask16 cm = static_cast<__mmask16>((1u << nc) - 1);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const float* x = a.x + m * K;
  for (int64_t k = kb; k < ke; ++k) {
    const __m512 b = _mm512_load_ps(B + (k - kb) * kFNR);
    for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r * K + k]), b, acc[r]);
  }
  const __m512 bias = last && a.bias ? _mm512_maskz_loadu_ps(cm, a.bias + n0) : _mm512_setzero_ps();
  for (int r = 0; r < R; ++r) {
    float* y = a.y + (m + r) * N + n0;
    __m512 v = first ? acc[r] : _mm512_add_ps(_mm512_maskz_loadu_ps(cm, y), acc[r]);
    if (last && a.bias) v = _mm512_add_ps(v, bias);
    _mm512_mask_storeu_ps(y, cm, v);
  }
}

template <int R>
void micro_f32_dispatch(int rr, const LbLinearArgs& a, int64_t m, int64_t n0, int64_t kb, int64_t ke, const float* B,
                        bool first, bool last) {
  if (rr == R)
    micro_f32<R>(a, m, n0, kb, ke, B, first, last);
  else if constexpr (R > 1)
    micro_f32_dispatch<R - 1>(rr, a, m, n0, kb, ke, B, first, last);
}

// K slices: whole groups up to kFKC elements, or pieces of kFKC (a multiple
// of 64, so chunk-aligned) within one larger group, the last up to its end.
void gemm_f32(const LbLinearArgs& a) {
  const int64_t K = a.K, N = a.N, M = a.M, gs = a.group, npanels = (N + kFNR - 1) / kFNR;
  const int64_t span = gs <= kFKC ? std::max<int64_t>(1, kFKC / gs) * gs : kFKC;
  parallel_for(npanels, 1, [&](int64_t p0, int64_t p1) {
    thread_local Buf bb;
    float* B = bb.get<float>(static_cast<size_t>((span + 32) * kFNR));
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n0 = p * kFNR;
      for (int64_t kb = 0; kb < K;) {
        // within a group, offsets 256j are 64-chunk starts; a slice never crosses its group's end
        const int64_t ke = gs <= kFKC ? std::min(K, kb + span) : std::min((kb / gs + 1) * gs, kb + span);
        build_f32_panel(a, n0, kb, ke, B);
        for (int64_t m = 0; m < M; m += kFMR)
          micro_f32_dispatch<kFMR>(static_cast<int>(std::min<int64_t>(kFMR, M - m)), a, m, n0, kb, ke, B, kb == 0,
                                   ke == K);
        kb = ke;
      }
    }
  });
}

void linear_f32_avx512(const LbLinearArgs& a) {
  if (a.M > lb_gemv_max_rows()) {
    gemm_f32(a);
    return;
  }
  const int64_t K = a.K, gs = a.group, npair = gs / 128;
  Buf xbuf;
  if (gs == 32 && a.wfmt != LB_W_INT8) {  // quad order (see gemv_f32_quads), rows padded to 128
    const int64_t Kp = (K + 127) / 128 * 128;
    float* xq = xbuf.get<float>(static_cast<size_t>(a.M * Kp));
    std::memset(xq, 0, static_cast<size_t>(a.M * Kp) * sizeof(float));
    for (int64_t m = 0; m < a.M; ++m)
      for (int64_t gq = 0; gq < K / 32; ++gq) {  // group gq = 4b + q
        const float* src = a.x + m * K + 32 * gq;
        float* dst = xq + m * Kp + 128 * (gq / 4) + 4 * (gq % 4);
        for (int J = 0; J < 8; ++J) std::memcpy(dst + 16 * J, src + 4 * J, 4 * sizeof(float));
      }
    gemv_for(a.N, [&](int64_t n0, int64_t n1) {
      switch (a.M) {
        case 1: gemv_f32_quads_fmt<1>(a, xq, Kp, n0, n1); break;
        case 2: gemv_f32_quads_fmt<2>(a, xq, Kp, n0, n1); break;
        case 3: gemv_f32_quads_fmt<3>(a, xq, Kp, n0, n1); break;
        default: gemv_f32_quads_fmt<4>(a, xq, Kp, n0, n1); break;
      }
    });
    return;
  }
  if (a.wfmt == LB_W_INT4 && gs % 128 == 0 && cpu_features().avx512bf16) {
    uint16_t* xw = xbuf.get<uint16_t>(static_cast<size_t>(a.M * K));
    if (bf16_pair_order(a.x, a.M, K, xw)) {
      gemv_for(a.N, [&](int64_t n0, int64_t n1) {
        if (gs == 128) {
          switch (a.M) {
            case 1: gemv_bf16_pairs<1, 1>(a, xw, n0, n1); break;
            case 2: gemv_bf16_pairs<2, 1>(a, xw, n0, n1); break;
            case 3: gemv_bf16_pairs<3, 1>(a, xw, n0, n1); break;
            default: gemv_bf16_pairs<4, 1>(a, xw, n0, n1); break;
          }
        } else {
          switch (a.M) {
            case 1: gemv_bf16_pairs<1, 0>(a, xw, n0, n1); break;
            case 2: gemv_bf16_pairs<2, 0>(a, xw, n0, n1); break;
            case 3: gemv_bf16_pairs<3, 0>(a, xw, n0, n1); break;
            default: gemv_bf16_pairs<4, 0>(a, xw, n0, n1); break;
          }
        }
      });
      return;
    }
  }
  const float* xb = a.x;
  if (a.wfmt != LB_W_INT8 && npair > 0) {  // pair order (see gemv_f32_nib)
    float* xp = xbuf.get<float>(static_cast<size_t>(a.M * K));
    std::memcpy(xp, a.x, static_cast<size_t>(a.M * K) * sizeof(float));
    for (int64_t m = 0; m < a.M; ++m)
      for (int64_t k0 = 0; k0 < K; k0 += gs)
        for (int64_t q = 0; q < npair; ++q) {
          const float* src = a.x + m * K + k0 + 128 * q;
          float* dst = xp + m * K + k0 + 128 * q;
          for (int j = 0; j < 8; ++j) {
            std::memcpy(dst + 16 * j, src + 8 * j, 8 * sizeof(float));
            std::memcpy(dst + 16 * j + 8, src + 64 + 8 * j, 8 * sizeof(float));
          }
        }
    xb = xp;
  }
  gemv_for(a.N, [&](int64_t n0, int64_t n1) {
    switch (a.M) {
      case 1: gemv_f32_rows<1>(a, xb, n0, n1); break;
      case 2: gemv_f32_rows<2>(a, xb, n0, n1); break;
      case 3: gemv_f32_rows<3>(a, xb, n0, n1); break;
      default: gemv_f32_rows<4>(a, xb, n0, n1); break;
    }
  });
}

// ---------------------------------------------------------------- integer epilogue
// s[8] chains of gemm.h: p_g = float(isum) * ws rounded, added in g order.

inline float finish_one(const float* s, float xs, const float* bias, int64_t n) {
  float y = mul_rn(lb_i8_combine(s), xs);
  if (bias) y = y + bias[n];
  return y;
}

// ---------------------------------------------------------------- GEMV, int8 (VNNI)
// Lane l (< 8) of the result = the sum of the 16 lanes of v[l] (exact, int32).
inline __m256i hsum8x16(const __m512i* v) {
  __m256i h[8];
  for (int i = 0; i < 8; ++i) h[i] = _mm256_add_epi32(_mm512_castsi512_si256(v[i]), _mm512_extracti64x4_epi64(v[i], 1));
  const __m256i h01 = _mm256_hadd_epi32(h[0], h[1]), h23 = _mm256_hadd_epi32(h[2], h[3]);
  const __m256i h45 = _mm256_hadd_epi32(h[4], h[5]), h67 = _mm256_hadd_epi32(h[6], h[7]);
  const __m256i a = _mm256_hadd_epi32(h01, h23), b = _mm256_hadd_epi32(h45, h67);
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}
inline __m256 mul_rn(__m256 a, __m256 b) {
  __m256 p = _mm256_mul_ps(a, b);
  asm("" : "+v"(p));
  return p;
}
// gemm.h's epilogue for the block of ng <= 8 groups ending at g (g0 = g -
// ng + 1, a multiple of 8): lane l of tot chains the groups = l mod 8;
// isum = lane sums - corr in int32 modulo 2^32: sum u*x may pass 2^31 for
// groups near the 131072 limit, the true isum never does, so it is exact.  Lanes past ng add +0.
inline __m256 i8_block(__m256 tot, __m512i* isv, int64_t g, const float* ws_row, const int32_t* corr_row) {
  const int64_t ng = g % 8 + 1, g0 = g - ng + 1;
  for (int64_t i = ng; i < 8; ++i) isv[i] = _mm512_setzero_si512();
  const __mmask8 km = static_cast<__mmask8>((1u << ng) - 1);
  const __m256 w = _mm256_maskz_loadu_ps(km, ws_row + g0);
  const __m256i is = _mm256_sub_epi32(hsum8x16(isv), _mm256_maskz_loadu_epi32(km, corr_row + g0));
  return _mm256_add_ps(tot, mul_rn(_mm256_cvtepi32_ps(is), w));
}
inline float i8_finish(__m256 tot, float xs, const float* bias, int64_t n) {
  alignas(32) float s[8];
  _mm256_store_ps(s, tot);
  return finish_one(s, xs, bias, n);
}
// Activations of one call: corr[m][g] = (128 or 8) * the group's code sum;
// perm (W4A8) the codes in the byte order of each int4 chunk.
struct I8Prep {
  const int8_t* x = nullptr;   // (M, K) codes in the order the kernel reads
  const int32_t* corr = nullptr;  // (M, G)
};

// Byte order of W4A8's chunks (as gemm_avx2.cc's permute_row): per 64-chunk
// 32 bytes for the low nibbles (byte 4i+jb <- element 16jb+i) then 32 for the
// high ones (<- 16jb+8+i); per 32-chunk 16 + 16 (8jb+i, 8jb+4+i).
// Pairs of 64-chunks (c, c+1) of a group are read by one 512-bit load, so
// their 128 codes go lows of c, lows of c+1, highs of c, highs of c+1 (32
// each, the order inside each 32 as above); an odd last 64-chunk as above.
void permute_row(const int8_t* x, int64_t K, int64_t gs, int8_t* out) {
  const int64_t nfull = gs / 64;
  for (int64_t k0 = 0; k0 < K; k0 += gs) {
    int64_t c0 = 0;
    for (; c0 + 2 <= nfull; c0 += 2)
      for (int h = 0; h < 2; ++h) {
        const int8_t* s = x + k0 + 64 * (c0 + h);
        int8_t* d = out + k0 + 64 * c0 + 32 * h;
        for (int i = 0; i < 8; ++i)
          for (int jb = 0; jb < 4; ++jb) {
            d[4 * i + jb] = s[16 * jb + i];
            d[64 + 4 * i + jb] = s[16 * jb + 8 + i];
          }
      }
    for (int64_t c = c0; c < nfull; ++c) {
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
SC_VNNI void gemv_w8a8(const LbLinearArgs& a, const I8Prep& ap, int64_t n0, int64_t n1) {
  const int64_t K = a.K, N = a.N, gs = a.group, G = K / gs;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const bool tail = gs % 64 != 0;
  const __mmask64 half = 0xFFFFFFFFull;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = a.w + n * K;
    __m256 tot[MB];
    __m512i isv[MB][8];
    for (int m = 0; m < MB; ++m) tot[m] = _mm256_setzero_ps();
    for (int64_t g = 0; g < G; ++g) {
      __m512i acc[MB];
      for (int m = 0; m < MB; ++m) acc[m] = _mm512_setzero_si512();
      const int64_t k0 = g * gs, ke = k0 + gs - (tail ? 32 : 0);
      for (int64_t k = k0; k < ke; k += 64) {
        const __m512i u = _mm512_xor_si512(_mm512_loadu_si512(row + k), flip);
        for (int m = 0; m < MB; ++m) acc[m] = _mm512_dpbusd_epi32(acc[m], u, _mm512_loadu_si512(ap.x + m * K + k));
      }
      if (tail) {
        const __m512i u = _mm512_xor_si512(_mm512_maskz_loadu_epi8(half, row + ke), flip);
        for (int m = 0; m < MB; ++m)
          acc[m] = _mm512_dpbusd_epi32(acc[m], u, _mm512_maskz_loadu_epi8(half, ap.x + m * K + ke));
      }
      for (int m = 0; m < MB; ++m) isv[m][g % 8] = acc[m];
      if (g % 8 == 7 || g == G - 1)
        for (int m = 0; m < MB; ++m) tot[m] = i8_block(tot[m], isv[m], g, a.ws + n * G, ap.corr + m * G);
    }
    for (int m = 0; m < MB; ++m) a.y[m * N + n] = i8_finish(tot[m], a.xs[m], a.bias, n);
  }
}

template <int MB>
SC_VNNI void gemv_w4a8(const LbLinearArgs& a, const I8Prep& ap, int64_t n0, int64_t n1) {
  const int64_t K = a.K, N = a.N, gs = a.group, G = K / gs, rb = K / 2, nfull = gs / 64;
  const bool tail = gs % 64 != 0;
  const __m256i x88 = _mm256_set1_epi8(static_cast<char>(0x88)), lo4 = _mm256_set1_epi8(0x0F);
  const __m128i x88s = _mm_set1_epi8(static_cast<char>(0x88)), lo4s = _mm_set1_epi8(0x0F);
  const __m512i x88z = _mm512_set1_epi8(static_cast<char>(0x88)), lo4z = _mm512_set1_epi8(0x0F);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = a.w + n * rb;
    __m256 tot[MB];
    __m512i isv[MB][8];
    for (int m = 0; m < MB; ++m) tot[m] = _mm256_setzero_ps();
    for (int64_t g = 0; g < G; ++g) {
      __m512i acc[MB];
      for (int m = 0; m < MB; ++m) acc[m] = _mm512_setzero_si512();
      const int64_t k0 = g * gs;
      int64_t c = 0;
      for (; c + 2 <= nfull; c += 2) {  // two 64-chunks: one load, no lane shuffle (permute_row's pair order)
        const __m512i v = _mm512_xor_si512(_mm512_loadu_si512(row + k0 / 2 + 32 * c), x88z);
        const __m512i ulo = _mm512_and_si512(v, lo4z), uhi = _mm512_and_si512(_mm512_srli_epi32(v, 4), lo4z);
        for (int m = 0; m < MB; ++m) {
          const int8_t* xm = ap.x + m * K + k0 + 64 * c;
          acc[m] = _mm512_dpbusd_epi32(acc[m], ulo, _mm512_loadu_si512(xm));
          acc[m] = _mm512_dpbusd_epi32(acc[m], uhi, _mm512_loadu_si512(xm + 64));
        }
      }
      for (; c < nfull; ++c) {
        const __m256i v = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + k0 / 2 + 32 * c)), x88);
        const __m512i u = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(v, lo4)),
                                             _mm256_and_si256(_mm256_srli_epi32(v, 4), lo4), 1);
        for (int m = 0; m < MB; ++m)
          acc[m] = _mm512_dpbusd_epi32(acc[m], u, _mm512_loadu_si512(ap.x + m * K + k0 + 64 * c));
      }
      if (tail) {
        const int64_t kc = k0 + 64 * nfull;
        const __m128i v = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + kc / 2)), x88s);
        const __m256i u = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(v, lo4s)),
                                                  _mm_and_si128(_mm_srli_epi32(v, 4), lo4s), 1);
        for (int m = 0; m < MB; ++m) {
          const __m256i t = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u,
                                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ap.x + m * K + kc)));
          acc[m] = _mm512_add_epi32(acc[m], _mm512_zextsi256_si512(t));
        }
      }
      for (int m = 0; m < MB; ++m) isv[m][g % 8] = acc[m];
      if (g % 8 == 7 || g == G - 1)
        for (int m = 0; m < MB; ++m) tot[m] = i8_block(tot[m], isv[m], g, a.ws + n * G, ap.corr + m * G);
    }
    for (int m = 0; m < MB; ++m) a.y[m * N + n] = i8_finish(tot[m], a.xs[m], a.bias, n);
  }
}

// W4A8 for groups of 128j elements (every group pairs of 64-chunks, the
// common case: g = 128, 256, per-channel K % 128 == 0): straight-line blocks
// of 8 groups per row, so the per-group cost is the 64-byte load, xor, shift,
// 2 and, 2 vpdpbusd per pair and a share of one hsum8x16 per 8 groups (the
// general kernel above branches per group and spills its 8 group sums).
// The same exact isums and the same i8_block epilogue: identical bits.
template <int MB, int NP>  // NP: pairs per group, 0 = run time
SC_VNNI inline void w4a8_group(const uint8_t* p, const int8_t* xg, int64_t K, int64_t np, __m512i* acc,
                               const uint8_t* pend, int64_t pfd) {
  const __m512i x88z = _mm512_set1_epi8(static_cast<char>(0x88)), lo4z = _mm512_set1_epi8(0x0F);
  for (int m = 0; m < MB; ++m) acc[m] = _mm512_setzero_si512();
  const int64_t n = NP ? NP : np;
  for (int64_t c = 0; c < n; ++c) {
    _mm_prefetch(reinterpret_cast<const char*>(std::min(p + 64 * c + pfd, pend)), _MM_HINT_T0);
    const __m512i v = _mm512_xor_si512(_mm512_loadu_si512(p + 64 * c), x88z);
    const __m512i ulo = _mm512_and_si512(v, lo4z), uhi = _mm512_and_si512(_mm512_srli_epi32(v, 4), lo4z);
    for (int m = 0; m < MB; ++m) {
      const int8_t* xm = xg + m * K + 128 * c;
      acc[m] = _mm512_dpbusd_epi32(acc[m], ulo, _mm512_loadu_si512(xm));
      acc[m] = _mm512_dpbusd_epi32(acc[m], uhi, _mm512_loadu_si512(xm + 64));
    }
  }
}

template <int MB, int NP>
SC_VNNI void gemv_w4a8_pairs(const LbLinearArgs& a, const I8Prep& ap, int64_t n0, int64_t n1) {
  const int64_t K = a.K, N = a.N, gs = a.group, G = K / gs, rb = K / 2, np = gs / 128, G8 = G - G % 8;
  const uint8_t* pend = a.w + n1 * rb - 64;  // prefetch no further than this chunk
  const int64_t pfd = kGemvPrefetch;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = a.w + n * rb;
    const float* wsr = a.ws + n * G;
    __m256 tot[MB];
    for (int m = 0; m < MB; ++m) tot[m] = _mm256_setzero_ps();
    __m512i isv[MB][8];
    for (int64_t g0 = 0; g0 < G8; g0 += 8) {
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        __m512i acc[MB];
        w4a8_group<MB, NP>(row + (g0 + j) * (gs / 2), ap.x + (g0 + j) * gs, K, np, acc, pend, pfd);
        for (int m = 0; m < MB; ++m) isv[m][j] = acc[m];
      }
      for (int m = 0; m < MB; ++m) tot[m] = i8_block(tot[m], isv[m], g0 + 7, wsr, ap.corr + m * G);
    }
    if (G8 < G) {
      for (int64_t g = G8; g < G; ++g) {
        __m512i acc[MB];
        w4a8_group<MB, NP>(row + g * (gs / 2), ap.x + g * gs, K, np, acc, pend, pfd);
        for (int m = 0; m < MB; ++m) isv[m][g - G8] = acc[m];
      }
      for (int m = 0; m < MB; ++m) tot[m] = i8_block(tot[m], isv[m], G - 1, wsr, ap.corr + m * G);
    }
    for (int m = 0; m < MB; ++m) a.y[m * N + n] = i8_finish(tot[m], a.xs[m], a.bias, n);
  }
}

template <int MB>
void gemv_i8_rows(const LbLinearArgs& a, const I8Prep& ap, int64_t n0, int64_t n1) {
  if (a.wfmt == LB_W_INT4 && a.group == 128)
    gemv_w4a8_pairs<MB, 1>(a, ap, n0, n1);
  else if (a.wfmt == LB_W_INT4 && a.group % 128 == 0)
    gemv_w4a8_pairs<MB, 0>(a, ap, n0, n1);
  else if (a.wfmt == LB_W_INT4)
    gemv_w4a8<MB>(a, ap, n0, n1);
  else
    gemv_w8a8<MB>(a, ap, n0, n1);
}

// ---------------------------------------------------------------- GEMM, int8 (VNNI)
// M > lb_gemv_max_rows(): the register-blocked tiles of gemm_tile_avx512.cc.

// ---------------------------------------------------------------- entry
void linear_i8_avx512(const LbLinearArgs& a) {
  if (!cpu_features().avx512vnni) {
    lb_gemm_kernels_avx2().linear_i8(a);
    return;
  }
  const int64_t M = a.M, K = a.K, gs = a.group, G = K / gs;
  const bool w4 = a.wfmt == LB_W_INT4, gemv = M <= lb_gemv_max_rows();
  if (!gemv) {
    lb_gemm_i8_tiles_avx512(a);
    return;
  }
  Buf xb, cb;
  int8_t* xp = nullptr;
  if (gemv && w4) {
    xp = xb.get<int8_t>(static_cast<size_t>(M * K));
    for (int64_t m = 0; m < M; ++m) permute_row(a.xq + m * K, K, gs, xp + m * K);
  }
  int32_t* corr = cb.get<int32_t>(static_cast<size_t>(M * G));
  const int32_t off = w4 ? 8 : 128;
  parallel_for(M, 64, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m)
      for (int64_t g = 0; g < G; ++g) {
        int32_t t = 0;
        for (int64_t k = g * gs; k < (g + 1) * gs; ++k) t += a.xq[m * K + k];
        corr[m * G + g] = static_cast<int32_t>(static_cast<uint32_t>(off) * static_cast<uint32_t>(t));
      }
  });
  I8Prep ap;
  ap.x = xp ? xp : a.xq;
  ap.corr = corr;
  gemv_for(a.N, [&](int64_t n0, int64_t n1) {
    switch (M) {
      case 1: gemv_i8_rows<1>(a, ap, n0, n1); break;
      case 2: gemv_i8_rows<2>(a, ap, n0, n1); break;
      case 3: gemv_i8_rows<3>(a, ap, n0, n1); break;
      default: gemv_i8_rows<4>(a, ap, n0, n1); break;
    }
  });
}

}  // namespace

// pack.h's per-token rule (lowbit_quantize_tokens), vectorised: a row with
// NaN or Inf gets scale NaN and codes 0; amax = max |x| (for finite x, max ==
// fmax); scale = amax / 127 in float32; code = clamp(rint_even(x / scale),
// -128, 127), the division correctly rounded as the scalar one, so the codes
// and scales are bit-identical to the reference.
void lb_quantize_tokens_avx512(const float* x, int64_t M, int64_t K, int8_t* codes, float* scales) {
  parallel_for(M, 4, [&](int64_t m0, int64_t m1) {
    const __m512 absm = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
    for (int64_t m = m0; m < m1; ++m) {
      const float* row = x + m * K;
      int8_t* out = codes + m * K;
      __m512 mx = _mm512_setzero_ps();
      __mmask16 bad = 0;
      for (int64_t k = 0; k < K; k += 16) {
        const __mmask16 km = K - k >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (K - k)) - 1);
        const __m512 v = _mm512_maskz_loadu_ps(km, row + k);
        bad |= _mm512_fpclass_ps_mask(v, 0x99);  // QNaN, +Inf, -Inf, SNaN
        mx = _mm512_max_ps(mx, _mm512_and_ps(v, absm));
      }
      const float amax = _mm512_reduce_max_ps(mx);
      if (bad || amax == 0.f) {
        std::memset(out, 0, static_cast<size_t>(K));
        scales[m] = bad ? __builtin_nanf("") : 0.f;
        continue;
      }
      const float scale = amax / 127.f;
      if (scale == 0.f) {  // subnormal amax: x / 0 (the reference's own edge), run the reference row
        lowbit_quantize_tokens(row, 1, K, out, scales + m);
        continue;
      }
      scales[m] = scale;
      const __m512 sv = _mm512_set1_ps(scale), lo = _mm512_set1_ps(-128.f), hi = _mm512_set1_ps(127.f);
      for (int64_t k = 0; k < K; k += 16) {
        const __mmask16 km = K - k >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (K - k)) - 1);
        __m512 q = _mm512_roundscale_ps(_mm512_div_ps(_mm512_maskz_loadu_ps(km, row + k), sv),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q = _mm512_min_ps(_mm512_max_ps(q, lo), hi);
        _mm_mask_storeu_epi8(out + k, km, _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(q)));
      }
    }
  });
}

uint64_t lb_read_probe_avx512(const uint8_t* p, int64_t n) {
  const int64_t chunk = 1 << 18, nchunks = (n + chunk - 1) / chunk;
  Buf pb;
  uint64_t* part = pb.get<uint64_t>(static_cast<size_t>(nchunks));
  parallel_for(nchunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t e = std::min(n, (c + 1) * chunk);
      __m512i x0 = _mm512_setzero_si512(), x1 = x0, x2 = x0, x3 = x0;
      int64_t i = c * chunk;
      for (; i + 256 <= e; i += 256) {
        x0 = _mm512_xor_si512(x0, _mm512_loadu_si512(p + i));
        x1 = _mm512_xor_si512(x1, _mm512_loadu_si512(p + i + 64));
        x2 = _mm512_xor_si512(x2, _mm512_loadu_si512(p + i + 128));
        x3 = _mm512_xor_si512(x3, _mm512_loadu_si512(p + i + 192));
      }
      for (; i < e; i += 32)
        x0 = _mm512_xor_si512(x0, _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i))));
      x0 = _mm512_xor_si512(_mm512_xor_si512(x0, x1), _mm512_xor_si512(x2, x3));
      alignas(64) uint64_t t[8];
      _mm512_store_si512(t, x0);
      part[c] = t[0] ^ t[1] ^ t[2] ^ t[3] ^ t[4] ^ t[5] ^ t[6] ^ t[7];
    }
  });
  uint64_t r = 0;
  for (int64_t c = 0; c < nchunks; ++c) r ^= part[c];
  return r;
}

const LbGemmKernels& lb_gemm_kernels_avx512() {
  static const LbGemmKernels k{linear_f32_avx512, linear_i8_avx512};
  return k;
}

}  // namespace lowbit
}  // namespace sc
