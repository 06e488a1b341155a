// AVX2 kernels of the exact solvers (compiled with -mavx2 -mfma,
// SC_ISA=isa_avx2); contracts in kernel_api.h, oracles in emd_kernels_ref.cc.
// No std:: templates here: an inline template instantiated in this TU could
// be picked by the linker for a generic one.  Reduced costs and keys use the
// reference's operation order (no FMA contraction is possible: no products),
// so every level returns the same minima, the same arcs and the same keys.
#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "emd_kernels.h"
#include "scalecore/common/simd_avx2.h"

namespace sc {
namespace ot {
namespace emd_avx2 {

namespace {

inline double hmin4d(__m256d v) {
  __m128d x = _mm_min_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  x = _mm_min_sd(x, _mm_unpackhi_pd(x, x));
  return _mm_cvtsd_f64(x);
}

inline float hmin8f(__m256 v) {
  __m128 x = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_min_ps(x, _mm_movehl_ps(x, x));
  x = _mm_min_ss(x, _mm_shuffle_ps(x, x, 1));
  return _mm_cvtss_f32(x);
}

inline float hmax8f(__m256 v) {
  __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_max_ps(x, _mm_movehl_ps(x, x));
  x = _mm_max_ss(x, _mm_shuffle_ps(x, x, 1));
  return _mm_cvtss_f32(x);
}

}  // namespace

// Minimum and second minimum of h = c - v (kernel_api.h): the two smallest
// values of the multiset by a per-lane min/max network (two independent
// pairs, then the lanes), then one pass for the first index of each (j2 the
// first index other than j1 attaining u2, so equal minima give both).
void row_min2(const double* c, const double* v, int64_t n, double* u1o, int64_t* j1o, double* u2o, int64_t* j2o) {
  const __m256d inf = _mm256_set1_pd(HUGE_VAL);
  __m256d a1 = inf, a2 = inf, b1 = inf, b2 = inf;
  int64_t j = 0;
  if (v) {
    for (; j + 8 <= n; j += 8) {
      const __m256d x = _mm256_sub_pd(_mm256_loadu_pd(c + j), _mm256_loadu_pd(v + j));
      const __m256d y = _mm256_sub_pd(_mm256_loadu_pd(c + j + 4), _mm256_loadu_pd(v + j + 4));
      a2 = _mm256_min_pd(a2, _mm256_max_pd(a1, x));
      a1 = _mm256_min_pd(a1, x);
      b2 = _mm256_min_pd(b2, _mm256_max_pd(b1, y));
      b1 = _mm256_min_pd(b1, y);
    }
  } else {
    for (; j + 8 <= n; j += 8) {
      const __m256d x = _mm256_loadu_pd(c + j), y = _mm256_loadu_pd(c + j + 4);
      a2 = _mm256_min_pd(a2, _mm256_max_pd(a1, x));
      a1 = _mm256_min_pd(a1, x);
      b2 = _mm256_min_pd(b2, _mm256_max_pd(b1, y));
      b1 = _mm256_min_pd(b1, y);
    }
  }
  auto merge = [](__m256d& x1, __m256d& x2, __m256d y1, __m256d y2) {
    x2 = _mm256_min_pd(_mm256_max_pd(x1, y1), _mm256_min_pd(x2, y2));
    x1 = _mm256_min_pd(x1, y1);
  };
  merge(a1, a2, b1, b2);
  merge(a1, a2, _mm256_permute2f128_pd(a1, a1, 0x01), _mm256_permute2f128_pd(a2, a2, 0x01));
  merge(a1, a2, _mm256_permute_pd(a1, 0x5), _mm256_permute_pd(a2, 0x5));
  double u1 = _mm256_cvtsd_f64(a1), u2 = _mm256_cvtsd_f64(a2);
  for (; j < n; ++j) {
    const double h = v ? c[j] - v[j] : c[j];
    u2 = h < u2 ? (h < u1 ? u1 : h) : u2;
    u1 = h < u1 ? h : u1;
  }
  int64_t j1 = -1, j2 = -1;
  const __m256d t1 = _mm256_set1_pd(u1), t2 = _mm256_set1_pd(u2);
  const bool want2 = n > 1;
  for (j = 0; j + 4 <= n && (j1 < 0 || (want2 && j2 < 0)); j += 4) {
    const __m256d h = v ? _mm256_sub_pd(_mm256_loadu_pd(c + j), _mm256_loadu_pd(v + j)) : _mm256_loadu_pd(c + j);
    unsigned e1 = static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(h, t1, _CMP_EQ_OQ)));
    unsigned e2 = static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(h, t2, _CMP_EQ_OQ)));
    if (j1 < 0 && e1) {
      const int l = __builtin_ctz(e1);
      j1 = j + l;
      e2 &= ~(1u << l);
    }
    if (want2 && j2 < 0 && e2) j2 = j + __builtin_ctz(e2);
  }
  for (; j < n && (j1 < 0 || (want2 && j2 < 0)); ++j) {
    const double h = v ? c[j] - v[j] : c[j];
    if (j1 < 0 && h == u1) j1 = j;
    else if (want2 && j2 < 0 && h == u2) j2 = j;
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
  const F64x4 r(row);
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const F64x4 cv = F64x4::load(c + j), cm = F64x4::load(colmin + j);
    const M64x4 lt = cv < cm;
    select(lt, cv, cm).store(colmin + j);
    select(lt, r, F64x4::load(colarg + j)).store(colarg + j);
  }
  for (; j < n; ++j)
    if (c[j] < colmin[j]) {
      colmin[j] = c[j];
      colarg[j] = row;
    }
}

