"""Clebsch-Gordan tensor products: instructions with e3nn 0.6's normalisation,
compiled into a C++ plan, and the raw (framework-free) kernels.

The product of ``x`` (irreps_in1) and ``y`` (irreps_in2) into irreps_out is
a sum of paths, one per instruction ``(i_in1, i_in2, i_out, mode, has_weight
[, path_weight])``.  Per path, with CG tensor ``C = wigner_3j(l1, l2, l_out)``
and coefficient ``c`` (below)::

    uvw : out[w, k] += c sum_{u,v,i,j} W[u, v, w] C[i, j, k] x[u, i] y[v, j]
    uvu : out[u, k] += c sum_{v,i,j}   W[u, v]    C[i, j, k] x[u, i] y[v, j]
    uvv : out[v, k] += c sum_{u,i,j}   W[u, v]    C[i, j, k] x[u, i] y[v, j]
    uuw : out[w, k] += c sum_{u,i,j}   W[u, w]    C[i, j, k] x[u, i] y[u, j]
    uuu : out[u, k] += c sum_{i,j}     W[u]       C[i, j, k] x[u, i] y[u, j]
    uvuv: out[u*mul2 + v, k] += c sum_{i,j} W[u, v] C[i, j, k] x[u, i] y[v, j]

(``W = 1`` without weight).  The coefficient is e3nn's
``c = sqrt(alpha)`` (``e3nn/o3/_tensor_product/_tensor_product.py``)::

    alpha = {component: 2 l_out + 1, norm: (2 l1 + 1)(2 l2 + 1), none: 1}
    element: alpha /= sum over paths p' into the same output of in1_var[p'] in2_var[p'] n(p')
    path:    alpha /= in1_var in2_var n(p) * (number of paths into that output)
    alpha *= out_var[i_out] * path_weight

with ``n`` = mul1 mul2 (uvw), mul2 (uvu), mul1 (uvv, uuw), 1 (uuu, uvuv).  The
weights are one flat vector, the weighted paths' blocks in instruction order,
each row-major over its path shape.
"""
from __future__ import annotations

import math
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .. import _core
from .._array import to_numpy
from ._irreps import Irreps
from ._wigner import wigner_3j

__all__ = ["Instruction", "TensorProductPlan", "MODES"]

#: Connection modes and their path shapes (mul1, mul2, mul_out) -> shape.
MODES = {
    "uvw": lambda m1, m2, mo: (m1, m2, mo),
    "uvu": lambda m1, m2, mo: (m1, m2),
    "uvv": lambda m1, m2, mo: (m1, m2),
    "uuw": lambda m1, m2, mo: (m1, mo),
    "uuu": lambda m1, m2, mo: (m1,),
    "uvuv": lambda m1, m2, mo: (m1, m2),
}
_NUM_ELEMENTS = {
    "uvw": lambda m1, m2: m1 * m2,
    "uvu": lambda m1, m2: m2,
    "uvv": lambda m1, m2: m1,
    "uuw": lambda m1, m2: m1,
    "uuu": lambda m1, m2: 1,
    "uvuv": lambda m1, m2: 1,
}
_SLOTS = {"x": 0, "y": 1, "weight": 2, "out": 3}


class Instruction(NamedTuple):
    """One path, as e3nn's ``Instruction``: ``path_weight`` is the final
    normalisation coefficient ``sqrt(alpha)``."""

    i_in1: int
    i_in2: int
    i_out: int
    connection_mode: str
    has_weight: bool
    path_weight: float
    path_shape: tuple


def _variances(var: Optional[Sequence[float]], n: int, name: str, irreps_name: str) -> List[float]:
    if var is None:
        return [1.0] * n
    try:
        out = [float(v) for v in var]
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a sequence of numbers, got {var!r}") from None
    if len(out) != n:
        raise ValueError(f"{name}: expected {n} values (one per irrep of {irreps_name}), got {len(out)}")
    return out


