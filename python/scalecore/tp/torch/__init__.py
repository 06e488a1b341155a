"""torch modules of the tensor-product family (loads torch; import explicitly).

Modules mirror e3nn's constructors, attributes and ``forward``; their ops are
``torch.library`` custom ops with autograd and fake kernels.
"""
from ._conv import Convolution
from ._gaunt import GauntTensorProduct
from ._product import (
    ChannelwiseTensorProduct,
    ElementwiseTensorProduct,
    FullTensorProduct,
    FullyConnectedTensorProduct,
    TensorProduct,
    tp_out_irreps_with_instructions,
)
from ._sh import SphericalHarmonics, spherical_harmonics

__all__ = [
    "SphericalHarmonics",
    "spherical_harmonics",
    "GauntTensorProduct",
    "TensorProduct",
    "FullyConnectedTensorProduct",
    "FullTensorProduct",
    "ElementwiseTensorProduct",
    "ChannelwiseTensorProduct",
    "tp_out_irreps_with_instructions",
    "Convolution",
]
