// Block kernels of the spherical harmonics, written once over an element type
// P (a scalar S, or a SIMD pack of S: one lane per vector).  Included by sh.cc
// (P = S) sh_avx2.cc (P = F64x4 / F32x8) and sh_avx512.cc (F64x8 / F32x16); each copy lives in its ISA's
// inline namespace (hd.h).  A block is `cnt <= lanes` consecutive vectors
// starting at i0; missing lanes are padded with the zero vector and never written.
#pragma once
#include <cstdint>
#include <type_traits>

#include "scalecore/common/simd.h"
#include "scalecore/tp/sh.h"

namespace sc {
namespace tp {
namespace detail {
// AVX2 entry points (sh_avx2.cc), over a range [begin, end) of vectors; the
// caller (sh.cc) threads and dispatches.
template <class S>
void sh_forward_avx2(const ShArgs& a, const ShCoeffs& c, const S* vec, S* out, int64_t begin, int64_t end);
template <class S>
void sh_backward_avx2(const ShArgs& a, const ShCoeffs& c, const S* vec, const S* gout, S* gvec, int64_t begin,
                      int64_t end);
template <class S>
void sh_double_backward_avx2(const ShArgs& a, const ShCoeffs& c, const S* vec, const S* gout, const S* ggvec,
                             S* ggout, S* gvec2, int64_t begin, int64_t end);
// The same at AVX-512 (sh_avx512.cc: F64x8 / F32x16).
template <class S>
void sh_forward_avx512(const ShArgs& a, const ShCoeffs& c, const S* vec, S* out, int64_t begin, int64_t end);
template <class S>
void sh_backward_avx512(const ShArgs& a, const ShCoeffs& c, const S* vec, const S* gout, S* gvec, int64_t begin,
                        int64_t end);
template <class S>
void sh_double_backward_avx512(const ShArgs& a, const ShCoeffs& c, const S* vec, const S* gout, const S* ggvec,
                               S* ggout, S* gvec2, int64_t begin, int64_t end);
}  // namespace detail
}  // namespace tp
}  // namespace sc

SC_FAMILY_NS_BEGIN(tp)

template <class P, class S>
inline P sh_load(const S* p) {
  if constexpr (lanes_of<P>::value == 1) {
    return *p;
  } else {
    return P::load(p);
  }
}
template <class P, class S>
inline void sh_store(const P& v, S* p) {
  if constexpr (lanes_of<P>::value == 1) {
    *p = v;
  } else {
    v.store(p);
  }
}

// Gathers component j of `cnt` vectors (stride `stride`) into lanes.
template <class P, class S>
inline P sh_gather(const S* base, int64_t stride, int cnt) {
  constexpr int L = lanes_of<P>::value;
  alignas(64) S t[L];
  for (int k = 0; k < L; ++k) t[k] = k < cnt ? base[k * stride] : S(0);
  return sh_load<P>(t);
}
template <class P, class S>
inline void sh_scatter(const P& v, S* base, int64_t stride, int cnt) {
  constexpr int L = lanes_of<P>::value;
  alignas(64) S t[L];
  sh_store(v, t);
  for (int k = 0; k < cnt; ++k) base[k * stride] = t[k];
}
template <class P, class S>
inline void sh_scatter_add(const P& v, S* base, int64_t stride, int cnt) {
  constexpr int L = lanes_of<P>::value;
  alignas(64) S t[L];
  sh_store(v, t);
  for (int k = 0; k < cnt; ++k) base[k * stride] += t[k];
}

// The (possibly normalised) input coordinates of a block as element type E.
template <class E, class P, class S>
inline void sh_inputs(const ShArgs& a, const S* vec, int64_t i0, int cnt, E* x, E* y, E* z) {
  using Tr = JetTraits<E>;
  const S* v = vec + i0 * 3;
  if constexpr (std::is_same<E, P>::value) {
    *x = sh_gather<P>(v + 0, 3, cnt);
    *y = sh_gather<P>(v + 1, 3, cnt);
    *z = sh_gather<P>(v + 2, 3, cnt);
  } else {
    *x = Tr::variable(sh_gather<P>(v + 0, 3, cnt), 0);
    *y = Tr::variable(sh_gather<P>(v + 1, 3, cnt), 1);
    *z = Tr::variable(sh_gather<P>(v + 2, 3, cnt), 2);
  }
  if (a.normalize) sh_normalize(*x, *y, *z);
}

