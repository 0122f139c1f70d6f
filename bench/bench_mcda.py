"""MCDA speed and memory: standardisation, weighted linear combination, Monte Carlo, and the
peak memory of building and combining the criteria.

What it measures, each against a plain-numpy floor (or the obvious alternative) in the same run:

* ``mcda.standardize`` ``linear`` (``low=0, high=60``) of 6 float32 layers on a 4,000 x 4,000
  grid, one call per layer. **Floor**: ``np.clip((x - lo) / (hi - lo), 0, 1)`` on the same
  float32 arrays, ``lo`` and ``hi`` float32 scalars (NaN stays NaN through the arithmetic and
  ``np.clip``), one whole-array expression per layer; float32 in, float32 out, no georeference.
  The row reports the seconds for all 6 layers, the multiple of the floor and the largest
  difference from it, and the peak memory of standardising one layer (tracemalloc, which numpy
  reports its buffers to), the 64 MB output included.
* ``mcda.monte_carlo`` with n = 100 weight draws of 6 criteria on 1,000 x 1,000 (``mean``,
  ``std`` and ``p_top``). **Floor**: the same ``n`` Dirichlet draws (``mcda.sample_weights``, in
  the timing), then per draw one weighted sum of the 6-layer float32 stack
  (``np.dot(w, stack, out=s)``, a BLAS gemv on one thread, as eicgeo's products are: two
  OpenBLAS threads made it 5x slower on the 2-core machine with another job running)
  accumulated in place into float32 ``sum`` and ``sum of squares``; ``mean = sum / n``,
  ``std = sqrt(max(sumsq / n - mean², 0))``. It computes no ``p_top``. A second alternative is
  the in-memory way with ``p_top`` (all ``n`` maps at once and ``numpy.quantile`` per draw),
  which needs n x cells values of memory.
* ``mcda.combine`` (WLC) of 6 float32 criteria on 4,000 x 4,000, against one memory pass over
  the same arrays (``np.copyto`` of the 6-layer stack into another buffer) and the plain numpy
  expression ``sum(w_i * c_i)``. Target: WLC within 2x the memory pass. Unlike ``np.copyto``,
  ``combine`` returns a new 64 MB array whose pages the OS must fault in; on a shared VM that
  alone varies from a few ms to over 0.1 s, so the like-for-like row writes into an existing
  array (``out=``), as ``np.copyto`` does.
* Peak memory of ``criteria.build`` + ``mcda.combine`` on 4,000 x 4,000 (6 user-raster
  criteria, float32 raw values, linear with a ``"p95"`` threshold over the allowed land, plus
  the land cover's categorical scores), in a fresh subprocess: the tracemalloc peak above the
  inputs, and the growth of the process's peak RSS (``VmHWM``, reset just before).

**xarray-spatial** (the issue's alternative) is measured in the same run, in a subprocess of its
own venv (``bench/.xrspatial-venv``, which ``make bench`` builds; or the Python named by
``EICGEO_XRSPATIAL_PYTHON``): ``bench/_xrspatial_child.py`` regenerates the same seeded arrays
(checked by checksum) and times one repeat per request, so its repeats interleave with
eicgeo's and both share the machine's state. xarray-spatial 0.10.20 declares Python >= 3.12; it
is installed here on 3.11 with ``--no-deps --ignore-requires-python`` beside pinned
dependencies, outside its declared range (its own ``test_mcda.py`` passes there: see
``bench/README.md``). Its ``mcda`` is plain numpy on numpy input (no numba; dask only for
dask-backed input). The calls:

* ``mcda.standardize(layer, "linear", bounds=(0, 60))``: ``clip``, ``(x - lo) / span`` and a
  ``where(isfinite)``, float32 in and out;
* ``mcda.sensitivity(ds, w, method="monte_carlo", combine_method="wlc", n_samples=100)``: its
  Monte Carlo mode, the one that matches ``mcda.monte_carlo``: Dirichlet weight draws
  (``alpha = 5 k w``, 5 for 6 equal weights; eicgeo's ``concentration=50`` gives 8.3), a WLC per
  draw and Welford's running mean and M2 in float64 over the whole grid, returning only the
  coefficient of variation ``std / |mean|`` (float64). eicgeo returns ``mean``, ``std`` and
  ``p_top`` (the share of draws in which a cell is in the top 10 %, exact), all float32;
* ``mcda.wlc(ds, w)``: ``sum(w_i * c_i)`` layer by layer, float32, unclipped.

The ratio column is xarray-spatial's seconds / eicgeo's (> 1: eicgeo is faster). Peak memory is
tracemalloc's in each process. Without the venv the script prints a line saying so and reports
the floors only.

Everything is generated in memory (seeded); nothing is written to ``bench/data``. Run:
``.venv/bin/python bench/bench_mcda.py [standardize|monte_carlo|wlc|memory]`` (``--memory`` runs
the build-memory child only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from _common import best_of, report
from affine import Affine
from threadpoolctl import threadpool_limits

from eicgeo import mcda
from eicgeo.grid import Grid

HERE = Path(__file__).resolve().parent
#: xarray-spatial's venv, as ``make bench`` builds it (see the Makefile).
XRSPATIAL_PYTHON = os.environ.get("EICGEO_XRSPATIAL_PYTHON") or str(HERE / ".xrspatial-venv" / "bin" / "python")


class XarraySpatial:
    """xarray-spatial in a child process of its own venv (``_xrspatial_child.py``), one request
    a line; ``XarraySpatial.start()`` is None (and says why) when that venv is not there."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc

    @classmethod
    def start(cls) -> XarraySpatial | None:
        if not Path(XRSPATIAL_PYTHON).exists():
            print(f"xarray-spatial: no venv at {XRSPATIAL_PYTHON} (make bench builds it): floors only")
            return None
        proc = subprocess.Popen(
            [XRSPATIAL_PYTHON, str(HERE / "_xrspatial_child.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        )
        self = cls(proc)
        try:
            self.versions = self.ask(op="versions")
        except (RuntimeError, json.JSONDecodeError) as err:
            print(f"xarray-spatial: {XRSPATIAL_PYTHON} cannot run xrspatial.mcda ({err}): floors only")
            self.close()
            return None
        print("xarray-spatial measured:", ", ".join(f"{k} {v}" for k, v in self.versions.items()))
        return self

    def ask(self, **request) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            msg = f"xarray-spatial child exited ({self.proc.wait()})"
            raise RuntimeError(msg)
        return json.loads(line)

    def setup(self, case: str, arrays, **params) -> None:
        reply = self.ask(op="setup", case=case, **params)
        mine = float(sum(np.nansum(np.asarray(a), dtype=np.float64) for a in arrays))
        assert reply["checksum"] == mine, (case, reply["checksum"], mine)  # the same arrays

    def timer(self, case: str):
        return lambda: self.ask(op="time", case=case)["seconds"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def interleaved(fns: dict, repeat: int) -> tuple[dict[str, float], dict]:
    """Best seconds of each of ``fns`` over ``repeat`` rounds that run each once in turn, so that
    all share the machine's state; and each one's last value. A function given as ``("remote",
    f)`` returns its own seconds (timed in the child)."""
    best = dict.fromkeys(fns, float("inf"))
    values: dict = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            if isinstance(fn, tuple):
                seconds = fn[1]()
            else:
                t0 = time.perf_counter()
                value = fn()
                seconds = time.perf_counter() - t0
                values[name] = value
                del value
            best[name] = min(best[name], seconds)
    return best, values


def vs_xrspatial(xrs_seconds: float | None, eic_seconds: float, dtype: str, peak: float) -> dict:
    if xrs_seconds is None:
        return {}
    return {"xarray-spatial s": xrs_seconds, "ratio xrs/eicgeo": xrs_seconds / eic_seconds,
            "xrs dtype": dtype, "xrs peak MB": peak}  # fmt: skip


def vs_xrspatial_values(xrs, t: dict, case: str, ours: np.ndarray, *, drop: str) -> dict:
    """:func:`vs_xrspatial` for ``case``, with the largest difference of xarray-spatial's values
    from ``ours``; then the child drops the case's arrays (``drop``)."""
    peak = xrs.ask(op="peak", case=case)
    with tempfile.TemporaryDirectory() as tmp:
        xrs.ask(op="save", case=case, path=f"{tmp}/{case}.npy")
        theirs = np.load(f"{tmp}/{case}.npy")
    xrs.ask(op="drop", case=drop)
    return {**vs_xrspatial(t["xrs"], t["eicgeo"], peak["dtype"], peak["peak MB"]),
            "max diff from xrs": float(np.nanmax(np.abs(theirs - ours)))}  # fmt: skip


def criteria(size: int, k: int = 6, seed: int = 0, scale: float = 1.0) -> dict:
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, size * 100), (size, size))
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(k):
        data = rng.random((size, size), dtype=np.float32)
        if scale != 1.0:
            data *= np.float32(scale)
        data[: size // 50, : size // 50] = np.nan  # nodata corner
        out[f"c{i}"] = grid.wrap(data, f"c{i}")
    return out


def traced_peak_mb(fn) -> float:
    """tracemalloc's peak (MB) while ``fn()`` runs, above what was allocated before."""
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    value = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del value
    return (peak - base) / 1e6


def bench_standardize(xrs: XarraySpatial | None, size: int = 4000) -> list[dict]:
    raw = criteria(size, scale=60.0)  # minutes 0..60
    arrays = [np.asarray(c.values) for c in raw.values()]
    lo, hi = np.float32(0.0), np.float32(60.0)

    def floor():
        return [np.clip((x - lo) / (hi - lo), 0, 1) for x in arrays]

    # (each timing keeps its 6 outputs until its next repeat, as a caller would)

    def eicgeo():
        return [mcda.standardize(c, "linear", low=0, high=60) for c in raw.values()]

    def eicgeo_down():
        return [mcda.standardize(c, "linear", low=0, high=60, increasing=False) for c in raw.values()]

    fns = {"floor": floor, "eicgeo": eicgeo}
    if xrs is not None:
        xrs.setup("standardize", arrays, size=size, seed=0, scale=60.0)
        fns["xrs"] = ("remote", xrs.timer("standardize"))
    t, values = interleaved(fns, repeat=5)
    got, expected = values.pop("eicgeo"), values.pop("floor")
    diff = max(float(np.nanmax(np.abs(g.values - e))) for g, e in zip(got, expected, strict=True))
    same_nan = all(np.array_equal(np.isnan(g.values), np.isnan(e)) for g, e in zip(got, expected, strict=True))
    dtype = str(got[0].dtype)
    first = got[0].values
    got = expected = values = None  # each row times with the same memory held: the inputs and its outputs
    t_down, _ = best_of(eicgeo_down, repeat=5)
    m_floor = traced_peak_mb(lambda: np.clip((arrays[0] - lo) / (hi - lo), 0, 1))
    m_eic = traced_peak_mb(lambda: mcda.standardize(raw["c0"], "linear", low=0, high=60))
    xrs_row = {}
    if xrs is not None:
        xrs_row = vs_xrspatial_values(xrs, t, "standardize1", first, drop="standardize")
    cells = f"6 x {size} x {size} float32"
    return [
        {"case": "floor: np.clip((x - lo) / (hi - lo), 0, 1)", "cells": cells, "seconds": t["floor"], "x floor": 1.0,
         "peak MB": m_floor},
        {"case": "mcda.standardize linear", "cells": cells, "seconds": t["eicgeo"], "x floor": t["eicgeo"] / t["floor"],
         "peak MB": m_eic, "dtype": dtype, "max diff from floor": diff, "NaN kept": same_nan, **xrs_row},
        {"case": "mcda.standardize linear, increasing=False", "cells": cells, "seconds": t_down,
         "x floor": t_down / t["floor"]},
    ]  # fmt: skip


def bench_wlc(xrs: XarraySpatial | None, size: int = 4000) -> list[dict]:
    crit = criteria(size)
    weights = {k: float(i + 1) for i, k in enumerate(crit)}
    w = mcda.normalize_weights(weights)
    arrays = [np.asarray(c.values) for c in crit.values()]
    stack = np.stack(arrays)
    dst = np.empty_like(stack)
    t_copy, _ = best_of(lambda: np.copyto(dst, stack), repeat=7)
    dst = stack = None  # 768 MB back before the WLC rows
    out = mcda.combine(crit, weights)
    # The result is dropped at once so that no repeat pays for two 64 MB outputs alive together.
    fns = {"eicgeo": lambda: mcda.combine(crit, weights) is None}
    if xrs is not None:
        xrs.setup("wlc", arrays, size=size, seed=0, weights={k: float(v) for k, v in w.items()})
        fns["xrs"] = ("remote", xrs.timer("wlc"))
    t, _ = interleaved(fns, repeat=7)
    # Like np.copyto, into an existing array: the combination itself, without the page faults.
    buffer = np.empty((size, size), dtype=np.float32)
    t_wlc_out, _ = best_of(lambda: mcda.combine(crit, weights, out=buffer) is None, repeat=7)

    def plain():
        return np.clip(sum(np.float32(w[k]) * a for k, a in zip(crit, arrays, strict=True)), 0, 1)

    t_plain, expected = best_of(plain, repeat=3)
    np.testing.assert_allclose(out.values, expected, rtol=1e-5)
    m_wlc = traced_peak_mb(lambda: mcda.combine(crit, weights))
    xrs_row = {}
    if xrs is not None:
        xrs_row = vs_xrspatial_values(xrs, t, "wlc", out.values, drop="wlc")
    cells = f"6 x {size} x {size}"
    return [
        {"case": "memory pass: np.copyto of the stack", "cells": cells, "seconds": t_copy, "x memory pass": 1.0},
        {"case": "mcda.combine wlc, new output", "cells": cells, "seconds": t["eicgeo"],
         "x memory pass": t["eicgeo"] / t_copy, "peak MB": m_wlc, "dtype": str(out.dtype), **xrs_row},
        {"case": "mcda.combine wlc, out= buffer", "cells": cells, "seconds": t_wlc_out,
         "x memory pass": t_wlc_out / t_copy},
        {"case": "numpy sum(w * c)", "cells": cells, "seconds": t_plain, "x memory pass": t_plain / t_copy},
    ]  # fmt: skip


def bench_monte_carlo(xrs: XarraySpatial | None, size: int = 1000, n: int = 100) -> list[dict]:
    crit = criteria(size, seed=1)
    weights = {k: 1.0 for k in crit}
    stack = np.stack([np.asarray(c.values) for c in crit.values()]).reshape(len(crit), -1)

    def floor():
        draws = mcda.sample_weights(weights, n, concentration=50.0, seed=0).to_numpy(dtype=np.float32)
        s = np.empty(stack.shape[1], dtype=np.float32)
        total = np.zeros_like(s)
        squares = np.zeros_like(s)
        with threadpool_limits(limits=1, user_api="blas"):
            for w in draws:
                np.dot(w, stack, out=s)
                total += s
                s *= s
                squares += s
        mean = total / np.float32(n)
        std = np.sqrt(np.maximum(squares / np.float32(n) - mean * mean, 0))
        return mean, std

    def run():
        return mcda.monte_carlo(crit, weights, n=n, concentration=50.0, seed=0)

    fns = {"floor": floor, "eicgeo": run}
    if xrs is not None:
        xrs.setup("monte_carlo", [c.values for c in crit.values()], size=size, seed=1, n=n)
        fns["xrs"] = ("remote", xrs.timer("monte_carlo"))
    t, values = interleaved(fns, repeat=5)
    (mean, _), ds = values.pop("floor"), values.pop("eicgeo")
    np.testing.assert_allclose(ds["mean"].values.ravel(), mean, rtol=1e-4)

    def in_memory():
        draws = mcda.sample_weights(weights, n, concentration=50.0, seed=0).to_numpy(dtype=np.float32)
        valid = ~np.isnan(stack).any(axis=0)
        s = draws @ stack[:, valid]
        return valid, (s >= np.quantile(s, 0.9, axis=1)[:, None]).mean(axis=0)

    t_mem, (valid, p) = best_of(in_memory, repeat=1)
    # Both select each draw's top 10 % exactly; cells can differ only where BLAS rounds a draw's
    # value differently for a block than for the whole grid, right at the threshold.
    diff = np.abs(ds["p_top"].values.ravel()[valid] - p.astype(np.float32))
    agree = {"cells with another p_top": f"{int((diff > 0).sum())} of {diff.size}", "max p_top diff": float(diff.max())}
    cv = float(np.nanmedian(ds["std"].values / ds["mean"].values))
    dtype = str(ds["mean"].dtype)
    del ds, values
    m_floor = traced_peak_mb(floor)
    m_mc = traced_peak_mb(run)
    m_mem = traced_peak_mb(in_memory)
    xrs_row = {}
    if xrs is not None:
        peak = xrs.ask(op="peak", case="monte_carlo")
        with tempfile.TemporaryDirectory() as tmp:
            xrs.ask(op="save", case="monte_carlo", path=f"{tmp}/cv.npy")
            theirs = np.load(f"{tmp}/cv.npy")
        xrs.ask(op="drop", case="monte_carlo")
        # Their draws are another sample, with alpha 5 per criterion instead of eicgeo's 8.3.
        xrs_row = {**vs_xrspatial(t["xrs"], t["eicgeo"], peak["dtype"], peak["peak MB"]),
                   "median CV eicgeo / xrs": f"{cv:.4f} / {float(np.nanmedian(theirs)):.4f}"}  # fmt: skip
    cells = f"6 x {size} x {size}, n={n}"
    return [
        {"case": "floor: n x (gemv + sum, sumsq)", "cells": cells, "seconds": t["floor"], "x floor": 1.0,
         "peak MB": m_floor},
        {"case": "mcda.monte_carlo (mean, std, p_top)", "cells": cells, "seconds": t["eicgeo"],
         "x floor": t["eicgeo"] / t["floor"], "peak MB": m_mc, "dtype": dtype, **xrs_row, **agree},
        {"case": "in memory + np.quantile per draw", "cells": cells, "seconds": t_mem, "x floor": t_mem / t["floor"],
         "peak MB": m_mem},
    ]  # fmt: skip


def build_memory_child(size: int = 4000) -> dict:
    """In this (fresh) process: peak memory of criteria.build + mcda.combine on size x size."""
    from eicgeo import criteria as crit
    from eicgeo.legends import ROLE_CODE
    from eicgeo.settings import Criterion

    raw = criteria(size, k=6, seed=3, scale=60.0)
    grid = Grid.from_dataarray(raw["c0"])
    roles = np.full((size, size), ROLE_CODE["cropland"], dtype=np.uint8)
    roles[::7, ::5] = ROLE_CODE["forest"]
    roles[-size // 40 :, :] = ROLE_CODE["nodata"]
    fringe = np.full((size, size), 2, dtype=np.uint8)
    allowed = np.ones((size, size), dtype=bool)
    allowed[: size // 10] = False
    ctx = crit.Context(
        grid=grid,
        roles=grid.wrap(roles, "roles"),
        fringe=grid.wrap(fringe, "fringe"),
        rasters=raw,
        reference=grid.wrap(allowed, "allowed"),
    )
    criteria_ = {"landcover": Criterion(weight=1.0)}
    criteria_.update({k: Criterion(weight=1.0, fn="linear", low=0, high="p95", increasing=False) for k in raw})
    weights = {k: c.weight for k, c in criteria_.items()}
    inputs_mb = sum(v.nbytes for v in raw.values()) / 1e6

    def status_kb(key: str) -> int:
        line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(key + ":"))
        return int(line.split()[1]) * 1024

    # The peak RSS (VmHWM) from here on: "5" resets it to the current RSS. (ru_maxrss would not
    # do: Linux keeps it across exec, from the forked parent.)
    Path("/proc/self/clear_refs").write_text("5")
    rss0 = status_kb("VmRSS")
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    built = crit.build(criteria_, weights, ctx)
    suitability = mcda.combine(built.standard, built.weights)
    _, peak = tracemalloc.get_traced_memory()
    kept, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_peak = status_kb("VmHWM")
    assert suitability.dtype == np.float32
    return {
        "inputs MB": inputs_mb,
        "peak MB": (peak - base) / 1e6,
        "kept MB": (kept - base) / 1e6,
        "RSS growth MB": (rss_peak - rss0) / 1e6,
        "float64 layers": sorted(k for k, v in {**built.raw, **built.standard}.items() if v.dtype == np.float64),
    }


def bench_build_memory(size: int = 4000) -> list[dict]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory", str(size)], capture_output=True, text=True, check=True
    ).stdout
    row = json.loads(out.strip().splitlines()[-1])
    return [
        {"case": "criteria.build + combine (subprocess)", "cells": f"7 criteria x {size} x {size}",
         **{k: v for k, v in row.items() if k != "float64 layers"},
         "float64 layers": ", ".join(row["float64 layers"]) or "none"},
    ]  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--memory":
        print(json.dumps(build_memory_child(int(sys.argv[2]) if len(sys.argv) > 2 else 4000)))
        sys.exit(0)
    only = set(sys.argv[1:])
    xrs = XarraySpatial.start() if not only or only & {"standardize", "monte_carlo", "wlc"} else None
    rows = []
    try:
        for name, bench in (
            ("standardize", bench_standardize),
            ("monte_carlo", bench_monte_carlo),
            ("wlc", bench_wlc),
        ):
            if not only or name in only:
                rows += bench(xrs)
    finally:
        if xrs is not None:
            xrs.close()
    if not only or "memory" in only:
        rows += bench_build_memory()
    report(
        "mcda",
        rows,
        xarray_spatial=xrs.versions if xrs is not None else "not measured (no venv): floors only",
        targets=(
            "standardize and monte_carlo at least as fast as xarray-spatial's mcda (ratio xrs/eicgeo >= 1), "
            "float32 kept; wlc <= 2x memory pass"
        ),
    )
