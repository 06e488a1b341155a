// CUDA bindings of the fitting family: scalecore._cuda.fit_batch.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "fit/fit_cuda.h"
#include "fit_common.h"

namespace py = pybind11;
using namespace sc;
using namespace sc::fit;

namespace {

template <class S>
py::dict run(const Law& law, const std::vector<py::object>& xs, const py::array& y, const py::object& mask,
             const py::object& sigma, const py::object& starts, const py::object& lo, const py::object& hi,
             const Options& o) {
  if (starts.is_none()) throw ValueError("starts: the CUDA path needs explicit starts (pass p0 or starts)");
  Batch<S> b = fitbind::make_batch<S>(law, xs, y, mask, sigma, starts, lo, hi);
  const int64_t Q = b.B * b.S_count;
  const int np = law.n_params;
  py::array_t<S> params({Q, static_cast<int64_t>(np)});
  py::array_t<S> cost(Q);
  py::array_t<int8_t> status(Q);
  py::array_t<int32_t> n_iter(Q), nfev(Q);
  Outputs<S> out;
  out.params = params.mutable_data();
  out.cost = cost.mutable_data();
  out.status = status.mutable_data();
  out.n_iter = n_iter.mutable_data();
  out.nfev = nfev.mutable_data();
  const RawLaw dl = raw_law(law);
  {
    py::gil_scoped_release nogil;
    gpu::fit_batch(dl, law.prog.get(), b, o, out);
  }
  py::dict d;
  d["params"] = params;
  d["cost"] = cost;
  d["status"] = status;
  d["n_iter"] = n_iter;
  d["nfev"] = nfev;
  d["level"] = "cuda";
  d["vectorize"] = "thread-per-fit";
  d["S"] = b.S_count;
  return d;
}

}  // namespace

void bind_cuda_fit(py::module_& m) {
  m.def(
      "fit_batch",
      [](const Law& law, const std::vector<py::object>& xs, const py::array& y, const py::object& mask,
         const py::object& sigma, const py::object& starts, const py::object& lo, const py::object& hi, int max_iter,
         double xtol, double ftol, double gtol, int loss, double f_scale, int residual, bool geodesic, bool center,
         int damping, double factor) {
        const Options o = fitbind::make_options(max_iter, xtol, ftol, gtol, loss, f_scale, residual, geodesic, 1e-3,
                                                0, 0, center, 1, damping, factor);
        if (py::isinstance<py::array_t<float>>(y)) return run<float>(law, xs, y, mask, sigma, starts, lo, hi, o);
        return run<double>(law, xs, y, mask, sigma, starts, lo, hi, o);
      },
      py::arg("law"), py::arg("xs"), py::arg("y"), py::arg("mask"), py::arg("sigma"), py::arg("starts"),
      py::arg("lo"), py::arg("hi"), py::arg("max_iter"), py::arg("xtol"), py::arg("ftol"), py::arg("gtol"),
      py::arg("loss"), py::arg("f_scale"), py::arg("residual"), py::arg("geodesic"), py::arg("center"),
      py::arg("damping") = 0, py::arg("factor") = 100.0);
}
