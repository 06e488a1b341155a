// AVX-512 kernels of the exact solvers (compiled with -mavx512f/bw/vl/dq plus
// -mavx2 -mfma, SC_ISA=isa_avx512); contracts in kernel_api.h, oracles in
// emd_kernels_ref.cc.  As in emd_avx2.cc: no std:: templates, reduced costs
// and keys in the reference's operation order, so every level returns the
// same minima, arcs and keys; tails are masked loads and stores (lanes past
// the end read as +inf / ~0u / -inf, whichever cannot win).
#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "emd_kernels.h"

namespace sc {
namespace ot {
namespace emd_avx512 {

namespace {

inline __mmask8 m8(int64_t left) { return left >= 8 ? __mmask8(0xff) : __mmask8((1u << left) - 1u); }
inline __mmask16 m16(int64_t left) { return left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1u); }

// h = c - v (or c) over the lanes of k, +inf elsewhere.
inline __m512d hval(const double* c, const double* v, __mmask8 k) {
  const __m512d x = _mm512_mask_loadu_pd(_mm512_set1_pd(HUGE_VAL), k, c);
  return v ? _mm512_sub_pd(x, _mm512_maskz_loadu_pd(k, v)) : x;
}

// A row minimum v as the reference's (the first entry attaining it): only
// a zero can differ, -0.0 against +0.0.
inline double first_zero(const double* c, int64_t m, double v) {
  if (v != 0) return v;
  for (int64_t j = 0; j < m; ++j)
    if (c[j] == 0) return c[j];
  return v;
}

}  // namespace

// Minimum and second minimum of h = c - v (kernel_api.h): per-lane min/max
// network (two independent pairs), merged across lanes, then one pass for
// the first index of each (j2 the first index other than j1 attaining u2).
void row_min2(const double* c, const double* v, int64_t n, double* u1o, int64_t* j1o, double* u2o, int64_t* j2o) {
  const __m512d inf = _mm512_set1_pd(HUGE_VAL);
  __m512d a1 = inf, a2 = inf, b1 = inf, b2 = inf;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512d x = hval(c + j, v ? v + j : nullptr, 0xff);
    const __m512d y = hval(c + j + 8, v ? v + j + 8 : nullptr, 0xff);
    a2 = _mm512_min_pd(a2, _mm512_max_pd(a1, x));
    a1 = _mm512_min_pd(a1, x);
    b2 = _mm512_min_pd(b2, _mm512_max_pd(b1, y));
    b1 = _mm512_min_pd(b1, y);
  }
  for (; j < n; j += 8) {
    const __m512d x = hval(c + j, v ? v + j : nullptr, m8(n - j));
    a2 = _mm512_min_pd(a2, _mm512_max_pd(a1, x));
    a1 = _mm512_min_pd(a1, x);
  }
  auto merge = [](__m512d& x1, __m512d& x2, __m512d y1, __m512d y2) {
    x2 = _mm512_min_pd(_mm512_max_pd(x1, y1), _mm512_min_pd(x2, y2));
    x1 = _mm512_min_pd(x1, y1);
  };
  merge(a1, a2, b1, b2);
  merge(a1, a2, _mm512_shuffle_f64x2(a1, a1, 0x4E), _mm512_shuffle_f64x2(a2, a2, 0x4E));
  merge(a1, a2, _mm512_shuffle_f64x2(a1, a1, 0xB1), _mm512_shuffle_f64x2(a2, a2, 0xB1));
  merge(a1, a2, _mm512_permute_pd(a1, 0x55), _mm512_permute_pd(a2, 0x55));
  double u1 = _mm512_cvtsd_f64(a1), u2 = _mm512_cvtsd_f64(a2);
  int64_t j1 = -1, j2 = -1;
  const __m512d t1 = _mm512_set1_pd(u1), t2 = _mm512_set1_pd(u2);
  const bool want2 = n > 1;
  for (j = 0; j < n && (j1 < 0 || (want2 && j2 < 0)); j += 8) {
    const __mmask8 k = m8(n - j);
    const __m512d h = hval(c + j, v ? v + j : nullptr, k);
    unsigned e1 = _mm512_mask_cmp_pd_mask(k, h, t1, _CMP_EQ_OQ);
    unsigned e2 = _mm512_mask_cmp_pd_mask(k, h, t2, _CMP_EQ_OQ);
    if (j1 < 0 && e1) {
      const int l = __builtin_ctz(e1);
      j1 = j + l;
      e2 &= ~(1u << l);
    }
    if (want2 && j2 < 0 && e2) j2 = j + __builtin_ctz(e2);
  }
  // The values at the indices (a -0.0 and a +0.0 are equal minima; the
  // reference returns the first one's).
  if (j1 >= 0) u1 = v ? c[j1] - v[j1] : c[j1];
  u2 = j2 >= 0 ? (v ? c[j2] - v[j2] : c[j2]) : HUGE_VAL;
  *u1o = u1;
  *j1o = j1;
  *u2o = u2;
  *j2o = j2;
}

void col_min(const double* c, int64_t n, double row, double* colmin, double* colarg) {
  const __m512d r = _mm512_set1_pd(row);
  for (int64_t j = 0; j < n; j += 8) {
    const __mmask8 k = m8(n - j);
    const __m512d cv = _mm512_maskz_loadu_pd(k, c + j), cm = _mm512_maskz_loadu_pd(k, colmin + j);
    const __mmask8 lt = _mm512_mask_cmp_pd_mask(k, cv, cm, _CMP_LT_OQ);
    _mm512_mask_storeu_pd(colmin + j, lt, cv);
    _mm512_mask_storeu_pd(colarg + j, lt, r);
  }
}

// lap_relax: the masked update, then the minimum of d + mask and one pass
// for its first index.
double lap_relax(const double* c, const double* v, double u1, int64_t n, const double* mask, double* d,
                 int32_t* pred, int32_t row, int64_t* arg) {
  const __m512d uv = _mm512_set1_pd(u1), zero = _mm512_setzero_pd();
  const __m256i rv = _mm256_set1_epi32(row);
  __m512d best = _mm512_set1_pd(HUGE_VAL);
  for (int64_t j = 0; j < n; j += 8) {
    const __mmask8 k = m8(n - j);
    const __m512d mk = _mm512_maskz_loadu_pd(k, mask + j);
    const __m512d h =
        _mm512_sub_pd(_mm512_sub_pd(_mm512_maskz_loadu_pd(k, c + j), _mm512_maskz_loadu_pd(k, v + j)), uv);
    const __m512d dv = _mm512_maskz_loadu_pd(k, d + j);
    const __mmask8 upd = _mm512_mask_cmp_pd_mask(_mm512_mask_cmp_pd_mask(k, mk, zero, _CMP_EQ_OQ), h, dv, _CMP_LT_OQ);
    const __m512d dn = _mm512_mask_mov_pd(dv, upd, h);
    if (upd) {
      _mm512_mask_storeu_pd(d + j, upd, h);
      _mm256_mask_storeu_epi32(pred + j, upd, rv);
    }
    best = _mm512_mask_min_pd(best, k, best, _mm512_add_pd(dn, mk));
  }
  const double b = _mm512_reduce_min_pd(best);
  *arg = -1;
  if (!(b < HUGE_VAL)) return b;
  const __m512d bb = _mm512_set1_pd(b);
  for (int64_t j = 0; j < n; j += 8) {
    const __mmask8 k = m8(n - j);
    const unsigned e = _mm512_mask_cmp_pd_mask(
        k, _mm512_add_pd(_mm512_maskz_loadu_pd(k, d + j), _mm512_maskz_loadu_pd(k, mask + j)), bb, _CMP_EQ_OQ);
    if (e) {
      *arg = j + __builtin_ctz(e);
      break;
    }
  }
  return b;
}

namespace {

// Packs of the pricing kernels (double x 8, float x 16).
struct PackD {
  using T = double;
  using V = __m512d;
  using M = __mmask8;
  static constexpr int L = 8;
  static M tail(int64_t left) { return m8(left); }
  static V load(const T* p) { return _mm512_loadu_pd(p); }
  // Lanes of k from p, `fill` elsewhere.
  static V load(const T* p, M k, T fill) { return _mm512_mask_loadu_pd(_mm512_set1_pd(fill), k, p); }
  static V set1(T x) { return _mm512_set1_pd(x); }
  static V sub(V a, V b) { return _mm512_sub_pd(a, b); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V min(V a, V b) { return _mm512_min_pd(a, b); }
  static unsigned eq(V a, V b) { return _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ); }
  static unsigned eq(M k, V a, V b) { return _mm512_mask_cmp_pd_mask(k, a, b, _CMP_EQ_OQ); }
  static T hmin(V v) { return _mm512_reduce_min_pd(v); }
  static void store(T* p, V v) { _mm512_store_pd(p, v); }
  static V loada(const T* p) { return _mm512_load_pd(p); }
};
struct PackF {
  using T = float;
  using V = __m512;
  using M = __mmask16;
  static constexpr int L = 16;
  static M tail(int64_t left) { return m16(left); }
  static V load(const T* p) { return _mm512_loadu_ps(p); }
  static V load(const T* p, M k, T fill) { return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), k, p); }
  static V set1(T x) { return _mm512_set1_ps(x); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static unsigned eq(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static unsigned eq(M k, V a, V b) { return _mm512_mask_cmp_ps_mask(k, a, b, _CMP_EQ_OQ); }
  static T hmin(V v) { return _mm512_reduce_min_ps(v); }
  static void store(T* p, V v) { _mm512_store_ps(p, v); }
  static V loada(const T* p) { return _mm512_load_ps(p); }
};

constexpr int kRows = 32;

// Rows of at most NP packs: pj stays in registers (c beyond m reads +inf).
// buf[r] = per-lane minima of fl(c - pj) of row r0 + r, plus pi.
template <class P, int NP>
void rows_short(const typename P::T* C, int64_t ldc, int64_t m, const typename P::T* pi, const typename P::T* pj,
                int64_t r0, int cnt, typename P::T* buf) {
  using T = typename P::T;
  using V = typename P::V;
  constexpr int L = P::L;
  const T inf_s = static_cast<T>(HUGE_VAL);
  const typename P::M kt = P::tail(m - (NP - 1) * L);
  V q[NP];
#pragma GCC unroll 8
  for (int t = 0; t < NP - 1; ++t) q[t] = P::load(pj + t * L);
  q[NP - 1] = P::load(pj + (NP - 1) * L, kt, T(0));
  for (int r = 0; r < cnt; ++r) {
    const T* c = C + (r0 + r) * ldc;
    // Two interleaved chains (the loop is unrolled: everything in registers).
    V a0 = P::sub(P::load(c + (NP - 1) * L, kt, inf_s), q[NP - 1]), a1 = a0;
#pragma GCC unroll 8
    for (int t = 0; t < NP - 1; ++t) {
      const V x = P::sub(P::load(c + t * L), q[t]);
      if (t & 1) a1 = P::min(a1, x);
      else a0 = P::min(a0, x);
    }
    P::store(buf + L * r, P::add(P::min(a0, a1), P::set1(pi[r0 + r])));
  }
}

template <class P>
void rows_long(const typename P::T* C, int64_t ldc, int64_t m, const typename P::T* pi, const typename P::T* pj,
               int64_t r0, int cnt, typename P::T* buf) {
  using T = typename P::T;
  using V = typename P::V;
  constexpr int L = P::L;
  const T inf_s = static_cast<T>(HUGE_VAL);
  const V inf = P::set1(inf_s);
  for (int r = 0; r < cnt; ++r) {
    const T* c = C + (r0 + r) * ldc;
    V a0 = inf, a1 = inf, a2 = inf, a3 = inf;
    int64_t j = 0;
    for (; j + 4 * L <= m; j += 4 * L) {
      a0 = P::min(a0, P::sub(P::load(c + j), P::load(pj + j)));
      a1 = P::min(a1, P::sub(P::load(c + j + L), P::load(pj + j + L)));
      a2 = P::min(a2, P::sub(P::load(c + j + 2 * L), P::load(pj + j + 2 * L)));
      a3 = P::min(a3, P::sub(P::load(c + j + 3 * L), P::load(pj + j + 3 * L)));
    }
    for (; j < m; j += L) {
      const typename P::M k = P::tail(m - j);
      a0 = P::min(a0, P::sub(P::load(c + j, k, inf_s), P::load(pj + j, k, T(0))));
    }
    P::store(buf + L * r, P::add(P::min(P::min(a0, a1), P::min(a2, a3)), P::set1(pi[r0 + r])));
  }
}

// Pricing over rows (as emd_avx2.cc): each row's lane minima of fl(c - pj)
// plus pi_i to a buffer (rounding is monotone, so the row minimum of
// fl(fl(c - pj) + pi) is fl(min fl(c - pj)) + pi), the minimum over the
// rows, the first row holding it, then one pass over that row for the first
// column.  Rows in groups of 32.
template <class P>
typename P::T price_rows_impl(const typename P::T* C, int64_t ldc, int64_t m, const typename P::T* pi,
                              const typename P::T* pj, int64_t i0, int64_t nrows, int64_t* arg) {
  using T = typename P::T;
  using V = typename P::V;
  constexpr int L = P::L;
  alignas(64) T buf[kRows * L];
  const T inf_s = static_cast<T>(HUGE_VAL);
  const V inf = P::set1(inf_s);
  T best = inf_s;
  int64_t row = -1;
  const int64_t np = (m + L - 1) / L;
  for (int64_t r0 = i0; r0 < i0 + nrows; r0 += kRows) {
    const int cnt = static_cast<int>(i0 + nrows - r0 < kRows ? i0 + nrows - r0 : kRows);
    switch (np) {
      case 1: rows_short<P, 1>(C, ldc, m, pi, pj, r0, cnt, buf); break;
      case 2: rows_short<P, 2>(C, ldc, m, pi, pj, r0, cnt, buf); break;
      case 3: rows_short<P, 3>(C, ldc, m, pi, pj, r0, cnt, buf); break;
      case 4: rows_short<P, 4>(C, ldc, m, pi, pj, r0, cnt, buf); break;
      case 5: rows_short<P, 5>(C, ldc, m, pi, pj, r0, cnt, buf); break;
      case 6: rows_short<P, 6>(C, ldc, m, pi, pj, r0, cnt, buf); break;
      case 7: rows_short<P, 7>(C, ldc, m, pi, pj, r0, cnt, buf); break;
      case 8: rows_short<P, 8>(C, ldc, m, pi, pj, r0, cnt, buf); break;
      default: rows_long<P>(C, ldc, m, pi, pj, r0, cnt, buf); break;
    }
    V mn = inf;
    for (int r = 0; r < cnt; ++r) mn = P::min(mn, P::loada(buf + L * r));
    const T b = P::hmin(mn);
    if (b < best) {
      best = b;
      const V bb = P::set1(b);
      int r = 0;
      while (!P::eq(P::loada(buf + L * r), bb)) ++r;
      row = r0 + r;
    }
  }
  *arg = -1;
  if (row < 0) return best;
  const T* c = C + row * ldc;
  const V p = P::set1(pi[row]), bb = P::set1(best);
  for (int64_t j = 0; j < m; j += L) {
    const typename P::M k = P::tail(m - j);
    const unsigned e = P::eq(k, P::add(P::sub(P::load(c + j, k, inf_s), P::load(pj + j, k, T(0))), p), bb);
    if (e) {
      *arg = row * m + j + __builtin_ctz(e);
      break;
    }
  }
  return best;
}

}  // namespace

double price_rows(const double* C, int64_t ldc, int64_t m, const double* pi, const double* pj, int64_t i0,
                  int64_t nrows, int64_t* arg) {
  return price_rows_impl<PackD>(C, ldc, m, pi, pj, i0, nrows, arg);
}

float price_rows_f32(const float* C, int64_t ldc, int64_t m, const float* pi, const float* pj, int64_t i0,
                     int64_t nrows, int64_t* arg) {
  return price_rows_impl<PackF>(C, ldc, m, pi, pj, i0, nrows, arg);
}

void to_f32(const double* C, int64_t ldc, int64_t n, int64_t m, float* Cf, int64_t ldf) {
  for (int64_t i = 0; i < n; ++i) {
    const double* c = C + i * ldc;
    float* o = Cf + i * ldf;
    int64_t j = 0;
    for (; j + 16 <= m; j += 16)
      _mm512_storeu_ps(o + j, _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(_mm512_loadu_pd(c + j))),
                                                 _mm512_cvtpd_ps(_mm512_loadu_pd(c + j + 8)), 1));
    for (; j < m; j += 8) {
      const __mmask8 k = m8(m - j);
      _mm256_mask_storeu_ps(o + j, k, _mm512_cvtpd_ps(_mm512_maskz_loadu_pd(k, c + j)));
    }
  }
}

