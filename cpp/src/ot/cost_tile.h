// The cost-matrix micro-kernel, written once over the including ISA file's
// packs (pack_of<S> from its simd_*.h): R rows x one panel of kPanel columns,
// accumulators in registers, the metric applied on the way out.  Column
// blocks of kColBlock keep the panels in L2 while a row block passes.
//
// The including file (ot_avx2.cc, ot_avx512.cc) defines, before including it
// inside its anonymous namespace:
//   void store_tail(T c, S* p, int n)  the first n < W lanes of c to p
//   struct CostBlocks { R, R2 }        the row block and a smaller one (0: none)
#pragma once

constexpr int64_t kColBlock = 256;

template <class S, int R>
inline void cost_tile(const CostArgs<S>& a, int64_t i, int64_t q, S* out, int64_t ldo) {
  using T = typename pack_of<S>::type;
  constexpr int W = lanes_of<T>::value;
  constexpr int V = kPanel / W;
  T acc[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) acc[r][v] = T(S(0));
  const S* panel = a.ypack + q * a.d * kPanel;
  const S* xr[R];
  for (int r = 0; r < R; ++r) xr[r] = a.x + (i + r) * a.d;
  for (int64_t k = 0; k < a.d; ++k) {
    T pv[V];
    for (int v = 0; v < V; ++v) pv[v] = T::load(panel + k * kPanel + v * W);
    for (int r = 0; r < R; ++r) {
      const T xb(xr[r][k]);
      for (int v = 0; v < V; ++v) acc[r][v] = fmadd(xb, pv[v], acc[r][v]);
    }
  }
  const int64_t j0 = q * kPanel;
  for (int r = 0; r < R; ++r) {
    const T nx(a.nx2[i + r]);
    S* o = out + r * ldo;
    for (int v = 0; v < V; ++v) {
      const int64_t j = j0 + v * W;
      if (j >= a.m) break;
      const T ny = T::load(a.ny2 + j);  // ny2 is padded to whole panels
      const T c = metric_power(metric_from_dot<T>(a.metric, acc[r][v], nx, ny), a.p);
      if (j + W <= a.m) c.store(o + j);
      else store_tail(c, o + j, static_cast<int>(a.m - j));
    }
  }
}

template <class S>
void cost_rows(const CostArgs<S>& a, int64_t i0, int64_t i1, S* out, int64_t ldo) {
  constexpr int R = CostBlocks<S>::R, R2 = CostBlocks<S>::R2;
  const int64_t np = (a.m + kPanel - 1) / kPanel;
  const int64_t pb = kColBlock / kPanel;
  for (int64_t q0 = 0; q0 < np; q0 += pb) {
    const int64_t q1 = q0 + pb < np ? q0 + pb : np;
    int64_t i = i0;
    for (; i + R <= i1; i += R)
      for (int64_t q = q0; q < q1; ++q) cost_tile<S, R>(a, i, q, out + (i - i0) * ldo, ldo);
    if constexpr (R2 > 1)
      for (; i + R2 <= i1; i += R2)
        for (int64_t q = q0; q < q1; ++q) cost_tile<S, R2>(a, i, q, out + (i - i0) * ldo, ldo);
    for (; i < i1; ++i)
      for (int64_t q = q0; q < q1; ++q) cost_tile<S, 1>(a, i, q, out + (i - i0) * ldo, ldo);
  }
  if (a.table) {
    for (int64_t i = i0; i < i1; ++i) {
      S* o = out + (i - i0) * ldo;
      const double* trow = a.table + a.lx[i] * a.ldt;
      for (int64_t j = 0; j < a.m; ++j) o[j] = static_cast<S>(o[j] + trow[a.ly[j]]);
    }
  }
}
