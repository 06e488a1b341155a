// Real spherical harmonics of 3-vectors in e3nn's basis: per-point math shared
// by the CPU kernels (sh.cc, sh_avx2.cc) and CUDA (cuda/tp/sh.cu).
//
// Basis (e3nn 0.6, o3/_spherical_harmonics.py; checked against e3nn in
// tests/test_tp_sh.py): for degree l the components are m = -l..l, and with
// e3nn's coordinates (x, y, z) the harmonics are Wikipedia's real spherical
// harmonics evaluated at (X, Y, Z) = (z, x, y), i.e. y is the polar axis:
//
//   Y_l0  = q_l^0(y, r^2)
//   Y_lm  = sqrt2 q_l^m(y, r^2) Re (z + i x)^m,   Y_l,-m = sqrt2 q_l^m Im (z + i x)^m   (m > 0)
//
// with q_l^m = K_l^m r^(l-m) P_l^(m)(y/r) (derivative of the Legendre
// polynomial, no Condon-Shortley phase), K_l^m = sqrt((2l+1)(l-m)!/(l+m)!).
// This is "component" normalisation, |Y^l|^2 = 2l+1 on the unit sphere;
// "integral" divides by sqrt(4 pi), "norm" by sqrt(2l+1).  The q are computed
// by the normalised three-term recurrence (stable, values O(1) on the sphere)
//
//   q_m^m     = sqrt((2m+1)/(2m)) q_{m-1}^{m-1},   q_0^0 = 1
//   q_l^m     = a_l^m y q_{l-1}^m - b_l^m r^2 q_{l-2}^m,
//   a_l^m     = sqrt((2l+1)(2l-1) / ((l-m)(l+m))),
//   b_l^m     = sqrt((2l+1)(l-m-1)(l+m-1) / ((2l-3)(l-m)(l+m))),
//
// from (l-m) P_l^m = (2l-1) t P_{l-1}^m - (l+m-1) P_{l-2}^m.  Without
// normalisation (normalize=false) the Y are homogeneous polynomials of degree
// l in (x, y, z), as in e3nn.  With normalize=true the vector is first mapped
// to u = v / max(|v|, 1e-12) (torch.nn.functional.normalize, which e3nn uses):
// a zero vector gives u = 0, so Y^0 = 1 (times the normalisation constant) and
// every Y^{l>0} = 0, finite, and the derivatives are those of v / 1e-12.
//
// Derivatives: the same code runs on jets (value, gradient, Hessian) so the
// first and second derivatives with respect to the vector are exact
// forward-mode derivatives of the value code.
#pragma once
#include <math.h>

#include "scalecore/common/hd.h"
#include "scalecore/common/simd.h"

namespace sc {
namespace tp {

// ---- plain data, the same for every ISA ----------------------------------

// Largest degree the kernels accept (inclusive).  e3nn stops at 11/12.
constexpr int kShMaxL = 24;
constexpr int kShCoeffCount = (kShMaxL + 1) * (kShMaxL + 2) / 2;  // pairs (l, m >= 0)
// Normalisation of the output, e3nn's names.
enum ShNormalization : int { SC_SH_INTEGRAL = 0, SC_SH_COMPONENT = 1, SC_SH_NORM = 2 };
// The clamp of |v| under normalize=true (torch.nn.functional.normalize's eps).
constexpr double kShNormalizeEps = 1e-12;

// Recurrence coefficients (double; built once, copied to the device for CUDA).
// Indexed by sh_pair(l, m) = l(l+1)/2 + m for m >= 0.
struct ShCoeffs {
  double a[kShCoeffCount];  // a_l^m (0 where unused)
  double b[kShCoeffCount];  // b_l^m
  double diag[kShMaxL + 1];  // q_m^m on the unit sphere, times sqrt2 for m > 0
};

}  // namespace tp
}  // namespace sc

// ---- per-point math: one copy per ISA (see hd.h) ------------------------
SC_FAMILY_NS_BEGIN(tp)

// Index of the pair (l, m >= 0) in the recurrence tables.
SC_HD int sh_pair(int l, int m) { return l * (l + 1) / 2 + m; }

