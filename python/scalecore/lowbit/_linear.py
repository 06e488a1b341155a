"""PackedLinear: a linear layer whose weights are packed INT4/INT8 codes.

The weight (out, in) is quantized symmetrically in groups of ``group_size``
consecutive elements along the input dimension (``None``: one group per row,
per-channel):

    amax = max |w| over the group,  scale = amax / qmax  (float32; qmax 7 for
    int4, 127 for int8),  code = clamp(rint_half_even(w / scale), -qmax-1, qmax),

a group with amax == 0 storing scale 0 and codes 0; the dequantized weight is
``code * scale`` in float32.  Calling the layer runs the C++ fused-dequant
kernels (the GEMV for up to 4 rows streams the weights once; larger batches
run the panel GEMM), multithreaded on scalecore's pool, at the active SIMD
level (``scalecore.simd_level``).

Determinism: every path gives the same bits for any thread count.  The integer
activation path (``act="int8"``) also gives the same bits for a row whatever
the batch it is in.  The float paths sum in a different order in the GEMV
(calls of up to 4 rows) than in the GEMM (5 rows or more), so a row computed
alone can differ in the last bits from the same row in a larger batch; both
are within the float32 accumulation bound stated for ``act`` below.  In the
GEMV, int4 weights with groups of 128j against activations that are all
bfloat16-exact (``act="bfloat16"``, or such float32 input), finite and 0 or
>= 2^-100 in magnitude use the CPU's AVX512_BF16 dot products where it has
them, so there a row's last bits also depend on whether the other rows of
the call qualify (same bound).
"""
from __future__ import annotations

import sys
from typing import Any, Optional

import numpy as np

from .. import _core
from .._array import shape_str, to_numpy

WEIGHT_FORMATS = ("int4", "int8", "mxfp4", "nvfp4")
E2M1_VALUES = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6], np.float32)
ACTIVATIONS = ("float32", "bfloat16", "int8", "float8_e4m3fn")
E4M3_MAX = np.float32(448.0)


def _floats(x: Any, name: str) -> np.ndarray:
    """``x`` as float32 (bfloat16 from ml_dtypes or torch converts exactly)."""
    if type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous:
        return x  # the per-token GEMV path: no conversion work
    mod = type(x).__module__.split(".")[0]
    if mod == "torch" and str(getattr(x, "dtype", "")) in ("torch.bfloat16", "torch.float16"):
        x = x.detach().float()
    arr = to_numpy(x, name)
    if arr.dtype.name in ("bfloat16", "float16"):
        arr = arr.astype(np.float32)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected a real numeric array (castable to float32), got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _like(y: np.ndarray, x: Any) -> Any:
    """``y`` returned in the array type of the caller's ``x`` (numpy for numpy
    and array-likes; torch for torch tensors; other DLPack producers through
    their module's ``from_dlpack`` when it has one)."""
    if isinstance(x, np.ndarray) or not hasattr(x, "__dlpack__"):
        return y
    mod = sys.modules.get(type(x).__module__.split(".")[0])
    fn = getattr(mod, "from_dlpack", None)
    if fn is None:
        return y
    return fn(y)


def _pack_fp4(w: np.ndarray, fmt: str):
    """OCP MXFP4 or NVFP4 by scalecore.lowbit.quantize, repacked into the
    kernel layout with float32 block scales: MXFP4 2^(e - 127) (exact),
    NVFP4 ``float32(decode_e4m3(s) * tensor_scale)`` (the block scale of
    ``Quantized.dequantize``)."""
    from ._quant import decode, quantize

    q = quantize(w, fmt)
    packed = q.codes  # element 2i in the low nibble of byte i
    codes = np.empty((w.shape[0], w.shape[1]), np.int8)
    codes[:, 0::2] = packed & 0xF
    codes[:, 1::2] = packed >> 4
    if fmt == "mxfp4":
        scales = decode(np.ascontiguousarray(q.scales), "float8_e8m0fnu").astype(np.float32)
    else:
        scales = (decode(np.ascontiguousarray(q.scales), "float8_e4m3fn").astype(np.float32)
                  * np.float32(q.tensor_scale)).astype(np.float32)
    scales = np.ascontiguousarray(scales)
    if not np.isfinite(scales).all():
        raise ValueError(f"weight: a {fmt} block scale is not finite")
    return _core.lowbit_pack_codes(codes, "mxfp4", 32), scales


