// Small dense solvers for the LM normal equations, written once for every
// element type (scalar, SIMD pack of independent systems, CUDA thread).
// Matrices are n x n, row-major with leading dimension LD; only the lower
// triangle (j <= i) is read.
#pragma once
#include "scalecore/common/simd.h"

SC_FAMILY_NS_BEGIN(fit)

// Cholesky factorisation and solve of A x = b, lane by lane.  Returns the mask
// of lanes where every pivot was positive and finite; x is garbage in the
// other lanes (they fall back to ldlt_solve).
template <int LD, class T>
SC_HD auto chol_solve(const T* A, int n, const T* b, T* x) -> decltype(T() > T()) {
  T L[LD * LD];
  T idiag[LD];
  auto ok = T(1.0) > T(0.0);
  for (int j = 0; j < n; ++j) {
    T d = A[j * LD + j];
    for (int k = 0; k < j; ++k) d = d - L[j * LD + k] * L[j * LD + k];
    const auto good = (d > T(0.0)) & isfinite_v(d);
    ok = ok & good;
    const T s = vsqrt(select(good, d, T(1.0)));
    idiag[j] = T(1.0) / s;
    for (int i = j + 1; i < n; ++i) {
      T v = A[i * LD + j];
      for (int k = 0; k < j; ++k) v = v - L[i * LD + k] * L[j * LD + k];
      L[i * LD + j] = v * idiag[j];
    }
  }
  // L y = b, then L^T x = y.
  for (int i = 0; i < n; ++i) {
    T v = b[i];
    for (int k = 0; k < i; ++k) v = v - L[i * LD + k] * x[k];
    x[i] = v * idiag[i];
  }
  for (int i = n - 1; i >= 0; --i) {
    T v = x[i];
    for (int k = i + 1; k < n; ++k) v = v - L[k * LD + i] * x[k];
    x[i] = v * idiag[i];
  }
  return ok;
}

// y = L^-1 b for a lower-triangular L (strict lower triangle read) with
// reciprocal pivots idiag: more_solve's S^T.
template <int LD, class T>
SC_HD void chol_lower(const T* L, const T* idiag, int n, const T* b, T* y) {
  for (int i = 0; i < n; ++i) {
    T v = b[i];
    for (int k = 0; k < i; ++k) v = v - L[i * LD + k] * y[k];
    y[i] = v * idiag[i];
  }
}

// LDL^T with symmetric diagonal pivoting (the largest remaining diagonal
// first), for a scalar system that Cholesky could not factor.  Pivots at or
// below n * eps * (largest diagonal) count as zero: the solve is then the
// minimum-norm-in-those-directions solution (their components are 0).
// Returns the numerical rank.
template <int LD, class S>
SC_HD int ldlt_solve(const S* A, int n, const S* b, S* x) {
  S W[LD * LD];
  int perm[LD];
  S dval[LD];
  for (int i = 0; i < n; ++i) {
    perm[i] = i;
    for (int j = 0; j <= i; ++j) W[i * LD + j] = W[j * LD + i] = A[i * LD + j];
  }
  S dmax = S(0);
  for (int i = 0; i < n; ++i) {
    const S v = W[i * LD + i] < S(0) ? -W[i * LD + i] : W[i * LD + i];
    if (v > dmax) dmax = v;
  }
  const S eps = sizeof(S) == 4 ? S(1.1920929e-07) : S(2.220446049250313e-16);
  const S tol = S(n) * eps * dmax;
  int rank = 0;
  for (int k = 0; k < n; ++k) {
    int piv = k;
    for (int i = k + 1; i < n; ++i)
      if (W[i * LD + i] > W[piv * LD + piv]) piv = i;
    if (piv != k) {
      for (int j = 0; j < n; ++j) {
        S t = W[k * LD + j]; W[k * LD + j] = W[piv * LD + j]; W[piv * LD + j] = t;
      }
      for (int i = 0; i < n; ++i) {
        S t = W[i * LD + k]; W[i * LD + k] = W[i * LD + piv]; W[i * LD + piv] = t;
      }
      int t = perm[k]; perm[k] = perm[piv]; perm[piv] = t;
    }
    const S d = W[k * LD + k];
    if (!(d > tol)) {
      for (int r = k; r < n; ++r) dval[r] = S(0);
      for (int i = k; i < n; ++i)
        for (int j = k; j < i; ++j) W[i * LD + j] = S(0);
      break;
    }
    dval[k] = d;
    ++rank;
    for (int i = k + 1; i < n; ++i) W[i * LD + k] = W[i * LD + k] / d;
    for (int i = k + 1; i < n; ++i)
      for (int j = k + 1; j <= i; ++j) {
        W[i * LD + j] = W[i * LD + j] - W[i * LD + k] * d * W[j * LD + k];
        W[j * LD + i] = W[i * LD + j];
      }
  }
  // x = P^T L^-T D^+ L^-1 P b
  S y[LD];
  for (int i = 0; i < n; ++i) {
    S v = b[perm[i]];
    for (int k = 0; k < i && k < rank; ++k) v = v - W[i * LD + k] * y[k];
    y[i] = v;
  }
  for (int i = 0; i < n; ++i) y[i] = dval[i] > S(0) ? y[i] / dval[i] : S(0);
  for (int i = n - 1; i >= 0; --i) {
    S v = y[i];
    if (dval[i] > S(0))
      for (int k = i + 1; k < rank; ++k) v = v - W[k * LD + i] * y[k];
    y[i] = v;
  }
  for (int i = 0; i < n; ++i) x[perm[i]] = y[i];
  return rank;
}

