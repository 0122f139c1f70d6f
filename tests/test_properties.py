"""Property-based tests (hypothesis) of the parsers, the scenario loader, standardisation,
combination, zone location and road travel times.

Every property states a contract of the documented API and can fail: the generators reach the
inputs that would break it (near-valid flow lists, scenario tables built from the real section
and key names, extreme standardisation parameters, random masks with holes, random directed road
graphs). Hypothesis' example database is off (``database=None``); its cache of the constants
in the code under test still goes to ``.hypothesis/`` (which Hypothesis git-ignores) unless
``HYPOTHESIS_STORAGE_DIRECTORY`` points elsewhere.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
import tempfile
from functools import cache
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import rasterio.features
from affine import Affine
from hypothesis import Phase, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

import eicgeo
from eicgeo import mcda, zones
from eicgeo._errors import InputError, MaterialError
from eicgeo.criteria import REGISTRY
from eicgeo.grid import Grid
from eicgeo.legends import ROLES
from eicgeo.materials import KINDS, MATERIALS, format_flows, parse_flows
from eicgeo.roads import DRIVABLE, compile_network
from eicgeo.scenario import PRESETS
from eicgeo.settings import COMBINE_METHODS, SECTIONS, STANDARDIZER_NAMES, Header

# No example database (failures are reported with their minimal example instead), no deadline
# (the first call of some geospatial functions pays for imports and caches), and no "explain"
# phase (seconds per failing test, for a note the minimal example mostly makes plain).
BASE = settings(database=None, deadline=None, phases=[p for p in Phase if p is not Phase.explain])

MATERIAL_NAMES = sorted(MATERIALS)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
# The largest floats, whose differences overflow, are drawn more often than st.floats() would.
EXTREME = st.sampled_from([-1.7976931348623157e308, -1e308, -1e300, 1e300, 1e308, 1.7976931348623157e308])
PARAMETERS = st.one_of(FINITE, st.floats(-1e6, 1e6), EXTREME, EXTREME)
WHITESPACE = st.sampled_from(["", "", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000"])


@cache
def grid_of(rows: int, cols: int) -> Grid:
    """A grid of 100 m cells, its top-left corner at (0, 100 * rows)."""
    return Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 100 * rows), (rows, cols))


# ============================================================================================
# 1. parse_flows
# ============================================================================================
material_texts = st.one_of(
    st.sampled_from(MATERIAL_NAMES),
    st.sampled_from(MATERIAL_NAMES),
    st.sampled_from(MATERIAL_NAMES).map(str.upper),
    st.sampled_from(MATERIAL_NAMES).map(lambda s: s.replace("_", " ")),
    st.sampled_from(MATERIAL_NAMES).map(lambda s: s[:-1]),
    st.sampled_from(MATERIAL_NAMES).map(lambda s: s + "\u0301"),  # a combining accent
    st.text(max_size=12),
)
amount_texts = st.one_of(
    st.floats().map(repr),  # includes 'nan', 'inf', '-inf', '1e+300', '-0.0'
    st.floats().map(str),
    st.floats(width=32).map(lambda f: f"{f:g}"),
    st.integers(min_value=-(10**400), max_value=10**400).map(str),  # > 1e308 reads as inf
    st.sampled_from(
        [
            "",
            " ",
            "nan",
            "NaN",
            "-nan",
            "inf",
            "-Infinity",
            "1e309",
            "-1e309",
            "-0",
            "-1",
            "0x10",
            "1_000",
            "1,5",
            "1.5.2",
            "١٢٣",  # Arabic-Indic digits, which float() reads
            "１２",  # full-width digits
            "--1",
            "+5",
            "5.",
            ".5",
            "1e",
            "e5",
            "12 t",
            "\x00",
        ]
    ),
    st.text(max_size=8),
)
colons = st.sampled_from([":", ":", ":", ":", "", "::", "：", " : ", "=", ":1:"])
separators = st.sampled_from([";", ";", ";", "; ", ";;", " ;\n", ",", ";\x00", "\n", "; ;"])


@st.composite
def near_valid_flow_lists(draw) -> str:
    """``material:tonnes;...`` with real and misspelt names, odd numbers and broken separators."""
    items = draw(
        st.lists(
            st.builds(
                lambda *parts: "".join(parts),
                WHITESPACE,
                material_texts,
                WHITESPACE,
                colons,
                WHITESPACE,
                amount_texts,
                WHITESPACE,
            ),
            max_size=6,
        )
    )
    seps = draw(st.lists(separators, min_size=len(items), max_size=len(items)))
    text = "".join(item + sep for item, sep in zip(items, seps, strict=True))
    return text if draw(st.booleans()) else text.rstrip(";")


def _check_flows(flows: object) -> None:
    assert isinstance(flows, dict)
    for material, amount in flows.items():
        assert material in MATERIALS, material
        assert type(amount) is float, (material, amount)
        assert math.isfinite(amount), (material, amount)
        assert amount >= 0, (material, amount)


@settings(BASE, max_examples=400)
@given(st.one_of(st.text(), near_valid_flow_lists(), near_valid_flow_lists(), st.none(), st.floats(), st.integers()))
def test_parse_flows_gives_clean_flows_or_material_error(text):
    """Any text gives {known material: finite tonnes >= 0}, or a MaterialError; nothing else."""
    try:
        flows, error = parse_flows(text), None
    except MaterialError as err:  # anything else fails the test
        flows, error = None, err
    if error is not None:
        assert isinstance(error, eicgeo.EicgeoError)
        assert str(error)
    else:
        _check_flows(flows)


amount_formats = st.sampled_from(
    [
        repr,
        str,
        lambda t: f"{t:.17g}",
        lambda t: f"{t:e}",  # rounded: the expected value is what the text says
        lambda t: f"{t:.3f}",
        lambda t: str(int(t)) if t < 1e18 else repr(t),
    ]
)
valid_items = st.tuples(
    st.one_of(st.sampled_from(MATERIAL_NAMES[:3]), st.sampled_from(MATERIAL_NAMES)),  # repeats likely
    st.one_of(st.floats(min_value=0, allow_nan=False, allow_infinity=False), st.integers(0, 10**12).map(float)),
    amount_formats,
    WHITESPACE,
    WHITESPACE,
)


@settings(BASE, max_examples=300)
@given(st.lists(valid_items, max_size=8), st.sampled_from([";", "; ", " ;", ";;", "; ;\n"]))
def test_parse_flows_sums_repeats_and_round_trips(items, sep):
    """A list of valid items parses to the per-material sums, and format_flows reads back the same.

    Where a sum overflows no float can hold it: then (only then) the list must be refused.
    """
    parts, expected = [], {}
    for material, tonnes, fmt, ws1, ws2 in items:
        amount = fmt(tonnes)
        parts.append(f"{ws1}{material}{ws2}:{ws1}{amount}{ws2}")
        expected[material] = expected.get(material, 0.0) + float(amount)  # summed in list order
    text = sep.join(parts)
    if not all(math.isfinite(t) for t in expected.values()):
        with pytest.raises(MaterialError):
            parse_flows(text)  # returning an inf total breaks property 1
        return
    flows = parse_flows(text)
    _check_flows(flows)
    assert flows == expected
    assert list(flows) == list(expected)  # first-seen order
    assert parse_flows(format_flows(flows)) == flows


# ============================================================================================
# 2. the scenario loader
# ============================================================================================
TOP_KEYS = list(Header.model_fields)
SECTION_KEYS = list(SECTIONS)
CRITERION_KEYS = list(SECTIONS["criteria"].model_fields)
ALL_KEYS = sorted(
    {*TOP_KEYS, *SECTION_KEYS, *(k for model in SECTIONS.values() for k in model.model_fields), "ahp", *REGISTRY}
)
CRITERION_NAMES = [*REGISTRY, "material_access:fly_ash", "material_access:unobtainium", "slope", "road_access:x"]

random_keys = st.text(max_size=10)
keys = st.one_of(st.sampled_from(ALL_KEYS), st.sampled_from(ALL_KEYS), random_keys)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["auto", "EPSG:32647", "lc.tif", "linear", "wlc", "primary", "cropland", "fly_ash", "balanced"]),
    st.dates(),
    st.datetimes(),
)
anything = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=12,
)
# Paths as users write them: relative, absolute, home-relative ('~/x', '~user/x'), odd text.
paths = st.one_of(
    st.sampled_from(
        [
            *("lc.tif", "data/lc.tif", "/abs/lc.tif", "~/lc.tif", " x.tif "),
            *("legend.csv", "materials.csv", "sectors.csv", "synergies.csv"),
        ]
    ),
    st.builds(operator.add, st.sampled_from(["", "~", "~", "~/", "./", "/", "../"]), st.text(max_size=10)),
)
numbers = st.one_of(st.floats(), st.integers(-(10**6), 10**6), st.floats(-1e4, 1e4))
number_lists = st.lists(numbers, max_size=5)
crs_texts = st.one_of(
    st.sampled_from(["auto", "AUTO", "EPSG:32647", "EPSG:4326", "epsg:3857", "+proj=utm +zone=47", "EPSG:0", "x"]),
    st.text(max_size=10),
)


def names_of(choices):
    """Lists of names, mostly known ones."""
    return st.lists(st.one_of(st.sampled_from(sorted(choices)), st.text(max_size=6)), max_size=4)


def tables_of(choices):
    """Tables of numbers by name, mostly known names."""
    return st.dictionaries(st.one_of(st.sampled_from(sorted(choices)), st.text(max_size=6)), numbers, max_size=4)


# Values that fit a key's type (so validation goes on to the domain checks), per key name.
FIELD_VALUES = {
    "name": st.text(max_size=8),
    "preset": st.one_of(st.sampled_from(PRESETS), st.text(max_size=8)),
    "description": st.text(max_size=8),
    "crs": crs_texts,
    "bounds_crs": crs_texts,
    "resolution": numbers,
    "bounds": st.one_of(st.lists(numbers, min_size=4, max_size=4), number_lists),
    "legend": st.one_of(st.sampled_from(["esa_worldcover", "corine", "CORINE", "legend.csv", "worldcover"]), paths),
    "main_roads": names_of(DRIVABLE),
    "speeds": tables_of(DRIVABLE),
    "rules": tables_of(["semi_dense_density", "urban_centre_density", "x"]),
    "method": st.sampled_from([*COMBINE_METHODS, "auto", "degurba", "landcover", "hdbscan", "dbscan", "x"]),
    "exclude_roles": names_of(ROLES),
    "kinds": names_of(KINDS),
    "materials": st.one_of(names_of(MATERIAL_NAMES), paths),
    "co2_factors": tables_of(MATERIAL_NAMES),
    "score_weights": tables_of(zones.SCORE_INDICATORS),
    "scores": tables_of([*ROLES, "10", "40", "-1", "x"]),
    "fn": st.sampled_from([*STANDARDIZER_NAMES, "fuzzy", "Linear"]),
    "points": st.lists(st.one_of(st.lists(numbers, min_size=2, max_size=2), number_lists), max_size=4),
    "labels": names_of(CRITERION_NAMES),
    "matrix": st.lists(number_lists, max_size=4),
    "on_inconsistent": st.sampled_from(["raise", "warn", "ignore"]),
    "order_weights": number_lists,
    "layers": st.lists(
        st.fixed_dictionaries({"path": paths, "reason": st.text(max_size=6)}, optional={"all_touched": st.booleans()}),
        max_size=2,
    ),
}
for _key in ("landcover", "population", "roads", "sources", "firms", "dem", "synergies", "sectors", "raster", "path"):
    FIELD_VALUES[_key] = paths


def value_for(key: str):
    """A value for ``key``: one of its type most of the time, anything otherwise."""
    typed = FIELD_VALUES.get(key, st.one_of(numbers, st.booleans(), st.integers(-5, 5)))
    return st.one_of(typed, typed, typed, anything)


def table_for(fields: list[str]):
    """A table whose keys are mostly the model's own, sometimes random."""
    return st.lists(st.one_of(st.sampled_from(fields), st.sampled_from(fields), random_keys), max_size=5).flatmap(
        lambda ks: st.fixed_dictionaries({k: value_for(k) for k in ks})
    )


