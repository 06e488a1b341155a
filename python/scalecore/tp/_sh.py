"""Real spherical harmonics of vectors in e3nn's basis and order (e3nn 0.6
``o3.spherical_harmonics``), computed by the C++ kernels in
``cpp/src/tp/sh*.cc`` (per-point math in ``cpp/include/scalecore/tp/sh.h``).
"""
from __future__ import annotations

import sys
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core
from .._array import to_numpy
from ._irreps import Irreps

__all__ = ["spherical_harmonics", "spherical_harmonics_derivatives", "SH_MAX_L", "NORMALIZATIONS"]

#: Largest degree the kernels accept (inclusive); e3nn's own limit is 11/12.
SH_MAX_L: int = int(_core.tp_sh_max_l)
#: Output normalisations, e3nn's names, and their kernel codes.
NORMALIZATIONS = {"integral": 0, "component": 1, "norm": 2}

LsLike = Union[int, Sequence[int], str, Irreps]


def parse_ls(ls: LsLike, irreps_in: Any = None) -> Tuple[List[int], Irreps, Irreps]:
    """e3nn's reading of the degrees argument: ``(ls, irreps_out, irreps_in)``.

    ``ls`` is an int, a sequence of ints, or irreps (text or :class:`Irreps`);
    irreps expand ``mul x l`` into ``mul`` copies of ``l``, and their parities
    must be ``p_in**l`` where ``p_in`` is the input's parity (``1o``, or ``1e`` when
    an odd l is asked with even parity, as e3nn infers).
    """
    if isinstance(ls, str):
        ls = Irreps(ls)
    elif (
        not isinstance(ls, (int, np.integer, Irreps))
        and hasattr(ls, "__iter__")
        and not all(isinstance(l, (int, np.integer)) for l in ls)
    ):
        ls = Irreps(ls)  # e.g. an e3nn Irreps: (mul, (l, p)) pairs
    if isinstance(ls, Irreps) and irreps_in is None:
        for _, ir in ls:
            if ir.l % 2 == 1 and ir.p == 1:
                irreps_in = Irreps("1e")
    irreps_in = Irreps("1o") if irreps_in is None else Irreps(irreps_in)
    if irreps_in not in (Irreps("1x1o"), Irreps("1x1e")):
        raise ValueError(f"irreps_in: expected a vector (1x1o) or a pseudovector (1x1e), got {irreps_in}")
    p_in = irreps_in[0].ir.p
    if isinstance(ls, Irreps):
        out: List[int] = []
        for mul, ir in ls:
            if ir.p != p_in**ir.l:
                raise ValueError(
                    f"ls: irreps {ls} ask for l = {ir.l} with parity {ir.p}, inconsistent with the input parity "
                    f"{p_in}: the parity of degree {ir.l} must be {p_in ** ir.l}"
                )
            out.extend([ir.l] * mul)
    elif isinstance(ls, (int, np.integer)) and not isinstance(ls, bool):
        out = [int(ls)]
    else:
        try:
            out = [int(l) for l in ls]
        except TypeError:
            raise TypeError(f"ls: expected an int, a list of ints or irreps, got {ls!r}") from None
        if any(isinstance(l, bool) or int(l) != l for l in ls):
            raise TypeError(f"ls: expected integer degrees, got {ls!r}")
    if not out:
        raise ValueError("ls: expected at least one degree")
    for l in out:
        if l < 0 or l > SH_MAX_L:
            raise ValueError(f"ls: degrees must be in [0, {SH_MAX_L}], got {l}")
    irreps_out = Irreps([(1, (l, p_in**l)) for l in out]).simplify()
    return out, irreps_out, irreps_in


def layout(ls: List[int]) -> Tuple[List[int], int, Optional[np.ndarray]]:
    """Kernel layout for ``ls``: ``(col_offset[lmax+1], width, gather)``.

    The kernel writes each distinct degree once; when ``ls`` is strictly
    increasing that is already the output (``gather`` is None), otherwise the
    output is ``kernel_out[..., gather]``.
    """
    lmax = max(ls)
    uniq = sorted(set(ls))
    col = [-1] * (lmax + 1)
    w = 0
    for l in uniq:
        col[l] = w
        w += 2 * l + 1
    if ls == uniq:
        return col, w, None
    idx = np.concatenate([np.arange(col[l], col[l] + 2 * l + 1) for l in ls])
    return col, w, idx


def normalization_code(normalization: str) -> int:
    try:
        return NORMALIZATIONS[normalization]
    except (KeyError, TypeError):
        raise ValueError(
            f"normalization: expected one of {sorted(NORMALIZATIONS)}, got {normalization!r}"
        ) from None


