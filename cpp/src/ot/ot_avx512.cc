// AVX-512 OT kernels (compiled with -mavx512f/bw/vl/dq plus -mavx2 -mfma,
// SC_ISA=isa_avx512).  The same contracts as ot_avx2.cc (kernel_api.h) at
// twice the width: 8 doubles or 16 floats per register, and every tail is one
// masked load / store (no scalar remainder loops).  Internal linkage and
// constant-initialised tables, as at the AVX2 level.  Sums accumulate in
// double; float data are widened with vcvtps2pd.
#include <float.h>
#include <math.h>

#include "emd_kernels.h"
#include "scalecore/common/simd_avx512.h"
#include "scalecore/ot/cost_math.h"
#include "scalecore/ot/kernel_api.h"
#include "scalecore/ot/sinkhorn_math.h"

namespace sc {
namespace ot {
namespace {

// The lane mask of the first min(8, left) lanes (left >= 1), and of 16.
inline __mmask8 m8(int64_t left) { return left >= 8 ? __mmask8(0xff) : __mmask8((1u << left) - 1u); }
inline __mmask16 m16(int64_t left) { return left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1u); }

// 8 doubles from p (lanes outside k: 0), from doubles or floats.
inline __m512d ld8(const double* p, __mmask8 k) { return _mm512_maskz_loadu_pd(k, p); }
inline __m512d ld8(const float* p, __mmask8 k) { return _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, p)); }
inline __m512d ld8(const double* p) { return _mm512_loadu_pd(p); }
inline __m512d ld8(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
// The low and high 8 floats of a 16-float register, widened.
inline __m512d lo8(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
inline __m512d hi8(__m512 v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }
// Stores 8 doubles (as doubles or rounded to floats) under k.
inline void st8(double* p, __m512d v, __mmask8 k) { _mm512_mask_storeu_pd(p, k, v); }
inline void st8(float* p, __m512d v, __mmask8 k) { _mm256_mask_storeu_ps(p, k, _mm512_cvtpd_ps(v)); }

// ---------------------------------------------------------------------------
// Cost (cost_tile.h): kPanel = 16 columns, 2 x F64x8 or 1 x F32x16; 32
// registers hold 6 x 2 / 12 x 1 accumulators, then blocks of 3 rows.  A
// panel's last columns are one masked store.
// ---------------------------------------------------------------------------
template <class T, class S>
inline void store_tail(T c, S* p, int n) {
  c.store_n(p, n);
}
template <class S>
struct CostBlocks {
  static constexpr int R = sizeof(S) == 8 ? 6 : 12, R2 = 3;
};
#include "cost_tile.h"

// ---------------------------------------------------------------------------
// Log-sum-exp row pass.
// ---------------------------------------------------------------------------
double row_max_d(const double* c, const double* g, double inv_eps, int64_t m) {
  const F64x8 ie(inv_eps), ninf(-HUGE_VAL);
  F64x8 mx0 = ninf, mx1 = ninf;
  int64_t j = 0;
  for (; j + 16 <= m; j += 16) {
    mx0 = vmax(mx0, (F64x8::load(g + j) - F64x8::load(c + j)) * ie);
    mx1 = vmax(mx1, (F64x8::load(g + j + 8) - F64x8::load(c + j + 8)) * ie);
  }
  for (; j < m; j += 8) {
    const __mmask8 k = m8(m - j);
    const F64x8 x = (F64x8(ld8(g + j, k)) - F64x8(ld8(c + j, k))) * ie;
    mx1 = vmax(mx1, select(M64x8{k}, x, ninf));
  }
  return _mm512_reduce_max_pd(vmax(mx0, mx1).v);
}

double row_max_f(const float* c, const float* g, double inv_eps, int64_t m) {
  const F32x16 ie(static_cast<float>(inv_eps)), ninf(-HUGE_VALF);
  F32x16 mx0 = ninf, mx1 = ninf;
  int64_t j = 0;
  for (; j + 32 <= m; j += 32) {
    mx0 = vmax(mx0, (F32x16::load(g + j) - F32x16::load(c + j)) * ie);
    mx1 = vmax(mx1, (F32x16::load(g + j + 16) - F32x16::load(c + j + 16)) * ie);
  }
  for (; j < m; j += 16) {
    const __mmask16 k = m16(m - j);
    const F32x16 x = (F32x16(_mm512_maskz_loadu_ps(k, g + j)) - F32x16(_mm512_maskz_loadu_ps(k, c + j))) * ie;
    mx1 = vmax(mx1, select(M32x16{k}, x, ninf));
  }
  return _mm512_reduce_max_ps(vmax(mx0, mx1).v);
}

double row_expsum_d(const double* c, const double* g, double inv_eps, double shift, int64_t m, double* e) {
  const F64x8 ie(inv_eps), sh(shift);
  F64x8 s0(0.0), s1(0.0);
  int64_t j = 0;
  for (; j + 16 <= m; j += 16) {
    const F64x8 v0 = vexp((F64x8::load(g + j) - F64x8::load(c + j)) * ie - sh);
    const F64x8 v1 = vexp((F64x8::load(g + j + 8) - F64x8::load(c + j + 8)) * ie - sh);
    v0.store(e + j);
    v1.store(e + j + 8);
    s0 += v0;
    s1 += v1;
  }
  for (; j < m; j += 8) {
    const __mmask8 k = m8(m - j);
    const F64x8 v = vexp((F64x8(ld8(g + j, k)) - F64x8(ld8(c + j, k))) * ie - sh);
    _mm512_mask_storeu_pd(e + j, k, v.v);
    s1 = F64x8(_mm512_mask_add_pd(s1.v, k, s1.v, v.v));
  }
  return hsum(s0 + s1);
}

double row_expsum_f(const float* c, const float* g, double inv_eps, double shift, int64_t m, float* e) {
  const F32x16 ie(static_cast<float>(inv_eps)), sh(static_cast<float>(shift));
  F64x8 s0(0.0), s1(0.0);
  for (int64_t j = 0; j < m; j += 16) {
    const __mmask16 k = m16(m - j);
    const F32x16 v =
        vexp((F32x16(_mm512_maskz_loadu_ps(k, g + j)) - F32x16(_mm512_maskz_loadu_ps(k, c + j))) * ie - sh);
    _mm512_mask_storeu_ps(e + j, k, v.v);
    const __m512 vz = _mm512_maskz_mov_ps(k, v.v);
    s0 += F64x8(lo8(vz));
    s1 += F64x8(hi8(vz));
  }
  return hsum(s0 + s1);
}

// exp of 16 doubles through one float exponential (arguments rounded to
// float): the float32-kernel mode's fast exponential.
inline void vexp_f32_pair(__m512d a, __m512d b, __m512d& ea, __m512d& eb) {
  const __m512 x = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(a)), _mm512_cvtpd_ps(b), 1);
  const F32x16 e = vexp(F32x16(x));
  ea = lo8(e.v);
  eb = hi8(e.v);
}

