"""torch modules of the tensor-product family (loads torch; import explicitly).

Modules mirror e3nn's constructors, attributes and ``forward``; their ops are
``torch.library`` custom ops with autograd and fake kernels.
"""
from ._gaunt import GauntTensorProduct
from ._sh import SphericalHarmonics, spherical_harmonics

__all__ = ["SphericalHarmonics", "spherical_harmonics", "GauntTensorProduct"]