def normalised_instructions(
    irreps_in1: Irreps,
    irreps_in2: Irreps,
    irreps_out: Irreps,
    instructions: Sequence[tuple],
    in1_var: Optional[Sequence[float]] = None,
    in2_var: Optional[Sequence[float]] = None,
    out_var: Optional[Sequence[float]] = None,
    irrep_normalization: Optional[str] = None,
    path_normalization: Optional[str] = None,
) -> List[Instruction]:
    """Validate instructions and attach e3nn's coefficients (see the module doc).

    Raises
    ------
    ValueError
        An unknown mode or normalisation, an index of a missing irrep, an
        output outside the product of the inputs (selection rules), or
        multiplicities the mode does not allow.
    """
    irrep_normalization = "component" if irrep_normalization is None else irrep_normalization
    path_normalization = "element" if path_normalization is None else path_normalization
    if irrep_normalization not in ("component", "norm", "none"):
        raise ValueError(f"irrep_normalization: expected 'component', 'norm' or 'none', got {irrep_normalization!r}")
    if path_normalization not in ("element", "path", "none"):
        raise ValueError(f"path_normalization: expected 'element', 'path' or 'none', got {path_normalization!r}")
    irreps = (irreps_in1, irreps_in2, irreps_out)
    names = ("irreps_in1", "irreps_in2", "irreps_out")
    raw = []
    for p, ins in enumerate(instructions):
        ins = tuple(ins)
        if len(ins) not in (5, 6):
            raise ValueError(
                f"instructions[{p}]: expected (i_in1, i_in2, i_out, mode, has_weight[, path_weight]), got {ins!r}"
            )
        i1, i2, io, mode, hw = ins[:5]
        pw = float(ins[5]) if len(ins) == 6 else 1.0
        for k, (idx, ir, nm) in enumerate(zip((i1, i2, io), irreps, names)):
            if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)):
                raise TypeError(f"instructions[{p}]: index {k} must be an int, got {idx!r}")
            if not 0 <= idx < len(ir):
                raise ValueError(
                    f"instructions[{p}]: {('i_in1', 'i_in2', 'i_out')[k]}={idx} indexes a missing irrep "
                    f"({nm} = {ir} has {len(ir)} irreps)"
                )
        if mode not in MODES:
            raise ValueError(
                f"instructions[{p}]: connection mode {mode!r} is not supported (expected one of {', '.join(MODES)})"
            )
        (m1, ir1), (m2, ir2), (mo, iro) = irreps_in1[i1], irreps_in2[i2], irreps_out[io]
        if iro.p != ir1.p * ir2.p or not abs(ir1.l - ir2.l) <= iro.l <= ir1.l + ir2.l:
            raise ValueError(
                f"instructions[{p}]: {iro} is not in {ir1} x {ir2} (selection rules: |l1 - l2| <= l <= l1 + l2, "
                f"p = p1 p2)"
            )
        want = {"uvu": m1, "uvv": m2, "uuu": m1, "uvuv": m1 * m2}.get(mode)
        if want is not None and mo != want:
            raise ValueError(f"instructions[{p}]: mode {mode} needs mul_out = {want}, got {mo}")
        if mode in ("uuw", "uuu") and m1 != m2:
            raise ValueError(f"instructions[{p}]: mode {mode} needs mul_in1 == mul_in2, got {m1} and {m2}")
        if mode == "uvw" and not hw:
            raise ValueError(f"instructions[{p}]: mode uvw needs has_weight=True")
        if mode == "uuw" and not hw and mo != 1:
            raise ValueError(f"instructions[{p}]: mode uuw without weight needs mul_out = 1, got {mo}")
        raw.append((int(i1), int(i2), int(io), mode, bool(hw), pw, MODES[mode](m1, m2, mo)))

    v1 = _variances(in1_var, len(irreps_in1), "in1_var", "irreps_in1")
    v2 = _variances(in2_var, len(irreps_in2), "in2_var", "irreps_in2")
    vo = _variances(out_var, len(irreps_out), "out_var", "irreps_out")

    def n_el(r):
        return _NUM_ELEMENTS[r[3]](irreps_in1[r[0]].mul, irreps_in2[r[1]].mul)

    out = []
    for r in raw:
        i1, i2, io, mode, hw, pw, shape = r
        ir1, ir2, iro = irreps_in1[i1].ir, irreps_in2[i2].ir, irreps_out[io].ir
        alpha = {"component": iro.dim, "norm": ir1.dim * ir2.dim, "none": 1}[irrep_normalization]
        if path_normalization == "element":
            x = sum(v1[q[0]] * v2[q[1]] * n_el(q) for q in raw if q[2] == io)
        elif path_normalization == "path":
            x = v1[i1] * v2[i2] * n_el(r) * sum(1 for q in raw if q[2] == io)
        else:
            x = 1
        if x > 0.0:
            alpha /= x
        alpha *= vo[io] * pw
        out.append(Instruction(i1, i2, io, mode, hw, math.sqrt(alpha), shape))
    return out


