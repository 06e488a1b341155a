// Generic-level tensor-product row kernel: product_kernels.h over plain
// scalars (no ISA flags; the compiler may use SSE2).
#include "scalecore/common/hd.h"
#include "scalecore/tp/plan.h"
#include "scalecore/tp/product.h"

SC_FAMILY_NS_BEGIN(tp)
namespace {
template <class V>
struct VT;
template <>
struct VT<float> {
  static constexpr int L = 1;
};
template <>
struct VT<double> {
  static constexpr int L = 1;
};
template <class V, class S>
inline V vsplat(S s) {
  return V(s);
}
template <class V, class S>
inline V vload(const S* p) {
  return *p;
}
inline void vstore(float* p, float v) { *p = v; }
inline void vstore(double* p, double v) { *p = v; }
inline float vfma(float a, float b, float c) { return a * b + c; }
inline double vfma(double a, double b, double c) { return a * b + c; }
inline float vhsum(float v) { return v; }
inline double vhsum(double v) { return v; }
template <int D, class S>
inline int vtr_to_ir(const S*, S*, int) {
  return 0;
}
template <int D, class S>
inline int vtr_from_ir(const S*, S*, int) {
  return 0;
}
}  // namespace
SC_FAMILY_NS_END

#include "product_kernels.h"

namespace sc {
namespace tp {

template <class S>
const TpRowKernels<S>& tp_row_kernels_generic() {
  static const TpRowKernels<S> k = {"generic", &tp_row<S, S>, &tp_row_multi<S, S>, &k_from_ir_mul<S>, &tp_out_block<S, S>, &tp_bwd_block<S, S>};
  return k;
}
template const TpRowKernels<double>& tp_row_kernels_generic<double>();
template const TpRowKernels<float>& tp_row_kernels_generic<float>();

}  // namespace tp
}  // namespace sc
