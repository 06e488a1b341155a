"""Downstream laws: accuracy against loss, and a BLEU-style log law against data.

* ``exponential``: acc = C + A exp(-k L), i.e. Gadre et al. 2024's (eq. 5)
  top-1 error Err = eps - k exp(-gamma L) written as accuracy.
* ``sigmoid``: acc = a / (1 + exp(-k (L - x0))) + b, the logistic form (k < 0:
  accuracy rises as loss falls), which adds a ceiling.  Runs that stay far
  below the ceiling do not identify it: bound ``a`` (the worked example keeps
  a, b in [0, 1]).
* ``downstream_log``: score = (log(A D^alpha))^beta, the law Isik et al. 2024
  (eq. 1) fit to BLEU against pretraining data D.

:func:`overtraining_example` applies them to the over-training runs shipped
with scalecore.
"""
from __future__ import annotations

from typing import Any, Dict

from ._table import fit_table

__all__ = ["fit_accuracy_vs_loss", "fit_score_vs_data", "overtraining_example"]


def fit_accuracy_vs_loss(df, loss: str = "loss", acc: str = "acc_mean", by=None, law: str = "exponential", **kwargs):
    """Fit accuracy against loss (one fit per ``by`` group, one batch).

    ``law`` is ``"exponential"`` (C + A exp(-k L); Gadre et al.) or
    ``"sigmoid"`` (a / (1 + exp(-k (L - x0))) + b); returns the
    :func:`fit_table` result.
    """
    if law not in ("exponential", "sigmoid"):
        raise ValueError(f"law: expected 'exponential' or 'sigmoid', got {law!r}")
    return fit_table(df, law, x=loss, y=acc, by=by, **kwargs)


def fit_score_vs_data(df, D: str = "tokens", score: str = "acc_arc_easy", by=None, **kwargs):
    """Fit ``downstream_log``: score = (log(A D^alpha))^beta per ``by`` group."""
    return fit_table(df, "downstream_log", x=D, y=score, by=by, **kwargs)


def overtraining_example(df=None, min_runs: int = 5) -> Dict[str, Any]:
    """The worked example on the shipped over-training runs (Gadre et al. 2024).

    Returns a dict of :func:`fit_table` results:

    * ``"exponential"``: mean accuracy over the 46 tasks against C4 loss,
      all 104 runs pooled (Gadre et al.'s form);
    * ``"exponential_by_dataset"``: the same per pretraining set (one batch);
    * ``"sigmoid"``: the logistic form, pooled, with a and b bounded to [0, 1];
    * ``"score_vs_data"``: ``downstream_log`` of ARC-Easy accuracy against
      training tokens, one fit per model size with at least ``min_runs`` runs;
    * ``"data"``: the table.
    """
    from .datasets import load_example

    df = load_example("overtraining") if df is None else df
    expo = fit_accuracy_vs_loss(df, law="exponential")
    expo_by = fit_accuracy_vs_loss(df, law="exponential", by="dataset")
    sig = fit_accuracy_vs_loss(df, law="sigmoid", bounds={"a": (0.0, 1.0), "b": (0.0, 1.0)})
    counts = df.groupby("params").size()
    sub = df[df["params"].isin(counts[counts >= min_runs].index)]
    score = fit_score_vs_data(sub, D="tokens", score="acc_arc_easy", by="params", bounds="default")
    return {"exponential": expo, "exponential_by_dataset": expo_by, "sigmoid": sig, "score_vs_data": score,
            "data": df}
