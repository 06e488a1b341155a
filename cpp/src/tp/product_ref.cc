// The reference tensor product: the formulas of plan.h as plain loops over
// the dense CG tensors in mul_ir layout, accumulated in double, serial.  The
// oracle the generic and AVX2 kernels are tested against (and itself tested
// against e3nn).
#include <string.h>

#include <vector>

#include "scalecore/tp/product.h"

namespace sc {
namespace tp {

namespace {

// Calls f(u, v, w, widx) for the (in1, in2, out) channel triples a mode
// connects, widx being the index in the path's weight block.
template <class F>
void for_channels(int mode, int m1, int m2, int mo, F&& f) {
  switch (mode) {
    case SC_TP_UVW:
      for (int u = 0; u < m1; ++u)
        for (int v = 0; v < m2; ++v)
          for (int w = 0; w < mo; ++w) f(u, v, w, (u * m2 + v) * mo + w);
      break;
    case SC_TP_UVU:
      for (int u = 0; u < m1; ++u)
        for (int v = 0; v < m2; ++v) f(u, v, u, u * m2 + v);
      break;
    case SC_TP_UVV:
      for (int u = 0; u < m1; ++u)
        for (int v = 0; v < m2; ++v) f(u, v, v, u * m2 + v);
      break;
    case SC_TP_UUW:
      for (int u = 0; u < m1; ++u)
        for (int w = 0; w < mo; ++w) f(u, u, w, u * mo + w);
      break;
    case SC_TP_UUU:
      for (int u = 0; u < m1; ++u) f(u, u, u, u);
      break;
    case SC_TP_UVUV:
      for (int u = 0; u < m1; ++u)
        for (int v = 0; v < m2; ++v) f(u, v, u * m2 + v, u * m2 + v);
      break;
    default: break;
  }
}

}  // namespace

template <class S>
void tp_contract_ref(const TpPlan& plan, int slot, const TpOperand<S> ops[4], S* out, int64_t n) {
  const int64_t width[4] = {plan.dim[0], plan.dim[1], plan.weight_numel, plan.dim[2]};
  const TpOperand<S>& oo = ops[slot];
  const int64_t W = width[slot];
  const int64_t out_rows = oo.shared ? 1 : oo.rows;
  std::vector<double> acc(static_cast<size_t>(out_rows * W), 0.0);
  auto row = [&](int s, int64_t e) -> const S* {
    const TpOperand<S>& o = ops[s];
    const int64_t r = o.shared ? 0 : o.index ? o.index[e] : e;
    return o.data + r * width[s];
  };
  for (int64_t e = 0; e < n; ++e) {
    const S* x = slot == SC_TP_X ? nullptr : row(SC_TP_X, e);
    const S* y = slot == SC_TP_Y ? nullptr : row(SC_TP_Y, e);
    const S* wt = slot == SC_TP_W ? nullptr : row(SC_TP_W, e);
    const S* g = slot == SC_TP_OUT ? nullptr : row(SC_TP_OUT, e);
    const int64_t r = oo.shared ? 0 : oo.index ? oo.index[e] : e;
    double* o = acc.data() + r * W;
    for (size_t p = 0; p < plan.instructions.size(); ++p) {
      const TpInstruction& I = plan.instructions[p];
      if (slot == SC_TP_W && !I.has_weight) continue;
      const TpIrrep &a = plan.irreps[0][I.i_in1], &b = plan.irreps[1][I.i_in2], &c = plan.irreps[2][I.i_out];
      const int d1 = 2 * a.l + 1, d2 = 2 * b.l + 1, d3 = 2 * c.l + 1;
      const int64_t o1 = plan.offsets[0][I.i_in1], o2 = plan.offsets[1][I.i_in2], o3 = plan.offsets[2][I.i_out];
      const int64_t wo = plan.w_offset[p];
      const std::vector<double>& C = plan.cg_dense[p];
      const double cp = I.path_weight;
      for_channels(I.mode, a.mul, b.mul, c.mul, [&](int u, int v, int w, int widx) {
        const double ww = I.has_weight && slot != SC_TP_W ? static_cast<double>(wt[wo + widx]) : 1.0;
        for (int i = 0; i < d1; ++i)
          for (int j = 0; j < d2; ++j)
            for (int k = 0; k < d3; ++k) {
              const double t = cp * C[(static_cast<size_t>(i) * d2 + j) * d3 + k] * ww;
              if (t == 0.0) continue;
              const int64_t ix = o1 + u * d1 + i, iy = o2 + v * d2 + j, io = o3 + w * d3 + k;
              switch (slot) {
                case SC_TP_OUT: o[io] += t * double(x[ix]) * double(y[iy]); break;
                case SC_TP_X: o[ix] += t * double(g[io]) * double(y[iy]); break;
                case SC_TP_Y: o[iy] += t * double(x[ix]) * double(g[io]); break;
                case SC_TP_W: o[wo + widx] += t * double(x[ix]) * double(y[iy]) * double(g[io]); break;
              }
            }
      });
    }
  }
  for (int64_t q = 0; q < out_rows * W; ++q) out[q] = static_cast<S>(acc[q]);
}

template void tp_contract_ref<double>(const TpPlan&, int, const TpOperand<double>[4], double*, int64_t);
template void tp_contract_ref<float>(const TpPlan&, int, const TpOperand<float>[4], float*, int64_t);

}  // namespace tp
}  // namespace sc
