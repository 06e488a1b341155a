// CPU fitting drivers, instantiated once per ISA translation unit
// (fit_generic.cc with T = scalars; fit_avx2.cc with T = packs).  Include
// only from those files: everything here is in the ISA-tagged namespace.
//
//   run_one<Law, T>    one fit with scalar control flow; evaluation over
//                      elements of T (T = S: one point per element; T = pack:
//                      W consecutive points per element, reduced at the end)
//   run_lanes<Law, T>  W fits at once, one per lane of T, each lane refilled
//                      from a LaneSink when its fit ends, so that one slow fit
//                      never holds the others back
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <vector>

#include "scalecore/common/simd.h"
#include "scalecore/fit/accumulate.h"
#include "scalecore/fit/expr.h"
#include "scalecore/fit/kernel_api.h"
#include "scalecore/fit/laws.h"
#include "scalecore/fit/lm.h"

SC_FAMILY_NS_BEGIN(fit)

SC_HD double hsum(double x) { return x; }
SC_HD float hsum(float x) { return x; }

// The data a law is evaluated on: n elements of T per array.
template <class T>
struct KData {
  const T* feat[kMaxFeatures];
  const T* yt;
  const T* w;
  int n;
};

// A built-in law behind the common evaluation interface.
template <class L>
struct BuiltinLaw {
  static constexpr int PC = L::P;
  int np() const { return L::P; }

  // Parameters, pointers and the accumulator are copied into locals so that
  // the compiler knows nothing aliases them and keeps them in registers.
  template <class T>
  void accumulate(const KData<T>& d, const T* p, const ResidualCfg& cfg, LMEval<T, PC>& out) const {
    if (cfg.qr)
      accumulate_t<true>(d, p, cfg, out);
    else
      accumulate_t<false>(d, p, cfg, out);
  }
  template <bool QR, class T>
  void accumulate_t(const KData<T>& d, const T* p, const ResidualCfg& cfg, LMEval<T, PC>& out) const {
    T pl[L::P];
    for (int k = 0; k < L::P; ++k) pl[k] = p[k];
    const T* SC_RESTRICT u0[L::NIN];
    for (int k = 0; k < L::NIN; ++k) u0[k] = d.feat[k];
    const T* SC_RESTRICT yt = d.yt;
    const T* SC_RESTRICT w = d.w;
    const ResidualCfg c = cfg;
    LMEval<T, PC> ev = out;
    const int n = d.n;
    for (int i = 0; i < n; ++i) {
      T u[L::NIN];
      for (int k = 0; k < L::NIN; ++k) u[k] = u0[k][i];
      T J[L::P];
      const T f = L::eval(u, pl, J);
      accumulate_point_q<QR>(ev, L::P, c, f, J, yt[i], w[i]);
    }
    out = ev;
  }

  template <class T>
  void geodesic(const KData<T>& d, const T* p, const T* v, T h, const ResidualCfg& cfg, T* out) const {
    T ph[L::P];
    for (int k = 0; k < L::P; ++k) ph[k] = p[k] + h * v[k];
    for (int i = 0; i < d.n; ++i) {
      T u[L::NIN];
      for (int k = 0; k < L::NIN; ++k) u[k] = d.feat[k][i];
      T J0[L::P], J1[L::P];
      const T f0 = L::eval(u, p, J0);
      const T f1 = L::eval(u, ph, J1);
      accumulate_geodesic_point<T, PC>(out, L::P, cfg, f0, J0, f1, d.yt[i], d.w[i], v, h);
    }
  }

  // Values (and, when J is not null, the Jacobian: J[i * ldj + k]).
  template <class T>
  void values(const KData<T>& d, const T* p, T* out, T* Jout = nullptr, int ldj = 0) const {
    for (int i = 0; i < d.n; ++i) {
      T u[L::NIN];
      for (int k = 0; k < L::NIN; ++k) u[k] = d.feat[k][i];
      T J[L::P];
      out[i] = L::eval(u, p, J);
      if (Jout)
        for (int k = 0; k < L::P; ++k) Jout[i * ldj + k] = J[k];
    }
  }
};

