"""Fictional, unique place and firm names built from common Thai place-name elements.

The elements (and the primary city's fixed name) are in ``data/names.toml``.
"""

from __future__ import annotations

import numpy as np

from eicgeo.datasets.synth.tables import read_toml

__all__ = ["CITY", "ESTATE_SUFFIXES", "TOWN_PREFIXES", "Namer"]

_NAMES = read_toml("names.toml")
#: The primary city's name.
CITY: str = _NAMES["city"]
#: First words of satellite-town names.
TOWN_PREFIXES: tuple[str, ...] = tuple(_NAMES["town_prefixes"])
#: Second part of industrial-estate names, used in turn.
ESTATE_SUFFIXES: tuple[str, ...] = tuple(_NAMES["estate_suffixes"])
_PREFIXES: tuple[str, ...] = tuple(_NAMES["prefixes"])
_SYLLABLES: tuple[str, ...] = tuple(_NAMES["syllables"])
_SUFFIXES: tuple[str, ...] = tuple(_NAMES["suffixes"])
_WORDS: tuple[str, ...] = tuple(_NAMES["firm_words"])


class Namer:
    """Fictional, unique place names built from common Thai place-name elements."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def _pick(self, items: tuple[str, ...]) -> str:
        return items[int(self.rng.integers(len(items)))]

    def place(self, prefixes: tuple[str, ...] = _PREFIXES) -> str:
        """A new place name starting with one of ``prefixes``."""
        for _ in range(50):
            name = f"{self._pick(prefixes)} {self._pick(_SYLLABLES)}"
            if self.rng.random() < 0.35:
                name = f"{name} {self._pick(_SYLLABLES)}"
            if name in self.used:
                name = f"{name} {self._pick(_SUFFIXES)}"
            if name not in self.used:
                self.used.add(name)
                return name
        name = f"{self._pick(prefixes)} {self._pick(_SYLLABLES)} {len(self.used)}"
        self.used.add(name)
        return name

    def word(self) -> str:
        """A name without a place prefix, for streets and rivers."""
        return self.place(("",)).strip()

    def firm(self) -> str:
        """Two auspicious words for a firm's name (not necessarily unique)."""
        return f"{self._pick(_WORDS)} {self._pick(_WORDS)}"
