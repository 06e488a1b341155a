"""``scalecore.distributed``: fitting jobs larger than one process, on Dask.

:func:`fit` splits the batch axis into chunks, fits each chunk with the same
C++ engine as :func:`scalecore.fit` (on Dask workers, or in the local threaded
scheduler), and concatenates the results.  Every problem is fitted from its
own data and options alone, so the result is bit-identical to a
single-process :func:`scalecore.fit` whatever the chunking and the number of
workers.

:func:`fit_table` is the group-by building block: it shuffles a dask
DataFrame so that each group lies in one partition and applies a per-partition
table fitter on the workers.

Dask is an optional dependency: ``pip install "scalecore[dask]"``.

Threads on workers
------------------
A process that runs scalecore chunk tasks has a thread budget ``T``: the Dask
worker's ``nthreads`` (``n_threads=`` overrides it; under the local threaded
scheduler, ``T`` is scalecore's pool size when the first task starts).  When
a chunk task starts or ends, with ``n`` tasks executing in that process,
scalecore's pool is resized to ``T - n + 1`` threads and a starting task fits
with ``n_threads = max(1, T // n)``.  The busy threads -- the ``n`` task
threads plus the pool's shared helpers -- therefore never exceed ``T``; with
``threads_per_worker=1`` every chunk runs single-threaded.  The pool size and
SIMD level in force before the first task are restored when the last one ends.
"""
from __future__ import annotations

import contextlib
import math
import os
import threading
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

_INSTALL_HINT = ('scalecore.distributed needs Dask, an optional dependency of scalecore. Install it with '
                 '`pip install "scalecore[dask]"` (or `pip install "dask[dataframe]" distributed`).')

try:
    import dask
    import dask.array as _da
    from dask.base import is_dask_collection, tokenize
except ImportError as _e:  # pragma: no cover - exercised by a test that hides dask
    raise ImportError(f"{_INSTALL_HINT} ({_e})") from _e

from . import _config
from ._array import to_numpy
from .fitting import _fit as _fitmod
from .fitting._fit import FitResult, STATUS_NAMES
from .fitting._law import Law, resolve_law

__all__ = ["fit", "fit_table", "plan_chunks", "DaskBackend"]

_CHUNK_PREFIX = "scalecore-fit-chunk"
_TABLE_PREFIX = "scalecore-fit-table"
# Arrays shared by every chunk larger than this travel once, as a key of their
# own, rather than inside each task.
_SHARED_INLINE_BYTES = 1 << 16
# Default chunking: about this many chunks per worker thread (so that a slow
# or lost worker delays little), each of at least _MIN_ROWS problems (a task
# costs about 1 ms of scheduling in the threaded scheduler, more on a cluster).
_CHUNKS_PER_THREAD = 4
_MIN_ROWS = 1024


# ---------------------------------------------------------------------------
# Thread and SIMD pinning inside a worker process
# ---------------------------------------------------------------------------
def _worker_state() -> Tuple[Optional[int], int]:
    """(nthreads, tasks executing) of the Dask worker running this thread, or
    (None, 0) outside a distributed worker."""
    try:
        from distributed import get_worker
    except ImportError:
        return None, 0
    try:
        w = get_worker()
    except ValueError:
        return None, 0
    state = getattr(w, "state", None)
    nthreads = getattr(state, "nthreads", None) or getattr(w, "nthreads", None)
    executing = getattr(state, "executing_count", 0) if state is not None else 0
    return (int(nthreads) if nthreads else None), int(executing or 0)


