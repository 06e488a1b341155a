"""Replays the saved fuzzing corpus (``tools/fuzz.py``) without atheris.

Each file under ``tests/fuzz_corpus/<target>/`` is an input that the
coverage-guided fuzzer kept (new coverage) or a crash that was fixed; the
target's check asserts the documented contract: a valid result, or a
ValueError / TypeError.  Anything else fails here.
"""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fuzz_corpus"

_spec = importlib.util.spec_from_file_location("scalecore_fuzz", ROOT / "tools" / "fuzz.py")
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)


def _cases():
    for target in sorted(fuzz.TARGETS):
        files = sorted((CORPUS / target).glob("*")) if (CORPUS / target).is_dir() else []
        # The seeds always run, even before a fuzzing run saved a corpus.
        yield pytest.param(target, [s for s in fuzz.SEEDS[target]] + [f.read_bytes() for f in files], id=target)


@pytest.mark.parametrize("target,inputs", list(_cases()))
def test_corpus_replays_cleanly(target, inputs):
    check = fuzz.TARGETS[target]
    for data in inputs:
        check(data)


# ---- native targets (cpp/src/fuzz, tools/fuzz_native.sh) ----
# Each target checks its contract at every SIMD level this machine has (it
# switches the level itself) and raises AssertionError when it is broken.
# Files named regress-* are inputs that crashed or failed before a fix:
#   native_expr/regress-uniform-output: a program whose value depends on the
#   parameters only (unused inputs) read a null value array in the block
#   interpreter (expr.h); compile_expr accepted it.

from scalecore import _core  # noqa: E402

NATIVE_SEEDS = [b"", b"\x00" * 64, b"\xff" * 64, bytes(range(256)), bytes(range(255, -1, -1)) * 2]


def _native_cases():
    for target in _core._fuzz_targets():
        d = CORPUS / f"native_{target}"
        files = sorted(d.glob("*")) if d.is_dir() else []
        yield pytest.param(target, NATIVE_SEEDS + [f.read_bytes() for f in files], id=f"native-{target}")


@pytest.mark.parametrize("target,inputs", list(_native_cases()))
def test_native_corpus_replays_cleanly(target, inputs):
    for data in inputs:
        _core._fuzz_one(target, data)


def test_native_targets_are_the_documented_ones():
    assert _core._fuzz_targets() == ["expr", "tp_plan", "lowbit_codec", "lowbit_packed"]
    with pytest.raises(ValueError, match="unknown fuzz target 'nope'; expected one of expr"):
        _core._fuzz_one("nope", b"")

