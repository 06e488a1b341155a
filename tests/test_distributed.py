"""scalecore.distributed: chunked fits on Dask equal the single-process fit.

The oracle is :func:`scalecore.fit` itself, run in this process on the whole
batch: every problem's result depends on its own data and options alone, so
any split of the batch axis, on any number of workers, must give bit-identical
arrays.  The cluster tests use a real ``distributed.LocalCluster`` of two
worker processes on loopback.
"""
from __future__ import annotations

import concurrent.futures as cf
import importlib
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import scalecore

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
pd = pytest.importorskip("pandas")
dd = pytest.importorskip("dask.dataframe")

import cloudpickle  # noqa: E402  (a dependency of distributed)
from hypothesis import given, settings, strategies as hst  # noqa: E402

from dask.delayed import Delayed  # noqa: E402

from scalecore import distributed as sd  # noqa: E402

# Workers unpickle this module's helpers (table_fn, probes) by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

TIMEOUT = 180  # seconds for any one job; a hang fails the test instead

ARRAY_FIELDS = ("params", "cost", "status", "status_code", "success", "n_iter", "nfev", "stderr",
                "covariance", "best_start", "all_params", "all_cost", "all_status", "n_points")
TRUE = np.array([1.7, 400.0, 0.34, 410.0, 0.28])  # chinchilla E, A, alpha, B, beta
EXPR = scalecore.Law("E + A * N**-alpha + B * D**-beta", inputs=["N", "D"], name="chinchilla_expr")


def assert_same(ref, res):
    """Every result array bit-identical (same dtype and shape, NaN == NaN)."""
    assert type(res) is type(ref)
    assert res.param_names == ref.param_names
    for f in ARRAY_FIELDS:
        a, b = getattr(ref, f), getattr(res, f)
        if a is None:
            assert b is None, f
            continue
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape, (f, a.dtype, b.dtype, a.shape, b.shape)
        if a.dtype.kind in "fc":
            assert np.array_equal(a, b, equal_nan=True), f
            # and bit for bit (signed zeros, NaN payloads aside)
            assert np.array_equal(np.signbit(a), np.signbit(b)), f
        else:
            assert np.array_equal(a, b), f
    for k in ("level", "vectorize", "dtype", "device", "starts"):
        assert res.info[k] == ref.info[k], k


def make_data(B, M, rng, dtype=np.float64, noise=0.03):
    """Chinchilla problems with noise, plus some bad ones: a NaN point, an
    inf, and a row with too few valid points."""
    N = np.geomspace(1e7, 1e10, M)
    D = np.geomspace(1e9, 1e12, M)[rng.permutation(M)]
    p = TRUE * rng.uniform(0.8, 1.25, (B, 5))
    y = scalecore.laws.chinchilla({"N": N, "D": D}, p) * np.exp(noise * rng.standard_normal((B, M)))
    y[1, 3] = np.nan
    y[B // 2, 0] = np.inf
    y[-1, 2:] = np.nan
    return {"N": N, "D": D}, y.astype(dtype)


def run(fn, *args, timeout=TIMEOUT, **kwargs):
    """Call fn in a helper thread and give up (failing) after ``timeout``."""
    with cf.ThreadPoolExecutor(1) as ex:
        return ex.submit(fn, *args, **kwargs).result(timeout=timeout)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                       dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL)
    c = distributed.Client(cluster, set_as_default=False, timeout=60)
    try:
        c.wait_for_workers(2, timeout=120)
        yield c
    finally:
        c.close(timeout=30)
        cluster.close(timeout=30)


