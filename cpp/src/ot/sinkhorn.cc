// Entropic OT drivers: log-domain stabilised Sinkhorn with a stored kernel
// (absorption, Schmitzer 2019), a kernel-free log-sum-exp iteration, the
// tiled mode that computes costs on the fly, eps-scaling, warm starts,
// unbalanced (KL) marginals and batches with a status per problem.
//
// One iteration = a row update of f then a column update of g.  Every pass
// goes over row chunks whose boundaries depend only on n (ot_internal.h);
// column sums are reduced over chunks in a fixed order, so results are
// bit-identical for any thread count.
//
// Stopping (balanced): err = || P(f_new, g_old)^T 1 - b ||_2 < tol, the
// column marginal error after the row update, which is POT's rule, checked
// every check_every iterations.  Unbalanced: max(|delta f|, |delta g|) / eps
// < tol.  tol = 0 never stops early.  At max_iter the balanced iteration
// ends after its row update (POT's last iterate).
#include <math.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "sinkhorn_solver.h"
#include "scalecore/common/errors.h"
#include "scalecore/common/threads.h"
#include "scalecore/common/vecmath.h"
#include "scalecore/ot/ot.h"
#include "scalecore/ot/sinkhorn_math.h"

namespace sc {
namespace ot {

namespace detail {

template <class S>
void Solver<S>::solve(const Problem<S>& P, Outputs1<S>& out) {
  P_ = &P;
  n_ = P.n;
  m_ = P.m;
  const int64_t n = n_, m = m_;
  out.n_iter = 0;
  out.err = kNaN;
  auto fill_out = [&](double fv, double gv) {
    for (int64_t i = 0; i < n; ++i) out.f[i] = fv;
    for (int64_t j = 0; j < m; ++j) out.g[j] = gv;
    if (out.f_kl) for (int64_t i = 0; i < n; ++i) out.f_kl[i] = fv;
    if (out.g_kl) for (int64_t j = 0; j < m; ++j) out.g_kl[j] = gv;
  };
  // ---- validation --------------------------------------------------------
  balanced_ = std::isinf(o_.rho_a) && std::isinf(o_.rho_b);
  accel_ = false;
  double sa = 0, sb = 0;
  bool ok = P.eps > 0 && std::isfinite(P.eps);
  for (int64_t i = 0; i < n && ok; ++i) {
    ok = P.a[i] >= 0 && std::isfinite(P.a[i]);
    sa += P.a[i];
  }
  for (int64_t j = 0; j < m && ok; ++j) {
    ok = P.b[j] >= 0 && std::isfinite(P.b[j]);
    sb += P.b[j];
  }
  // Large dense costs are not scanned up front: a NaN or -inf cost stops the
  // iteration (non-finite potentials), +inf makes the cost NaN (0 * inf);
  // either way the scan runs afterwards and the status is bad_input.
  const bool scan_late = P.C && double(n) * double(m) >= double(1 << 20);
  if (ok && P.C && !scan_late) {
    double cmax = 0;
    ok = K_.finite_absmax(P.C, P.ldc, n, m, &cmax);
  } else if (ok && !P.C) {
    ok = all_finite(P.x, n * P.d, 1) && all_finite(P.y, m * P.d, 1);
  }
  if (ok && P.g0)
    for (int64_t j = 0; j < m && ok; ++j) ok = !(P.g0[j] != P.g0[j]) && P.g0[j] < kInf;
  if (!ok) {
    out.status = SC_OT_STATUS_BAD_INPUT;
    out.cost = out.objective = out.mass = kNaN;
    fill_out(kNaN, kNaN);
    return;
  }
  if (n == 0 || m == 0 || sa <= 0 || sb <= 0) {
    out.status = SC_OT_STATUS_DEGENERATE;
    out.cost = out.objective = out.mass = 0;
    out.err = 0;
    fill_out(0, 0);
    return;
  }
  if (balanced_ && std::fabs(sa - sb) > 1e-6 * std::max(sa, sb)) {
    out.status = SC_OT_STATUS_INFEASIBLE;
    out.cost = out.objective = out.mass = kNaN;
    fill_out(kNaN, kNaN);
    return;
  }
  // ---- state -------------------------------------------------------------
  rows_per_ = chunk_rows(n);
  nch_ = n_chunks(n);
  f_.assign(n, 0.0);
  g_.assign(m, 0.0);
  if (P.g0)
    for (int64_t j = 0; j < m; ++j) g_[j] = std::isfinite(P.g0[j]) ? P.g0[j] : 0.0;
  if (P.f0)
    for (int64_t i = 0; i < n; ++i) f_[i] = std::isfinite(P.f0[i]) ? P.f0[i] : 0.0;
  lu_.assign(n, 0.0);
  lv_.assign(m, 0.0);
  u_.assign(n, 1.0);
  v_.assign(m, 1.0);
  h_.assign(n, 0.0);
  loga_.resize(n);
  logb_.resize(m);
  anc_a_.resize(n);
  anc_b_.resize(m);
  for (int64_t i = 0; i < n; ++i) {
    loga_[i] = P.a[i] > 0 ? std::log(P.a[i]) : -kInf;
    anc_a_[i] = o_.reference == SC_OT_REF_PRODUCT ? loga_[i] : 0.0;
  }
  for (int64_t j = 0; j < m; ++j) {
    logb_[j] = P.b[j] > 0 ? std::log(P.b[j]) : -kInf;
    anc_b_[j] = o_.reference == SC_OT_REF_PRODUCT ? logb_[j] : 0.0;
  }
  colacc_.resize(static_cast<size_t>(nch_ * m));
  colP_.resize(m);
  errf_.assign(nch_, 0.0);
  gS_.resize(m);
  numerical_ = false;
  // Kernel storage.
  double na = 0, nb = 0;
  for (int64_t i = 0; i < n; ++i) na += P.a[i] * P.a[i];
  for (int64_t j = 0; j < m; ++j) nb += P.b[j] * P.b[j];
  const double wnorm = std::sqrt(std::max(na, nb));
  kmode_ = o_.kernel;
  if (!P.C) kmode_ = SC_OT_KERNEL_NONE;
  if (kmode_ == SC_OT_KERNEL_AUTO) {
    const double entries = double(n) * double(m);
    if (entries * 4 > double(int64_t(8) << 30)) kmode_ = SC_OT_KERNEL_NONE;
    else if (entries > double(1 << 18) && (sizeof(S) == 4 || o_.tol >= 6e-6 * wnorm))
      kmode_ = SC_OT_KERNEL_FLOAT32;
    else kmode_ = SC_OT_KERNEL_FLOAT64;
  }
  if (kmode_ == SC_OT_KERNEL_FLOAT32) K32_.resize(static_cast<size_t>(n * m));
  if (kmode_ == SC_OT_KERNEL_FLOAT64) K64_.resize(static_cast<size_t>(n * m));
  const bool use_kernel = kmode_ == SC_OT_KERNEL_FLOAT32 || kmode_ == SC_OT_KERNEL_FLOAT64;
  accel_ = o_.accelerate && balanced_ && use_kernel && !o_.symmetric;
  sym_built_final_ = false;
  // ---- eps schedule ------------------------------------------------------
  std::vector<double> stages;
  if (o_.eps_scaling > 0 && o_.eps_scaling < 1) {
    double e0 = o_.eps_init;
    if (!(e0 > 0)) {
      // The spread of the costs (dense: all; tiled: the first rows).
      double lo = kInf, hi = -kInf;
      const int64_t rows = P.C ? n : std::min<int64_t>(n, 64);
      for_rows(0, rows, [&](int64_t, const S* crow) {
        for (int64_t j = 0; j < m; ++j) {
          lo = std::min(lo, double(crow[j]));
          hi = std::max(hi, double(crow[j]));
        }
      });
      e0 = hi - lo;
    }
    for (double e = e0; e > P.eps; e *= o_.eps_scaling) stages.push_back(e);
  }
  stages.push_back(P.eps);
  // ---- iterations --------------------------------------------------------
  // One iteration: (1) row update of f, (2) the balanced stopping test on
  // the column marginal of P(f_new, g_old) -- on success the iterate
  // (f_new, g_old) is returned, its rows exact and its column error = err --,
  // (3) column update of g, (4) the unbalanced test on the potentials'
  // change.  A balanced cold start first updates the columns from f = 0, as
  // POT's sinkhorn / sinkhorn_log do (v = b / K^T 1), so the iterates are
  // POT's; the test runs when (iteration - 1) % check_every == 0 (POT: 10).
  const int max_iter = o_.max_iter;
  const int check_every = o_.check_every > 0 ? o_.check_every : 1;
  int it = 0;
  double err = kInf;
  bool converged = false;
  const bool symmetric = o_.symmetric && balanced_ && n == m;
  // (Accelerated runs do not follow POT's iterates: no cold column start.)
  bool cold_columns = balanced_ && !P.g0 && !symmetric && !accel_;
  const double tiny_log = o_.absorb;
  lo_ = std::exp(-tiny_log);
  hi_ = std::exp(tiny_log);
  for (size_t s = 0; s < stages.size() && !numerical_; ++s) {
    const bool last = s + 1 == stages.size();
    const double tol = last ? o_.tol : std::max(o_.tol, 1e-3);
    // Absorb the scalings into the potentials (at the old eps) before
    // changing eps.
    if (use_kernel) {
      absorb_rows();
      absorb_columns();
    }
    std::fill(lu_.begin(), lu_.end(), 0.0);
    std::fill(u_.begin(), u_.end(), 1.0);
    std::fill(lv_.begin(), lv_.end(), 0.0);
    std::fill(v_.begin(), v_.end(), 1.0);
    set_eps(stages[s]);
    if (cold_columns) {
      for (int64_t i = 0; i < n; ++i) f_[i] = P.a[i] > 0 ? 0.0 : -kInf;
      exact_columns();
      cold_columns = false;
    }
    bool need_build = true;
    converged = false;
    // Over-relaxation: w = 1 for the first iterations, then the SOR optimum
    // w = 2 / (1 + sqrt(1 - rho)) from the observed rate rho of the error;
    // back to w = 1 when the error stops improving (Thibault et al. 2017).
    double omega = 1.0;
    std::vector<double> hist;
    double best = kInf;
    int best_it = it;
    bool sym_built = false;
    while (it < max_iter && !numerical_) {
      const bool test_now = (it % check_every) == 0;
      if (symmetric && use_kernel && it > 0) {
        // Stored-kernel symmetric iteration (after one log-domain step).
        if (!sym_built) {
          build_symmetric();
          sym_built = true;
        }
        sym_built_final_ = true;
        bool bad = false;
        err = kernel_pass_sym(&bad);
        ++it;
        double mxl = 0;
        for (int64_t i = 0; i < n; ++i)
          if (P.a[i] > 0) mxl = std::max(mxl, std::fabs(std::log(u_[i])));
        if (!bad && test_now && err < tol) {
          converged = true;
          break;
        }
        if (bad || mxl > tiny_log || mxl != mxl) {
          for (int64_t i = 0; i < n; ++i)
            if (P.a[i] > 0 && std::isfinite(std::log(u_[i]))) f_[i] += eps_ * std::log(u_[i]);
          sym_built = false;
          sym_built_final_ = false;
          for (int64_t i = 0; i < n; ++i) u_[i] = P.a[i] > 0 ? 1.0 : 0.0;
          if (bad) err = kInf;
        }
        continue;
      }
      sym_built_final_ = false;
      double errp = 0;  // potential change / eps (unbalanced)
      double err_row = 0;
      bool rows_out = false;  // accelerated rows: a scaling out of range
      bool built = false;
      // (1) rows
      if (!use_kernel || need_build || symmetric) {
        if (use_kernel && !symmetric) absorb_rows();  // the full f (for the unbalanced change measure)
        errp = lse_pass(use_kernel && !symmetric) * ie_;
        built = use_kernel && !symmetric;
        if (use_kernel && !symmetric) {
          need_build = false;
          for (int64_t i = 0; i < n; ++i) {
            lu_[i] = 0;
            u_[i] = P.a[i] > 0 ? 1.0 : 0.0;
            h_[i] = balanced_ ? 0.0 : (lam_a_ - 1.0) * (f_[i] * ie_ - anc_a_[i]);
          }
        }
      } else {
        bool bad = false;
        // (The potential change errp only serves unbalanced problems; accel_
        // runs are balanced.)
        if (accel_) kernel_pass_sor(omega, &err_row, &rows_out, &bad);
        else errp = kernel_pass(&bad);
        if (bad) {
          // A row sum underflowed: absorb the column scalings and rebuild in
          // the log domain (this pass is discarded).
          absorb_columns();
          need_build = true;
          continue;
        }
      }
      ++it;
      // colP_: the column sums of P(f_new, g_old) after an LSE pass; the raw
      // K^T u after a kernel pass (the marginal is v .* K^T u).
      const bool raw = use_kernel && !built && !symmetric;
      // (2) balanced test
      if (balanced_) {
        double e2 = 0;
        for (int64_t j = 0; j < m; ++j) {
          const double cm = raw ? v_[j] * colP_[j] : colP_[j];
          const double d = cm - P.b[j];
          e2 += d * d;
        }
        err = std::max(std::sqrt(e2), err_row);
        if (accel_) {
          hist.push_back(err);
          if (err < best) {
            best = err;
            best_it = it;
          } else if (it - best_it > 100 && omega != 1.0) {
            omega = 1.0;  // not improving: plain iterations again
            hist.clear();
            best = err;
            best_it = it;
          }
          // Adaptive SOR (Hageman & Young 1981, ch. 9): from the observed
          // rate lam under w, Young's relation (lam + w - 1)^2 = lam w^2 mu2
          // gives the plain rate mu2, and w_opt = 2 / (1 + sqrt(1 - mu2)).
          // Every kW iterations; w only grows (it is reset when the error stalls).
          const size_t kW = 8;
          const size_t k = hist.size();
          if (k >= kW + 4 && k % kW == 4 && hist[k - 1] > 0 && hist[k - 1 - kW] > 0) {
            const double lam = std::pow(hist[k - 1] / hist[k - 1 - kW], 1.0 / kW);
            if (lam > 0 && lam < 1 && lam > omega - 1.0) {
              const double mu2 = (lam + omega - 1.0) * (lam + omega - 1.0) / (lam * omega * omega);
              if (mu2 > 0 && mu2 < 1) omega = std::max(omega, std::min(1.95, 2.0 / (1.0 + std::sqrt(1.0 - mu2))));
            }
          }
        }
        if (test_now && err < tol && !numerical_) {
          converged = true;
          break;
        }
        // The last iteration ends after its row update, as POT's loop does
        // (its iteration is a column then a row update): the iterate
        // returned at max_iter is POT's, its rows exact.
        if (it >= max_iter && !symmetric) break;
      }
      // (3) columns
      double eg = 0;
      bool underflow = false;
      if (symmetric) {
        // f = g = (g + T(g)) / 2.
        for (int64_t j = 0; j < m; ++j) {
          const double v = P.b[j] > 0 ? 0.5 * (g_[j] + f_[j]) : -kInf;
          g_[j] = v;
          f_[j] = v;
        }
        continue;
      }
      if (!raw) {
        eg = column_from_colP(!use_kernel, &underflow);
        if (use_kernel && !lv_mode())
          for (int64_t j = 0; j < m; ++j) lv_[j] = 0;  // v is authoritative
      } else {
        // v_j = (b_j / (K^T u)_j)^lam (times the unbalanced factor), or its
        // over-relaxed form; the absorption test bounds |log u|, |log v|.
        bool out_of_range = false;
        if (lv_mode()) {
          // Logarithms and exponentials of the whole column vector at once.
          tmp_.resize(m);
          for (int64_t j = 0; j < m; ++j) {
            const double ktu = colP_[j];
            const bool ok = P.b[j] > 0 && ktu > 1e-300 && std::isfinite(ktu);
            if (P.b[j] > 0 && !ok) {
              if (ktu != ktu) numerical_ = true;
              underflow = true;
            }
            tmp_[j] = ok ? ktu : 1.0;
          }
          vec_log(tmp_.data(), tmp_.data(), m);
          for (int64_t j = 0; j < m; ++j) {
            if (!(P.b[j] > 0)) {
              lv_[j] = 0;
              continue;
            }
            const double L = tmp_[j];
            const double lv = lam_b_ * (logb_[j] - L) + (lam_b_ - 1.0) * (g_[j] * ie_ - anc_b_[j]);
            eg = std::max(eg, std::fabs(lv - lv_[j]));
            lv_[j] = lv;
            out_of_range = out_of_range || std::fabs(lv) > tiny_log || lv != lv;
          }
          vec_exp(lv_.data(), v_.data(), m);
          for (int64_t j = 0; j < m; ++j)
            if (!(P.b[j] > 0)) v_[j] = 0;
          for (int64_t i = 0; i < n && !out_of_range; ++i)
            if (P.a[i] > 0) out_of_range = std::fabs(lu_[i]) > tiny_log || lu_[i] != lu_[i];
        } else {
          // Balanced: v = b / K^T u, or over-relaxed (nothing is updated when
          // a column sum underflowed: the exact update below replaces it).
          int flags = 0;
          K_.scale_update(P.b, colP_.data(), v_.data(), m, accel_ ? omega : 1.0, lo_, hi_, &flags);
          if (flags & 4) numerical_ = true;
          underflow = (flags & 2) != 0;
          out_of_range = (flags & 1) != 0 || rows_out;
          if (!accel_) {
            double umax = 0, umin = kInf;
            for (int64_t i = 0; i < n; ++i) {
              const double u = P.a[i] > 0 ? u_[i] : 1.0;
              umax = u > umax ? u : umax;
              umin = u < umin ? u : umin;
            }
            out_of_range = out_of_range || !(umax <= hi_ && umin >= lo_);
          }
        }
        if (!underflow && out_of_range) {
          // Absorb the scalings into the potentials and rebuild the kernel.
          absorb_columns();
          need_build = true;
        }
      }
      if (underflow) {
        // A column sum underflowed (g far off): exact two-pass column update.
        if (use_kernel) {
          absorb_columns();
          absorb_rows();
          need_build = true;
        }
        eg = exact_columns();
        err = kInf;
      }
      // (4) unbalanced test
      if (!balanced_) {
        err = std::max(errp, eg);
        if (test_now && err < tol && !numerical_ && !underflow) {
          converged = true;
          break;
        }
      }
    }
    if (!converged) break;
  }
  // ---- final potentials and the exact pass -------------------------------
  if (use_kernel && symmetric) {
    if (sym_built_final_)
      for (int64_t i = 0; i < n; ++i)
        if (P.a[i] > 0 && u_[i] > 0) f_[i] += eps_ * std::log(u_[i]);
    for (int64_t j = 0; j < m; ++j) g_[j] = f_[j];
  } else if (use_kernel) {
    absorb_rows();
    absorb_columns();
  }
  // POT's niter: the index (from 0) of the last iteration run.
  out.n_iter = it > 0 ? it - 1 : 0;
  out.err = err;
  const int64_t ldp = out.ld_plan;
  std::vector<double> rowP(n, 0.0), out3c(static_cast<size_t>(3 * nch_), 0.0);
  chunks([&](int64_t r0, int64_t r1) {
    const int64_t c = r0 / rows_per_;
    double* acc = colacc_.data() + c * m;
    std::fill(acc, acc + m, 0.0);
    double* o3 = out3c.data() + 3 * c;
    S* pbuf = scratch<S>(static_cast<size_t>(m), 1);
    for_rows(r0, r1, [&](int64_t i, const S* crow) {
      S* prow = out.plan ? out.plan + i * ldp : (out.bary_x ? pbuf : nullptr);
      if (!(P.a[i] > 0)) {
        if (prow) std::fill(prow, prow + m, S(0));
        if (out.bary_x) std::fill(out.bary_x + i * P.d, out.bary_x + (i + 1) * P.d, 0.0);
        return;
      }
      double r3[3] = {0, 0, 0};
      K_.final_row(crow, f_[i], g_.data(), ie_, m, acc, prow, r3);
      rowP[i] = r3[0];
      o3[0] += r3[0];
      o3[1] += r3[1];
      o3[2] += r3[2];
      if (out.bary_x) {
        double* bx = out.bary_x + i * P.d;
        std::fill(bx, bx + P.d, 0.0);
        K_.row_bary(prow, P.y, m, P.d, bx);
      }
    });
  });
  reduce_cols(colP_.data());
  double mass = 0, cost = 0, plogp = 0;
  for (int64_t c = 0; c < nch_; ++c) {
    mass += out3c[3 * c];
    cost += out3c[3 * c + 1];
    plogp += out3c[3 * c + 2];
  }
  double objective = cost + eps_ * plogp;
  if (!balanced_) {
    // KL(P | reference) = sum P log P - <P, log ref> - mass + sum ref.
    double kl = plogp;  // in units of the exponent: sum P log P
    if (o_.reference == SC_OT_REF_PRODUCT) {
      for (int64_t i = 0; i < n; ++i)
        if (rowP[i] > 0) kl -= rowP[i] * loga_[i];
      for (int64_t j = 0; j < m; ++j)
        if (colP_[j] > 0) kl -= colP_[j] * logb_[j];
      kl += sa * sb - mass;
    } else {
      kl += double(n) * double(m) - mass;
    }
    objective = cost + eps_ * kl;
    double kla = 0, klb = 0;
    for (int64_t i = 0; i < n; ++i) kla += kl_term(rowP[i], P.a[i]);
    for (int64_t j = 0; j < m; ++j) klb += kl_term(colP_[j], P.b[j]);
    if (std::isfinite(o_.rho_a)) objective += o_.rho_a * kla;
    if (std::isfinite(o_.rho_b)) objective += o_.rho_b * klb;
  }
  out.cost = cost;
  out.objective = objective;
  out.mass = mass;
  for (int64_t i = 0; i < n; ++i) out.f[i] = f_[i];
  for (int64_t j = 0; j < m; ++j) out.g[j] = g_[j];
  if (out.row_mass) for (int64_t i = 0; i < n; ++i) out.row_mass[i] = rowP[i];
  if (out.col_mass) for (int64_t j = 0; j < m; ++j) out.col_mass[j] = colP_[j];
  // Product-reference potentials: f~ = f - eps log(row sum / 1) is the
  // c-transform of g; zero-weight rows get the c-transform computed directly.
  if (out.f_kl || out.g_kl) {
    bool zero_rows = false;
    for (int64_t i = 0; i < n; ++i) zero_rows = zero_rows || !(P.a[i] > 0);
    if (out.f_kl) {
      for (int64_t i = 0; i < n; ++i)
        if (P.a[i] > 0) out.f_kl[i] = f_[i] - eps_ * std::log(rowP[i]);
      if (zero_rows) {
        sync_gS();
        chunks([&](int64_t r0, int64_t r1) {
          S* e = scratch<S>(static_cast<size_t>(m), 1);
          for_rows(r0, r1, [&](int64_t i, const S* crow) {
            if (P.a[i] > 0) return;
            const double mx = K_.row_max(crow, gS_.data(), ie_, m);
            const double sum = K_.row_expsum(crow, gS_.data(), ie_, mx, m, e);
            out.f_kl[i] = -eps_ * (mx + std::log(sum));
          });
        });
      }
    }
    if (out.g_kl) {
      for (int64_t j = 0; j < m; ++j)
        if (P.b[j] > 0) out.g_kl[j] = g_[j] - eps_ * std::log(colP_[j]);
    }
  }
  // Zero-weight columns: -eps LSE_i((f_i - C_ij)/eps), from the column maxima
  // and sums of the rows with a_i > 0.
  if (out.g_kl) {
    bool zero_cols = false;
    for (int64_t j = 0; j < m; ++j) zero_cols = zero_cols || !(P.b[j] > 0);
    if (zero_cols) {
      std::vector<double> cmax(static_cast<size_t>(m), -kInf);
      chunks([&](int64_t r0, int64_t r1) {
        double* acc = colacc_.data() + (r0 / rows_per_) * m;
        std::fill(acc, acc + m, -kInf);
        for_rows(r0, r1, [&](int64_t i, const S* crow) {
          if (P.a[i] > 0) K_.col_max(crow, f_[i], m, acc);
        });
      });
      for (int64_t c = 0; c < nch_; ++c)
        for (int64_t j = 0; j < m; ++j) cmax[j] = std::max(cmax[j], colacc_[c * m + j]);
      chunks([&](int64_t r0, int64_t r1) {
        double* acc = colacc_.data() + (r0 / rows_per_) * m;
        std::fill(acc, acc + m, 0.0);
        for_rows(r0, r1, [&](int64_t i, const S* crow) {
          if (P.a[i] > 0) K_.col_sumexp(crow, f_[i], cmax.data(), ie_, m, acc);
        });
      });
      std::vector<double> sums(static_cast<size_t>(m));
      reduce_cols(sums.data());
      for (int64_t j = 0; j < m; ++j)
        if (!(P.b[j] > 0)) out.g_kl[j] = -(cmax[j] + eps_ * std::log(sums[j]));
    }
  }
  // Tiled barycentric map of the columns: sum_i P_ij x_i, from rows of C^T.
  if (out.bary_y && P.gen_t) {
    const int64_t cr = chunk_rows(m);
    parallel_for(m, cr, [&](int64_t c0, int64_t c1) {
      S* pbuf = scratch<S>(static_cast<size_t>(n), 1);
      std::vector<double> dummy(static_cast<size_t>(n));
      for_cols_t(c0, c1, [&](int64_t j, const S* ctrow) {
        double* by = out.bary_y + j * P.d;
        std::fill(by, by + P.d, 0.0);
        if (!(P.b[j] > 0)) return;
        double r3[3] = {0, 0, 0};
        K_.final_row(ctrow, g_[j], f_.data(), ie_, n, dummy.data(), pbuf, r3);
        K_.row_bary(pbuf, P.x, n, P.d, by);
      });
    }, nt_);
  }
  if (scan_late && (numerical_ || !std::isfinite(cost))) {
    double cmax = 0;
    if (!K_.finite_absmax(P.C, P.ldc, n, m, &cmax)) {
      out.status = SC_OT_STATUS_BAD_INPUT;
      out.cost = out.objective = out.mass = kNaN;
      fill_out(kNaN, kNaN);
      return;
    }
  }
  if (numerical_ || !(cost == cost)) out.status = SC_OT_STATUS_NUMERICAL;
  else out.status = converged ? SC_OT_STATUS_CONVERGED : SC_OT_STATUS_MAX_ITER;
}

template void Solver<double>::solve(const Problem<double>&, Outputs1<double>&);
template void Solver<float>::solve(const Problem<float>&, Outputs1<float>&);

}  // namespace detail

using detail::Outputs1;
using detail::Problem;
using detail::Solver;
using detail::kNaN;

template <class S>
void ot_sinkhorn(const SinkhornBatch<S>& bt, const SinkhornOptions& o, const SinkhornBatchOut<S>& out, int impl) {
  if (!(o.tol >= 0) || std::isinf(o.tol))
    throw ValueError("tol: expected a finite value >= 0 (0: run max_iter iterations), got " + std::to_string(o.tol));
  if (o.max_iter < 1) throw ValueError("max_iter: expected an integer >= 1, got " + std::to_string(o.max_iter));
  if (!(o.rho_a > 0) || !(o.rho_b > 0)) throw ValueError("rho: expected values > 0 (inf for a hard marginal)");
  if (o.eps_scaling < 0 || o.eps_scaling >= 1)
    throw ValueError("eps_scaling: expected a factor in (0, 1), or 0 for none, got " + std::to_string(o.eps_scaling));
  if (!bt.C) check_metric(bt.metric, bt.p);
  const OtKernels<S>& K = ot_kernels<S>(impl);
  const int threads = o.n_threads > 0 ? o.n_threads : num_threads();
  const bool over_problems = bt.B >= 2 * threads && bt.B > 1;
  auto run = [&](int64_t p0, int64_t p1, int inner_threads) {
    Solver<S> solver(K, o, inner_threads);
    for (int64_t pb = p0; pb < p1; ++pb) {
      Problem<S> P;
      P.n = bt.n_b ? bt.n_b[pb] : bt.nmax;
      P.m = bt.m_b ? bt.m_b[pb] : bt.mmax;
      P.a = bt.a + pb * bt.a_stride;
      P.b = bt.b + pb * bt.b_stride;
      P.eps = bt.eps_b ? bt.eps_b[pb] : o.eps;
      P.f0 = bt.f0 ? bt.f0 + pb * bt.nmax : nullptr;
      P.g0 = bt.g0 ? bt.g0 + pb * bt.mmax : nullptr;
      CostPrep<S> prep, prep_t;
      if (bt.C) {
        P.C = bt.C + pb * bt.c_stride;
        P.ldc = bt.mmax;
      } else {
        P.x = bt.x + pb * bt.x_stride;
        P.y = bt.y + pb * bt.y_stride;
        P.d = bt.d;
        const int32_t* lx = bt.labels.lx ? bt.labels.lx + pb * bt.lx_stride : nullptr;
        const int32_t* ly = bt.labels.ly ? bt.labels.ly + pb * bt.ly_stride : nullptr;
        prep.build(P.x, P.y, P.n, P.m, P.d, bt.metric, bt.p, lx, ly, bt.labels.table, bt.labels.ldt);
        P.gen = &prep.args;
        if (out.bary_y) {
          prep_t.build(P.y, P.x, P.m, P.n, P.d, bt.metric, bt.p, nullptr, nullptr, nullptr, 0);
          if (bt.labels.table) throw ValueError("bary_y: not available with a label-augmented cost");
          P.gen_t = &prep_t.args;
        }
      }
      Outputs1<S> o1;
      o1.f = out.f + pb * bt.nmax;
      o1.g = out.g + pb * bt.mmax;
      o1.f_kl = out.f_kl ? out.f_kl + pb * bt.nmax : nullptr;
      o1.g_kl = out.g_kl ? out.g_kl + pb * bt.mmax : nullptr;
      o1.bary_x = out.bary_x ? out.bary_x + pb * bt.nmax * bt.d : nullptr;
      o1.bary_y = out.bary_y ? out.bary_y + pb * bt.mmax * bt.d : nullptr;
      o1.row_mass = out.row_mass ? out.row_mass + pb * bt.nmax : nullptr;
      o1.col_mass = out.col_mass ? out.col_mass + pb * bt.mmax : nullptr;
      o1.plan = out.plan ? out.plan + pb * bt.nmax * bt.mmax : nullptr;
      o1.ld_plan = bt.mmax;
      solver.solve(P, o1);
      // Padding of ragged problems.
      for (int64_t i = P.n; i < bt.nmax; ++i) o1.f[i] = kNaN;
      for (int64_t j = P.m; j < bt.mmax; ++j) o1.g[j] = kNaN;
      out.cost[pb] = o1.cost;
      out.objective[pb] = o1.objective;
      out.err[pb] = o1.err;
      out.mass[pb] = o1.mass;
      out.n_iter[pb] = o1.n_iter;
      out.status[pb] = o1.status;
    }
  };
  if (over_problems) {
    // Chunks of problems share one solver's buffers; problems are
    // independent, so the chunking cannot change a result.
    const int64_t grain = std::max<int64_t>(1, bt.B / (int64_t(threads) * 16));
    parallel_for(bt.B, grain, [&](int64_t p0, int64_t p1) { run(p0, p1, 1); }, threads);
  } else {
    run(0, bt.B, threads);
  }
}
template void ot_sinkhorn<double>(const SinkhornBatch<double>&, const SinkhornOptions&,
                                  const SinkhornBatchOut<double>&, int);
template void ot_sinkhorn<float>(const SinkhornBatch<float>&, const SinkhornOptions&,
                                 const SinkhornBatchOut<float>&, int);

}  // namespace ot
}  // namespace sc
