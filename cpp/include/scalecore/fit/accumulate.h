// Per-point accumulation of the LM normal equations, shared by every path.
//
// For one point with model value f and model Jacobian row Jf:
//   linear residual  r = w (f - y),          dr/dp = w Jf
//   log residual     r = w (log f - log y),  dr/dp = w Jf / f
// (w = 1/sigma; y is stored as log y for log residuals), then the robust
// scaling of robust.h, then
//   cost += c^2 rho(z)   (halved once at the end),
//   A += J_s J_s^T,  g += J_s r_s.
// Padding points carry w = 0 and contribute exactly 0 as long as f is finite
// there, which holds because a padding point repeats a real point's features.
#pragma once
#include "scalecore/common/simd.h"
#include "scalecore/fit/lm.h"
#include "scalecore/fit/robust.h"
#include "scalecore/fit/types.h"

SC_FAMILY_NS_BEGIN(fit)

struct ResidualCfg {
  Residual residual = SC_RESIDUAL_LINEAR;
  Loss loss = SC_LOSS_LINEAR;
  double c2 = 1.0, inv_c2 = 1.0;  // f_scale^2 and its inverse
  // Also fold each point's row into the triangular factor R, Q^T r
  // (LMEval::R, qtr): More's damping takes its steps from R, as MINPACK does
  // from its QR factor, not from J^T J, whose rounding (relative to its
  // largest entries) swamps the small singular values of an ill-conditioned J.
  bool qr = false;
};

template <class T, int PC>
SC_HD void eval_zero(LMEval<T, PC>& ev, int np) {
  constexpr int NP = np_of<PC>::value;
  ev.cost = T(0.0);
  for (int a = 0; a < np; ++a) {
    ev.g[a] = T(0.0);
    ev.dj[a] = T(0.0);
    ev.qtr[a] = T(0.0);
    for (int b = 0; b <= a; ++b) ev.A[a * NP + b] = T(0.0);
    for (int b = a; b < np; ++b) ev.R[a * NP + b] = T(0.0);
  }
}

// Residual, its Jacobian row (in place: Jf becomes dr/dp scaled for the
// robust loss) and the robust-scaled residual.  Returns the point's cost
// contribution (before halving).  With a robust loss and dj given, adds the
// squares of dr/dp before the robust scaling to dj.
template <class T>
SC_HD T residual_point(const ResidualCfg& cfg, int np, T f, T* Jf, T yt, T w, T& r_scaled, T& jscale,
                       T* dj = nullptr) {
  T r, s;
  if (cfg.residual == SC_RESIDUAL_LOG) {
    r = w * (vlog(f) - yt);
    s = w / f;
  } else {
    r = w * (f - yt);
    s = w;
  }
  if (cfg.loss == SC_LOSS_LINEAR) {
    for (int k = 0; k < np; ++k) Jf[k] = Jf[k] * s;
    r_scaled = r;
    jscale = T(1.0);
    return r * r;
  }
  if (dj)
    for (int k = 0; k < np; ++k) dj[k] = dj[k] + (Jf[k] * s) * (Jf[k] * s);
  T d1, d2;
  const T z = r * r * T(cfg.inv_c2);
  const T rho = robust_rho(cfg.loss, z, d1, d2);
  const T js = vsqrt(vmax(d1 + T(2.0) * d2 * z, T(sizeof(typename scalar_of<T>::type) == 4 ? 1.1920929e-07 : 2.220446049250313e-16)));
  r_scaled = r * d1 / js;
  jscale = js;
  const T sj = s * js;
  for (int k = 0; k < np; ++k) Jf[k] = Jf[k] * sj;
  return T(cfg.c2) * rho;
}

// QR (cfg.qr, a template argument so that the loops over points are
// compiled without the branch): also folds the row into R, Q^T r.
template <bool QR, class T, int PC>
SC_HD void accumulate_point_q(LMEval<T, PC>& ev, int np, const ResidualCfg& cfg, T f, T* Jf, T yt, T w) {
  constexpr int NP = np_of<PC>::value;
  T rs, js;
  ev.cost = ev.cost + residual_point(cfg, np, f, Jf, yt, w, rs, js, ev.dj);
  for (int a = 0; a < np; ++a) {
    ev.g[a] = ev.g[a] + Jf[a] * rs;
    for (int b = 0; b <= a; ++b) ev.A[a * NP + b] = ev.A[a * NP + b] + Jf[a] * Jf[b];
  }
  if (QR) {
    T row[NP];
    for (int a = 0; a < np; ++a) row[a] = Jf[a];
    qr_add_row<NP>(ev.R, ev.qtr, np, 0, row, rs, T(1.0));
  }
}

template <class T, int PC>
SC_HD void accumulate_point(LMEval<T, PC>& ev, int np, const ResidualCfg& cfg, T f, T* Jf, T yt, T w) {
  if (cfg.qr)
    accumulate_point_q<true>(ev, np, cfg, f, Jf, yt, w);
  else
    accumulate_point_q<false>(ev, np, cfg, f, Jf, yt, w);
}

// Adds the evaluation `part` (of the same point set's other points; leading
// dimension NPP) into `out`: sums, and R merged row by row (Givens).
template <class T, int PC, int PCP>
SC_HD void eval_merge(LMEval<T, PC>& out, const LMEval<T, PCP>& part, int np, bool qr) {
  constexpr int NP = np_of<PC>::value, NPP = np_of<PCP>::value;
  out.cost = out.cost + part.cost;
  for (int a = 0; a < np; ++a) {
    out.g[a] = out.g[a] + part.g[a];
    out.dj[a] = out.dj[a] + part.dj[a];
    for (int b = 0; b <= a; ++b) out.A[a * NP + b] = out.A[a * NP + b] + part.A[a * NPP + b];
  }
  if (qr)
    for (int a = 0; a < np; ++a) {
      T row[NP];
      // Row a of part's factor: d_a^1/2 (e_a + U_a), i.e. weight d_a.
      for (int b = 0; b < np; ++b) row[b] = b < a ? T(0.0) : (b == a ? T(1.0) : part.R[a * NPP + b]);
      qr_add_row<NP>(out.R, out.qtr, np, a, row, part.qtr[a], part.R[a * NPP + a]);
    }
}

// Geodesic acceleration term at one point: with r0, J0 at p and r1 at p + h v,
//   r_vv = (2/h) ((r1 - r0)/h - J0 v);  out += J_s * (jscale r_vv).
template <class T, int PC>
SC_HD void accumulate_geodesic_point(T* out, int np, const ResidualCfg& cfg, T f0, T* J0, T f1, T yt,
                                     T w, const T* v, T h) {
  T r0, r1;
  if (cfg.residual == SC_RESIDUAL_LOG) {
    r0 = w * (vlog(f0) - yt);
    r1 = w * (vlog(f1) - yt);
  } else {
    r0 = w * (f0 - yt);
    r1 = w * (f1 - yt);
  }
  T dummy_rs, js;
  residual_point(cfg, np, f0, J0, yt, w, dummy_rs, js);  // J0 -> J_s, js
  // J_s = js * dr/dp, so J v in residual space is (J_s v) / js.
  T jv = T(0.0);
  for (int k = 0; k < np; ++k) jv = jv + J0[k] * v[k];
  const T rvv = (T(2.0) / h) * ((r1 - r0) / h - jv / js);
  for (int k = 0; k < np; ++k) out[k] = out[k] + J0[k] * (js * rvv);
}

SC_FAMILY_NS_END
