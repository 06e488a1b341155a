// Successive shortest paths (primal-dual) for small dense transportation
// problems
//   min sum_ij C_ij P_ij  s.t.  P 1 = a,  P^T 1 = b,  P >= 0
// with a > 0 (n sources), b > 0 (m sinks) of equal mass (up to rounding).
//
// Method (Ahuja, Magnanti & Orlin, "Network Flows", 1993, ch. 9; Jonker &
// Volgenant 1987 for the dense Dijkstra): duals u (sources), v (sinks) with
// reduced costs C_ij - u_i - v_j >= 0, zero on every arc with flow.
//   * start: column reduction v_j = min_i C_ij, row reduction u_i =
//     min_j (C_ij - v_j), and flow pushed greedily on the tight arcs found
//     (each column's minimum row, then each row's minimum column);
//   * then, for each source with supply left: a Dijkstra over the residual
//     graph from it on reduced costs, with dense arrays (OtKernels::lap_relax
//     scans a source's row: the SIMD kernel of the assignment solver).  A sink
//     with no demand left is settled and labels the sources that send it flow
//     (reverse arcs, reduced cost 0); the search ends at the first sink with
//     demand left.  The duals move by the distances (capped at the path's),
//     keeping reduced costs >= 0 and the path tight; the path is augmented by
//     the least of the source's supply, the sink's demand and the flows on
//     its reverse arcs;
//   * the optimal flow is then reduced to a basic one (a forest: at most
//     n + m - 1 arcs) by cancelling the cycles its support may hold (ties);
//     every arc of the support is tight, so the cost does not change.
// Each augmentation empties a supply, fills a demand or empties an arc, so
// there are few; each search touches only the rows it labels.  For small
// dense problems this beats the network simplex (see emd.cc for the sizes
// where it is chosen, and bench/bench_ot.py for the measurement).
#pragma once
#include <stdint.h>

#include <vector>

#include "ot_internal.h"
#include "scalecore/ot/kernel_api.h"

namespace sc {
namespace ot {

class TransportSSP {
 public:
  // C: n x m row-major (row stride ldc), finite; a (n), b (m) positive with
  // equal sums up to rounding.  Returns a Status (converged, or infeasible
  // when supply is left that no sink can take beyond rounding).
  int8_t solve(const double* C, int64_t ldc, int n, int m, const double* a, const double* b,
               const OtKernels<double>& K, Prefetch* prefetch = nullptr);
  // f (n), g (m): f_i + g_j <= C_ij, equality on the plan's support.
  void duals(double* f, double* g) const;
  // The plan's positive entries (at most n + m - 1), sorted by (row,
  // column); returns the count.
  int64_t plan(int32_t* rows, int32_t* cols, double* vals) const;
  double cost() const { return cost_; }
  int64_t augmentations() const { return aug_; }

 private:
  double& x(int i, int j) { return xt_[static_cast<size_t>(j) * n_ + i]; }
  double xv(int i, int j) const { return xt_[static_cast<size_t>(j) * n_ + i]; }
  void push(int i, int j, double delta);
  void make_basic();

  const double* C_ = nullptr;
  int64_t ldc_ = 0;
  int n_ = 0, m_ = 0;
  double tiny_ = 0, cost_ = 0;
  int64_t aug_ = 0;
  std::vector<double> u_, v_, sup_, dem_, xt_, d_, mask_, dsrc_, colarg_;
  std::vector<int32_t> pred_, predsrc_, stamp_, settled_, labeled_, cnt_;
  std::vector<int32_t> arcs_, arcs2_;  // support (i * m + j), unsorted, may repeat
  std::vector<int32_t> uf_, adj_first_, adj_next_, adj_arc_, bfs_, bfs_from_, start_;
  std::vector<uint8_t> seen_;
};

}  // namespace ot
}  // namespace sc
