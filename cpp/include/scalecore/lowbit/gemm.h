// Fused-dequant GEMV/GEMM of the lowbit family: y (M, N) = x (M, K) @ W^T
// (+ bias), W packed (N, K) as in pack.h with float32 group scales (N, G),
// G = K / group.
//
// Activation kinds:
//   LB_A_F32   x float32 (LB_A_BF16 below: rounded to bf16 first).  Each output is
//                 y = sum_g ws[n,g] * (sum_{k in g} code[n,k] * x[k])   (+ bias)
//              in float32 with a level-dependent summation order; the error
//              against the float64 product of the dequantized operands is at
//              most (K + 3) * 2^-24 * sum_k |x_k| |code_k * ws| (tests use it).
//   LB_A_INT8  x quantized per token (lowbit_quantize_tokens): codes xq (M, K)
//              and scales xs (M).  Per group the integer sum
//                 isum[m,n,g] = sum_{k in g} xq[m,k] * code[n,k]
//              is exact (int32); then, in this order and in float32
//              (lb_i8_epilogue below, identically at every level, so the
//              outputs are bit-identical):
//                 p_g = float(isum_g) * ws[n,g]            (rounded)
//                 s_l = sum of p_g over g = l mod 8, in increasing g, from 0
//                 acc = ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))
//                 y = acc * xs[m];  y = y + bias[n]
//              (eight chains of groups, as an 8-lane vector sums them).
//              INT8 weights need |isum| < 2^31: K * 128 * 128 < 2^31.
// The kernels with M <= lb_gemv_max_rows() stream the weights once (GEMV);
// larger M repacks column panels per call and level (GEMM).  Results do not depend
// on the thread count.
#pragma once
#include <cstdint>

namespace sc {
namespace lowbit {

// LB_A_BF16: x float32, rounded to bfloat16 (lowbit_round_bf16's rule) by
// the kernel, then the float product with the float32 bound above plus an
// absolute 2^-118 * sum_k |ws[n, g(k)]| (the AVX512_BF16 GEMM flushes bf16
// subnormals: vdpbf16ps is DAZ/FTZ).  Levels without that GEMM round x and
// run LB_A_F32.
enum LbActKind : int { LB_A_F32 = 0, LB_A_INT8 = 1, LB_A_BF16 = 2 };

struct LbLinearArgs {
  int wfmt = 0;                    // LbWeightFormat
  int64_t M = 0, N = 0, K = 0, group = 0;
  const uint8_t* w = nullptr;      // packed (N, row_bytes)
  const float* ws = nullptr;       // (N, K / scale_group())
  // Elements per scale when it differs from the layout group: 16 for NVFP4
  // (E2M1 in the 32-element layout, one scale per 16; float activations only).
  int64_t sgroup = 0;
  int64_t scale_group() const { return sgroup > 0 ? sgroup : group; }
  const float* x = nullptr;        // LB_A_F32: (M, K)
  const int8_t* xq = nullptr;      // LB_A_INT8: (M, K)
  const float* xs = nullptr;       // LB_A_INT8: (M,)
  const float* bias = nullptr;     // (N,) or null
  float* y = nullptr;              // (M, N)
};

// One table per SIMD level.
struct LbGemmKernels {
  void (*linear_f32)(const LbLinearArgs&);
  void (*linear_i8)(const LbLinearArgs&);
};

const LbGemmKernels& lb_gemm_kernels_ref();
#if defined(SC_HAVE_AVX2_KERNELS)
const LbGemmKernels& lb_gemm_kernels_avx2();
#endif
#if defined(SC_HAVE_AVX512_KERNELS)
const LbGemmKernels& lb_gemm_kernels_avx512();
#endif

inline int64_t lb_gemv_max_rows() { return 4; }

#if defined(SC_HAVE_AVX512_KERNELS)
// gemm_tile_avx512.cc: the register-blocked GEMM tiles (M > lb_gemv_max_rows()).
// W8A8 / W4A8 (int4 or int8 weights, LB_A_INT8): needs cpu_features().avx512vnni;
// bit-identical to linear_i8 of every level.
void lb_gemm_i8_tiles_avx512(const LbLinearArgs& a);
// LB_A_BF16 with int4, int8 or E2M1 weights whose scale group is the layout
// group: needs cpu_features().avx512bf16; x is rounded to bf16 inside.
bool lb_gemm_bf16_supported(const LbLinearArgs& a);
void lb_gemm_bf16_tiles_avx512(const LbLinearArgs& a);
#endif

// The reduction of the eight group chains s[0..7] of the integer paths.
inline float lb_i8_combine(const float* s) {
  return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

// Reads n bytes (n % 32 == 0) with the widest loads of the active level on
// the thread pool and returns their XOR (so the loads cannot be dropped):
// the read-bandwidth reference the GEMV benchmark compares itself to.
uint64_t lowbit_read_probe(const uint8_t* p, int64_t n);
#if defined(SC_HAVE_AVX2_KERNELS)
uint64_t lb_read_probe_avx2(const uint8_t* p, int64_t n);
#endif
#if defined(SC_HAVE_AVX512_KERNELS)
uint64_t lb_read_probe_avx512(const uint8_t* p, int64_t n);
#endif

// pack.h's lowbit_quantize_tokens (per-token int8: codes and scales,
// bit-identical) at the active SIMD level: the AVX-512 version where present,
// else the reference.  The GEMV's int8 path runs it on every call.
void lb_quantize_tokens(const float* x, int64_t M, int64_t K, int8_t* codes, float* scales);
#if defined(SC_HAVE_AVX512_KERNELS)
void lb_quantize_tokens_avx512(const float* x, int64_t M, int64_t K, int8_t* codes, float* scales);
#endif

// Validates the arguments and runs the kernel of `impl`: "auto" (the active
// SIMD level; scalar runs the reference) or "ref".
void lowbit_linear(const LbLinearArgs& a, int act, const char* impl = "auto");

}  // namespace lowbit
}  // namespace sc
