"""The format catalogue of scalecore.lowbit, read from the C++ table (formats.def)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from .. import _core

# Names ml_dtypes 0.6.0 gives the element formats it has.
_ML_DTYPES = {"float8_e4m3fn", "float8_e5m2", "float6_e3m2fn", "float6_e2m3fn", "float4_e2m1fn", "float8_e8m0fnu"}

_SATURATION = {
    "none": "FP6/FP4 have no Inf or NaN: overflow, +-Inf saturate to +-max in both modes; NaN encodes as -0 (-NaN as +0), as ml_dtypes",
    "fn": "no Inf: overflow and +-Inf give NaN (saturate=False) or +-max (saturate=True)",
    "ieee": "overflow and +-Inf give +-Inf (saturate=False) or +-max (saturate=True)",
}


@dataclass(frozen=True)
class Format:
    """Traits of one low-bit format (one entry of ``scalecore.lowbit.formats``).

    Attributes
    ----------
    name : str
        The format's name (ml_dtypes' name where ml_dtypes has the format).
    role : {"element", "block", "element+block"}
        ``"element"``: one code per element (``encode``/``decode``);
        ``"block"``: a scaled format (``quantize``); ``int8``/``int4``/``uint4``
        are both.
    kind : {"float", "int"}
        The element kind.
    bits, exponent_bits, mantissa_bits, bias : int
        Element encoding (value ``2^(e - bias) * (1 + m / 2^mantissa_bits)``
        for a float with exponent field ``e > 0``).
    signed : bool
    specials : {"none", "fn", "ieee"}
        ``fn``: no Inf, the all-ones magnitude is NaN; ``ieee``: Inf and NaN
        on the all-ones exponent; ``none``: every code is a number.
    max, min_normal, min_subnormal : float
        Of the element format (decoded from the codes).
    saturation : str
        What ``encode`` does with overflow, Inf and NaN.
    block : int or None
        Elements per scale (``None``: chosen with ``group_size``).
    scale : str or None
        Scale format (``"float8_e8m0fnu"`` for MX, ``"float8_e4m3fn"`` for
        NVFP4, ``"float32"`` for the integer groups).
    tensor_scale : bool
        A float32 per-tensor scale too (NVFP4, int4_fp8scale).
    pack : int or None
        Element codes per byte of ``Quantized.codes``.
    ml_dtype : str or None
        The ml_dtypes type with the same encoding.
    """

    name: str
    role: str
    kind: str
    bits: int
    exponent_bits: int
    mantissa_bits: int
    bias: int
    signed: bool
    specials: str
    max: float
    min_normal: float
    min_subnormal: float
    saturation: str
    block: int | None = None
    scale: str | None = None
    tensor_scale: bool = False
    pack: int | None = None
    element: str | None = None
    emax: int | None = None
    ml_dtype: str | None = None
    _elem_id: int | None = field(default=None, repr=False)
    _block_id: int | None = field(default=None, repr=False)


def _build() -> tuple[dict, dict, dict]:
    table = _core.lowbit_formats()
    elems = {e["name"]: e for e in table if e["role"] == "element"}
    blocks = {e["name"]: e for e in table if e["role"] == "block"}
    out: dict[str, Format] = {}
    for name in list(elems) + [b for b in blocks if b not in elems]:
        e = elems.get(name)
        b = blocks.get(name)
        base = e if e is not None else elems[b["element"]]
        vals = _core.lowbit_decode(np.arange(256, dtype=np.uint8), base["id"]).astype(np.float64)
        fin = np.abs(vals[np.isfinite(vals)])
        pos = fin[fin > 0]
        if base["kind"] == "int":
            vmax, vmin_n, vmin_s = float(vals.max()), 1.0, 1.0
        else:
            vmax, vmin_s = float(pos.max()), float(pos.min())
            vmin_n = (2.0 ** (1 - base["bias"])) if base["mantissa_bits"] > 0 else vmin_s
        role = "element+block" if (e is not None and b is not None) else ("element" if e is not None else "block")
        out[name] = Format(
            name=name, role=role, kind=base["kind"], bits=base["bits"], exponent_bits=base["exponent_bits"],
            mantissa_bits=base["mantissa_bits"], bias=base["bias"], signed=base["signed"],
            specials=base["specials"], max=vmax, min_normal=vmin_n, min_subnormal=vmin_s,
            saturation=("integers saturate to [min, max]; NaN -> 0" if base["kind"] == "int"
                        else _SATURATION[base["specials"]]),
            block=(b["block"] or None) if b else None, scale=b["scale"] if b else None,
            tensor_scale=bool(b["tensor_scale"]) if b else False, pack=b["pack"] if b else None,
            element=b["element"] if b else None, emax=b["emax"] if b else None,
            ml_dtype=name if name in _ML_DTYPES else None,
            _elem_id=e["id"] if e is not None else None, _block_id=b["id"] if b is not None else None)
    return out, {n: v["id"] for n, v in elems.items()}, {n: v["id"] for n, v in blocks.items()}


class _Catalogue(Mapping):
    """Read-only mapping ``name -> Format`` of every low-bit format."""

    def __init__(self) -> None:
        self._f, self._elem, self._block = _build()

    def __getitem__(self, name: str) -> Format:
        return self._f[resolve(name)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._f)

    def __len__(self) -> int:
        return len(self._f)

    def __repr__(self) -> str:
        lines = [f"{'name':16s} {'role':14s} {'bits':>4s} {'E':>2s} {'M':>2s} {'bias':>4s} {'max':>12s} "
                 f"{'block':>5s} {'scale':16s}"]
        for f in self._f.values():
            lines.append(f"{f.name:16s} {f.role:14s} {f.bits:4d} {f.exponent_bits:2d} {f.mantissa_bits:2d} "
                         f"{f.bias:4d} {f.max:12.6g} {str(f.block or '-'):>5s} {f.scale or '-':16s}")
        return "\n".join(lines)


formats = _Catalogue()


def resolve(fmt: str) -> str:
    """Checks a format name; raises ValueError listing the known names."""
    if not isinstance(fmt, str):
        raise TypeError(f"fmt: expected a format name (str), got {type(fmt).__name__}")
    if fmt not in formats._f:
        raise ValueError(f"fmt: unknown format {fmt!r}; known formats: {', '.join(formats._f)}")
    return fmt


def element_id(fmt: str) -> int:
    name = resolve(fmt)
    if name not in formats._elem:
        raise ValueError(f"fmt: {name!r} is a block format; encode/decode take an element format "
                         f"({', '.join(formats._elem)}); use quantize() for {name!r}")
    return formats._elem[name]


def block_id(fmt: str) -> int:
    name = resolve(fmt)
    if name not in formats._block:
        raise ValueError(f"fmt: {name!r} is an element format with no scale; quantize takes one of "
                         f"{', '.join(formats._block)} (use encode() for plain element codes)")
    return formats._block[name]
