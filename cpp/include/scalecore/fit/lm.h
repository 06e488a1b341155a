// The Levenberg-Marquardt step machine, written once for every element type:
// T = a scalar (one fit: generic CPU, CUDA, and the CPU "points" mode whose
// evaluation is SIMD over points) or a SIMD pack (the CPU "fits" mode, one
// independent fit per lane).  Nothing here allocates.
//
// Conventions.  r = residuals (weighted, robust-scaled), J = dr/dp,
// cost = sum_i (c^2/2) rho(r_i^2/c^2)  (= 0.5 |r|^2 for the linear loss),
// A = J^T J, g = J^T r (the gradient of the cost).
//
// One iteration (a "trial"):
//  1. Active set: parameter k is held when it sits on a bound and -g points
//     out of the box (p_k <= lo_k and g_k > 0, or p_k >= hi_k and g_k < 0).
//  2. Damped step (Marquardt scaling, Nielsen damping):
//       (A + mu diag(D)) v = -g     over the free parameters,
//     D_k = running max of A_kk (MINPACK's column-norm scaling, squared).
//     Cholesky; lanes where it fails use the pivoted LDL^T (linalg.h).
//  3. Optional geodesic acceleration (Transtrum & Sethna 2012): with
//     r_vv = (2/h) ((r(p + h v) - r(p)) / h - J v), a = -(A + mu D)^-1 J^T r_vv,
//     the step is v + a/2 when 2 |a|_D / |v|_D <= alpha, else it is rejected.
//  4. Projection onto the box: s = clip(p + step, lo, hi) - p.  The method is
//     a projected LM with an active set (Kanzow, Yamashita & Fukushima 2004).
//  5. Gain ratio rho = (cost - cost(p + s)) / pred, pred = -(g^T s + s^T A s/2).
//     Accept when the trial is finite and rho > 0; then
//     mu *= max(1/3, 1 - (2 rho - 1)^3), nu = 2; otherwise mu *= nu, nu *= 2
//     (Nielsen 1999).
//  With damping="more" (More 1978, MINPACK lmder) steps 2 and 5 use a
//  trust region instead, solved from the triangular factor R of J that the
//  evaluation folds each point into (LMEval::R, accumulate.h), as MINPACK
//  does from its QR factor: see more_solve and lm_update_more.
//  6. Tests, in order (MINPACK's meanings, see types.h Status).
#pragma once
#include "scalecore/common/simd.h"
#include "scalecore/fit/linalg.h"
#include "scalecore/fit/types.h"

SC_FAMILY_NS_BEGIN(fit)

template <int PC>
struct np_of {
  static constexpr int value = PC > 0 ? PC : kMaxParams;
};

// What one evaluation at a parameter vector returns.
template <class T, int PC>
struct LMEval {
  static constexpr int NP = np_of<PC>::value;
  T cost;        // 0.5 * sum of robust costs
  T A[NP * NP];  // J^T J, lower triangle valid
  T g[NP];       // J^T r
  T dj[NP];      // robust losses only: diag of J^T J before the robust scaling
  // More's damping only (ResidualCfg::qr): the triangular factor of J,
  // square-root free (linalg.h qr_add_row): J = Q diag(d)^1/2 U, U unit upper;
  // R holds d on its diagonal and U above it (row-major), qtr = z with
  // Q^T r = diag(d)^1/2 z.  So A = U^T diag(d) U and g = U^T diag(d) z.
  T R[NP * NP];
  T qtr[NP];
};

template <class T, int PC>
struct LMState {
  static constexpr int NP = np_of<PC>::value;
  T p[NP];    // accepted point
  T pt[NP];   // trial point (what the next evaluation is asked for)
  T lo[NP], hi[NP];
  T cost;
  T A[NP * NP];
  T g[NP];
  T D[NP];
  T mu, nu;
  T pred;           // predicted reduction of the trial step
  T snorm, xnorm;   // |sqrt(D) s|, |sqrt(D) p|
  T nonfinite_run;  // consecutive non-finite trials
  T nonfinite_recent;  // > 0 when one of the last 3 trials was non-finite
  T sgn[NP];        // +-1: this parameter must keep the sign of its start (0: free)
  // More's trust region (SC_DAMPING_MORE): mu is its Levenberg-Marquardt
  // parameter "par", delta the radius of |D^1/2 s|, first = 1 until the
  // first step has been tried; gs = g^T s of the trial.
  T delta, first, gs;
  T R[NP * NP];  // More: the accepted point's LMEval::R and qtr
  T qtr[NP];
};

