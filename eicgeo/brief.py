"""The brief a policy author hands on: ``report.html`` (self-contained) and ``report.pdf``.

One content model, :class:`Brief`, is built from a run's :class:`~eicgeo.pipeline.Result` in plain
language: a first page (the region, the question, the top zones in a sentence each, the
caveats), the static map, one card per ranked zone (where it is, its size and kind, what it
scores on each criterion, its by-product partners, how stable its rank is, what it takes from
green space) and the method. :func:`to_html` and :func:`to_pdf` lay the same content out; the
PDF is drawn with reportlab, which installs from the package index with no system library.
"""

from __future__ import annotations

import ast
import base64
import html
import io as _io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from eicgeo import mcda, symbiosis, zones
from eicgeo.constraints import EXCLUSION_REASONS
from eicgeo.criteria import REGISTRY

if TYPE_CHECKING:
    from eicgeo.pipeline import Result

__all__ = ["Brief", "Card", "build", "criterion_label", "scoring", "to_html", "to_pdf", "write", "zone_cards"]

#: Criterion names in words.
_LABELS = {
    "landcover": "Land cover",
    "road_access": "Road access",
    "market_access": "Market access",
    "labour_access": "Labour access",
    "material_access": "Raw-material access",
    "equal_access": "Equal access to markets and materials",
    "symbiosis_potential": "By-product exchange potential",
}
#: The units of each built-in criterion's raw values.
_RAW_UNITS = {"symbiosis_potential": "t/yr"}
#: The zone-score indicators in words.
_INDICATORS = {
    "suitability": "mean suitability",
    "symbiosis": "by-product tonnes exchanged by the zone's firms",
    "symbiosis_reach": "by-product tonnes offered within reach",
    "n_firms": "firms within 2 km",
    "market": "minutes to the nearest urban centre",
    "materials": "minutes to raw materials",
    "equal_access": "equal access",
    "rural_pop": "rural people within 30 minutes",
    "green_loss": "green space taken",
}
_KIND = {"cluster": "around an existing firm cluster", "greenfield": "greenfield site"}
_TOP_SENTENCES = 5
_CHART_CAPTION = (
    "Blue: what each criterion adds to the zone's suitability (weight × its 0–1 score over the zone); "
    "grey: the most it could add (its weight)."
)


def criterion_label(name: str) -> str:
    """A criterion's name in words.

    Examples
    --------
    >>> criterion_label("market_access"), criterion_label("material_access:rice_husk"), criterion_label("flood_depth")
    ('Market access', 'Access to rice husk', 'Flood depth')
    """
    if name.startswith("material_access:"):
        return "Access to " + name.split(":", 1)[1].replace("_", " ")
    return _LABELS.get(name, name.replace("_", " ").capitalize())


# --------------------------------------------------------------------------------------------
# the content
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Card:
    """One ranked zone, as the brief shows it."""

    rank: int
    zone_id: int
    kind: str
    score: float
    title: str
    where: str
    facts: list[tuple[str, str]]
    parts: list[tuple[str, float, float]]  # (criterion, weight x mean standardised value, weight)
    partners: list[str]
    stability: str
    green: str
    chart: bytes = field(repr=False)
    no_partners: str = "No by-product exchange among its firms."


@dataclass(frozen=True)
class Brief:
    """The brief's content, in reading order."""

    title: str
    region: str
    question: str
    fringe: str
    top: list[str]
    caveats: list[str]
    map_png: bytes | None = field(repr=False)
    cards: list[Card]
    criteria: list[tuple[str, str, str, str]]  # (criterion, weight, what it measures, how it is scored)
    weights_why: str
    constraints: list[tuple[str, str]]  # (reason, hectares)
    symbiosis: list[str]
    footnotes: list[str]


def build(result: Result, *, map_png: bytes | None = None) -> Brief:
    """The brief's content from a run (``map_png``: the static map, drawn by the caller)."""
    s, g = result.scenario, result.grid
    area_km2 = g.width * g.height * g.cell_area_m2 / 1e6
    lon0, lat0, lon1, lat1 = g.lonlat_bounds
    region = (
        f"{_region_name(s)}: "
        f"{_num(area_km2)} km² between {_lat(lat0)} and {_lat(lat1)}, "
        f"{_lon(lon0)} and {_lon(lon1)}, on {g.resolution:g} m cells."
    )
    question = (
        "Where on the urban–rural fringe could firms cluster to share raw materials, by-products and waste, "
        "with equal access to local resources and to urban markets? The zones below are candidates ranked on "
        f"{len(_criteria_rows(result))} weighted criteria ({s.preset} preset): a shortlist for field checks and "
        "consultation, not a decision."
    )
    ranked = _with_lonlat(result.zones).sort_values("rank")
    cards = zone_cards(result)
    return Brief(
        title=f"Candidate eco-industrial cluster zones: {s.name.replace('_', ' ')}",
        region=region,
        question=question,
        fringe=_fringe_sentence(result),
        top=[_top_sentence(result, row) for _, row in ranked.head(_TOP_SENTENCES).iterrows()],
        caveats=_caveats(result),
        map_png=map_png,
        cards=cards,
        criteria=_criteria_rows(result),
        weights_why=_weights_why(result),
        constraints=_constraint_rows(result),
        symbiosis=_symbiosis_lines(result),
        footnotes=[
            "Suitability and scores run from 0 (worst) to 1 (best) over this region; they rank places within it "
            "and do not compare regions.",
            "CO2 figures are screening estimates from generic emission factors, not an inventory.",
        ],
    )


