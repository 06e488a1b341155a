"""Equivariant tensor products (e3nn-compatible): irreps, the real
Clebsch-Gordan basis (``wigner_3j``, ``wigner_D``), spherical harmonics of
vectors with their derivatives, and the Gaunt product on an S^2 grid; torch
modules in :mod:`scalecore.tp.torch` (imported on request, never by
``scalecore.tp``).

Conventions are e3nn 0.6's throughout (irreps strings and ordering, the
``[mul, 2l+1]`` feature layout, the real basis with y as the polar axis,
unit-Frobenius ``wigner_3j``); the tests compare against e3nn itself.
"""
from ._gaunt import GAUNT_MAX_L, gaunt_cg_ratio, gaunt_coefficients, gaunt_grid, gaunt_tensor_product
from ._irreps import Irrep, Irreps, MulIr
from ._product import Instruction, TensorProductPlan
from ._sh import NORMALIZATIONS, SH_MAX_L, spherical_harmonics, spherical_harmonics_derivatives
from ._wigner import WIGNER_3J_MAX_L, so3_generators, wigner_3j, wigner_D

__all__ = [
    "Irrep",
    "Irreps",
    "MulIr",
    "wigner_3j",
    "wigner_D",
    "so3_generators",
    "WIGNER_3J_MAX_L",
    "spherical_harmonics",
    "spherical_harmonics_derivatives",
    "SH_MAX_L",
    "NORMALIZATIONS",
    "gaunt_coefficients",
    "gaunt_cg_ratio",
    "gaunt_grid",
    "gaunt_tensor_product",
    "GAUNT_MAX_L",
    "Instruction",
    "TensorProductPlan",
]
