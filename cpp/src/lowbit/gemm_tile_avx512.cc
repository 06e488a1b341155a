// Register-blocked AVX-512 GEMM tiles of gemm.h (M > lb_gemv_max_rows()):
// W8A8 / W4A8 with VNNI vpdpbusd, W4A16 (int4, int8 or E2M1 weights x
// bfloat16 activations) with AVX512_BF16 vdpbf16ps.  Per-function targets;
// the callers run them only when cpu_features() reports the extension.
//
// Work split: panels of kPC = 64 output columns (4 zmm), one panel per
// parallel_for step.  A panel is packed once per call for the whole K into
// B[s][64] (64-byte rows, L2-resident: K * 64 bytes for the integer paths,
// K * 128 for bf16): word s of column c holds the 4 weight bytes of k-quad s
// (vpdpbusd's unsigned operand) or the 2 bf16 weights of k-pair s.  Then
// tiles of kTR = 6 rows x 64 columns run the full K: per step 4 B loads, 6
// activation broadcasts (4 bytes of a row) and 24 dot instructions into 24
// zmm accumulators.  Every output is computed by one tile whatever the thread
// count, so the results do not depend on it.
//
// Integer paths (exact, bit-identical to the reference): weights as unsigned
// bytes u = code + 128 (int8, natural k order) or u = code + 8 (int4), the
// activation codes signed; each group's accumulator starts at -corr[m][g] =
// -(128 or 8) * (the group's activation code sum), so after the group it is
// the exact isum (int32 modulo 2^32; the true |isum| < 2^31).  Int4 panels
// keep each chunk's bytes in the order of pack.h's nibbles: for a 64-chunk
// (32 bytes b) the low nibbles of b then the high ones, so byte 4i + t of
// the chunk's 64 u bytes is element 16t + i (i < 8) and byte 32 + 4i + t is
// element 16t + 8 + i; for a 32-chunk likewise 8t + i and 16 + 4i + t <-
// 8t + 4 + i.  The activations are permuted the same way (a permutation
// within a group leaves its exact isum unchanged).  The float epilogue is
// gemm.h's: p_g = float(isum_g) * ws[n, g] (rounded, never fused), chains
// s_l (l = g mod 8) summed in increasing g from 0 in an L1 buffer, the fixed
// tree, times xs[m], plus bias.
//
// bf16 path: x rounded to bfloat16 by pack.h's rule (lowbit_round_bf16, the
// same integer rounding here), weights decoded exactly to bf16 (int4 codes,
// int8 codes and E2M1 values are all bf16 numbers).  Per scale group, in
// float32: d = the vdpbf16ps dot of the group (the pairs of k in order, one
// chain per output), then t = fma(d, ws[n, g], t) over the groups in order,
// y = t (+ bias).  vdpbf16ps treats bf16 subnormal inputs as zero and flushes
// subnormal results (DAZ/FTZ), hence the absolute term of gemm.h's bound.
#include <immintrin.h>

#include <algorithm>
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

constexpr int kTR = 6;   // rows per tile
constexpr int kPC = 64;  // columns per panel (4 zmm)
// Software prefetch of the panel (L2 -> L1) this many steps ahead.
constexpr int64_t kPfSteps = 16;

// acc += the dot of b with the dword at p broadcast (vpdpbusd / vdpbf16ps
// with an embedded broadcast).  Inline asm: GCC 12 keeps intrinsic
// accumulators of these builtins in memory and copies them every step (seen
// in the 6 x 4 tile: one store and two moves per instruction).
inline __m512i bcst4(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(static_cast<int>(v));
}
inline void dpbusd_reg(__m512i& acc, __m512i b, __m512i a) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(b), "v"(a));
}
inline void dpbf16_reg(__m512& acc, __m512i b, __m512i a) {
  asm("vdpbf16ps %2, %1, %0" : "+v"(acc) : "v"(b), "v"(a));
}