def test_cluster_listens_on_loopback_only(client):
    """The scheduler (in this process), nannies and workers accept
    connections on 127.0.0.1 only."""
    psutil = pytest.importorskip("psutil")
    pids = {os.getpid(), *client.run(os.getpid).values()}
    pids |= {p.ppid() for p in map(psutil.Process, client.run(os.getpid).values())}  # the nannies
    listening = []
    for pid in pids:
        proc = psutil.Process(pid)
        conns = proc.net_connections(kind="inet") if hasattr(proc, "net_connections") else proc.connections("inet")
        listening += [(pid, c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN]
    assert listening
    assert all(ip == "127.0.0.1" for _, ip, _ in listening), listening


@pytest.fixture
def two_workers(client):
    client.wait_for_workers(2, timeout=120)
    return client


# ---------------------------------------------------------------------------
# Equality with the single-process fit, on the cluster
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("law", ["chinchilla", EXPR], ids=["builtin", "expression"])
@pytest.mark.parametrize("chunks", [None, 7, 128, (1, 2, 97, 100, 100)])
def test_cluster_equals_single_process(two_workers, law, dtype, chunks):
    rng = np.random.default_rng(1)
    x, y = make_data(300, 23, rng, dtype)
    starts = TRUE * rng.uniform(0.5, 2.0, (3, 5))
    kw = dict(starts=starts, return_all=True, bounds=([0, 0, 0, 0, 0], np.inf))
    ref = scalecore.fit(law, x, y, **kw)
    res = run(sd.fit, law, x, y, client=two_workers, chunks=chunks, **kw)
    assert_same(ref, res)
    assert res.info["chunks"] == sd.plan_chunks(300, "auto" if chunks is None else chunks, threads=2)


def test_cluster_per_problem_arguments(two_workers):
    """Every argument that can be per problem is split with y: x (B, M),
    sigma, mask, p0, bounds (B, P), starts (B, S, P)."""
    rng = np.random.default_rng(2)
    B, M = 211, 17
    x, y = make_data(B, M, rng)
    xb = {"N": np.tile(x["N"], (B, 1)) * rng.uniform(0.9, 1.1, (B, M)), "D": x["D"]}
    sigma = rng.uniform(0.5, 2.0, (B, M))
    mask = rng.uniform(size=(B, M)) > 0.15
    lo = np.zeros((B, 5))
    hi = np.tile([10.0, 1e4, 2.0, 1e4, 2.0], (B, 1))
    hi[::3, 2] = 0.3  # some problems end on a bound
    starts = TRUE * rng.uniform(0.5, 2.0, (B, 2, 5))
    common = dict(sigma=sigma, mask=mask, bounds=(lo, hi), loss="huber", f_scale=0.05, residual="log",
                  geodesic=True, max_iter=60)
    ref = scalecore.fit("chinchilla", xb, y, starts=starts, **common)
    res = run(sd.fit, "chinchilla", xb, y, client=two_workers, chunks=20, starts=starts, **common)
    assert_same(ref, res)
    p0 = TRUE * rng.uniform(0.7, 1.4, (B, 5))
    ref = scalecore.fit("chinchilla", xb, y, p0=p0, absolute_sigma=True, **common)
    res = run(sd.fit, "chinchilla", xb, y, client=two_workers, chunks=50, p0=p0, absolute_sigma=True, **common)
    assert_same(ref, res)
    assert set(ref.status) >= {"bad_input"}  # the bad rows went through as statuses


def test_cluster_dask_inputs_and_lazy_result(two_workers):
    rng = np.random.default_rng(3)
    x, y = make_data(400, 31, rng)
    ref = scalecore.fit(EXPR, x, y, vectorize="points", covariance=False)
    yd = da.from_array(y, chunks=(37, 16))  # also chunked along M: merged per problem
    xd = {"N": da.from_array(np.tile(x["N"], (400, 1)), chunks=(100, 31)), "D": da.from_array(x["D"])}
    res = run(sd.fit, EXPR, xd, yd, client=two_workers, vectorize="points", covariance=False)
    assert_same(ref, res)
    assert res.info["chunks"] == tuple(yd.chunks[0])
    lazy = sd.fit(EXPR, xd, yd, client=two_workers, chunks=64, vectorize="points", covariance=False,
                  compute=False)
    assert isinstance(lazy, Delayed)
    fut = two_workers.compute(lazy)
    assert_same(ref, fut.result(timeout=TIMEOUT))


def test_cluster_single_problem(two_workers):
    rng = np.random.default_rng(4)
    x, y = make_data(3, 20, rng)
    st = TRUE * rng.uniform(0.5, 2, (4, 5))
    ref = scalecore.fit("chinchilla", x, y[0], starts=st, return_all=True)
    res = run(sd.fit, "chinchilla", x, y[0], client=two_workers, starts=st, return_all=True)
    assert_same(ref, res)
    assert isinstance(res.status, str) and res.params.shape == (5,)


@pytest.mark.parametrize("level", scalecore.simd_levels())
def test_cluster_follows_callers_simd_level(two_workers, level):
    rng = np.random.default_rng(5)
    x, y = make_data(150, 40, rng, np.float32)
    with scalecore.simd_level(level):
        ref = scalecore.fit("chinchilla", x, y)
        res = run(sd.fit, "chinchilla", x, y, client=two_workers, chunks=16)
    assert res.info["level"] == level
    assert_same(ref, res)


def _pin_probe():
    """What a chunk task sees on a worker: pool before, threads granted, pool
    inside, pool after."""
    before = scalecore.get_num_threads()
    with sd._pin(None, None) as k:
        inside = scalecore.get_num_threads()
    return before, k, inside, scalecore.get_num_threads()


def test_cluster_workers_pin_threads(two_workers):
    """threads_per_worker=1: each chunk runs with a one-thread pool, and the
    worker's pool is restored afterwards."""
    futs = [two_workers.submit(_pin_probe, pure=False) for _ in range(4)]
    for before, k, inside, after in two_workers.gather(futs):
        assert (k, inside) == (1, 1)
        assert after == before


def _kill_data():
    rng = np.random.default_rng(6)
    x, y = make_data(2400, 200, rng)
    return x, y, TRUE * rng.uniform(0.5, 2.0, (8, 5))


def test_cluster_worker_killed_mid_job(two_workers):
    """SIGKILL one worker while the job runs: its chunks (finished ones held in
    its memory and the one it was fitting) are recomputed on the other worker
    (or on the one the nanny restarts) and the result is complete and
    identical."""
    client = two_workers
    x, y, starts = _kill_data()
    ref = scalecore.fit("chinchilla", x, y, starts=starts)
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    with cf.ThreadPoolExecutor(1) as ex:
        job = ex.submit(sd.fit, "chinchilla", x, y, client=client, chunks=60, starts=starts)
        held = []
        deadline = time.monotonic() + TIMEOUT
        while not held:
            assert not job.done(), "the job ended before the worker could be killed"
            assert time.monotonic() < deadline, "no chunk ever reached the victim worker"
            held = [k for k in client.has_what().get(victim, ()) if str(k).startswith("scalecore-fit-chunk")]
            time.sleep(0.02)
        assert not job.done()
        os.kill(pids[victim], signal.SIGKILL)
        res = job.result(timeout=TIMEOUT)
    assert_same(ref, res)
    # The victim is gone, and the chunks it held were computed twice.
    assert pids[victim] not in client.run(os.getpid).values()
    story = client.story(*held)
    assert story, "the scheduler kept no record of the lost chunks"
    for key in held:
        # scheduler events are (source, key, start state, finish state, ...)
        n_memory = sum(1 for ev in story if ev[0] == "scheduler" and ev[1] == key and ev[3] == "memory")
        assert n_memory >= 2, (key, n_memory)
    client.wait_for_workers(2, timeout=120)


# ---------------------------------------------------------------------------
# The group-by building block
# ---------------------------------------------------------------------------
def table_fn(df, law, *, x, y, by, **fit_kwargs):
    """A small per-partition fitter: each group fitted on its own with
    scalecore.fit; one row per group."""
    rows = []
    for key, g in df.groupby(by, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        r = scalecore.fit(law, {k: g[c].to_numpy() for k, c in x.items()}, g[y].to_numpy(), **fit_kwargs)
        row = dict(zip(by, key))
        row.update({nm: r.params[i] for i, nm in enumerate(r.param_names)})
        row.update(cost=r.cost, status=r.status, n_iter=r.n_iter, n_points=r.n_points)
        rows.append(row)
    return pd.DataFrame(rows)


def make_table(rng, n_groups=40):
    frames = []
    for gi in range(n_groups):
        m = int(rng.integers(8, 30))
        N = np.geomspace(1e7, 1e10, m) * rng.uniform(0.8, 1.2, m)
        D = np.geomspace(1e9, 1e12, m)[rng.permutation(m)]
        p = TRUE * rng.uniform(0.8, 1.25, 5)
        loss = scalecore.laws.chinchilla({"N": N, "D": D}, p) * np.exp(0.03 * rng.standard_normal(m))
        frames.append(pd.DataFrame({"family": f"fam{gi % 7}", "seed": gi // 7, "N": N, "D": D, "loss": loss}))
    df = pd.concat(frames, ignore_index=True)
    return df.iloc[rng.permutation(len(df))].reset_index(drop=True)  # groups scattered over the table


@pytest.mark.parametrize("local", [False, True], ids=["cluster", "local"])
def test_fit_table_grouped(two_workers, local):
    rng = np.random.default_rng(7)
    df = make_table(rng)
    x = {"N": "N", "D": "D"}
    ref = table_fn(df, "chinchilla", x=x, y="loss", by=["family", "seed"], bounds="default")
    ddf = dd.from_pandas(df, npartitions=5)
    res = run(sd.fit_table, ddf, "chinchilla", x, "loss", ["family", "seed"], table_fn=table_fn,
              client=None if local else two_workers, npartitions=3, bounds="default")
    pd.testing.assert_frame_equal(res.reset_index(drop=True), ref.reset_index(drop=True), check_exact=True)


def test_fit_table_pandas_input_and_empty_partitions():
    """A pandas table, one key given as a string, and more partitions than
    groups (empty partitions are skipped)."""
    df = make_table(np.random.default_rng(14), n_groups=3)  # families fam0..fam2
    x = {"N": "N", "D": "D"}
    ref = table_fn(df, EXPR, x=x, y="loss", by=["family"])
    res = sd.fit_table(df, EXPR, x, "loss", "family", table_fn=table_fn, npartitions=6)
    pd.testing.assert_frame_equal(res, ref, check_exact=True)


def test_fit_table_default_needs_scaling(monkeypatch):
    """Without table_fn the fitter is scalecore.scaling.fit_table, imported
    at call time; a build without it says what to pass instead."""
    monkeypatch.setitem(sys.modules, "scalecore.scaling", None)
    df = make_table(np.random.default_rng(8), n_groups=3)
    with pytest.raises(ImportError, match="table_fn"):
        sd.fit_table(df, "chinchilla", {"N": "N", "D": "D"}, "loss", "family")


# ---------------------------------------------------------------------------
# The local default (nothing started) and the engine property behind it all
# ---------------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(cuts=hst.lists(hst.integers(1, 119), max_size=6, unique=True),
       threads=hst.sampled_from([1, 2, 3]), dtype=hst.sampled_from([np.float32, np.float64]))
def test_local_default_any_split(cuts, threads, dtype):
    rng = np.random.default_rng(9)
    x, y = make_data(120, 12, rng, dtype)
    st = TRUE * rng.uniform(0.5, 2.0, (2, 5))
    edges = [0] + sorted(cuts) + [120]
    sizes = [b - a for a, b in zip(edges[:-1], edges[1:])]
    ref = scalecore.fit(EXPR, x, y, starts=st, n_threads=1)
    with scalecore.num_threads(threads):
        res = sd.fit(EXPR, x, y, starts=st, chunks=sizes)  # dask's threaded scheduler
        assert scalecore.get_num_threads() == threads  # restored after the job
    assert_same(ref, res)
    assert res.info["chunks"] == tuple(sizes)


def test_engine_chunk_and_thread_independence():
    """The property the module relies on, checked on the engine directly:
    fitting slices separately, with any thread count, equals the whole."""
    rng = np.random.default_rng(10)
    for dtype in (np.float64, np.float32):
        for vec in ("points", "fits"):
            x, y = make_data(97, 33, rng, dtype)
            whole = scalecore.fit("chinchilla", x, y, vectorize=vec, n_threads=2)
            for n in (1, 2):
                parts = [scalecore.fit("chinchilla", x, y[a:b], vectorize=vec, n_threads=n)
                         for a, b in ((0, 1), (1, 40), (40, 41), (41, 97))]
                for f in ("params", "cost", "status", "n_iter", "nfev", "stderr", "covariance"):
                    cat = np.concatenate([getattr(p, f) for p in parts])
                    assert np.array_equal(cat, getattr(whole, f), equal_nan=f != "status"), (dtype, vec, n, f)


def test_pinning_shares_the_budget():
    """Two chunk tasks at once in one process with a budget of 4: each gets
    2 threads and the pool is 3 (2 task threads + 2 helpers at most)."""
    seen = []
    barrier = threading.Barrier(2, timeout=30)
    entered = threading.Barrier(2, timeout=30)

    def task():
        barrier.wait()
        with sd._pin(4, None) as k:
            entered.wait()
            seen.append((k, scalecore.get_num_threads()))
            entered.wait()

    before = scalecore.get_num_threads()
    with cf.ThreadPoolExecutor(2) as ex:
        for f in [ex.submit(task) for _ in range(2)]:
            f.result(timeout=60)
    assert scalecore.get_num_threads() == before
    # Whichever task entered first saw n=1 (k=4), the second n=2 (k=2); once
    # both are in, the pool is 4 - 2 + 1.
    assert sorted(k for k, _ in seen) == [2, 4]
    assert all(pool == 3 for _, pool in seen)


def test_local_progress_bar(capsys):
    rng = np.random.default_rng(11)
    x, y = make_data(50, 10, rng)
    res = sd.fit("chinchilla", x, y, chunks=10, progress=True)
    assert_same(scalecore.fit("chinchilla", x, y), res)
    assert "50/50" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------
def test_bad_input_names_the_argument():
    rng = np.random.default_rng(12)
    x, y = make_data(30, 10, rng)
    with pytest.raises(ValueError, match="p0: expected 30 rows"):
        sd.fit("chinchilla", x, y, p0=np.ones((29, 5)))
    with pytest.raises(ValueError, match=r"x\['N'\]: expected 30 rows"):
        sd.fit("chinchilla", {"N": np.ones((31, 10)), "D": x["D"]}, y)
    with pytest.raises(ValueError, match="chunks"):
        sd.fit("chinchilla", x, y, chunks=(10, 10))
    with pytest.raises(ValueError, match="chunks"):
        sd.fit("chinchilla", x, y, chunks=0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        sd.fit("chinchilla", x, y, p00=1)
    with pytest.raises(ValueError, match="simd_level"):
        sd.fit("chinchilla", x, y, simd_level="avx1024")
    with pytest.raises(ValueError, match="y: expected"):
        sd.fit("chinchilla", x, np.ones((2, 3, 4)))
    yd = da.from_array(y, chunks=(7, 10))
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        sd.fit("chinchilla", x, yd[yd[:, 0] > 0])
    # Errors of scalecore.fit itself come back from the chunk tasks unchanged.
    with pytest.raises(ValueError, match="loss: expected one of"):
        sd.fit("chinchilla", x, y, loss="l3")
    with pytest.raises(ValueError, match="not in the table"):
        sd.fit_table(make_table(rng, 2), "chinchilla", {"N": "N", "D": "D"}, "loss", "fam", table_fn=table_fn)


def test_empty_batch():
    x, _ = make_data(3, 10, np.random.default_rng(13))
    res = sd.fit("chinchilla", x, np.zeros((0, 10)))
    assert res.params.shape == (0, 5)


# ---------------------------------------------------------------------------
# Dask is optional
# ---------------------------------------------------------------------------
def test_clear_message_without_dask(monkeypatch):
    for name in list(sys.modules):
        if name == "dask" or name.startswith(("dask.", "distributed")) or name == "scalecore.distributed":
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "dask", None)  # import dask -> ImportError
    monkeypatch.delattr(scalecore, "distributed", raising=False)
    with pytest.raises(ImportError, match=r'pip install "scalecore\[dask\]"'):
        importlib.import_module("scalecore.distributed")
    with pytest.raises(ImportError, match=r'pip install "scalecore\[dask\]"'):
        scalecore.distributed  # noqa: B018 - the lazy attribute


def test_scalecore_works_without_dask():
    """In a fresh interpreter where dask cannot be imported: import scalecore
    and fit work, import nothing of dask, and scalecore.distributed explains."""
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("dask", "distributed"):
                    raise ImportError(f"No module named {name!r} (blocked)")
        sys.meta_path.insert(0, Block())
        import numpy as np, scalecore
        N = np.geomspace(1e7, 1e10, 12); D = np.geomspace(1e9, 1e12, 12)[::-1]
        y = scalecore.laws.chinchilla({"N": N, "D": D}, [1.7, 400, 0.34, 410, 0.28])
        r = scalecore.fit("chinchilla", {"N": N, "D": D}, np.stack([y, 1.01 * y]))
        assert r.success.all(), r.status
        assert not any(m.split(".")[0] in ("dask", "distributed") for m in sys.modules)
        try:
            scalecore.distributed
        except ImportError as e:
            print("MESSAGE:", e)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'MESSAGE: scalecore.distributed needs Dask' in out.stdout
    assert 'pip install "scalecore[dask]"' in out.stdout


# --- integration with scalecore.scaling and the CLI -------------------------

def test_fit_table_with_client_equals_local(client):
    import pandas as pd

    import scalecore.scaling as scs
    from scalecore.scaling.datasets import data_path

    df = pd.read_csv(data_path("chinchilla"))
    cols = dict(x={"N": "params", "D": "tokens"}, y="loss", by="dataset")
    local = scs.fit_table(df, "chinchilla", **cols)
    remote = run(scs.fit_table, df, "chinchilla", backend=sd.DaskBackend(client), **cols)
    remote = remote.sort_values("dataset").reset_index(drop=True)
    local = local.sort_values("dataset").reset_index(drop=True)
    pd.testing.assert_frame_equal(remote[local.columns], local, check_exact=True)


def test_fit_table_refuses_client_and_bare_dask_frames():
    import dask.dataframe as dd
    import pandas as pd

    import scalecore.scaling as scs
    from scalecore.scaling.datasets import data_path

    df = pd.read_csv(data_path("chinchilla"))
    cols = dict(x={"N": "params", "D": "tokens"}, y="loss", by="dataset")
    with pytest.raises(TypeError, match="backend=scalecore.distributed.DaskBackend"):
        scs.fit_table(df, "chinchilla", client=object(), **cols)
    with pytest.raises(TypeError, match="df: a dask DataFrame needs backend="):
        scs.fit_table(dd.from_pandas(df, npartitions=2), "chinchilla", **cols)
    with pytest.raises(TypeError, match="backend: expected an object with a fit_table"):
        scs.fit_table(df, "chinchilla", backend=object(), **cols)


def test_cli_workers_flag(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "fit.json"
    cmd = [sys.executable, "-m", "scalecore", "fit", "--example", "chinchilla", "--workers", "2", "--out", str(out),
           "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    ref = tmp_path / "ref.json"
    r = subprocess.run(cmd[:6] + ["--out", str(ref), "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    a, b = json.loads(out.read_text()), json.loads(ref.read_text())
    assert a["fits"] == b["fits"]
