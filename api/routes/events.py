"""Feedback along the deal funnel: ``POST /v1/events`` (idempotent) and ``GET /v1/events`` (own events).

Who may report what: an investor key reports events of its own investor (``actor`` investor), an
enterprise key of its own enterprise (``actor`` enterprise); operators and admins report for anyone
and may say who acted. A ``list_id``, when given, must be a list served to the caller's side and
must contain the pair, so the event trains on what was really shown.

The event id is the client's: the stored key is namespaced by the caller's party, so two clients
cannot collide. The same id and content again returns the stored event with 200; the same id
with other content is a 409 naming the fields that differ. A 201 is sent only after the insert is
committed: an acknowledged event is never lost.

Reading: investor and enterprise keys see their own events; staff and data scientists see all
(data scientists analyse the funnel), optionally narrowed by party, type or list.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api.data import events as events_db
from api.data import lists as lists_db
from api.deps import ConnDep, Principal, StateDep, require_roles
from api.errors import MAX_ID, ApiError, field_detail, forbidden
from api.schemas.common import error_responses
from api.schemas.events import EventIn, EventOut, EventPage, EventType

router = APIRouter(prefix="/v1", tags=["feedback"])
Reporter = Annotated[Principal, Depends(require_roles("investor", "enterprise", "operator", "admin"))]
Reader = Annotated[Principal, Depends(require_roles("investor", "enterprise", "operator", "admin", "data_scientist"))]


def _invalid(field: str, value: object, zh: str, en: str) -> ApiError:
    return ApiError(422, "validation_error", zh, en, fields=[field_detail(field, value, en)])


@router.post("/events", status_code=201, response_model=EventOut,
             responses={200: {"model": EventOut, "description": "The same event was already stored"}}
             | error_responses(401, 403, 409, 413, 422, 429, 503))
def post_event(body: EventIn, state: StateDep, conn: ConnDep, who: Reporter) -> Any:
    """Record a funnel event (201), or return the identical stored one (200)."""
    actor, scope = _actor_and_scope(who, body)
    now = datetime.now(UTC)
    latest = now + timedelta(seconds=state.settings.event_clock_skew_seconds)
    if body.occurred_at is not None and body.occurred_at > latest:
        raise _invalid("occurred_at", body.occurred_at.isoformat(), "发生时间不能晚于当前时间",
                       f"occurred_at is in the future (server time {now.isoformat(timespec='seconds')}); "
                       "send the time the event happened, with its time zone")
    for table, value, field in (("investors", body.investor_id, "investor_id"),
                                ("enterprises", body.enterprise_id, "enterprise_id")):
        if not events_db.party_exists(conn, table, value):
            raise _invalid(field, value, f"{field} 不存在", f"no {table[:-1]} with id {value}")
    if body.need_id is not None and events_db.need_enterprise(conn, body.need_id) != body.enterprise_id:
        raise _invalid("need_id", body.need_id, "该融资需求不属于此企业",
                       f"need {body.need_id} is not a financing need of enterprise {body.enterprise_id}")
    if body.list_id is not None:
        _check_list(conn, who, body)
    ev = events_db.NewEvent(
        event_key=events_db.event_key(scope, body.event_id), event_type=body.event_type.value,
        investor_id=body.investor_id, enterprise_id=body.enterprise_id, actor=actor, list_id=body.list_id,
        need_id=body.need_id, amount=body.amount, currency=body.currency.value if body.currency else None,
        occurred_at=body.occurred_at, api_key_id=who.key_id)
    row, created = events_db.insert_event(conn, ev)  # committed here, before the reply
    if not created:
        diff = events_db.differences(row, ev)
        if diff:
            state.metrics.events_ingested.labels(event_type=ev.event_type, outcome="conflict").inc()
            raise ApiError(409, "conflict", f"事件 {body.event_id} 已存在且内容不同：{', '.join(diff)}",
                           f"Event {body.event_id} exists with other content ({', '.join(diff)}); "
                           "use a new event_id for a new event",
                           fields=[field_detail(f, _json(getattr(ev, f)), f"stored: {_json(row[f])}") for f in diff])
    state.metrics.events_ingested.labels(event_type=ev.event_type, outcome="created" if created else "duplicate").inc()
    out = _out(row)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if created else 200)


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
    """Events, newest first: the caller's own (investor, enterprise keys) or all (staff, data scientists)."""
    if who.role == "investor":
        if investor_id not in (None, who.investor_id):
            raise forbidden(f"该密钥只能查看投资方 {who.investor_id} 的事件",
                            f"This key reads the events of investor {who.investor_id} only")
        investor_id = who.investor_id
    elif who.role == "enterprise":
        if enterprise_id not in (None, who.enterprise_id):
            raise forbidden(f"该密钥只能查看企业 {who.enterprise_id} 的事件",
                            f"This key reads the events of enterprise {who.enterprise_id} only")
        enterprise_id = who.enterprise_id
    rows = events_db.list_events(conn, investor_id=investor_id, enterprise_id=enterprise_id,
                                 event_type=event_type.value if event_type else None, list_id=list_id,
                                 before=before, limit=limit)
    return EventPage(items=[_out(r) for r in rows], next_before=rows[-1]["id"] if len(rows) == limit else None)