double row_expsum_f32exp_d(const double* c, const double* g, double inv_eps, double shift, int64_t m, double* e) {
  const F64x8 ie(inv_eps), sh(shift);
  F64x8 s0(0.0), s1(0.0);
  for (int64_t j = 0; j < m; j += 16) {
    const __mmask8 k0 = m8(m - j), k1 = j + 8 < m ? m8(m - j - 8) : __mmask8(0);
    __m512d v0, v1;
    vexp_f32_pair(((F64x8(ld8(g + j, k0)) - F64x8(ld8(c + j, k0))) * ie - sh).v,
                  ((F64x8(ld8(g + j + 8, k1)) - F64x8(ld8(c + j + 8, k1))) * ie - sh).v, v0, v1);
    _mm512_mask_storeu_pd(e + j, k0, v0);
    _mm512_mask_storeu_pd(e + j + 8, k1, v1);
    s0 = F64x8(_mm512_mask_add_pd(s0.v, k0, s0.v, v0));
    s1 = F64x8(_mm512_mask_add_pd(s1.v, k1, s1.v, v1));
  }
  return hsum(s0 + s1);
}

template <class S>
void col_axpy(const S* e, double w, int64_t m, double* acc) {
  const __m512d wv = _mm512_set1_pd(w);
  for (int64_t j = 0; j < m; j += 8) {
    const __mmask8 k = m8(m - j);
    _mm512_mask_storeu_pd(acc + j, k, _mm512_fmadd_pd(wv, ld8(e + j, k), ld8(acc + j, k)));
  }
}

