from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from eicgeo import Scenario, read_scenario
from eicgeo._errors import ScenarioError


def write(tmp_path: Path, body: str, files=("lc.tif", "pop.tif", "roads.osm.bz2")) -> Path:
    for name in files:
        (tmp_path / name).write_bytes(b"")
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent(body))
    return path


GOOD = """
name = "test"
[grid]
resolution = 250
[inputs]
landcover = "lc.tif"
population = "pop.tif"
roads = "roads.osm.bz2"
[criteria.road_access]
weight = 3
high = 20
"""


def test_good_scenario_over_the_balanced_preset(tmp_path):
    s = read_scenario(write(tmp_path, GOOD))
    assert s.preset == "balanced" and s.name == "test"
    assert s.resolution == 250.0 and s.crs == "auto"
    assert s.landcover == tmp_path / "lc.tif", "relative paths resolve against the scenario's folder"
    assert s.criteria["road_access"].weight == 3.0
    assert s.criteria["road_access"].params == {"low": 0, "high": 20, "increasing": False}
    assert s.criteria["market_access"].weight == 0.2, "the preset's other criteria stay"
    assert s.criteria["landcover"].params["scores"]["cropland"] == 1.0
    assert s.weights()["road_access"] == 3.0


def test_every_problem_is_reported_at_once(tmp_path):
    body = """
    nmae = "typo"
    [grid]
    crs = "EPSG:4326"
    resolution = "fine"
    [inputs]
    landcover = "lc.tif"
    firms = "missing.csv"
    [criteria.road_acess]
    weight = 1
    [criteria.market_access]
    weight = -1
    fn = "linaer"
    [criteria."material_access:flyash"]
    weight = 1
    [zones]
    quantile = 1.5
    """
    with pytest.raises(ScenarioError) as info:
        read_scenario(write(tmp_path, body))
    problems = dict(info.value.problems)
    assert "did you mean 'name'" in problems["nmae"]
    assert "geographic" in problems["grid.crs"]
    assert "expected a number, got 'fine'" in problems["grid.resolution"]
    assert "missing.csv' does not exist" in problems["inputs.firms"]
    assert "did you mean 'road_access'" in problems["criteria.road_acess"]
    assert "expected a number >= 0, got -1" in problems["criteria.market_access.weight"]
    assert "did you mean 'linear'" in problems["criteria.market_access.fn"]
    assert "unknown material 'flyash'" in problems["criteria.material_access:flyash"]
    assert "fly_ash" in problems["criteria.material_access:flyash"]
    assert "expected a number in [0, 1)" in problems["zones.quantile"]
    assert len(info.value.problems) == 9
    assert str(info.value).startswith(f"{tmp_path / 's.toml'}: 9 problems: ")


def test_unparsable_crs_unknown_preset_and_bad_toml(tmp_path):
    with pytest.raises(ScenarioError, match="grid.crs: cannot parse CRS 'EPSG:123456789'"):
        read_scenario(write(tmp_path, GOOD.replace("resolution = 250", 'crs = "EPSG:123456789"')))
    with pytest.raises(ScenarioError, match="preset: unknown preset 'industrail'"):
        read_scenario(write(tmp_path, 'preset = "industrail"\n' + GOOD))
    with pytest.raises(ScenarioError, match="not valid TOML"):
        read_scenario(write(tmp_path, "name = \n"))
    with pytest.raises(ScenarioError, match="scenario: file '.*nothere.toml' does not exist"):
        read_scenario(tmp_path / "nothere.toml")


def test_missing_landcover_is_required(tmp_path):
    with pytest.raises(ScenarioError, match="inputs.landcover: missing"):
        read_scenario(write(tmp_path, "[grid]\nresolution = 100\n"))


def test_ahp_weights_resolve_and_inconsistency_is_an_error(tmp_path):
    ahp = (
        GOOD
        + """
    [mcda.ahp]
    labels = ["road_access", "landcover"]
    matrix = [[1, 3], [0.3333333333, 1]]
    """
    )
    s = read_scenario(write(tmp_path, textwrap.dedent(ahp)))
    assert s.weights() == pytest.approx({"road_access": 0.75, "landcover": 0.25})
    bad = (
        GOOD
        + """
    [mcda.ahp]
    labels = ["road_access", "landcover", "market_access"]
    matrix = [[1, 9, 0.2], [0.1111111111, 1, 9], [5, 0.1111111111, 1]]
    """
    )
    with pytest.raises(ScenarioError, match="mcda.ahp.matrix: consistency ratio .* exceeds 0.10"):
        read_scenario(write(tmp_path, textwrap.dedent(bad)))
    unknown = (
        GOOD
        + """
    [mcda.ahp]
    labels = ["road_access", "slope"]
    matrix = [[1, 3], [0.3333333333, 1]]
    """
    )
    with pytest.raises(ScenarioError, match="mcda.ahp.labels: criterion 'slope' is not defined"):
        read_scenario(write(tmp_path, textwrap.dedent(unknown)))


def test_user_raster_criterion(tmp_path):
    (tmp_path / "slope.tif").write_bytes(b"")
    body = (
        GOOD
        + '[criteria.slope]\nraster = "slope.tif"\nweight = 0.1\nfn = "linear"\n'
        + "low = 0\nhigh = 15\nincreasing = false\n"
    )
    s = read_scenario(write(tmp_path, body))
    assert s.criteria["slope"].raster == tmp_path / "slope.tif"
    with pytest.raises(ScenarioError, match="criteria.slope.fn: a user raster criterion needs fn"):
        read_scenario(write(tmp_path, GOOD + '[criteria.slope]\nraster = "slope.tif"\nweight = 0.1\n'))
    with pytest.raises(ScenarioError, match="criteria.road_access: linear parameters out of order: low=30"):
        read_scenario(write(tmp_path, GOOD.replace("high = 20", "high = 20\nlow = 30")))


def test_all_zero_weights(tmp_path):
    body = GOOD.replace("weight = 3", "weight = 0") + "".join(
        f"[criteria.{c}]\nweight = 0\n" for c in ("landcover", "market_access", "material_access", "equal_access")
    )
    with pytest.raises(ScenarioError, match="criteria: no criterion has a weight > 0"):
        read_scenario(write(tmp_path, body))


def test_replace_overrides_inputs_and_grid(tmp_path):
    s = read_scenario(write(tmp_path, GOOD))
    (tmp_path / "other.tif").write_bytes(b"")
    t = s.replace(landcover=tmp_path / "other.tif", resolution=50)
    assert t.landcover == tmp_path / "other.tif" and t.resolution == 50.0
    assert s.resolution == 250.0


def test_from_dict_without_file_checks():
    s = Scenario.from_dict({"inputs": {"landcover": "x.tif"}}, check_files=False)
    assert s.landcover.name == "x.tif" and s.legend == "esa_worldcover"
    assert set(s.to_dict()) >= {"name", "preset", "criteria", "landcover"}
