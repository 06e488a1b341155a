// Kernel-level agreement of the exact solvers' kernels: the table of the
// current SIMD level against the reference on random data of the given
// shape (odd sizes exercise every tail path).  For tests (bound as
// _ot_emd_kernel_check); returns the names of the kernels that disagree.
#include <string.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "scalecore/ot/kernel_api.h"
#include "scalecore/ot/ot.h"

namespace sc {
namespace ot {

namespace {
template <class T>
bool same_bits(const T& x, const T& y) {
  return memcmp(&x, &y, sizeof(T)) == 0;
}
template <class T>
bool same_bits(const std::vector<T>& x, const std::vector<T>& y) {
  return x.size() == y.size() && (x.empty() || memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0);
}
}  // namespace

std::vector<std::string> emd_kernel_check(int64_t n, int64_t m, uint64_t seed) {
  const OtKernels<double>& F = ot_kernels<double>(0);
  const OtKernels<double>& R = ot_kernels<double>(1);
  std::vector<std::string> bad;
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> U(-2.0, 3.0);
  const int64_t ldc = m + 3;  // a row stride wider than the row
  // Quantised costs and potentials make ties between arcs likely.
  auto q = [&](double v) { return std::round(v * 8.0) / 8.0; };
  std::vector<double> C(static_cast<size_t>(n) * ldc), pi(n), pj(m), pjm(m);
  for (auto& v : C) v = q(U(gen));
  for (auto& v : pi) v = q(U(gen));
  for (int64_t j = 0; j < m; ++j) {
    pj[j] = q(U(gen));
    pjm[j] = (gen() % 3 == 0) ? -std::numeric_limits<double>::infinity() : pj[j];
  }
  // Pricing over every block [i0, i0 + r).
  std::vector<float> Cf(static_cast<size_t>(n) * m), Cf2(Cf.size()), pif(n), pjf(m);
  R.emd_to_f32(C.data(), ldc, n, m, Cf.data(), m);
  F.emd_to_f32(C.data(), ldc, n, m, Cf2.data(), m);
  if (!same_bits(Cf, Cf2)) bad.push_back("emd_to_f32");
  for (int64_t i = 0; i < n; ++i) pif[i] = static_cast<float>(pi[i]);
  for (int64_t j = 0; j < m; ++j) pjf[j] = static_cast<float>(pj[j]);
  bool ok_d = true, ok_f = true;
  for (int64_t i0 = 0; i0 < n; ++i0)
    for (int64_t r = 0; i0 + r <= n && r <= 9; ++r) {
      for (const std::vector<double>* P : {&pj, &pjm}) {
        int64_t a1 = -2, a2 = -2;
        const double v1 = R.emd_price_rows(C.data(), ldc, m, pi.data(), P->data(), i0, r, &a1);
        const double v2 = F.emd_price_rows(C.data(), ldc, m, pi.data(), P->data(), i0, r, &a2);
        if (a1 != a2 || (a1 >= 0 && !(v1 == v2))) ok_d = false;
      }
      int64_t b1 = -2, b2 = -2;
      const float w1 = R.emd_price_rows_f32(Cf.data(), m, m, pif.data(), pjf.data(), i0, r, &b1);
      const float w2 = F.emd_price_rows_f32(Cf.data(), m, m, pif.data(), pjf.data(), i0, r, &b2);
      if (b1 != b2 || (b1 >= 0 && !(w1 == w2))) ok_f = false;
    }
  if (!ok_d) bad.push_back("emd_price_rows");
  if (!ok_f) bad.push_back("emd_price_rows_f32");
  // Vogel keys and the two cheapest cells of every line under random masks.
  {
    int ib = 0;
    while ((int64_t(1) << ib) < std::max(n, m)) ++ib;
    std::vector<double> r1(n), r2(n), c1(m), c2(m);
    std::vector<uint32_t> K1(static_cast<size_t>(n) * m), K2(K1.size()), T1(K1.size()), T2(K1.size());
    R.emd_toc_keys(C.data(), ldc, n, m, ib, r1.data(), c1.data(), K1.data(), T1.data());
    F.emd_toc_keys(C.data(), ldc, n, m, ib, r2.data(), c2.data(), K2.data(), T2.data());
    if (!same_bits(r1, r2) || !same_bits(c1, c2) || !same_bits(K1, K2) || !same_bits(T1, T2))
      bad.push_back("emd_toc_keys");
    std::vector<uint32_t> mask(std::max(n, m));
    bool ok = true;
    for (int rep = 0; rep < 4; ++rep) {
      for (auto& v : mask) v = (gen() % 4 == 0 || rep == 3) ? ~0u : 0u;
      for (int64_t i = 0; i < n; ++i) {
        uint32_t x1, x2, y1, y2;
        R.emd_two_min(K1.data() + i * m, mask.data(), m, &x1, &x2);
        F.emd_two_min(K1.data() + i * m, mask.data(), m, &y1, &y2);
        ok = ok && x1 == y1 && x2 == y2;
      }
      for (int64_t j = 0; j < m; ++j) {
        uint32_t x1, x2, y1, y2;
        R.emd_two_min(T1.data() + j * n, mask.data(), n, &x1, &x2);
        F.emd_two_min(T1.data() + j * n, mask.data(), n, &y1, &y2);
        ok = ok && x1 == y1 && x2 == y2;
      }
    }
    if (!ok) bad.push_back("emd_two_min");
  }
  // argmax with ties, match2, masked_add over n + m + 1 entries.
  {
    const int64_t len = n + m + 1;
    std::vector<float> p(len);
    bool ok = true;
    for (int rep = 0; rep < 8; ++rep) {
      for (auto& v : p) v = static_cast<float>(gen() % 5) - 1.0f;
      if (rep == 7) p[len - 1] = HUGE_VALF;
      for (int64_t l = 1; l <= len; ++l) ok = ok && R.emd_argmax(p.data(), l) == F.emd_argmax(p.data(), l);
    }
    if (!ok) bad.push_back("emd_argmax");
    std::vector<int32_t> l1(len), l2(len);
    for (int64_t k = 0; k < len; ++k) {
      l1[k] = static_cast<int32_t>(gen() % 7) - 1;
      l2[k] = static_cast<int32_t>(gen() % 7) - 1;
    }
    const int64_t words = (len + 63) / 64;
    std::vector<uint64_t> w1(words, 123), w2(words, 456);
    ok = true;
    for (int32_t t = -1; t < 6; ++t) {
      R.emd_match2(l1.data(), l2.data(), len, t, w1.data());
      F.emd_match2(l1.data(), l2.data(), len, t, w2.data());
      ok = ok && w1 == w2;
    }
    if (!ok) bad.push_back("emd_match2");
    std::vector<uint64_t> bits(words);
    for (auto& w : bits) w = gen();
    std::vector<double> x1(len), x2;
    for (auto& v : x1) v = U(gen);
    x1[0] = -0.0;
    x2 = x1;
    std::vector<float> f1(len, 7.f), f2(len, 9.f);
    R.emd_masked_add(x1.data(), f1.data(), bits.data(), len, 0.3125);
    F.emd_masked_add(x2.data(), f2.data(), bits.data(), len, 0.3125);
    R.emd_masked_add(x1.data(), nullptr, bits.data(), len, -1.5);
    F.emd_masked_add(x2.data(), nullptr, bits.data(), len, -1.5);
    if (!same_bits(x1, x2) || !same_bits(f1, f2)) bad.push_back("emd_masked_add");
  }
  // Jonker-Volgenant helpers on each row, with and without v.
  {
    bool ok = true;
    for (int64_t i = 0; i < n; ++i)
      for (const double* v : {static_cast<const double*>(nullptr), static_cast<const double*>(pj.data())}) {
        double u1, u2, t1, t2;
        int64_t j1, j2, k1, k2;
        R.row_min2(C.data() + i * ldc, v, m, &u1, &j1, &u2, &j2);
        F.row_min2(C.data() + i * ldc, v, m, &t1, &k1, &t2, &k2);
        ok = ok && j1 == k1 && j2 == k2 && same_bits(u1, t1) && same_bits(u2, t2);
      }
    std::vector<double> cm1(m, 1.0), ca1(m, -1.0), cm2(cm1), ca2(ca1);
    for (int64_t i = 0; i < n; ++i) {
      R.col_min(C.data() + i * ldc, m, double(i), cm1.data(), ca1.data());
      F.col_min(C.data() + i * ldc, m, double(i), cm2.data(), ca2.data());
    }
    ok = ok && same_bits(cm1, cm2) && same_bits(ca1, ca2);
    if (!ok) bad.push_back("row_min2/col_min");
    // lap_relax: a few scanned columns, distances from a first row.
    std::vector<double> mask(m, 0.0), d1(m, std::numeric_limits<double>::infinity()), d2;
    for (int64_t j = 0; j < m; ++j)
      if (gen() % 3 == 0) mask[j] = std::numeric_limits<double>::infinity();
    std::vector<int32_t> p1(m, -1), p2;
    d2 = d1;
    p2 = p1;
    ok = true;
    for (int64_t i = 0; i < n; ++i) {
      int64_t a1 = -2, a2 = -2;
      const double u = i == 0 ? 0.0 : q(U(gen));
      const double x1 = R.lap_relax(C.data() + i * ldc, pj.data(), u, m, mask.data(), d1.data(), p1.data(),
                                    static_cast<int32_t>(i), &a1);
      const double x2 = F.lap_relax(C.data() + i * ldc, pj.data(), u, m, mask.data(), d2.data(), p2.data(),
                                    static_cast<int32_t>(i), &a2);
      ok = ok && a1 == a2 && same_bits(x1, x2) && same_bits(d1, d2) && p1 == p2;
    }
    if (!ok) bad.push_back("lap_relax");
  }
  return bad;
}

// OtKernels::scale_update of the current level against the reference: the
// same updates to 1e-13 relative (the series is evaluated with FMA at the
// AVX2 level), the same flags, and no update when a sum is unusable.
std::vector<std::string> scale_kernel_check(int64_t n, uint64_t seed) {
  const OtKernels<double>& F = ot_kernels<double>(0);
  const OtKernels<double>& R = ot_kernels<double>(1);
  std::vector<std::string> bad;
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> U(0.0, 1.0);
  std::vector<double> a(n), k(n), u(n);
  for (const double w : {1.0, 1.3, 1.9}) {
    for (int spread = 0; spread < 3; ++spread) {
      // spread 0: t within 1/4 of 1 (the series); 1: mixed; 2: far (exp/log).
      for (int64_t i = 0; i < n; ++i) {
        a[i] = gen() % 7 == 0 ? 0.0 : 0.1 + U(gen);
        u[i] = 0.5 + U(gen);
        const double t = spread == 0 ? 0.8 + 0.4 * U(gen) : spread == 1 ? 0.5 + U(gen) : 2.0 + 3.0 * U(gen);
        k[i] = a[i] > 0 ? a[i] / (t * u[i]) : U(gen);
      }
      std::vector<double> u1 = u, u2 = u;
      int f1 = 0, f2 = 0;
      const double e1 = R.scale_update(a.data(), k.data(), u1.data(), n, w, 0.7, 1.6, &f1);
      const double e2 = F.scale_update(a.data(), k.data(), u2.data(), n, w, 0.7, 1.6, &f2);
      // The error sums squared residuals; at w = 1 those are rounding-level
      // and FMA (AVX2) changes them, so the bound is relative to sum a^2 too.
      double sa2 = 0;
      for (int64_t i = 0; i < n; ++i) sa2 += a[i] * a[i];
      bool ok = std::fabs(e1 - e2) <= 1e-12 * e1 + 1e-28 * sa2;
      for (int64_t i = 0; i < n; ++i) ok = ok && std::fabs(u1[i] - u2[i]) <= 1e-13 * std::fabs(u1[i]);
      // The flags may differ only where a u sits within rounding of a bound.
      ok = ok && (f1 == f2);
      if (!ok) bad.push_back("scale_update w=" + std::to_string(w) + " spread=" + std::to_string(spread));
    }
  }
  // An unusable sum (0, inf, NaN) where a > 0: nothing updated, flags 2 (| 4).
  for (const double kb : {0.0, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
    for (int64_t i = 0; i < n; ++i) {
      a[i] = 0.5;
      k[i] = 1.0;
      u[i] = 1.0;
    }
    k[n - 1] = kb;
    std::vector<double> u1 = u, u2 = u;
    int f1 = 0, f2 = 0;
    R.scale_update(a.data(), k.data(), u1.data(), n, 1.5, 0.1, 10.0, &f1);
    F.scale_update(a.data(), k.data(), u2.data(), n, 1.5, 0.1, 10.0, &f2);
    const int want = 2 | (kb != kb ? 4 : 0);
    if (f1 != want || f2 != want || u1 != u || u2 != u) bad.push_back("scale_update unusable sum");
  }
  return bad;
}

}  // namespace ot
}  // namespace sc
