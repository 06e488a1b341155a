"""Laws: the built-in catalogue and user-written expressions."""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core
from .._array import as_float_array
from ._expr import ExpressionError, parse

__all__ = ["Law", "LawCatalog", "laws", "ExpressionError", "resolve_law"]


class Law:
    """A model ``f(inputs; params)`` the batched LM engine can fit.

    A law is either a built-in (``scalecore.laws["chinchilla"]``, with
    analytic derivatives) or an expression the user writes::

        Law("E + A * N**-alpha + B * D**-beta", inputs=["N", "D"])

    An expression is parsed once into a compact program that the C++ core
    evaluates with exact (reverse-mode) derivatives; no Python runs per
    problem or per point.

    Parameters
    ----------
    expression : str
        The law, in Python syntax: numbers, names, ``+ - * / **``, and the
        functions ``exp log log1p sqrt tanh sigmoid softplus abs sin cos atan
        min max``.
    inputs : sequence of str
        The names that are data inputs.  Every other name is a parameter.
    params : sequence of str, optional
        Parameter order; by default, order of first appearance in the text.
    name : str, optional
        A label used in results and messages (default: the expression).
    bounds : mapping of str to (lower, upper), optional
        Default bounds, used by ``fit(..., bounds="default")``.

    Raises
    ------
    ExpressionError
        (a ``ValueError``) when the text cannot be parsed; the message points
        at the position.
    """

    def __init__(
        self,
        expression: str,
        inputs: Sequence[str] = ("x",),
        params: Optional[Sequence[str]] = None,
        *,
        name: Optional[str] = None,
        bounds: Optional[Mapping[str, Tuple[float, float]]] = None,
    ) -> None:
        if isinstance(inputs, str):
            inputs = [inputs]
        if len(inputs) == 0:
            raise ValueError("inputs: a law needs at least one input (the data points are values of it), got none")
        nodes, out, order = parse(expression, inputs, params)
        self._handle = _core.compile_expr(nodes, out, len(order), len(inputs), name or expression)
        self._builtin = False
        self.name: str = name or expression
        self.expression: str = expression
        self.param_names: Tuple[str, ...] = tuple(order)
        self.input_names: Tuple[str, ...] = tuple(inputs)
        lo = np.full(len(order), -np.inf)
        hi = np.full(len(order), np.inf)
        if bounds:
            for k, (a, b) in bounds.items():
                if k not in self.param_names:
                    raise ValueError(f"bounds: {k!r} is not a parameter of this law ({self.param_names})")
                i = self.param_names.index(k)
                lo[i], hi[i] = float(a), float(b)
        self.default_bounds: Tuple[np.ndarray, np.ndarray] = (lo, hi)
        self._init_args = (expression, tuple(inputs), tuple(order), name, dict(bounds or {}))

    @classmethod
    def _from_builtin(cls, info: Dict[str, Any]) -> "Law":
        self = cls.__new__(cls)
        self._handle = _core.builtin_law(info["name"])
        self._builtin = True
        self.name = info["name"]
        self.expression = info["formula"]
        self.param_names = tuple(info["params"])
        self.input_names = tuple(info["inputs"])
        self.default_bounds = (np.array(info["lower"], float), np.array(info["upper"], float))
        self._init_args = None
        return self

    # -- pickling (Dask workers rebuild the program) ----------------------
    def __reduce__(self):
        if self._builtin:
            return (_builtin_by_name, (self.name,))
        expression, inputs, order, name, bounds = self._init_args
        return (_expr_law, (expression, inputs, order, name, bounds))

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    @property
    def n_inputs(self) -> int:
        return len(self.input_names)

    @property
    def is_builtin(self) -> bool:
        return self._builtin

    def __repr__(self) -> str:
        kind = "built-in" if self._builtin else "expression"
        return (f"Law({self.name!r}, {kind}: {self.expression}; inputs={list(self.input_names)}, "
                f"params={list(self.param_names)})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Law):
            return NotImplemented
        return (self._builtin, self.name, self.expression, self.param_names, self.input_names) == (
            other._builtin, other.name, other.expression, other.param_names, other.input_names)

    def __hash__(self) -> int:
        return hash((self._builtin, self.name, self.expression, self.param_names, self.input_names))

    def __call__(self, x: Any, params: Any) -> np.ndarray:
        """Evaluate the law.

        Parameters
        ----------
        x : array or mapping of input name to array
            Inputs of shape (M,) or (B, M).
        params : array, shape (P,) or (B, P)

        Returns
        -------
        numpy.ndarray
            Values of shape (M,) for 1-D inputs and params, else (B, M).
            Points where an input is outside the law's domain (e.g. x <= 0
            under a log) are NaN.
        """
        return evaluate(self, x, params)

    def jacobian(self, x: Any, params: Any) -> np.ndarray:
        """The Jacobian of the law with respect to its parameters.

        Exact (analytic for built-ins, reverse-mode for expressions).

        Returns
        -------
        numpy.ndarray
            Shape (M, P) for 1-D inputs and params, else (B, M, P).
        """
        return evaluate(self, x, params, jacobian=True)


def _builtin_by_name(name: str) -> Law:
    return laws[name]


def _expr_law(expression, inputs, order, name, bounds) -> Law:
    return Law(expression, inputs=list(inputs), params=list(order), name=name, bounds=bounds or None)


class LawCatalog(Mapping[str, Law]):
    """The built-in laws, by name: ``scalecore.laws["chinchilla"]``,
    ``scalecore.laws.chinchilla``, ``list(scalecore.laws)``.

    Each law has ``param_names``, ``input_names``, a default start heuristic
    (used when ``fit`` gets no ``p0``) and ``default_bounds``.
    """

    def __init__(self) -> None:
        self._laws: Dict[str, Law] = {info["name"]: Law._from_builtin(info) for info in _core.law_catalog()}

    def __getitem__(self, name: str) -> Law:
        try:
            return self._laws[name]
        except KeyError:
            raise ValueError(f"law: unknown law {name!r}; the catalogue has {', '.join(self._laws)}") from None

    def __getattr__(self, name: str) -> Law:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._laws[name]
        except KeyError:
            raise AttributeError(f"no built-in law named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._laws

    def __iter__(self) -> Iterator[str]:
        return iter(self._laws)

    def __len__(self) -> int:
        return len(self._laws)

    def bnsl(self, k: int = 1) -> Law:
        """The broken neural scaling law with ``k`` breaks (1 to 4)."""
        if k not in (1, 2, 3, 4):
            raise ValueError(f"k: expected 1, 2, 3 or 4 breaks, got {k!r}")
        return self._laws["bnsl" if k == 1 else f"bnsl{k}"]

    def table(self) -> str:
        """A readable listing of the catalogue."""
        rows = [f"{'name':<18} {'formula':<58} inputs / params"]
        for nm, law in self._laws.items():
            rows.append(f"{nm:<18} {law.expression:<58} {','.join(law.input_names)} / {','.join(law.param_names)}")
        return "\n".join(rows)

    def __repr__(self) -> str:
        return "scalecore.laws:\n" + self.table()


laws = LawCatalog()


def resolve_law(law: Union[Law, str], x: Any = None) -> Law:
    """A Law from a Law, a catalogue name, or an expression string.

    An expression string takes its inputs from the keys of ``x`` when ``x`` is
    a mapping, else it has one input named ``x``.
    """
    if isinstance(law, Law):
        return law
    if isinstance(law, str):
        if law in laws:
            return laws[law]
        if law.isidentifier():
            raise ValueError(f"law: unknown law {law!r}; the catalogue has {', '.join(laws)}")
        inputs = list(x.keys()) if isinstance(x, Mapping) else ["x"]
        return Law(law, inputs=inputs)
    raise TypeError(f"law: expected a Law, a catalogue name or an expression string, got {type(law).__name__}")


def input_arrays(law: Law, x: Any, dtype: np.dtype, what: str = "x") -> List[np.ndarray]:
    """The law's inputs from a mapping (or one array for a one-input law), in
    the law's input order, as C-contiguous arrays of ``dtype``."""
    if isinstance(x, Mapping):
        names = list(x.keys())
        missing = [n for n in law.input_names if n not in x]
        if missing:
            raise ValueError(f"{what}: missing input(s) {missing} for law {law.name!r} "
                             f"(inputs {list(law.input_names)}), got {names}")
        extra = [n for n in names if n not in law.input_names]
        if extra:
            raise ValueError(f"{what}: unknown input(s) {extra} for law {law.name!r} (inputs {list(law.input_names)})")
        return [as_float_array(x[n], f"{what}[{n!r}]", dtype) for n in law.input_names]
    if law.n_inputs != 1:
        raise ValueError(f"{what}: law {law.name!r} has inputs {list(law.input_names)}; pass a mapping "
                         f"such as {{{', '.join(repr(n) + ': ...' for n in law.input_names)}}}")
    return [as_float_array(x, what, dtype)]


def evaluate(law: Law, x: Any, params: Any, jacobian: bool = False) -> np.ndarray:
    p = as_float_array(params, "params", np.float64, ndims=(1, 2))
    if p.shape[-1] != law.n_params:
        raise ValueError(f"params: law {law.name!r} has {law.n_params} parameters {list(law.param_names)}, "
                         f"got shape {p.shape}")
    xs = input_arrays(law, x, np.float64)
    M = xs[0].shape[-1]
    B = 1
    for a in xs:
        if a.shape[-1] != M:
            raise ValueError(f"x: inputs must have the same number of points, got shapes {[v.shape for v in xs]}")
        if a.ndim == 2:
            B = max(B, a.shape[0])
    if p.ndim == 2:
        B = max(B, p.shape[0])
    for a in xs:
        if a.ndim == 2 and a.shape[0] != B:
            raise ValueError(f"x: batch size {a.shape[0]} does not match {B}")
    if p.ndim == 2 and p.shape[0] != B:
        raise ValueError(f"params: batch size {p.shape[0]} does not match {B}")
    out = _core.law_predict(law._handle, xs, B, M, p, jacobian)
    if jacobian:
        out = out[1]
    squeeze = p.ndim == 1 and all(a.ndim == 1 for a in xs)
    return out[0] if squeeze else out