criteria_tables = st.dictionaries(
    st.one_of(st.sampled_from(CRITERION_NAMES), random_keys), st.one_of(table_for(CRITERION_KEYS), anything), max_size=4
)
ahp_tables = st.fixed_dictionaries(
    {"labels": FIELD_VALUES["labels"], "matrix": FIELD_VALUES["matrix"]},
    optional={"on_inconsistent": FIELD_VALUES["on_inconsistent"], "x": anything},
)


def section_value(key: str):
    if key == "criteria":
        return st.one_of(criteria_tables, criteria_tables, anything)
    if key == "mcda":
        fields = list(SECTIONS["mcda"].model_fields)
        return st.one_of(
            st.tuples(table_for(fields), ahp_tables).map(lambda t: {**t[0], "ahp": t[1]}), table_for(fields), anything
        )
    if key in SECTIONS:
        table = table_for(list(SECTIONS[key].model_fields))
        return st.one_of(table, table, table, anything)
    return value_for(key)


@st.composite
def scenario_tables(draw) -> dict:
    """A scenario mapping built from the real sections and keys, with random keys and values."""
    chosen = draw(
        st.lists(
            st.one_of(st.sampled_from(SECTION_KEYS), st.sampled_from(SECTION_KEYS), st.sampled_from(TOP_KEYS), keys),
            unique=True,
            max_size=6,
        )
    )
    data = {key: draw(section_value(key)) for key in chosen}
    # A land-cover path in most scenarios, so that validation reaches the deeper checks.
    if draw(st.integers(0, 9)) < 7:
        inputs = data.get("inputs")
        if not isinstance(inputs, dict):
            inputs = data["inputs"] = {}
        inputs["landcover"] = draw(st.one_of(st.just("lc.tif"), paths))
    return data


