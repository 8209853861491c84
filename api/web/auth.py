"""Sign-in with an API key, sign-out, and the console's front door (``/web``: the role's home page)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import StateDep
from api.web.common import HOME, KEY_COOKIE, SESSION_SECONDS, SignInNeeded, check_csrf, current_principal, render
from capconnect.db import keys as keys_db

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
    """Check the key as the API does, keep it in an HttpOnly, SameSite=Strict cookie, go on."""
    check_csrf(request, csrf)
    presented = api_key.strip()
    with state.pool.connection() as conn:
        key = keys_db.verify_key(conn, presented) if presented else None
    if key is None or key.revoked:
        error = "revoked_key" if key is not None else "bad_key"
        return render(request, "signin.html", {"next": _safe_next(next) or "", "error": error}, status=401)
    response = RedirectResponse(_safe_next(next) or HOME[key.role], status_code=303)
    response.set_cookie(KEY_COOKIE, presented, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return response


@router.post("/signout")
def signout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Forget the key."""
    check_csrf(request, csrf)
    response = RedirectResponse("/web/signin?why=signed_out", status_code=303)
    response.delete_cookie(KEY_COOKIE, path="/")
    return response
