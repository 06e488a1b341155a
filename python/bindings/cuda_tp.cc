// CUDA bindings of the tensor-product family's spherical harmonics
// (registered from cuda_module.cc by bind_cuda_tp).  Host arrays in and out;
// the launcher (cuda/tp/sh_cuda.h) moves the data.  The GIL is released
// around the kernel.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <vector>

#include "common.h"
#include "tp/sh_cuda.h"

namespace py = pybind11;

namespace {

template <class S>
py::array_t<S> sh_forward(const py::array& vec, const std::vector<int>& col, int normalization, bool normalize,
                          int64_t dim) {
  const S* v = sc::checked_ptr<S>(vec, "vectors");
  if (vec.ndim() != 2 || vec.shape(1) != 3)
    throw sc::ValueError("vectors: expected shape (n, 3), got " + sc::shape_str(vec));
  if (col.empty()) throw sc::ValueError("col_offset: expected lmax + 1 entries");
  const int64_t n = vec.shape(0);
  py::array_t<S> out({n, dim});
  S* o = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    sc::tp::cuda::sh_forward_cuda(v, n, static_cast<int>(col.size()) - 1, col.data(), dim, normalization, normalize,
                                  o);
  }
  return out;
}

}  // namespace

void bind_cuda_tp(py::module_& m) {
  m.def(
      "tp_sh_forward",
      [](const py::array& v, const std::vector<int>& col, int norm, bool normalize, int64_t dim) -> py::object {
        if (py::isinstance<py::array_t<float>>(v)) return sh_forward<float>(v, col, norm, normalize, dim);
        return sh_forward<double>(v, col, norm, normalize, dim);
      },
      py::arg("vectors"), py::arg("col_offset"), py::arg("normalization"), py::arg("normalize"), py::arg("dim"),
      "Spherical harmonics on the GPU (same layout and codes as _core.tp_sh_forward).");
}