fully_random_tables = st.dictionaries(keys, anything, max_size=6)


def _check_loaded(load) -> None:
    """``load()`` gives a Scenario or raises a ScenarioError listing (key, message) strings."""
    try:
        scenario, error = load(), None
    except eicgeo.ScenarioError as err:  # anything else fails the test
        scenario, error = None, err
    if error is None:
        assert isinstance(scenario, eicgeo.Scenario)
        return
    assert isinstance(error, eicgeo.EicgeoError)
    assert isinstance(error.problems, list)
    assert error.problems, "a ScenarioError without problems"
    for problem in error.problems:
        assert isinstance(problem, tuple), problem
        assert len(problem) == 2, problem
        key, message = problem
        assert isinstance(key, str), problem
        assert isinstance(message, str), problem
        assert message, problem


@settings(BASE, max_examples=400)
@given(st.one_of(scenario_tables(), scenario_tables(), fully_random_tables))
def test_from_dict_raises_only_scenario_errors(data):
    _check_loaded(lambda: eicgeo.Scenario.from_dict(data, check_files=False))


def _toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes, but astral characters kept whole and DEL escaped)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # nan, inf, -inf and 1e+300 are TOML too
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if value is None:
        return '""'
    return value.isoformat()  # dates and datetimes


def to_toml(data: dict) -> str:
    """A small TOML writer: scalars first, then one [table] per mapping."""
    lines = [f"{_toml_string(k)} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"[{_toml_string(key)}]")
            lines += [f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items()]
    return "\n".join(lines) + "\n"


@st.composite
def scenario_files(draw) -> tuple[str, bytes]:
    """(file name, content): random text or bytes, or a (possibly damaged) TOML or manifest."""
    kind = draw(st.sampled_from(["text", "bytes", "toml", "toml", "toml", "damaged", "manifest", "json"]))
    if kind == "text":
        name = draw(st.sampled_from(["s.toml", "s.json", "s.txt", "s"]))
        return name, draw(st.text()).encode("utf-8", "surrogatepass")
    if kind == "bytes":  # invalid UTF-8 among them
        return draw(st.sampled_from(["s.toml", "s.json"])), draw(st.binary(max_size=64))
    if kind == "json":
        return "s.json", json.dumps(draw(anything), default=str).encode()
    data = draw(st.one_of(scenario_tables(), fully_random_tables))
    if kind == "manifest":
        manifest = {"eicgeo": "0.1.0", "scenario": data} if draw(st.booleans()) else {"scenario": data}
        return "manifest.json", json.dumps(manifest, default=str).encode()
    text = to_toml(data)
    if kind == "damaged":
        i, j = sorted(draw(st.lists(st.integers(0, len(text)), min_size=2, max_size=2)))
        text = text[:i] + draw(st.text(max_size=4)) + text[j:]
    return draw(st.sampled_from(["s.toml", "s.TOML", "s"])), text.encode("utf-8", "surrogatepass")


csv_contents = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b"",
            b"code,name,role\n10,Trees,forest\n",
            b"code,name,role\nx,Trees,forest\n",
            b"name,kind\ncoffee_grounds,byproduct\n",
            b"name,kind,co2_avoided\ncoffee_grounds,byproduct,-1\n",
            b"sector,description\nmine,a mine\n",
            b"material,from_sector,to_sector,use,source\nfly_ash,coal_power,cement,x,y\n",
            b'"unterminated\n',
        ]
    ),
)


