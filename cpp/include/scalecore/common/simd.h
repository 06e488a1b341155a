// The element vocabulary that shared math is written in.
//
// Shared math (laws, LM steps, robust losses) is written as templates over an
// element type T that is either a scalar (float, double: the generic CPU path
// and CUDA) or a SIMD pack (simd_avx2.h: one lane per point or per fit).  For
// both, the same free functions exist:
//   vexp vlog vlog1p vexpm1 vsqrt vabs vmin vmax vtanh vsin vcos vatan
//   select(mask, a, b)   any_of(mask)   all_of(mask)   isfinite_v(x)
// and ordinary arithmetic and comparison operators.  A comparison of scalars
// yields bool, of packs a lane mask.
#pragma once
#include <math.h>

#include "scalecore/common/hd.h"

SC_NS_BEGIN

// ---- scalar overloads ----------------------------------------------------
SC_HD float vexp(float x) { return expf(x); }
SC_HD double vexp(double x) { return exp(x); }
SC_HD float vexpm1(float x) { return expm1f(x); }
SC_HD double vexpm1(double x) { return expm1(x); }
SC_HD float vlog(float x) { return logf(x); }
SC_HD double vlog(double x) { return log(x); }
SC_HD float vlog1p(float x) { return log1pf(x); }
SC_HD double vlog1p(double x) { return log1p(x); }
SC_HD float vsqrt(float x) { return sqrtf(x); }
SC_HD double vsqrt(double x) { return sqrt(x); }
SC_HD float vabs(float x) { return fabsf(x); }
SC_HD double vabs(double x) { return fabs(x); }
SC_HD float vtanh(float x) { return tanhf(x); }
SC_HD double vtanh(double x) { return tanh(x); }
SC_HD float vsin(float x) { return sinf(x); }
SC_HD double vsin(double x) { return sin(x); }
SC_HD float vcos(float x) { return cosf(x); }
SC_HD double vcos(double x) { return cos(x); }
SC_HD float vatan(float x) { return atanf(x); }
SC_HD double vatan(double x) { return atan(x); }
// min/max that return the non-NaN argument are not wanted here: a NaN must
// propagate so that a non-finite trial point is seen and rejected.
SC_HD float vmin(float a, float b) { return (a < b || a != a) ? a : b; }
SC_HD double vmin(double a, double b) { return (a < b || a != a) ? a : b; }
SC_HD float vmax(float a, float b) { return (a > b || a != a) ? a : b; }
SC_HD double vmax(double a, double b) { return (a > b || a != a) ? a : b; }

SC_HD float select(bool m, float a, float b) { return m ? a : b; }
SC_HD double select(bool m, double a, double b) { return m ? a : b; }
SC_HD bool any_of(bool m) { return m; }
SC_HD bool all_of(bool m) { return m; }
SC_HD bool isfinite_v(float x) { return x - x == 0.0f; }
SC_HD bool isfinite_v(double x) { return x - x == 0.0; }

// Lane count of an element type: 1 for scalars.
template <class T>
struct lanes_of {
  static constexpr int value = 1;
};

// Scalar type under an element type.
template <class T>
struct scalar_of {
  using type = T;
};

// Lane `i` of x, and x with lane `i` set to v (scalars: the value itself).
SC_HD float lane(float x, int) { return x; }
SC_HD double lane(double x, int) { return x; }
SC_HD void set_lane(float& x, int, float v) { x = v; }
SC_HD void set_lane(double& x, int, double v) { x = v; }

// Mask of lanes as bits (scalar: bit 0).
SC_HD unsigned mask_bits(bool m) { return m ? 1u : 0u; }

// Lane mask from bits (scalars: bit 0).
SC_HD bool lane_mask(float, unsigned bits) { return bits & 1u; }
SC_HD bool lane_mask(double, unsigned bits) { return bits & 1u; }

// Broadcast a scalar into an element type.
template <class T, class S>
SC_HD T splat(S s) {
  return T(s);
}

SC_NS_END
