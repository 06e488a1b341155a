// The per-row tensor-product kernel, written once over an element type V:
// the scalar S itself (product_generic.cc) or an AVX2 pack (product_avx2.cc,
// channels in lanes).  The including file defines, before including this
// header, for its V:
//   VT<V>::L (lanes), V vsplat<V>(S), V vload<V>(const S*), void vstore(S*, V),
//   V vfma(V a, V b, V c) = a * b + c, S vhsum(V).
// Only raw pointers and the POD views of plan.h are used (no std containers),
// so this code can be compiled with ISA flags without leaking inline symbols.
//
// Per row, the inputs are copied to ir_mul scratch ([2l+1][mul] per block:
// channels contiguous) and every path runs the mode's contraction as sparse CG
// loops over channel vectors (k_ternary) plus small channel GEMV / outer
// products for the weights.  See plan.h for the formulas.
#pragma once
#include <algorithm>
#include <stdint.h>
#include <string.h>

#include "scalecore/common/hd.h"
#include "scalecore/tp/plan.h"

SC_FAMILY_NS_BEGIN(tp)
namespace {

// ---- channel-vector primitives (length n, contiguous) ----------------------

// y += a x
template <class V, class S>
inline void k_axpy(int64_t n, S a, const S* SC_RESTRICT x, S* SC_RESTRICT y) {
  constexpr int L = VT<V>::L;
  const V va = vsplat<V>(a);
  int64_t c = 0;
  for (; c + L <= n; c += L) vstore(y + c, vfma(va, vload<V>(x + c), vload<V>(y + c)));
  for (; c < n; ++c) y[c] += a * x[c];
}

// o += x * y
template <class V, class S>
inline void k_muladd(int64_t n, const S* SC_RESTRICT x, const S* SC_RESTRICT y, S* SC_RESTRICT o) {
  constexpr int L = VT<V>::L;
  int64_t c = 0;
  for (; c + L <= n; c += L) vstore(o + c, vfma(vload<V>(x + c), vload<V>(y + c), vload<V>(o + c)));
  for (; c < n; ++c) o[c] += x[c] * y[c];
}

// o = x * y
template <class V, class S>
inline void k_mul(int64_t n, const S* SC_RESTRICT x, const S* SC_RESTRICT y, S* SC_RESTRICT o) {
  constexpr int L = VT<V>::L;
  int64_t c = 0;
  for (; c + L <= n; c += L) vstore(o + c, vload<V>(x + c) * vload<V>(y + c));
  for (; c < n; ++c) o[c] = x[c] * y[c];
}

// sum x * y
template <class V, class S>
inline S k_dot(int64_t n, const S* SC_RESTRICT x, const S* SC_RESTRICT y) {
  constexpr int L = VT<V>::L;
  V a0 = vsplat<V>(S(0)), a1 = a0;
  int64_t c = 0;
  for (; c + 2 * L <= n; c += 2 * L) {
    a0 = vfma(vload<V>(x + c), vload<V>(y + c), a0);
    a1 = vfma(vload<V>(x + c + L), vload<V>(y + c + L), a1);
  }
  for (; c + L <= n; c += L) a0 = vfma(vload<V>(x + c), vload<V>(y + c), a0);
  S s = vhsum(a0 + a1);
  for (; c < n; ++c) s += x[c] * y[c];
  return s;
}

template <class S>
inline S k_sum(int64_t n, const S* x) {
  S s = 0;
  for (int64_t c = 0; c < n; ++c) s += x[c];
  return s;
}

// O[0:p] += sum_{u < m} q[u * qs] W[u * ws + 0:p]: a row times a matrix, with
// the output row held in registers over u (blocks of 4 packs).
template <class V, class S>
inline void k_rowmat(int64_t p, int64_t m, const S* SC_RESTRICT q, int64_t qs, const S* SC_RESTRICT W, int64_t ws,
                     S* SC_RESTRICT O) {
  constexpr int L = VT<V>::L;
  int64_t c = 0;
  for (; c + 4 * L <= p; c += 4 * L) {
    V a0 = vload<V>(O + c), a1 = vload<V>(O + c + L), a2 = vload<V>(O + c + 2 * L), a3 = vload<V>(O + c + 3 * L);
    for (int64_t u = 0; u < m; ++u) {
      const V b = vsplat<V>(q[u * qs]);
      const S* w = W + u * ws + c;
      a0 = vfma(b, vload<V>(w), a0);
      a1 = vfma(b, vload<V>(w + L), a1);
      a2 = vfma(b, vload<V>(w + 2 * L), a2);
      a3 = vfma(b, vload<V>(w + 3 * L), a3);
    }
    vstore(O + c, a0);
    vstore(O + c + L, a1);
    vstore(O + c + 2 * L, a2);
    vstore(O + c + 3 * L, a3);
  }
  // Two packs, then one: short rows (32 float channels are two AVX-512
  // packs) keep two independent chains rather than one.
  for (; c + 2 * L <= p; c += 2 * L) {
    V a0 = vload<V>(O + c), a1 = vload<V>(O + c + L);
    for (int64_t u = 0; u < m; ++u) {
      const V b = vsplat<V>(q[u * qs]);
      const S* w = W + u * ws + c;
      a0 = vfma(b, vload<V>(w), a0);
      a1 = vfma(b, vload<V>(w + L), a1);
    }
    vstore(O + c, a0);
    vstore(O + c + L, a1);
  }
  for (; c + L <= p; c += L) {
    V a0 = vload<V>(O + c);
    for (int64_t u = 0; u < m; ++u) a0 = vfma(vsplat<V>(q[u * qs]), vload<V>(W + u * ws + c), a0);
    vstore(O + c, a0);
  }
  for (; c < p; ++c) {
    S s = O[c];
    for (int64_t u = 0; u < m; ++u) s += q[u * qs] * W[u * ws + c];
    O[c] = s;
  }
}

// Several rows at once: O[r * ors + 0:p] += sum_{u < m} q[r * qrs + u * qs] W[u * ws + 0:p],
// r < R.  Each W pack loaded feeds RB rows, and RB x 2 accumulators are
// independent FMA chains (one row of two packs alone is latency-bound).  Every
// output element sums over u in the same order as k_rowmat.
template <class V, int RB, int NP, class S>
inline void k_rowsmat_blk(int64_t m, const S* SC_RESTRICT q, int64_t qrs, int64_t qs, const S* SC_RESTRICT W,
                          int64_t ws, S* SC_RESTRICT O, int64_t ors) {
  constexpr int L = VT<V>::L;
  V a[RB][NP];
  for (int r = 0; r < RB; ++r)
    for (int c = 0; c < NP; ++c) a[r][c] = vload<V>(O + r * ors + c * L);
  for (int64_t u = 0; u < m; ++u) {
    V w[NP];
    for (int c = 0; c < NP; ++c) w[c] = vload<V>(W + u * ws + c * L);
    for (int r = 0; r < RB; ++r) {
      const V b = vsplat<V>(q[r * qrs + u * qs]);
      for (int c = 0; c < NP; ++c) a[r][c] = vfma(b, w[c], a[r][c]);
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int c = 0; c < NP; ++c) vstore(O + r * ors + c * L, a[r][c]);
}

template <class V, int NP, class S>
inline void k_rowsmat_cols(int64_t R, int64_t m, const S* SC_RESTRICT q, int64_t qrs, int64_t qs,
                           const S* SC_RESTRICT W, int64_t ws, S* SC_RESTRICT O, int64_t ors) {
  constexpr int RB = NP == 1 ? 8 : 6;
  int64_t r = 0;
  for (; r + RB <= R; r += RB) k_rowsmat_blk<V, RB, NP>(m, q + r * qrs, qrs, qs, W, ws, O + r * ors, ors);
  const S* qr = q + r * qrs;
  S* Or = O + r * ors;
  switch (R - r) {
    case 1: k_rowsmat_blk<V, 1, NP>(m, qr, qrs, qs, W, ws, Or, ors); break;
    case 2: k_rowsmat_blk<V, 2, NP>(m, qr, qrs, qs, W, ws, Or, ors); break;
    case 3: k_rowsmat_blk<V, 3, NP>(m, qr, qrs, qs, W, ws, Or, ors); break;
    case 4: k_rowsmat_blk<V, 4, NP>(m, qr, qrs, qs, W, ws, Or, ors); break;
    case 5: k_rowsmat_blk<V, 5, NP>(m, qr, qrs, qs, W, ws, Or, ors); break;
    case 6: k_rowsmat_blk<V, 6, NP>(m, qr, qrs, qs, W, ws, Or, ors); break;
    case 7: k_rowsmat_blk<V, 7, NP>(m, qr, qrs, qs, W, ws, Or, ors); break;
    default: break;
  }
}

template <class V, class S>
inline void k_rowsmat(int64_t R, int64_t p, int64_t m, const S* SC_RESTRICT q, int64_t qrs, int64_t qs,
                      const S* SC_RESTRICT W, int64_t ws, S* SC_RESTRICT O, int64_t ors) {
  constexpr int L = VT<V>::L;
  int64_t c = 0;
  for (; c + 2 * L <= p; c += 2 * L) k_rowsmat_cols<V, 2>(R, m, q, qrs, qs, W + c, ws, O + c, ors);
  for (; c + L <= p; c += L) k_rowsmat_cols<V, 1>(R, m, q, qrs, qs, W + c, ws, O + c, ors);
  if (c < p)
    for (int64_t r = 0; r < R; ++r)
      for (int64_t cc = c; cc < p; ++cc) {
        S s = O[r * ors + cc];
        for (int64_t u = 0; u < m; ++u) s += q[r * qrs + u * qs] * W[u * ws + cc];
        O[r * ors + cc] = s;
      }
}

// The sparse CG contraction over channels, for every output group g:
//   O[o_g * ldo + c] += sum_{q in g} val_q A[a_q * lda + c] B[b_q * ldb + c],  c < n
// BA / BB: A / B hold one value per index (A[a_q * lda]) broadcast over c.
// Four packs of channels at once: four independent FMA chains.
template <class V, bool BA, bool BB, class S>
inline void k_ternary(const TpCgView<S>& cg, const S* SC_RESTRICT A, int64_t lda, const S* SC_RESTRICT B, int64_t ldb,
                      S* SC_RESTRICT O, int64_t ldo, int64_t n) {
  static_assert(!(BA && BB), "one operand must run over channels");
  constexpr int L = VT<V>::L;
  for (int32_t g = 0; g < cg.n_groups; ++g) {
    const TpNz<S>* q0 = cg.nz + cg.group[g];
    const TpNz<S>* q1 = cg.nz + cg.group[g + 1];
    S* o = O + cg.out_index[g] * ldo;
    int64_t c = 0;
    for (; c + 4 * L <= n; c += 4 * L) {
      V a0 = vsplat<V>(S(0)), a1 = a0, a2 = a0, a3 = a0;
      for (const TpNz<S>* q = q0; q < q1; ++q) {
        if (BA) {
          const V s = vsplat<V>(q->val * A[q->a * lda]);
          const S* pb = B + q->b * ldb + c;
          a0 = vfma(s, vload<V>(pb), a0);
          a1 = vfma(s, vload<V>(pb + L), a1);
          a2 = vfma(s, vload<V>(pb + 2 * L), a2);
          a3 = vfma(s, vload<V>(pb + 3 * L), a3);
        } else if (BB) {
          const V s = vsplat<V>(q->val * B[q->b * ldb]);
          const S* pa = A + q->a * lda + c;
          a0 = vfma(s, vload<V>(pa), a0);
          a1 = vfma(s, vload<V>(pa + L), a1);
          a2 = vfma(s, vload<V>(pa + 2 * L), a2);
          a3 = vfma(s, vload<V>(pa + 3 * L), a3);
        } else {
          const V s = vsplat<V>(q->val);
          const S* pa = A + q->a * lda + c;
          const S* pb = B + q->b * ldb + c;
          a0 = vfma(s * vload<V>(pa), vload<V>(pb), a0);
          a1 = vfma(s * vload<V>(pa + L), vload<V>(pb + L), a1);
          a2 = vfma(s * vload<V>(pa + 2 * L), vload<V>(pb + 2 * L), a2);
          a3 = vfma(s * vload<V>(pa + 3 * L), vload<V>(pb + 3 * L), a3);
        }
      }
      vstore(o + c, vload<V>(o + c) + a0);
      vstore(o + c + L, vload<V>(o + c + L) + a1);
      vstore(o + c + 2 * L, vload<V>(o + c + 2 * L) + a2);
      vstore(o + c + 3 * L, vload<V>(o + c + 3 * L) + a3);
    }
    for (; c + 2 * L <= n; c += 2 * L) {
      V a0 = vsplat<V>(S(0)), a1 = a0;
      for (const TpNz<S>* q = q0; q < q1; ++q) {
        if (BA) {
          const V s = vsplat<V>(q->val * A[q->a * lda]);
          const S* pb = B + q->b * ldb + c;
          a0 = vfma(s, vload<V>(pb), a0);
          a1 = vfma(s, vload<V>(pb + L), a1);
        } else if (BB) {
          const V s = vsplat<V>(q->val * B[q->b * ldb]);
          const S* pa = A + q->a * lda + c;
          a0 = vfma(s, vload<V>(pa), a0);
          a1 = vfma(s, vload<V>(pa + L), a1);
        } else {
          const V s = vsplat<V>(q->val);
          const S* pa = A + q->a * lda + c;
          const S* pb = B + q->b * ldb + c;
          a0 = vfma(s * vload<V>(pa), vload<V>(pb), a0);
          a1 = vfma(s * vload<V>(pa + L), vload<V>(pb + L), a1);
        }
      }
      vstore(o + c, vload<V>(o + c) + a0);
      vstore(o + c + L, vload<V>(o + c + L) + a1);
    }
    for (; c + L <= n; c += L) {
      V a0 = vsplat<V>(S(0));
      for (const TpNz<S>* q = q0; q < q1; ++q) {
        if (BA) {
          a0 = vfma(vsplat<V>(q->val * A[q->a * lda]), vload<V>(B + q->b * ldb + c), a0);
        } else if (BB) {
          a0 = vfma(vsplat<V>(q->val * B[q->b * ldb]), vload<V>(A + q->a * lda + c), a0);
        } else {
          a0 = vfma(vsplat<V>(q->val) * vload<V>(A + q->a * lda + c), vload<V>(B + q->b * ldb + c), a0);
        }
      }
      vstore(o + c, vload<V>(o + c) + a0);
    }
    for (; c < n; ++c) {
      S s = 0;
      for (const TpNz<S>* q = q0; q < q1; ++q)
        s += q->val * A[q->a * lda + (BA ? 0 : c)] * B[q->b * ldb + (BB ? 0 : c)];
      o[c] += s;
    }
  }
}

// The same contraction summed over the channels:
//   O[o_g * ldo] += sum_c sum_{q in g} val_q A[a_q * lda + c] B[b_q * ldb + c]
template <class V, class S>
inline void k_ternary_reduce(const TpCgView<S>& cg, const S* SC_RESTRICT A, int64_t lda, const S* SC_RESTRICT B,
                             int64_t ldb, S* SC_RESTRICT O, int64_t ldo, int64_t n) {
  constexpr int L = VT<V>::L;
  for (int32_t g = 0; g < cg.n_groups; ++g) {
    const TpNz<S>* q0 = cg.nz + cg.group[g];
    const TpNz<S>* q1 = cg.nz + cg.group[g + 1];
    V a0 = vsplat<V>(S(0)), a1 = a0;
    int64_t c = 0;
    for (; c + 2 * L <= n; c += 2 * L)
      for (const TpNz<S>* q = q0; q < q1; ++q) {
        const V s = vsplat<V>(q->val);
        const S* pa = A + q->a * lda + c;
        const S* pb = B + q->b * ldb + c;
        a0 = vfma(s * vload<V>(pa), vload<V>(pb), a0);
        a1 = vfma(s * vload<V>(pa + L), vload<V>(pb + L), a1);
      }
    for (; c + L <= n; c += L)
      for (const TpNz<S>* q = q0; q < q1; ++q)
        a0 = vfma(vsplat<V>(q->val) * vload<V>(A + q->a * lda + c), vload<V>(B + q->b * ldb + c), a0);
    S s = vhsum(a0 + a1);
    for (; c < n; ++c)
      for (const TpNz<S>* q = q0; q < q1; ++q) s += q->val * A[q->a * lda + c] * B[q->b * ldb + c];
    O[cg.out_index[g] * ldo] += s;
  }
}

// ---- layouts -------------------------------------------------------------------

// Block transposes between mul_ir ([m][D]) and ir_mul ([D][m]), with D a
// compile-time constant for D <= 9 (the loops unroll; one contiguous run of
// D per channel) and a generic loop beyond.
// The including file may vectorise a prefix of the channels:
// vtr_to_ir<D>(src, dst, m) / vtr_from_ir<D>(...) return how many channels
// (from 0) they transposed.
template <int D, class S>
inline void k_tr_to_ir(const S* SC_RESTRICT src, S* SC_RESTRICT dst, int m) {
  for (int u = vtr_to_ir<D>(src, dst, m); u < m; ++u)
    for (int i = 0; i < D; ++i) dst[i * m + u] = src[u * D + i];
}
template <int D, class S>
inline void k_tr_from_ir(const S* SC_RESTRICT src, S* SC_RESTRICT dst, int m) {
  for (int u = vtr_from_ir<D>(src, dst, m); u < m; ++u)
    for (int i = 0; i < D; ++i) dst[u * D + i] = src[i * m + u];
}
template <bool TO, class S>
inline void k_transpose(const S* SC_RESTRICT src, S* SC_RESTRICT dst, int m, int d) {
  if (m == 1 || d == 1) {
    memcpy(dst, src, sizeof(S) * static_cast<size_t>(m) * d);
    return;
  }
#define SC_TP_TR(D)                                       \
  case D:                                                 \
    if (TO)                                               \
      k_tr_to_ir<D>(src, dst, m);                         \
    else                                                  \
      k_tr_from_ir<D>(src, dst, m);                       \
    return;
  switch (d) {
    SC_TP_TR(3)
    SC_TP_TR(5)
    SC_TP_TR(7)
    SC_TP_TR(9)
    default: break;
  }
#undef SC_TP_TR
  for (int u = 0; u < m; ++u)
    for (int i = 0; i < d; ++i) {
      if (TO)
        dst[i * m + u] = src[u * d + i];
      else
        dst[u * d + i] = src[i * m + u];
    }
}

// mul_ir row <-> ir_mul row (layout t: 0 x, 1 y, 2 out).
template <class S>
inline void k_to_ir_mul(const TpKernelPlan<S>& kp, int t, const S* SC_RESTRICT src, S* SC_RESTRICT dst) {
  for (int b = 0; b < kp.n_blk[t]; ++b) {
    const int64_t off = kp.blk_off[t][b];
    k_transpose<true>(src + off, dst + off, kp.blk_mul[t][b], kp.blk_d[t][b]);
  }
}
template <class S>
inline void k_from_ir_mul(const TpKernelPlan<S>& kp, int t, const S* SC_RESTRICT src, S* SC_RESTRICT dst) {
  for (int b = 0; b < kp.n_blk[t]; ++b) {
    const int64_t off = kp.blk_off[t][b];
    k_transpose<false>(src + off, dst + off, kp.blk_mul[t][b], kp.blk_d[t][b]);
  }
}

// ---- one path, one contraction -----------------------------------------------

// Pointers of one row for one path (ir_mul blocks; W flat at the block).
template <class S>
struct PathIo {
  const S* X;   // [d1][m1]
  const S* Y;   // [d2][m2]
  const S* G;   // [d3][mo]
  const S* W;   // weight block or nullptr (no weight)
  const S* WT;  // the block transposed (uvw: [v][w][u], uuw: [w][u]) or nullptr
  S* acc;       // the output slot's block
  S* t1;
  S* t2;
  S* t3;
};

template <class V, class S>
inline void path_uuu(const TpPathDesc<S>& P, int slot, const PathIo<S>& io) {
  const int m = P.mul1;
  const bool hw = io.W != nullptr;
  switch (slot) {
    case SC_TP_OUT:
    case SC_TP_Y: {
      const S* A = io.X;
      if (hw) {
        for (int i = 0; i < P.d1; ++i) k_mul<V>(m, io.X + i * m, io.W, io.t1 + i * m);
        A = io.t1;
      }
      if (slot == SC_TP_OUT)
        k_ternary<V, false, false>(P.cg[0], A, m, io.Y, m, io.acc, m, m);
      else
        k_ternary<V, false, false>(P.cg[2], A, m, io.G, m, io.acc, m, m);
      break;
    }
    case SC_TP_X: {
      const S* A = io.G;
      if (hw) {
        for (int k = 0; k < P.d3; ++k) k_mul<V>(m, io.G + k * m, io.W, io.t1 + k * m);
        A = io.t1;
      }
      k_ternary<V, false, false>(P.cg[1], A, m, io.Y, m, io.acc, m, m);
      break;
    }
    case SC_TP_W: {
      memset(io.t1, 0, sizeof(S) * static_cast<size_t>(P.d3) * m);
      k_ternary<V, false, false>(P.cg[0], io.X, m, io.Y, m, io.t1, m, m);
      for (int k = 0; k < P.d3; ++k) k_muladd<V>(m, io.t1 + k * m, io.G + k * m, io.acc);
      break;
    }
  }
}

template <class V, class S>
inline void path_uvu1(const TpPathDesc<S>& P, int slot, const PathIo<S>& io) {
  // mul2 = 1 (MACE's edge attributes): W[u] multiplies the x (or grad out)
  // channel vectors and y enters as broadcast scalars.
  const int m = P.mul1;
  auto scaled = [&](const S* A, int rows) -> const S* {
    if (!io.W) return A;
    for (int r = 0; r < rows; ++r) k_mul<V>(m, A + r * m, io.W, io.t1 + r * m);
    return io.t1;
  };
  switch (slot) {
    case SC_TP_OUT:
      k_ternary<V, false, true>(P.cg[0], scaled(io.X, P.d1), m, io.Y, 1, io.acc, m, m);
      break;
    case SC_TP_X:
      k_ternary<V, false, true>(P.cg[1], scaled(io.G, P.d3), m, io.Y, 1, io.acc, m, m);
      break;
    case SC_TP_Y:
      k_ternary_reduce<V>(P.cg[2], scaled(io.X, P.d1), m, io.G, m, io.acc, 1, m);
      break;
    case SC_TP_W: {
      // gW[u] = sum_i X[i][u] H[i][u], H[i][u] = sum C G[k][u] Y[j]
      S* H = io.t2;
      memset(H, 0, sizeof(S) * static_cast<size_t>(P.d1) * m);
      k_ternary<V, false, true>(P.cg[1], io.G, m, io.Y, 1, H, m, m);
      for (int i = 0; i < P.d1; ++i) k_muladd<V>(m, io.X + i * m, H + i * m, io.acc);
      break;
    }
  }
}

template <class V, class S>
inline void path_uvu(const TpPathDesc<S>& P, int slot, const PathIo<S>& io) {
  const int m = P.mul1, n = P.mul2;
  if (n == 1) {
    path_uvu1<V>(P, slot, io);
    return;
  }
  // Wt[v][u] = W[u, v] (1 without weight), in t3.
  S* Wt = io.t3;
  for (int u = 0; u < m; ++u)
    for (int v = 0; v < n; ++v) Wt[v * m + u] = io.W ? io.W[u * n + v] : S(1);
  if (slot == SC_TP_OUT || slot == SC_TP_X) {
    // Yt[j][u] = sum_v W[u, v] Y[j][v]
    S* Yt = io.t1;
    memset(Yt, 0, sizeof(S) * static_cast<size_t>(P.d2) * m);
    for (int j = 0; j < P.d2; ++j)
      for (int v = 0; v < n; ++v) k_axpy<V>(m, io.Y[j * n + v], Wt + v * m, Yt + j * m);
    if (slot == SC_TP_OUT)
      k_ternary<V, false, false>(P.cg[0], io.X, m, Yt, m, io.acc, m, m);
    else
      k_ternary<V, false, false>(P.cg[1], io.G, m, Yt, m, io.acc, m, m);
    return;
  }
  // H[j][u] = sum C X[i][u] G[k][u]
  S* H = io.t2;
  memset(H, 0, sizeof(S) * static_cast<size_t>(P.d2) * m);
  k_ternary<V, false, false>(P.cg[2], io.X, m, io.G, m, H, m, m);
  if (slot == SC_TP_Y) {
    for (int j = 0; j < P.d2; ++j)
      for (int v = 0; v < n; ++v) io.acc[j * n + v] += k_dot<V>(m, H + j * m, Wt + v * m);
  } else {  // SC_TP_W
    if (n == 1) {
      for (int j = 0; j < P.d2; ++j) k_axpy<V>(m, io.Y[j], H + j * m, io.acc);
    } else {
      for (int u = 0; u < m; ++u)
        for (int v = 0; v < n; ++v) {
          S s = 0;
          for (int j = 0; j < P.d2; ++j) s += H[j * m + u] * io.Y[j * n + v];
          io.acc[u * n + v] += s;
        }
    }
  }
}

template <class V, class S>
inline void path_uvv(const TpPathDesc<S>& P, int slot, const PathIo<S>& io) {
  const int m = P.mul1, n = P.mul2;
  S* ones = io.t3;
  for (int v = 0; v < n; ++v) ones[v] = S(1);
  auto wrow = [&](int u) { return io.W ? io.W + u * n : ones; };
  if (slot == SC_TP_OUT || slot == SC_TP_Y) {
    // Xt[i][v] = sum_u W[u, v] X[i][u]
    S* Xt = io.t1;
    memset(Xt, 0, sizeof(S) * static_cast<size_t>(P.d1) * n);
    for (int i = 0; i < P.d1; ++i)
      for (int u = 0; u < m; ++u) k_axpy<V>(n, io.X[i * m + u], wrow(u), Xt + i * n);
    if (slot == SC_TP_OUT)
      k_ternary<V, false, false>(P.cg[0], Xt, n, io.Y, n, io.acc, n, n);
    else
      k_ternary<V, false, false>(P.cg[2], Xt, n, io.G, n, io.acc, n, n);
    return;
  }
  // H[i][v] = sum C G[k][v] Y[j][v]
  S* H = io.t2;
  memset(H, 0, sizeof(S) * static_cast<size_t>(P.d1) * n);
  k_ternary<V, false, false>(P.cg[1], io.G, n, io.Y, n, H, n, n);
  if (slot == SC_TP_X) {
    for (int i = 0; i < P.d1; ++i)
      for (int u = 0; u < m; ++u) io.acc[i * m + u] += k_dot<V>(n, wrow(u), H + i * n);
  } else {  // SC_TP_W
    k_rowsmat<V>(m, n, P.d1, io.X, 1, m, H, n, io.acc, n);
  }
}

template <class V, class S>
inline void path_uuw(const TpPathDesc<S>& P, int slot, const PathIo<S>& io) {
  const int m = P.mul1, p = P.mulo;
  if (slot == SC_TP_OUT || slot == SC_TP_W) {
    S* Pk = io.t1;  // [d3][m]
    memset(Pk, 0, sizeof(S) * static_cast<size_t>(P.d3) * m);
    k_ternary<V, false, false>(P.cg[0], io.X, m, io.Y, m, Pk, m, m);
    if (slot == SC_TP_OUT) {
      if (io.W) {
        k_rowsmat<V>(P.d3, p, m, Pk, m, 1, io.W, p, io.acc, p);
      } else {
        for (int k = 0; k < P.d3; ++k) io.acc[k] += k_sum(m, Pk + k * m);
      }
    } else {
      k_rowsmat<V>(m, p, P.d3, Pk, 1, m, io.G, p, io.acc, p);
    }
    return;
  }
  // Gt[k][u] = sum_w W[u, w] G[k][w]
  S* Gt = io.t1;
  for (int k = 0; k < P.d3; ++k)
    if (io.W && io.WT) {  // Gt[k][:] = G[k][:] W^T, W^T [w][u] contiguous in u
      memset(Gt + k * m, 0, sizeof(S) * static_cast<size_t>(m));
      k_rowmat<V>(m, p, io.G + k * p, 1, io.WT, m, Gt + k * m);
    } else {
      for (int u = 0; u < m; ++u) Gt[k * m + u] = io.W ? k_dot<V>(p, io.W + u * p, io.G + k * p) : io.G[k];
    }
  if (slot == SC_TP_X)
    k_ternary<V, false, false>(P.cg[1], Gt, m, io.Y, m, io.acc, m, m);
  else
    k_ternary<V, false, false>(P.cg[2], io.X, m, Gt, m, io.acc, m, m);
}

template <class V, class S>
inline void path_uvw(const TpPathDesc<S>& P, int slot, const PathIo<S>& io) {
  const int m = P.mul1, n = P.mul2, p = P.mulo;
  for (int v = 0; v < n; ++v) {
    if (slot == SC_TP_OUT || slot == SC_TP_W) {
      S* Q = io.t1;  // [d3][m]: Q[k][u] = sum C X[i][u] Y[j][v]
      memset(Q, 0, sizeof(S) * static_cast<size_t>(P.d3) * m);
      k_ternary<V, false, true>(P.cg[0], io.X, m, io.Y + v, n, Q, m, m);
      if (slot == SC_TP_OUT) {
        // out[k][:] += Q[k][:] W[:, v, :], all k together
        k_rowsmat<V>(P.d3, p, m, Q, m, 1, io.W + v * p, n * p, io.acc, p);
      } else {
        // gW[u, v, :] += sum_k Q[k][u] G[k][:], all u together
        k_rowsmat<V>(m, p, P.d3, Q, 1, m, io.G, p, io.acc + v * p, n * p);
      }
    } else {
      S* Gt = io.t1;  // [d3][m]: Gt[k][u] = sum_w W[u, v, w] G[k][w]
      if (io.WT) {  // W^T [v][w][u]
        memset(Gt, 0, sizeof(S) * static_cast<size_t>(P.d3) * m);
        k_rowsmat<V>(P.d3, m, p, io.G, p, 1, io.WT + static_cast<int64_t>(v) * p * m, m, Gt, m);
      } else {
        for (int k = 0; k < P.d3; ++k)
          for (int u = 0; u < m; ++u) Gt[k * m + u] = k_dot<V>(p, io.W + (u * n + v) * p, io.G + k * p);
      }
      if (slot == SC_TP_X)
        k_ternary<V, false, true>(P.cg[1], Gt, m, io.Y + v, n, io.acc, m, m);
      else
        k_ternary_reduce<V>(P.cg[2], io.X, m, Gt, m, io.acc + v, n, m);
    }
  }
}

template <class V, class S>
inline void path_uvuv(const TpPathDesc<S>& P, int slot, const PathIo<S>& io) {
  const int m = P.mul1, n = P.mul2, mo = P.mulo;
  for (int u = 0; u < m; ++u) {
    const S* wu = io.W ? io.W + u * n : nullptr;
    switch (slot) {
      case SC_TP_OUT:
      case SC_TP_X: {
        const S* Yw = io.Y;  // Yw[j][v] = Y[j][v] W[u, v]
        if (wu) {
          for (int j = 0; j < P.d2; ++j) k_mul<V>(n, io.Y + j * n, wu, io.t1 + j * n);
          Yw = io.t1;
        }
        if (slot == SC_TP_OUT)
          k_ternary<V, true, false>(P.cg[0], io.X + u, m, Yw, n, io.acc + u * n, mo, n);
        else
          k_ternary_reduce<V>(P.cg[1], io.G + u * n, mo, Yw, n, io.acc + u, m, n);
        break;
      }
      case SC_TP_Y: {
        S* Gw = io.t1;  // Gw[k][v] = G[k][u n + v] W[u, v]
        for (int k = 0; k < P.d3; ++k) {
          if (wu)
            k_mul<V>(n, io.G + k * mo + u * n, wu, Gw + k * n);
          else
            memcpy(Gw + k * n, io.G + k * mo + u * n, sizeof(S) * static_cast<size_t>(n));
        }
        k_ternary<V, true, false>(P.cg[2], io.X + u, m, Gw, n, io.acc, n, n);
        break;
      }
      case SC_TP_W: {
        S* T = io.t1;
        memset(T, 0, sizeof(S) * static_cast<size_t>(P.d3) * n);
        k_ternary<V, true, false>(P.cg[0], io.X + u, m, io.Y, n, T, n, n);
        for (int k = 0; k < P.d3; ++k) k_muladd<V>(n, T + k * n, io.G + k * mo + u * n, io.acc + u * n);
        break;
      }
    }
  }
}

// ---- the row kernel ------------------------------------------------------------

// uvu with mul2 = 1, grad x and grad w together: both come from
// H[i][u] = sum C G[k][u] Y[j] (gX = W H, gW = sum_i X H), one CG pass.
template <class V, class S>
inline void path_uvu1_xw(const TpPathDesc<S>& P, const PathIo<S>& io, S* ax, S* aw) {
  const int m = P.mul1;
  S* H = io.t2;
  memset(H, 0, sizeof(S) * static_cast<size_t>(P.d1) * m);
  k_ternary<V, false, true>(P.cg[1], io.G, m, io.Y, 1, H, m, m);
  for (int i = 0; i < P.d1; ++i) {
    k_muladd<V>(m, io.W, H + i * m, ax + i * m);
    k_muladd<V>(m, io.X + i * m, H + i * m, aw);
  }
}

// uvw, grad x and grad y together: both contract Gt[k][u] = sum_w W[u, v, w] G[k][w]
// (with y and with x), so Gt is formed once per v.
template <class V, class S>
inline void path_uvw_xy(const TpPathDesc<S>& P, const PathIo<S>& io, S* ax, S* ay) {
  const int m = P.mul1, n = P.mul2, p = P.mulo;
  for (int v = 0; v < n; ++v) {
    S* Gt = io.t1;
    if (io.WT) {
      memset(Gt, 0, sizeof(S) * static_cast<size_t>(P.d3) * m);
      k_rowsmat<V>(P.d3, m, p, io.G, p, 1, io.WT + static_cast<int64_t>(v) * p * m, m, Gt, m);
    } else {
      for (int k = 0; k < P.d3; ++k)
        for (int u = 0; u < m; ++u) Gt[k * m + u] = k_dot<V>(p, io.W + (u * n + v) * p, io.G + k * p);
    }
    k_ternary<V, false, true>(P.cg[1], Gt, m, io.Y + v, n, ax, m, m);
    k_ternary_reduce<V>(P.cg[2], io.X, m, Gt, m, ay + v, n, m);
  }
}

template <class V, class S>
inline void run_path(const TpPathDesc<S>& P, int slot, PathIo<S>& io) {
  switch (P.mode) {
    case SC_TP_UVW: path_uvw<V>(P, slot, io); break;
    case SC_TP_UVU: path_uvu<V>(P, slot, io); break;
    case SC_TP_UVV: path_uvv<V>(P, slot, io); break;
    case SC_TP_UUW: path_uuw<V>(P, slot, io); break;
    case SC_TP_UUU: path_uuu<V>(P, slot, io); break;
    case SC_TP_UVUV: path_uvuv<V>(P, slot, io); break;
    default: break;
  }
}

// Adds row contributions to the slots whose accumulator is not nullptr
// (acc[SC_TP_X], acc[SC_TP_Y], acc[SC_TP_W], acc[SC_TP_OUT]); the inputs each
// of them needs must be given (x, y, w, g: nullptr when computed).  The
// inputs are converted to ir_mul once for all requested slots.
template <class V, class S>
void tp_row_multi(const TpKernelPlan<S>& kp, const S* x, const S* y, const S* w, const S* wt, const S* g,
                  S* const acc[4], S* scratch) {
  S* X = scratch;
  S* Y = X + kp.dim1;
  S* G = Y + kp.dim2;
  S* t1 = G + kp.dimo;
  S* t2 = t1 + kp.tmp;
  S* t3 = t2 + kp.tmp;
  if (x) k_to_ir_mul(kp, 0, x, X);
  if (y) k_to_ir_mul(kp, 1, y, Y);
  if (g) k_to_ir_mul(kp, 2, g, G);
  for (int pi = 0; pi < kp.n_paths; ++pi) {
    const TpPathDesc<S>& P = kp.paths[pi];
    PathIo<S> io;
    io.X = X + P.off1;
    io.Y = Y + P.off2;
    io.G = G + P.offo;
    io.W = P.has_weight && w ? w + P.w_off : nullptr;  // nullptr when w is a computed slot
    io.WT = io.W && wt ? wt + P.w_off : nullptr;
    io.t1 = t1;
    io.t2 = t2;
    io.t3 = t3;
    bool done_xw = false, done_xy = false;
    if (P.mode == SC_TP_UVU && P.mul2 == 1 && io.W && acc[SC_TP_X] && acc[SC_TP_W]) {
      path_uvu1_xw<V>(P, io, acc[SC_TP_X] + P.off1, acc[SC_TP_W] + P.w_off);
      done_xw = true;
    }
    if (P.mode == SC_TP_UVW && io.W && acc[SC_TP_X] && acc[SC_TP_Y]) {
      path_uvw_xy<V>(P, io, acc[SC_TP_X] + P.off1, acc[SC_TP_Y] + P.off2);
      done_xy = true;
    }
    for (int slot = 0; slot < 4; ++slot) {
      if (!acc[slot] || (slot == SC_TP_W && !P.has_weight)) continue;
      if (done_xw && (slot == SC_TP_X || slot == SC_TP_W)) continue;
      if (done_xy && (slot == SC_TP_X || slot == SC_TP_Y)) continue;
      io.acc = acc[slot] + (slot == SC_TP_X ? P.off1 : slot == SC_TP_Y ? P.off2 : slot == SC_TP_OUT ? P.offo : P.w_off);
      run_path<V>(P, slot, io);
    }
  }
}

// The B rows' inputs in the ir_mul layout, stacked: X [B][dim1], Y [B][dim2]
// and (when g is given) G [B][dimo].
template <class S>
inline void stage_rows(const TpKernelPlan<S>& kp, int B, const S* const* x, const S* const* y, const S* const* g,
                       S* X, S* Y, S* G) {
  for (int b = 0; b < B; ++b) {
    k_to_ir_mul(kp, 0, x[b], X + b * kp.dim1);
    k_to_ir_mul(kp, 1, y[b], Y + b * kp.dim2);
    if (g) k_to_ir_mul(kp, 2, g[b], G + b * kp.dimo);
  }
}

// A path's blocks of B stacked rows gathered into (stack) or scattered back
// from (unstack) a dense [B][n] buffer: row b's block is src[b * stride + off, + n).
template <class S>
inline void stack_blocks(int B, const S* src, int64_t stride, int64_t off, int64_t n, S* dst) {
  for (int b = 0; b < B; ++b) std::copy_n(src + b * stride + off, n, dst + b * n);
}
template <class S>
inline void unstack_blocks(int B, const S* src, int64_t n, S* dst, int64_t stride, int64_t off) {
  for (int b = 0; b < B; ++b) std::copy_n(src + b * n, n, dst + b * stride + off);
}

// Row b's blocks of path P in the stacked buffers (G may be null); acc unset.
template <class S>
inline PathIo<S> row_io(const TpKernelPlan<S>& kp, const TpPathDesc<S>& P, int b, const S* X, const S* Y,
                        const S* G, const S* W, const S* WT, S* t1, S* t2, S* t3) {
  PathIo<S> io;
  io.X = X + b * kp.dim1 + P.off1;
  io.Y = Y + b * kp.dim2 + P.off2;
  io.G = G ? G + b * kp.dimo + P.offo : nullptr;
  io.W = W;
  io.WT = WT;
  io.acc = nullptr;
  io.t1 = t1;
  io.t2 = t2;
  io.t3 = t3;
  return io;
}

// The shared weights' gradient of B rows: uvw paths stack the rows' Q[k][u]
// (and their grad-out blocks) so one rank-(B d3) update per path and v
// replaces B rank-d3 ones; the weight accumulator is loaded and stored once
// per block instead of once per row.  Other modes run row by row.
template <class V, class S>
void tp_gw_block(const TpKernelPlan<S>& kp, const S* const* x, const S* const* y, const S* const* g, int B, S* aw,
                 S* scratch) {
  S* X = scratch;                  // [B][dim1] ir_mul
  S* Y = X + B * kp.dim1;          // [B][dim2]
  S* G = Y + B * kp.dim2;          // [B][dimo]
  S* Gc = G + B * kp.dimo;         // [B][d3][p] of one path
  S* Q = Gc + B * kp.dimo;         // [B][d3][m] of one path
  S* t1 = Q + B * kp.tmp;
  S* t2 = t1 + kp.tmp;
  S* t3 = t2 + kp.tmp;
  stage_rows(kp, B, x, y, g, X, Y, G);
  for (int pi = 0; pi < kp.n_paths; ++pi) {
    const TpPathDesc<S>& P = kp.paths[pi];
    if (!P.has_weight) continue;
    S* acc = aw + P.w_off;
    if (P.mode == SC_TP_UVW) {
      const int m = P.mul1, n = P.mul2, p = P.mulo;
      const int64_t qs = static_cast<int64_t>(P.d3) * m, gs = static_cast<int64_t>(P.d3) * p;
      stack_blocks(B, G, kp.dimo, P.offo, gs, Gc);
      for (int v = 0; v < n; ++v) {
        memset(Q, 0, sizeof(S) * static_cast<size_t>(B * qs));
        for (int b = 0; b < B; ++b)
          k_ternary<V, false, true>(P.cg[0], X + b * kp.dim1 + P.off1, m, Y + b * kp.dim2 + P.off2 + v, n,
                                    Q + b * qs, m, m);
        // gW[u, v, :] += sum_{b, k} Q[b][k][u] G[b][k][:]
        k_rowsmat<V>(m, p, static_cast<int64_t>(B) * P.d3, Q, 1, m, Gc, p, acc + v * p, n * p);
      }
      continue;
    }
    for (int b = 0; b < B; ++b) {
      PathIo<S> io = row_io(kp, P, b, X, Y, G, static_cast<const S*>(nullptr), static_cast<const S*>(nullptr), t1, t2,
                            t3);
      io.acc = acc;
      run_path<V>(P, SC_TP_W, io);
    }
  }
}

// The product of B rows with shared weights: uvw paths stack the rows'
// Q[k][u] so one (B d3) x m times m x p product per path and v feeds every
// W pack to up to 6 rows (a row's d3 alone is 1, 3 or 5).  The rows' output
// blocks are copied into a stacked buffer and back, so each element keeps
// its order of accumulation.  Other modes run row by row.
template <class V, class S>
void tp_out_block(const TpKernelPlan<S>& kp, const S* const* x, const S* const* y, const S* w, int B, S* acc,
                  S* scratch) {
  S* X = scratch;                  // [B][dim1] ir_mul
  S* Y = X + B * kp.dim1;          // [B][dim2]
  S* Oc = Y + B * kp.dim2;         // [B][d3][p] of one path
  S* Q = Oc + 2 * B * kp.dimo;     // [B][d3][m] of one path
  S* t1 = Q + B * kp.tmp;
  S* t2 = t1 + kp.tmp;
  S* t3 = t2 + kp.tmp;
  stage_rows(kp, B, x, y, static_cast<const S* const*>(nullptr), X, Y, static_cast<S*>(nullptr));
  for (int pi = 0; pi < kp.n_paths; ++pi) {
    const TpPathDesc<S>& P = kp.paths[pi];
    const S* W = P.has_weight ? w + P.w_off : nullptr;
    if (P.mode == SC_TP_UVW && W) {
      const int m = P.mul1, n = P.mul2, p = P.mulo;
      const int64_t qs = static_cast<int64_t>(P.d3) * m, os = static_cast<int64_t>(P.d3) * p;
      stack_blocks(B, static_cast<const S*>(acc), kp.dimo, P.offo, os, Oc);
      for (int v = 0; v < n; ++v) {
        memset(Q, 0, sizeof(S) * static_cast<size_t>(B * qs));
        for (int b = 0; b < B; ++b)
          k_ternary<V, false, true>(P.cg[0], X + b * kp.dim1 + P.off1, m, Y + b * kp.dim2 + P.off2 + v, n,
                                    Q + b * qs, m, m);
        k_rowsmat<V>(static_cast<int64_t>(B) * P.d3, p, m, Q, m, 1, W + v * p, n * p, Oc, p);
      }
      unstack_blocks(B, static_cast<const S*>(Oc), os, acc, kp.dimo, P.offo);
      continue;
    }
    for (int b = 0; b < B; ++b) {
      PathIo<S> io = row_io(kp, P, b, X, Y, static_cast<const S*>(nullptr), W, static_cast<const S*>(nullptr), t1, t2,
                            t3);
      io.acc = acc + b * kp.dimo + P.offo;
      run_path<V>(P, SC_TP_OUT, io);
    }
  }
}

// grad x and grad y of B rows with shared weights: uvw paths stack the rows'
// grad-out blocks so Gt = G W^T is one (B d3) x p times p x m product per
// path and v; other modes run row by row as tp_row_multi does.
template <class V, class S>
void tp_xy_block(const TpKernelPlan<S>& kp, const S* const* x, const S* const* y, const S* const* g, const S* w,
                 const S* wt, int B, S* ax, S* ay, S* scratch) {
  S* X = scratch;
  S* Y = X + B * kp.dim1;
  S* G = Y + B * kp.dim2;
  S* Gc = G + B * kp.dimo;   // [B][d3][p] of one path
  S* Gt = Gc + B * kp.dimo;  // [B][d3][m] of one path
  S* t1 = Gt + B * kp.tmp;
  S* t2 = t1 + kp.tmp;
  S* t3 = t2 + kp.tmp;
  stage_rows(kp, B, x, y, g, X, Y, G);
  for (int pi = 0; pi < kp.n_paths; ++pi) {
    const TpPathDesc<S>& P = kp.paths[pi];
    const S* W = P.has_weight ? w + P.w_off : nullptr;
    const S* WT = W && wt ? wt + P.w_off : nullptr;
    if (P.mode == SC_TP_UVW && WT) {
      const int m = P.mul1, n = P.mul2, p = P.mulo;
      const int64_t ts = static_cast<int64_t>(P.d3) * m, gs = static_cast<int64_t>(P.d3) * p;
      stack_blocks(B, G, kp.dimo, P.offo, gs, Gc);
      for (int v = 0; v < n; ++v) {
        memset(Gt, 0, sizeof(S) * static_cast<size_t>(B * ts));
        k_rowsmat<V>(static_cast<int64_t>(B) * P.d3, m, p, Gc, p, 1, WT + static_cast<int64_t>(v) * p * m, m, Gt, m);
        for (int b = 0; b < B; ++b) {
          k_ternary<V, false, true>(P.cg[1], Gt + b * ts, m, Y + b * kp.dim2 + P.off2 + v, n,
                                    ax + b * kp.dim1 + P.off1, m, m);
          k_ternary_reduce<V>(P.cg[2], X + b * kp.dim1 + P.off1, m, Gt + b * ts, m, ay + b * kp.dim2 + P.off2 + v, n,
                              m);
        }
      }
      continue;
    }
    for (int b = 0; b < B; ++b) {
      PathIo<S> io = row_io(kp, P, b, X, Y, G, W, WT, t1, t2, t3);
      if (P.mode == SC_TP_UVW && W) {
        io.acc = nullptr;
        path_uvw_xy<V>(P, io, ax + b * kp.dim1 + P.off1, ay + b * kp.dim2 + P.off2);
        continue;
      }
      io.acc = ax + b * kp.dim1 + P.off1;
      run_path<V>(P, SC_TP_X, io);
      io.acc = ay + b * kp.dim2 + P.off2;
      run_path<V>(P, SC_TP_Y, io);
    }
  }
}

template <class V, class S>
void tp_row(const TpKernelPlan<S>& kp, int slot, const S* x, const S* y, const S* w, const S* g, S* acc,
            S* scratch) {
  S* accs[4] = {nullptr, nullptr, nullptr, nullptr};
  accs[slot] = acc;
  tp_row_multi<V>(kp, x, y, w, static_cast<const S*>(nullptr), g, accs, scratch);
}

}  // namespace
SC_FAMILY_NS_END