// r[i] = 16 words of row i  ->  r[j] = word j of rows 0..15.
inline void transpose16(__m512i* r) {
  __m512i a[16], b[16];
  for (int i = 0; i < 8; ++i) {
    a[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    a[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // b[4i + c], lane L = rows 4i..4i+3 at word 4L + c
    b[4 * i + 0] = _mm512_unpacklo_epi64(a[4 * i], a[4 * i + 2]);
    b[4 * i + 1] = _mm512_unpackhi_epi64(a[4 * i], a[4 * i + 2]);
    b[4 * i + 2] = _mm512_unpacklo_epi64(a[4 * i + 1], a[4 * i + 3]);
    b[4 * i + 3] = _mm512_unpackhi_epi64(a[4 * i + 1], a[4 * i + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512i s0 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0x88), s1 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0xDD);
    const __m512i s2 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0x88), s3 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0xDD);
    r[c] = _mm512_shuffle_i32x4(s0, s2, 0x88);
    r[4 + c] = _mm512_shuffle_i32x4(s1, s3, 0x88);
    r[8 + c] = _mm512_shuffle_i32x4(s0, s2, 0xDD);
    r[12 + c] = _mm512_shuffle_i32x4(s1, s3, 0xDD);
  }
}

// Columns c0 .. c0+15 of the panel from 16 rows of W words each (W % 8 == 0),
// every word XORed with xv: B[s * 64 + c0 + i] = rows[i][s] ^ xv.
void transpose_into(const uint32_t* const* rows, int64_t W, uint32_t xv, uint32_t* B, int c0) {
  const __m512i x = _mm512_set1_epi32(static_cast<int>(xv));
  for (int64_t s0 = 0; s0 < W; s0 += 16) {
    const bool full = W - s0 >= 16;
    const __mmask16 km = full ? __mmask16(0xFFFF) : __mmask16(0x00FF);
    __m512i r[16];
    for (int i = 0; i < 16; ++i) r[i] = _mm512_maskz_loadu_epi32(km, rows[i] + s0);
    transpose16(r);
    const int nj = full ? 16 : 8;
    for (int j = 0; j < nj; ++j) _mm512_store_si512(B + (s0 + j) * kPC + c0, _mm512_xor_si512(r[j], x));
  }
}

// The u bytes (code + 8) of one int4 row in the chunk order above.
void unpack_u4_perm(const uint8_t* row, int64_t K, int64_t gs, uint8_t* out) {
  const __m256i x88 = _mm256_set1_epi8(static_cast<char>(0x88)), lo4 = _mm256_set1_epi8(0x0F);
  const __m128i x88s = _mm_set1_epi8(static_cast<char>(0x88)), lo4s = _mm_set1_epi8(0x0F);
  const int64_t full = (gs / 64) * 64;
  for (int64_t k0 = 0; k0 < K; k0 += gs) {
    int64_t k = k0;
    for (; k < k0 + full; k += 64) {
      const __m256i v = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + k / 2)), x88);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + k), _mm256_and_si256(v, lo4));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + k + 32), _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4));
    }
    if (k < k0 + gs) {  // the 32-chunk
      const __m128i v = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2)), x88s);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k), _mm_and_si128(v, lo4s));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k + 16), _mm_and_si128(_mm_srli_epi16(v, 4), lo4s));
    }
  }
}

// One row of int8 activation codes in the same chunk order (byte 4i + t of
// a 64-chunk <- element 16t + i, byte 32 + 4i + t <- 16t + 8 + i; a 32-chunk
// 4i + t <- 8t + i, 16 + 4i + t <- 8t + 4 + i): a 4 x 16 (4 x 8) byte
// transpose by unpacks.
void permute_act_row(const int8_t* x, int64_t K, int64_t gs, int8_t* out) {
  const int64_t full = (gs / 64) * 64;
  for (int64_t k0 = 0; k0 < K; k0 += gs) {
    int64_t k = k0;
    for (; k < k0 + full; k += 64) {
      const __m128i* s = reinterpret_cast<const __m128i*>(x + k);
      const __m128i L0 = _mm_loadu_si128(s), L1 = _mm_loadu_si128(s + 1), L2 = _mm_loadu_si128(s + 2),
                    L3 = _mm_loadu_si128(s + 3);
      const __m128i t0 = _mm_unpacklo_epi8(L0, L1), t1 = _mm_unpackhi_epi8(L0, L1);
      const __m128i t2 = _mm_unpacklo_epi8(L2, L3), t3 = _mm_unpackhi_epi8(L2, L3);
      __m128i* d = reinterpret_cast<__m128i*>(out + k);
      _mm_storeu_si128(d, _mm_unpacklo_epi16(t0, t2));
      _mm_storeu_si128(d + 1, _mm_unpackhi_epi16(t0, t2));
      _mm_storeu_si128(d + 2, _mm_unpacklo_epi16(t1, t3));
      _mm_storeu_si128(d + 3, _mm_unpackhi_epi16(t1, t3));
    }
    if (k < k0 + gs) {
      const __m128i Q0 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + k)),
                    Q1 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + k + 8)),
                    Q2 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + k + 16)),
                    Q3 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + k + 24));
      const __m128i t0 = _mm_unpacklo_epi8(Q0, Q1), t2 = _mm_unpacklo_epi8(Q2, Q3);
      __m128i* d = reinterpret_cast<__m128i*>(out + k);
      _mm_storeu_si128(d, _mm_unpacklo_epi16(t0, t2));
      _mm_storeu_si128(d + 1, _mm_unpackhi_epi16(t0, t2));
    }
  }
}

