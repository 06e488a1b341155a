"""Low-bit GEMV/GEMM: scalecore.lowbit.PackedLinear against numpy and torch,
side by side in one process, 2 threads each unless a row says 1.

Cases (the speed lines of issue 13):

* ``lowbit_gemv``  1 x 4096 x 4096 and 1 x 11008 x 4096 (out x in), W4A32,
  W4A16 (bf16 activations, as torch's int4pack peer takes) and W4A8 (int4,
  group 128), and MXFP4 x float32 (bandwidth and numpy rows).  Each timed call cycles through copies of the
  weights totalling >= 256 MiB, so the L3 cannot hold them (decoding).  Rows:
  weight bytes/s against the machine's read bandwidth measured in the same
  run (``lowbit_read_probe``: 256-bit loads over 256 MiB on the same pool;
  the ratio is the fraction of bandwidth), and GEMVs/s against numpy float32
  ``x @ W.T``, torch's int8 dynamic quantized Linear
  (``torch.ao.quantization.quantize_dynamic``) and
  ``torch._weight_int4pack_mm_for_cpu`` (group 128, bf16 activations) on 2
  threads and on 1.
* ``lowbit_gemm``  512 x 4096 x 4096: W8A8 and W4A8 FLOP rate against numpy
  float32 matmul and torch's int8 dynamic Linear; W4A16 (bf16 activations)
  against torch bf16 matmul; each on 2 threads and on 1 (both sides).

numpy's OpenBLAS is set to the same thread count through its
``*_set_num_threads`` entry point (bench/__main__ pins it to 1 at import);
the count actually used is recorded.  Run:
``python -m bench lowbit_gemv lowbit_gemm`` (``--quick`` for small sizes).
"""
from __future__ import annotations

import copy
import ctypes
import glob
import os

import numpy as np

from .harness import Pair, benchmark

MiB = 1 << 20
THREADS = 2


def _openblas():
    """numpy's bundled OpenBLAS (set/get thread count), or None."""
    base = os.path.dirname(np.__file__)
    for so in glob.glob(os.path.join(base, "..", "numpy.libs", "*openblas*.so*")) + \
            glob.glob(os.path.join(base, ".libs", "*openblas*.so*")):
        lib = ctypes.CDLL(so)
        for pre in ("scipy_openblas_", "openblas_"):
            for suf in ("64_", ""):
                set_fn = getattr(lib, f"{pre}set_num_threads{suf}", None)
                get_fn = getattr(lib, f"{pre}get_num_threads{suf}", None)
                if set_fn is not None and get_fn is not None:
                    return set_fn, get_fn
    return None


def _blas_threads(n):
    ob = _openblas()
    if ob is None:
        return None
    ob[0](ctypes.c_int(n))
    return int(ob[1]())


def _copies(layer, nbytes_total):
    """Copies of a PackedLinear with their own buffers, >= nbytes_total."""
    n = max(1, -(-nbytes_total // layer.nbytes))
    out = [layer]
    for _ in range(n - 1):
        c = copy.copy(layer)
        c._packed = layer._packed.copy()
        c._scales = layer._scales.copy()
        out.append(c)
    return out


def _cycle(fns):
    def run():
        for f in fns:
            f()
    return run


def _threads(n, fn):
    """fn run with scalecore and torch at n threads."""
    import scalecore
    import torch

    def run():
        old = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            with scalecore.num_threads(n):
                fn()
        finally:
            torch.set_num_threads(old)
    return run


def _torch_int8_dynamic(w):
    import torch
    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w))
    return torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear}, dtype=torch.qint8)


def _torch_int4pack(layer):
    """torch's CPU int4 weight from our codes: q = code + 8 in [0, 15],
    (K/g, N, 2) bf16 scales and zeros with zero = 0, so its dequantized weight
    is (q - 8) * scale = ours (to the bf16 rounding of the scale)."""
    import torch
    q = torch.from_numpy(layer.codes().astype(np.int32) + 8)
    packed = torch._convert_weight_to_int4pack_for_cpu(q, 1)
    sz = torch.zeros((layer.scales.shape[1], layer.scales.shape[0], 2), dtype=torch.bfloat16)
    sz[:, :, 0] = torch.from_numpy(layer.scales.T.copy()).to(torch.bfloat16)
    return packed, sz


