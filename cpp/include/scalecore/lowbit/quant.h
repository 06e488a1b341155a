// The lowbit family's C++ API: element codecs, block quantizers, and the
// kernel table each SIMD level provides.  Plain pointers and plain structs
// only; the drivers (cpp/src/lowbit/quant.cc) thread and dispatch, the
// bindings (python/bindings/bind_lowbit.cc) check shapes.
//
// Layouts (rows = product of the leading dimensions, K = the quantized axis,
// moved last by the Python layer and made contiguous):
//   x        float32 (rows, K) row-major
//   codes    uint8 (rows, K / pack): pack = 2 puts element 2i of a row in the
//            low nibble and 2i+1 in the high nibble of byte i (two's
//            complement nibbles for int4; E2M1 codes for FP4); pack = 1 stores
//            one code per byte (FP6 in the low 6 bits; int8 as two's complement)
//   scales   (rows, K / block): uint8 codes of the scale format (E8M0 for MX,
//            E4M3 for NVFP4 and int4_fp8scale), or float32 (int4 / int8)
//   zeros    uint8 (rows, K / group) zero points (asymmetric integers only)
#pragma once
#include <stdint.h>

#include "scalecore/lowbit/hadamard.h"
#include "scalecore/lowbit/traits.h"

namespace sc {
namespace lowbit {

// One SIMD level's kernels.  A plain aggregate (no default member
// initialisers), constant-initialised per TU like the OT tables.  Every
// kernel processes a contiguous range the driver hands it; none allocates.
struct LbKernels {
  const char* name;
  // codes[i] = encode(x[i]) by round-to-nearest-even (mode 0) or half-away
  // (mode 1) for element format f.
  void (*encode)(int f, const float* x, int64_t n, bool saturate, int mode, uint8_t* codes);
  // out[i] = decode(codes[i]).
  void (*decode)(int f, const uint8_t* codes, int64_t n, float* out);
  // MX blocks (OCP MX v1.0): nb blocks of 32 contiguous elements of x,
  // block format b; writes nb * 32 / pack code bytes and nb E8M0 scales.
  void (*quant_mx)(int b, const float* x, int64_t nb, int mode, uint8_t* codes, uint8_t* scales);
  // NVFP4 blocks of 16 with the float32 per-tensor scale s_t (> 0, finite).
  void (*quant_nvfp4)(const float* x, int64_t nb, float s_t, uint8_t* codes, uint8_t* scales);
  // Symmetric integer groups (the shared INT4/INT8 rule, see quantize_int):
  // nb groups of g contiguous elements; bits 4 or 8; returns the number of
  // non-finite inputs seen (the driver raises on > 0).
  int64_t (*quant_int_sym)(int bits, const float* x, int64_t nb, int64_t g, int mode, uint8_t* codes,
                           float* scales);
  // max |x| over n elements; NaN if any is NaN (Inf counts as Inf).
  float (*absmax)(const float* x, int64_t n);
  // In-place orthonormal Walsh-Hadamard transform of nb contiguous blocks of
  // length n (a power of two), after (inverse: before) multiplying by signs
  // (nullptr: none).
  void (*hadamard)(float* x, int64_t nb, int64_t n, const float* signs, bool inverse);
};

const LbKernels& lb_kernels_ref();      // the per-element SC_HD codecs in plain loops (the oracle)
const LbKernels& lb_kernels_generic();  // no ISA flags
#if defined(SC_HAVE_AVX2_KERNELS)
const LbKernels& lb_kernels_avx2();
#endif
#if defined(SC_HAVE_AVX512_KERNELS)
const LbKernels& lb_kernels_avx512();  // MXFP4, decode, absmax; the rest AVX2's
#endif
// impl: 0 = the level sc::simd_level() selects, 1 = the reference.
const LbKernels& lb_kernels(int impl);

// ---- Drivers (threaded with sc::parallel_for; results independent of the
// thread count: chunks are whole blocks and every block depends only on its
// own elements, and stochastic bits only on (seed, element index)). ----

// Element codecs.  mode: LbRounding; seed used by stochastic rounding only.
void lowbit_encode(int f, const float* x, int64_t n, bool saturate, int mode, uint64_t seed, uint8_t* codes,
                   int impl);
void lowbit_decode(int f, const uint8_t* codes, int64_t n, float* out, int impl);

// MX (b an MX block format): rows * K elements, K % 32 == 0.
void lowbit_quantize_mx(int b, const float* x, int64_t rows, int64_t K, int mode, uint64_t seed, uint8_t* codes,
                        uint8_t* scales, int impl);
// NVFP4: returns the per-tensor scale used (tensor_scale <= 0: computed as
// amax / (448 * 6), 1 when amax == 0).  Throws ValueError on NaN/Inf input.
float lowbit_quantize_nvfp4(const float* x, int64_t rows, int64_t K, float tensor_scale, int mode, uint64_t seed,
                            uint8_t* codes, uint8_t* scales, int impl);
// E2M1 with a UE5M3 scale per 16 (fp4_ue5m3; see codec_plain.h): K % 16 == 0.
// One plain kernel at every level.
void lowbit_quantize_fp4_ue5m3(const float* x, int64_t rows, int64_t K, int mode, uint64_t seed, uint8_t* codes,
                               uint8_t* scales);
// Integer groups of g (K % g == 0).  bits 4 or 8.  Symmetric: scales only;
// asymmetric: zeros too (codes unsigned).  Throws ValueError on NaN/Inf.
void lowbit_quantize_int(int bits, bool symmetric, const float* x, int64_t rows, int64_t K, int64_t g, int mode,
                         uint64_t seed, uint8_t* codes, float* scales, uint8_t* zeros, int impl);
// Group amax (rows * K / g values) for the FireQ scale search.
void lowbit_group_absmax(const float* x, int64_t rows, int64_t K, int64_t g, float* amax, int impl);
// FireQ INT4 with E4M3 group scales (x already clipped to +-448 by the
// caller): x is multiplied by `mult` (2^k), group scale code =
// E4M3(amax_g(x * mult) / 7) (RNE, saturating), codes =
// clamp(rint(x * mult / decode(scale)), -8, 7), 0 where the scale is 0.
// Dequantized value: code * decode(scale) / mult.
void lowbit_quantize_int4_fp8scale(const float* x, int64_t rows, int64_t K, int64_t g, float mult, int mode,
                                   uint64_t seed, uint8_t* codes, uint8_t* scales, int impl);
// Dequantize any block format to float32 (tensor_scale: NVFP4 / FireQ).
void lowbit_dequantize(int b, const uint8_t* codes, const void* scales, const uint8_t* zeros, int64_t rows,
                       int64_t K, int64_t g, float tensor_scale, float* out, int impl);
}  // namespace lowbit
}  // namespace sc
