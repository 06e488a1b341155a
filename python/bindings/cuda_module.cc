// scalecore._cuda: the CUDA extension.  Imported only when a user asks for
// device="cuda" (and by build_info).  It links the CUDA runtime statically;
// the driver (libcuda) is opened by the runtime at first use, so this module
// imports on a machine with no driver and reports no devices.
//
// Each family registers its CUDA entry points from cuda_<family>.cc.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "common/device.h"
#include "scalecore/common/errors.h"

namespace py = pybind11;

void bind_cuda_fit(py::module_& m);
void bind_cuda_ot(py::module_& m);
void bind_cuda_tp(py::module_& m);

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "scalecore's CUDA kernels.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const sc::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const sc::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const sc::RuntimeError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
  m.def("architectures", [] {
    std::vector<std::string> v;
    std::string s = SCALECORE_CUDA_ARCHS;
    size_t b = 0;
    while (b <= s.size()) {
      size_t e = s.find(',', b);
      if (e == std::string::npos) e = s.size();
      if (e > b) v.push_back(s.substr(b, e - b));
      b = e + 1;
    }
    return v;
  });
  m.def("compiler_version", [] { return std::string(SCALECORE_CUDA_VERSION); });
  m.def("runtime_version", &sc::cuda::runtime_version);
  m.def("devices", [] {
    std::string err;
    py::list out;
    for (const auto& d : sc::cuda::devices(&err)) {
      py::dict x;
      x["index"] = d.index;
      x["name"] = d.name;
      x["compute_capability"] = std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor);
      x["total_memory"] = d.total_memory;
      x["multiprocessors"] = d.multiprocessors;
      out.append(x);
    }
    return py::make_tuple(out, err);
  });
  bind_cuda_fit(m);
  bind_cuda_ot(m);
  bind_cuda_tp(m);
}
