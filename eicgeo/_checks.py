"""The domain checks of a scenario: what its schema (:mod:`eicgeo.settings`) cannot say.

Files that must exist, CRS that must parse, names that must be in a vocabulary (highway
classes, land-cover roles, Degree-of-Urbanisation rules, zone-score indicators, material kinds
and materials, criteria), standardisation parameters that must fit their function, and weights
that must resolve (AHP, OWA order weights). Each problem is added with its dotted key path;
the checks of a section that failed its schema are skipped.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eicgeo._errors import CRSError, EicgeoError
from eicgeo._validate import check_crs, did_you_mean
from eicgeo.settings import Criterion, Settings, percentile_of

__all__ = ["domain"]

Problems = list[tuple[str, str]]


def domain(
    sections: Mapping[str, Settings], criteria: Mapping[str, Criterion], problems: Problems, *, check_files: bool
) -> None:
    """Add every domain problem of a scenario's validated ``sections`` and ``criteria``."""
    s: Any = dict(sections)
    if "grid" in s:
        _grid(s["grid"], problems)
    vocab = None
    if "inputs" in s:
        _inputs(s["inputs"], problems, check_files)
        vocab = _vocabulary(s["inputs"], problems, check_files)
    if "roads" in s:
        _roads(s["roads"], problems)
    if "fringe" in s and "inputs" in s and s["fringe"].method == "degurba" and s["inputs"].population is None:
        problems.append(("fringe.method", "'degurba' needs inputs.population, a population raster (people per cell)"))
    if "fringe" in s:
        from eicgeo.fringe import DEGURBA_RULES

        for key in s["fringe"].rules:
            if key not in DEGURBA_RULES:
                problems.append((f"fringe.rules.{key}", f"unknown rule{did_you_mean(key, DEGURBA_RULES)}"))
    if "constraints" in s:
        _constraints(s["constraints"], s.get("inputs"), problems, check_files)
    if "symbiosis" in s:
        _symbiosis(s["symbiosis"], vocab, problems)
    if "zones" in s:
        from eicgeo.zones import SCORE_INDICATORS

        for key in s["zones"].score_weights:
            if key not in SCORE_INDICATORS:
                problems.append(
                    (
                        f"zones.score_weights.{key}",
                        f"unknown indicator; expected one of {', '.join(SCORE_INDICATORS)}"
                        f"{did_you_mean(key, SCORE_INDICATORS)}",
                    )
                )
    _criteria(criteria, vocab, problems, check_files)
    if "mcda" in s:
        _weights(s["mcda"], criteria, problems)


# --------------------------------------------------------------------------------------------
def _crs(value: str, key: str, problems: Problems, *, projected: bool) -> None:
    try:
        crs = check_crs(value, key)
    except CRSError:
        expected = "'auto', 'EPSG:XXXX' or WKT" if projected else "'EPSG:XXXX' or WKT"
        problems.append((key, f"cannot parse CRS {value!r}; expected {expected}"))
        return
    if projected and not crs.is_projected:
        problems.append((key, f"{value!r} is geographic; expected a projected CRS in metres or 'auto'"))


def _grid(grid: Any, problems: Problems) -> None:
    if grid.crs.lower() != "auto":
        _crs(grid.crs, "grid.crs", problems, projected=True)
    if grid.bounds_crs is not None:
        _crs(grid.bounds_crs, "grid.bounds_crs", problems, projected=False)


def _exists(path: Path, key: str, problems: Problems) -> None:
    if path.is_dir():
        problems.append((key, f"{str(path)!r} is a folder; expected a file"))
    elif not path.is_file():
        problems.append((key, f"file {str(path)!r} does not exist"))


def _inputs(inputs: Any, problems: Problems, check_files: bool) -> None:
    from eicgeo.legends import get_legend

    if check_files:
        for key in type(inputs).model_fields:
            value = getattr(inputs, key)
            if key != "legend" and value is not None:
                _exists(value, f"inputs.{key}", problems)
    legend = inputs.legend
    if check_files or not legend.lower().endswith(".csv"):
        try:
            get_legend(legend)
        except (EicgeoError, ValueError, OSError) as err:
            problems.append(("inputs.legend", str(err)))


