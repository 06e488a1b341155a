// Real Clebsch-Gordan coefficients in e3nn's basis: see scalecore/tp/wigner.h
// for the convention.  Built once per (l1, l2, l3) and cached.
#include "scalecore/tp/wigner.h"

#include <cmath>
#include <complex>
#include <memory>
#include <mutex>
#include <string>

#include "scalecore/common/errors.h"

namespace sc {
namespace tp {
namespace {

// Wide floating type for the alternating Racah sum.
#if defined(__SIZEOF_FLOAT128__) && !defined(__CUDACC__)
using wide_t = __float128;
#else
using wide_t = long double;
#endif

constexpr int kMaxFact = 3 * kWigner3jMaxL + 2;

const wide_t* factorials() {
  static const auto table = [] {
    auto t = std::make_unique<wide_t[]>(kMaxFact + 1);
    t[0] = 1;
    for (int i = 1; i <= kMaxFact; ++i) t[i] = t[i - 1] * static_cast<wide_t>(i);
    return t;
  }();
  return table.get();
}

void check_l(int l, const char* name) {
  if (l < 0 || l > kWigner3jMaxL)
    throw ValueError(std::string("wigner_3j: ") + name + " must be an integer in [0, " +
                     std::to_string(kWigner3jMaxL) + "], got " + std::to_string(l));
}

// <j1 m1; j2 m2 | J M> by Racah's formula (integer spins only).
long double cg_su2(int j1, int m1, int j2, int m2, int J, int M) {
  if (M != m1 + m2 || !wigner_3j_allowed(j1, j2, J)) return 0.0L;
  if (std::abs(m1) > j1 || std::abs(m2) > j2 || std::abs(M) > J) return 0.0L;
  const wide_t* f = factorials();
  const wide_t pre = static_cast<wide_t>(2 * J + 1) * f[J + j1 - j2] * f[J - j1 + j2] * f[j1 + j2 - J] /
                     f[j1 + j2 + J + 1] * f[J + M] * f[J - M] * f[j1 - m1] * f[j1 + m1] * f[j2 - m2] *
                     f[j2 + m2];
  int kmin = 0;
  if (j2 - J - m1 > kmin) kmin = j2 - J - m1;
  if (j1 - J + m2 > kmin) kmin = j1 - J + m2;
  int kmax = j1 + j2 - J;
  if (j1 - m1 < kmax) kmax = j1 - m1;
  if (j2 + m2 < kmax) kmax = j2 + m2;
  wide_t s = 0;
  for (int k = kmin; k <= kmax; ++k) {
    const wide_t den = f[k] * f[j1 + j2 - J - k] * f[j1 - m1 - k] * f[j2 + m2 - k] * f[J - j2 + m1 + k] *
                       f[J - j1 - m2 + k];
    s += (k % 2 ? -1 : 1) / den;
  }
  return std::sqrt(static_cast<long double>(pre)) * static_cast<long double>(s);
}

using cplx = std::complex<long double>;

// Column `r` (real component r - l) of the real-to-complex change of basis
// Q_l = (-i)^l q (rows: complex component a - l; columns: real component), with
// q the coefficients of Wikipedia's real form of the spherical harmonics:
//   q[l-|m|, l+|m|] = 1/sqrt2,       q[l-|m|, l-|m|] = -i/sqrt2,
//   q[l+|m|, l+|m|] = (-1)^m/sqrt2,  q[l+|m|, l-|m|] = i(-1)^m/sqrt2,   q[l, l] = 1.
// Each column has one (m = 0) or two nonzero rows.
struct QColumn {
  int n = 0;
  int row[2];
  cplx val[2];
};

QColumn q_column(int l, int r) {
  const long double h = 1.0L / std::sqrt(2.0L);
  // (-i)^l
  static const cplx powers[4] = {cplx(1, 0), cplx(0, -1), cplx(-1, 0), cplx(0, 1)};
  const cplx phase = powers[l % 4];
  QColumn c;
  const int mu = r - l;  // the real component of this column
  const int am = mu < 0 ? -mu : mu;
  if (am == 0) {
    c.n = 1;
    c.row[0] = l;
    c.val[0] = phase;
    return c;
  }
  // Entries q[row, col]: for complex m < 0 at row l+m: col l+|m| -> 1/sqrt2, col l-|m| -> -i/sqrt2;
  // for m > 0 at row l+m: col l+m -> (-1)^m/sqrt2, col l-m -> i(-1)^m/sqrt2.
  const long double sg = (am % 2) ? -1.0L : 1.0L;
  c.n = 2;
  if (mu > 0) {  // column l+|m|: rows l-|m| (value 1/sqrt2) and l+|m| (value (-1)^m/sqrt2)
    c.row[0] = l - am;
    c.val[0] = phase * cplx(h, 0);
    c.row[1] = l + am;
    c.val[1] = phase * cplx(sg * h, 0);
  } else {  // column l-|m|: rows l-|m| (value -i/sqrt2) and l+|m| (value i(-1)^m/sqrt2)
    c.row[0] = l - am;
    c.val[0] = phase * cplx(0, -h);
    c.row[1] = l + am;
    c.val[1] = phase * cplx(0, sg * h);
  }
  return c;
}

std::vector<double> build(int l1, int l2, int l3) {
  const int d1 = 2 * l1 + 1, d2 = 2 * l2 + 1, d3 = 2 * l3 + 1;
  std::vector<long double> real(static_cast<size_t>(d1) * d2 * d3, 0.0L);
  std::vector<QColumn> q1(d1), q2(d2), q3(d3);
  for (int i = 0; i < d1; ++i) q1[i] = q_column(l1, i);
  for (int j = 0; j < d2; ++j) q2[j] = q_column(l2, j);
  for (int k = 0; k < d3; ++k) q3[k] = q_column(l3, k);
  // SU(2) coefficients, dense over (a, b) with c = a + b fixed by m3 = m1 + m2.
  std::vector<long double> su2(static_cast<size_t>(d1) * d2, 0.0L);
  for (int a = 0; a < d1; ++a)
    for (int b = 0; b < d2; ++b) su2[a * d2 + b] = cg_su2(l1, a - l1, l2, b - l2, l3, (a - l1) + (b - l2));
  long double norm2 = 0.0L;
  for (int i = 0; i < d1; ++i)
    for (int j = 0; j < d2; ++j)
      for (int k = 0; k < d3; ++k) {
        cplx acc(0, 0);
        for (int x = 0; x < q1[i].n; ++x)
          for (int y = 0; y < q2[j].n; ++y) {
            const int a = q1[i].row[x], b = q2[j].row[y];
            const int c = (a - l1) + (b - l2) + l3;  // the only complex m3 with a nonzero coefficient
            for (int z = 0; z < q3[k].n; ++z)
              if (q3[k].row[z] == c) acc += q1[i].val[x] * q2[j].val[y] * std::conj(q3[k].val[z]) * su2[a * d2 + b];
          }
        // acc is real by the choice of the (-i)^l phases; its imaginary part is rounding only.
        const long double v = acc.real();
        real[(static_cast<size_t>(i) * d2 + j) * d3 + k] = v;
        norm2 += v * v;
      }
  const long double inv = 1.0L / std::sqrt(norm2);
  std::vector<double> out(real.size());
  for (size_t t = 0; t < real.size(); ++t) out[t] = static_cast<double>(real[t] * inv);
  return out;
}

struct Entry {
  std::once_flag once;
  std::vector<double> data;
};

constexpr int kSide = kWigner3jMaxL + 1;

}  // namespace

double su2_clebsch_gordan(int l1, int m1, int l2, int m2, int l3, int m3) {
  check_l(l1, "l1");
  check_l(l2, "l2");
  check_l(l3, "l3");
  return static_cast<double>(cg_su2(l1, m1, l2, m2, l3, m3));
}

const std::vector<double>& wigner_3j_table(int l1, int l2, int l3) {
  check_l(l1, "l1");
  check_l(l2, "l2");
  check_l(l3, "l3");
  static const std::vector<double> empty;
  if (!wigner_3j_allowed(l1, l2, l3)) return empty;
  // One slot per triple; entries never move, so references stay valid.
  static const std::unique_ptr<Entry[]> table(new Entry[kSide * kSide * kSide]);
  Entry& e = table[(l1 * kSide + l2) * kSide + l3];
  std::call_once(e.once, [&] { e.data = build(l1, l2, l3); });
  return e.data;
}

}  // namespace tp
}  // namespace sc
