// The per-problem fitting path on raw (unprepared) batch data: read a point,
// compute its features, validate, centre, and run lm_run_scalar.  This is
// what one CUDA thread runs (cuda/fit/fit_cuda.cu); the CPU runs the very
// same code through _core._fit_batch_raw so tests check it without a GPU.
// Preparation follows the CPU engine's rules (fit_api.cc): mask or NaN =
// missing point; +-inf, sigma <= 0, a non-finite feature or y <= 0 with log
// residuals = bad_input.
#pragma once
#include <math.h>
#include <stdint.h>

#include "scalecore/fit/accumulate.h"
#include "scalecore/fit/expr.h"
#include "scalecore/fit/kernel_api.h"
#include "scalecore/fit/laws.h"
#include "scalecore/fit/lm.h"
#include "scalecore/fit/raw_types.h"

SC_FAMILY_NS_BEGIN(fit)


// Any law, chosen at run time.  One kernel per dtype serves every law: the
// switch is uniform across a warp (every thread fits the same law), and
// compiling one LM kernel instead of one per law keeps nvcc's time in check.
struct AnyLawOp {
  static constexpr int PC = 0;
  int id;
  const ExprProgram* prog;
  template <class S>
  SC_HD S operator()(const S* u, const S* p, S* J) const {
    switch (id) {
#define SC_LAW(L) \
  case SC_LAWID_##L: return L::eval(u, p, J);
#include "scalecore/fit/laws.def"
#undef SC_LAW
      default: {
        S val[kMaxExprNodes], adj[kMaxExprNodes];
        const S* feat[kMaxFeatures];
        for (int k = 0; k < prog->n_features; ++k) feat[k] = u + k;
        const S* f;
        const S* Jc[kMaxParams];
        expr_eval_block<1>(*prog, feat, 1, p, val, adj, f, Jc);
        for (int k = 0; k < prog->n_params; ++k) J[k] = Jc[k] ? Jc[k][0] : S(0);
        return f[0];
      }
    }
  }
};

// Features of one point from raw inputs; false when one is not finite.
SC_HD bool point_features(const RawLaw& law, const ExprProgram* prog, const double* x, double* f) {
  if (law.id == SC_LAWID_EXPR) {
    double val[kMaxExprNodes];
    expr_features(*prog, x, val, f);
  } else {
    for (int k = 0; k < law.nin; ++k) f[k] = law.tf[k] == SC_TF_LOG ? (x[k] > 0 ? log(x[k]) : NAN) : x[k];
  }
  for (int k = 0; k < law.nf; ++k)
    if (!isfinite(f[k])) return false;
  return true;
}

enum PointKind { kMissing = 0, kValid = 1, kBad = 2 };

template <class S>
SC_HD int read_point(const RawArgs<S>& a, const RawLaw& law, const ExprProgram* prog, Residual res, int64_t b,
                          int64_t i, double* f, double& yt, double& w) {
  if (a.mask && !a.mask[b * a.ms + i]) return kMissing;
  const double y = double(a.y[b * a.ys + i]);
  const double sg = a.sigma ? double(a.sigma[b * a.ss + i]) : 1.0;
  double x[kMaxInputs];
  bool missing = isnan(y) || isnan(sg);
  for (int k = 0; k < a.nin; ++k) {
    x[k] = double(a.x[k][b * a.xs[k] + i]);
    missing = missing || isnan(x[k]);
  }
  if (missing) return kMissing;
  bool bad = isinf(y) || isinf(sg) || !(sg > 0);
  for (int k = 0; k < a.nin; ++k) bad = bad || isinf(x[k]);
  if (bad || !point_features(law, prog, x, f)) return kBad;
  if (res == SC_RESIDUAL_LOG) {
    if (!(y > 0)) return kBad;
    yt = log(y);
  } else {
    yt = y;
  }
  w = 1.0 / sg;
  return kValid;
}

