// Clebsch-Gordan tensor product engine (e3nn instruction semantics).
//
// The product out = T(x, y, w) is trilinear.  Its four contractions
//   T  (x, y, w)    -> out        (slot SC_TP_OUT)
//   Tx (g, y, w)    -> grad x     (slot SC_TP_X)
//   Ty (x, g, w)    -> grad y     (slot SC_TP_Y)
//   Tw (x, y, g)    -> grad w     (slot SC_TP_W)
// are one entry point, tp_contract, which computes the chosen slot from the
// other three.  Every derivative of every order is a sum of these (e.g.
// d<ggx, Tx(g, y, w)>/dy = Ty(ggx, g, w)), so backward and double backward
// need nothing else.
//
// Rows: the call iterates over n rows e.  Each input slot reads row
//   0 (shared), index[e] (gathered: the fused convolution's senders) or e.
// The computed slot is written per row e, summed over all rows (shared: the
// gradient of shared weights), or summed into row index[e] (scattered: the
// convolution's receivers).  Sums run in a fixed order (rows grouped by
// target in ascending e; shared sums in fixed chunks reduced in order), so
// results do not depend on the thread count.
#pragma once
#include <stdint.h>

#include <memory>
#include <vector>

#include "scalecore/tp/plan.h"

namespace sc {
namespace tp {

// Validates irreps and instructions (mode constraints, selection rules,
// indices; ValueError naming the instruction otherwise) and compiles the
// sparse CG.  cg[p] is the dense CG tensor (d1 x d2 x d3 row-major, e.g.
// e3nn's wigner_3j) of instruction p.
std::shared_ptr<TpPlan> tp_plan_build(const std::vector<TpIrrep>& in1, const std::vector<TpIrrep>& in2,
                                      const std::vector<TpIrrep>& out,
                                      const std::vector<TpInstruction>& instructions,
                                      const std::vector<std::vector<double>>& cg);

// Path shape (e3nn's) of instruction p, and its number of weights.
std::vector<int64_t> tp_path_shape(const TpPlan& plan, int p);

template <class S>
struct TpOperand {
  const S* data = nullptr;      // input slots: rows of the slot's width
  int64_t rows = 0;             // rows in data (output slot: rows of the output)
  bool shared = false;          // one row for every e (input) / sum over all e (output)
  const int64_t* index = nullptr;  // gather (input) / scatter (output) row of each e
};

// impl: 0 = the kernel of the active SIMD level, 1 = the plain reference,
// 2 = the CUDA forward's per-channel math run on the CPU (product only).
// ops[slot] for the three inputs and the output's description; out has
// ops[out_slot].rows (or 1 when shared) rows and is overwritten.
template <class S>
void tp_contract(const TpPlan& plan, int out_slot, const TpOperand<S> ops[4], S* out, int64_t n, int impl = 0);

// The backward of the plain product in one pass per row: grad_x, grad_y and
// grad_w of <g, T(x, y, w)> (each output nullptr to skip it).  Inputs as in
// tp_contract; x and g may be gathered through their index (the
// convolution: grad x is then summed per sender, rows grouped by sender in
// ascending order; per-row weights); ops[SC_TP_W].shared makes grad_w the sum over
// rows (fixed chunks, reduced in order).  Equal to three tp_contract calls up
// to rounding (intermediates are shared between the gradients).
// The double backward of <g, T(x, y, w)> (see product.cc): outs[t] (nullptr
// to skip; x, y, weight, out) = sum over s != t with gg[s] given of slot t
// from the others, slot s replaced by gg[s] (gg[s] laid out, gathered and
// shared as ops[s]).  x and g may be gathered (the convolution: their grads
// summed per node in ascending row order).  Deterministic in the thread count.
template <class S>
void tp_double_backward(const TpPlan& plan, const TpOperand<S> ops[4], const S* const gg[3], S* const outs[4],
                        int64_t n);

template <class S>
void tp_backward(const TpPlan& plan, const TpOperand<S> ops[4], S* gx, S* gy, S* gw, int64_t n, int impl = 0);

// ---- kernels (internal: product_ref.cc, product_generic.cc, product_avx2.cc, product_avx512.cc) ----

// The per-row kernel of one level: adds row e's contribution to the slot
// `out_slot` into acc (ir_mul layout for x/y/out slots, flat for w), from
// the mul_ir rows x, y, g and the flat weight row w (those not used are
// nullptr).  scratch holds kp.scratch elements.
template <class S>
struct TpRowKernels {
  const char* name;
  void (*row)(const TpKernelPlan<S>& kp, int out_slot, const S* x, const S* y, const S* w, const S* g, S* acc,
              S* scratch);
  // The same for several slots at once (acc[slot] nullptr: not computed).
  // wt: the weights with the uvw / uuw blocks transposed ([v][w][u], [w][u])
  // or nullptr (shared weights: made once per call, for the x / y gradients).
  void (*row_multi)(const TpKernelPlan<S>& kp, const S* x, const S* y, const S* w, const S* wt, const S* g,
                    S* const acc[4], S* scratch);
  // ir_mul accumulator -> mul_ir row of layout t (0 x, 1 y, 2 out), overwriting dst.
  void (*from_ir_mul)(const TpKernelPlan<S>& kp, int t, const S* src, S* dst);
  // Blocks of B <= kTpBlock rows with shared weights w, rows given by
  // pointers (mul_ir), staged once into a stacked ir_mul layout so that each
  // uvw path's weight product is one GEMM over the block.
  // out_block: the product, written to the rows out[b].
  void (*out_block)(const TpKernelPlan<S>& kp, const S* const* x, const S* const* y, const S* w, int B,
                    S* const* out, S* scratch);
  // bwd_block: grad w of <g, T> added to aw (flat), grad x / grad y written to
  // the rows gx[b] / gy[b] (wt: the transposed weights, needed for those);
  // each nullptr to skip it.  Grad w sums the block's rows in a fixed order.
  void (*bwd_block)(const TpKernelPlan<S>& kp, const S* const* x, const S* const* y, const S* const* g, const S* w,
                    const S* wt, int B, S* aw, S* const* gx, S* const* gy, S* scratch);
};

// Rows per block: 12 makes every block GEMM's row count (12 (2l + 1))
// a whole number of the row kernels' 6- and 12-row register blocks.
constexpr int kTpBlock = 12;
template <class S>
inline int64_t tp_block_scratch(const TpKernelPlan<S>& kp) {
  return kTpBlock * (2 * kp.dim1 + 2 * kp.dim2 + 2 * kp.dimo + 3 * kp.tmp) + 3 * kp.tmp;
}

template <class S>
const TpRowKernels<S>& tp_row_kernels_generic();
#if defined(SC_HAVE_AVX2_KERNELS)
template <class S>
const TpRowKernels<S>& tp_row_kernels_avx2();
#endif
#if defined(SC_HAVE_AVX512_KERNELS)
template <class S>
const TpRowKernels<S>& tp_row_kernels_avx512();
#endif
// The row kernels of the SIMD level in use.
template <class S>
const TpRowKernels<S>& tp_row_kernels();

// The reference: plain loops over the dense CG in double, straight from the
// formulas in plan.h, serial.
template <class S>
void tp_contract_ref(const TpPlan& plan, int out_slot, const TpOperand<S> ops[4], S* out, int64_t n);

}  // namespace tp
}  // namespace sc
