// Bindings of the fitting family: thin wrappers over scalecore/fit/fit.h.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "common.h"
#include "scalecore/fit/fit.h"

namespace py = pybind11;
using namespace sc;
using namespace sc::fit;

namespace {

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

Options make_options(int max_iter, double xtol, double ftol, double gtol, int loss, double f_scale,
                     int residual, bool geodesic, double damping_init, int vectorize, int n_threads,
                     bool center = true) {
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

template <class S>
py::dict fit_impl(const Law& law, const std::vector<py::object>& xs, const py::array& y, const py::object& mask,
                  const py::object& sigma, const py::object& starts, const py::object& lo, const py::object& hi,
                  const Options& o) {
  Batch<S> b = make_batch<S>(law, xs, y, mask, sigma, starts, lo, hi);
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
py::array predict_impl(const Law& law, const std::vector<py::object>& xs, int64_t B, int64_t M,
                       const py::array& params) {
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
  {
    py::gil_scoped_release nogil;
    law_predict<S>(law, xv, law.n_inputs, B, M, p, stride, o);
  }
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
    return d;
  });

  m.def(
      "fit_batch",
      [](const Law& law, const std::vector<py::object>& xs, const py::array& y, const py::object& mask,
         const py::object& sigma, const py::object& starts, const py::object& lo, const py::object& hi, int max_iter,
         double xtol, double ftol, double gtol, int loss, double f_scale, int residual, bool geodesic,
         double damping_init, int vectorize, int n_threads, bool center) {
        const Options o = make_options(max_iter, xtol, ftol, gtol, loss, f_scale, residual, geodesic, damping_init,
                                       vectorize, n_threads, center);
        if (is_f32(y)) return fit_impl<float>(law, xs, y, mask, sigma, starts, lo, hi, o);
        return fit_impl<double>(law, xs, y, mask, sigma, starts, lo, hi, o);
      },
      py::arg("law"), py::arg("xs"), py::arg("y"), py::arg("mask"), py::arg("sigma"), py::arg("starts"),
      py::arg("lo"), py::arg("hi"), py::arg("max_iter"), py::arg("xtol"), py::arg("ftol"), py::arg("gtol"),
      py::arg("loss"), py::arg("f_scale"), py::arg("residual"), py::arg("geodesic"), py::arg("damping_init"),
      py::arg("vectorize"), py::arg("n_threads"), py::arg("center") = true);

  m.def(
      "fit_covariance",
      [](const Law& law, const std::vector<py::object>& xs, const py::array& y, const py::object& mask,
         const py::object& sigma, const py::object& lo, const py::object& hi, const py::array& params, int loss,
         double f_scale, int residual, bool absolute_sigma, bool want_cov) {
        const Options o = make_options(1, 0, 0, 0, loss, f_scale, residual, false, 1e-3, 0, 0);
        if (is_f32(y)) return cov_impl<float>(law, xs, y, mask, sigma, lo, hi, params, o, absolute_sigma, want_cov);
        return cov_impl<double>(law, xs, y, mask, sigma, lo, hi, params, o, absolute_sigma, want_cov);
      },
      py::arg("law"), py::arg("xs"), py::arg("y"), py::arg("mask"), py::arg("sigma"), py::arg("lo"), py::arg("hi"),
      py::arg("params"), py::arg("loss"), py::arg("f_scale"), py::arg("residual"), py::arg("absolute_sigma"),
      py::arg("want_cov"));

  m.def(
      "law_predict",
      [](const Law& law, const std::vector<py::object>& xs, int64_t B, int64_t M, const py::array& params) {
        if (is_f32(params)) return predict_impl<float>(law, xs, B, M, params);
        return predict_impl<double>(law, xs, B, M, params);
      },
      py::arg("law"), py::arg("xs"), py::arg("B"), py::arg("M"), py::arg("params"));

  m.def("choose_vectorize", [](const Law& law, int64_t M, bool is_float) {
    const Vectorize v = choose_vectorize(law, M, is_float, SC_VEC_AUTO);
    return std::string(v == SC_VEC_FITS ? "fits" : "points");
  });
}
