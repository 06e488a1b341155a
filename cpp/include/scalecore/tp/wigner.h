// Real Clebsch-Gordan coefficients (e3nn's "wigner_3j") and their cache.
//
// Convention (e3nn 0.6, o3/_wigner.py, checked against e3nn in
// tests/test_tp_wigner.py): the real coefficients of the coupling
// l1 (x) l2 -> l3 in e3nn's real basis, components m = -l..l of each degree,
//
//     C[i, j, k] = sum_{a,b,c} Q_l1[a, i] Q_l2[b, j] conj(Q_l3[c, k]) <l1 a; l2 b | l3 c>,
//
// where <..|..> is the SU(2) Clebsch-Gordan coefficient in the Condon-Shortley
// phase (Racah's closed formula, e.g. Varshalovich et al. 8.2.1 eq. (5)) and
// Q_l is the real-to-complex change of basis of the real spherical harmonics
// (Wikipedia's "Real form", times (-i)^l so that C is real).  C is then scaled
// to unit Frobenius norm, sum_ijk C^2 = 1.  Equivariance:
// C[i,j,k] = sum D1[i,a] D2[j,b] D3[k,c] C[a,b,c] for e3nn's Wigner-D matrices.
//
// The SU(2) sums are evaluated in binary128 (or long double where the
// compiler has no __float128), so every entry is correct to double rounding
// for all l <= kWigner3jMaxL.
#pragma once
#include <vector>

namespace sc {
namespace tp {

// Largest degree accepted by wigner_3j_table (inclusive); larger or negative
// degrees throw sc::ValueError.  e3nn's own spherical-harmonics limit is 12.
constexpr int kWigner3jMaxL = 24;

// True when |l1 - l2| <= l3 <= l1 + l2 (the triangle rule; symmetric in l1, l2, l3).
inline bool wigner_3j_allowed(int l1, int l2, int l3) {
  auto d = [](int a, int b) { return a > b ? a - b : b - a; };
  return l1 >= 0 && l2 >= 0 && l3 >= 0 && d(l1, l2) <= l3 && l3 <= l1 + l2;
}

// The dense coefficients, row-major [(2l1+1), (2l2+1), (2l3+1)] in float64.
//
// Computed once per triple on first use and kept for the life of the process;
// the reference stays valid and the call is safe from any number of threads
// (each triple is built under its own std::call_once, reads take no lock).
// When the triangle rule fails the result is an EMPTY vector (size 0), which
// lets product kernels skip a forbidden path without a branch on an error.
// Throws sc::ValueError when any l is negative or above kWigner3jMaxL.
const std::vector<double>& wigner_3j_table(int l1, int l2, int l3);

// The SU(2) Clebsch-Gordan coefficient <l1 m1; l2 m2 | l3 m3> (Condon-Shortley
// phase, NOT unit-normalised over the triple: sum over m1, m2 of its square is
// 1 for each m3).  Zero outside the selection rules.  Exposed for tests.
double su2_clebsch_gordan(int l1, int m1, int l2, int m2, int l3, int m3);

}  // namespace tp
}  // namespace sc
