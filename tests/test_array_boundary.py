"""The array boundary shared by every family: dtypes, ranks, contiguity,
DLPack producers and zero-size inputs."""
from __future__ import annotations

import numpy as np
import pytest

import scalecore
from scalecore._array import as_float_array, as_mask, to_numpy


def _power(rng, B=5, M=30):
    x = np.logspace(0, 3, M)
    y = 3 * x ** -0.5 * (1 + 0.01 * rng.standard_normal((B, M)))
    return x, y


def test_complex_dtype_is_a_type_error(rng):
    x, y = _power(rng)
    with pytest.raises(TypeError, match=r"^y: .*complex"):
        scalecore.fit("power", x, y.astype(complex))


def test_string_dtype_is_a_type_error(rng):
    x, y = _power(rng)
    with pytest.raises(TypeError, match=r"x: expected a real numeric array"):
        scalecore.fit("power", x.astype(str), y)


def test_object_and_ragged_inputs_are_type_errors():
    with pytest.raises(TypeError, match="^y: .*object"):
        to_numpy(np.array([{"a": 1}, 2.0], dtype=object), "y")
    with pytest.raises(TypeError, match="^y: expected an array-like"):
        to_numpy([[1, 2], [3]], "y")


def test_wrong_rank_is_a_value_error(rng):
    x, y = _power(rng)
    with pytest.raises(ValueError, match=r"y: expected a 1-D or 2-D array, got shape \(2, 5, 30\)"):
        scalecore.fit("power", x, np.stack([y, y]))


def test_mismatched_shape_names_argument(rng):
    x, y = _power(rng)
    with pytest.raises(ValueError, match=r"x\['x'\]: expected shape \(30,\) or \(5, 30\)"):
        scalecore.fit("power", x[:-1], y)
    with pytest.raises(ValueError, match=r"sigma: expected shape"):
        scalecore.fit("power", x, y, sigma=np.ones(7))
    with pytest.raises(ValueError, match=r"mask: expected shape"):
        scalecore.fit("power", x, y, mask=np.ones((2, 30), bool))


def test_integer_and_float32_inputs_are_converted(rng):
    x = np.arange(1, 41)
    y = (3 * x.astype(float) ** -0.5)
    r1 = scalecore.fit("power", x, y)
    r2 = scalecore.fit("power", x.astype(np.float64), y)
    np.testing.assert_array_equal(r1.params, r2.params)
    r3 = scalecore.fit("power", x.astype(np.float32), y, dtype=np.float64)
    assert r3.params.dtype == np.float64
    r4 = scalecore.fit("power", x, y.astype(np.float32))
    assert r4.params.dtype == np.float32
    np.testing.assert_allclose(r4.params, r1.params, rtol=1e-4)


def test_non_contiguous_inputs_give_the_same_result(rng):
    x, y = _power(rng, B=6, M=40)
    big = np.zeros((6, 80))
    big[:, ::2] = y
    view = big[:, ::2]
    assert not view.flags.c_contiguous
    r1 = scalecore.fit("power", x, y)
    r2 = scalecore.fit("power", x, view)
    np.testing.assert_array_equal(r1.params, r2.params)
    r3 = scalecore.fit("power", np.asfortranarray(np.tile(x, (6, 1))), np.asfortranarray(y))
    np.testing.assert_array_equal(r1.params, r3.params)


def test_torch_tensors_through_dlpack(rng):
    torch = pytest.importorskip("torch")
    x, y = _power(rng)
    ref = scalecore.fit("power", x, y)
    r = scalecore.fit("power", torch.from_numpy(x), torch.from_numpy(y))
    np.testing.assert_array_equal(r.params, ref.params)
    # A tensor that requires grad is detached, not rejected.
    yt = torch.from_numpy(y.copy()).requires_grad_(True)
    r = scalecore.fit("power", torch.from_numpy(x), yt)
    np.testing.assert_array_equal(r.params, ref.params)
    # Zero-copy: a numpy view of a CPU tensor shares memory.
    t = torch.arange(5, dtype=torch.float64)
    a = to_numpy(t, "t")
    t[0] = 42.0
    assert a[0] == 42.0
    # Non-contiguous tensor.
    t2 = torch.from_numpy(np.ascontiguousarray(np.repeat(y, 2, axis=1)))[:, ::2]
    assert not t2.is_contiguous()
    r = scalecore.fit("power", torch.from_numpy(x), t2)
    np.testing.assert_array_equal(r.params, ref.params)


def test_device_array_is_rejected_by_name():
    class FakeCudaArray:
        def __dlpack_device__(self):
            return (2, 0)  # kDLCUDA

        def __dlpack__(self, stream=None):  # pragma: no cover - never called
            raise AssertionError

    with pytest.raises(TypeError, match=r"y: expected an array in host \(CPU\) memory"):
        to_numpy(FakeCudaArray(), "y")


def test_zero_problems_give_empty_results():
    x = np.arange(1.0, 11.0)
    r = scalecore.fit("power", x, np.zeros((0, 10)))
    assert r.params.shape == (0, 2)
    assert r.cost.shape == (0,)
    assert r.status.shape == (0,)


def test_zero_points_is_a_value_error():
    with pytest.raises(ValueError, match=r"y: each problem has M=0 points"):
        scalecore.fit("power", np.zeros(0), np.zeros((3, 0)))


def test_helpers_validate_rank_and_kind():
    with pytest.raises(ValueError, match="p: expected a 1-D array"):
        as_float_array(np.zeros((2, 2)), "p", np.float64, ndims=(1,))
    with pytest.raises(TypeError, match="m: expected a boolean array"):
        as_mask(np.zeros(3), "m")
    np.testing.assert_array_equal(as_mask([True, False, 1], "m"), [1, 0, 1])


def test_misaligned_input_is_realigned_before_the_kernels():
    # A float64 view at an odd byte offset (as pickle protocol 5 buffers can
    # be): the result equals the aligned copy's (the sanitizer build checks
    # the kernels never see the misaligned pointer).
    import numpy as np

    import scalecore

    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e10), (3, 30)))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e12), (3, 30)))
    y = 1.7 + 400 * N**-0.34 + 2000 * D**-0.28
    raw = bytearray(y.nbytes + 1)
    mis = np.frombuffer(raw, dtype=np.float64, count=y.size, offset=1).reshape(y.shape)
    mis[...] = y
    assert not mis.flags.aligned
    a = scalecore.fit("chinchilla", {"N": N, "D": D}, mis)
    b = scalecore.fit("chinchilla", {"N": N, "D": D}, y)
    np.testing.assert_array_equal(a.params, b.params)
