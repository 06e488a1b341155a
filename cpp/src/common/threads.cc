// The CPU thread pool (see threads.h for the contract).
#include "scalecore/common/threads.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#endif

#include "scalecore/common/errors.h"

namespace sc {
namespace {

thread_local bool tl_inside_task = false;

// ---------------------------------------------------------------------------
// The OpenMP team of a libgomp already in the process (see threads.h).
// ---------------------------------------------------------------------------

// The libgomp entry points GCC emits for `#pragma omp parallel`.
struct Gomp {
  void (*parallel)(void (*)(void*), void*, unsigned, unsigned) = nullptr;
  int (*in_parallel)() = nullptr;
};

// Set in a forked child: libgomp's thread pool does not survive fork(), so a
// child never enters it (our own pool restarts instead).
std::atomic<bool> g_team_forked{false};
// SCALECORE_OPENMP_TEAM=0 (read once) or set_openmp_team(false) turn it off.
std::atomic<int> g_team_enabled{-1};

bool team_enabled() {
  int v = g_team_enabled.load(std::memory_order_relaxed);
  if (v < 0) {
    const char* env = std::getenv("SCALECORE_OPENMP_TEAM");
    v = (env && env[0] == '0' && env[1] == '\0') ? 0 : 1;
    int expected = -1;
    if (!g_team_enabled.compare_exchange_strong(expected, v)) v = expected;
  }
  return v == 1 && !g_team_forked.load(std::memory_order_relaxed);
}

// libgomp if it is already loaded (never loads it).  Looked up again on each
// call until found: torch may be imported after scalecore's first call.
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

// The team to use for this call, or null for the pool.
const Gomp* team() {
  if (!team_enabled()) return nullptr;
  const Gomp* g = gomp();
  return g && !g->in_parallel() ? g : nullptr;
}

struct Job {
  const std::function<void(int64_t, int64_t)>* fn = nullptr;
  int64_t n = 0, grain = 1, nchunks = 0;
  int max_helpers = 0;                 // pool workers allowed on this job
  std::atomic<int64_t> next{0};        // next chunk to hand out
  std::atomic<int64_t> finished{0};    // chunks run or skipped
  std::atomic<int> helpers{0};         // workers currently attached
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex mu;
  std::condition_variable cv;

  // Runs chunks until none is left.  Returns when this thread can take no more.
  void work() {
    for (;;) {
      const int64_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= nchunks) return;
      if (!failed.load(std::memory_order_relaxed)) {
        const int64_t b = c * grain;
        const int64_t e = (b + grain < n) ? b + grain : n;
        try {
          (*fn)(b, e);
        } catch (...) {
          std::lock_guard<std::mutex> lk(mu);
          if (!failed.exchange(true)) error = std::current_exception();
        }
      }
      if (finished.fetch_add(1, std::memory_order_acq_rel) + 1 == nchunks) {
        std::lock_guard<std::mutex> lk(mu);
        cv.notify_all();
      }
    }
  }
  bool exhausted() const { return next.load(std::memory_order_relaxed) >= nchunks; }
};

// Each member of the OpenMP team takes chunks until none is left; a
// parallel_for inside a chunk runs inline, as on the pool.
void team_body(void* p) {
  Job& j = *static_cast<Job*>(p);
  const bool outer = tl_inside_task;
  tl_inside_task = true;
  j.work();
  tl_inside_task = outer;
}

class Pool {
 public:
  Pool() {
    int n = hardware_threads();
    if (const char* env = std::getenv("SCALECORE_NUM_THREADS")) {
      char* end = nullptr;
      long v = std::strtol(env, &end, 10);
      if (end != env && *end == '\0' && v >= 1 && v <= 4096) n = static_cast<int>(v);
    }
    target_ = n;
  }

  int size() const { return target_.load(); }

