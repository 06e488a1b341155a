// The CPU thread pool (see threads.h for the contract).
#include "scalecore/common/threads.h"

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
#include <pthread.h>
#include <sched.h>
#endif

#include "scalecore/common/errors.h"

namespace sc {
namespace {

thread_local bool tl_inside_task = false;

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
    pthread_atfork(nullptr, nullptr, [] { pool().after_fork_child(); });
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

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn,
                  int max_threads) {
  pool().run(n, grain, fn, max_threads);
}

}  // namespace sc
