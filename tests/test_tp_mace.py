"""The README's worked example: a MACE-style interaction block trained on
energies and forces of a tiny molecule set, with e3nn and with scalecore.

The reference is e3nn 0.6 running the same torch code (same seed, same
weights): the losses of every step must agree, which checks the harmonics,
the fused convolution and their first and second derivatives together.
"""
import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("e3nn")

from scalecore.tp.torch.examples import (  # noqa: E402
    InteractionBlock,
    energy_force_loss,
    tiny_molecules,
    train,
)


def _losses(backend, dtype, steps=4, **kw):
    data = tiny_molecules(n_mol=4, n_atoms=5, seed=3)
    torch.manual_seed(0)
    model = InteractionBlock(backend, dtype=dtype, **kw)
    return train(model, data, steps=steps, lr=1e-2)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_training_losses_equal_e3nn(dtype, tol):
    ours = _losses("scalecore", dtype, channels=6, lmax=3)
    ref = _losses("e3nn", dtype, channels=6, lmax=3)
    np.testing.assert_allclose(ours, ref, rtol=tol)
    assert ref[-1] < ref[0]  # it trains


def test_forces_are_the_gradient_and_equal_e3nn():
    data = tiny_molecules(n_mol=2, n_atoms=4, seed=5)
    out = {}
    for backend in ("scalecore", "e3nn"):
        torch.manual_seed(1)
        model = InteractionBlock(backend, channels=4, lmax=2, dtype=torch.float64)
        pos = data["pos"].clone().requires_grad_(True)
        e = model(pos, data["species"], data["edge_src"], data["edge_dst"], data["mol"], data["n_mol"])
        (g,) = torch.autograd.grad(e.sum(), pos)
        out[backend] = (e.detach(), g)
    for a, b in zip(out["scalecore"], out["e3nn"]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    # central differences of the scalecore energy on one coordinate
    torch.manual_seed(1)
    model = InteractionBlock("scalecore", channels=4, lmax=2, dtype=torch.float64)
    h = 1e-5
    for atom, k in ((0, 0), (3, 2)):
        pp, pm = data["pos"].clone(), data["pos"].clone()
        pp[atom, k] += h
        pm[atom, k] -= h
        args = (data["species"], data["edge_src"], data["edge_dst"], data["mol"], data["n_mol"])
        with torch.no_grad():
            fd = (model(pp, *args).sum() - model(pm, *args).sum()) / (2 * h)
        assert abs(float(fd) - float(out["scalecore"][1][atom, k])) < 1e-7


def test_energy_is_invariant_under_rotation_and_inversion():
    data = tiny_molecules(n_mol=2, n_atoms=5, seed=2)
    torch.manual_seed(0)
    model = InteractionBlock("scalecore", channels=4, lmax=3, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4)))
    args = (data["species"], data["edge_src"], data["edge_dst"], data["mol"], data["n_mol"])
    e0 = model(data["pos"], *args)
    for R in (q, -q):
        np.testing.assert_allclose(model(data["pos"] @ R.T, *args).detach(), e0.detach(), rtol=1e-11)


def test_compiled_block_matches_eager():
    data = tiny_molecules(n_mol=3, n_atoms=4, seed=1)
    torch.manual_seed(0)
    model = InteractionBlock("scalecore", channels=4, lmax=2, dtype=torch.float64)
    compiled = torch.compile(model, fullgraph=True)
    args = (data["species"], data["edge_src"], data["edge_dst"], data["mol"], data["n_mol"])
    p1 = data["pos"].clone().requires_grad_(True)
    p2 = data["pos"].clone().requires_grad_(True)
    e1, e2 = model(p1, *args), compiled(p2, *args)
    (g1,) = torch.autograd.grad(e1.sum(), p1)
    (g2,) = torch.autograd.grad(e2.sum(), p2)
    np.testing.assert_allclose(e2.detach(), e1.detach(), rtol=1e-12)
    np.testing.assert_allclose(g2, g1, rtol=1e-10, atol=1e-13)


def test_bad_arguments():
    with pytest.raises(ValueError, match="backend"):
        InteractionBlock("jax")
    with pytest.raises(ValueError, match="channels"):
        InteractionBlock(channels=0)
    with pytest.raises(ValueError, match="r_max"):
        InteractionBlock(r_max=float("nan"))
    with pytest.raises(TypeError, match="dtype"):
        InteractionBlock(dtype=torch.int32)
    with pytest.raises(ValueError, match="n_mol"):
        tiny_molecules(n_mol=0)


def test_loss_reports_its_parts():
    data = tiny_molecules(n_mol=2, n_atoms=3, seed=0)
    torch.manual_seed(0)
    loss, e_mse, f_mse = energy_force_loss(InteractionBlock(dtype=torch.float64), data, force_weight=2.0)
    assert float(loss) == pytest.approx(float(e_mse) + 2.0 * float(f_mse), rel=1e-14)


def test_readme_example_runs():
    # The README block under "Training a MACE-style block", run as written.
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("### Training a MACE-style block", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    np.testing.assert_allclose(ns["losses"]["scalecore"], ns["losses"]["e3nn"], rtol=1e-10)
