"""Symbiosis matching on a hand-made firm register with known optimal links."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import LineString, Point

from eicgeo import symbiosis
from eicgeo._errors import CRSError, InputError, MaterialError
from eicgeo.materials import parse_flows

X0, Y0 = 600_000.0, 1_600_000.0  # somewhere in central Thailand, UTM 47N

# firm_id, sector, x km, y km (from X0, Y0), inputs, outputs
FIRMS = [
    # fly ash: one supplier of 100 t; users of 60 t at 10 km and 60 t at 20 km, 50 t at 40 km
    ("P1", "coal_power", 0, 0, "", "fly_ash:100"),
    ("C1", "cement", 10, 0, "fly_ash:60", ""),
    ("B1", "brick_kiln", -20, 0, "fly_ash:60", ""),
    ("U1", "brick_kiln", 0, 40, "fly_ash:50", ""),
    # bottom ash: S1 is nearest to D1, but S2 is nearer still; the optimum does not cross
    ("S1", "coal_power", 100, 100, "", "bottom_ash:50"),
    ("S2", "coal_power", 104, 106, "", "bottom_ash:50"),
    ("D1", "brick_kiln", 104, 103, "bottom_ash:50", ""),
    ("D2", "cement", 100, 94, "bottom_ash:50", ""),
    # steam: pipelines only, 5 km at most
    ("P2", "coal_power", 300, 0, "", "steam:100"),
    ("F1", "food_processing", 303.5, 0, "steam:30", ""),
    ("F2", "food_processing", 300, 4, "steam:30", ""),
    # a product: trade, not symbiosis
    ("K1", "feed_mill", 400, 0, "", "animal_feed:1000"),
    ("K2", "livestock_farm", 401, 0, "animal_feed:100", ""),
    # a steel mill that both offers and takes scrap, and a second mill
    ("X", "steel", 500, 0, "scrap_metal:50", "scrap_metal:30"),
    ("Y", "steel", 505, 0, "scrap_metal:10", ""),
    # sawdust: nearest-first would strand Sb; the most tonnes needs Sa -> Dy and Sb -> Dx
    ("Sa", "sawmill", 700, 0, "", "sawdust:50"),
    ("Dx", "board_mill", 701, 0, "sawdust:50", ""),
    ("Dy", "board_mill", 700, 20, "sawdust:50", ""),
    ("Sb", "sawmill", 721, 0, "", "sawdust:50"),
]


def register(ids=None, crs="EPSG:32647") -> gpd.GeoDataFrame:
    rows = [r for r in FIRMS if ids is None or r[0] in ids]
    return gpd.GeoDataFrame(
        {
            "firm_id": [r[0] for r in rows],
            "name": [f"firm {r[0]}" for r in rows],
            "sector": [r[1] for r in rows],
            "inputs": [r[4] for r in rows],
            "outputs": [r[5] for r in rows],
        },
        geometry=[Point(X0 + r[2] * 1000, Y0 + r[3] * 1000) for r in rows],
        crs=crs,
    )


def links_of(links, material):
    part = links[links["material"] == material]
    return {
        (a, b): (t, km)
        for a, b, t, km in zip(part["from_firm"], part["to_firm"], part["tonnes"], part["km"], strict=True)
    }


def flows_of(firms, column: str) -> dict[tuple[str, str], float]:
    """{(firm_id, material): tonnes} of a register's inputs or outputs."""
    return {
        (f, m): t for f, text in zip(firms["firm_id"], firms[column], strict=True) for m, t in parse_flows(text).items()
    }


def tonne_km(links) -> float:
    return float((links["tonnes"] * links["km"]).sum())


@pytest.fixture(scope="module")
def links():
    return symbiosis.match(register())


def test_fly_ash_goes_to_the_nearer_user_first(links):
    got = links_of(links, "fly_ash")
    # km = straight line x 1.3 (the default detour); U1 is 40 x 1.3 = 52 km away, beyond 33 km
    assert got.keys() == {("P1", "C1"), ("P1", "B1")}
    assert got[("P1", "C1")] == pytest.approx((60.0, 13.0))
    assert got[("P1", "B1")] == pytest.approx((40.0, 26.0))


def test_straight_line_times_detour():
    firms = register(["P1", "C1", "B1"])
    plain = links_of(symbiosis.match(firms, detour=1.0), "fly_ash")
    assert plain[("P1", "C1")] == pytest.approx((60.0, 10.0))
    assert plain[("P1", "B1")] == pytest.approx((40.0, 20.0))
    winding = links_of(symbiosis.match(firms, detour=1.5), "fly_ash")
    assert winding[("P1", "B1")][1] == pytest.approx(30.0)


def test_user_beyond_max_km_gets_nothing():
    firms = register(["P1", "C1", "B1", "U1"])
    # B1 is 26 km away by the detour rule: outside 20 km
    got = links_of(symbiosis.match(firms, max_km=20), "fly_ash")
    assert got == {("P1", "C1"): pytest.approx((60.0, 13.0))}
    # with a long reach U1 is still last in line: 100 t go to the two nearer users
    far = links_of(symbiosis.match(firms, max_km=60), "fly_ash")
    assert far.keys() == {("P1", "C1"), ("P1", "B1")}


