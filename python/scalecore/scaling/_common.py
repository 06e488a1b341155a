"""Shared helpers: column checks, group padding, Student-t quantiles."""
from __future__ import annotations

import math
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..fitting._law import Law, resolve_law

__all__ = ["ScalingDataError", "ScalingDataWarning", "t_quantile", "check_columns", "log_inputs",
           "resolve_x", "group_frames", "pad_groups"]


class ScalingDataError(ValueError):
    """A table cannot be fitted: a missing column, a non-positive value under a
    log, or too few points.  The message names the column or group."""


class ScalingDataWarning(UserWarning):
    """Some groups of a table could not be fitted (the others were)."""


# -- Student-t quantile (no scipy at run time) --------------------------------

def _betacf(a: float, b: float, x: float) -> float:
    # Continued fraction of the incomplete beta function (modified Lentz).
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = tiny if abs(d) < tiny else d
    d = 1.0 / d
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        de = d * c
        h *= de
        if abs(de - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


def _t_cdf(t: float, dof: float) -> float:
    x = dof / (dof + t * t)
    tail = 0.5 * _betainc(0.5 * dof, 0.5, x)
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, dof: float) -> float:
    """Quantile of Student's t with ``dof`` degrees of freedom (inf: normal).

    Bisection on the CDF (regularised incomplete beta), to ~1e-12; NaN for
    ``dof <= 0``.
    """
    from statistics import NormalDist

    if not (0.0 < p < 1.0):
        raise ValueError(f"p: expected a probability in (0, 1), got {p!r}")
    if dof is None or not np.isfinite(dof) or dof > 1e7:
        return NormalDist().inv_cdf(p)
    if dof <= 0:
        return float("nan")
    if p < 0.5:
        return -t_quantile(1.0 - p, dof)
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, dof) < p:
        hi *= 2.0
        if hi > 1e12:
            return float("inf")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _t_cdf(mid, dof) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


# -- laws -------------------------------------------------------------------

def as_law(law: Union[Law, str], x: Any = None) -> Law:
    """A Law from a Law, a catalogue name or an expression string (inputs
    from the keys of ``x`` when it is a mapping, else one input ``x``)."""
    return resolve_law(law, x)


# -- tables -----------------------------------------------------------------

def is_dask_frame(df: Any) -> bool:
    mod = type(df).__module__ or ""
    return mod.startswith("dask") or mod.startswith("dask_expr")


def check_columns(df, cols: Mapping[str, Optional[str]]) -> None:
    """Raise naming the first column that is not in ``df``.

    ``cols`` maps a role (``"x['N']"``, ``"y"``, ``"by"``) to a column name.
    """
    for role, col in cols.items():
        if col is None:
            continue
        if col not in df.columns:
            raise ScalingDataError(
                f"column {col!r} ({role}) is not in the table; its columns are {list(map(str, df.columns))}")


def resolve_x(law: Law, x: Union[str, Mapping[str, str], None]) -> Dict[str, str]:
    """The law input -> column mapping.  A bare string names the column of a
    one-input law; a mapping must cover every input of the law."""
    if x is None:
        return {n: n for n in law.input_names}
    if isinstance(x, str):
        if law.n_inputs != 1:
            raise ScalingDataError(f"x: law {law.name!r} has inputs {list(law.input_names)}; map each to a "
                                   f"column, e.g. x={{{', '.join(repr(n) + ': ...' for n in law.input_names)}}}")
        return {law.input_names[0]: x}
    x = dict(x)
    missing = [n for n in law.input_names if n not in x]
    if missing:
        raise ScalingDataError(f"x: law {law.name!r} has inputs {list(law.input_names)}; no column given for "
                               f"{missing} (got a mapping for {list(x)})")
    extra = [n for n in x if n not in law.input_names]
    if extra:
        raise ScalingDataError(f"x: {extra} are not inputs of law {law.name!r} (inputs {list(law.input_names)})")
    return {n: x[n] for n in law.input_names}


def log_inputs(law: Law) -> List[str]:
    """Inputs the law takes the log of (built-in laws; expression laws report
    none here and the engine flags such problems as bad_input)."""
    if not law.is_builtin:
        return []
    from .. import _core

    for info in _core.law_catalog():
        if info["name"] == law.name:
            return [n for n, t in zip(info["inputs"], info["transforms"]) if t == 1]
    return []


def group_frames(df, by: Union[None, str, Sequence[str]]) -> Tuple[List[str], List[Tuple[Any, ...]], List[np.ndarray]]:
    """(key columns, key tuples, row indices per group) in sorted key order."""
    if by is None:
        return [], [()], [np.arange(len(df))]
    keys = [by] if isinstance(by, str) else list(by)
    check_columns(df, {f"by[{i}]": k for i, k in enumerate(keys)})
    gb = df.groupby(keys, sort=True, dropna=False).indices
    out_keys, out_idx = [], []
    for k, idx in gb.items():
        out_keys.append(k if isinstance(k, tuple) else (k,))
        out_idx.append(np.asarray(idx))
    return keys, out_keys, out_idx


def group_label(keys: Sequence[str], key: Tuple[Any, ...]) -> str:
    if not keys:
        return "the table"
    return "group " + ", ".join(f"{k}={v!r}" for k, v in zip(keys, key))


def pad_groups(columns: Dict[str, np.ndarray], groups: Sequence[np.ndarray]) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Pads ragged groups into (B, M) arrays (NaN beyond each group) and a mask."""
    B = len(groups)
    M = max([len(g) for g in groups] + [1])
    mask = np.zeros((B, M), dtype=bool)
    out = {k: np.full((B, M), np.nan) for k in columns}
    for b, idx in enumerate(groups):
        n = len(idx)
        mask[b, :n] = True
        for k, v in columns.items():
            out[k][b, :n] = v[idx]
    return out, mask


def numeric_column(df, col: str, role: str) -> np.ndarray:
    try:
        return np.asarray(df[col], dtype=np.float64)
    except (TypeError, ValueError):
        raise ScalingDataError(f"column {col!r} ({role}) is not numeric (dtype {df[col].dtype})") from None


def warn_groups(messages: Sequence[str], stacklevel: int = 3) -> None:
    if messages:
        warnings.warn("; ".join(messages) + ". The other groups were fitted.", ScalingDataWarning,
                      stacklevel=stacklevel)
