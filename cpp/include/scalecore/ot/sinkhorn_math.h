// Per-problem Sinkhorn update math shared by the CPU drivers and the CUDA
// kernels (SC_HD: compiled for host and device; tested on the CPU).
//
// Notation.  P_ij = exp((f_i + g_j - C_ij) / eps).  The row update of the
// (unbalanced) log-domain Sinkhorn iteration (Chizat et al. 2018, Alg. 1 in
// log form; Peyre & Cuturi 2019, Remark 4.23) is
//
//   f_i <- lam * eps * (log a_i - L_i) + (1 - lam) * eps * r_i,
//   L_i  = log sum_j exp((g_j - C_ij) / eps),      lam = rho / (rho + eps),
//
// with lam = 1 for a hard marginal (rho = inf) and r_i the log of the row
// factor of the reference measure (log a_i for KL(P | a b^T), 0 for
// KL(P | 1)).  For lam = 1 this is the balanced update of POT's sinkhorn_log.
#pragma once
#include <math.h>

#include "scalecore/common/hd.h"

SC_FAMILY_NS_BEGIN(ot)

// lam = rho / (rho + eps), 1 for rho = inf.
SC_HD double sinkhorn_lambda(double rho, double eps) {
  return isinf(rho) ? 1.0 : rho / (rho + eps);
}

// The row (or column) update above from L = mx + log(sum) (the log-sum-exp
// split into its maximum and the sum of exp(s - mx)).
SC_HD double sinkhorn_potential(double log_a, double mx, double sum, double eps, double lam,
                                double anchor) {
  const double L = mx + log(sum);
  return lam * eps * (log_a - L) + (1.0 - lam) * eps * anchor;
}

// Online log-sum-exp: merges (m2, s2) into (m1, s1), where a pair stands for
// m + log(s).  An empty pair is (-inf, 0).
SC_HD void lse_merge(double& m1, double& s1, double m2, double s2) {
  if (s2 <= 0.0) return;
  if (s1 <= 0.0) {
    m1 = m2;
    s1 = s2;
    return;
  }
  if (m2 > m1) {
    s1 = s1 * exp(m1 - m2) + s2;
    m1 = m2;
  } else {
    s1 = s1 + s2 * exp(m2 - m1);
  }
}

// The scaling of the stabilised iteration (Schmitzer 2019, Alg. 2): with the
// kernel K_ij = exp((f_i + g_j - C_ij)/eps) built from the absorbed
// potentials f, g, the update of f is f + eps * log u with
//   log u = lam * (log a - log (K v)_i) + (lam - 1) * (f_i / eps - r_i)
// (the second term is 0 for balanced problems).  `h` is the precomputed
// (lam - 1) * (f_i / eps - r_i).
SC_HD double sinkhorn_log_scaling(double log_a, double kv, double lam, double h) {
  return lam * (log_a - log(kv)) + h;
}

// The over-relaxed factor of OtKernels::scale_update: t^w for the plain
// update's ratio t = a / (k u), as E(w L(t - 1)) with L, E the degree-6
// Taylor polynomials of log1p and exp (Horner) when |t - 1| <= 1/4 -- exact
// at t = 1, so the iteration's fixed point is the plain update's -- and
// exp(w log t) beyond (Thibault et al. 2017, in multiplicative form).
SC_HD double sor_power(double t, double w) {
  const double d = t - 1.0;
  if (!(fabs(d) <= 0.25)) return exp(w * log(t));
  double L = -1.0 / 6;
  L = L * d + 1.0 / 5;
  L = L * d - 1.0 / 4;
  L = L * d + 1.0 / 3;
  L = L * d - 1.0 / 2;
  L = L * d + 1.0;
  L = L * d;
  const double y = w * L;
  double E = 1.0 / 720;
  E = E * y + 1.0 / 120;
  E = E * y + 1.0 / 24;
  E = E * y + 1.0 / 6;
  E = E * y + 1.0 / 2;
  E = E * y + 1.0;
  return E * y + 1.0;
}

// Generalised KL(x | y) = x log(x / y) - x + y for one entry (0 log 0 = 0).
SC_HD double kl_term(double x, double y) {
  if (x <= 0.0) return y;
  return x * log(x / y) - x + y;
}

SC_FAMILY_NS_END
