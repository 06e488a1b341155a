"""scalecore.tp.Irreps / Irrep against e3nn 0.6 (the reference implementation)."""
from __future__ import annotations

import pickle

import pytest

e3nn_o3 = pytest.importorskip("e3nn.o3")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from scalecore.tp import Irrep, Irreps  # noqa: E402

# One random irreps text: terms "MULxLP" with optional multiplicity, e/o/y parity
# and random spaces.
_term = st.tuples(
    st.one_of(st.none(), st.integers(0, 40)),
    st.integers(0, 12),
    st.sampled_from("eoy"),
    st.sampled_from(["", " ", "  "]),
    st.sampled_from(["", " "]),
)


def _text(terms):
    out = []
    for mul, l, p, sp1, sp2 in terms:
        t = f"{l}{p}" if mul is None else f"{mul}x{l}{p}"
        out.append(sp1 + t + sp2)
    return "+".join(out)


irreps_text = st.lists(_term, min_size=0, max_size=7).map(_text)


@settings(max_examples=60, deadline=None)
@given(irreps_text)
def test_matches_e3nn(text):
    a = Irreps(text)
    b = e3nn_o3.Irreps(text)
    assert str(a) == str(b)
    assert repr(a) == repr(b)
    assert a == b  # element-wise: (mul, (l, p)) tuples
    assert a.dim == b.dim
    assert a.num_irreps == b.num_irreps
    assert a.ls == b.ls
    assert a.slices() == b.slices()
    assert str(a.simplify()) == str(b.simplify())
    sa, sb = a.sort(), b.sort()
    assert str(sa.irreps) == str(sb.irreps)
    assert tuple(sa.p) == tuple(sb.p) and tuple(sa.inv) == tuple(sb.inv)
    assert str(a.regroup()) == str(b.regroup())
    assert str(a.remove_zero_multiplicities()) == str(b.remove_zero_multiplicities())
    assert [(m, (ir.l, ir.p)) for m, ir in a] == [(m, (ir.l, ir.p)) for m, ir in b]
    for i in range(len(a)):
        assert a[i] == b[i] and str(a[i]) == str(b[i])
        assert a[i].dim == b[i].dim and a[i].mul == b[i].mul and a[i].ir == b[i].ir
    assert str(a[1:3]) == str(b[1:3])
    assert str(a + a) == str(b + b)
    assert str(a + "1o") == str(b + "1o")
    assert str(a * 2) == str(b * 2) and str(2 * a) == str(2 * b)
    for ir in ["0e", "1o", "2e", "3y"]:
        assert a.count(ir) == b.count(ir)
        assert (ir in a) == (ir in b)
    if a.ls:
        assert a.lmax == b.lmax
    else:
        with pytest.raises(ValueError):
            a.lmax
    # Round trip through our own text and through e3nn's objects.
    assert Irreps(str(a)) == a
    assert Irreps(b) == a
    assert e3nn_o3.Irreps(str(a)) == b


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 8), st.sampled_from([1, -1]), st.integers(0, 8), st.sampled_from([1, -1]))
def test_irrep_product_matches_e3nn(l1, p1, l2, p2):
    a = list(Irrep(l1, p1) * Irrep(l2, p2))
    b = list(e3nn_o3.Irrep(l1, p1) * e3nn_o3.Irrep(l2, p2))
    assert [str(x) for x in a] == [str(x) for x in b]
    assert a == b
    assert Irrep(l1, p1).dim == e3nn_o3.Irrep(l1, p1).dim
    assert str(Irrep(l1, p1)) == str(e3nn_o3.Irrep(l1, p1))
    assert (Irrep(l1, p1) < Irrep(l2, p2)) == (e3nn_o3.Irrep(l1, p1) < e3nn_o3.Irrep(l2, p2))


