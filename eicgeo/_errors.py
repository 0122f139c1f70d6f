"""One exception hierarchy for eicgeo.

Every error the package raises on bad input derives from :class:`EicgeoError` and from the
built-in exception a Python user would expect (``ValueError``, ``FileNotFoundError``), so both
``except eicgeo.EicgeoError`` and ``except ValueError`` work.
"""

from __future__ import annotations

__all__ = [
    "CRSError",
    "CoverageWarning",
    "EicgeoError",
    "EicgeoWarning",
    "GridMismatchError",
    "InputError",
    "InputFileNotFoundError",
    "MaterialError",
    "NetworkError",
    "OutputFolderError",
    "RankingWarning",
    "ScenarioError",
]


class EicgeoError(Exception):
    """Root of every eicgeo error."""


class EicgeoWarning(UserWarning):
    """Root of every eicgeo warning (for example a skipped criterion)."""


class CoverageWarning(EicgeoWarning):
    """An input layer covers only part of the study area (the warning says how much)."""


class RankingWarning(EicgeoWarning):
    """The ranking is weak: zones tie, the suitability barely varies, or a criterion is saturated
    or constant over the allowed land (the warning says which, and why)."""


class InputError(EicgeoError, ValueError):
    """An input value or file is malformed."""


class InputFileNotFoundError(EicgeoError, FileNotFoundError):
    """An input file does not exist."""


class CRSError(EicgeoError, ValueError):
    """A coordinate reference system is missing, unparsable or of the wrong kind."""


class GridMismatchError(EicgeoError, ValueError):
    """Layers that must share one Grid do not."""


class OutputFolderError(EicgeoError, FileExistsError):
    """An output folder cannot be written without touching files eicgeo did not write, or is
    being written by another run."""


class NetworkError(InputError):
    """A road network cannot be loaded or has no usable roads."""


class MaterialError(InputError):
    """A material or sector name is not in the vocabulary, or a flow list is malformed."""


class ScenarioError(InputError):
    """A scenario has one or more problems.

    Parameters
    ----------
    problems : list of (key, message)
        Each problem with the dotted key path it concerns, for example
        ``("criteria.road_access.weight", "must be >= 0, got -1")``.
    source : str, optional
        The scenario file, for the message.
    """

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"{self.source}: " if self.source else ""
        if len(self.problems) == 1:
            key, msg = self.problems[0]
            return f"{where}{key}: {msg}"
        listed = "; ".join(f"{key}: {msg}" for key, msg in self.problems)
        return f"{where}{len(self.problems)} problems: {listed}"
