"""The generator's data files in ``data/``: name elements, sector recipes and by-product flows.

They are package data read through :mod:`importlib.resources`, so they are found in a source
checkout, an installed wheel or a zip alike (``setup.cfg`` lists ``datasets/synth/data/*``).
"""

from __future__ import annotations

import csv
import io
import sys
from importlib import resources
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["read_csv", "read_text", "read_toml"]

_PACKAGE = "eicgeo.datasets.synth"


def read_text(name: str) -> str:
    """The text of the data file ``name`` (UTF-8, newlines as ``\\n``)."""
    return (resources.files(_PACKAGE) / "data" / name).read_text(encoding="utf-8")


def read_toml(name: str) -> dict[str, Any]:
    """A TOML data file as a dict; tables and arrays keep the file's order."""
    return tomllib.loads(read_text(name))


def read_csv(name: str) -> list[dict[str, str]]:
    """The rows of a CSV data file (with a header line) as dicts of strings, in file order."""
    return list(csv.DictReader(io.StringIO(read_text(name))))
