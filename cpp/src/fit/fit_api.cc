// The fitting family's front door: per-problem data preparation, the choice
// of SIMD level and vectorisation, the thread pool, covariance and the law
// catalogue.  Compiled without ISA flags.
#include <math.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "scalecore/common/dispatch.h"
#include "scalecore/common/errors.h"
#include "scalecore/common/threads.h"
#include "scalecore/common/vecmath.h"
#include "scalecore/fit/fit.h"
#include "scalecore/fit/kernels.h"

namespace sc {
namespace fit {

// ---------------------------------------------------------------------------
// Catalogue
// ---------------------------------------------------------------------------
namespace {

template <class L>
LawInfo info_of() {
  LawInfo i;
  i.name = L::name;
  i.formula = L::formula;
  for (int k = 0; k < L::P; ++k) {
    i.params.emplace_back(L::param_names[k]);
    i.lo.push_back(L::lo[k]);
    i.hi.push_back(L::hi[k]);
  }
  for (int k = 0; k < L::NIN; ++k) {
    i.inputs.emplace_back(L::input_names[k]);
    i.transforms.push_back(L::tf[k]);
  }
  for (int k = 0; k < L::NC; ++k) i.center.push_back(L::center[k]);
  return i;
}

const std::vector<LawInfo>& catalog_ref() {
  static const std::vector<LawInfo> c = [] {
    std::vector<LawInfo> v;
#define SC_LAW(L) v.push_back(info_of<L>());
#include "scalecore/fit/laws.def"
#undef SC_LAW
    return v;
  }();
  return c;
}

}  // namespace

std::vector<LawInfo> law_catalog() { return catalog_ref(); }

Law builtin_law(const std::string& name) {
  const auto& c = catalog_ref();
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i].name != name) continue;
    Law l;
    l.id = static_cast<int>(i);
    l.name = name;
    l.n_params = static_cast<int>(c[i].params.size());
    l.n_inputs = static_cast<int>(c[i].inputs.size());
    l.n_features = l.n_inputs;
    for (int t : c[i].transforms) l.transforms.push_back(static_cast<int8_t>(t));
    l.center = c[i].center;
    return l;
  }
  std::string names;
  for (const auto& i : c) names += (names.empty() ? "" : ", ") + i.name;
  throw ValueError("law: unknown law '" + name + "'; the catalogue has " + names);
}

Vectorize choose_vectorize(const Law& law, int64_t M, bool is_float, Vectorize requested) {
  if (requested != SC_VEC_AUTO) return requested;
  // Measured on an AVX2 machine (python -m bench fit_vectorize, and five laws
  // from 2 to 6 parameters, built-in and expression): one lane per fit is
  // 1.2-1.6x faster at 100 points, 1.1-1.2x at 200 (float64), even at 400;
  // in float32 the 6-parameter BNSL already loses at 200 (0.8x).  Beyond the
  // limits SIMD over points keeps one problem's state in cache.
  const int64_t limit = is_float ? 128 : 256;
  return M <= limit ? SC_VEC_FITS : SC_VEC_POINTS;
}

// ---------------------------------------------------------------------------
// Preparation
// ---------------------------------------------------------------------------
// Inverse of a small SPD matrix for the covariance (defined below, with the
// covariance pass).
bool small_spd_inverse(const double* A, int n, double* inv);

namespace {

struct FreeDeleter {
  void operator()(void* p) const { free(p); }
};

// The prepared points of one problem, in element type T: features, y (log y
// for log residuals), raw y and weights, each `cap` long (a multiple of 8)
// and 64-byte aligned.
template <class T>
struct Prep {
  int nf = 0;
  int64_t cap = 0;
  std::unique_ptr<T, FreeDeleter> mem;
  T* feat[kMaxFeatures] = {};
  T* yt = nullptr;
  T* w = nullptr;
  int m = 0;       // valid points
  int64_t row = -1;  // which batch row is prepared (cache across starts)
  int8_t status = 0;
  bool centered = false;         // features shifted by c (see CenterKind)
  bool allow_center = true;
  bool want_guess = true;        // compute the default start when no starts are given
  double c[kMaxFeatures] = {};
  double guess[kMaxParams] = {};  // the law's default start (external coordinates)

  // Scratch of the gathering pass, in the fit's precision (a float32 fit
  // takes logs in float32: its features are float32 anyway): raw inputs, y,
  // sigma, weights, y as the residual sees it, features before centering.
  // 64-byte aligned like `mem`: the uncentred arrays are read as packs by
  // the fused covariance.
  std::unique_ptr<T, FreeDeleter> dxmem;
  T* dx = nullptr;
  T* xr[kMaxInputs] = {};
  T* yr = nullptr;   // raw y
  T* sr = nullptr;   // sigma
  T* wd = nullptr;   // 1 / sigma
  T* ytd = nullptr;  // log y for log residuals, else y
  T* fd[kMaxFeatures] = {};
  std::vector<double> ed;  // expression laws: the prep program's node arrays, in double

