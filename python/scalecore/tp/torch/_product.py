"""torch modules of the Clebsch-Gordan product, mirroring ``e3nn.o3``:
:class:`TensorProduct`, :class:`FullyConnectedTensorProduct`,
:class:`FullTensorProduct`, :class:`ElementwiseTensorProduct` and the
channelwise (uvu) product MACE builds for edges.

Constructors, attributes (``irreps_in1``, ``irreps_in2``, ``irreps_out``,
``instructions``, ``weight_numel``, ``weight``, ``shared_weights``,
``internal_weights``, ``output_mask``) and ``forward(x, y, weight=None)``
follow e3nn 0.6, with the same weight order, so replacing
``from e3nn import o3`` by ``from scalecore.tp import torch as o3`` (for these
classes) is the migration.  The work runs in the op
``scalecore_tp::contract`` (see ``_ops.py``): CPU tensors, float32 or
float64, differentiable to any order, traceable by ``torch.compile``.
"""
from __future__ import annotations

from math import prod
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Union

import torch

from .._irreps import Irrep, Irreps
from .._product import Instruction, TensorProductPlan
from . import _ops

__all__ = [
    "TensorProduct",
    "FullyConnectedTensorProduct",
    "FullTensorProduct",
    "ElementwiseTensorProduct",
    "ChannelwiseTensorProduct",
    "tp_out_irreps_with_instructions",
]


def _check_tensor(t: Any, name: str) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise TypeError(f"{name}: expected a CPU tensor, got one on {t.device}")
    if t.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name}: expected float32 or float64, got {t.dtype}")


