// scalecore's one CPU thread pool.
//
// Contract:
//   * parallel_for(n, grain, fn) calls fn(begin, end) on disjoint chunks that
//     cover [0, n); chunk boundaries are multiples of `grain` and depend only on
//     (n, grain), never on the number of threads.  Kernels write each item's
//     result from that item's input alone, so results are bit-identical for
//     any thread count.
//   * The calling thread works on its own job too, so concurrent calls from
//     several (Python) threads always make progress and are safe.
//   * A parallel_for issued from inside a pool task runs inline, serially.
//   * The first exception thrown by fn is rethrown in the caller after every
//     chunk has finished or been skipped.
//   * The pool size is set by set_num_threads(n) or, before first use, by the
//     environment variable SCALECORE_NUM_THREADS; the default is the number
//     of CPUs this process may run on.
#pragma once
#include <cstdint>
#include <functional>

namespace sc {

int num_threads();                 // current pool size (>= 1), caller included
void set_num_threads(int n);       // n >= 1; throws ValueError otherwise
int hardware_threads();            // CPUs available to this process

// max_threads <= 0 means "use the pool size".
void parallel_for(int64_t n, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn,
                  int max_threads = 0);

}  // namespace sc
