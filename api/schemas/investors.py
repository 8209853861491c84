"""Request and response shapes of investors and their versioned mandates.

Separate Create / Update / Out shapes, and the mandate's whole (PUT) and partial (PATCH) forms; the field
types (codes or labels, amounts, districts, industries) come from :mod:`api.schemas.fields`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from api.schemas.common import BodyIn
from api.schemas.fields import (
    AmacCode,
    Amount,
    Board,
    Currency,
    District,
    Industry,
    Instrument,
    InvestorStatus,
    InvestorType,
    Many,
    Region,
    Round,
    Source,
    StateFundLevel,
    Tier,
)


class MandateIn(BodyIn):
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


class MandatePatch(BodyIn):
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


class InvestorUpdate(BodyIn):
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
