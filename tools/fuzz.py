#!/usr/bin/env python3
"""Coverage-guided fuzzing of scalecore's parsers, decoders and loaders (atheris).

    pip install atheris
    python tools/fuzz.py TARGET [-runs=100000] [libFuzzer options...]
    python tools/fuzz.py --all 100000        every target, N executions each, corpus merged
                                              into tests/fuzz_corpus/<target>/

Targets (each one checks the documented contract: the call returns a valid
result or raises ValueError / TypeError; anything else is a crash):

* ``expr``     law expressions: ``scalecore.Law(text, inputs=...)``, then one
  small fit and ``evaluate`` through the C++ program interpreter.
* ``irreps``   irreps strings: ``scalecore.tp.Irreps(text)`` and its methods.
* ``decode``   element codes of every low-bit format: ``scalecore.lowbit.decode``.
* ``packed``   packed-weight loading: ``scalecore.lowbit.Quantized(fmt, shape,
  codes, scales, ...)`` from fuzzed arrays, then ``dequantize``.
* ``csv``      the CLI's table input: ``scalecore fit FILE`` on fuzzed CSV text.

``tests/test_fuzz_corpus.py`` replays every saved input (and every crash
found, once fixed) without atheris.
"""
from __future__ import annotations

import io
import os
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "fuzz_corpus"

_OK = (ValueError, TypeError)


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def check_expr(data: bytes) -> None:
    import scalecore
    from scalecore.fitting._law import evaluate

    text = _text(data)
    try:
        law = scalecore.Law(text, inputs=["N", "D"])
    except _OK:
        return
    rng = np.random.default_rng(len(data))
    x = {"N": np.exp(rng.uniform(0, 5, (2, 6))), "D": np.exp(rng.uniform(0, 5, (2, 6)))}
    p = rng.uniform(0.1, 2.0, (2, law.n_params))
    try:
        v = evaluate(law, {k: v[0] for k, v in x.items()}, p[0], jacobian=True)
    except _OK:
        return
    assert isinstance(v, (tuple, list, np.ndarray)), type(v)
    y = np.ones((2, 6))
    try:
        r = scalecore.fit(law, x, y, p0=p, max_iter=3, covariance=False)
    except _OK:
        return
    assert r.params.shape == (2, law.n_params) and len(r.status) == 2


def check_irreps(data: bytes) -> None:
    from scalecore import tp

    text = _text(data)
    try:
        ir = tp.Irreps(text)
    except _OK:
        return
    d = ir.dim
    assert d == sum(mul * (2 * l + 1) for mul, (l, _p) in ir), (text, d)
    s = ir.simplify()
    assert s.dim == d
    srt = ir.sort()
    assert srt.irreps.dim == d
    assert tp.Irreps(str(ir)) == ir, (text, str(ir))


def check_decode(data: bytes) -> None:
    import scalecore

    if not data:
        return
    names = [n for n, f in scalecore.lowbit.formats.items() if "element" in f.role]
    fmt = names[data[0] % len(names)]
    codes = np.frombuffer(data[1:], dtype=np.uint8)
    try:
        out = scalecore.lowbit.decode(codes, fmt)
    except _OK:
        return
    assert out.dtype == np.float32 and out.shape == codes.shape


