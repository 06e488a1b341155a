// Gaunt tensor product on a Gauss-Legendre x uniform S^2 grid: see
// scalecore/tp/gaunt.h for the definition and the exactness rule.
#include "scalecore/tp/gaunt.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "scalecore/common/errors.h"
#include "scalecore/common/threads.h"
#include "scalecore/tp/sh.h"
#include "scalecore/tp/wigner.h"

namespace sc {
namespace tp {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Gauss-Legendre nodes t (ascending) and weights on [-1, 1], by Newton's
// method on P_n from Chebyshev initial guesses (Numerical Recipes "gauleg").
void gauss_legendre(int n, std::vector<double>* t, std::vector<double>* w) {
  t->assign(n, 0.0);
  w->assign(n, 0.0);
  for (int i = 0; i < (n + 1) / 2; ++i) {
    double z = std::cos(kPi * (i + 0.75) / (n + 0.5)), pp = 0.0;
    for (int it = 0; it < 100; ++it) {
      double p1 = 1.0, p2 = 0.0;
      for (int k = 1; k <= n; ++k) {
        const double p3 = p2;
        p2 = p1;
        p1 = ((2.0 * k - 1.0) * z * p2 - (k - 1.0) * p3) / k;
      }
      pp = n * (z * p1 - p2) / (z * z - 1.0);
      const double dz = p1 / pp;
      z -= dz;
      if (std::fabs(dz) < 1e-16) break;
    }
    // recompute the derivative at the converged node
    double p1 = 1.0, p2 = 0.0;
    for (int k = 1; k <= n; ++k) {
      const double p3 = p2;
      p2 = p1;
      p1 = ((2.0 * k - 1.0) * z * p2 - (k - 1.0) * p3) / k;
    }
    pp = n * (z * p1 - p2) / (z * z - 1.0);
    (*t)[i] = -z;
    (*t)[n - 1 - i] = z;
    (*w)[i] = (*w)[n - 1 - i] = 2.0 / ((1.0 - z * z) * pp * pp);
  }
}

// Grid tables of one resolution: Y_lm(beta_j, alpha_k) = P[pair(l,|m|)][j] * T[m][k].
struct Plan {
  int nb = 0, na = 0, lmax = 0;
  std::vector<double> q;  // quadrature weight of row j: w_GL[j] * 2 pi / na
  std::vector<double> P;  // [pair(l, m>=0)][nb], orthonormal ("integral") SH factor in beta
  std::vector<double> T;  // [(m + lmax)][na]: cos(m a) m>0, 1, sin(|m| a) m<0
};

std::unique_ptr<Plan> build_plan(int nb, int na, int lmax) {
  auto p = std::make_unique<Plan>();
  p->nb = nb;
  p->na = na;
  p->lmax = lmax;
  std::vector<double> t, w;
  gauss_legendre(nb, &t, &w);
  p->q.resize(nb);
  for (int j = 0; j < nb; ++j) p->q[j] = w[j] * 2.0 * kPi / na;
  const int npair = (lmax + 1) * (lmax + 2) / 2;
  p->P.assign(static_cast<size_t>(npair) * nb, 0.0);
  const ShCoeffs& c = sh_coeffs();
  const double inv4pi = sh_norm_scale(SC_SH_INTEGRAL, 0);
  for (int j = 0; j < nb; ++j) {
    // the point at azimuth 0: (x, y, z) = (0, cos beta, sin beta); there
    // Y_{l,m>0} = P_lm(beta) cos(0) and Y_{l,-m} = 0.
    const double y = t[j], z = std::sqrt(std::fmax(0.0, 1.0 - t[j] * t[j]));
    sh_eval(lmax, c, 0.0, y, z, [&](int l, int m, double v) {
      if (m >= 0) p->P[static_cast<size_t>(sh_pair(l, m)) * nb + j] = v * inv4pi;
    });
  }
  p->T.assign(static_cast<size_t>(2 * lmax + 1) * na, 0.0);
  for (int m = -lmax; m <= lmax; ++m)
    for (int k = 0; k < na; ++k) {
      const double a = 2.0 * kPi * k / na;
      p->T[static_cast<size_t>(m + lmax) * na + k] = m > 0 ? std::cos(m * a) : (m == 0 ? 1.0 : std::sin(-m * a));
    }
  return p;
}

const Plan& plan_for(int nb, int na, int lmax) {
  static std::mutex mu;
  static std::map<std::tuple<int, int, int>, std::unique_ptr<Plan>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[std::make_tuple(nb, na, lmax)];
  if (!slot) slot = build_plan(nb, na, lmax);
  return *slot;
}

template <class S>
using RowMat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Per-row transforms over one plan, with scratch sized once per chunk.
template <class S>
struct Transforms {
  const Plan& p;
  RowMat<S> T;   // (2 lmax + 1) x na in S
  std::vector<S> P;
  std::vector<S> q;
  RowMat<S> F, H;