// An expression law: block-wise interpretation (expr.h).
struct ExprLaw {
  static constexpr int PC = 0;
  static constexpr int BLK = 128;
  const ExprProgram* pr;
  int np() const { return pr->n_params; }

  // Scratch of one block evaluation: node values and adjoints, n_main x BLK
  // each, in a per-thread buffer that grows once (BLK elements of a pack are
  // too many for the stack).
  template <class T>
  struct Scratch {
    T* val;
    T* adj;
    T zero[BLK];
    explicit Scratch(int n_main) {
      static thread_local std::vector<T> buf;
      const size_t need = size_t(2) * size_t(n_main) * BLK;
      if (buf.size() < need) buf.resize(need);
      val = buf.data();
      adj = buf.data() + size_t(n_main) * BLK;
      for (int i = 0; i < BLK; ++i) zero[i] = T(0.0);
    }
  };

  // Evaluates the block of elements starting at i0; returns its size. f and
  // Jc[k] (k < np) point at the block's values and Jacobian columns (a zero
  // column for parameters the output does not depend on).
  template <class T>
  int eval_block(const KData<T>& d, int i0, const T* p, Scratch<T>& s, const T*& f, const T** Jc) const {
    const int n = d.n - i0 < BLK ? d.n - i0 : BLK;
    const T* feat[kMaxFeatures];
    for (int k = 0; k < pr->n_features; ++k) feat[k] = d.feat[k] + i0;
    expr_eval_block<BLK>(*pr, feat, n, p, s.val, s.adj, f, Jc);
    for (int k = 0; k < pr->n_params; ++k)
      if (!Jc[k]) Jc[k] = s.zero;
    return n;
  }

  // Calls fn(i, f_i, J_i) for every element i.
  template <class T, class F>
  void blocks(const KData<T>& d, const T* p, F&& fn) const {
    Scratch<T> s(pr->n_main);
    const int np_ = pr->n_params;
    for (int i0 = 0; i0 < d.n; i0 += BLK) {
      const T* f;
      const T* Jc[kMaxParams];
      const int n = eval_block(d, i0, p, s, f, Jc);
      for (int i = 0; i < n; ++i) {
        T Ji[kMaxParams];
        for (int k = 0; k < np_; ++k) Ji[k] = Jc[k][i];
        fn(i0 + i, f[i], Ji);
      }
    }
  }

  // Small programs accumulate into a local LMEval whose size is known at
  // compile time (registers, unrolled loops), then add it to ev, which the
  // callers zero: the same sums in the same order, bit for bit.
  template <class T>
  void accumulate(const KData<T>& d, const T* p, const ResidualCfg& cfg, LMEval<T, PC>& ev) const {
    switch (pr->n_params) {
      case 1: return accumulate_fixed<1>(d, p, cfg, ev);
      case 2: return accumulate_fixed<2>(d, p, cfg, ev);
      case 3: return accumulate_fixed<3>(d, p, cfg, ev);
      case 4: return accumulate_fixed<4>(d, p, cfg, ev);
      case 5: return accumulate_fixed<5>(d, p, cfg, ev);
      case 6: return accumulate_fixed<6>(d, p, cfg, ev);
      default: break;
    }
    const int np_ = pr->n_params;
    blocks(d, p, [&](int i, T fi, T* Ji) { accumulate_point(ev, np_, cfg, fi, Ji, d.yt[i], d.w[i]); });
  }

