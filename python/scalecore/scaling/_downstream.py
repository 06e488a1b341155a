"""Downstream laws: accuracy against loss, and a BLEU-style log law against data.

* ``sigmoid``: acc = a / (1 + exp(-k (L - L0))) + b, accuracy as a function of
  the validation loss (k < 0: accuracy rises as loss falls).  Gadre et al.
  2024 (eq. 5) use the related exponential form; the logistic adds the
  saturation towards the chance level and towards a ceiling.
* ``downstream_log``: score = (log(A D^alpha))^beta, the law Isik et al. 2024
  (eq. 1) fit to BLEU against pretraining data D.

:func:`overtraining_example` applies both to the over-training runs shipped
with scalecore.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Union

import numpy as np

from ._table import fit_table

__all__ = ["fit_accuracy_vs_loss", "fit_score_vs_data", "overtraining_example"]


def fit_accuracy_vs_loss(df, loss: str = "loss", acc: str = "acc_mean", by=None, **kwargs):
    """Fit the logistic law acc(L) (one per ``by`` group, one batch).

    Returns the :func:`fit_table` result; parameters a, k, x0, b.
    """
    return fit_table(df, "sigmoid", x=loss, y=acc, by=by, **kwargs)


def fit_score_vs_data(df, D: str = "tokens", score: str = "acc_mean", by=None, **kwargs):
    """Fit ``downstream_log``: score = (log(A D^alpha))^beta per ``by`` group."""
    return fit_table(df, "downstream_log", x=D, y=score, by=by, **kwargs)


def overtraining_example(df=None) -> Dict[str, Any]:
    """The worked example on the shipped over-training runs (Gadre et al. 2024).

    Returns a dict with

    * ``"accuracy_vs_loss"``: the logistic fit of mean accuracy (46 tasks)
      against C4 loss over all 104 runs, and one per pretraining set;
    * ``"score_vs_data"``: ``downstream_log`` of mean accuracy against
      training tokens, one fit per model size (the sizes with >= 4 runs);
    * ``"data"``: the table used.
    """
    from .datasets import load_example

    df = load_example("overtraining") if df is None else df
    pooled = fit_accuracy_vs_loss(df, loss="loss", acc="acc_mean")
    per_set = fit_accuracy_vs_loss(df, loss="loss", acc="acc_mean", by="dataset", errors="ignore")
    counts = df.groupby("params").size()
    sizes = counts[counts >= 4].index
    sub = df[df["params"].isin(sizes)]
    score = fit_score_vs_data(sub, D="tokens", score="acc_mean", by="params", errors="ignore")
    return {"accuracy_vs_loss": pooled, "accuracy_vs_loss_by_dataset": per_set, "score_vs_data": score, "data": df}