// Stores k = w * e (flushing values below the kernel type's smallest normal,
// keeping NaN) and adds the stored value to acc.
template <class S>
void col_store_f32(const S* e, double w, int64_t m, double* acc, float* kout) {
  const __m512d wv = _mm512_set1_pd(w);
  const __m256 tiny = _mm256_set1_ps(FLT_MIN);
  for (int64_t j = 0; j < m; j += 8) {
    const __mmask8 k = m8(m - j);
    const __m256 kf = _mm512_cvtpd_ps(_mm512_mul_pd(wv, ld8(e + j, k)));
    const __mmask8 keep = _mm256_cmp_ps_mask(kf, tiny, _CMP_GE_OQ) | _mm256_cmp_ps_mask(kf, kf, _CMP_UNORD_Q);
    const __m256 kk = _mm256_maskz_mov_ps(keep, kf);
    _mm256_mask_storeu_ps(kout + j, k, kk);
    _mm512_mask_storeu_pd(acc + j, k, _mm512_add_pd(ld8(acc + j, k), _mm512_cvtps_pd(kk)));
  }
}

template <class S>
void col_store_f64(const S* e, double w, int64_t m, double* acc, double* kout) {
  const __m512d wv = _mm512_set1_pd(w), tiny = _mm512_set1_pd(DBL_MIN);
  for (int64_t j = 0; j < m; j += 8) {
    const __mmask8 k = m8(m - j);
    const __m512d p = _mm512_mul_pd(wv, ld8(e + j, k));
    const __mmask8 keep = _mm512_cmp_pd_mask(p, tiny, _CMP_GE_OQ) | _mm512_cmp_pd_mask(p, p, _CMP_UNORD_Q);
    const __m512d kk = _mm512_maskz_mov_pd(keep, p);
    _mm512_mask_storeu_pd(kout + j, k, kk);
    _mm512_mask_storeu_pd(acc + j, k, _mm512_add_pd(ld8(acc + j, k), kk));
  }
}

// ---------------------------------------------------------------------------
// Stored-kernel scaling iterations.
// ---------------------------------------------------------------------------
template <class K>
double krow_dot(const K* k, const double* v, int64_t m) {
  __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
  int64_t j = 0;
  for (; j + 32 <= m; j += 32) {
    s0 = _mm512_fmadd_pd(ld8(k + j), _mm512_loadu_pd(v + j), s0);
    s1 = _mm512_fmadd_pd(ld8(k + j + 8), _mm512_loadu_pd(v + j + 8), s1);
    s2 = _mm512_fmadd_pd(ld8(k + j + 16), _mm512_loadu_pd(v + j + 16), s2);
    s3 = _mm512_fmadd_pd(ld8(k + j + 24), _mm512_loadu_pd(v + j + 24), s3);
  }
  for (; j < m; j += 8) {
    const __mmask8 mk = m8(m - j);
    s0 = _mm512_fmadd_pd(ld8(k + j, mk), ld8(v + j, mk), s0);
  }
  return hsum(F64x8(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3))));
}

template <class K>
void krow_axpy(const K* k, double u, int64_t m, double* acc) {
  const __m512d uv = _mm512_set1_pd(u);
  int64_t j = 0;
  for (; j + 16 <= m; j += 16) {
    _mm512_storeu_pd(acc + j, _mm512_fmadd_pd(uv, ld8(k + j), _mm512_loadu_pd(acc + j)));
    _mm512_storeu_pd(acc + j + 8, _mm512_fmadd_pd(uv, ld8(k + j + 8), _mm512_loadu_pd(acc + j + 8)));
  }
  for (; j < m; j += 8) {
    const __mmask8 mk = m8(m - j);
    _mm512_mask_storeu_pd(acc + j, mk, _mm512_fmadd_pd(uv, ld8(k + j, mk), ld8(acc + j, mk)));
  }
}

// Four dots sharing the loads of v.
template <class K>
void krow_dot4(const K* k, int64_t ldk, const double* v, int64_t m, double* out) {
  __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
  for (int64_t j = 0; j < m; j += 8) {
    const __mmask8 mk = m8(m - j);
    const __m512d vv = ld8(v + j, mk);
    s0 = _mm512_fmadd_pd(ld8(k + j, mk), vv, s0);
    s1 = _mm512_fmadd_pd(ld8(k + ldk + j, mk), vv, s1);
    s2 = _mm512_fmadd_pd(ld8(k + 2 * ldk + j, mk), vv, s2);
    s3 = _mm512_fmadd_pd(ld8(k + 3 * ldk + j, mk), vv, s3);
  }
  out[0] = hsum(F64x8(s0));
  out[1] = hsum(F64x8(s1));
  out[2] = hsum(F64x8(s2));
  out[3] = hsum(F64x8(s3));
}

