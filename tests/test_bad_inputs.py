"""A catalogue of bad inputs, each made from the sample region: every one gets exactly one
``eicgeo: error:`` line naming the file or key, what is wrong and what was expected; exit code 1
(2 for usage errors); no traceback; and the output folder is not created. The Python API raises
eicgeo's own errors for the same inputs. Legitimate warnings name their input and the run says
what was dropped.

Each case is ``(id, make, expected)``: ``make(case)`` writes the bad input into the case's folder
and returns the command line (after ``eicgeo``); ``expected`` are pieces of the one error line.
"""

from __future__ import annotations

import bz2
import json
import re
import shutil
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from shapely.geometry import LineString, Point

import eicgeo
from eicgeo._errors import CoverageWarning, EicgeoError, EicgeoWarning
from eicgeo.cli import INTERNAL_ERROR, main

DATA = Path(__file__).resolve().parent / "data"


# --------------------------------------------------------------------------------------------
# a small project made from the sample region
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base(tmp_path_factory, sample_dir) -> Path:
    """The sample inputs, shared read-only by the cases."""
    folder = tmp_path_factory.mktemp("base")
    for name in ("landcover.tif", "population.tif", "roads.osm.bz2", "sources.gpkg", "firms.csv"):
        shutil.copy(sample_dir / name, folder / name)
    return folder


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def to_toml(data: dict) -> str:
    """A small TOML writer: scalars first, then one table per nested dict (dotted names)."""
    lines: list[str] = []

    def table(prefix: str, body: dict) -> None:
        scalars = {k: v for k, v in body.items() if not isinstance(v, dict)}
        if prefix and scalars:
            lines.append(f"[{prefix}]")
        lines.extend(f"{json.dumps(k) if ':' in k else k} = {_toml_value(v)}" for k, v in scalars.items())
        for k, v in body.items():
            if isinstance(v, dict):
                name = json.dumps(k) if ":" in k else k
                table(f"{prefix}.{name}" if prefix else name, v)

    table("", data)
    return "\n".join(lines) + "\n"


@dataclass
class Case:
    """One case's folder: ``inputs`` are the shared sample inputs, ``folder`` the case's own."""

    folder: Path
    base: Path

    @property
    def out(self) -> Path:
        return self.folder / "out"

    def scenario(self, *, with_roads: bool = False, **sections) -> dict:
        inputs = {k: str(self.base / f) for k, f in (("landcover", "landcover.tif"), ("population", "population.tif"))}
        inputs.update(sources=str(self.base / "sources.gpkg"), firms=str(self.base / "firms.csv"))
        if with_roads:
            inputs["roads"] = str(self.base / "roads.osm.bz2")
        data = {"name": "case", "grid": {"resolution": 1000}, "inputs": inputs, "zones": {"n": 3, "stability_runs": 5}}
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        data["inputs"] = {k: v for k, v in data["inputs"].items() if v is not None}
        return data

    def run(self, data: dict | None = None, *extra: str, **sections) -> list[str]:
        """Write the scenario (``data`` or one made from ``sections``) and return its command line."""
        path = self.folder / "scenario.toml"
        path.write_text(to_toml(data if data is not None else self.scenario(**sections)))
        return ["run", str(path), "--out", str(self.out), "--quiet", *extra]

    def file(self, name: str, content: bytes | str) -> Path:
        path = self.folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def raster(self, name: str, values: np.ndarray, *, like: str = "landcover.tif", crs=..., **profile) -> Path:
        """A GeoTIFF on the footprint of a sample raster (or ``crs=None`` for none)."""
        with rasterio.open(self.base / like) as src:
            bounds, src_crs = src.bounds, src.crs
        rows, cols = values.shape
        meta = {
            "driver": "GTiff",
            "height": rows,
            "width": cols,
            "count": 1,
            "dtype": values.dtype,
            "transform": rasterio.transform.from_bounds(*bounds, cols, rows),
            **profile,
        }
        if crs is not ...:
            meta["crs"] = crs
        else:
            meta["crs"] = src_crs
        path = self.folder / name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rasterio's NotGeoreferencedWarning, on purpose
            with rasterio.open(path, "w", **meta) as dst:
                dst.write(values, 1)
        return path

    def firms(self, text: str, name: str = "firms.csv") -> Path:
        return self.file(name, textwrap.dedent(text).lstrip())


# a few firms inside the sample region, for the register cases
HEADER = "firm_id,name,sector,lon,lat,inputs,outputs\n"
GOOD_ROWS = "F1,Plant,coal_power,100.45,14.80,,fly_ash:1000\nF2,Kiln,cement,100.46,14.81,fly_ash:500,\n"


def _lines_layer(case: Case, name: str, *, crs="EPSG:4326", highway=True, where=(100.40, 14.78)) -> Path:
    x, y = where
    lines = [LineString([(x, y), (x + 0.05, y)]), LineString([(x + 0.05, y), (x + 0.05, y + 0.05)])]
    frame = gpd.GeoDataFrame({"highway": ["primary", "secondary"]} if highway else {"name": ["a", "b"]}, geometry=lines)
    if crs is not None:
        frame = frame.set_crs(crs)
    path = case.folder / name
    if name.endswith(".geojson"):
        path.write_text(frame.to_json())
    else:
        frame.to_file(path)
    return path


