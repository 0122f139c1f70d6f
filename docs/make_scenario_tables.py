"""Rewrite the generated key tables of docs/scenario.md from eicgeo's declarations.

Each table sits between ``<!-- keys:SECTION -->`` and ``<!-- /keys:SECTION -->`` (and the
built-in criteria between ``<!-- keys:builtin-criteria -->`` markers); a test fails when they
differ from :func:`eicgeo.settings.markdown_table` and :func:`eicgeo.criteria.registry_table`.

    python docs/make_scenario_tables.py
"""

from __future__ import annotations

import re
from pathlib import Path

from eicgeo.criteria import registry_table
from eicgeo.settings import SECTIONS, markdown_table

DOC = Path(__file__).resolve().parent / "scenario.md"


def tables() -> dict[str, str]:
    sections = ["top", *SECTIONS]
    return {**{section: markdown_table(section) for section in sections}, "builtin-criteria": registry_table()}


def main() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name, table in tables().items():
        pattern = re.compile(rf"(<!-- keys:{re.escape(name)} -->\n).*?(\n<!-- /keys:{re.escape(name)} -->)", re.S)
        if not pattern.search(text):
            msg = f"{DOC} has no <!-- keys:{name} --> block"
            raise SystemExit(msg)
        text = pattern.sub(lambda m, t=table: m.group(1) + t + m.group(2), text)
    DOC.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
