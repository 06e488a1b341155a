"""The package as a new user meets it: ``import scalecore`` and attribute access.

Each check runs in a fresh interpreter, since a test process has long since
imported the subpackages by name (which is how wave 1 shipped
``scalecore.ot`` broken without a failing test).
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import scalecore

PKG = Path(scalecore.__file__).resolve().parent
PUBLIC = ("fitting", "scaling", "ot", "datasel", "distributed")
HEAVY = ("pandas", "matplotlib", "dask", "distributed", "torch", "jax")


def fresh(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", PUBLIC)
def test_subpackage_is_an_attribute_after_plain_import(name):
    r = fresh(f"import json, scalecore; m = scalecore.{name}; "
              f"print(json.dumps({{'name': m.__name__, 'in_dir': {name!r} in dir(scalecore)}}))")
    assert r == {"name": f"scalecore.{name}", "in_dir": True}


def test_every_subpackage_on_disk_is_public():
    # A new family (tp, lowbit) must join the lazy table to be reachable.
    on_disk = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert on_disk <= set(scalecore._SUBPACKAGES) and set(PUBLIC) <= set(scalecore._SUBPACKAGES)


def test_plain_import_loads_no_heavy_dependency():
    r = fresh("import json, sys, scalecore; "
              f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    assert r == []


def test_unknown_attribute_names_itself():
    r = fresh("import json, scalecore\n"
              "try:\n    scalecore.no_such_family\nexcept AttributeError as e:\n    print(json.dumps(str(e)))")
    assert "no_such_family" in r and "scalecore" in r


# --- the static import graph -------------------------------------------------

def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    if node.level:
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))
    return node.module or ""


def _unit(name: str, modules: set) -> str:
    """The top-level unit of a module: scalecore.X (a subpackage or a module), or scalecore itself."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else parts[0]


def import_graph() -> dict:
    """Edges between scalecore's top-level units, from every import statement
    in every file (function-level imports included)."""
    files = sorted(PKG.rglob("*.py"))
    # the compiled extensions are modules too (`from . import _core`)
    modules = {_module_name(f) for f in files} | {"scalecore._core", "scalecore._cuda"}
    edges: dict = {}
    for f in files:
        mod = _module_name(f)
        src = _unit(mod, modules)
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, f.name == "__init__.py", node)
                # `from .. import ot` names a module; `from .. import fit` a symbol of the package.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for t in targets:
                if t == "scalecore" or t.startswith("scalecore."):
                    dst = _unit(t, modules)
                    if dst != src:
                        edges.setdefault(src, set()).add(dst)
    return edges


def find_cycle(edges: dict):
    state: dict = {}
    stack: list = []

    def visit(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(edges.get(u, ())):
            if state.get(v) == 1:
                return stack[stack.index(v):] + [v]
            if v not in state:
                c = visit(v)
                if c:
                    return c
        stack.pop()
        state[u] = 2
        return None

    for u in sorted(edges):
        if u not in state:
            c = visit(u)
            if c:
                return c
    return None


def test_import_graph_has_no_cycle():
    edges = import_graph()
    assert "scalecore.scaling" in edges and "scalecore.distributed" in edges
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges))
    # The one-way rule the issue names: distributed uses scaling, never the reverse.
    assert "scalecore.distributed" not in edges["scalecore.scaling"]


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None
