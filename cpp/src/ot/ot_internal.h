// Helpers shared by the OT drivers (cost.cc, sinkhorn.cc, emd.cc).  Compiled
// only into generic translation units (std containers allowed).
#pragma once
#include <stdint.h>
#include <stdlib.h>

#include <memory>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "scalecore/ot/kernel_api.h"
#include "scalecore/ot/types.h"

namespace sc {
namespace ot {

// Rows per chunk of a single problem's passes.  Depends only on n, so the
// chunk boundaries, the per-chunk partial sums and their fixed-order
// reduction (hence every result bit) are the same for any thread count.
inline int64_t chunk_rows(int64_t n) {
  const int64_t target_chunks = n >= 4096 ? 16 : n / 256;
  if (target_chunks <= 1) return n > 0 ? n : 1;
  return (n + target_chunks - 1) / target_chunks;
}
inline int64_t n_chunks(int64_t n) {
  const int64_t r = chunk_rows(n);
  return n > 0 ? (n + r - 1) / r : 0;
}

// Software prefetch of the next problem's data (towards L2), spread over
// the current problem's work: step(k) requests the next k cache lines.  In
// one burst the requests would stall the core on the line-fill buffers.
struct Prefetch {
  const char* p = nullptr;
  int64_t bytes = 0, done = 0;
  void reset(const void* ptr, int64_t nbytes) {
    p = static_cast<const char*>(ptr);
    bytes = ptr ? nbytes : 0;
    done = 0;
  }
  void step(int lines) {
    for (int k = 0; k < lines && done < bytes; ++k, done += 64) __builtin_prefetch(p + done, 0, 2);
  }
};

struct FreeDel {
  void operator()(void* p) const { free(p); }
};

// A 64-byte aligned buffer of T (contents uninitialised).
template <class T>
struct AlignedBuf {
  std::unique_ptr<T, FreeDel> p;
  size_t n = 0;
  T* get() const { return p.get(); }
  void resize(size_t count) {
    if (count <= n) return;
    p.reset();
    n = 0;
    // Large buffers (stored kernels) are 2 MiB aligned and marked for
    // transparent huge pages: 512x fewer page faults on first touch.
    const size_t big = size_t(8) << 20, huge = size_t(2) << 20;
    const size_t align = count * sizeof(T) >= big ? huge : 64;
    size_t bytes = ((count * sizeof(T) + align - 1) / align) * align;
    void* q = aligned_alloc(align, bytes > 0 ? bytes : align);
    if (!q) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == huge) madvise(q, bytes, MADV_HUGEPAGE);
#endif
    p.reset(static_cast<T*>(q));
    n = count;
  }
};

// Everything the cost micro-kernel needs for x (n x d) and y (m x d):
// centred copies (translation-invariant metrics: the expanded square then
// loses far less to cancellation), norms and packed y.  O((n + m) d) memory.
template <class S>
struct CostPrep {
  std::vector<S> xc, ypack, nx2, ny2;
  CostArgs<S> args;
  void build(const S* x, const S* y, int64_t n, int64_t m, int64_t d, int metric, double p,
             const int32_t* lx = nullptr, const int32_t* ly = nullptr, const double* table = nullptr,
             int64_t ldt = 0);
};

// True when every one of the count values is finite (parallel scan).
template <class S>
bool all_finite(const S* p, int64_t count, int n_threads);

}  // namespace ot
}  // namespace sc
