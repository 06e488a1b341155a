// Bindings of the fitting family: thin wrappers over scalecore/fit/fit.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "common.h"
#include "fit_common.h"
#include "scalecore/fit/fit.h"

namespace py = pybind11;
using namespace sc;
using namespace sc::fit;

namespace {

using fitbind::make_batch;
using fitbind::make_options;
using fitbind::view2;

template <class S>
py::dict fit_impl(const Law& law, const std::vector<py::object>& xs, const py::array& y, const py::object& mask,
                  const py::object& sigma, const py::object& starts, const py::object& lo, const py::object& hi,
                  const Options& o, int covariance, bool absolute_sigma) {
  Batch<S> b = make_batch<S>(law, xs, y, mask, sigma, starts, lo, hi);
  const int64_t Q = b.B * b.S_count;
  const int np = law.n_params;
  py::array_t<S> params({Q, static_cast<int64_t>(np)});
  py::array_t<S> cost(Q);
  py::array_t<int8_t> status(Q);
  py::array_t<int32_t> n_iter(Q), nfev(Q), n_points(b.B);
  Outputs<S> out;
  out.params = params.mutable_data();
  out.cost = cost.mutable_data();
  out.status = status.mutable_data();
  out.n_iter = n_iter.mutable_data();
  out.nfev = nfev.mutable_data();
  out.n_points = n_points.mutable_data();
  // covariance: 0 none, 1 standard errors, 2 covariance and standard errors;
  // computed here only where fit_batch fuses it (float64, one start).
  py::object covo = py::none(), seo = py::none();
  if (covariance > 0 && std::is_same<S, double>::value && b.S_count == 1) {
    py::array_t<S> se({b.B, static_cast<int64_t>(np)});
    out.stderr_out = se.mutable_data();
    seo = se;
    if (covariance > 1) {
      py::array_t<S> c({b.B, static_cast<int64_t>(np), static_cast<int64_t>(np)});
      out.cov = c.mutable_data();
      covo = c;
    }
    out.absolute_sigma = absolute_sigma;
  }
  RunInfo info;
  {
    py::gil_scoped_release nogil;
    info = fit_batch<S>(law, b, o, out);
  }
  py::dict d;
  d["params"] = params;
  d["cost"] = cost;
  d["status"] = status;
  d["n_iter"] = n_iter;
  d["nfev"] = nfev;
  d["n_points"] = n_points;
  if (!seo.is_none()) {
    d["covariance"] = covo;
    d["stderr"] = seo;
  }
  d["level"] = info.level;
  d["vectorize"] = info.vectorize;
  d["S"] = b.S_count;
  return d;
}

template <class S>
py::tuple cov_impl(const Law& law, const std::vector<py::object>& xs, const py::array& y, const py::object& mask,
                   const py::object& sigma, const py::object& lo, const py::object& hi, const py::array& params,
                   const Options& o, bool absolute_sigma, bool want_cov) {
  Batch<S> b = make_batch<S>(law, xs, y, mask, sigma, py::none(), lo, hi);
  const int np = law.n_params;
  const S* p = checked_ptr<S>(params, "params");
  check_shape(params, {b.B, np}, "params");
  py::array_t<S> se({b.B, static_cast<int64_t>(np)});
  py::object covo = py::none();
  S* covp = nullptr;
  if (want_cov) {
    py::array_t<S> c({b.B, static_cast<int64_t>(np), static_cast<int64_t>(np)});
    covp = c.mutable_data();
    covo = c;
  }
  S* sep = se.mutable_data();
  {
    py::gil_scoped_release nogil;
    fit_covariance<S>(law, b, o, p, absolute_sigma, covp, sep);
  }
  return py::make_tuple(covo, se);
}

template <class S>
py::object predict_impl(const Law& law, const std::vector<py::object>& xs, int64_t B, int64_t M,
                        const py::array& params, bool want_jac) {
  if (static_cast<int>(xs.size()) != law.n_inputs)
    throw ValueError("x: law '" + law.name + "' takes " + std::to_string(law.n_inputs) + " inputs, got " +
                     std::to_string(xs.size()));
  View2<S> xv[kMaxInputs];
  for (int k = 0; k < law.n_inputs; ++k) xv[k] = view2<S>(xs[k], B, M, "x");
  const S* p = checked_ptr<S>(params, "params");
  const int np = law.n_params;
  int64_t stride = np;
  if (params.ndim() == 1) {
    check_shape(params, {np}, "params");
    stride = 0;
  } else {
    check_shape(params, {B, np}, "params");
  }
  py::array_t<S> out({B, M});
  S* o = out.mutable_data();
  py::array_t<S> jac;
  S* jp = nullptr;
  if (want_jac) {
    jac = py::array_t<S>({B, M, static_cast<int64_t>(np)});
    jp = jac.mutable_data();
  }
  {
    py::gil_scoped_release nogil;
    law_predict<S>(law, xv, law.n_inputs, B, M, p, stride, o, jp);
  }
  if (want_jac) return py::make_tuple(out, jac);
  return out;
}

bool is_f32(const py::array& a) { return py::isinstance<py::array_t<float>>(a); }

}  // namespace

