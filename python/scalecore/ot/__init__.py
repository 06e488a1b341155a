"""Optimal transport: exact (network simplex, assignment, 1-D, sliced) and
entropic (log-domain stabilised Sinkhorn, unbalanced, debiased divergence),
dense, tiled and batched; the label-aware dataset distance OTDD; torch
autograd wrappers in :mod:`scalecore.ot.torch`.

Conventions follow POT: ``eps`` is POT's ``reg`` (minimise
``<P, M> + eps * sum P log P``), ``cost`` is what ``emd2``/``sinkhorn2``
return.  Results are dataclasses; leading batch dimensions broadcast."""
from ._common import METRICS, STATUS_NAMES, ConvergenceWarning, PlanBatch, SparsePlan
from ._cost import cost_matrix
from ._otdd import OtddResult, class_distances, otdd
from ._emd import Emd1dResult, EmdResult, SlicedResult, emd, emd_1d, sliced_wasserstein
from ._sinkhorn import DivergenceResult, SinkhornResult, sinkhorn, sinkhorn_divergence, unbalanced_sinkhorn

__all__ = [
    "cost_matrix",
    "emd",
    "EmdResult",
    "emd_1d",
    "Emd1dResult",
    "sliced_wasserstein",
    "SlicedResult",
    "sinkhorn",
    "unbalanced_sinkhorn",
    "SinkhornResult",
    "sinkhorn_divergence",
    "DivergenceResult",
    "otdd",
    "OtddResult",
    "class_distances",
    "SparsePlan",
    "PlanBatch",
    "ConvergenceWarning",
    "STATUS_NAMES",
    "METRICS",
]
