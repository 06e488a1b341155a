"""The array boundary shared by every family.

Inputs may be numpy arrays, anything numpy can convert (lists, scalars), or
objects exporting ``__dlpack__`` in host memory (torch, jax, cupy's host
arrays).  A non-contiguous array or a castable dtype is converted; anything
else is rejected with a ``TypeError`` or ``ValueError`` that names the
argument, what was expected and what was received.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np

_KDL_CPU = 1
_KDL_CUDA_HOST = 3


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"a {x.dtype} array of shape {x.shape}"
    t = type(x)
    mod = t.__module__.split(".")[0]
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    bits = [f"{mod}.{t.__name__}"]
    if dtype is not None:
        bits.append(f"dtype {dtype}")
    if shape is not None:
        bits.append(f"shape {tuple(shape)}")
    return " ".join(bits)


def to_numpy(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a numpy array without copying where possible.

    DLPack producers in host memory are wrapped zero-copy; a torch tensor that
    requires grad is detached first.  Device (GPU) arrays raise ``TypeError``.
    """
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            raise TypeError(f"{name}: expected numbers, got an object array of shape {x.shape}")
        return x
    if hasattr(x, "__dlpack__") and not isinstance(x, (list, tuple)):
        dev = None
        if hasattr(x, "__dlpack_device__"):
            try:
                dev = x.__dlpack_device__()
            except Exception:  # pragma: no cover - producer-specific
                dev = None
        if dev is not None and int(dev[0]) not in (_KDL_CPU, _KDL_CUDA_HOST):
            raise TypeError(
                f"{name}: expected an array in host (CPU) memory, got {_describe(x)} on DLPack "
                f"device {tuple(int(v) for v in dev)}; copy it to the CPU first"
            )
        if getattr(x, "requires_grad", False) and hasattr(x, "detach"):
            x = x.detach()
        try:
            return np.from_dlpack(x)
        except (BufferError, RuntimeError, TypeError, ValueError) as e:
            # Some producers (e.g. torch bool/bfloat16) cannot export: fall back
            # to the array protocol if they have one.
            if hasattr(x, "__array__"):
                try:
                    return np.asarray(x)
                except Exception:
                    pass
            raise TypeError(f"{name}: could not read {_describe(x)} through DLPack ({e})") from e
    try:
        arr = np.asarray(x)
    except Exception as e:
        raise TypeError(f"{name}: expected an array-like, got {_describe(x)} ({e})") from e
    if arr.dtype == object:
        raise TypeError(f"{name}: expected numbers, got {_describe(x)} that converts to an object array")
    return arr


def as_float_array(
    x: Any,
    name: str,
    dtype: np.dtype,
    *,
    ndims: Sequence[int] = (1, 2),
) -> np.ndarray:
    """Convert ``x`` to a C-contiguous array of floating ``dtype``.

    Integers, booleans and other floats are cast; complex, strings, dates and
    objects raise ``TypeError``.  ``ndims`` lists the accepted ranks.
    """
    arr = to_numpy(x, name)
    kind = arr.dtype.kind
    if kind not in "fiub":
        raise TypeError(
            f"{name}: expected a real numeric array (castable to {np.dtype(dtype).name}), got dtype {arr.dtype}"
        )
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name}: expected a {want} array, got shape {arr.shape}")
    # Contiguous and aligned: buffers from pickle protocol 5 (Dask), np.frombuffer
    # at an odd offset or packed records can be misaligned, and the C++ kernels
    # read whole elements (UBSan: misaligned load).
    return np.require(arr, dtype=dtype, requirements=["C", "A"])


def as_mask(x: Any, name: str, ndims: Sequence[int] = (1, 2)) -> np.ndarray:
    """Convert a boolean (or 0/1 integer) mask to a C-contiguous uint8 array."""
    arr = to_numpy(x, name)
    if arr.dtype.kind not in "biu":
        raise TypeError(f"{name}: expected a boolean array, got dtype {arr.dtype}")
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name}: expected a {want} array, got shape {arr.shape}")
    return np.ascontiguousarray(arr != 0, dtype=np.uint8)


def check_batch_shape(arr: np.ndarray, name: str, B: int, M: int) -> None:
    """Check that ``arr`` is (M,) or (B, M)."""
    if arr.shape == (M,) or arr.shape == (B, M):
        return
    raise ValueError(f"{name}: expected shape ({M},) or ({B}, {M}) to match y, got {arr.shape}")


def float_dtype(dtype: Optional[Any], like: np.ndarray) -> np.dtype:
    """The floating dtype a computation runs in: ``dtype`` if given (float32 or
    float64), else float32 for float32/float16 data and float64 otherwise."""
    if dtype is None:
        return np.dtype(np.float32) if like.dtype in (np.float32, np.float16) else np.dtype(np.float64)
    try:
        d = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"dtype: expected float32 or float64, got {dtype!r}") from e
    if d not in (np.float32, np.float64):
        raise TypeError(f"dtype: expected float32 or float64, got {d}")
    return d


def shape_str(shape: Tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