def _sources(case: Case, name: str, **columns) -> Path:
    frame = gpd.GeoDataFrame(columns, geometry=[Point(100.45, 14.80)] * len(next(iter(columns.values()))))
    frame = frame.set_crs("EPSG:4326")
    frame.to_file(case.folder / name)
    return case.folder / name


# --------------------------------------------------------------------------------------------
# the catalogue
# --------------------------------------------------------------------------------------------
Make = Callable[[Case], list[str]]
CASES: list[tuple[str, Make, tuple[str, ...]]] = []


def case(id: str, *expected: str):
    def register(make: Make) -> Make:
        CASES.append((id, make, expected))
        return make

    return register


# ---- the scenario file ---------------------------------------------------------------------
case("scenario-missing", "scenario: file", "nothere.toml' does not exist")(
    lambda c: ["run", str(c.folder / "nothere.toml"), "--out", str(c.out)]
)
case("scenario-bad-toml", "scenario.toml", "not valid TOML")(
    lambda c: (
        c.file("scenario.toml", "name = \n[grid\n"),
        ["run", str(c.folder / "scenario.toml"), "--out", str(c.out)],
    )[1]
)
case("scenario-not-utf8", "scenario.toml", "UTF-8")(
    lambda c: (
        c.file("scenario.toml", b"name = '\xff\xfe'\n"),
        ["run", str(c.folder / "scenario.toml"), "--out", str(c.out)],
    )[1]
)
case("scenario-unknown-top-key", "nmae: unknown key (did you mean 'name'")(
    lambda c: c.run({**c.scenario(), "nmae": "x"})
)
case("scenario-unknown-section-key", "zones.min_spacing: unknown key (did you mean 'min_spacing_km'")(
    lambda c: c.run(zones={"min_spacing": 2})
)
case("scenario-resolution-text", "grid.resolution: expected a number, got '100 m'")(
    lambda c: c.run(grid={"resolution": "100 m"})
)
case("scenario-resolution-negative", "grid.resolution: expected a number > 0 (m), got -5")(
    lambda c: c.run(grid={"resolution": -5})
)
case("scenario-geographic-crs", "grid.crs: 'EPSG:4326' is geographic; expected a projected CRS")(
    lambda c: c.run(grid={"crs": "EPSG:4326"})
)
case("scenario-bad-crs", "grid.crs: cannot parse CRS 'EPSG:999999'")(lambda c: c.run(grid={"crs": "EPSG:999999"}))
case("scenario-bounds-order", "grid.bounds: expected [xmin, ymin, xmax, ymax] with xmin < xmax")(
    lambda c: c.run(grid={"bounds": [100.6, 14.6, 100.3, 14.9]})
)
case("scenario-bounds-length", "grid.bounds", "4 values")(lambda c: c.run(grid={"bounds": [100.3, 14.6, 100.6]}))
case("scenario-no-landcover", "inputs.landcover: missing; a land-cover raster is required")(
    lambda c: c.run({"name": "x", "grid": {"resolution": 1000}})
)
case("scenario-landcover-missing-file", "inputs.landcover: file", "nope.tif' does not exist")(
    lambda c: c.run(inputs={"landcover": str(c.folder / "nope.tif")})
)
case("scenario-unknown-preset", "preset: unknown preset 'industriel'", "did you mean 'industrial'")(
    lambda c: c.run({**c.scenario(), "preset": "industriel"})
)
case("scenario-unknown-criterion", "criteria.road_acess: unknown criterion (did you mean 'road_access'")(
    lambda c: c.run(criteria={"road_acess": {"weight": 1}})
)
case("scenario-negative-weight", "criteria.landcover.weight: expected a number >= 0, got -1")(
    lambda c: c.run(criteria={"landcover": {"weight": -1}})
)
case("scenario-unknown-fn", "criteria.market_access.fn: expected one of", "did you mean 'linear'")(
    lambda c: c.run(criteria={"market_access": {"fn": "linaer"}})
)
case("scenario-low-high-without-fn", "criteria.labour_access: linear parameters out of order: low=30")(
    lambda c: c.run(criteria={"labour_access": {"weight": 0.2, "low": 30, "high": 10}})
)
case("scenario-param-of-another-fn", "criteria.road_access: linear takes no parameter 'midpoint'")(
    lambda c: c.run(criteria={"road_access": {"midpoint": 10}})
)
case("scenario-user-raster-without-fn", "criteria.slope.fn: a user raster criterion needs fn")(
    lambda c: c.run(criteria={"slope": {"raster": str(c.base / "landcover.tif"), "weight": 0.1}})
)
case("scenario-user-raster-missing", "criteria.slope.raster: file", "slope.tif' does not exist")(
    lambda c: c.run(
        criteria={"slope": {"raster": str(c.folder / "slope.tif"), "weight": 0.1, "fn": "linear", "low": 0, "high": 9}}
    )
)
case("scenario-ahp-inconsistent", "mcda.ahp.matrix: consistency ratio", "exceeds 0.10")(
    lambda c: c.run(
        mcda={
            "ahp": {
                "labels": ["landcover", "road_access", "market_access"],
                "matrix": [[1, 9, 0.2], [0.1111111111, 1, 9], [5, 0.1111111111, 1]],
            }
        }
    )
)
case("scenario-ahp-unknown-label", "mcda.ahp.labels: criterion 'slope' is not defined")(
    lambda c: c.run(mcda={"ahp": {"labels": ["landcover", "slope"], "matrix": [[1, 2], [0.5, 1]]}})
)
case("scenario-owa-order-weights", "mcda.order_weights: expected 5 numbers >= 0")(
    lambda c: c.run(mcda={"method": "owa", "order_weights": [1, 0]})
)
case("scenario-no-weight", "criteria: no criterion has a weight > 0")(
    lambda c: c.run(
        criteria={
            k: {"weight": 0} for k in ("landcover", "road_access", "market_access", "material_access", "equal_access")
        }
    )
)
case("scenario-zone-areas", "zones.max_area_ha: expected a number >= zones.min_area_ha (100), got 80")(
    lambda c: c.run(zones={"min_area_ha": 100, "max_area_ha": 80})
)
case("scenario-quantile", "zones.quantile: expected a number in [0, 1), got 1.5")(
    lambda c: c.run(zones={"quantile": 1.5})
)
case("scenario-score-indicator", "zones.score_weights.suitabilty: unknown indicator", "did you mean 'suitability'")(
    lambda c: c.run(zones={"score_weights": {"suitabilty": 1}})
)
case("scenario-slope-without-dem", "constraints.slope_max_deg: needs inputs.dem")(
    lambda c: c.run(constraints={"slope_max_deg": 15})
)
case("scenario-constraint-extension", "constraints.layers[0].path", "is neither a raster")(
    lambda c: c.run(constraints={"layers": [{"path": str(c.file("flood.txt", "x")), "reason": "flood"}]})
)
case("scenario-constraint-reason", "constraints.layers[0].reason: missing")(
    lambda c: c.run(constraints={"layers": [{"path": str(c.base / "sources.gpkg")}]})
)
case("scenario-exclude-role", "constraints.exclude_roles: unknown role 'forests' (did you mean 'forest'")(
    lambda c: c.run(constraints={"exclude_roles": ["water", "forests"]})
)
case("scenario-main-roads", "roads.main_roads: unknown highway class 'trunc' (did you mean 'trunk'")(
    lambda c: c.run(roads={"main_roads": ["motorway", "trunc"]})
)
case("scenario-negative-speed", "roads.speeds.primary: expected a number > 0 (km/h), got -5")(
    lambda c: c.run(roads={"speeds": {"primary": -5}})
)
case("scenario-material-kind", "symbiosis.kinds: unknown material kind 'energie'")(
    lambda c: c.run(symbiosis={"kinds": ["byproduct", "energie"]})
)
case("scenario-co2-material", "symbiosis.co2_factors.flyash: unknown material (did you mean 'fly_ash'")(
    lambda c: c.run(symbiosis={"co2_factors": {"flyash": 0.3}})
)
case("scenario-degurba-rule", "fringe.rules.centre_densty: unknown rule (did you mean 'centre_density'")(
    lambda c: c.run(fringe={"rules": {"centre_densty": 1000}})
)
case("scenario-degurba-without-population", "fringe.method: 'degurba' needs inputs.population")(
    lambda c: c.run(fringe={"method": "degurba"}, inputs={"population": None})
)
case("scenario-materials-table", "inputs.materials", "row 2: kind 'bypoduct' is not one of")(
    lambda c: c.run(inputs={"materials": str(c.file("m.csv", "name,kind\ncoffee_grounds,bypoduct\n"))})
)
case("scenario-legend-csv-role", "inputs.legend", "role 'buildings'")(
    lambda c: c.run(
        inputs={"legend": str(c.file("legend.csv", "code,name,role\n10,trees,forest\n50,town,buildings\n"))}
    )
)
case("scenario-legend-unknown", "inputs.legend", "'worldcoverr'")(lambda c: c.run(inputs={"legend": "worldcoverr"}))


