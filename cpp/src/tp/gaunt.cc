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

// ---- the reference engine: one row at a time, plain loops over (l, m, j) ----
template <class S>
struct RefEngine {
  const Plan& p;
  RowMat<S> T;  // (2 lmax + 1) x na in S
  std::vector<S> P, q;
  RowMat<S> F, H, one;

  explicit RefEngine(const Plan& plan) : p(plan) {
    T = Eigen::Map<const RowMat<double>>(plan.T.data(), 2 * plan.lmax + 1, plan.na).template cast<S>();
    P.assign(plan.P.begin(), plan.P.end());
    q.assign(plan.q.begin(), plan.q.end());
  }

  // grid rows [r nb, (r+1) nb) = sum_lm X[r, lm] Y_lm, degrees <= L, for R rows
  void synth(const S* X, int64_t R, int L, RowMat<S>& grid) {
    const int nb = p.nb, K = 2 * L + 1;
    const int64_t d = static_cast<int64_t>(L + 1) * (L + 1);
    grid.resize(R * nb, p.na);
    for (int64_t r = 0; r < R; ++r) {
      const S* x = X + r * d;
      F.setZero(nb, K);
      for (int l = 0; l <= L; ++l)
        for (int m = -l; m <= l; ++m) {
          const S xv = x[l * l + l + m];
          const S* pr = &P[static_cast<size_t>(sh_pair(l, m < 0 ? -m : m)) * nb];
          for (int j = 0; j < nb; ++j) F(j, m + L) += xv * pr[j];
        }
      grid.middleRows(r * nb, nb).noalias() = F * T.middleRows(p.lmax - L, K);
    }
  }

  // out[r, lm] = scale[l] * sum_jk (q_j if weighted) Y_lm(j, k) grid(r nb + j, k),
  // l <= L (scale = nullptr: 1).  weighted: the quadrature (projection);
  // unweighted: the adjoint of synth.
  void analyse(const RowMat<S>& grid, int64_t R, int L, bool weighted, const S* scale, S* out) {
    const int nb = p.nb, K = 2 * L + 1;
    const int64_t d = static_cast<int64_t>(L + 1) * (L + 1);
    for (int64_t r = 0; r < R; ++r) {
      H.noalias() = grid.middleRows(r * nb, nb) * T.middleRows(p.lmax - L, K).transpose();
      for (int l = 0; l <= L; ++l) {
        const S sc = scale ? scale[l] : S(1);
        for (int m = -l; m <= l; ++m) {
          const S* pr = &P[static_cast<size_t>(sh_pair(l, m < 0 ? -m : m)) * nb];
          S acc = 0;
          for (int j = 0; j < nb; ++j) acc += (weighted ? q[j] : S(1)) * pr[j] * H(j, m + L);
          out[r * d + l * l + l + m] = sc * acc;
        }
      }
    }
  }

  void scale_q(RowMat<S>& grid, int64_t R) {
    for (int64_t r = 0; r < R; ++r)
      for (int j = 0; j < p.nb; ++j) grid.row(r * p.nb + j) *= q[j];
  }
  int64_t nb() const { return p.nb; }
};

// ---- the batched engine: R rows per call, every stage a GEMM -------------
// Synthesis: per m, X[:, (l, m) for l >= |m|] (R x nl) times P_m (nl x nb)
// fills column m of G (R nb x K); then G times the Fourier rows T (K x na).
// Analysis is the transpose, with the quadrature weights folded into P_m.
template <class S>
struct BatchMats {  // read-only, shared by the threads of one call
  int lmax = 0, nb = 0, na = 0;
  RowMat<S> T;
  std::vector<S> q;
  // per degree bound L (index L): permutation to m-major order and the
  // per-m Legendre blocks (plain and q-weighted, transposed for analysis)
  struct PerL {
    std::vector<int> perm, lof, off, nl;  // perm[c] = l*l+l+m of m-major column c; lof[c] = its l
    std::vector<RowMat<S>> Pm, PqT, PT;   // index m + L
  };
  std::vector<PerL> per;