template <class K>
void krow_axpy4(const K* k, int64_t ldk, const double* u, int64_t m, double* acc) {
  const __m512d u0 = _mm512_set1_pd(u[0]), u1 = _mm512_set1_pd(u[1]), u2 = _mm512_set1_pd(u[2]),
                u3 = _mm512_set1_pd(u[3]);
  for (int64_t j = 0; j < m; j += 8) {
    const __mmask8 mk = m8(m - j);
    __m512d s = ld8(acc + j, mk);
    s = _mm512_fmadd_pd(u0, ld8(k + j, mk), s);
    s = _mm512_fmadd_pd(u1, ld8(k + ldk + j, mk), s);
    s = _mm512_fmadd_pd(u2, ld8(k + 2 * ldk + j, mk), s);
    s = _mm512_fmadd_pd(u3, ld8(k + 3 * ldk + j, mk), s);
    _mm512_mask_storeu_pd(acc + j, mk, s);
  }
}

// ---------------------------------------------------------------------------
// Exact pass, column fallback and barycentric map (double arithmetic).
// ---------------------------------------------------------------------------
template <class S>
void final_row(const S* c, double fi, const double* g, double inv_eps, int64_t m, double* acc_col, S* plan,
               double* out3) {
  const F64x8 fv(fi), ie(inv_eps);
  const __m512d zero = _mm512_setzero_pd();
  __m512d s0 = zero, s1 = zero, s2 = zero;
  for (int64_t j = 0; j < m; j += 8) {
    const __mmask8 k = m8(m - j);
    const F64x8 cv(ld8(c + j, k));
    const F64x8 x = (fv + F64x8(ld8(g + j, k)) - cv) * ie;
    const __m512d p = _mm512_maskz_mov_pd(k, vexp(x).v);  // lanes outside k: 0
    s0 = _mm512_add_pd(s0, p);
    s1 = _mm512_fmadd_pd(p, cv.v, s1);
    // 0 * (-inf) would be NaN: only lanes with p > 0 add p * x.
    s2 = _mm512_mask3_fmadd_pd(p, x.v, s2, _mm512_cmp_pd_mask(p, zero, _CMP_GT_OQ));
    _mm512_mask_storeu_pd(acc_col + j, k, _mm512_add_pd(ld8(acc_col + j, k), p));
    if (plan) st8(plan + j, p, k);
  }
  out3[0] += hsum(F64x8(s0));
  out3[1] += hsum(F64x8(s1));
  out3[2] += hsum(F64x8(s2));
}

template <class S>
void col_max(const S* c, double fi, int64_t m, double* colmax) {
  const F64x8 fv(fi);
  for (int64_t j = 0; j < m; j += 8) {
    const __mmask8 k = m8(m - j);
    _mm512_mask_storeu_pd(colmax + j, k, vmax(F64x8(ld8(colmax + j, k)), fv - F64x8(ld8(c + j, k))).v);
  }
}

template <class S>
void col_sumexp(const S* c, double fi, const double* colmax, double inv_eps, int64_t m, double* acc) {
  const F64x8 fv(fi), ie(inv_eps);
  for (int64_t j = 0; j < m; j += 8) {
    const __mmask8 k = m8(m - j);
    const F64x8 p = vexp((fv - F64x8(ld8(c + j, k)) - F64x8(ld8(colmax + j, k))) * ie);
    _mm512_mask_storeu_pd(acc + j, k, _mm512_add_pd(ld8(acc + j, k), p.v));
  }
}

void col_sumexp_f32exp_d(const double* c, double fi, const double* colmax, double inv_eps, int64_t m,
                         double* acc) {
  const F64x8 fv(fi), ie(inv_eps);
  for (int64_t j = 0; j < m; j += 16) {
    const __mmask8 k0 = m8(m - j), k1 = j + 8 < m ? m8(m - j - 8) : __mmask8(0);
    __m512d p0, p1;
    vexp_f32_pair(((fv - F64x8(ld8(c + j, k0)) - F64x8(ld8(colmax + j, k0))) * ie).v,
                  ((fv - F64x8(ld8(c + j + 8, k1)) - F64x8(ld8(colmax + j + 8, k1))) * ie).v, p0, p1);
    _mm512_mask_storeu_pd(acc + j, k0, _mm512_add_pd(ld8(acc + j, k0), p0));
    _mm512_mask_storeu_pd(acc + j + 8, k1, _mm512_add_pd(ld8(acc + j + 8, k1), p1));
  }
}

