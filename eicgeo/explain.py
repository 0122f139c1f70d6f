"""Why a zone ranks where it does, and the ranked zones as a planner reads them.

:func:`explain` breaks a zone's suitability into each criterion's part (weight x its mean
standardised value over the zone, the ``part_<criterion>`` columns of ``zones.gpkg``, the bars
of the brief's zone cards and the map popups) beside the same for the region's median allowed
fringe cell, and its score into each indicator's part. :func:`summary` is the ranked-zones table
with the columns a planner reads first, rounded, units in the headers.
"""

from __future__ import annotations

import base64
import io as _io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from eicgeo import zones as zones_
from eicgeo._errors import InputError
from eicgeo.brief import criterion_label

if TYPE_CHECKING:
    from eicgeo.pipeline import Result

__all__ = ["Explanation", "explain", "summary"]

#: The summary's columns: zone column, header (with its unit), decimals (None: a whole number).
SUMMARY_COLUMNS: list[tuple[str, str, int | None]] = [
    ("zone_id", "zone", None),
    ("where", "where", None),
    ("kind", "kind", None),
    ("area_ha", "area (ha)", None),
    ("score", "score (0–1)", 2),
    ("mean_suitability", "mean suitability (0–1)", 2),
    ("market_minutes", "to urban centre (min)", 1),
    ("material_minutes", "to raw materials (min)", 1),
    ("rural_pop_30min", "rural people within 30 min", None),
    ("n_firms", "firms within 2 km", None),
    ("symbiosis_tonnes", "by-products exchanged (t/yr)", None),
    ("green_loss_ha", "green space taken (ha)", None),
    ("p_top_k", "in the top k of trials (%)", None),
    ("tied", "tied", None),
]


def summary(result: Result, *, all: bool = False) -> pd.DataFrame:
    """The ranked zones for reading: the columns a planner reads first, rounded, with units in
    the headers and counts as whole numbers, indexed by rank; columns no zone has are left out.
    ``all=True`` adds every other zone column (minutes to each material, each criterion's part
    of the suitability, the centroid), still rounded. ``Result.zones`` keeps the raw values.

    Examples
    --------
    >>> import eicgeo
    >>> result = eicgeo.run(eicgeo.load_sample().replace(resolution=2000, without=["roads"]), progress=False)
    >>> table = summary(result)  # no roads, so no OSM places: no "where" column
    >>> table.index.name, list(table.columns[:4])
    ('rank', ['zone', 'kind', 'area (ha)', 'score (0–1)'])
    >>> str(table["area (ha)"].dtype), str(table["score (0–1)"].dtype)
    ('Int64', 'float64')
    """
    z = pd.DataFrame(result.zones.drop(columns="geometry")).sort_values("rank")
    k = result.scenario.zones.top_k
    out = pd.DataFrame(index=pd.Index(z["rank"].astype(int).to_numpy(), name="rank"))
    taken = {"rank", "geometry"}
    for column, header, decimals in SUMMARY_COLUMNS:
        if column not in z or not z[column].notna().any():
            continue
        taken.add(column)
        values = z[column].to_numpy()
        if column == "p_top_k":
            out[header.replace("top k", f"top {k}")] = _whole(values * 100)
        elif decimals is None and pd.api.types.is_numeric_dtype(z[column]) and z[column].dtype != bool:
            out[header] = _whole(values)
        elif decimals is not None:
            out[header] = np.round(values.astype(float), decimals)
        else:
            out[header] = values
    if all:
        for column in z.columns:
            if column in taken:
                continue
            header = _header(column)
            values = z[column].to_numpy()
            if pd.api.types.is_numeric_dtype(z[column]) and z[column].dtype != bool:
                decimals = 5 if column in ("lon", "lat") else 1 if column.startswith("minutes_") else 3
                values = np.round(values.astype(float), decimals)
            out[header] = values
    return out


def _whole(values: np.ndarray) -> pd.array:
    return pd.array(np.round(values.astype(float)), dtype="Float64").astype("Int64")


def _header(column: str) -> str:
    if column.startswith("minutes_"):
        return f"to {column.removeprefix('minutes_').replace('_', ' ')} (min)"
    if column.startswith(zones_.PART_PREFIX):
        name = column.removeprefix(zones_.PART_PREFIX)
        if name.startswith("material_access_"):
            name = "material_access:" + name.removeprefix("material_access_")
        return f"part: {criterion_label(name).lower()} (0–1)"
    return {
        "symbiosis_reach_tonnes": "by-products within reach (t/yr)",
        "equal_access": "equal access (0–1)",
        "lon": "lon (°E)",
        "lat": "lat (°N)",
        "cluster": "firm cluster",
    }.get(column, column.replace("_", " "))