void toc_keys(const double* C, int64_t ldc, int64_t n, int64_t m, int ib, double* rmin, double* cmin,
              uint32_t* KT, uint32_t* KTT) {
  const uint32_t low = (uint32_t(1) << ib) - 1;
  const __m512d inf = _mm512_set1_pd(HUGE_VAL);
  for (int64_t j = 0; j < m; j += 8) _mm512_mask_storeu_pd(cmin + j, m8(m - j), inf);
  for (int64_t i = 0; i < n; ++i) {
    const double* c = C + i * ldc;
    __m512d r = inf;
    for (int64_t j = 0; j < m; j += 8) {
      const __mmask8 k = m8(m - j);
      const __m512d x = _mm512_mask_loadu_pd(inf, k, c + j);
      r = _mm512_min_pd(x, r);
      // min(x, cmin): cmin on ties, the first row's (signed zeros).
      _mm512_mask_storeu_pd(cmin + j, k, _mm512_min_pd(x, _mm512_maskz_loadu_pd(k, cmin + j)));
    }
    rmin[i] = first_zero(c, m, _mm512_reduce_min_pd(r));
  }
  const __m512i keep = _mm512_set1_epi32(static_cast<int>(~low));
  // T is clamped to FLT_MAX (huge costs): keys stay finite, penalties too.
  const __m512d fmax = _mm512_set1_pd(FLT_MAX);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  // KT without the index bits first: its transpose takes those values.
  for (int64_t i = 0; i < n; ++i) {
    const double* c = C + i * ldc;
    uint32_t* kt = KT + i * m;
    const __m512d ri = _mm512_set1_pd(rmin[i]);
    for (int64_t j = 0; j < m; j += 8) {
      const __mmask8 k = m8(m - j);
      const __m512d x = _mm512_maskz_loadu_pd(k, c + j);
      const __m512d t =
          _mm512_min_pd(_mm512_add_pd(_mm512_sub_pd(x, ri), _mm512_sub_pd(x, _mm512_maskz_loadu_pd(k, cmin + j))), fmax);
      const __m256i f = _mm256_castps_si256(_mm512_cvtpd_ps(t));
      _mm256_mask_storeu_epi32(kt + j, k, _mm256_and_si256(f, _mm512_castsi512_si256(keep)));
    }
  }
  // KTT = KT^T | i by 8 x 8 blocks in (256-bit) registers, the edges entry by entry.
  const __m256i lane8 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const int64_t n8 = n & ~int64_t(7), m8e = m & ~int64_t(7);
  for (int64_t i = 0; i < n8; i += 8) {
    const __m256i iv = _mm256_add_epi32(lane8, _mm256_set1_epi32(static_cast<int>(i)));
    for (int64_t j = 0; j < m8e; j += 8) {
      __m256 r[8];
      for (int q = 0; q < 8; ++q)
        r[q] = _mm256_castsi256_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(KT + (i + q) * m + j)));
      const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
      const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
      const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
      const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
      const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
      const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
      const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
      const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      const __m256 o[8] = {_mm256_permute2f128_ps(s0, s4, 0x20), _mm256_permute2f128_ps(s1, s5, 0x20),
                           _mm256_permute2f128_ps(s2, s6, 0x20), _mm256_permute2f128_ps(s3, s7, 0x20),
                           _mm256_permute2f128_ps(s0, s4, 0x31), _mm256_permute2f128_ps(s1, s5, 0x31),
                           _mm256_permute2f128_ps(s2, s6, 0x31), _mm256_permute2f128_ps(s3, s7, 0x31)};
      for (int q = 0; q < 8; ++q)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(KTT + (j + q) * n + i),
                            _mm256_or_si256(_mm256_castps_si256(o[q]), iv));
    }
    for (int64_t j = m8e; j < m; ++j)
      for (int q = 0; q < 8; ++q) KTT[j * n + i + q] = KT[(i + q) * m + j] | uint32_t(i + q);
  }
  for (int64_t i = n8; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) KTT[j * n + i] = KT[i * m + j] | uint32_t(i);
  for (int64_t i = 0; i < n; ++i) {
    uint32_t* kt = KT + i * m;
    for (int64_t j = 0; j < m; j += 16) {
      const __mmask16 k = m16(m - j);
      const __m512i x = _mm512_maskz_loadu_epi32(k, kt + j);
      _mm512_mask_storeu_epi32(kt + j, k,
                               _mm512_or_si512(x, _mm512_add_epi32(lane, _mm512_set1_epi32(static_cast<int>(j)))));
    }
  }
}

