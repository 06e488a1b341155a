// Successive shortest paths for small dense transportation problems (see
// transport_ssp.h).
#include "transport_ssp.h"

#include <math.h>

#include <algorithm>
#include <limits>

#include "scalecore/ot/types.h"

namespace sc {
namespace ot {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

void TransportSSP::push(int i, int j, double delta) {
  double& xi = x(i, j);
  if (xi == 0) {
    arcs_.push_back(i * m_ + j);
    ++cnt_[j];
  }
  xi += delta;
}

int8_t TransportSSP::solve(const double* C, int64_t ldc, int n, int m, const double* a, const double* b,
                           const OtKernels<double>& K, Prefetch* prefetch) {
  Prefetch none;
  Prefetch& pf = prefetch ? *prefetch : none;
  C_ = C;
  ldc_ = ldc;
  n_ = n;
  m_ = m;
  aug_ = 0;
  double mass = 0;
  for (int i = 0; i < n; ++i) mass += a[i];
  // Supplies, demands and flows below this are rounding (sums of n + m terms).
  tiny_ = 4.0 * (n + m + 1) * std::numeric_limits<double>::epsilon() * mass;
  u_.resize(n);
  v_.assign(m, kInf);
  sup_.assign(a, a + n);
  dem_.assign(b, b + m);
  xt_.assign(static_cast<size_t>(n) * m, 0.0);
  cnt_.assign(m, 0);
  arcs_.clear();
  colarg_.assign(m, -1.0);
  // Column reduction, then row reduction: reduced costs >= 0; each column's
  // first minimum row i has C_ij - v_j = 0 and so u_i = 0 (a tight arc).
  for (int i = 0; i < n; ++i) K.col_min(C + i * ldc, m, double(i), v_.data(), colarg_.data());
  predsrc_.resize(n);  // (the rows' minimum columns, for the greedy start)
  for (int i = 0; i < n; ++i) {
    double u1, u2;
    int64_t j1, j2;
    K.row_min2(C + i * ldc, v_.data(), m, &u1, &j1, &u2, &j2);
    u_[i] = u1;
    predsrc_[i] = static_cast<int32_t>(j1);
  }
  // Greedy flow on those tight arcs.
  auto greedy = [&](int i, int j) {
    if (!(sup_[i] > tiny_) || !(dem_[j] > tiny_)) return;
    const double delta = std::min(sup_[i], dem_[j]);
    push(i, j, delta);
    sup_[i] -= delta;
    dem_[j] -= delta;
  };
  for (int j = 0; j < m; ++j) greedy(static_cast<int>(colarg_[j]), j);
  for (int i = 0; i < n; ++i) greedy(i, predsrc_[i]);

  d_.resize(m);
  mask_.resize(m);
  pred_.resize(m);
  dsrc_.resize(n);
  stamp_.assign(n, 0);
  settled_.resize(m);
  labeled_.resize(n);
  int32_t epoch = 0;
  double left = 0;  // supply no sink could take (rounding of the masses)
  const double* v = v_.data();
  for (int s = 0; s < n; ++s) {
    while (sup_[s] > tiny_) {
      ++epoch;
      std::fill(d_.begin(), d_.end(), kInf);
      std::fill(mask_.begin(), mask_.end(), 0.0);
      double* d = d_.data();
      double* mask = mask_.data();
      int32_t* pred = pred_.data();
      stamp_[s] = epoch;
      dsrc_[s] = 0;
      int nl = 0, ns = 0;
      labeled_[nl++] = s;
      int64_t jmin = -1;
      double mn = K.lap_relax(C + s * ldc, v, u_[s], m, mask, d, pred, s, &jmin);
      // Settle sinks in order of distance until one has demand left.
      while (jmin >= 0 && !(dem_[jmin] > tiny_)) {
        const int j = static_cast<int>(jmin);
        mask[j] = kInf;
        settled_[ns++] = j;
        bool relaxed = false;
        if (cnt_[j] > 0) {
          const double* col = xt_.data() + static_cast<size_t>(j) * n;
          const double dj = mn;
          for (int i = 0; i < n; ++i) {
            if (!(col[i] > 0) || stamp_[i] == epoch) continue;
            stamp_[i] = epoch;
            dsrc_[i] = dj;
            predsrc_[i] = j;
            labeled_[nl++] = i;
            mn = K.lap_relax(C + i * ldc, v, u_[i] - dj, m, mask, d, pred, i, &jmin);
            relaxed = true;
          }
        }
        // (u1 = -inf relaxes nothing: the next minimum only.)
        if (!relaxed) mn = K.lap_relax(C + s * ldc, v, -kInf, m, mask, d, pred, s, &jmin);
        pf.step(1);
      }
      if (jmin < 0) {
        // No sink has demand left: the rest of this supply is the masses'
        // rounding.
        left += sup_[s];
        sup_[s] = 0;
        break;
      }
      const int t = static_cast<int>(jmin);
      // Duals: settled sinks and labelled sources move by their distance's
      // shortfall from the path's; reduced costs stay >= 0, the path is tight.
      for (int q = 0; q < ns; ++q) v_[settled_[q]] += d[settled_[q]] - mn;
      for (int q = 0; q < nl; ++q) u_[labeled_[q]] += mn - dsrc_[labeled_[q]];
      // Bottleneck: supply, demand and the flows on the reverse arcs.
      double delta = std::min(sup_[s], dem_[t]);
      for (int i = pred[t]; i != s;) {
        const int j = predsrc_[i];
        delta = std::min(delta, xv(i, j));
        i = pred[j];
      }
      for (int k = t, i = pred[t];;) {
        push(i, k, delta);
        if (i == s) break;
        const int j = predsrc_[i];
        double& xr = x(i, j);
        xr -= delta;
        if (xr <= tiny_) {
          xr = 0;
          --cnt_[j];
        }
        k = j;
        i = pred[j];
      }
      sup_[s] -= delta;
      dem_[t] -= delta;
      ++aug_;
    }
  }
  make_basic();
  cost_ = 0;
  for (const int32_t k : arcs_) cost_ += xv(k / m, k % m) * C[(k / m) * ldc + k % m];
  return left > 1e-9 * mass ? SC_OT_STATUS_INFEASIBLE : SC_OT_STATUS_CONVERGED;
}

// The support (arcs_ may repeat an arc, or list one whose flow went back to
// 0) -> the distinct arcs of positive flow, with every cycle cancelled.  An
// arc closing a cycle in the forest built so far (union-find) is cancelled
// with the forest path between its ends: flow moves round the cycle until the
// least flow on the arcs that lose (the closing one among them) is 0.  All
// arcs of the support are tight (C_ij = u_i + v_j), so the cost is the same.
// Cycles only arise from ties; after one is cancelled the forest is rebuilt.
void TransportSSP::make_basic() {
  const int n = n_, m = m_, N = n + m;
  // Distinct positive arcs: mark visited ones by negating their flow.
  arcs2_.clear();
  for (const int32_t k : arcs_) {
    double& xk = x(k / m, k % m);
    if (xk > 0) {
      arcs2_.push_back(k);
      xk = -xk;
    }
  }
  for (const int32_t k : arcs2_) {
    double& xk = x(k / m, k % m);
    xk = -xk;
  }
  arcs_.swap(arcs2_);
  uf_.resize(N);
  adj_first_.resize(N);
  adj_next_.resize(2 * N);
  adj_arc_.resize(2 * N);
  bfs_.resize(N);
  bfs_from_.resize(N);
  for (bool again = true; again;) {
    again = false;
    for (int q = 0; q < N; ++q) {
      uf_[q] = q;
      adj_first_[q] = -1;
    }
    auto find = [&](int q) {
      while (uf_[q] != q) {
        uf_[q] = uf_[uf_[q]];
        q = uf_[q];
      }
      return q;
    };
    int ne = 0;  // adjacency entries (two per forest arc)
    size_t w = 0;
    for (size_t e = 0; e < arcs_.size(); ++e) {
      const int32_t k = arcs_[e];
      const int i = k / m, j = k % m;
      if (!(xv(i, j) > 0)) continue;  // emptied by a cancellation
      arcs_[w++] = k;
      const int ri = find(i), rj = find(n + j);
      if (ri != rj) {
        uf_[ri] = rj;
        adj_arc_[ne] = k;
        adj_next_[ne] = adj_first_[i];
        adj_first_[i] = ne++;
        adj_arc_[ne] = k;
        adj_next_[ne] = adj_first_[n + j];
        adj_first_[n + j] = ne++;
        continue;
      }
      // A cycle: the forest path from sink j to source i (breadth first).
      for (int q = 0; q < N; ++q) bfs_from_[q] = -2;
      int head = 0, tail = 0;
      bfs_[tail++] = n + j;
      bfs_from_[n + j] = -1;
      while (head < tail && bfs_from_[i] == -2) {
        const int p = bfs_[head++];
        for (int h = adj_first_[p]; h >= 0; h = adj_next_[h]) {
          const int32_t a = adj_arc_[h];
          const int other = p < n ? n + a % m : a / m;
          if (bfs_from_[other] != -2) continue;
          bfs_from_[other] = a;
          bfs_[tail++] = other;
        }
      }
      // Along the cycle (i, j), then the path back from i to j: the arcs met
      // from i alternately lose (the sink's arc toward i) and gain.  Flow
      // moves so that (i, j) and every arc in its phase lose.
      double theta = xv(i, j);
      bool lose = false;  // (i, j) loses; the path's first arc (at i) gains
      for (int p = i; p != n + j;) {
        const int32_t a = bfs_from_[p];
        const int ai = a / m, aj = a % m;
        if (lose) theta = std::min(theta, xv(ai, aj));
        lose = !lose;
        p = p < n ? n + aj : ai;
      }
      x(i, j) -= theta;
      if (x(i, j) <= tiny_) x(i, j) = 0;
      lose = false;
      for (int p = i; p != n + j;) {
        const int32_t a = bfs_from_[p];
        const int ai = a / m, aj = a % m;
        double& xa = x(ai, aj);
        if (lose) {
          xa -= theta;
          if (xa <= tiny_) xa = 0;
        } else {
          xa += theta;
        }
        lose = !lose;
        p = p < n ? n + aj : ai;
      }
      // Keep the rest of the list and start over.
      for (size_t r = e + 1; r < arcs_.size(); ++r) arcs_[w++] = arcs_[r];
      again = true;
      break;
    }
    arcs_.resize(w);
  }
}

void TransportSSP::duals(double* f, double* g) const {
  for (int i = 0; i < n_; ++i) f[i] = u_[i];
  for (int j = 0; j < m_; ++j) g[j] = v_[j];
}

int64_t TransportSSP::plan(int32_t* rows, int32_t* cols, double* vals) const {
  // Counting sort by row, then insertion sort of each row's few columns.
  std::vector<int32_t> start(n_ + 1, 0);
  for (const int32_t k : arcs_) ++start[k / m_ + 1];
  for (int i = 0; i < n_; ++i) start[i + 1] += start[i];
  std::vector<int32_t> fill(start.begin(), start.end() - 1);
  for (const int32_t k : arcs_) {
    const int i = k / m_, j = k % m_;
    int q = fill[i]++;
    rows[q] = i;
    while (q > start[i] && cols[q - 1] > j) {
      cols[q] = cols[q - 1];
      vals[q] = vals[q - 1];
      --q;
    }
    cols[q] = j;
    vals[q] = xv(i, j);
  }
  return start[n_];
}

}  // namespace ot
}  // namespace sc