  BatchMats(const Plan& p, std::initializer_list<int> Ls) : lmax(p.lmax), nb(p.nb), na(p.na) {
    T = Eigen::Map<const RowMat<double>>(p.T.data(), 2 * p.lmax + 1, p.na).template cast<S>();
    q.assign(p.q.begin(), p.q.end());
    per.resize(p.lmax + 1);
    for (int L : Ls) {
      PerL& e = per[L];
      if (!e.perm.empty()) continue;
      e.Pm.resize(2 * L + 1);
      e.PqT.resize(2 * L + 1);
      e.PT.resize(2 * L + 1);
      e.off.resize(2 * L + 1);
      e.nl.resize(2 * L + 1);
      for (int m = -L; m <= L; ++m) {
        const int am = m < 0 ? -m : m, nl = L - am + 1;
        e.off[m + L] = static_cast<int>(e.perm.size());
        e.nl[m + L] = nl;
        RowMat<S> Pm(nl, nb);
        for (int l = am; l <= L; ++l) {
          e.perm.push_back(l * l + l + m);
          e.lof.push_back(l);
          for (int j = 0; j < nb; ++j) Pm(l - am, j) = static_cast<S>(p.P[static_cast<size_t>(sh_pair(l, am)) * nb + j]);
        }
        RowMat<S> Pq = Pm;
        for (int j = 0; j < nb; ++j) Pq.col(j) *= static_cast<S>(p.q[j]);
        e.PT[m + L] = Pm.transpose();
        e.PqT[m + L] = Pq.transpose();
        e.Pm[m + L] = std::move(Pm);
      }
    }
  }
};

template <class S>
struct BatchEngine {
  using Strided = Eigen::Map<RowMat<S>, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;
  using CStrided = Eigen::Map<const RowMat<S>, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;
  const BatchMats<S>& M;
  RowMat<S> Xp, G, H, Op;
  explicit BatchEngine(const BatchMats<S>& mats) : M(mats) {}

  void synth(const S* X, int64_t R, int L, RowMat<S>& grid) {
    const auto& e = M.per[L];
    const int K = 2 * L + 1, nb = M.nb;
    const int64_t d = static_cast<int64_t>(L + 1) * (L + 1);
    Xp.resize(R, d);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < d; ++c) Xp(r, c) = X[r * d + e.perm[c]];
    G.resize(R * nb, K);
    for (int m = -L; m <= L; ++m) {
      Strided Gm(G.data() + (m + L), R, nb, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(nb * K, K));
      Gm.noalias() = Xp.middleCols(e.off[m + L], e.nl[m + L]) * e.Pm[m + L];
    }
    grid.resize(R * nb, M.na);
    grid.noalias() = G * M.T.middleRows(M.lmax - L, K);
  }

  void analyse(const RowMat<S>& grid, int64_t R, int L, bool weighted, const S* scale, S* out) {
    const auto& e = M.per[L];
    const int K = 2 * L + 1, nb = M.nb;
    const int64_t d = static_cast<int64_t>(L + 1) * (L + 1);
    H.resize(R * nb, K);
    H.noalias() = grid * M.T.middleRows(M.lmax - L, K).transpose();
    Op.resize(R, d);
    for (int m = -L; m <= L; ++m) {
      CStrided Hm(H.data() + (m + L), R, nb, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(nb * K, K));
      Op.middleCols(e.off[m + L], e.nl[m + L]).noalias() = Hm * (weighted ? e.PqT[m + L] : e.PT[m + L]);
    }
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < d; ++c) out[r * d + e.perm[c]] = (scale ? scale[e.lof[c]] : S(1)) * Op(r, c);
  }

  void scale_q(RowMat<S>& grid, int64_t R) {
    for (int64_t r = 0; r < R; ++r)
      for (int j = 0; j < M.nb; ++j) grid.row(r * M.nb + j) *= M.q[j];
  }
  int64_t nb() const { return M.nb; }
};

// ---- the dense engine: the whole synthesis/analysis as one GEMM ------------
// grid (R x nb na) = X (R x d) Y (d x nb na) with Y[lm, (j, k)] = Y_lm(beta_j,
// alpha_k); analysis is the transpose (q-weighted or not).  More flops than
// the separable engine (d nb na against d nb + nb K na per row) but one
// efficient GEMM instead of 2L+2 small ones: faster at small L.
template <class S>
struct DenseMats {
  int nb = 0, na = 0;
  std::vector<RowMat<S>> Y, YqT, YT;  // index L: d x G, G x d (weighted), G x d
  std::vector<S> q;

