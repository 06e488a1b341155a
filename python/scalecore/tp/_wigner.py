"""Real Clebsch-Gordan coefficients (``wigner_3j``) and Wigner-D matrices in
e3nn's real basis (e3nn 0.6 ``o3/_wigner.py`` conventions).

``wigner_3j`` comes from the C++ table (``cpp/src/tp/wigner.cc``): SU(2)
coefficients by Racah's formula in binary128, rotated to the real basis and
scaled to unit Frobenius norm, cached per triple and safe from threads.
``wigner_D`` is built here in numpy for tests and equivariance checks.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core

__all__ = ["wigner_3j", "wigner_D", "so3_generators", "WIGNER_3J_MAX_L"]

#: Largest degree ``wigner_3j`` accepts (inclusive).
WIGNER_3J_MAX_L: int = int(_core.tp_wigner_3j_max_l)


def _check_l(l: Any, name: str, lmax: int) -> int:
    if isinstance(l, bool) or not isinstance(l, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(l).__name__} {l!r}")
    l = int(l)
    if l < 0 or l > lmax:
        raise ValueError(f"{name}: expected an integer degree in [0, {lmax}], got {l}")
    return l


def wigner_3j(l1: int, l2: int, l3: int, dtype: Any = np.float64) -> np.ndarray:
    r"""Real Clebsch-Gordan coefficients :math:`C_{ijk}` coupling ``l1 (x) l2 -> l3``.

    Equal to ``e3nn.o3.wigner_3j`` (same real basis, component order m = -l..l,
    sign and unit Frobenius norm :math:`\sum_{ijk} C_{ijk}^2 = 1`), with the
    equivariance :math:`C_{lmn} = C_{ijk} D^{l_1}_{il} D^{l_2}_{jm} D^{l_3}_{kn}`.

    Parameters
    ----------
    l1, l2, l3 : int
        Degrees, each in ``[0, WIGNER_3J_MAX_L]`` (24), obeying the triangle rule
        ``|l1 - l2| <= l3 <= l1 + l2``.
    dtype : numpy dtype, default float64
        float64 or float32 (rounded from the float64 table).

    Returns
    -------
    numpy.ndarray
        A new array of shape ``(2*l1 + 1, 2*l2 + 1, 2*l3 + 1)``.

    Raises
    ------
    ValueError
        A degree out of range or a triple that violates the triangle rule.
    """
    l1 = _check_l(l1, "l1", WIGNER_3J_MAX_L)
    l2 = _check_l(l2, "l2", WIGNER_3J_MAX_L)
    l3 = _check_l(l3, "l3", WIGNER_3J_MAX_L)
    d = np.dtype(dtype)
    if d not in (np.float32, np.float64):
        raise TypeError(f"dtype: expected float32 or float64, got {d}")
    c = _core.tp_wigner_3j(l1, l2, l3)
    return c if d == np.float64 else c.astype(d)


def _su2_generators(l: int) -> np.ndarray:
    """Angular-momentum generators of degree l in the complex basis m = -l..l,
    stacked (3, 2l+1, 2l+1) in e3nn's order and signs: ``(J+ + J-)/2`` with the
    raising operator's sign flipped, ``i m`` on the diagonal, and ``-(J+ - J-) i/2``."""
    m = np.arange(-l, l + 1, dtype=np.float64)
    n = 2 * l + 1
    up = np.zeros((n, n), dtype=np.complex128)  # raising: up[k+1, k] = -sqrt(l(l+1) - m(m+1))
    lo = np.zeros((n, n), dtype=np.complex128)  # lowering: lo[k-1, k] = sqrt(l(l+1) - m(m-1))
    for k in range(n - 1):
        up[k + 1, k] = -np.sqrt(l * (l + 1) - m[k] * (m[k] + 1))
        lo[k, k + 1] = np.sqrt(l * (l + 1) - m[k + 1] * (m[k + 1] - 1))
    return np.stack([0.5 * (up + lo), np.diag(1j * m), -0.5j * (up - lo)])


def _real_to_complex(l: int) -> np.ndarray:
    """Q_l: rows complex m, columns real m (see cpp/include/scalecore/tp/wigner.h)."""
    n = 2 * l + 1
    q = np.zeros((n, n), dtype=np.complex128)
    h = 1 / np.sqrt(2.0)
    q[l, l] = 1.0
    for a in range(1, l + 1):
        s = (-1.0) ** a
        q[l - a, l + a] = h
        q[l - a, l - a] = -1j * h
        q[l + a, l + a] = s * h
        q[l + a, l - a] = 1j * s * h
    return (-1j) ** l * q


def so3_generators(l: int) -> np.ndarray:
    """Real generators of SO(3) in degree l, shape (3, 2l+1, 2l+1): ``Q^H J Q``
    (index 1 generates rotations about e3nn's y axis, index 0 about x)."""
    l = _check_l(l, "l", 64)
    q = _real_to_complex(l)
    x = np.conj(q.T)[None] @ _su2_generators(l) @ q[None]
    return np.ascontiguousarray(x.real)


def _expm_antisym(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """exp(t X) for a real antisymmetric X and an array of t: (t.shape, n, n).
    i X is Hermitian, so exp(tX) = V exp(-i t w) V^H with (w, V) = eigh(iX)."""
    w, v = np.linalg.eigh(1j * x)
    ph = np.exp(-1j * t[..., None] * w)  # (..., n)
    out = (v * ph[..., None, :]) @ np.conj(v.T)
    return out.real


def wigner_D(l: int, alpha: Any, beta: Any, gamma: Any) -> np.ndarray:
    r"""Wigner-D matrix of degree ``l`` in e3nn's real basis.

    :math:`D^l(\alpha, \beta, \gamma) = e^{\alpha X_y} e^{\beta X_x} e^{\gamma X_y}`:
    rotation by :math:`\gamma` about y first, then :math:`\beta` about x, then
    :math:`\alpha` about y (e3nn's ``o3.wigner_D``).  For ``1o`` it is the 3x3
    rotation matrix acting on (x, y, z).

    Parameters
    ----------
    l : int
        Degree, ``l >= 0``.
    alpha, beta, gamma : float or array_like
        Angles in radians, broadcast together.

    Returns
    -------
    numpy.ndarray
        float64, shape ``broadcast_shape + (2l+1, 2l+1)``.
    """
    l = _check_l(l, "l", 64)
    a, b, g = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (alpha, beta, gamma)))
    x = so3_generators(l)
    return _expm_antisym(x[1], a) @ _expm_antisym(x[0], b) @ _expm_antisym(x[1], g)