void bind_fit(py::module_& m) {
  py::class_<Law>(m, "_Law")
      .def_readonly("id", &Law::id)
      .def_readonly("name", &Law::name)
      .def_readonly("n_params", &Law::n_params)
      .def_readonly("n_inputs", &Law::n_inputs)
      .def_readonly("n_features", &Law::n_features);

  m.def("law_catalog", [] {
    py::list out;
    for (const auto& i : law_catalog()) {
      py::dict d;
      d["name"] = i.name;
      d["formula"] = i.formula;
      d["params"] = i.params;
      d["inputs"] = i.inputs;
      d["transforms"] = i.transforms;
      d["lower"] = i.lo;
      d["upper"] = i.hi;
      out.append(d);
    }
    return out;
  });
  m.def("builtin_law", &builtin_law, py::arg("name"));
  m.def(
      "compile_expr",
      [](const std::vector<std::tuple<int, int, int, double>>& nodes, int out, int n_params, int n_inputs,
         const std::string& name) {
        std::vector<ExprNodeSpec> v;
        v.reserve(nodes.size());
        for (const auto& t : nodes) v.push_back({std::get<0>(t), std::get<1>(t), std::get<2>(t), std::get<3>(t)});
        return compile_expr(v, out, n_params, n_inputs, name);
      },
      py::arg("nodes"), py::arg("out"), py::arg("n_params"), py::arg("n_inputs"), py::arg("name"));
  m.def("expr_program_summary", [](const Law& law) {
    py::dict d;
    if (!law.prog) return d;
    d["n_prep"] = law.prog->n_prep;
    d["n_main"] = law.prog->n_main;
    d["n_features"] = law.prog->n_features;
    py::list kinds;
    for (int j = 0; j < law.prog->n_main; ++j) kinds.append(int(law.prog->main[j].kind));
    d["main_kinds"] = kinds;
    py::list terms;
    for (const auto& t : law.center)
      terms.append(py::make_tuple(int(t.kind), int(t.param), int(t.expo), int(t.feat), int(t.sign)));
    d["center"] = terms;
    return d;
  });

  m.def(
      "fit_batch",
      [](const Law& law, const std::vector<py::object>& xs, const py::array& y, const py::object& mask,
         const py::object& sigma, const py::object& starts, const py::object& lo, const py::object& hi, int max_iter,
         double xtol, double ftol, double gtol, int loss, double f_scale, int residual, bool geodesic,
         double damping_init, int vectorize, int n_threads, bool center, int scaling, int covariance,
         bool absolute_sigma, int damping, double factor) {
        const Options o = make_options(max_iter, xtol, ftol, gtol, loss, f_scale, residual, geodesic, damping_init,
                                       vectorize, n_threads, center, scaling, damping, factor);
        check_value(covariance >= 0 && covariance <= 2, "covariance: expected 0, 1 or 2");
        if (is_f32(y)) return fit_impl<float>(law, xs, y, mask, sigma, starts, lo, hi, o, covariance, absolute_sigma);
        return fit_impl<double>(law, xs, y, mask, sigma, starts, lo, hi, o, covariance, absolute_sigma);
      },
      py::arg("law"), py::arg("xs"), py::arg("y"), py::arg("mask"), py::arg("sigma"), py::arg("starts"),
      py::arg("lo"), py::arg("hi"), py::arg("max_iter"), py::arg("xtol"), py::arg("ftol"), py::arg("gtol"),
      py::arg("loss"), py::arg("f_scale"), py::arg("residual"), py::arg("geodesic"), py::arg("damping_init"),
      py::arg("vectorize"), py::arg("n_threads"), py::arg("center") = true, py::arg("scaling") = 1,
      py::arg("covariance") = 0, py::arg("absolute_sigma") = false, py::arg("damping") = 0,
      py::arg("factor") = 100.0);

  m.def(
      "fit_covariance",
      [](const Law& law, const std::vector<py::object>& xs, const py::array& y, const py::object& mask,
         const py::object& sigma, const py::object& lo, const py::object& hi, const py::array& params, int loss,
         double f_scale, int residual, bool absolute_sigma, bool want_cov, int n_threads) {
        const Options o = make_options(1, 0, 0, 0, loss, f_scale, residual, false, 1e-3, 0, n_threads);
        if (is_f32(y)) return cov_impl<float>(law, xs, y, mask, sigma, lo, hi, params, o, absolute_sigma, want_cov);
        return cov_impl<double>(law, xs, y, mask, sigma, lo, hi, params, o, absolute_sigma, want_cov);
      },
      py::arg("law"), py::arg("xs"), py::arg("y"), py::arg("mask"), py::arg("sigma"), py::arg("lo"), py::arg("hi"),
      py::arg("params"), py::arg("loss"), py::arg("f_scale"), py::arg("residual"), py::arg("absolute_sigma"),
      py::arg("want_cov"), py::arg("n_threads") = 0);

  m.def(
      "law_predict",
      [](const Law& law, const std::vector<py::object>& xs, int64_t B, int64_t M, const py::array& params,
         bool jacobian) {
        if (is_f32(params)) return predict_impl<float>(law, xs, B, M, params, jacobian);
        return predict_impl<double>(law, xs, B, M, params, jacobian);
      },
      py::arg("law"), py::arg("xs"), py::arg("B"), py::arg("M"), py::arg("params"), py::arg("jacobian") = false);

  m.def(
      "default_starts",
      [](const Law& law, const std::vector<py::object>& xs, const py::array& y, const py::object& mask,
         const py::object& sigma, const py::object& lo, const py::object& hi, int residual) -> py::array {
        const Options o = make_options(1, 0, 0, 0, 0, 1.0, residual, false, 1e-3, 0, 0);
        auto go = [&](auto tag) -> py::array {
          using S = decltype(tag);
          Batch<S> b = make_batch<S>(law, xs, y, mask, sigma, py::none(), lo, hi);
          py::array_t<S> p0({b.B, static_cast<int64_t>(law.n_params)});
          S* d = p0.mutable_data();
          {
            py::gil_scoped_release nogil;
            default_starts<S>(law, b, o, d);
          }
          return p0;
        };
        if (is_f32(y)) return go(float{});
        return go(double{});
      },
      py::arg("law"), py::arg("xs"), py::arg("y"), py::arg("mask"), py::arg("sigma"), py::arg("lo"), py::arg("hi"),
      py::arg("residual"));

  // The CUDA kernel's per-problem code run on the CPU (tests of the GPU path).
  m.def(
      "_fit_batch_raw",
      [](const Law& law, const std::vector<py::object>& xs, const py::array& y, const py::object& mask,
         const py::object& sigma, const py::object& starts, const py::object& lo, const py::object& hi, int max_iter,
         double xtol, double ftol, double gtol, int loss, double f_scale, int residual, bool geodesic, bool center) {
        if (starts.is_none()) throw ValueError("starts: the raw path needs explicit starts");
        const Options o = make_options(max_iter, xtol, ftol, gtol, loss, f_scale, residual, geodesic, 1e-3, 0, 0,
                                       center);
        auto go = [&](auto tag) -> py::dict {
          using S = decltype(tag);
          Batch<S> b = make_batch<S>(law, xs, y, mask, sigma, starts, lo, hi);
          const int64_t Q = b.B * b.S_count;
          const int np = law.n_params;
          py::array_t<S> params({Q, static_cast<int64_t>(np)});
          py::array_t<S> cost(Q);
          py::array_t<int8_t> status(Q);
          py::array_t<int32_t> n_iter(Q), nfev(Q);
          RawArgs<S> a;
          a.B = b.B;
          a.M = b.M;
          a.nin = b.n_inputs;
          a.S_count = b.S_count;
          for (int k = 0; k < b.n_inputs; ++k) {
            a.x[k] = b.x[k].data;
            a.xs[k] = b.x[k].stride_b;
          }
          a.y = b.y.data;
          a.ys = b.y.stride_b;
          a.mask = b.mask.data;
          a.ms = b.mask.stride_b;
          a.sigma = b.sigma.data;
          a.ss = b.sigma.stride_b;
          a.starts = b.starts;
          a.st_b = b.starts_stride_b;
          a.st_s = b.starts_stride_s;
          a.lo = b.lo;
          a.hi = b.hi;
          a.bs = b.bounds_stride_b;
          a.params = params.mutable_data();
          a.cost = cost.mutable_data();
          a.status = status.mutable_data();
          a.n_iter = n_iter.mutable_data();
          a.nfev = nfev.mutable_data();
          {
            py::gil_scoped_release nogil;
            fit_batch_raw_cpu<S>(law, a, o);
          }
          py::dict d;
          d["params"] = params;
          d["cost"] = cost;
          d["status"] = status;
          d["n_iter"] = n_iter;
          d["nfev"] = nfev;
          d["level"] = "raw-cpu";
          d["vectorize"] = "none";
          d["S"] = b.S_count;
          return d;
        };
        if (is_f32(y)) return go(float{});
        return go(double{});
      },
      py::arg("law"), py::arg("xs"), py::arg("y"), py::arg("mask"), py::arg("sigma"), py::arg("starts"),
      py::arg("lo"), py::arg("hi"), py::arg("max_iter"), py::arg("xtol"), py::arg("ftol"), py::arg("gtol"),
      py::arg("loss"), py::arg("f_scale"), py::arg("residual"), py::arg("geodesic"), py::arg("center"));

  m.def("choose_vectorize", [](const Law& law, int64_t M, bool is_float) {
    const Vectorize v = choose_vectorize(law, M, is_float, SC_VEC_AUTO);
    return std::string(v == SC_VEC_FITS ? "fits" : "points");
  });
}
