"""parallel_for on the OpenMP team of a libgomp already in the process
(scalecore/common/threads.h): chosen only when torch (or anything else) has
loaded libgomp, the same chunks and bit-identical results as on scalecore's
pool, exceptions and nesting as on the pool, concurrent callers, the opt-out,
and never entered in a forked child.  Each check runs in a fresh interpreter,
so that whether libgomp is loaded is under the test's control."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")


def _run(code: str, env=None, timeout=240) -> str:
    full_env = dict(os.environ)
    full_env.pop("SCALECORE_OPENMP_TEAM", None)
    full_env.update(env or {})
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                       timeout=timeout, env=full_env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _uses_libgomp() -> bool:
    out = _run("""
        import torch, scalecore
        torch.ones(8, 8) @ torch.ones(8, 8)
        print(scalecore.build_info()["parallel_backend"])
    """)
    return out.split()[-1:] == ["libgomp"]


@pytest.fixture(scope="module")
def libgomp():
    if not _uses_libgomp():
        pytest.skip("this torch build does not load libgomp")


def test_pool_without_libgomp_team_with_it_and_opt_out(libgomp):
    out = _run("""
        import sys, scalecore
        from scalecore import _core
        assert "torch" not in sys.modules
        print(_core.parallel_backend())
        import torch
        print(_core.parallel_backend())
        _core._set_openmp_team(False)
        print(_core.parallel_backend())
    """)
    assert out.split()[-3:] == ["scalecore", "libgomp", "scalecore"]
    out = _run("import torch, scalecore; print(scalecore.build_info()['parallel_backend'])",
               env={"SCALECORE_OPENMP_TEAM": "0"})
    assert out.split()[-1:] == ["scalecore"]


def test_team_chunks_exceptions_and_nesting_match_the_pool(libgomp):
    _run("""
        import torch, scalecore, pytest
        from scalecore import _core
        torch.ones(64, 64) @ torch.ones(64, 64)
        for team in (True, False):
            _core._set_openmp_team(team)
            assert _core.parallel_backend() == ("libgomp" if team else "scalecore")
            for threads in (1, 2, 3, 5):
                with scalecore.num_threads(threads):
                    for n, grain in ((1, 1), (17, 4), (1000, 7), (4096, 64)):
                        assert _core._pool_chunks(n, grain) == [(i // grain) * grain for i in range(n)]
                        assert _core._pool_chunks(n, grain, 2) == [(i // grain) * grain for i in range(n)]
                    with pytest.raises(ValueError, match="failed on purpose"):
                        _core._pool_raise_in_task(64, 37)
                    assert _core._pool_chunks(10, 3)[-1] == 9
    """)


def test_families_bit_identical_on_team_and_pool(libgomp):
    # A fit batch, a batched EMD, Sinkhorn, a low-bit GEMM and a tensor
    # product, at 2 threads on torch's team and on the pool.
    _run("""
        import numpy as np, torch, scalecore
        from scalecore import _core
        import scalecore.fitting as fit, scalecore.ot as sot, scalecore.lowbit as lb
        import scalecore.tp.torch as sct
        torch.ones(64, 64) @ torch.ones(64, 64)
        rng = np.random.default_rng(0)
        N = np.exp(rng.uniform(np.log(1e7), np.log(1e10), (300, 40)))
        D = np.exp(rng.uniform(np.log(1e9), np.log(1e12), (300, 40)))
        y = (1.7 + 400 * N ** -0.34 + 2000 * D ** -0.3) * (1 + 0.02 * rng.standard_normal((300, 40)))
        M = rng.random((64, 24, 24))
        a = rng.random((64, 24)) + 0.1; a /= a.sum(1, keepdims=True)
        w = rng.standard_normal((72, 256)).astype(np.float32)
        x = rng.standard_normal((17, 256)).astype(np.float32)
        layer = lb.PackedLinear(w, "int4", group_size=128, act="int8")
        tp = sct.FullyConnectedTensorProduct("8x0e+8x1o", "0e+1o", "8x0e+8x1o")
        tx = torch.randn(500, tp.irreps_in1.dim, generator=torch.Generator().manual_seed(1))
        ty = torch.randn(500, 4, generator=torch.Generator().manual_seed(2))

        def run():
            r = fit.fit("chinchilla", {"N": N, "D": D}, y)
            e = sot.emd(a, a[::-1], M)
            s = sot.sinkhorn(a, a[::-1], M, 0.1)
            return [np.asarray(r.params), e.cost, s.cost, layer(x), tp(tx, ty).detach().numpy()]

        out = {}
        for team in (True, False):
            _core._set_openmp_team(team)
            with scalecore.num_threads(2):
                torch.ones(64, 64) @ torch.ones(64, 64)
                out[team] = run()
        for p, q in zip(out[True], out[False]):
            assert np.array_equal(p, q, equal_nan=True)
    """)


def test_concurrent_python_threads_on_the_team(libgomp):
    _run("""
        import threading, numpy as np, torch, scalecore
        import scalecore.ot as sot
        torch.ones(64, 64) @ torch.ones(64, 64)
        assert scalecore.build_info()["parallel_backend"] == "libgomp"
        rng = np.random.default_rng(1)
        M = rng.random((200, 20, 20))
        a = rng.random((200, 20)) + 0.1; a /= a.sum(1, keepdims=True)
        with scalecore.num_threads(2):
            want = sot.emd(a, a[::-1], M).cost
            got = [None] * 8
            def work(k):
                for _ in range(5):
                    got[k] = sot.emd(a, a[::-1], M).cost
            ts = [threading.Thread(target=work, args=(k,)) for k in range(8)]
            for t in ts: t.start()
            for t in ts: t.join()
        for g in got:
            assert np.array_equal(g, want)
    """)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_after_team_use_runs_on_the_pool(libgomp):
    # libgomp's thread pool does not survive fork(): a child that entered it
    # would wait forever for the parent's team.  The child must use the pool
    # and finish (the subprocess timeout turns a hang into a failure).
    _run("""
        import os, numpy as np, torch, scalecore
        from scalecore import _core
        torch.ones(64, 64) @ torch.ones(64, 64)
        with scalecore.num_threads(2):
            assert _core.parallel_backend() == "libgomp"
            want = _core._pool_chunks(4096, 16)
            pid = os.fork()
            if pid == 0:
                ok = _core.parallel_backend() == "scalecore" and _core._pool_chunks(4096, 16) == want
                os._exit(0 if ok else 3)
            _, status = os.waitpid(pid, 0)
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
            assert _core._pool_chunks(4096, 16) == want
    """, timeout=120)