def _region_name(s: Any) -> str:
    """The scenario's own description, or its name when it only has its preset's."""
    from eicgeo.scenario import preset_keys

    if s.description and s.description != preset_keys(s.preset).get("description"):
        return s.description
    return s.name.replace("_", " ")


def _fringe_sentence(result: Result) -> str:
    cell_ha = result.grid.cell_area_m2 / 1e4
    fringe = np.asarray(result.fringe.values)
    allowed = (fringe == 2) & (np.asarray(result.excluded.values) == 0)
    total = np.isin(fringe, (1, 2, 3)).sum()
    share = (fringe == 2).sum() / total if total else 0.0
    return (
        f"The peri-urban fringe covers {_num((fringe == 2).sum() * cell_ha / 100)} km² ({share:.0%} of the land "
        f"mapped); {_num(allowed.sum() * cell_ha / 100)} km² of it is open to development after the constraints."
    )


def _where(row: pd.Series) -> str:
    lon, lat = _lonlat(row)
    place = row.get("where")
    coords = f"{_lat(lat)}, {_lon(lon)}"
    if isinstance(place, str) and place:
        return f"{place} ({coords})"
    return f"centred at {coords}"


def _lonlat(row: pd.Series) -> tuple[float, float]:
    return float(row["lon"]), float(row["lat"])


def _with_lonlat(table: pd.DataFrame) -> pd.DataFrame:
    """The zones with ``lon``/``lat`` of a point inside each (WGS 84), when they lack them."""
    if {"lon", "lat"} <= set(table.columns) or table.empty:
        return table
    points = table.geometry.representative_point().to_crs(4326)
    return table.assign(lon=points.x.to_numpy(), lat=points.y.to_numpy())


def _top_sentence(result: Result, row: pd.Series) -> str:
    where = row.get("where") if isinstance(row.get("where"), str) and row.get("where") else None
    lon, lat = _lonlat(row)
    place = where or f"at {_lat(lat)}, {_lon(lon)}"
    kind = (
        f"around a cluster of {int(row['n_firms'])} firms"
        if row["kind"] == "cluster"
        else ("a greenfield site" + (f" with {_plural(int(row['n_firms']), 'firm')} nearby" if row["n_firms"] else ""))
    )
    bits = [f"{_num(row['area_ha'])} ha, {kind}"]
    if pd.notna(row.get("market_minutes")):
        bits.append(f"{_minutes(row['market_minutes'])} from the nearest urban centre")
    best = _best_criterion(result, row)
    if best:
        bits.append(f"above the other zones on {best[0].lower() + best[1:]}")
    return (
        f"Zone {int(row['zone_id'])} (rank {int(row['rank'])}), {place}: {'; '.join(bits)}. {_stability(result, row)}"
    )


def _best_criterion(result: Result, row: pd.Series) -> str | None:
    """The criterion on which the zone is furthest above the zones' average, in words."""
    mine = {name: achieved / weight for name, achieved, weight in _grouped_parts(result, row) if weight > 0}
    others = [_grouped_parts(result, r) for _, r in result.zones.iterrows()]
    average = {
        name: float(np.nanmean([a / w for parts in others for n, a, w in parts if n == name and w > 0]))
        for name in mine
    }
    lead = {name: v - average[name] for name, v in mine.items() if np.isfinite(v) and np.isfinite(average[name])}
    if not lead or max(lead.values()) <= 0.01:
        return None
    return max(lead, key=lead.get)


def _grouped_parts(result: Result, row: pd.Series) -> list[tuple[str, float, float]]:
    """(criterion in words, its part of the zone's suitability, its weight), per-material access
    summed into one, largest weight first."""
    total = sum(w for w in result.weights.values() if w > 0) or 1.0
    grouped: dict[str, list[float]] = {}
    for name, weight in result.weights.items():
        if weight <= 0:
            continue
        key = "material_access" if name.startswith("material_access:") else name
        column = zones.PART_PREFIX + name.replace(":", "_")
        value = float(row[column]) if column in row.index and pd.notna(row[column]) else math.nan
        acc = grouped.setdefault(key, [0.0, 0.0])
        acc[0] = acc[0] + value if np.isfinite(acc[0]) else acc[0]
        acc[1] += weight / total
    return sorted(((criterion_label(k), v[0], v[1]) for k, v in grouped.items()), key=lambda t: -t[2])


def _stability(result: Result, row: pd.Series) -> str:
    z = result.scenario.zones
    k, runs = z.top_k, z.stability_runs
    p = row.get("p_top_k")
    if bool(row.get("tied", False)):
        score = round(float(row["score"]), zones.SCORE_DECIMALS)
        others = result.zones.loc[
            (result.zones["score"].round(zones.SCORE_DECIMALS) == score) & (result.zones["rank"] != row["rank"]),
            "rank",
        ]
        ranks = ", ".join(str(int(r)) for r in sorted(others))
        return f"Tied with rank {ranks} at the precision shown: the evidence does not decide their order."
    if runs <= 0 or p is None or not np.isfinite(p):
        return "Rank stability was not tested."
    if len(result.zones) <= k:
        return (
            f"Only {len(result.zones)} zones were found, so all are in the top {k}: the weight trials cannot test it."
        )
    share = f"{p:.0%} of {runs} trials with varied weights"
    if row["rank"] <= k:
        if p >= 0.9:
            return f"Robust: it stays in the top {k} in {share}."
        if p >= 0.5:
            return f"Fairly robust: it stays in the top {k} in {share}."
        return f"Sensitive to the weights: it stays in the top {k} in only {share}."
    if p >= 0.5:
        return f"Could rise: it reaches the top {k} in {share}."
    return f"Stays outside the top {k} in most trials (inside in {share})."