// lap_relax: the masked update, then the minimum of d + mask (lanes,
// reduced) and one pass for its first index.
double lap_relax(const double* c, const double* v, double u1, int64_t n, const double* mask, double* d,
                 int32_t* pred, int32_t row, int64_t* arg) {
  const __m256d uv = _mm256_set1_pd(u1), zero = _mm256_setzero_pd();
  const __m128i rv = _mm_set1_epi32(row);
  __m256d best = _mm256_set1_pd(HUGE_VAL);
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const __m256d mk = _mm256_loadu_pd(mask + j);
    const __m256d h = _mm256_sub_pd(_mm256_sub_pd(_mm256_loadu_pd(c + j), _mm256_loadu_pd(v + j)), uv);
    const __m256d dv = _mm256_loadu_pd(d + j);
    const __m256d upd = _mm256_and_pd(_mm256_cmp_pd(mk, zero, _CMP_EQ_OQ), _mm256_cmp_pd(h, dv, _CMP_LT_OQ));
    const __m256d dn = _mm256_blendv_pd(dv, h, upd);
    if (_mm256_movemask_pd(upd)) {
      _mm256_storeu_pd(d + j, dn);
      // The 4 lane masks (64-bit) -> 4 x 32-bit for pred.
      const __m128i m32 = _mm_castps_si128(_mm256_castps256_ps128(
          _mm256_permutevar8x32_ps(_mm256_castpd_ps(upd), _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7))));
      const __m128i pv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pred + j));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(pred + j), _mm_blendv_epi8(pv, rv, m32));
    }
    best = _mm256_min_pd(best, _mm256_add_pd(dn, mk));
  }
  double b = hmin4d(best);
  for (int64_t q = j; q < n; ++q) {
    if (mask[q] == 0) {
      const double h = (c[q] - v[q]) - u1;
      if (h < d[q]) {
        d[q] = h;
        pred[q] = row;
      }
    }
    const double x = d[q] + mask[q];
    b = x < b ? x : b;
  }
  *arg = -1;
  if (!(b < HUGE_VAL)) return b;
  const __m256d bb = _mm256_set1_pd(b);
  for (j = 0; j + 4 <= n; j += 4) {
    const int mk = _mm256_movemask_pd(
        _mm256_cmp_pd(_mm256_add_pd(_mm256_loadu_pd(d + j), _mm256_loadu_pd(mask + j)), bb, _CMP_EQ_OQ));
    if (mk) {
      *arg = j + __builtin_ctz(mk);
      return b;
    }
  }
  for (; j < n; ++j)
    if (d[j] + mask[j] == b) {
      *arg = j;
      break;
    }
  return b;
}

