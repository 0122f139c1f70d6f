"""Spatial clusters of firms, as a scikit-learn estimator."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN, HDBSCAN

from eicgeo._errors import CRSError, InputError

__all__ = ["FirmClusterer"]


class FirmClusterer(ClusterMixin, BaseEstimator):
    """Cluster firms by location with HDBSCAN (default) or DBSCAN, in projected metres.

    Parameters
    ----------
    method : {"hdbscan", "dbscan"}
    min_cluster_size : int
        Smallest cluster (HDBSCAN) or core-point neighbourhood size (DBSCAN ``min_samples``).
    eps_m : float
        DBSCAN neighbourhood radius in metres.
    min_samples : int, optional
        HDBSCAN ``min_samples`` (default: ``min_cluster_size``).
    hull_buffer_m : float
        Buffer around each cluster's convex hull, metres.

    Attributes
    ----------
    labels_ : ndarray
        Cluster of each firm, -1 for noise.
    clusters_ : GeoDataFrame
        One row per cluster: ``cluster``, ``n_firms``, ``sectors``, ``employees`` and the
        buffered hull as geometry.
    """

    def __init__(
        self,
        method: str = "hdbscan",
        min_cluster_size: int = 5,
        eps_m: float = 2000.0,
        min_samples: int | None = None,
        hull_buffer_m: float = 500.0,
    ):
        self.method = method
        self.min_cluster_size = min_cluster_size
        self.eps_m = eps_m
        self.min_samples = min_samples
        self.hull_buffer_m = hull_buffer_m

    def fit(self, firms: gpd.GeoDataFrame, y: None = None) -> FirmClusterer:
        if not isinstance(firms, gpd.GeoDataFrame):
            msg = f"FirmClusterer.fit expects a GeoDataFrame of firms, got {type(firms).__name__}"
            raise InputError(msg)
        if firms.crs is None or not firms.crs.is_projected:
            msg = "FirmClusterer needs firms in a projected CRS (metres); reproject with firms.to_crs(grid.crs)"
            raise CRSError(msg)
        if self.method not in ("hdbscan", "dbscan"):
            msg = f"FirmClusterer method {self.method!r} is not 'hdbscan' or 'dbscan'"
            raise InputError(msg)
        xy = np.column_stack([firms.geometry.x, firms.geometry.y])
        if len(xy) < max(2, self.min_cluster_size):
            self.labels_ = np.full(len(xy), -1)
        elif self.method == "hdbscan":
            # copy=True: scikit-learn 1.10 makes it the default and warns until then
            model = HDBSCAN(min_cluster_size=self.min_cluster_size, min_samples=self.min_samples, copy=True)
            self.labels_ = model.fit_predict(xy)
        else:
            model = DBSCAN(eps=self.eps_m, min_samples=self.min_cluster_size)
            self.labels_ = model.fit_predict(xy)
        self.clusters_ = self._hulls(firms)
        return self

    def _hulls(self, firms: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        rows = []
        frame = firms.assign(_cluster=self.labels_)
        for label, group in frame[frame["_cluster"] >= 0].groupby("_cluster"):
            hull = group.geometry.union_all().convex_hull.buffer(self.hull_buffer_m)
            employees = pd.to_numeric(group.get("employees", pd.Series(0, index=group.index)), errors="coerce")
            rows.append(
                {
                    "cluster": int(label),
                    "n_firms": len(group),
                    "sectors": ";".join(sorted(group["sector"].astype(str).unique())) if "sector" in group else "",
                    "employees": int(employees.fillna(0).sum()),
                    "geometry": hull,
                }
            )
        columns = ["cluster", "n_firms", "sectors", "employees", "geometry"]
        return gpd.GeoDataFrame(rows, columns=columns, geometry="geometry", crs=firms.crs)
