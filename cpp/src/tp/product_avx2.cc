// AVX2/FMA tensor-product row kernel: product_kernels.h over F32x8 / F64x4
// packs, channels in lanes.
#include "scalecore/common/simd_avx2.h"
#include "scalecore/tp/plan.h"
#include "scalecore/tp/product.h"

SC_FAMILY_NS_BEGIN(tp)
namespace {
template <class V>
struct VT;
template <>
struct VT<F32x8> {
  static constexpr int L = 8;
};
template <>
struct VT<F64x4> {
  static constexpr int L = 4;
};
template <class V, class S>
inline V vsplat(S s) {
  return V(s);
}
template <class V, class S>
inline V vload(const S* p) {
  return V::load(p);
}
inline void vstore(float* p, F32x8 v) { v.store(p); }
inline void vstore(double* p, F64x4 v) { v.store(p); }
inline F32x8 vfma(F32x8 a, F32x8 b, F32x8 c) { return F32x8(_mm256_fmadd_ps(a.v, b.v, c.v)); }
inline F64x4 vfma(F64x4 a, F64x4 b, F64x4 c) { return F64x4(_mm256_fmadd_pd(a.v, b.v, c.v)); }
inline float vhsum(F32x8 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v.v), _mm256_extractf128_ps(v.v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}
inline double vhsum(F64x4 v) {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v.v), _mm256_extractf128_pd(v.v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

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
// ir_mul [D][m] -> mul_ir [m][D] for 8 channels at a time (float, D < 8).
template <int D, class S>
inline int vtr_from_ir(const S* src, S* dst, int m) {
  if (sizeof(S) != 4 || D >= 8) return 0;
  const float* s = reinterpret_cast<const float*>(src);
  float* d = reinterpret_cast<float*>(dst);
  int u = 0;
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
// mul_ir [m][D] -> ir_mul [D][m].
template <int D, class S>
inline int vtr_to_ir(const S* src, S* dst, int m) {
  if (sizeof(S) != 4 || D >= 8) return 0;
  const float* s = reinterpret_cast<const float*>(src);
  float* d = reinterpret_cast<float*>(dst);
  int u = 0;
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
}  // namespace
SC_FAMILY_NS_END

#include "product_kernels.h"

namespace sc {
namespace tp {

template <>
const TpRowKernels<double>& tp_row_kernels_avx2<double>() {
  static const TpRowKernels<double> k = {"avx2", &tp_row<F64x4, double>, &tp_row_multi<F64x4, double>, &k_from_ir_mul<double>};
  return k;
}
template <>
const TpRowKernels<float>& tp_row_kernels_avx2<float>() {
  static const TpRowKernels<float> k = {"avx2", &tp_row<F32x8, float>, &tp_row_multi<F32x8, float>, &k_from_ir_mul<float>};
  return k;
}

}  // namespace tp
}  // namespace sc
