// User-written laws: a compact program evaluated with exact derivatives.
//
// Python parses the expression (python/scalecore/fit/_expr.py) into a list
// of nodes in topological order with common sub-expressions merged; C++
// (expr.cc, compile_expr) classifies every node:
//   constant   - no parameter, no input
//   feature    - depends on inputs only: evaluated once per data point when a
//                problem is prepared (e.g. log(N) in N**-alpha), never per
//                iteration
//   uniform    - depends on parameters only: evaluated once per evaluation
//   varying    - everything else, evaluated per point, with reverse-mode
//                derivatives (one forward and one backward sweep over a block
//                of points; the adjoint of parameter k is column k of J).
// The program is a plain struct of fixed-size arrays so that it can be copied
// to a GPU as is.
#pragma once
#include <stdint.h>

#include "scalecore/common/simd.h"
#include "scalecore/fit/types.h"

namespace sc {
namespace fit {

constexpr int kMaxExprNodes = 128;

enum ExprOp : int8_t {
  SC_OP_CONST = 0,
  SC_OP_PARAM = 1,   // a = parameter index
  SC_OP_INPUT = 2,   // a = raw input index (prep program only)
  SC_OP_FEATURE = 3, // a = feature index (main program only)
  SC_OP_NEG = 4,
  SC_OP_ADD = 5,
  SC_OP_SUB = 6,
  SC_OP_MUL = 7,
  SC_OP_DIV = 8,
  SC_OP_POW = 9,     // a ** b, both non-constant
  SC_OP_POWC = 10,   // a ** c, c a constant (integers exact for any sign of a)
  SC_OP_EXP = 11,
  SC_OP_LOG = 12,
  SC_OP_LOG1P = 13,
  SC_OP_SQRT = 14,
  SC_OP_TANH = 15,
  SC_OP_SIGMOID = 16,
  SC_OP_SOFTPLUS = 17,
  SC_OP_ABS = 18,
  SC_OP_MIN = 19,
  SC_OP_MAX = 20,
  SC_OP_SIN = 21,
  SC_OP_COS = 22,
  SC_OP_ATAN = 23,
  SC_OP_COUNT = 24,
};

enum ExprKind : int8_t {
  SC_KIND_CONST = 0,
  SC_KIND_FEATURE = 1,
  SC_KIND_UNIFORM = 2,
  SC_KIND_VARYING = 3,
};

struct ExprNode {
  int8_t op = SC_OP_CONST;
  int8_t kind = SC_KIND_CONST;
  int8_t needs_adj = 0;  // lies on a path from a parameter to the output
  // Reverse sweep: this node is the first (highest-index) user of operand a
  // (or b), so it assigns the operand's adjoint instead of adding to it.
  int8_t a_first = 0, b_first = 0;
  int16_t a = -1, b = -1;
  double c = 0.0;        // constant value (CONST, POWC exponent)
};

struct ExprProgram {
  int n_params = 0, n_inputs = 0, n_features = 0;
  // Prep program: evaluates the features from raw inputs (ops over INPUT and
  // CONST leaves); feature f is node prep_out[f].
  int n_prep = 0;
  ExprNode prep[kMaxExprNodes];
  int16_t prep_out[kMaxFeatures];
  // Main program over CONST, PARAM and FEATURE leaves; the value is node out.
  int n_main = 0;
  ExprNode main[kMaxExprNodes];
  int16_t out = 0;
  int16_t param_node[kMaxParams];  // node of each parameter (-1: unused)
};

}  // namespace fit
}  // namespace sc

SC_FAMILY_NS_BEGIN(fit)

template <class T>
SC_HD T expr_powi(T a, int n) {
  const bool neg = n < 0;
  unsigned k = static_cast<unsigned>(neg ? -n : n);
  T r = T(1.0), b = a;
  while (k) {
    if (k & 1u) r = r * b;
    b = b * b;
    k >>= 1;
  }
  return neg ? T(1.0) / r : r;
}

SC_HD bool expr_is_small_int(double c) {
  // Range first: int(c) of a value outside int's range is undefined.
  return c >= -64.0 && c <= 64.0 && c == double(int(c));
}

