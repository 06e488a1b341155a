// Randomized fast Walsh-Hadamard transform (RHT) of the lowbit family.
//
//   forward:  y = (1/sqrt(n)) H diag(s) x      inverse: x = diag(s) (1/sqrt(n)) H y
// per contiguous block of n = 2^k floats (16 <= n <= 4096), H the Sylvester
// Hadamard matrix (scipy.linalg.hadamard), s = +-1 signs: s_j = -1 where bit
// 0 of philox_bits(seed, j, stream 1) is set (the same signs for every block;
// no signs when has_seed is false).  (1/sqrt(n)) H is symmetric and
// orthogonal, so the inverse undoes the forward transform up to rounding.
// Used before quantization to spread outliers over a block (Tseng et al.,
// arXiv 2502.20586; arXiv 2509.17791).
#pragma once
#include <stdint.h>

namespace sc {
namespace lowbit {

// In place over nblocks * n floats.  Throws ValueError unless n is a power
// of two in [16, 4096].
void lowbit_hadamard(float* x, int64_t nblocks, int64_t n, uint64_t seed, bool has_seed, bool inverse, int impl);
// The n signs (+-1.0f) of `seed`.
void lowbit_hadamard_signs(int64_t n, uint64_t seed, float* signs);

}  // namespace lowbit
}  // namespace sc
