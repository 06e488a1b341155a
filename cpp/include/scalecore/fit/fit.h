// Public C++ API of the fitting family (what the bindings call).
#pragma once
#include <stdint.h>

#include <memory>
#include <string>
#include <vector>

#include "scalecore/fit/expr.h"
#include "scalecore/fit/kernel_api.h"
#include "scalecore/fit/raw_types.h"
#include "scalecore/fit/types.h"

namespace sc {
namespace fit {

// A law the engine can run: a built-in (by catalogue index) or a compiled
// expression.  Cheap to copy; the expression program is shared.
struct Law {
  int id = -1;                                // built-in id, or SC_LAWID_EXPR
  std::shared_ptr<const ExprProgram> prog;    // expressions only
  std::string name;
  int n_params = 0, n_inputs = 0, n_features = 0;
  std::vector<int8_t> transforms;    // built-ins: Transform per input
  std::vector<CenterTerm> center;    // internal reparameterisation (types.h)
  LawHandle handle() const {
    LawHandle h;
    h.id = id;
    h.prog = prog.get();
    h.n_params = n_params;
    h.n_features = n_features;
    return h;
  }
};

struct LawInfo {
  std::string name, formula;
  std::vector<std::string> params, inputs;
  std::vector<int> transforms;  // Transform per input
  std::vector<double> lo, hi;   // default bounds
  std::vector<CenterTerm> center;  // internal reparameterisation (types.h)
};

std::vector<LawInfo> law_catalog();
Law builtin_law(const std::string& name);  // throws ValueError for an unknown name

// One node as Python's parser emits it (see expr.h for the ops).
struct ExprNodeSpec {
  int op = 0;
  int a = -1, b = -1;
  double c = 0.0;
};
// Compiles a parsed expression: classifies nodes, hoists input-only
// sub-expressions into features.  Throws ValueError for a malformed program.
Law compile_expr(const std::vector<ExprNodeSpec>& nodes, int out, int n_params, int n_inputs,
                 const std::string& name);

// Which kernel ran: for build info and tests.
struct RunInfo {
  std::string level;      // "scalar", "avx2" or "avx512"
  std::string vectorize;  // "none", "points" or "fits"
};

// Fits every (problem, start) of the batch.  Releases nothing itself: the
// caller (bindings) releases the GIL around it.  Results do not depend on
// the thread count.
template <class S>
RunInfo fit_batch(const Law& law, const Batch<S>& batch, const Options& opt, Outputs<S>& out);

// The law's default start (the heuristic fit() uses without p0) for every
// problem: (B, P), NaN for a problem whose data are unusable.
template <class S>
void default_starts(const Law& law, const Batch<S>& batch, const Options& opt, S* p0);

// Covariance and standard errors at given parameters (B, P), from the
// Gauss-Newton Hessian J^T J of the (robust-scaled) residuals:
//   cov = s^2 (J_f^T J_f)^-1 over the free parameters f,  s^2 = 2 cost / (m - |f|)
// (s^2 = 1 with absolute_sigma).  A parameter on a bound is held fixed: its
// row and column are NaN.  A singular J_f^T J_f, or m <= |f|, gives +inf.
// cov may be null (then only stderr is written).
template <class S>
void fit_covariance(const Law& law, const Batch<S>& batch, const Options& opt, const S* params,
                    bool absolute_sigma, S* cov, S* stderr_out);

// Model values at params (B or 1, P) for inputs x (B, M) or (M,): out (B, M).
// Points where an input is not finite, or a feature is not, give NaN.
// jac (optional, B x M x P): the Jacobian of the model w.r.t. the parameters.
template <class S>
void law_predict(const Law& law, const View2<S>* x, int n_inputs, int64_t B, int64_t M,
                 const S* params, int64_t params_stride_b, S* out, S* jac = nullptr);

// The raw-path description of a law (what the CUDA kernel receives).
RawLaw raw_law(const Law& law);

// Runs the CUDA kernel's per-problem code (raw.h) on the CPU, one problem at a
// time on the thread pool: the CPU test of the GPU path.  a.starts required.
template <class S>
void fit_batch_raw_cpu(const Law& law, const RawArgs<S>& a, const Options& opt);

// Which vectorisation the AVX2 level uses for a batch of M points.
Vectorize choose_vectorize(const Law& law, int64_t M, bool is_float, Vectorize requested);

}  // namespace fit
}  // namespace sc
