// Primal network simplex for the dense transportation problem
//   min sum_ij C_ij P_ij  s.t.  P 1 = a,  P^T 1 = b,  P >= 0
// with a > 0 (n sources), b > 0 (m sinks).  Written for the complete
// bipartite graph: arc (i, j) is index i * m + j, so pricing is a SIMD scan
// of cost rows (OtKernels::emd_price_rows), and the direction of every tree
// arc follows from its child node (a source's arc points up, a sink's down).
//
// Method (Ahuja, Magnanti & Orlin, "Network Flows", 1993, ch. 11;
// Cunningham 1976 for strongly feasible trees):
//   * start: Vogel's approximation on the total opportunity cost matrix
//     (Kirca & Satir 1990; each line's two cheapest cells found with sortable
//     (value, index) keys), or the row-minimum rule for the largest problems.
//     Either removes one line per step; the cells of positive flow form a
//     forest whose trees hang from an artificial root, so that every
//     zero-flow arc points towards the root (strongly feasible);
//   * pricing: block search over rows (Grigoriadis 1986): scan a block of
//     rows, enter the most negative reduced cost of the first block that has
//     one.  Candidates come from a float copy of the costs and potentials and
//     are re-priced exactly; once float pricing finds nothing, the search
//     continues in double;
//   * leaving arc: the last blocking arc met when the cycle is traversed in
//     the entering arc's direction from the apex (keeps the tree strongly
//     feasible, so degenerate pivots cannot cycle);
//   * tree: parent pointers plus, for n + m < 256, a bitset of each node's
//     subtree (no traversal: the re-hung subtree's potentials are one masked
//     add over all nodes), else a preorder array with positions and subtree
//     sizes (the re-rooted subtree is rebuilt from array ranges and moved).
// At the end the potentials are recomputed exactly from the tree and every
// arc is priced once more (pivoting resumes if rounding hid a negative arc).
#pragma once
#include <stdint.h>

#include <vector>

#include "ot_internal.h"
#include "scalecore/ot/kernel_api.h"

namespace sc {
namespace ot {

class NetworkSimplex {
 public:
  enum Start : int { kStartAuto = 0, kStartVogel = 1, kStartRowMin = 2 };

  // C: n x m row-major (row stride ldc), double; a (n), b (m) positive with
  // equal sums (up to rounding).  cmax = max |C| (sets the artificial arcs'
  // cost).  max_iter <= 0: no pivot limit; block <= 0: automatic (arcs per
  // pricing block, rounded up to whole rows).  Returns a Status; pivots
  // receives the pivot count.
  // prefetch (optional): the next problem's data, advanced as work proceeds.
  int8_t solve(const double* C, int64_t ldc, int n, int m, const double* a, const double* b, double cmax,
               int64_t max_iter, int64_t block, int start, const OtKernels<double>& K, int64_t* pivots,
               Prefetch* prefetch = nullptr);

  // After solve: f (n), g (m) with f_i + g_j <= C_ij (equality on tree arcs).
  void duals(double* f, double* g) const;
  // The tree's real arcs of positive flow (at most n + m - 1), sorted by
  // (row, column); returns the count.
  int64_t plan(int32_t* rows, int32_t* cols, double* vals);
  double cost() const;             // sum of flow x cost over the real arcs
  double artificial_flow() const;  // flow left on the artificial arcs
  double support_max_cost() const;  // max |C_ij| over the real arcs of positive flow

 private:
  // One step of a start heuristic: line `removed` (a node) leaves after
  // receiving x on its cell with line `other`.
  struct Step {
    int32_t removed, other;
    double x;
  };
  // The pivot cycle: its two sides pk_ (from k) and pl_ (from l) below the
  // apex; `path` is the side holding the leaving arc (from u_in to u_out =
  // path[t_out]), `other` the other one (from v_in); delta the flow change.
  struct Cycle {
    int nk, nl, t_out, np, no, v_in;
    bool on_l;
    double delta;
    int32_t* path;
    int32_t* other;
  };

  void start_vogel();
  void start_rowmin();
  void build_tree();
  void init_bits();
  void init_preorder();
  template <class IsAncestor>
  Cycle find_cycle(int k, int l, IsAncestor is_ancestor);
  void pivot(int k, int l, double rc);
  void pivot_bits(int k, int l, double rc);
  void pivot_preorder(int k, int l, double rc);
  bool price(int64_t& row, int64_t block_rows, bool f32, int64_t& arc, double& rc);
  void recompute_potentials();
  double root_potential() const;
  void exact_flows(const double* a, const double* b);

  const double* C_ = nullptr;
  int64_t ldc_ = 0;
  int n_ = 0, m_ = 0, N_ = 0;  // N_ = n + m: the root's index
  const OtKernels<double>* K_ = nullptr;
  Prefetch* prefetch_ = nullptr;
  double art_ = 1.0;

  // Tree: parent, flow on the arc to the parent, potentials (reduced cost of
  // arc (i, j) is C_ij + pi_i - pi_{n+j}, zero on tree arcs).
  std::vector<int32_t> parent_;
  std::vector<double> flow_, pi_;
  bool bits_ = false;
  int W_ = 0;                    // words per subtree bitset
  std::vector<uint64_t> desc_;   // bitset mode: desc_[v * W_ ...] = v's subtree
  std::vector<int32_t> pre_, pos_, size_, tmp_;  // preorder mode
  std::vector<int32_t> pk_, pl_;                 // the cycle's two sides

  // Float pricing: costs and potentials rounded to float (pf_ follows pi_
  // while pf_on_).
  std::vector<float> Cf_, pf_;
  bool pf_on_ = false;

  // Start heuristics and tree building.
  std::vector<Step> steps_;
  std::vector<double> sup_, dem_, imb_, rmin_, cmin_, colmask_, zero_;
  std::vector<uint32_t> KT_, KTT_, rmask_u_, cmask_u_;
  std::vector<float> pen_;
  std::vector<int32_t> l1_, l2_, child_, ord_, ord2_, swap_, first_, next_;
  std::vector<uint64_t> bits_scratch_;
  std::vector<char> removed_, moved_;
};

}  // namespace ot
}  // namespace sc