template <class S>
void row_bary(const S* p, const S* y, int64_t m, int64_t d, double* out) {
  for (int64_t j = 0; j < m; ++j) {
    const double w = p[j];
    if (w == 0) continue;
    const S* yj = y + j * d;
    const __m512d wv = _mm512_set1_pd(w);
    for (int64_t k = 0; k < d; k += 8) {
      const __mmask8 mk = m8(d - k);
      _mm512_mask_storeu_pd(out + k, mk, _mm512_fmadd_pd(wv, ld8(yj + k, mk), ld8(out + k, mk)));
    }
  }
}

template <class S>
bool finite_absmax(const S* C, int64_t ldc, int64_t n, int64_t m, double* absmax) {
  __m512d mx = _mm512_setzero_pd();
  const __m512d big = _mm512_set1_pd(DBL_MAX);
  __mmask8 ok = 0xff;
  for (int64_t i = 0; i < n; ++i) {
    const S* c = C + i * ldc;
    for (int64_t j = 0; j < m; j += 8) {
      const __mmask8 k = m8(m - j);
      const __m512d v = _mm512_abs_pd(ld8(c + j, k));  // lanes outside k: 0
      ok &= _mm512_cmp_pd_mask(v, big, _CMP_LE_OQ);
      mx = _mm512_max_pd(mx, v);
    }
  }
  *absmax = _mm512_reduce_max_pd(mx);
  return ok == 0xff;
}

// scale_update (contract in kernel_api.h): 8 entries at a time, the last
// vector masked (its other lanes read as a = 0: no update, no error); the
// series for every lane, exp(w log t) only for vectors with a lane beyond 1/4.
double scale_update(const double* a, const double* k, double* u, int64_t n, double w, double lo, double hi,
                    int* flags) {
  const __m512d zero = _mm512_setzero_pd(), tiny = _mm512_set1_pd(1e-300), inf = _mm512_set1_pd(HUGE_VAL);
  const __m512d onev = _mm512_set1_pd(1.0);
  __mmask8 bad = 0, isnan = 0;
  for (int64_t i = 0; i < n; i += 8) {
    const __mmask8 lm = m8(n - i);
    const __m512d av = _mm512_maskz_loadu_pd(lm, a + i), kv = _mm512_mask_loadu_pd(onev, lm, k + i);
    const __mmask8 pos = _mm512_cmp_pd_mask(av, zero, _CMP_GT_OQ);
    const __mmask8 okk = _mm512_cmp_pd_mask(kv, tiny, _CMP_GT_OQ) & _mm512_cmp_pd_mask(kv, inf, _CMP_LT_OQ);
    bad |= pos & static_cast<__mmask8>(~okk);
    isnan |= pos & _mm512_cmp_pd_mask(kv, kv, _CMP_UNORD_Q);
  }
  if (bad) {
    *flags |= 2 | (isnan ? 4 : 0);
    return 0;
  }
  const F64x8 wv(w), one(1.0), quarter(0.25), lov(lo), hiv(hi);
  __m512d errv = zero;
  __mmask8 outm = 0;
  for (int64_t i = 0; i < n; i += 8) {
    const __mmask8 lm = m8(n - i);
    const F64x8 av(_mm512_maskz_loadu_pd(lm, a + i)), kv(_mm512_mask_loadu_pd(onev, lm, k + i)),
        uv(_mm512_mask_loadu_pd(onev, lm, u + i));
    const __mmask8 pos = _mm512_cmp_pd_mask(av.v, zero, _CMP_GT_OQ);
    F64x8 un;
    if (w == 1.0) {
      un = av / kv;
    } else {
      const F64x8 t = av / (kv * uv);
      const F64x8 d = t - one;
      F64x8 L(-1.0 / 6);
      L = fmadd(L, d, F64x8(1.0 / 5));
      L = fmadd(L, d, F64x8(-1.0 / 4));
      L = fmadd(L, d, F64x8(1.0 / 3));
      L = fmadd(L, d, F64x8(-1.0 / 2));
      L = fmadd(L, d, one);
      L = L * d;
      const F64x8 y = wv * L;
      F64x8 E(1.0 / 720);
      E = fmadd(E, y, F64x8(1.0 / 120));
      E = fmadd(E, y, F64x8(1.0 / 24));
      E = fmadd(E, y, F64x8(1.0 / 6));
      E = fmadd(E, y, F64x8(1.0 / 2));
      E = fmadd(E, y, one);
      F64x8 p = fmadd(E, y, one);
      const __mmask8 far = _mm512_cmp_pd_mask(vabs(d).v, quarter.v, _CMP_GT_OQ);
      if (far & pos) {
        const F64x8 q = vexp(wv * vlog(select(M64x8{pos}, t, one)));
        p = F64x8(_mm512_mask_mov_pd(p.v, far, q.v));
      }
      un = uv * p;
    }
    un = F64x8(_mm512_maskz_mov_pd(pos, un.v));  // 0 where a_i = 0
    _mm512_mask_storeu_pd(u + i, lm, un.v);
    const __m512d e = _mm512_fmsub_pd(un.v, kv.v, av.v);
    errv = _mm512_mask3_fmadd_pd(e, e, errv, pos);  // errv += e * e where a_i > 0
    const __mmask8 inside = _mm512_cmp_pd_mask(un.v, lov.v, _CMP_GE_OQ) & _mm512_cmp_pd_mask(un.v, hiv.v, _CMP_LE_OQ);
    outm |= pos & static_cast<__mmask8>(~inside);
  }
  if (outm) *flags |= 1;
  return hsum(F64x8(errv));
}

