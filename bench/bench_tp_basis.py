"""Tensor-product basis functions: scalecore.tp against e3nn 0.6, side by side, same threads.

Cases:

* ``tp_sh``     spherical harmonics of 10,000 edge vectors (float32, normalize=True,
  "component"): ``0e+1o+2e+3o`` (MACE's edge attributes) and all l <= 8,
  forward and forward+backward, ``scalecore.tp.torch.SphericalHarmonics``
  against ``e3nn.o3.SphericalHarmonics``.
* ``tp_gaunt``  the Gaunt product on the S^2 grid, single channel, all l <= L
  (x) all l <= L -> all l <= 2L, batch 10,000 (float32), forward and
  forward+backward, against the computation it equals in e3nn: a
  ``TensorProduct`` over the parity-even paths with the matching per-path
  weights (Price of Freedom's MIMO case, L = 2, 4, 6).

* ``tp_lscan``  L = 1 ... 10, single channel, all l <= L (x) all l <= L ->
  all l <= 2L over the parity-even paths, batch 10,000, forward and
  forward+backward: scalecore's CG product and Gaunt grid against e3nn's CG
  product (to L = 8; its code generation grows steeply beyond), plotted to
  ``bench/results/tp_lscan.png`` (where the Gaunt grid overtakes CG).

Both libraries run on the same number of threads (torch.set_num_threads and
scalecore.set_num_threads, 1 by default; SCALECORE_BENCH_THREADS=2 for two).
Run with ``python -m bench tp_sh tp_gaunt tp_lscan``.
"""
from __future__ import annotations

import os

import numpy as np

from .harness import Pair, benchmark


def _threads() -> int:
    return int(os.environ.get("SCALECORE_BENCH_THREADS", "1"))


def _nograd(fn):
    def f():
        import torch

        with torch.no_grad():
            return fn()
    return f


def _setup_threads():
    import torch

    import scalecore

    n = _threads()
    torch.set_num_threads(n)
    scalecore.set_num_threads(n)
    return n


@benchmark("tp_sh", peer="e3nn", family="tp",
           description="spherical harmonics of 10,000 edges, float32, lmax 3 and 8, forward and fwd+bwd")
def bench_sh(quick: bool):
    import torch
    from e3nn import o3

    from scalecore.tp.torch import SphericalHarmonics

    nthr = _setup_threads()
    n = 2000 if quick else 10000
    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(0))
    pairs = []
    for ir in ("0e+1o+2e+3o", "0e+1o+2e+3o+4e+5o+6e+7o+8e"):
        ours_m = SphericalHarmonics(ir, True, "component")
        ref_m = o3.SphericalHarmonics(ir, True, "component")
        err = float((ours_m(x) - ref_m(x)).abs().max())
        xg = x.clone().requires_grad_(True)
        g = torch.randn(n, ours_m.irreps_out.dim)

        def fb(m, xg=xg, g=g):
            def f():
                y = m(xg)
                (gx,) = torch.autograd.grad(y, xg, g)
                return gx
            return f

        lmax = ours_m._lmax
        extra = {"n": n, "irreps": ir, "threads": nthr, "max_abs_diff_vs_e3nn": err}
        pairs.append(Pair(label=f"sh forward lmax {lmax}", ours=_nograd(lambda m=ours_m: m(x)), ours_items=n,
                          peer=_nograd(lambda m=ref_m: m(x)), peer_items=n, peer_name="e3nn", unit="edges",
                          repeat=5, extra=extra))
        pairs.append(Pair(label=f"sh forward+backward lmax {lmax}", ours=fb(ours_m), ours_items=n,
                          peer=fb(ref_m), peer_items=n, peer_name="e3nn", unit="edges", repeat=5, extra=extra))
    return pairs


def _gaunt_paths(L: int):
    """The parity-even paths of (all l <= L) x (all l <= L) -> (all l <= 2L) as uvu instructions, their
    CG-to-Gaunt ratios r(l1, l2, l3) and output degrees (one irrep per l, so index = l)."""
    from scalecore import tp

    instr, ratio, lout = [], [], []
    for i in range(L + 1):
        for j in range(L + 1):
            for k in range(2 * L + 1):
                if abs(i - j) <= k <= i + j and (i + j + k) % 2 == 0:
                    instr.append((i, j, k, "uvu", True))
                    ratio.append(tp.gaunt_cg_ratio(i, j, k))
                    lout.append(k)
    return instr, np.array(ratio), np.array(lout)


