// The tp family's parallel loop: sc::parallel_for (scalecore/common/threads.h),
// which runs on the OpenMP team of a libgomp already loaded in the process
// (torch's) when there is one.  The tp kernels were the first to need that,
// and this name stays until their call sites move to sc::parallel_for.
#pragma once
#include <stdint.h>

#include <functional>

namespace sc {
namespace tp {

void tp_parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// sc::parallel_backend(): "libgomp" or "scalecore".
const char* tp_parallel_backend();

}  // namespace tp
}  // namespace sc
