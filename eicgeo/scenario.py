"""Scenarios: what to read, which criteria to use with which weights, and every stage's settings.

A scenario is a TOML file or a Python mapping; both are validated the same way and every
problem is reported at once with its dotted key path and, for a misspelt key or choice, the
closest known one. The settings of each stage are declared once, in :mod:`eicgeo.settings`
(types, defaults, bounds, units); this module merges a preset under the file's own keys, turns
pydantic's findings into key-path messages, and adds the domain checks a schema cannot make:
files, CRS, highway classes, land-cover roles, materials, criterion names and standardisation
parameters, AHP consistency and OWA order weights.

A scenario starts from a preset (``balanced`` by default, shipped in ``eicgeo/presets/``); the
file's own keys override the preset's. Relative input paths resolve against the scenario
file's folder. :meth:`Scenario.to_dict` is the fully resolved scenario, every default
included: ``manifest.json`` holds it, and ``eicgeo run manifest.json`` runs it again.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from eicgeo import _checks
from eicgeo._errors import ScenarioError
from eicgeo._validate import did_you_mean
from eicgeo.settings import (
    SECTIONS,
    ClusteringSettings,
    ComputeSettings,
    ConstraintSettings,
    Criterion,
    FringeSettings,
    GridSettings,
    Header,
    InputSettings,
    MCDASettings,
    RoadSettings,
    Settings,
    SymbiosisSettings,
    ZoneSettings,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["PRESETS", "Criterion", "Scenario", "read_scenario"]

#: Presets shipped with the package: one TOML file each in ``eicgeo/presets/`` (documented in
#: ``docs/scenario.md``).
PRESETS: tuple[str, ...] = tuple(
    sorted(p.name[: -len(".toml")] for p in resources.files("eicgeo.presets").iterdir() if p.name.endswith(".toml"))
)
DEFAULT_PRESET: str = Header.model_fields["preset"].default
_TOP = tuple(Header.model_fields)
_INPUT_KEYS = tuple(k for k in InputSettings.model_fields if k != "legend")


class Scenario(Header):
    """A validated scenario: one settings object per stage (see :mod:`eicgeo.settings`).

    Build it with :func:`read_scenario` or :meth:`from_dict`, which check everything; a
    scenario is frozen (:meth:`replace` gives a changed, re-validated copy).

    Examples
    --------
    >>> data = {"inputs": {"landcover": "lc.tif"}, "criteria": {"road_access": {"weight": 2}}}
    >>> s = Scenario.from_dict(data, check_files=False)
    >>> s.weights()["road_access"] > s.weights()["landcover"]
    True
    >>> s.zones.min_spacing_km, s.grid.resolution
    (1.0, 100.0)
    """

    grid: GridSettings = GridSettings()
    inputs: InputSettings
    roads: RoadSettings = RoadSettings()
    fringe: FringeSettings = FringeSettings()
    criteria: dict[str, Criterion] = Field(default_factory=dict)
    mcda: MCDASettings = MCDASettings()
    constraints: ConstraintSettings = ConstraintSettings()
    symbiosis: SymbiosisSettings = SymbiosisSettings()
    clustering: ClusteringSettings = ClusteringSettings()
    zones: ZoneSettings = ZoneSettings()
    compute: ComputeSettings = ComputeSettings()

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source_file: Path | None = PrivateAttr(default=None)
    _overrides: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        """The folder relative paths resolved against."""
        return self._base_dir

    @property
    def source_file(self) -> Path | None:
        """The scenario file, when read from one."""
        return self._source_file

    @property
    def overrides(self) -> dict[str, Any]:
        """The scenario's own keys, before its preset was merged under them."""
        return copy.deepcopy(self._overrides)

    # ---------------------------------------------------------------------------------------
    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        base_dir: str | Path | None = None,
        source_file: str | Path | None = None,
        check_files: bool = True,
    ) -> Scenario:
        """Validate a scenario mapping (as read from TOML) over its preset.

        Raises
        ------
        ScenarioError
            Listing every problem, each with its dotted key path.
        """
        data = dict(data)
        problems: list[tuple[str, str]] = []
        preset = data.get("preset", DEFAULT_PRESET)
        if not isinstance(preset, str) or preset not in PRESETS:
            problems.append(
                (
                    "preset",
                    f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}"
                    f"{did_you_mean(str(preset), PRESETS)}",
                )
            )
            preset = DEFAULT_PRESET
        merged = _deep_merge(preset_keys(preset), data)
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        scenario = _build(merged, base, problems, check_files=check_files)
        if problems:
            raise ScenarioError(problems, str(source_file) if source_file else None)
        assert scenario is not None
        scenario._base_dir = base
        scenario._source_file = Path(source_file) if source_file else None
        scenario._overrides = copy.deepcopy(data)
        return scenario

    def replace(self, *, without: tuple[str, ...] | list[str] = (), **changes: Any) -> Scenario:
        """A copy with some keys changed, re-validated over the preset.

        Keys are inputs (``landcover=...``, ``legend=...``), grid keys (``resolution``, ``crs``,
        ``bounds``, ``bounds_crs``), ``name``, ``preset`` and ``description``, or a section
        with a table of its keys (``zones={"n": 5}``), merged over the scenario's own. A value
        of None leaves a key as it is; ``without`` names inputs to drop (``without=["roads"]``).
        ``preset`` swaps the preset under the scenario's own keys, which still override it.
        """
        data = self.overrides or self.to_dict()
        for key in without:
            if key not in _INPUT_KEYS:
                msg = f"Scenario.replace: without names {key!r}, which is not an optional input"
                raise ScenarioError([("without", msg)])
            data.get("inputs", {}).pop(key, None)
        for key, value in changes.items():
            if value is None:
                continue
            if key in (*_INPUT_KEYS, "legend"):
                data.setdefault("inputs", {})[key] = str(Path(value).resolve()) if key != "legend" else value
            elif key in GridSettings.model_fields:
                data.setdefault("grid", {})[key] = value
            elif key in _TOP:
                data[key] = value
            elif key in SECTIONS and isinstance(value, Mapping):
                data[key] = _deep_merge(data.get(key, {}), dict(value))
            else:
                msg = f"Scenario.replace got unknown key {key!r}"
                raise ScenarioError([(key, msg)])
        return Scenario.from_dict(data, base_dir=self.base_dir, source_file=self.source_file)

    def weights(self) -> dict[str, float]:
        """Criterion weights as given (not yet normalised), enabled criteria only."""
        ahp = self.mcda.ahp
        if ahp is not None:
            from eicgeo.mcda import ahp_weights

            matrix = [list(row) for row in ahp.matrix]
            return ahp_weights(matrix, list(ahp.labels), on_inconsistent=ahp.on_inconsistent).weights
        return {name: c.weight for name, c in self.criteria.items() if c.enabled and c.weight > 0}

    def input_paths(self) -> list[Path]:
        """Every file the scenario reads: itself, its inputs, user criteria and constraint layers
        (an output folder must never replace them)."""
        paths = [self.source_file] if self.source_file else []
        paths += [getattr(self.inputs, key) for key in _INPUT_KEYS if getattr(self.inputs, key) is not None]
        paths += [c.raster for c in self.criteria.values() if c.raster is not None]
        paths += [layer.path for layer in self.constraints.layers]
        if self.inputs.legend.lower().endswith(".csv"):
            paths.append(Path(self.inputs.legend))
        return [Path(p) for p in paths]

    def to_dict(self, *, nulls: bool = False) -> dict[str, Any]:
        """The fully resolved scenario as plain data, paths absolute.

        Every setting is there, defaults included: each criterion's standardisation as it will
        be applied (``fn`` and its parameters), and the full speed, Degree-of-Urbanisation and
        zone-score tables. ``Scenario.from_dict(s.to_dict())`` gives the same scenario, and
        ``manifest.json`` (which holds it, ``nulls=True``) can be run again. Without ``nulls``
        the unset keys are left out, as TOML has no null.
        """
        from eicgeo.criteria import REGISTRY, standardisation
        from eicgeo.fringe import DEGURBA_RULES
        from eicgeo.roads import DEFAULT_SPEEDS_KPH

        data = self.model_dump(mode="json", exclude_none=not nulls)
        # A criterion lists the keys that apply to it, not a null for every other parameter.
        data["criteria"] = {k: {kk: vv for kk, vv in v.items() if vv is not None} for k, v in data["criteria"].items()}
        for name, c in self.criteria.items():
            spec = REGISTRY.get(name.split(":")[0])
            if spec is not None and spec.name == "symbiosis_potential" and c.fn is None:
                continue  # its default runs to the largest value in the region
            fn, params = standardisation(name, c)
            if fn is not None:
                params = {k: [list(p) for p in v] if k == "points" else v for k, v in params.items()}
                data["criteria"][name].update({"fn": fn, **params})
        data["roads"]["speeds"] = {**DEFAULT_SPEEDS_KPH, **self.roads.speeds}
        data["fringe"]["rules"] = {**DEGURBA_RULES, **self.fringe.rules}
        data["zones"]["score_weights"] = self.zones.score_table()
        return data


