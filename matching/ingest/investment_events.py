"""The investment-events format: the contract for any real deal data (CrunchBase, a Chinese deal
database, a fund's own portfolio list).

One row per investor per deal; a deal with three investors is three rows sharing date, company,
round and amount. The rows become enterprises (keyed ``source:company_id``, or the credit code when
given), investors (``source:investor_id``) and ``invested`` events whose key is derived from
source + company + investor + date + round, so importing the same file twice changes nothing.

| column | 中文表头 | required | meaning |
|---|---|---|---|
| date | 日期 | yes | date of the deal (2013-08-23, 2013/8/23, 2013年8月23日) |
| company_id | 企业编号 | yes | the company's id in the source (CrunchBase permalink, …) |
| company_name | 企业名称 | yes | name |
| company_description | 企业简介 | | free text |
| industry | 行业 | | free text, kept as ``industry_raw``; mapped to the taxonomy when it names one |
| region | 地区 | | free text: Chongqing district (渝中区 → district_code), province (四川), state (CA) |
| country | 国家 | | ISO code or name (USA → US); default ``default_country`` (CN) |
| city | 城市 | | city |
| credit_code | 统一社会信用代码 | | for Chinese companies: becomes the enterprise's key |
| round | 轮次 | | 天使轮, A轮, series-a, angel, seed, venture, private-equity, debt_round…; else other |
| amount | 金额 | | the round's total (not the investor's share); 5000万, 1.2亿, 2000000 |
| currency | 币种 | | CNY, USD, …; default ``default_currency`` (CNY) |
| investor_id | 投资方编号 | yes | the investor's id in the source |
| investor_name | 投资方名称 | yes | name |
| investor_type | 投资方类型 | | investor type (default vc) |
| investor_country | 投资方国家 | | default ``default_country`` |
| investor_region | 投资方地区 | | like region |
| lead | 是否领投 | | 是/否; empty = unknown |

Rows that repeat a deal exactly collapse into one event (counted in ``duplicates``); rows of the
same deal that disagree (e.g. two amounts) keep the first row's values and fill its blanks from
the later row, with a warning. With ``skip_incomplete`` rows lacking a required value are set
aside in ``skipped`` instead of counting as errors (for dumps of real data, where a few such rows
are expected).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

from matching.domain.credit_code import normalize_credit_code
from matching.domain.industries import industry_or_none
from matching.domain.records import Enterprise, Event, Investor
from matching.domain.regions import locate
from matching.domain.vocab import CURRENCIES, INVESTOR_TYPES, ROUNDS
from matching.errors import FieldError
from matching.ingest.parse_cells import (
    amount,
    one_of,
    plain,
    text,
)
from matching.ingest.parse_deals import event_key
from matching.ingest.parse_engine import (
    Column,
    EntitySpec,
    RowError,
    TableLike,
    parse_rows,
)
from matching.ingest.parse_values import parse_bool, parse_country, parse_date, parse_source
from matching.ingest.reader import Row, number_text

#: Round labels of foreign sources that the vocabulary does not list.
_ROUND_ALIASES = {"series-c+": "c", "series c+": "c", "debt": "debt", "seed-round": "seed"}


def parse_round(value: str, fld: str = "round") -> str:
    """A round code; CrunchBase codes included, anything unknown is ``other`` (never an error)."""
    alias = _ROUND_ALIASES.get(value.strip().lower())
    if alias:
        return alias
    try:
        return ROUNDS.parse(value, fld)
    except FieldError:
        return "other"


# fmt: off
C = Column
INVESTMENT_EVENT_COLUMNS: tuple[Column, ...] = (
    C("date", "date", "日期", plain(parse_date), ("投资日期", "融资日期", "funded_at"), required=True),
    C("company_id", "company_id", "企业编号", text(200), ("公司编号",), required=True),
    C("company_name", "company_name", "企业名称", text(200), ("公司名称",), required=True),
    C("company_description", "company_description", "企业简介", text(20000), ("简介",)),
    C("industry", "industry", "行业", text(200), ("所属行业",)),
    C("region", "region", "地区", text(60), ("所在地区", "省份", "区县")),
    C("country", "country", "国家", plain(parse_country)),
    C("city", "city", "城市", text(100)),
    C("credit_code", "credit_code", "统一社会信用代码", plain(normalize_credit_code)),
    C("round", "round", "轮次", plain(parse_round), ("融资轮次",)),
    C("amount", "amount", "金额", amount(), ("融资金额",)),
    C("currency", "currency", "币种", one_of(CURRENCIES)),
    C("investor_id", "investor_id", "投资方编号", text(200), ("机构编号",), required=True),
    C("investor_name", "investor_name", "投资方名称", text(300), ("投资方", "投资机构"), required=True),
    C("investor_type", "investor_type", "投资方类型", one_of(INVESTOR_TYPES), ("机构类型",)),
    C("investor_country", "investor_country", "投资方国家", plain(parse_country)),
    C("investor_region", "investor_region", "投资方地区", text(60)),
    C("lead", "lead", "是否领投", plain(parse_bool), ("领投",)),
)
del C
# fmt: on
#: The format's headers, in order.
INVESTMENT_EVENT_HEADERS: tuple[str, ...] = tuple(c.header for c in INVESTMENT_EVENT_COLUMNS)
_REQUIRED = tuple(c for c in INVESTMENT_EVENT_COLUMNS if c.required)


@dataclass(slots=True)
class Deal:
    """One validated row: one investor's participation in one round."""

    date: date
    company_id: str
    company_name: str
    investor_id: str
    investor_name: str
    company_description: str | None = None
    industry: str | None = None
    region: str | None = None
    country: str | None = None
    city: str | None = None
    credit_code: str | None = None
    round: str | None = None
    amount: float | None = None
    currency: str | None = None
    investor_type: str | None = None
    investor_country: str | None = None
    investor_region: str | None = None
    lead: bool | None = None


