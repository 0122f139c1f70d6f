"""MCDA speed: weighted linear combination and Monte Carlo weight uncertainty.

What it measures, each against the obvious alternative in the same run:

* ``mcda.combine`` (WLC) of 6 float32 criteria on a 4,000 x 4,000 grid, against one memory pass
  over the same arrays (``np.copyto`` of the 6-layer stack into another buffer) and against the
  plain numpy expression ``sum(w_i * c_i)``. Target: WLC within 2x the memory pass. Unlike
  ``np.copyto``, ``combine`` returns a new 64 MB array whose pages the OS must fault in; on a
  shared VM that alone varies from a few ms (huge pages) to over 0.1 s (4 KB pages), so the
  like-for-like row writes into an existing array (``out=``), as ``np.copyto`` does.
* ``mcda.monte_carlo`` with n = 100 weight draws of 6 criteria on 1,000 x 1,000, against the
  in-memory way (all 100 suitability maps at once, ``numpy.quantile`` per draw), which needs
  n x cells values of memory. Target: under 15 s on 2 cores; p_top as the in-memory way (up to
  float32 rounding of a draw's values right at its threshold).

The criteria are generated (seeded uniform 0..1 with a NaN patch) in memory; nothing is written
to ``bench/data``. Run: ``.venv/bin/python bench/bench_mcda.py``.
"""

from __future__ import annotations

import numpy as np
from _common import best_of, report
from affine import Affine

from eicgeo import mcda
from eicgeo.grid import Grid


def criteria(size: int, k: int = 6, seed: int = 0) -> dict:
    grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, size * 100), (size, size))
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(k):
        data = rng.random((size, size), dtype=np.float32)
        data[: size // 50, : size // 50] = np.nan  # nodata corner
        out[f"c{i}"] = grid.wrap(data, f"c{i}")
    return out


def bench_wlc(size: int = 4000) -> list[dict]:
    crit = criteria(size)
    weights = {k: float(i + 1) for i, k in enumerate(crit)}
    w = mcda.normalize_weights(weights)
    arrays = [np.asarray(c.values) for c in crit.values()]
    stack = np.stack(arrays)
    dst = np.empty_like(stack)
    t_copy, _ = best_of(lambda: np.copyto(dst, stack), repeat=7)
    out = mcda.combine(crit, weights)
    # The result is dropped at once so that no repeat pays for two 64 MB outputs alive together.
    t_wlc, _ = best_of(lambda: mcda.combine(crit, weights) is None, repeat=7)
    # Like np.copyto, into an existing array: the combination itself, without the page faults.
    buffer = np.empty((size, size), dtype=np.float32)
    t_wlc_out, _ = best_of(lambda: mcda.combine(crit, weights, out=buffer) is None, repeat=7)

    def plain():
        return np.clip(sum(np.float32(w[k]) * a for k, a in zip(crit, arrays, strict=True)), 0, 1)

    t_plain, expected = best_of(plain, repeat=3)
    np.testing.assert_allclose(out.values, expected, rtol=1e-5)
    cells = f"6 x {size} x {size}"
    return [
        {"case": "memory pass: np.copyto of the stack", "cells": cells, "seconds": t_copy, "x memory pass": 1.0},
        {"case": "mcda.combine wlc, new output", "cells": cells, "seconds": t_wlc, "x memory pass": t_wlc / t_copy},
        {
            "case": "mcda.combine wlc, out= buffer",
            "cells": cells,
            "seconds": t_wlc_out,
            "x memory pass": t_wlc_out / t_copy,
        },
        {"case": "numpy sum(w * c)", "cells": cells, "seconds": t_plain, "x memory pass": t_plain / t_copy},
    ]


def bench_monte_carlo(size: int = 1000, n: int = 100) -> list[dict]:
    crit = criteria(size, seed=1)
    weights = {k: 1.0 for k in crit}
    t_mc, ds = best_of(lambda: mcda.monte_carlo(crit, weights, n=n, concentration=50.0, seed=0), repeat=2)

    def in_memory():
        draws = mcda.sample_weights(weights, n, concentration=50.0, seed=0).to_numpy(dtype=np.float32)
        stack = np.stack([np.asarray(c.values) for c in crit.values()])
        valid = ~np.isnan(stack).any(axis=0)
        s = draws @ stack[:, valid]
        return valid, (s >= np.quantile(s, 0.9, axis=1)[:, None]).mean(axis=0)

    t_mem, (valid, p) = best_of(in_memory, repeat=1)
    # Both select each draw's top 10 % exactly; cells can differ only where BLAS rounds a draw's
    # value differently for a block than for the whole grid, right at the threshold.
    diff = np.abs(ds["p_top"].values[valid] - p.astype(np.float32))
    agree = {"cells with another p_top": f"{int((diff > 0).sum())} of {diff.size}", "max p_top diff": float(diff.max())}
    cells = f"6 x {size} x {size}, n={n}"
    return [
        {"case": "mcda.monte_carlo (3 block passes)", "cells": cells, "seconds": t_mc, **agree},
        {"case": "in memory + np.quantile per draw", "cells": cells, "seconds": t_mem},
    ]


if __name__ == "__main__":
    rows = bench_wlc() + bench_monte_carlo()
    report("mcda", rows, targets="wlc <= 2x memory pass; monte_carlo n=100 on 1000x1000 < 15 s")
