"""Shared fixtures: SIMD levels and thread counts to run tests under."""
from __future__ import annotations

import os

import numpy as np
import pytest

import scalecore

# Keep BLAS pools from competing for the two cores with scalecore's pool.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(params=scalecore.simd_levels())
def simd(request):
    """Runs a test once per SIMD level this build and CPU support."""
    with scalecore.simd_level(request.param):
        yield request.param


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