class _Pinning:
    """Process-wide bookkeeping of the scalecore chunk tasks running here.

    scalecore's pool size and SIMD level are process-global, so they are set
    under one lock from the count of tasks in flight (see the module
    docstring for the rule), and restored when the last task ends.  Tasks
    asking for different SIMD levels never overlap: a task waits until the
    level in force is the one it needs or no task runs.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._n = 0
        self._budget = 1
        self._saved: Tuple[int, str] = (1, "scalar")
        self._level: Optional[str] = None

    def _resize(self, executing: int) -> int:
        n = max(self._n, executing, 1)
        _config.set_num_threads(max(1, self._budget - n + 1))
        return max(1, self._budget // n)

    @contextlib.contextmanager
    def __call__(self, budget: Optional[int], simd: Optional[str]) -> Iterator[int]:
        nthreads, executing = _worker_state()
        with self._cond:
            while self._n and simd is not None and self._level not in (None, simd):
                self._cond.wait()
            if self._n == 0:
                self._saved = (_config.get_num_threads(), _config.get_simd_level())
                self._level = None
            if simd is not None and self._level is None:
                try:
                    _config.set_simd_level(simd)
                except ValueError as e:
                    raise ValueError(
                        f"simd_level: this worker cannot run the SIMD level {simd!r} of the calling process "
                        f"(it supports {_config.simd_levels()}); results would differ from scalecore.fit. "
                        f"Pass simd_level='auto' to let each worker use its best level.") from e
                self._level = simd
            self._n += 1
            self._budget = int(budget or nthreads or self._saved[0])
            k = self._resize(executing)
        try:
            yield k
        finally:
            with self._cond:
                self._n -= 1
                if self._n == 0:
                    _config.set_num_threads(self._saved[0])
                    if self._level is not None:
                        _config.set_simd_level(self._saved[1])
                    self._level = None
                else:
                    self._resize(max(0, _worker_state()[1] - 1))
                self._cond.notify_all()


_pin = _Pinning()


# ---------------------------------------------------------------------------
# Chunk tasks
# ---------------------------------------------------------------------------
_ARRAY_FIELDS = ("params", "cost", "status", "status_code", "success", "n_iter", "nfev", "stderr",
                 "covariance", "best_start", "all_params", "all_cost", "all_status", "n_points")


def _fit_chunk(law: Law, x: Any, y: np.ndarray, kwargs: Dict[str, Any], budget: Optional[int],
               simd: Optional[str]) -> Dict[str, Any]:
    """Fit one chunk of problems on this worker; a dict of the result arrays."""
    with _pin(budget, simd) as k:
        r = _fitmod.fit(law, x, y, n_threads=k, progress=False, **kwargs)
    out = {f: getattr(r, f) for f in _ARRAY_FIELDS}
    out["info"] = dict(r.info)
    return out


def _assemble(law: Law, parts: Sequence[Dict[str, Any]], single: bool, sizes: Tuple[int, ...]) -> FitResult:
    """One :class:`FitResult` from the chunk results, in batch order."""
    cat: Dict[str, Any] = {}
    for f in _ARRAY_FIELDS:
        vals = [p[f] for p in parts]
        cat[f] = None if vals[0] is None else np.concatenate(vals, axis=0)
    info = dict(parts[0]["info"])
    for key in ("level", "vectorize"):
        seen = sorted({str(p["info"].get(key)) for p in parts})
        if len(seen) > 1:
            info[key] = seen
    info["chunks"] = tuple(int(s) for s in sizes)
    res = FitResult(law=law, param_names=law.param_names, info=info, **cat)
    if single:
        res = _fitmod._squeeze(res)
    return res


# ---------------------------------------------------------------------------
# Splitting the arguments along the batch axis
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Plan:
    B: int
    sizes: Tuple[int, ...]

    @property
    def edges(self) -> List[Tuple[int, int]]:
        e = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        return [(int(a), int(b)) for a, b in zip(e[:-1], e[1:])]


def plan_chunks(B: int, chunks: Any = "auto", *, threads: int = 1) -> Tuple[int, ...]:
    """Row counts of the chunks a batch of ``B`` problems is split into.

    Parameters
    ----------
    B : int
        Problems in the batch.
    chunks : "auto", int or sequence of int
        ``int``: problems per chunk (the last one may be smaller); a sequence:
        explicit sizes summing to ``B``; ``"auto"``: about
        ``4 * threads`` chunks of at least 1024 problems.
    threads : int
        Worker threads the job will run on (for ``"auto"``).

    Returns
    -------
    tuple of int
    """
    if B == 0:
        return ()
    if isinstance(chunks, str):
        if chunks != "auto":
            raise ValueError(f"chunks: expected 'auto', an integer or a sequence of integers, got {chunks!r}")
        rows = max(min(B, _MIN_ROWS), math.ceil(B / (_CHUNKS_PER_THREAD * max(1, int(threads)))))
        chunks = rows
    if isinstance(chunks, (int, np.integer)) and not isinstance(chunks, bool):
        if chunks < 1:
            raise ValueError(f"chunks: expected an integer >= 1, got {chunks!r}")
        c = int(chunks)
        return tuple([c] * (B // c) + ([B % c] if B % c else []))
    try:
        sizes = tuple(int(s) for s in chunks)
    except TypeError:
        raise TypeError(f"chunks: expected 'auto', an integer or a sequence of integers, got {chunks!r}") from None
    if any(s < 1 for s in sizes) or sum(sizes) != B:
        raise ValueError(f"chunks: expected sizes >= 1 summing to the batch size {B}, got {sizes}")
    return sizes


def _shared(value: Any, name: str) -> Any:
    """A value every chunk gets whole: large arrays become one key."""
    if is_dask_collection(value):
        return dask.delayed(value, name=f"scalecore-shared-{name}-{tokenize(value)}")
    if isinstance(value, np.ndarray) and value.nbytes > _SHARED_INLINE_BYTES:
        return dask.delayed(value, name=f"scalecore-shared-{name}-{tokenize(value)}")
    return value


def _split(value: Any, name: str, batch_ndim: int, plan: _Plan) -> List[Any]:
    """One piece of ``value`` per chunk: rows of a per-problem array, or the
    whole value (shared by every chunk) otherwise."""
    n = len(plan.sizes)
    if value is None or isinstance(value, (str, bool, int, float, np.generic)):
        return [value] * n
    if is_dask_collection(value) and hasattr(value, "ndim"):
        if value.ndim == batch_ndim:
            if value.shape[0] != plan.B:
                raise ValueError(f"{name}: expected {plan.B} rows (one per problem, as y), got shape {value.shape}")
            a = value.rechunk((plan.sizes,) + tuple(-1 for _ in range(value.ndim - 1)))
            return list(a.to_delayed().reshape(-1))
        return [_shared(value, name)] * n
    arr = to_numpy(value, name)
    if arr.ndim == batch_ndim:
        if arr.shape[0] != plan.B:
            raise ValueError(f"{name}: expected {plan.B} rows (one per problem, as y), got shape {arr.shape}")
        return [arr[a:b] for a, b in plan.edges]
    return [_shared(arr, name)] * n


def _split_x(x: Any, plan: _Plan) -> List[Any]:
    if isinstance(x, Mapping):
        cols = {k: _split(v, f"x[{k!r}]", 2, plan) for k, v in x.items()}
        return [{k: cols[k][i] for k in cols} for i in range(len(plan.sizes))]
    return _split(x, "x", 2, plan)


def _split_bounds(bounds: Any, plan: _Plan) -> List[Any]:
    if bounds is None or isinstance(bounds, (str, Mapping)):
        return [bounds] * len(plan.sizes)
    if isinstance(bounds, (tuple, list)) and len(bounds) == 2:
        lo = _split(bounds[0], "bounds (lower)", 2, plan)
        hi = _split(bounds[1], "bounds (upper)", 2, plan)
        return [(a, b) for a, b in zip(lo, hi)]
    return [bounds] * len(plan.sizes)  # invalid: fit raises with its own message


def _simd_arg(simd_level: Optional[str]) -> Optional[str]:
    """The level chunk tasks pin: the caller's for None, none for "auto"."""
    if simd_level is None:
        return _config.get_simd_level()
    if simd_level == "auto":
        return None
    if simd_level in ("scalar", "avx2", "avx512"):
        return simd_level
    raise ValueError(f"simd_level: expected None, 'scalar', 'avx2', 'avx512' or 'auto', got {simd_level!r}")


