// The tp family's parallel loop: sc::parallel_for's contract (chunk
// boundaries are multiples of `grain` and depend on (n, grain) only, the
// first exception is rethrown in the caller), run on the OpenMP team of a
// libgomp already loaded in the process when there is one (torch's).
//
// Why: torch's OpenMP workers spin for milliseconds after each of its
// parallel regions.  A tp call that follows a torch op (every call inside a
// torch model) then finds the other core taken by a spinning thread, and
// scalecore's pool worker gets no share of it: measured on the 2-core Zen 5,
// the FCTP forward after an e3nn call took 8.0 ms at 2 threads against 3.9 ms
// alone.  Handing the chunks to that team makes the spinning threads do the
// work instead.  Without libgomp in the process (numpy, JAX) this is
// sc::parallel_for.  The thread count is sc::num_threads() either way.
#pragma once
#include <stdint.h>

#include <functional>

namespace sc {
namespace tp {

void tp_parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// "libgomp" when tp_parallel_for runs on a loaded libgomp's team, else
// "scalecore" (the pool).
const char* tp_parallel_backend();

}  // namespace tp
}  // namespace sc
