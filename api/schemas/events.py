"""Feedback events along the deal funnel."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from matching.domain import vocab

EventType = StrEnum("EventType", {c: c for c in vocab.EVENT_TYPES.codes})  # type: ignore[misc]
Currency = StrEnum("Currency", {c: c for c in vocab.CURRENCIES.codes})  # type: ignore[misc]


class EventIn(BaseModel):
    """A funnel event reported by a client.

    ``event_id`` makes the call idempotent: sending the same id and content again returns the stored
    event (200); the same id with other content is refused (409).
    """

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$",
                          description="The client's id of this event (letters, digits, _ . : -).")
    event_type: EventType
    investor_id: int = Field(gt=0)
    enterprise_id: int = Field(gt=0)
    list_id: UUID | None = Field(None, description="The served list the event came from.")
    need_id: int | None = Field(None, gt=0)
    amount: Decimal | None = Field(None, ge=0, max_digits=20, decimal_places=2)
    currency: Currency | None = None
    occurred_at: AwareDatetime | None = Field(None, description="Default: now. With a time zone.")
    actor: Literal["investor", "enterprise"] | None = Field(
        None, description="Who acted; investor and enterprise keys are their own side, staff may say.")


class EventOut(BaseModel):
    """A stored event."""

    event_id: str
    event_type: str
    investor_id: int
    enterprise_id: int
    list_id: UUID | None
    need_id: int | None
    amount: float | None
    currency: str | None
    actor: str
    source: str
    occurred_at: datetime
    recorded_at: datetime


class EventPage(BaseModel):
    """A page of events, newest first; pass ``next_before`` as ``before`` for the next page."""

    items: list[EventOut]
    next_before: int | None = None


#: The most events one ``POST /v1/events/batch`` takes (the body limit bounds it too: about 250 bytes an event).
MAX_BATCH = 1000


class EventBatchIn(BaseModel):
    """Up to :data:`MAX_BATCH` funnel events, stored all together or not at all."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH,
                                  description=f"1 to {MAX_BATCH} events, each as in POST /v1/events.")


class EventAck(BaseModel):
    """One event of a batch: its id, the stored row's id, and whether this call stored it."""

    event_id: str
    id: int = Field(description="The stored event's id (the cursor of GET /v1/events).")
    status: Literal["created", "duplicate"]


class EventBatchOut(BaseModel):
    """What a batch stored: counts, and one acknowledgement per event in request order."""

    created: int
    duplicates: int
    items: list[EventAck]