def _check_threads(n_threads: Optional[int]) -> Optional[int]:
    if n_threads is None:
        return None
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)) or n_threads < 1:
        raise ValueError(f"n_threads: expected an integer >= 1, got {n_threads!r}")
    return int(n_threads)


def _cluster_threads(client: Any) -> int:
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    return os.cpu_count() or 1


def _law_token(law: Law) -> str:
    return tokenize(law.__reduce__()[1], law.is_builtin)


def _chunk_tasks(law: Law, x: Any, y: Any, chunks: Any, client: Any, opts: Dict[str, Any],
                 budget: Optional[int], simd: Optional[str]):
    """The delayed chunk fits of one job: (tasks, plan, single)."""
    single = False
    if is_dask_collection(y):
        if y.ndim not in (1, 2):
            raise ValueError(f"y: expected a 1-D or 2-D array, got shape {y.shape}")
        single = y.ndim == 1
        if single:
            y = y[None, :]
        if any(math.isnan(s) for s in y.shape):
            raise ValueError("y: the dask array has unknown chunk sizes; call y.compute_chunk_sizes() first")
        B = int(y.shape[0])
        sizes = tuple(int(s) for s in y.chunks[0]) if chunks is None else plan_chunks(
            B, chunks, threads=_cluster_threads(client))
    else:
        y = to_numpy(y, "y")
        if y.ndim not in (1, 2):
            raise ValueError(f"y: expected a 1-D (one problem) or 2-D (B, M) array, got shape {y.shape}")
        single = y.ndim == 1
        if single:
            y = y[None, :]
        B = int(y.shape[0])
        sizes = plan_chunks(B, "auto" if chunks is None else chunks, threads=_cluster_threads(client))
    plan = _Plan(B, sizes)
    ys = _split(y, "y", 2, plan)
    xs = _split_x(x, plan)
    per_row = {"p0": 2, "starts": 3, "sigma": 2, "mask": 2}
    pieces = {k: _split(opts.get(k), k, nd, plan) for k, nd in per_row.items()}
    pieces["bounds"] = _split_bounds(opts.get("bounds"), plan)
    rest = {k: v for k, v in opts.items() if k not in pieces}
    token = tokenize(_law_token(law), ys, xs, pieces, rest, budget, simd)
    task = dask.delayed(_fit_chunk, pure=True)
    tasks = []
    for i in range(len(sizes)):
        kw = dict(rest)
        kw.update({k: v[i] for k, v in pieces.items()})
        tasks.append(task(law, xs[i], ys[i], kw, budget, simd, dask_key_name=f"{_CHUNK_PREFIX}-{token}-{i}"))
    return tasks, plan, single


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------
def _compute(tasks: List[Any], client: Any, progress: bool, label: str, weights: Sequence[int]) -> List[Any]:
    """Compute ``tasks`` on ``client`` (or Dask's default scheduler) in order."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=int(sum(weights)), desc=label, unit="fit")
    try:
        if client is not None:
            futures = client.compute(tasks)
            if bar is not None:
                from distributed import as_completed

                index = {f.key: i for i, f in enumerate(futures)}
                for f in as_completed(futures):
                    bar.update(weights[index[f.key]])
            try:
                return client.gather(futures)
            finally:
                del futures
        if bar is None:
            return list(dask.compute(*tasks))
        from dask.callbacks import Callback

        keys = {t.key: w for t, w in zip(tasks, weights)}

        class _Bar(Callback):
            def _posttask(self, key, result, dsk, state, worker_id):
                if key in keys:
                    bar.update(keys[key])

        with _Bar():
            return list(dask.compute(*tasks))
    finally:
        if bar is not None:
            bar.close()


def fit(
    law: Union[Law, str],
    x: Any,
    y: Any,
    *,
    client: Any = None,
    chunks: Any = None,
    compute: bool = True,
    simd_level: Optional[str] = None,
    n_threads: Optional[int] = None,
    progress: bool = False,
    **fit_kwargs: Any,
) -> Any:
    """:func:`scalecore.fit` on Dask: the batch split into chunks fitted on workers.

    Takes the arguments of :func:`scalecore.fit` (``p0``, ``starts``,
    ``sigma``, ``mask``, ``bounds``, ``loss``, ``f_scale``, ``residual``,
    ``max_iter``, ``xtol``, ``ftol``, ``gtol``, ``dtype``, ``device``,
    ``return_all``, ``covariance``, ``absolute_sigma``, ``geodesic``,
    ``vectorize``, ``center``) with the same meaning and returns the same
    :class:`~scalecore.FitResult`, bit-identical to the single-process call
    whatever the chunking and the number of workers: each problem is fitted
    from its own data and options alone.

    Parameters
    ----------
    law : Law or str
        As for :func:`scalecore.fit`.  Laws pickle by definition (an
        expression law recompiles its program on the worker).
    x : array, dask array or mapping of str to either
        Inputs, each (M,) (shared by every problem) or (B, M).
    y : array or dask array, (B, M) or (M,)
        Data.  A dask array keeps its row chunks unless ``chunks`` is given;
        chunks along M are merged (a problem is never split).
    client : distributed.Client, optional
        Run on this client's cluster (a ``LocalCluster``, Slurm through
        dask-jobqueue, Kubernetes, Dask Gateway...).  ``None``: Dask's
        default scheduler, which is the in-process threaded scheduler (nothing
        to start) unless a ``distributed.Client`` was made the default or
        ``dask.config`` names another.
    chunks : None, "auto", int or sequence of int
        Problems per chunk along the batch axis, or explicit sizes summing to
        B.  ``None``: a dask ``y``'s own row chunks, else ``"auto"``: about
        4 chunks per worker thread, of at least 1024 problems.
    compute : bool
        ``True`` (default): run now and return numpy results in a
        :class:`~scalecore.FitResult`.  ``False``: return a
        ``dask.delayed.Delayed`` whose ``compute()`` (or
        ``client.compute(...)``) gives that same :class:`FitResult`, to
        combine with other lazy work or to submit later.
    simd_level : {None, "scalar", "avx2", "avx512", "auto"}
        SIMD level of the workers' kernels.  ``None``: the calling process's
        current level, which the bit-identity guarantee needs (a worker that
        cannot run it raises ``ValueError``).  ``"auto"``: each worker's own
        best level (results may then differ between unlike machines).
    n_threads : int, optional
        scalecore threads each worker process may use in all (its budget
        ``T``).  Default: the Dask worker's ``nthreads``.  See the module
        docstring for how a budget is shared by concurrent chunk tasks.
    progress : bool
        A tqdm bar on the caller's side, advanced as chunks finish.
    **fit_kwargs
        The other keyword arguments of :func:`scalecore.fit`.

    Returns
    -------
    FitResult or dask.delayed.Delayed
        Numpy arrays as from :func:`scalecore.fit`; ``info`` also has
        ``chunks``, the problems per chunk.  With ``compute=False``, a
        delayed object computing that result.

    Raises
    ------
    ValueError, TypeError
        As :func:`scalecore.fit` (raised on the worker and re-raised here),
        plus a per-problem array whose leading dimension is not B, or bad
        ``chunks``.

    Notes
    -----
    In-memory (numpy) inputs travel inside the task graph, one slice per
    chunk, so the scheduler can resend a chunk whose worker died; arrays
    shared by every chunk travel once.  For data larger than the caller's
    memory, pass dask arrays (e.g. ``dask.array.from_zarr``): their chunks
    are loaded on the workers.  A worker lost mid-job has its chunks
    recomputed elsewhere by the scheduler; the result is assembled by chunk
    position, so nothing is lost or duplicated.  No option is randomised,
    so there is no seed to distribute.
    """
    known = set(_fitmod.fit.__kwdefaults__) - {"n_threads", "progress"}
    unknown = sorted(set(fit_kwargs) - known)
    if unknown:
        raise TypeError(f"fit() got unexpected keyword argument(s) {unknown}; "
                        f"scalecore.fit takes {sorted(known)}")
    n_threads = _check_threads(n_threads)
    simd = _simd_arg(simd_level)
    law = resolve_law(law, x)
    tasks, plan, single = _chunk_tasks(law, x, y, chunks, client, fit_kwargs, n_threads, simd)
    if not tasks:
        # An empty batch: nothing to distribute.
        x, y, fit_kwargs = dask.compute(x, y, fit_kwargs)
        return _fitmod.fit(law, x, y, n_threads=n_threads, **fit_kwargs)
    if not compute:
        return dask.delayed(_assemble, pure=True)(law, tasks, single, plan.sizes,
                                                  dask_key_name=f"scalecore-fit-{tokenize(*[t.key for t in tasks])}")
    parts = _compute(tasks, client, progress, f"fit {law.name}", plan.sizes)
    return _assemble(law, parts, single, plan.sizes)


# ---------------------------------------------------------------------------
# Tables grouped by key
# ---------------------------------------------------------------------------
_POS_PART = "__scalecore_partition"
_POS_ROW = "__scalecore_row"


def _tag_rows(df: Any, partition_info: Optional[Dict[str, Any]] = None) -> Any:
    """Record each row's position (input partition, row) before the shuffle."""
    number = 0 if partition_info is None else int(partition_info["number"])
    return df.assign(**{_POS_PART: np.full(len(df), number, dtype=np.int64),
                        _POS_ROW: np.arange(len(df), dtype=np.int64)})


