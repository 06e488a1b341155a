// Plain per-element loops over the SC_HD codecs (codec.h): the reference
// kernels, the generic level's kernels, and the tails and stochastic paths of
// the SIMD levels.  Internal to cpp/src/lowbit.
//
// Stochastic rounding: element j of a call with index offset idx0 uses
// philox_bits(seed, idx0 + j, 0), idx0 + j being the element's position in
// the whole input, so chunking and threads never change a result.
#pragma once
#include <math.h>
#include <stdint.h>

#include "scalecore/lowbit/codec.h"
#include "scalecore/lowbit/philox.h"
#include "scalecore/lowbit/quant.h"

SC_FAMILY_NS_BEGIN(lowbit)
namespace plain {

// philox_bits(seed, i, 0) for stochastic rounding (0 otherwise), one Philox
// call per 4 consecutive indices.
struct RndStream {
  int mode;
  uint64_t seed;
  uint64_t blk;
  Philox4 r;
  RndStream(int m, uint64_t s) : mode(m), seed(s), blk(~uint64_t(0)), r() {}
  uint32_t operator()(uint64_t i) {
    if (mode != SC_LB_ROUND_STOCHASTIC) return 0u;
    const uint64_t b = i >> 2;
    if (b != blk) {
      blk = b;
      r = philox4x32_10(static_cast<uint32_t>(b), static_cast<uint32_t>(b >> 32), 0u, 0u, static_cast<uint32_t>(seed),
                        static_cast<uint32_t>(seed >> 32));
    }
    return r.v[i & 3];
  }
};

template <int F>
void encode_t(const float* x, int64_t n, bool sat, int mode, uint64_t seed, uint64_t idx0, uint8_t* out) {
  RndStream rs(mode, seed);
  for (int64_t i = 0; i < n; ++i)
    out[i] = static_cast<uint8_t>(lb_encode<F>(x[i], sat, mode, rs(idx0 + i)));
}

inline void encode(int f, const float* x, int64_t n, bool sat, int mode, uint64_t seed, uint64_t idx0,
                   uint8_t* out) {
  with_elem(f, [&](auto tag) { encode_t<decltype(tag)::value>(x, n, sat, mode, seed, idx0, out); });
}

inline void decode(int f, const uint8_t* c, int64_t n, float* out) {
  with_elem(f, [&](auto tag) {
    for (int64_t i = 0; i < n; ++i) out[i] = lb_decode<decltype(tag)::value>(c[i]);
  });
}

inline float absmax(const float* x, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float a = fabsf(x[i]);
    if (a != a) return a;
    m = a > m ? a : m;
  }
  return m;
}

// Stores code c of element j of a block (pack 2: nibbles).
inline void put_code(uint8_t* out, int64_t j, uint32_t c, int pack) {
  if (pack == 1) {
    out[j] = static_cast<uint8_t>(c);
  } else if (j & 1) {
    out[j >> 1] = static_cast<uint8_t>(out[j >> 1] | (c << 4));
  } else {
    out[j >> 1] = static_cast<uint8_t>(c & 0xFu);
  }
}
inline uint32_t get_code(const uint8_t* in, int64_t j, int pack) {
  return pack == 1 ? in[j] : (j & 1 ? in[j >> 1] >> 4 : in[j >> 1] & 0xFu);
}

template <int B>
void quant_mx_t(const float* x, int64_t nb, int mode, uint64_t seed, uint64_t idx0, uint8_t* codes,
                uint8_t* scales) {
  RndStream rs(mode, seed);
  typedef BlockTraits<B> T;
  constexpr int E = T::element;
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * 32;
    uint8_t* cb = codes + b * (32 / T::pack);
    const uint32_t sc = lb_mx_scale_code(absmax(xb, 32), T::emax);
    scales[b] = static_cast<uint8_t>(sc);
    if (sc == 0xFFu) {  // NaN/Inf in the block: NaN scale, zero codes
      for (int j = 0; j < 32 / T::pack; ++j) cb[j] = 0;
      continue;
    }
    const float inv = lb_pow2(127 - static_cast<int>(sc));
    for (int j = 0; j < 32; ++j)
      put_code(cb, j, lb_mx_encode_elem<E>(xb[j], inv, mode, rs(idx0 + b * 32 + j)), T::pack);
  }
}

