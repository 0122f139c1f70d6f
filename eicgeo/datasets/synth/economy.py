"""Raw-material sources, firms and their by-product flows.

:func:`raw_material_sources` places quarries' output, clay pits, sand dredging, plantations, husk,
bagasse and water. :func:`place_firms` places each sector's firms (``data/sectors.toml``) where
such firms really are, fills in their recipes and makes sure every by-product flow of
``data/flows.csv`` has a producer and a user near each other; :func:`firms_table` names them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage
from scipy.spatial import cKDTree
from shapely.geometry import Point

from eicgeo.datasets.synth.frame import LC_RES, Frame
from eicgeo.datasets.synth.land import BUILT, CROP, GRASS, SHRUB, TREE, WATER, WETLAND, Land, burn, urban_grid
from eicgeo.datasets.synth.names import Namer
from eicgeo.datasets.synth.plan import Plan
from eicgeo.datasets.synth.shapes import blob, poisson_disc
from eicgeo.datasets.synth.tables import read_csv, read_toml

__all__ = ["firms_table", "place_firms", "raw_material_sources"]


# --------------------------------------------------------------------------------------------
# Raw-material sources
# --------------------------------------------------------------------------------------------


def _sig(v: float, digits: int = 3) -> float:
    """``v`` rounded to ``digits`` significant figures."""
    return float(f"{v:.{digits}g}")


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A draw between ``lo`` and ``hi`` whose logarithm is uniform."""
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def raw_material_sources(rng: np.random.Generator, plan: Plan, land: Land, namer: Namer) -> gpd.GeoDataFrame:
    """Raw-material sources in the km frame with tonnes per year (water in m3 = tonnes).

    Limestone quarries 0.8-3 Mt/yr, hard-rock quarries 0.2-0.8 Mt/yr, clay pits 20-120 kt/yr,
    river sand 50-300 kt/yr, plantation stands at 8 t/ha/yr, rice husk at 20 % of village paddy
    (0.6 ha of paddy per villager, two crops of 4.3 t/ha), bagasse at 28 % of cane from
    1,500-4,000 ha catchments at 70 t/ha, river intakes 5-60 Mm3/yr, reservoirs 20-100 Mm3/yr.
    """
    f = plan.frame.factor
    rows: list[tuple[str, str, float, shapely.Geometry]] = []
    for name, material, poly in plan.quarries:
        t = rng.uniform(0.8e6, 3.0e6) if material == "limestone" else rng.uniform(0.2e6, 0.8e6)
        rows.append((name, material, t, poly))
    dens = plan.urban_density
    clay_mask = (land.river_km > 0.4) & (land.river_km < 3.0) & (land.lc == CROP)
    clay = land.cells(clay_mask, 400 * f, rng)
    for p in poisson_disc(rng, clay[dens(clay[:, 0], clay[:, 1]) < 500], 5 * f, 3.0):
        rows.append((f"{namer.place()} clay pit", "clay", rng.uniform(20e3, 120e3), Point(p)))
    bank = plan.river.xy[land.frame.inside(plan.river.xy[:, 0], plan.river.xy[:, 1], 0.5)]
    bank = bank[dens(bank[:, 0], bank[:, 1]) < 1500]
    for p in poisson_disc(rng, bank, 4 * f, 4.0):
        rows.append((f"{plan.river.name} sand dredging site", "sand", rng.uniform(50e3, 300e3), Point(p)))
    forest = (land.lc == TREE) & (land.hill > 0.8)
    fr = plan.frame
    box = shapely.box(-fr.hx + 0.05, -fr.hy + 0.05, fr.hx - 0.05, fr.hy - 0.05)
    for p in poisson_disc(rng, land.cells(forest, 400 * f, rng), 4 * f, 4.0):
        stand = blob(p, rng.uniform(0.9, 1.6), rng, rough=0.25, n=36).intersection(box)
        rows.append((f"Pa {namer.word()} plantation stand", "timber", stand.area * 100 * 8.0, stand))
    cane_share = ndimage.uniform_filter(land.cane.astype(np.float32), 61)
    for v in plan.villages:
        rice = 1.0 - float(land.sample(cane_share, v.x, v.y))
        husk = 0.6 * v.population * rice * 2 * 4.3 * 0.2
        if husk >= 300:
            p = v.xy + rng.normal(0, 0.1, 2)
            rows.append((f"{v.name} husk collection point", "rice_husk", husk, Point(p)))
    for p in poisson_disc(rng, land.cells(land.cane, 400 * f, rng), 5 * f, 5.0):
        cane = rng.uniform(1500, 4000) * 70.0
        rows.append((f"{namer.place()} cane loading yard", "bagasse", 0.28 * cane, Point(p)))
    town_side = plan.river.xy[(dens(plan.river.xy[:, 0], plan.river.xy[:, 1]) > 300)]
    for p in poisson_disc(rng, town_side, 3 * f, 5.0):
        rows.append((f"{plan.river.name} raw water intake", "water", rng.uniform(5e6, 60e6), Point(p)))
    for name, poly in plan.reservoirs:
        outlet = shapely.get_coordinates(poly.exterior)
        p = outlet[np.argmin(plan.terrain.at(outlet[:, 0], outlet[:, 1]))]
        rows.append((f"{name} outlet", "water", rng.uniform(20e6, 100e6), Point(p)))
    return gpd.GeoDataFrame(
        {
            "source_id": [f"S{k:04d}" for k in range(1, len(rows) + 1)],
            "name": [r[0] for r in rows],
            "material": [r[1] for r in rows],
            "tonnes_per_year": [_sig(r[2]) for r in rows],
        },
        geometry=[r[3] for r in rows],
    )