def test_two_suppliers_two_users_optimum_does_not_cross(links):
    got = links_of(links, "bottom_ash")
    # straight-line km: S1-D1 5, S1-D2 6, S2-D1 3, S2-D2 sqrt(4² + 12²) = 12.65.
    # First come, S1 takes its nearest user D1 and S2 is left with D2: 50 x (5 + 12.65) = 882 t·km
    # straight, and the two links cross. The optimum S1 -> D2, S2 -> D1 moves the same 100 t
    # for 50 x (6 + 3) = 450 t·km straight, 585 with the 1.3 detour.
    assert got.keys() == {("S1", "D2"), ("S2", "D1")}
    assert got[("S1", "D2")] == pytest.approx((50.0, 7.8))
    assert got[("S2", "D1")] == pytest.approx((50.0, 3.9))
    assert tonne_km(links[links["material"] == "bottom_ash"]) == pytest.approx(585.0)
    s1d2, s2d1 = (
        links[(links["material"] == "bottom_ash") & (links["from_firm"] == f)].geometry.iloc[0] for f in ("S1", "S2")
    )
    assert not s1d2.crosses(s2d1)
    greedy_s1d1 = LineString([(X0 + 100e3, Y0 + 100e3), (X0 + 104e3, Y0 + 103e3)])
    greedy_s2d2 = LineString([(X0 + 104e3, Y0 + 106e3), (X0 + 100e3, Y0 + 94e3)])
    assert greedy_s1d1.crosses(greedy_s2d2)
    assert 50 * (5 + math.hypot(4, 12)) * 1.3 > tonne_km(links[links["material"] == "bottom_ash"])


def test_most_tonnes_before_fewest_tonne_km(links):
    got = links_of(links, "sawdust")
    # Sa -> Dx (1 km) is the cheapest link, but then Sb (20 km from Dx, 29 km from Dy: 37.7 km
    # with the detour) could deliver nothing. Moving all 100 t needs Sa -> Dy and Sb -> Dx.
    assert got == {("Sa", "Dy"): pytest.approx((50.0, 26.0)), ("Sb", "Dx"): pytest.approx((50.0, 26.0))}


def test_steam_is_capped_at_5_km(links):
    assert symbiosis.MAX_KM_BY_MATERIAL["steam"] == 5.0
    got = links_of(links, "steam")
    # F1: 3.5 km x 1.3 = 4.55 km <= 5; F2: 4 km x 1.3 = 5.2 km > 5 although max_km is 33
    assert got == {("P2", "F1"): pytest.approx((30.0, 4.55))}


def test_products_are_not_matched_by_default(links):
    assert "animal_feed" not in set(links["material"])
    traded = symbiosis.match(register(["K1", "K2"]), kinds=("product",))
    assert links_of(traded, "animal_feed") == {("K1", "K2"): pytest.approx((100.0, 1.3))}


def test_a_firm_never_links_to_itself(links):
    assert (links["from_firm"] != links["to_firm"]).all()
    # X offers 30 t of scrap and wants 50 t; only Y (5 km) can take X's scrap
    assert links_of(links, "scrap_metal") == {("X", "Y"): pytest.approx((10.0, 6.5))}


LINK_COLUMNS = [
    "from_firm",
    "to_firm",
    "material",
    "tonnes",
    "km",
    "co2_avoided_t",
    "transport_co2_t",
    "net_co2_t",
    "from_sector",
    "to_sector",
    "geometry",
]


def test_links_table(links):
    assert list(links.columns) == LINK_COLUMNS
    assert links.crs == "EPSG:32647"
    assert list(links["material"]) == [
        "bottom_ash",
        "bottom_ash",
        "fly_ash",
        "fly_ash",
        "sawdust",
        "sawdust",
        "scrap_metal",
        "steam",
    ]
    fly = links[links["material"] == "fly_ash"]
    assert list(fly["tonnes"]) == pytest.approx([60.0, 40.0])  # largest first within a material
    first = fly.iloc[0]
    assert (first["from_sector"], first["to_sector"]) == ("coal_power", "cement")
    assert list(first.geometry.coords) == [(X0, Y0), (X0 + 10_000, Y0)]


def test_no_one_ships_more_than_it_has_or_gets_more_than_it_needs(links):
    firms = register()
    supply, demand = flows_of(firms, "outputs"), flows_of(firms, "inputs")
    for (firm, material), sent in links.groupby(["from_firm", "material"])["tonnes"].sum().items():
        assert sent <= supply[(firm, material)] + 1e-6
    for (firm, material), got in links.groupby(["to_firm", "material"])["tonnes"].sum().items():
        assert got <= demand[(firm, material)] + 1e-6
    assert (links["tonnes"] > 0).all()
    assert (links["km"] <= 33.0).all()


