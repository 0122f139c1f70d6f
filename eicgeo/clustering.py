"""Spatial clusters of firms, as a scikit-learn estimator.

Firms are clustered by the distance between them in projected metres, with HDBSCAN (the
default: clusters of varying density, no radius to choose) or DBSCAN (a radius ``eps_m`` in
metres). Firms that already trade by-products can be pulled together: with ``link_scale_t`` the
distance between two firms exchanging ``t`` tonnes a year is divided by ``1 + t / link_scale_t``
(a precomputed distance matrix), so a symbiosis pair a little too far apart still falls in one
cluster.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix, csr_matrix
from scipy.spatial.distance import pdist, squareform
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN, HDBSCAN

from eicgeo._errors import CRSError, InputError
from eicgeo._validate import check_positive
from eicgeo.materials import BUILTIN, Vocabulary
from eicgeo.settings import CLUSTERING

__all__ = ["CLUSTER_COLUMNS", "FirmClusterer"]

#: Columns of :attr:`FirmClusterer.clusters_`.
CLUSTER_COLUMNS = ["cluster", "n_firms", "sectors", "employees", "internal_tonnes", "geometry"]

# A dense n x n distance matrix (float64) is built only to pull linked firms together; beyond
# this many firms it would take gigabytes.
_MAX_PRECOMPUTED = 15_000


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
    link_scale_t : float, optional
        Pull firms that exchange by-products together: the distance between two firms is
        divided by ``1 + t / link_scale_t``, ``t`` the tonnes a year they exchange (both ways,
        from the ``links`` given to :meth:`fit`). ``None`` (the default) clusters by distance
        only.

    Attributes
    ----------
    labels_ : ndarray
        Cluster of each firm, -1 for noise.
    clusters_ : GeoDataFrame
        One row per cluster (:data:`CLUSTER_COLUMNS`): ``cluster``, ``n_firms``, ``sectors``
        (``;``-separated), ``employees`` (sum of the ``employees`` column, 0 without it),
        ``internal_tonnes`` (t/yr exchanged by links with both ends in the cluster, 0 without
        links) and the buffered hull as geometry.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> firms = gpd.GeoDataFrame({"firm_id": list("ABCD"), "sector": ["steel"] * 4},
    ...     geometry=[Point(0, 0), Point(500, 0), Point(3000, 0), Point(3500, 0)], crs="EPSG:32647")
    >>> FirmClusterer(method="dbscan", min_cluster_size=2, eps_m=1000).fit(firms).labels_.tolist()
    [0, 0, 1, 1]
    """

    def __init__(
        self,
        method: str = CLUSTERING.method,
        min_cluster_size: int = CLUSTERING.min_cluster_size,
        eps_m: float = CLUSTERING.eps_m,
        min_samples: int | None = CLUSTERING.min_samples,
        hull_buffer_m: float = CLUSTERING.hull_buffer_m,
        link_scale_t: float | None = CLUSTERING.link_scale_t,
    ):
        self.method = method
        self.min_cluster_size = min_cluster_size
        self.eps_m = eps_m
        self.min_samples = min_samples
        self.hull_buffer_m = hull_buffer_m
        self.link_scale_t = link_scale_t

    def fit(
        self,
        firms: gpd.GeoDataFrame,
        y: None = None,
        *,
        links: pd.DataFrame | None = None,
        vocab: Vocabulary = BUILTIN,
    ) -> FirmClusterer:
        """Cluster ``firms`` (points in a projected CRS, metres).

        Parameters
        ----------
        firms : GeoDataFrame
            With ``firm_id`` when ``links`` are given, and optionally ``sector`` and
            ``employees``.
        y : None
            Ignored (scikit-learn convention).
        links : DataFrame, optional
            Symbiosis links from :func:`eicgeo.symbiosis.match` (``from_firm``, ``to_firm``,
            ``tonnes``): they give each cluster's internal tonnes and, with ``link_scale_t``,
            pull linked firms together.
        vocab : Vocabulary
            The run's materials (their units say which links count in tonnes).
        """
        if not isinstance(firms, gpd.GeoDataFrame):
            msg = f"FirmClusterer.fit expects a GeoDataFrame of firms, got {type(firms).__name__}"
            raise InputError(msg)
        if firms.crs is None or not firms.crs.is_projected:
            msg = (
                f"FirmClusterer needs firms in a projected CRS (metres), got {firms.crs}; "
                "reproject with firms.to_crs(grid.crs)"
            )
            raise CRSError(msg)
        if self.method not in ("hdbscan", "dbscan"):
            msg = f"FirmClusterer method {self.method!r} is not 'hdbscan' or 'dbscan'"
            raise InputError(msg)
        if self.method == "dbscan":
            check_positive(self.eps_m, "FirmClusterer eps_m (metres)")
        if self.link_scale_t is not None:
            check_positive(self.link_scale_t, "FirmClusterer link_scale_t (tonnes)")
        points = firms.geometry
        if len(points) and not (points.geom_type == "Point").all():
            points = points.representative_point()
        xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()]).reshape(-1, 2)
        tonnes = self._pair_tonnes(firms, links, vocab) if links is not None else None
        solid = self._pair_tonnes(firms, links, vocab, solid=True) if links is not None else None
        pulled = self.link_scale_t is not None and tonnes is not None and tonnes.nnz > 0
        if len(xy) < max(2, self.min_cluster_size):
            self.labels_ = np.full(len(xy), -1)
        else:
            x = self._pulled_distances(xy, tonnes) if pulled else xy
            metric = "precomputed" if pulled else "euclidean"
            if self.method == "hdbscan":
                # copy=True: scikit-learn 1.10 makes it the default and warns until then
                model = HDBSCAN(
                    min_cluster_size=self.min_cluster_size, min_samples=self.min_samples, metric=metric, copy=True
                )
            else:
                model = DBSCAN(eps=self.eps_m, min_samples=self.min_cluster_size, metric=metric)
            self.labels_ = model.fit_predict(x)
        self.clusters_ = self._hulls(firms, solid)
        return self

    def _pair_tonnes(
        self, firms: gpd.GeoDataFrame, links: pd.DataFrame, vocab: Vocabulary, *, solid: bool = False
    ) -> csr_matrix:
        """Symmetric sparse matrix of what each pair of firms exchanges a year (both ways).

        All links pull firms together (steam and heat pipes most of all); ``solid`` keeps only
        materials counted in tonnes, for the clusters' internal tonnes.
        """
        if "firm_id" not in firms:
            msg = "FirmClusterer.fit with links needs a firm_id column in firms"
            raise InputError(msg)
        missing = [c for c in ("from_firm", "to_firm", "tonnes") if c not in links]
        if missing:
            msg = f"FirmClusterer.fit: links are missing column(s) {', '.join(missing)}"
            raise InputError(msg)
        index = {f: k for k, f in enumerate(firms["firm_id"].astype(str))}
        a = links["from_firm"].astype(str).map(index)
        b = links["to_firm"].astype(str).map(index)
        known = a.notna() & b.notna()  # links to firms outside this register are ignored
        if solid and "material" in links:
            known &= links["material"].map(lambda m: vocab.unit(m, "") == "t/yr").astype(bool)
        rows, cols = a[known].astype(int).to_numpy(), b[known].astype(int).to_numpy()
        t = links.loc[known, "tonnes"].to_numpy(dtype=float)
        n = len(firms)
        both = coo_matrix(
            (np.concatenate([t, t]), (np.concatenate([rows, cols]), np.concatenate([cols, rows]))), (n, n)
        )
        return both.tocsr()

    def _pulled_distances(self, xy: np.ndarray, tonnes: csr_matrix) -> np.ndarray:
        if len(xy) > _MAX_PRECOMPUTED:
            msg = (
                f"FirmClusterer link_scale_t needs an n x n distance matrix; {len(xy)} firms is more than "
                f"{_MAX_PRECOMPUTED}: cluster without link_scale_t or by region"
            )
            raise InputError(msg)
        distance = squareform(pdist(xy))
        return distance / (1.0 + tonnes.toarray() / float(self.link_scale_t))

    def _hulls(self, firms: gpd.GeoDataFrame, tonnes: csr_matrix | None) -> gpd.GeoDataFrame:
        rows = []
        frame = firms.reset_index(drop=True).assign(_cluster=self.labels_)
        for label, group in frame[frame["_cluster"] >= 0].groupby("_cluster"):
            hull = group.geometry.union_all().convex_hull.buffer(self.hull_buffer_m)
            employees = pd.to_numeric(group.get("employees", pd.Series(0, index=group.index)), errors="coerce")
            members = group.index.to_numpy()
            # each internal link is counted once: half of the symmetric matrix's block
            internal = float(tonnes[members][:, members].sum()) / 2.0 if tonnes is not None else 0.0
            rows.append(
                {
                    "cluster": int(label),
                    "n_firms": len(group),
                    "sectors": ";".join(sorted(group["sector"].astype(str).unique())) if "sector" in group else "",
                    "employees": int(employees.fillna(0).sum()),
                    "internal_tonnes": internal,
                    "geometry": hull,
                }
            )
        return gpd.GeoDataFrame(rows, columns=CLUSTER_COLUMNS, geometry="geometry", crs=firms.crs)
