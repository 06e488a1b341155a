"""Independent numpy definitions of the built-in laws and random problems for
them, used to check scalecore against scipy."""
from __future__ import annotations

from typing import Callable, Dict, Tuple

import numpy as np

LOG2 = np.log


def _bnsl(k):
    def f(x, p):
        a, b, c0 = p[0], p[1], p[2]
        out = b * x ** (-c0)
        for i in range(k):
            c, d, ff = p[3 + 3 * i], p[4 + 3 * i], p[5 + 3 * i]
            out = out * (1 + (x / d) ** (1 / ff)) ** (-c * ff)
        return a + out
    return f


# name -> (numpy model f(x: dict, p), expression text, inputs)
NUMPY: Dict[str, Tuple[Callable, str, list]] = {
    "power": (lambda x, p: p[0] * x["x"] ** -p[1], "A * x**-alpha", ["x"]),
    "saturating_power": (lambda x, p: p[0] + p[1] * x["x"] ** -p[2], "E + A * x**-alpha", ["x"]),
    "chinchilla": (lambda x, p: p[0] + p[1] * x["N"] ** -p[2] + p[3] * x["D"] ** -p[4],
                   "E + A * N**-alpha + B * D**-beta", ["N", "D"]),
    "chinchilla_lse": (lambda x, p: np.exp(p[0] - p[3] * np.log(x["N"])) + np.exp(p[1] - p[4] * np.log(x["D"]))
                       + np.exp(p[2]), "exp(a - alpha*log(N)) + exp(b - beta*log(D)) + exp(e)", ["N", "D"]),
    "kaplan": (lambda x, p: ((p[0] / x["N"]) ** (p[1] / p[3]) + p[2] / x["D"]) ** p[3],
               "((N_c/N)**(alpha_N/alpha_D) + D_c/D)**alpha_D", ["N", "D"]),
    "bnsl": (lambda x, p: _bnsl(1)(x["x"], p), "a + b * x**-c0 * (1 + (x/d1)**(1/f1))**(-c1*f1)", ["x"]),
    "bnsl2": (lambda x, p: _bnsl(2)(x["x"], p),
              "a + b * x**-c0 * (1 + (x/d1)**(1/f1))**(-c1*f1) * (1 + (x/d2)**(1/f2))**(-c2*f2)", ["x"]),
    "bnsl3": (lambda x, p: _bnsl(3)(x["x"], p), None, ["x"]),
    "bnsl4": (lambda x, p: _bnsl(4)(x["x"], p), None, ["x"]),
    "lr_annealing": (lambda x, p: p[0] + p[1] * x["S1"] ** -p[2] - p[3] * x["S2"], "L0 + A * S1**-alpha - C * S2",
                     ["S1", "S2"]),
    "overtraining": (lambda x, p: p[0] + (p[1] * x["M"] ** p[3] + p[2] * x["M"] ** -p[3]) * x["C"] ** -p[3],
                     "E + (a * M**eta + b * M**-eta) * C**-eta", ["C", "M"]),
    "downstream_log": (lambda x, p: np.log(p[0] * x["D"] ** p[1]) ** p[2], "log(A * D**alpha)**beta", ["D"]),
    "sigmoid": (lambda x, p: p[0] / (1 + np.exp(-p[1] * (x["x"] - p[2]))) + p[3], "a / (1 + exp(-k * (x - x0))) + b",
                ["x"]),
    "exponential": (lambda x, p: p[2] + p[0] * np.exp(-p[1] * x["x"]), "C + A * exp(-k * x)", ["x"]),
    "gauss1d": (lambda x, p: p[0] * np.exp(-(x["x"] - p[1]) ** 2 / (2 * p[2] ** 2)) + p[3],
                "a * exp(-(x - x0)**2 / (2 * w**2)) + b", ["x"]),
}


def _u(rng, lo, hi, n):
    return rng.uniform(lo, hi, n)