def _vocabulary(inputs: Any, problems: Problems, check_files: bool) -> Any:
    """The run's vocabulary: the built-in one plus the scenario's tables (when they read)."""
    from eicgeo import materials

    tables = {k: getattr(inputs, k) for k in ("materials", "synergies", "sectors") if getattr(inputs, k) is not None}
    if not tables:
        return materials.BUILTIN
    if not check_files or not all(p.is_file() for p in tables.values()):
        return None  # unknown here (a missing file is a problem of its own)
    try:
        return materials.vocabulary(**tables)
    except EicgeoError as err:
        key = next((k for k in tables if str(err).startswith(k)), next(iter(tables)))
        problems.append((f"inputs.{key}", str(err)))
        return materials.BUILTIN  # the other checks go on against the built-in names


def _roads(roads: Any, problems: Problems) -> None:
    from eicgeo.roads import DRIVABLE

    for cls in roads.main_roads:
        if cls not in DRIVABLE:
            problems.append(("roads.main_roads", f"unknown highway class {cls!r}{did_you_mean(str(cls), DRIVABLE)}"))
    for cls in roads.speeds:
        if cls not in DRIVABLE:
            problems.append((f"roads.speeds.{cls}", f"unknown highway class{did_you_mean(cls, DRIVABLE)}"))


def _constraints(c: Any, inputs: Any, problems: Problems, check_files: bool) -> None:
    from eicgeo.io import RASTER_SUFFIXES, VECTOR_SUFFIXES
    from eicgeo.legends import ROLES

    for role in c.exclude_roles:
        if role not in ROLES:
            problems.append(("constraints.exclude_roles", f"unknown role {role!r}{did_you_mean(str(role), ROLES)}"))
    if c.slope_max_deg is not None and inputs is not None and inputs.dem is None:
        problems.append(("constraints.slope_max_deg", "needs inputs.dem, an elevation raster in metres"))
    for i, layer in enumerate(c.layers):
        key = f"constraints.layers[{i}].path"
        if not layer.path.name.lower().endswith((*RASTER_SUFFIXES, *VECTOR_SUFFIXES)):
            problems.append(
                (
                    key,
                    f"{str(layer.path)!r} is neither a raster ({', '.join(RASTER_SUFFIXES)}) "
                    f"nor a vector file ({', '.join(VECTOR_SUFFIXES)})",
                )
            )
        elif check_files:
            _exists(layer.path, key, problems)


def _symbiosis(symbiosis: Any, vocab: Any, problems: Problems) -> None:
    from eicgeo.materials import KINDS

    for kind in symbiosis.kinds:
        if kind not in KINDS:
            problems.append(("symbiosis.kinds", f"unknown material kind {kind!r}; expected some of {', '.join(KINDS)}"))
    if vocab is None:
        return
    for material in symbiosis.co2_factors:
        if material not in vocab.materials:
            problems.append(
                (f"symbiosis.co2_factors.{material}", f"unknown material{did_you_mean(material, vocab.materials)}")
            )