inline __mmask16 col_mask(int64_t left) {
  return left >= 16 ? __mmask16(0xFFFF) : left <= 0 ? __mmask16(0) : static_cast<__mmask16>((1u << left) - 1);
}

// ---------------------------------------------------------------- integer tiles
// Rows m .. m+R-1 of the panel at n0 (64 columns, nc of them < N).
template <int R>
SC_VNNI void tile_i8(const LbLinearArgs& a, const int8_t* X, const int32_t* corr, int64_t m, int64_t n0,
                     const uint32_t* B, const float* wsT) {
  const int64_t K = a.K, N = a.N, gs = a.group, G = K / gs, nq = gs / 4;
  alignas(64) float P[8][R][kPC];
  for (int l = 0; l < 8; ++l)
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < 4; ++j) _mm512_store_ps(&P[l][r][16 * j], _mm512_setzero_ps());
  const int8_t* xr = X + m * K;
  const int32_t* cr = corr + m * G;
  for (int64_t g = 0; g < G; ++g) {
    __m512i acc[R][4];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512i c = _mm512_set1_epi32(-cr[r * G + g]);  // int32 negation of corr (|corr| < 2^31)
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) acc[r][j] = c;
    }
    const uint32_t* bp = B + g * nq * kPC;
    const int8_t* xp = xr + g * gs;
    for (int64_t s = 0; s < nq; ++s) {
      for (int j = 0; j < 4; ++j) _mm_prefetch(reinterpret_cast<const char*>(bp + (s + kPfSteps) * kPC + 16 * j), _MM_HINT_T0);
      const __m512i b0 = _mm512_load_si512(bp + s * kPC), b1 = _mm512_load_si512(bp + s * kPC + 16);
      const __m512i b2 = _mm512_load_si512(bp + s * kPC + 32), b3 = _mm512_load_si512(bp + s * kPC + 48);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512i av = bcst4(xp + r * K + 4 * s);
        dpbusd_reg(acc[r][0], b0, av);
        dpbusd_reg(acc[r][1], b1, av);
        dpbusd_reg(acc[r][2], b2, av);
        dpbusd_reg(acc[r][3], b3, av);
      }
    }
    const int l = static_cast<int>(g % 8);
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m512 w = _mm512_load_ps(wsT + g * kPC + 16 * j);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
        _mm512_store_ps(&P[l][r][16 * j],
                        _mm512_add_ps(_mm512_load_ps(&P[l][r][16 * j]), mul_rn(_mm512_cvtepi32_ps(acc[r][j]), w)));
    }
  }
  for (int j = 0; j < 4; ++j) {
    const __mmask16 cm = col_mask(N - n0 - 16 * j);
    if (!cm) break;
    const __m512 bias = a.bias ? _mm512_maskz_loadu_ps(cm, a.bias + n0 + 16 * j) : _mm512_setzero_ps();
    for (int r = 0; r < R; ++r) {
      auto p = [&](int l) { return _mm512_load_ps(&P[l][r][16 * j]); };
      const __m512 t = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(p(0), p(4)), _mm512_add_ps(p(2), p(6))),
                                     _mm512_add_ps(_mm512_add_ps(p(1), p(5)), _mm512_add_ps(p(3), p(7))));
      __m512 y = mul_rn(t, _mm512_set1_ps(a.xs[m + r]));
      if (a.bias) y = _mm512_add_ps(y, bias);
      _mm512_mask_storeu_ps(a.y + (m + r) * N + n0 + 16 * j, cm, y);
    }
  }
}

