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

Law compile_expr(const std::vector<ExprNodeSpec>& in, int out_in, int n_params, int n_inputs,
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
  if (n_inputs < 1)
    throw ValueError("expression: the law has no inputs (name at least one in inputs=; the points are its values)");
  if (n_inputs > kMaxInputs)
    throw ValueError("expression: at most " + std::to_string(kMaxInputs) + " inputs are supported");
  if (out_in < 0 || out_in >= n) throw ValueError("expression: output node out of range");
  int out = out_in;

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
      if (x.op == SC_OP_POW) {
        // A constant exponent means a ** c with exact integer powers for any
        // sign of a, folded or not: (-2) ** 2 is 4, not exp(2 log(-2)) = NaN.
        x.op = SC_OP_POWC;
        x.c = b;
      }
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

  // x ** b with x input-only and b parameter-dependent: rewrite as
  // exp(b * log(x)) so that log(x) is hoisted into a per-point feature
  // instead of being taken at every evaluation.  New nodes are appended;
  // operands still precede their users.
  for (int j = 0; j < static_cast<int>(nd.size()); ++j) {
    if (nd[j].op != SC_OP_POW) continue;
    const int a = nd[j].a, b = nd[j].b;
    if (!(has_x[a] && !has_p[a])) continue;
    if (static_cast<int>(nd.size()) + 2 > kMaxExprNodes)
      throw ValueError("expression: too many operations after rewriting powers");
    ExprNode lg;
    lg.op = SC_OP_LOG;
    lg.a = static_cast<int16_t>(a);
    nd.push_back(lg);
    has_p.push_back(0);
    has_x.push_back(1);
    const int ilog = static_cast<int>(nd.size()) - 1;
    ExprNode mul;
    mul.op = SC_OP_MUL;
    mul.a = static_cast<int16_t>(b);
    mul.b = static_cast<int16_t>(ilog);
    nd.push_back(mul);
    has_p.push_back(1);
    has_x.push_back(1);
    const int imul = static_cast<int>(nd.size()) - 1;
    nd[j].op = SC_OP_EXP;
    nd[j].a = static_cast<int16_t>(imul);
    nd[j].b = -1;
  }
  // Restore topological order: appended nodes are used by earlier ones.
  {
    const int total = static_cast<int>(nd.size());
    std::vector<int> order, state(total, 0), newidx(total, -1);
    order.reserve(total);
    std::vector<std::pair<int, int>> stack;
    for (int r = 0; r < total; ++r) {
      if (state[r]) continue;
      stack.push_back({r, 0});
      while (!stack.empty()) {
        auto& [v, phase] = stack.back();
        if (phase == 0) {
          state[v] = 1;
          phase = 1;
          const ExprNode& x = nd[v];
          const int ar = (x.op == SC_OP_CONST || x.op == SC_OP_PARAM || x.op == SC_OP_INPUT) ? 0
                         : (x.b >= 0 ? 2 : 1);
          if (ar >= 2 && !state[x.b]) stack.push_back({x.b, 0});
          if (ar >= 1 && !state[x.a]) stack.push_back({x.a, 0});
        } else {
          if (state[v] == 1) {
            state[v] = 2;
            newidx[v] = static_cast<int>(order.size());
            order.push_back(v);
          }
          stack.pop_back();
        }
      }
    }
    std::vector<ExprNode> nd2(total);
    std::vector<char> hp2(total), hx2(total);
    for (int i = 0; i < total; ++i) {
      ExprNode x = nd[order[i]];
      const bool leaf = x.op == SC_OP_CONST || x.op == SC_OP_PARAM || x.op == SC_OP_INPUT;
      if (!leaf) {
        x.a = static_cast<int16_t>(newidx[x.a]);
        if (x.b >= 0) x.b = static_cast<int16_t>(newidx[x.b]);
      }
      nd2[i] = x;
      hp2[i] = has_p[order[i]];
      hx2[i] = has_x[order[i]];
    }
    out = newidx[out];
    nd.swap(nd2);
    has_p.assign(hp2.begin(), hp2.end());
    has_x.assign(hx2.begin(), hx2.end());
  }
  const int n2 = static_cast<int>(nd.size());

  // Reachability from the output in the main program; hoisting points are
  // input-only nodes used by a parameter-dependent node.
  std::vector<char> reach(n2, 0), hoist(n2, 0);
  reach[out] = 1;
  for (int j = n2 - 1; j >= 0; --j) {
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
  std::vector<char> need_prep(n2, 0);
  for (int j = n2 - 1; j >= 0; --j) {
    if (!(hoist[j] || need_prep[j])) continue;
    need_prep[j] = 1;
    const ExprNode& x = nd[j];
    if (arity(x.op) >= 1 && x.op != SC_OP_CONST) {
      need_prep[x.a] = 1;
      if (x.b >= 0) need_prep[x.b] = 1;
    }
  }
  std::vector<int> prep_index(n2, -1), feat_index(n2, -1);
  for (int j = 0; j < n2; ++j) {
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
  std::vector<int> main_index(n2, -1);
  for (int k = 0; k < kMaxParams; ++k) P.param_node[k] = -1;
  for (int j = 0; j < n2; ++j) {
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
  // First users for the reverse sweep: walking down from the output, the
  // first node met that uses an operand assigns its adjoint.
  {
    std::vector<char> seen(P.n_main, 0);
    seen[P.out] = 1;  // the output's adjoint is set to 1 before the sweep
    for (int j = P.n_main - 1; j >= 0; --j) {
      ExprNode& x = P.main[j];
      if (x.op == SC_OP_CONST || x.op == SC_OP_PARAM || x.op == SC_OP_FEATURE || x.a < 0) continue;
      if (!x.needs_adj) continue;
      if (P.main[x.a].needs_adj && !seen[x.a]) {
        x.a_first = 1;
        seen[x.a] = 1;
      }
      if (x.b >= 0 && P.main[x.b].needs_adj && !seen[x.b]) {
        x.b_first = 1;
        seen[x.b] = 1;
      }
    }
  }
  for (int k = 0; k < n_params; ++k)
    if (P.param_node[k] < 0)
      throw ValueError("expression: parameter " + std::to_string(k) + " does not affect the value");

  // Centering terms (types.h, CenterKind) for the power-law patterns
  //   s * exp(+-e * u)   (SCALE: s' = s exp(+-e c))    e.g. A * N**-alpha
  //   exp(s +- e * u)    (LOGSCALE: s' = s +- e c)     e.g. exp(a - alpha*log(N))
  // where u = log(x) is a feature, s and e parameters, and s appears nowhere
  // else.  A feature is centred only when every one of its uses fits a
  // pattern, so the program's value never changes.
  std::vector<CenterTerm> center;
  {
    const int nm = P.n_main;
    std::vector<std::vector<int>> users(nm);
    for (int j = 0; j < nm; ++j) {
      const ExprNode& x = P.main[j];
      if (x.op == SC_OP_CONST || x.op == SC_OP_PARAM || x.op == SC_OP_FEATURE || x.a < 0) continue;
      users[x.a].push_back(j);
      if (x.b >= 0 && x.b != x.a) users[x.b].push_back(j);
    }
    std::vector<int> param_uses(n_params, 0);
    for (int k = 0; k < n_params; ++k) param_uses[k] = static_cast<int>(users[P.param_node[k]].size());
    auto param_of = [&](int node) { return P.main[node].op == SC_OP_PARAM ? int(P.main[node].a) : -1; };
    // +-e: a parameter node or the negation of one.  Returns the parameter
    // and sets the sign.
    auto signed_param = [&](int node, int& sign) {
      if (P.main[node].op == SC_OP_PARAM) { sign = 1; return int(P.main[node].a); }
      if (P.main[node].op == SC_OP_NEG && P.main[P.main[node].a].op == SC_OP_PARAM && users[node].size() == 1) {
        sign = -1;
        return int(P.main[P.main[node].a].a);
      }
      return -1;
    };
    std::vector<char> mapped(n_params, 0);
    for (int fj = 0; fj < nm; ++fj) {
      if (P.main[fj].op != SC_OP_FEATURE) continue;
      // Only log features (power laws): centering exp(-k x) on a raw x moves
      // the scale parameter by exp(k mean(x)), which can span hundreds of
      // orders of magnitude (NIST MGH17) and send LM down another path.
      if (P.prep[P.prep_out[P.main[fj].a]].op != SC_OP_LOG) continue;
      std::vector<CenterTerm> terms;
      bool ok = !users[fj].empty();
      for (int mu : users[fj]) {
        if (!ok) break;
        const ExprNode& m = P.main[mu];
        ok = m.op == SC_OP_MUL && m.a != m.b && users[mu].size() == 1;
        if (!ok) break;
        int sign = 0;
        const int e = signed_param(m.a == fj ? m.b : m.a, sign);
        const int up = users[mu][0];
        const ExprNode& u = P.main[up];
        CenterTerm t{};
        t.feat = static_cast<int8_t>(P.main[fj].a);
        t.expo = static_cast<int8_t>(e);
        ok = e >= 0;
        if (ok && u.op == SC_OP_EXP && users[up].size() == 1) {
          // s * exp(+-e u)
          const ExprNode& s = P.main[users[up][0]];
          const int sp = s.op == SC_OP_MUL ? param_of(s.a == up ? s.b : s.a) : -1;
          ok = sp >= 0 && sp != e && param_uses[sp] == 1 && !mapped[sp];
          t.kind = SC_CT_SCALE;
          t.param = static_cast<int8_t>(sp);
          t.sign = static_cast<int8_t>(sign);
        } else if (ok && (u.op == SC_OP_ADD || u.op == SC_OP_SUB) && users[up].size() == 1 &&
                   P.main[users[up][0]].op == SC_OP_EXP) {
          // exp(s +- e u): for SUB the term must be the subtrahend.
          const int other = u.a == mu ? u.b : u.a;
          const int sp = param_of(other);
          const bool sub_ok = u.op == SC_OP_ADD || u.b == mu;
          ok = sp >= 0 && sp != e && param_uses[sp] == 1 && !mapped[sp] && sub_ok;
          t.kind = SC_CT_LOGSCALE;
          t.param = static_cast<int8_t>(sp);
          t.sign = static_cast<int8_t>(u.op == SC_OP_SUB ? -sign : sign);
        } else {
          ok = false;
        }
        if (ok) terms.push_back(t);
      }
      // All of a feature's terms or none (a partly centred feature would
      // change the model).
      if (!ok || center.size() + terms.size() > size_t(kMaxCenterTerms)) continue;
      for (const auto& t : terms) {
        mapped[t.param] = 1;
        center.push_back(t);
      }
    }
  }

  Law law;
  law.id = SC_LAWID_EXPR;
  law.center = center;
  law.prog = prog;
  law.name = name;
  law.n_params = n_params;
  law.n_inputs = n_inputs;
  law.n_features = P.n_features;
  return law;
}

}  // namespace fit
}  // namespace sc
