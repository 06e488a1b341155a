// Drivers of the lowbit family: argument checks, kernel-table dispatch and
// threading.  Chunks are whole blocks with sizes that depend only on the
// problem, every block depends only on its own elements, and stochastic bits
// only on (seed, element index): results are the same for any thread count.
#include <math.h>

#include <string>
#include <vector>

#include "codec_plain.h"
#include "hadamard_plain.h"
#include "scalecore/common/dispatch.h"
#include "scalecore/common/errors.h"
#include "scalecore/common/threads.h"

namespace sc {
namespace lowbit {

const LbKernels& lb_kernels(int impl) {
  if (impl == 1) return lb_kernels_ref();
#if defined(SC_HAVE_AVX512_KERNELS)
  if (simd_at_least(SimdLevel::avx512)) return lb_kernels_avx512();
#endif
#if defined(SC_HAVE_AVX2_KERNELS)
  if (simd_at_least(SimdLevel::avx2)) return lb_kernels_avx2();
#endif
  return lb_kernels_generic();
}

namespace {
constexpr int64_t kGrainElems = 1 << 15;  // elements per chunk (a multiple of every block size)

void check_elem(int f) {
  if (f < 0 || f >= SC_LB_NUM_ELEM) throw ValueError("fmt: unknown element format id " + std::to_string(f));
}
void check_mode(int mode) {
  if (mode < 0 || mode > 2) throw ValueError("rounding: unknown rounding mode id " + std::to_string(mode));
}
}  // namespace

void lowbit_encode(int f, const float* x, int64_t n, bool saturate, int mode, uint64_t seed, uint8_t* codes,
                   int impl) {
  check_elem(f);
  check_mode(mode);
  const LbKernels& K = lb_kernels(impl);
  parallel_for(n, kGrainElems, [&](int64_t i0, int64_t i1) {
    if (mode == SC_LB_ROUND_STOCHASTIC)
      plain::encode(f, x + i0, i1 - i0, saturate, mode, seed, static_cast<uint64_t>(i0), codes + i0);
    else
      K.encode(f, x + i0, i1 - i0, saturate, mode, codes + i0);
  });
}

void lowbit_decode(int f, const uint8_t* codes, int64_t n, float* out, int impl) {
  check_elem(f);
  const LbKernels& K = lb_kernels(impl);
  parallel_for(n, kGrainElems, [&](int64_t i0, int64_t i1) { K.decode(f, codes + i0, i1 - i0, out + i0); });
}

void lowbit_quantize_mx(int b, const float* x, int64_t rows, int64_t K, int mode, uint64_t seed, uint8_t* codes,
                        uint8_t* scales, int impl) {
  check_mode(mode);
  if (b < SC_LB_BLOCK_MXFP8_E4M3 || b > SC_LB_BLOCK_MXINT8) throw ValueError("fmt: not an MX format");
  if (K % 32 != 0) throw ValueError("x: the quantized axis must be a multiple of 32, got " + std::to_string(K));
  const int pack = block_desc(b).pack;
  const int64_t nb = rows * (K / 32);
  const LbKernels& T = lb_kernels(impl);
  parallel_for(nb, kGrainElems / 32, [&](int64_t b0, int64_t b1) {
    const float* xb = x + b0 * 32;
    uint8_t* cb = codes + b0 * (32 / pack);
    if (mode == SC_LB_ROUND_STOCHASTIC)
      plain::quant_mx(b, xb, b1 - b0, mode, seed, static_cast<uint64_t>(b0 * 32), cb, scales + b0);
    else
      T.quant_mx(b, xb, b1 - b0, mode, cb, scales + b0);
  });
}

namespace {
float parallel_absmax(const LbKernels& T, const float* x, int64_t n) {
  const int64_t grain = kGrainElems;
  const int64_t nc = (n + grain - 1) / grain;
  std::vector<float> part(static_cast<size_t>(nc > 0 ? nc : 1), 0.0f);
  parallel_for(nc, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t i0 = c * grain, i1 = i0 + grain < n ? i0 + grain : n;
      part[c] = T.absmax(x + i0, i1 - i0);
    }
  });
  float m = 0.0f;
  for (float v : part) {
    if (v != v) return v;
    m = v > m ? v : m;
  }
  return m;
}
}  // namespace

