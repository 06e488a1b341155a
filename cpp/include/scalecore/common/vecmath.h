// Elementwise math over arrays, dispatched on the SIMD level.  Used where a
// family transforms whole arrays (e.g. the log of every input of a problem).
//
// Each function has a plain reference (_ref, libm) beside the dispatched
// version; the AVX2 versions are within 2 ulp of it (tests/test_simd.py).
#pragma once
#include <stdint.h>

namespace sc {

void vec_log(const double* x, double* y, int64_t n);
void vec_exp(const double* x, double* y, int64_t n);
void vec_log_ref(const double* x, double* y, int64_t n);
void vec_exp_ref(const double* x, double* y, int64_t n);

// Float versions (tests, and float kernels of later families).
void vec_log(const float* x, float* y, int64_t n);
void vec_exp(const float* x, float* y, int64_t n);
void vec_log_ref(const float* x, float* y, int64_t n);
void vec_exp_ref(const float* x, float* y, int64_t n);

namespace detail {
#if defined(SC_HAVE_AVX2_KERNELS)
void vec_log_avx2(const double* x, double* y, int64_t n);
void vec_exp_avx2(const double* x, double* y, int64_t n);
void vec_log_avx2(const float* x, float* y, int64_t n);
void vec_exp_avx2(const float* x, float* y, int64_t n);
#endif
#if defined(SC_HAVE_AVX512_KERNELS)
void vec_log_avx512(const double* x, double* y, int64_t n);
void vec_exp_avx512(const double* x, double* y, int64_t n);
void vec_log_avx512(const float* x, float* y, int64_t n);
void vec_exp_avx512(const float* x, float* y, int64_t n);
#endif
}  // namespace detail

}  // namespace sc
