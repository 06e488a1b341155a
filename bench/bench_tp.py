"""Clebsch-Gordan tensor products: scalecore.tp.torch against e3nn 0.6 on the
CPU, side by side, float32, the same thread count for both (1 and 2:
``torch.set_num_threads`` and ``scalecore.set_num_threads``).

Cases (the speed lines of issue 12):

* ``tp_mace``  MACE-like channelwise product 64x0e+64x1o+64x2e (x) 0e+1o+2e+3o
  -> every allowed output up to l = 3 (uvu, per-edge weights), 10,000 edges:
  forward and forward+backward (goal >= 10x e3nn).
* ``tp_conv``  the same product fused with the scatter to 1,000 nodes
  (10,000 edges) against e3nn's product + ``index_add_``, forward+backward
  (goal >= 15x).
* ``tp_fctp``  FullyConnectedTensorProduct('32x0e+32x1o+32x2e', '0e+1o+2e',
  '32x0e+32x1o+32x2e'), batch 10,000, forward and forward+backward (goal >= 5x).
* ``tp_force``  a force-training step (energy -> forces with create_graph ->
  loss -> weight gradients) through a MACE-sized interaction block
  (``scalecore.tp.torch.examples.InteractionBlock``, 64 channels, l <= 3,
  1,000 atoms), goal >= 5x.

Run with ``python -m bench tp_mace tp_conv tp_fctp tp_force``.
"""
from __future__ import annotations

import numpy as np

from .harness import Pair, benchmark

MACE = ("64x0e+64x1o+64x2e", "0e+1o+2e+3o", "0e+1o+2e+3o")
FCTP = ("32x0e+32x1o+32x2e", "0e+1o+2e", "32x0e+32x1o+32x2e")


def _threads(t):
    import torch

    import scalecore

    def set_():
        torch.set_num_threads(t)
        scalecore.set_num_threads(t)

    return set_


def _fwd(fn, set_threads):
    import torch

    def run():
        set_threads()
        with torch.no_grad():
            fn()

    return run


def _fwd_bwd(fn, leaves, set_threads, grad_out):
    """Forward, then backward from a dense upstream gradient (as in training;
    ``.sum().backward()`` would hand both libraries a broadcast tensor of
    ones instead)."""
    def run():
        set_threads()
        for t in leaves:
            t.grad = None
        fn().backward(grad_out)

    return run


def _max_rel(a, b) -> float:
    return float((a - b).abs().max() / b.abs().max())


@benchmark("tp_mace", peer="e3nn 0.6", family="tp",
           description="channelwise uvu product, 64x(0e+1o+2e) x (0e+1o+2e+3o), per-edge weights, float32")
def bench_mace(quick: bool):
    import torch
    from e3nn import o3

    from scalecore.tp import torch as sct

    n = 1000 if quick else 10_000
    ours = sct.ChannelwiseTensorProduct(*MACE)
    out, instr = sct.tp_out_irreps_with_instructions(*MACE)
    ref = o3.TensorProduct(MACE[0], MACE[1], str(out), instr, shared_weights=False, internal_weights=False)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, ours.irreps_in1.dim, generator=g, requires_grad=True)
    y = torch.randn(n, ours.irreps_in2.dim, generator=g, requires_grad=True)
    w = torch.randn(n, ours.weight_numel, generator=g, requires_grad=True)
    with torch.no_grad():
        err = _max_rel(ours(x, y, w), ref(x, y, w))
    extra = {"edges": n, "irreps_out": str(out), "paths": len(instr), "weight_numel": ours.weight_numel,
             "max_rel_diff_vs_e3nn": err}
    gout = torch.randn(n, ours.irreps_out.dim, generator=g)
    pairs = []
    for t in (1, 2):
        st = _threads(t)
        pairs.append(Pair(label=f"mace uvu forward, {t} thread(s)", ours=_fwd(lambda: ours(x, y, w), st),
                          ours_items=n, peer=_fwd(lambda: ref(x, y, w), st), peer_items=n, peer_name="e3nn",
                          unit="edges", repeat=3, extra=dict(extra, threads=t)))
        pairs.append(Pair(label=f"mace uvu forward+backward, {t} thread(s)",
                          ours=_fwd_bwd(lambda: ours(x, y, w), (x, y, w), st, gout), ours_items=n,
                          peer=_fwd_bwd(lambda: ref(x, y, w), (x, y, w), st, gout), peer_items=n, peer_name="e3nn",
                          unit="edges", repeat=3, extra=dict(extra, threads=t)))
    return pairs


@benchmark("tp_conv", peer="e3nn 0.6", family="tp",
           description="fused channelwise convolution, 1,000 nodes, 10,000 edges, float32, vs e3nn + index_add_")
