"""Scenarios: what to read, which criteria to use with which weights, and the settings of every
stage. A scenario is a TOML file or a Python object; both are validated the same way, and every
problem is reported at once with its key path.

A scenario starts from a preset (``balanced`` by default, shipped in ``eicgeo/presets/``); the
file's own keys override the preset's. Relative input paths resolve against the scenario
file's folder.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from eicgeo._errors import ScenarioError
from eicgeo._validate import did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "CRITERIA",
    "PRESETS",
    "Criterion",
    "Scenario",
    "read_scenario",
]

#: Criteria that can be named in ``[criteria.NAME]`` (plus ``material_access:MATERIAL`` and
#: user rasters given with ``raster = "path"``).
CRITERIA: dict[str, str] = {
    "landcover": "suitability of each land-cover role",
    "road_access": "travel time (min) to the nearest main road",
    "market_access": "travel time (min) to the nearest urban centre",
    "labour_access": "travel time (min) from the nearest village, town or city, where workers live",
    "material_access": "travel time (min) to the nearest source of each raw material, averaged",
    "equal_access": "markets and raw materials both near and at similar times",
    "symbiosis_potential": "unmatched by-product tonnes (t/yr) of firms within the matching reach",
}

#: Presets shipped with the package: one TOML file each in ``eicgeo/presets/`` (documented in
#: ``docs/scenario.md``).
PRESETS: tuple[str, ...] = tuple(
    sorted(p.name[: -len(".toml")] for p in resources.files("eicgeo.presets").iterdir() if p.name.endswith(".toml"))
)

_ROLE_SCORES = {
    "cropland": 1.0,
    "grass_shrub": 0.9,
    "bare": 0.7,
    "forest": 0.2,
    "wetland": 0.0,
    "water": 0.0,
    "built_up": 0.0,
}
_FN_PARAMS = {"low", "high", "increasing", "midpoint", "spread", "target", "a", "b", "c", "d", "points", "scores"}
_CRITERION_KEYS = ("weight", "enabled", "fn", "raster", "materials")
_INPUT_KEYS = ("landcover", "population", "roads", "sources", "firms", "dem", "materials", "synergies", "sectors")


@dataclass
class Criterion:
    """One criterion: its weight and how it is standardised to 0..1."""

    name: str
    weight: float = 0.0
    enabled: bool = True
    fn: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    raster: Path | None = None
    materials: list[str] | None = None


@dataclass
class Scenario:
    """A validated scenario. Build it with :func:`read_scenario`, :meth:`from_dict` or directly.

    Examples
    --------
    >>> data = {"inputs": {"landcover": "lc.tif"}, "criteria": {"road_access": {"weight": 2}}}
    >>> s = Scenario.from_dict(data, check_files=False)
    >>> s.weights()["road_access"] > s.weights()["landcover"]
    True
    """

    name: str = "scenario"
    preset: str = "balanced"
    description: str = ""
    base_dir: Path = field(default_factory=Path.cwd)
    # [grid]
    crs: str = "auto"
    resolution: float = 100.0
    bounds: tuple[float, float, float, float] | None = None
    bounds_crs: str | None = None
    # [inputs]
    landcover: Path | None = None
    legend: str = "esa_worldcover"
    population: Path | None = None
    roads: Path | None = None
    sources: Path | None = None
    firms: Path | None = None
    dem: Path | None = None  # elevation (metres), for constraints.slope_max_deg
    materials: Path | None = None  # CSV tables that extend eicgeo.materials (see materials.extend)
    synergies: Path | None = None
    sectors: Path | None = None
    # stages
    roads_settings: dict[str, Any] = field(default_factory=dict)
    fringe: dict[str, Any] = field(default_factory=dict)
    criteria: dict[str, Criterion] = field(default_factory=dict)
    mcda: dict[str, Any] = field(default_factory=dict)
    constraints: dict[str, Any] = field(default_factory=dict)
    symbiosis: dict[str, Any] = field(default_factory=dict)
    clustering: dict[str, Any] = field(default_factory=dict)
    zones: dict[str, Any] = field(default_factory=dict)
    source_file: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    # The scenario's own keys before the preset is merged under them (so a new preset can be
    # put under the same overrides).
    overrides: dict[str, Any] = field(default_factory=dict, repr=False)

    # ---------------------------------------------------------------------------------------
    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        *,
        base_dir: str | Path | None = None,
        source_file: str | Path | None = None,
        check_files: bool = True,
    ) -> Scenario:
        """Validate a scenario mapping (as read from TOML) over its preset."""
        problems: list[tuple[str, str]] = []
        preset_name = data.get("preset", "balanced")
        if not isinstance(preset_name, str) or preset_name not in PRESETS:
            problems.append(
                (
                    "preset",
                    f"unknown preset {preset_name!r}; expected one of {', '.join(PRESETS)}"
                    f"{did_you_mean(str(preset_name), PRESETS)}",
                )
            )
            preset_name = "balanced"
        merged = _deep_merge(_preset(preset_name), data)
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        scenario = _build(merged, base, problems, check_files=check_files)
        scenario.preset = preset_name
        scenario.source_file = Path(source_file) if source_file else None
        scenario.raw = merged
        scenario.overrides = copy.deepcopy(data)
        if problems:
            raise ScenarioError(problems, str(source_file) if source_file else None)
        return scenario

    def replace(self, **changes: Any) -> Scenario:
        """A copy with top-level fields changed and re-validated (used by CLI flags).

        ``preset`` swaps the preset under the scenario's own keys, which still override it.
        """
        data = copy.deepcopy(self.overrides or self.raw)
        inputs = data.setdefault("inputs", {})
        grid = data.setdefault("grid", {})
        for key, value in changes.items():
            if value is None:
                continue
            if key in (*_INPUT_KEYS, "legend"):
                inputs[key] = str(Path(value).resolve()) if key != "legend" else value
            elif key in ("crs", "resolution", "bounds", "bounds_crs"):
                grid[key] = value
            elif key in ("name", "preset", "description"):
                data[key] = value
            else:
                msg = f"Scenario.replace got unknown field {key!r}"
                raise ScenarioError([(key, msg)])
        return Scenario.from_dict(data, base_dir=self.base_dir, source_file=self.source_file)

    def input_paths(self) -> list[Path]:
        """Every file the scenario reads: itself, its inputs, user criteria and constraint layers
        (an output folder must never replace them)."""
        paths = [self.source_file] if self.source_file else []
        paths += [getattr(self, key) for key in _INPUT_KEYS if getattr(self, key) is not None]
        paths += [c.raster for c in self.criteria.values() if c.raster is not None]
        paths += [Path(spec["path"]) for spec in self.constraints.get("layers", []) if "path" in spec]
        if self.legend.lower().endswith(".csv"):
            paths.append(Path(self.legend))
        return [Path(p) for p in paths]

    def weights(self) -> dict[str, float]:
        """Criterion weights as given (not yet normalised), enabled criteria only."""
        ahp = self.mcda.get("ahp")
        if ahp:
            from eicgeo.mcda import ahp_weights

            return ahp_weights(
                ahp["matrix"], ahp["labels"], on_inconsistent=ahp.get("on_inconsistent", "raise")
            ).weights
        return {name: c.weight for name, c in self.criteria.items() if c.enabled and c.weight > 0}

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario as plain data (for manifest.json)."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "raw":
                continue
            value = getattr(self, f.name)
            if f.name == "criteria":
                value = {
                    k: {kk: (str(vv) if isinstance(vv, Path) else vv) for kk, vv in dataclasses.asdict(c).items()}
                    for k, c in value.items()
                }
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


def read_scenario(path: str | Path, *, check_files: bool = True, preset: str | None = None) -> Scenario:
    """Read and validate a scenario TOML file.

    Parameters
    ----------
    path : path
        The TOML file; relative input paths in it resolve against its folder.
    check_files : bool
        Check that the input files exist.
    preset : str, optional
        Use this preset instead of the one the file names (as ``--preset`` does).

    Raises
    ------
    ScenarioError
        Listing every problem with its key path.
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError([("scenario", f"file {str(path)!r} does not exist")])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ScenarioError([("scenario", f"not valid TOML: {err}")], str(path)) from err
    if preset is not None:
        data["preset"] = preset
    return Scenario.from_dict(data, base_dir=path.parent.resolve(), source_file=path, check_files=check_files)