# -- helpers -------------------------------------------------------------------------------------------
def _actor_and_scope(who: Principal, body: EventIn) -> tuple[str, str]:
    """The acting side and the key namespace; 403 when a party reports for another."""
    if who.role == "investor":
        if body.investor_id != who.investor_id:
            raise forbidden(f"该密钥只能为投资方 {who.investor_id} 上报事件",
                            f"This key reports events of investor {who.investor_id} only, not {body.investor_id}")
        return _party_actor(body, "investor"), f"i{who.investor_id}"
    if who.role == "enterprise":
        if body.enterprise_id != who.enterprise_id:
            raise forbidden(f"该密钥只能为企业 {who.enterprise_id} 上报事件",
                            f"This key reports events of enterprise {who.enterprise_id} only, not {body.enterprise_id}")
        return _party_actor(body, "enterprise"), f"e{who.enterprise_id}"
    return body.actor or "investor", "s"


def _party_actor(body: EventIn, side: str) -> str:
    if body.actor not in (None, side):
        raise _invalid("actor", body.actor, f"{side} 密钥上报的事件由 {side} 发起",
                       f"an {side} key reports its own actions: actor must be {side} or omitted")
    return side


def _check_list(conn: Any, who: Principal, body: EventIn) -> None:
    assert body.list_id is not None
    stored = lists_db.get_list(conn, body.list_id)
    if stored is None:
        raise _invalid("list_id", str(body.list_id), "推荐列表不存在", f"no served list {body.list_id}")
    if (who.role == "investor" and stored.investor_id != who.investor_id) or (
            who.role == "enterprise" and stored.enterprise_id != who.enterprise_id):
        raise forbidden("该推荐列表不属于此密钥", f"List {body.list_id} was not served to this key's {who.role}")
    if not lists_db.list_contains(conn, body.list_id, investor_id=body.investor_id, enterprise_id=body.enterprise_id):
        raise _invalid("list_id", str(body.list_id), "该推荐列表不包含此投资方与企业",
                       f"list {body.list_id} does not contain investor {body.investor_id} with enterprise "
                       f"{body.enterprise_id}")


def _json(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)


def _out(r: dict[str, Any]) -> EventOut:
    return EventOut(event_id=events_db.client_id(r["event_key"]), event_type=r["event_type"],
                    investor_id=r["investor_id"], enterprise_id=r["enterprise_id"], list_id=r["list_id"],
                    need_id=r["need_id"], amount=None if r["amount"] is None else float(r["amount"]),
                    currency=r["currency"], actor=r["actor"], source=r["source"], occurred_at=r["occurred_at"],
                    recorded_at=r["recorded_at"])
