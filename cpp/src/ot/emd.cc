// Exact OT drivers: batched network simplex (emd), exact 1-D OT by sorting
// and sliced Wasserstein.  Each problem is validated on its own and reports
// its own status; problems of a batch run in parallel (one per thread).
#include <math.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "lap.h"
#include "network_simplex.h"
#include "transport_ssp.h"
#include "ot_internal.h"
#include "scalecore/common/threads.h"
#include "scalecore/ot/ot.h"

namespace sc {
namespace ot {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kMassTol = 1e-6;  // relative mass mismatch allowed (POT's emd: 6 decimals)

// Weights usable: finite and >= 0.  Sets *sum.
bool weights_ok(const double* w, int64_t n, double* sum) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!(w[i] >= 0) || !std::isfinite(w[i])) return false;
    s += w[i];
  }
  *sum = s;
  return true;
}

// Shifts f, g by a constant so that sum a f = sum b g (POT's center_ot_dual).
void center_duals(double* f, double* g, const double* a, const double* b, int64_t n, int64_t m) {
  double sa = 0, sb = 0, af = 0, bg = 0;
  for (int64_t i = 0; i < n; ++i) {
    sa += a[i];
    af += a[i] * f[i];
  }
  for (int64_t j = 0; j < m; ++j) {
    sb += b[j];
    bg += b[j] * g[j];
  }
  if (sa + sb <= 0) return;
  const double c = (bg - af) / (sa + sb);
  for (int64_t i = 0; i < n; ++i) f[i] += c;
  for (int64_t j = 0; j < m; ++j) g[j] -= c;
}

// Successive shortest paths only when asked for (solver = SSP): measured
// against the network simplex on random-weight problems of n = m = 16..256
// (bench/bench_ot.py ot_emd_choice), SSP was 2.7x slower at 16 and 9-25x
// slower from 64 up (its searches come to label most rows once the demand
// left is concentrated on a few sinks: O(n^3) against the simplex's ~1.6 n
// pivots), so the automatic choice is the simplex at every size.
bool use_ssp(const EmdOptions& o, int, int) { return o.solver == SC_OT_EMD_SSP && o.max_iter <= 0; }

struct EmdWork {
  NetworkSimplex ns;
  TransportSSP ssp;
  Prefetch next;  // the next problem's costs
  LapWork lap;
  std::vector<double> C, a, b, f, g;
  std::vector<int32_t> I, J, rows, cols;
  std::vector<double> vals;
};