SC_HD void sh_coeffs_build(ShCoeffs* c) {
  for (int l = 0; l <= kShMaxL; ++l)
    for (int m = 0; m <= l; ++m) {
      const int k = sh_pair(l, m);
      c->a[k] = 0.0;
      c->b[k] = 0.0;
      if (l > m) {
        const double lm = (double)(l - m), lp = (double)(l + m);
        c->a[k] = sqrt((2.0 * l + 1.0) * (2.0 * l - 1.0) / (lm * lp));
        if (l > m + 1)
          c->b[k] = sqrt((2.0 * l + 1.0) * (lm - 1.0) * (lp - 1.0) / ((2.0 * l - 3.0) * lm * lp));
      }
    }
  double q = 1.0;
  c->diag[0] = 1.0;
  for (int m = 1; m <= kShMaxL; ++m) {
    q *= sqrt((2.0 * m + 1.0) / (2.0 * m));
    c->diag[m] = q * sqrt(2.0);  // the sqrt2 of the real form folded in
  }
}

// ---- jets: value and derivatives w.r.t. the three input coordinates ---------
// Jet1: value v, gradient d[3].  Jet2: plus Hessian h[6] = (xx, yy, zz, xy, xz, yz).
template <class T>
struct Jet1 {
  T v, d[3];
};
template <class T>
struct Jet2 {
  T v, d[3], h[6];
};

// Arithmetic used by the recurrence, for plain values and jets.  `c` is a
// scalar coefficient (a pack broadcast for SIMD).
template <class T>
SC_HD Jet1<T> operator+(const Jet1<T>& a, const Jet1<T>& b) {
  return {a.v + b.v, {a.d[0] + b.d[0], a.d[1] + b.d[1], a.d[2] + b.d[2]}};
}
template <class T>
SC_HD Jet1<T> operator-(const Jet1<T>& a, const Jet1<T>& b) {
  return {a.v - b.v, {a.d[0] - b.d[0], a.d[1] - b.d[1], a.d[2] - b.d[2]}};
}
template <class T>
SC_HD Jet1<T> operator*(const Jet1<T>& a, const Jet1<T>& b) {
  return {a.v * b.v, {a.v * b.d[0] + a.d[0] * b.v, a.v * b.d[1] + a.d[1] * b.v, a.v * b.d[2] + a.d[2] * b.v}};
}
template <class T>
SC_HD Jet1<T> operator*(const T& c, const Jet1<T>& a) {
  return {c * a.v, {c * a.d[0], c * a.d[1], c * a.d[2]}};
}
template <class T>
SC_HD Jet2<T> operator+(const Jet2<T>& a, const Jet2<T>& b) {
  Jet2<T> r;
  r.v = a.v + b.v;
  for (int i = 0; i < 3; ++i) r.d[i] = a.d[i] + b.d[i];
  for (int i = 0; i < 6; ++i) r.h[i] = a.h[i] + b.h[i];
  return r;
}
template <class T>
SC_HD Jet2<T> operator-(const Jet2<T>& a, const Jet2<T>& b) {
  Jet2<T> r;
  r.v = a.v - b.v;
  for (int i = 0; i < 3; ++i) r.d[i] = a.d[i] - b.d[i];
  for (int i = 0; i < 6; ++i) r.h[i] = a.h[i] - b.h[i];
  return r;
}
template <class T>
SC_HD Jet2<T> operator*(const Jet2<T>& a, const Jet2<T>& b) {
  Jet2<T> r;
  r.v = a.v * b.v;
  for (int i = 0; i < 3; ++i) r.d[i] = a.v * b.d[i] + a.d[i] * b.v;
  // h_ij = a h_ij b + a_i b_j + a_j b_i
  constexpr int I[6] = {0, 1, 2, 0, 0, 1}, J[6] = {0, 1, 2, 1, 2, 2};
  for (int k = 0; k < 6; ++k)
    r.h[k] = a.v * b.h[k] + a.h[k] * b.v + a.d[I[k]] * b.d[J[k]] + a.d[J[k]] * b.d[I[k]];
  return r;
}
template <class T>
SC_HD Jet2<T> operator*(const T& c, const Jet2<T>& a) {
  Jet2<T> r;
  r.v = c * a.v;
  for (int i = 0; i < 3; ++i) r.d[i] = c * a.d[i];
  for (int i = 0; i < 6; ++i) r.h[i] = c * a.h[i];
  return r;
}