  template <int P, class T>
  void accumulate_fixed(const KData<T>& d, const T* p, const ResidualCfg& cfg, LMEval<T, PC>& out) const {
    if (cfg.qr)
      accumulate_fixed_t<P, true>(d, p, cfg, out);
    else
      accumulate_fixed_t<P, false>(d, p, cfg, out);
  }
  template <int P, bool QR, class T>
  void accumulate_fixed_t(const KData<T>& d, const T* p, const ResidualCfg& cfg, LMEval<T, PC>& out) const {
    Scratch<T> s(pr->n_main);
    LMEval<T, P> ev;
    eval_zero(ev, P);
    const ResidualCfg c = cfg;
    for (int i0 = 0; i0 < d.n; i0 += BLK) {
      const T* f;
      const T* Jc[kMaxParams];
      const int n = eval_block(d, i0, p, s, f, Jc);
      const T* SC_RESTRICT yt = d.yt + i0;
      const T* SC_RESTRICT w = d.w + i0;
      for (int i = 0; i < n; ++i) {
        T Ji[P];
        for (int k = 0; k < P; ++k) Ji[k] = Jc[k][i];
        accumulate_point_q<QR>(ev, P, c, f[i], Ji, yt[i], w[i]);
      }
    }
    eval_merge(out, ev, P, QR);
  }

  template <class T>
  void geodesic(const KData<T>& d, const T* p, const T* v, T h, const ResidualCfg& cfg, T* out) const {
    const int np_ = pr->n_params;
    T ph[kMaxParams];
    for (int k = 0; k < np_; ++k) ph[k] = p[k] + h * v[k];
    // Values at p + h v first (J unused), then p with J.
    T* f1 = static_cast<T*>(aligned_alloc(64, sizeof(T) * ((d.n + 15) / 16) * 16 + 64));
    blocks(d, ph, [&](int i, T fi, T*) { f1[i] = fi; });
    blocks(d, p, [&](int i, T fi, T* Ji) {
      accumulate_geodesic_point<T, PC>(out, np_, cfg, fi, Ji, f1[i], d.yt[i], d.w[i], v, h);
    });
    free(f1);
  }

  template <class T>
  void values(const KData<T>& d, const T* p, T* out, T* Jout = nullptr, int ldj = 0) const {
    const int np_ = pr->n_params;
    blocks(d, p, [&](int i, T fi, T* Ji) {
      out[i] = fi;
      if (Jout)
        for (int k = 0; k < np_; ++k) Jout[i * ldj + k] = Ji[k];
    });
  }
};

template <class S>
SC_HD ResidualCfg make_cfg(const Options& o) {
  ResidualCfg c;
  c.residual = o.residual;
  c.loss = o.loss;
  c.c2 = o.f_scale * o.f_scale;
  c.inv_c2 = 1.0 / c.c2;
  c.qr = o.damping == SC_DAMPING_MORE;
  return c;
}

// Evaluation with element type T, reduced into scalars.
template <class Law, class T, class S, int PC>
void evaluate_reduced(const Law& law, const KData<T>& d, const S* p, int np, const ResidualCfg& cfg,
                      LMEval<S, PC>& out) {
  constexpr int NP = np_of<PC>::value;
  LMEval<T, PC> ev;
  eval_zero(ev, np);
  T pp[NP];
  for (int k = 0; k < np; ++k) pp[k] = T(p[k]);
  law.accumulate(d, pp, cfg, ev);
  out.cost = S(0.5) * hsum(ev.cost);
  for (int a = 0; a < np; ++a) {
    out.g[a] = hsum(ev.g[a]);
    out.dj[a] = hsum(ev.dj[a]);
    for (int b = 0; b <= a; ++b) out.A[a * NP + b] = hsum(ev.A[a * NP + b]);
  }
  if (cfg.qr) {
    // The lanes' factors (each of its own points), merged lane by lane in a
    // fixed order.
    for (int a = 0; a < np; ++a) {
      out.qtr[a] = S(0);
      for (int b = a; b < np; ++b) out.R[a * NP + b] = S(0);
    }
    for (int l = 0; l < lanes_of<T>::value; ++l)
      for (int a = 0; a < np; ++a) {
        S row[NP];
        for (int b = 0; b < np; ++b) row[b] = b < a ? S(0) : (b == a ? S(1) : lane(ev.R[a * NP + b], l));
        qr_add_row<NP>(out.R, out.qtr, np, a, row, lane(ev.qtr[a], l), lane(ev.R[a * NP + a], l));
      }
  }
}