// Tolerances effectively used: never below a few ulps of the dtype.
struct LMTols {
  double xtol, ftol, gtol;
  bool running_max;  // Marquardt scaling: running max of diag(J^T J), else current
  // Robust losses: the scaling comes from the residual Jacobian before the
  // robust weighting (LMEval::dj).  Marquardt's D describes the parameters'
  // units; the robust weights switch points between regimes and would make D
  // jump by orders of magnitude (all-outlier starts give J_s ~ sqrt(eps) J).
  bool robust;
  bool more;      // More's trust-region damping (MINPACK lmder) instead of Nielsen's
  double factor;  // its initial radius factor
};
template <class S>
SC_HD LMTols effective_tols(const Options& o) {
  const double xtol = o.xtol, ftol = o.ftol, gtol = o.gtol;
  const double e = sizeof(S) == 4 ? 4.0 * 1.1920929e-07 : 4.0 * 2.220446049250313e-16;
  LMTols t;
  t.xtol = xtol > e ? xtol : (xtol > 0 ? e : 0.0);
  t.ftol = ftol > e ? ftol : (ftol > 0 ? e : 0.0);
  t.gtol = gtol > e ? gtol : (gtol > 0 ? e : 0.0);
  t.running_max = o.scaling == SC_SCALING_RUNNING_MAX;
  t.robust = o.loss != SC_LOSS_LINEAR;
  t.more = o.damping == SC_DAMPING_MORE;
  t.factor = o.factor;
  return t;
}

// Mask of finite evaluations (cost, gradient and the diagonal of J^T J: a
// non-finite Jacobian entry shows on the diagonal).
template <class T, int PC>
SC_HD auto eval_finite(const LMEval<T, PC>& ev, int np) -> decltype(T() > T()) {
  constexpr int NP = np_of<PC>::value;
  auto ok = isfinite_v(ev.cost);
  for (int k = 0; k < np; ++k) ok = ok & isfinite_v(ev.g[k]) & isfinite_v(ev.A[k * NP + k]);
  return ok;
}

template <class T, int PC>
SC_HD auto active_set(const LMState<T, PC>& st, int k) -> decltype(T() > T()) {
  return ((st.p[k] <= st.lo[k]) & (st.g[k] > T(0.0))) | ((st.p[k] >= st.hi[k]) & (st.g[k] < T(0.0)));
}

// Adopts an evaluation as the accepted point's (where `take` is set).
template <class T, int PC, class M>
SC_HD void lm_take(LMState<T, PC>& st, const LMEval<T, PC>& ev, int np, M take, const LMTols& tol) {
  constexpr int NP = np_of<PC>::value;
  st.cost = select(take, ev.cost, st.cost);
  for (int a = 0; a < np; ++a) {
    st.g[a] = select(take, ev.g[a], st.g[a]);
    for (int b = 0; b <= a; ++b) st.A[a * NP + b] = select(take, ev.A[a * NP + b], st.A[a * NP + b]);
    const T d = tol.robust ? ev.dj[a] : ev.A[a * NP + a];
    st.D[a] = select(take, tol.running_max ? vmax(st.D[a], d) : d, st.D[a]);
  }
  if (tol.more)
    for (int a = 0; a < np && a < NP; ++a) {  // (a < NP: tells GCC the bound)
      st.qtr[a] = select(take, ev.qtr[a], st.qtr[a]);
      for (int b = a; b < np; ++b) st.R[a * NP + b] = select(take, ev.R[a * NP + b], st.R[a * NP + b]);
    }
}

