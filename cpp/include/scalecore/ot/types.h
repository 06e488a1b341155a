// Plain types shared by every OT translation unit (generic, AVX2, CUDA,
// reference) and by the bindings.  No math here: see cost_math.h,
// sinkhorn_math.h and kernels.h.
#pragma once
#include <stdint.h>

#include <limits>

namespace sc {
namespace ot {

enum Metric : int {
#define SC_OT_METRIC(NAME, ID, PYNAME) SC_OT_##NAME = ID,
#include "scalecore/ot/metrics.def"
#undef SC_OT_METRIC
  SC_OT_METRIC_COUNT
};

// Per-problem outcome of every solver.  Exactly one is reported; the first
// rule that holds in this order wins.
enum Status : int8_t {
  SC_OT_STATUS_NOT_RUN = 0,  // never returned to users
  // Converged.  EMD: no arc has a reduced cost below -1e-12 * scale
  // (optimal).  Sinkhorn (balanced): ||P^T 1 - b||_2 < tol after the row
  // update, the rule of POT's sinkhorn/sinkhorn_log; the returned iterate is
  // that one (rows exact).  Unbalanced: max |delta f|, |delta g| over one
  // iteration < tol * eps (tol = 0: never, max_iter iterations run).
  SC_OT_STATUS_CONVERGED = 1,
  // max_iter iterations (Sinkhorn) or pivots (EMD) without meeting the rule.
  SC_OT_STATUS_MAX_ITER = 2,
  // A non-finite value arose in the iteration; the iteration stops and the
  // outputs (of the last state) may be non-finite.  Reported, never hidden.
  SC_OT_STATUS_NUMERICAL = 3,
  // The problem's data are unusable: a NaN/Inf cost, a negative or non-finite
  // weight.  Nothing is computed; outputs are NaN.
  SC_OT_STATUS_BAD_INPUT = 4,
  // Balanced problem whose masses differ by more than 1e-6 relative (no
  // transport plan exists), or an EMD that ended with mass on artificial arcs.
  SC_OT_STATUS_INFEASIBLE = 5,
  // Zero total mass or an empty side: there is nothing to transport.  The
  // cost is 0 and the potentials 0.
  SC_OT_STATUS_DEGENERATE = 6,
  // EMD: the plan is a feasible basic solution, but after the last repricing
  // rounds an arc still has a reduced cost below -1e-12 * scale (f_i + g_j >
  // M_ij beyond that tolerance): optimality is not confirmed in double
  // precision (costs spanning too many orders of magnitude).
  SC_OT_STATUS_DUAL_INFEASIBLE = 7,
};

// Storage of the stabilised Gibbs kernel of the scaling iterations.
enum KernelMode : int8_t {
  SC_OT_KERNEL_AUTO = 0,     // float32 when large and tol allows, else float64
  SC_OT_KERNEL_FLOAT64 = 1,  // stored kernel in double
  SC_OT_KERNEL_FLOAT32 = 2,  // stored kernel in float (half the memory traffic)
  SC_OT_KERNEL_NONE = 3,     // no stored kernel: one log-sum-exp pass per iteration
};

// Reference measure of the entropic term for unbalanced problems (POT's
// reg_type): KL(P | a b^T) or KL(P | 1 1^T).  Irrelevant for balanced ones.
enum Reference : int8_t {
  SC_OT_REF_PRODUCT = 0,  // "kl"
  SC_OT_REF_ONES = 1,     // "entropy"
};

struct SinkhornOptions {
  double eps = 0;          // > 0, POT's reg: min <P,C> + eps sum P log P
  double tol = 1e-6;       // see SC_OT_STATUS_CONVERGED
  int max_iter = 1000;     // iterations (one row + one column update each)
  // KL relaxation of the marginals (unbalanced OT); +inf is a hard constraint.
  double rho_a = std::numeric_limits<double>::infinity();
  double rho_b = std::numeric_limits<double>::infinity();
  Reference reference = SC_OT_REF_PRODUCT;
  // eps-scaling: eps_k = max(eps, eps_init * factor^k); factor = 0 disables.
  double eps_scaling = 0;
  double eps_init = 0;     // 0: the spread max C - min C
  KernelMode kernel = SC_OT_KERNEL_AUTO;
  // The scalings are absorbed into the potentials (and the kernel rebuilt)
  // when max |log u|, |log v| exceeds this (Schmitzer 2019, Alg. 2).
  double absorb = 16.0;
  // The stopping test runs when (iteration - 1) % check_every == 0; 10 is
  // POT's (same iterates, same result); 1 tests every iteration (free here:
  // the marginal comes with the pass) and stops as soon as tol is met.
  int check_every = 10;
  // Over-relaxed iterations (balanced problems on a stored kernel): after a
  // few plain iterations, w = 2 / (1 + sqrt(1 - rho)) from the observed
  // error rate rho; the stopping test then bounds both marginals' errors.
  // The iterates are no longer POT's (the tolerance met is the same).
  bool accelerate = false;
  // Self-transport OT(a, a) with a symmetric cost (the debiasing terms of
  // the Sinkhorn divergence): the averaged update f <- (f + T(f)) / 2 of
  // Feydy et al. (2019, Sec. 3.3), with g = f; plain alternating updates
  // converge very slowly on these problems.  The caller guarantees b = a and
  // C = C^T.
  bool symmetric = false;
  int n_threads = 0;       // <= 0: the pool size
};

struct EmdOptions {
  int64_t max_iter = 0;    // pivots; <= 0: unlimited
  int64_t block_size = 0;  // pricing block; <= 0: automatic
  // Uniform weights with n = m (after dropping zero weights) make the problem
  // an assignment problem: solve it by Jonker-Volgenant (true) or by the
  // network simplex like every other problem (false).
  bool assignment = true;
  // The simplex's starting basis: 0 automatic (Vogel's approximation while
  // its keys fit: at most 4096 per side and 2^24 arcs, else row minimum),
  // 1 Vogel, 2 row minimum.
  int start = 0;
  // Solver of the problems that are not assignments: SC_OT_EMD_AUTO (the
  // network simplex: measured faster at every size, see emd.cc use_ssp),
  // _SIMPLEX, or _SSP (successive shortest paths; a pivot limit max_iter
  // means the simplex).
  int solver = 0;
  int n_threads = 0;       // batches only: problems run in parallel
};
enum EmdSolver : int { SC_OT_EMD_AUTO = 0, SC_OT_EMD_SIMPLEX = 1, SC_OT_EMD_SSP = 2 };

// Outputs of one Sinkhorn problem.  f, g (lengths n, m) receive potentials
// with P_ij = exp((f_i + g_j - C_ij) / eps); plan (n x m) is optional.
template <class S>
struct SinkhornOut {
  double* f = nullptr;
  double* g = nullptr;
  S* plan = nullptr;       // optional, row-major n x m
  double cost = 0;         // <P, C>
  double objective = 0;    // <P, C> + eps sum P log P (+ the KL terms if unbalanced)
  double err = 0;          // last marginal error (balanced) or potential change
  double mass = 0;         // sum P
  int32_t n_iter = 0;
  int8_t status = SC_OT_STATUS_NOT_RUN;
};

// Outputs of one exact problem.  The plan is a list of at most n + m - 1
// (row, col, value) triples; plan_nnz receives the count.
struct EmdOut {
  double* f = nullptr;     // duals: f_i + g_j <= C_ij, equality on the support
  double* g = nullptr;
  int32_t* plan_rows = nullptr;
  int32_t* plan_cols = nullptr;
  double* plan_vals = nullptr;
  int64_t plan_nnz = 0;
  double cost = 0;
  int64_t n_iter = 0;      // pivots
  int8_t status = SC_OT_STATUS_NOT_RUN;
};

}  // namespace ot
}  // namespace sc
