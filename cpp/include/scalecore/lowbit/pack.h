// Packed weight layouts of the lowbit GEMV/GEMM kernels, and the quantizers
// that produce them.
//
// Quantization rule (shared with scalecore.lowbit.quantize, symmetric):
//   groups of `group` consecutive elements along the input dimension K
//   (group == K is per-channel); amax = max |w| over the group;
//   scale = amax / qmax in float32 (qmax 7 for int4, 127 for int8);
//   code = clamp(rint_half_even(w / scale) computed in float32, -qmax-1, qmax);
//   a group with amax == 0 stores scale 0 and codes 0;
//   dequantized value = code * scale in float32.
// Weights must be finite: a NaN or Inf weight is a ValueError (a scale of Inf
// or NaN would poison the whole group, silently).
//
// INT4 layout ("lane-interleaved", one layout that every SIMD level reads):
//   * row n of the (N, K) matrix takes K/2 bytes; rows are contiguous.
//   * each group of a row is cut into chunks: floor(group/64) chunks of 64
//     elements, then, when group % 64 == 32, one chunk of 32.
//   * a chunk of L*8 elements (L = 8 words for 64, L = 4 for 32) is L
//     little-endian 32-bit words; nibble j (bits 4j..4j+3) of word i holds
//     element  k0 + L*j + i  (k0 = the chunk's first element) as a
//     two's-complement 4-bit code.
//   So one 256-bit load of a 64-chunk and `(v << (28-4j)) >>arith 28` gives
//   the 8 codes of elements k0+8j .. k0+8j+7 in the 8 int32 lanes, in order:
//   the AVX2 GEMV needs no shuffle.  The GEMM kernels repack panels of this
//   layout at run time into the per-level micro-kernel layouts (gemm_avx2.cc).
// INT8 layout: the codes row-major, one byte each (N, K).
// Requirements: group % 32 == 0 and K % group == 0 (so K % 32 == 0).
#pragma once
#include <cstdint>

#include "scalecore/common/hd.h"

namespace sc {
namespace lowbit {
// LB_W_FP4: MXFP4 elements, E2M1 codes (bit 3 sign, bits 0-2 the magnitude
// index of {0, .5, 1, 1.5, 2, 3, 4, 6}) in the INT4 layout, with float32
// block scales (the E8M0 scale 2^(e-127) of a 32-element block, exact).
enum LbWeightFormat : int { LB_W_INT4 = 0, LB_W_INT8 = 1, LB_W_FP4 = 2 };
}  // namespace lowbit
}  // namespace sc

SC_FAMILY_NS_BEGIN(lowbit)

SC_HD int lb_qmax(int wfmt) { return wfmt == LB_W_INT4 ? 7 : 127; }

// Byte offset (within a row) and bit shift of element k of an INT4 row.
SC_HD void lb_int4_position(int64_t k, int64_t group, int64_t* byte, int* shift) {
  const int64_t g0 = (k / group) * group;
  const int64_t r = k - g0;
  const int64_t full = (group / 64) * 64;
  const int64_t c0 = r < full ? (r / 64) * 64 : full;
  const int64_t L = r < full ? 8 : 4;
  const int64_t e = r - c0;
  const int64_t word = e % L, nib = e / L;
  *byte = (g0 + c0) / 2 + word * 4 + nib / 2;
  *shift = static_cast<int>((nib & 1) * 4);
}

// The E2M1 value of a 4-bit code.
SC_HD float lb_e2m1_value(int code) {
  const float mag[8] = {0.f, 0.5f, 1.f, 1.5f, 2.f, 3.f, 4.f, 6.f};
  const float v = mag[code & 7];
  return (code & 8) ? -v : v;
}

// The signed code in a nibble.
SC_HD int lb_int4_decode(uint8_t byte, int shift) {
  const int v = (byte >> shift) & 0xF;
  return v >= 8 ? v - 16 : v;
}

// ---- INT4 -> FP8 E4M3 in registers (the CUDA W4A8 kernel; FireQ's lookup
// table, arXiv 2505.20839).  Every integer in [-8, 7] is exact in E4M3
// (bias 7, 3 mantissa bits), so the conversion is exact.  The 16 encodings,
// indexed by the two's-complement nibble, sit in four 32-bit words; a byte
// permute picks from the low or the high half, bit 3 of the nibble selects.
// byte_perm(x, y, s): byte i of the result is byte (s >> 4i) & 7 of the
// 8-byte value y:x (CUDA's __byte_perm in its default mode).
SC_HD uint32_t lb_byte_perm(uint32_t x, uint32_t y, uint32_t s) {
#if defined(__CUDA_ARCH__)
  return __byte_perm(x, y, s);
#else
  const uint64_t v = (static_cast<uint64_t>(y) << 32) | x;
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) r |= static_cast<uint32_t>((v >> (8 * ((s >> (4 * i)) & 7))) & 0xFF) << (8 * i);
  return r;
