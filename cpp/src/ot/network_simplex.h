// Primal network simplex for the dense transportation problem
//   min sum_ij C_ij P_ij  s.t.  P 1 = a,  P^T 1 = b,  P >= 0
// with a > 0 (n sources), b > 0 (m sinks).  Written for the complete
// bipartite graph: arc (i, j) is index i * m + j, so pricing is a SIMD scan
// of a cost row (OtKernels::emd_price) and the direction of every tree arc
// follows from its child node (a source's arc points up, a sink's down).
//
// Method (Ahuja, Magnanti & Orlin, "Network Flows", ch. 11; Cunningham 1976):
//   * start: the row-minimum basis, each tree of its support forest hung
//     from an artificial root by an arc of cost 1 + max |C| that carries
//     only rounding-level flow (see init_tree);
//   * block-search pricing (Grigoriadis 1986): scan blocks of arcs, enter the
//     most negative reduced cost of the first block that has one;
//   * leaving arc: the last blocking arc met when the cycle is traversed in
//     the entering arc's direction from the apex, which keeps every tree
//     strongly feasible (zero-flow arcs point away from the root), so
//     degenerate pivots cannot cycle;
//   * tree: parent, subtree size and child lists; the join is found by
//     climbing from the endpoint with the smaller subtree; the re-hung
//     subtree's potentials shift by the entering reduced cost.
// At the end the potentials are recomputed exactly from the tree and every
// arc is priced once more (pivoting resumes if rounding hid a negative arc).
#pragma once
#include <stdint.h>

#include <vector>

#include "scalecore/ot/kernel_api.h"

namespace sc {
namespace ot {

class NetworkSimplex {
 public:
  // C: n x m row-major (row stride ldc), double; a (n), b (m) positive.
  // Returns a Status; pivots receives the pivot count.
  // cmax = max |C| (sets the artificial arcs' cost).
  int8_t solve(const double* C, int64_t ldc, int n, int m, const double* a, const double* b, double cmax,
               int64_t max_iter, int64_t block, const OtKernels<double>& K, int64_t* pivots);

  // After solve: f (n), g (m) with f_i + g_j <= C_ij (equality on tree arcs),
  // and the tree's real arcs with their flows (at most n + m - 1).
  void duals(double* f, double* g) const;
  int64_t plan(int32_t* rows, int32_t* cols, double* vals) const;  // returns the count
  double cost() const;
  double artificial_flow() const;

 private:
  void init_tree();
  void pivot(int k, int l_node, double rc);
  void recompute_potentials();
  bool price(int64_t& pos, int64_t block, int64_t& arc, double& rc);

  const double* C_ = nullptr;
  int64_t ldc_ = 0;
  int n_ = 0, m_ = 0, N_ = 0;  // N_ = n + m: the root's index
  const double* a_ = nullptr;
  const double* b_ = nullptr;
  const OtKernels<double>* K_ = nullptr;
  double art_ = 1.0;
  std::vector<int32_t> parent_, first_, next_, prev_, succ_;
  std::vector<double> flow_, pi_;
  std::vector<int32_t> path_;
  // Starting-basis scratch.
  struct Arc {
    int i, j;
    double x;
  };
  std::vector<Arc> arcs_;
  std::vector<double> sup_, dem_, zero_, colmask_;
  std::vector<char> seen_;
  std::vector<int> adj_off_, adj_, order_;
};

}  // namespace ot
}  // namespace sc
