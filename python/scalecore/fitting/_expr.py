"""Parsing of user-written laws into the node list that C++ compiles.

The grammar is a subset of Python expressions:

* numbers, names (parameters or inputs), ``+ - * / **``, unary ``-`` and ``+``
* calls of ``exp log log1p sqrt tanh sigmoid softplus abs sin cos atan``
  (one argument) and ``min max`` (two arguments)

Anything else raises :class:`ExpressionError`, whose message shows the
expression with a caret under the offending position.
"""
from __future__ import annotations

import ast
from typing import Dict, List, Optional, Sequence, Tuple

# Operation codes: keep in step with cpp/include/scalecore/fit/expr.h.
OP_CONST, OP_PARAM, OP_INPUT = 0, 1, 2
OP_NEG, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW = 4, 5, 6, 7, 8, 9
_UNARY = {
    "exp": 11, "log": 12, "log1p": 13, "sqrt": 14, "tanh": 15, "sigmoid": 16,
    "softplus": 17, "abs": 18, "sin": 21, "cos": 22, "atan": 23,
}
_BINARY_FN = {"min": 19, "max": 20}
FUNCTIONS = tuple(sorted(list(_UNARY) + list(_BINARY_FN)))

Node = Tuple[int, int, int, float]


class ExpressionError(ValueError):
    """A law expression could not be parsed.

    Attributes
    ----------
    expression : str
        The text given.
    position : int
        0-based column of the problem.
    """

    def __init__(self, message: str, expression: str, position: int):
        self.expression = expression
        self.position = max(0, int(position))
        caret = " " * self.position + "^"
        super().__init__(f"{message} at position {self.position}:\n  {expression}\n  {caret}")


def parse(
    expression: str,
    inputs: Sequence[str],
    params: Optional[Sequence[str]] = None,
) -> Tuple[List[Node], int, List[str]]:
    """Parse ``expression``.

    Parameters
    ----------
    expression : str
        The law, e.g. ``"E + A * N**-alpha + B * D**-beta"``.
    inputs : sequence of str
        Names that are data inputs; every other name is a parameter.
    params : sequence of str, optional
        The parameter order.  By default parameters are ordered by their first
        appearance in the text.

    Returns
    -------
    nodes : list of (op, a, b, c)
        Topologically ordered, with common sub-expressions merged.
    out : int
        Index of the node holding the value.
    params : list of str
        The parameter names, in order.
    """
    if not isinstance(expression, str):
        raise TypeError(f"expression: expected a string, got {type(expression).__name__}")
    text = expression.strip()
    if not text:
        raise ExpressionError("empty expression", expression, 0)
    lead = len(expression) - len(expression.lstrip())
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        # Python reports offset 0 when the text ends too early: point at the end.
        pos = (e.offset - 1 if e.offset and e.offset > 0 else len(text)) + lead
        raise ExpressionError(f"syntax error ({e.msg})", expression, pos) from None

    inputs = list(inputs)
    for nm in inputs:
        if not isinstance(nm, str) or not nm.isidentifier():
            raise ValueError(f"inputs: {nm!r} is not a valid name")
    if len(set(inputs)) != len(inputs):
        raise ValueError(f"inputs: names must be distinct, got {inputs}")

    func_nodes = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    value_names: List[Tuple[str, int]] = []
    seen = set()
    for node in sorted((n for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in func_nodes),
                       key=lambda n: n.col_offset):
        if node.id in FUNCTIONS and node.id not in inputs:
            raise ExpressionError(f"'{node.id}' is a function and needs an argument", expression,
                                  node.col_offset + lead)
        if node.id not in seen:
            seen.add(node.id)
            value_names.append((node.id, node.col_offset))
    found_params = [nm for nm, _ in value_names if nm not in inputs]
    used_inputs = {nm for nm, _ in value_names if nm in inputs}
    if params is None:
        order = found_params
    else:
        order = list(params)
        if len(set(order)) != len(order):
            raise ValueError(f"params: names must be distinct, got {order}")
        extra = [p for p in order if p not in found_params]
        if extra:
            raise ValueError(f"params: {extra} do not appear in the expression {expression!r}")
        missing = [p for p in found_params if p not in order]
        if missing:
            raise ValueError(f"params: the expression also uses {missing}; list every parameter")
    if not order:
        raise ValueError(f"expression: {expression!r} has no parameters (inputs are {inputs})")

    builder = _Builder(expression, lead, {nm: i for i, nm in enumerate(order)},
                       {nm: i for i, nm in enumerate(inputs)})
    out = builder.visit(tree.body)
    missing_inputs = [nm for nm in inputs if nm not in used_inputs]
    if missing_inputs:
        raise ValueError(f"inputs: {missing_inputs} do not appear in the expression {expression!r}")
    return builder.nodes, out, order


