"""Data access for the market's resources: enterprises (+ yearly financials), investors, versioned
mandates, financing needs and secondary listings.

Keyword-only functions over a psycopg connection; values in and rows out use the API's field names
(``district``, ``industry``), translated to columns by the :class:`~store.tables.Table`
whitelists below. Writes run in one transaction each; a unique key already taken raises
:class:`~store.tables.Duplicate`, any other constraint :class:`~store.tables.Invalid` (the API answers
409 and 422: :mod:`api.errors`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from matching.rules.listing_visibility import SecondaryScope
from store.tables import (
    Table,
    fetch_page,
    get_row,
    insert_row,
    new_filter,
    plain,
    update_row,
    writing,
)
from store.tier_history import mark_source


def _cols(*names: str, **renamed: str) -> dict[str, str]:
    return {n: n for n in names} | renamed


ENTERPRISES = Table("enterprises", _cols(
    "credit_code", "source", "external_id", "name", "short_name", "name_en", "province", "country", "city",
    "industry_raw", "tier", "boards", "qualifications", "listing_target", "description", "founded_on",
    "registered_capital", "disclosure", "status", "excluded_investors", "excluded_investor_types",
    district="district_code", industry="industry_code"),
    {"enterprises_credit_code_key": ("credit_code",), "enterprises_source_external_id_key": ("source", "external_id")})
INVESTORS = Table("investors", _cols(
    "source", "external_id", "name", "name_en", "investor_type", "state_fund_level", "amac_code", "aum", "status",
    "province", "country", "description", district="district_code"),
    {"investors_source_external_id_key": ("source", "external_id"), "investors_amac_code_key": ("amac_code",)})
NEEDS = Table("financing_needs", _cols(
    "ref", "enterprise_id", "instrument", "amount", "currency", "round", "status", "opened_on", "closes_on",
    "use_of_funds"), {"financing_needs_ref_key": ("ref",)})
SECONDARIES = Table("secondary_listings", _cols(
    "ref", "kind", "seller_name", "seller_investor_id", "enterprise_id", "fund_name", "asking_price", "nav",
    "currency", "vintage", "status", "listed_on", "description"), {"secondary_listings_ref_key": ("ref",)})
MANDATE_FIELDS = ("sectors", "sectors_raw", "stages", "ticket_min", "ticket_max", "currency", "regions", "districts",
                  "tiers", "boards", "instruments", "excluded_sectors", "excluded_enterprises",
                  "local_reinvest_ratio", "thesis")
FINANCIAL_FIELDS = ("revenue", "net_profit", "revenue_growth", "rd_ratio", "employees", "patents")

# -- enterprises ---------------------------------------------------------------------------------------
def get_enterprise(conn: psycopg.Connection, enterprise_id: int) -> dict[str, Any] | None:
    """An enterprise with its yearly ``financials`` (newest year first), or ``None``."""
    row = get_row(conn, ENTERPRISES, enterprise_id)
    if row is not None:
        row["financials"] = financials(conn, [enterprise_id]).get(enterprise_id, [])
    return row


def list_enterprises(conn: psycopg.Connection, *, district: Sequence[str] = (), tier: Sequence[str] = (),
                     board: Sequence[str] = (), industry: Sequence[str] = (), status: Sequence[str] = (),
                     q: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """A page of enterprises (id order) with their financials, and how many match."""
    flt = (new_filter().eq("district_code", list(district)).eq("tier", list(tier)).overlaps("boards", board)
           .eq("industry_code", list(industry)).eq("status", list(status))
           .text(("name", "short_name", "name_en", "description", "credit_code"), q))
    rows, total = fetch_page(conn, ENTERPRISES, flt, limit=limit, offset=offset)
    fin = financials(conn, [r["id"] for r in rows])
    for r in rows:
        r["financials"] = fin.get(r["id"], [])
    return rows, total


def financials(conn: psycopg.Connection, enterprise_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Yearly financials by enterprise id, newest year first."""
    out: dict[int, list[dict[str, Any]]] = {}
    if not enterprise_ids:
        return out
    for r in conn.cursor(row_factory=dict_row).execute(
            f"SELECT enterprise_id, year, {', '.join(FINANCIAL_FIELDS)} FROM enterprise_financials "
            "WHERE enterprise_id = ANY(%s) ORDER BY enterprise_id, year DESC", (list(enterprise_ids),)):
        out.setdefault(r.pop("enterprise_id"), []).append(plain(r))
    return out


