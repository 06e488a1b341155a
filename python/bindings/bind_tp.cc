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
#include "scalecore/tp/gaunt.h"
#include "scalecore/tp/sh.h"
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

// ShArgs from (n, lmax, normalization, normalize, col_offset[lmax+1], dim).
tp::ShArgs sh_args(const py::array& vec, const std::vector<int>& col_offset, int normalization, bool normalize,
                   int64_t dim) {
  if (vec.ndim() != 2 || vec.shape(1) != 3)
    throw ValueError("vectors: expected shape (n, 3), got " + shape_str(vec));
  if (col_offset.empty()) throw ValueError("col_offset: expected lmax + 1 entries");
  tp::ShArgs a;
  a.lmax = static_cast<int>(col_offset.size()) - 1;
  a.normalization = normalization;
  a.normalize = normalize;
  a.col_offset = col_offset.data();
  a.dim = dim;
  a.n = vec.shape(0);
  return a;
}

template <class S>
py::array_t<S> sh_forward_py(const py::array& vec, const std::vector<int>& col_offset, int normalization,
                             bool normalize, int64_t dim, bool ref) {
  const S* v = checked_ptr<S>(vec, "vectors");
  tp::ShArgs a = sh_args(vec, col_offset, normalization, normalize, dim);
  py::array_t<S> out({a.n, dim});
  S* o = out.mutable_data();
  if (a.n * dim > 0) std::memset(o, 0, sizeof(S) * a.n * dim);
  {
    py::gil_scoped_release nogil;
    if (ref)
      tp::sh_forward_ref<S>(a, v, o);
    else
      tp::sh_forward<S>(a, v, o);
  }
  return out;
}

template <class S>
py::array_t<S> sh_backward_py(const py::array& vec, const py::array& gout, const std::vector<int>& col_offset,
                              int normalization, bool normalize, int64_t dim, bool ref) {
  const S* v = checked_ptr<S>(vec, "vectors");
  tp::ShArgs a = sh_args(vec, col_offset, normalization, normalize, dim);
  const S* g = checked_ptr<S>(gout, "grad_output");
  check_shape(gout, {a.n, dim}, "grad_output");
  py::array_t<S> gv({a.n, int64_t(3)});
  {
    py::gil_scoped_release nogil;
    if (ref)
      tp::sh_backward_ref<S>(a, v, g, gv.mutable_data());
    else
      tp::sh_backward<S>(a, v, g, gv.mutable_data());
  }
  return gv;
}

template <class S>
py::tuple sh_double_backward_py(const py::array& vec, const py::array& gout, const py::array& ggvec,
                                const std::vector<int>& col_offset, int normalization, bool normalize, int64_t dim,
                                bool ref) {
  const S* v = checked_ptr<S>(vec, "vectors");
  tp::ShArgs a = sh_args(vec, col_offset, normalization, normalize, dim);
  const S* g = checked_ptr<S>(gout, "grad_output");
  check_shape(gout, {a.n, dim}, "grad_output");
  const S* gg = checked_ptr<S>(ggvec, "grad_grad_vectors");
  check_shape(ggvec, {a.n, int64_t(3)}, "grad_grad_vectors");
  py::array_t<S> ggout({a.n, dim});
  py::array_t<S> gv2({a.n, int64_t(3)});
  S* go = ggout.mutable_data();
  if (a.n * dim > 0) std::memset(go, 0, sizeof(S) * a.n * dim);
  {
    py::gil_scoped_release nogil;
    if (ref)
      tp::sh_double_backward_ref<S>(a, v, g, gg, go, gv2.mutable_data());
    else
      tp::sh_double_backward<S>(a, v, g, gg, go, gv2.mutable_data());
  }
  return py::make_tuple(ggout, gv2);
}

template <class S>
py::tuple sh_derivatives_py(const py::array& vec, const std::vector<int>& col_offset, int normalization,
                            bool normalize, int64_t dim, bool want_hess) {
  const S* v = checked_ptr<S>(vec, "vectors");
  tp::ShArgs a = sh_args(vec, col_offset, normalization, normalize, dim);
  py::array_t<S> out({a.n, dim});
  py::array_t<S> jac({a.n, dim, int64_t(3)});
  py::array_t<S> hess(want_hess ? std::vector<int64_t>{a.n, dim, 3, 3} : std::vector<int64_t>{0});
  std::memset(out.mutable_data(), 0, sizeof(S) * a.n * dim);
  std::memset(jac.mutable_data(), 0, sizeof(S) * a.n * dim * 3);
  if (want_hess) std::memset(hess.mutable_data(), 0, sizeof(S) * a.n * dim * 9);
  {
    py::gil_scoped_release nogil;
    tp::sh_derivatives<S>(a, v, out.mutable_data(), jac.mutable_data(), want_hess ? hess.mutable_data() : nullptr);
  }
  if (want_hess) return py::make_tuple(out, jac, hess);
  return py::make_tuple(out, jac);
}

