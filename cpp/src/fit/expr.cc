// Compilation of a parsed expression into an ExprProgram (see expr.h).
#include <math.h>

#include <string>
#include <vector>

#include "scalecore/common/errors.h"
#include "scalecore/fit/expr.h"
#include "scalecore/fit/fit.h"

namespace sc {
namespace fit {

namespace {

int arity(int op) {
  switch (op) {
    case SC_OP_CONST:
    case SC_OP_PARAM:
    case SC_OP_INPUT:
      return 0;
    case SC_OP_ADD:
    case SC_OP_SUB:
    case SC_OP_MUL:
    case SC_OP_DIV:
    case SC_OP_POW:
    case SC_OP_MIN:
    case SC_OP_MAX:
      return 2;
    default:
      return 1;
  }
}

}  // namespace

Law compile_expr(const std::vector<ExprNodeSpec>& in, int out, int n_params, int n_inputs,
                 const std::string& name) {
  const int n = static_cast<int>(in.size());
  if (n == 0) throw ValueError("expression: empty program");
  if (n > kMaxExprNodes)
    throw ValueError("expression: " + std::to_string(n) + " operations, at most " +
                     std::to_string(kMaxExprNodes) + " are supported");
  if (n_params < 1) throw ValueError("expression: the law has no parameters");
  if (n_params > kMaxParams)
    throw ValueError("expression: " + std::to_string(n_params) + " parameters, at most " +
                     std::to_string(kMaxParams) + " are supported");
  if (n_inputs < 0 || n_inputs > kMaxInputs)
    throw ValueError("expression: at most " + std::to_string(kMaxInputs) + " inputs are supported");
  if (out < 0 || out >= n) throw ValueError("expression: output node out of range");

  // Validate and work out dependencies.
  std::vector<ExprNode> nd(n);
  std::vector<char> has_p(n, 0), has_x(n, 0);
  for (int j = 0; j < n; ++j) {
    const ExprNodeSpec& s = in[j];
    if (s.op < 0 || s.op >= SC_OP_COUNT || s.op == SC_OP_FEATURE)
      throw ValueError("expression: invalid operation code " + std::to_string(s.op));
    const int ar = arity(s.op);
    ExprNode& x = nd[j];
    x.op = static_cast<int8_t>(s.op);
    x.c = s.c;
    if (s.op == SC_OP_PARAM) {
      if (s.a < 0 || s.a >= n_params) throw ValueError("expression: parameter index out of range");
      x.a = static_cast<int16_t>(s.a);
      has_p[j] = 1;
    } else if (s.op == SC_OP_INPUT) {
      if (s.a < 0 || s.a >= n_inputs) throw ValueError("expression: input index out of range");
      x.a = static_cast<int16_t>(s.a);
      has_x[j] = 1;
    } else if (ar >= 1) {
      if (s.a < 0 || s.a >= j || (ar == 2 && (s.b < 0 || s.b >= j)))
        throw ValueError("expression: operands must refer to earlier nodes");
      x.a = static_cast<int16_t>(s.a);
      x.b = static_cast<int16_t>(ar == 2 ? s.b : -1);
      has_p[j] = has_p[s.a] || (ar == 2 && has_p[s.b]);
      has_x[j] = has_x[s.a] || (ar == 2 && has_x[s.b]);
    }
  }
  // Constant folding (in place) and pow with a constant exponent.
  for (int j = 0; j < n; ++j) {
    ExprNode& x = nd[j];
    if (arity(x.op) == 0) continue;
    if (!has_p[j] && !has_x[j]) {
      const double a = nd[x.a].c;
      const double b = x.b >= 0 ? nd[x.b].c : 0.0;
      x.c = expr_apply<double>(x, a, b);
      x.op = SC_OP_CONST;
      x.a = x.b = -1;
      continue;
    }
    if (x.op == SC_OP_POW && nd[x.b].op == SC_OP_CONST) {
      x.op = SC_OP_POWC;
      x.c = nd[x.b].c;
      x.b = -1;
    }
  }
  if (!has_p[out]) throw ValueError("expression: the value does not depend on any parameter");

  // Reachability from the output in the main program; hoisting points are
  // input-only nodes used by a parameter-dependent node.
  std::vector<char> reach(n, 0), hoist(n, 0);
  reach[out] = 1;
  for (int j = n - 1; j >= 0; --j) {
    if (!reach[j]) continue;
    const ExprNode& x = nd[j];
    if (has_x[j] && !has_p[j]) {
      hoist[j] = 1;  // stop here: evaluated in the prep program
      continue;
    }
    if (x.a >= 0 && arity(x.op) >= 1) reach[x.a] = 1;
    if (x.b >= 0) reach[x.b] = 1;
  }

  auto prog = std::make_shared<ExprProgram>();
  ExprProgram& P = *prog;
  P.n_params = n_params;
  P.n_inputs = n_inputs;

  // Prep program: the sub-graphs under hoisted nodes.
  std::vector<char> need_prep(n, 0);
  for (int j = n - 1; j >= 0; --j) {
    if (!(hoist[j] || need_prep[j])) continue;
    need_prep[j] = 1;
    const ExprNode& x = nd[j];
    if (arity(x.op) >= 1 && x.op != SC_OP_CONST) {
      need_prep[x.a] = 1;
      if (x.b >= 0) need_prep[x.b] = 1;
    }
  }
  std::vector<int> prep_index(n, -1), feat_index(n, -1);
  for (int j = 0; j < n; ++j) {
    if (!need_prep[j]) continue;
    ExprNode x = nd[j];
    if (arity(x.op) >= 1 && x.op != SC_OP_CONST) {
      x.a = static_cast<int16_t>(prep_index[x.a]);
      if (x.b >= 0) x.b = static_cast<int16_t>(prep_index[x.b]);
    }
    x.kind = SC_KIND_FEATURE;
    prep_index[j] = P.n_prep;
    P.prep[P.n_prep++] = x;
    if (hoist[j]) {
      if (P.n_features >= kMaxFeatures)
        throw ValueError("expression: more than " + std::to_string(kMaxFeatures) +
                         " distinct input sub-expressions");
      feat_index[j] = P.n_features;
      P.prep_out[P.n_features++] = static_cast<int16_t>(prep_index[j]);
    }
  }

  // Main program.
  std::vector<int> main_index(n, -1);
  for (int k = 0; k < kMaxParams; ++k) P.param_node[k] = -1;
  for (int j = 0; j < n; ++j) {
    if (!reach[j]) continue;
    ExprNode x = nd[j];
    if (hoist[j]) {
      x.op = SC_OP_FEATURE;
      x.a = static_cast<int16_t>(feat_index[j]);
      x.b = -1;
      x.kind = SC_KIND_FEATURE;
    } else if (x.op == SC_OP_CONST) {
      x.kind = SC_KIND_CONST;
    } else if (x.op == SC_OP_PARAM) {
      if (P.param_node[x.a] >= 0) {  // merge a repeated parameter leaf
        main_index[j] = P.param_node[x.a];
        continue;
      }
      x.kind = SC_KIND_UNIFORM;
    } else {
      x.a = static_cast<int16_t>(main_index[x.a]);
      if (x.b >= 0) x.b = static_cast<int16_t>(main_index[x.b]);
      x.kind = has_x[j] ? SC_KIND_VARYING : SC_KIND_UNIFORM;
    }
    x.needs_adj = has_p[j] ? 1 : 0;
    main_index[j] = P.n_main;
    if (x.op == SC_OP_PARAM) P.param_node[x.a] = static_cast<int16_t>(P.n_main);
    P.main[P.n_main++] = x;
  }
  P.out = static_cast<int16_t>(main_index[out]);
  for (int k = 0; k < n_params; ++k)
    if (P.param_node[k] < 0)
      throw ValueError("expression: parameter " + std::to_string(k) + " does not affect the value");

  Law law;
  law.id = SC_LAWID_EXPR;
  law.prog = prog;
  law.name = name;
  law.n_params = n_params;
  law.n_inputs = n_inputs;
  law.n_features = P.n_features;
  return law;
}

}  // namespace fit
}  // namespace sc
