"""The fused edge -> node convolution of the Clebsch-Gordan product.

``Convolution(...)(node_features, edge_attrs, edge_weights, edge_src,
edge_dst, num_nodes)`` equals::

    torch.zeros(num_nodes, irreps_out.dim).index_add_(
        0, edge_dst, tp(node_features[edge_src], edge_attrs, edge_weights))

without materialising the gathered inputs or the per-edge outputs: the C++
kernel groups the edges by receiver (a stable counting sort) and sums each
node's edges in ascending edge order, so the result does not depend on the
thread count.  The backward is the same fused op: the node-feature gradient
is grouped by sender, the edge gradients are per edge.
"""
from __future__ import annotations

from typing import Any, Optional

import torch

from . import _ops
from ._product import TensorProduct, _check_tensor

__all__ = ["Convolution"]


def _check_index(t: Any, name: str, n_edges: Optional[int]) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of int64 indices, got {type(t).__name__}")
    if t.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name}: expected an int64 (or int32) index tensor, got {t.dtype}")
    if t.device.type != "cpu":
        raise TypeError(f"{name}: expected a CPU tensor, got one on {t.device}")
    if t.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D tensor of edge indices, got shape {tuple(t.shape)}")
    if n_edges is not None and t.shape[0] != n_edges:
        raise ValueError(f"{name}: expected {n_edges} entries (one per edge), got {t.shape[0]}")
    return t.to(torch.int64).contiguous()


class Convolution(TensorProduct):
    """Fused ``index_add(dst, tp(x[src], edge_attrs, edge_weights))``.

    The constructor takes :class:`TensorProduct`'s arguments; the weights
    default to per edge (``shared_weights=False``, ``internal_weights=False``).

    Raises
    ------
    TypeError
        Edge indices that are not integer tensors, or features of another
        dtype.
    ValueError
        Edge indices out of ``[0, num_nodes)`` (when the op runs), widths that
        do not match the irreps, or weights of the wrong size.
    """

    def __init__(self, irreps_in1: Any, irreps_in2: Any, irreps_out: Any, instructions, *args,
                 shared_weights: Optional[bool] = False, internal_weights: Optional[bool] = None, **kwargs) -> None:
        super().__init__(irreps_in1, irreps_in2, irreps_out, instructions, *args, shared_weights=shared_weights,
                         internal_weights=internal_weights, **kwargs)

    def forward(self, node_features: torch.Tensor, edge_attrs: torch.Tensor,  # type: ignore[override]
                edge_weights: Optional[torch.Tensor], edge_src: torch.Tensor, edge_dst: torch.Tensor,
                num_nodes: int) -> torch.Tensor:
        """Node outputs ``(num_nodes, irreps_out.dim)``.

        Parameters
        ----------
        node_features : ``(num_nodes, irreps_in1.dim)``
        edge_attrs : ``(num_edges, irreps_in2.dim)``
        edge_weights : ``(num_edges, weight_numel)`` (``(weight_numel,)`` when
            shared; None with internal weights)
        edge_src, edge_dst : ``(num_edges,)`` int64 sender / receiver nodes
        num_nodes : int
        """
        _check_tensor(node_features, "node_features")
        _check_tensor(edge_attrs, "edge_attrs")
        if node_features.ndim != 2 or node_features.shape[1] != self._in1_dim:
            raise ValueError(f"node_features: expected shape (num_nodes, {self._in1_dim}), got "
                             f"{tuple(node_features.shape)}")
        if edge_attrs.ndim != 2 or edge_attrs.shape[1] != self._in2_dim:
            raise ValueError(f"edge_attrs: expected shape (num_edges, {self._in2_dim}), got "
                             f"{tuple(edge_attrs.shape)}")
        if node_features.shape[0] != num_nodes:
            raise ValueError(f"node_features: expected {num_nodes} rows (num_nodes), got {node_features.shape[0]}")
        if edge_attrs.dtype != node_features.dtype:
            raise TypeError(f"edge_attrs: expected dtype {node_features.dtype}, got {edge_attrs.dtype}")
        n_edges = edge_attrs.shape[0]
        w = self._get_weights(edge_weights)
        if self.weight_numel == 0:
            w = node_features.new_zeros((0,) if self.shared_weights else (n_edges, 0))
        else:
            if w.dtype != node_features.dtype:
                raise TypeError(f"edge_weights: expected dtype {node_features.dtype}, got {w.dtype}")
            if not self.shared_weights and (w.ndim != 2 or w.shape[0] != n_edges):
                raise ValueError(f"edge_weights: expected shape ({n_edges}, {self.weight_numel}), got "
                                 f"{tuple(w.shape)}")
        src = _check_index(edge_src, "edge_src", n_edges)
        dst = _check_index(edge_dst, "edge_dst", n_edges)
        return _ops.contract(self._plan_id, 3, node_features.contiguous(), edge_attrs.contiguous(), w.contiguous(),
                             None, src, dst, int(num_nodes), self.shared_weights)