namespace {

// Packs of the pricing kernels (double x 4, float x 8).
struct PackD {
  using T = double;
  using V = __m256d;
  static constexpr int L = 4;
  static V load(const T* p) { return _mm256_loadu_pd(p); }
  static V set1(T x) { return _mm256_set1_pd(x); }
  static V sub(V a, V b) { return _mm256_sub_pd(a, b); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V min(V a, V b) { return _mm256_min_pd(a, b); }
  static int eq(V a, V b) { return _mm256_movemask_pd(_mm256_cmp_pd(a, b, _CMP_EQ_OQ)); }
  static T hmin(V v) { return hmin4d(v); }
  static void store(T* p, V v) { _mm256_store_pd(p, v); }
  static V loada(const T* p) { return _mm256_load_pd(p); }
};
struct PackF {
  using T = float;
  using V = __m256;
  static constexpr int L = 8;
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  static V set1(T x) { return _mm256_set1_ps(x); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static int eq(V a, V b) { return _mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_EQ_OQ)); }
  static T hmin(V v) { return hmin8f(v); }
  static void store(T* p, V v) { _mm256_store_ps(p, v); }
  static V loada(const T* p) { return _mm256_load_ps(p); }
};

// Pricing over rows: each row's lane minima of fl(c - pj), plus pi_i, go to
// a buffer (rounding is monotone: the row minimum of fl(fl(c - pj) + pi) is
// fl(its minimum of fl(c - pj)) + pi); then the minimum over the rows, the
// first row holding it, and one pass over that row for the first column.
// Rows in groups of 32; no loop-carried selection chain.
template <class P>
typename P::T price_rows_impl(const typename P::T* C, int64_t ldc, int64_t m, const typename P::T* pi,
                              const typename P::T* pj, int64_t i0, int64_t nrows, int64_t* arg) {
  using T = typename P::T;
  using V = typename P::V;
  constexpr int L = P::L, kRows = 32;
  alignas(32) T buf[kRows * L];
  const T inf_s = static_cast<T>(HUGE_VAL);
  const V inf = P::set1(inf_s);
  T best = inf_s;
  int64_t row = -1;
  for (int64_t r0 = i0; r0 < i0 + nrows; r0 += kRows) {
    const int cnt = static_cast<int>(i0 + nrows - r0 < kRows ? i0 + nrows - r0 : kRows);
    if (m == 8 * L) {
      // Rows of 8 packs (64 floats, 32 doubles): pj stays in registers.
      V q[8];
      for (int t = 0; t < 8; ++t) q[t] = P::load(pj + t * L);
      for (int r = 0; r < cnt; ++r) {
        const T* c = C + (r0 + r) * ldc;
        const V x0 = P::min(P::sub(P::load(c), q[0]), P::sub(P::load(c + L), q[1]));
        const V x1 = P::min(P::sub(P::load(c + 2 * L), q[2]), P::sub(P::load(c + 3 * L), q[3]));
        const V x2 = P::min(P::sub(P::load(c + 4 * L), q[4]), P::sub(P::load(c + 5 * L), q[5]));
        const V x3 = P::min(P::sub(P::load(c + 6 * L), q[6]), P::sub(P::load(c + 7 * L), q[7]));
        P::store(buf + L * r, P::add(P::min(P::min(x0, x1), P::min(x2, x3)), P::set1(pi[r0 + r])));
      }
    } else {
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
        for (; j + L <= m; j += L) a0 = P::min(a0, P::sub(P::load(c + j), P::load(pj + j)));
        if (j < m) {
          alignas(32) T t[L];
          for (int q = 0; q < L; ++q) t[q] = j + q < m ? c[j + q] - pj[j + q] : inf_s;
          a1 = P::min(a1, P::loada(t));
        }
        P::store(buf + L * r, P::add(P::min(P::min(a0, a1), P::min(a2, a3)), P::set1(pi[r0 + r])));
      }
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
  int64_t j = 0;
  for (; j + L <= m; j += L) {
    const int mask = P::eq(P::add(P::sub(P::load(c + j), P::load(pj + j)), p), bb);
    if (mask) {
      *arg = row * m + j + __builtin_ctz(mask);
      return best;
    }
  }
  for (; j < m; ++j)
    if ((c[j] - pj[j]) + pi[row] == best) {
      *arg = row * m + j;
      break;
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
    for (; j + 8 <= m; j += 8)
      _mm256_storeu_ps(o + j, _mm256_set_m128(_mm256_cvtpd_ps(_mm256_loadu_pd(c + j + 4)),
                                              _mm256_cvtpd_ps(_mm256_loadu_pd(c + j))));
    for (; j < m; ++j) o[j] = static_cast<float>(c[j]);
  }
}

void toc_keys(const double* C, int64_t ldc, int64_t n, int64_t m, int ib, double* rmin, double* cmin,
              uint32_t* KT, uint32_t* KTT) {
  const uint32_t low = (uint32_t(1) << ib) - 1;
  for (int64_t j = 0; j < m; ++j) cmin[j] = HUGE_VAL;
  for (int64_t i = 0; i < n; ++i) {
    const double* c = C + i * ldc;
    __m256d r = _mm256_set1_pd(HUGE_VAL);
    int64_t j = 0;
    for (; j + 4 <= m; j += 4) {
      const __m256d x = _mm256_loadu_pd(c + j);
      r = _mm256_min_pd(x, r);
      // min(x, cmin): cmin on ties, the first row's (signed zeros).
      _mm256_storeu_pd(cmin + j, _mm256_min_pd(x, _mm256_loadu_pd(cmin + j)));
    }
    double v = hmin4d(r);
    for (; j < m; ++j) {
      v = c[j] < v ? c[j] : v;
      cmin[j] = c[j] < cmin[j] ? c[j] : cmin[j];
    }
    // The first entry attaining the minimum, as the reference: only a zero
    // can differ (-0.0 against +0.0).
    if (v == 0)
      for (j = 0; j < m; ++j)
        if (c[j] == 0) {
          v = c[j];
          break;
        }
    rmin[i] = v;
  }
  const __m256i keep = _mm256_set1_epi32(static_cast<int>(~low));
  // T is clamped to FLT_MAX (huge costs): keys stay finite, penalties too.
  const __m256d fmax = _mm256_set1_pd(FLT_MAX);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  // KT without the index bits first: its transpose takes those values.
  for (int64_t i = 0; i < n; ++i) {
    const double* c = C + i * ldc;
    uint32_t* kt = KT + i * m;
    const __m256d ri = _mm256_set1_pd(rmin[i]);
    int64_t j = 0;
    for (; j + 8 <= m; j += 8) {
      const __m256d x0 = _mm256_loadu_pd(c + j), x1 = _mm256_loadu_pd(c + j + 4);
      const __m256d t0 = _mm256_min_pd(
          _mm256_add_pd(_mm256_sub_pd(x0, ri), _mm256_sub_pd(x0, _mm256_loadu_pd(cmin + j))), fmax);
      const __m256d t1 = _mm256_min_pd(
          _mm256_add_pd(_mm256_sub_pd(x1, ri), _mm256_sub_pd(x1, _mm256_loadu_pd(cmin + j + 4))), fmax);
      const __m256 f = _mm256_set_m128(_mm256_cvtpd_ps(t1), _mm256_cvtpd_ps(t0));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(kt + j), _mm256_and_si256(_mm256_castps_si256(f), keep));
    }
    for (; j < m; ++j) {
      const double td = (c[j] - rmin[i]) + (c[j] - cmin[j]);
      const float f = static_cast<float>(td < FLT_MAX ? td : FLT_MAX);
      uint32_t u;
      memcpy(&u, &f, sizeof u);
      kt[j] = u & ~low;
    }
  }
  // KTT = KT^T | i by 8 x 8 blocks in registers, the edges entry by entry.
  const int64_t n8 = n & ~int64_t(7), m8 = m & ~int64_t(7);
  for (int64_t i = 0; i < n8; i += 8) {
    const __m256i iv = _mm256_add_epi32(lane, _mm256_set1_epi32(static_cast<int>(i)));
    for (int64_t j = 0; j < m8; j += 8) {
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
    for (int64_t j = m8; j < m; ++j)
      for (int q = 0; q < 8; ++q) KTT[j * n + i + q] = KT[(i + q) * m + j] | uint32_t(i + q);
  }
  for (int64_t i = n8; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) KTT[j * n + i] = KT[i * m + j] | uint32_t(i);
  for (int64_t i = 0; i < n; ++i) {
    uint32_t* kt = KT + i * m;
    int64_t j = 0;
    for (; j + 8 <= m; j += 8) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kt + j));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(kt + j),
                          _mm256_or_si256(x, _mm256_add_epi32(lane, _mm256_set1_epi32(static_cast<int>(j)))));
    }
    for (; j < m; ++j) kt[j] |= uint32_t(j);
  }
}

