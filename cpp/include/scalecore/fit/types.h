// Plain types shared by every fitting translation unit (generic, AVX2, CUDA,
// reference) and by the bindings.  No math here: see laws.h, lm.h.
#pragma once
#include <stdint.h>

namespace sc {
namespace fit {

// Largest parameter count of any law (built-in or expression).
constexpr int kMaxParams = 16;
// Largest number of raw inputs, and of per-point features a law may derive
// from them (an expression law's hoisted input-only sub-expressions).
constexpr int kMaxInputs = 8;
constexpr int kMaxFeatures = 32;

// Per-problem outcome.  Exactly one is reported; the first rule that holds in
// the order below wins.
enum Status : int8_t {
  SC_STATUS_NOT_RUN = 0,     // never returned to users
  // Converged: ||g_free||_inf / (||J_j|| ||r||) <= gtol, the MINPACK cosine test.
  SC_STATUS_GTOL = 1,
  // Converged: both the actual and the predicted relative reduction of the
  // cost in the last step are <= ftol (and actual <= 2 * predicted).
  SC_STATUS_FTOL = 2,
  // Converged: the scaled step ||sqrt(D) s|| <= xtol * (||sqrt(D) p|| + xtol).
  SC_STATUS_XTOL = 3,
  // max_iter trial steps were taken without meeting a tolerance.
  SC_STATUS_MAX_ITER = 4,
  // The residuals or Jacobian were non-finite at the start point, or the fit
  // was blocked by non-finite values: 16 consecutive trial steps met them, or
  // the step shrank below xtol while one of the last 3 trials met them
  // (params: the last finite point).
  SC_STATUS_NON_FINITE = 5,
  // A tolerance was met but a free parameter has no effect on any residual at
  // the solution (its Jacobian column is zero): the solution is not unique.
  SC_STATUS_SINGULAR = 6,
  // The problem's data are unusable: +-inf in y, x or sigma, sigma <= 0, a
  // feature (e.g. log x) non-finite at a valid point, y <= 0 with log
  // residuals, fewer valid points than free parameters, or a start outside
  // the bounds' box after clipping produced a non-finite value.
  SC_STATUS_BAD_INPUT = 7,
  // Internal, never returned: a centred fit's scale parameter changed sign
  // (the path entered the E-B degeneracy that centering opens); the problem
  // is run again uncentred.
  SC_STATUS_RETRY = 8,
};

enum Loss : int8_t {
  SC_LOSS_LINEAR = 0,
  SC_LOSS_HUBER = 1,
  SC_LOSS_SOFT_L1 = 2,
  SC_LOSS_CAUCHY = 3,
  SC_LOSS_ARCTAN = 4,
};

enum Residual : int8_t {
  SC_RESIDUAL_LINEAR = 0,  // r = (f - y) / sigma
  SC_RESIDUAL_LOG = 1,     // r = (log f - log y) / sigma
};

// How a built-in law consumes one raw input.
enum Transform : int8_t {
  SC_TF_IDENTITY = 0,
  SC_TF_LOG = 1,
};

// Internal reparameterisation ("centering") of a built-in law.  Each log or
// identity feature u that a term uses is shifted by its per-problem mean c,
// u' = u - c, and parameters are mapped so the model is unchanged:
//   SCALE     term s exp(sign e u):   s' = s exp(sign e c)
//   LOGSCALE  term exp(s + sign e u): s' = s + sign e c
//   BREAK     term (x/d), u = log x:  d' = d exp(-c)
//   SHIFT     term (x - x0):          x0' = x0 - c
// The objective and its optimum are the same; the valley of A and alpha in
// A N^-alpha is far better conditioned, so LM needs about half the steps.
// Applied only when the bounds of the mapped parameters are invariant
// (SCALE/BREAK: each bound in {-inf, 0, inf}; LOGSCALE/SHIFT: unbounded).
enum CenterKind : int8_t {
  SC_CT_NONE = 0,
  SC_CT_SCALE = 1,
  SC_CT_LOGSCALE = 2,
  SC_CT_BREAK = 3,
  SC_CT_SHIFT = 4,
};
struct CenterTerm {
  int8_t kind, param, expo, feat, sign;
};
constexpr int kMaxCenterTerms = 8;

// How a batch is vectorised on the CPU (the AVX2 level; the scalar level
// always runs one fit at a time).
enum Vectorize : int8_t {
  SC_VEC_AUTO = 0,    // chosen from (law, M, dtype): see choose_vectorize()
  SC_VEC_POINTS = 1,  // one fit at a time, SIMD lanes over its points
  SC_VEC_FITS = 2,    // one SIMD lane per fit, lanes refilled as fits finish
};

// Marquardt's diagonal scaling D of the damped system (A + mu D) v = -g.
enum Scaling : int8_t {
  SC_SCALING_CURRENT = 0,      // D = diag(J^T J) at the current point (Marquardt 1963)
  SC_SCALING_RUNNING_MAX = 1,  // D = running max of diag(J^T J) (MINPACK's column norms)
};

// How the damping mu of (A + mu D) v = -g is chosen (lm.h).
enum Damping : int8_t {
  SC_DAMPING_NIELSEN = 0,  // mu updated from the gain ratio (Nielsen 1999)
  SC_DAMPING_MORE = 1,     // trust region |D^1/2 v| <= delta, mu solved for (More 1978, MINPACK lmder)
};

struct Options {
  int max_iter = 200;
  double xtol = 1e-10, ftol = 1e-10, gtol = 1e-10;
  Loss loss = SC_LOSS_LINEAR;
  double f_scale = 1.0;
  Residual residual = SC_RESIDUAL_LINEAR;
  bool geodesic = false;        // Transtrum-Sethna geodesic acceleration
  double geodesic_alpha = 0.75; // accept the acceleration when 2|a|/|v| <= alpha
  double geodesic_h = 0.1;      // finite-difference step along v
  double damping_init = 1e-3;   // initial mu, relative to diag(J^T J)
  Vectorize vectorize = SC_VEC_AUTO;
  bool center = true;           // centering of built-in laws (see CenterKind)
  Scaling scaling = SC_SCALING_RUNNING_MAX;
  Damping damping = SC_DAMPING_NIELSEN;
  double factor = 100.0;        // More: initial trust radius = factor * |D^1/2 p0| (MINPACK's factor)
  int n_threads = 0;            // <= 0: the pool size
};

// A strided view of a (B, M) array whose batch stride may be 0 (an (M,) array
// shared by every problem).  `data == nullptr` means absent.
template <class S>
struct View2 {
  const S* data = nullptr;
  int64_t stride_b = 0;
  const S* row(int64_t b) const { return data + b * stride_b; }
};

template <class S>
struct Batch {
  int64_t B = 0, M = 0;
  int n_inputs = 0;
  View2<S> x[kMaxInputs];
  View2<S> y;
  View2<uint8_t> mask;  // optional, nonzero = use the point
  View2<S> sigma;       // optional
  // Starts: p0 of problem b, start s is starts.data[b*stride_b + s*stride_s + k].
  const S* starts = nullptr;  // nullptr: each law's default heuristic
  int64_t starts_stride_b = 0, starts_stride_s = 0;
  int S_count = 1;
  // Bounds: lo/hi of problem b at lo[b*bounds_stride_b + k]; nullptr: none.
  const S* lo = nullptr;
  const S* hi = nullptr;
  int64_t bounds_stride_b = 0;
};

// Outputs, one row per (problem, start): index q = b * S_count + s.
template <class S>
struct Outputs {
  S* params = nullptr;   // (B*S, P)
  S* cost = nullptr;     // (B*S,)
  int8_t* status = nullptr;
  int32_t* n_iter = nullptr;
  int32_t* nfev = nullptr;
  int32_t* n_points = nullptr;  // (B,) optional: points per row that are not missing (NaN) or masked
  // Optional, float64 single-start fits only: the covariance (B, P, P) and
  // standard errors (B, P) at the returned parameters, computed while each
  // problem's prepared points are still in cache; the same values as
  // fit_covariance() on the returned parameters.  cov may be null.
  S* cov = nullptr;
  S* stderr_out = nullptr;
  bool absolute_sigma = false;
};

}  // namespace fit
}  // namespace sc
