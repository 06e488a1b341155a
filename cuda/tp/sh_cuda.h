// Launcher of the spherical-harmonics CUDA kernel (implemented in sh.cu).
// Plain C++: nothing here includes a CUDA header.  The launcher takes host
// pointers, copies the inputs to the current device, runs one thread per
// vector on the per-point math of scalecore/tp/sh.h (the same code the CPU
// kernels run) and copies the output back; CUDA errors throw sc::RuntimeError.
#pragma once
#include <stdint.h>

namespace sc {
namespace tp {
namespace cuda {

// out[n, dim] = Y(vec[n, 3]); block l starts at column col_offset[l] (or is
// skipped when negative), 0 <= l <= lmax <= kShMaxL; normalization is an
// ShNormalization code.  Columns not covered by a block are left zero.
void sh_forward_cuda(const float* vec, int64_t n, int lmax, const int* col_offset, int64_t dim, int normalization,
                     bool normalize, float* out);
void sh_forward_cuda(const double* vec, int64_t n, int lmax, const int* col_offset, int64_t dim, int normalization,
                     bool normalize, double* out);

}  // namespace cuda
}  // namespace tp
}  // namespace sc