// One node's value from its operands (x = first operand, y = second).
template <class T>
SC_HD T expr_apply(const ExprNode& nd, T x, T y) {
  switch (nd.op) {
    case SC_OP_NEG: return -x;
    case SC_OP_ADD: return x + y;
    case SC_OP_SUB: return x - y;
    case SC_OP_MUL: return x * y;
    case SC_OP_DIV: return x / y;
    case SC_OP_POW: return vexp(y * vlog(x));
    case SC_OP_POWC:
      return expr_is_small_int(nd.c) ? expr_powi(x, int(nd.c)) : vexp(T(nd.c) * vlog(x));
    case SC_OP_EXP: return vexp(x);
    case SC_OP_LOG: return vlog(x);
    case SC_OP_LOG1P: return vlog1p(x);
    case SC_OP_SQRT: return vsqrt(x);
    case SC_OP_TANH: return vtanh(x);
    case SC_OP_SIGMOID: return T(1.0) / (T(1.0) + vexp(-x));
    case SC_OP_SOFTPLUS: return vmax(x, T(0.0)) + vlog1p(vexp(-vabs(x)));
    case SC_OP_ABS: return vabs(x);
    case SC_OP_MIN: return vmin(x, y);
    case SC_OP_MAX: return vmax(x, y);
    case SC_OP_SIN: return vsin(x);
    case SC_OP_COS: return vcos(x);
    case SC_OP_ATAN: return vatan(x);
    default: return T(nd.c);
  }
}

// Partial derivatives of a node with value v w.r.t. its operands x, y.
template <class T>
SC_HD void expr_partials(const ExprNode& nd, T x, T y, T v, T& dx, T& dy) {
  dy = T(0.0);
  switch (nd.op) {
    case SC_OP_NEG: dx = T(-1.0); break;
    case SC_OP_ADD: dx = T(1.0); dy = T(1.0); break;
    case SC_OP_SUB: dx = T(1.0); dy = T(-1.0); break;
    case SC_OP_MUL: dx = y; dy = x; break;
    case SC_OP_DIV: dx = T(1.0) / y; dy = -v / y; break;
    case SC_OP_POW: dx = y * v / x; dy = v * vlog(x); break;
    case SC_OP_POWC:
      if (expr_is_small_int(nd.c))
        dx = nd.c == 0.0 ? T(0.0) : T(nd.c) * expr_powi(x, int(nd.c) - 1);
      else
        dx = T(nd.c) * v / x;
      break;
    case SC_OP_EXP: dx = v; break;
    case SC_OP_LOG: dx = T(1.0) / x; break;
    case SC_OP_LOG1P: dx = T(1.0) / (T(1.0) + x); break;
    case SC_OP_SQRT: dx = T(0.5) / v; break;
    case SC_OP_TANH: dx = T(1.0) - v * v; break;
    case SC_OP_SIGMOID: dx = v * (T(1.0) - v); break;
    case SC_OP_SOFTPLUS: dx = T(1.0) / (T(1.0) + vexp(-x)); break;
    case SC_OP_ABS: dx = select(x < T(0.0), T(-1.0), T(1.0)); break;
    case SC_OP_MIN: { const auto m = x <= y; dx = select(m, T(1.0), T(0.0)); dy = select(m, T(0.0), T(1.0)); break; }
    case SC_OP_MAX: { const auto m = x >= y; dx = select(m, T(1.0), T(0.0)); dy = select(m, T(0.0), T(1.0)); break; }
    case SC_OP_SIN: dx = vcos(x); break;
    case SC_OP_COS: dx = -vsin(x); break;
    case SC_OP_ATAN: dx = T(1.0) / (T(1.0) + x * x); break;
    default: dx = T(0.0); break;
  }
}

// Operand accessors: an array, or one value broadcast (uniform nodes).
template <class T>
struct ExprArr {
  const T* p;
  SC_HD T operator[](int i) const { return p[i]; }
};
template <class T>
struct ExprUni {
  T v;
  SC_HD T operator[](int) const { return v; }
};

