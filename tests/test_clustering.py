"""FirmClusterer: DBSCAN and HDBSCAN on two blobs of firms and two outliers, in metres."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point
from sklearn.base import clone

from eicgeo._errors import CRSError, InputError
from eicgeo.clustering import FirmClusterer

X0, Y0 = 600_000.0, 1_600_000.0

# two blobs of six firms, 20 km apart, each within 700 m; two outliers over 30 km from both
BLOB_A = [(0, 0), (300, 0), (0, 300), (300, 300), (150, 150), (600, 150)]
BLOB_B = [(20_000 + x, 5_000 + y) for x, y in [(0, 0), (250, 0), (0, 250), (250, 250), (125, 400), (-200, 100)]]
OUTLIERS = [(10_000, 40_000), (-30_000, -30_000)]
POINTS = [*BLOB_A, OUTLIERS[0], *BLOB_B, OUTLIERS[1]]
SECTORS = [
    "rice_mill",
    "rice_mill",
    "feed_mill",
    "biomass_power",
    "rice_mill",
    "brick_kiln",
    "cement",
    "sugar_mill",
    "distillery",
    "sugar_mill",
    "biogas_plant",
    "sugar_mill",
    "compost_plant",
    "steel",
]
EMPLOYEES = [10, 20, 30, 40, 50, 60, 1000, 1, 2, 3, 4, 5, 6, 2000]
EXPECTED = [0, 0, 0, 0, 0, 0, -1, 1, 1, 1, 1, 1, 1, -1]


def firms(crs="EPSG:32647") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"firm_id": [f"F{i:02d}" for i in range(len(POINTS))], "sector": SECTORS, "employees": EMPLOYEES},
        geometry=[Point(X0 + x, Y0 + y) for x, y in POINTS],
        crs=crs,
    )


def test_dbscan_exact_labels():
    model = FirmClusterer(method="dbscan", min_cluster_size=4, eps_m=1000)
    assert model.fit(firms()) is model
    np.testing.assert_array_equal(model.labels_, EXPECTED)
    np.testing.assert_array_equal(model.fit_predict(firms()), EXPECTED)


def test_dbscan_eps_is_in_metres():
    # the firms of a blob are 212-335 m from their nearest neighbours: a 100 m radius finds nothing
    model = FirmClusterer(method="dbscan", min_cluster_size=4, eps_m=100).fit(firms())
    assert (model.labels_ == -1).all()
    assert len(model.clusters_) == 0
    # a 25 km radius joins the two blobs (20.6 km apart) but not the outliers
    model = FirmClusterer(method="dbscan", min_cluster_size=4, eps_m=25_000).fit(firms())
    np.testing.assert_array_equal(model.labels_, [0] * 6 + [-1] + [0] * 6 + [-1])


def test_hdbscan_finds_the_two_blobs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecation noise from scikit-learn either
        model = FirmClusterer(min_cluster_size=4).fit(firms())
    labels = model.labels_
    a, b = labels[:6], labels[7:13]
    assert len(set(a)) == 1 and len(set(b)) == 1
    assert a[0] >= 0 and b[0] >= 0 and a[0] != b[0]
    assert labels[6] == -1 and labels[13] == -1
    assert set(labels) == {-1, 0, 1}


def test_clusters_table():
    model = FirmClusterer(method="dbscan", min_cluster_size=4, eps_m=1000, hull_buffer_m=500).fit(firms())
    clusters = model.clusters_
    assert list(clusters.columns) == ["cluster", "n_firms", "sectors", "employees", "internal_tonnes", "geometry"]
    assert clusters["internal_tonnes"].tolist() == [0.0, 0.0]  # no links given
    assert clusters.crs == "EPSG:32647"
    assert clusters["cluster"].tolist() == [0, 1]
    assert clusters["n_firms"].tolist() == [6, 6]
    assert clusters["sectors"].tolist() == [
        "biomass_power;brick_kiln;feed_mill;rice_mill",
        "biogas_plant;compost_plant;distillery;sugar_mill",
    ]
    assert clusters["employees"].tolist() == [210, 21]
    points = firms().geometry
    for row in clusters.itertuples():
        members = points[model.labels_ == row.cluster]
        assert members.within(row.geometry).all()
        # the hull is buffered by 500 m: a point 400 m outside the blob is still inside
        assert not points[model.labels_ != row.cluster].within(row.geometry).any()
    hull_a = clusters.geometry.iloc[0]
    assert hull_a.contains(Point(X0 - 400, Y0))
    assert not hull_a.contains(Point(X0 - 600, Y0))


def test_clusters_without_employees_or_sector_columns():
    frame = firms().drop(columns=["employees", "sector"])
    clusters = FirmClusterer(method="dbscan", min_cluster_size=4, eps_m=1000).fit(frame).clusters_
    assert clusters["employees"].tolist() == [0, 0]
    assert clusters["sectors"].tolist() == ["", ""]


def test_too_few_firms_are_all_noise():
    model = FirmClusterer(min_cluster_size=5).fit(firms().iloc[:3])
    np.testing.assert_array_equal(model.labels_, [-1, -1, -1])
    assert len(model.clusters_) == 0
    assert list(model.clusters_.columns) == [
        "cluster",
        "n_firms",
        "sectors",
        "employees",
        "internal_tonnes",
        "geometry",
    ]


def test_geographic_crs_is_an_error():
    with pytest.raises(CRSError, match=r"FirmClusterer needs firms in a projected CRS \(metres\)"):
        FirmClusterer().fit(firms().to_crs("EPSG:4326"))
    with pytest.raises(CRSError, match=r"projected CRS"):
        FirmClusterer().fit(firms().set_crs(None, allow_override=True))


def test_bad_input_and_method():
    with pytest.raises(InputError, match=r"FirmClusterer.fit expects a GeoDataFrame of firms, got DataFrame"):
        FirmClusterer().fit(firms().drop(columns="geometry"))
    with pytest.raises(InputError, match=r"FirmClusterer method 'kmeans' is not 'hdbscan' or 'dbscan'"):
        FirmClusterer(method="kmeans").fit(firms())


def test_clone_and_params_round_trip():
    model = FirmClusterer(
        method="dbscan", min_cluster_size=3, eps_m=1500.0, min_samples=2, hull_buffer_m=250.0, link_scale_t=100.0
    )
    params = model.get_params()
    assert params == {
        "method": "dbscan",
        "min_cluster_size": 3,
        "eps_m": 1500.0,
        "min_samples": 2,
        "hull_buffer_m": 250.0,
        "link_scale_t": 100.0,
    }
    copy = clone(model)
    assert copy is not model
    assert copy.get_params() == params
    assert not hasattr(copy, "labels_")  # clone does not carry the fit
    assert FirmClusterer(**params).get_params() == params
    assert FirmClusterer().set_params(**params).get_params() == params
    model.fit(firms())
    assert not hasattr(clone(model), "labels_")


# --------------------------------------------------------------------------------------------
# pulling linked firms together
# --------------------------------------------------------------------------------------------
# Two pairs on a line: A, B 500 m apart, C, D 500 m apart, B to C 2500 m. With a 1000 m radius
# they are two clusters. B sends C 1000 t a year: with link_scale_t = 100 t their distance is
# divided by 1 + 1000 / 100 = 11, to 227 m, and the four firms make one cluster.
LINE = gpd.GeoDataFrame(
    {"firm_id": list("ABCD"), "sector": ["steel", "steel", "cement", "cement"], "employees": [1, 2, 3, 4]},
    geometry=[Point(X0, Y0), Point(X0 + 500, Y0), Point(X0 + 3000, Y0), Point(X0 + 3500, Y0)],
    crs="EPSG:32647",
)
LINKS = gpd.GeoDataFrame(
    {
        "from_firm": ["B", "C", "A"],
        "to_firm": ["C", "D", "ZZ"],  # ZZ is not in the register: ignored
        "material": ["slag", "steam", "slag"],
        "tonnes": [1000.0, 50.0, 7.0],
    }
)


def test_links_pull_firms_into_one_cluster():
    plain = FirmClusterer(method="dbscan", min_cluster_size=2, eps_m=1000).fit(LINE, links=LINKS)
    np.testing.assert_array_equal(plain.labels_, [0, 0, 1, 1])
    # internal tonnes count materials in t/yr only: the steam link C -> D (MWh) is not tonnes
    assert plain.clusters_["internal_tonnes"].tolist() == [0.0, 0.0]
    pulled = FirmClusterer(method="dbscan", min_cluster_size=2, eps_m=1000, link_scale_t=100).fit(LINE, links=LINKS)
    np.testing.assert_array_equal(pulled.labels_, [0, 0, 0, 0])
    assert pulled.clusters_["n_firms"].tolist() == [4]
    assert pulled.clusters_["internal_tonnes"].tolist() == [1000.0]
    assert pulled.clusters_["employees"].tolist() == [10]
    # a weak link does not pull enough: 2500 / (1 + 100 / 100) = 1250 m > 1000 m
    weak = LINKS.assign(tonnes=[100.0, 50.0, 7.0])
    np.testing.assert_array_equal(
        FirmClusterer(method="dbscan", min_cluster_size=2, eps_m=1000, link_scale_t=100).fit(LINE, links=weak).labels_,
        [0, 0, 1, 1],
    )
    # without links the scale changes nothing
    alone = FirmClusterer(method="dbscan", min_cluster_size=2, eps_m=1000, link_scale_t=100).fit(LINE)
    np.testing.assert_array_equal(alone.labels_, [0, 0, 1, 1])


def test_links_pull_firms_with_hdbscan():
    # three tight groups of four: A and B 5 km apart, C 20 km away; heavy links join A and B
    square = [(0, 0), (100, 0), (0, 100), (100, 100)]
    points = square + [(5_000 + x, y) for x, y in square] + [(20_000 + x, y) for x, y in square]
    firms = gpd.GeoDataFrame(
        {"firm_id": [f"F{i}" for i in range(12)]},
        geometry=[Point(X0 + x, Y0 + y) for x, y in points],
        crs="EPSG:32647",
    )
    links = gpd.GeoDataFrame(
        {"from_firm": ["F1", "F3"], "to_firm": ["F4", "F6"], "material": ["fly_ash", "fly_ash"], "tonnes": [1e5, 1e5]}
    )
    plain = FirmClusterer(min_cluster_size=3).fit(firms, links=links).labels_
    assert len({plain[0], plain[4], plain[8]}) == 3  # three clusters by distance
    # 4.9 km / (1 + 1e5 / 10) = 0.49 m: A and B become one cluster, C stays apart
    model = FirmClusterer(min_cluster_size=3, link_scale_t=10).fit(firms, links=links)
    pulled = model.labels_
    assert (pulled >= 0).all()
    assert len(set(pulled[:8])) == 1 and pulled[8] != pulled[0] and len(set(pulled[8:])) == 1
    assert sorted(model.clusters_["internal_tonnes"].tolist()) == [0.0, 2e5]


@pytest.mark.parametrize(
    ("model", "kwargs", "match"),
    [
        (FirmClusterer(link_scale_t=0), {"links": LINKS}, r"FirmClusterer link_scale_t \(tonnes\) must be > 0, got 0"),
        (FirmClusterer(method="dbscan", eps_m=-5), {}, r"FirmClusterer eps_m \(metres\) must be > 0, got -5"),
        (FirmClusterer(), {"links": LINKS.drop(columns="tonnes")}, r"links are missing column\(s\) tonnes"),
    ],
)
def test_bad_cluster_settings(model, kwargs, match):
    with pytest.raises(InputError, match=match):
        model.fit(LINE, **kwargs)


def test_links_need_firm_ids():
    with pytest.raises(InputError, match=r"FirmClusterer.fit with links needs a firm_id column"):
        FirmClusterer(min_cluster_size=2).fit(LINE.drop(columns="firm_id"), links=LINKS)
