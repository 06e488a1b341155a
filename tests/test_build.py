"""Build information, the extension's dynamic dependencies, optional CUDA."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import scalecore
from scalecore import _core


def test_build_info_fields():
    info = scalecore.build_info()
    for key in ("version", "compiler", "cpu", "simd_level", "simd_max", "simd_levels", "num_threads",
                "hardware_threads", "cuda", "python", "numpy", "platform"):
        assert key in info, key
    assert info["version"] == scalecore.__version__
    assert re.match(r"\d+\.\d+\.\d+", info["version"])
    assert info["simd_level"] in info["simd_levels"]
    assert info["simd_levels"][0] == "scalar"
    assert isinstance(info["cpu"]["features"], list)
    assert info["num_threads"] >= 1
    cuda = info["cuda"]
    assert set(cuda) >= {"compiled", "architectures", "runtime_version", "devices", "error"}
    if cuda["compiled"]:
        assert any(a.startswith("80") for a in cuda["architectures"])
        assert any(a.startswith("90") for a in cuda["architectures"])
        # No GPU on CI: an empty device list with a reason, never an exception.
        if not cuda["devices"]:
            assert cuda["error"]


def test_cpu_features_agree_with_proc_cpuinfo():
    if not Path("/proc/cpuinfo").exists():
        pytest.skip("no /proc/cpuinfo")
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    feats = set(scalecore.build_info()["cpu"]["features"])
    for f in ("avx2", "fma", "sse4_2"):
        assert (f in feats) == (f in flags), f
    if "avx2" in flags and "fma" in flags:
        assert "avx2" in scalecore.simd_levels()


def _ldd(path: str) -> str:
    if shutil.which("ldd") is None:
        pytest.skip("ldd not available")
    return subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout


def test_cpu_extension_needs_no_cuda_library():
    out = _ldd(_core.__file__)
    assert "libcudart" not in out
    assert "libcuda." not in out
    assert "not found" not in out


def test_cuda_extension_links_runtime_statically():
    try:
        from scalecore import _cuda
    except ImportError:
        pytest.skip("built without CUDA kernels")
    out = _ldd(_cuda.__file__)
    assert "libcudart" not in out  # runtime linked statically
    assert "libcuda." not in out   # driver opened at first use, not at load
    assert "not found" not in out


def test_import_in_fresh_process_without_driver():
    # A separate interpreter imports scalecore, asks for build info and fits,
    # whatever CUDA state the machine has.
    code = ("import scalecore, numpy as np; i = scalecore.build_info(); "
            "r = scalecore.fit('power', np.arange(1.0, 20.0), 3*np.arange(1.0, 20.0)**-0.5); "
            "print(i['cuda']['compiled'], r.status)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] in ("gtol", "ftol", "xtol")


def test_cuda_device_request_without_gpu_is_a_clear_error():
    info = scalecore.build_info()["cuda"]
    if info["devices"]:
        pytest.skip("a GPU is present")
    import numpy as np

    x = np.arange(1.0, 20.0)
    with pytest.raises(RuntimeError, match="device='cuda'"):
        scalecore.fit("power", x, 3 * x ** -0.5, device="cuda")


def test_version_is_package_metadata():
    from importlib.metadata import version

    assert version("scalecore") == scalecore.__version__
