// AVX-512 versions of vecmath.h (compiled with the AVX-512 F/BW/VL/DQ flags).
// The tail is one masked load and store, not a scalar loop.
#include "scalecore/common/simd_avx512.h"
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
    const int r = static_cast<int>(n - i);
    fn(T::load_n(x + i, r, S(1))).store_n(y + i, r);
  }
}
}  // namespace

void vec_log_avx512(const double* x, double* y, int64_t n) { apply<F64x8>(x, y, n, [](F64x8 v) { return vlog(v); }); }
void vec_exp_avx512(const double* x, double* y, int64_t n) { apply<F64x8>(x, y, n, [](F64x8 v) { return vexp(v); }); }
void vec_log_avx512(const float* x, float* y, int64_t n) { apply<F32x16>(x, y, n, [](F32x16 v) { return vlog(v); }); }
void vec_exp_avx512(const float* x, float* y, int64_t n) { apply<F32x16>(x, y, n, [](F32x16 v) { return vexp(v); }); }

}  // namespace detail
}  // namespace sc
