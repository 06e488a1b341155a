// The compiled plan of a Clebsch-Gordan tensor product (e3nn instruction
// semantics), shared by the reference, generic and AVX2 kernels.
//
// Layouts ("mul_ir", e3nn's): a feature row of irreps [(mul_s, l_s)] stores
// block s at offset_s as [mul_s][2 l_s + 1] row-major.  The kernels work per
// row on an "ir_mul" copy of each block ([2l+1][mul], channels contiguous) so
// that every path's loops run over contiguous channels.
//
// Weights: a flat vector of weight_numel entries, the weighted paths'
// blocks concatenated in instruction order, each block row-major over its
// e3nn path_shape: uvw (mul1, mul2, mul_out), uvu/uvv/uvuv (mul1, mul2),
// uuw (mul1, mul_out), uuu (mul1,).
//
// Per path p with normalisation coefficient c_p (e3nn's sqrt(alpha), already
// multiplied into the stored CG values) and CG tensor C (d1 x d2 x d3):
//   uvw : out[w,k] += c sum_{u,v,i,j} W[u,v,w] C[i,j,k] x[u,i] y[v,j]
//   uvu : out[u,k] += c sum_{v,i,j}   W[u,v]   C[i,j,k] x[u,i] y[v,j]   (mul_out = mul1)
//   uvv : out[v,k] += c sum_{u,i,j}   W[u,v]   C[i,j,k] x[u,i] y[v,j]   (mul_out = mul2)
//   uuw : out[w,k] += c sum_{u,i,j}   W[u,w]   C[i,j,k] x[u,i] y[u,j]   (mul1 = mul2)
//   uuu : out[u,k] += c sum_{i,j}     W[u]     C[i,j,k] x[u,i] y[u,j]   (all equal)
//   uvuv: out[u*mul2+v,k] += c sum_{i,j} W[u,v] C[i,j,k] x[u,i] y[v,j] (mul_out = mul1 mul2)
// An instruction without weight uses W = 1 (and uuw then needs mul_out = 1).
#pragma once
#include <stdint.h>

#include <vector>

#include "scalecore/common/hd.h"