def test_distances_along_a_road_graph():
    firms = register(["P1", "C1"])  # 10 km apart in a straight line
    graph = nx.MultiDiGraph(crs="EPSG:32647")
    graph.add_node(1, x=X0, y=Y0)
    graph.add_node(2, x=X0 + 5_000, y=Y0 + 5_000)
    graph.add_node(3, x=X0 + 10_000, y=Y0 - 1_000)  # C1 is 1 km off the road end
    graph.add_edge(1, 2, length=8_000.0)
    graph.add_edge(2, 3, length=8_000.0)
    got = links_of(symbiosis.match(firms, graph=graph), "fly_ash")
    # 8 + 8 km along the roads, plus 1 km from the road end to C1; no detour factor
    assert got == {("P1", "C1"): pytest.approx((60.0, 17.0))}
    # the roads are one-way: from C1 back to P1 there is no path, so a reverse flow finds no link
    reverse = register(["P1", "C1"])
    reverse["inputs"] = ["fly_ash:60", ""]
    reverse["outputs"] = ["", "fly_ash:100"]
    assert len(symbiosis.match(reverse, graph=graph)) == 0


def test_no_common_material_gives_an_empty_table():
    got = symbiosis.match(register(["P1", "F1"]))
    assert len(got) == 0
    assert list(got.columns) == LINK_COLUMNS


def test_geographic_crs_is_an_error():
    firms = register(["P1", "C1"]).to_crs("EPSG:4326")
    with pytest.raises(CRSError, match=r"symbiosis.match needs firms in a projected CRS \(metres\)"):
        symbiosis.match(firms)
    firms = register(["P1", "C1"]).set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match=r"projected CRS"):
        symbiosis.match(firms)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"max_km": 0}, r"max_km must be > 0, got 0"), ({"detour": -1}, r"detour must be > 0, got -1")],
)
def test_bad_distances(kwargs, match):
    with pytest.raises(InputError, match=match):
        symbiosis.match(register(["P1", "C1"]), **kwargs)


def test_bad_flow_names_the_firm():
    firms = register(["P1", "C1"])
    firms.loc[0, "outputs"] = "flyash:100"
    with pytest.raises(
        MaterialError,
        match=r"firm 'P1' outputs: material 'flyash' is not a known material "
        r"\(did you mean 'fly_ash'",
    ):
        symbiosis.match(firms)


def test_metrics_by_hand(links):
    small = register(["P1", "C1", "B1", "U1"])
    m = symbiosis.metrics(small, symbiosis.match(small))
    assert m == {
        "n_firms": 4,
        "n_linked_firms": 3,  # U1 is out of reach
        "n_links": 2,
        "density": pytest.approx(2 / (3 * 2)),
        "degree_centralization": pytest.approx(1.0),  # a star: P1 with two partners
        "anchor_firms": [
            {"firm_id": "P1", "sector": "coal_power", "tonnes": 100.0},
            {"firm_id": "C1", "sector": "cement", "tonnes": 60.0},
            {"firm_id": "B1", "sector": "brick_kiln", "tonnes": 40.0},
        ],
        "byproduct_tonnes_offered": 100.0,
        "byproduct_tonnes_exchanged": pytest.approx(100.0),
        "share_of_byproducts_used": pytest.approx(1.0),
        "tonnes_by_material": {"fly_ash": 100.0},
        # 100 t fly ash x 0.8 t CO2/t; trucking (60 x 13 + 40 x 26) t-km x 0.1 kg/t-km = 0.182 t
        "co2_avoided_t": pytest.approx(80.0),
        "transport_co2_t": pytest.approx(0.182),
        "net_co2_t": pytest.approx(79.818),
    }

    m = symbiosis.metrics(register(), links)
    # offered by-products in tonnes: fly ash 100 + bottom ash 100 + scrap 30 + sawdust 100 = 330
    # (steam is MWh and animal feed a product). Exchanged: 100 + 100 + 10 + 100 = 310 t.
    assert m["n_firms"] == 19
    assert m["n_links"] == 8
    assert m["n_linked_firms"] == 15  # all but U1, F2, K1, K2
    assert m["density"] == pytest.approx(8 / (15 * 14))
    # P1 has two partners, the 14 others one: (14 x (2 - 1)) / (14 x 13)
    assert m["degree_centralization"] == pytest.approx(1 / 13)
    # tonnage sent plus received (t only): P1 100, C1 60, then the 50 t firms in id order
    assert [(a["firm_id"], a["tonnes"]) for a in m["anchor_firms"]] == [("P1", 100.0), ("C1", 60.0), ("D1", 50.0)]
    assert m["byproduct_tonnes_exchanged"] == pytest.approx(310.0)
    assert m["share_of_byproducts_used"] == pytest.approx(310 / 330)
    assert m["tonnes_by_material"] == {
        "bottom_ash": 100.0,
        "fly_ash": 100.0,
        "sawdust": 100.0,
        "scrap_metal": 10.0,
        "steam": 30.0,
    }
    # fly ash 100 x 0.8 + bottom ash 100 x 0.01 + sawdust 100 x 0.9 + scrap 10 x 1.5 + steam 30 MWh x 0.22
    assert m["co2_avoided_t"] == pytest.approx(80 + 1 + 90 + 15 + 6.6)
    # t-km: fly ash 1820 + bottom ash 585 + sawdust 2600 + scrap 65 = 5070 (steam is piped: 0)
    assert m["transport_co2_t"] == pytest.approx(0.507)
    assert m["net_co2_t"] == pytest.approx(192.6 - 0.507)


