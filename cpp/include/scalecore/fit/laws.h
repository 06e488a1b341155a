// The built-in law catalogue: one struct per law, listed once in laws.def.
//
// Each law declares
//   name, formula, P (parameters), NIN (inputs), param_names, input_names,
//   tf[NIN]      how each raw input becomes a feature (identity or log),
//   lo[P], hi[P] default bounds (used with bounds="default"),
//   eval(u, p, J) -> f   value and the P partial derivatives at one point,
//                        u = the features, written once for every element
//                        type T (scalar, SIMD pack, CUDA thread),
//   guess(d, p)          host-only default start from the data.
// Formulas use the features: u[k] = log(x_k) where tf[k] is SC_TF_LOG.
#pragma once
#include <math.h>

#include "scalecore/common/simd.h"
#include "scalecore/fit/types.h"
#if !defined(__CUDACC__)
#include "scalecore/fit/guess.h"
#endif

#define SC_INF HUGE_VAL

SC_FAMILY_NS_BEGIN(fit)

#if defined(__CUDACC__)
#define SC_LAW_GUESS(...)
#else
#define SC_LAW_GUESS(...)                                    \
  template <class S>                                         \
  static void guess(const guess::Points<S>& d, double* p) { \
    __VA_ARGS__                                              \
  }
#endif

// A * x^-alpha
struct LawPower {
  static constexpr const char* name = "power";
  static constexpr const char* formula = "A * x**-alpha";
  static constexpr int P = 2, NIN = 1;
  static constexpr const char* param_names[P] = {"A", "alpha"};
  static constexpr const char* input_names[NIN] = {"x"};
  static constexpr Transform tf[NIN] = {SC_TF_LOG};
  static constexpr double lo[P] = {0.0, -SC_INF};
  static constexpr double hi[P] = {SC_INF, SC_INF};
  static constexpr int NC = 1;
  static constexpr CenterTerm center[1] = {{SC_CT_SCALE, 0, 1, 0, -1}};
  template <class T>
  SC_HD static T eval(const T* u, const T* p, T* J) {
    const T e = vexp(-p[1] * u[0]);
    J[0] = e;
    J[1] = -p[0] * u[0] * e;
    return p[0] * e;
  }
  SC_LAW_GUESS({
    double la = 0, al = 0.5;
    if (!guess::loglinear_power(d, 0, 0.0, &la, &al)) la = log(fmax(fabs(guess::mean_of(d.y, d.m)), 1e-12));
    p[0] = exp(la);
    p[1] = al;
  })
};

// E + A * x^-alpha
struct LawSaturatingPower {
  static constexpr const char* name = "saturating_power";
  static constexpr const char* formula = "E + A * x**-alpha";
  static constexpr int P = 3, NIN = 1;
  static constexpr const char* param_names[P] = {"E", "A", "alpha"};
  static constexpr const char* input_names[NIN] = {"x"};
  static constexpr Transform tf[NIN] = {SC_TF_LOG};
  static constexpr double lo[P] = {0.0, 0.0, 0.0};
  static constexpr double hi[P] = {SC_INF, SC_INF, SC_INF};
  static constexpr int NC = 1;
  static constexpr CenterTerm center[1] = {{SC_CT_SCALE, 1, 2, 0, -1}};
  template <class T>
  SC_HD static T eval(const T* u, const T* p, T* J) {
    const T e = vexp(-p[2] * u[0]);
    J[0] = T(1.0);
    J[1] = e;
    J[2] = -p[1] * u[0] * e;
    return p[0] + p[1] * e;
  }
  SC_LAW_GUESS({
    const double E = guess::floor_offset(d, 0.5);
    double la = 0, al = 0.3;
    if (!guess::loglinear_power(d, 0, E, &la, &al)) la = 0;
    p[0] = E;
    p[1] = exp(la);
    p[2] = al;
  })
};