def zone_cards(result: Result, *, charts: bool = True) -> list[Card]:
    """One :class:`Card` per ranked zone, in rank order (``charts=False`` leaves the bar chart
    out, for the map popups, which draw it in HTML)."""
    ranked = _with_lonlat(result.zones).sort_values("rank")
    partners = _all_partners(result, ranked)
    draw = _Charts() if charts else None
    return [_card(result, row, partners[k], draw) for k, (_, row) in enumerate(ranked.iterrows())]


def _card(result: Result, row: pd.Series, partners: list[str], draw: _Charts | None) -> Card:
    estimated = set(result.fallbacks)
    facts = [("Kind", _KIND.get(row.get("kind"), str(row.get("kind", "zone"))))]
    if pd.notna(row.get("area_ha")):
        facts.append(("Area", f"{_num(row['area_ha'])} ha"))
    facts.append(("Score (0–1)", f"{row['score']:.2f}"))
    if pd.notna(row.get("mean_suitability")):
        facts.append(("Mean suitability (0–1)", f"{row['mean_suitability']:.2f}"))
    if pd.notna(row.get("market_minutes")):
        note = " (estimate, straight line)" if "market_access" in estimated else ""
        facts.append(("To the nearest urban centre", _minutes(row["market_minutes"]) + note))
    if pd.notna(row.get("material_minutes")):
        note = " (estimate, straight line)" if any(k.startswith("material_access") for k in estimated) else ""
        facts.append(("To raw materials (mean)", _minutes(row["material_minutes"]) + note))
    if pd.notna(row.get("rural_pop_30min")):
        facts.append(("Rural people within 30 minutes", _num(row["rural_pop_30min"], sig=2)))
    if pd.notna(row.get("symbiosis_tonnes")) and pd.notna(row.get("n_firms")):
        facts.append(("Firms within 2 km", f"{int(row['n_firms'])}"))
        facts.append(("By-products these firms exchange", f"{_num(row['symbiosis_tonnes'], sig=3)} t/yr"))
    parts = _grouped_parts(result, row)
    return Card(
        rank=int(row["rank"]),
        zone_id=int(row["zone_id"]),
        kind=str(row.get("kind", "zone")),
        score=float(row["score"]),
        title=f"Rank {int(row['rank'])}: zone {int(row['zone_id'])}",
        where=_where(row),
        facts=facts,
        parts=parts,
        partners=partners,
        stability=_stability(result, row),
        green=_green(row),
        chart=draw(parts) if draw is not None else b"",
        no_partners=(
            "No by-product exchange among its firms."
            if result.firms is not None and len(result.firms)
            else "No firm register was given, so its by-product partners are not known."
        ),
    )


def _all_partners(result: Result, ranked: pd.DataFrame) -> list[list[str]]:
    """Each zone's firms' largest by-product exchanges, in words, in the order of ``ranked``
    (one distance query for all zones; each zone then reads only the links of its firms)."""
    firms, links = result.firms, result.links
    if firms is None or not len(firms) or links is None or not len(links):
        return [[] for _ in range(len(ranked))]
    names = dict(zip(firms["firm_id"], firms["name"], strict=False)) if "name" in firms else {}
    by_firm = symbiosis.links_by_firm(links)
    # the columns as arrays: a zone's links are then positions, sorted by tonnes as
    # sort_values(ascending=False, kind="stable") sorts them (ties in link order, NaN last)
    tonnes = links["tonnes"].to_numpy(dtype=float)
    material, km = links["material"].to_numpy(), links["km"].to_numpy(dtype=float)
    source, user = links["from_firm"].to_numpy(), links["to_firm"].to_numpy()
    out = []
    for ids in zones.members(ranked, firms):
        rows = np.array(sorted({k for firm in ids for k in by_firm.get(firm, [])}), dtype=np.int64)
        mine = rows[np.argsort(-tonnes[rows], kind="stable")]
        lines = []
        for k in mine[:5]:
            unit = result.vocabulary.unit(material[k])
            lines.append(
                f"{material[k].replace('_', ' ')}: {_num(tonnes[k], sig=3)} {unit} from "
                f"{names.get(source[k], source[k])} to {names.get(user[k], user[k])} "
                f"({km[k]:.0f} km)"
            )
        if len(mine) > 5:
            lines.append(f"and {len(mine) - 5} more exchange{'s' if len(mine) > 6 else ''}")
        out.append(lines)
    return out


def _green(row: pd.Series) -> str:
    loss = row.get("green_loss_ha")
    if loss is None or not np.isfinite(loss):
        return "Green-space loss is not known for this run."
    if loss <= 0:
        return "It takes no residual green space."
    return (
        f"It would take {_num(loss)} ha of residual green space next to the built-up edge "
        f"({loss / row['area_ha']:.0%} of its area)."
    )


