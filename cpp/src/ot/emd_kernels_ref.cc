// Reference kernels of the exact solvers: plain loops, the oracle of the AVX2
// level and the generic level itself (see emd_kernels.h).
#include <float.h>
#include <string.h>

#include <limits>

#include "emd_kernels.h"

namespace sc {
namespace ot {
namespace emd_ref {

void row_min2(const double* c, const double* v, int64_t n, double* u1o, int64_t* j1o, double* u2o, int64_t* j2o) {
  double u1 = std::numeric_limits<double>::infinity(), u2 = u1;
  int64_t j1 = -1, j2 = -1;
  for (int64_t j = 0; j < n; ++j) {
    const double h = v ? c[j] - v[j] : c[j];
    if (j1 < 0 || h < u1) {
      u2 = u1;
      j2 = j1;
      u1 = h;
      j1 = j;
    } else if (j2 < 0 || h < u2) {
      u2 = h;
      j2 = j;
    }
  }
  *u1o = u1;
  *j1o = j1;
  *u2o = u2;
  *j2o = j2;
}

void col_min(const double* c, int64_t n, double row, double* colmin, double* colarg) {
  for (int64_t j = 0; j < n; ++j)
    if (c[j] < colmin[j]) {
      colmin[j] = c[j];
      colarg[j] = row;
    }
}

double lap_relax(const double* c, const double* v, double u1, int64_t n, const double* mask, double* d,
                 int32_t* pred, int32_t row, int64_t* arg) {
  double best = std::numeric_limits<double>::infinity();
  int64_t b = -1;
  for (int64_t j = 0; j < n; ++j) {
    if (mask[j] == 0) {
      const double h = (c[j] - v[j]) - u1;
      if (h < d[j]) {
        d[j] = h;
        pred[j] = row;
      }
    }
    const double x = d[j] + mask[j];
    if (x < best) {
      best = x;
      b = j;
    }
  }
  *arg = b;
  return best;
}

namespace {
template <class T>
T price(const T* C, int64_t ldc, int64_t m, const T* pi, const T* pj, int64_t i0, int64_t nrows, int64_t* arg) {
  T best = std::numeric_limits<T>::infinity();
  int64_t b = -1;
  for (int64_t i = i0; i < i0 + nrows; ++i) {
    const T* c = C + i * ldc;
    for (int64_t j = 0; j < m; ++j) {
      const T r = (c[j] - pj[j]) + pi[i];
      if (r < best) {
        best = r;
        b = i * m + j;
      }
    }
  }
  *arg = b;
  return best;
}
}  // namespace

double price_rows(const double* C, int64_t ldc, int64_t m, const double* pi, const double* pj, int64_t i0,
                  int64_t nrows, int64_t* arg) {
  return price(C, ldc, m, pi, pj, i0, nrows, arg);
}

float price_rows_f32(const float* C, int64_t ldc, int64_t m, const float* pi, const float* pj, int64_t i0,
                     int64_t nrows, int64_t* arg) {
  return price(C, ldc, m, pi, pj, i0, nrows, arg);
}

void to_f32(const double* C, int64_t ldc, int64_t n, int64_t m, float* Cf, int64_t ldf) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) Cf[i * ldf + j] = static_cast<float>(C[i * ldc + j]);
}

void toc_keys(const double* C, int64_t ldc, int64_t n, int64_t m, int ib, double* rmin, double* cmin,
              uint32_t* KT, uint32_t* KTT) {
  const uint32_t low = (uint32_t(1) << ib) - 1;
  const double inf = std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < m; ++j) cmin[j] = inf;
  for (int64_t i = 0; i < n; ++i) {
    double r = inf;
    for (int64_t j = 0; j < m; ++j) {
      const double c = C[i * ldc + j];
      r = c < r ? c : r;
      cmin[j] = c < cmin[j] ? c : cmin[j];
    }
    rmin[i] = r;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      const double c = C[i * ldc + j];
      const double td = (c - rmin[i]) + (c - cmin[j]);
      const float t = static_cast<float>(td < FLT_MAX ? td : FLT_MAX);
      uint32_t u;
      memcpy(&u, &t, sizeof u);
      u &= ~low;
      KT[i * m + j] = u | static_cast<uint32_t>(j);
      KTT[j * n + i] = u | static_cast<uint32_t>(i);
    }
}

void two_min(const uint32_t* key, const uint32_t* mask, int64_t len, uint32_t* k1, uint32_t* k2) {
  uint32_t v1 = ~0u, v2 = ~0u;
  for (int64_t j = 0; j < len; ++j) {
    const uint32_t x = key[j] | mask[j];
    if (x < v1) {
      v2 = v1;
      v1 = x;
    } else if (x < v2) {
      v2 = x;
    }
  }
  *k1 = v1;
  *k2 = v2;
}

int64_t argmax(const float* p, int64_t len) {
  int64_t b = 0;
  for (int64_t j = 1; j < len; ++j)
    if (p[j] > p[b]) b = j;
  return b;
}

void match2(const int32_t* l1, const int32_t* l2, int64_t len, int32_t t, uint64_t* bits) {
  for (int64_t w = 0; w * 64 < len; ++w) bits[w] = 0;
  for (int64_t q = 0; q < len; ++q)
    if (l1[q] == t || l2[q] == t) bits[q >> 6] |= uint64_t(1) << (q & 63);
}

void masked_add(double* pi, float* pf, const uint64_t* bits, int64_t len, double sigma) {
  for (int64_t v = 0; v < len; ++v)
    if ((bits[v >> 6] >> (v & 63)) & 1) pi[v] += sigma;
  if (pf)
    for (int64_t v = 0; v < len; ++v) pf[v] = static_cast<float>(pi[v]);
}

}  // namespace emd_ref
}  // namespace ot
}  // namespace sc