def test_metrics_without_links():
    firms = register(["P1", "F1"])
    m = symbiosis.metrics(firms, symbiosis.match(firms))
    assert m == {
        "n_firms": 2,
        "n_linked_firms": 0,
        "n_links": 0,
        "density": 0.0,
        "degree_centralization": 0.0,
        "anchor_firms": [],
        "byproduct_tonnes_offered": 100.0,
        "byproduct_tonnes_exchanged": 0.0,
        "share_of_byproducts_used": 0.0,
        "tonnes_by_material": {},
        "co2_avoided_t": 0.0,
        "transport_co2_t": 0.0,
        "net_co2_t": 0.0,
    }
    assert np.isfinite(m["density"])


def test_co2_columns_by_hand(links):
    got = links.set_index(["from_firm", "to_firm"])
    # P1 -> C1: 60 t fly ash x 0.8 t CO2/t = 48; 60 t x 13 km x 0.1 kg/t-km = 78 kg
    assert got.loc[("P1", "C1"), ["co2_avoided_t", "transport_co2_t", "net_co2_t"]].tolist() == pytest.approx(
        [48.0, 0.078, 47.922]
    )
    # steam is piped: no trucking CO2; 30 MWh x 0.22 t CO2/MWh of gas-boiler steam
    assert got.loc[("P2", "F1"), ["co2_avoided_t", "transport_co2_t"]].tolist() == pytest.approx([6.6, 0.0])
    assert (links["net_co2_t"] == links["co2_avoided_t"] - links["transport_co2_t"]).all()
    # factors can be overridden per run
    firms = register(["P1", "C1"])
    custom = symbiosis.match(firms, co2_factors={"fly_ash": 0.5}, transport_kg_per_tkm=0.2).iloc[0]
    assert (custom["co2_avoided_t"], custom["transport_co2_t"]) == pytest.approx((30.0, 60 * 13 * 0.2 / 1000))
    with pytest.raises(InputError, match=r"co2_factors\['fly_ash'\] must be >= 0, got -1"):
        symbiosis.match(firms, co2_factors={"fly_ash": -1})


def test_allocation_is_optimal_against_networkx():
    """The two LPs give the min-cost maximum flow of networkx on random integer cases."""
    rng = np.random.default_rng(7)
    for _ in range(5):
        supply = rng.integers(10, 60, 5).astype(float)
        demand = rng.integers(10, 60, 7).astype(float)
        i, j = np.nonzero(rng.random((5, 7)) < 0.5)
        km = rng.integers(1, 30, i.size).astype(float)
        flows = symbiosis._allocate(supply, demand, i, j, km)
        g = nx.DiGraph()
        for a, t in enumerate(supply):
            g.add_edge("s", ("i", a), capacity=int(t), weight=0)
        for b, t in enumerate(demand):
            g.add_edge(("j", b), "t", capacity=int(t), weight=0)
        for a, b, w in zip(i, j, km, strict=True):
            g.add_edge(("i", int(a)), ("j", int(b)), capacity=10_000, weight=int(w))
        best = nx.max_flow_min_cost(g, "s", "t")
        assert flows.sum() == pytest.approx(sum(best["s"].values()), abs=1e-6)
        assert (flows * km).sum() == pytest.approx(nx.cost_of_flow(g, best), abs=1e-5)
        assert (flows >= -1e-9).all()


def test_star_allocation_equals_the_lps():
    """One supplier (or one user): nearest first gives the LPs' optimum, checked with networkx."""
    rng = np.random.default_rng(3)
    for _ in range(10):
        k = int(rng.integers(2, 8))
        partners = rng.integers(5, 50, k).astype(float)
        km = rng.integers(1, 30, k).astype(float)
        hub = np.array([float(rng.integers(10, 200))])
        zeros = np.zeros(k, dtype=int)
        for supply, demand, i, j in ((hub, partners, zeros, np.arange(k)), (partners, hub, np.arange(k), zeros)):
            flows = symbiosis._allocate(supply, demand, i, j, km)
            g = nx.DiGraph()
            for a, t in enumerate(supply):
                g.add_edge("s", ("i", a), capacity=int(t), weight=0)
            for b, t in enumerate(demand):
                g.add_edge(("j", b), "t", capacity=int(t), weight=0)
            for a, b, w in zip(i, j, km, strict=True):
                g.add_edge(("i", int(a)), ("j", int(b)), weight=int(w))
            best = nx.max_flow_min_cost(g, "s", "t")
            assert flows.sum() == pytest.approx(sum(best["s"].values()))
            assert (flows * km).sum() == pytest.approx(nx.cost_of_flow(g, best))
            assert (flows <= (demand[j] if i[0] == i[-1] else supply[i]) + 1e-9).all()


