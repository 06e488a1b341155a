"""Irreducible representations of O(3) and their direct sums, in e3nn's
conventions (e3nn 0.6, ``e3nn/o3/_irreps.py``).

An :class:`Irrep` is the pair ``(l, p)``: degree ``l >= 0`` and parity
``p = +1`` (``"e"``, even) or ``-1`` (``"o"``, odd); ``"y"`` means the parity
of the degree-``l`` spherical harmonics, ``(-1)**l``.  An :class:`Irreps` is an
*ordered* tuple of ``(mul, Irrep)`` pairs, never simplified or sorted behind
the caller's back.

Feature layout ("mul_ir", e3nn's): a block ``mul x ir`` occupies
``mul * (2l + 1)`` consecutive entries, stored as ``[mul, 2l + 1]`` row-major,
so channel ``u``, component ``m`` of block ``i`` lives at
``irreps.slices()[i].start + u * (2l + 1) + m``.

Both classes are tuple subclasses with the same element structure as e3nn's,
so ``Irreps(...) == e3nn.o3.Irreps(...)`` compares element-wise and
``str()`` prints the same text.
"""
from __future__ import annotations

from typing import Any, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

__all__ = ["Irrep", "Irreps", "MulIr"]

_PARITY_NAME = {1: "e", -1: "o"}


def _parse_irrep(text: str, where: str = "") -> Tuple[int, int]:
    """``"2e"`` -> ``(2, 1)``; raises ValueError naming the text (and where)."""
    name = text.strip()
    loc = f" {where}" if where else ""
    if len(name) < 2 or name[-1] not in "eoy":
        raise ValueError(
            f"Irrep: cannot parse {text!r}{loc}: expected a degree and a parity letter, "
            f"e.g. '0e', '1o', '2y' (parity 'e', 'o' or 'y')"
        )
    deg = name[:-1].strip()
    if not deg.isdigit():
        raise ValueError(f"Irrep: cannot parse {text!r}{loc}: the degree {deg!r} is not a non-negative integer")
    l = int(deg)
    p = {"e": 1, "o": -1, "y": (-1) ** l}[name[-1]]
    return l, p


