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
  return c == double(int(c)) && c >= -64.0 && c <= 64.0;
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

// Evaluates f and J over a block of n elements (n <= BLK).
//   feat[k][i]  feature k at element i
//   p[k]        parameters (broadcast or per lane)
//   val, adj    scratch, each n_main * BLK elements
//   f[i], J[i * LDJ + k]
template <int BLK, int LDJ, class T>
SC_HD void expr_eval_block(const ExprProgram& pr, const T* const* feat, int n, const T* p, T* val,
                           T* adj, T* f, T* J) {
  const int nn = pr.n_main;
  for (int j = 0; j < nn; ++j) {
    const ExprNode& nd = pr.main[j];
    T* vj = val + j * BLK;
    if (nd.kind == SC_KIND_VARYING || nd.kind == SC_KIND_FEATURE) {
      if (nd.op == SC_OP_FEATURE) {
        const T* src = feat[nd.a];
        for (int i = 0; i < n; ++i) vj[i] = src[i];
      } else {
        const T* va = val + nd.a * BLK;
        const T* vb = nd.b >= 0 ? val + nd.b * BLK : va;
        for (int i = 0; i < n; ++i) vj[i] = expr_apply(nd, va[i], vb[i]);
      }
    } else {
      // Constant or uniform: one value, broadcast.
      T v;
      if (nd.op == SC_OP_CONST) v = T(nd.c);
      else if (nd.op == SC_OP_PARAM) v = p[nd.a];
      else v = expr_apply(nd, val[nd.a * BLK], nd.b >= 0 ? val[nd.b * BLK] : T(0.0));
      for (int i = 0; i < n; ++i) vj[i] = v;
    }
  }
  const T* vout = val + pr.out * BLK;
  for (int i = 0; i < n; ++i) f[i] = vout[i];
  // Reverse sweep.
  for (int j = 0; j < nn; ++j)
    if (pr.main[j].needs_adj)
      for (int i = 0; i < n; ++i) adj[j * BLK + i] = T(0.0);
  for (int i = 0; i < n; ++i) adj[pr.out * BLK + i] = T(1.0);
  for (int j = nn - 1; j >= 0; --j) {
    const ExprNode& nd = pr.main[j];
    if (!nd.needs_adj || nd.op == SC_OP_PARAM || nd.a < 0) continue;
    const ExprNode& na = pr.main[nd.a];
    const bool ua = na.needs_adj;
    const bool ub = nd.b >= 0 && pr.main[nd.b].needs_adj;
    if (!ua && !ub) continue;
    const T* va = val + nd.a * BLK;
    const T* vb = nd.b >= 0 ? val + nd.b * BLK : va;
    const T* vj = val + j * BLK;
    T* aj = adj + j * BLK;
    T* aa = adj + nd.a * BLK;
    T* ab = nd.b >= 0 ? adj + nd.b * BLK : aa;
    for (int i = 0; i < n; ++i) {
      T dx, dy;
      expr_partials(nd, va[i], vb[i], vj[i], dx, dy);
      if (ua) aa[i] = aa[i] + aj[i] * dx;
      if (ub) ab[i] = ab[i] + aj[i] * dy;
    }
  }
  for (int k = 0; k < pr.n_params; ++k) {
    const int node = pr.param_node[k];
    for (int i = 0; i < n; ++i) J[i * LDJ + k] = node >= 0 ? adj[node * BLK + i] : T(0.0);
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