template <class Law, class T, class S>
void geodesic_reduced(const Law& law, const KData<T>& d, const S* p, const S* v, S h, int np,
                      const ResidualCfg& cfg, S* out) {
  T pp[kMaxParams], vv[kMaxParams], acc[kMaxParams];
  for (int k = 0; k < np; ++k) {
    pp[k] = T(p[k]);
    vv[k] = T(v[k]);
    acc[k] = T(0.0);
  }
  law.geodesic(d, pp, vv, T(h), cfg, acc);
  for (int k = 0; k < np; ++k) out[k] = hsum(acc[k]);
}

// The CPU evaluator behind lm_run_scalar: elements of T, reduced to scalars.
template <class Law, class T, class S>
struct CpuEvaluator {
  const Law& law;
  const KData<T>& d;
  ResidualCfg cfg;
  int np;
  void evaluate(const S* p, LMEval<S, Law::PC>& out) { evaluate_reduced(law, d, p, np, cfg, out); }
  void geodesic(const S* p, const S* v, S h, S* out) { geodesic_reduced(law, d, p, v, h, np, cfg, out); }
};

// One fit, scalar control flow.
template <class Law, class T, class S>
void run_one(const Law& law, const Options& o, const KData<T>& d, OneFit<S>& f) {
  CpuEvaluator<Law, T, S> ev{law, d, make_cfg<S>(o), law.np()};
  S cost = 0;
  const LMOutcome r = lm_run_scalar<S, Law::PC>(ev, law.np(), f.p, f.lo, f.hi, f.sgn, o, &cost);
  f.cost = cost;
  f.status = static_cast<int8_t>(r.status);
  f.n_iter = r.n_iter;
  f.nfev = r.nfev;
}

// Lane l of a pack in memory, read or written as a scalar.  Through memcpy,
// which is alias-safe, rather than a cast of the pointer.
template <class S, class T>
inline void put_lane(T& x, int l, S v) {
  __builtin_memcpy(reinterpret_cast<char*>(&x) + sizeof(S) * l, &v, sizeof(S));
}
template <class S, class T>
inline S get_lane(const T& x, int l) {
  S v;
  __builtin_memcpy(&v, reinterpret_cast<const char*>(&x) + sizeof(S) * l, sizeof(S));
  return v;
}

