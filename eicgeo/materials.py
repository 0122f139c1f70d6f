"""The material vocabulary and the table of known by-product synergies.

Every material named in firm registers, source layers and scenarios must be in the vocabulary
(:data:`MATERIALS`). Each material has a unit (tonnes per year, MWh per year for energy
carriers, m³ per year for water), the European Waste Catalogue (EWC) chapter where it is a
waste, the sectors that take it as an input (``used_by``) and a screening factor of the CO2 that
one unit avoids when it replaces the virgin material or fuel of its main use (``co2_avoided``,
with its source note). :data:`SYNERGIES` lists documented exchanges: the output material, the
sector that gives it, the receiving sector, the typical use and a source note.

A run's vocabulary is a value (:class:`Vocabulary`): the built-in one (:data:`BUILTIN`), or that
plus the user's materials, sectors and synergies from CSV files or DataFrames
(:func:`vocabulary`; a scenario gives them as ``inputs.materials``, ``inputs.synergies`` and
``inputs.sectors``). Nothing global changes, so two runs in one process each see their own.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import pandas as pd

from eicgeo._errors import MaterialError
from eicgeo._validate import did_you_mean

__all__ = [
    "BUILTIN",
    "KINDS",
    "MATERIALS",
    "SECTORS",
    "SYNERGIES",
    "UNITS",
    "Extension",
    "Material",
    "Vocabulary",
    "check_material",
    "check_sector",
    "format_flows",
    "parse_flows",
    "read_extension",
    "synergy_table",
    "vocabulary",
]

#: Material kinds (see :class:`Material`).
KINDS: tuple[str, ...] = ("raw", "byproduct", "product", "energy", "emission", "utility")
#: Units of the flows (per year).
UNITS: tuple[str, ...] = ("t/yr", "MWh/yr", "m3/yr")


@dataclass(frozen=True)
class Material:
    """One material of the vocabulary.

    ``kind`` is ``raw`` (virgin input), ``byproduct`` (a residue or waste with a use),
    ``product`` (a main product traded between sectors), ``energy`` (heat, steam or gas that can
    be piped to a neighbour), ``emission`` (captured CO2) or ``utility`` (grid electricity and
    raw water, bought from networks rather than exchanged).

    ``used_by`` are the sectors (keys of :data:`SECTORS`) that take the material as an input;
    ``co2_avoided`` is t CO2 avoided per unit (t, MWh or m³) when the material replaces the
    virgin material or fossil fuel of its main use, a screening factor explained by
    ``co2_source``.
    """

    name: str
    kind: str
    unit: str = "t/yr"
    ewc: str = ""
    description: str = ""
    used_by: tuple[str, ...] = ()
    co2_avoided: float = 0.0
    co2_source: str = ""


def _m(name: str, kind: str, ewc: str = "", description: str = "", unit: str = "t/yr") -> Material:
    return Material(name, kind, unit, ewc, description)


_MWH = "MWh/yr"
_M3 = "m3/yr"

# The built-in materials, before their users and CO2 factors are filled in below.
_BASE: list[Material] = [
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

#: Sectors of the firm register, with a short description.
_SECTOR_ROWS: dict[str, str] = {
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
    "plasterboard": "gypsum plasterboard and wallboard",
    "aquaculture": "fish and shrimp farming",
}

# (material, from sector, to sector, typical use, source note). The notes name the documented
# case each exchange is known from: Kalundborg (Denmark), Kitakyushu Eco-Town (Japan), Ulsan
# Eco-Industrial Park (Korea), Map Ta Phut (Thailand), the UK National Industrial Symbiosis
# Programme (NISP) and rice-husk power in India and Thailand; the others are established trade.
_SYNERGY_ROWS: list[tuple[str, str, str, str, str]] = [
    (
        "rice_husk",
        "rice_mill",
        "biomass_power",
        "boiler fuel for husk-fired power",
        "rice-husk power in Thailand (A.T. Biopower, Pichit) and India (Husk Power Systems, Bihar)",
    ),
    ("rice_husk", "rice_mill", "cement", "alternative kiln fuel", "co-processing in Indian cement kilns"),
    ("rice_husk", "rice_mill", "brick_kiln", "firing fuel", "common practice in South and Southeast Asian brick kilns"),
    (
        "rice_husk_ash",
        "biomass_power",
        "cement",
        "pozzolan in blended cement",
        "ash of rice-husk power plants in India and Thailand; ASTM C618 class N pozzolan",
    ),
    (
        "rice_husk_ash",
        "biomass_power",
        "steel",
        "insulating cover for ladles and tundishes",
        "steel-plant refractory use of husk ash from Indian rice-husk power",
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
        "Kalundborg Symbiosis: Asnæs power-station fly ash to Aalborg Portland cement",
    ),
    ("fly_ash", "coal_power", "brick_kiln", "fly-ash bricks", "India's fly-ash utilisation rules for brick makers"),
    ("bottom_ash", "coal_power", "cement", "raw-meal component", "cement raw-material substitution"),
    ("bottom_ash", "coal_power", "brick_kiln", "aggregate in blocks", "ash-block manufacture (UK NISP)"),
    ("fgd_gypsum", "coal_power", "cement", "set retarder", "FGD gypsum replaces natural gypsum in cement grinding"),
    (
        "fgd_gypsum",
        "coal_power",
        "plasterboard",
        "plasterboard core",
        "Kalundborg Symbiosis: Asnæs FGD gypsum to the Gyproc plasterboard plant",
    ),
    ("slag", "steel", "cement", "ground slag in slag cement", "Kitakyushu Eco-Town and Ulsan: steel slag to cement"),
    ("mill_scale", "steel", "cement", "iron corrective in raw meal", "cement raw-material substitution"),
    ("scrap_metal", "steel", "steel", "electric-arc-furnace feed", "Kitakyushu Eco-Town metal recycling"),
    ("sawdust", "sawmill", "board_mill", "particle-board furnish", "wood-industry cascading use (UK NISP)"),
    ("sawdust", "sawmill", "biomass_power", "boiler fuel", "wood-residue power"),
    ("wood_chips", "sawmill", "board_mill", "particle-board furnish", "wood-industry cascading use"),
    ("wood_chips", "sawmill", "paper_mill", "pulp fibre", "chip supply from sawmills to pulp mills"),
    ("spent_grain", "brewery", "feed_mill", "protein feed ingredient", "brewers' grains as cattle feed"),
    ("spent_grain", "brewery", "livestock_farm", "wet feed", "brewers' grains fed directly (UK NISP)"),
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
        "sludge co-processing in Japanese cement kilns (Kitakyushu)",
    ),
    ("sewage_sludge", "wastewater_treatment", "biogas_plant", "co-digestion", "sludge digestion"),
    (
        "treated_wastewater",
        "wastewater_treatment",
        "coal_power",
        "cooling water",
        "Kalundborg Symbiosis: water cascading; Map Ta Phut: reuse of treated effluent as cooling water",
    ),
    (
        "treated_wastewater",
        "wastewater_treatment",
        "textile",
        "process water after polishing",
        "Map Ta Phut and other Thai estates: recycled water for industry",
    ),
    ("steam", "coal_power", "food_processing", "process steam", "Kalundborg Symbiosis: Asnæs steam to industry"),
    (
        "steam",
        "coal_power",
        "paper_mill",
        "process steam",
        "Ulsan Eco-Industrial Park: steam networks from power and incinerators to paper and chemical plants",
    ),
    (
        "steam",
        "biomass_power",
        "food_processing",
        "process steam",
        "Map Ta Phut: steam from cogeneration plants sold to neighbours",
    ),
    ("steam", "biomass_power", "paper_mill", "process steam", "cogeneration steam sales"),
    ("waste_heat", "steel", "food_processing", "low-grade process heat", "heat cascading (UK NISP)"),
    (
        "waste_heat",
        "steel",
        "paper_mill",
        "pre-heating and drying",
        "Ulsan Eco-Industrial Park: waste-heat recovery from smelters",
    ),
    (
        "waste_heat",
        "coal_power",
        "aquaculture",
        "warm water for fish farming",
        "Kalundborg Symbiosis: cooling water to the fish farm",
    ),
    ("co2", "distillery", "food_processing", "carbonation and dry ice", "fermentation CO2 recovery"),
    ("co2", "brewery", "food_processing", "carbonation", "fermentation CO2 recovery"),
    ("waste_plastic", "food_processing", "plastics_recycling", "regranulation", "Kitakyushu Eco-Town PET recycling"),
    ("waste_plastic", "plastics_recycling", "cement", "refuse-derived fuel", "co-processing of plastic rejects"),
    ("cullet", "food_processing", "glass", "furnace feed", "glass cullet recycling (UK NISP)"),
    ("paper_waste", "food_processing", "paper_mill", "recovered fibre", "waste-paper recycling"),
    ("used_oil", "steel", "cement", "kiln fuel", "co-processing of waste oil"),
    (
        "used_oil",
        "food_processing",
        "plastics_recycling",
        "re-refining and process fuel",
        "Map Ta Phut and Ulsan waste-oil recovery",
    ),
    ("tyres", "livestock_farm", "cement", "tyre-derived fuel", "co-processing of end-of-life tyres"),
    ("textile_waste", "textile", "board_mill", "fibre board filler", "UK NISP textile exchanges"),
    ("cement_kiln_dust", "cement", "compost_plant", "liming agent", "kiln-dust soil amendment"),
    ("sewage_sludge", "wastewater_treatment", "compost_plant", "compost feedstock", "Kalundborg: sludge to farmland"),
    ("animal_feed", "feed_mill", "livestock_farm", "feed", "feed supply"),
]

# Sectors that take a material as input, besides the receiving sectors of the synergy table:
# raw materials, products and utilities, which are ordinary trade.
_ALSO_USED_BY: dict[str, tuple[str, ...]] = {
    "paddy": ("rice_mill",),
    "sugar_cane": ("sugar_mill",),
    "cassava": ("tapioca_starch", "distillery"),
    "malt": ("brewery",),
    "coal": ("coal_power", "cement", "brick_kiln", "steel"),
    "iron_ore": ("steel",),
    "limestone": ("cement", "glass"),
    "quarry_stone": ("cement",),
    "clay": ("brick_kiln", "cement"),
    "sand": ("glass", "cement"),
    "timber": ("sawmill",),
    "water": ("coal_power", "food_processing", "brewery", "textile", "paper_mill", "tapioca_starch"),
    "electricity": ("rice_mill", "steel", "cement", "food_processing", "textile", "paper_mill"),
    "compost": ("livestock_farm",),
    "fertilizer": ("livestock_farm",),
    "ethanol": ("food_processing",),
    "cement": ("brick_kiln",),
    "rice": ("food_processing", "brewery"),
    "sugar": ("food_processing", "brewery"),
    "starch": ("food_processing", "paper_mill", "textile"),
    "plastic_pellets": ("food_processing",),
    "steel": ("steel",),
    "paper": ("food_processing",),
    "glass": ("food_processing",),
    "textiles": ("textile",),
}

# CO2 avoided per unit (t CO2 per t, per MWh or per m³) when the material replaces the virgin
# material or fossil fuel of its main use in the synergy table, with the basis of each factor.
# These are screening values rounded to one significant figure, for ranking exchanges, not for
# carbon accounting; biogenic CO2 is counted as neutral (IPCC 2006). Override them per run with
# ``symbiosis.match(co2_factors=...)`` or a ``co2_avoided`` column in a materials CSV.
_CO2: dict[str, tuple[float, str]] = {
    "scrap_metal": (1.5, "scrap in an EAF replaces blast-furnace iron: about 1.5 t CO2 per t scrap (worldsteel)"),
    "rice_husk": (1.2, "replaces coal: 13 GJ/t x 0.0946 t CO2/GJ (IPCC 2006 coal default)"),
    "rice_husk_ash": (0.8, "replaces clinker, about 0.8 t CO2/t (GCCA GNR world average)"),
    "rice_bran": (0.3, "replaces feed grain, about 0.3 t CO2e/t (FAO GLEAM feed footprints)"),
    "bagasse": (0.7, "replaces coal: 7.5 GJ/t at 50 % moisture x 0.0946 t CO2/GJ (IPCC 2006)"),
    "molasses": (0.3, "replaces feed grain or starch feedstock, about 0.3 t CO2e/t (FAO GLEAM)"),
    "press_mud": (0.05, "replaces mineral N and P fertiliser (about 1.5 % N at ~4 t CO2e per t N)"),
    "vinasse": (0.03, "biogas from spent wash replaces fuel oil in the distillery boiler (~10 m³ CH4 per m³)"),
    "fly_ash": (0.8, "replaces clinker, about 0.8 t CO2/t (GCCA GNR world average)"),
    "bottom_ash": (0.01, "replaces quarried aggregate or clay, ~5-10 kg CO2/t of quarrying and crushing"),
    "slag": (0.7, "ground slag replaces clinker (0.8 t CO2/t) less grinding energy (GCCA, worldsteel)"),
    "fgd_gypsum": (0.01, "replaces mined natural gypsum, ~10 kg CO2/t of quarrying and haulage"),
    "mill_scale": (0.01, "replaces iron ore as kiln corrective, ~10 kg CO2/t of mining"),
    "sawdust": (0.9, "replaces coal: 10 GJ/t at 30 % moisture x 0.0946 t CO2/GJ (IPCC 2006)"),
    "wood_chips": (0.9, "replaces coal: 10 GJ/t at 30 % moisture x 0.0946 t CO2/GJ (IPCC 2006)"),
    "spent_grain": (0.1, "wet grains (~25 % dry matter) replace feed grain at ~0.4 t CO2e per t dry (GLEAM)"),
    "brewer_yeast": (0.1, "wet yeast replaces feed protein, as spent grain"),
    "organic_waste": (
        0.5,
        "digested or composted instead of landfilled: landfill methane of food waste (IPCC waste model)",
    ),
    "cassava_pulp": (0.1, "wet pulp replaces feed grain, as spent grain"),
    "treated_wastewater": (0.0003, "replaces treated fresh water, ~0.3 kg CO2 per m³ of abstraction and treatment"),
    "sewage_sludge": (0.1, "wet sludge (~25 % dry) replaces coal in a kiln: ~1 GJ/t net x 0.0946 t CO2/GJ"),
    "digestate": (0.02, "replaces mineral fertiliser (about 0.5 % N)"),
    "co2": (0.0, "re-emitted when the product is used; displaces commercial CO2 that is itself a by-product"),
    "waste_plastic": (1.5, "regranulate replaces virgin PE/PP (~1.8 t CO2e/t, PlasticsEurope) less recycling"),
    "cullet": (0.3, "cullet melts with less energy and no carbonate CO2: ~0.3 t CO2/t (British Glass, FEVE)"),
    "paper_waste": (0.5, "recovered fibre replaces virgin kraft pulp, ~0.5 t CO2e/t (CEPI)"),
    "used_oil": (0.8, "replaces coal: 40 GJ/t x (0.0946 coal - 0.0733 oil) t CO2/GJ (IPCC 2006)"),
    "tyres": (0.5, "replaces coal: 32 GJ/t, ~27 % biogenic, tyre 85 kg CO2/GJ (IPCC 2006; WBCSD CSI)"),
    "textile_waste": (0.1, "replaces wood fibre filler and avoids landfill"),
    "animal_manure": (0.05, "digested instead of stored in lagoons: avoided methane (IPCC 2006 manure factors)"),
    "cement_kiln_dust": (0.01, "replaces ground agricultural lime, ~10 kg CO2/t of quarrying"),
    "biogas": (0.2, "replaces natural gas: 0.202 t CO2 per MWh of fuel (IPCC 2006, 56.1 t CO2/TJ)"),
    "waste_heat": (0.22, "replaces gas-boiler heat: 0.202 t CO2/MWh fuel / 0.9 boiler efficiency"),
    "steam": (0.22, "replaces gas-boiler steam: 0.202 t CO2/MWh fuel / 0.9 boiler efficiency"),
}


def _builtin_materials() -> dict[str, Material]:
    users: dict[str, list[str]] = {}
    for material, _, to_sector, _, _ in _SYNERGY_ROWS:
        users.setdefault(material, []).append(to_sector)
    for material, sectors in _ALSO_USED_BY.items():
        users.setdefault(material, []).extend(sectors)
    out = {}
    for m in _BASE:
        factor, note = _CO2.get(m.name, (0.0, ""))
        out[m.name] = replace(
            m, used_by=tuple(dict.fromkeys(users.get(m.name, []))), co2_avoided=factor, co2_source=note
        )
    return out


_SYNERGY_COLUMNS = ["material", "from_sector", "to_sector", "use", "source"]
Table = pd.DataFrame | str | Path
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Extension:
    """Validated additions to the vocabulary (see :func:`read_extension`)."""

    materials: dict[str, Material] = field(default_factory=dict)
    sectors: dict[str, str] = field(default_factory=dict)
    synergies: list[tuple[str, str, str, str, str]] = field(default_factory=list)


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """The materials, sectors and synergies one run knows: the built-in ones (:data:`BUILTIN`)
    plus what a scenario's ``inputs.materials``, ``inputs.synergies`` and ``inputs.sectors``
    add (:func:`vocabulary`). It is a value: two runs with different tables each see their own.

    Examples
    --------
    >>> import pandas as pd
    >>> mine = vocabulary(materials=pd.DataFrame({"name": ["coffee_grounds"], "kind": ["byproduct"],
    ...                                           "used_by": ["biogas_plant"]}))
    >>> mine.materials["coffee_grounds"].used_by
    ('biogas_plant',)
    >>> "coffee_grounds" in BUILTIN.materials
    False
    """

    materials: Mapping[str, Material]
    sectors: Mapping[str, str]
    synergy_rows: tuple[tuple[str, str, str, str, str], ...] = ()

    def synergy_table(self) -> pd.DataFrame:
        """The known synergies as a table: ``material``, ``from_sector``, ``to_sector``, ``use``
        (the typical use) and ``source`` (the documented case or practice)."""
        return pd.DataFrame(list(self.synergy_rows), columns=_SYNERGY_COLUMNS)

    def extended(self, extension: Extension) -> Vocabulary:
        """This vocabulary with ``extension`` added."""
        return Vocabulary(
            {**self.materials, **extension.materials},
            {**self.sectors, **extension.sectors},
            (*self.synergy_rows, *extension.synergies),
        )

    def unit(self, material: str, default: str = "t/yr") -> str:
        """The unit of ``material`` (``default`` for a name the vocabulary lacks)."""
        return self.materials[material].unit if material in self.materials else default


#: The built-in vocabulary.
BUILTIN = Vocabulary(_builtin_materials(), dict(_SECTOR_ROWS), tuple(_SYNERGY_ROWS))
#: The built-in materials by name (read-only; a run's own are in its :class:`Vocabulary`).
MATERIALS: Mapping[str, Material] = MappingProxyType(BUILTIN.materials)
#: The built-in sectors (read-only).
SECTORS: Mapping[str, str] = MappingProxyType(BUILTIN.sectors)
#: The built-in synergy table.
SYNERGIES = BUILTIN.synergy_table()


def synergy_table(vocab: Vocabulary = BUILTIN) -> pd.DataFrame:
    """The synergies of ``vocab`` (default: the built-in ones) as a table."""
    return vocab.synergy_table()


def _nearest(name: str, choices: Mapping[str, object], n: int = 3) -> list[str]:
    """The ``n`` known names most like ``name`` (however unlike), best first."""
    score = {c: difflib.SequenceMatcher(None, name.lower(), c).ratio() for c in choices}
    return sorted(score, key=lambda c: (-score[c], c))[:n]


def check_material(name: object, *, what: str = "material", vocab: Vocabulary = BUILTIN) -> str:
    """Return ``name`` if it is in the vocabulary; else raise listing the nearest known names.

    Examples
    --------
    >>> check_material("fly_ash")
    'fly_ash'
    """
    text = str(name).strip()
    known = vocab.materials
    if text not in known:
        hint = did_you_mean(text, known) or (
            f"; the nearest known names are {', '.join(map(repr, _nearest(text, known)))}"
            f" (all {len(known)} are in eicgeo.materials.MATERIALS and the scenario's inputs.materials)"
        )
        msg = f"{what} {text!r} is not a known material{hint}"
        raise MaterialError(msg)
    return text


def check_sector(name: object, *, what: str = "sector", vocab: Vocabulary = BUILTIN) -> str:
    """Return ``name`` if it is a known sector; else raise listing the nearest known sectors."""
    text = str(name).strip()
    known = vocab.sectors
    if text not in known:
        hint = did_you_mean(text, known) or (
            f"; the nearest known sectors are {', '.join(map(repr, _nearest(text, known)))}"
            f" (all {len(known)} are in eicgeo.materials.SECTORS and the scenario's inputs.sectors)"
        )
        msg = f"{what} {text!r} is not a known sector{hint}"
        raise MaterialError(msg)
    return text


# --------------------------------------------------------------------------------------------
# extending the vocabulary
# --------------------------------------------------------------------------------------------
def read_extension(
    *,
    materials: Table | None = None,
    synergies: Table | None = None,
    sectors: Table | None = None,
    base: Vocabulary = BUILTIN,
) -> Extension:
    """Read and check additions to a vocabulary.

    Parameters
    ----------
    materials : DataFrame or path to a CSV, optional
        Columns ``name``, ``kind`` (one of :data:`KINDS`) and optionally ``unit`` (one of
        :data:`UNITS`, default ``t/yr``), ``ewc``, ``description``, ``used_by`` (sectors
        separated by ``;``), ``co2_avoided`` (t CO2 per unit, default 0) and ``co2_source``.
    synergies : DataFrame or path to a CSV, optional
        Columns ``material``, ``from_sector``, ``to_sector``, ``use`` and ``source``.
    sectors : DataFrame or path to a CSV, optional
        Columns ``sector`` and ``description``: new sectors the other tables may name.
    base : Vocabulary
        The vocabulary added to (its names cannot be redefined).

    Raises
    ------
    MaterialError
        Naming the file (or table), the row (the CSV line), the value and what was expected.
        A name of a built-in material or sector cannot be redefined.
    """
    new_sectors = _read_sectors(sectors, base) if sectors is not None else {}
    known_sectors = {**base.sectors, **new_sectors}
    new_materials = _read_materials(materials, known_sectors, base) if materials is not None else {}
    known = {**base.materials, **new_materials}
    rows = _read_synergies(synergies, known, known_sectors, base) if synergies is not None else []
    return Extension(new_materials, new_sectors, rows)


def vocabulary(
    *, materials: Table | None = None, synergies: Table | None = None, sectors: Table | None = None
) -> Vocabulary:
    """The built-in vocabulary with materials, sectors and synergies added from CSV files or
    DataFrames (see :func:`read_extension` for the columns). Every row is checked; built-in
    names cannot be redefined. Nothing global changes: pass the result to the readers and
    stages (``vocab=``), as :func:`eicgeo.run` does with a scenario's tables.
    """
    return BUILTIN.extended(read_extension(materials=materials, synergies=synergies, sectors=sectors))


def _table(table: Table, what: str, required: list[str]) -> tuple[pd.DataFrame, str, int]:
    """The table, its label for messages and the line number of its first row."""
    if isinstance(table, pd.DataFrame):
        frame, label, first = table.copy(), f"{what} table", 1
    else:
        path = Path(table)
        label, first = f"{what} {str(path)!r}", 2  # the header is line 1
        if not path.is_file():
            msg = f"{label} does not exist; expected a CSV file"
            raise MaterialError(msg)
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            msg = f"{label} cannot be read as CSV: {err}"
            raise MaterialError(msg) from err
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        msg = f"{label} is missing column(s) {', '.join(missing)}; it has {', '.join(frame.columns)}"
        raise MaterialError(msg)
    frame = frame.fillna("").astype(str).apply(lambda col: col.str.strip())
    return frame.reset_index(drop=True), label, first


def _new_name(value: str, where: str, built_in: Mapping[str, object], what: str) -> str:
    if not _NAME.match(value):
        msg = f"{where}: {what} name {value!r} must be lower case letters, digits and '_' (e.g. 'coffee_grounds')"
        raise MaterialError(msg)
    if value in built_in:
        msg = f"{where}: {what} {value!r} is built in and cannot be redefined; choose another name"
        raise MaterialError(msg)
    return value


def _read_sectors(table: Table, base: Vocabulary) -> dict[str, str]:
    frame, label, first = _table(table, "sectors", ["sector", "description"])
    out: dict[str, str] = {}
    for k, row in frame.iterrows():
        where = f"{label} row {k + first}"
        name = _new_name(row["sector"], where, base.sectors, "sector")
        out[name] = row["description"] or name
    return out


def _read_materials(table: Table, sectors: Mapping[str, str], base: Vocabulary) -> dict[str, Material]:
    frame, label, first = _table(table, "materials", ["name", "kind"])
    out: dict[str, Material] = {}
    for k, row in frame.iterrows():
        where = f"{label} row {k + first}"
        name = _new_name(row["name"], where, base.materials, "material")
        if name in out:
            msg = f"{where}: material {name!r} is listed twice"
            raise MaterialError(msg)
        kind = row["kind"]
        if kind not in KINDS:
            msg = f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}{did_you_mean(kind, KINDS)}"
            raise MaterialError(msg)
        unit = row.get("unit", "") or "t/yr"
        if unit not in UNITS:
            msg = f"{where}: unit {unit!r} is not one of {', '.join(UNITS)}"
            raise MaterialError(msg)
        used_by = tuple(
            _check_sector_in(s.strip(), sectors, f"{where}: used_by sector")
            for s in row.get("used_by", "").split(";")
            if s.strip()
        )
        factor_text = row.get("co2_avoided", "") or "0"
        try:
            factor = float(factor_text)
        except ValueError:
            factor = math.nan
        if not math.isfinite(factor) or factor < 0:
            msg = f"{where}: co2_avoided {factor_text!r} is not a number >= 0 (t CO2 per {unit.removesuffix('/yr')})"
            raise MaterialError(msg)
        out[name] = Material(
            name,
            kind,
            unit,
            row.get("ewc", ""),
            row.get("description", ""),
            used_by,
            factor,
            row.get("co2_source", "") or ("user table" if factor else ""),
        )
    return out


def _read_synergies(
    table: Table, materials: Mapping[str, Material], sectors: Mapping[str, str], base: Vocabulary
) -> list[tuple[str, str, str, str, str]]:
    frame, label, first = _table(table, "synergies", _SYNERGY_COLUMNS)
    built_in = {row[:3] for row in base.synergy_rows}
    out: dict[tuple[str, str, str], tuple[str, str, str, str, str]] = {}
    for k, row in frame.iterrows():
        where = f"{label} row {k + first}"
        material = row["material"]
        if material not in materials:
            hint = did_you_mean(material, materials) or (
                f"; the nearest known names are {', '.join(map(repr, _nearest(material, materials)))}"
            )
            msg = f"{where}: material {material!r} is not a known material{hint}"
            raise MaterialError(msg)
        source = _check_sector_in(row["from_sector"], sectors, f"{where}: from_sector")
        target = _check_sector_in(row["to_sector"], sectors, f"{where}: to_sector")
        for column in ("use", "source"):
            if not row[column]:
                msg = f"{where}: {column} is empty; say what the material is used for and where the exchange is known"
                raise MaterialError(msg)
        key = (material, source, target)
        if key in built_in or key in out:
            msg = f"{where}: the synergy {material} from {source} to {target} is already in the table"
            raise MaterialError(msg)
        out[key] = (material, source, target, row["use"], row["source"])
    return list(out.values())


def _check_sector_in(name: str, sectors: Mapping[str, str], what: str) -> str:
    """Like :func:`check_sector`, against ``sectors`` (the known and the newly read ones)."""
    if name not in sectors:
        hint = (
            did_you_mean(name, sectors)
            or f"; the nearest known sectors are {', '.join(map(repr, _nearest(name, sectors)))}"
        )
        msg = f"{what} {name!r} is not a known sector{hint}; new sectors go in a sectors table (inputs.sectors)"
        raise MaterialError(msg)
    return name


def parse_flows(text: object, *, what: str = "flows", vocab: Vocabulary = BUILTIN) -> dict[str, float]:
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
        material = check_material(material.strip(), what=f"{what}: material", vocab=vocab)
        try:
            tonnes = float(amount)
        except ValueError as err:
            msg = f"{what}: amount {amount.strip()!r} for {material!r} is not a number"
            raise MaterialError(msg) from err
        if not math.isfinite(tonnes) or tonnes < 0:
            msg = f"{what}: amount {amount.strip()!r} for {material!r} must be a number >= 0"
            raise MaterialError(msg)
        flows[material] = flows.get(material, 0.0) + tonnes
        if not math.isfinite(flows[material]):
            msg = f"{what}: the amounts of {material!r} add up to more than a number can hold"
            raise MaterialError(msg)
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
