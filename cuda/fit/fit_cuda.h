// Launcher of the CUDA fitting kernel (implemented in fit_cuda.cu).  Plain
// C++: no CUDA header.  Host pointers in, host pointers out; the launcher
// copies to and from the device.
#pragma once
#include "scalecore/fit/expr.h"
#include "scalecore/fit/raw_types.h"
#include "scalecore/fit/types.h"

namespace sc {
namespace fit {
namespace gpu {

// Fits every (problem, start) of `batch` on the current CUDA device.  The
// starts must be given (the host computes the law's heuristic starts).
// Same statuses and conventions as the CPU engine; the problems run uncentred
// if centering would change a bound's meaning, and a centred fit whose scale
// parameter changes sign is rerun uncentred in the same thread.
void fit_batch(const RawLaw& law, const ExprProgram* prog, const Batch<double>& batch, const Options& o,
               Outputs<double>& out);
void fit_batch(const RawLaw& law, const ExprProgram* prog, const Batch<float>& batch, const Options& o,
               Outputs<float>& out);

}  // namespace gpu
}  // namespace fit
}  // namespace sc