  DenseMats(const Plan& p, std::initializer_list<int> Ls) : nb(p.nb), na(p.na) {
    q.assign(p.q.begin(), p.q.end());
    Y.resize(p.lmax + 1);
    YqT.resize(p.lmax + 1);
    YT.resize(p.lmax + 1);
    const int G = p.nb * p.na;
    for (int L : Ls) {
      if (Y[L].size()) continue;
      const int d = (L + 1) * (L + 1);
      RowMat<S> y(d, G), yq(d, G);
      for (int l = 0; l <= L; ++l)
        for (int m = -l; m <= l; ++m)
          for (int j = 0; j < p.nb; ++j)
            for (int k = 0; k < p.na; ++k) {
              const double v = p.P[static_cast<size_t>(sh_pair(l, m < 0 ? -m : m)) * p.nb + j] *
                               p.T[static_cast<size_t>(m + p.lmax) * p.na + k];
              y(l * l + l + m, j * p.na + k) = static_cast<S>(v);
              yq(l * l + l + m, j * p.na + k) = static_cast<S>(v * p.q[j]);
            }
      YT[L] = y.transpose();
      YqT[L] = yq.transpose();
      Y[L] = std::move(y);
    }
  }
};

template <class S>
struct DenseEngine {
  const DenseMats<S>& M;
  explicit DenseEngine(const DenseMats<S>& mats) : M(mats) {}
  using MapC = Eigen::Map<const RowMat<S>>;
  using MapM = Eigen::Map<RowMat<S>>;

  void synth(const S* X, int64_t R, int L, RowMat<S>& grid) {
    const int64_t d = static_cast<int64_t>(L + 1) * (L + 1);
    grid.resize(R * M.nb, M.na);
    MapM g(grid.data(), R, static_cast<int64_t>(M.nb) * M.na);
    g.noalias() = MapC(X, R, d) * M.Y[L];
  }
  void analyse(const RowMat<S>& grid, int64_t R, int L, bool weighted, const S* scale, S* out) {
    const int64_t d = static_cast<int64_t>(L + 1) * (L + 1);
    MapM o(out, R, d);
    o.noalias() = MapC(grid.data(), R, static_cast<int64_t>(M.nb) * M.na) * (weighted ? M.YqT[L] : M.YT[L]);
    if (scale)
      for (int l = 0; l <= L; ++l) o.middleCols(l * l, 2 * l + 1) *= scale[l];
  }
  void scale_q(RowMat<S>& grid, int64_t R) {
    for (int64_t r = 0; r < R; ++r)
      for (int j = 0; j < M.nb; ++j) grid.row(r * M.nb + j) *= M.q[j];
  }
  int64_t nb() const { return M.nb; }
};

constexpr int64_t kGrain = 64;  // rows per batched call and per thread-pool chunk

int64_t width(int l) { return static_cast<int64_t>(l + 1) * (l + 1); }

// x2's grid for rows [b, e): synthesised once per distinct x2 row, then
// repeated for the x2_rep rows that share it.
template <class S, class Eng>
void synth_x2(Eng& tr, const GauntShape& s, int64_t b, int64_t e, const S* x2, RowMat<S>& g, RowMat<S>& gu) {
  const int64_t rep = s.x2_rep;
  if (rep == 1) return tr.synth(x2 + b * width(s.l2), e - b, s.l2, g);
  const int64_t u0 = b / rep, u1 = (e - 1) / rep + 1, nb = tr.nb();
  tr.synth(x2 + u0 * width(s.l2), u1 - u0, s.l2, gu);
  g.resize((e - b) * nb, gu.cols());
  for (int64_t r = 0; r < e - b; ++r) g.middleRows(r * nb, nb) = gu.middleRows(((b + r) / rep - u0) * nb, nb);
}

// Rows [b, e) of the forward, on either engine.
template <class S, class Eng>
void forward_rows(Eng& tr, const GauntShape& s, int64_t b, int64_t e, const S* x1, const S* x2, const S* w, S* out,
                  RowMat<S>& f, RowMat<S>& g) {
  const int64_t R = e - b;
  RowMat<S> gu;
  tr.synth(x1 + b * width(s.l1), R, s.l1, f);
  synth_x2(tr, s, b, e, x2, g, gu);
  f.array() *= g.array();
  tr.analyse(f, R, s.lo, true, w, out + b * width(s.lo));
}

