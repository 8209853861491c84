"""Alerts, standing queries and webhooks (``/v1/investors/{id}/alerts``, ``/alert-settings``, ``/saved-searches``,
``/webhook``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import BodyIn, Page

Delivery = Literal["immediate", "daily", "weekly"]
TopN = Field(default=None, ge=1, le=100, description="The list length a pair must enter to alert (1–100)")
MinScore = Field(default=None, ge=-1000, le=1000, allow_inf_nan=False,
                 description="The lowest score that alerts (the deal list's score scale); null: no threshold")


class AlertEnterpriseOut(BaseModel):
    """The enterprise of an alert: public profile fields only."""

    id: int
    name: str
    district: str | None = None
    tier: str
    industry: str | None = None


class AlertNeedOut(BaseModel):
    """The need of an alert (public: what the enterprise published)."""

    id: int
    ref: str
    instrument: str
    amount: float = Field(description="yuan")
    currency: str
    round: str | None = None
    closes_on: str | None = None


class AlertReasonOut(BaseModel):
    """A reason, as disclosure lets the investor read it (a signal on withheld data names no field or weight)."""

    code: str
    zh: str
    en: str
    kind: str
    weight: float | None = None


class AlertOut(BaseModel):
    """One alert: a pair that entered one of the investor's standing queries' top N."""

    id: int
    query: str = Field(description="mandate, or search:<saved search id>", examples=["mandate"])
    score: float = Field(description="The score the deal list gives the pair")
    rank: int = Field(description="The place it took in that query's list when it alerted (1 = best)")
    model_version: str
    enterprise: AlertEnterpriseOut
    need: AlertNeedOut
    reasons: list[AlertReasonOut]
    created_at: datetime
    read_at: datetime | None = None
    delivered_at: datetime | None = None
    failed_at: datetime | None = Field(default=None, description="Webhook delivery given up (attempts exhausted)")


class AlertPage(Page[AlertOut]):
    """A page of alerts, newest first, with the investor's unread count."""

    unread: int = Field(description="The investor's unread alerts (all pages)")


class MarkReadIn(BodyIn):
    """Which alerts to mark read: ``ids``, or ``all: true``."""

    ids: list[int] | None = Field(default=None, max_length=1000, description="Alert ids (the investor's own)")
    all: bool = Field(default=False, description="Mark every unread alert read")


class MarkReadOut(BaseModel):
    """How many alerts changed, and what is still unread."""

    marked: int
    unread: int


class AlertSettingsIn(BodyIn):
    """The fields to change (leave a field out to keep it)."""

    mandate_alerts: bool | None = Field(default=None, description="Whether the mandate is a standing query")
    top_n: int | None = TopN
    min_score: float | None = MinScore
    delivery: Delivery | None = Field(default=None, description="immediate webhook posts, or a daily/weekly digest")


class AlertSettingsOut(BaseModel):
    """An investor's alert settings (defaults until it changes them)."""

    investor_id: int
    mandate_alerts: bool
    top_n: int
    min_score: float | None
    delivery: Delivery
    digest_sent_at: datetime | None = None


class SearchFiltersIn(BodyIn):
    """A saved search's filters: those of the deal list (codes or Chinese/English labels)."""

    boards: list[str] = Field(default_factory=list, max_length=20)
    tiers: list[str] = Field(default_factory=list, max_length=5)
    districts: list[str] = Field(default_factory=list, max_length=60)
    instruments: list[str] = Field(default_factory=list, max_length=20)
    amount_min: float | None = Field(default=None, ge=0, le=1e13, allow_inf_nan=False, description="yuan")
    amount_max: float | None = Field(default=None, ge=0, le=1e13, allow_inf_nan=False, description="yuan")


class SavedSearchIn(BodyIn):
    """A new saved search."""

    name: str = Field(min_length=1, max_length=100)
    text: str | None = Field(default=None, min_length=1, max_length=200, description="Free text, as in /v1/search")
    filters: SearchFiltersIn = Field(default_factory=SearchFiltersIn)
    top_n: int = Field(default=10, ge=1, le=100)
    min_score: float | None = MinScore
    active: bool = True


class SavedSearchUpdate(BodyIn):
    """The fields to change."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    text: str | None = Field(default=None, min_length=1, max_length=200)
    filters: SearchFiltersIn | None = None
    top_n: int | None = TopN
    min_score: float | None = MinScore
    active: bool | None = None


class SavedSearchOut(BaseModel):
    """A saved search (filters as codes)."""

    id: int
    investor_id: int
    name: str
    text: str | None
    filters: dict[str, object]
    top_n: int
    min_score: float | None
    active: bool
    created_at: datetime
    updated_at: datetime


class WebhookIn(BodyIn):
    """Register (or replace) the investor's webhook; a new signing secret is made and shown once."""

    url: str = Field(min_length=8, max_length=2000, examples=["https://example.com/capconnect/alerts"])
    active: bool = True


class WebhookOut(BaseModel):
    """The investor's webhook. ``secret`` only in the answer to ``PUT`` (keep it: it is never shown again)."""

    investor_id: int
    url: str
    active: bool
    created_at: datetime
    updated_at: datetime
    secret: str | None = Field(default=None, description="HMAC-SHA256 key of X-Capconnect-Signature (shown once)")
    signature: str = Field(default="X-Capconnect-Signature: sha256=HMAC_SHA256(secret, X-Capconnect-Timestamp + '.' "
                                   "+ body)", description="How posts are signed")


class DeliveryOut(BaseModel):
    """One delivery attempt."""

    id: int
    notification_id: str
    alert_id: int | None
    digest_id: int | None
    attempt: int
    url: str
    status_code: int | None
    error: str | None
    delivered: bool
    at: datetime


class DeliveryPage(Page[DeliveryOut]):
    """A page of the delivery log, newest first."""