# --------------------------------------------------------------------------------------------
def _preset(name: str) -> dict[str, Any]:
    """A preset's keys; every preset but ``balanced`` is written over ``balanced`` (it changes
    the weights and the settings its policy stream cares about and keeps the rest)."""
    text = resources.files("eicgeo.presets").joinpath(f"{name}.toml").read_text(encoding="utf-8")
    own = tomllib.loads(text)
    return own if name == "balanced" else _deep_merge(_preset("balanced"), own)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


_SECTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "grid": {"crs": str, "resolution": (int, float), "bounds": list, "bounds_crs": str},
    "inputs": {
        "landcover": str,
        "legend": str,
        "population": str,
        "roads": str,
        "sources": str,
        "firms": str,
        "dem": str,
        "materials": str,
        "synergies": str,
        "sectors": str,
    },
    "roads": {"offroad_kph": (int, float), "main_roads": list, "speeds": dict, "snap_m": (int, float)},
    "fringe": {
        "method": str,
        "band_km": (int, float),
        "cell_m": (int, float),
        "radius_m": (int, float),
        "urban_share": (int, float),
        "fringe_share": (int, float),
        "band_minutes": (int, float),
        "breakpoint": bool,
        "green_distance_m": (int, float),
        "rules": dict,
    },
    "mcda": {
        "method": str,
        "order_weights": list,
        "alpha": (int, float),
        "gamma": (int, float),
        "ahp": dict,
        "monte_carlo": int,
        "monte_carlo_seed": int,
        "monte_carlo_spread": (int, float),
        "monte_carlo_concentration": (int, float),
    },
    "constraints": {
        "exclude_roles": list,
        "residential_buffer_m": (int, float),
        "slope_max_deg": (int, float),
        "layers": list,
        "protect_green_space": bool,
    },
    "symbiosis": {
        "max_km": (int, float),
        "detour": (int, float),
        "kinds": list,
        "transport_kg_per_tkm": (int, float),
        "co2_factors": dict,
    },
    "clustering": {
        "method": str,
        "min_cluster_size": int,
        "eps_m": (int, float),
        "min_samples": int,
        "hull_buffer_m": (int, float),
        "link_scale_t": (int, float),
    },
    "zones": {
        "n": int,
        "quantile": (int, float),
        "min_area_ha": (int, float),
        "max_area_ha": (int, float),
        "cluster_buffer_m": (int, float),
        "score_weights": dict,
        "min_spacing_km": (int, float),
        "compactness": (int, float),
        "stability_runs": int,
        "stability_concentration": (int, float),
        "stability_seed": int,
        "top_k": int,
    },
}
_TOP = {"name": str, "preset": str, "description": str}


