"""Performance prediction and selection of data mixtures by optimal transport
(projektor: Kang et al., "Performance Scaling via Optimal Transport: Enabling
Data Selection from Partially Revealed Sources", NeurIPS 2023)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._array import as_float_array, to_numpy
from ..ot._cost import cost_matrix
from ..ot._otdd import class_distances
from ..ot._sinkhorn import _run

__all__ = ["MixturePredictor", "SelectionResult", "simplex_grid", "project_simplex"]


def simplex_grid(n_sources: int, steps: int = 10) -> np.ndarray:
    """All mixtures with weights in {0, 1/steps, ..., 1} summing to 1 (the
    paper's 11 x 11 grid for three sources and steps = 10: 66 mixtures)."""
    if n_sources < 1:
        raise ValueError(f"n_sources: expected >= 1, got {n_sources}")
    out: List[List[int]] = []

    def rec(prefix: List[int], left: int, k: int) -> None:
        if k == 1:
            out.append(prefix + [left])
            return
        for v in range(left + 1):
            rec(prefix + [v], left - v, k - 1)

    rec([], steps, n_sources)
    return np.array(out, dtype=np.float64)[::-1] / steps


def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto the probability simplex (Duchi et al. 2008)."""
    v = np.asarray(v, dtype=np.float64)
    u = np.sort(v)[::-1]
    css = np.cumsum(u)
    k = np.arange(1, len(v) + 1)
    rho = np.nonzero(u * k > css - 1)[0][-1]
    theta = (css[rho] - 1) / (rho + 1.0)
    return np.maximum(v - theta, 0.0)


@dataclass
class SelectionResult:
    """Result of :meth:`MixturePredictor.select`.

    Attributes
    ----------
    weights : ndarray (S,)
        The selected mixture.
    predicted : float
        Its predicted performance at N.
    grid_weights, grid_predicted : ndarray
        The simplex grid the ascent started from, and its predictions.
    path : list of ndarray
        The iterates of the best projected-gradient run.
    """

    weights: np.ndarray
    predicted: float
    grid_weights: np.ndarray
    grid_predicted: np.ndarray
    path: List[np.ndarray] = field(default_factory=list)


def _ridge_fit(X: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """Coefficients for the raw features X (last column the intercept) of a
    ridge fit on standardised features (intercept unpenalised)."""
    Z = X[:, :-1]
    mu, sd = Z.mean(0), Z.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    Zs = np.c_[(Z - mu) / sd, np.ones(len(Z))]
    if ridge == 0:
        w, *_ = np.linalg.lstsq(Zs, y, rcond=None)
    else:
        pen = ridge * len(Zs) * np.diag(np.r_[np.ones(Zs.shape[1] - 1), 0.0])
        w = np.linalg.solve(Zs.T @ Zs + pen, Zs.T @ y)
    coef = np.empty(X.shape[1])
    coef[:-1] = w[:-1] / sd
    coef[-1] = w[-1] - (mu / sd) @ w[:-1]
    return coef


class MixturePredictor:
    r"""Predicts the performance of a model trained on a mixture of data
    sources, and picks the best mixture, from pilot runs at two small sizes.

    Stage 1 (per pilot size N): performance is a regression on the OT distance
    between the mixture and the validation data,

    .. math::
        \hat L(N, p) = \sum_i (b_2^i p_i^2 + b_1^i p_i + b_0)\,\mathrm{OT}(p)
        + \sum_i (c_1^i p_i + c_0)

    (with the collinear terms of :math:`\sum_i p_i = 1` dropped).  Stage 2
    extrapolates to any N by the parameter-free log-linear map
    :math:`\hat L(N) = [\log(N/N_0)\hat L(N_1) - \log(N/N_1)\hat L(N_0)] /
    \log(N_1/N_0)`.  Stage 3 maximises :math:`\hat L(N, p)` over the simplex
    by projected gradient ascent, with :math:`\partial\,\mathrm{OT}/\partial p`
    from the dual potentials.

    The OT distance is OTDD-style: every source sample is labelled by its
    (source, class) pair, whose class-conditional distribution gives the
    label term :math:`W_2^2(\alpha_{s,c}, \alpha^{val}_{c'})` of the ground
    cost :math:`\|x - x'\|^2 + \lambda W_2^2`, so the cost does not depend on
    the mixture.  The mixture p puts mass :math:`p_s / n_s` on each sample of
    source s (the expectation of the paper's sampled dataset
    :math:`D(N, p)`), and OT(p) is the debiased Sinkhorn divergence to the
    validation set (with ``debias=False``, the entropic OT value with the
    product reference :math:`a b^\top`).  All mixtures of a call are solved in
    one batched call.
    Its gradient in :math:`p_s` is the mean over source s of the samples'
    potentials (centred over sources: the simplex tangent), the analogue of
    the paper's calibrated gradient.

    Parameters
    ----------
    sources : sequence of (features, labels)
    validation : (features, labels)
    eps : float, optional
        Entropic regularisation (default: 5% of the median feature cost).
    class_cost : {"gaussian", "exact", "entropic"}
        Class-to-class distances (see :func:`scalecore.ot.class_distances`).
    label_weight : float
    debias : bool
        Use the Sinkhorn divergence (default) or the plain entropic cost.
    maximize : bool
        Performance is better when larger (accuracy; default) or smaller
        (loss/error).
    """

    def __init__(
        self,
        sources: Sequence[Tuple[Any, Any]],
        validation: Tuple[Any, Any],
        *,
        eps: Optional[float] = None,
        class_cost: str = "gaussian",
        label_weight: float = 1.0,
        debias: bool = True,
        maximize: bool = True,
        tol: float = 1e-6,
        max_iter: int = 2000,
        n_threads: Optional[int] = None,
    ) -> None:
        if len(sources) < 2:
            raise ValueError(f"sources: expected at least 2 sources, got {len(sources)}")
        xs, ls, src = [], [], []
        for s, pair in enumerate(sources):
            try:
                x, y = pair
            except (TypeError, ValueError):
                raise TypeError(f"sources[{s}]: expected a (features, labels) pair") from None
            xa = as_float_array(x, f"sources[{s}] features", np.float64, ndims=(2,))
            la = np.asarray(to_numpy(y, f"sources[{s}] labels")).ravel()
            if la.shape[0] != xa.shape[0]:
                raise ValueError(f"sources[{s}]: {xa.shape[0]} samples but {la.shape[0]} labels")
            if xa.shape[0] == 0:
                raise ValueError(f"sources[{s}]: the source is empty")
            xs.append(xa)
            ls.append(la)
            src.append(np.full(xa.shape[0], s))
        xv = as_float_array(validation[0], "validation features", np.float64, ndims=(2,))
        lv = np.asarray(to_numpy(validation[1], "validation labels")).ravel()
        if lv.shape[0] != xv.shape[0]:
            raise ValueError(f"validation: {xv.shape[0]} samples but {lv.shape[0]} labels")
        d = xv.shape[1]
        for s, xa in enumerate(xs):
            if xa.shape[1] != d:
                raise ValueError(f"sources[{s}]: expected {d} features like the validation set, got {xa.shape[1]}")
        self.n_sources = len(xs)
        self.sizes = np.array([len(x) for x in xs])
        self._x = np.concatenate(xs)
        self._src = np.concatenate(src)
        self._xv = xv
        self.maximize = bool(maximize)
        self.debias = bool(debias)
        self._tol, self._max_iter, self._nt = tol, max_iter, n_threads
        # Labels = (source, class); class distances per source.
        keys = [(s, c) for s in range(self.n_sources) for c in np.unique(ls[s])]
        self._label = np.empty(len(self._x), dtype=np.int64)
        off = 0
        for s in range(self.n_sources):
            for k, (s2, c) in enumerate(keys):
                if s2 == s:
                    self._label[off:off + len(ls[s])][ls[s] == c] = k
            off += len(ls[s])
        vcls = np.unique(lv)
        vlab = np.searchsorted(vcls, lv)
        W = np.zeros((len(keys), len(vcls)))
        Wss = np.zeros((len(keys), len(keys)))
        for s in range(self.n_sources):
            rows = [k for k, (s2, _) in enumerate(keys) if s2 == s]
            Ws, _, _ = class_distances(xs[s], ls[s], xv, lv, method=class_cost, n_threads=n_threads)
            W[rows] = Ws
            for t in range(self.n_sources):
                cols = [k for k, (s2, _) in enumerate(keys) if s2 == t]
                Wst, _, _ = class_distances(xs[s], ls[s], xs[t], ls[t], method=class_cost, n_threads=n_threads)
                Wss[np.ix_(rows, cols)] = Wst
        Wss = 0.5 * (Wss + Wss.T)
        Wvv, _, _ = class_distances(xv, lv, xv, lv, method=class_cost, n_threads=n_threads)
        Wvv = 0.5 * (Wvv + Wvv.T)
        lam = float(label_weight)
        Cf = cost_matrix(self._x, xv)
        if eps is None:
            eps = 0.05 * float(np.median(Cf))
        self.eps = float(eps)
        self._M = Cf + lam * W[self._label][:, vlab]
        if self.debias:
            Mss = cost_matrix(self._x, self._x) + lam * Wss[self._label][:, self._label]
            self._Mss = 0.5 * (Mss + Mss.T)
            Mvv = cost_matrix(xv, xv) + lam * Wvv[vlab][:, vlab]
            Mvv = 0.5 * (Mvv + Mvv.T)
            r = _run(None, None, Mvv, None, None, self.eps, tol=tol, max_iter=max_iter, symmetric=True,
                     n_threads=n_threads, what="MixturePredictor")
            self._ot_vv = float(r.objective)
        self.coef_: Dict[float, np.ndarray] = {}
        self.pilot_sizes: Optional[Tuple[float, float]] = None
        self._warm: Optional[Tuple[np.ndarray, np.ndarray]] = None

    # ------------------------------------------------------------------
    # OT distance and its gradient
    # ------------------------------------------------------------------
    def sample_weights(self, p: np.ndarray) -> np.ndarray:
        """Mass of every pooled source sample under mixture p (S,) or (B, S)."""
        p = np.asarray(p, dtype=np.float64)
        return p[..., self._src] / self.sizes[self._src]

    def _check_weights(self, w: Any) -> np.ndarray:
        W = np.atleast_2d(as_float_array(w, "weights", np.float64, ndims=(1, 2)))
        if W.shape[1] != self.n_sources:
            raise ValueError(f"weights: expected {self.n_sources} mixture weights per row, got shape {W.shape}")
        if np.any(W < -1e-12) or not np.allclose(W.sum(1), 1.0, atol=1e-8):
            raise ValueError("weights: each mixture must be non-negative and sum to 1")
        return np.clip(W, 0, None) / np.clip(W, 0, None).sum(1, keepdims=True)

    def ot_distance(self, weights: Any, *, gradient: bool = False):
        """OT(p) for a batch of mixtures (B, S) in one batched solve; with
        ``gradient`` also dOT/dp (B, S), centred over sources."""
        P = self._check_weights(weights)
        A = self.sample_weights(P)
        r = _run(A, None, self._M, None, None, self.eps, tol=self._tol, max_iter=self._max_iter,
                 n_threads=self._nt, what="MixturePredictor")
        ot = np.atleast_1d(r.objective).astype(np.float64)
        g = np.atleast_2d(r.f_kl)
        if not self.debias:
            # The product-reference value OT^KL = objective - eps (sum a log a
            # + sum b log b), whose gradient in a is f_kl (finite at a = 0);
            # with debiasing these entropies cancel.
            with np.errstate(divide="ignore", invalid="ignore"):
                ent = np.where(A > 0, A * np.log(np.where(A > 0, A, 1.0)), 0.0).sum(-1)
            nv = self._xv.shape[0]
            ot = ot - self.eps * (np.atleast_1d(ent) + np.log(1.0 / nv))
        if self.debias:
            rs = _run(A, A, self._Mss, None, None, self.eps, tol=self._tol, max_iter=self._max_iter,
                      symmetric=True, n_threads=self._nt, what="MixturePredictor")
            ot = ot - 0.5 * np.atleast_1d(rs.objective) - 0.5 * self._ot_vv
            g = g - 0.5 * (np.atleast_2d(rs.f_kl) + np.atleast_2d(rs.g_kl))
        if not gradient:
            return ot
        # d OT / d p_s = sum_{k in s} g_k * (d a_k / d p_s) = mean of g over source s.
        G = np.stack([g[:, self._src == s].mean(1) for s in range(self.n_sources)], axis=1)
        G -= G.mean(1, keepdims=True)
        return ot, G

    # ------------------------------------------------------------------
    # Stage 1 and 2
    # ------------------------------------------------------------------
    def _features(self, P: np.ndarray, ot: np.ndarray) -> np.ndarray:
        S = self.n_sources
        cols = [ot[:, None] * P ** 2, ot[:, None] * P[:, : S - 1], ot[:, None], P[:, : S - 1], np.ones((len(P), 1))]
        return np.concatenate(cols, axis=1)

    def _feature_grad(self, P: np.ndarray, ot: np.ndarray, G: np.ndarray, coef: np.ndarray) -> np.ndarray:
        """d/dp of features(P, OT(P)) . coef, (B, S)."""
        S = self.n_sources
        c_b2 = coef[:S]
        c_b1 = coef[S: 2 * S - 1]
        c_b0 = coef[2 * S - 1]
        c_c1 = coef[2 * S: 3 * S - 1]
        # d/dOT of the prediction, and the explicit d/dp.
        dOT = (P ** 2) @ c_b2 + P[:, : S - 1] @ c_b1 + c_b0
        explicit = 2 * ot[:, None] * P * c_b2
        explicit[:, : S - 1] += ot[:, None] * c_b1 + c_c1
        return dOT[:, None] * G + explicit

    def fit(self, pilot_runs: Any, *, ridge: float = 1e-4) -> "MixturePredictor":
        """Fits stage 1 at the two pilot sizes.

        Parameters
        ----------
        pilot_runs : mapping or DataFrame
            Columns ``weights`` (R x S, or one column ``w0..w{S-1}``/``p0..``),
            ``N`` (R) with exactly two distinct values, and ``performance`` (R).
            The OT distances of all distinct mixtures are computed in one
            batched call.  Stage 2 extrapolates ``performance`` log-linearly
            in N, which suits log errors/losses (a power law in N); pass
            ``log(1 - accuracy)`` with ``maximize=False`` rather than accuracy.
        ridge : float
            Ridge penalty on the standardised regression terms (the terms are
            nearly collinear when OT varies little across mixtures); 0 gives
            least squares.
        """
        if not ridge >= 0:
            raise ValueError(f"ridge: expected a value >= 0, got {ridge!r}")
        W, N, perf = self._pilot_arrays(pilot_runs)
        sizes = np.unique(N)
        if len(sizes) != 2:
            raise ValueError(f"pilot_runs: expected exactly two pilot sizes N0 < N1, got {sizes.tolist()}")
        uniq, inv = np.unique(np.round(W, 12), axis=0, return_inverse=True)
        ot = self.ot_distance(uniq)[inv.ravel()]
        self.coef_ = {}
        for Nk in sizes:
            m = N == Nk
            X = self._features(W[m], ot[m])
            if m.sum() < X.shape[1]:
                raise ValueError(f"pilot_runs: {m.sum()} runs at N = {Nk} for {X.shape[1]} regression terms")
            self.coef_[float(Nk)] = _ridge_fit(X, perf[m], ridge)
        self.pilot_sizes = (float(sizes[0]), float(sizes[1]))
        return self

    def _pilot_arrays(self, runs: Any):
        try:
            import pandas as pd

            if isinstance(runs, pd.DataFrame):
                if "weights" in runs:
                    W = np.stack(runs["weights"].to_numpy())
                else:
                    cols = [c for c in runs.columns if str(c).startswith(("w", "p"))][: self.n_sources]
                    W = runs[cols].to_numpy()
                runs = {"weights": W, "N": runs["N"].to_numpy(), "performance": runs["performance"].to_numpy()}
        except ImportError:  # pragma: no cover
            pass
        try:
            W = self._check_weights(runs["weights"])
            N = np.asarray(runs["N"], dtype=np.float64).ravel()
            perf = np.asarray(runs["performance"], dtype=np.float64).ravel()
        except KeyError as e:
            raise ValueError(f"pilot_runs: missing the column {e}") from None
        if not (len(W) == len(N) == len(perf)):
            raise ValueError(f"pilot_runs: weights, N and performance have {len(W)}, {len(N)}, {len(perf)} rows")
        if not np.all(np.isfinite(perf)):
            raise ValueError("pilot_runs: performance must be finite")
        return W, N, perf

    def _require_fit(self) -> None:
        if self.pilot_sizes is None:
            raise RuntimeError("MixturePredictor: call fit(pilot_runs) first")

    def predict_at_pilots(self, weights: Any) -> Tuple[np.ndarray, np.ndarray]:
        """Stage-1 predictions at N0 and N1."""
        self._require_fit()
        P = self._check_weights(weights)
        ot = self.ot_distance(P)
        X = self._features(P, ot)
        n0, n1 = self.pilot_sizes
        return X @ self.coef_[n0], X @ self.coef_[n1]

    def predict(self, weights: Any, N: float) -> np.ndarray:
        """Predicted performance of mixtures (S,) or (B, S) at training size N
        (stage 2, the log-linear extrapolation)."""
        l0, l1 = self.predict_at_pilots(weights)
        out = self._extrapolate(l0, l1, float(N))
        return out if np.ndim(weights) > 1 else out[0]

    def _extrapolate(self, l0, l1, N):
        if not N > 0:
            raise ValueError(f"N: expected a positive size, got {N!r}")
        n0, n1 = self.pilot_sizes
        return (np.log(N / n0) * l1 - np.log(N / n1) * l0) / np.log(n1 / n0)

    def _value_and_grad(self, p: np.ndarray, N: float):
        P = p[None, :]
        ot, G = self.ot_distance(P, gradient=True)
        X = self._features(P, ot)
        n0, n1 = self.pilot_sizes
        l0, l1 = X @ self.coef_[n0], X @ self.coef_[n1]
        g0 = self._feature_grad(P, ot, G, self.coef_[n0])
        g1 = self._feature_grad(P, ot, G, self.coef_[n1])
        val = self._extrapolate(l0, l1, N)[0]
        grad = ((np.log(N / n0) * g1 - np.log(N / n1) * g0) / np.log(n1 / n0))[0]
        return val, grad - grad.mean()

    # ------------------------------------------------------------------
    # Stage 3
    # ------------------------------------------------------------------
    def select(self, N: float, *, steps: int = 60, step_size: float = 0.05, grid_steps: int = 10,
               starts: int = 3) -> SelectionResult:
        """The mixture with the best predicted performance at size N.

        The predictions on a simplex grid (one batched solve) give the
        starting points; from the best ``starts`` of them, projected gradient
        ascent on the simplex (gradient from the potentials, step
        ``step_size`` on the normalised gradient, halved when a step does not
        improve) refines the mixture.
        """
        self._require_fit()
        sign = 1.0 if self.maximize else -1.0
        grid = simplex_grid(self.n_sources, grid_steps)
        pred = self.predict(grid, N)
        order = np.argsort(-sign * pred)[: max(1, starts)]
        best_p, best_v, best_path = grid[order[0]], pred[order[0]], [grid[order[0]]]
        for k in order:
            p = grid[k].copy()
            v, g = self._value_and_grad(p, N)
            h = step_size
            path = [p.copy()]
            for _ in range(steps):
                nrm = np.linalg.norm(g)
                if nrm == 0 or h < 1e-4:
                    break
                q = project_simplex(p + sign * h * g / nrm)
                vq, gq = self._value_and_grad(q, N)
                if sign * vq > sign * v:
                    p, v, g = q, vq, gq
                    path.append(p.copy())
                else:
                    h *= 0.5
            if sign * v > sign * best_v:
                best_p, best_v, best_path = p, v, path
        return SelectionResult(weights=best_p, predicted=float(best_v), grid_weights=grid, grid_predicted=pred,
                               path=best_path)