// Per lane the two smallest (m2 = min(m2, max(m1, x)), m1 = min(m1, x)),
// two independent pairs, merged, then across the lanes.  Keys are distinct
// apart from the masked ~0u, so the pair is the reference's.
void two_min(const uint32_t* key, const uint32_t* mask, int64_t len, uint32_t* k1, uint32_t* k2) {
  const __m512i ones = _mm512_set1_epi32(-1);
  __m512i a1 = ones, a2 = ones, b1 = ones, b2 = ones;
  int64_t j = 0;
  for (; j + 32 <= len; j += 32) {
    const __m512i x = _mm512_or_si512(_mm512_loadu_si512(key + j), _mm512_loadu_si512(mask + j));
    const __m512i y = _mm512_or_si512(_mm512_loadu_si512(key + j + 16), _mm512_loadu_si512(mask + j + 16));
    a2 = _mm512_min_epu32(a2, _mm512_max_epu32(a1, x));
    a1 = _mm512_min_epu32(a1, x);
    b2 = _mm512_min_epu32(b2, _mm512_max_epu32(b1, y));
    b1 = _mm512_min_epu32(b1, y);
  }
  for (; j < len; j += 16) {
    const __mmask16 k = m16(len - j);
    const __m512i x = _mm512_or_si512(_mm512_mask_loadu_epi32(ones, k, key + j), _mm512_maskz_loadu_epi32(k, mask + j));
    a2 = _mm512_min_epu32(a2, _mm512_max_epu32(a1, x));
    a1 = _mm512_min_epu32(a1, x);
  }
  auto merge = [](__m512i& x1, __m512i& x2, __m512i y1, __m512i y2) {
    x2 = _mm512_min_epu32(_mm512_max_epu32(x1, y1), _mm512_min_epu32(x2, y2));
    x1 = _mm512_min_epu32(x1, y1);
  };
  merge(a1, a2, b1, b2);
  merge(a1, a2, _mm512_shuffle_i64x2(a1, a1, 0x4E), _mm512_shuffle_i64x2(a2, a2, 0x4E));
  merge(a1, a2, _mm512_shuffle_i64x2(a1, a1, 0xB1), _mm512_shuffle_i64x2(a2, a2, 0xB1));
  merge(a1, a2, _mm512_shuffle_epi32(a1, _MM_PERM_BADC), _mm512_shuffle_epi32(a2, _MM_PERM_BADC));
  merge(a1, a2, _mm512_shuffle_epi32(a1, _MM_PERM_CDAB), _mm512_shuffle_epi32(a2, _MM_PERM_CDAB));
  *k1 = static_cast<uint32_t>(_mm512_cvtsi512_si32(a1));
  *k2 = static_cast<uint32_t>(_mm512_cvtsi512_si32(a2));
}