  void init(int nfeat, int nin, int64_t M) {
    nf = nfeat;
    cap = ((std::max<int64_t>(M, 1) + 15) / 16) * 16;
    const size_t bytes = sizeof(T) * size_t(cap) * size_t(nf + 2);
    mem.reset(static_cast<T*>(aligned_alloc(64, ((bytes + 63) / 64) * 64)));
    T* p = mem.get();
    for (int k = 0; k < nf; ++k) feat[k] = p + k * cap;
    yt = p + nf * cap;
    w = p + (nf + 1) * cap;
    const size_t nd = size_t(cap) * size_t(nin + 4 + nf);
    dxmem.reset(static_cast<T*>(aligned_alloc(64, ((sizeof(T) * nd + 63) / 64) * 64)));
    dx = dxmem.get();
    for (size_t i = 0; i < nd; ++i) dx[i] = T(0);
    for (int k = 0; k < nin; ++k) xr[k] = dx + size_t(k) * cap;
    yr = dx + size_t(nin) * cap;
    sr = dx + size_t(nin + 1) * cap;
    wd = dx + size_t(nin + 2) * cap;
    ytd = dx + size_t(nin + 3) * cap;
    for (int k = 0; k < nf; ++k) fd[k] = dx + size_t(nin + 4 + k) * cap;
  }
  // Points padded to a whole number of the widest pack (16 floats).
  int mpad16() const { return ((m + 15) / 16) * 16; }
};

template <class S>
bool all_finite(const S* v, int n) {
  for (int i = 0; i < n; ++i)
    if (!std::isfinite(double(v[i]))) return false;
  return true;
}

// Features of one point from raw inputs (double).  Returns false when a
// feature is not finite.
bool features_at(const Law& law, const double* x, double* feat) {
  if (law.id == SC_LAWID_EXPR) {
    double val[kMaxExprNodes];
    expr_features(*law.prog, x, val, feat);
    for (int k = 0; k < law.n_features; ++k)
      if (!std::isfinite(feat[k])) return false;
    return true;
  }
  for (int k = 0; k < law.n_inputs; ++k) {
    feat[k] = law.transforms[k] == SC_TF_LOG ? (x[k] > 0 ? log(x[k]) : NAN) : x[k];
    if (!std::isfinite(feat[k])) return false;
  }
  return true;
}

// Whether the centering map keeps this problem's bounds a box.
template <class S>
bool centering_allowed(const Law& law, const S* lo, const S* hi) {
  const auto& terms = law.center;
  if (terms.empty()) return false;
  auto sign_bound = [](double v) { return v == 0.0 || std::isinf(v); };
  for (const auto& t : terms) {
    const double l = double(lo[t.param]), h = double(hi[t.param]);
    if (t.kind == SC_CT_SCALE || t.kind == SC_CT_BREAK) {
      if (!sign_bound(l) || !sign_bound(h)) return false;
    } else if (!(std::isinf(l) && std::isinf(h))) {
      return false;
    }
  }
  return true;
}

// Maps parameters to the centred (internal) coordinates (forward) or back.
template <class P>
void center_params(const Law& law, const double* c, bool forward, P* p) {
  const auto& terms = law.center;
  const int n = static_cast<int>(terms.size());
  for (int j = 0; j < n; ++j) {
    const CenterTerm& t = terms[forward ? j : n - 1 - j];
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

// Prepares batch row b into pr.  Missing points (mask 0, or NaN in y, any x
// or sigma) are skipped.  Sets pr.status to SC_STATUS_BAD_INPUT when the row
// is unusable (see types.h).
template <class S, class T>
void prepare(const Law& law, const Batch<S>& B, int64_t b, const Options& o, const S* lo, const S* hi,
             int n_free, Prep<T>& pr) {
  if (pr.row == b) return;
  pr.row = b;
  pr.status = 0;
  pr.m = 0;
  pr.centered = false;
  const int nin = law.n_inputs, nf = law.n_features;
  const S* xs[kMaxInputs];
  for (int k = 0; k < nin; ++k) xs[k] = B.x[k].row(b);
  const S* ys = B.y.row(b);
  const uint8_t* ms = B.mask.data ? B.mask.row(b) : nullptr;
  const S* ss = B.sigma.data ? B.sigma.row(b) : nullptr;
  // Pass 1: gather the valid points (raw, double); +-inf or sigma <= 0 is bad.
  int m = 0;
  bool bad = false;
  bool gathered = false;
  if (!ms && !ss) {
    // Fast path: no mask, no sigma and every value finite (x - x is 0 for a
    // finite x and NaN otherwise): copy whole rows.
    T acc = T(0);
    for (int64_t i = 0; i < B.M; ++i) {
      const T y = T(ys[i]);
      pr.yr[i] = y;
      acc += y - y;
    }
    for (int k = 0; k < nin; ++k)
      for (int64_t i = 0; i < B.M; ++i) {
        const T x = T(xs[k][i]);
        pr.xr[k][i] = x;
        acc += x - x;
      }
    if (acc == T(0)) {
      m = static_cast<int>(B.M);
      for (int64_t i = 0; i < B.M; ++i) pr.sr[i] = T(1);
      gathered = true;
    }
  }
  if (!gathered) {
    for (int64_t i = 0; i < B.M; ++i) {
      if (ms && !ms[i]) continue;
      const double y = double(ys[i]);
      const double sg = ss ? double(ss[i]) : 1.0;
      bool missing = std::isnan(y) || std::isnan(sg);
      for (int k = 0; k < nin; ++k) {
        const double x = double(xs[k][i]);
        missing = missing || std::isnan(x);
        pr.xr[k][m] = T(x);
      }
      if (missing) continue;
      bad = bad || std::isinf(y) || std::isinf(sg) || !(sg > 0);
      for (int k = 0; k < nin; ++k) bad = bad || std::isinf(double(pr.xr[k][m]));
      pr.yr[m] = T(y);
      pr.sr[m] = T(sg);
      ++m;
    }
  }
  if (bad) {
    pr.status = SC_STATUS_BAD_INPUT;
    return;
  }
  // Pass 2: features (whole arrays), then y and weights.
  if (law.id == SC_LAWID_EXPR) {
    // The prep program node by node over whole arrays, in double (logs
    // through vec_log, as the built-in laws take theirs); the same values
    // as features_at gives point by point.
    const ExprProgram& P = *law.prog;
    pr.ed.resize(size_t(P.n_prep + nin) * size_t(std::max(m, 1)));
    double* xin = pr.ed.data() + size_t(P.n_prep) * size_t(std::max(m, 1));
    for (int k = 0; k < nin; ++k)
      for (int i = 0; i < m; ++i) xin[size_t(k) * m + i] = double(pr.xr[k][i]);
    const double* col[kMaxExprNodes];
    for (int j = 0; j < P.n_prep; ++j) {
      const ExprNode& nd = P.prep[j];
      double* out = pr.ed.data() + size_t(j) * m;
      col[j] = out;
      if (nd.op == SC_OP_INPUT) {
        col[j] = xin + size_t(nd.a) * m;
      } else if (nd.op == SC_OP_CONST) {
        for (int i = 0; i < m; ++i) out[i] = nd.c;
      } else if (nd.op == SC_OP_LOG) {
        vec_log(col[nd.a], out, m);
      } else {
        const double* a = col[nd.a];
        const double* b = nd.b >= 0 ? col[nd.b] : nullptr;
        for (int i = 0; i < m; ++i) out[i] = expr_apply(nd, a[i], b ? b[i] : 0.0);
      }
    }
    for (int k = 0; k < nf && !bad; ++k) {
      const double* src = col[P.prep_out[k]];
      for (int i = 0; i < m; ++i) {
        pr.fd[k][i] = T(src[i]);
        bad = bad || !std::isfinite(double(pr.fd[k][i]));  // finite in double, not in float
      }
    }
  } else {
    const auto& tfs = law.transforms;
    for (int k = 0; k < nin && !bad; ++k) {
      if (tfs[k] == SC_TF_LOG) {
        bool nonpos = false;
        for (int i = 0; i < m; ++i) nonpos |= !(pr.xr[k][i] > T(0));
        bad = nonpos;
        if (!bad) vec_log(pr.xr[k], pr.fd[k], m);
      } else {
        for (int i = 0; i < m; ++i) pr.fd[k][i] = pr.xr[k][i];
      }
    }
  }
  if (!bad && o.residual == SC_RESIDUAL_LOG) {
    bool nonpos = false;
    for (int i = 0; i < m; ++i) nonpos |= !(pr.yr[i] > T(0));
    bad = nonpos;
  }
  if (bad) {
    pr.status = SC_STATUS_BAD_INPUT;
    return;
  }
  if (ss) {
    for (int i = 0; i < m; ++i) pr.wd[i] = T(1) / pr.sr[i];
  } else {
    for (int i = 0; i < m; ++i) pr.wd[i] = T(1);
  }
  if (o.residual == SC_RESIDUAL_LOG) {
    vec_log(pr.yr, pr.ytd, m);
  } else {
    for (int i = 0; i < m; ++i) pr.ytd[i] = pr.yr[i];
  }
  for (int i = 0; i < m; ++i) {
    pr.w[i] = pr.wd[i];
    pr.yt[i] = pr.ytd[i];
  }
  pr.m = m;
  if (m < std::max(n_free, 1)) {
    pr.status = SC_STATUS_BAD_INPUT;
    return;
  }
  if (!B.starts && pr.want_guess) default_start(law, pr, pr.guess);
  bool use[kMaxFeatures] = {};
  if (pr.allow_center && o.center && centering_allowed(law, lo, hi)) {
    for (const auto& t : law.center) use[t.feat] = true;
    pr.centered = true;
  }
  for (int k = 0; k < nf; ++k) {
    pr.c[k] = 0.0;
    if (use[k]) {
      double sum = 0;
      for (int i = 0; i < m; ++i) sum += double(pr.fd[k][i]);
      pr.c[k] = sum / m;
    }
    const T c = T(pr.c[k]);
    for (int i = 0; i < m; ++i) pr.feat[k][i] = pr.fd[k][i] - c;
  }
  // Pad to a multiple of 16 with weight-0 copies of the first point (the
  // uncentred copies too: the covariance is evaluated on them).
  for (int i = m; i < pr.mpad16(); ++i) {
    for (int k = 0; k < nf; ++k) {
      pr.feat[k][i] = pr.feat[k][0];
      pr.fd[k][i] = pr.fd[k][0];
    }
    pr.yt[i] = pr.yt[0];
    pr.w[i] = T(0);
    pr.ytd[i] = pr.ytd[0];
    pr.wd[i] = T(0);
  }
}

template <class S>
void bounds_of(const Batch<S>& B, int64_t b, int np, S* lo, S* hi) {
  for (int k = 0; k < np; ++k) {
    lo[k] = B.lo ? B.lo[b * B.bounds_stride_b + k] : S(-HUGE_VAL);
    hi[k] = B.hi ? B.hi[b * B.bounds_stride_b + k] : S(HUGE_VAL);
  }
}

template <class S>
int free_count(const S* lo, const S* hi, int np) {
  int n = 0;
  for (int k = 0; k < np; ++k) n += !(lo[k] == hi[k]);
  return n;
}

// The law's default start from the prepared (not yet centred) points.
template <class T>
void default_start(const Law& law, const Prep<T>& pr, double* g) {
  const int np = law.n_params;
  if (law.id == SC_LAWID_EXPR) {
    for (int k = 0; k < np; ++k) g[k] = 1.0;
    return;
  }
  guess::Points<T> pts;
  pts.m = pr.m;
  for (int k = 0; k < law.n_features; ++k) pts.u[k] = pr.fd[k];
  pts.y = pr.yr;
  pts.w = pr.wd;
  switch (law.id) {
#define SC_LAW(L) \
  case SC_LAWID_##L: L::guess(pts, g); break;
#include "scalecore/fit/laws.def"
#undef SC_LAW
    default: break;
  }
}

// The start of (b, s) in internal coordinates: given, or the law's
// heuristic.  Returns false when it is not finite.
template <class S>
bool start_of(const Law& law, const Batch<S>& B, int64_t b, int s, const Prep<S>& pr, S* p0) {
  const int np = law.n_params;
  double p[kMaxParams];
  if (B.starts) {
    const S* src = B.starts + b * B.starts_stride_b + int64_t(s) * B.starts_stride_s;
    for (int k = 0; k < np; ++k) p[k] = double(src[k]);
  } else {
    for (int k = 0; k < np; ++k) p[k] = pr.guess[k];
  }
  for (int k = 0; k < np; ++k)
    if (!std::isfinite(p[k])) return false;
  if (pr.centered) center_params(law, pr.c, true, p);
  for (int k = 0; k < np; ++k) p0[k] = S(p[k]);
  return all_finite(p0, np);
}

// Sign guards for a centred problem: every SCALE-term parameter must keep
// the sign of its start (a flip means the path entered the degenerate valley
// that centering opens; the problem is then rerun uncentred).
template <class S>
void sign_guards(const Law& law, const Prep<S>& pr, const S* p0, S* sgn) {
  for (int k = 0; k < law.n_params; ++k) sgn[k] = S(0);
  if (!pr.centered) return;
  for (const auto& t : law.center)
    if (t.kind == SC_CT_SCALE && p0[t.param] != S(0)) sgn[t.param] = p0[t.param] > S(0) ? S(1) : S(-1);
}

// Prepares row b and the start of (b, s).  When a start cannot be mapped to
// centred coordinates (overflow), that start runs uncentred; the cache is
// then dropped so that other starts do not depend on it.
template <class S>
bool prepare_start(const Law& law, const Batch<S>& B, int64_t b, int s, const Options& o, const S* lo,
                   const S* hi, Prep<S>& pr, S* p0) {
  const int np = law.n_params;
  prepare(law, B, b, o, lo, hi, free_count(lo, hi, np), pr);
  if (pr.status) return false;
  if (start_of(law, B, b, s, pr, p0)) return true;
  if (!pr.centered) return false;
  pr.row = -1;
  pr.allow_center = false;
  prepare(law, B, b, o, lo, hi, free_count(lo, hi, np), pr);
  pr.allow_center = true;
  const bool ok = !pr.status && start_of(law, B, b, s, pr, p0);
  pr.row = -1;
  return ok;
}

// Points of row b that are neither masked nor NaN in y, an input or sigma
// (what prepare() gathers; used for the rows it rejects).
template <class S>
int32_t count_valid(const Law& law, const Batch<S>& B, int64_t b) {
  const S* ys = B.y.row(b);
  const uint8_t* ms = B.mask.data ? B.mask.row(b) : nullptr;
  const S* ss = B.sigma.data ? B.sigma.row(b) : nullptr;
  int32_t n = 0;
  for (int64_t i = 0; i < B.M; ++i) {
    bool ok = !(ms && !ms[i]) && !std::isnan(double(ys[i])) && !(ss && std::isnan(double(ss[i])));
    for (int k = 0; k < law.n_inputs && ok; ++k) ok = !std::isnan(double(B.x[k].row(b)[i]));
    n += ok;
  }
  return n;
}

// Records row b's point count once (from its first start).
template <class S>
void note_points(const Law& law, const Batch<S>& B, Outputs<S>& out, int64_t q, int m_prepared) {
  if (!out.n_points || q % B.S_count != 0) return;
  const int64_t b = q / B.S_count;
  out.n_points[b] = m_prepared >= 0 ? m_prepared : count_valid(law, B, b);
}

template <class S>
void write_bad(const Law& law, Outputs<S>& out, int64_t q) {
  for (int k = 0; k < law.n_params; ++k) out.params[q * law.n_params + k] = S(NAN);
  out.cost[q] = S(NAN);
  out.status[q] = SC_STATUS_BAD_INPUT;
  out.n_iter[q] = 0;
  out.nfev[q] = 0;
}

// The SIMD kernels of a level: none at the scalar level.
template <class S>
struct SimdFit {
  void (*one)(const LawHandle&, const Options&, OneFit<S>&) = nullptr;         // points mode
  void (*lanes)(const LawHandle&, const Options&, int, LaneSink<S>&) = nullptr;  // fits mode
};
template <class S>
SimdFit<S> simd_fit(SimdLevel lvl) {
  using One = void (*)(const LawHandle&, const Options&, OneFit<S>&);
  using Lanes = void (*)(const LawHandle&, const Options&, int, LaneSink<S>&);
  SimdFit<S> k;
  (void)lvl;
#if defined(SC_HAVE_AVX512_KERNELS)
  if (lvl == SimdLevel::avx512) {
    k.one = static_cast<One>(&fit_one_avx512);
    k.lanes = static_cast<Lanes>(&fit_lanes_avx512);
    return k;
  }
#endif
#if defined(SC_HAVE_AVX2_KERNELS)
  if (lvl == SimdLevel::avx2) {
    k.one = static_cast<One>(&fit_one_avx2);
    k.lanes = static_cast<Lanes>(&fit_lanes_avx2);
  }
#endif
  return k;
}

using EvalNormalFn = void (*)(const LawHandle&, const Options&, const OneFit<double>&, double*, double*, double*);
EvalNormalFn eval_normal_kernel(SimdLevel lvl) {
  (void)lvl;
#if defined(SC_HAVE_AVX512_KERNELS)
  if (lvl == SimdLevel::avx512) return &eval_normal_avx512;
#endif
#if defined(SC_HAVE_AVX2_KERNELS)
  if (lvl == SimdLevel::avx2) return &eval_normal_avx2;
#endif
  return &eval_normal_generic;
}

// Covariance and standard errors of one problem at (external) parameters p,
// from its uncentred prepared points.  Parameters on a bound are held: their
// rows and columns stay NaN; a singular normal matrix gives inf.
template <class S>
void covariance_one(const Law& law, EvalNormalFn eval_normal_fn, const Options& o, const Prep<double>& pr,
                    const double* p, const S* lo, const S* hi, bool absolute_sigma, S* C, S* se) {
  const int np = law.n_params;
  auto fill = [&](double v) {
    if (C) for (int k = 0; k < np * np; ++k) C[k] = S(v);
    for (int k = 0; k < np; ++k) se[k] = S(v);
  };
  fill(NAN);
  OneFit<double> f;
  for (int k = 0; k < law.n_features; ++k) f.feat[k] = pr.fd[k];
  f.yt = pr.ytd;
  f.w = pr.wd;
  f.m = pr.mpad16();
  f.p = const_cast<double*>(p);
  double cost = 0, A[kMaxParams * kMaxParams], g[kMaxParams];
  eval_normal_fn(law.handle(), o, f, &cost, A, g);
  // Free parameters: not on a bound.
  int idx[kMaxParams], nfree = 0;
  for (int k = 0; k < np; ++k)
    if (!(p[k] <= double(lo[k]) || p[k] >= double(hi[k]))) idx[nfree++] = k;
  if (!std::isfinite(cost)) return;
  double Af[kMaxParams * kMaxParams], Cf[kMaxParams * kMaxParams];
  for (int i = 0; i < nfree; ++i)
    for (int j = 0; j < nfree; ++j) Af[i * nfree + j] = A[idx[i] * kMaxParams + idx[j]];
  const bool ok = nfree > 0 && pr.m > nfree && small_spd_inverse(Af, nfree, Cf);
  if (ok) {
    const double s2 = absolute_sigma ? 1.0 : 2.0 * cost / double(pr.m - nfree);
    for (int k = 0; k < nfree * nfree; ++k) Cf[k] *= s2;
  }
  for (int i = 0; i < nfree; ++i) {
    for (int j = 0; j < nfree; ++j)
      if (C) C[idx[i] * np + idx[j]] = S(ok ? Cf[i * nfree + j] : HUGE_VAL);
    se[idx[i]] = S(ok ? sqrt(std::max(Cf[i * nfree + i], 0.0)) : HUGE_VAL);
  }
}

// The fused covariance of problem q (single start) after its fit, from the
// points `pr` still holds; float fits and bad or retried problems have none
// here (the first two use fit_covariance, the last gets it after its rerun).
template <class S>
void fused_covariance(const Law& law, const Batch<S>& B, const Options& o, EvalNormalFn fn, const Prep<S>& pr,
                      Outputs<S>& out, int64_t q) {
  if constexpr (std::is_same<S, double>::value) {
    if (!out.stderr_out) return;
    const int np = law.n_params;
    const int st = out.status[q];
    S* C = out.cov ? out.cov + q * np * np : nullptr;
    S* se = out.stderr_out + q * np;
    if (st == SC_STATUS_RETRY) return;
    double p[kMaxParams];
    bool finite = st != SC_STATUS_BAD_INPUT && pr.status == 0;
    for (int k = 0; k < np; ++k) {
      p[k] = out.params[q * np + k];
      finite = finite && std::isfinite(p[k]);
    }
    if (!finite) {
      if (C) for (int k = 0; k < np * np; ++k) C[k] = NAN;
      for (int k = 0; k < np; ++k) se[k] = NAN;
      return;
    }
    S lo[kMaxParams], hi[kMaxParams];
    bounds_of(B, q, np, lo, hi);
    covariance_one(law, fn, o, pr, p, lo, hi, out.absolute_sigma, C, se);
  } else {
    (void)law; (void)B; (void)o; (void)fn; (void)pr; (void)out; (void)q;
  }
}

// Lane feeding for the fits mode.
template <class S>
struct LaneCtx {
  const Law* law;
  const Batch<S>* B;
  const Options* o;
  Outputs<S>* out;
  int64_t next, end;
  int64_t lane_q[16];
  bool lane_centered[16];
  double lane_c[16][kMaxFeatures];
  Prep<S> prep;
  // Fused covariance (see Outputs::cov): each lane keeps its own prepared
  // points until its result is stored.
  bool fused = false;
  Prep<S> lane_prep[16];
  EvalNormalFn eval_fn = nullptr;
};

template <class S>
bool lane_load(void* vctx, int lane, int W, S* const* feat, S* yt, S* w, int mpad, S* p0, S* lo,
               S* hi, S* sgn) {
  auto& c = *static_cast<LaneCtx<S>*>(vctx);
  const int np = c.law->n_params;
  while (c.next < c.end) {
    const int64_t q = c.next++;
    const int64_t b = q / c.B->S_count;
    const int s = static_cast<int>(q % c.B->S_count);
    bounds_of(*c.B, b, np, lo, hi);
    Prep<S>& pr = c.fused ? c.lane_prep[lane] : c.prep;
    if (!prepare_start(*c.law, *c.B, b, s, *c.o, lo, hi, pr, p0)) {
      write_bad(*c.law, *c.out, q);
      note_points(*c.law, *c.B, *c.out, q, pr.status ? -1 : pr.m);
      if (c.fused) fused_covariance(*c.law, *c.B, *c.o, c.eval_fn, pr, *c.out, q);
      continue;
    }
    note_points(*c.law, *c.B, *c.out, q, pr.m);
    c.lane_centered[lane] = pr.centered;
    sign_guards(*c.law, pr, p0, sgn);
    for (int k = 0; k < c.law->n_features; ++k) c.lane_c[lane][k] = pr.c[k];
    for (int i = 0; i < mpad; ++i) {
      const int src = i < pr.m ? i : 0;
      for (int k = 0; k < c.law->n_features; ++k) feat[k][i * W + lane] = pr.feat[k][src];
      yt[i * W + lane] = pr.yt[src];
      w[i * W + lane] = i < pr.m ? pr.w[src] : S(0);
    }
    c.lane_q[lane] = q;
    return true;
  }
  return false;
}

template <class S>
void lane_store(void* vctx, int lane, const S* p, S cost, int8_t status, int32_t n_iter, int32_t nfev) {
  auto& c = *static_cast<LaneCtx<S>*>(vctx);
  const int64_t q = c.lane_q[lane];
  const int np = c.law->n_params;
  S* dst = c.out->params + q * np;
  for (int k = 0; k < np; ++k) dst[k] = p[k];
  if (c.lane_centered[lane]) center_params(*c.law, c.lane_c[lane], false, dst);
  c.out->cost[q] = cost;
  c.out->status[q] = status;
  c.out->n_iter[q] = n_iter;
  c.out->nfev[q] = nfev;
  if (c.fused) fused_covariance(*c.law, *c.B, *c.o, c.eval_fn, c.lane_prep[lane], *c.out, q);
}

}  // namespace

// ---------------------------------------------------------------------------
// Batch fit
// ---------------------------------------------------------------------------
template <class S>
RunInfo fit_batch(const Law& law, const Batch<S>& B, const Options& o, Outputs<S>& out) {
  const int np = law.n_params;
  const int64_t Q = B.B * int64_t(B.S_count);
  const LawHandle h = law.handle();
  RunInfo info;
  const SimdLevel lvl = simd_level();
  info.level = simd_level_name(lvl);
  const SimdFit<S> kern = simd_fit<S>(lvl);
  const bool fused = std::is_same<S, double>::value && out.stderr_out && B.S_count == 1;
  const EvalNormalFn eval_fn = eval_normal_kernel(lvl);
  Vectorize vec = SC_VEC_AUTO;
  if (kern.one) vec = choose_vectorize(law, B.M, sizeof(S) == 4, o.vectorize);
  info.vectorize = vec == SC_VEC_FITS ? "fits" : vec == SC_VEC_POINTS ? "points" : "none";
  if (Q == 0) return info;

  const int threads = o.n_threads > 0 ? std::min(o.n_threads, num_threads()) : num_threads();
  // Chunks of consecutive problems: enough of them to balance the threads,
  // large enough to amortise preparation.  Results never depend on this.
  const int64_t grain = std::max<int64_t>(1, std::min<int64_t>(256, Q / (int64_t(threads) * 8)));

  parallel_for(Q, grain, [&](int64_t q0, int64_t q1) {
    if (vec == SC_VEC_FITS) {
      LaneCtx<S> ctx;
      ctx.law = &law;
      ctx.B = &B;
      ctx.o = &o;
      ctx.out = &out;
      ctx.next = q0;
      ctx.end = q1;
      ctx.prep.init(law.n_features, law.n_inputs, B.M);
      ctx.fused = fused;
      ctx.eval_fn = eval_fn;
      if (fused)
        for (auto& lp : ctx.lane_prep) lp.init(law.n_features, law.n_inputs, B.M);
      LaneSink<S> sink;
      sink.ctx = &ctx;
      sink.load = &lane_load<S>;
      sink.store = &lane_store<S>;
      kern.lanes(h, o, static_cast<int>(std::max<int64_t>(B.M, 1)), sink);
      return;
    }
    Prep<S> pr;
    pr.init(law.n_features, law.n_inputs, B.M);
    S p[kMaxParams], lo[kMaxParams], hi[kMaxParams];
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t b = q / B.S_count;
      const int s = static_cast<int>(q % B.S_count);
      bounds_of(B, b, np, lo, hi);
      if (!prepare_start(law, B, b, s, o, lo, hi, pr, p)) {
        write_bad(law, out, q);
        note_points(law, B, out, q, pr.status ? -1 : pr.m);
        if (fused) fused_covariance(law, B, o, eval_fn, pr, out, q);
        continue;
      }
      note_points(law, B, out, q, pr.m);
      const bool centered = pr.centered;
      S sgn[kMaxParams];
      sign_guards(law, pr, p, sgn);
      OneFit<S> f;
      for (int k = 0; k < law.n_features; ++k) f.feat[k] = pr.feat[k];
      f.yt = pr.yt;
      f.w = pr.w;
      f.m = pr.mpad16();
      f.p = p;
      f.lo = B.lo ? lo : nullptr;
      f.hi = B.hi ? hi : nullptr;
      f.sgn = sgn;
      if (vec == SC_VEC_POINTS)
        kern.one(h, o, f);
      else
        fit_one_generic(h, o, f);
      if (centered) center_params(law, pr.c, false, p);
      for (int k = 0; k < np; ++k) out.params[q * np + k] = p[k];
      out.cost[q] = f.cost;
      out.status[q] = f.status;
      out.n_iter[q] = f.n_iter;
      out.nfev[q] = f.nfev;
      if (fused) fused_covariance(law, B, o, eval_fn, pr, out, q);
    }
  }, o.n_threads);

  // Problems whose centred run was abandoned run again, uncentred, in a
  // pass of their own (so the outcome does not depend on how the batch was
  // chunked).  Their n_iter/nfev count both runs.
  std::vector<int64_t> retry;
  for (int64_t q = 0; q < Q; ++q)
    if (out.status[q] == SC_STATUS_RETRY) retry.push_back(q);
  if (!retry.empty()) {
    Options ou = o;
    ou.center = false;
    const int64_t rn = static_cast<int64_t>(retry.size());
    parallel_for(rn, std::max<int64_t>(1, std::min<int64_t>(64, rn / (int64_t(threads) * 4))),
                 [&](int64_t r0, int64_t r1) {
      Prep<S> pr;
      pr.init(law.n_features, law.n_inputs, B.M);
      S p[kMaxParams], lo[kMaxParams], hi[kMaxParams];
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t q = retry[r];
        const int64_t b = q / B.S_count;
        const int s = static_cast<int>(q % B.S_count);
        bounds_of(B, b, np, lo, hi);
        if (!prepare_start(law, B, b, s, ou, lo, hi, pr, p)) {
          write_bad(law, out, q);
          if (fused) fused_covariance(law, B, ou, eval_fn, pr, out, q);
          continue;
        }
        OneFit<S> f;
        for (int k = 0; k < law.n_features; ++k) f.feat[k] = pr.feat[k];
        f.yt = pr.yt;
        f.w = pr.w;
        f.m = pr.mpad16();
        f.p = p;
        f.lo = B.lo ? lo : nullptr;
        f.hi = B.hi ? hi : nullptr;
        if (vec != SC_VEC_AUTO)
          kern.one(h, ou, f);
        else
          fit_one_generic(h, ou, f);
        for (int k = 0; k < np; ++k) out.params[q * np + k] = p[k];
        out.cost[q] = f.cost;
        out.status[q] = f.status;
        out.n_iter[q] += f.n_iter;
        out.nfev[q] += f.nfev;
        if (fused) fused_covariance(law, B, ou, eval_fn, pr, out, q);
      }
    }, o.n_threads);
  }
  return info;
}

