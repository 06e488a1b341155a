// The OT family's C++ entry points.  Plain functions over raw pointers and
// the plain structs of types.h; the bindings (python/bindings/bind_ot.cc)
// are a thin adapter over these.
//
// Conventions.  Arrays are row-major.  Weights are double.  A batch of B
// problems is laid out with a stride per argument (0 = shared by every
// problem); ragged batches pass per-problem sizes n_b, m_b and use the
// top-left n_b x m_b block of each padded (nmax x mmax) cost.  `impl` = 1
// runs the reference kernels (tests); 0 the SIMD level in use.
#pragma once
#include <stdint.h>

#include <string>
#include <vector>

#include "scalecore/ot/types.h"

namespace sc {
namespace ot {

// Optional label-augmented cost (OTDD): C_ij += table[lx_i * ldt + ly_j].
struct CostLabels {
  const int32_t* lx = nullptr;
  const int32_t* ly = nullptr;
  const double* table = nullptr;
  int64_t ldt = 0;
};

void check_metric(int metric, double p);

// out (n x m) = metric(x_i, y_j)^p [+ labels]; x (n x d), y (m x d).
template <class S>
void ot_cost_matrix(const S* x, const S* y, int64_t n, int64_t m, int64_t d, int metric, double p, S* out,
                    const CostLabels& labels, int impl, int n_threads);

// ---------------------------------------------------------------------------
// Entropic OT
// ---------------------------------------------------------------------------
template <class S>
struct SinkhornBatch {
  int64_t B = 1, nmax = 0, mmax = 0;
  const int64_t* n_b = nullptr;  // per-problem sizes (ragged); nullptr: nmax, mmax
  const int64_t* m_b = nullptr;
  // Dense costs: C + b * c_stride, rows of mmax.  nullptr selects the tiled
  // mode, where C_ij = metric(x_i, y_j)^p [+ labels] is computed on the fly
  // and never stored (memory O(n + m) per problem).
  const S* C = nullptr;
  int64_t c_stride = 0;
  const S* x = nullptr;  // (nmax x d) at x + b * x_stride
  const S* y = nullptr;
  int64_t d = 0, x_stride = 0, y_stride = 0;
  int metric = SC_OT_SQEUCLIDEAN;
  double p = 1.0;
  CostLabels labels;      // shared by every problem
  int64_t lx_stride = 0, ly_stride = 0;
  const double* a = nullptr;  // (nmax) at a + b * a_stride
  const double* b = nullptr;
  int64_t a_stride = 0, b_stride = 0;
  const double* eps_b = nullptr;  // per-problem eps; nullptr: options.eps
  const double* f0 = nullptr;     // warm start (B x nmax), (B x mmax); may be nullptr
  const double* g0 = nullptr;
};

template <class S>
struct SinkhornBatchOut {
  double* f = nullptr;        // (B x nmax)
  double* g = nullptr;        // (B x mmax)
  // Potentials of the product reference, f~ = f - eps log a (the c-transform
  // -eps LSE_j((g_j - C_ij)/eps) of the final g), finite at zero weights:
  // the gradient of the KL-regularised cost and of the Sinkhorn divergence
  // with respect to the weights (Feydy et al. 2019).  Optional.
  double* f_kl = nullptr;     // (B x nmax)
  double* g_kl = nullptr;     // (B x mmax)
  S* plan = nullptr;          // (B x nmax x mmax), optional
  double* bary_x = nullptr;   // (B x nmax x d): sum_j P_ij y_j, optional (tiled only)
  double* bary_y = nullptr;   // (B x mmax x d): sum_i P_ij x_i, optional (tiled only)
  double* row_mass = nullptr; // (B x nmax): P 1, optional
  double* col_mass = nullptr; // (B x mmax): P^T 1, optional
  double* cost = nullptr;     // (B)
  double* objective = nullptr;
  double* err = nullptr;
  double* mass = nullptr;
  int32_t* n_iter = nullptr;
  int8_t* status = nullptr;
};

// Solves every problem; a bad problem gets its status and NaN outputs and
// never affects the others.  Problems run in parallel when the batch has
// more problems than threads; otherwise each one uses the pool itself.
template <class S>
void ot_sinkhorn(const SinkhornBatch<S>& batch, const SinkhornOptions& o, const SinkhornBatchOut<S>& out,
                 int impl);

// ---------------------------------------------------------------------------
// Exact OT
// ---------------------------------------------------------------------------
template <class S>
struct EmdBatch {
  int64_t B = 1, nmax = 0, mmax = 0;
  const int64_t* n_b = nullptr;
  const int64_t* m_b = nullptr;
  const S* C = nullptr;
  int64_t c_stride = 0;
  const double* a = nullptr;
  const double* b = nullptr;
  int64_t a_stride = 0, b_stride = 0;
};

struct EmdBatchOut {
  double* f = nullptr;          // (B x nmax)
  double* g = nullptr;          // (B x mmax)
  int32_t* plan_rows = nullptr; // (B x (nmax + mmax - 1)), padded with -1
  int32_t* plan_cols = nullptr;
  double* plan_vals = nullptr;
  int64_t* plan_nnz = nullptr;  // (B)
  double* cost = nullptr;
  int64_t* n_iter = nullptr;
  int8_t* status = nullptr;
};

template <class S>
void ot_emd(const EmdBatch<S>& batch, const EmdOptions& o, const EmdBatchOut& out, int impl);

// Tests: the exact solvers' kernels of the current SIMD level against the
// reference on random n x m data; the names of those that disagree.
std::vector<std::string> emd_kernel_check(int64_t n, int64_t m, uint64_t seed);
// Tests: OtKernels::scale_update (Sinkhorn's scaling update) likewise.
std::vector<std::string> scale_kernel_check(int64_t n, uint64_t seed);

// ---------------------------------------------------------------------------
// Exact 1-D OT by sorting, and sliced Wasserstein.
// ---------------------------------------------------------------------------
// B problems: x (B x n), y (B x m), weights a (B x n), b (B x m) (strides 0 =
// shared, nullptr = uniform).  Cost |x - y|^p (p >= 1).  Outputs per problem:
// cost; optionally the monotone plan (at most n + m - 1 triples, padded) and
// duals f, g of its staircase basis.
template <class S>
struct Emd1dArgs {
  int64_t B = 1, n = 0, m = 0;
  const S* x = nullptr;
  const S* y = nullptr;
  int64_t x_stride = 0, y_stride = 0;
  const double* a = nullptr;
  const double* b = nullptr;
  int64_t a_stride = 0, b_stride = 0;
  double p = 2.0;
};
struct Emd1dOut {
  double* cost = nullptr;
  double* f = nullptr;
  double* g = nullptr;
  int32_t* plan_rows = nullptr;
  int32_t* plan_cols = nullptr;
  double* plan_vals = nullptr;
  int64_t* plan_nnz = nullptr;
  int8_t* status = nullptr;
};
template <class S>
void ot_emd_1d(const Emd1dArgs<S>& args, const Emd1dOut& out, int n_threads);

// Sliced Wasserstein: projects x (n x d) and y (m x d) on the K columns of
// dirs (d x K, unit vectors) and solves the K 1-D problems; out (K) receives
// W_p^p along each direction.
template <class S>
void ot_sliced(const S* x, const S* y, int64_t n, int64_t m, int64_t d, const double* a, const double* b,
               const double* dirs, int64_t K, double p, double* out, int n_threads);

}  // namespace ot
}  // namespace sc