# --------------------------------------------------------------------------------------------
# Firms and their by-product flows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Variant:
    """A kind of firm within a sector: what it has in place of the sector's label, size and recipe."""

    label: str = ""
    size: tuple[float, float] | None = None
    inputs: dict[str, float] | None = None
    outputs: dict[str, float] | None = None


@dataclass(frozen=True)
class _Sector:
    """A sector's typical firm: count in the S region, where it sits, size and material recipe.

    ``size`` is the capacity range (log-uniform) in the unit of the recipe's reference flow;
    ``inputs`` and ``outputs`` are tonnes (energy: MWh) per unit of capacity. Materials in
    ``optional`` are used by about half of the firms. ``variants`` are kinds of firm of the
    sector with their own recipe (see ``data/sectors.toml``).
    """

    label: str
    count: int
    where: tuple[str, ...]
    size: tuple[float, float]
    employees: tuple[float, float]
    inputs: dict[str, float]
    outputs: dict[str, float]
    optional: tuple[str, ...] = ()
    variants: dict[str, _Variant] = field(default_factory=dict)


def _sector(table: dict[str, Any]) -> _Sector:
    """A sector from its table in ``data/sectors.toml``."""
    variants = {
        name: _Variant(v.get("label", ""), tuple(v["size"]) if "size" in v else None, v.get("inputs"), v.get("outputs"))
        for name, v in table.get("variants", {}).items()
    }
    return _Sector(
        table["label"],
        table["count"],
        tuple(table["where"]),
        tuple(table["size"]),
        tuple(table["employees"]),
        table["inputs"],
        table["outputs"],
        tuple(table.get("optional", ())),
        variants,
    )


# The sectors in file order, which is the order firms are placed and listed in.
_SECTORS: dict[str, _Sector] = {name: _sector(t) for name, t in read_toml("sectors.toml").items()}
# Biogas yield (MWh per tonne of feedstock) of the digester inputs.
_BIOGAS_YIELD: dict[str, float] = {r["material"]: float(r["mwh_per_tonne"]) for r in read_csv("biogas_yield.csv")}
# By-product flows the sample must contain within 33 km (material, producer, users).
_FLOWS: tuple[tuple[str, str, tuple[str, ...]], ...] = tuple(
    (r["material"], r["producer"], tuple(r["users"].split(";"))) for r in read_csv("flows.csv")
)