float lowbit_quantize_nvfp4(const float* x, int64_t rows, int64_t K, float tensor_scale, int mode, uint64_t seed,
                            uint8_t* codes, uint8_t* scales, int impl) {
  check_mode(mode);
  if (K % 16 != 0) throw ValueError("x: the quantized axis must be a multiple of 16, got " + std::to_string(K));
  const LbKernels& T = lb_kernels(impl);
  const int64_t n = rows * K;
  const float amax = parallel_absmax(T, x, n);
  if (!(amax <= 3.4028235e38f))
    throw ValueError("x: NaN or Inf in the input; nvfp4 has a per-tensor scale that one non-finite value would "
                     "make NaN for the whole tensor (clean or clip the input first)");
  float s_t = tensor_scale;
  if (s_t <= 0.0f) s_t = amax == 0.0f ? 1.0f : amax / (448.0f * 6.0f);
  if (!(s_t > 0.0f) || !(s_t <= 3.4028235e38f))
    throw ValueError("tensor_scale: the nvfp4 per-tensor scale must be a finite number > 0");
  const int64_t nb = n / 16;
  parallel_for(nb, kGrainElems / 16, [&](int64_t b0, int64_t b1) {
    if (mode == SC_LB_ROUND_STOCHASTIC)
      plain::quant_nvfp4(x + b0 * 16, b1 - b0, s_t, mode, seed, static_cast<uint64_t>(b0 * 16), codes + b0 * 8,
                         scales + b0);
    else if (mode == SC_LB_ROUND_NEAREST_EVEN)
      T.quant_nvfp4(x + b0 * 16, b1 - b0, s_t, codes + b0 * 8, scales + b0);
    else
      plain::quant_nvfp4(x + b0 * 16, b1 - b0, s_t, mode, 0, 0, codes + b0 * 8, scales + b0);
  });
  return s_t;
}

void lowbit_quantize_fp4_ue5m3(const float* x, int64_t rows, int64_t K, int mode, uint64_t seed, uint8_t* codes,
                               uint8_t* scales) {
  check_mode(mode);
  if (K % 16 != 0) throw ValueError("x: the quantized axis must be a multiple of 16, got " + std::to_string(K));
  const int64_t nb = rows * (K / 16);
  parallel_for(nb, kGrainElems / 16, [&](int64_t b0, int64_t b1) {
    plain::quant_fp4_ue5m3(x + b0 * 16, b1 - b0, mode, seed, static_cast<uint64_t>(b0 * 16), codes + b0 * 8,
                           scales + b0);
  });
}

namespace {
int64_t group_grain(int64_t g) {
  const int64_t gr = kGrainElems / g;
  return gr > 0 ? gr : 1;
}
void check_groups(int64_t K, int64_t g, int bits) {
  if (g <= 0) throw ValueError("group_size: must be > 0");
  if (K % g != 0)
    throw ValueError("x: the quantized axis (" + std::to_string(K) + ") must be a multiple of group_size (" +
                     std::to_string(g) + ")");
  if (bits == 4 && g % 2 != 0) throw ValueError("group_size: int4 packs two codes per byte, so it must be even");
}
}  // namespace

void lowbit_quantize_int(int bits, bool symmetric, const float* x, int64_t rows, int64_t K, int64_t g, int mode,
                         uint64_t seed, uint8_t* codes, float* scales, uint8_t* zeros, int impl) {
  check_mode(mode);
  if (bits != 4 && bits != 8) throw ValueError("bits: 4 or 8");
  check_groups(K, g, bits);
  const LbKernels& T = lb_kernels(impl);
  const int64_t nb = rows * (K / g);
  const int64_t per = bits == 4 ? g / 2 : g;
  const int64_t grain = group_grain(g);
  const int64_t nc = (nb + grain - 1) / grain;
  std::vector<int64_t> bad(static_cast<size_t>(nc > 0 ? nc : 1), 0);
  parallel_for(nb, grain, [&](int64_t b0, int64_t b1) {
    const float* xb = x + b0 * g;
    uint8_t* cb = codes + b0 * per;
    int64_t nbad;
    if (!symmetric)
      nbad = plain::quant_int_asym(bits, xb, b1 - b0, g, mode, seed, static_cast<uint64_t>(b0 * g), cb, scales + b0,
                                   zeros + b0);
    else if (mode == SC_LB_ROUND_STOCHASTIC)
      nbad = plain::quant_int_sym(bits, xb, b1 - b0, g, mode, seed, static_cast<uint64_t>(b0 * g), cb, scales + b0);
    else
      nbad = T.quant_int_sym(bits, xb, b1 - b0, g, mode, cb, scales + b0);
    bad[b0 / grain] += nbad;
  });
  int64_t total = 0;
  for (int64_t v : bad) total += v;
  if (total > 0)
    throw ValueError("x: " + std::to_string(total) +
                     " NaN or Inf values; integer formats cannot represent them (clean or clip the input first)");
}