// ---------------------------------------------------------------------------
// Default starts
// ---------------------------------------------------------------------------
template <class S>
void default_starts(const Law& law, const Batch<S>& B, const Options& o, S* p0) {
  const int np = law.n_params;
  Batch<S> nb = B;
  nb.starts = nullptr;  // prepare() computes the heuristic only without starts
  Options od = o;
  od.center = false;
  const int64_t grain = std::max<int64_t>(1, std::min<int64_t>(256, B.B / (int64_t(num_threads()) * 8)));
  parallel_for(B.B, grain, [&](int64_t b0, int64_t b1) {
    Prep<S> pr;
    pr.init(law.n_features, law.n_inputs, B.M);
    S lo[kMaxParams], hi[kMaxParams];
    for (int64_t b = b0; b < b1; ++b) {
      bounds_of(nb, b, np, lo, hi);
      prepare(law, nb, b, od, lo, hi, free_count(lo, hi, np), pr);
      for (int k = 0; k < np; ++k) p0[b * np + k] = pr.status ? S(NAN) : S(pr.guess[k]);
    }
  });
}

// ---------------------------------------------------------------------------
// Covariance
// ---------------------------------------------------------------------------
// Inverse of a small symmetric positive semi-definite matrix (n <= kMaxParams,
// row-major) for the covariance.  The columns are equilibrated first (unit
// diagonal), so that badly scaled parameters (1e-9 next to 1e3) do not look
// singular; then LDL^T with diagonal pivoting (the largest remaining diagonal
// first, as Eigen::LDLT does).  Numerically singular, and false, when a pivot
// is at or below n eps times the largest.  Plain loops on fixed arrays: at
// n = 5 this is ~10x cheaper than Eigen's dynamic-size LDLT and solve.
bool small_spd_inverse(const double* A, int n, double* inv) {
  double sc[kMaxParams], a[kMaxParams][kMaxParams], d[kMaxParams];
  int perm[kMaxParams];
  for (int i = 0; i < n; ++i) {
    const double di = A[i * n + i];
    if (!(di > 0) || !std::isfinite(di)) return false;
    sc[i] = 1.0 / std::sqrt(di);
    perm[i] = i;
  }
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      a[i][j] = sc[i] * A[i * n + j] * sc[j];
      if (!std::isfinite(a[i][j])) return false;
    }
  // Factor in place: after step k, a[i][k] (i > k) holds L and d[k] the pivot.
  double dmax = 0;
  for (int k = 0; k < n; ++k) {
    int r = k;
    for (int i = k + 1; i < n; ++i)
      if (std::fabs(a[i][i]) > std::fabs(a[r][r])) r = i;
    if (r != k) {
      std::swap(perm[k], perm[r]);
      for (int j = 0; j < n; ++j) std::swap(a[k][j], a[r][j]);
      for (int i = 0; i < n; ++i) std::swap(a[i][k], a[i][r]);
    }
    d[k] = a[k][k];
    dmax = std::max(dmax, std::fabs(d[k]));
    if (!(d[k] > 0)) return false;
    for (int i = k + 1; i < n; ++i) {
      const double l = a[i][k] / d[k];
      for (int j = k + 1; j <= i; ++j) a[i][j] -= l * a[k][j];  // row k still holds the unscaled values
      for (int j = k + 1; j <= i; ++j) a[j][i] = a[i][j];
      a[i][k] = l;
    }
  }
  const double tol = std::numeric_limits<double>::epsilon() * n * std::max(dmax, 1e-300);
  for (int k = 0; k < n; ++k)
    if (!(d[k] > tol)) return false;
  // X = L^-1 (unit lower triangular), then inv = X^T D^-1 X in pivoted order.
  double x[kMaxParams][kMaxParams];
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) {
      double v = i == j ? 1.0 : 0.0;
      for (int k = j; k < i; ++k) v -= a[i][k] * x[k][j];
      x[i][j] = i < j ? 0.0 : v;
    }
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j) {
      double v = 0;
      for (int k = i; k < n; ++k) v += x[k][i] * x[k][j] / d[k];
      const int pi = perm[i], pj = perm[j];
      inv[pi * n + pj] = inv[pj * n + pi] = sc[pi] * v * sc[pj];
    }
  return true;
}