# ---- the land cover ------------------------------------------------------------------------
case("landcover-truncated", "landcover", "bad.tif", "cannot be read as a raster")(
    lambda c: c.run(inputs={"landcover": str(c.file("bad.tif", (c.base / "landcover.tif").read_bytes()[:3000]))})
)
case("landcover-not-a-raster", "landcover", "bad.tif", "cannot be read as a raster")(
    lambda c: c.run(inputs={"landcover": str(c.file("bad.tif", "not a raster at all\n"))})
)
case("landcover-no-crs", "landcover", "lc.tif", "has no CRS")(
    lambda c: c.run(inputs={"landcover": str(c.raster("lc.tif", np.full((50, 50), 40, "uint8"), crs=None))})
)
case("landcover-wrong-crs-label", "landcover", "lc.tif", "EPSG:4326", "longitude")(
    lambda c: c.run(inputs={"landcover": str(_metres_labelled_degrees(c))})
)
case("landcover-float-codes", "landcover", "lc.tif", "10.4", "expected integer class codes")(
    lambda c: c.run(inputs={"landcover": str(c.raster("lc.tif", np.full((50, 50), 10.4, "float32")))})
)
case("landcover-all-nodata", "landcover", "lc.tif", "no data over the study area")(
    lambda c: c.run(inputs={"landcover": str(c.raster("lc.tif", np.zeros((50, 50), "uint8"), nodata=0))})
)
case("landcover-codes-not-in-legend", "landcover", "lc.tif", "class codes [77]", "esa_worldcover")(
    lambda c: c.run(inputs={"landcover": str(c.raster("lc.tif", np.full((50, 50), 77, "uint8")))})
)
case("landcover-negative-codes", "landcover", "lc.tif", "-5", "expected class codes")(
    lambda c: c.run(inputs={"landcover": str(c.raster("lc.tif", np.full((50, 50), -5, "int16")))})
)
case("landcover-one-cell", "study area", "1 x 1 cells", "zones.min_area_ha")(
    lambda c: c.run(grid={"resolution": 100, "bounds": [100.45, 14.80, 100.4505, 14.8005], "bounds_crs": "EPSG:4326"})
)
case("landcover-extension", "landcover", "lc.png", "unsupported extension")(
    lambda c: c.run(inputs={"landcover": str(c.file("lc.png", b"\x89PNG"))})
)
case("landcover-is-a-folder", "inputs.landcover", "lc.tif' is a folder; expected a file")(
    lambda c: ((c.folder / "lc.tif").mkdir(), c.run(inputs={"landcover": str(c.folder / "lc.tif")}))[1]
)
case("landcover-bounds-outside", "landcover", "does not overlap the analysis grid (EPSG:32632, x 584,000..611,000")(
    lambda c: c.run(grid={"bounds": [10.0, 40.0, 10.3, 40.3], "bounds_crs": "EPSG:4326"})
)


