// scalecore._core: the CPU extension.  Registration only; each family binds
// itself in its own file.
#include <pybind11/pybind11.h>

#include "scalecore/common/errors.h"

namespace py = pybind11;

void bind_common(py::module_& m);
void bind_fit(py::module_& m);
void bind_ot(py::module_& m);
void bind_tp(py::module_& m);
void bind_tp_product(py::module_& m);
void bind_lowbit(py::module_& m);
void bind_lowbit_gemm(py::module_& m);

PYBIND11_MODULE(_core, m) {
  m.doc() = "scalecore's C++ core (CPU).";
  // One error model: C++ throws sc::ValueError / sc::TypeError /
  // sc::RuntimeError; Python sees ValueError / TypeError / RuntimeError.
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
  bind_common(m);
  bind_fit(m);
  bind_ot(m);
  bind_tp(m);
  bind_tp_product(m);
  bind_lowbit(m);
  bind_lowbit_gemm(m);
}