template <class S>
void fit_covariance(const Law& law, const Batch<S>& B, const Options& o, const S* params,
                    bool absolute_sigma, S* cov, S* stderr_out) {
  const int np = law.n_params;
  const int threads = o.n_threads > 0 ? std::min(o.n_threads, num_threads()) : num_threads();
  const int64_t grain = std::max<int64_t>(1, std::min<int64_t>(256, B.B / (int64_t(threads) * 8)));
  const EvalNormalFn eval_normal_fn = eval_normal_kernel(simd_level());
  parallel_for(B.B, grain, [&](int64_t b0, int64_t b1) {
    Prep<double> pr;
    pr.init(law.n_features, law.n_inputs, B.M);
    pr.want_guess = false;  // the parameters are given
    Options od = o;
    od.center = false;
    for (int64_t b = b0; b < b1; ++b) {
      S* C = cov ? cov + b * np * np : nullptr;
      S* se = stderr_out + b * np;
      double p[kMaxParams];
      S lo[kMaxParams], hi[kMaxParams];
      bounds_of(B, b, np, lo, hi);
      bool finite = true;
      for (int k = 0; k < np; ++k) {
        p[k] = double(params[b * np + k]);
        finite = finite && std::isfinite(p[k]);
      }
      prepare(law, B, b, od, lo, hi, free_count(lo, hi, np), pr);
      if (!finite || pr.status) {
        if (C) for (int k = 0; k < np * np; ++k) C[k] = S(NAN);
        for (int k = 0; k < np; ++k) se[k] = S(NAN);
        continue;
      }
      covariance_one(law, eval_normal_fn, od, pr, p, lo, hi, absolute_sigma, C, se);
    }
  }, o.n_threads);
}