class Irrep(tuple):
    """An irreducible representation of O(3): degree ``l`` and parity ``p``.

    Parameters
    ----------
    l : int, str, Irrep or (int, int)
        The degree, or a whole irrep as text (``"1o"``, ``"2e"``, ``"3y"``) or
        as a pair ``(l, p)``.
    p : {1, -1}, optional
        The parity when ``l`` is an int.

    Notes
    -----
    Irreps order as tuples ``(l, p)``: by degree, then odd (``p = -1``) before
    even, exactly as e3nn sorts them.  ``ir1 * ir2`` yields the irreps allowed
    in their product: ``|l1 - l2| <= l <= l1 + l2`` with parity ``p1 * p2``.
    """

    def __new__(cls, l: Union[int, str, "Irrep", Tuple[int, int]], p: Optional[int] = None) -> "Irrep":
        if p is None:
            if isinstance(l, Irrep):
                return l
            if isinstance(l, str):
                l, p = _parse_irrep(l)
            elif isinstance(l, tuple) and tuple.__len__(l) == 2:  # also e3nn's Irrep, which forbids len()
                l, p = tuple.__getitem__(l, 0), tuple.__getitem__(l, 1)
            else:
                raise TypeError(f"Irrep: expected an int degree with a parity, a string like '1o' "
                                f"or an (l, p) pair, got {l!r}")
        if isinstance(l, bool) or not isinstance(l, int) or l < 0:
            if not (hasattr(l, "__index__") and not isinstance(l, bool) and int(l) >= 0):
                raise ValueError(f"Irrep: l must be a non-negative integer, got {l!r}")
            l = int(l)
        if p not in (1, -1) or isinstance(p, bool):
            raise ValueError(f"Irrep: p must be 1 (even) or -1 (odd), got {p!r}")
        return super().__new__(cls, (int(l), int(p)))

    @property
    def l(self) -> int:  # noqa: E743 - e3nn's name
        """The degree."""
        return self[0]

    @property
    def p(self) -> int:
        """The parity, +1 or -1."""
        return self[1]

    @property
    def dim(self) -> int:
        """``2l + 1``."""
        return 2 * self[0] + 1

    def is_scalar(self) -> bool:
        """True for ``0e``."""
        return self[0] == 0 and self[1] == 1

    def __repr__(self) -> str:
        return f"{self[0]}{_PARITY_NAME[self[1]]}"

    __str__ = __repr__

    def __mul__(self, other: Any) -> Iterator["Irrep"]:
        """The irreps in ``self (x) other``, lowest degree first."""
        if isinstance(other, Irreps):
            return NotImplemented
        other = Irrep(other)
        p = self[1] * other[1]
        for l in range(abs(self[0] - other[0]), self[0] + other[0] + 1):
            yield Irrep(l, p)

    def __rmul__(self, mul: int) -> "Irreps":
        """``mul * ir`` is the Irreps ``mul x ir``."""
        if not isinstance(mul, int):
            return NotImplemented
        return Irreps([(mul, self)])

    def __add__(self, other: Any) -> "Irreps":
        return Irreps(self) + Irreps(other)

    def __radd__(self, other: Any) -> "Irreps":
        return Irreps(other) + Irreps(self)

    def count(self, _value):  # tuple methods that make no sense for an irrep
        raise NotImplementedError

    def index(self, _value):
        raise NotImplementedError

    def __getnewargs__(self):
        return (self[0], self[1])

    def D_from_angles(self, alpha: Any, beta: Any, gamma: Any, k: Any = 0):
        """The representation matrix ``p**k * D^l(alpha, beta, gamma)`` (numpy,
        float64, shape ``broadcast + (2l+1, 2l+1)``); ``k = 1`` adds the inversion."""
        import numpy as np

        from ._wigner import wigner_D

        d = wigner_D(self[0], alpha, beta, gamma)
        sign = np.asarray(self[1], dtype=np.float64) ** np.asarray(k, dtype=np.float64)
        return d * np.asarray(sign)[..., None, None]

    @classmethod
    def iterator(cls, lmax: Optional[int] = None) -> Iterator["Irrep"]:
        """All irreps ``0e, 0o, 1o, 1e, 2e, 2o, ...`` up to ``lmax`` (forever if None),
        in e3nn's order (the spherical-harmonic parity first)."""
        l = 0
        while lmax is None or l <= lmax:
            yield Irrep(l, (-1) ** l)
            yield Irrep(l, -((-1) ** l))
            l += 1


class MulIr(tuple):
    """One block of an :class:`Irreps`: ``mul`` copies of ``ir`` (e3nn's ``_MulIr``)."""

    def __new__(cls, mul: int, ir: Any = None) -> "MulIr":
        if ir is None:
            mul, ir = mul
        if isinstance(mul, bool) or not hasattr(mul, "__index__") or int(mul) < 0:
            raise ValueError(f"Irreps: a multiplicity must be a non-negative integer, got {mul!r}")
        return super().__new__(cls, (int(mul), Irrep(ir)))

    @property
    def mul(self) -> int:
        return self[0]

    @property
    def ir(self) -> Irrep:
        return self[1]

    @property
    def dim(self) -> int:
        """``mul * (2l + 1)``."""
        return self[0] * self[1].dim

    def __repr__(self) -> str:
        return f"{self[0]}x{self[1]}"

    __str__ = __repr__

    def __getnewargs__(self):
        return (self[0], self[1])


class _Sorted(NamedTuple):
    irreps: "Irreps"
    p: Tuple[int, ...]
    inv: Tuple[int, ...]


def _parse_irreps(text: str) -> List[MulIr]:
    """Parse e3nn's grammar ``[MULx]LP (+ [MULx]LP)*``; "" (or spaces) is empty."""
    if text.strip() == "":
        return []
    out = []
    pos = 0
    for k, term in enumerate(text.split("+")):
        where = f"(term {k + 1}, {term.strip()!r}, at character {pos} of {text!r})"
        t = term.strip()
        if t == "":
            raise ValueError(f"Irreps: cannot parse {text!r}: empty term {where}")
        if "x" in t:
            mul_s, ir_s = t.split("x", 1)
            mul_s = mul_s.strip()
            if not mul_s.isdigit():
                raise ValueError(
                    f"Irreps: cannot parse {text!r}: the multiplicity {mul_s!r} is not a non-negative "
                    f"integer {where}"
                )
            mul = int(mul_s)
        else:
            mul, ir_s = 1, t
        try:
            ir = Irrep(*_parse_irrep(ir_s, where))
        except ValueError as e:
            raise ValueError(f"Irreps: cannot parse {text!r}: {e}") from None
        out.append(MulIr(mul, ir))
        pos += len(term) + 1
    return out


