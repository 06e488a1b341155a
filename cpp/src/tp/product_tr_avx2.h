// In-register 8 x 8 float transposes between the ir_mul and mul_ir layouts
// (AVX2 instructions only).  Included inside an anonymous namespace by
// product_avx2.cc and product_avx512.cc, so each ISA's TU has its own copy.
// product_avx2.cc uses them for all channels (vtr_to_ir / vtr_from_ir below,
// unless SC_TP_TR_OWN_ENTRY is defined); product_avx512.cc for the channels
// left after its 16-channel permutes (product_tr_avx512.h).
// Needs <immintrin.h> (included by the simd_*.h pack header) before it.
#pragma once

// 8 x 8 float transpose in registers (rows r[0..7] -> columns).
inline void tr8x8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}
// ir_mul [D][m] -> mul_ir [m][D] for 8 channels at a time (float, D < 8),
// channels from u0 on; returns the first channel not transposed.
template <int D, class S>
inline int vtr8_from_ir(const S* src, S* dst, int m, int u0) {
  if (sizeof(S) != 4 || D >= 8) return u0;
  const float* s = reinterpret_cast<const float*>(src);
  float* d = reinterpret_cast<float*>(dst);
  int u = u0;
  for (; u + 8 <= m; u += 8) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) r[i] = i < D ? _mm256_loadu_ps(s + i * m + u) : _mm256_setzero_ps();
    tr8x8(r);
    // Full 8-wide stores in ascending order while a store's spill stays
    // inside this chunk's 8 D outputs (later stores overwrite it); the last
    // rows by exact copies.  (Masked stores are microcoded on AMD Zen.)
    int j = 0;
    for (; j * D + 8 <= 8 * D; ++j) _mm256_storeu_ps(d + (u + j) * D, r[j]);
    for (; j < 8; ++j) {
      alignas(32) float t[8];
      _mm256_store_ps(t, r[j]);
      for (int i = 0; i < D; ++i) d[(u + j) * D + i] = t[i];
    }
  }
  return u;
}
// mul_ir [m][D] -> ir_mul [D][m], as vtr8_from_ir.
template <int D, class S>
inline int vtr8_to_ir(const S* src, S* dst, int m, int u0) {
  if (sizeof(S) != 4 || D >= 8) return u0;
  const float* s = reinterpret_cast<const float*>(src);
  float* d = reinterpret_cast<float*>(dst);
  int u = u0;
  for (; u + 8 <= m; u += 8) {
    __m256 r[8];
    // Full-width loads while they stay inside the block (lanes beyond D are
    // ignored); the block's last rows through a copy.
    for (int j = 0; j < 8; ++j) {
      if ((u + j) * D + 8 <= m * D) {
        r[j] = _mm256_loadu_ps(s + (u + j) * D);
      } else {
        alignas(32) float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int i = 0; i < D; ++i) t[i] = s[(u + j) * D + i];
        r[j] = _mm256_load_ps(t);
      }
    }
    tr8x8(r);
    for (int i = 0; i < D; ++i) _mm256_storeu_ps(d + i * m + u, r[i]);
  }
  return u;
}

#if !defined(SC_TP_TR_OWN_ENTRY)
// The entry points product_kernels.h calls: how many channels (from 0) were
// transposed.
template <int D, class S>
inline int vtr_from_ir(const S* src, S* dst, int m) {
  return vtr8_from_ir<D>(src, dst, m, 0);
}
template <int D, class S>
inline int vtr_to_ir(const S* src, S* dst, int m) {
  return vtr8_to_ir<D>(src, dst, m, 0);
}
#endif
