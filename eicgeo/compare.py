"""Two scenarios side by side: which zones both find, how their ranks move, where suitability
differs.

:func:`zone_overlap` pairs the zones of two rankings one to one so that the total
intersection over union (IoU) is largest (the assignment problem, solved exactly by
``scipy.optimize.linear_sum_assignment``); a pair counts as the same zone when its IoU is at
least ``min_iou``. Zones left unpaired are found by one scenario only. :func:`compare` adds the
difference of the two suitability surfaces and returns a :class:`Comparison`, which can draw a
side-by-side map (``folium.plugins.DualMap``) and write ``diff.tif``, ``compare.html`` and
``compare.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import branca
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr
from folium.plugins import DualMap
from matplotlib import colormaps
from rasterio.enums import Resampling
from scipy.optimize import linear_sum_assignment

from eicgeo import io
from eicgeo._errors import GridMismatchError, InputError
from eicgeo.grid import Grid

if TYPE_CHECKING:
    from eicgeo.pipeline import Result

__all__ = ["COMPARE_FILES", "Comparison", "compare", "zone_overlap"]

#: The files of a comparison folder.
COMPARE_FILES = ("diff.tif", "compare.html", "compare.md")
#: Columns of :attr:`Comparison.matches`.
MATCH_COLUMNS = ["zone_a", "zone_b", "rank_a", "rank_b", "rank_change", "iou", "kind_a", "kind_b"]
_DIFF_CMAP = "RdBu"
_DIFF_RANGE = 0.5  # the colour scale of the difference map saturates at ±0.5 suitability


def zone_overlap(
    zones_a: gpd.GeoDataFrame, zones_b: gpd.GeoDataFrame, *, min_iou: float = 0.1
) -> tuple[pd.DataFrame, pd.Index, pd.Index]:
    """Pair the zones of two rankings by their overlap.

    Parameters
    ----------
    zones_a, zones_b : GeoDataFrame
        Zones with ``zone_id``, ``rank`` and polygon geometries (``kind`` is used when present),
        in projected CRSs (``zones_b`` is brought to ``zones_a``'s CRS).
    min_iou : float
        Smallest intersection over union (0..1) for two zones to count as the same zone.

    Returns
    -------
    matches : DataFrame
        One row per pair, best IoU first: ``zone_a``, ``zone_b``, ``rank_a``, ``rank_b``,
        ``rank_change`` (``rank_a - rank_b``: positive when the zone ranks higher in B),
        ``iou``, ``kind_a``, ``kind_b``.
    only_a, only_b : Index
        ``zone_id`` of the zones of A (of B) that no zone of the other ranking matches.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> a = gpd.GeoDataFrame({"zone_id": [1], "rank": [1]}, geometry=[box(0, 0, 2, 1)], crs=32647)
    >>> b = gpd.GeoDataFrame({"zone_id": [1], "rank": [1]}, geometry=[box(1, 0, 3, 1)], crs=32647)
    >>> round(float(zone_overlap(a, b)[0]["iou"].iloc[0]), 3)   # 1 m² shared of 3 m²
    0.333
    """
    if not 0 < min_iou <= 1:
        msg = f"min_iou must be in (0, 1], got {min_iou!r}"
        raise InputError(msg)
    for name, zones in (("zones_a", zones_a), ("zones_b", zones_b)):
        missing = [c for c in ("zone_id", "rank") if c not in zones.columns]
        if missing:
            msg = f"{name} is missing column(s) {', '.join(missing)}; it has {', '.join(map(str, zones.columns))}"
            raise InputError(msg)
        if len(zones) and (zones.crs is None or not zones.crs.is_projected):
            msg = f"{name} has CRS {zones.crs}; expected a projected CRS in metres"
            raise InputError(msg)
    if len(zones_a) and len(zones_b):
        zones_b = zones_b.to_crs(zones_a.crs)
    a = np.asarray(zones_a.geometry.values)
    b = np.asarray(zones_b.geometry.values)
    inter = shapely.area(shapely.intersection(a[:, None], b[None, :])) if len(a) and len(b) else np.zeros((0, 0))
    union = shapely.area(a)[:, None] + shapely.area(b)[None, :] - inter if inter.size else inter
    iou = np.divide(inter, union, out=np.zeros_like(inter, dtype=float), where=union > 0)
    rows, cols = linear_sum_assignment(iou, maximize=True) if iou.size else (np.array([], int), np.array([], int))
    keep = iou[rows, cols] >= min_iou
    rows, cols = rows[keep], cols[keep]
    kind_a = zones_a["kind"].to_numpy() if "kind" in zones_a else np.full(len(zones_a), None)
    kind_b = zones_b["kind"].to_numpy() if "kind" in zones_b else np.full(len(zones_b), None)
    rank_a = zones_a["rank"].to_numpy()[rows].astype(int)
    rank_b = zones_b["rank"].to_numpy()[cols].astype(int)
    matches = pd.DataFrame(
        {
            "zone_a": zones_a["zone_id"].to_numpy()[rows],
            "zone_b": zones_b["zone_id"].to_numpy()[cols],
            "rank_a": rank_a,
            "rank_b": rank_b,
            "rank_change": rank_a - rank_b,
            "iou": iou[rows, cols].astype(float),
            "kind_a": kind_a[rows],
            "kind_b": kind_b[cols],
        },
        columns=MATCH_COLUMNS,
    )
    matches = matches.sort_values(["rank_a"], kind="stable").reset_index(drop=True)
    only_a = pd.Index(np.delete(zones_a["zone_id"].to_numpy(), rows), name="zone_id")
    only_b = pd.Index(np.delete(zones_b["zone_id"].to_numpy(), cols), name="zone_id")
    return matches, only_a, only_b


@dataclass
class Comparison:
    """The comparison of two results (build it with :func:`compare`).

    Attributes
    ----------
    result_a, result_b : Result
    matches : DataFrame
        Zones both scenarios find (see :func:`zone_overlap`).
    only_a, only_b : GeoDataFrame
        Zones found by one scenario only, with their columns.
    diff : DataArray
        Suitability of B minus suitability of A on A's grid (-1..1); NaN where either is
        excluded or has no data.
    """

    result_a: Result
    result_b: Result
    matches: pd.DataFrame
    only_a: gpd.GeoDataFrame
    only_b: gpd.GeoDataFrame
    diff: xr.DataArray
    min_iou: float = 0.1

    @property
    def names(self) -> tuple[str, str]:
        """Labels of the two scenarios (their names, made distinct when they are equal)."""
        a, b = self.result_a.scenario, self.result_b.scenario
        if a.name != b.name:
            return a.name, b.name
        if a.preset != b.preset:
            return f"{a.name} ({a.preset})", f"{b.name} ({b.preset})"
        return f"A: {a.name}", f"B: {b.name}"

    def stats(self) -> dict[str, float]:
        """Summary of :attr:`diff`: cells compared, mean and mean absolute difference, the share
        of cells that differ by more than 0.1, and Pearson's r of the two surfaces."""
        d = np.asarray(self.diff.values, dtype=float)
        ok = np.isfinite(d)
        a = np.asarray(self.result_a.suitability.values, dtype=float)
        b = a + d
        n = int(ok.sum())
        r = float(np.corrcoef(a[ok], b[ok])[0, 1]) if n > 1 and a[ok].std() > 0 and b[ok].std() > 0 else np.nan
        return {
            "cells": n,
            "mean_diff": float(d[ok].mean()) if n else np.nan,
            "mean_abs_diff": float(np.abs(d[ok]).mean()) if n else np.nan,
            "share_over_0.1": float((np.abs(d[ok]) > 0.1).mean()) if n else np.nan,
            "pearson_r": r,
        }

    def to_markdown(self) -> str:
        """``compare.md``: the two scenarios, the difference of suitability, matched zones with
        their rank changes, and the zones each scenario finds alone."""
        from eicgeo.report import _md_table

        name_a, name_b = self.names
        ra, rb = self.result_a, self.result_b
        weights = sorted(set(ra.weights) | set(rb.weights))
        lines = [
            f"# Scenario comparison: {name_a} (A) and {name_b} (B)",
            "",
            "| | A | B |",
            "| --- | --- | --- |",
            f"| scenario | {name_a} | {name_b} |",
            f"| preset | {ra.scenario.preset} | {rb.scenario.preset} |",
            f"| zones | {len(ra.zones)} | {len(rb.zones)} |",
            f"| zones found by this scenario only | {len(self.only_a)} | {len(self.only_b)} |",
            *(f"| weight of {k} | {ra.weights.get(k, 0.0):.3f} | {rb.weights.get(k, 0.0):.3f} |" for k in weights),
            "",
            "## Suitability, B − A (`diff.tif`)",
            "",
        ]
        st = self.stats()
        lines += [
            f"Over {st['cells']:,} cells allowed in both: mean difference {st['mean_diff']:+.3f}, "
            f"mean absolute difference {st['mean_abs_diff']:.3f}, {100 * st['share_over_0.1']:.1f} % of cells "
            f"differ by more than 0.1, Pearson's r {st['pearson_r']:.3f}.",
            "",
            f"## Zones both scenarios find (IoU ≥ {self.min_iou:g})",
            "",
            "`rank change` is rank in A minus rank in B: positive when B ranks the zone higher.",
            "",
        ]
        if len(self.matches):
            shown = self.matches.assign(
                iou=self.matches["iou"].map("{:.2f}".format),
                rank_change=self.matches["rank_change"].map("{:+d}".format),
            ).rename(columns={"rank_change": "rank change", "iou": "IoU"})
            lines.append(_md_table(shown))
        else:
            lines.append("None.")
        columns = ["zone_id", "rank", "kind", "score", "area_ha", "mean_suitability"]
        for label, only in (("A", self.only_a), ("B", self.only_b)):
            lines += ["", f"## Zones found by {label} only", ""]
            have = [c for c in columns if c in only.columns]
            lines.append(_md_table(pd.DataFrame(only[have])) if len(only) else "None.")
        return "\n".join(lines) + "\n"

    def explore(
        self, *, offline: bool | None = None, tiles: str | None = "OpenStreetMap", max_pixels: int = 1_000_000
    ) -> DualMap:
        """Two synchronised maps: A on the left, B on the right, each with its suitability and
        ranked zones; the difference B − A is a layer of the left map.

        Parameters
        ----------
        offline : bool or None
            Inline Leaflet and Leaflet.Sync from the package's assets so that the saved HTML
            renders without internet (base tiles are then absent). None (the default): inline
            inside a Jupyter kernel only, as :func:`eicgeo.maps.explore` does.
        tiles : str or None
            Base map (any Folium tile name); None for none.
        max_pixels : int
            Rasters are downsampled to at most this many pixels for display.
        """
        from eicgeo import maps

        west, south, east, north = self.result_a.grid.lonlat_bounds
        dual = DualMap(location=[(south + north) / 2, (west + east) / 2], tiles=tiles, control_scale=True)
        for m, result, label in ((dual.m1, self.result_a, "A"), (dual.m2, self.result_b, "B")):
            maps._image_layer(
                result.suitability,
                maps._colorize_continuous,
                f"{label}: suitability (0–1)",
                opacity=0.75,
                max_pixels=max_pixels,
            ).add_to(m)
            if m is dual.m1:
                maps._image_layer(
                    self.diff,
                    _colorize_diff,
                    "Suitability B − A (blue: B higher)",
                    opacity=0.8,
                    max_pixels=max_pixels,
                    show=False,
                ).add_to(m)
            maps._zones_layer(result).add_to(m)
            folium.LayerControl(collapsed=False).add_to(m)
        dual.fit_bounds([[south, west], [north, east]])
        root = dual.m1.get_root()
        root.html.add_child(branca.element.Element(self._title_html()))
        if offline or (offline is None and maps._in_kernel()):
            maps.offline(dual)
        return dual

    def save(self, out: str | Path, *, offline: bool = False, overwrite: bool = False) -> Path:
        """Write ``diff.tif``, ``compare.html`` and ``compare.md`` (and a ``manifest.json``) into
        the folder ``out``, atomically; a folder holding files eicgeo did not write is refused
        unless ``overwrite`` (see :func:`eicgeo.io.output_folder`)."""
        with io.output_folder(out, overwrite=overwrite, names=COMPARE_FILES) as stage:
            name_a, name_b = self.names
            io.write_raster(
                self.diff,
                stage / "diff.tif",
                description=f"suitability of {name_b} minus {name_a}",
                units="suitability difference (-1..1)",
                tags={"scenario_a": name_a, "scenario_b": name_b},
            )
            self.explore(offline=offline).save(str(stage / "compare.html"))
            io.write_text(stage / "compare.md", self.to_markdown())
        return Path(out)

    def _title_html(self) -> str:
        import html

        name_a, name_b = (html.escape(n) for n in self.names)
        stops = ", ".join(
            "#{:02x}{:02x}{:02x}".format(*colormaps[_DIFF_CMAP](x, bytes=True)[:3]) for x in np.linspace(0, 1, 5)
        )
        return (
            "<div style='position:fixed;top:8px;left:50%;transform:translateX(-50%);z-index:1000;"
            "background:rgba(255,255,255,0.92);padding:5px 12px;border-radius:4px;font:600 14px sans-serif;"
            "box-shadow:0 1px 4px rgba(0,0,0,0.3)'>"
            f"eicgeo — A: {name_a} (left) · B: {name_b} (right) · {len(self.matches)} zones in both</div>"
            "<div style='position:fixed;bottom:30px;left:10px;z-index:1000;background:rgba(255,255,255,0.92);"
            "padding:6px 8px;border-radius:4px;font:12px sans-serif'>Suitability B − A (left map layer)"
            f"<div style='width:160px;height:10px;background:linear-gradient(to right, {stops})'></div>"
            "<div style='display:flex;justify-content:space-between;width:160px'>"
            f"<span>−{_DIFF_RANGE:g}</span><span>0</span><span>+{_DIFF_RANGE:g}</span></div></div>"
        )


def compare(result_a: Result, result_b: Result, *, min_iou: float = 0.1) -> Comparison:
    """Compare two results of the same region.

    Parameters
    ----------
    result_a, result_b : Result
        Results of :func:`eicgeo.run`. B's suitability is brought onto A's grid (bilinear)
        when the grids differ; they must share the CRS.
    min_iou : float
        Smallest intersection over union for two zones to count as the same zone.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import eicgeo
    >>> sample = eicgeo.load_sample()                                         # doctest: +SKIP
    >>> a = eicgeo.run(sample.replace(preset="industrial"), progress=False)   # doctest: +SKIP
    >>> b = eicgeo.run(sample.replace(preset="environmental"), progress=False)  # doctest: +SKIP
    >>> c = compare(a, b)                                                     # doctest: +SKIP
    >>> c.matches, c.only_a, c.only_b, c.diff                                 # doctest: +SKIP
    """
    grid_a, grid_b = result_a.grid, result_b.grid
    suit_b = result_b.suitability
    if grid_a.crs != grid_b.crs:
        msg = (
            f"the results are in different CRSs ({grid_a.crs.to_string()} and {grid_b.crs.to_string()}); "
            "expected two runs of the same region on one grid.crs"
        )
        raise GridMismatchError(msg)
    if grid_a != grid_b:
        suit_b = suit_b.rio.reproject_match(result_a.suitability, resampling=Resampling.bilinear)
    diff = result_a.suitability.copy(data=np.asarray(suit_b.values, np.float32) - result_a.suitability.values)
    diff = Grid.from_dataarray(result_a.suitability).georef(diff.rename("suitability_diff"))
    diff.attrs = {"long_name": "suitability of B minus suitability of A", "units": "-1..1"}
    matches, only_a, only_b = zone_overlap(result_a.zones, result_b.zones, min_iou=min_iou)
    return Comparison(
        result_a=result_a,
        result_b=result_b,
        matches=matches,
        only_a=result_a.zones[result_a.zones["zone_id"].isin(only_a)].reset_index(drop=True),
        only_b=result_b.zones[result_b.zones["zone_id"].isin(only_b)].reset_index(drop=True),
        diff=diff,
        min_iou=min_iou,
    )


def _colorize_diff(values: np.ndarray) -> np.ndarray:
    scaled = np.clip(np.nan_to_num(values, nan=0.0) / (2 * _DIFF_RANGE) + 0.5, 0, 1)
    rgba = colormaps[_DIFF_CMAP](scaled, bytes=True)
    rgba[..., 3] = np.where(np.isnan(values), 0, 255)
    return rgba