def _caveats(result: Result) -> list[str]:
    out = [c[0].upper() + c[1:] + ("" if c.endswith(".") else ".") for c in result.cautions]
    for name, why in result.skipped:
        out.append(f"{criterion_label(name)} was left out: {why}.")
    for name, how in result.fallbacks.items():
        out.append(f"{criterion_label(name)} is in part an estimate ({how.replace(' x ', ' × ')}).")
    inputs = result.scenario.inputs
    for key, what in _MISSING.items():
        if getattr(inputs, key) is None:
            out.append(f"Without {what[0]} (inputs.{key}), {what[1]}.")
    if result.zones.empty:
        out.append("No zone was found. " + " ".join(result.notes))
    if not out:
        out.append("Every input the preset asks for was given, and the ranking resolves its top zones.")
    return out


#: What a run without each optional input cannot say.
_MISSING = {
    "population": ("a population raster", "the rural people within 30 minutes of each zone are not counted"),
    "roads": ("a road network", "travel times are straight-line estimates"),
    "sources": ("raw-material sources", "access to raw materials is not assessed"),
    "firms": ("a firm register", "by-product exchange between firms is not assessed"),
}


def _criteria_rows(result: Result) -> list[tuple[str, str, str, str]]:
    """One row per criterion; the per-material access criteria share one row."""
    total = sum(w for w in result.weights.values() if w > 0) or 1.0
    grouped: dict[str, list[str]] = {}
    for name, weight in result.weights.items():
        if weight > 0:
            grouped.setdefault(name.split(":", 1)[0] if name.startswith("material_access:") else name, []).append(name)
    rows = []
    for key, names in sorted(grouped.items(), key=lambda kv: -sum(result.weights[n] for n in kv[1])):
        weight = sum(result.weights[n] for n in names) / total
        spec = REGISTRY.get(key)
        what = spec.description if spec else f"the user's raster criterion {key!r}"
        units = "min" if spec is not None and spec.travel_time else _RAW_UNITS.get(key, "")
        how = [_scoring(result.criteria[n].attrs if n in result.criteria else {}, units) for n in names]
        if len(names) > 1:
            what += f" ({len(names)} materials: " + ", ".join(n.split(":", 1)[1].replace("_", " ") for n in names) + ")"
            how = [_scoring_range([result.criteria[n].attrs for n in names if n in result.criteria], units)]
        rows.append((criterion_label(key), f"{weight:.0%}", what, how[0]))
    return rows


def scoring(result: Result, name: str) -> str:
    """How criterion ``name`` of a run turns its raw values into 0..1, in words.

    Examples
    --------
    >>> import eicgeo
    >>> result = eicgeo.run(eicgeo.load_sample().replace(resolution=2000, without=["roads"]), progress=False)
    >>> scoring(result, "landcover")
    'scores by land cover: cropland 1, grass shrub 0.9, bare 0.7, forest 0.2, wetland 0, water 0, built up 0'
    """
    base = name.split(":", 1)[0]
    spec = REGISTRY.get(base)
    units = "min" if spec is not None and spec.travel_time else _RAW_UNITS.get(base, "")
    return _scoring(result.criteria[name].attrs if name in result.criteria else {}, units)


def _scoring_range(attrs: Sequence[Mapping[str, Any]], units: str) -> str:
    """The scoring of several linear criteria that differ only in their thresholds."""
    params = [_params(a) for a in attrs]
    if (
        params
        and all(
            str(a.get("standardisation")) == "linear" and {"low", "high"} <= set(p)
            for a, p in zip(attrs, params, strict=True)
        )
        and len({p.get("increasing", True) for p in params}) == 1
    ):
        lows = sorted({_tidy(p["low"]) for p in params})
        highs = [float(p["high"]) for p in params]
        relative = (
            " (each material's 95th percentile over the region)" if "p95" in str(attrs[0].get("parameters")) else ""
        )
        u = f" {units}" if units else ""
        lo = lows[0] if len(lows) == 1 else f"{lows[0]}–{lows[-1]}"
        hi = f"{_tidy(min(highs))}–{_tidy(max(highs))}"
        if params[0].get("increasing", True):
            return f"rises from 0 at {lo}{u} or less to 1 at {hi}{u} or more{relative}"
        return f"1 at {lo}{u} or less, falling to 0 at {hi}{u} or more{relative}"
    return _scoring(attrs[0], units) if attrs else ""


def _params(attrs: Mapping[str, Any]) -> dict[str, Any]:
    match = re.match(r"^(\{.*\})(.*)$", str(attrs.get("parameters", "")), flags=re.S)
    try:
        value = ast.literal_eval(match.group(1)) if match else {}
    except (ValueError, SyntaxError):
        return {}
    return value if isinstance(value, dict) else {}


def _tidy(value: float) -> str:
    """A threshold for reading: whole numbers without decimals, others to one decimal."""
    v = float(value)
    return f"{v:,.0f}" if abs(v - round(v)) < 0.05 or abs(v) >= 100 else f"{v:,.1f}"


def _scoring(attrs: Mapping[str, Any], units: str) -> str:
    """How a criterion's raw values become 0..1, in words."""
    fn = str(attrs.get("standardisation", ""))
    text = str(attrs.get("parameters", ""))
    params = _params(attrs)
    relative = " (the region's 95th percentile)" if "p95" in text else ""
    if fn == "linear" and {"low", "high"} <= set(params):
        lo, hi = _tidy(params["low"]), _tidy(params["high"])
        u = f" {units}" if units else ""
        if params.get("increasing", True):
            return f"rises from 0 at {lo}{u} or less to 1 at {hi}{u} or more{relative}"
        return f"1 at {lo}{u} or less, falling to 0 at {hi}{u} or more{relative}"
    if fn == "categorical" and params:
        scores = next(iter(params.values()))
        if isinstance(scores, Mapping):
            return "scores by land cover: " + ", ".join(
                f"{k.replace('_', ' ')} {v:g}" for k, v in sorted(scores.items(), key=lambda kv: -kv[1])
            )
    if fn.startswith("built in"):
        return "built in, 0..1: near both markets and materials, at similar times"
    if fn:
        return f"{fn} standardisation"
    return "already 0..1"


