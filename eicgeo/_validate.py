"""Input checks shared by every public entry point.

Each check raises one error whose message names the argument or file, the value found and what
was expected.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pyproj import CRS
from pyproj.exceptions import CRSError as _PyprojCRSError

from eicgeo._errors import CRSError, InputError, InputFileNotFoundError

__all__ = [
    "check_columns",
    "check_crs",
    "check_degrees",
    "check_file",
    "check_in",
    "check_positive",
    "did_you_mean",
]


def did_you_mean(name: str, choices: Iterable[str], n: int = 3) -> str:
    """Return ``" (did you mean 'a', 'b'?)"`` for the closest ``choices``, or ``""``."""
    close = difflib.get_close_matches(str(name), list(choices), n=n, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + ", ".join(repr(c) for c in close) + "?)"


def check_file(path: str | Path, what: str, suffixes: Iterable[str] | None = None) -> Path:
    """Return ``path`` as a Path if it is an existing file with an accepted suffix."""
    path = Path(path)
    if not path.exists():
        msg = f"{what} file {str(path)!r} does not exist"
        raise InputFileNotFoundError(msg)
    if not path.is_file():
        msg = f"{what} path {str(path)!r} is not a file"
        raise InputError(msg)
    if suffixes is not None:
        suffixes = tuple(suffixes)
        name = path.name.lower()
        if not name.endswith(suffixes):
            msg = f"{what} file {str(path)!r} has an unsupported extension; expected one of {', '.join(suffixes)}"
            raise InputError(msg)
    return path


def check_crs(crs: object, what: str) -> CRS:
    """Parse ``crs`` (EPSG code, string, WKT, pyproj or rasterio CRS) into a pyproj CRS."""
    if crs is None:
        msg = f"{what} has no CRS; expected a coordinate reference system such as 'EPSG:32647'"
        raise CRSError(msg)
    try:
        return CRS.from_user_input(crs)
    except (_PyprojCRSError, TypeError, ValueError) as err:
        msg = f"{what}: cannot parse CRS {crs!r}; expected an EPSG code, 'EPSG:XXXX' or WKT"
        raise CRSError(msg) from err


def check_degrees(bounds: tuple[float, ...], crs: CRS, label: str) -> None:
    """Raise if ``crs`` is geographic but ``bounds`` are not degrees (a wrong CRS label, or a
    GeoJSON in metres, which GeoJSON defines as WGS 84): such data would fail far downstream."""
    west, south, east, north = bounds
    if crs.is_geographic and not (-181 <= west <= east <= 361 and -91 <= south <= north <= 91):
        msg = (
            f"{label} says its CRS is {crs.to_string()} (longitude/latitude degrees), but its bounds "
            f"{', '.join(f'{v:g}' for v in bounds)} are not degrees; is its CRS label wrong? "
            "Expected a CRS that matches its coordinates (for metres, a projected CRS such as a UTM zone)"
        )
        raise CRSError(msg)


def check_columns(columns: Iterable[str], required: Iterable[str], what: str) -> None:
    """Raise if any of ``required`` is missing from ``columns``."""
    have = list(columns)
    missing = [c for c in required if c not in have]
    if missing:
        msg = f"{what} is missing column(s) {', '.join(missing)}; it has {', '.join(map(str, have))}"
        if len(have) == 1 and any(sep in str(have[0]) for sep in ("\t", ";")):
            msg += "; is it separated by tabs or semicolons? Expected commas"
        raise InputError(msg)


def check_positive(value: object, what: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is a finite number > 0 (or >= 0)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as err:
        msg = f"{what} must be a number, got {value!r}"
        raise InputError(msg) from err
    ok = number >= 0 if allow_zero else number > 0
    if not np.isfinite(number) or not ok:
        bound = ">= 0" if allow_zero else "> 0"
        msg = f"{what} must be {bound}, got {value!r}"
        raise InputError(msg)
    return number


def check_in(value: object, choices: Iterable[str], what: str) -> str:
    """Return ``value`` if it is one of ``choices``; the error suggests the closest."""
    choices = list(choices)
    if value not in choices:
        msg = f"{what} {value!r} is not one of {', '.join(map(repr, choices))}{did_you_mean(str(value), choices)}"
        raise InputError(msg)
    return str(value)
