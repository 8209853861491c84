"""Served lists: deal lists, suggested investors, secondaries, search results."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field


class PartyOut(BaseModel):
    """An enterprise or investor, by id and name (no confidential detail)."""

    id: int
    name: str


class NeedOut(BaseModel):
    """The financing need a pair was matched on."""

    id: int
    ref: str
    instrument: str
    instrument_zh: str
    amount: float = Field(description="In the need's currency.")
    currency: str
    round: str | None = None
    closes_on: date | None = None


class SecondaryOut(BaseModel):
    """A secondary listing (fund interest or old shares)."""

    id: int
    ref: str
    kind: Literal["fund_interest", "old_shares"]
    fund_name: str | None = None
    seller_name: str | None = None
    asking_price: float
    nav: float | None = None
    currency: str
    vintage: int | None = None


class ReasonOut(BaseModel):
    """One reason, in Chinese and English; ``kind`` is ``fit`` or ``improve`` (what would match better).

    A model signal on data withheld from the caller is ``model:undisclosed`` ("模型依据：经营数据（未公开）")
    with ``weight`` ``null``: no field, no weight.
    """

    code: str
    zh: str
    en: str
    kind: Literal["fit", "improve"]
    weight: float | None = Field(description="rule weight or model contribution; null for an undisclosed signal")


class MatchItemOut(BaseModel):
    """One ranked item."""

    position: int = Field(description="1-based rank, as logged.")
    score: float
    enterprise: PartyOut | None = None
    investor: PartyOut | None = None
    need: NeedOut | None = None
    secondary: SecondaryOut | None = None
    p_investor: float | None = Field(None, description="Calibrated P(the investor engages), with a model.")
    p_enterprise: float | None = Field(None, description="Calibrated P(the enterprise engages), with a model.")
    reasons: list[ReasonOut]
    sources: list[str] = Field(description="Candidate sources: semantic, rules, collaborative, exploration.")


class MatchListOut(BaseModel):
    """A served list. Quote ``list_id`` in feedback events (``POST /v1/events``)."""

    list_id: UUID
    model_version: str
    as_of: datetime
    direction: str
    items: list[MatchItemOut]
