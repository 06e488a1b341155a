// The SIMD entry points of the spherical harmonics, written once: the ISA
// file (sh_avx2.cc, sh_avx512.cc) includes its pack header (which defines
// pack_of<S>), defines SC_SH_SUFFIX (avx2 / avx512) and includes this file.
// The bodies run sh_kernels.h's block kernels over that ISA's packs, one
// vector per lane.
#include "sh_kernels.h"

#define SC_SH_CAT2(a, b) a##_##b
#define SC_SH_CAT(a, b) SC_SH_CAT2(a, b)
#define SC_SH_NAME(f) SC_SH_CAT(f, SC_SH_SUFFIX)

namespace sc {
namespace tp {
namespace detail {

template <class S>
void SC_SH_NAME(sh_forward)(const ShArgs& a, const ShCoeffs& c, const S* vec, S* out, int64_t begin, int64_t end) {
  using P = typename pack_of<S>::type;
  sh_for_blocks<lanes_of<P>::value>(begin, end, [&](int64_t i, int cnt) { sh_block_forward<P>(a, c, vec, out, i, cnt); });
}
template <class S>
void SC_SH_NAME(sh_backward)(const ShArgs& a, const ShCoeffs& c, const S* vec, const S* gout, S* gvec, int64_t begin,
                             int64_t end) {
  using P = typename pack_of<S>::type;
  sh_for_blocks<lanes_of<P>::value>(begin, end,
                                    [&](int64_t i, int cnt) { sh_block_backward<P>(a, c, vec, gout, gvec, i, cnt); });
}
template <class S>
void SC_SH_NAME(sh_double_backward)(const ShArgs& a, const ShCoeffs& c, const S* vec, const S* gout, const S* ggvec,
                                    S* ggout, S* gvec2, int64_t begin, int64_t end) {
  using P = typename pack_of<S>::type;
  sh_for_blocks<lanes_of<P>::value>(begin, end, [&](int64_t i, int cnt) {
    sh_block_double_backward<P>(a, c, vec, gout, ggvec, ggout, gvec2, i, cnt);
  });
}

#define SC_SH_INST(S)                                                                                             \
  template void SC_SH_NAME(sh_forward)<S>(const ShArgs&, const ShCoeffs&, const S*, S*, int64_t, int64_t);       \
  template void SC_SH_NAME(sh_backward)<S>(const ShArgs&, const ShCoeffs&, const S*, const S*, S*, int64_t,      \
                                           int64_t);                                                              \
  template void SC_SH_NAME(sh_double_backward)<S>(const ShArgs&, const ShCoeffs&, const S*, const S*, const S*, \
                                                  S*, S*, int64_t, int64_t);
SC_SH_INST(float)
SC_SH_INST(double)
#undef SC_SH_INST

}  // namespace detail
}  // namespace tp
}  // namespace sc

#undef SC_SH_NAME
#undef SC_SH_CAT
#undef SC_SH_CAT2
