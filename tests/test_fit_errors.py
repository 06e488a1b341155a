"""Bad input to fit(): clear ValueError/TypeError naming the argument, or a
per-problem status inside a batch."""
from __future__ import annotations

import numpy as np
import pytest

import scalecore


@pytest.fixture
def data(rng):
    N, D = [a.ravel() for a in np.meshgrid(np.logspace(7, 10, 4), np.logspace(9, 12, 3))]
    y = (1.7 + 400 * N ** -0.34 + 2000 * D ** -0.3) * (1 + 0.01 * rng.standard_normal((4, 12)))
    return {"N": N, "D": D}, y


def test_unknown_law(data):
    x, y = data
    with pytest.raises(ValueError, match="law: unknown law 'chinchila'.*chinchilla"):
        scalecore.fit("chinchila", x, y)


def test_unparsable_expression(data):
    x, y = data
    with pytest.raises(scalecore.ExpressionError, match="position 12"):
        scalecore.fit("E + A * N**-", x, y)


def test_missing_and_extra_inputs(data):
    x, y = data
    with pytest.raises(ValueError, match=r"x: missing input\(s\) \['D'\]"):
        scalecore.fit("chinchilla", {"N": x["N"]}, y)
    with pytest.raises(ValueError, match=r"x: unknown input\(s\) \['T'\]"):
        scalecore.fit("chinchilla", {**x, "T": x["N"]}, y)
    with pytest.raises(ValueError, match="pass a mapping"):
        scalecore.fit("chinchilla", x["N"], y)


def test_p0_and_starts_shapes(data):
    x, y = data
    with pytest.raises(ValueError, match=r"p0: expected 5 values per problem, got shape \(4,\)"):
        scalecore.fit("chinchilla", x, y, p0=[1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"p0: expected shape \(5,\) or \(4, 5\)"):
        scalecore.fit("chinchilla", x, y, p0=np.ones((3, 5)))
    with pytest.raises(ValueError, match="starts: expected 5 values per start"):
        scalecore.fit("chinchilla", x, y, starts=np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"starts: expected shape \(S, 5\) or \(4, S, 5\)"):
        scalecore.fit("chinchilla", x, y, starts=np.ones((2, 3, 5)))
    with pytest.raises(ValueError, match="p0, starts: give one of them"):
        scalecore.fit("chinchilla", x, y, p0=np.ones(5), starts=np.ones((2, 5)))


def test_bounds(data):
    x, y = data
    with pytest.raises(ValueError, match="bounds: lower > upper for parameter 'alpha'"):
        scalecore.fit("chinchilla", x, y, bounds={"alpha": (1.0, 0.5)})
    with pytest.raises(ValueError, match="bounds: 'gamma' is not a parameter"):
        scalecore.fit("chinchilla", x, y, bounds={"gamma": (0, 1)})
    with pytest.raises(ValueError, match="bounds: NaN is not a bound"):
        scalecore.fit("chinchilla", x, y, bounds=(np.full(5, np.nan), np.full(5, np.inf)))
    with pytest.raises(ValueError, match="bounds: expected"):
        scalecore.fit("chinchilla", x, y, bounds="loose")


def test_too_few_points_unmasked():
    x = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match=r"M=2 points but law 'saturating_power' has 3 parameters"):
        scalecore.fit("saturating_power", x, np.array([1.0, 0.5]))


def test_options_are_validated(data):
    x, y = data
    for kw, msg in [({"loss": "l2"}, "loss: expected one of"), ({"residual": "sqrt"}, "residual"),
                    ({"f_scale": 0.0}, "f_scale"), ({"max_iter": -1}, "max_iter"), ({"xtol": -1e-3}, "xtol"),
                    ({"n_threads": 0}, "n_threads"), ({"device": "tpu"}, "device"),
                    ({"vectorize": "lanes"}, "vectorize"), ({"dtype": np.int32}, "dtype")]:
        with pytest.raises((ValueError, TypeError), match=msg):
            scalecore.fit("chinchilla", x, y, **kw)


def test_bad_problems_get_a_status_and_spare_the_rest(data):
    x, y = data
    y = y.copy()
    y[1, 3] = np.inf                    # +-inf in the data
    sigma = np.ones_like(y)
    sigma[2, 5] = -1.0                  # sigma <= 0
    xN = np.tile(x["N"], (4, 1))
    xN[3, 0] = 0.0                      # log of 0 under the law's transform
    r = scalecore.fit("chinchilla", {"N": xN, "D": x["D"]}, y, sigma=sigma)
    assert list(r.status[1:]) == ["bad_input"] * 3
    assert np.isnan(r.params[1:]).all() and np.isnan(r.cost[1:]).all()
    assert r.success[0]
    clean = scalecore.fit("chinchilla", {"N": xN[:1], "D": x["D"]}, y[:1], sigma=sigma[:1])
    np.testing.assert_array_equal(r.params[0], clean.params[0])


def test_nan_marks_missing_points(data):
    x, y = data
    y = y.copy()
    y[0, [2, 7]] = np.nan
    r = scalecore.fit("chinchilla", x, y[:1])
    keep = np.ones(12, bool)
    keep[[2, 7]] = False
    r2 = scalecore.fit("chinchilla", {k: v[keep] for k, v in x.items()}, y[0, keep])
    np.testing.assert_allclose(r.params[0], r2.params, rtol=1e-12)
    assert r.n_points[0] == 10


def test_masked_problem_with_too_few_points_is_bad_input(data):
    x, y = data
    mask = np.ones_like(y, bool)
    mask[2, 3:] = False  # 3 points for 5 parameters
    r = scalecore.fit("chinchilla", x, y, mask=mask)
    assert r.status[2] == "bad_input"
    assert r.success[[0, 1, 3]].all()


def test_log_residual_needs_positive_y(data):
    x, y = data
    y = y.copy()
    y[0, 0] = -1.0
    r = scalecore.fit("chinchilla", x, y, residual="log")
    assert r.status[0] == "bad_input"
    assert r.success[1:].all()


def test_residuals_turning_non_finite_mid_fit():
    # A sqrt(c - x): the data pull c below max(x) = 10, where the model is not
    # defined.  The fit approaches c = 10 from its finite start, every step
    # that would cross it meets NaN, and it ends blocked: status non_finite at
    # its last finite point.  Its neighbour in the batch converges.
    x = np.linspace(0.0, 10.0, 41)
    blocked = 3 * np.sqrt(np.maximum(9.0 - x, 0))
    fine = 3 * np.sqrt(12.0 - x)
    law = scalecore.Law("A * sqrt(c - x)", inputs=["x"])
    r = scalecore.fit(law, x, np.stack([fine, blocked]), p0=[2.0, 13.0], max_iter=500)
    assert r.status[0] in ("gtol", "ftol", "xtol")
    np.testing.assert_allclose(r.params[0], [3.0, 12.0], rtol=1e-8)
    assert r.status[1] == "non_finite"
    assert np.isfinite(r.params[1]).all() and np.isfinite(r.cost[1])
    assert 10.0 < r.params[1][1] < 10.01
