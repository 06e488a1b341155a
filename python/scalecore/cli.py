"""The ``scalecore`` command (also ``python -m scalecore``).

    scalecore fit runs.csv --law chinchilla --x N=params,D=tokens --y loss --by family \\
        --bootstrap 1000 --plot fit.png --out fit.json
    scalecore fit --example chinchilla
    scalecore laws
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

# Settings an --example fills in; flags given on the command line win.
PRESETS: Dict[str, Dict[str, Any]] = {
    "chinchilla": dict(law="chinchilla", x="N=params,D=tokens", y="loss", by="dataset", residual="log",
                       loss="huber", f_scale=1e-3, starts="grid", bounds="default", series="multiplier"),
    "overtraining": dict(law="overtraining", x="C=flops,M=tokens_per_param", y="loss", by="dataset",
                         residual="log", bounds="default", series="multiplier"),
}

_DEFAULTS = dict(law="chinchilla", x=None, y="loss", by=None, residual="linear", loss="linear", f_scale=1.0,
                 starts="none", bounds="none", series=None)


def _parse_map(text: Optional[str], what: str) -> Optional[Dict[str, str]]:
    """``"N=params,D=tokens"`` -> {"N": "params", "D": "tokens"}; a bare name -> None-key."""
    if text is None:
        return None
    out: Dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            if len(text.split(",")) == 1:
                return {"": part}
            raise SystemExit(f"scalecore fit: {what}: expected NAME=COLUMN pairs separated by commas, got {text!r}")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _parse_target(text: Optional[str]) -> Optional[Dict[str, float]]:
    if text is None:
        return None
    m = _parse_map(text, "--target") or {}
    try:
        return {k: float(v) for k, v in m.items()}
    except ValueError:
        raise SystemExit(f"scalecore fit: --target: expected NAME=NUMBER pairs, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="scalecore", description="Fast scaling-law fitting (scalecore).")
    sub = ap.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit", help="fit a law to a table of runs, one fit per group",
                       description="Fit a scaling law to a CSV table of runs (one fit per --by group, all groups "
                                   "in one batched call), print a table, and optionally bootstrap, plot and save.")
    f.add_argument("csv", nargs="?", help="a CSV file with one row per run (or use --example)")
    f.add_argument("--example", choices=sorted(PRESETS), help="run on a dataset shipped with scalecore")
    f.add_argument("--law", help="catalogue name or expression (default: chinchilla)")
    f.add_argument("--x", help="law inputs to columns, e.g. N=params,D=tokens (a bare column for a one-input law)")
    f.add_argument("--y", help="the measured column (default: loss)")
    f.add_argument("--by", help="group columns, comma separated")
    f.add_argument("--sigma", help="a column of standard deviations")
    f.add_argument("--residual", choices=["linear", "log"])
    f.add_argument("--loss", choices=["linear", "huber", "soft_l1", "cauchy", "arctan"])
    f.add_argument("--f-scale", type=float, dest="f_scale")
    f.add_argument("--starts", choices=["none", "grid"], help="grid: the 4,500-start Approach 3 grid (chinchilla laws)")
    f.add_argument("--bounds", choices=["none", "default"], help="default: the law's bounds")
    f.add_argument("--max-iter", type=int, default=200, dest="max_iter")
    f.add_argument("--bootstrap", type=int, default=0, metavar="R", help="bootstrap resamples (0: none)")
    f.add_argument("--resample", help="resample clusters of this column instead of points")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--level", type=float, default=0.95)
    f.add_argument("--target", help="predict (and bootstrap) the law at e.g. N=7e10,D=1.4e12")
    f.add_argument("--compute", type=float, help="a FLOP budget C: compute-optimal N, D (Chinchilla laws)")
    f.add_argument("--k", type=float, default=6.0, help="C = k N D (default 6)")
    f.add_argument("--plot", help="write a figure (PNG, PDF, SVG)")
    f.add_argument("--series", help="split each group's curve by this column in the plot")
    f.add_argument("--out", help="write results: .json or .csv")
    f.add_argument("--threads", type=int, help="threads for the engine")
    f.add_argument("--workers", type=int, metavar="N",
                   help="fit the groups on a local Dask cluster of N worker processes (needs scalecore[dask])")
    f.add_argument("--scheduler", metavar="ADDRESS",
                   help="fit the groups on the Dask cluster at ADDRESS, e.g. tcp://host:8786 (needs scalecore[dask])")
    f.add_argument("--progress", choices=["auto", "on", "off"], default="auto",
                   help="tqdm progress bar (auto: for batches of 20,000+ fits)")
    f.add_argument("--quiet", action="store_true", help="print nothing but errors")
    sub.add_parser("laws", help="list the built-in laws")
    return ap


def _fmt(v: float) -> str:
    if v is None or not np.isfinite(v):
        return "nan"
    a = abs(v)
    if a != 0 and (a >= 1e5 or a < 1e-3):
        return f"{v:.4e}"
    return f"{v:.5g}"


def format_table(table, boot=None) -> str:
    """A readable per-group table: estimate, standard error and interval."""
    law = table.attrs["law"]
    by = table.attrs.get("by", [])
    level = table.attrs.get("level", 0.95)
    lines: List[str] = []
    for g, row in enumerate(table.to_dict(orient="records")):
        head = ", ".join(f"{k}={row[k]}" for k in by) if by else "all rows"
        lines.append(f"[{head}]  law={law.name}  n={row['n_points']}  cost={_fmt(row['cost'])}  "
                     f"status={row['status']}")
        if row["status"] == "bad_input" and row.get("message"):
            lines.append(f"  error: {row['message']}")
            lines.append("")
            continue
        iv_name = f"{int(round(level * 100))}% CI (t)"
        hdr = f"  {'param':<12}{'estimate':>14}{'stderr':>14}{iv_name:>30}"
        biv = None
        if boot is not None:
            biv = boot.intervals
            if by:
                sel = np.ones(len(biv), dtype=bool)
                for k in by:
                    sel &= (biv[k] == row[k]).to_numpy()
                biv = biv[sel]
            hdr += f"{f'{int(round(boot.level * 100))}% bootstrap':>32}"
        lines.append(hdr)
        for n in law.param_names:
            s = (f"  {n:<12}{_fmt(row[n]):>14}{_fmt(row[n + '_stderr']):>14}"
                 f"{'[' + _fmt(row[n + '_lo']) + ', ' + _fmt(row[n + '_hi']) + ']':>30}")
            if biv is not None:
                r = biv[biv["quantity"] == n]
                if len(r):
                    s += f"{'[' + _fmt(r['lo'].iloc[0]) + ', ' + _fmt(r['hi'].iloc[0]) + ']':>32}"
            lines.append(s)
        if biv is not None:
            extra = biv[~biv["quantity"].isin(law.param_names)]
            for r in extra.itertuples(index=False):
                lines.append(f"  {r.quantity:<12}{_fmt(r.estimate):>14}{'':>14}{'':>30}"
                             f"{'[' + _fmt(r.lo) + ', ' + _fmt(r.hi) + ']':>32}")
        lines.append("")
    return "\n".join(lines)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, np.bool_):
        return bool(v)
    return v


_PLOT_FORMATS = ("png", "pdf", "svg", "svgz", "eps", "ps", "jpg", "jpeg", "tif", "tiff", "webp")


def _check_output(path: Optional[str], flag: str, suffixes: Sequence[str]) -> None:
    """Reject an output path before any work (ValueError: exit status 2).

    A known suffix, an existing directory we may write in, and not a
    directory itself; checked before the fit so that a long run never ends
    on an unwritable path.
    """
    if not path:
        return
    p = Path(path)
    suf = p.suffix.lower().lstrip(".")
    if suf not in suffixes:
        raise ValueError(f"{flag}: expected a {' or '.join('.' + x for x in suffixes)} file, got {path!r}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"{flag}: no such directory: {parent}")
    if p.is_dir():
        raise ValueError(f"{flag}: {path} is a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{flag}: cannot write in {parent}: permission denied")


def _atomic_write(path: str, write) -> None:
    """write(tmp) to a temporary file beside ``path``, then rename it over ``path``.

    A run killed while writing leaves the previous file (or none), never a
    half-written one; the temporary file is removed if ``write`` raises.
    """
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=str(p.parent) if str(p.parent) else ".", prefix=f".{p.name}.", suffix=p.suffix)
    os.close(fd)
    try:
        write(tmp)
        try:
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; give the file the usual mode
        except OSError:
            pass
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def run_fit(args: argparse.Namespace, out=None) -> int:
    import pandas as pd

    from .scaling import bootstrap as _bootstrap
    from .scaling import compute_optimal, fit_table
    from .scaling._common import ScalingDataError

    settings = dict(_DEFAULTS)
    if args.example:
        if args.csv:
            raise SystemExit("scalecore fit: give a CSV file or --example, not both")
        settings.update(PRESETS[args.example])
    elif not args.csv:
        raise SystemExit("scalecore fit: give a CSV file (or --example chinchilla)")
    for key in ("law", "x", "y", "by", "residual", "loss", "f_scale", "starts", "bounds", "series"):
        v = getattr(args, key, None)
        if v is not None:
            settings[key] = v
    _check_output(args.out, "--out", ("json", "csv"))
    _check_output(args.plot, "--plot", _PLOT_FORMATS)
    out = sys.stdout if out is None else out
    say = (lambda *a, **k: None) if args.quiet else (lambda *a, **k: print(*a, file=out, **k))
    if args.threads:
        from . import set_num_threads

        set_num_threads(args.threads)
    if args.example:
        from .scaling.datasets import EXAMPLES, data_path

        path = data_path(args.example)
        say(f"example {args.example!r}: {EXAMPLES[args.example][1]}\n  data: {path}")
        df = pd.read_csv(path)
    else:
        try:
            df = pd.read_csv(args.csv)
        except FileNotFoundError:
            raise SystemExit(f"scalecore fit: no such file: {args.csv}") from None
        except (IsADirectoryError, PermissionError) as e:
            raise SystemExit(f"scalecore fit: cannot read {args.csv}: {e.strerror}") from None
        except UnicodeDecodeError as e:
            raise SystemExit(f"scalecore fit: {args.csv} is not UTF-8 text (byte {e.start}): expected a CSV file") from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
            raise SystemExit(f"scalecore fit: {args.csv} is not a readable CSV table: {e}") from None
    x = _parse_map(settings["x"], "--x")
    if x is not None and "" in x:
        x = x[""]
    by = None if not settings["by"] else [b.strip() for b in str(settings["by"]).split(",") if b.strip()]
    by = by[0] if by is not None and len(by) == 1 else by
    bounds = None if settings["bounds"] == "none" else "default"
    starts = None if settings["starts"] == "none" else settings["starts"]
    kw = dict(residual=settings["residual"], loss=settings["loss"], f_scale=float(settings["f_scale"]),
              bounds=bounds, max_iter=args.max_iter, sigma=args.sigma)
    from .scaling._common import as_law

    law = as_law(settings["law"], x if isinstance(x, dict) else None)
    n_groups = 1 if by is None else int(df.groupby(by).ngroups) if all(
        b in df.columns for b in ([by] if isinstance(by, str) else by)) else 1
    n_starts = 4500 if starts == "grid" else 1
    n_fits = n_groups * max(n_starts, 1) + n_groups * args.bootstrap * 8
    progress = args.progress == "on" or (args.progress == "auto" and n_fits >= 20000 and not args.quiet)
    client = cluster = None
    if args.workers or args.scheduler:
        if args.workers and args.scheduler:
            raise SystemExit("scalecore fit: give --workers or --scheduler, not both")
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise SystemExit('scalecore fit: --workers/--scheduler need Dask: pip install "scalecore[dask]"') from None
        if args.workers:
            if args.workers < 1:
                raise SystemExit("scalecore fit: --workers must be >= 1")
            cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address="127.0.0.1:0")
            client = Client(cluster)
        else:
            client = Client(args.scheduler)
        say(f"dask: {client}")
    t0 = time.perf_counter()
    try:
        if client is not None:
            from .distributed import DaskBackend

            table = fit_table(df, law, x=x, y=settings["y"], by=by, starts=starts, level=args.level,
                              backend=DaskBackend(client), **kw)
        else:
            table = fit_table(df, law, x=x, y=settings["y"], by=by, starts=starts, level=args.level,
                              progress=progress and n_groups * n_starts >= 2, **kw)
        boot = None
        if args.bootstrap:
            boot = _bootstrap(df, law, x=x, y=settings["y"], by=by, R=args.bootstrap, seed=args.seed,
                              resample=args.resample, level=args.level, starts=starts,
                              target=_parse_target(args.target), target_C=args.compute, k=args.k,
                              progress=progress, errors="ignore", **kw)
    except ScalingDataError as e:
        print(f"scalecore fit: {e}", file=sys.stderr)
        return 2
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    dt = time.perf_counter() - t0
    say(f"law {law.name}: {law.expression}")
    say(f"fitted {len(table)} group(s) in {dt:.2f} s"
        + (f" (with {args.bootstrap} bootstrap resamples per group, seed {args.seed}; {boot.starts})" if boot else ""))
    say("")
    say(format_table(table, boot))
    co = None
    if args.compute and law.is_builtin and law.name in ("chinchilla", "chinchilla_lse"):
        rows = []
        for row in table.to_dict(orient="records"):
            pr = {n: row[n] for n in law.param_names}
            c = compute_optimal(pr, args.compute, args.k)
            rec = {k: row[k] for k in (table.attrs.get("by") or [])}
            rec.update(c.iloc[0].to_dict())
            rows.append(rec)
        co = pd.DataFrame(rows)
        say(f"compute-optimal allocation at C = {args.compute:.3g} FLOPs (C = {args.k:g} N D):")
        say(co.to_string(index=False))
        say("")
    if args.plot:
        from .scaling.plots import plot_fit

        series = settings["series"] if settings["series"] in df.columns else None
        fig = plot_fit(df, table, series=series)
        fmt = Path(args.plot).suffix.lower().lstrip(".")
        _atomic_write(args.plot, lambda tmp: fig.savefig(tmp, dpi=120, format=fmt))
        say(f"wrote {args.plot}")
    if args.out:
        outp = Path(args.out)
        if outp.suffix.lower() == ".csv":
            t = table.copy()
            if boot is not None:
                iv = boot.intervals
                keys = table.attrs.get("by") or []
                for q in iv["quantity"].unique():
                    sub = iv[iv["quantity"] == q][keys + ["lo", "hi"]].rename(
                        columns={"lo": f"{q}_boot_lo", "hi": f"{q}_boot_hi"})
                    t = t.merge(sub, on=keys, how="left") if keys else t.assign(
                        **{f"{q}_boot_lo": sub[f"{q}_boot_lo"].iloc[0], f"{q}_boot_hi": sub[f"{q}_boot_hi"].iloc[0]})
            _atomic_write(args.out, lambda tmp: t.to_csv(tmp, index=False))
        elif outp.suffix.lower() == ".json":
            doc = {
                "law": law.name, "expression": law.expression, "params": list(law.param_names),
                "x": table.attrs["x"], "y": table.attrs["y"], "by": table.attrs.get("by") or [],
                "settings": {k: settings[k] for k in ("residual", "loss", "f_scale", "starts", "bounds")},
                "level": args.level, "seconds": dt,
                "fits": table.to_dict(orient="records"),
            }
            if args.example:
                doc["example"] = args.example
            if boot is not None:
                doc["bootstrap"] = {"R": boot.R, "seed": boot.seed, "level": boot.level, "resample": boot.resample,
                                    "starts": boot.starts, "intervals": boot.intervals.to_dict(orient="records")}
            if co is not None:
                doc["compute_optimal"] = co.to_dict(orient="records")
            text = json.dumps(_jsonable(doc), indent=2)
            _atomic_write(args.out, lambda tmp: Path(tmp).write_text(text))
        say(f"wrote {args.out}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "fit":
        try:
            return run_fit(args)
        except (ValueError, TypeError) as e:
            # Bad input (a column, a law, a value) is a message, not a traceback.
            print(f"scalecore fit: {e}", file=sys.stderr)
            return 2
        except BrokenPipeError:  # e.g. `scalecore fit ... | head`
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
    if args.command == "laws":
        from .fitting import laws

        print(laws.table())
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
