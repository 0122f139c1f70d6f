"""The material vocabulary and the table of known by-product synergies.

Every material named in firm registers, source layers and scenarios must be in the vocabulary
(:data:`MATERIALS`). Each material has a unit (tonnes per year, or MWh per year for energy
carriers), the European Waste Catalogue (EWC) chapter where it is a waste, and the sectors that
take it as an input. :data:`SYNERGIES` lists documented exchanges (what output feeds what
receiving sector) with a short source note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from eicgeo._errors import MaterialError
from eicgeo._validate import did_you_mean

__all__ = [
    "MATERIALS",
    "SECTORS",
    "SYNERGIES",
    "Material",
    "check_material",
    "check_sector",
    "format_flows",
    "parse_flows",
    "synergy_table",
]


@dataclass(frozen=True)
class Material:
    """One material of the vocabulary.

    ``kind`` is ``raw`` (virgin input), ``byproduct`` (a residue or waste with a use),
    ``product`` (a main product traded between sectors), ``energy`` (heat, steam or gas that can
    be piped to a neighbour), ``emission`` (captured CO2) or ``utility`` (grid electricity and
    raw water, bought from networks rather than exchanged).
    """

    name: str
    kind: str
    unit: str = "t/yr"
    ewc: str = ""
    description: str = ""


def _m(name: str, kind: str, ewc: str = "", description: str = "", unit: str = "t/yr") -> Material:
    return Material(name, kind, unit, ewc, description)


_MWH = "MWh/yr"
_M3 = "m3/yr"

#: The material vocabulary, by name.
MATERIALS: dict[str, Material] = {
    m.name: m
    for m in [
        # raw materials and crops
        _m("paddy", "raw", description="unmilled rice"),
        _m("sugar_cane", "raw"),
        _m("cassava", "raw", description="cassava roots"),
        _m("malt", "raw", description="malted barley"),
        _m("coal", "raw"),
        _m("iron_ore", "raw"),
        _m("limestone", "raw"),
        _m("quarry_stone", "raw", description="crushed stone and aggregate"),
        _m("clay", "raw"),
        _m("sand", "raw"),
        _m("timber", "raw", description="roundwood"),
        _m("water", "utility", description="raw water", unit=_M3),
        # by-products and wastes
        _m("scrap_metal", "byproduct", "12 01", "ferrous scrap"),
        _m("rice_husk", "byproduct", "02 03", "about 20 % of paddy by mass"),
        _m("rice_husk_ash", "byproduct", "10 01", "ash of husk combustion, amorphous silica"),
        _m("rice_bran", "byproduct", "02 03", "about 8 % of paddy by mass"),
        _m("bagasse", "byproduct", "02 04", "fibre left after crushing cane, ~30 % of cane"),
        _m("molasses", "byproduct", "02 04", "final molasses, ~4 % of cane"),
        _m("press_mud", "byproduct", "02 04", "filter cake from juice clarification, ~3 % of cane"),
        _m("vinasse", "byproduct", "02 07", "spent wash from molasses distilleries"),
        _m("fly_ash", "byproduct", "10 01", "pulverised-coal fly ash"),
        _m("bottom_ash", "byproduct", "10 01", "furnace bottom ash"),
        _m("slag", "byproduct", "10 02", "iron and steel slag"),
        _m("fgd_gypsum", "byproduct", "10 01", "flue-gas desulphurisation gypsum"),
        _m("mill_scale", "byproduct", "10 02", "iron oxide scale from rolling"),
        _m("sawdust", "byproduct", "03 01"),
        _m("wood_chips", "byproduct", "03 01", "offcuts and chips"),
        _m("spent_grain", "byproduct", "02 07", "brewer's spent grain"),
        _m("brewer_yeast", "byproduct", "02 07", "surplus yeast slurry"),
        _m("organic_waste", "byproduct", "02 03", "food-processing residues"),
        _m("cassava_pulp", "byproduct", "02 03", "fibrous residue of starch extraction"),
        _m("treated_wastewater", "byproduct", "19 08", unit=_M3),
        _m("sewage_sludge", "byproduct", "19 08"),
        _m("digestate", "byproduct", "19 06", "anaerobic digestion residue"),
        _m("compost", "product", "19 05"),
        _m("co2", "emission", description="captured process CO2"),
        _m("waste_plastic", "byproduct", "20 01"),
        _m("cullet", "byproduct", "20 01", "broken and waste glass"),
        _m("paper_waste", "byproduct", "20 01", "waste paper and cardboard"),
        _m("used_oil", "byproduct", "13 02", "waste lubricating oil"),
        _m("tyres", "byproduct", "16 01", "end-of-life tyres"),
        _m("textile_waste", "byproduct", "04 02"),
        _m("animal_manure", "byproduct", "02 01"),
        _m("cement_kiln_dust", "byproduct", "10 13"),
        # energy carriers
        _m("biogas", "energy", description="as energy content", unit=_MWH),
        _m("waste_heat", "energy", description="low-grade heat", unit=_MWH),
        _m("steam", "energy", description="process steam", unit=_MWH),
        _m("electricity", "utility", unit=_MWH),
        # products traded between sectors
        _m("animal_feed", "product"),
        _m("ethanol", "product"),
        _m("cement", "product"),
        _m("bricks", "product"),
        _m("particle_board", "product"),
        _m("fertilizer", "product"),
        _m("paper", "product"),
        _m("glass", "product"),
        _m("steel", "product"),
        _m("sugar", "product"),
        _m("rice", "product"),
        _m("beer", "product"),
        _m("starch", "product"),
        _m("plastic_pellets", "product"),
        _m("textiles", "product"),
        _m("food_products", "product"),
    ]
}

#: Sectors of the firm register, with a short description.
SECTORS: dict[str, str] = {
    "rice_mill": "rice milling",
    "sugar_mill": "cane sugar milling",
    "distillery": "molasses or cassava ethanol distillery",
    "coal_power": "coal-fired power station",
    "biomass_power": "biomass (husk, bagasse, wood) power or cogeneration",
    "cement": "cement plant (kiln and grinding)",
    "brick_kiln": "brick and block making",
    "steel": "steel mini-mill (electric arc furnace and rolling)",
    "brewery": "brewery",
    "feed_mill": "animal feed mill",
    "sawmill": "sawmill",
    "board_mill": "particle and fibre board",
    "food_processing": "food processing",
    "tapioca_starch": "cassava starch factory",
    "biogas_plant": "anaerobic digestion plant",
    "compost_plant": "composting and organic fertiliser",
    "paper_mill": "pulp and paper mill",
    "plastics_recycling": "plastics recycling",
    "glass": "glass works",
    "textile": "textile dyeing and finishing",
    "wastewater_treatment": "municipal wastewater treatment",
    "livestock_farm": "pig and poultry farming",
    "quarry": "stone quarry",
}

# (material, from sectors, to sector, use, source note)
_SYNERGY_ROWS: list[tuple[str, str, str, str, str]] = [
    (
        "rice_husk",
        "rice_mill",
        "biomass_power",
        "boiler fuel for husk-fired power",
        "rice-husk power plants in Thailand and India",
    ),
    ("rice_husk", "rice_mill", "cement", "alternative kiln fuel", "co-processing in Indian cement kilns"),
    ("rice_husk", "rice_mill", "brick_kiln", "firing fuel", "common practice in South and Southeast Asian brick kilns"),
    (
        "rice_husk_ash",
        "biomass_power",
        "cement",
        "pozzolan in blended cement",
        "supplementary cementitious material (ASTM C618 class N pozzolans)",
    ),
    (
        "rice_husk_ash",
        "biomass_power",
        "steel",
        "insulating cover for ladles and tundishes",
        "steel-plant refractory use",
    ),
    ("rice_bran", "rice_mill", "feed_mill", "feed ingredient", "standard feed-mill ingredient"),
    ("bagasse", "sugar_mill", "biomass_power", "cogeneration fuel", "sugar-mill cogeneration in Thailand and India"),
    ("bagasse", "sugar_mill", "board_mill", "fibre for particle board", "bagasse board mills"),
    ("bagasse", "sugar_mill", "paper_mill", "pulp fibre", "bagasse-based paper mills in India"),
    ("molasses", "sugar_mill", "distillery", "fermentation feedstock for ethanol", "Thai and Indian molasses ethanol"),
    ("molasses", "sugar_mill", "feed_mill", "binder and energy in feed", "standard feed ingredient"),
    ("press_mud", "sugar_mill", "compost_plant", "organic fertiliser", "press-mud composting at Indian sugar mills"),
    ("press_mud", "sugar_mill", "biogas_plant", "co-digestion substrate", "press-mud biogas"),
    ("vinasse", "distillery", "biogas_plant", "anaerobic digestion", "spent-wash biomethanation at distilleries"),
    ("vinasse", "distillery", "compost_plant", "composting with press mud", "spent-wash composting in India"),
    (
        "fly_ash",
        "coal_power",
        "cement",
        "pozzolan in blended cement",
        "Kalundborg Symbiosis: power-station fly ash to cement",
    ),
    ("fly_ash", "coal_power", "brick_kiln", "fly-ash bricks", "India's fly-ash utilisation rules for brick makers"),
    ("bottom_ash", "coal_power", "cement", "raw-meal component", "cement raw-material substitution"),
    ("bottom_ash", "coal_power", "brick_kiln", "aggregate in blocks", "ash-block manufacture"),
    ("fgd_gypsum", "coal_power", "cement", "set retarder", "Kalundborg Symbiosis: FGD gypsum replaces natural gypsum"),
    ("slag", "steel", "cement", "ground slag in slag cement", "Kitakyushu Eco-Town and Ulsan: steel slag to cement"),
    ("mill_scale", "steel", "cement", "iron corrective in raw meal", "cement raw-material substitution"),
    ("scrap_metal", "steel", "steel", "electric-arc-furnace feed", "Kitakyushu Eco-Town metal recycling"),
    ("sawdust", "sawmill", "board_mill", "particle-board furnish", "wood-industry cascading use"),
    ("sawdust", "sawmill", "biomass_power", "boiler fuel", "wood-residue power"),
    ("wood_chips", "sawmill", "board_mill", "particle-board furnish", "wood-industry cascading use"),
    ("wood_chips", "sawmill", "paper_mill", "pulp fibre", "chip supply from sawmills to pulp mills"),
    ("spent_grain", "brewery", "feed_mill", "protein feed ingredient", "brewers' grains as cattle feed"),
    ("spent_grain", "brewery", "livestock_farm", "wet feed", "brewers' grains fed directly"),
    ("brewer_yeast", "brewery", "feed_mill", "protein supplement", "Kalundborg Symbiosis: yeast slurry to pig feed"),
    (
        "organic_waste",
        "food_processing",
        "biogas_plant",
        "anaerobic digestion",
        "Kitakyushu Eco-Town food-waste recycling",
    ),
    ("organic_waste", "food_processing", "compost_plant", "composting", "UK NISP food-waste exchanges"),
    ("cassava_pulp", "tapioca_starch", "feed_mill", "feed ingredient", "Thai tapioca-starch industry"),
    ("animal_manure", "livestock_farm", "biogas_plant", "anaerobic digestion", "farm biogas programmes in Thailand"),
    ("digestate", "biogas_plant", "compost_plant", "compost feedstock", "digestate upgrading"),
    ("biogas", "biogas_plant", "food_processing", "boiler fuel", "biogas use in Thai starch and food plants"),
    ("biogas", "tapioca_starch", "tapioca_starch", "boiler fuel from starch wastewater", "Thai tapioca-starch biogas"),
    (
        "sewage_sludge",
        "wastewater_treatment",
        "cement",
        "co-processing as fuel and raw meal",
        "sludge co-processing in Japanese cement kilns",
    ),
    ("sewage_sludge", "wastewater_treatment", "biogas_plant", "co-digestion", "sludge digestion"),
    (
        "treated_wastewater",
        "wastewater_treatment",
        "coal_power",
        "cooling water",
        "Kalundborg Symbiosis: water cascading",
    ),
    ("steam", "coal_power", "food_processing", "process steam", "Kalundborg Symbiosis: Asnæs steam to industry"),
    ("steam", "biomass_power", "paper_mill", "process steam", "cogeneration steam sales"),
    ("waste_heat", "steel", "food_processing", "low-grade process heat", "heat cascading (UK NISP)"),
    ("co2", "distillery", "food_processing", "carbonation and dry ice", "fermentation CO2 recovery"),
    ("co2", "brewery", "food_processing", "carbonation", "fermentation CO2 recovery"),
    ("waste_plastic", "food_processing", "plastics_recycling", "regranulation", "Kitakyushu Eco-Town PET recycling"),
    ("waste_plastic", "plastics_recycling", "cement", "refuse-derived fuel", "co-processing of plastic rejects"),
    ("cullet", "food_processing", "glass", "furnace feed", "glass cullet recycling"),
    ("paper_waste", "food_processing", "paper_mill", "recovered fibre", "waste-paper recycling"),
    ("used_oil", "steel", "cement", "kiln fuel", "co-processing of waste oil"),
    ("tyres", "livestock_farm", "cement", "tyre-derived fuel", "co-processing of end-of-life tyres"),
    ("textile_waste", "textile", "board_mill", "fibre board filler", "UK NISP textile exchanges"),
    ("cement_kiln_dust", "cement", "compost_plant", "liming agent", "kiln-dust soil amendment"),
    ("animal_feed", "feed_mill", "livestock_farm", "feed", "feed supply"),
]


def synergy_table() -> pd.DataFrame:
    """The known synergies as a table: material, from_sectors, to_sector, use, source."""
    return pd.DataFrame(_SYNERGY_ROWS, columns=["material", "from_sector", "to_sector", "use", "source"])


#: The synergy table (a DataFrame).
SYNERGIES = synergy_table()


def check_material(name: object, *, what: str = "material") -> str:
    """Return ``name`` if it is in the vocabulary; else raise with the closest names."""
    text = str(name).strip()
    if text not in MATERIALS:
        hint = did_you_mean(text, MATERIALS) or f"; see eicgeo.materials.MATERIALS ({len(MATERIALS)} names)"
        msg = f"{what} {text!r} is not a known material{hint}"
        raise MaterialError(msg)
    return text


def check_sector(name: object, *, what: str = "sector") -> str:
    """Return ``name`` if it is a known sector; else raise with the closest names."""
    text = str(name).strip()
    if text not in SECTORS:
        hint = did_you_mean(text, SECTORS) or f"; known sectors: {', '.join(SECTORS)}"
        msg = f"{what} {text!r} is not a known sector{hint}"
        raise MaterialError(msg)
    return text


def parse_flows(text: object, *, what: str = "flows") -> dict[str, float]:
    """Parse a ``material:tonnes`` list separated by ``;`` into ``{material: tonnes}``.

    Empty text gives an empty dict. Repeated materials are summed.

    Examples
    --------
    >>> parse_flows("fly_ash:1200;steam:300")
    {'fly_ash': 1200.0, 'steam': 300.0}
    >>> parse_flows("")
    {}
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return {}
    flows: dict[str, float] = {}
    for item in str(text).split(";"):
        item = item.strip()
        if not item:
            continue
        material, sep, amount = item.partition(":")
        if not sep:
            msg = f"{what}: item {item!r} is not 'material:tonnes' (e.g. 'fly_ash:1200;steam:300')"
            raise MaterialError(msg)
        material = check_material(material.strip(), what=f"{what}: material")
        try:
            tonnes = float(amount)
        except ValueError as err:
            msg = f"{what}: amount {amount.strip()!r} for {material!r} is not a number"
            raise MaterialError(msg) from err
        if not math.isfinite(tonnes) or tonnes < 0:
            msg = f"{what}: amount {amount.strip()!r} for {material!r} must be a number >= 0"
            raise MaterialError(msg)
        flows[material] = flows.get(material, 0.0) + tonnes
    return flows


def format_flows(flows: dict[str, float]) -> str:
    """Inverse of :func:`parse_flows`.

    Examples
    --------
    >>> format_flows({"fly_ash": 1200.0, "steam": 300.5})
    'fly_ash:1200;steam:300.5'
    """
    return ";".join(f"{m}:{_number(t)}" for m, t in flows.items())


def _number(value: float) -> str:
    """Shortest text that reads back as ``value`` exactly: '1200', '300.5', never '1.23457e+06'."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