def test_examples_from_the_conventions():
    x = Irreps("16x0e+16x1o+8x2e+3y")
    assert x.dim == 111
    assert x.slices() == [slice(0, 16), slice(16, 64), slice(64, 104), slice(104, 111)]
    assert x[3].ir.p == -1
    assert [str(i) for i in Irrep("1o") * Irrep("2e")] == ["1o", "2o", "3o"]
    assert str(Irreps(" 32x0e + 32x1o +16x2e ")) == "32x0e+32x1o+16x2e"
    assert str(Irreps("0e")) == "1x0e"
    assert Irreps("") == Irreps() == Irreps([]) and len(Irreps("  ")) == 0
    s = Irreps("2o + 1e + 0e + 1e").sort()
    assert s.p == (3, 1, 0, 2) and s.inv == (2, 1, 3, 0)
    assert str(Irreps("1e + 1e + 0e + 1e").simplify()) == "2x1e+1x0e+1x1e"
    assert str(Irreps("1e + 0e + 1e").regroup()) == "1x0e+2x1e"
    assert Irreps("3x1o + 2x1o").count("1o") == 5
    assert Irrep(2, 1).dim == 5 and Irrep("3y").p == -1 and Irrep("2y").p == 1
    assert str(3 * Irrep("1o")) == "3x1o"
    assert Irreps([(2, "1o"), "0e", Irrep(2, 1), (1, (3, -1))]) == Irreps("2x1o+0e+2e+3o")
    assert pickle.loads(pickle.dumps(x)) == x
    assert Irreps.spherical_harmonics(3) == e3nn_o3.Irreps.spherical_harmonics(3)
    assert str(Irreps("0e+1o+1e").filter(keep="1o+1e")) == "1x1o+1x1e"
    assert str(Irreps("0e+1o+1e").filter(drop=["1o"])) == "1x0e+1x1e"


@pytest.mark.parametrize(
    "text, where",
    [
        ("32x0e+32x1q", "term 2"),
        ("2x", "term 1"),
        ("0e++1o", "term 2"),
        ("ax0e", "'a'"),
        ("-1x0e", "'-1'"),
        ("0e+1", "term 2"),
        ("1.5x0e", "'1.5'"),
        ("x1o", "''"),
        ("-1e", "'-1'"),
    ],
)
def test_parse_errors_say_where(text, where):
    with pytest.raises(ValueError) as e:
        Irreps(text)
    msg = str(e.value)
    assert repr(text) in msg and where in msg
    # e3nn rejects the same strings
    with pytest.raises(Exception):
        e3nn_o3.Irreps(text)


def test_bad_irrep_and_lmax_errors():
    with pytest.raises(ValueError, match="p must be"):
        Irrep(1, 0)
    with pytest.raises(ValueError, match="non-negative"):
        Irrep(-1, 1)
    with pytest.raises(ValueError, match="no irreps"):
        Irreps("").lmax
    with pytest.raises(TypeError):
        Irreps(3.5)
    with pytest.raises(ValueError, match="multiplicity"):
        Irreps([(-2, "1o")])


def test_D_from_angles_matches_e3nn():
    import numpy as np
    import torch

    a, b, g = 0.3, 1.1, -2.0
    x = Irreps("2x0e+1o+2e+3o")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # e3nn builds its generators in the default dtype
    try:
        _compare_D(x, a, b, g)
    finally:
        torch.set_default_dtype(old)


def _compare_D(x, a, b, g):
    import numpy as np
    import torch

    for k in (0, 1):
        ours = x.D_from_angles(a, b, g, k)
        ref = e3nn_o3.Irreps(str(x)).D_from_angles(
            torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64),
            torch.tensor(g, dtype=torch.float64), torch.tensor(float(k), dtype=torch.float64))
        np.testing.assert_allclose(ours, ref.numpy(), atol=1e-12)


def test_import_stays_light():
    import subprocess
    import sys

    code = ("import sys, scalecore; t = scalecore.tp; t.Irreps('0e'); t.wigner_3j(1, 1, 0); "
            "t.spherical_harmonics(1, [[1.0, 0, 0]], True); assert 'torch' not in sys.modules, 'torch loaded'; "
            "assert 'e3nn' not in sys.modules")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
