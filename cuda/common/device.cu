// CUDA runtime helpers: device discovery and error checking.
#include <cuda_runtime.h>

#include "common/device.h"
#include "scalecore/common/errors.h"

namespace sc {
namespace cuda {

std::vector<DeviceInfo> devices(std::string* error) {
  std::vector<DeviceInfo> out;
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (error) *error = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky error state
    return out;
  }
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    DeviceInfo d;
    d.index = i;
    d.name = p.name;
    d.cc_major = p.major;
    d.cc_minor = p.minor;
    d.total_memory = p.totalGlobalMem;
    d.multiprocessors = p.multiProcessorCount;
    out.push_back(d);
  }
  if (out.empty() && error) *error = "no CUDA device visible";
  return out;
}

int runtime_version() {
  int v = 0;
  cudaRuntimeGetVersion(&v);
  return v;
}

void check(int code, const char* what) {
  if (code == 0) return;
  const cudaError_t e = static_cast<cudaError_t>(code);
  throw RuntimeError(std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

}  // namespace cuda
}  // namespace sc
