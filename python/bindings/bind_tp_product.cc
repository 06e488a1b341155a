// Bindings of the Clebsch-Gordan tensor product: a thin adapter over
// scalecore/tp/product.h.  The Python layer (scalecore.tp._product) builds the
// instructions with e3nn's normalisation and checks user input first; these
// checks repeat the contract at the C++ boundary.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "common.h"
#include "scalecore/tp/product.h"

namespace py = pybind11;
using namespace sc;
using namespace sc::tp;

namespace {

std::vector<TpIrrep> irreps_from(const std::vector<std::tuple<int, int, int>>& v) {
  std::vector<TpIrrep> r;
  for (const auto& t : v) r.push_back({std::get<0>(t), std::get<1>(t), std::get<2>(t)});
  return r;
}

const char* const kArg[4] = {"x", "y", "weight", "grad_out"};

template <class S>
void contract_impl(const TpPlan& plan, int slot, const std::vector<py::object>& data, const std::vector<bool>& shared,
                   const std::vector<py::object>& index, const std::vector<int64_t>& rows, py::array& out, int64_t n,
                   int impl) {
  const int64_t width[4] = {plan.dim[0], plan.dim[1], plan.weight_numel, plan.dim[2]};
  TpOperand<S> ops[4];
  for (int s = 0; s < 4; ++s) {
    ops[s].shared = shared[s];
    ops[s].rows = rows[s];
    if (!index[s].is_none()) {
      py::array ia = py::reinterpret_borrow<py::array>(index[s]);
      ops[s].index = checked_ptr<int64_t>(ia, (std::string(kArg[s]) + " index").c_str());
      check_shape(ia, {static_cast<py::ssize_t>(n)}, (std::string(kArg[s]) + " index").c_str());
    }
    if (s == slot) continue;
    if (data[s].is_none()) throw ValueError(std::string(kArg[s]) + ": missing");
    py::array a = py::reinterpret_borrow<py::array>(data[s]);
    ops[s].data = checked_ptr<S>(a, kArg[s]);
    const int64_t want = (shared[s] ? 1 : rows[s]) * width[s];
    if (a.size() != want)
      throw ValueError(std::string(kArg[s]) + ": expected " + std::to_string(shared[s] ? 1 : rows[s]) + " rows of " +
                       std::to_string(width[s]) + ", got shape " + shape_str(a));
  }
  S* po = checked_mut_ptr<S>(out, "out");
  const int64_t want = (shared[slot] ? 1 : rows[slot]) * width[slot];
  if (out.size() != want)
    throw ValueError("out: expected " + std::to_string(want) + " elements, got shape " + shape_str(out));
  py::gil_scoped_release nogil;
  tp_contract<S>(plan, slot, ops, po, n, impl);
}

// The four input operands of tp_backward / tp_double_backward (x, y,
// weight, grad_out): only the weights may be shared, x and grad_out may be
// gathered by an int64 index of n entries with rows[s] rows.  Checks dtype,
// contiguity and size, naming the argument.
template <class S>
void row_operands(const TpPlan& plan, const std::vector<py::object>& data, bool w_shared,
                  const std::vector<py::object>& index, const std::vector<int64_t>& rows, int64_t n,
                  TpOperand<S> ops[4]) {
  const int64_t width[4] = {plan.dim[0], plan.dim[1], plan.weight_numel, plan.dim[2]};
  for (int s = 0; s < 4; ++s) {
    ops[s].shared = s == SC_TP_W && w_shared;
    ops[s].rows = ops[s].shared ? 1 : index[s].is_none() ? n : rows[s];
    if (!index[s].is_none()) {
      py::array ia = py::reinterpret_borrow<py::array>(index[s]);
      ops[s].index = checked_ptr<int64_t>(ia, (std::string(kArg[s]) + " index").c_str());
      check_shape(ia, {static_cast<py::ssize_t>(n)}, (std::string(kArg[s]) + " index").c_str());
    }
    py::array a = py::reinterpret_borrow<py::array>(data[s]);
    ops[s].data = checked_ptr<S>(a, kArg[s]);
    const int64_t want = ops[s].rows * width[s];
    if (a.size() != want)
      throw ValueError(std::string(kArg[s]) + ": expected " + std::to_string(ops[s].rows) + " rows of " +
                       std::to_string(width[s]) + ", got shape " + shape_str(a));
  }
}

template <class S>
void backward_impl(const TpPlan& plan, const std::vector<py::object>& data, bool w_shared,
                   const std::vector<py::object>& index, const std::vector<int64_t>& rows,
                   const std::vector<py::object>& outs, int64_t n, int impl) {
  const int64_t width[4] = {plan.dim[0], plan.dim[1], plan.weight_numel, plan.dim[2]};
  TpOperand<S> ops[4];
  row_operands<S>(plan, data, w_shared, index, rows, n, ops);
  S* po[3] = {nullptr, nullptr, nullptr};
  const char* names[3] = {"grad_x", "grad_y", "grad_weight"};
  for (int s = 0; s < 3; ++s) {
    if (outs[s].is_none()) continue;
    py::array a = py::reinterpret_borrow<py::array>(outs[s]);
    po[s] = checked_mut_ptr<S>(a, names[s]);
    const int64_t nrows = s == SC_TP_W && w_shared ? 1 : s == SC_TP_X && ops[SC_TP_X].index ? ops[SC_TP_X].rows : n;
    const int64_t want = nrows * width[s];
    if (a.size() != want)
      throw ValueError(std::string(names[s]) + ": expected " + std::to_string(want) + " elements, got shape " +
                       shape_str(a));
  }
  py::gil_scoped_release nogil;
  tp_backward<S>(plan, ops, po[0], po[1], po[2], n, impl);
}

template <class S>
void double_backward_impl(const TpPlan& plan, const std::vector<py::object>& data, bool w_shared,
                          const std::vector<py::object>& index, const std::vector<int64_t>& rows,
                          const std::vector<py::object>& gg, const std::vector<py::object>& outs, int64_t n) {
  const int64_t width[4] = {plan.dim[0], plan.dim[1], plan.weight_numel, plan.dim[2]};
  TpOperand<S> ops[4];
  const S* pg[3] = {nullptr, nullptr, nullptr};
  S* po[4] = {nullptr, nullptr, nullptr, nullptr};
  const char* gnames[3] = {"grad_grad_x", "grad_grad_y", "grad_grad_weight"};
  const char* onames[4] = {"grad_x", "grad_y", "grad_weight", "grad_grad_out"};
  row_operands<S>(plan, data, w_shared, index, rows, n, ops);
  for (int s = 0; s < 4; ++s) {
    const int64_t want = ops[s].rows * width[s];
    if (s < 3 && !gg[s].is_none()) {
      py::array b = py::reinterpret_borrow<py::array>(gg[s]);
      pg[s] = checked_ptr<S>(b, gnames[s]);
      if (b.size() != want)
        throw ValueError(std::string(gnames[s]) + ": expected " + std::to_string(want) + " elements, got shape " +
                         shape_str(b));
    }
    if (!outs[s].is_none()) {
      py::array b = py::reinterpret_borrow<py::array>(outs[s]);
      po[s] = checked_mut_ptr<S>(b, onames[s]);
      if (b.size() != want)
        throw ValueError(std::string(onames[s]) + ": expected " + std::to_string(want) + " elements, got shape " +
                         shape_str(b));
    }
  }
  py::gil_scoped_release nogil;
  tp_double_backward<S>(plan, ops, pg, po, n);
}

// Runs f(S(0)) with S the dtype of grad_out (float32 or float64).
template <class F>
void with_grad_out_dtype(const py::object& grad_out, F&& f) {
  py::array g = py::reinterpret_borrow<py::array>(grad_out);
  if (py::isinstance<py::array_t<float>>(g))
    f(0.0f);
  else if (py::isinstance<py::array_t<double>>(g))
    f(0.0);
  else
    throw TypeError("grad_out: expected a float32 or float64 array, got " + std::string(py::str(g.dtype())));
}

}  // namespace

