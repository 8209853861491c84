"""Read records back out in the import format, so that export → import changes nothing."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import psycopg

_SQL: dict[str, str] = {
    "enterprises": """
        SELECT e.credit_code, e.source, e.external_id, e.name, e.short_name, e.name_en, e.district_code AS district,
               e.province, e.country, e.city, e.industry_code AS industry, e.industry_raw, e.tier, e.boards,
               e.qualifications, e.listing_target, e.description, e.founded_on, e.registered_capital, e.disclosure,
               e.status, e.excluded_investors, e.excluded_investor_types,
               f.year, f.revenue, f.net_profit, f.revenue_growth, f.rd_ratio, f.employees, f.patents
        FROM enterprises e
        LEFT JOIN LATERAL (SELECT * FROM enterprise_financials x WHERE x.enterprise_id = e.id
                           ORDER BY x.year DESC LIMIT 1) f ON true
        ORDER BY e.id""",
    "investors": """
        SELECT source, external_id, name, name_en, investor_type, state_fund_level, amac_code, aum, status,
               district_code AS district, province, country, description
        FROM investors ORDER BY id""",
    "mandates": """
        SELECT i.source || ':' || i.external_id AS investor, m.version, m.valid_from, m.sectors, m.sectors_raw,
               m.stages, m.ticket_min, m.ticket_max, m.currency, m.regions, m.districts, m.tiers, m.boards,
               m.instruments, m.excluded_sectors, m.excluded_enterprises, m.local_reinvest_ratio, m.thesis
        FROM mandates m JOIN investors i ON i.id = m.investor_id ORDER BY i.id, m.version""",
    "needs": """
        SELECT n.ref, COALESCE(e.credit_code, e.source || ':' || e.external_id) AS enterprise, n.instrument,
               n.amount, n.currency, n.round, n.status, n.opened_on, n.closes_on, n.use_of_funds
        FROM financing_needs n JOIN enterprises e ON e.id = n.enterprise_id ORDER BY n.id""",
    "secondaries": """
        SELECT s.ref, s.kind, s.seller_name, i.source || ':' || i.external_id AS seller_investor,
               COALESCE(e.credit_code, e.source || ':' || e.external_id) AS enterprise, s.fund_name,
               s.asking_price, s.nav, s.currency, s.vintage, s.status, s.listed_on, s.description
        FROM secondary_listings s LEFT JOIN investors i ON i.id = s.seller_investor_id
        LEFT JOIN enterprises e ON e.id = s.enterprise_id ORDER BY s.id""",
    "events": """
        SELECT v.event_key, i.source || ':' || i.external_id AS investor,
               COALESCE(e.credit_code, e.source || ':' || e.external_id) AS enterprise, v.event_type, v.actor,
               v.occurred_at, n.ref AS need_ref, l.ref AS secondary_ref, v.source, v.list_id, v.amount, v.currency,
               v.round, v.lead
        FROM funnel_events v JOIN investors i ON i.id = v.investor_id JOIN enterprises e ON e.id = v.enterprise_id
        LEFT JOIN financing_needs n ON n.id = v.need_id LEFT JOIN secondary_listings l ON l.id = v.secondary_id
        ORDER BY v.id""",
}

ENTITIES = tuple(_SQL)


def fetch(conn: psycopg.Connection, entity: str) -> tuple[list[str], list[dict[str, str | None]]]:
    """Columns and rows (as strings) of one entity, in the import format."""
    with conn.cursor() as cur:
        cur.execute(_SQL[entity])  # type: ignore[arg-type]
        columns = [d.name for d in cur.description or []]
        rows = [{c: _text(v) for c, v in zip(columns, values, strict=True)} for values in cur]
    return columns, rows


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
