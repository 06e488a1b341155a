// AVX-512 spherical-harmonics kernels: 8 (float64) or 16 (float32) vectors
// per pack, the same block kernels as the scalar path (sh_kernels.h).
#include "scalecore/common/simd_avx512.h"
#define SC_SH_SUFFIX avx512
#include "sh_entries.h"
