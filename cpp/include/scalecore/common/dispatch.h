// Run-time CPU feature detection and SIMD level selection.
//
// Levels, lowest first.  A kernel family provides one implementation per level
// it supports and asks `simd_level()` which to run.  `set_simd_level` (or the
// environment variable SCALECORE_SIMD=scalar|avx2|avx512|auto, read on first
// use) forces a lower level; tests use it to run every level against the
// reference.
#pragma once
#include <string>
#include <vector>

namespace sc {

enum class SimdLevel : int {
  scalar = 0,  // portable C++, no ISA flags beyond the x86-64 baseline
  avx2 = 1,    // AVX2 + FMA kernels (*_avx2.cc)
  avx512 = 2,  // AVX-512 F/BW/VL/DQ kernels (*_avx512.cc), ZMM state saved by the OS
};
constexpr int kNumSimdLevels = 3;

struct CpuFeatures {
  std::string vendor;
  std::string brand;
  bool sse2 = false, sse4_2 = false, avx = false, avx2 = false, fma = false,
       f16c = false, bmi2 = false, avx512f = false, avx512bw = false,
       avx512vl = false, avx512dq = false, avx512cd = false, avx512vnni = false,
       avx512bf16 = false, avx512ifma = false, avx512vbmi = false, os_ymm = false, os_zmm = false;
};

const CpuFeatures& cpu_features();
std::vector<std::string> cpu_feature_names();  // names of the features present

SimdLevel simd_max_supported();    // best level this CPU and build can run
SimdLevel simd_level();            // level in use
void set_simd_level(SimdLevel l);  // throws ValueError if not supported here
SimdLevel simd_level_from_name(const std::string& name);  // "scalar", "avx2", "avx512", "auto"
const char* simd_level_name(SimdLevel l);
std::vector<std::string> simd_level_names_supported();  // "scalar" ... best, lowest first

// True when the level in use is at least `l` (a kernel family without an
// AVX-512 version runs its AVX2 kernel at the avx512 level).
inline bool simd_at_least(SimdLevel l) { return static_cast<int>(simd_level()) >= static_cast<int>(l); }

}  // namespace sc
