r"""The Gaunt tensor product on an S^2 grid (Price of Freedom, Xie et al.,
arXiv 2506.13523), array level.  Torch module: :class:`scalecore.tp.torch.GauntTensorProduct`.

Rows of coefficients in e3nn's real basis (orthonormal, "integral" SH), all
degrees 0..L in order, m = -l..l: ``f = sum x1_lm Y_lm``, ``g = sum x2_lm Y_lm``,

.. math:: \mathrm{out}_{lm} = w_l \int_{S^2} f\,g\,Y_{lm}
          = w_l \sum G^{l_1 l_2 l}_{m_1 m_2 m}\, x1_{l_1 m_1} x2_{l_2 m_2},

evaluated exactly on a Gauss-Legendre (in cos beta, y the polar axis) x
uniform (alpha) grid of ``floor(D/2)+1`` x ``D+1`` points, ``D = L1 + L2 + Lout``.

Relation to Clebsch-Gordan (tests/test_tp_gaunt.py checks it against e3nn):
for a parity-even path (``l1 + l2 + l3`` even, triangle rule),
``G[l1, l2, l3] = r(l1, l2, l3) * wigner_3j(l1, l2, l3)`` with

.. math:: r = \sqrt{\frac{(2l_1+1)(2l_2+1)(2l_3+1)}{4\pi}}\,
          \left|\begin{pmatrix} l_1 & l_2 & l_3\\ 0&0&0\end{pmatrix}\right| > 0

(:func:`gaunt_cg_ratio`; positive for every parity-even path in e3nn's sign
convention of ``wigner_3j``, and equal to the Frobenius norm of ``G`` since
``wigner_3j`` has unit norm), and ``G = 0`` for parity-odd paths.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import numpy as np

from .. import _core

__all__ = ["gaunt_coefficients", "gaunt_cg_ratio", "gaunt_grid", "gaunt_tensor_product", "GAUNT_MAX_L"]

#: Largest degree of any operand (inclusive).
GAUNT_MAX_L: int = int(_core.tp_gaunt_max_l)


def gaunt_coefficients(l1: int, l2: int, l3: int) -> np.ndarray:
    r"""Gaunt coefficients :math:`G_{m_1 m_2 m_3} = \int_{S^2} Y_{l_1 m_1} Y_{l_2 m_2} Y_{l_3 m_3}`
    of the orthonormal real harmonics in e3nn's basis, by exact product
    quadrature (independent of the Clebsch-Gordan table).

    Returns
    -------
    numpy.ndarray
        float64, shape ``(2l1+1, 2l2+1, 2l3+1)``; zeros for parity-odd or
        triangle-violating triples.
    """
    for name, l in (("l1", l1), ("l2", l2), ("l3", l3)):
        if isinstance(l, bool) or not isinstance(l, (int, np.integer)):
            raise TypeError(f"{name}: expected an int, got {l!r}")
    return _core.tp_gaunt_coefficients(int(l1), int(l2), int(l3))


def _three_j_000(l1: int, l2: int, l3: int) -> float:
    """(l1 l2 l3; 0 0 0) by its closed form (zero unless J = l1+l2+l3 is even)."""
    J = l1 + l2 + l3
    if J % 2 or l3 < abs(l1 - l2) or l3 > l1 + l2:
        return 0.0
    g = J // 2
    f = math.factorial
    v = math.sqrt(f(J - 2 * l1) * f(J - 2 * l2) * f(J - 2 * l3) / f(J + 1)) * (
        f(g) / (f(g - l1) * f(g - l2) * f(g - l3))
    )
    return (-1) ** g * v


def gaunt_cg_ratio(l1: int, l2: int, l3: int) -> float:
    r"""The per-path factor ``r`` with ``gaunt_coefficients = r * wigner_3j``.

    .. math:: r = \sqrt{\frac{(2l_1+1)(2l_2+1)(2l_3+1)}{4\pi}}
              \left|\begin{pmatrix} l_1 & l_2 & l_3\\ 0&0&0\end{pmatrix}\right|

    for a parity-even path (``l1 + l2 + l3`` even, triangle rule), 0 otherwise.
    The Wigner 3j symbol with zero projections is evaluated by its closed form;
    the sign is + for every path in e3nn's ``wigner_3j`` convention (checked for
    all paths up to l = 7 in tests/test_tp_gaunt.py).
    """
    t = _three_j_000(l1, l2, l3)
    if t == 0.0:
        return 0.0
    return math.sqrt((2 * l1 + 1) * (2 * l2 + 1) * (2 * l3 + 1) / (4 * math.pi)) * abs(t)


def gaunt_grid(l1max: int, l2max: int, lmax_out: int, n_beta: int = 0, n_alpha: int = 0) -> Tuple[int, int]:
    """The grid ``(n_beta, n_alpha)`` used for these degrees (0 = the exact minimum)."""
    return tuple(_core.tp_gaunt_grid(l1max, l2max, lmax_out, n_beta, n_alpha))


def gaunt_tensor_product(
    x1: Any, x2: Any, weight: Any, l1max: int, l2max: int, lmax_out: int, n_beta: int = 0, n_alpha: int = 0
) -> np.ndarray:
    """Rows ``x1 (n, (l1max+1)^2)``, ``x2 (n, (l2max+1)^2)``, per-degree ``weight (lmax_out+1,)``
    -> ``out (n, (lmax_out+1)^2)`` (see the module docstring); float32 or float64."""
    a = np.asarray(x1)
    dt = np.float32 if a.dtype == np.float32 else np.float64
    x1 = np.ascontiguousarray(x1, dtype=dt)
    x2 = np.ascontiguousarray(x2, dtype=dt)
    w = np.ascontiguousarray(weight, dtype=dt)
    return _core.tp_gaunt_forward(x1, x2, w, l1max, l2max, lmax_out, n_beta, n_alpha)
