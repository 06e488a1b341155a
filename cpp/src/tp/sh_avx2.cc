// AVX2 spherical-harmonics kernels: 4 (float64) or 8 (float32) vectors per
// pack, the same block kernels as the scalar path (sh_kernels.h).
#include "scalecore/common/simd_avx2.h"
#define SC_SH_SUFFIX avx2
#include "sh_entries.h"
