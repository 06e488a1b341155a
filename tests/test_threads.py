"""The thread pool: chunking independent of the thread count, exceptions,
concurrent callers, the GIL released, and bit-identical results."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import scalecore
from scalecore import _core


def test_set_num_threads_validates():
    with pytest.raises(ValueError, match="n_threads"):
        scalecore.set_num_threads(0)
    with pytest.raises(TypeError, match="integer"):
        scalecore.set_num_threads(1.5)
    with pytest.raises(TypeError):
        scalecore.set_num_threads(True)


def test_num_threads_context_restores():
    old = scalecore.get_num_threads()
    with scalecore.num_threads(3):
        assert scalecore.get_num_threads() == 3
    assert scalecore.get_num_threads() == old


@pytest.mark.parametrize("n,grain", [(1, 1), (17, 4), (1000, 7), (4096, 64)])
def test_chunks_depend_only_on_size(n, grain):
    ref = None
    for threads in (1, 2, 5):
        with scalecore.num_threads(threads):
            chunks = _core._pool_chunks(n, grain)
        expect = [(i // grain) * grain for i in range(n)]
        assert chunks == expect
        ref = ref or chunks
        assert chunks == ref


def test_exception_in_task_reaches_caller():
    with scalecore.num_threads(2):
        with pytest.raises(ValueError, match="failed on purpose"):
            _core._pool_raise_in_task(64, 37)
        # The pool still works afterwards.
        assert _core._pool_chunks(10, 3)[-1] == 9


def _chinchilla_batch(rng, B=400, M=60):
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e10), (B, M)))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e12), (B, M)))
    y = (1.7 + 400 * N ** -0.34 + 2000 * D ** -0.3) * (1 + 0.02 * rng.standard_normal((B, M)))
    return {"N": N, "D": D}, y


@pytest.mark.parametrize("vectorize", ["auto", "points", "fits"])
def test_results_bit_identical_across_thread_counts(rng, vectorize):
    x, y = _chinchilla_batch(rng)
    res = []
    for threads in (1, 2, 3):
        with scalecore.num_threads(threads):
            r = scalecore.fit("chinchilla", x, y, vectorize=vectorize)
        res.append(r)
    for r in res[1:]:
        np.testing.assert_array_equal(r.params, res[0].params)
        np.testing.assert_array_equal(r.cost, res[0].cost)
        np.testing.assert_array_equal(r.n_iter, res[0].n_iter)
        np.testing.assert_array_equal(r.stderr, res[0].stderr)


def test_results_independent_of_batch_composition(rng):
    x, y = _chinchilla_batch(rng, B=300)
    full = scalecore.fit("chinchilla", x, y)
    part = scalecore.fit("chinchilla", {k: v[100:180] for k, v in x.items()}, y[100:180])
    np.testing.assert_array_equal(full.params[100:180], part.params)
    np.testing.assert_array_equal(full.cost[100:180], part.cost)


def test_concurrent_python_threads(rng):
    x, y = _chinchilla_batch(rng, B=300)
    expect = scalecore.fit("chinchilla", x, y)
    out = [None] * 4
    errors = []

    def work(i):
        try:
            out[i] = scalecore.fit("chinchilla", x, y)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=300)
    assert not errors
    for r in out:
        np.testing.assert_array_equal(r.params, expect.params)


def test_gil_released_during_fit(rng):
    # While a long fit runs in one thread, another Python thread keeps running.
    x, y = _chinchilla_batch(rng, B=12000, M=80)
    ticks = []
    done = threading.Event()

    def spin():
        while not done.is_set():
            ticks.append(1)
            done.wait(0.001)

    t = threading.Thread(target=spin)
    t.start()
    try:
        scalecore.fit("chinchilla", x, y, covariance=False)
    finally:
        done.set()
        t.join()
    assert len(ticks) > 5
