"""Side-by-side benchmarks: scalecore against a named peer, in one process.

A benchmark registers cases with :func:`benchmark`.  Each case returns a list
of :class:`Pair` objects: two callables (ours, peer) that each process a known
number of items.  The harness runs them interleaved (A B A B ...), reports the
median, min and max of wall time and of CPU time, and the throughput ratio
(items per CPU-second, and per wall-second), records the machine, and writes a
JSON file to ``bench/results/``.

Peers that are far slower are timed on a subset of the items (``peer_items``);
ratios are always computed per item, and the report says how many items each
side processed.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

RESULTS = Path(__file__).resolve().parent / "results"

_REGISTRY: Dict[str, Dict[str, Any]] = {}


@dataclass
class Pair:
    """One comparison: ours and the peer on the same kind of work."""

    label: str
    ours: Callable[[], Any]
    ours_items: int
    peer: Optional[Callable[[], Any]] = None
    peer_items: int = 0
    peer_name: str = ""
    unit: str = "items"
    repeat: int = 5
    # Run each side once untimed first (imports, first-touch allocation,
    # JITs).  Off for cases too long to run twice.
    warmup: bool = True
    note: str = ""
    # Extra facts recorded with the result (accuracy checks, settings).
    extra: Dict[str, Any] = field(default_factory=dict)


def benchmark(name: str, *, peer: str, family: str, description: str,
              plot: Optional[Callable[[Dict[str, Any], Path], Any]] = None):
    """Register ``fn(quick: bool) -> list[Pair]`` as benchmark ``name``.

    ``plot(result, json_path)``, when given, runs after the record is written
    (a figure beside it)."""

    def deco(fn):
        _REGISTRY[name] = {"fn": fn, "peer": peer, "family": family, "description": description, "plot": plot}
        return fn

    return deco


def registry() -> Dict[str, Dict[str, Any]]:
    return _REGISTRY


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_id() -> Dict[str, Any]:
    """Vendor, family, model, stepping and clock from /proc/cpuinfo, plus the
    microarchitecture where the family/model says it (AMD Zen generations:
    the brand string of a cloud VM is often just "AMD EPYC", which does not
    tell Zen 4 from Zen 5, and their AVX-512 throughput differs by 2x)."""
    out: Dict[str, Any] = {}
    keys = {"vendor_id": "vendor", "cpu family": "family", "model": "model", "stepping": "stepping",
            "cpu MHz": "mhz", "cache size": "cache"}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                k, _, v = line.partition(":")
                k = k.strip()
                if k in keys:
                    out[keys[k]] = v.strip()
    except OSError:
        return out
    for k in ("family", "model", "stepping"):
        if str(out.get(k, "")).isdigit():
            out[k] = int(out[k])
    fam, mod = out.get("family"), out.get("model")
    uarch = None
    if out.get("vendor") == "AuthenticAMD" and isinstance(fam, int) and isinstance(mod, int):
        if fam == 23:
            uarch = "Zen 2" if mod >= 0x30 else "Zen/Zen+"
        elif fam == 25:
            uarch = "Zen 4" if (0x10 <= mod <= 0x1F or 0x60 <= mod <= 0x7F or 0xA0 <= mod <= 0xAF) else "Zen 3"
        elif fam == 26:
            uarch = "Zen 5"
    out["uarch"] = uarch
    return out


def machine() -> Dict[str, Any]:
    """What the numbers were measured on."""
    import numpy as np

    import scalecore

    info = scalecore.build_info()
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu_model": _cpu_model(),
        "cpu_brand": info["cpu"]["brand"],
        "cpu_id": _cpu_id(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "cpu_features": info["cpu"]["features"],
        "simd_level": info["simd_level"],
        "scalecore_threads": info["num_threads"],
        "hardware_threads": info["hardware_threads"],
        "cuda": info["cuda"]["compiled"],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "scalecore": info["version"],
        "commit": commit,
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                              "SCALECORE_NUM_THREADS", "SCALECORE_SIMD")},
    }


def _time(fn: Callable[[], Any]):
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def _stats(xs: List[float]) -> Dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def run_pair(p: Pair) -> Dict[str, Any]:
    """Times one pair interleaved; returns the record."""
    # Warm-up (imports, first-touch allocation, JIT of peers).
    if p.warmup:
        p.ours()
        if p.peer is not None:
            p.peer()
    ow, oc, pw, pc = [], [], [], []
    for _ in range(p.repeat):
        w, c = _time(p.ours)
        ow.append(w)
        oc.append(c)
        if p.peer is not None:
            w, c = _time(p.peer)
            pw.append(w)
            pc.append(c)
    rec: Dict[str, Any] = {
        "label": p.label,
        "unit": p.unit,
        "note": p.note,
        "ours": {"items": p.ours_items, "wall_s": _stats(ow), "cpu_s": _stats(oc)},
    }
    o_wall = p.ours_items / statistics.median(ow)
    o_cpu = p.ours_items / max(statistics.median(oc), 1e-9)
    rec["ours"]["per_wall_s"] = o_wall
    rec["ours"]["per_cpu_s"] = o_cpu
    if p.peer is not None:
        p_wall = p.peer_items / statistics.median(pw)
        p_cpu = p.peer_items / max(statistics.median(pc), 1e-9)
        rec["peer"] = {"name": p.peer_name, "items": p.peer_items, "wall_s": _stats(pw), "cpu_s": _stats(pc),
                       "per_wall_s": p_wall, "per_cpu_s": p_cpu}
        rec["ratio_wall"] = o_wall / p_wall
        rec["ratio_cpu"] = o_cpu / p_cpu
    rec.update(p.extra)
    return rec


def _fmt(v: float) -> str:
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def print_record(rec: Dict[str, Any]) -> None:
    o = rec["ours"]
    line = (f"  {rec['label']:<44} ours {_fmt(o['per_wall_s'])} {rec['unit']}/s "
            f"({_fmt(o['per_cpu_s'])}/CPU-s; median {o['wall_s']['median']*1e3:.1f} ms, "
            f"min {o['wall_s']['min']*1e3:.1f}, max {o['wall_s']['max']*1e3:.1f})")
    print(line)
    if "peer" in rec:
        p = rec["peer"]
        print(f"  {'':<44} {p['name']} {_fmt(p['per_wall_s'])} {rec['unit']}/s "
              f"({_fmt(p['per_cpu_s'])}/CPU-s; median {p['wall_s']['median']*1e3:.1f} ms on {p['items']} items)")
        print(f"  {'':<44} ratio {rec['ratio_wall']:.1f}x per wall-second, {rec['ratio_cpu']:.1f}x per CPU-second")
    if rec.get("note"):
        print(f"  {'':<44} note: {rec['note']}")


def run(name: str, quick: bool = False, out: Optional[Path] = None) -> Dict[str, Any]:
    """Runs benchmark ``name``, prints the table and writes the JSON record."""
    entry = _REGISTRY[name]
    mach = machine()
    print(f"== {name}: scalecore vs {entry['peer']} ({entry['description']})")
    uarch = mach["cpu_id"].get("uarch")
    load = f"{mach['load_average'][0]:.2f}" if mach["load_average"] else "?"
    print(f"   machine: {mach['cpu_model']}{f' ({uarch})' if uarch else ''} | load {load} | threads {mach['scalecore_threads']}/{mach['hardware_threads']} "
          f"| simd {mach['simd_level']} | commit {mach['commit']}")
    records = []
    for pair in entry["fn"](quick):
        rec = run_pair(pair)
        print_record(rec)
        records.append(rec)
        sys.stdout.flush()
    result = {"benchmark": name, "peer": entry["peer"], "family": entry["family"],
              "description": entry["description"], "quick": quick,
              "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": mach, "records": records}
    out = out or RESULTS
    out.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out / f"{name}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=float))
    print(f"   wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    if entry.get("plot") is not None:
        fig = entry["plot"](result, path)
        if fig:
            print(f"   plotted {fig}")
    return result
