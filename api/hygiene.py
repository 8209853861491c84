"""Text hygiene at the edge: text PostgreSQL cannot store is refused where it enters, naming the field.

PostgreSQL's ``text`` and ``jsonb`` refuse NUL (U+0000), and no UTF-8 encoder writes an unpaired
surrogate (U+D800–U+DFFF, which JSON can spell ``"\\ud800"``). Such a character reaching a query
would be a 500, or worse, a served list the impression writer cannot store. The rule is
:func:`refused_at`; it is applied once, before any route runs, by :class:`TextHygieneMiddleware` to the
path, the query string and JSON and form bodies, and by the upload route to every cell of a file
(:func:`refused_cells`). The answer is a 422 naming the field (``events.1.event_id`` as pydantic names
it), the value with the character written out (``芯\\u0000``) and what is allowed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors

#: What a text value may hold, as the 422 says it.
ALLOWED = "text without U+0000 (NUL) or unpaired surrogates (U+D800-U+DFFF)"
REASON = "contains a character PostgreSQL cannot store"
_REFUSED = re.compile("[\x00\ud800-\udfff]")
#: Bytes of a JSON body that may spell a refused character (a raw NUL, ``\u0000``, a surrogate escape):
#: only such bodies are parsed here (a valid surrogate pair, e.g. an emoji, is then found to be fine).
_MAYBE = re.compile(rb"\x00|\\u0000|\\u[dD][89a-fA-F]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SHOWN_CHARS = 200


def refused_at(text: str) -> int | None:
    """The position of the first character PostgreSQL cannot store, or ``None``."""
    found = _REFUSED.search(text)
    return found.start() if found else None


def escaped(text: str) -> str:
    """``text`` with every refused character written out (``\\u0000``): safe to store and to send."""
    return _REFUSED.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def shown(text: str) -> str:
    """:func:`escaped` ``text`` cut to 200 characters, to echo in an error."""
    out = escaped(text)
    return out if len(out) <= _SHOWN_CHARS else out[:_SHOWN_CHARS] + "…"


def detail(field: str, value: str) -> dict[str, Any]:
    """The ``fields`` entry of a refused value: which character, where, and what is allowed."""
    at = refused_at(value)
    if at is None:
        reason = REASON
    elif value[at] == "\x00":
        reason = f"NUL characters (U+0000) cannot be stored: one at position {at}; remove it"
    else:
        reason = f"unpaired surrogates cannot be stored: U+{ord(value[at]):04X} at position {at}; remove it"
    return errors.field_detail(shown(field), shown(value), reason, [ALLOWED])


def refused_error(problems: list[dict[str, Any]]) -> errors.ApiError:
    """The 422 for refused text (one or more ``fields`` entries from :func:`detail`)."""
    names = ", ".join(str(p["field"]) for p in problems[:5])
    return errors.ApiError(422, "validation_error", f"字段 {names} 含有数据库无法保存的字符（NUL 或孤立代理字符），"
                           "请删除", f"{names}: {problems[0]['reason']}; allowed: {ALLOWED}", fields=problems)


def in_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any] | None:
    """The first refused name or value of query or form pairs (named by the parameter)."""
    for name, value in pairs:
        if refused_at(name) is not None:
            return detail(name, name)
        if refused_at(value) is not None:
            return detail(name, value)
    return None


def in_json(value: Any, path: str = "") -> dict[str, Any] | None:
    """The first refused key or string of a parsed JSON document, named by its path (``events.1.event_id``)."""
    if isinstance(value, str):
        return detail(path or "body", value) if refused_at(value) is not None else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if refused_at(key) is not None:
                return detail(name, key)
            if found := in_json(item, name):
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if found := in_json(item, f"{path}.{i}" if path else str(i)):
                return found
    return None


def in_body(body: bytes, content_type: str) -> dict[str, Any] | None:
    """The first refused text of a JSON or form body (``None`` for other bodies and for invalid JSON,
    which the route's own validation answers)."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        return in_pairs(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    if "json" not in content_type or not _MAYBE.search(body):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return in_json(document)


def refused_cells(rows: Iterable[Any], columns: Iterable[str]) -> Iterator[tuple[int, str, str]]:
    """``(row, column, value shown)`` of every refused cell of a read file (rows with ``row`` and ``values``)."""
    for column in columns:
        if refused_at(column) is not None:
            yield 1, shown(column), shown(column)
    for row in rows:
        for column, value in row.values.items():
            if value is not None and refused_at(value) is not None:
                yield row.row, column, shown(value)
        for value in row.extra:
            if refused_at(value) is not None:
                yield row.row, "(extra cell)", shown(value)


class TextHygieneMiddleware:
    """Refuse (422) a request whose path, query string, JSON or form body holds text PostgreSQL cannot store.

    JSON and form bodies are read here (within the body limit enforced outside) and handed on unchanged;
    other bodies (uploads) stream through untouched: the upload (:mod:`api.services.imports`) checks the file's cells.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        problem = (detail("path", scope.get("path", "")) if refused_at(scope.get("path", "")) is not None else None) \
            or in_pairs(parse_qsl(query, keep_blank_values=True))
        content_type = _header(scope, b"content-type")
        if problem is None and scope.get("method") in _BODY_METHODS and (
                "json" in content_type or content_type.startswith("application/x-www-form-urlencoded")):
            body = await _read(receive)
            problem = in_body(body, content_type)
            receive = _replay(body, receive)
        if problem is None:
            await self.app(scope, receive, send)
            return
        err = refused_error([problem])
        request = Request(scope)
        await errors.respond(request, err.status, err.code, err.zh, err.en, err.fields)(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1").lower())
    return ""


async def _read(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands on the body already read, then the client's later messages (a disconnect)."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