class PackedLinear:
    """A linear layer ``y = x @ W.T (+ bias)`` with low-bit packed weights.

    Parameters
    ----------
    weight : array_like, shape (out_features, in_features)
        Float weights; quantized and packed at construction.  Must be finite
        (a NaN or Inf weight raises ``ValueError``).
    fmt : {"int4", "int8", "mxfp4", "nvfp4"}
        Weight format: symmetric codes in [-8, 7] or [-128, 127], or OCP
        MXFP4 (E2M1 elements with one E8M0 scale per 32, quantized by
        :func:`scalecore.lowbit.quantize`, so ``dequantize()`` equals
        ``quantize(W, "mxfp4").dequantize()``), or NVFP4 (E2M1, one E4M3
        scale per 16 and a float32 tensor scale, held as float32 block
        scales ``decode_e4m3(s) * tensor_scale``).  MXFP4 and NVFP4 run the
        float activations (``"float32"``, ``"bfloat16"``, ``"float8_e4m3fn"``).
    group_size : int or None, default 128
        Elements per scale along ``in_features``: a positive multiple of 32
        that divides ``in_features``; ``None`` is one scale per output row.
        ``"mxfp4"`` / ``"nvfp4"`` use their own blocks (32 / 16; the argument
        is ignored; ``in_features`` must be a multiple of 32).
    act : {"float32", "bfloat16", "int8"}
        Activation numerics.  ``"float32"``: ``y = x @ dequantize().T`` to
        float32 rounding (accumulation error at most
        ``(K + 3) * 2**-24 * sum_k |x_k| |W_nk|``).  ``"bfloat16"``: ``x`` is
        first rounded to the nearest bfloat16 (ties to even), then as float32:
        the product of the bf16 activations with the dequantized weights,
        accumulated in float32, with the same bound plus an absolute
        ``2**-118 * sum_k |scale_{n,g(k)}|`` (the AVX512_BF16 GEMM, 5 rows or
        more, flushes bf16 subnormal activations and partial sums to zero;
        each group's dot is in float32, then scaled).  ``"int8"``: ``x`` is quantized per token (per
        row) by the same symmetric rule with qmax = 127 (a row holding NaN or
        Inf gives a NaN output row); the integer products are summed exactly
        in int32 per group, then scaled in float32 (``p_g = float(isum_g) *
        scale_g`` summed in eight chains ``g mod 8``, combined by a fixed
        tree, times the token scale, plus bias): bit-identical at every SIMD
        level.  ``"float8_e4m3fn"`` (FireQ-style INT4 x FP8): per token
        ``s = amax / 448`` (float32), the activations encoded as E4M3 codes of
        ``x / s`` with saturation to +-448, nearest-even (``encode(...,
        saturate=True)``); then ``y = s * (e4m3 @ dequantize().T) (+ bias)``
        in float32 from the exact E4M3 values, with the float32 bound above
        (a row holding NaN or Inf gives NaN, an all-zero row gives the bias).
    bias : array_like, shape (out_features,), optional

    Notes
    -----
    Calling on ``x`` of shape ``(..., in_features)`` returns float32 of shape
    ``(..., out_features)``: a numpy array for numpy input (or lists), a torch
    tensor for a torch tensor (zero-copy through DLPack), and likewise for
    other DLPack producers whose module has ``from_dlpack``.  ``x`` may be any
    real dtype, including bfloat16 (ml_dtypes or torch), which converts to
    float32 exactly.

    Examples
    --------
    >>> import numpy as np, scalecore.lowbit as lb
    >>> W = np.random.default_rng(0).standard_normal((256, 512)).astype(np.float32)
    >>> layer = lb.PackedLinear(W, "int4", group_size=128)
    >>> y = layer(np.ones((3, 512), np.float32))
    >>> y.shape
    (3, 256)
    """

    def __init__(self, weight: Any, fmt: str = "int4", *, group_size: Optional[int] = 128,
                 act: str = "float32", bias: Any = None) -> None:
        if not isinstance(fmt, str) or fmt not in WEIGHT_FORMATS:
            raise ValueError(f"fmt: expected one of {list(WEIGHT_FORMATS)}, got {fmt!r}")
        if not isinstance(act, str) or act not in ACTIVATIONS:
            raise ValueError(f"act: expected one of {list(ACTIVATIONS)}, got {act!r}")
        w = _floats(weight, "weight")
        if w.ndim != 2:
            raise ValueError(f"weight: expected a 2-D (out_features, in_features) array, got shape {shape_str(w.shape)}")
        n, k = w.shape
        if n == 0 or k == 0:
            raise ValueError(f"weight: expected a non-empty matrix, got shape {shape_str(w.shape)}")
        if fmt in ("mxfp4", "nvfp4"):
            if act == "int8":
                raise ValueError(f"act: 'int8' needs int4 or int8 weights; {fmt} runs 'float32', 'bfloat16' or "
                                 "'float8_e4m3fn'")
            if k % 32:
                raise ValueError(f"weight: in_features = {k} is not a multiple of 32 (the {fmt} kernel layout)")
            group_size = 32
        if group_size is None:
            g = k
            if k % 32:
                raise ValueError(f"weight: per-channel packing needs in_features a multiple of 32, got {k}")
        else:
            if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)):
                raise TypeError(f"group_size: expected an int or None, got {type(group_size).__name__}")
            g = int(group_size)
            if g <= 0 or g % 32:
                raise ValueError(f"group_size: expected a positive multiple of 32 or None, got {g}")
            if k % g:
                raise ValueError(f"weight: in_features = {k} is not a multiple of group_size = {g}")
        if not np.isfinite(w).all():
            raise ValueError("weight: expected finite values (NaN or Inf found)")
        self._sgroup = 16 if fmt == "nvfp4" else 0  # NVFP4: one scale per 16 in the 32-element layout
        if fmt in ("mxfp4", "nvfp4"):
            self._packed, self._scales = _pack_fp4(w, fmt)
        else:
            d = _core.lowbit_quantize_pack(w, fmt, g)
            self._packed = d["packed"]
            self._scales = d["scales"]
        self.fmt = fmt
        self.act = act
        self._lgroup = g  # the kernel layout's group (32 for the fp4 formats)
        self.group_size = 16 if fmt == "nvfp4" else g  # elements per scale
        self.in_features = k
        self.out_features = n
        if bias is None:
            self.bias: Optional[np.ndarray] = None
        else:
            b = _floats(bias, "bias")
            if b.shape != (n,):
                raise ValueError(f"bias: expected shape ({n},), got {shape_str(b.shape)}")
            self.bias = b

    # ------------------------------------------------------------------ data
    @property
    def _kfmt(self) -> str:
        return "mxfp4" if self.fmt == "nvfp4" else self.fmt  # the kernels' name of the E2M1 nibble layout

    @property
    def packed(self) -> np.ndarray:
        """The packed weight codes, uint8 (out_features, in_features * bits / 8)."""
        return self._packed

    @property
    def scales(self) -> np.ndarray:
        """The group scales, float32 (out_features, in_features / group_size)."""
        return self._scales

    @property
    def nbytes(self) -> int:
        """Bytes held: packed codes, scales and bias."""
        return int(self._packed.nbytes + self._scales.nbytes + (0 if self.bias is None else self.bias.nbytes))

    def codes(self) -> np.ndarray:
        """The integer codes, int8 (out_features, in_features); for mxfp4 the
        E2M1 codes 0..15."""
        kfmt = "mxfp4" if self.fmt == "nvfp4" else self.fmt  # same E2M1 nibble layout
        return _core.lowbit_unpack_codes(self._packed, kfmt, self.in_features, self._lgroup)

    def dequantize(self) -> np.ndarray:
        """The dequantized weight ``code * scale`` in float32 (for mxfp4
        ``e2m1(code) * 2^(e - 127)``), (out_features, in_features)."""
        n, k = self.out_features, self.in_features
        g = self.group_size
        codes = self.codes()
        c = (E2M1_VALUES[codes] if self.fmt in ("mxfp4", "nvfp4") else codes.astype(np.float32)).reshape(n, k // g, g)
        return (c * self._scales[:, :, None]).reshape(n, k)

    # ------------------------------------------------------------------ call
    def __call__(self, x: Any) -> Any:
        """``x @ W.T (+ bias)`` for ``x`` of shape ``(..., in_features)``."""
        xa = _floats(x, "x")
        k = self.in_features
        if xa.ndim == 0 or xa.shape[-1] != k:
            raise ValueError(f"x: expected shape (..., {k}), got {shape_str(xa.shape)}")
        lead = xa.shape[:-1]
        x2 = xa.reshape(-1, k)
        if self.act == "float8_e4m3fn":
            y = self._fp8_call(x2)
        else:
            # "bfloat16": the kernel rounds x to bf16 (lowbit_round_bf16's rule) itself
            y = _core.lowbit_linear(self._packed, self._scales, self._kfmt, k, self._lgroup, x=x2, bias=self.bias,
                                    quantize_x=self.act == "int8", sgroup=self._sgroup,
                                    bf16=self.act == "bfloat16")
        return _like(y.reshape(*lead, self.out_features), x)

    def quantize_activations(self, x: Any):
        """The per-token FP8 E4M3 activations of ``act="float8_e4m3fn"``:
        ``(codes uint8 (M, K), scales float32 (M,))`` for 2-D ``x``."""
        from ._quant import encode

        x2 = _floats(x, "x")
        with np.errstate(invalid="ignore"):
            amax = np.max(np.abs(x2), axis=1) if x2.shape[1] else np.zeros(x2.shape[0], np.float32)
        finite = np.isfinite(x2).all(axis=1)
        s = (amax / E4M3_MAX).astype(np.float32)
        s[~finite] = np.nan
        safe = np.where((s > 0) & finite, s, np.float32(1)).astype(np.float32)
        codes = encode(np.ascontiguousarray(x2 / safe[:, None], dtype=np.float32), "float8_e4m3fn", saturate=True)
        codes[(s == 0) | ~finite] = 0
        return codes, s

    def _fp8_call(self, x2: np.ndarray) -> np.ndarray:
        from ._quant import decode

        codes, s = self.quantize_activations(x2)
        xd = np.ascontiguousarray(decode(codes, "float8_e4m3fn"), dtype=np.float32)
        y = _core.lowbit_linear(self._packed, self._scales, self._kfmt, self.in_features, self._lgroup, x=xd,
                                sgroup=self._sgroup)
        y *= s[:, None]
        if self.bias is not None:
            y += self.bias
        return y

    def __repr__(self) -> str:
        return (f"PackedLinear(in_features={self.in_features}, out_features={self.out_features}, fmt={self.fmt!r}, "
                f"group_size={self.group_size}, act={self.act!r}, bias={self.bias is not None})")
