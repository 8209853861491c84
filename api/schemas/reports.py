"""The outcome report (撮合成效): matches, contacts, meetings and deals by a dimension over a period."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class OutcomeRow(BaseModel):
    """One group's numbers (``key`` null: no value, e.g. outside Chongqing, or on no board)."""

    key: str | None = Field(examples=["500112"])
    label: str = Field(examples=["渝北区"])
    lists_served: int = Field(description="served lists that showed a party of this group")
    impressions: int = Field(description="items shown")
    contacts_requested: int
    contacts_accepted: int
    meetings: int
    investments: int = Field(description="invested events (one per investor and deal)")
    enterprises_funded: int = Field(description="distinct enterprises with an investment")
    amount_invested: float = Field(description="yuan (CNY events), as reported on the invested events")


class OutcomeReport(BaseModel):
    """Rows in the dimension's own order (every code, zeros included), then the no-value row if any."""

    group_by: str
    group_by_zh: str
    period_from: date = Field(description="first day, China time (UTC+8)")
    period_to: date = Field(description="last day, inclusive")
    currency: str = "CNY"
    rows: list[OutcomeRow]
    total: OutcomeRow = Field(description="the whole period (not a sum of rows: an enterprise may be on two boards)")
