// See scalecore/tp/parallel.h.
#include "scalecore/tp/parallel.h"

#include "scalecore/common/threads.h"

namespace sc {
namespace tp {

void tp_parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  parallel_for(n, grain, fn);
}

const char* tp_parallel_backend() { return parallel_backend(); }

}  // namespace tp
}  // namespace sc
