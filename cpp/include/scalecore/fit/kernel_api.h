// Plain C++ declarations of the fitting kernels each ISA translation unit
// provides (fit_generic.cc, fit_avx2.cc, fit_avx512.cc; cuda/fit/*.cu has its own launcher
// header).  Only raw pointers and plain structs cross this boundary.
#pragma once
#include <stdint.h>

#include "scalecore/fit/expr.h"
#include "scalecore/fit/types.h"

namespace sc {
namespace fit {

enum LawId : int {
#define SC_LAW(L) SC_LAWID_##L,
#include "scalecore/fit/laws.def"
#undef SC_LAW
  SC_LAW_COUNT,
  SC_LAWID_EXPR = 1000,
};

// Which law to run: a built-in id, or an expression program.
struct LawHandle {
  int id = -1;
  const ExprProgram* prog = nullptr;
  int n_params = 0;
  int n_features = 0;
};

// One prepared problem: m points (padded with w = 0 up to a multiple of 8),
// features feat[k][i], y (log y for log residuals) and weights, all 32-byte
// aligned.  p holds the start on entry and the solution on return.
template <class S>
struct OneFit {
  const S* feat[kMaxFeatures] = {};
  const S* yt = nullptr;
  const S* w = nullptr;
  int m = 0;
  S* p = nullptr;
  const S* lo = nullptr;  // nullptr: unbounded
  const S* hi = nullptr;
  const S* sgn = nullptr;  // +-1 where a parameter must keep its sign (else 0); may be null
  // outputs
  S cost = 0;
  int8_t status = SC_STATUS_NOT_RUN;
  int32_t n_iter = 0, nfev = 0;
};

// A queue of problems feeding the lanes of the fits-mode kernel.
template <class S>
struct LaneSink {
  void* ctx = nullptr;
  // Loads the next problem into lane `lane` of W: writes its features,
  // y and weights at element [i * W + lane] for i < mpad (padding points
  // w = 0), its start into p0[k], bounds into lo[k] and hi[k], sign guards
  // into sgn[k] (see LMState::sgn).  Returns false
  // when no problem is left.
  bool (*load)(void* ctx, int lane, int W, S* const* feat, S* yt, S* w, int mpad, S* p0, S* lo,
               S* hi, S* sgn) = nullptr;
  // Receives the result of the problem in lane `lane`.
  void (*store)(void* ctx, int lane, const S* p, S cost, int8_t status, int32_t n_iter,
                int32_t nfev) = nullptr;
};

// Scalar level: one fit, scalar evaluation.
void fit_one_generic(const LawHandle& law, const Options& o, OneFit<double>& f);
void fit_one_generic(const LawHandle& law, const Options& o, OneFit<float>& f);
// Evaluation of J^T J, J^T r and cost at f.p (no iteration), scalar level.
void eval_normal_generic(const LawHandle& law, const Options& o, const OneFit<double>& f,
                         double* cost, double* A /* kMaxParams^2 */, double* g);
// Model values f(x) at n points of features feat[k][i] for params p.
void law_values_generic(const LawHandle& law, const double* const* feat, int n, const double* p,
                        double* out, double* jac = nullptr);  // jac: n x n_params, row-major

#if defined(SC_HAVE_AVX2_KERNELS)
// AVX2 level, "points" mode: one fit, SIMD over its points.
void fit_one_avx2(const LawHandle& law, const Options& o, OneFit<double>& f);
void fit_one_avx2(const LawHandle& law, const Options& o, OneFit<float>& f);
// AVX2 level, "fits" mode: one fit per lane until the sink is empty.
// mpad = points per problem (padded); the buffers are allocated inside.
void fit_lanes_avx2(const LawHandle& law, const Options& o, int mpad, LaneSink<double>& sink);
void fit_lanes_avx2(const LawHandle& law, const Options& o, int mpad, LaneSink<float>& sink);
// eval_normal_generic with SIMD over the points (f.m padded to a multiple of 8 with w = 0).
void eval_normal_avx2(const LawHandle& law, const Options& o, const OneFit<double>& f, double* cost,
                      double* A /* kMaxParams^2 */, double* g);
#endif

#if defined(SC_HAVE_AVX512_KERNELS)
// AVX-512 level: the same three kernels with 8 float64 / 16 float32 lanes
// (f.m padded to a multiple of 16 with w = 0).
void fit_one_avx512(const LawHandle& law, const Options& o, OneFit<double>& f);
void fit_one_avx512(const LawHandle& law, const Options& o, OneFit<float>& f);
void fit_lanes_avx512(const LawHandle& law, const Options& o, int mpad, LaneSink<double>& sink);
void fit_lanes_avx512(const LawHandle& law, const Options& o, int mpad, LaneSink<float>& sink);
void eval_normal_avx512(const LawHandle& law, const Options& o, const OneFit<double>& f, double* cost,
                        double* A /* kMaxParams^2 */, double* g);
#endif

}  // namespace fit
}  // namespace sc
