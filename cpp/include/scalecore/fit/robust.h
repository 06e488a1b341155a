// Robust losses with scipy.optimize.least_squares' conventions.
//
// For a residual r and scale c (f_scale), z = (r/c)^2 and the cost of one
// point is (c^2 / 2) rho(z).  The LM step works on the scaled system of
// Triggs et al. ("Bundle adjustment - a modern synthesis", sec. 4.3), as
// scipy does:  J_s = sqrt(rho' + 2 rho'' z) J,  r_s = rho' r / sqrt(...),
// whose normal equations have the exact gradient J^T rho' r of the cost.
//
//   linear   rho = z
//   huber    rho = z (z <= 1),  2 sqrt(z) - 1 (z > 1)
//   soft_l1  rho = 2 (sqrt(1 + z) - 1)
//   cauchy   rho = log(1 + z)
//   arctan   rho = arctan(z)
#pragma once
#include "scalecore/common/simd.h"
#include "scalecore/fit/types.h"

SC_FAMILY_NS_BEGIN(fit)

// Returns rho(z); sets d1 = rho'(z), d2 = rho''(z).
template <class T>
SC_HD T robust_rho(Loss loss, T z, T& d1, T& d2) {
  switch (loss) {
    case SC_LOSS_HUBER: {
      const auto small = z <= T(1.0);
      const T sz = vsqrt(z);
      const T isz = T(1.0) / sz;
      d1 = select(small, T(1.0), isz);
      d2 = select(small, T(0.0), T(-0.5) * isz * isz * isz);
      return select(small, z, T(2.0) * sz - T(1.0));
    }
    case SC_LOSS_SOFT_L1: {
      const T t = T(1.0) + z;
      const T st = vsqrt(t);
      d1 = T(1.0) / st;
      d2 = T(-0.5) * d1 / t;
      return T(2.0) * (st - T(1.0));
    }
    case SC_LOSS_CAUCHY: {
      const T t = T(1.0) + z;
      d1 = T(1.0) / t;
      d2 = -d1 * d1;
      return vlog1p(z);
    }
    case SC_LOSS_ARCTAN: {
      const T t = T(1.0) + z * z;
      d1 = T(1.0) / t;
      d2 = T(-2.0) * z * d1 * d1;
      return vatan(z);
    }
    case SC_LOSS_LINEAR:
    default:
      d1 = T(1.0);
      d2 = T(0.0);
      return z;
  }
}

SC_FAMILY_NS_END
