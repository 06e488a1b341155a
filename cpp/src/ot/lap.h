// Dense linear assignment (Jonker & Volgenant 1987, "A shortest augmenting
// path algorithm for dense and sparse linear assignment problems",
// Computing 38): column reduction, reduction transfer, two passes of
// augmenting row reduction, then shortest augmenting paths (Dijkstra on
// reduced costs) for the rows still free.
//
// Exact OT between two uniform measures with the same number of points is an
// assignment problem (the Birkhoff polytope's vertices are permutations), so
// emd uses this for uniform n = m problems; the duals u, v are OT duals
// (u_i + v_j <= C_ij, with equality on the assignment).
#pragma once
#include <stdint.h>

#include <vector>

#include "ot_internal.h"
#include "scalecore/ot/kernel_api.h"

namespace sc {
namespace ot {

struct LapWork {
  std::vector<int32_t> x, y, freerows, collist, pred, matches;
  std::vector<double> v, d, colarg, mask;
};

// C: n x n (row stride ldc).  x[i] receives row i's column, u (n) and v (n)
// the duals.  Returns the assignment cost sum_i C[i][x_i].
// The row scans use the SIMD kernels of K (row_min2, col_min).
// prefetch (optional): the next problem's data, advanced as work proceeds.
double lap_jv(const double* C, int64_t ldc, int n, int32_t* x, double* u, double* v, LapWork& w,
              const OtKernels<double>& K, Prefetch* prefetch = nullptr);

}  // namespace ot
}  // namespace sc