// Dual feasibility of the simplex's duals on the scale of the costs.  The
// basis' potentials are exact differences along tree paths, but when a
// zero-flow basic arc has a huge cost (1e8..1e10 written for forbidden pairs
// between classes that exchange no mass) the potentials of whole parts of the
// tree sit that far apart, and their rounding (1e-6 at 1e10; centring the
// duals adds as much) reaches every reduced cost there.  So when the
// potentials exceed 64x the support's largest cost the duals are rebuilt:
// exact potentials within each connected part of the plan's support (which
// alone must be tight), and one offset per part from the difference
// constraints o_q - o_p <= min over arcs from part p to part q of (C_ij - f_i
// - g_j) (Bellman-Ford from 0), which keeps every arc feasible and the
// offsets at the size of the real costs.  The result is then checked against
// 1e-12 x the support's cost scale on every arc, huge ones included; returns
// false if a violation remains (status dual_infeasible).
bool check_duals(const double* C, int64_t ldc, int n, int m, const OtKernels<double>& K, EmdWork& w) {
  const double smax = w.ns.support_max_cost();
  double pmax = 0;
  for (int i = 0; i < n; ++i) pmax = std::max(pmax, std::fabs(w.f[i]));
  for (int j = 0; j < m; ++j) pmax = std::max(pmax, std::fabs(w.g[j]));
  if (!(pmax > 64 * smax)) return true;
  w.rows.resize(n + m);
  w.cols.resize(n + m);
  w.vals.resize(n + m);
  const int64_t nnz = w.ns.plan(w.rows.data(), w.cols.data(), w.vals.data());
  const double tol = 1e-12 * smax;
  std::vector<double> negf(n);
  auto min_reduced = [&](int64_t* arg) {
    for (int i = 0; i < n; ++i) negf[i] = -w.f[i];
    return K.emd_price_rows(C, ldc, m, negf.data(), w.g.data(), 0, n, arg);  // min C_ij - f_i - g_j
  };
  int64_t arg = -1;
  // (On the support's scale, also on the huge arcs: f + g <= M there too.)
  auto ok_at = [&](double r, int64_t a) { return a < 0 || r >= -tol; };
  // Parts of the support (breadth first) and exact potentials within each.
  const int N = n + m;
  std::vector<int> part(N, -1), first(N, -1), next(2 * nnz), adj(2 * nnz), order;
  for (int64_t k = 0; k < nnz; ++k) {
    const int i = w.rows[k], j = n + w.cols[k];
    adj[2 * k] = static_cast<int>(k);
    next[2 * k] = first[i];
    first[i] = static_cast<int>(2 * k);
    adj[2 * k + 1] = static_cast<int>(k);
    next[2 * k + 1] = first[j];
    first[j] = static_cast<int>(2 * k + 1);
  }
  std::vector<double> f0(n, 0.0), g0(m, 0.0);
  int P = 0;
  std::vector<char> seen(N, 0);
  for (int s0 = 0; s0 < N; ++s0) {
    if (seen[s0]) continue;
    const int p = P++;
    order.assign(1, s0);
    seen[s0] = 1;
    if (s0 < n) f0[s0] = 0;
    else g0[s0 - n] = 0;
    for (size_t h = 0; h < order.size(); ++h) {
      const int v = order[h];
      part[v] = p;
      for (int e = first[v]; e >= 0; e = next[e]) {
        const int k = adj[e], i = w.rows[k], j = w.cols[k];
        const int u = v < n ? n + j : i;
        if (seen[u]) continue;
        seen[u] = 1;
        const double c = C[i * ldc + j];
        if (u < n) f0[i] = c - g0[j];
        else g0[j] = c - f0[i];
        order.push_back(u);
      }
    }
  }
  // Offsets: difference constraints between the parts.
  std::vector<double> W(static_cast<size_t>(P) * P, std::numeric_limits<double>::infinity());
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) {
      double& e = W[static_cast<size_t>(part[i]) * P + part[n + j]];
      e = std::min(e, C[i * ldc + j] - f0[i] - g0[j]);
    }
  // (Self-loops only restate the parts' own feasibility, checked below;
  // improvements below tol are rounding, so rounding-level cycles end.)
  std::vector<double> o(P, 0.0);
  bool changed = true;
  for (int it = 0; it <= P && changed; ++it) {
    changed = false;
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < P; ++q) {
        if (p == q) continue;
        const double c = o[p] + W[static_cast<size_t>(p) * P + q];
        if (c < o[q] - tol) {
          o[q] = c;
          changed = true;
        }
      }
  }
  if (changed) return false;  // a negative cycle: the plan is not optimal
  for (int i = 0; i < n; ++i) w.f[i] = f0[i] - o[part[i]];
  for (int j = 0; j < m; ++j) w.g[j] = g0[j] + o[part[n + j]];
  const double r = min_reduced(&arg);
  return ok_at(r, arg);
}

