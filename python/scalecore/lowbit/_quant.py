"""Element codecs (encode/decode) and block quantizers (quantize/Quantized)."""
from __future__ import annotations

import os
from typing import Literal

import numpy as np

from .. import _core
from ._formats import block_id, element_id, formats, resolve

_ROUNDING = {"nearest": 0, "half_away": 1, "stochastic": 2}
_MX = ("mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4", "mxint8")
_FP32_MAX = np.float32(3.4028235e38)


def _mode(rounding: str) -> int:
    if rounding not in _ROUNDING:
        raise ValueError(f"rounding: expected one of {', '.join(_ROUNDING)}, got {rounding!r}")
    return _ROUNDING[rounding]


def _seed(seed, mode: int) -> int:
    if seed is None:
        return int.from_bytes(os.urandom(8), "little") if mode == 2 else 0
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an int or None, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed: expected 0 <= seed < 2**64, got {seed}")
    return int(seed)


def _as_f32(x, name: str = "x") -> np.ndarray:
    """Input as C-contiguous float32: float16/bfloat16 widen exactly; float64
    and integers round to nearest float32 first, as ml_dtypes' casts do (so a
    float64 can round twice: 1 + 2^-4 + 2^-40 becomes the E4M3 tie 1.0625
    and then 1.0, exactly like ``x.astype(ml_dtypes.float8_e4m3fn)``)."""
    a = np.asarray(x)
    if a.dtype == np.float32:
        return np.asarray(a, order="C")
    if a.dtype.kind in "fiu" and a.dtype.kind != "c":
        return np.asarray(a, dtype=np.float32, order="C")
    if a.dtype.kind == "V" or a.dtype.type.__module__.startswith("ml_dtypes"):
        try:
            return np.asarray(a.astype(np.float32), order="C")
        except (TypeError, ValueError):
            pass
    raise TypeError(f"{name}: expected a real floating-point or integer array, got dtype {a.dtype}")


def encode(x, fmt: str, *, saturate: bool = False, rounding: str = "nearest", seed: int | None = None) -> np.ndarray:
    """Encodes every element of ``x`` in an element format: one uint8 code per element.

    Parameters
    ----------
    x : array_like
        Real values (float32 as is; float16 / bfloat16 widen exactly; float64
        and integers are rounded to float32 first, as ml_dtypes' own casts
        do, so the codes still equal ``x.astype(ml_dtypes.<fmt>)``).
    fmt : str
        An element format of ``scalecore.lowbit.formats``: ``float8_e4m3fn``,
        ``float8_e5m2``, ``float6_e3m2fn``, ``float6_e2m3fn``,
        ``float4_e2m1fn``, ``float8_e8m0fnu``, ``ue5m3``, ``int8``, ``int4``,
        ``uint4``.
    saturate : bool
        ``False`` (ml_dtypes' rule): overflow and +-Inf become Inf (E5M2) or
        NaN (E4M3FN, E8M0FNU, UE5M3); ``True``: +-max (the OCP "saturating"
        conversion, as ``__NV_SATFINITE``), equal to clipping to +-max first.
        FP6/FP4 have neither Inf nor NaN and always saturate; integers always
        clamp to their range.
    rounding : {"nearest", "half_away", "stochastic"}
        Round to nearest with ties to even (IEEE, ml_dtypes), ties away from
        zero (microxcaling's "nearest"), or stochastically: up with
        probability equal to the distance from the value below over the
        spacing (unbiased), with Philox4x32-10 bits keyed by (seed, element
        index in C order), so results do not depend on the thread count.
    seed : int, optional
        Stochastic rounding only (a random seed when omitted).

    Returns
    -------
    numpy.ndarray of uint8, shape of ``x``
        Codes in the low ``bits`` bits: for the formats ml_dtypes has,
        bit-equal to ``x.astype(ml_dtypes.<fmt>).view(np.uint8)``.  NaN: the
        format's NaN with the input's sign (FP6/FP4: a zero of the opposite
        sign, as ml_dtypes);
        negative inputs to unsigned formats: NaN; E8M0 has no zero (0 -> NaN,
        as ml_dtypes); integer codes are two's complement (``int4``: a nibble),
        NaN -> 0.
    """
    f = element_id(fmt)
    mode = _mode(rounding)
    xs = _as_f32(x)
    return _core.lowbit_encode(xs, f, bool(saturate), mode, _seed(seed, mode)).reshape(xs.shape)


