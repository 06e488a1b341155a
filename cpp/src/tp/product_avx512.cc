// AVX-512 tensor-product row kernel: product_kernels.h over F32x16 / F64x8
// packs, channels in lanes (16 float32 / 8 float64 channels per vector).  The
// float ir_mul <-> mul_ir transposes for D = 3, 5, 7 run 16 channels at a
// time with zmm permutes (product_tr_avx512.h), the rest with the AVX2 file's
// 8 x 8 transposes.
#include "scalecore/common/simd_avx512.h"
#include "scalecore/tp/plan.h"
#include "scalecore/tp/product.h"

SC_FAMILY_NS_BEGIN(tp)
namespace {
#include "product_pack_ops.h"
#define SC_TP_TR_OWN_ENTRY 1
#include "product_tr_avx2.h"
#include "product_tr_avx512.h"
#undef SC_TP_TR_OWN_ENTRY
}  // namespace
SC_FAMILY_NS_END

#include "product_kernels.h"

namespace sc {
namespace tp {

template <>
const TpRowKernels<double>& tp_row_kernels_avx512<double>() {
  static const TpRowKernels<double> k = {"avx512", &tp_row<F64x8, double>, &tp_row_multi<F64x8, double>,
                                         &k_from_ir_mul<double>, &tp_out_block<F64x8, double>, &tp_bwd_block<F64x8, double>};
  return k;
}
template <>
const TpRowKernels<float>& tp_row_kernels_avx512<float>() {
  static const TpRowKernels<float> k = {"avx512", &tp_row<F32x16, float>, &tp_row_multi<F32x16, float>,
                                        &k_from_ir_mul<float>, &tp_out_block<F32x16, float>, &tp_bwd_block<F32x16, float>};
  return k;
}

}  // namespace tp
}  // namespace sc
