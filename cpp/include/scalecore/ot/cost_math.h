// Per-element ground-cost math, written once for every element type: scalars
// (the generic CPU path, the references and CUDA) and SIMD packs (AVX2).
//
// Every metric of metrics.def is a function of <x, y>, |x|^2 and |y|^2, so
// the cost of a block is one GEMM followed by metric_from_dot and the power.
#pragma once
#include "scalecore/common/hd.h"
#include "scalecore/common/simd.h"
#include "scalecore/ot/types.h"

SC_FAMILY_NS_BEGIN(ot)

// d(x, y) from dot = <x, y>, nx2 = |x|^2, ny2 = |y|^2.
//   sqeuclidean  max(nx2 + ny2 - 2 dot, 0)
//   euclidean    sqrt(max(nx2 + ny2 - 2 dot, 0))
//   cosine       1 - dot / (|x| |y|), and 1 when either norm is 0
// (the max guards the rounding of the expanded square, which can dip below 0
// for nearly equal points).
template <class T>
SC_HD T metric_from_dot(int metric, T dot, T nx2, T ny2) {
  if (metric == SC_OT_COSINE) {
    const T den = vsqrt(nx2 * ny2);
    return select(den > T(0), T(1) - dot / select(den > T(0), den, T(1)), T(1));
  }
  T sq = vmax(nx2 + ny2 - T(2) * dot, T(0));
  if (metric == SC_OT_EUCLIDEAN) return vsqrt(sq);
  return sq;
}

// d^p for d >= 0 (p > 0): exact for p = 1 and 2, exp(p log d) otherwise; 0^p = 0.
template <class T>
SC_HD T metric_power(T d, double p) {
  if (p == 1.0) return d;
  if (p == 2.0) return d * d;
  const T s = select(d > T(0), d, T(1));
  return select(d > T(0), vexp(T(p) * vlog(s)), T(0));
}

SC_FAMILY_NS_END
