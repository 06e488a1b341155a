// Run-time CPU feature detection and SIMD level selection.
//
// Levels, lowest first.  A kernel family provides one implementation per level
// it supports and asks `simd_level()` which to run.  `set_simd_level` (or the
// environment variable SCALECORE_SIMD=scalar|avx2|auto, read on first use)
// forces a lower level; tests use it to run every level against the reference.
#pragma once
#include <string>
#include <vector>

namespace sc {

enum class SimdLevel : int {
  scalar = 0,  // portable C++, no ISA flags beyond the x86-64 baseline
  avx2 = 1,    // AVX2 + FMA kernels (*_avx2.cc)
};

struct CpuFeatures {
  std::string vendor;
  std::string brand;
  bool sse2 = false, sse4_2 = false, avx = false, avx2 = false, fma = false,
       f16c = false, bmi2 = false, avx512f = false, avx512bw = false,
       avx512vl = false, os_ymm = false, os_zmm = false;
};

const CpuFeatures& cpu_features();
std::vector<std::string> cpu_feature_names();  // names of the features present

SimdLevel simd_max_supported();    // best level this CPU and build can run
SimdLevel simd_level();            // level in use
void set_simd_level(SimdLevel l);  // throws ValueError if not supported here
SimdLevel simd_level_from_name(const std::string& name);  // "scalar", "avx2", "auto"
const char* simd_level_name(SimdLevel l);

}  // namespace sc
