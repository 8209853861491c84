"""Security hygiene at the edge: response headers, strict CORS, and the audit log of confidential views.

* :class:`SecurityHeadersMiddleware` adds to every response ``X-Content-Type-Options: nosniff``,
  ``X-Frame-Options: DENY`` with ``Content-Security-Policy: frame-ancestors 'none'`` (no framing, so
  no click-jacking), ``Referrer-Policy: no-referrer``, and ``Cache-Control: no-store`` on every
  response to a request that carried a key or a cookie (a shared cache or the browser's back button must never
  replay a deal list or an enterprise's financials).
* :func:`cors_options`: CORS only for the origins listed in ``CAPCONNECT_CORS_ORIGINS`` (default:
  none, so browsers on other sites get no ``Access-Control-Allow-Origin``); a wildcard is refused by
  the settings.
* :func:`record_confidential_views` writes one ``audit_log`` row (migration 0002, append-only by
  trigger) per enterprise whose registered capital, operating metrics or financial amounts a
  response returns to anyone but the enterprise itself. It runs before the response is sent: no
  audit row, no confidential data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import psycopg
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.disclosure import GROUPS
from api.logs import request_id_var
from store import audit

#: Headers on every response.
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
)
_KEY_HEADERS = (b"authorization", b"x-api-key", b"cookie")  # the web console carries its key in a cookie


class SecurityHeadersMiddleware:
    """Adds :data:`HEADERS` (not replacing one a route set) and ``Cache-Control: no-store`` when the
    request carried an API key or a cookie. A plain ASGI middleware, like :mod:`api.middleware`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authenticated = any(k.lower() in _KEY_HEADERS for k, _ in scope.get("headers", []))

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if not (authenticated and k.lower() == b"cache-control")]
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in HEADERS if k not in present]
                if authenticated:
                    headers += [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


def cors_options(origins: Iterable[str]) -> dict[str, Any]:
    """Keyword arguments of Starlette's ``CORSMiddleware``: exactly ``origins``, no credentials cookies
    (keys travel in headers), the methods and headers the API uses."""
    allowed = [o for o in origins if o]
    if "*" in allowed:
        raise ValueError("CORS origin '*' is not allowed; list the console's origins, e.g. https://console.example")
    return {"allow_origins": allowed, "allow_credentials": False,
            "allow_methods": ["GET", "POST", "PUT", "PATCH"],
            "allow_headers": ["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
            "expose_headers": ["X-Request-ID", "Retry-After"], "max_age": 600}


def confidential_fields(view: Mapping[str, Any]) -> list[str]:
    """The confidential field groups an enterprise view (:func:`api.disclosure.redact`) shows."""
    withheld = set(view.get("withheld") or ())
    return [g for g in GROUPS if g not in withheld]


def record_confidential_views(conn: psycopg.Connection, who: Any, views: Iterable[Mapping[str, Any]]) -> int:
    """Append one audit row per enterprise view that shows confidential fields to a non-owner.

    Args:
        conn: an autocommit connection (each call commits its rows before the response is sent).
        who: the :class:`~api.deps.Principal` shown the views.
        views: enterprise views as returned to the caller (``id``, ``withheld``, ``disclosure``).

    Returns:
        The number of rows written.
    """
    rows = []
    for v in views:
        if (v.get("disclosure") or {}).get("basis") == "own":
            continue
        shown = confidential_fields(v)
        if shown:
            rows.append((who.key_id, who.key_shown, who.role, who.investor_id, who.enterprise_id, v["id"], shown,
                         v["disclosure"]["basis"], request_id_var.get()))
    audit.record_views(conn, rows)
    return len(rows)