def _fit_partition(df: Any, table_fn: Any, law: Any, x: Any, y: Any, by: Any, kwargs: Dict[str, Any],
                   budget: Optional[int], simd: Optional[str]) -> Any:
    """Fit every group of one shuffled partition; None when it is empty."""
    if len(df) == 0:
        return None
    # The shuffle may interleave rows; put them back in table order so each
    # group's points reach the engine exactly as they were given.
    df = df.sort_values([_POS_PART, _POS_ROW], kind="stable").drop(columns=[_POS_PART, _POS_ROW])
    with _pin(budget, simd):
        return table_fn(df, law, x=x, y=y, by=by, **kwargs)


def _default_table_fn() -> Any:
    try:
        from .scaling import fit_table as table_fn  # type: ignore[attr-defined]
    except ImportError as e:
        raise ImportError("fit_table: scalecore.scaling.fit_table is not available in this build; "
                          "pass table_fn=<a function (pandas_df, law, x=, y=, by=, **kw) -> DataFrame>") from e
    return table_fn


def _sort_groups(out: Any, by: List[str]) -> Any:
    cols = [b for b in by if b in getattr(out, "columns", ())]
    if len(cols) == len(by):
        return out.sort_values(by, kind="stable").reset_index(drop=True)
    names = [n for n in (out.index.names or []) if n is not None]
    if names and set(by) <= set(names):
        return out.sort_index(kind="stable")
    return out


