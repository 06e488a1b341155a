// The vocabulary product_kernels.h needs (VT<V>::L, vsplat, vload, vstore,
// vfma, vhsum), over the packs of the including ISA file's simd_*.h header
// (F64x4 / F32x8 or F64x8 / F32x16).  Included inside that file's anonymous
// namespace in SC_FAMILY_NS_BEGIN(tp); the generic file has its own, scalar,
// versions.
#pragma once

template <class V>
struct VT {
  static constexpr int L = lanes_of<V>::value;
};
template <class V, class S>
inline V vsplat(S s) {
  return V(s);
}
template <class V, class S>
inline V vload(const S* p) {
  return V::load(p);
}
template <class V, class S>
inline void vstore(S* p, V v) {
  v.store(p);
}
template <class V>
inline V vfma(V a, V b, V c) {
  return fmadd(a, b, c);
}
template <class V>
inline auto vhsum(V v) {
  return hsum(v);
}
