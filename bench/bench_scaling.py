"""Scaling-law studies: Approach 3 and its bootstrap against the scipy loop.

Data: the Chinchilla replication's points (tests/data/chinchilla, see
tests/data/PROVENANCE.md), the 5 highest losses dropped as the replication
did: 240 runs.  Where that file is absent (an installed package without the
tests), 240 runs in the same shape generated from the replication's
published estimates with 1% log-normal noise.

Peers run the *same* objective (summed Huber, delta 1e-3, of the log-sum-exp
residuals) from the *same* starts with analytic derivatives:

* ``scipy.optimize.least_squares(method="trf", loss="huber", f_scale=1e-3)``;
* ``scipy.optimize.minimize(method="L-BFGS-B")`` on the summed Huber loss, the
  optimiser the replication used.

scipy is timed on a subset (stated per row); ratios are per item.
"""
from __future__ import annotations

import numpy as np

from .harness import Pair, benchmark

_PUB = {"A": 477.8, "B": 2144.0, "E": 1.817, "alpha": 0.3473, "beta": 0.3672}


def _runs(seed: int = 0, n_budgets: int = 8, per: int = 30, noise: float = 0.01):
    import pandas as pd

    p = _PUB
    rng = np.random.default_rng(seed)
    rows = []
    s = p["alpha"] + p["beta"]
    G = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / s)
    for C in np.geomspace(6e18, 3e21, n_budgets):
        n = G * (C / 6) ** (p["beta"] / s) * np.exp(rng.uniform(-1.8, 1.8, per))
        d = C / (6 * n)
        L = (p["E"] + p["A"] * n ** -p["alpha"] + p["B"] * d ** -p["beta"]) * np.exp(rng.normal(0, noise, per))
        rows.append(pd.DataFrame({"params": n, "tokens": d, "loss": L}))
    return pd.concat(rows, ignore_index=True)


def _residual_fns(N, D, L):
    lN, lD, lL = np.log(N), np.log(D), np.log(L)

    def res(q):
        return np.logaddexp(np.logaddexp(q[0] - q[3] * lN, q[1] - q[4] * lD), q[2]) - lL

    def jac(q):
        u = np.stack([q[0] - q[3] * lN, q[1] - q[4] * lD, np.full_like(lN, q[2])])
        w = np.exp(u - u.max(axis=0))
        w /= w.sum(axis=0)
        return np.stack([w[0], w[1], w[2], -lN * w[0], -lD * w[1]], axis=1)

    def huber_sum(q, delta=1e-3):
        r = res(q)
        a = np.abs(r)
        f = np.sum(np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)))
        dr = np.where(a <= delta, r, delta * np.sign(r))
        return f, jac(q).T @ dr

    return res, jac, huber_sum


def _scipy_fits(N, D, L, starts, method: str):
    from scipy import optimize

    res, jac, hub = _residual_fns(N, D, L)
    best = np.inf
    for s in starts:
        try:
            if method == "least_squares":
                r = optimize.least_squares(res, s, jac=jac, loss="huber", f_scale=1e-3, method="trf",
                                           xtol=1e-10, ftol=1e-10, gtol=1e-10, max_nfev=2000)
                best = min(best, r.cost)
            else:
                r = optimize.minimize(hub, s, jac=True, method="L-BFGS-B", options={"maxiter": 2000})
                best = min(best, r.fun)
        except (ValueError, FloatingPointError):
            pass
    return best


def _data():
    """The replication's 240 points (params, tokens, loss), or synthetic runs."""
    from pathlib import Path

    import pandas as pd

    f = Path(__file__).resolve().parent.parent / "tests" / "data" / "chinchilla" / "svg_extracted_data.csv"
    if not f.exists():
        return _runs(), "synthetic (replication-shaped, 1% noise)"
    e = pd.read_csv(f).sort_values("loss").iloc[:-5]
    df = pd.DataFrame({"params": e["Model Size"].to_numpy(),
                       "tokens": (e["Training FLOP"] / (6 * e["Model Size"])).to_numpy(),
                       "loss": e["loss"].to_numpy()})
    return df.reset_index(drop=True), "Chinchilla replication, 240 points"


@benchmark("scaling_approach3", peer="scipy", family="scaling",
           description="Chinchilla Approach 3 (4,500-start grid) and 1,000-resample bootstrap, 240 runs")
def bench_approach3(quick: bool = False):
    import warnings

    from scalecore.scaling import approach3, chinchilla_grid

    warnings.filterwarnings("ignore", category=RuntimeWarning)
    df, data_name = _data()
    N, D, L = (df[c].to_numpy() for c in ("params", "tokens", "loss"))
    grid = chinchilla_grid()
    full = approach3(df)
    rng = np.random.default_rng(0)
    sub_starts = grid[rng.choice(len(grid), 10 if quick else 45, replace=False)]
    pairs = []
    for method, name in (("least_squares", "scipy least_squares(trf, huber)"), ("lbfgs", "scipy L-BFGS-B")):
        pairs.append(Pair(
            label=f"approach3 grid, per start [{method}]",
            ours=lambda: approach3(df),
            ours_items=len(grid),
            peer=lambda m=method: _scipy_fits(N, D, L, sub_starts, m),
            peer_items=len(sub_starts),
            peer_name=name,
            unit="starts",
            repeat=3,
            note=f"{data_name}; scipy on {len(sub_starts)} of the 4,500 grid starts",
            extra={"objective": full.objective, "alpha": full.alpha, "beta": full.beta, "data": data_name},
        ))
    R = 100 if quick else 1000
    n_peer = 2 if quick else 5
    idx = np.random.default_rng(1).integers(0, len(df), size=(n_peer, len(df)))
    starts = full.basins[:8]  # basins[0] is the full-data optimum

    def peer_boot(m):
        for row in idx:
            _scipy_fits(N[row], D[row], L[row], starts, m)

    import time

    from scalecore.fitting import laws
    from scalecore.scaling._bootstrap import bootstrap_fitted
    from scalecore.scaling._table import prepare_table

    td = prepare_table(df, laws["chinchilla_lse"], {"N": "params", "D": "tokens"}, "loss", None, residual="log",
                       errors="raise")
    opts = dict(residual="log", loss="huber", f_scale=1e-3)

    def ours_boot():
        return bootstrap_fitted(td, full.fit_result, R=R, seed=0, n_basins=8, fit_kwargs=opts)

    t0 = time.perf_counter()
    b = approach3(df, bootstrap=R, seed=0)
    one_shot = time.perf_counter() - t0
    S = int(b.bootstrap.starts.split(" ")[0])
    for method, name in (("least_squares", "scipy least_squares(trf, huber)"), ("lbfgs", "scipy L-BFGS-B")):
        pairs.append(Pair(
            label=f"bootstrap {R} resamples x {S} starts [{method}]",
            ours=ours_boot,
            ours_items=R,
            peer=lambda m=method: peer_boot(m),
            peer_items=n_peer,
            peer_name=name,
            unit="resamples",
            repeat=3,
            note=(f"resample stage only, the same {S} starts per resample on both sides (the full-data optimum "
                  f"and the next lowest-cost distinct basins of the full-data grid); scipy on {n_peer} resamples. "
                  f"approach3(df, bootstrap={R}) end to end, grid included: {one_shot:.2f} s wall"),
            extra={"one_shot_wall_s": one_shot, "R": R, "starts_per_resample": S,
                   "alpha_interval": list(b.bootstrap.interval("alpha")),
                   "beta_interval": list(b.bootstrap.interval("beta"))},
        ))
    return pairs
