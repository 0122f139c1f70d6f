"""End-to-end benchmark: ``eicgeo run`` on generated regions of growing size.

Each configuration runs in a fresh Python process (no road network or lookup cached from an
earlier run), as a planner's ``eicgeo run`` would, and writes the full output folder. The
process reports its own peak resident memory (``ru_maxrss``, which includes GDAL's and
numpy's buffers) and the stage seconds and memory that ``manifest.json`` records.

Configurations (the regions are generated once into ``bench/data/region_<size>``, git-ignored;
XL takes several minutes to generate and is never committed):

- ``S`` at 100 m: the committed sample region (48 km, 0.23 M cells).
- ``M`` at 100 m (96 km, 0.9 M cells), ``L`` at 100 m (192 km, 3.8 M cells) and ``L`` at 50 m
  (15 M cells).
- ``XL`` at 100 m (384 km, 15 M cells, 4 times L's road network and firms).
- ``XL50``: XL at 50 m (about 60 M cells), chunked (``chunks = 2048``, its layers spilled to
  disk, ``compute.spill``): about 6 minutes and 5 GB. ``--no-xl`` or ``EICGEO_BENCH_XL=0``
  leaves it out.

Goals (issue 16): L at 100 m within 30 s and 1.5 GB, L at 50 m within 60 s and 3 GB; time
within 1.3x of linear in cells from S to XL; XL with chunks under 6 GB and 10 minutes. The
column ``vs linear`` is the run's seconds per cell over L at 100 m's seconds per cell.

There is no peer tool that runs the same chain end to end; the baseline is eicgeo before the
country-scale work, measured on this machine by the issue: L at 100 m 198 s and 2.8 GB, L at
50 m 306 s and 5.7 GB.

Usage: ``python bench/bench_pipeline.py [--no-xl] [--only S,M,L,L50,XL,XL50]``. Generating XL
takes about 24 minutes and 12 GB on this machine (once; it is kept in ``bench/data``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import report

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLE = ROOT / "sample_data" / "peri_urban_demo"

#: name: (region size, resolution m, chunks or None)
CONFIGS: dict[str, tuple[str, float, int | None]] = {
    "S": ("S", 100.0, None),
    "M": ("M", 100.0, None),
    "L": ("L", 100.0, None),
    "L50": ("L", 50.0, None),
    "XL": ("XL", 100.0, None),
    "XL50": ("XL", 50.0, 2048),
}
GOALS = {"L": "<= 30 s, <= 1.5 GB", "L50": "<= 60 s, <= 3 GB", "XL50": "<= 600 s, < 6 GB (chunked)"}
BEFORE = {"L": "198 s, 2.8 GB", "L50": "306 s, 5.7 GB"}

_CHILD = r"""
import json, resource, sys, time
import eicgeo
scenario = eicgeo.read_scenario(sys.argv[1]).replace(resolution=float(sys.argv[2]))
chunks = json.loads(sys.argv[4])
if chunks is not None:
    scenario = scenario.replace(compute={"chunks": chunks})
t0 = time.perf_counter()
result = eicgeo.run(scenario, out=sys.argv[3], progress=False)
seconds = time.perf_counter() - t0
print(json.dumps({
    "seconds": seconds,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "cells": result.grid.height * result.grid.width,
    "stages": {k: round(v, 2) for k, v in result.timings.items()},
    "zones": len(result.zones),
    "nodes": result.network.get("nodes"),
    "firms": len(result.firms),
}))
"""


def region(size: str) -> Path:
    """The scenario of a generated region (the committed sample for S)."""
    if size == "S":
        return SAMPLE / "scenario.toml"
    folder = DATA / f"region_{size}"
    if not (folder / "scenario.toml").is_file():
        print(f"generating the {size} region into {folder} (once)", flush=True)
        subprocess.run(
            [sys.executable, "-m", "eicgeo.cli", "sample-data", "--size", size, "--out", str(folder)], check=True
        )
    return folder / "scenario.toml"


def run(name: str) -> dict:
    size, resolution, chunks = CONFIGS[name]
    scenario = region(size)
    with tempfile.TemporaryDirectory(prefix="eicgeo-bench-") as tmp:
        out = Path(tmp) / "out"
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(scenario), str(resolution), str(out), json.dumps(chunks)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-4000:])
            raise SystemExit(f"{name}: eicgeo run failed")
        record = json.loads(proc.stdout.strip().splitlines()[-1])
        manifest = json.loads((out / "manifest.json").read_text())
    record["manifest_stages"] = manifest.get("stage_seconds")
    record["manifest_memory"] = manifest.get("stage_memory_mb")
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-xl", action="store_true", help="leave out XL at 50 m, chunked (about 6 minutes)")
    parser.add_argument("--only", help="comma-separated configurations: " + ",".join(CONFIGS))
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(CONFIGS)
    if not args.only and (args.no_xl or os.environ.get("EICGEO_BENCH_XL") == "0"):
        names.remove("XL50")
    records = {name: run(name) for name in names}
    rows = []
    per_cell_l = records["L"]["seconds"] / records["L"]["cells"] if "L" in records else None
    for name, r in records.items():
        size, resolution, chunks = CONFIGS[name]
        row = {
            "run": f"{size} at {resolution:g} m" + (f", chunks {chunks}" if chunks else ""),
            "cells (M)": round(r["cells"] / 1e6, 2),
            "OSM nodes kept": r["nodes"],
            "firms": r["firms"],
            "seconds": round(r["seconds"], 1),
            "peak MB": round(r["peak_mb"]),
            "vs linear": round(r["seconds"] / r["cells"] / per_cell_l, 2) if per_cell_l else "",
            "goal": GOALS.get(name, ""),
            "before": BEFORE.get(name, ""),
            "stages (s)": ", ".join(f"{k} {v:g}" for k, v in r["stages"].items() if v >= 0.5),
        }
        rows.append(row)
    report("pipeline", rows, records=records)


if __name__ == "__main__":
    main()