template <int R>
void tile_i8_rows(int rr, const LbLinearArgs& a, const int8_t* X, const int32_t* corr, int64_t m, int64_t n0,
                  const uint32_t* B, const float* wsT) {
  if (rr == R)
    tile_i8<R>(a, X, corr, m, n0, B, wsT);
  else if constexpr (R > 1)
    tile_i8_rows<R - 1>(rr, a, X, corr, m, n0, B, wsT);
}

// corr[m][g] = off * (sum of the group's activation codes): vpdpbusd with
// all-one unsigned bytes sums 4 codes per lane, exactly.
SC_VNNI void group_sums(const int8_t* x, int64_t K, int64_t gs, int32_t off, int32_t* corr) {
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t k0 = 0, g = 0; k0 < K; k0 += gs, ++g) {
    __m512i acc = _mm512_setzero_si512();
    for (int64_t k = k0; k < k0 + gs; k += 64) {
      const __mmask64 km = k0 + gs - k >= 64 ? ~__mmask64(0) : __mmask64(0xFFFFFFFFull);
      acc = _mm512_dpbusd_epi32(acc, ones, _mm512_maskz_loadu_epi8(km, x + k));
    }
    const int32_t t = _mm512_reduce_add_epi32(acc);
    corr[g] = static_cast<int32_t>(static_cast<uint32_t>(off) * static_cast<uint32_t>(t));
  }
}

// ---------------------------------------------------------------- bf16 tiles
template <int R>
SC_BF16 void tile_bf16(const LbLinearArgs& a, const uint16_t* X, int64_t m, int64_t n0, const uint32_t* B,
                       const float* wsT) {
  const int64_t K = a.K, N = a.N, sg = a.scale_group(), G = K / sg, np = sg / 2;
  alignas(64) float T[R][kPC];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < 4; ++j) _mm512_store_ps(&T[r][16 * j], _mm512_setzero_ps());
  // the tile's rows interleaved (see round_bf16_tile): word s * kTR + r is pair s of row m + r
  const uint32_t* xr = reinterpret_cast<const uint32_t*>(X) + m * (K / 2);
  for (int64_t g = 0; g < G; ++g) {
    __m512 acc[R][4];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) acc[r][j] = _mm512_setzero_ps();
    const uint32_t* bp = B + g * np * kPC;
    const uint32_t* xp = xr + g * np * kTR;
    for (int64_t s = 0; s < np; ++s) {
      for (int j = 0; j < 4; ++j) _mm_prefetch(reinterpret_cast<const char*>(bp + (s + kPfSteps) * kPC + 16 * j), _MM_HINT_T0);
      const __m512i b0 = _mm512_load_si512(bp + s * kPC), b1 = _mm512_load_si512(bp + s * kPC + 16);
      const __m512i b2 = _mm512_load_si512(bp + s * kPC + 32), b3 = _mm512_load_si512(bp + s * kPC + 48);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512i av = _mm512_set1_epi32(static_cast<int>(xp[s * kTR + r]));
        dpbf16_reg(acc[r][0], b0, av);
        dpbf16_reg(acc[r][1], b1, av);
        dpbf16_reg(acc[r][2], b2, av);
        dpbf16_reg(acc[r][3], b3, av);
      }
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m512 w = _mm512_load_ps(wsT + g * kPC + 16 * j);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
        _mm512_store_ps(&T[r][16 * j], _mm512_fmadd_ps(acc[r][j], w, _mm512_load_ps(&T[r][16 * j])));
    }
  }
  for (int j = 0; j < 4; ++j) {
    const __mmask16 cm = col_mask(N - n0 - 16 * j);
    if (!cm) break;
    const __m512 bias = a.bias ? _mm512_maskz_loadu_ps(cm, a.bias + n0 + 16 * j) : _mm512_setzero_ps();
    for (int r = 0; r < R; ++r) {
      __m512 y = _mm512_load_ps(&T[r][16 * j]);
      if (a.bias) y = _mm512_add_ps(y, bias);
      _mm512_mask_storeu_ps(a.y + (m + r) * N + n0 + 16 * j, cm, y);
    }
  }
}

