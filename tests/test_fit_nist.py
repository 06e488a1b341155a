"""NIST StRD certified values: all 27 nonlinear problems from both starts.

Acceptance (issue 3): at least 6 correct significant digits (log relative
error, LRE >= 6) of every certified parameter wherever
scipy.optimize.least_squares(method="lm") reaches it from the same start.
The problems written as expression laws also test the expression compiler
(cos, sin, atan, rational functions, negative integer powers)."""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
from scipy.optimize import least_squares

import nist
import scalecore

CASES = [(name, s) for name in nist.NAMES for s in (1, 2)]

# Where scipy's MINPACK reaches LRE >= 6 and the default (Nielsen) damping
# does not (listed in the README): MGH10 from start 1 crawls along its curved
# valley.  MINPACK's trust region, damping="more", solves it (293 evaluations
# in MINPACK), and is tested on every case.
KNOWN = {("MGH10", 1)}
RUNS = [(n, s, d) for n, s in CASES for d in ("nielsen", "more") if not (d == "nielsen" and (n, s) in KNOWN)]


@functools.lru_cache(maxsize=None)
def _scipy_cached(name, start):
    pr = nist.load(name)
    law = scalecore.Law(pr.model, inputs=pr.inputs, params=pr.params)
    return _scipy_lre(pr, law, pr.start1 if start == 1 else pr.start2)


def _scipy_lre(pr, law, start):
    """scipy's LRE of the parameters and of the residual sum of squares."""
    def fun(b):
        return law(pr.x, b) - pr.y

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = least_squares(fun, start, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15, x_scale="jac",
                          max_nfev=100000)
    return nist.lre(s.x, pr.certified).min(), nist.lre(2 * s.cost, pr.certified_rss)


@pytest.mark.parametrize("name,start,damping", RUNS, ids=[f"{n}-start{s}-{d}" for n, s, d in RUNS])
def test_certified_values(name, start, damping, simd):
    pr = nist.load(name)
    law = scalecore.Law(pr.model, inputs=pr.inputs, params=pr.params)
    p0 = pr.start1 if start == 1 else pr.start2
    r = scalecore.fit(law, pr.x, pr.y, p0=p0, xtol=1e-15, ftol=1e-15, gtol=1e-15, max_iter=5000, damping=damping)
    ours = nist.lre(r.params, pr.certified).min()
    theirs, theirs_rss = _scipy_cached(name, start)
    if theirs < 6:
        pytest.skip(f"scipy's lm reaches LRE {theirs:.1f} < 6 here (ours {ours:.1f}); not required")
    assert ours >= 6, f"LRE {ours:.2f} (scipy {theirs:.2f}), status {r.status}, params {r.params}"
    # The certified residual sum of squares too, to the digits scipy gets
    # (for Lanczos1, RSS 1.4e-25, double rounding of the residuals limits both).
    assert nist.lre(2 * r.cost, pr.certified_rss) >= min(6.0, theirs_rss - 0.5)


def test_known_gap_is_still_a_gap():
    # Keeps the KNOWN list honest: if the engine starts solving MGH10 from
    # start 1 this fails and the list (and README) must be updated.
    pr = nist.load("MGH10")
    law = scalecore.Law(pr.model, inputs=pr.inputs, params=pr.params)
    r = scalecore.fit(law, pr.x, pr.y, p0=pr.start1, xtol=1e-15, ftol=1e-15, gtol=1e-15, max_iter=5000)
    assert nist.lre(r.params, pr.certified).min() < 6


def test_certified_standard_deviations():
    # The covariance from (J^T J)^-1 s^2 reproduces NIST's certified standard
    # deviations of the parameters.
    for name in ("Misra1a", "Thurber", "Lanczos3", "Nelson", "Gauss2"):
        pr = nist.load(name)
        law = scalecore.Law(pr.model, inputs=pr.inputs, params=pr.params)
        r = scalecore.fit(law, pr.x, pr.y, p0=pr.start2, xtol=1e-15, ftol=1e-15, gtol=1e-15, max_iter=5000)
        assert nist.lre(r.stderr, pr.certified_sd).min() >= 4, name