def test_unmatched_outputs(links):
    got = symbiosis.unmatched(register(), links)
    assert list(got.columns) == symbiosis.UNMATCHED_COLUMNS
    # P2 offers 100 MWh of steam, F1 takes 30 (F2 is beyond the 5 km pipe); X offers 30 t of
    # scrap and Y takes 10. Everything else finds a user; animal feed is a product, not listed.
    # Tonnes come before MWh.
    table = got.drop(columns="geometry").to_dict("records")
    assert table == [
        {
            "firm_id": "X",
            "sector": "steel",
            "material": "scrap_metal",
            "unit": "t/yr",
            "offered": 30.0,
            "matched": pytest.approx(10.0),
            "unmatched": pytest.approx(20.0),
        },
        {
            "firm_id": "P2",
            "sector": "coal_power",
            "material": "steam",
            "unit": "MWh/yr",
            "offered": 100.0,
            "matched": pytest.approx(30.0),
            "unmatched": pytest.approx(70.0),
        },
    ]
    assert got.geometry.iloc[0].equals(Point(X0 + 500_000, Y0))
    assert got.crs == "EPSG:32647"
    none = symbiosis.unmatched(register(["P1", "F1"]), symbiosis.match(register(["P1", "F1"])))
    assert none["unmatched"].tolist() == [100.0]


def test_opportunities_leave_out_emissions():
    # A cement works offers 900 t of captured CO2 and 40 t of kiln dust; a greenhouse 2 km away
    # takes 100 t of the CO2. What is left of the CO2 is an emission, not a feedstock for a new
    # firm: the opportunities are the kiln dust alone, while `unmatched` still lists both.
    firms = gpd.GeoDataFrame(
        {
            "firm_id": ["cement", "greenhouse"],
            "sector": ["cement", "greenhouse"],
            "inputs": ["", "co2:100"],
            "outputs": ["co2:900;cement_kiln_dust:40", ""],
        },
        geometry=[Point(X0, Y0), Point(X0 + 2000, Y0)],
        crs="EPSG:32647",
    )
    left = symbiosis.unmatched(firms, symbiosis.match(firms))
    assert left[["material", "unmatched"]].values.tolist() == [["co2", 800.0], ["cement_kiln_dust", 40.0]]
    got = symbiosis.opportunities(left)
    assert got.drop(columns="geometry").to_dict("records") == [
        {
            "firm_id": "cement",
            "sector": "cement",
            "material": "cement_kiln_dust",
            "unit": "t/yr",
            "offered": 40.0,
            "matched": 0.0,
            "unmatched": 40.0,
        }
    ]
    assert got.index.tolist() == [1]  # the rows of `unmatched`, with their index
    assert len(symbiosis.opportunities(left.iloc[:0])) == 0


def test_cluster_metrics_by_hand(links):
    firms = register()
    clusters = {"P1": 0, "C1": 0, "B1": 0, "U1": 0, "S1": 1, "S2": 1, "D1": 1, "D2": 1, "Sa": 2, "Dx": 2, "Dy": 2}
    firms["cluster"] = [clusters.get(f, -1) for f in firms["firm_id"]]
    got = symbiosis.cluster_metrics(firms, links).set_index("cluster")
    assert got.index.tolist() == [0, 1, 2]
    assert got["n_firms"].tolist() == [4, 4, 3]
    assert got["n_linked_firms"].tolist() == [3, 4, 2]
    # Sb -> Dx leaves cluster 2 (Sb is noise): only Sa -> Dy is inside
    assert got["n_links"].tolist() == [2, 2, 1]
    assert got["density"].tolist() == pytest.approx([2 / 6, 2 / 12, 1 / 2])
    assert got["degree_centralization"].tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert got["anchor_firm"].tolist() == ["P1", "D1", "Dy"]
    assert got["anchor_tonnes"].tolist() == [100.0, 50.0, 50.0]
    assert got["internal_tonnes"].tolist() == pytest.approx([100.0, 100.0, 50.0])
    assert got["share_of_byproducts_used"].tolist() == pytest.approx([1.0, 1.0, 1.0])
    # sawdust: 50 t x 0.9 - 50 t x 26 km x 0.1 kg/t-km = 45 - 0.13
    assert got["net_co2_t"].tolist() == pytest.approx([80 - 0.182, 1 - 0.0585, 45 - 0.13])
    assert got["tonnes_by_material"].tolist() == ["fly_ash:100", "bottom_ash:100", "sawdust:50"]
    with pytest.raises(InputError, match=r"cluster_metrics: firms is missing column\(s\) cluster"):
        symbiosis.cluster_metrics(register(), links)


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [
        (lambda f: f.drop(columns="outputs"), InputError, r"symbiosis.match: firms is missing column\(s\) outputs"),
        (
            lambda f: f.assign(firm_id=["P1", "P1"]),
            InputError,
            r"symbiosis.match: firms row 2: firm_id 'P1' is used more than once",
        ),
        (
            lambda f: f.assign(outputs=["fly_ash:-100", ""]),
            MaterialError,
            r"firm 'P1' outputs: amount '-100' for 'fly_ash' must be a number >= 0",
        ),
        (
            lambda f: f.assign(inputs=["", "fly_ash:sixty"]),
            MaterialError,
            r"firm 'C1' inputs: amount 'sixty' for 'fly_ash' is not a number",
        ),
        (
            lambda f: f.assign(inputs=["", "fly_ash 60"]),
            MaterialError,
            r"firm 'C1' inputs: item 'fly_ash 60' is not 'material:tonnes'",
        ),
        (
            lambda f: f.set_geometry([Point(X0, Y0), Point()], crs=f.crs),
            InputError,
            r"firms row 2 \(firm_id 'C1'\) has no geometry",
        ),
        (lambda f: f.drop(columns="geometry"), InputError, r"expects a GeoDataFrame of firms, got DataFrame"),
    ],
)
def test_bad_registers_name_the_row(edit, error, match):
    with pytest.raises(error, match=match):
        symbiosis.match(edit(register(["P1", "C1"])))