def _type_ok(value: Any, expected: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool) and expected in ((int, float), int):
        return False
    return isinstance(value, expected)


def _type_name(expected: type | tuple[type, ...]) -> str:
    if isinstance(expected, tuple):
        return "a number" if expected == (int, float) else " or ".join(t.__name__ for t in expected)
    return {"str": "a string", "int": "an integer", "list": "a list", "dict": "a table", "bool": "true or false"}.get(
        expected.__name__, expected.__name__
    )


def _build(data: dict[str, Any], base: Path, problems: list[tuple[str, str]], *, check_files: bool) -> Scenario:
    known = {*_TOP, *_SECTIONS, "criteria"}
    for key in data:
        if key not in known:
            problems.append((key, f"unknown key{did_you_mean(key, known)}"))
    for key, expected in _TOP.items():
        if key in data and not _type_ok(data[key], expected):
            problems.append((key, f"expected {_type_name(expected)}, got {data[key]!r}"))
    sections: dict[str, dict[str, Any]] = {}
    for section, schema in _SECTIONS.items():
        raw = data.get(section, {})
        if not isinstance(raw, dict):
            problems.append((section, f"expected a table [{section}], got {raw!r}"))
            raw = {}
        for key, value in raw.items():
            where = f"{section}.{key}"
            if key not in schema:
                problems.append((where, f"unknown key{did_you_mean(key, schema)}"))
            elif not _type_ok(value, schema[key]):
                problems.append((where, f"expected {_type_name(schema[key])}, got {value!r}"))
        sections[section] = {k: v for k, v in raw.items() if k in schema and _type_ok(v, schema[k])}

    s = Scenario(name=str(data.get("name", "scenario")), description=str(data.get("description", "")), base_dir=base)
    _grid(s, sections["grid"], problems)
    _inputs(s, sections["inputs"], base, problems, check_files)
    s.roads_settings = sections["roads"]
    s.fringe = sections["fringe"]
    s.mcda = sections["mcda"]
    s.constraints = sections["constraints"]
    s.symbiosis = sections["symbiosis"]
    s.clustering = sections["clustering"]
    s.zones = sections["zones"]
    _check_settings(s, problems)
    _constraints(s, base, problems, check_files)
    _check_tables(s, problems)
    known = _vocabulary(s, problems, check_files)
    s.criteria = _criteria(data.get("criteria", {}), base, problems, check_files, known)
    _check_weights(s, problems)
    _check_order_weights(s, problems)
    return s