@dataclass
class _Firm:
    """A placed firm: its sector, position (km), capacity, variant and yearly flows."""

    sector: str
    xy: np.ndarray
    capacity: float
    variant: str = ""
    inputs: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, float] = field(default_factory=dict)


class _Sites:
    """Where firms of each kind can sit (candidate masks on the land-cover grid)."""

    def __init__(self, plan: Plan, land: Land) -> None:
        self.plan, self.land = plan, land
        xs, ys = land.xs, land.ys
        lc = land.lc
        dens = urban_grid(plan, xs, ys)
        dry = (lc != WATER) & (lc != WETLAND)
        cell = (LC_RES * plan.frame.ky, LC_RES * plan.frame.kx)
        quarry = burn([q[2] for q in plan.quarries if q[1] == "limestone"], plan.frame, lc.shape) > 0
        to_quarry = (
            ndimage.distance_transform_edt(~quarry, sampling=cell) if quarry.any() else np.full(lc.shape, np.inf)
        )
        forest = (lc == TREE) & (land.hill > 0)
        to_forest = (
            ndimage.distance_transform_edt(~forest, sampling=cell) if forest.any() else np.full(lc.shape, np.inf)
        )
        plain = land.hill < -0.2
        self.masks = {
            "estate": land.estate > 0,
            "urban": (lc == BUILT) & (dens > 1500) & (dens < 12000) & (land.estate == 0),
            "fringe": dry & plain & (dens > 200) & (dens < 2500) & (land.estate == 0) & (lc != TREE),
            "cane": land.cane,
            "hills": dry
            & (to_quarry > 0.8)
            & (to_quarry < 5.0)
            & (land.hill < 0.3)
            & np.isin(lc, (CROP, GRASS, SHRUB)),
            "river": dry & plain & (land.river_km > 0.3) & (land.river_km < 2.0) & (dens < 3000) & (lc != BUILT),
            "forest": dry & (to_forest > 0.3) & (to_forest < 4.0) & (land.hill < 0.2) & (lc != TREE) & (dens < 1500),
            "rural": (lc == CROP) & (dens < 300),
            "city_wwtp": dry
            & (land.river_km > 0.2)
            & (land.river_km < 1.0)
            & (plan.city.density(xs[None, :], ys[:, None]) > 800)
            & (plan.city.density(xs[None, :], ys[:, None]) < 5000)
            & (land.estate == 0),
        }
        self.dry = dry
        self.flat: dict[str, np.ndarray] = {}

    def points(self, rule: str, n: int, rng: np.random.Generator, firms: list[_Firm]) -> np.ndarray:
        """Up to ``n`` candidate points (km) for a placement ``rule``."""
        land = self.land
        if rule == "village":
            vs = self.plan.villages
            w = np.array([v.population for v in vs])
            pick = rng.choice(len(vs), n, p=w / w.sum())
            ang = rng.uniform(0, 2 * np.pi, n)
            dist = np.array([vs[k].radius for k in pick]) + rng.uniform(0.05, 0.4, n)
            pts = np.array([vs[k].xy for k in pick]) + dist[:, None] * np.column_stack([np.cos(ang), np.sin(ang)])
            return pts[land.sample(self.dry, pts[:, 0], pts[:, 1])]
        if rule == "sugar":
            mills = [f.xy for f in firms if f.sector == "sugar_mill"]
            if not mills:
                return self.points("cane", n, rng, firms)
            base = np.array(mills)[rng.integers(0, len(mills), n)]
            ang = rng.uniform(0, 2 * np.pi, n)
            pts = base + rng.uniform(0.5, 3.0, n)[:, None] * np.column_stack([np.cos(ang), np.sin(ang)])
            return pts[land.sample(self.dry, pts[:, 0], pts[:, 1]) & self.plan.frame.inside(pts[:, 0], pts[:, 1], 0.2)]
        if rule == "wwtp":
            return self.points("city_wwtp", n, rng, firms)
        if rule not in self.flat:
            flat = np.flatnonzero(self.masks[rule])
            self.flat[rule] = flat if flat.size else np.flatnonzero(self.masks["rural"])
        return land.cells(self.flat[rule], n, rng)


