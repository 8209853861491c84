"""Recording funnel events, as ``POST /v1/events`` (:mod:`api.routes.events`) and the console's buttons do.

Who may report what (checked here, for every caller): an investor key reports events of its own
investor (``actor`` investor), an enterprise key of its own enterprise (``actor`` enterprise);
operators and admins report for anyone and may say who acted. A ``list_id``, when given, must be a
list served to the caller's side and must contain the pair. The stored key is namespaced by the
caller's party; the same id and content again is a duplicate, the same id with other content a 409.

Dating: ``occurred_at`` may lie at most ``event_clock_skew_seconds`` in the future for anyone, and at
most ``event_max_age_days`` in the past for investor and enterprise keys.

The batch form (:func:`record_batch`) checks each of its events with the same code (:func:`references`,
:func:`validated`) and stores them all in one transaction or none: the invalid events are merged into one
422 naming ``events[i].<field>``, an event of another party is a 403 for the batch, the same id twice
with other content a 422, an id stored before with other content a 409 naming ``events[i]``.

Reading (:func:`page`): :mod:`matching.rules.event_visibility` states who sees which events.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from api.deps import Principal
from api.errors import ApiError, field_detail, forbidden
from api.impressions import Interrupted
from api.schemas.events import EventAck, EventBatchOut, EventIn, EventOut, EventPage
from api.services.checks import authorize, invalid, own_enterprise, own_investor
from api.state import AppState
from matching.config import Settings
from matching.rules import event_visibility
from store import events as events_db
from store import lists as lists_db

#: The roles that report events, and that read them.
REPORTERS = ("investor", "enterprise", "operator", "admin")
READERS = ("investor", "enterprise", "operator", "admin", "data_scientist")


def record_event(state: AppState, conn: Any, who: Principal, body: EventIn) -> tuple[EventOut, bool]:
    """Record a funnel event: the stored event and ``True`` when it is new, ``False`` when the identical
    event was stored before (a 409 when the id was stored with other content). Committed before it returns."""
    authorize(who, *REPORTERS)
    refs = references(conn, [body], state.impressions)
    ev = validated(who, body, refs, datetime.now(UTC), state.settings)
    row, created = events_db.insert_event(conn, ev)  # committed here, before the reply
    if not created:
        diff = events_db.differences(row, ev)
        if diff:
            state.metrics.events_ingested.labels(event_type=ev.event_type, outcome="conflict").inc()
            raise ApiError(409, "conflict", f"事件 {body.event_id} 已存在且内容不同：{', '.join(diff)}",
                           f"Event {body.event_id} exists with other content ({', '.join(diff)}); "
                           "use a new event_id for a new event",
                           fields=[field_detail(f, as_json(getattr(ev, f)), f"stored: {as_json(row[f])}")
                                   for f in diff])
    state.metrics.events_ingested.labels(event_type=ev.event_type, outcome="created" if created else "duplicate").inc()
    return event_out(row), created


def record_batch(state: AppState, conn: Any, who: Principal, bodies: Sequence[EventIn]) -> EventBatchOut:
    """Record a batch of events in one transaction, all or none (committed before it returns): the
    items in request order, each ``created`` or ``duplicate``."""
    authorize(who, *REPORTERS)
    refs = references(conn, bodies, state.impressions)
    now = datetime.now(UTC)
    evs: list[events_db.NewEvent] = []
    first: dict[str, int] = {}  # event key → index of its first occurrence in the batch
    unique: dict[str, events_db.NewEvent] = {}  # event key → that first occurrence (stored; repeats are not)
    errors: list[ApiError] = []
    for i, item in enumerate(bodies):
        try:
            ev = validated(who, item, refs, now, state.settings)
        except ApiError as err:
            if err.status == 403:  # another party's event: the whole batch is refused as such
                raise _at(i, err) from None
            errors.append(_at(i, err))
            continue
        evs.append(ev)
        if ev.event_key not in first:
            first[ev.event_key], unique[ev.event_key] = i, ev
        elif diff := events_db.content_differences(unique[ev.event_key], ev):
            errors.append(invalid(f"events[{i}].event_id", item.event_id, "同一批次中的事件 ID 重复且内容不同",
                                  f"repeats events[{first[ev.event_key]}] with other content "
                                  f"({', '.join(diff)}); use a new event_id for a new event"))
    if errors:
        raise _merged(errors, len(bodies))
    outcome = events_db.insert_events(conn, list(unique.values()))  # committed here, before the reply
    if outcome.conflicts:
        _count(state, ((unique[k].event_type, "conflict") for k in outcome.conflicts))
        raise _conflict(outcome.conflicts, unique, first, bodies)
    items: list[EventAck] = []
    for i, ev in enumerate(evs):
        row_id, created = outcome.ids[ev.event_key]
        new = created and first[ev.event_key] == i
        items.append(EventAck(event_id=bodies[i].event_id, id=row_id, status="created" if new else "duplicate"))
    _count(state, ((ev.event_type, a.status) for ev, a in zip(evs, items, strict=True)))
    created_n = sum(a.status == "created" for a in items)
    return EventBatchOut(created=created_n, duplicates=len(items) - created_n, items=items)


def page(conn: Any, who: Principal, *, investor_id: int | None = None, enterprise_id: int | None = None,
         event_type: str | None = None, list_id: uuid.UUID | None = None, before: int | None = None,
         limit: int = 50) -> EventPage:
    """Events, newest first, as :mod:`matching.rules.event_visibility` allows: a party's own events without the
    other side's private actions (viewed, saved, dismissed); every event for staff and data scientists."""
    authorize(who, *READERS)
    if who.role == "investor" and investor_id not in (None, who.investor_id):
        raise forbidden(f"该密钥只能查看投资方 {who.investor_id} 的事件",
                        f"This key reads the events of investor {who.investor_id} only")
    if who.role == "enterprise" and enterprise_id not in (None, who.enterprise_id):
        raise forbidden(f"该密钥只能查看企业 {who.enterprise_id} 的事件",
                        f"This key reads the events of enterprise {who.enterprise_id} only")
    scope = event_visibility.scope(who.role, investor_id=who.investor_id, enterprise_id=who.enterprise_id)
    rows = events_db.list_events(conn, investor_id=scope.investor_id or investor_id,
                                 enterprise_id=scope.enterprise_id or enterprise_id, event_type=event_type,
                                 list_id=list_id, before=before, limit=limit, side=scope.side)
    return EventPage(items=[event_out(r) for r in rows], next_before=rows[-1]["id"] if len(rows) == limit else None)