template <class P, class S>
inline void sh_block_forward(const ShArgs& a, const ShCoeffs& c, const S* vec, S* out, int64_t i0, int cnt) {
  P x, y, z;
  sh_inputs<P, P>(a, vec, i0, cnt, &x, &y, &z);
  S* o = out + i0 * a.dim;
  sh_eval(a.lmax, c, x, y, z, [&](int l, int m, const P& v) {
    const int off = a.col_offset[l];
    if (off < 0) return;
    const P s = P(static_cast<S>(sh_norm_scale(a.normalization, l)));
    sh_scatter(s * v, o + off + l + m, a.dim, cnt);
  });
}

template <class P, class S>
inline void sh_block_backward(const ShArgs& a, const ShCoeffs& c, const S* vec, const S* gout, S* gvec,
                              int64_t i0, int cnt) {
  using E = Jet1<P>;
  E x, y, z;
  sh_inputs<E, P>(a, vec, i0, cnt, &x, &y, &z);
  const S* g = gout + i0 * a.dim;
  P acc[3] = {P(S(0)), P(S(0)), P(S(0))};
  sh_eval(a.lmax, c, x, y, z, [&](int l, int m, const E& v) {
    const int off = a.col_offset[l];
    if (off < 0) return;
    const P w = P(static_cast<S>(sh_norm_scale(a.normalization, l))) * sh_gather<P>(g + off + l + m, a.dim, cnt);
    for (int j = 0; j < 3; ++j) acc[j] += w * v.d[j];
  });
  for (int j = 0; j < 3; ++j) sh_scatter(acc[j], gvec + i0 * 3 + j, 3, cnt);
}

template <class P, class S>
inline void sh_block_double_backward(const ShArgs& a, const ShCoeffs& c, const S* vec, const S* gout,
                                     const S* ggvec, S* ggout, S* gvec2, int64_t i0, int cnt) {
  using E = Jet2<P>;
  E x, y, z;
  sh_inputs<E, P>(a, vec, i0, cnt, &x, &y, &z);
  const P gg[3] = {sh_gather<P>(ggvec + i0 * 3 + 0, 3, cnt), sh_gather<P>(ggvec + i0 * 3 + 1, 3, cnt),
                   sh_gather<P>(ggvec + i0 * 3 + 2, 3, cnt)};
  P acc[3] = {P(S(0)), P(S(0)), P(S(0))};
  sh_eval(a.lmax, c, x, y, z, [&](int l, int m, const E& v) {
    const int off = a.col_offset[l];
    if (off < 0) return;
    const P s = P(static_cast<S>(sh_norm_scale(a.normalization, l)));
    const int col = off + l + m;
    if (ggout) sh_scatter(s * (v.d[0] * gg[0] + v.d[1] * gg[1] + v.d[2] * gg[2]), ggout + i0 * a.dim + col, a.dim, cnt);
    if (gvec2 && gout) {
      const P w = s * sh_gather<P>(gout + i0 * a.dim + col, a.dim, cnt);
      // Hessian (xx, yy, zz, xy, xz, yz) times gg
      acc[0] += w * (v.h[0] * gg[0] + v.h[3] * gg[1] + v.h[4] * gg[2]);
      acc[1] += w * (v.h[3] * gg[0] + v.h[1] * gg[1] + v.h[5] * gg[2]);
      acc[2] += w * (v.h[4] * gg[0] + v.h[5] * gg[1] + v.h[2] * gg[2]);
    }
  });
  if (gvec2)
    for (int j = 0; j < 3; ++j) sh_scatter(acc[j], gvec2 + i0 * 3 + j, 3, cnt);
}

// Runs block kernel `fn(i0, cnt)` over [begin, end) in blocks of L lanes.
template <int L, class F>
inline void sh_for_blocks(int64_t begin, int64_t end, F&& fn) {
  for (int64_t i = begin; i < end; i += L) fn(i, static_cast<int>(end - i < L ? end - i : L));
}

SC_FAMILY_NS_END
