"""User-written laws: parsing, errors with positions, parameter order, the
compiled program, and agreement with the built-in laws."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import scalecore
from scalecore import ExpressionError, Law, _core


def test_parameters_in_order_of_appearance():
    law = Law("E + A * N**-alpha + B * D**-beta", inputs=["N", "D"])
    assert law.param_names == ("E", "A", "alpha", "B", "beta")
    assert law.input_names == ("N", "D")


def test_explicit_parameter_order():
    law = Law("E + A * N**-alpha", inputs=["N"], params=["A", "alpha", "E"])
    assert law.param_names == ("A", "alpha", "E")
    with pytest.raises(ValueError, match=r"params: \['Q'\] do not appear"):
        Law("E + A * N**-alpha", inputs=["N"], params=["A", "alpha", "E", "Q"])
    with pytest.raises(ValueError, match=r"also uses \['E'\]"):
        Law("E + A * N**-alpha", inputs=["N"], params=["A", "alpha"])


@pytest.mark.parametrize(
    "text,pos,msg",
    [
        ("E + A * N**-alpha +", 19, "syntax error"),
        ("E + A * N ^ alpha", 10, r"use \*\* for powers"),
        ("E + foo(N)", 4, "unknown function 'foo'"),
        ("E + exp(N, A)", 4, r"exp\(\) takes 1 argument"),
        ("E + A[0]", 4, "unsupported syntax"),
        ("E + A * N if A else N", 0, "unsupported syntax"),
        ("E + exp", 4, "'exp' is a function"),
        ("E + 'a'", 4, "unsupported constant"),
    ],
)
def test_parse_errors_point_at_position(text, pos, msg):
    with pytest.raises(ExpressionError, match=msg) as ei:
        Law(text, inputs=["N"])
    assert ei.value.position == pos
    assert isinstance(ei.value, ValueError)
    assert "\n  " + " " * pos + "^" in str(ei.value)


def test_no_parameter_is_an_error():
    with pytest.raises(ValueError, match="no parameters"):
        Law("exp(N) + 1", inputs=["N"])


def test_unused_input_is_an_error():
    with pytest.raises(ValueError, match=r"inputs: \['D'\] do not appear"):
        Law("A * N", inputs=["N", "D"])


def test_input_only_subexpressions_are_hoisted():
    law = Law("E + A * exp(-alpha * log(N)) + B * exp(-beta * log(D))", inputs=["N", "D"])
    summary = _core.expr_program_summary(law._handle)
    # log(N) and log(D) become two per-point features computed once.
    assert summary["n_features"] == 2
    law2 = Law("A * N**-alpha", inputs=["N"])
    assert _core.expr_program_summary(law2._handle)["n_features"] == 1


def test_common_subexpressions_are_merged():
    a = Law("A * exp(-k * x) + A * exp(-k * x)", inputs=["x"])
    b = Law("A * exp(-k * x)", inputs=["x"])
    sa = _core.expr_program_summary(a._handle)
    sb = _core.expr_program_summary(b._handle)
    assert sa["n_main"] == sb["n_main"] + 1  # one extra add


def test_expression_evaluates_like_numpy(rng):
    text = ("a * sigmoid(k * x) + softplus(c * x) - log1p(abs(x)) + tanh(x) * min(x, b) "
            "+ max(x, b) / sqrt(1 + x**2) + sin(c * x) * cos(x) + atan(x) + exp(-x**2) * 2 ** b")
    law = Law(text, inputs=["x"])
    x = rng.uniform(-3, 3, 50)
    p = np.array([1.3, 0.7, -0.4, 0.2])  # a, k, c, b
    a, k, c, b = p
    ref = (a / (1 + np.exp(-k * x)) + np.log1p(np.exp(c * x)) - np.log1p(np.abs(x)) + np.tanh(x) * np.minimum(x, b)
           + np.maximum(x, b) / np.sqrt(1 + x ** 2) + np.sin(c * x) * np.cos(x) + np.arctan(x)
           + np.exp(-x ** 2) * 2 ** b)
    assert law.param_names == ("a", "k", "c", "b")
    np.testing.assert_allclose(law(x, p), ref, rtol=1e-13, atol=1e-13)


def test_integer_powers_of_negative_bases():
    law = Law("a * (x - x0)**2 + b * (x - x0)**3 + c / (x - x0)**2", inputs=["x"])
    x = np.linspace(-2, 2, 9) + 0.05
    p = np.array([1.5, 0.3, -0.7, 0.25])
    a, x0, b, c = p
    np.testing.assert_allclose(law(x, p), a * (x - x0) ** 2 + b * (x - x0) ** 3 + c / (x - x0) ** 2, rtol=1e-13)


def test_integer_powers_of_negative_constants_are_exact():
    # Found by the native fuzzer (tools/fuzz_native.sh, target expr): constant
    # folding used exp(c log a), so (-2)**2 folded to NaN.
    x = np.array([1.0, 2.0, 3.0])
    for text, factor in [("a * (-2)**2 + 0*x", 4.0), ("a * (0 - 3)**3 + 0*x", -27.0),
                         ("a * (-2)**-2 + 0*x", 0.25), ("a * (-1.5)**0 + 0*x", 1.0)]:
        law = Law(text, inputs=["x"])
        np.testing.assert_allclose(law(x, [2.0]), 2.0 * factor * np.ones(3), rtol=1e-15, err_msg=text)
    # A non-integer power of a negative constant stays NaN, as numpy's.
    assert np.isnan(Law("a * (-2)**0.5 + 0*x", inputs=["x"])(x, [1.0])).all()


def test_expression_laws_pickle():
    law = Law("E + A * N**-alpha", inputs=["N"], name="sat", bounds={"E": (0, 10)})
    law2 = pickle.loads(pickle.dumps(law))
    assert law2 == law
    assert law2.param_names == law.param_names
    np.testing.assert_array_equal(law2.default_bounds[0], law.default_bounds[0])
    x = np.logspace(0, 2, 7)
    np.testing.assert_array_equal(law2(x, [1, 2, 0.5]), law(x, [1, 2, 0.5]))
    builtin = pickle.loads(pickle.dumps(scalecore.laws.chinchilla))
    assert builtin is scalecore.laws.chinchilla or builtin == scalecore.laws.chinchilla


def test_string_law_takes_inputs_from_mapping(rng):
    N = np.logspace(6, 9, 30)
    y = 2.0 + 50 * N ** -0.3
    r = scalecore.fit("E + A * N**-alpha", {"N": N}, y, p0=[1.5, 30, 0.2])
    assert r.law.input_names == ("N",)
    np.testing.assert_allclose(r.params, [2.0, 50, 0.3], rtol=1e-6)


def test_catalogue_membership_and_expression_strings():
    assert "chinchilla" in scalecore.laws
    assert "A * x**-alpha + E" not in scalecore.laws
    x = np.logspace(0, 2, 20)
    r = scalecore.fit("A * x**-alpha + E", x, 2 * x ** -0.5 + 1, p0=[1.5, 0.4, 0.8])
    assert r.success
    np.testing.assert_allclose(r.params, [2, 0.5, 1], rtol=1e-7)
