"""Named places, and where a point lies from them ("4 km north-east of Bang Pa-in").

:func:`read_places` reads the ``place=city|town|village|suburb|hamlet|locality`` nodes of an OSM
file (XML ``.osm``, ``.osm.bz2`` or PBF ``.osm.pbf``, with pyosmium), plus the closed ways and
multipolygons tagged so, taken at their centroid; or a user's vector layer of places with a
``name`` column. :func:`describe` says where a point lies from the nearest of them, and
:func:`describe_zones` adds that phrase and the lon/lat centroid to every zone.

Which place a point is described from
--------------------------------------
A reader knows a town better than a village, so a larger place wins when it is not much
farther: the place with the smallest ``distance / weight`` is chosen, with the weights of
:data:`PLACE_WEIGHTS` (city 2, town 1.5, suburb 1.2, village 1, hamlet 0.8, locality 0.6,
any other value 1). A town 6 km away beats a village 4 km away; a town 7 km away does not. A
point within :data:`IN_KM` (0.5 km) of a place is "in" it (a city, town, suburb or village) or
"at" it (a hamlet, locality or other place), whatever the weights. Distances are geodesic
(WGS 84), directions are the 8 compass points from the place to the point, true north.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> towns = gpd.GeoDataFrame(
...     {"name": ["Ban Mai"], "place": ["town"], "population": [12000.0]},
...     geometry=[Point(500000, 1600000)], crs="EPSG:32647")
>>> str(describe(Point(504000, 1604000), towns, crs="EPSG:32647"))
'5.7 km north-east of Ban Mai'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod, Transformer

from eicgeo._errors import InputError
from eicgeo._validate import check_columns, check_crs, check_file
from eicgeo.io import VECTOR_SUFFIXES, read_vector

__all__ = [
    "COLUMNS",
    "IN_KM",
    "OSM_SUFFIXES",
    "PLACE_WEIGHTS",
    "ZONE_COLUMNS",
    "Location",
    "describe",
    "describe_zones",
    "empty",
    "read_places",
]

#: Columns of a places layer (besides geometry).
COLUMNS = ["name", "place", "population"]
#: Columns :func:`describe_zones` adds to the zones.
ZONE_COLUMNS = ["where", "lon", "lat"]
#: OSM files places are read from with pyosmium.
OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.pbf", ".pbf")
#: How much nearer than a village a place is taken to be when choosing which to describe a
#: point from (distance divided by the weight); also the OSM ``place`` values read.
PLACE_WEIGHTS: dict[str, float] = {
    "city": 2.0,
    "town": 1.5,
    "suburb": 1.2,
    "village": 1.0,
    "hamlet": 0.8,
    "locality": 0.6,
}
#: A point this near a place (km) is "in" or "at" it.
IN_KM = 0.5
#: Places a point can be "in"; it is "at" the others.
_SETTLEMENTS = frozenset({"city", "town", "suburb", "village"})
_COMPASS = ("north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west")
_GEOD = Geod(ellps="WGS84")
_WGS84 = CRS.from_epsg(4326)


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------
def read_places(path: str | Path, *, crs: Any = None, what: str = "places") -> gpd.GeoDataFrame:
    """Read named places from an OSM file or a vector layer.

    Parameters
    ----------
    path : path
        OSM XML (``.osm``, ``.osm.bz2``) or PBF (``.osm.pbf``): its nodes tagged ``place`` with a
        value of :data:`PLACE_WEIGHTS` and a ``name``, and its closed ways and multipolygon
        relations tagged so, at their centroid (an area named like a node is dropped). A file
        without such places gives an empty layer. Or a vector layer (``.gpkg``, ``.geojson``,
        ``.shp``, ``.parquet``, ...) with a ``name`` column and optional ``place`` and
        ``population`` columns; polygons are taken at a point inside them.
    crs : optional
        Reproject to this CRS (the OSM places are in EPSG:4326).
    what : str
        How errors name the file: ``"roads"`` when the places come from the roads' OSM file.

    Returns
    -------
    GeoDataFrame
        ``name``, ``place`` (the OSM value, e.g. ``"town"``; None when the layer has no
        ``place`` column), ``population`` (people, float, NaN when not tagged) and point
        geometry, sorted by place weight (largest first) then name.

    Raises
    ------
    InputFileNotFoundError
        If the file does not exist.
    InputError
        If its extension is neither OSM nor vector, an OSM file is truncated or not OSM, or a
        layer has no ``name`` column, an empty name, lines, or a population that is not a
        number >= 0.
    CRSError
        If a vector layer has no CRS.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> osm = pathlib.Path(tempfile.mkdtemp()) / "places.osm"
    >>> _ = osm.write_text(
    ...     '<osm version="0.6"><node id="1" lat="14.3" lon="100.6" version="1">'
    ...     '<tag k="place" v="town"/><tag k="name" v="Bang Pa-in"/><tag k="population" v="12 500"/>'
    ...     '</node></osm>')
    >>> places = read_places(osm, crs="EPSG:32647")
    >>> places[["name", "place", "population"]].to_dict("records")
    [{'name': 'Bang Pa-in', 'place': 'town', 'population': 12500.0}]
    >>> places.crs.to_epsg()
    32647
    """
    path = check_file(path, "places", OSM_SUFFIXES + VECTOR_SUFFIXES)
    found = _read_osm(path, what) if path.name.lower().endswith(OSM_SUFFIXES) else _read_layer(path)
    found = found.assign(_w=found["place"].map(_weight)).sort_values(["_w", "name"], ascending=[False, True])
    found = found.drop(columns="_w").reset_index(drop=True)
    if crs is not None:
        found = found.to_crs(check_crs(crs, "places crs"))
    return found


def empty(crs: Any) -> gpd.GeoDataFrame:
    """A places layer without places, with the columns and types of :func:`read_places`.

    Examples
    --------
    >>> empty("EPSG:32647").dtypes.astype(str).to_dict()
    {'name': 'object', 'place': 'object', 'population': 'float64', 'geometry': 'geometry'}
    """
    return _frame([], [], [], np.empty((0, 2)), crs)


def _frame(names: list, kinds: list, population: list, xy: np.ndarray, crs: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "name": pd.Series(names, dtype="object"),
            "place": pd.Series(kinds, dtype="object"),
            "population": pd.Series(population, dtype="float64"),
        },
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=crs,
    )


def _population(value: Any) -> float:
    """An OSM ``population`` tag as a number: "12,500", "12 500" and "12500" are 12500; anything
    else ("ca. 5000", "5000-6000") is NaN."""
    text = re.sub(r"[\s,']", "", str(value)) if value is not None else ""
    return float(text) if re.fullmatch(r"\d+(\.\d+)?", text) else math.nan


def _read_osm(path: Path, what: str = "places") -> gpd.GeoDataFrame:
    import osmium

    keep = osmium.filter.KeyFilter("place")
    nodes: list[tuple[str, str, float, float, float]] = []
    areas: list[tuple[str, str, float, float, float]] = []
    wkb = osmium.geom.WKBFactory()
    try:
        for obj in osmium.FileProcessor(str(path)).with_areas(keep).with_filter(keep):
            kind, name = obj.tags.get("place"), obj.tags.get("name")
            if kind not in PLACE_WEIGHTS or not name:
                continue
            people = _population(obj.tags.get("population"))
            if obj.is_node() and obj.location.valid():
                nodes.append((name, kind, people, obj.location.lon, obj.location.lat))
            elif obj.is_area():
                try:
                    centre = shapely.from_wkb(wkb.create_multipolygon(obj)).centroid
                except RuntimeError:  # an area whose rings do not close in this extract
                    continue
                areas.append((name, kind, people, centre.x, centre.y))
    except RuntimeError as err:
        msg = f"{what} {str(path)!r} is truncated or not valid OSM ({err}); expected OSM XML or PBF"
        raise InputError(msg) from err
    named = {name.casefold() for name, *_ in nodes}
    rows = nodes + [a for a in areas if a[0].casefold() not in named]
    xy = np.array([r[3:] for r in rows], dtype=float).reshape(-1, 2)
    return _frame([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], xy, _WGS84)


def _read_layer(path: Path) -> gpd.GeoDataFrame:
    what = f"places {str(path)!r}"
    gdf = read_vector(path, what="places")
    check_columns(gdf.columns, ["name"], what)
    names = gdf["name"]
    blank = names.isna() | (names.astype(str).str.strip() == "")
    if blank.any():
        row = int(np.flatnonzero(blank.to_numpy())[0])
        msg = f"{what} feature {row + 1} has no name; expected a place name in every row of column 'name'"
        raise InputError(msg)
    kinds = gdf.geometry.geom_type
    lines = kinds.str.contains("LineString").to_numpy()
    if lines.any():
        row = int(np.flatnonzero(lines)[0])
        msg = f"{what} feature {row + 1} is a {kinds.iloc[row]}; expected points (or polygons, taken at their centre)"
        raise InputError(msg)
    if "population" in gdf:
        people = pd.to_numeric(gdf["population"], errors="coerce")
        bad = np.flatnonzero(((people < 0) | (people.isna() & gdf["population"].notna())).to_numpy())
        if bad.size:
            row = int(bad[0])
            msg = f"{what} feature {row + 1}: population {str(gdf['population'].iloc[row])!r} is not a number >= 0"
            raise InputError(msg)
    else:
        people = pd.Series(np.nan, index=gdf.index)
    place = gdf["place"].where(gdf["place"].notna(), None) if "place" in gdf else pd.Series(None, index=gdf.index)
    points = gdf.geometry.where(kinds == "Point", gdf.geometry.representative_point())
    return gpd.GeoDataFrame(
        {
            "name": names.astype(str).str.strip().to_numpy(),
            "place": place.astype("object").to_numpy(),
            "population": people.astype(float).to_numpy(),
        },
        geometry=points.to_numpy(),
        crs=gdf.crs,
    )


def _weight(place: Any) -> float:
    return PLACE_WEIGHTS.get(str(place).lower(), 1.0) if place is not None else 1.0


# --------------------------------------------------------------------------------------------
# describing
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Location:
    """Where a point is: its lon/lat and, when places are known, the place it is described from.

    ``str()`` gives the phrase ("4 km north-east of Bang Pa-in", "in Bang Pa-in"), or the
    coordinates ("14.30000 N, 100.60000 E") when there are no places.
    """

    lon: float
    lat: float
    name: str | None = None
    place: str | None = None
    distance_km: float | None = None
    direction: str | None = None
    phrase: str | None = None

    def __str__(self) -> str:
        if self.phrase is not None:
            return self.phrase
        north, east = "N" if self.lat >= 0 else "S", "E" if self.lon >= 0 else "W"
        return f"{abs(self.lat):.5f} {north}, {abs(self.lon):.5f} {east}"


def describe(point: Any, places: gpd.GeoDataFrame, *, crs: Any) -> Location:
    """Where ``point`` is, from the nearest named place (see the module's rule).

    Parameters
    ----------
    point : shapely geometry
        A point, or any geometry (its centroid is used), in ``crs``.
    places : GeoDataFrame
        Places as :func:`read_places` gives them (``name``, optional ``place``), in any CRS.
    crs
        The CRS of ``point``.

    Returns
    -------
    Location
        ``lon``, ``lat`` (WGS 84 degrees, 5 decimals), and ``name``, ``place``, ``distance_km``
        (geodesic, from the place to the point), ``direction`` (one of 8 compass points) and
        ``phrase``, which are None when ``places`` is empty.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> places = gpd.GeoDataFrame(
    ...     {"name": ["Ban Mai", "Nong Khae"], "place": ["village", "town"]},
    ...     geometry=[Point(503000, 1600000), Point(496000, 1600000)], crs="EPSG:32647")
    >>> str(describe(Point(500000, 1600000), places, crs="EPSG:32647"))  # town 4 km, village 3 km
    '4 km east of Nong Khae'
    >>> str(describe(Point(503200, 1600100), places, crs="EPSG:32647"))
    'in Ban Mai'
    >>> str(describe(Point(500000, 1600000), places.iloc[:0], crs="EPSG:32647"))
    '14.47265 N, 99.00000 E'
    """
    lon, lat = _lonlat([shapely.centroid(point)], crs)
    plon, plat = _lonlat(list(places.geometry), places.crs) if len(places) else (np.empty(0), np.empty(0))
    return _describe(lon[0], lat[0], plon, plat, places)


def describe_zones(zones: gpd.GeoDataFrame, places: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``zones`` with :data:`ZONE_COLUMNS` added before the geometry: ``where``, the phrase of
    :func:`describe` from the zone's centroid (None without places), and ``lon``, ``lat``, the
    centroid in WGS 84 degrees (5 decimals).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> zones = gpd.GeoDataFrame({"zone_id": [1]}, geometry=[box(501000, 1599000, 503000, 1601000)],
    ...                          crs="EPSG:32647")
    >>> towns = gpd.GeoDataFrame({"name": ["Ban Mai"], "place": ["town"]},
    ...                          geometry=[Point(500000, 1600000)], crs="EPSG:32647")
    >>> describe_zones(zones, towns)[["zone_id", "where", "lon", "lat"]].to_dict("records")
    [{'zone_id': 1, 'where': '2 km east of Ban Mai', 'lon': 99.01856, 'lat': 14.47265}]
    """
    centres = zones.geometry.centroid
    lon, lat = _lonlat(list(centres), zones.crs) if len(zones) else (np.empty(0), np.empty(0))
    plon, plat = _lonlat(list(places.geometry), places.crs) if len(places) else (np.empty(0), np.empty(0))
    found = [_describe(x, y, plon, plat, places) for x, y in zip(lon, lat, strict=True)]
    out = zones.drop(columns=[c for c in ZONE_COLUMNS if c in zones.columns])
    geometry = out.geometry.name
    out = out.assign(
        where=pd.Series([f.phrase for f in found], index=zones.index, dtype="object"),
        lon=pd.Series([f.lon for f in found], index=zones.index, dtype="float64"),
        lat=pd.Series([f.lat for f in found], index=zones.index, dtype="float64"),
    )
    columns = [c for c in out.columns if c != geometry] + [geometry]
    return gpd.GeoDataFrame(out[columns], geometry=geometry, crs=zones.crs)


def _lonlat(geoms: list[Any], crs: Any) -> tuple[np.ndarray, np.ndarray]:
    source = check_crs(crs, "places: the point's crs")
    xy = shapely.get_coordinates(shapely.centroid(np.asarray(geoms, dtype=object)))
    if source.equals(_WGS84):
        return xy[:, 0], xy[:, 1]
    to = Transformer.from_crs(source, _WGS84, always_xy=True)
    lon, lat = to.transform(xy[:, 0], xy[:, 1])
    return np.asarray(lon, float), np.asarray(lat, float)


def _describe(lon: float, lat: float, plon: np.ndarray, plat: np.ndarray, places: gpd.GeoDataFrame) -> Location:
    lon, lat = round(float(lon), 5), round(float(lat), 5)
    if not len(plon):
        return Location(lon, lat)
    azimuth, _, metres = _GEOD.inv(plon, plat, np.full(plon.shape, lon), np.full(plat.shape, lat))
    km = np.asarray(metres, float) / 1000.0
    kinds = places["place"].tolist() if "place" in places else [None] * len(places)
    names = places["name"].astype(str).tolist()
    nearest = int(np.argmin(km))
    if round(float(km[nearest]), 1) <= IN_KM:
        kind = kinds[nearest]
        word = "in" if kind is None or str(kind).lower() in _SETTLEMENTS else "at"
        return Location(lon, lat, names[nearest], kind, float(km[nearest]), None, f"{word} {names[nearest]}")
    weights = np.array([_weight(k) for k in kinds])
    best = int(np.argmin(km / weights))
    direction = _COMPASS[int(((float(np.atleast_1d(azimuth)[best]) + 22.5) % 360.0) // 45.0)]
    distance = float(km[best])
    phrase = f"{_km_text(distance)} km {direction} of {names[best]}"
    return Location(lon, lat, names[best], kinds[best], distance, direction, phrase)


def _km_text(km: float) -> str:
    """A distance rounded for reading: 0.1 km below 10 km ("1.5", "4", "5.7"), whole km above."""
    value = round(km, 1)
    return f"{value:g}" if value < 10 else f"{round(km):d}"
