// Fuzz target "expr": law-expression programs (the node lists Python's parser
// hands to compile_expr), compiled, then evaluated with their Jacobian by
// law_predict (the block interpreter of expr.h, in double for float32 and
// float64 data alike; the SIMD fit kernels' copies of the interpreter are
// covered by the fit tests, which .ci/run repeats at every level).
//
// Oracle: a plain tree walk of the same nodes in long double, rounded to
// double at every node, following the formulas of expr_apply with the
// standard library's functions, and a first-order bound on the rounding
// error propagated through every node.  Where the reference is finite and
// well conditioned (bound <= 1e-3 of the value), the value must lie within
// 32x the bound (plus the rounding to the data type); where a feature (an
// input-only sub-expression) is not finite, the point must be NaN; where the
// reference is NaN and no operand on its way was ill conditioned or passed a
// min/max (their NaN rule is the SIMD one), the value must be NaN.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "scalecore/common/dispatch.h"
#include "scalecore/common/errors.h"
#include "scalecore/fit/expr.h"
#include "scalecore/fit/fit.h"
#include "scalecore/fuzz/fuzz.h"

namespace sc {
namespace fuzz {

namespace {

using fit::ExprNodeSpec;
using LD = long double;

struct Ref {
  LD v = 0;        // value
  LD e = 0;        // first-order bound on the tested precision's error
  bool unknown = false;  // NaN rule or range not modelled: no check through it
  bool fragile = false;  // an operand on the way was ill conditioned (bound > 1e-3 of its value)
  bool has_p = false, has_x = false;
};

constexpr double kConsts[] = {0.0, 1.0, -1.0, 2.0, 0.5, -0.5, 3.0, 1e-3, 10.0, 100.0, -2.0, 1.5, 0.25, -3.0, 7.0};

// The reference of node i.  u: the unit roundoff of the tested type.
Ref apply(const ExprNodeSpec& s, const Ref& A, const Ref& B, LD u) {
  Ref r;
  r.has_p = A.has_p || B.has_p;
  r.has_x = A.has_x || B.has_x;
  r.unknown = A.unknown || B.unknown;
  auto ill = [](const Ref& o) { return !(o.e <= 1e-3L * std::fabs(o.v)) && !std::isnan(o.v); };
  r.fragile = A.fragile || B.fragile || ill(A) || ill(B);
  const LD x = A.v, y = B.v, ex = A.e, ey = B.e;
  LD v = 0, e = 0;
  switch (s.op) {
    case fit::SC_OP_NEG: v = -x; e = ex; break;
    case fit::SC_OP_ADD: v = x + y; e = ex + ey + u * std::fabs(v); break;
    case fit::SC_OP_SUB: v = x - y; e = ex + ey + u * std::fabs(v); break;
    case fit::SC_OP_MUL: v = x * y; e = std::fabs(y) * ex + std::fabs(x) * ey + u * std::fabs(v); break;
    case fit::SC_OP_DIV:
      v = x / y;
      e = ex / std::fabs(y) + std::fabs(v / y) * ey + u * std::fabs(v);
      break;
    case fit::SC_OP_POW: {
      const LD z = y * std::log(x);
      const LD ez = std::fabs(std::log(x)) * ey + std::fabs(y) * ex / std::fabs(x) + 4 * u * (std::fabs(z) + 1);
      v = std::exp(z);
      e = std::fabs(v) * ez + 4 * u * std::fabs(v);
      break;
    }
    case fit::SC_OP_POWC:
      if (fit::expr_is_small_int(s.c)) {
        const int n = static_cast<int>(s.c);
        v = n == 0 ? LD(1) : std::pow(x, static_cast<LD>(n));
        if (n < 0) v = LD(1) / std::pow(x, static_cast<LD>(-n));
        e = (n == 0 ? LD(0) : std::fabs(n * std::pow(x, static_cast<LD>(n - 1))) * ex) +
            (2 * std::log2(std::fabs(static_cast<LD>(n)) + 1) + 2) * u * std::fabs(v);
      } else {
        const LD z = static_cast<LD>(s.c) * std::log(x);
        v = std::exp(z);
        e = std::fabs(v) * (std::fabs(static_cast<LD>(s.c)) * ex / std::fabs(x) + 4 * u * (std::fabs(z) + 1)) +
            4 * u * std::fabs(v);
      }
      break;
    case fit::SC_OP_EXP: v = std::exp(x); e = std::fabs(v) * (ex + 4 * u); break;
    case fit::SC_OP_LOG: v = std::log(x); e = ex / std::fabs(x) + 4 * u * std::fabs(v); break;
    case fit::SC_OP_LOG1P: v = std::log1p(x); e = ex / std::fabs(1 + x) + 4 * u * std::fabs(v); break;
    case fit::SC_OP_SQRT: v = std::sqrt(x); e = ex / (2 * std::fabs(v)) + 2 * u * std::fabs(v); break;
    case fit::SC_OP_TANH: v = std::tanh(x); e = (1 - v * v) * ex + 4 * u * std::fabs(v); break;
    case fit::SC_OP_SIGMOID: v = 1 / (1 + std::exp(-x)); e = v * (1 - v) * ex + 6 * u * std::fabs(v); break;
    case fit::SC_OP_SOFTPLUS:
      v = std::fmax(x, LD(0)) + std::log1p(std::exp(-std::fabs(x)));
      e = ex / (1 + std::exp(-x)) + 8 * u * std::fabs(v);
      break;
    case fit::SC_OP_ABS: v = std::fabs(x); e = ex; break;
    case fit::SC_OP_MIN:
    case fit::SC_OP_MAX:
      if (std::isnan(x) || std::isnan(y)) r.unknown = true;
      v = s.op == fit::SC_OP_MIN ? std::fmin(x, y) : std::fmax(x, y);
      e = std::fmax(ex, ey);
      break;
    case fit::SC_OP_SIN:
    case fit::SC_OP_COS:
      // Argument reduction is only modelled for moderate arguments.
      if (!(std::fabs(x) < 1e4L)) r.unknown = true;
      v = s.op == fit::SC_OP_SIN ? std::sin(x) : std::cos(x);
      e = ex + 8 * u * (std::fabs(v) + u * std::fabs(x) + u);
      break;
    case fit::SC_OP_ATAN: v = std::atan(x); e = ex / (1 + x * x) + 4 * u * std::fabs(v); break;
    default: break;
  }
  r.v = v;
  r.e = std::isfinite(e) ? e : std::numeric_limits<LD>::infinity();
  return r;
}

template <class S>
void check_level(const fit::Law& law, const std::vector<ExprNodeSpec>& nodes, int out, int n_params, int n_inputs,
                 Reader& rd, const char* level) {
  constexpr int64_t M = 6;
  const LD u = std::numeric_limits<S>::epsilon() / 2;   // the output's rounding
  const LD ud = std::numeric_limits<double>::epsilon() / 2;  // the evaluation's
  std::vector<S> xs(static_cast<size_t>(n_inputs * M)), p(static_cast<size_t>(n_params));
  for (auto& v : xs) v = static_cast<S>(std::exp(rd.uniform(-3.0, 5.0)));
  for (auto& v : p) v = static_cast<S>(rd.uniform(-2.0, 2.0));
  fit::View2<S> xv[fit::kMaxInputs];
  for (int i = 0; i < n_inputs; ++i) xv[i] = {xs.data() + i * M, 0};
  std::vector<S> val(M), jac(static_cast<size_t>(M * n_params));
  fit::law_predict<S>(law, xv, n_inputs, 1, M, p.data(), 0, val.data(), jac.data());
  std::vector<S> val2(M);
  fit::law_predict<S>(law, xv, n_inputs, 1, M, p.data(), 0, val2.data(), nullptr);

  // Which nodes are reachable from the output, and which are features.
  const int n = static_cast<int>(nodes.size());
  auto binary = [](int op) {
    return (op >= fit::SC_OP_ADD && op <= fit::SC_OP_POW) || op == fit::SC_OP_MIN || op == fit::SC_OP_MAX;
  };
  std::vector<char> live(n, 0);
  live[out] = 1;
  for (int i = n - 1; i >= 0; --i) {
    const auto& s = nodes[i];
    if (!live[i] || s.op <= fit::SC_OP_FEATURE) continue;
    if (s.a >= 0) live[s.a] = 1;
    if (s.b >= 0 && binary(s.op)) live[s.b] = 1;
  }
  for (int64_t m = 0; m < M; ++m) {
    std::vector<Ref> r(n);
    for (int i = 0; i < n; ++i) {
      const auto& s = nodes[i];
      Ref& q = r[i];
      if (s.op == fit::SC_OP_CONST) {
        q.v = static_cast<LD>(s.c);
      } else if (s.op == fit::SC_OP_PARAM) {
        q.v = p[s.a];
        q.has_p = true;
      } else if (s.op == fit::SC_OP_INPUT) {
        q.v = xs[s.a * M + m];
        q.has_x = true;
      } else {
        // law_predict runs the program in double whatever S (features by
        // the prep program, the rest by the block interpreter) and rounds
        // the value to S at the end.
        const Ref zero;
        ExprNodeSpec t = s;
        const Ref* folded = nullptr;
        if (t.op == fit::SC_OP_POW && t.b >= 0 && !r[t.b].has_p && !r[t.b].has_x) {
          // compile_expr folds a constant exponent: a ** c (exact integer powers for any sign of a)
          t.op = fit::SC_OP_POWC;
          t.c = static_cast<double>(r[t.b].v);
          folded = &r[t.b];
        }
        q = apply(t, r[t.a], binary(t.op) ? r[t.b] : zero, ud);
        if (folded) {
          // The folded exponent's own model limits still hold: a NaN rule
          // the reference does not model (min/max of a NaN) makes c itself
          // unknown, and so the power (found by fuzz_expr: max(NaN, -1) is
          // NaN in scalecore, fmax's -1 in the model).
          q.unknown = q.unknown || folded->unknown;
          q.fragile = q.fragile || folded->fragile;
        }
        // Each node rounded to double, so that its range (overflow to Inf,
        // underflow to 0) is the kernel's, not long double's.
        q.v = static_cast<LD>(static_cast<double>(q.v));
        q.e += std::numeric_limits<double>::denorm_min();
      }
    }
    // A feature that is finite in double but not in S, or whose NaN is not
    // robust, leaves the point unchecked.
    bool bad_feature = false, skip = false;
    for (int i = 0; i < n; ++i) {
      const auto& s = nodes[i];
      if (!live[i] || s.op <= fit::SC_OP_FEATURE || !r[i].has_p) continue;
      for (int o : {static_cast<int>(s.a), binary(s.op) ? static_cast<int>(s.b) : -1}) {
        if (o < 0 || !r[o].has_x || r[o].has_p) continue;
        if (!std::isfinite(r[o].v) && !r[o].unknown && !r[o].fragile)
          bad_feature = true;
        else if (!std::isfinite(r[o].v) || !std::isfinite(static_cast<S>(r[o].v)))
          skip = true;
      }
    }
    if (skip && !bad_feature) continue;
    if (verbose() && m == 0)
      for (int i = 0; i < n; ++i)
        std::fprintf(stderr, "  ref %d: %Lg +- %Lg%s\n", i, r[i].v, r[i].e, r[i].unknown ? " (unknown)" : "");
    const Ref& R = r[out];
    const S got = val[m];
    auto where = [&] {
      return std::string(level) + (sizeof(S) == 8 ? " float64" : " float32") + ", point " + std::to_string(m) +
             ": got " + std::to_string(static_cast<double>(got)) + ", reference " +
             std::to_string(static_cast<double>(R.v)) + " +- " + std::to_string(static_cast<double>(R.e));
    };
    if (!(val2[m] == got || (std::isnan(val2[m]) && std::isnan(got))))
      fail("expr: the value differs with and without the Jacobian, " + where());
    if (bad_feature) {
      if (!std::isnan(got)) fail("expr: a feature is not finite but the value is not NaN, " + where());
      continue;
    }
    if (R.unknown) continue;
    const LD ref_t = static_cast<LD>(static_cast<S>(R.v));  // the reference as the tested type holds it
    if (std::isnan(R.v)) {
      // A NaN is robust only where no operand on its way was ill conditioned.
      if (!R.fragile && !std::isnan(got)) fail("expr: the reference is NaN, " + where());
      continue;
    }
    if (!std::isfinite(ref_t) || !std::isfinite(R.e) || R.e > 1e-3L * std::fabs(R.v)) continue;
    const LD tol = 32 * R.e + 4 * u * std::fabs(R.v) + std::numeric_limits<S>::denorm_min();
    if (!(std::fabs(static_cast<LD>(got) - R.v) <= tol)) fail("expr: value outside the error bound, " + where());
  }
}

}  // namespace

void fuzz_expr(const uint8_t* data, size_t size) {
  Reader rd(data, size);
  // Mostly valid programs: the parameter and input leaves first, then
  // operations whose operands prefer nodes not used yet (so that every leaf
  // tends to reach the output), with every kind of malformation now and then.
  const uint8_t shape = rd.u8();
  const int n_params = shape < 8 ? rd.range(0, 17) : rd.range(1, 4);  // 0 and 17: outside the limits
  const int n_inputs = rd.range(1, 3);
  const int n = rd.range(1, 40);
  std::vector<ExprNodeSpec> nodes(static_cast<size_t>(n));
  std::vector<int> unused;
  auto operand = [&](int i) {
    const uint8_t k = rd.u8();
    if (k < 3) return rd.range(-1, i + 2);  // out of range, or not an earlier node
    if (!unused.empty() && k < 190) {
      const int j = rd.range(0, static_cast<int>(unused.size()) - 1);
      const int v = unused[j];
      unused.erase(unused.begin() + j);
      return v;
    }
    return i > 0 ? rd.range(0, i - 1) : -1;
  };
  for (int i = 0; i < n; ++i) {
    ExprNodeSpec& s = nodes[i];
    const uint8_t k = rd.u8();
    if (k < 3) {
      s.op = k == 0 ? 24 + rd.u8() % 8 : -1 - rd.u8() % 4;  // invalid codes
    } else if (i < n_params + n_inputs && k < 240) {
      s.op = i < n_params ? fit::SC_OP_PARAM : fit::SC_OP_INPUT;
      s.a = i < n_params ? i : i - n_params;
    } else if (k < 40) {
      const int leaf = rd.u8() % 3;
      s.op = leaf == 0 ? fit::SC_OP_CONST : leaf == 1 ? fit::SC_OP_PARAM : fit::SC_OP_INPUT;
      if (s.op == fit::SC_OP_PARAM) s.a = rd.range(-1, n_params);
      if (s.op == fit::SC_OP_INPUT) s.a = rd.range(-1, n_inputs);
    } else {
      s.op = fit::SC_OP_NEG + rd.u8() % (fit::SC_OP_COUNT - fit::SC_OP_NEG);
      if (s.op == fit::SC_OP_FEATURE) s.op = fit::SC_OP_ADD;
      s.a = operand(i);
      s.b = operand(i);
    }
    const uint8_t c = rd.u8();
    s.c = c < 240 ? kConsts[c % (sizeof(kConsts) / sizeof(kConsts[0]))] : rd.f64_bits();
    unused.push_back(i);
  }
  const int out = rd.u8() < 250 ? n - 1 : rd.range(-1, n);
  if (verbose()) {  // triage: print the program
    std::fprintf(stderr, "expr: %d params, %d inputs, out %d\n", n_params, n_inputs, out);
    for (int i = 0; i < n; ++i)
      std::fprintf(stderr, "  %d: op %d a %d b %d c %g\n", i, nodes[i].op, nodes[i].a, nodes[i].b, nodes[i].c);
  }
  fit::Law law;
  try {
    law = fit::compile_expr(nodes, out, n_params, n_inputs, "fuzz");
  } catch (const ValueError& e) {
    if (verbose()) std::fprintf(stderr, "expr: rejected: %s\n", e.what());
    return;
  }
  if (verbose()) std::fprintf(stderr, "expr: compiled\n");
  if (law.n_params != n_params || law.n_inputs != n_inputs)
    fail("expr: compiled law has " + std::to_string(law.n_params) + " parameters / " +
         std::to_string(law.n_inputs) + " inputs, expected " + std::to_string(n_params) + " / " +
         std::to_string(n_inputs));
  Reader rd64 = rd, rd32 = rd;  // the same points in both types
  check_level<double>(law, nodes, out, n_params, n_inputs, rd64, simd_level_name(simd_level()));
  check_level<float>(law, nodes, out, n_params, n_inputs, rd32, simd_level_name(simd_level()));
}

}  // namespace fuzz
}  // namespace sc
