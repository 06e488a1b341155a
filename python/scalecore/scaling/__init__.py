"""Scaling-law studies on the batched engine.

* :func:`fit_table`: one law per group of a long-form table, one batched call.
* :func:`approach3`, :func:`approach2`: Chinchilla's Approaches 3 and 2.
* :func:`bootstrap`: seeded percentile intervals, every resample in one batch.
* :func:`compute_optimal`, :func:`loss_frontier`: allocation under C = k N D.
* :func:`extrapolate_by_size`, :func:`checkpoints_vs_final`,
  :func:`borrowed_exponents`: the Hitchhiker's guide's extrapolation checks.
* :func:`lr_areas`, :func:`fit_lr_annealing`, :func:`predict_loss_curve`:
  loss curves under LR annealing (Tissue et al. 2024).
* :func:`fit_accuracy_vs_loss`, :func:`fit_score_vs_data`: downstream laws.
* :mod:`scalecore.scaling.plots`: figures; :mod:`scalecore.scaling.datasets`:
  shipped example data.
"""
from ._allocation import chinchilla_params, compute_optimal, loss_frontier, optimal_exponents
from ._bootstrap import BootstrapResult, bootstrap, derived_quantities, distinct_basins
from ._chinchilla import Approach2Result, Approach3Result, approach2, approach3, isoflop_groups
from ._common import ScalingDataError, ScalingDataWarning, t_quantile
from ._downstream import fit_accuracy_vs_loss, fit_score_vs_data, overtraining_example
from ._extrapolation import (ExtrapolationResult, borrowed_exponents, checkpoints_vs_final, extrapolate_by_size,
                             final_rows)
from ._lr import LRAnnealingFit, fit_lr_annealing, lr_areas, lr_schedule, predict_loss_curve
from ._table import TableBackend, chinchilla_grid, fit_table
from .datasets import load_example

__all__ = [
    "fit_table", "TableBackend", "chinchilla_grid", "approach3", "Approach3Result", "approach2", "Approach2Result",
    "isoflop_groups", "bootstrap", "BootstrapResult", "derived_quantities", "distinct_basins",
    "compute_optimal", "loss_frontier", "optimal_exponents", "chinchilla_params",
    "extrapolate_by_size", "checkpoints_vs_final", "borrowed_exponents", "ExtrapolationResult", "final_rows",
    "lr_schedule", "lr_areas", "fit_lr_annealing", "predict_loss_curve", "LRAnnealingFit",
    "fit_accuracy_vs_loss", "fit_score_vs_data", "overtraining_example", "load_example",
    "ScalingDataError", "ScalingDataWarning", "t_quantile",
]