// Per lane the two smallest (m2 = min(m2, max(m1, x)), m1 = min(m1, x)),
// two independent pairs, merged, then the lanes.  Keys are distinct apart
// from the masked ~0u, so the pair is the reference's.
void two_min(const uint32_t* key, const uint32_t* mask, int64_t len, uint32_t* k1, uint32_t* k2) {
  const __m256i ones = _mm256_set1_epi32(-1);
  __m256i a1 = ones, a2 = ones, b1 = ones, b2 = ones;
  int64_t j = 0;
  for (; j + 16 <= len; j += 16) {
    const __m256i x = _mm256_or_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(key + j)),
                                      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mask + j)));
    const __m256i y = _mm256_or_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(key + j + 8)),
                                      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mask + j + 8)));
    a2 = _mm256_min_epu32(a2, _mm256_max_epu32(a1, x));
    a1 = _mm256_min_epu32(a1, x);
    b2 = _mm256_min_epu32(b2, _mm256_max_epu32(b1, y));
    b1 = _mm256_min_epu32(b1, y);
  }
  for (; j + 8 <= len; j += 8) {
    const __m256i x = _mm256_or_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(key + j)),
                                      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mask + j)));
    a2 = _mm256_min_epu32(a2, _mm256_max_epu32(a1, x));
    a1 = _mm256_min_epu32(a1, x);
  }
  // Merge (a1, a2) with (b1, b2): the two smallest of four, a1 <= a2 and
  // b1 <= b2.  Then the same across lanes: halves, pairs, neighbours.
  auto merge = [](__m256i& x1, __m256i& x2, __m256i y1, __m256i y2) {
    x2 = _mm256_min_epu32(_mm256_max_epu32(x1, y1), _mm256_min_epu32(x2, y2));
    x1 = _mm256_min_epu32(x1, y1);
  };
  merge(a1, a2, b1, b2);
  merge(a1, a2, _mm256_permute2x128_si256(a1, a1, 0x01), _mm256_permute2x128_si256(a2, a2, 0x01));
  merge(a1, a2, _mm256_shuffle_epi32(a1, 0x4E), _mm256_shuffle_epi32(a2, 0x4E));
  merge(a1, a2, _mm256_shuffle_epi32(a1, 0xB1), _mm256_shuffle_epi32(a2, 0xB1));
  uint32_t v1 = static_cast<uint32_t>(_mm256_cvtsi256_si32(a1));
  uint32_t v2 = static_cast<uint32_t>(_mm256_cvtsi256_si32(a2));
  for (; j < len; ++j) {
    const uint32_t x = key[j] | mask[j];
    v2 = x < v2 ? (x < v1 ? v1 : x) : v2;
    v1 = x < v1 ? x : v1;
  }
  *k1 = v1;
  *k2 = v2;
}

