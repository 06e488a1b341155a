// CUDA spherical harmonics: one thread per vector, the per-point math of
// scalecore/tp/sh.h (sh_normalize, sh_eval) compiled for the device.
#include <cuda_runtime.h>

#include <string>

#include "common/device.h"
#include "scalecore/common/errors.h"
#include "scalecore/tp/sh.h"
#include "tp/sh_cuda.h"

namespace sc {
namespace tp {
namespace cuda {
namespace {

template <class T>
struct DevBuf {
  T* p = nullptr;
  explicit DevBuf(int64_t count) {
    sc::cuda::check(cudaMalloc(reinterpret_cast<void**>(&p), (count > 0 ? count : 1) * sizeof(T)), "cudaMalloc");
  }
  ~DevBuf() { cudaFree(p); }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  void upload(const T* h, int64_t count) {
    if (count > 0) sc::cuda::check(cudaMemcpy(p, h, count * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy H2D");
  }
  void download(T* h, int64_t count) const {
    if (count > 0) sc::cuda::check(cudaMemcpy(h, p, count * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
  }
};

struct ShDeviceArgs {
  int lmax;
  int normalization;
  bool normalize;
  int64_t dim;
  int64_t n;
  int col_offset[kShMaxL + 1];
};

template <class S>
__global__ void sh_forward_kernel(const ShCoeffs* __restrict__ c, ShDeviceArgs a, const S* __restrict__ vec,
                                  S* __restrict__ out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= a.n) return;
  S x = vec[3 * i], y = vec[3 * i + 1], z = vec[3 * i + 2];
  if (a.normalize) sh_normalize(x, y, z);
  S* o = out + i * a.dim;
  sh_eval(a.lmax, *c, x, y, z, [&](int l, int m, S v) {
    const int off = a.col_offset[l];
    if (off >= 0) o[off + l + m] = static_cast<S>(sh_norm_scale(a.normalization, l)) * v;
  });
}

template <class S>
void launch(const S* vec, int64_t n, int lmax, const int* col_offset, int64_t dim, int normalization, bool normalize,
            S* out) {
  if (lmax < 0 || lmax > kShMaxL) throw ValueError("sh_forward_cuda: lmax out of range");
  ShDeviceArgs a;
  a.lmax = lmax;
  a.normalization = normalization;
  a.normalize = normalize;
  a.dim = dim;
  a.n = n;
  for (int l = 0; l <= kShMaxL; ++l) a.col_offset[l] = l <= lmax ? col_offset[l] : -1;
  for (int l = 0; l <= lmax; ++l)
    if (a.col_offset[l] >= 0 && a.col_offset[l] + 2 * l + 1 > dim)
      throw ValueError("sh_forward_cuda: block l=" + std::to_string(l) + " does not fit in the output width");
  ShCoeffs hc;
  sh_coeffs_build(&hc);
  DevBuf<ShCoeffs> dc(1);
  dc.upload(&hc, 1);
  DevBuf<S> dv(n * 3), dout(n * dim);
  dv.upload(vec, n * 3);
  if (n * dim > 0) sc::cuda::check(cudaMemset(dout.p, 0, n * dim * sizeof(S)), "cudaMemset");
  if (n > 0) {
    const int threads = 128;
    const int64_t blocks = (n + threads - 1) / threads;
    sh_forward_kernel<S><<<static_cast<unsigned>(blocks), threads>>>(dc.p, a, dv.p, dout.p);
    sc::cuda::check(cudaGetLastError(), "sh_forward kernel launch");
    sc::cuda::check(cudaDeviceSynchronize(), "sh_forward");
  }
  dout.download(out, n * dim);
}

}  // namespace

void sh_forward_cuda(const float* vec, int64_t n, int lmax, const int* col_offset, int64_t dim, int normalization,
                     bool normalize, float* out) {
  launch(vec, n, lmax, col_offset, dim, normalization, normalize, out);
}
void sh_forward_cuda(const double* vec, int64_t n, int lmax, const int* col_offset, int64_t dim, int normalization,
                     bool normalize, double* out) {
  launch(vec, n, lmax, col_offset, dim, normalization, normalize, out);
}

}  // namespace cuda
}  // namespace tp
}  // namespace sc
