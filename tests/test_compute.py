"""The dask path: a chunked run and a run on a ``dask.distributed`` cluster give the outputs of
the in-memory run cell for cell, write their GeoTIFFs window by window, record each stage's
seconds and peak memory, and a bad ``[compute]`` setting is one clear error.

The sample region on 1 km cells (50 x 52) in chunks of 16 cells, and warp tiles of 16 cells
(instead of 512) so that the reading too runs over several tiles and chunks.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import rasterio

import eicgeo
from eicgeo import compute, io, pipeline
from eicgeo._errors import EicgeoWarning, InputError, ScenarioError

CHUNKS = 16


@pytest.fixture(scope="module")
def small_tiles():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(io, "_WARP_TILE", CHUNKS)
        yield


@pytest.fixture(scope="module")
def road_grid(tmp_path_factory):
    """A small road network over the sample region (a line layer: it loads in no time, where the
    sample's OSM extract takes seconds): a lattice of 7 x 7 roads meeting at shared vertices,
    trunk roads through the middle, primary roads around it, tertiary ones elsewhere."""
    import geopandas as gpd
    from shapely.geometry import LineString

    xs = np.linspace(100.2425, 100.6525, 7)
    ys = np.linspace(14.60, 14.995, 7)
    kind = {3: "trunk", 1: "primary", 5: "primary"}
    lines, kinds = [], []
    for i, x in enumerate(xs):  # one line per lattice segment: lines join at their ends
        for j, y in enumerate(ys):
            if j + 1 < len(ys):
                lines.append(LineString([(x, y), (x, ys[j + 1])]))
                kinds.append(kind.get(i, "tertiary"))
            if i + 1 < len(xs):
                lines.append(LineString([(x, y), (xs[i + 1], y)]))
                kinds.append(kind.get(j, "tertiary"))
    path = tmp_path_factory.mktemp("roads") / "roads.gpkg"
    gpd.GeoDataFrame({"highway": kinds}, geometry=lines, crs="EPSG:4326").to_file(path)
    return path


@pytest.fixture(scope="module")
def scenario(road_grid):
    """The sample with that network and without its sources: every criterion but the mean over
    several materials (see :func:`test_the_mean_over_materials_is_within_float32_rounding`)."""
    return eicgeo.load_sample().replace(
        resolution=1000,
        roads=road_grid,
        without=["sources"],
        zones={"n": 4, "stability_runs": 5},
        mcda={"monte_carlo": 4},
    )


def _run(s):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EicgeoWarning)
        return eicgeo.run(s, progress=False)


@pytest.fixture(scope="module")
def in_memory(small_tiles, scenario):
    return _run(scenario)


@pytest.fixture(scope="module")
def chunked(small_tiles, scenario):
    return _run(scenario.replace(compute={"chunks": CHUNKS}))


def _assert_same(a, b):
    """Every raster of the two results equal cell for cell, and the same zones table."""
    np.testing.assert_array_equal(a.suitability.values, b.suitability.values)
    np.testing.assert_array_equal(a.fringe.values, b.fringe.values)
    np.testing.assert_array_equal(a.excluded.values, b.excluded.values)
    np.testing.assert_array_equal(a.degurba.values, b.degurba.values)
    assert set(a.layers) == set(b.layers) and set(a.criteria) == set(b.criteria)
    for name in a.layers:
        np.testing.assert_array_equal(a.layers[name].values, b.layers[name].values, err_msg=name)
    for name in a.criteria:
        np.testing.assert_array_equal(a.criteria[name].values, b.criteria[name].values, err_msg=name)
    columns = [c for c in a.zones.columns if c != "geometry"]
    assert len(a.zones) > 0
    assert a.zones[columns].equals(b.zones[columns])
    assert a.zones.geometry.geom_equals(b.zones.geometry).all()


def test_a_chunked_run_gives_the_in_memory_outputs_cell_for_cell(in_memory, chunked):
    assert in_memory.compute == {"mode": "in memory", "chunks": None, "scheduler": "threads"}
    assert chunked.compute == {"mode": "chunked", "chunks": CHUNKS, "scheduler": "threads", "spill": True}
    # several chunks each way: the stages ran chunk by chunk
    assert chunked.suitability.chunks is not None and len(chunked.suitability.chunks[0]) == 4
    assert compute.is_lazy(chunked.layers["landcover_class"]) and compute.is_lazy(chunked.layers["road_access"])
    assert not compute.is_lazy(in_memory.suitability)
    _assert_same(in_memory, chunked)


def _spill_folders(root):
    return sorted(p for p in root.iterdir() if p.name.startswith("eicgeo-spill-"))


def test_a_chunked_run_holds_its_layers_in_a_temporary_folder_gone_with_the_result(
    in_memory, scenario, small_tiles, tmp_path, monkeypatch
):
    import gc
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # TMPDIR, as tempfile reads it
    result = _run(scenario.replace(compute={"chunks": CHUNKS}))
    folders = _spill_folders(tmp_path)
    assert folders, "no spill folder in TMPDIR"
    # each held chunk is one .npy file: the 4 x 4 chunks of the suitability are among them
    files = [f for folder in folders for f in folder.rglob("*.npy")]
    assert {"0_0.npy", "48_48.npy"} <= {f.name for f in files}
    graph = dict(result.suitability.data.__dask_graph__())
    assert all(not isinstance(v, np.ndarray) for v in graph.values()), "the suitability is held in memory"
    _assert_same(in_memory, result)
    del result, graph
    gc.collect()
    assert _spill_folders(tmp_path) == [], "the spill folders outlived the result"


def test_without_spill_a_chunked_run_holds_its_chunks_in_memory(
    in_memory, scenario, small_tiles, tmp_path, monkeypatch
):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = _run(scenario.replace(compute={"chunks": CHUNKS, "spill": False}))
    assert result.compute == {"mode": "chunked", "chunks": CHUNKS, "scheduler": "threads", "spill": False}
    assert _spill_folders(tmp_path) == []
    assert compute.is_lazy(result.suitability)
    _assert_same(in_memory, result)


def test_a_run_on_a_distributed_cluster_gives_the_in_memory_outputs(in_memory, scenario, small_tiles):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None, silence_logs=50
    ) as cluster:
        # chunks of 32 cells: 2 x 2 of them, fewer tasks per computation on the cluster
        s = scenario.replace(compute={"chunks": 2 * CHUNKS, "scheduler": cluster.scheduler_address})
        result = _run(s)
    assert result.compute["scheduler"] == cluster.scheduler_address
    assert result.compute["workers"]["n_workers"] == 2
    assert "workers_rss_mb" in result.memory["criteria"]
    # gathered from the workers before the client closed: still readable
    assert not compute.is_lazy(result.suitability)
    _assert_same(in_memory, result)


def test_a_chunked_run_writes_its_rasters_window_by_window_and_records_seconds_and_memory(
    chunked, in_memory, tmp_path, monkeypatch
):
    # the maps and the brief read the layers as any run's (their own tests cover them): skipped here
    monkeypatch.setattr("eicgeo.maps.explore", lambda *a, **k: type("M", (), {"save": lambda self, p: None})())
    monkeypatch.setattr("eicgeo.maps.static", lambda *a, **k: None)
    monkeypatch.setattr("eicgeo.brief.write", lambda *a, **k: None)
    written = []
    original = io._write_windowed
    monkeypatch.setattr(
        io, "_write_windowed", lambda layer, path, *a: (written.append(path.name), original(layer, path, *a))
    )
    with compute.session(chunked.scenario.compute):
        chunked.save(tmp_path / "out")
    out = tmp_path / "out"
    assert {"suitability.tif", "fringe.tif", "excluded.tif"} <= set(written)
    outside = np.asarray(in_memory.layers["landcover_role"].values) == 0
    with rasterio.open(out / "suitability.tif") as src:
        expected = np.where(outside, np.nan, in_memory.suitability.values)
        np.testing.assert_array_equal(src.read(1), expected)
    with rasterio.open(out / "excluded.tif") as src:
        np.testing.assert_array_equal(src.read(1), np.where(outside, 255, in_memory.excluded.values))
    for name in in_memory.criteria:
        with rasterio.open(out / "criteria" / f"{name.replace(':', '-')}.tif") as src:
            np.testing.assert_array_equal(src.read(1), np.where(outside, np.nan, in_memory.criteria[name].values))
    manifest = json.loads((out / "manifest.json").read_text())
    stages = {*pipeline.STAGES, "outputs"}
    assert set(manifest["stage_seconds"]) == stages
    assert set(manifest["stage_memory_mb"]) == stages
    for stage, memory in manifest["stage_memory_mb"].items():
        assert manifest["stage_seconds"][stage] >= 0
        assert memory["peak_rss_mb"] >= max(memory["rss_start_mb"], memory["rss_end_mb"]) > 0, stage
    assert manifest["peak_memory_mb"] == max(m["peak_rss_mb"] for m in manifest["stage_memory_mb"].values())
    assert manifest["compute"] == {"mode": "chunked", "chunks": CHUNKS, "scheduler": "threads", "spill": True}
    assert manifest["scenario"]["compute"]["chunks"] == CHUNKS
    report = (out / "report.md").read_text()
    assert f"Computed chunk by chunk ({CHUNKS} x {CHUNKS} cells)" in report and "peak memory (MB)" in report
    assert "held in a temporary folder on disk (`compute.spill`)" in report


def test_a_windowed_cog_equals_the_in_memory_cog(tmp_path):
    """A layer large enough for overviews, written from numpy and from dask chunks that do not
    align with the 256-cell tiles: the same profile, cells and overviews."""
    from affine import Affine

    from eicgeo.grid import Grid

    grid = Grid("EPSG:32647", Affine(100, 0, 600_000, 0, -100, 1_700_000), (700, 650))
    rng = np.random.default_rng(0)
    values = rng.random(grid.shape, dtype=np.float32)
    values[rng.random(grid.shape) < 0.1] = np.nan
    layer = grid.wrap(values, "suitability")
    outside = np.zeros(grid.shape, dtype=bool)
    outside[:40] = True
    io.write_raster(layer, tmp_path / "memory.tif", outside=outside, units="0..1")
    lazy = compute.chunked(layer, 300)
    io.write_raster(lazy, tmp_path / "windowed.tif", outside=grid.wrap(outside, "outside").chunk(300), units="0..1")
    with rasterio.open(tmp_path / "memory.tif") as a, rasterio.open(tmp_path / "windowed.tif") as b:
        profile_a, profile_b = dict(a.profile), dict(b.profile)
        assert np.isnan(profile_a.pop("nodata")) and np.isnan(profile_b.pop("nodata"))
        assert profile_a == profile_b and a.overviews(1) == b.overviews(1) == [2, 4]
        assert a.tags(1) == b.tags(1) and a.driver == b.driver == "GTiff"
        np.testing.assert_array_equal(a.read(1), b.read(1))
        half = (1, grid.height // 2, grid.width // 2)
        np.testing.assert_array_equal(a.read(1, out_shape=half), b.read(1, out_shape=half))
    assert not list(tmp_path.glob(".*")), "no staging file is left"


def test_only_a_chunked_run_on_this_machine_spills_and_then_one_whole_grid_piece_at_a_time(monkeypatch):
    from eicgeo.settings import ComputeSettings

    monkeypatch.setattr(compute, "_cores", lambda: 2)
    with compute.session(ComputeSettings()) as run:
        assert (run.spill, run.threads) == (False, 2)
    with compute.session(ComputeSettings(chunks=64)) as run:
        assert (run.spill, run.threads) == (True, 1)
        # thread_map then runs in the calling thread
        import threading

        assert set(compute.thread_map(lambda _: threading.get_ident(), range(3))) == {threading.get_ident()}
    with compute.session(ComputeSettings(chunks=64, spill=False)) as run:
        assert (run.spill, run.threads) == (False, 2)


def test_the_mean_over_materials_is_equal_cell_for_cell(small_tiles, road_grid):
    """With several raw materials, ``material_access`` is the mean of their minutes: in memory and
    chunk by chunk it is the same running float32 sum in the same material order
    (``criteria._nanmean``), so every layer, the suitability and the zones are equal."""
    s = eicgeo.load_sample().replace(resolution=2000, roads=road_grid, zones={"n": 3, "stability_runs": 0})
    a, b = _run(s), _run(s.replace(compute={"chunks": CHUNKS}))
    assert len(a.layers["material_access"].attrs["materials"].split(", ")) >= 2
    for name in a.layers:
        np.testing.assert_array_equal(a.layers[name].values, b.layers[name].values, err_msg=name)
    for name in a.criteria:
        np.testing.assert_array_equal(a.criteria[name].values, b.criteria[name].values, err_msg=name)
    np.testing.assert_array_equal(a.suitability.values, b.suitability.values)
    assert a.zones.geometry.geom_equals(b.zones.geometry).all()
    assert (a.zones["rank"] == b.zones["rank"]).all()


def test_bad_compute_settings_name_the_key_and_what_was_expected():
    s = eicgeo.load_sample()
    with pytest.raises(ScenarioError, match=r"compute\.chunks: expected a whole number of cells per side >= 16"):
        s.replace(compute={"chunks": 4})
    with pytest.raises(ScenarioError, match=r"compute\.scheduler: .*did you mean 'threads'"):
        s.replace(compute={"scheduler": "thread"})
    with pytest.raises(ScenarioError, match=r"did you mean 'tcp://localhost:8786'"):
        s.replace(compute={"scheduler": "localhost:8786"})
    assert s.replace(compute={"chunks": "auto"}).compute.chunk_size() == 2048
    assert s.replace(compute={"scheduler": "tcp://h:8786"}).compute.chunk_size() == 2048
    assert s.compute.chunk_size() is None


def test_an_unreachable_scheduler_stops_the_run_before_any_stage():
    pytest.importorskip("distributed")
    s = eicgeo.load_sample().replace(compute={"scheduler": "tcp://127.0.0.1:9", "connect_timeout_s": 0.5})
    with pytest.raises(InputError, match=r"compute\.scheduler: cannot reach a dask\.distributed scheduler"):
        eicgeo.run(s, progress=False)


def test_constraints_with_overlap_and_a_chunked_dem_are_the_in_memory_ones(small_tiles, tmp_path):
    """The residential buffer and the slope need their neighbours (dask map_overlap), the DEM is
    read chunk by chunk: the exclusion codes, the suitability and the zones are equal."""
    with rasterio.open(eicgeo.load_sample().inputs.landcover) as src:
        bounds, crs = src.bounds, src.crs
    profile = {"driver": "GTiff", "height": 200, "width": 200, "count": 1, "dtype": "float32", "crs": crs}
    profile["transform"] = rasterio.transform.from_bounds(*bounds, 200, 200)
    with rasterio.open(tmp_path / "dem.tif", "w", **profile) as dst:  # a steady climb to the east
        dst.write(np.tile(np.linspace(0, 3000, 200, dtype=np.float32), (200, 1)), 1)
    s = eicgeo.load_sample().replace(
        resolution=1000,
        without=["roads", "sources"],
        dem=tmp_path / "dem.tif",
        constraints={"residential_buffer_m": 1500, "slope_max_deg": 3, "protect_green_space": True},
        zones={"stability_runs": 0},
    )
    a, b = _run(s), _run(s.replace(compute={"chunks": CHUNKS}))
    assert {10, 11} <= set(np.unique(a.excluded.values).tolist())
    np.testing.assert_array_equal(a.excluded.values, b.excluded.values)
    np.testing.assert_array_equal(a.suitability.values, b.suitability.values)
    assert a.zones.geometry.geom_equals(b.zones.geometry).all()
