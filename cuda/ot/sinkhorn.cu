// CUDA kernels of the OT family: batched and tiled log-domain Sinkhorn.
// The per-element math is the CPU engine's (sinkhorn_math.h, cost_math.h,
// compiled here as __host__ __device__ through SC_HD).
#include <cuda_runtime.h>
#include <math.h>

#include <vector>

#include "common/device.h"
#include "ot/sinkhorn_cuda.h"
#include "scalecore/common/errors.h"
#include "scalecore/ot/cost_math.h"
#include "scalecore/ot/sinkhorn_math.h"

namespace sc {
namespace ot {
namespace cuda {

namespace {

constexpr int kThreads = 256;

// Block-wide sum of v (every thread gets the result).
__device__ double block_sum(double v, double* shm) {
  shm[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) shm[threadIdx.x] += shm[threadIdx.x + s];
    __syncthreads();
  }
  const double r = shm[0];
  __syncthreads();
  return r;
}

// log sum_j exp(s_j) over j = 0..len-1 with s_j = (pot_j - c_j) / eps, as a
// (max, sum) pair merged online (lse_merge) so nothing overflows.
template <class S>
__device__ void row_lse(const S* c, int64_t stride, const double* pot, int64_t len, double inv_eps, double* mx,
                        double* sum) {
  double m1 = -INFINITY, s1 = 0;
  for (int64_t j = 0; j < len; ++j) {
    const double v = (pot[j] - double(c[j * stride])) * inv_eps;
    if (!(v > -INFINITY)) continue;
    sc::ot::lse_merge(m1, s1, v, 1.0);
  }
  *mx = m1;
  *sum = s1;
}

// One problem per block: f, g live in global memory (B x n, B x m).
template <class S>
__global__ void batch_kernel(const S* C, const double* a, const double* b, const double* eps, int64_t n, int64_t m,
                             double tol, int max_iter, int check_every, double* f, double* g, double* gs,
                             double* err_out, int32_t* it_out, int8_t* st_out) {
  __shared__ double shm[kThreads];
  const int64_t pb = blockIdx.x;
  const S* Cb = C + pb * n * m;
  const double* ab = a + pb * n;
  const double* bb = b + pb * m;
  double* fb = f + pb * n;
  double* gb = g + pb * m;
  double* gsb = gs + pb * m;
  const double e = eps[pb], ie = 1.0 / e;
  // Cold start as POT: the columns' update from f = 0.
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) fb[i] = 0;
  __syncthreads();
  for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
    double mx, sm;
    row_lse(Cb + j, m, fb, n, ie, &mx, &sm);
    gb[j] = sc::ot::sinkhorn_potential(log(bb[j]), mx, sm, e, 1.0, 0.0);
  }
  __syncthreads();
  int it = 0;
  double err = INFINITY;
  int8_t status = 2;
  while (it < max_iter) {
    const bool test = (it % check_every) == 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      double mx, sm;
      row_lse(Cb + i * m, 1, gb, m, ie, &mx, &sm);
      fb[i] = sc::ot::sinkhorn_potential(log(ab[i]), mx, sm, e, 1.0, 0.0);
    }
    __syncthreads();
    ++it;
    // One column pass: the marginal of P(f_new, g_old) (for the test) and
    // the updated g (into gs, applied unless the test passes).
    double local = 0;
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
      double mx, sm;
      row_lse(Cb + j, m, fb, n, ie, &mx, &sm);
      const double L = mx + log(sm);          // log sum_i exp((f_i - C_ij)/eps)
      const double cm = exp(gb[j] * ie + L);  // column marginal of P(f_new, g_old)
      local += (cm - bb[j]) * (cm - bb[j]);
      gsb[j] = e * (log(bb[j]) - L);
    }
    err = sqrt(block_sum(local, shm));
    if (!(err == err)) {
      status = 3;
      break;
    }
    if (test && err < tol) {
      status = 1;
      break;
    }
    if (it >= max_iter) break;  // POT's last iterate: after its row update
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) gb[j] = gsb[j];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    err_out[pb] = err;
    it_out[pb] = it > 0 ? it - 1 : 0;  // POT's niter
    st_out[pb] = status;
  }
}

// <P, C> per problem.
template <class S>
__global__ void cost_kernel(const S* C, const double* eps, int64_t n, int64_t m, const double* f, const double* g,
                            double* cost) {
  __shared__ double shm[kThreads];
  const int64_t pb = blockIdx.x;
  const S* Cb = C + pb * n * m;
  const double ie = 1.0 / eps[pb];
  double local = 0;
  for (int64_t k = threadIdx.x; k < n * m; k += blockDim.x) {
    const int64_t i = k / m, j = k % m;
    const double c = double(Cb[k]);
    local += exp((f[pb * n + i] + g[pb * m + j] - c) * ie) * c;
  }
  const double s = block_sum(local, shm);
  if (threadIdx.x == 0) cost[pb] = s;
}

