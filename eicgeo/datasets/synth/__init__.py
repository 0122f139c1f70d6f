"""Seeded generator of a synthetic Southeast-Asian peri-urban sample region.

The region is fictional. It sits in the central Thai lowlands (about 100.45 E, 14.80 N, UTM 47N)
so that projections, cell sizes and the local UTM zone are realistic, but the geography matches no
basemap. It has a primary city (Clark's negative-exponential density), satellite towns on radial
highways, villages in rice land, a meandering river, a floodplain lake, limestone hills with forest
and quarries, industrial estates, raw-material sources and firms that exchange by-products.

Every modelling assumption (densities, tonnages, speeds, proportions) is documented in
``sample_data/README.md``. The layout is planned in kilometres on a local equirectangular frame
centred on the region; rasters and vectors are written in EPSG:4326 like the real products
(ESA WorldCover, WorldPop, OpenStreetMap).

Only the names in ``__all__`` are public. The modules, in the order the generator runs them:

``frame``
    The region's extent, the kilometre frame and its raster grids; smooth random fields.
``names``
    Fictional Thai place and firm names.
``shapes``
    Geometry helpers in the kilometre frame (polylines, generated roads and shapes).
``geography``
    Hills and the river.
``plan``
    The city, towns, highways, lakes, industrial estates, quarries, villages and housing estates.
``land``
    Land cover (ESA WorldCover classes) and population (people per WorldPop cell).
``roads``
    The road network, from motorways to farm tracks.
``economy``
    Raw-material sources, firms and their by-product flows.
``writing``
    The GeoTIFF, OSM XML, GeoPackage, CSV and ``scenario.toml`` writers.
``build``
    Runs every stage in seed order and writes each file.
``tables``
    Reads the data files in ``data/``: name elements (``names.toml``), sector recipes
    (``sectors.toml``), by-product flows (``flows.csv``), biogas yields (``biogas_yield.csv``) and
    the scenario template (``scenario_template.toml``).

Examples
--------
>>> from eicgeo.datasets.synth import generate
>>> path = generate("peri_urban_demo", size="S")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from eicgeo._errors import InputError
from eicgeo.datasets.synth.build import build
from eicgeo.datasets.synth.frame import SIZES

__all__ = ["DEFAULT_SEED", "FILES", "SIZES", "generate"]

#: The seed of the committed sample region.
DEFAULT_SEED = 20261129
#: The files of a generated region (and its ``manifest.json``).
FILES: tuple[str, ...] = (
    "landcover.tif",
    "population.tif",
    "roads.osm.bz2",
    "sources.gpkg",
    "firms.csv",
    "scenario.toml",
)


def generate(
    out: str | os.PathLike[str], *, size: str = "S", seed: int = DEFAULT_SEED, overwrite: bool = False
) -> Path:
    """Generate the synthetic peri-urban sample region into the folder ``out``.

    Parameters
    ----------
    out
        Folder to write: new, empty, or one this generator wrote before (known by its
        ``manifest.json``). It is built in a staging folder and swapped in whole at the end, so
        a failure never leaves a partial region (see :func:`eicgeo.io.output_folder`).
    size
        ``"S"`` (48 km x 48 km, the committed sample, < 8 MB), ``"M"`` (96 km), ``"L"``
        (192 km, for benchmarks; > 200,000 OSM nodes) or ``"XL"`` (384 km, for the scaling
        benchmark; never committed).
    seed
        Seed of ``numpy.random.default_rng``; the same seed and size give identical files.
    overwrite
        Write into a folder that holds other files, beside them (never deleting them).

    Returns
    -------
    pathlib.Path
        The folder, holding ``landcover.tif``, ``population.tif``, ``roads.osm.bz2``,
        ``sources.gpkg``, ``firms.csv``, ``scenario.toml`` and ``manifest.json``.

    Raises
    ------
    InputError
        If ``size`` is not one of "S", "M", "L", "XL", or ``seed`` is not a non-negative integer.
    OutputFolderError
        If ``out`` is an existing file or holds files the generator did not write.
    """
    if not isinstance(size, str) or size not in SIZES:
        msg = f"size must be one of {', '.join(repr(s) for s in SIZES)}; got {size!r}"
        raise InputError(msg)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        msg = f"seed must be a non-negative integer; got {seed!r}"
        raise InputError(msg)
    from eicgeo import __version__, io

    with io.output_folder(out, overwrite=overwrite, names=FILES) as stage:
        build(stage, size, int(seed))
        # Deterministic (no time stamp), so the same seed gives the same folder.
        manifest = {"eicgeo": __version__, "generator": "eicgeo.datasets.synth", "size": size, "seed": int(seed)}
        (stage / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return Path(out)
