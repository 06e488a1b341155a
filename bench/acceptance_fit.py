"""The full "same optimum as scipy" acceptance run of issue 3:
``python -m bench.acceptance_fit [N]`` (default 10,000 problems per law).

For each built-in law it fits N random problems (60 points, noise 0-10%,
starts within +-20% of the truth) with scalecore and with
scipy.optimize.least_squares(method="lm") from the same start, and reports
how often scalecore's final cost is at lm's or better; on the first 1,000 it
also runs method="trf" to measure how path-dependent the law's landscape is
(how often scipy's own second solver ends worse than lm).  Writes
bench/results/fit_scipy_agreement-<time>.json and prints a markdown table.
Takes hours for the BNSL family (scipy's time, not ours)."""
from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import scalecore  # noqa: E402
from test_fit_scipy import agreement  # noqa: E402

from .harness import machine  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    n_trf = min(n, 1000)
    names = sys.argv[2:] or list(scalecore.laws)
    rows = []
    print("| law | problems | at lm's optimum or better | better than lm | worse than lm | trf worse than lm "
          "(first 1,000) | ours worse (same 1,000) | sign test p |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        t = time.time()
        a = agreement(name, n, n_trf=n_trf)
        a["seconds"] = time.time() - t
        a["law"] = name
        a["worst"] = [float(v) for v in a["worst"]]
        rows.append(a)
        print(f"| {name} | {a['n']} | {a['at_or_better']:.4f} | {a['ours_better']:.4f} | {a['ours_worse']:.4f} | "
              f"{a['trf_worse_sub']:.4f} | {a['ours_worse_sub']:.4f} | {a['sign_p']:.3g} |", flush=True)
    out = HERE / "results" / f"fit_scipy_agreement-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"machine": machine(), "n": n, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
