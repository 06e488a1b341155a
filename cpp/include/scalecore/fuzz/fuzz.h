// Native fuzz targets: the C++ side of issue 14's coverage-guided fuzzing.
//
// Each target turns an arbitrary byte string into a call of one C++ entry
// point that takes user-controlled structure (a law-expression program, a
// tensor-product plan, low-bit codes and packed weights), runs it, and checks
// the documented contract:
//   * the call returns, or throws sc::ValueError / sc::TypeError (the errors
//     the bindings turn into Python's ValueError / TypeError);
//   * what it returns agrees with an independent oracle: a plain evaluator
//     with an error bound (expressions), the reference kernel at every SIMD
//     level this machine has (tensor products, codecs, GEMV), and round trips
//     (encode(decode(c)) == c, unpack(pack(q)) == q).
// A violation throws FuzzFailure.  Memory errors and undefined behaviour are
// left to the sanitizers the fuzzing build links (tools/fuzz_native.sh).
//
// The same function runs in two places: the libFuzzer executables
// (cpp/fuzz/fuzz_main.cc, built with clang by tools/fuzz_native.sh), and the
// normal extension as `_core._fuzz_one(target, data)`, so that
// tests/test_fuzz_corpus.py replays every saved input at every SIMD level.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace sc {
namespace fuzz {

struct FuzzFailure : std::logic_error {
  using std::logic_error::logic_error;
};

// Runs target `name` on one input.  Throws ValueError for an unknown name,
// FuzzFailure when the contract is broken; anything else the target lets
// escape is also a finding.
void fuzz_one(const std::string& name, const uint8_t* data, size_t size);

// The target names.
std::vector<std::string> fuzz_targets();

// The targets (cpp/src/fuzz/fuzz_<family>.cc).
void fuzz_expr(const uint8_t* data, size_t size);
void fuzz_tp_plan(const uint8_t* data, size_t size);
void fuzz_lowbit_codec(const uint8_t* data, size_t size);
void fuzz_lowbit_packed(const uint8_t* data, size_t size);

// Reads typed values from the input; past its end every read gives zeros,
// so any byte string is a valid input.
class Reader {
 public:
  Reader(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  uint8_t u8() { return pos_ < n_ ? d_[pos_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return static_cast<uint32_t>(u16()) | (static_cast<uint32_t>(u16()) << 16); }
  // An integer in [lo, hi].
  int range(int lo, int hi) { return lo + static_cast<int>(u16() % static_cast<unsigned>(hi - lo + 1)); }
  float f32_bits() {
    const uint32_t u = u32();
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  double f64_bits() {
    const uint64_t u = static_cast<uint64_t>(u32()) | (static_cast<uint64_t>(u32()) << 32);
    double f;
    std::memcpy(&f, &u, 8);
    return f;
  }
  // A value in [lo, hi] on a grid of 65536 steps.
  double uniform(double lo, double hi) { return lo + (hi - lo) * (u16() / 65535.0); }
  bool done() const { return pos_ >= n_; }

 private:
  const uint8_t* d_;
  size_t n_, pos_ = 0;
};

// Every SIMD level this build and CPU can run, lowest first; restores the
// level in use when it goes out of scope.
struct LevelSweep {
  LevelSweep();
  ~LevelSweep();
  std::vector<int> levels;
  int saved;
  void set(int level);
};

[[noreturn]] void fail(const std::string& what);

// SCALECORE_FUZZ_VERBOSE set: the targets print what they build (triage).
bool verbose();

}  // namespace fuzz
}  // namespace sc