def test_empty_register_gives_no_links():
    empty = register([])
    links = symbiosis.match(empty)
    assert len(links) == 0 and list(links.columns) == LINK_COLUMNS
    assert len(symbiosis.unmatched(empty, links)) == 0
    assert symbiosis.metrics(empty, links)["n_firms"] == 0


def test_polygon_firms_stand_for_a_point():
    firms = register(["P1", "C1"])
    firms.geometry = firms.geometry.buffer(100)  # sites drawn as areas: their centres are used
    got = links_of(symbiosis.match(firms), "fly_ash")
    assert got[("P1", "C1")] == pytest.approx((60.0, 13.0), rel=1e-3)


def test_sample_region_links():
    from eicgeo import io
    from eicgeo.datasets import sample_path

    firms = io.read_firms(sample_path() / "firms.csv", crs="EPSG:32647")
    links = symbiosis.match(firms)
    assert links["material"].nunique() >= 5
    supply, demand = flows_of(firms, "outputs"), flows_of(firms, "inputs")
    for (firm, material), sent in links.groupby(["from_firm", "material"])["tonnes"].sum().items():
        assert sent <= supply[(firm, material)] * (1 + 1e-9) + 1e-6, (firm, material)
    for (firm, material), got in links.groupby(["to_firm", "material"])["tonnes"].sum().items():
        assert got <= demand[(firm, material)] * (1 + 1e-9) + 1e-6, (firm, material)
    assert (links["km"] <= 33.0 + 1e-9).all()
    m = symbiosis.metrics(firms, links)
    assert 0 < m["share_of_byproducts_used"] <= 1
    left = symbiosis.unmatched(firms, links)
    # what is offered is either shipped or left over, firm by firm
    shipped = links.groupby(["from_firm", "material"])["tonnes"].sum()
    for row in left.itertuples():
        assert row.matched == pytest.approx(shipped.get((row.firm_id, row.material), 0.0))
        assert row.offered == pytest.approx(supply[(row.firm_id, row.material)])


def test_read_firms_blank_id_names_the_row(tmp_path):
    from eicgeo import io

    path = tmp_path / "firms.csv"
    path.write_text(
        "firm_id,name,sector,lon,lat,inputs,outputs\n"
        "F1,a,coal_power,100.4,14.8,,fly_ash:100\n"
        ",b,cement,100.5,14.8,fly_ash:60,\n"
    )
    with pytest.raises(InputError, match=r"row 3: firm_id is empty; every firm needs a unique id"):
        io.read_firms(path)


def test_firms_outside_the_study_area_are_dropped_with_a_count():
    from eicgeo._errors import EicgeoWarning
    from eicgeo.grid import Grid
    from eicgeo.pipeline import _inside

    # a 55 x 55 km study area from 5 km west and south of P1: P1, C1 (10 km east) and U1 (40 km
    # north) are inside; B1 (20 km west) and the 15 firms 100 km and more away are not
    grid = Grid.from_bounds((X0 - 5_000, Y0 - 5_000, X0 + 50_000, Y0 + 50_000), 100, "EPSG:32647")
    notes: list[str] = []
    with pytest.warns(EicgeoWarning, match=r"16 of 19 firms lie outside the study area and were dropped") as info:
        kept = _inside(register(), grid, "firms", notes)
    assert str(info[0].message).endswith("(firm_id B1, S1, S2, D1, D2, P2, F1, F2, K1, K2, ...)")
    assert kept["firm_id"].tolist() == ["P1", "C1", "U1"]
    assert notes == [str(info[0].message)]


