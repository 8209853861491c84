"""One round trip for a served list's disclosure facts (:func:`store.disclosure.pair_facts`): the same answer as
the separate reads it replaced (settings, contact reveals, readiness figures), known answers for the reveal rule,
nothing cached (a withdrawn disclosure or reveal takes effect on the next read), and facts read for another
investor or other enterprises never used for a list (:mod:`api.reasons`, :mod:`api.services.readiness`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import psycopg_pool
import pytest

from api import reasons
from api.deps import Principal
from api.services import readiness
from matching.explain.reasons import Reason
from matching.serving.results import MatchItem
from matching.synth.generator import generate_market
from store import resources as db_res
from store import standards as standards_db
from store.batch import MarketBatch, save_batch
from store.database import Database
from store.disclosure import PairFacts, pair_facts


@pytest.fixture(scope="module")
def market(pg_admin_url: str, template_url: str) -> Iterator[Database]:
    from conftest import TEMPLATE, _with_db

    name = "t_facts_market"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    db = Database(url=_with_db(pg_admin_url, name))
    try:
        m = generate_market(300, 40, 10, seed=5)
        save_batch(db, MarketBatch(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events))
        yield db
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _old(conn: psycopg.Connection, investor_id: int, ids: list[int]) -> tuple[Any, set[int], list[dict[str, Any]]]:
    settings = db_res.disclosure_settings(conn, ids)
    accepted = db_res.contacts_accepted(conn, investor_id=investor_id, enterprise_ids=ids) & set(settings)
    return settings, accepted, standards_db.enterprise_figures(conn, ids=ids)


def test_one_statement_answers_as_the_separate_reads(market: Database) -> None:
    with market.connect(autocommit=True) as conn:
        pairs = conn.execute("SELECT investor_id, array_agg(DISTINCT enterprise_id) FROM funnel_events WHERE "
                             "event_type = 'contact_accepted' AND actor = 'enterprise' GROUP BY investor_id "
                             "ORDER BY investor_id").fetchall()
        assert pairs, "the generated market has no mutual reveal: the test proves nothing"
        ents = [r[0] for r in conn.execute("SELECT id FROM enterprises ORDER BY id")]
        conn.execute("UPDATE enterprises SET status = 'inactive' WHERE id = %s", (ents[3],))  # no figures row
        checked = revealed = 0
        for investor_id, accepted_ids in pairs[:10]:
            ids = sorted({*accepted_ids, *ents[:25], ents[3], 10**9})  # 10**9: gone since the snapshot
            settings, accepted, figures = _old(conn, investor_id, ids)
            for with_figures in (False, True):
                got = pair_facts(conn, investor_id=investor_id, enterprise_ids=[*ids, ids[0]], figures=with_figures)
                assert got.investor_id == investor_id and got.ids == frozenset(ids)
                assert got.settings == settings and got.accepted == accepted
                assert got.figures == (figures if with_figures else None)
            checked += 1
            revealed += len(accepted)
        assert checked and revealed, "no reveal among the ids: the test proves nothing"
        assert any(f["financials"] for f in figures) and ents[3] not in {f["id"] for f in figures}
        assert pair_facts(conn, investor_id=1, enterprise_ids=[], figures=True) == PairFacts(1, figures=[])


def test_the_reveal_rule_and_nothing_cached(market: Database) -> None:
    """Known answers: only a ``contact_accepted`` acted by the enterprise, for this investor, reveals; a change
    in the database shows on the very next read."""
    with market.connect(autocommit=True) as conn:
        inv, other = [r[0] for r in conn.execute("SELECT id FROM investors ORDER BY id LIMIT 2")]
        (ent,) = conn.execute("SELECT id FROM enterprises e WHERE NOT EXISTS (SELECT 1 FROM funnel_events f WHERE "
                              "f.enterprise_id = e.id AND f.event_type = 'contact_accepted') ORDER BY id "
                              "LIMIT 1").fetchone() or (None,)
        assert ent is not None

        def event(key: str, investor: int, kind: str, actor: str) -> None:
            conn.execute("INSERT INTO funnel_events (event_key, investor_id, enterprise_id, event_type, occurred_at, "
                         "actor) VALUES (%s, %s, %s, %s, now(), %s)", (key, investor, ent, kind, actor))

        def facts() -> PairFacts:
            return pair_facts(conn, investor_id=inv, enterprise_ids=[ent])

        conn.execute("UPDATE enterprises SET tier = 'basic', disclosure = 'tier_default' WHERE id = %s", (ent,))
        assert facts().settings == {ent: ("basic", "tier_default")} and facts().accepted == frozenset()
        event("kf-1", inv, "contact_requested", "investor")
        event("kf-2", inv, "contact_accepted", "investor")  # an investor cannot accept for the enterprise
        event("kf-3", other, "contact_accepted", "enterprise")  # another investor's reveal
        assert facts().accepted == frozenset()
        event("kf-4", inv, "contact_accepted", "enterprise")
        assert facts().accepted == {ent}
        conn.execute("DELETE FROM funnel_events WHERE event_key = 'kf-4'")
        assert facts().accepted == frozenset()  # withdrawn: the next read says so
        conn.execute("UPDATE enterprises SET disclosure = 'public' WHERE id = %s", (ent,))
        assert facts().settings == {ent: ("basic", "public")}
        conn.execute("UPDATE enterprises SET disclosure = 'on_request' WHERE id = %s", (ent,))
        assert facts().settings == {ent: ("basic", "on_request")}


class _CountingPool:
    """A pool that counts the connections taken (each is one read of facts here)."""

    def __init__(self, url: str) -> None:
        self.pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=2, kwargs={"autocommit": True}, open=True)
        self.taken = 0

    def connection(self) -> Any:
        self.taken += 1
        return self.pool.connection()


def _item(position: int, enterprise_id: int) -> MatchItem:
    reason = Reason("model:ent_log_revenue", "模型依据", "model", 0.3, "fit")
    return MatchItem(position=position, score=1.0 - position / 100, enterprise_id=enterprise_id, reasons=[reason],
                     sources=["semantic"])


def test_facts_of_another_investor_or_other_enterprises_are_not_used(market: Database) -> None:
    with market.connect(autocommit=True) as conn:
        inv, other = [r[0] for r in conn.execute("SELECT id FROM investors ORDER BY id LIMIT 2")]
        ents = [r[0] for r in conn.execute("SELECT id FROM enterprises ORDER BY id LIMIT 3")]
        conn.execute("UPDATE enterprises SET tier = 'basic', disclosure = 'tier_default' WHERE id = ANY(%s)", (ents,))
    items = [_item(i + 1, e) for i, e in enumerate(ents)]
    who = Principal(1, "cck_x", "investor", inv)
    pool = _CountingPool(market.url)
    try:
        # facts claiming everything is revealed, but read for another investor, or for fewer enterprises
        forged = {e: ("select", "public") for e in ents}
        for facts in (PairFacts(other, frozenset(ents), forged, frozenset(ents), []),
                      PairFacts(inv, frozenset(ents[:2]), forged, frozenset(ents), [])):
            pool.taken = 0
            hidden = reasons._hidden_features(pool, who, items, facts)  # type: ignore[arg-type]
            assert pool.taken == 1 and all("ent_log_revenue" in h for h in hidden)  # read again: basic withholds
        good = reasons.read_facts(pool, who, items, "investor")  # type: ignore[arg-type]
        assert good is not None and good.investor_id == inv and good.figures is None
        pool.taken = 0
        assert all("ent_log_revenue" in h for h in reasons._hidden_features(pool, who, items, good))  # type: ignore[arg-type]
        assert pool.taken == 0  # the request's own facts: no second round trip
        staff = Principal(2, "cck_y", "admin")
        assert reasons.read_facts(pool, staff, items, "investor") is None  # type: ignore[arg-type]
        listing = reasons.read_facts(pool, staff, items, "investor", listing_investor=inv)  # type: ignore[arg-type]
        assert listing is not None and listing.investor_id == inv and listing.figures is not None
        mine = reasons.read_facts(pool, who, items, "investor", listing_investor=inv)  # type: ignore[arg-type]
        assert mine is not None and mine.figures is not None and mine.settings == good.settings
        assert reasons.read_facts(pool, who, items, "investor", listing_investor=other).figures is None  # type: ignore[arg-type, union-attr]
    finally:
        pool.pool.close()


def test_listing_reasons_read_again_for_facts_of_another_investor(market: Database,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with market.connect(autocommit=True) as conn:
        inv, other = [r[0] for r in conn.execute("SELECT id FROM investors ORDER BY id LIMIT 2")]
        ents = [r[0] for r in conn.execute("SELECT id FROM enterprises ORDER BY id LIMIT 400")]
    read: list[tuple[int, bool]] = []
    real = readiness.pair_facts

    def spy(conn: psycopg.Connection, *, investor_id: int, enterprise_ids: Any, figures: bool = False) -> PairFacts:
        read.append((investor_id, figures))
        return real(conn, investor_id=investor_id, enterprise_ids=enterprise_ids, figures=figures)

    monkeypatch.setattr(readiness, "pair_facts", spy)
    monkeypatch.setattr(readiness, "targets_pre_ipo", lambda mandate: True)
    who = Principal(1, "cck_x", "investor", inv)
    pool = _CountingPool(market.url)
    try:
        forged = PairFacts(other, frozenset(ents), {}, frozenset(), [])
        readiness.listing_reasons(pool, who, inv, None, ents, forged)  # type: ignore[arg-type]
        assert read == [(inv, True)]
        read.clear()
        with pool.connection() as conn:
            own = real(conn, investor_id=inv, enterprise_ids=ents, figures=True)
        given = readiness.listing_reasons(pool, who, inv, None, ents, own)  # type: ignore[arg-type]
        assert given, "no enterprise of the first 400 gets the listing reason: the comparison below would be vacuous"
        assert given == readiness.listing_reasons(pool, who, inv, None, ents)  # type: ignore[arg-type]
        assert read == [(inv, True)]  # only the call without facts read them
    finally:
        pool.pool.close()