def _lu(rng, lo, hi, n):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def truth(name: str, rng, B: int) -> np.ndarray:
    """Plausible true parameters, (B, P)."""
    if name == "power":
        return np.column_stack([_u(rng, 1, 10, B), _u(rng, 0.1, 1.0, B)])
    if name == "saturating_power":
        return np.column_stack([_u(rng, 0.5, 2, B), _u(rng, 1, 10, B), _u(rng, 0.2, 0.8, B)])
    if name == "chinchilla":
        return np.column_stack([_u(rng, 1.5, 2.0, B), _u(rng, 200, 600, B), _u(rng, 0.25, 0.4, B),
                                _u(rng, 1000, 3000, B), _u(rng, 0.25, 0.4, B)])
    if name == "chinchilla_lse":
        t = truth("chinchilla", rng, B)
        return np.column_stack([np.log(t[:, 1]), np.log(t[:, 3]), np.log(t[:, 0]), t[:, 2], t[:, 4]])
    if name == "kaplan":
        return np.column_stack([8.8e13 * _lu(rng, 0.5, 2, B), 0.076 * _u(rng, 0.7, 1.3, B),
                                5.4e13 * _lu(rng, 0.5, 2, B), 0.095 * _u(rng, 0.7, 1.3, B)])
    if name.startswith("bnsl"):
        k = 1 if name == "bnsl" else int(name[-1])
        cols = [_u(rng, 0.05, 0.5, B), _u(rng, 1, 5, B), _u(rng, 0.1, 0.4, B)]
        for i in range(k):
            lo_d, hi_d = 10 ** (0.5 + 3 * i / k), 10 ** (0.5 + 3 * (i + 1) / k)
            cols += [_u(rng, 0.2, 0.8, B), _lu(rng, lo_d, hi_d, B), _u(rng, 0.3, 1.0, B)]
        return np.column_stack(cols)
    if name == "lr_annealing":
        return np.column_stack([_u(rng, 2, 3, B), _u(rng, 0.5, 2, B), _u(rng, 0.3, 0.7, B), _u(rng, 1e-4, 1e-3, B)])
    if name == "overtraining":
        return np.column_stack([_u(rng, 1.5, 2, B), _lu(rng, 50, 500, B), _lu(rng, 50, 500, B), _u(rng, 0.12, 0.2, B)])
    if name == "downstream_log":
        return np.column_stack([_u(rng, 0.5, 2, B), _u(rng, 0.1, 0.4, B), _u(rng, 0.5, 2, B)])
    if name == "sigmoid":
        return np.column_stack([_u(rng, 0.3, 0.8, B), _u(rng, -5, -2, B), _u(rng, 2.3, 3.2, B), _u(rng, 0.1, 0.3, B)])
    if name == "exponential":
        return np.column_stack([_u(rng, 1, 3, B), _u(rng, 0.3, 1.5, B), _u(rng, 0.5, 1, B)])
    if name == "gauss1d":
        return np.column_stack([_u(rng, 5, 15, B), _u(rng, 7, 12, B), _u(rng, 1.5, 4, B), _u(rng, 0.5, 2, B)])
    raise KeyError(name)


def inputs(name: str, rng, B: int, M: int) -> Dict[str, np.ndarray]:
    """Random inputs, each (B, M)."""
    if name in ("power",):
        return {"x": _lu(rng, 1, 1e3, (B, M))}
    if name == "saturating_power":
        return {"x": _lu(rng, 10, 1e4, (B, M))}
    if name in ("chinchilla", "chinchilla_lse", "kaplan"):
        return {"N": _lu(rng, 1e7, 1e10, (B, M)), "D": _lu(rng, 1e9, 1e12, (B, M))}
    if name.startswith("bnsl"):
        return {"x": np.sort(_lu(rng, 1, 1e4, (B, M)), axis=1)}
    if name == "lr_annealing":
        s1 = np.sort(_lu(rng, 10, 1e4, (B, M)), axis=1)
        return {"S1": s1, "S2": _u(rng, 0, 500, (B, M))}
    if name == "overtraining":
        N = _lu(rng, 1e7, 1e10, (B, M))
        Mm = _lu(rng, 5, 500, (B, M))
        return {"C": 6 * N * N * Mm, "M": Mm}
    if name == "downstream_log":
        return {"D": _lu(rng, 1e6, 1e10, (B, M))}
    if name == "sigmoid":
        return {"x": _u(rng, 1.5, 4, (B, M))}
    if name == "exponential":
        return {"x": _u(rng, 0, 5, (B, M))}
    if name == "gauss1d":
        return {"x": np.tile(np.arange(20.0), (B, 1)) if M == 20 else _u(rng, 0, 20, (B, M))}
    raise KeyError(name)


def problems(name: str, rng, B: int, M: int, noise: Tuple[float, float] = (0.0, 0.1), spread: float = 0.2):
    """B random problems: inputs, noisy y (multiplicative noise with a level
    drawn per problem), the truth and a start (truth perturbed by +-spread)."""
    f = NUMPY[name][0]
    p = truth(name, rng, B)
    x = inputs(name, rng, B, M)
    clean = np.stack([f({k: v[b] for k, v in x.items()}, p[b]) for b in range(B)])
    level = rng.uniform(noise[0], noise[1], (B, 1))
    y = clean * (1 + level * rng.standard_normal((B, M)))
    p0 = p * rng.uniform(1 - spread, 1 + spread, p.shape)
    return x, y, p, p0