// W fits at once, one per lane, refilled from the sink.
template <class Law, class T>
void run_lanes(const Law& law, const Options& o, int mpad, LaneSink<typename scalar_of<T>::type>& sink) {
  using S = typename scalar_of<T>::type;
  constexpr int W = lanes_of<T>::value;
  constexpr int PC = Law::PC;
  constexpr int NP = np_of<PC>::value;
  using Mask = decltype(T() > T());
  const int np = law.np();
  const int nf = Law::PC > 0 ? kMaxInputs : kMaxFeatures;
  const ResidualCfg cfg = make_cfg<S>(o);
  const LMTols tol = effective_tols<S>(o);

  // Interleaved buffers: element i of array k holds point i of every lane.
  const int narr = nf + 2;
  T* buf = static_cast<T*>(aligned_alloc(64, sizeof(T) * size_t(narr) * size_t(mpad > 0 ? mpad : 1)));
  KData<T> d;
  S* featS[kMaxFeatures];
  for (int k = 0; k < nf; ++k) {
    d.feat[k] = buf + size_t(k) * mpad;
    featS[k] = reinterpret_cast<S*>(buf + size_t(k) * mpad);
  }
  d.yt = buf + size_t(nf) * mpad;
  d.w = buf + size_t(nf + 1) * mpad;
  d.n = mpad;
  S* ytS = reinterpret_cast<S*>(buf + size_t(nf) * mpad);
  S* wS = reinterpret_cast<S*>(buf + size_t(nf + 1) * mpad);
  for (size_t i = 0; i < size_t(narr) * size_t(mpad); ++i) buf[i] = T(0.0);

  LMState<T, PC> st;
  LMEval<T, PC> ev;
  for (int k = 0; k < NP; ++k) {
    st.p[k] = st.pt[k] = T(0.0);
    st.lo[k] = T(-HUGE_VAL);
    st.hi[k] = T(HUGE_VAL);
    st.D[k] = T(0.0);
    st.g[k] = T(0.0);
    st.sgn[k] = T(0.0);
  }
  for (int k = 0; k < NP * NP; ++k) st.A[k] = st.R[k] = T(0.0);
  for (int k = 0; k < NP; ++k) st.qtr[k] = T(0.0);
  st.cost = T(0.0);
  st.mu = T(1.0);
  st.nu = T(2.0);
  st.nonfinite_run = T(0.0);
  st.nonfinite_recent = T(0.0);
  st.pred = st.snorm = st.xnorm = T(0.0);
  st.delta = st.first = st.gs = T(0.0);

  int32_t iters[W], nfev[W];
  bool active[W], starting[W];

  auto load_lane = [&](int l) -> bool {
    S p0[NP], lo[NP], hi[NP], sg[NP];
    if (!sink.load(sink.ctx, l, W, featS, ytS, wS, mpad, p0, lo, hi, sg)) {
      active[l] = false;
      starting[l] = false;
      return false;
    }
    // Write the lane in place (no read-modify-write of whole packs, which
    // stalls store forwarding once per parameter).
    for (int k = 0; k < np; ++k) {
      const S q = p0[k] < lo[k] ? lo[k] : (p0[k] > hi[k] ? hi[k] : p0[k]);
      put_lane<S>(st.pt[k], l, q);
      put_lane<S>(st.lo[k], l, lo[k]);
      put_lane<S>(st.hi[k], l, hi[k]);
      put_lane<S>(st.sgn[k], l, sg[k]);
    }
    active[l] = true;
    starting[l] = true;
    iters[l] = 0;
    nfev[l] = 0;
    return true;
  };
  auto finish_lane = [&](int l, int status) {
    S p[NP];
    for (int k = 0; k < np; ++k) p[k] = get_lane<S>(st.p[k], l);
    sink.store(sink.ctx, l, p, get_lane<S>(st.cost, l), static_cast<int8_t>(status), iters[l], nfev[l]);
    load_lane(l);
  };

  for (int l = 0; l < W; ++l) load_lane(l);
  auto bits_to_mask = [](unsigned bits) -> Mask { return lane_mask(T(0.0), bits); };

  for (;;) {
    unsigned live_bits = 0, start_bits = 0;
    for (int l = 0; l < W; ++l) {
      if (active[l] && !starting[l]) live_bits |= 1u << l;
      if (active[l] && starting[l]) start_bits |= 1u << l;
    }
    if (!live_bits && !start_bits) break;
    const Mask live = bits_to_mask(live_bits);
    Mask refuse = T(1.0) < T(0.0);
    if (live_bits) {
      T keep[NP];
      for (int k = 0; k < np; ++k) keep[k] = st.pt[k];
      T v[NP];
      lm_velocity(st, np, v, live, tol);
      if (o.geodesic) {
        T gv[NP], rhs[NP], a[NP], step[NP];
        for (int k = 0; k < np; ++k) gv[k] = T(0.0);
        law.geodesic(d, st.p, v, T(S(o.geodesic_h)), cfg, gv);
        for (int l = 0; l < W; ++l) if (live_bits >> l & 1u) ++nfev[l];
        for (int k = 0; k < np; ++k) rhs[k] = -gv[k];
        lm_solve_damped(st, np, rhs, a, live);
        refuse = (!lm_geodesic_step(st, np, v, a, o.geodesic_alpha, step)) & live;
        lm_set_trial(st, np, step, tol.more);
      } else {
        lm_set_trial(st, np, v, tol.more);
      }
      // Lanes that are starting evaluate their start point.
      for (int k = 0; k < np; ++k) st.pt[k] = select(live, st.pt[k], keep[k]);
    }
    eval_zero(ev, np);
    law.accumulate(d, st.pt, cfg, ev);
    ev.cost = T(0.5) * ev.cost;

    // Starting lanes.
    if (start_bits) {
      const Mask start = bits_to_mask(start_bits);
      const Mask fin = eval_finite(ev, np);
      lm_start(st, ev, np, start & fin, o.damping_init, tol);
      const unsigned fin_bits = mask_bits(fin);
      const unsigned g_bits = mask_bits(lm_gtol(st, np, tol.gtol));
      for (int l = 0; l < W; ++l) {
        if (!(start_bits >> l & 1u)) continue;
        nfev[l] = 1;
        starting[l] = false;
        if (!(fin_bits >> l & 1u)) {
          // Report the start point itself.
          for (int k = 0; k < np; ++k) put_lane<S>(st.p[k], l, get_lane<S>(st.pt[k], l));
          put_lane<S>(st.cost, l, get_lane<S>(ev.cost, l));
          finish_lane(l, SC_STATUS_NON_FINITE);
        } else if (g_bits >> l & 1u) {
          finish_lane(l, SC_STATUS_GTOL);
        } else if (o.max_iter <= 0) {
          finish_lane(l, SC_STATUS_MAX_ITER);
        }
      }
    }
    if (live_bits) {
      const T code = lm_update(st, ev, np, tol, live, refuse);
      const unsigned sing_bits = mask_bits(lm_singular(st, np));
      const unsigned refuse_bits = mask_bits(refuse);
      const unsigned done_bits = mask_bits(code != T(0.0));
      alignas(64) S codes[W];
      code.store(codes);
      for (int l = 0; l < W; ++l) {
        if (!(live_bits >> l & 1u)) continue;
        ++iters[l];
        if (!(refuse_bits >> l & 1u)) ++nfev[l];
        if (!(done_bits >> l & 1u) && iters[l] < o.max_iter) continue;
        int c = int(codes[l]);
        if (c == 0 && iters[l] >= o.max_iter) c = SC_STATUS_MAX_ITER;
        if (c != 0) {
          if ((c == SC_STATUS_GTOL || c == SC_STATUS_FTOL || c == SC_STATUS_XTOL) && (sing_bits >> l & 1u))
            c = SC_STATUS_SINGULAR;
          finish_lane(l, c);
        }
      }
    }
  }
  free(buf);
}

