// Compile-time traits of the low-bit formats, generated from formats.def.
//
// Host and device: everything here is constexpr or SC_HD and includes no CUDA
// header, so the CUDA kernels (cuda/lowbit) and the CPU kernels read one table.
//
//   LbElem            enum of the element formats (SC_LB_ELEM lines)
//   LbBlock           enum of the block formats (SC_LB_BLOCK lines)
//   ElemTraits<F>     bits, ebits, mbits, bias, signedness, specials and the
//                     derived codes/values (max_code, nan_code, max_value, ...)
//   BlockTraits<B>    element, block size, scale format, per-tensor scale, packing
//
// Special values (decided per format, tested against ml_dtypes 0.6.0 where it
// has the format):
//   FN (E4M3FN, E8M0FNU, UE5M3): no Inf; NaN is the all-ones magnitude.
//   IEEE (E5M2): exponent all ones is Inf (mantissa 0) or NaN.
//   NONE (FP6, FP4): every code is a number; see codec.h for how NaN, Inf and
//     overflow map (ml_dtypes' rule: they saturate, NaN becomes a zero code).
#pragma once
#include <stdint.h>

#include "scalecore/common/hd.h"

#define SC_LB_FLOAT 0
#define SC_LB_INT 1
#define SC_LB_SPECIALS_NONE 0
#define SC_LB_SPECIALS_FN 1
#define SC_LB_SPECIALS_IEEE 2
#define SC_LB_SCALE_F32 (-1)

namespace sc {
namespace lowbit {

enum LbElem : int {
#define SC_LB_ELEM(E, NAME, KIND, BITS, EB, MB, BIAS, SIGNED, SPEC) SC_LB_##E,
#include "scalecore/lowbit/formats.def"
#undef SC_LB_ELEM
  SC_LB_NUM_ELEM
};

enum LbBlock : int {
#define SC_LB_BLOCK(E, NAME, ELEM, BLOCK, SCALE, TSCALE, PACK, EMAX) SC_LB_BLOCK_##E,
#include "scalecore/lowbit/formats.def"
#undef SC_LB_BLOCK
  SC_LB_NUM_BLOCK
};
// formats.def names a float32 scale SC_LB_SCALE_F32; an element scale by its
// enum name without prefix.
#define SC_LB_SCALE_ID(S) SC_LB_SCALE_ID_##S

// Rounding modes of every encoder.
enum LbRounding : int {
  SC_LB_ROUND_NEAREST_EVEN = 0,  // IEEE round-to-nearest, ties to even (the default)
  SC_LB_ROUND_HALF_AWAY = 1,     // nearest, ties away from zero (microxcaling's "nearest")
  SC_LB_ROUND_STOCHASTIC = 2,    // up with probability (x - down) / (up - down), Philox bits
};

// The plain (run-time) description of one element format.
struct ElemDesc {
  const char* name;
  int kind, bits, ebits, mbits, bias, is_signed, specials;
};

template <int F>
struct ElemTraits;

#define SC_LB_ELEM(E, NAME, KIND, BITS, EB, MB, BIAS, SIGNED, SPEC)                                       \
  template <>                                                                                            \
  struct ElemTraits<SC_LB_##E> {                                                                         \
    static constexpr int kind = KIND, bits = BITS, ebits = EB, mbits = MB, bias = BIAS;                  \
    static constexpr bool is_signed = SIGNED != 0;                                                       \
    static constexpr int specials = SPEC;                                                                \
    /* codes of the magnitude (sign bit excluded) */                                                     \
    static constexpr uint32_t mag_bits = is_signed ? bits - 1 : bits;                                    \
    static constexpr uint32_t mag_mask = (1u << mag_bits) - 1u;                                          \
    static constexpr uint32_t sign_bit = is_signed ? (1u << (bits - 1)) : 0u;                            \
    static constexpr uint32_t inf_code = SPEC == SC_LB_SPECIALS_IEEE ? ((1u << EB) - 1u) << MB : 0u;     \
    static constexpr uint32_t nan_code = SPEC == SC_LB_SPECIALS_IEEE ? inf_code | (MB > 0 ? 1u << (MB - 1) : 0u) \
                                         : SPEC == SC_LB_SPECIALS_FN ? mag_mask : 0u;                    \
    /* largest finite magnitude code */                                                                  \
    static constexpr uint32_t max_code = SPEC == SC_LB_SPECIALS_IEEE ? inf_code - 1u                     \
                                         : SPEC == SC_LB_SPECIALS_FN ? mag_mask - 1u : mag_mask;         \
    static constexpr int emin = 1 - BIAS; /* exponent of the smallest normal */                          \
  };
#include "scalecore/lowbit/formats.def"
#undef SC_LB_ELEM

template <int B>
struct BlockTraits;

#define SC_LB_BLOCK(E, NAME, ELEM, BLOCK, SCALE, TSCALE, PACK, EMAX)                    \
  template <>                                                                           \
  struct BlockTraits<SC_LB_BLOCK_##E> {                                                 \
    static constexpr int element = SC_LB_##ELEM, block = BLOCK, pack = PACK, emax = EMAX; \
    static constexpr int scale = SC_LB_SCALE_ID(SCALE);                                 \
    static constexpr bool tensor_scale = TSCALE != 0;                                   \
  };
#define SC_LB_SCALE_ID_F32 SC_LB_SCALE_F32
#define SC_LB_SCALE_ID_FLOAT8_E8M0FNU SC_LB_FLOAT8_E8M0FNU
#define SC_LB_SCALE_ID_FLOAT8_E4M3FN SC_LB_FLOAT8_E4M3FN
#define SC_LB_SCALE_ID_UE5M3 SC_LB_UE5M3
#include "scalecore/lowbit/formats.def"
#undef SC_LB_BLOCK

// Run-time tables (host only: the device reads ElemTraits<F>).
struct BlockDesc {
  const char* name;
  int element, block, scale, tensor_scale, pack, emax;
};

inline const ElemDesc& elem_desc(int f) {
  static const ElemDesc t[] = {
#define SC_LB_ELEM(E, NAME, KIND, BITS, EB, MB, BIAS, SIGNED, SPEC) {NAME, KIND, BITS, EB, MB, BIAS, SIGNED, SPEC},
#include "scalecore/lowbit/formats.def"
#undef SC_LB_ELEM
  };
  return t[f];
}

inline const BlockDesc& block_desc(int b) {
  static const BlockDesc t[] = {
#define SC_LB_BLOCK(E, NAME, ELEM, BLOCK, SCALE, TSCALE, PACK, EMAX) \
  {NAME, SC_LB_##ELEM, BLOCK, SC_LB_SCALE_ID(SCALE), TSCALE, PACK, EMAX},
#include "scalecore/lowbit/formats.def"
#undef SC_LB_BLOCK
  };
  return t[b];
}

// Calls f(std::integral_constant-like tag) with the element format F as a
// compile-time constant: the one place a run-time format id becomes a template.
template <int F>
struct ElemTag {
  static constexpr int value = F;
};
template <class Fn>
inline auto with_elem(int f, Fn&& fn) {
  switch (f) {
#define SC_LB_ELEM(E, ...) \
  case SC_LB_##E:          \
    return fn(ElemTag<SC_LB_##E>{});
#include "scalecore/lowbit/formats.def"
#undef SC_LB_ELEM
    default:
      return fn(ElemTag<SC_LB_FLOAT8_E4M3FN>{});  // unreachable: ids are checked by the caller
  }
}

}  // namespace lowbit
}  // namespace sc
