"""Land-cover legends: built-in roles, custom CSV legends and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from eicgeo._errors import InputError, InputFileNotFoundError
from eicgeo.legends import CORINE, ESA_WORLDCOVER, ROLE_CODE, ROLES, Legend, LegendClass, get_legend

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("code", "role"),
    [
        (10, "forest"),
        (20, "grass_shrub"),
        (30, "grass_shrub"),
        (40, "cropland"),
        (50, "built_up"),
        (60, "bare"),
        (70, "bare"),
        (80, "water"),
        (90, "wetland"),
        (95, "wetland"),
        (100, "grass_shrub"),
        (0, "nodata"),
        (15, "nodata"),
        (255, "nodata"),
    ],
)
def test_esa_worldcover_roles(code, role):
    assert ESA_WORLDCOVER.roles(np.array([[code]], dtype=np.uint8))[0, 0] == role


@pytest.mark.parametrize(
    ("code", "role"),
    [
        (1, "built_up"),
        (2, "built_up"),
        (3, "built_up"),
        (4, "built_up"),
        (6, "built_up"),
        (7, "bare"),
        (10, "grass_shrub"),
        (12, "cropland"),
        (15, "cropland"),
        (18, "grass_shrub"),
        (21, "cropland"),
        (23, "forest"),
        (24, "forest"),
        (25, "forest"),
        (29, "grass_shrub"),
        (35, "wetland"),
        (41, "water"),
        (44, "water"),
        (48, "nodata"),
        (50, "water"),
        (255, "nodata"),
        (0, "nodata"),
    ],
)
def test_corine_roles(code, role):
    assert CORINE.roles(np.array([[code]], dtype=np.uint8))[0, 0] == role


def test_role_codes_are_positions_in_roles():
    got = ESA_WORLDCOVER.role_codes(np.array([[10, 40], [50, 80], [0, 7]], dtype=np.uint8))
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(
        got, [[ROLE_CODE["forest"], ROLE_CODE["cropland"]], [ROLE_CODE["built_up"], ROLE_CODE["water"]], [0, 0]]
    )
    assert ROLE_CODE == {
        "nodata": 0,
        "built_up": 1,
        "cropland": 2,
        "grass_shrub": 3,
        "forest": 4,
        "water": 5,
        "wetland": 6,
        "bare": 7,
    }


def test_codes_above_the_table_are_nodata():
    codes = np.array([[101, 1000, 65535]], dtype=np.uint16)
    assert ESA_WORLDCOVER.roles(codes).tolist() == [["nodata", "nodata", "nodata"]]


def test_corine_knows_every_code_of_the_lausanne_raster():
    with rasterio.open(DATA / "lausanne-clc2006-100m.tif") as src:
        codes = src.read(1)
    present = set(np.unique(codes).tolist())
    assert {1, 12, 25, 41, 255} <= present  # the raster has urban, arable, forest, lake, nodata
    assert CORINE.unknown_codes(codes) == []
    assert present <= set(CORINE.codes)
    assert 0 not in ESA_WORLDCOVER.unknown_codes(codes)  # nodata is set aside
    assert ESA_WORLDCOVER.unknown_codes(codes) == sorted(present - {10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100})


def test_builtin_legends_cover_the_official_class_lists():
    assert ESA_WORLDCOVER.codes == [10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100]
    assert set(range(1, 45)) <= set(CORINE.codes)
    for legend in (ESA_WORLDCOVER, CORINE):
        assert {c.role for c in legend.classes} <= set(ROLES)
        assert all(c.color.startswith("#") and len(c.color) == 7 for c in legend.classes)


def write(tmp_path: Path, text: str, name: str = "legend.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_custom_csv_round_trip(tmp_path):
    path = write(
        tmp_path,
        "code,name,role,color\n1,Town,built_up,#ff0000\n2,Rice,cropland,#ffff00\n"
        "7,Lake,water,#0000ff\n9,Clouds, nodata ,#ffffff\n",
    )
    legend = Legend.from_csv(path)
    assert legend.name == "legend"
    assert legend.classes == (
        LegendClass(1, "Town", "built_up", "#ff0000"),
        LegendClass(2, "Rice", "cropland", "#ffff00"),
        LegendClass(7, "Lake", "water", "#0000ff"),
        LegendClass(9, "Clouds", "nodata", "#ffffff"),
    )
    assert legend.roles(np.array([[1, 2, 7, 9, 3]])).tolist() == [["built_up", "cropland", "water", "nodata", "nodata"]]
    # to_frame -> CSV -> from_csv gives the same legend
    again_path = tmp_path / "again.csv"
    legend.to_frame().to_csv(again_path, index=False)
    again = get_legend(again_path)
    assert again.classes == legend.classes
    assert again.name == "again"
    assert Legend.from_csv(path, name="mine").name == "mine"


def test_custom_csv_without_colour(tmp_path):
    legend = get_legend(write(tmp_path, "code,name,role\n5,Field,cropland\n"))
    assert legend.classes == (LegendClass(5, "Field", "cropland", "#999999"),)


def test_csv_unknown_role_suggests_closest(tmp_path):
    path = write(tmp_path, "code,name,role\n1,Town,buildup\n")
    with pytest.raises(
        InputError,
        match=r"legend 'legend' class 1 \(Town\) has role 'buildup'; expected one of "
        r"nodata, built_up, .*\(did you mean 'built_up'\?\)",
    ):
        Legend.from_csv(path)


def test_csv_duplicate_codes(tmp_path):
    path = write(tmp_path, "code,name,role\n1,Town,built_up\n2,Rice,cropland\n1,City,built_up\n")
    with pytest.raises(InputError, match=r"legend 'legend' lists code\(s\) \[1\] more than once"):
        Legend.from_csv(path)


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ("1,Town,built_up\n2.5,Rice,cropland\n", r"row 3: code 2.5 is not an integer"),
        ("1,Town,built_up\nabc,Rice,cropland\n", r"row 3: code 'abc' is not an integer"),
        ("1,Town,built_up\n,Rice,cropland\n", r"row 3: code nan is not an integer"),
    ],
)
def test_csv_non_integer_code(tmp_path, rows, match):
    path = write(tmp_path, "code,name,role\n" + rows)
    with pytest.raises(InputError, match=rf"legend '.*legend.csv' {match}"):
        Legend.from_csv(path)


def test_csv_code_out_of_range(tmp_path):
    path = write(tmp_path, "code,name,role\n70000,Town,built_up\n")
    with pytest.raises(InputError, match=r"legend 'legend' code 70000 is outside 0..65535"):
        Legend.from_csv(path)


def test_csv_missing_columns(tmp_path):
    path = write(tmp_path, "code,label\n1,Town\n")
    with pytest.raises(
        InputError, match=r"legend '.*legend.csv' is missing column\(s\) name, role; it has code, label"
    ):
        Legend.from_csv(path)


def test_csv_wrong_extension_and_missing_file(tmp_path):
    path = write(tmp_path, "code,name,role\n1,Town,built_up\n", name="legend.txt")
    with pytest.raises(
        InputError, match=r"legend file '.*legend.txt' has an unsupported extension; expected one of .csv"
    ):
        Legend.from_csv(path)
    with pytest.raises(InputFileNotFoundError, match=r"legend file '.*nowhere.csv' does not exist"):
        get_legend(tmp_path / "nowhere.csv")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("esa_worldcover", ESA_WORLDCOVER),
        ("worldcover", ESA_WORLDCOVER),
        ("ESA", ESA_WORLDCOVER),
        ("corine", CORINE),
        ("CLC", CORINE),
        ("Corine", CORINE),
    ],
)
def test_get_legend_names_and_aliases(name, expected):
    assert get_legend(name) is expected


def test_get_legend_passes_a_legend_through():
    assert get_legend(CORINE) is CORINE


def test_get_legend_unknown_name():
    with pytest.raises(
        InputError,
        match=r"legend 'corrine' is neither a built-in legend \(esa_worldcover, corine, nlcd, esa_cci_lc, modis_igbp\) "
        r"nor a CSV file \(did you mean 'corine'\?\)",
    ):
        get_legend("corrine")
    with pytest.raises(InputError, match=r"legend 'modus' is neither a built-in legend"):
        get_legend("modus")


@pytest.mark.parametrize(
    ("name", "code", "role"),
    [
        ("nlcd", 21, "grass_shrub"),  # developed, open space: lawns and verges, counted green
        ("nlcd", 23, "built_up"),
        ("nlcd", 82, "cropland"),
        ("esa_cci_lc", 190, "built_up"),
        ("esa_cci_lc", 10, "cropland"),
        ("esa_cci_lc", 210, "water"),
        ("modis_igbp", 13, "built_up"),
        ("modis_igbp", 12, "cropland"),
        ("modis_igbp", 255, "nodata"),
    ],
)
def test_the_packaged_legends_map_their_products_classes(name, code, role):
    from eicgeo.legends import get_legend

    legend = get_legend(name)
    assert legend.roles(np.array([[code]]))[0, 0] == role


def test_a_csv_legend_may_explain_itself_in_comment_lines(tmp_path):
    from eicgeo.legends import get_legend

    path = tmp_path / "mine.csv"
    path.write_text(
        '# built-up is sealed land only\ncode,name,role,color\n1,town,built_up,"#ff0000"\n2,fields,cropland,"#ffff00"\n'
    )
    legend = get_legend(str(path))
    assert legend.codes == [1, 2] and legend.classes[0].color == "#ff0000"