def decode(codes, fmt: str) -> np.ndarray:
    """Decodes uint8 codes of an element format to float32.

    Parameters
    ----------
    codes : array_like of uint8
        One code per element (bits above the format's width are ignored), or
        an ml_dtypes array of the same one-byte format.
    fmt : str
        An element format (see :func:`encode`).

    Returns
    -------
    numpy.ndarray of float32
        Exact values; NaN codes give a quiet NaN with the code's sign.
    """
    f = element_id(fmt)
    c = np.asarray(codes)
    if c.dtype != np.uint8:
        if c.dtype.itemsize == 1 and c.dtype.kind not in "biu":
            c = c.view(np.uint8)
        else:
            raise TypeError(f"codes: expected a uint8 array, got dtype {c.dtype}")
    c = np.asarray(c, order="C")
    return _core.lowbit_decode(c, f).reshape(c.shape)


class Quantized:
    """Packed codes plus scales of a block- or group-quantized tensor.

    Layout (``rows`` = the product of the other axes after the quantized
    ``axis`` is moved last, ``K`` = the quantized axis' length; for
    ``group_size="tensor"`` rows = 1 and K = the number of elements):

    * ``codes``: uint8 ``(rows, K // pack)``.  ``pack == 2`` (FP4, INT4,
      UINT4): element 2i in the low nibble and 2i+1 in the high nibble of byte
      i; INT4 nibbles are two's complement; FP4 nibbles are E2M1 codes.
      ``pack == 1``: one code per byte (FP6 codes in the low 6 bits; int8 /
      mxint8 as two's complement, viewable as int8; uint8 for asymmetric int8).
    * ``scales``: ``(rows, K // block)``: uint8 E8M0 codes (MX), uint8 E4M3
      codes (NVFP4, int4_fp8scale), or float32 (int8 / int4 / uint4).
    * ``zeros``: uint8 ``(rows, K // block)`` zero points (asymmetric only),
      else ``None``.
    * ``tensor_scale``: float32 per-tensor scale (NVFP4: multiplied in;
      int4_fp8scale: the multiplier 2^k, divided out), else ``None``.

    Dequantized value of element j of block b: ``decode(code) * S_b`` with
    ``S_b = 2^(scale - 127)`` (MX; mxint8 codes are fixed point 1.6, times
    2^-6), ``decode_e4m3(scale) * tensor_scale`` (NVFP4), ``scale`` (int),
    ``(code - zero) * scale`` (asymmetric), ``code * decode_e4m3(scale) /
    tensor_scale`` (int4_fp8scale).  An MX block with the NaN scale 0xFF
    dequantizes to NaN.

    The constructor checks every array's dtype and shape against ``shape``,
    ``fmt``, ``axis`` and ``group_size``, so saved arrays can be reloaded.
    """

    def __init__(self, fmt: str, shape, codes, scales, *, axis: int = -1, group_size=None, zeros=None,
                 tensor_scale=None) -> None:
        self.fmt = resolve(fmt)
        bid = block_id(self.fmt)
        info = formats[self.fmt]
        self.shape = tuple(int(s) for s in shape)
        nd = len(self.shape)
        if nd == 0:
            raise ValueError("shape: a Quantized tensor has at least one axis")
        if not -nd <= axis < nd:
            raise ValueError(f"axis: {axis} is out of range for shape {self.shape}")
        self.axis = axis % nd
        if group_size == "tensor":
            rows, K, g = 1, int(np.prod(self.shape)), int(np.prod(self.shape))
        else:
            K = self.shape[self.axis]
            rows = int(np.prod(self.shape)) // K if K else 0
            g = info.block if info.block else (K if group_size is None else int(group_size))
        self.group_size = group_size if group_size == "tensor" else g
        self._rows, self._K, self._g, self._bid = rows, K, g, bid
        pack = info.pack
        self.codes = _checked(codes, np.uint8, (rows, K // pack), "codes")
        sdt = np.float32 if info.scale == "float32" else np.uint8
        self.scales = _checked(scales, sdt, (rows, K // g if g else 0), "scales")
        self.zeros = None if zeros is None else _checked(zeros, np.uint8, (rows, K // g), "zeros")
        if info.tensor_scale:
            if tensor_scale is None:
                raise ValueError(f"tensor_scale: {self.fmt} needs its per-tensor scale")
            ts = float(tensor_scale)
            if not (np.isfinite(ts) and ts > 0):
                raise ValueError(f"tensor_scale: expected a finite number > 0, got {tensor_scale}")
            self.tensor_scale = np.float32(ts)
        else:
            self.tensor_scale = None

    def dequantize(self) -> np.ndarray:
        """The float32 values the codes and scales represent, in the original shape."""
        ts = float(self.tensor_scale) if self.tensor_scale is not None else 1.0
        out = _core.lowbit_dequantize(self._bid, self.codes, self.scales, self.zeros, self._rows, self._K, self._g,
                                      ts)
        return _restore(out, self.shape, self.axis, self.group_size == "tensor")

    @property
    def nbytes(self) -> int:
        """Bytes of codes, scales and zero points."""
        return self.codes.nbytes + self.scales.nbytes + (self.zeros.nbytes if self.zeros is not None else 0)

    def __repr__(self) -> str:
        return (f"Quantized(fmt={self.fmt!r}, shape={self.shape}, axis={self.axis}, group_size={self.group_size}, "
                f"codes={self.codes.shape}, scales={self.scales.shape}{', asymmetric' if self.zeros is not None else ''})")


def _checked(a, dtype, shape, name):
    a = np.asarray(a)
    if a.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype).name}, got {a.dtype}")
    if a.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {a.shape}")
    return np.ascontiguousarray(a)


def _to_rows(x: np.ndarray, axis: int, per_tensor: bool) -> np.ndarray:
    if per_tensor:
        return x.reshape(1, -1)
    y = np.moveaxis(x, axis, -1)
    return np.ascontiguousarray(y).reshape(int(np.prod(y.shape[:-1], dtype=np.int64)), y.shape[-1])


def _restore(out: np.ndarray, shape, axis: int, per_tensor: bool) -> np.ndarray:
    if per_tensor:
        return out.reshape(shape)
    moved = list(shape)
    moved.append(moved.pop(axis))
    return np.moveaxis(out.reshape(moved), -1, axis)


def quantize(x, fmt: str, *, axis: int = -1, group_size: int | None | Literal["tensor"] = None,
             symmetric: bool = True, rounding: str = "nearest", seed: int | None = None,
             tensor_scale: float | None = None) -> Quantized:
    """Quantizes ``x`` to a block or group format.

    Parameters
    ----------
    x : array_like
        Real values (converted to float32 as in :func:`encode`).
    fmt : str
        * MX (OCP Microscaling v1.0): ``mxfp8_e4m3``, ``mxfp8_e5m2``,
          ``mxfp6_e3m2``, ``mxfp6_e2m3``, ``mxfp4``, ``mxint8``.  Blocks of 32
          along ``axis``, one E8M0 scale 2^e each, ``e = floor(log2(amax)) -
          emax(element)`` clamped to [-127, 127] (emax 8, 15, 4, 2, 2, 0); an
          all-zero block gets microxcaling's ``e = max(-126 - emax, -127)``;
          elements ``x / 2^e`` rounded (``rounding``) with saturation to
          +-max normal (the spec's required conversion); mxint8 elements are
          fixed point 1.6 in [-127, 127] (no -128, as microxcaling).  A block
          holding NaN or +-Inf gets the NaN scale 0xFF and zero codes, so the
          whole block dequantizes to NaN (OCP MX: a NaN scale makes every
          element NaN).  Note the spec's known rounding loss: block maxima with
          ``amax / 2^e`` above the element max clamp to it.
        * ``nvfp4``: E2M1 elements in blocks of 16 with an E4M3 scale and a
          float32 per-tensor scale, NVIDIA's two-level recipe (as torchao):
          ``s_t = amax(x) / (448 * 6)`` (1 when amax is 0; or ``tensor_scale``
          when given), ``s_b = E4M3_rne(clip(amax_b / 6 / s_t, 2^-6, 448))``,
          element ``E2M1(clip(x / (s_t * s_b), -6, 6))``, all in float32.
          NaN/Inf input raises ValueError (one would poison s_t).
        * ``fp4_ue5m3``: E2M1 elements in blocks of 16 with one UE5M3 scale
          each and no per-tensor scale (the UE5M3 proposal of arXiv
          2509.17791 / 2601.19026; block size 16 is our choice):
          ``scale = UE5M3_rne(amax_b / 6)`` (saturating at 114688), element
          ``E2M1(clip(x / scale, -6, 6))``; a scale that rounds to 0
          (amax_b / 6 < 2^-18) gives zero codes; a block with NaN/Inf gets
          the NaN scale 0xFF and dequantizes to NaN.
        * ``int8``, ``int4`` (the shared INT4/INT8 rule): symmetric, groups of
          ``group_size`` consecutive elements along the quantized axis (default
          the last axis; group_size=None means per-channel, i.e. the whole
          axis; a per-tensor mode is one group: ``group_size="tensor"``);
          amax = max|x| over the group; scale = amax / qmax in float32 (qmax 7
          for int4, 127 for int8); code = clamp(rint_half_even(x / scale)
          computed in float32, -qmax-1, qmax); a group with amax == 0 stores
          scale 0 and codes 0 (so does a group whose amax / qmax underflows to
          0); dequantized value = code * scale in float32.  INT4 packing in
          ``Quantized``: two nibbles per byte, element 2i in the low nibble,
          2i+1 in the high nibble, two's-complement nibbles.
          Asymmetric (``symmetric=False``, or ``uint4``): ``lo = min(min x,
          0)``, ``hi = max(max x, 0)``, ``scale = (hi - lo) / (2^bits - 1)``,
          ``zero = clamp(rint(-lo / scale), 0, 2^bits - 1)``, ``code =
          clamp(rint(x / scale) + zero, 0, 2^bits - 1)`` (unsigned codes),
          value ``(code - zero) * scale``.  NaN/Inf input raises ValueError.
        * ``int4_fp8scale``: FireQ's INT4 weights with E4M3 group scales and a
          per-tensor power-of-two multiplier, see :func:`quantize_int4_fp8scale`.
    axis : int
        The quantized axis (K of a GEMM; the last by default).
    group_size : int, None or "tensor"
        Integer formats: see above (typical 32, 64, 128).  MX and NVFP4 have
        fixed blocks (None or 32 / 16).  The axis length must be a multiple.
    symmetric : bool
        Integer formats only.
    rounding : {"nearest", "half_away", "stochastic"}
        Element rounding (scales always use their own rule).  ``half_away``
        is microxcaling's default ``nearest`` mode.
    seed : int, optional
        Stochastic rounding only; keyed by (seed, element index in the
        (rows, K) layout).
    tensor_scale : float, optional
        NVFP4 only: a calibrated per-tensor scale (finite, > 0).

    Returns
    -------
    Quantized
    """
    name = resolve(fmt)
    if name == "int4_fp8scale":
        return quantize_int4_fp8scale(x, axis=axis, group_size=128 if group_size is None else group_size,
                                      rounding=rounding, seed=seed)
    bid = block_id(name)
    mode = _mode(rounding)
    s = _seed(seed, mode)
    xs = _as_f32(x)
    if xs.ndim == 0:
        raise ValueError("x: expected at least one axis")
    if not -xs.ndim <= axis < xs.ndim:
        raise ValueError(f"axis: {axis} is out of range for an array of {xs.ndim} dimensions")
    if xs.shape[axis] == 0:
        raise ValueError(f"x: the quantized axis (axis={axis}) has length 0; there is nothing to scale")
    info = formats[name]
    if tensor_scale is not None and name != "nvfp4":
        raise ValueError(f"tensor_scale: only nvfp4 takes a per-tensor scale, not {name}")
    if name in _MX or name in ("nvfp4", "fp4_ue5m3"):
        if group_size not in (None, info.block):
            raise ValueError(f"group_size: {name} has a fixed block of {info.block} elements, got {group_size!r}")
        rows2 = _to_rows(xs, axis, False)
        K = rows2.shape[1]
        if K % info.block:
            raise ValueError(f"x: the quantized axis (axis={axis}, length {K}) must be a multiple of {name}'s block "
                             f"of {info.block}")
        if name == "nvfp4":
            if tensor_scale is not None:
                ts = float(tensor_scale)
                if not (np.isfinite(ts) and ts > 0):
                    raise ValueError(f"tensor_scale: expected a finite number > 0, got {tensor_scale}")
            else:
                ts = 0.0
            codes, scales, st = _core.lowbit_quantize_nvfp4(rows2, ts, mode, s)
            return Quantized(name, xs.shape, codes, scales, axis=axis, tensor_scale=st)
        if name == "fp4_ue5m3":
            codes, scales = _core.lowbit_quantize_fp4_ue5m3(rows2, mode, s)
        else:
            codes, scales = _core.lowbit_quantize_mx(rows2, bid, mode, s)
        return Quantized(name, xs.shape, codes, scales, axis=axis)
    # integer groups
    if name == "uint4":
        symmetric = False
    bits = 4 if name in ("int4", "uint4") else 8
    per_tensor = group_size == "tensor"
    rows2 = _to_rows(xs, axis, per_tensor)
    K = rows2.shape[1]
    if per_tensor or group_size is None:
        g = K
    else:
        if isinstance(group_size, (bool, np.bool_)) or not isinstance(group_size, (int, np.integer)):
            raise TypeError(f"group_size: expected an int, None or 'tensor', got {group_size!r}")
        g = int(group_size)
        if g <= 0:
            raise ValueError(f"group_size: expected > 0, got {g}")
    if K % g:
        raise ValueError(f"x: the quantized axis (axis={axis}, length {K}) must be a multiple of group_size={g}")
    if bits == 4 and g % 2:
        raise ValueError(f"group_size: {name} packs two codes per byte, so groups must have an even length, got {g}")
    codes, scales, zeros = _core.lowbit_quantize_int(rows2, bits, bool(symmetric), g, mode, s)
    fmt_name = name if symmetric or name == "uint4" else ("uint4" if bits == 4 else name)
    return Quantized(fmt_name, xs.shape, codes, scales, axis=axis,
                     group_size="tensor" if per_tensor else (None if group_size is None else g), zeros=zeros)


def quantize_int4_fp8scale(w, *, axis: int = -1, group_size: int = 128, rounding: str = "nearest",
                           seed: int | None = None) -> Quantized:
    """FireQ's INT4 weights with FP8 E4M3 group scales (arXiv 2505.20839).

    The group scale ``amax_g / 7`` must itself be an E4M3 number, and small
    groups underflow E4M3 (smallest subnormal 2^-9).  As FireQ's
    ``PseudoQuantLinearScaled_I4F8_F8``: the weights are clipped to +-448,
    then the whole tensor is multiplied by ``2^k``, k = 0..14, with k chosen to
    minimise the number of groups whose scale ``amax_g 2^k / 7`` is below
    2^-9 (underflow), among the k for which no scale exceeds 448 (overflow);
    ties go to the smaller k.  Then, per group: ``scale = E4M3_rne(amax_g 2^k
    / 7)``, ``code = clamp(rint(w 2^k / scale), -8, 7)`` (0 where the scale is
    0), and the dequantized weight is ``code * scale / 2^k``.

    Returns
    -------
    Quantized
        ``fmt="int4_fp8scale"``, codes packed like int4, ``scales`` uint8 E4M3
        codes, ``tensor_scale = 2^k`` (float32; divide a GEMM's output by it,
        multiply a bias by it).
    """
    mode = _mode(rounding)
    s = _seed(seed, mode)
    xs = _as_f32(w, "w")
    if xs.ndim == 0:
        raise ValueError("w: expected at least one axis")
    if not -xs.ndim <= axis < xs.ndim:
        raise ValueError(f"axis: {axis} is out of range for an array of {xs.ndim} dimensions")
    if xs.shape[axis] == 0:
        raise ValueError(f"w: the quantized axis (axis={axis}) has length 0; there is nothing to scale")
    if not np.all(np.isfinite(xs)):
        raise ValueError("w: NaN or Inf in the weights; int4_fp8scale cannot represent them")
    rows2 = np.clip(_to_rows(xs, axis, False), -448.0, 448.0).astype(np.float32)
    K = rows2.shape[1]
    g = int(group_size)
    if g <= 0 or K % g or g % 2:
        raise ValueError(f"group_size: must be even and divide the quantized axis (length {K}), got {group_size}")
    amax = _core.lowbit_group_absmax(rows2, g).astype(np.float64).ravel()
    k = select_fp8_multiplier(amax)
    codes, scales = _core.lowbit_quantize_int4_fp8scale(rows2, g, float(2.0**k), mode, s)
    return Quantized("int4_fp8scale", xs.shape, codes, scales, axis=axis, group_size=g, tensor_scale=2.0**k)


def select_fp8_multiplier(group_amax, *, qmax: float = 7.0, kmax: int = 14) -> int:
    """FireQ's per-tensor exponent k in 0..kmax for group maxima ``group_amax``.

    Minimises ``#{g : amax_g 2^k / qmax < 2^-9}`` (E4M3 underflow) subject to
    ``max_g amax_g 2^k / qmax <= 448`` (no E4M3 overflow); ties -> smaller k.
    k = 0 is returned when every k overflows.
    """
    a = np.asarray(group_amax, dtype=np.float64).ravel()
    best, best_under = 0, None
    for k in range(kmax + 1):
        sc = a * 2.0**k / qmax
        if sc.size and sc.max() > 448.0:
            continue
        under = int(np.count_nonzero(sc < 2.0**-9))
        if best_under is None or under < best_under:
            best, best_under = k, under
    return best