#endif
}

// Four nibbles (bits 4i..4i+3 = code of byte i) to four E4M3 bytes.
SC_HD uint32_t lb_int4x4_to_e4m3x4(uint32_t nib4) {
  // codes 0..3, 4..7, -8..-5, -4..-1
  const uint32_t t0 = 0x44403800u, t1 = 0x4E4C4A48u, t2 = 0xCACCCED0u, t3 = 0xB8C0C4C8u;
  const uint32_t sel = nib4 & 0x7777u;
  const uint32_t lo = lb_byte_perm(t0, t1, sel), hi = lb_byte_perm(t2, t3, sel);
  const uint32_t b3 = (nib4 >> 3) & 0x1111u;  // bit 3 of nibble i at bit 4i
  const uint32_t m = ((b3 & 1u) | (((b3 >> 4) & 1u) << 8) | (((b3 >> 8) & 1u) << 16) | (((b3 >> 12) & 1u) << 24)) * 0xFFu;
  return (lo & ~m) | (hi & m);
}

// The float value of an E4M3 ("fn": no Inf, 0x7F/0xFF NaN) byte.
SC_HD float lb_e4m3_to_float(uint32_t b) {
  const uint32_t s = (b >> 7) & 1u, e = (b >> 3) & 0xFu, mant = b & 7u;
  float v;
  if (e == 15 && mant == 7) {
    v = __builtin_nanf("");
  } else if (e == 0) {
    v = static_cast<float>(mant) * 0.001953125f;  // 2^-9
  } else {
    v = (1.0f + static_cast<float>(mant) * 0.125f);
    int ee = static_cast<int>(e) - 7;
    while (ee > 0) { v *= 2.0f; --ee; }
    while (ee < 0) { v *= 0.5f; ++ee; }
  }
  return s ? -v : v;
}

SC_FAMILY_NS_END

namespace sc {
namespace lowbit {

// Bytes of one packed row.
inline int64_t lb_row_bytes(int wfmt, int64_t K) { return wfmt == LB_W_INT8 ? K : K / 2; }
inline bool lb_is_nibble(int wfmt) { return wfmt != LB_W_INT8; }

// Throws ValueError unless (wfmt, K, group) is a supported combination.
void lb_check_layout(int wfmt, int64_t N, int64_t K, int64_t group);

// Quantizes float weights (N, K) by the rule above into codes (N, K) and
// scales (N, K/group).  Throws ValueError on a NaN or Inf weight.
void lowbit_quantize_weights(const float* w, int64_t N, int64_t K, int64_t group, int wfmt, int8_t* codes,
                             float* scales);

// Packs codes (N, K) (in [-8, 7] for int4, E2M1 codes in [0, 15] for fp4)
// into the layout above.
void lowbit_pack_codes(const int8_t* codes, int64_t N, int64_t K, int64_t group, int wfmt, uint8_t* packed);

// Inverse of lowbit_pack_codes for rows [n0, n1): codes (n1-n0, K).
void lowbit_unpack_codes(const uint8_t* packed, int64_t n0, int64_t n1, int64_t K, int64_t group, int wfmt,
                         int8_t* codes);

// Elements [kb, ke) of one packed row as int8 codes (any kb, ke); fp4 codes
// come back as their raw nibble 0..15.
void lowbit_unpack_row(const uint8_t* row, int64_t K, int64_t group, int wfmt, int64_t kb, int64_t ke,
                       int8_t* out);

// Per-token symmetric INT8 quantization of activations x (M, K): the same
// rule with qmax = 127 and one group per row.  A row holding NaN or Inf gets
// scale NaN and codes 0, so its outputs are NaN.
void lowbit_quantize_tokens(const float* x, int64_t M, int64_t K, int8_t* codes, float* scales);

// Rounds float32 to the nearest bfloat16 (ties to even; NaN stays NaN),
// returned as float32.
void lowbit_round_bf16(const float* x, int64_t n, float* y);

}  // namespace lowbit
}  // namespace sc
