"""scalecore.lowbit: low-bit number formats, codecs and quantizers.

* :data:`formats` - the catalogue of formats and their traits, from the one
  C++ table ``cpp/include/scalecore/lowbit/formats.def``: element formats
  (``float8_e4m3fn``, ``float8_e5m2``, ``float6_e3m2fn``, ``float6_e2m3fn``,
  ``float4_e2m1fn``, ``float8_e8m0fnu``, ``ue5m3``, ``int8``, ``int4``,
  ``uint4``) and block formats (``mxfp8_e4m3``, ``mxfp8_e5m2``,
  ``mxfp6_e3m2``, ``mxfp6_e2m3``, ``mxfp4``, ``mxint8``, ``nvfp4``, ``fp4_ue5m3``, ``int8``,
  ``int4``, ``uint4``, ``int4_fp8scale``).
* :func:`encode` / :func:`decode` - one uint8 code per element, bit-equal to
  ml_dtypes' casts where ml_dtypes has the format; saturating and
  non-saturating modes; nearest-even, half-away and stochastic rounding.
* :func:`quantize` -> :class:`Quantized` - MX (OCP v1.0), NVFP4, INT8/INT4
  groups (symmetric and asymmetric) and FireQ's INT4 with E4M3 scales.
* :func:`hadamard` - the randomized fast Walsh-Hadamard transform.
* :class:`PackedLinear` - a linear layer with INT4/INT8 weights packed for the
  fused-dequant CPU GEMV/GEMM kernels (W4A32, W4A16 bfloat16, W4A8, W8A8).

The C++ kernels run at every SIMD level (reference, generic, AVX2) on the
thread pool; results do not depend on the level or the thread count.
"""
from ._formats import Format, formats
from ._hadamard import hadamard, hadamard_signs
from ._linear import PackedLinear
from ._quant import Quantized, decode, encode, quantize, quantize_int4_fp8scale, select_fp8_multiplier

__all__ = [
    "formats",
    "Format",
    "encode",
    "decode",
    "quantize",
    "Quantized",
    "quantize_int4_fp8scale",
    "select_fp8_multiplier",
    "hadamard",
    "hadamard_signs",
    "PackedLinear",
]
