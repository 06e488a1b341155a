"""Optimal transport dataset distance (OTDD, Alvarez-Melis & Fusi, NeurIPS 2020)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .._array import as_float_array, to_numpy
from ._common import check_positive_scalar, check_weights, weights
from ._cost import cost_matrix
from ._emd import emd
from ._sinkhorn import SinkhornResult, _DENSE_LIMIT, _run, sinkhorn

__all__ = ["otdd", "OtddResult", "class_distances"]


@dataclass
class OtddResult:
    r"""Result of :func:`otdd`.

    Attributes
    ----------
    value : float
        The dataset distance: the debiased Sinkhorn divergence (or, with
        ``debias=False``, the entropic OT objective) under the label-aware
        ground cost :math:`\|x - x'\|^2 + \lambda\,W_2^2(\alpha_y, \alpha_{y'})`.
    class_distances : ndarray (K1, K2)
        :math:`W_2^2` between the class-conditional feature distributions.
    classes1, classes2 : ndarray
        The label values behind the rows/columns of ``class_distances``.
    grad_a, grad_b : ndarray
        Gradient of ``value`` with respect to the sample weights along the
        simplex (centred potentials): what data-selection methods use.
    ab, aa, bb : SinkhornResult or None
        The outer problems (``aa``, ``bb`` only with ``debias``).
    """

    value: float
    class_distances: np.ndarray
    classes1: np.ndarray
    classes2: np.ndarray
    grad_a: np.ndarray
    grad_b: np.ndarray
    ab: SinkhornResult
    aa: Optional[SinkhornResult] = None
    bb: Optional[SinkhornResult] = None
    info: Dict[str, Any] = field(default_factory=dict)


def _gaussian_stats(x: np.ndarray, labels: np.ndarray, classes: np.ndarray, ridge: float):
    d = x.shape[1]
    mus, roots, covs = [], [], []
    for c in classes:
        xc = x[labels == c]
        mu = xc.mean(0)
        xc0 = xc - mu
        S = xc0.T @ xc0 / max(len(xc), 1) + ridge * np.eye(d)
        w, V = np.linalg.eigh(S)
        w = np.clip(w, 0, None)
        mus.append(mu)
        covs.append(S)
        roots.append((V * np.sqrt(w)) @ V.T)
    return mus, covs, roots


def _bures(mu1, S1, R1, mu2, S2) -> float:
    # W2^2 between Gaussians: |mu1 - mu2|^2 + tr(S1 + S2 - 2 (R1 S2 R1)^(1/2)).
    w = np.linalg.eigvalsh(R1 @ S2 @ R1)
    cross = np.sqrt(np.clip(w, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(S1) + np.trace(S2) - 2 * cross)


def class_distances(
    x1: Any,
    y1: Any,
    x2: Any,
    y2: Any,
    *,
    method: str = "gaussian",
    eps: Optional[float] = None,
    ridge: float = 1e-8,
    tol: float = 1e-6,
    max_iter: int = 2000,
    n_threads: Optional[int] = None,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Squared 2-Wasserstein distances between the class-conditional
    distributions :math:`\alpha_c = \mathcal L(x \mid y = c)` of two labelled
    datasets.

    Methods
    -------
    ``"gaussian"``
        Bures-Wasserstein between Gaussian fits (means and covariances, plus
        ``ridge`` on the diagonal): :math:`\|\mu_1-\mu_2\|^2 + \mathrm{tr}(\Sigma_1
        + \Sigma_2 - 2(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2})^{1/2})`.
    ``"exact"``
        Exact OT between the class clouds (one batched :func:`emd` call over
        all K1 x K2 pairs, uniform weights).
    ``"entropic"``
        Entropic OT between the clouds (one batched :func:`sinkhorn` call;
        ``eps`` defaults to 5% of the median pairwise cost), its ``cost``.

    Returns
    -------
    W : ndarray (K1, K2), classes1, classes2
    """
    x1 = as_float_array(x1, "x1", np.float64, ndims=(2,))
    x2 = as_float_array(x2, "x2", np.float64, ndims=(2,))
    l1 = np.asarray(to_numpy(y1, "y1")).ravel()
    l2 = np.asarray(to_numpy(y2, "y2")).ravel()
    if l1.shape[0] != x1.shape[0]:
        raise ValueError(f"y1: expected {x1.shape[0]} labels, got {l1.shape[0]}")
    if l2.shape[0] != x2.shape[0]:
        raise ValueError(f"y2: expected {x2.shape[0]} labels, got {l2.shape[0]}")
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"x2: expected {x1.shape[1]} features like x1, got {x2.shape[1]}")
    c1, c2 = np.unique(l1), np.unique(l2)
    if method == "gaussian":
        m1, s1, r1 = _gaussian_stats(x1, l1, c1, ridge)
        m2, s2, _ = _gaussian_stats(x2, l2, c2, ridge)
        W = np.array([[_bures(m1[i], s1[i], r1[i], m2[j], s2[j]) for j in range(len(c2))] for i in range(len(c1))])
        return np.maximum(W, 0.0), c1, c2
    if method not in ("exact", "entropic"):
        raise ValueError(f"method: expected 'gaussian', 'exact' or 'entropic', got {method!r}")
    g1 = [x1[l1 == c] for c in c1]
    g2 = [x2[l2 == c] for c in c2]
    Ms = [cost_matrix(u, v) for u in g1 for v in g2]
    if method == "exact":
        r = emd(None, None, Ms, n_threads=n_threads)
        return r.cost.reshape(len(c1), len(c2)), c1, c2
    e = eps if eps is not None else 0.05 * float(np.median(np.concatenate([M.ravel() for M in Ms])))
    r = sinkhorn(None, None, Ms, e, tol=tol, max_iter=max_iter, n_threads=n_threads)
    return np.asarray(r.cost).reshape(len(c1), len(c2)), c1, c2


