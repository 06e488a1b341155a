// CUDA MXFP4 / MX and NVFP4 quantize kernels: one thread per block of 32 (MX)
// or 16 (NVFP4) elements, the math of scalecore/lowbit/codec.h (shared with
// the CPU).  Stochastic rounding draws philox_bits(seed, element index, 0),
// the CPU's bits, so a seeded result is the CPU's too.
#include <cuda_runtime.h>

#include "common/device.h"
#include "lowbit/quant_cuda.h"
#include "scalecore/lowbit/codec.h"
#include "scalecore/lowbit/philox.h"

namespace sc {
namespace lowbit {
namespace cuda {
namespace {

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

__device__ __forceinline__ uint32_t rnd(int mode, uint64_t seed, uint64_t i) {
  return mode == SC_LB_ROUND_STOCHASTIC ? philox_bits(seed, i, 0u) : 0u;
}

template <int B>
__global__ void mx_kernel(const float* __restrict__ x, int64_t nb, int mode, uint64_t seed, uint8_t* codes,
                          uint8_t* scales) {
  typedef BlockTraits<B> T;
  constexpr int E = T::element;
  const int64_t b = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (b >= nb) return;
  const float* xb = x + b * 32;
  float amax = 0.0f;
  bool nonfinite = false;
  for (int j = 0; j < 32; ++j) {
    const float a = fabsf(xb[j]);
    nonfinite |= !(a <= 3.4028235e38f);
    amax = fmaxf(amax, a);
  }
  const uint32_t sc = nonfinite ? 0xFFu : lb_mx_scale_code(amax, T::emax);
  scales[b] = static_cast<uint8_t>(sc);
  uint8_t* cb = codes + b * (32 / T::pack);
  if (sc == 0xFFu) {
    for (int j = 0; j < 32 / T::pack; ++j) cb[j] = 0;
    return;
  }
  const float inv = lb_pow2(127 - static_cast<int>(sc));
  if (T::pack == 2) {
    for (int j = 0; j < 32; j += 2) {
      const uint32_t lo = lb_mx_encode_elem<E>(xb[j], inv, mode, rnd(mode, seed, b * 32 + j));
      const uint32_t hi = lb_mx_encode_elem<E>(xb[j + 1], inv, mode, rnd(mode, seed, b * 32 + j + 1));
      cb[j >> 1] = static_cast<uint8_t>((lo & 0xFu) | (hi << 4));
    }
  } else {
    for (int j = 0; j < 32; ++j)
      cb[j] = static_cast<uint8_t>(lb_mx_encode_elem<E>(xb[j], inv, mode, rnd(mode, seed, b * 32 + j)));
  }
}

// max |x| as the bits of a non-negative float (integer order = float order);
// NaN bits exceed every number's.
__global__ void absmax_kernel(const float* __restrict__ x, int64_t n, unsigned int* out) {
  unsigned int m = 0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    m = max(m, __float_as_uint(x[i]) & 0x7FFFFFFFu);
  atomicMax(out, m);
}

__global__ void nvfp4_kernel(const float* __restrict__ x, int64_t nb, float s_t, int mode, uint64_t seed,
                             uint8_t* codes, uint8_t* scales) {
  const int64_t b = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (b >= nb) return;
  const float* xb = x + b * 16;
  float amax = 0.0f;
  for (int j = 0; j < 16; ++j) amax = fmaxf(amax, fabsf(xb[j]));
  const uint32_t sc = lb_nvfp4_scale_code(amax, s_t);
  scales[b] = static_cast<uint8_t>(sc);
  const float total = s_t * lb_decode<SC_LB_FLOAT8_E4M3FN>(sc);
  for (int j = 0; j < 16; j += 2) {
    const uint32_t lo = lb_nvfp4_encode_elem(xb[j], total, mode, rnd(mode, seed, b * 16 + j));
    const uint32_t hi = lb_nvfp4_encode_elem(xb[j + 1], total, mode, rnd(mode, seed, b * 16 + j + 1));
    codes[b * 8 + (j >> 1)] = static_cast<uint8_t>((lo & 0xFu) | (hi << 4));
  }
}

constexpr int kThreads = 256;
inline unsigned grid_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

}  // namespace

void quantize_mx(int b, const float* x, int64_t rows, int64_t K, int mode, uint64_t seed, uint8_t* codes,
                 uint8_t* scales) {
  const int64_t n = rows * K, nb = n / 32;
  const int pack = block_desc(b).pack;
  DevBuf<float> dx(n);
  DevBuf<uint8_t> dc(n / pack), ds(nb);
  dx.put(x, n);
  switch (b) {
#define SC_LB_CASE(B)                                                                                 \
  case SC_LB_BLOCK_##B:                                                                               \
    if (nb > 0) mx_kernel<SC_LB_BLOCK_##B><<<grid_for(nb), kThreads>>>(dx.p, nb, mode, seed, dc.p, ds.p); \
    break;
    SC_LB_CASE(MXFP8_E4M3)
    SC_LB_CASE(MXFP8_E5M2)
    SC_LB_CASE(MXFP6_E3M2)
    SC_LB_CASE(MXFP6_E2M3)
    SC_LB_CASE(MXFP4)
    SC_LB_CASE(MXINT8)
#undef SC_LB_CASE
    default:
      break;
  }
  sc::cuda::check(cudaGetLastError(), "lowbit mx kernel launch");
  sc::cuda::check(cudaDeviceSynchronize(), "lowbit mx kernel");
  dc.get(codes, n / pack);
  ds.get(scales, nb);
}

float quantize_nvfp4(const float* x, int64_t rows, int64_t K, float tensor_scale, int mode, uint64_t seed,
                     uint8_t* codes, uint8_t* scales) {
  const int64_t n = rows * K, nb = n / 16;
  DevBuf<float> dx(n);
  DevBuf<uint8_t> dc(n / 2), ds(nb);
  DevBuf<unsigned int> dm(1);
  dx.put(x, n);
  const unsigned int zero = 0;
  dm.put(&zero, 1);
  if (n > 0) absmax_kernel<<<grid_for(n) < 1024u ? grid_for(n) : 1024u, kThreads>>>(dx.p, n, dm.p);
  sc::cuda::check(cudaGetLastError(), "lowbit absmax kernel launch");
  unsigned int mbits = 0;
  dm.get(&mbits, 1);
  const float amax = lb_bits_f32(mbits);
  if (!(amax <= 3.4028235e38f)) return amax;
  float s_t = tensor_scale > 0.0f ? tensor_scale : (amax == 0.0f ? 1.0f : amax / (448.0f * 6.0f));
  if (nb > 0) nvfp4_kernel<<<grid_for(nb), kThreads>>>(dx.p, nb, s_t, mode, seed, dc.p, ds.p);
  sc::cuda::check(cudaGetLastError(), "lowbit nvfp4 kernel launch");
  sc::cuda::check(cudaDeviceSynchronize(), "lowbit nvfp4 kernel");
  dc.get(codes, n / 2);
  ds.get(scales, nb);
  return s_t;
}

}  // namespace cuda
}  // namespace lowbit
}  // namespace sc
