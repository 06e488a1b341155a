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

// The last R (< RB) rows of k_rowsmat_cols, as one block of R rows.
template <class V, int NP, int R, class S>
inline void k_rowsmat_tail(int64_t rem, int64_t m, const S* SC_RESTRICT q, int64_t qrs, int64_t qs,
                           const S* SC_RESTRICT W, int64_t ws, S* SC_RESTRICT O, int64_t ors) {
  if constexpr (R > 0) {
    if (rem == R)
      k_rowsmat_blk<V, R, NP>(m, q, qrs, qs, W, ws, O, ors);
    else
      k_rowsmat_tail<V, NP, R - 1>(rem, m, q, qrs, qs, W, ws, O, ors);
  }
}

// Rows in blocks of RB: 6 x 2 packs (12 accumulators) with 16 vector
// registers; 12 x 2 (24) with the 32 of AVX-512, so that the block products'
// row counts (12 rows times 2l + 1, and 32-channel weight gradients) need no
// short, latency-bound tail block.
template <class V, int NP, class S>
inline void k_rowsmat_cols(int64_t R, int64_t m, const S* SC_RESTRICT q, int64_t qrs, int64_t qs,
                           const S* SC_RESTRICT W, int64_t ws, S* SC_RESTRICT O, int64_t ors) {
  constexpr bool wide = sizeof(V) >= 64;
  constexpr int RB = NP == 1 ? 8 : (wide ? 12 : 6);
  int64_t r = 0;
  for (; r + RB <= R; r += RB) k_rowsmat_blk<V, RB, NP>(m, q + r * qrs, qrs, qs, W, ws, O + r * ors, ors);
  k_rowsmat_tail<V, NP, RB - 1>(R - r, m, q + r * qrs, qrs, qs, W, ws, O + r * ors, ors);
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
// ASSIGN: "=" instead of "+=" (rows of O that no group names are left alone:
// k_ternary_set below zeroes them).
// Four packs of channels at once: four independent FMA chains.
template <class V, bool BA, bool BB, bool ASSIGN = false, class S>
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
      vstore(o + c, ASSIGN ? a0 : vload<V>(o + c) + a0);
      vstore(o + c + L, ASSIGN ? a1 : vload<V>(o + c + L) + a1);
      vstore(o + c + 2 * L, ASSIGN ? a2 : vload<V>(o + c + 2 * L) + a2);
      vstore(o + c + 3 * L, ASSIGN ? a3 : vload<V>(o + c + 3 * L) + a3);
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
      vstore(o + c, ASSIGN ? a0 : vload<V>(o + c) + a0);
      vstore(o + c + L, ASSIGN ? a1 : vload<V>(o + c + L) + a1);
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
      vstore(o + c, ASSIGN ? a0 : vload<V>(o + c) + a0);
    }
    for (; c < n; ++c) {
      S s = 0;
      for (const TpNz<S>* q = q0; q < q1; ++q)
        s += q->val * A[q->a * lda + (BA ? 0 : c)] * B[q->b * ldb + (BB ? 0 : c)];
      o[c] = ASSIGN ? s : o[c] + s;
    }
  }
}