template <class Op, class S>
struct RawEval {
  static constexpr int PC = Op::PC;
  const RawArgs<S>* a;
  const RawLaw* law;
  Op op;
  ResidualCfg cfg;
  Residual res;
  int64_t b;
  int np;
  bool centered;
  double c[kMaxFeatures];

  SC_HD bool point(int64_t i, S* u, S& yt, S& w) const {
    double f[kMaxFeatures], ytd, wd;
    if (read_point(*a, *law, op.prog, res, b, i, f, ytd, wd) != kValid) return false;
    for (int k = 0; k < law->nf; ++k) u[k] = S(centered ? f[k] - c[k] : f[k]);
    yt = S(ytd);
    w = S(wd);
    return true;
  }
  SC_HD void evaluate(const S* p, LMEval<S, PC>& out) {
    eval_zero(out, np);
    S u[kMaxFeatures], J[kMaxParams];
    for (int64_t i = 0; i < a->M; ++i) {
      S yt, w;
      if (!point(i, u, yt, w)) continue;
      const S f = op(u, p, J);
      accumulate_point(out, np, cfg, f, J, yt, w);
    }
    out.cost = S(0.5) * out.cost;
  }
  SC_HD void geodesic(const S* p, const S* v, S h, S* out) {
    S ph[kMaxParams], u[kMaxFeatures], J0[kMaxParams], J1[kMaxParams];
    for (int k = 0; k < np; ++k) {
      ph[k] = p[k] + h * v[k];
      out[k] = S(0);
    }
    for (int64_t i = 0; i < a->M; ++i) {
      S yt, w;
      if (!point(i, u, yt, w)) continue;
      const S f0 = op(u, p, J0);
      const S f1 = op(u, ph, J1);
      accumulate_geodesic_point<S, PC>(out, np, cfg, f0, J0, f1, yt, w, v, h);
    }
  }
};

SC_HD bool raw_centering_allowed(const RawLaw& law, const double* lo, const double* hi) {
  if (law.n_center == 0) return false;
  for (int j = 0; j < law.n_center; ++j) {
    const CenterTerm& t = law.center[j];
    const double l = lo[t.param], h = hi[t.param];
    if (t.kind == SC_CT_SCALE || t.kind == SC_CT_BREAK) {
      if (!((l == 0.0 || isinf(l)) && (h == 0.0 || isinf(h)))) return false;
    } else if (!(isinf(l) && isinf(h))) {
      return false;
    }
  }
  return true;
}

template <class P>
SC_HD void raw_center_params(const RawLaw& law, const double* c, bool forward, P* p) {
  const int n = law.n_center;
  for (int j = 0; j < n; ++j) {
    const CenterTerm& t = law.center[forward ? j : n - 1 - j];
    const double s = forward ? 1.0 : -1.0;
    double v = double(p[t.param]);
    switch (t.kind) {
      case SC_CT_SCALE: v *= exp(s * t.sign * double(p[t.expo]) * c[t.feat]); break;
      case SC_CT_LOGSCALE: v += s * t.sign * double(p[t.expo]) * c[t.feat]; break;
      case SC_CT_BREAK: v *= exp(-s * c[t.feat]); break;
      case SC_CT_SHIFT: v -= s * c[t.feat]; break;
      default: break;
    }
    p[t.param] = P(v);
  }
}

