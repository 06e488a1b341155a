// Build information, CPU dispatch and the thread pool.
#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "scalecore/common/dispatch.h"
#include "scalecore/common/errors.h"
#include "scalecore/common/threads.h"
#include "scalecore/common/vecmath.h"
#include "scalecore/fuzz/fuzz.h"

namespace py = pybind11;

#ifndef SCALECORE_VERSION
#define SCALECORE_VERSION "unknown"
#endif
#ifndef SCALECORE_COMPILER
#define SCALECORE_COMPILER "unknown"
#endif
#ifndef SCALECORE_SANITIZE
#define SCALECORE_SANITIZE ""
#endif

void bind_common(py::module_& m) {
  m.attr("__version__") = SCALECORE_VERSION;
  m.def("compiler", [] { return std::string(SCALECORE_COMPILER); });
  m.def("sanitize", [] { return std::string(SCALECORE_SANITIZE); });
  m.def("cpu_info", [] {
    const auto& f = sc::cpu_features();
    py::dict d;
    d["vendor"] = f.vendor;
    d["brand"] = f.brand;
    d["features"] = sc::cpu_feature_names();
    return d;
  });
  m.def("simd_level", [] { return std::string(sc::simd_level_name(sc::simd_level())); });
  m.def("simd_max_supported", [] { return std::string(sc::simd_level_name(sc::simd_max_supported())); });
  m.def("set_simd_level", [](const std::string& name) { sc::set_simd_level(sc::simd_level_from_name(name)); },
        py::arg("level"));
  m.def("simd_levels_compiled", [] {
    std::vector<std::string> v{"scalar"};
#if defined(SC_HAVE_AVX2_KERNELS)
    v.emplace_back("avx2");
#endif
#if defined(SC_HAVE_AVX512_KERNELS)
    v.emplace_back("avx512");
#endif
    return v;
  });
  m.def("num_threads", &sc::num_threads);
  m.def("set_num_threads", &sc::set_num_threads, py::arg("n"));
  m.def("hardware_threads", &sc::hardware_threads);
  m.def("parallel_backend", [] { return std::string(sc::parallel_backend()); },
        "Where parallel loops run now: \"libgomp\" (the OpenMP team of a libgomp already loaded, e.g. by torch) "
        "or \"scalecore\" (the pool).");
  m.def("_set_openmp_team", &sc::set_openmp_team, py::arg("on"),
        "False keeps every parallel loop on scalecore's pool (as SCALECORE_OPENMP_TEAM=0); for tests.");
  // Runs fn(i) for i in [0, n) on the pool with the GIL released and returns
  // the chunk each item ran in; used by tests of the pool itself.
  m.def("_pool_chunks", [](int64_t n, int64_t grain, int max_threads) {
    std::vector<int64_t> chunk(static_cast<size_t>(n), -1);
    {
      py::gil_scoped_release nogil;
      sc::parallel_for(n, grain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) chunk[static_cast<size_t>(i)] = b;
      }, max_threads);
    }
    return chunk;
  }, py::arg("n"), py::arg("grain"), py::arg("max_threads") = 0);
  m.def("_pool_raise_in_task", [](int64_t n, int64_t bad) {
    py::gil_scoped_release nogil;
    sc::parallel_for(n, 1, [&](int64_t b, int64_t) {
      if (b == bad) throw sc::ValueError("task " + std::to_string(bad) + " failed on purpose");
    });
  });
  // The vectorised exp/log at the level in use (tests compare each level
  // with libm): op is "exp", "log" or "exp_ref"/"log_ref".
  auto vec_math = [](const std::string& op, auto arr) {
    using S = typename decltype(arr)::value_type;
    auto x = arr;
    py::array_t<S> y(x.size());
    const S* xp = x.data();
    S* yp = y.mutable_data();
    const int64_t n = static_cast<int64_t>(x.size());
    if (op == "exp") sc::vec_exp(xp, yp, n);
    else if (op == "log") sc::vec_log(xp, yp, n);
    else if (op == "exp_ref") sc::vec_exp_ref(xp, yp, n);
    else if (op == "log_ref") sc::vec_log_ref(xp, yp, n);
    else throw sc::ValueError("op: expected 'exp', 'log', 'exp_ref' or 'log_ref', got '" + op + "'");
    return y;
  };
  m.def("_vec_math", [vec_math](const std::string& op, py::array_t<double, py::array::c_style | py::array::forcecast> x) {
    return vec_math(op, x);
  }, py::arg("op"), py::arg("x"));
  m.def("_vec_math_f32", [vec_math](const std::string& op, py::array_t<float, py::array::c_style | py::array::forcecast> x) {
    return vec_math(op, x);
  }, py::arg("op"), py::arg("x"));

  // The native fuzz targets (scalecore/fuzz/fuzz.h), for replaying saved
  // inputs in the tests.  Holds the GIL: a target switches the global SIMD
  // level while it runs (and restores it).
  m.def("_fuzz_targets", [] { return sc::fuzz::fuzz_targets(); });
  m.def("_fuzz_one", [](const std::string& target, const py::bytes& data) {
    const std::string d = data;
    try {
      sc::fuzz::fuzz_one(target, reinterpret_cast<const uint8_t*>(d.data()), d.size());
    } catch (const sc::fuzz::FuzzFailure& e) {
      PyErr_SetString(PyExc_AssertionError, e.what());
      throw py::error_already_set();
    }
  }, py::arg("target"), py::arg("data"),
        "Run native fuzz target `target` on one input: returns None, raises ValueError/TypeError only for an "
        "unknown target, AssertionError when the target's contract check fails.");
}
