// Plain C++ declarations of the OT kernels each implementation provides: the
// reference (ot_ref.cc, plain double loops, the oracle), the generic level
// (ot_generic.cc, no ISA flags) the AVX2 level (ot_avx2.cc) and the AVX-512 level (ot_avx512.cc).  Only raw
// pointers and plain structs cross this boundary; the drivers (cost.cc,
// sinkhorn.cc, emd.cc) pick a table with ot_kernels<S>(impl).
#pragma once
#include <stdint.h>

#include "scalecore/ot/types.h"

namespace sc {
namespace ot {

// Columns per panel of the packed y of the cost micro-kernel.
constexpr int kPanel = 16;

// Inputs of a cost block: C_ij = metric(x_i, y_j)^p [+ table[lx_i * ldt + ly_j]].
// x is n x d row-major; ypack holds y in panels of kPanel columns, panel q at
// ypack + q * d * kPanel laid out [k][lane] (pack_y builds it; the last panel
// is zero-padded).  nx2, ny2 are the squared norms; ny2 is zero-padded to
// ceil(m / kPanel) * kPanel entries.
template <class S>
struct CostArgs {
  const S* x = nullptr;
  const S* ypack = nullptr;
  const S* nx2 = nullptr;
  const S* ny2 = nullptr;
  int64_t n = 0, m = 0, d = 0;
  int metric = SC_OT_SQEUCLIDEAN;
  double p = 1.0;
  // Optional label-augmented cost (OTDD): lx (n), ly (m), table rows of ldt.
  const int32_t* lx = nullptr;
  const int32_t* ly = nullptr;
  const double* table = nullptr;
  int64_t ldt = 0;
};

// A table of one implementation's kernels.  A plain aggregate with no
// default member initialisers, so each TU's table is constant-initialised
// and no inline constructor compiled with AVX2 can be shared across TUs.
template <class S>
struct OtKernels {
  const char* name;
  // Rows [i0, i1) of the cost into out (row stride ldo; all m columns).
  void (*cost_rows)(const CostArgs<S>& a, int64_t i0, int64_t i1, S* out, int64_t ldo);
  // max_j (g_j - c_j) * inv_eps.
  double (*row_max)(const S* c, const S* g, double inv_eps, int64_t m);
  // e_j = exp((g_j - c_j) * inv_eps - shift); returns sum_j e_j (double accumulation).
  double (*row_expsum)(const S* c, const S* g, double inv_eps, double shift, int64_t m, S* e);
  // As row_expsum with the exponential in float (arguments in the data's
  // precision): for the float32-kernel mode, where the stored kernel is
  // rounded to float anyway.  The sum still accumulates in double.
  double (*row_expsum_f32exp)(const S* c, const S* g, double inv_eps, double shift, int64_t m, S* e);
  // acc_j += w * e_j.
  void (*col_axpy)(const S* e, double w, int64_t m, double* acc);
  // k_j = w * e_j rounded to the kernel type (values below the type's
  // smallest normal are flushed to 0); acc_j += k_j (the stored value).
  void (*col_store_f32)(const S* e, double w, int64_t m, double* acc, float* k);
  void (*col_store_f64)(const S* e, double w, int64_t m, double* acc, double* k);
  // sum_j k_j v_j and acc_j += u * k_j over a stored kernel row.
  double (*krow_dot_f32)(const float* k, const double* v, int64_t m);
  double (*krow_dot_f64)(const double* k, const double* v, int64_t m);
  void (*krow_axpy_f32)(const float* k, double u, int64_t m, double* acc);
  void (*krow_axpy_f64)(const double* k, double u, int64_t m, double* acc);
  // out[r] = sum_j k[r * ldk + j] v_j for 4 consecutive rows (v loaded once).
  void (*krow_dot4_f32)(const float* k, int64_t ldk, const double* v, int64_t m, double* out);
  void (*krow_dot4_f64)(const double* k, int64_t ldk, const double* v, int64_t m, double* out);
  // acc_j += sum_r u[r] * k[r * ldk + j] over 4 consecutive rows (one load
  // and store of acc per 4 rows: no store-to-load chain on small problems).
  void (*krow_axpy4_f32)(const float* k, int64_t ldk, const double* u, int64_t m, double* acc);
  void (*krow_axpy4_f64)(const double* k, int64_t ldk, const double* u, int64_t m, double* acc);
  // The exact pass of one row, in double: P_j = exp((fi + g_j - c_j) * inv_eps);
  // acc_col_j += P_j; out3 += {sum P, sum P c, sum P x} with x the exponent;
  // plan_j = P_j when plan != nullptr.
  void (*final_row)(const S* c, double fi, const double* g, double inv_eps, int64_t m, double* acc_col,
                    S* plan, double* out3);
  // colmax_j = max(colmax_j, fi - c_j).
  void (*col_max)(const S* c, double fi, int64_t m, double* colmax);
  // acc_j += exp((fi - c_j - colmax_j) * inv_eps).
  void (*col_sumexp)(const S* c, double fi, const double* colmax, double inv_eps, int64_t m,
                     double* acc);
  // The same with the exponential in float (float32-kernel mode).
  void (*col_sumexp_f32exp)(const S* c, double fi, const double* colmax, double inv_eps, int64_t m,
                            double* acc);
  // out_k += sum_j P_j y_jk for a row P (m) and y (m x d): the barycentric map.
  void (*row_bary)(const S* p, const S* y, int64_t m, int64_t d, double* out);
  // The scaling update of one side on a stored kernel, over-relaxed by w
  // (Thibault et al. 2017, multiplicative form), where a_i > 0:
  //   w == 1:  u_i <- a_i / k_i  (the plain Sinkhorn update);
  //   else:    t = a_i / (k_i u_i),  u_i <- u_i P_w(t), with P_w(t) =
  //            E(w L(t - 1)) for |t - 1| <= 1/4, L and E the degree-6 Taylor
  //            polynomials of log1p and exp (P_w(1) = 1 exactly, so the fixed
  //            point u = a / k is the plain update's), exp(w log t) beyond;
  // u_i = 0 where a_i = 0.  k_i are the sums K v (or K^T u).  If some k_i
  // with a_i > 0 is not in (1e-300, +inf), nothing is updated: *flags |= 2
  // (and |= 4 if one is NaN).  *flags |= 1 when a new u_i (a_i > 0) lies
  // outside [lo, hi] (absorption is due).  Returns sum (u_i k_i - a_i)^2
  // over a_i > 0 with the new u (the side's marginal error), 0 if not updated.
  double (*scale_update)(const double* a, const double* k, double* u, int64_t n, double w, double lo, double hi,
                         int* flags);
  // Assignment (Jonker-Volgenant) helpers over h_j = c_j - v_j (v may be
  // nullptr: h = c).  row_min2: the first index j1 of the minimum u1 and the
  // first index j2 != j1 of the minimum u2 over the others (u2 = +inf, j2 =
  // -1 when n = 1).  col_min: colmin_j = c_j and colarg_j = row where
  // c_j < colmin_j (strictly: the first row keeps ties).
  void (*row_min2)(const double* c, const double* v, int64_t n, double* u1, int64_t* j1, double* u2, int64_t* j2);
  void (*col_min)(const double* c, int64_t n, double row, double* colmin, double* colarg);
  // One step of the shortest augmenting path (dense Dijkstra): for the
  // columns j with mask_j == 0 (not yet scanned; +inf: scanned), h = (c_j -
  // v_j) - u1 and, where h < d_j, d_j = h and pred_j = row.  Returns the
  // minimum of d_j + mask_j after the update and *arg the first index
  // attaining it (-1 when every column is scanned).
  double (*lap_relax)(const double* c, const double* v, double u1, int64_t n, const double* mask, double* d,
                      int32_t* pred, int32_t row, int64_t* arg);
  // True when all n x m entries (rows of ldc) are finite; *absmax = max |C|.
  bool (*finite_absmax)(const S* C, int64_t ldc, int64_t n, int64_t m, double* absmax);
  // ---- Network simplex (network_simplex.cc); the reduced cost of arc
  // (i, j) is r_ij = (C_ij - pj_j) + pi_i, evaluated in that order. ----
  // Over rows [i0, i0 + nrows) of C (row stride ldc, m columns): the minimum
  // of r_ij, and *arg = i * m + j of the first arc in row-major order
  // attaining it (-1 when no r_ij is below +inf: nrows = 0, or every column
  // masked by pj_j = -inf).  Every level returns the same arc.
  double (*emd_price_rows)(const double* C, int64_t ldc, int64_t m, const double* pi, const double* pj,
                           int64_t i0, int64_t nrows, int64_t* arg);
  // The same in float (the candidate search; the caller re-prices in double).
  float (*emd_price_rows_f32)(const float* C, int64_t ldc, int64_t m, const float* pi, const float* pj,
                              int64_t i0, int64_t nrows, int64_t* arg);
  // Cf[i * ldf + j] = float(C[i * ldc + j]) for an n x m block.
  void (*emd_to_f32)(const double* C, int64_t ldc, int64_t n, int64_t m, float* Cf, int64_t ldf);
  // Vogel start on the total opportunity cost T_ij = (C_ij - rmin_i) +
  // (C_ij - cmin_j) (row and column minima into rmin, cmin), rounded to
  // float, as sortable keys: the float's bits with the low ib bits replaced
  // by the index along the line, KT (n x m, | j) and KTT (m x n, | i).
  // T >= 0, so unsigned key order is value order with ties to the lower index.
  void (*emd_toc_keys)(const double* C, int64_t ldc, int64_t n, int64_t m, int ib, double* rmin,
                       double* cmin, uint32_t* KT, uint32_t* KTT);
  // The two smallest of key_j | mask_j (mask 0: active, ~0u: removed) over
  // len entries; ~0u where there are fewer than one / two active.
  void (*emd_two_min)(const uint32_t* key, const uint32_t* mask, int64_t len, uint32_t* k1, uint32_t* k2);
  // The first index of the maximum of p (len >= 1; no NaN).
  int64_t (*emd_argmax)(const float* p, int64_t len);
  // bits (ceil(len / 64) words, overwritten): bit q set iff l1_q == t or
  // l2_q == t.
  void (*emd_match2)(const int32_t* l1, const int32_t* l2, int64_t len, int32_t t, uint64_t* bits);
  // pi_v += sigma where bit v of bits is set (v < len); then, when pf is not
  // nullptr, pf_v = float(pi_v) for every v < len.
  void (*emd_masked_add)(double* pi, float* pf, const uint64_t* bits, int64_t len, double sigma);
};

// impl: 0 = the level sc::simd_level() says, 1 = the reference (tests).
template <class S>
const OtKernels<S>& ot_kernels(int impl);

template <class S>
const OtKernels<S>& ot_kernels_ref();
template <class S>
const OtKernels<S>& ot_kernels_generic();
#if defined(SC_HAVE_AVX2_KERNELS)
template <class S>
const OtKernels<S>& ot_kernels_avx2();
#endif
#if defined(SC_HAVE_AVX512_KERNELS)
template <class S>
const OtKernels<S>& ot_kernels_avx512();
#endif

// Packs y (m x d) into panels for CostArgs::ypack; out has
// ceil(m / kPanel) * kPanel * d elements.
template <class S>
void pack_y(const S* y, int64_t m, int64_t d, S* out);

}  // namespace ot
}  // namespace sc
