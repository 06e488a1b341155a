// Ground costs: preparation (centring, norms, packing), the blocked
// multithreaded cost matrix, and the kernel-table dispatch.
#include <math.h>

#include <algorithm>
#include <atomic>
#include <string>

#include "ot_internal.h"
#include "scalecore/common/dispatch.h"
#include "scalecore/common/errors.h"
#include "scalecore/common/threads.h"
#include "scalecore/ot/ot.h"

namespace sc {
namespace ot {

template <class S>
const OtKernels<S>& ot_kernels(int impl) {
  if (impl == 1) return ot_kernels_ref<S>();
#if defined(SC_HAVE_AVX512_KERNELS)
  if (simd_at_least(SimdLevel::avx512)) return ot_kernels_avx512<S>();
#endif
#if defined(SC_HAVE_AVX2_KERNELS)
  if (simd_at_least(SimdLevel::avx2)) return ot_kernels_avx2<S>();
#endif
  return ot_kernels_generic<S>();
}
template const OtKernels<double>& ot_kernels<double>(int);
template const OtKernels<float>& ot_kernels<float>(int);

template <class S>
void CostPrep<S>::build(const S* x, const S* y, int64_t n, int64_t m, int64_t d, int metric, double p,
                        const int32_t* lx, const int32_t* ly, const double* table, int64_t ldt) {
  // Centre on the mean of the union for the translation-invariant metrics.
  std::vector<double> mu(static_cast<size_t>(d), 0.0);
  const bool centre = metric != SC_OT_COSINE && n + m > 0;
  if (centre) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < d; ++k) mu[k] += x[i * d + k];
    for (int64_t j = 0; j < m; ++j)
      for (int64_t k = 0; k < d; ++k) mu[k] += y[j * d + k];
    for (auto& v : mu) v /= static_cast<double>(n + m);
  }
  xc.resize(static_cast<size_t>(n * d));
  nx2.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t k = 0; k < d; ++k) {
      const S v = static_cast<S>(double(x[i * d + k]) - mu[k]);
      xc[i * d + k] = v;
      s += double(v) * double(v);
    }
    nx2[i] = static_cast<S>(s);
  }
  const int64_t mp = ((m + kPanel - 1) / kPanel) * kPanel;
  std::vector<S> yc(static_cast<size_t>(m * d));
  ny2.assign(static_cast<size_t>(mp), S(0));
  for (int64_t j = 0; j < m; ++j) {
    double s = 0;
    for (int64_t k = 0; k < d; ++k) {
      const S v = static_cast<S>(double(y[j * d + k]) - mu[k]);
      yc[j * d + k] = v;
      s += double(v) * double(v);
    }
    ny2[j] = static_cast<S>(s);
  }
  ypack.resize(static_cast<size_t>(mp * d > 0 ? mp * d : 1));
  pack_y<S>(yc.data(), m, d, ypack.data());
  args.x = xc.data();
  args.ypack = ypack.data();
  args.nx2 = nx2.data();
  args.ny2 = ny2.data();
  args.n = n;
  args.m = m;
  args.d = d;
  args.metric = metric;
  args.p = p;
  args.lx = lx;
  args.ly = ly;
  args.table = table;
  args.ldt = ldt;
}
template struct CostPrep<double>;
template struct CostPrep<float>;

template <class S>
bool all_finite(const S* p, int64_t count, int n_threads) {
  std::atomic<bool> ok{true};
  parallel_for(count, 1 << 18, [&](int64_t b, int64_t e) {
    if (!ok.load(std::memory_order_relaxed)) return;
    // x - x is 0 for finite x, NaN otherwise; summing keeps the loop branch-free.
    S acc = 0;
    for (int64_t i = b; i < e; ++i) acc += p[i] - p[i];
    if (!(acc == 0)) ok.store(false, std::memory_order_relaxed);
  }, n_threads);
  return ok.load();
}
template bool all_finite<double>(const double*, int64_t, int);
template bool all_finite<float>(const float*, int64_t, int);

void check_metric(int metric, double p) {
  if (metric < 0 || metric >= SC_OT_METRIC_COUNT)
    throw ValueError("metric: unknown metric code " + std::to_string(metric));
  if (!(p > 0) || !std::isfinite(p))
    throw ValueError("p: expected a finite power > 0, got " + std::to_string(p));
}

template <class S>
void ot_cost_matrix(const S* x, const S* y, int64_t n, int64_t m, int64_t d, int metric, double p, S* out,
                    const CostLabels& labels, int impl, int n_threads) {
  check_metric(metric, p);
  if (n == 0 || m == 0) return;
  CostPrep<S> prep;
  prep.build(x, y, n, m, d, metric, p, labels.lx, labels.ly, labels.table, labels.ldt);
  const OtKernels<S>& K = ot_kernels<S>(impl);
  parallel_for(n, 32, [&](int64_t i0, int64_t i1) { K.cost_rows(prep.args, i0, i1, out + i0 * m, m); },
               n_threads);
}
template void ot_cost_matrix<double>(const double*, const double*, int64_t, int64_t, int64_t, int, double,
                                     double*, const CostLabels&, int, int);
template void ot_cost_matrix<float>(const float*, const float*, int64_t, int64_t, int64_t, int, double,
                                    float*, const CostLabels&, int, int);

}  // namespace ot
}  // namespace sc
