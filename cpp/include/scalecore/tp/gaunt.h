// Gaunt tensor product on an S^2 grid ("The Price of Freedom", Xie et al.,
// arXiv 2506.13523, Sec. "GTP via spherical grids"; the grid form of Luo et
// al.'s Gaunt tensor product).
//
// Each row holds the coefficients of one function on the sphere in e3nn's
// real basis with "integral" normalisation (orthonormal Y), all degrees
// 0..L in order, component order m = -l..l, (L+1)^2 entries:
//   f(s) = sum_lm x1[lm] Y_lm(s),   g(s) = sum_lm x2[lm] Y_lm(s),
//   out[l m] = w[l] * integral_{S^2} f g Y_lm      (l <= lo)
//            = w[l] * sum_{l1 m1 l2 m2} G(l1 m1, l2 m2, l m) x1[l1 m1] x2[l2 m2],
// with the Gaunt coefficients G = integral Y Y Y (zero unless l1 + l2 + l is
// even and the triangle rule holds).  The integral is evaluated exactly on a
// product grid: n_beta Gauss-Legendre nodes in cos(beta) (beta measured from
// e3nn's polar axis y) and n_alpha uniform azimuths.  The integrand is a
// polynomial of degree D = l1max + l2max + lo on the sphere, so
//   n_beta  = floor(D / 2) + 1   (Gauss-Legendre is exact to degree 2 n_beta - 1),
//   n_alpha = D + 1              (the trapezoid rule is exact for |frequency| <= D).
// Both transforms are separable: a Legendre stage (per m, over l) and a
// Fourier stage (per beta, over m) cost O(L^3) per row instead of the
// O(L^6) of a dense Clebsch-Gordan product.
#pragma once
#include <cstdint>
#include <vector>

namespace sc {
namespace tp {

// Largest degree of any operand (inclusive).
constexpr int kGauntMaxL = 24;

struct GauntShape {
  int l1 = 0, l2 = 0, lo = 0;  // max degrees of x1, x2 and out
  int n_beta = 0, n_alpha = 0;  // grid (0 = the exact resolution above)
};

// Fills n_beta / n_alpha with the exact resolution when they are 0; throws
// sc::ValueError on a degree out of [0, kGauntMaxL] or a grid that is given
// but too small to be exact.
GauntShape gaunt_resolve(GauntShape s);

// out[n, (lo+1)^2] for n rows; w[lo + 1] per output degree (shared by rows).
// Threaded over rows; results do not depend on the thread count.
template <class S>
void gaunt_forward(const GauntShape& s, int64_t n, const S* x1, const S* x2, const S* w, S* out);
// Gradients for gout[n, (lo+1)^2]: gx1, gx2 (per row) and gw[lo + 1] (summed
// over rows in a fixed order).  Any output pointer may be null (not wanted).
template <class S>
void gaunt_backward(const GauntShape& s, int64_t n, const S* x1, const S* x2, const S* w, const S* gout, S* gx1,
                    S* gx2, S* gw);

// The Gaunt coefficients G(l1 m1, l2 m2, l3 m3) = integral of three real
// spherical harmonics (orthonormal, e3nn basis), dense row-major
// [(2l1+1), (2l2+1), (2l3+1)], by exact product quadrature; all zeros when the
// path is parity-odd or violates the triangle rule.
std::vector<double> gaunt_coefficients(int l1, int l2, int l3);

}  // namespace tp
}  // namespace sc