def _metres_labelled_degrees(c: Case) -> Path:
    """The land cover's pixels with a UTM transform, but labelled EPSG:4326."""
    values = np.full((50, 50), 40, "uint8")
    path = c.folder / "lc.tif"
    meta = {
        "driver": "GTiff",
        "height": 50,
        "width": 50,
        "count": 1,
        "dtype": "uint8",
        "crs": "EPSG:4326",
        "transform": rasterio.transform.from_bounds(655797, 1630000, 660797, 1635000, 50, 50),
    }
    with rasterio.open(path, "w", **meta) as dst:
        dst.write(values, 1)
    return path


# ---- population ----------------------------------------------------------------------------
case("population-all-nan", "population", "pop.tif", "no data over the study area")(
    lambda c: c.run(
        inputs={"population": str(c.raster("pop.tif", np.full((40, 40), np.nan, "float32"), like="population.tif"))}
    )
)
case("population-negative", "population", "pop.tif", "negative values", "expected people")(
    lambda c: c.run(
        inputs={"population": str(c.raster("pop.tif", np.full((40, 40), -3, "float32"), like="population.tif"))}
    )
)
case("population-no-crs", "population", "pop.tif", "has no CRS")(
    lambda c: c.run(
        inputs={"population": str(c.raster("pop.tif", np.ones((40, 40), "float32"), like="population.tif", crs=None))}
    )
)
case("population-elsewhere", "population", "pop.tif", "does not overlap")(
    lambda c: c.run(inputs={"population": str(_elsewhere(c, "pop.tif", np.ones((40, 40), "float32")))})
)
case("population-corrupt", "population", "pop.tif", "cannot be read as a raster")(
    lambda c: c.run(inputs={"population": str(c.file("pop.tif", (c.base / "population.tif").read_bytes()[:5000]))})
)


def _elsewhere(c: Case, name: str, values: np.ndarray) -> Path:
    path = c.folder / name
    meta = {
        "driver": "GTiff",
        "height": values.shape[0],
        "width": values.shape[1],
        "count": 1,
        "dtype": values.dtype,
        "crs": "EPSG:4326",
        "transform": rasterio.transform.from_bounds(10.0, 40.0, 10.5, 40.5, values.shape[1], values.shape[0]),
    }
    with rasterio.open(path, "w", **meta) as dst:
        dst.write(values, 1)
    return path


