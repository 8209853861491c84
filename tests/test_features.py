"""Ranking features on a hand-built market whose right answers are computed by hand."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import numpy as np
import pytest

from matching.domain.records import Enterprise, Event, Financials, Investor, Mandate, Need
from matching.features.collaborative import CollaborativeModel
from matching.features.table import (
    FEATURE_NAMES,
    FEATURES,
    History,
    compute_features,
    feature_values,
    features_hash,
)
from matching.snapshot.core import MarketSnapshot, build_snapshot, to_days


def ent(eid: str, industry: str | None, district: str | None, **kw: object) -> Enterprise:
    return Enterprise(
        name=f"企业{eid}", external_id=eid, industry_code=industry, district_code=district, **kw
    )


def ev(key: str, inv: str, e: str, kind: str, day: int, need: str | None = None) -> Event:
    return Event(
        event_key=key,
        investor_key=f"platform:{inv}",
        enterprise_key=f"platform:{e}",
        event_type=kind,
        occurred_at=datetime(2024, 1, day, 12, tzinfo=UTC),
        need_ref=need,
    )


ENTERPRISES = [
    ent(
        "bio",
        "biomedicine",
        "500112",
        tier="growth",
        boards=["srdi"],
        qualifications=["little_giant", "high_tech"],
        founded_on=date(2014, 1, 10),
        financials=[Financials(2023, revenue=9_999_999.0, revenue_growth=0.3, rd_ratio=0.12, patents=20)],
    ),
    ent("sw", "software", "500103", tier="basic"),
    ent("nev", "nev_auto", "500105", tier="growth"),
    ent("biomf", "biomanufacturing", "500103", tier="select"),  # same cluster (health) as biomedicine
    ent("a", "biomedicine", "500112"),  # history only
    ent("b", "software", "500103"),
    ent("c", "biomedicine", "500103"),
    ent("us", None, None, industry_raw="Biotech", province="CA", country="US"),  # CrunchBase-like, no need
    ent("new", "biomedicine", "500112", tier="growth"),  # cold: no history at all
]
INVESTORS = [
    Investor(name="生物医药基金", investor_type="vc", external_id="i1", district_code="500112", aum=2e9),
    Investor(name="综合基金", investor_type="pe", external_id="i2"),
    Investor(name="US fund", investor_type="vc", external_id="i3", province="CA", country="US"),
]
MANDATES = [
    Mandate(
        "platform:i1",
        sectors=["biomedicine"],
        stages=["a", "b"],
        ticket_min=1e7,
        ticket_max=5e7,
        regions=["chongqing"],
        districts=["500112"],
        tiers=["growth", "select"],
    ),
    Mandate("platform:i2"),
    Mandate("platform:i3", sectors_raw=["Biotech"], regions=["overseas"]),
]
NEEDS = [
    Need("n-bio", "platform:bio", "equity", 3e7, round="a", opened_on=date(2024, 1, 1)),
    Need("n-sw", "platform:sw", "equity", 2e8, round="c", opened_on=date(2024, 1, 1)),
    Need("n-nev", "platform:nev", "ip_pledge", 5e6, opened_on=date(2024, 1, 1)),
    Need("n-a", "platform:a", "equity", 2e7, round="a"),
    Need("n-b", "platform:b", "equity", 2e7, round="b"),
    Need("n-new", "platform:new", "equity", 2e7, round="a", opened_on=date(2024, 1, 20)),
]
EVENTS = [
    ev("e1", "i1", "a", "viewed", 2, "n-a"),
    ev("e2", "i1", "a", "meeting", 5, "n-a"),
    ev("e3", "i1", "b", "contact_requested", 6, "n-b"),
    ev("e4", "i1", "b", "invested", 12, "n-b"),
    ev("e5", "i1", "c", "viewed", 8),
    ev("e6", "i2", "bio", "saved", 9, "n-bio"),
    ev("e7", "i2", "a", "meeting", 10, "n-a"),
    ev("e8", "i3", "us", "invested", 11),
]
AS_OF = to_days(datetime(2024, 1, 25, tzinfo=UTC))


@pytest.fixture(scope="module")
def snap() -> MarketSnapshot:
    return build_snapshot(ENTERPRISES, INVESTORS, MANDATES, NEEDS, (), EVENTS)


def features(
    snap: MarketSnapshot,
    pairs: list[tuple[str, str, str | None]],
    as_of: float = AS_OF,
    hist: History | None = None,
) -> dict[str, np.ndarray]:
    inv = np.array([snap.inv_key_row[f"platform:{i}"] for i, _, _ in pairs])
    ent_rows = np.array([snap.ent_key_row[f"platform:{e}"] for _, e, _ in pairs])
    need = np.array([snap.need_ref.index(n) if n else -1 for _, _, n in pairs])
    hist = hist or History.build(snap, as_of)
    X = compute_features(snap, hist, inv, ent_rows, need, sim=np.full(len(pairs), 0.5))
    assert X.dtype == np.float32 and X.shape == (len(pairs), len(FEATURES))
    return {name: X[:, k] for k, name in enumerate(FEATURE_NAMES)}


def test_declaration_is_complete_and_hashed() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURES) >= 20
    for f in FEATURES:
        assert f.name.isidentifier() and f.zh and f.en and f.meaning
    assert len(features_hash()) == 16


def test_sector_fit_exact_cluster_and_generalist(snap: MarketSnapshot) -> None:
    f = features(
        snap, [("i1", "bio", "n-bio"), ("i1", "sw", "n-sw"), ("i1", "biomf", None), ("i2", "sw", "n-sw")]
    )
    assert f["sector_exact"].tolist() == [1, 0, 0, 0]
    assert f["sector_cluster"].tolist() == [1, 0, 1, 0]
    assert f["mandate_generalist"].tolist() == [0, 0, 0, 1]


def test_mandate_fit_known_answers(snap: MarketSnapshot) -> None:
    f = features(
        snap,
        [
            ("i1", "bio", "n-bio"),
            ("i1", "sw", "n-sw"),
            ("i1", "nev", "n-nev"),
            ("i2", "sw", "n-sw"),
            ("i1", "us", None),
        ],
    )
    assert f["stage_fit"][:2].tolist() == [1, 0] and math.isnan(f["stage_fit"][2])
    assert f["stage_fit"][3] == 1  # the generalist names no stage
    assert f["ticket_fit"][0] == pytest.approx(math.log(3) / math.log(5), abs=1e-6)
    assert f["ticket_fit"][1] == pytest.approx(math.log(20) / math.log(5), abs=1e-6)
    assert f["ticket_in_range"][:3].tolist() == [1, 0, 0]  # 500万 is below the 1000万 minimum
    assert math.isnan(f["ticket_fit"][3])  # no ticket range at all
    assert f["instrument_fit"][:3].tolist() == [1, 1, 0]  # an IP-pledge loan is not equity
    assert f["region_fit"].tolist() == [2, 1, 1, 1, 0]  # preferred district, in scope, …, outside Chongqing
    assert f["local_same_district"].tolist() == [1, 0, 0, 0, 0]
    assert f["tier_fit"].tolist() == [1, 0, 1, 0.5, 0]
    assert f["board_fit"].tolist() == [0.5] * 5


def test_enterprise_quality_and_ages(snap: MarketSnapshot) -> None:
    f = features(snap, [("i1", "bio", "n-bio"), ("i1", "sw", "n-sw")])
    assert f["ent_tier"].tolist() == [1, 0]
    assert f["ent_qualifications"].tolist() == [2, 0]
    assert f["ent_little_giant"].tolist() == [1, 0]
    assert f["ent_log_revenue"][0] == pytest.approx(7.0, abs=1e-6)
    assert f["ent_growth"][0] == pytest.approx(0.3) and f["ent_rd_ratio"][0] == pytest.approx(0.12)
    assert f["ent_log_patents"][0] == pytest.approx(math.log1p(20), abs=1e-6)
    assert math.isnan(f["ent_log_revenue"][1])  # undisclosed stays missing
    assert f["ent_age_years"][0] == pytest.approx((AS_OF - to_days(date(2014, 1, 10))) / 365.25, abs=1e-4)
    assert f["need_age_days"][0] == pytest.approx(AS_OF - to_days(date(2024, 1, 1)), abs=1e-3)
    assert f["inv_log_aum"][0] == pytest.approx(math.log10(1 + 2e9), abs=1e-5)


def test_share_features_equal_hand_computed_fractions(snap: MarketSnapshot) -> None:
    # i1's positives (grade >= 3): a (biomedicine, 500112, round a, meeting) and b (software, 500103, round b,
    # invested); c was only viewed. So 2 deals: half biomedicine, half in 500112, half at round a.
    f = features(
        snap, [("i1", "bio", "n-bio"), ("i1", "sw", "n-sw"), ("i1", "nev", "n-nev"), ("i2", "bio", "n-bio")]
    )
    assert f["inv_positives"].tolist() == [2, 2, 2, 1]
    assert f["sector_share"][:3].tolist() == [0.5, 0.5, 0.0]
    assert f["region_share"][:3].tolist() == [0.5, 0.5, 0.0]  # 500112, 500103, 500105
    assert f["stage_share"][0] == 0.5 and f["stage_share"][1] == 0.0 and math.isnan(f["stage_share"][2])
    assert f["sector_share"][3] == 1.0  # i2's only deal (a) is biomedicine
    cold = features(snap, [("i1", "bio", "n-bio")], as_of=to_days(datetime(2024, 1, 3, tzinfo=UTC)))
    assert cold["inv_positives"][0] == 0 and math.isnan(cold["sector_share"][0])  # no deal yet: unknown


def test_activity_exposure_popularity_and_prior_engagement(snap: MarketSnapshot) -> None:
    f = features(snap, [("i1", "a", "n-a"), ("i1", "b", "n-b"), ("i2", "a", "n-a"), ("i1", "bio", "n-bio")])
    assert f["inv_activity_90d"].tolist() == [5, 5, 2, 5]
    assert f["inv_invested_365d"].tolist() == [1, 1, 0, 1]
    assert f["inv_capacity_left"][0] == pytest.approx(1 - 1 / (2e9 / 5 / math.sqrt(1e7 * 5e7)), abs=1e-6)
    assert f["ent_exposure_30d"].tolist() == [3, 2, 3, 1]
    assert f["ent_popularity"].tolist() == [2, 1, 2, 1]
    assert f["pair_prior_engagement"][:3].tolist() == [3, 5, 3] and math.isnan(f["pair_prior_engagement"][3])


def test_point_in_time_event_at_or_after_as_of_is_invisible(snap: MarketSnapshot) -> None:
    t = to_days(datetime(2024, 1, 12, 12, tzinfo=UTC))  # the instant of e4 (invested)
    f = features(snap, [("i1", "b", "n-b")], as_of=t)
    assert f["pair_prior_engagement"][0] == 3 and f["inv_invested_365d"][0] == 0
    future = [*EVENTS, ev("late", "i1", "bio", "invested", 20, "n-bio")]
    later = build_snapshot(ENTERPRISES, INVESTORS, MANDATES, NEEDS, (), future)
    pairs = [("i1", "bio", "n-bio"), ("i1", "b", "n-b"), ("i2", "a", "n-a")]
    before = np.column_stack(list(features(snap, pairs, as_of=t).values()))
    after = np.column_stack(list(features(later, pairs, as_of=t).values()))
    np.testing.assert_array_equal(before, after)


def test_without_need_and_with_raw_sectors(snap: MarketSnapshot) -> None:
    f = features(snap, [("i3", "us", None), ("i1", "us", None)])
    for name in (
        "stage_fit",
        "ticket_fit",
        "ticket_in_range",
        "instrument_fit",
        "need_age_days",
        "stage_share",
    ):
        assert np.isnan(f[name]).all(), name
    assert f["sector_exact"].tolist() == [1, 0] and f["sector_cluster"].tolist() == [1, 0]
    assert f["region_fit"].tolist() == [1, 0] and f["local_same_district"].tolist() == [1, 0]
    assert f["pair_prior_engagement"][0] == 5 and f["sector_share"][0] == 1.0 and f["region_share"][0] == 1.0


def test_cold_enterprise_gets_finite_content_and_collaborative_features(snap: MarketSnapshot) -> None:
    hist = History.build(snap, AS_OF)
    collab = CollaborativeModel().fit(snap, hist)
    new = snap.ent_key_row["platform:new"]
    inv, ent_rows, need = np.array([0, 1]), np.array([new, new]), np.array([snap.need_ref.index("n-new")] * 2)
    scores = collab.score(inv, ent_rows)
    assert np.isfinite(scores).all() and scores[1] > 0  # i2's nearest investor, i1, works in biomedicine
    X = compute_features(snap, hist, inv, ent_rows, need, sim=np.array([0.3, 0.2]), collab=scores)
    f = {n: X[0, k] for k, n in enumerate(FEATURE_NAMES)}  # i1 × the new enterprise
    missing = {
        "portfolio_sim",
        "pair_prior_engagement",
        "ent_age_years",
        "ent_log_revenue",
        "ent_growth",
        "ent_rd_ratio",
        "ent_log_patents",
    }  # no vectors given, never met, nothing disclosed
    assert {n for n, v in f.items() if math.isnan(v)} == missing
    assert f["ent_popularity"] == 0 and f["ent_exposure_30d"] == 0 and f["sector_share"] == 0.5


def test_portfolio_similarity_uses_past_deals_only() -> None:
    snap = build_snapshot(ENTERPRISES, INVESTORS, MANDATES, NEEDS, (), EVENTS)
    vecs = np.eye(len(ENTERPRISES), dtype=np.float32)
    hist = History.build(snap, AS_OF, ent_vecs=vecs)
    rows = [snap.ent_key_row[f"platform:{k}"] for k in ("a", "b", "c", "bio")]
    sims = hist.portfolio_sim(np.zeros(4, dtype=np.int64), np.array(rows))
    assert sims.tolist() == pytest.approx([1 / math.sqrt(2), 1 / math.sqrt(2), 0.0, 0.0])
    assert math.isnan(History.build(snap, AS_OF).portfolio_sim(np.array([0]), np.array([0]))[0])


def test_feature_values_is_json_friendly(snap: MarketSnapshot) -> None:
    inv, e, n = np.array([0]), np.array([snap.ent_key_row["platform:us"]]), np.array([-1])
    X = compute_features(snap, History.build(snap, AS_OF), inv, e, n, sim=np.array([0.25]))
    values = feature_values(X[0])
    assert list(values) == list(FEATURE_NAMES)
    assert values["semantic_sim"] == 0.25 and values["ticket_fit"] is None and values["collab_score"] is None
    with pytest.raises(ValueError, match="expected"):
        feature_values(X[0, :3])


def test_pair_arrays_must_align(snap: MarketSnapshot) -> None:
    with pytest.raises(ValueError, match="differ in length"):
        compute_features(
            snap,
            History.build(snap, AS_OF),
            np.array([0, 1]),
            np.array([0]),
            np.array([-1]),
            sim=np.array([0.1]),
        )


def test_financials_are_read_as_reported_by_the_features_moment() -> None:
    """A year's figures are known once the year has ended: a feature computed in mid-2021 reads 2020's
    revenue, one computed in 2022 reads 2021's (never today's latest year, which would be the future)."""
    from matching.features.table import FEATURE_INDEX, History, compute_features

    ent = Enterprise(name="重庆测试科技有限公司", source="test", external_id="e1", industry_code="C39",
                     financials=[Financials(2020, revenue=1e6, patents=3), Financials(2021, revenue=9e6, patents=8)])
    inv = Investor(name="测试创投", investor_type="vc", source="test", external_id="i1")
    snap = build_snapshot([ent], [inv], as_of=datetime(2023, 1, 1, tzinfo=UTC))
    assert snap.ent_revenue[0] == 9e6  # the profile's latest figures (what the page shows)
    for when, revenue, patents in ((datetime(2021, 6, 1, tzinfo=UTC), 1e6, 3),
                                   (datetime(2022, 1, 2, tzinfo=UTC), 9e6, 8),
                                   (datetime(2020, 6, 1, tzinfo=UTC), None, None)):
        hist = History.build(snap, to_days(when))
        X = compute_features(snap, hist, np.array([0]), np.array([0]), np.array([-1]), sim=np.array([0.0]))
        got = X[0, FEATURE_INDEX["ent_log_revenue"]], X[0, FEATURE_INDEX["ent_log_patents"]]
        if revenue is None:
            assert np.isnan(got[0]) and np.isnan(got[1])
        else:
            assert got[0] == pytest.approx(math.log10(1 + revenue)) and got[1] == pytest.approx(math.log1p(patents))