def _recipe(rng: np.random.Generator, firm: _Firm, spec: _Sector) -> None:
    """Fill a firm's inputs and outputs (tonnes or MWh per year) from its sector recipe."""
    # The optional inputs are drawn even when a variant replaces them, as the random stream expects.
    inputs = {m: c for m, c in spec.inputs.items() if m not in spec.optional or rng.random() < 0.5}
    outputs = dict(spec.outputs)
    variant = spec.variants.get(firm.variant)
    if variant is not None:
        if variant.inputs is not None:
            inputs = dict(variant.inputs)
        if variant.outputs is not None:
            outputs = dict(variant.outputs)
    elif firm.sector == "quarry":
        outputs = {firm.variant: 1.0}
    if firm.sector == "biogas_plant":
        outputs["biogas"] = sum(_BIOGAS_YIELD.get(m, 0.0) * c for m, c in inputs.items())
        outputs["digestate"] = 0.9 * sum(inputs.values())
    firm.inputs = {m: _sig(c * firm.capacity) for m, c in inputs.items()}
    firm.outputs = {m: _sig(c * firm.capacity) for m, c in outputs.items()}


def _employees(rng: np.random.Generator, spec: _Sector, capacity: float) -> int:
    """Employees growing with capacity (power law between the sector's small and large firm)."""
    lo, hi = spec.size
    (e0, e1) = spec.employees
    share = 0.5 if hi <= lo else (math.log(capacity) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return max(
        2,
        round(math.exp(math.log(e0) + share * (math.log(e1) - math.log(e0)) + rng.normal(0, 0.2))),
    )


def place_firms(
    rng: np.random.Generator, plan: Plan, land: Land, sources: gpd.GeoDataFrame, namer: Namer
) -> list[_Firm]:
    """About 240 firms (S) in 23 sectors, placed where such firms really are."""
    sites = _Sites(plan, land)
    scale = {1: 1.0, 4: 3.5, 16: 12.0, 64: 45.0}[plan.frame.factor]
    firms: list[_Firm] = []
    for sector, spec in _SECTORS.items():
        if sector == "quarry":
            for _, src in sources[sources.material.isin(["limestone", "quarry_stone"])].iterrows():
                c = src.geometry.centroid
                firm = _Firm(sector, np.array([c.x, c.y]), src.tonnes_per_year, variant=src.material)
                firms.append(firm)
            continue
        n = 1 + len(plan.towns) if sector == "wastewater_treatment" else max(1, round(spec.count * scale))
        for k in range(n):
            rule = spec.where[k % len(spec.where)]
            if sector == "wastewater_treatment" and k > 0:
                t = plan.towns[k - 1]
                ang = rng.uniform(0, 2 * np.pi, 50)
                cand = t.xy + rng.uniform(1.2, 2.5, 50)[:, None] * np.column_stack([np.cos(ang), np.sin(ang)])
                cand = cand[
                    land.sample(sites.dry, cand[:, 0], cand[:, 1]) & plan.frame.inside(cand[:, 0], cand[:, 1], 0.2)
                ]
            else:
                cand = sites.points(rule, 20, rng, firms)
            if len(cand) == 0:
                cand = sites.points("rural", 20, rng, firms)
            cap = _loguniform(rng, *spec.size)
            variant = ""
            if sector == "biomass_power":
                variant = {"sugar": "bagasse", "estate": "mixed"}.get(rule, "husk")
            elif sector == "biogas_plant":
                variant = "industrial" if rule in ("estate", "sugar") else "farm"
            elif sector == "livestock_farm":
                variant = "poultry" if rng.random() < 0.4 else "pig"
            size = spec.variants[variant].size if variant in spec.variants else None
            if size is not None:  # drawn after the sector's size, as the random stream expects
                cap = _loguniform(rng, *size)
            firms.append(_Firm(sector, cand[0], cap, variant))
    for firm in firms:
        _recipe(rng, firm, _SECTORS[firm.sector])
    _ensure_flows(rng, firms, sites)
    return firms


def _ensure_flows(rng: np.random.Generator, firms: list[_Firm], sites: _Sites, max_km: float = 28.0) -> None:
    """Make sure each listed by-product has a producer and a user within ``max_km``.

    When a flow is missing, a producer is moved (within its own placement rule) next to a user;
    failing that, a user is moved next to a producer.
    """
    for material, producer, users in _FLOWS:
        prod = [f for f in firms if f.sector == producer and material in f.outputs]
        use = [f for f in firms if f.sector in users and material in f.inputs]
        if not use:
            cand = [f for f in firms if f.sector in users]
            f = cand[int(rng.integers(len(cand)))]
            base = _SECTORS[f.sector].inputs.get(material, 0.05)
            f.inputs[material] = _sig(base * f.capacity)
            use = [f]
        if not prod:
            continue
        a, b = np.array([f.xy for f in prod]), np.array([f.xy for f in use])
        if (np.hypot(*(a[:, None] - b[None]).transpose(2, 0, 1)) <= max_km).any():
            continue
        for mover, anchors in ((prod, b), (use, a)):
            f = mover[int(rng.integers(len(mover)))]
            rules = dict.fromkeys(_SECTORS[f.sector].where)  # ordered: sets of str are not deterministic
            cand = np.vstack([sites.points(r, 400, rng, firms) for r in rules])
            near = cand[cKDTree(anchors).query(cand)[0] < max_km - 3]
            if len(near):
                f.xy = near[0]
                break


def firms_table(frame: Frame, firms: list[_Firm], rng: np.random.Generator, namer: Namer) -> pd.DataFrame:
    """The firm register: a name, employees and the flows of each firm, in EPSG:4326.

    Parameters
    ----------
    frame
        The region's frame, to convert the firms' km positions to longitude and latitude.
    firms
        The firms of :func:`place_firms`, in their order (which gives the ``F0001`` ids).
    rng, namer
        The region's generator and namer: names and employee counts are drawn here.

    Returns
    -------
    pandas.DataFrame
        Columns ``firm_id``, ``name``, ``sector``, ``lon``, ``lat``, ``employees``, ``inputs`` and
        ``outputs`` (``material:amount`` items joined by ``;``).
    """
    xy = np.array([f.xy for f in firms])
    lon, lat = frame.lonlat(xy[:, 0], xy[:, 1])

    def fmt(flows: dict[str, float]) -> str:
        return ";".join(f"{m}:{v:.0f}" if v >= 100 else f"{m}:{v:g}" for m, v in flows.items())

    names = []
    for f in firms:
        spec = _SECTORS[f.sector]
        variant = spec.variants.get(f.variant)
        label = variant.label if variant is not None and variant.label else spec.label
        suffix = " Co., Ltd." if rng.random() < 0.4 else ""
        names.append(f"{namer.firm()} {label}{suffix}")
    return pd.DataFrame(
        {
            "firm_id": [f"F{k:04d}" for k in range(1, len(firms) + 1)],
            "name": names,
            "sector": [f.sector for f in firms],
            "lon": np.round(lon, 6),
            "lat": np.round(lat, 6),
            "employees": [_employees(rng, _SECTORS[f.sector], f.capacity) for f in firms],
            "inputs": [fmt(f.inputs) for f in firms],
            "outputs": [fmt(f.outputs) for f in firms],
        }
    )
