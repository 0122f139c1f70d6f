"""Calibration study of ``eicgeo.fringe.from_landcover`` on real land-cover rasters.

Run from the repository root: ``.venv/bin/python docs/fringe_study.py`` (about a minute). It reads
only files in ``tests/data`` (licences in ``tests/data/README.md``), prints the Markdown tables of
the study (``docs/fringe.md``, section "Calibration on real land cover") and draws
``docs/img/fringe_study_*.png``. Options: ``--no-figures``, ``--sites`` (print every reference
site with the class each method gives it).

Places, products and references
    São Tomé (ESA WorldCover 2021, 10 m), Cayambe (ESA WorldCover, 10 m), Augusta GA suburbs
    (NLCD 2011, 30 m), Lausanne (CORINE 2006, 100 m, and the same at 250 m), Podlasie with
    Białystok (ESA CCI LC 2015, 300 m): hand-placed reference sites (``SITES``) from well-known
    geography, each labelled with the class the Degree of Urbanisation would give it (urban
    centre = urban; towns, suburbs and dense or semi-dense clusters = fringe; villages, farmland
    and forest = rural). No population grid of these places could be found. Assaba (MODIS
    MCD12Q1 2020, 500 m) has a real population grid (WorldPop 2020, 1 km): there the reference is
    ``eicgeo.fringe.degurba`` on it. The peri-urban demo region of ``sample_data`` is synthetic:
    it is a sanity check, not evidence.

Agreement
    Each site is scored on the cells within ``ZONE_M`` (250 m) of it (at least its own cell): the
    share of a site's cells given the site's class. Per place: the share of the urban sites'
    cells classified urban, of the fringe sites' cells classified fringe, of the rural sites'
    cells classified rural; overall accuracy and Cohen's kappa on the three classes (each site
    weighs one, spread over its cells). Sites labelled 0 are ambiguous (e.g. whether Cayambe,
    about 50,000 people, is an urban centre): they are listed, not scored.

The candidate rules are written here, on the package's built-up share
(:func:`eicgeo.fringe.built_share`): :func:`classify_calibrated` is the recommended rule, which
``eicgeo.fringe.from_landcover`` now implements (the study scores both, and they agree).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
from pyproj import Geod, Transformer
from scipy import ndimage

from eicgeo import fringe
from eicgeo.grid import Grid
from eicgeo.io import raster_footprint, read_raster
from eicgeo.legends import ROLE_CODE, Legend, LegendClass, get_legend

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
IMG = ROOT / "docs" / "img"
SAMPLE = ROOT / "sample_data" / "peri_urban_demo"
ZONE_M = 250.0  # a site is scored on the cells within this distance of it

# ---------------------------------------------------------------------------------------------
# The recommended rule (candidate for eicgeo/fringe.py)
# ---------------------------------------------------------------------------------------------
def classify_calibrated(
    roles: np.ndarray,
    grid: Grid,
    *,
    radius_m: float | None = None,
    urban_share: float = 0.5,
    fringe_share: float = 0.1,
    green_m: float = 100.0,
    min_core_km2: float | None = None,
) -> np.ndarray:
    """Fringe classes (3 urban, 2 fringe, 1 rural, 0 nodata) by the calibrated rule.

    1. built-up estimate: :func:`eicgeo.fringe.built_estimate` (urban green counted on maps of
       cells up to ``green_m / 3``);
    2. its mean within a disc of ``radius_m``: 1,000 m on those fine maps, 1,500 m on coarser
       ones (a village that is one solid block of urban fabric on a 100-300 m map would
       otherwise reach the fringe share);
    3. urban: mean at least ``urban_share`` in an 8-connected core of at least
       ``min_core_km2`` (default one disc, pi * radius**2: 3.1 km² or 7.1 km²); the cells of
       smaller cores are fringe (the Degree of Urbanisation's 50,000 people of an urban centre:
       a small town's dense core is a dense urban cluster, i.e. fringe);
    4. fringe: mean at least ``fringe_share``; rural: the rest with data.
    """
    fine = green_m > 0 and grid.resolution <= green_m / 3
    if radius_m is None:
        radius_m = 1000.0 if fine else 1500.0
    valid = roles != ROLE_CODE["nodata"]
    share = fringe.built_share(roles, grid, radius_m=radius_m, green_m=green_m if fine else 0.0)
    urban = (share >= urban_share) & valid
    if min_core_km2 is None:
        min_core_km2 = np.pi * (radius_m / 1000.0) ** 2
    if min_core_km2 > 0 and urban.any():
        cores, n = ndimage.label(urban, structure=np.ones((3, 3), dtype=bool))
        area_km2 = np.bincount(cores.ravel(), minlength=n + 1) * grid.cell_area_m2 / 1e6
        big = area_km2 >= min_core_km2
        big[0] = False
        urban = big[cores]
    out = np.where(urban, 3, np.where(share >= fringe_share, 2, 1)).astype(np.uint8)
    out[~valid] = 0
    return out


# ---------------------------------------------------------------------------------------------
# Other candidates
# ---------------------------------------------------------------------------------------------
def _simple(roles, grid, *, radius_m=1000.0, urban_share=0.5, fringe_share=0.1, green_m=0.0, min_core_km2=0.0, **_):
    return classify_calibrated(
        roles,
        grid,
        radius_m=radius_m,
        urban_share=urban_share,
        fringe_share=fringe_share,
        green_m=green_m,
        min_core_km2=min_core_km2,
    )


def _relative(roles, grid, *, urban=0.5, fringe_=0.1, q=0.99):
    """Thresholds relative to the product and region: fractions of the 99th percentile of the
    built-up share (1 km disc) at the built-up cells of the map."""
    valid = roles != 0
    share = fringe.built_share(roles, grid, radius_m=1000.0)
    top = (
        float(np.quantile(share[roles == ROLE_CODE["built_up"]], q)) if (roles == ROLE_CODE["built_up"]).any() else 1.0
    )
    out = np.where(share >= urban * top, 3, np.where(share >= fringe_ * top, 2, 1)).astype(np.uint8)
    out[~valid] = 0
    return out


def _package(legend: Legend, **kw):
    def run(roles, grid, lc):
        return np.asarray(fringe.from_landcover(lc, legend, **kw).values)

    return run


#: (short name, description, function(roles, grid, lc, legend) -> classes)
METHODS: list[tuple[str, str, Callable[..., np.ndarray]]] = [
    (
        "defaults",
        "the first defaults: 1 km disc, urban 0.5, fringe 0.1, built-up cells only, every core",
        lambda roles, grid, lc, legend: _package(legend, radius_m=1000.0, green_m=0.0, min_core_km2=0.0)(
            roles, grid, lc
        ),
    ),
    (
        "breakpoint",
        "the first defaults with `breakpoint=True`",
        lambda roles, grid, lc, legend: _package(
            legend, breakpoint=True, radius_m=1000.0, green_m=0.0, min_core_km2=0.0
        )(roles, grid, lc),
    ),
    (
        "radius 5 cells",
        "disc of max(1 km, 5 cells)",
        lambda roles, grid, lc, legend: _simple(roles, grid, radius_m=max(1000.0, 5 * grid.resolution)),
    ),
    (
        "relative",
        "urban 0.5 x and fringe 0.1 x the 99th percentile of the share at built-up cells",
        lambda roles, grid, lc, legend: _relative(roles, grid),
    ),
    (
        "relative 0.6/0.15",
        "urban 0.6 x and fringe 0.15 x that percentile",
        lambda roles, grid, lc, legend: _relative(roles, grid, urban=0.6, fringe_=0.15),
    ),
    (
        "urban green",
        "built-up estimate with urban green (maps up to 33 m), 1 km disc, 0.5 / 0.1",
        lambda roles, grid, lc, legend: _simple(roles, grid, green_m=100.0),
    ),
    (
        "green + core",
        "urban green and urban cores of at least one disc (3.1 km²), 1 km disc",
        lambda roles, grid, lc, legend: _simple(roles, grid, green_m=100.0, min_core_km2=np.pi),
    ),
    (
        "recommended",
        "urban green, cores of at least one disc, 1 km disc on fine maps and 1.5 km on coarse ones",
        lambda roles, grid, lc, legend: classify_calibrated(roles, grid),
    ),
    (
        "eicgeo",
        "`eicgeo.fringe.from_landcover` with its defaults (the recommended rule, as shipped)",
        lambda roles, grid, lc, legend: _package(legend)(roles, grid, lc),
    ),
]


# ---------------------------------------------------------------------------------------------
# Places and reference sites
# ---------------------------------------------------------------------------------------------
#: Reference sites: (name, latitude, longitude, class). 3 urban (inside the urban centre the
#: Degree of Urbanisation would draw: inner districts, with their parks and woods), 2 fringe
#: (towns under 50,000 people and suburbs: dense, semi-dense or suburban clusters), 1 rural
#: (villages under 5,000 people, farmland, forest), 0 ambiguous (listed, not scored).
SITES: dict[str, list[tuple[str, float, float, int]]] = {
    "saotome": [
        ("Sé Cathedral, city centre", 0.3366, 6.7330, 3),
        ("Riboque", 0.3310, 6.7260, 3),
        ("Quinta de Santo António", 0.3240, 6.7330, 3),
        ("Campo de Milho", 0.3270, 6.7200, 3),
        ("Bairro do Aeroporto", 0.3560, 6.7160, 3),
        ("Vila Maria, market", 0.3405, 6.7280, 3),
        ("Trindade (town)", 0.2960, 6.6810, 2),
        ("Guadalupe (town)", 0.3800, 6.6390, 2),
        ("Santana (town)", 0.2600, 6.7420, 2),
        ("Bobô Forro ribbon", 0.3110, 6.7120, 2),
        ("road ribbon west of the city", 0.3200, 6.7000, 2),
        ("Pantufo", 0.3060, 6.7450, 2),
        ("Monte Café (roça)", 0.3000, 6.6400, 1),
        ("forest west of the city", 0.3500, 6.6800, 1),
        ("forest, interior", 0.2700, 6.6500, 1),
        ("forest, south", 0.2200, 6.7000, 1),
        ("savanna, north coast", 0.3950, 6.6700, 1),
        ("forest, far west", 0.3200, 6.6200, 1),
        ("Água Izé (roça)", 0.2240, 6.7210, 1),
        ("Ribeira Afonso (village)", 0.1960, 6.7000, 1),
    ],
    "cayambe": [
        ("Cayambe, central square", 0.0410, -78.1450, 0),
        ("Cayambe, north", 0.0520, -78.1420, 0),
        ("Cayambe, south", 0.0300, -78.1500, 0),
        ("Ayora", 0.0600, -78.1380, 2),
        ("Tabacundo (town)", 0.0480, -78.2050, 2),
        ("Juan Montalvo", 0.0230, -78.1380, 2),
        ("El Quinche (town)", -0.1080, -78.2970, 2),
        ("Cangahua (village)", -0.0570, -78.1670, 1),
        ("Olmedo (village)", 0.1480, -78.0500, 1),
        ("páramo, Cayambe volcano", 0.0000, -78.0500, 1),
        ("páramo, Mojanda", 0.1000, -78.2500, 1),
        ("farmland south of Cayambe", -0.1000, -78.2000, 1),
        ("farmland east of Cayambe", 0.0500, -78.0900, 1),
        ("farmland, Cangahua plateau", -0.0300, -78.1000, 1),
        ("páramo south-east", -0.1100, -78.0500, 1),
    ],
    "augusta": [
        ("subdivisions, north-east", 33.5630, -82.1912, 2),
        ("subdivisions west of the creek", 33.5021, -82.2108, 2),
        ("subdivisions east of the creek", 33.5096, -82.1985, 2),
        ("subdivisions, east edge", 33.5267, -82.1900, 2),
        ("subdivisions near William Few Pkwy", 33.5424, -82.1927, 2),
        ("subdivisions south of I-20", 33.4722, -82.2106, 2),
        ("forest, west", 33.5500, -82.3800, 1),
        ("forest, centre-west", 33.5200, -82.3500, 1),
        ("forest and farms, south", 33.4800, -82.3000, 1),
        ("forest, north", 33.5800, -82.3000, 1),
        ("farmland, centre", 33.5000, -82.2600, 1),
        ("Appling (county seat, hamlet)", 33.5470, -82.3160, 1),
        ("I-20 through forest", 33.4950, -82.3600, 1),
        ("forest north of the quarry", 33.5700, -82.2500, 1),
        ("quarry", 33.5220, -82.2700, 1),
    ],
    "lausanne": [
        ("Place Saint-François", 46.5197, 6.6323, 3),
        ("Lausanne station", 46.5168, 6.6290, 3),
        ("Parc de Mon-Repos", 46.5195, 6.6410, 3),
        ("Parc de Milan", 46.5140, 6.6220, 3),
        ("Ouchy", 46.5080, 6.6280, 3),
        ("Chailly", 46.5300, 6.6500, 3),
        ("Bellevaux", 46.5370, 6.6340, 3),
        ("Sauvabelin woods", 46.5350, 6.6400, 3),
        ("Vallée de la Jeunesse (park)", 46.5240, 6.6110, 3),
        ("Prilly", 46.5355, 6.6035, 3),
        ("Renens station", 46.5375, 6.5785, 3),
        ("Pully", 46.5105, 6.6620, 3),
        ("Le Mont-sur-Lausanne", 46.5550, 6.6300, 2),
        ("Romanel-sur-Lausanne", 46.5640, 6.6080, 2),
        ("Cheseaux-sur-Lausanne", 46.5850, 6.6030, 2),
        ("Belmont-sur-Lausanne", 46.5195, 6.6790, 0),
        ("Echallens (town)", 46.6410, 6.6333, 2),
        ("Cossonay-Penthalaz (town)", 46.6100, 6.5270, 2),
        ("Gros-de-Vaud south of Echallens", 46.6250, 6.6300, 1),
        ("Gros-de-Vaud west of Echallens", 46.6400, 6.6100, 1),
        ("farmland Cheseaux-Etagnières", 46.6000, 6.6200, 1),
        ("Jorat woods", 46.5700, 6.7000, 1),
        ("farmland near Bottens", 46.6150, 6.6600, 1),
        ("farmland near Villars-le-Terroir", 46.6550, 6.6400, 1),
        ("farmland near Vufflens-la-Ville", 46.5800, 6.5500, 1),
        ("Venoge farmland near Lussery", 46.6370, 6.5150, 1),
    ],
    "bialystok": [
        ("Rynek Kościuszki (centre)", 53.1325, 23.1590, 3),
        ("Branicki Palace park", 53.1310, 23.1660, 3),
        ("Bojary", 53.1290, 23.1750, 3),
        ("Antoniuk", 53.1500, 23.1350, 3),
        ("Nowe Miasto", 53.1100, 23.1300, 3),
        ("Dziesięciny", 53.1520, 23.1600, 3),
        ("Białostoczek", 53.1480, 23.1800, 3),
        ("Zwierzyniec woods", 53.1180, 23.1560, 3),
        ("Wysoki Stoczek", 53.1600, 23.1700, 3),
        ("Skorupy", 53.1150, 23.1800, 3),
        ("Wasilków (town)", 53.1990, 23.2060, 2),
        ("Choroszcz (town)", 53.1440, 22.9850, 2),
        ("Łapy (town)", 52.9910, 22.8830, 2),
        ("Mońki (town)", 53.4060, 22.7960, 2),
        ("Zaścianki (suburb)", 53.1700, 23.0970, 2),
        ("Grabówka (suburb)", 53.1150, 23.2450, 2),
        ("Ignatki-Osiedle (suburb)", 53.0950, 23.1100, 2),
        ("Tykocin (small town, rural cluster)", 53.2050, 22.7740, 1),
        ("Knyszyn forest", 53.2500, 23.1000, 1),
        ("Narew valley", 53.0500, 22.9000, 1),
        ("farmland north-west", 53.3500, 22.8500, 1),
        ("farmland south-west", 53.0000, 22.7000, 1),
        ("Puszcza Knyszyńska, east", 53.1500, 23.4000, 1),
        ("Biebrza marshes", 53.6000, 22.6000, 1),
        ("farmland south-east", 52.9000, 23.3000, 1),
    ],
}
SITES["lausanne250"] = SITES["lausanne"]


@dataclass
class Place:
    key: str
    title: str
    product: str
    file: str
    legend: str
    resolution: float
    crs: str | None  # analysis CRS (None: the file's own projected CRS)
    form: str
    population: str | None = None  # people-density file for a Degree-of-Urbanisation reference
    loaded: dict[str, Any] = field(default_factory=dict)


PLACES = [
    Place(
        "saotome",
        "São Tomé",
        "ESA WorldCover 2021 v200, 10 m",
        "saotome-worldcover2021-10m.tif",
        "esa_worldcover",
        10,
        "EPSG:32632",
        "small dense tropical capital in forest",
    ),
    Place(
        "cayambe",
        "Cayambe",
        "ESA WorldCover, 10 m",
        "cayambe-worldcover-10m-epsg3857.tif",
        "esa_worldcover",
        10,
        "EPSG:32617",
        "Andean towns among flower greenhouses",
    ),
    Place(
        "augusta",
        "Augusta (GA) west",
        "NLCD 2011, 30 m",
        "augusta-nlcd2011-30m.tif",
        "nlcd",
        30,
        None,
        "low-density North American suburbs in forest",
    ),
    Place(
        "lausanne",
        "Lausanne",
        "CORINE 2006, 100 m",
        "lausanne-clc2006-100m.tif",
        "corine",
        100,
        "EPSG:2056",
        "compact European city",
    ),
    Place(
        "lausanne250",
        "Lausanne (250 m)",
        "CORINE 2006, 250 m",
        "lausanne-clc2006-250m.tif",
        "corine",
        250,
        "EPSG:2056",
        "the same, coarser",
    ),
    Place(
        "bialystok",
        "Białystok",
        "ESA CCI LC 2015, 300 m",
        "podlasie-esacci-lc2015-300m.tif",
        "esa_cci_lc",
        300,
        "EPSG:32634",
        "Central European city of 300,000 in farmland",
    ),
    Place(
        "assaba",
        "Assaba (Kiffa)",
        "MODIS MCD12Q1 2020, 500 m",
        "assaba-modis-mcd12q1-2020-500m.tif",
        "modis_igbp",
        463.3127165275,
        "EPSG:32628",
        "Sahelian region, one town",
        population="assaba-worldpop-pd2020-1km.tif",
    ),
]
#: The places whose mean agreement decides (Lausanne at 250 m is a resolution check).
SCORED = ["saotome", "cayambe", "augusta", "lausanne", "bialystok"]


def legend_of(place: Place) -> Legend:
    return get_legend(place.legend)


def load(place: Place) -> dict[str, Any]:
    if place.loaded:
        return place.loaded
    path = DATA / place.file
    bounds, src_crs = raster_footprint(path)
    if place.crs is None:
        grid = Grid.from_bounds(bounds, place.resolution, src_crs)
    else:
        grid = Grid.from_bounds(bounds, place.resolution, place.crs, bounds_crs=src_crs)
    lc = read_raster(path, grid, kind="categorical", name="landcover")
    legend = legend_of(place)
    roles = legend.role_codes(np.asarray(lc.values))
    place.loaded = {"grid": grid, "lc": lc, "legend": legend, "roles": roles}
    if place.population:
        place.loaded["reference"] = degurba_reference(DATA / place.population, grid)
    else:
        place.loaded["zones"] = site_zones(place.key, grid, roles)
    return place.loaded


# ---------------------------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------------------------
def people_per_cell(density_path: Path, out_path: Path) -> Path:
    """WorldPop density (people per km², geographic grid) to people per cell (x cell area)."""
    with rasterio.open(density_path) as src:
        d = src.read(1, masked=True).astype("float64")
        t = src.transform
        geod = Geod(ellps="WGS84")
        lats = t.f + t.e * (np.arange(src.height) + 0.5)
        area_km2 = np.array(
            [
                abs(
                    geod.polygon_area_perimeter(
                        [t.c, t.c + t.a, t.c + t.a, t.c], [la - t.e / 2, la - t.e / 2, la + t.e / 2, la + t.e / 2]
                    )[0]
                )
                / 1e6
                for la in lats
            ]
        )
        profile = src.profile | {"dtype": "float32", "nodata": np.nan}
    with rasterio.open(out_path, "w", **profile) as dst:
        dst.write(np.ma.filled(d * area_km2[:, None], np.nan).astype("float32"), 1)
    return out_path


def degurba_reference(density_path: Path, grid: Grid) -> np.ndarray:
    """Fringe classes of the Degree of Urbanisation (no band) on 100 m cells, sampled at ``grid``."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        people = people_per_cell(density_path, Path(tmp) / "people.tif")
        fine = Grid.from_bounds(grid.bounds, 100, grid.crs)
        pop = read_raster(people, fine, kind="quantity", name="population")
    ref = np.asarray(fringe.classes(fringe.degurba(pop), band_km=0).values)
    xx, yy = np.meshgrid(grid.xs, grid.ys)
    rr, cc = fine.rowcol(xx, yy)
    return ref[np.clip(rr, 0, fine.height - 1), np.clip(cc, 0, fine.width - 1)]


def site_zones(key: str, grid: Grid, roles: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, int, str]]:
    """Cells with data within ``ZONE_M`` of each site (at least the site's own cell)."""
    to_grid = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
    k = int(ZONE_M // grid.resolution)
    yy, xx = np.mgrid[-k : k + 1, -k : k + 1]
    inside = (xx**2 + yy**2) * grid.resolution**2 <= ZONE_M**2
    dy, dx = yy[inside], xx[inside]
    zones = []
    for name, lat, lon, cls in SITES[key]:
        x, y = to_grid.transform(lon, lat)
        r0, c0 = (int(v) for v in grid.rowcol(x, y))
        if not (0 <= r0 < grid.height and 0 <= c0 < grid.width) or roles[r0, c0] == 0:
            msg = f"site {name!r} of {key} is outside the land cover"
            raise ValueError(msg)
        rr, cc = r0 + dy, c0 + dx
        ok = (rr >= 0) & (rr < grid.height) & (cc >= 0) & (cc < grid.width)
        rr, cc = rr[ok], cc[ok]
        ok = roles[rr, cc] > 0
        zones.append((rr[ok], cc[ok], cls, name))
    return zones


# ---------------------------------------------------------------------------------------------
# Agreement
# ---------------------------------------------------------------------------------------------
def agreement(confusion: np.ndarray) -> dict[str, float]:
    """Per-class hit rates, overall accuracy and Cohen's kappa of a 3 x 3 confusion matrix
    (rows reference rural, fringe, urban; columns the classification)."""
    n = confusion.sum()
    po = np.trace(confusion) / n
    pe = (confusion.sum(0) * confusion.sum(1)).sum() / n**2
    hit = {
        k: confusion[i, i] / confusion[i].sum() if confusion[i].sum() > 0 else np.nan
        for i, k in enumerate(("rural", "fringe", "urban"))
    }
    return {
        "urban": hit["urban"],
        "fringe": hit["fringe"],
        "rural": hit["rural"],
        "oa": po,
        "kappa": (po - pe) / (1 - pe) if pe < 1 else np.nan,
    }


def confusion_sites(zones, out: np.ndarray) -> tuple[np.ndarray, list[np.ndarray | None]]:
    m = np.zeros((3, 3))
    per_site = []
    for rr, cc, cls, _ in zones:
        got = out[rr, cc]
        frac = np.array([(got == k).mean() for k in (1, 2, 3)])
        per_site.append(frac if cls else None)
        if cls:
            m[cls - 1] += frac
    return m, per_site


def confusion_cells(ref: np.ndarray, out: np.ndarray) -> np.ndarray:
    ok = (ref > 0) & (out > 0)
    m = np.zeros((3, 3))
    np.add.at(m, (ref[ok].astype(int) - 1, out[ok].astype(int) - 1), 1)
    return m


def classify(method, place_data) -> np.ndarray:
    return method(place_data["roles"], place_data["grid"], place_data["lc"], place_data["legend"])


def evaluate(places=PLACES, methods=METHODS) -> pd.DataFrame:
    rows = []
    for place in places:
        d = load(place)
        for short, _, fn in methods:
            out = classify(fn, d)
            if "reference" in d:
                m = confusion_cells(d["reference"], out)
            else:
                m, _ = confusion_sites(d["zones"], out)
            rows.append({"place": place.key, "method": short, **agreement(m)})
    return pd.DataFrame(rows)


def sample_region_check(methods=METHODS) -> pd.DataFrame:
    """The synthetic demo region: land cover against the Degree of Urbanisation of its own
    population grid (sanity check only: both are generated by eicgeo.datasets.synth)."""
    bounds, src_crs = raster_footprint(SAMPLE / "landcover.tif")
    grid = Grid.from_bounds(bounds, 30, "auto", bounds_crs=src_crs)
    lc = read_raster(SAMPLE / "landcover.tif", grid, kind="categorical", name="landcover")
    legend = get_legend("esa_worldcover")
    d = {"grid": grid, "lc": lc, "legend": legend, "roles": legend.role_codes(np.asarray(lc.values))}
    pop = read_raster(SAMPLE / "population.tif", Grid.from_bounds(grid.bounds, 100, grid.crs), kind="quantity")
    ref100 = np.asarray(fringe.classes(fringe.degurba(pop), band_km=0).values)
    g100 = Grid.from_dataarray(pop)
    xx, yy = np.meshgrid(grid.xs, grid.ys)
    rr, cc = g100.rowcol(xx, yy)
    ref = ref100[np.clip(rr, 0, g100.height - 1), np.clip(cc, 0, g100.width - 1)]
    rows = [
        {"place": "sample (synthetic)", "method": s, **agreement(confusion_cells(ref, classify(fn, d)))}
        for s, _, fn in methods
    ]
    return pd.DataFrame(rows)


def nlcd21_check() -> pd.DataFrame:
    """NLCD 21 "developed, open space" as grass_shrub (the legend's choice) or as built_up."""
    place = next(p for p in PLACES if p.key == "augusta")
    d = dict(load(place))
    rows = []
    for role in ("grass_shrub", "built_up"):
        legend = d["legend"]
        classes = tuple(LegendClass(c.code, c.name, role if c.code == 21 else c.role, c.color) for c in legend.classes)
        alt = Legend(legend.name, classes)
        dd = d | {"legend": alt, "roles": alt.role_codes(np.asarray(d["lc"].values))}
        for short, _, fn in METHODS:
            if short in ("defaults", "recommended"):
                m, _ = confusion_sites(d["zones"], classify(fn, dd))
                rows.append({"NLCD 21 as": role, "method": short, **agreement(m)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------
def _pct(v: float) -> str:
    return "–" if not np.isfinite(v) else f"{100 * v:.0f}"


def markdown(df: pd.DataFrame) -> str:
    lines = [
        "| place | product | method | urban→urban % | fringe→fringe % | rural→rural % | OA % | kappa |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    titles = {p.key: (p.title, p.product) for p in PLACES}
    for _, r in df.iterrows():
        title, product = titles.get(r.place, (r.place, "synthetic WorldCover-like, 30 m"))
        lines.append(
            f"| {title} | {product} | {r.method} | {_pct(r.urban)} | {_pct(r.fringe)} | {_pct(r.rural)} | "
            f"{_pct(r.oa)} | {r.kappa:.2f} |"
        )
    return "\n".join(lines)


def summary(df: pd.DataFrame) -> str:
    scored = df[df.place.isin(SCORED)]
    lines = [
        "| method | mean kappa (5 places) | lowest kappa | mean urban→urban % | mean fringe→fringe % | "
        "mean rural→rural % | Lausanne 250 m kappa |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for short, _, _ in METHODS:
        s = scored[scored.method == short]
        l250 = df[(df.place == "lausanne250") & (df.method == short)].kappa
        lines.append(
            f"| {short} | {s.kappa.mean():.2f} | {s.kappa.min():.2f} | {_pct(s.urban.mean())} | "
            f"{_pct(s.fringe.mean())} | {_pct(s.rural.mean())} | {l250.iloc[0]:.2f} |"
        )
    return "\n".join(lines)


def site_listing() -> str:
    lines = []
    for place in PLACES:
        d = load(place)
        if "zones" not in d:
            continue
        outs = {
            s: confusion_sites(d["zones"], classify(fn, d))[1]
            for s, _, fn in METHODS
            if s in ("defaults", "recommended")
        }
        outs_all = {s: classify(fn, d) for s, _, fn in METHODS if s in ("defaults", "recommended")}
        lines.append(f"\n{place.title} ({place.product})")
        for _i, (rr, cc, cls, name) in enumerate(d["zones"]):
            got = "  ".join(f"{s}: {np.bincount(outs_all[s][rr, cc], minlength=4)[1:].argmax() + 1}" for s in outs)
            lines.append(f"  ref {cls}  {got}  {name}")
    return "\n".join(lines)


def figure(place: Place, path: Path, window: tuple[float, float, float, float] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    d = load(place)
    grid, roles = d["grid"], d["roles"]
    panels = [("land cover (roles)", roles, "roles")]
    for short, _, fn in METHODS:
        if short in ("defaults", "recommended"):
            panels.append((f"{short}", classify(fn, d), "fringe"))
    role_cmap = ListedColormap(["white", "#d7191c", "#f3e6a2", "#b8d67a", "#2b7a3b", "#4a90d9", "#7fd1d1", "#b0b0b0"])
    fringe_cmap = ListedColormap(["white", "#efe9d5", "#f0a43a", "#b2182b"])
    b = grid.bounds
    ext = [(b[0] - b[0]) / 1000, (b[2] - b[0]) / 1000, 0, (b[3] - b[1]) / 1000]
    wx, wy = (window[1] - window[0], window[3] - window[2]) if window else (ext[1], ext[3])
    fig, axs = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.6 * wy / wx + 0.8), constrained_layout=True)
    to_grid = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
    colors = {3: "#b2182b", 2: "#f0a43a", 1: "#4fa8d8", 0: "#999999"}
    for ax, (title, arr, kind) in zip(axs, panels, strict=False):
        if kind == "roles":
            ax.imshow(roles, cmap=role_cmap, vmin=0, vmax=7, interpolation="nearest", extent=ext)
        else:
            ax.imshow(arr, cmap=fringe_cmap, vmin=0, vmax=3, interpolation="nearest", extent=ext)
            # water is rural in the classes; drawn as water here so that the sea does not read as farmland
            water = np.where(roles == ROLE_CODE["water"], 1.0, np.nan)
            ax.imshow(water, cmap=ListedColormap(["#cfe3f3"]), interpolation="nearest", extent=ext)
        for _, lat, lon, cls in SITES[place.key]:
            x, y = to_grid.transform(lon, lat)
            ax.plot((x - b[0]) / 1000, (y - b[1]) / 1000, "o", ms=7, mfc=colors[cls], mec="black", mew=0.8)
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("km")
        if window:
            ax.set_xlim(window[0], window[1])
            ax.set_ylim(window[2], window[3])
    axs[0].set_ylabel("km")
    handles = [
        Patch(color="#b2182b", label="urban (3)"),
        Patch(color="#f0a43a", label="fringe (2)"),
        Patch(color="#efe9d5", label="rural (1)"),
        Patch(color="#cfe3f3", label="water (rural)"),
    ]
    handles += [
        Line2D([], [], marker="o", ls="", mfc=colors[k], mec="black", label=f"reference site: {n}")
        for k, n in ((3, "urban"), (2, "fringe"), (1, "rural"), (0, "ambiguous"))
    ]
    axs[-1].legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)
    role_handles = [
        Patch(color=role_cmap(i), label=n)
        for i, n in enumerate(["nodata", "built-up", "cropland", "grass/shrub", "forest", "water", "wetland", "bare"])
        if i
    ]
    axs[0].legend(handles=role_handles, loc="lower right", fontsize=7, framealpha=0.9)
    fig.suptitle(
        f"{place.title}: {place.product}. Reference sites against the first defaults "
        "and the calibrated rule (eicgeo's defaults)",
        fontsize=12,
    )
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-figures", action="store_true")
    ap.add_argument("--sites", action="store_true", help="list every reference site and its class per method")
    args = ap.parse_args(argv)
    df = evaluate()
    print("## Agreement per place and method\n")
    print(markdown(df))
    print("\n## Summary over the five places with reference sites\n")
    print(summary(df))
    print("\n## NLCD 21 (developed, open space): grass_shrub or built_up (Augusta)\n")
    n21 = nlcd21_check()
    print("| NLCD 21 as | method | fringe→fringe % | rural→rural % | kappa |\n| --- | --- | ---: | ---: | ---: |")
    for _, r in n21.iterrows():
        print(f"| {r['NLCD 21 as']} | {r.method} | {_pct(r.fringe)} | {_pct(r.rural)} | {r.kappa:.2f} |")
    print("\n## On the pipeline's default grid (100 m cells, the land cover resampled to it)\n")
    coarse = [dataclasses.replace(p, resolution=max(p.resolution, 100.0), loaded={}) for p in PLACES]
    keep = [m for m in METHODS if m[0] in ("defaults", "eicgeo")]
    print(markdown(evaluate(coarse, keep)))
    print("\n## Synthetic sample region (sanity check, not evidence)\n")
    print(markdown(sample_region_check()))
    if args.sites:
        print(site_listing())
    if not args.no_figures:
        IMG.mkdir(parents=True, exist_ok=True)
        by_key = {p.key: p for p in PLACES}
        figure(by_key["saotome"], IMG / "fringe_study_saotome.png", window=(2.0, 20.0, 1.0, 26.0))
        figure(by_key["bialystok"], IMG / "fringe_study_bialystok.png", window=(20.0, 88.0, 10.0, 80.0))
        print("\nfigures: docs/img/fringe_study_saotome.png, docs/img/fringe_study_bialystok.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