// Element traits: the underlying value type and constructors.
template <class E>
struct JetTraits {  // plain values
  using value_type = E;
  SC_HD static E constant(E c) { return c; }
  SC_HD static E variable(E x, int) { return x; }
  SC_HD static E val(const E& e) { return e; }
  SC_HD static E select(decltype(E() < E()) m, const E& a, const E& b) { return sc::select(m, a, b); }
  // f(x) with f(v) = fv, f'(v) = f1, f''(v) = f2 (unused for values)
  SC_HD static E apply(const E&, E fv, E, E) { return fv; }
};
template <class T>
struct JetTraits<Jet1<T>> {
  using value_type = T;
  SC_HD static Jet1<T> constant(T c) { return {c, {T(0), T(0), T(0)}}; }
  SC_HD static Jet1<T> variable(T x, int i) {
    Jet1<T> r = constant(x);
    r.d[i] = T(1);
    return r;
  }
  SC_HD static T val(const Jet1<T>& e) { return e.v; }
  template <class M>
  SC_HD static Jet1<T> select(M m, const Jet1<T>& a, const Jet1<T>& b) {
    Jet1<T> r;
    r.v = sc::select(m, a.v, b.v);
    for (int i = 0; i < 3; ++i) r.d[i] = sc::select(m, a.d[i], b.d[i]);
    return r;
  }
  SC_HD static Jet1<T> apply(const Jet1<T>& a, T fv, T f1, T) {
    return {fv, {f1 * a.d[0], f1 * a.d[1], f1 * a.d[2]}};
  }
};
template <class T>
struct JetTraits<Jet2<T>> {
  using value_type = T;
  SC_HD static Jet2<T> constant(T c) {
    Jet2<T> r;
    r.v = c;
    for (int i = 0; i < 3; ++i) r.d[i] = T(0);
    for (int i = 0; i < 6; ++i) r.h[i] = T(0);
    return r;
  }
  SC_HD static Jet2<T> variable(T x, int i) {
    Jet2<T> r = constant(x);
    r.d[i] = T(1);
    return r;
  }
  SC_HD static T val(const Jet2<T>& e) { return e.v; }
  template <class M>
  SC_HD static Jet2<T> select(M m, const Jet2<T>& a, const Jet2<T>& b) {
    Jet2<T> r;
    r.v = sc::select(m, a.v, b.v);
    for (int i = 0; i < 3; ++i) r.d[i] = sc::select(m, a.d[i], b.d[i]);
    for (int i = 0; i < 6; ++i) r.h[i] = sc::select(m, a.h[i], b.h[i]);
    return r;
  }
  // chain rule: (f o a)_ij = f'(a) a_ij + f''(a) a_i a_j
  SC_HD static Jet2<T> apply(const Jet2<T>& a, T fv, T f1, T f2) {
    constexpr int I[6] = {0, 1, 2, 0, 0, 1}, J[6] = {0, 1, 2, 1, 2, 2};
    Jet2<T> r;
    r.v = fv;
    for (int i = 0; i < 3; ++i) r.d[i] = f1 * a.d[i];
    for (int k = 0; k < 6; ++k) r.h[k] = f1 * a.h[k] + f2 * a.d[I[k]] * a.d[J[k]];
    return r;
  }
};

// u = v / max(|v|, eps) (componentwise on jets), e3nn's normalize=True.
template <class E>
SC_HD void sh_normalize(E& x, E& y, E& z) {
  using Tr = JetTraits<E>;
  using T = typename Tr::value_type;
  using S = typename scalar_of<T>::type;
  const E r2 = x * x + y * y + z * z;
  const T r2v = Tr::val(r2);
  const T eps = T(static_cast<S>(kShNormalizeEps));
  const auto big = r2v >= eps * eps;
  // 1/sqrt(r2): f = r2^-1/2, f' = -1/2 r2^-3/2, f'' = 3/4 r2^-5/2 (lanes with
  // r2 < eps^2 use a safe argument and are replaced by the constant 1/eps).
  const T r2s = sc::select(big, r2v, T(S(1)));
  const T inv = T(S(1)) / vsqrt(r2s);
  const T inv3 = inv * inv * inv;
  const E f = Tr::apply(r2, inv, T(S(-0.5)) * inv3, T(S(0.75)) * inv3 * inv * inv);
  const E s = Tr::select(big, f, Tr::constant(T(S(1)) / eps));
  x = s * x;
  y = s * y;
  z = s * z;
}