class Irreps(tuple):
    """A direct sum of irreps: an ordered tuple of ``(mul, Irrep)`` blocks.

    Parameters
    ----------
    irreps : str, Irrep, Irreps or sequence, optional
        e3nn text (``"32x0e + 32x1o + 16x2e"``; multiplicity optional, spaces
        allowed, ``"y"`` parity = ``(-1)**l``, ``""`` = empty), one irrep, or a
        sequence whose items are irreps (text or objects, multiplicity 1) or
        ``(mul, ir)`` pairs.

    Raises
    ------
    ValueError
        When the text does not parse; the message names the failing term and
        its character offset.

    Examples
    --------
    >>> Irreps("16x0e+16x1o+8x2e+3y").dim
    111
    >>> Irreps("1e + 2x0e").sort().irreps
    2x0e+1x1e
    """

    def __new__(cls, irreps: Any = None) -> "Irreps":
        if isinstance(irreps, Irreps):
            return irreps
        if irreps is None:
            items: List[MulIr] = []
        elif isinstance(irreps, Irrep):
            items = [MulIr(1, irreps)]
        elif isinstance(irreps, str):
            items = _parse_irreps(irreps)
        else:
            try:
                seq = list(irreps)
            except TypeError:
                raise TypeError(f"Irreps: expected a string, an Irrep or a sequence, got {irreps!r}") from None
            items = []
            for it in seq:
                if isinstance(it, MulIr):
                    items.append(it)
                elif isinstance(it, Irrep) or isinstance(it, str):
                    items.append(MulIr(1, Irrep(it)))
                elif isinstance(it, tuple) and tuple.__len__(it) == 2:
                    # (mul, ir) with ir an Irrep, text or an (l, p) pair; e3nn's _MulIr is such a pair
                    mul, ir = tuple.__getitem__(it, 0), tuple.__getitem__(it, 1)
                    if isinstance(ir, int) and not isinstance(mul, Irrep) and isinstance(mul, int):
                        # an (l, p) pair alone is an Irrep with multiplicity 1
                        items.append(MulIr(1, Irrep(mul, ir)))
                    else:
                        items.append(MulIr(mul, ir))
                else:
                    raise TypeError(f"Irreps: cannot read {it!r} as an irrep or a (mul, irrep) pair")
        return super().__new__(cls, items)

    def __getnewargs__(self):
        return (list(self),)

    # --- text -------------------------------------------------------------
    def __repr__(self) -> str:
        return "+".join(f"{mi}" for mi in self)

    __str__ = __repr__

    # --- sizes ------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Total width ``sum(mul * (2l + 1))``."""
        return sum(mul * ir.dim for mul, ir in self)

    @property
    def num_irreps(self) -> int:
        """Number of irreps counted with multiplicity, ``sum(mul)``."""
        return sum(mul for mul, _ in self)

    @property
    def ls(self) -> List[int]:
        """The degree of each irrep, repeated ``mul`` times, in order."""
        return [ir.l for mul, ir in self for _ in range(mul)]

    @property
    def lmax(self) -> int:
        """The largest degree among irreps of nonzero multiplicity (``max(ls)``,
        as e3nn); ValueError when there is none."""
        ls = self.ls
        if not ls:
            raise ValueError(f"Irreps: cannot get lmax of an Irreps with no irreps ({self!r})")
        return max(ls)

    def slices(self) -> List[slice]:
        """The slice of each block in a feature vector, in order (mul_ir layout)."""
        s = []
        i = 0
        for mul, ir in self:
            s.append(slice(i, i + mul * ir.dim))
            i += mul * ir.dim
        return s

    def count(self, ir: Any) -> int:
        """Multiplicity of ``ir``, summed over all its blocks."""
        ir = Irrep(ir)
        return sum(mul for mul, irrep in self if irrep == ir)

    def index(self, _object):
        raise NotImplementedError

    def __contains__(self, ir: Any) -> bool:
        ir = Irrep(ir)
        return any(irrep == ir for _, irrep in self)

    def is_scalar(self) -> bool:
        """True when every block is ``0e``."""
        return all(ir.l == 0 and ir.p == 1 for _, ir in self)

    # --- rearrangements ---------------------------------------------------
    def simplify(self) -> "Irreps":
        """Merge adjacent blocks of the same irrep and drop zero multiplicities
        (order kept; ``"1e+1e+0e"`` -> ``"2x1e+1x0e"``, but ``"1e+0e+1e"`` stays)."""
        out: List[Tuple[int, Irrep]] = []
        for mul, ir in self:
            if out and out[-1][1] == ir:
                out[-1] = (out[-1][0] + mul, ir)
            elif mul > 0:
                out.append((mul, ir))
        return Irreps(out)

    def remove_zero_multiplicities(self) -> "Irreps":
        """The same blocks without those of multiplicity 0."""
        return Irreps([(mul, ir) for mul, ir in self if mul > 0])

    def sort(self) -> _Sorted:
        """Sort the blocks by irrep, stably.

        Returns
        -------
        (irreps, p, inv)
            ``irreps`` sorted by ``(l, p)`` (odd before even at equal l, ties in
            original order); ``inv[i]`` is the original index of sorted block
            ``i``; ``p`` is its inverse, ``p[j]`` the sorted position of original
            block ``j`` — e3nn's ``Irreps.sort`` exactly.
        """
        keyed = sorted((ir, i, mul) for i, (mul, ir) in enumerate(self))
        inv = tuple(i for _, i, _ in keyed)
        p = [0] * len(inv)
        for pos, i in enumerate(inv):
            p[i] = pos
        return _Sorted(Irreps([(mul, ir) for ir, _, mul in keyed]), tuple(p), inv)

    def regroup(self) -> "Irreps":
        """``sort().irreps.simplify()``: one block per irrep, in sorted order."""
        return self.sort().irreps.simplify()

    def filter(self, keep: Any = None, drop: Any = None) -> "Irreps":
        """The blocks whose irrep is in ``keep`` (or not in ``drop``); each may be
        irreps text, an Irreps, a list of irreps or a predicate on an Irrep."""
        if keep is None and drop is None:
            return self
        if keep is not None and drop is not None:
            raise ValueError("Irreps.filter: give keep or drop, not both")

        def test(sel):
            if callable(sel) and not isinstance(sel, (str, Irreps, Irrep)):
                return sel
            if isinstance(sel, (str, Irreps, Irrep)):
                irs = {ir for _, ir in Irreps(sel)}
            else:
                irs = {Irrep(x) for x in sel}
            return lambda ir: ir in irs

        if keep is not None:
            f = test(keep)
            return Irreps([(m, ir) for m, ir in self if f(ir)])
        f = test(drop)
        return Irreps([(m, ir) for m, ir in self if not f(ir)])

    def D_from_angles(self, alpha: Any, beta: Any, gamma: Any, k: Any = 0):
        """Block-diagonal representation matrix (numpy float64, ``(..., dim, dim)``),
        one ``Irrep.D_from_angles`` block per irrep copy, in order."""
        import numpy as np

        a, b, g, kk = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (alpha, beta, gamma, k)))
        out = np.zeros(a.shape + (self.dim, self.dim))
        i = 0
        for mul, ir in self:
            blk = ir.D_from_angles(a, b, g, kk)
            for _ in range(mul):
                out[..., i:i + ir.dim, i:i + ir.dim] = blk
                i += ir.dim
        return out

    @staticmethod
    def spherical_harmonics(lmax: int, p: int = -1) -> "Irreps":
        """``1x0e + 1x1o + ... + 1x(lmax)`` with parity ``p**l`` (e3nn's helper)."""
        return Irreps([(1, (l, p**l)) for l in range(lmax + 1)])

    # --- tuple arithmetic ---------------------------------------------------
    def __getitem__(self, i):
        x = super().__getitem__(i)
        if isinstance(i, slice):
            return Irreps(list(x))
        return x

    def __add__(self, other: Any) -> "Irreps":
        return Irreps(tuple(self) + tuple(Irreps(other)))

    def __radd__(self, other: Any) -> "Irreps":
        return Irreps(tuple(Irreps(other)) + tuple(self))

    def __mul__(self, other: Any) -> "Irreps":
        """``irreps * n`` repeats the blocks ``n`` times (like a tuple)."""
        if isinstance(other, Irreps):
            raise NotImplementedError("Irreps * Irreps: use a tensor product")
        return Irreps(tuple(self) * other)

    def __rmul__(self, other: Any) -> "Irreps":
        return self.__mul__(other)
