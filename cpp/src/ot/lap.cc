// Jonker-Volgenant dense assignment (see lap.h).
#include "lap.h"

#include <limits>

namespace sc {
namespace ot {

double lap_jv(const double* C, int64_t ldc, int n, int32_t* xout, double* uout, double* vout, LapWork& w,
              const OtKernels<double>& K, Prefetch* prefetch) {
  Prefetch none;
  Prefetch& pf = prefetch ? *prefetch : none;
  const double inf = std::numeric_limits<double>::infinity();
  w.x.assign(n, -1);
  w.y.assign(n, -1);
  w.v.assign(n, 0.0);
  w.matches.assign(n, 0);
  w.freerows.resize(n);
  w.collist.resize(n);
  w.pred.resize(n);
  w.d.resize(n);
  int32_t* x = w.x.data();
  int32_t* y = w.y.data();
  double* v = w.v.data();
  int32_t* matches = w.matches.data();
  auto c = [&](int i, int j) { return C[i * ldc + j]; };

  // 1. Column reduction: v_j = min_i C_ij; a row that is the minimum of
  //    exactly one column keeps it.
  w.colarg.assign(n, -1.0);
  for (int j = 0; j < n; ++j) v[j] = inf;
  for (int i = 0; i < n; ++i) K.col_min(C + i * ldc, n, double(i), v, w.colarg.data());
  for (int j = n - 1; j >= 0; --j) {
    const int imin = static_cast<int>(w.colarg[j]);
    if (++matches[imin] == 1) {
      x[imin] = j;
      y[j] = imin;
    } else if (v[j] < v[x[imin]]) {
      const int j1 = x[imin];
      x[imin] = j;
      y[j] = imin;
      y[j1] = -1;
    } else {
      y[j] = -1;
    }
  }
  // 2. Reduction transfer: a row assigned by a unique minimum passes on
  //    the slack to its column; rows that are no column's minimum are free.
  int numfree = 0;
  for (int i = 0; i < n; ++i) {
    if (matches[i] == 0) {
      w.freerows[numfree++] = i;
    } else if (matches[i] == 1) {
      const int j1 = x[i];
      double u1, u2;
      int64_t a1, a2;
      K.row_min2(C + i * ldc, v, n, &u1, &a1, &u2, &a2);
      const double mn = a1 == j1 ? u2 : u1;  // min over j != j1
      if (mn < inf) v[j1] -= mn;
    }
  }
  // 3. Augmenting row reduction, twice.
  for (int loop = 0; loop < 2 && numfree > 0; ++loop) {
    int k = 0;
    const int prv = numfree;
    numfree = 0;
    // Each re-queue lowers a price strictly; the budget only guards against
    // decrements lost to rounding (then the row waits for phase 4).
    int64_t budget = 2 * int64_t(n) + 16;
    while (k < prv) {
      const int i = w.freerows[k++];
      if (budget <= 0) {  // out of budget: phase 4 assigns the rest
        w.freerows[numfree++] = i;
        continue;
      }
      pf.step(2);
      // Lowest and second lowest reduced cost of row i.
      double u1, u2;
      int64_t a1, a2;
      K.row_min2(C + i * ldc, v, n, &u1, &a1, &u2, &a2);
      int j1 = static_cast<int>(a1), j2 = static_cast<int>(a2);
      int i0 = y[j1];
      --budget;
      const bool strict = u1 < u2 && v[j1] - (u2 - u1) < v[j1];
      if (strict) {
        v[j1] -= u2 - u1;
      } else if (i0 >= 0 && j2 >= 0) {
        j1 = j2;
        i0 = y[j2];
      }
      x[i] = j1;
      y[j1] = i;
      if (i0 >= 0) {
        x[i0] = -1;
        if (strict) w.freerows[--k] = i0;
        else w.freerows[numfree++] = i0;
      }
    }
  }
  // 4. Shortest augmenting paths for the rows still free: Dijkstra on the
  //    reduced costs with dense arrays -- each step scans the nearest
  //    unscanned column (the first index at the minimum distance); the path
  //    ends at the first free column reached.  The columns scanned before it
  //    move their prices by d_j - d_end, keeping u_i + v_j <= C_ij.
  int32_t* pred = w.pred.data();
  int32_t* scanned = w.collist.data();
  double* d = w.d.data();
  w.mask.resize(n);
  double* mask = w.mask.data();
  for (int f = 0; f < numfree; ++f) {
    const int freerow = w.freerows[f];
    for (int j = 0; j < n; ++j) {
      d[j] = inf;
      mask[j] = 0;
    }
    int64_t jmin = -1;
    double mn = K.lap_relax(C + freerow * ldc, v, 0.0, n, mask, d, pred, freerow, &jmin);
    int ns = 0;
    while (y[jmin] >= 0) {
      const int j1 = static_cast<int>(jmin);
      mask[j1] = inf;
      scanned[ns++] = j1;
      const int i = y[j1];
      const double u1 = c(i, j1) - v[j1] - mn;
      mn = K.lap_relax(C + i * ldc, v, u1, n, mask, d, pred, i, &jmin);
      pf.step(2);
    }
    const int endofpath = static_cast<int>(jmin);
    for (int k = 0; k < ns; ++k) v[scanned[k]] += d[scanned[k]] - mn;
    // Augment along the path back to the free row.
    int j = endofpath;
    for (;;) {
      const int i = pred[j];
      y[j] = i;
      const int jn = x[i];
      x[i] = j;
      if (i == freerow) break;
      j = jn;
    }
  }
  double cost = 0;
  for (int i = 0; i < n; ++i) {
    xout[i] = x[i];
    uout[i] = c(i, x[i]) - v[x[i]];
    cost += c(i, x[i]);
  }
  for (int j = 0; j < n; ++j) vout[j] = v[j];
  return cost;
}

}  // namespace ot
}  // namespace sc
