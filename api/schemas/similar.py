"""More like this: similar enterprises (``GET /v1/enterprises/{id}/similar``) and similar investors
(``GET /v1/investors/{id}/similar``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.schemas.matching import ReasonOut


class DisclosureOut(BaseModel):
    """Why some figures are withheld, and how the caller could see them."""

    level: str = Field(description="full | partial | public")
    basis: str = Field(examples=["tier:growth"])
    reveal: str | None = None
    reveal_zh: str | None = None


class FiguresOut(BaseModel):
    """The enterprise's newest year on file, as far as the caller may see it (``null``: withheld or not filed)."""

    year: int | None = None
    revenue: float | None = Field(default=None, description="yuan")
    net_profit: float | None = Field(default=None, description="yuan")
    revenue_growth: float | None = None
    rd_ratio: float | None = None
    employees: int | None = None
    patents: int | None = None


class SimilarEnterpriseOut(BaseModel):
    """One similar enterprise: public profile fields, its newest figures under disclosure, and why it is alike."""

    id: int
    name: str
    industry_zh: str | None = None
    industry_en: str | None = None
    district: str | None = None
    district_name: str | None = None
    tier: str
    tier_zh: str | None = None
    score: float = Field(description="similarity plus the co-investment lift; best first")
    similarity: float = Field(description="cosine of the two profiles' embeddings")
    shared_investors: int | None = Field(
        description="investors who invested in both; null unless the caller may read those events (staff, data "
                    "scientists)")
    figures: FiguresOut | None = Field(description="null when every figure is withheld from the caller")
    withheld: list[str] = Field(description="withheld field groups: registered_capital, operating_metrics, financials")
    disclosure: DisclosureOut
    reasons: list[ReasonOut]


class SimilarEnterprisesOut(BaseModel):
    """Enterprises like one enterprise, as the caller may see them."""

    enterprise_id: int
    as_of: datetime = Field(description="the market snapshot the list was drawn from")
    filtered_by: str = Field(description="hard_rules: an investor's enterprise-level rules; active: active enterprises")
    items: list[SimilarEnterpriseOut]


class SimilarInvestorOut(BaseModel):
    """One similar investor: public profile fields only, and why it is alike."""

    id: int
    name: str
    investor_type: str
    investor_type_zh: str
    district: str | None = None
    district_name: str | None = None
    sectors_zh: list[str] = Field(description="its mandate's sectors (public)")
    score: float
    similarity: float = Field(description="cosine of the two mandates' (or portfolios') vectors")
    shared_deals: int | None = Field(
        description="enterprises both invested in; null unless the caller may read those events (staff, data "
                    "scientists)")
    reasons: list[ReasonOut]


class SimilarInvestorsOut(BaseModel):
    """Investors like one investor."""

    investor_id: int
    as_of: datetime
    items: list[SimilarInvestorOut]
