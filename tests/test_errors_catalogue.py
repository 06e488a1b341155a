"""docs/errors.md is machine-readable: every entry's trigger snippet raises (or
warns) the documented type with a message matching the documented pattern.

Entry format (one ``### E-FAMILY-NNN`` heading per entry)::

    ### E-OT-003: short title
    - Raises: `ValueError`          (or "Warns: `ConvergenceWarning`")
    - Message: `eps: expected a finite number > 0, got ...`
    - Cause: ...
    - Fix: ...

    ```python
    sc.ot.sinkhorn(a, b, M, eps=0)
    ```

In the message, ``...`` stands for any text; everything else is literal
(compared with ``re.search``).  Snippets run with ``np``, ``sc`` (scalecore)
and ``subprocess``/``sys`` in scope, plus a few tiny inputs (``PRELUDE``).
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import scalecore

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"

FAMILIES = ("CONFIG", "ARRAY", "FIT", "SCALING", "CLI", "OT", "DATASEL", "TP", "LOWBIT")

PRELUDE = """
import subprocess, sys, warnings
import numpy as np
import scalecore as sc
rng = np.random.default_rng(0)
a3 = np.full(3, 1 / 3)
b4 = np.full(4, 1 / 4)
X3 = rng.standard_normal((3, 2))
Y4 = rng.standard_normal((4, 2))
M34 = rng.random((3, 4))
xN = np.array([1e7, 3e7, 1e8, 3e8, 1e9, 3e9])
yN = 2.0 + 400 * xN ** -0.3
import pandas as pd
_N = np.array([4e7, 1e8, 3e8, 1e9] * 3)
_D = np.repeat([2e9, 8e9, 3e10], 4)
df = pd.DataFrame({"params": _N, "tokens": _D, "loss": 1.69 + 406.4 * _N ** -0.34 + 410.7 * _D ** -0.28,
                   "model": ["a", "b"] * 6})


def run_cli(argv):
    # Runs scalecore fit ... in this process: (exit status, standard error).
    import contextlib, io
    from scalecore import cli
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = cli.main(list(argv))
        except SystemExit as e:
            if isinstance(e.code, str):
                print(e.code, file=sys.stderr)
                rc = 1
            else:
                rc = e.code
    return rc, err.getvalue()
"""

_HEAD = re.compile(r"^### (E-([A-Z]+)-(\d{3}))\b(.*)$", re.M)
_KIND = re.compile(r"^- (Raises|Warns|Exits): `([A-Za-z_.0-9]+)`", re.M)
_MSG = re.compile(r"^- Message: `(.+)`\s*$", re.M)
_CODE = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def _entries():
    text = DOC.read_text(encoding="utf-8")
    heads = list(_HEAD.finditer(text))
    out = []
    for i, h in enumerate(heads):
        body = text[h.end(): heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        # A family section heading ("## ...") ends the entry's body.
        body = re.split(r"^## ", body, flags=re.M)[0]
        kind = _KIND.search(body)
        msg = _MSG.search(body)
        code = _CODE.search(body)
        out.append({
            "id": h.group(1), "family": h.group(2), "title": h.group(4).strip(" :"),
            "kind": kind.group(1) if kind else None, "type": kind.group(2) if kind else None,
            "message": msg.group(1) if msg else None, "code": code.group(1) if code else None,
        })
    return out


ENTRIES = _entries()


def pattern_of(message: str) -> str:
    """The documented message as a regex: ``...`` is any text, the rest literal."""
    return ".*?".join(re.escape(part) for part in message.split("..."))


def _resolve(name: str, ns: dict):
    import builtins

    if hasattr(builtins, name):
        return getattr(builtins, name)
    obj = ns["sc"]
    for part in name.split(".")[1:] if name.startswith("sc.") else name.split("."):
        obj = getattr(obj, part)
    return obj


def test_catalogue_is_well_formed():
    assert len(ENTRIES) >= 100, "the catalogue lost its entries"
    ids = [e["id"] for e in ENTRIES]
    assert len(ids) == len(set(ids)), f"duplicate ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    missing = [e["id"] for e in ENTRIES if not (e["kind"] and e["message"] and e["code"])]
    assert not missing, f"entries without a Raises/Warns line, a Message line or a trigger snippet: {missing}"
    unknown = sorted({e["family"] for e in ENTRIES} - set(FAMILIES))
    assert not unknown, f"unknown families {unknown}"
    for fam in FAMILIES:
        assert any(e["family"] == fam for e in ENTRIES), f"no entry for family {fam}"
    text = DOC.read_text(encoding="utf-8")
    for e in ENTRIES:
        block = text[text.index("### " + e["id"]):]
        block = block[: (block.find("\n### ", 1) if "\n### " in block[1:] else len(block))]
        assert "- Cause:" in block and "- Fix:" in block, f"{e['id']}: needs a Cause and a Fix line"


def test_every_heading_is_an_entry():
    """A heading that looks like an id but is malformed (no three digits,
    lower case) would silently escape the tests."""
    text = DOC.read_text(encoding="utf-8")
    loose = re.findall(r"^### (E-\S+)", text, re.M)
    assert len(loose) == len(ENTRIES), f"malformed ids: {set(loose) - {e['id'] for e in ENTRIES}}"


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_entry_triggers(entry):
    ns: dict = {}
    exec(PRELUDE, ns)
    pat = pattern_of(entry["message"])
    code = compile(entry["code"], f"<{entry['id']}>", "exec")
    level = scalecore.get_simd_level()
    threads = scalecore.get_num_threads()
    try:
        if entry["kind"] == "Exits":
            ns["_result"] = None
            exec(code, ns)
            res = ns.get("_result")
            assert res is not None, f"{entry['id']}: an Exits trigger must assign _result = run_cli([...])"
            rc, err = res
            assert rc == int(entry["type"]), f"{entry['id']}: exit status {rc}, documented {entry['type']}; {err!r}"
            assert re.search(pat, err, re.S), f"{entry['id']}: stderr {err!r} does not match {entry['message']!r}"
            return
        etype = _resolve(entry["type"], ns)
        if entry["kind"] == "Raises":
            with pytest.raises(etype) as info:
                exec(code, ns)
            got = str(info.value)
            assert type(info.value) is etype or issubclass(type(info.value), etype)
            assert re.search(pat, got, re.S), f"{entry['id']}: message {got!r} does not match {entry['message']!r}"
        else:
            with warnings.catch_warnings(record=True) as rec:
                warnings.simplefilter("always")
                exec(code, ns)
            msgs = [str(w.message) for w in rec if issubclass(w.category, etype)]
            assert msgs, f"{entry['id']}: no {entry['type']} was issued (got {[str(w.message) for w in rec]})"
            assert any(re.search(pat, m, re.S) for m in msgs), \
                f"{entry['id']}: warnings {msgs!r} do not match {entry['message']!r}"
    finally:
        # A snippet must not leave the process at another level or pool size.
        if scalecore.get_simd_level() != level:
            scalecore.set_simd_level(level)
        if scalecore.get_num_threads() != threads:
            scalecore.set_num_threads(threads)


def test_pattern_of_is_literal_except_ellipsis():
    p = pattern_of("x: expected (3,) got ...")
    assert re.search(p, "x: expected (3,) got (4,)")
    assert not re.search(p, "x: expected 3, got (4,)")
