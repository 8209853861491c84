"""Recording funnel events, as ``POST /v1/events`` (:mod:`api.routes.events`) and the console's buttons do.

Who may report what (checked here, for every caller): an investor key reports events of its own
investor (``actor`` investor), an enterprise key of its own enterprise (``actor`` enterprise);
operators and admins report for anyone and may say who acted. A ``list_id``, when given, must be a
list served to the caller's side and must contain the pair. The stored key is namespaced by the
caller's party; the same id and content again is a duplicate, the same id with other content a 409.

Dating: ``occurred_at`` may lie at most ``event_clock_skew_seconds`` in the future for anyone, and at
most ``event_max_age_days`` in the past for investor and enterprise keys.

The batch route checks each of its events with the same code (:func:`references`, :func:`validated`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from api.deps import Principal
from api.errors import ApiError, field_detail, forbidden
from api.impressions import Interrupted
from api.schemas.events import EventIn, EventOut
from api.services.checks import authorize
from api.state import AppState
from matching.config import Settings
from store import events as events_db
from store import lists as lists_db

#: The roles that report events, and that read them.
REPORTERS = ("investor", "enterprise", "operator", "admin")
READERS = ("investor", "enterprise", "operator", "admin", "data_scientist")


def invalid(field: str, value: object, zh: str, en: str) -> ApiError:
    """A 422 naming one field of the event."""
    return ApiError(422, "validation_error", zh, en, fields=[field_detail(field, value, en)])


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