def test_symbiosis_potential_by_hand():
    from eicgeo.grid import Grid

    # 20 x 20 cells of 1 km; reach 4.5 km / detour 1.5 = 3 km, i.e. 3 cells
    grid = Grid.from_bounds((X0, Y0, X0 + 20_000, Y0 + 20_000), 1000, "EPSG:32647")

    def at(row, col):  # the centre of a cell (row 0 is the northern edge)
        return Point(X0 + (col + 0.5) * 1000, Y0 + 20_000 - (row + 0.5) * 1000)

    left = gpd.GeoDataFrame(
        {
            "firm_id": ["A", "B", "C", "D"],
            "unit": ["t/yr", "t/yr", "MWh/yr", "t/yr"],
            "unmatched": [10.0, 30.0, 100.0, 7.0],
        },
        # D is 2 cells north of the grid: it still counts for the cells within its reach
        geometry=[at(5, 5), at(5, 9), at(5, 5), at(-2, 5)],
        crs="EPSG:32647",
    )
    layer = symbiosis.potential(left, grid, max_km=4.5, detour=1.5)
    assert layer.name == "symbiosis_potential" and layer.dtype == np.float32
    assert layer.attrs["units"] == "t/yr"
    v = layer.values
    assert v.shape == (20, 20)
    assert v[5, 5] == pytest.approx(10.0)  # A; B is 4 cells away; steam (MWh) is not summed
    assert v[5, 7] == pytest.approx(40.0)  # A and B both 2 cells away
    assert v[5, 12] == pytest.approx(30.0)  # B, 3 cells: the edge of the disc is in
    assert v[5, 13] == pytest.approx(0.0, abs=1e-9)
    assert v[8, 5] == pytest.approx(10.0)  # A, 3 cells south
    assert v[8, 6] == pytest.approx(0.0, abs=1e-9)  # sqrt(3² + 1²) = 3.16 cells: out
    assert v[0, 5] == pytest.approx(7.0) and v[1, 5] == pytest.approx(7.0)  # D from outside
    assert v[2, 5] == pytest.approx(10.0)  # D is 4 cells away, A 3
    assert (v >= 0).all()
    # a disc of 29 cells (radius 3) around each firm in the grid; D's disc is partly outside
    assert v.sum() == pytest.approx(29 * 10 + 29 * 30 + 7 * (1 + 5))
    empty = symbiosis.potential(left.iloc[:0], grid)
    assert float(empty.sum()) == 0.0


# --------------------------------------------------------------------------------------------
# the symbiosis stage of the pipeline
# --------------------------------------------------------------------------------------------
def test_pipeline_symbiosis_stage(tmp_path):
    import pyogrio

    import eicgeo
    from eicgeo import report
    from eicgeo._errors import EicgeoWarning
    from eicgeo.datasets import sample_path
    from eicgeo.pipeline import STAGES

    base = sample_path()
    # the sample register, plus a roaster offering a by-product the user adds to the
    # vocabulary (at the site of rice mill F0001) and a firm far outside the region
    register = (base / "firms.csv").read_text().rstrip("\n") + "\n"
    register += "F9001,Roaster,food_processing,100.33408,14.686764,5,,coffee_grounds:500\n"
    register += "F9002,Far away,rice_mill,99.0,13.0,5,,rice_husk:10\n"
    (tmp_path / "firms.csv").write_text(register)
    (tmp_path / "materials.csv").write_text(
        "name,kind,used_by,co2_avoided\ncoffee_grounds,byproduct,biogas_plant,0.4\n"
    )
    scenario = eicgeo.Scenario.from_dict(
        {
            "inputs": {
                "landcover": str(base / "landcover.tif"),
                "firms": "firms.csv",
                "materials": "materials.csv",
            },
            "criteria": {"landcover": {"weight": 1}, "symbiosis_potential": {"weight": 1}},
            "zones": {"n": 2},
        },
        base_dir=tmp_path,
    )
    with pytest.warns(
        EicgeoWarning, match=r"1 of 240 firms lie outside the study area and were dropped \(firm_id F9002\)"
    ):
        result = eicgeo.run(scenario, progress=False)
    assert STAGES.index("symbiosis") < STAGES.index("criteria")  # the criterion needs the unmatched outputs

    coffee = result.unmatched[result.unmatched["material"] == "coffee_grounds"]
    assert coffee[["firm_id", "unit", "offered", "unmatched"]].values.tolist() == [["F9001", "t/yr", 500.0, 500.0]]
    raw = result.layers["symbiosis_potential"]
    assert raw.attrs["units"] == "t/yr"
    # the roaster's own cell has at least its 500 t and everything unmatched in reach of it
    x, y = coffee.geometry.iloc[0].x, coffee.geometry.iloc[0].y
    here = float(raw.sel(x=x, y=y, method="nearest"))
    assert here >= 500.0
    left = result.unmatched[result.unmatched["unit"] == "t/yr"]
    near = np.hypot(left.geometry.x - x, left.geometry.y - y) <= 33_000 / 1.3 - 150  # clear of cell snapping
    assert here >= float(left.loc[near, "unmatched"].sum()) - 1e-3 * here
    standard = result.criteria["symbiosis_potential"]
    assert float(standard.max()) == pytest.approx(1.0)  # linear from 0 to the regional maximum
    assert "road_access" in result.fallbacks  # no roads: straight-line travel times, said so

    m = result.symbiosis_metrics
    assert m["n_firms"] == 239 and m["n_links"] > 0 and m["anchor_firms"]
    assert len(result.cluster_metrics) == len(result.clusters) > 0
    text = report.report_markdown(result)
    assert "degree centralisation" in text and "Anchor firms (largest exchanged tonnage): " in text
    assert "### Firm clusters" in text
    assert "### Unmatched outputs: opportunities for new firms" in text
    # the largest unmatched tonnes come first
    top = symbiosis.opportunities(result.unmatched, vocab=result.vocabulary).iloc[0]
    assert (
        f"| {top.firm_id} | {top.sector} | {top.material} | t/yr | {top.offered:,.0f} | {top.unmatched:,.0f} |" in text
    )
    # the cement works' unmatched CO2 is in the layer but not among the opportunities
    co2 = result.unmatched[result.unmatched["material"] == "co2"]
    assert len(co2) and (co2["unmatched"] > 0).all()
    opportunities = text.split("### Unmatched outputs: opportunities for new firms", 1)[1].split("\n#", 1)[0]
    assert "| co2 |" not in opportunities

    folder = tmp_path / "gpkg"
    folder.mkdir()
    from eicgeo import io

    io.write_gpkg(folder / "firms.gpkg", {"unmatched": result.unmatched, "links": result.links})
    stored = gpd.read_file(folder / "firms.gpkg", layer="unmatched")
    assert len(stored) == len(result.unmatched)
    fields = set(pyogrio.read_info(folder / "firms.gpkg", layer="links")["fields"])
    assert {"co2_avoided_t", "transport_co2_t", "net_co2_t"} <= fields
    assert "unmatched" in report.OUTPUT_FILES["firms.gpkg"]