def _upsert_financials(cur: psycopg.Cursor[Any], enterprise_id: int, years: Sequence[Mapping[str, Any]]) -> None:
    for y in years:
        sent = [f for f in FINANCIAL_FIELDS if f in y]
        cols = ", ".join(("enterprise_id", "year", *sent))
        sets = ", ".join(f"{f} = EXCLUDED.{f}" for f in sent) or "year = EXCLUDED.year"
        cur.execute(f"INSERT INTO enterprise_financials ({cols}) VALUES ({', '.join(['%s'] * (len(sent) + 2))}) "
                    f"ON CONFLICT (enterprise_id, year) DO UPDATE SET {sets}",
                    (enterprise_id, y["year"], *(y[f] for f in sent)))


def create_enterprise(conn: psycopg.Connection, *, values: Mapping[str, Any],
                      financial_years: Sequence[Mapping[str, Any]] = ()) -> int:
    """Insert an enterprise and its financials; return its id.

    Raises:
        Duplicate: the credit code (or source + external id) is taken.
        Invalid: a constraint refused a value.
    """
    with writing(conn, ENTERPRISES, values) as cur:
        mark_source(cur, "api")  # tier history (migration 0009)
        new_id = insert_row(cur, ENTERPRISES, values)
        _upsert_financials(cur, new_id, financial_years)
    return new_id


def update_enterprise(conn: psycopg.Connection, *, enterprise_id: int, values: Mapping[str, Any],
                      financial_years: Sequence[Mapping[str, Any]] = ()) -> bool:
    """Change an enterprise's fields and upsert financial years; ``False`` when there is no such enterprise."""
    with writing(conn, ENTERPRISES, values) as cur:
        mark_source(cur, "api")  # tier history (migration 0009)
        found = update_row(cur, ENTERPRISES, enterprise_id, values)
        if found and financial_years:
            _upsert_financials(cur, enterprise_id, financial_years)
            # changed years alone leave the row count as it was: touch the enterprise (its updated_at is in
            # the market fingerprint) so the snapshot is rebuilt with the new figures
            cur.execute("UPDATE enterprises SET updated_at = now() WHERE id = %s", (enterprise_id,))
    return found


def contacts_accepted(conn: psycopg.Connection, *, investor_id: int, enterprise_ids: Sequence[int]) -> set[int]:
    """The enterprises (of ``enterprise_ids``) that accepted a contact request of this investor.

    The mutual reveal: a ``contact_accepted`` funnel event acted by the enterprise for the pair, from
    ``POST /v1/events`` (an enterprise key's events are always its own actions) or an import.
    """
    if not enterprise_ids:
        return set()
    rows = conn.execute("SELECT DISTINCT enterprise_id FROM funnel_events WHERE investor_id = %s AND "
                        "enterprise_id = ANY(%s) AND event_type = 'contact_accepted' AND actor = 'enterprise'",
                        (investor_id, list(enterprise_ids))).fetchall()
    return {int(r[0]) for r in rows}