template <int R>
void tile_bf16_rows(int rr, const LbLinearArgs& a, const uint16_t* X, int64_t m, int64_t n0, const uint32_t* B,
                    const float* wsT) {
  if (rr == R)
    tile_bf16<R>(a, X, m, n0, B, wsT);
  else if constexpr (R > 1)
    tile_bf16_rows<R - 1>(rr, a, X, m, n0, B, wsT);
}

// The bf16 bits of the 16 weight values of a nibble (int4 codes or E2M1).
inline __m512i nibble_bf16_table(bool fp4) {
  alignas(64) uint16_t t[32];
  for (int v = 0; v < 32; ++v) {
    const float f = v >= 16 ? 0.f : fp4 ? lb_e2m1_value(v) : static_cast<float>(v >= 8 ? v - 16 : v);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    t[v] = static_cast<uint16_t>(u >> 16);  // exact: every value is a bf16 number
  }
  return _mm512_load_si512(t);
}

// Word indices (vpermt2w) from the low/high nibble vectors of a 64-chunk to
// natural order: element e = 16t + i <- lo word 4i + t, 16t + 8 + i <- hi
// word 4i + t (+32 selects the second source); and for a 32-chunk held as
// [lo 16 | hi 16] words: e = 8t + i <- 4i + t, 8t + 4 + i <- 16 + 4i + t.
struct NatIdx {
  alignas(64) uint16_t i64[2][32];
  alignas(64) uint16_t i32[32];
  NatIdx() {
    for (int e = 0; e < 64; ++e) {
      const int t = e / 16, r = e % 16;
      i64[e / 32][e % 32] = static_cast<uint16_t>(r < 8 ? 4 * r + t : 32 + 4 * (r - 8) + t);
    }
    for (int e = 0; e < 32; ++e) {
      const int t = e / 8, r = e % 8;
      i32[e] = static_cast<uint16_t>(r < 4 ? 4 * r + t : 16 + 4 * (r - 4) + t);
    }
  }
};

// One weight row as bf16 in natural k order (K words of 16 bits).
void decode_bf16_row(const LbLinearArgs& a, int64_t n, const NatIdx& ix, __m512i table, uint16_t* out) {
  const int64_t K = a.K, gs = a.group;
  if (a.wfmt == LB_W_INT8) {
    const int8_t* row = reinterpret_cast<const int8_t*>(a.w) + n * K;
    for (int64_t k = 0; k < K; k += 16) {
      const __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k))));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + k),
                          _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(f), 16)));
    }
    return;
  }
  const uint8_t* row = a.w + n * (K / 2);
  const __m256i lo4 = _mm256_set1_epi8(0x0F);
  const __m512i j0 = _mm512_load_si512(ix.i64[0]), j1 = _mm512_load_si512(ix.i64[1]), j32 = _mm512_load_si512(ix.i32);
  const int64_t full = (gs / 64) * 64;
  for (int64_t k0 = 0; k0 < K; k0 += gs) {
    int64_t k = k0;
    for (; k < k0 + full; k += 64) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + k / 2));
      const __m512i wl = _mm512_permutexvar_epi16(_mm512_cvtepu8_epi16(_mm256_and_si256(v, lo4)), table);
      const __m512i wh = _mm512_permutexvar_epi16(_mm512_cvtepu8_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), lo4)), table);
      _mm512_storeu_si512(out + k, _mm512_permutex2var_epi16(wl, j0, wh));
      _mm512_storeu_si512(out + k + 32, _mm512_permutex2var_epi16(wl, j1, wh));
    }
    if (k < k0 + gs) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2));
      const __m256i lh = _mm256_and_si256(
          _mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1), lo4);
      const __m512i w = _mm512_permutexvar_epi16(_mm512_cvtepu8_epi16(lh), table);
      _mm512_storeu_si512(out + k, _mm512_permutexvar_epi16(j32, w));
    }
  }
}

// x rounded to bf16 by lowbit_round_bf16's integer rule (RNE; NaN stays a
// quiet NaN), the 16-bit patterns.
void round_bf16_row(const float* x, int64_t K, uint16_t* out) {
  const __m512i absm = _mm512_set1_epi32(0x7FFFFFFF), inf = _mm512_set1_epi32(0x7F800000);
  const __m512i q = _mm512_set1_epi32(0x00400000), h = _mm512_set1_epi32(0x7FFF), one = _mm512_set1_epi32(1);
  for (int64_t k = 0; k < K; k += 16) {
    const __m512i u = _mm512_loadu_si512(x + k);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, absm), inf);
    const __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(h, _mm512_and_si512(_mm512_srli_epi32(u, 16), one)));
    const __m512i v = _mm512_mask_or_epi32(r, nan, u, q);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + k), _mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16)));
  }
}

