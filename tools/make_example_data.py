"""Builds the example tables that scalecore ships and tests use, from ../shared/data.

    python tools/make_example_data.py [SHARED_DATA_DIR]

Writes
  python/scalecore/scaling/data/overtraining.csv   104 runs of Gadre et al. 2024
  tests/data/hitchhiker/gpt3_curves.csv            GPT-3 loss curves (Hitchhiker's guide data)
  tests/data/hitchhiker/opt_trajectories.csv       OPT perplexity trajectories (same)

Sources and licences are in python/scalecore/scaling/data/PROVENANCE.md and
tests/data/PROVENANCE.md.  The script only reshapes; it adds no values.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

# Validation sets in the order open_lm evaluated them (models/*.json "results").
VAL_SETS = {
    "openlm/": "loss_openlm",
    "c4_val/": "loss",  # C4 validation: the loss Gadre et al. fit
    "paloma_c4_en/": "loss_paloma_c4_en",
    "paloma_falcon-refinedweb/": "loss_paloma_refinedweb",
    "paloma_redpajama/": "loss_paloma_redpajama",
}
TASKS = ["hellaswag", "arc_easy", "piqa", "lambada_openai", "winogrande", "copa"]


def overtraining(src: Path) -> pd.DataFrame:
    rows = []
    for f in sorted(glob.glob(str(src / "models" / "*.json"))):
        m = json.load(open(f))
        h = m["hyperparameters"]
        row = {
            "name": m["name"],
            "dataset": m["dataset_name"],
            "model": Path(h["model"]).stem,
            "params": int(h["params"]),
            "tokens": int(h["tokens"]),
            "multiplier": float(h["chinchilla_multiplier"]),
        }
        for r in m["results"]:
            vd = r["val_data"][0]
            for key, col in VAL_SETS.items():
                if key in vd:
                    row[col] = float(r["loss"])
        ev = src / "evals" / f"evaluation_{m['name']}_heavy.json"
        if ev.exists():
            icl = json.load(open(ev))["eval_metrics"]["icl"]
            row["acc_mean"] = float(np.mean(list(icl.values())))
            row["n_tasks"] = len(icl)
            for t in TASKS:
                row[f"acc_{t}"] = float(icl[t]) if t in icl else np.nan
        rows.append(row)
    df = pd.DataFrame(rows)
    df["tokens_per_param"] = df["tokens"] / df["params"]
    df["flops"] = 6.0 * df["params"].astype(float) * df["tokens"].astype(float)
    return df.sort_values(["dataset", "params", "tokens"]).reset_index(drop=True)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    shared = Path(argv[0]) if argv else ROOT.parent / "shared" / "data"
    df = overtraining(shared / "overtraining" / "exp_data")
    out = ROOT / "python" / "scalecore" / "scaling" / "data" / "overtraining.csv"
    df.to_csv(out, index=False, float_format="%.10g")
    print(f"wrote {out} ({len(df)} rows)")
    hh = ROOT / "tests" / "data" / "hitchhiker"
    hh.mkdir(parents=True, exist_ok=True)
    g = pd.read_csv(shared / "hitchhiker" / "raw_data" / "gpt3" / "extracted.csv")
    g.to_csv(hh / "gpt3_curves.csv", index=False)
    shutil.copyfile(shared / "hitchhiker" / "aggregated_eval" / "opt_trajectories.csv", hh / "opt_trajectories.csv")
    print(f"wrote {hh}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
