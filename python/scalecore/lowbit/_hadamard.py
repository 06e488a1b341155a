"""Randomized fast Walsh-Hadamard transform (RHT) over power-of-two blocks."""
from __future__ import annotations

import numpy as np

from .. import _core


def hadamard(x, *, block: int, seed: int | None = None, inverse: bool = False) -> np.ndarray:
    """Orthonormal randomized Walsh-Hadamard transform along the last axis, per block.

    For every block of ``block`` consecutive elements of the last axis::

        forward:  y = H_n diag(s) x / sqrt(n)        inverse:  x = diag(s) H_n y / sqrt(n)

    with ``H_n`` the Sylvester Hadamard matrix (``scipy.linalg.hadamard(n)``)
    and ``s`` a vector of +-1 signs drawn from ``seed`` (Philox4x32-10, stream
    1; the same signs for every block; no signs when ``seed`` is None).  The
    transform is orthogonal, so it preserves dot products along the axis
    (apply it to both GEMM operands along K) and ``inverse=True`` undoes it.
    O(n log n) per block, computed in float32 with butterflies in a fixed
    order (bit-identical at every SIMD level and thread count).

    Parameters
    ----------
    x : array_like of float
        Converted to float32; the last axis must be a multiple of ``block``.
    block : int
        A power of two, 16 <= block <= 4096.
    seed : int, optional
        Random signs' seed (0 <= seed < 2**64).
    inverse : bool
        Apply the inverse transform.

    Returns
    -------
    numpy.ndarray of float32, shape of ``x``
        NaN or Inf in a block propagate to the whole block (every output is
        a sum over the block).
    """
    if isinstance(block, (bool, np.bool_)) or not isinstance(block, (int, np.integer)):
        raise TypeError(f"block: expected an int, got {type(block).__name__}")
    n = int(block)
    if n < 16 or n > 4096 or n & (n - 1):
        raise ValueError(f"block: expected a power of two in [16, 4096], got {n}")
    a = np.asarray(x)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"x: expected a real floating-point array, got dtype {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if a.ndim == 0 or a.shape[-1] % n:
        raise ValueError(f"x: the last axis ({a.shape[-1] if a.ndim else 0}) must be a multiple of block={n}")
    if seed is not None:
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**64:
            raise ValueError(f"seed: expected an int in [0, 2**64) or None, got {seed!r}")
        seed = int(seed)
    return _core.lowbit_hadamard(a, n, seed, bool(inverse))


def hadamard_signs(block: int, seed: int) -> np.ndarray:
    """The +-1 float32 signs ``s`` that :func:`hadamard` uses for ``seed``."""
    return _core.lowbit_hadamard_signs(int(block), int(seed))
