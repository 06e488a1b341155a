// libFuzzer entry of one native fuzz target (SC_FUZZ_TARGET, set by CMake);
// built only with SCALECORE_FUZZ=ON (clang), see tools/fuzz_native.sh.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "scalecore/common/errors.h"
#include "scalecore/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    sc::fuzz::fuzz_one(SC_FUZZ_TARGET, data, size);
  } catch (const sc::fuzz::FuzzFailure& e) {
    std::fprintf(stderr, "scalecore fuzz target %s: contract violated: %s\n", SC_FUZZ_TARGET, e.what());
    std::abort();
  } catch (const std::exception& e) {
    // The targets catch the documented errors themselves; anything that
    // escapes (a ValueError from a kernel that should have been caught by
    // validation, std::bad_alloc, ...) is a finding.
    std::fprintf(stderr, "scalecore fuzz target %s: unexpected exception: %s\n", SC_FUZZ_TARGET, e.what());
    std::abort();
  }
  return 0;
}
