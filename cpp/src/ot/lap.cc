// Jonker-Volgenant dense assignment (see lap.h).
#include "lap.h"

#include <limits>

namespace sc {
namespace ot {

double lap_jv(const double* C, int64_t ldc, int n, int32_t* xout, double* uout, double* vout, LapWork& w,
              const OtKernels<double>& K) {
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
  // 4. Shortest augmenting paths for the rows still free.
  int32_t* collist = w.collist.data();
  int32_t* pred = w.pred.data();
  double* d = w.d.data();
  for (int f = 0; f < numfree; ++f) {
    const int freerow = w.freerows[f];
    for (int j = 0; j < n; ++j) {
      d[j] = c(freerow, j) - v[j];
      pred[j] = freerow;
      collist[j] = j;
    }
    // collist[0, low): scanned; [low, up): at the current minimum distance.
    int low = 0, up = 0, endofpath = -1, last = 0;
    double mn = 0;
    while (endofpath < 0) {
      if (up == low) {
        last = low - 1;
        mn = d[collist[up++]];
        for (int k = up; k < n; ++k) {
          const int j = collist[k];
          const double h = d[j];
          if (h <= mn) {
            if (h < mn) {
              up = low;
              mn = h;
            }
            collist[k] = collist[up];
            collist[up++] = j;
          }
        }
        for (int k = low; k < up; ++k)
          if (y[collist[k]] < 0) {
            endofpath = collist[k];
            break;
          }
      }
      if (endofpath >= 0) break;
      const int j1 = collist[low++];
      const int i = y[j1];
      const double u1 = c(i, j1) - v[j1] - mn;
      for (int k = up; k < n; ++k) {
        const int j = collist[k];
        const double h = c(i, j) - v[j] - u1;
        if (h < d[j]) {
          d[j] = h;
          pred[j] = i;
          if (h == mn) {
            if (y[j] < 0) {
              endofpath = j;
              break;
            }
            collist[k] = collist[up];
            collist[up++] = j;
          }
        }
      }
    }
    // Columns scanned before the last minimum move their prices.
    for (int k = 0; k <= last; ++k) {
      const int j1 = collist[k];
      v[j1] += d[j1] - mn;
    }
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