template <class S>
void emd_one(const EmdBatch<S>& bt, const EmdOptions& o, const EmdBatchOut& out, int64_t pb,
             const OtKernels<double>& K, const OtKernels<S>& KS, EmdWork& w) {
  const int64_t n = bt.n_b ? bt.n_b[pb] : bt.nmax, m = bt.m_b ? bt.m_b[pb] : bt.mmax;
  const int64_t cap = bt.nmax + bt.mmax - 1 > 0 ? bt.nmax + bt.mmax - 1 : 0;
  const S* C = bt.C + pb * bt.c_stride;
  const double* a = bt.a + pb * bt.a_stride;
  const double* b = bt.b + pb * bt.b_stride;
  double* f = out.f + pb * bt.nmax;
  double* g = out.g + pb * bt.mmax;
  int32_t* prow = out.plan_rows ? out.plan_rows + pb * cap : nullptr;
  int32_t* pcol = out.plan_cols ? out.plan_cols + pb * cap : nullptr;
  double* pval = out.plan_vals ? out.plan_vals + pb * cap : nullptr;
  auto finish = [&](int8_t st, double cost, int64_t nnz, int64_t iters, double fill) {
    out.status[pb] = st;
    out.cost[pb] = cost;
    if (out.n_iter) out.n_iter[pb] = iters;
    if (out.plan_nnz) out.plan_nnz[pb] = nnz;
    if (fill == fill || st != SC_OT_STATUS_CONVERGED) {
      if (st != SC_OT_STATUS_CONVERGED && st != SC_OT_STATUS_MAX_ITER && st != SC_OT_STATUS_DUAL_INFEASIBLE) {
        for (int64_t i = 0; i < bt.nmax; ++i) f[i] = fill;
        for (int64_t j = 0; j < bt.mmax; ++j) g[j] = fill;
      }
    }
    if (prow)
      for (int64_t k = nnz; k < cap; ++k) {
        prow[k] = -1;
        pcol[k] = -1;
        pval[k] = 0;
      }
  };
  double sa = 0, sb = 0;
  if (!weights_ok(a, n, &sa) || !weights_ok(b, m, &sb)) return finish(SC_OT_STATUS_BAD_INPUT, kNaN, 0, 0, kNaN);
  double cmax = 0;
  if (!KS.finite_absmax(C, bt.mmax, n, m, &cmax)) return finish(SC_OT_STATUS_BAD_INPUT, kNaN, 0, 0, kNaN);
  if (n == 0 || m == 0 || sa <= 0 || sb <= 0) return finish(SC_OT_STATUS_DEGENERATE, 0.0, 0, 0, 0.0);
  if (std::fabs(sa - sb) > kMassTol * std::max(sa, sb)) return finish(SC_OT_STATUS_INFEASIBLE, kNaN, 0, 0, kNaN);
  // Compact away zero weights; rescale b to a's mass (as POT's emd does).
  w.I.clear();
  w.J.clear();
  for (int64_t i = 0; i < n; ++i)
    if (a[i] > 0) w.I.push_back(static_cast<int32_t>(i));
  for (int64_t j = 0; j < m; ++j)
    if (b[j] > 0) w.J.push_back(static_cast<int32_t>(j));
  const int n2 = static_cast<int>(w.I.size()), m2 = static_cast<int>(w.J.size());
  w.a.resize(n2);
  w.b.resize(m2);
  for (int i = 0; i < n2; ++i) w.a[i] = a[w.I[i]];
  const double scale = sa / sb;
  for (int j = 0; j < m2; ++j) w.b[j] = b[w.J[j]] * scale;
  const double* Cd;
  int64_t ldc;
  if (std::is_same<S, double>::value && n2 == n && m2 == m) {
    Cd = reinterpret_cast<const double*>(C);
    ldc = bt.mmax;
  } else {
    w.C.resize(static_cast<size_t>(n2) * m2);
    for (int i = 0; i < n2; ++i)
      for (int j = 0; j < m2; ++j) w.C[static_cast<size_t>(i) * m2 + j] = double(C[w.I[i] * bt.mmax + w.J[j]]);
    Cd = w.C.data();
    ldc = m2;
  }
  int64_t pivots = 0;
  int8_t st = SC_OT_STATUS_CONVERGED;
  w.f.resize(n2);
  w.g.resize(m2);
  bool uniform = o.assignment && n2 == m2;
  for (int i = 1; i < n2 && uniform; ++i) uniform = w.a[i] == w.a[0];
  for (int j = 1; j < m2 && uniform; ++j) uniform = w.b[j] == w.b[0];
  double cost = 0;
  if (uniform) {
    // An assignment problem: P = a_0 on a permutation.
    w.rows.resize(n2);
    lap_jv(Cd, ldc, n2, w.rows.data(), w.f.data(), w.g.data(), w.lap, K, &w.next);
    for (int i = 0; i < n2; ++i) cost += w.a[0] * Cd[i * ldc + w.rows[i]];
  } else if (use_ssp(o, n2, m2)) {
    st = w.ssp.solve(Cd, ldc, n2, m2, w.a.data(), w.b.data(), K, &w.next);
    w.ssp.duals(w.f.data(), w.g.data());
    cost = w.ssp.cost();
    pivots = w.ssp.augmentations();
  } else {
    st = w.ns.solve(Cd, ldc, n2, m2, w.a.data(), w.b.data(), cmax, o.max_iter, o.block_size, o.start, K,
                    &pivots, &w.next);
    if (w.ns.artificial_flow() > 1e-9 * sa && st == SC_OT_STATUS_CONVERGED) st = SC_OT_STATUS_INFEASIBLE;
    w.ns.duals(w.f.data(), w.g.data());
    cost = w.ns.cost();
    if (st == SC_OT_STATUS_CONVERGED && !check_duals(Cd, ldc, n2, m2, K, w)) st = SC_OT_STATUS_DUAL_INFEASIBLE;
  }
  // Duals: the solver's on the support, c-transforms for zero-weight points.
  const double inf = std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < m; ++j) g[j] = inf;
  for (int j = 0; j < m2; ++j) g[w.J[j]] = w.g[j];
  for (int64_t i = 0; i < n; ++i) f[i] = inf;
  for (int i = 0; i < n2; ++i) f[w.I[i]] = w.f[i];
  for (int64_t i = 0; i < n; ++i) {
    if (a[i] > 0) continue;
    double v = inf;
    for (int j = 0; j < m2; ++j) v = std::min(v, double(C[i * bt.mmax + w.J[j]]) - w.g[j]);
    f[i] = v;
  }
  for (int64_t j = 0; j < m; ++j) {
    if (b[j] > 0) continue;
    double v = inf;
    for (int64_t i = 0; i < n; ++i) v = std::min(v, double(C[i * bt.mmax + j]) - f[i]);
    g[j] = v;
  }
  center_duals(f, g, a, b, n, m);
  for (int64_t i = n; i < bt.nmax; ++i) f[i] = kNaN;
  for (int64_t j = m; j < bt.mmax; ++j) g[j] = kNaN;
  int64_t nnz = 0;
  if (prow && uniform) {
    for (int i = 0; i < n2; ++i) {  // rows in order: already canonical
      prow[i] = w.I[i];
      pcol[i] = w.J[w.rows[i]];
      pval[i] = w.a[0];
    }
    nnz = n2;
  } else if (prow) {
    // The solver lists the plan sorted by (row, column): a canonical,
    // thread-independent order.
    w.rows.resize(n2 + m2);
    w.cols.resize(n2 + m2);
    w.vals.resize(n2 + m2);
    nnz = use_ssp(o, n2, m2) ? w.ssp.plan(w.rows.data(), w.cols.data(), w.vals.data())
                             : w.ns.plan(w.rows.data(), w.cols.data(), w.vals.data());
    for (int64_t k = 0; k < nnz; ++k) {
      prow[k] = w.I[w.rows[k]];
      pcol[k] = w.J[w.cols[k]];
      pval[k] = w.vals[k];
    }
  }
  finish(st, cost, nnz, pivots, 0.0);
}

}  // namespace

