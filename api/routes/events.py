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
it (the same code, :func:`api.services.events.validated`, over ids looked up once for the whole batch),
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
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api.deps import ConnDep, Principal, StateDep, require_roles
from api.errors import MAX_ID, ApiError, field_detail, forbidden
from api.schemas.common import error_responses
from api.schemas.events import MAX_BATCH, EventAck, EventBatchIn, EventBatchOut, EventIn, EventOut, EventPage, EventType
from api.services import events as service
from matching.rules import event_visibility
from store import events as events_db

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
    refs = service.references(conn, body.events, state.impressions)
    now = datetime.now(UTC)
    evs: list[events_db.NewEvent] = []
    first: dict[str, int] = {}  # event key → index of its first occurrence in the batch
    unique: dict[str, events_db.NewEvent] = {}  # event key → that first occurrence (stored; repeats are not)
    invalid: list[ApiError] = []
    for i, item in enumerate(body.events):
        try:
            ev = service.validated(who, item, refs, now, state.settings)
        except ApiError as err:
            if err.status == 403:  # another party's event: the whole batch is refused as such
                raise _at(i, err) from None
            invalid.append(_at(i, err))
            continue
        evs.append(ev)
        if ev.event_key not in first:
            first[ev.event_key], unique[ev.event_key] = i, ev
        elif diff := events_db.content_differences(unique[ev.event_key], ev):
            invalid.append(service.invalid(f"events[{i}].event_id", item.event_id, "同一批次中的事件 ID 重复且内容不同",
                                           f"repeats events[{first[ev.event_key]}] with other content "
                                           f"({', '.join(diff)}); use a new event_id for a new event"))
    if invalid:
        raise _merged(invalid, len(body.events))
    outcome = events_db.insert_events(conn, list(unique.values()))  # committed here, before the reply
    if outcome.conflicts:
        _count(state, ((unique[k].event_type, "conflict") for k in outcome.conflicts))
        raise _conflict(outcome.conflicts, unique, first, body.events)
    items: list[EventAck] = []
    for i, ev in enumerate(evs):
        row_id, created = outcome.ids[ev.event_key]
        new = created and first[ev.event_key] == i
        items.append(EventAck(event_id=body.events[i].event_id, id=row_id, status="created" if new else "duplicate"))
    _count(state, ((ev.event_type, a.status) for ev, a in zip(evs, items, strict=True)))
    created_n = sum(a.status == "created" for a in items)
    out = EventBatchOut(created=created_n, duplicates=len(items) - created_n, items=items)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if created_n else 200)


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
    if who.role == "investor" and investor_id not in (None, who.investor_id):
        raise forbidden(f"该密钥只能查看投资方 {who.investor_id} 的事件",
                        f"This key reads the events of investor {who.investor_id} only")
    if who.role == "enterprise" and enterprise_id not in (None, who.enterprise_id):
        raise forbidden(f"该密钥只能查看企业 {who.enterprise_id} 的事件",
                        f"This key reads the events of enterprise {who.enterprise_id} only")
    scope = event_visibility.scope(who.role, investor_id=who.investor_id, enterprise_id=who.enterprise_id)
    rows = events_db.list_events(conn, investor_id=scope.investor_id or investor_id,
                                 enterprise_id=scope.enterprise_id or enterprise_id,
                                 event_type=event_type.value if event_type else None, list_id=list_id,
                                 before=before, limit=limit, side=scope.side)
    return EventPage(items=[service.event_out(r) for r in rows],
                     next_before=rows[-1]["id"] if len(rows) == limit else None)


# -- batch helpers -------------------------------------------------------------------------------------
#: The most per-field details one batch error lists (the message gives the total).
_MAX_DETAILS = 20


def _at(i: int, err: ApiError) -> ApiError:
    """``err`` of one event, as the batch's: fields named ``events[i].<field>``, messages prefixed."""
    fields = [{**f, "field": f"events[{i}].{f['field']}"} for f in err.fields]
    return ApiError(err.status, err.code, f"events[{i}]：{err.zh}", f"events[{i}]: {err.en}", fields=fields,
                    headers=err.headers)


def _merged(errors: Sequence[ApiError], total: int) -> ApiError:
    """One 422 for every invalid event of a batch (the first few named in the message)."""
    if len(errors) == 1:
        return errors[0]
    fields = [f for e in errors for f in e.fields]
    names = ", ".join(str(f["field"]) for f in fields[:5]) + (" …" if len(fields) > 5 else "")
    return ApiError(422, "validation_error", f"{total} 个事件中有 {len(errors)} 个不合法，均未保存：{names}",
                    f"{len(errors)} of {total} events are invalid, none was stored: {names}; "
                    f"the first: {errors[0].en}", fields=fields[:_MAX_DETAILS])


def _conflict(conflicts: dict[str, tuple[dict[str, Any], list[str]]], unique: dict[str, events_db.NewEvent],
              first: dict[str, int], bodies: Sequence[EventIn]) -> ApiError:
    """The 409 for events stored before with other content, naming ``events[i]`` and the fields."""
    order = sorted(conflicts, key=lambda k: first[k])
    said = [f"events[{first[k]}] ({bodies[first[k]].event_id}: {', '.join(conflicts[k][1])})" for k in order]
    fields = [field_detail(f"events[{first[k]}].{f}", service.as_json(getattr(unique[k], f)),
                           f"stored: {service.as_json(row[f])}")
              for k in order for row, diff in [conflicts[k]] for f in diff]
    listed = "; ".join(said[:5]) + (" …" if len(said) > 5 else "")
    return ApiError(409, "conflict", f"{len(said)} 个事件已存在且内容不同，本批次均未保存：{listed}",
                    f"{len(said)} event(s) exist with other content, none of this batch was stored: {listed}; "
                    "use a new event_id for a new event", fields=fields[:_MAX_DETAILS])


def _count(state: Any, outcomes: Any) -> None:
    for (event_type, outcome), n in Counter(outcomes).items():
        state.metrics.events_ingested.labels(event_type=event_type, outcome=outcome).inc(n)