int64_t argmax(const float* p, int64_t len) {
  const __m512 ninf = _mm512_set1_ps(-HUGE_VALF);
  __m512 a = ninf, b = ninf;
  int64_t j = 0;
  for (; j + 32 <= len; j += 32) {
    a = _mm512_max_ps(a, _mm512_loadu_ps(p + j));
    b = _mm512_max_ps(b, _mm512_loadu_ps(p + j + 16));
  }
  for (; j < len; j += 16) a = _mm512_max_ps(a, _mm512_mask_loadu_ps(ninf, m16(len - j), p + j));
  const __m512 t = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_max_ps(a, b)));
  for (j = 0; j < len; j += 16) {
    const __mmask16 k = m16(len - j);
    const unsigned e = _mm512_mask_cmp_ps_mask(k, _mm512_maskz_loadu_ps(k, p + j), t, _CMP_EQ_OQ);
    if (e) return j + __builtin_ctz(e);
  }
  return 0;
}

void match2(const int32_t* l1, const int32_t* l2, int64_t len, int32_t t, uint64_t* bits) {
  for (int64_t w = 0; w * 64 < len; ++w) bits[w] = 0;
  const __m512i tv = _mm512_set1_epi32(t);
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 k = m16(len - j);
    const __mmask16 e = _mm512_mask_cmpeq_epi32_mask(k, _mm512_maskz_loadu_epi32(k, l1 + j), tv) |
                        _mm512_mask_cmpeq_epi32_mask(k, _mm512_maskz_loadu_epi32(k, l2 + j), tv);
    bits[j >> 6] |= uint64_t(e) << (j & 63);
  }
}

// pi + sigma under the bit mask (pi itself elsewhere, so a -0.0 stays -0.0
// as in the reference); 8 nodes per step straight from the bit words.
void masked_add(double* pi, float* pf, const uint64_t* bits, int64_t len, double sigma) {
  const __m512d sg = _mm512_set1_pd(sigma);
  for (int64_t v = 0; v < len; v += 8) {
    const __mmask8 k = m8(len - v);
    const __mmask8 b = static_cast<__mmask8>((bits[v >> 6] >> (v & 63)) & 0xff) & k;
    const __m512d x0 = _mm512_maskz_loadu_pd(k, pi + v);
    const __m512d x = _mm512_mask_add_pd(x0, b, x0, sg);
    _mm512_mask_storeu_pd(pi + v, b, x);
    if (pf) _mm256_mask_storeu_ps(pf + v, k, _mm512_cvtpd_ps(x));
  }
}

}  // namespace emd_avx512
}  // namespace ot
}  // namespace sc
