"""The scalecore command: scalecore fit ... and python -m scalecore fit ..."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pandas as pd
import pytest

from scalecore import cli
from scalecore.scaling import fit_table
from scaling_helpers import synthetic_runs


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def test_example_chinchilla_writes_plot_and_json(tmp_path):
    png, js = tmp_path / "fit.png", tmp_path / "fit.json"
    code, out, err = _run(["fit", "--example", "chinchilla", "--bootstrap", "100", "--plot", str(png),
                           "--out", str(js), "--target", "N=7e10,D=1.4e12", "--compute", "1e24", "--progress", "off"])
    assert code == 0, err
    assert "law chinchilla" in out and "[dataset=rpj]" in out and "95% bootstrap" in out
    assert "compute-optimal allocation" in out
    assert png.stat().st_size > 10000
    doc = json.loads(js.read_text())
    assert doc["law"] == "chinchilla" and doc["by"] == ["dataset"] and doc["example"] == "chinchilla"
    assert doc["settings"] == {"residual": "log", "loss": "huber", "f_scale": 0.001, "starts": "grid",
                               "bounds": "default"}
    assert len(doc["fits"]) == 3 and doc["bootstrap"]["R"] == 100
    assert {r["quantity"] for r in doc["bootstrap"]["intervals"]} >= {"alpha", "beta", "a_opt", "loss_at_target"}
    assert len(doc["compute_optimal"]) == 3
    # The CLI's numbers are fit_table's.
    df = pd.read_csv(cli.PRESETS and __import__("scalecore.scaling.datasets", fromlist=["x"]).data_path("chinchilla"))
    t = fit_table(df, "chinchilla", by="dataset", residual="log", loss="huber", f_scale=1e-3, starts="grid",
                  bounds="default")
    np.testing.assert_allclose([f["alpha"] for f in doc["fits"]], t["alpha"], rtol=1e-12)


def test_csv_input_by_group_and_csv_output(tmp_path):
    df = synthetic_runs(n_budgets=4, per_budget=12, noise=0.005, seed=2)
    df["family"] = np.where(df.index % 2 == 0, "x", "y")
    src, dst = tmp_path / "runs.csv", tmp_path / "fit.csv"
    df.to_csv(src, index=False)
    code, out, err = _run(["fit", str(src), "--law", "chinchilla", "--x", "N=params,D=tokens", "--y", "loss",
                           "--by", "family", "--bootstrap", "20", "--starts", "grid", "--bounds", "default",
                           "--out", str(dst), "--quiet"])
    assert code == 0, err
    assert out == ""
    res = pd.read_csv(dst)
    assert list(res["family"]) == ["x", "y"]
    for c in ("alpha", "alpha_stderr", "alpha_lo", "alpha_hi", "alpha_boot_lo", "alpha_boot_hi", "status", "n_points"):
        assert c in res.columns
    assert (res["alpha_boot_lo"] <= res["alpha"]).all() and (res["alpha"] <= res["alpha_boot_hi"]).all()


def test_one_input_law_and_expression(tmp_path):
    x = np.geomspace(1e6, 1e9, 15)
    pd.DataFrame({"size": x, "loss": 2 + 30 * x ** -0.3}).to_csv(tmp_path / "r.csv", index=False)
    code, out, _ = _run(["fit", str(tmp_path / "r.csv"), "--law", "saturating_power", "--x", "size"])
    assert code == 0 and "alpha" in out and "0.3" in out
    code, out, _ = _run(["fit", str(tmp_path / "r.csv"), "--law", "E + A * N**-alpha", "--x", "N=size"])
    assert code == 0 and "alpha" in out


def test_bad_input_exits_with_a_named_error(tmp_path):
    df = synthetic_runs(n_budgets=2, per_budget=8)
    df.to_csv(tmp_path / "r.csv", index=False)
    code, out, err = _run(["fit", str(tmp_path / "r.csv"), "--x", "N=params,D=tokenz"])
    assert code == 2 and "'tokenz'" in err
    code, _, err = _run(["fit", str(tmp_path / "r.csv"), "--out", str(tmp_path / "x.txt"), "--quiet"])
    assert code == 2 and ".json or .csv" in err
    with pytest.raises(SystemExit):
        _run(["fit"])
    with pytest.raises(SystemExit):
        _run(["fit", str(tmp_path / "missing.csv")])


def test_unreadable_tables_are_messages_not_tracebacks(tmp_path):
    # Found by tools/fuzz.py (csv target): a non-UTF-8 file raised
    # UnicodeDecodeError out of the CLI.
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe,\n")
    with pytest.raises(SystemExit, match="not UTF-8 text"):
        _run(["fit", str(tmp_path / "bin.csv")])
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(SystemExit, match="not a readable CSV table"):
        _run(["fit", str(tmp_path / "empty.csv")])
    with pytest.raises(SystemExit, match="cannot read"):
        _run(["fit", str(tmp_path)])
    (tmp_path / "short.csv").write_text("params,tokens,loss\n1,2,x\n")
    code, _, err = _run(["fit", str(tmp_path / "short.csv"), "--quiet"])
    assert code == 2 and err.startswith("scalecore fit: ")


def test_python_dash_m_and_laws(tmp_path):
    r = subprocess.run([sys.executable, "-m", "scalecore", "fit", "--example", "chinchilla", "--progress", "off"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "[dataset=c4_original]" in r.stdout and "alpha" in r.stdout
    code, out, _ = _run(["laws"])
    assert code == 0 and "chinchilla_lse" in out


def test_sigma_column_is_used(tmp_path):
    x = np.geomspace(1e6, 1e9, 15)
    y = 2 + 30 * x ** -0.3
    y[3] += 0.5
    sig = np.ones_like(x)
    sig[3] = 1e3  # the outlier barely counts
    pd.DataFrame({"size": x, "loss": y, "sd": sig}).to_csv(tmp_path / "r.csv", index=False)
    code, _, err = _run(["fit", str(tmp_path / "r.csv"), "--law", "saturating_power", "--x", "size", "--sigma", "sd",
                         "--out", str(tmp_path / "o.json"), "--quiet"])
    assert code == 0, err
    fit = json.loads((tmp_path / "o.json").read_text())["fits"][0]
    assert fit["alpha"] == pytest.approx(0.3, rel=1e-3)


def test_output_paths_are_checked_before_the_fit(tmp_path, monkeypatch):
    # A long fit must not end on an unwritable path: the CLI checks --out and
    # --plot first and fits nothing when they are bad.
    import scalecore.scaling

    called = []
    real = scalecore.scaling.fit_table
    monkeypatch.setattr(scalecore.scaling, "fit_table", lambda *a, **k: called.append(1) or real(*a, **k))
    for argv, msg in [
        (["--out", str(tmp_path / "missing" / "fit.json")], "--out: no such directory"),
        (["--out", str(tmp_path)], "--out: expected a .json or .csv file"),
        (["--out", str(tmp_path / "fit.txt")], "--out: expected a .json or .csv file"),
        (["--plot", str(tmp_path / "fit.xyz")], "--plot: expected a .png or .pdf"),
        (["--plot", str(tmp_path / "nowhere" / "fit.png")], "--plot: no such directory"),
    ]:
        code, _, err = _run(["fit", "--example", "chinchilla", "--quiet"] + argv)
        assert code == 2 and msg in err, (argv, err)
    (tmp_path / "d.json").mkdir()
    code, _, err = _run(["fit", "--example", "chinchilla", "--quiet", "--out", str(tmp_path / "d.json")])
    assert code == 2 and "is a directory" in err
    assert not called


def test_outputs_are_written_atomically(tmp_path, monkeypatch):
    # A run that dies while writing leaves the previous fit.json whole and no
    # temporary file behind; a successful run replaces it in one rename.
    js = tmp_path / "fit.json"
    js.write_text('{"previous": true}')

    def boom(self, *a, **k):
        raise KeyboardInterrupt  # the run is killed mid-write

    import pathlib

    monkeypatch.setattr(pathlib.Path, "write_text", boom)
    with pytest.raises(KeyboardInterrupt):
        _run(["fit", "--example", "chinchilla", "--quiet", "--out", str(js)])
    monkeypatch.undo()
    assert json.loads(js.read_text()) == {"previous": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.json"]
    code, _, _ = _run(["fit", "--example", "chinchilla", "--quiet", "--out", str(js), "--plot", str(tmp_path / "f.png")])
    assert code == 0 and "fits" in json.loads(js.read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "fit.json"]
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import stat

    assert stat.S_IMODE(js.stat().st_mode) & 0o044  # not mkstemp's private 0600
