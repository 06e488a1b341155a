// Spherical harmonics of vectors: argument checks, the single-threaded
// references, the threaded scalar path and the dispatch to sh_avx2.cc / sh_avx512.cc.
// The per-point math is scalecore/tp/sh.h (shared with CUDA).
#include <string>

#include "scalecore/common/dispatch.h"
#include "scalecore/common/errors.h"
#include "scalecore/common/threads.h"
#include "sh_kernels.h"

namespace sc {
namespace tp {
namespace {

// Chunks of the thread pool: a multiple of every lane count (8), large
// enough to amortise a task; boundaries depend on n only.
constexpr int64_t kGrain = 128;

void check_args(const ShArgs& a) {
  if (a.lmax < 0 || a.lmax > kShMaxL)
    throw ValueError("spherical_harmonics: l must be in [0, " + std::to_string(kShMaxL) + "], got lmax " +
                     std::to_string(a.lmax));
  if (a.normalization < SC_SH_INTEGRAL || a.normalization > SC_SH_NORM)
    throw ValueError("spherical_harmonics: unknown normalization code " + std::to_string(a.normalization));
  if (a.n < 0 || a.dim < 0) throw ValueError("spherical_harmonics: negative sizes");
  if (!a.col_offset) throw ValueError("spherical_harmonics: col_offset is required");
  for (int l = 0; l <= a.lmax; ++l)
    if (a.col_offset[l] >= 0 && a.col_offset[l] + 2 * l + 1 > a.dim)
      throw ValueError("spherical_harmonics: block l=" + std::to_string(l) + " at column " +
                       std::to_string(a.col_offset[l]) + " does not fit in " + std::to_string(a.dim) + " columns");
}

// 2: AVX-512 kernels, 1: AVX2, 0: the scalar blocks.
int sh_level() {
#if defined(SC_HAVE_AVX512_KERNELS)
  if (simd_at_least(SimdLevel::avx512)) return 2;
#endif
#if defined(SC_HAVE_AVX2_KERNELS)
  if (simd_at_least(SimdLevel::avx2)) return 1;
#endif
  return 0;
}

}  // namespace

const ShCoeffs& sh_coeffs() {
  static const ShCoeffs c = [] {
    ShCoeffs t;
    sh_coeffs_build(&t);
    return t;
  }();
  return c;
}

// ---- references: one vector at a time, one thread ------------------------
template <class S>
void sh_forward_ref(const ShArgs& a, const S* vec, S* out) {
  check_args(a);
  const ShCoeffs& c = sh_coeffs();
  for (int64_t i = 0; i < a.n; ++i) sh_block_forward<S>(a, c, vec, out, i, 1);
}
template <class S>
void sh_backward_ref(const ShArgs& a, const S* vec, const S* gout, S* gvec) {
  check_args(a);
  const ShCoeffs& c = sh_coeffs();
  for (int64_t i = 0; i < a.n; ++i) sh_block_backward<S>(a, c, vec, gout, gvec, i, 1);
}
template <class S>
void sh_double_backward_ref(const ShArgs& a, const S* vec, const S* gout, const S* ggvec, S* ggout, S* gvec2) {
  check_args(a);
  const ShCoeffs& c = sh_coeffs();
  for (int64_t i = 0; i < a.n; ++i) sh_block_double_backward<S>(a, c, vec, gout, ggvec, ggout, gvec2, i, 1);
}

// ---- dispatched, threaded ---------------------------------------------------
template <class S>
void sh_forward(const ShArgs& a, const S* vec, S* out) {
  check_args(a);
  const ShCoeffs& c = sh_coeffs();
  const int v = sh_level();
  (void)v;
  parallel_for(a.n, kGrain, [&](int64_t b, int64_t e) {
#if defined(SC_HAVE_AVX512_KERNELS)
    if (v == 2) return detail::sh_forward_avx512<S>(a, c, vec, out, b, e);
#endif
#if defined(SC_HAVE_AVX2_KERNELS)
    if (v == 1) return detail::sh_forward_avx2<S>(a, c, vec, out, b, e);
#endif
    for (int64_t i = b; i < e; ++i) sh_block_forward<S>(a, c, vec, out, i, 1);
  });
}
template <class S>
void sh_backward(const ShArgs& a, const S* vec, const S* gout, S* gvec) {
  check_args(a);
  const ShCoeffs& c = sh_coeffs();
  const int v = sh_level();
  (void)v;
  parallel_for(a.n, kGrain, [&](int64_t b, int64_t e) {
#if defined(SC_HAVE_AVX512_KERNELS)
    if (v == 2) return detail::sh_backward_avx512<S>(a, c, vec, gout, gvec, b, e);
#endif
#if defined(SC_HAVE_AVX2_KERNELS)
    if (v == 1) return detail::sh_backward_avx2<S>(a, c, vec, gout, gvec, b, e);
#endif
    for (int64_t i = b; i < e; ++i) sh_block_backward<S>(a, c, vec, gout, gvec, i, 1);
  });
}
template <class S>
void sh_double_backward(const ShArgs& a, const S* vec, const S* gout, const S* ggvec, S* ggout, S* gvec2) {
  check_args(a);
  const ShCoeffs& c = sh_coeffs();
  const int v = sh_level();
  (void)v;
  parallel_for(a.n, kGrain, [&](int64_t b, int64_t e) {
#if defined(SC_HAVE_AVX512_KERNELS)
    if (v == 2) return detail::sh_double_backward_avx512<S>(a, c, vec, gout, ggvec, ggout, gvec2, b, e);
#endif
#if defined(SC_HAVE_AVX2_KERNELS)
    if (v == 1) return detail::sh_double_backward_avx2<S>(a, c, vec, gout, ggvec, ggout, gvec2, b, e);
#endif
    for (int64_t i = b; i < e; ++i) sh_block_double_backward<S>(a, c, vec, gout, ggvec, ggout, gvec2, i, 1);
  });
}

template <class S>
void sh_derivatives(const ShArgs& a, const S* vec, S* out, S* jac, S* hess) {
  check_args(a);
  const ShCoeffs& c = sh_coeffs();
  parallel_for(a.n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      using E = Jet2<S>;
      E x, y, z;
      sh_inputs<E, S>(a, vec, i, 1, &x, &y, &z);
      sh_eval(a.lmax, c, x, y, z, [&](int l, int m, const E& v) {
        const int off = a.col_offset[l];
        if (off < 0) return;
        const S s = static_cast<S>(sh_norm_scale(a.normalization, l));
        const int64_t col = off + l + m;
        if (out) out[i * a.dim + col] = s * v.v;
        S* jp = jac + (i * a.dim + col) * 3;
        for (int j = 0; j < 3; ++j) jp[j] = s * v.d[j];
        if (hess) {
          S* hp = hess + (i * a.dim + col) * 9;
          const int idx[3][3] = {{0, 3, 4}, {3, 1, 5}, {4, 5, 2}};
          for (int j = 0; j < 3; ++j)
            for (int k = 0; k < 3; ++k) hp[j * 3 + k] = s * v.h[idx[j][k]];
        }
      });
    }
  });
}

#define SC_SH_INST(S)                                                                                 \
  template void sh_forward_ref<S>(const ShArgs&, const S*, S*);                                       \
  template void sh_backward_ref<S>(const ShArgs&, const S*, const S*, S*);                            \
  template void sh_double_backward_ref<S>(const ShArgs&, const S*, const S*, const S*, S*, S*);       \
  template void sh_forward<S>(const ShArgs&, const S*, S*);                                           \
  template void sh_backward<S>(const ShArgs&, const S*, const S*, S*);                                \
  template void sh_double_backward<S>(const ShArgs&, const S*, const S*, const S*, S*, S*);           \
  template void sh_derivatives<S>(const ShArgs&, const S*, S*, S*, S*);
SC_SH_INST(float)
SC_SH_INST(double)
#undef SC_SH_INST

}  // namespace tp
}  // namespace sc