bool is_f32(const py::array& a) { return py::isinstance<py::array_t<float>>(a); }

int64_t sh_width(int l) { return static_cast<int64_t>(l + 1) * (l + 1); }

// Rows x1 (n, (l1+1)^2), x2 (n, (l2+1)^2), w (lo+1,).
template <class S>
tp::GauntShape gaunt_check(const py::array& x1, const py::array& x2, const py::array& w, int l1, int l2, int lo,
                           int nb, int na, int rep, const S** p1, const S** p2, const S** pw) {
  tp::GauntShape s;
  s.l1 = l1;
  s.l2 = l2;
  s.lo = lo;
  s.n_beta = nb;
  s.n_alpha = na;
  s.x2_rep = rep;
  s = tp::gaunt_resolve(s);
  *p1 = checked_ptr<S>(x1, "x1");
  *p2 = checked_ptr<S>(x2, "x2");
  *pw = checked_ptr<S>(w, "weight");
  if (x1.ndim() != 2) throw ValueError("x1: expected a 2-D array, got shape " + shape_str(x1));
  const int64_t n = x1.shape(0);
  check_shape(x1, {n, sh_width(l1)}, "x1");
  if (n % rep) throw ValueError("x1: " + std::to_string(n) + " rows is not a multiple of x2_rep " + std::to_string(rep));
  check_shape(x2, {n / rep, sh_width(l2)}, "x2");
  check_shape(w, {lo + 1}, "weight");
  return s;
}

template <class S>
py::array_t<S> gaunt_forward_py(const py::array& x1, const py::array& x2, const py::array& w, int l1, int l2, int lo,
                                int nb, int na, bool ref, int engine, int rep) {
  const S *p1, *p2, *pw;
  const tp::GauntShape s = gaunt_check<S>(x1, x2, w, l1, l2, lo, nb, na, rep, &p1, &p2, &pw);
  const int64_t n = x1.shape(0);
  py::array_t<S> out({n, sh_width(lo)});
  {
    py::gil_scoped_release nogil;
    if (ref)
      tp::gaunt_forward_ref<S>(s, n, p1, p2, pw, out.mutable_data());
    else
      tp::gaunt_forward<S>(s, n, p1, p2, pw, out.mutable_data(), engine);
  }
  return out;
}

template <class S>
py::tuple gaunt_backward_py(const py::array& x1, const py::array& x2, const py::array& w, const py::array& gout,
                            int l1, int l2, int lo, int nb, int na, bool ref, int engine, int rep) {
  const S *p1, *p2, *pw;
  const tp::GauntShape s = gaunt_check<S>(x1, x2, w, l1, l2, lo, nb, na, rep, &p1, &p2, &pw);
  const int64_t n = x1.shape(0);
  const S* g = checked_ptr<S>(gout, "grad_output");
  check_shape(gout, {n, sh_width(lo)}, "grad_output");
  py::array_t<S> g1({n, sh_width(l1)}), g2({n / rep, sh_width(l2)}), gw({int64_t(lo + 1)});
  {
    py::gil_scoped_release nogil;
    if (ref)
      tp::gaunt_backward_ref<S>(s, n, p1, p2, pw, g, g1.mutable_data(), g2.mutable_data(), gw.mutable_data());
    else
      tp::gaunt_backward<S>(s, n, p1, p2, pw, g, g1.mutable_data(), g2.mutable_data(), gw.mutable_data(), engine);
  }
  return py::make_tuple(g1, g2, gw);
}

}  // namespace