@benchmark("lowbit_gemv", peer="numpy / torch int8 dynamic / torch int4pack", family="lowbit",
           description="W4A32 and W4A8 GEMV 1x4096x4096, 1x11008x4096, weights cycled over >= 256 MiB")
def bench_gemv(quick: bool):
    import torch

    import scalecore
    from scalecore import _core
    from scalecore.lowbit import PackedLinear

    torch.set_num_threads(THREADS)
    blas = _blas_threads(THREADS)
    total = (32 if quick else 256) * MiB
    rng = np.random.default_rng(0)
    probe_buf = np.ones(total, np.uint8)
    probe = lambda: _core.lowbit_read_probe(probe_buf)  # noqa: E731
    pairs = []
    shapes = [(1024, 1024)] if quick else [(4096, 4096), (11008, 4096)]
    for n, k in shapes:
        w = (rng.standard_normal((n, k)) * 0.02).astype(np.float32)
        x = rng.standard_normal((1, k)).astype(np.float32)
        xt = torch.from_numpy(x)
        f32s = [w] + [w.copy() for _ in range(max(0, -(-total // w.nbytes) - 1))]
        tq = _torch_int8_dynamic(w)
        tqs = [tq] + [copy.deepcopy(tq) for _ in range(max(0, -(-total // (n * k)) - 1))]
        for fmt, act, name in (("int4", "float32", "W4A32"), ("int4", "bfloat16", "W4A16"), ("int4", "int8", "W4A8"),
                               ("mxfp4", "float32", "MXFP4-A32")):
            base = PackedLinear(w, fmt, group_size=128, act=act)
            layers = _copies(base, total)
            wbytes = sum(l.nbytes for l in layers)
            ours = _cycle([lambda l=l: l(x) for l in layers])
            y = base(x)
            ref = x.astype(np.float64) @ base.dequantize().astype(np.float64).T
            extra = {"shape": [1, n, k], "fmt": fmt, "act": act, "group_size": base.group_size, "matrices": len(layers),
                     "weight_bytes_per_pass": wbytes, "threads": THREADS, "openblas_threads": blas,
                     "rel_err_vs_dequant_f64": float(np.abs(y - ref).max() / np.abs(ref).max())}
            lab = f"{name} GEMV 1x{n}x{k}"
            pairs.append(Pair(label=f"{lab}: weight B/s vs read bandwidth", ours=ours, ours_items=wbytes,
                              peer=probe, peer_items=probe_buf.nbytes, peer_name="read probe", unit="B",
                              repeat=7, extra=extra,
                              note="ratio = fraction of the read bandwidth measured with 256-bit loads, same pool"))
            if act == "int8":  # the 1-thread goal (2x int4pack) is bounded by what one core can read
                pairs.append(Pair(label=f"{lab}: weight B/s vs read bandwidth, 1 thread", ours=_threads(1, ours),
                                  ours_items=wbytes, peer=_threads(1, probe), peer_items=probe_buf.nbytes,
                                  peer_name="read probe, 1 thread", unit="B", repeat=7, extra=dict(extra, threads=1),
                                  note="one core's read bandwidth: int4pack 1-thread time / this probe's time for "
                                       "our bytes is the most any kernel could beat it by"))
            pairs.append(Pair(label=f"{lab} vs numpy float32", ours=ours, ours_items=len(layers),
                              peer=_cycle([lambda W=W: x @ W.T for W in f32s]), peer_items=len(f32s),
                              peer_name=f"numpy f32 (openblas {blas} threads)", unit="GEMV", repeat=7, extra=extra))
            if fmt != "int4":  # the torch peers below are INT8 / INT4 kernels
                continue
            pairs.append(Pair(label=f"{lab} vs torch int8 dynamic", ours=ours, ours_items=len(layers),
                              peer=_cycle([lambda q=q: q(xt) for q in tqs]), peer_items=len(tqs),
                              peer_name="torch quantize_dynamic qint8", unit="GEMV", repeat=7, extra=extra))
            try:
                pk, sz = _torch_int4pack(base)
                xb = xt.to(torch.bfloat16)
                t4 = [(pk, sz)] + [(pk.clone(), sz.clone()) for _ in range(len(layers) - 1)]
                peer4 = _cycle([lambda p=p, s=s: torch._weight_int4pack_mm_for_cpu(xb, p, 128, s) for p, s in t4])
                yt = torch._weight_int4pack_mm_for_cpu(xb, pk, 128, sz).float().numpy()
                ex4 = dict(extra, torch_int4_rel_diff=float(np.abs(yt - ref).max() / np.abs(ref).max()))
                for nt in (THREADS, 1):
                    pairs.append(Pair(label=f"{lab} vs torch int4pack, {nt} thread(s)", ours=_threads(nt, ours),
                                      ours_items=len(layers), peer=_threads(nt, peer4), peer_items=len(t4),
                                      peer_name="torch _weight_int4pack_mm_for_cpu", unit="GEMV", repeat=7,
                                      extra=dict(ex4, threads=nt)))
            except (AttributeError, RuntimeError) as e:  # pragma: no cover - torch build without the op
                print(f"   torch int4pack unavailable: {e}")
    scalecore.set_num_threads(THREADS)
    return pairs


@benchmark("lowbit_gemm", peer="numpy f32 matmul / torch int8 dynamic / torch bf16", family="lowbit",
           description="W8A8, W4A8, W4A16 GEMM 512x4096x4096 (FLOP rate)")
def bench_gemm(quick: bool):
    import torch

    from scalecore.lowbit import PackedLinear

    torch.set_num_threads(THREADS)
    blas = _blas_threads(THREADS)
    m, n, k = (128, 1024, 1024) if quick else (512, 4096, 4096)
    flops = 2 * m * n * k
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((n, k)) * 0.02).astype(np.float32)
    x = rng.standard_normal((m, k)).astype(np.float32)
    xt = torch.from_numpy(x)
    tq = _torch_int8_dynamic(w)
    wt_bf = torch.from_numpy(w).to(torch.bfloat16)
    xt_bf = xt.to(torch.bfloat16)
    pairs = []

    def with_blas(nt, fn):  # numpy's OpenBLAS at nt threads for the call, back to THREADS after
        def run():
            _blas_threads(nt)
            try:
                fn()
            finally:
                _blas_threads(THREADS)
        return run

    for fmt, act, name in (("int8", "int8", "W8A8"), ("int4", "int8", "W4A8"), ("int4", "bfloat16", "W4A16")):
        layer = PackedLinear(w, fmt, group_size=128, act=act)
        ours = lambda layer=layer: layer(x)  # noqa: E731
        y = layer(x)
        ref = x.astype(np.float64) @ w.astype(np.float64).T
        for nt in (THREADS, 1):
            extra = {"shape": [m, n, k], "fmt": fmt, "act": act, "group_size": 128, "threads": nt,
                     "openblas_threads": blas, "rel_err_vs_float_weights": float(np.linalg.norm(y - ref) / np.linalg.norm(ref))}
            lab = f"{name} GEMM {m}x{n}x{k}, {nt} thread(s)"
            if act == "bfloat16":
                pairs.append(Pair(label=f"{lab} vs torch bf16 matmul", ours=_threads(nt, ours), ours_items=flops,
                                  peer=_threads(nt, lambda: xt_bf @ wt_bf.T), peer_items=flops, peer_name="torch bf16",
                                  unit="FLOP", repeat=3, extra=extra))
                continue
            pairs.append(Pair(label=f"{lab} vs numpy float32", ours=_threads(nt, ours), ours_items=flops,
                              peer=with_blas(nt, lambda: x @ w.T), peer_items=flops,
                              peer_name=f"numpy f32 (openblas {nt} threads)", unit="FLOP", repeat=3,
                              extra=dict(extra, openblas_threads=nt)))
            pairs.append(Pair(label=f"{lab} vs torch int8 dynamic", ours=_threads(nt, ours), ours_items=flops,
                              peer=_threads(nt, lambda: tq(xt)), peer_items=flops,
                              peer_name="torch quantize_dynamic qint8", unit="FLOP", repeat=3, extra=extra))
    return pairs
