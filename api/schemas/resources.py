"""Request and response shapes of the market's resources.

Enterprises (with yearly financials), investors, versioned mandates, financing needs and secondary
listings, each with separate Create / Update / Out shapes, and the bulk-import report.

Enumerated fields take the code or the Chinese or English label (``"tier": "成长层"``, ``"boards":
"科技创新板，专精特新板"``) and are stored and returned as codes, with Chinese labels beside them in
responses. A value that is none of them is a 422 listing the allowed codes. Amounts are yuan and also
take ``"5000万"`` or ``"1.2亿"``; districts take the code or the name (``渝北区``); industries the
code or the Chinese name; unified social credit codes are checked (GB 32100-2015).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas.fields import (
    AmacCode,
    Amount,
    Board,
    CreditCode,
    Currency,
    Disclosure,
    District,
    EnterpriseStatus,
    Industry,
    Instrument,
    InvestorStatus,
    InvestorType,
    ListingTarget,
    Many,
    NeedStatus,
    Qualification,
    Region,
    Round,
    SecondaryKind,
    SecondaryStatus,
    SignedAmount,
    Source,
    StateFundLevel,
    Tier,
)

T = TypeVar("T")


class _In(BaseModel):
    """A request body (text PostgreSQL cannot store never gets this far: :mod:`api.hygiene`)."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)


# -- enterprises -----------------------------------------------------------------------------------
class FinancialsIn(_In):
    """One financial year (upserted by year)."""

    year: int = Field(ge=1900, le=2100)
    revenue: Amount | None = None
    net_profit: SignedAmount | None = None
    revenue_growth: float | None = Field(None, ge=-1, le=1000, description="fraction: 0.25 = +25 %")
    rd_ratio: float | None = Field(None, ge=0, le=10, description="R&D spending / revenue")
    employees: int | None = Field(None, ge=0, le=10_000_000)
    patents: int | None = Field(None, ge=0, le=10_000_000)


class EnterpriseUpdate(_In):
    """Fields to change (only those sent change; ``null`` clears an optional field).

    ``status`` is set by the platform's staff; ``tier``, ``boards`` and ``qualifications`` too (转层 follows the
    market's review; credentials are facts the platform vouches for): sent by the enterprise's own key they
    are stored as pending claims (``claims``), not applied. Yearly ``financials`` are upserted by year;
    other years are kept.
    """

    name: str | None = Field(None, min_length=1, max_length=200)
    short_name: str | None = Field(None, max_length=60)
    name_en: str | None = Field(None, max_length=300)
    district: District | None = None
    province: str | None = Field(None, max_length=60)
    country: str | None = Field(None, min_length=2, max_length=60)
    city: str | None = Field(None, max_length=100)
    industry: Industry | None = None
    industry_raw: str | None = Field(None, max_length=200)
    tier: Tier | None = None
    boards: Many(Board) | None = None
    qualifications: Many(Qualification) | None = None
    listing_target: ListingTarget | None = None
    description: str | None = Field(None, max_length=20000)
    founded_on: date | None = Field(None, ge=date(1900, 1, 1), le=date(2100, 1, 1))
    registered_capital: Amount | None = None
    disclosure: Disclosure | None = Field(None, description="tier_default, public or on_request")
    status: EnterpriseStatus | None = None
    excluded_investors: Many(Annotated[str, Field(min_length=1, max_length=250)]) | None = Field(
        None, description="investors refused: source:external_id")
    excluded_investor_types: Many(InvestorType) | None = None
    financials: list[FinancialsIn] | None = Field(None, max_length=50)

    @field_validator("financials")
    @classmethod
    def _one_row_per_year(cls, years: list[FinancialsIn] | None) -> list[FinancialsIn] | None:
        seen = [y.year for y in years or ()]
        twice = sorted({y for y in seen if seen.count(y) > 1})
        if twice:  # two rows for one year would be applied in an arbitrary order
            raise ValueError(f"each year at most once; repeated: {', '.join(map(str, twice))}")
        return years


class EnterpriseCreate(EnterpriseUpdate):
    """A new enterprise: a credit code, or a source and external id, identifies it."""

    credit_code: CreditCode | None = Field(None, description="统一社会信用代码 (18 characters, checked)")
    source: Source = "platform"
    external_id: str | None = Field(None, min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)


class FinancialsOut(BaseModel):
    """One year; a value the caller may not see is ``null`` (see ``withheld``)."""

    year: int
    revenue: float | None = None
    net_profit: float | None = None
    revenue_growth: float | None = None
    rd_ratio: float | None = None
    employees: int | None = None
    patents: int | None = None


class DisclosureOut(BaseModel):
    """Why something is withheld and how it could be revealed."""

    level: str = Field(description="full, partial or public", examples=["partial"])
    basis: str = Field(examples=["tier:growth"])
    reveal: str | None = Field(None, examples=["after your contact request is accepted by the enterprise"])
    reveal_zh: str | None = Field(None, examples=["企业同意您的联系请求后披露"])