inline void quant_mx(int b, const float* x, int64_t nb, int mode, uint64_t seed, uint64_t idx0, uint8_t* codes,
                     uint8_t* scales) {
  switch (b) {
#define SC_LB_CASE(B)                                               \
  case SC_LB_BLOCK_##B:                                             \
    quant_mx_t<SC_LB_BLOCK_##B>(x, nb, mode, seed, idx0, codes, scales); \
    break;
    SC_LB_CASE(MXFP8_E4M3)
    SC_LB_CASE(MXFP8_E5M2)
    SC_LB_CASE(MXFP6_E3M2)
    SC_LB_CASE(MXFP6_E2M3)
    SC_LB_CASE(MXFP4)
    SC_LB_CASE(MXINT8)
#undef SC_LB_CASE
    default:
      break;
  }
}

inline void quant_nvfp4(const float* x, int64_t nb, float s_t, int mode, uint64_t seed, uint64_t idx0,
                        uint8_t* codes, uint8_t* scales) {
  RndStream rs(mode, seed);
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * 16;
    const uint32_t sc = lb_nvfp4_scale_code(absmax(xb, 16), s_t);
    scales[b] = static_cast<uint8_t>(sc);
    const float total = s_t * lb_decode<SC_LB_FLOAT8_E4M3FN>(sc);
    for (int j = 0; j < 16; ++j)
      put_code(codes + b * 8, j, lb_nvfp4_encode_elem(xb[j], total, mode, rs(idx0 + b * 16 + j)),
               2);
  }
}

// E2M1 blocks of 16 with a UE5M3 scale (fp4_ue5m3): scale = UE5M3(amax / 6)
// by RNE, saturating; elements E2M1(clamp(x / scale, -6, 6)); a zero scale
// (amax / 6 below half of 2^-17) gives zero codes; a block holding NaN or
// +-Inf gets the NaN scale 0xFF and zero codes (it dequantizes to NaN).
inline void quant_fp4_ue5m3(const float* x, int64_t nb, int mode, uint64_t seed, uint64_t idx0, uint8_t* codes,
                            uint8_t* scales) {
  RndStream rs(mode, seed);
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * 16;
    uint8_t* cb = codes + b * 8;
    const float amax = absmax(xb, 16);
    const uint32_t sc = amax <= 3.4028235e38f
                            ? lb_encode<SC_LB_UE5M3>(amax / 6.0f, true, SC_LB_ROUND_NEAREST_EVEN, 0u)
                            : 0xFFu;
    scales[b] = static_cast<uint8_t>(sc);
    const float s = lb_decode<SC_LB_UE5M3>(sc);
    if (sc == 0xFFu || s == 0.0f) {
      for (int j = 0; j < 8; ++j) cb[j] = 0;
      continue;
    }
    for (int j = 0; j < 16; ++j) put_code(cb, j, lb_nvfp4_encode_elem(xb[j], s, mode, rs(idx0 + b * 16 + j)), 2);
  }
}

// The shared INT4/INT8 rule (PackedLinear implements the same): symmetric,
// groups of g consecutive elements along the quantized axis; amax = max|x|
// over the group; scale = amax / qmax in float32 (qmax 7 for int4, 127 for
// int8); code = clamp(rint_half_even(x / scale) computed in float32,
// -qmax-1, qmax); a group with amax == 0 stores scale 0 and codes 0
// (and when amax / qmax underflows to 0: amax < qmax * 2^-149).
inline int64_t quant_int_sym(int bits, const float* x, int64_t nb, int64_t g, int mode, uint64_t seed,
                             uint64_t idx0, uint8_t* codes, float* scales) {
  RndStream rs(mode, seed);
  int64_t bad = 0;
  const float qmax = bits == 4 ? 7.0f : 127.0f;
  const int pack = bits == 4 ? 2 : 1;
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * g;
    uint8_t* cb = codes + b * (g / pack);
    float amax = 0.0f;
    for (int64_t j = 0; j < g; ++j) {
      const float a = fabsf(xb[j]);
      if (!(a <= 3.4028235e38f)) ++bad;
      else amax = a > amax ? a : amax;
    }
    const float s = amax / qmax;
    scales[b] = s;
    for (int64_t j = 0; j < g; ++j) {
      const uint32_t r = rs(idx0 + b * g + j);
      const uint32_t c = s == 0.0f ? 0u
                         : bits == 4  ? lb_encode_int<SC_LB_INT4>(xb[j] / s, mode, r)
                                      : lb_encode_int<SC_LB_INT8>(xb[j] / s, mode, r);
      put_code(cb, j, c, pack);
    }
  }
  return bad;
}

