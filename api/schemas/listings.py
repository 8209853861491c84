"""Request and response shapes of financing needs and secondary listings.

Separate Create / Update / Out shapes; the field types (codes or labels, amounts) come
from :mod:`api.schemas.fields`.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from api.schemas.common import BodyIn
from api.schemas.fields import (
    Amount,
    Currency,
    Instrument,
    NeedStatus,
    Round,
    SecondaryKind,
    SecondaryStatus,
)


class NeedUpdate(BodyIn):
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


class SecondaryUpdate(BodyIn):
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