def test_read_firms_warns_about_unknown_sectors(tmp_path):
    from eicgeo import io
    from eicgeo._errors import EicgeoWarning

    path = tmp_path / "firms.csv"
    path.write_text(
        "firm_id,name,sector,lon,lat,inputs,outputs\n"
        "F1,a,coal_power,100.4,14.8,,fly_ash:100\n"
        "F2,b,cement,100.5,14.8,fly_ash:60,\n"
        "F3,c,rice mill,100.5,14.9,,rice_husk:5\n"
        "F4,d,spaceport,100.5,14.7,,\n"
    )
    with pytest.warns(
        EicgeoWarning,
        match=r"2 firm\(s\) have a sector that the vocabulary does not list; "
        r"the first is row 4 \(firm_id 'F3'\): 'rice mill' \(did you mean 'rice_mill'",
    ):
        firms = io.read_firms(path)
    assert firms["sector"].tolist() == ["coal_power", "cement", "rice mill", "spaceport"]  # kept as given


def test_parallel_roads_take_the_shorter_not_their_sum():
    # Two roads join the same pair of junctions, 8 km and 10 km long: the trip takes the 8 km one
    # (an earlier version summed parallel edges into 18 km).
    firms = register(["P1", "C1"])
    graph = nx.MultiDiGraph(crs="EPSG:32647")
    graph.add_node(1, x=X0, y=Y0)
    graph.add_node(2, x=X0 + 7_000, y=Y0)
    graph.add_node(3, x=X0 + 10_000, y=Y0)
    graph.add_edge(1, 2, length=8_000.0)
    graph.add_edge(1, 2, length=10_000.0)
    graph.add_edge(2, 3, length=3_000.0)
    got = links_of(symbiosis.match(firms, graph=graph), "fly_ash")
    assert got == {("P1", "C1"): pytest.approx((60.0, 11.0))}


def test_road_searches_reach_across_tiles_and_stop_at_max_km():
    # Suppliers are searched tile by tile (tiles max_km wide); a user in the next tile, 30 km by
    # road, is found, and one 36 km away is not (max_km 33).
    firms = gpd.GeoDataFrame(
        {
            "firm_id": ["S", "U1", "U2"],
            "inputs": ["", "fly_ash:10", "fly_ash:10"],
            "outputs": ["fly_ash:100", "", ""],
        },
        geometry=[Point(32_000, 0), Point(62_000, 0), Point(68_000, 0)],
        crs="EPSG:32647",
    )
    graph = nx.MultiDiGraph(crs="EPSG:32647")
    for k, x in enumerate([32_000, 62_000, 68_000]):
        graph.add_node(k, x=float(x), y=0.0)
    for a, b in ((0, 1), (1, 2)):
        length = abs(graph.nodes[b]["x"] - graph.nodes[a]["x"])
        graph.add_edge(a, b, length=length)
        graph.add_edge(b, a, length=length)
    got = links_of(symbiosis.match(firms, graph=graph, max_km=33), "fly_ash")
    assert got == {("S", "U1"): pytest.approx((10.0, 30.0))}


def test_a_compiled_network_gives_the_graphs_road_distances():
    # The pipeline passes the compiled network (edge_length), not the networkx graph.
    from eicgeo import roads

    firms = register(["P1", "C1"])
    graph = nx.MultiDiGraph(crs="EPSG:32647")
    graph.add_node(1, x=X0, y=Y0)
    graph.add_node(2, x=X0 + 5_000, y=Y0 + 5_000)
    graph.add_node(3, x=X0 + 10_000, y=Y0 - 1_000)
    for a, b in ((1, 2), (2, 3)):
        graph.add_edge(a, b, length=8_000.0, travel_time=600.0, highway="primary")
    want = links_of(symbiosis.match(firms, graph=graph), "fly_ash")
    got = links_of(symbiosis.match(firms, graph=roads.compile_network(graph)), "fly_ash")
    assert got == want == {("P1", "C1"): pytest.approx((60.0, 17.0))}
