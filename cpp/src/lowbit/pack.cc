// Quantizers and the INT4/INT8 packed layouts of pack.h (baseline x86-64).
#include "scalecore/lowbit/pack.h"

#include <cmath>
#include <cstring>
#include <string>

#include "scalecore/common/errors.h"
#include "scalecore/common/threads.h"

namespace sc {
namespace lowbit {

void lb_check_layout(int wfmt, int64_t N, int64_t K, int64_t group) {
  if (wfmt != LB_W_INT4 && wfmt != LB_W_INT8 && wfmt != LB_W_FP4) throw ValueError("fmt: expected int4, int8 or mxfp4");
  if (N < 1 || K < 1) throw ValueError("weight: expected a non-empty (out, in) matrix");
  if (group < 32 || group % 32 != 0)
    throw ValueError("group_size: expected a positive multiple of 32 (or None for per-channel), got " +
                     std::to_string(group));
  // The fp4 kernels read one float32 scale per 32-element block (an E8M0 MX
  // block, or two NVFP4 blocks of 16 through sgroup): the layout group is 32.
  if (wfmt == LB_W_FP4 && group != 32)
    throw ValueError("group_size: the fp4 weight layout has blocks of 32, got " + std::to_string(group));
  if (K % group != 0)
    throw ValueError("weight: in_features K = " + std::to_string(K) + " is not a multiple of group_size " +
                     std::to_string(group));
}

namespace {

// rint with ties to even in float32 (the default rounding mode).
inline float rint_even(float v) { return std::nearbyint(v); }

// Quantizes one group: returns the scale, writes the codes.
inline float quantize_group(const float* w, int64_t g, int qmax, int8_t* codes) {
  float amax = 0.f;
  for (int64_t i = 0; i < g; ++i) amax = std::fmax(amax, std::fabs(w[i]));
  if (amax == 0.f) {
    std::memset(codes, 0, static_cast<size_t>(g));
    return 0.f;
  }
  const float scale = amax / static_cast<float>(qmax);
  const float lo = static_cast<float>(-qmax - 1), hi = static_cast<float>(qmax);
  for (int64_t i = 0; i < g; ++i) {
    float q = rint_even(w[i] / scale);
    q = q < lo ? lo : (q > hi ? hi : q);
    codes[i] = static_cast<int8_t>(q);
  }
  return scale;
}

}  // namespace

void lowbit_quantize_weights(const float* w, int64_t N, int64_t K, int64_t group, int wfmt, int8_t* codes,
                             float* scales) {
  lb_check_layout(wfmt, N, K, group);
  const int64_t G = K / group;
  const int qmax = lb_qmax(wfmt);
  parallel_for(N, 16, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const float* row = w + n * K;
      for (int64_t k = 0; k < K; ++k)
        if (!std::isfinite(row[k]))
          throw ValueError("weight: expected finite values, got " + std::string(std::isnan(row[k]) ? "NaN" : "Inf") +
                           " at [" + std::to_string(n) + ", " + std::to_string(k) + "]");
      for (int64_t g = 0; g < G; ++g)
        scales[n * G + g] = quantize_group(row + g * group, group, qmax, codes + n * K + g * group);
    }
  });
}

void lowbit_pack_codes(const int8_t* codes, int64_t N, int64_t K, int64_t group, int wfmt, uint8_t* packed) {
  lb_check_layout(wfmt, N, K, group);
  if (wfmt == LB_W_INT8) {
    std::memcpy(packed, codes, static_cast<size_t>(N * K));
    return;
  }
  const int lo = wfmt == LB_W_FP4 ? 0 : -8, hi = wfmt == LB_W_FP4 ? 15 : 7;
  for (int64_t i = 0; i < N * K; ++i)
    if (codes[i] < lo || codes[i] > hi)
      throw ValueError(std::string("codes: ") + (wfmt == LB_W_FP4 ? "E2M1 codes must lie in [0, 15]" : "int4 codes must lie in [-8, 7]") +
                       ", got " + std::to_string(codes[i]));
  parallel_for(N, 64, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      uint8_t* row = packed + n * (K / 2);
      std::memset(row, 0, static_cast<size_t>(K / 2));
      for (int64_t k = 0; k < K; ++k) {
        int64_t byte;
        int shift;
        lb_int4_position(k, group, &byte, &shift);
        row[byte] |= static_cast<uint8_t>((codes[n * K + k] & 0xF) << shift);
      }
    }
  });
}

void lowbit_unpack_row(const uint8_t* row, int64_t K, int64_t group, int wfmt, int64_t kb, int64_t ke,
                       int8_t* out) {
  if (wfmt == LB_W_INT8) {
    std::memcpy(out, row + kb, static_cast<size_t>(ke - kb));
    return;
  }
  // Walk whole chunks overlapping [kb, ke).
  int64_t k = kb;
  while (k < ke) {
    const int64_t g0 = (k / group) * group, r = k - g0, full = (group / 64) * 64;
    const int64_t c0 = r < full ? (r / 64) * 64 : full;
    const int64_t L = r < full ? 8 : 4;
    const uint8_t* chunk = row + (g0 + c0) / 2;
    const int64_t cb = g0 + c0, ce = cb + 8 * L;
    for (int64_t e = k - cb; e < 8 * L && cb + e < ke; ++e) {
      const int64_t word = e % L, nib = e / L;
      const uint8_t byte = chunk[word * 4 + nib / 2];
      const int shift = static_cast<int>((nib & 1) * 4);
      out[cb + e - kb] = static_cast<int8_t>(wfmt == LB_W_FP4 ? (byte >> shift) & 0xF : lb_int4_decode(byte, shift));
    }
    k = ce;
  }
}

void lowbit_unpack_codes(const uint8_t* packed, int64_t n0, int64_t n1, int64_t K, int64_t group, int wfmt,
                         int8_t* codes) {
  const int64_t rb = lb_row_bytes(wfmt, K);
  parallel_for(n1 - n0, 64, [&](int64_t a, int64_t b) {
    for (int64_t i = a; i < b; ++i) lowbit_unpack_row(packed + (n0 + i) * rb, K, group, wfmt, 0, K, codes + i * K);
  });
}

void lowbit_quantize_tokens(const float* x, int64_t M, int64_t K, int8_t* codes, float* scales) {
  parallel_for(M, 4, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const float* row = x + m * K;
      bool finite = true;
      for (int64_t k = 0; k < K; ++k) finite &= std::isfinite(row[k]);
      if (!finite) {
        std::memset(codes + m * K, 0, static_cast<size_t>(K));
        scales[m] = std::nanf("");
        continue;
      }
      scales[m] = quantize_group(row, K, 127, codes + m * K);
    }
  });
}

void lowbit_round_bf16(const float* x, int64_t n, float* y) {
  parallel_for(n, 1 << 16, [&](int64_t a, int64_t b) {
    for (int64_t i = a; i < b; ++i) {
      uint32_t u;
      std::memcpy(&u, &x[i], 4);
      if ((u & 0x7FFFFFFFu) > 0x7F800000u) {
        u |= 0x00400000u;  // NaN stays (a quiet) NaN
      } else {
        u += 0x7FFFu + ((u >> 16) & 1u);
      }
      u &= 0xFFFF0000u;
      std::memcpy(&y[i], &u, 4);
    }
  });
}

}  // namespace lowbit
}  // namespace sc
