"""xarray-spatial's side of ``bench_mcda.py``, run by that script in xarray-spatial's own venv.

It imports only numpy, xarray and xrspatial (no eicgeo), regenerates the benchmark's arrays
from the same seeds and answers one JSON request a line on stdin with one JSON line on stdout,
so that the parent can interleave xarray-spatial's repeats with eicgeo's:

* ``{"op": "setup", "case": ..., "size": ..., "seed": ..., "scale": ...}`` builds the criteria
  and answers a checksum of them (the parent checks it against its own arrays);
* ``{"op": "time", "case": ...}`` runs the case once and answers its wall-clock seconds;
* ``{"op": "peak", "case": ...}`` runs it under tracemalloc (numpy reports its buffers to it)
  and answers the peak MB and the result's dtype;
* ``{"op": "save", "case": ..., "path": ...}`` writes one result to ``path`` (.npy);
* ``{"op": "versions"}`` answers the versions of Python, numpy, numba and xarray-spatial.
"""

from __future__ import annotations

import json
import platform
import sys
import time
import tracemalloc

import numpy as np
import xarray as xr


def criteria(size: int, k: int = 6, seed: int = 0, scale: float = 1.0) -> xr.Dataset:
    """The same arrays as bench_mcda.criteria: seeded float32, a NaN corner."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(k):
        data = rng.random((size, size), dtype=np.float32)
        if scale != 1.0:
            data *= np.float32(scale)
        data[: size // 50, : size // 50] = np.nan
        out[f"c{i}"] = xr.DataArray(data, dims=("y", "x"), name=f"c{i}")
    return xr.Dataset(out)


def main() -> None:
    from xrspatial import mcda

    cases: dict[str, dict] = {}
    held: dict = {}  # each timed run keeps its outputs until its next one, as the parent does

    def run(case: str):
        c = cases[case]
        ds = c["data"]
        if case == "standardize":
            return [mcda.standardize(ds[v], "linear", bounds=(0.0, 60.0)) for v in ds.data_vars]
        if case == "standardize1":
            return mcda.standardize(ds["c0"], "linear", bounds=(0.0, 60.0))
        if case == "monte_carlo":
            return mcda.sensitivity(
                ds, c["weights"], method="monte_carlo", combine_method="wlc", n_samples=c["n"], seed=0
            )
        if case == "wlc":
            return mcda.wlc(ds, c["weights"])
        raise ValueError(case)

    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        if op == "versions":
            import numba
            import xrspatial

            reply = {
                "python": platform.python_version(),
                "numpy": np.__version__,
                "numba": numba.__version__,
                "xarray-spatial": xrspatial.__version__,
            }
        elif op == "setup":
            held.clear()
            ds = criteria(req["size"], seed=req["seed"], scale=req.get("scale", 1.0))
            weights = req.get("weights") or {v: 1.0 / len(ds.data_vars) for v in ds.data_vars}
            cases[req["case"]] = {"data": ds, "weights": weights, "n": req.get("n", 100)}
            if req["case"] == "standardize":
                cases["standardize1"] = cases["standardize"]
            reply = {"checksum": float(sum(np.nansum(ds[v].values, dtype=np.float64) for v in ds.data_vars))}
        elif op == "drop":
            held.clear()
            cases.pop(req["case"], None)
            reply = {}
        elif op == "time":
            t0 = time.perf_counter()
            value = run(req["case"])
            reply = {"seconds": time.perf_counter() - t0}
            held[req["case"]] = value
            del value
        elif op == "peak":
            held.clear()
            tracemalloc.start()
            base, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            value = run(req["case"])
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            first = value[0] if isinstance(value, list) else value
            reply = {"peak MB": (peak - base) / 1e6, "dtype": str(first.dtype)}
            del value, first
        elif op == "save":
            value = run(req["case"])
            first = value[0] if isinstance(value, list) else value
            np.save(req["path"], np.asarray(first.values))
            del value, first
            reply = {}
        else:
            reply = {"error": f"unknown op {op!r}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
