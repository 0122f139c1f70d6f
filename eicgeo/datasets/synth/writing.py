"""Writing the region's files: GeoTIFF rasters, OSM XML, GeoPackage, CSV and ``scenario.toml``.

Every writer is deterministic (no time stamps, fixed compression settings), so the same seed gives
byte-identical files.
"""

from __future__ import annotations

import bz2
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio

from eicgeo.datasets.synth.frame import LC_RES, POP_RES, Frame
from eicgeo.datasets.synth.plan import Plan, Settlement
from eicgeo.datasets.synth.tables import read_text

__all__ = [
    "write_firms",
    "write_landcover",
    "write_osm",
    "write_population",
    "write_scenario",
    "write_sources",
]

# ESA WorldCover 2021 legend colours, written as the land-cover colour map.
_WORLDCOVER_COLORS = {
    10: (0, 100, 0),
    20: (255, 187, 34),
    30: (255, 255, 76),
    40: (240, 150, 255),
    50: (250, 0, 0),
    60: (180, 180, 180),
    70: (240, 240, 240),
    80: (0, 100, 200),
    90: (0, 150, 160),
    95: (0, 207, 117),
    100: (250, 230, 160),
}


def _profile(frame: Frame, res: float, dtype: str, nodata: float) -> dict[str, object]:
    """A tiled, deflate-compressed GeoTIFF profile of the ``res``-degree grid."""
    rows, cols = frame.shape(res)
    return {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": 1,
        "dtype": dtype,
        "nodata": nodata,
        "crs": "EPSG:4326",
        "transform": frame.transform(res),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "zlevel": 9,
    }


def write_landcover(path: Path, frame: Frame, lc: np.ndarray, tags: dict[str, str]) -> None:
    """Write the WorldCover class grid as a GeoTIFF with the legend's colour map and ``tags``."""
    with rasterio.open(path, "w", **_profile(frame, LC_RES, "uint8", 0)) as dst:
        dst.write(lc, 1)
        dst.set_band_description(1, "ESA WorldCover class")
        dst.write_colormap(1, {k: (*v, 255) for k, v in _WORLDCOVER_COLORS.items()})
        dst.update_tags(**tags, legend="esa_worldcover")


def write_population(
    path: Path, frame: Frame, pop: np.ndarray, planned: dict[str, float], tags: dict[str, str]
) -> None:
    """Write people per cell as a float32 GeoTIFF, tagged with the planned total of each component."""
    profile = _profile(frame, POP_RES, "float32", -99999.0) | {"predictor": 3}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(pop, 1)
        dst.set_band_description(1, "people per cell")
        dst.update_tags(
            **tags,
            units="people per cell",
            **{f"planned_{k}": f"{v:.0f}" for k, v in planned.items()},
        )


def write_osm(
    path: Path,
    frame: Frame,
    nodes: np.ndarray,
    ways: list[tuple[np.ndarray, dict[str, str]]],
    places: Sequence[Settlement] = (),
) -> None:
    """Stream OSM XML 0.6 into a bz2 file (node ids from 1, version 1, no timestamps).

    The road nodes come first; the ``places`` inside the frame follow them as tagged nodes on no
    way (``place=city|town|village``, ``name``, ``population`` rounded to 10 people), as OSM maps
    settlements."""
    lon, lat = frame.lonlat(nodes[:, 0], nodes[:, 1])
    with bz2.open(path, "wt", encoding="utf-8", compresslevel=9) as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="eicgeo synth">\n')
        f.write(
            f'  <bounds minlat="{frame.south:.7f}" minlon="{frame.west:.7f}" '
            f'maxlat="{frame.north:.7f}" maxlon="{frame.east:.7f}"/>\n'
        )
        for start in range(0, len(nodes), 5000):
            stop = min(start + 5000, len(nodes))
            f.write(
                "".join(
                    f'  <node id="{k + 1}" lat="{lat[k]:.7f}" lon="{lon[k]:.7f}" version="1"/>\n'
                    for k in range(start, stop)
                )
            )
        inside = [p for p in places if frame.inside(p.x, p.y)]
        for k, place in enumerate(inside, start=len(nodes) + 1):
            plon, plat = frame.lonlat(place.x, place.y)
            tags = {"name": place.name, "place": place.kind, "population": f"{round(place.population, -1):.0f}"}
            body = "".join(f"    <tag k={quoteattr(t)} v={quoteattr(v)}/>\n" for t, v in sorted(tags.items()))
            f.write(f'  <node id="{k}" lat="{plat:.7f}" lon="{plon:.7f}" version="1">\n{body}  </node>\n')
        for w, (ids, tags) in enumerate(ways, start=1):
            body = "".join(f'    <nd ref="{k + 1}"/>\n' for k in ids)
            body += "".join(f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>\n" for k, v in sorted(tags.items()))
            f.write(f'  <way id="{w}" version="1">\n{body}  </way>\n')
        f.write("</osm>\n")


def write_sources(path: Path, frame: Frame, sources: gpd.GeoDataFrame) -> None:
    """Write the GeoPackage with a fixed ``last_change`` date, so the file is byte-reproducible."""
    out = sources.set_geometry(frame.to_lonlat(sources.geometry.values), crs="EPSG:4326")
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2026-01-01T00:00:00.000Z"})
    try:
        out.to_file(path, layer="sources", driver="GPKG", engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def write_firms(path: Path, firms: pd.DataFrame) -> None:
    """Write the firm register as CSV with ``\\n`` line ends on every platform."""
    firms.to_csv(path, index=False, lineterminator="\n")


def write_scenario(path: Path, plan: Plan, size: str, seed: int) -> None:
    """Write ``scenario.toml``: the template in ``data/`` and the region's names as comments."""
    region = (
        "\n# [region]  (information only)\n"
        f'# city = "{plan.city.name}"  (fictional, {plan.city.population / 1e6:.2f} M people)\n'
        f"# towns = {', '.join(t.name for t in plan.towns[:5])}\n"
        f'# generated by eicgeo.datasets.synth.generate(size="{size}", seed={seed})\n'
    )
    path.write_text(read_text("scenario_template.toml") + region, encoding="utf-8")
