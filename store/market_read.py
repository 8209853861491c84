"""Read the whole market back as core records with their database ids (for snapshots).

The core never queries the database: the edges call :func:`read_market` and hand the records and
ids to :func:`matching.snapshot.core.build_snapshot`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.rows import dict_row

from matching.domain.records import Enterprise, Event, Financials, Investor, Mandate, Need, Secondary
from matching.snapshot.core import MarketSnapshot, build_snapshot


def _f(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


@dataclass
class StoredMarket:
    """Records in id order, with the database ids row-aligned."""

    enterprises: list[Enterprise] = field(default_factory=list)
    enterprise_ids: list[int] = field(default_factory=list)
    investors: list[Investor] = field(default_factory=list)
    investor_ids: list[int] = field(default_factory=list)
    mandates: list[Mandate] = field(default_factory=list)
    needs: list[Need] = field(default_factory=list)
    need_ids: list[int] = field(default_factory=list)
    secondaries: list[Secondary] = field(default_factory=list)
    secondary_ids: list[int] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def snapshot(self, as_of: datetime | None = None) -> MarketSnapshot:
        """The columnar snapshot of this market (ids are the database ids)."""
        return build_snapshot(self.enterprises, self.investors, self.mandates, self.needs, self.secondaries,
                              self.events, enterprise_ids=self.enterprise_ids, investor_ids=self.investor_ids,
                              need_ids=self.need_ids, secondary_ids=self.secondary_ids, as_of=as_of)


def read_market(conn: psycopg.Connection) -> StoredMarket:
    """Every enterprise, investor, mandate version, need, secondary listing and funnel event."""
    out = StoredMarket()
    cur = conn.cursor(row_factory=dict_row)
    fin: dict[int, list[Financials]] = {}
    for r in cur.execute("SELECT * FROM enterprise_financials ORDER BY enterprise_id, year"):
        fin.setdefault(r["enterprise_id"], []).append(Financials(
            year=r["year"], revenue=_f(r["revenue"]), net_profit=_f(r["net_profit"]),
            revenue_growth=r["revenue_growth"], rd_ratio=r["rd_ratio"], employees=r["employees"],
            patents=r["patents"]))
    ent_key: dict[int, str] = {}
    for r in cur.execute("SELECT * FROM enterprises ORDER BY id"):
        e = Enterprise(
            name=r["name"], credit_code=r["credit_code"], source=r["source"], external_id=r["external_id"],
            short_name=r["short_name"], name_en=r["name_en"], district_code=r["district_code"],
            province=r["province"], country=r["country"], city=r["city"], industry_code=r["industry_code"],
            industry_raw=r["industry_raw"], tier=r["tier"], boards=list(r["boards"]),
            qualifications=list(r["qualifications"]), listing_target=r["listing_target"],
            description=r["description"], founded_on=r["founded_on"], registered_capital=_f(r["registered_capital"]),
            disclosure=r["disclosure"], status=r["status"], excluded_investors=list(r["excluded_investors"]),
            excluded_investor_types=list(r["excluded_investor_types"]), financials=fin.get(r["id"], []),
            created_at=r["created_at"])
        out.enterprises.append(e)
        out.enterprise_ids.append(r["id"])
        ent_key[r["id"]] = e.key
    inv_key: dict[int, str] = {}
    for r in cur.execute("SELECT * FROM investors ORDER BY id"):
        i = Investor(
            name=r["name"], investor_type=r["investor_type"], source=r["source"], external_id=r["external_id"],
            name_en=r["name_en"], state_fund_level=r["state_fund_level"], amac_code=r["amac_code"],
            aum=_f(r["aum"]), status=r["status"], district_code=r["district_code"], province=r["province"],
            country=r["country"], description=r["description"], created_at=r["created_at"])
        out.investors.append(i)
        out.investor_ids.append(r["id"])
        inv_key[r["id"]] = i.key
    for r in cur.execute("SELECT * FROM mandates ORDER BY investor_id, version"):
        out.mandates.append(Mandate(
            investor_key=inv_key[r["investor_id"]], version=r["version"], valid_from=r["valid_from"],
            sectors=list(r["sectors"]), sectors_raw=list(r["sectors_raw"]), stages=list(r["stages"]),
            ticket_min=_f(r["ticket_min"]), ticket_max=_f(r["ticket_max"]), currency=r["currency"],
            regions=list(r["regions"]), districts=list(r["districts"]), tiers=list(r["tiers"]),
            boards=list(r["boards"]), instruments=list(r["instruments"]),
            excluded_sectors=list(r["excluded_sectors"]), excluded_enterprises=list(r["excluded_enterprises"]),
            local_reinvest_ratio=r["local_reinvest_ratio"], thesis=r["thesis"]))
    need_ref: dict[int, str] = {}
    for r in cur.execute("SELECT * FROM financing_needs ORDER BY id"):
        out.needs.append(Need(
            ref=r["ref"], enterprise_key=ent_key[r["enterprise_id"]], instrument=r["instrument"],
            amount=float(r["amount"]), currency=r["currency"], round=r["round"], status=r["status"],
            opened_on=r["opened_on"], closes_on=r["closes_on"], use_of_funds=r["use_of_funds"]))
        out.need_ids.append(r["id"])
        need_ref[r["id"]] = r["ref"]
    sec_ref: dict[int, str] = {}
    for r in cur.execute("SELECT * FROM secondary_listings ORDER BY id"):
        out.secondaries.append(Secondary(
            ref=r["ref"], kind=r["kind"], seller_name=r["seller_name"],
            seller_investor_key=inv_key.get(r["seller_investor_id"]), enterprise_key=ent_key.get(r["enterprise_id"]),
            fund_name=r["fund_name"], asking_price=float(r["asking_price"]), nav=_f(r["nav"]),
            currency=r["currency"], vintage=r["vintage"], status=r["status"], listed_on=r["listed_on"],
            description=r["description"]))
        out.secondary_ids.append(r["id"])
        sec_ref[r["id"]] = r["ref"]
    for r in cur.execute("SELECT * FROM funnel_events ORDER BY occurred_at, id"):
        out.events.append(Event(
            event_key=r["event_key"], investor_key=inv_key[r["investor_id"]],
            enterprise_key=ent_key[r["enterprise_id"]], event_type=r["event_type"], occurred_at=r["occurred_at"],
            actor=r["actor"], need_ref=need_ref.get(r["need_id"]), secondary_ref=sec_ref.get(r["secondary_id"]),
            source=r["source"], list_id=str(r["list_id"]) if r["list_id"] else None, amount=_f(r["amount"]),
            currency=r["currency"], round=r["round"], lead=r["lead"]))
    return out


def market_fingerprint(conn: psycopg.Connection) -> str:
    """A cheap summary that changes whenever a record the matcher reads is added or changed
    (counts and last update of each table; the last funnel event id, as events are append-only)."""
    row = conn.execute(
        """
        SELECT concat_ws('|',
          (SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM enterprises),
          (SELECT count(*) FROM enterprise_financials),
          (SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM investors),
          (SELECT count(*) || ':' || coalesce(max(id), 0) FROM mandates),
          (SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM financing_needs),
          (SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM secondary_listings),
          (SELECT coalesce(max(id), 0) FROM funnel_events))
        """).fetchone()
    return str(row[0])