@settings(BASE, max_examples=500)
@given(scenario_files(), st.booleans(), csv_contents)
def test_read_scenario_raises_only_scenario_errors(file, check_files, csv):
    """read_scenario on any file (bytes, text, TOML, JSON) gives a Scenario or a ScenarioError.

    The folder also holds an (empty) ``lc.tif`` and CSV files of random content under the names
    the generated scenarios use, so that ``check_files=True`` reaches the table readers.
    """
    name, content = file
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "lc.tif").write_bytes(b"")
        for table in ("materials.csv", "legend.csv", "synergies.csv", "sectors.csv"):
            (folder / table).write_bytes(csv)
        path = folder / name
        path.write_bytes(content)
        _check_loaded(lambda: eicgeo.read_scenario(path, check_files=check_files))


# ============================================================================================
# 3. standardize
# ============================================================================================
@st.composite
def raw_layers(draw) -> np.ndarray:
    """A small float32 layer, with NaN and infinities at random cells (or none)."""
    rows, cols = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    finite = st.one_of(st.floats(width=32, allow_nan=False, allow_infinity=False), st.floats(-1e4, 1e4, width=32))
    array = draw(hnp.arrays(np.float32, (rows, cols), elements=finite))
    kind = draw(st.sampled_from(["none", "nan", "inf", "nan+inf"]))
    specials = [v for v, k in ((np.nan, "nan"), (np.inf, "inf"), (-np.inf, "inf")) if k in kind]
    if specials:
        for i in draw(st.lists(st.integers(0, array.size - 1), max_size=array.size)):
            array.flat[i] = draw(st.sampled_from(specials))
    return array


