// Shared by the CPU and CUDA bindings of the fitting family: options and
// the batch view, with the boundary checks of common.h.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <string>
#include <vector>

#include "common.h"
#include "scalecore/fit/fit.h"

namespace sc {
namespace fitbind {
namespace py = pybind11;
using namespace sc::fit;

// A (B, M) or (M,) array as a View2; `what` names the argument.
template <class S>
View2<S> view2(const py::object& o, int64_t B, int64_t M, const char* what) {
  View2<S> v;
  if (o.is_none()) return v;
  py::array a = py::reinterpret_borrow<py::array>(o);
  v.data = checked_ptr<S>(a, what);
  if (a.ndim() == 1) {
    check_shape(a, {M}, what);
    v.stride_b = 0;
  } else {
    check_shape(a, {B, M}, what);
    v.stride_b = M;
  }
  return v;
}

inline Options make_options(int max_iter, double xtol, double ftol, double gtol, int loss, double f_scale,
                     int residual, bool geodesic, double damping_init, int vectorize, int n_threads,
                     bool center = true, int scaling = 1, int damping = 0, double factor = 100.0) {
  Options o;
  check_value(max_iter >= 0, "max_iter: expected an integer >= 0, got " + std::to_string(max_iter));
  check_value(xtol >= 0 && ftol >= 0 && gtol >= 0, "xtol, ftol, gtol: expected values >= 0");
  check_value(loss >= 0 && loss <= SC_LOSS_ARCTAN, "loss: invalid code");
  check_value(f_scale > 0 && std::isfinite(f_scale), "f_scale: expected a finite value > 0, got " + std::to_string(f_scale));
  check_value(residual == 0 || residual == 1, "residual: invalid code");
  check_value(damping_init > 0, "damping_init: expected a value > 0");
  check_value(vectorize >= 0 && vectorize <= 2, "vectorize: invalid code");
  o.max_iter = max_iter;
  o.xtol = xtol;
  o.ftol = ftol;
  o.gtol = gtol;
  o.loss = static_cast<Loss>(loss);
  o.f_scale = f_scale;
  o.residual = static_cast<Residual>(residual);
  o.geodesic = geodesic;
  o.damping_init = damping_init;
  o.vectorize = static_cast<Vectorize>(vectorize);
  o.n_threads = n_threads;
  o.center = center;
  check_value(scaling == 0 || scaling == 1, "scaling: invalid code");
  o.scaling = static_cast<Scaling>(scaling);
  check_value(damping == 0 || damping == 1, "damping: invalid code");
  check_value(factor > 0 && std::isfinite(factor), "factor: expected a finite value > 0, got " + std::to_string(factor));
  check_value(!(damping == SC_DAMPING_MORE && geodesic), "geodesic: not available with damping='more'");
  o.damping = static_cast<Damping>(damping);
  o.factor = factor;
  return o;
}

// Builds the Batch view.  starts: (S, P) or (B, S, P) or None; lo/hi: (P,) or (B, P) or None.
template <class S>
Batch<S> make_batch(const Law& law, const std::vector<py::object>& xs, const py::array& y,
                    const py::object& mask, const py::object& sigma, const py::object& starts,
                    const py::object& lo, const py::object& hi) {
  Batch<S> b;
  checked_ptr<S>(y, "y");
  if (y.ndim() != 2) throw ValueError("y: expected a 2-D array (B, M), got shape " + shape_str(y));
  b.B = y.shape(0);
  b.M = y.shape(1);
  b.y = view2<S>(y, b.B, b.M, "y");
  if (static_cast<int>(xs.size()) != law.n_inputs)
    throw ValueError("x: law '" + law.name + "' takes " + std::to_string(law.n_inputs) + " inputs, got " +
                     std::to_string(xs.size()));
  b.n_inputs = law.n_inputs;
  for (int k = 0; k < law.n_inputs; ++k) b.x[k] = view2<S>(xs[k], b.B, b.M, "x");
  if (!mask.is_none()) b.mask = view2<uint8_t>(mask, b.B, b.M, "mask");
  b.sigma = view2<S>(sigma, b.B, b.M, "sigma");
  const int np = law.n_params;
  if (!starts.is_none()) {
    py::array s = py::reinterpret_borrow<py::array>(starts);
    b.starts = checked_ptr<S>(s, "starts");
    if (s.ndim() == 2) {
      if (s.shape(1) != np) check_shape(s, {s.shape(0), np}, "starts");
      b.S_count = static_cast<int>(s.shape(0));
      b.starts_stride_b = 0;
      b.starts_stride_s = np;
    } else if (s.ndim() == 3) {
      check_shape(s, {b.B, s.shape(1), np}, "starts");
      b.S_count = static_cast<int>(s.shape(1));
      b.starts_stride_b = s.shape(1) * np;
      b.starts_stride_s = np;
    } else {
      throw ValueError("starts: expected shape (S, P) or (B, S, P), got " + shape_str(s));
    }
    check_value(b.S_count >= 1, "starts: expected at least one start");
  }
  auto bound = [&](const py::object& o, const char* what, int64_t& stride) -> const S* {
    if (o.is_none()) return nullptr;
    py::array a = py::reinterpret_borrow<py::array>(o);
    const S* p = checked_ptr<S>(a, what);
    if (a.ndim() == 1) {
      check_shape(a, {np}, what);
      stride = 0;
    } else {
      check_shape(a, {b.B, np}, what);
      stride = np;
    }
    return p;
  };
  int64_t s_lo = 0, s_hi = 0;
  b.lo = bound(lo, "lower bounds", s_lo);
  b.hi = bound(hi, "upper bounds", s_hi);
  if ((b.lo != nullptr) != (b.hi != nullptr) || s_lo != s_hi)
    throw ValueError("bounds: lower and upper must both be given with the same shape");
  b.bounds_stride_b = s_lo;
  return b;
}


}  // namespace fitbind
}  // namespace sc
