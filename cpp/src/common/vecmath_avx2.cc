// AVX2 versions of vecmath.h (compiled with -mavx2 -mfma).
#include "scalecore/common/simd_avx2.h"
#include "scalecore/common/vecmath.h"

namespace sc {
namespace detail {

namespace {
template <class T, class S, class F>
void apply(const S* x, S* y, int64_t n, F fn) {
  constexpr int W = lanes_of<T>::value;
  int64_t i = 0;
  for (; i + W <= n; i += W) fn(T::load(x + i)).store(y + i);
  if (i < n) {
    S buf[W];
    for (int l = 0; l < W; ++l) buf[l] = i + l < n ? x[i + l] : S(1);
    const T r = fn(T::load(buf));
    r.store(buf);
    for (int l = 0; i + l < n; ++l) y[i + l] = buf[l];
  }
}
}  // namespace

void vec_log_avx2(const double* x, double* y, int64_t n) { apply<F64x4>(x, y, n, [](F64x4 v) { return vlog(v); }); }
void vec_exp_avx2(const double* x, double* y, int64_t n) { apply<F64x4>(x, y, n, [](F64x4 v) { return vexp(v); }); }
void vec_log_avx2(const float* x, float* y, int64_t n) { apply<F32x8>(x, y, n, [](F32x8 v) { return vlog(v); }); }
void vec_exp_avx2(const float* x, float* y, int64_t n) { apply<F32x8>(x, y, n, [](F32x8 v) { return vexp(v); }); }

}  // namespace detail
}  // namespace sc
