"""Data-mixture selection by optimal transport: predict how a model trained on
a mixture of sources will perform at a larger size, and pick the mixture
(projektor, Kang et al. NeurIPS 2023).  See :class:`MixturePredictor` and the
worked example :func:`scalecore.datasel.digits.run_example`."""
from ._predictor import MixturePredictor, SelectionResult, project_simplex, simplex_grid

__all__ = ["MixturePredictor", "SelectionResult", "simplex_grid", "project_simplex"]