// Law dispatch: calls fn(law_object) with the law behind a handle.
template <class F>
void with_law(const LawHandle& h, F&& fn) {
  switch (h.id) {
#define SC_LAW(L) \
  case SC_LAWID_##L: fn(BuiltinLaw<L>{}); return;
#include "scalecore/fit/laws.def"
#undef SC_LAW
    default: {
      ExprLaw e;
      e.pr = h.prog;
      fn(e);
      return;
    }
  }
}

// A OneFit's arrays seen as elements of T (T = S: one point per element;
// T = a pack of S: W consecutive points, the caller padding m to a multiple
// of 8 with w = 0).
template <class T, class S>
KData<T> kdata_of(const OneFit<S>& f, int nfeat) {
  constexpr int W = lanes_of<T>::value;
  KData<T> d;
  for (int k = 0; k < nfeat; ++k) d.feat[k] = reinterpret_cast<const T*>(f.feat[k]);
  d.yt = reinterpret_cast<const T*>(f.yt);
  d.w = reinterpret_cast<const T*>(f.w);
  d.n = (f.m + W - 1) / W;
  return d;
}

// J^T J (both triangles, row stride kMaxParams), J^T r and the cost at f.p,
// no iteration.
template <class T>
void eval_normal(const LawHandle& law, const Options& o, const OneFit<double>& f, double* cost, double* A,
                 double* g) {
  const KData<T> d = kdata_of<T>(f, law.n_features);
  const ResidualCfg cfg = make_cfg<double>(o);
  with_law(law, [&](const auto& L) {
    constexpr int PC = std::decay_t<decltype(L)>::PC;
    constexpr int NP = np_of<PC>::value;
    LMEval<double, PC> ev;
    const int np = L.np();
    evaluate_reduced(L, d, f.p, np, cfg, ev);
    *cost = ev.cost;
    for (int a = 0; a < np; ++a) {
      g[a] = ev.g[a];
      for (int b = 0; b <= a; ++b) A[a * kMaxParams + b] = A[b * kMaxParams + a] = ev.A[a * NP + b];
    }
  });
}

SC_FAMILY_NS_END
