// Pieces the two AVX-512 GEMM/GEMV files share (gemm_avx512.cc,
// gemm_tile_avx512.cc): include only from *_avx512.cc translation units.
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace sc {
namespace lowbit {
namespace {

// A 64-byte aligned scratch buffer (no std containers in this ISA's TU).
struct Buf {
  void* p = nullptr;
  size_t n = 0;
  ~Buf() { std::free(p); }
  template <class T>
  T* get(size_t count) {
    const size_t bytes = (count * sizeof(T) + 63) & ~size_t(63);
    if (bytes > n) {
      std::free(p);
      p = std::aligned_alloc(64, bytes);
      if (!p) throw std::bad_alloc();
      n = bytes;
    }
    return static_cast<T*>(p);
  }
};

// Products rounded on their own (never contracted into an FMA with the next add).
inline float mul_rn(float a, float b) {
  float p = a * b;
  asm("" : "+v"(p));
  return p;
}
inline __m512 mul_rn(__m512 a, __m512 b) {
  __m512 p = _mm512_mul_ps(a, b);
  asm("" : "+v"(p));
  return p;
}

}  // namespace
}  // namespace lowbit
}  // namespace sc
