// Bindings of the OT family: a thin adapter over scalecore/ot/ot.h.  The
// Python layer (scalecore/ot) normalises shapes and dtypes and validates
// user input first; these checks repeat the contract at the C++ boundary.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <limits>
#include <string>

#include "common.h"
#include "scalecore/ot/cost_math.h"
#include "scalecore/ot/kernel_api.h"
#include "scalecore/ot/ot.h"
#include "scalecore/ot/sinkhorn_math.h"

namespace py = pybind11;
using namespace sc;
using namespace sc::ot;

namespace {

bool is_f32(const py::object& o) { return !o.is_none() && py::isinstance<py::array_t<float>>(o); }

// Pointer and batch stride of a (B, k...) or (k...) array (stride 0 = shared).
template <class T>
const T* batched(const py::object& o, int core_ndim, int64_t B, int64_t* stride, const char* name) {
  if (o.is_none()) {
    *stride = 0;
    return nullptr;
  }
  py::array a = py::reinterpret_borrow<py::array>(o);
  const T* p = checked_ptr<T>(a, name);
  if (a.ndim() == core_ndim) {
    *stride = 0;
  } else if (a.ndim() == core_ndim + 1) {
    if (a.shape(0) != B)
      throw ValueError(std::string(name) + ": expected a leading batch dimension of " + std::to_string(B) +
                       ", got shape " + shape_str(a));
    int64_t s = 1;
    for (int k = 1; k < a.ndim(); ++k) s *= a.shape(k);
    *stride = s;
  } else {
    throw ValueError(std::string(name) + ": expected " + std::to_string(core_ndim) + " or " +
                     std::to_string(core_ndim + 1) + " dimensions, got shape " + shape_str(a));
  }
  return p;
}

// The last dimension of a weight array must match its side of the costs.
void check_weight_count(const py::array& w, int64_t n, const char* name) {
  if (w.shape(w.ndim() - 1) != n) throw ValueError(std::string(name) + ": expected " + std::to_string(n) + " weights");
}

const int64_t* sizes(const py::object& o, int64_t B, const char* name) {
  if (o.is_none()) return nullptr;
  py::array a = py::reinterpret_borrow<py::array>(o);
  const int64_t* p = checked_ptr<int64_t>(a, name);
  check_shape(a, {B}, name);
  return p;
}

template <class S>
py::dict sinkhorn_impl(const py::object& C, const py::object& x, const py::object& y, const py::array& a,
                       const py::array& b, int64_t B, int64_t nmax, int64_t mmax, const py::object& n_b,
                       const py::object& m_b, const py::object& eps_b, const py::object& f0, const py::object& g0,
                       int metric, double p, const py::object& lx, const py::object& ly, const py::object& table,
                       const SinkhornOptions& o, bool want_plan, bool want_kl, bool want_bary, bool want_mass,
                       int impl) {
  SinkhornBatch<S> bt;
  bt.B = B;
  bt.nmax = nmax;
  bt.mmax = mmax;
  bt.n_b = sizes(n_b, B, "n_b");
  bt.m_b = sizes(m_b, B, "m_b");
  if (!C.is_none()) {
    bt.C = batched<S>(C, 2, B, &bt.c_stride, "M");
    py::array Ca = py::reinterpret_borrow<py::array>(C);
    if (Ca.shape(Ca.ndim() - 2) != nmax || Ca.shape(Ca.ndim() - 1) != mmax)
      throw ValueError("M: expected (..., " + std::to_string(nmax) + ", " + std::to_string(mmax) + "), got " +
                       shape_str(Ca));
  } else {
    if (x.is_none() || y.is_none()) throw ValueError("x, y: both are needed when M is not given");
    bt.x = batched<S>(x, 2, B, &bt.x_stride, "x");
    bt.y = batched<S>(y, 2, B, &bt.y_stride, "y");
    py::array xa = py::reinterpret_borrow<py::array>(x), ya = py::reinterpret_borrow<py::array>(y);
    bt.d = xa.shape(xa.ndim() - 1);
    if (ya.shape(ya.ndim() - 1) != bt.d)
      throw ValueError("y: expected " + std::to_string(bt.d) + " features like x, got shape " + shape_str(ya));
    if (xa.shape(xa.ndim() - 2) != nmax || ya.shape(ya.ndim() - 2) != mmax)
      throw ValueError("x, y: point counts do not match the weights");
    bt.metric = metric;
    bt.p = p;
    if (!table.is_none()) {
      py::array t = py::reinterpret_borrow<py::array>(table);
      bt.labels.table = checked_ptr<double>(t, "label_cost");
      if (t.ndim() != 2) throw ValueError("label_cost: expected a 2-D table, got " + shape_str(t));
      bt.labels.ldt = t.shape(1);
      bt.labels.lx = batched<int32_t>(lx, 1, B, &bt.lx_stride, "x_labels");
      bt.labels.ly = batched<int32_t>(ly, 1, B, &bt.ly_stride, "y_labels");
      if (!bt.labels.lx || !bt.labels.ly) throw ValueError("x_labels, y_labels: needed with label_cost");
    }
  }
  bt.a = batched<double>(a, 1, B, &bt.a_stride, "a");
  bt.b = batched<double>(b, 1, B, &bt.b_stride, "b");
  check_weight_count(a, nmax, "a");
  check_weight_count(b, mmax, "b");
  if (!eps_b.is_none()) {
    py::array e = py::reinterpret_borrow<py::array>(eps_b);
    bt.eps_b = checked_ptr<double>(e, "eps");
    check_shape(e, {B}, "eps");
  }
  int64_t s0 = 0;
  if (!f0.is_none()) {
    bt.f0 = batched<double>(f0, 1, B, &s0, "f0");
    check_shape(py::reinterpret_borrow<py::array>(f0), {B, nmax}, "f0");
  }
  if (!g0.is_none()) {
    bt.g0 = batched<double>(g0, 1, B, &s0, "g0");
    check_shape(py::reinterpret_borrow<py::array>(g0), {B, mmax}, "g0");
  }
  py::dict d;
  SinkhornBatchOut<S> out;
  out.f = out_array<double>(d, "f", {B, nmax});
  out.g = out_array<double>(d, "g", {B, mmax});
  out.cost = out_array<double>(d, "cost", {B});
  out.objective = out_array<double>(d, "objective", {B});
  out.err = out_array<double>(d, "err", {B});
  out.mass = out_array<double>(d, "mass", {B});
  out.n_iter = out_array<int32_t>(d, "n_iter", {B});
  out.status = out_array<int8_t>(d, "status", {B});
  if (want_plan) out.plan = out_array<S>(d, "plan", {B, nmax, mmax});
  if (want_kl) {
    out.f_kl = out_array<double>(d, "f_kl", {B, nmax});
    out.g_kl = out_array<double>(d, "g_kl", {B, mmax});
  }
  if (want_mass) {
    out.row_mass = out_array<double>(d, "row_mass", {B, nmax});
    out.col_mass = out_array<double>(d, "col_mass", {B, mmax});
  }
  if (want_bary) {
    if (bt.C) throw ValueError("bary: the barycentric maps need x and y (the tiled mode)");
    out.bary_x = out_array<double>(d, "bary_x", {B, nmax, bt.d});
    out.bary_y = out_array<double>(d, "bary_y", {B, mmax, bt.d});
  }
  {
    py::gil_scoped_release nogil;
    ot_sinkhorn<S>(bt, o, out, impl);
  }
  return d;
}

template <class S>
py::dict emd_impl(const py::array& C, const py::array& a, const py::array& b, int64_t B, const py::object& n_b,
                  const py::object& m_b, const EmdOptions& o, int impl) {
  EmdBatch<S> bt;
  bt.B = B;
  bt.nmax = C.shape(C.ndim() - 2);
  bt.mmax = C.shape(C.ndim() - 1);
  bt.C = batched<S>(C, 2, B, &bt.c_stride, "M");
  bt.a = batched<double>(a, 1, B, &bt.a_stride, "a");
  bt.b = batched<double>(b, 1, B, &bt.b_stride, "b");
  check_weight_count(a, bt.nmax, "a");
  check_weight_count(b, bt.mmax, "b");
  bt.n_b = sizes(n_b, B, "n_b");
  bt.m_b = sizes(m_b, B, "m_b");
  const int64_t cap = std::max<int64_t>(bt.nmax + bt.mmax - 1, 0);
  py::dict d;
  EmdBatchOut out;
  out.f = out_array<double>(d, "f", {B, bt.nmax});
  out.g = out_array<double>(d, "g", {B, bt.mmax});
  out.plan_rows = out_array<int32_t>(d, "rows", {B, cap});
  out.plan_cols = out_array<int32_t>(d, "cols", {B, cap});
  out.plan_vals = out_array<double>(d, "vals", {B, cap});
  out.plan_nnz = out_array<int64_t>(d, "nnz", {B});
  out.cost = out_array<double>(d, "cost", {B});
  out.n_iter = out_array<int64_t>(d, "n_iter", {B});
  out.status = out_array<int8_t>(d, "status", {B});
  {
    py::gil_scoped_release nogil;
    ot_emd<S>(bt, o, out, impl);
  }
  return d;
}

template <class S>
py::dict emd1d_impl(const py::array& x, const py::array& y, const py::object& a, const py::object& b, int64_t B,
                    double p, bool want_plan, int n_threads) {
  Emd1dArgs<S> A;
  A.B = B;
  A.n = x.shape(x.ndim() - 1);
  A.m = y.shape(y.ndim() - 1);
  A.x = batched<S>(x, 1, B, &A.x_stride, "x");
  A.y = batched<S>(y, 1, B, &A.y_stride, "y");
  A.a = batched<double>(a, 1, B, &A.a_stride, "a");
  A.b = batched<double>(b, 1, B, &A.b_stride, "b");
  A.p = p;
  const int64_t cap = std::max<int64_t>(A.n + A.m - 1, 0);
  py::dict d;
  Emd1dOut out;
  out.cost = out_array<double>(d, "cost", {B});
  out.status = out_array<int8_t>(d, "status", {B});
  out.f = out_array<double>(d, "f", {B, A.n});
  out.g = out_array<double>(d, "g", {B, A.m});
  if (want_plan) {
    out.plan_rows = out_array<int32_t>(d, "rows", {B, cap});
    out.plan_cols = out_array<int32_t>(d, "cols", {B, cap});
    out.plan_vals = out_array<double>(d, "vals", {B, cap});
    out.plan_nnz = out_array<int64_t>(d, "nnz", {B});
  }
  {
    py::gil_scoped_release nogil;
    ot_emd_1d<S>(A, out, n_threads);
  }
  return d;
}

}  // namespace

