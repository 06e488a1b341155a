"""Example tables shipped with scalecore (see ``data/PROVENANCE.md``)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

__all__ = ["load_example", "EXAMPLES", "data_path"]

_DIR = Path(__file__).resolve().parent / "data"

#: name -> (file, description).  "chinchilla" is the Chinchilla law fitted the
#: Approach 3 way to the over-training runs: the replication's 245 Chinchilla
#: points are not shipped (see PROVENANCE.md).
EXAMPLES: Dict[str, tuple] = {
    "overtraining": ("overtraining.csv", "104 open_lm runs, 10.6M-6.9B params, 3 datasets "
                                         "(Gadre et al. 2024, mlfoundations/scaling, MIT)"),
    "chinchilla": ("overtraining.csv", "the Chinchilla law (Approach 3 objective) on the over-training runs"),
}


def data_path(name: str) -> Path:
    """The path of a shipped example table."""
    if name not in EXAMPLES:
        raise ValueError(f"example: unknown example {name!r}; the package ships {sorted(EXAMPLES)}")
    return _DIR / EXAMPLES[name][0]


def load_example(name: str = "overtraining"):
    """A shipped example table as a pandas DataFrame."""
    import pandas as pd

    return pd.read_csv(data_path(name))
