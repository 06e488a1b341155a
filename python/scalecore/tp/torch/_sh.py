"""torch custom ops and the ``SphericalHarmonics`` module over the C++
spherical-harmonics kernels (forward, backward and double backward).

Ops (``torch.library``, namespace ``scalecore``), each with a fake kernel so
``torch.compile`` traces them:

* ``tp_sh(x, col, norm, normalize, dim) -> Y``; its autograd calls
* ``tp_sh_backward(x, gY, ...) -> gx``, whose own autograd calls
* ``tp_sh_double_backward(x, gY, ggx, ...) -> (ggY, gx2)`` (exact second
  derivatives from the jets in sh.h).  Third derivatives are not provided.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple, Union

import numpy as np
import torch

from ... import _core
from .._irreps import Irreps
from .._sh import layout, normalization_code, parse_ls

__all__ = ["SphericalHarmonics", "spherical_harmonics"]


def _np(t: torch.Tensor) -> np.ndarray:
    if t.device.type != "cpu":
        raise TypeError(f"scalecore.tp.torch: expected a CPU tensor, got one on {t.device}")
    return t.detach().contiguous().numpy()


@torch.library.custom_op("scalecore::tp_sh", mutates_args=())
def _tp_sh(x: torch.Tensor, col: List[int], norm: int, normalize: bool, dim: int) -> torch.Tensor:
    return torch.from_numpy(_core.tp_sh_forward(_np(x), col, norm, normalize, dim))


@_tp_sh.register_fake
def _(x, col, norm, normalize, dim):
    return x.new_empty((x.shape[0], dim))


@torch.library.custom_op("scalecore::tp_sh_backward", mutates_args=())
def _tp_sh_backward(
    x: torch.Tensor, grad: torch.Tensor, col: List[int], norm: int, normalize: bool, dim: int
) -> torch.Tensor:
    return torch.from_numpy(_core.tp_sh_backward(_np(x), _np(grad.to(x.dtype)), col, norm, normalize, dim))


@_tp_sh_backward.register_fake
def _(x, grad, col, norm, normalize, dim):
    return torch.empty_like(x)


@torch.library.custom_op("scalecore::tp_sh_double_backward", mutates_args=())
def _tp_sh_double_backward(
    x: torch.Tensor, grad: torch.Tensor, gg: torch.Tensor, col: List[int], norm: int, normalize: bool, dim: int
) -> Tuple[torch.Tensor, torch.Tensor]:
    a, b = _core.tp_sh_double_backward(
        _np(x), _np(grad.to(x.dtype)), _np(gg.to(x.dtype)), col, norm, normalize, dim
    )
    return torch.from_numpy(a), torch.from_numpy(b)


@_tp_sh_double_backward.register_fake
def _(x, grad, gg, col, norm, normalize, dim):
    return grad.new_empty(grad.shape), torch.empty_like(x)


def _setup_fwd(ctx, inputs, output):
    x, col, norm, normalize, dim = inputs
    ctx.save_for_backward(x)
    ctx.args = (col, norm, normalize, dim)


def _bwd_fwd(ctx, grad):
    (x,) = ctx.saved_tensors
    return _tp_sh_backward(x, grad.contiguous(), *ctx.args), None, None, None, None


_tp_sh.register_autograd(_bwd_fwd, setup_context=_setup_fwd)


def _setup_bwd(ctx, inputs, output):
    x, grad, col, norm, normalize, dim = inputs
    ctx.save_for_backward(x, grad)
    ctx.args = (col, norm, normalize, dim)


def _bwd_bwd(ctx, gg):
    x, grad = ctx.saved_tensors
    ggy, gx2 = _tp_sh_double_backward(x, grad, gg.contiguous(), *ctx.args)
    return gx2, ggy, None, None, None, None


_tp_sh_backward.register_autograd(_bwd_bwd, setup_context=_setup_bwd)


def _run(ls: List[int], x: torch.Tensor, normalize: bool, code: int) -> torch.Tensor:
    if x.shape[-1] != 3:
        raise ValueError(f"x: expected shape (..., 3), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x: expected a floating tensor, got {x.dtype}")
    work = x if x.dtype in (torch.float32, torch.float64) else x.to(torch.float32)
    col, w, gather = layout(ls)
    lead = x.shape[:-1]
    y = _tp_sh(work.reshape(-1, 3).contiguous(), col, code, bool(normalize), w)
    if gather is not None:
        y = y[:, torch.as_tensor(gather)]
    return y.reshape(*lead, y.shape[-1]).to(x.dtype)


class SphericalHarmonics(torch.nn.Module):
    """Drop-in for ``e3nn.o3.SphericalHarmonics``: same constructor, attributes
    and ``forward``, on scalecore's kernels (float32/float64, CPU), with
    first and second derivatives (force training) through autograd.

    Parameters
    ----------
    irreps_out : int, list of int, str or Irreps
        Degrees or irreps of the output (parities ``p_in**l``).
    normalize : bool
        Project the input onto the unit sphere first (zero vectors give
        ``Y^0`` only, see :func:`scalecore.tp.spherical_harmonics`).
    normalization : {"integral", "component", "norm"}, default "integral"
    irreps_in : "1o" or "1e", optional
        The input's irreps (e3nn infers ``1e`` from odd-l even-parity outputs).
    """

    def __init__(
        self,
        irreps_out: Union[int, List[int], str, Irreps],
        normalize: bool,
        normalization: str = "integral",
        irreps_in: Any = None,
    ) -> None:
        super().__init__()
        self.normalize = bool(normalize)
        self.normalization = normalization
        self._code = normalization_code(normalization)
        ls, irreps_out, irreps_in = parse_ls(irreps_out, irreps_in)
        self.irreps_in = irreps_in
        self.irreps_out = irreps_out
        self._ls_list = ls
        self._lmax = max(ls)
        self._is_range_lmax = ls == list(range(max(ls) + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (..., 3) -> (..., irreps_out.dim)."""
        return _run(self._ls_list, x, self.normalize, self._code)

    def extra_repr(self) -> str:
        return f"{self.irreps_out}, normalize={self.normalize}, normalization={self.normalization!r}"


def spherical_harmonics(
    l: Union[int, List[int], str, Irreps], x: torch.Tensor, normalize: bool, normalization: str = "integral"
) -> torch.Tensor:
    """Functional form (``e3nn.o3.spherical_harmonics``), differentiable twice."""
    return SphericalHarmonics(l, normalize, normalization)(x)
