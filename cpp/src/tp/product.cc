// The tensor-product plan (validation, weight offsets, sparse CG) and the
// driver of tp_contract: row gathers, the output's direct / scattered /
// shared sums, threads and the kernel level.
#include "scalecore/tp/product.h"

#include <math.h>
#include <string.h>

#include <algorithm>
#include <string>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "scalecore/common/dispatch.h"
#include "scalecore/common/errors.h"
#include "scalecore/common/threads.h"

namespace sc {
namespace tp {

namespace {

const char* const kModeNames[kTpNumModes] = {"uvw", "uvu", "uvv", "uuw", "uuu", "uvuv"};
const char* const kSlotNames[4] = {"x", "y", "weight", "out"};
const char* const kIrrepsNames[3] = {"irreps_in1", "irreps_in2", "irreps_out"};

std::string ins_name(size_t p) { return "instructions[" + std::to_string(p) + "]"; }

// Nonzero entries of one direction, grouped by output index.
// dir 0: (a, b, o) = (i, j, k); 1: (k, j, i); 2: (i, k, j).
template <class S>
TpCg<S> sparse_direction(const std::vector<double>& C, int d1, int d2, int d3, double scale, int dir) {
  double cmax = 0;
  for (double c : C) cmax = std::max(cmax, fabs(c));
  const double tol = 1e-12 * cmax;
  struct E {
    int a, b, o;
    double v;
  };
  std::vector<E> es;
  for (int i = 0; i < d1; ++i)
    for (int j = 0; j < d2; ++j)
      for (int k = 0; k < d3; ++k) {
        const double c = C[(static_cast<size_t>(i) * d2 + j) * d3 + k];
        if (!(fabs(c) > tol)) continue;
        E e;
        if (dir == 0) e = {i, j, k, c * scale};
        else if (dir == 1) e = {k, j, i, c * scale};
        else e = {i, k, j, c * scale};
        es.push_back(e);
      }
  std::stable_sort(es.begin(), es.end(), [](const E& x, const E& y) { return x.o < y.o; });
  TpCg<S> cg;
  for (size_t q = 0; q < es.size(); ++q) {
    if (q == 0 || es[q].o != es[q - 1].o) {
      cg.group.push_back(static_cast<int32_t>(q));
      cg.out_index.push_back(static_cast<int16_t>(es[q].o));
    }
    cg.nz.push_back({static_cast<int16_t>(es[q].a), static_cast<int16_t>(es[q].b), static_cast<S>(es[q].v)});
  }
  cg.group.push_back(static_cast<int32_t>(es.size()));
  return cg;
}

template <class S>
void build_kernel_plan(TpPlan& P, std::vector<TpCg<S>> (&cgs)[3], std::vector<TpPathDesc<S>>& desc,
                       TpKernelPlan<S>& kp) {
  desc.clear();
  for (int dir = 0; dir < 3; ++dir) cgs[dir].clear();
  int64_t tmp = 1;
  for (size_t p = 0; p < P.instructions.size(); ++p) {
    const TpInstruction& I = P.instructions[p];
    const TpIrrep &a = P.irreps[0][I.i_in1], &b = P.irreps[1][I.i_in2], &c = P.irreps[2][I.i_out];
    if (a.mul == 0 || b.mul == 0 || c.mul == 0) continue;  // e3nn produces no code for empty paths
    const int d1 = 2 * a.l + 1, d2 = 2 * b.l + 1, d3 = 2 * c.l + 1;
    for (int dir = 0; dir < 3; ++dir)
      cgs[dir].push_back(sparse_direction<S>(P.cg_dense[p], d1, d2, d3, I.path_weight, dir));
    TpPathDesc<S> D{};
    D.mode = I.mode;
    D.has_weight = I.has_weight ? 1 : 0;
    D.mul1 = a.mul;
    D.mul2 = b.mul;
    D.mulo = c.mul;
    D.d1 = d1;
    D.d2 = d2;
    D.d3 = d3;
    D.off1 = P.offsets[0][I.i_in1];
    D.off2 = P.offsets[1][I.i_in2];
    D.offo = P.offsets[2][I.i_out];
    D.w_off = P.w_offset[p];
    desc.push_back(D);
    const int64_t maxd = std::max(d1, std::max(d2, d3));
    tmp = std::max<int64_t>(tmp, maxd * std::max(a.mul, b.mul));
    tmp = std::max<int64_t>(tmp, static_cast<int64_t>(a.mul) * b.mul);
    tmp = std::max<int64_t>(tmp, maxd * c.mul);  // the blocks' [d1][mul_out] temporaries
  }
  // Views (after all vectors are final).
  for (size_t q = 0; q < desc.size(); ++q)
    for (int dir = 0; dir < 3; ++dir) {
      const TpCg<S>& cg = cgs[dir][q];
      desc[q].cg[dir] = {cg.nz.data(), cg.group.data(), cg.out_index.data(),
                         static_cast<int32_t>(cg.out_index.size())};
    }
  kp.paths = desc.data();
  kp.n_paths = static_cast<int>(desc.size());
  kp.dim1 = P.dim[0];
  kp.dim2 = P.dim[1];
  kp.dimo = P.dim[2];
  kp.weight_numel = P.weight_numel;
  kp.tmp = tmp + 8;
  kp.scratch = kp.dim1 + kp.dim2 + kp.dimo + 3 * kp.tmp;
  for (int t = 0; t < 3; ++t) {
    kp.blk_off[t] = P.blk_off[t].data();
    kp.blk_mul[t] = P.blk_mul[t].data();
    kp.blk_d[t] = P.blk_d[t].data();
    kp.n_blk[t] = static_cast<int>(P.blk_off[t].size());
  }
}

// The shared weights with each uvw block transposed to [v][w][u] and each
// uuw block to [w][u] (other blocks copied): the x / y gradients then run
// G W^T as row-times-matrix over contiguous channels.
template <class S>
std::vector<S> transposed_weights(const TpKernelPlan<S>& kp, const S* w) {
  std::vector<S> wt(w, w + kp.weight_numel);
  for (int p = 0; p < kp.n_paths; ++p) {
    const TpPathDesc<S>& P = kp.paths[p];
    if (!P.has_weight) continue;
    const S* src = w + P.w_off;
    S* dst = wt.data() + P.w_off;
    const int m = P.mul1, n = P.mul2, q = P.mulo;
    if (P.mode == SC_TP_UVW) {
      for (int u = 0; u < m; ++u)
        for (int v = 0; v < n; ++v)
          for (int c = 0; c < q; ++c) dst[(static_cast<int64_t>(v) * q + c) * m + u] = src[(u * n + v) * q + c];
    } else if (P.mode == SC_TP_UUW) {
      for (int u = 0; u < m; ++u)
        for (int c = 0; c < q; ++c) dst[static_cast<int64_t>(c) * m + u] = src[u * q + c];
    }
  }
  return wt;
}

// Large outputs are usually fresh allocations (a torch.empty per call) whose
// pages fault in as we write them: 4 KiB faults cost more than the product
// itself (a MACE-like 10,000-edge output is 182 MB).  Asking for transparent
// huge pages on the 2 MiB-aligned interior before the first write makes the
// faults 512x fewer.  Advice only: results are unchanged, failure is ignored.
void advise_huge_pages(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = uintptr_t(2) << 20;
  if (bytes < (size_t(8) << 20)) return;
  const uintptr_t a = (reinterpret_cast<uintptr_t>(p) + huge - 1) & ~(huge - 1);
  const uintptr_t b = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(huge - 1);
  if (b > a) madvise(reinterpret_cast<void*>(a), b - a, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

// out[k] = sum over chunks c (ascending, in double) of part[c W + k]: the
// fixed-order reduction of per-chunk partial sums.  Parallel over k, chunks
// streamed in order (the same sums as a per-k loop, without its stride-W reads).
template <class S>
void reduce_parts(const S* part, int64_t nch, int64_t W, S* out) {
  parallel_for(W, 2048, [&](int64_t k0, int64_t k1) {
    std::vector<double> acc(static_cast<size_t>(k1 - k0), 0.0);
    for (int64_t c = 0; c < nch; ++c) {
      const S* p = part + c * W;
      for (int64_t k = k0; k < k1; ++k) acc[k - k0] += p[k];
    }
    for (int64_t k = k0; k < k1; ++k) out[k] = static_cast<S>(acc[k - k0]);
  });
}

// Rows e < n grouped by idx[e] (a stable counting sort): group r holds
// perm[start[r] .. start[r + 1]) in ascending e.  The convolution's senders
// and receivers, so that sums per node run in a fixed order.
void group_rows(const int64_t* idx, int64_t n, int64_t groups, std::vector<int64_t>& start,
                std::vector<int64_t>& perm) {
  start.assign(static_cast<size_t>(groups + 1), 0);
  perm.resize(static_cast<size_t>(n));
  for (int64_t e = 0; e < n; ++e) ++start[idx[e] + 1];
  for (int64_t r = 0; r < groups; ++r) start[r + 1] += start[r];
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  for (int64_t e = 0; e < n; ++e) perm[fill[idx[e]]++] = e;
}

// The operand checks tp_backward and tp_double_backward share (fn names the
// caller in the messages): only x and the outgoing gradient may be
// gathered, every slot is given, row counts match n, indices are in range.
template <class S>
void check_row_operands(const int64_t width[4], const TpOperand<S> ops[4], int64_t n, const char* fn) {
  for (int s = 0; s < 4; ++s) {
    const TpOperand<S>& o = ops[s];
    // Gathers: x (when grad x is not asked for here: it would need a scatter)
    // and grad out (the convolution's receivers).
    if (o.index && !(s == SC_TP_X || s == SC_TP_OUT))
      throw ValueError(std::string(fn) + ": " + kSlotNames[s] + " may not be indexed here");
    if (o.data == nullptr && width[s] > 0) throw ValueError(std::string(kSlotNames[s]) + ": missing input");
    if (!o.shared && !o.index && o.rows != n)
      throw ValueError(std::string(kSlotNames[s]) + ": expected " + std::to_string(n) + " rows, got " +
                       std::to_string(o.rows));
    if (o.index)
      for (int64_t e = 0; e < n; ++e)
        if (o.index[e] < 0 || o.index[e] >= o.rows)
          throw ValueError(std::string(kSlotNames[s]) + " index: entry " + std::to_string(e) + " is " +
                           std::to_string(o.index[e]) + ", outside [0, " + std::to_string(o.rows) + ")");
  }
}

}  // namespace

const char* tp_mode_name(int mode) { return mode >= 0 && mode < kTpNumModes ? kModeNames[mode] : "?"; }

int tp_mode_from_name(const char* name) {
  for (int m = 0; m < kTpNumModes; ++m)
    if (strcmp(name, kModeNames[m]) == 0) return m;
  return -1;
}

std::vector<int64_t> tp_path_shape(const TpPlan& plan, int p) {
  const TpInstruction& I = plan.instructions[p];
  const int64_t m1 = plan.irreps[0][I.i_in1].mul, m2 = plan.irreps[1][I.i_in2].mul, mo = plan.irreps[2][I.i_out].mul;
  switch (I.mode) {
    case SC_TP_UVW: return {m1, m2, mo};
    case SC_TP_UVU:
    case SC_TP_UVV:
    case SC_TP_UVUV: return {m1, m2};
    case SC_TP_UUW: return {m1, mo};
    default: return {m1};
  }
}

std::shared_ptr<TpPlan> tp_plan_build(const std::vector<TpIrrep>& in1, const std::vector<TpIrrep>& in2,
                                      const std::vector<TpIrrep>& out,
                                      const std::vector<TpInstruction>& instructions,
                                      const std::vector<std::vector<double>>& cg) {
  auto P = std::make_shared<TpPlan>();
  const std::vector<TpIrrep>* irr[3] = {&in1, &in2, &out};
  for (int t = 0; t < 3; ++t) {
    P->irreps[t] = *irr[t];
    int64_t off = 0;
    for (size_t b = 0; b < irr[t]->size(); ++b) {
      const TpIrrep& r = (*irr[t])[b];
      if (r.mul < 0 || r.l < 0 || (r.parity != 1 && r.parity != -1))
        throw ValueError(std::string(kIrrepsNames[t]) + "[" + std::to_string(b) + "]: expected mul >= 0, l >= 0 "
                         "and parity +-1, got mul=" + std::to_string(r.mul) + " l=" + std::to_string(r.l) +
                         " p=" + std::to_string(r.parity));
      if (r.l > 64) throw ValueError(std::string(kIrrepsNames[t]) + ": l > 64 is not supported");
      P->offsets[t].push_back(off);
      P->blk_off[t].push_back(off);
      P->blk_mul[t].push_back(r.mul);
      P->blk_d[t].push_back(2 * r.l + 1);
      off += static_cast<int64_t>(r.mul) * (2 * r.l + 1);
    }
    P->dim[t] = off;
  }
  if (cg.size() != instructions.size())
    throw ValueError("cg: expected one CG table per instruction (" + std::to_string(instructions.size()) +
                     "), got " + std::to_string(cg.size()));
  P->instructions = instructions;
  P->cg_dense = cg;
  int64_t woff = 0;
  for (size_t p = 0; p < instructions.size(); ++p) {
    const TpInstruction& I = instructions[p];
    const int idx[3] = {I.i_in1, I.i_in2, I.i_out};
    for (int t = 0; t < 3; ++t)
      if (idx[t] < 0 || idx[t] >= static_cast<int>(irr[t]->size()))
        throw ValueError(ins_name(p) + ": " + std::string(t == 0 ? "i_in1" : t == 1 ? "i_in2" : "i_out") + "=" +
                         std::to_string(idx[t]) + " indexes a missing irrep (" + kIrrepsNames[t] + " has " +
                         std::to_string(irr[t]->size()) + ")");
    if (I.mode < 0 || I.mode >= kTpNumModes)
      throw ValueError(ins_name(p) + ": unknown connection mode " + std::to_string(I.mode));
    const TpIrrep &a = in1[I.i_in1], &b = in2[I.i_in2], &c = out[I.i_out];
    if (c.l < std::abs(a.l - b.l) || c.l > a.l + b.l || a.parity * b.parity != c.parity)
      throw ValueError(ins_name(p) + ": the output irrep (l=" + std::to_string(c.l) + ", p=" +
                       std::to_string(c.parity) + ") is not in the product of (l=" + std::to_string(a.l) + ", p=" +
                       std::to_string(a.parity) + ") and (l=" + std::to_string(b.l) + ", p=" +
                       std::to_string(b.parity) + ") (selection rule |l1-l2| <= l <= l1+l2, p = p1 p2)");
    std::string bad;
    switch (I.mode) {
      case SC_TP_UVU: if (c.mul != a.mul) bad = "mode uvu needs mul_out == mul_in1"; break;
      case SC_TP_UVV: if (c.mul != b.mul) bad = "mode uvv needs mul_out == mul_in2"; break;
      case SC_TP_UUW:
        if (a.mul != b.mul) bad = "mode uuw needs mul_in1 == mul_in2";
        else if (!I.has_weight && c.mul != 1) bad = "mode uuw without weight needs mul_out == 1";
        break;
      case SC_TP_UUU: if (a.mul != b.mul || a.mul != c.mul) bad = "mode uuu needs equal multiplicities"; break;
      case SC_TP_UVUV: if (c.mul != a.mul * b.mul) bad = "mode uvuv needs mul_out == mul_in1 * mul_in2"; break;
      case SC_TP_UVW: if (!I.has_weight) bad = "mode uvw needs has_weight=True"; break;
      default: break;
    }
    if (!bad.empty()) throw ValueError(ins_name(p) + ": " + bad);
    if (!std::isfinite(I.path_weight)) throw ValueError(ins_name(p) + ": path_weight must be finite");
    const size_t want = static_cast<size_t>(2 * a.l + 1) * (2 * b.l + 1) * (2 * c.l + 1);
    if (cg[p].size() != want)
      throw ValueError("cg[" + std::to_string(p) + "]: expected " + std::to_string(want) + " entries, got " +
                       std::to_string(cg[p].size()));
    if (I.has_weight) {
      P->w_offset.push_back(woff);
      int64_t np = 1;
      for (int64_t s : tp_path_shape(*P, static_cast<int>(p))) np *= s;
      woff += np;
    } else {
      P->w_offset.push_back(-1);
    }
  }
  P->weight_numel = woff;
  build_kernel_plan(*P, P->cg64, P->desc64, P->kp64);
  build_kernel_plan(*P, P->cg32, P->desc32, P->kp32);
  for (const auto& c : P->cg64[0]) P->nnz += static_cast<int64_t>(c.nz.size());
  return P;
}

template <class S>
const TpRowKernels<S>& tp_row_kernels() {
#if defined(SC_HAVE_AVX512_KERNELS)
  if (simd_at_least(SimdLevel::avx512)) return tp_row_kernels_avx512<S>();
#endif
#if defined(SC_HAVE_AVX2_KERNELS)
  if (simd_at_least(SimdLevel::avx2)) return tp_row_kernels_avx2<S>();
#endif
  return tp_row_kernels_generic<S>();
}
template const TpRowKernels<double>& tp_row_kernels<double>();
template const TpRowKernels<float>& tp_row_kernels<float>();

template <class S>
void tp_contract(const TpPlan& plan, int slot, const TpOperand<S> ops[4], S* out, int64_t n, int impl) {
  if (slot < 0 || slot > 3) throw ValueError("tp_contract: slot must be 0..3");
  if (n < 0) throw ValueError("tp_contract: n must be >= 0");
  const int64_t width[4] = {plan.dim[0], plan.dim[1], plan.weight_numel, plan.dim[2]};
  for (int s = 0; s < 4; ++s) {
    const TpOperand<S>& o = ops[s];
    if (s != slot && o.data == nullptr && width[s] > 0) throw ValueError(std::string(kSlotNames[s]) + ": missing input");
    if (o.shared && o.index) throw ValueError(std::string(kSlotNames[s]) + ": shared and indexed at once");
    if (!o.shared && !o.index && o.rows != n)
      throw ValueError(std::string(kSlotNames[s]) + ": expected " + std::to_string(n) + " rows, got " +
                       std::to_string(o.rows));
    if (o.shared && s != slot && o.rows < 1)
      throw ValueError(std::string(kSlotNames[s]) + ": a shared operand needs one row");
    if (o.index) {
      for (int64_t e = 0; e < n; ++e)
        if (o.index[e] < 0 || o.index[e] >= o.rows)
          throw ValueError(std::string(kSlotNames[s]) + " index: entry " + std::to_string(e) + " is " +
                           std::to_string(o.index[e]) + ", outside [0, " + std::to_string(o.rows) + ")");
    }
  }
  const TpOperand<S>& oo = ops[slot];
  const int64_t W = width[slot];
  const int64_t out_rows = oo.shared ? 1 : oo.rows;
  if (impl == 1) {
    tp_contract_ref(plan, slot, ops, out, n);
    return;
  }
  const TpKernelPlan<S>& kp = plan.kernel_plan<S>();
  if (impl == 2) {
    // The CUDA forward's per-channel math (tp_path_forward_channel), serial.
    if (slot != SC_TP_OUT || ops[SC_TP_X].index || ops[SC_TP_Y].index || ops[SC_TP_W].index || oo.index ||
        ops[SC_TP_X].shared || ops[SC_TP_Y].shared)
      throw ValueError("impl 2 (the device math) computes the plain product only");
    std::fill_n(out, n * W, S(0));
    for (int64_t e = 0; e < n; ++e) {
      const S* wr = ops[SC_TP_W].data + (ops[SC_TP_W].shared ? 0 : e) * width[SC_TP_W];
      for (int p = 0; p < kp.n_paths; ++p) {
        const TpPathDesc<S>& P = kp.paths[p];
        for (int c = 0; c < P.mulo; ++c)
          tp_path_forward_channel(P, ops[SC_TP_X].data + e * width[SC_TP_X], ops[SC_TP_Y].data + e * width[SC_TP_Y],
                                  P.has_weight ? wr + P.w_off : nullptr, out + e * W, c);
      }
    }
    return;
  }
  const TpRowKernels<S>& K = tp_row_kernels<S>();
  auto rowptr = [&](int s, int64_t e) -> const S* {
    if (s == slot) return nullptr;
    const TpOperand<S>& o = ops[s];
    const int64_t r = o.shared ? 0 : o.index ? o.index[e] : e;
    return o.data + r * width[s];
  };
  // The row kernel's accumulator: ir_mul for feature slots, flat for weights.
  std::vector<S> wt;
  if (ops[SC_TP_W].shared && (slot == SC_TP_X || slot == SC_TP_Y) && n > 0) wt = transposed_weights(kp, ops[SC_TP_W].data);
  auto run_row = [&](int64_t e, S* acc, S* scratch) {
    S* accs[4] = {nullptr, nullptr, nullptr, nullptr};
    accs[slot] = acc;
    K.row_multi(kp, rowptr(SC_TP_X, e), rowptr(SC_TP_Y, e), rowptr(SC_TP_W, e), wt.empty() ? nullptr : wt.data(),
                rowptr(SC_TP_OUT, e), accs, scratch);
  };
  const int layout = slot == SC_TP_X ? 0 : slot == SC_TP_Y ? 1 : slot == SC_TP_OUT ? 2 : -1;
  auto emit = [&](const S* acc, S* dst) {
    if (layout < 0)
      std::copy_n(acc, W, dst);
    else
      K.from_ir_mul(kp, layout, acc, dst);
  };
  if (W == 0) return;
  advise_huge_pages(out, sizeof(S) * static_cast<size_t>(out_rows * W));
  if (n == 0 || kp.n_paths == 0) {
    std::fill_n(out, out_rows * W, S(0));
    return;
  }
  const size_t scratch_n = static_cast<size_t>(kp.scratch);
  if (oo.shared) {
    // Fixed chunks (boundaries depend on n only), partial sums reduced in order.
    const int64_t chunk = 128;
    const int64_t nch = (n + chunk - 1) / chunk;
    std::vector<S> part(static_cast<size_t>(nch * W));
    parallel_for(nch, 1, [&](int64_t c0, int64_t c1) {
      std::vector<S> scratch(scratch_n), acc(static_cast<size_t>(W));
      for (int64_t c = c0; c < c1; ++c) {
        std::fill(acc.begin(), acc.end(), S(0));
        for (int64_t e = c * chunk; e < std::min(n, (c + 1) * chunk); ++e) run_row(e, acc.data(), scratch.data());
        emit(acc.data(), part.data() + c * W);
      }
    });
    reduce_parts(part.data(), nch, W, out);
    return;
  }
  if (oo.index) {
    // Rows grouped by target (counting sort, stable in e).
    std::vector<int64_t> start, perm;
    group_rows(oo.index, n, out_rows, start, perm);
    const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n / std::max<int64_t>(1, out_rows)));
    parallel_for(out_rows, std::min<int64_t>(grain, 64), [&](int64_t r0, int64_t r1) {
      std::vector<S> scratch(scratch_n), acc(static_cast<size_t>(W));
      for (int64_t r = r0; r < r1; ++r) {
        S* dst = out + r * W;
        if (start[r] == start[r + 1]) {
          std::fill_n(dst, W, S(0));
          continue;
        }
        std::fill(acc.begin(), acc.end(), S(0));
        for (int64_t q = start[r]; q < start[r + 1]; ++q) run_row(perm[q], acc.data(), scratch.data());
        emit(acc.data(), dst);
      }
    });
    return;
  }
  bool any_uvw = false;
  for (int p = 0; p < kp.n_paths; ++p) any_uvw = any_uvw || (kp.paths[p].mode == SC_TP_UVW && kp.paths[p].has_weight);
  if (slot == SC_TP_OUT && any_uvw && ops[SC_TP_W].shared && !ops[SC_TP_X].index && !ops[SC_TP_Y].index &&
      !ops[SC_TP_X].shared && !ops[SC_TP_Y].shared) {
    // Shared weights with fully connected paths: blocks of kTpBlock rows
    // (tp_out_block), chunks of 4 blocks; each output row still depends on
    // its inputs alone.
    parallel_for(n, 4 * kTpBlock, [&](int64_t e0, int64_t e1) {
      std::vector<S> scratch(static_cast<size_t>(tp_block_scratch(kp)));
      for (int64_t b0 = e0; b0 < e1; b0 += kTpBlock) {
        const int B = static_cast<int>(std::min<int64_t>(kTpBlock, e1 - b0));
        const S* xs[kTpBlock];
        const S* ys[kTpBlock];
        S* os[kTpBlock];
        for (int b = 0; b < B; ++b) {
          xs[b] = rowptr(SC_TP_X, b0 + b);
          ys[b] = rowptr(SC_TP_Y, b0 + b);
          os[b] = out + (b0 + b) * W;
        }
        K.out_block(kp, xs, ys, ops[SC_TP_W].data, B, os, scratch.data());
      }
    });
    return;
  }
  parallel_for(n, 32, [&](int64_t e0, int64_t e1) {
    std::vector<S> scratch(scratch_n), acc(static_cast<size_t>(W));
    for (int64_t e = e0; e < e1; ++e) {
      std::fill(acc.begin(), acc.end(), S(0));
      run_row(e, acc.data(), scratch.data());
      emit(acc.data(), out + e * W);
    }
  });
}

template <class S>
void tp_backward(const TpPlan& plan, const TpOperand<S> ops[4], S* gx, S* gy, S* gw, int64_t n, int impl) {
  const int64_t width[4] = {plan.dim[0], plan.dim[1], plan.weight_numel, plan.dim[2]};
  check_row_operands(width, ops, n, "tp_backward");
  if (ops[SC_TP_X].shared || ops[SC_TP_Y].shared || ops[SC_TP_OUT].shared)
    throw ValueError("tp_backward: only the weights may be shared");
  const bool wshared = ops[SC_TP_W].shared;
  if (ops[SC_TP_X].index && gx && wshared)
    throw ValueError("tp_backward: a gathered x with its gradient needs per-row weights");
  const int64_t W = width[SC_TP_W];
  if (impl == 1 || n == 0) {
    S* outs[3] = {gx, gy, gw};
    for (int s = 0; s < 3; ++s)
      if (outs[s]) tp_contract(plan, s, ops, outs[s], n, impl);
    return;
  }
  const TpKernelPlan<S>& kp = plan.kernel_plan<S>();
  const TpRowKernels<S>& K = tp_row_kernels<S>();
  auto row_of = [&](int s, int64_t e) {
    const int64_t r = ops[s].shared ? 0 : ops[s].index ? ops[s].index[e] : e;
    return ops[s].data + r * width[s];
  };
  std::vector<S> wt;
  if (wshared && (gx || gy) && n > 0) wt = transposed_weights(kp, ops[SC_TP_W].data);
  if (gx) advise_huge_pages(gx, sizeof(S) * static_cast<size_t>(ops[SC_TP_X].index ? ops[SC_TP_X].rows : n) *
                                 static_cast<size_t>(plan.dim[0]));
  if (gy) advise_huge_pages(gy, sizeof(S) * static_cast<size_t>(n * plan.dim[1]));
  if (gw && !wshared) advise_huge_pages(gw, sizeof(S) * static_cast<size_t>(n * W));
  if (ops[SC_TP_X].index && gx) {
    // The convolution: rows grouped by sender (stable counting sort); grad x
    // summed per sender in ascending row order, grad y / grad w per row.
    const int64_t* idx = ops[SC_TP_X].index;
    const int64_t nodes = ops[SC_TP_X].rows;
    std::vector<int64_t> start, perm;
    group_rows(idx, n, nodes, start, perm);
    const size_t scratch_g = static_cast<size_t>(kp.scratch);
    parallel_for(nodes, 16, [&](int64_t r0, int64_t r1) {
      std::vector<S> scratch(scratch_g), ax(plan.dim[0]), ay(gy ? plan.dim[1] : 0), aw(gw ? W : 0);
      for (int64_t r = r0; r < r1; ++r) {
        std::fill(ax.begin(), ax.end(), S(0));
        for (int64_t q = start[r]; q < start[r + 1]; ++q) {
          const int64_t e = perm[q];
          std::fill(ay.begin(), ay.end(), S(0));
          std::fill(aw.begin(), aw.end(), S(0));
          S* acc[4] = {ax.data(), gy ? ay.data() : nullptr, gw ? aw.data() : nullptr, nullptr};
          K.row_multi(kp, row_of(SC_TP_X, e), row_of(SC_TP_Y, e), row_of(SC_TP_W, e), nullptr, row_of(SC_TP_OUT, e),
                      acc, scratch.data());
          if (gy) K.from_ir_mul(kp, 1, ay.data(), gy + e * plan.dim[1]);
          if (gw) std::copy_n(aw.data(), W, gw + e * W);
        }
        K.from_ir_mul(kp, 0, ax.data(), gx + r * plan.dim[0]);
      }
    });
    return;
  }
  const int64_t chunk = 128;
  const int64_t nch = (n + chunk - 1) / chunk;
  std::vector<S> part(wshared && gw ? static_cast<size_t>(nch * W) : 0);
  const size_t scratch_n = static_cast<size_t>(kp.scratch);
  // Shared weights with fully connected paths: blocks of kTpBlock rows
  // (tp_bwd_block) for all the gradients asked for.
  bool any_uvw = false;
  for (int p = 0; p < kp.n_paths; ++p) any_uvw = any_uvw || (kp.paths[p].mode == SC_TP_UVW && kp.paths[p].has_weight);
  const bool blocks = wshared && any_uvw;
  parallel_for(nch, 1, [&](int64_t c0, int64_t c1) {
    std::vector<S> scratch(blocks ? 0 : scratch_n), ax(gx && !blocks ? plan.dim[0] : 0), ay(gy && !blocks ? plan.dim[1] : 0),
        aw(gw ? W : 0);
    std::vector<S> bscratch(blocks ? static_cast<size_t>(tp_block_scratch(kp)) : 0);
    for (int64_t c = c0; c < c1; ++c) {
      if (gw && wshared) std::fill(aw.begin(), aw.end(), S(0));
      const int64_t e_end = std::min(n, (c + 1) * chunk);
      if (blocks) {
        for (int64_t e0 = c * chunk; e0 < e_end; e0 += kTpBlock) {
          const int B = static_cast<int>(std::min<int64_t>(kTpBlock, e_end - e0));
          const S* xs[kTpBlock];
          const S* ys[kTpBlock];
          const S* gs[kTpBlock];
          S* gxs[kTpBlock];
          S* gys[kTpBlock];
          for (int b = 0; b < B; ++b) {
            xs[b] = row_of(SC_TP_X, e0 + b);
            ys[b] = row_of(SC_TP_Y, e0 + b);
            gs[b] = row_of(SC_TP_OUT, e0 + b);
            gxs[b] = gx ? gx + (e0 + b) * plan.dim[0] : nullptr;
            gys[b] = gy ? gy + (e0 + b) * plan.dim[1] : nullptr;
          }
          K.bwd_block(kp, xs, ys, gs, ops[SC_TP_W].data, wt.empty() ? nullptr : wt.data(), B, gw ? aw.data() : nullptr,
                      gx ? gxs : nullptr, gy ? gys : nullptr, bscratch.data());
        }
        if (gw) std::copy_n(aw.data(), W, part.data() + c * W);
        continue;
      }
      for (int64_t e = c * chunk; e < e_end; ++e) {
        std::fill(ax.begin(), ax.end(), S(0));
        std::fill(ay.begin(), ay.end(), S(0));
        if (gw && !wshared) std::fill(aw.begin(), aw.end(), S(0));
        S* acc[4] = {gx ? ax.data() : nullptr, gy ? ay.data() : nullptr, gw ? aw.data() : nullptr, nullptr};
        K.row_multi(kp, row_of(SC_TP_X, e), row_of(SC_TP_Y, e), row_of(SC_TP_W, e), wt.empty() ? nullptr : wt.data(),
                    row_of(SC_TP_OUT, e), acc, scratch.data());
        if (gx) K.from_ir_mul(kp, 0, ax.data(), gx + e * plan.dim[0]);
        if (gy) K.from_ir_mul(kp, 1, ay.data(), gy + e * plan.dim[1]);
        if (gw && !wshared) std::copy_n(aw.data(), W, gw + e * W);
      }
      if (gw && wshared) std::copy_n(aw.data(), W, part.data() + c * W);
    }
  });
  if (gw && wshared) {
    reduce_parts(part.data(), nch, W, gw);
  }
}

// The double backward of <g, T(x, y, w)>: with F(x, y, w, g) that form, the
// gradient of (dF/dx, dF/dy, dF/dw) against (ggx, ggy, ggw) is, for each
// slot t, sum over s != t of "slot t from the others with slot s replaced by
// gg_s".  One pass over the rows: per row, one row_multi per given gg_s adds
// its terms to the accumulators of all the other slots asked for.
template <class S>
void tp_double_backward(const TpPlan& plan, const TpOperand<S> ops[4], const S* const gg[3], S* const outs[4],
                        int64_t n) {
  const int64_t width[4] = {plan.dim[0], plan.dim[1], plan.weight_numel, plan.dim[2]};
  for (int s = 0; s < 4; ++s)
    if (ops[s].shared && s != SC_TP_W) throw ValueError("tp_double_backward: only the weights may be shared");
  check_row_operands(width, ops, n, "tp_double_backward");
  const bool wshared = ops[SC_TP_W].shared;
  const int64_t* xidx = ops[SC_TP_X].index;
  const int64_t* gidx = ops[SC_TP_OUT].index;
  if (xidx && wshared) throw ValueError("tp_double_backward: a gathered x needs per-row weights");
  const int64_t out_rows[4] = {xidx ? ops[SC_TP_X].rows : n, n, wshared ? 1 : n, gidx ? ops[SC_TP_OUT].rows : n};
  bool any_gg = false;
  for (int s = 0; s < 3; ++s) any_gg = any_gg || gg[s] != nullptr;
  const TpKernelPlan<S>& kp = plan.kernel_plan<S>();
  if (n == 0 || kp.n_paths == 0 || !any_gg) {
    for (int t = 0; t < 4; ++t)
      if (outs[t]) std::fill_n(outs[t], out_rows[t] * width[t], S(0));
    return;
  }
  bool any_uvw = false;
  for (int p = 0; p < kp.n_paths; ++p) any_uvw = any_uvw || (kp.paths[p].mode == SC_TP_UVW && kp.paths[p].has_weight);
  if (wshared && any_uvw && !xidx && !gidx) {
    // Shared weights with fully connected paths: the blocked kernels (one GEMM
    // per path over kTpBlock rows) beat the row pass, so per gg_s one blocked
    // product (slot out) and one blocked backward (the other slots), summed
    // in s order.
    std::vector<S> tmp[4];
    for (int t = 0; t < 4; ++t)
      if (outs[t]) {
        std::fill_n(outs[t], out_rows[t] * width[t], S(0));
        tmp[t].resize(static_cast<size_t>(out_rows[t] * width[t]));
      }
    auto add = [&](int t) {
      S* o = outs[t];
      const S* a = tmp[t].data();
      parallel_for(out_rows[t] * width[t], 1 << 14, [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; ++k) o[k] += a[k];
      });
    };
    for (int s = 0; s < 3; ++s) {
      if (!gg[s]) continue;
      TpOperand<S> o2[4] = {ops[0], ops[1], ops[2], ops[3]};
      o2[s].data = gg[s];
      if (outs[SC_TP_OUT]) {
        tp_contract<S>(plan, SC_TP_OUT, o2, tmp[SC_TP_OUT].data(), n, 0);
        add(SC_TP_OUT);
      }
      S* b[3] = {nullptr, nullptr, nullptr};
      for (int t = 0; t < 3; ++t)
        if (t != s && outs[t]) b[t] = tmp[t].data();
      if (!b[0] && !b[1] && !b[2]) continue;
      tp_backward<S>(plan, o2, b[0], b[1], b[2], n, 0);
      for (int t = 0; t < 3; ++t)
        if (b[t]) add(t);
    }
    return;
  }
  if (outs[SC_TP_OUT] && gidx) std::fill_n(outs[SC_TP_OUT], out_rows[SC_TP_OUT] * width[SC_TP_OUT], S(0));
  const TpRowKernels<S>& K = tp_row_kernels<S>();
  auto row_of = [&](const S* data, int s, int64_t e) {
    const int64_t r = ops[s].shared ? 0 : ops[s].index ? ops[s].index[e] : e;
    return data + r * width[s];
  };
  // Transposed shared weights (the x / y terms use them): w's and ggw's.
  std::vector<S> wt, ggwt;
  if (wshared) {
    wt = transposed_weights(kp, ops[SC_TP_W].data);
    if (gg[SC_TP_W]) ggwt = transposed_weights(kp, gg[SC_TP_W]);
  }
  // Groups of rows: by sender when x is gathered (grad x summed per sender in
  // ascending row order), else one row each.
  const int64_t groups = xidx ? ops[SC_TP_X].rows : n;
  std::vector<int64_t> start, perm;
  if (xidx) group_rows(xidx, n, groups, start, perm);
  // Grad g of a gathered g: per row first, summed per receiver after.
  std::vector<S> grow(outs[SC_TP_OUT] && gidx ? static_cast<size_t>(n * width[SC_TP_OUT]) : 0);
  S* gout_rows = gidx ? grow.data() : outs[SC_TP_OUT];
  const int64_t chunk = xidx ? 16 : 128;
  const int64_t nch = (groups + chunk - 1) / chunk;
  const int64_t W = width[SC_TP_W];
  const bool wsum = wshared && outs[SC_TP_W];
  std::vector<S> part(wsum ? static_cast<size_t>(nch * W) : 0);
  parallel_for(nch, 1, [&](int64_t c0, int64_t c1) {
    std::vector<S> scratch(static_cast<size_t>(kp.scratch));
    std::vector<S> acc[4];
    for (int t = 0; t < 4; ++t)
      if (outs[t]) acc[t].assign(static_cast<size_t>(width[t]), S(0));
    for (int64_t c = c0; c < c1; ++c) {
      if (wsum) std::fill(acc[SC_TP_W].begin(), acc[SC_TP_W].end(), S(0));
      for (int64_t r = c * chunk; r < std::min(groups, (c + 1) * chunk); ++r) {
        if (outs[SC_TP_X]) std::fill(acc[SC_TP_X].begin(), acc[SC_TP_X].end(), S(0));
        const int64_t q0 = xidx ? start[r] : r, q1 = xidx ? start[r + 1] : r + 1;
        for (int64_t q = q0; q < q1; ++q) {
          const int64_t e = xidx ? perm[q] : q;
          if (outs[SC_TP_Y]) std::fill(acc[SC_TP_Y].begin(), acc[SC_TP_Y].end(), S(0));
          if (outs[SC_TP_W] && !wshared) std::fill(acc[SC_TP_W].begin(), acc[SC_TP_W].end(), S(0));
          if (outs[SC_TP_OUT]) std::fill(acc[SC_TP_OUT].begin(), acc[SC_TP_OUT].end(), S(0));
          const S* in[4] = {row_of(ops[0].data, 0, e), row_of(ops[1].data, 1, e), row_of(ops[2].data, 2, e),
                            row_of(ops[3].data, 3, e)};
          for (int s = 0; s < 3; ++s) {
            if (!gg[s]) continue;
            const S* a[4] = {in[0], in[1], in[2], in[3]};
            a[s] = row_of(gg[s], s, e);
            S* accs[4] = {nullptr, nullptr, nullptr, nullptr};
            for (int t = 0; t < 4; ++t)
              if (t != s && outs[t]) accs[t] = acc[t].data();
            if (!accs[0] && !accs[1] && !accs[2] && !accs[3]) continue;
            const S* wtp = !wshared ? nullptr : s == SC_TP_W ? ggwt.data() : wt.data();
            K.row_multi(kp, a[0], a[1], a[2], wtp, a[3], accs, scratch.data());
          }
          if (outs[SC_TP_Y]) K.from_ir_mul(kp, 1, acc[SC_TP_Y].data(), outs[SC_TP_Y] + e * width[SC_TP_Y]);
          if (outs[SC_TP_W] && !wshared) std::copy_n(acc[SC_TP_W].data(), W, outs[SC_TP_W] + e * W);
          if (outs[SC_TP_OUT])
            K.from_ir_mul(kp, 2, acc[SC_TP_OUT].data(), gout_rows + e * width[SC_TP_OUT]);
        }
        if (outs[SC_TP_X]) K.from_ir_mul(kp, 0, acc[SC_TP_X].data(), outs[SC_TP_X] + r * width[SC_TP_X]);
      }
      if (wsum) std::copy_n(acc[SC_TP_W].data(), W, part.data() + c * W);
    }
  });
  if (wsum) reduce_parts(part.data(), nch, W, outs[SC_TP_W]);
  if (outs[SC_TP_OUT] && gidx) {
    // Per receiver, in ascending row order.
    const int64_t nodes = ops[SC_TP_OUT].rows, D = width[SC_TP_OUT];
    std::vector<int64_t> st, pm;
    group_rows(gidx, n, nodes, st, pm);
    S* go = outs[SC_TP_OUT];
    parallel_for(nodes, 64, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        S* dst = go + r * D;
        for (int64_t q = st[r]; q < st[r + 1]; ++q) {
          const S* src = grow.data() + pm[q] * D;
          for (int64_t k = 0; k < D; ++k) dst[k] += src[k];
        }
      }
    });
  }
}

template void tp_double_backward<double>(const TpPlan&, const TpOperand<double>[4], const double* const[3],
                                         double* const[4], int64_t);
template void tp_double_backward<float>(const TpPlan&, const TpOperand<float>[4], const float* const[3],
                                        float* const[4], int64_t);

template void tp_backward<double>(const TpPlan&, const TpOperand<double>[4], double*, double*, double*, int64_t, int);
template void tp_backward<float>(const TpPlan&, const TpOperand<float>[4], float*, float*, float*, int64_t, int);

template void tp_contract<double>(const TpPlan&, int, const TpOperand<double>[4], double*, int64_t, int);
template void tp_contract<float>(const TpPlan&, int, const TpOperand<float>[4], float*, int64_t, int);

}  // namespace tp
}  // namespace sc
