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

#include "product_tr_avx2.h"
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