// ---- tiled: costs from points -------------------------------------------
__device__ double point_cost(const float* x, const float* y, int64_t d, int metric, double p) {
  double dot = 0, nx = 0, ny = 0;
  for (int64_t k = 0; k < d; ++k) {
    const double u = x[k], v = y[k];
    dot += u * v;
    nx += u * u;
    ny += v * v;
  }
  return sc::ot::metric_power(sc::ot::metric_from_dot<double>(metric, dot, nx, ny), p);
}

// Row update: one thread per row i, online LSE over all columns.
__global__ void tiled_rows(const float* x, const float* y, int64_t n, int64_t m, int64_t d, int metric, double p,
                           const double* a, const double* g, double eps, double* f) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const double ie = 1.0 / eps;
  double m1 = -INFINITY, s1 = 0;
  for (int64_t j = 0; j < m; ++j) {
    const double v = (g[j] - point_cost(x + i * d, y + j * d, d, metric, p)) * ie;
    sc::ot::lse_merge(m1, s1, v, 1.0);
  }
  f[i] = sc::ot::sinkhorn_potential(log(a[i]), m1, s1, eps, 1.0, 0.0);
}

// Column pass: one thread per column j; LSE over rows of (f_i - C_ij)/eps.
// With update = false it adds (marginal - b_j)^2 into *err2; with true it
// sets g_j.
__global__ void tiled_cols(const float* x, const float* y, int64_t n, int64_t m, int64_t d, int metric, double p,
                           const double* b, const double* f, double eps, double* g, double* err2, int update) {
  const int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (j >= m) return;
  const double ie = 1.0 / eps;
  double m1 = -INFINITY, s1 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = (f[i] - point_cost(x + i * d, y + j * d, d, metric, p)) * ie;
    sc::ot::lse_merge(m1, s1, v, 1.0);
  }
  if (update) {
    g[j] = sc::ot::sinkhorn_potential(log(b[j]), m1, s1, eps, 1.0, 0.0);
  } else {
    const double cm = exp(g[j] * ie + m1 + log(s1));
    atomicAdd(err2, (cm - b[j]) * (cm - b[j]));
  }
}

__global__ void tiled_cost(const float* x, const float* y, int64_t n, int64_t m, int64_t d, int metric, double p,
                           const double* f, const double* g, double eps, double* cost) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const double ie = 1.0 / eps;
  double s = 0;
  for (int64_t j = 0; j < m; ++j) {
    const double c = point_cost(x + i * d, y + j * d, d, metric, p);
    s += exp((f[i] + g[j] - c) * ie) * c;
  }
  atomicAdd(cost, s);
}

