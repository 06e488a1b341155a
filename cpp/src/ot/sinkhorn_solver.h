// The Sinkhorn solver shared by sinkhorn.cc (the iteration driver and the
// batch entry point) and sinkhorn_passes.cc (the passes over the rows).
// Internal to the OT family; compiled only into generic translation units.
#pragma once
#include <math.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "ot_internal.h"
#include "scalecore/common/threads.h"
#include "scalecore/ot/ot.h"

namespace sc {
namespace ot {
namespace detail {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Thread-local scratch for row buffers (reused across calls and problems).
template <class S>
inline S* scratch(size_t count, int slot) {
  thread_local AlignedBuf<double> bufs[4];
  bufs[slot].resize((count * sizeof(S) + sizeof(double) - 1) / sizeof(double) + 8);
  return reinterpret_cast<S*>(bufs[slot].get());
}

template <class S>
struct Problem {
  int64_t n = 0, m = 0;
  const S* C = nullptr;  // dense rows of ldc, or nullptr (tiled)
  int64_t ldc = 0;
  const CostArgs<S>* gen = nullptr;    // tiled: rows of C
  const CostArgs<S>* gen_t = nullptr;  // tiled: rows of C^T (for bary_y)
  const S* x = nullptr;                // original points (bary), (n x d), (m x d)
  const S* y = nullptr;
  int64_t d = 0;
  const double* a = nullptr;
  const double* b = nullptr;
  double eps = 0;
  const double* f0 = nullptr;
  const double* g0 = nullptr;
};

template <class S>
struct Outputs1 {
  double *f, *g, *f_kl, *g_kl, *bary_x, *bary_y, *row_mass, *col_mass;
  S* plan;
  int64_t ld_plan;
  double cost, objective, err, mass;
  int32_t n_iter;
  int8_t status;
};

template <class S>
class Solver {
 public:
  Solver(const OtKernels<S>& K, const SinkhornOptions& o, int n_threads) : K_(K), o_(o), nt_(n_threads) {}
  void solve(const Problem<S>& P, Outputs1<S>& out);

 private:
  // Calls fn(i, row) for rows [r0, r1) of C (computed when tiled).
  template <class F>
  void for_rows(int64_t r0, int64_t r1, F&& fn);
  template <class F>
  void for_cols_t(int64_t c0, int64_t c1, F&& fn);
  // fn(r0, r1) over the row chunks: parallel_for, or a direct call for a
  // single chunk (small problems: no std::function per pass).
  template <class F>
  void chunks(F&& fn) {
    if (nch_ <= 1) {
      if (n_ > 0) fn(int64_t(0), n_);
      return;
    }
    parallel_for(n_, rows_per_, fn, nt_);
  }
  double lse_pass(bool store);
  double column_from_colP(bool absorb_now, bool* underflow);
  double exact_columns();
  double kernel_pass(bool* bad);
  void kernel_pass_sor(double omega, double* err_row, bool* rows_out, bool* bad);
  double kernel_pass_sym(bool* bad);
  void build_symmetric();
  void absorb_rows();
  void absorb_columns();
  // Scalings kept as logarithms (lu_, lv_): unbalanced problems.  Balanced
  // ones keep u, v (the absorption test bounds them directly).
  bool lv_mode() const { return !balanced_; }
  void reduce_cols(double* dst);
  template <class KT>
  KT* krow(int64_t i);
  void set_eps(double eps);
  void sync_gS();

  const OtKernels<S>& K_;
  const SinkhornOptions& o_;
  int nt_;
  const Problem<S>* P_ = nullptr;
  int64_t n_ = 0, m_ = 0, nch_ = 0, rows_per_ = 0;
  double eps_ = 0, ie_ = 0, lam_a_ = 1, lam_b_ = 1;
  double lo_ = 0, hi_ = 0;  // e^-absorb, e^absorb: the scalings' range before absorption
  bool balanced_ = true;
  bool accel_ = false;  // over-relaxed scaling iterations (balanced, stored kernel)
  bool sym_built_final_ = false;  // symmetric kernel mode: u holds unabsorbed scalings
  int kmode_ = SC_OT_KERNEL_NONE;  // FLOAT32 / FLOAT64 / NONE in use
  std::vector<double> f_, g_, lu_, lv_, u_, v_, loga_, logb_, anc_a_, anc_b_, h_, colacc_, colP_, errf_;
  std::vector<S> gS_;
  AlignedBuf<float> K32_;
  AlignedBuf<double> K64_;
  std::atomic<bool> numerical_{false};
  std::vector<double> v_old_, lv_old_, kv_, tmp_;
  std::vector<int8_t> badc_;
};

template <class S>
template <class F>
void Solver<S>::for_rows(int64_t r0, int64_t r1, F&& fn) {
  const Problem<S>& P = *P_;
  if (P.C) {
    for (int64_t i = r0; i < r1; ++i) fn(i, P.C + i * P.ldc);
    return;
  }
  // Tiled: a block of rows at a time, computed into thread-local scratch.
  const int64_t budget = int64_t(16) << 20;
  int64_t rb = std::max<int64_t>(6, std::min<int64_t>(48, budget / std::max<int64_t>(1, m_ * int64_t(sizeof(S)))));
  rb = std::max<int64_t>(6, (rb / 6) * 6);
  S* buf = scratch<S>(static_cast<size_t>(rb * m_), 0);
  for (int64_t i0 = r0; i0 < r1; i0 += rb) {
    const int64_t i1 = std::min(r1, i0 + rb);
    K_.cost_rows(*P.gen, i0, i1, buf, m_);
    for (int64_t i = i0; i < i1; ++i) fn(i, buf + (i - i0) * m_);
  }
}

// Rows of C^T (columns of C) [c0, c1): tiled only.
template <class S>
template <class F>
void Solver<S>::for_cols_t(int64_t c0, int64_t c1, F&& fn) {
  const Problem<S>& P = *P_;
  const int64_t budget = int64_t(16) << 20;
  int64_t rb = std::max<int64_t>(6, std::min<int64_t>(48, budget / std::max<int64_t>(1, n_ * int64_t(sizeof(S)))));
  rb = std::max<int64_t>(6, (rb / 6) * 6);
  S* buf = scratch<S>(static_cast<size_t>(rb * n_), 0);
  for (int64_t j0 = c0; j0 < c1; j0 += rb) {
    const int64_t j1 = std::min(c1, j0 + rb);
    K_.cost_rows(*P.gen_t, j0, j1, buf, n_);
    for (int64_t j = j0; j < j1; ++j) fn(j, buf + (j - j0) * n_);
  }
}

template <class S>
template <class KT>
KT* Solver<S>::krow(int64_t i) {
  if constexpr (std::is_same<KT, float>::value) return K32_.get() + i * m_;
  else return K64_.get() + i * m_;
}

}  // namespace detail
}  // namespace ot
}  // namespace sc