class _Builder:
    def __init__(self, text: str, lead: int, params: Dict[str, int], inputs: Dict[str, int]):
        self.text = text
        self.lead = lead
        self.params = params
        self.inputs = inputs
        self.nodes: List[Node] = []
        self.index: Dict[Node, int] = {}

    def err(self, msg: str, node: ast.AST) -> ExpressionError:
        return ExpressionError(msg, self.text, getattr(node, "col_offset", 0) + self.lead)

    def add(self, op: int, a: int = -1, b: int = -1, c: float = 0.0) -> int:
        # Commutative operations share one canonical operand order.
        if op in (OP_ADD, OP_MUL, 19, 20) and a > b:
            a, b = b, a
        key = (op, a, b, float(c))
        j = self.index.get(key)
        if j is None:
            j = len(self.nodes)
            self.nodes.append(key)
            self.index[key] = j
        return j

    def visit(self, node: ast.AST) -> int:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise self.err(f"unsupported constant {node.value!r}", node)
            return self.add(OP_CONST, c=float(node.value))
        if isinstance(node, ast.Name):
            if node.id in self.inputs:
                return self.add(OP_INPUT, a=self.inputs[node.id])
            return self.add(OP_PARAM, a=self.params[node.id])
        if isinstance(node, ast.UnaryOp):
            v = self.visit(node.operand)
            if isinstance(node.op, ast.USub):
                return self.add(OP_NEG, a=v)
            if isinstance(node.op, ast.UAdd):
                return v
            raise self.err("unsupported unary operator", node)
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: OP_ADD, ast.Sub: OP_SUB, ast.Mult: OP_MUL, ast.Div: OP_DIV, ast.Pow: OP_POW}
            op = ops.get(type(node.op))
            if op is None:
                hint = " (use ** for powers)" if isinstance(node.op, ast.BitXor) else ""
                # Point at the operator: the first non-blank after the left operand.
                pos = getattr(node.left, "end_col_offset", node.col_offset)
                while pos < len(self.text) - self.lead and self.text[self.lead + pos] == " ":
                    pos += 1
                pos_node = ast.Constant(value=0)
                pos_node.col_offset = pos
                raise self.err(f"unsupported operator{hint}", pos_node)
            a = self.visit(node.left)
            b = self.visit(node.right)
            return self.add(op, a=a, b=b)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise self.err("only plain function names can be called", node)
            fn = node.func.id
            if node.keywords:
                raise self.err(f"{fn}() takes no keyword arguments", node.keywords[0].value)
            if fn in _UNARY:
                if len(node.args) != 1:
                    raise self.err(f"{fn}() takes 1 argument, got {len(node.args)}", node)
                return self.add(_UNARY[fn], a=self.visit(node.args[0]))
            if fn in _BINARY_FN:
                if len(node.args) != 2:
                    raise self.err(f"{fn}() takes 2 arguments, got {len(node.args)}", node)
                a = self.visit(node.args[0])
                b = self.visit(node.args[1])
                return self.add(_BINARY_FN[fn], a=a, b=b)
            raise self.err(f"unknown function '{fn}' (known: {', '.join(FUNCTIONS)})", node)
        raise self.err(f"unsupported syntax ({type(node).__name__})", node)