def _e3nn_gaunt_equivalent(L: int):
    """e3nn TensorProduct over the parity-even paths of (all l <= L) x (all l <= L) -> (all l <= 2L),
    with per-path weights w[l3] * r(l1, l2, l3): the same function as the Gaunt product."""
    from e3nn import o3

    ir = o3.Irreps.spherical_harmonics(L)
    iro = o3.Irreps.spherical_harmonics(2 * L)
    instr, ratio, lout = _gaunt_paths(L)
    m = o3.TensorProduct(ir, ir, iro, instr, irrep_normalization="none", path_normalization="none",
                         internal_weights=False, shared_weights=True)
    return m, ir, iro, ratio, lout


@benchmark("tp_gaunt", peer="e3nn", family="tp",
           description="Gaunt S2-grid product, single channel, l<=L x l<=L -> l<=2L, batch 10,000, float32")
def bench_gaunt(quick: bool):
    import torch

    from scalecore.tp.torch import GauntTensorProduct

    nthr = _setup_threads()
    n = 1000 if quick else 10000
    pairs = []
    for L in ((2,) if quick else (2, 4, 6)):
        ref, ir, iro, ratio, lout = _e3nn_gaunt_equivalent(L)
        ours = GauntTensorProduct(str(ir), str(ir), str(iro), internal_weights=False)
        w = torch.randn(2 * L + 1)
        wpath = torch.from_numpy((w.numpy()[lout] * ratio).astype(np.float32))
        gen = torch.Generator().manual_seed(L)
        x1 = torch.randn(n, ir.dim, generator=gen)
        x2 = torch.randn(n, ir.dim, generator=gen)
        with torch.no_grad():
            a, b = ours(x1, x2, w), ref(x1, x2, wpath)
        err = float((a - b).abs().max() / b.abs().max())
        x1g, x2g = x1.clone().requires_grad_(True), x2.clone().requires_grad_(True)
        wg, wpg = w.clone().requires_grad_(True), wpath.clone().requires_grad_(True)
        g = torch.randn(n, iro.dim)

        def fb_ours(ours=ours, x1g=x1g, x2g=x2g, wg=wg, g=g):
            y = ours(x1g, x2g, wg)
            return torch.autograd.grad(y, (x1g, x2g, wg), g)

        def fb_ref(ref=ref, x1g=x1g, x2g=x2g, wpg=wpg, g=g):
            y = ref(x1g, x2g, wpg)
            return torch.autograd.grad(y, (x1g, x2g, wpg), g)

        grid = f"{ours.res_beta}x{ours.res_alpha}"
        extra = {"n": n, "L": L, "threads": nthr, "grid": grid, "e3nn_paths": len(ratio),
                 "max_rel_diff_vs_e3nn": err}
        pairs.append(Pair(label=f"gaunt forward L={L} (grid {grid})",
                          ours=_nograd(lambda o=ours, a=x1, b=x2, c=w: o(a, b, c)), ours_items=n,
                          peer=_nograd(lambda r=ref, a=x1, b=x2, c=wpath: r(a, b, c)), peer_items=n,
                          peer_name=f"e3nn CG, {len(ratio)} even paths", unit="rows", repeat=3, extra=extra))
        pairs.append(Pair(label=f"gaunt forward+backward L={L}", ours=fb_ours, ours_items=n, peer=fb_ref,
                          peer_items=n, peer_name=f"e3nn CG, {len(ratio)} even paths", unit="rows", repeat=3,
                          extra=extra))
    return pairs