void lowbit_group_absmax(const float* x, int64_t rows, int64_t K, int64_t g, float* amax, int impl) {
  check_groups(K, g, 8);
  const LbKernels& T = lb_kernels(impl);
  const int64_t nb = rows * (K / g);
  parallel_for(nb, group_grain(g), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) amax[b] = T.absmax(x + b * g, g);
  });
}

void lowbit_quantize_int4_fp8scale(const float* x, int64_t rows, int64_t K, int64_t g, float mult, int mode,
                                   uint64_t seed, uint8_t* codes, uint8_t* scales, int impl) {
  check_mode(mode);
  check_groups(K, g, 4);
  const int64_t nb = rows * (K / g);
  parallel_for(nb, group_grain(g), [&](int64_t b0, int64_t b1) {
    plain::quant_int4_fp8(x + b0 * g, b1 - b0, g, mult, mode, seed, static_cast<uint64_t>(b0 * g), codes + b0 * (g / 2),
                          scales + b0);
  });
}

void lowbit_dequantize(int b, const uint8_t* codes, const void* scales, const uint8_t* zeros, int64_t rows,
                       int64_t K, int64_t g, float tensor_scale, float* out, int impl) {
  if (b < 0 || b >= SC_LB_NUM_BLOCK) throw ValueError("fmt: unknown block format id " + std::to_string(b));
  const BlockDesc& d = block_desc(b);
  if (d.block > 0) g = d.block;
  check_groups(K, g, d.pack == 2 ? 4 : 8);
  const int64_t nb = rows * (K / g);
  const int pack = d.pack;
  const int elem = d.element;
  (void)impl;  // one plain loop at every level (table decode)
  parallel_for(nb, group_grain(g), [&](int64_t b0, int64_t b1) {
    float lut[256];
    for (int c = 0; c < 256; ++c) {
      const uint8_t cc = static_cast<uint8_t>(c);
      plain::decode(elem, &cc, 1, &lut[c]);
    }
    for (int64_t bb = b0; bb < b1; ++bb) {
      const uint8_t* cb = codes + bb * (g / pack);
      float* ob = out + bb * g;
      float s;
      float zero = 0.0f;
      if (d.scale == SC_LB_SCALE_F32) {
        s = static_cast<const float*>(scales)[bb];
        if (zeros) zero = static_cast<float>(zeros[bb]);
      } else {
        const uint8_t sc = static_cast<const uint8_t*>(scales)[bb];
        plain::decode(d.scale, &sc, 1, &s);
      }
      if (b == SC_LB_BLOCK_MXINT8) s *= 0.015625f;  // fixed point 1.6
      if (d.tensor_scale) s = b == SC_LB_BLOCK_INT4_FP8SCALE ? s / tensor_scale : s * tensor_scale;
      if (zeros) {
        for (int64_t j = 0; j < g; ++j) {
          const uint32_t c = plain::get_code(cb, j, pack);
          ob[j] = (static_cast<float>(c) - zero) * s;
        }
      } else if (pack == 1) {
        for (int64_t j = 0; j < g; ++j) ob[j] = lut[cb[j]] * s;
      } else {
        for (int64_t j = 0; j < g; j += 2) {
          ob[j] = lut[cb[j >> 1] & 0xF] * s;
          ob[j + 1] = lut[cb[j >> 1] >> 4] * s;
        }
      }
    }
  });
}

void lowbit_hadamard_signs(int64_t n, uint64_t seed, float* signs) {
  for (int64_t j = 0; j < n; ++j) signs[j] = (philox_bits(seed, static_cast<uint64_t>(j), 1u) & 1u) ? -1.0f : 1.0f;
}

void lowbit_hadamard(float* x, int64_t nblocks, int64_t n, uint64_t seed, bool has_seed, bool inverse, int impl) {
  if (n < 16 || n > 4096 || (n & (n - 1)) != 0)
    throw ValueError("block: must be a power of two in [16, 4096], got " + std::to_string(n));
  std::vector<float> signs;
  if (has_seed) {
    signs.resize(static_cast<size_t>(n));
    lowbit_hadamard_signs(n, seed, signs.data());
  }
  const LbKernels& T = lb_kernels(impl);
  int64_t grain = kGrainElems / n;
  if (grain < 1) grain = 1;
  parallel_for(nblocks, grain, [&](int64_t b0, int64_t b1) {
    T.hadamard(x + b0 * n, b1 - b0, n, has_seed ? signs.data() : nullptr, inverse);
  });
}

}  // namespace lowbit
}  // namespace sc