namespace sc {
namespace tp {

// Connection modes.  One list: names, path shapes and kernels follow it.
enum TpMode : int {
  SC_TP_UVW = 0,
  SC_TP_UVU = 1,
  SC_TP_UVV = 2,
  SC_TP_UUW = 3,
  SC_TP_UUU = 4,
  SC_TP_UVUV = 5,
};
constexpr int kTpNumModes = 6;
const char* tp_mode_name(int mode);          // "uvw", ...
int tp_mode_from_name(const char* name);     // -1 when unknown

// The operand slots of the trilinear product out = T(x, y, w).  A contraction
// computes one slot from the other three (the outgoing gradient sits in the
// out slot): T -> SC_TP_OUT, Tx -> SC_TP_X, Ty -> SC_TP_Y, Tw -> SC_TP_W.
enum TpSlot : int { SC_TP_X = 0, SC_TP_Y = 1, SC_TP_W = 2, SC_TP_OUT = 3 };

struct TpIrrep {
  int mul = 0;
  int l = 0;
  int parity = 1;  // +1 (e) or -1 (o)
};

struct TpInstruction {
  int i_in1 = 0, i_in2 = 0, i_out = 0;
  int mode = SC_TP_UVW;
  bool has_weight = true;
  double path_weight = 1.0;  // the normalisation coefficient (e3nn's sqrt(alpha))
};

// One nonzero CG entry of a path as seen by one contraction direction:
// O[o] += val * A[a] * B[b].  Lists are sorted by o; group g covers
// entries [group[g], group[g + 1]) whose output index is out_index[g].
template <class S>
struct TpNz {
  int16_t a, b;
  S val;
};

template <class S>
struct TpCg {
  std::vector<TpNz<S>> nz;
  std::vector<int32_t> group;      // n_groups + 1 offsets
  std::vector<int16_t> out_index;  // n_groups
};

// Raw view of a TpCg for the ISA kernels (no std containers cross into the
// AVX2 translation unit).
template <class S>
struct TpCgView {
  const TpNz<S>* nz;
  const int32_t* group;
  const int16_t* out_index;
  int32_t n_groups;
};

// One path, flattened for the kernels.
template <class S>
struct TpPathDesc {
  int mode;
  int has_weight;
  int mul1, mul2, mulo;
  int d1, d2, d3;                  // 2l+1 of the three irreps
  int64_t off1, off2, offo;        // block offsets in the rows
  int64_t w_off;                   // offset of the weight block (-1: none)
  TpCgView<S> cg[3];               // directions: [0] out(k) from (i, j); [1] x(i) from (k, j); [2] y(j) from (i, k)
};

template <class S>
struct TpKernelPlan {
  const TpPathDesc<S>* paths;
  int n_paths;
  int64_t dim1, dim2, dimo, weight_numel;
  int64_t tmp;      // elements of each of the three per-path temporaries
  int64_t scratch;  // elements of per-row scratch a row kernel needs (dim1 + dim2 + dimo + 3 tmp)
  // Blocks of the three feature layouts, for the ir_mul conversions.
  const int64_t* blk_off[3];  // x, y, out
  const int32_t* blk_mul[3];
  const int32_t* blk_d[3];
  int n_blk[3];
};

// The forward product of one path for one output channel c, on mul_ir rows
// (x, y, the path's weight block w or nullptr, out): adds
// out[offo + c * d3 + k] for every k of the path.  Written once for host and
// device: the CUDA forward kernel runs it per (row, output channel), and the
// CPU runs it as tp_contract's impl 2, which the tests compare with the
// reference.  Channel c is w (uvw, uuw), u (uvu, uuu), v (uvv) or u*mul2+v
// (uvuv).
template <class S>
SC_HD void tp_path_forward_channel(const TpPathDesc<S>& P, const S* x, const S* y, const S* w, S* out, int c) {
  const int m = P.mul1, n = P.mul2, p = P.mulo, d1 = P.d1, d2 = P.d2, d3 = P.d3;
  const S* X = x + P.off1;
  const S* Y = y + P.off2;
  S* O = out + P.offo + static_cast<int64_t>(c) * d3;
  const TpCgView<S>& cg = P.cg[0];
  // sum over the (u, v) pairs the mode connects to channel c, with weight wt
  int u0 = 0, u1 = m, v0 = 0, v1 = n;
  switch (P.mode) {
    case SC_TP_UVU: u0 = c; u1 = c + 1; break;
    case SC_TP_UVV: v0 = c; v1 = c + 1; break;
    case SC_TP_UUU: u0 = c; u1 = c + 1; break;
    case SC_TP_UVUV: u0 = c / n; u1 = u0 + 1; v0 = c % n; v1 = v0 + 1; break;
    default: break;
  }
  const bool same_uv = P.mode == SC_TP_UUW || P.mode == SC_TP_UUU;
  for (int u = u0; u < u1; ++u) {
    for (int v = same_uv ? u : v0; v < (same_uv ? u + 1 : v1); ++v) {
      S wt = S(1);
      if (w) {
        switch (P.mode) {
          case SC_TP_UVW: wt = w[(static_cast<int64_t>(u) * n + v) * p + c]; break;
          case SC_TP_UUW: wt = w[static_cast<int64_t>(u) * p + c]; break;
          case SC_TP_UUU: wt = w[u]; break;
          default: wt = w[static_cast<int64_t>(u) * n + v]; break;  // uvu, uvv, uvuv
        }
      }
      const S* xu = X + static_cast<int64_t>(u) * d1;
      const S* yv = Y + static_cast<int64_t>(v) * d2;
      for (int32_t g = 0; g < cg.n_groups; ++g) {
        S s = S(0);
        for (int32_t q = cg.group[g]; q < cg.group[g + 1]; ++q) s += cg.nz[q].val * xu[cg.nz[q].a] * yv[cg.nz[q].b];
        O[cg.out_index[g]] += wt * s;
      }
    }
  }
}

// The plan: validated irreps and instructions, weight offsets, the sparse CG
// of every path in float64 and float32 (scaled by the path coefficient).
struct TpPlan {
  std::vector<TpIrrep> irreps[3];  // in1, in2, out
  std::vector<int64_t> offsets[3];
  std::vector<TpInstruction> instructions;
  std::vector<int64_t> w_offset;   // per instruction, -1 without weight
  std::vector<std::vector<double>> cg_dense;  // per instruction, unscaled, d1*d2*d3
  int64_t dim[3] = {0, 0, 0};
  int64_t weight_numel = 0;
  int64_t nnz = 0;                 // nonzero CG entries over the paths

  // Storage behind the kernel views.
  std::vector<TpCg<double>> cg64[3];
  std::vector<TpCg<float>> cg32[3];
  std::vector<TpPathDesc<double>> desc64;
  std::vector<TpPathDesc<float>> desc32;
  std::vector<int64_t> blk_off[3];
  std::vector<int32_t> blk_mul[3], blk_d[3];
  TpKernelPlan<double> kp64;
  TpKernelPlan<float> kp32;

  template <class S>
  const TpKernelPlan<S>& kernel_plan() const;
};

template <>
inline const TpKernelPlan<double>& TpPlan::kernel_plan<double>() const {
  return kp64;
}
template <>
inline const TpKernelPlan<float>& TpPlan::kernel_plan<float>() const {
  return kp32;
}

}  // namespace tp
}  // namespace sc