def _plot_lscan(result, path):
    """Times against L, forward and forward+backward, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {}
    for r in result["records"]:
        key = (r["method"], r["phase"])
        series.setdefault(key, []).append((r["L"], r["ours"]["wall_s"]["median"]))
        if "peer" in r:
            series.setdefault(("e3nn CG", r["phase"]), []).append((r["L"], r["peer"]["wall_s"]["median"]))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    style = {"scalecore CG": "o-", "scalecore Gaunt grid": "s-", "e3nn CG": "^--"}
    for ax, phase in zip(axes, ("forward", "forward+backward")):
        for name in style:
            pts = sorted(series.get((name, phase), []))
            if pts:
                ax.plot([p[0] for p in pts], [p[1] * 1e3 for p in pts], style[name], label=name)
        ax.set_yscale("log")
        ax.set_xlabel("L (all l <= L in each input, l <= 2L out, even paths)")
        ax.set_title(f"{phase}, batch {result['records'][0]['n']}, float32")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("median wall time (ms)")
    axes[0].legend()
    m = result["machine"]
    fig.suptitle(f"{m['cpu_model']}, simd {m['simd_level']}, {result['records'][0]['threads']} thread(s)",
                 fontsize=9)
    fig.tight_layout()
    out = path.parent / ("tp_lscan-quick.png" if result["quick"] else "tp_lscan.png")  # smoke runs keep the record
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


@benchmark("tp_lscan", peer="e3nn", family="tp", plot=_plot_lscan,
           description="L-scan 1..10: CG and Gaunt grid against e3nn CG, single channel, batch 10,000, float32")
def bench_lscan(quick: bool):
    import torch

    from scalecore import tp
    from scalecore.tp.torch import GauntTensorProduct, TensorProduct

    nthr = _setup_threads()
    n = 1000 if quick else 10000
    Ls = (1, 2, 3) if quick else tuple(range(1, 11))
    e3nn_max = 8
    pairs = []
    for L in Ls:
        ref = _e3nn_gaunt_equivalent(L)[0] if L <= e3nn_max else None
        ir, iro = tp.Irreps.spherical_harmonics(L), tp.Irreps.spherical_harmonics(2 * L)
        instr, ratio, lout = _gaunt_paths(L)
        cg = TensorProduct(str(ir), str(ir), str(iro), instr, irrep_normalization="none", path_normalization="none",
                           internal_weights=False, shared_weights=True)
        gaunt = GauntTensorProduct(str(ir), str(ir), str(iro), internal_weights=False)
        gen = torch.Generator().manual_seed(L)
        x1 = torch.randn(n, cg.irreps_in1.dim, generator=gen)
        x2 = torch.randn(n, cg.irreps_in1.dim, generator=gen)
        w = torch.randn(2 * L + 1, generator=gen)
        wpath = torch.from_numpy((w.numpy()[lout] * ratio).astype(np.float32))
        with torch.no_grad():
            a, b = gaunt(x1, x2, w), cg(x1, x2, wpath)
        extra = {"n": n, "L": L, "threads": nthr, "paths": len(instr),
                 "gaunt_vs_cg_max_rel_diff": float((a - b).abs().max() / b.abs().max())}
        if ref is not None:
            with torch.no_grad():
                extra["cg_vs_e3nn_max_rel_diff"] = float((cg(x1, x2, wpath) - ref(x1, x2, wpath)).abs().max()
                                                         / ref(x1, x2, wpath).abs().max())
        x1g, x2g = x1.clone().requires_grad_(True), x2.clone().requires_grad_(True)
        wg, wpg = w.clone().requires_grad_(True), wpath.clone().requires_grad_(True)
        g = torch.randn(n, cg.irreps_out.dim, generator=gen)

        def fb(m, ww, x1g=x1g, x2g=x2g, g=g):
            def f():
                return torch.autograd.grad(m(x1g, x2g, ww), (x1g, x2g, ww), g)
            return f

        reps = 3 if L <= 6 else 1
        peer_name = f"e3nn CG, {len(instr)} even paths"
        for phase in ("forward", "forward+backward"):
            if phase == "forward":
                o_cg = _nograd(lambda m=cg, a=x1, b=x2, c=wpath: m(a, b, c))
                o_g = _nograd(lambda m=gaunt, a=x1, b=x2, c=w: m(a, b, c))
                p_cg = _nograd(lambda m=ref, a=x1, b=x2, c=wpath: m(a, b, c)) if ref is not None else None
            else:
                o_cg, o_g = fb(cg, wpg), fb(gaunt, wg)
                p_cg = fb(ref, wpg) if ref is not None else None
            pairs.append(Pair(label=f"L={L} CG {phase}", ours=o_cg, ours_items=n, peer=p_cg,
                              peer_items=n if p_cg else 0, peer_name=peer_name, unit="rows", repeat=reps,
                              extra=dict(extra, method="scalecore CG", phase=phase)))
            # e3nn is timed once per L and phase, beside the CG product.
            pairs.append(Pair(label=f"L={L} Gaunt grid {phase}", ours=o_g, ours_items=n, unit="rows", repeat=reps,
                              extra=dict(extra, method="scalecore Gaunt grid", phase=phase)))
    return pairs
