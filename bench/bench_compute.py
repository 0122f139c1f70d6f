"""One scenario in memory, chunked, and on a local ``dask.distributed`` cluster: seconds and peak
memory of each stage, and whether the suitability and zones are the same.

Each mode runs in its own process, so that the process's peak memory is that mode's alone::

    python bench/bench_compute.py SCENARIO.toml [--resolution 100] [--chunks 512] [--without roads]

With no scenario it runs the synthetic M region (96 km square), generated once into
``bench/data/M``. Results go to ``bench/results/compute.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import report

DATA = Path(__file__).resolve().parent / "data"


def _child(args: argparse.Namespace) -> None:
    """One run in this process; prints its figures as JSON on the last line."""
    import time
    import warnings

    import numpy as np

    import eicgeo

    s = eicgeo.read_scenario(args.scenario)
    changes = {"resolution": args.resolution, "zones": {"stability_runs": 10}}
    s = s.replace(without=args.without, **changes)
    if args.mode != "memory":
        compute = {"chunks": args.chunks}
        cluster = None
        if args.mode == "cluster":
            from distributed import LocalCluster

            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
            compute["scheduler"] = cluster.scheduler_address
        s = s.replace(compute=compute)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = eicgeo.run(s, progress=False)
    seconds = time.perf_counter() - t0
    if args.mode == "cluster":
        cluster.close()
    np.save(args.save, np.asarray(result.suitability.values))
    print(
        json.dumps(
            {
                "seconds": round(seconds, 1),
                "grid": list(result.grid.shape),
                "stage_seconds": {k: round(v, 1) for k, v in result.timings.items()},
                "stage_peak_mb": {k: v["peak_rss_mb"] for k, v in result.memory.items()},
                "workers_mb": {k: v.get("workers_rss_mb") for k, v in result.memory.items()},
                "process_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "zones": result.zones.drop(columns="geometry").to_json(),
                "zone_shapes": [g.wkb_hex for g in result.zones.geometry],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", nargs="?")
    parser.add_argument("--resolution", type=float, default=100.0)
    parser.add_argument("--chunks", type=int, default=512)
    parser.add_argument("--without", action="append", default=[])
    parser.add_argument("--modes", default="memory,chunked,cluster")
    parser.add_argument("--mode")
    parser.add_argument("--save")
    args = parser.parse_args()
    if args.mode:
        _child(args)
        return
    if args.scenario is None:
        folder = DATA / "M"
        if not (folder / "scenario.toml").is_file():
            from eicgeo.datasets.synth import generate

            generate(folder, size="M")
        args.scenario = str(folder / "scenario.toml")
    rows, runs = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            save = str(Path(tmp) / f"{mode}.npy")
            cmd = [sys.executable, __file__, args.scenario, "--mode", mode, "--save", save]
            cmd += ["--resolution", str(args.resolution), "--chunks", str(args.chunks)]
            for w in args.without:
                cmd += ["--without", w]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            import numpy as np

            runs[mode] = (np.load(save), figures["zones"], figures["zone_shapes"])
            first = runs[next(iter(runs))]
            diff = np.abs(runs[mode][0].astype(float) - first[0])
            rows.append(
                {
                    "mode": mode if mode == "memory" else f"{mode} ({args.chunks})",
                    "grid": "x".join(map(str, figures["grid"])),
                    "seconds": figures["seconds"],
                    "peak MB (stages)": max(figures["stage_peak_mb"].values()),
                    "process max RSS MB": figures["process_max_rss_mb"],
                    "workers MB (max)": max((v for v in figures["workers_mb"].values() if v), default=""),
                    "same suitability": bool(np.array_equal(runs[mode][0], runs["memory"][0], equal_nan=True))
                    if "memory" in runs
                    else "",
                    "max |suitability diff|": float(np.nanmax(diff)) if "memory" in runs else "",
                    "cells differing": int((diff > 0).sum()) if "memory" in runs else "",
                    "same zones": runs[mode][1] == runs["memory"][1] if "memory" in runs else "",
                    "same zone shapes": runs[mode][2] == runs["memory"][2] if "memory" in runs else "",
                }
            )
            print(mode, json.dumps(figures["stage_seconds"]), json.dumps(figures["stage_peak_mb"]), flush=True)
    report("compute", rows, scenario=args.scenario, resolution=args.resolution, chunks=args.chunks)


if __name__ == "__main__":
    main()
