"""Syndicates: co-investor sets for a financing need (``GET /v1/needs/{id}/syndicates``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.schemas.matching import ReasonOut


class SyndicateMemberOut(BaseModel):
    """One member. Fields a caller may not see are ``null`` and named in ``withheld``."""

    investor_id: int
    name: str
    investor_type: str
    investor_type_zh: str | None = None
    lead: bool
    amount: float | None = Field(description="proposed share in yuan; null when withheld (an investor caller)")
    ticket_min: float | None = Field(description="the member's minimum ticket in yuan (null: open or withheld)")
    ticket_max: float | None = Field(description="the member's maximum ticket in yuan (null: open or withheld)")
    score: float | None = Field(description="the served deal-list score of the pair; null when withheld")
    fit: float | None = Field(description="its percentile among the investors who may join; null when withheld")
    co_with_lead: int | None = Field(
        description="enterprises it and the lead both invested in; null unless the caller may read those events "
                    "(staff, data scientists)")
    withheld: list[str] = Field(description="fields withheld from the caller: amount, ticket, score, history")
    reasons: list[ReasonOut]


class SyndicateOut(BaseModel):
    """A set whose proposed shares add up to the need's amount, each within its member's ticket range."""

    rank: int
    members: list[SyndicateMemberOut]
    amount: float = Field(description="the need's amount in yuan (CNY equivalent)")
    total: float = Field(description="the members' shares added up (equal to amount)")
    objective: float | None = Field(description="mean fit percentile plus the co-investment ties; null when withheld")
    co_investments: int | None = Field(description="co-investments among the members; null unless the caller may "
                                                   "read those events")
    reasons: list[ReasonOut]


class SyndicatesOut(BaseModel):
    """Suggested syndicates for one need, best first."""

    need_id: int
    enterprise_id: int
    lead_investor_id: int | None = Field(description="the lead every set starts with (null: none named)")
    as_of: datetime = Field(description="the market snapshot the sets were drawn from")
    model_version: str
    candidates: int = Field(description="investors the hard rules let take a share of the need")
    items: list[SyndicateOut]
