"""Data for the scaling tests: synthetic Chinchilla runs and the Hitchhiker tables."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parent / "data"

# Besiroglu et al. 2024's Approach 3 estimates, as issue 4 quotes them.
PUBLISHED = {"A": 477.8, "B": 2144.0, "E": 1.817, "alpha": 0.3473, "beta": 0.3672}

GPT3_SIZES = {"small": 125e6, "medium": 350e6, "large": 760e6, "xl": 1.3e9, "2.7b": 2.7e9, "6.7b": 6.7e9,
              "13b": 13e9, "175b": 175e9}  # Brown et al. 2020, table 2.1
OPT_SIZES = {"125m": 125e6, "1.3b": 1.3e9, "6.7b": 6.7e9, "13b": 13e9, "30b": 30e9, "175b": 175e9}


def chinchilla_loss(N, D, p=PUBLISHED):
    return p["E"] + p["A"] * np.asarray(N, float) ** -p["alpha"] + p["B"] * np.asarray(D, float) ** -p["beta"]


def synthetic_runs(n_budgets: int = 8, per_budget: int = 30, noise: float = 0.01, seed: int = 0, p=PUBLISHED,
                   k: float = 6.0) -> pd.DataFrame:
    """isoFLOP-style runs like the Chinchilla paper's: budgets 6e18..3e21 FLOPs,
    N spread over 1.5 decades around the optimum, log-normal noise on the loss."""
    rng = np.random.default_rng(seed)
    rows = []
    for C in np.geomspace(6e18, 3e21, n_budgets):
        s = p["alpha"] + p["beta"]
        G = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / s)
        n_opt = G * (C / k) ** (p["beta"] / s)
        N = n_opt * np.exp(rng.uniform(-1.8, 1.8, per_budget))
        D = C / (k * N)
        L = chinchilla_loss(N, D, p) * np.exp(rng.normal(0.0, noise, per_budget))
        rows.append(pd.DataFrame({"params": N, "tokens": D, "loss": L, "budget": C}))
    return pd.concat(rows, ignore_index=True)


def gpt3_curves() -> pd.DataFrame:
    g = pd.read_csv(DATA / "hitchhiker" / "gpt3_curves.csv")
    g = g.dropna(subset=["train_loss"])
    g = g[g["step"] > 0]
    return pd.DataFrame({"family": "GPT-3", "model": g["model"], "params": g["model"].map(GPT3_SIZES),
                         "tokens": g["step"] * 1e9, "loss": g["train_loss"]}).reset_index(drop=True)


def opt_curves() -> pd.DataFrame:
    o = pd.read_csv(DATA / "hitchhiker" / "opt_trajectories.csv")
    return pd.DataFrame({"family": "OPT", "model": o["model_size"], "params": o["model_size"].map(OPT_SIZES),
                         "tokens": 10.0 ** o["num_token"], "loss": np.log(o["ppl"])})


def huber_objective(params_lse, N, D, L, delta=1e-3):
    """The Approach 3 objective, written out independently of the engine."""
    a, b, e, al, be = params_lse
    lse = np.logaddexp(np.logaddexp(a - al * np.log(N), b - be * np.log(D)), e)
    r = lse - np.log(L)
    ar = np.abs(r)
    return float(np.sum(np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta))))