// Asymmetric: lo = min(min x, 0), hi = max(max x, 0), scale = (hi - lo) /
// (2^bits - 1), zero = clamp(rint(-lo / scale), 0, 2^bits - 1), code =
// clamp(rint(x / scale) + zero, 0, 2^bits - 1); scale 0, zero 0, codes 0
// when hi == lo.  Dequantized value (code - zero) * scale.
inline int64_t quant_int_asym(int bits, const float* x, int64_t nb, int64_t g, int mode, uint64_t seed,
                              uint64_t idx0, uint8_t* codes, float* scales, uint8_t* zeros) {
  RndStream rs(mode, seed);
  int64_t bad = 0;
  const int qmax = (1 << bits) - 1;
  const int pack = bits == 4 ? 2 : 1;
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * g;
    uint8_t* cb = codes + b * (g / pack);
    float lo = 0.0f, hi = 0.0f;
    for (int64_t j = 0; j < g; ++j) {
      const float v = xb[j];
      if (!(fabsf(v) <= 3.4028235e38f)) {
        ++bad;
        continue;
      }
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
    }
    const float s = (hi - lo) / static_cast<float>(qmax);
    scales[b] = s;
    int z = 0;
    if (s > 0.0f) {
      const float t = nearbyintf(-lo / s);  // in [0, qmax]: -lo <= hi - lo
      z = t < 0.0f ? 0 : (t > static_cast<float>(qmax) ? qmax : static_cast<int>(t));
    }
    zeros[b] = static_cast<uint8_t>(z);
    for (int64_t j = 0; j < g; ++j) {
      int c = 0;
      if (s > 0.0f) {
        const uint32_t r = rs(idx0 + b * g + j);
        // rint(x / s) in [-255, 255] after clamping: encode as a signed 16-bit-safe value
        float v = xb[j] / s;
        v = v < -512.0f ? -512.0f : (v > 512.0f ? 512.0f : v);
        const float a = fabsf(v), fl = floorf(a), frac = a - fl;
        bool up;
        if (mode == SC_LB_ROUND_STOCHASTIC)
          up = static_cast<float>(r >> 8) * (1.0f / 16777216.0f) < frac;
        else if (mode == SC_LB_ROUND_HALF_AWAY)
          up = frac >= 0.5f;
        else
          up = frac > 0.5f || (frac == 0.5f && (static_cast<int>(fl) & 1));
        int q = static_cast<int>(fl) + (up ? 1 : 0);
        q = v < 0.0f ? -q : q;
        c = q + z;
        c = c < 0 ? 0 : (c > qmax ? qmax : c);
      }
      put_code(cb, j, static_cast<uint32_t>(c), pack);
    }
  }
  return bad;
}

// FireQ: see quant.h (lowbit_quantize_int4_fp8scale).
inline void quant_int4_fp8(const float* x, int64_t nb, int64_t g, float mult, int mode, uint64_t seed,
                           uint64_t idx0, uint8_t* codes, uint8_t* scales) {
  RndStream rs(mode, seed);
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * g;
    uint8_t* cb = codes + b * (g / 2);
    float amax = 0.0f;
    for (int64_t j = 0; j < g; ++j) {
      const float a = fabsf(xb[j] * mult);
      amax = a > amax ? a : amax;
    }
    const uint32_t sc = lb_encode<SC_LB_FLOAT8_E4M3FN>(amax / 7.0f, true, SC_LB_ROUND_NEAREST_EVEN, 0u);
    scales[b] = static_cast<uint8_t>(sc);
    const float s = lb_decode<SC_LB_FLOAT8_E4M3FN>(sc);
    for (int64_t j = 0; j < g; ++j) {
      const float v = xb[j] * mult;
      const uint32_t c =
          s == 0.0f ? 0u : lb_encode_int<SC_LB_INT4>(v / s, mode, rs(idx0 + b * g + j));
      put_code(cb, j, c, 2);
    }
  }
}

}  // namespace plain
SC_FAMILY_NS_END
