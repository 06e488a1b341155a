r"""Compute-optimal allocation under C = k N D for the Chinchilla law.

For :math:`L(N, D) = E + A N^{-\alpha} + B D^{-\beta}` and a budget
:math:`C = k N D` (k = 6 FLOPs per parameter per token by default), the loss
is smallest at (Hoffmann et al. 2022, eq. 4)

.. math::
    N_{opt}(C) = G \,(C/k)^{a}, \quad D_{opt}(C) = G^{-1} (C/k)^{b}, \quad
    G = \Big(\frac{\alpha A}{\beta B}\Big)^{1/(\alpha+\beta)}, \quad
    a = \frac{\beta}{\alpha+\beta}, \; b = \frac{\alpha}{\alpha+\beta},

and the frontier is :math:`L^*(C) = L(N_{opt}(C), D_{opt}(C))`.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping

import numpy as np

__all__ = ["chinchilla_params", "compute_optimal", "loss_frontier", "optimal_exponents"]

_NAMES = ("E", "A", "alpha", "B", "beta")


def chinchilla_params(p: Any) -> Dict[str, np.ndarray]:
    """E, A, alpha, B, beta as arrays from any of: a mapping with those keys
    (or the log-sum-exp keys a, b, e, alpha, beta), a result with those
    attributes (:class:`Approach3Result`), a :class:`~scalecore.FitResult` of
    ``chinchilla``/``chinchilla_lse``, a one-row ``fit_table`` result, or an
    array in ``chinchilla`` order."""
    if hasattr(p, "param_names") and hasattr(p, "params"):
        names = tuple(p.param_names)
        d = {n: np.asarray(p.params)[..., i] for i, n in enumerate(names)}
        return chinchilla_params(d)
    if hasattr(p, "A") and hasattr(p, "alpha") and not isinstance(p, Mapping) and not hasattr(p, "columns"):
        return {n: np.asarray(getattr(p, n), dtype=float) for n in _NAMES}
    if hasattr(p, "columns"):  # a DataFrame (e.g. fit_table output)
        p = {c: np.asarray(p[c], dtype=float) for c in p.columns if c in ("E", "A", "alpha", "B", "beta", "a", "b", "e")}
    if isinstance(p, Mapping):
        if all(n in p for n in _NAMES):
            return {n: np.asarray(p[n], dtype=float) for n in _NAMES}
        if all(n in p for n in ("a", "b", "e", "alpha", "beta")):
            return {"E": np.exp(np.asarray(p["e"], float)), "A": np.exp(np.asarray(p["a"], float)),
                    "alpha": np.asarray(p["alpha"], float), "B": np.exp(np.asarray(p["b"], float)),
                    "beta": np.asarray(p["beta"], float)}
        raise ValueError(f"params: expected keys {list(_NAMES)} or a, b, e, alpha, beta; got {list(p)}")
    a = np.asarray(p, dtype=float)
    if a.shape[-1] != 5:
        raise ValueError(f"params: expected 5 values (E, A, alpha, B, beta), got shape {a.shape}")
    return {n: a[..., i] for i, n in enumerate(_NAMES)}


def optimal_exponents(params: Any) -> Dict[str, np.ndarray]:
    """a = beta/(alpha+beta) and b = alpha/(alpha+beta) (N_opt ~ C^a, D_opt ~ C^b),
    and G of the allocation formula."""
    p = chinchilla_params(params)
    s = p["alpha"] + p["beta"]
    with np.errstate(divide="ignore", invalid="ignore"):
        G = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1.0 / s)
    return {"a": p["beta"] / s, "b": p["alpha"] / s, "G": G}


def compute_optimal(params: Any, C: Any, k: float = 6.0, *, as_frame: bool = True):
    """N_opt(C), D_opt(C), tokens per parameter and the loss L*(C).

    Parameters
    ----------
    params : Approach3Result, FitResult, mapping or array
        Chinchilla parameters (see :func:`chinchilla_params`); arrays of
        parameters (R, ...) broadcast against C.
    C : float or array
        Compute budgets in FLOPs.
    k : float
        FLOPs per parameter per token (C = k N D); 6 by default.
    as_frame : bool
        A pandas DataFrame (columns C, N_opt, D_opt, tokens_per_param, loss)
        when the parameters are scalars; else a dict of arrays.
    """
    if not (np.isfinite(k) and k > 0):
        raise ValueError(f"k: expected a finite number > 0, got {k!r}")
    p = chinchilla_params(params)
    ex = optimal_exponents(p)
    Cv = np.asarray(C, dtype=float)
    if np.any(Cv <= 0):
        raise ValueError("C: compute budgets must be > 0")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        n = ex["G"] * (Cv / k) ** ex["a"]
        d = (Cv / k) / n
        L = p["E"] + p["A"] * n ** -p["alpha"] + p["B"] * d ** -p["beta"]
    out = {"C": np.broadcast_to(Cv, n.shape), "N_opt": n, "D_opt": d, "tokens_per_param": d / n, "loss": L}
    if as_frame and all(np.ndim(v) == 0 for v in p.values()):
        import pandas as pd

        return pd.DataFrame({k2: np.atleast_1d(v) for k2, v in out.items()})
    return out


def loss_frontier(params: Any, C: Any, k: float = 6.0) -> np.ndarray:
    """L*(C): the loss at the compute-optimal allocation."""
    return compute_optimal(params, C, k, as_frame=False)["loss"]