def party_view(conn: Any, who: Principal, *, investor_id: int | None = None, enterprise_id: int | None = None,
               limit: int = 500) -> list[dict[str, Any]]:
    """The events one party (an investor, or else an enterprise) reads with its own key, newest first: for
    that party's key, or staff acting for it (the console's pages). Rows as the store returns them."""
    if investor_id is not None:
        own_investor(who, investor_id)
        scope = event_visibility.scope("investor", investor_id=investor_id)
    else:
        if enterprise_id is None:
            raise ValueError("party_view needs investor_id or enterprise_id")
        own_enterprise(who, enterprise_id)
        scope = event_visibility.scope("enterprise", enterprise_id=enterprise_id)
    return events_db.list_events(conn, investor_id=scope.investor_id, enterprise_id=scope.enterprise_id,
                                 limit=limit, side=scope.side)


# -- batch errors --------------------------------------------------------------------------------------
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
    fields = [field_detail(f"events[{first[k]}].{f}", as_json(getattr(unique[k], f)), f"stored: {as_json(row[f])}")
              for k in order for row, diff in [conflicts[k]] for f in diff]
    listed = "; ".join(said[:5]) + (" …" if len(said) > 5 else "")
    return ApiError(409, "conflict", f"{len(said)} 个事件已存在且内容不同，本批次均未保存：{listed}",
                    f"{len(said)} event(s) exist with other content, none of this batch was stored: {listed}; "
                    "use a new event_id for a new event", fields=fields[:_MAX_DETAILS])


def _count(state: AppState, outcomes: Iterable[tuple[str, str]]) -> None:
    """Count ingested events by type and outcome (``created``, ``duplicate``, ``conflict``)."""
    for (event_type, outcome), n in Counter(outcomes).items():
        state.metrics.events_ingested.labels(event_type=event_type, outcome=outcome).inc(n)


# -- checks ---------------------------------------------------------------------------------------------
def actor_and_scope(who: Principal, body: EventIn) -> tuple[str, str]:
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
        raise invalid("actor", body.actor, f"{side} 密钥上报的事件由 {side} 发起",
                      f"an {side} key reports its own actions: actor must be {side} or omitted")
    return side


#: A list served this long ago or less (its id carries the time) may still be queued in another worker's
#: impression writer: quoting it before it is written is a 503 to retry, not a 422.
LIST_GRACE_SECONDS = 10.0


def references(conn: Any, bodies: Sequence[EventIn], impressions: Any = None) -> events_db.References:
    """Every id the events refer to, looked up at once (one query per kind of id).

    Lists are written to the impression log behind the response (:mod:`api.impressions`). Nothing here
    sleeps or waits for the writer thread: the lists this process still holds are written by this
    request first (:meth:`~api.impressions.ImpressionWriter.write_now`), and a list quoted but not found
    that may still be on its way (another worker served it less than :data:`LIST_GRACE_SECONDS` ago, so
    its writer may not have run) is a 503 with ``Retry-After``; any other unknown list is a 422.
    """
    list_ids = {b.list_id for b in bodies if b.list_id is not None}
    if impressions is not None and list_ids:
        try:
            impressions.write_now(conn, list_ids)
        except Interrupted as exc:
            raise exc.cause from exc  # the database is away: a 503 like any other
    refs = events_db.references(
        conn, investor_ids=[b.investor_id for b in bodies], enterprise_ids=[b.enterprise_id for b in bodies],
        need_ids=[b.need_id for b in bodies if b.need_id is not None],
        list_pairs=[(b.list_id, b.investor_id, b.enterprise_id) for b in bodies if b.list_id is not None])
    if impressions is not None:
        _not_written_yet(list_ids - set(refs.lists))
    return refs


