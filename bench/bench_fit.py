"""Fitting engine benchmarks (issue 3): scalecore.fit against a
scipy.optimize.curve_fit loop, and scalecore against itself across dtypes,
threads, batch sizes, vectorisation modes and expression laws."""
from __future__ import annotations

import time
import warnings

import numpy as np

import scalecore

from .harness import Pair, benchmark


def _chinchilla(B: int, M: int, seed: int = 0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e10), (B, M)))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e12), (B, M)))
    p = np.column_stack([rng.uniform(1.5, 2.0, B), rng.uniform(200, 600, B), rng.uniform(0.25, 0.4, B),
                         rng.uniform(1000, 3000, B), rng.uniform(0.25, 0.4, B)])
    y = (p[:, :1] + p[:, 1:2] * N ** -p[:, 2:3] + p[:, 3:4] * D ** -p[:, 4:5]) * (
        1 + 0.02 * rng.standard_normal((B, M)))
    return {"N": N.astype(dtype), "D": D.astype(dtype)}, y.astype(dtype)


def _chinchilla_f(X, E, A, al, Bc, be):
    N, D = X
    return E + A * N ** -al + Bc * D ** -be


def _curve_fit_loop(f, xs, y, p0, n, **kw):
    from scipy.optimize import curve_fit

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for b in range(n):
                try:
                    curve_fit(f, xs(b), y[b], p0=p0[b], maxfev=10000, **kw)
                except RuntimeError:
                    pass
    return run


@benchmark("fit_chinchilla", peer="scipy.optimize.curve_fit loop", family="fitting",
           description="100,000 chinchilla problems of 100 points, float64, from the law's default start")
def chinchilla(quick: bool):
    B = 10_000 if quick else 100_000
    n_scipy = 50 if quick else 300
    x, y = _chinchilla(B, 100)
    # The law's heuristic start, given to both sides.
    p0 = scalecore._core.default_starts(scalecore.laws.chinchilla._handle, [x["N"], x["D"]], y, None, None, None,
                                        None, 0)
    res = scalecore.fit("chinchilla", x, y, p0=p0, covariance=False)
    pairs = [
        Pair("chinchilla B=%d M=100 f64 (2 threads)" % B,
             lambda: scalecore.fit("chinchilla", x, y, p0=p0, covariance=False), B,
             _curve_fit_loop(_chinchilla_f, lambda b: (x["N"][b], x["D"][b]), y, p0, n_scipy), n_scipy,
             "curve_fit (lm, 2-point jac)", unit="fits", repeat=3 if quick else 5,
             note=f"scipy timed on the first {n_scipy} problems; same start; covariance off on our side "
                  f"(mean {res.n_iter.mean():.1f} LM steps, {np.mean(res.success):.4f} converged)",
             extra={"ours_mean_iterations": float(res.n_iter.mean())}),
        Pair("chinchilla with covariance and stderr",
             lambda: scalecore.fit("chinchilla", x, y, p0=p0), B,
             _curve_fit_loop(_chinchilla_f, lambda b: (x["N"][b], x["D"][b]), y, p0, n_scipy), n_scipy,
             "curve_fit (lm, 2-point jac)", unit="fits", repeat=3,
             note="curve_fit always computes pcov; this is the like-for-like row"),
    ]
    x32, y32 = {k: v.astype(np.float32) for k, v in x.items()}, y.astype(np.float32)
    p032 = p0.astype(np.float32)
    pairs.append(Pair("float32 vs float64 (same problems)",
                      lambda: scalecore.fit("chinchilla", x32, y32, p0=p032, covariance=False), B,
                      lambda: scalecore.fit("chinchilla", x, y, p0=p0, covariance=False), B,
                      "scalecore float64", unit="fits", repeat=3))
    for t in (1, 2):
        pairs.append(Pair(f"{t} thread(s), float64",
                          lambda t=t: scalecore.fit("chinchilla", x, y, p0=p0, covariance=False, n_threads=t), B,
                          unit="fits", repeat=3))
    return pairs


