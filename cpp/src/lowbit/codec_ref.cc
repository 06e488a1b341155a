// The reference kernels: plain loops over the per-element SC_HD codecs, one
// element at a time (the oracle every level is compared with in the tests,
// and the math the CUDA kernels run).
#include "codec_plain.h"
#include "hadamard_plain.h"

namespace sc {
namespace lowbit {
namespace {

void encode_ref(int f, const float* x, int64_t n, bool sat, int mode, uint8_t* out) {
  plain::encode(f, x, n, sat, mode, 0, 0, out);
}
void quant_mx_ref(int b, const float* x, int64_t nb, int mode, uint8_t* codes, uint8_t* scales) {
  plain::quant_mx(b, x, nb, mode, 0, 0, codes, scales);
}
void quant_nvfp4_ref(const float* x, int64_t nb, float s_t, uint8_t* codes, uint8_t* scales) {
  plain::quant_nvfp4(x, nb, s_t, SC_LB_ROUND_NEAREST_EVEN, 0, 0, codes, scales);
}
int64_t quant_int_sym_ref(int bits, const float* x, int64_t nb, int64_t g, int mode, uint8_t* codes,
                          float* scales) {
  return plain::quant_int_sym(bits, x, nb, g, mode, 0, 0, codes, scales);
}

}  // namespace

const LbKernels& lb_kernels_ref() {
  static const LbKernels t = {"reference", encode_ref,          plain::decode,  quant_mx_ref,
                              quant_nvfp4_ref, quant_int_sym_ref, plain::absmax, plain::hadamard};
  return t;
}

}  // namespace lowbit
}  // namespace sc
