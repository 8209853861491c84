"""What every page shares: the signed-in principal, role checks, CSRF, rendering and the error pages.

* **Sign-in** starts a server-side session (:mod:`store.sessions`): the ``cc_session`` cookie
  (HttpOnly, SameSite=Strict, ``Secure`` by the ``cookie_secure`` setting) holds a random token, never the
  API key. A session ends after ``session_idle_minutes`` without a request, ``session_max_hours`` after
  sign-in, on sign-out, and when its key is revoked. Failed sign-ins and unknown session tokens count
  against the client's address (:mod:`api.throttle`). Each request draws from the key's rate limit.
* **Roles** are the API's: a page admits the roles its API route admits (:func:`web_roles`).
* **CSRF**: each session has its own token, rendered in every form's hidden ``csrf`` field (and copied to
  the ``cc_csrf`` cookie); a POST whose field is not its session's token is refused (403), whatever the
  cookie says. Before sign-in, the sign-in form itself uses a double-submit ``cc_csrf`` cookie.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import psycopg
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api import throttle
from api.deps import Principal, StateDep
from api.errors import ApiError
from api.services import alerts as alert_service
from api.state import AppState
from api.web.i18n import LANG_COOKIE, LANGS, lang_of, pick, translator
from matching.domain import vocab
from matching.errors import FieldError, MatchingError
from store import sessions as sessions_db

logger = logging.getLogger(__name__)
HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
STATIC_DIR = HERE / "static"

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
SESSION_COOKIE = "cc_session"
CSRF_COOKIE = "cc_csrf"
HOME = {"investor": "/web/investor", "enterprise": "/web/enterprise", "operator": "/web/operator",
        "admin": "/web/operator", "data_scientist": "/web/models"}
#: Navigation per role: (text key, path).
NAV = {
    "investor": (("nav_deals", "/web/investor"), ("nav_alerts", "/web/alerts")),
    "enterprise": (("nav_enterprise", "/web/enterprise"),),
    "operator": (("nav_operator", "/web/operator"), ("nav_deals", "/web/investor"), ("nav_alerts", "/web/alerts"),
                 ("nav_enterprise", "/web/enterprise"), ("nav_programmes", "/web/programmes"),
                 ("nav_pipeline", "/web/readiness")),
    "admin": (("nav_operator", "/web/operator"), ("nav_deals", "/web/investor"), ("nav_alerts", "/web/alerts"),
              ("nav_enterprise", "/web/enterprise"),
              ("nav_programmes", "/web/programmes"), ("nav_pipeline", "/web/readiness"), ("nav_models", "/web/models")),
    "data_scientist": (("nav_models", "/web/models"),),
}


class SignInNeeded(Exception):
    """No valid session: the handler redirects to the sign-in page (303), then back."""

    def __init__(self, next_path: str, reason: str | None = None) -> None:
        super().__init__(reason or "sign in")
        self.next_path, self.reason = next_path, reason


class PageError(Exception):
    """An error shown as a page (or as JSON to the page's own script).

    Args:
        status: the HTTP status.
        key: a text key of :mod:`api.web.i18n` (or ``None`` with ``zh``/``en``).
        zh: a message in Chinese, e.g. the API's.
        en: the message in English.
        fields: the API error's per-field details.
        values: placeholders of ``key``.
    """

    def __init__(self, status: int, key: str | None = None, zh: str | None = None, en: str | None = None,
                 fields: list[dict[str, Any]] | None = None, **values: Any) -> None:
        super().__init__(key or en or zh or str(status))
        self.status, self.key, self.zh, self.en = status, key, zh, en
        self.fields, self.values = fields or [], values

    @classmethod
    def of(cls, exc: Exception) -> PageError:
        """A page error from the API's and the core's exceptions (the same statuses as the API)."""
        if isinstance(exc, ApiError):
            return cls(exc.status, None, exc.zh, exc.en, exc.fields)
        if isinstance(exc, FieldError):
            return cls(422, None, f"{exc.field}：{exc.reason}", f"{exc.field}: {exc.reason}",
                       [{"field": exc.field, "value": str(exc.value), "reason": exc.reason}])
        if exc.__class__.__name__ == "UnknownPartyError":
            return cls(404, None, str(exc), str(exc))
        return cls(422, None, str(exc), str(exc))

    def message(self, lang: str) -> str:
        """The message in ``lang``."""
        if self.key:
            return translator(lang)(self.key, **self.values)
        return pick(lang, self.zh, self.en)


#: The exceptions a page turns into an error state rather than a 500.
EXPECTED = (ApiError, MatchingError, ValueError)


def current_principal(request: Request, state: StateDep) -> Principal:
    """The signed-in principal (the same key check as the API), or :class:`SignInNeeded`."""
    who = getattr(request.state, "authenticated", None)  # a form post: checked before its body (api.gate)
    if not isinstance(who, Principal):
        try:
            who = session_principal(request, state)
        except ApiError as exc:  # a throttled address
            raise PageError.of(exc) from exc
    request.state.principal = who  # the access log names the key by its prefix
    if state.limiter.acquire(who.key_id) > 0:
        raise PageError(429, None, "请求过于频繁，请稍后重试", "Too many requests; retry in a moment")
    return who


def session_principal(request: Request, state: AppState) -> Principal:
    """The principal of the request's console session (no rate limit here), or :class:`SignInNeeded`.

    The one place the console's session cookie is read: :func:`current_principal` and, for form posts
    before their body is read, :class:`api.gate.AuthGate`.
    """
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    presented = (request.cookies.get(SESSION_COOKIE) or "").strip()
    if not presented:
        raise SignInNeeded(here)
    address = throttle.client_address(request)
    with state.pool.connection() as conn:
        throttle.check(state, address, conn)
        idle = timedelta(minutes=state.settings.session_idle_minutes)
        session, known = sessions_db.lookup(conn, presented, idle=idle)
    if session is None:
        if not known:  # a token that never named a session: a guess
            throttle.failed(state, address)
        raise SignInNeeded(here, "session_expired")
    request.state.csrf = session.csrf  # forms of this request are checked against this session's token
    key = session.key
    return Principal(key.id, key.shown, key.role, key.investor_id, key.enterprise_id)


def web_roles(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting the signed-in ``roles`` only (a 403 page for the others)."""

    def check(who: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if who.role not in roles:
            raise PageError(403, "forbidden_text", role=who.role)
        return who

    return check


def check_csrf(request: Request, token: str | None) -> None:
    """Refuse (403) a form whose ``csrf`` field is not its session's token (before sign-in: the ``cc_csrf``
    cookie's)."""
    expected = getattr(request.state, "csrf", None) or request.cookies.get(CSRF_COOKIE) or ""
    if not expected or not token or not hmac.compare_digest(expected.encode(), token.encode()):
        raise PageError(403, "csrf_failed")


def secure_cookies(request: Request) -> bool:
    """Whether cookies set now are ``Secure``: the ``cookie_secure`` setting, or a request seen over HTTPS."""
    state = getattr(request.app.state, "capconnect", None)
    return request.url.scheme == "https" or bool(state and state.settings.secure_cookies)


def wants_json(request: Request) -> bool:
    """Whether the page's own script sent the form (it then reads a JSON answer)."""
    return request.headers.get("x-requested-with") == "fetch"


def render(request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200,
           who: Principal | None = None) -> HTMLResponse:
    """Render a template with the language, the CSRF token, the navigation and ``context``."""
    lang = lang_of(request)
    token = getattr(request.state, "csrf", None) or request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    nav = NAV.get(who.role, ()) if who else ()
    ctx = {"t": translator(lang), "lang": lang, "csrf": token, "who": who, "nav": nav, "path": request.url.path,
           "badges": nav_badges(request, who),
           "lang_url": _lang_url(request, "en" if lang == "zh" else "zh"), "pick": lambda zh, en: pick(lang, zh, en),
           "money": lambda v: money(v, lang), "local": local_time, "label": lambda v, code: label(v, code, lang),
           **(context or {})}
    response = TEMPLATES.TemplateResponse(request, name, ctx, status_code=status)
    secure = secure_cookies(request)
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/web")
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", secure=secure, path="/")
    response.headers["Cache-Control"] = "no-store"  # pages show data this key may see: never cache them
    return response


def nav_badges(request: Request, who: Principal | None) -> dict[str, int]:
    """Counts shown beside navigation items: an investor's unread alerts beside "提醒" (read through
    :func:`api.services.alerts.list_alerts`, its access checks). A count that cannot be read is left out: the
    badge never keeps a page from rendering."""
    state = getattr(request.app.state, "capconnect", None)
    if who is None or who.role != "investor" or who.investor_id is None or state is None:
        return {}
    try:
        with state.pool.connection() as conn:
            listed = alert_service.list_alerts(conn, who, who.investor_id, limit=1, offset=0, unread_only=True)
    except (*EXPECTED, psycopg.Error) as exc:
        logger.warning("unread alerts of investor %s not counted: %s", who.investor_id, exc)
        return {}
    return {"nav_alerts": int(listed["unread"])}


def local_time(moment: datetime | None) -> str:
    """A timestamp in China time, to the minute."""
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if moment else "—"


def money(value: float | None, lang: str) -> str:
    """An amount in yuan as people read it: 万元 in Chinese, millions in English."""
    if value is None:
        return "—"
    if lang == "en":
        return f"¥{value / 1e6:,.1f}M" if abs(value) >= 1e5 else f"¥{value:,.0f}"
    return f"{value / 1e4:,.0f} 万元" if abs(value) >= 1e4 else f"{value:,.0f} 元"


def label(vocabulary: str, code: str | None, lang: str) -> str:
    """The label of a code of a named vocabulary (``ROUNDS``, ``INSTRUMENTS``…), the code when unknown."""
    v = getattr(vocab, vocabulary, None)
    if code is None:
        return "—"
    return v.label(code, lang) if isinstance(v, vocab.Vocabulary) and code in v else str(code)


def _lang_url(request: Request, lang: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", lang)]
    return request.url.path + "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in params)


def error_page(request: Request, err: PageError, who: Principal | None = None) -> Response:
    """The error as a page, or as ``{"ok": false, "message"}`` for the page's script."""
    lang = lang_of(request)
    if wants_json(request):
        return JSONResponse({"ok": False, "message": err.message(lang), "fields": err.fields}, status_code=err.status)
    who = who or getattr(request.state, "principal", None)
    return render(request, "error.html", {"error": err, "message": err.message(lang)}, status=err.status, who=who)


def signin_redirect(request: Request, exc: Exception) -> Response:
    """303 to the sign-in page, remembering where the user was going."""
    assert isinstance(exc, SignInNeeded)
    target = "/web/signin?next=" + quote(exc.next_path, safe="")
    if exc.reason:
        target += f"&why={exc.reason}"
    if wants_json(request):
        return JSONResponse({"ok": False, "message": translator(lang_of(request))("session_expired"),
                             "signin": target}, status_code=401)
    response = RedirectResponse(target, status_code=303)
    if exc.reason:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def page_error(request: Request, exc: Exception) -> Response:
    """The handler of :class:`PageError`."""
    assert isinstance(exc, PageError)
    return error_page(request, exc)


def party_name(state: AppState, side: str, party_id: int) -> str:
    """A party's name from the served snapshot (``#id`` when it is not in it yet)."""
    snap = state.matcher.snap
    if side == "investor":
        row = snap.investor_row.get(party_id)
        return snap.inv_name[row] if row is not None else f"#{party_id}"
    row = snap.enterprise_row.get(party_id)
    return snap.ent_name[row] if row is not None else f"#{party_id}"


def int_param(value: str | None) -> int | None:
    """A positive id from a query string (``None`` when absent or not a positive integer)."""
    try:
        number = int(value) if value else None
    except ValueError:
        return None
    return number if number and number > 0 else None
