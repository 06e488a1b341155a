"""scalecore.lowbit: low-bit number formats and fused-dequant GEMV/GEMM.

* :class:`PackedLinear` - a linear layer with INT4/INT8 weights packed for the
  CPU kernels (W4A32, W4A16 bfloat16, W4A8, W8A8).
"""
from ._linear import PackedLinear

__all__ = ["PackedLinear"]