def fit_table(
    ddf: Any,
    law: Any,
    x: Any,
    y: Any,
    by: Union[str, Sequence[str]],
    *,
    client: Any = None,
    table_fn: Any = None,
    npartitions: Optional[int] = None,
    shuffle_method: Optional[str] = None,
    simd_level: Optional[str] = None,
    n_threads: Optional[int] = None,
    **fit_kwargs: Any,
) -> Any:
    """Fit a long table group by group across Dask workers.

    The table is shuffled on the ``by`` columns so that each group lies whole
    in one partition; each non-empty partition is then fitted on a worker by
    ``table_fn(partition, law, x=x, y=y, by=by, **fit_kwargs)``, which
    returns one pandas DataFrame (usually one row per group).  Within a
    partition, rows keep their original table order, so each group reaches
    the engine exactly as in a single-process fit.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame or pandas.DataFrame
        The long table (a pandas one is split into ``npartitions``).
    law : Law or str
        Passed to ``table_fn``.
    x, y
        Column names (or whatever ``table_fn`` takes for them).
    by : str or sequence of str
        Group key columns.
    client : distributed.Client, optional
        As for :func:`fit`: ``None`` uses Dask's default scheduler.
    table_fn : callable, optional
        The per-partition fitter.  Default: ``scalecore.scaling.fit_table``,
        imported when this is called.
    npartitions : int, optional
        Partitions after the shuffle (default: as many as the input).
    shuffle_method : str, optional
        Dask's shuffle method (``"tasks"``, ``"p2p"``, ``"disk"``); default
        Dask's choice for the scheduler.
    simd_level, n_threads
        As for :func:`fit`.
    **fit_kwargs
        Passed to ``table_fn``.

    Returns
    -------
    pandas.DataFrame
        The partitions' results concatenated, sorted by the group keys when
        they are columns (or index levels) of the result.
    """
    try:
        import dask.dataframe as dd
        import pandas as pd
    except ImportError as e:  # pragma: no cover - the [dask] extra brings both
        raise ImportError(f"{_INSTALL_HINT} ({e})") from e
    if isinstance(by, str):
        by = [by]
    by = list(by)
    if not by:
        raise ValueError("by: expected at least one group key column")
    if isinstance(ddf, pd.DataFrame):
        ddf = dd.from_pandas(ddf, npartitions=npartitions or max(1, _cluster_threads(client)))
    if not isinstance(ddf, dd.DataFrame):
        raise TypeError(f"ddf: expected a dask or pandas DataFrame, got {type(ddf).__name__}")
    missing = [b for b in by if b not in ddf.columns]
    if missing:
        raise ValueError(f"by: column(s) {missing} not in the table (columns {list(ddf.columns)})")
    simd = _simd_arg(simd_level)
    n_threads = _check_threads(n_threads)
    if table_fn is None:
        table_fn = _default_table_fn()
    meta = _tag_rows(ddf._meta)
    tagged = ddf.map_partitions(_tag_rows, meta=meta)
    shuffled = tagged.shuffle(on=by, npartitions=npartitions, shuffle_method=shuffle_method)
    parts = shuffled.to_delayed()
    token = tokenize(shuffled, table_fn, law, x, y, by, fit_kwargs, n_threads, simd)
    task = dask.delayed(_fit_partition, pure=True)
    tasks = [task(p, table_fn, law, x, y, by, fit_kwargs, n_threads, simd,
                  dask_key_name=f"{_TABLE_PREFIX}-{token}-{i}") for i, p in enumerate(parts)]
    outs = [o for o in _compute(tasks, client, False, "fit_table", [1] * len(tasks)) if o is not None]
    if not outs:
        return pd.DataFrame()
    return _sort_groups(pd.concat(outs, axis=0), by)


