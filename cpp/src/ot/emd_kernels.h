// Kernels of the exact solvers (network simplex and Jonker-Volgenant): the
// reference (emd_kernels_ref.cc, plain loops), the AVX2 level
// (emd_avx2.cc) and the AVX-512 level (emd_avx512.cc).  The generic level's table points at the reference
// functions: for these kernels the plain loop is already the portable code,
// so there is no separate generic version to test against it.  Contracts are
// in kernel_api.h (OtKernels).
#pragma once
#include <stdint.h>

namespace sc {
namespace ot {

#define SC_OT_EMD_KERNEL_DECLS                                                                                   \
  void row_min2(const double* c, const double* v, int64_t n, double* u1, int64_t* j1, double* u2, int64_t* j2);  \
  void col_min(const double* c, int64_t n, double row, double* colmin, double* colarg);                         \
  double lap_relax(const double* c, const double* v, double u1, int64_t n, const double* mask, double* d,       \
                   int32_t* pred, int32_t row, int64_t* arg);                                                     \
  double price_rows(const double* C, int64_t ldc, int64_t m, const double* pi, const double* pj, int64_t i0,    \
                    int64_t nrows, int64_t* arg);                                                                \
  float price_rows_f32(const float* C, int64_t ldc, int64_t m, const float* pi, const float* pj, int64_t i0,    \
                       int64_t nrows, int64_t* arg);                                                             \
  void to_f32(const double* C, int64_t ldc, int64_t n, int64_t m, float* Cf, int64_t ldf);                      \
  void toc_keys(const double* C, int64_t ldc, int64_t n, int64_t m, int ib, double* rmin, double* cmin,         \
                uint32_t* KT, uint32_t* KTT);                                                                    \
  void two_min(const uint32_t* key, const uint32_t* mask, int64_t len, uint32_t* k1, uint32_t* k2);             \
  int64_t argmax(const float* p, int64_t len);                                                                   \
  void match2(const int32_t* l1, const int32_t* l2, int64_t len, int32_t t, uint64_t* bits);                    \
  void masked_add(double* pi, float* pf, const uint64_t* bits, int64_t len, double sigma);

namespace emd_ref {
SC_OT_EMD_KERNEL_DECLS
}  // namespace emd_ref

#if defined(SC_HAVE_AVX2_KERNELS)
namespace emd_avx2 {
SC_OT_EMD_KERNEL_DECLS
}  // namespace emd_avx2
#endif

#if defined(SC_HAVE_AVX512_KERNELS)
namespace emd_avx512 {
SC_OT_EMD_KERNEL_DECLS
}  // namespace emd_avx512
#endif

#undef SC_OT_EMD_KERNEL_DECLS

// The reference OtKernels::scale_update (Sinkhorn, ot_ref.cc): the generic
// level uses it, and the AVX2 level for its tail.
double scale_update_ref(const double* a, const double* k, double* u, int64_t n, double w, double lo, double hi,
                        int* flags);

// Fills a kernel table's exact-solver entries with the reference functions
// (the reference and the generic tables both use them).
template <class Table>
void set_emd_ref_kernels(Table& t) {
  t.row_min2 = emd_ref::row_min2;
  t.col_min = emd_ref::col_min;
  t.lap_relax = emd_ref::lap_relax;
  t.emd_price_rows = emd_ref::price_rows;
  t.emd_price_rows_f32 = emd_ref::price_rows_f32;
  t.emd_to_f32 = emd_ref::to_f32;
  t.emd_toc_keys = emd_ref::toc_keys;
  t.emd_two_min = emd_ref::two_min;
  t.emd_argmax = emd_ref::argmax;
  t.emd_match2 = emd_ref::match2;
  t.emd_masked_add = emd_ref::masked_add;
}

}  // namespace ot
}  // namespace sc
