// AVX2/FMA OT kernels (compiled with -mavx2 -mfma, SC_ISA=isa_avx2).  Every
// function has internal linkage and the tables are constant-initialised, so
// no AVX2 code can be picked by the linker for another TU.  Sums accumulate
// in double; float data are widened with vcvtps2pd.
#include <float.h>
#include <math.h>

#include "emd_kernels.h"
#include "scalecore/common/simd_avx2.h"
#include "scalecore/ot/cost_math.h"
#include "scalecore/ot/kernel_api.h"
#include "scalecore/ot/sinkhorn_math.h"

namespace sc {
namespace ot {
namespace {

// Widening helpers: 4 floats -> F64x4, and 4 doubles -> 4 floats.
inline F64x4 widen4(const float* p) { return F64x4(_mm256_cvtps_pd(_mm_loadu_ps(p))); }
inline F64x4 lo4(__m256 v) { return F64x4(_mm256_cvtps_pd(_mm256_castps256_ps128(v))); }
inline F64x4 hi4(__m256 v) { return F64x4(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))); }
inline F64x4 load4(const double* p) { return F64x4::load(p); }
inline F64x4 load4(const float* p) { return widen4(p); }

// ---------------------------------------------------------------------------
// Cost (cost_tile.h): 3 x 8 doubles or 6 x 8 floats per tile.  A panel's
// last columns go through a buffer: masked stores are microcoded on AMD Zen.
// ---------------------------------------------------------------------------
template <class T, class S>
inline void store_tail(T c, S* p, int n) {
  alignas(32) S buf[lanes_of<T>::value];
  c.store(buf);
  for (int t = 0; t < n; ++t) p[t] = buf[t];
}
template <class S>
struct CostBlocks {
  static constexpr int R = sizeof(S) == 8 ? 3 : 6, R2 = 0;
};
#include "cost_tile.h"

// ---------------------------------------------------------------------------
// Log-sum-exp row pass.
// ---------------------------------------------------------------------------
double row_max_d(const double* c, const double* g, double inv_eps, int64_t m) {
  const F64x4 ie(inv_eps);
  F64x4 mx0(-HUGE_VAL), mx1(-HUGE_VAL);
  int64_t j = 0;
  for (; j + 8 <= m; j += 8) {
    mx0 = vmax(mx0, (F64x4::load(g + j) - F64x4::load(c + j)) * ie);
    mx1 = vmax(mx1, (F64x4::load(g + j + 4) - F64x4::load(c + j + 4)) * ie);
  }
  mx0 = vmax(mx0, mx1);
  double r = -HUGE_VAL;
  for (int l = 0; l < 4; ++l) r = lane(mx0, l) > r ? lane(mx0, l) : r;
  for (; j < m; ++j) {
    const double v = (g[j] - c[j]) * inv_eps;
    r = v > r ? v : r;
  }
  return r;
}

double row_max_f(const float* c, const float* g, double inv_eps, int64_t m) {
  const F32x8 ie(static_cast<float>(inv_eps));
  F32x8 mx0(-HUGE_VALF), mx1(-HUGE_VALF);
  int64_t j = 0;
  for (; j + 16 <= m; j += 16) {
    mx0 = vmax(mx0, (F32x8::load(g + j) - F32x8::load(c + j)) * ie);
    mx1 = vmax(mx1, (F32x8::load(g + j + 8) - F32x8::load(c + j + 8)) * ie);
  }
  mx0 = vmax(mx0, mx1);
  float r = -HUGE_VALF;
  for (int l = 0; l < 8; ++l) r = lane(mx0, l) > r ? lane(mx0, l) : r;
  const float iesc = static_cast<float>(inv_eps);
  for (; j < m; ++j) {
    const float v = (g[j] - c[j]) * iesc;
    r = v > r ? v : r;
  }
  return r;
}

double row_expsum_d(const double* c, const double* g, double inv_eps, double shift, int64_t m, double* e) {
  const F64x4 ie(inv_eps), sh(shift);
  F64x4 s0(0.0), s1(0.0);
  int64_t j = 0;
  for (; j + 8 <= m; j += 8) {
    const F64x4 v0 = vexp((F64x4::load(g + j) - F64x4::load(c + j)) * ie - sh);
    const F64x4 v1 = vexp((F64x4::load(g + j + 4) - F64x4::load(c + j + 4)) * ie - sh);
    v0.store(e + j);
    v1.store(e + j + 4);
    s0 += v0;
    s1 += v1;
  }
  double s = hsum(s0 + s1);
  for (; j < m; ++j) {
    e[j] = exp((g[j] - c[j]) * inv_eps - shift);
    s += e[j];
  }
  return s;
}

double row_expsum_f(const float* c, const float* g, double inv_eps, double shift, int64_t m, float* e) {
  const F32x8 ie(static_cast<float>(inv_eps)), sh(static_cast<float>(shift));
  F64x4 s0(0.0), s1(0.0);
  int64_t j = 0;
  for (; j + 8 <= m; j += 8) {
    const F32x8 v = vexp((F32x8::load(g + j) - F32x8::load(c + j)) * ie - sh);
    v.store(e + j);
    s0 += lo4(v.v);
    s1 += hi4(v.v);
  }
  double s = hsum(s0 + s1);
  const float iesc = static_cast<float>(inv_eps), shs = static_cast<float>(shift);
  for (; j < m; ++j) {
    e[j] = expf((g[j] - c[j]) * iesc - shs);
    s += e[j];
  }
  return s;
}

// exp of 8 doubles through one float exponential (arguments rounded to
// float): the float32-kernel mode's fast exponential.
inline void vexp_f32_pair(F64x4 a, F64x4 b, F64x4& ea, F64x4& eb) {
  const __m256 x = _mm256_set_m128(_mm256_cvtpd_ps(b.v), _mm256_cvtpd_ps(a.v));
  const F32x8 e = vexp(F32x8(x));
  ea = lo4(e.v);
  eb = hi4(e.v);
}

double row_expsum_f32exp_d(const double* c, const double* g, double inv_eps, double shift, int64_t m, double* e) {
  const F64x4 ie(inv_eps), sh(shift);
  F64x4 s0(0.0), s1(0.0);
  int64_t j = 0;
  for (; j + 8 <= m; j += 8) {
    F64x4 v0, v1;
    vexp_f32_pair((F64x4::load(g + j) - F64x4::load(c + j)) * ie - sh,
                  (F64x4::load(g + j + 4) - F64x4::load(c + j + 4)) * ie - sh, v0, v1);
    v0.store(e + j);
    v1.store(e + j + 4);
    s0 += v0;
    s1 += v1;
  }
  double s = hsum(s0 + s1);
  for (; j < m; ++j) {
    e[j] = double(expf(static_cast<float>((g[j] - c[j]) * inv_eps - shift)));
    s += e[j];
  }
  return s;
}

void col_axpy_d(const double* e, double w, int64_t m, double* acc) {
  const F64x4 wv(w);
  int64_t j = 0;
  for (; j + 4 <= m; j += 4) fmadd(wv, F64x4::load(e + j), F64x4::load(acc + j)).store(acc + j);
  for (; j < m; ++j) acc[j] += w * e[j];
}

void col_axpy_f(const float* e, double w, int64_t m, double* acc) {
  const F64x4 wv(w);
  int64_t j = 0;
  for (; j + 4 <= m; j += 4) fmadd(wv, widen4(e + j), F64x4::load(acc + j)).store(acc + j);
  for (; j < m; ++j) acc[j] += w * double(e[j]);
}

// Stores k = w * e (flushing values below the kernel type's smallest normal,
// keeping NaN) and adds the stored value to acc.
template <class S>
void col_store_f32(const S* e, double w, int64_t m, double* acc, float* k) {
  const F64x4 wv(w);
  const __m128 tiny = _mm_set1_ps(FLT_MIN);
  int64_t j = 0;
  for (; j + 4 <= m; j += 4) {
    const F64x4 p = wv * load4(e + j);
    __m128 kf = _mm256_cvtpd_ps(p.v);
    const __m128 keep = _mm_or_ps(_mm_cmpge_ps(kf, tiny), _mm_cmpunord_ps(kf, kf));
    kf = _mm_and_ps(kf, keep);
    _mm_storeu_ps(k + j, kf);
    (F64x4::load(acc + j) + F64x4(_mm256_cvtps_pd(kf))).store(acc + j);
  }
  for (; j < m; ++j) {
    float v = static_cast<float>(w * double(e[j]));
    v = (v >= FLT_MIN || v != v) ? v : 0.0f;
    k[j] = v;
    acc[j] += double(v);
  }
}

template <class S>
void col_store_f64(const S* e, double w, int64_t m, double* acc, double* k) {
  const F64x4 wv(w);
  const __m256d tiny = _mm256_set1_pd(DBL_MIN);
  int64_t j = 0;
  for (; j + 4 <= m; j += 4) {
    __m256d p = (wv * load4(e + j)).v;
    const __m256d keep = _mm256_or_pd(_mm256_cmp_pd(p, tiny, _CMP_GE_OQ), _mm256_cmp_pd(p, p, _CMP_UNORD_Q));
    p = _mm256_and_pd(p, keep);
    _mm256_storeu_pd(k + j, p);
    (F64x4::load(acc + j) + F64x4(p)).store(acc + j);
  }
  for (; j < m; ++j) {
    double v = w * double(e[j]);
    v = (v >= DBL_MIN || v != v) ? v : 0.0;
    k[j] = v;
    acc[j] += v;
  }
}

// ---------------------------------------------------------------------------
// Stored-kernel scaling iterations.
// ---------------------------------------------------------------------------
double krow_dot_f32(const float* k, const double* v, int64_t m) {
  F64x4 s0(0.0), s1(0.0), s2(0.0), s3(0.0);
  int64_t j = 0;
  for (; j + 16 <= m; j += 16) {
    const __m256 k0 = _mm256_loadu_ps(k + j), k1 = _mm256_loadu_ps(k + j + 8);
    s0 = fmadd(lo4(k0), F64x4::load(v + j), s0);
    s1 = fmadd(hi4(k0), F64x4::load(v + j + 4), s1);
    s2 = fmadd(lo4(k1), F64x4::load(v + j + 8), s2);
    s3 = fmadd(hi4(k1), F64x4::load(v + j + 12), s3);
  }
  for (; j + 4 <= m; j += 4) s0 = fmadd(widen4(k + j), F64x4::load(v + j), s0);
  double s = hsum((s0 + s1) + (s2 + s3));
  for (; j < m; ++j) s += double(k[j]) * v[j];
  return s;
}

double krow_dot_f64(const double* k, const double* v, int64_t m) {
  F64x4 s0(0.0), s1(0.0), s2(0.0), s3(0.0);
  int64_t j = 0;
  for (; j + 16 <= m; j += 16) {
    s0 = fmadd(F64x4::load(k + j), F64x4::load(v + j), s0);
    s1 = fmadd(F64x4::load(k + j + 4), F64x4::load(v + j + 4), s1);
    s2 = fmadd(F64x4::load(k + j + 8), F64x4::load(v + j + 8), s2);
    s3 = fmadd(F64x4::load(k + j + 12), F64x4::load(v + j + 12), s3);
  }
  for (; j + 4 <= m; j += 4) s0 = fmadd(F64x4::load(k + j), F64x4::load(v + j), s0);
  double s = hsum((s0 + s1) + (s2 + s3));
  for (; j < m; ++j) s += k[j] * v[j];
  return s;
}

void krow_axpy_f32(const float* k, double u, int64_t m, double* acc) {
  const F64x4 uv(u);
  int64_t j = 0;
  for (; j + 8 <= m; j += 8) {
    const __m256 kk = _mm256_loadu_ps(k + j);
    fmadd(uv, lo4(kk), F64x4::load(acc + j)).store(acc + j);
    fmadd(uv, hi4(kk), F64x4::load(acc + j + 4)).store(acc + j + 4);
  }
  for (; j < m; ++j) acc[j] += u * double(k[j]);
}

void krow_axpy_f64(const double* k, double u, int64_t m, double* acc) {
  const F64x4 uv(u);
  int64_t j = 0;
  for (; j + 8 <= m; j += 8) {
    fmadd(uv, F64x4::load(k + j), F64x4::load(acc + j)).store(acc + j);
    fmadd(uv, F64x4::load(k + j + 4), F64x4::load(acc + j + 4)).store(acc + j + 4);
  }
  for (; j < m; ++j) acc[j] += u * k[j];
}

// Four dots sharing the loads of v; each row's lanes are summed in the same
// order as krow_dot (the levels are compared with a tolerance anyway).
template <class K>
void krow_dot4_impl(const K* k, int64_t ldk, const double* v, int64_t m, double* out) {
  F64x4 s0(0.0), s1(0.0), s2(0.0), s3(0.0);
  int64_t j = 0;
  for (; j + 4 <= m; j += 4) {
    const F64x4 vv = F64x4::load(v + j);
    s0 = fmadd(load4(k + j), vv, s0);
    s1 = fmadd(load4(k + ldk + j), vv, s1);
    s2 = fmadd(load4(k + 2 * ldk + j), vv, s2);
    s3 = fmadd(load4(k + 3 * ldk + j), vv, s3);
  }
  out[0] = hsum(s0);
  out[1] = hsum(s1);
  out[2] = hsum(s2);
  out[3] = hsum(s3);
  for (; j < m; ++j) {
    out[0] += double(k[j]) * v[j];
    out[1] += double(k[ldk + j]) * v[j];
    out[2] += double(k[2 * ldk + j]) * v[j];
    out[3] += double(k[3 * ldk + j]) * v[j];
  }
}
void krow_dot4_f32(const float* k, int64_t ldk, const double* v, int64_t m, double* out) {
  krow_dot4_impl<float>(k, ldk, v, m, out);
}
void krow_dot4_f64(const double* k, int64_t ldk, const double* v, int64_t m, double* out) {
  krow_dot4_impl<double>(k, ldk, v, m, out);
}

void krow_axpy4_f32(const float* k, int64_t ldk, const double* u, int64_t m, double* acc) {
  const F64x4 u0(u[0]), u1(u[1]), u2(u[2]), u3(u[3]);
  int64_t j = 0;
  for (; j + 4 <= m; j += 4) {
    F64x4 s = F64x4::load(acc + j);
    s = fmadd(u0, widen4(k + j), s);
    s = fmadd(u1, widen4(k + ldk + j), s);
    s = fmadd(u2, widen4(k + 2 * ldk + j), s);
    s = fmadd(u3, widen4(k + 3 * ldk + j), s);
    s.store(acc + j);
  }
  for (; j < m; ++j)
    acc[j] += ((u[0] * double(k[j]) + u[1] * double(k[ldk + j])) + u[2] * double(k[2 * ldk + j])) +
              u[3] * double(k[3 * ldk + j]);
}

void krow_axpy4_f64(const double* k, int64_t ldk, const double* u, int64_t m, double* acc) {
  const F64x4 u0(u[0]), u1(u[1]), u2(u[2]), u3(u[3]);
  int64_t j = 0;
  for (; j + 4 <= m; j += 4) {
    F64x4 s = F64x4::load(acc + j);
    s = fmadd(u0, F64x4::load(k + j), s);
    s = fmadd(u1, F64x4::load(k + ldk + j), s);
    s = fmadd(u2, F64x4::load(k + 2 * ldk + j), s);
    s = fmadd(u3, F64x4::load(k + 3 * ldk + j), s);
    s.store(acc + j);
  }
  for (; j < m; ++j)
    acc[j] += ((u[0] * k[j] + u[1] * k[ldk + j]) + u[2] * k[2 * ldk + j]) + u[3] * k[3 * ldk + j];
}

// ---------------------------------------------------------------------------
// Exact pass, column fallback and barycentric map (double arithmetic).
// ---------------------------------------------------------------------------
inline void store_plan(double* p, F64x4 v) { v.store(p); }
inline void store_plan(float* p, F64x4 v) { _mm_storeu_ps(p, _mm256_cvtpd_ps(v.v)); }

template <class S>
void final_row(const S* c, double fi, const double* g, double inv_eps, int64_t m, double* acc_col, S* plan,
               double* out3) {
  const F64x4 fv(fi), ie(inv_eps);
  F64x4 s0(0.0), s1(0.0), s2(0.0);
  int64_t j = 0;
  for (; j + 4 <= m; j += 4) {
    const F64x4 cv = load4(c + j);
    const F64x4 x = (fv + F64x4::load(g + j) - cv) * ie;
    const F64x4 p = vexp(x);
    s0 += p;
    s1 = fmadd(p, cv, s1);
    s2 = fmadd(p, select(p > F64x4(0.0), x, F64x4(0.0)), s2);  // 0 * (-inf) would be NaN
    (F64x4::load(acc_col + j) + p).store(acc_col + j);
    if (plan) store_plan(plan + j, p);
  }
  double r0 = hsum(s0), r1 = hsum(s1), r2 = hsum(s2);
  for (; j < m; ++j) {
    const double x = (fi + g[j] - double(c[j])) * inv_eps;
    const double p = exp(x);
    r0 += p;
    r1 += p * double(c[j]);
    r2 += p == 0 ? 0.0 : p * x;
    acc_col[j] += p;
    if (plan) plan[j] = static_cast<S>(p);
  }
  out3[0] += r0;
  out3[1] += r1;
  out3[2] += r2;
}

template <class S>
void col_max(const S* c, double fi, int64_t m, double* colmax) {
  const F64x4 fv(fi);
  int64_t j = 0;
  for (; j + 4 <= m; j += 4) vmax(F64x4::load(colmax + j), fv - load4(c + j)).store(colmax + j);
  for (; j < m; ++j) {
    const double v = fi - double(c[j]);
    colmax[j] = v > colmax[j] ? v : colmax[j];
  }
}

template <class S>
void col_sumexp(const S* c, double fi, const double* colmax, double inv_eps, int64_t m, double* acc) {
  const F64x4 fv(fi), ie(inv_eps);
  int64_t j = 0;
  for (; j + 4 <= m; j += 4) {
    const F64x4 p = vexp((fv - load4(c + j) - F64x4::load(colmax + j)) * ie);
    (F64x4::load(acc + j) + p).store(acc + j);
  }
  for (; j < m; ++j) acc[j] += exp((fi - double(c[j]) - colmax[j]) * inv_eps);
}

void col_sumexp_f32exp_d(const double* c, double fi, const double* colmax, double inv_eps, int64_t m, double* acc) {
  const F64x4 fv(fi), ie(inv_eps);
  int64_t j = 0;
  for (; j + 8 <= m; j += 8) {
    F64x4 p0, p1;
    vexp_f32_pair((fv - F64x4::load(c + j) - F64x4::load(colmax + j)) * ie,
                  (fv - F64x4::load(c + j + 4) - F64x4::load(colmax + j + 4)) * ie, p0, p1);
    (F64x4::load(acc + j) + p0).store(acc + j);
    (F64x4::load(acc + j + 4) + p1).store(acc + j + 4);
  }
  for (; j < m; ++j) acc[j] += double(expf(static_cast<float>((fi - c[j] - colmax[j]) * inv_eps)));
}

template <class S>
void row_bary(const S* p, const S* y, int64_t m, int64_t d, double* out) {
  for (int64_t j = 0; j < m; ++j) {
    const double w = p[j];
    if (w == 0) continue;
    const S* yj = y + j * d;
    int64_t k = 0;
    const F64x4 wv(w);
    for (; k + 4 <= d; k += 4) fmadd(wv, load4(yj + k), F64x4::load(out + k)).store(out + k);
    for (; k < d; ++k) out[k] += w * double(yj[k]);
  }
}

template <class S>
bool finite_absmax(const S* C, int64_t ldc, int64_t n, int64_t m, double* absmax) {
  F64x4 mx(0.0);
  __m256d okm = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
  double smx = 0;
  bool sok = true;
  for (int64_t i = 0; i < n; ++i) {
    const S* c = C + i * ldc;
    int64_t j = 0;
    for (; j + 4 <= m; j += 4) {
      const F64x4 v = vabs(load4(c + j));
      okm = _mm256_and_pd(okm, _mm256_cmp_pd(v.v, _mm256_set1_pd(DBL_MAX), _CMP_LE_OQ));
      mx = F64x4(_mm256_max_pd(mx.v, v.v));
    }
    for (; j < m; ++j) {
      const double v = fabs(double(c[j]));
      sok = sok && v <= DBL_MAX;
      smx = v > smx ? v : smx;
    }
  }
  alignas(32) double t[4];
  mx.store(t);
  for (int l = 0; l < 4; ++l) smx = t[l] > smx ? t[l] : smx;
  *absmax = smx;
  return sok && _mm256_movemask_pd(okm) == 0xf;
}

// scale_update (contract in kernel_api.h): 4 entries at a time; the series
// for every lane, exp(w log t) only for vectors with a lane beyond 1/4.
double scale_update(const double* a, const double* k, double* u, int64_t n, double w, double lo, double hi,
                    int* flags) {
  const __m256d zero = _mm256_setzero_pd(), tiny = _mm256_set1_pd(1e-300), inf = _mm256_set1_pd(HUGE_VAL);
  int64_t i = 0;
  __m256d badv = _mm256_setzero_pd(), nanv = _mm256_setzero_pd();
  for (; i + 4 <= n; i += 4) {
    const __m256d av = _mm256_loadu_pd(a + i), kv = _mm256_loadu_pd(k + i);
    const __m256d pos = _mm256_cmp_pd(av, zero, _CMP_GT_OQ);
    const __m256d ok = _mm256_and_pd(_mm256_cmp_pd(kv, tiny, _CMP_GT_OQ), _mm256_cmp_pd(kv, inf, _CMP_LT_OQ));
    badv = _mm256_or_pd(badv, _mm256_andnot_pd(ok, pos));
    nanv = _mm256_or_pd(nanv, _mm256_and_pd(pos, _mm256_cmp_pd(kv, kv, _CMP_UNORD_Q)));
  }
  bool bad = _mm256_movemask_pd(badv) != 0, isnan = _mm256_movemask_pd(nanv) != 0;
  for (int64_t j = i; j < n; ++j) {
    if (!(a[j] > 0)) continue;
    if (!(k[j] > 1e-300) || !(k[j] < HUGE_VAL)) bad = true;
    if (k[j] != k[j]) isnan = true;
  }
  if (bad) {
    *flags |= 2 | (isnan ? 4 : 0);
    return 0;
  }
  const F64x4 wv(w), one(1.0), quarter(0.25), lov(lo), hiv(hi);
  F64x4 errv(0.0);
  __m256d outv = _mm256_setzero_pd();
  for (i = 0; i + 4 <= n; i += 4) {
    const F64x4 av = F64x4::load(a + i), kv = F64x4::load(k + i), uv = F64x4::load(u + i);
    const __m256d pos = _mm256_cmp_pd(av.v, zero, _CMP_GT_OQ);
    F64x4 un;
    if (w == 1.0) {
      un = av / kv;
    } else {
      const F64x4 t = av / (kv * uv);
      const F64x4 d = t - one;
      F64x4 L(-1.0 / 6);
      L = fmadd(L, d, F64x4(1.0 / 5));
      L = fmadd(L, d, F64x4(-1.0 / 4));
      L = fmadd(L, d, F64x4(1.0 / 3));
      L = fmadd(L, d, F64x4(-1.0 / 2));
      L = fmadd(L, d, one);
      L = L * d;
      const F64x4 y = wv * L;
      F64x4 E(1.0 / 720);
      E = fmadd(E, y, F64x4(1.0 / 120));
      E = fmadd(E, y, F64x4(1.0 / 24));
      E = fmadd(E, y, F64x4(1.0 / 6));
      E = fmadd(E, y, F64x4(1.0 / 2));
      E = fmadd(E, y, one);
      F64x4 p = fmadd(E, y, one);
      const __m256d far = _mm256_cmp_pd(vabs(d).v, quarter.v, _CMP_GT_OQ);
      if (_mm256_movemask_pd(_mm256_and_pd(far, pos))) {
        const F64x4 q = vexp(wv * vlog(select(M64x4{pos}, t, one)));
        p = F64x4(_mm256_blendv_pd(p.v, q.v, far));
      }
      un = uv * p;
    }
    un = F64x4(_mm256_and_pd(un.v, pos));  // 0 where a_i = 0
    un.store(u + i);
    const F64x4 e(_mm256_fmsub_pd(un.v, kv.v, av.v));
    errv = F64x4(_mm256_add_pd(errv.v, _mm256_and_pd((e * e).v, pos)));
    const __m256d inside = _mm256_and_pd(_mm256_cmp_pd(un.v, lov.v, _CMP_GE_OQ), _mm256_cmp_pd(un.v, hiv.v, _CMP_LE_OQ));
    outv = _mm256_or_pd(outv, _mm256_andnot_pd(inside, pos));
  }
  alignas(32) double t4[4];
  errv.store(t4);
  double err = (t4[0] + t4[1]) + (t4[2] + t4[3]);
  if (_mm256_movemask_pd(outv)) *flags |= 1;
  // The tail (n % 4 entries, already validated) in the reference loop.
  if (i < n) err += scale_update_ref(a + i, k + i, u + i, n - i, w, lo, hi, flags);
  return err;
}

// The exact solvers' kernels live in emd_avx2.cc.
#define SC_OT_EMD_AVX2_ENTRIES                                                                            \
  &emd_avx2::price_rows, &emd_avx2::price_rows_f32, &emd_avx2::to_f32, &emd_avx2::toc_keys,               \
      &emd_avx2::two_min, &emd_avx2::argmax, &emd_avx2::match2, &emd_avx2::masked_add
const OtKernels<double> kTableD = {
    "avx2",         &cost_rows<double>,     &row_max_d,        &row_expsum_d,     &row_expsum_f32exp_d, &col_axpy_d,
    &col_store_f32<double>, &col_store_f64<double>, &krow_dot_f32, &krow_dot_f64, &krow_axpy_f32,
    &krow_axpy_f64, &krow_dot4_f32, &krow_dot4_f64, &krow_axpy4_f32, &krow_axpy4_f64, &final_row<double>,     &col_max<double>,  &col_sumexp<double>, &col_sumexp_f32exp_d, &row_bary<double>, &scale_update,
    &emd_avx2::row_min2, &emd_avx2::col_min, &emd_avx2::lap_relax, &finite_absmax<double>, SC_OT_EMD_AVX2_ENTRIES};
const OtKernels<float> kTableF = {
    "avx2",        &cost_rows<float>,     &row_max_f,       &row_expsum_f,     &row_expsum_f,   &col_axpy_f,
    &col_store_f32<float>, &col_store_f64<float>, &krow_dot_f32, &krow_dot_f64, &krow_axpy_f32,
    &krow_axpy_f64, &krow_dot4_f32, &krow_dot4_f64, &krow_axpy4_f32, &krow_axpy4_f64, &final_row<float>,     &col_max<float>,  &col_sumexp<float>, &col_sumexp<float>, &row_bary<float>, &scale_update,
    &emd_avx2::row_min2, &emd_avx2::col_min, &emd_avx2::lap_relax, &finite_absmax<float>, SC_OT_EMD_AVX2_ENTRIES};

}  // namespace

template <>
const OtKernels<double>& ot_kernels_avx2<double>() {
  return kTableD;
}
template <>
const OtKernels<float>& ot_kernels_avx2<float>() {
  return kTableF;
}

}  // namespace ot
}  // namespace sc