def disclosure_settings(conn: psycopg.Connection, enterprise_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """``id → (tier, disclosure)`` of the enterprises that exist (what :func:`api.disclosure.decide` needs)."""
    if not enterprise_ids:
        return {}
    rows = conn.execute("SELECT id, tier, disclosure FROM enterprises WHERE id = ANY(%s::bigint[])",
                        (list(enterprise_ids),)).fetchall()
    return {int(i): (t, d) for i, t, d in rows}


# -- investors and mandates -------------------------------------------------------------------------------
_MANDATE_SELECT = f"version, valid_from, valid_to, {', '.join(MANDATE_FIELDS)}"


def get_investor(conn: psycopg.Connection, investor_id: int) -> dict[str, Any] | None:
    """An investor with its current ``mandate`` (or ``None``), or ``None``."""
    row = get_row(conn, INVESTORS, investor_id)
    if row is not None:
        row["mandate"] = current_mandates(conn, [investor_id]).get(investor_id)
    return row


def list_investors(conn: psycopg.Connection, *, investor_type: Sequence[str] = (), district: Sequence[str] = (),
                   status: Sequence[str] = (), q: str | None = None, limit: int = 50, offset: int = 0
                   ) -> tuple[list[dict[str, Any]], int]:
    """A page of investors (id order) with their current mandates, and how many match."""
    flt = (new_filter().eq("investor_type", list(investor_type)).eq("district_code", list(district))
           .eq("status", list(status)).text(("name", "name_en", "description", "amac_code"), q))
    rows, total = fetch_page(conn, INVESTORS, flt, limit=limit, offset=offset)
    current = current_mandates(conn, [r["id"] for r in rows])
    for r in rows:
        r["mandate"] = current.get(r["id"])
    return rows, total


def current_mandates(conn: psycopg.Connection, investor_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The current mandate version of each investor that has one."""
    if not investor_ids:
        return {}
    rows = conn.cursor(row_factory=dict_row).execute(
        f"SELECT investor_id, {_MANDATE_SELECT} FROM mandates WHERE investor_id = ANY(%s) AND valid_to IS NULL",
        (list(investor_ids),)).fetchall()
    return {r.pop("investor_id"): plain(r) for r in rows}


def mandate_versions(conn: psycopg.Connection, *, investor_id: int) -> list[dict[str, Any]]:
    """Every mandate version of an investor, newest first."""
    return [plain(r) for r in conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_MANDATE_SELECT} FROM mandates WHERE investor_id = %s ORDER BY version DESC", (investor_id,))]


def _add_mandate(cur: psycopg.Cursor[Any], investor_id: int, mandate: Mapping[str, Any]) -> dict[str, Any]:
    """Close the current version and add the next one, valid from now (the caller holds the investor row lock)."""
    unknown = set(mandate) - set(MANDATE_FIELDS)
    if unknown:
        raise ValueError(f"unknown mandate fields {sorted(unknown)}; allowed: {MANDATE_FIELDS}")
    # a version imported with a future valid_from still gets a later start, keeping valid_to > valid_from
    start = cur.execute("SELECT greatest(now(), max(valid_from) + interval '1 millisecond') AS t, "
                        "coalesce(max(version), 0) + 1 AS v FROM mandates WHERE investor_id = %s",
                        (investor_id,)).fetchone()
    assert start is not None
    cur.execute("UPDATE mandates SET valid_to = %s WHERE investor_id = %s AND valid_to IS NULL",
                (start["t"], investor_id))
    fields = list(mandate)  # may be empty: a first version of defaults
    columns = ", ".join(["investor_id", "version", "valid_from", *fields])
    row = cur.execute(
        f"INSERT INTO mandates ({columns}) VALUES (%s, %s, %s{', %s' * len(fields)}) RETURNING {_MANDATE_SELECT}",
        (investor_id, start["v"], start["t"], *(mandate[f] for f in fields))).fetchone()
    assert row is not None
    return plain(row)


def create_investor(conn: psycopg.Connection, *, values: Mapping[str, Any],
                    mandate: Mapping[str, Any] | None = None) -> int:
    """Insert an investor (and its first mandate); return its id.

    Raises:
        Duplicate: the source + external id or the AMAC code is taken.
        Invalid: a constraint refused a value.
    """
    with writing(conn, INVESTORS, values) as cur:
        new_id = insert_row(cur, INVESTORS, values)
        if mandate is not None:
            _add_mandate(cur, new_id, mandate)
    return new_id


def update_investor(conn: psycopg.Connection, *, investor_id: int, values: Mapping[str, Any]) -> bool:
    """Change an investor's fields; ``False`` when there is no such investor."""
    with writing(conn, INVESTORS, values) as cur:
        return update_row(cur, INVESTORS, investor_id, values)


def new_mandate_version(conn: psycopg.Connection, *, investor_id: int, mandate: Mapping[str, Any],
                        merge: bool = False) -> dict[str, Any] | None:
    """Store the investor's next mandate version (the current one is closed, never changed otherwise).

    Args:
        merge: take the fields not in ``mandate`` from the current version (a PATCH).

    Returns:
        The new version, or ``None`` when there is no such investor.
    """
    with writing(conn, INVESTORS, {}) as cur:
        # the row lock serialises concurrent updates of one investor's mandate
        if cur.execute("SELECT id FROM investors WHERE id = %s FOR UPDATE", (investor_id,)).fetchone() is None:
            return None
        values = dict(mandate)
        if merge:
            current = cur.execute(f"SELECT {', '.join(MANDATE_FIELDS)} FROM mandates WHERE investor_id = %s "
                                  "AND valid_to IS NULL", (investor_id,)).fetchone() or {}
            values = {**current, **values}
        return _add_mandate(cur, investor_id, values)


# -- needs and secondaries --------------------------------------------------------------------------------
_NEED_EXTRA = ", (SELECT e.name FROM enterprises e WHERE e.id = t.enterprise_id) AS enterprise_name"
_SEC_EXTRA = ", t.discount"


def get_need(conn: psycopg.Connection, need_id: int) -> dict[str, Any] | None:
    """A financing need (with its enterprise's name), or ``None``."""
    return get_row(conn, NEEDS, need_id, _NEED_EXTRA)


def list_needs(conn: psycopg.Connection, *, enterprise_id: int | None = None, instrument: Sequence[str] = (),
               status: Sequence[str] = (), round_: Sequence[str] = (), q: str | None = None, limit: int = 50,
               offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """A page of financing needs (id order), and how many match."""
    flt = (new_filter().eq("enterprise_id", enterprise_id).eq("instrument", list(instrument))
           .eq("status", list(status)).eq("round", list(round_)).text(("ref", "use_of_funds"), q))
    return fetch_page(conn, NEEDS, flt, limit=limit, offset=offset, extra=_NEED_EXTRA)


def create_need(conn: psycopg.Connection, *, values: Mapping[str, Any]) -> int:
    """Insert a financing need; return its id (:class:`~store.tables.Duplicate` for a taken ``ref``)."""
    with writing(conn, NEEDS, values) as cur:
        return insert_row(cur, NEEDS, values)


def update_need(conn: psycopg.Connection, *, need_id: int, values: Mapping[str, Any]) -> bool:
    """Change a need; ``False`` when there is no such need."""
    with writing(conn, NEEDS, values) as cur:
        return update_row(cur, NEEDS, need_id, values)


def get_secondary(conn: psycopg.Connection, secondary_id: int) -> dict[str, Any] | None:
    """A secondary listing, or ``None``."""
    return get_row(conn, SECONDARIES, secondary_id, _SEC_EXTRA)


def list_secondaries(conn: psycopg.Connection, *, kind: Sequence[str] = (), status: Sequence[str] = (),
                     enterprise_id: int | None = None, seller_investor_id: int | None = None, q: str | None = None,
                     limit: int = 50, offset: int = 0, scope: SecondaryScope | None = None
                     ) -> tuple[list[dict[str, Any]], int]:
    """A page of secondary listings (id order), and how many match; within ``scope`` when given
    (``listing_visibility.secondary_scope``: the caller's own listings, or others' of its statuses)."""
    flt = (new_filter().eq("kind", list(kind)).eq("status", list(status)).eq("enterprise_id", enterprise_id)
           .eq("seller_investor_id", seller_investor_id).text(("ref", "seller_name", "fund_name", "description"), q))
    if scope is not None and scope.statuses is not None:
        n = len(flt.params)
        flt.conditions.append(f"(t.seller_investor_id = %(p{n})s::bigint OR t.status = ANY(%(p{n + 1})s::text[]))")
        flt.params[f"p{n}"], flt.params[f"p{n + 1}"] = scope.seller, list(scope.statuses)
    return fetch_page(conn, SECONDARIES, flt, limit=limit, offset=offset, extra=_SEC_EXTRA)


def create_secondary(conn: psycopg.Connection, *, values: Mapping[str, Any]) -> int:
    """Insert a secondary listing; return its id (:class:`~store.tables.Duplicate` for a taken ``ref``)."""
    with writing(conn, SECONDARIES, values) as cur:
        return insert_row(cur, SECONDARIES, values)


def update_secondary(conn: psycopg.Connection, *, secondary_id: int, values: Mapping[str, Any]) -> bool:
    """Change a secondary listing; ``False`` when there is no such listing."""
    with writing(conn, SECONDARIES, values) as cur:
        return update_row(cur, SECONDARIES, secondary_id, values)


def exists(conn: psycopg.Connection, *, table: str, row_id: int) -> bool:
    """Whether ``enterprises`` / ``investors`` / ``financing_needs`` / ``secondary_listings`` holds the id."""
    if table not in {t.name for t in (ENTERPRISES, INVESTORS, NEEDS, SECONDARIES)}:
        raise ValueError(f"unknown table {table!r}")
    return conn.execute(sql.SQL("SELECT 1 FROM {} WHERE id = %s").format(sql.Identifier(table)),
                        (row_id,)).fetchone() is not None