  void resize(int n) {
    std::lock_guard<std::mutex> lk(mu_);
    target_ = n;
    cv_.notify_all();
  }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn,
           int max_threads) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    const int64_t nchunks = (n + grain - 1) / grain;
    int threads = max_threads > 0 ? std::min(max_threads, size()) : size();
    if (tl_inside_task || threads <= 1 || nchunks <= 1) {
      run_serial(n, grain, fn);
      return;
    }
    if (const Gomp* g = team()) {
      Job j;
      j.fn = &fn;
      j.n = n;
      j.grain = grain;
      j.nchunks = nchunks;
      g->parallel(team_body, &j, static_cast<unsigned>(std::min<int64_t>(threads, nchunks)), 0);
      if (j.error) std::rethrow_exception(j.error);
      return;
    }
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->n = n;
    job->grain = grain;
    job->nchunks = nchunks;
    job->max_helpers = static_cast<int>(std::min<int64_t>(threads - 1, nchunks - 1));
    {
      std::lock_guard<std::mutex> lk(mu_);
      ensure_workers_locked(threads - 1);
      jobs_.push_back(job);
    }
    cv_.notify_all();

    tl_inside_task = true;
    job->work();
    tl_inside_task = false;
    {
      std::unique_lock<std::mutex> lk(job->mu);
      job->cv.wait(lk, [&] { return job->finished.load() == job->nchunks; });
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (auto it = jobs_.begin(); it != jobs_.end(); ++it)
        if (*it == job) { jobs_.erase(it); break; }
    }
    if (job->error) std::rethrow_exception(job->error);
  }

  // After fork() only the forking thread survives: forget the workers (they do
  // not exist in the child) and start afresh on next use.
  void after_fork_child() {
    new (&mu_) std::mutex();
    new (&cv_) std::condition_variable();
    for (auto& t : workers_) t.detach();
    workers_.clear();
    jobs_.clear();
  }

 private:
  static void run_serial(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    // Same chunk boundaries as the parallel path.
    for (int64_t b = 0; b < n; b += grain) fn(b, std::min(b + grain, n));
  }

  void ensure_workers_locked(int want) {
    while (static_cast<int>(workers_.size()) < want) {
      const int id = static_cast<int>(workers_.size());
      workers_.emplace_back([this, id] { worker_loop(id); });
    }
  }

  // Worker `id` helps only while id < target - 1, so shrinking the pool takes
  // effect at once without joining threads.
  void worker_loop(int id) {
    tl_inside_task = true;
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      std::shared_ptr<Job> job;
      cv_.wait(lk, [&] {
        if (id >= target_.load() - 1) return false;
        for (auto& j : jobs_)
          if (!j->exhausted() && j->helpers.load() < j->max_helpers) { job = j; return true; }
        return false;
      });
      job->helpers.fetch_add(1);
      lk.unlock();
      job->work();
      job->helpers.fetch_sub(1);
      lk.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> jobs_;
  std::vector<std::thread> workers_;
  std::atomic<int> target_{1};
};

// Leaked on purpose: worker threads are never joined at exit, which avoids
// static-destruction order problems with the Python interpreter.
Pool& pool() {
  static Pool* p = [] {
    auto* q = new Pool();
#if defined(__linux__)
    pthread_atfork(nullptr, nullptr, [] {
      g_team_forked.store(true);
      pool().after_fork_child();
    });
#endif
    return q;
  }();
  return *p;
}

}  // namespace

int hardware_threads() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int c = CPU_COUNT(&set);
    if (c > 0) return c;
  }
#endif
  unsigned h = std::thread::hardware_concurrency();
  return h > 0 ? static_cast<int>(h) : 1;
}

int num_threads() { return pool().size(); }

void set_num_threads(int n) {
  if (n < 1 || n > 4096)
    throw ValueError("n_threads: expected an integer in [1, 4096], got " + std::to_string(n));
  pool().resize(n);
}

const char* parallel_backend() { return team_enabled() && gomp() ? "libgomp" : "scalecore"; }

void set_openmp_team(bool on) { g_team_enabled.store(on ? 1 : 0); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn,
                  int max_threads) {
  pool().run(n, grain, fn, max_threads);
}

}  // namespace sc
