// CUDA forward of the Clebsch-Gordan product: one block per row (grid-stride),
// one thread per (output block, output channel); each thread sums the paths
// into its block with tp_path_forward_channel (scalecore/tp/plan.h), so no
// two threads write the same output and the sum over paths runs in
// instruction order, as on the CPU.
#include <cuda_runtime.h>

#include <vector>

#include "common/device.h"
#include "scalecore/common/errors.h"
#include "scalecore/tp/plan.h"
#include "tp/product_cuda.h"

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

struct Dims {
  int64_t n, dim1, dim2, dimo, wn;
  int w_shared;
  int n_items;
};

// item q: output block item_blk[q], channel item_ch[q], its offset and
// width d3; the paths into block b are blk_paths[blk_start[b] .. blk_start[b+1]).
template <class S>
__global__ void tp_forward_kernel(Dims a, const TpPathDesc<S>* __restrict__ paths, const int* __restrict__ item_blk,
                                  const int* __restrict__ item_ch, const int64_t* __restrict__ item_off,
                                  const int* __restrict__ item_d, const int* __restrict__ blk_start,
                                  const int* __restrict__ blk_paths, const S* __restrict__ x,
                                  const S* __restrict__ y, const S* __restrict__ w, S* __restrict__ out) {
  for (int64_t r = blockIdx.x; r < a.n; r += gridDim.x) {
    const S* xr = x + r * a.dim1;
    const S* yr = y + r * a.dim2;
    const S* wr = w + (a.w_shared ? 0 : r * a.wn);
    S* orow = out + r * a.dimo;
    for (int q = threadIdx.x; q < a.n_items; q += blockDim.x) {
      S* o = orow + item_off[q];
      for (int k = 0; k < item_d[q]; ++k) o[k] = S(0);
      const int b = item_blk[q];
      for (int t = blk_start[b]; t < blk_start[b + 1]; ++t) {
        const TpPathDesc<S>& P = paths[blk_paths[t]];
        tp_path_forward_channel(P, xr, yr, P.has_weight ? wr + P.w_off : nullptr, orow, item_ch[q]);
      }
    }
  }
}