@dataclass(frozen=True)
class Explanation:
    """What a zone's suitability and score are made of.

    ``suitability`` has one row per weighted criterion: its weight (normalised), the zone's mean
    standardised value, its part of the zone's suitability (weight x value), the same value and
    part for the region's median allowed fringe cell, and the difference of the parts. ``score``
    has one row per score indicator: its weight, the zone's scaled value and its part of the score.
    """

    zone_id: int
    rank: int
    suitability: pd.DataFrame
    score: pd.DataFrame

    def chart(self) -> Figure:
        """A bar per criterion: the zone's part beside the median allowed cell's."""
        table = self.suitability.iloc[::-1]
        fig = Figure(figsize=(6.0, 0.34 * len(table) + 0.9), dpi=110)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        y = np.arange(len(table))
        ax.barh(y + 0.18, table["part"], height=0.36, color="#0072b2", label=f"zone {self.zone_id}")
        ax.barh(y - 0.18, table["median cell part"], height=0.36, color="#bbbbbb", label="median allowed cell")
        ax.set_yticks(y, table.index, fontsize=8)
        ax.set_xlabel("part of the suitability (weight × standardised value)", fontsize=8)
        ax.tick_params(axis="x", labelsize=7.5)
        ax.legend(fontsize=7.5, frameon=False, loc="lower right")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
        return fig

    def _repr_html_(self) -> str:
        buf = _io.BytesIO()
        self.chart().savefig(buf, format="png")
        png = base64.b64encode(buf.getvalue()).decode("ascii")
        return (
            f"<b>Zone {self.zone_id} (rank {self.rank}): what its suitability is made of</b>"
            f"{self.suitability.round(3).to_html()}"
            f"<img src='data:image/png;base64,{png}' alt='parts of the suitability'>"
            f"<b>and its score</b>{self.score.round(3).to_html()}"
        )


def explain(result: Result, zone: int) -> Explanation:
    """Each criterion's part of a zone's suitability beside the region's median allowed fringe
    cell, and each indicator's part of its score (``zone``: a ``zone_id``).

    Examples
    --------
    >>> import eicgeo
    >>> result = eicgeo.run(eicgeo.load_sample().replace(resolution=2000, without=["roads"]), progress=False)
    >>> why = explain(result, 1)
    >>> zone = result.zones.set_index("zone_id").loc[1]
    >>> bool(abs(why.suitability["part"].sum() - zone["mean_suitability"]) < 1e-6)
    True
    >>> bool(abs(why.score["part"].sum() - zone["score"]) < 1e-9)
    True
    """
    z = result.zones.set_index("zone_id")
    if zone not in z.index:
        msg = f"explain: zone {zone!r} is not among this run's zone_id values ({', '.join(map(str, z.index[:10]))}...)"
        raise InputError(msg)
    row = z.loc[zone]
    total = sum(w for w in result.weights.values() if w > 0) or 1.0
    allowed = (np.asarray(result.fringe.values) == 2) & (np.asarray(result.excluded.values) == 0)
    rows = {}
    for name, weight in result.weights.items():
        if weight <= 0 or name not in result.criteria:
            continue
        w = weight / total
        part = float(row.get(zones_.PART_PREFIX + name.replace(":", "_"), np.nan))
        values = np.asarray(result.criteria[name].values, dtype=float)[allowed]
        median = float(np.nanmedian(values)) if np.isfinite(values).any() else np.nan
        rows[criterion_label(name)] = {
            "weight": w,
            "zone value": part / w if w else np.nan,
            "part": part,
            "median cell value": median,
            "median cell part": w * median,
        }
    table = pd.DataFrame(rows).T
    table["difference"] = table["part"] - table["median cell part"]
    table.index.name = "criterion"
    frame = pd.DataFrame(result.zones.drop(columns="geometry")).reset_index(drop=True)
    parts = zones_.score_parts(frame, result.scenario.zones.score_table())
    position = int(np.flatnonzero(frame["zone_id"].to_numpy() == zone)[0])
    weights = result.scenario.zones.score_table()
    used = {k: weights[k] for k in parts.columns}
    score = pd.DataFrame(
        {
            "weight": [used[k] / sum(used.values()) for k in parts.columns],
            "zone value": [float(row[zones_.SCORE_INDICATORS[k][0]]) for k in parts.columns],
            "part": parts.iloc[position].to_numpy(),
        },
        index=pd.Index(list(parts.columns), name="indicator"),
    )
    return Explanation(zone_id=int(zone), rank=int(row["rank"]), suitability=table, score=score)
