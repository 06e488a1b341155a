// AVX2/FMA tensor-product row kernel: product_kernels.h over F32x8 / F64x4
// packs, channels in lanes.
#include "scalecore/common/simd_avx2.h"
#include "scalecore/tp/plan.h"
#include "scalecore/tp/product.h"

SC_FAMILY_NS_BEGIN(tp)
namespace {
#include "product_pack_ops.h"
#include "product_tr_avx2.h"
}  // namespace
SC_FAMILY_NS_END

#include "product_kernels.h"

namespace sc {
namespace tp {

template <>
const TpRowKernels<double>& tp_row_kernels_avx2<double>() {
  static const TpRowKernels<double> k = {"avx2", &tp_row<F64x4, double>, &tp_row_multi<F64x4, double>, &k_from_ir_mul<double>, &tp_out_block<F64x4, double>, &tp_bwd_block<F64x4, double>};
  return k;
}
template <>
const TpRowKernels<float>& tp_row_kernels_avx2<float>() {
  static const TpRowKernels<float> k = {"avx2", &tp_row<F32x8, float>, &tp_row_multi<F32x8, float>, &k_from_ir_mul<float>, &tp_out_block<F32x8, float>, &tp_bwd_block<F32x8, float>};
  return k;
}

}  // namespace tp
}  // namespace sc
