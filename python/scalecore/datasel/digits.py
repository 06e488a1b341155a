"""Worked example: mixture selection on scikit-learn's digits (no download).

Three sources with different class balance (and one with noisy labels), a
logistic-regression model, the paper's protocol at small scale: an 11 x 11
grid of mixtures of the three sources (66 mixtures), pilot runs at two small
sizes on the training mixtures, extrapolation to a larger size, evaluation on
held-out mixtures, and the selected mixture against uniform and the best
single source.

Run it with ``python -m scalecore.datasel.digits`` (about a minute); :func:`run_example` returns a :class:`DigitsReport` with the numbers
and a matplotlib Figure.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ._predictor import MixturePredictor, simplex_grid

__all__ = ["make_sources", "measure", "run_example", "DigitsReport"]


def _sklearn():
    try:
        from sklearn.datasets import load_digits
        from sklearn.linear_model import LogisticRegression
    except ImportError as e:  # pragma: no cover
        raise ImportError("the digits example needs scikit-learn (pip install \"scalecore[datasel]\")") from e
    return load_digits, LogisticRegression


def make_sources(seed: int = 0, n_validation: int = 300, noise: float = 0.4, max_per_source: Optional[int] = None):
    """Splits digits into a balanced validation set and three sources:
    A mostly digits 0-3, B mostly 4-6, C mostly 7-9, and C's labels are
    replaced by random ones with probability ``noise``.  ``max_per_source``
    subsamples the sources (for quick runs)."""
    load_digits, _ = _sklearn()
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(X))
    val, rest = idx[:n_validation], idx[n_validation:]
    home = np.where(y[rest] <= 3, 0, np.where(y[rest] <= 6, 1, 2))
    prob = np.full((len(rest), 3), 0.15)
    prob[np.arange(len(rest)), home] = 0.7
    src = np.array([rng.choice(3, p=pr) for pr in prob])
    sources = []
    for s in range(3):
        ii = rest[src == s]
        if max_per_source is not None:
            ii = ii[:max_per_source]
        ys = y[ii].copy()
        if s == 2 and noise > 0:
            flip = rng.random(len(ys)) < noise
            ys[flip] = rng.integers(0, 10, flip.sum())
        sources.append((X[ii], ys))
    return sources, (X[val], y[val])


def _accuracy(Xtr, ytr, Xv, yv) -> float:
    _, LogisticRegression = _sklearn()
    if len(np.unique(ytr)) < 2:
        return float(np.mean(yv == ytr[0]))
    clf = LogisticRegression(C=1.0, solver="newton-cg", max_iter=100)
    clf.fit(Xtr, ytr)
    return float(clf.score(Xv, yv))


def _counts(p: np.ndarray, N: int) -> np.ndarray:
    raw = p * N
    c = np.floor(raw).astype(int)
    rem = N - c.sum()
    if rem > 0:
        c[np.argsort(-(raw - c))[:rem]] += 1
    return c


def measure(sources, validation, p: Sequence[float], N: int, reps: int, seed: int = 0) -> float:
    """Mean validation accuracy of the model trained on N samples drawn
    (without replacement) from the sources in proportions p."""
    rng = np.random.default_rng(seed)
    c = _counts(np.asarray(p, dtype=float), N)
    accs = []
    for _ in range(reps):
        xs, ys = [], []
        for s, k in enumerate(c):
            if k == 0:
                continue
            Xs, Ys = sources[s]
            if k > len(Xs):
                raise ValueError(f"N: source {s} has {len(Xs)} samples, the mixture needs {k}")
            pick = rng.choice(len(Xs), k, replace=False)
            xs.append(Xs[pick])
            ys.append(Ys[pick])
        accs.append(_accuracy(np.concatenate(xs), np.concatenate(ys), *validation))
    return float(np.mean(accs))


def _log_err(acc: float) -> float:
    # log(1 - accuracy), floored at half a validation error.
    return float(np.log(max(1.0 - acc, 0.5 / 300)))


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    import pandas as pd

    return float(pd.Series(a).corr(pd.Series(b), method="spearman"))


@dataclass
class DigitsReport:
    """Numbers (and the figure) of :func:`run_example`."""

    grid: np.ndarray
    train_mask: np.ndarray
    pilot_sizes: Tuple[int, int]
    target_size: int
    measured_target: np.ndarray
    predicted_target: np.ndarray
    mae: float
    spearman: float
    selected: np.ndarray
    selected_predicted: float
    selected_measured: float
    uniform_measured: float
    best_single_measured: float
    best_single_source: int
    best_grid_measured: float
    seconds: Dict[str, float] = field(default_factory=dict)
    figure: Any = None

    def summary(self) -> str:
        s = self.selected
        return "\n".join([
            f"pilot sizes {self.pilot_sizes}, target size {self.target_size}, "
            f"{int(self.train_mask.sum())} training / {int((~self.train_mask).sum())} held-out mixtures",
            f"held-out mixtures at N = {self.target_size}: MAE {self.mae:.4f}, Spearman {self.spearman:.3f}",
            f"selected mixture {np.round(s, 3).tolist()}: predicted {self.selected_predicted:.4f}, "
            f"measured {self.selected_measured:.4f}",
            f"uniform mixture: measured {self.uniform_measured:.4f}",
            f"best single source ({self.best_single_source}): measured {self.best_single_measured:.4f}",
            f"best grid mixture (hindsight): measured {self.best_grid_measured:.4f}",
        ])


def run_example(
    *,
    grid_steps: int = 10,
    pilot_sizes: Tuple[int, int] = (60, 120),
    target_size: int = 400,
    reps: int = 5,
    heldout: float = 1 / 3,
    seed: int = 0,
    max_per_source: Optional[int] = None,
    n_validation: int = 300,
    plot: bool = True,
    verbose: bool = False,
) -> DigitsReport:
    r"""Runs the protocol and returns a :class:`DigitsReport`.

    A random fraction ``heldout`` of the grid mixtures is held out: they are
    never measured at the pilot sizes, and their predicted accuracy at
    ``target_size`` is compared with the measured one.  The predictor works
    on the log error :math:`\log(1 - \text{accuracy})`, whose log-linear
    extrapolation in N is a power law (extrapolating accuracy itself
    overshoots 1).
    """
    t0 = time.perf_counter()
    sources, validation = make_sources(seed, n_validation=n_validation, max_per_source=max_per_source)
    grid = simplex_grid(3, grid_steps)
    train = np.random.default_rng(seed).random(len(grid)) >= heldout
    pred = MixturePredictor(sources, validation, maximize=False)  # performance = log error
    secs = {"setup": time.perf_counter() - t0}
    # Pilot runs (training mixtures only).
    t = time.perf_counter()
    rows: Dict[str, List[Any]] = {"weights": [], "N": [], "performance": []}
    for k in np.flatnonzero(train):
        for N in pilot_sizes:
            acc = measure(sources, validation, grid[k], N, reps, seed + 1 + k)
            rows["weights"].append(grid[k])
            rows["N"].append(N)
            rows["performance"].append(_log_err(acc))
    secs["pilots"] = time.perf_counter() - t
    t = time.perf_counter()
    pred.fit(rows)
    predicted = 1.0 - np.exp(pred.predict(grid, target_size))
    sel = pred.select(target_size)
    secs["fit_predict_select"] = time.perf_counter() - t
    # Ground truth at the target size (for evaluation only).
    t = time.perf_counter()
    measured = np.array([measure(sources, validation, g, target_size, reps, seed + 1000 + k)
                         for k, g in enumerate(grid)])
    sel_meas = measure(sources, validation, sel.weights, target_size, reps, seed + 5000)
    uni_meas = measure(sources, validation, [1 / 3, 1 / 3, 1 / 3], target_size, reps, seed + 6000)
    singles = [measure(sources, validation, np.eye(3)[s], target_size, reps, seed + 7000 + s) for s in range(3)]
    secs["ground_truth"] = time.perf_counter() - t
    held = ~train
    mae = float(np.mean(np.abs(predicted[held] - measured[held])))
    rho = _spearman(predicted[held], measured[held])
    rep = DigitsReport(
        grid=grid, train_mask=train, pilot_sizes=tuple(pilot_sizes), target_size=target_size,
        measured_target=measured, predicted_target=predicted, mae=mae, spearman=rho, selected=sel.weights,
        selected_predicted=float(1.0 - np.exp(sel.predicted)), selected_measured=sel_meas,
        uniform_measured=uni_meas,
        best_single_measured=float(max(singles)), best_single_source=int(np.argmax(singles)),
        best_grid_measured=float(measured.max()), seconds=secs,
    )
    if plot:
        rep.figure = plot_report(rep)
    if verbose:
        print(rep.summary())
    return rep


def plot_report(rep: DigitsReport):
    """Figure in the style of the paper: predicted vs measured on held-out
    mixtures; the measured landscape over the simplex with the selected
    mixture; the selected mixture against uniform and the best source."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(14, 4.2))
    held = ~rep.train_mask
    ax[0].scatter(rep.predicted_target[rep.train_mask], rep.measured_target[rep.train_mask], s=18, alpha=0.6,
                  label="training mixtures")
    ax[0].scatter(rep.predicted_target[held], rep.measured_target[held], s=18, alpha=0.8, label="held-out mixtures")
    lo = min(rep.predicted_target.min(), rep.measured_target.min())
    hi = max(rep.predicted_target.max(), rep.measured_target.max())
    ax[0].plot([lo, hi], [lo, hi], "k--", lw=1)
    ax[0].set_xlabel(f"predicted accuracy at N = {rep.target_size}")
    ax[0].set_ylabel("measured accuracy")
    ax[0].set_title(f"held-out: MAE {rep.mae:.3f}, Spearman {rep.spearman:.2f}")
    ax[0].legend(fontsize=8)
    # Ternary coordinates.
    def tern(w):
        w = np.atleast_2d(w)
        return w[:, 1] + 0.5 * w[:, 2], np.sqrt(3) / 2 * w[:, 2]

    gx, gy = tern(rep.grid)
    sc = ax[1].scatter(gx, gy, c=rep.measured_target, cmap="viridis", s=60)
    sx, sy = tern(rep.selected)
    ax[1].scatter(sx, sy, marker="*", s=300, c="red", edgecolors="k", label="selected")
    ux, uy = tern(np.full(3, 1 / 3))
    ax[1].scatter(ux, uy, marker="o", s=110, facecolors="none", edgecolors="k", linewidths=1.5, label="uniform")
    for s, (x, y) in enumerate([(0, 0), (1, 0), (0.5, np.sqrt(3) / 2)]):
        ax[1].annotate(f"source {s}", (x, y), textcoords="offset points", xytext=(0, -12 if y == 0 else 6),
                       ha="center", fontsize=8)
    ax[1].set_axis_off()
    ax[1].set_title("measured accuracy over mixtures")
    fig.colorbar(sc, ax=ax[1], fraction=0.046)
    ax[1].legend(fontsize=8, loc="upper right")
    names = ["selected", "uniform", f"source {rep.best_single_source}\n(best single)", "best grid\n(hindsight)"]
    vals = [rep.selected_measured, rep.uniform_measured, rep.best_single_measured, rep.best_grid_measured]
    ax[2].bar(names, vals, color=["tab:red", "tab:gray", "tab:blue", "tab:green"])
    ax[2].set_ylim(min(vals) - 0.05, max(vals) + 0.02)
    ax[2].set_ylabel(f"measured accuracy at N = {rep.target_size}")
    ax[2].tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return fig


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m scalecore.datasel.digits", description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--target", type=int, default=400)
    ap.add_argument("--pilots", type=int, nargs=2, default=(60, 120))
    ap.add_argument("--grid-steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--figure", default="datasel_digits.png", help="where to save the figure ('' for none)")
    args = ap.parse_args(argv)
    rep = run_example(grid_steps=args.grid_steps, pilot_sizes=tuple(args.pilots), target_size=args.target,
                      reps=args.reps, seed=args.seed, plot=bool(args.figure))
    print(rep.summary())
    print("seconds:", {k: round(v, 1) for k, v in rep.seconds.items()})
    if args.figure:
        rep.figure.savefig(args.figure, dpi=120)
        print(f"figure: {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
