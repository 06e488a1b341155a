// Launcher of the Clebsch-Gordan product's CUDA forward kernel (product.cu).
// Plain C++: nothing here includes a CUDA header.  Host pointers in and out:
// the launcher copies the plan's sparse CG and the rows to the current
// device, runs one thread block per row and one thread per (output block,
// channel) on tp_path_forward_channel (scalecore/tp/plan.h: the same per-path
// math the CPU runs as tp_contract's impl 2) and copies the output back;
// CUDA errors throw sc::RuntimeError.
#pragma once
#include <stdint.h>

#include "scalecore/tp/plan.h"

namespace sc {
namespace tp {
namespace cuda {

// out[n, dim_out] = T(x[n, dim1], y[n, dim2], w): w is [weight_numel] when
// w_shared, else [n, weight_numel].
void tp_forward_cuda(const TpPlan& plan, const float* x, const float* y, const float* w, bool w_shared, int64_t n,
                     float* out);
void tp_forward_cuda(const TpPlan& plan, const double* x, const double* y, const double* w, bool w_shared, int64_t n,
                     double* out);

}  // namespace cuda
}  // namespace tp
}  // namespace sc
