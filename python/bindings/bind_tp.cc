// Bindings of the tensor-product family's basis functions: a thin adapter over
// scalecore/tp/{wigner,sh}.h.  The Python layer (scalecore/tp) validates user
// input and normalises arrays first; these checks repeat the contract.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <string>
#include <vector>

#include "common.h"
#include "scalecore/tp/wigner.h"

namespace py = pybind11;
using namespace sc;

namespace {

py::array_t<double> wigner_3j_py(int l1, int l2, int l3) {
  const std::vector<double>& t = tp::wigner_3j_table(l1, l2, l3);
  if (t.empty())
    throw ValueError("wigner_3j: (l1, l2, l3) = (" + std::to_string(l1) + ", " + std::to_string(l2) + ", " +
                     std::to_string(l3) + ") violates the triangle rule |l1 - l2| <= l3 <= l1 + l2");
  py::array_t<double> out({2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1});
  std::memcpy(out.mutable_data(), t.data(), t.size() * sizeof(double));
  return out;
}

}  // namespace

void bind_tp(py::module_& m) {
  m.attr("tp_wigner_3j_max_l") = tp::kWigner3jMaxL;
  m.def("tp_wigner_3j", &wigner_3j_py, py::arg("l1"), py::arg("l2"), py::arg("l3"),
        "Real Clebsch-Gordan coefficients in e3nn's basis, unit Frobenius norm, float64 (cached).");
  m.def("tp_su2_clebsch_gordan", &tp::su2_clebsch_gordan, py::arg("l1"), py::arg("m1"), py::arg("l2"),
        py::arg("m2"), py::arg("l3"), py::arg("m3"),
        "<l1 m1; l2 m2 | l3 m3> in the Condon-Shortley phase (Racah's formula).");
}
