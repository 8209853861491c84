"""Alerts, standing queries and webhooks, as the API (:mod:`api.routes.alerts`) and, later, the console serve them.

Access (checked here for every caller): an investor key reads and changes its own investor's alerts, settings,
saved searches and webhook; admin and operator keys any investor's; data scientists read (``READ_ALL``) but change
nothing; enterprise keys nothing. Another investor's id is a 403 naming the key's own investor.

Generation and delivery are :mod:`api.alerting`'s and :mod:`api.webhooks`'s; nothing here scores or posts.
"""

from __future__ import annotations

import secrets
from typing import Any

import psycopg

from api.deps import STAFF, Principal
from api.errors import not_found
from api.schemas.alerts import (
    AlertSettingsIn,
    MarkReadIn,
    SavedSearchIn,
    SavedSearchUpdate,
    SearchFiltersIn,
    WebhookIn,
)
from api.services.checks import authorize, invalid, own_investor, party_id
from api.state import AppState
from api.webhooks import url_problem
from matching.errors import FieldError
from matching.rules.event_visibility import READ_ALL
from matching.rules.filters import Filters
from store import alerts as db
from store import webhooks as hooks

READERS = ("investor", *READ_ALL)
WRITERS = ("investor", *STAFF)
#: Webhook signing secrets start with this (easy to recognise in a receiver's configuration).
SECRET_PREFIX = "whsec_"


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    """The page envelope (as the resource lists')."""
    return {"items": items, "total": total, "limit": limit, "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None}


def _investor(conn: psycopg.Connection, who: Principal, investor_id: int, *, write: bool) -> None:
    """The checks every operation starts with: role, id, whose investor, that it exists."""
    authorize(who, *(WRITERS if write else READERS))
    party_id("investor_id", investor_id)
    if who.role == "investor":
        own_investor(who, investor_id)
    if not db.investor_exists(conn, investor_id):
        raise not_found("投资方", "Investor", investor_id, "investor_id")


# -- alerts ------------------------------------------------------------------------------------------------------
def list_alerts(conn: psycopg.Connection, who: Principal, investor_id: int, *, limit: int, offset: int,
                unread_only: bool) -> dict[str, Any]:
    """A page of the investor's alerts, newest first, with its unread count."""
    _investor(conn, who, investor_id, write=False)
    rows, total, unread = db.list_alerts(conn, investor_id, limit=limit, offset=offset, unread_only=unread_only)
    items = [{**r["body"], "id": r["id"], "created_at": r["created_at"], "read_at": r["read_at"],
              "delivered_at": r["delivered_at"], "failed_at": r["failed_at"]} for r in rows]
    return {**page(items, total, limit, offset), "unread": unread}


def mark_read(conn: psycopg.Connection, who: Principal, investor_id: int, body: MarkReadIn) -> dict[str, int]:
    """Mark alerts read: the ids given (each the investor's own, else a 404 naming it) or all."""
    _investor(conn, who, investor_id, write=True)
    if body.all == (body.ids is not None):
        raise invalid("ids", body.ids, "请给出 ids，或 all=true（二者选一）", "give either ids or all: true (not both, "
                      "not neither)", ["ids: [alert id, …]", "all: true"])
    if body.ids is not None and (unknown := db.unknown_alerts(conn, investor_id, body.ids)):
        raise not_found("提醒", f"Alert of investor {investor_id}", unknown[0], "ids")
    marked = db.mark_read(conn, investor_id, None if body.all else body.ids)
    _, _, unread = db.list_alerts(conn, investor_id, limit=1, offset=0)
    return {"marked": marked, "unread": unread}


# -- settings and saved searches ------------------------------------------------------------------------------------
def get_settings(conn: psycopg.Connection, who: Principal, investor_id: int) -> dict[str, Any]:
    """The investor's alert settings."""
    _investor(conn, who, investor_id, write=False)
    return {"investor_id": investor_id, **db.settings_of(conn, investor_id)}


def put_settings(conn: psycopg.Connection, who: Principal, investor_id: int, body: AlertSettingsIn) -> dict[str, Any]:
    """Change the investor's alert settings (``min_score: null`` clears the threshold)."""
    _investor(conn, who, investor_id, write=True)
    values = body.model_dump(exclude_unset=True)
    for name in ("mandate_alerts", "top_n", "delivery"):
        if name in values and values[name] is None:
            raise invalid(name, None, f"字段 {name} 不能为空", f"{name} may not be null; send a value or leave it out")
    return {"investor_id": investor_id, **db.put_settings(conn, investor_id, values)}


def _filters(f: SearchFiltersIn) -> dict[str, Any]:
    """The filters as codes, parsed as the deal list parses them (a bad value: 422 naming it)."""
    try:
        parsed = Filters(boards=tuple(f.boards), tiers=tuple(f.tiers), districts=tuple(f.districts),
                         instruments=tuple(f.instruments), amount_min=f.amount_min, amount_max=f.amount_max)
    except FieldError as exc:  # the vocabulary names the field in the singular of the list filters
        name = {"tier": "tiers", "board": "boards", "district": "districts", "instrument": "instruments"}.get(
            exc.field, exc.field)
        raise invalid(f"filters.{name}", exc.value, f"filters.{name} 的取值不合法：{exc.value}",
                      f"filters.{name}: {exc.reason}") from exc
    out: dict[str, Any] = {k: list(getattr(parsed, k)) for k in ("boards", "tiers", "districts", "instruments")
                           if getattr(parsed, k)}
    out |= {k: getattr(parsed, k) for k in ("amount_min", "amount_max") if getattr(parsed, k) is not None}
    return out


def list_searches(conn: psycopg.Connection, who: Principal, investor_id: int) -> list[dict[str, Any]]:
    """The investor's saved searches."""
    _investor(conn, who, investor_id, write=False)
    return db.saved_searches(conn, investor_id)


def create_search(conn: psycopg.Connection, who: Principal, investor_id: int, body: SavedSearchIn) -> dict[str, Any]:
    """Save a search (filters and text) as a standing query."""
    _investor(conn, who, investor_id, write=True)
    values = body.model_dump()
    values["filters"] = _filters(body.filters)
    return db.create_saved_search(conn, investor_id, values)


def _search_or_404(conn: psycopg.Connection, investor_id: int, search_id: int) -> dict[str, Any]:
    row = db.saved_search(conn, investor_id, search_id)
    if row is None:
        raise not_found("保存的检索", f"Saved search of investor {investor_id}", search_id, "search_id")
    return row


def get_search(conn: psycopg.Connection, who: Principal, investor_id: int, search_id: int) -> dict[str, Any]:
    """One saved search of the investor (another investor's id: 404)."""
    _investor(conn, who, investor_id, write=False)
    return _search_or_404(conn, investor_id, search_id)


def update_search(conn: psycopg.Connection, who: Principal, investor_id: int, search_id: int,
                  body: SavedSearchUpdate) -> dict[str, Any]:
    """Change a saved search (``text: null`` clears the text)."""
    _investor(conn, who, investor_id, write=True)
    _search_or_404(conn, investor_id, search_id)
    values = body.model_dump(exclude_unset=True)
    for name in ("name", "top_n", "active", "filters"):
        if name in values and values[name] is None:
            raise invalid(name, None, f"字段 {name} 不能为空", f"{name} may not be null; send a value or leave it out")
    if body.filters is not None:
        values["filters"] = _filters(body.filters)
    return db.update_saved_search(conn, investor_id, search_id, values) or _search_or_404(conn, investor_id, search_id)


def delete_search(conn: psycopg.Connection, who: Principal, investor_id: int, search_id: int) -> None:
    """Delete a saved search (its alerts stay)."""
    _investor(conn, who, investor_id, write=True)
    if not db.delete_saved_search(conn, investor_id, search_id):
        raise not_found("保存的检索", f"Saved search of investor {investor_id}", search_id, "search_id")


# -- the webhook ---------------------------------------------------------------------------------------------------
def get_webhook(conn: psycopg.Connection, who: Principal, investor_id: int) -> dict[str, Any]:
    """The investor's webhook (never its secret)."""
    _investor(conn, who, investor_id, write=False)
    row = hooks.webhook_of(conn, investor_id)
    if row is None:
        raise not_found("Webhook", "Webhook of investor", investor_id, "investor_id")
    return row


def put_webhook(state: AppState, conn: psycopg.Connection, who: Principal, investor_id: int, body: WebhookIn
                ) -> dict[str, Any]:
    """Register or replace the webhook with a new secret, returned this once."""
    _investor(conn, who, investor_id, write=True)
    problem = url_problem(body.url, allow_private=state.settings.webhook_allow_private)
    if problem is not None:
        raise invalid("url", body.url, f"Webhook 地址须为{problem[0]}", f"the webhook URL must be {problem[1]}")
    signing_key = SECRET_PREFIX + secrets.token_urlsafe(32)
    return {**hooks.put_webhook(conn, investor_id, body.url, signing_key, body.active), "secret": signing_key}


def delete_webhook(conn: psycopg.Connection, who: Principal, investor_id: int) -> None:
    """Remove the webhook (undelivered alerts wait in the outbox; the console still lists them)."""
    _investor(conn, who, investor_id, write=True)
    if not hooks.delete_webhook(conn, investor_id):
        raise not_found("Webhook", "Webhook of investor", investor_id, "investor_id")


def deliveries(conn: psycopg.Connection, who: Principal, investor_id: int, *, limit: int, offset: int
               ) -> dict[str, Any]:
    """A page of the investor's delivery log."""
    _investor(conn, who, investor_id, write=False)
    rows, total = hooks.deliveries(conn, investor_id, limit=limit, offset=offset)
    return page(rows, total, limit, offset)