// Rows m .. m+R-1 (R <= kTR) of x rounded as round_bf16_row and interleaved
// for the tile: word s * kTR + r of the tile's block (K / 2 * kTR words from
// word m * K / 2 of out) is the bf16 pair s of row m + r, so a tile reads its
// activations as one sequential stream instead of R rows K * 2 bytes apart
// (same values, same order of operations: the results do not change).  The
// words of rows past M in the last tile are zero and never read.
void round_bf16_tile(const float* x, int64_t K, int64_t R, uint16_t* tmp, uint32_t* out) {
  const int64_t W = K / 2;
  for (int64_t r = 0; r < R; ++r) round_bf16_row(x + r * K, K, tmp + r * K);
  const uint32_t* t = reinterpret_cast<const uint32_t*>(tmp);
  for (int64_t s = 0; s < W; ++s)
    for (int64_t r = 0; r < kTR; ++r) out[s * kTR + r] = r < R ? t[r * W + s] : 0u;
}

// Panels per parallel_for chunk: runs of panels per thread, so the tiles of
// one panel can prefetch the next one's packed weights (the work split only
// moves whole tiles: results never depend on it).
inline int64_t panel_grain(int64_t npanels) { return npanels >= 32 ? 4 : 1; }

// While the tiles of panel p run, the weight rows of panel p + 1 (read by its
// packing, from DRAM for large layers) are prefetched into L2, a slice
// before each tile.
struct NextPanel {
  const char* p = nullptr;
  int64_t bytes = 0, per = 0;
  NextPanel(const LbLinearArgs& a, int64_t n0, bool has_next) {
    const int64_t rb = lb_row_bytes(a.wfmt, a.K), ntiles = (a.M + kTR - 1) / kTR;
    if (!has_next) return;
    p = reinterpret_cast<const char*>(a.w + (n0 + kPC) * rb);
    bytes = std::min<int64_t>(kPC, a.N - n0 - kPC) * rb;
    per = ((bytes + ntiles - 1) / ntiles + 63) & ~int64_t(63);
  }
  void slice(int64_t t) const {
    for (int64_t off = t * per; off < std::min(bytes, (t + 1) * per); off += 64) _mm_prefetch(p + off, _MM_HINT_T1);
  }
};

// wsT[g][c] = ws[n0 + c][g] (0 past N).
void gather_scales(const LbLinearArgs& a, int64_t n0, int64_t G, float* wsT) {
  const int64_t nc = std::min<int64_t>(kPC, a.N - n0);
  for (int64_t g = 0; g < G; ++g)
    for (int64_t c = 0; c < kPC; ++c) wsT[g * kPC + c] = c < nc ? a.ws[(n0 + c) * G + g] : 0.f;
}

}  // namespace

