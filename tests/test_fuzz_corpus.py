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