// Rows [b, e) of the backward; gw_acc[lo+1] accumulates this range's weight
// gradient.  With x2_rep > 1, gx2 rows are ACCUMULATED (the caller zeroes
// them; a range never splits the rows of one x2 row between threads).
template <class S, class Eng>
void backward_rows(Eng& tr, const GauntShape& s, int64_t b, int64_t e, const S* x1, const S* x2, const S* w,
                   const S* gout, S* gx1, S* gx2, double* gw_acc) {
  const int64_t R = e - b, dout = width(s.lo), rep = s.x2_rep;
  RowMat<S> f, g, gu, h, t;
  std::vector<S> gp(static_cast<size_t>(R * dout)), proj(gw_acc ? static_cast<size_t>(R * dout) : 0);
  const S* go = gout + b * dout;
  tr.synth(x1 + b * width(s.l1), R, s.l1, f);
  synth_x2(tr, s, b, e, x2, g, gu);
  if (gw_acc) {
    h = (f.array() * g.array()).matrix();
    tr.analyse(h, R, s.lo, true, nullptr, proj.data());
    for (int64_t r = 0; r < R; ++r)
      for (int l = 0; l <= s.lo; ++l) {
        double acc = 0;
        for (int m = -l; m <= l; ++m) acc += double(go[r * dout + l * l + l + m]) * double(proj[r * dout + l * l + l + m]);
        gw_acc[l] += acc;
      }
  }
  if (!gx1 && !gx2) return;
  for (int64_t r = 0; r < R; ++r)
    for (int l = 0; l <= s.lo; ++l)
      for (int m = -l; m <= l; ++m) gp[r * dout + l * l + l + m] = w[l] * go[r * dout + l * l + l + m];
  // adjoint of the weighted projection: gh = q * synth(gp)
  tr.synth(gp.data(), R, s.lo, h);
  tr.scale_q(h, R);
  if (gx1) {
    t = (h.array() * g.array()).matrix();
    tr.analyse(t, R, s.l1, false, nullptr, gx1 + b * width(s.l1));
  }
  if (gx2) {
    t = (h.array() * f.array()).matrix();
    if (rep == 1) {
      tr.analyse(t, R, s.l2, false, nullptr, gx2 + b * width(s.l2));
    } else {
      // the analysis is linear: sum the grids of the rows sharing an x2 row first
      const int64_t u0 = b / rep, u1 = (e - 1) / rep + 1, nb = tr.nb(), d2 = width(s.l2);
      gu.setZero((u1 - u0) * nb, t.cols());
      for (int64_t r = 0; r < R; ++r) gu.middleRows(((b + r) / rep - u0) * nb, nb) += t.middleRows(r * nb, nb);
      std::vector<S> tmp(static_cast<size_t>((u1 - u0) * d2));
      tr.analyse(gu, u1 - u0, s.l2, false, nullptr, tmp.data());
      for (size_t k = 0; k < tmp.size(); ++k) gx2[u0 * d2 + static_cast<int64_t>(k)] += tmp[k];
    }
  }
}

// Rows per batched call: 64 or more, a multiple of x2_rep (so no x2 row is
// split between two calls or threads); depends on the shape only.
int64_t grain_of(const GauntShape& s) { return s.x2_rep * ((kGrain + s.x2_rep - 1) / s.x2_rep); }

void check_rows(const GauntShape& s, int64_t n) {
  if (n % s.x2_rep)
    throw ValueError("gaunt: the number of rows " + std::to_string(n) + " is not a multiple of x2_rep " +
                     std::to_string(s.x2_rep));
}

const Plan& plan_of(const GauntShape& s) { return plan_for(s.n_beta, s.n_alpha, std::max(s.l1, std::max(s.l2, s.lo))); }

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
  if (s.x2_rep < 1) throw ValueError("gaunt: x2_rep must be >= 1, got " + std::to_string(s.x2_rep));
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
void gaunt_forward_ref(const GauntShape& s0, int64_t n, const S* x1, const S* x2, const S* w, S* out) {
  const GauntShape s = gaunt_resolve(s0);
  check_rows(s, n);
  RefEngine<S> tr(plan_of(s));
  RowMat<S> f, g;
  for (int64_t i = 0; i < n; ++i) forward_rows(tr, s, i, i + 1, x1, x2, w, out, f, g);
}

template <class S>
void gaunt_backward_ref(const GauntShape& s0, int64_t n, const S* x1, const S* x2, const S* w, const S* gout, S* gx1,
                        S* gx2, S* gw) {
  const GauntShape s = gaunt_resolve(s0);
  check_rows(s, n);
  RefEngine<S> tr(plan_of(s));
  if (gx2 && s.x2_rep > 1) std::fill(gx2, gx2 + (n / s.x2_rep) * width(s.l2), S(0));
  std::vector<double> acc(s.lo + 1, 0.0);
  for (int64_t i = 0; i < n; ++i) backward_rows(tr, s, i, i + 1, x1, x2, w, gout, gx1, gx2, gw ? acc.data() : nullptr);
  if (gw)
    for (int l = 0; l <= s.lo; ++l) gw[l] = static_cast<S>(acc[l]);
}