// Starts lanes in `init` from the evaluation at st.pt (which becomes st.p).
template <class T, int PC, class M>
SC_HD void lm_start(LMState<T, PC>& st, const LMEval<T, PC>& ev, int np, M init, double damping_init,
                    const LMTols& tol) {
  for (int k = 0; k < np; ++k) {
    st.p[k] = select(init, st.pt[k], st.p[k]);
    st.D[k] = select(init, T(0.0), st.D[k]);
  }
  lm_take(st, ev, np, init, tol);
  st.mu = select(init, T(tol.more ? 0.0 : damping_init), st.mu);
  st.nu = select(init, T(2.0), st.nu);
  if (tol.more) {
    // MINPACK: delta = factor |diag x0|, or factor itself when that is 0.
    T xn = T(0.0);
    for (int k = 0; k < np; ++k) xn = xn + select(st.D[k] > T(0.0), st.D[k], T(1.0)) * st.p[k] * st.p[k];
    xn = vsqrt(xn);
    const T d0 = T(tol.factor) * xn;
    st.delta = select(init, select(d0 > T(0.0), d0, T(tol.factor)), st.delta);
    st.first = select(init, T(1.0), st.first);
  }
  st.nonfinite_run = select(init, T(0.0), st.nonfinite_run);
  st.nonfinite_recent = select(init, T(0.0), st.nonfinite_recent);
}

// gtol test at the accepted point: max over free k with A_kk > 0 of
// |g_k| / (sqrt(A_kk) sqrt(2 cost)) <= gtol;  true when cost == 0.
template <class T, int PC>
SC_HD auto lm_gtol(const LMState<T, PC>& st, int np, double gtol) -> decltype(T() > T()) {
  constexpr int NP = np_of<PC>::value;
  T gmax = T(0.0);
  for (int k = 0; k < np; ++k) {
    const T akk = st.A[k * NP + k];
    const auto use = (akk > T(0.0)) & !active_set(st, k);
    const T c = vabs(st.g[k]) / vsqrt(select(use, akk, T(1.0)));
    gmax = select(use, vmax(gmax, c), gmax);
  }
  const T fn = vsqrt(T(2.0) * st.cost);
  return (st.cost <= T(0.0)) | (gmax <= T(gtol) * fn);
}

// Builds the damped system over the free parameters (active ones get an
// identity row and a zero right-hand side) and solves it.
template <class T, int PC, class Mk>
SC_HD void lm_solve_damped(const LMState<T, PC>& st, int np, const T* rhs, T* x, Mk live) {
  constexpr int NP = np_of<PC>::value;
  using S = typename scalar_of<T>::type;
  T M[NP * NP];
  T b[NP];
  decltype(T() > T()) act[NP];
  for (int k = 0; k < np; ++k) act[k] = active_set(st, k);
  for (int a = 0; a < np; ++a) {
    b[a] = select(act[a], T(0.0), rhs[a]);
    for (int c = 0; c < a; ++c) M[a * NP + c] = select(act[a] | act[c], T(0.0), st.A[a * NP + c]);
    M[a * NP + a] = select(act[a], T(1.0), st.A[a * NP + a] + st.mu * st.D[a]);
  }
  const auto ok = chol_solve<NP>(M, np, b, x);
  if (!all_of(ok | !live)) {
    const unsigned bits = mask_bits(ok | !live);
    constexpr int W = lanes_of<T>::value;
    for (int l = 0; l < W; ++l) {
      if (bits & (1u << l)) continue;
      S Ms[NP * NP], bs[NP], xs[NP];
      for (int a = 0; a < np; ++a) {
        bs[a] = lane(b[a], l);
        for (int c = 0; c <= a; ++c) Ms[a * NP + c] = lane(M[a * NP + c], l);
      }
      ldlt_solve<NP>(Ms, np, bs, xs);
      for (int a = 0; a < np; ++a) set_lane(x[a], l, xs[a]);
    }
  }
}

// Steps 1-2 (and the projection of step 4) for a plain step v: fills st.pt,
// st.pred, st.snorm, st.xnorm.  `v` receives the unprojected step.
template <class T, int PC, class M>
SC_HD void lm_velocity_more(LMState<T, PC>& st, int np, T* v, M live);

template <class T, int PC, class M>
SC_HD void lm_velocity(LMState<T, PC>& st, int np, T* v, M live, const LMTols& tol) {
  if (tol.more) {
    lm_velocity_more(st, np, v, live);
    return;
  }
  constexpr int NP = np_of<PC>::value;
  T rhs[NP];
  for (int k = 0; k < np; ++k) rhs[k] = -st.g[k];
  lm_solve_damped(st, np, rhs, v, live);
}

