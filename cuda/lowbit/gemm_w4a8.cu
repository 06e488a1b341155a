// CUDA W4A8 (INT4 weights x FP8 E4M3 activations) GEMV/GEMM: see
// gemm_cuda.h.  The INT4 layout and the INT4 -> E4M3 byte-permute conversion
// are the CPU's (scalecore/lowbit/pack.h, compiled here through SC_HD), so
// the CPU tests cover the device's conversion bit for bit.
//
// sm_89+ (Ada, Hopper): one warp per 16 x 8 output tile, K in steps of 32
// with mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32.  Fragments
// (PTX ISA, "Matrix Fragments for mma.m16n8k32"; g = lane / 4, t = lane % 4):
//   A (16 x 32, row-major) 4 x b32: reg r holds 4 consecutive k of row
//     g + 8 (r & 1), columns 4t + 16 (r >> 1) + 0..3;
//   B (32 x 8, column-major) 2 x b32: reg h holds k = 4t + 16h + 0..3 of
//     column g;
//   C (16 x 8) 4 x f32: c0, c1 at row g, columns 2t, 2t+1; c2, c3 at row g+8.
// Each group's mma sums start from zero and are scaled by the group scale in
// FP32 registers (FP8 tensor-core accumulation is not full FP32 on Hopper;
// flushing per group of 128 bounds what it can lose).  Older architectures
// (the sm_80 build) run a plain kernel with the same math in FP32.
#include <cuda_runtime.h>

#include "common/device.h"
#include "lowbit/gemm_cuda.h"
#include "scalecore/common/errors.h"
#include "scalecore/lowbit/pack.h"