// Fits problem q of a raw batch: what one CUDA thread does, and what the
// CPU test entry (_core._fit_batch_raw) runs to test this code on the CPU.
template <class S>
SC_HD void fit_problem_raw(const RawArgs<S>& a, const RawLaw& law, const ExprProgram* prog, const Options& o,
                           int64_t q) {
  using Op = AnyLawOp;
  const int64_t b = q / a.S_count;
  const int s = int(q % a.S_count);
  const int np = law.np;
  S* outp = a.params + q * np;
  auto write_bad = [&]() {
    for (int k = 0; k < np; ++k) outp[k] = S(NAN);
    a.cost[q] = S(NAN);
    a.status[q] = SC_STATUS_BAD_INPUT;
    a.n_iter[q] = 0;
    a.nfev[q] = 0;
  };
  double lo[kMaxParams], hi[kMaxParams];
  int n_free = 0;
  for (int k = 0; k < np; ++k) {
    lo[k] = a.lo ? double(a.lo[b * a.bs + k]) : -HUGE_VAL;
    hi[k] = a.hi ? double(a.hi[b * a.bs + k]) : HUGE_VAL;
    n_free += !(lo[k] == hi[k]);
  }
  // Validation and the means of the features.
  double sum[kMaxFeatures];
  for (int k = 0; k < law.nf; ++k) sum[k] = 0.0;
  int64_t m = 0;
  for (int64_t i = 0; i < a.M; ++i) {
    double f[kMaxFeatures], yt, w;
    const int kind = read_point(a, law, prog, o.residual, b, i, f, yt, w);
    if (kind == kBad) {
      write_bad();
      return;
    }
    if (kind != kValid) continue;
    ++m;
    for (int k = 0; k < law.nf; ++k) sum[k] += f[k];
  }
  if (m < (n_free > 1 ? n_free : 1)) {
    write_bad();
    return;
  }
  S p0[kMaxParams];
  for (int k = 0; k < np; ++k) p0[k] = a.starts[b * a.st_b + int64_t(s) * a.st_s + k];
  for (int k = 0; k < np; ++k)
    if (!isfinite(double(p0[k]))) {
      write_bad();
      return;
    }
  S los[kMaxParams], his[kMaxParams];
  for (int k = 0; k < np; ++k) {
    los[k] = S(lo[k]);
    his[k] = S(hi[k]);
  }

  RawEval<Op, S> ev;
  ev.a = &a;
  ev.law = &law;
  ev.op.prog = prog;
  ev.op.id = law.id;
  ev.cfg.residual = o.residual;
  ev.cfg.loss = o.loss;
  ev.cfg.c2 = o.f_scale * o.f_scale;
  ev.cfg.inv_c2 = 1.0 / ev.cfg.c2;
  ev.cfg.qr = o.damping == SC_DAMPING_MORE;
  ev.res = o.residual;
  ev.b = b;
  ev.np = np;
  ev.centered = o.center && raw_centering_allowed(law, lo, hi);
  for (int k = 0; k < law.nf; ++k) ev.c[k] = sum[k] / double(m);

  S p[kMaxParams], sgn[kMaxParams];
  int total_iter = 0, total_fev = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (int k = 0; k < np; ++k) {
      p[k] = p0[k];
      sgn[k] = S(0);
    }
    if (ev.centered) {
      raw_center_params(law, ev.c, true, p);
      bool ok = true;
      for (int k = 0; k < np; ++k) ok = ok && isfinite(double(p[k]));
      if (!ok) {
        ev.centered = false;
        for (int k = 0; k < np; ++k) p[k] = p0[k];
      } else {
        for (int j = 0; j < law.n_center; ++j) {
          const CenterTerm& t = law.center[j];
          if (t.kind == SC_CT_SCALE && p[t.param] != S(0)) sgn[t.param] = p[t.param] > S(0) ? S(1) : S(-1);
        }
      }
    }
    S cost = 0;
    const LMOutcome r = lm_run_scalar<S, Op::PC>(ev, np, p, a.lo ? los : nullptr, a.hi ? his : nullptr,
                                                 ev.centered ? sgn : nullptr, o, &cost);
    total_iter += r.n_iter;
    total_fev += r.nfev;
    if (r.status == SC_STATUS_RETRY) {
      ev.centered = false;
      continue;
    }
    if (ev.centered) raw_center_params(law, ev.c, false, p);
    for (int k = 0; k < np; ++k) outp[k] = p[k];
    a.cost[q] = cost;
    a.status[q] = static_cast<int8_t>(r.status);
    a.n_iter[q] = total_iter;
    a.nfev[q] = total_fev;
    return;
  }
}


SC_FAMILY_NS_END
