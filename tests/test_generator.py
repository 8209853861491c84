"""The synthetic market generator: determinism, validity, hard rules and the hidden preference."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date, datetime

import numpy as np
import pytest

from matching.domain.credit_code import is_valid_credit_code
from matching.domain.industries import INDUSTRY_CODES
from matching.domain.records import Mandate
from matching.domain.regions import DISTRICT_CODES
from matching.domain.vocab import (
    BOARDS,
    CURRENCIES,
    DEBT_INSTRUMENTS,
    DEBT_ONLY_INVESTOR_TYPES,
    DISCLOSURE_LEVELS,
    ENTERPRISE_STATUSES,
    EVENT_TYPES,
    INSTRUMENTS,
    INVESTOR_STATUSES,
    INVESTOR_TYPES,
    LISTING_TARGETS,
    NEED_STATUSES,
    QUALIFICATIONS,
    REGION_SCOPES,
    ROUNDS,
    SECONDARY_KINDS,
    SECONDARY_STATUSES,
    STATE_FUND_LEVELS,
    TIERS,
)
from matching.errors import FieldError
from matching.synth import CST, Market, generate_market
from matching.synth.generator import add_months
from matching.synth.lexicon import PROFILES

SMALL = dict(n_enterprises=300, n_investors=40, months=6)
STAGE = {"viewed": 0, "saved": 1, "dismissed": 1, "contact_requested": 2, "contact_accepted": 3, "meeting": 4,
         "due_diligence": 5, "term_sheet": 6, "invested": 7}
PREVIOUS = {"saved": "viewed", "dismissed": "viewed", "contact_requested": "saved",
            "contact_accepted": "contact_requested", "meeting": "contact_accepted",
            "due_diligence": "meeting", "term_sheet": "due_diligence", "invested": "term_sheet"}


@pytest.fixture(scope="module")
def small() -> Market:
    return generate_market(**SMALL, seed=11)


@pytest.fixture(scope="module")
def medium() -> Market:
    """Large enough for statistical checks (about a thousand funnel starts per month)."""
    return generate_market(1500, 150, 12, seed=5)


def _mandate_at(market: Market) -> dict[str, list[Mandate]]:
    by_investor: dict[str, list[Mandate]] = defaultdict(list)
    for m in sorted(market.mandates, key=lambda m: m.version):
        by_investor[m.investor_key].append(m)
    return by_investor


def _valid_at(versions: list[Mandate], when: datetime) -> Mandate:
    current = versions[0]
    for m in versions[1:]:
        if m.valid_from is not None and m.valid_from <= when:
            current = m
    return current


def test_same_seed_same_market_other_seed_other_market(small: Market) -> None:
    again = generate_market(**SMALL, seed=11)
    assert again == small
    other = generate_market(**SMALL, seed=12)
    assert [e.credit_code for e in other.enterprises] != [e.credit_code for e in small.enterprises]
    assert [e.name for e in other.enterprises] != [e.name for e in small.enterprises]
    assert [(e.investor_key, e.enterprise_key) for e in other.events] != \
        [(e.investor_key, e.enterprise_key) for e in small.events]


def test_sizes_are_validated() -> None:
    with pytest.raises(FieldError, match="n_enterprises"):
        generate_market(0, 10, 1)
    with pytest.raises(FieldError, match="months"):
        generate_market(10, 10, 0)


def test_credit_codes_valid_unique_and_located(medium: Market) -> None:
    codes = [e.credit_code for e in medium.enterprises]
    assert len(set(codes)) == len(codes)
    assert all(is_valid_credit_code(c) for c in codes)
    for e in medium.enterprises:
        code = e.credit_code or ""
        assert code[:2] == "91"
        if e.district_code:
            assert code[2:8] == e.district_code
        org = code[8:17]  # GB 11714 organisation code with its own check character
        values = [int(c) if c.isdigit() else ord(c) - 55 for c in org[:8]]
        check = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
        assert org[8] == {10: "X", 11: "0"}.get(check, str(check))


def test_enum_values_come_from_the_vocabularies(medium: Market) -> None:
    m = medium
    for e in m.enterprises:
        assert e.tier in TIERS and e.listing_target in LISTING_TARGETS and e.disclosure in DISCLOSURE_LEVELS
        assert e.status in ENTERPRISE_STATUSES and e.industry_code in INDUSTRY_CODES
        assert set(e.boards) <= set(BOARDS.codes) and set(e.qualifications) <= set(QUALIFICATIONS.codes)
        assert e.district_code is None or e.district_code in DISTRICT_CODES
        assert e.district_code is not None or e.province != "重庆"
    for i in m.investors:
        assert i.investor_type in INVESTOR_TYPES and i.status in INVESTOR_STATUSES
        assert (i.state_fund_level in STATE_FUND_LEVELS) == (i.investor_type == "state_fund")
        assert i.amac_code is None or re.fullmatch(r"P1\d{6}", i.amac_code)
    for mm in m.mandates:
        assert set(mm.sectors) | set(mm.excluded_sectors) <= set(INDUSTRY_CODES)
        assert not set(mm.sectors) & set(mm.excluded_sectors)
        assert set(mm.stages) <= set(ROUNDS.codes) and set(mm.regions) <= set(REGION_SCOPES.codes)
        assert set(mm.tiers) <= set(TIERS.codes) and set(mm.boards) <= set(BOARDS.codes)
        assert set(mm.instruments) <= set(INSTRUMENTS.codes) and set(mm.districts) <= set(DISTRICT_CODES)
        assert mm.currency in CURRENCIES
    for n in m.needs:
        assert n.instrument in INSTRUMENTS and n.round in ROUNDS and n.status in NEED_STATUSES
    for s in m.secondaries:
        assert s.kind in SECONDARY_KINDS and s.status in SECONDARY_STATUSES
    assert {e.event_type for e in m.events} == set(EVENT_TYPES.codes)
    amac = [i.amac_code for i in m.investors if i.amac_code]
    assert len(set(amac)) == len(amac)


def test_every_type_instrument_and_status_present(small: Market) -> None:
    assert {i.investor_type for i in small.investors} == set(INVESTOR_TYPES.codes)
    assert {n.instrument for n in small.needs} == set(INSTRUMENTS.codes)
    assert {s.kind for s in small.secondaries} == set(SECONDARY_KINDS.codes)
    levels = {i.state_fund_level for i in small.investors if i.investor_type == "state_fund"}
    assert levels <= {"municipal", "district"} and levels


def test_mandates_are_coherent_with_investor_type(medium: Market) -> None:
    types = {i.key: i.investor_type for i in medium.investors}
    versions = Counter(m.investor_key for m in medium.mandates)
    assert set(versions) == set(types)
    revised = sum(v == 2 for v in versions.values())
    assert 0.05 < revised / len(types) < 0.3
    by_investor = _mandate_at(medium)
    for first, *rest in by_investor.values():
        assert first.version == 1 and [m.version for m in rest] in ([], [2])
        for later in rest:
            assert later.valid_from and first.valid_from and later.valid_from > first.valid_from
            assert (later.sectors, later.ticket_min) != (first.sectors, first.ticket_min)
    for mm in medium.mandates:
        kind = types[mm.investor_key]
        assert mm.ticket_min is not None and mm.ticket_max is not None and 0 <= mm.ticket_min <= mm.ticket_max
        assert mm.thesis
        if kind in DEBT_ONLY_INVESTOR_TYPES:
            assert mm.instruments and set(mm.instruments) <= DEBT_INSTRUMENTS
        elif kind == "s_fund":
            assert mm.instruments == ["old_shares"]
        else:
            assert "equity" in mm.instruments
        if kind == "state_fund":
            assert mm.regions == ["chongqing"] and mm.local_reinvest_ratio
        if kind == "qfi":
            assert "national" in mm.regions
    district_funds = [i for i in medium.investors if i.state_fund_level == "district"]
    assert district_funds
    assert all(by_investor[i.key][0].districts == [i.district_code] for i in district_funds)


def test_tier_correlations(medium: Market) -> None:
    ents = medium.enterprises
    tiers = Counter(e.tier for e in ents)
    assert tiers["basic"] > tiers["growth"] > tiers["select"] > 0

    def share(tier: str, flag: str) -> float:
        group = [e for e in ents if e.tier == tier]
        return sum(flag in e.qualifications for e in group) / len(group)

    assert share("select", "ipo_reserve") > 0.3 > 0.05 > share("basic", "ipo_reserve")
    assert share("select", "srdi_municipal") > share("basic", "srdi_municipal")
    listed = {t: np.mean([e.listing_target != "none" for e in ents if e.tier == t]) for t in TIERS.codes}
    assert listed["select"] > listed["growth"] > listed["basic"]
    joint_stock = {t: np.mean([e.name.endswith("股份有限公司") for e in ents if e.tier == t])
                   for t in TIERS.codes}
    assert joint_stock["select"] > 0.8 > 0.2 > joint_stock["basic"]
    assert all(e.district_code in ("500112", "500105", "500109") for e in ents if "liangjiang" in e.boards)
    rural = [e for e in ents if "rural" in e.boards]
    assert np.mean([e.industry_code in ("food_agri", "modern_agri") for e in rural]) > 0.5
    revenue = {t: np.median([e.financials[-1].revenue for e in ents if e.tier == t]) for t in TIERS.codes}
    assert revenue["select"] > revenue["growth"] > revenue["basic"]
    for e in ents:
        years = [f.year for f in e.financials]
        assert 1 <= len(years) <= 3 and years == sorted(years) and years[-1] == medium.start.year - 1
        assert e.founded_on and e.founded_on < medium.start
        assert e.registered_capital and e.registered_capital > 0


def test_names_unique_and_descriptions_varied(medium: Market) -> None:
    ents = medium.enterprises
    names = [e.name for e in ents]
    assert len(set(names)) == len(names)
    assert all(n.endswith("有限公司") for n in names)
    assert len({i.name for i in medium.investors}) == len(medium.investors)
    texts = [e.description for e in ents]
    assert len(set(texts)) >= 0.9 * len(texts)
    assert all(40 <= len(t) <= 200 for t in texts)
    lengths = [len(t) for t in texts]
    assert np.percentile(lengths, 90) - np.percentile(lengths, 10) > 40
    sentences = Counter(t.count("。") for t in texts)
    assert len(sentences) >= 4
    # Openings: blank out the company's own names and digits, then compare the first characters.
    openings = Counter(
        re.sub(r"\d+", "0", t.replace(e.name, "N").replace(e.short_name or "N", "S"))[:4]
        for t, e in zip(texts, ents, strict=True))
    assert len(openings) >= 8 and openings.most_common(1)[0][1] < 0.35 * len(texts)
    theses = [m.thesis for m in medium.mandates]
    assert len(set(theses)) >= 0.9 * len(theses)


def test_every_industry_has_text_material() -> None:
    assert set(PROFILES) == set(INDUSTRY_CODES)


def test_needs_and_listings_are_plausible(medium: Market) -> None:
    ents = {e.key: e for e in medium.enterprises}
    end = add_months(medium.start, medium.months)
    per_enterprise = Counter(n.enterprise_key for n in medium.needs)
    assert set(per_enterprise.values()) <= {1, 2}
    assert 0.7 < len(per_enterprise) / len(ents) < 0.95
    for n in medium.needs:
        tier = ents[n.enterprise_key].tier
        low, high = {"basic": (1e6, 3e7), "growth": (5e6, 2e8), "select": (2e7, 8e8)}[tier]
        assert low <= n.amount <= high
        assert n.opened_on and n.closes_on and medium.start <= n.opened_on < end and n.closes_on > n.opened_on
        assert (n.round == "debt") == (n.instrument in DEBT_INSTRUMENTS)
    statuses = Counter(n.status for n in medium.needs)
    assert statuses["open"] == max(statuses.values()) and statuses["closed"] > 0
    for s in medium.secondaries:
        assert s.discount is not None and 0 <= s.discount <= 0.4 + 1e-3 and s.asking_price > 0
        if s.kind == "fund_interest":
            assert s.fund_name and s.vintage and s.vintage < medium.start.year and s.enterprise_key is None
        else:
            assert s.enterprise_key in ents and s.fund_name is None
    assert {s.status for s in medium.secondaries} >= {"open", "sold"}


def test_events_reference_existing_records_and_are_well_formed(medium: Market) -> None:
    m = medium
    investors = {i.key for i in m.investors}
    needs = {n.ref: n for n in m.needs}
    secondaries = {s.ref: s for s in m.secondaries}
    start = datetime.combine(m.start, datetime.min.time(), CST)
    end = datetime.combine(add_months(m.start, m.months), datetime.min.time(), CST)
    keys = [e.event_key for e in m.events]
    assert len(set(keys)) == len(keys) and all(k.startswith(f"gen-{m.seed}-") for k in keys)
    assert all(a.occurred_at <= b.occurred_at for a, b in zip(m.events, m.events[1:], strict=False))
    for e in m.events:
        assert e.source == "generator" and e.occurred_at.tzinfo is not None
        assert start <= e.occurred_at < end
        assert e.investor_key in investors
        assert (e.need_ref is None) != (e.secondary_ref is None)
        if e.need_ref:
            target = needs[e.need_ref].enterprise_key
        else:
            target = secondaries[e.secondary_ref or ""].enterprise_key
        assert target == e.enterprise_key
        if e.event_type == "contact_accepted":
            assert e.actor == "enterprise"
        elif e.event_type != "declined":
            assert e.actor == "investor"
        if e.event_type == "invested":
            assert e.amount and e.amount > 0 and e.currency == "CNY" and e.round in ROUNDS
        else:
            assert e.amount is None
    joined = {i.key: i.created_at for i in m.investors}
    listed = {e.key: e.created_at for e in m.enterprises}
    for e in m.events:
        assert joined[e.investor_key] and e.occurred_at > joined[e.investor_key]
        assert listed[e.enterprise_key] and e.occurred_at > listed[e.enterprise_key]
        if e.need_ref:
            assert e.occurred_at.date() >= (needs[e.need_ref].opened_on or m.start)
    raised: Counter[str] = Counter()
    for e in m.events:
        if e.event_type == "invested" and e.need_ref:
            raised[e.need_ref] += e.amount or 0
    assert raised and all(raised[ref] <= needs[ref].amount + 1e4 for ref in raised)
    assert {e.actor for e in m.events if e.event_type == "declined"} == {"investor", "enterprise"}


def test_funnel_is_time_ordered_per_pair(medium: Market) -> None:
    pairs: dict[tuple[str, str], list] = defaultdict(list)
    for e in medium.events:
        pairs[(e.investor_key, e.enterprise_key)].append(e)
    for events in pairs.values():
        events.sort(key=lambda e: e.occurred_at)
        seen = [e.event_type for e in events]
        assert seen[0] == "viewed"
        steps = [e for e in events if e.event_type not in ("viewed", "declined")]
        stages = [STAGE[e.event_type] for e in steps]
        assert stages == sorted(stages) and len(stages) == len(set(stages))
        for e in steps:
            assert PREVIOUS[e.event_type] in seen[: seen.index(e.event_type)]
        if "declined" in seen:
            assert seen.count("declined") == 1 and "invested" not in seen
            assert all(x.event_type == "viewed" for x in events[seen.index("declined") + 1:])
            assert "contact_requested" in seen


def test_hard_rules_hold_in_the_history(medium: Market) -> None:
    types = {i.key: i.investor_type for i in medium.investors}
    needs = {n.ref: n for n in medium.needs}
    industry = {e.key: e.industry_code for e in medium.enterprises}
    versions = _mandate_at(medium)
    kinds_seen = Counter()
    for e in medium.events:
        kind = types[e.investor_key]
        instrument = needs[e.need_ref].instrument if e.need_ref else "old_shares"
        mandate = _valid_at(versions[e.investor_key], e.occurred_at)
        assert instrument in mandate.instruments
        assert industry[e.enterprise_key] not in mandate.excluded_sectors
        if kind in DEBT_ONLY_INVESTOR_TYPES:
            assert instrument in DEBT_INSTRUMENTS
        if kind == "s_fund":
            assert instrument == "old_shares"
        kinds_seen[kind] += 1
    assert set(kinds_seen) >= {"bank", "s_fund", "vc"}
    assert any(e.secondary_ref for e in medium.events)


def test_hidden_preference_shows_in_the_funnel(medium: Market) -> None:
    first = {m.investor_key: m for m in medium.mandates if m.version == 1}
    industry = {e.key: e.industry_code for e in medium.enterprises}
    specialists = sorted(k for k, m in first.items() if m.sectors)

    def match_rate(pairs: set[tuple[str, str]]) -> float:
        return float(np.mean([industry[e] in first[i].sectors for i, e in pairs]))

    def pairs_of(kind: str) -> set[tuple[str, str]]:
        return {(e.investor_key, e.enterprise_key) for e in medium.events
                if e.event_type == kind and e.investor_key in set(specialists)}

    rng = np.random.default_rng(0)
    keys = sorted(industry)
    random_pairs = {(specialists[rng.integers(len(specialists))], keys[rng.integers(len(keys))])
                    for _ in range(5000)}
    base = match_rate(random_pairs)
    viewed, contacted, invested = (pairs_of(k) for k in ("viewed", "contact_requested", "invested"))
    assert len(invested) >= 30
    assert match_rate(viewed) > base + 0.15
    assert match_rate(contacted) > match_rate(viewed) + 0.05
    assert match_rate(invested) > base + 0.3
    # Deals go to better companies than views do: select-tier share rises down the funnel.
    tier = {e.key: e.tier for e in medium.enterprises}
    share_select = {k: np.mean([tier[e] == "select" for _, e in pairs_of(k)]) for k in ("viewed", "invested")}
    assert share_select["invested"] > share_select["viewed"]


def test_summary_counts(small: Market) -> None:
    s = small.summary()
    assert s["enterprises"] == 300 and s["investors"] == 40 and s["events"] == len(small.events)
    assert sum(s["events_by_type"].values()) == len(small.events)  # type: ignore[attr-defined]
    assert list(s["investors_by_type"]) == list(INVESTOR_TYPES.codes)  # type: ignore[call-overload]
    assert s["start"] == "2024-01-01"


def test_all_districts_covered_at_demo_size() -> None:
    market = generate_market(5000, 50, 1, seed=3, start=date(2025, 3, 1))
    assert {e.district_code for e in market.enterprises} >= set(DISTRICT_CODES)
    assert market.summary()["districts_covered"] == 38
    assert all(e.occurred_at.date() >= date(2025, 3, 1) for e in market.events)