namespace sc {
namespace lowbit {
namespace cuda {

namespace {

constexpr int kWarps = 4;

__device__ __forceinline__ uint32_t nibble(const uint8_t* row, int64_t k, int64_t group) {
  int64_t byte;
  int shift;
  lb_int4_position(k, group, &byte, &shift);
  return (row[byte] >> shift) & 0xFu;
}

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
__device__ __forceinline__ uint32_t load4(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
#endif

__global__ void w4a8_mma_kernel(const uint8_t* w, const float* ws, const uint8_t* xq, const float* xs,
                                const float* bias, int64_t M, int64_t N, int64_t K, int64_t group, float* y) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g8 = lane >> 2, t = lane & 3;
  const int64_t n0 = (static_cast<int64_t>(blockIdx.x) * kWarps + warp) * 8, m0 = static_cast<int64_t>(blockIdx.y) * 16;
  if (n0 >= N) return;
  const int64_t G = K / group, rb = K / 2;
  const int64_t nb = n0 + g8;  // this lane's B column
  const bool nb_ok = nb < N;
  const uint8_t* wrow = w + (nb_ok ? nb : 0) * rb;
  const int64_t ra = m0 + g8, rc = ra + 8;
  const uint8_t* xa = xq + (ra < M ? ra : 0) * K;
  const uint8_t* xc = xq + (rc < M ? rc : 0) * K;
  const int64_t cn0 = n0 + 2 * t, cn1 = cn0 + 1;
  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  for (int64_t gi = 0; gi < G; ++gi) {
    float c[4] = {0.f, 0.f, 0.f, 0.f};
    for (int64_t kk = gi * group; kk < (gi + 1) * group; kk += 32) {
      uint32_t a[4];
      a[0] = ra < M ? load4(xa + kk + 4 * t) : 0u;
      a[1] = rc < M ? load4(xc + kk + 4 * t) : 0u;
      a[2] = ra < M ? load4(xa + kk + 16 + 4 * t) : 0u;
      a[3] = rc < M ? load4(xc + kk + 16 + 4 * t) : 0u;
      uint32_t b[2];
      for (int h = 0; h < 2; ++h) {
        uint32_t nib4 = 0;
        if (nb_ok)
          for (int i = 0; i < 4; ++i) nib4 |= nibble(wrow, kk + 4 * t + 16 * h + i, group) << (4 * i);
        b[h] = lb_int4x4_to_e4m3x4(nib4);  // nibble 0 -> E4M3 0x00
      }
      asm volatile(
          "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
          "{%0,%1,%2,%3};\n"
          : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
          : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    }
    const float s0 = cn0 < N ? ws[cn0 * G + gi] : 0.f, s1 = cn1 < N ? ws[cn1 * G + gi] : 0.f;
    acc[0] = fmaf(c[0], s0, acc[0]);
    acc[1] = fmaf(c[1], s1, acc[1]);
    acc[2] = fmaf(c[2], s0, acc[2]);
    acc[3] = fmaf(c[3], s1, acc[3]);
  }
  const int64_t rows[2] = {ra, rc}, cols[2] = {cn0, cn1};
  for (int i = 0; i < 4; ++i) {
    const int64_t r = rows[i >> 1], cidx = cols[i & 1];
    if (r < M && cidx < N) {
      float v = acc[i] * xs[r];
      if (bias) v += bias[cidx];
      y[r * N + cidx] = v;
    }
  }
#endif
}

// Any architecture: one thread per output, the same conversion and order of
// scaling, FP32 FMAs.
__global__ void w4a8_plain_kernel(const uint8_t* w, const float* ws, const uint8_t* xq, const float* xs,
                                  const float* bias, int64_t M, int64_t N, int64_t K, int64_t group, float* y) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= M * N) return;
  const int64_t m = idx / N, n = idx % N, G = K / group;
  const uint8_t* wrow = w + n * (K / 2);
  const uint8_t* x = xq + m * K;
  float acc = 0.f;
  for (int64_t gi = 0; gi < G; ++gi) {
    float s = 0.f;
    for (int64_t k = gi * group; k < (gi + 1) * group; k += 4) {
      uint32_t nib4 = 0;
      for (int i = 0; i < 4; ++i) nib4 |= nibble(wrow, k + i, group) << (4 * i);
      const uint32_t wq = lb_int4x4_to_e4m3x4(nib4);
      for (int i = 0; i < 4; ++i) s = fmaf(lb_e4m3_to_float((wq >> (8 * i)) & 0xFFu), lb_e4m3_to_float(x[k + i]), s);
    }
    acc = fmaf(s, ws[n * G + gi], acc);
  }
  float v = acc * xs[m];
  if (bias) v += bias[n];
  y[idx] = v;
}

template <class T>
T* to_device(const T* h, int64_t n) {
  T* d = nullptr;
  sc::cuda::check(cudaMalloc(&d, static_cast<size_t>(n) * sizeof(T)), "cudaMalloc");
  sc::cuda::check(cudaMemcpy(d, h, static_cast<size_t>(n) * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy");
  return d;
}

}  // namespace

void w4a8_linear_cuda(const uint8_t* w_packed, const float* ws, const uint8_t* xq, const float* xs,
                      const float* bias, int64_t M, int64_t N, int64_t K, int64_t group, float* y) {
  lb_check_layout(LB_W_INT4, N, K, group);
  if (M <= 0) return;
  int dev = 0;
  sc::cuda::check(cudaGetDevice(&dev), "cudaGetDevice");
  cudaDeviceProp prop;
  sc::cuda::check(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties");
  const bool fp8_mma = prop.major * 10 + prop.minor >= 89;
  uint8_t* dw = to_device(w_packed, N * (K / 2));
  float* dws = to_device(ws, N * (K / group));
  uint8_t* dx = to_device(xq, M * K);
  float* dxs = to_device(xs, M);
  float* db = bias ? to_device(bias, N) : nullptr;
  float* dy = nullptr;
  sc::cuda::check(cudaMalloc(&dy, static_cast<size_t>(M * N) * sizeof(float)), "cudaMalloc");
  if (fp8_mma) {
    const dim3 grid(static_cast<unsigned>((N + 8 * kWarps - 1) / (8 * kWarps)), static_cast<unsigned>((M + 15) / 16));
    w4a8_mma_kernel<<<grid, 32 * kWarps>>>(dw, dws, dx, dxs, db, M, N, K, group, dy);
  } else {
    const int64_t total = M * N;
    w4a8_plain_kernel<<<static_cast<unsigned>((total + 255) / 256), 256>>>(dw, dws, dx, dxs, db, M, N, K, group, dy);
  }
  sc::cuda::check(cudaGetLastError(), "w4a8 kernel launch");
  sc::cuda::check(cudaMemcpy(y, dy, static_cast<size_t>(M * N) * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy");
  cudaFree(dw);
  cudaFree(dws);
  cudaFree(dx);
  cudaFree(dxs);
  if (db) cudaFree(db);
  cudaFree(dy);
}

}  // namespace cuda
}  // namespace lowbit
}  // namespace sc
