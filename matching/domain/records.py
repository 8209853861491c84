"""Plain records of the market: what the generator produces, imports validate and the store saves.

Each record is keyed by a *natural key* so that re-importing the same data changes nothing:
enterprises by unified social credit code (or ``source``/``external_id`` for foreign data without
one), investors by ``source``/``external_id``, mandates by investor and version, needs and
secondary listings by ``ref``, events by ``event_key``. Cross-references use those natural keys,
never database ids, so a file can be read without a database.

Amounts are in the record's currency, in yuan (not 万元), as ``float``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(slots=True)
class Financials:
    """One year of an enterprise's financials (disclosed according to its tier)."""

    year: int
    revenue: float | None = None
    net_profit: float | None = None
    revenue_growth: float | None = None  # fraction, 0.25 = +25 %
    rd_ratio: float | None = None  # R&D spending / revenue
    employees: int | None = None
    patents: int | None = None


@dataclass(slots=True)
class Enterprise:
    """An enterprise on the platform (the supply of deals)."""

    name: str
    credit_code: str | None = None
    source: str = "platform"
    external_id: str | None = None
    short_name: str | None = None
    name_en: str | None = None
    district_code: str | None = None
    province: str | None = "重庆"
    country: str = "CN"
    city: str | None = None
    industry_code: str | None = None
    industry_raw: str | None = None  # sector as given by foreign data (e.g. CrunchBase category)
    tier: str = "basic"
    boards: list[str] = field(default_factory=list)
    qualifications: list[str] = field(default_factory=list)
    listing_target: str = "none"
    description: str = ""
    founded_on: date | None = None
    registered_capital: float | None = None
    disclosure: str = "tier_default"
    status: str = "active"
    excluded_investors: list[str] = field(default_factory=list)  # investor keys this enterprise refuses
    excluded_investor_types: list[str] = field(default_factory=list)  # e.g. ["qfi"]
    financials: list[Financials] = field(default_factory=list)
    created_at: datetime | None = None

    @property
    def key(self) -> str:
        """The natural key: credit code, else ``source:external_id``."""
        return self.credit_code or f"{self.source}:{self.external_id}"


@dataclass(slots=True)
class Mandate:
    """One version of an investor's mandate, valid from ``valid_from`` until the next version."""

    investor_key: str
    version: int = 1
    valid_from: datetime | None = None
    sectors: list[str] = field(default_factory=list)  # industry codes; empty = any
    sectors_raw: list[str] = field(default_factory=list)  # foreign sector names
    stages: list[str] = field(default_factory=list)  # round codes; empty = any
    ticket_min: float | None = None
    ticket_max: float | None = None
    currency: str = "CNY"
    regions: list[str] = field(default_factory=list)  # region scopes; empty = national
    districts: list[str] = field(default_factory=list)  # preferred district codes
    tiers: list[str] = field(default_factory=list)  # empty = any
    boards: list[str] = field(default_factory=list)  # required boards (any of); empty = any
    instruments: list[str] = field(default_factory=list)  # empty = equity only
    excluded_sectors: list[str] = field(default_factory=list)
    excluded_enterprises: list[str] = field(default_factory=list)  # enterprise natural keys
    local_reinvest_ratio: float | None = None  # 返投 requirement, e.g. 1.5 = 1.5× fund size
    thesis: str = ""


@dataclass(slots=True)
class Investor:
    """An investor or financing provider (the demand side)."""

    name: str
    investor_type: str
    source: str = "platform"
    external_id: str | None = None
    name_en: str | None = None
    state_fund_level: str | None = None
    amac_code: str | None = None
    aum: float | None = None  # assets under management, yuan
    status: str = "investing"
    district_code: str | None = None
    province: str | None = "重庆"
    country: str = "CN"
    description: str = ""
    created_at: datetime | None = None

    @property
    def key(self) -> str:
        """The natural key ``source:external_id``."""
        return f"{self.source}:{self.external_id}"


@dataclass(slots=True)
class Need:
    """A financing need of an enterprise."""

    ref: str
    enterprise_key: str
    instrument: str
    amount: float
    currency: str = "CNY"
    round: str | None = None
    status: str = "open"
    opened_on: date | None = None
    closes_on: date | None = None
    use_of_funds: str = ""


@dataclass(slots=True)
class Secondary:
    """A secondary opportunity for S funds: a fund LP interest or existing shares for sale."""

    ref: str
    kind: str  # fund_interest | old_shares
    seller_name: str
    seller_investor_key: str | None = None
    enterprise_key: str | None = None  # underlying enterprise (old shares)
    fund_name: str | None = None  # underlying fund (fund interests)
    asking_price: float = 0.0
    nav: float | None = None
    currency: str = "CNY"
    vintage: int | None = None
    status: str = "open"
    listed_on: date | None = None
    description: str = ""

    @property
    def discount(self) -> float | None:
        """Discount to NAV (0.2 = asking 20 % below NAV), ``None`` without a NAV."""
        if not self.nav:
            return None
        return 1.0 - self.asking_price / self.nav


@dataclass(slots=True)
class Event:
    """One step of the deal funnel between an investor and an enterprise."""

    event_key: str
    investor_key: str
    enterprise_key: str
    event_type: str
    occurred_at: datetime
    actor: str = "investor"  # which side acted
    need_ref: str | None = None
    secondary_ref: str | None = None
    source: str = "platform"
    list_id: str | None = None
    amount: float | None = None
    currency: str | None = None
    round: str | None = None
    lead: bool | None = None