def _grid(s: Scenario, grid: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    from eicgeo._errors import CRSError
    from eicgeo._validate import check_crs

    s.crs = grid.get("crs", "auto")
    if s.crs.lower() != "auto":
        try:
            crs = check_crs(s.crs, "grid.crs")
            if not crs.is_projected:
                problems.append(("grid.crs", f"{s.crs!r} is geographic; expected a projected CRS in metres or 'auto'"))
        except CRSError:
            problems.append(("grid.crs", f"cannot parse CRS {s.crs!r}; expected 'auto', 'EPSG:XXXX' or WKT"))
    s.resolution = float(grid.get("resolution", 100.0))
    if s.resolution <= 0:
        problems.append(("grid.resolution", f"must be > 0 metres, got {s.resolution:g}"))
    if "bounds" in grid:
        b = grid["bounds"]
        if len(b) != 4 or not all(isinstance(v, int | float) for v in b) or not (b[0] < b[2] and b[1] < b[3]):
            problems.append(
                ("grid.bounds", f"expected [xmin, ymin, xmax, ymax] with xmin < xmax and ymin < ymax, got {b!r}")
            )
        else:
            s.bounds = tuple(float(v) for v in b)  # type: ignore[assignment]
    s.bounds_crs = grid.get("bounds_crs")
    if s.bounds_crs is not None:
        try:
            check_crs(s.bounds_crs, "grid.bounds_crs")
        except CRSError:
            problems.append(("grid.bounds_crs", f"cannot parse CRS {s.bounds_crs!r}; expected 'EPSG:XXXX' or WKT"))


def _inputs(
    s: Scenario, inputs: dict[str, Any], base: Path, problems: list[tuple[str, str]], check_files: bool
) -> None:
    from eicgeo.legends import get_legend

    for key in _INPUT_KEYS:
        if key not in inputs:
            continue
        path = Path(inputs[key]).expanduser()
        path = path if path.is_absolute() else base / path
        if check_files and not path.is_file():
            problems.append((f"inputs.{key}", f"file {str(path)!r} does not exist"))
        setattr(s, key, path)
    s.legend = inputs.get("legend", "esa_worldcover")
    legend_path = Path(s.legend)
    if s.legend.lower().endswith(".csv") and not legend_path.is_absolute():
        s.legend = str(base / legend_path)
    try:
        if check_files or not s.legend.lower().endswith(".csv"):
            get_legend(s.legend)
    except (ValueError, OSError) as err:
        problems.append(("inputs.legend", str(err)))
    if s.landcover is None:
        problems.append(("inputs.landcover", "missing; a land-cover raster is required (it defines the study area)"))


def _vocabulary(s: Scenario, problems: list[tuple[str, str]], check_files: bool) -> set[str]:
    """Material names the scenario may use: the vocabulary plus its own materials table."""
    from eicgeo.materials import MATERIALS, read_extension

    names = set(MATERIALS)
    tables = {k: getattr(s, k) for k in ("materials", "synergies", "sectors") if getattr(s, k) is not None}
    if check_files and tables and all(p.is_file() for p in tables.values()):  # a missing file: see _inputs
        try:
            names |= set(read_extension(**tables).materials)
        except ValueError as err:
            key = next((k for k in tables if str(err).startswith(k)), next(iter(tables)))
            problems.append((f"inputs.{key}", str(err)))
    for material, value in s.symbiosis.get("co2_factors", {}).items():
        where = f"symbiosis.co2_factors.{material}"
        if material not in names:
            problems.append((where, f"unknown material{did_you_mean(material, names)}"))
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            problems.append((where, f"expected a number >= 0 (t CO2 per unit), got {value!r}"))
    return names


def _criteria(
    raw: Any, base: Path, problems: list[tuple[str, str]], check_files: bool, names: set[str] | None = None
) -> dict[str, Criterion]:
    from eicgeo.materials import MATERIALS

    names = names if names is not None else set(MATERIALS)
    from eicgeo.mcda import STANDARDIZERS

    if not isinstance(raw, dict):
        problems.append(("criteria", f"expected tables [criteria.NAME], got {raw!r}"))
        return {}
    out: dict[str, Criterion] = {}
    for name, spec in raw.items():
        where = f"criteria.{name}"
        if not isinstance(spec, dict):
            problems.append((where, f"expected a table, got {spec!r}"))
            continue
        is_user_raster = "raster" in spec
        base_name, _, material = name.partition(":")
        if not is_user_raster and base_name not in CRITERIA:
            problems.append(
                (where, f'unknown criterion{did_you_mean(name, CRITERIA)}; a user raster needs raster = "path"')
            )
            continue
        if material and base_name != "material_access":
            problems.append((where, "only material_access takes a ':material' suffix"))
            continue
        if material and material not in names:
            problems.append((where, f"unknown material {material!r}{did_you_mean(material, names)}"))
            continue
        c = Criterion(name=name)
        for key, value in spec.items():
            kwhere = f"{where}.{key}"
            if key == "weight":
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    problems.append((kwhere, f"expected a number >= 0, got {value!r}"))
                else:
                    c.weight = float(value)
            elif key == "enabled":
                if not isinstance(value, bool):
                    problems.append((kwhere, f"expected true or false, got {value!r}"))
                else:
                    c.enabled = value
            elif key == "fn":
                if value not in STANDARDIZERS:
                    problems.append(
                        (
                            kwhere,
                            f"unknown function {value!r}; expected one of {', '.join(STANDARDIZERS)}"
                            f"{did_you_mean(str(value), STANDARDIZERS)}",
                        )
                    )
                else:
                    c.fn = value
            elif key == "raster":
                path = Path(str(value)).expanduser()
                path = path if path.is_absolute() else base / path
                if check_files and not path.is_file():
                    problems.append((kwhere, f"file {str(path)!r} does not exist"))
                c.raster = path
            elif key == "materials" and base_name == "material_access":
                if not isinstance(value, list):
                    problems.append((kwhere, f"expected a list of material names, got {value!r}"))
                    continue
                for m in value:
                    if m not in names:
                        problems.append((kwhere, f"unknown material {m!r}{did_you_mean(str(m), names)}"))
                c.materials = [str(m) for m in value]
            elif key in _FN_PARAMS:
                c.params[key] = value
            else:
                problems.append(
                    (
                        kwhere,
                        f"unknown key{did_you_mean(key, [*_CRITERION_KEYS, *_FN_PARAMS])}",
                    )
                )
        if name == "landcover":
            scores = {**_ROLE_SCORES, **c.params.get("scores", {})}
            from eicgeo.legends import ROLES

            for role in scores:
                if role not in ROLES:
                    problems.append((f"{where}.scores.{role}", f"unknown role{did_you_mean(role, ROLES)}"))
            c.params["scores"] = scores
        if is_user_raster and c.fn is None:
            problems.append((f"{where}.fn", "a user raster criterion needs fn (and its parameters) to standardise it"))
        if c.fn is not None:
            _check_fn_params(c, where, problems)
        out[name] = c
    return out


def _check_fn_params(c: Criterion, where: str, problems: list[tuple[str, str]]) -> None:
    import numpy as np
    import xarray as xr

    from eicgeo.mcda import standardize

    try:
        params = {k: v for k, v in c.params.items() if not (c.name == "landcover" and k == "scores")}
        standardize(xr.DataArray(np.zeros((1, 1))), c.fn, **params)  # type: ignore[arg-type]
    except ValueError as err:
        problems.append((where, str(err)))


def _check_settings(s: Scenario, problems: list[tuple[str, str]]) -> None:
    from eicgeo.legends import ROLES
    from eicgeo.mcda import STANDARDIZERS  # noqa: F401  (import check only)

    for role in s.constraints.get("exclude_roles", []):
        if role not in ROLES:
            problems.append(("constraints.exclude_roles", f"unknown role {role!r}{did_you_mean(str(role), ROLES)}"))
    method = s.fringe.get("method", "auto")
    if method not in ("auto", "degurba", "landcover"):
        problems.append(("fringe.method", f"expected 'auto', 'degurba' or 'landcover', got {method!r}"))
    for key in ("band_km", "band_minutes", "green_distance_m"):
        if key in s.fringe and s.fringe[key] < 0:
            problems.append((f"fringe.{key}", f"must be >= 0, got {s.fringe[key]!r}"))
    from eicgeo.fringe import DEGURBA_RULES

    for key, value in s.fringe.get("rules", {}).items():
        if key not in DEGURBA_RULES:
            problems.append((f"fringe.rules.{key}", f"unknown rule{did_you_mean(key, DEGURBA_RULES)}"))
        elif not _type_ok(value, (int, float)):
            problems.append((f"fringe.rules.{key}", f"expected a number, got {value!r}"))
    from eicgeo.mcda import COMBINE_METHODS

    method = s.mcda.get("method", "wlc")
    if method not in COMBINE_METHODS:
        expected = ", ".join(map(repr, COMBINE_METHODS))
        problems.append(
            ("mcda.method", f"expected one of {expected}, got {method!r}{did_you_mean(method, COMBINE_METHODS)}")
        )
    if "alpha" in s.mcda and not s.mcda["alpha"] > 0:
        problems.append(
            ("mcda.alpha", f"must be > 0 (1 = WLC, < 1 towards OR, > 1 towards AND), got {s.mcda['alpha']!r}")
        )
    if not 0 <= s.mcda.get("gamma", 0.9) <= 1:
        problems.append(("mcda.gamma", f"expected a number in 0..1, got {s.mcda['gamma']!r}"))
    if not 0 <= s.mcda.get("monte_carlo_spread", 0) < 1:
        problems.append(
            ("mcda.monte_carlo_spread", f"expected a fraction in [0, 1), got {s.mcda['monte_carlo_spread']!r}")
        )
    if s.mcda.get("monte_carlo_concentration", 1) <= 0:
        problems.append(("mcda.monte_carlo_concentration", f"must be > 0, got {s.mcda['monte_carlo_concentration']!r}"))
    if s.clustering.get("method", "hdbscan") not in ("hdbscan", "dbscan"):
        problems.append(("clustering.method", f"expected 'hdbscan' or 'dbscan', got {s.clustering.get('method')!r}"))
    q = s.zones.get("quantile", 0.85)
    if not 0 <= q < 1:
        problems.append(("zones.quantile", f"expected a number in [0, 1), got {q!r}"))
    _check_zones(s.zones, problems)
    for key in ("max_km", "detour"):
        if key in s.symbiosis and s.symbiosis[key] <= 0:
            problems.append((f"symbiosis.{key}", f"must be > 0, got {s.symbiosis[key]!r}"))
    if s.roads_settings.get("offroad_kph", 10) <= 0:
        problems.append(("roads.offroad_kph", f"must be > 0, got {s.roads_settings['offroad_kph']!r}"))


_LAYER_KEYS = ("path", "reason", "all_touched")


def _constraints(s: Scenario, base: Path, problems: list[tuple[str, str]], check_files: bool) -> None:
    """Check ``[constraints]``; resolve the user layers' paths against the scenario folder."""
    from eicgeo.io import RASTER_SUFFIXES, VECTOR_SUFFIXES

    c = s.constraints
    if c.get("residential_buffer_m", 0) < 0:
        problems.append(("constraints.residential_buffer_m", f"must be >= 0 metres, got {c['residential_buffer_m']!r}"))
    if "slope_max_deg" in c:
        if not 0 < c["slope_max_deg"] < 90:
            problems.append(("constraints.slope_max_deg", f"expected degrees in (0, 90), got {c['slope_max_deg']!r}"))
        if s.dem is None:
            problems.append(("constraints.slope_max_deg", "needs inputs.dem, an elevation raster in metres"))
    layers = []
    for i, spec in enumerate(c.get("layers", [])):
        where = f"constraints.layers[{i}]"
        if not isinstance(spec, dict):
            problems.append((where, f'expected a table {{path = "...", reason = "..."}}, got {spec!r}'))
            continue
        for key in spec:
            if key not in _LAYER_KEYS:
                problems.append((f"{where}.{key}", f"unknown key{did_you_mean(key, _LAYER_KEYS)}"))
        reason = spec.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            problems.append((f"{where}.reason", f"expected a reason name such as 'flood zone', got {reason!r}"))
        if not isinstance(spec.get("all_touched", False), bool):
            problems.append((f"{where}.all_touched", f"expected true or false, got {spec['all_touched']!r}"))
        if not isinstance(spec.get("path"), str):
            problems.append(
                (f"{where}.path", f"expected the path of a raster or vector file, got {spec.get('path')!r}")
            )
            continue
        path = Path(spec["path"]).expanduser()
        path = path if path.is_absolute() else base / path
        if not path.name.lower().endswith((*RASTER_SUFFIXES, *VECTOR_SUFFIXES)):
            problems.append(
                (
                    f"{where}.path",
                    f"{str(path)!r} is neither a raster ({', '.join(RASTER_SUFFIXES)}) "
                    f"nor a vector file ({', '.join(VECTOR_SUFFIXES)})",
                )
            )
        elif check_files and not path.is_file():
            problems.append((f"{where}.path", f"file {str(path)!r} does not exist"))
        layers.append({**spec, "path": path})
    if "layers" in c:
        c["layers"] = layers


def _check_zones(zones: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    from eicgeo.zones import SCORE_INDICATORS

    for key, least, strict in (
        ("n", 1, False),
        ("top_k", 1, False),
        ("min_area_ha", 0, True),
        ("max_area_ha", 0, True),
        ("min_spacing_km", 0, False),
        ("compactness", 0, False),
        ("stability_runs", 0, False),
        ("stability_concentration", 0, True),
        ("cluster_buffer_m", 0, False),
    ):
        value = zones.get(key)
        if value is not None and (value <= least if strict else value < least):
            problems.append((f"zones.{key}", f"must be {'>' if strict else '>='} {least}, got {value!r}"))
    smallest, largest = zones.get("min_area_ha", 50.0), zones.get("max_area_ha", 1000.0)
    if largest < smallest:
        problems.append(("zones.max_area_ha", f"must be >= zones.min_area_ha ({smallest!r}), got {largest!r}"))
    for key, value in zones.get("score_weights", {}).items():
        where = f"zones.score_weights.{key}"
        if key not in SCORE_INDICATORS:
            problems.append(
                (
                    where,
                    f"unknown indicator; expected one of {', '.join(SCORE_INDICATORS)}"
                    f"{did_you_mean(key, SCORE_INDICATORS)}",
                )
            )
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            problems.append((where, f"expected a number >= 0, got {value!r}"))


def _check_tables(s: Scenario, problems: list[tuple[str, str]]) -> None:
    """The contents of lists and nested tables, which the key-type check cannot see."""
    from eicgeo.materials import MATERIALS
    from eicgeo.roads import DRIVABLE

    for cls in s.roads_settings.get("main_roads", []):
        if cls not in DRIVABLE:
            problems.append(("roads.main_roads", f"unknown highway class {cls!r}{did_you_mean(str(cls), DRIVABLE)}"))
    for cls, kph in s.roads_settings.get("speeds", {}).items():
        where = f"roads.speeds.{cls}"
        if cls not in DRIVABLE:
            problems.append((where, f"unknown highway class{did_you_mean(cls, DRIVABLE)}"))
        elif not _type_ok(kph, (int, float)) or kph <= 0:
            problems.append((where, f"expected a speed in km/h > 0, got {kph!r}"))
    kinds = sorted({m.kind for m in MATERIALS.values()})
    for kind in s.symbiosis.get("kinds", []):
        if kind not in kinds:
            problems.append(("symbiosis.kinds", f"unknown material kind {kind!r}; expected some of {', '.join(kinds)}"))
    for section, key, low in (("mcda", "monte_carlo", 0), ("clustering", "min_cluster_size", 2)):
        value = getattr(s, section).get(key)
        if value is not None and value < low:
            problems.append((f"{section}.{key}", f"must be >= {low}, got {value!r}"))


def _check_order_weights(s: Scenario, problems: list[tuple[str, str]]) -> None:
    """OWA needs one order weight per weighted criterion (the weights resolve only then)."""
    order = s.mcda.get("order_weights")
    if order is None or s.mcda.get("method", "wlc") != "owa":
        return
    labels = s.mcda.get("ahp", {}).get("labels")
    weighted = sum(1 for c in s.criteria.values() if c.enabled and c.weight > 0)
    n = len(labels) if isinstance(labels, list) else weighted
    if len(order) != n or not all(_type_ok(v, (int, float)) and v >= 0 for v in order) or sum(order) <= 0:
        problems.append(
            (
                "mcda.order_weights",
                f"expected {n} numbers >= 0 (one per weighted criterion) with a sum > 0, got {order!r}",
            )
        )


def _check_weights(s: Scenario, problems: list[tuple[str, str]]) -> None:
    ahp = s.mcda.get("ahp")
    if ahp:
        labels, matrix = ahp.get("labels"), ahp.get("matrix")
        for key in ahp:
            if key not in ("labels", "matrix", "on_inconsistent"):
                problems.append((f"mcda.ahp.{key}", "unknown key; expected labels, matrix and on_inconsistent"))
        if not isinstance(labels, list) or not isinstance(matrix, list):
            problems.append(("mcda.ahp", "expected labels = [...] and matrix = [[...], ...]"))
            return
        for label in labels:
            if label not in s.criteria:
                problems.append(
                    ("mcda.ahp.labels", f"criterion {label!r} is not defined{did_you_mean(str(label), s.criteria)}")
                )
            elif not s.criteria[label].enabled:
                problems.append(("mcda.ahp.labels", f"criterion {label!r} has enabled = false"))
        if len(set(map(str, labels))) != len(labels):
            problems.append(("mcda.ahp.labels", f"a criterion is named twice in {labels!r}"))
        from eicgeo.mcda import ahp_weights

        on_inconsistent = ahp.get("on_inconsistent", "raise")
        if on_inconsistent not in ("raise", "warn"):
            problems.append(("mcda.ahp.on_inconsistent", f"expected 'raise' or 'warn', got {on_inconsistent!r}"))
        try:
            result = ahp_weights(matrix, labels, on_inconsistent="ignore")
        except ValueError as err:
            problems.append(("mcda.ahp.matrix", str(err)))
            return
        if not result.consistent and on_inconsistent != "warn":
            problems.append(("mcda.ahp.matrix", result.inconsistency_message().removeprefix("AHP ")))
        return
    if not any(c.enabled and c.weight > 0 for c in s.criteria.values()):
        problems.append(("criteria", "no criterion has a weight > 0"))