namespace {

// Picks the engine from the shape only (never from the thread count): the
// dense one while its flop count is at most 3x the separable one's (measured
// crossover near L = 4 for l<=L x l<=L -> l<=2L, one thread, float32).
bool dense_pays(const GauntShape& s, int engine) {
  if (engine == SC_GAUNT_DENSE) return true;
  if (engine == SC_GAUNT_SEPARABLE) return false;
  if (engine != SC_GAUNT_AUTO) throw ValueError("gaunt: unknown engine code " + std::to_string(engine));
  double dense = 0, sep = 0;
  for (int L : {s.l1, s.l2, s.lo}) {
    const double d = (L + 1.0) * (L + 1.0);
    dense += d * s.n_beta * s.n_alpha;
    sep += d * s.n_beta + s.n_beta * (2.0 * L + 1.0) * s.n_alpha;
  }
  return dense <= 3.0 * sep;
}

template <class S, class Mats, class Eng>
void forward_threaded(const GauntShape& s, const Mats& mats, int64_t n, const S* x1, const S* x2, const S* w, S* out) {
  const int64_t grain = grain_of(s);
  parallel_for(n, grain, [&](int64_t b, int64_t e) {
    Eng tr(mats);
    RowMat<S> f, g;
    for (int64_t c = b; c < e; c += grain) forward_rows(tr, s, c, std::min(e, c + grain), x1, x2, w, out, f, g);
  });
}

template <class S, class Mats, class Eng>
void backward_threaded(const GauntShape& s, const Mats& mats, int64_t n, const S* x1, const S* x2, const S* w,
                       const S* gout, S* gx1, S* gx2, S* gw) {
  const int64_t grain = grain_of(s);
  const int64_t nchunks = (n + grain - 1) / grain;
  if (gx2 && s.x2_rep > 1) std::fill(gx2, gx2 + (n / s.x2_rep) * width(s.l2), S(0));
  // one partial weight gradient per fixed chunk, reduced in chunk order
  std::vector<double> gw_part(gw ? static_cast<size_t>(nchunks) * (s.lo + 1) : 0, 0.0);
  parallel_for(n, grain, [&](int64_t b, int64_t e) {
    Eng tr(mats);
    for (int64_t c = b; c < e; c += grain) {
      const int64_t ce = std::min(e, c + grain);
      double* acc = gw ? &gw_part[static_cast<size_t>(c / grain) * (s.lo + 1)] : nullptr;
      backward_rows(tr, s, c, ce, x1, x2, w, gout, gx1, gx2, acc);
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

}  // namespace

template <class S>
void gaunt_forward(const GauntShape& s0, int64_t n, const S* x1, const S* x2, const S* w, S* out, int engine) {
  const GauntShape s = gaunt_resolve(s0);
  check_rows(s, n);
  if (dense_pays(s, engine)) {
    const DenseMats<S> mats(plan_of(s), {s.l1, s.l2, s.lo});
    forward_threaded<S, DenseMats<S>, DenseEngine<S>>(s, mats, n, x1, x2, w, out);
  } else {
    const BatchMats<S> mats(plan_of(s), {s.l1, s.l2, s.lo});
    forward_threaded<S, BatchMats<S>, BatchEngine<S>>(s, mats, n, x1, x2, w, out);
  }
}

template <class S>
void gaunt_backward(const GauntShape& s0, int64_t n, const S* x1, const S* x2, const S* w, const S* gout, S* gx1,
                    S* gx2, S* gw, int engine) {
  const GauntShape s = gaunt_resolve(s0);
  check_rows(s, n);
  if (dense_pays(s, engine)) {
    const DenseMats<S> mats(plan_of(s), {s.l1, s.l2, s.lo});
    backward_threaded<S, DenseMats<S>, DenseEngine<S>>(s, mats, n, x1, x2, w, gout, gx1, gx2, gw);
  } else {
    const BatchMats<S> mats(plan_of(s), {s.l1, s.l2, s.lo});
    backward_threaded<S, BatchMats<S>, BatchEngine<S>>(s, mats, n, x1, x2, w, gout, gx1, gx2, gw);
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

#define SC_GAUNT_INST(S)                                                                                    \
  template void gaunt_forward<S>(const GauntShape&, int64_t, const S*, const S*, const S*, S*, int);            \
  template void gaunt_backward<S>(const GauntShape&, int64_t, const S*, const S*, const S*, const S*, S*, S*, S*, \
                                  int);                                                                          \
  template void gaunt_forward_ref<S>(const GauntShape&, int64_t, const S*, const S*, const S*, S*);             \
  template void gaunt_backward_ref<S>(const GauntShape&, int64_t, const S*, const S*, const S*, const S*, S*, S*, S*);
SC_GAUNT_INST(float)
SC_GAUNT_INST(double)
#undef SC_GAUNT_INST

}  // namespace tp
}  // namespace sc