def _criteria(criteria: Mapping[str, Criterion], vocab: Any, problems: Problems, check_files: bool) -> None:
    from eicgeo.criteria import REGISTRY
    from eicgeo.legends import ROLES

    names = set(vocab.materials) if vocab is not None else None
    for name, c in criteria.items():
        key = f"criteria.{name}"
        base, _, material = name.partition(":")
        user_raster = c.raster is not None
        if not user_raster and base not in REGISTRY:
            problems.append(
                (key, f'unknown criterion{did_you_mean(name, REGISTRY)}; a user raster needs raster = "path"')
            )
            continue
        if material and base != "material_access":
            problems.append((key, "only material_access takes a ':material' suffix"))
            continue
        if material and names is not None and material not in names:
            problems.append((key, f"unknown material {material!r}{did_you_mean(material, names)}"))
            continue
        if c.materials is not None and base != "material_access":
            problems.append((f"{key}.materials", "only material_access takes a list of materials"))
        for m in c.materials or ():
            if names is not None and m not in names:
                problems.append((f"{key}.materials", f"unknown material {m!r}{did_you_mean(str(m), names)}"))
        if user_raster and check_files:
            _exists(c.raster, f"{key}.raster", problems)
        if user_raster and c.fn is None:
            problems.append((f"{key}.fn", "a user raster criterion needs fn (and its parameters) to standardise it"))
            continue
        if name == "landcover":
            for role in c.scores or {}:
                if role not in ROLES:
                    problems.append((f"{key}.scores.{role}", f"unknown role{did_you_mean(role, ROLES)}"))
            continue
        _standardisation(name, c, key, problems)


def _standardisation(name: str, c: Criterion, key: str, problems: Problems) -> None:
    """The criterion's standardisation, defaults and given parameters together, must run."""
    from eicgeo.criteria import REGISTRY, standardisation
    from eicgeo.mcda import STANDARDIZERS, standardize

    spec = REGISTRY.get(name.split(":")[0])
    if spec is not None and c.fn is None and not c.params():
        return  # the default, which is known to work (and may depend on the data)
    fn, params = standardisation(name, c, xr.DataArray(np.ones((1, 1))))
    if fn is None:
        if c.params():
            problems.append((key, f"{name} is built in as 0..1; parameters need fn, got {sorted(c.params())}"))
        return
    accepted = [p for p in inspect.signature(STANDARDIZERS[fn]).parameters if p != "x"]
    foreign = [p for p in params if p not in accepted]
    if foreign:
        problems.append((key, f"{fn} takes no parameter {foreign[0]!r}; it takes {', '.join(accepted)}"))
        return
    relative = {k: percentile_of(v) for k, v in params.items() if percentile_of(v) is not None}
    if relative:
        # Percentiles resolve on the region's data; only two of them can be ordered here.
        if {"low", "high"} <= set(relative) and not relative["low"] < relative["high"]:
            problems.append((key, f"low ({params['low']}) must be a lower percentile than high ({params['high']})"))
        return
    try:
        standardize(xr.DataArray(np.zeros((1, 1))), fn, **params)
    except (EicgeoError, ValueError, TypeError) as err:
        problems.append((key, str(err)))


def _weights(mcda: Any, criteria: Mapping[str, Criterion], problems: Problems) -> None:
    ahp = mcda.ahp
    if ahp is not None:
        from eicgeo.mcda import ahp_weights

        labels = list(ahp.labels)
        for label in labels:
            if label not in criteria:
                problems.append(
                    ("mcda.ahp.labels", f"criterion {label!r} is not defined{did_you_mean(str(label), criteria)}")
                )
            elif not criteria[label].enabled:
                problems.append(("mcda.ahp.labels", f"criterion {label!r} has enabled = false"))
        if len(set(labels)) != len(labels):
            problems.append(("mcda.ahp.labels", f"a criterion is named twice in {labels!r}"))
        try:
            result = ahp_weights([list(r) for r in ahp.matrix], labels, on_inconsistent="ignore")
        except (EicgeoError, ValueError) as err:
            problems.append(("mcda.ahp.matrix", str(err)))
        else:
            if not result.consistent and ahp.on_inconsistent != "warn":
                problems.append(("mcda.ahp.matrix", result.inconsistency_message().removeprefix("AHP ")))
        n = len(labels)
    else:
        n = sum(1 for c in criteria.values() if c.enabled and c.weight > 0)
        if n == 0:
            problems.append(("criteria", "no criterion has a weight > 0"))
    order = mcda.order_weights
    if order is not None and mcda.method == "owa" and (len(order) != n or not sum(order) > 0):
        problems.append(
            (
                "mcda.order_weights",
                f"expected {n} numbers >= 0 (one per weighted criterion) with a sum > 0, got {list(order)!r}",
            )
        )