// E + A * N^-alpha + B * D^-beta  (Hoffmann et al. 2022, eq. 2)
struct LawChinchilla {
  static constexpr const char* name = "chinchilla";
  static constexpr const char* formula = "E + A * N**-alpha + B * D**-beta";
  static constexpr int P = 5, NIN = 2;
  static constexpr const char* param_names[P] = {"E", "A", "alpha", "B", "beta"};
  static constexpr const char* input_names[NIN] = {"N", "D"};
  static constexpr Transform tf[NIN] = {SC_TF_LOG, SC_TF_LOG};
  static constexpr double lo[P] = {0.0, 0.0, 0.0, 0.0, 0.0};
  static constexpr double hi[P] = {SC_INF, SC_INF, SC_INF, SC_INF, SC_INF};
  static constexpr int NC = 2;
  static constexpr CenterTerm center[2] = {{SC_CT_SCALE, 1, 2, 0, -1}, {SC_CT_SCALE, 3, 4, 1, -1}};
  template <class T>
  SC_HD static T eval(const T* u, const T* p, T* J) {
    const T a = vexp(-p[2] * u[0]);
    const T b = vexp(-p[4] * u[1]);
    J[0] = T(1.0);
    J[1] = a;
    J[2] = -p[1] * u[0] * a;
    J[3] = b;
    J[4] = -p[3] * u[1] * b;
    return p[0] + p[1] * a + p[3] * b;
  }
  // Exponents fixed at 0.3; (E, A, B) by linear least squares.
  SC_LAW_GUESS({
    double c[3] = {0, 0, 0};
    const double al = 0.3, be = 0.3;
    const double* ea = guess::exp_scaled(d.u[0], d.m, -al, 0);
    const double* eb = guess::exp_scaled(d.u[1], d.m, -be, 1);
    auto col = [&](int k, int i) { return k == 0 ? 1.0 : k == 1 ? ea[i] : eb[i]; };
    if (!guess::linear_lsq(d, 3, col, c)) { c[0] = guess::floor_offset(d, 0.5); c[1] = c[2] = 1.0; }
    p[0] = c[0]; p[1] = fabs(c[1]); p[2] = al; p[3] = fabs(c[2]); p[4] = be;
  })
};

// exp(LSE(a - alpha log N, b - beta log D, e)): Chinchilla in the form used
// for Approach 3 (Hoffmann et al. 2022, sec. D.2); A = e^a, B = e^b, E = e^e.
struct LawChinchillaLSE {
  static constexpr const char* name = "chinchilla_lse";
  static constexpr const char* formula = "exp(a - alpha*log(N)) + exp(b - beta*log(D)) + exp(e)";
  static constexpr int P = 5, NIN = 2;
  static constexpr const char* param_names[P] = {"a", "b", "e", "alpha", "beta"};
  static constexpr const char* input_names[NIN] = {"N", "D"};
  static constexpr Transform tf[NIN] = {SC_TF_LOG, SC_TF_LOG};
  static constexpr double lo[P] = {-SC_INF, -SC_INF, -SC_INF, 0.0, 0.0};
  static constexpr double hi[P] = {SC_INF, SC_INF, SC_INF, SC_INF, SC_INF};
  static constexpr int NC = 2;
  static constexpr CenterTerm center[2] = {{SC_CT_LOGSCALE, 0, 3, 0, -1}, {SC_CT_LOGSCALE, 1, 4, 1, -1}};
  template <class T>
  SC_HD static T eval(const T* u, const T* p, T* J) {
    const T ea = vexp(p[0] - p[3] * u[0]);
    const T eb = vexp(p[1] - p[4] * u[1]);
    const T ee = vexp(p[2]);
    J[0] = ea;
    J[1] = eb;
    J[2] = ee;
    J[3] = -u[0] * ea;
    J[4] = -u[1] * eb;
    return ea + eb + ee;
  }
  SC_LAW_GUESS({
    double q[5];
    LawChinchilla::guess(d, q);
    p[0] = log(fmax(q[1], 1e-8)); p[1] = log(fmax(q[3], 1e-8)); p[2] = log(fmax(q[0], 1e-8));
    p[3] = q[2]; p[4] = q[4];
  })
};