# ---- roads ---------------------------------------------------------------------------------
case("roads-truncated-pbf", "roads '", "roads.osm.pbf", "is truncated or not valid OSM")(
    lambda c: c.run(
        inputs={"roads": str(c.file("roads.osm.pbf", (DATA / "kotka-karhula.osm.pbf").read_bytes()[:4000]))}
    )
)
case("roads-corrupt-xml", "roads '", "roads.osm", "is truncated or not valid OSM")(
    lambda c: c.run(inputs={"roads": str(c.file("roads.osm", "<osm><node id='1' lat='x'"))})
)
case("roads-not-bz2", "roads", "roads.osm.bz2", "is truncated or not valid OSM")(
    lambda c: c.run(inputs={"roads": str(c.file("roads.osm.bz2", "plain text, not bzip2"))})
)
case("roads-extension", "roads", "roads.txt", "unsupported extension")(
    lambda c: c.run(inputs={"roads": str(c.file("roads.txt", "x"))})
)
case("roads-no-highway-column", "roads", "roads.gpkg", "highway")(
    lambda c: c.run(inputs={"roads": str(_lines_layer(c, "roads.gpkg", highway=False))})
)
case("roads-geojson-metres-without-crs", "roads", "roads.geojson", "CRS")(
    lambda c: c.run(inputs={"roads": str(_lines_layer(c, "roads.geojson", crs=None, where=(655797.0, 1630000.0)))})
)
case("roads-outside", "roads", "roads.gpkg", "does not overlap the study area")(
    lambda c: c.run(inputs={"roads": str(_lines_layer(c, "roads.gpkg", where=(10.0, 40.0)))})
)
case("roads-only-footways", "roads", "no drivable roads")(lambda c: c.run(inputs={"roads": str(_footways(c))}))
case("roads-corrupt-graphml", "roads", "roads.graphml", "cannot be read")(
    lambda c: c.run(inputs={"roads": str(c.file("roads.graphml", "<graphml><graph>"))})
)
case("roads-empty-layer", "roads", "roads.gpkg", "no drivable roads")(
    lambda c: c.run(inputs={"roads": str(_empty_lines(c))})
)
case("roads-bz2-of-nonsense", "roads '", "roads.osm.bz2", "is truncated or not valid OSM")(
    lambda c: c.run(inputs={"roads": str(c.file("roads.osm.bz2", bz2.compress(b"not xml at all")))})
)


def _footways(c: Case) -> Path:
    frame = gpd.GeoDataFrame(
        {"highway": ["footway", "path"]},
        geometry=[LineString([(100.40, 14.78), (100.45, 14.78)]), LineString([(100.45, 14.78), (100.45, 14.82)])],
        crs="EPSG:4326",
    )
    frame.to_file(c.folder / "roads.gpkg")
    return c.folder / "roads.gpkg"


def _empty_lines(c: Case) -> Path:
    gpd.GeoDataFrame({"highway": []}, geometry=gpd.GeoSeries([], crs="EPSG:4326")).to_file(c.folder / "roads.gpkg")
    return c.folder / "roads.gpkg"


# ---- raw-material sources ------------------------------------------------------------------
case("sources-no-material-column", "sources", "src.gpkg", "missing column(s) material")(
    lambda c: c.run(inputs={"sources": str(_sources(c, "src.gpkg", kind=["clay"]))})
)
case("sources-unknown-material", "sources", "src.gpkg", "'claay' is not a known material", "did you mean 'clay'")(
    lambda c: c.run(inputs={"sources": str(_sources(c, "src.gpkg", material=["claay"]))})
)
case("sources-negative-tonnes", "sources", "src.gpkg", "tonnes_per_year '-5", "not a number >= 0")(
    lambda c: c.run(inputs={"sources": str(_sources(c, "src.gpkg", material=["clay"], tonnes_per_year=[-5.0]))})
)
case("sources-no-crs", "sources", "src.shp", "has no CRS")(
    lambda c: c.run(inputs={"sources": str(_shapefile_without_crs(c, "src.shp", material=["clay"]))})
)
case("sources-geojson-in-metres", "sources", "src.geojson", "are not degrees")(
    lambda c: c.run(inputs={"sources": str(c.file("src.geojson", _geojson_without_crs(655797, 1630000)))})
)
case("sources-empty", "sources", "src.gpkg", "no features")(lambda c: c.run(inputs={"sources": str(_empty_sources(c))}))
case("sources-corrupt", "sources", "src.gpkg", "cannot be read as a vector layer", "format.")(
    lambda c: c.run(inputs={"sources": str(c.file("src.gpkg", "not a geopackage"))})
)


def _geojson_without_crs(x: float = 1, y: float = 2) -> str:
    """GeoJSON without a crs member: WGS 84 by definition, whatever its numbers are."""
    point = {"type": "Point", "coordinates": [x, y]}
    feature = {"type": "Feature", "properties": {"material": "clay"}, "geometry": point}
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


def _shapefile_without_crs(c: Case, filename: str, **columns) -> Path:
    """A shapefile without its .prj: no CRS at all."""
    n = len(next(iter(columns.values())))
    gpd.GeoDataFrame(columns, geometry=[Point(100.45, 14.80)] * n).to_file(c.folder / filename)
    return c.folder / filename


