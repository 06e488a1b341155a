// The plain fast Walsh-Hadamard transform (reference and generic level, and
// the pattern every SIMD level reproduces operation for operation, so all
// levels give bit-identical results).  Internal to cpp/src/lowbit.
//
// Block of n = 2^k floats, in place:
//   forward: x <- (1/sqrt(n)) H (s .* x);   inverse: x <- s .* ((1/sqrt(n)) H x)
// H the Sylvester Hadamard matrix (H_1 = [1], H_2n = [[H, H], [H, -H]],
// scipy.linalg.hadamard), butterflies for h = 1, 2, 4, ...: (a, b) -> (a + b,
// a - b) on x[j], x[j + h]; then one multiply by float(1 / sqrt(n)).
#pragma once
#include <math.h>
#include <stdint.h>

#include "scalecore/common/hd.h"

SC_FAMILY_NS_BEGIN(lowbit)
namespace plain {

inline float hadamard_norm(int64_t n) { return static_cast<float>(1.0 / sqrt(static_cast<double>(n))); }

inline void fwht_butterflies(float* x, int64_t n, int64_t h0) {
  for (int64_t h = h0; h < n; h <<= 1)
    for (int64_t i = 0; i < n; i += 2 * h)
      for (int64_t j = i; j < i + h; ++j) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
}

inline void hadamard(float* x, int64_t nb, int64_t n, const float* signs, bool inverse) {
  const float c = hadamard_norm(n);
  for (int64_t b = 0; b < nb; ++b) {
    float* xb = x + b * n;
    if (signs && !inverse)
      for (int64_t j = 0; j < n; ++j) xb[j] *= signs[j];
    fwht_butterflies(xb, n, 1);
    for (int64_t j = 0; j < n; ++j) xb[j] *= c;
    if (signs && inverse)
      for (int64_t j = 0; j < n; ++j) xb[j] *= signs[j];
  }
}

}  // namespace plain
SC_FAMILY_NS_END