def _as_row_array(a: Any, name: str, width: int) -> np.ndarray:
    arr = to_numpy(a, name)
    if arr.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: expected a float32 or float64 array, got dtype {arr.dtype}")
    if arr.ndim == 0 or arr.shape[-1] != width:
        raise ValueError(f"{name}: expected a last dimension of {width} (the irreps' dim), got shape {arr.shape}")
    return arr


class TensorProductPlan:
    """A compiled tensor product on plain arrays (numpy, or any DLPack array
    in host memory).

    Parameters
    ----------
    irreps_in1, irreps_in2, irreps_out : str or Irreps
    instructions : sequence of tuples
        ``(i_in1, i_in2, i_out, mode, has_weight[, path_weight])``.
    in1_var, in2_var, out_var, irrep_normalization, path_normalization
        As in ``e3nn.o3.TensorProduct``.

    Attributes
    ----------
    instructions : list of Instruction
        With the final coefficients (e3nn's ``path_weight``).
    weight_numel : int
    """

    def __init__(
        self,
        irreps_in1: Any,
        irreps_in2: Any,
        irreps_out: Any,
        instructions: Sequence[tuple],
        *,
        in1_var: Optional[Sequence[float]] = None,
        in2_var: Optional[Sequence[float]] = None,
        out_var: Optional[Sequence[float]] = None,
        irrep_normalization: Optional[str] = None,
        path_normalization: Optional[str] = None,
    ) -> None:
        self._args = (irreps_in1, irreps_in2, irreps_out, [tuple(i) for i in instructions],
                      dict(in1_var=in1_var, in2_var=in2_var, out_var=out_var,
                           irrep_normalization=irrep_normalization, path_normalization=path_normalization))
        self.irreps_in1 = Irreps(irreps_in1)
        self.irreps_in2 = Irreps(irreps_in2)
        self.irreps_out = Irreps(irreps_out)
        self.instructions = normalised_instructions(
            self.irreps_in1, self.irreps_in2, self.irreps_out, instructions, in1_var, in2_var, out_var,
            irrep_normalization, path_normalization,
        )
        trip = lambda irr: [(int(mul), int(ir.l), int(ir.p)) for mul, ir in irr]  # noqa: E731
        cg = [
            wigner_3j(self.irreps_in1[i.i_in1].ir.l, self.irreps_in2[i.i_in2].ir.l, self.irreps_out[i.i_out].ir.l)
            for i in self.instructions
        ]
        self._plan = _core.tp_plan(
            trip(self.irreps_in1), trip(self.irreps_in2), trip(self.irreps_out),
            [(i.i_in1, i.i_in2, i.i_out, i.connection_mode, i.has_weight, i.path_weight) for i in self.instructions],
            cg,
        )
        self.weight_numel = int(self._plan.weight_numel)
        self.dims = (self.irreps_in1.dim, self.irreps_in2.dim, self.weight_numel, self.irreps_out.dim)

    def __reduce__(self):
        # Pickled (copy.deepcopy, torch.save) as its constructor arguments; the
        # C++ plan is rebuilt on load.
        a1, a2, ao, ins, kw = self._args
        return (_rebuild_plan, (str(Irreps(a1)), str(Irreps(a2)), str(Irreps(ao)), ins, kw))

    def __repr__(self) -> str:
        return (f"TensorProductPlan({self.irreps_in1} x {self.irreps_in2} -> {self.irreps_out} | "
                f"{len(self.instructions)} paths | {self.weight_numel} weights)")

    # ---- the one kernel entry ---------------------------------------------
    def contract(
        self,
        slot: str,
        x: Optional[np.ndarray],
        y: Optional[np.ndarray],
        weight: Optional[np.ndarray],
        grad_out: Optional[np.ndarray],
        *,
        weight_shared: bool,
        n: int,
        x_index: Optional[np.ndarray] = None,
        out_index: Optional[np.ndarray] = None,
        x_rows: Optional[int] = None,
        out_rows: Optional[int] = None,
        out: Optional[np.ndarray] = None,
        impl: int = 0,
    ) -> np.ndarray:
        """Compute one slot of the trilinear product from the other three.

        ``slot`` is ``"out"`` (the product), ``"x"``, ``"y"`` or ``"weight"``
        (the gradients, given the outgoing gradient ``grad_out``).  All arrays
        are C-contiguous 2-D (rows, width) of one float dtype (the shared
        weight is 1-D).  ``x_index`` / ``out_index`` gather x rows and scatter
        output rows (the fused convolution); the sums are deterministic.
        ``impl=1`` runs the plain reference kernel, ``impl=2`` (product only)
        the CUDA forward's per-channel math on the CPU.
        """
        s = _SLOTS[slot]
        data = [x, y, weight, grad_out]
        data[s] = None
        shared = [False, False, bool(weight_shared), False]
        index = [x_index, None, None, out_index]
        rows = [x_rows if x_index is not None else n, n, 1 if weight_shared else n,
                out_rows if out_index is not None else n]
        dt = next(a.dtype for a in data if a is not None)
        shape = (self.dims[s],) if shared[s] else (rows[s], self.dims[s])
        if out is None:
            out = np.empty(shape, dtype=dt)
        _core.tp_contract(self._plan, s, data, shared, index, rows, out, int(n), int(impl))
        return out

    def backward_rows(
        self,
        x: np.ndarray,
        y: np.ndarray,
        weight: np.ndarray,
        grad_out: np.ndarray,
        *,
        weight_shared: bool,
        n: int,
        outs: Sequence[Optional[np.ndarray]],
        x_index: Optional[np.ndarray] = None,
        out_index: Optional[np.ndarray] = None,
        x_rows: int = 0,
        out_rows: int = 0,
        impl: int = 0,
    ) -> None:
        """grad_x, grad_y, grad_weight of ``<grad_out, T(x, y, weight)>`` in one
        pass per row, written into ``outs`` (entries None are skipped).  x and
        grad_out may be gathered through ``x_index`` / ``out_index`` (the
        convolution: grad_x is then summed per sender, in ascending row order
        per sender).  Equal to three :meth:`contract` calls up to rounding."""
        data, shared, index, rows = _row_operands(x, y, weight, grad_out, weight_shared, n, x_index, out_index,
                                                  x_rows, out_rows)
        _core.tp_backward(self._plan, data, shared, index, rows, list(outs), int(n), int(impl))

    def double_backward_rows(
        self,
        x: np.ndarray,
        y: np.ndarray,
        weight: np.ndarray,
        grad_out: np.ndarray,
        gg: Sequence[Optional[np.ndarray]],
        *,
        weight_shared: bool,
        n: int,
        outs: Sequence[Optional[np.ndarray]],
        x_index: Optional[np.ndarray] = None,
        out_index: Optional[np.ndarray] = None,
        x_rows: int = 0,
        out_rows: int = 0,
    ) -> None:
        """The double backward of :meth:`backward_rows` in one pass per row:
        ``outs[t]`` (x, y, weight, grad_out; None skipped) becomes the sum over
        the given ``gg[s]`` (grad-of-grad for x, y, weight, laid out like the
        slot they replace), s != t, of :meth:`contract` of slot t with slot s
        replaced by ``gg[s]``.  x and grad_out may be gathered (the
        convolution: their outputs summed per node in ascending row order)."""
        data, shared, index, rows = _row_operands(x, y, weight, grad_out, weight_shared, n, x_index, out_index,
                                                  x_rows, out_rows)
        _core.tp_double_backward(self._plan, data, shared, index, rows, list(gg), list(outs), int(n))

    # ---- numpy-level product and gradients ---------------------------------
    def _prep(self, x, y, weight):
        x = _as_row_array(x, "x", self.irreps_in1.dim)
        y = _as_row_array(y, "y", self.irreps_in2.dim)
        if x.dtype != y.dtype:
            raise TypeError(f"x, y: expected one dtype, got {x.dtype} and {y.dtype}")
        if weight is None and self.weight_numel == 0:
            weight = np.zeros((0,), x.dtype)
        elif weight is None:
            raise ValueError(f"weight: this product has {self.weight_numel} weights; pass them")
        w = to_numpy(weight, "weight")
        if w.dtype != x.dtype:
            raise TypeError(f"weight: expected dtype {x.dtype} like x, got {w.dtype}")
        if w.ndim == 0 or w.shape[-1] != self.weight_numel:
            raise ValueError(f"weight: expected a last dimension of {self.weight_numel}, got shape {w.shape}")
        shared = w.ndim == 1
        batch = np.broadcast_shapes(x.shape[:-1], y.shape[:-1], () if shared else w.shape[:-1])
        n = int(np.prod(batch)) if batch else 1
        xb = np.ascontiguousarray(np.broadcast_to(x, batch + x.shape[-1:])).reshape(n, -1)
        yb = np.ascontiguousarray(np.broadcast_to(y, batch + y.shape[-1:])).reshape(n, -1)
        wb = np.ascontiguousarray(w) if shared else np.ascontiguousarray(
            np.broadcast_to(w, batch + w.shape[-1:])).reshape(n, -1)
        return xb, yb, wb, shared, batch, n

    def forward(self, x: Any, y: Any, weight: Any = None, *, impl: int = 0) -> np.ndarray:
        """The product ``(..., irreps_out.dim)``; weight ``(weight_numel,)``
        (shared) or ``(..., weight_numel)`` (per sample)."""
        xb, yb, wb, shared, batch, n = self._prep(x, y, weight)
        out = self.contract("out", xb, yb, wb, None, weight_shared=shared, n=n, impl=impl)
        return out.reshape(batch + (self.irreps_out.dim,))

    def backward(self, x: Any, y: Any, weight: Any, grad_out: Any, *, impl: int = 0
                 ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradients ``(grad_x, grad_y, grad_weight)`` of ``<grad_out, forward(x, y, weight)>``."""
        xb, yb, wb, shared, batch, n = self._prep(x, y, weight)
        g = _as_row_array(grad_out, "grad_out", self.irreps_out.dim)
        gb = np.ascontiguousarray(np.broadcast_to(g, batch + g.shape[-1:]), dtype=xb.dtype).reshape(n, -1)
        gx = np.empty((n, self.irreps_in1.dim), xb.dtype)
        gy = np.empty((n, self.irreps_in2.dim), xb.dtype)
        gw = np.empty((self.weight_numel,) if shared else (n, self.weight_numel), xb.dtype)
        self.backward_rows(xb, yb, wb, gb, weight_shared=shared, n=n, outs=(gx, gy, gw), impl=impl)
        gx = gx.reshape(batch + (self.irreps_in1.dim,))
        gy = gy.reshape(batch + (self.irreps_in2.dim,))
        if not shared:
            gw = gw.reshape(batch + (self.weight_numel,))
        return gx, gy, gw


def _row_operands(x, y, weight, grad_out, weight_shared, n, x_index, out_index, x_rows, out_rows):
    """The (data, weight_shared, index, rows) arguments of ``_core.tp_backward``
    and ``_core.tp_double_backward``: slots x, y, weight, grad_out; x and
    grad_out gathered through their index (with x_rows / out_rows rows)."""
    rows = [int(x_rows) if x_index is not None else int(n), int(n), 1 if weight_shared else int(n),
            int(out_rows) if out_index is not None else int(n)]
    return [x, y, weight, grad_out], bool(weight_shared), [x_index, None, None, out_index], rows


def _rebuild_plan(irreps_in1, irreps_in2, irreps_out, instructions, kwargs):
    return TensorProductPlan(irreps_in1, irreps_in2, irreps_out, instructions, **kwargs)