# The widest intervals, whose length overflows (and a wide one whose length does not).
WIDE = st.sampled_from([1e300, 1e308, 1.7976931348623157e308]).map(lambda m: [-m, m])


def sorted_unique(n: int, elements=PARAMETERS):
    """``n`` distinct floats in increasing order (for two, the widest intervals often)."""
    values = st.lists(elements, min_size=n, max_size=n, unique=True).map(sorted)
    return st.one_of(values, values, WIDE) if n == 2 else values


@st.composite
def control_points(draw) -> dict:
    """IDRISI control points a < b <= c < d, both sides or one."""
    sides = draw(st.sampled_from(["both", "both_plateau0", "rising", "falling"]))
    if sides == "both":
        a, b, c, d = draw(sorted_unique(4))
        return {"a": a, "b": b, "c": c, "d": d}
    if sides == "both_plateau0":  # b == c
        a, b, d = draw(sorted_unique(3))
        return {"a": a, "b": b, "c": b, "d": d}
    low, high = draw(sorted_unique(2))
    return {"a": low, "b": high} if sides == "rising" else {"c": low, "d": high}


positive = st.floats(min_value=0, exclude_min=True, allow_infinity=False)
standardisations = st.one_of(
    st.tuples(sorted_unique(2), st.booleans()).map(
        lambda t: ("linear", {"low": t[0][0], "high": t[0][1], "increasing": t[1]})
    ),
    st.tuples(PARAMETERS, positive, st.booleans()).map(
        lambda t: ("logistic", {"midpoint": t[0], "spread": t[1], "increasing": t[2]})
    ),
    st.tuples(PARAMETERS, positive).map(lambda t: ("gaussian", {"target": t[0], "spread": t[1]})),
    control_points().map(lambda p: ("sigmoid", p)),
    control_points().map(lambda p: ("symmetric_linear", p)),
    control_points().map(lambda p: ("jshaped", p)),
    st.integers(2, 6).flatmap(
        lambda k: st.tuples(sorted_unique(k), st.lists(st.floats(0, 1), min_size=k, max_size=k)).map(
            lambda t: ("piecewise", {"points": [list(p) for p in zip(t[0], t[1], strict=True)]})
        )
    ),
)


@settings(BASE, max_examples=400)
@given(raw_layers(), standardisations)
def test_standardize_keeps_nan_and_maps_into_unit_interval(array, standardisation):
    fn, params = standardisation
    rows, cols = array.shape
    layer = grid_of(rows, cols).wrap(array.astype("float32"), "x")
    try:
        out = mcda.standardize(layer, fn, **params)
    except InputError as err:
        # parameters whose span overflows a float are refused, by name
        refused = str(err)
        out = None
    if out is None:
        assert "span more than a float can hold" in refused, refused
        return
    values = out.values
    assert values.shape == array.shape
    assert values.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(values), np.isnan(array), err_msg=f"NaN moved: {array!r} -> {values!r}")
    kept = values[~np.isnan(array)]
    assert np.all((kept >= 0) & (kept <= 1)), f"{array!r} -> {values!r}"


