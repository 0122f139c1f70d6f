"""Scenario comparison: zone overlap and rank changes on hand-built zones, the difference raster
and the output folder on hand-built results."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import xarray as xr
from shapely.geometry import box

from eicgeo import Scenario, load_sample, run
from eicgeo._errors import GridMismatchError, InputError
from eicgeo.compare import compare, zone_overlap
from eicgeo.grid import Grid
from eicgeo.pipeline import Result
from eicgeo.scenario import PRESETS

CRS = "EPSG:32647"


def zones(boxes, kinds=None):
    """Zones ranked in the given order (zone_id = rank, as the pipeline numbers them)."""
    n = len(boxes)
    return gpd.GeoDataFrame(
        {"zone_id": range(1, n + 1), "rank": range(1, n + 1), "kind": kinds or ["greenfield"] * n},
        geometry=[box(*b) for b in boxes],
        crs=CRS,
    )


def test_iou_rank_changes_and_zones_found_by_one_scenario_only():
    a = zones([(0, 0, 10, 10), (20, 0, 30, 10), (50, 50, 60, 60)])
    b = zones([(25, 0, 35, 10), (0, 0, 10, 5), (100, 100, 110, 110), (58, 58, 68, 68)])
    matches, only_a, only_b = zone_overlap(a, b)
    # A1 ∩ B2 = 50 m² of a 100 m² union; A2 ∩ B1 = 50 of 150; A3 ∩ B4 = 4 of 196 (< 0.1).
    assert matches[["zone_a", "zone_b", "rank_a", "rank_b"]].to_numpy().tolist() == [[1, 2, 1, 2], [2, 1, 2, 1]]
    assert matches["iou"].tolist() == pytest.approx([0.5, 1 / 3])
    assert matches["rank_change"].tolist() == [-1, 1], "rank_a - rank_b: B ranks A's zone 2 first"
    assert only_a.tolist() == [3]
    assert only_b.tolist() == [3, 4]
    loose, only_a, only_b = zone_overlap(a, b, min_iou=0.02)
    assert loose.loc[loose["zone_a"] == 3, "iou"].item() == pytest.approx(4 / 196)
    assert only_a.empty and only_b.tolist() == [3]


def test_pairs_are_one_to_one_with_the_largest_total_iou():
    # Strips 1 m high, so IoU is the overlap of the x intervals.
    a = zones([(0, 0, 10, 1), (10, 0, 20, 1)])
    b = zones([(4, 0, 15, 1), (-6, 0, 4, 1)])
    # IoU(A1,B1) = 6/15 = 0.4 is the largest pair, but taking it leaves A2 and B2 unpaired (total
    # 0.4); A1-B2 (4/16 = 0.25) with A2-B1 (5/16 = 0.3125) totals 0.5625.
    matches, only_a, only_b = zone_overlap(a, b)
    assert dict(zip(matches["zone_a"], matches["zone_b"], strict=True)) == {1: 2, 2: 1}
    assert matches["iou"].tolist() == pytest.approx([0.25, 0.3125])
    assert only_a.empty and only_b.empty


def test_zone_overlap_reprojects_b_and_handles_empty_rankings():
    a = zones([(500_000, 1_500_000, 501_000, 1_501_000)])
    b = zones([(500_000, 1_500_000, 501_000, 1_500_500)]).to_crs(4326).to_crs(32648)
    matches, _, _ = zone_overlap(a, b)
    assert matches["iou"].item() == pytest.approx(0.5, abs=1e-3)
    empty = zones([])
    matches, only_a, only_b = zone_overlap(a, empty)
    assert matches.empty and only_a.tolist() == [1] and only_b.empty


def test_zone_overlap_errors():
    a = zones([(0, 0, 1, 1)])
    with pytest.raises(InputError, match="min_iou must be in"):
        zone_overlap(a, a, min_iou=0)
    with pytest.raises(InputError, match="zones_b is missing column.*rank"):
        zone_overlap(a, a.drop(columns="rank"))
    with pytest.raises(InputError, match="zones_a has CRS EPSG:4326; expected a projected CRS"):
        zone_overlap(a.to_crs(4326), a)


# --------------------------------------------------------------------------------------------
GRID = Grid.from_bounds((500_000, 1_500_000, 500_400, 1_500_300), 100, CRS)  # 3 rows x 4 columns


def result(suitability: np.ndarray, zone_boxes, name: str, grid: Grid = GRID) -> Result:
    """A Result built by hand on a 3 x 4 grid."""
    scenario = Scenario.from_dict({"name": name, "inputs": {"landcover": "lc.tif"}}, check_files=False)
    suit = grid.wrap(np.asarray(suitability, dtype=np.float32), "suitability")
    classes = grid.wrap(np.full(grid.shape, 2, np.uint8), "fringe")
    empty = gpd.GeoDataFrame(geometry=[], crs=grid.crs)
    z = zones(zone_boxes)
    z["score"] = np.linspace(1, 0.5, len(z))
    return Result(
        scenario=scenario,
        grid=grid,
        layers=xr.Dataset(),
        criteria=xr.Dataset(),
        suitability=suit,
        fringe=classes,
        excluded=xr.zeros_like(classes),
        zones=z,
        firms=empty,
        links=empty,
        sources=empty,
        clusters=empty,
        weights={"landcover": 0.5, "road_access": 0.5} if name == "a" else {"landcover": 1.0},
    )


SUIT_A = [[0.2, 0.4, 0.6, np.nan], [0.5, 0.5, 0.5, 0.5], [0.0, 1.0, 0.3, 0.3]]
SUIT_B = [[0.25, 0.4, 0.1, 0.9], [np.nan, 0.5, 0.7, 0.5], [0.0, 0.8, 0.3, 0.3]]
ZONES_A = [(500_000, 1_500_100, 500_200, 1_500_300), (500_300, 1_500_000, 500_400, 1_500_100)]
ZONES_B = [(500_100, 1_500_100, 500_200, 1_500_300)]


def test_difference_raster_and_summary():
    c = compare(result(SUIT_A, ZONES_A, "a"), result(SUIT_B, ZONES_B, "b"))
    expected = np.array([[0.05, 0.0, -0.5, np.nan], [np.nan, 0.0, 0.2, 0.0], [0.0, -0.2, 0.0, 0.0]])
    np.testing.assert_allclose(c.diff.values, expected, atol=1e-6)
    assert Grid.from_dataarray(c.diff) == GRID
    st = c.stats()
    assert st["cells"] == 10
    assert st["mean_diff"] == pytest.approx(-0.045)  # (0.05 - 0.5 + 0.2 - 0.2) / 10
    assert st["mean_abs_diff"] == pytest.approx(0.095)  # (0.05 + 0.5 + 0.2 + 0.2) / 10
    assert st["share_over_0.1"] == pytest.approx(0.3)  # 0.5, 0.2 and 0.2
    # B's zone is the right half of A's first zone (IoU 0.5); A's second zone is A's only.
    assert c.matches[["zone_a", "zone_b", "rank_change"]].to_numpy().tolist() == [[1, 1, 0]]
    assert c.matches["iou"].item() == pytest.approx(0.5)
    assert c.only_a["zone_id"].tolist() == [2] and c.only_b.empty
    assert c.names == ("a", "b")


def test_b_on_another_grid_is_resampled_and_another_crs_is_an_error():
    coarse = Grid.from_bounds((500_000, 1_500_000, 500_400, 1_500_400), 200, CRS)
    b = result([[0.5, 0.5], [0.5, 0.5]], ZONES_B, "b", grid=coarse)
    c = compare(result(SUIT_A, ZONES_A, "a"), b)
    assert c.diff.shape == GRID.shape
    assert np.nanmax(np.abs(c.diff.values - (0.5 - np.array(SUIT_A)))) < 1e-6
    utm48 = Grid.from_bounds((500_000, 1_500_000, 500_400, 1_500_300), 100, "EPSG:32648")
    with pytest.raises(GridMismatchError, match="different CRSs"):
        compare(result(SUIT_A, ZONES_A, "a"), result(SUIT_B, [], "b", grid=utm48))


def test_save_writes_diff_map_and_table(tmp_path):
    c = compare(result(SUIT_A, ZONES_A, "a"), result(SUIT_B, ZONES_B, "b"))
    out = c.save(tmp_path / "cmp", offline=True)
    assert sorted(p.name for p in out.iterdir()) == ["compare.html", "compare.md", "diff.tif", "manifest.json"]
    with rasterio.open(out / "diff.tif") as src:
        np.testing.assert_allclose(src.read(1), c.diff.values, atol=1e-6)
        assert src.crs.to_epsg() == 32647
    md = (out / "compare.md").read_text()
    assert "| weight of road_access | 0.500 | 0.000 |" in md
    assert "| 1 | 1 | 1 | 1 | +0 | 0.50 | greenfield | greenfield |" in md
    assert "## Zones found by A only" in md and "## Zones found by B only\n\nNone." in md
    assert "mean difference -0.045" in md
    page = (out / "compare.html").read_text()
    assert "L.Sync = function" in page, "Leaflet.Sync is inlined"
    assert ".sync(" in page
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page
    assert page.count("Candidate EIC zones") == 2, "one zones layer on each side"


def test_runs_in_one_process_share_an_unchanged_road_network(data_dir, tmp_path):
    import os
    import shutil

    from eicgeo.pipeline import _load_network

    path = Path(shutil.copy(data_dir / "West-Oakland.osm.bz2", tmp_path / "roads.osm.bz2"))
    first = _load_network(path, crs="EPSG:32610", speeds=None)
    assert _load_network(path, crs="EPSG:32610", speeds=None) is first
    faster = _load_network(path, crs="EPSG:32610", speeds={"residential": 30})
    assert faster is not first
    assert _load_network(path, crs="EPSG:32610", speeds=None) is first, "two networks are kept"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    again = _load_network(path, crs="EPSG:32610", speeds=None)
    assert again is not first, "an edited file is read again"
    assert again.number_of_edges() == first.number_of_edges()


# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def preset_runs():
    """Every preset on the sample region at 250 m (the road network is loaded once)."""
    sample = load_sample()
    return {name: run(sample.replace(preset=name, resolution=250), progress=False) for name in PRESETS}


def test_every_preset_runs_on_the_sample_region(preset_runs):
    for name, result in preset_runs.items():
        assert result.scenario.preset == name
        assert result.skipped == [], f"{name}: {result.skipped}"
        assert len(result.zones) > 0
        given = result.scenario.weights()
        used: dict[str, float] = {}
        for key, weight in result.weights.items():  # material_access is split by material
            used[key.split(":")[0]] = used.get(key.split(":")[0], 0.0) + weight
        assert used == pytest.approx({k: v / sum(given.values()) for k, v in given.items()})
    environmental = preset_runs["environmental"]
    assert int((environmental.excluded == 9).sum()) > 0, "residual green space is excluded"
    assert int((preset_runs["balanced"].excluded == 9).sum()) == 0
    regional = preset_runs["regional"].zones
    greenfield = regional[regional["kind"] == "greenfield"].geometry.to_numpy()
    gaps = [g.distance(z) for g in greenfield for z in regional.geometry if not g.equals(z)]
    assert gaps and min(gaps) >= 3_000 - 250, "regional greenfield zones keep 3 km away (one cell of slack)"


def test_compare_two_presets_on_the_sample_region(preset_runs, tmp_path):
    a, b = preset_runs["industrial"], preset_runs["environmental"]
    c = compare(a, b)
    assert c.names == ("peri_urban_demo (industrial)", "peri_urban_demo (environmental)")
    assert len(c.matches) + len(c.only_a) == len(a.zones)
    assert len(c.matches) + len(c.only_b) == len(b.zones)
    assert ((c.matches["iou"] >= 0.1) & (c.matches["iou"] <= 1)).all()
    assert (c.matches["rank_change"] == c.matches["rank_a"] - c.matches["rank_b"]).all()
    d = c.diff.values
    assert np.nanmin(d) < -0.1 and np.nanmax(d) > 0.1, "the two streams disagree in places"
    # Cells the environmental preset excludes (green space, forest) have no difference.
    assert np.isnan(d[np.asarray(b.excluded.values) > 0]).all()
