"""Land-cover legends: class codes mapped to names, colours and land-cover roles.

A role is what the rest of eicgeo needs to know about a class: built-up land, cropland,
grass/shrub, forest, water, wetland, bare land, or nodata. Five legends are built in: ESA
WorldCover, CORINE Land Cover (the CLC grid index 1..44), NLCD, ESA CCI LC and MODIS IGBP (the
last three as CSV files in ``eicgeo/data/legends``, each explaining its role mapping at the top);
any other is a CSV with columns ``code,name,role`` (and optionally ``color``), where lines
starting with ``#`` above the header are comments.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from eicgeo._errors import InputError
from eicgeo._validate import check_columns, check_file, did_you_mean

__all__ = [
    "CORINE",
    "ESA_CCI_LC",
    "ESA_WORLDCOVER",
    "MODIS_IGBP",
    "NLCD",
    "ROLES",
    "Legend",
    "LegendClass",
    "get_legend",
]

#: Land-cover roles; a role's code is its position (0 is nodata).
ROLES: tuple[str, ...] = (
    "nodata",
    "built_up",
    "cropland",
    "grass_shrub",
    "forest",
    "water",
    "wetland",
    "bare",
)
ROLE_CODE: dict[str, int] = {role: i for i, role in enumerate(ROLES)}


@dataclass(frozen=True)
class LegendClass:
    code: int
    name: str
    role: str
    color: str = "#999999"


@dataclass(frozen=True)
class Legend:
    """A land-cover legend.

    Examples
    --------
    >>> import numpy as np
    >>> ESA_WORLDCOVER.roles(np.array([[10, 40], [50, 80]], dtype="uint8")).tolist()
    [['forest', 'cropland'], ['built_up', 'water']]
    """

    name: str
    classes: tuple[LegendClass, ...]

    def __post_init__(self) -> None:
        codes = [c.code for c in self.classes]
        if len(set(codes)) != len(codes):
            dupes = sorted({c for c in codes if codes.count(c) > 1})
            msg = f"legend {self.name!r} lists code(s) {dupes} more than once"
            raise InputError(msg)
        for c in self.classes:
            if c.role not in ROLE_CODE:
                msg = (
                    f"legend {self.name!r} class {c.code} ({c.name}) has role {c.role!r}; expected one of "
                    f"{', '.join(ROLES)}{did_you_mean(c.role, ROLES)}"
                )
                raise InputError(msg)
            if not 0 <= c.code <= 65535:
                msg = f"legend {self.name!r} code {c.code} is outside 0..65535"
                raise InputError(msg)

    @property
    def codes(self) -> list[int]:
        return [c.code for c in self.classes]

    def role_table(self) -> np.ndarray:
        """Lookup array: ``role_table()[code]`` is the role code (0 for codes not listed)."""
        table = np.zeros(max(self.codes, default=0) + 1, dtype=np.uint8)
        for c in self.classes:
            table[c.code] = ROLE_CODE[c.role]
        return table

    def role_codes(self, landcover: np.ndarray) -> np.ndarray:
        """Role code (uint8, see :data:`ROLES`) of every cell of a class-code array."""
        table = self.role_table()
        codes = np.asarray(landcover)
        inside = codes < table.size
        return np.where(inside, table[np.where(inside, codes, 0)], 0).astype(np.uint8)

    def roles(self, landcover: np.ndarray) -> np.ndarray:
        """Role name of every cell (an object array; for display and tests)."""
        return np.asarray(ROLES, dtype=object)[self.role_codes(landcover)]

    def unknown_codes(self, landcover: np.ndarray, nodata: int | None = 0) -> list[int]:
        """Codes present in ``landcover`` that the legend does not list (``nodata`` aside)."""
        present = np.unique(np.asarray(landcover))
        known = set(self.codes) | ({nodata} if nodata is not None else set())
        return [int(v) for v in present if int(v) not in known]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([c.__dict__ for c in self.classes])

    @classmethod
    def from_csv(cls, path: str | Path, name: str | None = None) -> Legend:
        """Read a custom legend from a CSV with columns ``code,name,role[,color]``."""
        path = check_file(path, "legend", (".csv",))
        text = Path(path).read_text(encoding="utf-8")
        # Lines starting with "#" above the header explain the table (how classes map to roles).
        lines = text.splitlines(keepends=True)
        while lines and lines[0].lstrip().startswith("#"):
            lines.pop(0)
        table = pd.read_csv(io.StringIO("".join(lines)))
        check_columns(table.columns, ["code", "name", "role"], f"legend {str(path)!r}")
        codes = pd.to_numeric(table["code"], errors="coerce")
        bad = table.index[codes.isna() | (codes % 1 != 0)]
        if len(bad):
            row = int(bad[0])
            value = table["code"].iloc[row]
            # A numpy scalar would print as np.float64(2.5); the user wrote 2.5.
            value = value.item() if hasattr(value, "item") else value
            msg = f"legend {str(path)!r} row {row + 2}: code {value!r} is not an integer"
            raise InputError(msg)
        colors = table["color"] if "color" in table else ["#999999"] * len(table)
        classes = tuple(
            LegendClass(int(code), str(nm), str(role).strip(), str(col))
            for code, nm, role, col in zip(codes, table["name"], table["role"], colors, strict=True)
        )
        return cls(name or path.stem, classes)


def _legend(name: str, rows: list[tuple[int, str, str, str]]) -> Legend:
    return Legend(name, tuple(LegendClass(*row) for row in rows))


#: ESA WorldCover 10 m v100/v200 classes with the product's own colours.
ESA_WORLDCOVER = _legend(
    "esa_worldcover",
    [
        (10, "Tree cover", "forest", "#006400"),
        (20, "Shrubland", "grass_shrub", "#ffbb22"),
        (30, "Grassland", "grass_shrub", "#ffff4c"),
        (40, "Cropland", "cropland", "#f096ff"),
        (50, "Built-up", "built_up", "#fa0000"),
        (60, "Bare / sparse vegetation", "bare", "#b4b4b4"),
        (70, "Snow and ice", "bare", "#f0f0f0"),
        (80, "Permanent water bodies", "water", "#0064c8"),
        (90, "Herbaceous wetland", "wetland", "#0096a0"),
        (95, "Mangroves", "wetland", "#00cf75"),
        (100, "Moss and lichen", "grass_shrub", "#fae6a0"),
    ],
)

#: CORINE Land Cover as the CLC raster grid index 1..44 (as distributed by the EEA), with the
#: standard CLC colours. 48 (no data), 49 (unclassified land) and 255 map to nodata and 50
#: (unclassified water) to water.
CORINE = _legend(
    "corine",
    [
        (1, "Continuous urban fabric", "built_up", "#e6004d"),
        (2, "Discontinuous urban fabric", "built_up", "#ff0000"),
        (3, "Industrial or commercial units", "built_up", "#cc4df2"),
        (4, "Road and rail networks and associated land", "built_up", "#cc0000"),
        (5, "Port areas", "built_up", "#e6cccc"),
        (6, "Airports", "built_up", "#e6cce6"),
        (7, "Mineral extraction sites", "bare", "#a600cc"),
        (8, "Dump sites", "bare", "#a64d00"),
        (9, "Construction sites", "built_up", "#ff4dff"),
        (10, "Green urban areas", "grass_shrub", "#ffa6ff"),
        (11, "Sport and leisure facilities", "grass_shrub", "#ffe6ff"),
        (12, "Non-irrigated arable land", "cropland", "#ffffa8"),
        (13, "Permanently irrigated land", "cropland", "#ffff00"),
        (14, "Rice fields", "cropland", "#e6e600"),
        (15, "Vineyards", "cropland", "#e68000"),
        (16, "Fruit trees and berry plantations", "cropland", "#f2a64d"),
        (17, "Olive groves", "cropland", "#e6a600"),
        (18, "Pastures", "grass_shrub", "#e6e64d"),
        (19, "Annual crops associated with permanent crops", "cropland", "#ffe6a6"),
        (20, "Complex cultivation patterns", "cropland", "#ffe64d"),
        (21, "Agriculture with significant natural vegetation", "cropland", "#e6cc4d"),
        (22, "Agro-forestry areas", "cropland", "#f2cca6"),
        (23, "Broad-leaved forest", "forest", "#80ff00"),
        (24, "Coniferous forest", "forest", "#00a600"),
        (25, "Mixed forest", "forest", "#4dff00"),
        (26, "Natural grasslands", "grass_shrub", "#ccf24d"),
        (27, "Moors and heathland", "grass_shrub", "#a6ff80"),
        (28, "Sclerophyllous vegetation", "grass_shrub", "#a6e64d"),
        (29, "Transitional woodland-shrub", "grass_shrub", "#a6f200"),
        (30, "Beaches, dunes, sands", "bare", "#e6e6e6"),
        (31, "Bare rocks", "bare", "#cccccc"),
        (32, "Sparsely vegetated areas", "bare", "#ccffcc"),
        (33, "Burnt areas", "bare", "#000000"),
        (34, "Glaciers and perpetual snow", "bare", "#a6e6cc"),
        (35, "Inland marshes", "wetland", "#a6a6ff"),
        (36, "Peat bogs", "wetland", "#4d4dff"),
        (37, "Salt marshes", "wetland", "#ccccff"),
        (38, "Salines", "wetland", "#e6e6ff"),
        (39, "Intertidal flats", "wetland", "#a6a6e6"),
        (40, "Water courses", "water", "#00ccf2"),
        (41, "Water bodies", "water", "#80f2e6"),
        (42, "Coastal lagoons", "water", "#00ffa6"),
        (43, "Estuaries", "water", "#a6ffe6"),
        (44, "Sea and ocean", "water", "#e6f2ff"),
        (48, "No data", "nodata", "#ffffff"),
        (49, "Unclassified land surface", "nodata", "#ffffff"),
        (50, "Unclassified water bodies", "water", "#e6f2ff"),
        (255, "No data", "nodata", "#ffffff"),
    ],
)


def _packaged(name: str) -> Legend:
    """A legend shipped as a CSV in ``eicgeo/data/legends`` (with its mapping explained on top)."""
    with resources.as_file(resources.files("eicgeo.data").joinpath("legends", f"{name}.csv")) as path:
        return Legend.from_csv(path, name=name)


#: USGS National Land Cover Database (NLCD 2001-2021), 30 m.
NLCD = _packaged("nlcd")
#: ESA Climate Change Initiative Land Cover (CCI LC, C3S), 300 m: the 37 LCCS classes.
ESA_CCI_LC = _packaged("esa_cci_lc")
#: MODIS MCD12Q1 land cover type 1 (IGBP), 500 m: the 17 classes.
MODIS_IGBP = _packaged("modis_igbp")

_BUILT_IN = {legend.name: legend for legend in (ESA_WORLDCOVER, CORINE, NLCD, ESA_CCI_LC, MODIS_IGBP)}
_ALIASES = {
    "worldcover": "esa_worldcover",
    "esa": "esa_worldcover",
    "clc": "corine",
    "esa_cci": "esa_cci_lc",
    "cci": "esa_cci_lc",
    "c3s": "esa_cci_lc",
    "modis": "modis_igbp",
    "igbp": "modis_igbp",
}


def get_legend(legend: str | Path | Legend) -> Legend:
    """Return a built-in legend by name (``esa_worldcover``, ``corine``, ``nlcd``, ``esa_cci_lc``,
    ``modis_igbp``) or read a CSV legend."""
    if isinstance(legend, Legend):
        return legend
    key = str(legend).lower()
    key = _ALIASES.get(key, key)
    if key in _BUILT_IN:
        return _BUILT_IN[key]
    if str(legend).lower().endswith(".csv"):
        return Legend.from_csv(legend)
    msg = (
        f"legend {str(legend)!r} is neither a built-in legend ({', '.join(_BUILT_IN)}) nor a CSV file"
        f"{did_you_mean(key, _BUILT_IN)}"
    )
    raise InputError(msg)