@dataclass(slots=True)
class Skipped:
    """A row set aside because it lacks required values (``skip_incomplete``)."""

    row: int
    reason: str
    fields: tuple[str, ...] = ()


@dataclass(slots=True)
class InvestmentEvents:
    """What an investment-events table produced.

    Attributes:
        source: the source name (keys are ``source:id``).
        enterprises, investors, events: the records, in order of first appearance.
        event_rows: the file row of each event (its first row).
        errors: bad values (the caller should import nothing while there are any).
        rejected_rows: rows with errors.
        skipped: rows lacking required values, set aside (only with ``skip_incomplete``).
        warnings: rows of one deal that disagree (the first row's values are kept).
        rows_read: data rows in the table.
        duplicates: rows identical to an earlier row, collapsed.
        merged: rows of an earlier row's deal that differed (blanks filled, conflicts warned).
        unmapped_rounds: round labels read as ``other``, with their counts.
    """

    source: str
    enterprises: list[Enterprise] = field(default_factory=list)
    investors: list[Investor] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    event_rows: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rejected_rows: list[Row] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    rows_read: int = 0
    duplicates: int = 0
    merged: int = 0
    unmapped_rounds: dict[str, int] = field(default_factory=dict)


def parse_investment_events(
    table: TableLike,
    *,
    source: str,
    default_country: str = "CN",
    default_currency: str = "CNY",
    skip_incomplete: bool = False,
) -> InvestmentEvents:
    """Validate an investment-events table into enterprises, investors and ``invested`` events.

    Args:
        table: a table in the investment-events format (English or Chinese headers).
        source: the data source's name (a-z, 0-9, ``_.-``), e.g. ``crunchbase``.
        default_country: country of companies and investors whose row gives none.
        default_currency: currency of amounts whose row gives none.
        skip_incomplete: set rows lacking a required value aside in ``skipped`` instead of
            reporting them as errors.

    Raises:
        FieldError: for a bad ``source``.
    """
    src = parse_source(source)
    out = InvestmentEvents(source=src)
    rows = table.rows if isinstance(table.rows, list) else list(table.rows)
    out.rows_read = len(rows)

    def merge(first: Deal, new: Deal, values: dict[str, Any], first_row: int, row: int) -> str | None:
        if first == new:
            out.duplicates += 1
            return None
        out.merged += 1
        for f in fields(Deal):
            old, value = getattr(first, f.name), getattr(new, f.name)
            if old is None and value is not None:
                setattr(first, f.name, value)
            elif value is not None and old != value:
                out.warnings.append(
                    RowError(
                        row,
                        f.name,
                        _show(value),
                        f"same investment as row {first_row} "
                        f"(company, investor, date, round) but {f.name} was '{_show(old)}' there; "
                        f"row {first_row}'s value kept",
                    )
                )
        return None

    spec = EntitySpec(
        "investment_events",
        INVESTMENT_EVENT_COLUMNS,
        lambda v: Deal(**v),
        lambda d: (_deal_key(src, d), "company_id"),
        merge,
    )
    parsed = parse_rows(_Rows(list(table.columns), rows), spec)
    out.errors, out.rejected_rows = parsed.errors, parsed.rejected_rows
    if skip_incomplete:
        _set_aside(out, parsed.columns)
    _count_unmapped_rounds(out, rows, parsed.columns)
    _build(out, parsed.records, parsed.record_rows, default_country, default_currency)
    return out


def _show(value: object) -> str:
    return number_text(value) if isinstance(value, float) else str(value)


@dataclass(slots=True)
class _Rows:
    columns: list[str]
    rows: list[Row]


def _deal_key(source: str, d: Deal) -> str:
    return event_key(source, d.company_id, d.investor_id, d.date.isoformat(), d.round or "")