def _not_written_yet(missing: set[uuid.UUID]) -> None:
    """A 503 to retry when a quoted list may not be in the impression log yet (see :func:`_references`)."""
    now, grace = datetime.now(UTC), timedelta(seconds=LIST_GRACE_SECONDS)
    young = sorted(str(i) for i in missing
                   if (at := lists_db.served_at(i)) is not None and timedelta(0) <= now - at <= grace)
    if young:
        raise ApiError(503, "unavailable", f"推荐列表 {young[0]} 刚刚生成，尚未写入日志，请 1 秒后重试",
                       f"list {young[0]} was served moments ago and is not in the impression log yet; retry in a "
                       "second", fields=[field_detail("list_id", i, "served moments ago; not logged yet")
                                         for i in young], headers={"Retry-After": "1"})


def validated(who: Principal, body: EventIn, refs: events_db.References, now: datetime,
               settings: Settings) -> events_db.NewEvent:
    """The event to store, checked in one order for both routes; an ``ApiError`` naming the body's field."""
    actor, scope = actor_and_scope(who, body)
    _check_date(who, body.occurred_at, now, settings)
    for table, value, field, known in (("investors", body.investor_id, "investor_id", refs.investors),
                                       ("enterprises", body.enterprise_id, "enterprise_id", refs.enterprises)):
        if value not in known:
            raise invalid(field, value, f"{field} 不存在", f"no {table[:-1]} with id {value}")
    if body.need_id is not None and refs.need_owners.get(body.need_id) != body.enterprise_id:
        raise invalid("need_id", body.need_id, "该融资需求不属于此企业",
                      f"need {body.need_id} is not a financing need of enterprise {body.enterprise_id}")
    if body.list_id is not None:
        _check_list(who, body, refs)
    return events_db.NewEvent(
        event_key=events_db.event_key(scope, body.event_id), event_type=body.event_type.value,
        investor_id=body.investor_id, enterprise_id=body.enterprise_id, actor=actor, list_id=body.list_id,
        need_id=body.need_id, amount=body.amount, currency=body.currency.value if body.currency else None,
        occurred_at=body.occurred_at, api_key_id=who.key_id)


def _check_date(who: Principal, at: datetime | None, now: datetime, settings: Settings) -> None:
    """``occurred_at`` not in the future (all keys) and, for party keys, not older than ``event_max_age_days``."""
    if at is None:
        return
    if at > now + timedelta(seconds=settings.event_clock_skew_seconds):
        raise invalid("occurred_at", at.isoformat(), "发生时间不能晚于当前时间",
                      f"occurred_at is in the future (server time {now.isoformat(timespec='seconds')}); "
                      "send the time the event happened, with its time zone")
    days = settings.event_max_age_days
    if not who.is_staff and at < now - timedelta(days=days):
        earliest = (now - timedelta(days=days)).isoformat(timespec="seconds")
        raise invalid("occurred_at", at.isoformat(), f"发生时间不能早于 {days:g} 天前（{earliest}）",
                      f"occurred_at is more than {days:g} days in the past (the earliest allowed is {earliest}); "
                      "report events as they happen, or ask the platform's staff to record older ones")


def _check_list(who: Principal, body: EventIn, refs: events_db.References) -> None:
    assert body.list_id is not None
    served_to = refs.lists.get(body.list_id)
    if served_to is None:
        raise invalid("list_id", str(body.list_id), "推荐列表不存在", f"no served list {body.list_id}")
    if (who.role == "investor" and served_to[0] != who.investor_id) or (
            who.role == "enterprise" and served_to[1] != who.enterprise_id):
        raise forbidden("该推荐列表不属于此密钥", f"List {body.list_id} was not served to this key's {who.role}")
    if (body.list_id, body.investor_id, body.enterprise_id) not in refs.pairs:
        raise invalid("list_id", str(body.list_id), "该推荐列表不包含此投资方与企业",
                      f"list {body.list_id} does not contain investor {body.investor_id} with enterprise "
                      f"{body.enterprise_id}")


def as_json(value: object) -> object:
    """``value`` as JSON shows it in an error's details."""
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)


def event_out(r: dict[str, Any]) -> EventOut:
    """A stored event row as the API shows it."""
    return EventOut(event_id=events_db.client_id(r["event_key"]), event_type=r["event_type"],
                    investor_id=r["investor_id"], enterprise_id=r["enterprise_id"], list_id=r["list_id"],
                    need_id=r["need_id"], amount=None if r["amount"] is None else float(r["amount"]),
                    currency=r["currency"], actor=r["actor"], source=r["source"], occurred_at=r["occurred_at"],
                    recorded_at=r["recorded_at"])
