"""Bulk upserts of market records (enterprises, investors, mandates, needs, secondaries, events).

Each ``load_*`` function takes records from ``matching.domain.records``, runs inside the caller's
transaction (so a whole import is atomic) and returns :class:`LoadCounts`. References by natural
key that resolve to nothing are returned as ``unresolved`` rows, never silently dropped; the
caller decides to roll back.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from matching.domain.records import Enterprise, Event, Investor, Mandate, Need, Secondary
from store.bulk import (
    LoadCounts,
    Progress,
    copy_into_temp,
    distinct_update,
    split_enterprise_key,
    split_investor_key,
    upsert_returning,
)
from store.tier_history import mark_source

_ENT_COLS = [
    ("credit_code", "text"), ("source", "text"), ("external_id", "text"), ("name", "text"),
    ("short_name", "text"), ("name_en", "text"), ("district_code", "text"), ("province", "text"),
    ("country", "text"), ("city", "text"), ("industry_code", "text"), ("industry_raw", "text"),
    ("tier", "text"), ("boards", "text[]"), ("qualifications", "text[]"), ("listing_target", "text"),
    ("description", "text"), ("founded_on", "date"), ("registered_capital", "numeric"),
    ("disclosure", "text"), ("status", "text"), ("excluded_investors", "text[]"),
    ("excluded_investor_types", "text[]"), ("created_at", "timestamptz"),
]
_ENT_UPDATABLE = [c for c, _ in _ENT_COLS if c not in ("credit_code", "source", "external_id", "created_at")]

# Resolves an enterprise natural key held in columns <p>_code / <p>_src / <p>_ext of a temp table.
_ENT_JOIN = """LEFT JOIN enterprises {a}1 ON {a}1.credit_code = s.{p}_code
               LEFT JOIN enterprises {a}2 ON {a}2.source = s.{p}_src AND {a}2.external_id = s.{p}_ext"""
_INV_JOIN = "LEFT JOIN investors {a} ON {a}.source = s.{p}_src AND {a}.external_id = s.{p}_ext"


def load_enterprises(cur: psycopg.Cursor, records: Sequence[Enterprise], *, progress: Progress | None = None
                     ) -> tuple[LoadCounts, LoadCounts]:
    """Upsert enterprises (by credit code, else source + external id) and their yearly financials."""
    counts = LoadCounts("enterprises", received=len(records))
    mark_source(cur, "import")  # tier history (migration 0009) records these changes as an import's
    copy_into_temp(cur, "s_ent", _ENT_COLS, (
        (e.credit_code, e.source, e.external_id, e.name, e.short_name, e.name_en, e.district_code, e.province,
         e.country, e.city, e.industry_code, e.industry_raw, e.tier, e.boards, e.qualifications, e.listing_target,
         e.description, e.founded_on, e.registered_capital, e.disclosure, e.status, e.excluded_investors,
         e.excluded_investor_types, e.created_at)
        for e in records), progress=progress)
    sets, where = distinct_update(_ENT_UPDATABLE)
    cols = ", ".join(c for c, _ in _ENT_COLS)
    select = ", ".join(c if c != "created_at" else "COALESCE(created_at, now())" for c, _ in _ENT_COLS)
    for cond, conflict in (("credit_code IS NOT NULL", "(credit_code)"),
                           ("credit_code IS NULL", "(source, external_id)")):
        upsert_returning(cur, f"""
            INSERT INTO enterprises AS t ({cols}) SELECT {select} FROM s_ent WHERE {cond} ORDER BY _i
            ON CONFLICT {conflict} DO UPDATE SET {sets} WHERE {where} RETURNING (xmax = 0)""", counts)
    fin = _load_financials(cur, records)
    return counts, fin


def _load_financials(cur: psycopg.Cursor, records: Sequence[Enterprise]) -> LoadCounts:
    rows = []
    for e in records:
        code, src, ext = split_enterprise_key(e.key)
        for f in e.financials:
            rows.append((code, src, ext, f.year, f.revenue, f.net_profit, f.revenue_growth, f.rd_ratio,
                         f.employees, f.patents))
    counts = LoadCounts("enterprise_financials", received=len(rows))
    if not rows:
        return counts
    copy_into_temp(cur, "s_fin", [("e_code", "text"), ("e_src", "text"), ("e_ext", "text"), ("year", "int"),
                                  ("revenue", "numeric"), ("net_profit", "numeric"), ("revenue_growth", "float8"),
                                  ("rd_ratio", "float8"), ("employees", "int"), ("patents", "int")], rows)
    upd = ["revenue", "net_profit", "revenue_growth", "rd_ratio", "employees", "patents"]
    sets, where = distinct_update(upd)
    upsert_returning(cur, f"""
        INSERT INTO enterprise_financials AS t (enterprise_id, year, {', '.join(upd)})
        SELECT COALESCE(e1.id, e2.id), s.year, {', '.join('s.' + c for c in upd)}
        FROM s_fin s {_ENT_JOIN.format(a='e', p='e')} ORDER BY s._i
        ON CONFLICT (enterprise_id, year) DO UPDATE SET {sets} WHERE {where} RETURNING (xmax = 0)""", counts)
    return counts


_INV_COLS = [
    ("source", "text"), ("external_id", "text"), ("name", "text"), ("name_en", "text"), ("investor_type", "text"),
    ("state_fund_level", "text"), ("amac_code", "text"), ("aum", "numeric"), ("status", "text"),
    ("district_code", "text"), ("province", "text"), ("country", "text"), ("description", "text"),
    ("created_at", "timestamptz"),
]


def load_investors(cur: psycopg.Cursor, records: Sequence[Investor], *, progress: Progress | None = None
                   ) -> LoadCounts:
    """Upsert investors by ``(source, external_id)``."""
    counts = LoadCounts("investors", received=len(records))
    copy_into_temp(cur, "s_inv", _INV_COLS, (
        (i.source, i.external_id, i.name, i.name_en, i.investor_type, i.state_fund_level, i.amac_code, i.aum,
         i.status, i.district_code, i.province, i.country, i.description, i.created_at) for i in records),
        progress=progress)
    upd = [c for c, _ in _INV_COLS if c not in ("source", "external_id", "created_at")]
    sets, where = distinct_update(upd)
    cols = ", ".join(c for c, _ in _INV_COLS)
    select = ", ".join(c if c != "created_at" else "COALESCE(created_at, now())" for c, _ in _INV_COLS)
    upsert_returning(cur, f"""
        INSERT INTO investors AS t ({cols}) SELECT {select} FROM s_inv ORDER BY _i
        ON CONFLICT (source, external_id) DO UPDATE SET {sets} WHERE {where} RETURNING (xmax = 0)""", counts)
    return counts


_MAN_FIELDS = ["sectors", "sectors_raw", "stages", "ticket_min", "ticket_max", "currency", "regions", "districts",
               "tiers", "boards", "instruments", "excluded_sectors", "excluded_enterprises",
               "local_reinvest_ratio", "thesis"]
_MAN_TYPES = {"ticket_min": "numeric", "ticket_max": "numeric", "currency": "text", "local_reinvest_ratio": "float8",
              "thesis": "text"}


def load_mandates(cur: psycopg.Cursor, records: Sequence[Mandate], *, progress: Progress | None = None
                  ) -> LoadCounts:
    """Upsert mandate versions by ``(investor, version)`` and re-chain their validity periods."""
    counts = LoadCounts("mandates", received=len(records))
    cols = [("i_src", "text"), ("i_ext", "text"), ("version", "int"), ("valid_from", "timestamptz")]
    cols += [(f, _MAN_TYPES.get(f, "text[]")) for f in _MAN_FIELDS]
    copy_into_temp(cur, "s_man", cols, (
        (*split_investor_key(m.investor_key), m.version, m.valid_from, *(getattr(m, f) for f in _MAN_FIELDS))
        for m in records), progress=progress)
    _unresolved(cur, counts, "s_man", _INV_JOIN.format(a="i", p="i"), "i.id IS NULL", "investor",
                "s.i_src || ':' || s.i_ext", "no investor with this key; import the investor first")
    if counts.unresolved:
        return counts
    upd = ["valid_from", *_MAN_FIELDS]
    sets, where = distinct_update(upd)
    upsert_returning(cur, f"""
        INSERT INTO mandates AS t (investor_id, version, {', '.join(upd)})
        SELECT i.id, s.version, COALESCE(s.valid_from, now()), {', '.join('s.' + f for f in _MAN_FIELDS)}
        FROM s_man s {_INV_JOIN.format(a='i', p='i')} ORDER BY s._i
        ON CONFLICT (investor_id, version) DO UPDATE SET {sets} WHERE {where} RETURNING (xmax = 0)""", counts)
    # valid_to of each version is the next version's valid_from (NULL for the newest); the
    # one-current-version constraint is deferred to commit, so one statement re-chains them all.
    cur.execute("""
        WITH touched AS (SELECT DISTINCT i.id FROM s_man s JOIN investors i
                         ON i.source = s.i_src AND i.external_id = s.i_ext),
             chain AS (SELECT m.id, lead(m.valid_from) OVER (PARTITION BY m.investor_id ORDER BY m.version) AS nxt
                       FROM mandates m WHERE m.investor_id IN (SELECT id FROM touched))
        UPDATE mandates m SET valid_to = c.nxt FROM chain c
        WHERE m.id = c.id AND m.valid_to IS DISTINCT FROM c.nxt""")
    return counts


_NEED_FIELDS = [("instrument", "text"), ("amount", "numeric"), ("currency", "text"), ("round", "text"),
                ("status", "text"), ("opened_on", "date"), ("closes_on", "date"), ("use_of_funds", "text")]


def load_needs(cur: psycopg.Cursor, records: Sequence[Need], *, progress: Progress | None = None) -> LoadCounts:
    """Upsert financing needs by ``ref``."""
    counts = LoadCounts("financing_needs", received=len(records))
    cols = [("ref", "text"), ("e_code", "text"), ("e_src", "text"), ("e_ext", "text"), *_NEED_FIELDS]
    copy_into_temp(cur, "s_need", cols, (
        (n.ref, *split_enterprise_key(n.enterprise_key), *(getattr(n, f) for f, _ in _NEED_FIELDS))
        for n in records), progress=progress)
    _unresolved(cur, counts, "s_need", _ENT_JOIN.format(a="e", p="e"), "COALESCE(e1.id, e2.id) IS NULL",
                "enterprise", "COALESCE(s.e_code, s.e_src || ':' || s.e_ext)",
                "no enterprise with this credit code or key; import the enterprise first")
    if counts.unresolved:
        return counts
    upd = ["enterprise_id", *(f for f, _ in _NEED_FIELDS)]
    sets, where = distinct_update(upd)
    upsert_returning(cur, f"""
        INSERT INTO financing_needs AS t (ref, {', '.join(upd)})
        SELECT s.ref, COALESCE(e1.id, e2.id), {', '.join('s.' + f for f, _ in _NEED_FIELDS)}
        FROM s_need s {_ENT_JOIN.format(a='e', p='e')} ORDER BY s._i
        ON CONFLICT (ref) DO UPDATE SET {sets} WHERE {where} RETURNING (xmax = 0)""", counts)
    return counts


_SEC_FIELDS = [("kind", "text"), ("seller_name", "text"), ("fund_name", "text"), ("asking_price", "numeric"),
               ("nav", "numeric"), ("currency", "text"), ("vintage", "int"), ("status", "text"),
               ("listed_on", "date"), ("description", "text")]


def load_secondaries(cur: psycopg.Cursor, records: Sequence[Secondary], *, progress: Progress | None = None
                     ) -> LoadCounts:
    """Upsert secondary listings by ``ref``."""
    counts = LoadCounts("secondary_listings", received=len(records))
    cols = [("ref", "text"), ("e_code", "text"), ("e_src", "text"), ("e_ext", "text"), ("i_src", "text"),
            ("i_ext", "text"), *_SEC_FIELDS]
    copy_into_temp(cur, "s_sec", cols, (
        (s.ref, *split_enterprise_key(s.enterprise_key), *split_investor_key(s.seller_investor_key),
         *(getattr(s, f) for f, _ in _SEC_FIELDS)) for s in records), progress=progress)
    joins = _ENT_JOIN.format(a="e", p="e") + " " + _INV_JOIN.format(a="i", p="i")
    _unresolved(cur, counts, "s_sec", joins,
                "s.e_code IS NOT NULL OR s.e_ext IS NOT NULL) AND (COALESCE(e1.id, e2.id) IS NULL",
                "enterprise", "COALESCE(s.e_code, s.e_src || ':' || s.e_ext)", "no enterprise with this key")
    _unresolved(cur, counts, "s_sec", joins, "s.i_ext IS NOT NULL) AND (i.id IS NULL", "seller_investor",
                "s.i_src || ':' || s.i_ext", "no investor with this key")
    if counts.unresolved:
        return counts
    upd = ["seller_investor_id", "enterprise_id", *(f for f, _ in _SEC_FIELDS)]
    sets, where = distinct_update(upd)
    upsert_returning(cur, f"""
        INSERT INTO secondary_listings AS t (ref, {', '.join(upd)})
        SELECT s.ref, i.id, COALESCE(e1.id, e2.id), {', '.join('s.' + f for f, _ in _SEC_FIELDS)}
        FROM s_sec s {joins} ORDER BY s._i
        ON CONFLICT (ref) DO UPDATE SET {sets} WHERE {where} RETURNING (xmax = 0)""", counts)
    return counts


_EV_FIELDS = [("event_type", "text"), ("actor", "text"), ("occurred_at", "timestamptz"), ("source", "text"),
              ("list_id", "uuid"), ("amount", "numeric"), ("currency", "text"), ("round", "text"), ("lead", "bool")]


def load_events(cur: psycopg.Cursor, records: Sequence[Event], *, progress: Progress | None = None) -> LoadCounts:
    """Insert funnel events; an ``event_key`` already stored is left as it is (events are immutable)."""
    counts = LoadCounts("funnel_events", received=len(records))
    cols = [("event_key", "text"), ("i_src", "text"), ("i_ext", "text"), ("e_code", "text"), ("e_src", "text"),
            ("e_ext", "text"), ("need_ref", "text"), ("sec_ref", "text"), *_EV_FIELDS]
    copy_into_temp(cur, "s_ev", cols, (
        (ev.event_key, *split_investor_key(ev.investor_key), *split_enterprise_key(ev.enterprise_key), ev.need_ref,
         ev.secondary_ref, *(getattr(ev, f) for f, _ in _EV_FIELDS)) for ev in records), progress=progress)
    joins = (_ENT_JOIN.format(a="e", p="e") + " " + _INV_JOIN.format(a="i", p="i")
             + " LEFT JOIN financing_needs n ON n.ref = s.need_ref LEFT JOIN secondary_listings l ON l.ref = s.sec_ref")
    _unresolved(cur, counts, "s_ev", joins, "i.id IS NULL", "investor", "s.i_src || ':' || s.i_ext",
                "no investor with this key")
    _unresolved(cur, counts, "s_ev", joins, "COALESCE(e1.id, e2.id) IS NULL", "enterprise",
                "COALESCE(s.e_code, s.e_src || ':' || s.e_ext)", "no enterprise with this key")
    _unresolved(cur, counts, "s_ev", joins, "s.need_ref IS NOT NULL AND n.id IS NULL", "need_ref", "s.need_ref",
                "no financing need with this ref")
    _unresolved(cur, counts, "s_ev", joins, "s.sec_ref IS NOT NULL AND l.id IS NULL", "secondary_ref", "s.sec_ref",
                "no secondary listing with this ref")
    if counts.unresolved:
        return counts
    names = [f for f, _ in _EV_FIELDS]
    cur.execute(f"""
        INSERT INTO funnel_events (event_key, investor_id, enterprise_id, need_id, secondary_id, {', '.join(names)})
        SELECT s.event_key, i.id, COALESCE(e1.id, e2.id), n.id, l.id, {', '.join('s.' + f for f in names)}
        FROM s_ev s {joins} ORDER BY s._i
        ON CONFLICT (event_key) DO NOTHING""")
    counts.inserted = cur.rowcount
    return counts


def _unresolved(cur: psycopg.Cursor, counts: LoadCounts, table: str, joins: str, condition: str, field: str,
                value_sql: str, reason: str) -> None:
    cur.execute(f"SELECT s._i, {value_sql} FROM {table} s {joins} WHERE ({condition}) ORDER BY s._i LIMIT 1000")
    counts.unresolved.extend((int(i), field, str(v), reason) for i, v in cur.fetchall())
