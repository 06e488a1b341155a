// Scalar-level fitting kernels: one fit at a time, one point per element.
// Compiled without ISA flags; runs on any x86-64 (and any other CPU).
#include "scalecore/common/threads.h"
#include "scalecore/fit/fit.h"
#include "scalecore/fit/kernels.h"
#include "scalecore/fit/raw.h"

namespace sc {
namespace fit {

namespace {

template <class S>
void one(const LawHandle& law, const Options& o, OneFit<S>& f) {
  const KData<S> d = kdata_of<S>(f, law.n_features);
  with_law(law, [&](const auto& L) { run_one(L, o, d, f); });
}
}  // namespace

void fit_one_generic(const LawHandle& law, const Options& o, OneFit<double>& f) { one(law, o, f); }
void fit_one_generic(const LawHandle& law, const Options& o, OneFit<float>& f) { one(law, o, f); }

void eval_normal_generic(const LawHandle& law, const Options& o, const OneFit<double>& f, double* cost,
                         double* A, double* g) {
  eval_normal<double>(law, o, f, cost, A, g);
}

void law_values_generic(const LawHandle& law, const double* const* feat, int n, const double* p,
                        double* out, double* jac) {
  KData<double> d;
  for (int k = 0; k < law.n_features; ++k) d.feat[k] = feat[k];
  d.yt = d.w = nullptr;
  d.n = n;
  with_law(law, [&](const auto& L) { L.values(d, p, out, jac, law.n_params); });
}

RawLaw raw_law(const Law& law) {
  RawLaw d;
  d.id = law.id;
  d.np = law.n_params;
  d.nin = law.n_inputs;
  d.nf = law.n_features;
  for (int k = 0; k < law.n_inputs && k < static_cast<int>(law.transforms.size()); ++k) d.tf[k] = law.transforms[k];
  d.n_center = static_cast<int>(law.center.size());
  for (int j = 0; j < d.n_center; ++j) d.center[j] = law.center[j];
  return d;
}

template <class S>
void fit_batch_raw_cpu(const Law& law, const RawArgs<S>& a, const Options& o) {
  const RawLaw rl = raw_law(law);
  const int64_t Q = a.B * int64_t(a.S_count);
  parallel_for(Q, 16, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) fit_problem_raw(a, rl, law.prog.get(), o, q);
  });
}
template void fit_batch_raw_cpu<double>(const Law&, const RawArgs<double>&, const Options&);
template void fit_batch_raw_cpu<float>(const Law&, const RawArgs<float>&, const Options&);

}  // namespace fit
}  // namespace sc