# ============================================================================================
# 4. combine
# ============================================================================================
unit_or_nan = st.one_of(st.floats(0, 1, width=32), st.floats(0, 1, width=32), st.just(np.nan))


@st.composite
def criteria_sets(draw) -> tuple[dict, dict]:
    rows, cols = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    grid = grid_of(rows, cols)
    k = draw(st.integers(1, 4))
    layers, weights = {}, {}
    for i in range(k):
        array = draw(hnp.arrays(np.float32, (rows, cols), elements=unit_or_nan))
        # combine refuses a criterion that is NaN everywhere
        array.flat[draw(st.integers(0, array.size - 1))] = draw(st.floats(0, 1, width=32))
        layers[f"c{i}"] = grid.wrap(array, f"c{i}")
        weights[f"c{i}"] = draw(st.one_of(st.just(0.0), st.floats(1e-3, 1e3)))
    if not any(weights.values()):
        weights["c0"] = 1.0
    return layers, weights


@pytest.mark.parametrize("method", ["wlc", "weighted_product", "owa"])
@settings(BASE, max_examples=150)
@given(criteria_sets(), st.floats(1e-6, 1e6))
def test_combine_is_scale_invariant_and_between_min_and_max(method, criteria, factor):
    """Scaling every weight by ``factor`` changes nothing; each cell lies between the smallest
    and the largest value of the criteria taking part (weight > 0), and is NaN where one is."""
    layers, weights = criteria
    out = mcda.combine(layers, weights, method=method).values
    scaled = mcda.combine(layers, {k: w * factor for k, w in weights.items()}, method=method).values
    np.testing.assert_allclose(scaled, out, rtol=1e-6, atol=2e-7, equal_nan=True)

    used = np.stack([layers[k].values for k, w in weights.items() if w > 0])
    nan = np.isnan(used).any(axis=0)
    np.testing.assert_array_equal(np.isnan(out), nan)
    tol = 1e-6
    assert np.all(out[~nan] >= used.min(axis=0)[~nan] - tol), (out, used)
    assert np.all(out[~nan] <= used.max(axis=0)[~nan] + tol), (out, used)