int64_t argmax(const float* p, int64_t len) {
  const __m256 ninf = _mm256_set1_ps(-HUGE_VALF);
  __m256 a = ninf, b = ninf, c = ninf, d = ninf;
  int64_t j = 0;
  for (; j + 32 <= len; j += 32) {
    a = _mm256_max_ps(a, _mm256_loadu_ps(p + j));
    b = _mm256_max_ps(b, _mm256_loadu_ps(p + j + 8));
    c = _mm256_max_ps(c, _mm256_loadu_ps(p + j + 16));
    d = _mm256_max_ps(d, _mm256_loadu_ps(p + j + 24));
  }
  for (; j + 8 <= len; j += 8) a = _mm256_max_ps(a, _mm256_loadu_ps(p + j));
  float v = hmax8f(_mm256_max_ps(_mm256_max_ps(a, b), _mm256_max_ps(c, d)));
  for (int64_t q = j; q < len; ++q) v = p[q] > v ? p[q] : v;
  const __m256 t = _mm256_set1_ps(v);
  for (j = 0; j + 8 <= len; j += 8) {
    const int mk = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p + j), t, _CMP_EQ_OQ));
    if (mk) return j + __builtin_ctz(mk);
  }
  for (; j < len; ++j)
    if (p[j] == v) return j;
  return 0;
}

