// Reference OT kernels: the plainest loops, every quantity in double.  The
// oracle the generic and AVX2 levels are tested against (never the fast path).
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
#include "scalecore/ot/sinkhorn_math.h"

namespace sc {
namespace ot {
namespace {

template <class S>
double y_at(const CostArgs<S>& a, int64_t j, int64_t k) {
  return a.ypack[(j / kPanel) * a.d * kPanel + k * kPanel + (j % kPanel)];
}

template <class S>
void cost_rows(const CostArgs<S>& a, int64_t i0, int64_t i1, S* out, int64_t ldo) {
  for (int64_t i = i0; i < i1; ++i) {
    for (int64_t j = 0; j < a.m; ++j) {
      double dot = 0, nx = 0, ny = 0;
      for (int64_t k = 0; k < a.d; ++k) {
        const double xv = a.x[i * a.d + k], yv = y_at(a, j, k);
        dot += xv * yv;
        nx += xv * xv;
        ny += yv * yv;
      }
      double c = metric_power(metric_from_dot<double>(a.metric, dot, nx, ny), a.p);
      if (a.table) c += a.table[a.lx[i] * a.ldt + a.ly[j]];
      out[(i - i0) * ldo + j] = static_cast<S>(c);
    }
  }
}

template <class S>
double row_max(const S* c, const S* g, double inv_eps, int64_t m) {
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < m; ++j) mx = std::max(mx, (double(g[j]) - double(c[j])) * inv_eps);
  return mx;
}

template <class S>
double row_expsum(const S* c, const S* g, double inv_eps, double shift, int64_t m, S* e) {
  double s = 0;
  for (int64_t j = 0; j < m; ++j) {
    const double v = exp((double(g[j]) - double(c[j])) * inv_eps - shift);
    e[j] = static_cast<S>(v);
    s += static_cast<double>(e[j]);
  }
  return s;
}

template <class S, class K>
void col_store(const S* e, double w, int64_t m, double* acc, K* k) {
  const double tiny = std::numeric_limits<K>::min();
  for (int64_t j = 0; j < m; ++j) {
    K v = static_cast<K>(w * double(e[j]));
    if (!(v >= tiny)) v = 0;  // flushes subnormals (and never stores a NaN silently: see below)
    if (w * double(e[j]) != w * double(e[j])) v = static_cast<K>(NAN);
    k[j] = v;
    acc[j] += double(v);
  }
}

template <class K>
double krow_dot(const K* k, const double* v, int64_t m) {
  double s = 0;
  for (int64_t j = 0; j < m; ++j) s += double(k[j]) * v[j];
  return s;
}

template <class K>
void krow_dot4(const K* k, int64_t ldk, const double* v, int64_t m, double* out) {
  for (int r = 0; r < 4; ++r) out[r] = krow_dot<K>(k + r * ldk, v, m);
}

template <class S>
void final_row(const S* c, double fi, const double* g, double inv_eps, int64_t m, double* acc_col, S* plan,
               double* out3) {
  for (int64_t j = 0; j < m; ++j) {
    const double x = (fi + g[j] - double(c[j])) * inv_eps;
    const double p = exp(x);
    out3[0] += p;
    out3[1] += p * double(c[j]);
    out3[2] += p == 0 ? 0.0 : p * x;
    acc_col[j] += p;
    if (plan) plan[j] = static_cast<S>(p);
  }
}

template <class S>
void col_max(const S* c, double fi, int64_t m, double* colmax) {
  for (int64_t j = 0; j < m; ++j) colmax[j] = std::max(colmax[j], fi - double(c[j]));
}

template <class S>
void row_bary(const S* p, const S* y, int64_t m, int64_t d, double* out) {
  for (int64_t j = 0; j < m; ++j)
    for (int64_t k = 0; k < d; ++k) out[k] += double(p[j]) * double(y[j * d + k]);
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

}  // namespace

double scale_update_ref(const double* a, const double* k, double* u, int64_t n, double w, double lo, double hi,
                        int* flags) {
  for (int64_t i = 0; i < n; ++i) {
    if (!(a[i] > 0)) continue;
    if (!(k[i] > 1e-300) || !(k[i] < std::numeric_limits<double>::infinity())) {
      *flags |= 2 | (k[i] != k[i] ? 4 : 0);
      return 0;
    }
  }
  double err = 0;
  bool out = false;
  for (int64_t i = 0; i < n; ++i) {
    if (!(a[i] > 0)) {
      u[i] = 0;
      continue;
    }
    const double un = w == 1.0 ? a[i] / k[i] : u[i] * sor_power(a[i] / (k[i] * u[i]), w);
    u[i] = un;
    const double e = un * k[i] - a[i];
    err += e * e;
    out = out || !(un >= lo && un <= hi);
  }
  if (out) *flags |= 1;
  return err;
}

namespace {

template <class S>
OtKernels<S> make() {
  OtKernels<S> t;
  t.name = "ref";
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
  t.scale_update = scale_update_ref;
  t.finite_absmax = finite_absmax<S>;
  set_emd_ref_kernels(t);
  return t;
}

}  // namespace

template <>
const OtKernels<double>& ot_kernels_ref<double>() {
  static const OtKernels<double> t = make<double>();
  return t;
}
template <>
const OtKernels<float>& ot_kernels_ref<float>() {
  static const OtKernels<float> t = make<float>();
  return t;
}

}  // namespace ot
}  // namespace sc
