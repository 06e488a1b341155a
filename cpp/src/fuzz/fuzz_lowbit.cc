// Fuzz targets of the low-bit family.
//
// "lowbit_codec": element codecs and block quantizers on fuzzed floats and
// codes.  Oracles: the reference kernels (per-element SC_HD codecs in plain
// loops) give the same bits at every SIMD level; decode ignores the bits
// above a format's width (decode.__doc__); encode(decode(c)) == c for every
// non-NaN code; dequantize(quantize(x)) agrees between the levels.
//
// "lowbit_packed": packed weights as PackedLinear holds them (the layouts of
// pack.h) from fuzzed codes and scales: unpack(pack(q)) == q, and the fused
// GEMV/GEMM at every level against the reference kernel: bit for bit on the
// integer (int8-activation) paths, within the documented bound
// 2 (K + 3) 2^-24 sum_k |x_k| |W_nk| on the float paths.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "scalecore/common/dispatch.h"
#include "scalecore/common/errors.h"
#include "scalecore/fuzz/fuzz.h"
#include "scalecore/lowbit/codec.h"
#include "scalecore/lowbit/gemm.h"
#include "scalecore/lowbit/pack.h"
#include "scalecore/lowbit/quant.h"
#include "scalecore/lowbit/traits.h"

namespace sc {
namespace fuzz {

namespace {

using namespace sc::lowbit;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

bool same_bits(float a, float b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

// Floats that reach every branch of the codecs: raw bit patterns, the
// specials, and values on a grid scaled around the format's range.
std::vector<float> floats(Reader& rd, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  const int scale = rd.range(-140, 140);
  for (auto& v : x) {
    const uint8_t k = rd.u8();
    if (k < 40)
      v = rd.f32_bits();
    else if (k < 48)
      v = k == 40 ? NAN : k == 41 ? INFINITY : k == 42 ? -INFINITY : k == 43 ? 0.f : k == 44 ? -0.f : 448.f;
    else
      v = std::ldexp(static_cast<float>(rd.uniform(-8.0, 8.0)), k < 200 ? scale : rd.range(-150, 130));
  }
  return x;
}

void check_elem(Reader& rd) {
  const int f = rd.range(0, SC_LB_NUM_ELEM - 1);
  const ElemDesc& d = elem_desc(f);
  const bool saturate = rd.u8() & 1;
  const int mode = rd.range(0, 2);
  const uint64_t seed = rd.u32();
  const int64_t n = rd.range(1, 97);
  const std::vector<float> x = floats(rd, n);
  std::vector<uint8_t> ref(static_cast<size_t>(n)), got(static_cast<size_t>(n));
  lowbit_encode(f, x.data(), n, saturate, mode, seed, ref.data(), 1);
  LevelSweep sweep;
  for (int level : sweep.levels) {
    sweep.set(level);
    lowbit_encode(f, x.data(), n, saturate, mode, seed, got.data(), 0);
    for (int64_t i = 0; i < n; ++i)
      if (got[i] != ref[i])
        fail(std::string("lowbit_codec: encode ") + d.name + " of " + std::to_string(x[i]) + " at " +
             simd_level_name(simd_level()) + ": code " + std::to_string(got[i]) + ", reference " +
             std::to_string(ref[i]));
  }
  // Decode: any byte; the bits above the width must not matter.
  std::vector<uint8_t> codes(static_cast<size_t>(n)), masked(static_cast<size_t>(n));
  const unsigned mask = d.bits >= 8 ? 0xFFu : (1u << d.bits) - 1u;
  for (int64_t i = 0; i < n; ++i) {
    codes[i] = rd.u8();
    masked[i] = static_cast<uint8_t>(codes[i] & mask);
  }
  std::vector<float> dref(static_cast<size_t>(n)), dgot(static_cast<size_t>(n));
  lowbit_decode(f, masked.data(), n, dref.data(), 1);
  for (int level : sweep.levels) {
    sweep.set(level);
    lowbit_decode(f, codes.data(), n, dgot.data(), 0);
    for (int64_t i = 0; i < n; ++i)
      if (!same_bits(dgot[i], dref[i]))
        fail(std::string("lowbit_codec: decode ") + d.name + " of code " + std::to_string(codes[i]) + " at " +
             simd_level_name(simd_level()) + ": " + std::to_string(dgot[i]) + ", reference " +
             std::to_string(dref[i]));
  }
  // Round trip of every non-NaN code (nearest-even, not saturating).
  std::vector<uint8_t> back(static_cast<size_t>(n));
  lowbit_encode(f, dref.data(), n, false, SC_LB_ROUND_NEAREST_EVEN, 0, back.data(), 1);
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(dref[i])) continue;
    float again;
    lowbit_decode(f, &back[i], 1, &again, 1);
    if (!same_bits(again, dref[i]))
      fail(std::string("lowbit_codec: ") + d.name + " code " + std::to_string(masked[i]) + " decodes to " +
           std::to_string(dref[i]) + " which encodes to code " + std::to_string(back[i]) + " = " +
           std::to_string(again));
  }
}

void check_block(Reader& rd) {
  const int b = rd.range(0, SC_LB_NUM_BLOCK - 1);
  const BlockDesc& bd = block_desc(b);
  const int64_t rows = rd.range(1, 3);
  const bool is_int = bd.block == 0;
  const int64_t g = is_int ? 32 * rd.range(1, 2) : bd.block;
  const int64_t K = g * rd.range(1, 3);
  const int mode = rd.range(0, 2);
  const uint64_t seed = rd.u32();
  std::vector<float> x = floats(rd, rows * K);
  const bool need_finite = is_int || b == SC_LB_BLOCK_NVFP4 || b == SC_LB_BLOCK_FP4_UE5M3;
  if (need_finite)
    for (auto& v : x)
      if (!std::isfinite(v) || std::fabs(v) > 1e30f) v = 1.5f;
  const int64_t code_bytes = rows * K / bd.pack, nsc = rows * (K / g);
  std::vector<uint8_t> cref(static_cast<size_t>(code_bytes)), cgot(cref.size()), sref(static_cast<size_t>(nsc)),
      sgot(sref.size()), zref(static_cast<size_t>(nsc)), zgot(zref.size());
  std::vector<float> fref(static_cast<size_t>(nsc)), fgot(fref.size());
  float tref = 1.f, tgot = 1.f;
  const bool symmetric = rd.u8() & 1;
  const int bits = b == SC_LB_BLOCK_GROUP_INT8 ? 8 : 4;
  auto run = [&](int impl, uint8_t* c, uint8_t* s, float* fs, uint8_t* z, float* t) {
    if (is_int)
      lowbit_quantize_int(bits, symmetric || b == SC_LB_BLOCK_GROUP_INT4, x.data(), rows, K, g, mode, seed, c, fs,
                          z, impl);
    else if (b == SC_LB_BLOCK_NVFP4)
      *t = lowbit_quantize_nvfp4(x.data(), rows, K, 0.f, mode, seed, c, s, impl);
    else if (b == SC_LB_BLOCK_FP4_UE5M3)
      lowbit_quantize_fp4_ue5m3(x.data(), rows, K, mode, seed, c, s);
    else
      lowbit_quantize_mx(b, x.data(), rows, K, mode, seed, c, s, impl);
  };
  try {
    run(1, cref.data(), sref.data(), fref.data(), zref.data(), &tref);
  } catch (const ValueError&) {
    return;
  }
  const bool asym = is_int && !(symmetric || b == SC_LB_BLOCK_GROUP_INT4);
  std::vector<float> dref(static_cast<size_t>(rows * K)), dgot(dref.size());
  const void* sc_ref = is_int ? static_cast<const void*>(fref.data()) : sref.data();
  lowbit_dequantize(b, cref.data(), sc_ref, asym ? zref.data() : nullptr, rows, K, g, tref, dref.data(), 1);
  LevelSweep sweep;
  for (int level : sweep.levels) {
    sweep.set(level);
    run(0, cgot.data(), sgot.data(), fgot.data(), zgot.data(), &tgot);
    const std::string at = std::string(bd.name) + " at " + simd_level_name(simd_level());
    if (cgot != cref) {
      size_t i = 0;
      while (cgot[i] == cref[i]) ++i;
      const int64_t e0 = static_cast<int64_t>(i) * bd.pack;
      std::string xs;
      for (int64_t k = e0 - e0 % g; k < e0 - e0 % g + g; ++k) xs += " " + num(x[k]);
      fail("lowbit_codec: quantize codes differ from the reference, " + at + ", byte " + std::to_string(i) +
           ": " + std::to_string(cgot[i]) + " vs " + std::to_string(cref[i]) + ", tensor scale " +
           num(tref) + ", block:" + xs);
    }
    if (is_int ? std::memcmp(fgot.data(), fref.data(), fref.size() * 4) != 0 : sgot != sref)
      fail("lowbit_codec: quantize scales differ from the reference, " + at);
    if (asym && zgot != zref) fail("lowbit_codec: zero points differ from the reference, " + at);
    if (!same_bits(tgot, tref)) fail("lowbit_codec: tensor scale differs from the reference, " + at);
    lowbit_dequantize(b, cgot.data(), sc_ref, asym ? zgot.data() : nullptr, rows, K, g, tgot, dgot.data(), 0);
    for (size_t i = 0; i < dref.size(); ++i)
      if (!same_bits(dgot[i], dref[i])) fail("lowbit_codec: dequantize differs from the reference, " + at);
  }
}

}  // namespace

void fuzz_lowbit_codec(const uint8_t* data, size_t size) {
  Reader rd(data, size);
  if (rd.u8() & 1)
    check_elem(rd);
  else
    check_block(rd);
}

void fuzz_lowbit_packed(const uint8_t* data, size_t size) {
  Reader rd(data, size);
  const int wfmt = rd.range(0, 2);
  const int64_t groups[] = {32, 64, 128, 48, 16, 0};
  const int64_t group = groups[rd.u8() % (rd.u8() < 16 ? 6 : 3)];
  const int64_t N = rd.range(1, 40), K = (group > 0 ? group : 32) * rd.range(1, 3) + (rd.u8() < 8 ? 2 : 0);
  try {
    lb_check_layout(wfmt, N, K, group);
  } catch (const ValueError&) {
    return;
  }
  const int qmax = lb_qmax(wfmt);
  std::vector<int8_t> q(static_cast<size_t>(N * K));
  for (auto& c : q)
    c = wfmt == LB_W_FP4 ? static_cast<int8_t>(rd.u8() & 15) : static_cast<int8_t>(rd.range(-qmax - 1, qmax));
  std::vector<uint8_t> packed(static_cast<size_t>(N * lb_row_bytes(wfmt, K)));
  lowbit_pack_codes(q.data(), N, K, group, wfmt, packed.data());
  std::vector<int8_t> back(q.size());
  lowbit_unpack_codes(packed.data(), 0, N, K, group, wfmt, back.data());
  if (back != q) fail("lowbit_packed: unpack(pack(codes)) != codes");
  const int64_t G = K / group;
  std::vector<float> ws(static_cast<size_t>(N * G));
  for (auto& s : ws)
    s = wfmt == LB_W_FP4 ? std::ldexp(1.f, rd.range(-20, 20)) : static_cast<float>(rd.uniform(1e-4, 2.0));
  // Dequantized weights for the bound.
  std::vector<double> W(static_cast<size_t>(N * K));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      const int c = q[n * K + k];
      const double v = wfmt == LB_W_FP4 ? lb_e2m1_value(c) : c;
      W[n * K + k] = v * ws[n * G + k / group];
    }
  const int64_t M = rd.u8() < 128 ? rd.range(1, 5) : rd.range(6, 14);  // GEMV rows, and GEMM tiles with tails
  std::vector<float> x = floats(rd, M * K);
  for (auto& v : x)
    if (!std::isfinite(v) || std::fabs(v) > 1e6f || std::fabs(v) < 1e-30f) v = static_cast<float>(rd.uniform(-1, 1));
  LbLinearArgs a;
  a.wfmt = wfmt;
  a.M = M;
  a.N = N;
  a.K = K;
  a.group = group;
  a.w = packed.data();
  a.ws = ws.data();
  std::vector<float> bias(static_cast<size_t>(N));
  for (auto& v : bias) v = static_cast<float>(rd.uniform(-1, 1));
  if (rd.u8() & 1) a.bias = bias.data();
  std::vector<float> yref(static_cast<size_t>(M * N)), ygot(yref.size());
  LevelSweep sweep;
  // Float activations at every level against the reference, within the
  // bound of gemm.h on the activations xv the kernels multiply: 2 (K + 3)
  // 2^-24 sum_k |xv_k W_nk| (both sides' error) + 2 * 2^-118 sum_k |ws| when
  // dot_floor (bf16's DAZ/FTZ) + one ulp of the bias addition.
  auto check_float = [&](int act, const char* what, const std::vector<float>& xv, bool dot_floor) {
    a.y = yref.data();
    lowbit_linear(a, act, "ref");
    for (int level : sweep.levels) {
      sweep.set(level);
      a.y = ygot.data();
      lowbit_linear(a, act, "auto");
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          double mag = 0, wsum = 0;
          for (int64_t k = 0; k < K; ++k) {
            mag += std::fabs(double(xv[m * K + k]) * W[n * K + k]);
            wsum += std::fabs(double(ws[n * G + k / group]));
          }
          const double y = yref[m * N + n];
          const double bound = 2 * ((K + 3) * std::ldexp(1.0, -24) * mag + (dot_floor ? std::ldexp(wsum, -118) : 0)) +
                               std::ldexp(std::fabs(y) + (a.bias ? std::fabs(a.bias[n]) : 0.0), -23) + 1e-30;
          const double d = std::fabs(double(ygot[m * N + n]) - y);
          if (!(d <= bound))
            fail(std::string("lowbit_packed: ") + what + "-activation GEMV/GEMM (fmt " + std::to_string(wfmt) +
                 ", M " + std::to_string(M) + ", N " + std::to_string(N) + ", K " + std::to_string(K) + ", group " +
                 std::to_string(group) + ", bias " + (a.bias ? "yes" : "no") + ") at " +
                 simd_level_name(simd_level()) + ", y[" + std::to_string(m) + ", " + std::to_string(n) +
                 "] = " + num(ygot[m * N + n]) + ", reference " + num(y) + ", bound " + num(bound));
        }
    }
  };
  a.x = x.data();
  check_float(LB_A_F32, "float", x, false);
  // bfloat16: the kernels multiply x rounded to bf16.
  std::vector<float> xb(x.size());
  lowbit_round_bf16(x.data(), static_cast<int64_t>(x.size()), xb.data());
  check_float(LB_A_BF16, "bfloat16", xb, true);
  if (wfmt == LB_W_FP4) return;
  // Int8 activations: exact integer sums, the same float epilogue.
  std::vector<int8_t> xq(static_cast<size_t>(M * K));
  std::vector<float> xs(static_cast<size_t>(M));
  lb_quantize_tokens(x.data(), M, K, xq.data(), xs.data());
  a.x = nullptr;
  a.xq = xq.data();
  a.xs = xs.data();
  a.y = yref.data();
  lowbit_linear(a, LB_A_INT8, "ref");
  for (int level : sweep.levels) {
    sweep.set(level);
    a.y = ygot.data();
    lowbit_linear(a, LB_A_INT8, "auto");
    for (size_t i = 0; i < yref.size(); ++i)
      if (!same_bits(ygot[i], yref[i]))
        fail("lowbit_packed: int8-activation GEMV/GEMM at " + std::string(simd_level_name(simd_level())) +
             " differs from the reference: " + std::to_string(ygot[i]) + " vs " + std::to_string(yref[i]));
  }
}

}  // namespace fuzz
}  // namespace sc
