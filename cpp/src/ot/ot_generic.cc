// Generic-level OT kernels (no ISA flags; the compiler may use SSE2).  The
// arithmetic runs in the data type S where that is the data's own precision
// (exponents of a float problem), and every sum accumulates in double.
#include <float.h>
#include <math.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "emd_kernels.h"
#include "ot_internal.h"
#include "ot_plain.h"
#include "scalecore/ot/cost_math.h"
#include "scalecore/ot/kernel_api.h"

namespace sc {
namespace ot {

template <class S>
void pack_y(const S* y, int64_t m, int64_t d, S* out) {
  const int64_t np = (m + kPanel - 1) / kPanel;
  for (int64_t q = 0; q < np; ++q) {
    S* panel = out + q * d * kPanel;
    for (int64_t k = 0; k < d; ++k)
      for (int64_t l = 0; l < kPanel; ++l) {
        const int64_t j = q * kPanel + l;
        panel[k * kPanel + l] = j < m ? y[j * d + k] : S(0);
      }
  }
}
template void pack_y<double>(const double*, int64_t, int64_t, double*);
template void pack_y<float>(const float*, int64_t, int64_t, float*);

namespace {

template <class S>
void cost_rows(const CostArgs<S>& a, int64_t i0, int64_t i1, S* out, int64_t ldo) {
  const int64_t np = (a.m + kPanel - 1) / kPanel;
  for (int64_t i = i0; i < i1; ++i) {
    const S* xi = a.x + i * a.d;
    S* o = out + (i - i0) * ldo;
    for (int64_t q = 0; q < np; ++q) {
      const S* panel = a.ypack + q * a.d * kPanel;
      S acc[kPanel] = {};
      for (int64_t k = 0; k < a.d; ++k) {
        const S xv = xi[k];
        for (int l = 0; l < kPanel; ++l) acc[l] += xv * panel[k * kPanel + l];
      }
      const int64_t j0 = q * kPanel;
      const int lim = static_cast<int>(std::min<int64_t>(kPanel, a.m - j0));
      for (int l = 0; l < lim; ++l) {
        S c = metric_power(metric_from_dot<S>(a.metric, acc[l], a.nx2[i], a.ny2[j0 + l]), a.p);
        if (a.table) c = static_cast<S>(c + a.table[a.lx[i] * a.ldt + a.ly[j0 + l]]);
        o[j0 + l] = c;
      }
    }
  }
}

template <class S>
double row_max(const S* c, const S* g, double inv_eps, int64_t m) {
  const S ie = static_cast<S>(inv_eps);
  S mx = -std::numeric_limits<S>::infinity();
  for (int64_t j = 0; j < m; ++j) {
    const S v = (g[j] - c[j]) * ie;
    mx = v > mx ? v : mx;
  }
  return mx;
}

template <class S>
double row_expsum(const S* c, const S* g, double inv_eps, double shift, int64_t m, S* e) {
  const S ie = static_cast<S>(inv_eps), sh = static_cast<S>(shift);
  double s = 0;
  for (int64_t j = 0; j < m; ++j) {
    const S v = vexp((g[j] - c[j]) * ie - sh);
    e[j] = v;
    s += v;
  }
  return s;
}

template <class S, class K>
void col_store(const S* e, double w, int64_t m, double* acc, K* k) {
  const K tiny = std::numeric_limits<K>::min();
  for (int64_t j = 0; j < m; ++j) {
    K v = static_cast<K>(w * double(e[j]));
    v = (v >= tiny || v != v) ? v : K(0);
    k[j] = v;
    acc[j] += double(v);
  }
}

template <class K>
double krow_dot(const K* k, const double* v, int64_t m) {
  // Four partial sums (the same association as the AVX2 level's lanes is not
  // required: levels are compared with a tolerance).
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t j = 0;
  for (; j + 4 <= m; j += 4) {
    s0 += double(k[j]) * v[j];
    s1 += double(k[j + 1]) * v[j + 1];
    s2 += double(k[j + 2]) * v[j + 2];
    s3 += double(k[j + 3]) * v[j + 3];
  }
  for (; j < m; ++j) s0 += double(k[j]) * v[j];
  return (s0 + s1) + (s2 + s3);
}

template <class K>
void krow_dot4(const K* k, int64_t ldk, const double* v, int64_t m, double* out) {
  for (int r = 0; r < 4; ++r) out[r] = krow_dot<K>(k + r * ldk, v, m);
}

template <class S>
void final_row(const S* c, double fi, const double* g, double inv_eps, int64_t m, double* acc_col, S* plan,
               double* out3) {
  double s0 = 0, s1 = 0, s2 = 0;
  for (int64_t j = 0; j < m; ++j) {
    const double x = (fi + g[j] - double(c[j])) * inv_eps;
    const double p = exp(x);
    s0 += p;
    s1 += p * double(c[j]);
    s2 += p == 0 ? 0.0 : p * x;
    acc_col[j] += p;
    if (plan) plan[j] = static_cast<S>(p);
  }
  out3[0] += s0;
  out3[1] += s1;
  out3[2] += s2;
}

template <class S>
void col_max(const S* c, double fi, int64_t m, double* colmax) {
  for (int64_t j = 0; j < m; ++j) {
    const double v = fi - double(c[j]);
    colmax[j] = v > colmax[j] ? v : colmax[j];
  }
}

template <class S>
void row_bary(const S* p, const S* y, int64_t m, int64_t d, double* out) {
  for (int64_t j = 0; j < m; ++j) {
    const double w = p[j];
    if (w == 0) continue;
    const S* yj = y + j * d;
    for (int64_t k = 0; k < d; ++k) out[k] += w * double(yj[k]);
  }
}

template <class S>
bool finite_absmax(const S* C, int64_t ldc, int64_t n, int64_t m, double* absmax) {
  double mx = 0;
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) {
    const S* c = C + i * ldc;
    double m0 = 0, m1 = 0;
    int64_t j = 0;
    for (; j + 2 <= m; j += 2) {
      const double v0 = std::fabs(double(c[j])), v1 = std::fabs(double(c[j + 1]));
      ok = ok && v0 <= DBL_MAX && v1 <= DBL_MAX;
      m0 = v0 > m0 ? v0 : m0;
      m1 = v1 > m1 ? v1 : m1;
    }
    for (; j < m; ++j) {
      const double v0 = std::fabs(double(c[j]));
      ok = ok && v0 <= DBL_MAX;
      m0 = v0 > m0 ? v0 : m0;
    }
    mx = std::max(mx, std::max(m0, m1));
  }
  *absmax = mx;
  return ok;
}

template <class S>
OtKernels<S> make() {
  OtKernels<S> t;
  t.name = "scalar";
  t.cost_rows = cost_rows<S>;
  t.row_max = row_max<S>;
  t.row_expsum = row_expsum<S>;
  t.row_expsum_f32exp = plain::row_expsum_f32exp<S>;
  t.col_axpy = plain::col_axpy<S>;
  t.col_store_f32 = col_store<S, float>;
  t.col_store_f64 = col_store<S, double>;
  t.krow_dot_f32 = krow_dot<float>;
  t.krow_dot_f64 = krow_dot<double>;
  t.krow_axpy_f32 = plain::krow_axpy<float>;
  t.krow_axpy_f64 = plain::krow_axpy<double>;
  t.krow_dot4_f32 = krow_dot4<float>;
  t.krow_dot4_f64 = krow_dot4<double>;
  t.krow_axpy4_f32 = plain::krow_axpy4<float>;
  t.krow_axpy4_f64 = plain::krow_axpy4<double>;
  t.final_row = final_row<S>;
  t.col_max = col_max<S>;
  t.col_sumexp = plain::col_sumexp<S>;
  t.col_sumexp_f32exp = plain::col_sumexp_f32exp<S>;
  t.row_bary = row_bary<S>;
  t.scale_update = scale_update_ref;  // the reference loop is the generic code
  t.finite_absmax = finite_absmax<S>;
  set_emd_ref_kernels(t);
  return t;
}

}  // namespace

template <>
const OtKernels<double>& ot_kernels_generic<double>() {
  static const OtKernels<double> t = make<double>();
  return t;
}
template <>
const OtKernels<float>& ot_kernels_generic<float>() {
  static const OtKernels<float> t = make<float>();
  return t;
}

}  // namespace ot
}  // namespace sc
