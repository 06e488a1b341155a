// Dispatch, argument checks and the reference kernels of gemm.h.
//
// The reference kernels are plain loops: each output row unpacks its weight
// codes and sums in the order stated in gemm.h (the float path sequentially
// over k within a group, then over groups).  The scalar SIMD level runs them.
#include "scalecore/lowbit/gemm.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "scalecore/common/dispatch.h"
#include "scalecore/common/errors.h"
#include "scalecore/common/threads.h"
#include "scalecore/lowbit/pack.h"

namespace sc {
namespace lowbit {

namespace {

void linear_f32_ref(const LbLinearArgs& a) {
  const int64_t K = a.K, N = a.N, M = a.M, sg = a.scale_group(), G = K / sg, rb = lb_row_bytes(a.wfmt, K);
  parallel_for(N, 16, [&](int64_t n0, int64_t n1) {
    std::vector<int8_t> codes(static_cast<size_t>(K));
    std::vector<float> vals(static_cast<size_t>(K));
    for (int64_t n = n0; n < n1; ++n) {
      lowbit_unpack_row(a.w + n * rb, K, a.group, a.wfmt, 0, K, codes.data());
      for (int64_t k = 0; k < K; ++k)
        vals[k] = a.wfmt == LB_W_FP4 ? lb_e2m1_value(codes[k]) : static_cast<float>(codes[k]);
      for (int64_t m = 0; m < M; ++m) {
        const float* x = a.x + m * K;
        float acc = 0.f;
        for (int64_t g = 0; g < G; ++g) {
          float s = 0.f;
          for (int64_t k = g * sg; k < (g + 1) * sg; ++k) s += vals[k] * x[k];
          acc += s * a.ws[n * G + g];
        }
        a.y[m * N + n] = a.bias ? acc + a.bias[n] : acc;
      }
    }
  });
}

void linear_i8_ref(const LbLinearArgs& a) {
  const int64_t K = a.K, N = a.N, M = a.M, G = K / a.group, rb = lb_row_bytes(a.wfmt, K);
  parallel_for(N, 16, [&](int64_t n0, int64_t n1) {
    std::vector<int8_t> codes(static_cast<size_t>(K));
    for (int64_t n = n0; n < n1; ++n) {
      lowbit_unpack_row(a.w + n * rb, K, a.group, a.wfmt, 0, K, codes.data());
      for (int64_t m = 0; m < M; ++m) {
        const int8_t* x = a.xq + m * K;
        float s[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
        for (int64_t g = 0; g < G; ++g) {
          int32_t isum = 0;
          for (int64_t k = g * a.group; k < (g + 1) * a.group; ++k)
            isum += static_cast<int32_t>(codes[k]) * static_cast<int32_t>(x[k]);
          s[g % 8] = s[g % 8] + static_cast<float>(isum) * a.ws[n * G + g];
        }
        float y = lb_i8_combine(s) * a.xs[m];
        if (a.bias) y = y + a.bias[n];
        a.y[m * N + n] = y;
      }
    }
  });
}

}  // namespace

const LbGemmKernels& lb_gemm_kernels_ref() {
  static const LbGemmKernels k{linear_f32_ref, linear_i8_ref};
  return k;
}

uint64_t lowbit_read_probe(const uint8_t* p, int64_t n) {
  if (n % 32 != 0) throw ValueError("buffer: expected a multiple of 32 bytes");
#if defined(SC_HAVE_AVX512_KERNELS)
  if (simd_at_least(SimdLevel::avx512)) return lb_read_probe_avx512(p, n);
#endif
#if defined(SC_HAVE_AVX2_KERNELS)
  if (simd_at_least(SimdLevel::avx2)) return lb_read_probe_avx2(p, n);
#endif
  const int64_t words = n / 8, chunk = 1 << 16;
  const int64_t nchunks = (words + chunk - 1) / chunk;
  std::vector<uint64_t> part(static_cast<size_t>(nchunks), 0);
  parallel_for(nchunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      uint64_t x0 = 0, x1 = 0;
      for (int64_t i = c * chunk; i + 1 < std::min(words, (c + 1) * chunk); i += 2) {
        uint64_t a, b;
        std::memcpy(&a, p + 8 * i, 8);
        std::memcpy(&b, p + 8 * i + 8, 8);
        x0 ^= a;
        x1 ^= b;
      }
      part[static_cast<size_t>(c)] = x0 ^ x1;
    }
  });
  uint64_t r = 0;
  for (uint64_t v : part) r ^= v;
  return r;
}

void lb_quantize_tokens(const float* x, int64_t M, int64_t K, int8_t* codes, float* scales) {
#if defined(SC_HAVE_AVX512_KERNELS)
  if (simd_at_least(SimdLevel::avx512)) {
    lb_quantize_tokens_avx512(x, M, K, codes, scales);
    return;
  }
#endif
  lowbit_quantize_tokens(x, M, K, codes, scales);
}

void lowbit_linear(const LbLinearArgs& a, int act, const char* impl) {
  lb_check_layout(a.wfmt, a.N, a.K, a.group);
  if (a.M < 0) throw ValueError("x: expected a non-negative number of rows");
  if (act != LB_A_F32 && act != LB_A_INT8 && act != LB_A_BF16) throw ValueError("act: unknown activation kind");
  if ((act == LB_A_F32 || act == LB_A_BF16) && !a.x) throw ValueError("x: missing float activations");
  if (act == LB_A_INT8 && (!a.xq || !a.xs)) throw ValueError("x: missing int8 activations or scales");
  if (a.sgroup != 0 && !(a.wfmt == LB_W_FP4 && a.group == 32 && a.sgroup == 16))
    throw ValueError("scales: a separate scale group is only NVFP4's (16 within the 32-element fp4 layout)");
  if (act == LB_A_INT8 && a.wfmt == LB_W_FP4)
    throw ValueError("act: int8 activations need int4 or int8 weights (mxfp4 runs float32, bfloat16 or float8_e4m3fn)");
  if (act == LB_A_INT8 && a.wfmt == LB_W_INT8 && a.group * 128 * 128 >= (int64_t(1) << 31))
    throw ValueError("group_size: int8 x int8 groups must be < 131072 elements (int32 accumulators)");
  if (a.M == 0) return;
  const std::string which = impl ? impl : "auto";
  const LbGemmKernels* k = nullptr;
  if (which == "ref") {
    k = &lb_gemm_kernels_ref();
  } else if (which == "auto") {
    k = &lb_gemm_kernels_ref();
#if defined(SC_HAVE_AVX2_KERNELS)
    if (simd_at_least(SimdLevel::avx2)) k = &lb_gemm_kernels_avx2();
#endif
#if defined(SC_HAVE_AVX512_KERNELS)
    if (simd_at_least(SimdLevel::avx512)) k = &lb_gemm_kernels_avx512();
#endif
  } else {
    throw ValueError("impl: expected 'auto' or 'ref', got '" + which + "'");
  }
  if (act == LB_A_INT8) {
    k->linear_i8(a);
    return;
  }
  if (act == LB_A_BF16) {
#if defined(SC_HAVE_AVX512_KERNELS)
    if (which == "auto" && simd_at_least(SimdLevel::avx512) && cpu_features().avx512bf16 &&
        lb_gemm_bf16_supported(a)) {
      lb_gemm_bf16_tiles_avx512(a);
      return;
    }
#endif
    // the same math at this level: x rounded to bf16, then the float kernel
    std::vector<float> xr(static_cast<size_t>(a.M * a.K));
    lowbit_round_bf16(a.x, a.M * a.K, xr.data());
    LbLinearArgs b = a;
    b.x = xr.data();
    k->linear_f32(b);
    return;
  }
  k->linear_f32(a);
}

}  // namespace lowbit
}  // namespace sc
