r"""``GauntTensorProduct``: the Gaunt tensor product on an S^2 grid (Price of
Freedom, Xie et al., arXiv 2506.13523) as a torch module over the C++
kernels (``cpp/src/tp/gaunt.cc``), with autograd (first derivatives).

What it can express, compared with the Clebsch-Gordan product
(``FullyConnectedTensorProduct`` / ``TensorProduct``) on the same irreps:

==========================  ==============================  ===============================
                            CG tensor product                Gaunt (this module)
==========================  ==============================  ===============================
paths (l1, l2) -> l3        every triangle-allowed triple   only l1 + l2 + l3 even
parity-odd paths            yes (e.g. 1o x 1o -> 1e)        no (their Gaunt integral is 0)
weights                     one per path (x channels)       one per output degree l3
path coefficient            free                            fixed ratio r(l1, l2, l3) times
                                                            the shared weight w[l3]
cost per row, all l <= L    O(L^6) dense, O(L^5) sparse     O(L^3) (separable transforms)
==========================  ==============================  ===============================

``r(l1, l2, l3) = gaunt_cg_ratio(l1, l2, l3)`` (see :mod:`scalecore.tp._gaunt`):
``out = w[l3] * sum G x1 x2 = w[l3] * r * (CG product with e3nn's wigner_3j)``.
So this module equals e3nn's ``TensorProduct`` restricted to the parity-even
paths with per-path weights ``w[l3] * r(l1, l2, l3)`` (tested).

Parity.  Inputs are functions on the sphere, so each operand must carry one
parity class: its irreps are ``l`` with parity ``s * (-1)**l`` for a fixed
``s`` (``s = +1``: spherical-harmonic parity "y", ``s = -1``: pseudo).  The
output then has class ``s1 * s2``.  The paper recovers the missing parity
combinations by running the product once per class pair after per-parity
linear projections: ``(+, +)`` and ``(-, -)`` give class ``+``, ``(+, -)`` and
``(-, +)`` give class ``-``; its flax module ``GauntTensorProductAllParities``
concatenates the ``(+,+)``, ``(+,-)`` and ``(-,+)`` variants.  Build those as
several ``GauntTensorProduct`` modules on the projected features.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

import torch

from ... import _core
from .._irreps import Irreps

__all__ = ["GauntTensorProduct"]


def _np(t: torch.Tensor):
    if t.device.type != "cpu":
        raise TypeError(f"GauntTensorProduct: expected CPU tensors, got one on {t.device}")
    return t.detach().contiguous().numpy()


@torch.library.custom_op("scalecore::tp_gaunt", mutates_args=())
def _tp_gaunt(x1: torch.Tensor, x2: torch.Tensor, w: torch.Tensor, l1: int, l2: int, lo: int, nb: int,
              na: int) -> torch.Tensor:
    return torch.from_numpy(_core.tp_gaunt_forward(_np(x1), _np(x2.to(x1.dtype)), _np(w.to(x1.dtype)), l1, l2, lo,
                                                   nb, na))


@_tp_gaunt.register_fake
def _(x1, x2, w, l1, l2, lo, nb, na):
    return x1.new_empty((x1.shape[0], (lo + 1) ** 2))


@torch.library.custom_op("scalecore::tp_gaunt_backward", mutates_args=())
def _tp_gaunt_backward(x1: torch.Tensor, x2: torch.Tensor, w: torch.Tensor, grad: torch.Tensor, l1: int, l2: int,
                       lo: int, nb: int, na: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g1, g2, gw = _core.tp_gaunt_backward(_np(x1), _np(x2.to(x1.dtype)), _np(w.to(x1.dtype)),
                                         _np(grad.to(x1.dtype)), l1, l2, lo, nb, na)
    return torch.from_numpy(g1), torch.from_numpy(g2), torch.from_numpy(gw)


@_tp_gaunt_backward.register_fake
def _(x1, x2, w, grad, l1, l2, lo, nb, na):
    return torch.empty_like(x1), torch.empty_like(x2), torch.empty_like(w)


def _setup(ctx, inputs, output):
    x1, x2, w, *args = inputs
    ctx.save_for_backward(x1, x2, w)
    ctx.args = args


def _backward(ctx, grad):
    x1, x2, w = ctx.saved_tensors
    g1, g2, gw = _tp_gaunt_backward(x1, x2, w, grad.contiguous(), *ctx.args)
    return g1, g2, gw, None, None, None, None, None


_tp_gaunt.register_autograd(_backward, setup_context=_setup)


def _parse_operand(irreps: Any, name: str) -> Tuple[Irreps, int, int, int]:
    """-> (irreps, lmax, mul, parity class s) for ``mul x l`` blocks l = 0..lmax."""
    ir = Irreps(irreps)
    if len(ir) == 0:
        raise ValueError(f"{name}: expected irreps with degrees 0..L, got an empty Irreps")
    muls = {mul for mul, _ in ir}
    ls = [i.l for _, i in ir]
    if ls != list(range(len(ls))) or len(muls) != 1:
        raise ValueError(
            f"{name}: the Gaunt product needs one block per degree 0, 1, ..., L in order, all of the same "
            f"multiplicity (a function on the sphere per channel), got {ir}"
        )
    classes = {i.p * (-1) ** i.l for _, i in ir}
    if len(classes) != 1:
        raise ValueError(
            f"{name}: every block must have parity s * (-1)**l for one s (all 'y', or all pseudo), got {ir}; "
            "split mixed parities into separate products (see the module docstring)"
        )
    return ir, len(ls) - 1, muls.pop(), classes.pop()


class GauntTensorProduct(torch.nn.Module):
    """Gaunt tensor product on an S^2 grid, channelwise, one weight per output degree.

    Parameters
    ----------
    irreps_in1 : str or Irreps
        ``C x 0 + C x 1 + ... + C x L1`` with parities ``s1 * (-1)**l`` (e.g.
        ``"8x0e+8x1o+8x2e"``); channel ``u`` of every block forms one function.
    irreps_in2 : str or Irreps
        The same form with multiplicity ``C`` (channelwise) or 1 (shared by all channels).
    irreps_out : str or Irreps
        ``C x 0 + ... + C x Lout`` with parities ``s1 * s2 * (-1)**l``,
        ``Lout <= L1 + L2``.
    internal_weights : bool, default True
        Hold the ``Lout + 1`` weights as a Parameter (initialised to 1); else
        ``forward`` takes ``weight`` of shape ``(Lout + 1,)``.
    res_beta, res_alpha : int, optional
        Grid size; default (and minimum) is the exact resolution from the degrees.

    Notes
    -----
    Layout is e3nn's ``[mul, 2l+1]`` per block.  Gradients for both inputs and
    the weights come from the C++ backward; double backward is not provided.
    """

    def __init__(self, irreps_in1: Any, irreps_in2: Any, irreps_out: Any, internal_weights: bool = True,
                 res_beta: Optional[int] = None, res_alpha: Optional[int] = None) -> None:
        super().__init__()
        self.irreps_in1, self.l1, c1, s1 = _parse_operand(irreps_in1, "irreps_in1")
        self.irreps_in2, self.l2, c2, s2 = _parse_operand(irreps_in2, "irreps_in2")
        self.irreps_out, self.lo, co, so = _parse_operand(irreps_out, "irreps_out")
        if c2 not in (1, c1):
            raise ValueError(f"irreps_in2: multiplicity must be 1 or {c1} (irreps_in1's), got {c2}")
        if co != c1:
            raise ValueError(f"irreps_out: multiplicity must be {c1} (irreps_in1's), got {co}")
        if so != s1 * s2:
            raise ValueError(f"irreps_out: parity class must be {s1 * s2} = s1 * s2 (p = {s1 * s2} * (-1)**l), "
                             f"got {so}")
        if self.lo > self.l1 + self.l2:
            raise ValueError(f"irreps_out: degrees above l1 + l2 = {self.l1 + self.l2} are always zero")
        self.mul = c1
        self.mul2 = c2
        self.res_beta, self.res_alpha = _core.tp_gaunt_grid(self.l1, self.l2, self.lo, res_beta or 0,
                                                            res_alpha or 0)
        self.weight_numel = self.lo + 1
        self.internal_weights = bool(internal_weights)
        if self.internal_weights:
            self.weight = torch.nn.Parameter(torch.ones(self.weight_numel))
        else:
            self.register_buffer("weight", torch.empty(0), persistent=False)

    @staticmethod
    def _to_rows(x: torch.Tensor, irreps: Irreps, mul: int) -> torch.Tensor:
        lead = x.shape[:-1]
        parts = [x[..., s].reshape(*lead, mul, ir.dim) for s, (_, ir) in zip(irreps.slices(), irreps)]
        return torch.cat(parts, dim=-1).reshape(-1, sum(p.shape[-1] for p in parts))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``x1 (..., irreps_in1.dim)``, ``x2 (..., irreps_in2.dim)`` -> ``(..., irreps_out.dim)``."""
        if x1.shape[-1] != self.irreps_in1.dim:
            raise ValueError(f"x1: expected last dimension {self.irreps_in1.dim} ({self.irreps_in1}), "
                             f"got shape {tuple(x1.shape)}")
        if x2.shape[-1] != self.irreps_in2.dim:
            raise ValueError(f"x2: expected last dimension {self.irreps_in2.dim} ({self.irreps_in2}), "
                             f"got shape {tuple(x2.shape)}")
        if weight is None:
            if not self.internal_weights:
                raise ValueError("weight: this module has no internal weights; pass weight of shape "
                                 f"({self.weight_numel},)")
            weight = self.weight
        if weight.shape != (self.weight_numel,):
            raise ValueError(f"weight: expected shape ({self.weight_numel},) (one per output degree), "
                             f"got {tuple(weight.shape)}")
        lead = torch.broadcast_shapes(x1.shape[:-1], x2.shape[:-1])
        dtype = x1.dtype if x1.dtype in (torch.float32, torch.float64) else torch.float32
        x1 = x1.to(dtype).expand(*lead, x1.shape[-1])
        x2 = x2.to(dtype).expand(*lead, x2.shape[-1])
        C = self.mul
        r1 = self._to_rows(x1, self.irreps_in1, C)  # (N*C, (l1+1)^2)
        r2 = self._to_rows(x2, self.irreps_in2, self.mul2)
        if self.mul2 != C:
            r2 = r2.reshape(-1, 1, r2.shape[-1]).expand(-1, C, r2.shape[-1]).reshape(-1, r2.shape[-1])
        out = _tp_gaunt(r1.contiguous(), r2.contiguous(), weight.to(dtype).contiguous(), self.l1, self.l2, self.lo,
                        self.res_beta, self.res_alpha)
        out = out.reshape(*lead, C, (self.lo + 1) ** 2)
        blocks = [out[..., l * l:(l + 1) * (l + 1)].reshape(*lead, C * (2 * l + 1)) for l in range(self.lo + 1)]
        return torch.cat(blocks, dim=-1)

    def extra_repr(self) -> str:
        return (f"{self.irreps_in1} x {self.irreps_in2} -> {self.irreps_out}, grid {self.res_beta}x{self.res_alpha}, "
                f"weight_numel={self.weight_numel}")
