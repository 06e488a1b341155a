// AVX-512 fitting kernels (compiled with the AVX-512 F/BW/VL/DQ flags, SC_ISA=isa_avx512).
//   fit_one_avx512  "points" mode: one fit, W consecutive points per pack
//   fit_lanes_avx512 "fits" mode: one fit per lane, lanes refilled
#include "scalecore/common/simd_avx512.h"
#include "scalecore/fit/kernels.h"

namespace sc {
namespace fit {

namespace {
template <class S>
void one(const LawHandle& law, const Options& o, OneFit<S>& f) {
  using T = typename pack_of<S>::type;
  const KData<T> d = kdata_of<T>(f, law.n_features);  // the caller pads to a multiple of 16 with w = 0
  with_law(law, [&](const auto& L) { run_one(L, o, d, f); });
}

template <class S>
void lanes(const LawHandle& law, const Options& o, int mpad, LaneSink<S>& sink) {
  using T = typename pack_of<S>::type;
  with_law(law, [&](const auto& L) { run_lanes<std::decay_t<decltype(L)>, T>(L, o, mpad, sink); });
}
}  // namespace

void fit_one_avx512(const LawHandle& law, const Options& o, OneFit<double>& f) { one(law, o, f); }
void fit_one_avx512(const LawHandle& law, const Options& o, OneFit<float>& f) { one(law, o, f); }
void fit_lanes_avx512(const LawHandle& law, const Options& o, int mpad, LaneSink<double>& sink) {
  lanes(law, o, mpad, sink);
}
void eval_normal_avx512(const LawHandle& law, const Options& o, const OneFit<double>& f, double* cost, double* A,
                      double* g) {
  eval_normal<pack_of<double>::type>(law, o, f, cost, A, g);
}
void fit_lanes_avx512(const LawHandle& law, const Options& o, int mpad, LaneSink<float>& sink) {
  lanes(law, o, mpad, sink);
}

}  // namespace fit
}  // namespace sc