// Folds one row into a triangular least-squares factor by Givens rotations
// (MINPACK qrsolv's elimination): R (upper triangle, row-major, leading
// dimension LD) and z = Q^T b become the factor of [R; row] and the matching
// [z; rhs].  `row` is overwritten; its entries before k0 must be zero.  Each
// rotation: h = sqrt(R_kk^2 + row_k^2), c = R_kk / h, s = row_k / h, the
// identity where h = 0.  R's diagonal stays >= 0.
template <int LD, class T>
SC_HD void givens_add_row(T* R, T* z, int n, int k0, T* row, T rhs) {
  for (int k = k0; k < n; ++k) {
    const T a = R[k * LD + k], b = row[k];
    const T h = vsqrt(a * a + b * b);
    const auto nz = h > T(0.0);
    const T hi = T(1.0) / select(nz, h, T(1.0));
    const T c = select(nz, a * hi, T(1.0)), s = select(nz, b * hi, T(0.0));
    R[k * LD + k] = h;
    for (int j = k + 1; j < n; ++j) {
      const T r = R[k * LD + j], w = row[j];
      R[k * LD + j] = c * r + s * w;
      row[j] = c * w - s * r;
    }
    const T zr = z[k];
    z[k] = c * zr + s * rhs;
    rhs = c * rhs - s * zr;
  }
}

// The same fold without square roots (Gentleman 1973): the factor is kept as
// R = diag(d)^1/2 U with U unit upper triangular, Q^T b = diag(d)^1/2 z.  F
// holds d on its diagonal and U above it (row-major, leading dimension LD);
// the row enters with weight `wt` (its square-root-free scale: the row
// sqrt(wt) row).  One division per column, no square root: this runs once per
// point and parameter while a fit evaluates.  Entries of `row` before k0 must
// be zero; `row` is overwritten.  A zero row is the identity exactly.
template <int LD, class T>
SC_HD void qr_add_row(T* F, T* z, int n, int k0, T* row, T rhs, T wt) {
  for (int k = k0; k < n; ++k) {
    const T xk = row[k], dk = F[k * LD + k];
    const T dn = dk + wt * xk * xk;
    const auto nz = dn > T(0.0);
    const T inv = T(1.0) / select(nz, dn, T(1.0));
    const T c = select(nz, dk * inv, T(1.0)), s = select(nz, wt * xk * inv, T(0.0));
    wt = wt * c;
    F[k * LD + k] = dn;
    for (int j = k + 1; j < n; ++j) {
      const T u = F[k * LD + j], x = row[j];
      F[k * LD + j] = c * u + s * x;
      row[j] = x - xk * u;
    }
    const T zk = z[k];
    z[k] = c * zk + s * rhs;
    rhs = rhs - xk * zk;
  }
}

SC_FAMILY_NS_END