// Solves min |J x + r|^2 + par |D^1/2 x|^2 over the free parameters (active
// ones: x = 0) from the triangular factor R = diag(d)^1/2 U, Q^T r of the
// accepted point (LMEval::R), as
// MINPACK's qrsolv does: in the scaled variables z = D^1/2 x the system is
// [R D^-1/2; sqrt(par) I] z ~ -[Q^T r; 0]; Givens rotations fold the rows
// sqrt(par) e_k into S (upper, S^T S = D^-1/2 A D^-1/2 + par I), then
// S z = -z'.  Working from R rather than from J^T J keeps the accuracy of the
// small singular values: cond(S) is cond(J), not its square.  An active
// parameter's column is zeroed and its added row is e_k, so z_k = 0.  Where
// S_kk = 0 (a rank-deficient J at par = 0) z_k = 0 and the lane's mask bit is
// false.  L (strict lower) and idg receive S^T and 1/diag(S) for more_dphi.
// D_k = 0 (a zero Jacobian column) counts as 1, as MINPACK's diag does.
template <class T, int PC>
SC_HD auto more_solve(const LMState<T, PC>& st, int np, const T* dk, T par, T* x, T* L, T* idg)
    -> decltype(T() > T()) {
  constexpr int NP = np_of<PC>::value;
  T S[NP * NP], z[NP], id[NP], row[NP];
  decltype(T() > T()) act[NP];
  for (int k = 0; k < np; ++k) {
    act[k] = active_set(st, k);
    id[k] = T(1.0) / dk[k];
  }
  for (int a = 0; a < np && a < NP; ++a) {  // R = diag(d)^1/2 U
    const T sd = vsqrt(st.R[a * NP + a]);
    z[a] = sd * st.qtr[a];
    S[a * NP + a] = select(act[a], T(0.0), sd * id[a]);
    for (int b = a + 1; b < np; ++b) S[a * NP + b] = select(act[b], T(0.0), sd * st.R[a * NP + b] * id[b]);
  }
  const T sp = vsqrt(par);
  for (int k = 0; k < np; ++k) {
    for (int j = 0; j < np; ++j) row[j] = T(0.0);
    row[k] = select(act[k], T(1.0), sp);
    givens_add_row<NP>(S, z, np, k, row, T(0.0));
  }
  auto ok = T(1.0) > T(0.0);
  T w[NP];
  for (int i = np - 1; i >= 0; --i) {
    T v = -z[i];
    for (int j = i + 1; j < np; ++j) v = v - S[i * NP + j] * w[j];
    const T d = S[i * NP + i];
    const auto nz = (d > T(0.0)) & isfinite_v(d);
    ok = ok & nz;
    const T inv = T(1.0) / select(nz, d, T(1.0));
    idg[i] = select(nz, inv, T(0.0));
    w[i] = select(nz, v * inv, T(0.0));
    for (int j = i + 1; j < np; ++j) L[j * NP + i] = S[i * NP + j];
  }
  for (int k = 0; k < np; ++k) x[k] = w[k] * id[k];
  return ok;
}

// |L^-1 (D x / |D^1/2 x|)|^2 for the unscaled factor L = D^1/2 Ls: the
// derivative term of MINPACK's lmpar Newton correction (phi'(par) =
// -|D^1/2 x| times this); with the scaled factor Ls = S^T of more_solve it
// is |Ls^-1 (D^1/2 x / |D^1/2 x|)|^2.
template <class T, int PC>
SC_HD T more_dphi(const T* L, const T* idg, int np, const T* dk, const T* x, T dxn) {
  constexpr int NP = np_of<PC>::value;
  T w[NP], y[NP];
  const T inv = T(1.0) / select(dxn > T(0.0), dxn, T(1.0));
  for (int k = 0; k < np; ++k) w[k] = dk[k] * x[k] * inv;
  chol_lower<NP>(L, idg, np, w, y);
  T t = T(0.0);
  for (int k = 0; k < np; ++k) t = t + y[k] * y[k];
  return t;
}