@dataclass(frozen=True)
class DaskBackend:
    """Runs ``scalecore.scaling.fit_table`` on a Dask cluster.

    Pass it as ``backend=`` to :func:`scalecore.scaling.fit_table`: the table
    (pandas or dask) is shuffled by group and each partition is fitted on a
    worker, as :func:`fit_table` here does.  The dependency runs one way:
    ``distributed`` uses ``scaling``, and ``scaling`` only calls this
    object's method.

    Parameters
    ----------
    client : distributed.Client, optional
        ``None`` uses Dask's default scheduler.
    npartitions, shuffle_method, simd_level, n_threads
        As for :func:`fit_table`.

    Examples
    --------
    >>> from dask.distributed import Client                      # doctest: +SKIP
    >>> import scalecore.scaling as scs, scalecore.distributed as sd  # doctest: +SKIP
    >>> scs.fit_table(df, "chinchilla", by="family",
    ...               backend=sd.DaskBackend(Client()))           # doctest: +SKIP
    """

    client: Any = None
    npartitions: Optional[int] = None
    shuffle_method: Optional[str] = None
    simd_level: Optional[str] = None
    n_threads: Optional[int] = None

    def fit_table(self, df: Any, law: Any, *, x: Any, y: Any, by: Any, **kwargs: Any) -> Any:
        """Fit ``df`` group by group on the cluster (see :func:`fit_table`)."""
        if by is None:
            raise ValueError("by: a Dask fit of a table needs group columns (by=...) to partition on")
        return fit_table(df, law, x, y, by, client=self.client, npartitions=self.npartitions,
                         shuffle_method=self.shuffle_method, simd_level=self.simd_level,
                         n_threads=self.n_threads, **kwargs)