// [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D  (Kaplan et al. 2020, eq. 1.5)
struct LawKaplan {
  static constexpr const char* name = "kaplan";
  static constexpr const char* formula = "((N_c/N)**(alpha_N/alpha_D) + D_c/D)**alpha_D";
  static constexpr int P = 4, NIN = 2;
  static constexpr const char* param_names[P] = {"N_c", "alpha_N", "D_c", "alpha_D"};
  static constexpr const char* input_names[NIN] = {"N", "D"};
  static constexpr Transform tf[NIN] = {SC_TF_LOG, SC_TF_LOG};
  static constexpr double lo[P] = {0.0, 0.0, 0.0, 0.0};
  static constexpr double hi[P] = {SC_INF, SC_INF, SC_INF, SC_INF};
  static constexpr int NC = 2;
  static constexpr CenterTerm center[2] = {{SC_CT_BREAK, 0, 0, 0, 0}, {SC_CT_BREAK, 2, 0, 1, 0}};
  template <class T>
  SC_HD static T eval(const T* u, const T* p, T* J) {
    const T lnc = vlog(p[0]);
    const T ratio = p[1] / p[3];
    const T dl = lnc - u[0];
    const T a = vexp(ratio * dl);
    const T v = p[2] * vexp(-u[1]);
    const T s = a + v;
    const T ls = vlog(s);
    const T f = vexp(p[3] * ls);
    const T fs = f / s;
    J[0] = fs * a * p[1] / p[0];
    J[1] = fs * a * dl;
    J[2] = p[3] * fs * vexp(-u[1]);
    J[3] = f * ls - fs * a * dl * ratio;
    return f;
  }
  // Kaplan et al.'s published values as the start.
  SC_LAW_GUESS({ p[0] = 8.8e13; p[1] = 0.076; p[2] = 5.4e13; p[3] = 0.095; })
};

// Broken neural scaling law with K breaks (Caballero et al. 2023, eq. 1):
//   a + b x^-c0 prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i)
// Parameters: a, b, c0, then c_i, d_i, f_i for each break.
template <int K>
struct LawBNSL {
  static constexpr int P = 3 + 3 * K, NIN = 1;
  static constexpr const char* name = K == 1 ? "bnsl" : K == 2 ? "bnsl2" : K == 3 ? "bnsl3" : "bnsl4";
  static constexpr const char* formula = "a + b * x**-c0 * prod_i (1 + (x/d_i)**(1/f_i))**(-c_i*f_i)";
  static constexpr const char* param_names[15] = {"a", "b", "c0", "c1", "d1", "f1", "c2", "d2", "f2",
                                                  "c3", "d3", "f3", "c4", "d4", "f4"};
  static constexpr const char* input_names[NIN] = {"x"};
  static constexpr Transform tf[NIN] = {SC_TF_LOG};
  static constexpr double lo[15] = {-SC_INF, 0.0, -SC_INF, -SC_INF, 0.0, 0.0, -SC_INF, 0.0, 0.0,
                                    -SC_INF, 0.0, 0.0, -SC_INF, 0.0, 0.0};
  static constexpr double hi[15] = {SC_INF, SC_INF, SC_INF, SC_INF, SC_INF, SC_INF, SC_INF, SC_INF,
                                    SC_INF, SC_INF, SC_INF, SC_INF, SC_INF, SC_INF, SC_INF};
  // No centering: measured on random BNSL problems it neither saves steps
  // nor keeps the uncentred path's optimum as often.
  static constexpr int NC = 0;
  static constexpr CenterTerm center[1] = {{SC_CT_NONE, 0, 0, 0, 0}};
  template <class T>
  SC_HD static T eval(const T* u, const T* p, T* J) {
    const T lx = u[0];
    const T pw = vexp(-p[2] * lx);
    T lprod = T(0.0);
    T tq[K], L[K], z[K];
    for (int i = 0; i < K; ++i) {
      const T c = p[3 + 3 * i], dd = p[4 + 3 * i], ff = p[5 + 3 * i];
      z[i] = (lx - vlog(dd)) / ff;
      const T t = vexp(z[i]);
      const T q = T(1.0) + t;
      L[i] = vlog(q);
      tq[i] = t / q;
      lprod = lprod - c * ff * L[i];
    }
    const T prod = vexp(lprod);
    const T g = p[1] * pw * prod;
    J[0] = T(1.0);
    J[1] = pw * prod;
    J[2] = -lx * g;
    for (int i = 0; i < K; ++i) {
      const T c = p[3 + 3 * i], dd = p[4 + 3 * i], ff = p[5 + 3 * i];
      J[3 + 3 * i] = -ff * L[i] * g;
      J[4 + 3 * i] = c * tq[i] / dd * g;
      J[5 + 3 * i] = (-c * L[i] + c * tq[i] * z[i]) * g;
    }
    return p[0] + g;
  }
  // A power law with breaks at evenly spaced quantiles of log x, c_i = 0.
  SC_LAW_GUESS({
    double la = 0, al = 0.3;
    const double E = guess::floor_offset(d, 0.5);
    if (!guess::loglinear_power(d, 0, E, &la, &al)) la = 0;
    p[0] = E; p[1] = exp(la); p[2] = al;
    const double l0 = guess::min_of(d.u[0], d.m), l1 = guess::max_of(d.u[0], d.m);
    for (int i = 0; i < K; ++i) {
      p[3 + 3 * i] = 0.0;
      p[4 + 3 * i] = exp(l0 + (l1 - l0) * (i + 1.0) / (K + 1.0));
      p[5 + 3 * i] = 1.0;
    }
  })
};
using LawBNSL1 = LawBNSL<1>;
using LawBNSL2 = LawBNSL<2>;
using LawBNSL3 = LawBNSL<3>;
using LawBNSL4 = LawBNSL<4>;