class ClaimOut(BaseModel):
    """An enterprise's own claim to a credential (tier, boards, qualifications): not a fact until verified.

    Pending claims are shown as "企业自报，待核验" and never used for ranking or reasons; staff verify
    (the value then becomes the enterprise's) or reject them (``POST …/claims/{id}/decision``).
    """

    id: int
    field: str = Field(description="tier, boards or qualifications")
    value: str | list[str]
    status: str = Field(description="pending, verified, rejected or superseded (by a newer claim)")
    status_zh: str = Field(examples=["企业自报，待核验"])
    claimed_at: datetime
    claimed_by_key_id: int | None = Field(None, description="the key that claimed it (staff and the enterprise)")
    decided_at: datetime | None = None
    decided_by_key_id: int | None = Field(None, description="the staff key that decided (staff and the enterprise)")
    note: str | None = None


class ClaimDecisionIn(_In):
    """A staff decision on a pending claim."""

    decision: Literal["verified", "rejected"] = Field(description="verified (apply the value) or rejected")
    note: str | None = Field(None, max_length=2000, description="what was checked, e.g. the official list")


class EnterpriseOut(BaseModel):
    """An enterprise as the caller may see it."""

    id: int
    credit_code: str | None
    source: str
    external_id: str | None
    name: str
    short_name: str | None
    name_en: str | None
    district: str | None
    district_name: str | None
    province: str | None
    country: str
    city: str | None
    industry: str | None
    industry_zh: str | None
    industry_raw: str | None
    tier: str
    tier_zh: str
    boards: list[str]
    boards_zh: list[str]
    qualifications: list[str]
    listing_target: str
    description: str
    founded_on: date | None
    registered_capital: float | None
    disclosure_choice: str = Field(description="the enterprise's own disclosure setting")
    status: str
    excluded_investors: list[str] | None = Field(description="null unless staff or the enterprise itself")
    excluded_investor_types: list[str] | None
    financials: list[FinancialsOut] | None = Field(description="null when withheld as a whole")
    withheld: list[str] = Field(description="field groups not shown: registered_capital, operating_metrics, "
                                            "financials")
    disclosure: DisclosureOut
    claims: list[ClaimOut] = Field(default_factory=list, description="pending claims of the enterprise itself "
                                   "(企业自报，待核验): not facts; tier, boards and qualifications above are verified")
    created_at: datetime
    updated_at: datetime


# -- investors and mandates ---------------------------------------------------------------------------
class MandateIn(_In):
    """A mandate (each PUT or PATCH stores a new version; the old one is kept)."""

    sectors: Many(Industry) = Field(default_factory=list, description="empty = any")
    sectors_raw: Many(Annotated[str, Field(max_length=200)]) = Field(default_factory=list)
    stages: Many(Round) = Field(default_factory=list, description="empty = any")
    ticket_min: Amount | None = None
    ticket_max: Amount | None = None
    currency: Currency = "CNY"
    regions: Many(Region) = Field(default_factory=list, description="empty = national")
    districts: Many(District) = Field(default_factory=list)
    tiers: Many(Tier) = Field(default_factory=list)
    boards: Many(Board) = Field(default_factory=list)
    instruments: Many(Instrument) = Field(default_factory=list, description="empty = equity only")
    excluded_sectors: Many(Industry) = Field(default_factory=list)
    excluded_enterprises: Many(Annotated[str, Field(max_length=250)]) = Field(default_factory=list)
    local_reinvest_ratio: float | None = Field(None, ge=0, le=10, description="返投 multiple of fund size")
    thesis: str = Field("", max_length=20000)


class MandatePatch(_In):
    """Mandate fields to change; the rest is copied from the current version into the new one."""

    sectors: Many(Industry) | None = None
    sectors_raw: Many(Annotated[str, Field(max_length=200)]) | None = None
    stages: Many(Round) | None = None
    ticket_min: Amount | None = None
    ticket_max: Amount | None = None
    currency: Currency | None = None
    regions: Many(Region) | None = None
    districts: Many(District) | None = None
    tiers: Many(Tier) | None = None
    boards: Many(Board) | None = None
    instruments: Many(Instrument) | None = None
    excluded_sectors: Many(Industry) | None = None
    excluded_enterprises: Many(Annotated[str, Field(max_length=250)]) | None = None
    local_reinvest_ratio: float | None = Field(None, ge=0, le=10)
    thesis: str | None = Field(None, max_length=20000)


class MandateOut(BaseModel):
    """One mandate version (``valid_to`` null: the current one)."""

    version: int
    valid_from: datetime
    valid_to: datetime | None
    sectors: list[str]
    sectors_raw: list[str]
    stages: list[str]
    ticket_min: float | None
    ticket_max: float | None
    currency: str
    regions: list[str]
    districts: list[str]
    tiers: list[str]
    boards: list[str]
    instruments: list[str]
    excluded_sectors: list[str]
    excluded_enterprises: list[str] | None = Field(description="null unless staff or the investor itself")
    local_reinvest_ratio: float | None
    thesis: str


