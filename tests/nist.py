"""Reader of the NIST StRD nonlinear regression files in tests/data/nist_strd,
and the 27 models as scalecore expressions (parameters b1..bk)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import numpy as np

DATA = Path(__file__).parent / "data" / "nist_strd"
PI = "3.14159265358979323846"

# Model of each problem, y = f(x; b).  Nelson's response is log(y).
MODELS: Dict[str, str] = {
    "Misra1a": "b1*(1-exp(-b2*x))",
    "Chwirut2": "exp(-b1*x)/(b2+b3*x)",
    "Chwirut1": "exp(-b1*x)/(b2+b3*x)",
    "Lanczos3": "b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)",
    "Gauss1": "b1*exp(-b2*x) + b3*exp(-(x-b4)**2/b5**2) + b6*exp(-(x-b7)**2/b8**2)",
    "Gauss2": "b1*exp(-b2*x) + b3*exp(-(x-b4)**2/b5**2) + b6*exp(-(x-b7)**2/b8**2)",
    "DanWood": "b1*x**b2",
    "Misra1b": "b1 * (1-(1+b2*x/2)**(-2))",
    "Kirby2": "(b1 + b2*x + b3*x**2) / (1 + b4*x + b5*x**2)",
    "Hahn1": "(b1+b2*x+b3*x**2+b4*x**3) / (1+b5*x+b6*x**2+b7*x**3)",
    "Nelson": "b1 - b2*x1 * exp(-b3*x2)",
    "MGH17": "b1 + b2*exp(-x*b4) + b3*exp(-x*b5)",
    "Lanczos1": "b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)",
    "Lanczos2": "b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)",
    "Gauss3": "b1*exp(-b2*x) + b3*exp(-(x-b4)**2/b5**2) + b6*exp(-(x-b7)**2/b8**2)",
    "Misra1c": "b1 * (1-(1+2*b2*x)**(-.5))",
    "Misra1d": "b1*b2*x*((1+b2*x)**(-1))",
    "Roszman1": f"b1 - b2*x - atan(b3/(x-b4))/{PI}",
    "ENSO": (f"b1 + b2*cos(2*{PI}*x/12) + b3*sin(2*{PI}*x/12) + b5*cos(2*{PI}*x/b4) + b6*sin(2*{PI}*x/b4)"
             f" + b8*cos(2*{PI}*x/b7) + b9*sin(2*{PI}*x/b7)"),
    "MGH09": "b1*(x**2+x*b2) / (x**2+x*b3+b4)",
    "Thurber": "(b1 + b2*x + b3*x**2 + b4*x**3) / (1 + b5*x + b6*x**2 + b7*x**3)",
    "BoxBOD": "b1*(1-exp(-b2*x))",
    "Rat42": "b1 / (1+exp(b2-b3*x))",
    "MGH10": "b1 * exp(b2/(x+b3))",
    "Eckerle4": "(b1/b2) * exp(-0.5*((x-b3)/b2)**2)",
    "Rat43": "b1 / ((1+exp(b2-b3*x))**(1/b4))",
    "Bennett5": "b1 * (b2+x)**(-1/b3)",
}


@dataclass
class Problem:
    name: str
    model: str
    inputs: List[str]
    params: List[str]
    x: Dict[str, np.ndarray]
    y: np.ndarray
    start1: np.ndarray
    start2: np.ndarray
    certified: np.ndarray
    certified_sd: np.ndarray
    certified_rss: float
    difficulty: str


def load(name: str) -> Problem:
    lines = (DATA / f"{name}.dat").read_text().splitlines()
    params, s1, s2, cert, sd = [], [], [], [], []
    rss = None
    difficulty = ""
    data_start = None
    for i, line in enumerate(lines):
        m = re.match(r"\s*(b\d+)\s*=\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", line)
        if m:
            params.append(m.group(1))
            s1.append(float(m.group(2)))
            s2.append(float(m.group(3)))
            cert.append(float(m.group(4)))
            sd.append(float(m.group(5)))
        if line.strip().startswith("Residual Sum of Squares"):
            rss = float(line.split(":")[1])
        if "Level of Difficulty" in line:
            difficulty = line.strip().split()[0].lower()
        if line.startswith("Data:") and ("y" in line.split(":", 1)[1].split()):
            data_start = i + 1
    table = np.array([[float(v) for v in ln.split()] for ln in lines[data_start:] if ln.strip()])
    y = table[:, 0]
    if table.shape[1] == 2:
        inputs = ["x"]
        x = {"x": table[:, 1]}
    else:
        inputs = ["x1", "x2"]
        x = {"x1": table[:, 1], "x2": table[:, 2]}
    if name == "Nelson":
        y = np.log(y)
    return Problem(name, MODELS[name], inputs, params, x, y, np.array(s1), np.array(s2), np.array(cert),
                   np.array(sd), rss, difficulty)


def lre(value: np.ndarray, certified: np.ndarray, cap: float = 11.0) -> np.ndarray:
    """Log relative error, -log10(|x - c| / |c|), capped."""
    value = np.asarray(value, float)
    err = np.abs(value - certified) / np.abs(certified)
    with np.errstate(divide="ignore"):
        out = -np.log10(err)
    out = np.where(np.isfinite(value), out, 0.0)
    return np.clip(out, 0.0, cap)


NAMES = list(MODELS)
