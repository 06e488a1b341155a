// Plain-loop OT kernels that the reference and the generic level share
// (the generic level has nothing faster to say for them).  Templates for
// generic translation units only (ot_ref.cc, ot_generic.cc).
#pragma once
#include <math.h>
#include <stdint.h>

namespace sc {
namespace ot {
namespace plain {

template <class S>
double row_expsum_f32exp(const S* c, const S* g, double inv_eps, double shift, int64_t m, S* e) {
  double s = 0;
  for (int64_t j = 0; j < m; ++j) {
    const float x = static_cast<float>((double(g[j]) - double(c[j])) * inv_eps - shift);
    e[j] = static_cast<S>(expf(x));
    s += double(e[j]);
  }
  return s;
}

template <class S>
void col_sumexp_f32exp(const S* c, double fi, const double* colmax, double inv_eps, int64_t m, double* acc) {
  for (int64_t j = 0; j < m; ++j) acc[j] += double(expf(static_cast<float>((fi - double(c[j]) - colmax[j]) * inv_eps)));
}

template <class S>
void col_sumexp(const S* c, double fi, const double* colmax, double inv_eps, int64_t m, double* acc) {
  for (int64_t j = 0; j < m; ++j) acc[j] += exp((fi - double(c[j]) - colmax[j]) * inv_eps);
}

template <class S>
void col_axpy(const S* e, double w, int64_t m, double* acc) {
  for (int64_t j = 0; j < m; ++j) acc[j] += w * double(e[j]);
}

template <class K>
void krow_axpy(const K* k, double u, int64_t m, double* acc) {
  for (int64_t j = 0; j < m; ++j) acc[j] += u * double(k[j]);
}

template <class K>
void krow_axpy4(const K* k, int64_t ldk, const double* u, int64_t m, double* acc) {
  for (int64_t j = 0; j < m; ++j)
    acc[j] += ((u[0] * double(k[j]) + u[1] * double(k[ldk + j])) + u[2] * double(k[2 * ldk + j])) +
              u[3] * double(k[3 * ldk + j]);
}

}  // namespace plain
}  // namespace ot
}  // namespace sc