// L0 + A * S1^-alpha - C * S2  (Tissue et al. 2024, eq. 1): loss over a
// training run, S1 = forward area under the LR schedule, S2 = annealing area.
struct LawLRAnnealing {
  static constexpr const char* name = "lr_annealing";
  static constexpr const char* formula = "L0 + A * S1**-alpha - C * S2";
  static constexpr int P = 4, NIN = 2;
  static constexpr const char* param_names[P] = {"L0", "A", "alpha", "C"};
  static constexpr const char* input_names[NIN] = {"S1", "S2"};
  static constexpr Transform tf[NIN] = {SC_TF_LOG, SC_TF_IDENTITY};
  static constexpr double lo[P] = {0.0, 0.0, 0.0, 0.0};
  static constexpr double hi[P] = {SC_INF, SC_INF, SC_INF, SC_INF};
  static constexpr int NC = 1;
  static constexpr CenterTerm center[1] = {{SC_CT_SCALE, 1, 2, 0, -1}};
  template <class T>
  SC_HD static T eval(const T* u, const T* p, T* J) {
    const T e = vexp(-p[2] * u[0]);
    J[0] = T(1.0);
    J[1] = e;
    J[2] = -p[1] * u[0] * e;
    J[3] = -u[1];
    return p[0] + p[1] * e - p[3] * u[1];
  }
  SC_LAW_GUESS({
    double c[3] = {0, 0, 0};
    const double al = 0.5;
    const double* ea = guess::exp_scaled(d.u[0], d.m, -al, 0);
    auto col = [&](int k, int i) { return k == 0 ? 1.0 : k == 1 ? ea[i] : -double(d.u[1][i]); };
    if (!guess::linear_lsq(d, 3, col, c)) { c[0] = guess::floor_offset(d, 0.5); c[1] = 1; c[2] = 0; }
    p[0] = c[0]; p[1] = fabs(c[1]); p[2] = al; p[3] = fmax(c[2], 0.0);
  })
};

// E + (a M^eta + b M^-eta) C^-eta  (Gadre et al. 2024, eq. 4): loss against
// compute C = 6ND and token multiplier M = D/N.  Equivalent to Chinchilla
// with alpha = beta = 2 eta.
struct LawOvertraining {
  static constexpr const char* name = "overtraining";
  static constexpr const char* formula = "E + (a * M**eta + b * M**-eta) * C**-eta";
  static constexpr int P = 4, NIN = 2;
  static constexpr const char* param_names[P] = {"E", "a", "b", "eta"};
  static constexpr const char* input_names[NIN] = {"C", "M"};
  static constexpr Transform tf[NIN] = {SC_TF_LOG, SC_TF_LOG};
  static constexpr double lo[P] = {0.0, 0.0, 0.0, 0.0};
  static constexpr double hi[P] = {SC_INF, SC_INF, SC_INF, SC_INF};
  static constexpr int NC = 4;
  static constexpr CenterTerm center[4] = {{SC_CT_SCALE, 1, 3, 1, 1}, {SC_CT_SCALE, 1, 3, 0, -1}, {SC_CT_SCALE, 2, 3, 1, -1}, {SC_CT_SCALE, 2, 3, 0, -1}};
  template <class T>
  SC_HD static T eval(const T* u, const T* p, T* J) {
    const T mp = vexp(p[3] * u[1]);
    const T mm = T(1.0) / mp;
    const T c = vexp(-p[3] * u[0]);
    const T s = p[1] * mp + p[2] * mm;
    J[0] = T(1.0);
    J[1] = mp * c;
    J[2] = mm * c;
    J[3] = (p[1] * mp - p[2] * mm) * u[1] * c - s * c * u[0];
    return p[0] + s * c;
  }
  SC_LAW_GUESS({
    double c[3] = {0, 0, 0};
    const double eta = 0.15;
    auto col = [&](int k, int i) {
      const double lc = double(d.u[0][i]), lm = double(d.u[1][i]);
      return k == 0 ? 1.0 : k == 1 ? exp(eta * lm - eta * lc) : exp(-eta * lm - eta * lc);
    };
    if (!guess::linear_lsq(d, 3, col, c)) { c[0] = guess::floor_offset(d, 0.5); c[1] = c[2] = 1; }
    p[0] = c[0]; p[1] = fabs(c[1]); p[2] = fabs(c[2]); p[3] = eta;
  })
};