void bind_tp(py::module_& m) {
  m.attr("tp_wigner_3j_max_l") = tp::kWigner3jMaxL;
  m.def("tp_wigner_3j", &wigner_3j_py, py::arg("l1"), py::arg("l2"), py::arg("l3"),
        "Real Clebsch-Gordan coefficients in e3nn's basis, unit Frobenius norm, float64 (cached).");
  m.def("tp_su2_clebsch_gordan", &tp::su2_clebsch_gordan, py::arg("l1"), py::arg("m1"), py::arg("l2"),
        py::arg("m2"), py::arg("l3"), py::arg("m3"),
        "<l1 m1; l2 m2 | l3 m3> in the Condon-Shortley phase (Racah's formula).");

  m.attr("tp_sh_max_l") = tp::kShMaxL;
  // vectors (n, 3) float32/float64; col_offset[l] = first column of block l or -1.
  m.def(
      "tp_sh_forward",
      [](const py::array& v, const std::vector<int>& off, int norm, bool normalize, int64_t dim, bool ref) -> py::object {
        if (is_f32(v)) return sh_forward_py<float>(v, off, norm, normalize, dim, ref);
        return sh_forward_py<double>(v, off, norm, normalize, dim, ref);
      },
      py::arg("vectors"), py::arg("col_offset"), py::arg("normalization"), py::arg("normalize"), py::arg("dim"),
      py::arg("ref") = false);
  m.def(
      "tp_sh_backward",
      [](const py::array& v, const py::array& g, const std::vector<int>& off, int norm, bool normalize, int64_t dim,
         bool ref) -> py::object {
        if (is_f32(v)) return sh_backward_py<float>(v, g, off, norm, normalize, dim, ref);
        return sh_backward_py<double>(v, g, off, norm, normalize, dim, ref);
      },
      py::arg("vectors"), py::arg("grad_output"), py::arg("col_offset"), py::arg("normalization"),
      py::arg("normalize"), py::arg("dim"), py::arg("ref") = false);
  m.def(
      "tp_sh_double_backward",
      [](const py::array& v, const py::array& g, const py::array& gg, const std::vector<int>& off, int norm,
         bool normalize, int64_t dim, bool ref) -> py::object {
        if (is_f32(v)) return sh_double_backward_py<float>(v, g, gg, off, norm, normalize, dim, ref);
        return sh_double_backward_py<double>(v, g, gg, off, norm, normalize, dim, ref);
      },
      py::arg("vectors"), py::arg("grad_output"), py::arg("grad_grad_vectors"), py::arg("col_offset"),
      py::arg("normalization"), py::arg("normalize"), py::arg("dim"), py::arg("ref") = false);
  m.def(
      "tp_sh_derivatives",
      [](const py::array& v, const std::vector<int>& off, int norm, bool normalize, int64_t dim, bool hess) -> py::object {
        if (is_f32(v)) return sh_derivatives_py<float>(v, off, norm, normalize, dim, hess);
        return sh_derivatives_py<double>(v, off, norm, normalize, dim, hess);
      },
      py::arg("vectors"), py::arg("col_offset"), py::arg("normalization"), py::arg("normalize"), py::arg("dim"),
      py::arg("hessian"));

  m.attr("tp_gaunt_max_l") = tp::kGauntMaxL;
  m.def(
      "tp_gaunt_grid",
      [](int l1, int l2, int lo, int nb, int na) {
        tp::GauntShape s;
        s.l1 = l1;
        s.l2 = l2;
        s.lo = lo;
        s.n_beta = nb;
        s.n_alpha = na;
        s = tp::gaunt_resolve(s);
        return py::make_tuple(s.n_beta, s.n_alpha);
      },
      py::arg("l1"), py::arg("l2"), py::arg("lo"), py::arg("n_beta") = 0, py::arg("n_alpha") = 0);
  m.def(
      "tp_gaunt_forward",
      [](const py::array& x1, const py::array& x2, const py::array& w, int l1, int l2, int lo, int nb, int na,
         bool ref, int engine, int rep) -> py::object {
        if (is_f32(x1)) return gaunt_forward_py<float>(x1, x2, w, l1, l2, lo, nb, na, ref, engine, rep);
        return gaunt_forward_py<double>(x1, x2, w, l1, l2, lo, nb, na, ref, engine, rep);
      },
      py::arg("x1"), py::arg("x2"), py::arg("weight"), py::arg("l1"), py::arg("l2"), py::arg("lo"),
      py::arg("n_beta") = 0, py::arg("n_alpha") = 0, py::arg("ref") = false, py::arg("engine") = 0,
      py::arg("x2_rep") = 1);
  m.def(
      "tp_gaunt_backward",
      [](const py::array& x1, const py::array& x2, const py::array& w, const py::array& g, int l1, int l2, int lo,
         int nb, int na, bool ref, int engine, int rep) -> py::object {
        if (is_f32(x1)) return gaunt_backward_py<float>(x1, x2, w, g, l1, l2, lo, nb, na, ref, engine, rep);
        return gaunt_backward_py<double>(x1, x2, w, g, l1, l2, lo, nb, na, ref, engine, rep);
      },
      py::arg("x1"), py::arg("x2"), py::arg("weight"), py::arg("grad_output"), py::arg("l1"), py::arg("l2"),
      py::arg("lo"), py::arg("n_beta") = 0, py::arg("n_alpha") = 0, py::arg("ref") = false, py::arg("engine") = 0,
      py::arg("x2_rep") = 1);
  m.def(
      "tp_gaunt_coefficients",
      [](int l1, int l2, int l3) {
        std::vector<double> g = tp::gaunt_coefficients(l1, l2, l3);
        py::array_t<double> out({2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1});
        std::memcpy(out.mutable_data(), g.data(), g.size() * sizeof(double));
        return out;
      },
      py::arg("l1"), py::arg("l2"), py::arg("l3"));
}
