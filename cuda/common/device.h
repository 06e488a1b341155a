// Plain C++ declarations of the CUDA runtime helpers (implemented in
// device.cu).  Nothing here includes a CUDA header.
#pragma once
#include <string>
#include <vector>

namespace sc {
namespace cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  size_t total_memory = 0;
  int multiprocessors = 0;
};

// Devices visible to this process.  On a machine without a driver or GPU the
// list is empty and `error` says why; nothing throws.
std::vector<DeviceInfo> devices(std::string* error);
int runtime_version();  // e.g. 13000
// Throws sc::RuntimeError with the CUDA error string when `code` != 0.
void check(int code, const char* what);

}  // namespace cuda
}  // namespace sc
