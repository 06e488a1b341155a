// CUDA bindings of the OT family (registered from cuda_module.cc by
// bind_cuda_ot).  Host arrays in and out; the launchers (cuda/ot/
// sinkhorn_cuda.h) move the data.  The GIL is released around the kernels.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "common.h"
#include "ot/sinkhorn_cuda.h"

namespace py = pybind11;

namespace {

// The outputs every CUDA Sinkhorn returns, for B problems of n x m.
sc::ot::cuda::SinkhornCudaOut outputs(py::dict& d, int64_t B, int64_t n, int64_t m, bool batched) {
  sc::ot::cuda::SinkhornCudaOut out;
  out.f = batched ? sc::out_array<double>(d, "f", {B, n}) : sc::out_array<double>(d, "f", {n});
  out.g = batched ? sc::out_array<double>(d, "g", {B, m}) : sc::out_array<double>(d, "g", {m});
  out.cost = sc::out_array<double>(d, "cost", {B});
  out.err = sc::out_array<double>(d, "err", {B});
  out.n_iter = sc::out_array<int32_t>(d, "n_iter", {B});
  out.status = sc::out_array<int8_t>(d, "status", {B});
  return out;
}

template <class S>
py::dict batch(const py::array& C, const py::array& a, const py::array& b, const py::array& eps, double tol,
               int max_iter, int check_every) {
  if (C.ndim() != 3) throw sc::ValueError("M: expected (B, n, m), got " + sc::shape_str(C));
  const int64_t B = C.shape(0), n = C.shape(1), m = C.shape(2);
  const S* Cp = sc::checked_ptr<S>(C, "M");
  const double* ap = sc::checked_ptr<double>(a, "a");
  const double* bp = sc::checked_ptr<double>(b, "b");
  const double* ep = sc::checked_ptr<double>(eps, "eps");
  sc::check_shape(a, {B, n}, "a");
  sc::check_shape(b, {B, m}, "b");
  sc::check_shape(eps, {B}, "eps");
  py::dict d;
  const sc::ot::cuda::SinkhornCudaOut out = outputs(d, B, n, m, true);
  {
    py::gil_scoped_release nogil;
    sc::ot::cuda::sinkhorn_batch_cuda(Cp, ap, bp, ep, B, n, m, tol, max_iter, check_every, out);
  }
  return d;
}

}  // namespace

void bind_cuda_ot(py::module_& m) {
  m.def(
      "ot_sinkhorn_batch",
      [](const py::array& C, const py::array& a, const py::array& b, const py::array& eps, double tol,
         int max_iter, int check_every) {
        if (py::isinstance<py::array_t<float>>(C)) return batch<float>(C, a, b, eps, tol, max_iter, check_every);
        return batch<double>(C, a, b, eps, tol, max_iter, check_every);
      },
      py::arg("M"), py::arg("a"), py::arg("b"), py::arg("eps"), py::arg("tol"), py::arg("max_iter"),
      py::arg("check_every"));
  m.def(
      "ot_sinkhorn_tiled",
      [](const py::array& x, const py::array& y, const py::array& a, const py::array& b, double eps, int metric,
         double p, double tol, int max_iter, int check_every) {
        if (x.ndim() != 2 || y.ndim() != 2) throw sc::ValueError("x, y: expected 2-D float32 arrays");
        const int64_t n = x.shape(0), mm = y.shape(0), d = x.shape(1);
        if (y.shape(1) != d) throw sc::ValueError("y: expected " + std::to_string(d) + " features like x");
        const float* xp = sc::checked_ptr<float>(x, "x");
        const float* yp = sc::checked_ptr<float>(y, "y");
        const double* ap = sc::checked_ptr<double>(a, "a");
        const double* bp = sc::checked_ptr<double>(b, "b");
        sc::check_shape(a, {n}, "a");
        sc::check_shape(b, {mm}, "b");
        py::dict res;
        const sc::ot::cuda::SinkhornCudaOut out = outputs(res, 1, n, mm, false);
        {
          py::gil_scoped_release nogil;
          sc::ot::cuda::sinkhorn_tiled_cuda(xp, yp, n, mm, d, ap, bp, eps, metric, p, tol, max_iter, check_every,
                                            out);
        }
        return res;
      },
      py::arg("x"), py::arg("y"), py::arg("a"), py::arg("b"), py::arg("eps"), py::arg("metric"), py::arg("p"),
      py::arg("tol"), py::arg("max_iter"), py::arg("check_every"));
}