// (log(A * D^alpha))^beta: a BLEU-style law of downstream score against
// pretraining data (Isik et al. 2024, eq. 1).
struct LawDownstreamLog {
  static constexpr const char* name = "downstream_log";
  static constexpr const char* formula = "(log(A * D**alpha))**beta";
  static constexpr int P = 3, NIN = 1;
  static constexpr const char* param_names[P] = {"A", "alpha", "beta"};
  static constexpr const char* input_names[NIN] = {"D"};
  static constexpr Transform tf[NIN] = {SC_TF_LOG};
  static constexpr double lo[P] = {0.0, -SC_INF, -SC_INF};
  static constexpr double hi[P] = {SC_INF, SC_INF, SC_INF};
  static constexpr int NC = 1;
  static constexpr CenterTerm center[1] = {{SC_CT_SCALE, 0, 1, 0, 1}};
  template <class T>
  SC_HD static T eval(const T* u, const T* p, T* J) {
    const T z = vlog(p[0]) + p[1] * u[0];
    const T lz = vlog(z);
    const T f = vexp(p[2] * lz);
    const T bfz = p[2] * f / z;
    J[0] = bfz / p[0];
    J[1] = bfz * u[0];
    J[2] = f * lz;
    return f;
  }
  // beta = 1: y = log A + alpha log D by least squares.
  SC_LAW_GUESS({
    double c[2] = {0, 0};
    auto col = [&](int k, int i) { return k == 0 ? 1.0 : double(d.u[0][i]); };
    if (!guess::linear_lsq(d, 2, col, c)) { c[0] = 1; c[1] = 0; }
    p[0] = exp(c[0]); p[1] = c[1]; p[2] = 1.0;
  })
};

// a / (1 + exp(-k (x - x0))) + b: accuracy against loss (or any logistic).
struct LawSigmoid {
  static constexpr const char* name = "sigmoid";
  static constexpr const char* formula = "a / (1 + exp(-k * (x - x0))) + b";
  static constexpr int P = 4, NIN = 1;
  static constexpr const char* param_names[P] = {"a", "k", "x0", "b"};
  static constexpr const char* input_names[NIN] = {"x"};
  static constexpr Transform tf[NIN] = {SC_TF_IDENTITY};
  static constexpr double lo[P] = {-SC_INF, -SC_INF, -SC_INF, -SC_INF};
  static constexpr double hi[P] = {SC_INF, SC_INF, SC_INF, SC_INF};
  static constexpr int NC = 1;
  static constexpr CenterTerm center[1] = {{SC_CT_SHIFT, 2, 0, 0, 0}};
  template <class T>
  SC_HD static T eval(const T* u, const T* p, T* J) {
    const T dx = u[0] - p[2];
    const T s = T(1.0) / (T(1.0) + vexp(-p[1] * dx));
    const T ds = p[0] * s * (T(1.0) - s);
    J[0] = s;
    J[1] = ds * dx;
    J[2] = -ds * p[1];
    J[3] = T(1.0);
    return p[0] * s + p[3];
  }
  // Range of y for a and b, midpoint of x for x0, slope sign from the data.
  SC_LAW_GUESS({
    const double y0 = guess::min_y(d), y1 = guess::max_y(d);
    const double x0 = guess::min_of(d.u[0], d.m), x1 = guess::max_of(d.u[0], d.m);
    double mx = guess::mean_of(d.u[0], d.m), my = guess::mean_of(d.y, d.m), cov = 0;
    for (int i = 0; i < d.m; ++i) cov += (double(d.u[0][i]) - mx) * (double(d.y[i]) - my);
    const double span = x1 > x0 ? x1 - x0 : 1.0;
    p[0] = y1 > y0 ? y1 - y0 : 1.0; p[1] = (cov >= 0 ? 4.0 : -4.0) / span;
    p[2] = 0.5 * (x0 + x1); p[3] = y0;
  })
};