def check_packed(data: bytes) -> None:
    import scalecore

    if len(data) < 6:
        return
    names = sorted(scalecore.lowbit.formats)
    fmt = names[data[0] % len(names)]
    rows, K = 1 + data[1] % 4, data[2] % 80
    axis = [-1, 0, 1, 2, -3][data[3] % 5]
    group = [None, 16, 32, 7, "tensor", 0, -4][data[4] % 7]
    rest = np.frombuffer(data[5:], dtype=np.uint8)
    half = len(rest) // 2
    codes = rest[:half].reshape(rows, -1) if half % rows == 0 else rest[:half]
    info = scalecore.lowbit.formats[fmt]
    if info.scale == "float32":
        sc_bytes = rest[half:half + 4 * (len(rest[half:]) // 4)]
        scales = sc_bytes.view(np.float32)
        scales = scales.reshape(rows, -1) if scales.size % rows == 0 else scales
    else:
        scales = rest[half:].reshape(rows, -1) if len(rest[half:]) % rows == 0 else rest[half:]
    ts = [None, 1.0, 0.5, -1.0, float("nan")][data[5 % len(data)] % 5]
    try:
        q = scalecore.lowbit.Quantized(fmt, (rows, K), codes, scales, axis=axis, group_size=group, tensor_scale=ts)
        out = q.dequantize()
    except _OK:
        return
    assert out.shape == (rows, K) and out.dtype == np.float32


def check_csv(data: bytes) -> None:
    from scalecore import cli

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "runs.csv")
        with open(path, "wb") as f:
            f.write(data)
        out = os.path.join(d, "fit.json")
        buf = io.StringIO()
        try:
            with redirect_stdout(buf), redirect_stderr(buf):
                rc = cli.main(["fit", path, "--x", "N=params,D=tokens", "--y", "loss", "--max-iter", "5",
                               "--out", out])
        except SystemExit as e:  # the CLI's error path: a message or an exit status
            rc = e.code
        # No exception may escape: the CLI answers bad input with a message.
        if isinstance(rc, str):
            assert rc.startswith("scalecore fit: "), rc
            return
        assert rc in (0, 1, 2, None), rc
        if rc not in (0, None):
            assert buf.getvalue().strip(), "the CLI failed without saying why"


TARGETS = {"expr": check_expr, "irreps": check_irreps, "decode": check_decode, "packed": check_packed,
           "csv": check_csv}

SEEDS = {
    "expr": [b"E + A * N**-alpha + B * D**-beta", b"L0 + A * log(N) - exp(-D / c)", b"max(a, N) ** sigmoid(b)",
             b"softplus(a * N) + tanh(b) / sqrt(D)", b"1e400 * N", b"(((a", b"a ** ** b"],
    "irreps": [b"32x0e+32x1o+16x2e", b"0e + 1o + 2y", b"3x1e+2x1e", b"1x0o", b"", b"12x5o + 0e"],
    "decode": [bytes([i]) + bytes(range(256)) for i in range(8)],
    "packed": [bytes([i, 1, 32, 0, 1, 0]) + bytes(range(48)) for i in range(20)],
    "csv": [b"params,tokens,loss\n1e8,2e9,3.1\n2e8,4e9,2.9\n4e8,8e9,2.7\n8e8,1.6e10,2.6\n1.6e9,3.2e10,2.5\n"
            b"3.2e9,6.4e10,2.45\n", b"params,tokens,loss\n1,2\n", b"\xff\xfe,\n"],
}


def _fuzz(target: str, argv: list) -> None:
    import atheris

    import scalecore  # noqa: F401
    from scalecore import cli, lowbit, tp  # noqa: F401
    from scalecore.fitting import _expr, _law  # noqa: F401

    # scikit-build-core's editable installs load modules through their own
    # finder, which atheris' import hook does not see: instrument every
    # loaded function instead.
    atheris.instrument_all()

    check = TARGETS[target]
    atheris.Setup([sys.argv[0]] + argv, check)
    atheris.Fuzz()


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return
    if sys.argv[1] == "--all":
        import subprocess

        runs = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
        for t in TARGETS:
            corpus = CORPUS / t
            corpus.mkdir(parents=True, exist_ok=True)
            for i, s in enumerate(SEEDS[t]):
                (corpus / f"seed-{i}").write_bytes(s)
            work = Path(tempfile.mkdtemp(prefix=f"fuzz-{t}-"))
            # Every target gets the same count (the CLI path runs a fit per
            # input: about 4 minutes for 10^5 here).
            rc = subprocess.call([sys.executable, __file__, t, f"-runs={runs}", "-max_len=256", str(work), str(corpus)])
            if rc != 0:
                sys.exit(f"fuzz {t}: crash (exit {rc}); the input is in the working directory (crash-*)")
            subprocess.call([sys.executable, __file__, t, "-merge=1", str(corpus), str(work)])
        return
    if sys.argv[1] in TARGETS:
        # libFuzzer re-executes argv[0] for -merge and forked jobs with its own
        # arguments only: the target travels in the environment.
        os.environ["SCALECORE_FUZZ_TARGET"] = sys.argv[1]
        _fuzz(sys.argv[1], sys.argv[2:])
    else:
        _fuzz(os.environ["SCALECORE_FUZZ_TARGET"], sys.argv[1:])


if __name__ == "__main__":
    main()
