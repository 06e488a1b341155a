// See scalecore/tp/parallel.h.
#include "scalecore/tp/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>

#if defined(__linux__)
#include <dlfcn.h>
#endif

#include "scalecore/common/threads.h"

namespace sc {
namespace tp {

namespace {

// The libgomp entry points GCC emits for `#pragma omp parallel`.
struct Gomp {
  void (*parallel)(void (*)(void*), void*, unsigned, unsigned) = nullptr;
  int (*in_parallel)() = nullptr;
};

// libgomp if it is already loaded (never loads it).  Looked up again on each
// call until found: torch may be imported after the first tp call.
const Gomp* gomp() {
#if defined(__linux__)
  static std::atomic<const Gomp*> found{nullptr};
  const Gomp* g = found.load(std::memory_order_acquire);
  if (g) return g;
  void* h = dlopen("libgomp.so.1", RTLD_LAZY | RTLD_NOLOAD);
  if (!h) return nullptr;
  static Gomp storage;
  static std::once_flag once;
  std::call_once(once, [&] {
    storage.parallel = reinterpret_cast<void (*)(void (*)(void*), void*, unsigned, unsigned)>(dlsym(h, "GOMP_parallel"));
    storage.in_parallel = reinterpret_cast<int (*)()>(dlsym(h, "omp_in_parallel"));
    if (storage.parallel && storage.in_parallel) found.store(&storage, std::memory_order_release);
  });
  // The handle keeps libgomp loaded (one reference, never closed).
  return found.load(std::memory_order_acquire);
#else
  return nullptr;
#endif
}

struct Job {
  const std::function<void(int64_t, int64_t)>* fn;
  int64_t n, grain, nchunks;
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex mu;
};

void team_body(void* p) {
  Job& j = *static_cast<Job*>(p);
  for (;;) {
    const int64_t c = j.next.fetch_add(1, std::memory_order_relaxed);
    if (c >= j.nchunks) return;
    if (j.failed.load(std::memory_order_relaxed)) continue;
    const int64_t b = c * j.grain, e = std::min(b + j.grain, j.n);
    try {
      (*j.fn)(b, e);
    } catch (...) {
      std::lock_guard<std::mutex> lk(j.mu);
      if (!j.failed.exchange(true)) j.error = std::current_exception();
    }
  }
}

}  // namespace

void tp_parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t nchunks = (n + grain - 1) / grain;
  const int threads = static_cast<int>(std::min<int64_t>(num_threads(), nchunks));
  const Gomp* g = threads > 1 ? gomp() : nullptr;
  if (!g || g->in_parallel()) {
    parallel_for(n, grain, fn);
    return;
  }
  Job j;
  j.fn = &fn;
  j.n = n;
  j.grain = grain;
  j.nchunks = nchunks;
  g->parallel(team_body, &j, static_cast<unsigned>(threads), 0);
  if (j.error) std::rethrow_exception(j.error);
}

const char* tp_parallel_backend() { return gomp() ? "libgomp" : "scalecore"; }

}  // namespace tp
}  // namespace sc