def _weights_why(result: Result) -> str:
    s = result.scenario
    m = s.mcda
    if m.method == "owa" and m.alpha is not None:
        method = f"an ordered weighted average (alpha {m.alpha:g}; above 1 leans towards the weakest criterion)"
    elif m.method == "owa":
        method = "an ordered weighted average with the scenario's order weights"
    elif m.method == "fuzzy_gamma":
        method = f"a fuzzy gamma overlay (gamma {m.gamma:g})"
    elif m.method == "weighted_product":
        method = "a weighted product (a weak criterion pulls the whole down)"
    elif m.method == "fuzzy_and":
        method = "a fuzzy AND (each place is as good as its weakest criterion)"
    elif m.method == "fuzzy_or":
        method = "a fuzzy OR (each place is as good as its strongest criterion)"
    else:
        method = "a weighted sum (weighted linear combination)"
    why = s.description or f"the {s.preset} preset"
    text = f"Weights: {why[0].lower() + why[1:]}. Criteria are combined by {method}."
    if m.ahp is not None:
        text += " The weights come from pairwise comparisons (AHP) with an acceptable consistency ratio."
    terms = []
    for indicator, weight in s.zones.score_table().items():
        column, direction = zones.SCORE_INDICATORS[indicator]
        if weight <= 0 or column not in result.zones or not result.zones[column].notna().any():
            continue
        words = _INDICATORS.get(indicator, indicator)
        terms.append(f"{weight:g} × {words}" if direction > 0 else f"{weight:g} × (less {words})")
    if terms:
        text += (
            " Zones are then ranked on a score: "
            + " + ".join(terms)
            + ", each scaled by its largest value among the zones."
        )
    return text


def _constraint_rows(result: Result) -> list[tuple[str, str]]:
    reasons = result.excluded.attrs.get("reason_names") or EXCLUSION_REASONS
    areas = mcda.exclusion_areas(result.excluded, reasons, cell_area_m2=result.grid.cell_area_m2)
    rows = [
        (str(reasons.get(int(r.code), f"code {int(r.code)}")), f"{_num(r.area_ha)} ha")
        for r in areas.itertuples()
        if int(r.code) != 0 and r.area_ha > 0
    ]
    return rows


def _symbiosis_lines(result: Result) -> list[str]:
    m = result.symbiosis_metrics
    if not m:
        return ["No firm register was given, so by-product exchange is not assessed."]
    links = _plural(m["n_links"], "exchange link")
    lines = [
        f"{links} join {m['n_linked_firms']} of the {_plural(m['n_firms'], 'firm')} in the register; "
        f"{_num(m['byproduct_tonnes_exchanged'], sig=3)} t/yr of by-products would find a user "
        f"({m['share_of_byproducts_used']:.0%} of the by-product output).",
        f"Screening estimate of CO2: {_num(m['co2_avoided_t'], sig=3)} t/yr avoided, less "
        f"{_num(m['transport_co2_t'], sig=3)} t/yr for trucking, {_num(m['net_co2_t'], sig=3)} t/yr net.",
    ]
    if m.get("anchor_firms"):
        names = dict(zip(result.firms["firm_id"], result.firms["name"], strict=False)) if "name" in result.firms else {}
        anchors = ", ".join(
            f"{names.get(a['firm_id'], a['firm_id'])} ({a['sector'].replace('_', ' ')}, "
            f"{_num(a['tonnes'], sig=3)} t/yr)"
            for a in m["anchor_firms"][:3]
        )
        lines.append(f"Anchor firms, by tonnes exchanged: {anchors}.")
    return lines


# --------------------------------------------------------------------------------------------
# numbers and charts
# --------------------------------------------------------------------------------------------
def _num(value: float, *, digits: int = 0, sig: int | None = None) -> str:
    """A number for reading: thousands separated; ``sig`` rounds large values to that many
    significant figures (people and tonnes are estimates, not counts).

    >>> _num(1234.4), _num(0.25, digits=1), _num(506711.6, sig=2), _num(262128.0, sig=3)
    ('1,234', '0.2', '510,000', '262,000')
    """
    v = float(value)
    if sig is not None and abs(v) >= 10**sig:
        magnitude = 10 ** (int(math.log10(abs(v))) - sig + 1)
        v = round(v / magnitude) * magnitude
    return f"{v:,.{digits}f}"


def _minutes(value: float) -> str:
    return f"{value:.0f} min" if value >= 10 else f"{value:.1f} min"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _lat(v: float) -> str:
    return f"{abs(v):.3f}° {'N' if v >= 0 else 'S'}"


def _lon(v: float) -> str:
    return f"{abs(v):.3f}° {'E' if v >= 0 else 'W'}"


