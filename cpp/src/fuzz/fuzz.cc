// The registry of native fuzz targets (see scalecore/fuzz/fuzz.h).
#include "scalecore/fuzz/fuzz.h"

#include <cstdlib>

#include "scalecore/common/dispatch.h"
#include "scalecore/common/errors.h"

namespace sc {
namespace fuzz {

namespace {
struct Target {
  const char* name;
  void (*run)(const uint8_t*, size_t);
};
const Target kTargets[] = {
    {"expr", fuzz_expr},
    {"tp_plan", fuzz_tp_plan},
    {"lowbit_codec", fuzz_lowbit_codec},
    {"lowbit_packed", fuzz_lowbit_packed},
};
}  // namespace

void fuzz_one(const std::string& name, const uint8_t* data, size_t size) {
  for (const Target& t : kTargets)
    if (name == t.name) return t.run(data, size);
  std::string known;
  for (const Target& t : kTargets) known += std::string(known.empty() ? "" : ", ") + t.name;
  throw ValueError("target: unknown fuzz target '" + name + "'; expected one of " + known);
}

std::vector<std::string> fuzz_targets() {
  std::vector<std::string> out;
  for (const Target& t : kTargets) out.emplace_back(t.name);
  return out;
}

LevelSweep::LevelSweep() : saved(static_cast<int>(simd_level())) {
  for (int l = 0; l <= static_cast<int>(simd_max_supported()); ++l) levels.push_back(l);
}
LevelSweep::~LevelSweep() { set_simd_level(static_cast<SimdLevel>(saved)); }
void LevelSweep::set(int level) { set_simd_level(static_cast<SimdLevel>(level)); }

void fail(const std::string& what) { throw FuzzFailure(what); }

bool verbose() {
  static const bool on = std::getenv("SCALECORE_FUZZ_VERBOSE") != nullptr;
  return on;
}

}  // namespace fuzz
}  // namespace sc