# ============================================================================================
# 5. zones.locate
# ============================================================================================
@st.composite
def locate_cases(draw):
    rows, cols = draw(st.integers(20, 40)), draw(st.integers(20, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    suit = rng.random((rows, cols))
    sigma = draw(st.sampled_from([0.0, 1.0, 2.0, 3.0]))
    if sigma:  # smooth blobs of high suitability
        suit = ndimage.gaussian_filter(suit, sigma)
        suit = (suit - suit.min()) / max(float(np.ptp(suit)), 1e-12)
    suit[rng.random((rows, cols)) < draw(st.sampled_from([0.0, 0.02, 0.1]))] = np.nan
    if draw(st.booleans()):  # plateaus (ties) of equal suitability
        suit = np.round(suit * 4) / 4
    allowed = rng.random((rows, cols)) >= draw(st.sampled_from([0.0, 0.05, 0.2, 0.4]))  # pinholes
    for _ in range(draw(st.integers(0, 4))):  # rectangular holes
        r0, c0 = rng.integers(0, rows), rng.integers(0, cols)
        allowed[r0 : r0 + rng.integers(1, 10), c0 : c0 + rng.integers(1, 10)] = False
    min_area = draw(st.floats(0.5, 25))
    kwargs = {
        "n": draw(st.integers(1, 6)),
        "quantile": draw(st.floats(0, 0.9)),
        "min_area_ha": min_area,
        "max_area_ha": min_area + draw(st.floats(0, 80)),
        "min_spacing_km": draw(st.sampled_from([0.0, 0.0, 0.1, 0.25, 0.35, 0.5, 1.0]) | st.floats(0, 1.2)),
        "compactness": draw(st.floats(0, 2)),
    }
    return suit.astype(np.float32), allowed, kwargs


@settings(BASE, max_examples=150)
@given(locate_cases())
def test_locate_zones_are_disjoint_allowed_sized_and_spaced(case):
    """The guarantees of docs/zones.md: one polygon per zone, no overlap, only allowed cells at or
    above the quantile floor, area in [min_area_ha, max_area_ha] in whole cells, and polygons at
    least min_spacing_km apart edge to edge (measured exactly on cell squares, so no slack)."""
    suit, allowed, kwargs = case
    rows, cols = suit.shape
    grid = grid_of(rows, cols)
    layers = grid.wrap(suit, "suitability"), grid.wrap(allowed, "allowed")
    # The one refusal of these arguments: no whole number of 1 ha cells between the area bounds.
    if math.floor(kwargs["max_area_ha"] + 1e-9) < max(1, math.ceil(kwargs["min_area_ha"] - 1e-9)):
        with pytest.raises(eicgeo.InputError, match="holds no whole number"):
            zones.locate(*layers, **kwargs)
        return
    found = zones.locate(*layers, **kwargs)
    assert len(found) <= kwargs["n"]
    event(f"zones found: {min(len(found), 3)}{'+' if len(found) >= 3 else ''}")
    if not len(found):
        return
    threshold = found.attrs["threshold"]
    suit64 = suit.astype(np.float64)  # as locate compares
    usable = allowed & np.isfinite(suit64) & (suit64 >= threshold)
    masks = []
    for geom, area_ha, mean in zip(found.geometry, found["area_ha"], found["mean_suitability"], strict=True):
        assert geom.is_valid and geom.geom_type == "Polygon", geom.geom_type
        mask = rasterio.features.geometry_mask([geom], grid.shape, grid.transform, invert=True)
        n_cells = int(mask.sum())
        assert n_cells == round(area_ha), (n_cells, area_ha)  # 1 ha cells
        assert geom.area / 1e4 == pytest.approx(area_ha)
        assert kwargs["min_area_ha"] - 1e-6 <= area_ha <= kwargs["max_area_ha"] + 1e-6, (area_ha, kwargs)
        assert not (mask & ~usable).any(), "a zone holds a cell that is not allowed or below the floor"
        assert mean == pytest.approx(float(suit64[mask].mean()), rel=1e-9)
        masks.append(mask)
    assert (np.sum(masks, axis=0) <= 1).all(), "a cell is in two zones"
    assert list(found["mean_suitability"]) == sorted(found["mean_suitability"], reverse=True)
    spacing_m = kwargs["min_spacing_km"] * 1000
    for (i, a), (j, b) in itertools.combinations(enumerate(found.geometry), 2):
        assert a.intersection(b).area < 1e-6, (i, j)
        assert a.distance(b) >= spacing_m - 1e-3, (i, j, a.distance(b), spacing_m)


# ============================================================================================
# 6. road travel times
# ============================================================================================
HIGHWAYS = [*sorted(DRIVABLE), "primary", "primary", "residential", "unknown_class"]


@st.composite
def road_graphs(draw) -> nx.MultiDiGraph:
    n = draw(st.integers(2, 12))
    ids = draw(st.lists(st.integers(-(10**12), 10**12), min_size=n, max_size=n, unique=True))
    coords = st.floats(0, 5000)
    graph = nx.MultiDiGraph(crs="EPSG:32647")
    for node in ids:
        graph.add_node(node, x=draw(coords), y=draw(coords))
    edges = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.integers(0, n - 1),
                st.one_of(st.floats(0, 1e4), st.floats(0, 1e4), st.just(0.0), st.integers(1, 600).map(float)),
                st.booleans(),
                st.sampled_from(HIGHWAYS),
            ),
            max_size=3 * n,
        )
    )
    for i, j, time, both_ways, highway in edges:
        u, v = ids[i], ids[j]
        length = math.dist((graph.nodes[u]["x"], graph.nodes[u]["y"]), (graph.nodes[v]["x"], graph.nodes[v]["y"]))
        for a, b in ((u, v), (v, u)) if both_ways else ((u, v),):
            graph.add_edge(a, b, length=length, travel_time=time, highway=highway)
    note(f"nodes: {dict(graph.nodes(data=True))}")
    note(f"edges: {list(graph.edges(data='travel_time'))}")
    return graph