def bench_conv(quick: bool):
    import torch
    from e3nn import o3

    from scalecore.tp import torch as sct

    n_nodes, n_edges = (100, 1000) if quick else (1000, 10_000)
    out, instr = sct.tp_out_irreps_with_instructions(*MACE)
    conv = sct.Convolution(MACE[0], MACE[1], out, instr)
    ref = o3.TensorProduct(MACE[0], MACE[1], str(out), instr, shared_weights=False, internal_weights=False)
    g = torch.Generator().manual_seed(1)
    src = torch.randint(0, n_nodes, (n_edges,), generator=g)
    dst = torch.randint(0, n_nodes, (n_edges,), generator=g)
    x = torch.randn(n_nodes, conv.irreps_in1.dim, generator=g, requires_grad=True)
    y = torch.randn(n_edges, conv.irreps_in2.dim, generator=g, requires_grad=True)
    w = torch.randn(n_edges, conv.weight_numel, generator=g, requires_grad=True)

    def ours():
        return conv(x, y, w, src, dst, n_nodes)

    def peer():
        return torch.zeros(n_nodes, conv.irreps_out.dim).index_add_(0, dst, ref(x[src], y, w))

    with torch.no_grad():
        err = _max_rel(ours(), peer())
    extra = {"nodes": n_nodes, "edges": n_edges, "max_rel_diff_vs_e3nn": err}
    gout = torch.randn(n_nodes, conv.irreps_out.dim, generator=g)
    pairs = []
    for t in (1, 2):
        st = _threads(t)
        pairs.append(Pair(label=f"conv forward, {t} thread(s)", ours=_fwd(ours, st), ours_items=n_edges,
                          peer=_fwd(peer, st), peer_items=n_edges, peer_name="e3nn + index_add_", unit="edges",
                          repeat=3, extra=dict(extra, threads=t)))
        pairs.append(Pair(label=f"conv forward+backward, {t} thread(s)", ours=_fwd_bwd(ours, (x, y, w), st, gout),
                          ours_items=n_edges, peer=_fwd_bwd(peer, (x, y, w), st, gout), peer_items=n_edges,
                          peer_name="e3nn + index_add_", unit="edges", repeat=3, extra=dict(extra, threads=t)))
    return pairs


@benchmark("tp_force", peer="e3nn 0.6", family="tp",
           description="force-training step through a MACE-sized interaction block (64 channels, l <= 3), float32")
def bench_force(quick: bool):
    """One step of energy -> forces (autograd, create_graph) -> loss ->
    weight gradients through ``scalecore.tp.torch.examples.InteractionBlock``
    (two channelwise convolutions, edge harmonics, radial MLPs), scalecore
    against the same torch code over e3nn."""
    import torch

    from scalecore.tp.torch.examples import InteractionBlock, energy_force_loss, tiny_molecules

    n_mol, n_atoms = (10, 10) if quick else (100, 10)
    data = tiny_molecules(n_mol=n_mol, n_atoms=n_atoms, seed=0, r_max=3.0)
    models = {}
    for backend in ("scalecore", "e3nn"):
        torch.manual_seed(0)
        models[backend] = InteractionBlock(backend, channels=64, lmax=3, r_max=3.0, dtype=torch.float32)
    losses = {b: float(energy_force_loss(m, data)[0].detach()) for b, m in models.items()}
    extra = {"atoms": n_mol * n_atoms, "edges": int(data["edge_src"].numel()), "channels": 64, "lmax": 3,
             "loss_rel_diff_vs_e3nn": abs(losses["scalecore"] - losses["e3nn"]) / abs(losses["e3nn"])}

    def step(model, set_threads):
        def run():
            set_threads()
            model.zero_grad(set_to_none=True)
            loss, _, _ = energy_force_loss(model, data)
            loss.backward()
        return run

    pairs = []
    for t in (1, 2):
        st = _threads(t)
        pairs.append(Pair(label=f"force-training step, {t} thread(s)", ours=step(models["scalecore"], st),
                          ours_items=n_mol, peer=step(models["e3nn"], st), peer_items=n_mol, peer_name="e3nn",
                          unit="molecules", repeat=3, extra=dict(extra, threads=t)))
    return pairs


@benchmark("tp_fctp", peer="e3nn 0.6", family="tp",
           description="FullyConnectedTensorProduct 32x(0e+1o+2e) x (0e+1o+2e), batch 10,000, float32")
def bench_fctp(quick: bool):
    import torch
    from e3nn import o3

    from scalecore.tp import torch as sct

    n = 1000 if quick else 10_000
    ours = sct.FullyConnectedTensorProduct(*FCTP)
    ref = o3.FullyConnectedTensorProduct(*FCTP)
    with torch.no_grad():
        ours.weight.copy_(ref.weight)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(n, ours.irreps_in1.dim, generator=g, requires_grad=True)
    y = torch.randn(n, ours.irreps_in2.dim, generator=g, requires_grad=True)
    with torch.no_grad():
        err = _max_rel(ours(x, y), ref(x, y))
    extra = {"batch": n, "paths": len(ours.instructions), "weight_numel": ours.weight_numel,
             "max_rel_diff_vs_e3nn": err}
    gout = torch.randn(n, ours.irreps_out.dim, generator=g)
    pairs = []
    for t in (1, 2):
        st = _threads(t)
        pairs.append(Pair(label=f"fctp forward, {t} thread(s)", ours=_fwd(lambda: ours(x, y), st), ours_items=n,
                          peer=_fwd(lambda: ref(x, y), st), peer_items=n, peer_name="e3nn", unit="samples",
                          repeat=3, extra=dict(extra, threads=t)))
        pairs.append(Pair(label=f"fctp forward+backward, {t} thread(s)",
                          ours=_fwd_bwd(lambda: ours(x, y), (x, y, ours.weight), st, gout), ours_items=n,
                          peer=_fwd_bwd(lambda: ref(x, y), (x, y, ref.weight), st, gout), peer_items=n,
                          peer_name="e3nn", unit="samples", repeat=3, extra=dict(extra, threads=t)))
    return pairs