class MandateHistory(BaseModel):
    """The current mandate and every earlier version, newest first."""

    investor_id: int
    current: MandateOut | None
    history: list[MandateOut]


class InvestorUpdate(_In):
    """Fields to change. ``investor_type``, ``state_fund_level`` and ``amac_code`` are staff-only."""

    name: str | None = Field(None, min_length=1, max_length=300)
    name_en: str | None = Field(None, max_length=300)
    investor_type: InvestorType | None = None
    state_fund_level: StateFundLevel | None = Field(None, description="required for state funds, only for them")
    amac_code: AmacCode | None = Field(None, description="AMAC code: P + 7 digits or S + 5")
    aum: Amount | None = None
    status: InvestorStatus | None = None
    district: District | None = None
    province: str | None = Field(None, max_length=60)
    country: str | None = Field(None, min_length=2, max_length=60)
    description: str | None = Field(None, max_length=20000)


class InvestorCreate(InvestorUpdate):
    """A new investor, optionally with its first mandate (version 1)."""

    source: Source = "platform"
    external_id: str | None = Field(None, min_length=1, max_length=200,
                                    description="default: the AMAC code, else generated")
    name: str = Field(min_length=1, max_length=300)
    investor_type: InvestorType
    mandate: MandateIn | None = None


class InvestorOut(BaseModel):
    """An investor with its current mandate (the history: ``GET /v1/investors/{id}/mandates``)."""

    id: int
    source: str
    external_id: str
    name: str
    name_en: str | None
    investor_type: str
    investor_type_zh: str
    state_fund_level: str | None
    amac_code: str | None
    aum: float | None
    status: str
    district: str | None
    district_name: str | None
    province: str | None
    country: str
    description: str
    mandate: MandateOut | None
    created_at: datetime
    updated_at: datetime


# -- needs and secondaries ----------------------------------------------------------------------------
class NeedUpdate(_In):
    """Need fields to change."""

    instrument: Instrument | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    round: Round | None = None
    status: NeedStatus | None = None
    opened_on: date | None = None
    closes_on: date | None = None
    use_of_funds: str | None = Field(None, max_length=5000)


class NeedCreate(NeedUpdate):
    """A new financing need (an enterprise key may leave ``enterprise_id`` out: its own)."""

    enterprise_id: int | None = Field(None, gt=0)
    ref: str | None = Field(None, min_length=1, max_length=100, description="unique; default generated")
    instrument: Instrument
    amount: Amount


class NeedOut(BaseModel):
    """A financing need."""

    id: int
    ref: str
    enterprise_id: int
    enterprise_name: str
    instrument: str
    instrument_zh: str
    amount: float
    currency: str
    round: str | None
    status: str
    opened_on: date | None
    closes_on: date | None
    use_of_funds: str
    created_at: datetime
    updated_at: datetime


class SecondaryUpdate(_In):
    """Secondary listing fields to change."""

    seller_name: str | None = Field(None, min_length=1, max_length=300)
    fund_name: str | None = Field(None, max_length=300)
    asking_price: Amount | None = None
    nav: Amount | None = Field(None, gt=0)
    currency: Currency | None = None
    vintage: int | None = Field(None, ge=1990, le=2100)
    status: SecondaryStatus | None = None
    listed_on: date | None = None
    description: str | None = Field(None, max_length=5000)


class SecondaryCreate(SecondaryUpdate):
    """A new secondary listing: a fund LP interest (``fund_name``) or old shares (``enterprise_id``)."""

    ref: str | None = Field(None, min_length=1, max_length=100, description="unique; default generated")
    kind: SecondaryKind
    seller_name: str = Field(min_length=1, max_length=300)
    seller_investor_id: int | None = Field(None, gt=0, description="an investor key: its own id (default)")
    enterprise_id: int | None = Field(None, gt=0)
    asking_price: Amount


class SecondaryOut(BaseModel):
    """A secondary listing."""

    id: int
    ref: str
    kind: str
    kind_zh: str
    seller_name: str
    seller_investor_id: int | None
    enterprise_id: int | None
    fund_name: str | None
    asking_price: float
    nav: float | None
    discount: float | None
    currency: str
    vintage: int | None
    status: str
    listed_on: date | None
    description: str
    created_at: datetime
    updated_at: datetime


# -- pages and imports -----------------------------------------------------------------------------------
class Page(BaseModel, Generic[T]):
    """A page of a list: ``total`` matches the filters; pass ``next_offset`` as ``offset`` for the next page."""

    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class RowProblemOut(BaseModel):
    """One problem of one row of an uploaded file (rows as a spreadsheet counts them: header = 1)."""

    row: int
    field: str
    value: str
    reason: str


class ImportOut(BaseModel):
    """What an upload imported (counts per table) and, with ``skip_invalid``, what it rejected."""

    entity: str
    filename: str
    encoding: str
    rows: int
    imported: list[dict[str, Any]]
    rejected_rows: int
    rejected: list[RowProblemOut]