def vectors_array(vectors: Any, name: str = "vectors") -> Tuple[np.ndarray, Tuple[int, ...], np.dtype]:
    """``(v (n, 3) C-contiguous float32/float64, leading shape, dtype)``."""
    arr = to_numpy(vectors, name)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    if arr.ndim < 1 or arr.shape[-1] != 3:
        raise ValueError(f"{name}: expected shape (..., 3), got {arr.shape}")
    dt = np.dtype(np.float32) if arr.dtype in (np.float32, np.float16) else np.dtype(np.float64)
    lead = arr.shape[:-1]
    v = np.ascontiguousarray(arr.reshape(-1, 3), dtype=dt)
    return v, lead, dt


def as_caller_type(out: np.ndarray, like: Any) -> Any:
    """``out`` as the array type of ``like``: numpy stays numpy; a torch or
    JAX (or any module with ``from_dlpack``) input gets its own type back,
    zero-copy through DLPack."""
    if isinstance(like, np.ndarray) or not hasattr(like, "__dlpack__"):
        return out
    root = type(like).__module__.split(".")[0]
    if root == "torch":
        return sys.modules["torch"].from_dlpack(out)
    if root in ("jax", "jaxlib"):
        return sys.modules["jax.numpy"].from_dlpack(out) if "jax.numpy" in sys.modules else out
    mod = sys.modules.get(root)
    f = getattr(mod, "from_dlpack", None)
    return f(out) if f is not None else out


def spherical_harmonics(
    ls: LsLike, vectors: Any, normalize: bool, normalization: str = "integral"
) -> Any:
    r"""Real spherical harmonics :math:`Y^l(x)` of vectors, e3nn's basis and order.

    Equal to ``e3nn.o3.spherical_harmonics(ls, x, normalize, normalization)``:
    components ``m = -l..l`` per degree, in the order of ``ls``, with y as the
    polar axis (``Y^1 = sqrt(3) (x, y, z)`` in "component" normalisation).

    Parameters
    ----------
    ls : int, list of int, str or Irreps
        Degrees (each in ``[0, SH_MAX_L]``, 24), or irreps like ``"0e+1o+2e"``.
    vectors : array_like, shape (..., 3)
        numpy or any DLPack array in host memory (torch, JAX); float32 stays
        float32, other dtypes compute in float64.
    normalize : bool
        Map each vector to the unit sphere first, as ``v / max(|v|, 1e-12)``
        (e3nn's ``torch.nn.functional.normalize``).  A zero vector then gives
        ``Y^0`` = its constant and every ``Y^{l>0} = 0``: finite, never NaN.
        Without it the ``Y^l`` are homogeneous polynomials of degree l.
    normalization : {"integral", "component", "norm"}
        ``integral``: :math:`\int_{S^2} (Y^l_m)^2 = 1`; ``component``:
        :math:`\|Y^l\|^2 = 2l+1`; ``norm``: :math:`\|Y^l\| = 1` on the sphere.

    Returns
    -------
    array of shape (..., sum(2l+1))
        The caller's array type (numpy for numpy and array-likes).  Not
        differentiable: use :class:`scalecore.tp.torch.SphericalHarmonics` for
        autograd, or :func:`spherical_harmonics_derivatives`.
    """
    lst, _, _ = parse_ls(ls)
    code = normalization_code(normalization)
    v, lead, _ = vectors_array(vectors)
    col, w, gather = layout(lst)
    out = _core.tp_sh_forward(v, col, code, bool(normalize), w)
    if gather is not None:
        out = np.ascontiguousarray(out[:, gather])
    return as_caller_type(out.reshape(lead + (out.shape[-1],)), vectors)


def spherical_harmonics_derivatives(
    ls: LsLike, vectors: Any, normalize: bool, normalization: str = "integral", order: int = 1
) -> Tuple[np.ndarray, ...]:
    r"""Spherical harmonics and their first (and second) derivatives w.r.t. the vector.

    Parameters are those of :func:`spherical_harmonics`; ``order`` is 1 or 2.

    Returns
    -------
    (Y, dY) or (Y, dY, d2Y) : numpy arrays
        ``Y`` (..., dim); ``dY[..., c, j] = dY_c/dv_j`` (..., dim, 3);
        ``d2Y[..., c, j, k]`` (..., dim, 3, 3), symmetric in (j, k).  Exact
        forward-mode derivatives of the value code (jets, see sh.h); with
        ``normalize=True`` they include the projection onto the sphere.
    """
    if order not in (1, 2):
        raise ValueError(f"order: expected 1 or 2, got {order!r}")
    lst, _, _ = parse_ls(ls)
    code = normalization_code(normalization)
    v, lead, _ = vectors_array(vectors)
    col, w, gather = layout(lst)
    res = _core.tp_sh_derivatives(v, col, code, bool(normalize), w, order == 2)
    if gather is not None:
        res = tuple(np.ascontiguousarray(r[:, gather]) for r in res)
    return tuple(r.reshape(lead + r.shape[1:]) for r in res)
