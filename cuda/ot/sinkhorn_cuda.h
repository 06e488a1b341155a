// Launchers of the OT family's CUDA kernels (implemented in sinkhorn.cu).
// Plain C++: nothing here includes a CUDA header.  Every launcher takes host
// pointers, copies the inputs to the current device, runs and copies the
// outputs back; a CUDA error is thrown as sc::RuntimeError.
//
// Both solvers run the balanced log-domain Sinkhorn iteration of the CPU
// engine (the shared per-element math is cpp/include/scalecore/ot/
// sinkhorn_math.h and cost_math.h): a row update of f, the column marginal
// error || P^T 1 - b ||_2 of P(f_new, g_old), tested every check_every
// iterations (POT's rule for check_every = 10), then the column update of g.
#pragma once
#include <stdint.h>

namespace sc {
namespace ot {
namespace cuda {

// Outputs of B problems: potentials f (B x n), g (B x m) with
// P_ij = exp((f_i + g_j - C_ij) / eps), <P, C> in cost, the last error,
// iterations and a status (types.h: 1 converged, 2 max_iter, 3 numerical).
struct SinkhornCudaOut {
  double* f = nullptr;
  double* g = nullptr;
  double* cost = nullptr;
  double* err = nullptr;
  int32_t* n_iter = nullptr;
  int8_t* status = nullptr;
};

// Batched dense problems: one thread block per problem, every problem
// iterates until its own test passes (none waits for the slowest).
// C: B x n x m, a: B x n, b: B x m (weights > 0), eps: B.
void sinkhorn_batch_cuda(const double* C, const double* a, const double* b, const double* eps, int64_t B, int64_t n,
                         int64_t m, double tol, int max_iter, int check_every, const SinkhornCudaOut& out);
void sinkhorn_batch_cuda(const float* C, const double* a, const double* b, const double* eps, int64_t B, int64_t n,
                         int64_t m, double tol, int max_iter, int check_every, const SinkhornCudaOut& out);

// One large problem in the tiled mode: C_ij = metric(x_i, y_j)^p is computed
// on the fly from x (n x d) and y (m x d) and never stored (memory O(n + m)
// on the device).  One thread per row (row update) and per column (column
// update), a grid over the rows/columns.
void sinkhorn_tiled_cuda(const float* x, const float* y, int64_t n, int64_t m, int64_t d, const double* a,
                         const double* b, double eps, int metric, double p, double tol, int max_iter,
                         int check_every, const SinkhornCudaOut& out);

}  // namespace cuda
}  // namespace ot
}  // namespace sc
