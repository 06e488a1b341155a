"""Covariance and standard errors: the pass fused into the fit (float64, one
start) against the standalone pass on the same parameters, and against
scipy's curve_fit pcov."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import curve_fit

import scalecore
from scalecore import _core, fitting
from scalecore.fitting._fit import LOSSES, RESIDUALS


def _batch(B=40, M=57, seed=11):
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e10), (B, M)))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e12), (B, M)))
    p = np.array([1.7, 400, 0.34, 410, 0.28]) * rng.uniform(0.8, 1.2, (B, 5))
    y = p[:, :1] + p[:, 1:2] / N ** p[:, 2:3] + p[:, 3:4] / D ** p[:, 4:5]
    y = y * (1 + 0.01 * rng.standard_normal((B, M)))
    return N, D, y


def _standalone(r, N, D, y, mask=None, sigma=None, lo=None, hi=None, loss="linear", f_scale=1.0,
                residual="linear", absolute_sigma=False):
    return _core.fit_covariance(r.law._handle, [N, D], y, mask, sigma, lo, hi, np.ascontiguousarray(r.params),
                                LOSSES[loss], float(f_scale), RESIDUALS[residual], absolute_sigma, True, 0)


CASES = {
    "plain": {},
    "sigma_abs": {"sigma": "s", "absolute_sigma": True},
    "mask_nan": {"mask": "m"},
    "huber_log": {"loss": "huber", "f_scale": 0.01, "residual": "log"},
    "bounds": {"bounds": ([1.8, 0, 0, 0, 0], [np.inf, np.inf, 1.0, np.inf, 1.0])},
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("vec", ["fits", "points"])
def test_fused_covariance_equals_standalone_pass(case, vec):
    N, D, y = _batch()
    rng = np.random.default_rng(5)
    kw = dict(CASES[case])
    extra = {}
    if kw.get("sigma") == "s":
        kw["sigma"] = extra["sigma"] = rng.uniform(0.5, 2.0, y.shape) * 0.01
    if kw.get("mask") == "m":
        m = rng.uniform(size=y.shape) > 0.2
        m[3, :54] = False           # too few points: bad input
        y = y.copy()
        y[5, ::7] = np.nan          # missing points
        y[6, 0] = np.inf            # bad value: bad input
        kw["mask"] = m
        extra["mask"] = m.astype(np.uint8)
    if "bounds" in kw:
        lo, hi = kw["bounds"]
        extra["lo"] = np.asarray(lo, float)
        extra["hi"] = np.asarray(hi, float)
    for k in ("loss", "f_scale", "residual", "absolute_sigma"):
        if k in kw:
            extra[k] = kw[k]
    r = fitting.fit("chinchilla", {"N": N, "D": D}, y, vectorize=vec, **kw)
    c, s = _standalone(r, N, D, y, **extra)
    bad = (r.status_code == 7) | ~np.isfinite(r.cost)
    c[bad] = np.nan
    s[bad] = np.nan
    if case == "mask_nan":
        assert r.status[3] == "bad_input" and r.status[6] == "bad_input"
        assert np.isnan(r.stderr[3]).all() and np.isnan(r.stderr[6]).all()
    if case == "bounds":
        held = r.params[:, 0] <= 1.8
        assert held.any()                           # some problems end on the bound
        assert np.isnan(r.stderr[held, 0]).all()    # a held parameter has no error
    np.testing.assert_array_equal(r.stderr, s)
    np.testing.assert_array_equal(r.covariance, c)
    # n_points from the C++ preparation equals the count of usable points.
    ok = ~np.isnan(y)
    if "mask" in extra:
        ok &= extra["mask"].astype(bool)
    np.testing.assert_array_equal(r.n_points, ok.sum(axis=1))


def test_covariance_matches_scipy_curve_fit():
    N, D, y = _batch(B=12, M=80, seed=2)
    r = fitting.fit("chinchilla", {"N": N, "D": D}, y)
    assert r.success.all()

    def f(X, E, A, al, Bc, be):
        return E + A * X[0] ** -al + Bc * X[1] ** -be

    for b in range(12):
        popt, pcov = curve_fit(f, np.stack([N[b], D[b]]), y[b], p0=r.params[b], method="lm",
                               xtol=1e-14, ftol=1e-14, gtol=1e-14)
        np.testing.assert_allclose(r.params[b], popt, rtol=1e-5)
        np.testing.assert_allclose(r.covariance[b], pcov, rtol=1e-4, atol=1e-12 * np.abs(pcov).max())
        np.testing.assert_allclose(r.stderr[b], np.sqrt(np.diag(pcov)), rtol=1e-4)


def test_float32_and_multistart_use_the_standalone_pass():
    N, D, y = _batch(B=10, M=40, seed=4)
    r32 = fitting.fit("chinchilla", {"N": N.astype(np.float32), "D": D.astype(np.float32)}, y.astype(np.float32))
    assert r32.stderr.dtype == np.float32 and np.isfinite(r32.stderr).all()
    starts = np.array([[1.5, 300, 0.3, 300, 0.3], [2.0, 500, 0.4, 500, 0.3]])
    rm = fitting.fit("chinchilla", {"N": N, "D": D}, y, starts=starts)
    c, s = _standalone(rm, N, D, y)
    np.testing.assert_array_equal(rm.stderr, s)