// Forward value of node `nd` over n elements: one switch per node, loops
// inside (the opcode never changes within a block).
template <class T, class A, class B>
SC_HD void expr_forward(const ExprNode& nd, A va, B vb, T* vj, int n) {
#define SC_EXPR_LOOP(EXPR)                                   \
  for (int i = 0; i < n; ++i) {                              \
    const T x = va[i];                                       \
    const T y = vb[i];                                       \
    (void)x;                                                 \
    (void)y;                                                 \
    vj[i] = (EXPR);                                          \
  }                                                          \
  return;
  switch (nd.op) {
    case SC_OP_NEG: SC_EXPR_LOOP(-x)
    case SC_OP_ADD: SC_EXPR_LOOP(x + y)
    case SC_OP_SUB: SC_EXPR_LOOP(x - y)
    case SC_OP_MUL: SC_EXPR_LOOP(x * y)
    case SC_OP_DIV: SC_EXPR_LOOP(x / y)
    case SC_OP_EXP: SC_EXPR_LOOP(vexp(x))
    case SC_OP_LOG: SC_EXPR_LOOP(vlog(x))
    default:
      for (int i = 0; i < n; ++i) vj[i] = expr_apply(nd, va[i], vb[i]);
      return;
  }
#undef SC_EXPR_LOOP
}

// d += c (or d = c when `set`).
template <class T>
SC_HD void expr_acc(T& d, T c, bool set) {
  d = set ? c : d + c;
}

// Reverse step of node `nd`: adjoints of the operands that need them.
template <class T, class A, class B>
SC_HD void expr_backward(const ExprNode& nd, A va, B vb, const T* vj, const T* aj, T* aa, T* ab, bool ua, bool ub,
                         int n) {
  const bool sa = nd.a_first, sb = nd.b_first;
  switch (nd.op) {
    case SC_OP_ADD:
      if (ua) for (int i = 0; i < n; ++i) expr_acc(aa[i], aj[i], sa);
      if (ub) for (int i = 0; i < n; ++i) expr_acc(ab[i], aj[i], sb);
      return;
    case SC_OP_SUB:
      if (ua) for (int i = 0; i < n; ++i) expr_acc(aa[i], aj[i], sa);
      if (ub) for (int i = 0; i < n; ++i) expr_acc(ab[i], -aj[i], sb);
      return;
    case SC_OP_NEG:
      for (int i = 0; i < n; ++i) expr_acc(aa[i], -aj[i], sa);
      return;
    case SC_OP_MUL:
      if (ua) for (int i = 0; i < n; ++i) expr_acc(aa[i], aj[i] * vb[i], sa);
      if (ub) for (int i = 0; i < n; ++i) expr_acc(ab[i], aj[i] * va[i], sb);
      return;
    case SC_OP_EXP:
      for (int i = 0; i < n; ++i) expr_acc(aa[i], aj[i] * vj[i], sa);
      return;
    default:
      for (int i = 0; i < n; ++i) {
        T dx, dy;
        expr_partials(nd, va[i], vb[i], vj[i], dx, dy);
        if (ua) expr_acc(aa[i], aj[i] * dx, sa);
        if (ub) expr_acc(ab[i], aj[i] * dy, sb);
      }
      return;
  }
}