template <class T>
struct DevBuf {
  T* p = nullptr;
  explicit DevBuf(size_t count) {
    sc::cuda::check(cudaMalloc(reinterpret_cast<void**>(&p), (count > 0 ? count : 1) * sizeof(T)), "cudaMalloc");
  }
  ~DevBuf() {
    if (p) cudaFree(p);
  }
  void put(const T* h, size_t count) {
    sc::cuda::check(cudaMemcpy(p, h, count * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy H2D");
  }
  void get(T* h, size_t count) const {
    sc::cuda::check(cudaMemcpy(h, p, count * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
  }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
};

template <class S>
void batch_impl(const S* C, const double* a, const double* b, const double* eps, int64_t B, int64_t n, int64_t m,
                double tol, int max_iter, int check_every, const SinkhornCudaOut& out) {
  if (B == 0) return;
  DevBuf<S> dC(size_t(B * n * m));
  // (braces: "DevBuf<double> de(size_t(B))" would declare a function)
  DevBuf<double> da{static_cast<size_t>(B * n)}, db{static_cast<size_t>(B * m)}, de{static_cast<size_t>(B)},
      df{static_cast<size_t>(B * n)}, dg{static_cast<size_t>(B * m)},
      dgs{static_cast<size_t>(B * m)}, derr{static_cast<size_t>(B)}, dcost{static_cast<size_t>(B)};
  DevBuf<int32_t> dit{static_cast<size_t>(B)};
  DevBuf<int8_t> dst{static_cast<size_t>(B)};
  dC.put(C, size_t(B * n * m));
  da.put(a, size_t(B * n));
  db.put(b, size_t(B * m));
  de.put(eps, size_t(B));
  batch_kernel<S><<<unsigned(B), kThreads>>>(dC.p, da.p, db.p, de.p, n, m, tol, max_iter,
                                             check_every > 0 ? check_every : 1, df.p, dg.p, dgs.p, derr.p, dit.p,
                                             dst.p);
  sc::cuda::check(cudaGetLastError(), "sinkhorn batch kernel launch");
  cost_kernel<S><<<unsigned(B), kThreads>>>(dC.p, de.p, n, m, df.p, dg.p, dcost.p);
  sc::cuda::check(cudaGetLastError(), "sinkhorn cost kernel launch");
  sc::cuda::check(cudaDeviceSynchronize(), "sinkhorn batch");
  df.get(out.f, size_t(B * n));
  dg.get(out.g, size_t(B * m));
  dcost.get(out.cost, size_t(B));
  derr.get(out.err, size_t(B));
  dit.get(out.n_iter, size_t(B));
  dst.get(out.status, size_t(B));
}

}  // namespace

void sinkhorn_batch_cuda(const double* C, const double* a, const double* b, const double* eps, int64_t B, int64_t n,
                         int64_t m, double tol, int max_iter, int check_every, const SinkhornCudaOut& out) {
  batch_impl<double>(C, a, b, eps, B, n, m, tol, max_iter, check_every, out);
}
void sinkhorn_batch_cuda(const float* C, const double* a, const double* b, const double* eps, int64_t B, int64_t n,
                         int64_t m, double tol, int max_iter, int check_every, const SinkhornCudaOut& out) {
  batch_impl<float>(C, a, b, eps, B, n, m, tol, max_iter, check_every, out);
}

void sinkhorn_tiled_cuda(const float* x, const float* y, int64_t n, int64_t m, int64_t d, const double* a,
                         const double* b, double eps, int metric, double p, double tol, int max_iter,
                         int check_every, const SinkhornCudaOut& out) {
  DevBuf<float> dx{static_cast<size_t>(n * d)}, dy{static_cast<size_t>(m * d)};
  DevBuf<double> da{static_cast<size_t>(n)}, db{static_cast<size_t>(m)}, df{static_cast<size_t>(n)},
      dg{static_cast<size_t>(m)}, dsum{1};
  dx.put(x, size_t(n * d));
  dy.put(y, size_t(m * d));
  da.put(a, size_t(n));
  db.put(b, size_t(m));
  const unsigned gr = unsigned((n + kThreads - 1) / kThreads), gc = unsigned((m + kThreads - 1) / kThreads);
  const int ce = check_every > 0 ? check_every : 1;
  std::vector<double> zeros(size_t(n), 0.0);
  df.put(zeros.data(), size_t(n));
  tiled_cols<<<gc, kThreads>>>(dx.p, dy.p, n, m, d, metric, p, db.p, df.p, eps, dg.p, dsum.p, 1);  // cold start
  sc::cuda::check(cudaGetLastError(), "tiled column kernel launch");
  int it = 0;
  double err = INFINITY;
  int8_t status = 2;
  while (it < max_iter) {
    tiled_rows<<<gr, kThreads>>>(dx.p, dy.p, n, m, d, metric, p, da.p, dg.p, eps, df.p);
    ++it;
    if ((it - 1) % ce == 0) {
      const double zero = 0;
      dsum.put(&zero, 1);
      tiled_cols<<<gc, kThreads>>>(dx.p, dy.p, n, m, d, metric, p, db.p, df.p, eps, dg.p, dsum.p, 0);
      sc::cuda::check(cudaGetLastError(), "tiled error kernel launch");
      double e2 = 0;
      dsum.get(&e2, 1);
      err = sqrt(e2);
      if (!(err == err)) {
        status = 3;
        break;
      }
      if (err < tol) {
        status = 1;
        break;
      }
    }
    if (it >= max_iter) break;  // POT's last iterate: after its row update
    tiled_cols<<<gc, kThreads>>>(dx.p, dy.p, n, m, d, metric, p, db.p, df.p, eps, dg.p, dsum.p, 1);
    sc::cuda::check(cudaGetLastError(), "tiled column kernel launch");
  }
  const double zero = 0;
  dsum.put(&zero, 1);
  tiled_cost<<<gr, kThreads>>>(dx.p, dy.p, n, m, d, metric, p, df.p, dg.p, eps, dsum.p);
  sc::cuda::check(cudaDeviceSynchronize(), "tiled sinkhorn");
  df.get(out.f, size_t(n));
  dg.get(out.g, size_t(m));
  dsum.get(out.cost, 1);
  out.err[0] = err;
  out.n_iter[0] = it > 0 ? it - 1 : 0;  // POT's niter
  out.status[0] = status;
}

}  // namespace cuda
}  // namespace ot
}  // namespace sc
