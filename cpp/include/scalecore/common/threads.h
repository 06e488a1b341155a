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
//   * Where the work runs: when a libgomp is already loaded in the process
//     (torch's CPU build loads one), parallel_for hands its chunks to that
//     runtime's OpenMP team of the calling thread (GOMP_parallel), with the
//     same chunks and thread count; otherwise, and inside an OpenMP region,
//     to scalecore's own pool.  Why: torch's OpenMP workers spin for
//     milliseconds after each of torch's parallel regions, so a scalecore call
//     that follows a torch op (every call from a torch model or a torch
//     benchmark) found the other cores taken by spinning threads and its pool
//     workers starved: measured on a 2-core Zen 5, a tensor-product forward
//     after an e3nn call took 8.0 ms at 2 threads against 3.9 ms alone.  On
//     the team, the spinning threads do the work.  libgomp is never loaded by
//     scalecore, and never entered in a child after fork() (its pool does not
//     survive fork).  SCALECORE_OPENMP_TEAM=0 (read once) or
//     set_openmp_team(false) keep every call on the pool.
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

// "libgomp" when parallel_for runs on a loaded libgomp's team, else
// "scalecore" (the pool).
const char* parallel_backend();
void set_openmp_team(bool on);     // false: always the pool (tests, opt-out)

// max_threads <= 0 means "use the pool size".
void parallel_for(int64_t n, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn,
                  int max_threads = 0);

}  // namespace sc
