r"""Loss curves under learning-rate annealing (Tissue et al. 2024, "Scaling Law
with Learning Rate Annealing").

The loss at step s follows

.. math:: L(s) = L_0 + A\, S_1^{-\alpha} - C\, S_2,

with the forward area :math:`S_1 = \sum_{i=1}^{s} \eta_i` and the annealing
area :math:`S_2 = \sum_{i=1}^{s} m_i`, where the momentum-style term is
:math:`m_i = \lambda\, m_{i-1} + (\eta_{i-1} - \eta_i)` with decay factor
λ (0.999 in the paper; η_0 = η_1, so m_1 = 0).  Steps are counted after
``warmup``: warmup steps are left out of both sums (their values are NaN).

Fitting the four constants on one or two full curves predicts the curve of
any other schedule (constant, cosine, warmup-stable-decay, ...).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, Tuple

import numpy as np

from ..fitting._fit import FitResult, fit
from ..fitting._law import laws

__all__ = ["lr_schedule", "lr_areas", "fit_lr_annealing", "predict_loss_curve", "LRAnnealingFit"]


def lr_schedule(kind: str, steps: int, lr_max: float, *, warmup: int = 0, lr_min: float = 0.0,
                decay_frac: float = 0.2, decay_shape: str = "linear") -> np.ndarray:
    """A learning-rate schedule, one value per step 1..steps.

    Parameters
    ----------
    kind : {"constant", "cosine", "linear", "wsd"}
        ``"wsd"``: warmup, stable at ``lr_max``, then decay to ``lr_min`` over
        the last ``decay_frac`` of the steps (``decay_shape`` "linear",
        "cosine" or "sqrt").
    steps : int
    lr_max, lr_min : float
    warmup : int
        Linear warmup steps from 0 to ``lr_max``.
    """
    if not (isinstance(steps, (int, np.integer)) and steps >= 1):
        raise ValueError(f"steps: expected an integer >= 1, got {steps!r}")
    if not (0 <= warmup < steps):
        raise ValueError(f"warmup: expected 0 <= warmup < steps, got {warmup!r}")
    s = np.arange(1, steps + 1, dtype=float)
    lr = np.empty(steps)
    w = s <= warmup
    lr[w] = lr_max * s[w] / max(warmup, 1)
    t = (s[~w] - warmup) / max(steps - warmup, 1)  # in (0, 1]
    if kind == "constant":
        body = np.full(t.shape, lr_max)
    elif kind == "cosine":
        body = lr_min + 0.5 * (lr_max - lr_min) * (1 + np.cos(np.pi * t))
    elif kind == "linear":
        body = lr_max + (lr_min - lr_max) * t
    elif kind == "wsd":
        if not (0.0 < decay_frac <= 1.0):
            raise ValueError(f"decay_frac: expected a fraction in (0, 1], got {decay_frac!r}")
        start = 1.0 - decay_frac
        u = np.clip((t - start) / decay_frac, 0.0, 1.0)
        if decay_shape == "linear":
            f = 1 - u
        elif decay_shape == "cosine":
            f = 0.5 * (1 + np.cos(np.pi * u))
        elif decay_shape == "sqrt":
            f = 1 - np.sqrt(u)
        else:
            raise ValueError(f"decay_shape: expected 'linear', 'cosine' or 'sqrt', got {decay_shape!r}")
        body = lr_min + (lr_max - lr_min) * f
    else:
        raise ValueError(f"kind: expected 'constant', 'cosine', 'linear' or 'wsd', got {kind!r}")
    lr[~w] = body
    return lr


def lr_areas(lr: Any, *, decay: float = 0.999, warmup: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """S1 (forward area) and S2 (annealing area) at every step of a schedule.

    Parameters
    ----------
    lr : array (T,)
        The learning rate at steps 1..T.
    decay : float
        λ of the momentum term, in [0, 1).
    warmup : int
        Steps left out at the start (NaN in the output).

    Returns
    -------
    S1, S2 : ndarray (T,)
        ``S1[s-1] = sum_{i<=s} eta_i``; ``S2[s-1] = sum_{i<=s} m_i`` with
        ``m_i = decay * m_{i-1} + (eta_{i-1} - eta_i)``, sums over steps after
        the warmup.
    """
    eta = np.asarray(lr, dtype=np.float64)
    if eta.ndim != 1 or eta.size == 0:
        raise ValueError(f"lr: expected a non-empty 1-D array, got shape {eta.shape}")
    if not np.all(np.isfinite(eta)) or np.any(eta < 0):
        raise ValueError("lr: learning rates must be finite and >= 0")
    if not (0.0 <= decay < 1.0):
        raise ValueError(f"decay: expected 0 <= decay < 1, got {decay!r}")
    if not (0 <= warmup < eta.size):
        raise ValueError(f"warmup: expected 0 <= warmup < {eta.size}, got {warmup!r}")
    e = eta[warmup:]
    S1 = np.cumsum(e)
    drop = np.empty_like(e)
    drop[0] = 0.0
    drop[1:] = e[:-1] - e[1:]
    m = _momentum(drop, decay)
    S2 = np.cumsum(m)
    out1 = np.full(eta.size, np.nan)
    out2 = np.full(eta.size, np.nan)
    out1[warmup:] = S1
    out2[warmup:] = S2
    return out1, out2


def _momentum(drop: np.ndarray, lam: float) -> np.ndarray:
    """m_i = lam m_{i-1} + drop_i, m_0 = 0, in blocks: within a block of length
    K, m_{j} = lam^j m_start + sum_{t<=j} lam^(j-t) drop_t (a scaled cumsum that
    stays well inside float range for K lam-powers)."""
    n = drop.size
    out = np.empty(n)
    if lam == 0.0:
        return drop.copy()
    K = int(max(1, min(n, np.floor(200.0 / max(-np.log(lam), 1e-12)))))
    K = max(1, min(K, 4096))
    pw = lam ** np.arange(K)
    carry = 0.0
    for s in range(0, n, K):
        d = drop[s:s + K]
        k = d.size
        p = pw[:k]
        acc = np.cumsum(d / p) * p
        out[s:s + k] = acc + carry * lam * p
        carry = out[s + k - 1]
    return out


@dataclass
class LRAnnealingFit:
    """A fitted ``lr_annealing`` law.

    Attributes
    ----------
    L0, A, alpha, C : float
    decay : float
        λ used for S2.
    warmup : int
    result : FitResult
    """

    L0: float
    A: float
    alpha: float
    C: float
    decay: float
    warmup: int
    result: FitResult = field(repr=False)

    @property
    def params(self) -> np.ndarray:
        return np.array([self.L0, self.A, self.alpha, self.C])

    def predict(self, lr: Any, steps: Any = None) -> np.ndarray:
        """The predicted loss curve under schedule ``lr`` (at every step after
        the warmup, or at the 1-based ``steps``)."""
        return predict_loss_curve(self.params, lr, steps=steps, decay=self.decay, warmup=self.warmup)


def _curve(c: Any) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(c, Mapping):
        lr, loss = c["lr"], c["loss"]
        steps = c.get("steps")
    else:
        if len(c) == 3:
            lr, steps, loss = c
        elif len(c) == 2:
            lr, loss = c
            steps = None
        else:
            raise ValueError("curves: each curve is (lr, loss), (lr, steps, loss) or a mapping with lr, loss[, steps]")
    lr = np.asarray(lr, float)
    loss = np.asarray(loss, float)
    steps = np.arange(1, lr.size + 1) if steps is None else np.asarray(steps, dtype=np.int64)
    if steps.shape != loss.shape:
        raise ValueError(f"curves: steps {steps.shape} and loss {loss.shape} differ in shape")
    if steps.size and (steps.min() < 1 or steps.max() > lr.size):
        raise ValueError(f"curves: steps must lie in 1..{lr.size} (the schedule's length)")
    return lr, steps, loss


def fit_lr_annealing(curves: Sequence[Any], *, decay: float = 0.999, warmup: int = 0, p0: Any = None,
                     **fit_kwargs: Any) -> LRAnnealingFit:
    """Fit L0, A, alpha, C of the LR-annealing law on one or more loss curves.

    Parameters
    ----------
    curves : sequence
        Each a ``(lr, steps, loss)`` tuple (``lr`` the whole schedule, one
        value per step; ``steps`` 1-based steps at which ``loss`` was
        measured), ``(lr, loss)`` with a loss at every step, or a mapping with
        keys ``lr``, ``loss`` and optionally ``steps``.  All points of all
        curves form one problem.
    decay, warmup
        See :func:`lr_areas`.
    p0 : array (4,), optional
        Start; default: the best of a few starts over alpha (0.2 .. 1.0).
    **fit_kwargs
        Passed to :func:`scalecore.fit` (e.g. ``loss="huber"``).
    """
    if isinstance(curves, Mapping) or (isinstance(curves, tuple) and len(curves) in (2, 3)
                                       and isinstance(curves[0], np.ndarray) and curves[0].ndim == 1):
        curves = [curves]  # one curve given bare
    S1s, S2s, ys = [], [], []
    for c in curves:
        lr, steps, loss = _curve(c)
        S1, S2 = lr_areas(lr, decay=decay, warmup=warmup)
        S1s.append(S1[steps - 1])
        S2s.append(S2[steps - 1])
        ys.append(loss)
    S1 = np.concatenate(S1s)
    S2 = np.concatenate(S2s)
    y = np.concatenate(ys)
    ok = np.isfinite(S1) & np.isfinite(S2) & np.isfinite(y) & (S1 > 0)
    if ok.sum() < 4:
        raise ValueError(f"curves: {int(ok.sum())} usable points after the warmup; at least 4 are needed")
    law = laws["lr_annealing"]
    starts = None
    if p0 is None:
        # Linear least squares in (L0, A, C) for each alpha on a small grid.
        rows = []
        for al in (0.2, 0.35, 0.5, 0.7, 1.0):
            X = np.column_stack([np.ones(ok.sum()), S1[ok] ** -al, -S2[ok]])
            c, *_ = np.linalg.lstsq(X, y[ok], rcond=None)
            rows.append([max(c[0], 0.0), abs(c[1]), al, max(c[2], 0.0)])
        starts = np.array(rows)
    res = fit(law, {"S1": S1[ok], "S2": S2[ok]}, y[ok], p0=p0, starts=starts, **fit_kwargs)
    p = res.params
    return LRAnnealingFit(L0=float(p[0]), A=float(p[1]), alpha=float(p[2]), C=float(p[3]), decay=decay,
                          warmup=warmup, result=res)


def predict_loss_curve(params: Any, lr: Any, *, steps: Any = None, decay: float = 0.999,
                       warmup: int = 0) -> np.ndarray:
    """L(s) = L0 + A S1^-alpha - C S2 under schedule ``lr``.

    ``params`` is (L0, A, alpha, C) (or a mapping / :class:`LRAnnealingFit`);
    returns the loss at every step (NaN during the warmup) or at the 1-based
    ``steps``.
    """
    if isinstance(params, LRAnnealingFit):
        params = params.params
    elif isinstance(params, Mapping):
        params = [params[k] for k in ("L0", "A", "alpha", "C")]
    p = np.asarray(params, float)
    if p.shape != (4,):
        raise ValueError(f"params: expected (L0, A, alpha, C), got shape {p.shape}")
    S1, S2 = lr_areas(lr, decay=decay, warmup=warmup)
    if steps is not None:
        idx = np.asarray(steps, dtype=np.int64) - 1
        S1, S2 = S1[idx], S2[idx]
    with np.errstate(all="ignore"):
        return p[0] + p[1] * S1 ** -p[2] - p[3] * S2
