"""scalecore.distributed: a large chinchilla batch on 1 and 2 Dask workers,
against the in-process :func:`scalecore.fit`.

``python -m bench distributed`` (``--quick`` for a smoke run).

Clusters are ``distributed.LocalCluster``s on loopback, one thread per worker
process, started once for the run and closed at exit.  Every variant's result
is checked bit-identical to the in-process fit before timing.

The harness's CPU time is the calling process's only: with a cluster the
fitting runs in the worker processes, so ``per_cpu_s`` is not comparable
there.  Each record therefore also has ``worker_cpu_s`` (ours, and the peer
when it is a cluster run): CPU seconds the worker processes used per call,
read from the OS (psutil), to add to the caller's ``cpu_s``.  On a shared
machine this total is steadier than wall time.
"""
from __future__ import annotations

import atexit
import logging
import os
import warnings
from typing import Any, Callable, Dict, List

import numpy as np

from .harness import Pair, benchmark

TRUE = np.array([1.7, 400.0, 0.34, 410.0, 0.28])  # chinchilla E, A, alpha, B, beta
FIELDS = ("params", "cost", "status", "n_iter", "nfev", "stderr", "covariance")

_clusters: Dict[int, Any] = {}


def _client(n_workers: int):
    """A LocalCluster client with ``n_workers`` single-thread processes."""
    if n_workers not in _clusters:
        import distributed

        cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                           silence_logs=logging.ERROR)
        client = distributed.Client(cluster, set_as_default=False)
        client.wait_for_workers(n_workers, timeout=120)
        _clusters[n_workers] = (cluster, client)
    return _clusters[n_workers][1]


@atexit.register
def _close() -> None:
    logging.getLogger("distributed").setLevel(logging.ERROR)
    for cluster, client in _clusters.values():
        client.close()
        cluster.close()
    _clusters.clear()


def _batch(B: int, M: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    N = np.geomspace(1e7, 1e11, M)
    D = np.geomspace(1e9, 1e13, M)[rng.permutation(M)]
    import scalecore

    p = TRUE * rng.uniform(0.8, 1.25, (B, 5))
    y = scalecore.laws.chinchilla({"N": N, "D": D}, p) * np.exp(0.02 * rng.standard_normal((B, M)))
    return {"N": N, "D": D}, y


def _worker_cpu(fn: Callable[[], Any], client: Any, into: List[float]) -> Callable[[], Any]:
    """``fn``, also appending the CPU seconds the client's (local) worker
    processes spent during each call to ``into``."""
    import psutil

    procs = [psutil.Process(pid) for pid in client.run(os.getpid).values()]

    def cpu() -> float:
        return sum(t.user + t.system for t in (p.cpu_times() for p in procs))

    def run() -> Any:
        c0 = cpu()
        out = fn()
        into.append(cpu() - c0)
        return out

    return run


def _identical(a, b) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f), equal_nan=getattr(a, f).dtype.kind == "f")
               for f in FIELDS)


@benchmark("distributed", peer="in-process scalecore.fit / 1 worker", family="fit",
           description="chinchilla batch on Dask LocalCluster workers (1 thread each)")
def bench_distributed(quick: bool) -> List[Pair]:
    import dask.array as da

    import scalecore
    from scalecore import distributed as sd

    # The numpy path ships y inside the task graph on purpose (fault tolerance);
    # distributed warns about the graph size every call.
    warnings.filterwarnings("ignore", message=".*large graph.*")
    B, M = (20_000, 24) if quick else (200_000, 24)
    repeat = 3
    x, y = _batch(B, M)
    c1, c2 = _client(1), _client(2)
    pool = scalecore.get_num_threads()
    ref = scalecore.fit("chinchilla", x, y)
    runs = {
        "2 workers": lambda: sd.fit("chinchilla", x, y, client=c2),
        "1 worker": lambda: sd.fit("chinchilla", x, y, client=c1),
        "local threads": lambda: sd.fit("chinchilla", x, y),
    }
    # y already on the workers: a persisted dask array (no graph transfer).
    yd = da.from_array(y, chunks=(sd.plan_chunks(B, threads=2)[0], M))
    yd2 = c2.persist(yd)
    runs["2 workers, y on workers"] = lambda: sd.fit("chinchilla", x, yd2, client=c2)
    checks = {k: _identical(ref, f()) for k, f in runs.items()}
    for k, ok in checks.items():
        if not ok:
            raise AssertionError(f"{k}: result differs from scalecore.fit")

    def inproc(n: int):
        return lambda: scalecore.fit("chinchilla", x, y, n_threads=n)

    common = {"B": B, "M": M, "chunks": list(sd.plan_chunks(B, threads=2)), "identical": checks,
              "pool_threads": pool, "loadavg_at_start": list(os.getloadavg())}
    mk = dict(ours_items=B, peer_items=B, unit="fits", repeat=repeat)

    def pair(label, ours, peer, peer_name):
        extra: Dict[str, Any] = dict(common)
        (name, client), peer_fn = ours, peer
        ours_fn = runs[name]
        if client is not None:
            extra["worker_cpu_s"] = []
            ours_fn = _worker_cpu(runs[name], client, extra["worker_cpu_s"])
        if isinstance(peer, tuple):
            extra["peer_worker_cpu_s"] = []
            peer_fn = _worker_cpu(runs[peer[0]], peer[1], extra["peer_worker_cpu_s"])
        return Pair(label, ours_fn, peer=peer_fn, peer_name=peer_name, extra=extra, **mk)

    return [
        pair("2 workers vs 1 worker", ("2 workers", c2), ("1 worker", c1), "1 worker"),
        pair("1 worker vs in-process fit, 1 thread", ("1 worker", c1), inproc(1), "scalecore.fit(n_threads=1)"),
        pair("2 workers vs in-process fit, 2 threads", ("2 workers", c2), inproc(2),
             "scalecore.fit(n_threads=2)"),
        pair("2 workers (y persisted) vs in-process, 2 thr", ("2 workers, y on workers", c2), inproc(2),
             "scalecore.fit(n_threads=2)"),
        pair("local threaded scheduler vs in-process", ("local threads", None), inproc(pool),
             f"scalecore.fit(n_threads={pool})"),
    ]
