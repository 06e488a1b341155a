// Dispatch and references for vecmath.h.
#include "scalecore/common/vecmath.h"

#include <math.h>

#include "scalecore/common/dispatch.h"

namespace sc {

void vec_log_ref(const double* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = log(x[i]);
}
void vec_exp_ref(const double* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = exp(x[i]);
}
void vec_log_ref(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = logf(x[i]);
}
void vec_exp_ref(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = expf(x[i]);
}

#if defined(SC_HAVE_AVX512_KERNELS)
#define SC_VEC_AVX512(NAME) \
  if (lvl == SimdLevel::avx512) return detail::NAME##_avx512(x, y, n);
#else
#define SC_VEC_AVX512(NAME)
#endif
#if defined(SC_HAVE_AVX2_KERNELS)
#define SC_VEC_AVX2(NAME) \
  if (lvl == SimdLevel::avx2) return detail::NAME##_avx2(x, y, n);
#else
#define SC_VEC_AVX2(NAME)
#endif
#define SC_VEC_DISPATCH(NAME, T)             \
  void NAME(const T* x, T* y, int64_t n) {   \
    const SimdLevel lvl = simd_level();      \
    (void)lvl;                               \
    SC_VEC_AVX512(NAME)                      \
    SC_VEC_AVX2(NAME)                        \
    NAME##_ref(x, y, n);                     \
  }
SC_VEC_DISPATCH(vec_log, double)
SC_VEC_DISPATCH(vec_exp, double)
SC_VEC_DISPATCH(vec_log, float)
SC_VEC_DISPATCH(vec_exp, float)
#undef SC_VEC_DISPATCH
#undef SC_VEC_AVX2
#undef SC_VEC_AVX512

}  // namespace sc