// O = the contraction (rows < rows_o of ldo, channels < n), overwriting:
// one pass without a prior zeroing when the groups name every row.
template <class V, bool BA, bool BB, class S>
inline void k_ternary_set(const TpCgView<S>& cg, const S* SC_RESTRICT A, int64_t lda, const S* SC_RESTRICT B,
                          int64_t ldb, S* SC_RESTRICT O, int64_t ldo, int64_t n, int rows_o) {
  if (cg.n_groups == rows_o && ldo == n) {  // the groups' output indices are distinct
    k_ternary<V, BA, BB, true>(cg, A, lda, B, ldb, O, ldo, n);
    return;
  }
  memset(O, 0, sizeof(S) * static_cast<size_t>(rows_o) * ldo);
  k_ternary<V, BA, BB>(cg, A, lda, B, ldb, O, ldo, n);
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
    // A plain copy; short ones (y's single irreps: 1 to 9 values) inline
    // rather than through a libc call per block and row.
    const int k = m * d;
    if (k <= 16) {
      for (int i = 0; i < k; ++i) dst[i] = src[i];
    } else {
      memcpy(dst, src, sizeof(S) * static_cast<size_t>(k));
    }
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
      k_ternary_set<V, false, true>(P.cg[1], io.G, m, io.Y, 1, H, m, m, P.d1);
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
      k_ternary_set<V, false, true>(P.cg[0], io.X, m, io.Y + v, n, Q, m, m, P.d3);
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
  k_ternary_set<V, false, true>(P.cg[1], io.G, m, io.Y, 1, H, m, m, P.d1);
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

// ---- blocks of rows with shared weights ------------------------------------------

// The stacked layout of B rows: block s (offset off, mul m, 2l+1 = d) of
// layout t occupies [B off, B (off + m d)), row b's copy of it starting at
// B off + b m d, in ir_mul ([d][m]).  A path's blocks of all B rows are then
// one matrix of B d rows of m channels, (b, i) at row b d + i.
template <class S>
inline void k_stack_rows(const TpKernelPlan<S>& kp, int t, int B, const S* const* src, S* SC_RESTRICT dst) {
  for (int s = 0; s < kp.n_blk[t]; ++s) {
    const int64_t off = kp.blk_off[t][s];
    const int m = kp.blk_mul[t][s], d = kp.blk_d[t][s];
    for (int b = 0; b < B; ++b) k_transpose<true>(src[b] + off, dst + B * off + b * static_cast<int64_t>(m) * d, m, d);
  }
}
template <class S>
inline void k_unstack_rows(const TpKernelPlan<S>& kp, int t, int B, const S* SC_RESTRICT src, S* const* dst) {
  for (int s = 0; s < kp.n_blk[t]; ++s) {
    const int64_t off = kp.blk_off[t][s];
    const int m = kp.blk_mul[t][s], d = kp.blk_d[t][s];
    for (int b = 0; b < B; ++b) k_transpose<false>(src + B * off + b * static_cast<int64_t>(m) * d, dst[b] + off, m, d);
  }
}

// The product of B rows (B <= kTpBlock) with shared weights w, written to
// the mul_ir rows out[b].  A uvw path's weight product is one GEMM over the
// B rows' stacked blocks, taken on whichever side of the CG contraction has
// fewer components: Q = CG(x, y) [B d3][m] times W when d3 <= d1, else
// x W [B d1][p] first and the CG contraction after it (e.g. 0e x 1o -> 1o:
// one row per sample instead of three).  Each output row depends on its
// own inputs alone.  Other modes run row by row.  scratch: tp_block_scratch(kp).
template <class V, class S>
void tp_out_block(const TpKernelPlan<S>& kp, const S* const* x, const S* const* y, const S* w, int B, S* const* out,
                  S* scratch) {
  S* X = scratch;          // [B dim1] stacked
  S* Y = X + B * kp.dim1;  // [B dim2]
  S* O = Y + B * kp.dim2;  // [B dimo]
  S* T1 = O + B * kp.dimo; // [B tmp]
  S* t1 = T1 + B * kp.tmp;
  S* t2 = t1 + kp.tmp;
  S* t3 = t2 + kp.tmp;
  k_stack_rows(kp, 0, B, x, X);
  k_stack_rows(kp, 1, B, y, Y);
  memset(O, 0, sizeof(S) * static_cast<size_t>(B * kp.dimo));
  for (int pi = 0; pi < kp.n_paths; ++pi) {
    const TpPathDesc<S>& P = kp.paths[pi];
    const S* W = P.has_weight ? w + P.w_off : nullptr;
    const int m = P.mul1, n = P.mul2, p = P.mulo, d1 = P.d1, d3 = P.d3;
    const S* Xs = X + B * P.off1;
    const S* Ys = Y + B * P.off2;
    S* Os = O + B * P.offo;
    const int64_t xs = static_cast<int64_t>(d1) * m, ys = static_cast<int64_t>(P.d2) * n,
                  os = static_cast<int64_t>(d3) * p;
    if (P.mode == SC_TP_UVW && W) {
      for (int v = 0; v < n; ++v) {
        if (d1 < d3) {
          const int64_t ts = static_cast<int64_t>(d1) * p;  // Xw [B d1][p] = X W[:, v, :]
          memset(T1, 0, sizeof(S) * static_cast<size_t>(B * ts));
          k_rowsmat<V>(static_cast<int64_t>(B) * d1, p, m, Xs, m, 1, W + v * p, static_cast<int64_t>(n) * p, T1, p);
          for (int b = 0; b < B; ++b)
            k_ternary<V, false, true>(P.cg[0], T1 + b * ts, p, Ys + b * ys + v, n, Os + b * os, p, p);
        } else {
          const int64_t ts = static_cast<int64_t>(d3) * m;  // Q [B d3][m]
          for (int b = 0; b < B; ++b)
            k_ternary_set<V, false, true>(P.cg[0], Xs + b * xs, m, Ys + b * ys + v, n, T1 + b * ts, m, m, d3);
          k_rowsmat<V>(static_cast<int64_t>(B) * d3, p, m, T1, m, 1, W + v * p, static_cast<int64_t>(n) * p, Os, p);
        }
      }
      continue;
    }
    for (int b = 0; b < B; ++b) {
      PathIo<S> io{Xs + b * xs, Ys + b * ys, nullptr, W, nullptr, Os + b * os, t1, t2, t3};
      run_path<V>(P, SC_TP_OUT, io);
    }
  }
  k_unstack_rows(kp, 2, B, O, out);
}

// The gradients of B rows (B <= kTpBlock) with shared weights w (wt: the
// transposed weights, needed for grad x / grad y): grad w added to the flat
// aw, grad x / grad y written to the mul_ir rows gx[b] / gy[b]; each nullptr
// to skip it.  The inputs are staged once for all three.  A uvw path per v
// picks, per gradient, the side of the CG contraction with fewer
// components (d1 or d3 rows per sample in its GEMM):
//   grad w: Q^T G (Q = CG(x, y), d3)   or  X^T H  (H = CG(g, y) [d1][p], d1)
//   grad x: CG(Gt, y) (Gt = G W^T, d3) or  H W^T  (d1)
//   grad y: CG-reduce(x, Gt) (d3)      or  CG-reduce(x W, g) (d1)
// with Gt shared by grad x and grad y, H by grad w and grad x, minimising
// the GEMM rows.  Grad w sums its rows in a fixed order (the block's rows
// and components in order), so it depends on n and the block only.
template <class V, class S>
void tp_bwd_block(const TpKernelPlan<S>& kp, const S* const* x, const S* const* y, const S* const* g, const S* w,
                  const S* wt, int B, S* aw, S* const* gx, S* const* gy, S* scratch) {
  S* X = scratch;            // [B dim1] stacked
  S* Y = X + B * kp.dim1;    // [B dim2]
  S* G = Y + B * kp.dim2;    // [B dimo]
  S* AX = G + B * kp.dimo;   // [B dim1]
  S* AY = AX + B * kp.dim1;  // [B dim2]
  S* T1 = AY + B * kp.dim2;  // [B tmp]: Q or x W
  S* T2 = T1 + B * kp.tmp;   // H
  S* T3 = T2 + B * kp.tmp;   // Gt
  S* t1 = T3 + B * kp.tmp;
  S* t2 = t1 + kp.tmp;
  S* t3 = t2 + kp.tmp;
  k_stack_rows(kp, 0, B, x, X);
  k_stack_rows(kp, 1, B, y, Y);
  k_stack_rows(kp, 2, B, g, G);
  if (gx) memset(AX, 0, sizeof(S) * static_cast<size_t>(B * kp.dim1));
  if (gy) memset(AY, 0, sizeof(S) * static_cast<size_t>(B * kp.dim2));
  for (int pi = 0; pi < kp.n_paths; ++pi) {
    const TpPathDesc<S>& P = kp.paths[pi];
    const S* W = P.has_weight ? w + P.w_off : nullptr;
    const S* WT = W && wt ? wt + P.w_off : nullptr;
    const int m = P.mul1, n = P.mul2, p = P.mulo, d1 = P.d1, d3 = P.d3;
    const S* Xs = X + B * P.off1;
    const S* Ys = Y + B * P.off2;
    const S* Gs = G + B * P.offo;
    S* AXs = AX + B * P.off1;
    S* AYs = AY + B * P.off2;
    const int64_t xs = static_cast<int64_t>(d1) * m, ys = static_cast<int64_t>(P.d2) * n,
                  gs = static_cast<int64_t>(d3) * p;
    if (P.mode == SC_TP_UVW && W && (WT || (!gx && !gy))) {
      // The cheapest choice (bit 0: grad w by H, 1: grad x by H, 2: grad y by x W).
      int best = -1, best_cost = 0;
      for (int c = 0; c < 8; ++c) {
        const bool wh = c & 1, xh = c & 2, yx = c & 4;
        if ((wh && !aw) || (xh && !gx) || (yx && !gy)) continue;
        const int cost = (aw ? (wh ? d1 : d3) : 0) + (gx && xh ? d1 : 0) + (gy && yx ? d1 : 0) +
                         ((gx && !xh) || (gy && !yx) ? d3 : 0);
        if (best < 0 || cost < best_cost) {
          best = c;
          best_cost = cost;
        }
      }
      const bool wh = best & 1, xh = best & 2, yx = best & 4;
      const int64_t np = static_cast<int64_t>(n) * p;
      for (int v = 0; v < n; ++v) {
        const S* Wv = W + v * p;  // W[u, v, :] at u * np
        const S* WTv = WT ? WT + static_cast<int64_t>(v) * p * m : nullptr;  // [w][u]
        if ((aw && wh) || (gx && xh)) {
          // H[b][i][w] = sum C G[b][k][w] y[b][j, v]
          for (int b = 0; b < B; ++b)
            k_ternary_set<V, false, true>(P.cg[1], Gs + b * gs, p, Ys + b * ys + v, n, T2 + b * d1 * p, p, p, d1);
        }
        if (aw) {
          S* gwv = aw + P.w_off + v * p;  // gW[u, v, :] at u * np
          if (wh) {
            k_rowsmat<V>(m, p, static_cast<int64_t>(B) * d1, Xs, 1, m, T2, p, gwv, np);
          } else {
            const int64_t ts = static_cast<int64_t>(d3) * m;  // Q [B d3][m]
            for (int b = 0; b < B; ++b)
              k_ternary_set<V, false, true>(P.cg[0], Xs + b * xs, m, Ys + b * ys + v, n, T1 + b * ts, m, m, d3);
            k_rowsmat<V>(m, p, static_cast<int64_t>(B) * d3, T1, 1, m, Gs, p, gwv, np);
          }
        }
        if ((gx && !xh) || (gy && !yx)) {
          // Gt [B d3][m] = G W[:, v, :]^T
          memset(T3, 0, sizeof(S) * static_cast<size_t>(B) * d3 * m);
          k_rowsmat<V>(static_cast<int64_t>(B) * d3, m, p, Gs, p, 1, WTv, m, T3, m);
        }
        if (gx) {
          if (xh)
            k_rowsmat<V>(static_cast<int64_t>(B) * d1, m, p, T2, p, 1, WTv, m, AXs, m);
          else
            for (int b = 0; b < B; ++b)
              k_ternary<V, false, true>(P.cg[1], T3 + b * d3 * m, m, Ys + b * ys + v, n, AXs + b * xs, m, m);
        }
        if (gy) {
          if (yx) {
            // x W [B d1][p], then grad y[j, v] = sum C (x W)[i][:] . G[k][:]
            memset(T1, 0, sizeof(S) * static_cast<size_t>(B) * d1 * p);
            k_rowsmat<V>(static_cast<int64_t>(B) * d1, p, m, Xs, m, 1, Wv, np, T1, p);
            for (int b = 0; b < B; ++b)
              k_ternary_reduce<V>(P.cg[2], T1 + b * d1 * p, p, Gs + b * gs, p, AYs + b * ys + v, n, p);
          } else {
            for (int b = 0; b < B; ++b)
              k_ternary_reduce<V>(P.cg[2], Xs + b * xs, m, T3 + b * d3 * m, m, AYs + b * ys + v, n, m);
          }
        }
      }
      continue;
    }
    for (int b = 0; b < B; ++b) {
      PathIo<S> io{Xs + b * xs, Ys + b * ys, Gs + b * gs, W, WT, nullptr, t1, t2, t3};
      bool done_xw = false;
      if (P.mode == SC_TP_UVU && P.mul2 == 1 && W && gx && aw) {
        path_uvu1_xw<V>(P, io, AXs + b * xs, aw + P.w_off);
        done_xw = true;
      }
      if (gx && !done_xw) {
        io.acc = AXs + b * xs;
        run_path<V>(P, SC_TP_X, io);
      }
      if (gy) {
        io.acc = AYs + b * ys;
        run_path<V>(P, SC_TP_Y, io);
      }
      if (aw && P.has_weight && !done_xw) {
        io.acc = aw + P.w_off;
        run_path<V>(P, SC_TP_W, io);
      }
    }
  }
  if (gx) k_unstack_rows(kp, 0, B, AX, gx);
  if (gy) k_unstack_rows(kp, 1, B, AY, gy);
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