def otdd(
    x1: Any,
    y1: Any,
    x2: Any,
    y2: Any,
    *,
    eps: Optional[float] = None,
    a: Any = None,
    b: Any = None,
    class_cost: str = "gaussian",
    label_weight: float = 1.0,
    inner_eps: Optional[float] = None,
    debias: bool = True,
    tol: float = 1e-6,
    max_iter: int = 2000,
    tiled: Optional[bool] = None,
    n_threads: Optional[int] = None,
) -> OtddResult:
    r"""Optimal transport dataset distance (Alvarez-Melis & Fusi 2020).

    Each sample is a pair (features x, label y); the ground cost between
    samples is

    .. math::
        c((x, y), (x', y')) = \|x - x'\|^2 + \lambda\,W_2^2(\alpha_y, \alpha_{y'}),

    with :math:`\alpha_y` the distribution of the features of class y in its
    dataset (see :func:`class_distances`), and the distance is the debiased
    Sinkhorn divergence (Feydy et al. 2019) between the two weighted sample
    sets under that cost:

    .. math::
        \mathrm{OTDD} = OT_\varepsilon(D_1, D_2) - \tfrac12 OT_\varepsilon(D_1, D_1)
        - \tfrac12 OT_\varepsilon(D_2, D_2).

    The label term enters as a K x K table looked up per pair, so large
    datasets use the tiled solver (the n x m cost is never stored).

    Parameters
    ----------
    x1, y1 : array (n, d), (n,)
        Features and labels of the first dataset; x2, y2 the second's.
    eps : float, optional
        Outer regularisation (default: 5% of the median feature cost of a
        sample of pairs).
    a, b : array, optional
        Sample weights (uniform by default); :func:`otdd` is differentiable
        in them (``grad_a``, ``grad_b``).
    class_cost : {"gaussian", "exact", "entropic"}
    label_weight : float
        :math:`\lambda`.
    debias : bool
        Sinkhorn divergence (default) or the plain entropic objective.

    Returns
    -------
    OtddResult
    """
    X1 = as_float_array(x1, "x1", np.float64, ndims=(2,))
    X2 = as_float_array(x2, "x2", np.float64, ndims=(2,))
    L1 = np.asarray(to_numpy(y1, "y1")).ravel()
    L2 = np.asarray(to_numpy(y2, "y2")).ravel()
    n, m = X1.shape[0], X2.shape[0]
    if n == 0 or m == 0:
        raise ValueError(("x1" if n == 0 else "x2") + ": the dataset is empty")
    if label_weight < 0 or not np.isfinite(label_weight):
        raise ValueError(f"label_weight: expected a finite value >= 0, got {label_weight!r}")
    aw = weights(a, n, "a")
    bw = weights(b, m, "b")
    check_weights(aw, "a")
    check_weights(bw, "b")
    W12, c1, c2 = class_distances(X1, L1, X2, L2, method=class_cost, eps=inner_eps, n_threads=n_threads)
    idx1 = np.searchsorted(c1, L1).astype(np.int32)
    idx2 = np.searchsorted(c2, L2).astype(np.int32)
    lam = float(label_weight)
    if eps is None:
        rng = np.random.default_rng(0)
        i = rng.integers(0, n, 2000)
        j = rng.integers(0, m, 2000)
        eps = 0.05 * float(np.median(((X1[i] - X2[j]) ** 2).sum(1)) + 1e-12)
    eps = check_positive_scalar(eps, "eps")
    if tiled is None:
        tiled = max(n, m) ** 2 > _DENSE_LIMIT

    def solve(Xa, La, Xb, Lb, wa, wb, table, sym=False):
        tab = np.ascontiguousarray(lam * table, dtype=np.float64)
        if sym:
            tab = 0.5 * (tab + tab.T)  # exactly symmetric (the class table is, up to rounding)
        if tiled:
            return _run(wa, wb, None, Xa, Xb, eps, tol=tol, max_iter=max_iter, n_threads=n_threads,
                        labels=(np.ascontiguousarray(La), np.ascontiguousarray(Lb), tab), symmetric=sym,
                        what="otdd")
        M = cost_matrix(Xa, Xb) + tab[La][:, Lb]
        if sym:
            M = 0.5 * (M + M.T)
        return _run(wa, wb, M, None, None, eps, tol=tol, max_iter=max_iter, n_threads=n_threads, symmetric=sym,
                    what="otdd")

    ab = solve(X1, idx1, X2, idx2, aw, bw, W12)
    info = {"eps": eps, "class_cost": class_cost, "tiled": tiled, "label_weight": lam}
    if not debias:
        return OtddResult(value=float(ab.objective), class_distances=W12, classes1=c1, classes2=c2,
                          grad_a=ab.grad_a, grad_b=ab.grad_b, ab=ab, info=info)
    W11, _, _ = class_distances(X1, L1, X1, L1, method=class_cost, eps=inner_eps, n_threads=n_threads)
    W22, _, _ = class_distances(X2, L2, X2, L2, method=class_cost, eps=inner_eps, n_threads=n_threads)
    aa = solve(X1, idx1, X1, idx1, aw, aw, W11, sym=True)
    bb = solve(X2, idx2, X2, idx2, bw, bw, W22, sym=True)
    value = float(ab.objective - 0.5 * (aa.objective + bb.objective))
    ga = ab.f_kl - 0.5 * (aa.f_kl + aa.g_kl)
    gb = ab.g_kl - 0.5 * (bb.f_kl + bb.g_kl)
    return OtddResult(value=value, class_distances=W12, classes1=c1, classes2=c2, grad_a=ga - ga.mean(),
                      grad_b=gb - gb.mean(), ab=ab, aa=aa, bb=bb, info=info)
