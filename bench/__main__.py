"""``python -m bench [--list] [--quick] NAME ...``"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from pathlib import Path

# Keep BLAS and OpenMP pools of the peers from spinning on our cores: every
# comparison is single-library, same threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from . import harness  # noqa: E402


def _load_all() -> None:
    here = Path(__file__).resolve().parent
    for mod in pkgutil.iter_modules([str(here)]):
        if mod.name.startswith("bench_"):
            importlib.import_module(f"bench.{mod.name}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    ap.add_argument("--list", action="store_true", help="list the benchmarks")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (seconds, for CI smoke runs)")
    args = ap.parse_args(argv)
    _load_all()
    reg = harness.registry()
    if args.list:
        for name, e in sorted(reg.items()):
            print(f"{name:<28} [{e['family']}] vs {e['peer']}: {e['description']}")
        return 0
    names = args.names or sorted(reg)
    unknown = [n for n in names if n not in reg]
    if unknown:
        print(f"unknown benchmark(s): {unknown}; see --list", file=sys.stderr)
        return 2
    for n in names:
        harness.run(n, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
