"""Input safety: user strings are parsed, never evaluated; nothing unpickles.

Law expressions and irreps strings come from users' configs and tables.  They
are parsed by scalecore's own grammar; these tests feed them Python that would
have a visible side effect if it ran (creating a file), and scan the package
for the calls that would evaluate or unpickle data.
"""
from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

import scalecore

PKG = pathlib.Path(scalecore.__file__).parent


def _payloads(marker: pathlib.Path):
    m = str(marker)
    return [
        f"A * x + __import__('os').system('touch {m}')",
        f"A * x**-alpha + open('{m}', 'w').write('x')",
        f"A * x + (lambda: __import__('pathlib').Path('{m}').touch())()",
        f"A * x + exec(\"open('{m}', 'w')\")",
        f"A * x + eval(\"open('{m}', 'w')\")",
        f"A * x + [c for c in ().__class__.__base__.__subclasses__()][0]",
        "A * x; import os",
        "A * x.__class__",
        "A * globals()['x']",
    ]


def test_law_expressions_are_parsed_not_evaluated(tmp_path):
    marker = tmp_path / "ran"
    x = np.arange(1, 6, dtype=float)
    for expr in _payloads(marker):
        with pytest.raises(ValueError):
            scalecore.fit(expr, x, 2.0 / x)
        with pytest.raises(ValueError):
            scalecore.fitting.Law(expr)
    assert not marker.exists()


def test_irreps_strings_are_parsed_not_evaluated(tmp_path):
    marker = tmp_path / "ran"
    for s in [f"__import__('os').system('touch {marker}')", f"1x0e + open('{marker}', 'w')", "1x0e; import os",
              "eval('1x0e')", "1x0e.__class__"]:
        with pytest.raises(ValueError, match="Irreps"):
            scalecore.tp.Irreps(s)
    assert not marker.exists()


def test_cli_expression_law_is_parsed_not_evaluated(tmp_path):
    import pandas as pd

    from scalecore import cli

    marker = tmp_path / "ran"
    pd.DataFrame({"params": [1e7, 1e8, 1e9], "loss": [3.0, 2.5, 2.2]}).to_csv(tmp_path / "r.csv", index=False)
    code = cli.main(["fit", str(tmp_path / "r.csv"), "--x", "x=params", "--y", "loss", "--quiet",
                     "--law", f"A * x + __import__('os').system('touch {marker}')"])
    assert code == 2 and not marker.exists()


# Calls that evaluate strings or unpickle bytes.  The package must not make
# them at all: results, tables and weights are read by numpy/pandas/json
# without pickle, and laws and irreps by scalecore's parsers.
_FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
_FORBIDDEN_ATTRS = {("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"), ("cPickle", "loads"),
                    ("marshal", "loads"), ("pd", "read_pickle"), ("pandas", "read_pickle"), ("torch", "load"),
                    ("dill", "loads"), ("cloudpickle", "loads"), ("yaml", "load")}


def _scan(source: str, name: str) -> list:
    found = []
    for node in ast.walk(ast.parse(source, filename=name)):
        if not isinstance(node, ast.Call):
            continue
        fn = node.func
        if isinstance(fn, ast.Name) and fn.id in _FORBIDDEN_CALLS:
            found.append(f"{name}:{node.lineno} {fn.id}()")
        if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) and (fn.value.id, fn.attr) in _FORBIDDEN_ATTRS:
            found.append(f"{name}:{node.lineno} {fn.value.id}.{fn.attr}()")
        for kw in node.keywords:  # np.load(..., allow_pickle=True)
            if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                found.append(f"{name}:{node.lineno} allow_pickle={ast.unparse(kw.value)}")
    return found


def test_package_never_evaluates_or_unpickles():
    files = sorted(PKG.rglob("*.py"))
    assert len(files) > 30
    found = [hit for f in files for hit in _scan(f.read_text(), str(f.relative_to(PKG)))]
    assert not found, "evaluating or unpickling calls in the package:\n" + "\n".join(found)


def test_the_scan_sees_what_it_looks_for():
    src = ("import pickle, numpy as np, torch\npickle.loads(b'')\neval('1')\nnp.load('f', allow_pickle=True)\n"
           "torch.load('w.pt')\nnp.load('f', allow_pickle=False)\n")
    hits = _scan(src, "t.py")
    assert hits == ["t.py:2 pickle.loads()", "t.py:3 eval()", "t.py:4 allow_pickle=True", "t.py:5 torch.load()"], hits
