"""Benchmark of the live weight explorer (``eicgeo.tune``) on the sample region (244 x 243 cells at 100 m).

What it measures: the update after one slider change, as the notebook sees it (recombine the
standardised criteria, apply the exclusions, re-rank the 20 zones with their contributions, draw
the PNG and the table), the median of 9 changes of the market-access weight, under WLC and under
OWA (alpha = 2), with its parts and the peak of memory allocated during one change
(``tracemalloc``). Target: under 1 s.

The alternative a planner would otherwise run, in the same process: ``eicgeo.run`` of the scenario
with the new weights (the median of 3 runs; the road network is then in the process's cache, as
in a notebook after the first run, so the rerun is the fastest it gets), with its peak memory.

The sample region ships with the package; nothing is written to ``bench/data``. Run:
``.venv/bin/python bench/bench_tune.py``.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from _common import report

import eicgeo

CHANGES = (0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6)


def peak_mb(fn: Callable[[], Any]) -> float:
    """Peak memory allocated while ``fn()`` runs, MB (numpy's arrays included)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def bench_slider(tuner: Any, method: str) -> dict:
    tuner.set({k: 0.2 for k in tuner.sliders}, method=method, alpha=2.0 if method == "owa" else None)
    slider = tuner.sliders["market_access"]
    parts: dict[str, list[float]] = {}
    for value in CHANGES:
        slider.value = value
        for key, seconds in tuner.timings.items():
            parts.setdefault(key, []).append(seconds)
    slider.value = 0.2
    mb = peak_mb(lambda: setattr(slider, "value", 0.55))
    median = {k: statistics.median(v) for k, v in parts.items()}
    return {
        "case": f"tuner: one slider change, {method.upper()}{' alpha = 2' if method == 'owa' else ''}",
        "seconds": median["total"],
        "combine s": median["combine"],
        "zones s": median["zones"],
        "draw s": median["draw"],
        "peak MB": mb,
    }


def bench_rerun(result: Any) -> dict:
    scenario = result.scenario.replace(criteria={"market_access": {"weight": 0.5}})
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        eicgeo.run(scenario, progress=False)
        times.append(time.perf_counter() - t0)
    mb = peak_mb(lambda: eicgeo.run(scenario, progress=False))
    return {
        "case": "eicgeo.run with the new weights (network cached)",
        "seconds": statistics.median(times),
        "peak MB": mb,
    }


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")  # the sample's ranking warnings are not what is measured
    result = eicgeo.run(eicgeo.load_sample(), progress=False)
    t0 = time.perf_counter()
    tuner = eicgeo.tune(result)
    build = time.perf_counter() - t0
    rows = [{"case": "eicgeo.tune(result): build the widgets, first draw", "seconds": build}]
    rows += [bench_slider(tuner, "wlc"), bench_slider(tuner, "owa")]
    rerun = bench_rerun(result)
    for row in rows[1:]:
        row["x faster than a rerun"] = rerun["seconds"] / row["seconds"]
    rows.append(rerun)
    shape = result.grid.shape
    report(
        "tune",
        rows,
        region=f"sample, {shape[1]} x {shape[0]} cells at 100 m, {len(result.zones)} zones",
        targets="one slider change < 1 s",
    )
