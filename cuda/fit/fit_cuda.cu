// CUDA kernel of the fitting engine: one thread per (problem, start), each
// running fit_problem_raw (cpp/include/scalecore/fit/raw.h), the code the
// CPU tests exercise through _core._fit_batch_raw.
#include <cuda_runtime.h>

#include "common/device.h"
#include "fit/fit_cuda.h"
#include "scalecore/common/errors.h"
#include "scalecore/fit/raw.h"

namespace sc {
namespace fit {
namespace gpu {
namespace {

template <class S>
__global__ void fit_kernel(RawArgs<S> a, RawLaw law, const ExprProgram* prog, Options o, int64_t Q) {
  const int64_t q = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (q < Q) fit_problem_raw(a, law, prog, o, q);
}

// RAII device buffer.
struct DevBuf {
  void* p = nullptr;
  DevBuf() = default;
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  ~DevBuf() {
    if (p) cudaFree(p);
  }
  template <class T>
  T* alloc(size_t n, const T* src = nullptr) {
    cuda::check(cudaMalloc(&p, sizeof(T) * (n ? n : 1)), "cudaMalloc");
    if (src) cuda::check(cudaMemcpy(p, src, sizeof(T) * n, cudaMemcpyHostToDevice), "cudaMemcpy");
    return static_cast<T*>(p);
  }
};

template <class S>
void run(const RawLaw& law, const ExprProgram* prog_host, const Batch<S>& B, const Options& o, Outputs<S>& out) {
  const int64_t Q = B.B * int64_t(B.S_count);
  if (Q == 0) return;
  if (!B.starts) throw ValueError("starts: the CUDA kernel needs explicit starts");
  const int np = law.np;
  DevBuf bx[kMaxInputs], by, bm, bsg, bst, blo, bhi, bprog, bp, bc, bstat, bit, bfe;
  RawArgs<S> a;
  a.B = B.B;
  a.M = B.M;
  a.nin = B.n_inputs;
  a.S_count = B.S_count;
  auto rows = [&](int64_t stride) { return size_t(stride ? B.B : 1) * size_t(B.M); };
  for (int k = 0; k < B.n_inputs; ++k) {
    a.x[k] = bx[k].alloc<S>(rows(B.x[k].stride_b), B.x[k].data);
    a.xs[k] = B.x[k].stride_b;
  }
  a.y = by.alloc<S>(rows(B.y.stride_b), B.y.data);
  a.ys = B.y.stride_b;
  a.mask = B.mask.data ? bm.alloc<uint8_t>(rows(B.mask.stride_b), B.mask.data) : nullptr;
  a.ms = B.mask.stride_b;
  a.sigma = B.sigma.data ? bsg.alloc<S>(rows(B.sigma.stride_b), B.sigma.data) : nullptr;
  a.ss = B.sigma.stride_b;
  const size_t nst = size_t(B.starts_stride_b ? B.B : 1) * size_t(B.S_count) * size_t(np);
  a.starts = bst.alloc<S>(nst, B.starts);
  a.st_b = B.starts_stride_b;
  a.st_s = B.starts_stride_s;
  const size_t nb = size_t(B.bounds_stride_b ? B.B : 1) * size_t(np);
  a.lo = B.lo ? blo.alloc<S>(nb, B.lo) : nullptr;
  a.hi = B.hi ? bhi.alloc<S>(nb, B.hi) : nullptr;
  a.bs = B.bounds_stride_b;
  a.params = bp.alloc<S>(size_t(Q) * np);
  a.cost = bc.alloc<S>(size_t(Q));
  a.status = bstat.alloc<int8_t>(size_t(Q));
  a.n_iter = bit.alloc<int32_t>(size_t(Q));
  a.nfev = bfe.alloc<int32_t>(size_t(Q));
  const ExprProgram* prog = prog_host ? bprog.alloc<ExprProgram>(1, prog_host) : nullptr;

  const int threads = 128;
  const unsigned blocks = static_cast<unsigned>((Q + threads - 1) / threads);
  fit_kernel<S><<<blocks, threads>>>(a, law, prog, o, Q);
  cuda::check(cudaGetLastError(), "fit kernel launch");
  cuda::check(cudaDeviceSynchronize(), "fit kernel");
  cuda::check(cudaMemcpy(out.params, a.params, sizeof(S) * size_t(Q) * np, cudaMemcpyDeviceToHost), "cudaMemcpy");
  cuda::check(cudaMemcpy(out.cost, a.cost, sizeof(S) * size_t(Q), cudaMemcpyDeviceToHost), "cudaMemcpy");
  cuda::check(cudaMemcpy(out.status, a.status, size_t(Q), cudaMemcpyDeviceToHost), "cudaMemcpy");
  cuda::check(cudaMemcpy(out.n_iter, a.n_iter, sizeof(int32_t) * size_t(Q), cudaMemcpyDeviceToHost), "cudaMemcpy");
  cuda::check(cudaMemcpy(out.nfev, a.nfev, sizeof(int32_t) * size_t(Q), cudaMemcpyDeviceToHost), "cudaMemcpy");
}

}  // namespace

void fit_batch(const RawLaw& law, const ExprProgram* prog, const Batch<double>& batch, const Options& o,
               Outputs<double>& out) {
  run<double>(law, prog, batch, o, out);
}
void fit_batch(const RawLaw& law, const ExprProgram* prog, const Batch<float>& batch, const Options& o,
               Outputs<float>& out) {
  run<float>(law, prog, batch, o, out);
}

}  // namespace gpu
}  // namespace fit
}  // namespace sc