// The exact solvers' kernels: the AVX-512 ones where the width pays
// (emd_avx512.cc), the AVX2 ones elsewhere (see emd_avx512.cc's header).
// The exact solvers' kernels live in emd_avx512.cc.
const OtKernels<double> kTableD = {"avx512",
                                   &cost_rows<double>,
                                   &row_max_d,
                                   &row_expsum_d,
                                   &row_expsum_f32exp_d,
                                   &col_axpy<double>,
                                   &col_store_f32<double>,
                                   &col_store_f64<double>,
                                   &krow_dot<float>,
                                   &krow_dot<double>,
                                   &krow_axpy<float>,
                                   &krow_axpy<double>,
                                   &krow_dot4<float>,
                                   &krow_dot4<double>,
                                   &krow_axpy4<float>,
                                   &krow_axpy4<double>,
                                   &final_row<double>,
                                   &col_max<double>,
                                   &col_sumexp<double>,
                                   &col_sumexp_f32exp_d,
                                   &row_bary<double>,
                                   &scale_update,
                                   &emd_avx512::row_min2,
                                   &emd_avx512::col_min,
                                   &emd_avx512::lap_relax,
                                   &finite_absmax<double>,
                                   &emd_avx512::price_rows,
                                   &emd_avx512::price_rows_f32,
                                   &emd_avx512::to_f32,
                                   &emd_avx512::toc_keys,
                                   &emd_avx512::two_min,
                                   &emd_avx512::argmax,
                                   &emd_avx512::match2,
                                   &emd_avx512::masked_add};
const OtKernels<float> kTableF = {"avx512",
                                  &cost_rows<float>,
                                  &row_max_f,
                                  &row_expsum_f,
                                  &row_expsum_f,
                                  &col_axpy<float>,
                                  &col_store_f32<float>,
                                  &col_store_f64<float>,
                                  &krow_dot<float>,
                                  &krow_dot<double>,
                                  &krow_axpy<float>,
                                  &krow_axpy<double>,
                                  &krow_dot4<float>,
                                  &krow_dot4<double>,
                                  &krow_axpy4<float>,
                                  &krow_axpy4<double>,
                                  &final_row<float>,
                                  &col_max<float>,
                                  &col_sumexp<float>,
                                  &col_sumexp<float>,
                                  &row_bary<float>,
                                  &scale_update,
                                  &emd_avx512::row_min2,
                                  &emd_avx512::col_min,
                                  &emd_avx512::lap_relax,
                                  &finite_absmax<float>,
                                  &emd_avx512::price_rows,
                                  &emd_avx512::price_rows_f32,
                                  &emd_avx512::to_f32,
                                  &emd_avx512::toc_keys,
                                  &emd_avx512::two_min,
                                  &emd_avx512::argmax,
                                  &emd_avx512::match2,
                                  &emd_avx512::masked_add};

}  // namespace

template <>
const OtKernels<double>& ot_kernels_avx512<double>() {
  return kTableD;
}
template <>
const OtKernels<float>& ot_kernels_avx512<float>() {
  return kTableF;
}

}  // namespace ot
}  // namespace sc