// More's step (MINPACK lmpar, from the triangular factor): the Gauss-Newton step
// when |D^1/2 x| <= 1.1 delta; otherwise par > 0 with |D^1/2 x(par)| within
// 10% of delta, by at most 10 safeguarded Newton iterations on
// phi(par) = |D^1/2 x(par)| - delta between the bounds parl and paru.
template <class T, int PC, class M>
SC_HD void lm_velocity_more(LMState<T, PC>& st, int np, T* v, M live) {
  constexpr int NP = np_of<PC>::value;
  using S = typename scalar_of<T>::type;
  const S dwarf = sizeof(S) == 4 ? S(1.17549435e-38) : S(2.2250738585072014e-308);
  T dk2[NP], dk[NP], L[NP * NP], idg[NP];
  for (int k = 0; k < np; ++k) {
    dk2[k] = select(st.D[k] > T(0.0), st.D[k], T(1.0));
    dk[k] = vsqrt(dk2[k]);
  }
  const T delta = st.delta;
  auto dnorm = [&](const T* x) {
    T a = T(0.0);
    for (int k = 0; k < np; ++k) a = a + dk2[k] * x[k] * x[k];
    return vsqrt(a);
  };
  // Gauss-Newton step.
  const auto full = more_solve(st, np, dk, T(0.0), v, L, idg);
  T dxn = dnorm(v);
  T fp = dxn - delta;
  auto going = live & !(fp <= T(0.1) * delta);
  T par = select(going, st.mu, T(0.0));
  if (any_of(going)) {
    // Lower bound from the Newton step at par = 0 (only with full rank).
    const T t0 = more_dphi<T, PC>(L, idg, np, dk, v, dxn);
    T parl = select(full & (t0 > T(0.0)), (fp / delta) / select(t0 > T(0.0), t0, T(1.0)), T(0.0));
    parl = select(isfinite_v(parl), parl, T(0.0));
    // Upper bound |D^-1/2 g| / delta over the free parameters.
    T gn = T(0.0);
    for (int k = 0; k < np; ++k) {
      const T gk = select(active_set(st, k), T(0.0), st.g[k]);
      gn = gn + gk * gk / dk2[k];
    }
    gn = vsqrt(gn);
    T paru = gn / delta;
    paru = select(paru == T(0.0), T(dwarf) / vmin(delta, T(0.1)), paru);
    par = vmin(vmax(par, parl), paru);
    par = select(par == T(0.0), gn / select(dxn > T(0.0), dxn, T(1.0)), par);
    T x[NP];
    for (int it = 1; it <= 10 && any_of(going); ++it) {
      par = select(going & (par == T(0.0)), vmax(T(dwarf), T(0.001) * paru), par);
      const auto ok = more_solve(st, np, dk, par, x, L, idg);
      dxn = dnorm(x);
      const T fprev = fp;
      fp = select(going, dxn - delta, fp);
      for (int k = 0; k < np; ++k) v[k] = select(going, x[k], v[k]);
      const auto stop = (vabs(fp) <= T(0.1) * delta) | ((parl == T(0.0)) & (fp <= fprev) & (fprev < T(0.0))) |
                        (T(double(it)) >= T(10.0));
      const auto more = going & !stop;
      const T t = more_dphi<T, PC>(L, idg, np, dk, x, dxn);
      T parc = (fp / delta) / select(t > T(0.0), t, T(1.0));
      parl = select(more & (fp > T(0.0)), vmax(parl, par), parl);
      paru = select(more & (fp < T(0.0)), vmin(paru, par), paru);
      const T next = select(ok & isfinite_v(parc), vmax(parl, par + parc), T(10.0) * par);
      par = select(more, next, par);
      going = more;
    }
  }
  st.mu = select(live, par, st.mu);
}

// With `qr` (More's damping) the predicted reduction comes from the factor:
// pred = -(qtr^T (R s) + |R s|^2 / 2), which equals -(g^T s + s^T A s / 2)
// without the rounding of J^T J.
template <class T, int PC>
SC_HD void lm_set_trial(LMState<T, PC>& st, int np, const T* step, bool qr = false) {
  constexpr int NP = np_of<PC>::value;
  T s[NP];
  T sn = T(0.0), xn = T(0.0), gs = T(0.0);
  for (int k = 0; k < np; ++k) {
    const T q = vmin(vmax(st.p[k] + step[k], st.lo[k]), st.hi[k]);
    st.pt[k] = q;
    s[k] = q - st.p[k];
    const T dk = st.D[k];
    sn = sn + dk * s[k] * s[k];
    xn = xn + dk * st.p[k] * st.p[k];
    gs = gs + st.g[k] * s[k];
  }
  T sAs = T(0.0);
  for (int a = 0; a < np; ++a) {
    T row = T(0.0);
    for (int c = 0; c < np; ++c) row = row + (c <= a ? st.A[a * NP + c] : st.A[c * NP + a]) * s[c];
    sAs = sAs + s[a] * row;
  }
  st.pred = -(gs + T(0.5) * sAs);
  if (qr) {
    T rq = T(0.0), rr = T(0.0);
    for (int a = 0; a < np; ++a) {
      T v = s[a];  // (U s)_a; R s = diag(d)^1/2 U s
      for (int b = a + 1; b < np; ++b) v = v + st.R[a * NP + b] * s[b];
      const T dv = st.R[a * NP + a] * v;
      rq = rq + st.qtr[a] * dv;
      rr = rr + v * dv;
    }
    st.pred = -(rq + T(0.5) * rr);
  }
  st.gs = gs;
  st.snorm = vsqrt(sn);
  st.xnorm = vsqrt(xn);
}

