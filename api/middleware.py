"""The request-context middleware: request id, body-size limit, metrics and one access-log line.

A plain ASGI middleware (no ``BaseHTTPMiddleware``: it would buffer streamed bodies and hide
exceptions). For each HTTP request it

* takes ``X-Request-ID`` when the client sends a sane one (else makes a uuid4), exposes it to handlers
  (``request.state.request_id``) and logs (:data:`api.logs.request_id_var`) and echoes it in the
  response header;
* refuses a body over the limit with 413: at once when ``Content-Length`` says so, else as soon as the
  streamed bytes pass it (chunked uploads cannot sneak past);
* counts the request and observes its latency by *route template* (``/v1/investors/{investor_id}/deals``,
  never the raw path, so label values stay bounded);
* writes one JSON access-log line with the key's public prefix and role, never the key.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.logs import request_id_var
from api.metrics import Metrics

access_log = logging.getLogger("api.access")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when the streamed body passes the limit (FastAPI re-raises HTTPExceptions)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"request body over {limit} bytes")


class RequestContextMiddleware:
    """See the module docstring.

    Args:
        app: the wrapped ASGI app.
        metrics: where requests are counted.
        max_body_bytes: the default body limit.
        limits: ``(path prefix, bytes)`` overrides, longest prefix first wins (e.g. bulk uploads).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int,
                 limits: Sequence[tuple[str, int]] = ()) -> None:
        self.app, self.metrics, self.max_body_bytes = app, metrics, max_body_bytes
        self.limits = sorted(limits, key=lambda p: -len(p[0]))

    def limit_for(self, path: str) -> int:
        """The body limit of a path."""
        return next((n for prefix, n in self.limits if path.startswith(prefix)), self.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get("x-request-id", "")
        rid = given if _SANE_ID.match(given) else uuid.uuid4().hex
        limit = self.limit_for(scope.get("path", ""))
        state = scope.setdefault("state", {})
        state["request_id"], state["max_body_bytes"] = rid, limit
        token = request_id_var.set(rid)
        status = {"code": 500, "started": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            declared = _int(headers.get("content-length"))
            if declared is not None and declared > limit:
                await self._too_large(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive_wrapper, send_wrapper)
        except BodyTooLarge:
            if status["started"]:
                raise
            await self._too_large(scope, receive, send_wrapper)
        finally:
            self._record(scope, status["code"], time.perf_counter() - start)
            request_id_var.reset(token)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        zh, en = errors.too_large_text(request)
        response = errors.respond(request, 413, "payload_too_large", zh, en)
        await response(scope, receive, send)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        self.metrics.requests.labels(method=method, route=template, status=str(status)).inc()
        self.metrics.latency.labels(method=method, route=template).observe(seconds)
        state: dict[str, Any] = scope.get("state", {})
        principal = state.get("principal")
        access_log.info("%s %s %d %.1f ms", method, template, status, seconds * 1000, extra={
            "method": method, "route": template, "path": scope.get("path"), "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "key": getattr(principal, "key_shown", None), "role": getattr(principal, "role", None)})


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