void bind_tp_product(py::module_& m) {
  py::class_<TpPlan, std::shared_ptr<TpPlan>>(m, "TpPlan", "A compiled Clebsch-Gordan tensor-product plan.")
      .def_property_readonly("weight_numel", [](const TpPlan& p) { return p.weight_numel; })
      .def_property_readonly("dims", [](const TpPlan& p) { return std::make_tuple(p.dim[0], p.dim[1], p.dim[2]); })
      .def_property_readonly("nnz", [](const TpPlan& p) { return p.nnz; })
      .def_property_readonly("n_instructions", [](const TpPlan& p) { return p.instructions.size(); })
      .def("path_shape", [](const TpPlan& p, int i) { return tp_path_shape(p, i); })
      .def("weight_offset", [](const TpPlan& p, int i) { return p.w_offset.at(i); });

  m.def(
      "tp_plan",
      [](const std::vector<std::tuple<int, int, int>>& in1, const std::vector<std::tuple<int, int, int>>& in2,
         const std::vector<std::tuple<int, int, int>>& out,
         const std::vector<std::tuple<int, int, int, std::string, bool, double>>& ins,
         const std::vector<py::array_t<double, py::array::c_style | py::array::forcecast>>& cg) {
        std::vector<TpInstruction> I;
        for (size_t p = 0; p < ins.size(); ++p) {
          TpInstruction t;
          t.i_in1 = std::get<0>(ins[p]);
          t.i_in2 = std::get<1>(ins[p]);
          t.i_out = std::get<2>(ins[p]);
          t.mode = tp_mode_from_name(std::get<3>(ins[p]).c_str());
          if (t.mode < 0)
            throw ValueError("instructions[" + std::to_string(p) + "]: connection mode '" + std::get<3>(ins[p]) +
                             "' is not one of uvw, uvu, uvv, uuw, uuu, uvuv");
          t.has_weight = std::get<4>(ins[p]);
          t.path_weight = std::get<5>(ins[p]);
          I.push_back(t);
        }
        std::vector<std::vector<double>> C;
        for (const auto& a : cg) C.emplace_back(a.data(), a.data() + a.size());
        return tp_plan_build(irreps_from(in1), irreps_from(in2), irreps_from(out), I, C);
      },
      py::arg("irreps_in1"), py::arg("irreps_in2"), py::arg("irreps_out"), py::arg("instructions"), py::arg("cg"),
      "Compile a tensor-product plan.  Irreps are (mul, l, parity) tuples; instructions are (i_in1, i_in2, i_out, "
      "mode, has_weight, coefficient) with the final normalisation coefficient; cg holds one dense (d1, d2, d3) "
      "CG tensor per instruction.");

  m.def(
      "tp_contract",
      [](const TpPlan& plan, int slot, const std::vector<py::object>& data, const std::vector<bool>& shared,
         const std::vector<py::object>& index, const std::vector<int64_t>& rows, py::array out, int64_t n,
         int impl) {
        if (data.size() != 4 || shared.size() != 4 || index.size() != 4 || rows.size() != 4)
          throw ValueError("tp_contract: data, shared, index and rows need 4 entries (x, y, weight, out)");
        if (slot < 0 || slot > 3) throw ValueError("slot: expected 0 (x), 1 (y), 2 (weight) or 3 (out)");
        if (py::isinstance<py::array_t<float>>(out))
          contract_impl<float>(plan, slot, data, shared, index, rows, out, n, impl);
        else if (py::isinstance<py::array_t<double>>(out))
          contract_impl<double>(plan, slot, data, shared, index, rows, out, n, impl);
        else
          throw TypeError("out: expected a float32 or float64 array, got " + std::string(py::str(out.dtype())));
      },
      py::arg("plan"), py::arg("slot"), py::arg("data"), py::arg("shared"), py::arg("index"), py::arg("rows"),
      py::arg("out"), py::arg("n"), py::arg("impl") = 0,
      "Compute slot `slot` (0 x, 1 y, 2 weight, 3 out) of the trilinear product from the other three over n rows "
      "into out (overwritten).  Per slot: data (C-contiguous, out's dtype; None for the computed slot), shared, "
      "index (int64 gather/scatter rows or None) and rows.  impl 1 runs the reference.  Releases the GIL.");

  m.def(
      "tp_backward",
      [](const TpPlan& plan, const std::vector<py::object>& data, bool w_shared, const std::vector<py::object>& index,
         const std::vector<int64_t>& rows, const std::vector<py::object>& outs, int64_t n, int impl) {
        if (data.size() != 4 || outs.size() != 3 || index.size() != 4 || rows.size() != 4)
          throw ValueError("tp_backward: data, index, rows need (x, y, weight, grad_out), outs (grad_x, grad_y, "
                           "grad_weight)");
        with_grad_out_dtype(data[3], [&](auto zero) {
          backward_impl<decltype(zero)>(plan, data, w_shared, index, rows, outs, n, impl);
        });
      },
      py::arg("plan"), py::arg("data"), py::arg("w_shared"), py::arg("index"), py::arg("rows"), py::arg("outs"),
      py::arg("n"), py::arg("impl") = 0,
      "grad_x, grad_y, grad_weight of <grad_out, T(x, y, w)> in one pass per row (outs entries None to skip), "
      "into the given arrays; x (without grad_x) and grad_out may be gathered by an int64 index with `rows` rows.  "
      "Releases the GIL.");

  m.def(
      "tp_double_backward",
      [](const TpPlan& plan, const std::vector<py::object>& data, bool w_shared, const std::vector<py::object>& index,
         const std::vector<int64_t>& rows, const std::vector<py::object>& gg, const std::vector<py::object>& outs,
         int64_t n) {
        if (data.size() != 4 || index.size() != 4 || rows.size() != 4 || gg.size() != 3 || outs.size() != 4)
          throw ValueError("tp_double_backward: data, index, rows, outs need 4 entries (x, y, weight, grad_out), gg "
                           "3 (x, y, weight)");
        with_grad_out_dtype(data[3], [&](auto zero) {
          double_backward_impl<decltype(zero)>(plan, data, w_shared, index, rows, gg, outs, n);
        });
      },
      py::arg("plan"), py::arg("data"), py::arg("w_shared"), py::arg("index"), py::arg("rows"), py::arg("gg"),
      py::arg("outs"), py::arg("n"),
      "The double backward of <grad_out, T(x, y, w)> in one pass per row: outs[t] (None to skip) = sum over the "
      "given gg[s], s != t, of slot t from the others with slot s replaced by gg[s] (laid out as data[s]).  x and "
      "grad_out may be gathered by an int64 index (their outputs summed per node).  Releases the GIL.");
}
