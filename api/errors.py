"""One error shape for every 4xx and 5xx the service sends.

```json
{"error": {"code": "validation_error",
           "message": "请求参数不合法 / The request is invalid",
           "fields": [{"field": "tier", "value": "gold", "allowed": ["basic", "growth", "select"],
                       "reason": "unknown value"}],
           "request_id": "4f1c…"}}
```

Core exceptions (:mod:`matching.errors`) and the store's (:mod:`store.tables`) are mapped to statuses
here and only here: a :class:`~matching.errors.FieldError` is a 422 naming the field, an unknown party a
404, a unique key already taken (:class:`~store.tables.Duplicate`) a 409 naming the key and the record
that holds it, a value a database constraint refused (:class:`~store.tables.Invalid`) a 422, a database
that cannot be reached a 503. Anything else is a bug: logged with its traceback and answered 500.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import Any

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from matching.domain import regions, vocab
from matching.errors import ArtifactError, FieldError, MatchingError
from matching.serving.results import UnknownPartyError
from store.tables import Duplicate, Invalid

logger = logging.getLogger(__name__)

#: The largest id PostgreSQL's bigint holds: bound id parameters with it (a larger one is a 422, not a 500).
MAX_ID = 2**63 - 1

#: Field name (as the API spells it) → the vocabulary whose codes it allows.
VOCAB_FIELDS: dict[str, vocab.Vocabulary] = {
    "board": vocab.BOARDS, "boards": vocab.BOARDS, "tier": vocab.TIERS, "tiers": vocab.TIERS,
    "instrument": vocab.INSTRUMENTS, "instruments": vocab.INSTRUMENTS,
    "investor_type": vocab.INVESTOR_TYPES, "investor_types": vocab.INVESTOR_TYPES,
    "event_type": vocab.EVENT_TYPES, "side": vocab.SIDES, "role": vocab.ROLES, "currency": vocab.CURRENCIES,
}

#: Default bilingual message per code (a specific one may replace it).
MESSAGES: dict[str, tuple[str, str]] = {
    "bad_request": ("请求有误", "The request is malformed"),
    "unauthorized": ("缺少或无效的 API 密钥", "A valid API key is required"),
    "forbidden": ("无权访问该资源", "This key may not access this resource"),
    "not_found": ("资源不存在", "Not found"),
    "method_not_allowed": ("不支持该请求方法", "Method not allowed"),
    "conflict": ("与现有数据冲突", "Conflicts with the stored data"),
    "payload_too_large": ("请求体过大", "The request body is too large"),
    "validation_error": ("请求参数不合法", "The request is invalid"),
    "rate_limited": ("请求过于频繁", "Too many requests"),
    "unavailable": ("服务暂不可用", "The service is temporarily unavailable"),
    "database_unavailable": ("数据库暂不可用，请稍后重试", "The database is unreachable; retry shortly"),
    "internal_error": ("服务内部错误", "Internal error"),
}

_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 422: "validation_error",
                 429: "rate_limited", 503: "unavailable"}


class ApiError(Exception):
    """An error the API answers on purpose (raise it from routes and dependencies).

    Args:
        status: the HTTP status.
        code: stable machine-readable code (see :data:`MESSAGES`).
        zh: the message in Chinese (default: the code's).
        en: the message in English, saying what to do (default: the code's).
        fields: per-field details: ``field``, ``value`` and ``allowed`` or ``reason``.
        headers: extra response headers (``Retry-After``, ``WWW-Authenticate``).
    """

    def __init__(self, status: int, code: str, zh: str | None = None, en: str | None = None, *,
                 fields: Sequence[dict[str, Any]] = (), headers: dict[str, str] | None = None) -> None:
        default = MESSAGES.get(code, MESSAGES["bad_request"])
        self.status, self.code = status, code
        self.zh, self.en = zh or default[0], en or default[1]
        self.fields = list(fields)
        self.headers = headers or {}
        super().__init__(f"{status} {code}: {self.en}")


def field_detail(field: str, value: object, reason: str | None = None, allowed: Sequence[str] | None = None
                 ) -> dict[str, Any]:
    """One entry of ``fields``; ``allowed`` defaults to the vocabulary of known enumerated fields."""
    out: dict[str, Any] = {"field": field, "value": value}
    if allowed is None and field in VOCAB_FIELDS:
        allowed = VOCAB_FIELDS[field].codes
    elif allowed is None and field in ("district", "districts"):
        allowed = [d.code for d in regions.DISTRICTS]
    if allowed is not None:
        out["allowed"] = list(allowed)
    if reason:
        out["reason"] = reason
    return out


def not_found(what_zh: str, what_en: str, value: object, field: str = "id") -> ApiError:
    """A 404 naming what was looked for."""
    return ApiError(404, "not_found", f"{what_zh}不存在：{value}", f"{what_en} {value} does not exist",
                    fields=[field_detail(field, value, "no such record")])


def forbidden(zh: str, en: str) -> ApiError:
    """A 403 saying what the key may do instead."""
    return ApiError(403, "forbidden", zh, en)


def body(request: Request, code: str, zh: str, en: str, fields: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The error body (the ``request_id`` comes from the request-context middleware)."""
    return {"error": {"code": code, "message": f"{zh} / {en}", "fields": list(fields),
                      "request_id": getattr(request.state, "request_id", None)}}


def respond(request: Request, status: int, code: str, zh: str, en: str, fields: Sequence[dict[str, Any]] = (),
            headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON error response in the one shape."""
    return JSONResponse(body(request, code, zh, en, fields), status_code=status, headers=headers)


# -- handlers ----------------------------------------------------------------------------------------
def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return respond(request, exc.status, exc.code, exc.zh, exc.en, exc.fields, exc.headers)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [_pydantic_field(e) for e in exc.errors()]
    names = ", ".join(str(f["field"]) for f in fields)
    return respond(request, 422, "validation_error", f"请求参数不合法：{names}", f"Invalid value(s) for: {names}",
                   fields)


def _pydantic_field(err: dict[str, Any]) -> dict[str, Any]:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
    name = ".".join(loc) or "body"
    ctx = err.get("ctx") or {}
    allowed = None
    if err.get("type") in ("enum", "literal_error") and "expected" in ctx:
        allowed = re.findall(r"'([^']*)'", str(ctx["expected"]))
    value = err.get("input")
    if err.get("type") == "json_invalid":  # loc is (body, character offset): name the body, say where
        name, loc = "body", ["body"]
        err = {**err, "msg": f"{err.get('msg', 'invalid JSON')} at character {err.get('loc', ('', '?'))[-1]}"}
        value = None
    if err.get("type") == "missing":
        value = None
    elif isinstance(value, float) and not math.isfinite(value):  # NaN and Infinity are not JSON
        value = str(value)
    elif not isinstance(value, (str, int, float, bool, type(None))):
        value = str(value)[:200]
    return field_detail(loc[-1] if loc else name, value, str(err.get("msg", "invalid")), allowed) | {"field": name}


def _field_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FieldError)
    field = _API_NAMES.get(exc.field, exc.field)
    allowed = VOCAB_FIELDS[field].codes if field in VOCAB_FIELDS else None
    detail = field_detail(field, exc.value, exc.reason, allowed)
    return respond(request, 422, "validation_error", f"字段 {field} 的值不合法：{exc.reason}",
                   f"Invalid value for {field}: {exc.reason}", [detail])


#: Core field names (``Filters``) → the query parameter names the API uses.
_API_NAMES = {"boards": "board", "tiers": "tier", "districts": "district", "instruments": "instrument",
              "investor_types": "investor_type", "text": "q"}


def _unknown_party(request: Request, exc: Exception) -> JSONResponse:
    return respond(request, 404, "not_found", f"不在当前市场快照中：{exc.args[0] if exc.args else exc}",
                   f"{exc.args[0] if exc.args else exc} (new records are served after the next snapshot reload)")


#: Table → how a 409 names one of its records (Chinese, English).
RECORD_NAMES: dict[str, tuple[str, str]] = {
    "enterprises": ("企业", "enterprise"), "investors": ("投资机构", "investor"),
    "financing_needs": ("融资需求", "financing need"), "secondary_listings": ("转让项目", "secondary listing"),
}


def _duplicate(request: Request, exc: Exception) -> JSONResponse:
    """A 409 naming the key fields, their values and the record that holds them."""
    assert isinstance(exc, Duplicate)
    what_zh, what_en = RECORD_NAMES.get(exc.table, ("记录", "record"))
    holder = f" (id {exc.existing_id})" if exc.existing_id is not None else ""
    names = ", ".join(exc.fields)
    return respond(request, 409, "conflict", f"{what_zh}已存在：{names}{holder}",
                   f"A {what_en} with this {names} already exists{holder}; update it instead (PATCH)",
                   [field_detail(f, v, f"already used{holder}") for f, v in zip(exc.fields, exc.values, strict=False)])


def _refused(request: Request, exc: Exception) -> JSONResponse:
    """A 422 for a value a database constraint refused (a check the API did not make first)."""
    assert isinstance(exc, Invalid)
    return respond(request, 422, "validation_error", "数据不满足约束条件",
                   f"The values break a rule of the market's data: {exc.message} ({exc.constraint or 'constraint'})",
                   [field_detail(exc.constraint or "body", None, exc.message)])


def _artifact_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("artifact error: %s", exc)
    return respond(request, 503, "unavailable", "模型文件不可用", str(exc))


def _matching_error(request: Request, exc: Exception) -> JSONResponse:
    return respond(request, 422, "validation_error", "请求无法处理", str(exc))


def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
    # a safety net: parameters are bounded where they are declared, so this names no field
    logger.warning("value out of range reached the database: %s", exc)
    return respond(request, 422, "validation_error", "数值超出范围", "A number in the request is out of range "
                   f"(ids are at most {MAX_ID}; amounts at most 1e13)")


def database_down(request: Request, exc: Exception) -> JSONResponse:
    """The 503 of a database that cannot be reached (logged with the reason; the answer names no host)."""
    logger.error("database unavailable: %s: %s", type(exc).__name__, exc)
    zh, en = MESSAGES["database_unavailable"]
    return respond(request, 503, "database_unavailable", zh, en, headers={"Retry-After": "5"})


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "internal_error")
    zh, en = MESSAGES[code]
    if exc.status_code == 400 and "parsing the body" in str(exc.detail):  # bytes that are not UTF-8 JSON
        return respond(request, 400, code, "请求体不是 UTF-8 编码的 JSON", "The body is not JSON encoded as UTF-8 "
                       "(re-encode GBK/GB18030 text as UTF-8, or upload files through /v1/imports)",
                       [field_detail("body", None, "not UTF-8 JSON")])
    if code == "payload_too_large":
        zh, en = too_large_text(request)
    elif exc.detail and code not in ("not_found", "method_not_allowed"):
        en = str(exc.detail)
    return respond(request, exc.status_code, code, zh, en, headers=dict(exc.headers or {}))


def too_large_text(request: Request) -> tuple[str, str]:
    """The 413 message, naming the limit that applied."""
    limit = getattr(request.state, "max_body_bytes", None)
    return (f"请求体超过上限 {limit} 字节", f"The request body exceeds the limit of {limit} bytes") if limit else \
        MESSAGES["payload_too_large"]


def _bug(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    zh, en = MESSAGES["internal_error"]
    return respond(request, 500, "internal_error", zh, en + " (reported; quote the request id)")


def install(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(UnknownPartyError, _unknown_party)
    app.add_exception_handler(FieldError, _field_error)
    app.add_exception_handler(ArtifactError, _artifact_error)
    app.add_exception_handler(MatchingError, _matching_error)
    app.add_exception_handler(Duplicate, _duplicate)
    app.add_exception_handler(Invalid, _refused)
    app.add_exception_handler(psycopg.errors.NumericValueOutOfRange, _out_of_range)
    for exc in (psycopg.OperationalError, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed):
        app.add_exception_handler(exc, database_down)
    app.add_exception_handler(Exception, _bug)
