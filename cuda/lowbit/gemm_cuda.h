// Launchers of the lowbit family's CUDA GEMV/GEMM (implemented in
// gemm_w4a8.cu).  Plain C++: nothing here includes a CUDA header.  Every
// launcher takes host pointers, copies the inputs to the current device, runs
// and copies the output back; a CUDA error is thrown as sc::RuntimeError.
//
// W4A8, FireQ-style INT4 x FP8 E4M3 (arXiv 2505.20839):
//   weights: INT4 codes in the CPU packed layout of
//            cpp/include/scalecore/lowbit/pack.h (read through the same SC_HD
//            lb_int4_position), float32 group scales ws (N, K/group);
//   activations: FP8 E4M3 codes xq (M, K) (one byte each, per-token
//            quantized by the caller) with float32 per-token scales xs (M).
//   y[m, n] = xs[m] * sum_g ws[n, g] * sum_{k in g} e4m3(xq[m,k]) * code[n,k]
//   (+ bias[n]).  The INT4 codes are converted to FP8 E4M3 in registers by a
//   byte-permute table (every integer in [-8, 7] is exact in E4M3, so the
//   conversion is exact); on sm_89+ the products run on FP8 tensor cores
//   (mma.sync m16n8k32 e4m3.e4m3.f32), group sums are scaled in FP32 in
//   registers.  Older architectures run the same math with FP32 FMAs.
#pragma once
#include <stdint.h>

namespace sc {
namespace lowbit {
namespace cuda {

void w4a8_linear_cuda(const uint8_t* w_packed, const float* ws, const uint8_t* xq, const float* xs,
                      const float* bias, int64_t M, int64_t N, int64_t K, int64_t group, float* y);

}  // namespace cuda
}  // namespace lowbit
}  // namespace sc