class _Charts:
    """Each zone's small bar chart: each criterion's weight (grey, what it could give) and its part
    of the zone's suitability (colour, what it gives). The zones of a run share their criteria
    and weights, so the figure is drawn once without the coloured bars and the axis lines over
    them; each zone's chart restores that drawing and adds only its bars and the axis lines, in
    the order a full draw takes (blitting: a full draw and PNG per zone took ~0.1 s each)."""

    def __init__(self) -> None:
        self.key: tuple | None = None

    def __call__(self, parts: Sequence[tuple[str, float, float]]) -> bytes:
        names = [p[0] for p in parts][::-1]
        achieved = [p[1] if np.isfinite(p[1]) else 0.0 for p in parts][::-1]
        weights = [p[2] for p in parts][::-1]
        key = (tuple(names), tuple(weights))
        if key != self.key:
            self._build(names, weights)
            self.key = key
        canvas, ax = self.fig.canvas, self.ax
        canvas.restore_region(self.background)
        for bar, width in zip(self.bars, achieved, strict=True):
            bar.set_width(width)
            ax.draw_artist(bar)
        for spine in self.over:
            ax.draw_artist(spine)
        from eicgeo.maps import rgb_png

        return rgb_png(np.asarray(canvas.buffer_rgba()), dpi=self.fig.dpi)

    def _build(self, names: list[str], weights: list[float]) -> None:
        fig = Figure(figsize=(4.6, 0.32 * max(len(names), 1) + 0.55), dpi=200)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes((0.42, 0.62 / (0.32 * max(len(names), 1) + 0.55), 0.54, 0.9))
        ax.set_position((0.44, 0.5 / fig.get_figheight(), 0.52, 1 - 0.62 / fig.get_figheight()))
        y = np.arange(len(names))
        ax.barh(y, weights, color="#dddddd", height=0.7, label="weight (most it can add)")
        self.bars = ax.barh(y, np.zeros(len(names)), color="#0072b2", height=0.7, label="weight × standardised value")
        ax.set_yticks(y, names, fontsize=7)
        ax.tick_params(axis="x", labelsize=6.5)
        ax.set_xlim(0, max([*weights, 0.05]) * 1.05)
        ax.set_xlabel("part of the zone's suitability (0–1)", fontsize=6.5)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        # drawn per zone, after the grey bars and the axes, as a full draw orders them
        self.over = [ax.spines["left"], ax.spines["bottom"]]
        for artist in (*self.bars, *self.over):
            artist.set_animated(True)
        canvas.draw()
        self.background = canvas.copy_from_bbox(fig.bbox)
        self.fig, self.ax = fig, ax


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------
_CSS = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;color:#222;max-width:60em;margin:2em auto;padding:0 1em;
line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:1.6em}h3{font-size:1.05em;margin:.2em 0}
.lead{font-size:1.05em}.caveat{background:#fff4e5;border-left:4px solid #e69f00;padding:.5em 1em}
.card{border:1px solid #ccc;border-radius:6px;padding:.8em 1em;margin:1em 0;break-inside:avoid;page-break-inside:avoid}
.card .where{color:#555;margin:0 0 .5em}.cols{display:flex;gap:1.2em;flex-wrap:wrap}.cols>div{flex:1 1 20em}
table{border-collapse:collapse;font-size:.9em}td,th{padding:.15em .6em .15em 0;vertical-align:top;text-align:left}
th{font-weight:600}table.grid td,table.grid th{border-bottom:1px solid #e5e5e5;padding:.3em .6em}
img{max-width:100%}.small{font-size:.85em;color:#555}
@media print{body{margin:0}.card{page-break-inside:avoid}h2{page-break-after:avoid}}
"""


def to_html(brief: Brief) -> str:
    """The brief as one self-contained HTML page: styles and images inline, nothing fetched."""
    e = html.escape
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(brief.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(brief.title)}</h1>",
        f"<p class='lead'>{e(brief.region)}</p><p>{e(brief.question)}</p><p>{e(brief.fringe)}</p>",
        "<h2>The top zones</h2><ol>",
        *(f"<li>{e(t)}</li>" for t in brief.top),
        "</ol><h2>Caveats</h2><div class='caveat'><ul>",
        *(f"<li>{e(c)}</li>" for c in brief.caveats),
        "</ul></div>",
    ]
    if brief.map_png:
        out += [
            "<h2>Map</h2>",
            f"<img alt='Map of the candidate zones' src='data:image/png;base64,{_b64(brief.map_png)}'>",
        ]
    out.append("<h2>The zones, one by one</h2>")
    for card in brief.cards:
        facts = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in card.facts)
        partners = (
            "<ul>" + "".join(f"<li>{e(p)}</li>" for p in card.partners) + "</ul>"
            if card.partners
            else f"<p class='small'>{e(card.no_partners)}</p>"
        )
        out += [
            f"<section class='card' id='zone-{card.zone_id}'><h3>{e(card.title)}</h3>",
            f"<p class='where'>{e(card.where)}</p><div class='cols'><div><table>{facts}</table>",
            f"<p>{e(card.stability)}</p><p>{e(card.green)}</p></div><div>",
            f"<img alt='What zone {card.zone_id} scores on each criterion' "
            f"src='data:image/png;base64,{_b64(card.chart)}'>",
            f"<p class='small'>{e(_CHART_CAPTION)}</p>",
            f"<p class='small'><b>By-product partners</b></p>{partners}</div></div></section>",
        ]
    out += ["<h2>Method</h2><table class='grid'><tr><th>Criterion</th><th>Weight</th><th>What it measures</th>"]
    out.append("<th>How it is scored</th></tr>")
    out += [f"<tr><td>{e(a)}</td><td>{e(b)}</td><td>{e(c)}</td><td>{e(d)}</td></tr>" for a, b, c, d in brief.criteria]
    out += [f"</table><p>{e(brief.weights_why)}</p><h3>Constraints</h3>"]
    if brief.constraints:
        out.append("<table class='grid'><tr><th>Excluded because</th><th>Area</th></tr>")
        out += [f"<tr><td>{e(a)}</td><td>{e(b)}</td></tr>" for a, b in brief.constraints]
        out.append("</table><p class='small'>A cell excluded for several reasons counts once.</p>")
    else:
        out.append("<p>No land was excluded.</p>")
    out.append("<h3>By-product exchange</h3>")
    out += [f"<p>{e(line)}</p>" for line in brief.symbiosis]
    out += [f"<p class='small'>{e(n)}</p>" for n in brief.footnotes]
    out.append("</body></html>")
    return "\n".join(out)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------------
def _fonts() -> tuple[str, str]:
    """DejaVu Sans (shipped with matplotlib) for the PDF, so °, ², × and – print."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(ttf / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(ttf / "DejaVuSans-Bold.ttf")))
    return "DejaVuSans", "DejaVuSans-Bold"


def to_pdf(brief: Brief, path: str | Path) -> Path:
    """The brief as an A4 PDF; written beside ``path`` and renamed into place."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        BaseDocTemplate,
        Frame,
        Image,
        KeepTogether,
        NextPageTemplate,
        PageBreak,
        PageTemplate,
        Paragraph,
        Spacer,
        Table,
        TableStyle,
    )

    regular, bold = _fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=9.5, leading=13, spaceAfter=4)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10.5, textColor=colors.HexColor("#555555"))
    h1 = ParagraphStyle("h1", parent=body, fontName=bold, fontSize=16, leading=20, spaceAfter=8)
    h2 = ParagraphStyle("h2", parent=body, fontName=bold, fontSize=12.5, leading=16, spaceBefore=8, spaceAfter=4)
    h3 = ParagraphStyle("h3", parent=body, fontName=bold, fontSize=10.5, leading=13, spaceAfter=2)
    e = html.escape
    width = A4[0] - 36 * mm

    def para(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(e(text), style)

    def image(data: bytes, max_width: float, max_height: float) -> Image:
        png = _png_stream(data)
        img = Image(_io.BytesIO(data)) if png is None else _png_flowable()(data, png)
        scale = min(max_width / img.imageWidth, max_height / img.imageHeight)
        img.drawWidth, img.drawHeight = img.imageWidth * scale, img.imageHeight * scale
        return img

    grid_style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), regular, 8),
            ("FONT", (0, 0), (-1, 0), bold, 8),
            ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#dddddd")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    story: list[Any] = [para(brief.title, h1), para(brief.region), para(brief.question), para(brief.fringe)]
    story.append(para("The top zones", h2))
    story += [para(f"{i}. {t}") for i, t in enumerate(brief.top, 1)]
    story.append(para("Caveats", h2))
    story += [para(f"• {c}") for c in brief.caveats]
    if brief.map_png:
        # the static map is drawn for an A4 landscape page: it gets one
        wide, high = landscape(A4)
        story += [
            NextPageTemplate("landscape"),
            PageBreak(),
            image(brief.map_png, wide - 24 * mm - 14, high - 26 * mm - 14),
        ]
        story += [NextPageTemplate("portrait")]
    story += [PageBreak(), para("The zones, one by one", h2)]
    for card in brief.cards:
        facts = Table([[para(k, small), para(v, small)] for k, v in card.facts], colWidths=[0.2 * width, 0.22 * width])
        facts.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
        right = [image(card.chart, 0.54 * width, 60 * mm), para(_CHART_CAPTION, small), para("By-product partners", h3)]
        right += [para(f"• {p}", small) for p in card.partners] or [para(card.no_partners, small)]
        columns = Table([[facts, right]], colWidths=[0.44 * width, 0.56 * width])
        columns.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
        story.append(
            KeepTogether(
                [
                    para(card.title, h3),
                    para(card.where, small),
                    columns,
                    para(card.stability, small),
                    para(card.green, small),
                    Spacer(1, 6 * mm),
                ]
            )
        )
    story += [PageBreak(), para("Method", h2)]
    rows = [[para(x, small) for x in ("Criterion", "Weight", "What it measures", "How it is scored")]]
    rows += [[para(x, small) for x in row] for row in brief.criteria]
    table = Table(rows, colWidths=[0.19 * width, 0.1 * width, 0.33 * width, 0.38 * width], repeatRows=1, hAlign="LEFT")
    table.setStyle(grid_style)
    story += [table, Spacer(1, 3 * mm), para(brief.weights_why), para("Constraints", h3)]
    if brief.constraints:
        ctable = Table(
            [["Excluded because", "Area"], *brief.constraints], colWidths=[0.5 * width, 0.2 * width], hAlign="LEFT"
        )
        ctable.setStyle(grid_style)
        story += [ctable, para("A cell excluded for several reasons counts once.", small)]
    else:
        story.append(para("No land was excluded."))
    story.append(para("By-product exchange", h3))
    story += [para(line) for line in brief.symbiosis]
    story += [para(n, small) for n in brief.footnotes]

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")

    def footer(canvas: Any, doc: Any) -> None:
        page_width = canvas._pagesize[0]
        canvas.setFont(regular, 7.5)
        canvas.setFillColor(colors.HexColor("#777777"))
        canvas.drawString(18 * mm, 8 * mm, brief.title)
        canvas.drawRightString(page_width - 18 * mm, 8 * mm, f"page {doc.page}")

    doc = BaseDocTemplate(str(tmp), pagesize=A4, title=brief.title, author="eicgeo")
    wide, high = landscape(A4)
    doc.addPageTemplates(
        [
            PageTemplate(
                "portrait",
                [Frame(18 * mm, 16 * mm, A4[0] - 36 * mm, A4[1] - 32 * mm, id="portrait")],
                onPage=footer,
                pagesize=A4,
            ),
            PageTemplate(
                "landscape",
                [Frame(12 * mm, 14 * mm, wide - 24 * mm, high - 26 * mm, id="landscape")],
                onPage=footer,
                pagesize=(wide, high),
            ),
        ]
    )
    from reportlab import rl_config

    # Images go in binary (Flate), not ASCII85: reportlab's pure-Python ASCII85 encoder took
    # most of the PDF's time, and binary streams are a fifth smaller.
    a85, rl_config.useA85 = rl_config.useA85, 0
    try:
        doc.build(story)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        rl_config.useA85 = a85
    tmp.replace(path)
    return path


def _png_stream(data: bytes) -> tuple[int, int, bytes] | None:
    """A PNG's width, height and zlib stream (its IDAT chunks, rows with PNG filters) when a PDF
    can hold it as it is (8-bit RGB, not interlaced: FlateDecode with the PNG predictor), else None.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("RGB", (3, 2), "#0072b2").save(buf, format="PNG")
    >>> width, height, stream = _png_stream(buf.getvalue())
    >>> import zlib
    >>> width, height, len(zlib.decompress(stream)) == height * (1 + 3 * width)  # a filter byte a row
    (3, 2, True)
    """
    import struct

    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    at, idat, header = 8, [], None
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        chunk = data[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind in (b"PLTE", b"tRNS"):
            return None
        elif kind == b"IEND":
            break
        at += 12 + length
    if header is None or not idat:
        return None
    width, height, depth, colour, compression, filtering, interlace = header
    if (depth, colour, compression, filtering, interlace) != (8, 2, 0, 0, 0):
        return None
    return width, height, b"".join(idat)


def _png_flowable() -> type:
    """A reportlab Image that embeds an RGB PNG's own zlib stream as the PDF image's stream, with
    the PNG predictor in its decode parameters (as img2pdf does): the same pixels, neither
    decoded nor compressed again, where reportlab decodes each PNG, hashes its pixels and
    compresses them anew (most of the PDF's time with a 300 dpi map and a chart per zone)."""
    import hashlib

    from reportlab.pdfbase import pdfdoc
    from reportlab.platypus import Image

    class PngXObject(pdfdoc.PDFImageXObject):
        def __init__(self, name: str, width: int, height: int, stream: bytes):
            super().__init__(name)
            self.width, self.height = width, height
            self.bitsPerComponent, self.colorSpace = 8, "DeviceRGB"
            self._filters, self.streamContent, self.mask = ("FlateDecode",), stream, None

        def format(self, document: Any) -> bytes:
            stream = pdfdoc.PDFStream(content=self.streamContent)
            d = stream.dictionary
            d["Type"], d["Subtype"] = pdfdoc.PDFName("XObject"), pdfdoc.PDFName("Image")
            d["Width"], d["Height"] = self.width, self.height
            d["BitsPerComponent"], d["ColorSpace"] = 8, pdfdoc.PDFName("DeviceRGB")
            d["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])
            # one set of parameters per filter, as the filters are an array
            d["DecodeParms"] = pdfdoc.PDFArray(
                [pdfdoc.PDFDictionary({"Predictor": 15, "Colors": 3, "BitsPerComponent": 8, "Columns": self.width})]
            )
            d["Length"] = len(self.streamContent)
            return stream.format(document)

    class PngImage(Image):
        def __init__(self, data: bytes, png: tuple[int, int, bytes]):
            super().__init__(_io.BytesIO(data))
            self._png = png
            self._key = "png" + hashlib.sha1(data).hexdigest()

        def draw(self) -> None:
            # what Canvas.drawImage does, with the PNG's stream for the image object
            canvas = self.canv
            doc = canvas._doc
            ref = doc.getXObjectName(self._key)
            if doc.idToObject.get(ref) is None:
                obj = PngXObject(self._key, *self._png)
                canvas._setXObjects(obj)
                doc.Reference(obj, ref)
                doc.addForm(self._key, obj)
            canvas._currentPageHasImages = 1
            canvas.saveState()
            canvas.translate(getattr(self, "_offs_x", 0), getattr(self, "_offs_y", 0))
            canvas.scale(self.drawWidth, self.drawHeight)
            canvas._code.append(f"/{ref} Do")
            canvas.restoreState()
            canvas._formsinuse.append(self._key)

    return PngImage


def write(result: Result, folder: str | Path, *, map_png: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.pdf`` into ``folder`` (``map_png``: the static map to
    embed, ``folder/map.png`` by default when it exists)."""
    from eicgeo import io

    folder = Path(folder)
    png = Path(map_png) if map_png is not None else folder / "map.png"
    brief = build(result, map_png=png.read_bytes() if png.exists() else None)
    html_path = io.write_text(folder / "report.html", to_html(brief))
    return html_path, to_pdf(brief, folder / "report.pdf")