// Evaluates f and J over a block of n elements (n <= BLK).
//   feat[k]   features of the block (element i at feat[k][i])
//   p[k]      parameters (broadcast or per lane)
//   val, adj  scratch, each n_main * BLK elements
// On return f points at the n values and Jcol[k] at the n entries of
// column k of J (nullptr: the column is zero).  Feature nodes read their
// arrays in place and uniform nodes stay single values; only parameter-
// dependent, point-dependent nodes get arrays.
template <int BLK, class T>
SC_HD void expr_eval_block(const ExprProgram& pr, const T* const* feat, int n, const T* p, T* val, T* adj,
                           const T*& f, const T** Jcol) {
  const int nn = pr.n_main;
  const T* vp[kMaxExprNodes];  // array of a node's values, or nullptr (uniform)
  T uv[kMaxExprNodes];         // value of a uniform node
  for (int j = 0; j < nn; ++j) {
    const ExprNode& nd = pr.main[j];
    if (nd.op == SC_OP_FEATURE) {
      vp[j] = feat[nd.a];
    } else if (nd.kind != SC_KIND_VARYING) {
      vp[j] = nullptr;
      if (nd.op == SC_OP_CONST) uv[j] = T(nd.c);
      else if (nd.op == SC_OP_PARAM) uv[j] = p[nd.a];
      else uv[j] = expr_apply(nd, uv[nd.a], nd.b >= 0 ? uv[nd.b] : T(0.0));
    } else {
      T* vj = val + j * BLK;
      vp[j] = vj;
      const int a = nd.a, b = nd.b >= 0 ? nd.b : nd.a;
      if (vp[a] && vp[b]) expr_forward(nd, ExprArr<T>{vp[a]}, ExprArr<T>{vp[b]}, vj, n);
      else if (vp[a]) expr_forward(nd, ExprArr<T>{vp[a]}, ExprUni<T>{uv[b]}, vj, n);
      else expr_forward(nd, ExprUni<T>{uv[a]}, ExprArr<T>{vp[b]}, vj, n);
    }
  }
  if (vp[pr.out]) {
    f = vp[pr.out];
  } else {
    // A law that is constant over the points (its value depends on the
    // parameters only, e.g. unused inputs): the output is uniform; give it
    // one value per point.  Its adjoint is per point like every other.
    T* vo = val + pr.out * BLK;
    for (int i = 0; i < n; ++i) vo[i] = uv[pr.out];
    f = vo;
  }
  // Reverse sweep from the output's adjoint 1 at every point.
  for (int i = 0; i < n; ++i) adj[pr.out * BLK + i] = T(1.0);
  for (int j = nn - 1; j >= 0; --j) {
    const ExprNode& nd = pr.main[j];
    if (!nd.needs_adj || nd.op == SC_OP_PARAM || nd.a < 0 || nd.op == SC_OP_FEATURE) continue;
    const ExprNode& na = pr.main[nd.a];
    const bool ua = na.needs_adj;
    const bool ub = nd.b >= 0 && pr.main[nd.b].needs_adj;
    if (!ua && !ub) continue;
    const int a = nd.a, b = nd.b >= 0 ? nd.b : nd.a;
    T* aa = adj + a * BLK;
    T* ab = adj + b * BLK;
    const T* vj = vp[j] ? vp[j] : val + j * BLK;  // uniform nodes' values are never read below
    const T* aj = adj + j * BLK;
    if (vp[a] && vp[b]) expr_backward(nd, ExprArr<T>{vp[a]}, ExprArr<T>{vp[b]}, vj, aj, aa, ab, ua, ub, n);
    else if (vp[a]) expr_backward(nd, ExprArr<T>{vp[a]}, ExprUni<T>{uv[b]}, vj, aj, aa, ab, ua, ub, n);
    else if (vp[b]) expr_backward(nd, ExprUni<T>{uv[a]}, ExprArr<T>{vp[b]}, vj, aj, aa, ab, ua, ub, n);
    else {
      // A uniform node (parameters only): its value is one number, but its
      // adjoint is per point.  Partials from the single operand values.
      T dx, dy;
      expr_partials(nd, uv[a], uv[b], uv[j], dx, dy);
      if (ua) for (int i = 0; i < n; ++i) expr_acc(aa[i], aj[i] * dx, nd.a_first);
      if (ub) for (int i = 0; i < n; ++i) expr_acc(ab[i], aj[i] * dy, nd.b_first);
    }
  }
  for (int k = 0; k < pr.n_params; ++k) {
    const int node = pr.param_node[k];
    Jcol[k] = node >= 0 ? adj + node * BLK : nullptr;
  }
}

// The prep program at one point, in double: raw inputs -> features.
SC_HD void expr_features(const ExprProgram& pr, const double* x, double* val, double* feat) {
  for (int j = 0; j < pr.n_prep; ++j) {
    const ExprNode& nd = pr.prep[j];
    if (nd.op == SC_OP_INPUT) val[j] = x[nd.a];
    else if (nd.op == SC_OP_CONST) val[j] = nd.c;
    else val[j] = expr_apply(nd, val[nd.a], nd.b >= 0 ? val[nd.b] : 0.0);
  }
  for (int f = 0; f < pr.n_features; ++f) feat[f] = val[pr.prep_out[f]];
}

SC_FAMILY_NS_END