// ---------------------------------------------------------------------------
// Prediction
// ---------------------------------------------------------------------------
template <class S>
void law_predict(const Law& law, const View2<S>* x, int n_inputs, int64_t B, int64_t M, const S* params,
                 int64_t params_stride_b, S* out, S* jac) {
  const int np = law.n_params;
  const LawHandle h = law.handle();
  const int64_t grain = std::max<int64_t>(1, std::min<int64_t>(256, B / (int64_t(num_threads()) * 8)));
  parallel_for(B, grain, [&](int64_t b0, int64_t b1) {
    const int nf = law.n_features;
    std::vector<double> feat(size_t(nf) * size_t(std::max<int64_t>(M, 1)));
    std::vector<double> vals(size_t(std::max<int64_t>(M, 1)));
    std::vector<char> okv(size_t(std::max<int64_t>(M, 1)));
    std::vector<double> J(jac ? size_t(std::max<int64_t>(M, 1)) * np : 0);
    const double* fp[kMaxFeatures];
    for (int k = 0; k < nf; ++k) fp[k] = feat.data() + size_t(k) * M;
    double xs[kMaxInputs], fs[kMaxFeatures], p[kMaxParams];
    for (int64_t b = b0; b < b1; ++b) {
      for (int k = 0; k < np; ++k) p[k] = double(params[b * params_stride_b + k]);
      for (int64_t i = 0; i < M; ++i) {
        for (int k = 0; k < n_inputs; ++k) xs[k] = double(x[k].row(b)[i]);
        okv[i] = features_at(law, xs, fs);
        for (int k = 0; k < nf; ++k) feat[size_t(k) * M + i] = okv[i] ? fs[k] : 1.0;
      }
      law_values_generic(h, fp, static_cast<int>(M), p, vals.data(), jac ? J.data() : nullptr);
      for (int64_t i = 0; i < M; ++i) out[b * M + i] = okv[i] ? S(vals[i]) : S(NAN);
      if (jac)
        for (int64_t i = 0; i < M; ++i)
          for (int k = 0; k < np; ++k) jac[(b * M + i) * np + k] = okv[i] ? S(J[i * np + k]) : S(NAN);
    }
  });
}

template RunInfo fit_batch<double>(const Law&, const Batch<double>&, const Options&, Outputs<double>&);
template RunInfo fit_batch<float>(const Law&, const Batch<float>&, const Options&, Outputs<float>&);
template void fit_covariance<double>(const Law&, const Batch<double>&, const Options&, const double*, bool,
                                     double*, double*);
template void fit_covariance<float>(const Law&, const Batch<float>&, const Options&, const float*, bool,
                                    float*, float*);
template void default_starts<double>(const Law&, const Batch<double>&, const Options&, double*);
template void default_starts<float>(const Law&, const Batch<float>&, const Options&, float*);
template void law_predict<double>(const Law&, const View2<double>*, int, int64_t, int64_t, const double*,
                                  int64_t, double*, double*);
template void law_predict<float>(const Law&, const View2<float>*, int, int64_t, int64_t, const float*,
                                 int64_t, float*, float*);

}  // namespace fit
}  // namespace sc