template <class S>
void ot_emd(const EmdBatch<S>& bt, const EmdOptions& o, const EmdBatchOut& out, int impl) {
  const OtKernels<double>& K = ot_kernels<double>(impl);
  const OtKernels<S>& KS = ot_kernels<S>(impl);
  const int64_t grain = bt.B >= 1024 ? 64 : bt.B >= 64 ? 8 : 1;
  // Small problems of a batch: the next problem's costs are prefetched
  // while this one is solved.
  const int64_t cbytes = bt.nmax * bt.mmax * static_cast<int64_t>(sizeof(S));
  const bool prefetch = bt.c_stride != 0 && cbytes <= (int64_t(1) << 20);
  parallel_for(bt.B, grain, [&](int64_t p0, int64_t p1) {
    EmdWork w;
    for (int64_t pb = p0; pb < p1; ++pb) {
      w.next.reset(prefetch && pb + 1 < p1 ? bt.C + (pb + 1) * bt.c_stride : nullptr, cbytes);
      emd_one(bt, o, out, pb, K, KS, w);
    }
  }, o.n_threads);
}
template void ot_emd<double>(const EmdBatch<double>&, const EmdOptions&, const EmdBatchOut&, int);
template void ot_emd<float>(const EmdBatch<float>&, const EmdOptions&, const EmdBatchOut&, int);