def _set_aside(out: InvestmentEvents, columns: dict[str, str]) -> None:
    header_of = {f: h for h, f in columns.items()}
    incomplete: set[int] = set()
    keep_rows: list[Row] = []
    for row in out.rejected_rows:
        missing = tuple(c.field for c in _REQUIRED if row.values.get(header_of.get(c.field, "")) is None)
        if missing:
            out.skipped.append(Skipped(row.row, f"missing {', '.join(missing)}", missing))
            incomplete.add(row.row)
        else:
            keep_rows.append(row)
    out.errors = [e for e in out.errors if e.row not in incomplete]
    out.rejected_rows = keep_rows


def _count_unmapped_rounds(out: InvestmentEvents, rows: list[Row], columns: dict[str, str]) -> None:
    header = next((h for h, f in columns.items() if f == "round"), None)
    if header is None:
        return
    for row in rows:
        raw = row.values.get(header)
        if raw is None or raw.strip().lower() in _ROUND_ALIASES:
            continue
        try:
            ROUNDS.parse(raw)
        except FieldError:
            out.unmapped_rounds[raw] = out.unmapped_rounds.get(raw, 0) + 1


def _build(
    out: InvestmentEvents,
    deals: list[Deal],
    deal_rows: list[int],
    default_country: str,
    default_currency: str,
) -> None:
    src = out.source
    companies: dict[str, Enterprise] = {}
    company_rows: dict[str, int] = {}
    investors: dict[str, Investor] = {}
    first_day: dict[str, datetime] = {}  # first deal of each company and investor: when it entered the market
    for d in deals:
        when = datetime(d.date.year, d.date.month, d.date.day)
        for key in (f"c:{d.company_id}", f"i:{d.investor_id}"):
            if key not in first_day or when < first_day[key]:
                first_day[key] = when
    for d, row in zip(deals, deal_rows, strict=True):
        ent = companies.get(d.company_id)
        if ent is None:
            companies[d.company_id] = _enterprise(src, d, default_country)
            companies[d.company_id].created_at = first_day[f"c:{d.company_id}"]
            company_rows[d.company_id] = row
        else:
            _fill_enterprise(ent, d)
        if d.investor_id not in investors:
            investors[d.investor_id] = _investor(src, d, default_country)
            investors[d.investor_id].created_at = first_day[f"i:{d.investor_id}"]
    by_code: dict[str, str] = {}
    bad: set[str] = set()
    for company_id, ent in companies.items():
        if ent.credit_code and by_code.setdefault(ent.credit_code, company_id) != company_id:
            other = by_code[ent.credit_code]
            out.errors.append(
                RowError(
                    company_rows[company_id],
                    "credit_code",
                    ent.credit_code,
                    f"also the credit code of company_id '{other}' (row {company_rows[other]}); "
                    "one credit code, one company",
                )
            )
            bad.add(company_id)
    out.enterprises = [e for cid, e in companies.items() if cid not in bad]
    out.investors = list(investors.values())
    for d, row in zip(deals, deal_rows, strict=True):
        if d.company_id in bad:
            continue
        out.events.append(
            Event(
                event_key=_deal_key(src, d),
                investor_key=f"{src}:{d.investor_id}",
                enterprise_key=companies[d.company_id].key,
                event_type="invested",
                occurred_at=datetime(d.date.year, d.date.month, d.date.day),
                actor="investor",
                source=src,
                amount=d.amount,
                currency=d.currency or (default_currency if d.amount is not None else None),
                round=d.round,
                lead=d.lead,
            )
        )
        out.event_rows.append(row)


def _enterprise(source: str, d: Deal, default_country: str) -> Enterprise:
    district, province, country = locate(d.region, d.country, default_country)
    return Enterprise(
        name=d.company_name,
        credit_code=d.credit_code,
        source=source,
        external_id=d.company_id,
        district_code=district,
        province=province,
        country=country,
        city=d.city,
        industry_code=industry_or_none(d.industry),
        industry_raw=d.industry,
        description=d.company_description or "",
    )


def _fill_enterprise(ent: Enterprise, d: Deal) -> None:
    """Fill what the company's first row left blank from a later row."""
    if not ent.description and d.company_description:
        ent.description = d.company_description
    if ent.industry_raw is None and d.industry:
        ent.industry_raw, ent.industry_code = d.industry, industry_or_none(d.industry)
    if ent.city is None and d.city:
        ent.city = d.city
    if ent.credit_code is None and d.credit_code:
        ent.credit_code = d.credit_code


def _investor(source: str, d: Deal, default_country: str) -> Investor:
    district, province, country = locate(d.investor_region, d.investor_country, default_country)
    return Investor(
        name=d.investor_name,
        investor_type=d.investor_type or "vc",
        source=source,
        external_id=d.investor_id,
        district_code=district,
        province=province,
        country=country,
    )


def write_investment_events_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """Write rows (dicts keyed by the format's headers) as an investment-events CSV (UTF-8 with BOM)."""
    from matching.ingest.export import export_rows

    export_rows(rows, path, columns=list(INVESTMENT_EVENT_HEADERS), fmt="csv")
