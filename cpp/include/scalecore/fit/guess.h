// Host-only helpers for the laws' default start heuristics (p0 when the user
// gives none).  They work in double whatever the fit's dtype.
#pragma once
#include <math.h>

#include <algorithm>
#include <vector>

#include "scalecore/common/vecmath.h"

namespace sc {
namespace fit {
namespace guess {

// exp(s * u[i]) for i < m, through the vectorised exp of the SIMD level in
// use (within 2 ulp of libm), into a per-thread buffer (slot 0..3) that
// stays valid until the next call with the same slot.  The start heuristics
// take two exponentials per point; with libm's scalar exp they were a sixth
// of a 100-point Chinchilla fit.
template <class S>
const double* exp_scaled(const S* u, int m, double s, int slot) {
  thread_local std::vector<double> buf[4];
  std::vector<double>& b = buf[slot];
  if (b.size() < static_cast<size_t>(m)) b.resize(static_cast<size_t>(m));
  for (int i = 0; i < m; ++i) b[i] = s * double(u[i]);
  sc::vec_exp(b.data(), b.data(), m);
  return b.data();
}

// A view of one prepared problem: m valid points, features u[k][i] (after
// each law's input transform), data y[i] (raw, not log) and weights w[i].
template <class S>
struct Points {
  int m = 0;
  const S* u[32] = {};
  const S* y = nullptr;
  const S* w = nullptr;
};

// Weighted linear least squares y ~ sum_c coef[c] * col_c(i) with a tiny
// ridge, by normal equations.  Returns false if the system is degenerate.
template <class S, class ColFn>
bool linear_lsq(const Points<S>& d, int ncols, ColFn col, double* coef) {
  double A[8][8] = {}, r[8] = {};
  double v[8];
  for (int i = 0; i < d.m; ++i) {
    const double w2 = double(d.w[i]) * double(d.w[i]);
    for (int c = 0; c < ncols; ++c) v[c] = col(c, i);
    for (int a = 0; a < ncols; ++a) {
      r[a] += w2 * v[a] * double(d.y[i]);
      for (int b = 0; b < ncols; ++b) A[a][b] += w2 * v[a] * v[b];
    }
  }
  double scale = 0;
  for (int a = 0; a < ncols; ++a) scale = std::max(scale, A[a][a]);
  if (!(scale > 0) || !std::isfinite(scale)) return false;
  for (int a = 0; a < ncols; ++a) A[a][a] += 1e-12 * scale;
  // Gaussian elimination with partial pivoting (ncols <= 8).
  int n = ncols;
  for (int k = 0; k < n; ++k) {
    int piv = k;
    for (int i = k + 1; i < n; ++i)
      if (std::fabs(A[i][k]) > std::fabs(A[piv][k])) piv = i;
    if (!(std::fabs(A[piv][k]) > 0)) return false;
    if (piv != k) {
      for (int j = 0; j < n; ++j) std::swap(A[k][j], A[piv][j]);
      std::swap(r[k], r[piv]);
    }
    for (int i = k + 1; i < n; ++i) {
      const double f = A[i][k] / A[k][k];
      for (int j = k; j < n; ++j) A[i][j] -= f * A[k][j];
      r[i] -= f * r[k];
    }
  }
  for (int k = n - 1; k >= 0; --k) {
    double s = r[k];
    for (int j = k + 1; j < n; ++j) s -= A[k][j] * coef[j];
    coef[k] = s / A[k][k];
  }
  for (int k = 0; k < n; ++k)
    if (!std::isfinite(coef[k])) return false;
  return true;
}

template <class S>
double min_y(const Points<S>& d) {
  double v = HUGE_VAL;
  for (int i = 0; i < d.m; ++i) v = std::min(v, double(d.y[i]));
  return v;
}
template <class S>
double max_y(const Points<S>& d) {
  double v = -HUGE_VAL;
  for (int i = 0; i < d.m; ++i) v = std::max(v, double(d.y[i]));
  return v;
}
template <class S>
double mean_of(const S* a, int m) {
  double s = 0;
  for (int i = 0; i < m; ++i) s += double(a[i]);
  return m > 0 ? s / m : 0.0;
}
template <class S>
double min_of(const S* a, int m) {
  double v = HUGE_VAL;
  for (int i = 0; i < m; ++i) v = std::min(v, double(a[i]));
  return v;
}
template <class S>
double max_of(const S* a, int m) {
  double v = -HUGE_VAL;
  for (int i = 0; i < m; ++i) v = std::max(v, double(a[i]));
  return v;
}

// An offset below the data so that y - E > 0: 0 when min(y) <= 0, else
// `frac` of the smallest value.
template <class S>
double floor_offset(const Points<S>& d, double frac) {
  const double lo = min_y(d);
  return lo > 0 ? frac * lo : 0.0;
}

// Fit log(y - E) = c - alpha * u0 by least squares; returns false when no
// point has y > E.
template <class S>
bool loglinear_power(const Points<S>& d, int k, double E, double* logA, double* alpha) {
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int i = 0; i < d.m; ++i) {
    const double t = double(d.y[i]) - E;
    if (!(t > 0)) continue;
    const double x = double(d.u[k][i]), y = std::log(t);
    sw += 1;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  if (sw < 2) return false;
  const double den = sw * sxx - sx * sx;
  if (!(std::fabs(den) > 1e-300)) return false;
  const double slope = (sw * sxy - sx * sy) / den;
  *alpha = -slope;
  *logA = (sy - slope * sx) / sw;
  return std::isfinite(*alpha) && std::isfinite(*logA);
}

}  // namespace guess
}  // namespace fit
}  // namespace sc
