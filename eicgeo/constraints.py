"""Constraints: land that is never used, and the reason codes of ``excluded.tif``.

Each excluded cell keeps the first reason that applies, in the order of :data:`EXCLUSION_REASONS`
(no data first), then the user layers of ``[constraints] layers`` with codes 20, 21, ...
(:data:`USER_REASON_CODE`). :func:`exclusions` makes the layer from the layers a run has; the
pipeline reads the elevation model and the user layers (files) and passes them in. Maps,
report and pipeline take the reason names from here.

Examples
--------
>>> import numpy as np
>>> from affine import Affine
>>> from eicgeo.grid import Grid
>>> from eicgeo.legends import ROLE_CODE
>>> grid = Grid("EPSG:32647", Affine(100, 0, 0, 0, -100, 200), (2, 2))
>>> roles = grid.wrap(np.array([[ROLE_CODE["water"], ROLE_CODE["cropland"]], [0, ROLE_CODE["cropland"]]], "uint8"), "r")
>>> suitability = grid.wrap(np.full((2, 2), 0.5, "float32"), "s")
>>> exclusions(ConstraintSettings(), grid, roles, suitability).values.tolist()
[[2, 0], [1, 0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import xarray as xr

from eicgeo import mcda
from eicgeo.grid import Grid
from eicgeo.legends import ROLE_CODE
from eicgeo.settings import CONSTRAINTS, ConstraintSettings

__all__ = ["EXCLUSION_REASONS", "ROLE_REASON", "USER_REASON_CODE", "exclusions"]

#: Reason codes of ``excluded.tif``. Each user layer of ``[constraints] layers`` takes the next
#: code from :data:`USER_REASON_CODE` (20, 21, ...) with its own reason name.
EXCLUSION_REASONS: dict[int, str] = {
    1: "no data",
    2: "water",
    3: "wetland",
    4: "built-up land",
    5: "forest",
    6: "bare land",
    7: "grass and shrub",
    8: "cropland",
    9: "residual green space",
    10: "residential buffer",
    11: "slope",
}
#: The code of the first user constraint layer.
USER_REASON_CODE = 20
#: The reason code of each land-cover role that ``exclude_roles`` can name.
ROLE_REASON: dict[str, int] = {
    "water": 2,
    "wetland": 3,
    "built_up": 4,
    "forest": 5,
    "bare": 6,
    "grass_shrub": 7,
    "cropland": 8,
}


def exclusions(
    settings: ConstraintSettings,
    grid: Grid,
    roles: xr.DataArray,
    suitability: xr.DataArray,
    *,
    green: xr.DataArray | None = None,
    slope: xr.DataArray | None = None,
    layers: Sequence[xr.DataArray] = (),
) -> xr.DataArray:
    """The exclusion layer of ``settings``: the first reason that applies in each cell.

    Reasons in priority order: no data (nodata land cover or NaN suitability); the land-cover
    roles of ``exclude_roles``; residual green space (``green`` == 1) with
    ``protect_green_space``; within ``residential_buffer_m`` of built-up land; ``slope``
    (degrees) above ``slope_max_deg``; then each boolean mask of ``layers`` (the user layers of
    ``settings.layers``, in order: codes 20, 21, ...).

    Returns
    -------
    DataArray
        uint8 reason codes, 0 where allowed; ``attrs["reason_names"]`` maps each code used to
        its name and ``attrs["reasons"]`` lists them as text.
    """
    settings = settings if settings is not None else CONSTRAINTS
    reasons = [(1, (roles == ROLE_CODE["nodata"]) | suitability.isnull())]
    names = {1: EXCLUSION_REASONS[1]}
    for role in settings.exclude_roles:
        if role in ROLE_REASON:  # "nodata" is always excluded, as reason 1
            reasons.append((ROLE_REASON[role], roles == ROLE_CODE[role]))
            names[ROLE_REASON[role]] = EXCLUSION_REASONS[ROLE_REASON[role]]
    if settings.protect_green_space and green is not None:
        reasons.append((9, green == 1))
        names[9] = EXCLUSION_REASONS[9]
    buffer_m = settings.residential_buffer_m
    if buffer_m > 0:
        built = roles == ROLE_CODE["built_up"]
        reasons.append((10, mcda.buffer_mask(built, buffer_m, cell_m=grid.resolution)))
        names[10] = f"{EXCLUSION_REASONS[10]} ({buffer_m:g} m)"
    if settings.slope_max_deg is not None and slope is not None:
        reasons.append((11, slope > settings.slope_max_deg))
        names[11] = f"{EXCLUSION_REASONS[11]} > {settings.slope_max_deg:g}°"
    for i, (spec, mask) in enumerate(zip(settings.layers, layers, strict=True)):
        code = USER_REASON_CODE + i
        reasons.append((code, mask))
        names[code] = spec.reason
    excluded = mcda.exclude(reasons, roles, names=names)
    excluded.attrs["reasons"] = "; ".join(f"{k}={v}" for k, v in names.items())
    return excluded
