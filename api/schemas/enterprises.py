"""Request and response shapes of enterprises: their yearly financials, disclosure and credential claims.

Separate Create / Update / Out shapes; the field types (codes or labels, amounts, districts, credit
codes) come from :mod:`api.schemas.fields`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from api.schemas.common import BodyIn
from api.schemas.fields import (
    Amount,
    Board,
    CreditCode,
    Disclosure,
    District,
    EnterpriseStatus,
    Industry,
    InvestorType,
    ListingTarget,
    Many,
    Qualification,
    SignedAmount,
    Source,
    Tier,
)


# -- enterprises -----------------------------------------------------------------------------------
class FinancialsIn(BodyIn):
    """One financial year (upserted by year)."""

    year: int = Field(ge=1900, le=2100)
    revenue: Amount | None = None
    net_profit: SignedAmount | None = None
    revenue_growth: float | None = Field(None, ge=-1, le=1000, description="fraction: 0.25 = +25 %")
    rd_ratio: float | None = Field(None, ge=0, le=10, description="R&D spending / revenue")
    employees: int | None = Field(None, ge=0, le=10_000_000)
    patents: int | None = Field(None, ge=0, le=10_000_000)


class EnterpriseUpdate(BodyIn):
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


class ClaimDecisionIn(BodyIn):
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