// Evaluates Y_l^m for 0 <= l <= lmax at (x, y, z) and calls
// sink(l, m, value) for each (every m in -l..l, l ascending).  E is a value
// type (float, double, a SIMD pack) or a Jet of one.
template <class E, class Sink>
SC_HD void sh_eval(int lmax, const ShCoeffs& c, const E& x, const E& y, const E& z, Sink&& sink) {
  using Tr = JetTraits<E>;
  using T = typename Tr::value_type;
  using S = typename scalar_of<T>::type;
  const E r2 = x * x + y * y + z * z;
  // (z + i x)^m, the real form's azimuthal factors; m = 0 first.
  E cm = Tr::constant(T(S(1))), sm = Tr::constant(T(S(0)));
  for (int m = 0; m <= lmax; ++m) {
    if (m > 0) {
      const E cn = z * cm - x * sm;
      sm = z * sm + x * cm;
      cm = cn;
    }
    // q_m^m (times sqrt2 for m > 0) and q_{m+1}^m, then the recurrence in l.
    const T dg = T(static_cast<S>(c.diag[m]));
    E q2 = Tr::constant(T(S(0)));  // q_{l-2}
    E q1 = Tr::constant(dg);       // q_{l-1}, starts at q_m^m
    for (int l = m; l <= lmax; ++l) {
      E q;
      if (l == m) {
        q = q1;
      } else {
        const int k = sh_pair(l, m);
        q = T(static_cast<S>(c.a[k])) * (y * q1);
        if (l > m + 1) q = q - T(static_cast<S>(c.b[k])) * (r2 * q2);
        q2 = q1;
        q1 = q;
      }
      if (m == 0) {
        sink(l, 0, q);
      } else {
        sink(l, m, q * cm);
        sink(l, -m, q * sm);
      }
    }
  }
}

// The per-l output scale of a normalisation (component = 1).
SC_HD double sh_norm_scale(int normalization, int l) {
  if (normalization == SC_SH_INTEGRAL) return 0.28209479177387814347;  // 1/sqrt(4 pi)
  if (normalization == SC_SH_NORM) return 1.0 / sqrt(2.0 * l + 1.0);
  return 1.0;
}

SC_FAMILY_NS_END

// ---- the kernel API (cpp/src/tp/sh.cc dispatches per SIMD level) -----------
#include <cstdint>

namespace sc {
namespace tp {

// One batch of vectors: vec is (n, 3) row-major; outputs are (n, dim)
// row-major, where block l (all 2l+1 components, m = -l..l) starts at column
// col_offset[l] (or is not written when col_offset[l] < 0), 0 <= l <= lmax.
struct ShArgs {
  int lmax = 0;
  int normalization = SC_SH_COMPONENT;
  bool normalize = true;
  const int* col_offset = nullptr;  // lmax + 1 entries
  int64_t dim = 0;
  int64_t n = 0;
};

// out[n, dim] = Y(vec).  Threaded over points; results do not depend on the
// thread count.  S = float or double (computed in S).
template <class S>
void sh_forward(const ShArgs& a, const S* vec, S* out);
// gvec[n, 3] = sum_c gout[n, c] dY_c/dvec  (the vector-Jacobian product).
template <class S>
void sh_backward(const ShArgs& a, const S* vec, const S* gout, S* gvec);
// The derivative of sh_backward along ggvec[n, 3]:
//   ggout[n, c] = sum_j ggvec[n, j] dY_c/dvec_j,
//   gvec2[n, j] = sum_c gout[n, c] sum_k d2Y_c/dvec_j dvec_k ggvec[n, k].
template <class S>
void sh_double_backward(const ShArgs& a, const S* vec, const S* gout, const S* ggvec, S* ggout, S* gvec2);
// Explicit derivatives: jac[n, dim, 3] and, when hess != nullptr, hess[n, dim, 3, 3].
template <class S>
void sh_derivatives(const ShArgs& a, const S* vec, S* out, S* jac, S* hess);

// Single-threaded scalar references of the first three (tests compare every level to them).
template <class S>
void sh_forward_ref(const ShArgs& a, const S* vec, S* out);
template <class S>
void sh_backward_ref(const ShArgs& a, const S* vec, const S* gout, S* gvec);
template <class S>
void sh_double_backward_ref(const ShArgs& a, const S* vec, const S* gout, const S* ggvec, S* ggout, S* gvec2);

// The shared coefficient table (built on first use, thread-safe).
const ShCoeffs& sh_coeffs();

}  // namespace tp
}  // namespace sc