@settings(BASE, max_examples=150)
@given(road_graphs(), st.sampled_from([50.0, 100.0, 500.0, 3000.0]), st.data())
def test_node_times_are_shortest_paths(graph, spacing, data):
    """CompiledNetwork.node_times equals networkx's Dijkstra on travel_time (both directions),
    satisfies the triangle inequality, and with several seeds is the least offset + time."""
    if graph.number_of_edges() == 0:
        with pytest.raises(eicgeo.EicgeoError, match="has no edges"):
            compile_network(graph, spacing_m=spacing)
        return
    net = compile_network(graph, spacing_m=spacing)
    ids = net.node_ids.tolist()
    n = len(ids)
    assert sorted(ids) == sorted(graph.nodes)
    dist = np.vstack([net.node_times({s: 0.0}, direction="from") for s in range(n)])  # dist[a, b]: a -> b
    reverse = graph.reverse(copy=True)
    for s, source in enumerate(ids):
        for g, row, label in ((graph, dist[s], "from"), (reverse, None, "to")):
            if row is None:
                row = net.node_times({s: 0.0}, direction="to")  # row[b]: b -> source
            want = nx.single_source_dijkstra_path_length(g, source, weight="travel_time")
            reached = {ids[b] for b in np.flatnonzero(np.isfinite(row))}
            assert reached == set(want), (label, source)
            for node, t in want.items():
                assert row[ids.index(node)] == pytest.approx(t, abs=1e-6), (label, source, node)
    # d(a, c) <= d(a, b) + d(b, c) for every triple
    via = dist[:, :, None] + dist[None, :, :]  # via[a, b, c] = d(a, b) + d(b, c)
    assert np.all(dist[:, None, :] <= via + 1e-6), "triangle inequality"
    assert np.all(np.diag(dist) == 0)

    seeds = data.draw(st.dictionaries(st.integers(0, n - 1), st.floats(0, 1e4), min_size=1, max_size=3), label="seeds")
    combined = net.node_times(seeds, direction="from")
    expected = np.min([offset + dist[s] for s, offset in seeds.items()], axis=0)
    np.testing.assert_allclose(combined, expected, rtol=0, atol=1e-6)


# ============================================================================================
# The minimal failing examples the properties above found, pinned as plain tests (an explicit
# @example that fails would stop hypothesis from searching further, so they live here). Each
# checks the same contract as its property.
# ============================================================================================
def test_found_parse_flows_sum_of_two_huge_amounts():
    """Property 1: each amount is finite, but their sum overflows to inf."""
    try:
        flows = parse_flows("animal_feed:8.988465674311579e+307;animal_feed:8.98846567431158e+307")
    except MaterialError:
        return
    _check_flows(flows)


@pytest.mark.parametrize(
    "data",
    [
        {"inputs": {"landcover": "~0"}},  # ~user of a user that does not exist
        {"inputs": {"landcover": "lc.tif", "legend": "~0.csv"}},
    ],
)
def test_found_from_dict_home_of_unknown_user(data):
    """Property 2b: a path starting with '~name' of an unknown user."""
    _check_loaded(lambda: eicgeo.Scenario.from_dict(data, check_files=False))


def test_found_read_scenario_home_of_unknown_user(tmp_path):
    """Property 2a: the same, from a TOML file."""
    path = tmp_path / "s.toml"
    path.write_text('[inputs]\nlandcover = "~0"\n', encoding="utf-8")
    _check_loaded(lambda: eicgeo.read_scenario(path, check_files=False))


@pytest.mark.parametrize(
    ("value", "fn", "params"),
    [
        (np.inf, "linear", {"low": -1e308, "high": 1e308}),
        (-np.inf, "linear", {"low": -1e308, "high": 1e308, "increasing": False}),
        (-np.inf, "sigmoid", {"a": -1e308, "b": 1e308}),
        (np.inf, "sigmoid", {"c": -1e308, "d": 1e308}),
        (-np.inf, "jshaped", {"a": -1e308, "b": 1e308}),
        (np.inf, "symmetric_linear", {"a": -1e308, "b": 1e308}),
    ],
)
def test_found_standardize_infinity_with_overflowing_span(value, fn, params):
    """Property 3: ``high - low`` (or ``b - a``, ``d - c``) overflows to inf, and inf / inf is NaN."""
    layer = grid_of(1, 2).wrap(np.array([[value, 0.0]], dtype="float32"), "x")
    with pytest.raises(InputError, match=f"{fn} parameters span more than a float can hold"):
        mcda.standardize(layer, fn, **params)


def test_found_compile_network_without_edges():
    """Property 6: a road graph whose nodes have no edges (every other node unreachable)."""
    graph = nx.MultiDiGraph(crs="EPSG:32647")
    graph.add_node(0, x=0.0, y=0.0)
    graph.add_node(1, x=0.0, y=0.0)
    try:
        net = compile_network(graph, spacing_m=50.0)
    except eicgeo.EicgeoError:
        return  # refusing a network without roads, with eicgeo's own error, is fine too
    np.testing.assert_array_equal(net.node_times({0: 0.0}, direction="from"), [0.0, np.inf])