// Geodesic acceleration check: given the velocity v and a = the solution of
// the damped system for -J^T r_vv, returns the mask where the acceleration is
// accepted (2 |a|_D <= alpha |v|_D) and writes step = v + a/2 there, v elsewhere.
template <class T, int PC>
SC_HD auto lm_geodesic_step(const LMState<T, PC>& st, int np, const T* v, const T* a, double alpha,
                            T* step) -> decltype(T() > T()) {
  T vn = T(0.0), an = T(0.0);
  for (int k = 0; k < np; ++k) {
    vn = vn + st.D[k] * v[k] * v[k];
    an = an + st.D[k] * a[k] * a[k];
  }
  const auto ok = (T(2.0) * vsqrt(an) <= T(alpha) * vsqrt(vn)) & isfinite_v(an);
  for (int k = 0; k < np; ++k) step[k] = select(ok, v[k] + T(0.5) * a[k], v[k]);
  return ok;
}

// Step 5 and 6 for an evaluation at st.pt.  `live` masks lanes that are
// iterating; `force_reject` (geodesic acceleration refused) rejects the trial.
// Returns a status code per lane as T (0 = keep iterating).
template <class T, int PC, class M>
SC_HD T lm_update_more(LMState<T, PC>& st, const LMEval<T, PC>& ev, int np, const LMTols& tol, M live);

template <class T, int PC, class M>
SC_HD T lm_update(LMState<T, PC>& st, const LMEval<T, PC>& ev, int np, const LMTols& tol, M live,
                  M force_reject) {
  if (tol.more) return lm_update_more(st, ev, np, tol, live);
  const auto fin = eval_finite(ev, np);
  const T actred = st.cost - ev.cost;
  const auto pos = st.pred > T(0.0);
  const T ratio = select(pos, actred / select(pos, st.pred, T(1.0)),
                         select(actred > T(0.0), T(1e-3), T(-1.0)));
  const auto accept = live & fin & (ratio > T(0.0)) & !force_reject;
  const auto reject = live & !accept;

  // ftol and xtol look at this trial whether it was accepted or not.
  const T cost0 = st.cost;
  const auto ftol_hit = fin & !force_reject & (vabs(actred) <= T(tol.ftol) * cost0) &
                        (st.pred <= T(tol.ftol) * cost0) & (ratio <= T(2.0));
  const auto xtol_hit = st.snorm <= T(tol.xtol) * (st.xnorm + T(tol.xtol));

  // Damping.
  const T t = T(2.0) * ratio - T(1.0);
  const T shrink = vmax(T(1.0 / 3.0), T(1.0) - t * t * t);
  st.mu = select(accept, st.mu * shrink, select(reject, vmin(st.mu * st.nu, T(1e300)), st.mu));
  st.nu = select(accept, T(2.0), select(reject, vmin(st.nu * T(2.0), T(1e300)), st.nu));
  st.nonfinite_run = select(live & !fin & !force_reject, st.nonfinite_run + T(1.0),
                            select(live & fin, T(0.0), st.nonfinite_run));
  st.nonfinite_recent = select(live & !fin & !force_reject, T(3.0),
                               select(live, vmax(st.nonfinite_recent - T(1.0), T(0.0)), st.nonfinite_recent));

  for (int k = 0; k < np; ++k) st.p[k] = select(accept, st.pt[k], st.p[k]);
  lm_take(st, ev, np, accept, tol);

  const auto gtol_hit = lm_gtol(st, np, tol.gtol) & accept;
  auto flip = T(1.0) < T(0.0);
  for (int k = 0; k < np; ++k) flip = flip | (st.sgn[k] * st.p[k] < T(0.0));
  T code = T(0.0);
  code = select(live & (st.nonfinite_run >= T(16.0)), T(double(SC_STATUS_NON_FINITE)), code);
  // A step that shrank below xtol while the last trials met non-finite
  // values means the fit is blocked by them, not converged.
  code = select(live & xtol_hit,
                select(st.nonfinite_recent > T(0.0), T(double(SC_STATUS_NON_FINITE)), T(double(SC_STATUS_XTOL))), code);
  code = select(live & ftol_hit, T(double(SC_STATUS_FTOL)), code);
  code = select(gtol_hit, T(double(SC_STATUS_GTOL)), code);
  code = select(accept & flip, T(double(SC_STATUS_RETRY)), code);
  return code;
}