// C + A exp(-k x)
struct LawExponential {
  static constexpr const char* name = "exponential";
  static constexpr const char* formula = "C + A * exp(-k * x)";
  static constexpr int P = 3, NIN = 1;
  static constexpr const char* param_names[P] = {"A", "k", "C"};
  static constexpr const char* input_names[NIN] = {"x"};
  static constexpr Transform tf[NIN] = {SC_TF_IDENTITY};
  static constexpr double lo[P] = {-SC_INF, -SC_INF, -SC_INF};
  static constexpr double hi[P] = {SC_INF, SC_INF, SC_INF};
  // No centering: on a raw x, A' = A exp(-k mean(x)) can span hundreds of
  // orders of magnitude (centering is for log features and shifts).
  static constexpr int NC = 0;
  static constexpr CenterTerm center[1] = {{SC_CT_NONE, 0, 0, 0, 0}};
  template <class T>
  SC_HD static T eval(const T* u, const T* p, T* J) {
    const T e = vexp(-p[1] * u[0]);
    J[0] = e;
    J[1] = -p[0] * u[0] * e;
    J[2] = T(1.0);
    return p[2] + p[0] * e;
  }
  // k = 1 / range(x), then (A, C) by linear least squares.
  SC_LAW_GUESS({
    const double x0 = guess::min_of(d.u[0], d.m), x1 = guess::max_of(d.u[0], d.m);
    const double k = x1 > x0 ? 1.0 / (x1 - x0) : 1.0;
    double c[2] = {1, 0};
    auto col = [&](int j, int i) { return j == 0 ? exp(-k * (double(d.u[0][i]) - x0)) : 1.0; };
    if (!guess::linear_lsq(d, 2, col, c)) { c[0] = 1; c[1] = 0; }
    p[0] = c[0] * exp(k * x0); p[1] = k; p[2] = c[1];
  })
};

// a exp(-(x - x0)^2 / (2 w^2)) + b: Gpufit's GAUSS_1D (amplitude, center,
// width, offset), for like-for-like benchmarks.
struct LawGauss1D {
  static constexpr const char* name = "gauss1d";
  static constexpr const char* formula = "a * exp(-(x - x0)**2 / (2 * w**2)) + b";
  static constexpr int P = 4, NIN = 1;
  static constexpr const char* param_names[P] = {"a", "x0", "w", "b"};
  static constexpr const char* input_names[NIN] = {"x"};
  static constexpr Transform tf[NIN] = {SC_TF_IDENTITY};
  static constexpr double lo[P] = {-SC_INF, -SC_INF, 0.0, -SC_INF};
  static constexpr double hi[P] = {SC_INF, SC_INF, SC_INF, SC_INF};
  static constexpr int NC = 1;
  static constexpr CenterTerm center[1] = {{SC_CT_SHIFT, 1, 0, 0, 0}};
  template <class T>
  SC_HD static T eval(const T* u, const T* p, T* J) {
    const T dx = u[0] - p[1];
    const T iw = T(1.0) / p[2];
    const T t = dx * iw;
    const T e = vexp(T(-0.5) * t * t);
    const T ae = p[0] * e;
    J[0] = e;
    J[1] = ae * t * iw;
    J[2] = ae * t * t * iw;
    J[3] = T(1.0);
    return ae + p[3];
  }
  SC_LAW_GUESS({
    const double y0 = guess::min_y(d), y1 = guess::max_y(d);
    int imax = 0;
    for (int i = 1; i < d.m; ++i) if (d.y[i] > d.y[imax]) imax = i;
    const double x0 = guess::min_of(d.u[0], d.m), x1 = guess::max_of(d.u[0], d.m);
    p[0] = y1 - y0; p[1] = d.m > 0 ? double(d.u[0][imax]) : 0.0;
    p[2] = x1 > x0 ? 0.25 * (x1 - x0) : 1.0; p[3] = y0;
  })
};

#undef SC_LAW_GUESS

SC_FAMILY_NS_END
