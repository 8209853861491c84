"""Sign-in with an API key (a server-side session starts), sign-out (it ends), and the console's front door
(``/web``: the role's home page). Sessions and CSRF: :mod:`api.web.common`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api import throttle
from api.deps import StateDep
from api.errors import ApiError
from api.web.common import (
    CSRF_COOKIE,
    HOME,
    SESSION_COOKIE,
    SignInNeeded,
    check_csrf,
    current_principal,
    render,
    secure_cookies,
)
from api.web.i18n import lang_of, pick
from store import keys as keys_db
from store import sessions as sessions_db

router = APIRouter(prefix="/web", include_in_schema=False)


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the console (never another site: ``//host`` or a scheme)."""
    if target and target.startswith("/web") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@router.get("")
@router.get("/")
def home(request: Request, state: StateDep) -> Response:
    """The signed-in role's home page, or the sign-in page."""
    try:
        who = current_principal(request, state)
    except SignInNeeded:
        return RedirectResponse("/web/signin", status_code=303)
    return RedirectResponse(HOME[who.role], status_code=303)


@router.get("/signin")
def signin_page(request: Request, next: str | None = None, why: str | None = None) -> Response:  # noqa: A002
    """The sign-in form."""
    notice = why if why in ("session_expired", "signed_out") else None
    return render(request, "signin.html", {"next": _safe_next(next) or "", "notice": notice})


@router.post("/signin")
def signin(request: Request, state: StateDep, api_key: Annotated[str, Form(max_length=200)] = "",
           csrf: Annotated[str, Form(max_length=100)] = "", next: Annotated[str, Form(max_length=2000)] = "",  # noqa: A002
           ) -> Response:
    """Check the key as the API does, start a session (its token in an HttpOnly, SameSite=Strict cookie), go on.

    A client address with too many failed sign-ins or invalid keys is refused (429) before the key is looked
    up; a wrong or revoked key counts one more failure.
    """
    check_csrf(request, csrf)
    presented = api_key.strip()
    address = throttle.client_address(request)
    ctx = {"next": _safe_next(next) or ""}
    try:
        throttle.check(state, address)
    except ApiError as exc:
        page = render(request, "signin.html", ctx | {"error_text": pick(lang_of(request), exc.zh, exc.en)},
                      status=429)
        page.headers.update(exc.headers)
        return page
    previous = (request.cookies.get(SESSION_COOKIE) or "").strip()
    with state.pool.connection() as conn:
        key = keys_db.verify_key(conn, presented) if presented else None
        if key is not None and not key.revoked:
            if previous:  # a new sign-in replaces the browser's session (never adopts a planted one)
                sessions_db.revoke(conn, keys_db.hash_key(previous))
            lifetime = timedelta(hours=state.settings.session_max_hours)
            token, session = sessions_db.create(conn, key, lifetime=lifetime)
    if key is None or key.revoked:
        throttle.failed(state, address)
        return render(request, "signin.html", ctx | {"error": "revoked_key" if key is not None else "bad_key"},
                      status=401)
    response = RedirectResponse(_safe_next(next) or HOME[key.role], status_code=303)
    secure = secure_cookies(request)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(lifetime.total_seconds()), httponly=True,
                        samesite="strict", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, session.csrf, httponly=True, samesite="strict", secure=secure, path="/web")
    return response


@router.post("/signout")
def signout(request: Request, state: StateDep, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """End the session on the server and forget its cookie."""
    current_principal(request, state)  # the session's own CSRF token is the one to check
    check_csrf(request, csrf)
    token = (request.cookies.get(SESSION_COOKIE) or "").strip()
    with state.pool.connection() as conn:
        sessions_db.revoke(conn, keys_db.hash_key(token))
    response = RedirectResponse("/web/signin?why=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
