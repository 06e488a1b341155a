// 16-channel float transposes between the mul_ir ([m][D]) and ir_mul ([D][m])
// layouts with AVX-512 two-source permutes, for odd D < 8 (3, 5, 7: the
// irreps l = 1, 2, 3).  Included inside product_avx512.cc's anonymous
// namespace after product_tr_avx2.h (whose 8-channel transposes take the
// channels left over); defines the vtr_to_ir / vtr_from_ir entry points
// product_kernels.h calls.
//
// Sixteen channels of a D-component block are 16 D contiguous floats, i.e.
// D zmm registers whichever layout they are in.  Each output register takes
// its lanes from the D input registers: one vpermt2ps per pair of inputs,
// merged by masked blends (and one masked vpermps for the odd last input),
// i.e. D - 1 + (D - 1) / 2 shuffles per 16 D floats, where the 8 x 8
// transposes of product_tr_avx2.h spend 24 shuffles and 8 loads per 8 D.
// Pure data movement: results are bit-identical to the scalar copy loops.
#pragma once

// Lane tables of one D: for output register o and input pair k (registers
// 2k, 2k+1; the last, odd, register alone) the permute index per lane and
// the mask of the lanes it supplies.
template <int D>
struct Tr16Tables {
  static constexpr int kPairs = (D + 1) / 2;
  int32_t to_idx[D][kPairs][16];    // mul_ir -> ir_mul
  uint16_t to_mask[D][kPairs];
  int32_t from_idx[D][kPairs][16];  // ir_mul -> mul_ir
  uint16_t from_mask[D][kPairs];
  constexpr Tr16Tables() : to_idx(), to_mask(), from_idx(), from_mask() {
    for (int o = 0; o < D; ++o)
      for (int t = 0; t < 16; ++t) {
        // to_ir: output row o, lane t is flat element t D + o of the mul_ir
        // chunk, held by input register f / 16 at lane f % 16.
        const int f = t * D + o;
        const int k = (f / 16) / 2;
        to_idx[o][k][t] = f - 32 * k;  // 0..31 across the pair (0..15 for the odd last one)
        to_mask[o][k] = static_cast<uint16_t>(to_mask[o][k] | (1u << t));
        // from_ir: output register o, lane t is flat element g = 16 o + t of
        // the mul_ir chunk: component g % D of channel g / D.
        const int g = 16 * o + t;
        const int i = g % D, kk = i / 2;
        from_idx[o][kk][t] = g / D + 16 * (i - 2 * kk);
        from_mask[o][kk] = static_cast<uint16_t>(from_mask[o][kk] | (1u << t));
      }
  }
};

template <int D>
struct Tr16 {
  static constexpr Tr16Tables<D> tab{};
};

// One output register from the D inputs r[] with the tables of its row.
template <int D>
inline __m512 tr16_gather(const __m512* r, const int32_t (*idx)[16], const uint16_t* mask) {
  __m512 res = _mm512_permutex2var_ps(r[0], _mm512_loadu_si512(idx[0]), r[1 < D ? 1 : 0]);
  for (int k = 1; k < D / 2; ++k) {
    const __m512 t = _mm512_permutex2var_ps(r[2 * k], _mm512_loadu_si512(idx[k]), r[2 * k + 1]);
    res = _mm512_mask_blend_ps(static_cast<__mmask16>(mask[k]), res, t);
  }
  if (D % 2 == 1 && D > 1)
    res = _mm512_mask_permutexvar_ps(res, static_cast<__mmask16>(mask[D / 2]), _mm512_loadu_si512(idx[D / 2]),
                                     r[D - 1]);
  return res;
}

// Both directions: TO (mul_ir -> ir_mul) reads 16 D contiguous floats and
// writes D rows of m; !TO the reverse.  The remaining channels take the
// 8 x 8 transposes.
template <bool TO, int D, class S>
inline int vtr16(const S* src, S* dst, int m) {
  auto rest = [&](int u) { return TO ? vtr8_to_ir<D>(src, dst, m, u) : vtr8_from_ir<D>(src, dst, m, u); };
  if (sizeof(S) != 4 || D >= 8 || D % 2 == 0) return rest(0);
  const float* s = reinterpret_cast<const float*>(src);
  float* d = reinterpret_cast<float*>(dst);
  const Tr16Tables<D>& T = Tr16<D>::tab;
  int u = 0;
  for (; u + 16 <= m; u += 16) {
    __m512 r[D];
    for (int q = 0; q < D; ++q) r[q] = _mm512_loadu_ps(TO ? s + u * D + 16 * q : s + q * m + u);
    for (int o = 0; o < D; ++o)
      _mm512_storeu_ps(TO ? d + o * m + u : d + u * D + 16 * o,
                       tr16_gather<D>(r, TO ? T.to_idx[o] : T.from_idx[o], TO ? T.to_mask[o] : T.from_mask[o]));
  }
  return rest(u);
}

template <int D, class S>
inline int vtr_to_ir(const S* src, S* dst, int m) {
  return vtr16<true, D>(src, dst, m);
}

template <int D, class S>
inline int vtr_from_ir(const S* src, S* dst, int m) {
  return vtr16<false, D>(src, dst, m);
}