template <class S>
void forward_impl(const TpPlan& plan, const S* x, const S* y, const S* w, bool w_shared, int64_t n, S* out) {
  const TpKernelPlan<S>& kp = plan.kernel_plan<S>();
  const int n_out_blk = static_cast<int>(plan.irreps[2].size());
  // Paths per output block (instruction order), items per (block, channel).
  std::vector<int> blk_start(n_out_blk + 1, 0), blk_paths;
  std::vector<int> path_blk(kp.n_paths);
  for (int p = 0; p < kp.n_paths; ++p) {
    int b = 0;
    while (b + 1 < n_out_blk && plan.offsets[2][b + 1] <= kp.paths[p].offo) ++b;
    path_blk[p] = b;
    ++blk_start[b + 1];
  }
  for (int b = 0; b < n_out_blk; ++b) blk_start[b + 1] += blk_start[b];
  blk_paths.resize(kp.n_paths);
  {
    std::vector<int> fill(blk_start.begin(), blk_start.end() - 1);
    for (int p = 0; p < kp.n_paths; ++p) blk_paths[fill[path_blk[p]]++] = p;
  }
  std::vector<int> item_blk, item_ch, item_d;
  std::vector<int64_t> item_off;
  for (int b = 0; b < n_out_blk; ++b) {
    const int mul = plan.irreps[2][b].mul, d = 2 * plan.irreps[2][b].l + 1;
    for (int c = 0; c < mul; ++c) {
      item_blk.push_back(b);
      item_ch.push_back(c);
      item_d.push_back(d);
      item_off.push_back(plan.offsets[2][b] + static_cast<int64_t>(c) * d);
    }
  }
  // The sparse CG (direction 0) of every path on the device.
  std::vector<TpPathDesc<S>> dev_desc(kp.paths, kp.paths + kp.n_paths);
  std::vector<DevBuf<TpNz<S>>*> nz_bufs;
  std::vector<DevBuf<int32_t>*> grp_bufs;
  std::vector<DevBuf<int16_t>*> idx_bufs;
  struct Cleanup {
    std::vector<DevBuf<TpNz<S>>*>& a;
    std::vector<DevBuf<int32_t>*>& b;
    std::vector<DevBuf<int16_t>*>& c;
    ~Cleanup() {
      for (auto* p : a) delete p;
      for (auto* p : b) delete p;
      for (auto* p : c) delete p;
    }
  } cleanup{nz_bufs, grp_bufs, idx_bufs};
  for (int p = 0; p < kp.n_paths; ++p) {
    const TpCgView<S>& v = kp.paths[p].cg[0];
    const int64_t nnz = v.group[v.n_groups];
    nz_bufs.push_back(new DevBuf<TpNz<S>>(nnz));
    nz_bufs.back()->upload(v.nz, nnz);
    grp_bufs.push_back(new DevBuf<int32_t>(v.n_groups + 1));
    grp_bufs.back()->upload(v.group, v.n_groups + 1);
    idx_bufs.push_back(new DevBuf<int16_t>(v.n_groups));
    idx_bufs.back()->upload(v.out_index, v.n_groups);
    dev_desc[p].cg[0] = {nz_bufs.back()->p, grp_bufs.back()->p, idx_bufs.back()->p, v.n_groups};
    dev_desc[p].cg[1] = {nullptr, nullptr, nullptr, 0};
    dev_desc[p].cg[2] = {nullptr, nullptr, nullptr, 0};
  }
  DevBuf<TpPathDesc<S>> d_desc(kp.n_paths);
  d_desc.upload(dev_desc.data(), kp.n_paths);
  const int n_items = static_cast<int>(item_blk.size());
  DevBuf<int> d_iblk(n_items), d_ich(n_items), d_id(n_items), d_bstart(n_out_blk + 1), d_bpaths(kp.n_paths);
  DevBuf<int64_t> d_ioff(n_items);
  d_iblk.upload(item_blk.data(), n_items);
  d_ich.upload(item_ch.data(), n_items);
  d_id.upload(item_d.data(), n_items);
  d_ioff.upload(item_off.data(), n_items);
  d_bstart.upload(blk_start.data(), n_out_blk + 1);
  d_bpaths.upload(blk_paths.data(), kp.n_paths);
  const int64_t wrows = w_shared ? 1 : n;
  DevBuf<S> dx(n * plan.dim[0]), dy(n * plan.dim[1]), dw(wrows * plan.weight_numel), dout(n * plan.dim[2]);
  dx.upload(x, n * plan.dim[0]);
  dy.upload(y, n * plan.dim[1]);
  dw.upload(w, wrows * plan.weight_numel);
  Dims a{n, plan.dim[0], plan.dim[1], plan.dim[2], plan.weight_numel, w_shared ? 1 : 0, n_items};
  if (n > 0 && n_items > 0) {
    const int threads = 128;
    const int blocks = static_cast<int>(n < 65535 ? n : 65535);
    tp_forward_kernel<S><<<blocks, threads>>>(a, d_desc.p, d_iblk.p, d_ich.p, d_ioff.p, d_id.p, d_bstart.p,
                                              d_bpaths.p, dx.p, dy.p, dw.p, dout.p);
    sc::cuda::check(cudaGetLastError(), "tp_forward_kernel launch");
    sc::cuda::check(cudaDeviceSynchronize(), "tp_forward_kernel");
  }
  dout.download(out, n * plan.dim[2]);
}

}  // namespace

void tp_forward_cuda(const TpPlan& plan, const float* x, const float* y, const float* w, bool w_shared, int64_t n,
                     float* out) {
  forward_impl(plan, x, y, w, w_shared, n, out);
}
void tp_forward_cuda(const TpPlan& plan, const double* x, const double* y, const double* w, bool w_shared,
                     int64_t n, double* out) {
  forward_impl(plan, x, y, w, w_shared, n, out);
}

}  // namespace cuda
}  // namespace tp
}  // namespace sc
