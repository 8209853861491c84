"""Feedback along the deal funnel: ``POST /v1/events`` (idempotent), its batch form ``POST /v1/events/batch``
and ``GET /v1/events`` (own events).

Who may report what: an investor key reports events of its own investor (``actor`` investor), an
enterprise key of its own enterprise (``actor`` enterprise); operators and admins report for anyone
and may say who acted. A ``list_id``, when given, must be a list served to the caller's side and
must contain the pair, so the event trains on what was really shown.

The event id is the client's: the stored key is namespaced by the caller's party, so two clients
cannot collide. The same id and content again returns the stored event with 200; the same id
with other content is a 409 naming the fields that differ. A 201 is sent only after the insert is
committed: an acknowledged event is never lost.

The batch form takes 1 to ``MAX_BATCH`` (1,000) events, each checked exactly as the single route checks
it (the same code, :func:`api.services.events.record_batch`, over ids looked up once for the whole batch),
and stores them all in one transaction or none: any invalid event is a 422 naming ``events[i].<field>``, any event of
another party a 403, an id stored with other content a 409 naming ``events[i]``; nothing is written
then. An id stored with the same content is a duplicate, reported per event; the same id twice in one
batch is stored once (with other content it is a 422). The answer is 201 when the batch stored at least
one event, 200 when every event was already stored, and is sent after the commit.

Reading (:mod:`matching.rules.event_visibility`, the one statement of the rule): investor and enterprise keys see
their own events, without the other side's private actions (viewed, saved, dismissed); staff and data
scientists see all (data scientists analyse the funnel), optionally narrowed by party, type or list.

Dating: ``occurred_at`` may lie at most ``event_clock_skew_seconds`` in the future for anyone, and at
most ``event_max_age_days`` (default 30) in the past for investor and enterprise keys; staff (and
imports, which do not pass here) may record older events.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api.deps import ConnDep, Principal, StateDep, require_roles
from api.errors import MAX_ID
from api.schemas.common import error_responses
from api.schemas.events import MAX_BATCH, EventBatchIn, EventBatchOut, EventIn, EventOut, EventPage, EventType
from api.services import events as service

router = APIRouter(prefix="/v1", tags=["feedback"])
Reporter = Annotated[Principal, Depends(require_roles(*service.REPORTERS))]
Reader = Annotated[Principal, Depends(require_roles(*service.READERS))]


@router.post("/events", status_code=201, response_model=EventOut,
             responses={200: {"model": EventOut, "description": "The same event was already stored"}}
             | error_responses(401, 403, 409, 413, 422, 429, 503))
def post_event(body: EventIn, state: StateDep, conn: ConnDep, who: Reporter) -> Any:
    """Record a funnel event (201), or return the identical stored one (200)."""
    out, created = service.record_event(state, conn, who, body)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if created else 200)


@router.post("/events/batch", status_code=201, response_model=EventBatchOut,
             description=f"Record 1 to {MAX_BATCH} events, each checked as by POST /v1/events, in one transaction: "
             "all stored or none (422 naming events[i].field, 403, 409 naming events[i]). 201 when any was new, "
             "200 when every one was already stored; items in request order.",
             responses={200: {"model": EventBatchOut, "description": "Every event was already stored"}}
             | error_responses(401, 403, 409, 413, 422, 429, 503))
def post_events_batch(body: EventBatchIn, state: StateDep, conn: ConnDep, who: Reporter) -> Any:
    """Record up to ``MAX_BATCH`` events in one transaction: 201 if any was new, 200 if all were stored."""
    out = service.record_batch(state, conn, who, body.events)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if out.created else 200)


@router.get("/events", response_model=EventPage, responses=error_responses(401, 403, 422, 429, 503))
def get_events(conn: ConnDep, who: Reader,
               investor_id: Annotated[int | None, Query(gt=0, le=MAX_ID,
                                                        description="Staff: narrow to an investor")] = None,
               enterprise_id: Annotated[int | None, Query(gt=0, le=MAX_ID,
                                                          description="Staff: narrow to an enterprise")] = None,
               event_type: Annotated[EventType | None, Query()] = None,
               list_id: Annotated[uuid.UUID | None, Query()] = None,
               before: Annotated[int | None, Query(gt=0, le=MAX_ID,
                                                   description="Cursor: the previous page's next_before")
                                 ] = None,
               limit: Annotated[int, Query(ge=1, le=200)] = 50) -> EventPage:
    """Events, newest first, as :mod:`matching.rules.event_visibility` allows: a party's own events without the other
    side's private actions (viewed, saved, dismissed); every event for staff and data scientists."""
    return service.page(conn, who, investor_id=investor_id, enterprise_id=enterprise_id,
                        event_type=event_type.value if event_type else None, list_id=list_id, before=before,
                        limit=limit)