def _chinchilla_jac(X, E, A, al, Bc, be):
    N, D = X
    lN, lD = np.log(N), np.log(D)
    tN, tD = N ** -al, D ** -be
    return np.column_stack([np.ones_like(N), tN, -A * lN * tN, tD, -Bc * lD * tD])


def _scipy_strongest(xs, y, p0, n):
    """scipy at its best on this work: analytic Jacobian, the problem's own x
    arrays, MINPACK's lm; covariance returned (as scalecore's side)."""
    from scipy.optimize import curve_fit, least_squares

    def cf():
        out = np.full((n, 5), np.nan)
        cost = np.full(n, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for b in range(n):
                X = (xs["N"][b], xs["D"][b])
                try:
                    p, _ = curve_fit(_chinchilla_f, X, y[b], p0=p0[b], jac=_chinchilla_jac, method="lm",
                                     maxfev=10000)
                except RuntimeError:
                    continue
                out[b] = p
                cost[b] = 0.5 * np.sum((_chinchilla_f(X, *p) - y[b]) ** 2)
        return out, cost

    def ls():
        cost = np.full(n, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for b in range(n):
                X, yb = (xs["N"][b], xs["D"][b]), y[b]
                r = least_squares(lambda p: _chinchilla_f(X, *p) - yb, p0[b],
                                  jac=lambda p: _chinchilla_jac(X, *p), method="lm")
                # curve_fit's covariance: pinv of J^T J from the SVD of J, scaled by s^2
                _, sv, vt = np.linalg.svd(r.jac, full_matrices=False)
                keep = sv > np.finfo(float).eps * max(r.jac.shape) * sv[0]
                pcov = (vt[keep].T / sv[keep] ** 2) @ vt[keep] * (2 * r.cost / max(len(yb) - 5, 1))
                cost[b] = r.cost
                del pcov
        return cost
    return cf, ls


@benchmark("fit_chinchilla_strong", peer="scipy at its best: curve_fit(jac=analytic, method='lm') per problem",
           family="fitting",
           description="100,000 chinchilla problems of 100 points, float64, per-problem (B, M) x, covariance on "
                       "both sides; the issue-11 headline row")
def chinchilla_strong(quick: bool):
    B = 20_000 if quick else 100_000
    n_scipy = 300 if quick else 2000
    x, y = _chinchilla(B, 100, seed=7)
    p0 = scalecore._core.default_starts(scalecore.laws.chinchilla._handle, [x["N"], x["D"]], y, None, None, None,
                                        None, 0)
    cf, ls = _scipy_strongest(x, y, p0, n_scipy)
    # Agreement: scalecore's cost no worse than curve_fit's (to 1e-9 relative) on the timed problems.
    res = scalecore.fit("chinchilla", x, y, p0=p0)
    _, sp_cost = cf()
    ours = np.asarray(res.cost[:n_scipy], dtype=float)
    ok = np.isfinite(sp_cost)
    no_worse = float(np.mean(ours[ok] <= sp_cost[ok] * (1 + 1e-9) + 1e-300))
    note = (f"scipy timed on the first {n_scipy} problems, same start; scalecore's cost <= curve_fit's on "
            f"{100 * no_worse:.2f}% of them")
    extra = {"ours_cost_no_worse_fraction": no_worse, "ours_mean_iterations": float(res.n_iter.mean())}
    return [
        Pair(f"chinchilla B={B} M=100 f64, covariance, per-problem x (2 threads)",
             lambda: scalecore.fit("chinchilla", x, y, p0=p0), B, lambda: cf(), n_scipy,
             "curve_fit(jac=, method='lm')", unit="fits", repeat=3 if quick else 5, note=note, extra=extra),
        Pair("same, against least_squares(method='lm', jac=) + SVD covariance",
             lambda: scalecore.fit("chinchilla", x, y, p0=p0), B, ls, n_scipy,
             "least_squares(lm, jac=) + pcov", unit="fits", repeat=3),
        Pair("same, 1 thread", lambda: scalecore.fit("chinchilla", x, y, p0=p0, n_threads=1), B, lambda: cf(),
             n_scipy, "curve_fit(jac=, method='lm')", unit="fits", repeat=3),
    ]


@benchmark("fit_gauss1d", peer="scipy.optimize.curve_fit loop (Cpufit: 174,000 fits/CPU-s, issue 3)",
           family="fitting", description="gauss1d, 20 points, float32, Cpufit's settings")
def gauss1d(quick: bool):
    B = 100_000 if quick else 1_000_000
    n_scipy = 200 if quick else 1000
    rng = np.random.default_rng(1)
    x = np.arange(20, dtype=np.float32)
    true = np.array([10.0, 9.5, 2.0, 1.0])
    p = true * rng.uniform(0.95, 1.05, (B, 4))
    clean = p[:, :1] * np.exp(-(x - p[:, 1:2]) ** 2 / (2 * p[:, 2:3] ** 2)) + p[:, 3:4]
    y = (clean + 0.3 * rng.standard_normal((B, 20))).astype(np.float32)
    p0 = (p * rng.uniform(0.9, 1.1, (B, 4))).astype(np.float32)
    # Cpufit/Gpufit: stop when the relative change of chi^2 is below 1e-4, at
    # most 20 iterations -> ftol=1e-4 (MINPACK's relative-reduction test), xtol
    # and gtol off.
    cpufit = dict(ftol=1e-4, xtol=0.0, gtol=0.0, max_iter=20, covariance=False)
    r = scalecore.fit("gauss1d", x, y, p0=p0, **cpufit)
    strict = dict(ftol=1e-7, xtol=0.0, gtol=0.0, max_iter=20, covariance=False)
    rs = scalecore.fit("gauss1d", x, y, p0=p0, **strict)

    def g(xx, a, x0, w, b):
        return a * np.exp(-(xx - x0) ** 2 / (2 * w ** 2)) + b

    peer = _curve_fit_loop(g, lambda b: x.astype(np.float64), y.astype(np.float64), p0.astype(np.float64), n_scipy,
                           ftol=1e-4)
    return [
        Pair(f"gauss1d B={B} M=20 f32, tol 1e-4, <=20 iter", lambda: scalecore.fit("gauss1d", x, y, p0=p0, **cpufit), B,
             peer, n_scipy, "curve_fit (ftol 1e-4)", unit="fits", repeat=3 if quick else 5,
             note=f"mean {r.n_iter.mean():.2f} iterations ({r.info['vectorize']}); Cpufit's 174,000 fits/CPU-s "
                  "is the issue's figure for this machine (Cpufit is not installable here)",
             extra={"ours_mean_iterations": float(r.n_iter.mean())}),
        Pair("gauss1d strict tolerance 1e-7", lambda: scalecore.fit("gauss1d", x, y, p0=p0, **strict), B,
             unit="fits", repeat=3, note=f"mean {rs.n_iter.mean():.2f} iterations",
             extra={"ours_mean_iterations": float(rs.n_iter.mean())}),
    ]


@benchmark("fit_batch_sizes", peer="-", family="fitting",
           description="chinchilla fits/s for batch sizes 1 to 10^6, and single-fit latency")
def batch_sizes(quick: bool):
    sizes = [1, 10, 100, 1000, 10_000, 100_000] + ([] if quick else [1_000_000])
    pairs = []
    for B in sizes:
        x, y = _chinchilla(B, 100, seed=B)
        reps = 200 if B == 1 else (20 if B <= 1000 else 3)

        def run(x=x, y=y, reps=reps):
            for _ in range(reps):
                scalecore.fit("chinchilla", x, y, covariance=False)
        pairs.append(Pair(f"B={B}", run, B * reps, unit="fits", repeat=3))
    # Latency of one small fit, end to end through Python.
    xs = np.logspace(0, 3, 20)
    ys = 3 * xs ** -0.5 * (1 + 0.01 * np.random.default_rng(0).standard_normal(20))

    def one():
        for _ in range(1000):
            scalecore.fit("power", xs, ys, covariance=False)
    pairs.append(Pair("latency: one power-law fit of 20 points (x1000)", one, 1000, unit="fits", repeat=5,
                      note="per-call time = 1 / (fits per wall-second)"))
    return pairs


@benchmark("fit_expression", peer="the same law built in", family="fitting",
           description="an expression law against the built-in law, chinchilla, 100 points")
def expression(quick: bool):
    B = 10_000 if quick else 50_000
    x, y = _chinchilla(B, 100, seed=3)
    law = scalecore.Law("E + A * N**-alpha + B * D**-beta", inputs=["N", "D"])
    p0 = scalecore._core.default_starts(scalecore.laws.chinchilla._handle, [x["N"], x["D"]], y, None, None, None,
                                        None, 0)
    return [
        Pair("expression vs built-in, both uncentred (center=False)",
             lambda: scalecore.fit(law, x, y, p0=p0, covariance=False, center=False), B,
             lambda: scalecore.fit("chinchilla", x, y, p0=p0, covariance=False, center=False), B,
             "built-in chinchilla", unit="fits", repeat=3,
             note="both take the same LM steps; the ratio is the cost of interpreting the program"),
        Pair("expression vs built-in, defaults (both centred)",
             lambda: scalecore.fit(law, x, y, p0=p0, covariance=False), B,
             lambda: scalecore.fit("chinchilla", x, y, p0=p0, covariance=False), B,
             "built-in chinchilla", unit="fits", repeat=3,
             note="both centre log N and log D (fewer steps); the issue's bar is 1.5x (ratio >= 0.67)"),
    ]


@benchmark("fit_vectorize", peer="SIMD over points", family="fitting",
           description="one lane per fit against SIMD over a fit's points, by problem size")
def vectorize(quick: bool):
    pairs = []
    for M in (10, 20, 40, 60, 100, 200, 400):
        B = max(2000, 2_000_000 // M // (10 if quick else 1))
        x, y = _chinchilla(B, M, seed=M)
        for dt in (np.float64, np.float32):
            xd, yd = {k: v.astype(dt) for k, v in x.items()}, y.astype(dt)
            pairs.append(Pair(f"M={M} {np.dtype(dt).name}",
                              lambda xd=xd, yd=yd: scalecore.fit("chinchilla", xd, yd, covariance=False,
                                                                 vectorize="fits"), B,
                              lambda xd=xd, yd=yd: scalecore.fit("chinchilla", xd, yd, covariance=False,
                                                                 vectorize="points"), B,
                              "points", unit="fits", repeat=3))
    return pairs


@benchmark("fit_vectorize_laws", peer="SIMD over points", family="fitting",
           description="one lane per fit against SIMD over points for five laws, 100 to 800 points (the auto limits)")
def vectorize_laws(quick: bool):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import lawgen  # the tests' independent problem generator

    expr = scalecore.Law("E + A * N**-alpha + B * D**-beta", inputs=["N", "D"])
    pairs = []
    for name in ("power", "chinchilla", "bnsl", "gauss1d", "expression"):
        for M in (100, 200, 400, 800):
            B = max(200, (100_000 if name == "bnsl" else 400_000) // M // (10 if quick else 1))
            x, y, _, p0 = lawgen.problems("chinchilla" if name == "expression" else name,
                                          np.random.default_rng(0), B, M, noise=(0.0, 0.05))
            law = expr if name == "expression" else name
            for dt in (np.float64, np.float32):
                xd, yd, pd = {k: v.astype(dt) for k, v in x.items()}, y.astype(dt), p0.astype(dt)
                run = (lambda v, xd=xd, yd=yd, pd=pd, law=law:
                       scalecore.fit(law, xd, yd, p0=pd, covariance=False, vectorize=v))
                pairs.append(Pair(f"{name} M={M} {np.dtype(dt).name}", lambda run=run: run("fits"), B,
                                  lambda run=run: run("points"), B, "points", unit="fits", repeat=2))
    return pairs