class TensorProduct(torch.nn.Module):
    r"""Tensor product with parametrised paths, as ``e3nn.o3.TensorProduct``.

    Parameters
    ----------
    irreps_in1, irreps_in2, irreps_out : str or Irreps
        The two inputs and the output.
    instructions : list of tuple
        ``(i_in1, i_in2, i_out, mode, has_weight[, path_weight])``; modes
        ``uvw``, ``uvu``, ``uvv``, ``uuw``, ``uuu``, ``uvuv``.
    in1_var, in2_var, out_var : list of float, optional
        Variances per irrep (default 1).
    irrep_normalization : {'component', 'norm', 'none'}, default 'component'
    path_normalization : {'element', 'path', 'none'}, default 'element'
    internal_weights : bool, optional
        Hold the weights as a Parameter (default: when shared and any path
        has weights).
    shared_weights : bool, optional
        One weight vector for the batch (default True); False: per-sample
        weights ``(..., weight_numel)`` passed to forward.

    Notes
    -----
    The output is ``sum_p sqrt(alpha_p) W_p (x (x) y)_p`` per output block,
    with e3nn's alpha (``scalecore.tp._product``), the weights concatenated in
    instruction order.  ``compile_left_right`` and the private e3nn code
    generation options are accepted and ignored; ``right()`` is not provided.
    """

    def __init__(
        self,
        irreps_in1: Any,
        irreps_in2: Any,
        irreps_out: Any,
        instructions: Sequence[tuple],
        in1_var: Optional[Sequence[float]] = None,
        in2_var: Optional[Sequence[float]] = None,
        out_var: Optional[Sequence[float]] = None,
        irrep_normalization: Optional[str] = None,
        path_normalization: Optional[str] = None,
        internal_weights: Optional[bool] = None,
        shared_weights: Optional[bool] = None,
        compile_left_right: bool = True,
        compile_right: bool = False,
        normalization: Optional[str] = None,
        _specialized_code: Optional[bool] = None,
        _optimize_einsums: Optional[bool] = None,
    ) -> None:
        super().__init__()
        if normalization is not None:
            irrep_normalization = normalization
        if compile_right:
            raise NotImplementedError("compile_right / right() is not provided by scalecore.tp")
        self._plan = TensorProductPlan(
            irreps_in1, irreps_in2, irreps_out, instructions, in1_var=in1_var, in2_var=in2_var, out_var=out_var,
            irrep_normalization=irrep_normalization, path_normalization=path_normalization,
        )
        self._plan_id = _ops.register_plan(self._plan)
        self.irreps_in1 = self._plan.irreps_in1
        self.irreps_in2 = self._plan.irreps_in2
        self.irreps_out = self._plan.irreps_out
        self.instructions: List[Instruction] = self._plan.instructions
        self._in1_dim = self.irreps_in1.dim
        self._in2_dim = self.irreps_in2.dim
        if shared_weights is False and internal_weights is None:
            internal_weights = False
        if shared_weights is None:
            shared_weights = True
        if internal_weights is None:
            internal_weights = shared_weights and any(i.has_weight for i in self.instructions)
        if internal_weights and not shared_weights:
            raise ValueError("internal_weights=True needs shared_weights=True")
        self.internal_weights = bool(internal_weights)
        self.shared_weights = bool(shared_weights)
        self.weight_numel = self._plan.weight_numel
        if self.internal_weights and self.weight_numel > 0:
            self.weight = torch.nn.Parameter(torch.randn(self.weight_numel))
        else:
            self.register_buffer("weight", torch.Tensor())
        if self.irreps_out.dim > 0:
            mask = torch.cat([
                torch.ones(mul * ir.dim) if any(
                    i.i_out == k and i.path_weight != 0 and 0 not in i.path_shape for i in self.instructions)
                else torch.zeros(mul * ir.dim)
                for k, (mul, ir) in enumerate(self.irreps_out)
            ])
        else:
            mask = torch.ones(0)
        self.register_buffer("output_mask", mask)

    def __setstate__(self, state):
        # After unpickling (torch.load, copy.deepcopy) the plan is rebuilt by
        # TensorProductPlan.__reduce__; register it with the op again.
        super().__setstate__(state)
        self._plan_id = _ops.register_plan(self._plan)

    def __repr__(self) -> str:
        npath = sum(prod(i.path_shape) for i in self.instructions)
        return (f"{self.__class__.__name__}({self.irreps_in1.simplify()} x {self.irreps_in2.simplify()} -> "
                f"{self.irreps_out.simplify()} | {npath} paths | {self.weight_numel} weights)")

    # ---- weights --------------------------------------------------------------
    def _get_weights(self, weight: Optional[Union[torch.Tensor, List[torch.Tensor]]]) -> torch.Tensor:
        if isinstance(weight, list):
            shapes = [i.path_shape for i in self.instructions if i.has_weight]
            if self.shared_weights:
                weight = torch.cat([w.reshape(prod(s)) for w, s in zip(weight, shapes)], dim=-1)
            else:
                weight = torch.cat([w.reshape(-1, prod(s)) for w, s in zip(weight, shapes)], dim=-1)
        if weight is None:
            if self.weight_numel > 0 and not self.internal_weights:
                raise ValueError("weight: this product has no internal weights; pass weight= to forward")
            return self.weight
        _check_tensor(weight, "weight")
        if self.shared_weights:
            if tuple(weight.shape) != (self.weight_numel,):
                raise ValueError(f"weight: expected shape ({self.weight_numel},) (shared weights), got "
                                 f"{tuple(weight.shape)}")
        else:
            if weight.ndim < 2 or weight.shape[-1] != self.weight_numel:
                raise ValueError(f"weight: expected per-sample weights of shape (..., {self.weight_numel}) "
                                 f"(shared_weights=False), got {tuple(weight.shape)}")
        return weight

    def weight_view_for_instruction(self, instruction: int, weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """View of the weights of one instruction, shaped ``batch + path_shape``."""
        if not self.instructions[instruction].has_weight:
            raise ValueError(f"Instruction {instruction} has no weights.")
        offset = sum(prod(i.path_shape) for i in self.instructions[:instruction] if i.has_weight)
        ins = self.instructions[instruction]
        weight = self._get_weights(weight)
        batch = weight.shape[:-1]
        return weight.narrow(-1, offset, prod(ins.path_shape)).view(batch + ins.path_shape)

    def weight_views(self, weight: Optional[torch.Tensor] = None, yield_instruction: bool = False) -> Iterator:
        """Views of the weights, one per weighted instruction, in order."""
        weight = self._get_weights(weight)
        batch = weight.shape[:-1]
        offset = 0
        for k, ins in enumerate(self.instructions):
            if ins.has_weight:
                size = prod(ins.path_shape)
                view = weight.narrow(-1, offset, size).view(batch + ins.path_shape)
                offset += size
                yield (k, ins, view) if yield_instruction else view

    # ---- forward --------------------------------------------------------------
    def _prepare(self, x: torch.Tensor, y: torch.Tensor, weight) -> Tuple:
        _check_tensor(x, "x")
        _check_tensor(y, "y")
        if x.shape[-1:] != (self._in1_dim,):
            raise ValueError(f"x: expected a last dimension of {self._in1_dim} ({self.irreps_in1}), got shape "
                             f"{tuple(x.shape)}")
        if y.shape[-1:] != (self._in2_dim,):
            raise ValueError(f"y: expected a last dimension of {self._in2_dim} ({self.irreps_in2}), got shape "
                             f"{tuple(y.shape)}")
        if y.dtype != x.dtype:
            raise TypeError(f"y: expected dtype {x.dtype} like x, got {y.dtype}")
        w = self._get_weights(weight)
        if self.weight_numel == 0:
            w = x.new_zeros((0,) if self.shared_weights else x.shape[:-1] + (0,))
        elif w.dtype != x.dtype:
            raise TypeError(f"weight: expected dtype {x.dtype} like x, got {w.dtype}")
        return w

    def forward(self, x: torch.Tensor, y: torch.Tensor, weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        r"""Evaluate :math:`w \, x \otimes y`.

        Parameters
        ----------
        x : Tensor ``(..., irreps_in1.dim)``
        y : Tensor ``(..., irreps_in2.dim)``
        weight : Tensor, optional
            ``(weight_numel,)`` when shared, ``(..., weight_numel)`` per sample;
            required without internal weights.

        Returns
        -------
        Tensor ``(..., irreps_out.dim)``
        """
        w = self._prepare(x, y, weight)
        shared = self.shared_weights
        batch = torch.broadcast_shapes(x.shape[:-1], y.shape[:-1], () if shared else w.shape[:-1])
        xb = x.expand(batch + x.shape[-1:]).reshape(-1, self._in1_dim)
        yb = y.expand(batch + y.shape[-1:]).reshape(-1, self._in2_dim)
        wb = w if shared else w.expand(batch + w.shape[-1:]).reshape(-1, self.weight_numel)
        out = _ops.contract(self._plan_id, 3, xb.contiguous(), yb.contiguous(), wb.contiguous(), None, None, None,
                            0, shared)
        return out.reshape(batch + (self.irreps_out.dim,))


class FullyConnectedTensorProduct(TensorProduct):
    """Every allowed path ``uvw`` with a weight, as
    ``e3nn.o3.FullyConnectedTensorProduct`` (paths enumerated i1, i2, i_out)."""

    def __init__(self, irreps_in1: Any, irreps_in2: Any, irreps_out: Any, irrep_normalization: Optional[str] = None,
                 path_normalization: Optional[str] = None, **kwargs) -> None:
        irreps_in1, irreps_in2, irreps_out = Irreps(irreps_in1), Irreps(irreps_in2), Irreps(irreps_out)
        instr = [
            (i1, i2, io, "uvw", True, 1.0)
            for i1, (_, ir1) in enumerate(irreps_in1)
            for i2, (_, ir2) in enumerate(irreps_in2)
            for io, (_, iro) in enumerate(irreps_out)
            if iro in ir1 * ir2
        ]
        super().__init__(irreps_in1, irreps_in2, irreps_out, instr, irrep_normalization=irrep_normalization,
                         path_normalization=path_normalization, **kwargs)


class ElementwiseTensorProduct(TensorProduct):
    """``z_u = x_u (x) y_u`` without weights, as ``e3nn.o3.ElementwiseTensorProduct``."""

    def __init__(self, irreps_in1: Any, irreps_in2: Any, filter_ir_out: Optional[Sequence] = None,
                 irrep_normalization: Optional[str] = None, **kwargs) -> None:
        irreps_in1 = Irreps(irreps_in1).simplify()
        irreps_in2 = Irreps(irreps_in2).simplify()
        if filter_ir_out is not None:
            try:
                filter_ir_out = [Irrep(ir) for ir in filter_ir_out]
            except (ValueError, TypeError):
                raise ValueError(f"filter_ir_out (={filter_ir_out}) must be an iterable of Irrep") from None
        if irreps_in1.num_irreps != irreps_in2.num_irreps:
            raise ValueError(f"irreps_in1, irreps_in2: expected the same number of irreps, got "
                             f"{irreps_in1.num_irreps} and {irreps_in2.num_irreps}")
        a = [(mul, ir) for mul, ir in irreps_in1]
        b = [(mul, ir) for mul, ir in irreps_in2]
        i = 0
        while i < len(a):
            (m1, ir1), (m2, ir2) = a[i], b[i]
            if m1 < m2:
                b[i] = (m1, ir2)
                b.insert(i + 1, (m2 - m1, ir2))
            if m2 < m1:
                a[i] = (m2, ir1)
                a.insert(i + 1, (m1 - m2, ir1))
            i += 1
        out, instr = [], []
        for i, ((mul, ir1), (_, ir2)) in enumerate(zip(a, b)):
            for ir in ir1 * ir2:
                if filter_ir_out is not None and ir not in filter_ir_out:
                    continue
                instr.append((i, i, len(out), "uuu", False))
                out.append((mul, ir))
        super().__init__(Irreps(a), Irreps(b), Irreps(out), instr, irrep_normalization=irrep_normalization, **kwargs)


class FullTensorProduct(TensorProduct):
    """``z_uv = x_u (x) y_v`` (mode uvuv, no weights, sorted output), as
    ``e3nn.o3.FullTensorProduct``."""

    def __init__(self, irreps_in1: Any, irreps_in2: Any, filter_ir_out: Optional[Sequence] = None,
                 irrep_normalization: Optional[str] = None, **kwargs) -> None:
        irreps_in1 = Irreps(irreps_in1).simplify()
        irreps_in2 = Irreps(irreps_in2).simplify()
        if filter_ir_out is not None:
            try:
                filter_ir_out = [Irrep(ir) for ir in filter_ir_out]
            except (ValueError, TypeError):
                raise ValueError(f"filter_ir_out (={filter_ir_out}) must be an iterable of Irrep") from None
        out, instr = [], []
        for i1, (m1, ir1) in enumerate(irreps_in1):
            for i2, (m2, ir2) in enumerate(irreps_in2):
                for iro in ir1 * ir2:
                    if filter_ir_out is not None and iro not in filter_ir_out:
                        continue
                    instr.append((i1, i2, len(out), "uvuv", False))
                    out.append((m1 * m2, iro))
        out_sorted, p, _ = Irreps(out).sort()
        instr = [(i1, i2, p[io], mode, hw) for i1, i2, io, mode, hw in instr]
        super().__init__(irreps_in1, irreps_in2, out_sorted, instr, irrep_normalization=irrep_normalization,
                         **kwargs)


def tp_out_irreps_with_instructions(irreps_in1: Any, irreps_in2: Any, target_irreps: Any
                                    ) -> Tuple[Irreps, List[tuple]]:
    """MACE's channelwise edge product layout (``mace.modules.irreps_tools``):
    for each ``mul x ir1`` of irreps_in1, ``ir2`` of irreps_in2 and ``ir_out in
    ir1 x ir2`` that is in target_irreps, an output block ``mul x ir_out`` and a
    weighted ``uvu`` instruction; then the output sorted (instructions remapped
    and ordered by output)."""
    irreps_in1, irreps_in2, target = Irreps(irreps_in1), Irreps(irreps_in2), Irreps(target_irreps)
    out, instr = [], []
    for i, (mul, ir1) in enumerate(irreps_in1):
        for j, (_, ir2) in enumerate(irreps_in2):
            for iro in ir1 * ir2:
                if iro in target:
                    instr.append((i, j, len(out), "uvu", True))
                    out.append((mul, iro))
    out_sorted, p, _ = Irreps(out).sort()
    instr = [(i1, i2, p[io], mode, hw) for i1, i2, io, mode, hw in instr]
    instr = sorted(instr, key=lambda t: t[2])
    return out_sorted, instr


class ChannelwiseTensorProduct(TensorProduct):
    """The channelwise (``uvu``) edge product MACE builds: outputs from
    :func:`tp_out_irreps_with_instructions`, per-edge weights by default
    (``shared_weights=False, internal_weights=False``)."""

    def __init__(self, irreps_in1: Any, irreps_in2: Any, target_irreps: Any, shared_weights: bool = False,
                 internal_weights: bool = False, **kwargs) -> None:
        out, instr = tp_out_irreps_with_instructions(irreps_in1, irreps_in2, target_irreps)
        super().__init__(irreps_in1, irreps_in2, out, instr, shared_weights=shared_weights,
                         internal_weights=internal_weights, **kwargs)
