// Generic-level kernels (no ISA flags): the per-element codecs of codec.h in
// plain loops, with decode through a 256-entry table per format (built from
// lb_decode, so it is the same function tabulated).
#include <mutex>

#include "codec_plain.h"
#include "hadamard_plain.h"

namespace sc {
namespace lowbit {
namespace {

struct DecodeLuts {
  float t[SC_LB_NUM_ELEM][256];
  DecodeLuts() {
    for (int f = 0; f < SC_LB_NUM_ELEM; ++f)
      for (int c = 0; c < 256; ++c) {
        const uint8_t b = static_cast<uint8_t>(c);
        plain::decode(f, &b, 1, &t[f][c]);
      }
  }
};
const DecodeLuts& luts() {
  static const DecodeLuts l;
  return l;
}

void encode_gen(int f, const float* x, int64_t n, bool sat, int mode, uint8_t* out) {
  plain::encode(f, x, n, sat, mode, 0, 0, out);
}
void decode_gen(int f, const uint8_t* c, int64_t n, float* out) {
  const float* t = luts().t[f];
  for (int64_t i = 0; i < n; ++i) out[i] = t[c[i]];
}
void quant_mx_gen(int b, const float* x, int64_t nb, int mode, uint8_t* codes, uint8_t* scales) {
  plain::quant_mx(b, x, nb, mode, 0, 0, codes, scales);
}
void quant_nvfp4_gen(const float* x, int64_t nb, float s_t, uint8_t* codes, uint8_t* scales) {
  plain::quant_nvfp4(x, nb, s_t, SC_LB_ROUND_NEAREST_EVEN, 0, 0, codes, scales);
}
int64_t quant_int_sym_gen(int bits, const float* x, int64_t nb, int64_t g, int mode, uint8_t* codes,
                          float* scales) {
  return plain::quant_int_sym(bits, x, nb, g, mode, 0, 0, codes, scales);
}

}  // namespace

const LbKernels& lb_kernels_generic() {
  static const LbKernels t = {"generic",       encode_gen,        decode_gen,    quant_mx_gen,
                              quant_nvfp4_gen, quant_int_sym_gen, plain::absmax, plain::hadamard};
  return t;
}

}  // namespace lowbit
}  // namespace sc
