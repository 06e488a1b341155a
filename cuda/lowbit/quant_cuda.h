// Launchers of the lowbit family's CUDA quantize kernels (quant.cu).  Plain
// C++: nothing here includes a CUDA header.  Host pointers in and out (the
// launchers copy to and from the current device); a CUDA error is thrown as
// sc::RuntimeError.  The per-element and per-block math is codec.h's, the
// same SC_HD functions the CPU kernels run and the CPU tests check against
// ml_dtypes, so these produce the CPU's bytes.
#pragma once
#include <stdint.h>

namespace sc {
namespace lowbit {
namespace cuda {

// MX block format b (traits.h LbBlock, MXFP8..MXINT8) over rows x K (K % 32 == 0):
// codes (rows, K / pack) and E8M0 scales (rows, K / 32), as lowbit_quantize_mx.
void quantize_mx(int b, const float* x, int64_t rows, int64_t K, int mode, uint64_t seed, uint8_t* codes,
                 uint8_t* scales);
// NVFP4 over rows x K (K % 16 == 0); tensor_scale <= 0 computes amax / 2688
// (1 for an all-zero input).  Returns the per-tensor scale; a non-finite
// amax is returned as is (the caller raises, as lowbit_quantize_nvfp4).
float quantize_nvfp4(const float* x, int64_t rows, int64_t K, float tensor_scale, int mode, uint64_t seed,
                     uint8_t* codes, uint8_t* scales);

}  // namespace cuda
}  // namespace lowbit
}  // namespace sc
