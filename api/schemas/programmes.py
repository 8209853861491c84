"""Support programmes (扶持政策): what an enterprise qualifies for, its near misses, and the staff overview."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class MissingOut(BaseModel):
    """One rule the enterprise does not meet."""

    rule: str = Field(examples=["min_employees"], description="the programme field behind it")
    zh: str = Field(examples=["员工人数须不少于 100 人（现 85 人，差 15 人）"])
    en: str = Field(examples=["at least 100 employees (has 85, 15 short)"])
    gap: float | None = Field(description="shortfall as a share of the threshold (0.15 = 15 % short); null for a "
                                          "list rule or a figure not reported")
    unknown: bool = Field(description="the figure is not reported: reporting it may be all that is missing")


class ProgrammeRules(BaseModel):
    """The rules a programme sets (empty list / null: no rule on that)."""

    districts: list[str]
    tiers: list[str]
    boards: list[str]
    qualifications: list[str]
    industries: list[str]
    min_employees: int | None
    max_employees: int | None
    min_revenue: float | None = Field(description="yuan")
    max_revenue: float | None = Field(description="yuan")
    min_age_years: float | None
    max_age_years: float | None


class ProgrammeOut(BaseModel):
    """A programme as every answer shows it."""

    id: int
    ref: str
    name: str
    issuer: str
    kind: str = Field(examples=["interest_subsidy"])
    kind_zh: str = Field(examples=["贴息"])
    kind_en: str
    max_amount: float | None = Field(description="the most one enterprise may receive, yuan")
    currency: str = "CNY"
    opens_on: date | None
    closes_on: date | None
    window: Literal["open", "upcoming", "closed"]
    link: str | None
    description: str
    is_sample: bool = Field(description="demonstration data, not real policy")
    rules: ProgrammeRules


class ProgrammeFit(ProgrammeOut):
    """A programme an enterprise qualifies for or nearly does."""

    status: Literal["qualifies", "near_miss"]
    missing: list[MissingOut]
    notified_at: datetime | None = Field(description="when the enterprise was told it qualifies")
    unread: bool = Field(description="told but not yet read (before this request)")


class SampleNote(BaseModel):
    """Shown when sample programmes are in the answer."""

    zh: str
    en: str


class EnterpriseProgrammes(BaseModel):
    """An enterprise's programmes: those it qualifies for, and near misses with what is missing."""

    enterprise_id: int
    as_of: date = Field(description="the day of evaluation, China time")
    unread: int = Field(description="notices not read before this request")
    qualifies: list[ProgrammeFit]
    near_misses: list[ProgrammeFit]
    sample_data: bool
    sample_note: SampleNote | None


class ProgrammeCounts(ProgrammeOut):
    """A programme with its reach."""

    qualified: int = Field(description="active enterprises meeting every rule today")
    near_misses: int = Field(description="active enterprises failing exactly one rule (a number by ≤ 20 %)")
    told: int = Field(description="enterprises notified (once each, ever)")


class ProgrammeOverview(BaseModel):
    """Every programme with its counts (staff)."""

    as_of: date
    items: list[ProgrammeCounts]
    total: int
    sample_data: bool
    sample_note: SampleNote | None
