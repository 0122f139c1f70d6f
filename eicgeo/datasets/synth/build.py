"""Build a region: every stage, in the order that fixes the random stream, and its files.

All stages draw from one ``numpy.random.Generator`` and one :class:`~.names.Namer` (which draws
from the same generator and remembers the names used), so their order here is part of the seeded
output: moving a stage, or adding a draw to one, changes every file written after it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eicgeo.datasets.synth.economy import firms_table, place_firms, raw_material_sources
from eicgeo.datasets.synth.frame import region_frame
from eicgeo.datasets.synth.land import landcover, population
from eicgeo.datasets.synth.names import Namer
from eicgeo.datasets.synth.plan import (
    lay_out,
    place_estates,
    place_housing,
    place_quarries,
    place_villages,
    place_water_bodies,
)
from eicgeo.datasets.synth.roads import road_network
from eicgeo.datasets.synth.writing import (
    write_firms,
    write_landcover,
    write_osm,
    write_population,
    write_scenario,
    write_sources,
)

__all__ = ["build"]


def build(folder: Path, size: str, seed: int) -> None:
    """Generate every layer of the region of ``size`` and ``seed`` into ``folder``.

    Parameters
    ----------
    folder
        An existing, empty folder (the staging folder of :func:`eicgeo.io.output_folder`).
    size
        ``"S"``, ``"M"`` or ``"L"`` (checked by the caller).
    seed
        Seed of ``numpy.random.default_rng``.
    """
    rng = np.random.default_rng(seed)
    frame = region_frame(size)
    namer = Namer(rng)
    plan = lay_out(rng, frame, namer)
    place_water_bodies(rng, plan, namer)
    place_estates(rng, plan, namer)
    place_quarries(rng, plan, namer)
    place_villages(rng, plan, namer)
    place_housing(rng, plan, namer)
    tags = {
        "generator": "eicgeo synth",
        "size": size,
        "seed": str(seed),
        "region": f"{plan.city.name} (fictional)",
    }
    land = landcover(rng, plan)
    write_landcover(folder / "landcover.tif", frame, land.lc, tags)
    pop, planned = population(rng, plan, land)
    write_population(folder / "population.tif", frame, pop, planned, tags)
    del pop  # the L region's rasters are large: free each layer once written
    nodes, ways = road_network(rng, plan, land, namer)
    write_osm(folder / "roads.osm.bz2", frame, nodes, ways, [*plan.settlements, *plan.villages])
    del nodes, ways
    sources = raw_material_sources(rng, plan, land, namer)
    write_sources(folder / "sources.gpkg", frame, sources)
    firms = place_firms(rng, plan, land, sources, namer)
    write_firms(folder / "firms.csv", firms_table(frame, firms, rng, namer))
    write_scenario(folder / "scenario.toml", plan, size, seed)