def read_scenario(path: str | Path, *, check_files: bool = True, preset: str | None = None) -> Scenario:
    """Read and validate a scenario TOML file, or the scenario of a run's ``manifest.json``.

    Parameters
    ----------
    path : path
        The TOML file (relative input paths in it resolve against its folder), or the
        ``manifest.json`` of an output folder: its resolved scenario reproduces that run.
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
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError([("scenario", f"cannot be read as UTF-8 text: {err}")], str(path)) from err
    if path.suffix.lower() == ".json":
        data = _manifest_scenario(text, path)
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ScenarioError([("scenario", f"not valid TOML: {err}")], str(path)) from err
    if preset is not None:
        data["preset"] = preset
    return Scenario.from_dict(data, base_dir=path.parent.resolve(), source_file=path, check_files=check_files)


def _manifest_scenario(text: str, path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(text)
    except ValueError as err:
        raise ScenarioError([("scenario", f"not valid JSON: {err}")], str(path)) from err
    scenario = manifest.get("scenario") if isinstance(manifest, dict) else None
    if not isinstance(scenario, dict) or "eicgeo" not in manifest:
        msg = "expected the manifest.json of an eicgeo output folder, with its resolved 'scenario'"
        raise ScenarioError([("scenario", msg)], str(path))
    return scenario


# --------------------------------------------------------------------------------------------
def preset_keys(name: str) -> dict[str, Any]:
    """A preset's keys; every preset but ``balanced`` is written over ``balanced`` (it changes
    the weights and the settings its policy stream cares about and keeps the rest)."""
    text = resources.files("eicgeo.presets").joinpath(f"{name}.toml").read_text(encoding="utf-8")
    own = tomllib.loads(text)
    return own if name == DEFAULT_PRESET else _deep_merge(preset_keys(DEFAULT_PRESET), own)


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _build(data: dict[str, Any], base: Path, problems: list[tuple[str, str]], *, check_files: bool) -> Scenario | None:
    """Validate every section and criterion, then the domain checks over those that passed."""
    known = {*_TOP, *SECTIONS}
    for key in data:
        if key not in known:
            problems.append((key, f"unknown key{did_you_mean(key, known)}"))
    for key in _TOP:
        if key in data and not isinstance(data[key], str):
            problems.append((key, f"expected a string, got {data[key]!r}"))
    context = {"base_dir": base}
    sections: dict[str, Settings] = {}
    for key, model in SECTIONS.items():
        if key == "criteria":
            continue
        raw = data.get(key, {})
        try:
            sections[key] = model.model_validate(raw, context=context)
        except ValidationError as err:
            problems.extend(_translate(err, key, model))
            partial = _without_errors(model, raw, err, context)
            if partial is not None:  # the domain checks still see the keys that are right
                sections[key] = partial
    criteria: dict[str, Criterion] = {}
    raw_criteria = data.get("criteria", {})
    if not isinstance(raw_criteria, Mapping):
        problems.append(("criteria", f"expected tables [criteria.NAME], got {raw_criteria!r}"))
        raw_criteria = {}
    for name, spec in raw_criteria.items():
        try:
            criteria[name] = Criterion.model_validate(spec, context=context)
        except ValidationError as err:
            problems.extend(_translate(err, f"criteria.{name}", Criterion))
            partial = _without_errors(Criterion, spec, err, context)
            if partial is not None:  # still defined, for the checks that name it
                criteria[name] = partial
    _checks.domain(sections, criteria, problems, check_files=check_files)
    if problems:
        return None
    top = {k: data[k] for k in _TOP if k in data}
    return Scenario(**top, **sections, criteria=criteria)


def _without_errors(model: type[Settings], raw: Any, err: ValidationError, context: dict[str, Any]) -> Settings | None:
    """The section with its wrong keys left at their defaults, or None when that fails too."""
    if not isinstance(raw, Mapping):
        return None
    kept = dict(raw)
    for e in err.errors():
        loc = e["loc"]
        if not loc or loc[0] not in kept:
            continue
        inner = kept[loc[0]]
        if len(loc) >= 2 and isinstance(inner, Mapping) and loc[1] in inner:  # one entry of a table
            kept[loc[0]] = {k: v for k, v in inner.items() if k != loc[1]}
        else:
            del kept[loc[0]]
    try:
        return model.model_validate(kept, context=context)
    except ValidationError:
        return None


# --------------------------------------------------------------------------------------------
# pydantic's findings as key-path messages
# --------------------------------------------------------------------------------------------
_EXPECTED = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "int_parsing": "an integer",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}
_BOUNDS = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}


def _key(prefix: str, loc: tuple[Any, ...]) -> str:
    key = prefix
    for part in loc:
        key = f"{key}[{part}]" if isinstance(part, int) else f"{key}.{part}" if key else str(part)
    return key


def _field(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Any, bool]:
    """The field a location names, walking nested tables (``layers[0].reason``), and whether
    the location is the field itself (not an entry of its table or list)."""
    current: Any = model
    info, leaf = None, False
    for part in loc:
        if isinstance(part, int):
            leaf = False
            continue
        if isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            info, leaf = current.model_fields[part], True
            inner = [a for a in _flat_args(info.annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
            current = inner[0] if inner else None
        else:
            leaf = False  # a key of a table such as roads.speeds
    return info, leaf


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the model knows at the level of ``loc``'s last part."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part) if isinstance(current, type) else None
        if info is None:
            return []
        inner = [a for a in _flat_args(info.annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not inner:
            return []
        current = inner[0]
    return list(current.model_fields) if isinstance(current, type) else []


def _flat_args(annotation: Any) -> list[Any]:
    import typing

    out = []
    for arg in typing.get_args(annotation) or (annotation,):
        out.extend(_flat_args(arg) if typing.get_args(arg) else [arg])
    return out


def _interval(info: Any) -> str:
    """``in [0, 1)``, ``>= 0`` ...: every bound a field declares."""
    bounds = {}
    for meta in info.metadata:
        for attr in ("gt", "ge", "lt", "le"):
            if getattr(meta, attr, None) is not None:
                bounds[attr] = getattr(meta, attr)
    low = ("[", bounds["ge"]) if "ge" in bounds else ("(", bounds["gt"]) if "gt" in bounds else None
    high = ("]", bounds["le"]) if "le" in bounds else (")", bounds["lt"]) if "lt" in bounds else None
    if low and high:
        return f"in {low[0]}{low[1]:g}, {high[1]:g}{high[0]}"
    if low:
        return f"{'>=' if low[0] == '[' else '>'} {low[1]:g}"
    if high:
        return f"{'<=' if high[0] == ']' else '<'} {high[1]:g}"
    return ""


def _is_union(annotation: Any) -> bool:
    """A union of two or more types besides None (``float | str | None``)."""
    import types
    import typing

    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return False
    return len([a for a in typing.get_args(annotation) if a is not type(None)]) > 1


def _without_union_tags(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``loc`` without the member tags pydantic puts after a union field (``high.float``)."""
    out: list[Any] = []
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            if isinstance(part, str) and part in current.model_fields:
                out.append(part)
                info = current.model_fields[part]
                inner = [a for a in _flat_args(info.annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
                union = _is_union(info.annotation)
                current = inner[0] if inner else ("union" if union else None)
                continue
            if isinstance(part, int):
                out.append(part)
                continue
        if current == "union" and isinstance(part, str):
            continue  # a member tag: float, constrained-str, ...
        out.append(part)
    return tuple(out)


def _translate(err: ValidationError, prefix: str, model: type[BaseModel]) -> list[tuple[str, str]]:
    out = []
    errors = err.errors(include_url=False)
    by_loc: dict[tuple[Any, ...], set[str]] = {}
    for e in errors:
        by_loc.setdefault(_without_union_tags(model, tuple(e["loc"])), set()).add(e["type"])
    for e in errors:
        loc, kind, value = _without_union_tags(model, tuple(e["loc"])), e["type"], e.get("input")
        if by_loc.get(loc, set()) >= {"float_type", "string_pattern_mismatch"}:
            out.append((_key(prefix, loc), f"expected a number or a percentile such as 'p90', got {value!r}"))
            by_loc[loc] = set()  # once
            continue
        if not by_loc.get(loc, {kind}):
            continue
        key = _key(prefix, loc)
        info, leaf = _field(model, loc)
        unit = (info.json_schema_extra or {}).get("unit", "–") if info is not None else "–"
        unit_text = f" ({unit})" if unit not in ("–", "0..1") else ""
        if kind == "extra_forbidden":
            known = _known_keys(model, loc)
            hint = did_you_mean(str(loc[-1]), known) or (f"; expected one of {', '.join(known)}" if known else "")
            message = f"unknown key{hint}"
        elif kind == "missing" and loc and isinstance(loc[-1], int):
            key = _key(prefix, loc[:-1])
            size = _tuple_size(info.annotation) if info is not None else None
            message = f"expected {size} values" if size else "a value is missing"
            if info is not None:
                message += f": {info.description}"
        elif kind == "missing":
            message = "missing" + (f"; {info.description[0].lower()}{info.description[1:]}" if info is not None else "")
            if key == "inputs.landcover":
                message = "missing; a land-cover raster is required (it defines the study area)"
        elif kind == "literal_error":
            expected = e.get("ctx", {}).get("expected", "")
            choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",")]
            message = f"expected one of {expected}, got {value!r}{did_you_mean(str(value), choices)}"
        elif kind in _BOUNDS:
            symbol, attr = _BOUNDS[kind]
            interval = _interval(info) if info is not None and leaf else ""
            bound = e["ctx"][attr]
            what = "an integer" if isinstance(bound, int) and not isinstance(bound, bool) else "a number"
            if interval.startswith("in "):
                message = f"expected {what} {interval}{unit_text}, got {value!r}"
            else:
                message = f"expected {what} {symbol} {e['ctx'][attr]:g}{unit_text}, got {value!r}"
        elif kind == "finite_number":
            message = f"expected a finite number, got {value!r}"
        elif kind in ("too_short", "too_long"):
            message = f"expected {e['ctx'].get('max_length', e['ctx'].get('min_length'))} values, got {value!r}"
        elif kind in ("value_error", "assertion_error"):
            message = str(e["ctx"]["error"])
        elif kind == "string_too_short" or kind == "string_pattern_mismatch":
            message = f"expected a non-empty text, got {value!r}"
        elif kind in _EXPECTED:
            if not loc and kind in ("model_type", "model_attributes_type", "dict_type"):
                message = f"expected a table [{prefix}], got {value!r}"
            else:
                message = f"expected {_EXPECTED[kind]}, got {value!r}"
        else:  # pragma: no cover - every type eicgeo's declarations use is listed above
            message = f"{e['msg']}, got {value!r}"
        if (key, message) not in out:
            out.append((key, message))
    return out


def _tuple_size(annotation: Any) -> int | None:
    """The length of a fixed-length tuple annotation (``bounds``), else None."""
    import typing

    for arg in typing.get_args(annotation) or (annotation,):
        if typing.get_origin(arg) is tuple and Ellipsis not in typing.get_args(arg):
            return len(typing.get_args(arg))
    return None
