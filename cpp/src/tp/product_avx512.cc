// AVX-512 tensor-product row kernel: product_kernels.h over F32x16 / F64x8
// packs, channels in lanes (16 float32 / 8 float64 channels per vector).  The
// ir_mul <-> mul_ir transposes for D < 8 stay 8 x 8 (ymm), shared with the
// AVX2 file.
#include "scalecore/common/simd_avx512.h"
#include "scalecore/tp/plan.h"
#include "scalecore/tp/product.h"

SC_FAMILY_NS_BEGIN(tp)
namespace {
template <class V>
struct VT;
template <>
struct VT<F32x16> {
  static constexpr int L = 16;
};
template <>
struct VT<F64x8> {
  static constexpr int L = 8;
};
template <class V, class S>
inline V vsplat(S s) {
  return V(s);
}
template <class V, class S>
inline V vload(const S* p) {
  return V::load(p);
}
inline void vstore(float* p, F32x16 v) { v.store(p); }
inline void vstore(double* p, F64x8 v) { v.store(p); }
inline F32x16 vfma(F32x16 a, F32x16 b, F32x16 c) { return F32x16(_mm512_fmadd_ps(a.v, b.v, c.v)); }
inline F64x8 vfma(F64x8 a, F64x8 b, F64x8 c) { return F64x8(_mm512_fmadd_pd(a.v, b.v, c.v)); }
inline float vhsum(F32x16 v) { return _mm512_reduce_add_ps(v.v); }
inline double vhsum(F64x8 v) { return _mm512_reduce_add_pd(v.v); }

#include "product_tr_avx2.h"
}  // namespace
SC_FAMILY_NS_END

#include "product_kernels.h"

namespace sc {
namespace tp {

template <>
const TpRowKernels<double>& tp_row_kernels_avx512<double>() {
  static const TpRowKernels<double> k = {"avx512", &tp_row<F64x8, double>, &tp_row_multi<F64x8, double>,
                                         &k_from_ir_mul<double>};
  return k;
}
template <>
const TpRowKernels<float>& tp_row_kernels_avx512<float>() {
  static const TpRowKernels<float> k = {"avx512", &tp_row<F32x16, float>, &tp_row_multi<F32x16, float>,
                                        &k_from_ir_mul<float>};
  return k;
}

}  // namespace tp
}  // namespace sc
