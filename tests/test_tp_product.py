"""The Clebsch-Gordan product engine (scalecore.tp._product) against e3nn 0.6
and against its own plain reference kernel at every SIMD level.

Random products (hypothesis): irreps up to L = 4, every connection mode, the
three irrep and path normalisations, variances and path weights, several
paths into one output, shared and per-sample weights.  e3nn computes the
product and its gradients (torch autograd); scalecore's forward and the three
backward contractions must match to 1e-10 (float64) and 1e-5 relative
(float32).
"""
from __future__ import annotations

import numpy as np
import pytest

import scalecore
from scalecore.tp._product import TensorProductPlan

torch = pytest.importorskip("torch")
o3 = pytest.importorskip("e3nn.o3")
hyp = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

MODES = ("uvw", "uvu", "uvv", "uuw", "uuu", "uvuv")


def _e3nn_tp(*args, **kw):
    """e3nn's module built in float64: its CG constants are made in the
    default dtype, and float32-rounded constants would limit the comparison
    to ~1e-8."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return o3.TensorProduct(*args, **kw)
    finally:
        torch.set_default_dtype(old)


def _random_product(rng: np.random.Generator, lmax: int = 4, max_mul: int = 3, modes=MODES):
    """Random irreps and instructions valid for e3nn (outputs built to fit)."""
    def irreps(k):
        return [(int(rng.integers(1, max_mul + 1)), int(rng.integers(0, lmax + 1)), int(rng.choice([-1, 1])))
                for _ in range(k)]
    in1, in2 = irreps(int(rng.integers(1, 4))), irreps(int(rng.integers(1, 3)))
    out, instr = [], []
    cands = []
    for i1, (m1, l1, p1) in enumerate(in1):
        for i2, (m2, l2, p2) in enumerate(in2):
            for lo in range(abs(l1 - l2), min(l1 + l2, lmax) + 1):
                cands.append((i1, i2, lo, p1 * p2))
    rng.shuffle(cands)
    for i1, i2, lo, po in cands[: int(rng.integers(1, 7))]:
        m1, m2 = in1[i1][0], in2[i2][0]
        mode = str(rng.choice(modes))
        if mode in ("uuw", "uuu") and m1 != m2:
            mode = "uvu"
        hw = True if mode == "uvw" else bool(rng.integers(0, 2))
        mo = {"uvw": int(rng.integers(1, max_mul + 1)), "uvu": m1, "uvv": m2, "uuw": int(rng.integers(1, max_mul + 1)),
              "uuu": m1, "uvuv": m1 * m2}[mode]
        if mode == "uuw" and not hw:
            mo = 1
        reuse = [k for k, (mm, ll, pp) in enumerate(out) if (mm, ll, pp) == (mo, lo, po)]
        if reuse and rng.random() < 0.6:
            io = reuse[0]
        else:
            io = len(out)
            out.append((mo, lo, po))
        pw = float(rng.choice([1.0, 0.5, 2.0]))
        instr.append((i1, i2, io, mode, hw, pw))
    if rng.random() < 0.3:
        out.append((2, 0, 1))  # an output block no path reaches (zeros)
    return in1, in2, out, instr


def _irreps_str(irr):
    return "+".join(f"{m}x{l}{'e' if p == 1 else 'o'}" for m, l, p in irr) if irr else ""


def _e3nn_grads(tp, x, y, w, g):
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.tensor(y, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    out = tp(xt, yt, wt)
    (out * torch.tensor(g)).sum().backward()
    gw = wt.grad.numpy() if wt.grad is not None else np.zeros_like(w)
    return out.detach().numpy(), xt.grad.numpy(), yt.grad.numpy(), gw


def _rel_close(a, b, tol):
    scale = max(1.0, float(np.abs(b).max(initial=0.0)))
    assert a.shape == b.shape
    err = float(np.abs(a - b).max(initial=0.0)) / scale
    assert err <= tol, err


def _case(seed, dtype, shared, irrep_norm, path_norm, with_var, batch=5):
    rng = np.random.default_rng(seed)
    in1, in2, out, instr = _random_product(rng)
    s1, s2, so = _irreps_str(in1), _irreps_str(in2), _irreps_str(out)
    var = {}
    if with_var:
        var = dict(in1_var=list(rng.uniform(0.5, 2, len(in1))), in2_var=list(rng.uniform(0.5, 2, len(in2))),
                   out_var=list(rng.uniform(0.5, 2, len(out))))
    ref = _e3nn_tp(s1, s2, so, instr, irrep_normalization=irrep_norm, path_normalization=path_norm,
                           shared_weights=shared, internal_weights=False, **var)
    plan = TensorProductPlan(s1, s2, so, instr, irrep_normalization=irrep_norm, path_normalization=path_norm, **var)
    assert plan.weight_numel == ref.weight_numel
    for a, b in zip(plan.instructions, ref.instructions):
        assert (a.i_in1, a.i_in2, a.i_out, a.connection_mode, a.has_weight, a.path_shape) == \
            (b.i_in1, b.i_in2, b.i_out, b.connection_mode, b.has_weight, tuple(b.path_shape))
        assert abs(a.path_weight - b.path_weight) <= 1e-12 * max(1, abs(b.path_weight))
    x = rng.standard_normal((batch, plan.irreps_in1.dim))
    y = rng.standard_normal((batch, plan.irreps_in2.dim))
    w = rng.standard_normal((plan.weight_numel,) if shared else (batch, plan.weight_numel))
    g = rng.standard_normal((batch, plan.irreps_out.dim))
    ref = ref.double()
    want = _e3nn_grads(ref, x, y, w, g)
    cast = [a.astype(dtype) for a in (x, y, w, g)]
    got_out = plan.forward(cast[0], cast[1], cast[2])
    got = (got_out,) + plan.backward(*cast)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    for a, b in zip(got, want):
        assert a.dtype == dtype
        _rel_close(a.astype(np.float64), b, tol)
    return plan, cast


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), shared=st.booleans(), irrep_norm=st.sampled_from(["component", "norm", "none"]),
       path_norm=st.sampled_from(["element", "path", "none"]), with_var=st.booleans())
def test_matches_e3nn_float64(seed, shared, irrep_norm, path_norm, with_var):
    _case(seed, np.float64, shared, irrep_norm, path_norm, with_var)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), shared=st.booleans())
def test_matches_e3nn_float32(seed, shared):
    _case(seed, np.float32, shared, "component", "element", False)


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_matches_e3nn(mode):
    # Every mode on its own, with multiplicities that are not multiples of the
    # pack widths (tails), at l up to 4.
    in1, in2 = "5x1o+3x2e+5x4e", "5x1e+3x2o"
    i1 = o3.Irreps(in1)
    i2 = o3.Irreps(in2)
    out, instr = [], []
    for a, (m1, ir1) in enumerate(i1):
        for b, (m2, ir2) in enumerate(i2):
            if mode in ("uuw", "uuu") and m1 != m2:
                continue
            for iro in ir1 * ir2:
                mo = {"uvw": 7, "uvu": m1, "uvv": m2, "uuw": 6, "uuu": m1, "uvuv": m1 * m2}[mode]
                instr.append((a, b, len(out), mode, True))
                out.append((mo, iro))
    so = str(o3.Irreps(out))
    for shared in (True, False):
        ref = _e3nn_tp(in1, in2, so, instr, shared_weights=shared, internal_weights=False)
        plan = TensorProductPlan(in1, in2, so, instr)
        rng = np.random.default_rng(1)
        x = rng.standard_normal((3, plan.irreps_in1.dim))
        y = rng.standard_normal((3, plan.irreps_in2.dim))
        w = rng.standard_normal((plan.weight_numel,) if shared else (3, plan.weight_numel))
        g = rng.standard_normal((3, plan.irreps_out.dim))
        want = _e3nn_grads(ref, x, y, w, g)
        got = (plan.forward(x, y, w),) + plan.backward(x, y, w, g)
        for a, b in zip(got, want):
            _rel_close(a, b, 1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("irreps", ["17x0e+17x1o+17x2e+9x3o", "117x0e+53x1o+5x2e+9x3o", "27x0e+27x1o+25x2e+29x3o"])
def test_levels_match_reference_mace_like(simd, dtype, irreps):
    # Channel counts of whole packs plus a tail (the vectorised transposes),
    # l up to 3 on both sides, the channelwise product MACE uses.  117 and 53
    # pass through the 4-, 2- and 1-pack blocks and the scalar tail at 8 and
    # 16 lanes; 27, 25 and 29 through the 16-channel zmm transposes, then the
    # 8-channel ones, then the scalar tail (l = 1, 2, 3).
    from scalecore.tp.torch import tp_out_irreps_with_instructions
    out, instr = tp_out_irreps_with_instructions(irreps, "0e+1o+2e+3o", "0e+1o+2e+3o")
    plan = TensorProductPlan(irreps, "0e+1o+2e+3o", out, instr)
    rng = np.random.default_rng(5)
    n = 9
    x, y, g = (rng.standard_normal((n, d)).astype(dtype) for d in (plan.irreps_in1.dim, plan.irreps_in2.dim,
                                                                     plan.irreps_out.dim))
    w = rng.standard_normal((n, plan.weight_numel)).astype(dtype)
    fast = (plan.forward(x, y, w),) + plan.backward(x, y, w, g)
    ref = (plan.forward(x, y, w, impl=1),) + plan.backward(x, y, w, g, impl=1)
    for a, b in zip(fast, ref):
        _rel_close(a.astype(np.float64), b.astype(np.float64), 1e-12 if dtype == np.float64 else 2e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_levels_match_reference(simd, dtype):
    # The level's kernel against the plain reference (impl=1), every mode,
    # shared and per-sample weights, channel counts with odd tails.
    for seed in range(6):
        rng = np.random.default_rng(100 + seed)
        in1, in2, out, instr = _random_product(rng, lmax=3, max_mul=11)
        plan = TensorProductPlan(_irreps_str(in1), _irreps_str(in2), _irreps_str(out), instr)
        n = 7
        x = rng.standard_normal((n, plan.irreps_in1.dim)).astype(dtype)
        y = rng.standard_normal((n, plan.irreps_in2.dim)).astype(dtype)
        g = rng.standard_normal((n, plan.irreps_out.dim)).astype(dtype)
        for shared in (True, False):
            w = rng.standard_normal((plan.weight_numel,) if shared else (n, plan.weight_numel)).astype(dtype)
            fast = (plan.forward(x, y, w),) + plan.backward(x, y, w, g)
            ref = (plan.forward(x, y, w, impl=1),) + plan.backward(x, y, w, g, impl=1)
            tol = 1e-12 if dtype == np.float64 else 2e-5
            for a, b in zip(fast, ref):
                _rel_close(a.astype(np.float64), b.astype(np.float64), tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_levels_match_reference_wide_uvw(simd, dtype):
    # Fully connected (uvw) with output multiplicities 117 and 53: the
    # row-times-matrix kernel's 4-, 2- and 1-pack blocks and its scalar tail.
    in1, in2, out = "37x0e+21x1o", "0e+1o", "117x0e+53x1o"
    instr = [(0, 0, 0, "uvw", True), (0, 1, 1, "uvw", True), (1, 0, 1, "uvw", True), (1, 1, 0, "uvw", True)]
    plan = TensorProductPlan(in1, in2, out, instr)
    rng = np.random.default_rng(11)
    n = 5
    x, y, g = (rng.standard_normal((n, d)).astype(dtype) for d in (plan.irreps_in1.dim, plan.irreps_in2.dim,
                                                                     plan.irreps_out.dim))
    for w in (rng.standard_normal((n, plan.weight_numel)).astype(dtype),
              rng.standard_normal(plan.weight_numel).astype(dtype)):
        fast = (plan.forward(x, y, w),) + plan.backward(x, y, w, g)
        ref = (plan.forward(x, y, w, impl=1),) + plan.backward(x, y, w, g, impl=1)
        for a, b in zip(fast, ref):
            _rel_close(a.astype(np.float64), b.astype(np.float64), 1e-12 if dtype == np.float64 else 2e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_levels_match_reference_shared_weight_blocks(simd, dtype):
    # Shared weights with uvw paths: the product and the weight gradient run
    # in blocks of 8 rows (the gradient inside chunks of 128).  Row counts give full and partial blocks and
    # cross a chunk boundary; a uvu path beside the uvw ones takes the
    # row-by-row branch of the same block.  mul2 = 2 runs the v loop.
    in1, in2, out = "13x0e+11x1o+5x2e+3x3o", "0e+2x1o+2e", "9x0e+19x1o+7x2e+2x3o+5x2e"
    instr = [(2, 0, 4, "uvu", True), (0, 0, 0, "uvw", True), (0, 1, 1, "uvw", True), (1, 0, 1, "uvw", True), (1, 1, 0, "uvw", True),
             (1, 1, 2, "uvw", True), (2, 2, 2, "uvw", True), (3, 2, 3, "uvw", True), (2, 1, 3, "uvw", True),
             (1, 2, 1, "uvw", True)]
    plan = TensorProductPlan(in1, in2, out, instr)
    rng = np.random.default_rng(23)
    for n in (1, 21, 131):
        x, y, g = (rng.standard_normal((n, d)).astype(dtype) for d in (plan.irreps_in1.dim, plan.irreps_in2.dim,
                                                                         plan.irreps_out.dim))
        w = rng.standard_normal(plan.weight_numel).astype(dtype)
        fast = (plan.forward(x, y, w),) + plan.backward(x, y, w, g)
        ref = (plan.forward(x, y, w, impl=1),) + plan.backward(x, y, w, g, impl=1)
        for a, b in zip(fast, ref):
            _rel_close(a.astype(np.float64), b.astype(np.float64), 1e-12 if dtype == np.float64 else 2e-5)


def test_thread_count_does_not_change_results():
    rng = np.random.default_rng(7)
    plan = TensorProductPlan("8x0e+8x1o+8x2e", "0e+1o+2e", "8x0e+8x1o+8x2e",
                             [(i, j, k, "uvw", True) for i, j, k in
                              [(0, 0, 0), (1, 1, 0), (2, 2, 0), (0, 1, 1), (1, 0, 1), (1, 2, 1), (2, 1, 1),
                               (0, 2, 2), (1, 1, 2), (2, 0, 2), (2, 2, 2)]])
    n = 1000
    x = rng.standard_normal((n, plan.irreps_in1.dim)).astype(np.float32)
    y = rng.standard_normal((n, plan.irreps_in2.dim)).astype(np.float32)
    w = rng.standard_normal(plan.weight_numel).astype(np.float32)
    g = rng.standard_normal((n, plan.irreps_out.dim)).astype(np.float32)
    res = []
    for t in (1, 2, 3):
        with scalecore.num_threads(t):
            res.append((plan.forward(x, y, w),) + plan.backward(x, y, w, g))
    for r in res[1:]:
        for a, b in zip(r, res[0]):
            assert np.array_equal(a, b)


def test_raw_kernels_take_dlpack_arrays():
    plan = TensorProductPlan("3x1o", "1o", "3x0e+3x1e", [(0, 0, 0, "uvu", True), (0, 0, 1, "uvu", True)])
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.standard_normal((4, 9)))
    y = torch.tensor(rng.standard_normal((4, 3)))
    w = torch.tensor(rng.standard_normal(plan.weight_numel))
    got = plan.forward(x, y, w)
    want = plan.forward(x.numpy(), y.numpy(), w.numpy())
    assert isinstance(got, np.ndarray) and np.array_equal(got, want)


def test_broadcast_batch_dims_like_e3nn():
    in1, in2, so = "2x1o", "1o+0e", "2x0e+2x1o"
    instr = [(0, 0, 0, "uvu", True), (0, 1, 1, "uvu", True)]
    ref = _e3nn_tp(in1, in2, so, instr, internal_weights=False, shared_weights=False)
    plan = TensorProductPlan(in1, in2, so, instr)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 1, 6))
    y = rng.standard_normal((1, 4, 4))
    w = rng.standard_normal((3, 4, plan.weight_numel))
    want = ref(torch.tensor(x), torch.tensor(y), torch.tensor(w)).numpy()
    _rel_close(plan.forward(x, y, w), want, 1e-12)


class TestBadInput:
    def test_instruction_violating_selection_rules(self):
        with pytest.raises(ValueError, match=r"instructions\[0\].*selection"):
            TensorProductPlan("1o", "1o", "3e", [(0, 0, 0, "uvw", True)])
        with pytest.raises(ValueError, match=r"instructions\[0\].*selection"):
            TensorProductPlan("1o", "1o", "1o", [(0, 0, 0, "uvw", True)])  # parity

    def test_instruction_indexing_a_missing_irrep(self):
        with pytest.raises(ValueError, match=r"i_in2=1 indexes a missing irrep"):
            TensorProductPlan("1o", "1o", "0e", [(0, 1, 0, "uvw", True)])
        with pytest.raises(ValueError, match=r"i_out=2 indexes a missing irrep"):
            TensorProductPlan("1o", "1o", "0e", [(0, 0, 2, "uvw", True)])

    def test_mode_constraints(self):
        with pytest.raises(ValueError, match="mode uvu needs mul_out"):
            TensorProductPlan("2x1o", "1o", "3x0e", [(0, 0, 0, "uvu", True)])
        with pytest.raises(ValueError, match="not supported"):
            TensorProductPlan("2x1o", "2x1o", "1x0e", [(0, 0, 0, "u<vw", True)])
        with pytest.raises(ValueError, match="irrep_normalization"):
            TensorProductPlan("1o", "1o", "0e", [(0, 0, 0, "uvw", True)], irrep_normalization="bad")
        with pytest.raises(ValueError, match="in1_var"):
            TensorProductPlan("1o", "1o", "0e", [(0, 0, 0, "uvw", True)], in1_var=[1.0, 2.0])

    def test_widths_and_weights(self):
        plan = TensorProductPlan("2x1o", "1o", "2x0e", [(0, 0, 0, "uvu", True)])
        x, y, w = np.zeros((3, 6)), np.zeros((3, 3)), np.zeros(2)
        with pytest.raises(ValueError, match="x: expected a last dimension of 6"):
            plan.forward(np.zeros((3, 5)), y, w)
        with pytest.raises(ValueError, match="y: expected a last dimension of 3"):
            plan.forward(x, np.zeros((3, 4)), w)
        with pytest.raises(ValueError, match="weight: expected a last dimension of 2"):
            plan.forward(x, y, np.zeros(3))
        with pytest.raises(TypeError, match="weight: expected dtype"):
            plan.forward(x, y, np.zeros(2, np.float32))


@pytest.mark.parametrize("shared", [True, False])
def test_fused_backward_equals_the_three_contractions(simd, shared):
    # Equal up to rounding: the fused pass shares intermediates between the
    # gradients (uvu with mul_in2 = 1 forms grad x and grad w from one CG pass).
    rng = np.random.default_rng(11)
    in1, in2, out, instr = _random_product(rng, lmax=3, max_mul=9)
    in2 = [(1, 1, -1)] + in2  # a mul-1 second input: the shared uvu pass
    instr = [(i1, i2 + 1, io, mode, hw, pw) for i1, i2, io, mode, hw, pw in instr]
    instr.append((0, 0, len(out), "uvu", True))
    out = out + [(in1[0][0], max(in1[0][1], 1), -in1[0][2])]  # in 1o x (l, p) for any l
    plan = TensorProductPlan(_irreps_str(in1), _irreps_str(in2), _irreps_str(out), instr)
    n = 300  # more than one chunk of the shared-weight sum
    x = rng.standard_normal((n, plan.irreps_in1.dim)).astype(np.float32)
    y = rng.standard_normal((n, plan.irreps_in2.dim)).astype(np.float32)
    g = rng.standard_normal((n, plan.irreps_out.dim)).astype(np.float32)
    w = rng.standard_normal((plan.weight_numel,) if shared else (n, plan.weight_numel)).astype(np.float32)
    fused = plan.backward(x, y, w, g)
    for slot, got in zip(("x", "y", "weight"), fused):
        want = plan.contract(slot, x, y, w, g, weight_shared=shared, n=n)
        _rel_close(got.reshape(want.shape).astype(np.float64), want.astype(np.float64), 2e-5)


def test_device_math_matches_reference():
    # impl=2 runs tp_path_forward_channel, the per-path math the CUDA forward
    # kernel runs, on the CPU: every mode, shared and per-sample weights.
    for seed in range(4):
        rng = np.random.default_rng(300 + seed)
        in1, in2, out, instr = _random_product(rng, lmax=3, max_mul=5)
        plan = TensorProductPlan(_irreps_str(in1), _irreps_str(in2), _irreps_str(out), instr)
        n = 4
        x = rng.standard_normal((n, plan.irreps_in1.dim))
        y = rng.standard_normal((n, plan.irreps_in2.dim))
        for shared in (True, False):
            w = rng.standard_normal((plan.weight_numel,) if shared else (n, plan.weight_numel))
            _rel_close(plan.forward(x, y, w, impl=2), plan.forward(x, y, w, impl=1), 1e-12)