// ---------------------------------------------------------------------------
// 1-D
// ---------------------------------------------------------------------------
namespace {

inline double cost1d(double x, double y, double p) {
  const double d = std::fabs(x - y);
  return p == 1.0 ? d : p == 2.0 ? d * d : std::pow(d, p);
}

// Sort order of v (ties by index: a canonical order).
template <class T>
void argsort(const T* v, int64_t n, std::vector<int64_t>& ord) {
  ord.resize(n);
  std::iota(ord.begin(), ord.end(), 0);
  std::sort(ord.begin(), ord.end(), [&](int64_t i, int64_t j) { return v[i] != v[j] ? v[i] < v[j] : i < j; });
}

struct Work1d {
  std::vector<int64_t> ox, oy;
  std::vector<double> px, py;
};

// The monotone (north-west corner on sorted supports) plan, which is optimal
// for convex costs |x - y|^p, p >= 1; the duals follow the staircase basis.
// Returns the cost; when f/g are given fills the duals, when rows is given
// the positive entries of the plan.
template <class T>
double solve_1d(const T* x, const T* y, int64_t n, int64_t m, const double* a, const double* b, double p,
                Work1d& w, double* f, double* g, int32_t* rows, int32_t* cols, double* vals, int64_t* nnz) {
  argsort(x, n, w.ox);
  argsort(y, m, w.oy);
  double sa = 0, sb = 0;
  for (int64_t i = 0; i < n; ++i) sa += a ? a[i] : 1.0 / n;
  for (int64_t j = 0; j < m; ++j) sb += b ? b[j] : 1.0 / m;
  const double scale = sa / sb;
  auto wa = [&](int64_t i) { return a ? a[i] : 1.0 / n; };
  auto wb = [&](int64_t j) { return (b ? b[j] : 1.0 / m) * scale; };
  int64_t i = 0, j = 0, k = 0;
  double ra = wa(w.ox[0]), rb = wb(w.oy[0]), cost = 0;
  if (f) {
    f[w.ox[0]] = 0;
    g[w.oy[0]] = cost1d(x[w.ox[0]], y[w.oy[0]], p);
  }
  for (;;) {
    const int64_t xi = w.ox[i], yj = w.oy[j];
    const double mv = std::min(ra, rb);
    if (mv > 0) {
      cost += mv * cost1d(x[xi], y[yj], p);
      if (rows) {
        rows[k] = static_cast<int32_t>(xi);
        cols[k] = static_cast<int32_t>(yj);
        vals[k] = mv;
        ++k;
      }
    }
    ra -= mv;
    rb -= mv;
    if (i == n - 1 && j == m - 1) break;
    // Advance the exhausted side(s): min() leaves exactly 0 on at least one.
    // At the end of one side only the other can advance (what is left there
    // is the rounding of the two sums).
    bool di = ra <= 0, dj = rb <= 0;
    if (di && i == n - 1) {
      di = false;
      dj = true;
    }
    if (dj && j == m - 1) {
      dj = false;
      di = true;
    }
    if (dj) {
      ++j;
      rb += wb(w.oy[j]);
      if (f) g[w.oy[j]] = cost1d(x[w.ox[i]], y[w.oy[j]], p) - f[w.ox[i]];
    }
    if (di) {
      ++i;
      ra += wa(w.ox[i]);
      if (f) f[w.ox[i]] = cost1d(x[w.ox[i]], y[w.oy[j]], p) - g[w.oy[j]];
    }
  }
  if (nnz) *nnz = k;
  return cost;
}

}  // namespace

template <class S>
void ot_emd_1d(const Emd1dArgs<S>& A, const Emd1dOut& out, int n_threads) {
  const int64_t cap = A.n + A.m - 1 > 0 ? A.n + A.m - 1 : 0;
  parallel_for(A.B, A.B >= 64 ? 16 : 1, [&](int64_t p0, int64_t p1) {
    Work1d w;
    for (int64_t pb = p0; pb < p1; ++pb) {
      const S* x = A.x + pb * A.x_stride;
      const S* y = A.y + pb * A.y_stride;
      const double* a = A.a ? A.a + pb * A.a_stride : nullptr;
      const double* b = A.b ? A.b + pb * A.b_stride : nullptr;
      double* f = out.f ? out.f + pb * A.n : nullptr;
      double* g = out.g ? out.g + pb * A.m : nullptr;
      int32_t* rows = out.plan_rows ? out.plan_rows + pb * cap : nullptr;
      int32_t* cols = out.plan_cols ? out.plan_cols + pb * cap : nullptr;
      double* vals = out.plan_vals ? out.plan_vals + pb * cap : nullptr;
      int8_t st = SC_OT_STATUS_CONVERGED;
      double sa = 0, sb = 0;
      bool ok = true;
      for (int64_t i = 0; i < A.n; ++i) ok = ok && std::isfinite(double(x[i]));
      for (int64_t j = 0; j < A.m; ++j) ok = ok && std::isfinite(double(y[j]));
      if (a && !weights_ok(a, A.n, &sa)) ok = false;
      if (b && !weights_ok(b, A.m, &sb)) ok = false;
      if (!a) sa = A.n > 0 ? 1.0 : 0.0;
      if (!b) sb = A.m > 0 ? 1.0 : 0.0;
      int64_t nnz = 0;
      double cost = kNaN;
      if (!ok) {
        st = SC_OT_STATUS_BAD_INPUT;
      } else if (A.n == 0 || A.m == 0 || sa <= 0 || sb <= 0) {
        st = SC_OT_STATUS_DEGENERATE;
        cost = 0;
      } else if (std::fabs(sa - sb) > kMassTol * std::max(sa, sb)) {
        st = SC_OT_STATUS_INFEASIBLE;
      } else {
        cost = solve_1d(x, y, A.n, A.m, a, b, A.p, w, f, g, rows, cols, vals, &nnz);
        if (f) {
          std::vector<double> ua, ub;
          const double* aa = a;
          const double* bb = b;
          if (!a) {
            ua.assign(A.n, 1.0 / A.n);
            aa = ua.data();
          }
          if (!b) {
            ub.assign(A.m, 1.0 / A.m);
            bb = ub.data();
          }
          center_duals(f, g, aa, bb, A.n, A.m);
        }
      }
      if (st != SC_OT_STATUS_CONVERGED) {
        if (f)
          for (int64_t i = 0; i < A.n; ++i) f[i] = st == SC_OT_STATUS_DEGENERATE ? 0.0 : kNaN;
        if (g)
          for (int64_t j = 0; j < A.m; ++j) g[j] = st == SC_OT_STATUS_DEGENERATE ? 0.0 : kNaN;
      }
      if (rows)
        for (int64_t k = nnz; k < cap; ++k) {
          rows[k] = -1;
          cols[k] = -1;
          vals[k] = 0;
        }
      if (out.plan_nnz) out.plan_nnz[pb] = nnz;
      out.cost[pb] = cost;
      out.status[pb] = st;
    }
  }, n_threads);
}
template void ot_emd_1d<double>(const Emd1dArgs<double>&, const Emd1dOut&, int);
template void ot_emd_1d<float>(const Emd1dArgs<float>&, const Emd1dOut&, int);

template <class S>
void ot_sliced(const S* x, const S* y, int64_t n, int64_t m, int64_t d, const double* a, const double* b,
               const double* dirs, int64_t K, double p, double* out, int n_threads) {
  parallel_for(K, 4, [&](int64_t k0, int64_t k1) {
    Work1d w;
    std::vector<double> px(n), py(m);
    for (int64_t k = k0; k < k1; ++k) {
      for (int64_t i = 0; i < n; ++i) {
        double s = 0;
        for (int64_t t = 0; t < d; ++t) s += double(x[i * d + t]) * dirs[t * K + k];
        px[i] = s;
      }
      for (int64_t j = 0; j < m; ++j) {
        double s = 0;
        for (int64_t t = 0; t < d; ++t) s += double(y[j * d + t]) * dirs[t * K + k];
        py[j] = s;
      }
      out[k] = solve_1d(px.data(), py.data(), n, m, a, b, p, w, nullptr, nullptr, nullptr, nullptr, nullptr,
                        nullptr);
    }
  }, n_threads);
}
template void ot_sliced<double>(const double*, const double*, int64_t, int64_t, int64_t, const double*,
                                const double*, const double*, int64_t, double, double*, int);
template void ot_sliced<float>(const float*, const float*, int64_t, int64_t, int64_t, const double*,
                               const double*, const double*, int64_t, double, double*, int);

}  // namespace ot
}  // namespace sc