void match2(const int32_t* l1, const int32_t* l2, int64_t len, int32_t t, uint64_t* bits) {
  for (int64_t w = 0; w * 64 < len; ++w) bits[w] = 0;
  const __m256i tv = _mm256_set1_epi32(t);
  int64_t j = 0;
  for (; j + 8 <= len; j += 8) {
    const __m256i e =
        _mm256_or_si256(_mm256_cmpeq_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(l1 + j)), tv),
                        _mm256_cmpeq_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(l2 + j)), tv));
    const uint64_t mk = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(e)));
    bits[j >> 6] |= mk << (j & 63);
  }
  for (; j < len; ++j) bits[j >> 6] |= uint64_t((l1[j] == t) | (l2[j] == t)) << (j & 63);
}

// pi + sigma blended in where the bit is set (pi itself elsewhere, so a
// -0.0 stays -0.0 as in the reference); masks for 4 nodes from a table.
void masked_add(double* pi, float* pf, const uint64_t* bits, int64_t len, double sigma) {
  alignas(32) static const int64_t kMask[16][4] = {
      {0, 0, 0, 0},   {-1, 0, 0, 0},   {0, -1, 0, 0},   {-1, -1, 0, 0},   {0, 0, -1, 0},   {-1, 0, -1, 0},
      {0, -1, -1, 0}, {-1, -1, -1, 0}, {0, 0, 0, -1},   {-1, 0, 0, -1},   {0, -1, 0, -1},  {-1, -1, 0, -1},
      {0, 0, -1, -1}, {-1, 0, -1, -1}, {0, -1, -1, -1}, {-1, -1, -1, -1}};
  const __m256d sg = _mm256_set1_pd(sigma);
  int64_t v = 0;
  for (; v + 4 <= len; v += 4) {
    const unsigned b = static_cast<unsigned>((bits[v >> 6] >> (v & 63)) & 15);
    const __m256d mk = _mm256_load_pd(reinterpret_cast<const double*>(kMask[b]));
    const __m256d x0 = _mm256_loadu_pd(pi + v);
    const __m256d x = _mm256_blendv_pd(x0, _mm256_add_pd(x0, sg), mk);
    _mm256_storeu_pd(pi + v, x);
    if (pf) _mm_storeu_ps(pf + v, _mm256_cvtpd_ps(x));
  }
  for (; v < len; ++v) {
    if ((bits[v >> 6] >> (v & 63)) & 1) pi[v] += sigma;
    if (pf) pf[v] = static_cast<float>(pi[v]);
  }
}

}  // namespace emd_avx2
}  // namespace ot
}  // namespace sc