  explicit Transforms(const Plan& plan) : p(plan) {
    T = Eigen::Map<const RowMat<double>>(plan.T.data(), 2 * plan.lmax + 1, plan.na).template cast<S>();
    P.assign(plan.P.begin(), plan.P.end());
    q.assign(plan.q.begin(), plan.q.end());
  }

  // grid (nb x na) = sum_lm x[lm] Y_lm for degrees <= L
  void synth(const S* x, int L, RowMat<S>& grid) {
    const int nb = p.nb, K = 2 * L + 1;
    F.setZero(nb, K);
    for (int l = 0; l <= L; ++l)
      for (int m = -l; m <= l; ++m) {
        const S xv = x[l * l + l + m];
        if (xv == S(0)) continue;
        const S* pr = &P[static_cast<size_t>(sh_pair(l, m < 0 ? -m : m)) * nb];
        for (int j = 0; j < nb; ++j) F(j, m + L) += xv * pr[j];
      }
    grid.noalias() = F * T.middleRows(p.lmax - L, K);
  }

  // out[lm] = scale[l] * sum_jk (q_j if weighted) Y_lm(j, k) grid(j, k), l <= L
  // (scale = nullptr: 1).  weighted = the quadrature (projection); unweighted =
  // the adjoint of synth.
  void analyse(const RowMat<S>& grid, int L, bool weighted, const S* scale, S* out) {
    const int nb = p.nb, K = 2 * L + 1;
    H.noalias() = grid * T.middleRows(p.lmax - L, K).transpose();
    if (weighted)
      for (int j = 0; j < nb; ++j) H.row(j) *= q[j];
    for (int l = 0; l <= L; ++l) {
      const S sc = scale ? scale[l] : S(1);
      for (int m = -l; m <= l; ++m) {
        const S* pr = &P[static_cast<size_t>(sh_pair(l, m < 0 ? -m : m)) * nb];
        S acc = 0;
        for (int j = 0; j < nb; ++j) acc += pr[j] * H(j, m + L);
        out[l * l + l + m] = sc * acc;
      }
    }
  }
};

constexpr int64_t kGrain = 16;

int64_t width(int l) { return static_cast<int64_t>(l + 1) * (l + 1); }

}  // namespace

GauntShape gaunt_resolve(GauntShape s) {
  auto chk = [](int l, const char* name) {
    if (l < 0 || l > kGauntMaxL)
      throw ValueError(std::string("gaunt: ") + name + " must be in [0, " + std::to_string(kGauntMaxL) + "], got " +
                       std::to_string(l));
  };
  chk(s.l1, "l1max");
  chk(s.l2, "l2max");
  chk(s.lo, "lmax_out");
  const int D = s.l1 + s.l2 + s.lo;
  const int nb = D / 2 + 1, na = D + 1;
  if (s.n_beta == 0) s.n_beta = nb;
  if (s.n_alpha == 0) s.n_alpha = na;
  if (s.n_beta < nb || s.n_alpha < na)
    throw ValueError("gaunt: a grid of " + std::to_string(s.n_beta) + " x " + std::to_string(s.n_alpha) +
                     " (beta x alpha) is not exact for degrees (" + std::to_string(s.l1) + ", " +
                     std::to_string(s.l2) + ", " + std::to_string(s.lo) + "); it needs at least " +
                     std::to_string(nb) + " x " + std::to_string(na));
  return s;
}

template <class S>
void gaunt_forward(const GauntShape& s0, int64_t n, const S* x1, const S* x2, const S* w, S* out) {
  const GauntShape s = gaunt_resolve(s0);
  const Plan& plan = plan_for(s.n_beta, s.n_alpha, std::max(s.l1, std::max(s.l2, s.lo)));
  const int64_t d1 = width(s.l1), d2 = width(s.l2), dout = width(s.lo);
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    Transforms<S> tr(plan);
    RowMat<S> f(plan.nb, plan.na), g(plan.nb, plan.na);
    for (int64_t i = b; i < e; ++i) {
      tr.synth(x1 + i * d1, s.l1, f);
      tr.synth(x2 + i * d2, s.l2, g);
      f.array() *= g.array();
      tr.analyse(f, s.lo, true, w, out + i * dout);
    }
  });
}

