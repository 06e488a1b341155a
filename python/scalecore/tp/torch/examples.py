"""A small MACE-style interaction block, written once for e3nn and scalecore.

The README's worked example trains it for a few steps on energies and forces
of a tiny molecule set (:func:`tiny_molecules`), first with e3nn and then with
scalecore, and the losses agree; ``bench/bench_tp.py`` (``tp_force``) times
one force-training step of a MACE-sized version against e3nn.

Structure (two equivariant message passes, as in MACE's first layer):

1. species embedding ``h = C x 0e`` per atom;
2. edge vectors ``r_ij``, their spherical harmonics ``Y(r_ij)`` (``0e+1o+...``)
   and a radial basis (Bessel functions times a smooth cutoff) feeding a small
   MLP that gives per-edge path weights;
3. a channelwise (``uvu``) convolution ``h ⊗ Y -> m1 = C x (0e+1o+2e+...)``
   summed over each atom's neighbours;
4. a second convolution ``m1 ⊗ Y -> scalars`` (every ``l ⊗ l -> 0e`` path:
   three-body, angular information);
5. a linear readout of the scalars to per-atom energies, summed per molecule.

With ``backend="e3nn"`` the convolutions are ``e3nn.o3.TensorProduct`` on
gathered sender features followed by ``index_add_``; with
``backend="scalecore"`` they are :class:`scalecore.tp.torch.Convolution`
(fused, never materialising the per-edge messages) and the harmonics are
:class:`scalecore.tp.torch.SphericalHarmonics`.  Everything else is shared
torch code, so the same seed gives the same model.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import torch

from ._conv import Convolution
from ._product import tp_out_irreps_with_instructions
from ._sh import SphericalHarmonics

__all__ = ["InteractionBlock", "tiny_molecules", "energy_force_loss", "train"]

_BACKENDS = ("scalecore", "e3nn")


class _Conv(torch.nn.Module):
    """``zeros(n, dim).index_add_(0, dst, tp(x[src], Y, w))`` by either backend."""

    def __init__(self, backend: str, irreps_in1, irreps_in2, irreps_out, instructions) -> None:
        super().__init__()
        self.backend = backend
        if backend == "scalecore":
            self.tp = Convolution(irreps_in1, irreps_in2, irreps_out, instructions)
        else:
            from e3nn import o3

            self.tp = o3.TensorProduct(irreps_in1, irreps_in2, irreps_out, instructions, shared_weights=False,
                                       internal_weights=False)
        self.weight_numel = self.tp.weight_numel
        self.dim_out = self.tp.irreps_out.dim

    def forward(self, x, y, w, src, dst, num_nodes: int):
        if self.backend == "scalecore":
            return self.tp(x, y, w, src, dst, num_nodes)
        msg = self.tp(x[src], y, w)
        return msg.new_zeros((num_nodes, self.dim_out)).index_add_(0, dst, msg)


class InteractionBlock(torch.nn.Module):
    """Energy of a set of molecules from a two-pass equivariant interaction.

    Parameters
    ----------
    backend : {"scalecore", "e3nn"}
        Which library computes the spherical harmonics and the tensor products.
    channels : int
        Channels ``C`` per irrep.
    lmax : int
        Highest degree of the edge harmonics (and of the first message).
    n_species : int
        Number of atom types.
    r_max : float
        Cutoff radius; pairs beyond it do not interact.
    n_basis : int
        Bessel functions in the radial basis.
    hidden : int
        Width of the radial MLPs.
    dtype : torch.dtype
        Parameter dtype (float32 or float64).

    Notes
    -----
    The torch layers are created before the tensor products, from the global
    torch generator, so ``torch.manual_seed(s)`` before construction gives the
    same weights for both backends.
    """

    def __init__(self, backend: str = "scalecore", channels: int = 8, lmax: int = 2, n_species: int = 2,
                 r_max: float = 3.0, n_basis: int = 8, hidden: int = 16,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if backend not in _BACKENDS:
            raise ValueError(f"backend: expected one of {_BACKENDS}, got {backend!r}")
        for name, v in (("channels", channels), ("lmax", lmax), ("n_species", n_species), ("n_basis", n_basis),
                        ("hidden", hidden)):
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "lmax" else 1):
                raise ValueError(f"{name}: expected a {'non-negative' if name == 'lmax' else 'positive'} int, "
                                 f"got {v!r}")
        if not (isinstance(r_max, (int, float)) and math.isfinite(r_max) and r_max > 0):
            raise ValueError(f"r_max: expected a positive finite number, got {r_max!r}")
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype}")
        self.backend, self.r_max, self.n_basis = backend, float(r_max), n_basis
        irreps_sh = "+".join(f"{l}{'e' if l % 2 == 0 else 'o'}" for l in range(lmax + 1))
        node = f"{channels}x0e"
        mid, instr1 = tp_out_irreps_with_instructions(node, irreps_sh, irreps_sh)
        scal, instr2 = tp_out_irreps_with_instructions(mid, irreps_sh, "0e")
        # torch layers first (they draw from the generator), then the products.
        self.embed = torch.nn.Embedding(n_species, channels, dtype=dtype)
        n1, n2 = len(instr1), len(instr2)
        self.radial1 = torch.nn.Sequential(torch.nn.Linear(n_basis, hidden, dtype=dtype), torch.nn.SiLU(),
                                           torch.nn.Linear(hidden, n1 * channels, dtype=dtype))
        self.radial2 = torch.nn.Sequential(torch.nn.Linear(n_basis, hidden, dtype=dtype), torch.nn.SiLU(),
                                           torch.nn.Linear(hidden, n2 * channels, dtype=dtype))
        self.readout = torch.nn.Linear(len(instr2) * channels + channels, 1, dtype=dtype)
        if backend == "scalecore":
            self.sh = SphericalHarmonics(irreps_sh, normalize=True, normalization="component")
        else:
            from e3nn import o3

            self.sh = o3.SphericalHarmonics(irreps_sh, normalize=True, normalization="component")
        self.conv1 = _Conv(backend, node, irreps_sh, str(mid), instr1)
        self.conv2 = _Conv(backend, str(mid), irreps_sh, str(scal), instr2)
        assert self.conv1.weight_numel == n1 * channels and self.conv2.weight_numel == n2 * channels

    def radial_basis(self, r: torch.Tensor) -> torch.Tensor:
        """Bessel functions ``sin(n pi r / r_max) / r`` times ``(1 - (r/r_max)^2)^2`` (0 beyond r_max)."""
        n = torch.arange(1, self.n_basis + 1, dtype=r.dtype)
        x = (r / self.r_max).unsqueeze(1)
        cut = torch.where(x < 1, (1 - x * x) ** 2, torch.zeros_like(x))
        return math.sqrt(2.0 / self.r_max) * torch.sin(math.pi * n * x) / r.unsqueeze(1) * cut

    def forward(self, pos: torch.Tensor, species: torch.Tensor, edge_src: torch.Tensor, edge_dst: torch.Tensor,
                mol: torch.Tensor, n_mol: int) -> torch.Tensor:
        """Energies ``(n_mol,)`` of the molecules.

        Parameters
        ----------
        pos : ``(n_atoms, 3)`` positions
        species : ``(n_atoms,)`` int64 atom types
        edge_src, edge_dst : ``(n_edges,)`` int64 sender / receiver atoms
        mol : ``(n_atoms,)`` int64 molecule of each atom
        n_mol : int
        """
        n = pos.shape[0]
        vec = pos[edge_dst] - pos[edge_src]
        y = self.sh(vec)
        basis = self.radial_basis(vec.norm(dim=1))
        h = self.embed(species)
        m1 = self.conv1(h, y, self.radial1(basis), edge_src, edge_dst, n)
        s = self.conv2(m1, y, self.radial2(basis), edge_src, edge_dst, n)
        e_atom = self.readout(torch.cat([s, h], dim=1)).squeeze(1)
        return e_atom.new_zeros(n_mol).index_add_(0, mol, e_atom)


def tiny_molecules(n_mol: int = 6, n_atoms: int = 5, seed: int = 0, r_max: float = 3.0,
                   dtype: torch.dtype = torch.float64) -> Dict[str, torch.Tensor]:
    """A tiny molecule set with energies and forces of a known potential.

    Atoms are placed at random (at least 0.8 apart) in cubes of side
    ``2.4 (n_atoms / 5)^(1/3)``, ``n_atoms`` per molecule; the energy is a Morse pair term plus a three-body term
    ``sum_i |sum_j u(r_ij) r_ij / r_ij|^2`` (angular), with a smooth cutoff
    ``u`` at ``r_max``; forces are its exact negative gradient (autograd).

    Returns
    -------
    dict with ``pos (N, 3)``, ``species (N,)``, ``mol (N,)``, ``edge_src``,
    ``edge_dst`` (every ordered pair in a molecule within ``r_max``),
    ``energy (n_mol,)``, ``forces (N, 3)`` and ``n_mol``.
    """
    if n_mol < 1 or n_atoms < 2:
        raise ValueError(f"n_mol, n_atoms: expected >= 1 and >= 2, got {n_mol}, {n_atoms}")
    g = torch.Generator().manual_seed(seed)
    side = 2.4 * (n_atoms / 5.0) ** (1.0 / 3.0)  # the same density at every size
    pos = []
    for _ in range(n_mol):
        pts, tries = [], 0
        while len(pts) < n_atoms:
            tries += 1
            if tries > 1000 * n_atoms:  # pragma: no cover - the density leaves ample room
                raise RuntimeError("tiny_molecules: could not place the atoms 0.8 apart")
            p = (torch.rand(3, generator=g, dtype=torch.float64) - 0.5) * side
            if all(float((p - q).norm()) > 0.8 for q in pts):
                pts.append(p)
        pos.append(torch.stack(pts))
    pos_t = torch.cat(pos).to(dtype)
    species = torch.randint(0, 2, (n_mol * n_atoms,), generator=g)
    mol = torch.arange(n_mol).repeat_interleave(n_atoms)
    src, dst = [], []
    for m in range(n_mol):
        for i in range(n_atoms):
            for j in range(n_atoms):
                a, b = m * n_atoms + i, m * n_atoms + j
                if i != j and float((pos_t[a] - pos_t[b]).norm()) < r_max:
                    src.append(a)
                    dst.append(b)
    edge_src, edge_dst = torch.tensor(src), torch.tensor(dst)
    p = pos_t.clone().requires_grad_(True)
    energy = _reference_energy(p, species, edge_src, edge_dst, mol, n_mol, r_max)
    (grad,) = torch.autograd.grad(energy.sum(), p)
    return {"pos": pos_t, "species": species, "mol": mol, "edge_src": edge_src, "edge_dst": edge_dst,
            "energy": energy.detach(), "forces": -grad, "n_mol": n_mol}


def _reference_energy(pos, species, src, dst, mol, n_mol, r_max):
    vec = pos[dst] - pos[src]
    r = vec.norm(dim=1)
    x = r / r_max
    u = (1 - x * x) ** 2
    depth = 1.0 + 0.5 * (species[src] + species[dst]).to(pos.dtype)
    pair = 0.5 * depth * ((1 - torch.exp(-1.5 * (r - 1.2))) ** 2 - 1) * u
    n = pos.shape[0]
    dip = pos.new_zeros((n, 3)).index_add_(0, dst, (u / r).unsqueeze(1) * vec)
    e_atom = pos.new_zeros(n).index_add_(0, dst, pair) + 0.3 * (dip * dip).sum(dim=1)
    return pos.new_zeros(n_mol).index_add_(0, mol, e_atom)


def energy_force_loss(model: InteractionBlock, data: Dict[str, torch.Tensor], force_weight: float = 10.0,
                      create_graph: bool = True) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean squared energy and force errors, forces by autograd.

    Returns ``(loss, energy_mse, force_mse)``; with ``create_graph=True`` the
    loss can be backpropagated to the weights (through the forces: second
    derivatives of the tensor products and harmonics).
    """
    dtype = next(model.parameters()).dtype
    pos = data["pos"].to(dtype).clone().requires_grad_(True)
    energy = model(pos, data["species"], data["edge_src"], data["edge_dst"], data["mol"], int(data["n_mol"]))
    (grad,) = torch.autograd.grad(energy.sum(), pos, create_graph=create_graph)
    e_mse = ((energy - data["energy"].to(dtype)) ** 2).mean()
    f_mse = ((-grad - data["forces"].to(dtype)) ** 2).mean()
    return e_mse + force_weight * f_mse, e_mse, f_mse


def train(model: InteractionBlock, data: Dict[str, torch.Tensor], steps: int = 5, lr: float = 1e-2,
          force_weight: float = 10.0, log: Optional[list] = None) -> list:
    """A few Adam steps on :func:`energy_force_loss`; returns the losses."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = [] if log is None else log
    for _ in range(steps):
        opt.zero_grad()
        loss, _, _ = energy_force_loss(model, data, force_weight)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses
