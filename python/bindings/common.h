// The binding layer's array adapter, shared by every family.
//
// The Python side (scalecore/_array.py) already converts inputs to
// C-contiguous arrays of the right dtype and checks shapes with messages for
// users; these checks repeat the contract at the C++ boundary so that a
// direct call of the extension can never read out of bounds.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "scalecore/common/errors.h"

namespace sc {
namespace py = pybind11;

inline std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    s += std::to_string(a.shape(i));
    if (a.ndim() == 1 || i + 1 < a.ndim()) s += a.ndim() == 1 ? "," : ", ";
  }
  return s + ")";
}

template <class S>
const char* dtype_name() {
  return sizeof(S) == 8 ? "float64" : sizeof(S) == 4 ? "float32" : "uint8";
}

// Checks dtype S and C-contiguity; returns the data pointer.
template <class S>
const S* checked_ptr(const py::array& a, const char* name) {
  if (!py::isinstance<py::array_t<S>>(a))
    throw TypeError(std::string(name) + ": expected a " + dtype_name<S>() + " array, got dtype " +
                    std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style))
    throw ValueError(std::string(name) + ": expected a C-contiguous array (the Python API converts; "
                     "direct callers of the extension must pass np.ascontiguousarray)");
  return static_cast<const S*>(a.data());
}

template <class S>
S* checked_mut_ptr(py::array& a, const char* name) {
  return const_cast<S*>(checked_ptr<S>(a, name));
}

// Throws ValueError unless `a` has exactly the given shape.
inline void check_shape(const py::array& a, std::initializer_list<py::ssize_t> shape, const char* name) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  py::ssize_t i = 0;
  for (auto s : shape) {
    if (ok && a.shape(i) != s) ok = false;
    ++i;
  }
  if (!ok) {
    std::string want = "(";
    i = 0;
    for (auto s : shape) want += (i++ ? ", " : "") + std::to_string(s);
    throw ValueError(std::string(name) + ": expected shape " + want + (shape.size() == 1 ? ",)" : ")") +
                     ", got " + shape_str(a));
  }
}

// A new output array of the given shape, stored as d[key]; returns its data
// (filled by the C++ call that follows).
template <class T>
T* out_array(py::dict& d, const char* key, std::initializer_list<py::ssize_t> shape) {
  py::array_t<T> a{std::vector<py::ssize_t>(shape)};
  d[key] = a;
  return a.mutable_data();
}

}  // namespace sc
