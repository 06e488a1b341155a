// AVX-512 spherical-harmonics kernels: 8 (float64) or 16 (float32) vectors per
// pack, the same block kernels as the scalar path (sh_kernels.h).
#include "scalecore/common/simd_avx512.h"
#include "sh_kernels.h"

namespace sc {
namespace tp {
namespace detail {
namespace {
template <class S>
struct Pack;
template <>
struct Pack<double> {
  using type = F64x8;
};
template <>
struct Pack<float> {
  using type = F32x16;
};
}  // namespace

template <class S>
void sh_forward_avx512(const ShArgs& a, const ShCoeffs& c, const S* vec, S* out, int64_t begin, int64_t end) {
  using P = typename Pack<S>::type;
  sh_for_blocks<lanes_of<P>::value>(begin, end, [&](int64_t i, int cnt) { sh_block_forward<P>(a, c, vec, out, i, cnt); });
}
template <class S>
void sh_backward_avx512(const ShArgs& a, const ShCoeffs& c, const S* vec, const S* gout, S* gvec, int64_t begin,
                      int64_t end) {
  using P = typename Pack<S>::type;
  sh_for_blocks<lanes_of<P>::value>(begin, end,
                                    [&](int64_t i, int cnt) { sh_block_backward<P>(a, c, vec, gout, gvec, i, cnt); });
}
template <class S>
void sh_double_backward_avx512(const ShArgs& a, const ShCoeffs& c, const S* vec, const S* gout, const S* ggvec,
                             S* ggout, S* gvec2, int64_t begin, int64_t end) {
  using P = typename Pack<S>::type;
  sh_for_blocks<lanes_of<P>::value>(begin, end, [&](int64_t i, int cnt) {
    sh_block_double_backward<P>(a, c, vec, gout, ggvec, ggout, gvec2, i, cnt);
  });
}

#define SC_SH_INST(S)                                                                                           \
  template void sh_forward_avx512<S>(const ShArgs&, const ShCoeffs&, const S*, S*, int64_t, int64_t);          \
  template void sh_backward_avx512<S>(const ShArgs&, const ShCoeffs&, const S*, const S*, S*, int64_t, int64_t); \
  template void sh_double_backward_avx512<S>(const ShArgs&, const ShCoeffs&, const S*, const S*, const S*, S*, S*, \
                                           int64_t, int64_t);
SC_SH_INST(float)
SC_SH_INST(double)
#undef SC_SH_INST

}  // namespace detail
}  // namespace tp
}  // namespace sc
