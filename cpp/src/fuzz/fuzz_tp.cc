// Fuzz target "tp_plan": tensor-product plans (irreps, instructions and CG
// tensors as the bindings pass them to tp_plan_build), then every slot of the
// product (out, grad x, grad y, grad weight) and the one-pass backward at
// every SIMD level, float64 and float32, against the plain reference kernel
// (dense CG loops in double, serial).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "scalecore/common/dispatch.h"
#include "scalecore/common/errors.h"
#include "scalecore/fuzz/fuzz.h"
#include "scalecore/tp/product.h"
#include "scalecore/tp/wigner.h"

namespace sc {
namespace fuzz {

namespace {

using tp::TpIrrep;
using tp::TpInstruction;
using tp::TpOperand;
using tp::TpPlan;

std::vector<TpIrrep> irreps(Reader& rd) {
  std::vector<TpIrrep> v(static_cast<size_t>(rd.range(0, 2)));
  for (auto& ir : v) {
    ir.mul = rd.u8() < 8 ? rd.range(-1, 40) : rd.range(0, 3);
    ir.l = rd.u8() < 6 ? rd.range(-1, 14) : rd.range(0, 3);
    const uint8_t p = rd.u8();
    ir.parity = p < 4 ? static_cast<int>(p) - 2 : (p & 1 ? 1 : -1);
  }
  return v;
}

template <class S>
double max_abs(const std::vector<S>& v) {
  double m = 0;
  for (S x : v) m = std::max(m, std::fabs(static_cast<double>(x)));
  return m;
}

template <class S>
void compare(const std::vector<S>& got, const std::vector<S>& ref, double rel, const std::string& what) {
  const double tol = rel * (1.0 + max_abs(ref));
  for (size_t i = 0; i < ref.size(); ++i)
    if (!(std::fabs(static_cast<double>(got[i]) - static_cast<double>(ref[i])) <= tol))
      fail("tp_plan: " + what + " element " + std::to_string(i) + ": " + std::to_string(double(got[i])) +
           " vs the reference " + std::to_string(double(ref[i])));
}

// The bound: every element is a sum of at most `terms` products of inputs in
// [-1, 1], CG entries and path weights (all below 2 in magnitude), over at
// most n rows, in any order.
template <class S>
void check_kernels(const TpPlan& plan, Reader& rd) {
  const int64_t n = rd.range(1, 9);
  double terms = 64;
  for (const auto& t : plan.instructions) {
    const auto &a = plan.irreps[0][t.i_in1], &b = plan.irreps[1][t.i_in2], &o = plan.irreps[2][t.i_out];
    terms += double(a.mul) * b.mul * o.mul * (2 * a.l + 1) * (2 * b.l + 1) * (2 * o.l + 1);
  }
  const double rel = 16 * std::numeric_limits<S>::epsilon() * terms * double(n);
  const bool w_shared = rd.u8() & 1;
  const int64_t wrows = w_shared ? 1 : n;
  std::vector<S> x(static_cast<size_t>(n * plan.dim[0])), y(static_cast<size_t>(n * plan.dim[1])),
      w(static_cast<size_t>(wrows * plan.weight_numel)), g(static_cast<size_t>(n * plan.dim[2]));
  for (auto* v : {&x, &y, &w, &g})
    for (auto& e : *v) e = static_cast<S>(rd.uniform(-1.0, 1.0));
  const S* in[4] = {x.data(), y.data(), w.data(), g.data()};
  const int64_t rows[4] = {n, n, wrows, n};
  const int64_t width[4] = {plan.dim[0], plan.dim[1], plan.weight_numel, plan.dim[2]};
  LevelSweep sweep;
  for (int slot = 0; slot < 4; ++slot) {
    TpOperand<S> ops[4];
    for (int s = 0; s < 4; ++s) {
      ops[s].data = s == slot ? nullptr : in[s];
      ops[s].rows = rows[s];
      ops[s].shared = s == tp::SC_TP_W && w_shared;
    }
    const size_t size = static_cast<size_t>(rows[slot] * width[slot]);
    std::vector<S> ref(size, S(7)), got(size, S(-7));
    tp::tp_contract<S>(plan, slot, ops, ref.data(), n, 1);
    for (int level : sweep.levels) {
      sweep.set(level);
      std::fill(got.begin(), got.end(), S(-7));
      tp::tp_contract<S>(plan, slot, ops, got.data(), n, 0);
      compare(got, ref, rel, std::string("slot ") + std::to_string(slot) + " at " + simd_level_name(simd_level()));
    }
  }
  // The one-pass backward against the reference's three slots.
  TpOperand<S> ops[4];
  for (int s = 0; s < 4; ++s) {
    ops[s].data = in[s];
    ops[s].rows = rows[s];
    ops[s].shared = s == tp::SC_TP_W && w_shared;
  }
  std::vector<S> rx(x.size()), ry(y.size()), rw(w.size());
  S* refs[3] = {rx.data(), ry.data(), rw.data()};
  for (int slot = 0; slot < 3; ++slot) {
    TpOperand<S> o[4] = {ops[0], ops[1], ops[2], ops[3]};
    o[slot].data = nullptr;
    tp::tp_contract<S>(plan, slot, o, refs[slot], n, 1);
  }
  for (int level : sweep.levels) {
    sweep.set(level);
    std::vector<S> gx(x.size(), S(-7)), gy(y.size(), S(-7)), gw(w.size(), S(-7));
    tp::tp_backward<S>(plan, ops, gx.data(), gy.data(), gw.data(), n, 0);
    const std::string at = std::string(" at ") + simd_level_name(simd_level());
    compare(gx, rx, rel, "backward grad x" + at);
    compare(gy, ry, rel, "backward grad y" + at);
    compare(gw, rw, rel, "backward grad weight" + at);
  }
}

}  // namespace

void fuzz_tp_plan(const uint8_t* data, size_t size) {
  Reader rd(data, size);
  // Random irreps, then instructions: mostly on irreps appended for them
  // that obey the selection rules (l3 in |l1 - l2| .. l1 + l2, p3 = p1 p2),
  // sometimes on arbitrary (possibly missing) indices.
  std::vector<TpIrrep> ir[3] = {irreps(rd), irreps(rd), irreps(rd)};
  std::vector<TpInstruction> ins(static_cast<size_t>(rd.u8() < 8 ? 0 : rd.range(1, 4)));
  std::vector<std::vector<double>> cg;
  for (auto& t : ins) {
    if (rd.u8() < 200) {
      const int l1 = rd.range(0, 3), l2 = rd.range(0, 3);
      const int p1 = rd.u8() & 1 ? 1 : -1, p2 = rd.u8() & 1 ? 1 : -1;
      const int l3 = rd.range(std::abs(l1 - l2), std::min(l1 + l2, 4));
      const int m = rd.range(1, 3);
      // uuw/uuu/uvuv need equal or unit multiplicities: use m for all now and then.
      const bool same = rd.u8() & 1;
      ir[0].push_back({m, l1, p1});
      ir[1].push_back({same ? m : rd.range(1, 3), l2, p2});
      ir[2].push_back({same ? m : rd.range(1, 3), l3, p1 * p2});
      t.i_in1 = static_cast<int>(ir[0].size()) - 1;
      t.i_in2 = static_cast<int>(ir[1].size()) - 1;
      t.i_out = static_cast<int>(ir[2].size()) - 1;
    } else {
      t.i_in1 = rd.range(-1, static_cast<int>(ir[0].size()));
      t.i_in2 = rd.range(-1, static_cast<int>(ir[1].size()));
      t.i_out = rd.range(-1, static_cast<int>(ir[2].size()));
    }
  }
  for (auto& t : ins) {
    const int n1 = static_cast<int>(ir[0].size()), n2 = static_cast<int>(ir[1].size()),
              no = static_cast<int>(ir[2].size());
    t.mode = rd.u8() < 4 ? rd.range(-1, tp::kTpNumModes) : rd.range(0, tp::kTpNumModes - 1);
    t.has_weight = rd.u8() & 1;
    const uint8_t pw = rd.u8();
    t.path_weight = pw < 4 ? (pw == 0 ? NAN : pw == 1 ? INFINITY : pw == 2 ? 0.0 : -1.0) : rd.uniform(0.1, 2.0);
    // The CG tensor: the real one where the instruction indexes valid irreps
    // of supported l, otherwise (and now and then anyway) the wrong size.
    std::vector<double> c;
    const bool ok = t.i_in1 >= 0 && t.i_in1 < n1 && t.i_in2 >= 0 && t.i_in2 < n2 && t.i_out >= 0 && t.i_out < no;
    const uint8_t kind = rd.u8();
    if (ok && kind >= 8) {
      const int l1 = ir[0][t.i_in1].l, l2 = ir[1][t.i_in2].l, l3 = ir[2][t.i_out].l;
      if (l1 >= 0 && l2 >= 0 && l3 >= 0 && l1 <= 12 && l2 <= 12 && l3 <= 12 && tp::wigner_3j_allowed(l1, l2, l3))
        c = tp::wigner_3j_table(l1, l2, l3);
      else
        c.assign(static_cast<size_t>(kind % 5), 0.5);
    } else {
      c.assign(static_cast<size_t>(kind % 30), 0.25);
    }
    cg.push_back(std::move(c));
  }
  if (rd.u8() < 4 && !cg.empty()) cg.pop_back();  // one tensor short
  std::shared_ptr<TpPlan> plan;
  try {
    plan = tp::tp_plan_build(ir[0], ir[1], ir[2], ins, cg);
  } catch (const ValueError&) {
    return;
  } catch (const TypeError&) {
    return;
  }
  if (verbose())
    std::fprintf(stderr, "tp_plan: built, dims %lld %lld %lld, %zu paths\n", (long long)plan->dim[0],
                 (long long)plan->dim[1], (long long)plan->dim[2], plan->instructions.size());
  if (plan->dim[0] > 400 || plan->dim[1] > 400 || plan->dim[2] > 400 || plan->weight_numel > 20000) return;
  Reader rd64 = rd, rd32 = rd;
  check_kernels<double>(*plan, rd64);
  check_kernels<float>(*plan, rd32);
}

}  // namespace fuzz
}  // namespace sc