SC_VNNI void lb_gemm_i8_tiles_avx512(const LbLinearArgs& a) {
  const int64_t M = a.M, N = a.N, K = a.K, gs = a.group, G = K / gs, W = K / 4, npanels = (N + kPC - 1) / kPC;
  const bool w4 = a.wfmt == LB_W_INT4;
  Buf xb, cb;
  int8_t* xp = w4 ? xb.get<int8_t>(static_cast<size_t>(M * K)) : nullptr;
  int32_t* corr = cb.get<int32_t>(static_cast<size_t>(M * G));
  parallel_for(M, 16, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      group_sums(a.xq + m * K, K, gs, w4 ? 8 : 128, corr + m * G);
      if (w4) permute_act_row(a.xq + m * K, K, gs, xp + m * K);
    }
  });
  const int8_t* X = w4 ? xp : a.xq;
  parallel_for(npanels, panel_grain(npanels), [&](int64_t p0, int64_t p1) {
    thread_local Buf bb, wb, tb, zb;
    uint32_t* B = bb.get<uint32_t>(static_cast<size_t>(W * kPC));
    float* wsT = wb.get<float>(static_cast<size_t>(G * kPC));
    uint8_t* tmp = w4 ? tb.get<uint8_t>(static_cast<size_t>(16 * K)) : nullptr;
    uint32_t* zero = zb.get<uint32_t>(static_cast<size_t>(W));
    std::memset(zero, 0, static_cast<size_t>(W) * 4);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n0 = p * kPC;
      for (int c0 = 0; c0 < kPC; c0 += 16) {
        const uint32_t* rows[16];
        for (int i = 0; i < 16; ++i) {
          const int64_t n = n0 + c0 + i;
          if (n >= N) {
            rows[i] = zero;
          } else if (w4) {
            unpack_u4_perm(a.w + n * (K / 2), K, gs, tmp + i * K);
            rows[i] = reinterpret_cast<const uint32_t*>(tmp + i * K);
          } else {
            rows[i] = reinterpret_cast<const uint32_t*>(a.w + n * K);
          }
        }
        transpose_into(rows, W, w4 ? 0u : 0x80808080u, B, c0);
      }
      gather_scales(a, n0, G, wsT);
      const NextPanel next(a, n0, p + 1 < p1);
      for (int64_t m = 0, t = 0; m < M; m += kTR, ++t) {
        next.slice(t);
        tile_i8_rows<kTR>(static_cast<int>(std::min<int64_t>(kTR, M - m)), a, X, corr, m, n0, B, wsT);
      }
    }
  });
}

bool lb_gemm_bf16_supported(const LbLinearArgs& a) {
  // one scale per layout group (NVFP4's 16-element scales mix within the chunk order: float path)
  return a.M > lb_gemv_max_rows() && a.scale_group() == a.group;
}

SC_BF16 void lb_gemm_bf16_tiles_avx512(const LbLinearArgs& a) {
  const int64_t M = a.M, N = a.N, K = a.K, G = K / a.group, W = K / 2, npanels = (N + kPC - 1) / kPC;
  const int64_t ntiles = (M + kTR - 1) / kTR;
  Buf xb;
  uint16_t* X = xb.get<uint16_t>(static_cast<size_t>(ntiles * kTR * K));
  parallel_for(ntiles, 4, [&](int64_t t0, int64_t t1) {
    thread_local Buf rb;
    uint16_t* tmp = rb.get<uint16_t>(static_cast<size_t>(kTR * K));
    for (int64_t t = t0; t < t1; ++t)
      round_bf16_tile(a.x + t * kTR * K, K, std::min<int64_t>(kTR, M - t * kTR), tmp,
                      reinterpret_cast<uint32_t*>(X) + t * kTR * (K / 2));
  });
  const NatIdx ix;
  const __m512i table = nibble_bf16_table(a.wfmt == LB_W_FP4);
  parallel_for(npanels, panel_grain(npanels), [&](int64_t p0, int64_t p1) {
    thread_local Buf bb, wb, tb, zb;
    uint32_t* B = bb.get<uint32_t>(static_cast<size_t>(W * kPC));
    float* wsT = wb.get<float>(static_cast<size_t>(G * kPC));
    uint16_t* tmp = tb.get<uint16_t>(static_cast<size_t>(16 * K));
    uint32_t* zero = zb.get<uint32_t>(static_cast<size_t>(W));
    std::memset(zero, 0, static_cast<size_t>(W) * 4);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n0 = p * kPC;
      for (int c0 = 0; c0 < kPC; c0 += 16) {
        const uint32_t* rows[16];
        for (int i = 0; i < 16; ++i) {
          const int64_t n = n0 + c0 + i;
          if (n >= N) {
            rows[i] = zero;
          } else {
            decode_bf16_row(a, n, ix, table, tmp + i * K);
            rows[i] = reinterpret_cast<const uint32_t*>(tmp + i * K);
          }
        }
        transpose_into(rows, W, 0u, B, c0);
      }
      gather_scales(a, n0, G, wsT);
      const NextPanel next(a, n0, p + 1 < p1);
      for (int64_t m = 0, t = 0; m < M; m += kTR, ++t) {
        next.slice(t);
        tile_bf16_rows<kTR>(static_cast<int>(std::min<int64_t>(kTR, M - m)), a, X, m, n0, B, wsT);
      }
    }
  });
}

}  // namespace lowbit
}  // namespace sc
