// CPU feature detection (cpuid + xgetbv) and the SIMD level in use.
#include "scalecore/common/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "scalecore/common/errors.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define SC_X86 1
#endif

namespace sc {
namespace {

#if defined(SC_X86)
unsigned long long xgetbv0() {
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if defined(SC_X86)
  unsigned a, b, c, d;
  if (__get_cpuid(0, &a, &b, &c, &d)) {
    char v[13];
    std::memcpy(v, &b, 4);
    std::memcpy(v + 4, &d, 4);
    std::memcpy(v + 8, &c, 4);
    v[12] = 0;
    f.vendor = v;
  }
  unsigned max_ext = __get_cpuid_max(0x80000000u, nullptr);
  if (max_ext >= 0x80000004u) {
    char brand[49] = {0};
    for (unsigned i = 0; i < 3; ++i) {
      __get_cpuid(0x80000002u + i, &a, &b, &c, &d);
      std::memcpy(brand + 16 * i, &a, 4);
      std::memcpy(brand + 16 * i + 4, &b, 4);
      std::memcpy(brand + 16 * i + 8, &c, 4);
      std::memcpy(brand + 16 * i + 12, &d, 4);
    }
    std::string s(brand);
    size_t p = s.find_first_not_of(' ');
    f.brand = p == std::string::npos ? "" : s.substr(p);
    while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
  }
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    f.sse2 = d & (1u << 26);
    f.sse4_2 = c & (1u << 20);
    f.fma = c & (1u << 12);
    f.f16c = c & (1u << 29);
    const bool osxsave = c & (1u << 27);
    f.avx = c & (1u << 28);
    if (osxsave) {
      const unsigned long long xcr0 = xgetbv0();
      f.os_ymm = (xcr0 & 0x6) == 0x6;          // XMM and YMM state enabled
      f.os_zmm = (xcr0 & 0xe6) == 0xe6;        // plus opmask and ZMM state
    }
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = b & (1u << 5);
    f.bmi2 = b & (1u << 8);
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512ifma = b & (1u << 21);
    f.avx512cd = b & (1u << 28);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512vbmi = c & (1u << 1);
    f.avx512vnni = c & (1u << 11);
    if (a >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx512bf16 = a & (1u << 5);
  }
  // A feature the OS does not save state for is unusable.
  if (!f.os_ymm) f.avx = f.avx2 = f.fma = f.f16c = false;
  if (!f.os_zmm)
    f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512cd = f.avx512vnni = f.avx512bf16 =
        f.avx512ifma = f.avx512vbmi = false;
#endif
  return f;
}

SimdLevel compute_max() {
  const CpuFeatures& f = cpu_features();
  (void)f;
#if defined(SC_HAVE_AVX512_KERNELS)
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx2 && f.fma && f.os_zmm)
    return SimdLevel::avx512;
#endif
#if defined(SC_HAVE_AVX2_KERNELS)
  if (f.avx2 && f.fma && f.os_ymm) return SimdLevel::avx2;
#endif
  return SimdLevel::scalar;
}

std::atomic<int>& level_storage() {
  static std::atomic<int> lvl{[] {
    SimdLevel best = simd_max_supported();
    if (const char* env = std::getenv("SCALECORE_SIMD")) {
      try {
        SimdLevel want = simd_level_from_name(env);
        if (static_cast<int>(want) < static_cast<int>(best)) best = want;
      } catch (const ValueError&) {
        // An unknown value is ignored here; the Python layer warns about it.
      }
    }
    return static_cast<int>(best);
  }()};
  return lvl;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

std::vector<std::string> cpu_feature_names() {
  const CpuFeatures& f = cpu_features();
  std::vector<std::string> out;
  auto add = [&](bool on, const char* n) { if (on) out.emplace_back(n); };
  add(f.sse2, "sse2");
  add(f.sse4_2, "sse4_2");
  add(f.avx, "avx");
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.f16c, "f16c");
  add(f.bmi2, "bmi2");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vl, "avx512vl");
  add(f.avx512dq, "avx512dq");
  add(f.avx512cd, "avx512cd");
  add(f.avx512ifma, "avx512ifma");
  add(f.avx512vbmi, "avx512vbmi");
  add(f.avx512vnni, "avx512_vnni");
  add(f.avx512bf16, "avx512_bf16");
  return out;
}

SimdLevel simd_max_supported() {
  static const SimdLevel m = compute_max();
  return m;
}

SimdLevel simd_level() { return static_cast<SimdLevel>(level_storage().load()); }

std::vector<std::string> simd_level_names_supported() {
  std::vector<std::string> v;
  for (int i = 0; i <= static_cast<int>(simd_max_supported()); ++i)
    v.emplace_back(simd_level_name(static_cast<SimdLevel>(i)));
  return v;
}

void set_simd_level(SimdLevel l) {
  if (static_cast<int>(l) > static_cast<int>(simd_max_supported())) {
    std::string have;
    for (const std::string& n : simd_level_names_supported()) have += (have.empty() ? "'" : ", '") + n + "'";
    throw ValueError(std::string("level: '") + simd_level_name(l) +
                     "' is not supported by this CPU or build; this machine has " + have);
  }
  level_storage().store(static_cast<int>(l));
}

SimdLevel simd_level_from_name(const std::string& name) {
  if (name == "scalar") return SimdLevel::scalar;
  if (name == "avx2") return SimdLevel::avx2;
  if (name == "avx512") return SimdLevel::avx512;
  if (name == "auto" || name.empty()) return simd_max_supported();
  throw ValueError("level: expected one of 'scalar', 'avx2', 'avx512', 'auto', got '" + name + "'");
}

const char* simd_level_name(SimdLevel l) {
  switch (l) {
    case SimdLevel::scalar: return "scalar";
    case SimdLevel::avx2: return "avx2";
    case SimdLevel::avx512: return "avx512";
  }
  return "unknown";
}

}  // namespace sc
