"""The schema: migrations from empty, idempotent upgrades, and constraints that keep bad data out."""

from __future__ import annotations

import importlib.util

import psycopg
import pytest

from matching.domain import industries, regions, vocab
from store.database import MIGRATIONS, current_revision, downgrade, head_revision, upgrade


def _migration_module():
    path = MIGRATIONS / "versions" / "0001_market_schema.py"
    spec = importlib.util.spec_from_file_location("m0001", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_migrations_from_empty_and_twice(empty_db_url: str) -> None:
    assert current_revision(empty_db_url) is None
    assert upgrade(empty_db_url) is True
    assert current_revision(empty_db_url) == head_revision()
    assert upgrade(empty_db_url) is False  # safe to run twice: nothing to do
    with psycopg.connect(empty_db_url) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert {"enterprises", "enterprise_financials", "investors", "mandates", "financing_needs",
            "secondary_listings", "funnel_events", "served_lists", "served_list_items", "api_keys",
            "model_versions", "districts", "industries"} <= tables


def test_downgrade_to_base_and_back(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    downgrade(empty_db_url, "base")
    assert current_revision(empty_db_url) is None
    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()


def test_migration_code_lists_match_the_domain() -> None:
    m = _migration_module()
    pairs = {"TIERS": vocab.TIERS, "BOARDS": vocab.BOARDS, "QUALIFICATIONS": vocab.QUALIFICATIONS,
             "LISTING_TARGETS": vocab.LISTING_TARGETS, "INSTRUMENTS": vocab.INSTRUMENTS, "ROUNDS": vocab.ROUNDS,
             "INVESTOR_TYPES": vocab.INVESTOR_TYPES, "STATE_FUND_LEVELS": vocab.STATE_FUND_LEVELS,
             "INVESTOR_STATUSES": vocab.INVESTOR_STATUSES, "ENTERPRISE_STATUSES": vocab.ENTERPRISE_STATUSES,
             "REGION_SCOPES": vocab.REGION_SCOPES, "NEED_STATUSES": vocab.NEED_STATUSES,
             "SECONDARY_KINDS": vocab.SECONDARY_KINDS, "SECONDARY_STATUSES": vocab.SECONDARY_STATUSES,
             "DISCLOSURE_LEVELS": vocab.DISCLOSURE_LEVELS, "EVENT_TYPES": vocab.EVENT_TYPES, "SIDES": vocab.SIDES,
             "ROLES": vocab.ROLES, "CURRENCIES": vocab.CURRENCIES}
    for name, vocabulary in pairs.items():
        assert getattr(m, name) == vocabulary.codes, name
    assert tuple(c for c, _ in m.DISTRICTS) == regions.DISTRICT_CODES
    assert tuple((d.code, d.zh) for d in regions.DISTRICTS) == m.DISTRICTS
    assert tuple((i.code, i.zh, i.cluster) for i in industries.INDUSTRIES) == m.INDUSTRIES


ENT = ("INSERT INTO enterprises (credit_code, name, district_code, industry_code, tier, boards) "
       "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id")
GOOD = ("91500103MA5U000019", "重庆测试科技有限公司", "500103", "software", "basic", ["srdi"])


def _fails(conn: psycopg.Connection, sql: str, params: tuple, constraint_word: str) -> None:
    with pytest.raises(psycopg.errors.IntegrityError) as info:
        with conn.transaction():
            conn.execute(sql, params)
    assert constraint_word in str(info.value)


def test_enterprise_constraints(db) -> None:
    with db.connect() as conn:
        conn.execute(ENT, GOOD)
        _fails(conn, ENT, GOOD, "enterprises_credit_code_key")  # unique
        _fails(conn, ENT, ("91500103MA5U00001I", *GOOD[1:]), "credit_code_check")  # letter I not allowed
        _fails(conn, ENT, ("91500103MA5U000027", GOOD[1], GOOD[2], GOOD[3], "gold", []), "tier_check")
        _fails(conn, ENT, ("91500103MA5U000035", GOOD[1], GOOD[2], GOOD[3], "basic", ["nasdaq"]), "boards_check")
        _fails(conn, ENT, ("91500103MA5U000043", GOOD[1], "110101", GOOD[3], "basic", []), "district_code_fkey")
        _fails(conn, ENT, ("91500103MA5U000051", GOOD[1], GOOD[2], "mining", "basic", []), "industry_code_fkey")
        _fails(conn, "INSERT INTO enterprises (name) VALUES ('无代码企业')", (), "enterprises_check")


def test_investor_mandate_need_constraints(db) -> None:
    with db.connect() as conn:
        inv = conn.execute("INSERT INTO investors (external_id, name, investor_type) VALUES ('a', '甲创投', 'vc') "
                           "RETURNING id").fetchone()[0]
        _fails(conn, "INSERT INTO investors (external_id, name, investor_type) VALUES ('b', '乙', 'state_fund')",
               (), "investors_check")  # a state fund needs its level
        _fails(conn, "INSERT INTO investors (external_id, name, investor_type) VALUES ('c', '丙', 'hedge')",
               (), "investor_type_check")
        man = ("INSERT INTO mandates (investor_id, version, valid_from, ticket_min, ticket_max, sectors) "
               "VALUES (%s, %s, now(), %s, %s, %s)")
        _fails(conn, man, (inv, 1, 5e7, 1e7, []), "mandates_check")  # ticket min > max
        _fails(conn, man, (inv, 1, -1, 1e7, []), "ticket_min_check")
        _fails(conn, man, (inv, 1, 1, 1e7, ["mining"]), "mandates_sectors_check")
        conn.execute(man, (inv, 1, 1e6, 1e7, ["ai"]))
        conn.commit()
        with pytest.raises(psycopg.errors.ExclusionViolation, match="mandates_one_current"):
            with conn.transaction():  # only one open version (checked at commit)
                conn.execute(man, (inv, 2, 1e6, 1e7, ["ai"]))
        ent = conn.execute(ENT, GOOD).fetchone()[0]
        need = "INSERT INTO financing_needs (ref, enterprise_id, instrument, amount) VALUES (%s, %s, %s, %s)"
        _fails(conn, need, ("n1", ent, "equity", -5), "amount_check")
        _fails(conn, need, ("n1", ent, "bitcoin", 5), "instrument_check")
        _fails(conn, need, ("n1", ent + 999, "equity", 5), "enterprise_id_fkey")
        conn.execute(need, ("n1", ent, "equity", 5e6))
        ev = ("INSERT INTO funnel_events (event_key, investor_id, enterprise_id, event_type, occurred_at) "
              "VALUES (%s, %s, %s, %s, %s)")
        _fails(conn, ev, ("e1", inv, ent, "liked", "2025-01-01T00:00:00+08:00"), "event_type_check")
        _fails(conn, ev, ("e1", inv, ent, "viewed", "2150-01-01T00:00:00Z"), "occurred_at_check")
        conn.execute(ev, ("e1", inv, ent, "viewed", "2025-01-01T08:00:00+08:00"))
        _fails(conn, ev, ("e1", inv, ent, "saved", "2025-01-02T00:00:00Z"), "funnel_events_event_key_key")
        stored = conn.execute("SELECT occurred_at AT TIME ZONE 'UTC' FROM funnel_events").fetchone()[0]
        assert stored.isoformat() == "2025-01-01T00:00:00"  # time zones are kept, stored as UTC


def test_secondary_and_key_constraints(db) -> None:
    with db.connect() as conn:
        sec = ("INSERT INTO secondary_listings (ref, kind, seller_name, fund_name, asking_price, nav) "
               "VALUES (%s, %s, %s, %s, %s, %s) RETURNING discount")
        _fails(conn, sec, ("s1", "old_shares", "卖方", None, 80, 100), "secondary_listings_check")
        assert conn.execute(sec, ("s1", "fund_interest", "卖方", "某基金", 80, 100)).fetchone()[0] == pytest.approx(0.2)
        key = "INSERT INTO api_keys (key_hash, prefix, role, investor_id) VALUES (%s, 'ck_ab', %s, %s)"
        _fails(conn, key, ("a" * 64, "investor", None), "api_keys_check")
        _fails(conn, key, ("not-a-hash", "admin", None), "key_hash_check")