// Step 5 and 6 under More's trust region (MINPACK lmder): the radius and par
// follow the gain ratio (shrunk by MINPACK's quadratic-interpolation factor
// in [0.1, 0.5] when ratio <= 1/4, doubled as 2|D^1/2 s| when ratio >= 3/4
// or par = 0), the step is accepted when ratio >= 1e-4, and xtol compares
// delta with |D^1/2 p|.
template <class T, int PC, class M>
SC_HD T lm_update_more(LMState<T, PC>& st, const LMEval<T, PC>& ev, int np, const LMTols& tol, M live) {
  const auto fin = eval_finite(ev, np);
  const T cost0 = st.cost;
  const T c0 = select(cost0 > T(0.0), cost0, T(1.0));
  const T pnorm = st.snorm;
  // The first trial also bounds the radius by its own length.
  st.delta = select(live & (st.first > T(0.0)), vmin(st.delta, pnorm), st.delta);
  st.first = select(live, T(0.0), st.first);
  // Relative reductions, as MINPACK's 1 - (fnorm1/fnorm)^2 (-1 when
  // fnorm1 >= 10 fnorm or non-finite), prered, and dirder = g^T s / fnorm^2
  // (fnorm^2 = 2 cost).
  const auto big = !(fin & (ev.cost < T(100.0) * cost0));
  const T actred = select(big, T(-1.0), (cost0 - ev.cost) / c0);
  const T prered = st.pred / c0;
  const T dirder = T(0.5) * st.gs / c0;
  const T ratio = select(prered != T(0.0), actred / select(prered != T(0.0), prered, T(1.0)), T(0.0));
  const T par = st.mu;
  T temp = select(actred >= T(0.0), T(0.5), T(0.5) * dirder / (dirder + T(0.5) * actred));
  temp = select(big | !(temp >= T(0.1)), T(0.1), temp);
  const auto low = !(ratio > T(0.25));
  const auto grow = (ratio > T(0.25)) & ((par == T(0.0)) | (ratio >= T(0.75)));
  st.delta = select(live & low, temp * vmin(st.delta, T(10.0) * pnorm),
                    select(live & grow, T(2.0) * pnorm, st.delta));
  st.mu = select(live & low, par / temp, select(live & grow, T(0.5) * par, par));
  const auto accept = live & fin & (ratio >= T(1e-4));
  st.nonfinite_run = select(live & !fin, st.nonfinite_run + T(1.0), select(live & fin, T(0.0), st.nonfinite_run));
  st.nonfinite_recent = select(live & !fin, T(3.0),
                               select(live, vmax(st.nonfinite_recent - T(1.0), T(0.0)), st.nonfinite_recent));
  for (int k = 0; k < np; ++k) st.p[k] = select(accept, st.pt[k], st.p[k]);
  lm_take(st, ev, np, accept, tol);
  T xn = T(0.0);
  for (int k = 0; k < np; ++k) xn = xn + select(st.D[k] > T(0.0), st.D[k], T(1.0)) * st.p[k] * st.p[k];
  xn = vsqrt(xn);
  st.xnorm = select(live, xn, st.xnorm);

  const auto ftol_hit = fin & (vabs(actred) <= T(tol.ftol)) & (prered <= T(tol.ftol)) & (T(0.5) * ratio <= T(1.0));
  const auto xtol_hit = st.delta <= T(tol.xtol) * xn;
  const auto gtol_hit = lm_gtol(st, np, tol.gtol) & accept;
  auto flip = T(1.0) < T(0.0);
  for (int k = 0; k < np; ++k) flip = flip | (st.sgn[k] * st.p[k] < T(0.0));
  T code = T(0.0);
  code = select(live & (st.nonfinite_run >= T(16.0)), T(double(SC_STATUS_NON_FINITE)), code);
  code = select(live & xtol_hit,
                select(st.nonfinite_recent > T(0.0), T(double(SC_STATUS_NON_FINITE)), T(double(SC_STATUS_XTOL))), code);
  code = select(live & ftol_hit, T(double(SC_STATUS_FTOL)), code);
  code = select(gtol_hit, T(double(SC_STATUS_GTOL)), code);
  code = select(accept & flip, T(double(SC_STATUS_RETRY)), code);
  return code;
}