template <class S>
void gaunt_backward(const GauntShape& s0, int64_t n, const S* x1, const S* x2, const S* w, const S* gout, S* gx1,
                    S* gx2, S* gw) {
  const GauntShape s = gaunt_resolve(s0);
  const Plan& plan = plan_for(s.n_beta, s.n_alpha, std::max(s.l1, std::max(s.l2, s.lo)));
  const int64_t d1 = width(s.l1), d2 = width(s.l2), dout = width(s.lo);
  const int64_t nchunks = (n + kGrain - 1) / kGrain;
  std::vector<double> gw_part(gw ? static_cast<size_t>(nchunks) * (s.lo + 1) : 0, 0.0);
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    Transforms<S> tr(plan);
    RowMat<S> f(plan.nb, plan.na), g(plan.nb, plan.na), h(plan.nb, plan.na), t(plan.nb, plan.na);
    std::vector<S> gp(dout), proj(dout);
    double* gwp = gw ? &gw_part[static_cast<size_t>(b / kGrain) * (s.lo + 1)] : nullptr;
    for (int64_t i = b; i < e; ++i) {
      const S* go = gout + i * dout;
      tr.synth(x1 + i * d1, s.l1, f);
      tr.synth(x2 + i * d2, s.l2, g);
      if (gwp) {
        h = (f.array() * g.array()).matrix();
        tr.analyse(h, s.lo, true, nullptr, proj.data());
        for (int l = 0; l <= s.lo; ++l) {
          double acc = 0;
          for (int m = -l; m <= l; ++m) acc += double(go[l * l + l + m]) * double(proj[l * l + l + m]);
          gwp[l] += acc;
        }
      }
      if (!gx1 && !gx2) continue;
      for (int l = 0; l <= s.lo; ++l)
        for (int m = -l; m <= l; ++m) gp[l * l + l + m] = w[l] * go[l * l + l + m];
      // adjoint of the weighted projection: gh = q * synth(gp)
      tr.synth(gp.data(), s.lo, h);
      for (int j = 0; j < plan.nb; ++j) h.row(j) *= tr.q[j];
      if (gx1) {
        t = (h.array() * g.array()).matrix();
        tr.analyse(t, s.l1, false, nullptr, gx1 + i * d1);
      }
      if (gx2) {
        t = (h.array() * f.array()).matrix();
        tr.analyse(t, s.l2, false, nullptr, gx2 + i * d2);
      }
    }
  });
  if (gw) {
    for (int l = 0; l <= s.lo; ++l) {
      double acc = 0;
      for (int64_t c = 0; c < nchunks; ++c) acc += gw_part[static_cast<size_t>(c) * (s.lo + 1) + l];
      gw[l] = static_cast<S>(acc);
    }
  }
}

std::vector<double> gaunt_coefficients(int l1, int l2, int l3) {
  GauntShape s;
  s.l1 = l1;
  s.l2 = l2;
  s.lo = l3;
  s = gaunt_resolve(s);
  const int d1 = 2 * l1 + 1, d2 = 2 * l2 + 1, d3 = 2 * l3 + 1;
  std::vector<double> G(static_cast<size_t>(d1) * d2 * d3, 0.0);
  if ((l1 + l2 + l3) % 2 || !wigner_3j_allowed(l1, l2, l3)) return G;
  const int L = std::max(l1, std::max(l2, l3));
  const Plan& p = plan_for(s.n_beta, s.n_alpha, L);
  auto Y = [&](int l, int m, int j, int k) {
    return p.P[static_cast<size_t>(sh_pair(l, m < 0 ? -m : m)) * p.nb + j] * p.T[static_cast<size_t>(m + L) * p.na + k];
  };
  for (int a = 0; a < d1; ++a)
    for (int b = 0; b < d2; ++b)
      for (int c = 0; c < d3; ++c) {
        double acc = 0;
        for (int j = 0; j < p.nb; ++j) {
          double row = 0;
          for (int k = 0; k < p.na; ++k) row += Y(l1, a - l1, j, k) * Y(l2, b - l2, j, k) * Y(l3, c - l3, j, k);
          acc += p.q[j] * row;
        }
        G[(static_cast<size_t>(a) * d2 + b) * d3 + c] = acc;
      }
  return G;
}

#define SC_GAUNT_INST(S)                                                                            \
  template void gaunt_forward<S>(const GauntShape&, int64_t, const S*, const S*, const S*, S*); \
  template void gaunt_backward<S>(const GauntShape&, int64_t, const S*, const S*, const S*, const S*, S*, S*, S*);
SC_GAUNT_INST(float)
SC_GAUNT_INST(double)
#undef SC_GAUNT_INST

}  // namespace tp
}  // namespace sc
