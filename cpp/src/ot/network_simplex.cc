// Network simplex for dense transportation problems (see network_simplex.h).
#include "network_simplex.h"

#include <math.h>

#include <algorithm>
#include <limits>

namespace sc {
namespace ot {

namespace {
constexpr double kRelTol = 1e-12;  // a reduced cost counts as negative below -kRelTol * scale
}

// Starting basis.  The row-minimum rule (each row sends its supply along its
// cheapest arcs to columns with demand left) gives a feasible flow whose
// support is a forest.  Each tree of that forest hangs
// from the root by one artificial arc carrying the tree's rounding-level
// imbalance: root -> a sink (zero or a deficit) or a source -> root (a
// surplus).  Every zero-flow arc then points away from the root, so the
// basis is strongly feasible, and the simplex starts near the optimum
// instead of from the all-artificial tree.
void NetworkSimplex::init_tree() {
  const int N = N_, n = n_, m = m_;
  parent_.assign(N + 1, -1);
  first_.assign(N + 1, -1);
  next_.assign(N + 1, -1);
  prev_.assign(N + 1, -1);
  succ_.assign(N + 1, 1);
  flow_.assign(N + 1, 0.0);
  pi_.assign(N + 1, 0.0);
  path_.reserve(N + 1);
  // ---- row minimum: each row in turn sends its supply to its cheapest
  // columns that still have demand (a basic feasible flow: every step uses
  // up a row or a column, so the support is a forest) ----
  sup_.assign(a_, a_ + n);
  dem_.assign(b_, b_ + m);
  zero_.assign(std::max(n, m) + 1, 0.0);
  colmask_.assign(m, 0.0);  // 0: demand left, -inf: used up (prices to +inf)
  arcs_.clear();
  const double inf = std::numeric_limits<double>::infinity();
  int cols_left = m;
  for (int i = 0; i < n && cols_left > 0; ++i) {
    while (sup_[i] > 0 && cols_left > 0) {
      int64_t arg = -1;
      const double v = K_->emd_price(C_ + i * ldc_, ldc_, m, zero_.data(), colmask_.data(), 0, m, &arg);
      if (!(v < inf) || arg < 0) break;
      const int j = static_cast<int>(arg);
      const double x = std::min(sup_[i], dem_[j]);
      arcs_.push_back({i, j, x});
      sup_[i] -= x;
      dem_[j] -= x;
      if (dem_[j] <= 0) {
        colmask_[j] = -inf;
        --cols_left;
      }
    }
  }
  // ---- forest -> rooted tree ----
  // Adjacency (CSR) of the support.
  adj_off_.assign(N + 1, 0);
  for (const auto& e : arcs_) {
    ++adj_off_[e.i + 1];
    ++adj_off_[n + e.j + 1];
  }
  for (int v = 0; v < N; ++v) adj_off_[v + 1] += adj_off_[v];
  adj_.resize(2 * arcs_.size());
  std::vector<int>& fill = order_;
  fill.assign(adj_off_.begin(), adj_off_.end() - 1);
  for (int k = 0; k < static_cast<int>(arcs_.size()); ++k) {
    adj_[fill[arcs_[k].i]++] = k;
    adj_[fill[n + arcs_[k].j]++] = k;
  }
  seen_.assign(N, 0);
  char* seen = seen_.data();
  order_.clear();
  const int root = N;
  for (int s = 0; s < N; ++s) {
    if (seen[s]) continue;
    // One component: BFS from s, then choose its anchor by its imbalance.
    const size_t c0 = order_.size();
    order_.push_back(s);
    seen[s] = 1;
    double imb = 0;
    for (size_t q = c0; q < order_.size(); ++q) {
      const int v = order_[q];
      imb += v < n ? sup_[v] : -dem_[v - n];
      for (int t = adj_off_[v]; t < adj_off_[v + 1]; ++t) {
        const Arc& e = arcs_[adj_[t]];
        const int w = v < n ? n + e.j : e.i;
        if (!seen[w]) {
          seen[w] = 1;
          order_.push_back(w);
        }
      }
    }
    int anchor = -1;
    for (size_t q = c0; q < order_.size() && anchor < 0; ++q) {
      const int v = order_[q];
      if (imb > 0 ? v < n : v >= n) anchor = v;
    }
    if (anchor < 0) anchor = s;  // a lone node: its own imbalance decides below
    // Re-run the BFS from the anchor to set parents and tree flows.
    order_.resize(c0);
    order_.push_back(anchor);
    parent_[anchor] = root;
    flow_[anchor] = std::fabs(imb);
    if (anchor < n && imb < 0) flow_[anchor] = 0;  // source with a deficit: cannot happen
    for (size_t q = c0; q < order_.size(); ++q) {
      const int v = order_[q];
      for (int t = adj_off_[v]; t < adj_off_[v + 1]; ++t) {
        const Arc& e = arcs_[adj_[t]];
        const int w = v < n ? n + e.j : e.i;
        if (w == parent_[v] && parent_[v] != root) continue;
        if (parent_[w] != -1) continue;
        parent_[w] = v;
        flow_[w] = e.x;
        order_.push_back(w);
      }
    }
  }
  // Subtree sizes (reverse BFS order) and child lists.
  for (int q = static_cast<int>(order_.size()) - 1; q >= 0; --q) {
    const int v = order_[q];
    succ_[parent_[v]] += succ_[v];
  }
  succ_[root] = N + 1;
  for (int q = static_cast<int>(order_.size()) - 1; q >= 0; --q) {
    const int v = order_[q];
    const int p = parent_[v];
    next_[v] = first_[p];
    prev_[v] = -1;
    if (first_[p] >= 0) prev_[first_[p]] = v;
    first_[p] = v;
  }
  recompute_potentials();
}

// Scans arcs from `pos` in blocks of `block`; returns true with the entering
// arc of the first block whose minimum reduced cost is negative (beyond the
// tolerance), false when a full cycle over all arcs finds none.
bool NetworkSimplex::price(int64_t& pos, int64_t block, int64_t& arc, double& rc) {
  const int64_t total = static_cast<int64_t>(n_) * m_;
  int64_t scanned = 0, cnt = 0;
  double best = std::numeric_limits<double>::infinity();
  int64_t best_arc = -1;
  const double* pj = pi_.data() + n_;
  while (scanned < total) {
    int64_t len = std::min<int64_t>(block - cnt, total - pos);
    len = std::min<int64_t>(len, total - scanned);
    int64_t arg = -1;
    const double r = K_->emd_price(C_, ldc_, m_, pi_.data(), pj, pos, len, &arg);
    if (r < best) {
      best = r;
      best_arc = arg;
    }
    scanned += len;
    cnt += len;
    pos += len;
    if (pos >= total) pos = 0;
    if (cnt >= block || scanned >= total) {
      if (best_arc >= 0) {
        const int64_t bi = best_arc / m_, bj = best_arc % m_;
        const double scale = std::max({std::fabs(C_[bi * ldc_ + bj]), std::fabs(pi_[bi]), std::fabs(pj[bj])});
        if (best < -kRelTol * scale) {
          arc = best_arc;
          rc = best;
          return true;
        }
      }
      cnt = 0;
      best = std::numeric_limits<double>::infinity();
      best_arc = -1;
    }
  }
  return false;
}

void NetworkSimplex::pivot(int k, int l, double rc) {
  const int root = N_;
  int32_t* parent = parent_.data();
  int32_t* succ = succ_.data();
  double* flow = flow_.data();
  // 1. The apex (join) of the cycle k -> l -> ... -> join -> ... -> k.
  int u = k, v = l;
  while (u != v) {
    if (succ[u] < succ[v]) u = parent[u];
    else v = parent[v];
  }
  const int join = u;
  // 2. Leaving arc: the last blocking arc met in cycle order from the apex.
  //    On the k side (traversed downwards) a source's arc points up, so it is
  //    traversed backwards and blocks; on the l side (traversed upwards) a
  //    sink's arc does.  Strict < on the k side keeps the arc nearest k;
  //    <= on the l side the arc nearest the apex, and lets it win ties.
  double delta = std::numeric_limits<double>::infinity();
  int u_out = -1;
  bool on_l = false;
  for (u = k; u != join; u = parent[u])
    if (u < n_ && flow[u] < delta) {
      delta = flow[u];
      u_out = u;
    }
  for (u = l; u != join; u = parent[u])
    if (u >= n_ && u != root && flow[u] <= delta) {
      delta = flow[u];
      u_out = u;
      on_l = true;
    }
  // 3. Augment.
  if (delta > 0) {
    for (u = k; u != join; u = parent[u]) flow[u] += u < n_ ? -delta : delta;
    for (u = l; u != join; u = parent[u]) flow[u] += u >= n_ ? -delta : delta;
  }
  flow[u_out] = 0;
  const int u_in = on_l ? l : k;
  const int v_in = on_l ? k : l;
  // 4. Potentials of the subtree below the leaving arc: the entering arc's
  //    reduced cost C + pi_k - pi_l becomes 0.
  const double sigma = u_in == k ? -rc : rc;
  {
    int w = u_out;
    for (;;) {
      pi_[w] += sigma;
      if (first_[w] >= 0) {
        w = first_[w];
        continue;
      }
      while (w != u_out && next_[w] < 0) w = parent[w];
      if (w == u_out) break;
      w = next_[w];
    }
  }
  // 5. Re-hang the subtree: cut u_out, reverse the path u_in .. u_out, hang
  //    u_in under v_in.
  auto remove_child = [&](int p, int c) {
    if (prev_[c] >= 0) next_[prev_[c]] = next_[c];
    else first_[p] = next_[c];
    if (next_[c] >= 0) prev_[next_[c]] = prev_[c];
  };
  auto add_child = [&](int p, int c) {
    next_[c] = first_[p];
    prev_[c] = -1;
    if (first_[p] >= 0) prev_[first_[p]] = c;
    first_[p] = c;
  };
  const int size = succ[u_out];
  const int old_par = parent[u_out];
  remove_child(old_par, u_out);
  for (int w = old_par; w != join; w = parent[w]) succ[w] -= size;
  for (int w = v_in; w != join; w = parent[w]) succ[w] += size;
  path_.clear();
  for (u = u_in; u != u_out; u = parent[u]) path_.push_back(u);
  path_.push_back(u_out);
  const int t = static_cast<int>(path_.size()) - 1;
  // New subtree sizes along the path, from the top: s'(p_t) = s(p_t) -
  // s(p_{t-1}), s'(p_i) = s(p_i) - s(p_{i-1}) + s'(p_{i+1}), s'(p_0) = size.
  // Each old size is read before it is overwritten.
  int above = 0;
  for (int i = t; i >= 1; --i) {
    const int s_new = succ[path_[i]] - succ[path_[i - 1]] + above;
    succ[path_[i]] = s_new;
    above = s_new;
  }
  succ[path_[0]] = size;
  // Flows move one step down the path (the arc p_{i-1}-p_i is now stored at
  // p_i); the entering arc, stored at u_in, carries delta.
  for (int i = t; i >= 1; --i) flow[path_[i]] = flow[path_[i - 1]];
  // Child lists and parents: p_{i+1} becomes a child of p_i.
  for (int i = t - 1; i >= 0; --i) {
    remove_child(path_[i + 1], path_[i]);
    add_child(path_[i], path_[i + 1]);
    parent[path_[i + 1]] = path_[i];
  }
  flow[u_in] = delta;
  parent[u_in] = v_in;
  add_child(v_in, u_in);
}

void NetworkSimplex::recompute_potentials() {
  const int root = N_;
  pi_[root] = 0;
  int w = first_[root];
  if (w < 0) return;
  for (;;) {
    const int p = parent_[w];
    if (w < n_) {  // source: arc w -> p (p is a sink or the root)
      pi_[w] = pi_[p] - (p == root ? art_ : C_[w * ldc_ + (p - n_)]);
    } else {  // sink: arc p -> w
      pi_[w] = pi_[p] + (p == root ? art_ : C_[p * ldc_ + (w - n_)]);
    }
    if (first_[w] >= 0) {
      w = first_[w];
      continue;
    }
    while (w != root && next_[w] < 0) w = parent_[w];
    if (w == root) break;
    w = next_[w];
  }
}

int8_t NetworkSimplex::solve(const double* C, int64_t ldc, int n, int m, const double* a, const double* b,
                             double cmax, int64_t max_iter, int64_t block, const OtKernels<double>& K,
                             int64_t* pivots) {
  C_ = C;
  ldc_ = ldc;
  n_ = n;
  m_ = m;
  N_ = n + m;
  a_ = a;
  b_ = b;
  K_ = &K;
  art_ = 1.0 + cmax;
  init_tree();
  const int64_t total = static_cast<int64_t>(n) * m;
  if (block <= 0) block = std::max<int64_t>(64, static_cast<int64_t>(std::sqrt(double(total))));
  block = std::min<int64_t>(block, total);
  int64_t pos = 0, count = 0;
  int8_t status = SC_OT_STATUS_CONVERGED;
  for (int round = 0;; ++round) {
    int64_t arc = -1;
    double rc = 0;
    while (price(pos, block, arc, rc)) {
      if (max_iter > 0 && count >= max_iter) {
        status = SC_OT_STATUS_MAX_ITER;
        break;
      }
      pivot(static_cast<int>(arc / m), n + static_cast<int>(arc % m), rc);
      ++count;
    }
    recompute_potentials();
    if (status != SC_OT_STATUS_CONVERGED || round >= 3) break;
    // Exact potentials: one more full pricing pass confirms optimality.
    int64_t p2 = 0;
    if (!price(p2, total, arc, rc)) break;
  }
  *pivots = count;
  return status;
}

void NetworkSimplex::duals(double* f, double* g) const {
  for (int i = 0; i < n_; ++i) f[i] = -pi_[i];
  for (int j = 0; j < m_; ++j) g[j] = pi_[n_ + j];
}

int64_t NetworkSimplex::plan(int32_t* rows, int32_t* cols, double* vals) const {
  int64_t c = 0;
  for (int v = 0; v < N_; ++v) {
    const int p = parent_[v];
    if (p == N_ || flow_[v] <= 0) continue;
    const int i = v < n_ ? v : p, j = (v < n_ ? p : v) - n_;
    rows[c] = i;
    cols[c] = j;
    vals[c] = flow_[v];
    ++c;
  }
  return c;
}

double NetworkSimplex::cost() const {
  double s = 0;
  for (int v = 0; v < N_; ++v) {
    const int p = parent_[v];
    if (p == N_ || flow_[v] <= 0) continue;
    const int i = v < n_ ? v : p, j = (v < n_ ? p : v) - n_;
    s += flow_[v] * C_[i * ldc_ + j];
  }
  return s;
}

double NetworkSimplex::artificial_flow() const {
  double s = 0;
  for (int v = 0; v < N_; ++v)
    if (parent_[v] == N_) s += flow_[v];
  return s;
}

}  // namespace ot
}  // namespace sc
