// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy
// as 1, 2, 3", SC'11), the counter-based generator of stochastic rounding.
//
// A pure function of (key, counter): no state, so the random bits of element
// i depend only on (seed, i) and a result is the same whatever the thread
// count, the chunking or the device.  Contract of the lowbit family:
//   key     = (low, high) 32 bits of the 64-bit seed;
//   counter = (i / 4 low, i / 4 high, stream, 0) for element index i (the
//             element's position in the C-order flattening of the input);
//   element i uses word i % 4 of that block.
// `stream` separates independent uses of one seed (0: element rounding).
// Constants are those of the paper (and of Random123 / cuRAND's Philox4_32_10).
#pragma once
#include <stdint.h>

#include "scalecore/common/hd.h"

SC_FAMILY_NS_BEGIN(lowbit)

struct Philox4 {
  uint32_t v[4];
};

SC_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  *lo = static_cast<uint32_t>(p);
}

// Ten rounds of Philox4x32 on counter c with key (k0, k1).
SC_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(M0, c0, &hi0, &lo0);
    philox_mulhilo(M1, c2, &hi1, &lo1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += W0;
    k1 += W1;
  }
  Philox4 out;
  out.v[0] = c0;
  out.v[1] = c1;
  out.v[2] = c2;
  out.v[3] = c3;
  return out;
}

// The 32 random bits of element i under `seed` and `stream`.
SC_HD uint32_t philox_bits(uint64_t seed, uint64_t i, uint32_t stream) {
  const uint64_t blk = i >> 2;
  const Philox4 r = philox4x32_10(static_cast<uint32_t>(blk), static_cast<uint32_t>(blk >> 32), stream, 0u,
                                  static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return r.v[i & 3];
}

SC_FAMILY_NS_END
