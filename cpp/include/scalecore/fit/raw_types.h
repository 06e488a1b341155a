// Plain structs of the raw (unprepared) fitting path shared by the CUDA
// launcher, the CPU test entry and the bindings (math lives in raw.h).
#pragma once
#include <stdint.h>

#include "scalecore/fit/types.h"

namespace sc {
namespace fit {

// Everything the raw path needs to know about a law, by value.
struct RawLaw {
  int id = -1;                 // built-in id or SC_LAWID_EXPR
  int np = 0, nin = 0, nf = 0;
  int8_t tf[kMaxInputs] = {};  // built-ins: transform per input
  int n_center = 0;            // built-ins: centering terms (types.h)
  CenterTerm center[kMaxCenterTerms] = {};
};

// A batch as raw pointers and strides (host or device memory), and outputs.
template <class S>
struct RawArgs {
  int64_t B = 0, M = 0;
  int nin = 0, S_count = 1;
  const S* x[kMaxInputs] = {};
  int64_t xs[kMaxInputs] = {};
  const S* y = nullptr;
  int64_t ys = 0;
  const uint8_t* mask = nullptr;
  int64_t ms = 0;
  const S* sigma = nullptr;
  int64_t ss = 0;
  const S* starts = nullptr;  // required
  int64_t st_b = 0, st_s = 0;
  const S* lo = nullptr;
  const S* hi = nullptr;
  int64_t bs = 0;
  S* params = nullptr;
  S* cost = nullptr;
  int8_t* status = nullptr;
  int32_t* n_iter = nullptr;
  int32_t* nfev = nullptr;
};

}  // namespace fit
}  // namespace sc