def _empty_sources(c: Case) -> Path:
    frame = gpd.GeoDataFrame({"material": []}, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    frame.to_file(c.folder / "src.gpkg")
    return c.folder / "src.gpkg"


# ---- the firm register ---------------------------------------------------------------------
case("firms-empty-file", "firms", "firms.csv", "empty")(lambda c: c.run(inputs={"firms": str(c.file("firms.csv", ""))}))
case("firms-header-only", "firms", "firms.csv", "has no firms")(lambda c: c.run(inputs={"firms": str(c.firms(HEADER))}))
case("firms-missing-columns", "firms", "firms.csv", "missing column(s) sector")(
    lambda c: c.run(inputs={"firms": str(c.firms("firm_id,name,lon,lat,inputs,outputs\nF1,a,100.4,14.8,,\n"))})
)
case("firms-bad-lonlat", "firms", "row 3 (firm_id 'F2')", "not valid WGS 84 degrees")(
    lambda c: c.run(inputs={"firms": str(c.firms(HEADER + "F1,a,steel,100.4,14.8,,\nF2,b,steel,north,14.8,,\n"))})
)
case("firms-duplicate-id", "firms", "row 3", "firm_id 'F1' is used more than once")(
    lambda c: c.run(inputs={"firms": str(c.firms(HEADER + "F1,a,steel,100.4,14.8,,\nF1,b,steel,100.41,14.8,,\n"))})
)
case("firms-empty-id", "firms", "row 2: firm_id is empty")(
    lambda c: c.run(inputs={"firms": str(c.firms(HEADER + ",a,steel,100.4,14.8,,\n"))})
)
case("firms-bad-flow-item", "firms", "row 2", "outputs", "'fly_ash=100' is not 'material:tonnes'")(
    lambda c: c.run(inputs={"firms": str(c.firms(HEADER + "F1,a,coal_power,100.4,14.8,,fly_ash=100\n"))})
)
case("firms-unknown-material", "firms", "row 2", "'flyash' is not a known material", "did you mean 'fly_ash'")(
    lambda c: c.run(inputs={"firms": str(c.firms(HEADER + "F1,a,coal_power,100.4,14.8,,flyash:100\n"))})
)
case("firms-negative-tonnes", "firms", "row 2", "amount '-100' for 'fly_ash' must be a number >= 0")(
    lambda c: c.run(inputs={"firms": str(c.firms(HEADER + "F1,a,coal_power,100.4,14.8,,fly_ash:-100\n"))})
)
case("firms-not-utf8", "firms", "firms.csv", "UTF-8")(
    lambda c: c.run(
        inputs={"firms": str(c.file("firms.csv", (HEADER + "F1,Usine \xe9,steel,100.4,14.8,,\n").encode("latin-1")))}
    )
)
case("firms-shapefile-without-crs", "firms", "firms.shp", "has no CRS")(
    lambda c: c.run(inputs={"firms": str(_firms_shapefile(c))})
)
case(
    "firms-tab-separated", "firms", "firms.csv", "missing column(s)", "separated by tabs or semicolons? Expected commas"
)(lambda c: c.run(inputs={"firms": str(c.firms(HEADER.replace(",", "\t") + GOOD_ROWS.replace(",", "\t")))}))


def _firms_shapefile(c: Case) -> Path:
    columns = {"firm_id": ["F1"], "name": ["a"], "sector": ["steel"], "inputs": [""], "outputs": [""]}
    return _shapefile_without_crs(c, "firms.shp", **columns)


# ---- elevation and constraint layers -------------------------------------------------------
case("dem-corrupt", "inputs.dem", "dem.tif", "cannot be read as a raster")(
    lambda c: c.run(inputs={"dem": str(c.file("dem.tif", "garbage"))}, constraints={"slope_max_deg": 15})
)
case("dem-elsewhere", "inputs.dem", "dem.tif", "does not overlap")(
    lambda c: c.run(
        inputs={"dem": str(_elsewhere(c, "dem.tif", np.ones((20, 20), "float32")))}, constraints={"slope_max_deg": 15}
    )
)
case("constraint-layer-corrupt", "constraints.layers[0]", "zones.gpkg", "cannot be read as a vector layer")(
    lambda c: c.run(constraints={"layers": [{"path": str(c.file("zones.gpkg", "junk")), "reason": "flood"}]})
)
case("constraint-layer-no-crs", "constraints.layers[0]", "flood.shp", "has no CRS")(
    lambda c: c.run(
        constraints={"layers": [{"path": str(_shapefile_without_crs(c, "flood.shp", kind=["flood"])), "reason": "f"}]}
    )
)


# ---- the output folder ---------------------------------------------------------------------
case("out-is-a-file", "output folder", "out' is an existing file; expected a folder")(
    lambda c: (c.file("out", "a user's file"), c.run())[1]
)
case("out-holds-user-files", "output folder", "holds 1 file(s) eicgeo did not write", "--overwrite")(
    lambda c: (c.out.mkdir(), (c.out / "notes.txt").write_text("mine"), c.run())[2]
)


case("out-sample-data-onto-a-file", "output folder", "region' is an existing file")(
    lambda c: (c.file("region", "mine"), ["sample-data", "--out", str(c.folder / "region")])[1]
)


@case("out-compare-into-user-files", "output folder", "holds 1 file(s) eicgeo did not write")
def _compare_into_user_files(c: Case) -> list[str]:
    c.out.mkdir()
    (c.out / "notes.txt").write_text("mine")
    scenario = c.run()[1]
    return ["compare", scenario, "--preset-a", "balanced", "--preset-b", "industrial", "--out", str(c.out), "--quiet"]


# ---- more readers --------------------------------------------------------------------------
case("legend-csv-missing-column", "inputs.legend", "legend.csv", "missing column(s) role")(
    lambda c: c.run(inputs={"legend": str(c.file("legend.csv", "code,name\n10,trees\n"))})
)
case("legend-csv-bad-code", "inputs.legend", "legend.csv", "'ten'")(
    lambda c: c.run(inputs={"legend": str(c.file("legend.csv", "code,name,role\nten,trees,forest\n"))})
)
case("roads-parquet-without-highway", "roads", "roads.parquet", "highway")(
    lambda c: c.run(inputs={"roads": str(_parquet_lines(c))})
)
case("sectors-table-bad-row", "inputs.sectors", "sectors.csv", "'steel' is built in")(
    lambda c: c.run(inputs={"sectors": str(c.file("sectors.csv", "sector,description\nsteel,x\n"))})
)
case("synergies-table-missing", "inputs.synergies", "nope.csv' does not exist")(
    lambda c: c.run(inputs={"synergies": str(c.folder / "nope.csv")})
)


def _parquet_lines(c: Case) -> Path:
    frame = gpd.GeoDataFrame(
        {"kind": ["road"]}, geometry=[LineString([(100.40, 14.78), (100.45, 14.78)])], crs="EPSG:4326"
    )
    frame.to_parquet(c.folder / "roads.parquet")
    return c.folder / "roads.parquet"


# ---- compute --------------------------------------------------------------------------------
case("scenario-compute-chunks-too-small", "compute.chunks: expected a whole number of cells per side >= 16", "got 4")(
    lambda c: c.run(compute={"chunks": 4})
)
case("scenario-compute-chunks-text", "compute.chunks", "or \"auto\", got 'big'")(
    lambda c: c.run(compute={"chunks": "big"})
)
case("scenario-compute-chunks-flag", "compute.chunks", "got 0")(lambda c: [*c.run(), "--chunks", "0"])
case("scenario-compute-scheduler-typo", "compute.scheduler", "did you mean 'threads'")(
    lambda c: c.run(compute={"scheduler": "thread"})
)
case("scenario-compute-scheduler-no-protocol", "compute.scheduler", "did you mean 'tcp://localhost:8786'")(
    lambda c: [*c.run(), "--scheduler", "localhost:8786"]
)
case(
    "scenario-compute-scheduler-unreachable",
    "compute.scheduler: cannot reach a dask.distributed scheduler at 'tcp://127.0.0.1:9' within 0.5 s",
    "expected the address of a running scheduler",
)(lambda c: c.run(compute={"scheduler": "tcp://127.0.0.1:9", "connect_timeout_s": 0.5}))


# ---- usage ---------------------------------------------------------------------------------
USAGE = [
    ("usage-no-out", lambda c: ["run", str(c.folder / "s.toml")], ("Missing option '--out'",)),
    ("usage-unknown-option", lambda c: ["run", "--landcvoer", "x.tif", "--out", str(c.out)], ("No such option",)),
    ("usage-unknown-command", lambda c: ["runn"], ("No such command 'runn'",)),
    ("usage-bad-size", lambda c: ["sample-data", "--out", str(c.out), "--size", "XXL"], ("'XXL' is not one of",)),
]


# --------------------------------------------------------------------------------------------
def _check_one_line(err: str, expected: tuple[str, ...], *, prefix: str = "eicgeo: error: ") -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith(prefix), line
    assert INTERNAL_ERROR not in line, line
    assert "np.float64" not in line and "np.int64" not in line, line
    for piece in expected:
        assert piece in line, f"{piece!r} not in {line!r}"
    return line


@pytest.mark.parametrize(("make", "expected"), [pytest.param(m, e, id=i) for i, m, e in CASES])
def test_bad_input_gets_one_clear_error_line(tmp_path, base, capfd, make, expected):
    c = Case(tmp_path, base)
    args = make(c)
    before = sorted(p.name for p in tmp_path.iterdir())
    out_before = (
        c.out.read_bytes() if c.out.is_file() else sorted(p.name for p in c.out.iterdir()) if c.out.is_dir() else None
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EicgeoWarning)
        code = main(args)
    captured = capfd.readouterr()
    assert code == 1, captured.err
    _check_one_line(captured.err, expected)
    # the output folder is not created, or is left as it was
    if out_before is None:
        assert not c.out.exists()
    elif isinstance(out_before, bytes):
        assert c.out.read_bytes() == out_before
    else:
        assert sorted(p.name for p in c.out.iterdir()) == out_before
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "no staging debris or lock left"


@pytest.mark.parametrize(("make", "expected"), [pytest.param(m, e, id=i) for i, m, e in USAGE])
def test_usage_errors_exit_2(tmp_path, base, capfd, make, expected):
    code = main(make(Case(tmp_path, base)))
    captured = capfd.readouterr()
    assert code == 2
    _check_one_line(captured.err, expected)


def test_the_catalogue_is_large_and_covers_every_input_kind():
    kinds = {i.split("-")[0] for i, _, _ in CASES}
    assert kinds >= {"scenario", "landcover", "population", "roads", "sources", "firms", "dem", "constraint", "out"}
    assert len(CASES) + len(USAGE) >= 80


@pytest.mark.parametrize(
    "id_",
    ["landcover-float-codes", "population-all-nan", "firms-empty-file", "roads-outside", "landcover-one-cell"],
)
def test_the_python_api_raises_eicgeo_errors_too(tmp_path, base, id_):
    make = next(m for i, m, _ in CASES if i == id_)
    args = make(Case(tmp_path, base))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EicgeoWarning)
        with pytest.raises(EicgeoError):
            eicgeo.run(args[1], out=args[3], progress=False)


