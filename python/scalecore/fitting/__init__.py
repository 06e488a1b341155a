"""Batched Levenberg-Marquardt fitting of scaling laws (the engine)."""
from ._expr import FUNCTIONS, ExpressionError
from ._fit import LOSSES, RESIDUALS, STATUS_NAMES, FitResult, fit
from ._law import Law, LawCatalog, laws

__all__ = ["fit", "FitResult", "Law", "LawCatalog", "laws", "ExpressionError", "FUNCTIONS",
           "LOSSES", "RESIDUALS", "STATUS_NAMES"]