void bind_ot(py::module_& m) {
  // The SC_HD per-element math the CUDA kernels share, for CPU tests.
  m.def("_ot_hd_lse_merge", [](double m1, double s1, double m2, double s2) {
    sc::ot::lse_merge(m1, s1, m2, s2);
    return py::make_tuple(m1, s1);
  });
  m.def("_ot_hd_potential", &sc::ot::sinkhorn_potential);
  m.def("_ot_hd_lambda", &sc::ot::sinkhorn_lambda);
  m.def("_ot_hd_kl", &sc::ot::kl_term);
  m.def("_ot_hd_log_scaling", &sc::ot::sinkhorn_log_scaling);
  m.def("_ot_hd_metric", [](int metric, double dot, double nx2, double ny2, double p) {
    return sc::ot::metric_power(sc::ot::metric_from_dot<double>(metric, dot, nx2, ny2), p);
  });

  m.def("ot_metric_names", [] {
    std::vector<std::string> v;
#define SC_OT_METRIC(NAME, ID, PYNAME) v.emplace_back(PYNAME);
#include "scalecore/ot/metrics.def"
#undef SC_OT_METRIC
    return v;
  });
  m.def("_ot_emd_kernel_check", [](int64_t n, int64_t m, uint64_t seed) {
    if (n < 1 || m < 1) throw ValueError("n, m: expected >= 1");
    return sc::ot::emd_kernel_check(n, m, seed);
  }, py::arg("n"), py::arg("m"), py::arg("seed") = 0);
  m.def("_ot_scale_kernel_check", [](int64_t n, uint64_t seed) {
    if (n < 1) throw ValueError("n: expected >= 1");
    return sc::ot::scale_kernel_check(n, seed);
  }, py::arg("n"), py::arg("seed") = 0);
  m.def("ot_kernels_name", [](bool f32, int impl) {
    return std::string(f32 ? ot_kernels<float>(impl).name : ot_kernels<double>(impl).name);
  });

  m.def(
      "ot_cost_matrix",
      [](const py::array& x, const py::array& y, int metric, double p, const py::object& lx, const py::object& ly,
         const py::object& table, int impl, int n_threads) -> py::array {
        if (x.ndim() != 2 || y.ndim() != 2) throw ValueError("x, y: expected 2-D arrays (points x features)");
        const int64_t n = x.shape(0), mm = y.shape(0), d = x.shape(1);
        if (y.shape(1) != d)
          throw ValueError("y: expected " + std::to_string(d) + " features like x, got shape " + shape_str(y));
        CostLabels L;
        if (!table.is_none()) {
          py::array t = py::reinterpret_borrow<py::array>(table);
          L.table = checked_ptr<double>(t, "label_cost");
          L.ldt = t.shape(1);
          py::array lxa = py::reinterpret_borrow<py::array>(lx), lya = py::reinterpret_borrow<py::array>(ly);
          L.lx = checked_ptr<int32_t>(lxa, "x_labels");
          L.ly = checked_ptr<int32_t>(lya, "y_labels");
          check_shape(lxa, {n}, "x_labels");
          check_shape(lya, {mm}, "y_labels");
        }
        if (is_f32(x)) {
          py::array_t<float> out({n, mm});
          const float* xp = checked_ptr<float>(x, "x");
          const float* yp = checked_ptr<float>(y, "y");
          float* o = out.mutable_data();
          py::gil_scoped_release nogil;
          ot_cost_matrix<float>(xp, yp, n, mm, d, metric, p, o, L, impl, n_threads);
          return std::move(out);
        }
        py::array_t<double> out({n, mm});
        const double* xp = checked_ptr<double>(x, "x");
        const double* yp = checked_ptr<double>(y, "y");
        double* o = out.mutable_data();
        py::gil_scoped_release nogil;
        ot_cost_matrix<double>(xp, yp, n, mm, d, metric, p, o, L, impl, n_threads);
        return std::move(out);
      },
      py::arg("x"), py::arg("y"), py::arg("metric"), py::arg("p"), py::arg("x_labels") = py::none(),
      py::arg("y_labels") = py::none(), py::arg("label_cost") = py::none(), py::arg("impl") = 0,
      py::arg("n_threads") = 0);

  m.def(
      "ot_sinkhorn",
      [](const py::object& C, const py::object& x, const py::object& y, const py::array& a, const py::array& b,
         int64_t B, int64_t nmax, int64_t mmax, const py::object& n_b, const py::object& m_b, double eps,
         const py::object& eps_b, double tol, int max_iter, double rho_a, double rho_b, int reference,
         double eps_scaling, double eps_init, int kernel, double absorb, int check_every, bool accelerate, bool symmetric, const py::object& f0,
         const py::object& g0,
         int metric, double p, const py::object& lx, const py::object& ly, const py::object& table, bool want_plan,
         bool want_kl, bool want_bary, bool want_mass, int impl, int n_threads) {
        SinkhornOptions o;
        o.eps = eps;
        o.tol = tol;
        o.max_iter = max_iter;
        o.rho_a = rho_a;
        o.rho_b = rho_b;
        check_value(reference == 0 || reference == 1, "reg_type: invalid code");
        o.reference = static_cast<Reference>(reference);
        o.eps_scaling = eps_scaling;
        o.eps_init = eps_init;
        check_value(kernel >= 0 && kernel <= 3, "kernel: invalid code");
        o.kernel = static_cast<KernelMode>(kernel);
        check_value(absorb > 0, "absorb: expected a value > 0");
        o.absorb = absorb;
        check_value(check_every >= 1, "check_every: expected an integer >= 1");
        o.check_every = check_every;
        o.accelerate = accelerate;
        o.symmetric = symmetric;
        o.n_threads = n_threads;
        const bool f32 = is_f32(C) || (C.is_none() && is_f32(x));
        if (f32)
          return sinkhorn_impl<float>(C, x, y, a, b, B, nmax, mmax, n_b, m_b, eps_b, f0, g0, metric, p, lx, ly,
                                      table, o, want_plan, want_kl, want_bary, want_mass, impl);
        return sinkhorn_impl<double>(C, x, y, a, b, B, nmax, mmax, n_b, m_b, eps_b, f0, g0, metric, p, lx, ly,
                                     table, o, want_plan, want_kl, want_bary, want_mass, impl);
      },
      py::arg("M"), py::arg("x"), py::arg("y"), py::arg("a"), py::arg("b"), py::arg("B"), py::arg("nmax"),
      py::arg("mmax"), py::arg("n_b"), py::arg("m_b"), py::arg("eps"), py::arg("eps_b"), py::arg("tol"),
      py::arg("max_iter"), py::arg("rho_a"), py::arg("rho_b"), py::arg("reference"), py::arg("eps_scaling"),
      py::arg("eps_init"), py::arg("kernel"), py::arg("absorb"), py::arg("check_every"), py::arg("accelerate"), py::arg("symmetric"), py::arg("f0"), py::arg("g0"), py::arg("metric"),
      py::arg("p"), py::arg("x_labels"), py::arg("y_labels"), py::arg("label_cost"), py::arg("want_plan"),
      py::arg("want_kl"), py::arg("want_bary"), py::arg("want_mass"), py::arg("impl"), py::arg("n_threads"));

  m.def(
      "ot_emd",
      [](const py::array& C, const py::array& a, const py::array& b, int64_t B, const py::object& n_b,
         const py::object& m_b, int64_t max_iter, int64_t block, bool assignment, int impl, int n_threads,
         int start, int solver) {
        if (start < 0 || start > 2) throw ValueError("start: expected 0 (auto), 1 (Vogel) or 2 (row minimum)");
        if (solver < 0 || solver > 2) throw ValueError("solver: expected 0 (auto), 1 (simplex) or 2 (ssp)");
        EmdOptions o;
        o.solver = solver;
        o.assignment = assignment;
        o.start = start;
        o.max_iter = max_iter;
        o.block_size = block;
        o.n_threads = n_threads;
        if (C.ndim() < 2) throw ValueError("M: expected a 2-D or 3-D array, got " + shape_str(C));
        if (is_f32(C)) return emd_impl<float>(C, a, b, B, n_b, m_b, o, impl);
        return emd_impl<double>(C, a, b, B, n_b, m_b, o, impl);
      },
      py::arg("M"), py::arg("a"), py::arg("b"), py::arg("B"), py::arg("n_b"), py::arg("m_b"), py::arg("max_iter"),
      py::arg("block"), py::arg("assignment"), py::arg("impl"), py::arg("n_threads"), py::arg("start") = 0,
      py::arg("solver") = 0);

  m.def(
      "ot_emd_1d",
      [](const py::array& x, const py::array& y, const py::object& a, const py::object& b, int64_t B, double p,
         bool want_plan, int n_threads) {
        if (!(p >= 1) || !std::isfinite(p))
          throw ValueError("p: exact 1-D OT by sorting needs a convex cost, p >= 1; got " + std::to_string(p));
        if (is_f32(x)) return emd1d_impl<float>(x, y, a, b, B, p, want_plan, n_threads);
        return emd1d_impl<double>(x, y, a, b, B, p, want_plan, n_threads);
      },
      py::arg("x"), py::arg("y"), py::arg("a"), py::arg("b"), py::arg("B"), py::arg("p"), py::arg("want_plan"),
      py::arg("n_threads"));

  m.def(
      "ot_sliced",
      [](const py::array& x, const py::array& y, const py::object& a, const py::object& b, const py::array& dirs,
         double p, int n_threads) -> py::array {
        if (!(p >= 1) || !std::isfinite(p))
          throw ValueError("p: sliced Wasserstein needs p >= 1, got " + std::to_string(p));
        const int64_t n = x.shape(0), mm = y.shape(0), d = x.shape(1), K = dirs.shape(1);
        check_shape(dirs, {d, K}, "projections");
        const double* dp = checked_ptr<double>(dirs, "projections");
        int64_t s = 0;
        const double* ap = batched<double>(a, 1, 1, &s, "a");
        const double* bp = batched<double>(b, 1, 1, &s, "b");
        py::array_t<double> out(K);
        double* o = out.mutable_data();
        if (is_f32(x)) {
          const float* xp = checked_ptr<float>(x, "x");
          const float* yp = checked_ptr<float>(y, "y");
          py::gil_scoped_release nogil;
          ot_sliced<float>(xp, yp, n, mm, d, ap, bp, dp, K, p, o, n_threads);
        } else {
          const double* xp = checked_ptr<double>(x, "x");
          const double* yp = checked_ptr<double>(y, "y");
          py::gil_scoped_release nogil;
          ot_sliced<double>(xp, yp, n, mm, d, ap, bp, dp, K, p, o, n_threads);
        }
        return std::move(out);
      },
      py::arg("x"), py::arg("y"), py::arg("a"), py::arg("b"), py::arg("projections"), py::arg("p"),
      py::arg("n_threads"));
}