# --------------------------------------------------------------------------------------------
# legitimate warnings: named, and the result says what was dropped
# --------------------------------------------------------------------------------------------
def test_a_population_covering_part_of_the_area_is_a_named_coverage_warning(tmp_path, base):
    c = Case(tmp_path, base)
    with rasterio.open(base / "population.tif") as src:
        values = src.read(1)
        profile = src.profile
    values[: values.shape[0] // 2] = profile["nodata"]  # the northern half has no data
    with rasterio.open(tmp_path / "pop.tif", "w", **profile) as dst:
        dst.write(values, 1)
    s = eicgeo.Scenario.from_dict(c.scenario(inputs={"population": str(tmp_path / "pop.tif")}), base_dir=tmp_path)
    with pytest.warns(EicgeoWarning, match=r"population '.*pop.tif' covers 5\d% of the land-cover area") as info:
        result = eicgeo.run(s, progress=False)
    assert any("pop.tif" in note and "covers" in note for note in result.notes)
    coverage = [w for w in info if issubclass(w.category, CoverageWarning)]
    assert len(coverage) == 1 and "the rest is nodata (not zero)" in str(coverage[0].message)
    # cells outside it are nodata, not zero people
    assert np.isnan(result.layers["population"].values[0]).all()


@pytest.mark.parametrize("kind", ["dem", "constraint"])
def test_a_dem_or_constraint_raster_covering_part_of_the_area_is_a_named_coverage_warning(tmp_path, base, kind):
    c = Case(tmp_path, base)
    with rasterio.open(base / "landcover.tif") as src:
        rows, cols = src.shape
    values = np.full((rows, cols), 5.0, dtype="float32")  # flat land 5 m up, or a flood depth of 5
    values[:, : cols // 4] = -9999.0  # the western quarter has no data
    path = c.raster(f"{kind}.tif", values, nodata=-9999.0)
    if kind == "dem":
        sections = {"inputs": {"dem": str(path)}, "constraints": {"slope_max_deg": 15}}
    else:
        sections = {"constraints": {"layers": [{"path": str(path), "reason": "flood zone"}]}}
    s = eicgeo.Scenario.from_dict(c.scenario(**sections), base_dir=tmp_path)
    label = "inputs.dem" if kind == "dem" else "constraints.layers[0]"
    with pytest.warns(CoverageWarning, match=rf"{re.escape(label)} '.*{kind}.tif' covers 7\d% of the land-cover area"):
        result = eicgeo.run(s, progress=False)
    assert any(f"{kind}.tif" in note and "the rest is nodata (not zero)" in note for note in result.notes)


def test_firms_outside_the_area_are_a_warning_and_the_result_lists_them(tmp_path, base):
    c = Case(tmp_path, base)
    path = c.firms(HEADER + GOOD_ROWS + "F9,Far,steel,99.0,13.0,,\n")
    s = eicgeo.Scenario.from_dict(c.scenario(inputs={"firms": str(path)}), base_dir=tmp_path)
    with pytest.warns(EicgeoWarning, match=r"1 of 3 firms lie outside the study area and were dropped \(firm_id F9\)"):
        result = eicgeo.run(s, progress=False)
    assert any("F9" in note for note in result.notes)
    assert result.firms["firm_id"].tolist() == ["F1", "F2"]


def test_the_last_resort_prints_one_line_and_debug_the_traceback(monkeypatch, capfd, sample_dir):
    import eicgeo.pipeline

    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(eicgeo.pipeline, "_grid", bug)
    assert main(["run", str(sample_dir / "scenario.toml"), "--out", "/nonexistent/out", "--quiet"]) == 1
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert lines == [f"{INTERNAL_ERROR} (ZeroDivisionError: a bug); run again with --debug for the traceback"]
    assert main(["run", str(sample_dir / "scenario.toml"), "--out", "/nonexistent/out", "--quiet", "--debug"]) == 1
    err = capfd.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError: a bug" in err


def test_validate_reports_what_run_would_stop_on(tmp_path, base, capfd):
    """`eicgeo validate` reports what `run` would stop on before its heavy stages."""
    c = Case(tmp_path, base)
    bad = c.raster("lc.tif", np.full((50, 50), 77, "uint8"))
    args = c.run(
        inputs={"landcover": str(bad), "firms": str(c.firms(HEADER + "F1,a,coal_power,100.4,14.8,,flyash:1\n"))}
    )
    assert main(["validate", args[1]]) == 1
    out = capfd.readouterr().out
    assert "class codes [77]" in out and "'flyash' is not a known material" in out
    assert len(out.splitlines()) == 2
