// The passes of the Sinkhorn solver over the rows of a problem (see
// sinkhorn_solver.h): log-sum-exp row updates with or without storing the
// kernel, the exact column update, the stored-kernel scaling passes (plain,
// over-relaxed, symmetric) and the absorption of the scalings.
#include "scalecore/common/threads.h"
#include "scalecore/common/vecmath.h"
#include "scalecore/ot/sinkhorn_math.h"
#include "sinkhorn_solver.h"

namespace sc {
namespace ot {
namespace detail {

template <class S>
void Solver<S>::reduce_cols(double* dst) {
  // Fixed order: chunk 0, 1, ... (parallel over column blocks only).
  const int64_t m = m_, nch = nch_;
  const double* acc = colacc_.data();
  if (nch == 1) {
    std::copy(acc, acc + m, dst);
    return;
  }
  parallel_for(m, 4096, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      double s = 0;
      for (int64_t c = 0; c < nch; ++c) s += acc[c * m + j];
      dst[j] = s;
    }
  }, nt_);
}

template <class S>
void Solver<S>::sync_gS() {
  for (int64_t j = 0; j < m_; ++j) gS_[j] = static_cast<S>(g_[j]);
}

template <class S>
void Solver<S>::set_eps(double eps) {
  eps_ = eps;
  ie_ = 1.0 / eps;
  lam_a_ = sinkhorn_lambda(o_.rho_a, eps);
  lam_b_ = sinkhorn_lambda(o_.rho_b, eps);
}

// Row update of f from g (log domain) and the column sums of P(f_new, g):
// colP_.  With store, the kernel K = P(f_new, g) is written (u = 1).
// Returns max |f_new - f_old| over rows with a_i > 0 (for unbalanced err).
template <class S>
double Solver<S>::lse_pass(bool store) {
  sync_gS();
  const int64_t m = m_;
  std::fill(errf_.begin(), errf_.end(), 0.0);
  chunks([&](int64_t r0, int64_t r1) {
    const int64_t c = r0 / rows_per_;
    double* acc = colacc_.data() + c * m;
    std::fill(acc, acc + m, 0.0);
    S* e = scratch<S>(static_cast<size_t>(m), 1);
    double emax = 0;
    for_rows(r0, r1, [&](int64_t i, const S* crow) {
      if (!(P_->a[i] > 0)) {
        f_[i] = -kInf;
        if (store) {
          if (kmode_ == SC_OT_KERNEL_FLOAT32) std::fill(krow<float>(i), krow<float>(i) + m, 0.0f);
          else std::fill(krow<double>(i), krow<double>(i) + m, 0.0);
        }
        return;
      }
      const double mx = K_.row_max(crow, gS_.data(), ie_, m);
      const double sum = store && kmode_ == SC_OT_KERNEL_FLOAT32 ? K_.row_expsum_f32exp(crow, gS_.data(), ie_, mx, m, e)
                                                                  : K_.row_expsum(crow, gS_.data(), ie_, mx, m, e);
      const double fold = f_[i];
      double fn, w;
      if (balanced_) {
        fn = eps_ * (loga_[i] - mx - std::log(sum));
        w = P_->a[i] / sum;
      } else {
        fn = sinkhorn_potential(loga_[i], mx, sum, eps_, lam_a_, anc_a_[i]);
        w = std::exp(fn * ie_ + mx);
      }
      f_[i] = fn;
      if (!(std::isfinite(fn)) || !(sum > 0)) numerical_ = true;
      const double dfi = std::fabs(fn - fold);
      if (dfi == dfi && dfi > emax) emax = dfi;
      if (!std::isfinite(fold)) emax = kInf;
      if (store) {
        if (kmode_ == SC_OT_KERNEL_FLOAT32) K_.col_store_f32(e, w, m, acc, krow<float>(i));
        else K_.col_store_f64(e, w, m, acc, krow<double>(i));
      } else {
        K_.col_axpy(e, w, m, acc);
      }
    });
    errf_[c] = emax;
  });
  reduce_cols(colP_.data());
  double e = 0;
  for (double v : errf_) e = std::max(e, v);
  return e;
}

// The column update from colP (the column sums of P(f, g)):
//   lv_j = lam_b (log b_j - log colP_j) + (lam_b - 1)(g_j / eps - r_j),
// absorbed into g at once (kernel-free) or kept as v = exp(lv) (kernel).
// Returns max |lv| (the change of g / eps).
template <class S>
double Solver<S>::column_from_colP(bool absorb_now, bool* underflow) {
  *underflow = false;
  double emax = 0;
  for (int64_t j = 0; j < m_; ++j) {
    if (!(P_->b[j] > 0)) {
      lv_[j] = 0;
      v_[j] = 0;
      g_[j] = -kInf;
      continue;
    }
    const double cp = colP_[j];
    if (!(cp > 1e-300) || !std::isfinite(cp)) {
      if (cp != cp) numerical_ = true;
      *underflow = true;
      lv_[j] = 0;
      v_[j] = 1;
      continue;
    }
    double lv;
    if (balanced_) lv = logb_[j] - std::log(cp);
    else lv = lam_b_ * (logb_[j] - std::log(cp)) + (lam_b_ - 1.0) * (g_[j] * ie_ - anc_b_[j]);
    emax = std::max(emax, std::fabs(lv));
    if (absorb_now) {
      g_[j] += eps_ * lv;
      lv_[j] = 0;
      v_[j] = 1;
    } else {
      lv_[j] = lv;
      v_[j] = balanced_ ? P_->b[j] / cp : std::exp(lv);
    }
  }
  return emax;
}

// Exact column update (two passes: column maxima, then sums): used when a
// column's sum underflowed in the one-pass update (potentials far off).
template <class S>
double Solver<S>::exact_columns() {
  const int64_t m = m_;
  std::vector<double> cmax(static_cast<size_t>(m), -kInf);
  // Column maxima per chunk into colacc_, then max-reduced.
  chunks([&](int64_t r0, int64_t r1) {
    double* acc = colacc_.data() + (r0 / rows_per_) * m;
    std::fill(acc, acc + m, -kInf);
    for_rows(r0, r1, [&](int64_t i, const S* crow) {
      if (P_->a[i] > 0) K_.col_max(crow, f_[i], m, acc);
    });
  });
  for (int64_t c = 0; c < nch_; ++c)
    for (int64_t j = 0; j < m; ++j) cmax[j] = std::max(cmax[j], colacc_[c * m + j]);
  chunks([&](int64_t r0, int64_t r1) {
    double* acc = colacc_.data() + (r0 / rows_per_) * m;
    std::fill(acc, acc + m, 0.0);
    for_rows(r0, r1, [&](int64_t i, const S* crow) {
      if (!(P_->a[i] > 0)) return;
      if (kmode_ == SC_OT_KERNEL_FLOAT32) K_.col_sumexp_f32exp(crow, f_[i], cmax.data(), ie_, m, acc);
      else K_.col_sumexp(crow, f_[i], cmax.data(), ie_, m, acc);
    });
  });
  reduce_cols(colP_.data());
  double emax = 0;
  for (int64_t j = 0; j < m; ++j) {
    if (!(P_->b[j] > 0)) {
      g_[j] = -kInf;
      lv_[j] = 0;
      v_[j] = 0;
      continue;
    }
    const double L = cmax[j] * ie_ + std::log(colP_[j]);
    const double gn = lam_b_ * eps_ * (logb_[j] - L) + (1.0 - lam_b_) * eps_ * anc_b_[j];
    const double d = std::fabs(gn - g_[j]) * ie_;
    if (d == d) emax = std::max(emax, d);
    lv_[j] = 0;
    g_[j] = gn;
    v_[j] = 1;
    if (!std::isfinite(gn)) numerical_ = true;
  }
  return emax;
}

// One scaling iteration on the stored kernel: u from K v (rows), then
// K^T u (columns, into colP_ as the raw sums).  Returns max |delta log u|.
template <class S>
double Solver<S>::kernel_pass(bool* bad) {
  const int64_t m = m_;
  std::fill(errf_.begin(), errf_.end(), 0.0);
  badc_.assign(static_cast<size_t>(nch_), 0);
  int8_t* badc = badc_.data();
  const bool f32 = kmode_ == SC_OT_KERNEL_FLOAT32;
  chunks([&](int64_t r0, int64_t r1) {
    const int64_t c = r0 / rows_per_;
    double* acc = colacc_.data() + c * m;
    std::fill(acc, acc + m, 0.0);
    double emax = 0;
    // Rows in groups of 4: four dots (K v), four scalings, one 4-row axpy.
    for (int64_t i0 = r0; i0 < r1; i0 += 4) {
      const int64_t cnt = std::min<int64_t>(4, r1 - i0);
      double us[4] = {0, 0, 0, 0};
      double kvs[4];
      if (cnt == 4) {
        if (f32) K_.krow_dot4_f32(krow<float>(i0), m, v_.data(), m, kvs);
        else K_.krow_dot4_f64(krow<double>(i0), m, v_.data(), m, kvs);
      }
      for (int64_t t = 0; t < cnt; ++t) {
        const int64_t i = i0 + t;
        if (!(P_->a[i] > 0)) {
          u_[i] = 0;
          continue;
        }
        const double kv = cnt == 4 ? kvs[t]
                                   : f32 ? K_.krow_dot_f32(krow<float>(i), v_.data(), m)
                                         : K_.krow_dot_f64(krow<double>(i), v_.data(), m);
        if (!(kv > 1e-300) || !std::isfinite(kv)) {
          badc[c] = 1;
          u_[i] = 0;
          continue;
        }
        double u;
        if (balanced_) {
          u = P_->a[i] / kv;  // no logarithm: the absorption test bounds u itself
        } else {
          const double lu = sinkhorn_log_scaling(loga_[i], kv, lam_a_, h_[i]);
          const double d = std::fabs(lu - lu_[i]);
          if (d > emax) emax = d;
          lu_[i] = lu;
          u = std::exp(lu);
        }
        u_[i] = u;
        us[t] = u;
      }
      if (cnt == 4) {
        if (f32) K_.krow_axpy4_f32(krow<float>(i0), m, us, m, acc);
        else K_.krow_axpy4_f64(krow<double>(i0), m, us, m, acc);
      } else {
        for (int64_t t = 0; t < cnt; ++t) {
          if (us[t] == 0) continue;
          if (f32) K_.krow_axpy_f32(krow<float>(i0 + t), us[t], m, acc);
          else K_.krow_axpy_f64(krow<double>(i0 + t), us[t], m, acc);
        }
      }
    }
    errf_[c] = emax;
  });
  *bad = false;
  for (auto v : badc_) *bad = *bad || v;
  reduce_cols(colP_.data());
  double e = 0;
  for (double v : errf_) e = std::max(e, v);
  return e;
}

// Symmetric problems on a stored kernel K = exp((f_i + f_j - C_ij)/eps)
// (f absorbed on both sides): the averaged update f <- (f + T(f)) / 2 is
// u <- sqrt(u a / (K u)).  Returns the marginal error || u .* K u - a ||_2
// of the iterate before the update.
template <class S>
double Solver<S>::kernel_pass_sym(bool* bad) {
  const int64_t n = n_, m = m_;
  tmp_.resize(n);
  badc_.assign(static_cast<size_t>(nch_), 0);
  int8_t* badc = badc_.data();
  std::fill(errf_.begin(), errf_.end(), 0.0);
  chunks([&](int64_t r0, int64_t r1) {
    double e2 = 0;
    for (int64_t i = r0; i < r1; ++i) {
      if (!(P_->a[i] > 0)) {
        tmp_[i] = 0;
        continue;
      }
      const double kv = kmode_ == SC_OT_KERNEL_FLOAT32 ? K_.krow_dot_f32(krow<float>(i), u_.data(), m)
                                                       : K_.krow_dot_f64(krow<double>(i), u_.data(), m);
      if (!(kv > 1e-300) || !std::isfinite(kv)) {
        badc[r0 / rows_per_] = 1;
        tmp_[i] = u_[i];
        continue;
      }
      const double d = u_[i] * kv - P_->a[i];
      e2 += d * d;
      tmp_[i] = std::sqrt(u_[i] * P_->a[i] / kv);
    }
    errf_[r0 / rows_per_] = e2;
  });
  *bad = false;
  for (auto v : badc_) *bad = *bad || v;
  double e2 = 0;
  for (double v : errf_) e2 += v;
  std::swap(u_, tmp_);
  return std::sqrt(e2);
}

// K_ij = exp((f_i + f_j - C_ij)/eps) from the current f (= g).
template <class S>
void Solver<S>::build_symmetric() {
  for (int64_t j = 0; j < m_; ++j) g_[j] = f_[j];
  sync_gS();
  const int64_t m = m_;
  chunks([&](int64_t r0, int64_t r1) {
    double* acc = colacc_.data() + (r0 / rows_per_) * m;
    std::fill(acc, acc + m, 0.0);
    S* e = scratch<S>(static_cast<size_t>(m), 1);
    for_rows(r0, r1, [&](int64_t i, const S* crow) {
      if (!(P_->a[i] > 0)) {
        if (kmode_ == SC_OT_KERNEL_FLOAT32) std::fill(krow<float>(i), krow<float>(i) + m, 0.0f);
        else std::fill(krow<double>(i), krow<double>(i) + m, 0.0);
        return;
      }
      K_.row_expsum(crow, gS_.data(), ie_, -f_[i] * ie_, m, e);
      if (kmode_ == SC_OT_KERNEL_FLOAT32) K_.col_store_f32(e, 1.0, m, acc, krow<float>(i));
      else K_.col_store_f64(e, 1.0, m, acc, krow<double>(i));
    });
  });
  for (int64_t i = 0; i < n_; ++i) {
    u_[i] = P_->a[i] > 0 ? 1.0 : 0.0;
    lu_[i] = 0;
  }
}

// Absorbs the row / column scalings into the potentials (u = v = 1 after).
// Balanced plain iterations keep u, v; unbalanced and accelerated ones keep
// their logarithms (lu, lv).
template <class S>
void Solver<S>::absorb_rows() {
  for (int64_t i = 0; i < n_; ++i) {
    if (P_->a[i] > 0) f_[i] += eps_ * (lv_mode() ? lu_[i] : std::log(u_[i]));
    lu_[i] = 0;
    u_[i] = P_->a[i] > 0 ? 1.0 : 0.0;
  }
}

template <class S>
void Solver<S>::absorb_columns() {
  for (int64_t j = 0; j < m_; ++j) {
    if (P_->b[j] > 0) {
      const double l = lv_mode() ? lv_[j] : std::log(v_[j]);
      if (std::isfinite(l)) g_[j] += eps_ * l;
    }
    lv_[j] = 0;
    v_[j] = P_->b[j] > 0 ? 1.0 : 0.0;
  }
}

// Over-relaxed row update on the stored kernel (Thibault et al. 2017):
// kv = K v for every row, u <- u (a / (kv u))^w (OtKernels::scale_update,
// no logarithms), then the column sums K^T u.  Two passes over K (small
// problems: it stays in cache).  *err_row = || u .* kv - a ||_2 (the rows
// are not exact when w != 1); *rows_out: a new u left [e^-absorb, e^absorb].
template <class S>
void Solver<S>::kernel_pass_sor(double omega, double* err_row, bool* rows_out, bool* bad) {
  const int64_t n = n_, m = m_;
  kv_.resize(n);
  chunks([&](int64_t r0, int64_t r1) {
    const bool f32 = kmode_ == SC_OT_KERNEL_FLOAT32;
    int64_t i = r0;
    for (; i + 4 <= r1; i += 4) {
      if (f32) K_.krow_dot4_f32(krow<float>(i), m, v_.data(), m, kv_.data() + i);
      else K_.krow_dot4_f64(krow<double>(i), m, v_.data(), m, kv_.data() + i);
    }
    for (; i < r1; ++i)
      kv_[i] = f32 ? K_.krow_dot_f32(krow<float>(i), v_.data(), m) : K_.krow_dot_f64(krow<double>(i), v_.data(), m);
  });
  int flags = 0;
  const double e2 = K_.scale_update(P_->a, kv_.data(), u_.data(), n, omega, lo_, hi_, &flags);
  *bad = (flags & 2) != 0;
  if (*bad) return;
  *err_row = std::sqrt(e2);
  *rows_out = (flags & 1) != 0;
  chunks([&](int64_t r0, int64_t r1) {
    double* acc = colacc_.data() + (r0 / rows_per_) * m;
    std::fill(acc, acc + m, 0.0);
    const bool f32 = kmode_ == SC_OT_KERNEL_FLOAT32;
    int64_t i = r0;
    for (; i + 4 <= r1; i += 4) {
      if (f32) K_.krow_axpy4_f32(krow<float>(i), m, u_.data() + i, m, acc);
      else K_.krow_axpy4_f64(krow<double>(i), m, u_.data() + i, m, acc);
    }
    for (; i < r1; ++i) {
      if (!(P_->a[i] > 0)) continue;
      if (f32) K_.krow_axpy_f32(krow<float>(i), u_[i], m, acc);
      else K_.krow_axpy_f64(krow<double>(i), u_[i], m, acc);
    }
  });
  reduce_cols(colP_.data());
}

template class Solver<double>;
template class Solver<float>;

}  // namespace detail
}  // namespace ot
}  // namespace sc