// The outcome of one scalar fit.
struct LMOutcome {
  int status = 0;
  int n_iter = 0;
  int nfev = 0;
};

// One fit with scalar control flow, shared by the CPU (scalar and "points"
// modes) and the CUDA kernel.  `ev` evaluates the problem:
//   ev.evaluate(const S* p, LMEval<S, PC>& out)          cost, J^T J, J^T r
//   ev.geodesic(const S* p, const S* v, S h, S* out)     J^T r_vv
// p holds the start on entry (clipped into [lo, hi]) and the solution on
// return; lo/hi may be null (unbounded).
template <class S, int PC, class Ev>
SC_HD LMOutcome lm_run_scalar(Ev& ev, int np, S* p, const S* lo, const S* hi, const S* sgn, const Options& o,
                              S* cost_out) {
  constexpr int NP = np_of<PC>::value;
  const LMTols tol = effective_tols<S>(o);
  LMState<S, PC> st;
  LMEval<S, PC> e;
  LMOutcome out;
  for (int k = 0; k < np; ++k) {
    st.lo[k] = lo ? lo[k] : S(-HUGE_VAL);
    st.hi[k] = hi ? hi[k] : S(HUGE_VAL);
    st.pt[k] = vmin(vmax(p[k], st.lo[k]), st.hi[k]);
    st.p[k] = st.pt[k];
    st.sgn[k] = sgn ? sgn[k] : S(0);
  }
  ev.evaluate(st.pt, e);
  out.nfev = 1;
  if (!eval_finite(e, np)) {
    for (int k = 0; k < np; ++k) p[k] = st.pt[k];
    *cost_out = e.cost;
    out.status = SC_STATUS_NON_FINITE;
    return out;
  }
  lm_start(st, e, np, true, o.damping_init, tol);
  int status = 0;
  if (lm_gtol(st, np, tol.gtol)) status = SC_STATUS_GTOL;
  while (status == 0) {
    if (out.n_iter >= o.max_iter) {
      status = SC_STATUS_MAX_ITER;
      break;
    }
    S v[NP];
    lm_velocity(st, np, v, true, tol);
    bool refuse = false;
    if (o.geodesic) {
      S gv[NP], rhs[NP], a[NP], step[NP];
      ev.geodesic(st.p, v, S(o.geodesic_h), gv);
      ++out.nfev;
      for (int k = 0; k < np; ++k) rhs[k] = -gv[k];
      lm_solve_damped(st, np, rhs, a, true);
      refuse = !lm_geodesic_step(st, np, v, a, o.geodesic_alpha, step);
      lm_set_trial(st, np, step, tol.more);
    } else {
      lm_set_trial(st, np, v, tol.more);
    }
    if (!refuse) {
      ev.evaluate(st.pt, e);
      ++out.nfev;
    }
    ++out.n_iter;
    status = int(lm_update(st, e, np, tol, true, refuse));
  }
  if ((status == SC_STATUS_GTOL || status == SC_STATUS_FTOL || status == SC_STATUS_XTOL) &&
      lm_singular(st, np))
    status = SC_STATUS_SINGULAR;
  for (int k = 0; k < np; ++k) p[k] = st.p[k];
  *cost_out = st.cost;
  out.status = status;
  return out;
}

// A converged lane whose free parameter has a zero Jacobian column is
// reported singular.
template <class T, int PC>
SC_HD auto lm_singular(const LMState<T, PC>& st, int np) -> decltype(T() > T()) {
  constexpr int NP = np_of<PC>::value;
  auto sing = T(1.0) < T(0.0);
  for (int k = 0; k < np; ++k) sing = sing | ((st.A[k * NP + k] <= T(0.0)) & !active_set(st, k));
  return sing;
}

SC_FAMILY_NS_END
